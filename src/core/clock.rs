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

/// How far timers may fire at clock reading `now` when evidence may arrive
/// `lateness_secs` late: `now − lateness` (the earliest time, should that
/// underflow).
pub fn timer_horizon(now: Timestamp, lateness_secs: u64) -> Timestamp {
    i64::try_from(lateness_secs)
        .ok()
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|l| now.checked_sub_signed(l))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
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
