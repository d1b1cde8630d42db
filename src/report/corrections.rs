//! The complaint handling group's corrections of the rules: complaints
//! whose routing the group changed (`complaint.assigned` naming another
//! lead, other assisting departments or another priority than the rules'
//! first decision). `rules learn` trains on them, labelled by the group's
//! routing;
//! `rules corrections` shows them to admins, grouped by the evidence that
//! misled the rules.

use super::{ReportError, fetch_rows};
use crate::config::ClickHouseConfig;
use serde::Deserialize;

/// One re-routing by the group.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Correction {
    pub complaint_id: String,
    pub channel: String,
    pub impact: String,
    pub description: String,
    /// The rules' first decision.
    pub category: String,
    pub priority: String,
    pub rules_lead: String,
    pub rules_assist: Vec<String>,
    pub reason: String,
    pub ruleset_version: String,
    /// The group's latest routing.
    pub group_lead: String,
    pub group_assist: Vec<String>,
    /// The priority the group last gave, empty when it gave none or the
    /// complaint was reopened (a reopen raises the priority by rule, so a
    /// later cycle's priority says nothing about the first decision's).
    pub group_priority: String,
    /// When the group routed it (UTC, `YYYY-MM-DD hh:mm:ss.sss`).
    pub assigned_at: String,
}

/// The corrections whose latest assignment falls on the local days
/// `from..=to` in `zone` (either end open).
pub async fn read(
    cfg: &ClickHouseConfig,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    zone: &str,
) -> Result<Vec<Correction>, ReportError> {
    let client = crate::sink::clickhouse::client(cfg)?.with_database(&cfg.database);
    let period = super::local_days("a.assigned_at", from, to, zone);
    // The latest assignment of each complaint is the group's routing; the
    // first decision (cycle 0) is what the rules said before anyone looked.
    // An unsatisfied confirmation reopens the complaint: its priorities are
    // then the later cycles', not corrections of the first.
    let sql = format!(
        "SELECT r.complaint_id AS complaint_id, r.channel AS channel, r.impact AS impact,
                JSONExtractString(r.payload, 'description') AS description,
                d.category AS category, d.priority AS priority,
                d.lead_department AS rules_lead,
                d.assist_departments AS rules_assist, d.reason AS reason,
                d.ruleset_version AS ruleset_version,
                a.lead AS group_lead, a.assist AS group_assist,
                a.group_priority AS group_priority,
                toString(a.assigned_at) AS assigned_at
         FROM (SELECT complaint_id,
                      argMaxIf(lead_department, occurred_at, {assigned}) AS lead,
                      argMaxIf(JSONExtract(payload, 'assist_departments', 'Array(String)'),
                               occurred_at, {assigned}) AS assist,
                      maxIf(occurred_at, {assigned}) AS assigned_at,
                      if(countIf(type = 'complaint.customer_confirmed' AND satisfied = false) = 0,
                         argMaxIf(priority, occurred_at, {assigned} AND priority != ''),
                         '') AS group_priority
               FROM events FINAL
               WHERE type IN ('complaint.assigned', 'complaint.customer_confirmed') AND refused = 0
               GROUP BY complaint_id
               HAVING countIf({assigned}) > 0) AS a
         INNER JOIN (SELECT complaint_id, channel, impact, payload FROM events FINAL
                     WHERE type = 'complaint.received' AND refused = 0) AS r
            ON r.complaint_id = a.complaint_id
         INNER JOIN (SELECT * FROM decisions FINAL WHERE cycle = 0) AS d
            ON d.complaint_id = a.complaint_id
         WHERE (a.lead != d.lead_department
                OR arraySort(a.assist) != arraySort(arrayMap(x -> toString(x), d.assist_departments))
                OR (a.group_priority != '' AND a.group_priority != toString(d.priority)))
           AND {period}
         ORDER BY a.assigned_at, r.complaint_id",
        assigned = "type = 'complaint.assigned'"
    );
    fetch_rows(&client, &sql).await
}

/// The category evidence a decision's reason names: the quoted words
/// after `evidence` up to the next `;` (the shipped rules write
/// `technical (evidence "断网" "光猫"; scores ...)`); "no keyword" when it
/// names none (the model's vote decided), the reason's first clause when it
/// has no evidence part (a fallback, other rules).
pub fn evidence(reason: &str) -> String {
    let named = reason
        .split_once("evidence")
        .map(|(_, rest)| rest.split(';').next().unwrap_or(""));
    let words: Vec<&str> = named
        .unwrap_or("")
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|w| !w.is_empty())
        .collect();
    match (named, words.is_empty()) {
        (_, false) => words.join(", "),
        (Some(_), true) => "no keyword".to_string(),
        (None, true) => reason.split(';').next().unwrap_or("").trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn evidence_is_the_quoted_words_of_the_reason() {
        assert_eq!(
            super::evidence(
                r#"technical (evidence "电视" "信号"; scores technical 4, business 0, other 0 with the model's technical 0.95); important (repeat: "第二次")"#
            ),
            "电视, 信号"
        );
        assert_eq!(
            super::evidence(
                "other (evidence no keyword; scores technical 0); general (single customer)"
            ),
            "no keyword"
        );
        assert_eq!(
            super::evidence("fallback: rules failed (x); y"),
            "fallback: rules failed (x)"
        );
    }
}
