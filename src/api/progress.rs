//! A complaint's progress for people, from its warehouse rows: pure. The
//! regulation's plain stages (受理, 分配, 处理, 结果反馈, 回访), each done,
//! in progress (with its deadline in local time) or pending; the cycle;
//! the result. Personal data only as the analyst views give it (masked).

use crate::model::output::{ComplaintRow, StageOutcome, Status};
use crate::model::{SlaEvent, SlaKind, Stage, Timestamp};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The received event as `events_masked` shows it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MaskedRecord {
    pub complaint_id: String,
    /// The customer object as the view leaves it (`***`).
    pub customer: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Progress {
    pub complaint_id: String,
    pub channel: String,
    pub customer: Customer,
    /// One line of the description, masked.
    pub summary: String,
    pub status: String,
    pub category: String,
    pub priority: String,
    pub lead_department: Department,
    pub assist_departments: Vec<Department>,
    pub received_at: String,
    /// 0 for the first handling; each reopening adds one.
    pub cycle: u32,
    pub reopened: bool,
    /// The plain stage in progress, if any.
    pub current_stage: Option<String>,
    pub timeline: Vec<Step>,
    pub result: Outcome,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Customer {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Department {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    /// 受理, 分配, 处理, 结果反馈, 回访.
    pub stage: &'static str,
    /// `done`, `in_progress` or `pending`.
    pub state: &'static str,
    pub done_at: Option<String>,
    /// While in progress: the deadline in local time.
    pub deadline: Option<String>,
    /// `met`, `late`, `breached`, `open`, `cancelled` or `not_started`
    /// (the worst of its SLA stages).
    pub sla: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    pub handled_at: Option<String>,
    pub satisfied: Option<bool>,
    pub closed: bool,
    pub withdrawn: bool,
}

/// The plain stages and the SLA stages under each.
const PLAIN: [(&str, &[Stage]); 5] = [
    ("受理", &[Stage::Acknowledge]),
    ("分配", &[Stage::Assign]),
    ("处理", &[Stage::Respond, Stage::Handle]),
    ("结果反馈", &[Stage::Report]),
    ("回访", &[Stage::Confirm]),
];

fn local(t: Option<Timestamp>, zone: Tz) -> Option<String> {
    t.map(|t| {
        t.with_timezone(&zone)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

/// When an SLA stage of the row was done, and how it went.
fn stage_of(c: &ComplaintRow, stage: Stage) -> (Option<Timestamp>, StageOutcome) {
    match stage {
        Stage::Acknowledge => (c.acknowledged_at, c.acknowledge_sla),
        Stage::Assign => (c.assigned_at, c.assign_sla),
        Stage::Respond => (c.responded_at, c.respond_sla),
        Stage::Handle => (c.handled_at, c.handle_sla),
        Stage::Report => (c.reported_at, c.report_sla),
        Stage::Confirm => (c.confirmed_at, c.confirm_sla),
    }
}

/// How bad an SLA outcome is, to show the worst of a plain stage's.
fn severity(o: StageOutcome) -> u8 {
    match o {
        StageOutcome::Breached => 5,
        StageOutcome::Late => 4,
        StageOutcome::Open => 3,
        StageOutcome::Met => 2,
        StageOutcome::Cancelled => 1,
        StageOutcome::NotStarted => 0,
    }
}

/// Each open SLA stage's deadline. A stage runs at most once a cycle: it
/// is open when it started and has not ended (met, late, cancelled), and
/// its deadline is the latest it was given (an extension moves it). The
/// order of the events does not matter: several share one instant.
fn open_deadlines(sla: &[SlaEvent]) -> BTreeMap<Stage, Timestamp> {
    let mut given: BTreeMap<Stage, Timestamp> = BTreeMap::new();
    let mut ended = Vec::new();
    for e in sla {
        match e.kind {
            SlaKind::Started | SlaKind::Extended | SlaKind::Breached => {
                let d = given.entry(e.stage).or_insert(e.deadline);
                *d = (*d).max(e.deadline);
            }
            SlaKind::Met | SlaKind::Late | SlaKind::Cancelled => ended.push(e.stage),
            _ => {}
        }
    }
    given.retain(|stage, _| !ended.contains(stage));
    given
}

/// The progress of one complaint. `sla` holds its current cycle's SLA events.
pub fn progress(
    c: &ComplaintRow,
    sla: &[SlaEvent],
    masked: Option<&MaskedRecord>,
    zone: Tz,
    names: &BTreeMap<String, String>,
) -> Progress {
    let department = |id: &str| Department {
        id: id.to_string(),
        name: names.get(id).cloned().unwrap_or_else(|| id.to_string()),
    };
    let open = open_deadlines(sla);
    let ended = c.archived_at.is_some() || c.withdrawn_at.is_some();
    let mut current_stage = None;
    let timeline: Vec<Step> = PLAIN
        .iter()
        .map(|(name, stages)| {
            let runs: Vec<(Option<Timestamp>, StageOutcome)> =
                stages.iter().map(|s| stage_of(c, *s)).collect();
            let done = runs.iter().filter_map(|r| r.0).max();
            let all_done = runs
                .iter()
                .all(|r| r.0.is_some() || r.1 == StageOutcome::NotStarted);
            let deadline = stages.iter().filter_map(|s| open.get(s)).min().copied();
            let sla = runs
                .iter()
                .map(|r| r.1)
                .max_by_key(|o| severity(*o))
                .unwrap_or_default();
            let state = if deadline.is_some() && !ended {
                "in_progress"
            } else if done.is_some() && all_done {
                "done"
            } else {
                "pending"
            };
            if state == "in_progress" && current_stage.is_none() {
                current_stage = Some(name.to_string());
            }
            Step {
                stage: name,
                state,
                done_at: local(done, zone),
                deadline: if state == "in_progress" {
                    local(deadline, zone)
                } else {
                    None
                },
                sla: sla.as_str(),
            }
        })
        .collect();
    Progress {
        complaint_id: c.complaint_id.clone(),
        channel: c.channel.clone(),
        customer: Customer {
            id: c.customer_id.clone(),
            name: masked.map_or_else(|| "***".to_string(), |m| m.customer.clone()),
        },
        summary: masked
            .map(|m| crate::notify::message::summary_of(&m.description))
            .unwrap_or_default(),
        status: c.status.as_str().to_string(),
        category: c.category.as_str().to_string(),
        priority: c.priority.as_str().to_string(),
        lead_department: department(&c.lead_department),
        assist_departments: c.assist_departments.iter().map(|d| department(d)).collect(),
        received_at: local(Some(c.received_at), zone).unwrap_or_default(),
        cycle: c.cycle,
        reopened: c.cycle > 0,
        current_stage,
        timeline,
        result: Outcome {
            handled_at: local(c.handled_at, zone),
            satisfied: c.satisfied,
            closed: c.archived_at.is_some() || c.status == Status::Closed,
            withdrawn: c.withdrawn_at.is_some(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        chrono::DateTime::from_timestamp_millis(ms).unwrap()
    }

    const T0: i64 = 1_762_048_800_000; // 2025-11-02 02:00 UTC

    fn record() -> ComplaintRow {
        use crate::model::{Category, Priority};
        ComplaintRow {
            complaint_id: "CF-1".into(),
            channel: "phone".into(),
            customer_id: "U-1".into(),
            status: Status::Handling,
            category: Category::Technical,
            priority: Priority::Important,
            lead_department: "technical".into(),
            assist_departments: vec!["business".into()],
            coordination_required: true,
            ruleset_version: "test".into(),
            received_at: at(T0),
            acknowledged_at: Some(at(T0 + 300_000)),
            assigned_at: Some(at(T0 + 600_000)),
            responded_at: None,
            handled_at: None,
            reported_at: None,
            confirmed_at: None,
            archived_at: None,
            withdrawn_at: None,
            cycle: 1,
            satisfied: None,
            acknowledge_sla: StageOutcome::Met,
            assign_sla: StageOutcome::Met,
            respond_sla: StageOutcome::Open,
            handle_sla: StageOutcome::Breached,
            report_sla: StageOutcome::NotStarted,
            confirm_sla: StageOutcome::NotStarted,
            breaches: 1,
            updated_at: at(T0),
            version: 1,
        }
    }

    fn sla(stage: Stage, kind: SlaKind, deadline_ms: i64) -> SlaEvent {
        SlaEvent {
            event_id: format!("CF-1:1:{stage}:{kind}"),
            complaint_id: "CF-1".into(),
            stage,
            cycle: 1,
            kind,
            deadline: at(deadline_ms),
            at: at(T0),
            priority: crate::model::Priority::Important,
            lead_department: "technical".into(),
        }
    }

    #[test]
    fn the_stage_in_progress_shows_its_earliest_deadline_in_local_time() {
        let t0 = T0;
        let events = [
            sla(Stage::Assign, SlaKind::Met, t0 + 2_400_000),
            sla(Stage::Acknowledge, SlaKind::Met, t0 + 600_000),
            sla(Stage::Acknowledge, SlaKind::Started, t0 + 600_000),
            sla(Stage::Assign, SlaKind::Started, t0 + 2_400_000),
            sla(Stage::Handle, SlaKind::Started, t0 + 86_400_000),
            sla(Stage::Respond, SlaKind::Started, t0 + 43_200_000),
            sla(Stage::Handle, SlaKind::Breached, t0 + 86_400_000),
        ];
        let zone: Tz = "Asia/Shanghai".parse().unwrap();
        let names = BTreeMap::from([("technical".to_string(), "技术部门".to_string())]);
        let p = progress(&record(), &events, None, zone, &names);
        assert_eq!(p.current_stage.as_deref(), Some("处理"));
        let handling = &p.timeline[2];
        assert_eq!(handling.state, "in_progress");
        // The first answer's 12 h, not completion's 24 h: 02:00 UTC + 12 h = 22:00 in Shanghai.
        assert_eq!(
            handling.deadline.as_deref(),
            Some("2025-11-02T22:00:00+08:00")
        );
        assert_eq!(handling.sla, "breached", "the worst of respond and handle");
        assert_eq!(p.timeline[0].state, "done");
        assert_eq!(
            p.timeline[1].state, "done",
            "met and started at one instant, in any order"
        );
        assert_eq!(
            p.timeline[0].done_at.as_deref(),
            Some("2025-11-02T10:05:00+08:00")
        );
        assert_eq!(p.timeline[3].state, "pending");
        assert!(p.reopened);
        assert_eq!(p.lead_department.name, "技术部门");
        assert_eq!(p.customer.name, "***");
    }
}
