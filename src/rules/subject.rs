//! The complaint as a rule sees it: `c` in `decide(c)`. A registered type
//! rather than a map, so building it per decision is cheap, fields that a
//! rule never reads (attributes, customer) are never converted, and a
//! misspelt field is an error instead of a silent `()`.

use super::keywords::{Keywords, ListHits};
use super::model::{Answer, HeadName, Model};
use crate::core::decision::DecisionInput;
use rhai::{Dynamic, EvalAltResult, ImmutableString, Map};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// What the keyword lists found in the description, by list name, and
/// the record of which lists a rule read.
#[derive(Debug)]
struct Found {
    names: Arc<[ImmutableString]>,
    lists: Vec<ListHits>,
    reads: Arc<Reads>,
}

impl Found {
    /// The hits of list `name`, recorded as read.
    fn read(&self, name: &str) -> Result<&ListHits, Box<EvalAltResult>> {
        let Some(i) = self.names.iter().position(|n| n.as_str() == name) else {
            let names: Vec<&str> = self.names.iter().map(|n| n.as_str()).collect();
            return Err(format!(
                "no keyword list `{name}` in keywords.toml (lists: {})",
                names.join(", ")
            )
            .into());
        };
        // Past 64 lists a read cannot be recorded: mark it as reading
        // the whole text, which keys on every keyword it could contain.
        if i < 64 {
            self.reads.lists.fetch_or(1 << i, Ordering::Relaxed);
        } else {
            self.reads.field(Field::Text);
        }
        Ok(&self.lists[i])
    }
}

/// `c.keywords`: per list, the first word found, or "".
#[derive(Debug, Clone)]
pub struct FirstWords(Arc<Found>);
/// `c.words`: per list, every word found, in text order.
#[derive(Debug, Clone)]
pub struct AllWords(Arc<Found>);
/// `c.score`: per list, the sum of the weights of the words found.
#[derive(Debug, Clone)]
pub struct Scores(Arc<Found>);

/// `c.model`: the learned model's answers, each head computed on its
/// first read (a rule that reads only the category pays for that only).
#[derive(Debug, Clone)]
pub struct ModelView {
    model: Option<Arc<Model>>,
    words: Arc<super::words::Words>,
    text: ImmutableString,
    rows: Arc<OnceLock<Vec<u32>>>,
    answers: Arc<[OnceLock<Answer>; 3]>,
    reads: Arc<Reads>,
}

/// The read of each head, for the memo.
const MODEL_FIELDS: [Field; 3] = [Field::ModelCategory, Field::ModelLead, Field::ModelPriority];
const MODEL_HEADS: [HeadName; 3] = [
    HeadName::Category,
    HeadName::LeadDepartment,
    HeadName::Priority,
];

impl ModelView {
    fn answer(&self, head: HeadName) -> Option<&Answer> {
        let model = self.model.as_ref()?;
        Some(self.answers[head as usize].get_or_init(|| {
            let rows = self
                .rows
                .get_or_init(|| model.rows(&self.words, &self.text));
            model.answer(head, rows)
        }))
    }

    fn read(&mut self, head: HeadName) -> Result<&Answer, Box<EvalAltResult>> {
        self.reads.field(MODEL_FIELDS[head as usize]);
        self.answer(head).ok_or_else(|| {
            "this ruleset has no model (rules/model.json): train one with `complaintflow rules learn`"
                .into()
        })
    }
}

/// Which inputs a rule read during one call: fields of `c` (bits by
/// [`Field`]) and keyword lists (bits by list position). The memo
/// (rules/memo.rs) keys a decision by exactly these values.
#[derive(Debug, Default)]
pub struct Reads {
    fields: AtomicU32,
    lists: AtomicU64,
}

/// A set of reads: `(fields, keyword lists)`.
pub type ReadMask = (u32, u64);

impl Reads {
    fn field(&self, f: Field) {
        self.fields.fetch_or(1 << f as u32, Ordering::Relaxed);
    }

    pub fn mask(&self) -> ReadMask {
        (
            self.fields.load(Ordering::Relaxed),
            self.lists.load(Ordering::Relaxed),
        )
    }
}

