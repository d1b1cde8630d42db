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
    Ok(SlaPolicy {
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
        let years = parse(&good.replace("\"24h\"", "\"2629800000h\"")).unwrap_err();
        assert!(
            years.contains("handle.general") && years.contains("366 days"),
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
