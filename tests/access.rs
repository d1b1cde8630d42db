//! ClickHouse over HTTPS with least privilege, on a real server with real
//! users: the writer role loads and migrates but cannot drop; the analyst
//! role runs every meeting query and the report, and reads no name, phone,
//! e-mail or raw payload. The server's users and roles come from users.xml
//! (clickhouse-local has no SQL-managed users), with the grants that
//! `migrate --roles` gives; stunnel with the test CA's certificate serves
//! HTTPS in front of it.

mod support;

use complaintflow::config::ClickHouseConfig;
use complaintflow::sink::clickhouse::access::{ANALYST_READS, TABLES, roles};
use std::process::Command;
use support::warehouse::*;
use support::*;

const WRITER: &str = "cf_writer";
const ANALYST: &str = "cf_analyst";
const WRITER_PASSWORD: &str = "writer-pw-5d1c";
const ANALYST_PASSWORD: &str = "analyst-pw-93ab";

/// Personal data the input carries and no analyst may see.
const PHONE: &str = "13800138000";
const PHONE_IN_TEXT: &str = "13912345678";
const EMAIL: &str = "k1.wang@example.com";
const NAME: &str = "客户K1";

fn users_xml(db: &str) -> String {
    let roles: String = roles(db)
        .iter()
        .map(|r| {
            let grants: String = r
                .grants
                .iter()
                .map(|g| format!("<query>{g}</query>"))
                .collect();
            format!("<{0}><grants>{grants}</grants></{0}>", r.name)
        })
        .collect();
    let user = |name: &str, password: &str, extra: &str| {
        format!(
            "<{name}><password>{password}</password><networks><ip>127.0.0.1</ip></networks>\
             <profile>default</profile><quota>default</quota>{extra}</{name}>"
        )
    };
    format!(
        "<profiles><default/></profiles><quotas><default/></quotas>\n<roles>{roles}</roles>\n<users>{}{}{}</users>",
        user("default", "", "<access_management>1</access_management>"),
        user(
            WRITER,
            WRITER_PASSWORD,
            &format!("<grants><query>GRANT {db}_writer</query></grants>")
        ),
        user(
            ANALYST,
            ANALYST_PASSWORD,
            &format!("<grants><query>GRANT {db}_analyst</query></grants>")
        ),
    )
}

/// The meeting scenario with a phone and an e-mail address on M1's
/// customer and a phone number in M2's description; outcomes unchanged.
fn input_with_personal_data() -> Vec<String> {
    meeting_lines()
        .into_iter()
        .map(
            |line| match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(mut v) if v["event_id"] == "M1-r" => {
                    v["customer"]["phone"] = PHONE.into();
                    v["customer"]["email"] = EMAIL.into();
                    v.to_string()
                }
                Ok(mut v) if v["event_id"] == "M2-r" => {
                    let text = format!(
                        "{} 联系电话{PHONE_IN_TEXT}",
                        v["description"].as_str().unwrap()
                    );
                    v["description"] = text.into();
                    v.to_string()
                }
                _ => line,
            },
        )
        .collect()
}

fn login(url: &str, db: &str, user: &str, password: &str) -> ClickHouseConfig {
    ClickHouseConfig {
        url: url.into(),
        database: db.into(),
        user: user.into(),
        password: password.into(),
        ca_file: test_ca_file(),
        ..Default::default()
    }
}

fn complaintflow(args: &[&str], password: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args(args)
        .env("COMPLAINTFLOW_CLICKHOUSE_PASSWORD", password)
        .output()
        .unwrap()
}

fn ok(o: &std::process::Output) -> String {
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{out}");
    out
}

