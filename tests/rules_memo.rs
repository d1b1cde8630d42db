//! The decision memo (src/rules/memo.rs) changes no decision: the fixtures,
//! the labelled corpus and a demo stream, first decisions and reopens, give
//! exactly the decisions of the same rules without it, and it does serve
//! most of them.

use complaintflow::core::decision::{CurrentRouting, DecisionInput, RuleDecision};
use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::model::Priority;
use complaintflow::model::event::{Customer, Received};
use complaintflow::rules::{RuleSet, corpus};
use std::path::Path;
use std::sync::Arc;

fn shipped() -> (RuleSet, RuleSet) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    (
        RuleSet::load_dir(&dir).unwrap(),
        RuleSet::load_dir(&dir).unwrap().without_memo(),
    )
}

/// The demo stream's complaints as `decide` sees them.
fn demo_receipts(rules: &RuleSet) -> Vec<(String, Received)> {
    let demo = generate(
        &DemoConfig {
            complaints: 3_000,
            seed: 5,
            ..DemoConfig::default()
        },
        rules,
    );
    complaintflow::driver::demo::receipts(&demo)
}

/// Complaints as `decide` sees them: the demo's, the corpus's and the
/// fixtures' (first decisions), and each again as a reopen.
fn receipts(rules: &RuleSet) -> Vec<(String, Received)> {
    let mut out = demo_receipts(rules);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for case in corpus::load(&dir).unwrap().all().cloned() {
        out.push((
            case.id,
            Received {
                channel: case.channel,
                customer: Customer {
                    id: "corpus".into(),
                    name: "corpus".into(),
                    phone: None,
                    email: None,
                },
                description: case.description,
                happened_at: None,
                impact: case.impact,
                attributes: None,
            },
        ));
    }
    for case in rules.fixtures() {
        out.push((case.name.clone(), case.complaint.clone()));
    }
    out
}

fn decide_all(
    rules: &RuleSet,
    receipts: &[(String, Received)],
) -> Vec<Result<RuleDecision, String>> {
    let assist: Vec<Arc<str>> = vec!["security".into()];
    let mut out = Vec::new();
    for (id, received) in receipts {
        for (cycle, previous, current) in [
            (0, None, None),
            (
                1,
                Some(Priority::Urgent),
                Some(CurrentRouting {
                    lead: "technical",
                    assist: &assist,
                    by_group: true,
                }),
            ),
            (
                2,
                Some(Priority::General),
                Some(CurrentRouting {
                    lead: "business",
                    assist: &[],
                    by_group: false,
                }),
            ),
        ] {
            out.push(rules.try_decide(&DecisionInput {
                complaint_id: id,
                received,
                received_at: chrono::DateTime::UNIX_EPOCH,
                cycle,
                previous_priority: previous,
                comment: Some("还是不行"),
                current,
            }));
        }
    }
    out
}

#[test]
fn the_memo_gives_the_decisions_of_the_script_and_serves_most_of_them() {
    let (memo, plain) = shipped();
    let receipts = receipts(&plain);
    let want = decide_all(&plain, &receipts);
    assert_eq!(plain.memo_hits(), 0);
    let first = decide_all(&memo, &receipts);
    let again = decide_all(&memo, &receipts);
    for (i, w) in want.iter().enumerate() {
        assert_eq!(
            &first[i],
            w,
            "decision {i} ({:?}) differs",
            receipts[i / 3].0
        );
        assert_eq!(&again[i], w, "decision {i} differs on the second pass");
    }
    assert!(want.iter().all(|d| d.is_ok()));

    // Most of a stream's decisions come from the memo. (Not the corpus's:
    // its thousands of texts, each written to differ, fill the bounded memo
    // and start it over, as a stream of nothing but new wordings would.)
    let (memo, _) = shipped();
    let demo = demo_receipts(&plain);
    decide_all(&memo, &demo);
    decide_all(&memo, &demo);
    let n = 3 * demo.len() as u64;
    let hits = memo.memo_hits();
    assert!(hits > n, "{hits} of {} decisions from the memo", 2 * n);
}
