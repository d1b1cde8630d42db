//! Where outputs go. The file sink writes the four JSONL outputs of replay.

pub mod clickhouse;
pub mod file;
pub mod kafka;

use crate::model::{ComplaintRow, DeadLetter, Decision, SlaEvent};

/// Output failures. IO errors are retriable by re-running the replay (it is
/// deterministic); they are fatal for the current run.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// A destination for every kind of output.
pub trait OutputSink {
    fn decision(&mut self, d: &Decision) -> Result<(), SinkError>;
    fn sla_event(&mut self, e: &SlaEvent) -> Result<(), SinkError>;
    fn dead_letter(&mut self, d: &DeadLetter) -> Result<(), SinkError>;
    fn complaint(&mut self, row: &ComplaintRow) -> Result<(), SinkError>;
    /// Makes everything written so far durable.
    fn flush(&mut self) -> Result<(), SinkError>;
}
