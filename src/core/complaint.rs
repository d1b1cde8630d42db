//! Per-complaint state: what the lifecycle needs, kept small because a
//! million complaints may be open at once.

use super::decision::RuleDecision;
use super::sla::{SlaPolicy, StageClock};
use crate::model::event::Received;
use crate::model::output::{StageOutcome, Status};
use crate::model::{Category, ComplaintRow, Decision, Priority, Stage, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;

/// One event a complaint has taken: stable hashes of its `event_id` and of
/// its payload as it came, and whether it was accepted. Stored as
/// `[id, payload, accepted]`; states written before payloads were hashed
/// hold the id alone, read as payload 0 (unknown: any resend of that id is
/// a redelivery, as it then was).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SeenRecord", into = "SeenRecord")]
pub struct SeenEvent {
    pub id: u64,
    pub payload: u64,
    pub accepted: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum SeenRecord {
    Full(u64, u64, bool),
    IdOnly(u64),
}

impl From<SeenRecord> for SeenEvent {
    fn from(r: SeenRecord) -> SeenEvent {
        match r {
            SeenRecord::Full(id, payload, accepted) => SeenEvent {
                id,
                payload,
                accepted,
            },
            SeenRecord::IdOnly(id) => SeenEvent {
                id,
                payload: 0,
                accepted: true,
            },
        }
    }
}

impl From<SeenEvent> for SeenRecord {
    fn from(s: SeenEvent) -> SeenRecord {
        SeenRecord::Full(s.id, s.payload, s.accepted)
    }
}

/// What an event with an id seen before is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Never seen: judge it.
    New,
    /// The same payload again: ignore it.
    Redelivery,
    /// Other content under the id of a refused event: judge it.
    Correction,
    /// Other content under the id of an accepted event: refuse it.
    Conflict,
}

/// Whether two payload hashes stand for the same bytes; 0 (a state
/// written before payloads were hashed) matches any.
pub fn same_payload(a: u64, b: u64) -> bool {
    a == b || a == 0 || b == 0
}

/// How the event `id` with `payload` relates to what `seen` holds.
pub fn resend_of(seen: &[SeenEvent], id: u64, payload: u64) -> Resend {
    let mut same_id = seen.iter().filter(|s| s.id == id).peekable();
    if same_id.peek().is_none() {
        return Resend::New;
    }
    let mut accepted = false;
    for s in same_id {
        if same_payload(s.payload, payload) {
            return Resend::Redelivery;
        }
        accepted |= s.accepted;
    }
    if accepted {
        Resend::Conflict
    } else {
        Resend::Correction
    }
}

/// Where a complaint is routed and why (from rules, or a manual assignment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routing {
    pub category: Category,
    pub priority: Priority,
    pub lead: Arc<str>,
    pub assist: Box<[Arc<str>]>,
    pub coordination_required: bool,
    /// The complaint handling group set the departments (`complaint.assigned`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_group: bool,
    pub ruleset_version: Arc<str>,
    /// Per-complaint targets in seconds a rule set, by stage.
    #[serde(default, deserialize_with = "overrides")]
    pub overrides: Overrides,
}

/// Shares the few distinct department and ruleset-version strings between
/// all complaints instead of one copy each.
#[derive(Debug, Default)]
pub struct Interner(HashSet<Arc<str>>);

impl Interner {
    /// Above this many names new ones are not kept (input controls
    /// `complaint.assigned` departments; memory must stay bounded).
    const MAX: usize = 10_000;

    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = s.into();
        if self.0.len() < Self::MAX {
            self.0.insert(a.clone());
        }
        a
    }
}

/// Per-complaint targets in seconds, by stage index.
type Overrides = Option<Box<[Option<u64>; Stage::COUNT]>>;

/// Overrides as stored before `respond` existed had five entries.
fn overrides<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Overrides, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(
        #[serde(deserialize_with = "crate::model::stage_array::deserialize")]
        [Option<u64>; Stage::COUNT],
    );
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| Box::new(w.0)))
}

impl Routing {
    pub fn from_decision(d: &RuleDecision, ruleset_version: &str, names: &mut Interner) -> Routing {
        let overrides = (!d.sla_overrides.is_empty()).then(|| {
            let mut o = [None; Stage::COUNT];
            for (stage, secs) in &d.sla_overrides {
                o[stage.index()] = Some(*secs);
            }
            Box::new(o)
        });
        Routing {
            category: d.category,
            priority: d.priority,
            lead: names.get(&d.lead_department),
            assist: d.assist_departments.iter().map(|s| names.get(s)).collect(),
            coordination_required: d.coordination_required,
            by_group: false,
            ruleset_version: names.get(ruleset_version),
            overrides,
        }
    }

    /// Target of `stage` for this complaint, in seconds.
    pub fn target(&self, policy: &SlaPolicy, stage: Stage) -> u64 {
        self.overrides
            .as_ref()
            .and_then(|o| o[stage.index()])
            .unwrap_or_else(|| policy.target(stage, self.priority))
    }
}

/// When each lifecycle step happened (latest cycle).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Milestones {
    #[serde(default, with = "crate::model::time::option")]
    pub acknowledged: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub assigned: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub handled: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub reported: Option<Timestamp>,
    /// The first answer (preliminary solution or response) of this cycle.
    #[serde(default, with = "crate::model::time::option")]
    pub responded: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub confirmed: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub archived: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub withdrawn: Option<Timestamp>,
}

