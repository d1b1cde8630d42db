//! Live mode: the consumer group on the input topic, the same engine as
//! replay, outputs and state changes to Kafka, offsets stored only after the
//! broker acknowledged every output of the messages they cover. This loop
//! follows the group (restoring assigned partitions, stopping revoked ones)
//! and gives each assigned partition a worker that reads the partition's own
//! queue. A busy partition thus holds back only itself: librdkafka stops
//! fetching it when its queue is full, and the others keep flowing. A
//! revoke stops the revoked partitions' workers and waits for their batches
//! in flight before it commits (`revoke`).
//!
//! Clock: while a partition has input to read (its position is behind the
//! broker's end of the partition), its timers follow event time exactly as
//! replay does, so catching up on a backlog after a restart gives the
//! outcomes the events imply. Once it has processed everything up to the
//! end it is caught up, and its timers follow the wall clock.

mod partition;
mod revoke;
mod worker;

use crate::config::Config;
use crate::core::Engine;
use crate::rules::reload::SharedRules;
use crate::sink::kafka::{self, KafkaSinkError};
use crate::source::kafka::{
    GroupContext, RevokeHook, commit_stored, group_consumer, restore_partition,
};
use partition::Partition;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::FutureProducer;
use rdkafka::{Message, Offset};
use revoke::Exits;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use worker::Worker;

/// Live-mode failures; all stop the loop without storing further offsets.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Sink(#[from] KafkaSinkError),
    #[error("kafka consumer: {0}")]
    Consumer(#[from] KafkaError),
    /// An output could not be encoded (a bug: fatal).
    #[error(transparent)]
    Output(#[from] crate::sink::SinkError),
    #[error("restoring partition {partition}: {source}")]
    Restore { partition: i32, source: KafkaError },
    #[error("partition {0} was assigned, but its queue could not be split off")]
    NoQueue(i32),
    /// A task of the live loop panicked (a bug); the service stops and a
    /// restart resumes from the committed offsets.
    #[error("{task} failed: {error}")]
    Task { task: String, error: String },
}

/// Readiness, for `/readyz`.
#[derive(Debug, Default)]
pub struct Health {
    pub ready: AtomicBool,
}

/// A running partition worker.
struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), LiveError>>,
}

impl Running {
    /// Stops the worker after the batch in hand and waits for it.
    async fn stop(self) -> Result<(), LiveError> {
        self.stop.cancel();
        self.task.await.map_err(|e| LiveError::Task {
            task: "partition worker".into(),
            error: e.to_string(),
        })?
    }
}

struct Live {
    cfg: Arc<Config>,
    /// The workers a revoke stops and waits for.
    exits: Arc<Exits>,
    rules: SharedRules,
    consumer: Arc<StreamConsumer<GroupContext>>,
    producer: FutureProducer,
    workers: HashMap<i32, Running>,
    /// Partitions of the state topic, as last ensured.
    state_partitions: usize,
}

