//! The warehouse on a ClickHouse cluster of two shards: two nodes of the
//! engine scripts/test.sh downloads, on loopback, each serving the native
//! protocol with `remote_servers` and `macros` (tests/support/warehouse.rs
//! `OwnServer::cluster`), against the single server scripts/test.sh started.
//!
//! Replication needs Keeper, which no package reachable here runs, so the
//! cluster schema is applied with `--replication none` (plain MergeTree
//! engines under the Distributed tables). That substitution is made here,
//! and only here; everything above the engines is what a replicated cluster
//! runs. The nodes have no distributed DDL queue either, so `migrate` goes
//! node by node (`--clickhouse-node`).

mod support;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::warehouse::*;
use support::*;

const CLUSTER: &str = "shards";
const TABLES: [&str; 5] = [
    "complaints",
    "events",
    "decisions",
    "sla_events",
    "dead_letters",
];
const VIEWS: [&str; 6] = [
    "daily_volume",
    "sla_compliance",
    "reopen_satisfaction",
    "causes",
    "events_masked",
    "dead_letters_masked",
];

fn complaintflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = complaintflow(args);
    assert!(
        o.status.success(),
        "{args:?}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `migrate` of the cluster schema into `db`, node by node.
fn migrate(nodes: &[OwnServer], db: &str) -> String {
    let urls: Vec<String> = nodes.iter().map(OwnServer::url).collect();
    let mut args = vec!["migrate", "--database", db, "--clickhouse-cluster", CLUSTER];
    for u in &urls {
        args.extend(["--clickhouse-node", u]);
    }
    args.extend(["--replication", "none"]);
    ok(&args)
}

/// `replay` of `input` into `url`/`db`, on the cluster when `cluster`.
fn replay(input: &std::path::Path, url: &str, db: &str, cluster: bool) -> Output {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "replay",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--now",
        "2030-01-01T00:00:00Z",
        "--clickhouse-url",
        url,
        "--clickhouse-database",
        db,
    ];
    if cluster {
        args.extend(["--clickhouse-cluster", CLUSTER]);
    }
    complaintflow(&args)
}

