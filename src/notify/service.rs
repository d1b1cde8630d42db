//! The notifier's tasks: the SLA consumer (route, hand to channels, store
//! the offsets of finished events), one worker per channel, the context
//! reader, the configuration watcher and the operations endpoint — owned
//! in one set and drained together, as `run` does.

use super::context::{self, Contexts};
use super::deliver::{self, Job, Shared};
use super::message::{Departments, Notice};
use super::progress::Progress;
use super::routing::Routing;
use super::send::Senders;
use crate::config::Config;
use crate::driver::live::Health;
use crate::model::SlaEvent;
use crate::service::{ServiceError, Tasks, wait};
use crate::source::kafka::{GroupContext, group_consumer};
use crate::source::offsets::Covered;
use arc_swap::ArcSwap;
use metrics_exporter_prometheus::PrometheusHandle;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Why the notifier cannot start; all fatal.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Settings(#[from] super::settings::SettingsError),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("https client: {0}")]
    Https(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Notices a channel may have queued before the consumer waits for it.
const CHANNEL_QUEUE: usize = 10_000;
/// How often finished offsets are stored for the next commit.
const STORE_EVERY: Duration = Duration::from_millis(200);
/// An SLA event this recent waits (up to `context_wait_ms`) for its
/// complaint's decision; an older one is caught up on and goes as it is.
const LIVE_WITHIN: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Runs until `shutdown` or a task fails. `file` is the configuration
/// file, watched for changes to `[notify]`.
pub async fn run(
    cfg: Config,
    file: Option<PathBuf>,
    departments: Departments,
    metrics: PrometheusHandle,
    shutdown: CancellationToken,
) -> Result<(), NotifyError> {
    let env = |k: &str| std::env::var(k).ok();
    let routing = Arc::new(ArcSwap::from_pointee(cfg.notify.routing(&env)?));
    let health = Arc::new(Health::default());
    let mut tasks = Tasks::default();
    tasks
        .operations_endpoint(&cfg.http.listen, metrics, health.clone(), shutdown.clone())
        .await?;
    if let Some(file) = file {
        tasks.spawn(
            "configuration watcher",
            watch(file, routing.clone(), shutdown.clone()),
        );
    }
    crate::sink::kafka::ensure_topic(&cfg.kafka, &cfg.notify.dead_letter_topic).await?;
    let contexts = Arc::new(Contexts::new(cfg.notify.context_capacity));
    let caught_up = CancellationToken::new();
    tasks.spawn(
        "context reader",
        context::follow(
            cfg.kafka.clone(),
            cfg.notify.context_hours,
            contexts.clone(),
            caught_up.clone(),
            shutdown.clone(),
        ),
    );
    let https = crate::sink::clickhouse::tls::connector("")
        .map_err(|e| NotifyError::Https(e.to_string()))?;
    let shared = Arc::new(Shared {
        routing: routing.clone(),
        departments,
        senders: Senders {
            http: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https),
            producer: crate::sink::kafka::producer(&cfg.kafka)?,
            dead_letter_topic: cfg.notify.dead_letter_topic.clone(),
        },
    });
    let group = match cfg.notify.group.as_str() {
        "" => format!("{}-notify", cfg.kafka.group),
        g => g.to_string(),
    };
    let consumer = group_consumer(&quick(&cfg.kafka), &group, &[&cfg.kafka.sla_topic], None)?;
    let loop_ = Loop {
        consumer: Arc::new(consumer),
        topic: cfg.kafka.sla_topic.clone(),
        shared,
        contexts,
        progress: Arc::new(Progress::default()),
        workers: HashMap::new(),
        wait_context: Duration::from_millis(cfg.notify.context_wait_ms),
        health,
        stop: shutdown.clone(),
    };
    tasks.spawn("sla consumer", loop_.run(caught_up));
    let drain = Duration::from_millis(cfg.run.drain_timeout_ms);
    Ok(wait(tasks, shutdown, drain).await?)
}

/// The Kafka settings with a short fetch wait (unless `kafka.options` sets
/// one): an escalation is news for people, not a batch for a warehouse.
fn quick(k: &crate::config::KafkaConfig) -> crate::config::KafkaConfig {
    let mut k = k.clone();
    k.options
        .entry("fetch.wait.max.ms".into())
        .or_insert_with(|| "50".into());
    k
}

/// Reloads the routes after each change of the file; a file that does not
/// load keeps the routes in use, and says why.
async fn watch(
    file: PathBuf,
    routing: Arc<ArcSwap<Routing>>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let reload = move || -> Result<(), String> {
        let env = |k: &str| std::env::var(k).ok();
        let loaded = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|t| toml::from_str::<Config>(&t).map_err(|e| e.to_string()))
            .and_then(|c| c.notify.routing(&env).map_err(|e| e.to_string()));
        match loaded {
            Ok(new) => {
                tracing::info!(
                    channels = new.channels.len(),
                    routes = new.routes.len(),
                    "notification routes reloaded"
                );
                routing.store(Arc::new(new));
                Ok(())
            }
            Err(error) => {
                tracing::warn!(file = %file.display(), %error, "routes not reloaded; the previous ones stay");
                Err(error)
            }
        }
    };
    crate::rules::reload::on_changes(dir, notify::RecursiveMode::NonRecursive, cancel, reload)
        .await
        .map_err(|e| e.to_string())
}

