//! `rules/sla.toml`: the admin-editable SLA policy, parsed and validated.

use crate::core::SlaPolicy;
use crate::model::{Priority, Stage};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    warning_share: f64,
    #[serde(default = "default_skew")]
    max_clock_skew: String,
    #[serde(default = "default_lateness")]
    lateness: String,
    acknowledge: Targets,
    assign: Targets,
    handle: Targets,
    report: Targets,
    confirm: Targets,
}

fn default_skew() -> String {
    "5m".to_string()
}

fn default_lateness() -> String {
    "5m".to_string()
}

/// One duration for every priority, or one per priority.
#[derive(Deserialize)]
#[serde(untagged)]
enum Targets {
    All(String),
    PerPriority(PerPriority),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PerPriority {
    general: String,
    important: String,
    urgent: String,
}

fn seconds(stage: Stage, priority: Priority, text: &str) -> Result<u64, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("`{stage}.{priority}` = \"{text}\": {e}"))?;
    if d.as_secs() == 0 {
        return Err(format!("`{stage}.{priority}` must be at least one second"));
    }
    Ok(d.as_secs())
}

/// A duration setting in seconds, at most one day.
fn at_most_a_day(name: &str, text: &str) -> Result<u64, String> {
    let d = humantime::parse_duration(text).map_err(|e| format!("`{name}` = \"{text}\": {e}"))?;
    if d.as_secs() > 86_400 {
        return Err(format!("`{name}` must be at most 1 day, not {text}"));
    }
    Ok(d.as_secs())
}

/// Parses and validates the policy text.
pub fn parse(text: &str) -> Result<SlaPolicy, String> {
    let file: PolicyFile = toml::from_str(text).map_err(|e| e.to_string())?;
    if !(file.warning_share > 0.0 && file.warning_share < 1.0) {
        return Err(format!(
            "`warning_share` must be between 0 and 1 (exclusive), not {}",
            file.warning_share
        ));
    }
    let mut targets = [[0u64; 3]; 5];
    let stages = [
        file.acknowledge,
        file.assign,
        file.handle,
        file.report,
        file.confirm,
    ];
    for (stage, t) in Stage::ALL.iter().zip(stages) {
        let texts = match &t {
            Targets::All(s) => [s.as_str(); 3],
            Targets::PerPriority(p) => {
                [p.general.as_str(), p.important.as_str(), p.urgent.as_str()]
            }
        };
        for (priority, text) in Priority::ALL.iter().zip(texts) {
            targets[stage.index()][priority.index()] = seconds(*stage, *priority, text)?;
        }
    }
    // Beyond a day, a skew no longer catches a wrong clock, and breaches
    // that wait that long come too late to act on.
    let skew = at_most_a_day("max_clock_skew", &file.max_clock_skew)?;
    let lateness = at_most_a_day("lateness", &file.lateness)?;
    Ok(SlaPolicy {
        targets,
        warning_share: file.warning_share,
        max_clock_skew: skew,
        lateness,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_policy_is_the_regulation() {
        let p = parse(crate::rules::embedded::SLA_TOML).unwrap();
        assert_eq!(p, SlaPolicy::default());
    }

    #[test]
    fn refuses_bad_policies() {
        let good = crate::rules::embedded::SLA_TOML;
        assert!(
            parse(&good.replace("warning_share = 0.8", "warning_share = 1.5"))
                .unwrap_err()
                .contains("warning_share")
        );
        assert!(
            parse(&good.replace("\"24h\"", "\"soon\""))
                .unwrap_err()
                .contains("handle.general")
        );
        assert!(parse(&format!("{good}\nsurprise = 1\n")).is_err());
        assert!(
            parse(&good.replace("max_clock_skew = \"5m\"", "max_clock_skew = \"3d\""))
                .unwrap_err()
                .contains("max_clock_skew")
        );
        // Optional: files written before it existed keep loading.
        let without: String = good
            .lines()
            .filter(|l| !l.starts_with("max_clock_skew"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse(&without).unwrap().max_clock_skew, 300);
    }
}
