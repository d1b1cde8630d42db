//! The batched writer: rows gathered into a [`Batch`], then one insert per
//! table, each carrying an `insert_deduplication_token` derived from what the
//! batch covers, so a retried batch is stored once.

use super::ClickHouseError;
use super::rows::{ComplaintRecord, DeadLetterRecord, DecisionRecord, EventRecord, SlaRecord};
use crate::config::ClickHouseConfig;
use crate::core::Output;
use clickhouse::{Client, Row, RowWrite};
use std::time::{Duration, Instant};

/// When a batch is sent: whichever limit is reached first.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_rows: usize,
    pub max_bytes: usize,
    pub period: Duration,
}

impl From<&ClickHouseConfig> for Limits {
    fn from(c: &ClickHouseConfig) -> Self {
        Limits {
            max_rows: c.max_rows,
            max_bytes: c.max_bytes,
            period: Duration::from_millis(c.period_ms),
        }
    }
}

/// Rows waiting for their inserts.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<EventRecord>,
    pub decisions: Vec<DecisionRecord>,
    pub sla_events: Vec<SlaRecord>,
    pub dead_letters: Vec<DeadLetterRecord>,
    pub complaints: Vec<ComplaintRecord>,
    /// Bytes of the source records, a stand-in for the rows' size.
    pub bytes: usize,
    started: Option<Instant>,
}

impl Batch {
    pub fn rows(&self) -> usize {
        self.events.len()
            + self.decisions.len()
            + self.sla_events.len()
            + self.dead_letters.len()
            + self.complaints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows() == 0
    }

    /// Counts `bytes` of source towards the limits and starts the period.
    pub fn note(&mut self, bytes: usize) {
        self.bytes += bytes;
        self.started.get_or_insert_with(Instant::now);
    }

    /// Whether a limit is reached.
    pub fn full(&self, l: &Limits) -> bool {
        self.rows() >= l.max_rows
            || self.bytes >= l.max_bytes
            || self.started.is_some_and(|s| s.elapsed() >= l.period)
    }

    /// Time until the period ends (the whole period while empty).
    pub fn time_left(&self, l: &Limits) -> Duration {
        self.started
            .map_or(l.period, |s| l.period.saturating_sub(s.elapsed()))
    }

    pub fn clear(&mut self) {
        *self = Batch::default();
    }

    /// Adds the row(s) of an output; returns an estimate of its size in
    /// bytes (its JSON) for the limits. A changed complaint's id is not a
    /// row: its [`Output::Complaint`] is.
    pub fn add(&mut self, o: &Output) -> usize {
        match o {
            Output::Event(a) => {
                if super::rows::storable(&a.event) {
                    let row = EventRecord::new(&a.event, &a.payload, a.source.clone());
                    self.events.push(row);
                }
                a.payload.len()
            }
            Output::Decision(d) => {
                self.decisions.push(d.into());
                256
            }
            Output::Sla(e) => {
                self.sla_events.push(e.into());
                192
            }
            // A dead letter, and the mark that refuses its event if it was one.
            Output::DeadLetter(r) => {
                self.dead_letters.push((&r.letter).into());
                self.events.extend(EventRecord::refused(&r.letter));
                r.letter.payload.len()
            }
            Output::Complaint(row) => {
                self.complaints.push(row.into());
                512
            }
            Output::Changed(_) => 0,
        }
    }
}

/// A row ClickHouse refused for its content: kept in `rejected_rows` with
/// the server's reason instead of wedging the batch.
#[derive(Debug, Clone, Row, serde::Serialize)]
pub struct RejectedRow {
    pub table: String,
    /// The row as JSON.
    pub row: String,
    pub reason: String,
}

/// Whether ClickHouse refused the rows themselves (a value out of range, a
/// constraint, too many partitions in one block) rather than failing:
/// sending them again cannot help.
pub fn refuses_content(e: &clickhouse::error::Error) -> bool {
    let clickhouse::error::Error::BadResponse(text) = e else {
        return false;
    };
    match super::error_code(e) {
        // Parsing and conversion of values, out-of-range values, NULL in a
        // plain column, constraints.
        Some(6 | 27 | 38 | 41 | 53 | 69 | 70 | 117 | 131 | 321 | 349 | 395 | 469) => true,
        // TOO_MANY_PARTS: content only when a block spans too many partitions.
        Some(252) => text.contains("partitions for single INSERT block"),
        _ => false,
    }
}

