//! `complaintflow notify` on the real broker, delivering to a local HTTP
//! receiver (standing in for the webhook and each robot) and a local SMTP
//! server: signatures, idempotency keys, an outage, a SIGKILL, a
//! rate-limited burst, a correction, a refusal and an e-mail.

mod support;
use complaintflow::model::{Category, Decision, Priority, SlaEvent, SlaKind, Stage};
use hmac::{KeyInit, Mac};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

const SECRET: &str = "test-secret-不告诉你";

fn sla(complaint: &str, kind: SlaKind, detail: &str, priority: Priority) -> SlaEvent {
    let now = chrono::Utc::now();
    SlaEvent {
        event_id: format!("{complaint}:0:handle:{}{detail}", kind.as_str()),
        complaint_id: complaint.into(),
        stage: Stage::Handle,
        cycle: 0,
        kind,
        deadline: now + chrono::TimeDelta::hours(1),
        at: now,
        priority,
        lead_department: "technical".into(),
    }
}

fn escalation(complaint: &str) -> SlaEvent {
    sla(complaint, SlaKind::Escalated, ":urgent", Priority::Urgent)
}

fn decision(complaint: &str) -> Decision {
    Decision {
        decision_id: format!("{complaint}:0:decision"),
        complaint_id: complaint.into(),
        cycle: 0,
        category: Category::Technical,
        priority: Priority::Urgent,
        lead_department: "technical".into(),
        assist_departments: vec![],
        coordination_required: false,
        reason: "test".into(),
        ruleset_version: "test".into(),
        decided_at: chrono::Utc::now(),
        sla_overrides: BTreeMap::new(),
    }
}

fn lines<T: serde::Serialize>(items: &[T]) -> Vec<String> {
    items
        .iter()
        .map(|i| serde_json::to_string(i).unwrap())
        .collect()
}

/// Publishes each complaint's decision, then its escalation.
async fn escalate(setup: &Setup, ids: &[String]) -> Vec<SlaEvent> {
    let decisions: Vec<Decision> = ids.iter().map(|i| decision(i)).collect();
    produce(&setup.topic("decisions"), &lines(&decisions)).await;
    let events: Vec<SlaEvent> = ids.iter().map(|i| escalation(i)).collect();
    produce(&setup.topic("sla"), &lines(&events)).await;
    events
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:04}")).collect()
}

/// The topics the notifier reads, before it starts.
fn topics(setup: &Setup) {
    create_topic(&setup.topic("sla"), 2);
    create_topic(&setup.topic("decisions"), 2);
}

/// The setup's config with a `[notify]` section added.
fn config(setup: &Setup, name: &str, notify: &str) -> PathBuf {
    let text = std::fs::read_to_string(&setup.config).unwrap();
    let path = setup.dir.path().join(name);
    std::fs::write(
        &path,
        format!(
            "{text}\n[notify]\ncontext_hours = 1\ndead_letter_topic = \"{}\"\n{notify}",
            setup.topic("notify-dlq")
        ),
    )
    .unwrap();
    path
}

struct Notifier {
    service: Service,
    log: PathBuf,
}

