//! ClickHouse: the schema (numbered migrations), the rows of its tables and
//! the batched, deduplicated writer that replay and the live loader share.

pub mod access;
mod cluster;
mod migrate;
mod replay;
pub mod rows;
pub(crate) mod tls;
mod writer;

pub use cluster::{Layout, Replication, check_cluster, cluster_statements, migrate_cluster};
pub use migrate::{MIGRATIONS, mask_sql, migrate, statements, view_statements};
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
    /// Fatal: a writer for a cluster found its schema missing or older.
    #[error(
        "clickhouse cluster schema: {detail}; apply it with: {command} (nodes without a distributed DDL queue: --clickhouse-node URL for each node in place of --clickhouse-url)"
    )]
    ClusterSchema { detail: String, command: String },
    /// Fatal: the server does not know the configured cluster.
    #[error("clickhouse cluster {cluster:?} is not in the remote_servers of {url}")]
    UnknownCluster { cluster: String, url: String },
    /// Fatal: single-server migrations asked of a cluster's database.
    #[error(
        "database {database} holds a cluster schema: give --clickhouse-cluster (clickhouse.cluster) with its cluster's name"
    )]
    ClusteredDatabase { database: String },
}

/// The server's error code of a failed query (`Code: N. DB::Exception...`).
pub(crate) fn error_code(e: &clickhouse::error::Error) -> Option<u32> {
    let clickhouse::error::Error::BadResponse(text) = e else {
        return None;
    };
    text.split_once("Code: ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u32>().ok())
}

/// Makes the warehouse ready for a writer: on a cluster, checks that its
/// schema is current (writers never migrate a cluster); on one server,
/// applies the missing migrations unless `migrate` is off. Returns the
/// migrations applied.
pub async fn prepare(cfg: &ClickHouseConfig) -> Result<Vec<String>, ClickHouseError> {
    if !cfg.cluster.is_empty() {
        check_cluster(cfg).await?;
        return Ok(Vec::new());
    }
    match cfg.migrate {
        true => migrate(cfg).await,
        false => Ok(Vec::new()),
    }
}

pub use crate::config::valid_database;

/// A client for the configured server and credentials. `https://` URLs are
/// verified against the system's roots plus `ca_file`, if set.
///
/// On a cluster, a query that joins or filters one Distributed table by
/// another (`IN`, `JOIN`) reads the second one's local table on each shard
/// (`distributed_product_mode = 'local'`): right, because every table is
/// sharded by `cityHash64(complaint_id)` and each such query matches on
/// `complaint_id`, so whatever matches a row is on the row's shard.
pub fn client(cfg: &ClickHouseConfig) -> Result<Client, ClickHouseError> {
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(tls::connector(&cfg.ca_file)?);
    let mut c = Client::with_http_client(http).with_url(&cfg.url);
    if !cfg.cluster.is_empty() {
        c = c.with_setting("distributed_product_mode", "local");
    }
    if !cfg.user.is_empty() {
        c = c.with_user(&cfg.user);
    }
    if !cfg.password.is_empty() {
        c = c.with_password(&cfg.password);
    }
    Ok(c)
}
