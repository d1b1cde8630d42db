//! The input positions a piece of work covers. They travel with the work:
//! taken with its records at the source, handed on with its outputs, and
//! stored for the next commit only once the sink acknowledged them (or
//! rewound, to do the work again, when it failed). The live engine and the
//! ClickHouse loader both carry them.

use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// Per topic-partition: the first offset covered and the next one to read
/// once the work is durable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Covered(BTreeMap<(String, i32), (i64, i64)>);

impl Covered {
    /// Nothing read, but `next` may be stored (work that frees a position
    /// without new records, e.g. held events given up on).
    pub fn position(topic: &str, partition: i32, next: i64) -> Covered {
        let mut c = Covered::default();
        c.0.insert((topic.to_string(), partition), (next, next));
        c
    }

    /// Adds the record at `offset`.
    pub fn record(&mut self, topic: &str, partition: i32, offset: i64) {
        let next = offset.saturating_add(1);
        let r = self
            .0
            .entry((topic.to_string(), partition))
            .or_insert((offset, next));
        r.0 = r.0.min(offset);
        r.1 = r.1.max(next);
    }

    /// Stores no further than `next` on one partition: a record before it
    /// (a held event) must be read again after a restart.
    pub fn cap(&mut self, topic: &str, partition: i32, next: i64) {
        if let Some(r) = self.0.get_mut(&(topic.to_string(), partition)) {
            r.1 = r.1.min(next);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the record at `offset` lies in the ranges covered.
    pub fn contains(&self, topic: &str, partition: i32, offset: i64) -> bool {
        self.0
            .get(&(topic.to_string(), partition))
            .is_some_and(|(first, next)| (*first..*next).contains(&offset))
    }

    /// A digest of exactly the ranges covered: the insert token of a
    /// ClickHouse batch (the same records give the same token).
    pub fn token(&self) -> String {
        let mut h = Sha256::new();
        for ((topic, partition), (first, next)) in &self.0 {
            let last = next.saturating_sub(1);
            h.update(format!("{topic}/{partition}/{first}-{last};"));
        }
        h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Stores each partition's next offset for the next commit. A partition
    /// revoked meanwhile is skipped: its next owner reads it again.
    pub fn store<C: ConsumerContext>(&self, consumer: &StreamConsumer<C>) {
        for ((topic, partition), (_, next)) in &self.0 {
            match store_next(consumer, topic, *partition, *next) {
                Ok(()) => tracing::debug!(topic, partition, next, "offset stored"),
                Err(e) => tracing::debug!(topic, partition, error = %e, "offset not stored"),
            }
        }
    }

    /// Moves the consumer back to each partition's first offset, so the
    /// records are read again. Blocking: from a blocking context.
    pub fn rewind<C: ConsumerContext>(&self, consumer: &StreamConsumer<C>) {
        for ((topic, partition), (first, _)) in &self.0 {
            let at = Offset::Offset(*first);
            if let Err(e) = consumer.seek(topic, *partition, at, Duration::from_secs(10)) {
                tracing::warn!(topic, partition, error = %e, "seek back failed");
            }
        }
    }
}

/// Stores `next` (the offset of the next record to read) as the partition's
/// offset for the next commit. `rd_kafka_offsets_store` takes the next
/// offset as it is; the single-offset `store_offset` would add one itself.
fn store_next<C: ConsumerContext>(
    consumer: &StreamConsumer<C>,
    topic: &str,
    partition: i32,
    next: i64,
) -> Result<(), KafkaError> {
    let mut tpl = TopicPartitionList::with_capacity(1);
    tpl.add_partition_offset(topic, partition, Offset::Offset(next))?;
    consumer.store_offsets(&tpl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_names_exactly_the_ranges() {
        let mut a = Covered::default();
        a.record("in", 0, 5);
        a.record("in", 0, 9);
        let mut b = a.clone();
        assert_eq!(a.token(), b.token());
        b.record("in", 1, 0);
        assert_ne!(a.token(), b.token());
        let mut c = a.clone();
        c.record("in", 0, 10);
        assert_ne!(a.token(), c.token());
    }

    #[test]
    fn a_batch_read_again_record_by_record_is_the_same_batch_and_token() {
        // What the ClickHouse loader relies on to cut a re-read batch as the
        // failed one: the records within its ranges, and only those.
        let mut failed = Covered::default();
        for (p, o) in [(0, 10), (1, 3), (0, 11), (0, 12), (1, 4)] {
            failed.record("out", p, o);
        }
        let mut again = Covered::default();
        let arrivals = [(1, 3), (0, 10), (2, 0), (1, 4), (0, 11), (0, 13), (0, 12)];
        let beyond: Vec<(i32, i64)> = arrivals
            .into_iter()
            .filter(|&(p, o)| {
                let within = failed.contains("out", p, o);
                if within {
                    again.record("out", p, o);
                }
                !within
            })
            .collect();
        assert_eq!(beyond, [(2, 0), (0, 13)], "held for the next batch");
        assert_eq!(again, failed);
        assert_eq!(again.token(), failed.token());
    }

    #[test]
    fn a_cap_holds_the_stored_position_back_and_a_position_covers_no_record() {
        let mut a = Covered::default();
        for o in 3..8 {
            a.record("in", 2, o);
        }
        assert_eq!(a.0[&("in".to_string(), 2)], (3, 8));
        a.cap("in", 2, 5);
        assert_eq!(a.0[&("in".to_string(), 2)], (3, 5));
        a.cap("in", 9, 1); // not covered: nothing to cap
        assert_eq!(a.0.len(), 1);
        let p = Covered::position("in", 0, 42);
        assert_eq!(p.0[&("in".to_string(), 0)], (42, 42));
    }
}
