//! The engine: all complaint states plus the timer index. `process` applies
//! one event, `advance` fires timers up to a clock reading.

use super::complaint::{Complaint, Interner, Resend, SeenEvent, resend_of, same_payload};
use super::decision::Rules;
use super::early::{EarlyEvents, Origin, Released};
use super::lifecycle;
pub use super::outputs::Effects;
use super::refusal::RecentSet;
pub use super::refusal::{RejectCode, Rejection, refuse_future};
use super::timers::TimerIndex;
use crate::model::{Event, Timestamp};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// How an accepted event was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event changed the complaint.
    Accepted,
    /// Its `event_id` was seen before for this complaint: ignored.
    Duplicate,
    /// It came before the step it follows: held until that step arrives
    /// (then in [`Effects::released`]).
    Held,
}

/// Events one complaint takes, refused ones included: a lifecycle has a
/// dozen per cycle, and the state record holds an 8-byte id for each.
pub const MAX_EVENTS_PER_COMPLAINT: usize = 1_000;

/// A stable hash of an event's payload as it came (never 0, which stands
/// for "not known" in states written before payloads were hashed).
pub fn payload_hash(payload: &[u8]) -> u64 {
    // Every event pays it: eight bytes a step rather than FNV's one. Fixed
    // constants, because the hash is persisted with the state.
    let mut h = 0x9e37_79b9_7f4a_7c15_u64 ^ payload.len() as u64;
    for chunk in payload.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(0xff51_afd7_ed55_8ccd)
            .rotate_left(31);
    }
    (h ^ (h >> 33)).max(1)
}

/// Identifies a refused event of an unknown complaint: `event_id` is
/// unique per complaint, so the pair does; with the payload, a corrected
/// resend is a different key and is judged.
fn unknown_key(ev: &Event, hash: u64, payload: u64) -> u64 {
    event_hash(&ev.complaint_id) ^ hash.rotate_left(29) ^ payload.rotate_left(13)
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
    /// Events that came before the step they follow.
    early: EarlyEvents,
}

impl Engine {
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Applies one event at its event time. Timers of this complaint due
    /// before the event fire first, so the outcome never depends on when the
    /// clock last advanced. An event that came before the step it follows
    /// is held (`origin` says where it came from) and applied, in event-time
    /// order, when that step arrives: see [`Effects::released`].
    ///
    /// `payload` is [`payload_hash`] of the event as it came: the same id
    /// with the same payload is a redelivery (ignored), with another one a
    /// correction of a refused event (judged) or a conflict with an
    /// accepted one (refused as `conflicting_event`).
    pub fn process(
        &mut self,
        ev: &Event,
        payload: u64,
        origin: impl FnOnce() -> Origin,
        rules: &dyn Rules,
        out: &mut Effects,
    ) -> Result<Applied, Rejection> {
        let hash = event_hash(&ev.event_id);
        let resend = match self.complaints.get(ev.complaint_id.as_str()) {
            None if self
                .refused_unknown
                .contains(unknown_key(ev, hash, payload)) =>
            {
                Resend::Redelivery
            }
            None => Resend::New,
            Some(c) => resend_of(&c.seen, hash, payload),
        };
        match resend {
            Resend::Redelivery => return Ok(Applied::Duplicate),
            Resend::Conflict => {
                return Err(Rejection::new(
                    RejectCode::ConflictingEvent,
                    format!(
                        "event `{}` was accepted with other content; a resend must repeat it byte for byte, a change is a new event with its own event_id",
                        ev.event_id
                    ),
                ));
            }
            Resend::New | Resend::Correction => {}
        }
        match self.early.held_payload(ev) {
            Some(held) if same_payload(held, payload) => {
                return Ok(Applied::Duplicate);
            }
            // A correction of an event still waiting replaces it: the one
            // waiting is never applied, and remembered as refused.
            Some(_) => {
                if let Some(old) = self.early.remove(ev) {
                    let before = self.state_of(&ev.complaint_id);
                    self.settle(&old.event, (hash, old.payload), before, false, out);
                }
            }
            None => {}
        }
        if let Some(c) = self.complaints.get(ev.complaint_id.as_str())
            && c.seen.len() >= MAX_EVENTS_PER_COMPLAINT
        {
            // Its state record (ids included) must stay small.
            return Err(Rejection::new(
                RejectCode::TooLarge,
                format!(
                    "complaint `{}` has had {MAX_EVENTS_PER_COMPLAINT} events, the most one complaint takes",
                    c.id
                ),
            ));
        }
        let before = self.state_of(&ev.complaint_id);
        let result = self.attempt(ev, rules, out);
        if let Err(r) = result {
            let known = self.complaints.get(ev.complaint_id.as_str());
            if !lifecycle::comes_early(known.map(|c| c.as_ref()), ev) {
                self.settle(ev, (hash, payload), before, false, out);
                return Err(r);
            }
            if !self.early.has_room(&ev.complaint_id) {
                self.settle(ev, (hash, payload), before, false, out);
                return Err(Rejection::new(
                    r.code,
                    format!("{}; too many early events to wait for", r.detail),
                ));
            }
            self.early.hold(ev.clone(), payload, origin(), r);
            return Ok(Applied::Held);
        }
        self.settle(ev, (hash, payload), before, true, out);
        self.release(ev, rules, out);
        Ok(Applied::Accepted)
    }

    /// The complaint's version and whether it was final, before a change.
    fn state_of(&self, id: &str) -> Option<(u64, bool)> {
        self.complaints
            .get(id)
            .map(|c| (c.version, c.status.is_final()))
    }

