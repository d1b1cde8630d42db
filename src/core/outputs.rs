//! What the core produces. [`Output`] is the one vocabulary every
//! destination takes (files, ClickHouse, Kafka records); [`Effects`] is the
//! engine's working buffer of one call, which [`super::Stream`] turns into
//! outputs.

use super::complaint::Complaint;
use super::early::Released;
use super::refusal::RejectCode;
use super::sla::SlaEmitter;
use crate::model::{ComplaintRow, DeadLetter, Decision, Event, SlaEvent, SlaKind, Timestamp};
use std::sync::Arc;

/// One output of the event step, or of a clock advance.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// An input event applied: at once, or at last after waiting.
    Event(Accepted),
    Decision(Decision),
    Sla(SlaEvent),
    /// An input record refused.
    DeadLetter(Refused),
    /// A complaint whose state changed (by id: the row comes once per
    /// batch, as [`Output::Complaint`]).
    Changed(Arc<str>),
    /// A complaint's current outcome.
    Complaint(ComplaintRow),
}

/// An accepted input event with its text as it came and where from.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub event: Event,
    pub payload: String,
    /// `file:line` or `topic/partition/offset`.
    pub source: String,
    /// It waited for its complaint's earlier events.
    pub waited: bool,
}

/// A refused input record: the dead letter and why, by code.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub code: RejectCode,
    /// The complaint, when the record parsed far enough to name it.
    pub complaint_id: Option<String>,
    pub letter: DeadLetter,
}

/// What one engine call produced, by kind, each in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Effects {
    pub decisions: Vec<Decision>,
    pub sla: Vec<SlaEvent>,
    /// Complaints whose state changed (live mode writes them to the changelog).
    pub changed: Vec<Arc<str>>,
    /// Held events decided in this step: applied at last, or refused.
    pub released: Vec<Released>,
}

impl Effects {
    pub fn clear(&mut self) {
        self.decisions.clear();
        self.sla.clear();
        self.changed.clear();
        self.released.clear();
    }
}

fn emitter(c: &Complaint) -> SlaEmitter<'_> {
    SlaEmitter {
        complaint_id: &c.id,
        cycle: c.cycle,
        priority: c.routing.priority,
        lead_department: &c.routing.lead,
    }
}

/// Adds an SLA event about `clock`, one of `c`'s running clocks.
pub(super) fn emit_for(
    c: &Complaint,
    clock: &super::sla::StageClock,
    kind: SlaKind,
    at: Timestamp,
    detail: Option<&str>,
    out: &mut Effects,
) {
    out.sla.push(emitter(c).event(clock, kind, at, detail));
}
