//! `rules/sla.toml`: the admin-editable SLA policy, parsed and validated.

use crate::core::SlaPolicy;
use crate::core::sla::{MAX_EVENT_BYTES_LIMIT, MAX_TARGET_SECS};
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
    #[serde(default)]
    earliest_event_time: Option<String>,
    #[serde(default)]
    max_event_bytes: Option<usize>,
    acknowledge: Option<toml::Value>,
    assign: Option<toml::Value>,
    #[serde(default)]
    respond: Option<toml::Value>,
    handle: Option<toml::Value>,
    report: Option<toml::Value>,
    confirm: Option<toml::Value>,
    /// Percent per stage name; stages left out keep the default.
    #[serde(default)]
    compliance_targets: std::collections::BTreeMap<String, f64>,
}

fn default_skew() -> String {
    "5m".to_string()
}

fn default_lateness() -> String {
    "5m".to_string()
}

/// A stage's targets: one duration for every priority (`"24h"`), or a table
/// per priority. Only `respond` may leave a priority out (no first-answer
/// clock for it).
fn stage_targets(stage: Stage, value: Option<&toml::Value>) -> Result<[u64; 3], String> {
    let optional = stage == Stage::Respond;
    let names: Vec<&str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
    let Some(value) = value else {
        return if optional {
            Ok([0; 3])
        } else {
            Err(format!(
                "stage `{stage}` is missing: give it a target, like `{stage} = \"30m\"`"
            ))
        };
    };
    let mut out = [0u64; 3];
    match value {
        toml::Value::String(text) => {
            let secs = target_secs(text).map_err(|e| format!("`{stage}` = \"{text}\": {e}"))?;
            out = [secs; 3];
        }
        toml::Value::Table(table) => {
            for (key, v) in table {
                let Some(priority) = Priority::parse(key) else {
                    return Err(format!(
                        "`{stage}.{key}` is not a priority; use {}",
                        names.join(", ")
                    ));
                };
                let text = v
                    .as_str()
                    .ok_or_else(|| format!("`{stage}.{key}` must be a duration like \"24h\""))?;
                out[priority.index()] = seconds(stage, priority, text)?;
            }
            if !optional && let Some(p) = Priority::ALL.iter().find(|p| out[p.index()] == 0) {
                return Err(format!(
                    "`{stage}.{p}` is missing: every priority needs a target"
                ));
            }
        }
        _ => {
            return Err(format!(
                "`{stage}` must be a duration like \"24h\" or a table of {}",
                names.join(", ")
            ));
        }
    }
    Ok(out)
}

/// A stage target: from one second to [`MAX_TARGET_SECS`] (a year).
pub fn target_secs(text: &str) -> Result<u64, String> {
    let secs = humantime::parse_duration(text)
        .map_err(|e| e.to_string())?
        .as_secs();
    check_target(secs)
}

/// Checks a target in seconds against its bounds.
pub fn check_target(secs: u64) -> Result<u64, String> {
    if secs == 0 {
        return Err("must be at least one second".into());
    }
    if secs > MAX_TARGET_SECS {
        return Err(format!(
            "must be at most 366 days ({MAX_TARGET_SECS} s), not {secs} s"
        ));
    }
    Ok(secs)
}

fn seconds(stage: Stage, priority: Priority, text: &str) -> Result<u64, String> {
    target_secs(text).map_err(|e| format!("`{stage}.{priority}` = \"{text}\": {e}"))
}

/// A duration setting in seconds, at most one day.
fn at_most_a_day(name: &str, text: &str) -> Result<u64, String> {
    let d = humantime::parse_duration(text).map_err(|e| format!("`{name}` = \"{text}\": {e}"))?;
    if d.as_secs() > 86_400 {
        return Err(format!("`{name}` must be at most 1 day, not {text}"));
    }
    Ok(d.as_secs())
}

