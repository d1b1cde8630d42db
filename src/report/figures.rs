//! The figures of the analysis meeting's report, computed from output rows
//! (a replay directory, or the same rows read from ClickHouse): one code
//! path whatever the source. Days are local (a fixed offset; Beijing time
//! by default, which has no daylight saving).

use crate::model::output::{StageOutcome, Status};
use crate::model::{ComplaintRow, DeadLetter, SlaEvent, SlaKind, Stage, Timestamp};
use chrono::{FixedOffset, NaiveDate};
use std::collections::{BTreeMap, HashSet};

/// What the report is made from.
#[derive(Debug, Default)]
pub struct Rows {
    pub complaints: Vec<ComplaintRow>,
    pub sla: Vec<SlaEvent>,
    pub dead_letters: Vec<DeadLetter>,
    /// Causes of accepted `complaint.handled` events: (complaint, time, cause).
    pub causes: Vec<Cause>,
}

/// The cause a department gave when handling ended.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Cause {
    pub complaint_id: String,
    #[serde(with = "crate::model::time")]
    pub occurred_at: Timestamp,
    pub cause: String,
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
/// `None`); ageing is measured at `now`.
pub fn compute(
    rows: &Rows,
    zone: FixedOffset,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    now: Timestamp,
) -> Figures {
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
    let retracted: HashSet<(&str, u32, Stage)> = rows
        .sla
        .iter()
        .filter(|e| e.kind == SlaKind::Retracted)
        .map(|e| (e.complaint_id.as_str(), e.cycle, e.stage))
        .collect();
    for e in rows.sla.iter().filter(|e| within(local_day(e.at, zone))) {
        let key = (e.complaint_id.as_str(), e.cycle, e.stage);
        // A run counts for its stage and for its stage and lead department.
        let count = |f: &mut Figures, op: fn(&mut Compliance)| {
            op(f.by_stage.entry(e.stage).or_default());
            op(f.by_stage_lead
                .entry((e.stage, e.lead_department.clone()))
                .or_default());
        };
        match e.kind {
            SlaKind::Met => count(&mut f, |c| c.met += 1),
            SlaKind::Late => count(&mut f, |c| c.late += 1),
            SlaKind::Breached if !retracted.contains(&key) => {
                count(&mut f, |c| c.breached += 1);
                f.breaches += 1;
                let day = local_day(e.at, zone);
                *f.breaches_by_day_lead
                    .entry((day, e.lead_department.clone()))
                    .or_default() += 1;
            }
            SlaKind::Escalated => {
                let breach_retracted = e.event_id.ends_with(":breach") && retracted.contains(&key);
                f.escalations += u64::from(!breach_retracted);
            }
            SlaKind::Retracted => f.retractions += 1,
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
        if let Some(cat) = category.get(c.complaint_id.as_str()) {
            *causes.entry((c.cause.clone(), cat.clone())).or_default() += 1;
        }
    }
    let mut causes: Vec<(String, String, u64)> =
        causes.into_iter().map(|((c, k), n)| (c, k, n)).collect();
    causes.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    causes.truncate(10);
    f.top_causes = causes;
    for d in rows
        .dead_letters
        .iter()
        .filter(|d| within(local_day(d.at, zone)))
    {
        let code = d.reason.split_once(':').map_or("", |(c, _)| c);
        *f.dead_by_reason.entry(code.to_string()).or_default() += 1;
        // The file or topic, without line or offset.
        let source = d
            .source
            .split_once(['/', ':'])
            .map_or(d.source.as_str(), |(s, _)| s);
        *f.dead_by_source.entry(source.to_string()).or_default() += 1;
    }
    f
}
