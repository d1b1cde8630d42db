//! Hand-written scenarios replayed through the shipped rules, with literal
//! expected SLA outputs (docs/contract.md "SLA policy").

mod common;
use common::*;
use complaintflow::model::output::{StageOutcome, Status};
use complaintflow::model::{Category, Priority};
use serde_json::json;

const OUTAGE: &str = "家里宽带断网了,光猫灯一直闪";

fn general_until_confirm(c: &str, satisfied: bool) -> Vec<String> {
    vec![
        received("e1", c, "02T09:00", OUTAGE, "single"),
        ev("e2", c, "02T09:05", "acknowledged", json!({})),
        ev(
            "e3",
            c,
            "02T15:00",
            "handled",
            json!({"cause": "fiber cut", "measures": "spliced", "result": "restored"}),
        ),
        ev("e4", c, "02T15:30", "reported", json!({})),
        ev(
            "e5",
            c,
            "02T15:40",
            "customer_confirmed",
            json!({"satisfied": satisfied}),
        ),
    ]
}

#[test]
fn general_complaint_meets_every_stage_on_time() {
    let mut lines = general_until_confirm("C1", true);
    lines.push(ev("e6", "C1", "02T16:00", "archived", json!({})));
    let (sink, _) = replay(&lines, None);
    assert_eq!(sink.decisions.len(), 1);
    let d = &sink.decisions[0];
    assert_eq!(
        (d.category, d.priority, d.lead_department.as_str()),
        (Category::Technical, Priority::General, "technical")
    );
    assert!(!d.coordination_required);
    assert_eq!(
        sla_lines(&sink),
        [
            "0 acknowledge started at=02T09:00 deadline=02T09:10",
            "0 acknowledge met at=02T09:05 deadline=02T09:10",
            "0 assign started at=02T09:05 deadline=02T09:35",
            "0 assign met at=02T09:05 deadline=02T09:35",
            "0 handle started at=02T09:05 deadline=03T09:05",
            "0 handle met at=02T15:00 deadline=03T09:05",
            "0 report started at=02T15:00 deadline=02T16:00",
            "0 report met at=02T15:30 deadline=02T16:00",
            "0 confirm started at=02T15:30 deadline=02T16:00",
            "0 confirm met at=02T15:40 deadline=02T16:00",
        ]
    );
    assert_eq!(sink.sla[0].event_id, "C1:0:acknowledge:started");
    let row = &sink.complaints[0];
    assert_eq!(row.status, Status::Archived);
    assert_eq!(row.handle_sla, StageOutcome::Met);
    assert_eq!(row.breaches, 0);
    assert!(sink.dead_letters.is_empty());
}

#[test]
fn late_acknowledgement_breaches_escalates_then_ends_late() {
    let lines = vec![
        received("e1", "C2", "02T09:00", OUTAGE, "single"),
        ev("e2", "C2", "02T09:25", "acknowledged", json!({})),
    ];
    let (sink, summary) = replay(&lines, None);
    let ack = &summary.stages[&complaintflow::model::Stage::Acknowledge];
    assert_eq!((ack.escalated, ack.escalated_urgent), (1, 0));
    assert_eq!(
        sla_lines(&sink),
        [
            "0 acknowledge started at=02T09:00 deadline=02T09:10",
            "0 acknowledge warning at=02T09:08 deadline=02T09:10",
            "0 acknowledge breached at=02T09:10 deadline=02T09:10",
            "0 acknowledge escalated at=02T09:10 deadline=02T09:10",
            "0 acknowledge late at=02T09:25 deadline=02T09:10",
            "0 assign started at=02T09:25 deadline=02T09:55",
            "0 assign met at=02T09:25 deadline=02T09:55",
            "0 handle started at=02T09:25 deadline=03T09:25",
        ]
    );
    assert_eq!(sink.sla[3].event_id, "C2:0:acknowledge:escalated:breach");
    assert_eq!(sink.complaints[0].acknowledge_sla, StageOutcome::Late);
    assert_eq!(sink.complaints[0].breaches, 1);
}

