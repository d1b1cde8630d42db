//! The ClickHouse sink of `replay --clickhouse-url`: the same batches and
//! inserts as the live loader, driven synchronously from the replay.

use super::{Batch, ClickHouseError, Limits, Warehouse};
use crate::config::ClickHouseConfig;
use crate::core::Output;
use crate::sink::{OutputSink, SinkError};

/// Batches replay outputs into ClickHouse. Tokens are `{run}/{n}`: the same
/// input replayed with the same rules gives the same batches and tokens, so
/// replaying twice stores every row once.
pub struct ClickHouseSink {
    /// The process's runtime (multi-threaded: its workers drive the IO
    /// while the replay's thread blocks on an insert).
    runtime: tokio::runtime::Handle,
    warehouse: Warehouse,
    limits: Limits,
    batch: Batch,
    run: String,
    sent: u64,
    /// Rows stored so far.
    pub rows: u64,
}

impl ClickHouseSink {
    /// Makes the warehouse ready ([`super::prepare`]: migrates one server,
    /// checks a cluster's schema), then opens the sink. `run` identifies the input and the rules (it prefixes tokens).
    /// Called from outside the runtime (a synchronous replay).
    pub fn open(
        cfg: &ClickHouseConfig,
        run: String,
        runtime: tokio::runtime::Handle,
    ) -> Result<ClickHouseSink, ClickHouseError> {
        runtime.block_on(super::prepare(cfg))?;
        Ok(ClickHouseSink {
            runtime,
            warehouse: Warehouse::new(cfg)?,
            limits: Limits {
                period: std::time::Duration::MAX,
                ..Limits::from(cfg)
            },
            batch: Batch::default(),
            run,
            sent: 0,
            rows: 0,
        })
    }

    fn send(&mut self) -> Result<(), SinkError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let token = format!("{}/{}", self.run, self.sent);
        self.runtime
            .block_on(self.warehouse.insert(&self.batch, &token))?;
        self.sent += 1;
        self.rows += self.batch.rows() as u64;
        self.batch.clear();
        Ok(())
    }

    fn added(&mut self, bytes: usize) -> Result<(), SinkError> {
        self.batch.note(bytes);
        if self.batch.full(&self.limits) {
            self.send()?;
        }
        Ok(())
    }
}

/// A batch gathers a replay's rows without sending them (benchmarks).
impl OutputSink for Batch {
    fn put(&mut self, o: &Output) -> Result<(), SinkError> {
        self.add(o);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Rows are gathered by the batch and sent when it is full.
impl OutputSink for ClickHouseSink {
    fn put(&mut self, o: &Output) -> Result<(), SinkError> {
        let bytes = self.batch.add(o);
        self.added(bytes)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        self.send()
    }
}
