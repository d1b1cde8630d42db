//! Live mode on a real Kafka-protocol broker (scripts/test.sh starts it).

mod support;
use std::collections::HashMap;
use std::time::Duration;
use support::*;

fn ids<T: serde::Serialize>(rows: &[T], field: &str) -> HashMap<String, serde_json::Value> {
    rows.iter()
        .map(|r| {
            let v = serde_json::to_value(r).unwrap();
            (v[field].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// Every expected output id is there with the same content, and nothing else.
fn assert_same_outputs(setup: &Setup, lines: &[String], within: Duration) {
    let until = chrono::Utc::now();
    let expected = replay_expected(lines, until);
    let want_sla = ids(&expected.sla, "event_id");
    let want_dec = ids(&expected.decisions, "decision_id");
    let mut got_sla = HashMap::new();
    let complete = eventually(within, || {
        got_sla = by_id(&setup.topic("sla"), "event_id");
        got_sla.len() >= want_sla.len()
    });
    if !complete {
        let missing: Vec<_> = want_sla.keys().filter(|k| !got_sla.contains_key(*k)).take(10).collect();
        panic!("only {} of {} SLA events arrived; missing e.g. {missing:?}\nlog:\n{}", got_sla.len(), want_sla.len(), setup.log(setup.http_port));
    }
    let missing: Vec<_> = want_sla.keys().filter(|k| !got_sla.contains_key(*k)).take(5).collect();
    assert!(missing.is_empty(), "missing SLA events, e.g. {missing:?}");
    for (id, v) in &want_sla {
        assert_eq!(&got_sla[id], v, "SLA event {id} differs from replay");
    }
    assert_eq!(got_sla.len(), want_sla.len(), "live produced SLA events replay did not");
    let got_dec = by_id(&setup.topic("decisions"), "decision_id");
    assert_eq!(got_dec, want_dec);
    let mut want_dlq: Vec<(String, String)> = expected.dead_letters.iter().map(|d| (d.payload.clone(), d.reason.clone())).collect();
    let mut got_dlq: Vec<(String, String)> = read_topic(&setup.topic("dlq"))
        .iter()
        .map(|b| serde_json::from_slice::<serde_json::Value>(b).unwrap())
        .map(|v| (v["payload"].as_str().unwrap().to_string(), v["reason"].as_str().unwrap().to_string()))
        .collect();
    want_dlq.sort();
    got_dlq.sort();
    got_dlq.dedup();
    assert_eq!(got_dlq, want_dlq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_gives_exactly_what_replay_gives() {
    let setup = Setup::new("e2e", 3);
    let mut svc = setup.start(&[], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    let lines = scenario(120, 11);
    produce(&setup.topic("events"), &lines).await;
    assert_same_outputs(&setup, &lines, Duration::from_secs(60));

    // Operations: metrics and health answer; SIGTERM drains and exits 0.
    let (status, metrics) = http_get(setup.http_port, "/metrics").unwrap();
    assert_eq!(status, 200);
    for name in ["complaintflow_events_in_total", "complaintflow_outputs_total", "complaintflow_dead_letters_total", "complaintflow_decisions_total", "complaintflow_open_complaints", "complaintflow_timers_pending", "complaintflow_rules_info"] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
    assert_eq!(http_get(setup.http_port, "/healthz").unwrap().0, 200);
    svc.signal("-TERM");
    let status = svc.wait();
    assert!(status.success(), "exit after SIGTERM: {status:?}\n{}", setup.log(setup.http_port));
    let log = setup.log(setup.http_port);
    assert!(log.contains("offsets committed at shutdown"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_go_to_the_dead_letter_topic_and_the_stream_goes_on() {
    let setup = Setup::new("poison", 2);
    let mut svc = setup.start(&[], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    let mut lines = scenario(20, 5);
    let garbage = vec![
        "\u{0}\u{1}binary garbage".to_string(),
        r#"{"event_id":"p1","type":"complaint.handled","complaint_id":"CF-000001","occurred_at":"2026-11-02T10:00:00+08:00"}"#.to_string(),
        r#"{"event_id":"p2","type":"complaint.teleported","complaint_id":"CF-000002","occurred_at":"2026-11-02T10:00:00+08:00"}"#.to_string(),
    ];
    lines.splice(5..5, garbage.clone());
    produce(&setup.topic("events"), &lines).await;
    let mut dlq = Vec::new();
    let found = eventually(Duration::from_secs(60), || {
        dlq = read_topic(&setup.topic("dlq")).iter().map(|b| serde_json::from_slice::<serde_json::Value>(b).unwrap()).collect();
        garbage.iter().all(|g| dlq.iter().any(|d| d["payload"] == g.as_str()))
    });
    assert!(found, "dead letters: {dlq:?}\nlog:\n{}", setup.log(setup.http_port));
    for d in &dlq {
        assert!(!d["reason"].as_str().unwrap().is_empty());
        let source = d["source"].as_str().unwrap();
        assert!(source.starts_with(&setup.topic("events")) && source.split('/').count() == 3, "{source}");
    }
    let reasons: Vec<&str> = dlq.iter().filter(|d| garbage.iter().any(|g| d["payload"] == g.as_str())).map(|d| d["reason"].as_str().unwrap()).collect();
    assert!(reasons.iter().any(|r| r.starts_with("unparsable: not valid JSON")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("missing field `cause`")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("unknown event type `complaint.teleported`")), "{reasons:?}");
    // Valid events kept flowing: every complaint got its decision.
    assert!(eventually(Duration::from_secs(30), || by_id(&setup.topic("decisions"), "decision_id").len() >= 20));
    svc.signal("-TERM");
    assert!(svc.wait().success());
}
