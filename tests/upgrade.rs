//! An upgrade on the real broker: the state changelog holds JSON records
//! written by the release before the binary format; the new release
//! restores them, carries on those complaints, and writes binary records.

mod support;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;
use support::*;

/// States as the previous release wrote them (JSON), keyed by complaint id.
const OLD_STATES: &str = include_str!("fixtures/state-json.jsonl");

fn id_of(state: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(state).unwrap();
    v["id"].as_str().unwrap().to_string()
}

async fn write_old_states(topic: &str) {
    let producer: FutureProducer = test_client()
        .set("batch.num.messages", "1")
        .create()
        .unwrap();
    for state in OLD_STATES.lines() {
        let id = id_of(state);
        let rec: FutureRecord<'_, str, str> = FutureRecord::to(topic)
            .key(id.as_str())
            .payload(state)
            .partition(0);
        producer
            .send(rec, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_states_of_the_previous_release_restore_and_go_on_in_binary() {
    let setup = Setup::new("upgrade", 1);
    create_topic(&setup.topic("state"), 1);
    write_old_states(&setup.topic("state")).await;
    // A complaint the old release left in `handling`: its fix arrives now.
    let handling = OLD_STATES
        .lines()
        .find(|s| s.contains(r#""status":"handling""#))
        .map(id_of)
        .expect("the fixture has a complaint in handling");
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let handled = serde_json::json!({
        "event_id": "upgrade-handled", "type": "complaint.handled",
        "complaint_id": handling, "occurred_at": now.to_string(),
        "actor": "technical", "cause": "port reset", "measures": "reset the port",
        "result": "service restored",
    })
    .to_string();
    produce(&setup.topic("events"), &[handled]).await;
    let mut service = setup.start(&[], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    // Taken by the restored complaint: a `handled` for an unknown complaint
    // would be dead-lettered, and for a closed one refused.
    let states_after = || {
        read_topic(&setup.topic("state"))
            .into_iter()
            .skip(OLD_STATES.lines().count())
            .collect::<Vec<_>>()
    };
    let written = eventually(Duration::from_secs(30), || {
        states_after()
            .iter()
            .any(|r| complaintflow::core::changelog::decode(r).is_ok_and(|c| *c.id == *handling))
    });
    assert!(written, "no new state for {handling}\n{}", setup.all_logs());
    let dead = read_topic(&setup.topic("dlq"));
    assert!(
        dead.is_empty(),
        "dead letters: {:?}",
        dead.iter()
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .collect::<Vec<_>>()
    );
    // What the new release wrote is binary, and says the fix was taken.
    let mine: Vec<_> = states_after()
        .into_iter()
        .filter(|r| r.starts_with(b"CF"))
        .map(|r| complaintflow::core::changelog::decode(&r).unwrap())
        .filter(|c| *c.id == *handling)
        .collect();
    let last = mine.last().expect("a binary state of the complaint");
    assert_eq!(
        last.status,
        complaintflow::model::output::Status::Handled,
        "{last:?}"
    );
    assert!(last.times.handled.is_some());
    let sla = read_topic(&setup.topic("sla"));
    assert!(
        sla.iter()
            .any(|e| String::from_utf8_lossy(e).contains(&handling)),
        "the restored complaint's clocks went on (its handle stage ended)"
    );
    service.signal("-TERM");
    assert!(service.wait().success(), "{}", setup.all_logs());
}
