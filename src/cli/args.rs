//! The command line's arguments: every command and its flags.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

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
    Replay {
        /// JSONL file of input events, one per line.
        #[arg(long)]
        input: PathBuf,
        /// Directory for decisions, sla_events, complaints and dead_letters (.jsonl).
        #[arg(long)]
        out: PathBuf,
        /// Clock at the end (default: the last event's time).
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// The wall clock for refusing events from the future (default: the
        /// real clock at the start; fix it for reproducible runs).
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// Rules directory (default: ./rules when it exists, else the
        /// built-in ruleset).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Also write every outcome to ClickHouse (`--clickhouse-url`:
        /// backfill, or a what-if in another database); missing migrations
        /// are applied first.
        #[command(flatten)]
        clickhouse: ClickHouseSource,
    },
    /// Generates a realistic synthetic stream and replays it.
    Demo {
        /// Number of complaints.
        #[arg(long, default_value_t = 5_000)]
        complaints: usize,
        /// Seed of the generator: the same seed gives the same stream.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Days of arrivals.
        #[arg(long, default_value_t = 7)]
        days: i64,
        /// Directory for the generated input and the outputs.
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        /// Rules directory (default: ./rules when it exists, else the
        /// built-in ruleset).
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Stream mode: Kafka in, Kafka out, wall-clock timers, hot-reloaded rules.
    Run {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Kafka bootstrap servers (HOST:PORT,...).
        #[arg(long)]
        brokers: Option<String>,
        /// Consumer group id.
        #[arg(long)]
        group: Option<String>,
        /// Rules directory (watched and hot-reloaded).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// ClickHouse HTTP URL: outcomes are also loaded there.
        #[arg(long)]
        clickhouse_url: Option<String>,
        /// Address of /metrics, /healthz, /readyz.
        #[arg(long)]
        http_listen: Option<String>,
    },
    /// Creates or upgrades the ClickHouse schema (idempotent).
    Migrate {
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
    },
    /// Checks a JSONL file of events (`-`: standard input) against the
    /// contract with the service's own parser and bounds; one message per
    /// bad line; exits non-zero if any line is bad.
    Validate {
        /// File to check; `-` or none: standard input.
        file: Option<PathBuf>,
        /// Unknown fields are errors, not warnings (a misspelt optional
        /// field is otherwise lost without a word).
        #[arg(long)]
        strict: bool,
        /// Rules directory, for the bounds in its `sla.toml` (default:
        /// ./rules when it exists, else the built-in ruleset).
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Writes the analysis meeting's report (投诉分析会), one self-contained
    /// HTML page, from a replay's output directory or from ClickHouse.
    Report {
        /// A replay's output directory (complaints, sla_events, dead_letters .jsonl).
        #[arg(
            long,
            required_unless_present = "clickhouse_url",
            conflicts_with = "clickhouse_url"
        )]
        dir: Option<PathBuf>,
        #[command(flatten)]
        clickhouse: ClickHouseSource,
        /// First local day of the period (YYYY-MM-DD; default: all).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last local day of the period (YYYY-MM-DD; default: all).
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// Where to write the page (default: DIR/report.html, or
        /// ./report.html from ClickHouse).
        #[arg(long)]
        out: Option<PathBuf>,
        /// UTC offset of local days (Beijing time has no daylight saving).
        #[arg(long, default_value = "+08:00", allow_hyphen_values = true)]
        utc_offset: chrono::FixedOffset,
        /// Rules directory, for the departments' names (default: ./rules
        /// when it exists, else the built-in ruleset).
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Publishes a JSONL file of events (`-`: standard input) to the input
    /// topic, keyed by `complaint_id`; bad lines are reported, not sent, and
    /// make the exit code 1. Kafka settings as for `run`.
    Produce {
        /// File to publish; `-` or none: standard input.
        file: Option<PathBuf>,
        /// TOML configuration file (the `[kafka]` section is used).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Kafka bootstrap servers (HOST:PORT,...).
        #[arg(long)]
        brokers: Option<String>,
        /// Exit 0 even when some lines were bad (they are still not sent).
        #[arg(long)]
        allow_bad: bool,
        /// Rules directory, for the bounds in its `sla.toml` (default:
        /// ./rules when it exists, else the built-in ruleset).
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Exits 0 when the service's `/healthz` answers 200 (for container
    /// health checks: the image has no curl).
    Health {
        /// The health endpoint.
        #[arg(long, default_value = "http://127.0.0.1:9898/healthz")]
        url: String,
    },
    /// Admin tools for rules.
    Rules {
        #[command(subcommand)]
        action: super::rules::RulesAction,
    },
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
}

impl ClickHouseLogin {
    pub(super) fn config(&self, url: &str, database: &str) -> crate::config::ClickHouseConfig {
        crate::config::ClickHouseConfig {
            url: url.to_string(),
            database: database.to_string(),
            user: self.clickhouse_user.clone().unwrap_or_default(),
            password: std::env::var("COMPLAINTFLOW_CLICKHOUSE_PASSWORD").unwrap_or_default(),
            ca_file: self.clickhouse_ca_file.clone().unwrap_or_default(),
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
