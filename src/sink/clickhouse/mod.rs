//! ClickHouse: the schema (numbered migrations), the rows of its tables and
//! the batched, deduplicated writer that replay and the live loader share.

mod migrate;
mod replay;
pub mod rows;
mod writer;

pub use migrate::{MIGRATIONS, cluster_statements, migrate, statements};
pub use replay::ClickHouseSink;
pub use writer::{Batch, Limits, Warehouse};

use crate::config::ClickHouseConfig;
use clickhouse::Client;

/// ClickHouse failures. Connection and insert errors are retriable (the
/// caller backs off and replays); a failing migration statement is fatal
/// until the schema or server is fixed.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    #[error("clickhouse: {0}")]
    Client(#[from] clickhouse::error::Error),
    #[error("migration {name}: {source}")]
    Migration {
        name: String,
        source: clickhouse::error::Error,
    },
}

pub use crate::config::valid_database;

/// A client for the configured server and credentials.
pub fn client(cfg: &ClickHouseConfig) -> Client {
    let mut c = Client::default().with_url(&cfg.url);
    if !cfg.user.is_empty() {
        c = c.with_user(&cfg.user);
    }
    if !cfg.password.is_empty() {
        c = c.with_password(&cfg.password);
    }
    c
}
