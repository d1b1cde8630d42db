//! `demo`: a realistic synthetic stream, replayed, with the meeting's report.

use super::load_rules;
use super::report::{BEIJING, write_report};
use crate::driver::demo::{self, DemoConfig};
use crate::driver::replay::{Bounds, replay_file};
use crate::model::Timestamp;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Demo {
    /// Number of complaints.
    #[arg(long, default_value_t = 5_000)]
    complaints: usize,
    /// Seed of the generator: the same seed gives the same stream.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Days of arrivals. The report covers the last seven (or all, when
    /// fewer), against the seven before.
    #[arg(long, default_value_t = 28)]
    days: i64,
    /// Directory for the generated input and the outputs.
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// Rules directory (default: ./rules when it exists, else the
    /// built-in ruleset).
    #[arg(long)]
    rules: Option<PathBuf>,
}

impl Demo {
    pub(super) fn run(self) -> Result<()> {
        let rules = load_rules(self.rules.as_deref())?;
        let cfg = DemoConfig {
            complaints: self.complaints,
            seed: self.seed,
            days: self.days,
            ..DemoConfig::default()
        };
        let out = &self.out;
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let input = out.join("input.jsonl");
        let lines = demo::generate(&cfg, &rules);
        let mut w = std::io::BufWriter::new(std::fs::File::create(&input)?);
        for l in &lines {
            writeln!(w, "{l}")?;
        }
        w.flush()?;
        println!(
            "generated {} events for {} complaints (seed {}) into {}\n",
            lines.len(),
            self.complaints,
            self.seed,
            input.display()
        );
        let until: Timestamp = cfg.end().to_utc();
        // A synthetic stream reaching past today is not "from the future":
        // its own end is the wall clock then (the demo's one deliberately
        // future event lies far beyond it).
        let bounds = Bounds {
            until: Some(until),
            now: Some(until.max(chrono::Utc::now())),
        };
        let summary = replay_file(&input, out, &rules, bounds, None)?;
        print!("{summary}");
        // The report of the last week, as the weekly meeting would read it.
        let last = (cfg.end() - chrono::TimeDelta::days(1)).date_naive();
        let first = last - chrono::TimeDelta::days(cfg.days.clamp(1, 7) - 1);
        let page = write_report(
            out,
            &out.join("report.html"),
            Some(first),
            Some(last),
            BEIJING,
            &rules,
        )?;
        println!(
            "\nthe summary above covers every day replayed\noutputs in {}/ (decisions, sla_events, complaints, dead_letters .jsonl)\nreport for the analysis meeting of {first} – {last}, against the {} days before: {}",
            out.display(),
            (last - first).num_days() + 1,
            page.display()
        );
        Ok(())
    }
}
