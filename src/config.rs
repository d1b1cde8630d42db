//! Configuration of `run`: a TOML file, then `COMPLAINTFLOW_*` environment
//! variables, then command-line flags, each overriding the one before.
//! Unknown keys are refused; librdkafka options pass through unlogged.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Configuration problems: fatal at start-up, with a message that names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Everything `run` needs.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub rules: RulesConfig,
    pub http: HttpConfig,
    pub run: RunConfig,
    pub clickhouse: ClickHouseConfig,
    /// `complaintflow notify` only: channels and routes.
    pub notify: crate::notify::NotifyConfig,
}

/// Brokers, group, topics and librdkafka pass-through options.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    pub brokers: String,
    pub group: String,
    pub input_topic: String,
    pub decisions_topic: String,
    pub sla_topic: String,
    pub dlq_topic: String,
    /// Each changed complaint's current outcome (`ComplaintRow`), once per
    /// batch: where the ClickHouse loader and other readers take it from.
    pub status_topic: String,
    /// Compacted per-complaint state, co-partitioned with the input.
    pub state_topic: String,
    /// Partitions and replication for topics `run` creates.
    pub partitions: i32,
    pub replication: i32,
    /// Create missing topics at start (else refuse to start without them).
    pub create_topics: bool,
    pub session_timeout_ms: u32,
    /// Passed to librdkafka as is (SASL, TLS, ...). Values are never logged.
    pub options: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    pub dir: PathBuf,
    /// Watch `dir` and hot-reload changes.
    pub watch: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `/metrics`, `/healthz`, `/readyz`; empty disables.
    pub listen: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// How often wall-clock timers are checked.
    pub tick_ms: u64,
    /// Messages processed before their outputs are flushed and offsets stored.
    pub batch_max: usize,
    /// Longest wait to fill a batch.
    pub batch_wait_ms: u64,
    /// Time allowed to finish in-flight work at shutdown.
    pub drain_timeout_ms: u64,
    /// How long (event time) archived and withdrawn complaints stay in state,
    /// so that redelivered events for them are still recognised. They stay
    /// longer while any of their input records is not yet committed.
    pub closed_retention_s: u64,
}

/// Where and how outcomes are written to ClickHouse.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// Empty: Kafka only.
    pub url: String,
    /// Tables live in this database (`complaints`); another one serves
    /// what-if replays.
    pub database: String,
    pub user: String,
    /// Never logged.
    pub password: String,
    /// PEM file of CA certificates trusted for `https://` URLs, beside the
    /// system's roots (a private CA); empty: the system's roots only.
    pub ca_file: String,
    /// Consumer group of the loader; empty: `{kafka.group}-clickhouse`.
    pub group: String,
    /// The ClickHouse cluster (`remote_servers`) the database lives on;
    /// empty: one server. With a cluster, writers never migrate: they check
    /// that `migrate --clickhouse-cluster` has applied the current schema,
    /// insert through the Distributed tables in the foreground and read
    /// with `distributed_product_mode = 'local'`.
    pub cluster: String,
    /// Apply missing migrations at start (one server only).
    pub migrate: bool,
    /// An insert is sent when it holds this many rows...
    pub max_rows: usize,
    /// ...or this many bytes of source records...
    pub max_bytes: usize,
    /// ...or its first row has waited this long.
    pub period_ms: u64,
    /// Time zone of the analyst views' days and months (stored times stay
    /// UTC); applied by every `migrate`.
    pub timezone: String,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: String::new(),
            database: "complaints".into(),
            user: String::new(),
            password: String::new(),
            ca_file: String::new(),
            group: String::new(),
            cluster: String::new(),
            migrate: true,
            max_rows: 50_000,
            max_bytes: 32 << 20,
            period_ms: 1000,
            timezone: DEFAULT_TIMEZONE.into(),
        }
    }
}

impl std::fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("url", &redacted_url(&self.url))
            .field("database", &self.database)
            .field("user", &self.user)
            .field("ca_file", &self.ca_file)
            .field("group", &self.group)
            .field("cluster", &self.cluster)
            .field("migrate", &self.migrate)
            .field("max_rows", &self.max_rows)
            .field("max_bytes", &self.max_bytes)
            .field("period_ms", &self.period_ms)
            .field("timezone", &self.timezone)
            .finish_non_exhaustive()
    }
}

