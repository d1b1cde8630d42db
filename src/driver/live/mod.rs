//! Live mode: the consumer group on the input topic, the same engine as
//! replay, outputs and state changes to Kafka, offsets stored only after the
//! broker acknowledged every output of the messages they cover.
//!
//! Clock: while a partition has input to read, its timers follow event time
//! (exactly as replay does), so catching up on a backlog after a restart
//! gives the outcomes the events imply. A partition with no input for
//! `run.caught_up_after_ms` is caught up: its timers then follow the wall clock.

mod partition;

use crate::config::Config;
use crate::core::{Clock, Engine, WallClock};
use crate::rules::reload::SharedRules;
use crate::sink::kafka::{self, KafkaSinkError, OutRecord};
use crate::source::kafka::{GroupContext, commit_stored, group_consumer, restore_partition};
use partition::{Partition, Produced};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureProducer;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

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

/// A batch whose records are on their way to the broker.
struct InFlight {
    sends: tokio::task::JoinHandle<Result<(), KafkaSinkError>>,
    /// Offsets to store once every record is acknowledged.
    offsets: HashMap<i32, i64>,
    records: usize,
    started: Instant,
}

struct Live {
    cfg: Config,
    rules: SharedRules,
    consumer: StreamConsumer<GroupContext>,
    producer: FutureProducer,
    parts: HashMap<i32, Partition>,
    records: Vec<OutRecord>,
    /// At most one batch is in flight while the next one is processed.
    in_flight: Option<InFlight>,
    last_lag: Instant,
}

/// How often consumer lag is measured (a broker round trip per partition).
const LAG_EVERY: Duration = Duration::from_secs(10);

