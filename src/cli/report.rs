//! The meeting report's page, from a replay's directory or ClickHouse rows.

use crate::rules::RuleSet;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

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
    render_report(&rows, out, from, to, rules)
}

/// Computes the report of `rows` and writes the page to `out`. Open
/// complaints are aged at the latest time the rows know.
pub(super) fn render_report(
    rows: &crate::report::Rows,
    out: &Path,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    rules: &RuleSet,
) -> Result<PathBuf> {
    let now = rows
        .complaints
        .iter()
        .map(|c| c.updated_at)
        .max()
        .unwrap_or_else(chrono::Utc::now);
    let figures = crate::report::compute(rows, from, to, now);
    let page = crate::report::html::render(&figures, rules.departments());
    std::fs::write(out, page).with_context(|| format!("writing {}", out.display()))?;
    Ok(out.to_path_buf())
}
