//! The warehouse on a ClickHouse cluster: the schema of `schemas/clickhouse/`
//! rewritten for shards, applied by `migrate --clickhouse-cluster`, and the
//! check every writer makes before it writes.
//!
//! Each table becomes `<name>_local` on every node, with a `Distributed`
//! table of the old name in front, sharded by `cityHash64(complaint_id)`: a
//! complaint's rows (and their copies, which ReplacingMergeTree folds) stay
//! on one shard. Views and the retention dictionary read the Distributed
//! tables. The migrations applied are recorded per node in
//! `<database>.cluster_migrations`, so a later `migrate` adds only what is
//! missing and a writer can refuse a schema that is missing or older.

use super::ClickHouseError;
use super::migrate::{MIGRATIONS, Record, apply_missing, statements, view_statements};
use crate::config::ClickHouseConfig;

/// The engines under the Distributed tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Replication {
    /// `Replicated*MergeTree`, paths `/clickhouse/tables/{shard}/...` and
    /// replicas `{replica}` from each node's macros (needs Keeper).
    Replicated,
    /// Plain MergeTree engines: a sharded cluster without replicas.
    None,
}

/// How the cluster schema is written.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    pub cluster: &'a str,
    pub replication: Replication,
    /// `ON CLUSTER` on every statement (nodes with a distributed DDL queue);
    /// without it, the same statements are applied to each node in turn.
    pub on_cluster: bool,
}

impl Layout<'_> {
    fn on(&self) -> String {
        match self.on_cluster {
            true => format!(" ON CLUSTER '{}'", self.cluster),
            false => String::new(),
        }
    }
}

/// Where the applied migrations are recorded. With `ON CLUSTER` (so with
/// Keeper) one replicated table spans every node, so the record written on
/// one node is read on all; node by node, each node keeps its own.
fn record_table(db: &str, layout: &Layout) -> String {
    let engine = match layout.on_cluster {
        true => format!(
            "ReplicatedMergeTree('/clickhouse/{db}/cluster_migrations', '{{shard}}-{{replica}}')"
        ),
        false => "MergeTree".into(),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {db}.cluster_migrations{on} \
         (version UInt32, name String, cluster String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) \
         ENGINE = {engine} ORDER BY version",
        on = layout.on()
    )
}

/// The cluster form of one migration file's statements.
pub fn migration_statements(sql: &str, db: &str, layout: &Layout) -> Vec<String> {
    statements(sql, db)
        .iter()
        .flat_map(|s| clusterize(s, db, layout))
        .collect()
}

/// Everything `migrate --clickhouse-cluster` applies, in order, as one
/// script (what `--print-cluster` prints): the database, the record table,
/// every migration followed by its record, the views.
pub fn cluster_statements(db: &str, timezone: &str, layout: &Layout) -> Vec<String> {
    let mut out = vec![
        format!("CREATE DATABASE IF NOT EXISTS {db}{}", layout.on()),
        record_table(db, layout),
    ];
    for (version, name, sql) in MIGRATIONS {
        out.extend(migration_statements(sql, db, layout));
        out.push(format!(
            "INSERT INTO {db}.cluster_migrations (version, name, cluster) VALUES ({version}, '{name}', '{}')",
            layout.cluster
        ));
    }
    out.extend(cluster_views(db, timezone, layout));
    out
}

fn cluster_views(db: &str, timezone: &str, layout: &Layout) -> Vec<String> {
    view_statements(db, timezone)
        .iter()
        .flat_map(|s| clusterize(s, db, layout))
        .collect()
}

