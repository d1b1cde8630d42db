//! A corpus of bad input: each case is one record an adapter could send and
//! the words its dead letter's reason must contain (naming the problem).
#![allow(dead_code)]

use serde_json::{Value, json};

pub struct Bad {
    pub name: String,
    pub payload: Vec<u8>,
    /// Reason code, then a fragment of the reason's detail.
    pub code: &'static str,
    pub says: String,
}

const AT: &str = "2026-03-02T10:00:00+08:00";

fn received(cid: &str) -> Value {
    json!({"event_id": format!("{cid}-r"), "type": "complaint.received", "complaint_id": cid,
        "occurred_at": AT, "channel": "web", "customer": {"id": "K1", "name": "王芳"},
        "description": "宽带断网", "impact": "single"})
}

fn event(cid: &str, kind: &str, extra: Value) -> Value {
    let mut v = json!({"event_id": format!("{cid}-x"), "type": format!("complaint.{kind}"),
        "complaint_id": cid, "occurred_at": AT});
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

/// Sets `path` (dot-separated) in `v`; `None` removes it.
fn set(mut v: Value, path: &str, to: Option<Value>) -> Value {
    let (parents, last) = match path.rsplit_once('.') {
        Some((p, l)) => (p.split('.').collect::<Vec<_>>(), l),
        None => (vec![], path),
    };
    let mut at = &mut v;
    for p in parents {
        at = &mut at[p];
    }
    let obj = at.as_object_mut().expect("an object");
    match to {
        Some(x) => obj.insert(last.to_string(), x),
        None => obj.remove(last),
    };
    v
}

fn nested(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!({ "a": v });
    }
    v
}

