//! The trend over the last periods: volume, compliance per stage against
//! its target, reopen rate and satisfaction, breaches by department.

use super::Names;
use super::charts::{Frame, Series, lines, stacked};
use super::tiles::ratio;
use crate::model::Stage;
use crate::report::figures::{Compliance, Figures};
use crate::report::meeting::Meeting;

pub(super) fn trends(m: &Meeting, targets: &[f64; Stage::COUNT], names: &Names) -> String {
    if m.trend.len() < 2 {
        return String::new();
    }
    let labels: Vec<String> = m
        .trend
        .iter()
        .map(|(p, _)| p.from.format("%m-%d").to_string())
        .collect();
    let unit = if m.weekly {
        "按周 weekly"
    } else {
        "按日 daily"
    };
    let mut out = format!(
        "<h2>趋势 Trends <span class=\"p\">({unit}, {} points)</span></h2>",
        labels.len()
    );
    let frame = |title, w, h, max, target, unit| Frame {
        title,
        labels: &labels,
        width: w,
        height: h,
        min: 0.0,
        max,
        target,
        unit,
    };
    let series = |name: &str, v: &dyn Fn(&Figures) -> Option<f64>| Series {
        name: name.to_string(),
        values: m.trend.iter().map(|(_, f)| v(f)).collect(),
    };
    out.push_str(&lines(
        &frame("投诉量 Complaints received", 820, 170, None, None, ""),
        &[series("complaints", &|f| Some(f.complaints as f64))],
    ));
    out.push_str("<div class=\"cs\">");
    for s in Stage::ALL {
        let title = format!("达标率 {}", names.stage(*s));
        let values: Vec<Option<f64>> = m
            .trend
            .iter()
            .map(|(_, f)| f.by_stage.get(s).and_then(Compliance::pct))
            .collect();
        // From a round ten under the lowest value and the target: the
        // points near the target must be told apart.
        let target = targets[s.index()];
        let lowest = values.iter().flatten().fold(target, |a, b| a.min(*b));
        let small = Frame {
            title: &title,
            labels: &labels,
            width: 265,
            height: 130,
            min: ((lowest - 5.0) / 10.0).floor().clamp(0.0, 9.0) * 10.0,
            max: Some(100.0),
            target: Some(targets[s.index()]),
            unit: "%",
        };
        out.push_str(&lines(
            &small,
            &[series(s.as_str(), &|f| {
                f.by_stage.get(s).and_then(Compliance::pct)
            })],
        ));
    }
    out.push_str("</div>");
    out.push_str(&lines(
        &frame(
            "重复处理率与满意率 Reopen rate and satisfaction",
            820,
            170,
            Some(100.0),
            None,
            "%",
        ),
        &[
            series("重复处理率 reopen rate", &|f| {
                ratio(f.reopened, f.complaints)
            }),
            series("一次满意率 first-time satisfied", &|f| {
                ratio(f.first_time_satisfied, f.confirmed)
            }),
            series("最终满意率 finally satisfied", &|f| {
                ratio(f.final_satisfied, f.confirmed)
            }),
        ],
    ));
    let mut leads: Vec<&String> = m
        .trend
        .iter()
        .flat_map(|(_, f)| f.breaches_by_day_lead.keys().map(|(_, d)| d))
        .collect();
    leads.sort();
    leads.dedup();
    let groups: Vec<Series> = leads
        .iter()
        .map(|d| Series {
            name: names.department(d),
            values: m
                .trend
                .iter()
                .map(|(_, f)| {
                    let n: u64 = f
                        .breaches_by_day_lead
                        .iter()
                        .filter(|((_, l), _)| l == *d)
                        .map(|(_, n)| n)
                        .sum();
                    Some(n as f64)
                })
                .collect(),
        })
        .collect();
    out.push_str(&stacked(
        &frame("超时 Breaches by lead department", 820, 190, None, None, ""),
        &groups,
    ));
    out
}
