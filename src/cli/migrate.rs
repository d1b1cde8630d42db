//! `migrate`: the warehouse's schema and roles, applied or printed.

use super::args::ClickHouseLogin;
use crate::sink::clickhouse::{self, access};
use anyhow::{Result, bail};

#[derive(clap::Args)]
pub struct Migrate {
    /// ClickHouse HTTP URL, e.g. http://localhost:8123
    #[arg(
        long,
        env = "COMPLAINTFLOW_CLICKHOUSE_URL",
        required_unless_present_any = ["print_cluster", "print_roles"]
    )]
    clickhouse_url: Option<String>,
    /// Database to create or upgrade.
    #[arg(long, default_value = "complaints")]
    database: String,
    #[command(flatten)]
    login: ClickHouseLogin,
    /// Print the schema for a ClickHouse cluster of this name (Replicated
    /// tables behind Distributed ones, ON CLUSTER) instead of applying it.
    #[arg(long, value_name = "CLUSTER")]
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
            for s in clickhouse::cluster_statements(database, cluster, &self.timezone) {
                println!("{s};\n");
            }
            return Ok(());
        }
        let url = self.clickhouse_url.as_deref().expect("required by clap");
        let cfg = crate::config::ClickHouseConfig {
            timezone: self.timezone.clone(),
            ..self.login.config(url, database)
        };
        let applied = runtime.block_on(clickhouse::migrate(&cfg))?;
        if applied.is_empty() {
            println!("schema up to date");
        } else {
            println!("applied: {}", applied.join(", "));
        }
        if self.roles {
            let made = runtime.block_on(access::apply_roles(&cfg))?;
            println!("roles: {}", made.join(", "));
        }
        Ok(())
    }
}
