//! ClickHouse: the schema as numbered migrations in `schemas/clickhouse/`,
//! applied once each and recorded in `complaints.schema_migrations`.

use clickhouse::Client;
use serde::Deserialize;

/// `(version, name, sql)` of every migration, in order; built into the binary.
pub const MIGRATIONS: &[(u32, &str, &str)] = &[(
    1,
    "0001_complaints.sql",
    include_str!("../../schemas/clickhouse/0001_complaints.sql"),
)];

/// ClickHouse failures. Connection errors are retriable; a failing
/// migration statement is fatal until the schema or server is fixed.
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

#[derive(Debug, Deserialize, clickhouse::Row)]
struct Applied {
    version: u32,
}

/// Statements of a migration file: split on `;` at line ends; comments dropped.
fn statements(sql: &str) -> Vec<String> {
    let text: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    text.split(";\n")
        .map(|s| s.trim().trim_end_matches(';').trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Applies the migrations not applied yet; returns the names it applied.
pub async fn migrate(url: &str) -> Result<Vec<String>, ClickHouseError> {
    let client = Client::default().with_url(url);
    client
        .query("CREATE DATABASE IF NOT EXISTS complaints")
        .execute()
        .await?;
    client
        .query(
            "CREATE TABLE IF NOT EXISTS complaints.schema_migrations \
             (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) \
             ENGINE = MergeTree ORDER BY version",
        )
        .execute()
        .await?;
    let applied: Vec<u32> = client
        .query("SELECT version FROM complaints.schema_migrations")
        .fetch_all::<Applied>()
        .await?
        .into_iter()
        .map(|a| a.version)
        .collect();
    let mut done = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        for statement in statements(sql) {
            client.query(&statement).execute().await.map_err(|source| {
                ClickHouseError::Migration {
                    name: name.to_string(),
                    source,
                }
            })?;
        }
        client
            .query("INSERT INTO complaints.schema_migrations (version, name) VALUES (?, ?)")
            .bind(*version)
            .bind(*name)
            .execute()
            .await?;
        tracing::info!(version, name, "migration applied");
        done.push(name.to_string());
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    #[test]
    fn statements_split_on_semicolons_at_line_ends() {
        let s = super::statements("-- c\nCREATE TABLE a (x UInt8) ENGINE = Memory;\nSELECT 1;\n");
        assert_eq!(s, ["CREATE TABLE a (x UInt8) ENGINE = Memory", "SELECT 1"]);
    }
}
