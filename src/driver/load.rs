//! The ClickHouse loader of `run --clickhouse-url`: its own consumer group
//! reads the input topic (accepted events), the output topics and the state
//! changelog (one row per complaint), and writes them to ClickHouse in
//! batches. Offsets are stored only after a batch's inserts succeeded; on an
//! insert error the inserters are dropped, the loader backs off, and it
//! reads again from the first offset of the failed batch. Every insert
//! carries a token naming the offset ranges it covers, and every table's
//! sort key holds a deterministic id, so nothing is stored twice.

use crate::config::Config;
use crate::core::Complaint;
use crate::model::{DeadLetter, Decision, Event, SlaEvent};
use crate::sink::clickhouse::rows::{
    ComplaintRecord, DeadLetterRecord, DecisionRecord, EventRecord, SlaRecord,
};
use crate::sink::clickhouse::{Batch, Limits, Warehouse};
use crate::source::kafka::{commit_stored, group_consumer};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Loader failures that stop it (ClickHouse errors are retried instead).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("kafka consumer: {0}")]
    Consumer(#[from] KafkaError),
}

/// Which topic a record came from.
#[derive(Clone, Copy)]
enum Source {
    Input,
    Decisions,
    Sla,
    DeadLetters,
    State,
}

/// First and last offset per topic-partition in the current batch.
type Ranges = BTreeMap<(String, i32), (i64, i64)>;

