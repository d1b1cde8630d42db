//! The binary as users run it: demo, replay determinism, rules check/test.

mod common;
use common::copy_rules;
use std::path::Path;
use std::process::{Command, Output};

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const OUTPUTS: [&str; 4] = [
    "decisions.jsonl",
    "sla_events.jsonl",
    "complaints.jsonl",
    "dead_letters.jsonl",
];

#[test]
fn demo_writes_outputs_and_a_meeting_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo-out");
    let o = bin(&[
        "demo",
        "--complaints",
        "400",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    for needle in [
        "volume by channel",
        "volume by category",
        "volume by lead department",
        "SLA by stage",
        "reopen rate",
        "first-time satisfaction (一次满意率)",
        "final satisfaction (最终满意率)",
        "dead letters",
    ] {
        assert!(text.contains(needle), "summary lacks {needle}:\n{text}");
    }
    for f in OUTPUTS {
        let body = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(!body.is_empty(), "{f} is empty");
    }
    let complaints = std::fs::read_to_string(out.join("complaints.jsonl")).unwrap();
    assert_eq!(complaints.lines().count(), 400);
}

fn read_all(dir: &Path) -> Vec<Vec<u8>> {
    OUTPUTS
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect()
}

#[test]
fn replaying_the_same_file_twice_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    assert!(
        bin(&[
            "demo",
            "--complaints",
            "300",
            "--seed",
            "7",
            "--out",
            demo.to_str().unwrap()
        ])
        .status
        .success()
    );
    let input = demo.join("input.jsonl");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let o = bin(&[
            "replay",
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--until",
            "2026-11-09T00:00:00+08:00",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (ra, rb) = (read_all(&a), read_all(&b));
    assert!(ra.iter().all(|f| !f.is_empty()));
    assert_eq!(ra, rb);
    // The demo's own replay used the same input and end time.
    assert_eq!(read_all(&demo), ra);
}

#[test]
fn rules_check_and_test_pass_on_the_shipped_rules() {
    let root = env!("CARGO_MANIFEST_DIR");
    let rules = format!("{root}/rules");
    let check = bin(&["rules", "check", &rules]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(stdout(&check).contains("compiles"));
    let test = bin(&["rules", "test", &rules]);
    assert!(test.status.success(), "{}", stdout(&test));
    assert!(
        stdout(&test).contains("21 of 21 cases pass"),
        "{}",
        stdout(&test)
    );
    // The labelled corpus, in its two parts: the figures are printed for
    // each, the frozen part's misses are not (nobody tunes on them).
    let text = stdout(&test);
    let figures = |part: &str| -> Vec<f64> {
        let at = text
            .find(&format!("corpus, {part} part: "))
            .unwrap_or_else(|| panic!("no {part} part:\n{text}"));
        let line = text[at..]
            .lines()
            .find(|l| l.trim_start().starts_with("category "))
            .unwrap();
        line.split('%')
            .filter_map(|p| p.split_whitespace().last()?.parse().ok())
            .collect()
    };
    let tuning = figures("tuning");
    assert_eq!(tuning.len(), 4, "{text}");
    // What the lists were tuned on: category and lead department reach
    // the target there.
    assert!(tuning[..2].iter().all(|f| *f >= 95.0), "{text}");
    let frozen = figures("frozen");
    assert_eq!(frozen.len(), 4, "{text}");
    // --strict fails exactly when a part misses the target.
    let met = tuning[..3].iter().chain(&frozen[..3]).all(|f| *f >= 95.0);
    let strict = bin(&["rules", "test", &rules, "--strict"]);
    assert_eq!(strict.status.success(), met, "{}", stdout(&strict));
    // Every file named frozen* is the frozen part.
    let mut frozen_ids: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(format!("{rules}/corpus")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("frozen") && name.ends_with(".jsonl") {
            frozen_ids.extend(std::fs::read_to_string(&path).unwrap().lines().map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }));
        }
    }
    assert!(frozen_ids.len() >= 400, "{}", frozen_ids.len());
    assert!(
        text.contains(&format!(
            "corpus, frozen part: {} labelled complaints",
            frozen_ids.len()
        )),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.contains("MISS")
            && frozen_ids
                .iter()
                .any(|id| l.contains(&format!("MISS {id} ")))),
        "a frozen case's miss is shown"
    );
    assert!(
        text.contains("model alone (naive Bayes for category and lead, logistic regression for priority; 5-fold cross-validation on the tuning part)"),
        "{text}"
    );
}

