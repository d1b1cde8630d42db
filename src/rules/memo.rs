//! Decisions remembered by exactly what the rule read.
//!
//! A rule is a pure function of the inputs it reads: the engine gives it no
//! clock (`no_time`), no IO and no randomness, and every read of `c` goes
//! through a getter that records it (rules/subject.rs). So if an earlier
//! call read the set of inputs R and a new complaint has the same values
//! for R, the rule reads the same values in the same order, takes the same
//! path and returns the same decision. The shipped rules read keyword hits,
//! channel, impact and the like, not the free text itself, so complaints
//! with different descriptions share a decision.
//!
//! Each ruleset has its own memo, so a reload starts empty. It is bounded:
//! at [`MAX_ENTRIES`] it starts over; past [`MAX_SHAPES`] read sets, new
//! ones are not remembered.

use super::subject::{ReadMask, Subject};
use crate::core::decision::RuleDecision;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Decisions kept at most; then the memo is cleared.
pub const MAX_ENTRIES: usize = 50_000;
/// Distinct read sets (paths through the rule) remembered at most.
pub const MAX_SHAPES: usize = 64;

#[derive(Default)]
pub struct Memo {
    inner: Mutex<Inner>,
    hits: AtomicU64,
}

#[derive(Default)]
struct Inner {
    /// Per read set seen (in the order first seen): the decisions by the
    /// key of the values read.
    shapes: Vec<(ReadMask, HashMap<Vec<u8>, RuleDecision>)>,
    entries: usize,
    /// Reused for the keys of lookups.
    key: Vec<u8>,
}

impl Memo {
    /// The remembered decision for `subject`, if an earlier call that read
    /// the same values made one.
    pub fn get(&self, subject: &Subject) -> Option<RuleDecision> {
        let mut guard = self.inner.lock().ok()?;
        let inner = &mut *guard;
        let mut found = None;
        for (i, (shape, decisions)) in inner.shapes.iter().enumerate() {
            subject.key_into(*shape, &mut inner.key);
            if let Some(d) = decisions.get(inner.key.as_slice()) {
                found = Some((i, d.clone()));
                break;
            }
        }
        let (i, d) = found?;
        // The read sets that answer most move to the front, so a lookup
        // computes few keys before it finds its decision.
        if i > 0 {
            inner.shapes.swap(i, i - 1);
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(d)
    }

    /// Decisions served from the memo so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Remembers `decision`, made by a call that read `subject.reads()`.
    pub fn put(&self, subject: &Subject, decision: &RuleDecision) {
        let shape = subject.reads();
        let Ok(mut guard) = self.inner.lock() else {
            return;
        };
        let inner = &mut *guard;
        if inner.entries >= MAX_ENTRIES {
            for (_, decisions) in &mut inner.shapes {
                decisions.clear();
            }
            inner.entries = 0;
        }
        let i = match inner.shapes.iter().position(|(s, _)| *s == shape) {
            Some(i) => i,
            None if inner.shapes.len() < MAX_SHAPES => {
                inner.shapes.push((shape, HashMap::default()));
                inner.shapes.len() - 1
            }
            None => return,
        };
        let mut key = Vec::new();
        subject.key_into(shape, &mut key);
        if inner.shapes[i].1.insert(key, decision.clone()).is_none() {
            inner.entries += 1;
        }
    }
}