#[test]
fn important_complaint_answered_in_time_but_fixed_late_meets_respond_and_breaches_handle() {
    // Assigned 09:02; a preliminary solution 11 h later, the fix 26 h later.
    let lines = vec![
        received("e1", "C3", "02T09:00", "晚上网速慢,邻居也一样", "multiple"),
        ev("e2", "C3", "02T09:02", "acknowledged", json!({})),
        ev(
            "e3",
            "C3",
            "02T10:00",
            "progress",
            json!({"note": "reset the port", "kind": "update"}),
        ),
        ev(
            "e4",
            "C3",
            "02T20:02",
            "progress",
            json!({"note": "temporary route", "kind": "preliminary_solution"}),
        ),
        ev(
            "e5",
            "C3",
            "03T11:02",
            "handled",
            json!({"cause": "congestion", "measures": "upgrade", "result": "ok"}),
        ),
    ];
    let (sink, _) = replay(&lines, None);
    assert_eq!(sink.decisions[0].priority, Priority::Important);
    assert_eq!(
        sla_lines(&sink),
        [
            "0 acknowledge started at=02T09:00 deadline=02T09:10",
            "0 acknowledge met at=02T09:02 deadline=02T09:10",
            "0 assign started at=02T09:02 deadline=02T09:32",
            "0 assign met at=02T09:02 deadline=02T09:32",
            "0 handle started at=02T09:02 deadline=03T09:02",
            "0 respond started at=02T09:02 deadline=02T21:02",
            "0 respond warning at=02T18:38 deadline=02T21:02",
            "0 respond met at=02T20:02 deadline=02T21:02",
            "0 handle warning at=03T04:14 deadline=03T09:02",
            "0 handle breached at=03T09:02 deadline=03T09:02",
            "0 handle escalated at=03T09:02 deadline=03T09:02",
            "0 handle late at=03T11:02 deadline=03T09:02",
            "0 report started at=03T11:02 deadline=03T12:02",
        ]
    );
    let row = &sink.complaints[0];
    assert_eq!(
        (row.respond_sla, row.handle_sla),
        (StageOutcome::Met, StageOutcome::Late)
    );
    assert_eq!(
        row.responded_at.unwrap().to_rfc3339(),
        "2026-03-02T20:02:00+00:00"
    );
}

#[test]
fn urgent_complaint_escalates_at_once_and_a_response_meets_respond() {
    let lines = vec![
        received("e1", "C4", "02T09:00", "整个小区都无法上网", "widespread"),
        ev("e2", "C4", "02T09:03", "acknowledged", json!({})),
        ev(
            "e3",
            "C4",
            "02T09:40",
            "progress",
            json!({"note": "crew on site", "kind": "response"}),
        ),
    ];
    let (sink, summary) = replay(&lines, None);
    assert_eq!(sink.decisions[0].priority, Priority::Urgent);
    // Counted as an escalation for urgency, not for a breach (rules diff
    // shows the two apart).
    let ack = &summary.stages[&complaintflow::model::Stage::Acknowledge];
    assert_eq!((ack.escalated, ack.escalated_urgent), (1, 1));
    assert_eq!(
        sla_lines(&sink),
        [
            "0 acknowledge started at=02T09:00 deadline=02T09:10",
            "0 acknowledge escalated at=02T09:00 deadline=02T09:10",
            "0 acknowledge met at=02T09:03 deadline=02T09:10",
            "0 assign started at=02T09:03 deadline=02T09:33",
            "0 assign met at=02T09:03 deadline=02T09:33",
            "0 handle started at=02T09:03 deadline=03T09:03",
            "0 respond started at=02T09:03 deadline=02T10:03",
            "0 respond met at=02T09:40 deadline=02T10:03",
        ]
    );
    assert_eq!(sink.sla[1].event_id, "C4:0:acknowledge:escalated:urgent");
}

#[test]
fn approved_extension_before_the_deadline_moves_it() {
    let lines = vec![
        received("e1", "C5", "02T09:00", OUTAGE, "single"),
        ev("e2", "C5", "02T09:05", "acknowledged", json!({})),
        ev(
            "e3",
            "C5",
            "03T02:00",
            "extension_requested",
            json!({"until": t("03T21:05"), "reason": "spare part"}),
        ),
        ev(
            "e4",
            "C5",
            "03T03:00",
            "extension_decided",
            json!({"approved": true}),
        ),
        handled("e5", "C5", "03T20:00"),
    ];
    let (sink, _) = replay(&lines, None);
    assert_eq!(
        sla_lines(&sink)[4..],
        [
            "0 handle started at=02T09:05 deadline=03T09:05",
            "0 handle extended at=03T03:00 deadline=03T21:05",
            "0 handle warning at=03T13:53 deadline=03T21:05",
            "0 handle met at=03T20:00 deadline=03T21:05",
            "0 report started at=03T20:00 deadline=03T21:00",
        ]
    );
    assert_eq!(sink.sla[5].event_id, "C5:0:handle:extended:1");
    assert_eq!(sink.sla[6].event_id, "C5:0:handle:warning:1");
    assert!(sink.dead_letters.is_empty());
}

