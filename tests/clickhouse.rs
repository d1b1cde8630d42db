//! The ClickHouse schema and the replay sink on a real server
//! (scripts/test.sh starts it).

mod support;
use std::process::Command;
use support::warehouse::*;

fn complaintflow(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn migrate(db: &str) -> String {
    complaintflow(&[
        "migrate",
        "--clickhouse-url",
        &clickhouse_url(),
        "--database",
        db,
    ])
}

async fn ids(client: &clickhouse::Client, table: &str) -> Vec<String> {
    let mut v: Vec<String> = client
        .query(&format!("SELECT DISTINCT complaint_id FROM {table}"))
        .fetch_all::<String>()
        .await
        .unwrap();
    v.sort();
    v
}

#[tokio::test]
async fn migrate_is_idempotent_and_rows_live_three_years_after_their_complaint_is_archived() {
    let db = fresh_database("ttl");
    assert_eq!(
        migrate(&db).trim(),
        "applied: 0001_complaints.sql, 0002_outcomes.sql, 0003_retractions.sql, 0004_bounded_inputs.sql, 0005_respond.sql, 0006_settled_partitions.sql, 0007_progress_lookup.sql"
    );
    assert_eq!(migrate(&db).trim(), "schema up to date");
    let client = client(&db);
    assert_eq!(
        count(&client, "SELECT count() FROM schema_migrations").await,
        complaintflow::sink::clickhouse::MIGRATIONS.len() as u64
    );
    // A complaint's rows are found by its id's bloom filter (progress API).
    for table in ["complaints", "events", "sla_events"] {
        let sql = format!(
            "SELECT count() FROM system.data_skipping_indices WHERE database = currentDatabase() \
             AND table = '{table}' AND name = 'complaint_idx' AND expr = 'complaint_id'"
        );
        assert_eq!(
            count(&client, &sql).await,
            1,
            "{table} has no complaint_idx"
        );
    }
    // Quiet months settle into one part, so FINAL costs nothing there.
    for table in complaintflow::sink::clickhouse::access::TABLES {
        let create: String = client
            .query(&format!("SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = '{table}'"))
            .fetch_one()
            .await
            .unwrap();
        assert!(
            create.contains("min_age_to_force_merge_seconds = 3600")
                && create.contains("min_age_to_force_merge_on_partition_only = 1"),
            "{table}: {create}"
        );
    }

    // Complaints: archived 3 years + 1 day ago (gone), 3 years - 1 day ago
    // (kept), never archived and last changed 2 years ago (kept).
    client
        .query(
            "INSERT INTO complaints (complaint_id, received_at, archived_at, updated_at, version) VALUES \
             ('gone', now64(3) - INTERVAL 3 YEAR - INTERVAL 40 DAY, now64(3) - INTERVAL 3 YEAR - INTERVAL 1 DAY, now64(3) - INTERVAL 3 YEAR - INTERVAL 1 DAY, 1), \
             ('kept', now64(3) - INTERVAL 3 YEAR - INTERVAL 40 DAY, now64(3) - INTERVAL 3 YEAR + INTERVAL 1 DAY, now64(3) - INTERVAL 3 YEAR + INTERVAL 1 DAY, 1), \
             ('open', now64(3) - INTERVAL 3 YEAR - INTERVAL 40 DAY, NULL, now64(3) - INTERVAL 2 YEAR, 1)",
        )
        .execute()
        .await
        .unwrap();
    client
        .query(&format!("SYSTEM RELOAD DICTIONARY {db}.retention"))
        .execute()
        .await
        .unwrap();
    // Rows of each complaint from 3 years + 40 days ago: by their own time
    // they would all be gone; their complaint keeps `kept` and `open`. An
    // orphan (no complaint row) goes by its own time.
    let old = "now64(3) - INTERVAL 3 YEAR - INTERVAL 40 DAY";
    for id in ["gone", "kept", "open", "orphan"] {
        for sql in [
            format!(
                "INSERT INTO events (event_id, complaint_id, type, occurred_at) VALUES ('{id}-e', '{id}', 'complaint.received', {old})"
            ),
            format!(
                "INSERT INTO decisions (decision_id, complaint_id, decided_at) VALUES ('{id}:0:decision', '{id}', {old})"
            ),
            format!(
                "INSERT INTO sla_events (event_id, complaint_id, deadline, at) VALUES ('{id}:0:acknowledge:started', '{id}', {old}, {old})"
            ),
            format!(
                "INSERT INTO dead_letters (source, complaint_id, at) VALUES ('t/0/{id}', '{id}', {old})"
            ),
        ] {
            client.query(&sql).execute().await.unwrap();
        }
    }
    for table in [
        "complaints",
        "events",
        "decisions",
        "sla_events",
        "dead_letters",
    ] {
        client
            .query(&format!("OPTIMIZE TABLE {table} FINAL"))
            .execute()
            .await
            .unwrap();
        assert_eq!(ids(&client, table).await, ["kept", "open"], "table {table}");
    }
}

#[tokio::test]
async fn replay_into_clickhouse_twice_stores_every_row_once_and_the_queries_give_the_meeting_numbers()
 {
    let db = fresh_database("replay");
    let input =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meeting.jsonl");
    let out = tempfile::tempdir().unwrap();
    let url = clickhouse_url();
    let args = [
        "replay",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--clickhouse-url",
        &url,
        "--clickhouse-database",
        &db,
    ];
    let first = complaintflow(&args);
    assert!(first.contains("105 rows stored in ClickHouse"), "{first}");
    complaintflow(&args);
    let client = client(&db);
    let lines = |f: &str| {
        std::fs::read_to_string(out.path().join(f))
            .unwrap()
            .lines()
            .count() as u64
    };
    // Raw counts, no FINAL: the second replay's inserts were deduplicated.
    // Events: 29 accepted, and the one the lifecycle refused (marked).
    for (table, expected) in [
        ("events", 30),
        ("decisions", lines("decisions.jsonl")),
        ("sla_events", lines("sla_events.jsonl")),
        ("dead_letters", lines("dead_letters.jsonl")),
        ("complaints", lines("complaints.jsonl")),
    ] {
        let n = count(&client, &format!("SELECT count() FROM {table}")).await;
        assert_eq!(n, expected, "rows in {table}");
    }
    check_meeting_queries(&db).await;
    // The report computes the same figures from ClickHouse as from the
    // replay's directory (one code path, whatever the source).
    let cfg = complaintflow::config::ClickHouseConfig {
        url: url.clone(),
        database: db.clone(),
        ..Default::default()
    };
    let day = |d: &str| d.parse::<chrono::NaiveDate>().ok();
    let (from, to) = (day("2026-03-02"), day("2026-03-03"));
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let at = chrono::Utc::now();
    // The input beside the outputs, as the demo leaves it: causes come from it.
    std::fs::copy(&input, out.path().join("input.jsonl")).unwrap();
    let stored = complaintflow::report::read_clickhouse(&cfg, from, to, beijing)
        .await
        .unwrap();
    let replayed = complaintflow::report::read_dir(out.path(), beijing).unwrap();
    let a = complaintflow::report::compute(&stored, from, to, at);
    let b = complaintflow::report::compute(&replayed, from, to, at);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(
        (a.complaints, a.first_time_satisfied, a.final_satisfied),
        (5, 3, 4)
    );
    // So are the page's lists and trend: the runs are summarised by the
    // same rule in SQL, the dead letters masked by the same patterns.
    let (ma, mb) = (
        complaintflow::report::meeting(&stored, from, to, at),
        complaintflow::report::meeting(&replayed, from, to, at),
    );
    let lists = |m: &complaintflow::report::Meeting| {
        let with_id = |runs: &[complaintflow::report::meeting::Listed]| {
            runs.iter()
                .map(|(r, c)| format!("{r:?} {:?}", c.as_ref().map(|c| &c.complaint_id)))
                .collect::<Vec<_>>()
        };
        let letters: Vec<_> = m
            .dead_letters
            .iter()
            .map(|d| (d.at, d.source.clone(), d.reason.clone(), d.payload.clone()))
            .collect();
        let reopened: Vec<&str> = m.reopened.iter().map(|c| c.complaint_id.as_str()).collect();
        let trend: Vec<String> = m
            .trend
            .iter()
            .map(|(p, f)| format!("{p:?} {f:?}"))
            .collect();
        format!(
            "{:?}\n{:?}\n{letters:?}\n{reopened:?}\n{trend:?}",
            with_id(&m.breached),
            with_id(&m.at_risk)
        )
    };
    assert_eq!(lists(&ma), lists(&mb));
    assert_eq!(ma.breached.len() as u64, a.breaches);
    assert_eq!(ma.dead_letters.len(), 2);
    assert_eq!(a.top_causes.len(), 3);
    // The stored events are a history `rules diff` can replay: with the
    // same rules on both sides, every decision comes back unchanged.
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let rules = rules.to_str().unwrap();
    let diff = complaintflow(&[
        "rules",
        "diff",
        rules,
        rules,
        "--clickhouse-url",
        &url,
        "--clickhouse-database",
        &db,
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-03",
    ]);
    assert!(
        diff.contains(
            "decisions compared       6   changed      0   (first decisions: 0 of 5 changed)"
        ),
        "{diff}"
    );
}

#[tokio::test]
async fn cluster_schema_parses() {
    let text = complaintflow(&["migrate", "--print-cluster", "main"]);
    let statements: Vec<&str> = text
        .split(";\n\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    // A database, and per migration statement one or (tables) two.
    assert!(statements.len() > 10, "{text}");
    let (records, statements): (Vec<&str>, Vec<&str>) = statements
        .into_iter()
        .partition(|s| s.starts_with("INSERT INTO complaints.cluster_migrations"));
    // Each migration is recorded (once: the record table is replicated).
    assert_eq!(
        records.len(),
        complaintflow::sink::clickhouse::MIGRATIONS.len()
    );
    let client = clickhouse::Client::default().with_url(clickhouse_url());
    for s in statements {
        let formatted: String = client
            .query("SELECT formatQuery(?)")
            .bind(s)
            .fetch_one()
            .await
            .unwrap_or_else(|e| panic!("{e}\n{s}"));
        assert!(formatted.contains("ON CLUSTER main"), "{formatted}");
    }
}

#[tokio::test]
async fn a_retracted_breach_counts_nowhere() {
    // S breaches (T's later receipt came first, beyond the lateness), then
    // its acknowledgement made in time arrives: `retracted`, then `met`.
    let lines = [
        r#"{"event_id":"s1","type":"complaint.received","complaint_id":"S","occurred_at":"2026-03-02T10:00:00Z","channel":"web","customer":{"id":"K1","name":"N"},"description":"家里宽带断网了","impact":"single"}"#,
        r#"{"event_id":"t1","type":"complaint.received","complaint_id":"T","occurred_at":"2026-03-02T10:20:00Z","channel":"web","customer":{"id":"K2","name":"N"},"description":"家里宽带断网了","impact":"single"}"#,
        r#"{"event_id":"s2","type":"complaint.acknowledged","complaint_id":"S","occurred_at":"2026-03-02T10:09:00Z"}"#,
    ];
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let db = fresh_database("retract");
    complaintflow(&[
        "replay",
        "--input",
        input.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
        "--until",
        "2026-03-02T10:20:00Z",
        "--clickhouse-url",
        &clickhouse_url(),
        "--clickhouse-database",
        &db,
    ]);
    let client = client(&db);
    // The raw events keep the history: the breach and its retraction.
    assert_eq!(
        tsv(&client, "SELECT kind FROM sla_events FINAL WHERE complaint_id = 'S' AND stage = 'acknowledge' ORDER BY kind", &[]).await,
        "breached\nescalated\nmet\nretracted\nstarted\nwarning\n"
    );
    // Every figure counts the stage as met.
    assert_eq!(
        tsv(&client, "SELECT stage, met, breached, late, compliance_pct FROM sla_compliance WHERE stage = 'acknowledge'", &[]).await,
        "acknowledge\t1\t0\t0\t100\n"
    );
    assert_eq!(
        tsv(
            &client,
            "SELECT acknowledge_sla, breaches FROM complaints FINAL WHERE complaint_id = 'S'",
            &[]
        )
        .await,
        "met\t0\n"
    );
    let sql = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/queries/sla_compliance.sql"
    ))
    .unwrap();
    let params = [("from", "2026-03-01"), ("to", "2026-03-31")];
    assert_eq!(
        tsv(&client, &sql, &params).await,
        "acknowledge\t1\t0\t0\t100\nassign\t1\t0\t0\t100\n"
    );
    // The report: ClickHouse's SLA tallies flag the retracted run and its
    // breach escalation as the files' do, so neither counts.
    let cfg = complaintflow::config::ClickHouseConfig {
        url: clickhouse_url(),
        database: db.clone(),
        ..Default::default()
    };
    let utc = chrono::FixedOffset::east_opt(0).unwrap();
    let stored = complaintflow::report::read_clickhouse(&cfg, None, None, utc)
        .await
        .unwrap();
    let replayed = complaintflow::report::read_dir(&dir.path().join("out"), utc).unwrap();
    let at = chrono::Utc::now();
    let a = complaintflow::report::compute(&stored, None, None, at);
    let b = complaintflow::report::compute(&replayed, None, None, at);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!((a.breaches, a.escalations, a.retractions), (0, 0, 1));
}

