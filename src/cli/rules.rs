//! `complaintflow rules ...`: the admins' tools. Check, test and diff a
//! ruleset; learn its model from the corpus and the group's corrections;
//! list those corrections.

use super::{ClickHouseSource, block_on, load_rules};
use crate::core::Rules;
use crate::driver::replay::Bounds;
use crate::report::corrections::{self, Correction};
use crate::rules::RuleSet;
use crate::rules::corpus::{self, Labelled};
use crate::rules::model::{self, Example, ModelFile};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum RulesAction {
    /// Compiles the scripts, validates policy, keywords, departments, the
    /// model and fixtures, and runs every fixture once (rule errors fail).
    Check {
        /// Rules directory (default: ./rules when it exists, else the
        /// built-in ruleset).
        dir: Option<PathBuf>,
    },
    /// What a rule change would do: replays a history with both rulesets
    /// and compares decisions (transition tables, examples) and SLA outcomes.
    Diff {
        /// The rules in force.
        old: PathBuf,
        /// The changed rules.
        new: PathBuf,
        /// JSONL history of input events (e.g. a `replay` input).
        #[arg(
            long,
            required_unless_present = "clickhouse_url",
            conflicts_with = "clickhouse_url"
        )]
        input: Option<PathBuf>,
        #[command(flatten)]
        clickhouse: ClickHouseSource,
        #[command(flatten)]
        period: Period,
        /// The wall clock for refusing events from the future (default: now).
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// Also write the diff as a page in the report's style.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Runs the fixture cases and measures the rules on the labelled
    /// corpus, tuning and frozen parts apart, and the model's
    /// cross-validated accuracy; exits non-zero on a failing case (and,
    /// with --strict, on a missed corpus target).
    Test {
        /// Rules directory (default: ./rules when it exists, else the
        /// built-in ruleset).
        dir: Option<PathBuf>,
        /// Also fail when the corpus misses its target (95 % each).
        #[arg(long)]
        strict: bool,
    },
    /// Trains the model (`model.json`) from labelled complaints: the
    /// corpus's tuning part (or `--corpus` files) and, with
    /// `--clickhouse-url`, the group's corrections in the warehouse. The
    /// new model is written only if the ruleset with it passes its fixtures.
    Learn {
        /// Rules directory whose model is trained (default: ./rules).
        dir: Option<PathBuf>,
        /// Labelled JSON-lines files to train on instead of the corpus's
        /// tuning part (a `frozen*` file is refused).
        #[arg(long)]
        corpus: Vec<PathBuf>,
        #[command(flatten)]
        clickhouse: ClickHouseSource,
        #[command(flatten)]
        period: Period,
        /// How many corpus examples one correction of the group counts as.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
        correction_weight: u32,
        /// Where to write the model (default: DIR/model.json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Lists the complaint handling group's re-routings in the warehouse,
    /// with the rules' reason for the original decision, grouped by the
    /// evidence that misled the rules.
    Corrections {
        #[command(flatten)]
        clickhouse: ClickHouseSource,
        #[command(flatten)]
        period: Period,
    },
}

/// The stored days a `rules` command reads from ClickHouse: of the history
/// (`diff`), of the group's assignments (`learn`, `corrections`).
#[derive(clap::Args)]
pub struct Period {
    /// First local day (Beijing time), YYYY-MM-DD (default: the first stored).
    #[arg(long)]
    from: Option<chrono::NaiveDate>,
    /// Last local day (Beijing time), YYYY-MM-DD (default: the last stored).
    #[arg(long)]
    to: Option<chrono::NaiveDate>,
}

/// Runs one `rules` action.
pub fn run(action: RulesAction) -> Result<()> {
    match action {
        RulesAction::Check { dir } => check(dir.as_deref()),
        RulesAction::Test { dir, strict } => test(dir.as_deref(), strict),
        RulesAction::Diff {
            old,
            new,
            input,
            clickhouse,
            period: Period { from, to },
            now,
            html,
        } => {
            let old = RuleSet::load_dir(&old)
                .with_context(|| format!("loading rules from {}", old.display()))?;
            let new = RuleSet::load_dir(&new)
                .with_context(|| format!("loading rules from {}", new.display()))?;
            let text = match (input, clickhouse.config()) {
                (Some(input), _) => {
                    std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?
                }
                (None, Some(cfg)) => {
                    let zone = crate::config::DEFAULT_TIMEZONE;
                    block_on(crate::report::read_history(&cfg, from, to, zone))??
                }
                (None, None) => bail!("give --input or --clickhouse-url"),
            };
            let bounds = Bounds {
                until: None,
                now: now.map(|t| t.to_utc()),
            };
            let d = crate::driver::diff::diff(&text, &old, &new, bounds)?;
            print!("{d}");
            if let Some(path) = html {
                std::fs::write(&path, d.to_html())
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("\npage: {}", path.display());
            }
            Ok(())
        }
        RulesAction::Learn {
            dir,
            corpus,
            clickhouse,
            period: Period { from, to },
            correction_weight,
            out,
        } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("rules"));
            let corrections = match clickhouse.config() {
                Some(cfg) => read_corrections(&cfg, from, to)?,
                None => Vec::new(),
            };
            let out = out.unwrap_or_else(|| dir.join(model::FILE));
            learn(
                &dir,
                &corpus,
                &corrections,
                correction_weight as usize,
                &out,
            )
        }
        RulesAction::Corrections {
            clickhouse,
            period: Period { from, to },
        } => {
            let cfg = clickhouse
                .config()
                .context("give --clickhouse-url: corrections are read from the warehouse")?;
            print_corrections(&read_corrections(&cfg, from, to)?);
            Ok(())
        }
    }
}

