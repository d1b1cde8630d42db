//! A broker that stops answering for 4 s during a catch-up changes no
//! outcome: the partition is behind until its position reaches the end of
//! the partition, however long the input is silent. Its own binary and its
//! own broker, since pausing the shared one would stall other tests.

mod support;
use std::time::{Duration, Instant};
use support::*;

#[test]
fn a_broker_pause_during_catch_up_changes_no_outcome() {
    let broker = OwnBroker::start();
    // SAFETY: the only test of this binary sets it before starting any
    // thread of its own; every helper then talks to this broker.
    unsafe { std::env::set_var("COMPLAINTFLOW_TEST_BROKERS", &broker.addr) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let setup = Setup::new("pause", 3);
        // Small batches: each waits for the last one's acknowledgements, so
        // the catch-up lasts long enough to be paused in the middle.
        let slow = setup.config_with("slow.toml", "batch_max = 5");
        let lines = scenario(1500, 8);
        produce(&setup.topic("events"), &lines).await;
        let svc = setup.start(&["--config", slow.to_str().unwrap()], setup.http_port);
        wait_ready(setup.http_port, Duration::from_secs(30));
        // Paused as soon as the catch-up is seen under way.
        let taken = || records_taken(setup.http_port);
        let start = Instant::now();
        while taken() == 0 && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        broker.freeze(true);
        let paused = Instant::now();
        std::thread::sleep(Duration::from_secs(4));
        let before = taken();
        broker.freeze(false);
        eprintln!(
            "paused the broker for {:?} with {before} of {} input records taken",
            paused.elapsed(),
            lines.len()
        );
        assert!(
            before > 0 && before < lines.len(),
            "the pause must fall inside the catch-up: {before} of {} records taken\n{}",
            lines.len(),
            setup.all_logs()
        );
        assert_same_outputs(
            &setup,
            &[&lines],
            Duration::from_secs(180),
            &shipped_rules(),
        );
        drop(svc);
    });
}