    /// Applies `ev`, or leaves everything as it was and says why not.
    fn attempt(
        &mut self,
        ev: &Event,
        rules: &dyn Rules,
        out: &mut Effects,
    ) -> Result<(), Rejection> {
        let at = ev.at();
        match self.complaints.get_mut(ev.complaint_id.as_str()) {
            None => {
                let c = lifecycle::receive(ev, rules, &mut self.names, out)?;
                self.complaints.insert(c.id.clone(), Box::new(c));
                Ok(())
            }
            Some(c) => {
                // The complaint's timers due before the event fire first; if
                // the event is then refused, they never fired: a refused
                // event moves no clock. (A copy only when one is due.)
                let due = super::clocks::next_due(c).map(|(d, _)| d);
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
                applied
            }
        }
    }

    /// Book-keeping after `ev` was applied or finally refused: a refused
    /// event is remembered too, so that redelivered it is ignored rather
    /// than judged again against a later state (another reason).
    fn settle(
        &mut self,
        ev: &Event,
        (hash, payload): (u64, u64),
        before: Option<(u64, bool)>,
        accepted: bool,
        out: &mut Effects,
    ) {
        let Some(c) = self.complaints.get_mut(ev.complaint_id.as_str()) else {
            self.refused_unknown.insert(unknown_key(ev, hash, payload));
            return;
        };
        c.seen.push(SeenEvent {
            id: hash,
            payload,
            accepted,
        });
        c.version += 1;
        if accepted {
            c.updated_at = c.updated_at.max(ev.at());
        }
        if before.map(|b| b.0) != Some(c.version) {
            out.changed.push(c.id.clone());
        }
        if c.status.is_final() && before.is_some_and(|b| !b.1) {
            self.closed.push_back((c.updated_at, c.id.clone()));
        }
        Self::reschedule(&mut self.timers, c);
    }

    /// Applies the held events of complaint `id` that its latest change
    /// (`trigger`, just accepted) made valid, in event-time order, until
    /// none is. A held event dated before the step it waited for did not
    /// come early: it contradicts that step, and is refused.
    fn release(&mut self, trigger: &Event, rules: &dyn Rules, out: &mut Effects) {
        let id = trigger.complaint_id.as_str();
        let mut last = (trigger.at(), trigger.type_name());
        while self.early.holds_for(id) {
            let mut waiting = Vec::new();
            let mut progressed = false;
            for mut h in self.early.take(id) {
                let known = self.complaints.get(id).map(|c| c.as_ref());
                if lifecycle::comes_early(known, &h.event) {
                    waiting.push(h);
                    continue;
                }
                let hash = event_hash(&h.event.event_id);
                let before = self.state_of(id);
                let outcome = if h.event.at() < last.0 {
                    Err(Rejection::new(
                        h.rejection.code,
                        format!(
                            "`{}` at {} is dated before `{}` at {}, the step of complaint `{id}` it follows",
                            h.event.type_name(),
                            h.event.occurred_at.to_rfc3339(),
                            last.1,
                            last.0.to_rfc3339(),
                        ),
                    ))
                } else {
                    self.attempt(&h.event, rules, out)
                };
                match outcome {
                    Err(r) if lifecycle::comes_early(self.complaint(id), &h.event) => {
                        h.rejection = r;
                        waiting.push(h);
                    }
                    outcome => {
                        if outcome.is_ok() {
                            progressed = true;
                            last = (h.event.at(), h.event.type_name());
                        }
                        self.settle(&h.event, (hash, h.payload), before, outcome.is_ok(), out);
                        out.released.push(Released {
                            event: h.event,
                            origin: h.origin,
                            outcome,
                        });
                    }
                }
            }
            self.early.put_back(waiting);
            if !progressed {
                return;
            }
        }
    }

    /// Refuses the held events dated before `horizon` (all with `None`):
    /// the events they wait for did not come within the allowed lateness.
    fn give_up_before(&mut self, horizon: Option<Timestamp>, out: &mut Effects) {
        for h in self.early.overdue(horizon) {
            let hash = event_hash(&h.event.event_id);
            let before = self.state_of(&h.event.complaint_id);
            self.settle(&h.event, (hash, h.payload), before, false, out);
            let r = h.rejection;
            out.released.push(Released {
                outcome: Err(Rejection::new(
                    r.code,
                    format!(
                        "{}; it waited for the complaint's earlier events, which did not come within the allowed lateness",
                        r.detail
                    ),
                )),
                event: h.event,
                origin: h.origin,
            });
        }
    }

    /// The input is complete (end of a replay): held events wait no more.
    pub fn end_of_input(&mut self, out: &mut Effects) {
        self.give_up_before(None, out);
    }

    /// Events held for their predecessors.
    pub fn held(&self) -> usize {
        self.early.len()
    }

    /// The earliest source position of a held event: live mode commits no
    /// offset past it, so a restart reads it again.
    pub fn earliest_held_position(&self) -> Option<i64> {
        self.early.earliest_position()
    }

    /// Fires every timer due strictly before `now`: a deadline is breached
    /// only once the clock is past it, so ending exactly at it is `met` (the
    /// same rule for events, `replay --until` and the wall clock). Replay
    /// calls it with each event's time and with the end time; live mode
    /// with the wall clock.
    pub fn advance(&mut self, now: Timestamp, out: &mut Effects) {
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
        self.give_up_before(Some(now), out);
    }

    fn reschedule(timers: &mut TimerIndex, c: &mut Complaint) {
        let next = super::clocks::next_due(c).map(|(d, _)| d.at());
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
    /// Boxed as the engine keeps it: a restart of a million complaints
    /// moves pointers, not 400-byte states, from the read map into the engine.
    pub fn restore(&mut self, mut c: Box<Complaint>) {
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
