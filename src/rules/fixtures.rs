//! Fixture cases in `rules/tests/*.json`: a complaint and the decision the
//! rules must make for it. `rules test` and every reload run them.

use crate::core::decision::{CurrentRouting, DecisionInput, RuleDecision};
use crate::model::event::Received;
use crate::model::{Category, Priority};
use serde::Deserialize;

/// One case: input complaint and expected decision fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureCase {
    pub name: String,
    pub complaint: Received,
    /// Reopen cycle the decision is for (0 = first decision).
    #[serde(default)]
    pub cycle: u32,
    #[serde(default)]
    pub previous_priority: Option<Priority>,
    #[serde(default)]
    pub comment: Option<String>,
    /// On a reopen: the routing the complaint has (`lead`, `assist`,
    /// `by_group`).
    #[serde(default)]
    pub assigned: Option<Assignment>,
    pub expect: Expect,
    #[serde(skip)]
    pub file: String,
}

/// A complaint's routing before a reopen, for a fixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub lead: String,
    #[serde(default)]
    pub assist: Vec<std::sync::Arc<str>>,
    #[serde(default)]
    pub by_group: bool,
}

/// Fields the decision must have; absent ones are not checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub lead_department: Option<String>,
    pub assist_departments: Option<Vec<String>>,
    pub coordination_required: Option<bool>,
}

/// A failing case: which fields differ, or the rule's error.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub file: String,
    pub name: String,
    /// `(field, expected, got)`.
    pub diffs: Vec<(&'static str, String, String)>,
    pub error: Option<String>,
    /// The decision's reason, to see why the rules decided as they did.
    pub reason: Option<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "FAIL {} :: {}", self.file, self.name)?;
        if let Some(e) = &self.error {
            writeln!(f, "    rule error: {e}")?;
        }
        for (field, expected, got) in &self.diffs {
            writeln!(f, "    {field}: expected {expected}, got {got}")?;
        }
        if let Some(r) = self.reason.as_ref().filter(|_| !self.diffs.is_empty()) {
            writeln!(f, "    reason: {r}")?;
        }
        Ok(())
    }
}

/// Parses one fixture file (a JSON array of cases).
pub fn parse(file: &str, text: &str) -> Result<Vec<FixtureCase>, String> {
    let mut cases: Vec<FixtureCase> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for c in &mut cases {
        c.file = file.to_string();
    }
    Ok(cases)
}

/// Notes a differing field, both sides written as the contract writes
/// them (`"technical"`, not `Technical`).
fn check<T: PartialEq + serde::Serialize>(
    diffs: &mut Vec<(&'static str, String, String)>,
    field: &'static str,
    expected: &Option<T>,
    got: &T,
) {
    let text = |v: &T| serde_json::to_string(v).unwrap_or_default();
    if let Some(e) = expected.as_ref().filter(|e| *e != got) {
        diffs.push((field, text(e), text(got)));
    }
}

/// Runs every case through `decide`; returns the failures.
pub fn run(
    cases: &[FixtureCase],
    decide: impl Fn(&DecisionInput<'_>) -> Result<RuleDecision, String>,
) -> Vec<Failure> {
    let received_at = chrono::DateTime::UNIX_EPOCH;
    let mut failures = Vec::new();
    for case in cases {
        let input = DecisionInput {
            complaint_id: &case.name,
            received: &case.complaint,
            received_at,
            cycle: case.cycle,
            previous_priority: case.previous_priority,
            comment: case.comment.as_deref(),
            current: case.assigned.as_ref().map(|a| CurrentRouting {
                lead: &a.lead,
                assist: &a.assist,
                by_group: a.by_group,
            }),
        };
        let mut failure = Failure {
            file: case.file.clone(),
            name: case.name.clone(),
            diffs: Vec::new(),
            error: None,
            reason: None,
        };
        match decide(&input) {
            Err(e) => failure.error = Some(e),
            Ok(d) => {
                failure.reason = Some(d.reason.clone());
                let e = &case.expect;
                check(&mut failure.diffs, "category", &e.category, &d.category);
                check(&mut failure.diffs, "priority", &e.priority, &d.priority);
                check(
                    &mut failure.diffs,
                    "lead_department",
                    &e.lead_department,
                    &d.lead_department,
                );
                check(
                    &mut failure.diffs,
                    "assist_departments",
                    &e.assist_departments,
                    &d.assist_departments,
                );
                check(
                    &mut failure.diffs,
                    "coordination_required",
                    &e.coordination_required,
                    &d.coordination_required,
                );
            }
        }
        if failure.error.is_some() || !failure.diffs.is_empty() {
            failures.push(failure);
        }
    }
    failures
}
