//! Faults on the running service: the bad-input corpus on the broker, a
//! 2 MB event, and a rule value of 300,000 years. The service stays up,
//! each fault costs one dead letter or one refused reload, and every other
//! complaint is processed.

mod corpus;
mod support;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use support::*;

/// The service on rules of its own (in the setup's directory), ready.
fn start_with_own_rules(setup: &Setup) -> (std::path::PathBuf, Service) {
    let rules = setup.dir.path().join("rules");
    rules_with_ack_target(&rules, 600);
    let svc = setup.start(&["--rules", rules.to_str().unwrap()], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    (rules, svc)
}

/// After the faults: `/healthz` still answers, and SIGTERM exits 0.
fn still_healthy_then_stops_cleanly(setup: &Setup, mut svc: Service) {
    assert_eq!(
        http_get(setup.http_port, "/healthz").map(|r| r.0),
        Some(200)
    );
    svc.signal("-TERM");
    assert!(svc.wait().success(), "{}", setup.all_logs());
}

/// The dead letters on the DLQ topic, one per source record.
fn dead_letters(setup: &Setup) -> HashMap<String, serde_json::Value> {
    by_id(&setup.topic("dlq"), "source")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bad_input_corpus_on_the_broker_costs_one_dead_letter_each() {
    let setup = Setup::new("corpus", 1);
    // A valid backlog, the bad records spread through it.
    let all = scenario(30, 17);
    let until = chrono::Utc::now();
    let refused: HashSet<String> = replay_expected(&all, until, &shipped_rules())
        .dead_letters
        .into_iter()
        .map(|d| d.payload)
        .collect();
    let valid: Vec<String> = all.into_iter().filter(|l| !refused.contains(l)).collect();
    let corpus = corpus::corpus();
    let step = valid.len() / corpus.len() + 1;
    let mut records: Vec<Vec<u8>> = Vec::new();
    let mut bad = corpus.iter();
    for (i, line) in valid.iter().enumerate() {
        records.push(line.clone().into_bytes());
        if i % step == 0
            && let Some(b) = bad.next()
        {
            records.push(b.payload.clone());
        }
    }
    records.extend(bad.map(|b| b.payload.clone()));
    produce_bytes(&setup.topic("events"), &records).await;
    let svc = setup.start(&[], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    let mut dlq = HashMap::new();
    let all_there = eventually(Duration::from_secs(90), || {
        dlq = dead_letters(&setup);
        dlq.len() >= corpus.len()
    });
    assert!(
        all_there,
        "{} of {} dead letters\n{}",
        dlq.len(),
        corpus.len(),
        setup.all_logs()
    );
    assert_eq!(dlq.len(), corpus.len(), "one dead letter per bad record");
    let mut wrong = Vec::new();
    for b in &corpus {
        let payload = String::from_utf8_lossy(&b.payload);
        let found = dlq.values().find(|d| {
            let p = d["payload"].as_str().unwrap_or_default();
            p == payload || (d["payload_bytes"].as_u64() == Some(b.payload.len() as u64))
        });
        let reason = found.and_then(|d| d["reason"].as_str()).unwrap_or_default();
        if !(reason.starts_with(&format!("{}: ", b.code)) && reason.contains(&b.says)) {
            wrong.push(format!("{}: {reason:?}", b.name));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The valid events give exactly what a replay of them alone gives.
    let expected = replay_expected(&valid, chrono::Utc::now(), &shipped_rules());
    let want_sla = ids(&expected.sla, "event_id");
    let mut got_sla = HashMap::new();
    assert!(eventually(Duration::from_secs(30), || {
        got_sla = by_id(&setup.topic("sla"), "event_id");
        got_sla.len() >= want_sla.len()
    }));
    assert_eq!(got_sla, want_sla);
    assert_eq!(
        by_id(&setup.topic("decisions"), "decision_id"),
        ids(&expected.decisions, "decision_id")
    );
    still_healthy_then_stops_cleanly(&setup, svc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2mb_event_and_a_300000_year_rule_value_cost_one_dead_letter_and_one_refused_reload() {
    let setup = Setup::new("faults", 1);
    let (rules, svc) = start_with_own_rules(&setup);
    let ids_a: Vec<String> = (0..5).map(|i| format!("A-{i}")).collect();
    let big = format!(
        r#"{{"event_id":"big","type":"complaint.received","complaint_id":"BIG","occurred_at":"{}","channel":"web","customer":{{"id":"K","name":"N"}},"description":"{}"}}"#,
        chrono::Utc::now().to_rfc3339(),
        "断".repeat(700_000)
    );
    let mut records: Vec<Vec<u8>> = received_now(&ids_a[..2])
        .into_iter()
        .map(String::into_bytes)
        .collect();
    records.push(big.clone().into_bytes());
    records.extend(
        received_now(&ids_a[2..])
            .into_iter()
            .map(String::into_bytes),
    );
    produce_bytes(&setup.topic("events"), &records).await;
    wait_decided(&setup, &ids_a, Duration::from_secs(30));
    let dlq = dead_letters(&setup);
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let d = dlq.values().next().unwrap();
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .starts_with("too_large: the event has 2100"),
        "{d}"
    );
    assert_eq!(d["payload_bytes"].as_u64(), Some(big.len() as u64));

    // A stage target of 300,000 years: refused like a syntax error.
    let sla = rules.join("sla.toml");
    let text = std::fs::read_to_string(&sla).unwrap();
    std::fs::write(
        &sla,
        text.replace("handle = \"24h\"", "handle = \"2629800000h\""),
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || setup
            .log(setup.http_port)
            .contains("rules reload refused")),
        "{}",
        setup.log(setup.http_port)
    );
    let log = setup.log(setup.http_port);
    assert!(log.contains("366 days"), "{log}");
    let ids_b: Vec<String> = (0..5).map(|i| format!("B-{i}")).collect();
    produce(&setup.topic("events"), &received_now(&ids_b)).await;
    wait_decided(&setup, &ids_b, Duration::from_secs(30));
    assert_eq!(
        metric(
            setup.http_port,
            "complaintflow_rules_reloads_total{result=\"failed\"}"
        ),
        1.0
    );
    still_healthy_then_stops_cleanly(&setup, svc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_faults_are_refused_at_reload_and_every_complaint_is_still_decided() {
    let setup = Setup::new("rulefaults", 1);
    let (rules, svc) = start_with_own_rules(&setup);
    let port = setup.http_port;
    let ok = r#"category: "technical", priority: "general", lead_department: "technical""#;
    let faults = [
        ("syntax error", "fn decide(c) { let = ; }".to_string()),
        ("endless loop", "fn decide(c) { loop { } }".to_string()),
        ("wrong types", "fn decide(c) { #{ category: 5, priority: [], lead_department: () } }".to_string()),
        ("300,000-year target from a script", format!("fn decide(c) {{ #{{ {ok}, sla: #{{ handle: \"2629800000h\" }} }} }}")),
        ("1 MB string", "fn decide(c) { let s = \"x\"; for i in 0..20 { s += s; } #{ category: \"technical\", priority: \"general\", lead_department: s } }".to_string()),
        ("unknown field of the complaint", format!("fn decide(c) {{ let x = c.no_such_field; #{{ {ok} }} }}")),
        ("returns no map", "fn decide(c) { 42 }".to_string()),
    ];
    let decide = rules.join("decide.rhai");
    for (n, (name, script)) in faults.iter().enumerate() {
        std::fs::write(&decide, script).unwrap();
        let refused = eventually(Duration::from_secs(15), || {
            metric(port, "complaintflow_rules_reloads_total{result=\"failed\"}") >= (n + 1) as f64
        });
        assert!(refused, "{name}: reload not refused\n{}", setup.log(port));
        let ids = vec![format!("F-{n}")];
        produce(&setup.topic("events"), &received_now(&ids)).await;
        wait_decided(&setup, &ids, Duration::from_secs(30));
        let d = &by_id(&setup.topic("decisions"), "decision_id")[&format!("F-{n}:0:decision")];
        // Decided by the rules that were running, not by a fallback.
        assert!(
            !d["reason"].as_str().unwrap().starts_with("fallback:"),
            "{name}: {d}"
        );
    }
    still_healthy_then_stops_cleanly(&setup, svc);
}
