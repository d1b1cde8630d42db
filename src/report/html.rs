//! The report as one self-contained HTML page: inline CSS and SVG, nothing
//! fetched, opens from a file. Labels in Chinese and English.

use super::figures::{AGES, Compliance, Figures};
use crate::model::Stage;
use std::collections::BTreeMap;
use std::fmt::Write;

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        "–".into()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / d as f64)
    }
}

/// A label fits left of the bars in this many units: a Latin character is
/// one, a CJK character (twice as wide) two.
const LABEL_UNITS: usize = 42;

/// Units a character takes: CJK characters are twice as wide.
fn width(c: char) -> usize {
    if c.is_ascii() || c == '…' { 1 } else { 2 }
}

/// `label` cut to `units` with "…" (the whole label stays in the SVG
/// `<title>`, shown on hover).
fn fit(label: &str, units: usize) -> String {
    if label.chars().map(width).sum::<usize>() <= units {
        return label.to_string();
    }
    let mut used = 0;
    let mut out = String::new();
    for c in label.chars() {
        if used + width(c) > units - 1 {
            break;
        }
        used += width(c);
        out.push(c);
    }
    out.push('…');
    out
}

/// A horizontal bar chart of labelled values.
pub(crate) fn bars(title: &str, rows: &[(String, f64, String)]) -> String {
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1e-9);
    let h = 22 * rows.len().max(1) + 10;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" width=\"820\" height=\"{h}\" viewBox=\"0 0 820 {h}\">",
        esc(title)
    );
    for (i, (label, v, text)) in rows.iter().enumerate() {
        let y = 5 + i * 22;
        let w = (v / max * 380.0).max(1.0);
        // Labels left of x = 270, bars from there, the value after the bar.
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" class=\"l\"><title>{}</title>{}</text><rect x=\"270\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" class=\"b\"/><text x=\"{:.1}\" y=\"{}\" class=\"v\">{}</text>",
            y + 13,
            esc(label),
            esc(&fit(label, LABEL_UNITS)),
            275.0 + w,
            y + 13,
            esc(text)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

pub(crate) fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = String::from("<table><tr>");
    for h in head {
        let _ = write!(t, "<th>{}</th>", esc(h));
    }
    t.push_str("</tr>");
    for r in rows {
        t.push_str("<tr>");
        for c in r {
            let _ = write!(t, "<td>{}</td>", esc(c));
        }
        t.push_str("</tr>");
    }
    t.push_str("</table>");
    t
}

fn compliance_row(name: String, c: &Compliance) -> Vec<String> {
    vec![
        name,
        c.met.to_string(),
        c.breached.to_string(),
        c.late.to_string(),
        c.pct().map_or("–".into(), |p| format!("{p:.1}%")),
    ]
}

fn stage_name(s: Stage) -> String {
    format!("{} {}", s.zh(), s.as_str())
}

/// Departments ranked by compliance, then fewer breaches.
fn ranking(f: &Figures, dept: &dyn Fn(&str) -> String) -> String {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "–".into());
    let rows: Vec<Vec<String>> = f
        .ranking()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                (i + 1).to_string(),
                dept(&r.department),
                or_dash(r.compliance.map(|p| format!("{p:.1}%"))),
                r.breaches.to_string(),
                or_dash(r.median_handling_hours.map(|h| format!("{h:.1} h"))),
                or_dash(r.reopen_pct.map(|p| format!("{p:.1}%"))),
            ]
        })
        .collect();
    let mut out = String::from(
        "<h2>部门排名 Departments ranked</h2><p class=\"p\">by SLA compliance over every stage \
         (按时限达标率), then fewer breaches; handling time from receipt to handling (处理时长中位数)</p>",
    );
    out.push_str(&table(
        &[
            "rank 排名",
            "lead 牵头部门",
            "compliance 达标率",
            "breaches 超时",
            "median handling 处理时长",
            "reopen 重复投诉率",
        ],
        &rows,
    ));
    out
}

