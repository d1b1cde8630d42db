//! `produce`: a JSONL file of events onto the input topic.

use super::{load_rules, open_input};
use crate::config::{Config, Overrides};
use crate::core::Rules as _;
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Produce {
    /// File to publish; `-` or none: standard input.
    file: Option<PathBuf>,
    /// TOML configuration file (the `[kafka]` section is used).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Kafka bootstrap servers (HOST:PORT,...).
    #[arg(long)]
    brokers: Option<String>,
    /// Exit 0 even when some lines were bad (they are still not sent).
    #[arg(long)]
    allow_bad: bool,
    /// Rules directory, for the bounds in its `sla.toml` (default: with
    /// --config, the `rules.dir` that `run` uses; else ./rules when it
    /// exists, else the built-in ruleset).
    #[arg(long)]
    rules: Option<PathBuf>,
}

impl Produce {
    pub(super) fn run(self, runtime: &tokio::runtime::Runtime) -> Result<()> {
        let flags = Overrides {
            brokers: self.brokers,
            ..Overrides::default()
        };
        let cfg = Config::load(self.config.as_deref(), |k| std::env::var(k).ok(), &flags)?;
        // With --config, the bounds come from the rules `run` uses.
        let dir = self
            .rules
            .or_else(|| self.config.is_some().then(|| cfg.rules.dir.clone()));
        let rules = load_rules(dir.as_deref())?;
        let (reader, size) = open_input(self.file.as_deref())?;
        let bar = if size > 4 << 20 {
            indicatif::ProgressBar::new(size)
        } else {
            indicatif::ProgressBar::hidden()
        };
        let report = runtime.block_on(crate::driver::produce::produce(
            reader,
            &cfg.kafka,
            rules.policy(),
            |n| bar.inc(n),
        ))?;
        bar.finish_and_clear();
        for (line, reason) in &report.bad {
            println!("line {line}: {reason}");
        }
        println!(
            "{} lines: {} sent to {}, {} bad (not sent)",
            report.lines,
            report.sent,
            cfg.kafka.input_topic,
            report.bad.len()
        );
        if !report.bad.is_empty() && !self.allow_bad {
            bail!("{} bad line(s)", report.bad.len());
        }
        Ok(())
    }
}
