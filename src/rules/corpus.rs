//! The labelled corpus in `rules/corpus/*.jsonl`: realistic complaints with
//! the category, priority and departments a person gave them from the
//! regulation (rules/corpus/LABELLING.md). Files named `frozen*` are the
//! evaluation part: never used to choose words, weights or training data.
//! `rules test` measures the rules on both parts: accuracy, per-category
//! precision and recall, and the misses of the tuning part (the frozen
//! part's misses are not shown, so that nobody tunes on them).

use crate::core::decision::{DecisionInput, RuleDecision};
use crate::model::event::{Customer, Received};
use crate::model::{Category, Impact, Priority};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The share of right answers the shipped rules must reach.
pub const TARGET: f64 = 0.95;

/// One labelled complaint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labelled {
    pub id: String,
    pub channel: String,
    #[serde(default)]
    pub impact: Option<Impact>,
    pub description: String,
    pub category: Category,
    pub priority: Priority,
    pub lead_department: String,
    /// The assisting departments the group would add, when labelled.
    #[serde(default)]
    pub assist_departments: Option<Vec<String>>,
    /// What makes the case hard (`substring`, `negation`, ...).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The corpus, in its two parts.
#[derive(Debug, Default)]
pub struct Corpus {
    pub tuning: Vec<Labelled>,
    pub frozen: Vec<Labelled>,
}

impl Corpus {
    /// Every case, tuning part first.
    pub fn all(&self) -> impl Iterator<Item = &Labelled> {
        self.tuning.iter().chain(&self.frozen)
    }
}

/// The name of the evaluation part.
pub const FROZEN: &str = "frozen";

/// Whether a corpus file belongs to the frozen evaluation part.
pub fn is_frozen(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(FROZEN))
}

/// Reads every `*.jsonl` of `dir/corpus`, in name order; none: empty.
pub fn load(dir: &Path) -> Result<Corpus, String> {
    let corpus = dir.join("corpus");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        return Ok(Corpus::default());
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut out = Corpus::default();
    for f in files {
        let part = if is_frozen(&f) {
            &mut out.frozen
        } else {
            &mut out.tuning
        };
        part.extend(load_file(&f)?);
    }
    Ok(out)
}

/// The labelled complaints of one JSON-lines file.
pub fn load_file(f: &Path) -> Result<Vec<Labelled>, String> {
    let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let case =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", f.display(), n + 1))?;
        out.push(case);
    }
    Ok(out)
}

/// How the rules did on the corpus.
#[derive(Debug, Default)]
pub struct Report {
    /// Which part: `tuning` or `frozen`.
    pub part: String,
    pub total: usize,
    pub category: usize,
    pub priority: usize,
    pub lead: usize,
    /// Per category: (decided and right, decided, labelled).
    pub per_category: BTreeMap<Category, (usize, usize, usize)>,
    /// Assisting departments right, of the cases labelled with them.
    pub assist: (usize, usize),
    /// Per tag: (cases all right, cases).
    pub per_tag: BTreeMap<String, (usize, usize)>,
    /// Shown only for the tuning part.
    pub misses: Vec<String>,
}

impl Report {
    fn share(&self, n: usize) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            n as f64 / self.total as f64
        }
    }

    /// Whether category, lead department and priority each reach [`TARGET`].
    pub fn meets_target(&self) -> bool {
        [self.category, self.lead, self.priority]
            .iter()
            .all(|n| self.share(*n) >= TARGET)
    }
}

