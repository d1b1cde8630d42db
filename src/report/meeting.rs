//! Everything the meeting's page shows, computed from [`Rows`]: the
//! period's figures beside the previous period's, the trend over the last
//! periods, the breached and reopened complaints, the dead letters and the
//! at-risk list. Every figure is [`compute`]d by the one code path.

use super::figures::{Figures, Rows, compute};
use super::runs::Run;
use crate::model::{ComplaintRow, DeadLetter, Timestamp};
use chrono::{Datelike, NaiveDate, TimeDelta};

/// Local days `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period of the same length just before.
    pub fn previous(&self) -> Option<Period> {
        let to = self.from.pred_opt()?;
        let from = to.checked_sub_signed(TimeDelta::days(self.days() - 1))?;
        Some(Period { from, to })
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }
}

/// How many periods the trend shows (the period and those before it).
pub const TREND_PERIODS: i64 = 4;
/// Trends over more days than this go by week.
const DAILY_UP_TO: i64 = 62;
/// At most this many points (two years of weeks).
const MAX_POINTS: usize = 104;

/// The earliest local day the page needs when the period is `from..=to`:
/// the trend's first. Read this far back.
pub fn reach(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Option<NaiveDate> {
    let (from, to) = (from?, to?);
    let span = (Period { from, to }.days()).checked_mul(TREND_PERIODS)?;
    to.checked_sub_signed(TimeDelta::days(span - 1))
}

/// The page's content. Its lists borrow the rows: a year's page lists
/// hundreds of thousands of runs, of which it shows a few hundred.
#[derive(Debug)]
pub struct Meeting<'r> {
    /// `None` when the rows hold no complaint and no period was given.
    pub period: Option<Period>,
    /// The time open complaints are aged at.
    pub now: Timestamp,
    pub current: Figures,
    /// The previous period's figures, when it had complaints.
    pub previous: Option<Figures>,
    /// Daily or weekly points, oldest first.
    pub trend: Vec<(Period, Figures)>,
    pub weekly: bool,
    /// Runs breached in the period (by deadline), with their complaint.
    pub breached: Vec<Listed<'r>>,
    /// Complaints received in the period and reopened.
    pub reopened: Vec<&'r ComplaintRow>,
    /// The period's dead letters, newest first.
    pub dead_letters: Vec<&'r DeadLetter>,
    /// Runs past their warning and still running at `now`, by deadline.
    pub at_risk: Vec<Listed<'r>>,
}

/// A listed run with its complaint, when the rows read hold it.
pub type Listed<'r> = (&'r Run, Option<&'r ComplaintRow>);

