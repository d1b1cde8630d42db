//! `rules diff`: what a rule change would do to a history of events. The
//! same input is replayed with the old and the new ruleset (the same engine
//! as `replay`), and the decisions and SLA outcomes are compared.

use super::replay::{Bounds, ReplayError, replay_reader};
use super::summary::Summary;
use crate::model::{Decision, Stage};
use crate::rules::RuleSet;
use crate::sink::file::MemorySink;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// One replay's decisions by id, and its summary.
struct Side {
    decisions: HashMap<String, Decision>,
    summary: Summary,
}

fn replay_side(input: &[u8], rules: &RuleSet, bounds: Bounds) -> Result<Side, ReplayError> {
    let mut sink = MemorySink::default();
    let summary = replay_reader(input, "history", rules, bounds, &mut sink, |_| {})?;
    let decisions = sink
        .decisions
        .into_iter()
        .map(|d| (d.decision_id.clone(), d))
        .collect();
    Ok(Side { decisions, summary })
}

/// Counts of `(old, new)` values.
pub type Transitions = BTreeMap<(String, String), usize>;

/// What changes between two rulesets on one history.
#[derive(Debug, Default)]
pub struct RulesDiff {
    pub old_version: String,
    pub new_version: String,
    /// Decisions made by both.
    pub compared: usize,
    /// Of those, decisions whose category, priority or departments differ.
    pub changed: usize,
    /// The same among the first decisions (cycle 0) of complaints.
    pub first_compared: usize,
    pub first_changed: usize,
    /// Decisions only one side made (a reopen the other never had).
    pub only_old: usize,
    pub only_new: usize,
    pub category: Transitions,
    pub priority: Transitions,
    pub lead: Transitions,
    /// A few changed decisions: (complaint, old reason, new reason).
    pub examples: Vec<(String, String, String)>,
    /// Per stage, old and new.
    pub sla: BTreeMap<Stage, [SlaEffect; 2]>,
}

/// What one ruleset's replay gave for one stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlaEffect {
    pub breaches: u64,
    /// Escalations because a clock breached.
    pub breach_escalations: u64,
    /// Escalations because the complaint is urgent (a priority change
    /// moves these, not the breaches).
    pub urgent_escalations: u64,
}

fn moved(t: &mut Transitions, old: &str, new: &str) {
    *t.entry((old.to_string(), new.to_string())).or_default() += 1;
}

/// Replays `input` (JSONL) with both rulesets and compares.
pub fn diff(
    input: &[u8],
    old: &RuleSet,
    new: &RuleSet,
    bounds: Bounds,
) -> Result<RulesDiff, ReplayError> {
    use crate::core::Rules;
    let a = replay_side(input, old, bounds)?;
    let b = replay_side(input, new, bounds)?;
    let mut d = RulesDiff {
        old_version: old.version().to_string(),
        new_version: new.version().to_string(),
        ..RulesDiff::default()
    };
    let mut ids: Vec<&String> = a.decisions.keys().collect();
    ids.sort();
    for id in ids {
        let x = &a.decisions[id];
        let Some(y) = b.decisions.get(id) else {
            d.only_old += 1;
            continue;
        };
        d.compared += 1;
        d.first_compared += usize::from(x.cycle == 0);
        moved(&mut d.category, x.category.as_str(), y.category.as_str());
        moved(&mut d.priority, x.priority.as_str(), y.priority.as_str());
        moved(&mut d.lead, &x.lead_department, &y.lead_department);
        let differs = x.category != y.category
            || x.priority != y.priority
            || x.lead_department != y.lead_department
            || x.assist_departments != y.assist_departments;
        if differs {
            d.changed += 1;
            d.first_changed += usize::from(x.cycle == 0);
            if d.examples.len() < 5 {
                d.examples
                    .push((x.decision_id.clone(), x.reason.clone(), y.reason.clone()));
            }
        }
    }
    d.only_new = b
        .decisions
        .keys()
        .filter(|id| !a.decisions.contains_key(*id))
        .count();
    for stage in Stage::ALL {
        let of = |s: &Summary| {
            s.stages
                .get(stage)
                .map_or(SlaEffect::default(), |x| SlaEffect {
                    breaches: x.breached,
                    breach_escalations: x.escalated.saturating_sub(x.escalated_urgent),
                    urgent_escalations: x.escalated_urgent,
                })
        };
        d.sla.insert(*stage, [of(&a.summary), of(&b.summary)]);
    }
    Ok(d)
}

