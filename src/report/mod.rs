//! `complaintflow report`: a self-contained HTML page for the complaint
//! analysis meeting (投诉分析会), from a replay's output directory or from
//! ClickHouse: the same rows, one computation.

pub mod corrections;
pub mod figures;
pub mod html;
pub mod meeting;
pub mod runs;

pub use figures::{Cause, Figures, Rows, SlaTally, compute, tally_sla};
pub use meeting::{Meeting, Period, meeting};

use crate::model::{ComplaintRow, DeadLetter, SlaEvent};
use std::path::Path;

/// Report failures: an output file missing or unreadable.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("clickhouse: {0}")]
    ClickHouse(String),
    #[error(transparent)]
    Client(#[from] crate::sink::clickhouse::ClickHouseError),
    #[error("{path}:{line}: {message}")]
    Row {
        path: String,
        line: usize,
        message: String,
    },
}

/// Parses JSON lines (blank ones skipped); `source` names them in errors.
fn parse_lines<T: serde::de::DeserializeOwned>(
    text: &str,
    source: &str,
) -> Result<Vec<T>, ReportError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| ReportError::Row {
                path: source.to_string(),
                line: n + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

fn jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, ReportError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: name.clone(),
        source,
    })?;
    parse_lines(&text, &name)
}

/// The rows of `sql`, fetched as JSONEachRow.
pub(crate) async fn fetch_rows<T: serde::de::DeserializeOwned>(
    client: &clickhouse::Client,
    sql: &str,
) -> Result<Vec<T>, ReportError> {
    fetch_query(client.query(sql), sql).await
}

/// The rows of a query (with its bound parameters), fetched as
/// JSONEachRow; `what` names it in errors.
pub(crate) async fn fetch_query<T: serde::de::DeserializeOwned>(
    query: clickhouse::query::Query,
    what: &str,
) -> Result<Vec<T>, ReportError> {
    let bytes = query
        .fetch_bytes("JSONEachRow")
        .map_err(|e| ReportError::ClickHouse(e.to_string()))?
        .collect()
        .await
        .map_err(|e| ReportError::ClickHouse(e.to_string()))?;
    parse_lines(&String::from_utf8_lossy(&bytes), what)
}

/// Reads the rows a replay wrote into `dir`, SLA events counted by local
/// day in `zone`; causes come from the replay's input when it is there as
/// `input.jsonl` (the demo puts it there), less the events that were
/// dead-lettered. Dead letters are masked as the analysts' view masks them.
pub fn read_dir(dir: &Path, zone: chrono::FixedOffset) -> Result<Rows, ReportError> {
    let dead_letters = jsonl::<DeadLetter>(&dir.join("dead_letters.jsonl"))?;
    let refused: std::collections::HashSet<&str> =
        dead_letters.iter().map(|d| d.payload.as_str()).collect();
    let input = dir.join("input.jsonl");
    let causes = match std::fs::read_to_string(&input) {
        Err(_) => Vec::new(),
        Ok(text) => text
            .lines()
            .filter(|l| !refused.contains(l))
            .filter_map(|l| crate::model::Event::from_json(l).ok())
            .filter_map(|ev| match ev.body {
                crate::model::EventBody::Handled(h) => Some(Cause {
                    complaint_id: ev.complaint_id,
                    occurred_at: ev.occurred_at.to_utc(),
                    cause: h.cause,
                    category: None,
                }),
                _ => None,
            })
            .collect(),
    };
    let mut causes = causes;
    // A redelivered event is one cause.
    causes.dedup();
    let masked = |d: DeadLetter| DeadLetter {
        payload: crate::model::personal::mask_record(&d.payload),
        reason: crate::model::personal::mask_record(&d.reason),
        ..d
    };
    let sla_events = jsonl::<SlaEvent>(&dir.join("sla_events.jsonl"))?;
    Ok(Rows {
        zone,
        complaints: jsonl::<ComplaintRow>(&dir.join("complaints.jsonl"))?,
        sla: figures::tally_sla(&sla_events, zone),
        runs: runs::runs_of(&sla_events),
        dead_letters: dead_letters.into_iter().map(masked).collect(),
        causes,
    })
}

/// Reads the same rows from ClickHouse (`FINAL`: each row once) for the
/// local days the page of `from..=to` needs (all when `None`; back to the
/// trend's first day, [`meeting::reach`]), padded a day either side for
/// the zone; `compute` then keeps each period's. Runs are read to the
/// present: whether they ended is known only there. ClickHouse counts the SLA
/// events by local day in `zone` itself (a year is millions of them).
/// Events and dead letters come from their masked views, so the analyst
/// role can make the report.
pub async fn read_clickhouse(
    cfg: &crate::config::ClickHouseConfig,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    zone: chrono::FixedOffset,
) -> Result<Rows, ReportError> {
    let client = CLICKHOUSE_SETTINGS.iter().fold(
        crate::sink::clickhouse::client(cfg)?.with_database(&cfg.database),
        |c, (k, v)| c.with_setting(*k, *v),
    );
    let [complaints, sla, dead_letters, causes, runs] = clickhouse_reads(from, to, zone);
    Ok(Rows {
        zone,
        complaints: fetch_rows(&client, &complaints.1).await?,
        sla: fetch_rows(&client, &sla.1).await?,
        dead_letters: fetch_rows(&client, &dead_letters.1).await?,
        causes: fetch_rows(&client, &causes.1).await?,
        runs: fetch_rows(&client, &runs.1).await?,
    })
}

