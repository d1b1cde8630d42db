//! What people read: one SLA event, or a digest of several, as text in
//! Chinese (then English, if configured). Pure; personal data masked as
//! in the analyst views.

use crate::model::{Category, SlaEvent, SlaKind};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;

/// A summary is cut to this many characters.
pub const SUMMARY_CHARS: usize = 60;

/// What the notifier knows of a complaint beside its SLA events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    pub category: Option<Category>,
    /// The first words of the description, masked and cut.
    pub summary: Option<String>,
}

/// One event to tell people about, with what it is about.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    #[serde(flatten)]
    pub event: SlaEvent,
    pub category: Option<Category>,
    pub summary: Option<String>,
}

/// Masks e-mail addresses and Chinese mobile and landline numbers, as
/// `mask_sql` does for analysts, and cuts to [`SUMMARY_CHARS`].
pub fn summary_of(description: &str) -> String {
    let one_line: String = description.split_whitespace().collect::<Vec<_>>().join(" ");
    let masked = crate::model::personal::mask(&one_line);
    let mut out: String = masked.chars().take(SUMMARY_CHARS).collect();
    if masked.chars().count() > SUMMARY_CHARS {
        out.push('…');
    }
    out
}

/// Department names for people, from the rules' departments.toml.
pub type Departments = BTreeMap<String, String>;

fn department(id: &str, names: &Departments) -> String {
    match names.get(id) {
        Some(zh) => format!("{zh} ({id})"),
        None => id.to_string(),
    }
}

fn headline(n: &Notice) -> (&'static str, &'static str) {
    let e = &n.event;
    match e.kind {
        SlaKind::Escalated if e.is_urgent_escalation() => (
            "紧急投诉 启动应急处理",
            "Urgent complaint: emergency handling",
        ),
        SlaKind::Escalated => ("超时升级", "Escalated after a breach"),
        SlaKind::Retracted => ("更正: 超时已撤销", "Correction: the breach is retracted"),
        SlaKind::Breached => ("已超时", "Breached"),
        SlaKind::Warning => ("即将超时", "Deadline near"),
        SlaKind::Late => ("超时完成", "Done late"),
        _ => (e.kind.zh(), ""),
    }
}

/// The text of one notice: a title line and detail lines.
pub fn text(n: &Notice, zone: Tz, english: bool, names: &Departments) -> (String, String) {
    let e = &n.event;
    let (zh, en) = headline(n);
    let title = format!("【{zh}】{} {}", e.priority.zh(), e.complaint_id);
    let deadline = e.deadline.with_timezone(&zone).format("%Y-%m-%d %H:%M");
    let category = n.category.map_or("未知", |c| c.zh());
    let mut body = format!(
        "投诉 {id} · 第{cycle}轮\n优先级: {pri} · 类别: {category}\n环节: {stage} · 截止: {deadline} ({zone})\n牵头部门: {dept}\n",
        id = e.complaint_id,
        cycle = e.cycle,
        pri = e.priority.zh(),
        stage = e.stage.zh(),
        dept = department(&e.lead_department, names),
    );
    if let Some(s) = &n.summary {
        body.push_str(&format!("摘要: {s}\n"));
    }
    if e.kind == SlaKind::Retracted {
        body.push_str("此前的超时通知作废: 迟到的记录表明该环节按时完成。\n");
    }
    if english {
        body.push_str(&format!(
            "\n{en}: complaint {id}, cycle {cycle}, {pri} {cat}, stage {stage}, deadline {deadline} ({zone}), lead {dept}.\n",
            en = if en.is_empty() { e.kind.as_str() } else { en },
            id = e.complaint_id,
            cycle = e.cycle,
            pri = e.priority.as_str(),
            cat = n.category.map_or("unknown category", |c| c.as_str()),
            stage = e.stage.as_str(),
            dept = e.lead_department,
        ));
    }
    body.push_str(&format!("事件 {}", e.event_id));
    (title, body)
}

/// A digest's text: counts by kind and priority, then one line per notice
/// up to `lines` (robots cap a message's size), then how many more.
pub fn digest_text(notices: &[Notice], zone: Tz, english: bool, lines: usize) -> (String, String) {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for n in notices {
        *counts
            .entry((n.event.priority.zh(), headline(n).0))
            .or_default() += 1;
    }
    let title = format!("【投诉提醒汇总】{} 条", notices.len());
    let mut body = String::new();
    for ((pri, what), k) in &counts {
        body.push_str(&format!("{pri} · {what}: {k} 条\n"));
    }
    for n in notices.iter().take(lines) {
        let e = &n.event;
        body.push_str(&format!(
            "- {} {} {} 截止 {}\n",
            e.complaint_id,
            e.stage.zh(),
            headline(n).0,
            e.deadline.with_timezone(&zone).format("%m-%d %H:%M")
        ));
    }
    if notices.len() > lines {
        body.push_str(&format!("… 另有 {} 条\n", notices.len() - lines));
    }
    if english {
        body.push_str(&format!(
            "\nDigest of {} notices (the channel's rate limit folds a burst).\n",
            notices.len()
        ));
    }
    (title, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, Stage};

    fn notice(kind: SlaKind, detail: &str) -> Notice {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        Notice {
            event: SlaEvent {
                event_id: format!("C-7:1:acknowledge:{}{detail}", kind.as_str()),
                complaint_id: "C-7".into(),
                stage: Stage::Acknowledge,
                cycle: 1,
                kind,
                deadline: at,
                at,
                priority: Priority::Urgent,
                lead_department: "technical".into(),
            },
            category: Some(Category::Technical),
            summary: Some(summary_of("张先生 13812345678 a@b.cn 整栋楼断网")),
        }
    }

    #[test]
    fn personal_data_is_masked_and_the_summary_cut() {
        assert_eq!(
            summary_of("张先生 13812345678 a@b.cn 整栋楼断网"),
            "张先生 *** ***@*** 整栋楼断网"
        );
        let long = "断".repeat(100);
        assert_eq!(summary_of(&long).chars().count(), SUMMARY_CHARS + 1);
    }

    #[test]
    fn an_urgent_escalation_reads_in_local_time() {
        let names = Departments::from([("technical".into(), "技术部门".into())]);
        let zone: Tz = "Asia/Shanghai".parse().unwrap();
        let (title, body) = text(&notice(SlaKind::Escalated, ":urgent"), zone, true, &names);
        assert_eq!(title, "【紧急投诉 启动应急处理】紧急 C-7");
        // 2023-11-14 22:13 UTC is 06:13 the next day in Shanghai.
        assert!(
            body.contains("截止: 2023-11-15 06:13 (Asia/Shanghai)"),
            "{body}"
        );
        assert!(body.contains("牵头部门: 技术部门 (technical)"), "{body}");
        assert!(body.contains("Urgent complaint"), "{body}");
        assert!(!body.contains("13812345678"), "{body}");
    }

    #[test]
    fn a_digest_counts_and_caps_its_lines() {
        let zone: Tz = "UTC".parse().unwrap();
        let all: Vec<Notice> = (0..5).map(|_| notice(SlaKind::Breached, "")).collect();
        let (title, body) = digest_text(&all, zone, false, 2);
        assert_eq!(title, "【投诉提醒汇总】5 条");
        assert!(body.contains("紧急 · 已超时: 5 条"), "{body}");
        assert!(body.contains("… 另有 3 条"), "{body}");
    }
}
