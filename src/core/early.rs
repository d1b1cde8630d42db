//! Events that came before their predecessors. Adapters on different
//! machines deliver a complaint's steps out of order (an acknowledgement
//! before its receipt, a handling before its assignment): such an event is
//! held, per complaint and bounded, and applied as soon as the step it
//! needs arrives. Held longer than the allowed lateness, it is refused.

use super::refusal::Rejection;
use crate::model::{Event, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Where an input event came from: what a dead letter or the raw-events
/// table needs once the event is decided later.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    /// The event's text as it arrived.
    pub payload: String,
    /// Where it came from (`file:line`, `topic/partition/offset`).
    pub source: String,
    /// Its position in the source (line number, offset): live mode does
    /// not commit past a held event.
    pub position: i64,
}

/// An event that waited, now decided: applied (`Ok`) or refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Released {
    pub event: Event,
    pub origin: Origin,
    pub outcome: Result<(), Rejection>,
}

#[derive(Debug)]
pub(super) struct Held {
    pub event: Event,
    /// The payload's hash (`engine::payload_hash`), remembered with the
    /// event once it is decided.
    pub payload: u64,
    pub origin: Origin,
    /// Why it could not be applied yet (the reason given if it never can).
    pub rejection: Rejection,
    seq: u64,
}

impl Held {
    fn key(&self) -> (Timestamp, u64) {
        (self.event.at(), self.seq)
    }
}

/// The held events of one engine (one partition).
#[derive(Debug, Default)]
pub(super) struct EarlyEvents {
    /// Per complaint, in event-time order (arrival order for equal times).
    by_complaint: HashMap<Arc<str>, Vec<Held>>,
    /// Every held event by time, to give up on the overdue ones.
    by_time: BTreeMap<(Timestamp, u64), Arc<str>>,
    /// Source positions held (a count each), for the committable offset.
    positions: BTreeMap<i64, u32>,
    seq: u64,
    len: usize,
}

impl EarlyEvents {
    /// A lifecycle has fewer steps per cycle than this.
    pub const PER_COMPLAINT: usize = 16;
    /// About 10 MiB of held events per partition at 1 KiB each: early
    /// events wait minutes, so this many means broken input, refused at once.
    pub const MAX: usize = 10_000;

    pub fn len(&self) -> usize {
        self.len
    }

