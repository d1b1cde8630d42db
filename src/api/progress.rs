//! A complaint's progress for people, from its warehouse rows: pure. The
//! regulation's plain stages (受理, 分配, 处理, 结果反馈, 回访), each done,
//! in progress (with its deadline in local time) or pending; the cycle;
//! the result. Personal data only as the analyst views give it (masked).

use crate::model::Stage;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `complaints` row, times as Unix milliseconds.
#[derive(Debug, Clone, Deserialize)]
pub struct ComplaintRecord {
    pub complaint_id: String,
    pub channel: String,
    pub customer_id: String,
    pub status: String,
    pub category: String,
    pub priority: String,
    pub lead_department: String,
    pub assist_departments: Vec<String>,
    pub cycle: u32,
    pub satisfied: Option<bool>,
    pub received_ms: i64,
    pub acknowledged_ms: Option<i64>,
    pub assigned_ms: Option<i64>,
    pub responded_ms: Option<i64>,
    pub handled_ms: Option<i64>,
    pub reported_ms: Option<i64>,
    pub confirmed_ms: Option<i64>,
    pub archived_ms: Option<i64>,
    pub withdrawn_ms: Option<i64>,
    pub acknowledge_sla: String,
    pub assign_sla: String,
    pub respond_sla: String,
    pub handle_sla: String,
    pub report_sla: String,
    pub confirm_sla: String,
}

/// One SLA event of the complaint's current cycle.
#[derive(Debug, Clone, Deserialize)]
pub struct SlaRecord {
    pub complaint_id: String,
    pub cycle: u32,
    pub stage: String,
    pub kind: String,
    pub deadline_ms: i64,
}

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
    pub sla: String,
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

fn local(ms: Option<i64>, zone: Tz) -> Option<String> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| {
            t.with_timezone(&zone)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
}

impl ComplaintRecord {
    fn done_ms(&self, stage: Stage) -> Option<i64> {
        match stage {
            Stage::Acknowledge => self.acknowledged_ms,
            Stage::Assign => self.assigned_ms,
            Stage::Respond => self.responded_ms,
            Stage::Handle => self.handled_ms,
            Stage::Report => self.reported_ms,
            Stage::Confirm => self.confirmed_ms,
        }
    }

    fn sla(&self, stage: Stage) -> &str {
        match stage {
            Stage::Acknowledge => &self.acknowledge_sla,
            Stage::Assign => &self.assign_sla,
            Stage::Respond => &self.respond_sla,
            Stage::Handle => &self.handle_sla,
            Stage::Report => &self.report_sla,
            Stage::Confirm => &self.confirm_sla,
        }
    }
}

/// How bad an SLA outcome is, to show the worst of a plain stage's.
fn severity(sla: &str) -> u8 {
    match sla {
        "breached" => 5,
        "late" => 4,
        "open" => 3,
        "met" => 2,
        "cancelled" => 1,
        _ => 0,
    }
}

/// Each open SLA stage's deadline. A stage runs at most once a cycle: it
/// is open when it started and has not ended (met, late, cancelled), and
/// its deadline is the latest it was given (an extension moves it). The
/// order of the events does not matter: several share one instant.
fn open_deadlines(sla: &[SlaRecord]) -> BTreeMap<Stage, i64> {
    let mut given: BTreeMap<Stage, i64> = BTreeMap::new();
    let mut ended = Vec::new();
    for e in sla {
        let Some(stage) = Stage::parse(&e.stage) else {
            continue;
        };
        match e.kind.as_str() {
            "started" | "extended" | "breached" => {
                let d = given.entry(stage).or_insert(e.deadline_ms);
                *d = (*d).max(e.deadline_ms);
            }
            "met" | "late" | "cancelled" => ended.push(stage),
            _ => {}
        }
    }
    given.retain(|stage, _| !ended.contains(stage));
    given
}

/// The progress of one complaint. `sla` holds its current cycle's SLA events.
pub fn progress(
    c: &ComplaintRecord,
    sla: &[SlaRecord],
    masked: Option<&MaskedRecord>,
    zone: Tz,
    names: &BTreeMap<String, String>,
) -> Progress {
    let department = |id: &str| Department {
        id: id.to_string(),
        name: names.get(id).cloned().unwrap_or_else(|| id.to_string()),
    };
    let open = open_deadlines(sla);
    let ended = c.archived_ms.is_some() || c.withdrawn_ms.is_some();
    let mut current_stage = None;
    let timeline: Vec<Step> = PLAIN
        .iter()
        .map(|(name, stages)| {
            let done = stages.iter().filter_map(|s| c.done_ms(*s)).max();
            let all_done = stages
                .iter()
                .all(|s| c.done_ms(*s).is_some() || c.sla(*s) == "not_started");
            let deadline = stages.iter().filter_map(|s| open.get(s)).min().copied();
            let sla = stages
                .iter()
                .map(|s| c.sla(*s))
                .max_by_key(|s| severity(s))
                .unwrap_or("not_started");
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
                sla: sla.to_string(),
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
        status: c.status.clone(),
        category: c.category.clone(),
        priority: c.priority.clone(),
        lead_department: department(&c.lead_department),
        assist_departments: c.assist_departments.iter().map(|d| department(d)).collect(),
        received_at: local(Some(c.received_ms), zone).unwrap_or_default(),
        cycle: c.cycle,
        reopened: c.cycle > 0,
        current_stage,
        timeline,
        result: Outcome {
            handled_at: local(c.handled_ms, zone),
            satisfied: c.satisfied,
            closed: c.archived_ms.is_some() || c.status == "closed",
            withdrawn: c.withdrawn_ms.is_some(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ComplaintRecord {
        let t0 = 1_762_048_800_000; // 2025-11-02 02:00 UTC
        ComplaintRecord {
            complaint_id: "CF-1".into(),
            channel: "phone".into(),
            customer_id: "U-1".into(),
            status: "handling".into(),
            category: "technical".into(),
            priority: "important".into(),
            lead_department: "technical".into(),
            assist_departments: vec!["business".into()],
            cycle: 1,
            satisfied: None,
            received_ms: t0,
            acknowledged_ms: Some(t0 + 300_000),
            assigned_ms: Some(t0 + 600_000),
            responded_ms: None,
            handled_ms: None,
            reported_ms: None,
            confirmed_ms: None,
            archived_ms: None,
            withdrawn_ms: None,
            acknowledge_sla: "met".into(),
            assign_sla: "met".into(),
            respond_sla: "open".into(),
            handle_sla: "breached".into(),
            report_sla: "not_started".into(),
            confirm_sla: "not_started".into(),
        }
    }

    fn sla(stage: &str, kind: &str, deadline_ms: i64) -> SlaRecord {
        SlaRecord {
            complaint_id: "CF-1".into(),
            cycle: 1,
            stage: stage.into(),
            kind: kind.into(),
            deadline_ms,
        }
    }

    #[test]
    fn the_stage_in_progress_shows_its_earliest_deadline_in_local_time() {
        let t0 = 1_762_048_800_000;
        let events = [
            sla("assign", "met", t0 + 2_400_000),
            sla("acknowledge", "met", t0 + 600_000),
            sla("acknowledge", "started", t0 + 600_000),
            sla("assign", "started", t0 + 2_400_000),
            sla("handle", "started", t0 + 86_400_000),
            sla("respond", "started", t0 + 43_200_000),
            sla("handle", "breached", t0 + 86_400_000),
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
