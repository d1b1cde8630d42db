//! Kafka input: the consumer group (offsets stored by hand, committed on
//! revoke and shutdown; partition progress from the client's statistics)
//! and the state restore that reads a partition of the changelog before its
//! input is processed.

use crate::config::KafkaConfig;
use crate::core::Complaint;
use crate::kafka_client::{client_config, with_options};
use rdkafka::consumer::stream_consumer::StreamPartitionQueue;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// One assigned partition's own message queue (split off the consumer's).
pub type PartitionQueue = StreamPartitionQueue<GroupContext>;

/// Partition changes seen by the rebalance callbacks, for the main loop.
#[derive(Default)]
pub struct Assignment {
    pub assigned: Vec<i32>,
    pub revoked: Vec<i32>,
    /// The group has given this member its share (possibly none).
    pub joined: bool,
    /// Each newly assigned partition's queue, split off in the callback
    /// itself, before its first fetch can put a message on the shared queue.
    pub queues: HashMap<i32, PartitionQueue>,
}

/// Where one assigned partition stands, as the client's statistics last
/// said. Offsets are "next to read"; -1 when not known yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionProgress {
    /// The end the consumer can read to: the last stable offset (the high
    /// watermark outside transactions), from the latest fetch response.
    pub end: i64,
    /// The group's committed offset: every record before it is processed
    /// and will not be delivered again.
    pub committed: i64,
    /// The low watermark (the first record still on the broker).
    pub low: i64,
}

/// How often the client reports its statistics (partition ends and commits).
pub const STATS_INTERVAL_MS: u64 = 250;

/// Consumer context: commits stored offsets before partitions go away,
/// reports assignment changes of one topic, if asked to, and keeps every
/// partition's progress from the statistics.
pub struct GroupContext {
    /// The topic whose partition changes go into `changes`; `None` for a
    /// consumer whose loop does not read them (they would only pile up).
    report: Option<String>,
    pub changes: Arc<Mutex<Assignment>>,
    /// Partition progress by topic and partition; refreshed every
    /// [`STATS_INTERVAL_MS`] without any call to the broker.
    progress: Mutex<HashMap<(String, i32), PartitionProgress>>,
    /// The consumer itself, set once created, to split partition queues;
    /// unset for a consumer that reads everything from the shared queue.
    pub owner: OnceLock<Weak<StreamConsumer<GroupContext>>>,
    /// Called with the revoked partitions before the revoke commits: it
    /// returns once their work in flight stored its offsets (or its own
    /// deadline passed). Unset: nothing is waited for.
    pub on_revoke: OnceLock<RevokeHook>,
}

/// What a revoke waits for; see [`GroupContext::on_revoke`].
pub type RevokeHook = Box<dyn Fn(&[i32]) + Send + Sync>;

impl GroupContext {
    /// The statistics' latest word on one partition, if any yet.
    pub fn progress_of(&self, topic: &str, partition: i32) -> Option<PartitionProgress> {
        let progress = self.progress.lock().expect("not poisoned");
        progress.get(&(topic.to_string(), partition)).copied()
    }

    /// The latest word on every assigned partition.
    pub fn all_progress(&self) -> Vec<PartitionProgress> {
        let progress = self.progress.lock().expect("not poisoned");
        progress.values().copied().collect()
    }

    fn partitions(&self, tpl: &TopicPartitionList) -> Vec<i32> {
        let Some(topic) = &self.report else {
            return Vec::new();
        };
        tpl.elements_for_topic(topic)
            .iter()
            .map(|e| e.partition())
            .collect()
    }
}

impl ClientContext for GroupContext {
    /// The high watermark comes from fetch responses here, so it needs no
    /// blocking broker query (and it is exact on brokers whose offset query
    /// is not: see the README on the test broker).
    fn stats(&self, stats: Statistics) {
        let mut progress = self.progress.lock().expect("not poisoned");
        for (name, topic) in stats.topics {
            for (&id, p) in &topic.partitions {
                // -1 is librdkafka's internal "unassigned" partition.
                if id < 0 || !p.desired {
                    continue;
                }
                let end = if p.ls_offset >= 0 {
                    p.ls_offset
                } else {
                    p.hi_offset
                };
                progress.insert(
                    (name.clone(), id),
                    PartitionProgress {
                        end: end.max(-1),
                        committed: p.committed_offset.max(-1),
                        low: p.lo_offset.max(-1),
                    },
                );
            }
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let parts = self.partitions(tpl);
            // The revoked partitions' batches in flight settle and store
            // their offsets first: committed now, their inputs are not
            // processed again by the next owner (no output twice).
            if let Some(wait) = self.on_revoke.get() {
                wait(&parts);
            }
            // Offsets stored so far belong to outputs already on the broker.
            if let Err(e) = commit_stored(consumer) {
                tracing::warn!(error = %e, "commit on revoke failed; those inputs will be redelivered");
            }
            tracing::info!(partitions = ?parts, count = tpl.count(), "partitions revoked");
            // Progress of a partition owned again later must come from its
            // new fetches, not from this assignment.
            let mut progress = self.progress.lock().expect("not poisoned");
            for e in tpl.elements() {
                progress.remove(&(e.topic().to_string(), e.partition()));
            }
            drop(progress);
            if self.report.is_some() {
                let mut changes = self.changes.lock().expect("not poisoned");
                for p in &parts {
                    changes.queues.remove(p);
                }
                changes.revoked.extend(parts);
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let parts = self.partitions(tpl);
            tracing::info!(partitions = ?parts, count = tpl.count(), "partitions assigned");
            if let Some(topic) = &self.report {
                let owner = self.owner.get().and_then(Weak::upgrade);
                let mut changes = self.changes.lock().expect("not poisoned");
                for &p in &parts {
                    if let Some(q) = owner
                        .as_ref()
                        .and_then(|c| c.split_partition_queue(topic, p))
                    {
                        changes.queues.insert(p, q);
                    }
                }
                changes.assigned.extend(parts);
                changes.joined = true;
            }
        }
    }
}

/// Where a record came from, as dead letters and stored events name it:
/// `topic/partition/offset`.
pub fn source_of(msg: &impl Message) -> String {
    format!("{}/{}/{}", msg.topic(), msg.partition(), msg.offset())
}

/// Commits the stored offsets synchronously; nothing new to commit is fine.
pub fn commit_stored<C: Consumer<X>, X: ConsumerContext>(consumer: &C) -> Result<(), KafkaError> {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => Ok(()),
        other => other,
    }
}

