//! `complaintflow produce`: publishes a JSONL file of events to the input
//! topic, keyed by `complaint_id`, for adapters, tests and the compose
//! demo. Each line is checked as the service would admit it (as `validate`
//! does); bad lines are reported, not sent.

use crate::config::KafkaConfig;
use crate::core::SlaPolicy;
use crate::sink::kafka::{self, KafkaSinkError, OutRecord};
use crate::source::file::JsonlLines;
use std::io::BufRead;

/// Produce failures: the input unreadable, or the broker not taking records
/// (retriable: run it again; records are keyed, consumers deduplicate by
/// `event_id`).
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("reading the input: {0}")]
    Input(#[from] std::io::Error),
    #[error(transparent)]
    Kafka(#[from] KafkaSinkError),
    #[error("kafka: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    pub lines: usize,
    pub sent: usize,
    /// `(line, reason)` of every line not sent.
    pub bad: Vec<(u64, String)>,
}

/// Sends the good lines of `reader` in batches, each acknowledged by the
/// broker before the next; `on_bytes` gets the bytes read per line.
pub async fn produce(
    reader: impl BufRead,
    k: &KafkaConfig,
    policy: &SlaPolicy,
    mut on_bytes: impl FnMut(u64),
) -> Result<Report, ProduceError> {
    // The topics first, with the configured partitions: a broker that
    // auto-creates topics would otherwise make the input with its own
    // default count, and every later topic would follow it. This also
    // reports a refused login or certificate at once, with its cause.
    kafka::ensure_topics(k).await?;
    let producer = kafka::producer(k)?;
    let now = chrono::Utc::now();
    let mut report = Report::default();
    let mut batch = Vec::new();
    for line in JsonlLines::new(reader) {
        let line = line?;
        on_bytes(line.bytes);
        report.lines += 1;
        let bytes = match &line.text {
            Ok(t) => t.as_bytes(),
            Err(b) => b.as_slice(),
        };
        match crate::core::admit(bytes, now, policy) {
            Err(r) => report.bad.push((line.number, r.to_string())),
            Ok((text, ev)) => batch.push(OutRecord {
                topic: k.input_topic.clone(),
                key: ev.complaint_id,
                payload: Some(text.as_bytes().to_vec()),
                partition: None,
            }),
        }
        if batch.len() >= 1000 {
            kafka::send_all(&producer, &batch).await?;
            report.sent += batch.len();
            batch.clear();
        }
    }
    kafka::send_all(&producer, &batch).await?;
    report.sent += batch.len();
    Ok(report)
}
