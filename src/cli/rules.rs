//! `complaintflow rules ...`: the admins' tools. Check, test and diff a
//! ruleset; learn its model from the corpus and the group's corrections;
//! list those corrections.

use super::learn::{example, learn, print_corrections, read_corrections};
use super::{ClickHouseSource, load_rules};
use crate::core::Rules as _;
use crate::driver::replay::Bounds;
use crate::rules::RuleSet;
use crate::rules::corpus;
use crate::rules::model::{self, Example};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Rules {
    #[command(subcommand)]
    action: RulesAction,
}

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
    /// Lists the complaint handling group's re-routings and changed
    /// priorities in the warehouse, with the rules' reason for the original
    /// decision, grouped by the evidence that misled the rules.
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
    pub(super) from: Option<chrono::NaiveDate>,
    /// Last local day (Beijing time), YYYY-MM-DD (default: the last stored).
    #[arg(long)]
    pub(super) to: Option<chrono::NaiveDate>,
}

impl Rules {
    /// Runs one `rules` action.
    pub(super) fn run(self, runtime: &tokio::runtime::Runtime) -> Result<()> {
        match self.action {
            RulesAction::Check { dir } => check(dir.as_deref()),
            RulesAction::Test { dir, strict } => test(dir.as_deref(), strict),
            RulesAction::Diff {
                old,
                new,
                input,
                clickhouse,
                period,
                now,
                html,
            } => {
                let history = match (input, clickhouse.config()) {
                    (Some(input), _) => std::fs::read(&input)
                        .with_context(|| format!("reading {}", input.display()))?,
                    (None, Some(cfg)) => {
                        let zone = crate::config::DEFAULT_TIMEZONE;
                        let read = crate::report::read_history(&cfg, period.from, period.to, zone);
                        runtime.block_on(read)?
                    }
                    (None, None) => bail!("give --input or --clickhouse-url"),
                };
                diff(&old, &new, &history, now, html.as_deref())
            }
            RulesAction::Learn {
                dir,
                corpus,
                clickhouse,
                period,
                correction_weight,
                out,
            } => {
                let dir = dir.unwrap_or_else(|| PathBuf::from("rules"));
                let corrections = match clickhouse.config() {
                    Some(cfg) => read_corrections(runtime, &cfg, &period)?,
                    None => Vec::new(),
                };
                let out = out.unwrap_or_else(|| dir.join(model::FILE));
                let weight = correction_weight as usize;
                learn(&dir, &corpus, &corrections, weight, &out)
            }
            RulesAction::Corrections { clickhouse, period } => {
                let cfg = clickhouse
                    .config()
                    .context("give --clickhouse-url: corrections are read from the warehouse")?;
                print_corrections(&read_corrections(runtime, &cfg, &period)?);
                Ok(())
            }
        }
    }
}

/// `rules diff`: the history replayed with both rulesets, compared.
fn diff(
    old: &Path,
    new: &Path,
    history: &[u8],
    now: Option<chrono::DateTime<chrono::FixedOffset>>,
    html: Option<&Path>,
) -> Result<()> {
    let load = |dir: &Path| {
        RuleSet::load_dir(dir).with_context(|| format!("loading rules from {}", dir.display()))
    };
    let (old, new) = (load(old)?, load(new)?);
    let bounds = Bounds {
        until: None,
        now: now.map(|t| t.to_utc()),
    };
    let d = crate::driver::diff::diff(history, &old, &new, bounds)?;
    print!("{d}");
    if let Some(path) = html {
        std::fs::write(path, d.to_html()).with_context(|| format!("writing {}", path.display()))?;
        println!("\npage: {}", path.display());
    }
    // The diff shows what the rules would change; a reload would not take
    // them while a fixture fails, so say so and fail.
    let failures = new.run_fixtures();
    if !failures.is_empty() {
        for f in &failures {
            eprint!("{f}");
        }
        bail!(
            "{} fixture case(s) fail with {}: a reload would refuse these rules",
            failures.len(),
            new.origin
        );
    }
    Ok(())
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
            "model alone (naive Bayes for category and lead, logistic regression for priority; 5-fold cross-validation on the tuning part): category {:.1}%   lead department {:.1}%   priority {:.1}%",
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

/// Prints each distinct rule error once, with the fixture cases it hit.
pub(super) fn print_rule_errors(failures: &[crate::rules::fixtures::Failure]) {
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
