//! Live-mode test harness: a real broker (started by scripts/test.sh), the
//! real binary, and a reader of the output topics.
#![allow(dead_code)]

pub mod warehouse;

use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::driver::replay::replay_reader;
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

pub fn brokers() -> String {
    std::env::var("COMPLAINTFLOW_TEST_BROKERS")
        .expect("COMPLAINTFLOW_TEST_BROKERS is not set: run the tests with scripts/test.sh, which starts the broker")
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
    pub fn new(name: &str, partitions: i32) -> Setup {
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
state_topic = "{prefix}.state"
partitions = {partitions}
session_timeout_ms = 6000
[kafka.options]
# Tansu (the test broker) assigns overlapping offsets to a batch that
# follows a multi-record batch, and to concurrent produce requests for one
# partition: one record per batch and one request in flight keep them right.
"batch.num.messages" = "1"
"max.in.flight.requests.per.connection" = "1"
[http]
listen = "127.0.0.1:{http_port}"
[run]
tick_ms = 500
"#,
            brokers = brokers()
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

/// Produces lines to the input topic, keyed by complaint id.
pub async fn produce(topic: &str, lines: &[String]) {
    // One record per batch: see the note on Tansu in Setup::new.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("batch.num.messages", "1")
        .create()
        .unwrap();
    let sends = lines.iter().map(|line| {
        let key = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v["complaint_id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let producer = &producer;
        async move {
            let rec: FutureRecord<'_, str, str> = FutureRecord::to(topic)
                .key(key.as_str())
                .payload(line.as_str());
            producer
                .send(rec, Duration::from_secs(10))
                .await
                .map_err(|(e, _)| e)
                .unwrap();
        }
    });
    futures::future::join_all(sends).await;
}

/// Reads every message of a topic (all partitions) from the beginning.
pub fn read_topic(topic: &str) -> Vec<Vec<u8>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("{topic}.reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let meta = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    let mut ends: HashMap<i32, (i64, i64)> = HashMap::new();
    for p in meta.topics()[0].partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
            .unwrap();
        if high > low {
            tpl.add_partition_offset(topic, p.id(), Offset::Offset(low))
                .unwrap();
            ends.insert(p.id(), (low, high));
        }
    }
    let mut out = Vec::new();
    if ends.is_empty() {
        return out;
    }
    consumer.assign(&tpl).unwrap();
    // To the high watermark and then a quiet spell: Tansu reports the high
    // watermark as the last batch's base offset + 1.
    let start = Instant::now();
    let mut last = Instant::now();
    while (ends.values().any(|(next, high)| next < high)
        || last.elapsed() < Duration::from_millis(700))
        && start.elapsed() < Duration::from_secs(30)
    {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            last = Instant::now();
            if let Some(e) = ends.get_mut(&m.partition())
                && m.offset() >= e.0
            {
                e.0 = m.offset() + 1;
                out.push(m.payload().unwrap_or_default().to_vec());
            }
        }
    }
    out
}

/// Output records of a topic by their id field; panics if one id has two contents.
pub fn by_id(topic: &str, id_field: &str) -> HashMap<String, serde_json::Value> {
    let mut map = HashMap::new();
    for bytes in read_topic(topic) {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let id = v[id_field].as_str().unwrap().to_string();
        if let Some(old) = map.insert(id.clone(), v.clone()) {
            assert_eq!(old, v, "output id {id} appears with different content");
        }
    }
    map
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

/// A demo stream (times in the past) and what replay makes of it with the
/// clock at `until`.
pub fn scenario(complaints: usize, seed: u64) -> Vec<String> {
    let rules = RuleSet::embedded();
    generate(
        &DemoConfig {
            complaints,
            seed,
            days: 2,
            ..DemoConfig::default()
        },
        &rules,
    )
}

pub fn replay_expected(
    lines: &[String],
    until: chrono::DateTime<chrono::Utc>,
    rules_dir: &Path,
) -> MemorySink {
    let rules = RuleSet::load_dir(rules_dir).unwrap();
    let mut sink = MemorySink::default();
    replay_reader(
        lines.join("\n").as_bytes(),
        "expected",
        &rules,
        Some(until),
        &mut sink,
        |_| {},
    )
    .unwrap();
    sink
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

pub fn shipped_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// A copy of the shipped rules in `to` whose acknowledge target is `secs`.
pub fn rules_with_ack_target(to: &Path, secs: u64) {
    std::fs::create_dir_all(to.join("tests")).unwrap();
    for sub in ["", "tests"] {
        for e in std::fs::read_dir(shipped_rules().join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, to.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let sla = std::fs::read_to_string(to.join("sla.toml")).unwrap();
    std::fs::write(
        to.join("sla.toml"),
        sla.replace(
            "acknowledge = \"10m\"",
            &format!("acknowledge = \"{secs}s\""),
        ),
    )
    .unwrap();
}

/// `complaint.received` events happening now, one per id.
pub fn received_now(ids: &[String]) -> Vec<String> {
    let now = chrono::Utc::now().to_rfc3339();
    ids.iter()
        .map(|id| {
            serde_json::json!({"event_id": format!("{id}-r"), "type": "complaint.received", "complaint_id": id, "occurred_at": now,
                "channel": "phone", "customer": {"id": "K9", "name": "N"}, "description": "家里宽带断网了", "impact": "single"})
            .to_string()
        })
        .collect()
}
