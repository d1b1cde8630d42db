//! Input lifecycle events (docs/contract.md "Input").
//!
//! A well-formed event is read in one pass (`super::wide`). Anything else is
//! parsed again in two passes over the same text: the common header first,
//! then the body struct its `type` names. That avoids serde's buffering of
//! flattened, internally tagged enums (slow, and it cannot keep raw JSON)
//! and gives precise error messages.

use super::{Impact, Priority, ProgressKind, Timestamp};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One lifecycle event with its common fields.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub event_id: String,
    pub complaint_id: String,
    /// Event time with the sender's offset; SLA clocks use it.
    pub occurred_at: DateTime<FixedOffset>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(flatten)]
    pub body: EventBody,
}

/// The type-specific part of an event; `type` is the tag.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type")]
pub enum EventBody {
    #[serde(rename = "complaint.received")]
    Received(Received),
    #[serde(rename = "complaint.acknowledged")]
    Acknowledged(NoFields),
    #[serde(rename = "complaint.assigned")]
    Assigned(Assigned),
    #[serde(rename = "complaint.progress")]
    Progress(Progress),
    #[serde(rename = "complaint.extension_requested")]
    ExtensionRequested(ExtensionRequested),
    #[serde(rename = "complaint.extension_decided")]
    ExtensionDecided(ExtensionDecided),
    #[serde(rename = "complaint.handled")]
    Handled(Handled),
    #[serde(rename = "complaint.reported")]
    Reported(NoFields),
    #[serde(rename = "complaint.customer_confirmed")]
    CustomerConfirmed(CustomerConfirmed),
    #[serde(rename = "complaint.archived")]
    Archived(NoFields),
    #[serde(rename = "complaint.withdrawn")]
    Withdrawn(Withdrawn),
}

/// Body of the types that carry no fields of their own.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NoFields {}

/// `complaint.received`: a new complaint from a channel adapter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Received {
    /// Open list: web, social, phone, visit, email, app, regulator, ...
    pub channel: String,
    pub customer: Customer,
    pub description: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::time::offset::option::deserialize"
    )]
    pub happened_at: Option<DateTime<FixedOffset>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    /// Free object for rules, kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "verbatim")]
    pub attributes: Option<Box<RawValue>>,
}

/// A verbatim JSON value: itself in JSON; its text in a binary format (the
/// state changelog), which has no raw JSON.
mod verbatim {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    pub fn serialize<S: Serializer>(v: &Option<Box<RawValue>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(raw) if !s.is_human_readable() => s.serialize_some(raw.get()),
            _ => v.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
        if d.is_human_readable() {
            return Option::<Box<RawValue>>::deserialize(d);
        }
        Option::<String>::deserialize(d)?
            .map(|text| RawValue::from_string(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl PartialEq for Received {
    fn eq(&self, other: &Self) -> bool {
        self.channel == other.channel
            && self.customer == other.customer
            && self.description == other.description
            && self.happened_at == other.happened_at
            && self.impact == other.impact
            && self.attributes.as_ref().map(|a| a.get())
                == other.attributes.as_ref().map(|a| a.get())
    }
}

/// The complainant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Customer {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `complaint.assigned`: manual assignment, or override of the rules' routing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Assigned {
    pub lead_department: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub assist_departments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
}

/// `complaint.progress`: a department's progress note.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    pub note: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub kind: ProgressKind,
}

/// An optional field sent as `null` is absent, as for every other
/// optional field (adapters serialising empty values write `null`).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `complaint.extension_requested`: a department asks for more time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExtensionRequested {
    #[serde(deserialize_with = "super::time::offset::deserialize")]
    pub until: DateTime<FixedOffset>,
    pub reason: String,
    /// The stage to extend; default: the running stage of the sequence
    /// (`handle` while handling). `respond` extends the first-answer clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<super::Stage>,
}

/// `complaint.extension_decided`: the complaint handling group's decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExtensionDecided {
    pub approved: bool,
    /// The stage decided on; default: the one with a pending request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<super::Stage>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::time::offset::option::deserialize"
    )]
    pub until: Option<DateTime<FixedOffset>>,
}

