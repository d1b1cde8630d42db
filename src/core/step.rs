//! The event step replay and live mode share: one input record in, bounded
//! and parsed, applied on the stream's event-time clock, outputs out. Only
//! the wall-clock reading comes from outside.

use super::clock::{Clock, EventTimeClock, seconds_after, seconds_before};
use super::decision::Rules;
use super::early::Origin;
use super::engine::{Applied, Engine, payload_hash};
use super::outputs::{Accepted, Effects, Output, Refused};
use super::refusal::{RejectCode, Rejection, refuse_future};
use super::sla::{MAX_TARGET_SECS, SlaPolicy};
use crate::model::event::EventBody;
use crate::model::{DeadLetter, Event, ParseError, Timestamp};
use chrono::{DateTime, FixedOffset};

/// One stream's engine and event-time clock (a replay, or one partition).
///
/// Invariant: every input record taken yields exactly one of an
/// [`Output::Event`] (now or once released), a [`Output::DeadLetter`], or
/// nothing for a redelivery; the outputs of a call are complete when it
/// returns (the engine's working buffer is empty between calls).
#[derive(Debug, Default)]
pub struct Stream {
    pub engine: Engine,
    pub clock: EventTimeClock,
    effects: Effects,
}

impl Stream {
    /// A stream whose clock starts at `watermark` (restored state).
    pub fn new(engine: Engine, watermark: Option<Timestamp>) -> Stream {
        let mut clock = EventTimeClock::default();
        if let Some(w) = watermark {
            clock.observe(w);
        }
        Stream {
            engine,
            clock,
            effects: Effects::default(),
        }
    }

    /// The clock a dead letter carries: the stream's event time, or the
    /// wall clock before any event was accepted.
    pub fn judged_at(&self, wall: Timestamp) -> Timestamp {
        self.clock.now().unwrap_or(wall)
    }

    /// Takes one input record: bounds, parsing, the time checks against
    /// `wall` (the wall clock), the lifecycle. Only accepted evidence moves
    /// the clock; other complaints' timers then fire `lateness` behind it.
    /// A panic inside the lifecycle or the rules costs this event only
    /// (`internal_error`). `position` is the record's place in its source
    /// (offset, line): the complaint remembers it, so that it is kept until
    /// the record is committed.
    pub fn take(
        &mut self,
        payload: &[u8],
        position: i64,
        source: &dyn Fn() -> String,
        wall: Timestamp,
        rules: &dyn Rules,
        out: &mut Vec<Output>,
    ) -> Result<Applied, RejectCode> {
        let policy = rules.policy();
        let (text, ev) = match admit(payload, wall, policy) {
            Ok(admitted) => admitted,
            Err(r) => {
                let code = r.code;
                out.push(self.dead_letter(payload, r, None, source(), wall));
                return Err(code);
            }
        };
        let origin = || Origin {
            payload: text.to_string(),
            source: source(),
            position,
        };
        let engine = &mut self.engine;
        let effects = &mut self.effects;
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine.process(&ev, payload_hash(payload), origin, rules, effects)
        }));
        let result = step.unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Rejection::new(
                RejectCode::InternalError,
                format!("processing failed inside complaintflow: {what}"),
            ))
        });
        if let Ok(Applied::Accepted) = result {
            self.clock.observe(ev.at());
            for r in self.effects.released.iter().filter(|r| r.outcome.is_ok()) {
                self.clock.observe(r.event.at());
            }
            let now = self.clock.now().unwrap_or(wall);
            self.engine
                .advance(seconds_before(now, policy.lateness), &mut self.effects);
        }
        let noted = self.engine.note_input(&ev.complaint_id, position);
        let applied = match result {
            Ok(Applied::Accepted) => {
                out.push(Output::Event(Accepted {
                    payload: text.to_string(),
                    source: source(),
                    waited: false,
                    event: ev,
                }));
                Ok(Applied::Accepted)
            }
            Ok(other) => Ok(other),
            Err(r) => {
                let code = r.code;
                let id = Some(ev.complaint_id);
                out.push(self.dead_letter(payload, r, id, source(), wall));
                Err(code)
            }
        };
        self.flush(wall, out);
        out.extend(noted.map(Output::Changed));
        applied
    }

    /// Fires the timers due before `horizon`; dead letters (held events
    /// refused at last) are judged at `wall`.
    pub fn advance(&mut self, horizon: Timestamp, wall: Timestamp, out: &mut Vec<Output>) {
        self.engine.advance(horizon, &mut self.effects);
        self.flush(wall, out);
    }

    /// The input is complete: the events still waiting for earlier ones
    /// are refused.
    pub fn end_of_input(&mut self, wall: Timestamp, out: &mut Vec<Output>) {
        self.engine.end_of_input(&mut self.effects);
        self.flush(wall, out);
    }

    fn dead_letter(
        &self,
        payload: &[u8],
        r: Rejection,
        complaint_id: Option<String>,
        source: String,
        wall: Timestamp,
    ) -> Output {
        let letter = DeadLetter::new(payload, r.to_string(), source, self.judged_at(wall));
        Output::DeadLetter(Refused {
            code: r.code,
            complaint_id,
            letter,
        })
    }

    /// Moves the engine's effects into `out`: decisions, SLA events, then
    /// the held events decided, then the complaints changed.
    fn flush(&mut self, wall: Timestamp, out: &mut Vec<Output>) {
        let e = &mut self.effects;
        out.extend(e.decisions.drain(..).map(Output::Decision));
        out.extend(e.sla.drain(..).map(Output::Sla));
        for r in std::mem::take(&mut e.released) {
            out.push(match r.outcome {
                Ok(()) => Output::Event(Accepted {
                    event: r.event,
                    payload: r.origin.payload,
                    source: r.origin.source,
                    waited: true,
                }),
                Err(rejection) => self.dead_letter(
                    r.origin.payload.as_bytes(),
                    rejection,
                    Some(r.event.complaint_id),
                    r.origin.source,
                    wall,
                ),
            });
        }
        out.extend(self.effects.changed.drain(..).map(Output::Changed));
    }
}

