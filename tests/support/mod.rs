//! Live-mode test harness: a real broker (started by scripts/test.sh), the
//! real binary, and a reader of the output topics.
#![allow(dead_code, unused_imports)]

pub mod compare;
pub mod inputs;
pub mod kafka;
pub mod own_broker;
pub mod receiver;
pub mod tls;
pub mod warehouse;

pub use compare::*;
pub use inputs::*;
pub use kafka::*;
pub use own_broker::*;
pub use receiver::*;
pub use tls::*;

use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::driver::replay::{Bounds, replay_reader};
use complaintflow::rules::RuleSet;
use complaintflow::sink::file::MemorySink;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set once by a test process that talks to the broker over TLS only.
static OVER_TLS: std::sync::OnceLock<()> = std::sync::OnceLock::new();

/// From now on, this process's clients and services reach the broker that
/// scripts/test.sh put behind TLS, trusting the CA it made.
pub fn use_tls_broker() {
    OVER_TLS.get_or_init(|| ());
}

pub fn env_of_test(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with scripts/test.sh, which starts the servers")
    })
}

pub fn brokers() -> String {
    if OVER_TLS.get().is_some() {
        env_of_test("COMPLAINTFLOW_TEST_TLS_BROKERS")
    } else {
        env_of_test("COMPLAINTFLOW_TEST_BROKERS")
    }
}

/// The CA scripts/test.sh signed its TLS endpoints' certificates with.
pub fn test_ca_file() -> String {
    env_of_test("COMPLAINTFLOW_TEST_CA_FILE")
}

/// librdkafka options for the broker this process uses (TLS or plain).
pub fn broker_options() -> Vec<(&'static str, String)> {
    if OVER_TLS.get().is_some() {
        vec![
            ("security.protocol", "SSL".to_string()),
            ("ssl.ca.location", test_ca_file()),
        ]
    } else {
        Vec::new()
    }
}

/// `[kafka.options]` with these lines; nothing when there are none.
pub fn options_table(options: &[(&str, String)]) -> String {
    if options.is_empty() {
        return String::new();
    }
    let lines: String = options
        .iter()
        .map(|(k, v)| format!("{k:?} = {v:?}\n"))
        .collect();
    format!("[kafka.options]\n{lines}")
}

/// A client of the tests' own (admin, reader, producer) for that broker.
pub fn test_client() -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers());
    for (k, v) in broker_options() {
        c.set(k, v);
    }
    c
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Topics and group unique to one test.
pub struct Setup {
    pub prefix: String,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub http_port: u16,
}

impl Setup {
    /// Topics of `partitions` partitions, the input topic created now (so a
    /// backlog can be produced before the service starts).
    pub fn new(name: &str, partitions: i32) -> Setup {
        Setup::with_input_partitions(name, partitions, partitions)
    }

    /// `kafka.partitions` is `partitions`; the input topic is created now
    /// with `input_partitions`.
    pub fn with_input_partitions(name: &str, partitions: i32, input_partitions: i32) -> Setup {
        let setup = Setup::config_only(name, partitions);
        create_topic(&setup.topic("events"), input_partitions);
        setup
    }

    /// The config alone: no topic exists yet.
    pub fn config_only(name: &str, partitions: i32) -> Setup {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let prefix = format!("{name}-{}-{}", std::process::id(), nanos % 1_000_000_000);
        let dir = tempfile::tempdir().unwrap();
        let http_port = free_port();
        let config = dir.path().join("complaintflow.toml");
        let text = format!(
            r#"[kafka]
brokers = "{brokers}"
group = "{prefix}"
input_topic = "{prefix}.events"
decisions_topic = "{prefix}.decisions"
sla_topic = "{prefix}.sla"
dlq_topic = "{prefix}.dlq"
status_topic = "{prefix}.status"
state_topic = "{prefix}.state"
partitions = {partitions}
session_timeout_ms = 6000
{options}[http]
listen = "127.0.0.1:{http_port}"
[run]
tick_ms = 500
"#,
            brokers = brokers(),
            options = options_table(&broker_options())
        );
        std::fs::write(&config, text).unwrap();
        Setup {
            prefix,
            dir,
            config,
            http_port,
        }
    }

