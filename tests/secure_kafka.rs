//! Kafka as production clusters are reached: over TLS with a private CA, and
//! with SASL/SCRAM on top. scripts/test.sh made the CA and put stunnel in
//! front of two more brokers: one plain behind TLS, one that requires SCRAM.
//! The SCRAM broker has no user (its pinned build cannot create one), so
//! SASL is checked up to the broker's verdict on the credentials.

mod support;

use std::process::Command;
use std::time::Duration;
use support::*;

fn complaintflow(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args(args)
        .output()
        .expect("binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_run_over_tls_give_the_outputs_of_a_replay() {
    use_tls_broker();
    let setup = Setup::new("tls", 2);
    let config = std::fs::read_to_string(&setup.config).unwrap();
    assert!(
        config.contains("\"security.protocol\" = \"SSL\"") && config.contains("ssl.ca.location"),
        "{config}"
    );
    let lines = scenario(30, 11);
    let file = setup.dir.path().join("events.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    // The demo stream has a few bad lines on purpose: reported, not sent.
    let o = complaintflow(&[
        "produce",
        "--allow-bad",
        "--config",
        setup.config.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (n, bad) = (
        lines.len(),
        out.lines().filter(|l| l.starts_with("line ")).count(),
    );
    assert!(bad > 0, "{out}");
    assert!(
        out.contains(&format!(
            "{n} lines: {} sent to {}, {bad} bad",
            n - bad,
            setup.topic("events")
        )),
        "{out}"
    );

    let mut svc = setup.start(&[], setup.http_port);
    wait_ready(setup.http_port, Duration::from_secs(30));
    assert_same_outputs(&setup, &[&lines], Duration::from_secs(60), &shipped_rules());
    svc.signal("-TERM");
    assert!(svc.wait().success(), "{}", setup.all_logs());
}

/// The SCRAM exchange happens inside TLS and the broker judges the
/// credentials; a refusal stops `produce` and `run` at once with the
/// broker's reason, and the password appears nowhere.
#[test]
fn a_refused_sasl_login_over_tls_is_reported_with_its_cause_and_never_the_password() {
    let brokers = std::env::var("COMPLAINTFLOW_TEST_SASL_BROKERS")
        .expect("COMPLAINTFLOW_TEST_SASL_BROKERS is not set: run the tests with scripts/test.sh");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sasl.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbrokers = {brokers:?}\n{}",
            options_table(&[
                ("security.protocol", "SASL_SSL".into()),
                ("sasl.mechanisms", "SCRAM-SHA-512".into()),
                ("ssl.ca.location", test_ca_file()),
            ])
        ),
    )
    .unwrap();
    let input = dir.path().join("one.jsonl");
    std::fs::write(&input, received_now(&["SASL-1".into()]).join("\n")).unwrap();
    let password = "pw-never-logged-7f3a";
    let config = config.to_str().unwrap();
    let runs: [&[&str]; 2] = [
        &["produce", "--config", config, input.to_str().unwrap()],
        &["run", "--config", config, "--http-listen", "127.0.0.1:0"],
    ];
    for args in runs {
        let started = std::time::Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
            .args(args)
            .env("COMPLAINTFLOW_KAFKA_SASL_USERNAME", "complaintflow")
            .env("COMPLAINTFLOW_KAFKA_SASL_PASSWORD", password)
            .env("COMPLAINTFLOW_LOG", "info")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(o.status.code(), Some(1), "{args:?}: {all}");
        let last = all.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: kafka: cannot reach the brokers")
                && last.contains("SASL SCRAM authentication failed")
                && last.contains("unknown-user"),
            "{args:?}: {last}"
        );
        assert!(
            last.contains(&format!("sasl_ssl://{brokers}")),
            "not over TLS: {last}"
        );
        assert!(
            !all.contains(password),
            "{args:?} printed the password:\n{all}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{args:?} took {:?}",
            started.elapsed()
        );
    }
}
