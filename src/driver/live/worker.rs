//! One task per assigned partition: it owns the partition's engine, takes
//! the partition's messages from a bounded channel in batches, sends each
//! batch's records, and stores the offsets once the broker acknowledged
//! them. Partitions share nothing, so they use every core.

use super::LiveError;
use super::partition::{Partition, Produced};
use crate::config::Config;
use crate::core::{Clock, WallClock};
use crate::rules::reload::SharedRules;
use crate::sink::kafka::{self, KafkaSinkError, OutRecord};
use crate::source::kafka::GroupContext;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureProducer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A batch whose records are on their way to the broker.
struct InFlight {
    sends: tokio::task::JoinHandle<Result<(), KafkaSinkError>>,
    /// The offset to store once every record is acknowledged.
    next_offset: Option<i64>,
    records: usize,
    started: Instant,
}

pub(super) struct Worker {
    pub partition: i32,
    pub part: Partition,
    pub cfg: Arc<Config>,
    pub rules: SharedRules,
    pub producer: FutureProducer,
    pub consumer: Arc<StreamConsumer<GroupContext>>,
    in_flight: Option<InFlight>,
}

impl Worker {
    pub fn new(
        partition: i32,
        part: Partition,
        cfg: Arc<Config>,
        rules: SharedRules,
        producer: FutureProducer,
        consumer: Arc<StreamConsumer<GroupContext>>,
    ) -> Worker {
        Worker {
            partition,
            part,
            cfg,
            rules,
            producer,
            consumer,
            in_flight: None,
        }
    }

    /// Runs until the channel closes or `stop` (revoke, shutdown): the batch
    /// in hand is finished and its offsets stored; queued messages are left
    /// to be delivered again.
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<OwnedMessage>,
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
                m = rx.recv() => match m {
                    Some(m) => Some(m),
                    None => break,
                },
                _ = tokio::time::sleep_until(next_tick) => None,
            };
            if let Some(first) = first {
                let mut batch = vec![first];
                while batch.len() < batch_max {
                    let more = match rx.try_recv() {
                        Ok(m) => Some(m),
                        Err(mpsc::error::TryRecvError::Empty) => {
                            tokio::time::timeout(batch_wait, rx.recv())
                                .await
                                .ok()
                                .flatten()
                        }
                        Err(mpsc::error::TryRecvError::Disconnected) => None,
                    };
                    match more {
                        Some(m) => batch.push(m),
                        None => break,
                    }
                }
                self.process_batch(batch).await?;
            }
            if tokio::time::Instant::now() >= next_tick {
                next_tick = tokio::time::Instant::now() + tick;
                self.tick().await?;
            }
        }
        self.settle().await?;
        let p = self.partition.to_string();
        metrics::gauge!("complaintflow_open_complaints", "partition" => p.clone()).set(0.0);
        metrics::gauge!("complaintflow_timers_pending", "partition" => p).set(0.0);
        Ok(())
    }

    async fn process_batch(&mut self, batch: Vec<OwnedMessage>) -> Result<(), LiveError> {
        tracing::debug!(partition = self.partition, messages = batch.len(), "batch");
        let rules = self.rules.load_full();
        let k = &self.cfg.kafka;
        let mut produced = Produced::default();
        let mut next = 0;
        for msg in &batch {
            self.part.take(msg, rules.as_ref(), k, &mut produced);
            next = msg.offset() + 1;
        }
        self.part.finish(
            self.partition,
            self.cfg.run.closed_retention_s,
            k,
            &mut produced,
        );
        self.flush(produced.records, Some(next)).await
    }

    /// Waits for the batch in flight and stores the offset it covers.
    async fn settle(&mut self) -> Result<(), LiveError> {
        let Some(f) = self.in_flight.take() else {
            return Ok(());
        };
        f.sends.await.expect("the send task does not panic")?;
        tracing::debug!(
            partition = self.partition,
            records = f.records,
            took_ms = f.started.elapsed().as_millis() as u64,
            "outputs delivered"
        );
        if let Some(next) = f.next_offset {
            let topic = &self.cfg.kafka.input_topic;
            match self.consumer.store_offset(topic, self.partition, next) {
                Ok(()) => tracing::debug!(partition = self.partition, next, "offset stored"),
                // Revoked meanwhile: the new owner reads these inputs again.
                Err(e) => {
                    tracing::debug!(partition = self.partition, error = %e, "offset not stored")
                }
            }
        }
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
        next_offset: Option<i64>,
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
            next_offset,
            records: n,
            started: Instant::now(),
        });
        Ok(())
    }

    /// Wall-clock timers once the partition is caught up (no input for
    /// `run.caught_up_after_ms`), the last offsets, and the gauges.
    async fn tick(&mut self) -> Result<(), LiveError> {
        let idle = Duration::from_millis(self.cfg.run.caught_up_after_ms);
        if self.part.last_input.elapsed() >= idle {
            let now = WallClock.now().expect("the wall clock always reads");
            let k = &self.cfg.kafka;
            let mut produced = Produced::default();
            self.part.advance(now, k, &mut produced);
            self.part.finish(
                self.partition,
                self.cfg.run.closed_retention_s,
                k,
                &mut produced,
            );
            if !produced.records.is_empty() {
                tracing::debug!(
                    partition = self.partition,
                    records = produced.records.len(),
                    "timer outputs"
                );
                self.flush(produced.records, None).await?;
            }
        }
        // Quiet input: the last batch's offset moves without waiting for another.
        self.settle().await?;
        let p = self.partition.to_string();
        metrics::gauge!("complaintflow_open_complaints", "partition" => p.clone())
            .set(self.part.engine.len() as f64);
        metrics::gauge!("complaintflow_timers_pending", "partition" => p)
            .set(self.part.engine.pending_timers() as f64);
        Ok(())
    }
}