impl Live {
    /// Stops the workers of revoked partitions, restores newly assigned
    /// partitions from the changelog and starts their workers.
    async fn apply_rebalance(&mut self, health: &Health) -> Result<(), LiveError> {
        let (assigned, revoked, joined, mut queues) = {
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
                std::mem::take(&mut a.queues),
            )
        };
        // Assigned and revoked again since the last look: no longer ours.
        let assigned: Vec<i32> = assigned
            .into_iter()
            .filter(|p| queues.contains_key(p) || !revoked.contains(p))
            .collect();
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
        // The input grew since the start: its new partitions need state
        // partitions too (or `run` stops, saying how to add them).
        if assigned
            .iter()
            .any(|&p| usize::try_from(p).is_ok_and(|p| p >= self.state_partitions))
        {
            self.state_partitions = kafka::ensure_topics(&self.cfg.kafka).await?;
        }
        // Partitions are read in parallel: each restore waits out a quiet spell.
        let started = Instant::now();
        let reads = assigned.iter().map(|&p| {
            let k = self.cfg.kafka.clone();
            tokio::task::spawn_blocking(move || {
                (p, restore_partition(&k, p, Duration::from_secs(120)))
            })
        });
        for read in futures::future::join_all(reads).await {
            let (p, restored) = read.map_err(|e| LiveError::Task {
                task: "partition restore".into(),
                error: e.to_string(),
            })?;
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
            let queue = queues.remove(&p).ok_or(LiveError::NoQueue(p))?;
            let stop = CancellationToken::new();
            let worker = Worker::new(
                p,
                Partition::new(engine, restored.watermark),
                self.cfg.clone(),
                self.rules.clone(),
                self.producer.clone(),
                self.consumer.clone(),
                restored.input_end,
            );
            let ends = self.exits.register(p, stop.clone());
            let run = worker.run(queue, stop.clone());
            let task = tokio::spawn(async move {
                // Dropped when the worker ends: a revoke waits for that.
                let _ends = ends;
                run.await
            });
            self.workers.insert(p, Running { stop, task });
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

    /// A message on the shared queue: fetched for a newly assigned
    /// partition before its queue was split off (librdkafka allows it, if
    /// rarely). The partition is sent back to this offset, so the message
    /// comes again, in order, through the partition's own queue.
    fn stray(&self, msg: &BorrowedMessage<'_>) {
        tracing::warn!(
            partition = msg.partition(),
            offset = msg.offset(),
            "message on the shared queue; reading it again from the partition's queue"
        );
        // Zero timeout: the seek is asynchronous, nothing blocks here.
        let at = Offset::Offset(msg.offset());
        if let Err(e) = self
            .consumer
            .seek(msg.topic(), msg.partition(), at, Duration::ZERO)
        {
            tracing::warn!(partition = msg.partition(), error = %e, "seek back failed");
        }
    }
}

/// Runs until `cancel`; commits stored offsets on the way out. The topics
/// must exist: `state_partitions` is what `sink::kafka::ensure_topics` found.
pub async fn run(
    cfg: Config,
    rules: SharedRules,
    health: Arc<Health>,
    state_partitions: usize,
    cancel: CancellationToken,
) -> Result<(), LiveError> {
    let input = cfg.kafka.input_topic.as_str();
    let consumer = group_consumer(&cfg.kafka, &cfg.kafka.group, &[input], Some(input))?;
    let producer = kafka::producer(&cfg.kafka)?;
    let tick = Duration::from_millis(cfg.run.tick_ms);
    let consumer = Arc::new(consumer);
    // Lets the rebalance callback split each assigned partition's queue off.
    let _ = consumer.context().owner.set(Arc::downgrade(&consumer));
    let exits = Arc::new(Exits::default());
    let drain = Duration::from_millis(cfg.run.drain_timeout_ms);
    let wait_for = exits.clone();
    let hook: RevokeHook = Box::new(move |partitions| wait_for.drain(partitions, drain));
    let _ = consumer.context().on_revoke.set(hook);
    let mut live = Live {
        exits,
        cfg: Arc::new(cfg),
        rules,
        consumer,
        producer,
        workers: HashMap::new(),
        state_partitions,
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
        // Serves rebalances and statistics; partition queues carry the messages.
        let msg = tokio::select! {
            biased;
            _ = cancel.cancelled() => break Ok(()),
            m = tokio::time::timeout(tick, live.consumer.recv()) => m,
        };
        match msg {
            Err(_) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Ok(m)) => live.stray(&m),
        }
    };
    health.ready.store(false, Ordering::Relaxed);
    // Each worker finishes the batch in hand and stores its offset.
    live.exits.clear();
    for (p, w) in live.workers.drain() {
        if let Err(e) = w.stop().await {
            tracing::warn!(partition = p, error = %e, "the last batch was not acknowledged; its inputs will be redelivered");
        }
    }
    // Queues split off but never taken hold the consumer: let them go.
    live.consumer
        .context()
        .changes
        .lock()
        .expect("not poisoned")
        .queues
        .clear();
    // Blocking librdkafka calls: off the async workers' duty meanwhile.
    tokio::task::block_in_place(|| kafka::flush(&live.producer, Duration::from_secs(5)));
    match tokio::task::block_in_place(|| commit_stored(live.consumer.as_ref())) {
        Ok(()) => tracing::info!("offsets committed at shutdown"),
        Err(e) => {
            tracing::warn!(error = %e, "commit at shutdown failed; inputs since the last commit will be redelivered")
        }
    }
    result
}