#[tokio::test]
async fn a_backlog_over_120_months_is_stored_in_one_go_and_impossible_times_are_dead_letters() {
    use chrono::{Datelike, TimeZone};
    let db = fresh_database("months");
    let dir = tempfile::tempdir().unwrap();
    let line = |id: &str, cid: &str, at: &str, kind: &str| {
        let mut v = serde_json::json!({"event_id": id, "type": format!("complaint.{kind}"),
            "complaint_id": cid, "occurred_at": at});
        if kind == "received" {
            v["channel"] = "web".into();
            v["customer"] = serde_json::json!({"id": "K", "name": "N"});
            v["description"] = "宽带断网".into();
        }
        v.to_string()
    };
    // One complaint on the first of each of the last 120 months: one INSERT
    // touches 120 monthly partitions (ClickHouse refuses over 100 by default).
    let now = chrono::Utc::now();
    let mut lines = Vec::new();
    let mut firsts = Vec::new();
    for back in (0..120).rev() {
        let months = now.year() * 12 + now.month0() as i32 - back;
        let first = chrono::Utc
            .with_ymd_and_hms(months / 12, (months % 12) as u32 + 1, 1, 0, 0, 0)
            .unwrap();
        let (at, ack) = (
            first.to_rfc3339(),
            (first + chrono::TimeDelta::minutes(5)).to_rfc3339(),
        );
        lines.push(line(
            &format!("M{back}-r"),
            &format!("M{back}"),
            &at,
            "received",
        ));
        lines.push(line(
            &format!("M{back}-a"),
            &format!("M{back}"),
            &ack,
            "acknowledged",
        ));
        firsts.push(first);
    }
    lines.push(line("Y9999", "Y9999", "9999-12-31T23:59:59Z", "received"));
    lines.push(line("Y1970", "Y1970", "1970-01-01T00:00:00Z", "received"));
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let url = clickhouse_url();
    let out_dir = dir.path().join("out");
    let out = complaintflow(&[
        "replay",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--clickhouse-url",
        &url,
        "--clickhouse-database",
        &db,
    ]);
    // Every row was sent and stored: nothing wedged on the partitions.
    let written = |f: &str| {
        std::fs::read_to_string(out_dir.join(f))
            .unwrap()
            .lines()
            .count()
    };
    let rows = 240 // accepted events
        + 1 // the 1970 one, marked refused in `events` (9999 lies outside
            // the tables' time range: its dead letter is its only record)
        + ["decisions.jsonl", "sla_events.jsonl", "dead_letters.jsonl", "complaints.jsonl"]
            .iter()
            .map(|f| written(f))
            .sum::<usize>();
    assert!(
        out.contains(&format!("{rows} rows stored in ClickHouse")),
        "{out}"
    );
    let client = client(&db);
    assert_eq!(count(&client, "SELECT count() FROM rejected_rows").await, 0);
    // Every month younger than the three-year retention is there (older
    // rows are the tables' TTL's to drop, as soon as they are written).
    let horizon = count(
        &client,
        "SELECT toUInt64(toUnixTimestamp(now() - INTERVAL 3 YEAR))",
    )
    .await as i64;
    let young: Vec<String> = firsts
        .iter()
        .filter(|f| f.timestamp() >= horizon + 86_400)
        .map(|f| f.format("%Y%m").to_string())
        .collect();
    let kept = tsv(
        &client,
        "SELECT DISTINCT toYYYYMM(occurred_at) FROM events WHERE refused = 0",
        &[],
    )
    .await;
    let kept: Vec<&str> = kept.lines().collect();
    assert!(young.len() >= 35, "{young:?}");
    for m in &young {
        assert!(
            kept.contains(&m.as_str()),
            "month {m} missing from {kept:?}"
        );
    }
    let refused = tsv(
        &client,
        "SELECT reason_code, source FROM dead_letters FINAL ORDER BY reason_code",
        &[],
    )
    .await;
    let input_name = input.to_str().unwrap();
    assert_eq!(
        refused,
        format!("future_event\t{input_name}:241\nout_of_range\t{input_name}:242\n")
    );
}

