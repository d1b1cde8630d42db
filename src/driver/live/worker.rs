//! One task per assigned partition: it owns the partition's engine, takes
//! the partition's messages from its own consumer queue in batches, sends
//! each batch's records, and stores the offsets once the broker acknowledged
//! them. Partitions share nothing, so they use every core.
//!
//! Clock: the partition is caught up when it has processed every record up
//! to the broker's end of the partition (from the client's statistics, no
//! broker call). Until then its timers follow event time, as in replay;
//! then the wall clock. A quiet spell (a paused broker, a slow fetch) is
//! not "caught up": only the position decides.

use super::LiveError;
use super::partition::{Partition, Produced};
use crate::config::Config;
use crate::core::{Clock, Rules, WallClock};
use crate::rules::reload::SharedRules;
use crate::sink::kafka::{self, KafkaSinkError, OutRecord};
use crate::source::kafka::{GroupContext, PartitionProgress, PartitionQueue};
use crate::source::offsets::Covered;
use futures::FutureExt;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::FutureProducer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A batch whose records are on their way to the broker.
struct InFlight {
    sends: tokio::task::JoinHandle<Result<(), KafkaSinkError>>,
    /// The inputs covered: stored once every record is acknowledged.
    covered: Covered,
    records: usize,
    started: Instant,
    /// The inputs the batch came from, for the latency histograms.
    inputs: Option<BatchInputs>,
}

/// When a batch of inputs started processing, and the broker timestamp of
/// its oldest message (milliseconds since the epoch).
#[derive(Debug, Clone, Copy)]
struct BatchInputs {
    started: Instant,
    oldest_ms: Option<i64>,
}

impl BatchInputs {
    /// Records how long the batch took and how old its oldest input was
    /// once its outputs are durable.
    fn record(&self) {
        metrics::histogram!("complaintflow_batch_seconds")
            .record(self.started.elapsed().as_secs_f64());
        let now_ms = chrono::Utc::now().timestamp_millis();
        if let Some(age) = self.oldest_ms.and_then(|t| now_ms.checked_sub(t)) {
            // A producer clock ahead of ours gives a negative age: not a latency.
            if age >= 0 {
                metrics::histogram!("complaintflow_output_latency_seconds")
                    .record(age as f64 / 1000.0);
            }
        }
    }
}

pub(super) struct Worker {
    pub partition: i32,
    pub part: Partition,
    pub cfg: Arc<Config>,
    pub rules: SharedRules,
    pub producer: FutureProducer,
    pub consumer: Arc<StreamConsumer<GroupContext>>,
    in_flight: Option<InFlight>,
    /// The offset after the last record processed since the assignment.
    next: Option<i64>,
    /// The partition's end when it was restored (a broker query), raised by
    /// every statistics report: it never moves back.
    end: i64,
    caught_up: bool,
}

impl Worker {
    pub fn new(
        partition: i32,
        part: Partition,
        cfg: Arc<Config>,
        rules: SharedRules,
        producer: FutureProducer,
        consumer: Arc<StreamConsumer<GroupContext>>,
        input_end: i64,
    ) -> Worker {
        metrics::gauge!("complaintflow_partition_caught_up", "partition" => partition.to_string())
            .set(0.0);
        Worker {
            partition,
            part,
            cfg,
            rules,
            producer,
            consumer,
            in_flight: None,
            next: None,
            end: input_end,
            caught_up: false,
        }
    }

    /// The statistics' latest word on this partition, if any yet.
    fn progress(&self) -> Option<PartitionProgress> {
        let topic = &self.cfg.kafka.input_topic;
        self.consumer.context().progress_of(topic, self.partition)
    }

