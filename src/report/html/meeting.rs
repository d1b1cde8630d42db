//! The meeting's page: the header, the tiles against the previous period,
//! compliance against its targets, the trends, the ranking, the at-risk
//! list, causes, and the lists to drill into.

use super::tiles::tiles;
use super::trends::trends;
use super::{Bar, Names, bar_chart, bars, esc, lists, page_with_lists, pct, table};
use crate::model::{Category, Stage, Timestamp};
use crate::report::figures::{AGES, Figures};
use crate::report::meeting::Meeting;
use std::collections::BTreeMap;
use std::fmt::Write;

/// What the page says of itself.
pub struct Header<'a> {
    /// Where the rows came from (a directory, or ClickHouse's database).
    pub source: &'a str,
    pub generated: Timestamp,
}

/// Green at or above the target, amber within five points under it, red
/// below that.
fn rating(pct: f64, target: f64) -> &'static str {
    match pct {
        p if p >= target => "ok",
        p if p >= target - 5.0 => "warn",
        _ => "bad",
    }
}

fn compliance_bars(f: &Figures, targets: &[f64; Stage::COUNT], names: &Names) -> String {
    let rows: Vec<Bar> = f
        .by_stage
        .iter()
        .map(|(s, c)| {
            let target = targets[s.index()];
            let p = c.pct();
            Bar {
                label: names.stage(*s),
                value: p.unwrap_or(0.0),
                text: format!(
                    "{}  {}/{}  目标 {target:.0}%",
                    p.map_or("–".into(), |p| format!("{p:.1}%")),
                    c.met,
                    c.met + c.breached
                ),
                class: p.map_or("b", |p| rating(p, target)),
                target: Some(target),
            }
        })
        .collect();
    bar_chart(
        "时限达标率 SLA compliance per stage (vs target 目标)",
        &rows,
        Some(100.0),
    )
}

/// The stage × lead department table, compliance coloured against the
/// stage's target.
fn by_stage_lead(f: &Figures, targets: &[f64; Stage::COUNT], names: &Names) -> String {
    let mut t = String::from(
        "<table><tr><th>stage 阶段</th><th>lead 牵头部门</th><th>met 达标</th><th>breached 超时</th><th>late 超时完成</th><th>compliance 达标率</th><th>target 目标</th></tr>",
    );
    for ((s, d), c) in &f.by_stage_lead {
        let target = targets[s.index()];
        let (text, class) = c.pct().map_or(("–".to_string(), ""), |p| {
            (format!("{p:.1}%"), rating(p, target))
        });
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{target:.0}%</td></tr>",
            esc(&names.stage(*s)),
            esc(&names.department(d)),
            c.met,
            c.breached,
            c.late,
            esc(&text)
        );
    }
    t.push_str("</table>");
    t
}

/// Departments ranked by compliance, then fewer breaches.
fn ranking(f: &Figures, names: &Names) -> String {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "–".into());
    let rows: Vec<Vec<String>> = f
        .ranking()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                (i + 1).to_string(),
                names.department(&r.department),
                or_dash(r.compliance.map(|p| format!("{p:.1}%"))),
                r.breaches.to_string(),
                or_dash(r.median_handling_hours.map(|h| format!("{h:.1} h"))),
                or_dash(r.reopen_pct.map(|p| format!("{p:.1}%"))),
            ]
        })
        .collect();
    let mut out = String::from(
        "<h2>部门排名 Departments ranked</h2><p class=\"p\">按时限达标率（全部阶段），再按超时少 \
         by SLA compliance over every stage, then fewer breaches; 处理时长 = 受理到处理完成 \
         handling time from receipt to handling</p>",
    );
    out.push_str(&table(
        &[
            "rank 排名",
            "lead 牵头部门",
            "compliance 达标率",
            "breaches 超时",
            "median handling 处理时长中位数",
            "reopen 重复处理率",
        ],
        &rows,
    ));
    out
}

fn mixes(f: &Figures, names: &Names) -> String {
    // The largest first.
    let mix = |m: BTreeMap<String, u64>| -> Vec<(String, f64, String)> {
        let mut rows: Vec<(String, u64)> = m.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        rows.into_iter()
            .map(|(k, n)| (k, n as f64, format!("{n}  {}", pct(n, f.complaints))))
            .collect()
    };
    let mut channels: BTreeMap<String, u64> = BTreeMap::new();
    for ((_, c), n) in &f.by_day_channel {
        *channels.entry(names.channel(c)).or_default() += n;
    }
    let named = |m: &BTreeMap<String, u64>, name: &dyn Fn(&str) -> String| {
        m.iter()
            .map(|(k, n)| (name(k), *n))
            .collect::<BTreeMap<_, _>>()
    };
    let mut out = bars("渠道 Volume by channel", &mix(channels));
    out.push_str(&bars(
        "分类 Category",
        &mix(named(&f.by_category, &|k| names.category_named(k))),
    ));
    out.push_str(&bars(
        "优先级 Priority",
        &mix(named(&f.by_priority, &|k| names.priority_named(k))),
    ));
    out
}

