//! A compiled, validated, immutable ruleset. Reloads build a new one and
//! swap it in; a live one is never changed.

use super::engine::{self, ENTRY};
use super::fixtures::{self, FixtureCase};
use super::policy;
use crate::core::decision::{DecisionInput, RuleDecision, Rules};
use crate::core::SlaPolicy;
use crate::model::Timestamp;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Why a ruleset could not be loaded. All are fatal for that load: the
/// admin must fix the files; a running service keeps its previous rules.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no rule scripts (*.rhai) in {0}")]
    NoScripts(String),
    #[error("{file}: {message}")]
    Compile { file: String, message: String },
    #[error("no script defines `fn {ENTRY}(c)`")]
    MissingEntry,
    #[error("sla.toml: {0}")]
    Policy(String),
    #[error("{file}: {message}")]
    Fixture { file: String, message: String },
    #[error("{failed} of {total} fixture cases fail")]
    FixturesFailed { failed: usize, total: usize },
}

/// Scripts, policy and fixtures of one version of `rules/`.
pub struct RuleSet {
    ast: rhai::AST,
    policy: SlaPolicy,
    version: String,
    fixtures: Vec<FixtureCase>,
    /// Where it came from: a directory, or "embedded".
    pub origin: String,
    pub loaded_at: Timestamp,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet").field("version", &self.version).field("origin", &self.origin).finish()
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, RulesError> {
    let io = |source| RulesError::Io { path: dir.to_path_buf(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        paths.push(entry.map_err(io)?.path());
    }
    paths.sort();
    Ok(paths)
}

impl RuleSet {
    /// Loads `dir`: `*.rhai`, `sla.toml`, `tests/*.json`.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RulesError> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|source| RulesError::Io { path: p.to_path_buf(), source });
        let mut files = Vec::new();
        for p in read_dir_sorted(dir)? {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            if name.ends_with(".rhai") || name == "sla.toml" {
                files.push((name, read(&p)?));
            }
        }
        let tests = dir.join("tests");
        if tests.is_dir() {
            for p in read_dir_sorted(&tests)? {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                if name.ends_with(".json") {
                    files.push((format!("tests/{name}"), read(&p)?));
                }
            }
        }
        Self::from_files(&dir.display().to_string(), &files)
    }

    /// The ruleset shipped inside the binary.
    pub fn embedded() -> RuleSet {
        let files: Vec<(String, String)> =
            super::embedded::FILES.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect();
        Self::from_files("embedded", &files).expect("the shipped rules are valid (tested)")
    }

    /// Compiles and validates rule files given as `(relative path, text)`.
    pub fn from_files(origin: &str, files: &[(String, String)]) -> Result<RuleSet, RulesError> {
        let mut hasher = Sha256::new();
        let mut ast: Option<rhai::AST> = None;
        let mut policy_text = None;
        let mut fixtures = Vec::new();
        for (path, text) in files {
            if path.starts_with("tests/") {
                fixtures.extend(fixtures::parse(path, text)?);
                continue;
            }
            // Only what changes decisions or clocks makes the version.
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update(text.as_bytes());
            hasher.update([0]);
            if path.ends_with(".rhai") {
                let compiled = engine::sandbox()
                    .compile(text)
                    .map_err(|e| RulesError::Compile { file: path.clone(), message: e.to_string() })?;
                ast = Some(match ast {
                    None => compiled,
                    Some(a) => a.merge(&compiled),
                });
            } else if path == "sla.toml" {
                policy_text = Some(text);
            }
        }
        let ast = ast.ok_or_else(|| RulesError::NoScripts(origin.to_string()))?;
        if !ast.iter_functions().any(|f| f.name == ENTRY && f.params.len() == 1) {
            return Err(RulesError::MissingEntry);
        }
        let policy = match policy_text {
            Some(t) => policy::parse(t).map_err(RulesError::Policy)?,
            None => SlaPolicy::default(),
        };
        let digest = hasher.finalize();
        let version: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(RuleSet { ast, policy, version, fixtures, origin: origin.to_string(), loaded_at: chrono::Utc::now() })
    }

    /// The fixture cases that came with the rules.
    pub fn fixtures(&self) -> &[FixtureCase] {
        &self.fixtures
    }

    /// Runs `decide`, reporting a rule error instead of falling back.
    pub fn try_decide(&self, input: &DecisionInput<'_>) -> Result<RuleDecision, String> {
        engine::run_decide(&self.ast, input)
    }
}

impl Rules for RuleSet {
    fn decide(&self, input: &DecisionInput<'_>) -> RuleDecision {
        match self.try_decide(input) {
            Ok(d) => d,
            Err(why) => {
                metrics::counter!("complaintflow_rule_errors_total").increment(1);
                tracing::warn!(complaint_id = input.complaint_id, ruleset_version = %self.version, error = %why, "rule failed; fallback decision");
                RuleDecision::fallback(&why)
            }
        }
    }

    fn policy(&self) -> &SlaPolicy {
        &self.policy
    }

    fn version(&self) -> &str {
        &self.version
    }
}