/// The insert token: a digest of exactly the ranges the batch covers.
fn token(ranges: &Ranges) -> String {
    let mut h = Sha256::new();
    for ((topic, partition), (first, last)) in ranges {
        h.update(format!("{topic}/{partition}/{first}-{last};"));
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Adds the row(s) of one record to the batch; unreadable records are
/// counted and skipped (the live loop already dead-lettered bad input).
fn add(batch: &mut Batch, source: Source, msg: &BorrowedMessage<'_>) {
    let Some(payload) = msg.payload() else {
        return; // a state tombstone: the complaint's row stays as it was
    };
    batch.note(payload.len());
    let position = || format!("{}/{}/{}", msg.topic(), msg.partition(), msg.offset());
    let text = std::str::from_utf8(payload);
    let ok = match (source, text) {
        (_, Err(_)) => false,
        (Source::Input, Ok(t)) => Event::from_json(t)
            .map(|ev| batch.events.push(EventRecord::new(&ev, t, position())))
            .is_ok(),
        (Source::Decisions, Ok(t)) => serde_json::from_str::<Decision>(t)
            .map(|d| batch.decisions.push(DecisionRecord::from(&d)))
            .is_ok(),
        (Source::Sla, Ok(t)) => serde_json::from_str::<SlaEvent>(t)
            .map(|e| batch.sla_events.push(SlaRecord::from(&e)))
            .is_ok(),
        (Source::DeadLetters, Ok(t)) => serde_json::from_str::<DeadLetter>(t)
            .map(|d| batch.dead_letters.push(DeadLetterRecord::from(&d)))
            .is_ok(),
        (Source::State, Ok(t)) => serde_json::from_str::<Complaint>(t)
            .map(|c| batch.complaints.push(ComplaintRecord::from(&c.row())))
            .is_ok(),
    };
    if !ok && !matches!(source, Source::Input) {
        tracing::warn!(
            topic = msg.topic(),
            partition = msg.partition(),
            offset = msg.offset(),
            "unreadable output record skipped"
        );
        metrics::counter!("complaintflow_clickhouse_skipped_total").increment(1);
    }
}

/// Runs until `cancel`; commits stored offsets on the way out.
pub async fn run(cfg: Config, cancel: CancellationToken) -> Result<(), LoadError> {
    let k = &cfg.kafka;
    let group = if cfg.clickhouse.group.is_empty() {
        format!("{}-clickhouse", k.group)
    } else {
        cfg.clickhouse.group.clone()
    };
    let topics = [
        (k.input_topic.as_str(), Source::Input),
        (k.decisions_topic.as_str(), Source::Decisions),
        (k.sla_topic.as_str(), Source::Sla),
        (k.dlq_topic.as_str(), Source::DeadLetters),
        (k.state_topic.as_str(), Source::State),
    ];
    let names: Vec<&str> = topics.iter().map(|(t, _)| *t).collect();
    let consumer = group_consumer(k, &group, &names)?;
    let limits = Limits::from(&cfg.clickhouse);
    let mut warehouse = Warehouse::new(&cfg.clickhouse);
    let mut batch = Batch::default();
    let mut ranges = Ranges::new();
    let mut backoff = Duration::from_millis(500);
    tracing::info!(group, database = %cfg.clickhouse.database, "clickhouse loader started");
    let result = loop {
        let wait = batch.time_left(&limits);
        let msg = tokio::select! {
            biased;
            _ = cancel.cancelled() => break Ok(()),
            m = tokio::time::timeout(wait, consumer.recv()) => m,
        };
        match msg {
            Err(_) => {} // the period ended
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "loader consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Ok(m)) => {
                let source = topics
                    .iter()
                    .find(|(t, _)| *t == m.topic())
                    .map(|(_, s)| *s)
                    .expect("subscribed topics only");
                add(&mut batch, source, &m);
                let r = ranges
                    .entry((m.topic().to_string(), m.partition()))
                    .or_insert((m.offset(), m.offset()));
                r.1 = r.1.max(m.offset());
                batch.note(0);
            }
        }
        if ranges.is_empty() || !batch.full(&limits) {
            continue;
        }
        let tok = token(&ranges);
        match warehouse.insert(&batch, &tok).await {
            Ok(()) => {
                metrics::counter!("complaintflow_clickhouse_rows_total")
                    .increment(batch.rows() as u64);
                tracing::debug!(rows = batch.rows(), token = %tok, "batch stored in clickhouse");
                for ((topic, partition), (_, last)) in &ranges {
                    if let Err(e) = consumer.store_offset(topic, *partition, last + 1) {
                        // Revoked meanwhile: the new owner reads it again,
                        // and the sort keys fold the repeat.
                        tracing::debug!(topic, partition, error = %e, "offset not stored");
                    }
                }
                backoff = Duration::from_millis(500);
            }
            Err(e) => {
                tracing::error!(error = %e, rows = batch.rows(), retry_in_ms = backoff.as_millis() as u64, "clickhouse insert failed; replaying the batch from kafka");
                metrics::counter!("complaintflow_clickhouse_errors_total").increment(1);
                warehouse.reset();
                tokio::select! {
                    _ = cancel.cancelled() => break Ok(()),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                for ((topic, partition), (first, _)) in &ranges {
                    if let Err(e) = consumer.seek(
                        topic,
                        *partition,
                        Offset::Offset(*first),
                        Duration::from_secs(10),
                    ) {
                        tracing::warn!(topic, partition, error = %e, "seek back failed");
                    }
                }
            }
        }
        batch.clear();
        ranges.clear();
    };
    // Rows not yet inserted are read again by the next owner: their offsets
    // were never stored.
    match commit_stored(&consumer) {
        Ok(()) => tracing::info!("loader offsets committed at shutdown"),
        Err(e) => {
            tracing::warn!(error = %e, "loader commit at shutdown failed; those records will be loaded again")
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_exactly_the_ranges() {
        let mut a = Ranges::new();
        a.insert(("in".into(), 0), (5, 9));
        let mut b = a.clone();
        assert_eq!(token(&a), token(&b));
        b.insert(("in".into(), 1), (0, 0));
        assert_ne!(token(&a), token(&b));
        let mut c = a.clone();
        c.insert(("in".into(), 0), (5, 10));
        assert_ne!(token(&a), token(&c));
    }
}