/// The writer: one `INSERT` per table and batch, each deduplicated by a token.
pub struct Warehouse {
    client: Client,
}

/// Inserts `rows` into `table`, each `INSERT` deduplicated by its token. A
/// block ClickHouse refuses for its content is halved until the refused
/// rows stand alone; those go to `rejected`, the rest is stored. Any other
/// error is returned (the caller reads the batch again).
async fn insert<T>(
    client: &Client,
    table: &str,
    rows: &[T],
    token: &str,
    rejected: &mut Vec<RejectedRow>,
) -> Result<(), ClickHouseError>
where
    T: Row + RowWrite + serde::Serialize + for<'a> Row<Value<'a> = T>,
{
    // Ranges still to insert, the next on top.
    let mut todo = vec![(0, rows.len())];
    while let Some((lo, hi)) = todo.pop() {
        if lo == hi {
            continue;
        }
        // The whole batch keeps the plain token, so a retry of an unsplit
        // batch is deduplicated as before; parts name their range.
        let tok = if (lo, hi) == (0, rows.len()) {
            format!("{token}/{table}")
        } else {
            format!("{token}/{table}/{lo}-{hi}")
        };
        let mut inserter = client
            .inserter::<T>(table)
            .with_setting("insert_deduplication_token", tok);
        let written = async {
            for row in &rows[lo..hi] {
                inserter.write(row).await?;
            }
            inserter.force_commit().await?;
            inserter.end().await
        }
        .await;
        match written {
            Ok(_) => {}
            Err(e) if refuses_content(&e) && hi - lo > 1 => {
                let mid = lo + (hi - lo) / 2;
                todo.push((mid, hi));
                todo.push((lo, mid));
            }
            Err(e) if refuses_content(&e) => {
                let row = serde_json::to_string(&rows[lo]).unwrap_or_default();
                tracing::warn!(table, reason = %e, "clickhouse refused a row; kept in rejected_rows");
                metrics::counter!("complaintflow_clickhouse_rejected_rows_total", "table" => table.to_string())
                    .increment(1);
                rejected.push(RejectedRow {
                    table: table.to_string(),
                    row,
                    reason: e.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

impl Warehouse {
    pub fn new(cfg: &ClickHouseConfig) -> Result<Warehouse, ClickHouseError> {
        // A batch may hold rows of many months (a backlog); inputs are
        // bounded in time, so the partitions one block touches are too.
        let mut client = super::client(cfg)?
            .with_database(&cfg.database)
            .with_setting("max_partitions_per_insert_block", "0");
        if !cfg.cluster.is_empty() {
            // "Stored" means on its shard: the insert into a Distributed
            // table returns once every shard has its rows (each shard's
            // part deduplicated by the same token when a batch is sent
            // again), not when they are queued on the receiving node.
            client = client.with_setting("distributed_foreground_insert", "1");
        }
        Ok(Warehouse { client })
    }

    /// Inserts every table's rows of `batch`; `token` names exactly what the
    /// batch covers (the same source range must always give the same token).
    /// Complaint rows go first so the retention dictionary can know them.
    /// Returns the rows ClickHouse refused (stored in `rejected_rows`).
    pub async fn insert(&mut self, batch: &Batch, token: &str) -> Result<usize, ClickHouseError> {
        let c = &self.client;
        let mut rejected = Vec::new();
        insert(c, "complaints", &batch.complaints, token, &mut rejected).await?;
        insert(c, "events", &batch.events, token, &mut rejected).await?;
        insert(c, "decisions", &batch.decisions, token, &mut rejected).await?;
        insert(c, "sla_events", &batch.sla_events, token, &mut rejected).await?;
        insert(c, "dead_letters", &batch.dead_letters, token, &mut rejected).await?;
        let n = rejected.len();
        let mut none = Vec::new();
        insert(c, "rejected_rows", &rejected, token, &mut none).await?;
        if let Some(r) = none.first() {
            tracing::error!(reason = %r.reason, "clickhouse refused a rejected-row record; the row is in the log only");
        }
        Ok(n)
    }
}
