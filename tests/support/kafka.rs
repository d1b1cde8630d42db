//! Plain broker clients for the tests: topics, producing, reading back, commits.

use super::*;

/// Creates a topic (blocking), as an operator would before starting.
pub fn create_topic(topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = test_client().create().unwrap();
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results =
        futures::executor::block_on(admin.create_topics([&new], &AdminOptions::new())).unwrap();
    for r in results {
        r.unwrap();
    }
}

/// Partitions of a topic, from the broker's metadata.
pub fn partitions_of(topic: &str) -> i32 {
    let consumer: BaseConsumer = test_client().create().unwrap();
    let meta = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    meta.topics()[0].partitions().len() as i32
}

/// Produces lines to the input topic, keyed by complaint id.
pub async fn produce(topic: &str, lines: &[String]) {
    // One record per batch: after a multi-record batch the test broker's
    // offset query reports less than the end (tests/broker.rs), and readers
    // of the input (read_topic, the service's restore) use that query.
    let producer: FutureProducer = test_client()
        .set("batch.num.messages", "1")
        .create()
        .unwrap();
    let sends = lines.iter().map(|line| {
        let key = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v["complaint_id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let producer = &producer;
        async move {
            let rec: FutureRecord<'_, str, str> = FutureRecord::to(topic)
                .key(key.as_str())
                .payload(line.as_str());
            producer
                .send(rec, Duration::from_secs(10))
                .await
                .map_err(|(e, _)| e)
                .unwrap();
        }
    });
    futures::future::join_all(sends).await;
}

/// Produces raw records in order, one at a time (any bytes, up to 3 MB;
/// key: the `complaint_id` when there is one).
pub async fn produce_bytes(topic: &str, records: &[Vec<u8>]) {
    let producer: FutureProducer = test_client()
        .set("batch.num.messages", "1")
        .set("message.max.bytes", "3000000")
        .create()
        .unwrap();
    for r in records {
        let key = serde_json::from_slice::<serde_json::Value>(r)
            .ok()
            .and_then(|v| v["complaint_id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let rec: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic).key(key.as_str()).payload(r);
        producer
            .send(rec, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
}

/// Reads every message of a topic (all partitions) from the beginning.
pub fn read_topic(topic: &str) -> Vec<Vec<u8>> {
    read_partitions(topic).into_values().flatten().collect()
}

/// Every message of a topic, by partition, each in offset order.
pub fn read_partitions(topic: &str) -> std::collections::BTreeMap<i32, Vec<Vec<u8>>> {
    read_records(topic)
        .into_iter()
        .map(|(p, records)| (p, records.into_iter().map(|(_, payload)| payload).collect()))
        .collect()
}

/// Every record of a topic with its timestamp (ms), by partition.
pub fn read_records(topic: &str) -> std::collections::BTreeMap<i32, Vec<(i64, Vec<u8>)>> {
    let consumer: BaseConsumer = test_client()
        .set("group.id", format!("{topic}.reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let meta = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    let mut ends: HashMap<i32, (i64, i64)> = HashMap::new();
    for p in meta.topics()[0].partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
            .unwrap();
        if high > low {
            tpl.add_partition_offset(topic, p.id(), Offset::Offset(low))
                .unwrap();
            ends.insert(p.id(), (low, high));
        }
    }
    let mut out = std::collections::BTreeMap::new();
    if ends.is_empty() {
        return out;
    }
    consumer.assign(&tpl).unwrap();
    // To the high watermark and then a quiet spell: after a multi-record
    // batch, the test broker's offset query reports less than the end
    // (tests/broker.rs), and the service's output is batched.
    let start = Instant::now();
    let mut last = Instant::now();
    while (ends.values().any(|(next, high)| next < high)
        || last.elapsed() < Duration::from_millis(700))
        && start.elapsed() < Duration::from_secs(30)
    {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            last = Instant::now();
            if let Some(e) = ends.get_mut(&m.partition())
                && m.offset() >= e.0
            {
                e.0 = m.offset() + 1;
                let at = m.timestamp().to_millis().unwrap_or(0);
                out.entry(m.partition())
                    .or_insert_with(Vec::new)
                    .push((at, m.payload().unwrap_or_default().to_vec()));
            }
        }
    }
    out
}

/// Output records of a topic by their id field; panics if one id has two contents.
pub fn by_id(topic: &str, id_field: &str) -> HashMap<String, serde_json::Value> {
    let mut map = HashMap::new();
    for bytes in read_topic(topic) {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let id = v[id_field].as_str().unwrap().to_string();
        if let Some(old) = map.insert(id.clone(), v.clone()) {
            assert_eq!(old, v, "output id {id} appears with different content");
        }
    }
    map
}

/// The offsets `group` has committed on `topic`, by partition (records
/// before them are done); partitions without a commit are left out.
pub fn committed(group: &str, topic: &str) -> HashMap<i32, i64> {
    let partitions = partitions_of(topic);
    let consumer: BaseConsumer = test_client()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    got.elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}
