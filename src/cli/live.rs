//! `run`: the stream service (Kafka in, Kafka and ClickHouse out).

use crate::config::{Config, Overrides};
use crate::core::Rules as _;
use crate::rules::RuleSet;
use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Run {
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
    /// The ClickHouse cluster the database lives on (`clickhouse.cluster`).
    #[arg(long, value_name = "NAME", value_parser = super::args::cluster_name)]
    clickhouse_cluster: Option<String>,
    /// Address of /metrics, /healthz, /readyz.
    #[arg(long)]
    http_listen: Option<String>,
}

impl Run {
    /// Rules, metrics and signals here; the service owns its tasks.
    pub(super) fn run(self, runtime: &tokio::runtime::Runtime) -> Result<()> {
        let flags = Overrides {
            brokers: self.brokers,
            group: self.group,
            rules: self.rules,
            clickhouse_url: self.clickhouse_url,
            clickhouse_cluster: self.clickhouse_cluster,
            http_listen: self.http_listen,
        };
        let cfg = Config::load(self.config.as_deref(), |k| std::env::var(k).ok(), &flags)?;
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
        // Gated on the fixtures as a reload is: rules a reload would refuse
        // never start deciding.
        let rules = RuleSet::load_tested(&cfg.rules.dir)
            .map_err(|(error, failures)| {
                for f in &failures {
                    eprint!("{f}");
                }
                anyhow::Error::new(error)
            })
            .with_context(|| format!("loading rules from {}", cfg.rules.dir.display()))?;
        // The effective configuration, secrets redacted (passwords and
        // option values are never shown).
        tracing::info!(ruleset_version = rules.version(), loaded_at = %rules.loaded_at, config = ?cfg, "starting");
        crate::telemetry::describe();
        crate::telemetry::rules_version(None, rules.version());
        super::until_signalled(runtime, |shutdown| async move {
            crate::service::run(cfg, rules, metrics, shutdown)
                .await
                .map_err(anyhow::Error::from)
        })
    }
}
