//! The engine: all complaint states plus the timer index. `process` applies
//! one event, `advance` fires timers up to a clock reading.

use super::complaint::{Complaint, Interner};
use super::decision::Rules;
use super::lifecycle;
use super::timers::TimerIndex;
use crate::model::{Decision, Event, SlaEvent, Timestamp};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// What one step produced, in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outputs {
    pub decisions: Vec<Decision>,
    pub sla: Vec<SlaEvent>,
    /// Complaints whose state changed (live mode writes them to the changelog).
    pub changed: Vec<Arc<str>>,
}

impl Outputs {
    pub fn clear(&mut self) {
        self.decisions.clear();
        self.sla.clear();
        self.changed.clear();
    }
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty() && self.sla.is_empty()
    }
}

/// Why an event was refused; `code` is low-cardinality (metrics, queries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct Rejection {
    pub code: RejectCode,
    pub detail: String,
}

/// Classes of refused input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// Not JSON, or not an event of the contract.
    Unparsable,
    /// An event for a complaint never received.
    UnknownComplaint,
    /// A second `complaint.received` for one complaint.
    AlreadyReceived,
    /// Not valid in the complaint's current state.
    InvalidTransition,
    /// Archived or withdrawn complaints take no more events.
    ComplaintClosed,
    /// Extension asked after the deadline, or otherwise unusable.
    InvalidExtension,
    /// `occurred_at` later than the wall clock allows: a wrong clock.
    FutureEvent,
}

impl RejectCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::Unparsable => "unparsable",
            RejectCode::UnknownComplaint => "unknown_complaint",
            RejectCode::AlreadyReceived => "already_received",
            RejectCode::InvalidTransition => "invalid_transition",
            RejectCode::ComplaintClosed => "complaint_closed",
            RejectCode::InvalidExtension => "invalid_extension",
            RejectCode::FutureEvent => "future_event",
        }
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Rejection {
    pub fn new(code: RejectCode, detail: impl Into<String>) -> Rejection {
        Rejection {
            code,
            detail: detail.into(),
        }
    }
}

/// Refuses an event whose time lies more than `skew_secs` ahead of `now`
/// (the wall clock): it would move clocks into the future. Pure: the
/// caller reads the clock. The reason names the bound by its rule, not by
/// the clock's reading, so a replay's dead letters stay reproducible.
pub fn refuse_future(ev: &Event, now: Timestamp, skew_secs: u64) -> Result<(), Rejection> {
    match super::clock::seconds_after(now, skew_secs) {
        Some(bound) if ev.at() > bound => Err(Rejection::new(
            RejectCode::FutureEvent,
            format!(
                "`occurred_at` {} is later than the wall clock plus max_clock_skew ({skew_secs}s)",
                ev.occurred_at.to_rfc3339(),
            ),
        )),
        _ => Ok(()),
    }
}

/// How an accepted event was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event changed the complaint.
    Accepted,
    /// Its `event_id` was seen before for this complaint: ignored.
    Duplicate,
}

/// Stable 64-bit FNV-1a: event-id hashes are persisted with the state, so
/// they must not change between builds (std's hasher may).
fn event_hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// All complaint states and their pending timers.
#[derive(Debug, Default)]
pub struct Engine {
    /// Boxed: the table then holds pointers, so its spare capacity costs
    /// 24 bytes a slot rather than a whole state.
    complaints: HashMap<Arc<str>, Box<Complaint>>,
    timers: TimerIndex,
    names: Interner,
    /// Complaints in the order they became archived or withdrawn.
    closed: VecDeque<(Timestamp, Arc<str>)>,
    /// Refused events of complaints not in the state, so a redelivery is
    /// ignored rather than dead-lettered again.
    refused_unknown: RecentSet,
}

/// The last [`RecentSet::CAPACITY`] hashes inserted: a bounded memory.
#[derive(Debug, Default)]
struct RecentSet {
    order: VecDeque<u64>,
    members: HashSet<u64>,
}

impl RecentSet {
    /// 65,536 ids take about 2 MiB per engine (one per partition) when full:
    /// a ring and a hash table of 131,072 slots of 8-byte ids each; an
    /// adapter redelivers within seconds, far fewer refusals than that.
    const CAPACITY: usize = 1 << 16;

