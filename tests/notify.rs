//! `complaintflow notify` on the real broker, delivering to a local HTTP
//! receiver (standing in for the webhook and each robot) and a local SMTP
//! server: signatures, idempotency keys, an outage, a SIGKILL, a
//! rate-limited burst, a correction, a refusal and an e-mail.

mod support;
use complaintflow::model::{Category, Decision, Priority, SlaEvent, SlaKind, Stage};
use hmac::{KeyInit, Mac};
use std::collections::{BTreeMap, HashMap, HashSet};
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
        format!("{text}\n[notify]\ncontext_hours = 1\n{notify}"),
    )
    .unwrap();
    path
}

struct Notifier {
    service: Service,
    log: PathBuf,
}

fn start_notifier(setup: &Setup, config: &PathBuf, port: u16, webhook: &str) -> Notifier {
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
        .env("COMPLAINTFLOW_LOG", "info")
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
    let received_ids =
        |r: &Receiver| -> Vec<String> { r.requests().iter().flat_map(verified).collect() };

    // 1. A burst arrives, each request signed and keyed by its event.
    let first = escalate(&setup, &ids("A", 100)).await;
    let all = |r: &Receiver, want: &[SlaEvent]| {
        let got: HashSet<String> = received_ids(r).into_iter().collect();
        want.iter().all(|e| got.contains(&e.event_id))
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
    let before = receiver.requests().len();
    receiver = receiver.up().await;
    assert!(
        eventually(Duration::from_secs(60), || all(&receiver, &second)),
        "{}",
        notifier.log()
    );
    assert!(receiver.requests().len() > before);
    assert!(
        notifier.log().contains("not delivered; retrying"),
        "{}",
        notifier.log()
    );

    // 3. SIGKILL mid-burst, then a restart: nothing lost; repeats keep their key.
    let third = escalate(&setup, &ids("C", 300)).await;
    let some = eventually(Duration::from_secs(30), || {
        received_ids(&receiver).iter().any(|i| i.starts_with("C-"))
    });
    assert!(some);
    notifier.service.signal("-KILL");
    notifier.service.wait();
    notifier = start_notifier(&setup, &cfg, port, &url);
    assert!(
        eventually(Duration::from_secs(60), || all(&receiver, &third)),
        "{}",
        notifier.log()
    );
    let mut keys: HashMap<String, usize> = HashMap::new();
    for r in receiver.requests() {
        for id in verified(&r) {
            *keys.entry(id).or_default() += 1;
        }
    }
    let repeated = keys.values().filter(|&&n| n > 1).count();
    let expected: usize = first.len() + second.len() + third.len();
    assert_eq!(keys.len(), expected, "every event delivered");
    assert!(
        repeated < third.len(),
        "only what was in flight at the kill repeats ({repeated})"
    );
    notifier.service.signal("-TERM");
    assert!(notifier.service.wait().success(), "{}", notifier.log());
}
