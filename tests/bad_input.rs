//! Bad input costs one dead letter each, with a reason that names the
//! problem, and changes nothing else: the corpus of `tests/corpus/`, mixed
//! into a valid stream, through replay; arbitrary bytes and JSON never panic.

mod corpus;
use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::driver::replay::Replay;
use complaintflow::model::Timestamp;
use complaintflow::rules::RuleSet;
use complaintflow::sink::file::MemorySink;
use proptest::prelude::*;
use std::collections::HashSet;

/// Replays records one by one (`source` = their index) with a fixed "now".
fn replay(records: &[Vec<u8>], now: Timestamp, until: Timestamp) -> MemorySink {
    let rules = RuleSet::embedded();
    let mut sink = MemorySink::default();
    let mut r = Replay::at(&rules, now);
    for (i, rec) in records.iter().enumerate() {
        r.feed(rec, || i.to_string(), &mut sink).unwrap();
    }
    r.finish(Some(until), &mut sink).unwrap();
    sink
}

/// A demo stream without the lines it refuses on its own.
fn valid_stream() -> (Vec<Vec<u8>>, Timestamp) {
    let cfg = DemoConfig {
        complaints: 40,
        days: 1,
        ..DemoConfig::default()
    };
    let until = cfg.end().to_utc();
    let lines: Vec<Vec<u8>> = generate(&cfg, &RuleSet::embedded())
        .into_iter()
        .map(String::into_bytes)
        .collect();
    let refused: HashSet<String> = replay(&lines, until, until)
        .dead_letters
        .into_iter()
        .map(|d| d.payload)
        .collect();
    let valid = lines
        .into_iter()
        .filter(|l| !refused.contains(String::from_utf8_lossy(l).as_ref()))
        .collect();
    (valid, until)
}

fn rows<T: serde::Serialize>(v: &[T]) -> Vec<String> {
    v.iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect()
}

#[test]
fn the_corpus_has_over_a_hundred_distinct_kinds() {
    let corpus = corpus::corpus();
    assert!(corpus.len() >= 100, "{} kinds", corpus.len());
    let payloads: HashSet<&[u8]> = corpus.iter().map(|b| b.payload.as_slice()).collect();
    assert_eq!(payloads.len(), corpus.len(), "every case differs");
}

#[test]
fn each_bad_record_is_one_dead_letter_naming_its_problem_and_changes_nothing_else() {
    let (valid, until) = valid_stream();
    let corpus = corpus::corpus();
    // Spread the bad records through the stream.
    let step = valid.len() / corpus.len() + 1;
    let mut mixed = Vec::new();
    let mut bad_at = Vec::new();
    let mut bad = corpus.iter();
    for (i, line) in valid.iter().enumerate() {
        mixed.push(line.clone());
        if i % step == 0
            && let Some(b) = bad.next()
        {
            bad_at.push((mixed.len().to_string(), b));
            mixed.push(b.payload.clone());
        }
    }
    for b in bad {
        bad_at.push((mixed.len().to_string(), b));
        mixed.push(b.payload.clone());
    }
    let clean = replay(&valid, until, until);
    let dirty = replay(&mixed, until, until);
    assert!(clean.dead_letters.is_empty());
    let mut wrong = Vec::new();
    for (source, b) in &bad_at {
        let got: Vec<&str> = dirty
            .dead_letters
            .iter()
            .filter(|d| &d.source == source)
            .map(|d| d.reason.as_str())
            .collect();
        let ok = got.len() == 1
            && got[0].starts_with(&format!("{}: ", b.code))
            && got[0].contains(&b.says);
        if !ok {
            wrong.push(format!(
                "{}: want {} ..{}.. got {got:?}",
                b.name, b.code, b.says
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(dirty.dead_letters.len(), corpus.len());
    assert_eq!(rows(&dirty.sla), rows(&clean.sla));
    assert_eq!(rows(&dirty.decisions), rows(&clean.decisions));
    assert_eq!(rows(&dirty.complaints), rows(&clean.complaints));
    // A cut payload keeps its size and digest; every dead letter is small.
    let big = dirty
        .dead_letters
        .iter()
        .find(|d| d.payload_bytes.is_some())
        .expect("the 2 MB line is cut");
    assert!(big.payload.len() <= 64 * 1024 && big.payload_bytes > Some(2 << 20));
    assert_eq!(big.payload_sha256.as_ref().map(String::len), Some(64));
    for d in &dirty.dead_letters {
        assert!(serde_json::to_vec(d).unwrap().len() < 1_000_000);
    }
}

/// Any JSON value, nested a little.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("complaint.received"),
            Just("complaint.acknowledged"),
            Just("complaint.assigned"),
            Just("complaint.handled"),
            Just("2026-03-02T10:00:00Z"),
            Just("+262142-01-01T00:00:00Z"),
            Just("9999-12-31T23:59:59Z"),
            Just("C1"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("event_id".to_string()),
                    Just("type".to_string()),
                    Just("complaint_id".to_string()),
                    Just("occurred_at".to_string()),
                    Just("customer".to_string()),
                    Just("until".to_string()),
                    Just("attributes".to_string()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(records in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..20)) {
        let now: Timestamp = "2026-03-03T00:00:00Z".parse().unwrap();
        let out = replay(&records, now, now);
        prop_assert!(out.dead_letters.iter().all(|d| !d.reason.starts_with("internal_error")));
    }

    #[test]
    fn arbitrary_json_events_never_panic(values in prop::collection::vec(json_value(), 1..30)) {
        let now: Timestamp = "2026-03-03T00:00:00Z".parse().unwrap();
        let records: Vec<Vec<u8>> = values.iter().map(|v| v.to_string().into_bytes()).collect();
        let out = replay(&records, now, now);
        prop_assert!(out.dead_letters.iter().all(|d| !d.reason.starts_with("internal_error")), "{:?}", out.dead_letters);
    }

    /// Valid events with one field replaced by anything: decided or
    /// dead-lettered, never a panic.
    #[test]
    fn valid_events_with_one_field_replaced_never_panic(
        seed in 0usize..1000,
        field in prop_oneof![Just("occurred_at"), Just("type"), Just("customer"), Just("attributes"), Just("until"), Just("lead_department"), Just("priority"), Just("satisfied"), Just("description"), Just("happened_at")],
        value in json_value(),
    ) {
        let (valid, until) = valid_stream_cached();
        let mut records: Vec<Vec<u8>> = valid.to_vec();
        let i = seed % records.len();
        let mut v: serde_json::Value = serde_json::from_slice(&records[i]).unwrap();
        v[field] = value;
        records[i] = v.to_string().into_bytes();
        let out = replay(&records, *until, *until);
        prop_assert!(out.dead_letters.iter().all(|d| !d.reason.starts_with("internal_error")));
    }
}

fn valid_stream_cached() -> &'static (Vec<Vec<u8>>, Timestamp) {
    static STREAM: std::sync::OnceLock<(Vec<Vec<u8>>, Timestamp)> = std::sync::OnceLock::new();
    STREAM.get_or_init(valid_stream)
}
