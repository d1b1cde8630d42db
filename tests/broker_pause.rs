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
        let slow = setup.config_with("slow.toml", "batch_max = 20");
        let lines = scenario(1500, 8);
        produce(&setup.topic("events"), &lines).await;
        let complaints = complaints_in(&lines);
        let svc = setup.start(&["--config", slow.to_str().unwrap()], setup.http_port);
        wait_ready(setup.http_port, Duration::from_secs(30));
        std::thread::sleep(Duration::from_secs(3));
        let before = by_id(&setup.topic("decisions"), "decision_id").len();
        broker.freeze(true);
        let paused = Instant::now();
        std::thread::sleep(Duration::from_secs(4));
        broker.freeze(false);
        eprintln!(
            "paused the broker for {:?} with {before} of {complaints} complaints decided",
            paused.elapsed()
        );
        assert!(
            before > 0 && before < complaints,
            "the pause must fall inside the catch-up: {before} of {complaints} decided\n{}",
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
