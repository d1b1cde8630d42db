//! Live mode: the consumer group on the input topic, the same engine as
//! replay, outputs and state changes to Kafka, offsets stored only after the
//! broker acknowledged every output of the messages they cover.
//!
//! Clock: while a partition has input to read, its timers follow event time
//! (exactly as replay does), so catching up on a backlog after a restart
//! gives the outcomes the events imply. A partition with no input for
//! `run.caught_up_after_ms` is caught up: its timers then follow the wall clock.

use crate::config::Config;
use crate::core::{
    Applied, Clock, Engine, EventTimeClock, Outputs, RejectCode, Rejection, Rules, WallClock,
};
use crate::model::{DeadLetter, Event, Timestamp};
use crate::rules::reload::SharedRules;
use crate::sink::kafka::{self, KafkaSinkError, OutRecord};
use crate::source::kafka::{GroupContext, commit_stored, group_consumer, restore_partition};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureProducer;
use std::collections::{HashMap, HashSet};
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

struct Partition {
    engine: Engine,
    clock: EventTimeClock,
    last_input: Instant,
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
    out: Outputs,
    records: Vec<OutRecord>,
    /// Complaints whose state changed in the current batch, by partition.
    pending_state: HashMap<i32, HashSet<Arc<str>>>,
    /// At most one batch is in flight while the next one is processed.
    in_flight: Option<InFlight>,
    last_lag: Instant,
}

/// How often consumer lag is measured (a broker round trip per partition).
const LAG_EVERY: Duration = Duration::from_secs(10);

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("output types serialize")
}

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
            self.parts.insert(
                p,
                Partition {
                    engine,
                    clock: EventTimeClock::default(),
                    last_input: Instant::now(),
                },
            );
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

    /// Turns the core's outputs (and its changed states) into records.
    fn collect(&mut self, partition: i32) {
        let k = &self.cfg.kafka;
        for d in self.out.decisions.drain(..) {
            metrics::counter!("complaintflow_decisions_total", "category" => d.category.as_str())
                .increment(1);
            metrics::counter!("complaintflow_outputs_total", "kind" => "decision").increment(1);
            self.records.push(OutRecord {
                topic: k.decisions_topic.clone(),
                key: d.complaint_id.clone(),
                payload: Some(json(&d)),
                partition: None,
            });
        }
        for e in self.out.sla.drain(..) {
            metrics::counter!("complaintflow_outputs_total", "kind" => e.kind.as_str())
                .increment(1);
            self.records.push(OutRecord {
                topic: k.sla_topic.clone(),
                key: e.complaint_id.clone(),
                payload: Some(json(&e)),
                partition: None,
            });
        }
        let Some(part) = self.parts.get_mut(&partition) else {
            return;
        };
        // State is written once per complaint per batch, at flush.
        let pending = self.pending_state.entry(partition).or_default();
        pending.extend(self.out.changed.drain(..));
        // Archived and withdrawn complaints leave the state (a tombstone) once
        // they are older than the retention, in event time.
        if let Some(now) = part.clock.now() {
            let cutoff = now - chrono::TimeDelta::seconds(self.cfg.run.closed_retention_s as i64);
            for c in part.engine.evict_closed_before(cutoff) {
                // A final state not written yet goes out before its
                // tombstone: the ClickHouse loader reads outcomes from it.
                if !pending.insert(c.id.clone()) {
                    self.records.push(OutRecord {
                        topic: k.state_topic.clone(),
                        key: c.id.to_string(),
                        payload: Some(json(&c)),
                        partition: Some(partition),
                    });
                }
            }
        }
    }

    /// The latest state of every complaint changed since the last flush; a
    /// tombstone for those no longer held.
    fn state_records(&mut self) {
        for (partition, ids) in self.pending_state.drain() {
            let Some(part) = self.parts.get(&partition) else {
                continue;
            };
            for id in ids {
                let payload = part.engine.complaint(&id).map(json);
                self.records.push(OutRecord {
                    topic: self.cfg.kafka.state_topic.clone(),
                    key: id.to_string(),
                    payload,
                    partition: Some(partition),
                });
            }
        }
    }

    fn dead_letter(&mut self, msg: &OwnedMessage, reason: &Rejection, at: Timestamp) {
        metrics::counter!("complaintflow_dead_letters_total", "reason" => reason.code.as_str())
            .increment(1);
        let payload = msg
            .payload()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();
        let dl = DeadLetter {
            payload,
            reason: reason.to_string(),
            source: format!("{}/{}/{}", msg.topic(), msg.partition(), msg.offset()),
            at,
        };
        let key = msg
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        self.records.push(OutRecord {
            topic: self.cfg.kafka.dlq_topic.clone(),
            key,
            payload: Some(json(&dl)),
            partition: None,
        });
    }

    fn process(&mut self, msg: &OwnedMessage, rules: &dyn Rules) {
        let p = msg.partition();
        let parsed = match msg.payload().map(std::str::from_utf8) {
            None => Err(Rejection::new(RejectCode::Unparsable, "empty message")),
            Some(Err(_)) => Err(Rejection::new(RejectCode::Unparsable, "not UTF-8 text")),
            Some(Ok(text)) => Event::from_json(text)
                .map_err(|e| Rejection::new(RejectCode::Unparsable, e.to_string())),
        };
        let part = self.parts.entry(p).or_insert_with(|| Partition {
            engine: Engine::new(),
            clock: EventTimeClock::default(),
            last_input: Instant::now(),
        });
        part.last_input = Instant::now();
        let ev = match parsed {
            Ok(ev) => ev,
            Err(r) => {
                let at = part.clock.now().unwrap_or_else(chrono::Utc::now);
                return self.dead_letter(msg, &r, at);
            }
        };
        part.clock.observe(ev.at());
        let now = part.clock.now().expect("just observed");
        part.engine.advance(now, false, &mut self.out);
        match part.engine.process(&ev, rules, &mut self.out) {
            Ok(Applied::Accepted) => {
                metrics::counter!("complaintflow_events_in_total", "type" => ev.type_name())
                    .increment(1)
            }
            Ok(Applied::Duplicate) => {
                metrics::counter!("complaintflow_duplicates_total").increment(1)
            }
            Err(r) => self.dead_letter(msg, &r, now),
        }
        self.collect(p);
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
        self.state_records();
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
        for msg in &batch {
            self.process(msg, rules.as_ref());
            let next = offsets.entry(msg.partition()).or_insert(0);
            *next = (*next).max(msg.offset() + 1);
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
        for p in ready {
            if let Some(part) = self.parts.get_mut(&p) {
                part.engine.advance(now, true, &mut self.out);
            }
            self.collect(p);
        }
        if !self.records.is_empty() || !self.pending_state.is_empty() {
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
        out: Outputs::default(),
        records: Vec::new(),
        pending_state: HashMap::new(),
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
