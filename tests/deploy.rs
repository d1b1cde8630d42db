//! The deployment files users run: the compose stack is well formed (there
//! is no Docker engine here, so its YAML is checked) and `produce` puts
//! events on the real broker.

mod common;
mod support;
use support::*;
use yaml_rust2::{Yaml, YamlLoader};

fn compose() -> Yaml {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.yml");
    let text = std::fs::read_to_string(path).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_compose_stack_has_healthchecks_host_ports_volumes_and_waits_for_health() {
    let c = compose();
    let services = &c["services"];
    for name in ["kafka", "clickhouse", "complaintflow", "demo"] {
        assert!(!services[name].is_badvalue(), "service {name} missing");
    }
    let ports = |s: &str| strings(&services[s]["ports"]);
    for name in ["notify", "api"] {
        assert!(!services[name].is_badvalue(), "service {name} missing");
    }
    assert_eq!(ports("notify"), ["127.0.0.1:9899:9899"]);
    assert_eq!(ports("api"), ["127.0.0.1:9900:9900"]);
    assert!(
        strings(&services["notify"]["command"]).contains(&"/app/notify.example.toml".to_string())
    );
    let dockerfile = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile"),
    )
    .unwrap();
    assert!(dockerfile.contains("COPY notify.example.toml /app/notify.example.toml"));
    // The API reads as the analyst: masked views only.
    let api = strings(&services["api"]["command"]);
    assert!(
        api.windows(2)
            .any(|w| w == ["--clickhouse-user", "analyst"]),
        "{api:?}"
    );
    for name in ["kafka", "clickhouse", "complaintflow", "notify", "api"] {
        let test = strings(&services[name]["healthcheck"]["test"]);
        assert!(!test.is_empty(), "{name} has no healthcheck");
    }
    assert!(ports("kafka").contains(&"127.0.0.1:9092:9092".to_string()));
    assert!(ports("clickhouse").contains(&"127.0.0.1:8123:8123".to_string()));
    assert!(ports("clickhouse").contains(&"127.0.0.1:9000:9000".to_string()));
    assert!(ports("complaintflow").contains(&"127.0.0.1:9898:9898".to_string()));
    // Customers' data: nothing is published beyond this host.
    for (name, service) in services.as_hash().unwrap() {
        for p in strings(&service["ports"]) {
            assert!(
                p.starts_with("127.0.0.1:"),
                "{name:?} publishes {p} on every interface"
            );
        }
    }
    // The host reaches Kafka on localhost:9092; containers on kafka:29092.
    let advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        .as_str()
        .unwrap();
    assert!(advertised.contains("EXTERNAL://localhost:9092") && advertised.contains("kafka:29092"));
    assert!(strings(&services["complaintflow"]["command"]).contains(&"kafka:29092".to_string()));
    // Data survives a restart.
    for (name, volume) in [("kafka", "kafka-data"), ("clickhouse", "clickhouse-data")] {
        assert!(
            strings(&services[name]["volumes"])
                .iter()
                .any(|v| v.starts_with(&format!("{volume}:"))),
            "{name} has no data volume"
        );
        assert!(
            c["volumes"]
                .as_hash()
                .unwrap()
                .contains_key(&Yaml::String(volume.into()))
        );
    }
    // complaintflow starts once both are healthy and its user exists.
    assert_eq!(
        services["complaintflow"]["depends_on"]["clickhouse-users"]["condition"].as_str(),
        Some("service_completed_successfully")
    );
    for dep in ["kafka", "clickhouse"] {
        assert_eq!(
            services["complaintflow"]["depends_on"][dep]["condition"].as_str(),
            Some("service_healthy"),
            "{dep}"
        );
    }
    // ClickHouse: the major version the tests use.
    let tested = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/clickhouse.sh"),
    )
    .unwrap();
    let version = tested
        .lines()
        .find_map(|l| l.strip_prefix("CHDB_VERSION="))
        .unwrap();
    let major = version.split('.').take(2).collect::<Vec<_>>().join(".");
    assert_eq!(
        services["clickhouse"]["image"].as_str(),
        Some(format!("clickhouse/clickhouse-server:{major}").as_str())
    );
}

