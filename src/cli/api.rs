//! `api`: the progress API (where is my complaint?) over ClickHouse.

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Api {
    /// ClickHouse HTTP(S) URL; connect as the analyst role (masked views).
    #[arg(long, env = "COMPLAINTFLOW_CLICKHOUSE_URL")]
    clickhouse_url: String,
    /// Database.
    #[arg(long, default_value = "complaints")]
    clickhouse_database: String,
    #[command(flatten)]
    login: super::args::ClickHouseLogin,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:9900")]
    listen: String,
    /// Zone of the times in answers.
    #[arg(long, default_value = crate::config::DEFAULT_TIMEZONE)]
    timezone: String,
    /// A file of bearer tokens, one per line, beside COMPLAINTFLOW_API_TOKENS
    /// (comma-separated). Tokens are never logged.
    #[arg(long)]
    tokens_file: Option<PathBuf>,
    /// Rules directory, for the departments' names.
    #[arg(long)]
    rules: Option<PathBuf>,
}

impl Api {
    pub(super) fn run(self, runtime: &tokio::runtime::Runtime) -> Result<()> {
        let zone: chrono_tz::Tz = self
            .timezone
            .parse()
            .map_err(|_| anyhow::anyhow!("--timezone {:?} is not an IANA zone", self.timezone))?;
        let mut tokens: Vec<String> = std::env::var("COMPLAINTFLOW_API_TOKENS")
            .unwrap_or_default()
            .split(',')
            .map(str::to_string)
            .collect();
        if let Some(file) = &self.tokens_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            tokens.extend(text.lines().map(str::to_string));
        }
        let rules = super::load_rules(self.rules.as_deref())?;
        let departments = rules.departments().cloned().unwrap_or_default();
        let cfg = self
            .login
            .config(&self.clickhouse_url, &self.clickhouse_database);
        let api =
            crate::api::Api::new(&cfg, zone, departments, &tokens).map_err(anyhow::Error::msg)?;
        super::until_signalled(runtime, |shutdown| async move {
            let listener = tokio::net::TcpListener::bind(&self.listen)
                .await
                .with_context(|| format!("binding --listen {}", self.listen))?;
            crate::api::serve(listener, Arc::new(api), shutdown)
                .await
                .context("serving the API")
        })
    }
}
