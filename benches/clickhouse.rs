//! ClickHouse benchmark, same server, same rows, same run: complaintflow's
//! sink (batches of `max_rows`, one deduplicated INSERT per table per batch,
//! as replay and the live loader write) against a bulk insert (one INSERT
//! per table holding every row, no tokens).
//! With COMPLAINTFLOW_TEST_BROKERS as well, it then measures the live
//! loader: the same records on Kafka topics, loaded by `driver::load`.
//! Needs COMPLAINTFLOW_TEST_CLICKHOUSE; `scripts/bench.sh` starts both.

mod common;

use complaintflow::config::ClickHouseConfig;
use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::driver::replay::Replay;
use complaintflow::rules::RuleSet;
use complaintflow::sink::clickhouse::{Batch, Warehouse, migrate};
use std::time::Instant;

/// The rows cut into batches of `max_rows`, table after table.
fn batches(all: &Batch, max_rows: usize) -> Vec<Batch> {
    let mut out = vec![Batch::default()];
    macro_rules! cut {
        ($field:ident) => {
            for row in &all.$field {
                if out.last().unwrap().rows() >= max_rows {
                    out.push(Batch::default());
                }
                out.last_mut().unwrap().$field.push(row.clone());
            }
        };
    }
    cut!(complaints);
    cut!(events);
    cut!(decisions);
    cut!(sla_events);
    cut!(dead_letters);
    out
}

async fn bulk<T>(client: &clickhouse::Client, table: &str, rows: &[T])
where
    T: clickhouse::RowWrite + for<'a> clickhouse::Row<Value<'a> = T>,
{
    let mut insert = client.insert::<T>(table).await.expect("insert");
    for r in rows {
        insert.write(r).await.expect("write");
    }
    insert.end().await.expect("end");
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("clickhouse bench: run with scripts/bench.sh (starts a server)");
        return;
    }
    let url = std::env::var("COMPLAINTFLOW_TEST_CLICKHOUSE")
        .expect("COMPLAINTFLOW_TEST_CLICKHOUSE: run scripts/bench.sh");
    let complaints: usize = std::env::var("BENCH_CH_COMPLAINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let rules = RuleSet::embedded();
    let lines = generate(
        &DemoConfig {
            complaints,
            days: 14,
            ..DemoConfig::default()
        },
        &rules,
    );
    let mut all = Batch::default();
    let mut replay = Replay::new(&rules);
    for (i, line) in lines.iter().enumerate() {
        replay
            .feed(line.as_bytes(), || format!("bench:{}", i + 1), &mut all)
            .expect("replay");
    }
    replay.finish(None, &mut all).expect("replay");
    let rows = all.rows();
    let defaults = ClickHouseConfig::default();
    let chunks = batches(&all, defaults.max_rows);
    println!(
        "{rows} rows from {} events of {complaints} complaints; sink batches of {} rows: {}",
        lines.len(),
        defaults.max_rows,
        chunks.len()
    );
    let tag = std::process::id();
    let (mut sink_secs, mut bulk_secs) = (0.0, 0.0);
    for round in 0..3 {
        // Alternate which goes first, so neither always meets a warmer server.
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for sink in order {
            let kind = if sink { "sink" } else { "bulk" };
            let cfg = ClickHouseConfig {
                url: url.clone(),
                database: format!("bench_{kind}_{tag}_{round}"),
                ..ClickHouseConfig::default()
            };
            migrate(&cfg).await.expect("migrate");
            let client = clickhouse::Client::default()
                .with_url(&url)
                .with_database(&cfg.database);
            let t = Instant::now();
            if sink {
                // What replay and the live loader do.
                let mut w = Warehouse::new(&cfg).unwrap();
                for (i, b) in chunks.iter().enumerate() {
                    w.insert(b, &format!("bench/{i}"))
                        .await
                        .expect("sink insert");
                }
            } else {
                bulk(&client, "complaints", &all.complaints).await;
                bulk(&client, "events", &all.events).await;
                bulk(&client, "decisions", &all.decisions).await;
                bulk(&client, "sla_events", &all.sla_events).await;
                bulk(&client, "dead_letters", &all.dead_letters).await;
            }
            let secs = t.elapsed().as_secs_f64();
            if sink {
                sink_secs += secs;
            } else {
                bulk_secs += secs;
            }
            println!("round {round}: {kind} {:.0} rows/s", rows as f64 / secs);
            client
                .query(&format!("DROP DATABASE IF EXISTS {} SYNC", cfg.database))
                .execute()
                .await
                .expect("drop");
        }
    }
    let (sink, bulk) = (3.0 * rows as f64 / sink_secs, 3.0 * rows as f64 / bulk_secs);
    println!(
        "clickhouse sink: {sink:.0} rows/s; bulk insert: {bulk:.0} rows/s; ratio {:.2} (target >= 0.5)",
        sink / bulk
    );
    if let Ok(brokers) = std::env::var("COMPLAINTFLOW_TEST_BROKERS") {
        loader(&brokers, &url, &lines).await;
    }
}

