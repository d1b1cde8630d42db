//! Input streams for the tests, and what replay makes of them.

use super::*;

/// A demo stream (times in the past) and what replay makes of it with the
/// clock at `until`.
pub fn scenario(complaints: usize, seed: u64) -> Vec<String> {
    let rules = RuleSet::embedded();
    generate(
        &DemoConfig {
            complaints,
            seed,
            days: 2,
            ..DemoConfig::default()
        },
        &rules,
    )
}

pub fn replay_expected(
    lines: &[String],
    until: chrono::DateTime<chrono::Utc>,
    rules_dir: &Path,
) -> MemorySink {
    let rules = RuleSet::load_dir(rules_dir).unwrap();
    let mut sink = MemorySink::default();
    replay_reader(
        lines.join("\n").as_bytes(),
        "expected",
        &rules,
        Bounds::until(Some(until)),
        &mut sink,
        |_| {},
    )
    .unwrap();
    sink
}

pub fn shipped_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// A copy of the shipped rules in `to` whose acknowledge target is `secs`,
/// with a lateness of one second (wall-clock breaches come at once).
pub fn rules_with_ack_target(to: &Path, secs: u64) {
    std::fs::create_dir_all(to.join("tests")).unwrap();
    for sub in ["", "tests"] {
        for e in std::fs::read_dir(shipped_rules().join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, to.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let sla = std::fs::read_to_string(to.join("sla.toml")).unwrap();
    std::fs::write(
        to.join("sla.toml"),
        sla.replace(
            "acknowledge = \"10m\"",
            &format!("acknowledge = \"{secs}s\""),
        )
        .replace("lateness = \"5m\"", "lateness = \"1s\""),
    )
    .unwrap();
}

/// `complaint.received` events happening now, one per id.
pub fn received_now(ids: &[String]) -> Vec<String> {
    let now = chrono::Utc::now().to_rfc3339();
    ids.iter()
        .map(|id| {
            serde_json::json!({"event_id": format!("{id}-r"), "type": "complaint.received", "complaint_id": id, "occurred_at": now,
                "channel": "phone", "customer": {"id": "K9", "name": "N"}, "description": "家里宽带断网了", "impact": "single"})
            .to_string()
        })
        .collect()
}

/// How many complaints a stream receives (well-formed `complaint.received` lines).
pub fn complaints_in(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|l| l.contains("\"complaint.received\"") && l.ends_with('}'))
        .count()
}
