//! The schema as numbered migrations in `schemas/clickhouse/`, applied once
//! each and recorded in `<database>.schema_migrations`.
//!
//! The files name the database `complaints`; another database (a what-if
//! replay) gets the same statements with that name replaced. The cluster
//! variant is derived from the same files (see `cluster.rs`), so the two
//! cannot drift apart.

use super::ClickHouseError;
use crate::config::ClickHouseConfig;
use crate::model::personal;
use serde::Deserialize;

/// The analyst views, re-created by every `migrate` in the configured time
/// zone (they are derived: replacing them loses nothing).
pub const VIEWS: &str = include_str!("../../../schemas/clickhouse/views.sql");

/// The view statements for `database` with days in `timezone`.
pub fn view_statements(database: &str, timezone: &str) -> Vec<String> {
    statements(VIEWS, database)
        .into_iter()
        .map(|s| with_masks(&s.replace("{timezone}", timezone)))
        .collect()
}

/// Replaces each `{mask:COLUMN}` with [`mask_sql`] of that column.
fn with_masks(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut rest = statement;
    while let Some(at) = rest.find("{mask:") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + "{mask:".len()..];
        let end = tail
            .find('}')
            .expect("a {mask:COLUMN} placeholder is closed");
        out.push_str(&mask_sql(&tail[..end]));
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// SQL masking the personal data in a text column for analysts: the
/// `customer` object and any `name`, `phone` or `email` field of a JSON
/// payload (also a cut or broken one), then e-mail addresses and Chinese
/// mobile (+86 1xx xxxx xxxx) and landline (0xx-xxxxxxxx) numbers anywhere.
/// Names written into free text cannot be found this way; the README says so.
pub fn mask_sql(column: &str) -> String {
    // No `?` anywhere: the client would take it for a bind placeholder.
    // Patterns go into SQL string literals, where a backslash is doubled.
    let sql = |pattern: &str| pattern.replace('\\', "\\\\");
    // ClickHouse writes a replacement's group as `\1` where Rust's regex
    // writes `$1`.
    let field_mask = personal::CONTACT_FIELD_MASK.replace('$', "\\\\");
    let rules: [(String, &str); 4] = [
        (sql(personal::CUSTOMER), personal::CUSTOMER_MASK),
        (sql(personal::CONTACT_FIELD), &field_mask),
        (sql(personal::EMAIL), personal::EMAIL_MASK),
        (sql(personal::PHONE), personal::PHONE_MASK),
    ];
    rules
        .iter()
        .fold(column.to_string(), |expr, (pattern, with)| {
            format!("replaceRegexpAll({expr}, '{pattern}', '{with}')")
        })
}

/// `(version, name, sql)` of every migration, in order; built into the binary.
pub const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "0001_complaints.sql",
        include_str!("../../../schemas/clickhouse/0001_complaints.sql"),
    ),
    (
        2,
        "0002_outcomes.sql",
        include_str!("../../../schemas/clickhouse/0002_outcomes.sql"),
    ),
    (
        3,
        "0003_retractions.sql",
        include_str!("../../../schemas/clickhouse/0003_retractions.sql"),
    ),
    (
        4,
        "0004_bounded_inputs.sql",
        include_str!("../../../schemas/clickhouse/0004_bounded_inputs.sql"),
    ),
    (
        5,
        "0005_respond.sql",
        include_str!("../../../schemas/clickhouse/0005_respond.sql"),
    ),
    (
        6,
        "0006_settled_partitions.sql",
        include_str!("../../../schemas/clickhouse/0006_settled_partitions.sql"),
    ),
    (
        7,
        "0007_progress_lookup.sql",
        include_str!("../../../schemas/clickhouse/0007_progress_lookup.sql"),
    ),
];

#[derive(Debug, Deserialize, clickhouse::Row)]
struct Applied {
    version: u32,
}

/// Statements of a migration file for `database`: split on `;` at line
/// ends, comments dropped.
pub fn statements(sql: &str, database: &str) -> Vec<String> {
    let text: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    text.split(";\n")
        .map(|s| s.trim().trim_end_matches(';').trim().to_string())
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("complaints.", &format!("{database}.")))
        .collect()
}

/// Applies the migrations not applied yet; returns the names it applied.
pub async fn migrate(cfg: &ClickHouseConfig) -> Result<Vec<String>, ClickHouseError> {
    // The retention TTLs read a dictionary; altering such a table re-checks
    // the TTL, which ClickHouse allows only with this setting.
    let client = super::client(cfg)?.with_setting("allow_suspicious_ttl_expressions", "1");
    let db = &cfg.database;
    // The single-server migrations would take the Distributed tables for
    // theirs and fail half-way (an ALTER that Distributed refuses).
    let clustered: u8 = client
        .query(&format!("EXISTS TABLE {db}.cluster_migrations"))
        .fetch_one()
        .await?;
    if clustered == 1 {
        return Err(ClickHouseError::ClusteredDatabase {
            database: db.clone(),
        });
    }
    client
        .query(&format!("CREATE DATABASE IF NOT EXISTS {db}"))
        .execute()
        .await?;
    client
        .query(&format!(
            "CREATE TABLE IF NOT EXISTS {db}.schema_migrations \
             (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) \
             ENGINE = MergeTree ORDER BY version"
        ))
        .execute()
        .await?;
    let record = Record {
        table: "schema_migrations",
        cluster: None,
    };
    apply_missing(
        &client,
        db,
        &record,
        |sql| statements(sql, db),
        view_statements(db, &cfg.timezone),
    )
    .await
}

/// Where applied migrations are recorded: `<db>.<table>`, with the
/// cluster's name in a `cluster` column when there is one.
pub(super) struct Record<'a> {
    pub table: &'a str,
    pub cluster: Option<&'a str>,
}

/// Applies each migration not in `record` (its statements as `migration`
/// gives them) and records it, then re-creates the `views`. Returns the
/// migrations applied. The record table exists.
pub(super) async fn apply_missing(
    client: &clickhouse::Client,
    db: &str,
    record: &Record<'_>,
    migration: impl Fn(&str) -> Vec<String>,
    views: Vec<String>,
) -> Result<Vec<String>, ClickHouseError> {
    let run = |name: &str, sql: String| {
        let name = name.to_string();
        async move {
            client
                .query(&sql)
                .execute()
                .await
                .map_err(|source| ClickHouseError::Migration { name, source })
        }
    };
    let table = record.table;
    let applied: Vec<u32> = client
        .query(&format!("SELECT version FROM {db}.{table}"))
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
        for statement in migration(sql) {
            run(name, statement).await?;
        }
        let insert = match record.cluster {
            Some(cluster) => client
                .query(&format!(
                    "INSERT INTO {db}.{table} (version, name, cluster) VALUES (?, ?, ?)"
                ))
                .bind(*version)
                .bind(*name)
                .bind(cluster),
            None => client
                .query(&format!(
                    "INSERT INTO {db}.{table} (version, name) VALUES (?, ?)"
                ))
                .bind(*version)
                .bind(*name),
        };
        insert.execute().await?;
        tracing::info!(version, name, database = %db, cluster = record.cluster, "migration applied");
        done.push(name.to_string());
    }
    for statement in views {
        run("views.sql", statement).await?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_on_semicolons_at_line_ends() {
        let s = statements(
            "-- c\nCREATE TABLE complaints.a (x UInt8) ENGINE = Memory;\nSELECT 1;\n",
            "whatif",
        );
        assert_eq!(
            s,
            [
                "CREATE TABLE whatif.a (x UInt8) ENGINE = Memory",
                "SELECT 1"
            ]
        );
    }
}