#[test]
fn extension_asked_after_the_deadline_is_a_dead_letter() {
    let lines = vec![
        received("e1", "C6", "02T09:00", OUTAGE, "single"),
        ev("e2", "C6", "02T09:05", "acknowledged", json!({})),
        ev(
            "e3",
            "C6",
            "03T10:00",
            "extension_requested",
            json!({"until": t("04T09:05"), "reason": "forgot"}),
        ),
    ];
    // The refused request moves no clock: the breach comes from the clock
    // reaching 03T10:00 (`--until`), not from the request's time.
    let (sink, _) = replay(&lines, Some("03T10:00"));
    assert_eq!(
        sla_lines(&sink)[4..],
        [
            "0 handle started at=02T09:05 deadline=03T09:05",
            "0 handle warning at=03T04:17 deadline=03T09:05",
            "0 handle breached at=03T09:05 deadline=03T09:05",
            "0 handle escalated at=03T09:05 deadline=03T09:05",
        ]
    );
    assert_eq!(sink.dead_letters.len(), 1);
    let dl = &sink.dead_letters[0];
    assert_eq!(
        dl.reason,
        "invalid_extension: extension of `handle` requested at 2026-03-03T10:00:00+00:00 after its deadline 2026-03-03T09:05:00+00:00; it must be asked before"
    );
    assert_eq!(dl.source, "scenario:3");
    assert_eq!(dl.payload, lines[2]);
}

#[test]
fn not_satisfied_reopens_cycle_one_with_a_new_decision() {
    let mut lines = general_until_confirm("C7", false);
    lines.push(handled("e6", "C7", "02T20:00"));
    let (sink, _) = replay(&lines, None);
    assert_eq!(sink.decisions.len(), 2);
    let d = &sink.decisions[1];
    assert_eq!((d.cycle, d.priority), (1, Priority::Important));
    assert_eq!(d.decision_id, "C7:1:decision");
    assert!(d.reason.contains("reopened"), "{}", d.reason);
    assert_eq!(
        sla_lines(&sink)[9..],
        [
            "0 confirm met at=02T15:40 deadline=02T16:00",
            "1 handle started at=02T15:40 deadline=03T15:40",
            "1 respond started at=02T15:40 deadline=03T03:40",
            // The fix answers the customer too.
            "1 respond met at=02T20:00 deadline=03T03:40",
            "1 handle met at=02T20:00 deadline=03T15:40",
            "1 report started at=02T20:00 deadline=02T21:00",
        ]
    );
    let row = &sink.complaints[0];
    assert_eq!(
        (row.cycle, row.satisfied, row.status),
        (1, Some(false), Status::Handled)
    );
}

#[test]
fn withdrawal_cancels_the_open_clock() {
    let lines = vec![
        received("e1", "C8", "02T09:00", OUTAGE, "single"),
        ev("e2", "C8", "02T09:05", "acknowledged", json!({})),
        ev(
            "e3",
            "C8",
            "02T10:00",
            "withdrawn",
            json!({"reason": "fixed itself"}),
        ),
        handled("e4", "C8", "02T11:00"),
    ];
    let (sink, _) = replay(&lines, Some("05T00:00"));
    assert_eq!(
        sla_lines(&sink)[4..],
        [
            "0 handle started at=02T09:05 deadline=03T09:05",
            "0 handle cancelled at=02T10:00 deadline=03T09:05"
        ]
    );
    assert_eq!(sink.complaints[0].status, Status::Withdrawn);
    assert_eq!(sink.complaints[0].handle_sla, StageOutcome::Cancelled);
    assert_eq!(sink.dead_letters.len(), 1);
    assert!(
        sink.dead_letters[0].reason.starts_with("complaint_closed:"),
        "{}",
        sink.dead_letters[0].reason
    );
}

#[test]
fn a_repeated_event_id_is_ignored() {
    let once = general_until_confirm("C9", true);
    let mut twice = Vec::new();
    for l in &once {
        twice.push(l.clone());
        twice.push(l.clone());
    }
    let (a, sa) = replay(&once, None);
    let (b, sb) = replay(&twice, None);
    assert_eq!(a.sla, b.sla);
    assert_eq!(a.decisions, b.decisions);
    assert_eq!(a.complaints, b.complaints);
    assert!(b.dead_letters.is_empty());
    assert_eq!((sa.duplicates, sb.duplicates), (0, 5));
}