/// Decides every case with `decide` and compares with its labels.
pub fn evaluate(
    part: &str,
    cases: &[Labelled],
    decide: impl Fn(&DecisionInput<'_>) -> Result<RuleDecision, String>,
) -> Report {
    let mut r = Report {
        part: part.to_string(),
        total: cases.len(),
        ..Report::default()
    };
    for case in cases {
        let received = Received {
            channel: case.channel.clone(),
            customer: Customer {
                id: "corpus".into(),
                name: "corpus".into(),
                phone: None,
                email: None,
            },
            description: case.description.clone(),
            happened_at: None,
            impact: case.impact,
            attributes: None,
        };
        let input = DecisionInput {
            complaint_id: &case.id,
            received: &received,
            received_at: chrono::DateTime::UNIX_EPOCH,
            cycle: 0,
            previous_priority: None,
            comment: None,
            current: None,
        };
        let d = match decide(&input) {
            Ok(d) => d,
            Err(e) => {
                r.misses.push(format!("{}: rule error: {e}", case.id));
                continue;
            }
        };
        let mut wrong = Vec::new();
        let mut note = |ok: bool, field: &str, want: &str, got: &str| {
            if !ok {
                wrong.push(format!("{field} {want:?}, got {got:?}"));
            }
            ok as usize
        };
        r.category += note(
            d.category == case.category,
            "category",
            case.category.as_str(),
            d.category.as_str(),
        );
        r.priority += note(
            d.priority == case.priority,
            "priority",
            case.priority.as_str(),
            d.priority.as_str(),
        );
        r.lead += note(
            d.lead_department == case.lead_department,
            "lead",
            &case.lead_department,
            &d.lead_department,
        );
        if let Some(want) = &case.assist_departments {
            let (mut a, mut b) = (want.clone(), d.assist_departments.clone());
            a.sort();
            b.sort();
            r.assist.1 += 1;
            r.assist.0 += (a == b) as usize;
        }
        for tag in &case.tags {
            let t = r.per_tag.entry(tag.clone()).or_default();
            t.0 += wrong.is_empty() as usize;
            t.1 += 1;
        }
        let hit = (d.category == case.category) as usize;
        r.per_category.entry(d.category).or_default().0 += hit;
        r.per_category.entry(d.category).or_default().1 += 1;
        r.per_category.entry(case.category).or_default().2 += 1;
        if !wrong.is_empty() {
            r.misses.push(format!(
                "{} {}: want {} (reason: {})",
                case.id,
                case.description,
                wrong.join(", "),
                d.reason
            ));
        }
    }
    r
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |n: usize| self.share(n) * 100.0;
        writeln!(
            f,
            "corpus, {} part: {} labelled complaints",
            self.part, self.total
        )?;
        writeln!(
            f,
            "  category {:.1}%   lead department {:.1}%   priority {:.1}%   (target {:.0}% each: {})",
            pct(self.category),
            pct(self.lead),
            pct(self.priority),
            TARGET * 100.0,
            if self.meets_target() { "met" } else { "MISSED" }
        )?;
        for (c, (right, decided, labelled)) in &self.per_category {
            let ratio = |a: usize, b: usize| {
                if b == 0 {
                    100.0
                } else {
                    a as f64 * 100.0 / b as f64
                }
            };
            writeln!(
                f,
                "  {:<10} precision {:>5.1}%  recall {:>5.1}%  ({labelled} labelled)",
                c.as_str(),
                ratio(*right, *decided),
                ratio(*right, *labelled)
            )?;
        }
        if self.assist.1 > 0 {
            writeln!(
                f,
                "  assisting departments {:.1}% ({} labelled)",
                self.assist.0 as f64 * 100.0 / self.assist.1 as f64,
                self.assist.1
            )?;
        }
        let tags: Vec<String> = self
            .per_tag
            .iter()
            .map(|(t, (right, n))| format!("{t} {right}/{n}"))
            .collect();
        if !tags.is_empty() {
            writeln!(f, "  all right, by tag: {}", tags.join(", "))?;
        }
        if self.part == FROZEN {
            // Seeing them is the first step to tuning on them.
            writeln!(
                f,
                "  {} misses not shown: nobody tunes on the frozen part",
                self.misses.len()
            )?;
        } else {
            for m in &self.misses {
                writeln!(f, "  MISS {m}")?;
            }
        }
        Ok(())
    }
}
