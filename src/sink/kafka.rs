//! Kafka outputs: an idempotent producer, topic creation, and sending a
//! batch of records with every delivery confirmed before offsets move.

use super::{OutputSink, SinkError};
use crate::config::KafkaConfig;
use crate::core::Output;
use crate::kafka_client::{client_config, with_options};
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::time::{Duration, Instant};

/// Kafka failures. `Kafka` ones (broker unreachable, timeouts) are
/// retriable: the service stops without storing offsets, so nothing is lost,
/// and a restart resumes. Missing or uncreatable topics are fatal until the
/// configuration or the cluster is fixed.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSinkError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The brokers could not be reached; `cause` is what librdkafka last
    /// reported (the reason, e.g. a refused SASL login or TLS handshake).
    #[error("kafka: cannot reach the brokers ({error}): {cause}")]
    Unreachable { error: KafkaError, cause: String },
    #[error("topics missing and kafka.create_topics = false: {0}")]
    TopicsMissing(String),
    #[error("could not create topic {topic}: {code}")]
    CreateTopic { topic: String, code: String },
    #[error(
        "state topic `{state}` has {have} partitions but input topic `{input}` has {want}; \
         state partition N holds the complaints of input partition N, so the counts must match. \
         Give the state topic {want} partitions (e.g. `kafka-topics.sh --bootstrap-server BROKERS \
         --alter --topic {state} --partitions {want}`) and start again{why}"
    )]
    StatePartitions {
        state: String,
        input: String,
        have: usize,
        want: usize,
        /// Why `run` did not add them itself.
        why: String,
    },
}

/// The output producer: idempotent, all in-sync replicas acknowledge.
pub fn producer(k: &KafkaConfig) -> Result<FutureProducer, KafkaError> {
    let mut c = client_config(k);
    c.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        // Surface a stuck broker within the drain deadline, not after 5 min.
        .set("message.timeout.ms", "30000");
    with_options(&mut c, k).create()
}

/// One output record.
#[derive(Debug, Clone, PartialEq)]
pub struct OutRecord {
    pub topic: String,
    pub key: String,
    /// `None` is a tombstone (compacted state topic).
    pub payload: Option<Vec<u8>>,
    /// Explicit partition (state is co-partitioned with the input).
    pub partition: Option<i32>,
}

/// Outputs as records of the output topics, gathered for one send:
/// decisions, SLA events, dead letters and complaint rows, each keyed by
/// its complaint (a dead letter that names none: by its source).
pub struct Records<'k> {
    topics: &'k KafkaConfig,
    pub records: Vec<OutRecord>,
}

impl<'k> Records<'k> {
    pub fn new(topics: &'k KafkaConfig) -> Records<'k> {
        Records {
            topics,
            records: Vec::new(),
        }
    }

    fn push<T: serde::Serialize>(
        &mut self,
        topic: &str,
        key: &str,
        v: &T,
    ) -> Result<(), SinkError> {
        let payload = serde_json::to_vec(v).map_err(|e| SinkError::Encode(e.to_string()))?;
        self.records.push(OutRecord {
            topic: topic.to_string(),
            key: key.to_string(),
            payload: Some(payload),
            partition: None,
        });
        Ok(())
    }
}

impl OutputSink for Records<'_> {
    fn put(&mut self, o: &Output) -> Result<(), SinkError> {
        let t = self.topics;
        match o {
            Output::Decision(d) => self.push(&t.decisions_topic, &d.complaint_id, d),
            Output::Sla(e) => self.push(&t.sla_topic, &e.complaint_id, e),
            Output::DeadLetter(r) => {
                let key = r.complaint_id.as_deref().unwrap_or(&r.letter.source);
                self.push(&t.dlq_topic, key, &r.letter)
            }
            Output::Complaint(row) => self.push(&t.status_topic, &row.complaint_id, row),
            // Accepted events are on the input topic already.
            Output::Event(_) | Output::Changed(_) => Ok(()),
        }
    }
    /// The records are sent by the caller ([`send_all`]).
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// How long the local queue may stay full before a send gives up.
const QUEUE_FULL_DEADLINE: Duration = Duration::from_secs(30);

/// Sends all records and waits until the broker acknowledged every one.
/// Every record is queued first and the acknowledgements are awaited in
/// order afterwards: no per-record send task, no `join_all` bookkeeping.
pub async fn send_all(
    producer: &FutureProducer,
    records: &[OutRecord],
) -> Result<(), KafkaSinkError> {
    let mut acks = Vec::with_capacity(records.len());
    for r in records {
        let mut rec: FutureRecord<'_, str, [u8]> = FutureRecord::to(&r.topic).key(&r.key);
        if let Some(p) = &r.payload {
            rec = rec.payload(p.as_slice());
        }
        if let Some(p) = r.partition {
            rec = rec.partition(p);
        }
        let queued = Instant::now();
        loop {
            match producer.send_result(rec) {
                Ok(ack) => break acks.push(ack),
                // A full local queue drains as the broker acknowledges.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if queued.elapsed() < QUEUE_FULL_DEADLINE =>
                {
                    rec = back;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }
    for ack in acks {
        match ack.await {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => return Err(e.into()),
            // The producer went away before reporting: not delivered.
            Err(_) => return Err(KafkaError::Canceled.into()),
        }
    }
    Ok(())
}

/// The first round trip to the cluster. When it fails, the error names what
/// librdkafka saw on the way (a refused login, an untrusted certificate),
/// not only the timeout that followed.
pub fn first_metadata(
    config: &ClientConfig,
) -> Result<rdkafka::metadata::Metadata, KafkaSinkError> {
    use rdkafka::producer::BaseProducer;
    let client: BaseProducer<LastError> = config.create_with_context(LastError::default())?;
    match client
        .client()
        .fetch_metadata(None, Duration::from_secs(10))
    {
        Ok(m) => Ok(m),
        Err(e) => {
            // Serves the queued error events into `LastError`.
            client.poll(Duration::from_millis(100));
            match client.context().take() {
                Some(cause) => Err(KafkaSinkError::Unreachable { error: e, cause }),
                None => Err(e.into()),
            }
        }
    }
}

/// Remembers the most telling error librdkafka reported on a client.
#[derive(Default)]
struct LastError(std::sync::Mutex<Option<String>>);

impl LastError {
    fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut e| e.take())
    }
}

impl rdkafka::producer::ProducerContext for LastError {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: ()) {}
}

impl rdkafka::ClientContext for LastError {
    /// librdkafka logs these itself; "all brokers are down" follows the
    /// error that says why, so it does not replace it.
    fn error(&self, error: KafkaError, reason: &str) {
        let generic = error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown);
        if let Ok(mut last) = self.0.lock()
            && (!generic || last.is_none())
        {
            *last = Some(reason.to_string());
        }
    }
}

