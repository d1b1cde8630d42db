//! Where outputs go: one interface, [`OutputSink`], for JSONL files,
//! ClickHouse and Kafka records; [`observed::Observed`] counts and logs
//! what passes through any of them.

pub mod clickhouse;
pub mod file;
pub mod kafka;
pub mod observed;

use crate::core::Output;

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
    /// An output that does not serialize (a bug: fatal).
    #[error("cannot encode an output: {0}")]
    Encode(String),
}

/// A destination of outputs. Each takes the kinds it keeps and passes
/// over the rest.
pub trait OutputSink {
    fn put(&mut self, o: &Output) -> Result<(), SinkError>;
    /// Makes everything put so far durable (or, for records handed on,
    /// complete).
    fn flush(&mut self) -> Result<(), SinkError>;
}

impl<S: OutputSink + ?Sized> OutputSink for &mut S {
    fn put(&mut self, o: &Output) -> Result<(), SinkError> {
        (**self).put(o)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        (**self).flush()
    }
}

/// Writes every output to two sinks.
pub struct Tee<'a>(pub &'a mut dyn OutputSink, pub &'a mut dyn OutputSink);

impl OutputSink for Tee<'_> {
    fn put(&mut self, o: &Output) -> Result<(), SinkError> {
        self.0.put(o)?;
        self.1.put(o)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        self.0.flush()?;
        self.1.flush()
    }
}
