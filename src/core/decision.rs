//! The interface between the lifecycle and the rules: what a rule sees and
//! what it decides. The Rhai engine in `crate::rules` implements [`Rules`].

use super::sla::SlaPolicy;
use crate::model::event::Received;
use crate::model::{Category, Priority, Stage, Timestamp};
use std::collections::BTreeMap;

/// What the rules receive for one decision.
#[derive(Debug, Clone, Copy)]
pub struct DecisionInput<'a> {
    pub complaint_id: &'a str,
    pub received: &'a Received,
    pub received_at: Timestamp,
    /// 0 for the first decision, then +1 per reopen.
    pub cycle: u32,
    /// Priority of the previous cycle, on a reopen.
    pub previous_priority: Option<Priority>,
    /// The customer's comment when not satisfied, on a reopen.
    pub comment: Option<&'a str>,
    /// The routing the complaint has, on a reopen: the responsible
    /// departments the regulation sends it back to.
    pub current: Option<CurrentRouting<'a>>,
}

/// A complaint's routing when the rules run again.
#[derive(Debug, Clone, Copy)]
pub struct CurrentRouting<'a> {
    pub lead: &'a str,
    pub assist: &'a [std::sync::Arc<str>],
    /// Set by the complaint handling group (`complaint.assigned`), not by
    /// the rules.
    pub by_group: bool,
}

/// A routing decision.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDecision {
    pub category: Category,
    pub priority: Priority,
    pub lead_department: String,
    pub assist_departments: Vec<String>,
    /// The complaint handling group must decide the assignment.
    pub coordination_required: bool,
    pub reason: String,
    /// Per-complaint SLA targets in seconds, overriding the policy.
    pub sla_overrides: BTreeMap<Stage, u64>,
}

/// Department that takes complaints the rules could not decide.
pub const FALLBACK_DEPARTMENT: &str = "customer_service";

impl RuleDecision {
    /// The safe decision when a rule fails: customer service leads and the
    /// complaint handling group decides.
    pub fn fallback(why: &str) -> RuleDecision {
        RuleDecision {
            category: Category::Other,
            priority: Priority::General,
            lead_department: FALLBACK_DEPARTMENT.to_string(),
            assist_departments: Vec::new(),
            coordination_required: true,
            reason: format!("fallback: rules failed ({why})"),
            sla_overrides: BTreeMap::new(),
        }
    }
}

/// A ruleset: decisions, the SLA policy, and the version that identifies both.
pub trait Rules {
    /// Decides one complaint. Never fails: errors give [`RuleDecision::fallback`].
    fn decide(&self, input: &DecisionInput<'_>) -> RuleDecision;
    /// The SLA policy that goes with these rules.
    fn policy(&self) -> &SlaPolicy;
    /// Content hash of the ruleset.
    fn version(&self) -> &str;
}