#[test]
fn rules_learn_trains_from_a_corpus_file_and_never_from_the_frozen_part() {
    let dir = tempfile::tempdir().unwrap();
    copy_rules(dir.path());
    let rules = dir.path().to_str().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let before = std::fs::read_to_string(dir.path().join("model.json")).unwrap();
    // A model of the earlier 209 alone is too sure of wrong priorities: the
    // fixtures refuse it and the ruleset keeps its model.
    let o = bin(&[
        "rules",
        "learn",
        rules,
        "--corpus",
        &format!("{root}/rules/corpus/complaints.jsonl"),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("fixture case(s) fail;") && err.contains("is unchanged"),
        "{err}"
    );
    assert_eq!(
        before,
        std::fs::read_to_string(dir.path().join("model.json")).unwrap()
    );
    // The tuning part without its newest file: another model, and a good one.
    let mut args = vec!["rules".to_string(), "learn".into(), rules.into()];
    for f in [
        "complaints",
        "tuning",
        "tuning-2",
        "tuning-3",
        "tuning-4",
        "tuning-5",
        "tuning-6",
    ] {
        args.push("--corpus".into());
        args.push(format!("{root}/rules/corpus/{f}.jsonl"));
    }
    let o = bin(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let learned = stdout(&o);
    assert!(learned.contains("trained on 209 from "), "{learned}");
    assert!(learned.contains("trained on 300 from "), "{learned}");
    let after = std::fs::read_to_string(dir.path().join("model.json")).unwrap();
    assert_ne!(before, after);
    assert!(after.contains("\"format\": \"complaintflow-text-model/2\""));
    // The new model is part of the ruleset: check takes it, with the
    // version `learn` announced.
    let check = bin(&["rules", "check", rules]);
    assert!(check.status.success());
    let version = learned
        .rsplit("ruleset_version with it ")
        .next()
        .unwrap()
        .trim();
    assert!(
        stdout(&check).contains(&format!("ruleset_version {version};")),
        "{}",
        stdout(&check)
    );
    let o = bin(&[
        "rules",
        "learn",
        rules,
        "--corpus",
        &format!("{root}/rules/corpus/frozen.jsonl"),
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("is the frozen evaluation part: it is never trained on")
    );
}

#[test]
fn a_corrupt_or_foreign_model_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    copy_rules(dir.path());
    let rules = dir.path().to_str().unwrap();
    let model = dir.path().join("model.json");
    let good = std::fs::read_to_string(&model).unwrap();
    let half = (good.len() / 2..)
        .find(|&i| good.is_char_boundary(i))
        .unwrap();
    std::fs::write(&model, &good[..half]).unwrap();
    let o = bin(&["rules", "check", rules]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("model.json: not a model file"), "{err}");
    std::fs::write(
        &model,
        good.replace("complaintflow-text-model/2", "complaintflow-naive-bayes/1"),
    )
    .unwrap();
    let err = String::from_utf8_lossy(&bin(&["rules", "check", rules]).stderr).into_owned();
    assert!(err.contains("format `complaintflow-naive-bayes/1`, but this complaintflow reads `complaintflow-text-model/2`: retrain it"), "{err}");
    // Without a model, the shipped rules fail their fixtures and say why.
    std::fs::remove_file(&model).unwrap();
    let o = bin(&["rules", "check", rules]);
    assert!(!o.status.success());
    assert!(
        stdout(&o).contains("this ruleset has no model (rules/model.json)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_broken_fixture_exits_non_zero_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    copy_rules(dir.path());
    let f = dir.path().join("tests/other.json");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(
        &f,
        text.replacen(
            "\"lead_department\": \"customer_service\"",
            "\"lead_department\": \"legal\"",
            1,
        ),
    )
    .unwrap();
    let o = bin(&["rules", "test", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    let text = stdout(&o);
    assert!(
        text.contains("FAIL tests/other.json :: staff attitude is other"),
        "{text}"
    );
    assert!(
        text.contains("lead_department: expected \"legal\", got \"customer_service\""),
        "{text}"
    );
    assert!(text.contains("20 of 21 cases pass"), "{text}");
    assert!(text.contains("    reason: other ("), "{text}");
}

#[test]
fn rules_check_reports_a_syntax_error_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    copy_rules(dir.path());
    std::fs::write(dir.path().join("route.rhai"), "fn route(cls) { let x = ; }").unwrap();
    let o = bin(&["rules", "check", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("route.rhai"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn every_flag_and_argument_in_help_has_a_description() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id != "help" && id != "version" && arg.get_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() {
                missing.push(format!("{path} {} (no about)", sub.get_name()));
            }
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(
        &complaintflow::cli::Cli::command(),
        "complaintflow",
        &mut missing,
    );
    assert!(missing.is_empty(), "no description: {missing:?}");
}

#[test]
fn every_command_says_which_rules_it_uses() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args(["demo", "--complaints", "5", "--out", out.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    // No ./rules here: the built-in ruleset, by name and version.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("rules: built-in ruleset (ruleset_version "),
        "{err}"
    );
    copy_rules(&dir.path().join("rules"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args(["rules", "check"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("rules: rules (ruleset_version "));
}

#[test]
fn rules_check_refuses_a_second_decide_and_an_undeclared_department_and_reports_a_rule_error_once()
{
    let dir = tempfile::tempdir().unwrap();
    copy_rules(dir.path());
    let d = dir.path().to_str().unwrap();
    std::fs::write(dir.path().join("zz_extra.rhai"), "fn decide(c) { #{} }").unwrap();
    let o = bin(&["rules", "check", d]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("zz_extra.rhai") && err.contains("also defined in decide.rhai"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("zz_extra.rhai")).unwrap();
    // Routing to a department nobody declared.
    let route = dir.path().join("route.rhai");
    let text = std::fs::read_to_string(&route).unwrap();
    std::fs::write(
        &route,
        text.replace(
            "\"business\" => \"business\"",
            "\"business\" => \"no_such_department\"",
        ),
    )
    .unwrap();
    let o = bin(&["rules", "check", d]);
    assert!(!o.status.success());
    let out = stdout(&o);
    let errors: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("RULE ERROR"))
        .collect();
    assert_eq!(errors.len(), 1, "{out}");
    assert!(
        errors[0]
            .contains("routes to `no_such_department`, which departments.toml does not declare"),
        "{out}"
    );
}

#[test]
fn run_refuses_to_start_on_rules_whose_fixtures_fail() {
    let dir = tempfile::tempdir().unwrap();
    copy_rules(dir.path());
    let route = dir.path().join("route.rhai");
    let text = std::fs::read_to_string(&route).unwrap();
    let broken = text.replace(
        "\"technical\" => \"technical\",",
        "\"technical\" => \"noc\",",
    );
    assert_ne!(broken, text);
    std::fs::write(&route, broken).unwrap();
    // The rules are checked before any connection: no broker is needed.
    let o = bin(&[
        "run",
        "--rules",
        dir.path().to_str().unwrap(),
        "--brokers",
        "127.0.0.1:1",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("fixture cases fail"), "{err}");
    assert!(err.contains("FAIL "), "{err}");
}