fn clusterize(statement: &str, db: &str, layout: &Layout) -> Vec<String> {
    let on = layout.on();
    if let Some(rest) = statement.strip_prefix("ALTER TABLE ") {
        // Alterations apply to the tables that hold the data; a column
        // also to the distributed table in front, which lists its own.
        let (name, change) = rest.split_once(' ').expect("ALTER TABLE names a change");
        let mut out = vec![format!("ALTER TABLE {name}_local{on} {change}")];
        if change.contains(" COLUMN ") {
            out.push(format!("ALTER TABLE {name}{on} {change}"));
        }
        return out;
    }
    let Some(rest) = statement.strip_prefix("CREATE TABLE IF NOT EXISTS ") else {
        // Views and dictionaries: the same statement on every node.
        let (head, body) = statement.split_once('\n').unwrap_or((statement, ""));
        return vec![match head.strip_suffix(" AS") {
            Some(name) => format!("{name}{on} AS\n{body}"),
            None => format!("{head}{on}\n{body}"),
        }];
    };
    let (name, body) = rest
        .split_once('\n')
        .expect("a table statement has columns");
    let table = name.trim().trim_start_matches(&format!("{db}."));
    let (columns, engine_on) = body
        .split_once("\nENGINE = ")
        .expect("a table statement names its engine");
    let (engine, tail) = engine_on.split_once('\n').unwrap_or((engine_on, ""));
    let engine = match layout.replication {
        Replication::None => engine.to_string(),
        Replication::Replicated => replicated(engine, db, table),
    };
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {db}.{table}_local{on}\n{columns}\nENGINE = {engine}\n{tail}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {db}.{table}{on}\nAS {db}.{table}_local\nENGINE = Distributed('{}', {db}, {table}_local, cityHash64(complaint_id))",
            layout.cluster
        ),
    ]
}

/// `ReplacingMergeTree(version)` → `ReplicatedReplacingMergeTree(path,
/// replica, version)`: one Keeper path per shard and table.
fn replicated(engine: &str, db: &str, table: &str) -> String {
    let (engine_name, args) = match engine.split_once('(') {
        Some((n, a)) => (n, a.trim_end_matches(')').to_string()),
        None => (engine, String::new()),
    };
    let path = format!("'/clickhouse/tables/{{shard}}/{db}/{table}', '{{replica}}'");
    let args = match args.is_empty() {
        true => path,
        false => format!("{path}, {args}"),
    };
    format!("Replicated{engine_name}({args})")
}

