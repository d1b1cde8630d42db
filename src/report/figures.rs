//! The figures of the analysis meeting's report, computed from output rows
//! (a replay directory, or the same rows read from ClickHouse): one code
//! path whatever the source. Days are local (a fixed offset; Beijing time
//! by default, which has no daylight saving).

use crate::model::output::{StageOutcome, Status};
use crate::model::{ComplaintRow, DeadLetter, SlaEvent, SlaKind, Stage, Timestamp};
use chrono::{FixedOffset, NaiveDate};
use std::collections::{BTreeMap, HashSet};

/// What the report is made from.
#[derive(Debug)]
pub struct Rows {
    /// The zone of every local day here (the SLA tallies' days) and of the
    /// report's days: fixed where the rows are read.
    pub zone: FixedOffset,
    pub complaints: Vec<ComplaintRow>,
    /// SLA events counted by local day and what the figures tell apart
    /// ([`tally_sla`]; ClickHouse counts them itself).
    pub sla: Vec<SlaTally>,
    pub dead_letters: Vec<DeadLetter>,
    /// Causes of accepted `complaint.handled` events: (complaint, time, cause).
    pub causes: Vec<Cause>,
    /// Runs breached or at risk ([`super::runs::runs_of`]), by deadline.
    pub runs: Vec<super::runs::Run>,
}

/// SLA events of one local day, stage, lead department and kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
pub struct SlaTally {
    pub day: NaiveDate,
    pub stage: Stage,
    pub lead_department: String,
    pub kind: SlaKind,
    /// The stage run's breach was retracted (late evidence).
    pub retracted: bool,
    /// An escalation because of a breach (`…:escalated:breach`).
    pub breach_escalation: bool,
    pub n: u64,
}

/// Counts `events` into tallies by local day in `zone`. A run counts as
/// retracted when any of `events` retracts it.
pub fn tally_sla(events: &[SlaEvent], zone: FixedOffset) -> Vec<SlaTally> {
    let retracted: HashSet<(&str, u32, Stage)> = events
        .iter()
        .filter(|e| e.kind == SlaKind::Retracted)
        .map(|e| (e.complaint_id.as_str(), e.cycle, e.stage))
        .collect();
    let mut counts: BTreeMap<SlaTally, u64> = BTreeMap::new();
    for e in events {
        let key = SlaTally {
            day: local_day(e.at, zone),
            stage: e.stage,
            lead_department: e.lead_department.clone(),
            kind: e.kind,
            retracted: retracted.contains(&(e.complaint_id.as_str(), e.cycle, e.stage)),
            breach_escalation: e.event_id.ends_with(":breach"),
            n: 0,
        };
        *counts.entry(key).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(t, n)| SlaTally { n, ..t })
        .collect()
}

/// The cause a department gave when handling ended.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Cause {
    pub complaint_id: String,
    #[serde(with = "crate::model::time")]
    pub occurred_at: Timestamp,
    pub cause: String,
    /// The complaint's category, when the source gives it with the cause
    /// (ClickHouse: the complaint may have been received before the period
    /// read); else looked up in the complaints read.
    #[serde(default)]
    pub category: Option<String>,
}

/// Met, breached and late runs of one group (net of retractions).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Compliance {
    pub met: u64,
    pub breached: u64,
    pub late: u64,
}

impl Compliance {
    /// Met over met + breached, in percent.
    pub fn pct(&self) -> Option<f64> {
        let n = self.met + self.breached;
        (n > 0).then(|| (self.met as f64 * 1000.0 / n as f64).round() / 10.0)
    }
}