/// `complaint.handled`: the department finished handling.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Handled {
    pub cause: String,
    pub measures: String,
    pub result: String,
}

/// `complaint.customer_confirmed`: satisfaction collected; not satisfied reopens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CustomerConfirmed {
    pub satisfied: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `complaint.withdrawn`: the customer withdrew; all clocks stop.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Withdrawn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why a payload is not a valid event; the text goes into the dead letter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("an event is a JSON object, not {0}")]
    NotObject(&'static str),
    #[error("{0}")]
    Header(String),
    #[error("unknown event type `{found}`{hint}; valid types: {valid}", found = .0, hint = suggest(.0), valid = TYPES.join(", "))]
    UnknownType(String),
    #[error("invalid `{kind}` event: {detail}")]
    Body { kind: String, detail: String },
    #[error("field `{0}` must not be empty")]
    Empty(&'static str),
    #[error("field `{field}` has {size} {unit}, more than the {max} allowed")]
    TooLarge {
        field: &'static str,
        size: usize,
        max: usize,
        unit: &'static str,
    },
    #[error("invalid `attributes`: {0}")]
    Attributes(String),
}

#[derive(Deserialize)]
struct Header {
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    complaint_id: String,
    #[serde(deserialize_with = "super::time::offset::deserialize")]
    occurred_at: DateTime<FixedOffset>,
    #[serde(default)]
    actor: Option<String>,
}

/// Parses `text` as `T`; on failure, parses again noting the path, so the
/// error names the field (`customer.id: invalid type ...`). The fast path
/// stays free of that bookkeeping.
fn parse_as<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, (serde_json::Error, String)> {
    serde_json::from_str(text).map_err(|e| {
        let mut de = serde_json::Deserializer::from_str(text);
        let path = match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(tracked) => tracked.path().to_string(),
            Ok(_) => String::new(),
        };
        (e, path)
    })
}

/// `path: error`, or the error alone at the top level; in the contract's
/// words (no Rust type names) and without a position (an event is one line).
fn with_path(e: &serde_json::Error, path: &str) -> String {
    let text = e.to_string();
    let text = match text.rfind(" at line ") {
        Some(i) if e.is_data() => &text[..i],
        _ => &text,
    };
    let text = match text.find("expected struct ") {
        Some(i) => format!("{}expected an object", &text[..i]),
        None => text.to_string(),
    };
    if path.is_empty() || path == "." {
        text
    } else {
        format!("`{path}`: {text}")
    }
}

/// Every `type` of the contract.
pub const TYPES: &[&str] = &[
    "complaint.received",
    "complaint.acknowledged",
    "complaint.assigned",
    "complaint.progress",
    "complaint.extension_requested",
    "complaint.extension_decided",
    "complaint.handled",
    "complaint.reported",
    "complaint.customer_confirmed",
    "complaint.archived",
    "complaint.withdrawn",
];

/// Edit distance, for suggesting a near name.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// "; did you mean `x`?" for a close type, else nothing.
fn suggest(found: &str) -> String {
    let lower = found.to_lowercase();
    TYPES
        .iter()
        .map(|t| {
            (
                distance(&lower, t).min(distance(&lower, &t["complaint.".len()..])),
                t,
            )
        })
        .min()
        .filter(|(d, _)| *d <= 3)
        .map(|(_, t)| format!("; did you mean `{t}`?"))
        .unwrap_or_default()
}

