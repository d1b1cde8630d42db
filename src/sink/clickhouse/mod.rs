//! ClickHouse: the schema (numbered migrations), the rows of its tables and
//! the batched, deduplicated writer that replay and the live loader share.

pub mod access;
mod migrate;
mod replay;
pub mod rows;
mod tls;
mod writer;

pub use migrate::{MIGRATIONS, cluster_statements, mask_sql, migrate, statements, view_statements};
pub use replay::ClickHouseSink;
pub use writer::{Batch, Limits, Warehouse};

use crate::config::ClickHouseConfig;
use clickhouse::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Idle connections close before ClickHouse's 3 s keep-alive timeout could
/// close them under a request (the `clickhouse` crate's default).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// ClickHouse failures. Connection and insert errors are retriable (the
/// caller backs off and replays); a failing migration statement is fatal
/// until the schema or server is fixed.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    #[error("clickhouse: {0}")]
    Client(#[from] clickhouse::error::Error),
    /// Fatal: the configured CA file cannot be used.
    #[error("clickhouse.ca_file {path}: {message}")]
    Tls { path: String, message: String },
    /// Fatal: the user may not manage access, or the server keeps its
    /// users in users.xml only.
    #[error(
        "creating the roles needs a user with access management (or apply `migrate --print-roles` by hand): {0}"
    )]
    Roles(clickhouse::error::Error),
    #[error("migration {name}: {source}")]
    Migration {
        name: String,
        source: clickhouse::error::Error,
    },
}

pub use crate::config::valid_database;

/// A client for the configured server and credentials. `https://` URLs are
/// verified against the system's roots plus `ca_file`, if set.
pub fn client(cfg: &ClickHouseConfig) -> Result<Client, ClickHouseError> {
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(tls::connector(&cfg.ca_file)?);
    let mut c = Client::with_http_client(http).with_url(&cfg.url);
    if !cfg.user.is_empty() {
        c = c.with_user(&cfg.user);
    }
    if !cfg.password.is_empty() {
        c = c.with_password(&cfg.password);
    }
    Ok(c)
}
