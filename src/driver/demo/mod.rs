//! A seeded synthetic complaint stream: every channel, Chinese and English
//! descriptions, late acknowledgements, breaches, extensions, reopens,
//! withdrawals, redeliveries and a few malformed lines.

use crate::core::decision::Rules;
use crate::model::Event;
use crate::model::event::*;
use chrono::{DateTime, FixedOffset, TimeDelta};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod causes;
mod lifecycle;
mod texts;

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    pub complaints: usize,
    pub seed: u64,
    /// Start of the arrival window.
    pub start: DateTime<FixedOffset>,
    /// Length of the arrival window; events after it are not emitted (a
    /// snapshot, so some complaints are still open at the end).
    pub days: i64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            complaints: 5_000,
            seed: 42,
            start: DateTime::parse_from_rfc3339("2026-11-02T00:00:00+08:00")
                .expect("valid literal"),
            days: 7,
        }
    }
}

impl DemoConfig {
    /// End of the window: the replay's `--until`.
    pub fn end(&self) -> DateTime<FixedOffset> {
        self.start + TimeDelta::days(self.days)
    }
}

struct Gen<'r> {
    rng: ChaCha8Rng,
    rules: &'r dyn Rules,
    end: DateTime<FixedOffset>,
    /// `(delivery time in ms, insertion order, line)`.
    lines: Vec<(i64, u64, String)>,
    seq: u64,
    /// How late the current complaint's acknowledgement reaches the stream
    /// (adapters batch and retry): after events that happened later.
    ack_delay: TimeDelta,
}

fn mins(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

impl Gen<'_> {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// Minutes in `[lo, hi)`.
    fn between(&mut self, lo: i64, hi: i64) -> TimeDelta {
        TimeDelta::seconds(self.rng.random_range(lo * 60..hi * 60))
    }

    fn push_line(&mut self, at: DateTime<FixedOffset>, line: String) {
        self.seq += 1;
        self.lines.push((at.timestamp_millis(), self.seq, line));
    }

    /// Emits an event unless it falls after the window; returns whether it did.
    fn emit(
        &mut self,
        cid: &str,
        n: &mut u32,
        at: DateTime<FixedOffset>,
        actor: &str,
        body: EventBody,
    ) -> bool {
        if at > self.end {
            return false;
        }
        *n += 1;
        let ev = Event {
            event_id: format!("{cid}-e{n}"),
            complaint_id: cid.to_string(),
            occurred_at: at,
            actor: Some(actor.to_string()),
            body,
        };
        let line = serde_json::to_string(&ev).expect("events serialize");
        if self.chance(0.01) {
            // At-least-once adapters redeliver now and then.
            self.push_line(at, line.clone());
        }
        self.push_line(at, line);
        true
    }
}

/// Generates the stream as JSONL lines in time order.
pub fn generate(cfg: &DemoConfig, rules: &dyn Rules) -> Vec<String> {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(cfg.seed),
        rules,
        end: cfg.end(),
        lines: Vec::new(),
        seq: 0,
        ack_delay: TimeDelta::zero(),
    };
    for i in 0..cfg.complaints {
        let first = g.lines.len();
        g.ack_delay = TimeDelta::zero();
        g.complaint(i, cfg);
        g.deliver_ack_late(first);
        g.deliver_receipt_after_ack(first);
    }
    g.malformed(cfg);
    g.lines.sort_unstable_by_key(|(t, s, _)| (*t, *s));
    g.lines.into_iter().map(|(_, _, l)| l).collect()
}

/// The receipts of a stream's well-formed lines, `(complaint_id, body)`, in
/// order: what `decide` sees of each complaint (benchmarks and memo tests).
pub fn receipts(lines: &[String]) -> Vec<(String, Received)> {
    lines
        .iter()
        .filter_map(|l| Event::from_json(l).ok())
        .filter_map(|e| match e.body {
            EventBody::Received(r) => Some((e.complaint_id, r)),
            _ => None,
        })
        .collect()
}
