//! Index of pending deadlines: a min-heap with lazy deletion. Each complaint
//! has at most one live entry (its clock's next due time); moving or removing
//! it only bumps the complaint's generation, and stale entries are skipped
//! when popped or dropped by an occasional rebuild.

use crate::model::Timestamp;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// Full precision: a truncated time would pop before the clock is due.
    due: Timestamp,
    /// Insertion order: makes firing order deterministic for equal times.
    seq: u64,
    generation: u32,
    complaint: Arc<str>,
}

/// A due timer popped from the index.
#[derive(Debug, Clone, PartialEq)]
pub struct DueTimer {
    pub due: Timestamp,
    pub generation: u32,
    pub complaint: Arc<str>,
}

/// Min-heap of `(due, complaint, generation)`.
#[derive(Debug, Default)]
pub struct TimerIndex {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    live: usize,
}

impl TimerIndex {
    /// Adds an entry; the caller has bumped the complaint's generation.
    pub fn push(&mut self, due: Timestamp, complaint: Arc<str>, generation: u32) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            due,
            seq: self.seq,
            generation,
            complaint,
        }));
    }

    /// Tells the index how many entries are live, for rebuild decisions.
    pub fn set_live(&mut self, live: usize) {
        self.live = live;
    }

    /// Live entries.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Entries stored, stale ones included.
    pub fn stored(&self) -> usize {
        self.heap.len()
    }

    /// Pops the earliest entry if it is due at `now` (`inclusive`: due == now counts).
    pub fn pop_due(&mut self, now: Timestamp, inclusive: bool) -> Option<DueTimer> {
        let Reverse(top) = self.heap.peek()?;
        if top.due > now || (top.due == now && !inclusive) {
            return None;
        }
        let Reverse(e) = self.heap.pop()?;
        Some(DueTimer {
            due: e.due,
            generation: e.generation,
            complaint: e.complaint,
        })
    }

    /// Drops stale entries once they outnumber live ones, keeping memory
    /// proportional to open complaints.
    pub fn rebuild_if_stale(&mut self, is_live: impl Fn(&str, u32) -> bool) {
        if self.heap.len() > 1024 && self.heap.len() > 2 * self.live {
            self.heap
                .retain(|Reverse(e)| is_live(&e.complaint, e.generation));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_and_respects_inclusiveness() {
        let t = |s: &str| -> Timestamp { s.parse().unwrap() };
        let mut idx = TimerIndex::default();
        idx.push(t("2026-01-01T00:10:00Z"), "b".into(), 1);
        idx.push(t("2026-01-01T00:05:00Z"), "a".into(), 1);
        assert_eq!(idx.pop_due(t("2026-01-01T00:05:00Z"), false), None);
        assert_eq!(
            idx.pop_due(t("2026-01-01T00:05:00Z"), true)
                .unwrap()
                .complaint
                .as_ref(),
            "a"
        );
        assert_eq!(idx.pop_due(t("2026-01-01T00:09:00Z"), true), None);
        assert_eq!(
            idx.pop_due(t("2026-01-01T01:00:00Z"), true)
                .unwrap()
                .complaint
                .as_ref(),
            "b"
        );
        assert_eq!(idx.stored(), 0);
    }
}
