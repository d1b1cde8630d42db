//! Events that come before the step they follow (different adapters,
//! different delays) wait for it, up to the allowed lateness, and are then
//! applied in event-time order (docs/contract.md "Event time").

mod common;
use common::*;
use complaintflow::model::Stage;
use serde_json::json;

const OUTAGE: &str = "家里宽带断网了,光猫灯一直闪";

fn rows<T: serde::Serialize>(v: &[T]) -> Vec<String> {
    v.iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect()
}

/// A technical complaint from receipt to the customer's confirmation.
fn lifecycle(c: &str) -> Vec<String> {
    vec![
        received(&format!("{c}-1"), c, "02T10:00", OUTAGE, "single"),
        ev(&format!("{c}-2"), c, "02T10:04", "acknowledged", json!({})),
        handled(&format!("{c}-3"), c, "02T13:00"),
        ev(&format!("{c}-4"), c, "02T13:20", "reported", json!({})),
        ev(
            &format!("{c}-5"),
            c,
            "02T13:40",
            "customer_confirmed",
            json!({"satisfied": true}),
        ),
    ]
}

#[test]
fn an_acknowledgement_delivered_before_its_receipt_gives_the_in_order_outcome() {
    let in_order = vec![
        received("s1", "S", "02T10:00", OUTAGE, "single"),
        ev("s2", "S", "02T10:05", "acknowledged", json!({})),
        received("t1", "T", "02T10:02", OUTAGE, "single"),
        ev("t2", "T", "02T10:06", "acknowledged", json!({})),
    ];
    // S's acknowledgement comes from another adapter, ahead of the receipt.
    let mut early = in_order.clone();
    early.swap(0, 1);
    let (a, _) = replay(&in_order, None);
    let (b, summary) = replay(&early, None);
    assert!(b.dead_letters.is_empty(), "{:?}", b.dead_letters);
    assert_eq!(rows(&b.sla), rows(&a.sla));
    assert_eq!(rows(&b.decisions), rows(&a.decisions));
    assert_eq!(rows(&b.complaints), rows(&a.complaints));
    let s: Vec<String> = b
        .sla
        .iter()
        .filter(|e| e.complaint_id == "S" && e.stage == Stage::Acknowledge)
        .map(sla_line)
        .collect();
    assert_eq!(
        s,
        [
            "0 acknowledge started at=02T10:00 deadline=02T10:10",
            "0 acknowledge met at=02T10:05 deadline=02T10:10",
        ]
    );
    assert_eq!((summary.held, summary.waited, summary.accepted), (1, 1, 4));
}

#[test]
fn a_lifecycle_delivered_backwards_is_applied_in_event_time_order() {
    let in_order = lifecycle("B");
    let backwards: Vec<String> = in_order.iter().rev().cloned().collect();
    let (a, _) = replay(&in_order, None);
    let (b, summary) = replay(&backwards, None);
    assert!(b.dead_letters.is_empty(), "{:?}", b.dead_letters);
    assert_eq!(rows(&b.sla), rows(&a.sla));
    assert_eq!(rows(&b.complaints), rows(&a.complaints));
    assert_eq!((summary.held, summary.waited), (4, 4));
}

#[test]
fn an_early_event_whose_predecessor_never_comes_is_refused_after_lateness() {
    let lines = vec![
        received("s1", "S", "02T10:00", OUTAGE, "single"),
        ev("s2", "S", "02T10:04", "acknowledged", json!({})),
        // Reported, but the handling it follows never arrives.
        ev("s4", "S", "02T10:10", "reported", json!({})),
        // Still waiting: 10:14 minus 5 minutes of lateness is before 10:10.
        received("t1", "T", "02T10:14", OUTAGE, "single"),
        // Now 10:16 minus 5 minutes is past it: refused.
        received("u1", "U", "02T10:16", OUTAGE, "single"),
    ];
    let (sink, summary) = replay(&lines, None);
    let got: Vec<(&str, &str)> = sink
        .dead_letters
        .iter()
        .map(|d| (d.source.as_str(), d.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [(
            "scenario:3",
            "invalid_transition: `complaint.reported` is not valid while complaint `S` is `handling` (the result report follows handling); it waited for the complaint's earlier events, which did not come within the allowed lateness"
        )]
    );
    assert_eq!(sink.dead_letters[0].payload, lines[2]);
    assert_eq!(
        sink.dead_letters[0].at.to_rfc3339(),
        "2026-03-02T10:16:00+00:00"
    );
    assert_eq!((summary.held, summary.waited), (1, 0));
    // A redelivery of the refused event is then ignored.
    let mut again = lines.clone();
    again.push(lines[2].clone());
    let (sink, summary) = replay(&again, None);
    assert_eq!(sink.dead_letters.len(), 1);
    assert_eq!(summary.duplicates, 1);
}

#[test]
fn an_early_event_delivered_twice_waits_once_and_is_applied_once() {
    let ack = ev("s2", "S", "02T10:05", "acknowledged", json!({}));
    let lines = vec![
        ack.clone(),
        ack.clone(),
        received("s1", "S", "02T10:00", OUTAGE, "single"),
        ack,
    ];
    let (sink, summary) = replay(&lines, None);
    assert!(sink.dead_letters.is_empty(), "{:?}", sink.dead_letters);
    assert_eq!(
        (summary.held, summary.waited, summary.duplicates),
        (1, 1, 2)
    );
    let met = sink
        .sla
        .iter()
        .filter(|e| e.event_id == "S:0:acknowledge:met")
        .count();
    assert_eq!(met, 1);
}

#[test]
fn an_early_event_still_waiting_at_the_end_of_a_replay_is_refused() {
    let lines = vec![ev("s2", "NOBODY", "02T10:05", "acknowledged", json!({}))];
    let (sink, summary) = replay(&lines, None);
    assert_eq!(sink.dead_letters.len(), 1);
    assert_eq!(
        sink.dead_letters[0].reason,
        "unknown_complaint: `complaint.acknowledged` for complaint `NOBODY`, which was never received; it waited for the complaint's earlier events, which did not come within the allowed lateness"
    );
    assert_eq!(summary.dead_letters["unknown_complaint"], 1);
}

#[test]
fn an_early_event_dated_before_the_step_it_waited_for_is_refused() {
    let lines = vec![
        received("s1", "S", "02T10:00", OUTAGE, "single"),
        // Handled at 10:03, before the acknowledgement (10:04) it follows.
        handled("s3", "S", "02T10:03"),
        ev("s2", "S", "02T10:04", "acknowledged", json!({})),
    ];
    let (sink, _) = replay(&lines, None);
    assert_eq!(sink.dead_letters.len(), 1);
    assert_eq!(
        sink.dead_letters[0].reason,
        "invalid_transition: `complaint.handled` at 2026-03-02T10:03:00+00:00 is dated before `complaint.acknowledged` at 2026-03-02T10:04:00+00:00, the step of complaint `S` it follows"
    );
    assert_eq!(sink.complaints[0].handled_at, None);
}
