//! Where "now" comes from: event time in replay, the wall clock when live.

use crate::model::Timestamp;

/// A clock reading source for the drivers.
pub trait Clock {
    /// Tells the clock an event's time was seen.
    fn observe(&mut self, event_time: Timestamp);
    /// The current reading; `None` before anything is known.
    fn now(&self) -> Option<Timestamp>;
}

/// Replay clock: the watermark is the latest `occurred_at` seen.
#[derive(Debug, Default, Clone)]
pub struct EventTimeClock {
    watermark: Option<Timestamp>,
}

impl Clock for EventTimeClock {
    fn observe(&mut self, event_time: Timestamp) {
        if self.watermark.is_none_or(|w| event_time > w) {
            self.watermark = Some(event_time);
        }
    }
    fn now(&self) -> Option<Timestamp> {
        self.watermark
    }
}

fn seconds(secs: u64) -> Option<chrono::TimeDelta> {
    chrono::TimeDelta::try_seconds(i64::try_from(secs).ok()?)
}

/// `now − secs`, or the earliest time should that underflow: how far timers
/// may fire when evidence may arrive `secs` late, or where a retention ends.
pub fn seconds_before(now: Timestamp, secs: u64) -> Timestamp {
    seconds(secs)
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}

/// `now + secs`; `None` past the end of time.
pub fn seconds_after(now: Timestamp, secs: u64) -> Option<Timestamp> {
    now.checked_add_signed(seconds(secs)?)
}

/// `now + secs`, or the end of time should that overflow. Inputs are
/// bounded so that it never does; this only keeps arithmetic from panicking.
pub fn saturating_after(now: Timestamp, secs: u64) -> Timestamp {
    seconds_after(now, secs).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// Live clock: the machine's UTC time.
#[derive(Debug, Default, Clone)]
pub struct WallClock;

impl Clock for WallClock {
    fn observe(&mut self, _event_time: Timestamp) {}
    fn now(&self) -> Option<Timestamp> {
        Some(chrono::Utc::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_never_moves_back() {
        let mut c = EventTimeClock::default();
        assert_eq!(c.now(), None);
        let t1 = "2026-01-01T10:00:00Z".parse().unwrap();
        let t0 = "2026-01-01T09:00:00Z".parse().unwrap();
        c.observe(t1);
        c.observe(t0);
        assert_eq!(c.now(), Some(t1));
    }
}
