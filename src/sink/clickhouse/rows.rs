//! Rows of the ClickHouse tables, built from the contract's records. They
//! are separate from the JSON types because RowBinary wants plain strings and
//! millisecond timestamps, not serde's RFC 3339 text and enums.

use crate::model::event::EventBody;
use crate::model::{ComplaintRow, DeadLetter, Decision, Event, SlaEvent, Timestamp};
use clickhouse::Row;
use clickhouse::serde::chrono::datetime64::millis;
use serde::Serialize;

/// `complaints.events`: one accepted input event, typed columns and the raw JSON.
#[derive(Debug, Clone, Row, Serialize)]
pub struct EventRecord {
    pub event_id: String,
    pub complaint_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(with = "millis")]
    pub occurred_at: Timestamp,
    pub actor: String,
    pub channel: String,
    pub customer_id: String,
    pub impact: &'static str,
    pub lead_department: String,
    pub priority: &'static str,
    pub progress_kind: &'static str,
    #[serde(with = "millis::option")]
    pub extension_until: Option<Timestamp>,
    pub approved: Option<bool>,
    pub satisfied: Option<bool>,
    pub cause: String,
    pub source: String,
    pub payload: String,
    /// 1 when the lifecycle refused the event (it replaces the accepted row).
    pub refused: u8,
}

/// Whether an event's times lie in the tables' range (their constraints):
/// one outside was refused where it entered, and its dead letter is the
/// record of it.
pub fn storable(ev: &Event) -> bool {
    use chrono::Datelike;
    let ok = |t: Timestamp| (1970..2200).contains(&t.year());
    let until = match &ev.body {
        EventBody::ExtensionRequested(x) => Some(x.until.to_utc()),
        EventBody::ExtensionDecided(d) => d.until.map(|u| u.to_utc()),
        _ => None,
    };
    ok(ev.at()) && until.is_none_or(ok)
}

impl EventRecord {
    /// The row marking a dead-lettered event as refused; `None` when the
    /// payload was not an event at all.
    pub fn refused(d: &DeadLetter) -> Option<EventRecord> {
        let ev = Event::from_json(&d.payload).ok().filter(storable)?;
        let mut row = EventRecord::new(&ev, &d.payload, d.source.clone());
        row.refused = 1;
        Some(row)
    }

    /// The row of `ev`, read from `payload` at `source`.
    pub fn new(ev: &Event, payload: &str, source: String) -> EventRecord {
        let mut row = EventRecord {
            event_id: ev.event_id.clone(),
            complaint_id: ev.complaint_id.clone(),
            kind: ev.type_name(),
            occurred_at: ev.at(),
            actor: ev.actor.clone().unwrap_or_default(),
            channel: String::new(),
            customer_id: String::new(),
            impact: "",
            lead_department: String::new(),
            priority: "",
            progress_kind: "",
            extension_until: None,
            approved: None,
            satisfied: None,
            cause: String::new(),
            source,
            payload: payload.to_string(),
            refused: 0,
        };
        match &ev.body {
            EventBody::Received(r) => {
                row.channel = r.channel.clone();
                row.customer_id = r.customer.id.clone();
                row.impact = r.impact.map(|i| i.as_str()).unwrap_or("");
            }
            EventBody::Assigned(a) => {
                row.lead_department = a.lead_department.clone();
                row.priority = a.priority.map(|p| p.as_str()).unwrap_or("");
            }
            EventBody::Progress(p) => row.progress_kind = p.kind.as_str(),
            EventBody::ExtensionRequested(x) => row.extension_until = Some(x.until.to_utc()),
            EventBody::ExtensionDecided(x) => {
                row.approved = Some(x.approved);
                row.extension_until = x.until.map(|u| u.to_utc());
            }
            EventBody::Handled(h) => row.cause = h.cause.clone(),
            EventBody::CustomerConfirmed(c) => row.satisfied = Some(c.satisfied),
            EventBody::Acknowledged(_)
            | EventBody::Reported(_)
            | EventBody::Archived(_)
            | EventBody::Withdrawn(_) => {}
        }
        row
    }
}

/// `complaints.decisions`.
#[derive(Debug, Clone, Row, Serialize)]
pub struct DecisionRecord {
    pub decision_id: String,
    pub complaint_id: String,
    pub cycle: u32,
    pub category: &'static str,
    pub priority: &'static str,
    pub lead_department: String,
    pub assist_departments: Vec<String>,
    pub coordination_required: bool,
    pub reason: String,
    pub ruleset_version: String,
    #[serde(with = "millis")]
    pub decided_at: Timestamp,
}

impl From<&Decision> for DecisionRecord {
    fn from(d: &Decision) -> Self {
        DecisionRecord {
            decision_id: d.decision_id.clone(),
            complaint_id: d.complaint_id.clone(),
            cycle: d.cycle,
            category: d.category.as_str(),
            priority: d.priority.as_str(),
            lead_department: d.lead_department.clone(),
            assist_departments: d.assist_departments.clone(),
            coordination_required: d.coordination_required,
            reason: d.reason.clone(),
            ruleset_version: d.ruleset_version.clone(),
            decided_at: d.decided_at,
        }
    }
}