/// The report's figures for one period of local days.
#[derive(Debug, Default)]
pub struct Figures {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub complaints: u64,
    pub by_day_channel: BTreeMap<(NaiveDate, String), u64>,
    pub by_category: BTreeMap<String, u64>,
    pub by_priority: BTreeMap<String, u64>,
    pub by_stage: BTreeMap<Stage, Compliance>,
    pub by_stage_lead: BTreeMap<(Stage, String), Compliance>,
    pub breaches_by_day_lead: BTreeMap<(NaiveDate, String), u64>,
    pub breaches: u64,
    pub escalations: u64,
    pub retractions: u64,
    pub confirmed: u64,
    pub first_time_satisfied: u64,
    pub final_satisfied: u64,
    pub reopened: u64,
    /// Open complaints by running stage and age bucket.
    pub ageing: BTreeMap<(Stage, &'static str), u64>,
    pub dead_by_reason: BTreeMap<String, u64>,
    pub dead_by_source: BTreeMap<String, u64>,
    /// The ten most frequent causes with their complaint's category.
    pub top_causes: Vec<(String, String, u64)>,
    /// Per category: the causes given, and the three most frequent.
    pub causes_by_category: BTreeMap<String, (u64, Vec<(String, u64)>)>,
    /// Per lead department: complaints received, reopened, and each handled
    /// complaint's minutes from receipt to its (last) handling.
    pub by_lead: BTreeMap<String, LeadFigures>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadFigures {
    pub complaints: u64,
    pub reopened: u64,
    pub handling_minutes: Vec<i64>,
}

/// One department's line in the ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub department: String,
    /// Met / (met + breached) over every stage; `None` with no run ended.
    pub compliance: Option<f64>,
    pub breaches: u64,
    pub median_handling_hours: Option<f64>,
    pub reopen_pct: Option<f64>,
}

impl Figures {
    /// Departments ranked by compliance (highest first; none last), then by
    /// fewer breaches, then by name.
    pub fn ranking(&self) -> Vec<Ranked> {
        let mut runs: BTreeMap<&str, Compliance> = BTreeMap::new();
        for ((_, d), c) in &self.by_stage_lead {
            let r = runs.entry(d.as_str()).or_default();
            r.met += c.met;
            r.breached += c.breached;
            r.late += c.late;
        }
        let mut names: Vec<&str> = runs.keys().copied().collect();
        names.extend(self.by_lead.keys().map(String::as_str));
        names.sort_unstable();
        names.dedup();
        let mut out: Vec<Ranked> = names
            .into_iter()
            .map(|d| {
                let c = runs.get(d).copied().unwrap_or_default();
                let lead = self.by_lead.get(d).cloned().unwrap_or_default();
                Ranked {
                    department: d.to_string(),
                    compliance: c.pct(),
                    breaches: c.breached,
                    median_handling_hours: median(&lead.handling_minutes).map(|m| m / 60.0),
                    reopen_pct: (lead.complaints > 0)
                        .then(|| lead.reopened as f64 * 100.0 / lead.complaints as f64),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            let key = |r: &Ranked| r.compliance.unwrap_or(-1.0);
            key(b)
                .total_cmp(&key(a))
                .then(a.breaches.cmp(&b.breaches))
                .then(a.department.cmp(&b.department))
        });
        out
    }
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(values: &[i64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2] as f64),
        _ => Some((v[n / 2 - 1] as f64 + v[n / 2] as f64) / 2.0),
    }
}

/// Age buckets of open complaints, youngest first.
pub const AGES: [&str; 5] = ["< 1 h", "1–4 h", "4–24 h", "1–3 d", "> 3 d"];

fn age_bucket(hours: i64) -> &'static str {
    match hours {
        h if h < 1 => AGES[0],
        h if h < 4 => AGES[1],
        h if h < 24 => AGES[2],
        h if h < 72 => AGES[3],
        _ => AGES[4],
    }
}

fn local_day(t: Timestamp, zone: FixedOffset) -> NaiveDate {
    t.with_timezone(&zone).date_naive()
}