/// What a table or view holds, as one line: its rows and a hash of them.
async fn digest(client: &clickhouse::Client, from: &str) -> String {
    tsv(
        client,
        &format!("SELECT count(), sum(cityHash64(*)) FROM {from}"),
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_into_a_cluster_gives_the_single_servers_rows_queries_and_report() {
    let nodes = OwnServer::cluster(CLUSTER, 2);
    let (meeting, demo) = (fresh_database("cmeet"), fresh_database("cdemo"));
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meeting.jsonl");

    // A writer refuses a cluster without its schema, naming the command.
    let refused = replay(&fixture, &nodes[0].url(), &meeting, true);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    let command = format!(
        "complaintflow migrate --clickhouse-url {} --database {meeting} --clickhouse-cluster {CLUSTER}",
        nodes[0].url()
    );
    assert!(
        !refused.status.success() && stderr.contains(&command),
        "{stderr}"
    );

    // Applied once per node; a second migrate adds nothing; the single-server
    // migrations refuse the cluster's database.
    let first = migrate(&nodes, &meeting);
    assert_eq!(
        first.matches("applied: 0001_complaints.sql").count(),
        2,
        "{first}"
    );
    let again = migrate(&nodes, &meeting);
    assert_eq!(again.matches("schema up to date").count(), 2, "{again}");
    let single_on_cluster = complaintflow(&[
        "migrate",
        "--clickhouse-url",
        &nodes[0].url(),
        "--database",
        &meeting,
    ]);
    assert!(!single_on_cluster.status.success());
    assert!(String::from_utf8_lossy(&single_on_cluster.stderr).contains("holds a cluster schema"));
    migrate(&nodes, &demo);

    // The meeting fixture: every meeting query (customer_progress among
    // them) gives the meeting's numbers on the cluster as on one server.
    let single = clickhouse_url();
    let (single_meeting, single_demo) = (fresh_database("smeet"), fresh_database("sdemo"));
    for (url, db, cluster) in [
        (nodes[0].url(), &meeting, true),
        (single.clone(), &single_meeting, false),
    ] {
        let o = replay(&fixture, &url, db, cluster);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // As an analyst runs them: no setting of their own.
    check_meeting_queries_as(&client(&meeting).with_url(nodes[0].url())).await;
    check_meeting_queries(&single_meeting).await;
    same_report_diff_and_corrections(&nodes[0].url(), &meeting, &single_meeting).await;

    // A bigger stream: every table and view holds what one server holds,
    // spread over both shards; a second replay adds no row, even raw.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("demo.jsonl");
    std::fs::write(&input, scenario(1500, 23).join("\n")).unwrap();
    for (url, db, cluster) in [
        (nodes[0].url(), &demo, true),
        (single.clone(), &single_demo, false),
    ] {
        let o = replay(&input, &url, db, cluster);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (c, s) = (client(&demo).with_url(nodes[0].url()), client(&single_demo));
    for table in TABLES {
        let from = format!("{table} FINAL");
        assert_eq!(digest(&c, &from).await, digest(&s, &from).await, "{table}");
        for node in &nodes {
            let local = client(&demo).with_url(node.url());
            let n = count(&local, &format!("SELECT count() FROM {table}_local")).await;
            assert!(n > 0, "{table}: no rows on the shard of {}", node.url());
        }
    }
    for view in VIEWS {
        assert_eq!(
            digest(&c, view).await,
            digest(&s, view).await,
            "view {view}"
        );
    }
    let raw = |c: clickhouse::Client| async move {
        let mut v = Vec::new();
        for table in TABLES {
            v.push(count(&c, &format!("SELECT count() FROM {table}")).await);
        }
        v
    };
    let before = raw(c.clone()).await;
    let o = replay(&input, &nodes[0].url(), &demo, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(raw(c).await, before, "raw rows after a second replay");

    // A node behind the binary's schema: writers refuse, saying so.
    let last = complaintflow::sink::clickhouse::MIGRATIONS.len();
    client(&demo)
        .with_url(nodes[1].url())
        .query(&format!(
            "DELETE FROM cluster_migrations WHERE version = {last}"
        ))
        .execute()
        .await
        .unwrap();
    let o = replay(&input, &nodes[0].url(), &demo, true);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let older = format!("a node has {} of the schema's {last} migrations", last - 1);
    assert!(!o.status.success() && stderr.contains(&older), "{stderr}");
}

/// The report's figures, `rules diff` over the stored history and `rules
/// corrections` are the same from the cluster as from one server.
async fn same_report_diff_and_corrections(node: &str, cluster_db: &str, single_db: &str) {
    let cfg = |url: &str, db: &str, cluster: &str| complaintflow::config::ClickHouseConfig {
        url: url.to_string(),
        database: db.to_string(),
        cluster: cluster.to_string(),
        ..Default::default()
    };
    let day = |d: &str| d.parse::<chrono::NaiveDate>().ok();
    let (from, to) = (day("2026-03-02"), day("2026-03-03"));
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let at = chrono::Utc::now();
    let mut figures = Vec::new();
    for c in [
        cfg(node, cluster_db, CLUSTER),
        cfg(&clickhouse_url(), single_db, ""),
    ] {
        let rows = complaintflow::report::read_clickhouse(&c, from, to, beijing)
            .await
            .unwrap();
        figures.push(format!(
            "{:?}",
            complaintflow::report::compute(&rows, from, to, at)
        ));
    }
    assert_eq!(figures[0], figures[1], "report figures");
    let rules = shipped_rules();
    let rules = rules.to_str().unwrap();
    let single = clickhouse_url();
    let mut outputs = Vec::new();
    for (url, db, cluster) in [
        (node, cluster_db, true),
        (single.as_str(), single_db, false),
    ] {
        let mut common = vec!["--clickhouse-url", url, "--clickhouse-database", db];
        if cluster {
            common.extend(["--clickhouse-cluster", CLUSTER]);
        }
        let mut diff = vec!["rules", "diff", rules, rules];
        diff.extend(&common);
        let mut corrections = vec!["rules", "corrections"];
        corrections.extend(&common);
        outputs.push((ok(&diff), ok(&corrections)));
    }
    assert!(
        outputs[0]
            .0
            .contains("decisions compared       6   changed      0"),
        "{}",
        outputs[0].0
    );
    assert_eq!(outputs[0], outputs[1], "rules diff and rules corrections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_load_into_a_cluster_loses_and_doubles_nothing_with_a_shard_down_for_30_s() {
    let mut nodes = OwnServer::cluster(CLUSTER, 2);
    let setup = Setup::new("chcluster", 2);
    let db = fresh_database("clive");
    migrate(&nodes, &db);
    let base = std::fs::read_to_string(&setup.config).unwrap();
    let config = setup.dir.path().join("cluster.toml");
    std::fs::write(
        &config,
        format!(
            "{base}[clickhouse]\nurl = \"{}\"\ndatabase = \"{db}\"\ncluster = \"{CLUSTER}\"\nmax_rows = 500\nperiod_ms = 2000\n",
            nodes[0].url()
        ),
    )
    .unwrap();
    let svc = setup.start(&["--config", config.to_str().unwrap()], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    let lines = scenario(600, 29);
    let (a, b) = lines.split_at(lines.len() / 3);
    produce(&setup.topic("events"), a).await;
    let started = eventually(Duration::from_secs(60), || {
        metric(setup.http_port, "complaintflow_clickhouse_rows_total") > 0.0
    });
    assert!(
        started,
        "nothing loaded before the outage\n{}",
        setup.all_logs()
    );

    // The second shard goes away; the loader writes through the first node.
    nodes[1].stop();
    let down = Instant::now();
    produce(&setup.topic("events"), b).await;
    std::thread::sleep(Duration::from_secs(30).saturating_sub(down.elapsed()));
    let errors = metric(setup.http_port, "complaintflow_clickhouse_errors_total");
    nodes[1].resume();
    assert!(errors >= 1.0, "the loader never noticed the shard was down");

    // Everything on the output topics arrives, once, read through the
    // Distributed tables with FINAL. (Raw copies can stay: a shard that
    // fails mid-insert leaves the other shards' parts stored, and the batch
    // read again from Kafka may be cut differently, so its token differs;
    // ReplacingMergeTree folds those copies, as on one server.)
    let client = client(&db).with_url(nodes[0].url());
    outputs_arrive_once(&setup, &client, "FINAL");
    // Every complaint's row, each on its shard.
    // (The status topic holds each complaint's rows, newest last.)
    let complaints = read_topic(&setup.topic("status"))
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(r).unwrap()["complaint_id"].to_string()
        })
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64;
    let stored = count(&client, "SELECT count() FROM complaints FINAL").await;
    assert_eq!(stored, complaints, "complaint rows");
    let second = client.clone().with_url(nodes[1].url());
    assert!(count(&second, "SELECT count() FROM sla_events_local").await > 0);
    println!("shard down 30 s: {errors} failed inserts, {complaints} complaints stored once");
    drop(svc);
}
