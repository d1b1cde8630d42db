//! One input partition's engine and clock, and what its share of a batch
//! produces. Partitions share nothing, so a batch's shares run in parallel.

use crate::config::KafkaConfig;
use crate::core::{
    Applied, Clock, Engine, Output, Rules, Stream, WallClock, changelog, seconds_before,
};
use crate::model::Timestamp;
use crate::sink::kafka::{OutRecord, Records};
use crate::sink::observed::Observed;
use crate::sink::{OutputSink, SinkError};
use crate::source::kafka::{WATERMARK_KEY, WatermarkRecord, source_of};
use rdkafka::Message;
use std::collections::HashSet;
use std::sync::Arc;

/// The records one partition produced: outputs through the observed
/// Kafka sink, and the complaints whose state changed (their state records
/// and rows are added by [`Partition::finish`]).
pub(super) struct Produced<'k> {
    out: Vec<Output>,
    sink: Observed<Records<'k>>,
    changed: HashSet<Arc<str>>,
}

impl<'k> Produced<'k> {
    pub fn new(k: &'k KafkaConfig) -> Produced<'k> {
        Produced {
            out: Vec::new(),
            sink: Observed(Records::new(k)),
            changed: HashSet::new(),
        }
    }

    /// The records gathered.
    pub fn records(&self) -> &[OutRecord] {
        &self.sink.0.records
    }

    pub fn into_records(self) -> Vec<OutRecord> {
        self.sink.0.records
    }

    /// Puts the step's outputs, noting the changed complaints.
    fn put_all(&mut self) -> Result<(), SinkError> {
        for o in self.out.drain(..) {
            if let Output::Changed(id) = &o {
                self.changed.insert(id.clone());
            }
            self.sink.put(&o)?;
        }
        Ok(())
    }

    fn state(&mut self, k: &KafkaConfig, key: &str, payload: Option<Vec<u8>>, partition: i32) {
        self.sink.0.records.push(OutRecord {
            topic: k.state_topic.clone(),
            key: key.to_string(),
            payload,
            partition: Some(partition),
        });
    }
}

pub(super) struct Partition {
    /// The shared event step: engine and event-time clock.
    pub stream: Stream,
    /// The watermark last written to the changelog.
    written: Option<Timestamp>,
}

impl Partition {
    /// A partition's engine, with its clock where it stood (restored).
    pub fn new(engine: Engine, watermark: Option<Timestamp>) -> Partition {
        Partition {
            stream: Stream::new(engine, watermark),
            written: watermark,
        }
    }

    /// Applies one input message.
    pub fn take(
        &mut self,
        msg: &impl Message,
        rules: &dyn Rules,
        p: &mut Produced,
    ) -> Result<(), SinkError> {
        let wall = WallClock.now().expect("the wall clock always reads");
        let taken = self.stream.take(
            msg.payload().unwrap_or_default(),
            msg.offset(),
            &|| source_of(msg),
            wall,
            rules,
            &mut p.out,
        );
        match taken {
            Ok(Applied::Held) => metrics::counter!("complaintflow_events_held_total").increment(1),
            Ok(Applied::Duplicate) => {
                metrics::counter!("complaintflow_duplicates_total").increment(1)
            }
            Ok(Applied::Accepted) | Err(_) => {}
        }
        p.put_all()
    }

    /// The offset that may be committed after processing up to `next`: not
    /// past a held event, which a restart must read again.
    pub fn committable(&self, next: i64) -> i64 {
        self.stream
            .engine
            .earliest_held_position()
            .map_or(next, |held| held.min(next))
    }

    /// Fires the timers due `lateness` before `now` (the wall clock of a
    /// caught-up partition): an event made in time may still be on its way.
    pub fn advance(
        &mut self,
        now: Timestamp,
        lateness: u64,
        p: &mut Produced,
    ) -> Result<(), SinkError> {
        // Dead letters carry the partition's clock (event time), as every
        // other refusal does; the wall clock only says when timers fire.
        self.stream
            .advance(seconds_before(now, lateness), now, &mut p.out);
        p.put_all()
    }

    /// Ends a share: evicts closed complaints past `retention_s` (event
    /// time) whose input records all lie before `committed` (the group's
    /// committed offset), and adds one state record per changed complaint:
    /// its latest state, or a tombstone once it is gone.
    pub fn finish(
        &mut self,
        partition: i32,
        retention_s: u64,
        committed: i64,
        k: &KafkaConfig,
        p: &mut Produced,
    ) -> Result<(), SinkError> {
        if let Some(cutoff) = self
            .stream
            .clock
            .now()
            .map(|now| seconds_before(now, retention_s))
        {
            let evicted = self.stream.engine.evict_closed_before(cutoff, committed);
            if !evicted.is_empty() {
                tracing::debug!(
                    partition,
                    count = evicted.len(),
                    committed,
                    "closed complaints evicted"
                );
            }
            for c in evicted {
                // A final state changed in this batch goes out (its row
                // and its state) before its tombstone.
                if !p.changed.insert(c.id.clone()) {
                    p.sink.put(&Output::Complaint(c.row()))?;
                    p.state(k, &c.id, Some(changelog::encode(&c)), partition);
                }
            }
        }
        for id in std::mem::take(&mut p.changed) {
            let complaint = self.stream.engine.complaint(&id);
            if let Some(c) = complaint {
                p.sink.put(&Output::Complaint(c.row()))?;
            }
            p.state(k, &id, complaint.map(changelog::encode), partition);
        }
        // The partition's clock too: a restart must not move it back.
        if let Some(w) = self.stream.clock.now().filter(|w| Some(*w) != self.written) {
            let record = serde_json::to_vec(&WatermarkRecord { watermark: w })
                .map_err(|e| SinkError::Encode(e.to_string()))?;
            p.state(k, WATERMARK_KEY, Some(record), partition);
            self.written = Some(w);
        }
        Ok(())
    }
}