impl Live {
    /// Restores newly assigned partitions from the changelog and drops revoked ones.
    async fn apply_rebalance(&mut self, health: &Health) -> Result<(), LiveError> {
        let (assigned, revoked) = {
            let mut a = self
                .consumer
                .context()
                .changes
                .lock()
                .expect("not poisoned");
            (
                std::mem::take(&mut a.assigned),
                std::mem::take(&mut a.revoked),
            )
        };
        for p in &revoked {
            self.parts.remove(p);
        }
        if !assigned.is_empty() || !revoked.is_empty() {
            // Own records still in flight land before any restore reads
            // them; offsets of revoked partitions are left to the new owner.
            self.settle().await?;
        }
        if assigned.is_empty() {
            return Ok(());
        }
        health.ready.store(false, Ordering::Relaxed);
        // Partitions are read in parallel: each restore waits out a quiet spell.
        let started = Instant::now();
        let reads = assigned.iter().map(|&p| {
            let k = self.cfg.kafka.clone();
            tokio::task::spawn_blocking(move || {
                (p, restore_partition(&k, p, Duration::from_secs(120)))
            })
        });
        for read in futures::future::join_all(reads).await {
            let (p, states) = read.expect("restore task does not panic");
            let states = states.map_err(|source| LiveError::Restore {
                partition: p,
                source,
            })?;
            let mut engine = Engine::new();
            let n = states.len();
            for (_, c) in states {
                engine.restore(c);
            }
            tracing::info!(
                partition = p,
                complaints = n,
                took_ms = started.elapsed().as_millis() as u64,
                "partition state restored"
            );
            self.parts.insert(p, Partition::new(engine));
        }
        // Restoring takes a while; the backlog of every assigned partition
        // is only read after all of them, so none counts as caught up yet.
        for p in &assigned {
            if let Some(part) = self.parts.get_mut(p) {
                part.last_input = Instant::now();
            }
        }
        health.ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Waits for the batch in flight and stores the offsets it covers.
    async fn settle(&mut self) -> Result<(), LiveError> {
        let Some(f) = self.in_flight.take() else {
            return Ok(());
        };
        f.sends.await.expect("the send task does not panic")?;
        tracing::debug!(
            records = f.records,
            took_ms = f.started.elapsed().as_millis() as u64,
            "outputs delivered"
        );
        for (p, next) in &f.offsets {
            if self.parts.contains_key(p) {
                self.consumer
                    .store_offset(&self.cfg.kafka.input_topic, *p, *next)?;
            }
        }
        tracing::debug!(offsets = ?f.offsets, "offsets stored");
        Ok(())
    }

    /// Sends the batch's records; their offsets are stored once the broker
    /// acknowledged them all. The previous batch settles first, so records
    /// keep their order and one batch's deliveries overlap the processing
    /// of the next.
    async fn flush(&mut self, offsets: HashMap<i32, i64>) -> Result<(), LiveError> {
        self.settle().await?;
        let records = std::mem::take(&mut self.records);
        let producer = self.producer.clone();
        let n = records.len();
        self.in_flight = Some(InFlight {
            sends: tokio::spawn(async move { kafka::send_all(&producer, &records).await }),
            offsets,
            records: n,
            started: Instant::now(),
        });
        Ok(())
    }

    async fn process_batch(&mut self, batch: Vec<OwnedMessage>) -> Result<(), LiveError> {
        tracing::debug!(messages = batch.len(), "batch");
        let rules = self.rules.load_full();
        let mut offsets: HashMap<i32, i64> = HashMap::new();
        let mut shares: BTreeMap<i32, Vec<&OwnedMessage>> = BTreeMap::new();
        for msg in &batch {
            let next = offsets.entry(msg.partition()).or_insert(0);
            *next = (*next).max(msg.offset() + 1);
            shares.entry(msg.partition()).or_default().push(msg);
        }
        let (k, retention) = (&self.cfg.kafka, self.cfg.run.closed_retention_s);
        let mut work: Vec<(i32, &mut Partition, Vec<&OwnedMessage>)> = Vec::new();
        for (id, part) in self.parts.iter_mut() {
            if let Some(msgs) = shares.remove(id) {
                work.push((*id, part, msgs));
            }
        }
        let run = |(id, part, msgs): (i32, &mut Partition, Vec<&OwnedMessage>)| {
            let mut produced = Produced::default();
            for msg in msgs {
                part.take(msg, rules.as_ref(), k, &mut produced);
            }
            part.finish(id, retention, k, &mut produced);
            produced.records
        };
        // Partitions share nothing: with more than one in the batch, their
        // shares run on threads of their own (the rules engine is Sync).
        let produced: Vec<Vec<OutRecord>> = if work.len() == 1 {
            work.into_iter().map(run).collect()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = work
                    .into_iter()
                    .map(|w| scope.spawn(move || run(w)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a partition's share does not panic"))
                    .collect()
            })
        };
        for records in produced {
            self.records.extend(records);
        }
        self.flush(offsets).await
    }

    /// Consumer lag per partition: high watermark minus position. (On Tansu
    /// the high watermark lags behind, so this reads low there.)
    fn record_lag(&self) {
        let topic = &self.cfg.kafka.input_topic;
        let Ok(positions) = self.consumer.position() else {
            return;
        };
        for e in positions.elements_for_topic(topic) {
            let rdkafka::Offset::Offset(pos) = e.offset() else {
                continue;
            };
            if let Ok((_, high)) =
                self.consumer
                    .fetch_watermarks(topic, e.partition(), Duration::from_secs(1))
            {
                metrics::gauge!("complaintflow_consumer_lag", "partition" => e.partition().to_string()).set((high - pos).max(0) as f64);
            }
        }
    }

    /// Wall-clock timers for caught-up partitions.
    async fn tick(&mut self) -> Result<(), LiveError> {
        let now = WallClock.now().expect("the wall clock always reads");
        let idle = Duration::from_millis(self.cfg.run.caught_up_after_ms);
        let ready: Vec<i32> = self
            .parts
            .iter()
            .filter(|(_, p)| p.last_input.elapsed() >= idle)
            .map(|(k, _)| *k)
            .collect();
        let (k, retention) = (&self.cfg.kafka, self.cfg.run.closed_retention_s);
        for p in ready {
            if let Some(part) = self.parts.get_mut(&p) {
                let mut produced = Produced::default();
                part.advance(now, k, &mut produced);
                part.finish(p, retention, k, &mut produced);
                self.records.extend(produced.records);
            }
        }
        if !self.records.is_empty() {
            let n = self.records.len();
            self.flush(HashMap::new()).await?;
            tracing::debug!(records = n, "timer outputs sent");
        }
        // Quiet input: the last batch's offsets move without waiting for another.
        self.settle().await?;
        if self.last_lag.elapsed() >= LAG_EVERY {
            self.last_lag = Instant::now();
            self.record_lag();
        }
        let open: usize = self.parts.values().map(|p| p.engine.len()).sum();
        let timers: usize = self.parts.values().map(|p| p.engine.pending_timers()).sum();
        metrics::gauge!("complaintflow_open_complaints").set(open as f64);
        metrics::gauge!("complaintflow_timers_pending").set(timers as f64);
        Ok(())
    }
}

/// Runs until `cancel`; commits stored offsets on the way out.
pub async fn run(
    cfg: Config,
    rules: SharedRules,
    health: Arc<Health>,
    cancel: CancellationToken,
) -> Result<(), LiveError> {
    kafka::ensure_topics(&cfg.kafka).await?;
    let consumer = group_consumer(&cfg.kafka, &cfg.kafka.group, &[&cfg.kafka.input_topic])?;
    let producer = kafka::producer(&cfg.kafka)?;
    let tick = Duration::from_millis(cfg.run.tick_ms);
    let batch_wait = Duration::from_millis(cfg.run.batch_wait_ms);
    let batch_max = cfg.run.batch_max;
    let mut live = Live {
        cfg,
        rules,
        consumer,
        producer,
        parts: HashMap::new(),
        records: Vec::new(),
        in_flight: None,
        last_lag: Instant::now(),
    };
    health.ready.store(true, Ordering::Relaxed);
    let mut last_tick = Instant::now();
    let result = loop {
        if let Err(e) = live.apply_rebalance(&health).await {
            break Err(e);
        }
        if last_tick.elapsed() >= tick {
            last_tick = Instant::now();
            if let Err(e) = live.tick().await {
                break Err(e);
            }
        }
        let first = tokio::select! {
            biased;
            _ = cancel.cancelled() => break Ok(()),
            m = tokio::time::timeout(tick, live.consumer.recv()) => m,
        };
        let first = match first {
            Err(_) => continue,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Ok(Ok(m)) => m.detach(),
        };
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match tokio::time::timeout(batch_wait, live.consumer.recv()).await {
                Ok(Ok(m)) => batch.push(m.detach()),
                _ => break,
            }
        }
        if let Err(e) = live.apply_rebalance(&health).await {
            break Err(e);
        }
        // Messages of partitions revoked meanwhile belong to their new owner.
        batch.retain(|m| live.parts.contains_key(&m.partition()));
        if let Err(e) = live.process_batch(batch).await {
            break Err(e);
        }
    };
    health.ready.store(false, Ordering::Relaxed);
    if result.is_ok()
        && let Err(e) = live.settle().await
    {
        tracing::warn!(error = %e, "the last batch was not acknowledged; its inputs will be redelivered");
    }
    kafka::flush(&live.producer, Duration::from_secs(5));
    match commit_stored(&live.consumer) {
        Ok(()) => tracing::info!("offsets committed at shutdown"),
        Err(e) => {
            tracing::warn!(error = %e, "commit at shutdown failed; inputs since the last commit will be redelivered")
        }
    }
    result
}
