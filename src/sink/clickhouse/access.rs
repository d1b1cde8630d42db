//! Least privilege in ClickHouse: a writer role for the service (and
//! `replay --clickhouse-url`), an analyst role for people who query. Names
//! carry the database, so a what-if database has roles of its own.

use super::ClickHouseError;
use crate::config::ClickHouseConfig;

/// The tables complaintflow fills.
pub const TABLES: &[&str] = &[
    "complaints",
    "events",
    "decisions",
    "sla_events",
    "dead_letters",
    "rejected_rows",
];

/// What analysts read: the views, the tables without personal data, and
/// the masked views of the two tables that hold raw payloads. `events`,
/// `dead_letters` and `rejected_rows` themselves are not among them.
pub const ANALYST_READS: &[&str] = &[
    "daily_volume",
    "sla_compliance",
    "reopen_satisfaction",
    "causes",
    "complaints",
    "decisions",
    "sla_events",
    "events_masked",
    "dead_letters_masked",
    "complaint_progress",
    "at_risk",
];

/// A role and its grants (`GRANT ... ON ...`, without `TO`).
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    pub grants: Vec<String>,
}

/// The writer and analyst roles of `db`.
///
/// The writer inserts, and may do what the shipped migrations do (create
/// the database, tables, views and the retention dictionary; add columns,
/// constraints, indexes and settings; replace views). It reads `db`, since
/// the views run with their definer's rights. It may not drop or truncate
/// a table, nor delete or update rows.
///
/// The analyst reads [`ANALYST_READS`] and nothing else; no insert.
pub fn roles(db: &str) -> [Role; 2] {
    let writer = vec![
        format!("GRANT SELECT, INSERT ON {db}.*"),
        format!("GRANT CREATE DATABASE, CREATE TABLE, CREATE VIEW, CREATE DICTIONARY ON {db}.*"),
        format!(
            "GRANT ALTER ADD COLUMN, ALTER ADD CONSTRAINT, ALTER ADD INDEX, ALTER MODIFY SETTING ON {db}.*"
        ),
        // Servers that require a grant per table engine (the default since
        // ClickHouse 25): the engines of the single-server and cluster schema.
        "GRANT TABLE ENGINE ON MergeTree".into(),
        "GRANT TABLE ENGINE ON ReplacingMergeTree".into(),
        "GRANT TABLE ENGINE ON ReplicatedMergeTree".into(),
        "GRANT TABLE ENGINE ON ReplicatedReplacingMergeTree".into(),
        "GRANT TABLE ENGINE ON Distributed".into(),
        // CREATE OR REPLACE VIEW builds the new view under a temporary
        // name, swaps it in and drops the old one by that name.
        format!("GRANT DROP VIEW ON {db}.*"),
        format!("GRANT DROP TABLE ON {db}._tmp_replace_*"),
        // The retention TTLs read the dictionary when rows are written.
        format!("GRANT dictGet ON {db}.retention"),
    ];
    let analyst = ANALYST_READS
        .iter()
        .map(|object| format!("GRANT SELECT ON {db}.{object}"))
        .collect();
    [
        Role {
            name: writer_role(db),
            grants: writer,
        },
        Role {
            name: analyst_role(db),
            grants: analyst,
        },
    ]
}

pub fn writer_role(db: &str) -> String {
    format!("{db}_writer")
}

pub fn analyst_role(db: &str) -> String {
    format!("{db}_analyst")
}

/// SQL that creates the roles, or brings existing ones to exactly these
/// grants (what `migrate --roles` runs and `--print-roles` prints).
pub fn role_statements(db: &str) -> Vec<String> {
    let mut out = Vec::new();
    for role in roles(db) {
        out.push(format!("CREATE ROLE IF NOT EXISTS {}", role.name));
        out.push(format!("REVOKE ALL ON *.* FROM {}", role.name));
        out.extend(role.grants.iter().map(|g| format!("{g} TO {}", role.name)));
    }
    out
}

/// Applies [`role_statements`]; needs a user with access management.
pub async fn apply_roles(cfg: &ClickHouseConfig) -> Result<Vec<String>, ClickHouseError> {
    let client = super::client(cfg)?;
    for statement in role_statements(&cfg.database) {
        client
            .query(&statement)
            .execute()
            .await
            .map_err(ClickHouseError::Roles)?;
    }
    Ok(roles(&cfg.database).map(|r| r.name).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analyst_reads_no_table_with_payloads_and_the_writer_drops_no_table() {
        let [writer, analyst] = roles("complaints");
        for raw in ["events", "dead_letters", "rejected_rows"] {
            assert!(
                !analyst
                    .grants
                    .iter()
                    .any(|g| g.ends_with(&format!("complaints.{raw}"))),
                "{analyst:?}"
            );
        }
        assert!(
            analyst
                .grants
                .iter()
                .all(|g| g.starts_with("GRANT SELECT ON"))
        );
        assert!(
            !writer.grants.iter().any(|g| (g.contains("DROP TABLE")
                && !g.ends_with("._tmp_replace_*"))
                || g.contains("TRUNCATE")
                || g.contains("ALL")),
            "{writer:?}"
        );
        let sql = role_statements("whatif");
        assert_eq!(sql[0], "CREATE ROLE IF NOT EXISTS whatif_writer");
        assert!(
            sql.contains(&"GRANT SELECT ON whatif.events_masked TO whatif_analyst".to_string())
        );
    }
}