    /// Whether every record up to the partition's end is processed. Before
    /// the first record, the position is the committed offset (or the low
    /// watermark, where the group starts without one).
    fn check_caught_up(&mut self, progress: Option<PartitionProgress>) -> bool {
        if let Some(p) = progress {
            self.end = self.end.max(p.end);
        }
        let position = self.next.or_else(|| {
            let p = progress?;
            let start = if p.committed >= 0 { p.committed } else { p.low };
            (start >= 0).then_some(start)
        });
        // Only once a fetch of this assignment reported the end: the end
        // queried at restore alone may be short on some brokers.
        let fetched = progress.is_some_and(|p| p.end >= 0);
        let caught_up = fetched && position.is_some_and(|pos| pos >= self.end);
        let p = self.partition.to_string();
        if let Some(pos) = position {
            metrics::gauge!("complaintflow_consumer_lag", "partition" => p.clone())
                .set((self.end - pos).max(0) as f64);
        }
        if caught_up != self.caught_up {
            tracing::info!(partition = self.partition, end = self.end, position = ?position,
                caught_up, "partition clock: {}", if caught_up { "wall clock" } else { "event time" });
            metrics::gauge!("complaintflow_partition_caught_up", "partition" => p)
                .set(f64::from(u8::from(caught_up)));
            self.caught_up = caught_up;
        }
        caught_up
    }

    /// Committed offset of this partition (-1 when none is known).
    fn committed(progress: Option<PartitionProgress>) -> i64 {
        progress.map_or(-1, |p| p.committed)
    }