#[test]
fn invalid_transitions_go_to_dead_letters_with_precise_reasons() {
    let lines = vec![
        // Technical with business assisting: the group must assign.
        received(
            "e1",
            "C10",
            "02T09:00",
            "网络故障一周了还照常扣费",
            "single",
        ),
        ev("e2", "C10", "02T09:05", "acknowledged", json!({})),
        handled("e3", "C10", "02T09:20"),
        ev("x1", "C404", "02T09:21", "reported", json!({})),
        received("x2", "C10", "02T09:22", "again", "single"),
        ev(
            "e4",
            "C10",
            "02T09:30",
            "assigned",
            json!({"lead_department": "technical", "assist_departments": ["business"]}),
        ),
        handled("e5", "C10", "02T12:00"),
        ev("e6", "C10", "02T12:30", "reported", json!({})),
        ev(
            "e7",
            "C10",
            "02T12:40",
            "customer_confirmed",
            json!({"satisfied": true}),
        ),
        ev(
            "e8",
            "C10",
            "02T12:45",
            "customer_confirmed",
            json!({"satisfied": true}),
        ),
        ev("e9", "C10", "02T13:00", "archived", json!({})),
        ev(
            "e10",
            "C10",
            "02T13:05",
            "progress",
            json!({"note": "late note"}),
        ),
        "}{ not json".to_string(),
    ];
    let (sink, summary) = replay(&lines, None);
    assert!(sink.decisions[0].coordination_required);
    let reasons: Vec<(&str, &str)> = sink
        .dead_letters
        .iter()
        .map(|d| (d.source.as_str(), d.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "scenario:5",
                "already_received: complaint `C10` was already received (with another event_id)"
            ),
            // Held for the assignment, which turned out to be later.
            (
                "scenario:3",
                "invalid_transition: `complaint.handled` at 2026-03-02T09:20:00+00:00 is dated before `complaint.assigned` at 2026-03-02T09:30:00+00:00, the step of complaint `C10` it follows"
            ),
            // Held for a receipt that never came.
            (
                "scenario:4",
                "unknown_complaint: `complaint.reported` for complaint `C404`, which was never received; it waited for the complaint's earlier events, which did not come within the allowed lateness"
            ),
            (
                "scenario:10",
                "invalid_transition: `complaint.customer_confirmed` is not valid while complaint `C10` is `closed` (confirmation follows the result report, once per cycle)"
            ),
            (
                "scenario:12",
                "complaint_closed: `complaint.progress` after complaint `C10` was archived; nothing may follow"
            ),
            (
                "scenario:13",
                "unparsable: not valid JSON: expected value at line 1 column 1"
            ),
        ]
    );
    assert!(sink.dead_letters.iter().all(|d| lines.contains(&d.payload)));
    assert_eq!(sink.complaints[0].status, Status::Archived);
    assert_eq!(summary.dead_letters.values().sum::<u64>(), 6);
    // Assign ran until the group's assignment.
    assert!(sla_lines(&sink).contains(&"0 assign met at=02T09:30 deadline=02T09:35".to_string()));
}

#[test]
fn reassignment_during_handling_reroutes_and_follows_the_new_priority() {
    let lines = vec![
        received("e1", "C11", "02T09:00", OUTAGE, "single"),
        ev("e2", "C11", "02T09:05", "acknowledged", json!({})),
        ev(
            "e3",
            "C11",
            "02T10:00",
            "assigned",
            json!({"lead_department": "network_ops", "priority": "urgent"}),
        ),
        handled("e4", "C11", "02T10:30"),
    ];
    let (sink, _) = replay(&lines, None);
    assert_eq!(
        sla_lines(&sink)[4..],
        [
            "0 handle started at=02T09:05 deadline=03T09:05",
            // Raised to urgent almost an hour into handling: the first
            // answer is due one hour after the raise.
            "0 respond started at=02T10:00 deadline=02T11:00",
            "0 respond escalated at=02T10:00 deadline=02T11:00",
            "0 respond met at=02T10:30 deadline=02T11:00",
            "0 handle met at=02T10:30 deadline=03T09:05",
            "0 report started at=02T10:30 deadline=02T11:30",
        ]
    );
    assert!(
        sink.sla[5..]
            .iter()
            .all(|e| e.lead_department == "network_ops" && e.priority == Priority::Urgent)
    );
    let row = &sink.complaints[0];
    assert_eq!(
        row.assigned_at.unwrap().to_rfc3339(),
        "2026-03-02T09:05:00+00:00"
    );
    assert_eq!(
        (row.lead_department.as_str(), row.priority),
        ("network_ops", Priority::Urgent)
    );
}

