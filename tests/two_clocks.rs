//! Handling runs two clocks: `respond` (the first answer, for priorities
//! with a first-answer target) beside `handle` (completion); a reopen goes
//! back to the group's departments (docs/contract.md "SLA policy").

mod common;
use common::*;
use complaintflow::model::Priority;
use complaintflow::model::output::StageOutcome;
use serde_json::json;

const OUTAGE: &str = "家里宽带断网了,光猫灯一直闪";

fn stage_lines(lines: &[String], stage: &str) -> Vec<String> {
    let (sink, _) = replay(lines, None);
    assert!(sink.dead_letters.is_empty(), "{:?}", sink.dead_letters);
    sla_lines(&sink)
        .into_iter()
        .filter(|l| l.split(' ').nth(1) == Some(stage))
        .collect()
}

#[test]
fn raised_to_urgent_three_hours_into_handling_the_hour_counts_from_the_raise() {
    let lines = vec![
        received("e1", "U1", "02T09:00", OUTAGE, "single"),
        ev("e2", "U1", "02T09:05", "acknowledged", json!({})),
        ev(
            "e3",
            "U1",
            "02T12:05",
            "assigned",
            json!({"lead_department": "technical", "priority": "urgent"}),
        ),
        ev(
            "e4",
            "U1",
            "02T12:50",
            "progress",
            json!({"note": "crew sent", "kind": "response"}),
        ),
    ];
    // A general complaint has no first-answer clock until the raise.
    assert_eq!(
        stage_lines(&lines, "respond"),
        [
            "0 respond started at=02T12:05 deadline=02T13:05",
            "0 respond escalated at=02T12:05 deadline=02T13:05",
            "0 respond met at=02T12:50 deadline=02T13:05",
        ]
    );
    // Completion keeps its 24 h from the assignment.
    assert_eq!(
        stage_lines(&lines, "handle"),
        ["0 handle started at=02T09:05 deadline=03T09:05"]
    );
}

#[test]
fn an_important_complaint_raised_to_urgent_gets_its_answer_due_an_hour_after_the_raise() {
    let lines = vec![
        received("e1", "U2", "02T09:00", "晚上网速慢,邻居也一样", "multiple"),
        ev("e2", "U2", "02T09:00", "acknowledged", json!({})),
        ev(
            "e3",
            "U2",
            "02T12:00",
            "assigned",
            json!({"lead_department": "technical", "priority": "urgent"}),
        ),
    ];
    let (sink, _) = replay(&lines, Some("02T14:00"));
    let respond: Vec<String> = sla_lines(&sink)
        .into_iter()
        .filter(|l| l.contains(" respond "))
        .collect();
    assert_eq!(
        respond,
        [
            "0 respond started at=02T09:00 deadline=02T21:00",
            "0 respond escalated at=02T12:00 deadline=02T13:00",
            // 80 % of the moved span (09:00 to 13:00).
            "0 respond warning at=02T12:12 deadline=02T13:00",
            "0 respond breached at=02T13:00 deadline=02T13:00",
            "0 respond escalated at=02T13:00 deadline=02T13:00",
        ]
    );
    assert_eq!(sink.complaints[0].respond_sla, StageOutcome::Breached);
}

