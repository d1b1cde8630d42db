//! Command line (docs/contract.md "Command line"): the arguments
//! (`args.rs`), what each command does (here), the admins' rules commands
//! (`rules.rs`, the model's training in `learn.rs`), the report's page (`report.rs`) and checks of input and
//! health (`check.rs`).

use crate::config::{Config, Overrides};
use crate::core::Rules;
use crate::driver::demo::{self, DemoConfig};
use crate::driver::replay::{Bounds, replay_file};
use crate::model::Timestamp;
use crate::rules::RuleSet;
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

mod args;
mod check;
mod learn;
mod report;
mod rules;

use args::ClickHouseSource;
pub use args::{Cli, Command};
use check::{http_status, validate};
use report::{BEIJING, render_report, write_report};

/// Runs one future to completion on a runtime of its own (the commands
/// that talk to a server once).
fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f))
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

/// Runs a parsed command; the exit code is the caller's business.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Replay {
            input,
            out,
            until,
            now,
            rules,
            clickhouse,
        } => {
            let rules = load_rules(rules.as_deref())?;
            let started = Instant::now();
            let mut warehouse = match clickhouse.config() {
                Some(cfg) => Some(open_warehouse(cfg, &input, &rules)?),
                None => None,
            };
            let extra = warehouse
                .as_mut()
                .map(|w| w as &mut dyn crate::sink::OutputSink);
            let bounds = Bounds {
                until: until.map(|t| t.to_utc()),
                now: now.map(|t| t.to_utc()),
            };
            let summary = replay_file(&input, &out, &rules, bounds, extra)?;
            if let Some(w) = &warehouse {
                println!("{} rows stored in ClickHouse", w.rows);
            }
            print!("{summary}");
            println!(
                "\nreplayed {} lines in {:.2?}; outputs in {}",
                summary.lines,
                started.elapsed(),
                out.display()
            );
        }
        Command::Demo {
            complaints,
            seed,
            days,
            out,
            rules,
        } => {
            let rules = load_rules(rules.as_deref())?;
            let cfg = DemoConfig {
                complaints,
                seed,
                days,
                ..DemoConfig::default()
            };
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let input = out.join("input.jsonl");
            let lines = demo::generate(&cfg, &rules);
            let mut w = std::io::BufWriter::new(std::fs::File::create(&input)?);
            for l in &lines {
                writeln!(w, "{l}")?;
            }
            w.flush()?;
            println!(
                "generated {} events for {complaints} complaints (seed {seed}) into {}\n",
                lines.len(),
                input.display()
            );
            let until: Timestamp = cfg.end().to_utc();
            // A synthetic stream reaching past today is not "from the
            // future": its own end is the wall clock then (the demo's one
            // deliberately future event lies far beyond it).
            let bounds = Bounds {
                until: Some(until),
                now: Some(until.max(chrono::Utc::now())),
            };
            let summary = replay_file(&input, &out, &rules, bounds, None)?;
            print!("{summary}");
            let page = write_report(&out, &out.join("report.html"), None, None, BEIJING, &rules)?;
            println!(
                "\noutputs in {}/ (decisions, sla_events, complaints, dead_letters .jsonl)\nreport for the analysis meeting: {}",
                out.display(),
                page.display()
            );
        }
        Command::Run {
            config,
            brokers,
            group,
            rules,
            clickhouse_url,
            http_listen,
        } => {
            let flags = Overrides {
                brokers,
                group,
                rules,
                clickhouse_url,
                http_listen,
            };
            let cfg = Config::load(config.as_deref(), |k| std::env::var(k).ok(), &flags)?;
            run_live(cfg)?;
        }
        Command::Migrate {
            clickhouse_url,
            database,
            login,
            print_cluster,
            roles,
            print_roles,
            timezone,
        } => {
            if !crate::sink::clickhouse::valid_database(&database) {
                bail!("--database {database:?} must be a plain identifier");
            }
            if !crate::config::valid_timezone(&timezone) {
                bail!("--timezone {timezone:?} must be a time zone name like Asia/Shanghai");
            }
            if print_roles {
                for s in crate::sink::clickhouse::access::role_statements(&database) {
                    println!("{s};");
                }
                return Ok(());
            }
            if let Some(cluster) = print_cluster {
                for s in crate::sink::clickhouse::cluster_statements(&database, &cluster, &timezone)
                {
                    println!("{s};\n");
                }
                return Ok(());
            }
            let cfg = crate::config::ClickHouseConfig {
                timezone,
                ..login.config(&clickhouse_url.expect("required by clap"), &database)
            };
            let applied = block_on(crate::sink::clickhouse::migrate(&cfg))??;
            if applied.is_empty() {
                println!("schema up to date");
            } else {
                println!("applied: {}", applied.join(", "));
            }
            if roles {
                let made = block_on(crate::sink::clickhouse::access::apply_roles(&cfg))??;
                println!("roles: {}", made.join(", "));
            }
        }
        Command::Report {
            dir,
            clickhouse,
            from,
            to,
            out,
            utc_offset,
            rules,
        } => {
            let rules = load_rules(rules.as_deref())?;
            let rows = match (&dir, clickhouse.config()) {
                (Some(d), _) => crate::report::read_dir(d, utc_offset)?,
                (None, Some(cfg)) => {
                    block_on(crate::report::read_clickhouse(&cfg, from, to, utc_offset))??
                }
                (None, None) => bail!("give --dir or --clickhouse-url"),
            };
            let out =
                out.unwrap_or_else(|| dir.as_deref().unwrap_or(Path::new(".")).join("report.html"));
            let page = render_report(&rows, &out, from, to, &rules)?;
            println!("report: {}", page.display());
        }
        Command::Produce {
            file,
            config,
            brokers,
            allow_bad,
            rules,
        } => {
            let flags = Overrides {
                brokers,
                ..Overrides::default()
            };
            let cfg = Config::load(config.as_deref(), |k| std::env::var(k).ok(), &flags)?;
            // With --config, the bounds come from the rules `run` uses.
            let dir = rules.or_else(|| config.is_some().then(|| cfg.rules.dir.clone()));
            let rules = load_rules(dir.as_deref())?;
            let (reader, size) = open_input(file.as_deref())?;
            let bar = if size > 4 << 20 {
                indicatif::ProgressBar::new(size)
            } else {
                indicatif::ProgressBar::hidden()
            };
            let report = block_on(crate::driver::produce::produce(
                reader,
                &cfg.kafka,
                rules.policy(),
                |n| bar.inc(n),
            ))??;
            bar.finish_and_clear();
            for (line, reason) in &report.bad {
                println!("line {line}: {reason}");
            }
            println!(
                "{} lines: {} sent to {}, {} bad (not sent)",
                report.lines,
                report.sent,
                cfg.kafka.input_topic,
                report.bad.len()
            );
            if !report.bad.is_empty() && !allow_bad {
                bail!("{} bad line(s)", report.bad.len());
            }
        }
        Command::Health { url } => {
            let status = http_status(&url).with_context(|| format!("asking {url}"))?;
            if status != 200 {
                bail!("{url} answered {status}");
            }
            println!("ok");
        }
        Command::Validate {
            file,
            strict,
            rules,
        } => {
            let rules = load_rules(rules.as_deref())?;
            let (reader, _) = open_input(file.as_deref())?;
            let (lines, bad) = validate(reader, rules.policy(), strict)?;
            let noun = if lines == 1 { "line" } else { "lines" };
            println!("{lines} {noun}: {} valid, {bad} bad", lines - bad);
            if bad > 0 {
                bail!("{bad} bad line(s)");
            }
        }
        Command::Rules { action } => rules::run(action)?,
    }
    Ok(())
}

