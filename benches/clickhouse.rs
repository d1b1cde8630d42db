//! ClickHouse benchmark, same server, same rows, same run: complaintflow's
//! sink (batches of `max_rows`, one deduplicated INSERT per table per batch,
//! as replay and the live loader write) against a bulk insert (one INSERT
//! per table holding every row, no tokens).
//! Needs COMPLAINTFLOW_TEST_CLICKHOUSE; `scripts/bench.sh` starts a server.

use complaintflow::config::ClickHouseConfig;
use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::driver::replay::replay_reader;
use complaintflow::model::{ComplaintRow, DeadLetter, Decision, Event, SlaEvent};
use complaintflow::rules::RuleSet;
use complaintflow::sink::clickhouse::rows::*;
use complaintflow::sink::clickhouse::{Batch, Warehouse, migrate};
use complaintflow::sink::{OutputSink, SinkError};
use std::time::Instant;

/// Every row a replay gives, in one batch.
#[derive(Default)]
struct Collect(Batch);

impl OutputSink for Collect {
    fn event(&mut self, ev: &Event, p: &str, s: &dyn Fn() -> String) -> Result<(), SinkError> {
        self.0.events.push(EventRecord::new(ev, p, s()));
        Ok(())
    }
    fn decision(&mut self, d: &Decision) -> Result<(), SinkError> {
        self.0.decisions.push(d.into());
        Ok(())
    }
    fn sla_event(&mut self, e: &SlaEvent) -> Result<(), SinkError> {
        self.0.sla_events.push(e.into());
        Ok(())
    }
    fn dead_letter(&mut self, d: &DeadLetter) -> Result<(), SinkError> {
        self.0.dead_letters.push(d.into());
        Ok(())
    }
    fn complaint(&mut self, row: &ComplaintRow) -> Result<(), SinkError> {
        self.0.complaints.push(row.into());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

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
    let mut all = Collect::default();
    replay_reader(
        lines.join("\n").as_bytes(),
        "bench",
        &rules,
        None,
        &mut all,
        |_| {},
    )
    .expect("replay");
    let all = all.0;
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
                let mut w = Warehouse::new(&cfg);
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
}