/// The fields of `c` a rule can read (`reopen_count` is `cycle`).
#[derive(Debug, Clone, Copy)]
enum Field {
    Id,
    Channel,
    Description,
    Text,
    Impact,
    Customer,
    Attributes,
    Cycle,
    PreviousPriority,
    Comment,
    ReceivedAt,
    HappenedAt,
    AssignedLead,
    AssignedAssist,
    AssignedByGroup,
    ModelCategory,
    ModelLead,
    ModelPriority,
}

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
    found: Arc<Found>,
    model: ModelView,
    assigned_lead: ImmutableString,
    assigned_assist: Vec<ImmutableString>,
    assigned_by_group: bool,
    reads: Arc<Reads>,
}

impl Subject {
    pub fn new(
        input: &DecisionInput<'_>,
        keywords: &Keywords,
        model: Option<&Arc<Model>>,
    ) -> Subject {
        let r = input.received;
        let text: ImmutableString = r.description.to_lowercase().into();
        let reads = Arc::new(Reads::default());
        let words = Arc::new(keywords.segmenter().words(&text));
        let found = Arc::new(Found {
            names: keywords.names().clone(),
            lists: keywords.hits(&words),
            reads: reads.clone(),
        });
        let model = ModelView {
            model: model.cloned(),
            words,
            text: text.clone(),
            rows: Arc::new(OnceLock::new()),
            answers: Arc::new(Default::default()),
            reads: reads.clone(),
        };
        Subject {
            id: input.complaint_id.into(),
            channel: r.channel.to_lowercase().into(),
            description: r.description.as_str().into(),
            text,
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
            found,
            model,
            assigned_lead: input.current.map_or("", |a| a.lead).into(),
            assigned_assist: input
                .current
                .map(|a| a.assist.iter().map(|d| d.as_ref().into()).collect())
                .unwrap_or_default(),
            assigned_by_group: input.current.is_some_and(|a| a.by_group),
            reads,
        }
    }

    /// What the rule has read so far.
    pub fn reads(&self) -> ReadMask {
        self.reads.mask()
    }