#[test]
fn a_restored_state_fires_its_due_timers_with_the_same_ids() {
    use complaintflow::core::{Effects, Engine, Origin, payload_hash};
    use complaintflow::model::Event;
    use complaintflow::rules::RuleSet;
    let rules = RuleSet::embedded();
    let mut engine = Engine::new();
    let mut out = Effects::default();
    let line = received("e1", "C12", "02T09:00", OUTAGE, "single");
    engine
        .process(
            &Event::from_json(&line).unwrap(),
            payload_hash(line.as_bytes()),
            Origin::default,
            &rules,
            &mut out,
        )
        .unwrap();
    let state = serde_json::to_string(engine.complaint("C12").unwrap()).unwrap();
    let mut restored = Engine::new();
    restored.restore(serde_json::from_str(&state).unwrap());
    assert_eq!(restored.pending_timers(), 1);
    let mut fired = Effects::default();
    restored.advance(t("03T00:00").parse().unwrap(), &mut fired);
    let got: Vec<String> = fired.sla.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(
        got,
        [
            "C12:0:acknowledge:warning",
            "C12:0:acknowledge:breached",
            "C12:0:acknowledge:escalated:breach"
        ]
    );
}

#[test]
fn sub_millisecond_deadlines_fire_once() {
    use complaintflow::core::{Effects, Engine, Origin, payload_hash};
    use complaintflow::model::Event;
    use complaintflow::rules::RuleSet;
    let rules = RuleSet::embedded();
    let mut engine = Engine::new();
    let mut out = Effects::default();
    let line =
        received("e1", "C13", "02T09:00", OUTAGE, "single").replace(":00Z\"", ":00.123456789Z\"");
    engine
        .process(
            &Event::from_json(&line).unwrap(),
            payload_hash(line.as_bytes()),
            Origin::default,
            &rules,
            &mut out,
        )
        .unwrap();
    out.clear();
    engine.advance(t("03T00:00").parse().unwrap(), &mut out);
    assert_eq!(out.sla.len(), 3, "{:?}", out.sla);
    assert_eq!(engine.pending_timers(), 0);
}

#[test]
fn a_redelivered_refused_event_is_ignored_not_judged_again() {
    let bad = ev("e3", "C14", "02T09:20", "reported", json!({}));
    let lines = vec![
        received("e1", "C14", "02T09:00", OUTAGE, "single"),
        bad.clone(),
        ev("e2", "C14", "02T09:05", "acknowledged", json!({})),
        bad,
    ];
    let (sink, summary) = replay(&lines, None);
    assert_eq!(sink.dead_letters.len(), 1, "{:?}", sink.dead_letters);
    assert_eq!(summary.duplicates, 1);
}

#[test]
fn a_closed_complaint_stays_until_its_last_input_is_committed() {
    use complaintflow::core::{Effects, Engine, Origin};
    use complaintflow::model::Event;
    use complaintflow::rules::RuleSet;
    let rules = RuleSet::embedded();
    let mut engine = Engine::new();
    let mut out = Effects::default();
    let mut lines = general_until_confirm("C15", true);
    lines.push(ev("e6", "C15", "02T16:00", "archived", json!({})));
    for (offset, line) in lines.iter().enumerate() {
        let e = Event::from_json(line).unwrap();
        engine
            .process(&e, payload_of(&e), Origin::default, &rules, &mut out)
            .unwrap();
        let noted = engine.note_input(&e.complaint_id, offset as i64 + 10);
        assert!(noted.is_some(), "a later offset changes the state");
    }
    // A redelivered record of an earlier offset changes nothing.
    assert!(engine.note_input("C15", 11).is_none());
    let later = t("05T00:00").parse().unwrap();
    // Retention passed, but the archive (offset 15) is not committed yet.
    assert!(engine.evict_closed_before(later, 15).is_empty());
    assert!(engine.complaint("C15").is_some());
    // Committed past it: evicted, and its last input survives the changelog.
    let state = serde_json::to_string(engine.complaint("C15").unwrap()).unwrap();
    let gone = engine.evict_closed_before(later, 16);
    assert_eq!(gone.len(), 1);
    assert!(engine.complaint("C15").is_none());
    let restored: complaintflow::core::Complaint = serde_json::from_str(&state).unwrap();
    assert_eq!(restored.last_input, Some(15));
}

