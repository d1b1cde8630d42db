//! Live mode on the test broker (`scripts/bench.sh` starts one), measured
//! where users feel it:
//! 1. CPU per million events of `run` against `replay` on the same stream,
//!    and against replay plus the Kafka floor: a plain consumer of the same
//!    input records and a plain producer of the records the service wrote;
//! 2. end-to-end latency, produce to decision readable, at a steady rate;
//! 3. timer punctuality with many open complaints on the wall clock;
//! 4. restoring a million open complaints after a restart: seconds, RSS.
//!
//! Sizes: BENCH_KAFKA_COMPLAINTS, BENCH_LATENCY_RATE/_SECS,
//! BENCH_TIMER_COMPLAINTS, BENCH_RESTORE_COMPLAINTS; BENCH_ONLY=cpu,latency,...
//! To look into the broker: BENCH_ECHO_FANOUT=N also writes each echo record
//! to N more topics (as the service writes four), BENCH_IDEMPOTENT=true
//! makes the echo producer idempotent, BENCH_KAFKA_OPTIONS adds librdkafka
//! options to the service, BENCH_LOG(_LEVEL) keeps its log.

mod common;

use complaintflow::config::KafkaConfig;
use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::rules::RuleSet;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn metric_sum(port: u16, names: &[&str]) -> Option<f64> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(
        text.lines()
            .filter(|l| names.iter().any(|n| l.starts_with(n)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum(),
    )
}

fn ready(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = write!(
        s,
        "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.starts_with("HTTP/1.1 200")
}

/// Seconds of CPU (user + system) from a `/proc/.../stat` line: fields
/// 14, 15 (own) or 16, 17 (waited-for children), in clock ticks of 1/100 s.
fn cpu_from_stat(stat: &str, children: bool) -> f64 {
    let after = &stat[stat.rfind(')').expect("stat has the command") + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let (a, b) = if children { (13, 14) } else { (11, 12) };
    (f[a].parse::<f64>().unwrap() + f[b].parse::<f64>().unwrap()) / 100.0
}

fn proc_cpu(pid: u32) -> f64 {
    cpu_from_stat(
        &std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap(),
        false,
    )
}

fn children_cpu() -> f64 {
    cpu_from_stat(&std::fs::read_to_string("/proc/self/stat").unwrap(), true)
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

struct Service {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Service {
    fn start(k: &KafkaConfig, run_extra: &str) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("bench.toml");
        std::fs::write(
            &config,
            format!(
                "[kafka]\nbrokers = \"{}\"\ngroup = \"{}\"\ninput_topic = \"{}\"\ndecisions_topic = \"{}\"\nsla_topic = \"{}\"\ndlq_topic = \"{}\"\nstatus_topic = \"{}\"\nstate_topic = \"{}\"\npartitions = {}\nsession_timeout_ms = 6000\n[run]\n{run_extra}\n[http]\nlisten = \"127.0.0.1:{port}\"\n{}",
                k.brokers,
                k.group,
                k.input_topic,
                k.decisions_topic,
                k.sla_topic,
                k.dlq_topic,
                k.status_topic,
                k.state_topic,
                k.partitions,
                std::env::var("BENCH_KAFKA_OPTIONS")
                    .map(|o| format!("[kafka.options]\n{o}\n"))
                    .unwrap_or_default()
            ),
        )
        .unwrap();
        let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let child = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
            .args(["run", "--config", config.to_str().unwrap()])
            .args(["--rules", rules.to_str().unwrap()])
            .env(
                "COMPLAINTFLOW_LOG",
                std::env::var("BENCH_LOG_LEVEL").unwrap_or("warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(match std::env::var("BENCH_LOG") {
                Ok(path) => Stdio::from(std::fs::File::create(path).unwrap()),
                Err(_) => Stdio::null(),
            })
            .spawn()
            .unwrap();
        Service {
            child,
            port,
            _dir: dir,
        }
    }

    fn wait_ready(&self, within: Duration) -> Duration {
        let start = Instant::now();
        while !ready(self.port) {
            assert!(start.elapsed() < within, "service not ready in {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        start.elapsed()
    }

    /// Waits until the service has taken `n` input records.
    fn wait_taken(&self, n: usize, within: Duration) {
        let counted = [
            "complaintflow_events_in_total",
            "complaintflow_duplicates_total",
            "complaintflow_dead_letters_total",
        ];
        let start = Instant::now();
        loop {
            let c = metric_sum(self.port, &counted).unwrap_or(0.0) as usize;
            if c >= n {
                return;
            }
            assert!(start.elapsed() < within, "{c} of {n} records in {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn reader(brokers: &str, topic: &str, partitions: i32) -> BaseConsumer {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{topic}.bench-reader"))
        .set("fetch.wait.max.ms", "5")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    c
}

fn received_line(id: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        r#"{{"event_id":"{id}-r","type":"complaint.received","complaint_id":"{id}","occurred_at":"{}","channel":"phone","customer":{{"id":"K-{id}","name":"N"}},"description":"家里宽带断网了，光猫红灯","impact":"single"}}"#,
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    )
}

/// Figure 1: CPU of `run` per million events against `replay` of the same lines.
async fn cpu_ratio(brokers: &str, prefix: &str) {
    let complaints = env_num("BENCH_KAFKA_COMPLAINTS", 25_000);
    let k = common::topics(brokers, &format!("{prefix}-cpu"), 3).await;
    let cfg = DemoConfig {
        complaints,
        days: 14,
        ..DemoConfig::default()
    };
    let lines = generate(&cfg, &RuleSet::embedded());
    let n = lines.len();
    let records: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                k.input_topic.as_str(),
                common::key_of(l),
                l.clone().into_bytes(),
            )
        })
        .collect();
    common::produce(brokers, &records).await;

    let svc = Service::start(&k, "batch_max = 5000");
    let start = Instant::now();
    svc.wait_taken(n, Duration::from_secs(600));
    let wall = start.elapsed().as_secs_f64();
    let run_cpu = proc_cpu(svc.child.id());
    svc.stop();

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let before = children_cpu();
    let now = cfg.end().to_rfc3339();
    let status = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args(["replay", "--input", input.to_str().unwrap()])
        .args(["--out", dir.path().join("out").to_str().unwrap()])
        .args(["--now", &now])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let replay_cpu = children_cpu() - before;
    let written = written(brokers, &k);
    let floor_cpu = kafka_floor(brokers, &k, n, &written);
    let per_m = |cpu: f64| cpu * 1e6 / n as f64;
    let bytes: usize = written.iter().map(|(_, _, size)| size).sum();
    println!(
        "live efficiency:  {:>10.2} x replay's CPU: run {:.1} CPU-s per million events ({n} events, 3 partitions, {:.0} events/s), replay {:.1} CPU-s per million",
        run_cpu / replay_cpu,
        per_m(run_cpu),
        n as f64 / wall,
        per_m(replay_cpu)
    );
    println!(
        "kafka floor:      {:>10.1} CPU-s per million events (a plain consumer of the {n} input records, a plain producer of the {} output records, {:.1} MiB, the service wrote)",
        per_m(floor_cpu),
        written.len(),
        bytes as f64 / (1 << 20) as f64
    );
    println!(
        "live against replay + floor: {:.2} (target <= 1.2): run {:.1}, replay {:.1} + floor {:.1} CPU-s per million",
        run_cpu / (replay_cpu + floor_cpu),
        per_m(run_cpu),
        per_m(replay_cpu),
        per_m(floor_cpu)
    );
}

/// The records the service wrote to its output and state topics: topic,
/// key and payload size (a tombstone: 0).
fn written(brokers: &str, k: &KafkaConfig) -> Vec<(String, Vec<u8>, usize)> {
    let topics = [
        &k.decisions_topic,
        &k.sla_topic,
        &k.dlq_topic,
        &k.status_topic,
        &k.state_topic,
    ];
    let mut out = Vec::new();
    for topic in topics {
        let c = reader(brokers, topic, 3);
        let mut quiet = Instant::now();
        while quiet.elapsed() < Duration::from_secs(3) {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                let size = m.payload().map_or(0, <[u8]>::len);
                out.push((topic.clone(), m.key().unwrap_or_default().to_vec(), size));
                quiet = Instant::now();
            }
        }
    }
    out
}

/// CPU seconds of this process for a plain librdkafka consumer reading the
/// `n` input records, plus a plain producer (the service's delivery
/// settings) writing `records` of the same topics, keys and sizes.
fn kafka_floor(
    brokers: &str,
    k: &KafkaConfig,
    n: usize,
    records: &[(String, Vec<u8>, usize)],
) -> f64 {
    let before = proc_cpu(std::process::id());
    let c = reader(brokers, &k.input_topic, 3);
    let (mut read, mut bytes) = (0usize, 0usize);
    let deadline = Instant::now() + Duration::from_secs(600);
    while read < n && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            bytes += m.payload().map_or(0, <[u8]>::len);
            read += 1;
        }
    }
    assert_eq!(
        read, n,
        "the floor's consumer read every input record ({bytes} bytes)"
    );
    drop(c);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let filler = vec![b'x'; records.iter().map(|r| r.2).max().unwrap_or(0)];
    for (topic, key, size) in records {
        let mut rec = BaseRecord::<[u8], [u8]>::to(topic).key(key.as_slice());
        if *size > 0 {
            rec = rec.payload(&filler[..*size]);
        }
        while let Err((e, back)) = producer.send(rec) {
            assert!(
                matches!(
                    e.rdkafka_error_code(),
                    Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                ),
                "floor produce: {e}"
            );
            producer.poll(Duration::from_millis(2));
            rec = back;
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(120))
        .expect("floor records delivered");
    proc_cpu(std::process::id()) - before
}

/// Produces new complaints to `input` at `rate`/s for `secs` s and returns
/// the milliseconds until each one's record is read from `output`.
fn produce_and_time(
    brokers: &str,
    input: &str,
    output: &str,
    partitions: i32,
    tag: &str,
) -> Vec<f64> {
    let rate = env_num("BENCH_LATENCY_RATE", 2_000);
    let secs = env_num("BENCH_LATENCY_SECS", 60);
    let sent: std::sync::Arc<std::sync::Mutex<HashMap<String, Instant>>> = Default::default();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reading = {
        let (sent, stop) = (sent.clone(), stop.clone());
        let c = reader(brokers, output, partitions);
        std::thread::spawn(move || {
            let mut lat = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(Ok(m)) = c.poll(Duration::from_millis(10)) {
                    let now = Instant::now();
                    let v: serde_json::Value =
                        serde_json::from_slice(m.payload().unwrap_or_default()).unwrap();
                    let id = v["complaint_id"].as_str().unwrap_or_default();
                    if let Some(t) = sent.lock().unwrap().get(id) {
                        lat.push(now.duration_since(*t).as_secs_f64() * 1000.0);
                    }
                }
            }
            lat
        })
    };
    // An adapter's usual setting: records of 5 ms go in one batch. (With
    // linger 0 every record is a batch, and the test broker returns one
    // batch per partition per fetch: its readers fall behind at 2,000/s.)
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set(
            "enable.idempotence",
            std::env::var("BENCH_IDEMPOTENT").unwrap_or("false".into()),
        )
        .create()
        .unwrap();
    let start = Instant::now();
    for i in 0..rate * secs {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let id = format!("{tag}-L{i}");
        let line = received_line(&id, chrono::Utc::now());
        sent.lock().unwrap().insert(id.clone(), Instant::now());
        let fanout = env_num("BENCH_ECHO_FANOUT", 0);
        for t in 0..=fanout {
            let topic = if t == 0 {
                input.to_string()
            } else {
                format!("{input}.fan{t}")
            };
            let mut rec = BaseRecord::to(&topic).key(&id).payload(&line);
            loop {
                match producer.send(rec) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        producer.poll(Duration::from_millis(1));
                        rec = r;
                    }
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut lat = reading.join().unwrap();
    if std::env::var("BENCH_DEBUG").is_ok() {
        for chunk in lat.chunks(lat.len().div_ceil(10).max(1)) {
            let mut c = chunk.to_vec();
            c.sort_by(f64::total_cmp);
            eprintln!(
                "  {tag}: p50 {:.1} ms over {} records",
                percentile(&c, 0.5),
                c.len()
            );
        }
    }
    lat.sort_by(f64::total_cmp);
    assert!(!lat.is_empty(), "nothing read from {output}");
    lat
}

/// Figure 2: produce to decision readable, new complaints at a steady rate; and
/// the broker alone (produce to read of the same records) for comparison.
async fn latency(brokers: &str, prefix: &str) {
    let (rate, secs) = (
        env_num("BENCH_LATENCY_RATE", 2_000),
        env_num("BENCH_LATENCY_SECS", 60),
    );
    let k = common::topics(brokers, &format!("{prefix}-echo"), 3).await;
    let echo = produce_and_time(brokers, &k.input_topic, &k.input_topic, 3, "echo");
    let k = common::topics(brokers, &format!("{prefix}-lat"), 3).await;
    let svc = Service::start(&k, "");
    svc.wait_ready(Duration::from_secs(60));
    let lat = produce_and_time(brokers, &k.input_topic, &k.decisions_topic, 3, "decision");
    svc.stop();
    println!(
        "latency:          p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (targets 50 / 250 ms; {} decisions; {rate}/s for {secs} s; run.batch_wait_ms 20, producer linger.ms 5); the broker alone: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1],
        lat.len(),
        percentile(&echo, 0.5),
        percentile(&echo, 0.99),
    );
}

/// Figure 3: open complaints whose acknowledge breaches fall due one after another
/// over a minute on the wall clock: how late each `breached` is emitted.
async fn timers(brokers: &str, prefix: &str) {
    let n = env_num("BENCH_TIMER_COMPLAINTS", 100_000);
    let k = common::topics(brokers, &format!("{prefix}-tim"), 3).await;
    // Breach at received + 10 min (acknowledge) + 5 min (lateness).
    let first_due = chrono::Utc::now() + chrono::Duration::seconds(45);
    let fire_after = chrono::Duration::minutes(15);
    let spread = 60.0;
    let records: Vec<_> = (0..n)
        .map(|i| {
            let id = format!("{prefix}-T{i}");
            let due = first_due
                + chrono::Duration::milliseconds((i as f64 * spread * 1000.0 / n as f64) as i64);
            (
                k.input_topic.as_str(),
                id.clone(),
                received_line(&id, due - fire_after).into_bytes(),
            )
        })
        .collect();
    let svc = Service::start(&k, "");
    common::produce(brokers, &records).await;
    let c = reader(brokers, &k.sla_topic, k.partitions);
    let mut late = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(45 + spread as u64 + 60);
    while late.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(10)) {
            let now = chrono::Utc::now();
            let v: serde_json::Value =
                serde_json::from_slice(m.payload().unwrap_or_default()).unwrap();
            if v["kind"] == "breached" && v["stage"] == "acknowledge" {
                let d: chrono::DateTime<chrono::Utc> =
                    v["deadline"].as_str().unwrap().parse().unwrap();
                let due = d + chrono::Duration::minutes(5);
                late.push((now - due).num_milliseconds() as f64 / 1000.0);
            }
        }
    }
    svc.stop();
    late.sort_by(f64::total_cmp);
    assert!(!late.is_empty(), "no breach read");
    println!(
        "timers:           p99 {:.2} s late, p50 {:.2} s, max {:.2} s (target p99 <= 1.5 s; {} of {n} open complaints breached over {spread:.0} s, tick 1 s)",
        percentile(&late, 0.99),
        percentile(&late, 0.5),
        late[late.len() - 1],
        late.len()
    );
}

