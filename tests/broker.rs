//! What the test broker does, checked with plain librdkafka clients (no
//! complaintflow code), so the README's notes on it stay true: where it
//! behaves as Kafka does, and the one place where it does not.

mod support;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

/// Keeps the high watermark the client's statistics report (fetch responses).
#[derive(Default, Clone)]
struct HighFromFetch(Arc<Mutex<i64>>);

impl ClientContext for HighFromFetch {
    fn stats(&self, s: Statistics) {
        for t in s.topics.values() {
            if let Some(p) = t.partitions.get(&0) {
                *self.0.lock().unwrap() = p.hi_offset;
            }
        }
    }
}
impl ConsumerContext for HighFromFetch {}

fn consumer(group: &str, ctx: HighFromFetch) -> BaseConsumer<HighFromFetch> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "100")
        .set("session.timeout.ms", "6000")
        .create_with_context(ctx)
        .unwrap()
}

/// Reads partition 0 from `from` until nothing comes for a second.
fn read_from(c: &BaseConsumer<HighFromFetch>, topic: &str, from: i64) -> Vec<i64> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(from))
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(1) {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            got.push(m.offset());
            last = Instant::now();
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_broker_is_kafka_but_for_its_offset_query_after_multi_record_batches() {
    let topic = format!("broker-facts-{}", std::process::id());
    create_topic(&topic, 1);
    // Two batches of three records each, the second sent while the first
    // may still be in flight (offsets must not overlap).
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("linger.ms", "50")
        .create()
        .unwrap();
    let mut delivered = Vec::new();
    for batch in 0..2 {
        let sends: Vec<_> = (0..3)
            .map(|i| {
                let payload = format!("{batch}-{i}");
                let producer = &producer;
                let topic = &topic;
                async move {
                    let rec: FutureRecord<'_, str, str> =
                        FutureRecord::to(topic).key("k").payload(&payload);
                    producer
                        .send(rec, Duration::from_secs(10))
                        .await
                        .unwrap()
                        .offset
                }
            })
            .collect();
        delivered.extend(futures::future::join_all(sends).await);
    }
    delivered.sort();
    assert_eq!(
        delivered,
        [0, 1, 2, 3, 4, 5],
        "offsets given to the records"
    );

    let high = HighFromFetch::default();
    let c = consumer(&format!("{topic}.g"), high.clone());
    assert_eq!(read_from(&c, &topic, 0), [0, 1, 2, 3, 4, 5]);
    std::thread::sleep(Duration::from_millis(300));
    let _ = c.poll(Duration::from_millis(100)); // serves the statistics
    // The high watermark in fetch responses is exact (complaintflow's
    // caught-up test uses it) ...
    assert_eq!(*high.0.lock().unwrap(), 6, "high watermark from fetches");
    // ... the offset query (ListOffsets) is not: after multi-record
    // batches it reports less than the end, where Kafka reports 6.
    let (_, queried) = c
        .fetch_watermarks(&topic, 0, Duration::from_secs(5))
        .unwrap();
    assert!(
        queried < 6,
        "the offset query now says {queried}: update the README"
    );

    // A group resumes exactly at its committed offset, as on Kafka.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(2))
        .unwrap();
    c.commit(&tpl, CommitMode::Sync).unwrap();
    drop(c);
    let again = consumer(&format!("{topic}.g"), HighFromFetch::default());
    again.subscribe(&[&topic]).unwrap();
    let start = Instant::now();
    let first = loop {
        if let Some(Ok(m)) = again.poll(Duration::from_millis(100)) {
            break m.offset();
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "nothing read after the commit"
        );
    };
    assert_eq!(first, 2, "resumed at the committed offset");
}