fn start_notifier(setup: &Setup, config: &std::path::Path, port: u16, webhook: &str) -> Notifier {
    let log = setup.dir.path().join(format!(
        "notify-{port}-{}.log",
        chrono::Utc::now().timestamp_micros()
    ));
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let child = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args([
            "notify",
            "--config",
            config.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
        ])
        .args(["--http-listen", &format!("127.0.0.1:{port}")])
        .env("COMPLAINTFLOW_NOTIFY_WEBHOOK_URL", webhook)
        .env("COMPLAINTFLOW_NOTIFY_WEBHOOK_SECRET", SECRET)
        .env("TEST_DINGTALK_SECRET", SECRET)
        .env("TEST_FEISHU_SECRET", SECRET)
        .env("COMPLAINTFLOW_LOG", "info,complaintflow::notify=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("binary starts");
    wait_ready(port, Duration::from_secs(60));
    Notifier {
        service: Service(child),
        log,
    }
}

impl Notifier {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Checks a generic webhook request's signature (HMAC-SHA256 over
/// "{timestamp}.{raw body}") and key; returns the event ids it carries.
fn verified(r: &Received) -> Vec<String> {
    let ts = r
        .header("x-complaintflow-timestamp")
        .expect("timestamp header");
    let mut signed = format!("{ts}.").into_bytes();
    signed.extend_from_slice(&r.raw);
    let ours = format!("sha256={}", hex(&hmac_sha256(SECRET.as_bytes(), &signed)));
    assert_eq!(r.header("x-complaintflow-signature"), Some(ours.as_str()));
    let notices = r.body["notices"].as_array().expect("notices");
    let ids: Vec<String> = notices
        .iter()
        .map(|n| n["event_id"].as_str().unwrap().to_string())
        .collect();
    let key = r.header("idempotency-key").expect("Idempotency-Key header");
    assert_eq!(r.body["idempotency_key"], key);
    if ids.len() == 1 {
        assert_eq!(key, ids[0], "a single notice's key is its SLA event id");
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_escalation_reaches_the_webhook_through_an_outage_and_a_kill() {
    let setup = Setup::new("notify-hook", 2);
    topics(&setup);
    let mut receiver = Receiver::start().await;
    let cfg = config(
        &setup,
        "notify.toml",
        r#"
[[notify.channels]]
name = "group-webhook"
kind = "webhook"
url_env = "COMPLAINTFLOW_NOTIFY_WEBHOOK_URL"
secret_env = "COMPLAINTFLOW_NOTIFY_WEBHOOK_SECRET"
[[notify.routes]]
kinds = ["escalated"]
channels = ["group-webhook"]
"#,
    );
    let port = free_port();
    let url = receiver.url("/hook");
    let mut notifier = start_notifier(&setup, &cfg, port, &url);
    // How often each SLA event arrived, every request's signature checked.
    let arrivals = |r: &Receiver| -> HashMap<String, usize> {
        let mut n = HashMap::new();
        for id in r.requests().iter().flat_map(verified) {
            *n.entry(id).or_default() += 1;
        }
        n
    };

    // 1. A burst arrives, each request signed and keyed by its event.
    let first = escalate(&setup, &ids("A", 100)).await;
    let all = |r: &Receiver, want: &[SlaEvent]| {
        let got = arrivals(r);
        want.iter().all(|e| got.contains_key(&e.event_id))
    };
    assert!(
        eventually(Duration::from_secs(30), || all(&receiver, &first)),
        "{}",
        notifier.log()
    );
    let one = &receiver.requests()[0];
    assert_eq!(
        one.body["notices"][0]["category"], "technical",
        "context from the decisions topic"
    );
    assert!(
        one.body["text"].as_str().unwrap().contains("紧急"),
        "{}",
        one.body
    );
    // 2. The receiver is down for 30 s during a burst: nothing is lost.
    receiver.down();
    let second = escalate(&setup, &ids("B", 100)).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let requests_before = receiver.requests().len();
    receiver = receiver.up().await;
    assert!(
        eventually(Duration::from_secs(60), || all(&receiver, &second)),
        "{}",
        notifier.log()
    );
    assert!(receiver.requests().len() > requests_before);
    assert!(
        notifier.log().contains("not delivered; retrying"),
        "{}",
        notifier.log()
    );

    // 3. SIGKILL mid-burst, then a restart: nothing lost; repeats keep their key.
    let third = escalate(&setup, &ids("C", 300)).await;
    let some = eventually(Duration::from_secs(30), || {
        arrivals(&receiver).keys().any(|i| i.starts_with("C-"))
    });
    assert!(some);
    notifier.service.signal("-KILL");
    notifier.service.wait();
    // What reached the receiver before the kill: offsets of these may not
    // have been committed yet (they are in flight for Kafka).
    let before = arrivals(&receiver);
    notifier = start_notifier(&setup, &cfg, port, &url);
    assert!(
        eventually(Duration::from_secs(60), || all(&receiver, &third)),
        "{}",
        notifier.log()
    );
    let keys = arrivals(&receiver);
    let expected: usize = first.len() + second.len() + third.len();
    assert_eq!(keys.len(), expected, "every event delivered");
    // After the restart each event arrives at most once more, and only an
    // event that had arrived before the kill arrives twice (its key, the
    // SLA event id, lets the receiver drop the repeat).
    for (id, n) in &keys {
        let earlier = before.get(id).copied().unwrap_or(0);
        assert!(
            n - earlier <= 1,
            "{id} arrived {} times after the restart",
            n - earlier
        );
        assert!(
            *n == 1 || earlier >= 1,
            "{id} repeated without having been in flight"
        );
    }
    let repeated = keys.values().filter(|&&n| n > 1).count();
    println!(
        "kill mid-burst: {repeated} of {} events delivered again after the restart",
        third.len()
    );
    notifier.service.signal("-TERM");
    assert!(notifier.service.wait().success(), "{}", notifier.log());
}

/// A local SMTP server: accepts every message and keeps its data.
async fn smtp_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let kept = mails.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(d) = data.as_mut() {
                        if line == "." {
                            kept.lock().unwrap().push(data.take().unwrap());
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            d.push_str(&line);
                            d.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 test\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(answer).await.unwrap();
                }
            });
        }
    });
    (port, mails)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_digests_corrections_refusals_and_mail() {
    let setup = Setup::new("notify-robots", 2);
    topics(&setup);
    let receiver = Receiver::start().await;
    let (smtp_port, mails) = smtp_server().await;
    let notify = format!(
        r#"
[[notify.channels]]
name = "wecom"
kind = "wecom"
url = "{wecom}"
per_minute = 20
[[notify.channels]]
name = "dingtalk"
kind = "dingtalk"
url = "{dingtalk}"
secret_env = "TEST_DINGTALK_SECRET"
[[notify.channels]]
name = "feishu"
kind = "feishu"
url = "{feishu}"
secret_env = "TEST_FEISHU_SECRET"
[[notify.channels]]
name = "revoked"
kind = "wecom"
url = "{refuse}"
[[notify.channels]]
name = "mail"
kind = "smtp"
[notify.channels.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
from = "complaintflow@example.com"
to = ["leader@example.com"]
[[notify.routes]]
kinds = ["escalated"]
channels = ["wecom"]
[[notify.routes]]
kinds = ["breached"]
channels = ["dingtalk", "feishu", "mail"]
[[notify.routes]]
kinds = ["warning"]
channels = ["revoked"]
"#,
        wecom = receiver.url("/wecom?key=k"),
        dingtalk = receiver.url("/dingtalk?access_token=t"),
        feishu = receiver.url("/feishu"),
        refuse = receiver.url("/refuse"),
    );
    let cfg = config(&setup, "notify.toml", &notify);
    let port = free_port();
    let notifier = start_notifier(&setup, &cfg, port, "http://unused.invalid");

    // A 300-escalation burst to a robot allowing 20 a minute, arriving
    // over ten seconds (a burst all at once is the easy case).
    let mut burst = Vec::new();
    for chunk in ids("U", 300).chunks(30) {
        burst.extend(escalate(&setup, chunk).await);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let counted = |r: &Receiver| -> usize {
        r.requests_to("/wecom")
            .iter()
            .map(|q| {
                let text = q.body["markdown"]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                match text.split("【投诉提醒汇总】").nth(1) {
                    Some(rest) => rest
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .parse::<usize>()
                        .unwrap(),
                    None => 1,
                }
            })
            .sum()
    };
    assert!(
        eventually(Duration::from_secs(60), || counted(&receiver)
            >= burst.len()),
        "{} of 300 notices\n{}",
        counted(&receiver),
        notifier.log()
    );
    let wecom = receiver.requests_to("/wecom");
    assert_eq!(counted(&receiver), 300, "each notice once");
    assert!(
        wecom.len() <= 20,
        "{} requests within the first minute",
        wecom.len()
    );
    assert!(wecom.iter().any(|q| {
        q.body["markdown"]["content"]
            .as_str()
            .unwrap()
            .contains("汇总")
    }));
    assert_eq!(wecom[0].body["msgtype"], "markdown");

    // A breach, then its retraction: both reach whoever got the breach.
    let breach = sla("R-1", SlaKind::Breached, "", Priority::Important);
    let retraction = sla("R-1", SlaKind::Retracted, "", Priority::Important);
    produce(&setup.topic("decisions"), &lines(&[decision("R-1")])).await;
    produce(&setup.topic("sla"), &lines(std::slice::from_ref(&breach))).await;
    produce(&setup.topic("sla"), &lines(&[retraction])).await;
    let both = |prefix: &str| {
        let texts: Vec<String> = receiver
            .requests_to(prefix)
            .iter()
            .map(|q| q.body.to_string())
            .collect();
        texts.iter().any(|t| t.contains("已超时")) && texts.iter().any(|t| t.contains("更正"))
    };
    assert!(
        eventually(Duration::from_secs(30), || both("/dingtalk")
            && both("/feishu")),
        "{}",
        notifier.log()
    );
    // DingTalk: sign = Base64(HMAC-SHA256(secret, "{timestamp}\n{secret}")) in the query.
    let ding = &receiver.requests_to("/dingtalk")[0];
    let query: HashMap<String, String> = ding
        .path_and_query
        .split_once('?')
        .unwrap()
        .1
        .split('&')
        .map(|kv| kv.split_once('=').unwrap())
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    let ts = &query["timestamp"];
    let want = base64(&hmac_sha256(
        SECRET.as_bytes(),
        format!("{ts}\n{SECRET}").as_bytes(),
    ));
    assert_eq!(query["sign"], want);
    assert_eq!(ding.body["msgtype"], "markdown");
    // Feishu: sign = Base64(HMAC-SHA256(key "{timestamp}\n{secret}", "")) in the body.
    let fei = &receiver.requests_to("/feishu")[0];
    let ts = fei.body["timestamp"].as_str().unwrap();
    assert_eq!(
        fei.body["sign"],
        base64(&hmac_sha256(format!("{ts}\n{SECRET}").as_bytes(), b""))
    );
    assert_eq!(fei.body["msg_type"], "text");

    // The e-mail: Message-ID from the SLA event id.
    assert!(
        eventually(Duration::from_secs(30), || mails.lock().unwrap().len() >= 2),
        "{}",
        notifier.log()
    );
    let mail = mails.lock().unwrap()[0].clone();
    assert!(
        mail.contains(&format!("<{}@complaintflow>", breach.event_id)),
        "{mail}"
    );
    assert!(mail.contains("R-1"), "{mail}");

    // A channel that refuses for good: the notice goes to the dead letters.
    let warning = sla("W-1", SlaKind::Warning, "", Priority::General);
    produce(&setup.topic("sla"), &lines(std::slice::from_ref(&warning))).await;
    let mut dead = Vec::new();
    let found = eventually(Duration::from_secs(30), || {
        dead = read_topic(&setup.topic("notify-dlq"))
            .iter()
            .filter_map(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .filter(|v| v["idempotency_key"] == warning.event_id.as_str())
            .collect();
        !dead.is_empty()
    });
    assert!(found, "{}", notifier.log());
    assert!(
        dead[0]["reason"].as_str().unwrap().contains("403"),
        "{}",
        dead[0]
    );
    assert_eq!(dead[0]["channel"], "revoked");
}

fn base64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .to_string()
}

/// The issue's promise end to end: `run` decides an urgent complaint and
/// `notify` puts its escalation at a webhook within a second of the SLA
/// event (its record's time on the topic).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_complaint_reaches_the_webhook_within_a_second() {
    let setup = Setup::new("notify-e2e", 1);
    let _run = setup.start(&[], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(60));
    let receiver = Receiver::start().await;
    let cfg = config(
        &setup,
        "notify.toml",
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/notify.example.toml"))
            .unwrap()
            .split_once("[[notify.channels]]")
            .map(|(_, rest)| format!("[[notify.channels]]{rest}"))
            .unwrap(),
    );
    let port = free_port();
    let notifier = start_notifier(&setup, &cfg, port, &receiver.url("/hook"));
    let now = chrono::Utc::now().to_rfc3339();
    let received = serde_json::json!({"event_id": "E1-r", "type": "complaint.received", "complaint_id": "E1",
        "occurred_at": now, "channel": "regulator", "customer": {"id": "K1", "name": "某某"},
        "description": "整个小区断网三天了,工信部转来的投诉"});
    produce(&setup.topic("events"), &[received.to_string()]).await;
    let key = "E1:0:acknowledge:escalated:urgent";
    let arrived = eventually(Duration::from_secs(30), || {
        receiver
            .requests()
            .iter()
            .any(|r| r.header("idempotency-key") == Some(key))
    });
    assert!(
        arrived,
        "{:?}\n{}",
        receiver
            .requests()
            .iter()
            .map(|r| r.header("idempotency-key"))
            .collect::<Vec<_>>(),
        notifier.log()
    );
    let at = receiver
        .requests()
        .into_iter()
        .find(|r| r.header("idempotency-key") == Some(key))
        .unwrap()
        .at;
    let produced = read_records(&setup.topic("sla"))
        .into_values()
        .flatten()
        .find(|(_, p)| serde_json::from_slice::<SlaEvent>(p).is_ok_and(|e| e.event_id == key))
        .map(|(ts, _)| ts)
        .expect("the escalation on the SLA topic");
    let latency = at.timestamp_millis() - produced;
    eprintln!("escalation to webhook: {latency} ms");
    assert!(
        (0..1000).contains(&latency),
        "{latency} ms from the SLA topic to the webhook\n{}",
        notifier.log()
    );
}
