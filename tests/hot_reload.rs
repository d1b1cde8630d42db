//! Hot reload of `rules/`: a valid change is swapped in within 2 s; a broken
//! script or failing fixtures are refused and the old rules keep deciding.

mod common;
use arc_swap::ArcSwap;
use common::copy_rules;
use complaintflow::core::{DecisionInput, Rules};
use complaintflow::model::event::Received;
use complaintflow::rules::RuleSet;
use complaintflow::rules::reload::{ReloadOutcome, reload_once, watch};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn decide_reason(rules: &RuleSet) -> String {
    let received: Received = serde_json::from_str(
        r#"{"channel":"web","customer":{"id":"K","name":"N"},"description":"断网了"}"#,
    )
    .unwrap();
    let input = DecisionInput {
        complaint_id: "C1",
        received: &received,
        received_at: chrono::Utc::now(),
        cycle: 0,
        previous_priority: None,
        comment: None,
        current: None,
    };
    rules.decide(&input).reason
}

fn edit(path: &std::path::Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from));
    // Save as editors do: write a temporary file, then rename over the original.
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text.replace(from, to)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn wait_for_version_change(
    shared: &ArcSwap<RuleSet>,
    old: &str,
    within: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if shared.load().version() != old {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_swaps_good_rules_and_refuses_broken_ones() {
    let dir = tempfile::tempdir().unwrap();
    copy_rules(dir.path());
    let shared = Arc::new(ArcSwap::from_pointee(
        RuleSet::load_dir(dir.path()).unwrap(),
    ));
    let v1 = shared.load().version().to_string();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(watch(
        dir.path().to_path_buf(),
        shared.clone(),
        cancel.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A valid change: new reason text, so a new version.
    edit(
        &dir.path().join("decide.rhai"),
        "reason: `${cls.category}",
        "reason: `v2 ${cls.category}",
    );
    let took = wait_for_version_change(&shared, &v1, Duration::from_secs(2)).await;
    assert!(took.is_some(), "new rules not swapped within 2 s");
    let v2 = shared.load().version().to_string();
    assert!(decide_reason(&shared.load()).starts_with("v2 technical"));

    // A syntax error: refused, v2 keeps deciding.
    edit(
        &dir.path().join("route.rhai"),
        "fn route(cls) {",
        "fn route(cls) { let = ;",
    );
    assert_eq!(
        wait_for_version_change(&shared, &v2, Duration::from_millis(1500)).await,
        None
    );
    assert!(decide_reason(&shared.load()).starts_with("v2 technical"));

    cancel.cancel();
    task.await.unwrap().unwrap();
}

#[test]
fn reload_refuses_rules_whose_fixtures_fail_and_keeps_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    copy_rules(dir.path());
    let shared = ArcSwap::from_pointee(RuleSet::load_dir(dir.path()).unwrap());
    let v1 = shared.load().version().to_string();
    assert_eq!(
        reload_once(dir.path(), &shared).unwrap(),
        ReloadOutcome::Unchanged
    );

    // Compiles, but routes technical complaints elsewhere: fixtures fail.
    edit(
        &dir.path().join("route.rhai"),
        "\"technical\" => \"technical\",",
        "\"technical\" => \"noc\",",
    );
    let err = reload_once(dir.path(), &shared).unwrap_err();
    assert!(err.to_string().contains("fixture cases fail"), "{err}");
    assert_eq!(shared.load().version(), v1);

    // Fixing the fixtures with the change is not enough: `noc` is not a
    // declared department.
    edit(
        &dir.path().join("tests/technical.json"),
        "\"lead_department\": \"technical\"",
        "\"lead_department\": \"noc\"",
    );
    edit(
        &dir.path().join("tests/evidence.json"),
        "\"lead_department\": \"technical\"",
        "\"lead_department\": \"noc\"",
    );
    let err = reload_once(dir.path(), &shared).unwrap_err();
    assert!(err.to_string().contains("fixture cases fail"), "{err}");
    assert_eq!(shared.load().version(), v1);
    // Declared, it is acceptable.
    let departments = dir.path().join("departments.toml");
    let mut text = std::fs::read_to_string(&departments).unwrap();
    text.push_str("noc = \"网络运维中心\"\n");
    std::fs::write(&departments, text).unwrap();
    match reload_once(dir.path(), &shared).unwrap() {
        ReloadOutcome::Swapped { from, to } => {
            assert_eq!(from, v1);
            assert_eq!(to, shared.load().version());
        }
        other => panic!("expected a swap, got {other:?}"),
    }
    // A model file cut short is refused with its name; the rules stay.
    let v2 = shared.load().version().to_string();
    let model = dir.path().join("model.json");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, &text[..text.find("\"features\"").unwrap()]).unwrap();
    let err = reload_once(dir.path(), &shared).unwrap_err();
    assert!(
        err.to_string().contains("model.json: not a model file"),
        "{err}"
    );
    assert_eq!(shared.load().version(), v2);
}

#[test]
fn a_failing_rule_gives_the_fallback_decision() {
    let dir = tempfile::tempdir().unwrap();
    copy_rules(dir.path());
    // An endless loop hits the operations limit instead of hanging.
    edit(
        &dir.path().join("decide.rhai"),
        "fn decide(c) {",
        "fn decide(c) { loop { } ",
    );
    let rules = RuleSet::load_dir(dir.path()).unwrap();
    let reason = decide_reason(&rules);
    assert!(reason.starts_with("fallback: rules failed"), "{reason}");
    assert!(
        reason.to_lowercase().contains("too many operations"),
        "{reason}"
    );
}

#[test]
fn the_rules_version_metric_follows_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    copy_rules(dir.path());
    let shared = ArcSwap::from_pointee(RuleSet::load_dir(dir.path()).unwrap());
    let v1 = shared.load().version().to_string();
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        complaintflow::telemetry::rules_version(None, &v1);
        // A new comment: a new version, the same decisions.
        edit(
            &dir.path().join("sla.toml"),
            "# SLA policy",
            "# Edited by the test.\n# SLA policy",
        );
        assert!(matches!(
            reload_once(dir.path(), &shared).unwrap(),
            ReloadOutcome::Swapped { .. }
        ));
    });
    let v2 = shared.load().version().to_string();
    assert_ne!(v1, v2);
    let text = handle.render();
    assert!(
        text.contains(&format!("complaintflow_rules_info{{version=\"{v2}\"}} 1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("complaintflow_rules_info{{version=\"{v1}\"}} 0")),
        "{text}"
    );
}
