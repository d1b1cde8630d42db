//! Bounds on every input value, checked where it enters (docs/contract.md
//! "Input"): what a rule, a state record or an output can hold follows from
//! them, so nothing downstream grows without limit.

use super::event::{Event, EventBody, ParseError};
use serde_json::Value;

/// Identifiers and names, in characters (as JSON Schema's `maxLength`
/// counts): `event_id`, `complaint_id`, `actor`, `channel`, `customer.*`,
/// departments.
pub const MAX_NAME_CHARS: usize = 256;
/// Free text in characters: `description`, notes, causes, comments. At 4
/// bytes a character, lower-cased too, it stays below the rules' string
/// limit (64 KiB), so a rule can always read it.
pub const MAX_TEXT_CHARS: usize = 8 * 1024;
/// Assisting departments of one assignment.
pub const MAX_DEPARTMENTS: usize = 32;
/// `attributes`: nesting depth, and values in all (keys and items).
pub const ATTRIBUTES_MAX_DEPTH: usize = 16;
pub const ATTRIBUTES_MAX_VALUES: usize = 1_000;

fn name(field: &'static str, v: &str) -> Result<(), ParseError> {
    if v.trim().is_empty() {
        return Err(ParseError::Empty(field));
    }
    optional_name(field, v)
}

fn optional_name(field: &'static str, v: &str) -> Result<(), ParseError> {
    too_long(field, v, MAX_NAME_CHARS)
}

fn text(field: &'static str, v: &str) -> Result<(), ParseError> {
    too_long(field, v, MAX_TEXT_CHARS)
}

fn too_long(field: &'static str, v: &str, max: usize) -> Result<(), ParseError> {
    // A character takes at least a byte: count only when it may matter.
    if v.len() > max {
        let chars = v.chars().count();
        if chars > max {
            return Err(ParseError::TooLarge {
                field,
                size: chars,
                max,
                unit: "characters",
            });
        }
    }
    Ok(())
}

/// Checks every string of a parsed event against its bound.
pub fn check(ev: &Event) -> Result<(), ParseError> {
    name("event_id", &ev.event_id)?;
    name("complaint_id", &ev.complaint_id)?;
    if let Some(a) = &ev.actor {
        optional_name("actor", a)?;
    }
    match &ev.body {
        EventBody::Received(r) => {
            name("channel", &r.channel)?;
            name("customer.id", &r.customer.id)?;
            optional_name("customer.name", &r.customer.name)?;
            for (field, v) in [
                ("customer.phone", &r.customer.phone),
                ("customer.email", &r.customer.email),
            ] {
                if let Some(v) = v {
                    optional_name(field, v)?;
                }
            }
            if r.description.trim().is_empty() {
                return Err(ParseError::Empty("description"));
            }
            text("description", &r.description)?;
            if let Some(a) = &r.attributes {
                attributes(a.get())?;
            }
        }
        EventBody::Assigned(a) => {
            name("lead_department", &a.lead_department)?;
            if a.assist_departments.len() > MAX_DEPARTMENTS {
                return Err(ParseError::TooLarge {
                    field: "assist_departments",
                    size: a.assist_departments.len(),
                    max: MAX_DEPARTMENTS,
                    unit: "departments",
                });
            }
            for d in &a.assist_departments {
                name("assist_departments", d)?;
            }
        }
        EventBody::Progress(p) => text("note", &p.note)?,
        EventBody::ExtensionRequested(x) => text("reason", &x.reason)?,
        EventBody::Handled(h) => {
            text("cause", &h.cause)?;
            text("measures", &h.measures)?;
            text("result", &h.result)?;
        }
        EventBody::CustomerConfirmed(c) => {
            if let Some(t) = &c.comment {
                text("comment", t)?;
            }
        }
        EventBody::Withdrawn(w) => {
            if let Some(t) = &w.reason {
                text("reason", t)?;
            }
        }
        EventBody::Acknowledged(_)
        | EventBody::ExtensionDecided(_)
        | EventBody::Reported(_)
        | EventBody::Archived(_) => {}
    }
    Ok(())
}

/// `attributes`: an object of plain JSON values, every number a finite
/// double, bounded in depth, count and string size — what rules can read.
fn attributes(raw: &str) -> Result<(), ParseError> {
    let bad = |detail: String| ParseError::Attributes(detail);
    let value: Value = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
    if !value.is_object() {
        return Err(bad("must be an object".into()));
    }
    let mut count = 0usize;
    let mut stack = vec![(&value, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > ATTRIBUTES_MAX_DEPTH {
            return Err(bad(format!(
                "nested deeper than {ATTRIBUTES_MAX_DEPTH} levels"
            )));
        }
        count += 1;
        if count > ATTRIBUTES_MAX_VALUES {
            return Err(bad(format!("more than {ATTRIBUTES_MAX_VALUES} values")));
        }
        match v {
            Value::String(s) => text("attributes", s)?,
            Value::Number(n) if n.as_f64().is_none_or(|f| !f.is_finite()) => {
                return Err(bad(format!("number {n} is out of range")));
            }
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => {
                for (k, item) in map {
                    optional_name("attributes key", k)?;
                    stack.push((item, depth + 1));
                }
            }
            _ => {}
        }
    }
    Ok(())
}