/// Applies what is missing of the cluster schema through `cfg`: with
/// `layout.on_cluster` once for the whole cluster, else to this one node
/// (the caller goes through every node). Returns the migrations applied.
pub async fn migrate_cluster(
    cfg: &ClickHouseConfig,
    layout: &Layout<'_>,
) -> Result<Vec<String>, ClickHouseError> {
    let client = super::client(cfg)?.with_setting("allow_suspicious_ttl_expressions", "1");
    let db = &cfg.database;
    for setup in [
        format!("CREATE DATABASE IF NOT EXISTS {db}{}", layout.on()),
        record_table(db, layout),
    ] {
        client.query(&setup).execute().await?;
    }
    let record = Record {
        table: "cluster_migrations",
        cluster: Some(layout.cluster),
    };
    apply_missing(
        &client,
        db,
        &record,
        |sql| migration_statements(sql, db, layout),
        cluster_views(db, &cfg.timezone, layout),
    )
    .await
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct NodeVersions {
    cluster: String,
    versions: Vec<u32>,
}

/// A writer's check before it writes to `cfg.cluster`: the node it talks
/// to, and every node it can reach, has every migration of this binary,
/// applied for this cluster. Refuses with the command that fixes it.
pub async fn check_cluster(cfg: &ClickHouseConfig) -> Result<(), ClickHouseError> {
    let (db, cluster) = (&cfg.database, &cfg.cluster);
    let client = super::client(cfg)?;
    let latest = MIGRATIONS.len();
    let refuse = |detail: String| ClickHouseError::ClusterSchema {
        detail,
        command: format!(
            "complaintflow migrate --clickhouse-url {} --database {db} --clickhouse-cluster {cluster}",
            crate::config::redacted_url(&cfg.url)
        ),
    };
    let known: u64 = client
        .query("SELECT count() FROM system.clusters WHERE cluster = ?")
        .bind(cluster.as_str())
        .fetch_one()
        .await?;
    if known == 0 {
        return Err(ClickHouseError::UnknownCluster {
            cluster: cluster.clone(),
            url: crate::config::redacted_url(&cfg.url),
        });
    }
    // `shardNum()` tells the nodes apart: clusterAllReplicas makes each
    // replica a shard of its own.
    let everywhere = format!("clusterAllReplicas('{cluster}', {db}.cluster_migrations)");
    let nodes = match node_versions(&client, &everywhere).await {
        // A user without the REMOTE grant (the writer role) checks the
        // node it writes through only.
        Err(e) if super::error_code(&e) == Some(497) => {
            tracing::warn!(cluster = %cluster, "no grant to read the other nodes; the schema check covers this node only");
            node_versions(&client, &format!("{db}.cluster_migrations")).await
        }
        read => read,
    }
    .map_err(|e| match super::error_code(&e) {
        // UNKNOWN_DATABASE, UNKNOWN_TABLE: on this node or another.
        Some(81 | 60) => refuse(format!("the cluster schema is missing ({e})")),
        _ => e.into(),
    })?;
    if nodes.is_empty() {
        return Err(refuse("no node records a cluster migration".into()));
    }
    for node in &nodes {
        if node.cluster != *cluster {
            return Err(refuse(format!(
                "database {db} holds the schema of cluster {:?}",
                node.cluster
            )));
        }
        if node.versions.len() < latest {
            return Err(refuse(format!(
                "a node has {} of the schema's {latest} migrations",
                node.versions.len()
            )));
        }
    }
    if (nodes.len() as u64) < known {
        tracing::warn!(cluster = %cluster, answered = nodes.len(), nodes = known, "not every node of the cluster answered the schema check");
    }
    Ok(())
}

/// The cluster and migrations each node of `from` records.
async fn node_versions(
    client: &clickhouse::Client,
    from: &str,
) -> Result<Vec<NodeVersions>, clickhouse::error::Error> {
    client
        .query(&format!(
            "SELECT any(cluster) AS cluster, groupUniqArray(version) AS versions \
             FROM {from} GROUP BY shardNum() SETTINGS skip_unavailable_shards = 1"
        ))
        .fetch_all::<NodeVersions>()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: Layout = Layout {
        cluster: "main",
        replication: Replication::Replicated,
        on_cluster: true,
    };

    #[test]
    fn cluster_tables_are_replicated_behind_distributed_ones() {
        let s = cluster_statements("complaints", "Asia/Shanghai", &MAIN);
        let local = s
            .iter()
            .find(|s| {
                s.starts_with(
                    "CREATE TABLE IF NOT EXISTS complaints.complaints_local ON CLUSTER 'main'",
                )
            })
            .expect("local complaints table");
        assert!(local.contains("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/complaints/complaints', '{replica}', version)"), "{local}");
        assert!(s.iter().any(|s| s.contains(
            "ENGINE = Distributed('main', complaints, events_local, cityHash64(complaint_id))"
        )));
        assert!(s.iter().any(|s| {
            s.starts_with("CREATE OR REPLACE VIEW complaints.daily_volume ON CLUSTER 'main'")
        }));
        let last = MIGRATIONS.len();
        assert!(s.iter().any(|s| s.starts_with(&format!(
            "INSERT INTO complaints.cluster_migrations (version, name, cluster) VALUES ({last}, "
        ))));
    }

    #[test]
    fn node_by_node_without_replication_keeps_the_engines_and_drops_on_cluster() {
        let layout = Layout {
            replication: Replication::None,
            on_cluster: false,
            ..MAIN
        };
        let s = cluster_statements("whatif", "UTC", &layout);
        assert!(s.iter().all(|s| !s.contains("ON CLUSTER")));
        assert!(s.iter().all(|s| !s.contains("Replicated")));
        let local = s
            .iter()
            .find(|s| s.starts_with("CREATE TABLE IF NOT EXISTS whatif.complaints_local\n"))
            .expect("local complaints table");
        assert!(
            local.contains("ENGINE = ReplacingMergeTree(version)"),
            "{local}"
        );
        // Settings go to the tables that hold data, never the Distributed ones.
        assert!(s.iter().any(|s| s.starts_with(
            "ALTER TABLE whatif.events_local MODIFY SETTING min_age_to_force_merge_seconds"
        )));
        assert!(
            !s.iter()
                .any(|s| s.starts_with("ALTER TABLE whatif.events MODIFY"))
        );
    }
}