    /// The values of the inputs in `mask`, as one key: equal keys mean a
    /// rule that read exactly these saw the same values.
    pub fn key_into(&self, (fields, lists): ReadMask, key: &mut Vec<u8>) {
        key.clear();
        let mut put = |bytes: &[u8]| {
            key.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            key.extend_from_slice(bytes);
        };
        let has = |f: Field| fields & (1 << f as u32) != 0;
        if has(Field::Id) {
            put(self.id.as_bytes());
        }
        if has(Field::Channel) {
            put(self.channel.as_bytes());
        }
        if has(Field::Description) {
            put(self.description.as_bytes());
        }
        if has(Field::Text) {
            put(self.text.as_bytes());
        }
        if has(Field::Impact) {
            put(self.impact.as_bytes());
        }
        if has(Field::Customer) {
            put(self.customer_id.as_bytes());
            put(self.customer_name.as_bytes());
        }
        if has(Field::Attributes) {
            put(self.attributes_json.as_deref().unwrap_or("").as_bytes());
        }
        if has(Field::Cycle) {
            put(&self.cycle.to_le_bytes());
        }
        if has(Field::PreviousPriority) {
            put(self.previous_priority.as_bytes());
        }
        if has(Field::Comment) {
            put(self.comment.as_bytes());
        }
        if has(Field::ReceivedAt) {
            put(&self.received_at.timestamp_micros().to_le_bytes());
        }
        if has(Field::HappenedAt) {
            put(self
                .happened_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
                .as_bytes());
        }
        if has(Field::AssignedLead) {
            put(self.assigned_lead.as_bytes());
        }
        if has(Field::AssignedAssist) {
            for a in &self.assigned_assist {
                put(a.as_bytes());
            }
            put(b"\xff");
        }
        if has(Field::AssignedByGroup) {
            put(&[self.assigned_by_group as u8]);
        }
        for (field, head) in MODEL_FIELDS.into_iter().zip(MODEL_HEADS) {
            if has(field) {
                match self.model.answer(head) {
                    Some(a) => {
                        put(a.class.as_bytes());
                        put(&a.confidence.to_le_bytes());
                    }
                    None => put(b"\xff"),
                }
            }
        }
        // A list's words decide its first word and its score too.
        for (i, hits) in self.found.lists.iter().enumerate() {
            if i < 64 && lists & (1 << i) != 0 {
                for w in &hits.words {
                    put(w.as_bytes());
                }
                put(b"\xff");
            }
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
    "words",
    "score",
    "model",
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
    c.reads.field(Field::Customer);
    let mut m = Map::new();
    m.insert("id".into(), c.customer_id.clone().into());
    m.insert("name".into(), c.customer_name.clone().into());
    m
}

fn attributes(c: &mut Subject) -> Result<Dynamic, Box<EvalAltResult>> {
    c.reads.field(Field::Attributes);
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

fn first_word(k: &mut FirstWords, list: &str) -> Result<ImmutableString, Box<EvalAltResult>> {
    Ok(k.0.read(list)?.words.first().cloned().unwrap_or_default())
}

fn all_words(k: &mut AllWords, list: &str) -> Result<rhai::Array, Box<EvalAltResult>> {
    Ok(k.0
        .read(list)?
        .words
        .iter()
        .cloned()
        .map(Dynamic::from)
        .collect())
}

fn score(k: &mut Scores, list: &str) -> Result<i64, Box<EvalAltResult>> {
    Ok(k.0.read(list)?.score)
}

/// Records that the rule read `f`; every getter goes through here.
fn read(c: &mut Subject, f: Field) -> &mut Subject {
    c.reads.field(f);
    c
}

/// Registers `Complaint` and `KeywordHits` with the engine. Property access
/// (`c.channel`) falls back to these indexers.
pub fn register(engine: &mut rhai::Engine) {
    // Explicit getters: the indexer fallback costs a failed lookup per access.
    engine
        .register_type_with_name::<Subject>("Complaint")
        .register_get("id", |c: &mut Subject| read(c, Field::Id).id.clone())
        .register_get("channel", |c: &mut Subject| {
            read(c, Field::Channel).channel.clone()
        })
        .register_get("description", |c: &mut Subject| {
            read(c, Field::Description).description.clone()
        })
        .register_get("text", |c: &mut Subject| read(c, Field::Text).text.clone())
        .register_get("impact", |c: &mut Subject| read(c, Field::Impact).impact)
        .register_get("customer", customer)
        .register_get("attributes", attributes)
        .register_get("keywords", |c: &mut Subject| FirstWords(c.found.clone()))
        .register_get("words", |c: &mut Subject| AllWords(c.found.clone()))
        .register_get("score", |c: &mut Subject| Scores(c.found.clone()))
        .register_get("model", |c: &mut Subject| c.model.clone())
        .register_get("cycle", |c: &mut Subject| read(c, Field::Cycle).cycle)
        .register_get("reopen_count", |c: &mut Subject| {
            read(c, Field::Cycle).cycle
        })
        .register_get("previous_priority", |c: &mut Subject| {
            read(c, Field::PreviousPriority).previous_priority
        })
        .register_get("comment", |c: &mut Subject| {
            read(c, Field::Comment).comment.clone()
        })
        .register_get("received_at", |c: &mut Subject| {
            read(c, Field::ReceivedAt).received_at.to_rfc3339()
        })
        .register_get("happened_at", |c: &mut Subject| {
            read(c, Field::HappenedAt)
                .happened_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
        })
        .register_get("assigned_lead", |c: &mut Subject| {
            read(c, Field::AssignedLead).assigned_lead.clone()
        })
        .register_get("assigned_assist", |c: &mut Subject| {
            read(c, Field::AssignedAssist)
                .assigned_assist
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect::<rhai::Array>()
        })
        .register_get("assigned_by_group", |c: &mut Subject| {
            read(c, Field::AssignedByGroup).assigned_by_group
        })
        .register_indexer_get(unknown_field)
        .register_type_with_name::<FirstWords>("KeywordHits")
        .register_indexer_get(first_word)
        .register_type_with_name::<AllWords>("KeywordWords")
        .register_indexer_get(all_words)
        .register_type_with_name::<Scores>("KeywordScores")
        .register_indexer_get(score)
        .register_type_with_name::<ModelView>("Model")
        .register_get("category", |m: &mut ModelView| {
            m.read(HeadName::Category).map(|a| a.class.clone())
        })
        .register_get("confidence", |m: &mut ModelView| {
            m.read(HeadName::Category).map(|a| a.confidence)
        })
        .register_get("lead_department", |m: &mut ModelView| {
            m.read(HeadName::LeadDepartment).map(|a| a.class.clone())
        })
        .register_get("lead_confidence", |m: &mut ModelView| {
            m.read(HeadName::LeadDepartment).map(|a| a.confidence)
        })
        .register_get("priority", |m: &mut ModelView| {
            m.read(HeadName::Priority).map(|a| a.class.clone())
        })
        .register_get("priority_confidence", |m: &mut ModelView| {
            m.read(HeadName::Priority).map(|a| a.confidence)
        });
}
