//! Helpers the Kafka-using benchmarks share.
#![allow(dead_code)]

use complaintflow::config::KafkaConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

/// Topics named `{prefix}.events` and so on, created on `brokers`.
pub async fn topics(brokers: &str, prefix: &str, partitions: i32) -> KafkaConfig {
    let mut k = KafkaConfig {
        brokers: brokers.to_string(),
        group: prefix.to_string(),
        partitions,
        ..KafkaConfig::default()
    };
    k.input_topic = format!("{prefix}.events");
    k.decisions_topic = format!("{prefix}.decisions");
    k.sla_topic = format!("{prefix}.sla");
    k.dlq_topic = format!("{prefix}.dlq");
    k.status_topic = format!("{prefix}.status");
    k.state_topic = format!("{prefix}.state");
    complaintflow::sink::kafka::ensure_topics(&k)
        .await
        .expect("topics");
    k
}

/// The `complaint_id` of a JSON line, or "" (the record's key).
pub fn key_of(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v["complaint_id"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Produces `(topic, key, payload)` records, 10,000 at a time.
pub async fn produce(brokers: &str, records: &[(&str, String, Vec<u8>)]) {
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "10")
        .create()
        .unwrap();
    for chunk in records.chunks(10_000) {
        let sends = chunk.iter().map(|(topic, key, payload)| {
            let producer = &producer;
            async move {
                let rec: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic)
                    .key(key.as_str())
                    .payload(payload.as_slice());
                producer
                    .send(rec, Duration::from_secs(30))
                    .await
                    .map_err(|(e, _)| e)
                    .expect("produced");
            }
        });
        futures::future::join_all(sends).await;
    }
}