fn ageing(f: &Figures, names: &Names) -> String {
    let mut head = vec!["stage 阶段"];
    head.extend(AGES);
    let mut stages: Vec<Stage> = f.ageing.keys().map(|(s, _)| *s).collect();
    stages.dedup();
    let rows: Vec<Vec<String>> = stages
        .iter()
        .map(|s| {
            let mut r = vec![names.stage(*s)];
            r.extend(
                AGES.iter()
                    .map(|a| f.ageing.get(&(*s, *a)).copied().unwrap_or(0).to_string()),
            );
            r
        })
        .collect();
    format!(
        "<h2>在办投诉账龄 Ageing of open complaints</h2>{}",
        table(&head, &rows)
    )
}

fn causes_and_dead_letters(f: &Figures, names: &Names) -> String {
    let mut out = String::new();
    if !f.top_causes.is_empty() {
        let causes: Vec<_> = f
            .top_causes
            .iter()
            .map(|(c, k, n)| {
                (
                    format!(
                        "{c} ({})",
                        Category::parse(k).map_or(k.as_str(), |c| c.zh())
                    ),
                    *n as f64,
                    n.to_string(),
                )
            })
            .collect();
        out.push_str(&bars("投诉原因 Top causes (分类 category)", &causes));
        let rows: Vec<Vec<String>> = f
            .causes_by_category
            .iter()
            .map(|(k, (total, top))| {
                let top: Vec<String> = top
                    .iter()
                    .map(|(c, n)| format!("{c} {n} ({})", pct(*n, *total)))
                    .collect();
                vec![names.category_named(k), top.join("; "), total.to_string()]
            })
            .collect();
        out.push_str("<h2>原因按分类 Causes by category</h2>");
        out.push_str(&table(
            &[
                "category 分类",
                "handled 已处理",
                "most frequent causes 主要原因",
            ],
            &rows,
        ));
    }
    let counted =
        |m: &BTreeMap<String, u64>, name: &dyn Fn(&str) -> String| -> Vec<(String, f64, String)> {
            m.iter()
                .map(|(k, n)| (name(k), *n as f64, n.to_string()))
                .collect()
        };
    out.push_str(&bars(
        "死信 Dead letters by reason",
        &counted(&f.dead_by_reason, &|k| names.reason(k)),
    ));
    out.push_str(&bars(
        "死信来源 Dead letters by source",
        &counted(&f.dead_by_source, &|k| names.source(k)),
    ));
    out
}

fn header(m: &Meeting, h: &Header, names: &Names) -> String {
    let period = match m.period {
        Some(p) => format!("{} – {} ({} 天 days)", p.from, p.to, p.days()),
        None => "无数据 no data".into(),
    };
    let previous = match (m.period.and_then(|p| p.previous()), &m.previous) {
        (Some(p), Some(_)) => format!("{} – {}", p.from, p.to),
        _ => "–".into(),
    };
    format!(
        "<h1>投诉分析会 Complaint analysis</h1>\
         <p class=\"meta\">周期 Period <b>{}</b> · 对比上期 vs previous {} · 时区 Zone UTC{} · 数据来源 Source {} · \
         在办状态截至 Open as of {} · 生成于 Generated {}</p>",
        esc(&period),
        esc(&previous),
        names.zone,
        esc(h.source),
        esc(&names.local(m.now)),
        esc(&names.local(h.generated)),
    )
}

/// The page.
pub fn render(m: &Meeting, names: &Names, targets: &[f64; Stage::COUNT], h: &Header) -> String {
    let f = &m.current;
    let mut body = header(m, h, names);
    body.push_str(&tiles(m));
    body.push_str(&compliance_bars(f, targets, names));
    body.push_str(&trends(m, targets, names));
    body.push_str(&ranking(f, names));
    body.push_str("<h2>时限达标率 × 牵头部门 SLA compliance per stage and lead department</h2>");
    body.push_str(&by_stage_lead(f, targets, names));
    let _ = write!(
        body,
        "<h2>即将超时清单 At risk: open past the warning ({})</h2><p class=\"p\">按牵头部门、时限排序 by lead department, then deadline; 剩余为负即已超时 a negative time left is overdue</p>",
        m.at_risk.len()
    );
    body.push_str(&lists::at_risk(m, names));
    body.push_str(&ageing(f, names));
    body.push_str(&causes_and_dead_letters(f, names));
    body.push_str(&mixes(f, names));
    let _ = write!(
        body,
        "<h2>超时投诉 Breached in the period ({})</h2>",
        m.breached.len()
    );
    body.push_str(&lists::breached(m, names));
    let _ = write!(
        body,
        "<h2>重复处理的投诉 Reopened ({})</h2>",
        m.reopened.len()
    );
    body.push_str(&lists::reopened(m, names));
    let _ = write!(
        body,
        "<h2>死信 Dead letters ({})</h2>",
        m.dead_letters.len()
    );
    body.push_str(&lists::dead_letters(&m.dead_letters, names));
    page_with_lists("投诉分析会 Complaint analysis", &body)
}