/// The server's refusal of `sql`, which must be a missing privilege.
async fn refused(client: &clickhouse::Client, sql: &str) -> String {
    match client.query(sql).execute().await {
        Ok(()) => panic!("allowed: {sql}"),
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("ACCESS_DENIED"), "{sql}: {e}");
            e
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_writer_loads_but_cannot_drop_and_the_analyst_sees_no_personal_data() {
    let db = fresh_database("access");
    let server = OwnServer::start_with_users(&users_xml(&db));
    let tls = Stunnel::start(server.port);
    let url = tls.https_url();
    let ca = test_ca_file();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("meeting.jsonl");
    std::fs::write(&input, input_with_personal_data().join("\n") + "\n").unwrap();
    let https = [
        "--clickhouse-url",
        &url,
        "--clickhouse-database",
        &db,
        "--clickhouse-ca-file",
        &ca,
    ];

    // Without the test CA the server's certificate is not trusted.
    let untrusted = [
        "migrate",
        "--clickhouse-url",
        &url,
        "--database",
        &db,
        "--clickhouse-user",
        WRITER,
    ];
    let o = complaintflow(&untrusted, WRITER_PASSWORD);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("certificate"), "{err}");

    // The writer migrates (database, tables, views) and loads, over HTTPS.
    let out_dir = dir.path().join("out");
    let mut replay = vec![
        "replay",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--clickhouse-user",
        WRITER,
    ];
    replay.extend(https);
    let out = ok(&complaintflow(&replay, WRITER_PASSWORD));
    assert!(out.contains("105 rows stored in ClickHouse"), "{out}");
    let again = [
        "migrate",
        "--clickhouse-url",
        &url,
        "--database",
        &db,
        "--clickhouse-ca-file",
        &ca,
        "--clickhouse-user",
        WRITER,
    ];
    assert!(ok(&complaintflow(&again, WRITER_PASSWORD)).contains("schema up to date"));

    // The personal data is stored (for the service and rules diff)...
    let admin = client(&db).with_url(server.url());
    for secret in [PHONE, PHONE_IN_TEXT, EMAIL, NAME] {
        let n = count(
            &admin,
            &format!("SELECT count() FROM events WHERE position(payload, '{secret}') > 0"),
        )
        .await;
        assert!(n >= 1, "{secret} is not stored");
    }

    // ...and the analyst, over HTTPS, runs every meeting query...
    let analyst =
        complaintflow::sink::clickhouse::client(&login(&url, &db, ANALYST, ANALYST_PASSWORD))
            .unwrap()
            .with_database(&db);
    check_meeting_queries_as(&analyst).await;

    // ...reads everything granted without a trace of it...
    for object in ANALYST_READS {
        let rows = tsv(&analyst, &format!("SELECT * FROM {object}"), &[]).await;
        // Every meeting complaint is closed: nothing is at risk (and the
        // list has ids, stages and times only).
        assert!(
            !rows.is_empty() || *object == "at_risk",
            "{object} is empty"
        );
        for secret in [PHONE, PHONE_IN_TEXT, EMAIL, NAME] {
            assert!(
                !rows.contains(secret),
                "{secret} readable in {object}:\n{rows}"
            );
        }
    }
    let masked = tsv(
        &analyst,
        "SELECT payload FROM events_masked WHERE event_id IN ('M1-r', 'M2-r') ORDER BY event_id",
        &[],
    )
    .await;
    assert!(
        masked.contains(r#""customer":"***""#) && masked.contains("联系电话***"),
        "{masked}"
    );

    // ...and nothing else: no raw table, no insert.
    for raw in ["events", "dead_letters", "rejected_rows"] {
        refused(&analyst, &format!("SELECT * FROM {raw} LIMIT 1")).await;
    }
    refused(
        &analyst,
        "INSERT INTO complaints (complaint_id) VALUES ('X-1')",
    )
    .await;

    // The analyst makes the meeting report from ClickHouse.
    let page = dir.path().join("report.html");
    let mut report = vec![
        "report",
        "--clickhouse-user",
        ANALYST,
        "--out",
        page.to_str().unwrap(),
    ];
    report.extend(https);
    ok(&complaintflow(&report, ANALYST_PASSWORD));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("投诉分析会"), "not the report");
    for secret in [PHONE, PHONE_IN_TEXT, EMAIL, NAME] {
        assert!(!html.contains(secret), "{secret} in the report");
    }

    // The writer drops, truncates and deletes nothing.
    let writer =
        complaintflow::sink::clickhouse::client(&login(&url, &db, WRITER, WRITER_PASSWORD))
            .unwrap()
            .with_database(&db);
    for table in TABLES {
        refused(&writer, &format!("DROP TABLE {table}")).await;
        refused(&writer, &format!("TRUNCATE TABLE {table}")).await;
        refused(&writer, &format!("ALTER TABLE {table} DELETE WHERE 1")).await;
    }
    refused(&writer, &format!("DROP DATABASE {db}")).await;
    assert_eq!(
        count(&admin, "SELECT count() FROM complaints FINAL").await,
        5
    );
}