#[test]
fn the_compose_stack_needs_passwords_and_writes_and_reads_as_the_roles() {
    let c = compose();
    let services = &c["services"];
    let env = |s: &str, k: &str| {
        services[s]["environment"][k]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    // No password, no stack: `${VAR:?message}` stops compose.
    for (service, key, var) in [
        (
            "clickhouse",
            "CLICKHOUSE_ADMIN_PASSWORD",
            "CLICKHOUSE_ADMIN_PASSWORD",
        ),
        (
            "migrate",
            "COMPLAINTFLOW_CLICKHOUSE_PASSWORD",
            "CLICKHOUSE_ADMIN_PASSWORD",
        ),
        (
            "complaintflow",
            "COMPLAINTFLOW_CLICKHOUSE_PASSWORD",
            "CLICKHOUSE_WRITER_PASSWORD",
        ),
        (
            "clickhouse-users",
            "CLICKHOUSE_ANALYST_PASSWORD",
            "CLICKHOUSE_ANALYST_PASSWORD",
        ),
    ] {
        assert!(
            env(service, key).starts_with(&format!("${{{var}:?")),
            "{service}.{key} = {}",
            env(service, key)
        );
    }
    // The schema and roles by admin, then the users, then the service as writer.
    let migrate = strings(&services["migrate"]["command"]);
    assert!(migrate.starts_with(&["migrate".to_string()]), "{migrate:?}");
    assert!(migrate.contains(&"--roles".to_string()) && migrate.contains(&"admin".to_string()));
    let users = strings(&services["clickhouse-users"]["command"]).join(" ");
    for grant in [
        "GRANT complaints_writer TO writer",
        "GRANT complaints_analyst TO analyst",
    ] {
        assert!(users.contains(grant), "{users}");
    }
    assert_eq!(
        services["clickhouse-users"]["depends_on"]["migrate"]["condition"].as_str(),
        Some("service_completed_successfully")
    );
    assert_eq!(
        env("complaintflow", "COMPLAINTFLOW_CLICKHOUSE_USER"),
        "writer"
    );
    // `default` stays passwordless for the retention dictionary, so it
    // answers the server itself only.
    let mounted = strings(&services["clickhouse"]["volumes"]);
    assert!(
        mounted.iter().any(|v| v.starts_with("./deploy/clickhouse/users.xml:/etc/clickhouse-server/users.d/")),
        "{mounted:?}"
    );
    let users_xml = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/clickhouse/users.xml"),
    )
    .unwrap();
    let default =
        &users_xml[users_xml.find("<default>").unwrap()..users_xml.find("</default>").unwrap()];
    assert!(
        default.contains("<networks replace=\"replace\">"),
        "{default}"
    );
    let ips: Vec<&str> = default
        .split("<ip>")
        .skip(1)
        .filter_map(|s| s.split("</ip>").next())
        .collect();
    assert_eq!(ips, ["::1", "127.0.0.1"], "{default}");
    assert!(users_xml.contains("<password from_env=\"CLICKHOUSE_ADMIN_PASSWORD\"/>"));
    // .env holds the passwords: never committed.
    let ignore = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".gitignore"),
    )
    .unwrap();
    assert!(ignore.lines().any(|l| l == ".env"), "{ignore}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_publishes_the_good_lines_keyed_by_complaint_and_reports_the_bad() {
    let setup = Setup::new("produce", 1);
    let lines = [
        received_now(&["P-1".to_string(), "P-2".to_string()]).join("\n"),
        r#"{"event_id":"x","type":"complaint.recieved","complaint_id":"P-3","occurred_at":"2026-03-02T10:00:00Z"}"#.to_string(),
    ]
    .join("\n");
    let o = produce(&setup, &lines);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("line 3: invalid_event: unknown event type `complaint.recieved`; did you mean `complaint.received`?"), "{out}");
    assert!(out.contains("3 lines: 2 sent to"), "{out}");
    let got = by_id(&setup.topic("events"), "event_id");
    let mut ids: Vec<&String> = got.keys().collect();
    ids.sort();
    assert_eq!(ids, ["P-1-r", "P-2-r"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_line_shows_the_effective_configuration_without_secrets() {
    let setup = Setup::new("startline", 1);
    let base = std::fs::read_to_string(&setup.config).unwrap();
    let path = setup.dir.path().join("secrets.toml");
    std::fs::write(
        &path,
        format!(
            "{base}[kafka.options]\n\"sasl.password\" = \"s3cret-kafka\"\n[clickhouse]\npassword = \"s3cret-ch\"\n"
        ),
    )
    .unwrap();
    let mut svc = setup.start(&["--config", path.to_str().unwrap()], setup.http_port);
    wait_ready(setup.http_port, std::time::Duration::from_secs(30));
    // Metrics labels hold partitions, types and codes: no secret, no person.
    let (_, metrics) = http_get(setup.http_port, "/metrics").unwrap();
    assert!(metrics.contains("complaintflow_") && !metrics.contains("s3cret"));
    svc.signal("-TERM");
    assert!(svc.wait().success());
    let log = setup.log(setup.http_port);
    let start = log
        .lines()
        .find(|l| l.contains("starting"))
        .expect("a start-up line");
    // Effective values, option keys without their values, no passwords.
    assert!(
        start.contains(&setup.topic("events")) && start.contains("sasl.password"),
        "{start}"
    );
    assert!(
        start.contains("Asia/Shanghai") && start.contains("listen"),
        "{start}"
    );
    assert!(!log.contains("s3cret"), "a secret in the log:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_creates_the_topics_with_the_configured_partitions_and_takes_the_configs_rules() {
    // No topic yet: the broker would auto-create the input with its own
    // default partition count.
    let setup = Setup::config_only("produce-first", 3);
    // The config's rules allow 4 KiB events: a 5,000-byte one is refused.
    let rules = setup.dir.path().join("rules");
    common::copy_rules(&rules);
    let sla = rules.join("sla.toml");
    let text = std::fs::read_to_string(&sla).unwrap();
    std::fs::write(
        &sla,
        text.replace("max_event_bytes = 262144", "max_event_bytes = 4096"),
    )
    .unwrap();
    let mut config = std::fs::read_to_string(&setup.config).unwrap();
    config.push_str(&format!("[rules]\ndir = {:?}\n", rules.to_str().unwrap()));
    std::fs::write(&setup.config, config).unwrap();
    let mut big: serde_json::Value =
        serde_json::from_str(&received_now(&["P-9".to_string()])[0]).unwrap();
    big["description"] = serde_json::Value::String("断网".repeat(900));
    let lines = [
        received_now(&["P-8".to_string()])[0].clone(),
        big.to_string(),
    ]
    .join("\n");
    let o = produce(&setup, &lines);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("rules: {}", rules.display())),
        "{err}"
    );
    assert!(out.contains("line 2: too_large:"), "{out}\n{err}");
    assert!(out.contains("2 lines: 1 sent to"), "{out}\n{err}");
    for topic in ["events", "decisions", "sla", "dlq", "state"] {
        assert_eq!(partitions_of(&setup.topic(topic)), 3, "{topic}");
    }
}

/// `complaintflow produce` of `lines` with the setup's config.
fn produce(setup: &Setup, lines: &str) -> std::process::Output {
    let file = setup.dir.path().join("events.jsonl");
    std::fs::write(&file, lines).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .arg("produce")
        .arg(&file)
        .args(["--config", setup.config.to_str().unwrap()])
        .output()
        .unwrap()
}