/// The fields the contract knows for an event of type `kind` (the common
/// ones included), and those of `customer`.
fn known_fields(kind: &str) -> Vec<&'static str> {
    let own: &[&str] = match kind {
        "complaint.received" => &[
            "channel",
            "customer",
            "description",
            "happened_at",
            "impact",
            "attributes",
        ],
        "complaint.assigned" => &["lead_department", "assist_departments", "priority"],
        "complaint.progress" => &["note", "kind"],
        "complaint.extension_requested" => &["until", "reason", "stage"],
        "complaint.extension_decided" => &["approved", "until", "stage"],
        "complaint.handled" => &["cause", "measures", "result"],
        "complaint.customer_confirmed" => &["satisfied", "comment"],
        "complaint.withdrawn" => &["reason"],
        _ => &[],
    };
    let mut all = vec!["event_id", "type", "complaint_id", "occurred_at", "actor"];
    all.extend_from_slice(own);
    all
}

const CUSTOMER_FIELDS: &[&str] = &["id", "name", "phone", "email"];

/// The known name within two edits of `found`, if any.
fn closest<'a>(found: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = found.to_lowercase();
    known
        .iter()
        .map(|k| (distance(&lower, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Fields of `text` the contract does not know (ignored when the event is
/// read; `validate` reports them, a misspelt optional field is lost), each
/// with the known field it is probably a misspelling of.
pub fn unknown_fields(text: &str) -> Vec<String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let known = known_fields(map.get("type").and_then(|t| t.as_str()).unwrap_or_default());
    let named = |prefix: &str, k: &str, known: &[&str]| match closest(k, known) {
        Some(near) => format!("`{prefix}{k}` (did you mean `{prefix}{near}`?)"),
        None => format!("`{prefix}{k}`"),
    };
    let mut out: Vec<String> = map
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| named("", k, &known))
        .collect();
    if let Some(serde_json::Value::Object(c)) = map.get("customer") {
        out.extend(
            c.keys()
                .filter(|k| !CUSTOMER_FIELDS.contains(&k.as_str()))
                .map(|k| named("customer.", k, CUSTOMER_FIELDS)),
        );
    }
    out
}

/// For a refusal that says "missing field `name`": the field of `text`
/// that is probably that one misspelt, as "; `descripton` is there: did
/// you mean `description`?", else nothing.
pub fn misspelt_required(text: &str, reason: &str) -> String {
    let Some(missing) = reason
        .split("missing field `")
        .nth(1)
        .and_then(|r| r.split('`').next())
    else {
        return String::new();
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) else {
        return String::new();
    };
    let customer = map.get("customer").and_then(|c| c.as_object());
    let keys = map
        .keys()
        .chain(customer.into_iter().flat_map(|c| c.keys()));
    keys.filter(|k| k.as_str() != missing)
        .find(|k| closest(k, &[missing]).is_some())
        .map(|k| format!("; `{k}` is there: did you mean `{missing}`?"))
        .unwrap_or_default()
}

fn body<'a, T: Deserialize<'a>>(text: &'a str, kind: &str) -> Result<T, ParseError> {
    parse_as(text).map_err(|(e, path)| ParseError::Body {
        kind: kind.to_string(),
        detail: with_path(&e, &path),
    })
}

impl Event {
    /// Parses one JSON payload into a typed event.
    pub fn from_json(text: &str) -> Result<Event, ParseError> {
        match super::wide::parse(text) {
            Some(ev) => {
                super::bounds::check(&ev)?;
                Ok(ev)
            }
            None => Event::from_json_two_pass(text),
        }
    }

    /// The precise parse: header, then body; its errors name the field.
    pub(super) fn from_json_two_pass(text: &str) -> Result<Event, ParseError> {
        if !text.trim_start().starts_with('{') {
            // Derived structs also read arrays: say what is wrong instead.
            return Err(match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) => ParseError::NotObject(match v {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::String(_) => "a string",
                    serde_json::Value::Array(_) => "an array",
                    serde_json::Value::Object(_) => "an object",
                }),
                Err(e) => ParseError::Json(e.to_string()),
            });
        }
        let header: Header = parse_as(text).map_err(|(e, path)| {
            if e.is_data() {
                ParseError::Header(with_path(&e, &path))
            } else {
                ParseError::Json(e.to_string())
            }
        })?;
        let kind = header.kind.as_str();
        let body = match kind {
            "complaint.received" => EventBody::Received(body(text, kind)?),
            "complaint.acknowledged" => EventBody::Acknowledged(NoFields {}),
            "complaint.assigned" => EventBody::Assigned(body(text, kind)?),
            "complaint.progress" => EventBody::Progress(body(text, kind)?),
            "complaint.extension_requested" => EventBody::ExtensionRequested(body(text, kind)?),
            "complaint.extension_decided" => EventBody::ExtensionDecided(body(text, kind)?),
            "complaint.handled" => EventBody::Handled(body(text, kind)?),
            "complaint.reported" => EventBody::Reported(NoFields {}),
            "complaint.customer_confirmed" => EventBody::CustomerConfirmed(body(text, kind)?),
            "complaint.archived" => EventBody::Archived(NoFields {}),
            "complaint.withdrawn" => EventBody::Withdrawn(body(text, kind)?),
            other => return Err(ParseError::UnknownType(other.to_string())),
        };
        let ev = Event {
            event_id: header.event_id,
            complaint_id: header.complaint_id,
            occurred_at: header.occurred_at,
            actor: header.actor,
            body,
        };
        super::bounds::check(&ev)?;
        Ok(ev)
    }

    /// Event time in UTC.
    pub fn at(&self) -> Timestamp {
        self.occurred_at.to_utc()
    }

    /// The contract's `type` name.
    pub fn type_name(&self) -> &'static str {
        self.body.type_name()
    }
}