/// Computes the figures of the local days `from..=to` (all days when
/// `None`) in the rows' zone; ageing is measured at `now`.
pub fn compute(
    rows: &Rows,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    now: Timestamp,
) -> Figures {
    let zone = rows.zone;
    let within = |d: NaiveDate| from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t);
    let mut f = Figures {
        from,
        to,
        ..Figures::default()
    };
    for c in rows
        .complaints
        .iter()
        .filter(|c| within(local_day(c.received_at, zone)))
    {
        f.complaints += 1;
        let day = local_day(c.received_at, zone);
        *f.by_day_channel
            .entry((day, c.channel.clone()))
            .or_default() += 1;
        *f.by_category.entry(c.category.to_string()).or_default() += 1;
        *f.by_priority.entry(c.priority.to_string()).or_default() += 1;
        f.reopened += u64::from(c.cycle > 0);
        let lead = f.by_lead.entry(c.lead_department.clone()).or_default();
        lead.complaints += 1;
        lead.reopened += u64::from(c.cycle > 0);
        if let Some(handled) = c.handled_at {
            lead.handling_minutes
                .push((handled - c.received_at).num_minutes());
        }
        if let Some(s) = c.satisfied {
            f.confirmed += 1;
            f.final_satisfied += u64::from(s);
            f.first_time_satisfied += u64::from(s && c.cycle == 0);
        }
        let final_ = matches!(
            c.status,
            Status::Archived | Status::Withdrawn | Status::Closed
        );
        let outcomes = [
            (Stage::Acknowledge, c.acknowledge_sla),
            (Stage::Assign, c.assign_sla),
            (Stage::Respond, c.respond_sla),
            (Stage::Handle, c.handle_sla),
            (Stage::Report, c.report_sla),
            (Stage::Confirm, c.confirm_sla),
        ];
        // The sequence's running stage (respond runs beside handle).
        let running = outcomes.iter().rev().find(|(s, o)| {
            *s != Stage::Respond && matches!(o, StageOutcome::Open | StageOutcome::Breached)
        });
        if let (false, Some((stage, _))) = (final_, running) {
            let hours = (now - c.received_at).num_hours();
            *f.ageing.entry((*stage, age_bucket(hours))).or_default() += 1;
        }
    }
    for t in rows.sla.iter().filter(|t| within(t.day)) {
        let n = t.n;
        // A run counts for its stage and for its stage and lead department.
        let count = |f: &mut Figures, op: &dyn Fn(&mut Compliance)| {
            op(f.by_stage.entry(t.stage).or_default());
            op(f.by_stage_lead
                .entry((t.stage, t.lead_department.clone()))
                .or_default());
        };
        match t.kind {
            SlaKind::Met => count(&mut f, &|c| c.met += n),
            SlaKind::Late => count(&mut f, &|c| c.late += n),
            SlaKind::Breached if !t.retracted => {
                count(&mut f, &|c| c.breached += n);
                f.breaches += n;
                *f.breaches_by_day_lead
                    .entry((t.day, t.lead_department.clone()))
                    .or_default() += n;
            }
            SlaKind::Escalated if !(t.breach_escalation && t.retracted) => f.escalations += n,
            SlaKind::Retracted => f.retractions += n,
            _ => {}
        }
    }
    let category: std::collections::HashMap<&str, String> = rows
        .complaints
        .iter()
        .map(|c| (c.complaint_id.as_str(), c.category.to_string()))
        .collect();
    let mut causes: BTreeMap<(String, String), u64> = BTreeMap::new();
    for c in rows
        .causes
        .iter()
        .filter(|c| within(local_day(c.occurred_at, zone)))
    {
        let cat = c
            .category
            .as_ref()
            .or_else(|| category.get(c.complaint_id.as_str()));
        if let Some(cat) = cat {
            *causes.entry((c.cause.clone(), cat.clone())).or_default() += 1;
        }
    }
    let mut causes: Vec<(String, String, u64)> =
        causes.into_iter().map(|((c, k), n)| (c, k, n)).collect();
    causes.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    for (cause, cat, n) in &causes {
        let (total, top) = f.causes_by_category.entry(cat.clone()).or_default();
        *total += n;
        if top.len() < 3 {
            top.push((cause.clone(), *n));
        }
    }
    causes.truncate(10);
    f.top_causes = causes;
    for d in rows
        .dead_letters
        .iter()
        .filter(|d| within(local_day(d.at, zone)))
    {
        *f.dead_by_reason.entry(d.code().to_string()).or_default() += 1;
        *f.dead_by_source.entry(d.origin().to_string()).or_default() += 1;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments_rank_by_compliance_then_fewer_breaches() {
        let mut f = Figures::default();
        let runs = |met, breached| Compliance {
            met,
            breached,
            late: 0,
        };
        f.by_stage_lead
            .insert((Stage::Acknowledge, "business".into()), runs(9, 1));
        f.by_stage_lead
            .insert((Stage::Handle, "business".into()), runs(9, 1));
        f.by_stage_lead
            .insert((Stage::Acknowledge, "technical".into()), runs(18, 2));
        f.by_stage_lead
            .insert((Stage::Acknowledge, "customer_service".into()), runs(19, 1));
        f.by_lead.insert(
            "technical".into(),
            LeadFigures {
                complaints: 4,
                reopened: 1,
                handling_minutes: vec![60, 120, 240, 30],
            },
        );
        f.by_lead.insert(
            "security".into(),
            LeadFigures {
                complaints: 1,
                ..Default::default()
            },
        );
        let r = f.ranking();
        let order: Vec<&str> = r.iter().map(|r| r.department.as_str()).collect();
        // 95 %, then two at 90 % (technical has 2 breaches, business 2: by name), none last.
        assert_eq!(
            order,
            ["customer_service", "business", "technical", "security"]
        );
        let tech = &r[2];
        assert_eq!(
            tech.median_handling_hours,
            Some(1.5),
            "median of 30, 60, 120, 240 min"
        );
        assert_eq!(tech.reopen_pct, Some(25.0));
        assert_eq!(r[3].compliance, None);
    }
}