/// A consumer in `group`, subscribed to `topics`; assignment changes of
/// the `report` topic are recorded for the loop.
pub fn group_consumer(
    k: &KafkaConfig,
    group: &str,
    topics: &[&str],
    report: Option<&str>,
) -> Result<StreamConsumer<GroupContext>, KafkaError> {
    let ctx = GroupContext {
        report: report.map(str::to_owned),
        changes: Arc::default(),
        progress: Mutex::default(),
        owner: OnceLock::new(),
        on_revoke: OnceLock::new(),
    };
    let mut c = client_config(k);
    c.set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        // Offsets are stored only after the outputs of a message are durable.
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", k.session_timeout_ms.to_string())
        .set("partition.assignment.strategy", "range")
        .set("statistics.interval.ms", STATS_INTERVAL_MS.to_string());
    let consumer: StreamConsumer<GroupContext> =
        with_options(&mut c, k).create_with_context(ctx)?;
    consumer.subscribe(topics)?;
    Ok(consumer)
}

/// How long no record may arrive before a partition counts as read to its end.
const END_QUIET: Duration = Duration::from_millis(500);

/// Key of the state record holding a partition's event-time watermark (a
/// NUL byte first: no complaint id of the contract starts with one).
pub const WATERMARK_KEY: &str = "\u{0}watermark";

/// The payload of the watermark record.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct WatermarkRecord {
    #[serde(with = "crate::model::time")]
    pub watermark: crate::model::Timestamp,
}

/// A partition's restored state, and how far its input reached then.
pub struct Restored {
    /// The latest state of every complaint in the changelog partition.
    pub states: HashMap<String, Box<Complaint>>,
    /// The partition's event-time watermark: a restart does not move it back.
    pub watermark: Option<crate::model::Timestamp>,
    /// The input partition's high watermark when the restore began: every
    /// input the states reflect lies before it.
    pub input_end: i64,
}

/// Reads one partition of the state changelog to its end: the latest state
/// of every complaint in it (tombstones remove). Works whether or not
/// compaction ever ran. Blocking: call it from a blocking thread.
pub fn restore_partition(
    k: &KafkaConfig,
    partition: i32,
    deadline: Duration,
) -> Result<Restored, KafkaError> {
    let consumer: BaseConsumer = client_config(k)
        .set("group.id", format!("{}.restore", k.group))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()?;
    let (_, input_end) =
        consumer.fetch_watermarks(&k.input_topic, partition, Duration::from_secs(10))?;
    let (low, high) =
        consumer.fetch_watermarks(&k.state_topic, partition, Duration::from_secs(10))?;
    let mut states = HashMap::new();
    let mut watermark = None;
    if high <= low {
        return Ok(Restored {
            states,
            watermark,
            input_end,
        });
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&k.state_topic, partition, Offset::Offset(low))?;
    consumer.assign(&tpl)?;
    let started = Instant::now();
    let mut next = low;
    let mut last_message = Instant::now();
    // The end is the high watermark, and then a quiet spell: some brokers'
    // offset query (Tansu's, after multi-record batches) reports less than
    // the end, so records can lie beyond it.
    while next < high || last_message.elapsed() < END_QUIET {
        if started.elapsed() > deadline {
            return Err(KafkaError::MessageConsumption(
                rdkafka::types::RDKafkaErrorCode::OperationTimedOut,
            ));
        }
        let Some(msg) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let msg = msg?;
        last_message = Instant::now();
        next = next.max(msg.offset() + 1);
        let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) else {
            continue;
        };
        if key == WATERMARK_KEY {
            watermark = msg
                .payload()
                .and_then(|b| serde_json::from_slice::<WatermarkRecord>(b).ok())
                .map(|w| w.watermark)
                .max(watermark);
            continue;
        }
        match msg.payload() {
            None => {
                states.remove(key);
            }
            Some(bytes) => match crate::core::changelog::decode(bytes) {
                Ok(c) => {
                    states.insert(key.to_string(), c);
                }
                Err(e) => {
                    tracing::error!(key, partition, error = %e, "unreadable state record skipped; that complaint restarts from its next event")
                }
            },
        }
    }
    Ok(Restored {
        states,
        watermark,
        input_end,
    })
}
