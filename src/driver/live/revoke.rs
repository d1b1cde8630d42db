//! What a revoke waits for: each partition worker's exit. librdkafka's
//! rebalance callback stops the revoked partitions' workers and waits, up to
//! `run.drain_timeout_ms`, until each has settled its batch in flight and
//! stored its offset; the callback then commits, and the next owner starts
//! after those inputs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A worker's stop token and the channel its task closes when it ends.
struct Exit {
    stop: CancellationToken,
    ended: Receiver<()>,
}

/// The running workers' exits, by partition.
#[derive(Default)]
pub(super) struct Exits(Mutex<HashMap<i32, Exit>>);

impl Exits {
    /// Registers the worker of `partition`; the task holds the returned
    /// sender and drops it when it ends (also by a panic).
    pub fn register(&self, partition: i32, stop: CancellationToken) -> SyncSender<()> {
        let (ends, ended) = sync_channel(0);
        let mut exits = self.0.lock().expect("not poisoned");
        exits.insert(partition, Exit { stop, ended });
        ends
    }

    /// Forgets every worker (they are stopped and waited for elsewhere).
    pub fn clear(&self) {
        self.0.lock().expect("not poisoned").clear();
    }

    /// Stops the workers of `partitions` and waits until each has ended,
    /// for `deadline` at most in all. Called from the rebalance callback.
    pub fn drain(&self, partitions: &[i32], deadline: Duration) {
        let exits: Vec<(i32, Exit)> = {
            let mut all = self.0.lock().expect("not poisoned");
            partitions
                .iter()
                .filter_map(|p| all.remove(p).map(|e| (*p, e)))
                .collect()
        };
        if exits.is_empty() {
            return;
        }
        for (_, e) in &exits {
            e.stop.cancel();
        }
        let until = Instant::now() + deadline;
        // Whether every worker ended in time.
        let wait = || {
            let mut all = true;
            for (partition, e) in &exits {
                let left = until.saturating_duration_since(Instant::now());
                if let Err(RecvTimeoutError::Timeout) = e.ended.recv_timeout(left) {
                    all = false;
                    tracing::warn!(
                        partition,
                        deadline_ms = deadline.as_millis() as u64,
                        "revoke: the batch in flight did not settle in time; its inputs will be processed again by the next owner"
                    );
                }
            }
            all
        };
        // The callback runs on an async worker while the consumer is
        // polled: its other tasks (the workers themselves) move elsewhere
        // while it blocks.
        let settled = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        if settled {
            tracing::info!(partitions = ?partitions, "revoke: batches in flight settled");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_stops_and_waits_for_the_revoked_workers_only() {
        let exits = Exits::default();
        let (a, b) = (CancellationToken::new(), CancellationToken::new());
        let ends_a = exits.register(0, a.clone());
        let _ends_b = exits.register(1, b.clone());
        let worker = std::thread::spawn(move || {
            while !a.is_cancelled() {
                std::thread::sleep(Duration::from_millis(5));
            }
            drop(ends_a);
        });
        let started = Instant::now();
        exits.drain(&[0], Duration::from_secs(5));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "waited the whole deadline"
        );
        worker.join().unwrap();
        assert!(!b.is_cancelled(), "partition 1 was not revoked");
        // A worker that does not end costs the deadline, no more.
        let started = Instant::now();
        exits.drain(&[1], Duration::from_millis(200));
        assert!(b.is_cancelled());
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
