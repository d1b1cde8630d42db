//! `rules diff` on a demo history with a changed keyword list: its counts
//! match decisions computed here directly, one complaint at a time.

mod common;
use common::copy_rules;
use complaintflow::core::{DecisionInput, Rules};
use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::model::{Event, EventBody};
use complaintflow::rules::RuleSet;
use std::collections::HashSet;

#[test]
fn rules_diff_counts_the_decisions_a_keyword_change_moves() {
    let dir = tempfile::tempdir().unwrap();
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    copy_rules(&old_dir);
    copy_rules(&new_dir);
    // Speed and broadband words become heavy conduct evidence: such
    // complaints move from technical to other.
    let kw = new_dir.join("keywords.toml");
    let text = std::fs::read_to_string(&kw).unwrap();
    let heavier = text.replacen(
        "[conduct]\n5 = [",
        "[conduct]\n50 = [\"网速\", \"宽带\", \"slow\", \"speed\", \"broadband\"]\n5 = [",
        1,
    );
    assert_ne!(heavier, text);
    std::fs::write(&kw, heavier).unwrap();
    // A sure model decides against the words; the change lets the words
    // decide (else it would move only what the model is unsure of).
    let classify = new_dir.join("classify.rhai");
    let script = std::fs::read_to_string(&classify).unwrap();
    let words_decide = script.replace("m.confidence >= 0.95 && m.category != best", "false");
    assert_ne!(words_decide, script);
    std::fs::write(&classify, words_decide).unwrap();
    let cfg = DemoConfig {
        complaints: 400,
        ..DemoConfig::default()
    };
    let lines = generate(&cfg, &RuleSet::embedded());
    let input = dir.path().join("history.jsonl");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args(["rules", "diff"])
        .args([&old_dir, &new_dir])
        .arg("--input")
        .arg(&input)
        .args(["--now", "2026-12-01T00:00:00Z"])
        .arg("--html")
        .arg(dir.path().join("diff.html"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    // The diff is printed either way; rules a reload would refuse (a
    // fixture fails) make it fail, and say why.
    let fixtures_fail = !RuleSet::load_dir(&new_dir)
        .unwrap()
        .run_fixtures()
        .is_empty();
    assert_eq!(o.status.success(), !fixtures_fail, "{err}");
    if fixtures_fail {
        assert!(err.contains("a reload would refuse these rules"), "{err}");
        assert!(err.contains("FAIL "), "{err}");
    }

    // Independently: every complaint's first decision, old and new.
    let old = RuleSet::load_dir(&old_dir).unwrap();
    let new = RuleSet::load_dir(&new_dir).unwrap();
    let (mut first, mut changed, mut to_other) = (0, 0, 0);
    let mut seen = HashSet::new();
    for line in &lines {
        let Ok(ev) = Event::from_json(line) else {
            continue;
        };
        let EventBody::Received(r) = &ev.body else {
            continue;
        };
        if !seen.insert(ev.complaint_id.clone()) {
            continue;
        }
        let input = DecisionInput {
            complaint_id: &ev.complaint_id,
            received: r,
            received_at: ev.at(),
            cycle: 0,
            previous_priority: None,
            comment: None,
            current: None,
        };
        let (a, b) = (old.decide(&input), new.decide(&input));
        first += 1;
        if (
            &a.category,
            &a.priority,
            &a.lead_department,
            &a.assist_departments,
        ) != (
            &b.category,
            &b.priority,
            &b.lead_department,
            &b.assist_departments,
        ) {
            changed += 1;
        }
        to_other +=
            usize::from(a.category.as_str() == "technical" && b.category.as_str() == "other");
    }
    assert!(changed > 10, "the change moves some decisions: {changed}");
    assert!(
        out.contains(&format!("(first decisions: {changed} of {first} changed)")),
        "want {changed} of {first}\n{out}"
    );
    // The category table counts every decision, reopens included.
    let moved: usize = out
        .lines()
        .find(|l| {
            l.contains("technical") && l.contains("-> other") && l.trim_start().starts_with('*')
        })
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap();
    assert!(moved >= to_other, "{moved} < {to_other}\n{out}");
    assert!(out.contains("SLA effect"), "{out}");
    assert!(
        out.contains("escalated for a breach") && out.contains("for urgency"),
        "{out}"
    );
    // The page: the same counts, in the report's style, self-contained.
    let page = std::fs::read_to_string(dir.path().join("diff.html")).unwrap();
    assert!(
        page.contains(&format!("<b>{changed} / {first}</b>")),
        "{page}"
    );
    assert!(page.contains("technical → other") && page.contains("<rect"));
    assert!(!page.contains("<script"));
}
