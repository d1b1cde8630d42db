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

    fn config_only(name: &str, partitions: i32) -> Setup {
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

/// Creates a topic (blocking), as an operator would before starting.
pub fn create_topic(topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results =
        futures::executor::block_on(admin.create_topics([&new], &AdminOptions::new())).unwrap();
    for r in results {
        r.unwrap();
    }
}

/// Partitions of a topic, from the broker's metadata.
pub fn partitions_of(topic: &str) -> i32 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let meta = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    meta.topics()[0].partitions().len() as i32
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
    // One record per batch: after a multi-record batch the test broker's
    // offset query reports less than the end (tests/broker.rs), and readers
    // of the input (read_topic, the service's restore) use that query.
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
    // To the high watermark and then a quiet spell: after a multi-record
    // batch, the test broker's offset query reports less than the end
    // (tests/broker.rs), and the service's output is batched.
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

/// The offsets `group` has committed on `topic`, by partition (records
/// before them are done); partitions without a commit are left out.
pub fn committed(group: &str, topic: &str) -> HashMap<i32, i64> {
    let partitions = partitions_of(topic);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    got.elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
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

pub fn ids<T: serde::Serialize>(rows: &[T], field: &str) -> HashMap<String, serde_json::Value> {
    rows.iter()
        .map(|r| {
            let v = serde_json::to_value(r).unwrap();
            (v[field].as_str().unwrap().to_string(), v)
        })
        .collect()
}

pub type Outputs = HashMap<String, serde_json::Value>;

/// What a failing comparison needs: one missing complaint's SLA events on
/// both sides, its inputs and dead letters, and the service logs.
pub fn explain(
    setup: &Setup,
    lines: &[&String],
    want: &Outputs,
    got: &Outputs,
    missing: Option<&str>,
) -> String {
    let Some(cid) = missing.and_then(|m| m.split(':').next()) else {
        return setup.all_logs();
    };
    let of = |m: &Outputs| {
        let mut v: Vec<String> = m
            .values()
            .filter(|v| v["complaint_id"] == cid)
            .map(|v| {
                format!(
                    "{} at={} deadline={}",
                    v["event_id"], v["at"], v["deadline"]
                )
            })
            .collect();
        v.sort();
        v
    };
    let inputs: Vec<_> = lines
        .iter()
        .filter(|l| l.contains(&format!("\"{cid}\"")))
        .collect();
    let dlq: Vec<String> = read_topic(&setup.topic("dlq"))
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .filter(|d| d.contains(cid))
        .collect();
    format!(
        "{cid}: want {:#?}\ngot {:#?}\ninputs {inputs:#?}\ndead letters {dlq:#?}\n{}",
        of(want),
        of(got),
        setup.all_logs()
    )
}

/// Every expected output id is there with the same content, and nothing
/// else. `parts` are streams fed to the service at different times, each in
/// time order; the expectation is their replays together (complaints are
/// independent of each other).
pub fn assert_same_outputs(
    setup: &Setup,
    parts: &[&[String]],
    within: Duration,
    rules: &std::path::Path,
) {
    let until = chrono::Utc::now();
    let mut expected = complaintflow::sink::file::MemorySink::default();
    for part in parts {
        let one = replay_expected(part, until, rules);
        expected.sla.extend(one.sla);
        expected.decisions.extend(one.decisions);
        expected.dead_letters.extend(one.dead_letters);
    }
    let lines: Vec<&String> = parts.iter().flat_map(|p| p.iter()).collect();
    let want_sla = ids(&expected.sla, "event_id");
    let want_dec = ids(&expected.decisions, "decision_id");
    let mut got_sla = HashMap::new();
    let complete = eventually(within, || {
        got_sla = by_id(&setup.topic("sla"), "event_id");
        got_sla.len() >= want_sla.len()
    });
    let missing: Vec<&String> = want_sla
        .keys()
        .filter(|k| !got_sla.contains_key(*k))
        .take(5)
        .collect();
    if !complete || !missing.is_empty() {
        panic!(
            "{} of {} SLA events arrived; missing e.g. {missing:?}\n{}",
            got_sla.len(),
            want_sla.len(),
            explain(
                setup,
                &lines,
                &want_sla,
                &got_sla,
                missing.first().map(|m| m.as_str())
            )
        );
    }
    for (id, v) in &want_sla {
        assert_eq!(&got_sla[id], v, "SLA event {id} differs from replay");
    }
    assert_eq!(
        got_sla.len(),
        want_sla.len(),
        "live produced SLA events replay did not"
    );
    let got_dec = by_id(&setup.topic("decisions"), "decision_id");
    assert_eq!(got_dec, want_dec);
    let mut want_dlq: Vec<(String, String)> = expected
        .dead_letters
        .iter()
        .map(|d| (d.payload.clone(), d.reason.clone()))
        .collect();
    // One dead letter per input record (its source): a redelivered record
    // gives the same one again, while two records may carry equal payloads.
    // (Its time may differ: it is the partition's clock when judged.)
    let mut by_source: HashMap<String, (String, String)> = HashMap::new();
    for bytes in read_topic(&setup.topic("dlq")) {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let pr = (
            v["payload"].as_str().unwrap().to_string(),
            v["reason"].as_str().unwrap().to_string(),
        );
        let source = v["source"].as_str().unwrap().to_string();
        if let Some(old) = by_source.insert(source.clone(), pr.clone()) {
            assert_eq!(old, pr, "dead letters of {source} differ");
        }
    }
    let mut got_dlq: Vec<(String, String)> = by_source.into_values().collect();
    want_dlq.sort();
    got_dlq.sort();
    assert_eq!(got_dlq, want_dlq);
}

/// A broker of the test's own (the Tansu binary scripts/test.sh installed),
/// for a test that pauses it; stopped when dropped.
pub struct OwnBroker {
    pub addr: String,
    child: Child,
}

impl OwnBroker {
    pub fn start() -> OwnBroker {
        let bin = std::env::var("COMPLAINTFLOW_TEST_TANSU_BIN")
            .expect("COMPLAINTFLOW_TEST_TANSU_BIN is not set: run the tests with scripts/test.sh");
        let addr = format!("127.0.0.1:{}", free_port());
        let url = format!("tcp://{addr}");
        let child = Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let up = eventually(Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).is_ok()
        });
        assert!(up, "own broker did not listen on {addr}");
        OwnBroker { addr, child }
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`): the process freezes, its
    /// connections stay open, as with a long GC pause or a stalled disk.
    pub fn freeze(&self, frozen: bool) {
        let sig = if frozen { "-STOP" } else { "-CONT" };
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} on the own broker");
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