/// Every case, each with its own complaint id, so none touches another's
/// state.
pub fn corpus() -> Vec<Bad> {
    let mut out: Vec<Bad> = Vec::new();
    let mut n = 0;
    let mut add = |name: &str, payload: Vec<u8>, code: &'static str, says: &str| {
        n += 1;
        // JSON that breaks the contract is `invalid_event`; `unparsable`
        // is for what is not JSON (or not text) at all.
        let json = serde_json::from_slice::<Value>(&payload).is_ok();
        let code = if code == "unparsable" && json {
            "invalid_event"
        } else {
            code
        };
        out.push(Bad {
            name: format!("{n:03} {name}"),
            payload,
            code,
            says: says.to_string(),
        });
    };
    let text = |v: Value| v.to_string().into_bytes();
    // Bytes and JSON shapes.
    add(
        "invalid UTF-8",
        b"\xff\xfe{\"a\":1}".to_vec(),
        "unparsable",
        "not UTF-8",
    );
    add(
        "lone continuation byte",
        b"{\"event_id\":\"\x80\"}".to_vec(),
        "unparsable",
        "not UTF-8",
    );
    add(
        "empty object",
        b"{}".to_vec(),
        "unparsable",
        "missing field `event_id`",
    );
    add(
        "array",
        b"[1,2]".to_vec(),
        "unparsable",
        "a JSON object, not an array",
    );
    add(
        "number",
        b"42".to_vec(),
        "unparsable",
        "a JSON object, not a number",
    );
    add(
        "string",
        b"\"hello\"".to_vec(),
        "unparsable",
        "a JSON object, not a string",
    );
    add(
        "null",
        b"null".to_vec(),
        "unparsable",
        "a JSON object, not null",
    );
    add(
        "boolean",
        b"true".to_vec(),
        "unparsable",
        "a JSON object, not a boolean",
    );
    add(
        "truncated",
        br#"{"event_id":"e","type":"complaint.rec"#.to_vec(),
        "unparsable",
        "EOF",
    );
    add(
        "garbage",
        b"}{ not json".to_vec(),
        "unparsable",
        "not valid JSON",
    );
    add(
        "deep nesting",
        "[".repeat(10_000).into_bytes(),
        "unparsable",
        "recursion limit",
    );
    add(
        "deep nesting in an object",
        format!("{}1{}", "{\"a\":".repeat(500), "}".repeat(500)).into_bytes(),
        "invalid_event",
        "missing field `event_id`",
    );
    add(
        "2 MB line",
        format!(
            "{{\"event_id\":\"big\",\"description\":\"{}\"}}",
            "x".repeat(2 << 20)
        )
        .into_bytes(),
        "too_large",
        "max_event_bytes",
    );
    add(
        "NUL inside a string",
        b"{\"event_id\":\"a\x00b\"}".to_vec(),
        "unparsable",
        "control character",
    );
    add(
        "raw newline escape missing",
        b"{\"event_id\":\"a\tb\"}".to_vec(),
        "unparsable",
        "control character",
    );
    add("duplicated key", br#"{"event_id":"a","event_id":"b","type":"complaint.reported","complaint_id":"Q","occurred_at":"2026-03-02T10:00:00Z"}"#.to_vec(), "unparsable", "duplicate field `event_id`");
    add(
        "byte order mark",
        [b"\xef\xbb\xbf".as_slice(), &text(received("BOM"))].concat(),
        "unparsable",
        "expected value",
    );
    add(
        "trailing garbage",
        [text(received("TRAIL")), b" x".to_vec()].concat(),
        "unparsable",
        "trailing characters",
    );
    add(
        "two objects",
        [text(received("TWO1")), text(received("TWO2"))].concat(),
        "unparsable",
        "trailing characters",
    );
    add("empty payload", Vec::new(), "unparsable", "empty message");
    add("whitespace only", b"   ".to_vec(), "unparsable", "EOF");
    // Common fields: missing, empty, wrong type.
    for field in ["event_id", "type", "complaint_id", "occurred_at"] {
        let cid = format!("CF-{field}");
        add(
            &format!("{field} missing"),
            text(set(received(&cid), field, None)),
            "unparsable",
            &format!("missing field `{field}`"),
        );
        add(
            &format!("{field} a number"),
            text(set(received(&cid), field, Some(json!(7)))),
            "unparsable",
            &format!("`{field}`: invalid type: integer"),
        );
        add(
            &format!("{field} null"),
            text(set(received(&cid), field, Some(Value::Null))),
            "unparsable",
            &format!("`{field}`: invalid type: null"),
        );
        add(
            &format!("{field} an object"),
            text(set(received(&cid), field, Some(json!({})))),
            "unparsable",
            &format!("`{field}`: invalid type: map"),
        );
    }
    add(
        "event_id empty",
        text(set(received("E1"), "event_id", Some(json!("")))),
        "unparsable",
        "`event_id` must not be empty",
    );
    add(
        "event_id blank",
        text(set(received("E2"), "event_id", Some(json!("   ")))),
        "unparsable",
        "`event_id` must not be empty",
    );
    add(
        "complaint_id empty",
        text(set(received("E3"), "complaint_id", Some(json!("")))),
        "unparsable",
        "`complaint_id` must not be empty",
    );
    add(
        "event_id too long",
        text(set(
            received("E4"),
            "event_id",
            Some(json!("e".repeat(300))),
        )),
        "too_large",
        "`event_id` has 300 characters",
    );
    add(
        "complaint_id too long",
        text(set(
            received("E5"),
            "complaint_id",
            Some(json!("c".repeat(257))),
        )),
        "too_large",
        "`complaint_id` has 257 characters",
    );
    add(
        "actor too long",
        text(set(received("E6"), "actor", Some(json!("a".repeat(1000))))),
        "too_large",
        "`actor`",
    );
    add(
        "type unknown",
        text(set(
            received("E7"),
            "type",
            Some(json!("complaint.recieved")),
        )),
        "unparsable",
        "unknown event type `complaint.recieved`; did you mean `complaint.received`?",
    );
    add(
        "type empty",
        text(set(received("E8"), "type", Some(json!("")))),
        "unparsable",
        "unknown event type ``",
    );
    // Timestamps.
    let times: &[(&str, &str, &'static str, &str)] = &[
        (
            "no offset",
            "2026-03-02T10:00:00",
            "unparsable",
            "\"2026-03-02T10:00:00\" is not an RFC 3339 time with an offset, e.g. 2026-11-10T08:00:00+08:00",
        ),
        (
            "space separator",
            "2026-03-02 10:00:00+08:00",
            "unparsable",
            "RFC 3339",
        ),
        (
            "UTC word",
            "2026-11-02 16:22:33 UTC",
            "unparsable",
            "RFC 3339",
        ),
        ("date only", "2026-03-02", "unparsable", "RFC 3339"),
        ("empty", "", "unparsable", "RFC 3339"),
        ("month 13", "2026-13-02T10:00:00Z", "unparsable", "RFC 3339"),
        ("day 32", "2026-03-32T10:00:00Z", "unparsable", "RFC 3339"),
        ("hour 25", "2026-03-02T25:00:00Z", "unparsable", "RFC 3339"),
        (
            "offset +25:00",
            "2026-03-02T10:00:00+25:00",
            "unparsable",
            "RFC 3339",
        ),
        (
            "expanded year",
            "+262142-12-31T23:59:59Z",
            "unparsable",
            "RFC 3339",
        ),
        (
            "negative year",
            "-0001-03-02T10:00:00Z",
            "unparsable",
            "RFC 3339",
        ),
        ("words", "yesterday", "unparsable", "RFC 3339"),
        (
            "year 0000",
            "0000-01-01T00:00:00Z",
            "out_of_range",
            "before earliest_event_time",
        ),
        (
            "year 1970",
            "1970-01-01T00:00:00Z",
            "out_of_range",
            "before earliest_event_time",
        ),
        (
            "year 1999",
            "1999-12-31T23:59:59Z",
            "out_of_range",
            "before earliest_event_time",
        ),
        (
            "year 9999",
            "9999-12-31T23:59:59Z",
            "future_event",
            "max_clock_skew",
        ),
        (
            "year 2099 with offset",
            "2099-03-29T10:02:00+08:00",
            "future_event",
            "max_clock_skew",
        ),
    ];
    for (i, (name, t, code, says)) in times.iter().enumerate() {
        add(
            &format!("occurred_at {name}"),
            text(set(
                received(&format!("T{i}")),
                "occurred_at",
                Some(json!(t)),
            )),
            code,
            says,
        );
    }
    add(
        "occurred_at a unix number",
        text(set(
            received("T-unix"),
            "occurred_at",
            Some(json!(1_772_416_800)),
        )),
        "unparsable",
        "invalid type: integer",
    );
    add(
        "happened_at bad",
        text(set(received("H1"), "happened_at", Some(json!("last week")))),
        "unparsable",
        "`happened_at`",
    );
    add(
        "happened_at 1970",
        text(set(
            received("H2"),
            "happened_at",
            Some(json!("1970-01-01T00:00:00Z")),
        )),
        "out_of_range",
        "`happened_at`",
    );
    add(
        "happened_at after occurred_at",
        text(set(
            received("H3"),
            "happened_at",
            Some(json!("2026-03-03T10:00:00+08:00")),
        )),
        "out_of_range",
        "`happened_at`",
    );
    // complaint.received fields.
    for (path, says) in [
        ("channel", "missing field `channel`"),
        ("customer", "missing field `customer`"),
        ("customer.id", "missing field `id`"),
        ("customer.name", "missing field `name`"),
        ("description", "missing field `description`"),
    ] {
        add(
            &format!("received without {path}"),
            text(set(received(&format!("R-{path}")), path, None)),
            "unparsable",
            says,
        );
    }
    for (path, v, code, says) in [
        (
            "channel",
            json!(""),
            "unparsable",
            "`channel` must not be empty",
        ),
        ("channel", json!(3), "unparsable", "`channel`: invalid type"),
        (
            "channel",
            json!("w".repeat(300)),
            "too_large",
            "`channel` has 300",
        ),
        (
            "customer",
            json!("K1"),
            "unparsable",
            "`customer`: invalid type",
        ),
        (
            "customer.id",
            json!(""),
            "unparsable",
            "`customer.id` must not be empty",
        ),
        (
            "customer.id",
            json!(12345),
            "unparsable",
            "`customer.id`: invalid type",
        ),
        (
            "customer.name",
            json!(["a"]),
            "unparsable",
            "`customer.name`: invalid type",
        ),
        (
            "customer.phone",
            json!(13800000000u64),
            "unparsable",
            "`customer.phone`: invalid type",
        ),
        (
            "customer.email",
            json!("e".repeat(400)),
            "too_large",
            "`customer.email`",
        ),
        (
            "description",
            json!(""),
            "unparsable",
            "`description` must not be empty",
        ),
        (
            "description",
            json!(" \n "),
            "unparsable",
            "`description` must not be empty",
        ),
        (
            "description",
            json!("长".repeat(9000)),
            "too_large",
            "`description` has 9000 characters",
        ),
        (
            "description",
            json!({"text": "x"}),
            "unparsable",
            "`description`: invalid type",
        ),
        (
            "impact",
            json!("huge"),
            "unparsable",
            "unknown variant `huge`",
        ),
        ("impact", json!(1), "unparsable", "`impact`"),
        (
            "attributes",
            json!([1, 2]),
            "unparsable",
            "`attributes`: must be an object",
        ),
        (
            "attributes",
            json!("region=north"),
            "unparsable",
            "`attributes`: must be an object",
        ),
        (
            "attributes",
            nested(20),
            "unparsable",
            "nested deeper than 16",
        ),
        (
            "attributes",
            Value::Object((0..1100).map(|i| (format!("k{i}"), json!(i))).collect()),
            "unparsable",
            "more than 1000 values",
        ),
        (
            "attributes",
            json!({"note": "n".repeat(9000)}),
            "too_large",
            "`attributes` has 9000",
        ),
        (
            "attributes",
            json!({"k".repeat(300): 1}),
            "too_large",
            "`attributes key`",
        ),
    ] {
        add(
            &format!("received {path} = {}", short(&v)),
            text(set(
                received(&format!("R-{path}-{}", short(&v))),
                path,
                Some(v),
            )),
            code,
            says,
        );
    }
    // 1e400 and friends cannot be built as a serde_json::Value: written out.
    let raw = |cid: &str, attrs: &str| {
        format!(r#"{{"event_id":"{cid}-r","type":"complaint.received","complaint_id":"{cid}","occurred_at":"{AT}","channel":"web","customer":{{"id":"K1","name":"N"}},"description":"d","attributes":{attrs}}}"#).into_bytes()
    };
    add(
        "attributes number beyond a double",
        raw("A-1e400", r#"{"n":1e400}"#),
        "invalid_event",
        "attributes",
    );
    add(
        "attributes nested 200 deep",
        raw(
            "A-deep",
            &format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200)),
        ),
        "invalid_event",
        "recursion limit",
    );
    // Other types: missing, empty or wrong-typed fields.
    let cases: Vec<(&str, Value, &'static str, &str)> = vec![
        (
            "assigned",
            json!({}),
            "unparsable",
            "missing field `lead_department`",
        ),
        (
            "assigned",
            json!({"lead_department": ""}),
            "unparsable",
            "`lead_department` must not be empty",
        ),
        (
            "assigned",
            json!({"lead_department": 5}),
            "unparsable",
            "`lead_department`: invalid type",
        ),
        (
            "assigned",
            json!({"lead_department": "t", "assist_departments": "b"}),
            "unparsable",
            "`assist_departments`: invalid type",
        ),
        (
            "assigned",
            json!({"lead_department": "t", "assist_departments": [""]}),
            "unparsable",
            "`assist_departments` must not be empty",
        ),
        (
            "assigned",
            json!({"lead_department": "t", "assist_departments": (0..40).map(|i| format!("d{i}")).collect::<Vec<_>>()}),
            "too_large",
            "40 departments",
        ),
        (
            "assigned",
            json!({"lead_department": "t", "priority": "asap"}),
            "unparsable",
            "unknown variant `asap`",
        ),
        ("progress", json!({}), "unparsable", "missing field `note`"),
        (
            "progress",
            json!({"note": "n", "kind": "final"}),
            "unparsable",
            "unknown variant `final`",
        ),
        (
            "progress",
            json!({"note": "n".repeat(9000)}),
            "too_large",
            "`note`",
        ),
        (
            "extension_requested",
            json!({"reason": "r"}),
            "unparsable",
            "missing field `until`",
        ),
        (
            "extension_requested",
            json!({"until": "soon", "reason": "r"}),
            "unparsable",
            "`until`",
        ),
        (
            "extension_requested",
            json!({"until": "2029-03-02T10:00:00Z", "reason": "r"}),
            "out_of_range",
            "more than 366 days",
        ),
        (
            "extension_requested",
            json!({"until": "1999-03-02T10:00:00Z", "reason": "r"}),
            "out_of_range",
            "`until`",
        ),
        (
            "extension_decided",
            json!({}),
            "unparsable",
            "missing field `approved`",
        ),
        (
            "extension_decided",
            json!({"approved": "yes"}),
            "unparsable",
            "`approved`: invalid type",
        ),
        (
            "extension_decided",
            json!({"approved": true, "until": "2300-01-01T00:00:00Z"}),
            "out_of_range",
            "more than 366 days",
        ),
        (
            "handled",
            json!({"cause": "c", "measures": "m"}),
            "unparsable",
            "missing field `result`",
        ),
        (
            "handled",
            json!({"cause": 1, "measures": "m", "result": "r"}),
            "unparsable",
            "`cause`: invalid type",
        ),
        (
            "customer_confirmed",
            json!({}),
            "unparsable",
            "missing field `satisfied`",
        ),
        (
            "customer_confirmed",
            json!({"satisfied": "yes"}),
            "unparsable",
            "`satisfied`: invalid type",
        ),
        (
            "customer_confirmed",
            json!({"satisfied": true, "comment": 3}),
            "unparsable",
            "`comment`: invalid type",
        ),
        (
            "withdrawn",
            json!({"reason": 42}),
            "unparsable",
            "`reason`: invalid type",
        ),
    ];
    for (i, (kind, extra, code, says)) in cases.into_iter().enumerate() {
        add(
            &format!("{kind} {}", short(&extra)),
            text(event(&format!("O{i}"), kind, extra)),
            code,
            says,
        );
    }
    // Valid events the lifecycle refuses (each on a complaint of its own).
    add(
        "acknowledged, never received",
        text(event("L1", "acknowledged", json!({}))),
        "unknown_complaint",
        "never received",
    );
    add(
        "archived, never received",
        text(event("L2", "archived", json!({}))),
        "unknown_complaint",
        "never received",
    );
    out
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    let s: String = s.chars().filter(|c| c.is_alphanumeric()).take(12).collect();
    s
}
