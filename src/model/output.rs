//! Output records (docs/contract.md "Output"). Their JSON shapes are the rows of the
//! ClickHouse tables, so the file and Kafka outputs and the database agree.

use super::{Category, Priority, SlaKind, Stage, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One rules run: on `complaint.received` and on every reopen.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decision {
    /// Deterministic: `{complaint_id}:{cycle}:decision`.
    pub decision_id: String,
    pub complaint_id: String,
    pub cycle: u32,
    pub category: Category,
    pub priority: Priority,
    pub lead_department: String,
    pub assist_departments: Vec<String>,
    pub coordination_required: bool,
    pub reason: String,
    pub ruleset_version: String,
    #[serde(with = "crate::model::time")]
    pub decided_at: Timestamp,
    /// Per-complaint SLA targets (seconds) a rule set, overriding the policy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sla_overrides: BTreeMap<Stage, u64>,
}

/// A change of an SLA clock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SlaEvent {
    /// Deterministic: `{complaint_id}:{cycle}:{stage}:{kind}[:{detail}]`.
    pub event_id: String,
    pub complaint_id: String,
    pub stage: Stage,
    pub cycle: u32,
    pub kind: SlaKind,
    #[serde(with = "crate::model::time")]
    pub deadline: Timestamp,
    #[serde(with = "crate::model::time")]
    pub at: Timestamp,
    pub priority: Priority,
    pub lead_department: String,
}

impl SlaEvent {
    /// An escalation because the complaint is urgent (its id's detail
    /// `urgent`), not because a clock breached (`breach`).
    pub fn is_urgent_escalation(&self) -> bool {
        self.kind == SlaKind::Escalated && self.event_id.ends_with(":urgent")
    }
}

/// An input that could not be used, with the original payload and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeadLetter {
    /// The payload as it came (invalid UTF-8 replaced), cut to
    /// [`DeadLetter::MAX_PAYLOAD_BYTES`] when longer.
    pub payload: String,
    pub reason: String,
    /// `topic/partition/offset` or `file:line`.
    pub source: String,
    #[serde(with = "crate::model::time")]
    pub at: Timestamp,
    /// When `payload` was cut: the original's size in bytes ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_bytes: Option<u64>,
    /// ... and its SHA-256 (hex), to find the original at its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_sha256: Option<String>,
}

impl DeadLetter {
    /// The refusal's code: what `reason` (`code: detail`) starts with.
    pub fn code(&self) -> &str {
        self.reason.split_once(':').map_or("", |(code, _)| code)
    }

    /// Where it came from, without the line or offset: the file's name
    /// (`/in/events.jsonl:12` → `events.jsonl`) or the topic
    /// (`complaints.events/0/42` → `complaints.events`).
    pub fn origin(&self) -> &str {
        match self.source.rsplit_once(':') {
            Some((file, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => {
                file.rsplit('/').next().unwrap_or(file)
            }
            _ => self.source.split('/').next().unwrap_or(&self.source),
        }
    }

    /// Payloads longer than this are cut: escaped as JSON (at most six
    /// bytes a byte), a dead letter still fits a broker's 1 MB limit.
    pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
    /// Reasons quote input values (an unknown type, a bad enum value):
    /// longer ones are cut.
    pub const MAX_REASON_BYTES: usize = 4 * 1024;

    /// A dead letter for `payload`, cut with its size and digest when long.
    pub fn new(payload: &[u8], reason: String, source: String, at: Timestamp) -> DeadLetter {
        let (kept, cut) = if payload.len() > Self::MAX_PAYLOAD_BYTES {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(payload);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            (
                &payload[..Self::MAX_PAYLOAD_BYTES],
                Some((payload.len() as u64, hex)),
            )
        } else {
            (payload, None)
        };
        let mut text = String::from_utf8_lossy(kept).into_owned();
        if cut.is_some() && text.ends_with('\u{fffd}') {
            // A character cut in half is not part of the payload.
            text.pop();
        }
        let (payload_bytes, payload_sha256) = cut.unzip();
        let mut reason = reason;
        if reason.len() > Self::MAX_REASON_BYTES {
            let mut end = Self::MAX_REASON_BYTES;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            reason.push('…');
        }
        DeadLetter {
            payload: text,
            reason,
            source,
            at,
            payload_bytes,
            payload_sha256,
        }
    }
}

/// Outcome of one SLA stage in the complaint's latest cycle that ran it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageOutcome {
    #[default]
    NotStarted,
    Open,
    Breached,
    Met,
    Late,
    Cancelled,
}

impl StageOutcome {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            StageOutcome::NotStarted => "not_started",
            StageOutcome::Open => "open",
            StageOutcome::Breached => "breached",
            StageOutcome::Met => "met",
            StageOutcome::Late => "late",
            StageOutcome::Cancelled => "cancelled",
        }
    }
}

/// Lifecycle status of a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for acknowledgement (acceptance).
    Received,
    /// Acknowledged; the complaint handling group must assign it.
    Acknowledged,
    /// Assigned; the department is handling it.
    Handling,
    /// Handled; waiting for the result report.
    Handled,
    /// Reported; waiting for the customer's confirmation.
    Reported,
    /// Customer satisfied; waiting for archiving.
    Closed,
    Archived,
    Withdrawn,
}

impl Status {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Acknowledged => "acknowledged",
            Status::Handling => "handling",
            Status::Handled => "handled",
            Status::Reported => "reported",
            Status::Closed => "closed",
            Status::Archived => "archived",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// Archived and withdrawn complaints accept no more events.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Archived | Status::Withdrawn)
    }
}

/// One row per complaint with its current outcome (ReplacingMergeTree by `version`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ComplaintRow {
    pub complaint_id: String,
    pub channel: String,
    pub customer_id: String,
    pub status: Status,
    pub category: Category,
    pub priority: Priority,
    pub lead_department: String,
    pub assist_departments: Vec<String>,
    pub coordination_required: bool,
    pub ruleset_version: String,
    #[serde(with = "crate::model::time")]
    pub received_at: Timestamp,
    #[serde(default, with = "crate::model::time::option")]
    pub acknowledged_at: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub assigned_at: Option<Timestamp>,
    /// The latest cycle's first answer (preliminary solution or response).
    #[serde(default, with = "crate::model::time::option")]
    pub responded_at: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub handled_at: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub reported_at: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub confirmed_at: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub archived_at: Option<Timestamp>,
    #[serde(default, with = "crate::model::time::option")]
    pub withdrawn_at: Option<Timestamp>,
    /// 0, then +1 per reopen.
    pub cycle: u32,
    /// The latest confirmation's answer; `None` before any confirmation.
    pub satisfied: Option<bool>,
    pub acknowledge_sla: StageOutcome,
    pub assign_sla: StageOutcome,
    /// `not_started` for priorities without a first-answer target.
    #[serde(default)]
    pub respond_sla: StageOutcome,
    pub handle_sla: StageOutcome,
    pub report_sla: StageOutcome,
    pub confirm_sla: StageOutcome,
    /// Breaches over all stages and cycles.
    pub breaches: u32,
    /// Time of the latest accepted event.
    #[serde(with = "crate::model::time")]
    pub updated_at: Timestamp,
    /// Accepted events so far; grows with every change.
    pub version: u64,
}

/// Shared string, cheap to clone into many output records.
pub type Name = Arc<str>;
