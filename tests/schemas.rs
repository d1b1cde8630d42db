//! `schemas/` and the Rust types cannot drift: every example is checked
//! against both, invalid examples are refused by both, and every output of a
//! demo replay validates against the output schemas.

use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::driver::replay::{Bounds, replay_reader};
use complaintflow::model::Event;
use complaintflow::rules::RuleSet;
use complaintflow::sink::file::MemorySink;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::validator_for(&load(&root().join(name))).expect("schema compiles")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_example_matches_the_schema_and_the_rust_types() {
    let schema = validator("events/event.schema.json");
    let mut types = BTreeSet::new();
    for path in json_files(&root().join("examples")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let errs = errors(&schema, &value);
        assert!(errs.is_empty(), "{}: {errs:?}", path.display());
        let ev = Event::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        types.insert(ev.type_name());
        // What the Rust types write back is valid too.
        let back = serde_json::to_value(&ev).unwrap();
        assert!(
            errors(&schema, &back).is_empty(),
            "{} re-serialized: {back}",
            path.display()
        );
    }
    let schema_types: BTreeSet<String> = load(&root().join("events/event.schema.json"))["$defs"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|d| d["properties"]["type"]["const"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        types.len(),
        11,
        "every event type has an example: {types:?}"
    );
    assert_eq!(
        types.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(),
        schema_types
    );
}

#[test]
fn invalid_examples_are_refused_by_both() {
    let schema = validator("events/event.schema.json");
    let files = json_files(&root().join("examples/invalid"));
    assert!(files.len() >= 5);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(
            !schema.is_valid(&value),
            "schema accepts {}",
            path.display()
        );
        assert!(
            Event::from_json(&text).is_err(),
            "Rust accepts {}",
            path.display()
        );
    }
}

#[test]
fn replay_outputs_match_the_output_schemas() {
    let rules = RuleSet::embedded();
    let cfg = DemoConfig {
        complaints: 300,
        ..DemoConfig::default()
    };
    let input = generate(&cfg, &rules).join("\n");
    let mut sink = MemorySink::default();
    replay_reader(
        input.as_bytes(),
        "demo",
        &rules,
        Bounds::until(Some(cfg.end().to_utc())),
        &mut sink,
        |_| {},
    )
    .unwrap();
    fn check<T: serde::Serialize>(schema: &str, rows: &[T]) {
        assert!(!rows.is_empty(), "{schema}: no rows to check");
        let v = validator(schema);
        for row in rows {
            let value = serde_json::to_value(row).unwrap();
            let errs = errors(&v, &value);
            assert!(errs.is_empty(), "{schema}: {errs:?} in {value}");
        }
    }
    check("outputs/decision.schema.json", &sink.decisions);
    check("outputs/sla_event.schema.json", &sink.sla);
    check("outputs/dead_letter.schema.json", &sink.dead_letters);
    check("outputs/complaint.schema.json", &sink.complaints);
}

/// The input schema (checked by the `jsonschema` crate, formats asserted,
/// as check-jsonschema does) and `validate` (the service's own admission)
/// answer alike on the same lines: nulls in optional fields, time forms,
/// impossible times.
#[test]
fn the_input_schema_and_validate_agree_on_the_same_events() {
    let schema = jsonschema::options()
        .should_validate_formats(true)
        .build(&load(&root().join("events/event.schema.json")))
        .expect("schema compiles");
    use complaintflow::core::Rules;
    let policy = RuleSet::embedded().policy().clone();
    let now = chrono::Utc::now();
    let head = |t: &str, at: &str| {
        format!(
            r#""event_id":"e1","type":"complaint.{t}","complaint_id":"C1","occurred_at":"{at}""#
        )
    };
    let at = "2026-11-02T09:00:00+08:00";
    let cases: Vec<(String, bool)> = vec![
        // null in an optional field: the same as absent, for both.
        (
            format!(r#"{{{},"actor":null}}"#, head("acknowledged", at)),
            true,
        ),
        (
            format!(
                r#"{{{},"channel":"web","customer":{{"id":"K","name":"N","phone":null,"email":null}},"description":"d","impact":null,"attributes":null,"happened_at":null}}"#,
                head("received", at)
            ),
            true,
        ),
        (
            format!(
                r#"{{{},"lead_department":"technical","priority":null,"assist_departments":null}}"#,
                head("assigned", at)
            ),
            true,
        ),
        (
            format!(r#"{{{},"note":"n","kind":null}}"#, head("progress", at)),
            true,
        ),
        (
            format!(
                r#"{{{},"satisfied":true,"comment":null}}"#,
                head("customer_confirmed", at)
            ),
            true,
        ),
        (
            format!(r#"{{{},"reason":null}}"#, head("withdrawn", at)),
            true,
        ),
        // null in a required field: refused by both.
        (
            format!(r#"{{{},"note":null}}"#, head("progress", at)),
            false,
        ),
        (
            format!(r#"{{{},"lead_department":null}}"#, head("assigned", at)),
            false,
        ),
        // Time forms RFC 3339 allows, and impossible times.
        (
            format!("{{{}}}", head("acknowledged", "2026-11-02t09:00:00+08:00")),
            true,
        ),
        (
            format!("{{{}}}", head("acknowledged", "2026-11-02T01:00:00z")),
            true,
        ),
        (
            format!(
                "{{{}}}",
                head("acknowledged", "2026-11-02T09:00:00.123-00:00")
            ),
            true,
        ),
        (
            format!("{{{}}}", head("acknowledged", "2026-02-30T09:00:00+08:00")),
            false,
        ),
        (
            format!("{{{}}}", head("acknowledged", "2026-11-02T25:00:00+08:00")),
            false,
        ),
        (
            format!("{{{}}}", head("acknowledged", "2026-11-02T09:61:00+08:00")),
            false,
        ),
        (
            format!("{{{}}}", head("acknowledged", "2026-11-02T09:00:00+99:00")),
            false,
        ),
        (
            format!("{{{}}}", head("acknowledged", "2026-13-02T09:00:00+08:00")),
            false,
        ),
        (
            format!("{{{}}}", head("acknowledged", "2026-11-02 09:00:00+08:00")),
            false,
        ),
        (
            format!("{{{}}}", head("acknowledged", "2026-11-02T09:00:00")),
            false,
        ),
    ];
    let mut disagree = Vec::new();
    for (line, valid) in &cases {
        let value: Value = serde_json::from_str(line).unwrap();
        let by_schema = schema.is_valid(&value);
        let by_validate = complaintflow::core::admit(line.as_bytes(), now, &policy).is_ok();
        if by_schema != *valid || by_validate != *valid {
            disagree.push(format!(
                "want {valid}, schema {by_schema}, validate {by_validate}: {line}"
            ));
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
    // Duplicate keys: the one case a schema cannot see (its parser keeps
    // one value); validate refuses it and the schema's description says so.
    let dup = format!(r#"{{{},"complaint_id":"C2"}}"#, head("acknowledged", at));
    assert!(complaintflow::core::admit(dup.as_bytes(), now, &policy).is_err());
    assert!(
        load(&root().join("events/event.schema.json"))["description"]
            .as_str()
            .unwrap()
            .contains("Duplicate keys are refused")
    );
}
