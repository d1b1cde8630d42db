//! The headline tiles: each figure with its change against the previous
//! period (green when better, red when worse) and what it means.

use super::esc;
use crate::report::figures::{Compliance, Figures};
use crate::report::meeting::Meeting;
use std::fmt::Write;

/// Whether a rise is good news, bad news or neither.
#[derive(Clone, Copy)]
enum Better {
    Up,
    Down,
    Neither,
    /// A reading at the report's time, not of a period: nothing to
    /// compare it with.
    Now,
}

/// A tile: value, change against the previous period, what it means.
struct Tile {
    name: &'static str,
    value: Option<f64>,
    previous: Option<f64>,
    percent: bool,
    better: Better,
    explain: &'static str,
}

impl Tile {
    fn html(&self, out: &mut String) {
        let show = |v: Option<f64>| match (v, self.percent) {
            (None, _) => "–".to_string(),
            (Some(v), true) => format!("{v:.1}%"),
            (Some(v), false) => format!("{v:.0}"),
        };
        let change = match (self.value, self.previous) {
            (Some(now), Some(before)) => {
                let d = now - before;
                let arrow = match d {
                    d if d > 0.0 => "▲",
                    d if d < 0.0 => "▼",
                    _ => "=",
                };
                let class = match (self.better, d > 0.0, d < 0.0) {
                    (Better::Up, true, _) | (Better::Down, _, true) => "better",
                    (Better::Up, _, true) | (Better::Down, true, _) => "worse",
                    _ => "flat",
                };
                let amount = match self.percent {
                    true => format!("{:+.1} pt", d),
                    false if before > 0.0 => format!("{:+.0} ({:+.1}%)", d, d * 100.0 / before),
                    false => format!("{:+.0}", d),
                };
                format!("<em class=\"{class}\">{arrow} {amount} 较上期 vs previous</em>")
            }
            _ if matches!(self.better, Better::Now) => {
                "<em class=\"flat\">– 截至当前 as of now, not compared</em>".to_string()
            }
            _ => "<em class=\"flat\">– 无上期 no previous period</em>".to_string(),
        };
        let _ = write!(
            out,
            "<div><b>{}</b>{change}<span>{}</span><small>{}</small></div>",
            esc(&show(self.value)),
            esc(self.name),
            esc(self.explain)
        );
    }
}

pub(super) fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 * 100.0 / d as f64)
}

/// Every stage's runs together.
fn overall(f: &Figures) -> Compliance {
    f.by_stage
        .values()
        .fold(Compliance::default(), |a, c| Compliance {
            met: a.met + c.met,
            breached: a.breached + c.breached,
            late: a.late + c.late,
        })
}

pub(super) fn tiles(m: &Meeting) -> String {
    let (f, p) = (&m.current, m.previous.as_ref());
    let of = |g: &dyn Fn(&Figures) -> Option<f64>| (g(f), p.and_then(g));
    let tile = |name, (value, previous), percent, better, explain| Tile {
        name,
        value,
        previous,
        percent,
        better,
        explain,
    };
    let list = [
        tile(
            "投诉量 Complaints",
            of(&|f| Some(f.complaints as f64)),
            false,
            Better::Neither,
            "期内受理 received in the period",
        ),
        tile(
            "时限达标率 SLA compliance",
            of(&|f| overall(f).pct()),
            true,
            Better::Up,
            "按时完成 / (按时 + 超时), all stages: runs met in time",
        ),
        tile(
            "超时 Breaches",
            of(&|f| Some(f.breaches as f64)),
            false,
            Better::Down,
            "期内到期未完成的阶段 stage deadlines passed undone",
        ),
        tile(
            "升级 Escalations",
            of(&|f| Some(f.escalations as f64)),
            false,
            Better::Down,
            "报投诉处理小组 raised to the handling group (breach or urgent)",
        ),
        tile(
            "超时撤销 Retracted breaches",
            of(&|f| Some(f.retractions as f64)),
            false,
            Better::Neither,
            "迟到的记录证明按时完成 late evidence showed the stage done in time",
        ),
        tile(
            "一次满意率 First-time satisfaction",
            of(&|f| ratio(f.first_time_satisfied, f.confirmed)),
            true,
            Better::Up,
            "首次回访即满意 / 已回访 satisfied at the first confirmation",
        ),
        tile(
            "最终满意率 Final satisfaction",
            of(&|f| ratio(f.final_satisfied, f.confirmed)),
            true,
            Better::Up,
            "最终满意 / 已回访 satisfied in the end",
        ),
        tile(
            "重复处理率 Reopen rate",
            of(&|f| ratio(f.reopened, f.complaints)),
            true,
            Better::Down,
            "客户不满意后重新处理 reopened after the customer was dissatisfied",
        ),
        tile(
            "即将超时 At risk now",
            (Some(m.at_risk.len() as f64), None),
            false,
            Better::Now,
            "在办且已过预警 open and past the warning (list below)",
        ),
    ];
    let mut out = String::from("<div class=\"k\">");
    for t in &list {
        t.html(&mut out);
    }
    out.push_str("</div>");
    out
}
