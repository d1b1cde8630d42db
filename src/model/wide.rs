//! The fast path of [`Event::from_json`]: one pass over the text into a
//! struct holding every field of every event type, then the typed event.
//! It only ever answers for a well-formed event; anything else (a missing,
//! null or mistyped field, an unknown type, a field of another type that
//! would not parse) returns `None`, and the caller parses again the precise,
//! two-pass way, which gives the same event or the error in the contract's
//! words. Replay spent half its parsing time on the second pass.

use super::event::*;
use super::{Impact, Priority, ProgressKind, Stage};
use crate::model::time::offset;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A field that may be absent but, when present, must be a `T` (not null):
/// the two-pass structs give these a default and refuse null.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct Wide<'a> {
    event_id: Option<String>,
    #[serde(rename = "type", borrow)]
    type_name: Option<Cow<'a, str>>,
    complaint_id: Option<String>,
    #[serde(default, deserialize_with = "offset::option::deserialize")]
    occurred_at: Option<DateTime<FixedOffset>>,
    actor: Option<String>,
    // complaint.received
    channel: Option<String>,
    customer: Option<Customer>,
    description: Option<String>,
    #[serde(default, deserialize_with = "offset::option::deserialize")]
    happened_at: Option<DateTime<FixedOffset>>,
    impact: Option<Impact>,
    #[serde(borrow)]
    attributes: Option<&'a RawValue>,
    // complaint.assigned
    lead_department: Option<String>,
    #[serde(default, deserialize_with = "present")]
    assist_departments: Option<Vec<String>>,
    priority: Option<Priority>,
    // complaint.progress
    note: Option<String>,
    #[serde(default, deserialize_with = "present")]
    kind: Option<ProgressKind>,
    // complaint.extension_requested / extension_decided
    #[serde(default, deserialize_with = "offset::option::deserialize")]
    until: Option<DateTime<FixedOffset>>,
    reason: Option<String>,
    stage: Option<Stage>,
    approved: Option<bool>,
    // complaint.handled
    cause: Option<String>,
    measures: Option<String>,
    result: Option<String>,
    // complaint.customer_confirmed
    satisfied: Option<bool>,
    comment: Option<String>,
}

/// The event in `text` if it is well-formed, in one pass; `None` for
/// anything the two-pass parse must look at.
pub(super) fn parse(text: &str) -> Option<Event> {
    let w: Wide = serde_json::from_str(text).ok()?;
    let body = match w.type_name.as_deref()? {
        "complaint.received" => EventBody::Received(Received {
            channel: w.channel?,
            customer: w.customer?,
            description: w.description?,
            happened_at: w.happened_at,
            impact: w.impact,
            attributes: w.attributes.map(RawValue::to_owned),
        }),
        "complaint.acknowledged" => EventBody::Acknowledged(NoFields {}),
        "complaint.assigned" => EventBody::Assigned(Assigned {
            lead_department: w.lead_department?,
            assist_departments: w.assist_departments.unwrap_or_default(),
            priority: w.priority,
        }),
        "complaint.progress" => EventBody::Progress(Progress {
            note: w.note?,
            kind: w.kind.unwrap_or_default(),
        }),
        "complaint.extension_requested" => EventBody::ExtensionRequested(ExtensionRequested {
            until: w.until?,
            reason: w.reason?,
            stage: w.stage,
        }),
        "complaint.extension_decided" => EventBody::ExtensionDecided(ExtensionDecided {
            approved: w.approved?,
            stage: w.stage,
            until: w.until,
        }),
        "complaint.handled" => EventBody::Handled(Handled {
            cause: w.cause?,
            measures: w.measures?,
            result: w.result?,
        }),
        "complaint.reported" => EventBody::Reported(NoFields {}),
        "complaint.customer_confirmed" => EventBody::CustomerConfirmed(CustomerConfirmed {
            satisfied: w.satisfied?,
            comment: w.comment,
        }),
        "complaint.archived" => EventBody::Archived(NoFields {}),
        "complaint.withdrawn" => EventBody::Withdrawn(Withdrawn { reason: w.reason }),
        _ => return None,
    };
    Some(Event {
        event_id: w.event_id?,
        complaint_id: w.complaint_id?,
        occurred_at: w.occurred_at?,
        actor: w.actor,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// When the one-pass parse answers, `from_json` (it and the bounds)
    /// gives what the two-pass parse gives; `hits` counts those texts.
    fn agrees(text: &str, hits: &mut usize) {
        if parse(text).is_some() {
            *hits += 1;
            assert_eq!(
                Event::from_json(text),
                Event::from_json_two_pass(text),
                "one pass and two passes differ on {text}"
            );
        }
    }

    fn examples() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/examples");
        let mut out = Vec::new();
        for dir in [root.clone(), root.join("invalid")] {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "json") {
                    out.push(std::fs::read_to_string(p).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn one_pass_reads_every_valid_example_as_two_passes_do() {
        let (mut hits, mut valid, mut fast_valid) = (0, 0, 0);
        for text in examples() {
            let before = hits;
            agrees(&text, &mut hits);
            if Event::from_json_two_pass(&text).is_ok() {
                valid += 1;
                fast_valid += hits - before;
            }
        }
        assert!(valid >= 12, "examples: {valid} valid");
        assert_eq!(fast_valid, valid, "the fast path misses a valid example");
    }

    #[test]
    fn one_pass_agrees_on_generated_events_and_reads_them_all() {
        let rules = crate::rules::RuleSet::embedded();
        let cfg = crate::driver::demo::DemoConfig {
            complaints: 300,
            ..Default::default()
        };
        let lines = crate::driver::demo::generate(&cfg, &rules);
        let (mut hits, mut valid, mut fast_valid) = (0, 0, 0);
        for l in &lines {
            let before = hits;
            agrees(l, &mut hits);
            if Event::from_json_two_pass(l).is_ok() {
                valid += 1;
                fast_valid += hits - before;
            }
        }
        assert!(valid > 2000, "{valid} valid lines");
        assert_eq!(fast_valid, valid, "the fast path misses a valid line");
    }

    /// Every field of every example removed, made null, or given a value
    /// of each JSON kind: the fast path never answers differently.
    #[test]
    fn one_pass_never_disagrees_on_broken_fields() {
        let odd = [
            Value::Null,
            json!(5),
            json!(-1.5),
            json!(true),
            json!("x"),
            json!("2026-11-02T08:00:00+08:00"),
            json!([]),
            json!(["a"]),
            json!({}),
        ];
        let mut hits = 0;
        let mut tried = 0;
        for text in examples() {
            let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let mut keys: Vec<String> = obj.keys().cloned().collect();
            keys.extend(
                [
                    "assist_departments",
                    "kind",
                    "until",
                    "approved",
                    "note",
                    "reason",
                    "stage",
                ]
                .map(String::from),
            );
            for k in &keys {
                let mut gone = obj.clone();
                gone.remove(k);
                agrees(&Value::Object(gone).to_string(), &mut hits);
                for v in &odd {
                    let mut changed = obj.clone();
                    changed.insert(k.clone(), v.clone());
                    agrees(&Value::Object(changed).to_string(), &mut hits);
                    tried += 1;
                }
            }
        }
        assert!(tried > 500, "{tried} variants");
        assert!(hits > 50, "the fast path answered only {hits} variants");
    }
}
