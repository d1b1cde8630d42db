//! The numbers a complaint-analysis meeting asks for, counted from outputs.

use crate::core::Output;
use crate::model::output::Status;
use crate::model::{ComplaintRow, Decision, SlaEvent, SlaKind, Stage, Timestamp};
use std::collections::BTreeMap;
use std::fmt;

/// Per-stage SLA counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageStats {
    pub started: u64,
    pub warning: u64,
    pub breached: u64,
    pub met: u64,
    pub late: u64,
    pub extended: u64,
    pub escalated: u64,
    /// Of `escalated`, those for urgency (the rest are for breaches).
    pub escalated_urgent: u64,
    pub cancelled: u64,
    /// Breaches corrected by late evidence; `breached` and `escalated` are
    /// net of them.
    pub retracted: u64,
}

impl StageStats {
    /// Met in time over stages that met or breached; `None` when neither.
    pub fn compliance(&self) -> Option<f64> {
        let decided = self.met + self.breached;
        (decided > 0).then(|| self.met as f64 * 100.0 / decided as f64)
    }
}

/// Totals of one replay.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub lines: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub events_by_type: BTreeMap<&'static str, u64>,
    pub dead_letters: BTreeMap<&'static str, u64>,
    pub decisions: u64,
    pub fallback_decisions: u64,
    pub stages: BTreeMap<Stage, StageStats>,
    pub complaints: u64,
    pub by_channel: BTreeMap<String, u64>,
    pub by_category: BTreeMap<String, u64>,
    pub by_priority: BTreeMap<String, u64>,
    pub by_lead: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub reopened: u64,
    /// Complaints with at least one confirmation.
    pub confirmed: u64,
    /// Of those, satisfied at the first confirmation (never reopened).
    pub first_time_satisfied: u64,
    /// Of those, satisfied at the latest confirmation.
    pub final_satisfied: u64,
    pub ended_at: Option<Timestamp>,
    /// Events later than this were refused as `future_event`.
    pub future_bound: Option<Timestamp>,
    /// Events that came before the step they follow and were held.
    pub held: u64,
    /// Held events applied once their predecessors came (also in `accepted`).
    pub waited: u64,
}

fn bump<K: Ord>(m: &mut BTreeMap<K, u64>, k: K) {
    *m.entry(k).or_insert(0) += 1;
}

impl Summary {
    /// Counts one output.
    pub fn record(&mut self, o: &Output) {
        match o {
            Output::Event(a) => {
                self.accepted += 1;
                self.waited += u64::from(a.waited);
                bump(&mut self.events_by_type, a.event.type_name());
            }
            Output::DeadLetter(r) => bump(&mut self.dead_letters, r.code.as_str()),
            Output::Decision(d) => self.record_decision(d),
            Output::Sla(e) => self.record_sla(e),
            Output::Complaint(row) => self.record_complaint(row),
            Output::Changed(_) => {}
        }
    }
    fn record_decision(&mut self, d: &Decision) {
        self.decisions += 1;
        self.fallback_decisions += d.reason.starts_with("fallback:") as u64;
    }
    fn record_sla(&mut self, e: &SlaEvent) {
        let s = self.stages.entry(e.stage).or_default();
        s.escalated_urgent += u64::from(e.is_urgent_escalation());
        let n = match e.kind {
            SlaKind::Started => &mut s.started,
            SlaKind::Warning => &mut s.warning,
            SlaKind::Breached => &mut s.breached,
            SlaKind::Met => &mut s.met,
            SlaKind::Late => &mut s.late,
            SlaKind::Extended => &mut s.extended,
            SlaKind::Escalated => &mut s.escalated,
            SlaKind::Cancelled => &mut s.cancelled,
            SlaKind::Retracted => {
                s.breached = s.breached.saturating_sub(1);
                s.escalated = s.escalated.saturating_sub(1);
                &mut s.retracted
            }
        };
        *n += 1;
    }
    fn record_complaint(&mut self, row: &ComplaintRow) {
        self.complaints += 1;
        bump(&mut self.by_channel, row.channel.clone());
        bump(&mut self.by_category, row.category.to_string());
        bump(&mut self.by_priority, row.priority.to_string());
        bump(&mut self.by_lead, row.lead_department.clone());
        bump(&mut self.by_status, row.status.as_str().to_string());
        self.reopened += (row.cycle > 0) as u64;
        if let Some(satisfied) = row.satisfied {
            self.confirmed += 1;
            self.final_satisfied += u64::from(satisfied);
            self.first_time_satisfied += u64::from(satisfied && row.cycle == 0);
        }
    }

