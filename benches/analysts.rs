//! Analysts at scale (issue 14, target 7): a year of generated complaints
//! (1M by default) loaded into ClickHouse by `complaintflow replay
//! --clickhouse-url`, then every meeting query of `queries/` and the
//! report's reads, for one month and for the whole year, each timed with
//! `FINAL` (as shipped) and without it (the same SQL over views that read
//! the tables plain), so deduplication's share shows. Then the tables' sizes
//! on disk and the compression ratio. In the steady state, the progress API
//! (`complaintflow api`) answers lookups of random complaints and customers
//! over HTTP, timed per request (target p99 <= 50 ms).
//! Needs COMPLAINTFLOW_TEST_CLICKHOUSE; `scripts/bench.sh` starts a server.
//! Knobs: BENCH_ANALYST_COMPLAINTS (default 1000000), BENCH_ANALYST_DAYS
//! (365), BENCH_ANALYST_URL + BENCH_ANALYST_DATABASE to time queries on an
//! already loaded database (no load).

use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::rules::RuleSet;
use complaintflow::sink::clickhouse::view_statements;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The tables; the plain database gets a view of each.
use complaintflow::sink::clickhouse::access::TABLES;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Generates the stream into a file and loads it with the release binary,
/// as an operator would; returns the load's seconds.
fn load(url: &str, database: &str, cfg: &DemoConfig) -> f64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("input.jsonl");
    let started = Instant::now();
    let lines = generate(cfg, &RuleSet::embedded());
    let mut text = lines.join("\n");
    drop(lines);
    text.push('\n');
    std::fs::write(&input, text).expect("write the stream");
    println!(
        "generated {} complaints over {} days in {:.1} s",
        cfg.complaints,
        cfg.days,
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .arg("replay")
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(dir.path().join("out"))
        .args(["--clickhouse-url", url, "--clickhouse-database", database])
        .args([
            "--now",
            &(cfg.end() + chrono::TimeDelta::days(1)).to_rfc3339(),
        ])
        .status()
        .expect("run complaintflow replay");
    assert!(status.success(), "replay into ClickHouse failed");
    started.elapsed().as_secs_f64()
}

/// `plain`: the shipped views over plain views of `database`'s tables, with
/// every FINAL taken out: the same queries without deduplication.
async fn plain_views(client: &clickhouse::Client, database: &str, plain: &str) {
    exec(client, &format!("DROP DATABASE IF EXISTS {plain} SYNC")).await;
    exec(client, &format!("CREATE DATABASE {plain}")).await;
    for t in TABLES {
        exec(
            client,
            &format!("CREATE VIEW {plain}.{t} AS SELECT * FROM {database}.{t}"),
        )
        .await;
    }
    for s in view_statements(plain, "Asia/Shanghai") {
        exec(client, &s.replace(" FINAL", "")).await;
    }
}

async fn exec(client: &clickhouse::Client, sql: &str) {
    client
        .query(sql)
        .execute()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
}

