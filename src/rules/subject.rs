//! The complaint as a rule sees it: `c` in `decide(c)`. A registered type
//! rather than a map, so building it per decision is cheap, fields that a
//! rule never reads (attributes, customer) are never converted, and a
//! misspelt field is an error instead of a silent `()`.

use super::keywords::Keywords;
use crate::core::decision::DecisionInput;
use rhai::{Dynamic, EvalAltResult, ImmutableString, Map};
use std::sync::Arc;

/// `c.keywords`: the first word of each list found in the description.
#[derive(Debug, Clone)]
pub struct KeywordHits(Arc<Vec<(ImmutableString, ImmutableString)>>);

/// `c`: one complaint's rule inputs.
#[derive(Debug, Clone)]
pub struct Subject {
    id: ImmutableString,
    channel: ImmutableString,
    description: ImmutableString,
    text: ImmutableString,
    impact: &'static str,
    customer_id: ImmutableString,
    customer_name: ImmutableString,
    attributes_json: Option<Arc<str>>,
    attributes: Option<Dynamic>,
    cycle: i64,
    previous_priority: &'static str,
    comment: ImmutableString,
    received_at: chrono::DateTime<chrono::Utc>,
    happened_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    keywords: KeywordHits,
    assigned_lead: ImmutableString,
    assigned_assist: Vec<ImmutableString>,
    assigned_by_group: bool,
}

impl Subject {
    pub fn new(input: &DecisionInput<'_>, keywords: &Keywords) -> Subject {
        let r = input.received;
        let text = r.description.to_lowercase();
        let hits = KeywordHits(Arc::new(keywords.first_matches(&text)));
        Subject {
            id: input.complaint_id.into(),
            channel: r.channel.to_lowercase().into(),
            description: r.description.as_str().into(),
            text: text.into(),
            impact: r.impact.map_or("", |i| i.as_str()),
            customer_id: r.customer.id.as_str().into(),
            customer_name: r.customer.name.as_str().into(),
            attributes_json: r.attributes.as_ref().map(|a| a.get().into()),
            attributes: None,
            cycle: input.cycle as i64,
            previous_priority: input.previous_priority.map_or("", |p| p.as_str()),
            comment: input.comment.unwrap_or("").to_lowercase().into(),
            received_at: input.received_at,
            happened_at: r.happened_at,
            keywords: hits,
            assigned_lead: input.current.map_or("", |a| a.lead).into(),
            assigned_assist: input
                .current
                .map(|a| a.assist.iter().map(|d| d.as_ref().into()).collect())
                .unwrap_or_default(),
            assigned_by_group: input.current.is_some_and(|a| a.by_group),
        }
    }
}

/// JSON attributes as Rhai values (objects become maps).
fn to_dynamic(v: serde_json::Value) -> Dynamic {
    use serde_json::Value;
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => b.into(),
        Value::Number(n) => n
            .as_i64()
            .map(Dynamic::from)
            .or_else(|| n.as_f64().map(Dynamic::from))
            .unwrap_or(Dynamic::UNIT),
        Value::String(s) => s.into(),
        Value::Array(a) => Dynamic::from_array(a.into_iter().map(to_dynamic).collect()),
        Value::Object(o) => Dynamic::from_map(
            o.into_iter()
                .map(|(k, v)| (k.into(), to_dynamic(v)))
                .collect(),
        ),
    }
}

/// Fields of `c`, for rules/README.md and error messages.
pub const FIELDS: &[&str] = &[
    "id",
    "channel",
    "description",
    "text",
    "impact",
    "customer",
    "attributes",
    "keywords",
    "cycle",
    "reopen_count",
    "previous_priority",
    "comment",
    "received_at",
    "happened_at",
    "assigned_lead",
    "assigned_assist",
    "assigned_by_group",
];

fn customer(c: &mut Subject) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), c.customer_id.clone().into());
    m.insert("name".into(), c.customer_name.clone().into());
    m
}

fn attributes(c: &mut Subject) -> Result<Dynamic, Box<EvalAltResult>> {
    if c.attributes.is_none() {
        // Checked when the event entered (model::bounds); an error here is
        // an error of the rule's call, never a silently empty map.
        let parsed = match c.attributes_json.as_deref() {
            None => Dynamic::from_map(Map::new()),
            Some(j) => to_dynamic(
                serde_json::from_str(j).map_err(|e| format!("`attributes` unreadable: {e}"))?,
            ),
        };
        c.attributes = Some(parsed);
    }
    Ok(c.attributes.clone().unwrap_or_default())
}

/// Any other field name: an error that lists the real ones.
fn unknown_field(_c: &mut Subject, field: &str) -> Result<Dynamic, Box<EvalAltResult>> {
    Err(format!(
        "a complaint has no field `{field}` (fields: {})",
        FIELDS.join(", ")
    )
    .into())
}

fn hits_get(k: &mut KeywordHits, list: &str) -> Result<ImmutableString, Box<EvalAltResult>> {
    k.0.iter()
        .find(|(name, _)| name.as_str() == list)
        .map(|(_, word)| word.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = k.0.iter().map(|(n, _)| n.as_str()).collect();
            format!(
                "no keyword list `{list}` in keywords.toml (lists: {})",
                names.join(", ")
            )
            .into()
        })
}

/// Registers `Complaint` and `KeywordHits` with the engine. Property access
/// (`c.channel`) falls back to these indexers.
pub fn register(engine: &mut rhai::Engine) {
    // Explicit getters: the indexer fallback costs a failed lookup per access.
    engine
        .register_type_with_name::<Subject>("Complaint")
        .register_get("id", |c: &mut Subject| c.id.clone())
        .register_get("channel", |c: &mut Subject| c.channel.clone())
        .register_get("description", |c: &mut Subject| c.description.clone())
        .register_get("text", |c: &mut Subject| c.text.clone())
        .register_get("impact", |c: &mut Subject| c.impact)
        .register_get("customer", customer)
        .register_get("attributes", attributes)
        .register_get("keywords", |c: &mut Subject| c.keywords.clone())
        .register_get("cycle", |c: &mut Subject| c.cycle)
        .register_get("reopen_count", |c: &mut Subject| c.cycle)
        .register_get("previous_priority", |c: &mut Subject| c.previous_priority)
        .register_get("comment", |c: &mut Subject| c.comment.clone())
        .register_get("received_at", |c: &mut Subject| c.received_at.to_rfc3339())
        .register_get("happened_at", |c: &mut Subject| {
            c.happened_at.map(|t| t.to_rfc3339()).unwrap_or_default()
        })
        .register_get("assigned_lead", |c: &mut Subject| c.assigned_lead.clone())
        .register_get("assigned_assist", |c: &mut Subject| {
            c.assigned_assist
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect::<rhai::Array>()
        })
        .register_get("assigned_by_group", |c: &mut Subject| c.assigned_by_group)
        .register_indexer_get(unknown_field)
        .register_type_with_name::<KeywordHits>("KeywordHits")
        .register_indexer_get(hits_get);
}