#[test]
fn a_deadline_is_breached_only_once_the_clock_is_past_it() {
    let lines = vec![received("e1", "C16", "02T09:00", OUTAGE, "single")];
    // `--until` exactly at the acknowledge deadline: not breached yet.
    let (sink, _) = replay(&lines, Some("02T09:10"));
    assert_eq!(
        sla_lines(&sink),
        [
            "0 acknowledge started at=02T09:00 deadline=02T09:10",
            "0 acknowledge warning at=02T09:08 deadline=02T09:10",
        ]
    );
    // A minute past it: breached at the deadline, and escalated.
    let (sink, _) = replay(&lines, Some("02T09:11"));
    assert_eq!(
        sla_lines(&sink)[2..],
        [
            "0 acknowledge breached at=02T09:10 deadline=02T09:10",
            "0 acknowledge escalated at=02T09:10 deadline=02T09:10",
        ]
    );
    // An acknowledgement exactly at the deadline is `met`, as is the rule
    // for `--until`.
    let mut on_time = lines.clone();
    on_time.push(ev("e2", "C16", "02T09:10", "acknowledged", json!({})));
    let (sink, _) = replay(&on_time, Some("02T09:10"));
    assert!(
        sla_lines(&sink).contains(&"0 acknowledge met at=02T09:10 deadline=02T09:10".to_string()),
        "{:?}",
        sla_lines(&sink)
    );
}

#[test]
fn a_refused_event_of_an_unknown_complaint_delivered_twice_gives_one_dead_letter() {
    let stray = ev("x1", "C-NOBODY", "02T09:20", "reported", json!({}));
    let lines = vec![stray.clone(), stray.clone()];
    let (sink, summary) = replay(&lines, None);
    assert_eq!(sink.dead_letters.len(), 1, "{:?}", sink.dead_letters);
    assert!(
        sink.dead_letters[0]
            .reason
            .starts_with("unknown_complaint: ")
    );
    assert_eq!(summary.duplicates, 1);
    // The same event_id under another complaint is another event.
    let other = ev("x1", "C-SOMEONE", "02T09:21", "reported", json!({}));
    let (sink, _) = replay(&[stray, other], None);
    assert_eq!(sink.dead_letters.len(), 2);
}

#[test]
fn a_refused_event_moves_no_clock() {
    let base = vec![
        received("e1", "C17", "02T09:00", OUTAGE, "single"),
        received("e1", "C18", "02T09:01", OUTAGE, "single"),
        ev("e2", "C17", "02T09:05", "acknowledged", json!({})),
    ];
    // Days later, and not valid (C18 was never assigned): refused.
    let mut with_bad = base.clone();
    with_bad.insert(2, handled("bad", "C18", "05T10:00"));
    let (clean, _) = replay(&base, None);
    let (bad, _) = replay(&with_bad, None);
    assert_eq!(bad.dead_letters.len(), 1);
    assert!(
        bad.dead_letters[0]
            .reason
            .starts_with("invalid_transition: ")
    );
    // Neither complaint breached: the SLA events are those of the clean file.
    assert_eq!(sla_lines(&bad), sla_lines(&clean));
    assert!(!sla_lines(&bad).iter().any(|l| l.contains("breached")));
}

#[test]
fn an_event_from_the_future_is_refused_and_changes_nothing() {
    let base = general_until_confirm("C19", true);
    let mut with_future = base.clone();
    with_future.insert(
        2,
        ev("f1", "C19", "02T09:06", "progress", json!({"note": "x"}))
            .replace("2026-03-02T09:06:00Z", "2099-03-29T10:02:00+08:00"),
    );
    let (clean, _) = replay(&base, None);
    let (got, summary) = replay(&with_future, None);
    assert_eq!(got.dead_letters.len(), 1);
    let reason = &got.dead_letters[0].reason;
    assert_eq!(
        reason,
        "future_event: `occurred_at` 2099-03-29T10:02:00+08:00 is later than the wall clock plus max_clock_skew (300s)"
    );
    // Every output but the dead letter is that of the file without it.
    assert_eq!(rows(&got.sla), rows(&clean.sla));
    assert_eq!(rows(&got.decisions), rows(&clean.decisions));
    assert_eq!(rows(&got.complaints), rows(&clean.complaints));
    assert!(summary.future_bound.is_some());
}

