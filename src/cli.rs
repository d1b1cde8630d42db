//! Command line: `replay`, `demo`, `rules check|test` (CONTRACT.md "Command line").

use crate::core::Rules;
use crate::driver::demo::{self, DemoConfig};
use crate::driver::replay::replay_file;
use crate::model::Timestamp;
use crate::rules::{fixtures, RuleSet};
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser)]
#[command(name = "complaintflow", version, about = "Customer-complaint regulation as a stream processor")]
pub struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "COMPLAINTFLOW_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Replays a JSONL file of events on the event-time clock.
    Replay {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Clock at the end (default: the last event's time).
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// Rules directory (default: the shipped rules built into the binary).
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Generates a realistic synthetic stream and replays it.
    Demo {
        /// Number of complaints.
        #[arg(long, default_value_t = 5_000)]
        complaints: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Days of arrivals.
        #[arg(long, default_value_t = 7)]
        days: i64,
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        /// Rules directory (default: the shipped rules).
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Admin tools for rules.
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
}

#[derive(Subcommand)]
pub enum RulesAction {
    /// Compiles the scripts and validates the policy and fixtures.
    Check {
        #[arg(default_value = "rules")]
        dir: PathBuf,
    },
    /// Runs the fixture cases; exits non-zero on any failure.
    Test {
        #[arg(default_value = "rules")]
        dir: PathBuf,
    },
}

fn load_rules(dir: Option<&Path>) -> Result<RuleSet> {
    let rules = match dir {
        Some(d) => RuleSet::load_dir(d).with_context(|| format!("loading rules from {}", d.display()))?,
        None => RuleSet::embedded(),
    };
    tracing::info!(ruleset_version = rules.version(), origin = %rules.origin, loaded_at = %rules.loaded_at, "rules loaded");
    Ok(rules)
}

/// Runs a parsed command; the exit code is the caller's business.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Replay { input, out, until, rules } => {
            let rules = load_rules(rules.as_deref())?;
            let started = Instant::now();
            let summary = replay_file(&input, &out, &rules, until.map(|t| t.to_utc()))?;
            print!("{summary}");
            println!("\nreplayed {} lines in {:.2?}; outputs in {}", summary.lines, started.elapsed(), out.display());
        }
        Command::Demo { complaints, seed, days, out, rules } => {
            let rules = load_rules(rules.as_deref())?;
            let cfg = DemoConfig { complaints, seed, days, ..DemoConfig::default() };
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let input = out.join("input.jsonl");
            let lines = demo::generate(&cfg, &rules);
            let mut w = std::io::BufWriter::new(std::fs::File::create(&input)?);
            for l in &lines {
                writeln!(w, "{l}")?;
            }
            w.flush()?;
            println!("generated {} events for {complaints} complaints (seed {seed}) into {}\n", lines.len(), input.display());
            let until: Timestamp = cfg.end().to_utc();
            let summary = replay_file(&input, &out, &rules, Some(until))?;
            print!("{summary}");
            println!("\noutputs in {}/ (decisions, sla_events, complaints, dead_letters .jsonl)", out.display());
        }
        Command::Rules { action: RulesAction::Check { dir } } => {
            let rules = RuleSet::load_dir(&dir)?;
            println!(
                "ok: {} compiles; ruleset_version {}; {} fixture cases",
                dir.display(),
                rules.version(),
                rules.fixtures().len()
            );
        }
        Command::Rules { action: RulesAction::Test { dir } } => {
            let rules = RuleSet::load_dir(&dir)?;
            let failures = fixtures::run(&rules);
            let total = rules.fixtures().len();
            for f in &failures {
                print!("{f}");
            }
            println!("{} of {total} cases pass (ruleset_version {})", total - failures.len(), rules.version());
            if !failures.is_empty() {
                bail!("{} fixture case(s) fail", failures.len());
            }
        }
    }
    Ok(())
}
