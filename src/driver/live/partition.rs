//! One input partition's engine and clock, and what its share of a batch
//! produces. Partitions share nothing, so a batch's shares run in parallel.

use crate::config::KafkaConfig;
use crate::core::{
    Applied, Clock, Engine, Outputs, RejectCode, Rules, Stream, WallClock, changelog,
    seconds_before,
};
use crate::model::{DeadLetter, Timestamp};
use crate::sink::kafka::OutRecord;
use crate::source::kafka::{WATERMARK_KEY, WatermarkRecord};
use rdkafka::Message;
use std::collections::HashSet;
use std::sync::Arc;

pub(super) fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("output types serialize")
}

/// The records one partition produced, and the complaints whose state
/// changed (their state records are added by [`Partition::finish`]).
#[derive(Default)]
pub(super) struct Produced {
    pub records: Vec<OutRecord>,
    out: Outputs,
    changed: HashSet<Arc<str>>,
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
        k: &KafkaConfig,
        p: &mut Produced,
    ) {
        let wall = WallClock.now().expect("the wall clock always reads");
        let payload = msg.payload().unwrap_or_default();
        let taken = self.stream.take(
            payload,
            msg.offset(),
            &|| source_of(msg),
            wall,
            rules,
            &mut p.out,
        );
        match &taken.result {
            Ok(Applied::Accepted) => {
                let kind = taken.event.as_ref().map_or("", |ev| ev.type_name());
                metrics::counter!("complaintflow_events_in_total", "type" => kind).increment(1)
            }
            Ok(Applied::Held) => metrics::counter!("complaintflow_events_held_total").increment(1),
            Ok(Applied::Duplicate) => {
                metrics::counter!("complaintflow_duplicates_total").increment(1)
            }
            Err(r) => {
                if r.code == RejectCode::InternalError {
                    tracing::error!(partition = msg.partition(), offset = msg.offset(), reason = %r,
                        "an event failed inside complaintflow; dead-lettered, the stream goes on");
                }
                let key = msg
                    .key()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                let dl = DeadLetter::new(
                    payload,
                    r.to_string(),
                    source_of(msg),
                    self.stream.judged_at(wall),
                );
                push_dead_letter(k, r.code, key, &dl, p);
            }
        }
        collect(k, self.stream.judged_at(wall), p);
        // Accepted, repeated or refused: a redelivery of this record must
        // still find its complaint, so the complaint stays until it is committed.
        if let Some(ev) = &taken.event
            && let Some(id) = self
                .stream
                .engine
                .note_input(&ev.complaint_id, msg.offset())
        {
            p.changed.insert(id);
        }
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
    pub fn advance(&mut self, now: Timestamp, lateness: u64, k: &KafkaConfig, p: &mut Produced) {
        self.stream
            .engine
            .advance(seconds_before(now, lateness), &mut p.out);
        // Dead letters carry the partition's clock (event time), as every
        // other refusal does; the wall clock only says when timers fire.
        collect(k, self.stream.judged_at(now), p);
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
    ) {
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
                // A final state not written yet goes out before its
                // tombstone: the ClickHouse loader reads outcomes from it.
                if !p.changed.insert(c.id.clone()) {
                    p.records.push(state_record(
                        k,
                        &c.id,
                        Some(changelog::encode(&c)),
                        partition,
                    ));
                }
            }
        }
        for id in std::mem::take(&mut p.changed) {
            let payload = self.stream.engine.complaint(&id).map(changelog::encode);
            p.records.push(state_record(k, &id, payload, partition));
        }
        // The partition's clock too: a restart must not move it back.
        if let Some(w) = self.stream.clock.now().filter(|w| Some(*w) != self.written) {
            let record = WatermarkRecord { watermark: w };
            p.records.push(state_record(
                k,
                WATERMARK_KEY,
                Some(json(&record)),
                partition,
            ));
            self.written = Some(w);
        }
    }
}

fn state_record(k: &KafkaConfig, id: &str, payload: Option<Vec<u8>>, partition: i32) -> OutRecord {
    OutRecord {
        topic: k.state_topic.clone(),
        key: id.to_string(),
        payload,
        partition: Some(partition),
    }
}

/// Turns the core's outputs into records and notes the changed complaints;
/// held events refused at last are dead-lettered at `now`.
fn collect(k: &KafkaConfig, now: Timestamp, p: &mut Produced) {
    for r in std::mem::take(&mut p.out.released) {
        match r.outcome {
            Ok(()) => {
                metrics::counter!("complaintflow_events_in_total", "type" => r.event.type_name())
                    .increment(1)
            }
            Err(reason) => {
                let dl = DeadLetter::new(
                    r.origin.payload.as_bytes(),
                    reason.to_string(),
                    r.origin.source,
                    now,
                );
                push_dead_letter(k, reason.code, r.event.complaint_id.to_string(), &dl, p);
            }
        }
    }
    for d in p.out.decisions.drain(..) {
        metrics::counter!("complaintflow_decisions_total", "category" => d.category.as_str())
            .increment(1);
        metrics::counter!("complaintflow_outputs_total", "kind" => "decision").increment(1);
        p.records.push(OutRecord {
            topic: k.decisions_topic.clone(),
            key: d.complaint_id.clone(),
            payload: Some(json(&d)),
            partition: None,
        });
    }
    for e in p.out.sla.drain(..) {
        metrics::counter!("complaintflow_outputs_total", "kind" => e.kind.as_str()).increment(1);
        p.records.push(OutRecord {
            topic: k.sla_topic.clone(),
            key: e.complaint_id.clone(),
            payload: Some(json(&e)),
            partition: None,
        });
    }
    p.changed.extend(p.out.changed.drain(..));
}

fn source_of(msg: &impl Message) -> String {
    format!("{}/{}/{}", msg.topic(), msg.partition(), msg.offset())
}

fn push_dead_letter(
    k: &KafkaConfig,
    code: RejectCode,
    key: String,
    dl: &DeadLetter,
    p: &mut Produced,
) {
    metrics::counter!("complaintflow_dead_letters_total", "reason" => code.as_str()).increment(1);
    p.records.push(OutRecord {
        topic: k.dlq_topic.clone(),
        key,
        payload: Some(json(dl)),
        partition: None,
    });
}
