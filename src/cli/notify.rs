//! `notify`: the notifier service (SLA events to people).

use crate::config::{Config, Overrides};
use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Notify {
    /// TOML configuration file: `[kafka]` as for `run`, `[http]` for this
    /// service's /healthz, /readyz, /metrics, and `[notify]` (channels and
    /// routes, reloaded when the file changes).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Kafka bootstrap servers (HOST:PORT,...).
    #[arg(long)]
    brokers: Option<String>,
    /// The service's consumer group; the notifier's is `{group}-notify`
    /// unless `notify.group` names one.
    #[arg(long)]
    group: Option<String>,
    /// Rules directory, for the departments' names (default: ./rules when
    /// it exists, else the built-in ruleset's).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Address of /metrics, /healthz, /readyz.
    #[arg(long)]
    http_listen: Option<String>,
}

impl Notify {
    pub(super) fn run(self, runtime: &tokio::runtime::Runtime) -> Result<()> {
        let flags = Overrides {
            brokers: self.brokers,
            group: self.group,
            http_listen: self.http_listen,
            ..Default::default()
        };
        let cfg = Config::load(self.config.as_deref(), |k| std::env::var(k).ok(), &flags)?;
        let rules = super::load_rules(self.rules.as_deref())?;
        let departments = rules.departments().cloned().unwrap_or_default();
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
        tracing::info!(config = ?cfg, "starting the notifier");
        super::until_signalled(runtime, |shutdown| async move {
            crate::notify::run(cfg, self.config, departments, metrics, shutdown)
                .await
                .context("notifier")
        })
    }
}
