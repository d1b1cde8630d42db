//! Kafka benchmark, same broker, same topic, same run: the raw consume rate
//! of a plain consumer against complaintflow's processing rate (parse,
//! rules, lifecycle, outputs and state produced, offsets stored).
//! Needs COMPLAINTFLOW_TEST_BROKERS; `scripts/bench.sh` starts a broker.

mod common;

use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::rules::RuleSet;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("kafka bench: run with scripts/bench.sh (starts a broker)");
        return;
    }
    let brokers = std::env::var("COMPLAINTFLOW_TEST_BROKERS")
        .expect("COMPLAINTFLOW_TEST_BROKERS: run scripts/bench.sh");
    let complaints: usize = std::env::var("BENCH_KAFKA_COMPLAINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25_000);
    let prefix = format!("bench-{}", std::process::id());
    let k = common::topics(&brokers, &prefix, 3).await;

    let lines = generate(
        &DemoConfig {
            complaints,
            days: 14,
            ..DemoConfig::default()
        },
        &RuleSet::embedded(),
    );
    let n = lines.len();
    let t = Instant::now();
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
    common::produce(&brokers, &records).await;
    println!("produced {n} events in {:.2} s", t.elapsed().as_secs_f64());

    // Raw consume: every message of the topic, nothing else done.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("{prefix}.raw"))
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..k.partitions {
        tpl.add_partition_offset(&k.input_topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut got = 0usize;
    let mut first = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    while got < n && Instant::now() < deadline {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(100)) {
            first.get_or_insert_with(Instant::now);
            got += 1;
        }
    }
    let raw_secs = first.expect("consumed something").elapsed().as_secs_f64();
    let raw = got as f64 / raw_secs;
    println!("raw consume:      {raw:>10.0} msg/s  ({got} messages in {raw_secs:.2} s)");
    drop(consumer);

    // complaintflow on the same topic.
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
            "[kafka]\nbrokers = \"{brokers}\"\ngroup = \"{prefix}\"\ninput_topic = \"{}\"\ndecisions_topic = \"{}\"\nsla_topic = \"{}\"\ndlq_topic = \"{}\"\nstate_topic = \"{}\"\npartitions = 3\nsession_timeout_ms = 6000\n[run]\nbatch_max = 5000\n[http]\nlisten = \"127.0.0.1:{port}\"\n",
            k.input_topic, k.decisions_topic, k.sla_topic, k.dlq_topic, k.state_topic
        ),
    )
    .unwrap();
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut child = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let counted = [
        "complaintflow_events_in_total",
        "complaintflow_duplicates_total",
        "complaintflow_dead_letters_total",
    ];
    let mut first = None;
    let mut done = 0.0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        let c = metric_sum(port, &counted).unwrap_or(0.0);
        if c > 0.0 {
            first.get_or_insert_with(Instant::now);
        }
        done = c;
        if c as usize >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let secs = first
        .expect("complaintflow processed something")
        .elapsed()
        .as_secs_f64();
    let rate = done / secs;
    println!(
        "complaintflow:    {rate:>10.0} events/s ({done} events in {secs:.2} s; outputs, state and offsets included)"
    );
    println!("ratio:            {:>10.2} (target >= 0.8)", rate / raw);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
