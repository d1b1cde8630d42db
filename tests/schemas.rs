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
