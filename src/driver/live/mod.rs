//! Live mode: the consumer group on the input topic, the same engine as
//! replay, outputs and state changes to Kafka, offsets stored only after the
//! broker acknowledged every output of the messages they cover. This loop
//! follows the group (restoring assigned partitions, stopping revoked ones)
//! and hands each message to its partition's worker.
//!
//! Clock: while a partition has input to read (its position is behind the
//! broker's end of the partition), its timers follow event time exactly as
//! replay does, so catching up on a backlog after a restart gives the
//! outcomes the events imply. Once it has processed everything up to the
//! end it is caught up, and its timers follow the wall clock.

mod partition;
mod worker;

use crate::config::Config;
use crate::core::Engine;
use crate::rules::reload::SharedRules;
use crate::sink::kafka::{self, KafkaSinkError};
use crate::source::kafka::{GroupContext, commit_stored, group_consumer, restore_partition};
use partition::Partition;
use rdkafka::Message;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureProducer;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use worker::Worker;

/// Live-mode failures; all stop the loop without storing further offsets.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Sink(#[from] KafkaSinkError),
    #[error("kafka consumer: {0}")]
    Consumer(#[from] KafkaError),
    #[error("restoring partition {partition}: {source}")]
    Restore { partition: i32, source: KafkaError },
}

/// Readiness, for `/readyz`.
#[derive(Debug, Default)]
pub struct Health {
    pub ready: AtomicBool,
}

/// A running partition worker.
struct Running {
    tx: mpsc::Sender<OwnedMessage>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), LiveError>>,
    /// Messages its full channel did not take; while any are held the
    /// partition is paused on the consumer, so only the few fetched before
    /// the pause can gather here, and the other partitions keep flowing.
    held: VecDeque<OwnedMessage>,
}

impl Running {
    /// Stops the worker after the batch in hand and waits for it.
    async fn stop(self) -> Result<(), LiveError> {
        self.stop.cancel();
        drop(self.tx);
        self.task.await.expect("a partition worker does not panic")
    }
}

struct Live {
    cfg: Arc<Config>,
    rules: SharedRules,
    consumer: Arc<StreamConsumer<GroupContext>>,
    producer: FutureProducer,
    workers: HashMap<i32, Running>,
}