    /// Complaints still open (not archived, withdrawn or closed).
    pub fn open(&self) -> u64 {
        let done = |s: Status| self.by_status.get(s.as_str()).copied().unwrap_or(0);
        self.complaints - done(Status::Archived) - done(Status::Withdrawn) - done(Status::Closed)
    }

    /// Escalations over all stages.
    pub fn escalations(&self) -> u64 {
        self.stages.values().map(|s| s.escalated).sum()
    }

    /// Breaches over all stages.
    pub fn breaches(&self) -> u64 {
        self.stages.values().map(|s| s.breached).sum()
    }
}

fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        "-".into()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / d as f64)
    }
}

fn table(
    f: &mut fmt::Formatter<'_>,
    title: &str,
    m: &BTreeMap<String, u64>,
    total: u64,
) -> fmt::Result {
    writeln!(f, "\n{title}")?;
    let mut rows: Vec<_> = m.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (k, v) in rows {
        writeln!(f, "  {k:<22} {v:>8}  {:>6}", pct(*v, total))?;
    }
    Ok(())
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dead: u64 = self.dead_letters.values().sum();
        writeln!(f, "complaint analysis summary (客户投诉分析)")?;
        if let Some(t) = self.ended_at {
            writeln!(f, "  clock at end           {}", t.to_rfc3339())?;
        }
        if let Some(t) = self.future_bound {
            writeln!(
                f,
                "  future bound           {} (later events refused)",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )?;
        }
        writeln!(f, "  input lines            {:>8}", self.lines)?;
        writeln!(f, "  events accepted        {:>8}", self.accepted)?;
        writeln!(f, "  duplicates ignored     {:>8}", self.duplicates)?;
        if self.held > 0 {
            writeln!(
                f,
                "  came early, waited     {:>8}   applied later {}",
                self.held, self.waited
            )?;
        }
        writeln!(f, "  dead letters           {:>8}", dead)?;
        writeln!(
            f,
            "  complaints             {:>8}   open {}",
            self.complaints,
            self.open()
        )?;
        writeln!(
            f,
            "  rule decisions         {:>8}   fallback {}",
            self.decisions, self.fallback_decisions
        )?;
        table(
            f,
            "volume by channel (渠道)",
            &self.by_channel,
            self.complaints,
        )?;
        table(
            f,
            "volume by category (分类)",
            &self.by_category,
            self.complaints,
        )?;
        table(
            f,
            "volume by priority (优先级)",
            &self.by_priority,
            self.complaints,
        )?;
        table(
            f,
            "volume by lead department (牵头部门)",
            &self.by_lead,
            self.complaints,
        )?;
        table(f, "status", &self.by_status, self.complaints)?;
        writeln!(
            f,
            "\nSLA by stage           started      met     late breached  compliance  warn  ext  escal  cancel  retracted"
        )?;
        for stage in Stage::ALL {
            let s = self.stages.get(stage).cloned().unwrap_or_default();
            let c = s.compliance().map_or("-".into(), |c| format!("{c:.1}%"));
            writeln!(
                f,
                "  {:<20} {:>8} {:>8} {:>8} {:>8} {:>11} {:>5} {:>4} {:>6} {:>7} {:>10}",
                stage.as_str(),
                s.started,
                s.met,
                s.late,
                s.breached,
                c,
                s.warning,
                s.extended,
                s.escalated,
                s.cancelled,
                s.retracted
            )?;
        }
        writeln!(
            f,
            "  breaches {}, escalations {}",
            self.breaches(),
            self.escalations()
        )?;
        writeln!(f, "\nsatisfaction and reopening")?;
        writeln!(
            f,
            "  complaints confirmed   {:>8}   first-time satisfaction (一次满意率) {}   final satisfaction (最终满意率) {}",
            self.confirmed,
            pct(self.first_time_satisfied, self.confirmed),
            pct(self.final_satisfied, self.confirmed)
        )?;
        writeln!(
            f,
            "  complaints reopened    {:>8}   reopen rate {}",
            self.reopened,
            pct(self.reopened, self.complaints)
        )?;
        if dead > 0 {
            writeln!(f, "\ndead letters by reason")?;
            for (k, v) in &self.dead_letters {
                writeln!(f, "  {k:<22} {v:>8}")?;
            }
        }
        Ok(())
    }
}