/// `complaints.sla_events`.
#[derive(Debug, Clone, Row, Serialize)]
pub struct SlaRecord {
    pub event_id: String,
    pub complaint_id: String,
    pub stage: &'static str,
    pub cycle: u32,
    pub kind: &'static str,
    #[serde(with = "millis")]
    pub deadline: Timestamp,
    #[serde(with = "millis")]
    pub at: Timestamp,
    pub priority: &'static str,
    pub lead_department: String,
}

impl From<&SlaEvent> for SlaRecord {
    fn from(e: &SlaEvent) -> Self {
        SlaRecord {
            event_id: e.event_id.clone(),
            complaint_id: e.complaint_id.clone(),
            stage: e.stage.as_str(),
            cycle: e.cycle,
            kind: e.kind.as_str(),
            deadline: e.deadline,
            at: e.at,
            priority: e.priority.as_str(),
            lead_department: e.lead_department.clone(),
        }
    }
}

/// `complaints.dead_letters`; ids are taken from the payload when it has them.
#[derive(Debug, Clone, Row, Serialize)]
pub struct DeadLetterRecord {
    pub source: String,
    pub reason_code: String,
    pub reason: String,
    pub complaint_id: String,
    pub event_id: String,
    #[serde(with = "millis")]
    pub at: Timestamp,
    pub payload: String,
    /// The original's size and digest when `payload` was cut (0, "" if not).
    pub payload_bytes: u64,
    pub payload_sha256: String,
}

impl From<&DeadLetter> for DeadLetterRecord {
    fn from(d: &DeadLetter) -> Self {
        #[derive(serde::Deserialize, Default)]
        struct Ids {
            #[serde(default)]
            complaint_id: String,
            #[serde(default)]
            event_id: String,
        }
        let ids: Ids = serde_json::from_str(&d.payload).unwrap_or_default();
        DeadLetterRecord {
            source: d.source.clone(),
            reason_code: d.code().to_string(),
            reason: d.reason.clone(),
            complaint_id: ids.complaint_id,
            event_id: ids.event_id,
            at: d.at,
            payload: d.payload.clone(),
            payload_bytes: d.payload_bytes.unwrap_or(0),
            payload_sha256: d.payload_sha256.clone().unwrap_or_default(),
        }
    }
}

/// `complaints.complaints`: the current outcome; the highest `version` wins.
#[derive(Debug, Clone, Row, Serialize)]
pub struct ComplaintRecord {
    pub complaint_id: String,
    pub channel: String,
    pub customer_id: String,
    pub status: &'static str,
    pub category: &'static str,
    pub priority: &'static str,
    pub lead_department: String,
    pub assist_departments: Vec<String>,
    pub coordination_required: bool,
    pub ruleset_version: String,
    #[serde(with = "millis")]
    pub received_at: Timestamp,
    #[serde(with = "millis::option")]
    pub acknowledged_at: Option<Timestamp>,
    #[serde(with = "millis::option")]
    pub assigned_at: Option<Timestamp>,
    #[serde(with = "millis::option")]
    pub handled_at: Option<Timestamp>,
    #[serde(with = "millis::option")]
    pub responded_at: Option<Timestamp>,
    #[serde(with = "millis::option")]
    pub reported_at: Option<Timestamp>,
    #[serde(with = "millis::option")]
    pub confirmed_at: Option<Timestamp>,
    #[serde(with = "millis::option")]
    pub archived_at: Option<Timestamp>,
    #[serde(with = "millis::option")]
    pub withdrawn_at: Option<Timestamp>,
    pub cycle: u32,
    pub satisfied: Option<bool>,
    pub acknowledge_sla: &'static str,
    pub assign_sla: &'static str,
    pub respond_sla: &'static str,
    pub handle_sla: &'static str,
    pub report_sla: &'static str,
    pub confirm_sla: &'static str,
    pub breaches: u32,
    #[serde(with = "millis")]
    pub updated_at: Timestamp,
    pub version: u64,
}

impl From<&ComplaintRow> for ComplaintRecord {
    fn from(c: &ComplaintRow) -> Self {
        ComplaintRecord {
            complaint_id: c.complaint_id.clone(),
            channel: c.channel.clone(),
            customer_id: c.customer_id.clone(),
            status: c.status.as_str(),
            category: c.category.as_str(),
            priority: c.priority.as_str(),
            lead_department: c.lead_department.clone(),
            assist_departments: c.assist_departments.clone(),
            coordination_required: c.coordination_required,
            ruleset_version: c.ruleset_version.clone(),
            received_at: c.received_at,
            acknowledged_at: c.acknowledged_at,
            assigned_at: c.assigned_at,
            handled_at: c.handled_at,
            responded_at: c.responded_at,
            reported_at: c.reported_at,
            confirmed_at: c.confirmed_at,
            archived_at: c.archived_at,
            withdrawn_at: c.withdrawn_at,
            cycle: c.cycle,
            satisfied: c.satisfied,
            acknowledge_sla: c.acknowledge_sla.as_str(),
            assign_sla: c.assign_sla.as_str(),
            respond_sla: c.respond_sla.as_str(),
            handle_sla: c.handle_sla.as_str(),
            report_sla: c.report_sla.as_str(),
            confirm_sla: c.confirm_sla.as_str(),
            breaches: c.breaches,
            updated_at: c.updated_at,
            version: c.version,
        }
    }
}