/// What the masking finds, on the real server and in Rust alike: the JSON
/// fields, the customer object (also nested), e-mail addresses and Chinese
/// phone numbers in free text; times, ids and amounts stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masking_hides_names_phones_and_addresses_and_keeps_the_rest() {
    use complaintflow::sink::clickhouse::mask_sql;
    let cases = [
        (
            r#"{"customer":{"id":"K9","name":"王五","phone":"13800138000"},"impact":"single"}"#,
            r#"{"customer":"***","impact":"single"}"#,
        ),
        (
            r#"{"customer":{"id":"K9","extra":{"a":1},"name":"王五"},"x":1}"#,
            r#"{"customer":{"id":"K9","extra":{"a":1},"name":"***"},"x":1}"#,
        ),
        (
            r#"{"email": "li.si@example.com.cn", "phone":"+86 139-0000"}"#,
            r#"{"email":"***", "phone":"***"}"#,
        ),
        (
            "请回电 +86 13912345678 或 010-62345678，邮件 wang_5@corp.example.cn",
            "请回电 *** 或 ***，邮件 ***@***",
        ),
        (
            "CF-2026-000123 at 2026-11-02T08:00:00+08:00 charged 19.99 twice, order 123456",
            "CF-2026-000123 at 2026-11-02T08:00:00+08:00 charged 19.99 twice, order 123456",
        ),
    ];
    let admin = clickhouse::Client::default().with_url(clickhouse_url());
    for (text, want) in cases {
        let literal = format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"));
        let got = admin
            .query(&format!("SELECT {}", mask_sql(&literal)))
            .fetch_one::<String>()
            .await
            .unwrap();
        assert_eq!(got, want, "masking {text}");
        // The report masks a replay's dead letters in Rust: the same.
        assert_eq!(
            complaintflow::model::personal::mask_record(text),
            want,
            "masking {text} in Rust"
        );
    }
}

