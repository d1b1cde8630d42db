//! `complaintflow validate`: adapters check their events before sending;
//! the messages are the service's own dead-letter reasons.

mod corpus;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn validate(input: &[u8], args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .arg("validate")
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn every_wrong_event_of_the_corpus_gets_its_message_and_the_exit_code_is_1() {
    // Blank lines are not events: those two cases are the stream's, not a file's.
    let cases: Vec<corpus::Bad> = corpus::corpus()
        .into_iter()
        .filter(|b| !b.payload.iter().all(u8::is_ascii_whitespace))
        .collect();
    assert!(cases.len() >= 30);
    let mut input = Vec::new();
    for b in &cases {
        input.extend_from_slice(&b.payload);
        input.push(b'\n');
    }
    let o = validate(&input, &[]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    let mut wrong = Vec::new();
    for (i, b) in cases.iter().enumerate() {
        let prefix = format!("line {}: ", i + 1);
        let got = text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_default();
        let reason = got.strip_prefix(&prefix).unwrap_or_default();
        let ok = reason.starts_with(&format!("{}: ", b.code)) && reason.contains(&b.says);
        // The lifecycle's refusals need the stream; validate checks the contract.
        let lifecycle = matches!(b.code, "unknown_complaint" | "already_received");
        let expected_silence = lifecycle && got.is_empty();
        if !(ok || expected_silence) {
            wrong.push(format!(
                "{}: want {} ..{}.. got {got:?}",
                b.name, b.code, b.says
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let lifecycle = cases
        .iter()
        .filter(|b| matches!(b.code, "unknown_complaint" | "already_received"))
        .count();
    assert!(
        text.contains(&format!(
            "{} lines: {} valid, {} bad",
            cases.len(),
            lifecycle,
            cases.len() - lifecycle
        )),
        "{text}"
    );
    // No Rust type names anywhere.
    assert!(
        !text.contains("struct ") && !text.contains("Header"),
        "{text}"
    );
}

#[test]
fn the_schema_examples_are_valid_and_a_misspelt_field_is_a_warning_or_with_strict_an_error() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/examples");
    let mut input = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            input.extend(v.to_string().into_bytes());
            input.push(b'\n');
        }
    }
    let o = validate(&input, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains(" valid, 0 bad"), "{}", stdout(&o));
    let misspelt = br#"{"event_id":"e1","type":"complaint.received","complaint_id":"C1","occurred_at":"2026-11-02T09:00:00+08:00","channel":"web","customer":{"id":"K","name":"N","fone":"1"},"description":"d","impcat":"single"}"#;
    let o = validate(misspelt, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("line 1: warning: unknown field(s) `impcat` (did you mean `impact`?), `customer.fone` (did you mean `customer.phone`?)"),
        "{}",
        stdout(&o)
    );
    let o = validate(misspelt, &["--strict"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("line 1: error: unknown field(s)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn first_touch_mistakes_get_a_word_on_what_to_do() {
    // A shipped example as it is in the repository: pretty-printed.
    let pretty = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/examples/received.json"),
    )
    .unwrap();
    let o = validate(&pretty, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("hint: one event per line (JSON Lines) is expected")
            && stdout(&o).contains("jq -c"),
        "{}",
        stdout(&o)
    );
    // One event, compact, but saved by Excel with a byte order mark.
    let v: serde_json::Value = serde_json::from_slice(&pretty).unwrap();
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(v.to_string().into_bytes());
    let o = validate(&bom, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("byte order mark"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("1 line: 0 valid, 1 bad"),
        "{}",
        stdout(&o)
    );
    // A required field misspelt: "missing" says which one was meant.
    let mut m = v.as_object().unwrap().clone();
    let description = m.remove("description").unwrap();
    m.insert("descripton".into(), description);
    let o = validate(serde_json::Value::Object(m).to_string().as_bytes(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("missing field `description`")
            && stdout(&o).contains("`descripton` is there: did you mean `description`?"),
        "{}",
        stdout(&o)
    );
    // The example itself, on one line, is valid.
    let o = validate(v.to_string().as_bytes(), &[]);
    assert!(
        stdout(&o).contains("1 line: 1 valid, 0 bad"),
        "{}",
        stdout(&o)
    );
}
