//! ClickHouse side of the tests: the server scripts/test.sh started, a fresh
//! database per test, and the analyst queries of `queries/` with the numbers
//! `tests/fixtures/meeting.jsonl` implies.

use clickhouse::Client;
use std::path::Path;

pub fn clickhouse_url() -> String {
    std::env::var("COMPLAINTFLOW_TEST_CLICKHOUSE")
        .expect("COMPLAINTFLOW_TEST_CLICKHOUSE is not set: run the tests with scripts/test.sh, which starts ClickHouse")
}

/// A database name no other test or run uses.
pub fn fresh_database(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

pub fn client(database: &str) -> Client {
    Client::default()
        .with_url(clickhouse_url())
        .with_database(database)
}

/// Runs `sql` and returns its result as TSV text.
pub async fn tsv(client: &Client, sql: &str, params: &[(&str, &str)]) -> String {
    let mut q = client.query(sql);
    for (k, v) in params {
        q = q.param(k, v);
    }
    let bytes = q
        .fetch_bytes("TabSeparated")
        .unwrap()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Polls `sqls` (counts) until they equal `want`, for up to 30 s; the last counts.
pub async fn counts_become(client: &Client, sqls: &[&str], want: &[u64]) -> Vec<u64> {
    let mut got = Vec::new();
    for _ in 0..60 {
        got.clear();
        for sql in sqls {
            got.push(count(client, sql).await);
        }
        if got == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    got
}

pub async fn count(client: &Client, sql: &str) -> u64 {
    client.query(sql).fetch_one::<u64>().await.unwrap()
}

/// The meeting scenario: 5 complaints over two days, every stage closed.
pub fn meeting_lines() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meeting.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Each analyst query and what it must return for the meeting scenario,
/// worked out from the scenario by hand (see the comments in
/// tests/fixtures/README.md).
pub const MEETING_RESULTS: &[(&str, &str)] = &[
    (
        "daily_volume.sql",
        "2026-03-02\tphone\ttechnical\ttechnical\t1\t0\t0\n\
         2026-03-02\tsocial\ttechnical\ttechnical\t1\t1\t0\n\
         2026-03-02\tweb\tbusiness\tbusiness\t1\t0\t0\n\
         2026-03-03\temail\ttechnical\ttechnical\t1\t0\t0\n\
         2026-03-03\tphone\tother\tcustomer_service\t1\t0\t1\n",
    ),
    (
        "volume_by_channel.sql",
        "phone\t2\t40\nemail\t1\t20\nsocial\t1\t20\nweb\t1\t20\n",
    ),
    (
        "sla_compliance.sql",
        "acknowledge\t3\t1\t1\t75\n\
         assign\t4\t0\t0\t100\n\
         respond\t1\t1\t1\t50\n\
         handle\t5\t0\t0\t100\n\
         report\t5\t0\t0\t100\n\
         confirm\t4\t1\t1\t80\n",
    ),
    (
        "sla_by_department.sql",
        "business\tgeneral\t4\t1\t80\n\
         business\timportant\t4\t0\t100\n\
         technical\tgeneral\t9\t1\t90\n\
         technical\turgent\t5\t1\t83.3\n",
    ),
    (
        "reopen_satisfaction.sql",
        "business\t1\t1\t1\t0\t1\t100\t0\t100\n\
         other\t1\t0\t0\t0\t0\t0\t\\N\t\\N\n\
         technical\t3\t0\t3\t3\t3\t0\t100\t100\n\
         \t5\t1\t4\t3\t4\t20\t75\t100\n",
    ),
    (
        "top_causes.sql",
        "光猫故障\ttechnical\t2\n计费系统重复扣费\tbusiness\t2\n光缆被挖断\ttechnical\t1\n",
    ),
    (
        "dead_letters.sql",
        "unknown_complaint\t1\t2026-03-03 14:00:00.000\t2026-03-03 14:00:00.000\tAsia/Shanghai\n\
         unparsable\t1\t2026-03-02 09:15:00.000\t2026-03-02 09:15:00.000\tAsia/Shanghai\n",
    ),
    // The meeting's complaints are all closed: nothing at risk.
    ("at_risk.sql", ""),
    (
        "customer_progress.sql",
        "M5\tarchived\ttechnical\tgeneral\ttechnical\t2026-03-03 09:00:00.000\tmet\tmet\tnot_started\tmet\tmet\tlate\t0\ttrue\tAsia/Shanghai\n\
         M1\tarchived\ttechnical\tgeneral\ttechnical\t2026-03-02 08:00:00.000\tmet\tmet\tnot_started\tmet\tmet\tmet\t0\ttrue\tAsia/Shanghai\n",
    ),
];

/// Checks the accepted events, then runs every query of `queries/` against
/// `database` and compares its result with [`MEETING_RESULTS`]; every file
/// there must have an entry.
pub async fn check_meeting_queries(database: &str) {
    check_meeting_queries_as(&client(database)).await;
}

/// [`check_meeting_queries`] as the user of `client` (the analyst role can
/// run them all).
pub async fn check_meeting_queries_as(client: &Client) {
    let accepted = "SELECT count() FROM events_masked WHERE refused = 0";
    assert_eq!(count(client, accepted).await, 29, "accepted events");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let params = [
        ("from", "2026-03-02"),
        ("to", "2026-03-03"),
        ("customer_id", "K1"),
    ];
    let mut failures = Vec::new();
    for file in &files {
        let sql = std::fs::read_to_string(dir.join(file)).unwrap();
        let got = tsv(client, &sql, &params).await;
        let expected = MEETING_RESULTS
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, r)| *r);
        if expected != Some(got.as_str()) {
            failures.push(format!("{file}:\nexpected:\n{expected:?}\ngot:\n{got:?}"));
        }
    }
    assert_eq!(
        files.len(),
        MEETING_RESULTS.len(),
        "queries/ and MEETING_RESULTS differ: {files:?}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Waits up to 90 s until every decision, SLA event and dead letter on the
/// output topics of `setup` is a row of `client`'s database exactly once,
/// read as `read` says (`""`: raw rows; `"FINAL"`: with the copies that
/// ReplacingMergeTree folds folded); panics with both counts and the logs.
pub fn outputs_arrive_once(setup: &super::Setup, client: &Client, read: &str) {
    let topics = [
        ("decisions", "decisions", "decision_id"),
        ("sla", "sla_events", "event_id"),
        ("dlq", "dead_letters", "source"),
    ];
    let mut last = (Vec::new(), Vec::new());
    let same = super::eventually(std::time::Duration::from_secs(90), || {
        let mut ok = true;
        last = (Vec::new(), Vec::new());
        for (topic, table, id) in topics {
            let ids: std::collections::BTreeSet<String> =
                super::by_id(&setup.topic(topic), id).into_keys().collect();
            // A server still coming back reads as no rows: try again.
            let rows: Vec<String> = futures::executor::block_on(
                client
                    .query(&format!("SELECT {id} FROM {table} {read} ORDER BY {id}"))
                    .fetch_all::<String>(),
            )
            .unwrap_or_default();
            ok &= rows.len() == ids.len() && rows.iter().cloned().eq(ids.iter().cloned());
            last.0.push(ids.len());
            last.1.push(rows.len());
        }
        ok
    });
    assert!(
        same,
        "topic records {:?} vs ClickHouse rows {:?}\n{}",
        last.0,
        last.1,
        setup.all_logs()
    );
}

/// A ClickHouse server of the test's own, to stop and start again on the
/// same port and data (from the library scripts/test.sh installed).
pub struct OwnServer {
    pub port: u16,
    pub data: tempfile::TempDir,
    config: Option<std::path::PathBuf>,
    /// The native protocol's port, for the other nodes of a cluster.
    tcp_port: Option<u16>,
    child: Option<std::process::Child>,
}

impl OwnServer {
    pub fn start() -> OwnServer {
        let mut s = OwnServer {
            port: super::free_port(),
            data: tempfile::tempdir().unwrap(),
            config: None,
            tcp_port: None,
            child: None,
        };
        s.resume();
        s
    }

    /// A server whose users, roles and grants are `users_xml` (the body of
    /// a users.xml `<clickhouse>` element).
    pub fn start_with_users(users_xml: &str) -> OwnServer {
        let conf = tempfile::tempdir().unwrap().keep();
        std::fs::write(
            conf.join("users.xml"),
            format!("<clickhouse>\n{users_xml}\n</clickhouse>\n"),
        )
        .unwrap();
        let config = conf.join("config.xml");
        std::fs::write(
            &config,
            "<clickhouse><user_directories><users_xml><path>users.xml</path></users_xml></user_directories></clickhouse>\n",
        )
        .unwrap();
        let mut s = OwnServer {
            port: super::free_port(),
            data: tempfile::tempdir().unwrap(),
            config: Some(config),
            tcp_port: None,
            child: None,
        };
        s.resume();
        s
    }

    /// The nodes of a cluster `name` of `shards` shards, one node each, on
    /// loopback: each node's `remote_servers` lists them all, and its
    /// macros name its shard (`01`, `02`, ...) and replica (`r1`).
    pub fn cluster(name: &str, shards: usize) -> Vec<OwnServer> {
        let tcp: Vec<u16> = (0..shards).map(|_| super::free_port()).collect();
        let remote: String = tcp
            .iter()
            .map(|p| {
                format!("<shard><replica><host>127.0.0.1</host><port>{p}</port></replica></shard>")
            })
            .collect();
        let mut nodes = Vec::new();
        for (i, port) in tcp.iter().enumerate() {
            let conf = tempfile::tempdir().unwrap().keep();
            let config = conf.join("config.xml");
            std::fs::write(
                &config,
                format!(
                    "<clickhouse><remote_servers><{name}>{remote}</{name}></remote_servers>\
                     <macros><shard>{:02}</shard><replica>r1</replica></macros></clickhouse>\n",
                    i + 1
                ),
            )
            .unwrap();
            let mut node = OwnServer {
                port: super::free_port(),
                data: tempfile::tempdir().unwrap(),
                config: Some(config),
                tcp_port: Some(*port),
                child: None,
            };
            node.resume();
            nodes.push(node);
        }
        nodes
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) and waits until it answers.
    pub fn resume(&mut self) {
        let lib = std::env::var("COMPLAINTFLOW_TEST_CHDB_LIB")
            .expect("COMPLAINTFLOW_TEST_CHDB_LIB is not set: run the tests with scripts/test.sh");
        let launcher =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/clickhouse_server.py");
        let child = std::process::Command::new("python3")
            .arg(launcher)
            .arg(lib)
            .arg(self.port.to_string())
            .arg(self.data.path())
            .args(self.config.iter())
            .args(self.tcp_port.map(|p| p.to_string()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let ok = super::eventually(std::time::Duration::from_secs(60), || {
            super::http_get(self.port, "/ping").is_some_and(|(s, _)| s == 200)
        });
        assert!(
            ok,
            "own ClickHouse server did not start on port {}",
            self.port
        );
    }

    /// Stops the server (SIGKILL: nothing in flight completes).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}