/// The state of one complaint; serialized to the state changelog in live mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Complaint {
    pub id: Arc<str>,
    /// The original complaint; rules see it again on every reopen.
    pub received: Box<Received>,
    #[serde(with = "crate::model::time")]
    pub received_at: Timestamp,
    pub status: Status,
    pub cycle: u32,
    pub routing: Routing,
    pub times: Milestones,
    /// The running stage of the lifecycle's sequence, if any.
    pub clock: Option<StageClock>,
    /// The first-answer clock (`respond`), running beside `handle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respond: Option<StageClock>,
    #[serde(deserialize_with = "crate::model::stage_array::deserialize")]
    pub outcomes: [StageOutcome; Stage::COUNT],
    pub breaches: u32,
    /// The cycle whose urgency was escalated to the group (once per cycle).
    #[serde(default)]
    pub urgent_escalated: Option<u32>,
    pub satisfied: Option<bool>,
    /// Every event taken for this complaint, refused ones included: a
    /// redelivery (same id, same payload) is ignored, a correction of a
    /// refused event (same id, other payload) is judged, and other content
    /// under an accepted id is a conflict.
    pub seen: Vec<SeenEvent>,
    pub version: u64,
    #[serde(with = "crate::model::time")]
    pub updated_at: Timestamp,
    /// Source position (Kafka offset) of the latest input record about
    /// this complaint, accepted or not. It may be forgotten only once every
    /// such record is behind the committed offset: a redelivery must find it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_input: Option<i64>,
    /// Generation of this complaint's entry in the timer index.
    #[serde(skip)]
    pub(crate) timer_gen: u32,
    #[serde(skip)]
    pub(crate) timer_due: Option<Timestamp>,
}

impl Complaint {
    /// The decision record for the current cycle.
    pub fn decision(&self, reason: String, decided_at: Timestamp, d: &RuleDecision) -> Decision {
        Decision {
            decision_id: format!("{}:{}:decision", self.id, self.cycle),
            complaint_id: self.id.to_string(),
            cycle: self.cycle,
            category: self.routing.category,
            priority: self.routing.priority,
            lead_department: self.routing.lead.to_string(),
            assist_departments: self.routing.assist.iter().map(|s| s.to_string()).collect(),
            coordination_required: self.routing.coordination_required,
            reason,
            ruleset_version: self.routing.ruleset_version.to_string(),
            decided_at,
            sla_overrides: d.sla_overrides.clone(),
        }
    }

    /// The complaint's current outcome, as one row of the `complaints` table.
    pub fn row(&self) -> ComplaintRow {
        let r = &self.routing;
        ComplaintRow {
            complaint_id: self.id.to_string(),
            channel: self.received.channel.clone(),
            customer_id: self.received.customer.id.clone(),
            status: self.status,
            category: r.category,
            priority: r.priority,
            lead_department: r.lead.to_string(),
            assist_departments: r.assist.iter().map(|s| s.to_string()).collect(),
            coordination_required: r.coordination_required,
            ruleset_version: r.ruleset_version.to_string(),
            received_at: self.received_at,
            acknowledged_at: self.times.acknowledged,
            assigned_at: self.times.assigned,
            handled_at: self.times.handled,
            reported_at: self.times.reported,
            confirmed_at: self.times.confirmed,
            archived_at: self.times.archived,
            withdrawn_at: self.times.withdrawn,
            cycle: self.cycle,
            satisfied: self.satisfied,
            responded_at: self.times.responded,
            respond_sla: self.outcomes[Stage::Respond.index()],
            acknowledge_sla: self.outcomes[0],
            assign_sla: self.outcomes[1],
            handle_sla: self.outcomes[Stage::Handle.index()],
            report_sla: self.outcomes[Stage::Report.index()],
            confirm_sla: self.outcomes[Stage::Confirm.index()],
            breaches: self.breaches,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_events_read_both_forms_and_tell_resends_apart() {
        let old: Vec<SeenEvent> = serde_json::from_str("[7]").unwrap();
        assert_eq!(old[0].payload, 0, "the old form: payload unknown");
        let seen = vec![
            SeenEvent {
                id: 1,
                payload: 10,
                accepted: true,
            },
            SeenEvent {
                id: 2,
                payload: 20,
                accepted: false,
            },
        ];
        let text = serde_json::to_string(&seen).unwrap();
        assert_eq!(text, "[[1,10,true],[2,20,false]]");
        assert_eq!(serde_json::from_str::<Vec<SeenEvent>>(&text).unwrap(), seen);
        assert_eq!(resend_of(&seen, 3, 30), Resend::New);
        assert_eq!(resend_of(&seen, 1, 10), Resend::Redelivery);
        assert_eq!(resend_of(&seen, 1, 11), Resend::Conflict);
        assert_eq!(resend_of(&seen, 2, 20), Resend::Redelivery);
        assert_eq!(resend_of(&seen, 2, 21), Resend::Correction);
        assert_eq!(resend_of(&old, 7, 99), Resend::Redelivery);
    }
}