/// The live loader on the same records: events, outputs and rows on Kafka
/// topics, loaded into a fresh database; rows per second from the first row
/// to the last.
async fn loader(brokers: &str, url: &str, lines: &[String]) {
    use complaintflow::config::Config;
    let prefix = format!("chbench-{}", std::process::id());
    let k = common::topics(brokers, &prefix, 3).await;
    let mut records: Vec<(&str, String, Vec<u8>)> = Vec::new();
    for l in lines.iter() {
        records.push((&k.input_topic, common::key_of(l), l.clone().into_bytes()));
    }
    // The outputs as the live engine publishes them (the contract's JSON).
    let rules = RuleSet::embedded();
    let mut outs = complaintflow::sink::file::MemorySink::default();
    complaintflow::driver::replay::replay_reader(
        lines.join("\n").as_bytes(),
        "bench",
        &rules,
        complaintflow::driver::replay::Bounds::default(),
        &mut outs,
        |_| {},
    )
    .unwrap();
    for d in &outs.decisions {
        records.push((
            &k.decisions_topic,
            d.complaint_id.clone(),
            serde_json::to_vec(d).unwrap(),
        ));
    }
    for e in &outs.sla {
        records.push((
            &k.sla_topic,
            e.complaint_id.clone(),
            serde_json::to_vec(e).unwrap(),
        ));
    }
    for d in &outs.dead_letters {
        records.push((&k.dlq_topic, String::new(), serde_json::to_vec(d).unwrap()));
    }
    for row in &outs.complaints {
        records.push((
            &k.status_topic,
            row.complaint_id.clone(),
            serde_json::to_vec(row).unwrap(),
        ));
    }
    common::produce(brokers, &records).await;
    let database = format!("bench_loader_{}", std::process::id());
    let n_records = records.len();
    drop(records);
    let cfg = Config {
        kafka: k,
        clickhouse: ClickHouseConfig {
            url: url.to_string(),
            database: database.clone(),
            ..ClickHouseConfig::default()
        },
        ..Config::default()
    };
    migrate(&cfg.clickhouse).await.expect("migrate");
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(complaintflow::driver::load::run(cfg, cancel.clone()));
    let client = clickhouse::Client::default()
        .with_url(url)
        .with_database(&database);
    let total = || async {
        let mut n = 0u64;
        for t in [
            "events",
            "decisions",
            "sla_events",
            "dead_letters",
            "complaints",
        ] {
            n += client
                .query(&format!("SELECT count() FROM {t}"))
                .fetch_one::<u64>()
                .await
                .unwrap();
        }
        n
    };
    let started = Instant::now();
    let (mut last, mut last_change, mut first_row) = (0u64, Instant::now(), None);
    while started.elapsed() < std::time::Duration::from_secs(300) {
        let n = total().await;
        if n > 0 {
            first_row.get_or_insert_with(Instant::now);
        }
        if n != last {
            last = n;
            last_change = Instant::now();
        } else if n > 0 && last_change.elapsed() > std::time::Duration::from_secs(3) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    cancel.cancel();
    let _ = task.await;
    // From the first row: the consumer group's first join is not loading.
    let secs = (last_change - first_row.expect("rows arrived")).as_secs_f64();
    println!(
        "clickhouse loader from kafka: {:.0} rows/s ({last} rows from {} records in {secs:.2} s)",
        last as f64 / secs,
        n_records
    );
    client
        .query(&format!("DROP DATABASE IF EXISTS {database} SYNC"))
        .execute()
        .await
        .unwrap();
}