/// The settings of the report's reads: JSON times and numbers as the rows
/// parse them, and FINAL within each month (a row's copies share its month;
/// see schemas/clickhouse/views.sql).
pub const CLICKHOUSE_SETTINGS: [(&str, &str); 3] = [
    ("date_time_output_format", "iso"),
    ("output_format_json_quote_64bit_integers", "0"),
    ("do_not_merge_across_partitions_select_final", "1"),
];

/// The report's reads from ClickHouse for the page of the local days
/// `from..=to` in `zone`, named: complaints, SLA tallies, dead letters,
/// causes, runs (the benchmark times them too).
pub fn clickhouse_reads(
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    zone: chrono::FixedOffset,
) -> [(&'static str, String); 5] {
    // The breached runs the page lists: the period's deadlines.
    let breached_within = padded("deadline", from, to).unwrap_or_else(|| "1".into());
    let from = meeting::reach(from, to).or(from);
    let since = |column: &str| padded(column, from, None).unwrap_or_else(|| "1".into());
    let window = |column: &str, also: &[&str]| {
        let mut w: Vec<String> = also.iter().map(|c| c.to_string()).collect();
        w.extend(padded(column, from, to));
        if w.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", w.join(" AND "))
        }
    };
    [
        (
            "complaints",
            format!(
                "SELECT * FROM complaints FINAL{}",
                window("received_at", &[])
            ),
        ),
        (
            "sla_tallies",
            // As `figures::tally_sla` counts, for the kinds the figures use.
            // The retractions are a set: no FINAL needed there. The filter
            // may run before FINAL: an SLA event's copies are equal.
            format!(
                "SELECT toDate(at + toIntervalSecond({offset})) AS day, stage, lead_department, kind, \
                 toBool((complaint_id, cycle, stage) IN \
                 (SELECT complaint_id, cycle, stage FROM sla_events WHERE kind = 'retracted')) AS retracted, \
                 toBool(endsWith(event_id, ':breach')) AS breach_escalation, count() AS n \
                 FROM sla_events FINAL{} \
                 GROUP BY day, stage, lead_department, kind, retracted, breach_escalation \
                 SETTINGS optimize_move_to_prewhere_if_final = 1",
                window(
                    "at",
                    &["kind IN ('met', 'late', 'breached', 'escalated', 'retracted')"]
                ),
                offset = zone.local_minus_utc()
            ),
        ),
        (
            "dead_letters",
            format!("SELECT * FROM dead_letters_masked{}", window("at", &[])),
        ),
        (
            "causes",
            // With the complaint's category: it may have been received
            // before the period.
            {
                let handled = window(
                    "occurred_at",
                    &["type = 'complaint.handled'", "refused = 0"],
                );
                format!(
                    "SELECT e.complaint_id AS complaint_id, e.occurred_at AS occurred_at, e.cause AS cause, \
                     c.category AS category FROM events_masked AS e \
                     LEFT JOIN (SELECT complaint_id, toString(category) AS category FROM complaints FINAL \
                     WHERE complaint_id IN (SELECT complaint_id FROM events_masked{handled})) AS c \
                     ON c.complaint_id = e.complaint_id{handled} SETTINGS join_use_nulls = 1"
                )
            },
        ),
        ("runs", runs::clickhouse_sql(&since("at"), &breached_within)),
    ]
}

/// SQL that holds when `column` (UTC) falls on the days `from..=to`
/// padded a day either side, so that any zone's local days are inside
/// (`None` when both ends are open).
fn padded(
    column: &str,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> Option<String> {
    let from = from
        .and_then(|d| d.pred_opt())
        .map(|f| format!("{column} >= toDateTime64('{f} 00:00:00', 3, 'UTC')"));
    let to = to
        .and_then(|d| d.succ_opt())
        .and_then(|d| d.succ_opt())
        .map(|t| format!("{column} < toDateTime64('{t} 00:00:00', 3, 'UTC')"));
    let both: Vec<String> = from.into_iter().chain(to).collect();
    (!both.is_empty()).then(|| both.join(" AND "))
}

/// SQL that holds when `time` falls on the local days `from..=to` in
/// `zone` (`1` when both ends are open).
pub(crate) fn local_days(
    time: &str,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    zone: &str,
) -> String {
    let day = format!("toDate({time}, '{zone}')");
    let mut conditions = Vec::new();
    if let Some(f) = from {
        conditions.push(format!("{day} >= toDate('{f}')"));
    }
    if let Some(t) = to {
        conditions.push(format!("{day} <= toDate('{t}')"));
    }
    if conditions.is_empty() {
        "1".to_string()
    } else {
        conditions.join(" AND ")
    }
}

/// The stored input events of the local days `from..=to` (all when `None`)
/// as JSONL, in event-time order: a history for `rules diff`.
pub async fn read_history(
    cfg: &crate::config::ClickHouseConfig,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    zone: &str,
) -> Result<Vec<u8>, ReportError> {
    #[derive(serde::Deserialize)]
    struct Payload {
        payload: String,
    }
    let client = crate::sink::clickhouse::client(cfg)?.with_database(&cfg.database);
    let filter = local_days("occurred_at", from, to, zone);
    // Refused events too: the other rules may judge them as these did.
    let sql =
        format!("SELECT payload FROM events FINAL WHERE {filter} ORDER BY occurred_at, source");
    let rows: Vec<Payload> = fetch_rows(&client, &sql).await?;
    let mut out = Vec::new();
    for p in rows {
        out.extend_from_slice(p.payload.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}