impl Live {
    /// Stops the workers of revoked partitions, restores newly assigned
    /// partitions from the changelog and starts their workers.
    async fn apply_rebalance(&mut self, health: &Health) -> Result<(), LiveError> {
        let (assigned, revoked, joined) = {
            let mut a = self
                .consumer
                .context()
                .changes
                .lock()
                .expect("not poisoned");
            (
                std::mem::take(&mut a.assigned),
                std::mem::take(&mut a.revoked),
                a.joined,
            )
        };
        for p in &revoked {
            // Its records in flight land before any restore reads them.
            if let Some(w) = self.workers.remove(p) {
                w.stop().await?;
            }
        }
        if assigned.is_empty() {
            // Ready once in the group, even with no partition (a standby).
            health.ready.store(joined, Ordering::Relaxed);
            return Ok(());
        }
        health.ready.store(false, Ordering::Relaxed);
        // The input may have grown since the start: its new partitions need
        // state partitions too (or `run` stops, saying how to add them).
        kafka::ensure_topics(&self.cfg.kafka).await?;
        // Partitions are read in parallel: each restore waits out a quiet spell.
        let started = Instant::now();
        let reads = assigned.iter().map(|&p| {
            let k = self.cfg.kafka.clone();
            tokio::task::spawn_blocking(move || {
                (p, restore_partition(&k, p, Duration::from_secs(120)))
            })
        });
        for read in futures::future::join_all(reads).await {
            let (p, restored) = read.expect("restore task does not panic");
            let restored = restored.map_err(|source| LiveError::Restore {
                partition: p,
                source,
            })?;
            let mut engine = Engine::new();
            let n = restored.states.len();
            for (_, c) in restored.states {
                engine.restore(c);
            }
            tracing::info!(
                partition = p,
                complaints = n,
                took_ms = started.elapsed().as_millis() as u64,
                "partition state restored"
            );
            if let Some(old) = self.workers.remove(&p) {
                old.stop().await?;
            }
            // Bounded: a worker that falls behind holds the dispatch back.
            let (tx, rx) = mpsc::channel(self.cfg.run.batch_max.max(1));
            let stop = CancellationToken::new();
            let worker = Worker::new(
                p,
                Partition::new(engine),
                self.cfg.clone(),
                self.rules.clone(),
                self.producer.clone(),
                self.consumer.clone(),
                restored.input_end,
            );
            let task = tokio::spawn(worker.run(rx, stop.clone()));
            // A partition paused under an earlier assignment starts flowing.
            self.set_paused(p, false);
            self.workers.insert(
                p,
                Running {
                    tx,
                    stop,
                    task,
                    held: VecDeque::new(),
                },
            );
        }
        health.ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// The error of a worker that stopped by itself, if any.
    async fn failed_worker(&mut self) -> Result<(), LiveError> {
        let done: Vec<i32> = self
            .workers
            .iter()
            .filter(|(_, w)| w.task.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for p in done {
            if let Some(w) = self.workers.remove(&p) {
                w.stop().await?;
            }
        }
        Ok(())
    }

    /// Pauses or resumes fetching one input partition (a local call).
    fn set_paused(&self, partition: i32, paused: bool) {
        let mut tpl = TopicPartitionList::with_capacity(1);
        tpl.add_partition(&self.cfg.kafka.input_topic, partition);
        let done = if paused {
            self.consumer.pause(&tpl)
        } else {
            self.consumer.resume(&tpl)
        };
        if let Err(e) = done {
            tracing::warn!(partition, paused, error = %e, "pause/resume failed");
        }
    }

    /// Hands a message to its partition's worker without waiting: when the
    /// worker is behind, the message is held and the partition paused, so
    /// one slow partition never holds back the others. Messages of
    /// partitions revoked meanwhile are dropped: they belong to their new owner.
    fn dispatch(&mut self, msg: OwnedMessage) {
        let p = msg.partition();
        let Some(w) = self.workers.get_mut(&p) else {
            return;
        };
        if !w.held.is_empty() {
            w.held.push_back(msg);
            return;
        }
        // A closed channel means the worker stopped; the loop sees why.
        if let Err(mpsc::error::TrySendError::Full(msg)) = w.tx.try_send(msg) {
            w.held.push_back(msg);
            self.set_paused(p, true);
        }
    }

    /// Passes held messages on as their workers take them, resuming each
    /// partition whose held messages are all gone. Whether any are left.
    fn release_held(&mut self) -> bool {
        let mut resumed = Vec::new();
        let mut left = false;
        for (&p, w) in self.workers.iter_mut().filter(|(_, w)| !w.held.is_empty()) {
            while let Some(msg) = w.held.pop_front() {
                match w.tx.try_send(msg) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(msg)) => {
                        w.held.push_front(msg);
                        break;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => w.held.clear(),
                }
            }
            if w.held.is_empty() {
                resumed.push(p);
            } else {
                left = true;
            }
        }
        for p in resumed {
            self.set_paused(p, false);
        }
        left
    }
}

/// How long the loop waits for a message while some are held for a busy worker.
const HELD_RETRY: Duration = Duration::from_millis(5);

/// Runs until `cancel`; commits stored offsets on the way out. The topics
/// must exist (`sink::kafka::ensure_topics`).
pub async fn run(
    cfg: Config,
    rules: SharedRules,
    health: Arc<Health>,
    cancel: CancellationToken,
) -> Result<(), LiveError> {
    let input = cfg.kafka.input_topic.as_str();
    let consumer = group_consumer(&cfg.kafka, &cfg.kafka.group, &[input], Some(input))?;
    let producer = kafka::producer(&cfg.kafka)?;
    let tick = Duration::from_millis(cfg.run.tick_ms);
    let mut live = Live {
        cfg: Arc::new(cfg),
        rules,
        consumer: Arc::new(consumer),
        producer,
        workers: HashMap::new(),
    };
    // Not ready until the group assigned this member its partitions and
    // their state is restored.
    health.ready.store(false, Ordering::Relaxed);
    let result = loop {
        if let Err(e) = live.apply_rebalance(&health).await {
            break Err(e);
        }
        if let Err(e) = live.failed_worker().await {
            break Err(e);
        }
        let wait = if live.release_held() {
            HELD_RETRY
        } else {
            tick
        };
        let msg = tokio::select! {
            biased;
            _ = cancel.cancelled() => break Ok(()),
            m = tokio::time::timeout(wait, live.consumer.recv()) => m,
        };
        match msg {
            Err(_) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Ok(m)) => {
                let m = m.detach();
                // The message may come right after a rebalance.
                if let Err(e) = live.apply_rebalance(&health).await {
                    break Err(e);
                }
                live.dispatch(m);
            }
        }
    };
    health.ready.store(false, Ordering::Relaxed);
    // Each worker finishes the batch in hand and stores its offset.
    for (p, w) in live.workers.drain() {
        if let Err(e) = w.stop().await {
            tracing::warn!(partition = p, error = %e, "the last batch was not acknowledged; its inputs will be redelivered");
        }
    }
    kafka::flush(&live.producer, Duration::from_secs(5));
    match commit_stored(live.consumer.as_ref()) {
        Ok(()) => tracing::info!("offsets committed at shutdown"),
        Err(e) => {
            tracing::warn!(error = %e, "commit at shutdown failed; inputs since the last commit will be redelivered")
        }
    }
    result
}
