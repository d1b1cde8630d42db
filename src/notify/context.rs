//! What messages say beside the SLA event: each complaint's category (from
//! the decisions topic) and summary (from `complaint.received` on the input
//! topic). Read by a consumer of its own from `context_hours` back, with no
//! group and no commits: the context is rebuilt at every start, and an SLA
//! event's offset never waits for it.

use super::message::{Context, summary_of};
use crate::config::KafkaConfig;
use crate::kafka_client::client_config;
use crate::model::Decision;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The complaints' context, the oldest dropped beyond its capacity.
#[derive(Debug)]
pub struct Contexts {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, Context>,
    order: VecDeque<String>,
}

impl Contexts {
    pub fn new(capacity: usize) -> Contexts {
        Contexts {
            inner: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    fn update(&self, complaint_id: &str, change: impl FnOnce(&mut Context)) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if !inner.map.contains_key(complaint_id) {
            if inner.order.len() >= self.capacity
                && let Some(old) = inner.order.pop_front()
            {
                inner.map.remove(&old);
            }
            inner.order.push_back(complaint_id.to_string());
        }
        change(inner.map.entry(complaint_id.to_string()).or_default());
    }

    pub fn get(&self, complaint_id: &str) -> Option<Context> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.map.get(complaint_id).cloned()
    }

    /// Takes one record of the decisions or the input topic.
    pub fn take(&self, decisions_topic: bool, payload: &[u8]) {
        if decisions_topic {
            if let Ok(d) = serde_json::from_slice::<Decision>(payload) {
                self.update(&d.complaint_id, |c| c.category = Some(d.category));
            }
            return;
        }
        #[derive(serde::Deserialize)]
        struct Received<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            complaint_id: String,
            #[serde(default)]
            description: String,
        }
        // Invalid input is the service's business (its dead letters): here
        // it only has no summary.
        if let Ok(r) = serde_json::from_slice::<Received>(payload)
            && r.kind == "complaint.received"
        {
            let summary = summary_of(&r.description);
            self.update(&r.complaint_id, |c| c.summary = Some(summary));
        }
    }
}

/// Reads the two topics from `hours` back until `cancel`; `caught_up` is
/// cancelled once the records there at start have been read (or the
/// topics said nothing for a while).
pub async fn follow(
    k: KafkaConfig,
    hours: u32,
    contexts: std::sync::Arc<Contexts>,
    caught_up: CancellationToken,
    cancel: CancellationToken,
) -> Result<(), rdkafka::error::KafkaError> {
    let mut c = client_config(&k);
    c.set("group.id", format!("{}-notify-context", k.group))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    let consumer: std::sync::Arc<StreamConsumer> = std::sync::Arc::new(c.create()?);
    let topics = [k.decisions_topic.clone(), k.input_topic.clone()];
    let start = chrono::Utc::now().timestamp_millis() - i64::from(hours) * 3_600_000;
    let assign = consumer.clone();
    // Metadata and offset lookups block: not on an async worker.
    tokio::task::spawn_blocking(move || starting_points(&assign, &topics, start))
        .await
        .map_err(|_| rdkafka::error::KafkaError::Canceled)??;
    let quiet = Duration::from_millis(1500);
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            m = tokio::time::timeout(quiet, consumer.recv()) => m,
        };
        match next {
            // Nothing for a while: what was there at start is read.
            Err(_) => caught_up.cancel(),
            Ok(Ok(m)) => {
                if let Some(p) = m.payload() {
                    contexts.take(m.topic() == k.decisions_topic, p);
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "reading the complaints' context");
                caught_up.cancel();
            }
        }
    }
}

fn starting_points(
    consumer: &StreamConsumer,
    topics: &[String; 2],
    start_ms: i64,
) -> Result<(), rdkafka::error::KafkaError> {
    let timeout = Duration::from_secs(10);
    let mut wanted = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
        for t in metadata.topics() {
            for p in t.partitions() {
                wanted.add_partition_offset(topic, p.id(), Offset::Offset(start_ms))?;
            }
        }
    }
    // Offsets by time: the first record at or after `start_ms`, or the end.
    let mut at = consumer.offsets_for_times(wanted, timeout)?;
    let unknown: Vec<(String, i32)> = at
        .elements()
        .iter()
        .filter(|e| matches!(e.offset(), Offset::Invalid | Offset::End))
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect();
    for (topic, partition) in unknown {
        at.set_partition_offset(&topic, partition, Offset::End)?;
    }
    consumer.assign(&at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_complaint_goes_first_and_summaries_are_masked() {
        let c = Contexts::new(2);
        let received = |id: &str| {
            format!(
                r#"{{"type":"complaint.received","complaint_id":"{id}","description":"断网了 13812345678"}}"#
            )
        };
        c.take(false, received("A").as_bytes());
        c.take(false, received("B").as_bytes());
        c.take(false, received("C").as_bytes());
        assert!(c.get("A").is_none());
        assert_eq!(c.get("C").unwrap().summary.as_deref(), Some("断网了 ***"));
        c.take(false, b"not json");
        assert!(c.get("B").is_some());
    }
}
