//! Helpers for scenario tests: compact event builders and output formatting.
#![allow(dead_code)]

use complaintflow::driver::Summary;
use complaintflow::driver::replay::{Bounds, replay_reader};
use complaintflow::model::{SlaEvent, Timestamp};
use complaintflow::rules::RuleSet;
use complaintflow::sink::file::MemorySink;
use serde_json::{Value, json};

/// `"02T09:05"` → `2026-03-02T09:05:00Z`.
pub fn t(short: &str) -> String {
    format!("2026-03-{short}:00Z")
}

/// One event line; `extra` holds the type's own fields.
pub fn ev(event_id: &str, complaint: &str, at: &str, kind: &str, extra: Value) -> String {
    let mut v = json!({"event_id": event_id, "type": format!("complaint.{kind}"), "complaint_id": complaint, "occurred_at": t(at)});
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v.to_string()
}

/// A `complaint.handled` with placeholder cause, measures and result.
pub fn handled(event_id: &str, complaint: &str, at: &str) -> String {
    ev(
        event_id,
        complaint,
        at,
        "handled",
        json!({"cause": "c", "measures": "m", "result": "r"}),
    )
}

/// A `complaint.received` from the web with this description and impact.
pub fn received(
    event_id: &str,
    complaint: &str,
    at: &str,
    description: &str,
    impact: &str,
) -> String {
    ev(
        event_id,
        complaint,
        at,
        "received",
        json!({
            "channel": "web",
            "customer": {"id": "K1", "name": "王芳"},
            "description": description,
            "impact": impact,
        }),
    )
}

/// Replays lines with the shipped rules; `until` as in `replay --until`.
pub fn replay(lines: &[String], until: Option<&str>) -> (MemorySink, Summary) {
    let rules = RuleSet::embedded();
    let text = lines.join("\n");
    let until: Option<Timestamp> = until.map(|u| t(u).parse().unwrap());
    let mut sink = MemorySink::default();
    let summary = replay_reader(
        text.as_bytes(),
        "scenario",
        &rules,
        Bounds::until(until),
        &mut sink,
        |_| {},
    )
    .unwrap();
    (sink, summary)
}

/// `"0 handle met at=02T15:00 deadline=03T09:05"`.
pub fn sla_line(e: &SlaEvent) -> String {
    format!(
        "{} {} {} at={} deadline={}",
        e.cycle,
        e.stage,
        e.kind,
        e.at.format("%dT%H:%M"),
        e.deadline.format("%dT%H:%M")
    )
}

pub fn sla_lines(sink: &MemorySink) -> Vec<String> {
    sink.sla.iter().map(sla_line).collect()
}

/// Copies the shipped `rules/` (scripts, policy, fixtures) into `to`.
pub fn copy_rules(to: &std::path::Path) {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    std::fs::create_dir_all(to.join("tests")).unwrap();
    for sub in ["", "tests"] {
        for e in std::fs::read_dir(from.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, to.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
}

/// The payload hash of an event built here: its JSON, as an adapter
/// would have sent it.
pub fn payload_of(ev: &complaintflow::model::Event) -> u64 {
    complaintflow::core::payload_hash(serde_json::to_string(ev).expect("serializes").as_bytes())
}