/// Runs `sql` (result read whole) three times; the best seconds and the
/// result's size in bytes.
async fn time(client: &clickhouse::Client, sql: &str, params: &[(&str, String)]) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut size = 0;
    for _ in 0..3 {
        let mut q = client.query(sql);
        for (k, v) in params {
            q = q.param(k, v.as_str());
        }
        let t = Instant::now();
        let bytes = q
            .fetch_bytes("RowBinary")
            .expect("query")
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        best = best.min(t.elapsed().as_secs_f64());
        size = bytes.len();
    }
    (best, size)
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("analysts bench: run with scripts/bench.sh (starts a server)");
        return;
    }
    let (url, database, demo) = match (
        std::env::var("BENCH_ANALYST_URL"),
        std::env::var("BENCH_ANALYST_DATABASE"),
    ) {
        (Ok(url), Ok(db)) => (url, db, None),
        _ => {
            let url = std::env::var("COMPLAINTFLOW_TEST_CLICKHOUSE")
                .expect("COMPLAINTFLOW_TEST_CLICKHOUSE: run scripts/bench.sh");
            let cfg = DemoConfig {
                complaints: knob("BENCH_ANALYST_COMPLAINTS", 1_000_000),
                days: knob("BENCH_ANALYST_DAYS", 365) as i64,
                ..DemoConfig::default()
            };
            let database = format!("bench_analysts_{}", std::process::id());
            (url, database, Some(cfg))
        }
    };
    let client = clickhouse::Client::default().with_url(&url);
    let start = match &demo {
        Some(cfg) => {
            let secs = load(&url, &database, cfg);
            println!("loaded by replay --clickhouse-url in {secs:.0} s");
            cfg.start.date_naive()
        }
        None => {
            let first: String = client
                .query(&format!(
                    "SELECT toString(toDate(min(received_at), 'Asia/Shanghai')) FROM {database}.complaints"
                ))
                .fetch_one()
                .await
                .expect("first day");
            first.parse().expect("a date")
        }
    };
    sizes(&client, &database).await;
    let plain = format!("{database}_plain");
    plain_views(&client, &database, &plain).await;
    // The month measured: the year's last whole month, the one being
    // written in the steady state below.
    let month = (start + chrono::Months::new(11))
        .with_day0(0)
        .expect("first of month");
    println!(
        "-- backfill: the whole year just loaded, every month still in the parts it was written in"
    );
    let backfill = queries(&url, &database, &plain, start, month).await;
    settle_before(&client, &database, month).await;
    println!(
        "-- steady: the months before {month} settled, {month} on still being written (as in service)"
    );
    let steady = queries(&url, &database, &plain, start, month).await;
    progress_api(&url, &database).await;
    settle(&client, &database).await;
    sizes(&client, &database).await;
    println!(
        "-- settled: every month one part, as a month is an hour after its last row (migration 0006)"
    );
    let settled = queries(&url, &database, &plain, start, month).await;
    println!(
        "analyst queries within target (month <= 1 s, year <= 3 s, each <= 2 x without FINAL): \
         steady {} of {}, settled {} of {}, backfill {} of {}",
        steady.0, steady.1, settled.0, settled.1, backfill.0, backfill.1
    );
    if demo.is_some() {
        exec(&client, &format!("DROP DATABASE IF EXISTS {database} SYNC")).await;
    }
    exec(&client, &format!("DROP DATABASE IF EXISTS {plain} SYNC")).await;
}

/// Rows, bytes on disk and compression per table.
async fn sizes(client: &clickhouse::Client, database: &str) {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Size {
        table: String,
        rows: u64,
        parts: u64,
        compressed: u64,
        uncompressed: u64,
    }
    let sizes: Vec<Size> = client
        .query(
            "SELECT table, sum(rows) AS rows, count() AS parts, sum(data_compressed_bytes) AS compressed, \
             sum(data_uncompressed_bytes) AS uncompressed \
             FROM system.parts WHERE database = ? AND active GROUP BY table ORDER BY table",
        )
        .bind(database)
        .fetch_all()
        .await
        .expect("system.parts");
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let (mut rows, mut c, mut u) = (0, 0, 0);
    for s in &sizes {
        println!(
            "  {:<14} {:>11} rows {:>5} parts {:>8.1} MiB on disk ({:>8.1} MiB raw, {:.1} x)",
            s.table,
            s.rows,
            s.parts,
            mib(s.compressed),
            mib(s.uncompressed),
            s.uncompressed as f64 / s.compressed.max(1) as f64
        );
        rows += s.rows;
        c += s.compressed;
        u += s.uncompressed;
    }
    println!(
        "warehouse: {rows} rows, {:.0} MiB on disk, {:.0} MiB raw, compression {:.1} x",
        mib(c),
        mib(u),
        u as f64 / c.max(1) as f64
    );
}