    /// The payload hash of this event (same complaint, same `event_id`)
    /// if it is held already.
    pub fn held_payload(&self, ev: &Event) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        self.by_complaint
            .get(ev.complaint_id.as_str())?
            .iter()
            .find(|h| h.event.event_id == ev.event_id)
            .map(|h| h.payload)
    }

    /// Takes the held event with `ev`'s complaint and `event_id`.
    pub fn remove(&mut self, ev: &Event) -> Option<Held> {
        let list = self.by_complaint.get_mut(ev.complaint_id.as_str())?;
        let i = list.iter().position(|h| h.event.event_id == ev.event_id)?;
        let held = list.remove(i);
        if list.is_empty() {
            self.by_complaint.remove(ev.complaint_id.as_str());
        }
        self.forget(&held);
        Some(held)
    }

    /// Whether anything of complaint `id` is held.
    pub fn holds_for(&self, id: &str) -> bool {
        self.len > 0 && self.by_complaint.contains_key(id)
    }

    /// Whether one more event of complaint `id` may be held.
    pub fn has_room(&self, id: &str) -> bool {
        self.len < Self::MAX
            && self
                .by_complaint
                .get(id)
                .is_none_or(|v| v.len() < Self::PER_COMPLAINT)
    }

    /// Holds an event (the caller checked [`EarlyEvents::has_room`]).
    pub fn hold(&mut self, event: Event, payload: u64, origin: Origin, rejection: Rejection) {
        self.seq += 1;
        let held = Held {
            event,
            payload,
            origin,
            rejection,
            seq: self.seq,
        };
        self.put(held);
    }

    fn put(&mut self, held: Held) {
        let id: Arc<str> = held.event.complaint_id.as_str().into();
        self.by_time.insert(held.key(), id.clone());
        *self.positions.entry(held.origin.position).or_insert(0) += 1;
        self.len += 1;
        let list = self.by_complaint.entry(id).or_default();
        let at = list.partition_point(|h| h.key() <= held.key());
        list.insert(at, held);
    }

    /// Takes every held event of complaint `id`, in event-time order.
    pub fn take(&mut self, id: &str) -> Vec<Held> {
        let list = self.by_complaint.remove(id).unwrap_or_default();
        for h in &list {
            self.forget(h);
        }
        list
    }

    /// Puts back events taken with [`EarlyEvents::take`] and not decided.
    pub fn put_back(&mut self, list: Vec<Held>) {
        for h in list {
            self.put(h);
        }
    }

    fn forget(&mut self, h: &Held) {
        self.by_time.remove(&h.key());
        if let Some(n) = self.positions.get_mut(&h.origin.position) {
            *n -= 1;
            if *n == 0 {
                self.positions.remove(&h.origin.position);
            }
        }
        self.len -= 1;
    }

    /// Takes the events whose time is before `horizon` (all with `None`),
    /// oldest first: their predecessors did not come in time.
    pub fn overdue(&mut self, horizon: Option<Timestamp>) -> Vec<Held> {
        let mut out = Vec::new();
        while let Some(((at, seq), id)) = self.by_time.first_key_value() {
            let (at, seq, id) = (*at, *seq, id.clone());
            if horizon.is_some_and(|h| at >= h) {
                break;
            }
            // Both indexes change together: an entry is always in its list.
            let found = self.by_complaint.get_mut(&id).and_then(|list| {
                let i = list.iter().position(|h| h.seq == seq)?;
                Some((list.remove(i), list.is_empty()))
            });
            let Some((held, emptied)) = found else {
                self.by_time.pop_first();
                continue;
            };
            if emptied {
                self.by_complaint.remove(&id);
            }
            self.forget(&held);
            out.push(held);
        }
        out
    }

    /// The earliest source position of a held event.
    pub fn earliest_position(&self) -> Option<i64> {
        self.positions.keys().next().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::RejectCode;

    fn held(id: &str, cid: &str, at: &str, position: i64) -> (Event, Origin, Rejection) {
        let line = format!(
            r#"{{"event_id":"{id}","type":"complaint.archived","complaint_id":"{cid}","occurred_at":"{at}"}}"#
        );
        let origin = Origin {
            payload: line.clone(),
            source: format!("t:{position}"),
            position,
        };
        let r = Rejection::new(RejectCode::InvalidTransition, "early");
        (Event::from_json(&line).unwrap(), origin, r)
    }

    #[test]
    fn held_events_come_back_in_time_order_and_hold_back_their_positions() {
        let mut e = EarlyEvents::default();
        for (id, cid, at, pos) in [
            ("a", "C1", "2026-03-02T10:05:00Z", 7),
            ("b", "C2", "2026-03-02T10:01:00Z", 9),
            ("c", "C1", "2026-03-02T10:02:00Z", 8),
        ] {
            let (ev, o, r) = held(id, cid, at, pos);
            assert!(e.has_room(cid));
            e.hold(ev, 1, o, r);
        }
        assert_eq!((e.len(), e.earliest_position()), (3, Some(7)));
        let c1: Vec<String> = e.take("C1").into_iter().map(|h| h.event.event_id).collect();
        assert_eq!(c1, ["c", "a"]);
        assert_eq!((e.len(), e.earliest_position()), (1, Some(9)));
        let horizon = "2026-03-02T10:01:00Z".parse().ok();
        assert!(e.overdue(horizon).is_empty(), "due only strictly before");
        let late = "2026-03-02T10:01:01Z".parse().ok();
        assert_eq!(e.overdue(late).len(), 1);
        assert_eq!((e.len(), e.earliest_position()), (0, None));
    }

    #[test]
    fn a_complaint_holds_a_bounded_number_of_events() {
        let mut e = EarlyEvents::default();
        for n in 0..EarlyEvents::PER_COMPLAINT {
            let (ev, o, r) = held(&n.to_string(), "C1", "2026-03-02T10:05:00Z", n as i64);
            e.hold(ev, 1, o, r);
        }
        assert!(!e.has_room("C1"));
        assert!(e.has_room("C2"));
    }
}
