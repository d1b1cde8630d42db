//! SLA clocks: targets, deadlines, warnings, breaches, extensions.

use crate::model::{Priority, SlaEvent, SlaKind, Stage, Timestamp};
use chrono::TimeDelta;
use std::fmt::Write;

/// Targets per stage and priority, and when to warn. Admins edit it in
/// `rules/sla.toml`; `crate::rules::policy` loads and validates it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    /// Seconds, indexed `[stage][priority]`; 0 for `respond` of a priority
    /// without a first-answer target.
    pub targets: [[u64; 3]; Stage::COUNT],
    /// Share of the target after which `warning` fires, in (0, 1).
    pub warning_share: f64,
    /// How far an event's time may lie ahead of the wall clock, in seconds:
    /// adapters' clocks drift, but a later time is refused as `future_event`.
    pub max_clock_skew: u64,
    /// How late evidence may arrive, in seconds: a timer of one complaint
    /// fires only once the clock is this far past it, so an event delivered
    /// out of order within it still counts. Its `at` stays the due time.
    pub lateness: u64,
    /// Events dated before this are refused (`out_of_range`): a broken
    /// clock, or data older than anyone acts on.
    pub earliest_event_time: Timestamp,
    /// Input records larger than this many bytes are refused (`too_large`).
    pub max_event_bytes: usize,
    /// The share of each stage's runs that should end in time, in percent
    /// (0–100], indexed by stage: what the report colours compliance
    /// against. The clocks do not use it.
    pub compliance_targets: [f64; Stage::COUNT],
}

/// The longest target or extension: a stage's clock runs at most a year.
pub const MAX_TARGET_SECS: u64 = 366 * 86_400;

/// The largest `max_event_bytes`: what any record derived from an event
/// (state, dead letter) needs must stay well inside a broker's default
/// 1 MB message limit.
pub const MAX_EVENT_BYTES_LIMIT: usize = 512 * 1024;

impl Default for SlaPolicy {
    /// The regulation's targets (docs/contract.md "SLA policy").
    fn default() -> Self {
        const M: u64 = 60;
        const H: u64 = 3600;
        SlaPolicy {
            targets: [
                [10 * M, 10 * M, 10 * M],
                [30 * M, 30 * M, 30 * M],
                [0, 12 * H, H],
                [24 * H, 24 * H, 24 * H],
                [H, H, H],
                [30 * M, 30 * M, 30 * M],
            ],
            warning_share: 0.8,
            max_clock_skew: 5 * M,
            lateness: 5 * M,
            earliest_event_time: chrono::DateTime::from_timestamp(946_684_800, 0)
                .expect("2000-01-01 is a valid time"),
            max_event_bytes: 256 * 1024,
            // Percent per stage: acknowledging is quick and rarely missed;
            // handling depends on field work.
            compliance_targets: [98.0, 95.0, 95.0, 90.0, 95.0, 95.0],
        }
    }
}

impl SlaPolicy {
    /// Target of a stage for a priority, in seconds (0: no such clock).
    pub fn target(&self, stage: Stage, priority: Priority) -> u64 {
        self.targets[stage.index()][priority.index()]
    }

    /// The compliance target of a stage, in percent.
    pub fn compliance_target(&self, stage: Stage) -> f64 {
        self.compliance_targets[stage.index()]
    }
}

/// The running stage of a complaint. At most one stage runs at a time.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageClock {
    pub stage: Stage,
    #[serde(with = "crate::model::time")]
    pub started_at: Timestamp,
    #[serde(with = "crate::model::time")]
    pub deadline: Timestamp,
    #[serde(with = "crate::model::time")]
    pub warn_at: Timestamp,
    pub warned: bool,
    pub breached: bool,
    /// Approved extensions so far.
    pub extensions: u8,
    /// `until` of an extension request awaiting the group's decision.
    #[serde(default, with = "crate::model::time::option")]
    pub pending_extension: Option<Timestamp>,
}

/// The next thing a clock will do on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Warning(Timestamp),
    Breach(Timestamp),
}

impl Due {
    pub fn at(self) -> Timestamp {
        match self {
            Due::Warning(t) | Due::Breach(t) => t,
        }
    }
}

/// `start + share × (deadline − start)`, to the millisecond.
pub fn warning_time(start: Timestamp, deadline: Timestamp, share: f64) -> Timestamp {
    let span = (deadline - start).num_milliseconds().max(0) as f64;
    TimeDelta::try_milliseconds((span * share).round() as i64)
        .and_then(|d| start.checked_add_signed(d))
        .unwrap_or(deadline)
}

impl StageClock {
    /// A clock that starts now with a target in seconds.
    pub fn start(stage: Stage, at: Timestamp, target_secs: u64, share: f64) -> StageClock {
        let deadline = super::clock::saturating_after(at, target_secs);
        StageClock {
            stage,
            started_at: at,
            deadline,
            warn_at: warning_time(at, deadline, share),
            warned: false,
            breached: false,
            extensions: 0,
            pending_extension: None,
        }
    }