fn table(f: &mut fmt::Formatter<'_>, title: &str, t: &Transitions) -> fmt::Result {
    writeln!(f, "\n{title} (old -> new, decisions)")?;
    for ((old, new), n) in t {
        let mark = if old == new { " " } else { "*" };
        writeln!(f, " {mark} {old:<18} -> {new:<18} {n:>7}")?;
    }
    Ok(())
}

impl fmt::Display for RulesDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rules diff: {} -> {}",
            self.old_version, self.new_version
        )?;
        writeln!(
            f,
            "  decisions compared {:>7}   changed {:>6}   (first decisions: {} of {} changed)",
            self.compared, self.changed, self.first_changed, self.first_compared
        )?;
        if self.only_old + self.only_new > 0 {
            writeln!(
                f,
                "  decisions only with the old rules {}, only with the new {}",
                self.only_old, self.only_new
            )?;
        }
        table(f, "category", &self.category)?;
        table(f, "priority", &self.priority)?;
        table(f, "lead department", &self.lead)?;
        if !self.examples.is_empty() {
            writeln!(f, "\nexamples")?;
            for (id, old, new) in &self.examples {
                writeln!(f, "  {id}\n    old: {old}\n    new: {new}")?;
            }
        }
        writeln!(
            f,
            "\nSLA effect     breaches old/new   escalated for a breach old/new   for urgency old/new"
        )?;
        for (stage, [a, b]) in &self.sla {
            writeln!(
                f,
                "  {:<12} {:>8} {:>8}   {:>8} {:>8}                  {:>8} {:>8}",
                stage.as_str(),
                a.breaches,
                b.breaches,
                a.breach_escalations,
                b.breach_escalations,
                a.urgent_escalations,
                b.urgent_escalations
            )?;
        }
        Ok(())
    }
}

impl RulesDiff {
    /// The diff as a page in the report's style.
    pub fn to_html(&self) -> String {
        use crate::report::html::{bars, esc, page, table};
        let mut body = format!(
            "<h1>规则变更影响 Rule change</h1><p class=\"p\">{} → {}</p><div class=\"k\"><div><b>{}</b><span>decisions compared 比较的决定</span></div><div><b>{}</b><span>changed 变化</span></div><div><b>{} / {}</b><span>first decisions changed 首次决定变化</span></div></div>",
            esc(&self.old_version),
            esc(&self.new_version),
            self.compared,
            self.changed,
            self.first_changed,
            self.first_compared
        );
        for (title, t) in [
            ("分类 Category", &self.category),
            ("优先级 Priority", &self.priority),
            ("牵头部门 Lead department", &self.lead),
        ] {
            let moved: Vec<(String, f64, String)> = t
                .iter()
                .filter(|((a, b), _)| a != b)
                .map(|((a, b), n)| (format!("{a} → {b}"), *n as f64, n.to_string()))
                .collect();
            if !moved.is_empty() {
                body.push_str(&bars(&format!("{title}: changes 变化"), &moved));
            }
        }
        let rows: Vec<Vec<String>> = self
            .examples
            .iter()
            .map(|(id, a, b)| vec![id.clone(), a.clone(), b.clone()])
            .collect();
        body.push_str("<h2>例子 Examples</h2>");
        body.push_str(&table(&["decision", "old 旧", "new 新"], &rows));
        let rows: Vec<Vec<String>> = self
            .sla
            .iter()
            .map(|(s, [a, b])| {
                vec![
                    s.to_string(),
                    a.breaches.to_string(),
                    b.breaches.to_string(),
                    a.breach_escalations.to_string(),
                    b.breach_escalations.to_string(),
                    a.urgent_escalations.to_string(),
                    b.urgent_escalations.to_string(),
                ]
            })
            .collect();
        body.push_str("<h2>时限影响 SLA effect</h2>");
        body.push_str(&table(
            &[
                "stage 阶段",
                "breaches old 旧超时",
                "new 新",
                "escalated for a breach, old 超时升级 旧",
                "new 新",
                "for urgency, old 紧急升级 旧",
                "new 新",
            ],
            &rows,
        ));
        page("规则变更影响 Rule change", &body)
    }
}