    /// A copy of the config with `run_extra` lines added under `[run]`.
    pub fn config_with(&self, name: &str, run_extra: &str) -> PathBuf {
        let text = std::fs::read_to_string(&self.config)
            .unwrap()
            .replace("[run]\n", &format!("[run]\n{run_extra}\n"));
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn topic(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    /// Starts `complaintflow run`; `extra` are more flags.
    pub fn start(&self, extra: &[&str], http_port: u16) -> Service {
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let log =
            std::fs::File::create(self.dir.path().join(format!("run-{http_port}.log"))).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_complaintflow"));
        let config = extra
            .iter()
            .position(|a| *a == "--config")
            .map_or(self.config.clone(), |i| PathBuf::from(extra[i + 1]));
        cmd.args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--http-listen",
            &format!("127.0.0.1:{http_port}"),
        ]);
        let extra: Vec<&str> = extra
            .iter()
            .enumerate()
            .filter(|(i, a)| **a != "--config" && (*i == 0 || extra[i - 1] != "--config"))
            .map(|(_, a)| *a)
            .collect();
        let extra = extra.as_slice();
        if !extra.contains(&"--rules") {
            cmd.args(["--rules", rules.to_str().unwrap()]);
        }
        cmd.args(extra)
            .env(
                "COMPLAINTFLOW_LOG",
                "info,complaintflow::driver::live=debug",
            )
            .stdout(Stdio::null())
            .stderr(log);
        Service(cmd.spawn().expect("binary starts"))
    }

    /// Logs of every instance this test started.
    pub fn all_logs(&self) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(self.dir.path()).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap().to_str().unwrap().starts_with("run-") {
                out += &format!(
                    "==== {}\n{}",
                    p.display(),
                    std::fs::read_to_string(&p).unwrap_or_default()
                );
            }
        }
        out
    }

    pub fn log(&self, http_port: u16) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("run-{http_port}.log")))
            .unwrap_or_default()
    }
}

/// GET on the operations endpoint; `None` when it does not answer.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// A counter or gauge of `/metrics`, 0 when absent; labelled series are
/// summed when `name` has no labels.
pub fn metric(port: u16, name: &str) -> f64 {
    let Some((_, body)) = http_get(port, "/metrics") else {
        return 0.0;
    };
    body.lines()
        .filter(|l| {
            l.strip_prefix(name).is_some_and(|rest| {
                rest.starts_with(' ') || (!name.contains('{') && rest.starts_with('{'))
            })
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Input records the service on `port` has taken so far (accepted,
/// repeated or dead-lettered), from its metrics.
pub fn records_taken(port: u16) -> usize {
    [
        "complaintflow_events_in_total",
        "complaintflow_duplicates_total",
        "complaintflow_dead_letters_total",
    ]
    .iter()
    .map(|m| metric(port, m))
    .sum::<f64>() as usize
}

/// Waits until `/readyz` answers 200.
pub fn wait_ready(port: u16, within: Duration) {
    let start = Instant::now();
    while start.elapsed() < within {
        if http_get(port, "/readyz").is_some_and(|(s, _)| s == 200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("service on port {port} not ready within {within:?}");
}

/// Polls until `f` holds or the time is up.
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    f()
}

/// A running service; killed when dropped so a failing test leaves nothing behind.
pub struct Service(pub Child);

impl Service {
    pub fn signal(&self, signal: &str) {
        Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()
            .unwrap();
    }
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.0.wait().unwrap()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until every one of `ids` has a decision; panics with the logs if not.
pub fn wait_decided(setup: &Setup, ids: &[String], within: Duration) {
    let mut got = HashMap::new();
    let all = eventually(within, || {
        got = by_id(&setup.topic("decisions"), "decision_id");
        ids.iter()
            .all(|id| got.contains_key(&format!("{id}:0:decision")))
    });
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !got.contains_key(&format!("{id}:0:decision")))
        .collect();
    assert!(all, "not decided: {missing:?}\n{}", setup.all_logs());
}
