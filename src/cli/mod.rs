//! Command line: `replay`, `demo`, `rules check|test` (docs/contract.md "Command line").

use crate::config::{Config, Overrides};
use crate::core::Rules;
use crate::driver::demo::{self, DemoConfig};
use crate::driver::replay::{Bounds, replay_file};
use crate::model::Timestamp;
use crate::rules::RuleSet;
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod rules;

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
        action: rules::RulesAction,
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
    clickhouse_url: Option<String>,
    /// Database for `--clickhouse-url`.
    #[arg(long, default_value = "complaints")]
    clickhouse_database: String,
    #[command(flatten)]
    login: ClickHouseLogin,
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
    fn config(&self, url: &str, database: &str) -> crate::config::ClickHouseConfig {
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
    fn config(&self) -> Option<crate::config::ClickHouseConfig> {
        self.clickhouse_url
            .as_ref()
            .map(|url| self.login.config(url, &self.clickhouse_database))
    }
}

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

/// Checks each line as the service would admit it; prints one message per
/// bad line (and unknown fields, as warnings or, `strict`, errors).
/// Returns (lines, bad lines).
fn validate(
    reader: impl std::io::BufRead,
    policy: &crate::core::SlaPolicy,
    strict: bool,
) -> Result<(usize, usize)> {
    let now = chrono::Utc::now();
    let (mut lines, mut bad) = (0, 0);
    for line in crate::source::file::JsonlLines::new(reader) {
        let line = line.context("reading the input")?;
        lines += 1;
        let bytes = match &line.text {
            Ok(t) => t.as_bytes(),
            Err(b) => b.as_slice(),
        };
        match crate::core::admit(bytes, now, policy) {
            Err(r) => {
                bad += 1;
                println!("line {}: {r}", line.number);
            }
            Ok((text, _)) => {
                let unknown = crate::model::event::unknown_fields(text);
                if !unknown.is_empty() {
                    let level = if strict { "error" } else { "warning" };
                    bad += usize::from(strict);
                    println!(
                        "line {}: {level}: unknown field(s) {} (ignored when read)",
                        line.number,
                        unknown.join(", ")
                    );
                }
            }
        }
    }
    Ok((lines, bad))
}

/// The status code of a plain `GET` of an `http://host:port/path` URL.
fn http_status(url: &str) -> Result<u16> {
    use std::io::Read;
    let rest = url.strip_prefix("http://").context("only http:// URLs")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host)?
        .next()
        .context("no address")?;
    let timeout = std::time::Duration::from_secs(3);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    let line = String::from_utf8_lossy(&head);
    line.get(9..12)
        .and_then(|c| c.parse().ok())
        .context("not an HTTP answer")
}

/// Beijing time, the regulation's local days.
const BEIJING: chrono::FixedOffset = match chrono::FixedOffset::east_opt(8 * 3600) {
    Some(z) => z,
    None => panic!("+08:00 is a valid offset"),
};

/// Computes the report of `dir` and writes the page to `out`.
fn write_report(
    dir: &Path,
    out: &Path,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    zone: chrono::FixedOffset,
    rules: &RuleSet,
) -> Result<PathBuf> {
    let rows = crate::report::read_dir(dir, zone)?;
    render_report(&rows, out, from, to, rules)
}

/// Computes the report of `rows` and writes the page to `out`. Open
/// complaints are aged at the latest time the rows know.
fn render_report(
    rows: &crate::report::Rows,
    out: &Path,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    rules: &RuleSet,
) -> Result<PathBuf> {
    let now = rows
        .complaints
        .iter()
        .map(|c| c.updated_at)
        .max()
        .unwrap_or_else(chrono::Utc::now);
    let figures = crate::report::compute(rows, from, to, now);
    let page = crate::report::html::render(&figures, rules.departments());
    std::fs::write(out, page).with_context(|| format!("writing {}", out.display()))?;
    Ok(out.to_path_buf())
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
            let rules = load_rules(rules.as_deref())?;
            let flags = Overrides {
                brokers,
                ..Overrides::default()
            };
            let cfg = Config::load(config.as_deref(), |k| std::env::var(k).ok(), &flags)?;
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
            println!("{lines} lines: {} valid, {bad} bad", lines - bad);
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
    let rules = RuleSet::load_dir(&cfg.rules.dir)
        .with_context(|| format!("loading rules from {}", cfg.rules.dir.display()))?;
    // The effective configuration, secrets redacted (passwords and option
    // values are never shown).
    tracing::info!(ruleset_version = rules.version(), loaded_at = %rules.loaded_at, config = ?cfg, "starting");
    metrics::gauge!("complaintflow_rules_info", "version" => rules.version().to_string()).set(1.0);
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
