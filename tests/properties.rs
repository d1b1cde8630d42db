//! Property tests over random event sequences: every started stage ends in
//! exactly one of met / late (after breached) / cancelled or is still open,
//! warnings never follow their breach, nothing follows archive, ids are unique.

use chrono::TimeDelta;
use complaintflow::core::{Effects, Engine, Origin};
use complaintflow::model::output::Status;
use complaintflow::model::{Event, SlaEvent, SlaKind, Timestamp};
use complaintflow::rules::RuleSet;
use proptest::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The payload hash of an event built here: its JSON.
fn payload_of(ev: &Event) -> u64 {
    complaintflow::core::payload_hash(serde_json::to_string(ev).expect("serializes").as_bytes())
}

const TYPES: &[&str] = &[
    "received",
    "acknowledged",
    "assigned",
    "progress",
    "extension_requested",
    "extension_decided",
    "handled",
    "reported",
    "customer_confirmed",
    "archived",
    "withdrawn",
];
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("家里宽带断网了", "single"),
    ("整个小区都无法上网", "widespread"),
    ("网速慢,邻居也一样", "multiple"),
    ("网络故障还照常扣费", "single"),
    ("客服态度差", "single"),
];

#[derive(Debug, Clone)]
struct Step {
    complaint: usize,
    kind: usize,
    minutes: i64,
    flag: bool,
    pick: usize,
}

fn step() -> impl Strategy<Value = Step> {
    // Mostly lifecycle-shaped steps, with random ones mixed in.
    (
        0usize..3,
        0usize..TYPES.len(),
        prop_oneof![0i64..15, 0i64..200, 0i64..3000],
        any::<bool>(),
        0usize..5,
    )
        .prop_map(|(complaint, kind, minutes, flag, pick)| Step {
            complaint,
            kind,
            minutes,
            flag,
            pick,
        })
}

fn event(n: usize, s: &Step, at: Timestamp) -> Event {
    let cid = format!("P{}", s.complaint);
    let kind = TYPES[s.kind];
    let (description, impact) = DESCRIPTIONS[s.pick];
    let priorities = ["general", "important", "urgent"];
    let extra = match kind {
        "received" => {
            json!({"channel": "web", "customer": {"id": "K", "name": "N"}, "description": description, "impact": impact})
        }
        "assigned" => json!({"lead_department": "technical", "priority": priorities[s.pick % 3]}),
        "progress" => {
            let kinds = ["update", "response", "preliminary_solution"];
            json!({"note": "n", "kind": kinds[s.pick % 3]})
        }
        "extension_requested" => {
            json!({"until": (at + TimeDelta::minutes(60 * s.pick as i64 + 30)).to_rfc3339(), "reason": "r"})
        }
        "extension_decided" => json!({"approved": s.flag}),
        "handled" => json!({"cause": "c", "measures": "m", "result": "r"}),
        "customer_confirmed" => json!({"satisfied": s.flag}),
        _ => json!({}),
    };
    let mut v = json!({"event_id": format!("ev{n}"), "type": format!("complaint.{kind}"), "complaint_id": cid, "occurred_at": at.to_rfc3339()});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    Event::from_json(&v.to_string()).expect("generated events parse")
}

fn check_invariants(
    sla: &[SlaEvent],
    open: &HashMap<String, Vec<(u32, String)>>,
) -> Result<(), TestCaseError> {
    let mut ids = HashSet::new();
    let mut per_stage: BTreeMap<(String, u32, String), Vec<SlaKind>> = BTreeMap::new();
    for e in sla {
        prop_assert!(
            ids.insert(e.event_id.clone()),
            "duplicate SLA id {}",
            e.event_id
        );
        per_stage
            .entry((e.complaint_id.clone(), e.cycle, e.stage.to_string()))
            .or_default()
            .push(e.kind);
    }
    for ((cid, cycle, stage), kinds) in &per_stage {
        prop_assert_eq!(
            kinds.first(),
            Some(&SlaKind::Started),
            "{} {} {}: {:?}",
            cid,
            cycle,
            stage,
            kinds
        );
        prop_assert_eq!(kinds.iter().filter(|k| **k == SlaKind::Started).count(), 1);
        let ends: Vec<_> = kinds
            .iter()
            .filter(|k| matches!(k, SlaKind::Met | SlaKind::Late | SlaKind::Cancelled))
            .collect();
        prop_assert!(
            ends.len() <= 1,
            "{cid} {cycle} {stage} ends twice: {kinds:?}"
        );
        let breach = kinds.iter().position(|k| *k == SlaKind::Breached);
        if let Some(b) = breach {
            prop_assert!(
                !kinds[b..].contains(&SlaKind::Warning),
                "warning after breach: {kinds:?}"
            );
            prop_assert!(
                !kinds.contains(&SlaKind::Met),
                "met after breach: {kinds:?}"
            );
        }
        if kinds.contains(&SlaKind::Late) {
            prop_assert!(
                breach.is_some_and(|b| b < kinds.iter().position(|k| *k == SlaKind::Late).unwrap())
            );
        }
        if ends.is_empty() {
            // Still open: it must be one of the complaint's running clocks.
            prop_assert!(
                open.get(cid)
                    .is_some_and(|o| o.contains(&(*cycle, stage.clone()))),
                "{:?} {:?}",
                kinds,
                open.get(cid)
            );
        } else if let Some(pos) = kinds
            .iter()
            .position(|k| matches!(k, SlaKind::Met | SlaKind::Late | SlaKind::Cancelled))
        {
            prop_assert_eq!(pos, kinds.len() - 1, "event after the end: {:?}", kinds);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn sla_invariants_hold_for_random_sequences(steps in prop::collection::vec(step(), 1..60)) {
        let rules = RuleSet::embedded();
        let mut engine = Engine::new();
        let mut out = Effects::default();
        let mut sla = Vec::new();
        let mut now: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let mut archived = HashSet::new();
        // Start each complaint with a receipt so most steps are meaningful.
        let mut all: Vec<Step> = (0..3).map(|c| Step { complaint: c, kind: 0, minutes: 0, flag: true, pick: c }).collect();
        all.extend(steps);
        for (n, s) in all.iter().enumerate() {
            now += TimeDelta::minutes(s.minutes);
            let ev = event(n, s, now);
            engine.advance(now, &mut out);
            let result = engine.process(&ev, payload_of(&ev), Origin::default, &rules, &mut out);
            let cid = ev.complaint_id.clone();
            if archived.contains(&cid) {
                prop_assert!(result.is_err(), "accepted after archive: {:?}", ev.type_name());
                prop_assert!(out.sla.iter().all(|e| e.complaint_id != cid), "SLA output after archive");
            }
            // Archived by this event, or by an early one it released.
            archived.extend(
                engine
                    .complaints()
                    .filter(|c| c.status == Status::Archived)
                    .map(|c| c.id.to_string()),
            );
            sla.append(&mut out.sla);
            out.clear();
        }
        engine.advance(now + TimeDelta::days(30), &mut out);
        for e in &out.sla {
            prop_assert!(!archived.contains(&e.complaint_id), "timer fired after archive");
        }
        sla.append(&mut out.sla);
        let open: HashMap<String, Vec<(u32, String)>> = engine
            .complaints()
            .map(|c| {
                let running = [c.clock.as_ref(), c.respond.as_ref()]
                    .into_iter()
                    .flatten()
                    .map(|k| (c.cycle, k.stage.to_string()))
                    .collect();
                (c.id.to_string(), running)
            })
            .collect();
        check_invariants(&sla, &open)?;
    }
}
