//! The command line's arguments: every command and its flags.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "complaintflow",
    version,
    about = "Customer-complaint regulation as a stream processor"
)]
pub struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "COMPLAINTFLOW_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Replays a JSONL file of events on the event-time clock.
    Replay(super::replay::Replay),
    /// Generates a realistic synthetic stream and replays it.
    Demo(super::demo::Demo),
    /// Stream mode: Kafka in, Kafka out, wall-clock timers, hot-reloaded rules.
    Run(super::live::Run),
    /// Creates or upgrades the ClickHouse schema (idempotent).
    Migrate(super::migrate::Migrate),
    /// Checks a JSONL file of events (`-`: standard input) against the
    /// contract with the service's own parser and bounds; one message per
    /// bad line; exits non-zero if any line is bad.
    Validate(super::check::Validate),
    /// Writes the analysis meeting's report (投诉分析会), one self-contained
    /// HTML page, from a replay's output directory or from ClickHouse.
    Report(super::report::Report),
    /// Publishes a JSONL file of events (`-`: standard input) to the input
    /// topic, keyed by `complaint_id`; bad lines are reported, not sent, and
    /// make the exit code 1. Kafka settings as for `run`.
    Produce(super::produce::Produce),
    /// Exits 0 when the service's `/healthz` answers 200 (for container
    /// health checks: the image has no curl).
    Health(super::check::Health),
    /// Admin tools for rules.
    Rules(super::rules::Rules),
    /// Turns SLA events into messages for people: group-chat robots
    /// (WeCom, DingTalk, Feishu), signed webhooks and e-mail, routed by the
    /// `[notify]` section of --config.
    Notify(super::notify::Notify),
    /// Serves each complaint's progress (where is my complaint?) over
    /// ClickHouse: GET /v1/complaints/ID, /v1/customers/ID/complaints,
    /// /v1/openapi.json; bearer tokens from COMPLAINTFLOW_API_TOKENS.
    Api(super::api::Api),
}

/// The ClickHouse that `replay`, `report` and `rules diff` use instead of
/// (or beside) files.
#[derive(clap::Args)]
pub struct ClickHouseSource {
    /// ClickHouse HTTP(S) URL, e.g. https://clickhouse.example:8443 (a
    /// flag, not the environment: `run`'s COMPLAINTFLOW_CLICKHOUSE_URL must
    /// not turn a replay into a write to the warehouse).
    #[arg(long)]
    pub(super) clickhouse_url: Option<String>,
    /// Database for `--clickhouse-url`.
    #[arg(long, default_value = "complaints")]
    pub(super) clickhouse_database: String,
    #[command(flatten)]
    pub(super) login: ClickHouseLogin,
}

/// Who connects to ClickHouse and which CA it trusts; the password comes
/// from the environment only (COMPLAINTFLOW_CLICKHOUSE_PASSWORD), never
/// from a flag that `ps` would show.
#[derive(clap::Args)]
pub struct ClickHouseLogin {
    /// ClickHouse user (default: the server's default user).
    #[arg(long, env = "COMPLAINTFLOW_CLICKHOUSE_USER")]
    clickhouse_user: Option<String>,
    /// PEM file of CA certificates for an https:// URL, trusted beside the
    /// system's roots.
    #[arg(long, env = "COMPLAINTFLOW_CLICKHOUSE_CA_FILE")]
    clickhouse_ca_file: Option<String>,
    /// The ClickHouse cluster (its `remote_servers` name) the database
    /// lives on: its schema comes from `migrate --clickhouse-cluster`,
    /// writes wait for every shard, reads go through its Distributed tables.
    #[arg(long, env = "COMPLAINTFLOW_CLICKHOUSE_CLUSTER", value_name = "NAME", value_parser = cluster_name)]
    pub(super) clickhouse_cluster: Option<String>,
}

/// A `--clickhouse-cluster` value: a name that can be spliced into SQL.
pub(super) fn cluster_name(name: &str) -> Result<String, String> {
    if crate::config::valid_cluster(name) {
        Ok(name.to_string())
    } else {
        Err("a cluster name has letters, digits, _ and - only".into())
    }
}

impl ClickHouseLogin {
    pub(super) fn config(&self, url: &str, database: &str) -> crate::config::ClickHouseConfig {
        crate::config::ClickHouseConfig {
            url: url.to_string(),
            database: database.to_string(),
            user: self.clickhouse_user.clone().unwrap_or_default(),
            password: std::env::var("COMPLAINTFLOW_CLICKHOUSE_PASSWORD").unwrap_or_default(),
            ca_file: self.clickhouse_ca_file.clone().unwrap_or_default(),
            cluster: self.clickhouse_cluster.clone().unwrap_or_default(),
            ..Default::default()
        }
    }
}

impl ClickHouseSource {
    pub(super) fn config(&self) -> Option<crate::config::ClickHouseConfig> {
        self.clickhouse_url
            .as_ref()
            .map(|url| self.login.config(url, &self.clickhouse_database))
    }
}