/// Every meeting query and the report's reads, month and year, with and
/// without FINAL; how many are within the targets, of how many.
async fn queries(
    url: &str,
    database: &str,
    plain: &str,
    start: chrono::NaiveDate,
    month: chrono::NaiveDate,
) -> (usize, usize) {
    let with = clickhouse::Client::default()
        .with_url(url)
        .with_database(database);
    let without = clickhouse::Client::default()
        .with_url(url)
        .with_database(plain);
    // The report's reads run with the report's settings.
    let settings = |c: &clickhouse::Client| {
        complaintflow::report::CLICKHOUSE_SETTINGS
            .iter()
            .fold(c.clone(), |c, (k, v)| c.with_setting(*k, *v))
    };
    let (report_with, report_without) = (settings(&with), settings(&without));
    let customer: String = with
        .query("SELECT customer_id FROM complaints GROUP BY customer_id ORDER BY count() DESC, customer_id LIMIT 1")
        .fetch_one()
        .await
        .expect("a customer");
    let periods = [
        (
            "month",
            1.0,
            month,
            month + chrono::Months::new(1) - chrono::Days::new(1),
        ),
        (
            "year",
            3.0,
            start,
            start + chrono::Months::new(12) - chrono::Days::new(1),
        ),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("queries/")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let work: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            let sql = std::fs::read_to_string(dir.join(f)).expect("query");
            (f.trim_end_matches(".sql").to_string(), sql)
        })
        .collect();
    let (mut met, mut total) = (0, 0);
    println!(
        "{:<34} {:>6} {:>9} {:>9} {:>6}",
        "query", "period", "FINAL s", "plain s", "ratio"
    );
    for (label, limit, from, to) in periods {
        let params = [
            ("from", from.to_string()),
            ("to", to.to_string()),
            ("customer_id", customer.clone()),
            ("tz", "Asia/Shanghai".to_string()),
        ];
        let mut work: Vec<(String, String, bool)> = work
            .iter()
            .map(|(n, q)| (n.clone(), q.clone(), false))
            .collect();
        for (name, sql) in complaintflow::report::clickhouse_reads(
            Some(from),
            Some(to),
            chrono::FixedOffset::east_opt(8 * 3600).expect("Beijing time"),
        ) {
            work.push((format!("report: {name}"), sql, true));
        }
        for (name, sql, report) in &work {
            let (w, wo) = if *report {
                (&report_with, &report_without)
            } else {
                (&with, &without)
            };
            let (secs, bytes) = time(w, sql, &params).await;
            let (plain_secs, _) = time(wo, &sql.replace(" FINAL", ""), &params).await;
            let ratio = secs / plain_secs.max(1e-3);
            let ok = secs <= limit && ratio <= 2.0;
            total += 1;
            met += usize::from(ok);
            println!(
                "{name:<34} {label:>6} {secs:>9.3} {plain_secs:>9.3} {ratio:>6.2} {} ({bytes} bytes)",
                if ok { "ok" } else { "MISSED" }
            );
        }
    }
    (met, total)
}

/// The months before `month` merged into one part each (what the server
/// does to them an hour after their last row), `month` and later as loaded.
async fn settle_before(client: &clickhouse::Client, database: &str, month: chrono::NaiveDate) {
    let started = Instant::now();
    let before = month.format("%Y%m").to_string();
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Partition {
        table: String,
        partition_id: String,
    }
    let partitions: Vec<Partition> = client
        .query(
            "SELECT table, partition_id FROM system.parts WHERE database = ? AND active \
             AND partition_id < ? GROUP BY table, partition_id HAVING count() > 1",
        )
        .bind(database)
        .bind(&before)
        .fetch_all()
        .await
        .expect("partitions");
    let optimize = client
        .clone()
        .with_setting("allow_suspicious_ttl_expressions", "1");
    for p in &partitions {
        exec(
            &optimize,
            &format!(
                "OPTIMIZE TABLE {database}.{} PARTITION ID '{}' FINAL",
                p.table, p.partition_id
            ),
        )
        .await;
    }
    println!(
        "{} partitions before {month} merged into one part each in {:.0} s",
        partitions.len(),
        started.elapsed().as_secs_f64()
    );
}