#[tokio::test]
async fn rows_clickhouse_refuses_go_to_rejected_rows_and_the_rest_of_the_batch_is_stored() {
    use complaintflow::config::ClickHouseConfig;
    use complaintflow::core::Output;
    use complaintflow::model::{Category, Decision, Priority};
    use complaintflow::sink::clickhouse::{Batch, Warehouse};
    let db = fresh_database("rejected");
    migrate(&db);
    let cfg = ClickHouseConfig {
        url: clickhouse_url(),
        database: db.clone(),
        ..ClickHouseConfig::default()
    };
    let decision = |id: &str, at: &str| Decision {
        decision_id: format!("{id}:0:decision"),
        complaint_id: id.to_string(),
        cycle: 0,
        category: Category::Technical,
        priority: Priority::General,
        lead_department: "technical".into(),
        assist_departments: vec![],
        coordination_required: false,
        reason: "r".into(),
        ruleset_version: "v".into(),
        decided_at: at.parse().unwrap(),
        sla_overrides: Default::default(),
    };
    let mut batch = Batch::default();
    for (id, at) in [
        ("D1", "2026-03-02T10:00:00Z"),
        ("D2", "2026-03-02T11:00:00Z"),
        // Past the schema's time range: the server's constraint refuses it.
        ("D3", "2250-01-01T00:00:00Z"),
        ("D4", "2026-03-02T12:00:00Z"),
        ("D5", "2026-03-02T13:00:00Z"),
    ] {
        batch.add(&Output::Decision(decision(id, at)));
    }
    let mut w = Warehouse::new(&cfg).unwrap();
    let rejected = w.insert(&batch, "t1").await.unwrap();
    assert_eq!(rejected, 1);
    let client = client(&db);
    assert_eq!(ids(&client, "decisions").await, ["D1", "D2", "D4", "D5"]);
    let row = tsv(
        &client,
        "SELECT table, complaint_id, reason LIKE '%decided_in_range%' FROM rejected_rows",
        &[],
    )
    .await;
    assert_eq!(row, "decisions\tD3\t1\n");
    // The same batch again (a re-read): every insert is deduplicated.
    assert_eq!(w.insert(&batch, "t1").await.unwrap(), 1);
    assert_eq!(count(&client, "SELECT count() FROM decisions").await, 4);
    assert_eq!(count(&client, "SELECT count() FROM rejected_rows").await, 1);
}

