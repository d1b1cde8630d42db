//! The event step replay and live mode share: one input record in, bounded
//! and parsed, applied on the stream's event-time clock, outputs out. Only
//! the wall-clock reading comes from outside.

use super::clock::{Clock, EventTimeClock, seconds_after, seconds_before};
use super::decision::Rules;
use super::early::Origin;
use super::engine::{Applied, Engine, payload_hash};
use super::outputs::Outputs;
use super::refusal::{RejectCode, Rejection, refuse_future};
use super::sla::{MAX_TARGET_SECS, SlaPolicy};
use crate::model::event::EventBody;
use crate::model::{Event, ParseError, Timestamp};
use chrono::{DateTime, FixedOffset};

/// What became of one input record.
#[derive(Debug)]
pub struct Taken {
    /// The parsed event, when it parsed.
    pub event: Option<Event>,
    pub result: Result<Applied, Rejection>,
}

/// One stream's engine and event-time clock (a replay, or one partition).
#[derive(Debug, Default)]
pub struct Stream {
    pub engine: Engine,
    pub clock: EventTimeClock,
}

impl Stream {
    /// A stream whose clock starts at `watermark` (restored state).
    pub fn new(engine: Engine, watermark: Option<Timestamp>) -> Stream {
        let mut clock = EventTimeClock::default();
        if let Some(w) = watermark {
            clock.observe(w);
        }
        Stream { engine, clock }
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
    /// (`internal_error`).
    pub fn take(
        &mut self,
        payload: &[u8],
        position: i64,
        source: &dyn Fn() -> String,
        wall: Timestamp,
        rules: &dyn Rules,
        out: &mut Outputs,
    ) -> Taken {
        let policy = rules.policy();
        let (text, ev) = match admit(payload, wall, policy) {
            Ok(admitted) => admitted,
            Err(r) => {
                return Taken {
                    event: None,
                    result: Err(r),
                };
            }
        };
        let origin = || Origin {
            payload: text.to_string(),
            source: source(),
            position,
        };
        let engine = &mut self.engine;
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine.process(&ev, payload_hash(payload), origin, rules, out)
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
            for r in out.released.iter().filter(|r| r.outcome.is_ok()) {
                self.clock.observe(r.event.at());
            }
            let now = self.clock.now().unwrap_or(wall);
            self.engine
                .advance(seconds_before(now, policy.lateness), out);
        }
        Taken {
            event: Some(ev),
            result,
        }
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