    fn contains(&self, h: u64) -> bool {
        self.members.contains(&h)
    }

    fn insert(&mut self, h: u64) {
        if !self.members.insert(h) {
            return;
        }
        self.order.push_back(h);
        if self.order.len() > Self::CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.members.remove(&old);
        }
    }
}

impl Engine {
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Applies one event at its event time. Timers of this complaint due
    /// before the event fire first, so the outcome never depends on when the
    /// clock last advanced.
    pub fn process(
        &mut self,
        ev: &Event,
        rules: &dyn Rules,
        out: &mut Outputs,
    ) -> Result<Applied, Rejection> {
        let at = ev.at();
        let hash = event_hash(&ev.event_id);
        let before = self
            .complaints
            .get(ev.complaint_id.as_str())
            .map(|c| (c.version, c.status.is_final()));
        let result = match self.complaints.get_mut(ev.complaint_id.as_str()) {
            None => {
                // `event_id` is unique per complaint: the pair identifies it.
                let key = event_hash(&ev.complaint_id) ^ hash.rotate_left(29);
                if self.refused_unknown.contains(key) {
                    return Ok(Applied::Duplicate);
                }
                let c = lifecycle::receive(ev, rules, &mut self.names, out).inspect_err(|_| {
                    self.refused_unknown.insert(key);
                })?;
                self.complaints.insert(c.id.clone(), Box::new(c));
                Ok(Applied::Accepted)
            }
            Some(c) if c.seen.contains(&hash) => return Ok(Applied::Duplicate),
            Some(c) => {
                // The complaint's timers due before the event fire first; if
                // the event is then refused, they never fired: a refused
                // event moves no clock. (A copy only when one is due.)
                let due = c.clock.as_ref().and_then(|k| k.next_due());
                let undo = due
                    .is_some_and(|d| d.at() < at)
                    .then(|| (c.as_ref().clone(), out.sla.len()));
                lifecycle::fire_due(c, at, false, out);
                let applied = lifecycle::apply(c, ev, rules, &mut self.names, out);
                if applied.is_err()
                    && let Some((before, sla)) = undo
                {
                    **c = before;
                    out.sla.truncate(sla);
                }
                applied.map(|()| Applied::Accepted)
            }
        };
        let c = self
            .complaints
            .get_mut(ev.complaint_id.as_str())
            .expect("present after receive");
        // A refused event is remembered too: redelivered, it is ignored
        // rather than judged again against a later state (another reason).
        c.seen.push(hash);
        c.version += 1;
        if result.is_ok() {
            c.updated_at = c.updated_at.max(at);
        }
        if before.map(|b| b.0) != Some(c.version) {
            out.changed.push(c.id.clone());
        }
        if c.status.is_final() && before.is_some_and(|b| !b.1) {
            self.closed.push_back((c.updated_at, c.id.clone()));
        }
        Self::reschedule(&mut self.timers, c);
        result
    }

    /// Fires every timer due strictly before `now`: a deadline is breached
    /// only once the clock is past it, so ending exactly at it is `met` (the
    /// same rule for events, `replay --until` and the wall clock). Replay
    /// calls it with each event's time and with the end time; live mode
    /// with the wall clock.
    pub fn advance(&mut self, now: Timestamp, out: &mut Outputs) {
        while let Some(due) = self.timers.pop_due(now, false) {
            let Some(c) = self.complaints.get_mut(&due.complaint) else {
                continue;
            };
            if c.timer_gen != due.generation {
                continue;
            }
            // The entry is consumed: the complaint has no live timer until rescheduled.
            c.timer_due = None;
            self.timers.set_live(self.timers.live().saturating_sub(1));
            lifecycle::fire_due(c, due.due, true, out);
            out.changed.push(c.id.clone());
            Self::reschedule(&mut self.timers, c);
        }
        let complaints = &self.complaints;
        self.timers
            .rebuild_if_stale(|id, g| complaints.get(id).is_some_and(|c| c.timer_gen == g));
    }

