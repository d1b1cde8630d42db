//! Property tests of event time: adapters deliver out of order. A stream
//! disordered by no more than `lateness` gives the outcomes of the ordered
//! one; any disorder at all never gives a `late` before its deadline, an
//! unresolved breach of a closed stage, or a stage that ends twice.

use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::driver::replay::{Bounds, replay_reader};
use complaintflow::model::{SlaEvent, SlaKind};
use complaintflow::rules::RuleSet;
use complaintflow::sink::file::MemorySink;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};

/// Lateness of the shipped rules (`rules/sla.toml`), in milliseconds.
const LATENESS_MS: i64 = 5 * 60 * 1000;

fn replay(lines: &[String], until: chrono::DateTime<chrono::Utc>) -> MemorySink {
    let rules = RuleSet::embedded();
    let mut sink = MemorySink::default();
    let bounds = Bounds {
        until: Some(until),
        now: Some(until),
    };
    replay_reader(
        lines.join("\n").as_bytes(),
        "p",
        &rules,
        bounds,
        &mut sink,
        |_| {},
    )
    .unwrap();
    sink
}

struct Line {
    text: String,
    complaint: String,
    at_ms: i64,
}

/// A demo stream without the lines replay refuses: valid input, in time order.
fn valid_stream(seed: u64) -> (Vec<Line>, chrono::DateTime<chrono::Utc>) {
    let cfg = DemoConfig {
        complaints: 25,
        seed,
        days: 1,
        ..DemoConfig::default()
    };
    let lines = generate(&cfg, &RuleSet::embedded());
    let until = cfg.end().to_utc();
    let refused: HashSet<String> = replay(&lines, until)
        .dead_letters
        .into_iter()
        .map(|d| d.payload)
        .collect();
    let mut valid: Vec<Line> = lines
        .into_iter()
        .filter(|l| !refused.contains(l))
        .map(|text| {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let at: chrono::DateTime<chrono::FixedOffset> =
                v["occurred_at"].as_str().unwrap().parse().unwrap();
            Line {
                complaint: v["complaint_id"].as_str().unwrap().to_string(),
                at_ms: at.timestamp_millis(),
                text,
            }
        })
        .collect();
    // The demo delivers some acknowledgements late: put them back in time
    // order (stable, so each complaint keeps its own order).
    valid.sort_by_key(|l| l.at_ms);
    (valid, until)
}

/// Delivery order: by time plus a delay in `[0, max_delay_ms]`, each
/// complaint's own events kept in their order; with `receipts_late`, a
/// complaint's receipt may also come after its own later events (another
/// adapter).
fn deliver(lines: &[Line], delays: &[i64], max_delay_ms: i64, receipts_late: bool) -> Vec<String> {
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    let mut keyed: Vec<(i64, usize)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let delay = delays[i % delays.len()].rem_euclid(max_delay_ms + 1);
            if receipts_late && l.text.contains("\"complaint.received\"") {
                return (l.at_ms + delay, i);
            }
            let prev = last.entry(&l.complaint).or_insert(i64::MIN);
            let key = (l.at_ms + delay).max(*prev);
            *prev = key;
            (key, i)
        })
        .collect();
    keyed.sort();
    keyed
        .into_iter()
        .map(|(_, i)| lines[i].text.clone())
        .collect()
}

fn sorted_json<T: serde::Serialize>(rows: &[T]) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    v.sort();
    v
}

/// Per stage run: no `late` at or before its deadline, no stage ending twice
/// net of retractions, and a breach of an ended run is resolved by `late` or
/// by `retracted` + `met`, or the run was cancelled.
fn check(sla: &[SlaEvent]) -> Result<(), TestCaseError> {
    let mut runs: BTreeMap<(&str, u32, String), Vec<&SlaEvent>> = BTreeMap::new();
    for e in sla {
        runs.entry((&e.complaint_id, e.cycle, e.stage.to_string()))
            .or_default()
            .push(e);
        if e.kind == SlaKind::Late {
            prop_assert!(e.at > e.deadline, "late at or before its deadline: {e:?}");
        }
    }
    for (run, events) in &runs {
        let count = |k: SlaKind| events.iter().filter(|e| e.kind == k).count();
        let ends = count(SlaKind::Met) + count(SlaKind::Late) + count(SlaKind::Cancelled);
        prop_assert!(ends <= 1, "{run:?} ends {ends} times: {events:?}");
        let breached = count(SlaKind::Breached);
        let retracted = count(SlaKind::Retracted);
        prop_assert!(
            retracted <= breached,
            "{run:?}: retraction without a breach"
        );
        if breached > 0 && ends == 1 {
            let resolved = count(SlaKind::Late) == 1
                || count(SlaKind::Cancelled) == 1
                || (retracted == 1 && count(SlaKind::Met) == 1);
            prop_assert!(
                resolved,
                "{run:?}: breach neither late, retracted nor cancelled: {events:?}"
            );
        }
        if retracted == 1 {
            prop_assert_eq!(count(SlaKind::Met), 1, "{:?}: a retraction ends met", run);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Within lateness, and whether or not a complaint's receipt may come
    /// after its own later events, nothing changes.
    #[test]
    fn disorder_within_lateness_changes_no_outcome(
        seed in 0u64..1_000,
        delays in prop::collection::vec(any::<i64>(), 1..64),
        receipts_late in any::<bool>(),
    ) {
        let (lines, until) = valid_stream(seed);
        let ordered: Vec<String> = lines.iter().map(|l| l.text.clone()).collect();
        let disordered = deliver(&lines, &delays, LATENESS_MS, receipts_late);
        let a = replay(&ordered, until);
        let b = replay(&disordered, until);
        prop_assert!(b.dead_letters.is_empty(), "{:?}", b.dead_letters);
        prop_assert_eq!(sorted_json(&a.sla), sorted_json(&b.sla));
        prop_assert_eq!(sorted_json(&a.decisions), sorted_json(&b.decisions));
        prop_assert_eq!(sorted_json(&a.complaints), sorted_json(&b.complaints));
        prop_assert!(b.sla.iter().all(|e| e.kind != SlaKind::Retracted));
    }

    #[test]
    fn any_disorder_keeps_every_stage_run_consistent(
        seed in 0u64..1_000,
        delays in prop::collection::vec(any::<i64>(), 1..64),
        hours in 1i64..48,
    ) {
        let (lines, until) = valid_stream(seed);
        // Delays of up to days, and a complaint's own order not kept.
        let mut keyed: Vec<(i64, &String)> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (l.at_ms + delays[i % delays.len()].rem_euclid(hours * 3_600_000), &l.text))
            .collect();
        keyed.sort();
        let shuffled: Vec<String> = keyed.into_iter().map(|(_, t)| t.clone()).collect();
        let out = replay(&shuffled, until);
        check(&out.sla)?;
    }
}
