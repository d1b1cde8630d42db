//! `report`: the meeting report's page, from a replay's directory or
//! ClickHouse rows.

use super::{ClickHouseSource, load_rules};
use crate::rules::RuleSet;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Report {
    /// A replay's output directory (complaints, sla_events, dead_letters .jsonl).
    #[arg(
        long,
        required_unless_present = "clickhouse_url",
        conflicts_with = "clickhouse_url"
    )]
    dir: Option<PathBuf>,
    #[command(flatten)]
    clickhouse: ClickHouseSource,
    /// First local day of the period (YYYY-MM-DD; default: all).
    #[arg(long)]
    from: Option<chrono::NaiveDate>,
    /// Last local day of the period (YYYY-MM-DD; default: all).
    #[arg(long)]
    to: Option<chrono::NaiveDate>,
    /// Where to write the page (default: DIR/report.html, or
    /// ./report.html from ClickHouse).
    #[arg(long)]
    out: Option<PathBuf>,
    /// UTC offset of local days (Beijing time has no daylight saving).
    #[arg(long, default_value = "+08:00", allow_hyphen_values = true)]
    utc_offset: chrono::FixedOffset,
    /// Rules directory, for the departments' names (default: ./rules
    /// when it exists, else the built-in ruleset).
    #[arg(long)]
    rules: Option<PathBuf>,
}

impl Report {
    pub(super) fn run(self, runtime: &tokio::runtime::Runtime) -> Result<()> {
        let rules = load_rules(self.rules.as_deref())?;
        let (from, to, zone) = (self.from, self.to, self.utc_offset);
        let rows = match (&self.dir, self.clickhouse.config()) {
            (Some(d), _) => crate::report::read_dir(d, zone)?,
            (None, Some(cfg)) => {
                runtime.block_on(crate::report::read_clickhouse(&cfg, from, to, zone))?
            }
            (None, None) => bail!("give --dir or --clickhouse-url"),
        };
        let dir = self.dir.as_deref().unwrap_or(Path::new("."));
        let out = self.out.unwrap_or_else(|| dir.join("report.html"));
        let source = match (&self.dir, self.clickhouse.config()) {
            (Some(d), _) => format!("{}/", d.display()),
            (None, Some(cfg)) => format!("ClickHouse {}", cfg.database),
            (None, None) => String::new(),
        };
        let page = render_report(&rows, &out, (from, to), &rules, &source)?;
        println!("report: {}", page.display());
        Ok(())
    }
}

/// Beijing time, the regulation's local days.
pub(super) const BEIJING: chrono::FixedOffset = match chrono::FixedOffset::east_opt(8 * 3600) {
    Some(z) => z,
    None => panic!("+08:00 is a valid offset"),
};

/// Computes the report of `dir` and writes the page to `out`.
pub(super) fn write_report(
    dir: &Path,
    out: &Path,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    zone: chrono::FixedOffset,
    rules: &RuleSet,
) -> Result<PathBuf> {
    let rows = crate::report::read_dir(dir, zone)?;
    let source = format!("{}/", dir.display());
    render_report(&rows, out, (from, to), rules, &source)
}

/// Computes the report of `rows` for the local days `from..=to` and writes
/// the page to `out`. Open complaints are aged at the latest time the rows
/// know; `source` names where they came from.
pub(super) fn render_report(
    rows: &crate::report::Rows,
    out: &Path,
    (from, to): (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>),
    rules: &RuleSet,
    source: &str,
) -> Result<PathBuf> {
    use crate::core::decision::Rules;
    let now = rows
        .complaints
        .iter()
        .map(|c| c.updated_at)
        .max()
        .unwrap_or_else(chrono::Utc::now);
    let meeting = crate::report::meeting(rows, from, to, now);
    let names = crate::report::html::Names {
        departments: rules.departments(),
        zone: rows.zone,
    };
    let header = crate::report::html::Header {
        source,
        generated: chrono::Utc::now(),
    };
    let targets = &rules.policy().compliance_targets;
    let page = crate::report::html::render(&meeting, &names, targets, &header);
    std::fs::write(out, page).with_context(|| format!("writing {}", out.display()))?;
    Ok(out.to_path_buf())
}