#[tokio::test]
async fn days_are_beijing_days_at_the_0800_utc_midnight() {
    let db = fresh_database("localday");
    let dir = tempfile::tempdir().unwrap();
    let line = |id: &str, at: &str, kind: &str| {
        let mut v = serde_json::json!({"event_id": format!("{id}-{kind}"), "type": format!("complaint.{kind}"),
            "complaint_id": id, "occurred_at": at});
        if kind == "received" {
            v["channel"] = "web".into();
            v["customer"] = serde_json::json!({"id": "K", "name": "N"});
            v["description"] = "宽带断网".into();
        }
        v.to_string()
    };
    // 07:59 and 08:01 Beijing time: 23:59 and 00:01 UTC, two UTC days.
    let lines = [
        line("B1", "2026-03-02T07:59:00+08:00", "received"),
        line("B2", "2026-03-02T08:01:00+08:00", "received"),
        line("B1", "2026-03-02T08:03:00+08:00", "acknowledged"),
        line("B2", "2026-03-02T08:04:00+08:00", "acknowledged"),
    ];
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let url = clickhouse_url();
    complaintflow(&[
        "replay",
        "--input",
        input.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
        "--clickhouse-url",
        &url,
        "--clickhouse-database",
        &db,
    ]);
    let client = client(&db);
    let volume =
        "SELECT toString(day), sum(complaints) FROM daily_volume GROUP BY day ORDER BY day";
    assert_eq!(tsv(&client, volume, &[]).await, "2026-03-02\t2\n");
    let acks = "SELECT toString(day), sum(met) FROM sla_compliance \
                WHERE stage = 'acknowledge' GROUP BY day ORDER BY day";
    assert_eq!(tsv(&client, acks, &[]).await, "2026-03-02\t2\n");
    // The meeting query for that one local day finds both.
    let sql = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/daily_volume.sql"),
    )
    .unwrap();
    let got = tsv(
        &client,
        &sql,
        &[("from", "2026-03-02"), ("to", "2026-03-02")],
    )
    .await;
    assert_eq!(got.lines().count(), 1, "{got}");
    assert!(
        got.starts_with("2026-03-02\tweb\ttechnical\ttechnical\t2\t"),
        "{got}"
    );
    // The report, from ClickHouse, on Beijing days: one day, both complaints.
    let cfg = complaintflow::config::ClickHouseConfig {
        url: url.clone(),
        database: db.clone(),
        ..Default::default()
    };
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let rows = complaintflow::report::read_clickhouse(&cfg, None, None, beijing)
        .await
        .unwrap();
    let f = complaintflow::report::compute(&rows, None, None, chrono::Utc::now());
    let days: Vec<String> = f
        .by_day_channel
        .iter()
        .map(|((d, c), n)| format!("{d} {c} {n}"))
        .collect();
    assert_eq!(days, ["2026-03-02 web 2"]);
    // Another zone, re-applied by migrate: UTC days split them.
    complaintflow(&[
        "migrate",
        "--clickhouse-url",
        &url,
        "--database",
        &db,
        "--timezone",
        "UTC",
    ]);
    assert_eq!(
        tsv(&client, volume, &[]).await,
        "2026-03-01\t1\n2026-03-02\t1\n"
    );
}