impl EventBody {
    /// The contract's `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::Received(_) => "complaint.received",
            EventBody::Acknowledged(_) => "complaint.acknowledged",
            EventBody::Assigned(_) => "complaint.assigned",
            EventBody::Progress(_) => "complaint.progress",
            EventBody::ExtensionRequested(_) => "complaint.extension_requested",
            EventBody::ExtensionDecided(_) => "complaint.extension_decided",
            EventBody::Handled(_) => "complaint.handled",
            EventBody::Reported(_) => "complaint.reported",
            EventBody::CustomerConfirmed(_) => "complaint.customer_confirmed",
            EventBody::Archived(_) => "complaint.archived",
            EventBody::Withdrawn(_) => "complaint.withdrawn",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_roundtrips_a_received_event() {
        let text = r#"{"event_id":"e1","type":"complaint.received","complaint_id":"C1","occurred_at":"2026-01-05T09:00:00+08:00","channel":"web","customer":{"id":"K1","name":"王芳"},"description":"断网","impact":"widespread","attributes":{"region":"north"}}"#;
        let ev = Event::from_json(text).unwrap();
        assert_eq!(ev.type_name(), "complaint.received");
        assert_eq!(ev.at().to_rfc3339(), "2026-01-05T01:00:00+00:00");
        let again = Event::from_json(&serde_json::to_string(&ev).unwrap()).unwrap();
        assert_eq!(ev, again);
    }

    #[test]
    fn rejects_with_precise_reasons() {
        let missing = r#"{"event_id":"e1","type":"complaint.handled","complaint_id":"C1","occurred_at":"2026-01-05T09:00:00Z","cause":"x"}"#;
        let err = Event::from_json(missing).unwrap_err().to_string();
        assert!(
            err.contains("complaint.handled") && err.contains("measures"),
            "{err}"
        );
        let unknown = r#"{"event_id":"e1","type":"complaint.eaten","complaint_id":"C1","occurred_at":"2026-01-05T09:00:00Z"}"#;
        assert_eq!(
            Event::from_json(unknown).unwrap_err(),
            ParseError::UnknownType("complaint.eaten".into())
        );
        assert!(matches!(
            Event::from_json("{not json"),
            Err(ParseError::Json(_))
        ));
        let no_offset = r#"{"event_id":"e1","type":"complaint.reported","complaint_id":"C1","occurred_at":"2026-01-05T09:00:00"}"#;
        assert!(matches!(
            Event::from_json(no_offset),
            Err(ParseError::Header(_))
        ));
    }
}
