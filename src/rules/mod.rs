//! Admin-edited rules: Rhai scripts and the SLA policy in `rules/`, compiled
//! into an immutable [`RuleSet`], tested with fixtures, hot-reloaded by swap.

pub mod corpus;
pub mod embedded;
pub mod engine;
pub mod features;
pub mod fixtures;
pub mod keywords;
pub mod logistic;
pub mod memo;
pub mod model;
mod model_file;
pub mod policy;
pub mod reload;
pub mod ruleset;
pub mod subject;
pub mod words;

pub use ruleset::{RuleSet, RulesError};