    fn reschedule(timers: &mut TimerIndex, c: &mut Complaint) {
        let next = c.clock.as_ref().and_then(|k| k.next_due()).map(|d| d.at());
        if next == c.timer_due {
            return;
        }
        let live_before = c.timer_due.is_some();
        c.timer_gen = c.timer_gen.wrapping_add(1);
        c.timer_due = next;
        if let Some(t) = next {
            timers.push(t, c.id.clone(), c.timer_gen);
        }
        let live = (timers.live() + next.is_some() as usize).saturating_sub(live_before as usize);
        timers.set_live(live);
    }

    /// The state of one complaint.
    pub fn complaint(&self, id: &str) -> Option<&Complaint> {
        self.complaints.get(id).map(|c| c.as_ref())
    }

    /// All complaints, in no particular order.
    pub fn complaints(&self) -> impl Iterator<Item = &Complaint> {
        self.complaints.values().map(|c| c.as_ref())
    }

    /// Complaints held (open and final).
    pub fn len(&self) -> usize {
        self.complaints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.complaints.is_empty()
    }

    /// Complaints not archived or withdrawn.
    pub fn open_count(&self) -> usize {
        self.complaints
            .values()
            .filter(|c| !c.status.is_final())
            .count()
    }

    /// Live timers (one per complaint with a running clock).
    pub fn pending_timers(&self) -> usize {
        self.timers.live()
    }

    /// Notes that the input record at source position `pos` was about
    /// complaint `id`. Returns the id when the complaint's state changed
    /// (its state record must then be written again).
    pub fn note_input(&mut self, id: &str, pos: i64) -> Option<Arc<str>> {
        let c = self.complaints.get_mut(id)?;
        if c.last_input.is_some_and(|l| l >= pos) {
            return None;
        }
        c.last_input = Some(pos);
        Some(c.id.clone())
    }

    /// Removes archived and withdrawn complaints whose last change is before
    /// `cutoff` and whose input records all lie before source position
    /// `covered` (the committed offset), returning their final states (live
    /// mode writes tombstones for them). Keeping them until then lets every
    /// redelivery still be recognised.
    pub fn evict_closed_before(&mut self, cutoff: Timestamp, covered: i64) -> Vec<Complaint> {
        let mut evicted = Vec::new();
        while let Some((at, id)) = self.closed.front() {
            if *at >= cutoff {
                break;
            }
            let state = self.complaints.get(id).map(|c| {
                (
                    c.status.is_final(),
                    c.last_input.is_some_and(|l| l >= covered),
                )
            });
            if let Some((true, true)) = state {
                // Not yet covered by a commit: wait (the queue is in time
                // order, and the commit moves on within seconds).
                break;
            }
            let (_, id) = self.closed.pop_front().expect("peeked");
            if let Some((true, _)) = state {
                evicted.extend(self.remove(&id));
            }
        }
        evicted
    }

    /// Puts back a state read from the changelog; its timers are scheduled
    /// and fire on the next `advance` if already due.
    pub fn restore(&mut self, mut c: Complaint) {
        if c.status.is_final() {
            self.closed.push_back((c.updated_at, c.id.clone()));
        }
        c.routing.lead = self.names.get(&c.routing.lead);
        c.routing.ruleset_version = self.names.get(&c.routing.ruleset_version);
        c.routing.assist = c.routing.assist.iter().map(|a| self.names.get(a)).collect();
        c.timer_due = None;
        if let Some(old) = self.complaints.remove(c.id.as_ref()) {
            if old.timer_due.is_some() {
                self.timers.set_live(self.timers.live().saturating_sub(1));
            }
            c.timer_gen = old.timer_gen.wrapping_add(1);
        }
        let mut c = Box::new(c);
        Self::reschedule(&mut self.timers, &mut c);
        self.complaints.insert(c.id.clone(), c);
    }

    /// Forgets a complaint (a tombstone in the changelog); returns its state.
    pub fn remove(&mut self, id: &str) -> Option<Complaint> {
        let c = self.complaints.remove(id)?;
        if c.timer_due.is_some() {
            self.timers.set_live(self.timers.live().saturating_sub(1));
        }
        Some(*c)
    }
}
