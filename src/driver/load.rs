//! The ClickHouse loader of `run --clickhouse-url`: its own consumer group
//! reads the input topic (valid events; the DLQ marks the refused ones) and
//! the output topics (decisions, SLA events, dead letters, and the status
//! topic's complaint rows), turns each record back into the [`Output`] it
//! was, and writes them to ClickHouse in batches. Offsets are stored only after a batch's
//! inserts succeeded; on an insert error the inserters are dropped, the
//! loader backs off, and it reads again from the first offset of the failed
//! batch. Every insert carries a token naming the offset ranges it covers,
//! so a repeated insert is stored once. The batch read again after a
//! failure is cut at exactly the failed one's ranges ([`Redo`]), so it
//! carries the same token; only a re-read that cannot be cut so (a
//! partition moved to another instance meanwhile) folds on the tables'
//! deterministic sort keys (read with FINAL).

use crate::config::Config;
use crate::core::{Accepted, Output, Refused, RejectCode};
use crate::model::{DeadLetter, Event};
use crate::sink::clickhouse::{Batch, Limits, Warehouse};
use crate::source::kafka::{GroupContext, commit_stored, group_consumer, source_of};
use crate::source::offsets::Covered;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Loader failures that stop it (ClickHouse errors are retried instead).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("kafka consumer: {0}")]
    Consumer(#[from] KafkaError),
    /// Fatal: the ClickHouse client cannot be built (its CA file).
    #[error(transparent)]
    ClickHouse(#[from] crate::sink::clickhouse::ClickHouseError),
}

/// Which topic a record came from.
#[derive(Clone, Copy)]
enum Source {
    Input,
    Decisions,
    Sla,
    DeadLetters,
    Status,
}

/// The output a record of `source` carries: each topic holds one kind,
/// as the service's Kafka sink wrote it. `None` for a record that is not
/// one (a bad input record: the service dead-lettered it).
fn output_of(source: Source, msg: &OwnedMessage) -> Option<Output> {
    let text = std::str::from_utf8(msg.payload()?).ok()?;
    let output = match source {
        Source::Input => Output::Event(Accepted {
            event: Event::from_json(text).ok()?,
            payload: text.to_string(),
            source: source_of(msg),
            waited: false,
        }),
        Source::Decisions => Output::Decision(serde_json::from_str(text).ok()?),
        Source::Sla => Output::Sla(serde_json::from_str(text).ok()?),
        Source::DeadLetters => {
            let letter: DeadLetter = serde_json::from_str(text).ok()?;
            Output::DeadLetter(Refused {
                code: RejectCode::named(letter.code())?,
                complaint_id: msg.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                letter,
            })
        }
        Source::Status => Output::Complaint(serde_json::from_str(text).ok()?),
    };
    Some(output)
}

/// Adds the row(s) of one record to the batch; unreadable output records
/// are counted and skipped.
fn add(batch: &mut Batch, source: Source, msg: &OwnedMessage) {
    match output_of(source, msg) {
        Some(o) => {
            batch.add(&o);
        }
        None if matches!(source, Source::Input) => {}
        None => {
            tracing::warn!(
                topic = msg.topic(),
                partition = msg.partition(),
                offset = msg.offset(),
                "unreadable output record skipped"
            );
            metrics::counter!("complaintflow_clickhouse_skipped_total").increment(1);
        }
    }
}

/// The consumer, the writer and the batch being gathered.
struct Loader {
    consumer: StreamConsumer<GroupContext>,
    topics: Vec<(String, Source)>,
    warehouse: Warehouse,
    batch: Batch,
    /// The records the batch holds: stored once it is inserted.
    covered: Covered,
    /// After a failed insert: the batch being read again.
    redo: Option<Redo>,
}

/// A failed batch read again: its exact ranges, so the repeat carries the
/// same token and the server drops whatever part of it it had stored.
/// Records beyond them (other partitions keep flowing) wait in `held`
/// for the next batch.
struct Redo {
    ranges: Covered,
    since: std::time::Instant,
    held: Vec<OwnedMessage>,
}

/// How long a failed batch may take to be read again whole, and how many
/// records may wait behind it; past either, it is stored as it stands.
const REDO_DEADLINE: Duration = Duration::from_secs(30);
const MAX_HELD: usize = 100_000;

impl Redo {
    /// Whether to give up cutting at the failed ranges.
    fn expired(&self) -> bool {
        self.since.elapsed() >= REDO_DEADLINE || self.held.len() >= MAX_HELD
    }
}

/// How often the loader's lag gauge is set.
const LAG_EVERY: Duration = Duration::from_secs(1);

/// How long one batch's inserts may take before they count as failed.
const INSERT_DEADLINE: Duration = Duration::from_secs(60);

impl Loader {
    /// Takes a record into the batch, or, while a failed batch is read
    /// again, behind it when it lies beyond the failed ranges.
    fn offer(&mut self, m: OwnedMessage) {
        match &mut self.redo {
            Some(r) if !r.ranges.contains(m.topic(), m.partition(), m.offset()) => r.held.push(m),
            _ => self.take(&m),
        }
    }

    /// Whether the batch is to be inserted now: the failed batch read
    /// again whole (or given up on), else a limit reached.
    fn ready(&self, limits: &Limits) -> bool {
        match &self.redo {
            Some(r) => r.ranges == self.covered || r.expired(),
            None => !self.covered.is_empty() && self.batch.full(limits),
        }
    }

    /// How long to wait for the next record.
    fn wait(&self, limits: &Limits) -> Duration {
        match &self.redo {
            Some(r) => REDO_DEADLINE.saturating_sub(r.since.elapsed()),
            None => self.batch.time_left(limits),
        }
    }

    /// Ends a re-read: the records held behind it start the next batch.
    fn end_redo(&mut self) {
        if let Some(r) = self.redo.take() {
            if r.ranges != self.covered {
                tracing::info!(
                    held = r.held.len(),
                    "a failed batch could not be read again whole; its repeat folds at merges"
                );
            }
            for m in r.held {
                self.take(&m);
            }
        }
    }

    fn take(&mut self, m: &OwnedMessage) {
        let source = self
            .topics
            .iter()
            .find(|(t, _)| t == m.topic())
            .map(|(_, s)| *s)
            .expect("subscribed topics only");
        add(&mut self.batch, source, m);
        self.covered.record(m.topic(), m.partition(), m.offset());
        // Counts towards the limits and starts the period (tombstones too).
        self.batch.note(m.payload().map_or(0, <[u8]>::len));
        metrics::gauge!("complaintflow_clickhouse_pending_rows").set(self.batch.rows() as f64);
    }

    /// Records not yet in ClickHouse, over every assigned topic-partition
    /// (end minus committed offset, from the client's statistics, so no
    /// broker call): whether loading keeps up.
    fn record_lag(&self) {
        let behind: i64 = self
            .consumer
            .context()
            .all_progress()
            .iter()
            .filter(|p| p.end >= 0)
            .map(|p| (p.end - p.committed.max(p.low).max(0)).max(0))
            .sum();
        metrics::gauge!("complaintflow_clickhouse_lag").set(behind as f64);
    }

    /// Inserts the batch, then stores the offsets it covers. On failure the
    /// inserters are dropped and the consumer is moved back to the batch's
    /// first offsets (and the held records'), so the same records are read
    /// again, and cut as they were.
    async fn store(&mut self) -> Result<(), String> {
        // A batch given up on goes as it stands, with what waited behind it.
        if self.redo.as_ref().is_some_and(|r| r.ranges != self.covered) {
            self.end_redo();
        }
        let tok = self.covered.token();
        metrics::histogram!("complaintflow_clickhouse_batch_rows").record(self.batch.rows() as f64);
        let inserted =
            match tokio::time::timeout(INSERT_DEADLINE, self.warehouse.insert(&self.batch, &tok))
                .await
            {
                Ok(Ok(_rejected)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {INSERT_DEADLINE:?}")),
            };
        match &inserted {
            Ok(()) => {
                metrics::counter!("complaintflow_clickhouse_rows_total")
                    .increment(self.batch.rows() as u64);
                tracing::debug!(rows = self.batch.rows(), token = %tok, "batch stored in clickhouse");
                // A partition revoked meanwhile is read again by its new
                // owner, and the sort keys fold the repeat.
                self.covered.store(&self.consumer);
            }
            Err(_) => {
                metrics::counter!("complaintflow_clickhouse_errors_total").increment(1);
                let mut again = self.covered.clone();
                for m in self.redo.take().into_iter().flat_map(|r| r.held) {
                    again.record(m.topic(), m.partition(), m.offset());
                }
                // Blocking seeks: the worker is handed off meanwhile.
                tokio::task::block_in_place(|| again.rewind(&self.consumer));
                self.redo = Some(Redo {
                    ranges: self.covered.clone(),
                    since: std::time::Instant::now(),
                    held: Vec::new(),
                });
            }
        }
        self.batch.clear();
        self.covered = Covered::default();
        metrics::gauge!("complaintflow_clickhouse_pending_rows").set(0.0);
        if inserted.is_ok() {
            self.end_redo();
        }
        inserted
    }
}

/// Runs until `cancel`; stores what it gathered and commits on the way out.
pub async fn run(cfg: Config, cancel: CancellationToken) -> Result<(), LoadError> {
    let k = &cfg.kafka;
    let group = if cfg.clickhouse.group.is_empty() {
        format!("{}-clickhouse", k.group)
    } else {
        cfg.clickhouse.group.clone()
    };
    let topics = vec![
        (k.input_topic.clone(), Source::Input),
        (k.decisions_topic.clone(), Source::Decisions),
        (k.sla_topic.clone(), Source::Sla),
        (k.dlq_topic.clone(), Source::DeadLetters),
        (k.status_topic.clone(), Source::Status),
    ];
    let names: Vec<&str> = topics.iter().map(|(t, _)| t.as_str()).collect();
    let consumer = group_consumer(k, &group, &names, None)?;
    let limits = Limits::from(&cfg.clickhouse);
    let mut loader = Loader {
        consumer,
        topics,
        warehouse: Warehouse::new(&cfg.clickhouse)?,
        batch: Batch::default(),
        covered: Covered::default(),
        redo: None,
    };
    let mut backoff = Duration::from_millis(500);
    tracing::info!(group, database = %cfg.clickhouse.database, "clickhouse loader started");
    let mut last_lag: Option<std::time::Instant> = None;
    loop {
        if last_lag.is_none_or(|t| t.elapsed() >= LAG_EVERY) {
            last_lag = Some(std::time::Instant::now());
            loader.record_lag();
        }
        let wait = loader.wait(&limits);
        let msg = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            m = tokio::time::timeout(wait, loader.consumer.recv()) => m,
        };
        match msg {
            Err(_) => {} // the period ended
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "loader consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Ok(m)) => loader.offer(m.detach()),
        }
        if !loader.ready(&limits) {
            continue;
        }
        if loader.covered.is_empty() {
            // Nothing of the failed batch came back (moved to another
            // instance): what waited behind it goes on.
            loader.end_redo();
            continue;
        }
        if let Err(e) = loader.store().await {
            tracing::error!(error = %e, retry_in_ms = backoff.as_millis() as u64, "clickhouse insert failed; reading the batch again from kafka");
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        } else {
            backoff = Duration::from_millis(500);
        }
    }
    // One last try for what was gathered; if it fails, those records are
    // read again by the next owner (their offsets were never stored).
    if !loader.covered.is_empty()
        && let Err(e) = loader.store().await
    {
        tracing::warn!(error = %e, "last batch not stored at shutdown; it will be loaded again");
    }
    match tokio::task::block_in_place(|| commit_stored(&loader.consumer)) {
        Ok(()) => tracing::info!("loader offsets committed at shutdown"),
        Err(e) => {
            tracing::warn!(error = %e, "loader commit at shutdown failed; those records will be loaded again")
        }
    }
    Ok(())
}