/// The period: `from..=to` as given, an open end taken from the rows'
/// first or last day of receipt.
fn period_of(rows: &Rows, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Option<Period> {
    let days = rows
        .complaints
        .iter()
        .map(|c| c.received_at.with_timezone(&rows.zone).date_naive());
    let (first, last) = days.fold((None, None), |(lo, hi): (Option<NaiveDate>, _), d| {
        (
            Some(lo.map_or(d, |l| l.min(d))),
            Some(hi.map_or(d, |h: NaiveDate| h.max(d))),
        )
    });
    let period = Period {
        from: from.or(first)?,
        to: to.or(last)?,
    };
    (period.from <= period.to).then_some(period)
}

/// The trend's points: the last [`TREND_PERIODS`] periods when the period
/// was given, else the period itself; by day, or by week (Monday to
/// Sunday, the first one cut at the start) over longer spans.
fn trend_points(period: Period, given: bool, first_day: Option<NaiveDate>) -> (Vec<Period>, bool) {
    let mut start = match given {
        true => reach(Some(period.from), Some(period.to)).unwrap_or(period.from),
        false => period.from,
    };
    if let Some(first) = first_day {
        start = start.max(first.min(period.from));
    }
    let span = Period {
        from: start,
        to: period.to,
    };
    let weekly = span.days() > DAILY_UP_TO;
    let mut points = Vec::new();
    let mut day = span.from;
    while day <= span.to {
        let end = match weekly {
            true => day + TimeDelta::days(6 - i64::from(day.weekday().num_days_from_monday())),
            false => day,
        }
        .min(span.to);
        points.push(Period { from: day, to: end });
        let Some(next) = end.succ_opt() else { break };
        day = next;
    }
    let keep = points.len().saturating_sub(MAX_POINTS);
    (points.split_off(keep), weekly)
}

/// Computes the page's content for `from..=to` (open ends: the rows'
/// first and last day), open complaints aged at `now`.
pub fn meeting(
    rows: &Rows,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    now: Timestamp,
) -> Meeting<'_> {
    let Some(period) = period_of(rows, from, to) else {
        return Meeting {
            period: None,
            now,
            current: compute(rows, from, to, now),
            previous: None,
            trend: Vec::new(),
            weekly: false,
            breached: Vec::new(),
            reopened: Vec::new(),
            dead_letters: Vec::new(),
            at_risk: Vec::new(),
        };
    };
    let figures = |p: Period| compute(rows, Some(p.from), Some(p.to), now);
    // Only a period given whole has a previous one and a trend before it:
    // ClickHouse is read back that far only then (`reach`).
    let given = from.is_some() && to.is_some();
    let previous = period
        .previous()
        .filter(|_| given)
        .map(figures)
        .filter(|f| f.complaints > 0);
    let first_day = period_of(rows, None, None).map(|p| p.from);
    let (points, weekly) = trend_points(period, given, first_day);
    let local = |t: Timestamp| t.with_timezone(&rows.zone).date_naive();
    let by_id: std::collections::HashMap<&str, &ComplaintRow> = rows
        .complaints
        .iter()
        .map(|c| (c.complaint_id.as_str(), c))
        .collect();
    let complaint_of = |r: &Run| by_id.get(r.complaint_id.as_str()).copied();
    let mut dead_letters: Vec<&DeadLetter> = rows
        .dead_letters
        .iter()
        .filter(|d| period.contains(local(d.at)))
        .collect();
    dead_letters.sort_by(|a, b| (b.at, &b.source).cmp(&(a.at, &a.source)));
    Meeting {
        current: figures(period),
        previous,
        trend: points.into_iter().map(|p| (p, figures(p))).collect(),
        weekly,
        breached: rows
            .runs
            .iter()
            .filter(|r| r.breached && period.contains(local(r.deadline)))
            .map(|r| (r, complaint_of(r)))
            .collect(),
        reopened: rows
            .complaints
            .iter()
            .filter(|c| c.cycle > 0 && period.contains(local(c.received_at)))
            .collect(),
        dead_letters,
        at_risk: rows
            .runs
            .iter()
            .filter(|r| r.at_risk())
            .map(|r| (r, complaint_of(r)))
            .collect(),
        period: Some(period),
        now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: &str) -> NaiveDate {
        d.parse().unwrap()
    }

    #[test]
    fn previous_period_has_the_same_length_and_ends_the_day_before() {
        let p = Period {
            from: day("2026-11-23"),
            to: day("2026-11-29"),
        };
        let prev = p.previous().unwrap();
        assert_eq!((prev.from, prev.to), (day("2026-11-16"), day("2026-11-22")));
        assert_eq!(reach(Some(p.from), Some(p.to)), Some(day("2026-11-02")));
    }

    #[test]
    fn trends_go_by_day_for_a_week_and_by_week_for_a_quarter() {
        let week = Period {
            from: day("2026-11-23"),
            to: day("2026-11-29"),
        };
        let (points, weekly) = trend_points(week, true, Some(day("2026-11-05")));
        assert!(!weekly);
        // Four weeks back, but the data begin on the 5th.
        assert_eq!(points.len(), 25);
        assert_eq!(points[0].from, day("2026-11-05"));
        let quarter = Period {
            from: day("2026-10-01"),
            to: day("2026-12-31"),
        };
        let (points, weekly) = trend_points(quarter, false, None);
        assert!(weekly);
        // Thursday 1 Oct to Sunday 4 Oct, then Mondays to Sundays; the last
        // week is cut at Thursday 31 Dec.
        assert_eq!(
            (points[0].from, points[0].to),
            (day("2026-10-01"), day("2026-10-04"))
        );
        assert_eq!(points[1].from.weekday(), chrono::Weekday::Mon);
        assert_eq!(points.last().unwrap().to, day("2026-12-31"));
        let days: i64 = points.iter().map(Period::days).sum();
        assert_eq!(days, quarter.days(), "the points cover the span once");
    }
}