/// The `[compliance_targets]` table: a stage name and a percent in (0, 100].
fn compliance_targets(
    table: &std::collections::BTreeMap<String, f64>,
) -> Result<[f64; Stage::COUNT], String> {
    let mut out = SlaPolicy::default().compliance_targets;
    for (name, pct) in table {
        let Some(stage) = Stage::ALL.iter().find(|s| s.as_str() == name) else {
            let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
            return Err(format!(
                "`compliance_targets.{name}` is not a stage; use {}",
                names.join(", ")
            ));
        };
        if !(*pct > 0.0 && *pct <= 100.0) {
            return Err(format!(
                "`compliance_targets.{name}` must be a percent in (0, 100], not {pct}"
            ));
        }
        out[stage.index()] = *pct;
    }
    Ok(out)
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
    let mut targets = [[0u64; 3]; Stage::COUNT];
    for stage in Stage::ALL {
        let value = match stage {
            Stage::Acknowledge => file.acknowledge.as_ref(),
            Stage::Assign => file.assign.as_ref(),
            Stage::Respond => file.respond.as_ref(),
            Stage::Handle => file.handle.as_ref(),
            Stage::Report => file.report.as_ref(),
            Stage::Confirm => file.confirm.as_ref(),
        };
        targets[stage.index()] = stage_targets(*stage, value)?;
    }
    // Beyond a day, a skew no longer catches a wrong clock, and breaches
    // that wait that long come too late to act on.
    let skew = at_most_a_day("max_clock_skew", &file.max_clock_skew)?;
    let lateness = at_most_a_day("lateness", &file.lateness)?;
    let defaults = SlaPolicy::default();
    let earliest_event_time = match &file.earliest_event_time {
        None => defaults.earliest_event_time,
        Some(text) => {
            let t = crate::model::time::offset::parse(text)
                .map_err(|e| format!("`earliest_event_time`: {e}"))?
                .to_utc();
            // ClickHouse's DateTime64 starts in 1900; the year is a sanity bound.
            if !(1970..=2100).contains(&chrono::Datelike::year(&t)) {
                return Err(format!(
                    "`earliest_event_time` must lie between 1970 and 2100, not {text}"
                ));
            }
            t
        }
    };
    let max_event_bytes = file.max_event_bytes.unwrap_or(defaults.max_event_bytes);
    if !(1024..=MAX_EVENT_BYTES_LIMIT).contains(&max_event_bytes) {
        return Err(format!(
            "`max_event_bytes` must be between 1024 and {MAX_EVENT_BYTES_LIMIT}, not {max_event_bytes}"
        ));
    }
    let compliance_targets = compliance_targets(&file.compliance_targets)?;
    Ok(SlaPolicy {
        compliance_targets,
        targets,
        warning_share: file.warning_share,
        max_clock_skew: skew,
        lateness,
        earliest_event_time,
        max_event_bytes,
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
    fn compliance_targets_default_per_stage_and_are_percents() {
        let shipped = crate::rules::embedded::SLA_TOML;
        let (without, _) = shipped
            .split_once("[compliance_targets]")
            .expect("the shipped policy sets its targets");
        let p = parse(&format!("{without}[compliance_targets]\nhandle = 80\n")).unwrap();
        assert_eq!(p.compliance_target(Stage::Handle), 80.0);
        let default = SlaPolicy::default().compliance_target(Stage::Acknowledge);
        assert_eq!(p.compliance_target(Stage::Acknowledge), default);
        let bad = parse(&format!("{without}[compliance_targets]\nhandle = 190\n")).unwrap_err();
        assert!(bad.contains("compliance_targets.handle"), "{bad}");
        let typo = parse(&format!("{without}[compliance_targets]\nhandel = 90\n")).unwrap_err();
        assert!(typo.contains("not a stage"), "{typo}");
    }

    #[test]
    fn refuses_bad_policies() {
        let good = crate::rules::embedded::SLA_TOML;
        assert!(
            parse(&good.replace("warning_share = 0.8", "warning_share = 1.5"))
                .unwrap_err()
                .contains("warning_share")
        );
        let soon = parse(&good.replace("\"24h\"", "\"soon\"")).unwrap_err();
        assert!(soon.contains("`handle` = \"soon\""), "{soon}");
        // A typo under a stage names the key and the valid priorities.
        let typo = parse(&good.replace("important = \"12h\"", "importnat = \"12h\"")).unwrap_err();
        assert_eq!(
            typo,
            "`respond.importnat` is not a priority; use general, important, urgent"
        );
        let missing: String = good
            .lines()
            .filter(|l| !l.starts_with("report"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            parse(&missing)
                .unwrap_err()
                .starts_with("stage `report` is missing")
        );
        assert!(parse(&format!("{good}\nsurprise = 1\n")).is_err());
        let years = parse(&good.replace("\"24h\"", "\"2629800000h\"")).unwrap_err();
        assert!(
            years.contains("`handle`") && years.contains("366 days"),
            "{years}"
        );
        assert!(parse(&good.replace("\"10m\"", "\"0s\"")).is_err());
        assert!(
            parse(&good.replace("max_event_bytes = 262144", "max_event_bytes = 100000000"))
                .unwrap_err()
                .contains("max_event_bytes")
        );
        assert!(
            parse(&good.replace("2000-01-01T00:00:00Z", "2000-01-01 00:00:00"))
                .unwrap_err()
                .contains("earliest_event_time")
        );
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
