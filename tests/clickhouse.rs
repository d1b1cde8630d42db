//! The ClickHouse schema on a real server (scripts/test.sh starts it).

use clickhouse::Client;
use std::process::Command;

fn url() -> String {
    std::env::var("COMPLAINTFLOW_TEST_CLICKHOUSE")
        .expect("COMPLAINTFLOW_TEST_CLICKHOUSE is not set: run the tests with scripts/test.sh, which starts ClickHouse")
}

fn migrate() -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args(["migrate", "--clickhouse-url", &url()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct Id {
    complaint_id: String,
}

#[tokio::test]
async fn migrate_is_idempotent_and_complaints_live_three_years_after_archiving() {
    // The first run may find the schema applied by an earlier run on this server.
    let first = migrate();
    assert!(
        first.contains("applied: 0001_complaints.sql") || first.contains("schema up to date"),
        "{first}"
    );
    assert_eq!(migrate().trim(), "schema up to date");
    let client = Client::default().with_url(url());
    let count: u64 = client
        .query("SELECT count() FROM complaints.schema_migrations WHERE version = 1")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(count, 1, "a migration is recorded once");

    let tag = format!("ttl-{}", std::process::id());
    client
        .query(&format!(
            "INSERT INTO complaints.complaints (complaint_id, received_at, archived_at, updated_at, version) VALUES \
             ('{tag}-gone', now64(3) - INTERVAL 3 YEAR - INTERVAL 40 DAY, now64(3) - INTERVAL 3 YEAR - INTERVAL 1 DAY, now64(3) - INTERVAL 3 YEAR - INTERVAL 1 DAY, 1), \
             ('{tag}-kept', now64(3) - INTERVAL 3 YEAR - INTERVAL 40 DAY, now64(3) - INTERVAL 3 YEAR + INTERVAL 1 DAY, now64(3) - INTERVAL 3 YEAR + INTERVAL 1 DAY, 1), \
             ('{tag}-open', now64(3) - INTERVAL 3 YEAR - INTERVAL 40 DAY, NULL, now64(3) - INTERVAL 2 YEAR, 1)"
        ))
        .execute()
        .await
        .unwrap();
    client
        .query("OPTIMIZE TABLE complaints.complaints FINAL")
        .execute()
        .await
        .unwrap();
    let mut left: Vec<String> = client
        .query("SELECT complaint_id FROM complaints.complaints WHERE startsWith(complaint_id, ?)")
        .bind(&tag)
        .fetch_all::<Id>()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.complaint_id)
        .collect();
    left.sort();
    assert_eq!(left, [format!("{tag}-kept"), format!("{tag}-open")]);
}