fn read_corrections(
    cfg: &crate::config::ClickHouseConfig,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> Result<Vec<Correction>> {
    let zone = crate::config::DEFAULT_TIMEZONE;
    Ok(block_on(corrections::read(cfg, from, to, zone))??)
}

fn check(dir: Option<&Path>) -> Result<()> {
    let rules = load_rules(dir)?;
    // Every fixture runs once: a rule error a fixture reaches (a field
    // typo, a wrong type) is caught here, before `rules test`.
    let failures = rules.run_fixtures();
    print_rule_errors(&failures);
    if failures.iter().any(|f| f.error.is_some()) {
        bail!("the rules fail on fixture cases");
    }
    let differ = failures.len();
    println!(
        "ok: {} compiles; ruleset_version {}; {} fixture cases run, {differ} differ from their expectation{}",
        rules.origin,
        rules.version(),
        rules.fixtures().len(),
        if differ > 0 {
            " (see `rules test`)"
        } else {
            ""
        }
    );
    Ok(())
}

/// The directory whose corpus `rules test` measures: the one given, else
/// ./rules when it exists.
fn corpus_dir(dir: Option<&Path>) -> Option<PathBuf> {
    let local = Path::new("rules");
    dir.map(Path::to_path_buf)
        .or_else(|| local.is_dir().then(|| local.to_path_buf()))
}

fn test(dir: Option<&Path>, strict: bool) -> Result<()> {
    let rules = load_rules(dir)?;
    let failures = rules.run_fixtures();
    let total = rules.fixtures().len();
    print_rule_errors(&failures);
    for f in failures.iter().filter(|f| f.error.is_none()) {
        print!("{f}");
    }
    println!(
        "{} of {total} cases pass (ruleset_version {})",
        total - failures.len(),
        rules.version()
    );
    let corpus = match corpus_dir(dir) {
        Some(d) => corpus::load(&d).map_err(anyhow::Error::msg)?,
        None => corpus::Corpus::default(),
    };
    let decide = |i: &crate::core::DecisionInput<'_>| rules.try_decide(i);
    let mut missed = false;
    for (part, cases) in [("tuning", &corpus.tuning), (corpus::FROZEN, &corpus.frozen)] {
        if cases.is_empty() {
            continue;
        }
        let report = corpus::evaluate(part, cases, decide);
        print!("{report}");
        missed |= !report.meets_target();
    }
    if !corpus.tuning.is_empty() {
        let examples: Vec<Example> = corpus.tuning.iter().map(example).collect();
        let segmenter = rules.keywords().segmenter();
        let [category, lead, priority] = model::cross_validate(&examples, segmenter, 5);
        println!(
            "model alone (naive Bayes, 5-fold cross-validation on the tuning part): category {:.1}%   lead department {:.1}%   priority {:.1}%",
            category * 100.0,
            lead * 100.0,
            priority * 100.0
        );
    }
    if !failures.is_empty() {
        bail!("{} fixture case(s) fail", failures.len());
    }
    if missed && strict {
        bail!("the rules miss the corpus target");
    }
    Ok(())
}

/// A labelled complaint as a training example.
fn example(l: &Labelled) -> Example {
    Example {
        text: l.description.clone(),
        category: l.category.as_str().to_string(),
        lead_department: l.lead_department.clone(),
        priority: l.priority.as_str().to_string(),
    }
}

/// A correction as a training example, labelled by the group's routing;
/// its category is the one the training examples most often give that
/// lead department, else the rules' own.
fn corrected(c: &Correction, category_of_lead: &BTreeMap<String, String>) -> Example {
    Example {
        text: c.description.clone(),
        category: category_of_lead
            .get(&c.group_lead)
            .cloned()
            .unwrap_or_else(|| c.category.clone()),
        lead_department: c.group_lead.clone(),
        priority: c.priority.clone(),
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

fn learn(
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

fn print_corrections(list: &[Correction]) {
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
                "  {} {}  rules: {} -> group: {}\n    {}\n    reason: {}",
                c.assigned_at,
                c.complaint_id,
                route(&c.rules_lead, &c.rules_assist),
                route(&c.group_lead, &c.group_assist),
                c.description,
                c.reason
            );
        }
    }
}
/// Prints each distinct rule error once, with the fixture cases it hit.
fn print_rule_errors(failures: &[crate::rules::fixtures::Failure]) {
    let mut by_error: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for f in failures {
        if let Some(e) = &f.error {
            by_error
                .entry(e.as_str())
                .or_default()
                .push(format!("{} :: {}", f.file, f.name));
        }
    }
    for (error, cases) in by_error {
        println!("RULE ERROR in {} case(s): {error}", cases.len());
        for c in cases {
            println!("    {c}");
        }
    }
}