/// Figure 4: a million open complaints in state; a second instance restores them.
async fn restore(brokers: &str, prefix: &str) {
    let n = env_num("BENCH_RESTORE_COMPLAINTS", 1_000_000);
    let k = common::topics(brokers, &format!("{prefix}-rst"), 3).await;
    let now = chrono::Utc::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100_000) {
        let records: Vec<_> = chunk
            .iter()
            .map(|i| {
                let id = format!("{prefix}-R{i}");
                (
                    k.input_topic.as_str(),
                    id.clone(),
                    received_line(&id, now).into_bytes(),
                )
            })
            .collect();
        common::produce(brokers, &records).await;
    }
    let first = Service::start(&k, "batch_max = 5000");
    first.wait_taken(n, Duration::from_secs(1800));
    first.stop();
    let second = Service::start(&k, "");
    let took = second.wait_ready(Duration::from_secs(900));
    let (rss, peak) = rss_mib(second.child.id());
    // The gauges are set on the first tick after the restore.
    std::thread::sleep(Duration::from_millis(1500));
    let open = metric_sum(second.port, &["complaintflow_open_complaints"]).unwrap_or(0.0);
    second.stop();
    println!(
        "restore:          {:>10.1} s for {open:.0} open complaints (target <= 15 s), RSS {rss:.0} MiB, peak {peak:.0} MiB (target <= 1536 MiB)",
        took.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("kafka bench: run with scripts/bench.sh (starts a broker)");
        return;
    }
    let brokers = std::env::var("COMPLAINTFLOW_TEST_BROKERS")
        .expect("COMPLAINTFLOW_TEST_BROKERS: run scripts/bench.sh");
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let on = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);
    let prefix = format!("bench-{}", std::process::id());
    if on("cpu") {
        cpu_ratio(&brokers, &prefix).await;
    }
    if on("latency") {
        latency(&brokers, &prefix).await;
    }
    if on("timers") {
        timers(&brokers, &prefix).await;
    }
    if on("restore") {
        restore(&brokers, &prefix).await;
    }
}