#[test]
fn an_extension_names_the_clock_it_moves() {
    let base = vec![
        received("e1", "X1", "02T09:00", "晚上网速慢,邻居也一样", "multiple"),
        ev("e2", "X1", "02T09:00", "acknowledged", json!({})),
    ];
    let ask = |stage: Option<&str>| {
        let mut v = json!({"until": t("02T23:00"), "reason": "waiting for the vendor"});
        if let Some(s) = stage {
            v["stage"] = s.into();
        }
        let mut d = json!({"approved": true});
        if let Some(s) = stage {
            d["stage"] = s.into();
        }
        let mut lines = base.clone();
        lines.push(ev("e3", "X1", "02T10:00", "extension_requested", v));
        lines.push(ev("e4", "X1", "02T10:30", "extension_decided", d));
        lines
    };
    // `respond` (12 h, to 21:00) moves to 23:00; `handle` stays.
    let respond = ask(Some("respond"));
    assert_eq!(
        stage_lines(&respond, "respond")[1],
        "0 respond extended at=02T10:30 deadline=02T23:00"
    );
    assert_eq!(
        stage_lines(&respond, "handle"),
        ["0 handle started at=02T09:00 deadline=03T09:00"]
    );
    // Without a stage the completion clock is meant: 23:00 does not move
    // its deadline (03T09:00), so the request is refused.
    let (sink, _) = replay(&ask(None), None);
    assert_eq!(sink.dead_letters.len(), 2, "{:?}", sink.dead_letters);
    assert!(
        sink.dead_letters[0]
            .reason
            .contains("does not move the deadline 2026-03-03T09:00:00+00:00")
    );
    // Naming `handle` with a later date moves it.
    let mut handle = base.clone();
    handle.push(ev(
        "e3",
        "X1",
        "02T10:00",
        "extension_requested",
        json!({"until": t("03T12:00"), "reason": "r", "stage": "handle"}),
    ));
    handle.push(ev(
        "e4",
        "X1",
        "02T10:30",
        "extension_decided",
        json!({"approved": true}),
    ));
    assert_eq!(
        stage_lines(&handle, "handle")[1],
        "0 handle extended at=02T10:30 deadline=03T12:00"
    );
}

#[test]
fn a_reopen_goes_back_to_the_departments_the_group_chose() {
    // Billing, decided `business`; the group re-routes to `technical`.
    let lines = vec![
        received(
            "e1",
            "R1",
            "02T09:00",
            "本月账单重复扣费两次,请核实",
            "single",
        ),
        ev("e2", "R1", "02T09:05", "acknowledged", json!({})),
        ev(
            "e3",
            "R1",
            "02T09:30",
            "assigned",
            json!({"lead_department": "technical", "assist_departments": ["business"]}),
        ),
        handled("e4", "R1", "02T12:00"),
        ev("e5", "R1", "02T12:30", "reported", json!({})),
        ev(
            "e6",
            "R1",
            "02T12:45",
            "customer_confirmed",
            json!({"satisfied": false, "comment": "还是重复扣费"}),
        ),
    ];
    let (sink, _) = replay(&lines, None);
    assert!(sink.dead_letters.is_empty(), "{:?}", sink.dead_letters);
    let first = &sink.decisions[0];
    assert_eq!(first.lead_department, "business");
    let again = &sink.decisions[1];
    assert_eq!(again.cycle, 1);
    assert_eq!(
        (
            again.lead_department.as_str(),
            again.assist_departments.as_slice()
        ),
        ("technical", ["business".to_string()].as_slice())
    );
    assert!(!again.coordination_required);
    assert!(
        again.reason.ends_with("; the group's routing kept"),
        "{}",
        again.reason
    );
    // Priority is decided again (a reopen raises it).
    assert_eq!(again.priority, Priority::Important);
    let row = &sink.complaints[0];
    assert_eq!(row.lead_department, "technical");
}

#[test]
fn a_state_written_before_respond_existed_still_reads() {
    use complaintflow::core::{Effects, Engine, Origin};
    use complaintflow::model::{Event, Stage};
    use complaintflow::rules::RuleSet;
    let rules = RuleSet::embedded();
    let mut engine = Engine::new();
    let mut out = Effects::default();
    for line in [
        received("e1", "OLD", "02T09:00", OUTAGE, "single"),
        ev("e2", "OLD", "02T09:05", "acknowledged", json!({})),
    ] {
        let e = Event::from_json(&line).unwrap();
        engine
            .process(&e, payload_of(&e), Origin::default, &rules, &mut out)
            .unwrap();
    }
    let mut v = serde_json::to_value(engine.complaint("OLD").unwrap()).unwrap();
    // The five outcomes of old: acknowledge, assign, handle, report, confirm.
    v["outcomes"] = json!(["met", "met", "open", "not_started", "not_started"]);
    v.as_object_mut().unwrap().remove("respond");
    let c: complaintflow::core::Complaint = serde_json::from_value(v).unwrap();
    assert_eq!(c.outcomes[Stage::Respond.index()], StageOutcome::NotStarted);
    assert_eq!(c.outcomes[Stage::Handle.index()], StageOutcome::Open);
    assert_eq!(c.outcomes[Stage::Confirm.index()], StageOutcome::NotStarted);
}
