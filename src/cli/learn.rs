//! `rules learn` and `rules corrections`: the model trained on labelled
//! complaints and the complaint handling group's corrections, and those
//! corrections listed for admins.

use super::rules::{Period, print_rule_errors};
use crate::core::Rules;
use crate::report::corrections::{self, Correction};
use crate::rules::RuleSet;
use crate::rules::corpus::{self, Labelled};
use crate::rules::model::{self, Example, ModelFile};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The group's re-routings of `period`, from the warehouse.
pub(super) fn read_corrections(
    runtime: &tokio::runtime::Runtime,
    cfg: &crate::config::ClickHouseConfig,
    period: &Period,
) -> Result<Vec<Correction>> {
    let zone = crate::config::DEFAULT_TIMEZONE;
    Ok(runtime.block_on(corrections::read(cfg, period.from, period.to, zone))?)
}

/// A labelled complaint as a training example.
pub(super) fn example(l: &Labelled) -> Example {
    Example {
        text: l.description.clone(),
        category: l.category.as_str().to_string(),
        lead_department: l.lead_department.clone(),
        priority: l.priority.as_str().to_string(),
    }
}

/// A correction as a training example, labelled by the group's routing
/// and priority (the rules' where the group gave none); its category is
/// the one the training examples most often give that lead department,
/// else the rules' own.
fn corrected(c: &Correction, category_of_lead: &BTreeMap<String, String>) -> Example {
    Example {
        text: c.description.clone(),
        category: category_of_lead
            .get(&c.group_lead)
            .cloned()
            .unwrap_or_else(|| c.category.clone()),
        lead_department: c.group_lead.clone(),
        priority: group_priority(c).to_string(),
    }
}

/// The priority the group settled on: its own where it gave one.
fn group_priority(c: &Correction) -> &str {
    if c.group_priority.is_empty() {
        &c.priority
    } else {
        &c.group_priority
    }
}

/// The category each lead department most often has in `examples`.
fn categories_of_leads(examples: &[Example]) -> BTreeMap<String, String> {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in examples {
        *counts
            .entry((e.lead_department.clone(), e.category.clone()))
            .or_default() += 1;
    }
    let mut best: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for ((lead, category), n) in counts {
        let b = best.entry(lead).or_insert((0, String::new()));
        if n > b.0 {
            *b = (n, category);
        }
    }
    best.into_iter().map(|(l, (_, c))| (l, c)).collect()
}

pub(super) fn learn(
    dir: &Path,
    files: &[PathBuf],
    corrections: &[Correction],
    weight: usize,
    out: &Path,
) -> Result<()> {
    // The model in place may be the broken one being replaced: only the
    // segmenter of the keyword lists is needed here.
    let rules = with_model(dir, None)?;
    let mut trained_on = BTreeMap::new();
    let mut examples = Vec::new();
    if files.is_empty() {
        let c = corpus::load(dir).map_err(anyhow::Error::msg)?;
        trained_on.insert("corpus tuning part".to_string(), c.tuning.len());
        examples.extend(c.tuning.iter().map(example));
    }
    for f in files {
        if corpus::is_frozen(f) {
            bail!(
                "{} is the frozen evaluation part: it is never trained on",
                f.display()
            );
        }
        let cases = corpus::load_file(f).map_err(anyhow::Error::msg)?;
        trained_on.insert(f.display().to_string(), cases.len());
        examples.extend(cases.iter().map(example));
    }
    let leads = categories_of_leads(&examples);
    for c in corrections {
        for _ in 0..weight {
            examples.push(corrected(c, &leads));
        }
    }
    if !corrections.is_empty() {
        trained_on.insert(
            format!("corrections by the group (each counted {weight} times)"),
            corrections.len(),
        );
    }
    if examples.is_empty() {
        bail!("nothing to learn from: no labelled complaints and no corrections");
    }
    let file = ModelFile::train(&examples, rules.keywords().segmenter(), trained_on.clone());
    let text = file.to_json();
    let candidate = with_model(dir, Some(&text))?;
    let failures = candidate.run_fixtures();
    if !failures.is_empty() {
        print_rule_errors(&failures);
        for f in failures.iter().filter(|f| f.error.is_none()) {
            print!("{f}");
        }
        bail!(
            "with the new model {} fixture case(s) fail; {} is unchanged",
            failures.len(),
            out.display()
        );
    }
    // Written whole, then renamed: a watching service never reads half.
    let tmp = out.with_extension("json.tmp");
    std::fs::write(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    for (source, n) in &trained_on {
        println!("trained on {n} from {source}");
    }
    println!(
        "model: {} ({} features); ruleset_version with it {}",
        out.display(),
        file.heads
            .get(model::HEADS[0])
            .map_or(0, |h| h.features.len()),
        candidate.version()
    );
    Ok(())
}

/// The rules of `dir` with `model_text` in place of its model file (or
/// without one).
fn with_model(dir: &Path, model_text: Option<&str>) -> Result<RuleSet> {
    let mut files = RuleSet::read_files(dir)
        .with_context(|| format!("loading rules from {}", dir.display()))?;
    files.retain(|(name, _)| name != model::FILE);
    // Where `load_dir` reads it, so the version printed is the one a
    // service will load.
    let at = files
        .iter()
        .position(|(name, _)| name.starts_with("tests/") || name.as_str() > model::FILE)
        .unwrap_or(files.len());
    if let Some(text) = model_text {
        files.insert(at, (model::FILE.to_string(), text.to_string()));
    }
    Ok(RuleSet::from_files(&dir.display().to_string(), &files)?)
}

pub(super) fn print_corrections(list: &[Correction]) {
    let mut by_evidence: BTreeMap<String, Vec<&Correction>> = BTreeMap::new();
    for c in list {
        by_evidence
            .entry(corrections::evidence(&c.reason))
            .or_default()
            .push(c);
    }
    let mut groups: Vec<_> = by_evidence.into_iter().collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    println!(
        "{} re-routing(s) by the complaint handling group",
        list.len()
    );
    for (evidence, cs) in groups {
        println!("\nmisled by: {evidence}  ({} re-routing(s))", cs.len());
        for c in cs {
            let route = |lead: &str, assist: &[String]| {
                if assist.is_empty() {
                    lead.to_string()
                } else {
                    format!("{lead} + {}", assist.join(", "))
                }
            };
            println!(
                "  {} {}  rules: {}, {} -> group: {}, {}\n    {}\n    reason: {}",
                c.assigned_at,
                c.complaint_id,
                route(&c.rules_lead, &c.rules_assist),
                c.priority,
                route(&c.group_lead, &c.group_assist),
                group_priority(c),
                c.description,
                c.reason
            );
        }
    }
}
