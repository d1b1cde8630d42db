//! Command line (docs/contract.md "Command line"): each command is a type
//! with its flags and a `run`, in a module of its own (`replay.rs`,
//! `demo.rs`, `live.rs` for `run`, `migrate.rs`, `report.rs`, `produce.rs`,
//! `check.rs` for `validate` and `health`, `notify.rs`, `api.rs`, `rules.rs` with the model's
//! training in `learn.rs`); `args.rs` holds the list of commands and the
//! flags they share. Here: the dispatch, and the one async runtime.

use crate::core::Rules;
use crate::rules::RuleSet;
use anyhow::{Context, Result};
use std::path::Path;

mod api;
mod args;
mod check;
mod demo;
mod learn;
mod live;
mod migrate;
mod notify;
mod produce;
mod replay;
mod report;
mod rules;

use args::ClickHouseSource;
pub use args::{Cli, Command};

/// Runs a parsed command; the exit code is the caller's business.
pub fn run(cli: Cli) -> Result<()> {
    // The one runtime of the process: the service runs on it, and the
    // commands that talk to a server (and the replay's ClickHouse sink)
    // block on it. Multi-threaded, so that a blocking caller's futures are
    // driven by its workers.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        Command::Replay(c) => c.run(&runtime),
        Command::Demo(c) => c.run(),
        Command::Run(c) => c.run(&runtime),
        Command::Migrate(c) => c.run(&runtime),
        Command::Validate(c) => c.run(),
        Command::Report(c) => c.run(&runtime),
        Command::Produce(c) => c.run(&runtime),
        Command::Health(c) => c.run(),
        Command::Rules(c) => c.run(&runtime),
        Command::Notify(c) => c.run(&runtime),
        Command::Api(c) => c.run(&runtime),
    }
}

/// Runs a service on `runtime` until it ends or SIGINT/SIGTERM asks it to
/// stop: `service` gets the shutdown token to drain on, and is waited for.
fn until_signalled<F, T>(
    runtime: &tokio::runtime::Runtime,
    service: impl FnOnce(tokio_util::sync::CancellationToken) -> F,
) -> Result<T>
where
    F: std::future::Future<Output = Result<T>>,
{
    runtime.block_on(async move {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let signals = shutdown.clone();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let listener = tokio::spawn(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => tracing::info!("shutdown requested; draining"),
                _ = term.recv() => tracing::info!("shutdown requested; draining"),
                _ = signals.cancelled() => {}
            }
            signals.cancel();
        });
        let result = service(shutdown.clone()).await;
        shutdown.cancel();
        let _ = listener.await;
        result
    })
}

/// A JSONL input: a file, or standard input for `-` or none; with its size
/// in bytes (0 for standard input), for a progress bar.
fn open_input(file: Option<&Path>) -> Result<(Box<dyn std::io::BufRead>, u64)> {
    match file {
        None => Ok((Box::new(std::io::stdin().lock()), 0)),
        Some(p) if p == Path::new("-") => Ok((Box::new(std::io::stdin().lock()), 0)),
        Some(p) => {
            let f = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            Ok((Box::new(std::io::BufReader::new(f)), size))
        }
    }
}

/// Picks the rules as every command does: `--rules DIR`, else `./rules`
/// when it exists, else the ruleset built into the binary; says which.
fn load_rules(dir: Option<&Path>) -> Result<RuleSet> {
    let local = Path::new("rules");
    let dir = dir.or_else(|| local.is_dir().then_some(local));
    let rules = match dir {
        Some(d) => {
            RuleSet::load_dir(d).with_context(|| format!("loading rules from {}", d.display()))?
        }
        None => RuleSet::embedded(),
    };
    let source = dir.map_or("built-in ruleset".to_string(), |d| d.display().to_string());
    eprintln!("rules: {source} (ruleset_version {})", rules.version());
    tracing::info!(ruleset_version = rules.version(), origin = %rules.origin, loaded_at = %rules.loaded_at, "rules loaded");
    Ok(rules)
}