/// What migration 0006 does to a month an hour after its last row, now:
/// the tables' force-merge age lowered to seconds, then wait until every
/// partition is one part.
async fn settle(client: &clickhouse::Client, database: &str) {
    let started = Instant::now();
    // The retention TTL reads a dictionary; an ALTER checks it again.
    let alter = client
        .clone()
        .with_setting("allow_suspicious_ttl_expressions", "1");
    for t in TABLES {
        exec(
            &alter,
            &format!(
                "ALTER TABLE {database}.{t} MODIFY SETTING min_age_to_force_merge_seconds = 5"
            ),
        )
        .await;
    }
    let unsettled = format!(
        "SELECT count() FROM (SELECT table, partition FROM system.parts WHERE database = '{database}' AND active GROUP BY table, partition HAVING count() > 1)"
    );
    loop {
        let left: u64 = client.query(&unsettled).fetch_one().await.expect("parts");
        if left == 0 {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 900,
            "{left} partitions still not merged after 15 minutes"
        );
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    println!(
        "settled: every partition merged into one part by the server in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

use chrono::Datelike;

/// `complaintflow api` on the loaded database: random complaints and
/// customers looked up one after another over HTTP; p50 and p99 each.
async fn progress_api(url: &str, database: &str) {
    let client = clickhouse::Client::default()
        .with_url(url)
        .with_database(database);
    let sample = |what: &str, n: usize| {
        format!("SELECT DISTINCT {what} FROM complaints ORDER BY cityHash64({what}, 7) LIMIT {n}")
    };
    let complaints: Vec<String> = client
        .query(&sample("complaint_id", 1000))
        .fetch_all()
        .await
        .expect("ids");
    let customers: Vec<String> = client
        .query(&sample("customer_id", 300))
        .fetch_all()
        .await
        .expect("ids");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut api = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args([
            "api",
            "--clickhouse-url",
            url,
            "--clickhouse-database",
            database,
        ])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("COMPLAINTFLOW_API_TOKENS", "bench-token")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("complaintflow api");
    // Plain blocking HTTP, one request at a time: off the async workers.
    tokio::task::spawn_blocking(move || time_lookups(port, &complaints, &customers))
        .await
        .expect("lookups");
    let _ = api.kill();
    let _ = api.wait();
}

/// GET with the bench's token: status and milliseconds (0 when refused).
fn get(port: u16, path: &str) -> (u16, f64) {
    use std::io::{Read, Write};
    let started = Instant::now();
    let answer = || -> std::io::Result<u16> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer bench-token\r\nConnection: close\r\n\r\n"
        )?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        Ok(String::from_utf8_lossy(raw.get(9..12).unwrap_or_default())
            .parse()
            .unwrap_or(0))
    };
    let status = answer().unwrap_or(0);
    (status, started.elapsed().as_secs_f64() * 1000.0)
}

fn time_lookups(port: u16, complaints: &[String], customers: &[String]) {
    let started = Instant::now();
    while get(port, "/healthz").0 != 200 && started.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for (what, ids, path, suffix) in [
        ("complaint", complaints, "/v1/complaints/", ""),
        ("customer", customers, "/v1/customers/", "/complaints"),
    ] {
        let mut ms: Vec<f64> = Vec::new();
        let mut failed = 0;
        for id in ids {
            match get(port, &format!("{path}{id}{suffix}")) {
                (200, took) => ms.push(took),
                _ => failed += 1,
            }
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((ms.len().max(1) - 1) as f64 * q).round() as usize;
            ms.get(i).copied().unwrap_or(f64::NAN)
        };
        println!(
            "progress API, {what} lookups: {} answered ({failed} not), p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 <= 50 ms)",
            ms.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
}