/// The page.
pub fn render(f: &Figures, departments: Option<&BTreeMap<String, String>>) -> String {
    let dept = |d: &str| match departments.and_then(|m| m.get(d)) {
        Some(zh) => format!("{zh} {d}"),
        None => d.to_string(),
    };
    let period = match (f.from, f.to) {
        (Some(a), Some(b)) => format!("{a} – {b}"),
        _ => "all days 全部".into(),
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>投诉分析会 Complaint analysis</h1><p class=\"p\">{} (local days 本地日期)</p>",
        esc(&period)
    );
    let headline = [
        ("投诉量 Complaints", f.complaints.to_string()),
        ("超时 Breaches", f.breaches.to_string()),
        ("升级 Escalations", f.escalations.to_string()),
        ("撤销超时 Retractions", f.retractions.to_string()),
        (
            "一次满意率 First-time satisfaction",
            pct(f.first_time_satisfied, f.confirmed),
        ),
        (
            "最终满意率 Final satisfaction",
            pct(f.final_satisfied, f.confirmed),
        ),
        ("重复处理率 Reopen rate", pct(f.reopened, f.complaints)),
    ];
    body.push_str("<div class=\"k\">");
    for (k, v) in headline {
        let _ = write!(body, "<div><b>{}</b><span>{}</span></div>", esc(&v), esc(k));
    }
    body.push_str("</div>");
    let stages: Vec<(String, f64, String)> = f
        .by_stage
        .iter()
        .map(|(s, c)| {
            let p = c.pct().unwrap_or(0.0);
            (
                stage_name(*s),
                p,
                format!("{p:.1}%  ({} / {})", c.met, c.met + c.breached),
            )
        })
        .collect();
    body.push_str(&bars("时限达标率 SLA compliance per stage", &stages));
    let mut days: BTreeMap<String, u64> = BTreeMap::new();
    for ((d, _), n) in &f.by_day_channel {
        *days.entry(d.to_string()).or_default() += n;
    }
    let days: Vec<_> = days
        .into_iter()
        .map(|(d, n)| (d, n as f64, n.to_string()))
        .collect();
    body.push_str(&bars("每日投诉量 Daily volume", &days));
    let mut channels: BTreeMap<String, u64> = BTreeMap::new();
    for ((_, c), n) in &f.by_day_channel {
        *channels.entry(c.clone()).or_default() += n;
    }
    let mix = |m: &BTreeMap<String, u64>| -> Vec<(String, f64, String)> {
        m.iter()
            .map(|(k, n)| {
                (
                    k.clone(),
                    *n as f64,
                    format!("{n}  {}", pct(*n, f.complaints)),
                )
            })
            .collect()
    };
    body.push_str(&bars("渠道 Volume by channel", &mix(&channels)));
    body.push_str(&bars("分类 Category", &mix(&f.by_category)));
    body.push_str(&bars("优先级 Priority", &mix(&f.by_priority)));
    body.push_str("<h2>时限达标率 × 牵头部门 SLA compliance per stage and lead department</h2>");
    let rows: Vec<Vec<String>> = f
        .by_stage_lead
        .iter()
        .map(|((s, d), c)| {
            let mut r = compliance_row(stage_name(*s), c);
            r.insert(1, dept(d));
            r
        })
        .collect();
    body.push_str(&table(
        &[
            "stage 阶段",
            "lead 牵头部门",
            "met 达标",
            "breached 超时",
            "late 超时完成",
            "compliance 达标率",
        ],
        &rows,
    ));
    body.push_str(&ranking(f, &dept));
    let breaches: Vec<_> = f
        .breaches_by_day_lead
        .iter()
        .map(|((day, d), n)| (format!("{day} {}", dept(d)), *n as f64, n.to_string()))
        .collect();
    body.push_str(&bars("超时 Breaches per department and day", &breaches));
    body.push_str("<h2>在办投诉账龄 Ageing of open complaints</h2>");
    let mut head = vec!["stage 阶段"];
    head.extend(AGES);
    let stages_open: Vec<Stage> = {
        let mut v: Vec<Stage> = f.ageing.keys().map(|(s, _)| *s).collect();
        v.dedup();
        v
    };
    let rows: Vec<Vec<String>> = stages_open
        .iter()
        .map(|s| {
            let mut r = vec![stage_name(*s)];
            r.extend(
                AGES.iter()
                    .map(|a| f.ageing.get(&(*s, *a)).copied().unwrap_or(0).to_string()),
            );
            r
        })
        .collect();
    body.push_str(&table(&head, &rows));
    if !f.top_causes.is_empty() {
        let causes: Vec<_> = f
            .top_causes
            .iter()
            .map(|(c, k, n)| (format!("{c} ({k})"), *n as f64, n.to_string()))
            .collect();
        body.push_str(&bars("投诉原因 Top causes", &causes));
    }
    let dead = |m: &BTreeMap<String, u64>| -> Vec<(String, f64, String)> {
        m.iter()
            .map(|(k, n)| (k.clone(), *n as f64, n.to_string()))
            .collect()
    };
    body.push_str(&bars(
        "死信 Dead letters by reason",
        &dead(&f.dead_by_reason),
    ));
    body.push_str(&bars(
        "死信来源 Dead letters by source",
        &dead(&f.dead_by_source),
    ));
    page("投诉分析会 Complaint analysis", &body)
}

/// A whole page around `body`, in the report's style.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>{body}</body></html>\n",
        esc(title)
    )
}

const CSS: &str = "body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:2em;color:#222;max-width:70em}\
h1{margin-bottom:0}.p{color:#666}.k{display:flex;flex-wrap:wrap;gap:1em;margin:1.5em 0}\
.k div{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}.k b{display:block;font-size:1.6em}\
.k span{color:#666;font-size:.85em}figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.4em}\
.b{fill:#3b7dd8}.l{font-size:12px;fill:#333}.v{font-size:12px;fill:#333}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:.3em .6em;font-size:.9em;text-align:right}\
td:first-child,th:first-child,td:nth-child(2){text-align:left}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_are_cut_to_fit_left_of_the_bars() {
        assert_eq!(fit("光猫故障 modem fault", 42), "光猫故障 modem fault");
        let long = "局端设备故障 exchange equipment fault (technical)";
        let cut = fit(long, 42);
        assert!(
            cut.ends_with('…') && cut.starts_with("局端设备故障 exchange"),
            "{cut}"
        );
        let units: usize = cut.chars().map(width).sum();
        assert!(units <= 42, "{cut}: {units}");
    }
}
