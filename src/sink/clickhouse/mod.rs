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

/// The schema's database name is spliced into SQL, so it must be a plain identifier.
pub fn valid_database(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

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