/// A URL without the `user:password@` it may carry (for logs and messages).
pub fn redacted_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            dir: PathBuf::from("rules"),
            watch: true,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:9898".into(),
        }
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            tick_ms: 1000,
            batch_max: 1000,
            batch_wait_ms: 20,
            drain_timeout_ms: 10_000,
            closed_retention_s: 86_400,
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "localhost:9092".into(),
            group: "complaintflow".into(),
            input_topic: "complaints.events".into(),
            decisions_topic: "complaints.decisions".into(),
            sla_topic: "complaints.sla".into(),
            dlq_topic: "complaints.dlq".into(),
            status_topic: "complaints.status".into(),
            state_topic: "complaints.state".into(),
            partitions: 6,
            replication: 1,
            create_topics: true,
            session_timeout_ms: 10_000,
            options: BTreeMap::new(),
        }
    }
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Option values may hold passwords: show keys only.
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("group", &self.group)
            .field("input_topic", &self.input_topic)
            .field("partitions", &self.partitions)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Overrides from the command line (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub brokers: Option<String>,
    pub group: Option<String>,
    pub rules: Option<PathBuf>,
    pub clickhouse_url: Option<String>,
    pub clickhouse_cluster: Option<String>,
    pub http_listen: Option<String>,
}

impl Config {
    /// Defaults, then `file`, then environment, then `flags`; validated.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut c = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.into(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        let set = |target: &mut String, value: Option<String>| {
            if let Some(v) = value {
                *target = v;
            }
        };
        set(&mut c.kafka.brokers, env("COMPLAINTFLOW_BROKERS"));
        set(&mut c.kafka.group, env("COMPLAINTFLOW_GROUP"));
        set(&mut c.clickhouse.url, env("COMPLAINTFLOW_CLICKHOUSE_URL"));
        set(
            &mut c.clickhouse.cluster,
            env("COMPLAINTFLOW_CLICKHOUSE_CLUSTER"),
        );
        set(&mut c.clickhouse.user, env("COMPLAINTFLOW_CLICKHOUSE_USER"));
        set(
            &mut c.clickhouse.password,
            env("COMPLAINTFLOW_CLICKHOUSE_PASSWORD"),
        );
        set(
            &mut c.clickhouse.ca_file,
            env("COMPLAINTFLOW_CLICKHOUSE_CA_FILE"),
        );
        set(&mut c.http.listen, env("COMPLAINTFLOW_HTTP_LISTEN"));
        // Secrets kept out of the file: the SASL credentials.
        for (var, option) in [
            ("COMPLAINTFLOW_KAFKA_SASL_USERNAME", "sasl.username"),
            ("COMPLAINTFLOW_KAFKA_SASL_PASSWORD", "sasl.password"),
        ] {
            if let Some(v) = env(var) {
                c.kafka.options.insert(option.into(), v);
            }
        }
        if let Some(d) = env("COMPLAINTFLOW_RULES") {
            c.rules.dir = d.into();
        }
        set(&mut c.kafka.brokers, flags.brokers.clone());
        set(&mut c.kafka.group, flags.group.clone());
        set(&mut c.clickhouse.url, flags.clickhouse_url.clone());
        set(&mut c.clickhouse.cluster, flags.clickhouse_cluster.clone());
        set(&mut c.http.listen, flags.http_listen.clone());
        if let Some(d) = &flags.rules {
            c.rules.dir = d.clone();
        }
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        let k = &self.kafka;
        if k.brokers.trim().is_empty() {
            return bad("kafka.brokers is empty".into());
        }
        if k.group.trim().is_empty() {
            return bad("kafka.group is empty".into());
        }
        let topics = [
            &k.input_topic,
            &k.decisions_topic,
            &k.sla_topic,
            &k.dlq_topic,
            &k.status_topic,
            &k.state_topic,
        ];
        if topics.iter().any(|t| t.is_empty()) {
            return bad("kafka topic names must not be empty".into());
        }
        let mut unique: Vec<_> = topics.to_vec();
        unique.sort();
        unique.dedup();
        if unique.len() != topics.len() {
            return bad("kafka topics must all differ".into());
        }
        if k.partitions < 1 || k.replication < 1 {
            return bad("kafka.partitions and kafka.replication must be at least 1".into());
        }
        for reserved in [
            "group.id",
            "bootstrap.servers",
            "enable.auto.offset.store",
            "enable.idempotence",
            // The clock of each partition depends on the statistics.
            "statistics.interval.ms",
        ] {
            if k.options.contains_key(reserved) {
                return bad(format!(
                    "kafka.options.\"{reserved}\" is set by complaintflow; use the dedicated key"
                ));
            }
        }
        // Every record complaintflow writes is bounded to fit the broker's
        // default limit (1,000,000 bytes; see docs/contract.md "Input").
        if let Some(v) = k.options.get("message.max.bytes")
            && v.parse::<u64>().is_ok_and(|n| n < 1_000_000)
        {
            return bad(format!(
                "kafka.options.\"message.max.bytes\" = {v} is below 1000000, the size complaintflow's records are bounded to"
            ));
        }
        if self.run.batch_max == 0 || self.run.tick_ms == 0 {
            return bad("run.batch_max and run.tick_ms must be positive".into());
        }
        let ch = &self.clickhouse;
        if ch.max_rows == 0 || ch.max_bytes == 0 || ch.period_ms == 0 {
            return bad("clickhouse.max_rows, max_bytes and period_ms must be positive".into());
        }
        if !valid_timezone(&ch.timezone) {
            return bad(format!(
                "clickhouse.timezone {:?} must be a time zone name like Asia/Shanghai",
                ch.timezone
            ));
        }
        if !valid_database(&ch.database) {
            return bad(format!(
                "clickhouse.database {:?} must be a plain identifier",
                ch.database
            ));
        }
        if !ch.cluster.is_empty() && !valid_cluster(&ch.cluster) {
            return bad(format!(
                "clickhouse.cluster {:?} must be a cluster name of remote_servers (letters, digits, _ and -)",
                ch.cluster
            ));
        }
        Ok(())
    }
}

