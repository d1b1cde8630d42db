//! Live outputs against a replay of the same input: every expected id with
//! the same content, nothing else.

use super::*;

pub fn ids<T: serde::Serialize>(rows: &[T], field: &str) -> HashMap<String, serde_json::Value> {
    rows.iter()
        .map(|r| {
            let v = serde_json::to_value(r).unwrap();
            (v[field].as_str().unwrap().to_string(), v)
        })
        .collect()
}

pub type Outputs = HashMap<String, serde_json::Value>;

/// What a failing comparison needs: one missing complaint's SLA events on
/// both sides, its inputs and dead letters, and the service logs.
pub fn explain(
    setup: &Setup,
    lines: &[&String],
    want: &Outputs,
    got: &Outputs,
    missing: Option<&str>,
) -> String {
    let Some(cid) = missing.and_then(|m| m.split(':').next()) else {
        return setup.all_logs();
    };
    let of = |m: &Outputs| {
        let mut v: Vec<String> = m
            .values()
            .filter(|v| v["complaint_id"] == cid)
            .map(|v| {
                format!(
                    "{} at={} deadline={}",
                    v["event_id"], v["at"], v["deadline"]
                )
            })
            .collect();
        v.sort();
        v
    };
    let inputs: Vec<_> = lines
        .iter()
        .filter(|l| l.contains(&format!("\"{cid}\"")))
        .collect();
    let dlq: Vec<String> = read_topic(&setup.topic("dlq"))
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .filter(|d| d.contains(cid))
        .collect();
    format!(
        "{cid}: want {:#?}\ngot {:#?}\ninputs {inputs:#?}\ndead letters {dlq:#?}\n{}",
        of(want),
        of(got),
        setup.all_logs()
    )
}

/// Every expected output id is there with the same content, and nothing
/// else. The expectation is a replay of each input partition's records in
/// their order: each partition has its own clock in stream mode, as the
/// file has in replay. `parts` are the streams the test produced, for the
/// explanation of a failure.
pub fn assert_same_outputs(
    setup: &Setup,
    parts: &[&[String]],
    within: Duration,
    rules: &std::path::Path,
) {
    let until = chrono::Utc::now();
    let mut expected = complaintflow::sink::file::MemorySink::default();
    for records in read_partitions(&setup.topic("events")).into_values() {
        let part: Vec<String> = records
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect();
        let one = replay_expected(&part, until, rules);
        expected.sla.extend(one.sla);
        expected.decisions.extend(one.decisions);
        expected.dead_letters.extend(one.dead_letters);
        expected.complaints.extend(one.complaints);
    }
    let lines: Vec<&String> = parts.iter().flat_map(|p| p.iter()).collect();
    let want_sla = ids(&expected.sla, "event_id");
    let want_dec = ids(&expected.decisions, "decision_id");
    let mut got_sla = HashMap::new();
    let complete = eventually(within, || {
        got_sla = by_id(&setup.topic("sla"), "event_id");
        got_sla.len() >= want_sla.len()
    });
    let missing: Vec<&String> = want_sla
        .keys()
        .filter(|k| !got_sla.contains_key(*k))
        .take(5)
        .collect();
    if !complete || !missing.is_empty() {
        panic!(
            "{} of {} SLA events arrived; missing e.g. {missing:?}\n{}",
            got_sla.len(),
            want_sla.len(),
            explain(
                setup,
                &lines,
                &want_sla,
                &got_sla,
                missing.first().map(|m| m.as_str())
            )
        );
    }
    for (id, v) in &want_sla {
        assert_eq!(&got_sla[id], v, "SLA event {id} differs from replay");
    }
    assert_eq!(
        got_sla.len(),
        want_sla.len(),
        "live produced SLA events replay did not"
    );
    let got_dec = by_id(&setup.topic("decisions"), "decision_id");
    assert_eq!(got_dec, want_dec);
    let mut want_dlq: Vec<(String, String)> = expected
        .dead_letters
        .iter()
        .map(|d| (d.payload.clone(), d.reason.clone()))
        .collect();
    // One dead letter per input record (its source): a redelivered record
    // gives the same one again, while two records may carry equal payloads.
    // (Its time may differ: it is the partition's clock when judged.)
    let mut by_source: HashMap<String, (String, String)> = HashMap::new();
    for bytes in read_topic(&setup.topic("dlq")) {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let pr = (
            v["payload"].as_str().unwrap().to_string(),
            v["reason"].as_str().unwrap().to_string(),
        );
        let source = v["source"].as_str().unwrap().to_string();
        if let Some(old) = by_source.insert(source.clone(), pr.clone()) {
            assert_eq!(old, pr, "dead letters of {source} differ");
        }
    }
    let mut got_dlq: Vec<(String, String)> = by_source.into_values().collect();
    want_dlq.sort();
    got_dlq.sort();
    assert_eq!(got_dlq, want_dlq);
    // Each complaint's latest status row is replay's row for it.
    let want_rows = ids(&expected.complaints, "complaint_id");
    let mut got_rows = HashMap::new();
    eventually(Duration::from_secs(20), || {
        got_rows = latest_by_key(&setup.topic("status"));
        got_rows == want_rows
    });
    assert_eq!(
        got_rows.len(),
        want_rows.len(),
        "complaints with a status row"
    );
    for (id, want) in &want_rows {
        assert_eq!(got_rows.get(id), Some(want), "status row of {id}");
    }
}

/// The last record of each key of `topic` (a key lives in one partition).
fn latest_by_key(topic: &str) -> HashMap<String, serde_json::Value> {
    read_topic(topic)
        .iter()
        .map(|b| serde_json::from_slice::<serde_json::Value>(b).unwrap())
        .map(|v| (v["complaint_id"].as_str().unwrap().to_string(), v))
        .collect()
}
