//! Refused input: why an event was refused, the future guard, and the
//! bounded memory of refused events of unknown complaints.

use crate::model::{Event, Timestamp};
use std::collections::{HashSet, VecDeque};

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
    /// Not UTF-8 text, or not JSON at all.
    Unparsable,
    /// JSON, but not an event of the contract (a field missing, of the
    /// wrong type or form, an unknown type).
    InvalidEvent,
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
    /// A time outside the accepted range (before `earliest_event_time`, an
    /// extension too far ahead).
    OutOfRange,
    /// Larger than allowed: the payload, a field, or a complaint's events.
    TooLarge,
    /// Processing the event failed inside complaintflow (a bug); the
    /// stream goes on without it.
    InternalError,
    /// The `event_id` of an accepted event with other content: a resend
    /// that is not a redelivery.
    ConflictingEvent,
}

impl RejectCode {
    pub const ALL: [RejectCode; 12] = [
        RejectCode::Unparsable,
        RejectCode::InvalidEvent,
        RejectCode::UnknownComplaint,
        RejectCode::AlreadyReceived,
        RejectCode::InvalidTransition,
        RejectCode::ComplaintClosed,
        RejectCode::InvalidExtension,
        RejectCode::FutureEvent,
        RejectCode::OutOfRange,
        RejectCode::TooLarge,
        RejectCode::InternalError,
        RejectCode::ConflictingEvent,
    ];

    /// The code named `code` ([`RejectCode::as_str`]).
    pub fn named(code: &str) -> Option<RejectCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::Unparsable => "unparsable",
            RejectCode::InvalidEvent => "invalid_event",
            RejectCode::UnknownComplaint => "unknown_complaint",
            RejectCode::AlreadyReceived => "already_received",
            RejectCode::InvalidTransition => "invalid_transition",
            RejectCode::ComplaintClosed => "complaint_closed",
            RejectCode::InvalidExtension => "invalid_extension",
            RejectCode::FutureEvent => "future_event",
            RejectCode::OutOfRange => "out_of_range",
            RejectCode::TooLarge => "too_large",
            RejectCode::InternalError => "internal_error",
            RejectCode::ConflictingEvent => "conflicting_event",
        }
    }
}

impl RejectCode {
    /// The Chinese name, for people (the report).
    pub fn zh(self) -> &'static str {
        match self {
            RejectCode::Unparsable => "无法解析",
            RejectCode::InvalidEvent => "字段无效",
            RejectCode::UnknownComplaint => "投诉不存在",
            RejectCode::AlreadyReceived => "重复受理",
            RejectCode::InvalidTransition => "状态顺序错误",
            RejectCode::ComplaintClosed => "投诉已结束",
            RejectCode::InvalidExtension => "延期无效",
            RejectCode::FutureEvent => "时间在未来",
            RejectCode::OutOfRange => "时间过早",
            RejectCode::TooLarge => "记录过大",
            RejectCode::InternalError => "内部错误",
            RejectCode::ConflictingEvent => "事件冲突",
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

/// The last [`RecentSet::CAPACITY`] hashes inserted: a bounded memory.
#[derive(Debug, Default)]
pub(super) struct RecentSet {
    order: VecDeque<u64>,
    members: HashSet<u64>,
}

impl RecentSet {
    /// 65,536 ids take about 2 MiB per engine (one per partition) when full:
    /// a ring and a hash table of 131,072 slots of 8-byte ids each; an
    /// adapter redelivers within seconds, far fewer refusals than that.
    const CAPACITY: usize = 1 << 16;

    pub fn contains(&self, h: u64) -> bool {
        self.members.contains(&h)
    }

    pub fn insert(&mut self, h: u64) {
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
