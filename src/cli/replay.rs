//! `replay`: a JSONL file of events on the event-time clock, into files and,
//! with `--clickhouse-url`, the warehouse.

use super::{ClickHouseSource, load_rules};
use crate::core::Rules;
use crate::driver::replay::{Bounds, replay_file};
use crate::rules::RuleSet;
use crate::sink::clickhouse::ClickHouseSink;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Replay {
    /// JSONL file of input events, one per line.
    #[arg(long)]
    input: PathBuf,
    /// Directory for decisions, sla_events, complaints and dead_letters (.jsonl).
    #[arg(long)]
    out: PathBuf,
    /// Clock at the end (default: the last event's time).
    #[arg(long)]
    until: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The wall clock for refusing events from the future (default: the
    /// real clock at the start; fix it for reproducible runs).
    #[arg(long)]
    now: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Rules directory (default: ./rules when it exists, else the
    /// built-in ruleset).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Also write every outcome to ClickHouse (`--clickhouse-url`:
    /// backfill, or a what-if in another database); missing migrations
    /// are applied first.
    #[command(flatten)]
    clickhouse: ClickHouseSource,
}

impl Replay {
    pub(super) fn run(self, runtime: &tokio::runtime::Runtime) -> Result<()> {
        let rules = load_rules(self.rules.as_deref())?;
        let started = Instant::now();
        let mut warehouse = match self.clickhouse.config() {
            Some(cfg) => Some(open_warehouse(cfg, &self.input, &rules, runtime)?),
            None => None,
        };
        let extra = warehouse
            .as_mut()
            .map(|w| w as &mut dyn crate::sink::OutputSink);
        let bounds = Bounds {
            until: self.until.map(|t| t.to_utc()),
            now: self.now.map(|t| t.to_utc()),
        };
        let summary = replay_file(&self.input, &self.out, &rules, bounds, extra)?;
        if let Some(w) = &warehouse {
            println!("{} rows stored in ClickHouse", w.rows);
        }
        print!("{summary}");
        println!(
            "\nreplayed {} lines in {:.2?}; outputs in {}",
            summary.lines,
            started.elapsed(),
            self.out.display()
        );
        Ok(())
    }
}

/// The ClickHouse sink of a replay; its tokens name the input and the rules,
/// so replaying the same file with the same rules stores nothing twice.
fn open_warehouse(
    cfg: crate::config::ClickHouseConfig,
    input: &Path,
    rules: &RuleSet,
    runtime: &tokio::runtime::Runtime,
) -> Result<ClickHouseSink> {
    use sha2::{Digest, Sha256};
    let meta = std::fs::metadata(input).with_context(|| format!("reading {}", input.display()))?;
    let mut h = Sha256::new();
    h.update(format!(
        "{}|{}|{}",
        input.display(),
        meta.len(),
        rules.version()
    ));
    let run: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if !crate::sink::clickhouse::valid_database(&cfg.database) {
        bail!(
            "--clickhouse-database {:?} must be a plain identifier",
            cfg.database
        );
    }
    Ok(ClickHouseSink::open(
        &cfg,
        format!("replay-{run}"),
        runtime.handle().clone(),
    )?)
}