/// GET with an optional bearer token; status and body.
fn get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Where is my complaint? The progress API as the analyst: a complaint in
/// progress with its deadline in local time, a finished and a reopened
/// one, a customer's list, masked personal data, a refused token, an
/// unknown id, a bad id and the OpenAPI description.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_progress_api_answers_as_the_analyst_with_masked_data() {
    let db = fresh_database("progress");
    let server = OwnServer::start_with_users(&users_xml(&db));
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("meeting.jsonl");
    // M9 (important: the adapter says several users are affected, a fact
    // no text model overrides): acknowledged and routed at 09:04, so its
    // first answer is due 12 h later, 21:04 (Beijing time).
    let mut lines = input_with_personal_data();
    lines.push(format!(
        r#"{{"event_id":"M9-r","type":"complaint.received","complaint_id":"M9","occurred_at":"2026-03-03T09:00:00+08:00","channel":"web","customer":{{"id":"K9","name":"王小明"}},"impact":"multiple","description":"宽带断网一整天了 联系我{PHONE_IN_TEXT}"}}"#
    ));
    lines.push(r#"{"event_id":"M9-a","type":"complaint.acknowledged","complaint_id":"M9","occurred_at":"2026-03-03T09:04:00+08:00"}"#.into());
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let replay = [
        "replay",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--clickhouse-url",
        &url,
        "--clickhouse-database",
        &db,
        "--clickhouse-user",
        WRITER,
    ];
    ok(&complaintflow(&replay, WRITER_PASSWORD));

    let port = free_port();
    let log = dir.path().join("api.log");
    let child = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args([
            "api",
            "--clickhouse-url",
            &url,
            "--clickhouse-database",
            &db,
        ])
        .args([
            "--clickhouse-user",
            ANALYST,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("COMPLAINTFLOW_CLICKHOUSE_PASSWORD", ANALYST_PASSWORD)
        .env("COMPLAINTFLOW_API_TOKENS", "tok-service-desk, tok-group")
        .env("COMPLAINTFLOW_LOG", "debug")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _api = Service(child);
    let up = eventually(std::time::Duration::from_secs(20), || {
        http_get(port, "/healthz").is_some()
    });
    assert!(up, "{}", std::fs::read_to_string(&log).unwrap());

    // Tokens: none, or an unknown one, is refused.
    let (status, body) = get(port, "/v1/complaints/M9", None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"unauthorized\""), "{body}");
    assert_eq!(get(port, "/v1/complaints/M9", Some("tok-guess")).0, 401);

    // In progress: handling, the first answer due 21:04 local time;
    // personal data masked.
    let (status, body) = get(port, "/v1/complaints/M9", Some("tok-group"));
    assert_eq!(
        status,
        200,
        "{body}\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let p: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["current_stage"], "处理", "{p:#}");
    assert_eq!(p["timeline"][0]["state"], "done");
    assert_eq!(p["timeline"][0]["done_at"], "2026-03-03T09:04:00+08:00");
    assert_eq!(p["timeline"][1]["state"], "done");
    let due = &p["timeline"][2]["deadline"];
    assert_eq!(due, "2026-03-03T21:04:00+08:00", "{p:#}");
    assert_eq!(p["customer"]["id"], "K9");
    assert_eq!(p["customer"]["name"], "***");
    assert!(
        p["summary"].as_str().unwrap().starts_with("宽带断网"),
        "{p:#}"
    );
    for secret in ["王小明", PHONE_IN_TEXT] {
        assert!(!body.contains(secret), "{secret} in {body}");
    }

    // Finished, and reopened: every stage done, the result given.
    let (_, body) = get(
        port,
        "/v1/customers/K1/complaints",
        Some("tok-service-desk"),
    );
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let all = list["complaints"].as_array().unwrap();
    let received: Vec<&str> = all
        .iter()
        .map(|c| c["received_at"].as_str().unwrap())
        .collect();
    assert!(
        received.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {received:?}"
    );
    let m1 = all
        .iter()
        .find(|c| c["complaint_id"] == "M1")
        .expect("M1 listed");
    assert!(
        m1["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "done"),
        "{m1:#}"
    );
    assert_eq!(m1["result"]["satisfied"], true);
    assert_eq!(m1["current_stage"], serde_json::Value::Null);
    for secret in [PHONE, EMAIL, NAME] {
        assert!(!body.contains(secret), "{secret} in {body}");
    }
    let (_, body) = get(port, "/v1/complaints/M2", Some("tok-group"));
    let m2: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (m2["cycle"].as_u64(), m2["reopened"].as_bool()),
        (Some(1), Some(true)),
        "{m2:#}"
    );

    // Unknown and bad ids; the description.
    let (status, body) = get(port, "/v1/complaints/NOPE", Some("tok-group"));
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("\"not_found\""), "{body}");
    assert_eq!(
        get(port, "/v1/customers/NOBODY/complaints", Some("tok-group")).0,
        404
    );
    let long = "X".repeat(300);
    assert_eq!(
        get(port, &format!("/v1/complaints/{long}"), Some("tok-group")).0,
        400
    );
    let (status, body) = get(port, "/v1/openapi.json", None);
    assert_eq!(status, 200);
    let spec: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(spec["paths"]["/v1/complaints/{complaint_id}"]["get"].is_object());

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        !logged.contains("tok-group") && !logged.contains("tok-service-desk"),
        "{logged}"
    );
}