struct Loop {
    consumer: Arc<StreamConsumer<GroupContext>>,
    topic: String,
    shared: Arc<Shared>,
    contexts: Arc<Contexts>,
    progress: Arc<Progress>,
    workers: HashMap<String, mpsc::Sender<Job>>,
    wait_context: Duration,
    health: Arc<Health>,
    stop: CancellationToken,
}

impl Loop {
    /// Reads SLA events until `stop`, after the context is caught up;
    /// ready (`/readyz`) once it has its share of the partitions.
    async fn run(mut self, caught_up: CancellationToken) -> Result<(), String> {
        tokio::select! {
            _ = self.stop.cancelled() => return Ok(()),
            _ = caught_up.cancelled() => {}
        }
        let mut store = tokio::time::interval(STORE_EVERY);
        let mut workers = tokio::task::JoinSet::new();
        let result = loop {
            tokio::select! {
                _ = self.stop.cancelled() => break Ok(()),
                _ = store.tick() => {
                    self.store_offsets();
                    // Ready once the group gave this member its partitions:
                    // an escalation produced from then on is read at once.
                    if !self.health.ready.load(Ordering::Relaxed)
                        && self.consumer.assignment().is_ok_and(|a| a.count() > 0)
                    {
                        self.health.ready.store(true, Ordering::Relaxed);
                    }
                }
                m = self.consumer.recv() => match m {
                    Ok(m) => {
                        let (partition, offset) = (m.partition(), m.offset());
                        let payload = m.payload().map(<[u8]>::to_vec);
                        drop(m);
                        self.take(partition, offset, payload.as_deref(), &mut workers).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the SLA topic"),
                },
            }
        };
        // Workers stop with the service; what they had not finished keeps
        // its offset uncommitted.
        while workers.join_next().await.is_some() {}
        self.store_offsets();
        result
    }

    async fn take(
        &mut self,
        partition: i32,
        offset: i64,
        payload: Option<&[u8]>,
        workers: &mut tokio::task::JoinSet<()>,
    ) {
        let Some(event) = payload.and_then(|p| serde_json::from_slice::<SlaEvent>(p).ok()) else {
            // Our own output topic: a record that is not an SLA event is
            // skipped (and counted), never retried forever.
            metrics::counter!("complaintflow_notify_unreadable_total").increment(1);
            tracing::warn!(partition, offset, "not an SLA event; skipped");
            self.progress.begin(partition, offset, 0);
            return;
        };
        let routing = self.shared.routing.load_full();
        let targets = routing.channels_for(&event);
        let ticket = self.progress.begin(partition, offset, targets.len());
        if targets.is_empty() {
            return;
        }
        let waited = std::time::Instant::now();
        let context = self.context_of(&event).await;
        tracing::debug!(event = %event.event_id, partition, offset, context_wait = ?waited.elapsed(), known = context.category.is_some(), "routing");
        let notice = Notice {
            event,
            category: context.category,
            summary: context.summary,
        };
        for at in targets {
            let channel = &routing.channels[at];
            let queue = self.workers.entry(channel.name.clone()).or_insert_with(|| {
                let (tx, rx) = mpsc::channel(CHANNEL_QUEUE);
                workers.spawn(deliver::channel_worker(
                    channel.clone(),
                    rx,
                    self.shared.clone(),
                    self.stop.clone(),
                ));
                tx
            });
            let job = Job {
                notice: notice.clone(),
                ticket: ticket.clone(),
            };
            tokio::select! {
                _ = self.stop.cancelled() => return,
                sent = queue.send(job) => if sent.is_err() { return },
            }
        }
    }

    /// The complaint's context; a live event waits a little for its decision.
    async fn context_of(&self, e: &SlaEvent) -> super::message::Context {
        let live = chrono::Utc::now().signed_duration_since(e.at) < LIVE_WITHIN;
        let deadline = tokio::time::Instant::now() + self.wait_context;
        loop {
            let c = self.contexts.get(&e.complaint_id).unwrap_or_default();
            if c.category.is_some() || !live || tokio::time::Instant::now() >= deadline {
                return c;
            }
            if !deliver::sleep_or_cancel(Duration::from_millis(20), &self.stop).await {
                return c;
            }
        }
    }

    fn store_offsets(&self) {
        for (partition, next) in self.progress.committable() {
            Covered::position(&self.topic, partition, next).store(&self.consumer);
        }
        // Committed now rather than at the next auto-commit (1 s): a crash
        // then sends again only what the last 200 ms delivered. Async: the
        // request is queued, nothing waits here; "nothing to commit" is fine.
        // Every tick, also unchanged: committing only on a change re-sent
        // 28-67 of 300 after a SIGKILL in three runs, every tick 0 in four.
        let _ = self
            .consumer
            .commit_consumer_state(rdkafka::consumer::CommitMode::Async);
        metrics::gauge!("complaintflow_notify_in_flight").set(self.progress.in_flight() as f64);
    }
}
