//! Restarts, rebalances and takeovers on the real broker: every input
//! record is processed once in effect, and the state and timers move with
//! their partitions.

mod support;
use std::collections::HashMap;
use std::time::Duration;
use support::*;

fn complaint_of(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v["complaint_id"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Splits a stream by complaint: the lines of every other complaint, and the rest.
fn split_by_complaint(lines: &[String]) -> (Vec<String>, Vec<String>) {
    let mut order: Vec<String> = Vec::new();
    for l in lines {
        let c = complaint_of(l);
        if !order.contains(&c) {
            order.push(c);
        }
    }
    lines
        .iter()
        .cloned()
        .partition(|l| order.iter().position(|c| *c == complaint_of(l)).unwrap() % 2 == 0)
}

/// Records per partition of a topic whose every record is read from offset 0.
fn records_in(topic: &str) -> usize {
    read_topic(topic).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_restart_lose_nothing_and_restored_timers_fire() {
    let setup = Setup::new("restart", 3);
    // Half of the complaints, SIGTERM (which commits), the other half, a
    // new instance: each half's complaints are whole, so what the first
    // instance's wall clock fired is what a replay gives too.
    let all = scenario(80, 21);
    let (a, b) = split_by_complaint(&all);
    // Each half is on the broker before an instance starts: weeks-old
    // events are a backlog, not late evidence for a caught-up partition.
    produce(&setup.topic("events"), &a).await;
    let mut first = setup.start(&[], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    assert_same_outputs(&setup, &[&a], Duration::from_secs(60), &shipped_rules());
    first.signal("-TERM");
    assert!(first.wait().success(), "{}", setup.all_logs());
    // The committed offsets are the next records to read: exactly the
    // records of the first half (Kafka resumes a group at its commit).
    let offsets = committed(&setup.prefix, &setup.topic("events"));
    assert_eq!(
        offsets.values().sum::<i64>() as usize,
        records_in(&setup.topic("events")),
        "committed {offsets:?}\n{}",
        setup.all_logs()
    );
    produce(&setup.topic("events"), &b).await;
    let port = free_port();
    let _second = setup.start(&[], port);
    wait_ready(port, Duration::from_secs(30));
    let restored: usize = setup
        .log(port)
        .lines()
        .filter(|l| l.contains("partition state restored"))
        .filter_map(|l| {
            l.split("complaints=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .trim_matches(|c: char| !c.is_ascii_digit())
                .parse::<usize>()
                .ok()
        })
        .sum();
    assert!(restored > 0, "nothing restored\n{}", setup.log(port));
    // Every record of both halves processed once: the outcome equals a
    // replay of each half.
    assert_same_outputs(&setup, &[&a, &b], Duration::from_secs(90), &shipped_rules());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_then_five_after_sigterm_and_after_a_rebalance_are_all_decided() {
    let setup = Setup::new("resume", 2);
    let batch =
        |from: usize| -> Vec<String> { (from..from + 5).map(|i| format!("RES-{i}")).collect() };
    let mut one = setup.start(&[], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    produce(&setup.topic("events"), &received_now(&batch(0))).await;
    wait_decided(&setup, &batch(0), Duration::from_secs(30));
    one.signal("-TERM");
    assert!(one.wait().success(), "{}", setup.all_logs());
    assert!(
        setup
            .log(setup.http_port)
            .contains("offsets committed at shutdown")
    );
    let offsets = committed(&setup.prefix, &setup.topic("events"));
    assert_eq!(offsets.values().sum::<i64>(), 5, "committed {offsets:?}");

    // Five more while nobody runs, then a restart: all ten decided.
    produce(&setup.topic("events"), &received_now(&batch(5))).await;
    let port2 = free_port();
    let _two = setup.start(&[], port2);
    wait_ready(port2, Duration::from_secs(30));
    let ten: Vec<String> = [batch(0), batch(5)].concat();
    wait_decided(&setup, &ten, Duration::from_secs(30));

    // A second instance joins (the partitions are split), five more, it
    // leaves (its partitions come back), five more.
    let port3 = free_port();
    let mut three = setup.start(&[], port3);
    wait_ready(port3, Duration::from_secs(40));
    let restored = |port: u16| setup.log(port).matches("partition state restored").count();
    assert!(
        eventually(Duration::from_secs(30), || restored(port3) >= 1),
        "the joining instance got no partition\n{}",
        setup.all_logs()
    );
    produce(&setup.topic("events"), &received_now(&batch(10))).await;
    wait_decided(&setup, &batch(10), Duration::from_secs(30));
    three.signal("-TERM");
    assert!(three.wait().success(), "{}", setup.all_logs());
    produce(&setup.topic("events"), &received_now(&batch(15))).await;
    let twenty: Vec<String> = [ten, batch(10), batch(15)].concat();
    wait_decided(&setup, &twenty, Duration::from_secs(40));
    // Exactly those decisions (by_id checks that repeats are identical),
    // and every complaint's acknowledgement clock started once.
    let decisions = by_id(&setup.topic("decisions"), "decision_id");
    assert_eq!(decisions.len(), 20);
    let sla = by_id(&setup.topic("sla"), "event_id");
    for id in &twenty {
        assert!(
            sla.contains_key(&format!("{id}:0:acknowledge:started")),
            "{id}"
        );
    }
    assert!(
        read_topic(&setup.topic("dlq")).is_empty(),
        "no dead letters"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_takes_over_partitions_state_and_due_timers() {
    let setup = Setup::new("scale", 4);
    let rules = setup.dir.path().join("rules");
    rules_with_ack_target(&rules, 10);
    let rules_arg = rules.to_str().unwrap().to_string();
    let (port1, port2) = (setup.http_port, free_port());
    let mut one = setup.start(&["--rules", &rules_arg], port1);
    let _two = setup.start(&["--rules", &rules_arg], port2);
    wait_ready(port1, Duration::from_secs(30));
    wait_ready(port2, Duration::from_secs(30));
    // Both members hold partitions before any input arrives.
    let split = eventually(Duration::from_secs(40), || {
        let assigned = |log: String| {
            log.lines()
                .filter(|l| l.contains("partition state restored"))
                .count()
        };
        assigned(setup.log(port1)) > 0 && assigned(setup.log(port2)) > 0
    });
    assert!(
        split,
        "partitions not split:\n{}\n---\n{}",
        setup.log(port1),
        setup.log(port2)
    );
    let fresh: Vec<String> = (0..16).map(|i| format!("SCALE-{i}")).collect();
    produce(&setup.topic("events"), &received_now(&fresh)).await;
    assert!(eventually(Duration::from_secs(30), || by_id(
        &setup.topic("decisions"),
        "decision_id"
    )
    .len()
        == fresh.len()));
    one.signal("-TERM");
    assert!(one.wait().success(), "{}", setup.all_logs());
    // The survivor restores the leaver's partitions and fires their timers.
    let mut sla = HashMap::new();
    let fired = eventually(Duration::from_secs(45), || {
        sla = by_id(&setup.topic("sla"), "event_id");
        fresh
            .iter()
            .all(|id| sla.contains_key(&format!("{id}:0:acknowledge:breached")))
    });
    assert!(
        fired,
        "not every breach fired after the takeover\n{}",
        setup.log(port2)
    );
    let restored = setup
        .log(port2)
        .lines()
        .filter(|l| l.contains("partition state restored"))
        .count();
    assert!(
        restored >= 4,
        "survivor restored only {restored} partitions\n{}",
        setup.log(port2)
    );
    // Each complaint decided once; no record was judged as unknown.
    assert_eq!(
        by_id(&setup.topic("decisions"), "decision_id").len(),
        fresh.len()
    );
    assert!(
        read_topic(&setup.topic("dlq")).is_empty(),
        "no dead letters"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_event_waiting_at_a_restart_is_read_again_and_applied() {
    let setup = Setup::new("early", 1);
    let ids: Vec<String> = ["V", "U", "W"]
        .iter()
        .map(|c| format!("{c}-{}", setup.prefix))
        .collect();
    let mut first_batch = received_now(&ids);
    // U's acknowledgement arrives; its receipt (from another adapter) not yet.
    let now = chrono::Utc::now();
    first_batch[1] = serde_json::json!({"event_id": "U-ack", "type": "complaint.acknowledged",
        "complaint_id": ids[1], "occurred_at": now.to_rfc3339()})
    .to_string();
    produce(&setup.topic("events"), &first_batch).await;
    let mut first = setup.start(&[], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    let port = setup.http_port;
    assert!(
        eventually(Duration::from_secs(30), || metric(
            port,
            "complaintflow_events_in_total"
        ) == 2.0
            && metric(port, "complaintflow_events_held") == 1.0),
        "{}",
        setup.all_logs()
    );
    first.signal("-TERM");
    assert!(first.wait().success(), "{}", setup.all_logs());
    // Nothing past the held acknowledgement (offset 1) is committed.
    let offsets = committed(&setup.prefix, &setup.topic("events"));
    assert_eq!(offsets.get(&0), Some(&1), "{}", setup.all_logs());
    let mut u = serde_json::from_str::<serde_json::Value>(&received_now(&ids[1..2])[0]).unwrap();
    u["occurred_at"] = (now - chrono::TimeDelta::minutes(1)).to_rfc3339().into();
    produce(&setup.topic("events"), &[u.to_string()]).await;
    let second_port = free_port();
    let _second = setup.start(&[], second_port);
    wait_ready(second_port, Duration::from_secs(30));
    let met = format!("{}:0:acknowledge:met", ids[1]);
    assert!(
        eventually(Duration::from_secs(30), || by_id(
            &setup.topic("sla"),
            "event_id"
        )
        .contains_key(&met)),
        "{}",
        setup.all_logs()
    );
    assert!(
        read_topic(&setup.topic("dlq")).is_empty(),
        "{}",
        setup.all_logs()
    );
    // W, read again after the restart, is a duplicate: one decision each.
    assert_eq!(records_in(&setup.topic("decisions")), 3);
}

/// How often each id of `field` occurs on `topic`.
fn deliveries(topic: &str, field: &str) -> HashMap<String, usize> {
    let mut n = HashMap::new();
    for bytes in read_topic(topic) {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        *n.entry(v[field].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_joining_mid_stream_delivers_no_output_twice() {
    let setup = Setup::new("join", 4);
    let (port1, port2) = (setup.http_port, free_port());
    let mut one = setup.start(&[], port1);
    wait_ready(port1, Duration::from_secs(30));
    // Receipts keep coming while the second member joins: the revoke finds
    // batches in flight, which must settle and commit before the new owner
    // reads their partitions.
    let ids: Vec<String> = (0..600).map(|i| format!("JOIN-{i}")).collect();
    let chunks: Vec<&[String]> = ids.chunks(20).collect();
    let mut two = None;
    for (i, chunk) in chunks.iter().enumerate() {
        if i == chunks.len() / 3 {
            two = Some(setup.start(&[], port2));
        }
        produce(&setup.topic("events"), &received_now(chunk)).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let mut two = two.unwrap();
    wait_ready(port2, Duration::from_secs(30));
    let decided = eventually(Duration::from_secs(60), || {
        deliveries(&setup.topic("decisions"), "decision_id").len() == ids.len()
    });
    assert!(decided, "not all decided\n{}", setup.all_logs());
    // It gave partitions up only after its batches in flight settled.
    let log = setup.log(port1);
    let settled = log.find("revoke: batches in flight settled");
    let revoked = log.find("partitions revoked");
    assert!(
        settled.is_some() && settled < revoked,
        "the first member did not wait for its batches before the revoke\n{log}"
    );
    for (topic, field) in [("decisions", "decision_id"), ("sla", "event_id")] {
        let twice: Vec<(String, usize)> = deliveries(&setup.topic(topic), field)
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .collect();
        assert!(
            twice.is_empty(),
            "{} {topic} delivered more than once, e.g. {:?}\n{}",
            twice.len(),
            &twice[..twice.len().min(5)],
            setup.all_logs()
        );
    }
    assert!(
        read_topic(&setup.topic("dlq")).is_empty(),
        "no dead letters"
    );
    for svc in [&mut one, &mut two] {
        svc.signal("-TERM");
        assert!(svc.wait().success(), "{}", setup.all_logs());
    }
}