#[test]
fn an_event_dated_before_its_complaint_was_received_is_refused() {
    let lines = vec![
        received("e1", "C20", "02T09:00", OUTAGE, "single"),
        ev("e2", "C20", "02T08:55", "acknowledged", json!({})),
    ];
    let (sink, _) = replay(&lines, None);
    assert_eq!(sink.dead_letters.len(), 1);
    assert_eq!(
        sink.dead_letters[0].reason,
        "invalid_transition: `complaint.acknowledged` at 2026-03-02T08:55:00+00:00 is before complaint `C20` was received at 2026-03-02T09:00:00+00:00"
    );
}

#[test]
fn an_acknowledgement_delivered_after_a_later_receipt_within_lateness_is_met() {
    // S is acknowledged at 10:09 (deadline 10:10), but T's receipt at 10:12
    // is delivered first: within the 5 minutes of lateness, S is met.
    let lines = vec![
        received("s1", "S", "02T10:00", OUTAGE, "single"),
        received("t1", "T", "02T10:12", OUTAGE, "single"),
        ev("s2", "S", "02T10:09", "acknowledged", json!({})),
    ];
    let (sink, _) = replay(&lines, None);
    let s: Vec<String> = sink
        .sla
        .iter()
        .filter(|e| e.complaint_id == "S" && e.stage == complaintflow::model::Stage::Acknowledge)
        .map(sla_line)
        .collect();
    assert_eq!(
        s,
        [
            "0 acknowledge started at=02T10:00 deadline=02T10:10",
            "0 acknowledge warning at=02T10:08 deadline=02T10:10",
            "0 acknowledge met at=02T10:09 deadline=02T10:10",
        ]
    );
    assert!(
        sink.sla
            .iter()
            .all(|e| e.kind != complaintflow::model::SlaKind::Breached)
    );
}

#[test]
fn an_acknowledgement_delivered_beyond_lateness_retracts_the_breach() {
    // T's receipt at 10:20 comes first: the clock minus lateness (10:15) is
    // past S's deadline (10:10), so S breaches; then S's acknowledgement,
    // made at 10:09, corrects it.
    let lines = vec![
        received("s1", "S", "02T10:00", OUTAGE, "single"),
        received("t1", "T", "02T10:20", OUTAGE, "single"),
        ev("s2", "S", "02T10:09", "acknowledged", json!({})),
    ];
    let (sink, summary) = replay(&lines, None);
    let s: Vec<String> = sink
        .sla
        .iter()
        .filter(|e| e.complaint_id == "S" && e.stage == complaintflow::model::Stage::Acknowledge)
        .map(|e| format!("{} {}", e.event_id, sla_line(e)))
        .collect();
    assert_eq!(
        s,
        [
            "S:0:acknowledge:started 0 acknowledge started at=02T10:00 deadline=02T10:10",
            "S:0:acknowledge:warning 0 acknowledge warning at=02T10:08 deadline=02T10:10",
            "S:0:acknowledge:breached 0 acknowledge breached at=02T10:10 deadline=02T10:10",
            "S:0:acknowledge:escalated:breach 0 acknowledge escalated at=02T10:10 deadline=02T10:10",
            "S:0:acknowledge:retracted 0 acknowledge retracted at=02T10:09 deadline=02T10:10",
            "S:0:acknowledge:met 0 acknowledge met at=02T10:09 deadline=02T10:10",
        ]
    );
    let row = sink
        .complaints
        .iter()
        .find(|c| c.complaint_id == "S")
        .unwrap();
    assert_eq!((row.acknowledge_sla, row.breaches), (StageOutcome::Met, 0));
    let ack = &summary.stages[&complaintflow::model::Stage::Acknowledge];
    assert_eq!(
        (ack.breached, ack.retracted, ack.met, ack.late),
        (0, 1, 1, 0)
    );
}