    /// Runs until `stop` (revoke, shutdown): the batch in hand is finished
    /// and its offsets stored; messages still queued are delivered again.
    pub async fn run(
        mut self,
        queue: PartitionQueue,
        stop: CancellationToken,
    ) -> Result<(), LiveError> {
        let tick = Duration::from_millis(self.cfg.run.tick_ms);
        let batch_wait = Duration::from_millis(self.cfg.run.batch_wait_ms);
        let batch_max = self.cfg.run.batch_max;
        let mut next_tick = tokio::time::Instant::now() + tick;
        loop {
            let first = tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                m = queue.recv() => Some(m),
                _ = tokio::time::sleep_until(next_tick) => None,
            };
            if let Some(first) = first {
                let mut batch = Vec::with_capacity(batch_max.min(1024));
                keep(&mut batch, first, self.partition);
                // The batch closes `batch_wait` after its first message at
                // the latest: at a steady trickle, a wait per message would
                // keep it open until `batch_max`, and delay every decision.
                let close = tokio::time::Instant::now() + batch_wait;
                while batch.len() < batch_max {
                    // What is queued already, then what comes before closing.
                    let more = match queue.recv().now_or_never() {
                        Some(m) => m,
                        None => match tokio::time::timeout_at(close, queue.recv()).await {
                            Ok(m) => m,
                            Err(_) => break,
                        },
                    };
                    keep(&mut batch, more, self.partition);
                }
                if !batch.is_empty() {
                    self.process_batch(&batch).await?;
                }
            }
            if tokio::time::Instant::now() >= next_tick {
                next_tick = tokio::time::Instant::now() + tick;
                self.tick().await?;
            }
        }
        self.settle().await?;
        let p = self.partition.to_string();
        metrics::gauge!("complaintflow_open_complaints", "partition" => p.clone()).set(0.0);
        metrics::gauge!("complaintflow_timers_pending", "partition" => p.clone()).set(0.0);
        metrics::gauge!("complaintflow_events_held", "partition" => p.clone()).set(0.0);
        metrics::gauge!("complaintflow_partition_caught_up", "partition" => p).set(0.0);
        Ok(())
    }

    async fn process_batch(&mut self, batch: &[BorrowedMessage<'_>]) -> Result<(), LiveError> {
        tracing::debug!(partition = self.partition, messages = batch.len(), "batch");
        let inputs = BatchInputs {
            started: Instant::now(),
            oldest_ms: batch.iter().filter_map(|m| m.timestamp().to_millis()).min(),
        };
        let rules = self.rules.load_full();
        let k = &self.cfg.kafka;
        let mut produced = Produced::new(k);
        let mut covered = Covered::default();
        let mut next = 0;
        for msg in batch {
            self.part.take(msg, rules.as_ref(), &mut produced)?;
            covered.record(msg.topic(), msg.partition(), msg.offset());
            next = msg.offset() + 1;
        }
        self.next = Some(next);
        let committed = Self::committed(self.progress());
        self.part.finish(
            self.partition,
            self.cfg.run.closed_retention_s,
            committed,
            k,
            &mut produced,
        )?;
        covered.cap(&k.input_topic, self.partition, self.part.committable(next));
        self.flush(produced.into_records(), covered, Some(inputs))
            .await
    }

    /// Waits for the batch in flight and stores the offset it covers.
    async fn settle(&mut self) -> Result<(), LiveError> {
        let Some(f) = self.in_flight.take() else {
            return Ok(());
        };
        f.sends.await.map_err(|e| LiveError::Task {
            task: format!("output sends of partition {}", self.partition),
            error: e.to_string(),
        })??;
        tracing::debug!(
            partition = self.partition,
            records = f.records,
            took_ms = f.started.elapsed().as_millis() as u64,
            "outputs delivered"
        );
        if let Some(inputs) = f.inputs {
            inputs.record();
        }
        // Revoked meanwhile: the new owner reads these inputs again.
        f.covered.store(&self.consumer);
        Ok(())
    }

    /// Sends a batch's records; its offset is stored once the broker
    /// acknowledged them all. The previous batch settles first, so records
    /// keep their order and one batch's deliveries overlap the processing
    /// of the next.
    ///
    /// Outputs go first and state records only once every output is
    /// acknowledged: a crash in between leaves the old state, so the
    /// redelivered inputs give their outputs again (same ids). The other
    /// order could keep a state whose outputs never reached the broker.
    async fn flush(
        &mut self,
        records: Vec<OutRecord>,
        covered: Covered,
        inputs: Option<BatchInputs>,
    ) -> Result<(), LiveError> {
        self.settle().await?;
        let producer = self.producer.clone();
        let n = records.len();
        let state_topic = &self.cfg.kafka.state_topic;
        let (states, outputs): (Vec<OutRecord>, Vec<OutRecord>) =
            records.into_iter().partition(|r| &r.topic == state_topic);
        self.in_flight = Some(InFlight {
            sends: tokio::spawn(async move {
                kafka::send_all(&producer, &outputs).await?;
                kafka::send_all(&producer, &states).await
            }),
            covered,
            records: n,
            started: Instant::now(),
            inputs,
        });
        Ok(())
    }

    /// Wall-clock timers once the partition is caught up, evictions, the
    /// last offsets, and the gauges.
    async fn tick(&mut self) -> Result<(), LiveError> {
        let progress = self.progress();
        let caught_up = self.check_caught_up(progress);
        let k = &self.cfg.kafka;
        let mut produced = Produced::new(k);
        if caught_up {
            let now = WallClock.now().expect("the wall clock always reads");
            let lateness = self.rules.load().policy().lateness;
            self.part.advance(now, lateness, &mut produced)?;
        }
        self.part.finish(
            self.partition,
            self.cfg.run.closed_retention_s,
            Self::committed(progress),
            k,
            &mut produced,
        )?;
        if !produced.records().is_empty() {
            tracing::debug!(
                partition = self.partition,
                records = produced.records().len(),
                "timer outputs"
            );
            // Held events given up on free their offsets.
            let topic = &self.cfg.kafka.input_topic;
            let covered = self.next.map_or_else(Covered::default, |n| {
                Covered::position(topic, self.partition, self.part.committable(n))
            });
            self.flush(produced.into_records(), covered, None).await?;
        }
        // Quiet input: the last batch's offset moves without waiting for another.
        self.settle().await?;
        let p = self.partition.to_string();
        metrics::gauge!("complaintflow_open_complaints", "partition" => p.clone())
            .set(self.part.stream.engine.len() as f64);
        metrics::gauge!("complaintflow_timers_pending", "partition" => p.clone())
            .set(self.part.stream.engine.pending_timers() as f64);
        metrics::gauge!("complaintflow_events_held", "partition" => p)
            .set(self.part.stream.engine.held() as f64);
        Ok(())
    }
}

/// Adds a received message to the batch; a consumer error (the broker gone
/// for a while, say) costs no message: librdkafka retries the fetch.
fn keep<'q>(
    batch: &mut Vec<BorrowedMessage<'q>>,
    m: Result<BorrowedMessage<'q>, KafkaError>,
    partition: i32,
) {
    match m {
        Ok(m) => batch.push(m),
        Err(e) => tracing::warn!(partition, error = %e, "consumer error"),
    }
}
