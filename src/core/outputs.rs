//! What one step of the core produced: decisions, SLA events, changed
//! complaints and early events decided, in order.

use super::complaint::Complaint;
use super::early::Released;
use super::sla::SlaEmitter;
use crate::model::{Decision, SlaEvent, SlaKind, Timestamp};
use std::sync::Arc;

/// What one step produced, in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outputs {
    pub decisions: Vec<Decision>,
    pub sla: Vec<SlaEvent>,
    /// Complaints whose state changed (live mode writes them to the changelog).
    pub changed: Vec<Arc<str>>,
    /// Held events decided in this step: applied at last, or refused.
    pub released: Vec<Released>,
}

impl Outputs {
    pub fn clear(&mut self) {
        self.decisions.clear();
        self.sla.clear();
        self.changed.clear();
        self.released.clear();
    }
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty() && self.sla.is_empty() && self.released.is_empty()
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
    out: &mut Outputs,
) {
    out.sla.push(emitter(c).event(clock, kind, at, detail));
}