/// `run`: rules, metrics and signals here; the service owns its tasks.
fn run_live(cfg: Config) -> Result<()> {
    use tokio_util::sync::CancellationToken;
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
    // The effective configuration, secrets redacted (passwords and option
    // values are never shown).
    tracing::info!(ruleset_version = rules.version(), loaded_at = %rules.loaded_at, config = ?cfg, "starting");
    crate::telemetry::describe();
    crate::telemetry::rules_version(None, rules.version());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
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
        let result = crate::service::run(cfg, rules, metrics, shutdown.clone()).await;
        shutdown.cancel();
        let _ = listener.await;
        result.map_err(anyhow::Error::from)
    })
}

/// The ClickHouse sink of a replay; its tokens name the input and the rules,
/// so replaying the same file with the same rules stores nothing twice.
fn open_warehouse(
    cfg: crate::config::ClickHouseConfig,
    input: &Path,
    rules: &RuleSet,
) -> Result<crate::sink::clickhouse::ClickHouseSink> {
    use sha2::{Digest, Sha256};
    let meta = std::fs::metadata(input).with_context(|| format!("reading {}", input.display()))?;
    let mut h = Sha256::new();
    h.update(format!(
        "{}|{}|{}",
        input.display(),
        meta.len(),
        rules.version()
    ));
    let run: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if !crate::sink::clickhouse::valid_database(&cfg.database) {
        bail!(
            "--clickhouse-database {:?} must be a plain identifier",
            cfg.database
        );
    }
    Ok(crate::sink::clickhouse::ClickHouseSink::open(
        &cfg,
        format!("replay-{run}"),
    )?)
}
