//! The batched writer: rows gathered into a [`Batch`], then one insert per
//! table, each carrying an `insert_deduplication_token` derived from what the
//! batch covers, so a retried batch is stored once.

use super::ClickHouseError;
use super::rows::{ComplaintRecord, DeadLetterRecord, DecisionRecord, EventRecord, SlaRecord};
use crate::config::ClickHouseConfig;
use crate::model::{ComplaintRow, DeadLetter, Decision, Event, SlaEvent};
use clickhouse::inserter::Inserter;
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

    /// An accepted event, read from `payload` at `source`.
    pub fn add_event(&mut self, ev: &Event, payload: &str, source: String) {
        self.events.push(EventRecord::new(ev, payload, source));
    }

    pub fn add_decision(&mut self, d: &Decision) {
        self.decisions.push(d.into());
    }

    pub fn add_sla_event(&mut self, e: &SlaEvent) {
        self.sla_events.push(e.into());
    }

    /// A dead letter, and the mark that refuses its event if it was one.
    pub fn add_dead_letter(&mut self, d: &DeadLetter) {
        self.dead_letters.push(d.into());
        self.events.extend(EventRecord::refused(d));
    }

    pub fn add_complaint(&mut self, row: &ComplaintRow) {
        self.complaints.push(row.into());
    }
}

/// One long-lived inserter per table. After a failed insert the caller
/// calls [`Warehouse::reset`] and replays from its source.
pub struct Warehouse {
    client: Client,
    events: Option<Inserter<EventRecord>>,
    decisions: Option<Inserter<DecisionRecord>>,
    sla_events: Option<Inserter<SlaRecord>>,
    dead_letters: Option<Inserter<DeadLetterRecord>>,
    complaints: Option<Inserter<ComplaintRecord>>,
}

/// Inserts `rows` into `table` in one `INSERT` deduplicated by `token`.
async fn insert<T>(
    slot: &mut Option<Inserter<T>>,
    client: &Client,
    table: String,
    rows: &[T],
    token: String,
) -> Result<(), ClickHouseError>
where
    T: Row + RowWrite + for<'a> Row<Value<'a> = T>,
{
    if rows.is_empty() {
        return Ok(());
    }
    // The inserter is taken out: if anything fails it is dropped, which
    // aborts its open INSERT, and the next batch starts a fresh one.
    let inserter = slot
        .take()
        .unwrap_or_else(|| client.inserter::<T>(&table))
        .with_setting("insert_deduplication_token", token);
    let mut inserter = inserter;
    for row in rows {
        inserter.write(row).await?;
    }
    inserter.force_commit().await?;
    *slot = Some(inserter);
    Ok(())
}

impl Warehouse {
    pub fn new(cfg: &ClickHouseConfig) -> Warehouse {
        Warehouse {
            client: super::client(cfg).with_database(&cfg.database),
            events: None,
            decisions: None,
            sla_events: None,
            dead_letters: None,
            complaints: None,
        }
    }

    /// Inserts every table's rows of `batch`; `token` names exactly what the
    /// batch covers (the same source range must always give the same token).
    /// Complaint rows go first so the retention dictionary can know them.
    pub async fn insert(&mut self, batch: &Batch, token: &str) -> Result<(), ClickHouseError> {
        let t = |table: &str| (table.to_string(), format!("{token}/{table}"));
        let c = &self.client;
        let (table, tok) = t("complaints");
        insert(&mut self.complaints, c, table, &batch.complaints, tok).await?;
        let (table, tok) = t("events");
        insert(&mut self.events, c, table, &batch.events, tok).await?;
        let (table, tok) = t("decisions");
        insert(&mut self.decisions, c, table, &batch.decisions, tok).await?;
        let (table, tok) = t("sla_events");
        insert(&mut self.sla_events, c, table, &batch.sla_events, tok).await?;
        let (table, tok) = t("dead_letters");
        insert(&mut self.dead_letters, c, table, &batch.dead_letters, tok).await?;
        Ok(())
    }

    /// Drops every inserter (and any INSERT they left open).
    pub fn reset(&mut self) {
        self.events = None;
        self.decisions = None;
        self.sla_events = None;
        self.dead_letters = None;
        self.complaints = None;
    }
}
