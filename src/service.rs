//! The running service (`complaintflow run`): it starts every task — the
//! live loop, the ClickHouse loader, the rules watcher, the operations
//! endpoint — owns them in one set, and at shutdown waits for all of them
//! (the loader's last insert and commit included) before it returns.

use crate::config::Config;
use crate::driver::live::{self, Health, LiveError};
use crate::rules::RuleSet;
use crate::rules::reload::SharedRules;
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Why the service stopped other than by request. Each names its task; all
/// are fatal for this process, and a restart resumes from the committed
/// offsets (nothing is lost).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("binding http.listen {listen}: {source}")]
    Bind {
        listen: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Topics(#[from] crate::sink::kafka::KafkaSinkError),
    #[error("applying the ClickHouse schema: {0}")]
    Schema(#[from] crate::sink::clickhouse::ClickHouseError),
    #[error("task `{task}` failed: {error}")]
    Task { task: &'static str, error: String },
    #[error("task `{task}` panicked: {error}")]
    Panic { task: &'static str, error: String },
}

/// The tasks of one service, each with its name.
#[derive(Default)]
pub(crate) struct Tasks {
    set: JoinSet<Result<(), String>>,
    running: HashMap<tokio::task::Id, &'static str>,
}

impl Tasks {
    pub(crate) fn spawn<E: std::fmt::Display>(
        &mut self,
        name: &'static str,
        task: impl Future<Output = Result<(), E>> + Send + 'static,
    ) {
        let handle = self
            .set
            .spawn(async move { task.await.map_err(|e| e.to_string()) });
        self.running.insert(handle.id(), name);
    }
}

impl Tasks {
    /// Serves `/metrics`, `/healthz` and `/readyz` on `listen` (nothing when
    /// it is empty) as a task of this set; a port that cannot be bound is
    /// fatal at start.
    pub(crate) async fn operations_endpoint(
        &mut self,
        listen: &str,
        metrics: PrometheusHandle,
        health: Arc<Health>,
        shutdown: CancellationToken,
    ) -> Result<(), ServiceError> {
        if listen.is_empty() {
            return Ok(());
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ServiceError::Bind {
                listen: listen.to_string(),
                source,
            })?;
        let server = crate::driver::http::serve(listener, metrics, health, shutdown);
        self.spawn("operations endpoint", server);
        Ok(())
    }
}

/// Runs until `shutdown` is cancelled (a signal) or a task fails; then
/// cancels the rest and waits for them, up to `run.drain_timeout_ms`.
/// Returns the first failure, naming its task.
pub async fn run(
    cfg: Config,
    rules: RuleSet,
    metrics: PrometheusHandle,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    let shared: SharedRules = Arc::new(arc_swap::ArcSwap::from_pointee(rules));
    let health = Arc::new(Health::default());
    let mut tasks = Tasks::default();
    if cfg.rules.watch {
        let stop = shutdown.clone();
        let watch =
            crate::rules::reload::watch(cfg.rules.dir.clone(), shared.clone(), stop.clone());
        // Without the watcher the rules still decide: say so, go on.
        tasks.spawn("rules watcher", async move {
            if let Err(e) = watch.await {
                tracing::error!(error = %e, "rules hot reload is off; restart to pick up rule changes");
                stop.cancelled().await;
            }
            Ok::<(), String>(())
        });
    }
    tasks
        .operations_endpoint(&cfg.http.listen, metrics, health.clone(), shutdown.clone())
        .await?;
    // Before the live loop and the loader subscribe to them.
    let state_partitions = crate::sink::kafka::ensure_topics(&cfg.kafka).await?;
    if !cfg.clickhouse.url.is_empty() {
        let applied = crate::sink::clickhouse::prepare(&cfg.clickhouse).await?;
        tracing::info!(?applied, "clickhouse schema ready");
        tasks.spawn(
            "clickhouse loader",
            crate::driver::load::run(cfg.clone(), shutdown.clone()),
        );
    }
    let drain = Duration::from_millis(cfg.run.drain_timeout_ms);
    let live = live::run(cfg, shared, health, state_partitions, shutdown.clone());
    tasks.spawn("live loop", async move {
        live.await?;
        Ok::<(), LiveError>(())
    });
    wait(tasks, shutdown, drain).await
}

/// Waits for every task. The first to fail (or any to end before a
/// shutdown was asked) stops the others; after the shutdown, they get
/// `drain` to finish.
pub(crate) async fn wait(
    mut tasks: Tasks,
    shutdown: CancellationToken,
    drain: Duration,
) -> Result<(), ServiceError> {
    let mut first: Option<ServiceError> = None;
    loop {
        let next = tokio::select! {
            biased;
            joined = tasks.set.join_next_with_id() => joined,
            _ = async { shutdown.cancelled().await; tokio::time::sleep(drain).await } => {
                let left: Vec<&str> = tasks.running.values().copied().collect();
                tracing::warn!(?left, "drain deadline passed; exiting (unstored offsets are redelivered)");
                tasks.set.abort_all();
                break;
            }
        };
        let Some(joined) = next else { break };
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        let task = tasks.running.remove(&id).unwrap_or("unknown");
        match joined {
            Ok((_, Ok(()))) => {
                if !shutdown.is_cancelled() {
                    tracing::info!(task, "task ended; stopping the service");
                }
            }
            Ok((_, Err(error))) => {
                tracing::error!(task, %error, "task failed; stopping the service");
                first.get_or_insert(ServiceError::Task { task, error });
            }
            Err(e) => {
                let error = e.to_string();
                tracing::error!(task, %error, "task panicked; stopping the service");
                first.get_or_insert(ServiceError::Panic { task, error });
            }
        }
        shutdown.cancel();
    }
    first.map_or(Ok(()), Err)
}
