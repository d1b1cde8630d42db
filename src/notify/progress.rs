//! Offsets travel with the work: every SLA event read is pending until
//! each of its channels has delivered it (or dead-lettered it), and a
//! partition's committable offset is its first pending one. A crash
//! re-reads only what was not finished.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Partition {
    pending: BTreeSet<i64>,
    /// One past the last offset read.
    next: i64,
}

/// Pending offsets of the assigned partitions of the SLA topic.
#[derive(Debug, Default)]
pub struct Progress {
    partitions: Mutex<BTreeMap<i32, Partition>>,
}

/// One event's outstanding deliveries; the last [`Ticket::finish`] frees
/// its offset.
#[derive(Debug)]
pub struct Ticket {
    progress: Arc<Progress>,
    partition: i32,
    offset: i64,
    remaining: AtomicUsize,
}

impl Progress {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, Partition>> {
        // A panic elsewhere cannot leave the map half-changed: every change
        // is one insert or remove.
        self.partitions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a read event going to `deliveries` channels; none: done now.
    pub fn begin(self: &Arc<Self>, partition: i32, offset: i64, deliveries: usize) -> Arc<Ticket> {
        let mut map = self.lock();
        let p = map.entry(partition).or_default();
        p.next = p.next.max(offset.saturating_add(1));
        if deliveries > 0 {
            p.pending.insert(offset);
        }
        Arc::new(Ticket {
            progress: self.clone(),
            partition,
            offset,
            remaining: AtomicUsize::new(deliveries),
        })
    }

    fn done(&self, partition: i32, offset: i64) {
        if let Some(p) = self.lock().get_mut(&partition) {
            p.pending.remove(&offset);
        }
    }

    /// Forgets a revoked partition: its next owner reads what is pending.
    pub fn revoke(&self, partition: i32) {
        self.lock().remove(&partition);
    }

    /// Each partition's offset that may be committed: the first pending
    /// one, or one past the last read when nothing is pending.
    pub fn committable(&self) -> Vec<(i32, i64)> {
        self.lock()
            .iter()
            .map(|(&partition, p)| (partition, p.pending.first().copied().unwrap_or(p.next)))
            .collect()
    }

    /// Events read but not yet delivered everywhere.
    pub fn in_flight(&self) -> usize {
        self.lock().values().map(|p| p.pending.len()).sum()
    }
}

impl Ticket {
    /// One channel is finished with the event (delivered or dead-lettered).
    pub fn finish(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.progress.done(self.partition, self.offset);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_stops_at_the_first_unfinished_event() {
        let progress = Arc::new(Progress::default());
        let a = progress.begin(0, 10, 2);
        let b = progress.begin(0, 11, 1);
        let _none = progress.begin(0, 12, 0);
        assert_eq!(progress.committable(), vec![(0, 10)]);
        b.finish();
        a.finish();
        assert_eq!(
            progress.committable(),
            vec![(0, 10)],
            "one channel still owes offset 10"
        );
        a.finish();
        assert_eq!(progress.committable(), vec![(0, 13)]);
        assert_eq!(progress.in_flight(), 0);
        progress.revoke(0);
        assert!(progress.committable().is_empty());
    }
}