    /// The next timer of this clock, if any.
    pub fn next_due(&self) -> Option<Due> {
        if self.breached {
            None
        } else if !self.warned && self.warn_at < self.deadline {
            Some(Due::Warning(self.warn_at))
        } else {
            Some(Due::Breach(self.deadline))
        }
    }

    /// Moves the deadline. An extension re-arms the warning for the new
    /// deadline (its id carries the extension count); a re-prioritisation
    /// does not warn twice. A warning time already behind `now` never fires.
    pub fn move_deadline(
        &mut self,
        deadline: Timestamp,
        now: Timestamp,
        share: f64,
        rearm_warning: bool,
    ) {
        self.deadline = deadline;
        self.warn_at = warning_time(self.started_at, deadline, share);
        self.warned = (self.warned && !rearm_warning) || self.warn_at <= now;
    }
}

/// Builds SLA events with deterministic ids for one complaint.
pub struct SlaEmitter<'a> {
    pub complaint_id: &'a str,
    pub cycle: u32,
    pub priority: Priority,
    pub lead_department: &'a str,
}

impl SlaEmitter<'_> {
    /// An event about `clock`; `detail` tells apart repeats of one kind.
    pub fn event(
        &self,
        clock: &StageClock,
        kind: SlaKind,
        at: Timestamp,
        detail: Option<&str>,
    ) -> SlaEvent {
        // Built by hand: `format!` of these parts cost 6 % of a replay.
        let (stage, kind_name) = (clock.stage.as_str(), kind.as_str());
        let mut event_id = String::with_capacity(
            self.complaint_id.len()
                + stage.len()
                + kind_name.len()
                + 16
                + detail.map_or(0, str::len),
        );
        event_id.push_str(self.complaint_id);
        // Writing into a String cannot fail.
        let _ = write!(event_id, ":{}:", self.cycle);
        event_id.push_str(stage);
        event_id.push(':');
        event_id.push_str(kind_name);
        if let Some(d) = detail {
            event_id.push(':');
            event_id.push_str(d);
        }
        SlaEvent {
            event_id,
            complaint_id: self.complaint_id.to_string(),
            stage: clock.stage,
            cycle: self.cycle,
            kind,
            deadline: clock.deadline,
            at,
            priority: self.priority,
            lead_department: self.lead_department.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn default_policy_matches_the_regulation() {
        let p = SlaPolicy::default();
        assert_eq!(p.target(Stage::Acknowledge, Priority::General), 600);
        assert_eq!(p.target(Stage::Handle, Priority::General), 86_400);
        assert_eq!(p.target(Stage::Handle, Priority::Urgent), 86_400);
        assert_eq!(p.target(Stage::Respond, Priority::General), 0);
        assert_eq!(p.target(Stage::Respond, Priority::Important), 43_200);
        assert_eq!(p.target(Stage::Respond, Priority::Urgent), 3_600);
        assert_eq!(p.target(Stage::Confirm, Priority::Urgent), 1_800);
    }

    #[test]
    fn clock_warns_then_breaches() {
        let mut c = StageClock::start(Stage::Acknowledge, t("2026-01-01T00:00:00Z"), 600, 0.8);
        assert_eq!(c.next_due(), Some(Due::Warning(t("2026-01-01T00:08:00Z"))));
        c.warned = true;
        assert_eq!(c.next_due(), Some(Due::Breach(t("2026-01-01T00:10:00Z"))));
        c.breached = true;
        assert_eq!(c.next_due(), None);
    }

    proptest! {
        #[test]
        fn warning_lies_within_the_target(start_s in 0i64..4_000_000_000, target in 1u64..10_000_000, share in 0.01f64..0.99) {
            let start = Timestamp::from_timestamp(start_s, 0).unwrap();
            let c = StageClock::start(Stage::Handle, start, target, share);
            prop_assert_eq!((c.deadline - start).num_seconds() as u64, target);
            prop_assert!(c.warn_at >= start && c.warn_at <= c.deadline);
            let expected = (target as f64 * 1000.0 * share).round() as i64;
            prop_assert!(((c.warn_at - start).num_milliseconds() - expected).abs() <= 1);
        }

        #[test]
        fn moving_the_deadline_keeps_warning_order(start_s in 0i64..4_000_000_000, target in 1u64..1_000_000, extra in 1i64..1_000_000, now_off in 0i64..2_000_000) {
            let start = Timestamp::from_timestamp(start_s, 0).unwrap();
            let mut c = StageClock::start(Stage::Handle, start, target, 0.8);
            let now = start + TimeDelta::seconds(now_off.min(target as i64));
            let new_deadline = c.deadline + TimeDelta::seconds(extra);
            c.move_deadline(new_deadline, now, 0.8, true);
            prop_assert_eq!(c.deadline, new_deadline);
            prop_assert!(c.warn_at <= c.deadline);
            // A warning never becomes due in the past.
            if let Some(Due::Warning(w)) = c.next_due() { prop_assert!(w > now); }
        }
    }
}
