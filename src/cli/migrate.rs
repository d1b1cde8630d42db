//! `migrate`: the warehouse's schema and roles, applied or printed.

use super::args::ClickHouseLogin;
use crate::sink::clickhouse::{self, Layout, Replication, access};
use anyhow::{Context, Result, bail};

#[derive(clap::Args)]
pub struct Migrate {
    /// ClickHouse HTTP URL, e.g. http://localhost:8123
    #[arg(
        long,
        env = "COMPLAINTFLOW_CLICKHOUSE_URL",
        required_unless_present_any = ["print_cluster", "print_roles", "nodes"]
    )]
    clickhouse_url: Option<String>,
    /// Database to create or upgrade.
    #[arg(long, alias = "clickhouse-database", default_value = "complaints")]
    database: String,
    #[command(flatten)]
    login: ClickHouseLogin,
    /// With --clickhouse-cluster: apply the cluster schema to this node
    /// (repeat for every node of the cluster) statement by statement,
    /// instead of once with ON CLUSTER through --clickhouse-url (for nodes
    /// without a distributed DDL queue).
    #[arg(
        long = "clickhouse-node",
        value_name = "URL",
        requires = "clickhouse_cluster"
    )]
    nodes: Vec<String>,
    /// The engines under a cluster's Distributed tables: Replicated*
    /// (Keeper), or `none`, plain MergeTree on each shard.
    #[arg(long, value_enum, default_value = "replicated")]
    replication: Replication,
    /// Print the cluster schema for a cluster of this name (Distributed
    /// tables in front of the shards' tables, ON CLUSTER) instead of
    /// applying it.
    #[arg(long, value_name = "CLUSTER", value_parser = super::args::cluster_name, conflicts_with = "clickhouse_cluster")]
    print_cluster: Option<String>,
    /// Also create the roles `<database>_writer` and `<database>_analyst`
    /// (or bring them to exactly their grants); needs a user with access
    /// management.
    #[arg(long)]
    roles: bool,
    /// Print the roles' SQL instead of applying anything (for servers
    /// whose users live in users.xml, or a review).
    #[arg(long, conflicts_with_all = ["print_cluster", "roles"])]
    print_roles: bool,
    /// Time zone of the analyst views' days and months (re-applied on
    /// every run; stored times stay UTC).
    #[arg(long, default_value = crate::config::DEFAULT_TIMEZONE)]
    timezone: String,
}

impl Migrate {
    pub(super) fn run(self, runtime: &tokio::runtime::Runtime) -> Result<()> {
        let database = &self.database;
        if !clickhouse::valid_database(database) {
            bail!("--database {database:?} must be a plain identifier");
        }
        if !crate::config::valid_timezone(&self.timezone) {
            bail!(
                "--timezone {:?} must be a time zone name like Asia/Shanghai",
                self.timezone
            );
        }
        if self.print_roles {
            for s in access::role_statements(database) {
                println!("{s};");
            }
            return Ok(());
        }
        if let Some(cluster) = &self.print_cluster {
            let layout = Layout {
                cluster,
                replication: self.replication,
                on_cluster: true,
            };
            for s in clickhouse::cluster_statements(database, &self.timezone, &layout) {
                println!("{s};\n");
            }
            return Ok(());
        }
        // Every server this migrate talks to: the nodes one by one, or the
        // one server (or the node that runs ON CLUSTER).
        let urls: Vec<&str> = match (self.nodes.is_empty(), &self.clickhouse_url) {
            (false, _) => self.nodes.iter().map(String::as_str).collect(),
            (true, Some(url)) => vec![url],
            (true, None) => unreachable!("clap requires --clickhouse-url or --clickhouse-node"),
        };
        // One server says what it did as it always has; several, which node.
        let by_node = !self.nodes.is_empty();
        for url in urls {
            let cfg = crate::config::ClickHouseConfig {
                timezone: self.timezone.clone(),
                ..self.login.config(url, database)
            };
            let shown = crate::config::redacted_url(url);
            let node = if by_node {
                format!("{shown}: ")
            } else {
                String::new()
            };
            let applied = match runtime.block_on(self.apply(&cfg)) {
                Err(e) if by_node => return Err(e).context(format!("{shown}: migrate failed")),
                done => done?,
            };
            match applied.is_empty() {
                true => println!("{node}schema up to date"),
                false => println!("{node}applied: {}", applied.join(", ")),
            }
            if self.roles {
                let made = runtime.block_on(access::apply_roles(&cfg))?;
                println!("{node}roles: {}", made.join(", "));
            }
        }
        Ok(())
    }

    /// The single-server migrations, or the cluster's through `cfg`.
    async fn apply(
        &self,
        cfg: &crate::config::ClickHouseConfig,
    ) -> Result<Vec<String>, clickhouse::ClickHouseError> {
        if cfg.cluster.is_empty() {
            return clickhouse::migrate(cfg).await;
        }
        let layout = Layout {
            cluster: &cfg.cluster,
            replication: self.replication,
            on_cluster: self.nodes.is_empty(),
        };
        clickhouse::migrate_cluster(cfg, &layout).await
    }
}
