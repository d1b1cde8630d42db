//! `run --clickhouse-url` on the real broker and the real ClickHouse server:
//! the loader's rows, the analyst queries, a full re-read, and an outage.

mod support;
use std::time::{Duration, Instant};
use support::warehouse::*;
use support::*;

/// A config for `setup` that also loads into `url`/`database`.
fn config(setup: &Setup, name: &str, url: &str, database: &str, extra: &str) -> String {
    let base = std::fs::read_to_string(&setup.config).unwrap();
    let text = format!("{base}[clickhouse]\nurl = \"{url}\"\ndatabase = \"{database}\"\n{extra}\n");
    let path = setup.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Rows of events (FINAL: redeliveries and refusals fold at merges, which
/// run whenever they like), decisions, sla_events and dead_letters (raw:
/// the loader inserts each output record once).
async fn counts(client: &clickhouse::Client) -> [u64; 4] {
    let mut out = [0; 4];
    for (i, sql) in [
        "SELECT count() FROM events FINAL",
        "SELECT count() FROM decisions",
        "SELECT count() FROM sla_events",
        "SELECT count() FROM dead_letters",
    ]
    .iter()
    .enumerate()
    {
        out[i] = count(client, sql).await;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_into_clickhouse_gives_the_meeting_numbers_and_a_full_reread_adds_nothing() {
    let setup = Setup::new("wh", 1);
    let db = fresh_database("live");
    let url = clickhouse_url();
    let first = config(&setup, "first.toml", &url, &db, "period_ms = 300");
    // On the broker first: a backlog of past events (see tests/live.rs).
    let lines = meeting_lines();
    produce(&setup.topic("events"), &lines).await;
    let mut svc = setup.start(&["--config", &first], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    let expected = replay_expected(&lines, chrono::Utc::now(), &shipped_rules());
    let client = client(&db);
    // Events: 29 accepted and the refused one.
    let want = [
        30,
        expected.decisions.len() as u64,
        expected.sla.len() as u64,
        expected.dead_letters.len() as u64,
    ];
    let closed_sql =
        "SELECT count() FROM complaints FINAL WHERE status IN ('archived', 'withdrawn')";
    let (mut got, mut closed) = ([0; 4], 0);
    for _ in 0..120 {
        got = counts(&client).await;
        closed = count(&client, closed_sql).await;
        if got == want && closed == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(closed, 5, "complaints with their final outcome");
    assert_eq!(
        got,
        want,
        "rows of events, decisions, sla_events, dead_letters\n{}",
        setup.all_logs()
    );
    check_meeting_queries(&db).await;
    let (_, metrics) = http_get(setup.http_port, "/metrics").unwrap();
    assert!(
        metrics.contains("complaintflow_clickhouse_lag"),
        "{metrics}"
    );
    let loaded = metric(setup.http_port, "complaintflow_clickhouse_rows_total");
    assert!(loaded >= 30.0, "rows metric {loaded}");
    svc.signal("-TERM");
    assert!(svc.wait().success());
    assert!(
        setup
            .log(setup.http_port)
            .contains("loader offsets committed at shutdown")
    );

    // A new loader group reads every topic again from the start into the
    // same database: the analysts see no row twice.
    let port = free_port();
    let reread = config(
        &setup,
        "reread.toml",
        &url,
        &db,
        &format!("period_ms = 300\ngroup = \"{}-reread\"", setup.prefix),
    );
    let _svc = setup.start(&["--config", &reread], port);
    wait_ready(port, Duration::from_secs(30));
    let reloaded = eventually(Duration::from_secs(60), || {
        metric(port, "complaintflow_clickhouse_rows_total") >= loaded
    });
    assert!(reloaded, "the re-read did not finish\n{}", setup.all_logs());
    for (table, n) in ["events", "decisions", "sla_events", "dead_letters"]
        .iter()
        .zip(want)
    {
        let sql = format!("SELECT count() FROM {table} FINAL");
        assert_eq!(
            count(&client, &sql).await,
            n,
            "{table} FINAL after the re-read"
        );
    }
    check_meeting_queries(&db).await;
    for table in ["decisions", "sla_events", "dead_letters"] {
        client
            .query(&format!("OPTIMIZE TABLE {table} FINAL"))
            .execute()
            .await
            .unwrap();
    }
    let after = counts(&client).await;
    assert_eq!(after[1..], want[1..], "raw rows after merging");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_for_30_seconds_loses_nothing_and_doubles_nothing() {
    let mut server = OwnServer::start();
    let setup = Setup::new("chdown", 2);
    let db = fresh_database("outage");
    let cfg = config(
        &setup,
        "outage.toml",
        &server.url(),
        &db,
        "max_rows = 500\nperiod_ms = 2000",
    );
    let svc = setup.start(&["--config", &cfg], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    let lines = scenario(600, 21);
    let (a, b) = lines.split_at(lines.len() / 3);
    produce(&setup.topic("events"), a).await;
    let client = client(&db).with_url(server.url());
    let started = eventually(Duration::from_secs(60), || {
        metric(setup.http_port, "complaintflow_clickhouse_rows_total") > 0.0
    });
    assert!(
        started,
        "nothing loaded before the outage\n{}",
        setup.all_logs()
    );

    server.stop();
    let down = Instant::now();
    produce(&setup.topic("events"), b).await;
    std::thread::sleep(Duration::from_secs(30).saturating_sub(down.elapsed()));
    let errors = metric(setup.http_port, "complaintflow_clickhouse_errors_total");
    // The largest batch tried lately: memory held for ClickHouse is one batch.
    let largest = metric(
        setup.http_port,
        "complaintflow_clickhouse_batch_rows{quantile=\"1\"}",
    );
    server.resume();
    println!(
        "outage: {errors} failed inserts; largest batch {largest} rows (limit 500 + one record's rows)"
    );
    assert!(errors >= 1.0, "the loader never noticed the outage");
    assert!(
        largest > 0.0 && largest <= 502.0,
        "a batch of {largest} rows while ClickHouse was down"
    );

    // Everything on the output topics arrives once, even raw: a server
    // killed mid-insert may have stored part of a batch, but the batch read
    // again is cut at the failed one's ranges and carries its token, so the
    // server drops what it had. (Cut anew, a run kept 25 raw copies of 668
    // decisions, which only FINAL folded.)
    outputs_arrive_once(&setup, &client, "");
    drop(svc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loader_resumes_at_its_commit_five_then_five() {
    let setup = Setup::new("whresume", 2);
    let db = fresh_database("resume");
    let cfg = config(
        &setup,
        "resume.toml",
        &clickhouse_url(),
        &db,
        "period_ms = 300",
    );
    let client = client(&db);
    let batch =
        |from: usize| -> Vec<String> { (from..from + 5).map(|i| format!("WR-{i}")).collect() };
    let sqls = [
        "SELECT count() FROM events FINAL WHERE refused = 0",
        "SELECT count() FROM decisions FINAL",
        "SELECT count() FROM complaints FINAL",
    ];
    let mut one = setup.start(&["--config", &cfg], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    produce(&setup.topic("events"), &received_now(&batch(0))).await;
    assert_eq!(
        counts_become(&client, &sqls, &[5; 3]).await,
        [5; 3],
        "events, decisions, complaints\n{}",
        setup.all_logs()
    );
    one.signal("-TERM");
    assert!(one.wait().success(), "{}", setup.all_logs());
    assert!(
        setup
            .log(setup.http_port)
            .contains("loader offsets committed at shutdown")
    );
    // The loader group's commit is the next record to load on every topic.
    let group = format!("{}-clickhouse", setup.prefix);
    let input = committed(&group, &setup.topic("events"));
    assert_eq!(input.values().sum::<i64>(), 5, "input commit {input:?}");

    produce(&setup.topic("events"), &received_now(&batch(5))).await;
    let port = free_port();
    let _two = setup.start(&["--config", &cfg], port);
    wait_ready(port, Duration::from_secs(30));
    assert_eq!(
        counts_become(&client, &sqls, &[10; 3]).await,
        [10; 3],
        "events, decisions, complaints\n{}",
        setup.all_logs()
    );
    let ids: Vec<String> = client
        .query("SELECT complaint_id FROM complaints FINAL ORDER BY complaint_id")
        .fetch_all::<String>()
        .await
        .unwrap();
    let mut want: Vec<String> = [batch(0), batch(5)].concat();
    want.sort();
    assert_eq!(ids, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_catch_up_with_closed_complaints_in_the_tail_refuses_nothing_wrongly() {
    let setup = Setup::new("tail", 3);
    let db = fresh_database("tail");
    // Closed complaints leave the state 60 s (event time) after closing, so
    // many go within the uncommitted tail of a catch-up; small batches make
    // the catch-up long enough to be killed in the middle.
    let base = config(
        &setup,
        "tail.toml",
        &clickhouse_url(),
        &db,
        "period_ms = 300",
    );
    let text = std::fs::read_to_string(&base)
        .unwrap()
        .replace("[run]\n", "[run]\nclosed_retention_s = 60\nbatch_max = 5\n");
    std::fs::write(&base, text).unwrap();
    let lines = scenario(2000, 17);
    produce(&setup.topic("events"), &lines).await;
    let mut first = setup.start(&["--config", &base], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    // Killed halfway: the tail since the last commit (every second) holds
    // complaints that closed, and were evicted, within it.
    let start = std::time::Instant::now();
    let mut taken = 0;
    while taken < lines.len() / 2 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
        taken = records_taken(setup.http_port);
    }
    first.signal("-KILL");
    first.wait();
    eprintln!("killed with {taken} of {} records taken", lines.len());
    let evicted = setup
        .log(setup.http_port)
        .contains("closed complaints evicted");
    assert!(
        evicted,
        "nothing was evicted before the kill\n{}",
        setup.all_logs()
    );
    let decided = by_id(&setup.topic("decisions"), "decision_id").len();
    let complaints = complaints_in(&lines);
    assert!(
        decided < complaints,
        "killed after the catch-up ended: {decided} of {complaints} decided"
    );
    let port = free_port();
    let _second = setup.start(&["--config", &base], port);
    wait_ready(port, Duration::from_secs(30));
    // No redelivered record is judged `unknown_complaint`: the dead letters,
    // like every other output, equal a replay's.
    assert_same_outputs(
        &setup,
        &[&lines],
        Duration::from_secs(120),
        &shipped_rules(),
    );

    // In ClickHouse, exactly the events the engine refused are `refused`.
    let expected = replay_expected(&lines, chrono::Utc::now(), &shipped_rules());
    let key = |text: &str| {
        complaintflow::model::Event::from_json(text)
            .ok()
            .map(|e| (e.complaint_id, e.event_id))
    };
    let all: std::collections::BTreeSet<_> = lines.iter().filter_map(|l| key(l)).collect();
    let refused: std::collections::BTreeSet<_> = expected
        .dead_letters
        .iter()
        .filter_map(|d| key(&d.payload))
        .collect();
    let want = [(all.len() - refused.len()) as u64, refused.len() as u64];
    let client = client(&db);
    let sqls = [
        "SELECT count() FROM events FINAL WHERE refused = 0",
        "SELECT count() FROM events FINAL WHERE refused = 1",
    ];
    let got = counts_become(&client, &sqls, &want).await;
    assert_eq!(
        got,
        want,
        "accepted and refused event rows\n{}",
        setup.all_logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stores_the_loaders_last_batch_before_the_process_exits() {
    let setup = Setup::new("whterm", 1);
    let db = fresh_database("term");
    // A period longer than the test: only the shutdown sends the batch.
    let cfg = config(
        &setup,
        "term.toml",
        &clickhouse_url(),
        &db,
        "period_ms = 600000\nmax_rows = 1000000",
    );
    let mut svc = setup.start(&["--config", &cfg], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    let ids: Vec<String> = (0..5).map(|i| format!("TERM-{i}")).collect();
    produce(&setup.topic("events"), &received_now(&ids)).await;
    wait_decided(&setup, &ids, Duration::from_secs(30));
    let port = setup.http_port;
    // The loader holds the events, decisions and SLA events in its batch.
    assert!(
        eventually(Duration::from_secs(30), || metric(
            port,
            "complaintflow_clickhouse_pending_rows"
        ) >= 15.0),
        "{}",
        setup.all_logs()
    );
    let client = client(&db);
    assert_eq!(count(&client, "SELECT count() FROM decisions").await, 0);
    svc.signal("-TERM");
    assert!(svc.wait().success(), "{}", setup.all_logs());
    // Right after the exit, no waiting: the batch is in ClickHouse.
    assert_eq!(count(&client, "SELECT count() FROM decisions").await, 5);
    assert_eq!(count(&client, "SELECT count() FROM events FINAL").await, 5);
    assert!(count(&client, "SELECT count() FROM sla_events").await >= 5);
    assert!(
        setup
            .log(port)
            .contains("loader offsets committed at shutdown")
    );
}