#[test]
fn raising_the_priority_to_urgent_during_report_escalates_once() {
    let urgent = |id: &str, at: &str| {
        ev(
            id,
            "C21",
            at,
            "assigned",
            json!({"lead_department": "technical", "priority": "urgent"}),
        )
    };
    let lines = vec![
        received("e1", "C21", "02T09:00", OUTAGE, "single"),
        ev("e2", "C21", "02T09:05", "acknowledged", json!({})),
        handled("e3", "C21", "02T12:00"),
        urgent("e4", "02T12:10"),
        urgent("e5", "02T12:20"),
        ev("e6", "C21", "02T12:30", "reported", json!({})),
    ];
    let (sink, _) = replay(&lines, None);
    assert!(sink.dead_letters.is_empty(), "{:?}", sink.dead_letters);
    let escalations: Vec<String> = sink
        .sla
        .iter()
        .filter(|e| e.kind == complaintflow::model::SlaKind::Escalated)
        .map(|e| format!("{} {}", e.event_id, sla_line(e)))
        .collect();
    assert_eq!(
        escalations,
        ["C21:0:report:escalated:urgent 0 report escalated at=02T12:10 deadline=02T13:00"]
    );
    let row = &sink.complaints[0];
    assert_eq!(row.priority, Priority::Urgent);
}

/// Outputs serialized, for comparing them byte for byte.
fn rows<T: serde::Serialize>(v: &[T]) -> Vec<String> {
    v.iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect()
}

#[test]
fn first_time_and_final_satisfaction_are_counted_per_complaint() {
    let mut lines = general_until_confirm("S1", true);
    lines.extend(general_until_confirm("S2", false));
    lines.push(handled("e6", "S2", "02T20:00"));
    lines.push(ev("e7", "S2", "02T20:30", "reported", json!({})));
    lines.push(ev(
        "e8",
        "S2",
        "02T20:40",
        "customer_confirmed",
        json!({"satisfied": true}),
    ));
    let (_, summary) = replay(&lines, None);
    assert_eq!(
        (
            summary.confirmed,
            summary.first_time_satisfied,
            summary.final_satisfied
        ),
        (2, 1, 2)
    );
    let text = summary.to_string();
    assert!(
        text.contains("first-time satisfaction (一次满意率) 50.0%"),
        "{text}"
    );
    assert!(
        text.contains("final satisfaction (最终满意率) 100.0%"),
        "{text}"
    );
}

#[test]
fn a_corrected_resend_of_a_refused_event_is_judged_and_other_content_under_an_accepted_id_is_a_conflict()
 {
    let c = "C40";
    let mut lines = general_until_confirm(c, true);
    let corrected = lines[3].clone();
    // The adapter's clock was wrong: `reported` dated before `handled`. It
    // comes first, waits for `handled`, and is refused as dated before it.
    let wrong = ev("e4", c, "02T14:00", "reported", json!({}));
    lines.insert(2, wrong);
    // The corrected resend (same event_id, the right time) follows
    // `handled` (it is already in `lines`); redelivered, it is ignored;
    // another `acknowledged` under e2's id is a conflict.
    lines.push(corrected);
    lines.push(ev("e2", c, "02T09:06", "acknowledged", json!({})));
    let (sink, summary) = replay(&lines, None);
    let reasons: Vec<&str> = sink
        .dead_letters
        .iter()
        .map(|d| d.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].starts_with("invalid_transition:") && reasons[0].contains("dated before"),
        "{reasons:?}"
    );
    assert!(reasons[1].starts_with("conflicting_event:"), "{reasons:?}");
    assert_eq!(summary.duplicates, 1);
    reported_and_confirmed_on_time(&sink);
}

#[test]
fn a_corrected_resend_of_an_event_still_waiting_replaces_it() {
    let c = "C41";
    let mut lines = general_until_confirm(c, true);
    let corrected = lines[3].clone();
    let wrong = ev("e4", c, "02T14:00", "reported", json!({}));
    // Both come before `handled`: the wrong one waits, the correction
    // replaces it and is applied once `handled` arrives; the wrong bytes
    // redelivered later are ignored.
    lines.remove(3);
    lines.insert(2, wrong.clone());
    lines.insert(3, corrected);
    lines.push(wrong);
    let (sink, summary) = replay(&lines, None);
    assert!(sink.dead_letters.is_empty(), "{:?}", sink.dead_letters);
    assert_eq!(summary.duplicates, 1);
    reported_and_confirmed_on_time(&sink);
}

/// The corrected report was taken: report met, the confirmation too, and
/// no stage breached.
fn reported_and_confirmed_on_time(sink: &complaintflow::sink::file::MemorySink) {
    let sla = sla_lines(sink);
    for stage in ["report", "confirm"] {
        assert!(
            sla.iter().any(|l| l.contains(stage) && l.contains("met")),
            "{stage}: {sla:?}"
        );
    }
    assert!(!sla.iter().any(|l| l.contains("breached")), "{sla:?}");
}
