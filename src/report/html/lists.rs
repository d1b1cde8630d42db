//! The page's lists of complaints: the at-risk list, the breached and the
//! reopened complaints and the dead letters, as tables the reader can sort
//! (click a heading) and filter (type in the box above), by a few lines of
//! script inside the page.

use super::{Names, esc};
use crate::model::{ComplaintRow, DeadLetter, Timestamp};
use crate::report::meeting::Meeting;
use std::fmt::Write;

/// Rows shown per list; the rest are counted, not shown.
const MAX_ROWS: usize = 500;

/// One cell: its text, and the value it sorts by when that differs (times,
/// durations).
pub(crate) struct Cell {
    text: String,
    sort: Option<String>,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell { text, sort: None }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_string())
    }
}

/// A sortable, filterable table of `rows` under `head`.
pub(crate) fn list(head: &[&str], rows: Vec<Vec<Cell>>) -> String {
    let total = rows.len();
    let mut t = String::from(
        "<input class=\"f\" type=\"search\" placeholder=\"筛选 filter…\"><table class=\"dd\"><thead><tr>",
    );
    for h in head {
        let _ = write!(t, "<th title=\"排序 sort\">{}</th>", esc(h));
    }
    t.push_str("</tr></thead><tbody>");
    for r in rows.into_iter().take(MAX_ROWS) {
        t.push_str("<tr>");
        for c in r {
            match c.sort {
                Some(v) => {
                    let _ = write!(t, "<td data-v=\"{}\">{}</td>", esc(&v), esc(&c.text));
                }
                None => {
                    let _ = write!(t, "<td>{}</td>", esc(&c.text));
                }
            }
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table>");
    if total > MAX_ROWS {
        let _ = write!(
            t,
            "<p class=\"p\">前 {MAX_ROWS} 条，共 {total} 条 (first {MAX_ROWS} of {total})</p>"
        );
    }
    t
}

/// Sorting and filtering of every `table.dd`, inline: the page stays one
/// file that opens anywhere.
pub(crate) const SCRIPT: &str = "for(const t of document.querySelectorAll('table.dd')){\
const f=t.previousElementSibling,b=t.tBodies[0];\
f.addEventListener('input',()=>{const q=f.value.toLowerCase();\
for(const r of b.rows)r.style.display=r.textContent.toLowerCase().includes(q)?'':'none'});\
t.tHead.querySelectorAll('th').forEach((h,c)=>h.addEventListener('click',()=>{\
const up=h.dataset.d!=='a';h.dataset.d=up?'a':'d';\
const key=r=>{const d=r.cells[c];return d.dataset.v??d.textContent};\
const rows=[...b.rows].sort((x,y)=>{const p=key(x),q=key(y),n=parseFloat(p)-parseFloat(q);\
const o=isNaN(n)?p.localeCompare(q):n;return up?o:-o});\
for(const r of rows)b.appendChild(r)}))}";

fn time(t: Timestamp, names: &Names) -> Cell {
    Cell {
        text: names.local(t),
        sort: Some(t.to_rfc3339()),
    }
}

/// Minutes as "3 h 05 min", sorting by the minutes.
fn duration(minutes: i64) -> Cell {
    let sign = if minutes < 0 { "−" } else { "" };
    let m = minutes.unsigned_abs();
    Cell {
        text: format!("{sign}{} h {:02} min", m / 60, m % 60),
        sort: Some(minutes.to_string()),
    }
}

/// The run's complaint's channel and category, "–" when the rows read
/// lack it (received before them).
fn complaint_cells(c: Option<&ComplaintRow>, names: &Names) -> [Cell; 2] {
    match c {
        Some(c) => [
            names.channel(&c.channel).into(),
            names.category(c.category).into(),
        ],
        None => ["–".into(), "–".into()],
    }
}

/// Open runs past their warning, by lead department then deadline.
pub(crate) fn at_risk(m: &Meeting, names: &Names) -> String {
    let mut runs = m.at_risk.clone();
    runs.sort_by(|a, b| a.0.lead_department.cmp(&b.0.lead_department));
    let rows = runs
        .into_iter()
        .map(|(r, c)| {
            let [channel, category] = complaint_cells(c, names);
            vec![
                names.department(&r.lead_department).into(),
                r.complaint_id.as_str().into(),
                names.stage(r.stage).into(),
                names.priority(r.priority).into(),
                time(r.deadline, names),
                duration(-r.minutes_late(m.now)),
                category,
                channel,
            ]
        })
        .collect();
    list(
        &[
            "lead 牵头部门",
            "complaint 投诉",
            "stage 阶段",
            "priority 优先级",
            "deadline 时限",
            "left 剩余 (− overdue 已超)",
            "category 分类",
            "channel 渠道",
        ],
        rows,
    )
}

/// The period's breached runs: how late they ended, or are at `now`.
pub(crate) fn breached(m: &Meeting, names: &Names) -> String {
    let rows = m
        .breached
        .iter()
        .map(|(r, c)| {
            let [channel, category] = complaint_cells(*c, names);
            let state = match r.ended_at {
                Some(_) => "ended 已完成",
                None => "running 未完成",
            };
            vec![
                r.complaint_id.as_str().into(),
                channel,
                category,
                names.priority(r.priority).into(),
                names.department(&r.lead_department).into(),
                names.stage(r.stage).into(),
                time(r.deadline, names),
                duration(r.minutes_late(m.now)),
                state.into(),
            ]
        })
        .collect();
    list(
        &[
            "complaint 投诉",
            "channel 渠道",
            "category 分类",
            "priority 优先级",
            "lead 牵头部门",
            "stage 阶段",
            "deadline 时限",
            "late 超时",
            "state 状态",
        ],
        rows,
    )
}

/// The period's reopened complaints.
pub(crate) fn reopened(m: &Meeting, names: &Names) -> String {
    let rows = m
        .reopened
        .iter()
        .map(|c| {
            let satisfied = match c.satisfied {
                Some(true) => "yes 满意",
                Some(false) => "no 不满意",
                None => "–",
            };
            vec![
                c.complaint_id.as_str().into(),
                names.channel(&c.channel).into(),
                names.category(c.category).into(),
                names.priority(c.priority).into(),
                names.department(&c.lead_department).into(),
                Cell::from(c.cycle.to_string()),
                satisfied.into(),
                format!("{} {}", c.status.zh(), c.status.as_str()).into(),
            ]
        })
        .collect();
    list(
        &[
            "complaint 投诉",
            "channel 渠道",
            "category 分类",
            "priority 优先级",
            "lead 牵头部门",
            "reopens 重复次数",
            "satisfied 满意",
            "status 状态",
        ],
        rows,
    )
}

/// The period's dead letters, masked (the analysts' view's masking).
pub(crate) fn dead_letters(letters: &[&DeadLetter], names: &Names) -> String {
    let rows = letters
        .iter()
        .map(|d| {
            let payload: String = d.payload.chars().take(160).collect();
            vec![
                time(d.at, names),
                d.source.as_str().into(),
                names.reason(d.code()).into(),
                d.reason.as_str().into(),
                payload.into(),
            ]
        })
        .collect();
    list(
        &[
            "at 时间",
            "source 来源",
            "reason 原因",
            "detail 详情",
            "payload 原始记录 (masked 已脱敏)",
        ],
        rows,
    )
}
