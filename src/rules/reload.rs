//! Hot reload: watch `rules/`, build and test a candidate, swap it in only
//! when every fixture passes; otherwise keep the running rules and say why.

use super::ruleset::{RuleSet, RulesError};
use arc_swap::ArcSwap;
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The rules every worker reads; reloads replace the `Arc` inside.
pub type SharedRules = Arc<ArcSwap<RuleSet>>;

/// How long file events settle before a reload (editors write in bursts).
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// Result of one reload attempt that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    Swapped { from: String, to: String },
    Unchanged,
}

/// Loads `dir`, runs its fixtures and swaps on success. On failure the old
/// rules stay; the reason is logged and counted.
pub fn reload_once(dir: &Path, current: &ArcSwap<RuleSet>) -> Result<ReloadOutcome, RulesError> {
    use crate::core::Rules;
    match RuleSet::load_tested(dir) {
        Ok(candidate) => {
            let old = current.load();
            if old.version() == candidate.version() {
                return Ok(ReloadOutcome::Unchanged);
            }
            let outcome = ReloadOutcome::Swapped {
                from: old.version().to_string(),
                to: candidate.version().to_string(),
            };
            tracing::info!(
                ruleset_version = candidate.version(),
                previous = old.version(),
                loaded_at = %candidate.loaded_at,
                origin = %candidate.origin,
                "rules reloaded"
            );
            crate::telemetry::rules_version(Some(old.version()), candidate.version());
            current.store(Arc::new(candidate));
            metrics::counter!("complaintflow_rules_reloads_total", "result" => "ok").increment(1);
            Ok(outcome)
        }
        Err((error, failures)) => {
            metrics::counter!("complaintflow_rules_reloads_total", "result" => "failed")
                .increment(1);
            let detail: String = failures.iter().map(|f| f.to_string()).collect();
            tracing::warn!(
                dir = %dir.display(),
                kept_version = current.load().version(),
                %error,
                failures = %detail,
                "rules reload refused; keeping the running rules"
            );
            Err(error)
        }
    }
}

/// Errors starting the watcher (fatal for hot reload; rules stay as loaded).
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {dir}: {source}")]
pub struct WatchError {
    dir: PathBuf,
    source: notify::Error,
}

/// Watches `dir` until `cancel` and reloads on every settled change.
/// Directory watching follows editors' save-by-rename.
pub async fn watch(
    dir: PathBuf,
    current: SharedRules,
    cancel: CancellationToken,
) -> Result<(), WatchError> {
    tracing::info!(dir = %dir.display(), "watching rules for changes");
    let d = dir.clone();
    on_changes(dir, RecursiveMode::Recursive, cancel, move || {
        reload_once(&d, &current).map(|_| ())
    })
    .await
}

/// Calls `reload` (on a blocking thread: it reads and compiles) after every
/// settled change under `dir`, until `cancel`. Its failure is its own to
/// report; the watch goes on.
pub async fn on_changes<E>(
    dir: PathBuf,
    mode: RecursiveMode,
    cancel: CancellationToken,
    reload: impl Fn() -> Result<(), E> + Clone + Send + 'static,
) -> Result<(), WatchError>
where
    E: Send + 'static,
{
    // One pending signal is enough: a reload reads everything again.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |res: DebounceEventResult| {
        let relevant = match res {
            Ok(events) => events
                .iter()
                .any(|e| !matches!(e.kind, EventKind::Access(_))),
            Err(_) => true,
        };
        if relevant {
            let _ = tx.try_send(());
        }
    })
    .map_err(|source| WatchError {
        dir: dir.clone(),
        source,
    })?;
    debouncer.watch(&dir, mode).map_err(|source| WatchError {
        dir: dir.clone(),
        source,
    })?;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            signal = rx.recv() => {
                if signal.is_none() { break; }
                let _ = tokio::task::spawn_blocking(reload.clone()).await;
            }
        }
    }
    debouncer.stop_nonblocking();
    Ok(())
}