/// The at-risk list: a stage past its warning and a breached one are on
/// it, nearest deadline first; a stage within its first 80 % and a stage
/// that ended are not.
#[tokio::test]
async fn the_at_risk_list_holds_open_stages_past_their_warning() {
    let db = fresh_database("atrisk");
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let at = |minutes_ago: i64| (now - chrono::TimeDelta::minutes(minutes_ago)).to_rfc3339();
    let received = |id: &str, minutes_ago: i64| {
        serde_json::json!({"event_id": format!("{id}-r"), "type": "complaint.received", "complaint_id": id,
            "occurred_at": at(minutes_ago), "channel": "web", "customer": {"id": "K", "name": "N"},
            "description": "宽带断网"}).to_string()
    };
    let acknowledged = |id: &str, minutes_ago: i64| {
        serde_json::json!({"event_id": format!("{id}-a"), "type": "complaint.acknowledged",
            "complaint_id": id, "occurred_at": at(minutes_ago)})
        .to_string()
    };
    // Acknowledgement is due 10 min after receipt, its warning at 8 min.
    let lines = [
        received("R-WARN", 9),
        received("R-LATE", 30),
        received("R-FRESH", 2),
        received("R-DONE", 20),
        acknowledged("R-DONE", 15),
    ];
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let out = dir.path().join("out");
    complaintflow(&[
        "replay",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--until",
        &now.to_rfc3339(),
        "--clickhouse-url",
        &clickhouse_url(),
        "--clickhouse-database",
        &db,
    ]);
    let sql = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/at_risk.sql"),
    )
    .unwrap();
    let got = tsv(&client(&db), &sql, &[]).await;
    let rows: Vec<Vec<&str>> = got.lines().map(|l| l.split('\t').collect()).collect();
    let listed: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[1], r[2], r[5])).collect();
    assert_eq!(
        listed,
        [
            ("R-LATE", "acknowledge", "true"),
            ("R-WARN", "acknowledge", "false")
        ],
        "{got}"
    );
    assert!(rows.iter().all(|r| r[6] == "Asia/Shanghai"), "{got}");
}