/// Creates the topics that do not exist yet, or refuses when not allowed.
/// The state topic is compacted and has as many partitions as the input
/// topic has on the broker (`kafka.partitions` only when both are new); a
/// state topic with fewer is given more, or `run` refuses to start.
/// Returns the state topic's partition count.
pub async fn ensure_topics(k: &KafkaConfig) -> Result<usize, KafkaSinkError> {
    let admin: AdminClient<DefaultClientContext> = client_config(k).create()?;
    // A broker round trip: on a blocking thread, not on an async worker.
    let config = client_config(k);
    let metadata = tokio::task::spawn_blocking(move || first_metadata(&config))
        .await
        .map_err(|_| KafkaError::Canceled)??;
    let partitions = |name: &str| {
        metadata
            .topics()
            .iter()
            .find(|t| t.name() == name && !t.partitions().is_empty())
            .map(|t| t.partitions().len())
    };
    let configured = usize::try_from(k.partitions).unwrap_or(1);
    let input_partitions = partitions(&k.input_topic).unwrap_or(configured);
    let wanted = [
        &k.input_topic,
        &k.decisions_topic,
        &k.sla_topic,
        &k.dlq_topic,
        &k.status_topic,
        &k.state_topic,
    ];
    let missing: Vec<&String> = wanted
        .into_iter()
        .filter(|t| partitions(t).is_none())
        .collect();
    if !missing.is_empty() && !k.create_topics {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Err(KafkaSinkError::TopicsMissing(names.join(", ")));
    }
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let new: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|t| {
            if *t == &k.state_topic {
                let n = i32::try_from(input_partitions).unwrap_or(k.partitions);
                NewTopic::new(t, n, TopicReplication::Fixed(k.replication))
                    .set("cleanup.policy", "compact")
            } else if *t == &k.status_topic {
                // The latest row per complaint is what it is read for.
                NewTopic::new(t, k.partitions, TopicReplication::Fixed(k.replication))
                    .set("cleanup.policy", "compact")
            } else {
                NewTopic::new(t, k.partitions, TopicReplication::Fixed(k.replication))
            }
        })
        .collect();
    if !new.is_empty() {
        for r in admin.create_topics(new.iter(), &options).await? {
            match r {
                Ok(topic) => tracing::info!(topic, "created topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(KafkaSinkError::CreateTopic {
                        topic,
                        code: code.to_string(),
                    });
                }
            }
        }
    }
    let Some(have) = partitions(&k.state_topic) else {
        return Ok(input_partitions); // just created with the input's count
    };
    if have >= input_partitions {
        return Ok(have);
    }
    let refuse = |why: String| KafkaSinkError::StatePartitions {
        state: k.state_topic.clone(),
        input: k.input_topic.clone(),
        have,
        want: input_partitions,
        why,
    };
    if !k.create_topics {
        return Err(refuse(" (kafka.create_topics = false)".into()));
    }
    let more = NewPartitions::new(&k.state_topic, input_partitions);
    let result = match admin.create_partitions([&more], &options).await {
        Ok(mut results) => results
            .pop()
            .map_or(Ok(()), |r| r.map(|_| ()).map_err(|(_, c)| c.to_string())),
        Err(e) => Err(e.to_string()),
    };
    match result {
        // New state partitions start empty, as their input partitions never
        // had state written. Complaints whose events moved to another
        // input partition when the input grew cannot be followed there.
        Ok(()) => {
            tracing::warn!(topic = %k.state_topic, from = have, to = input_partitions,
                "state topic given as many partitions as the input topic");
            Ok(input_partitions)
        }
        Err(reason) => Err(refuse(format!(
            "; the broker refused to add them: {reason}"
        ))),
    }
}

/// Creates one topic when missing and allowed (`kafka.create_topics`),
/// for a service with an output of its own (the notifier's dead letters).
pub async fn ensure_topic(k: &KafkaConfig, topic: &str) -> Result<(), KafkaError> {
    if !k.create_topics {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = client_config(k).create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let new = NewTopic::new(topic, k.partitions, TopicReplication::Fixed(k.replication));
    for r in admin.create_topics([&new], &options).await? {
        match r {
            Ok(topic) => tracing::info!(topic, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => tracing::warn!(topic, %code, "topic not created"),
        }
    }
    Ok(())
}

/// Flushes the producer at shutdown.
pub fn flush(producer: &FutureProducer, within: Duration) {
    if let Err(e) = producer.flush(within) {
        tracing::warn!(error = %e, "producer flush at shutdown did not finish");
    }
}
