//! Where outputs go. The file sink writes the four JSONL outputs of replay.

pub mod clickhouse;
pub mod file;
pub mod kafka;

use crate::model::{ComplaintRow, DeadLetter, Decision, Event, SlaEvent};

/// Output failures. IO errors are retriable by re-running the replay (it is
/// deterministic); they are fatal for the current run.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    ClickHouse(#[from] clickhouse::ClickHouseError),
}

/// A destination for every kind of output.
pub trait OutputSink {
    /// An accepted input event (its text and where it came from); only the
    /// ClickHouse sink keeps these.
    fn event(
        &mut self,
        _ev: &Event,
        _payload: &str,
        _source: &dyn Fn() -> String,
    ) -> Result<(), SinkError> {
        Ok(())
    }
    fn decision(&mut self, d: &Decision) -> Result<(), SinkError>;
    fn sla_event(&mut self, e: &SlaEvent) -> Result<(), SinkError>;
    fn dead_letter(&mut self, d: &DeadLetter) -> Result<(), SinkError>;
    fn complaint(&mut self, row: &ComplaintRow) -> Result<(), SinkError>;
    /// Makes everything written so far durable.
    fn flush(&mut self) -> Result<(), SinkError>;
}

/// Writes every output to two sinks.
pub struct Tee<'a>(pub &'a mut dyn OutputSink, pub &'a mut dyn OutputSink);

impl OutputSink for Tee<'_> {
    fn event(
        &mut self,
        ev: &Event,
        payload: &str,
        source: &dyn Fn() -> String,
    ) -> Result<(), SinkError> {
        self.0.event(ev, payload, source)?;
        self.1.event(ev, payload, source)
    }
    fn decision(&mut self, d: &Decision) -> Result<(), SinkError> {
        self.0.decision(d)?;
        self.1.decision(d)
    }
    fn sla_event(&mut self, e: &SlaEvent) -> Result<(), SinkError> {
        self.0.sla_event(e)?;
        self.1.sla_event(e)
    }
    fn dead_letter(&mut self, d: &DeadLetter) -> Result<(), SinkError> {
        self.0.dead_letter(d)?;
        self.1.dead_letter(d)
    }
    fn complaint(&mut self, row: &ComplaintRow) -> Result<(), SinkError> {
        self.0.complaint(row)?;
        self.1.complaint(row)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        self.0.flush()?;
        self.1.flush()
    }
}