/// Checks one record before the lifecycle sees it: its size, its text, the
/// contract, and every time in it against the accepted range.
pub fn admit<'p>(
    payload: &'p [u8],
    wall: Timestamp,
    policy: &SlaPolicy,
) -> Result<(&'p str, Event), Rejection> {
    if payload.is_empty() {
        return Err(Rejection::new(RejectCode::Unparsable, "empty message"));
    }
    if payload.len() > policy.max_event_bytes {
        return Err(Rejection::new(
            RejectCode::TooLarge,
            format!(
                "the event has {} bytes, more than max_event_bytes ({})",
                payload.len(),
                policy.max_event_bytes
            ),
        ));
    }
    let text = std::str::from_utf8(payload)
        .map_err(|_| Rejection::new(RejectCode::Unparsable, "not UTF-8 text"))?;
    let ev = Event::from_json(text).map_err(|e| {
        let code = match e {
            ParseError::TooLarge { .. } => RejectCode::TooLarge,
            ParseError::Json(_) => RejectCode::Unparsable,
            _ => RejectCode::InvalidEvent,
        };
        Rejection::new(code, e.to_string())
    })?;
    check_times(&ev, wall, policy)?;
    Ok((text, ev))
}

/// Every time of an event within its range: not before
/// `earliest_event_time`, not later than the wall clock plus
/// `max_clock_skew` (extensions: not more than a year after the event).
fn check_times(ev: &Event, wall: Timestamp, policy: &SlaPolicy) -> Result<(), Rejection> {
    let early = |field: &str, t: &DateTime<FixedOffset>| {
        (t.to_utc() < policy.earliest_event_time).then(|| {
            Rejection::new(
                RejectCode::OutOfRange,
                format!(
                    "`{field}` {} is before earliest_event_time ({})",
                    t.to_rfc3339(),
                    policy.earliest_event_time.to_rfc3339()
                ),
            )
        })
    };
    if let Some(r) = early("occurred_at", &ev.occurred_at) {
        return Err(r);
    }
    refuse_future(ev, wall, policy.max_clock_skew)?;
    let latest_until = seconds_after(ev.at(), MAX_TARGET_SECS);
    let until = |t: &DateTime<FixedOffset>| {
        if let Some(r) = early("until", t) {
            return Err(r);
        }
        if latest_until.is_none_or(|l| t.to_utc() > l) {
            return Err(Rejection::new(
                RejectCode::OutOfRange,
                format!(
                    "`until` {} is more than 366 days after `occurred_at`",
                    t.to_rfc3339()
                ),
            ));
        }
        Ok(())
    };
    match &ev.body {
        EventBody::Received(r) => {
            if let Some(h) = &r.happened_at {
                if let Some(e) = early("happened_at", h) {
                    return Err(e);
                }
                if h.to_utc() > ev.at() {
                    return Err(Rejection::new(
                        RejectCode::OutOfRange,
                        format!(
                            "`happened_at` {} is later than `occurred_at` {}",
                            h.to_rfc3339(),
                            ev.occurred_at.to_rfc3339()
                        ),
                    ));
                }
            }
        }
        EventBody::ExtensionRequested(x) => until(&x.until)?,
        EventBody::ExtensionDecided(d) => {
            if let Some(t) = &d.until {
                until(t)?;
            }
        }
        _ => {}
    }
    Ok(())
}
