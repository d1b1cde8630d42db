//! A channel's rate limit as the platforms state it: at most N requests in
//! any 60 seconds. A burst that would not fit is folded into one digest
//! rather than held back or dropped. A quarter of the window is kept for
//! digests, paced one per 60/N s, so that a burst arriving slowly does not
//! spend every request on single messages and then wait a minute. Pure:
//! instants are passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub const SPAN: Duration = Duration::from_secs(60);

/// The send times of the last 60 s.
#[derive(Debug, Default)]
pub struct Window {
    /// Requests allowed in any [`SPAN`]; 0: no limit.
    per_minute: u32,
    sent: VecDeque<Instant>,
}

/// How a batch of queued notices goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// One request each: the window has room for all.
    Singles,
    /// One digest request for all.
    Digest,
}

impl Window {
    pub fn new(per_minute: u32) -> Window {
        Window {
            per_minute,
            sent: VecDeque::new(),
        }
    }

    /// Follows a reloaded limit; the sends already made still count.
    pub fn set_limit(&mut self, per_minute: u32) {
        self.per_minute = per_minute;
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some(&first) = self.sent.front() {
            if now.saturating_duration_since(first) >= SPAN {
                self.sent.pop_front();
            } else {
                break;
            }
        }
    }

    /// Requests that may go now.
    pub fn free(&mut self, now: Instant) -> usize {
        if self.per_minute == 0 {
            return usize::MAX;
        }
        self.forget_old(now);
        (self.per_minute as usize).saturating_sub(self.sent.len())
    }

    /// How long until a request may go (zero when one may now).
    pub fn wait(&mut self, now: Instant) -> Duration {
        if self.free(now) > 0 {
            return Duration::ZERO;
        }
        // Full: the oldest send leaves the window first.
        let oldest = self.sent.front().copied().unwrap_or(now);
        (oldest + SPAN).saturating_duration_since(now)
    }

    /// Records a request sent at `now`.
    pub fn take(&mut self, now: Instant) {
        if self.per_minute > 0 {
            self.forget_old(now);
            self.sent.push_back(now);
        }
    }

    /// Requests kept for digests: a quarter of the window.
    fn reserve(&self) -> usize {
        (self.per_minute as usize) / 4
    }

    /// Within the reserve, how long to gather before the next digest (one
    /// per 60/N s after the last send); zero outside it.
    pub fn pace(&mut self, now: Instant) -> Duration {
        if self.per_minute == 0 || self.free(now) > self.reserve() {
            return Duration::ZERO;
        }
        let gap = SPAN / self.per_minute;
        let last = self.sent.back().copied().unwrap_or(now);
        (last + gap).saturating_duration_since(now)
    }

    /// Singles while the window, less its reserve, has room for every
    /// queued notice; else one digest.
    pub fn plan(&mut self, queued: usize, now: Instant) -> Plan {
        let free = self.free(now);
        let room = free.saturating_sub(self.reserve());
        if queued <= room || (queued == 1 && free > 0) {
            Plan::Singles
        } else {
            Plan::Digest
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the arrivals, following `wait` never sends more than the
        /// limit within any 60 s.
        #[test]
        fn never_more_than_the_limit_in_any_minute(
            limit in 1u32..30,
            gaps_ms in proptest::collection::vec(0u64..5_000, 1..300),
        ) {
            let start = Instant::now();
            let mut w = Window::new(limit);
            let mut now = start;
            let mut sent = Vec::new();
            for gap in gaps_ms {
                now += Duration::from_millis(gap);
                now += w.wait(now);
                w.take(now);
                sent.push(now);
            }
            for (i, &t) in sent.iter().enumerate() {
                let within = sent[i..].iter().take_while(|&&u| u - t < SPAN).count();
                prop_assert!(within <= limit as usize, "{} sends within 60 s of one", within);
            }
        }
    }

    #[test]
    fn a_burst_beyond_the_room_is_one_digest() {
        let now = Instant::now();
        let mut w = Window::new(20);
        assert_eq!(w.plan(15, now), Plan::Singles);
        assert_eq!(
            w.plan(16, now),
            Plan::Digest,
            "five requests kept for digests"
        );
        assert_eq!(w.pace(now), Duration::ZERO);
        for _ in 0..15 {
            w.take(now);
        }
        assert_eq!(w.plan(2, now), Plan::Digest);
        assert_eq!(w.pace(now), Duration::from_secs(3), "one digest per 3 s");
        for _ in 0..4 {
            w.take(now);
        }
        assert_eq!(w.plan(1, now), Plan::Singles);
        w.take(now);
        assert_eq!(w.wait(now), SPAN);
        assert_eq!(w.wait(now + SPAN), Duration::ZERO);
        assert_eq!(Window::new(0).plan(1000, now), Plan::Singles, "no limit");
    }
}