/// Where the complaint regulation applies.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

/// A time zone name is spliced into the views' SQL: letters, digits, `/`,
/// `_`, `+` and `-` only (`Asia/Shanghai`, `UTC`, `Etc/GMT-8`).
pub fn valid_timezone(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
}

/// The schema's database name is spliced into SQL, so it must be a plain identifier.
pub fn valid_database(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A cluster's name is spliced into SQL (`ON CLUSTER '...'`, the
/// Distributed engine): letters, digits, `_` and `-` only.
pub fn valid_cluster(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn file_then_env_then_flags() {
        let f = write(
            "[kafka]\nbrokers = \"file:9092\"\ngroup = \"g-file\"\n[kafka.options]\n\"sasl.password\" = \"s3cret\"\n",
        );
        let env = |k: &str| (k == "COMPLAINTFLOW_GROUP").then(|| "g-env".to_string());
        let flags = Overrides {
            brokers: Some("flag:9092".into()),
            ..Default::default()
        };
        let c = Config::load(Some(f.path()), env, &flags).unwrap();
        assert_eq!(c.kafka.brokers, "flag:9092");
        assert_eq!(c.kafka.group, "g-env");
        assert_eq!(c.kafka.input_topic, "complaints.events");
        assert!(!format!("{:?}", c.kafka).contains("s3cret"));
    }

    #[test]
    fn the_example_config_loads_and_matches_the_defaults() {
        let f = write(include_str!("../complaintflow.example.toml"));
        let c = Config::load(Some(f.path()), |_| None, &Overrides::default()).unwrap();
        let d = Config::default();
        assert_eq!(
            (c.kafka.brokers, c.kafka.partitions, c.run.tick_ms),
            (d.kafka.brokers, d.kafka.partitions, d.run.tick_ms)
        );
        assert_eq!(c.run.closed_retention_s, d.run.closed_retention_s);
    }

    #[test]
    fn sasl_credentials_come_from_the_environment_and_stay_unprinted() {
        let f = write("[kafka.options]\n\"security.protocol\" = \"SASL_SSL\"\n");
        let env = |k: &str| match k {
            "COMPLAINTFLOW_KAFKA_SASL_USERNAME" => Some("cf-user".to_string()),
            "COMPLAINTFLOW_KAFKA_SASL_PASSWORD" => Some("hunter2-secret".to_string()),
            "COMPLAINTFLOW_CLICKHOUSE_PASSWORD" => Some("ch-secret".to_string()),
            _ => None,
        };
        let c = Config::load(Some(f.path()), env, &Overrides::default()).unwrap();
        assert_eq!(c.kafka.options["sasl.username"], "cf-user");
        assert_eq!(c.kafka.options["sasl.password"], "hunter2-secret");
        assert_eq!(c.kafka.options["security.protocol"], "SASL_SSL");
        let printed = format!("{c:?}");
        for secret in ["hunter2-secret", "ch-secret"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("sasl.password"), "{printed}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let f = write("[kafka]\nbrokerz = \"x\"\n");
        let e = Config::load(Some(f.path()), |_| None, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("brokerz"), "{e}");
        let f = write("[kafka]\npartitions = 0\n");
        assert!(Config::load(Some(f.path()), |_| None, &Overrides::default()).is_err());
        let f = write("[kafka.options]\n\"group.id\" = \"x\"\n");
        assert!(
            Config::load(Some(f.path()), |_| None, &Overrides::default())
                .unwrap_err()
                .to_string()
                .contains("group.id")
        );
    }
}
