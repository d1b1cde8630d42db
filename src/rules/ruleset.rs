//! A compiled, validated, immutable ruleset. Reloads build a new one and
//! swap it in; a live one is never changed.

use super::engine::{self, ENTRY};
use super::fixtures::{self, FixtureCase};
use super::keywords::Keywords;
use super::memo::Memo;
use super::model::{self, Model};
use super::policy;
use super::subject::Subject;
use crate::core::SlaPolicy;
use crate::core::decision::{DecisionInput, FALLBACK_DEPARTMENT, RuleDecision, Rules};
use crate::model::Timestamp;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Why a ruleset could not be loaded. All are fatal for that load: the
/// admin must fix the files; a running service keeps its previous rules.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no rule scripts (*.rhai) in {0}")]
    NoScripts(String),
    #[error("{file}: {message}")]
    Compile { file: String, message: String },
    #[error("no script defines `fn {ENTRY}(c)`")]
    MissingEntry,
    #[error("sla.toml: {0}")]
    Policy(String),
    #[error("keywords.toml: {0}")]
    Keywords(String),
    #[error("{file}: {0}", file = model::FILE)]
    Model(String),
    #[error("departments.toml: {0}")]
    Departments(String),
    #[error("{file}: {message}")]
    Fixture { file: String, message: String },
    #[error("{failed} of {total} fixture cases fail")]
    FixturesFailed { failed: usize, total: usize },
}

/// Scripts, policy and fixtures of one version of `rules/`.
pub struct RuleSet {
    ast: rhai::AST,
    policy: SlaPolicy,
    keywords: Arc<Keywords>,
    model: Option<Arc<Model>>,
    version: String,
    fixtures: Vec<FixtureCase>,
    departments: Option<BTreeMap<String, String>>,
    /// Where it came from: a directory, or "embedded".
    pub origin: String,
    pub loaded_at: Timestamp,
    /// Decisions by what the rule read (rules/memo.rs); `None`: every
    /// decision runs the script.
    memo: Option<Memo>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("version", &self.version)
            .field("origin", &self.origin)
            .finish()
    }
}

/// Compiled keyword lists and models by the digest of their text, the
/// last few of each. Both are immutable and costly to build (the segmenter
/// copies jieba's dictionary, a model indexes every feature), and the same
/// text comes back often: a reload that changed only a script, `rules diff`
/// with one side unchanged, the built-in rules built again.
type Compiled<T> = Mutex<Vec<([u8; 32], Arc<T>)>>;
static KEYWORDS: Compiled<Keywords> = Mutex::new(Vec::new());
static MODELS: Compiled<Model> = Mutex::new(Vec::new());
const COMPILED_KEPT: usize = 4;

fn compiled<T>(
    cache: &Compiled<T>,
    text: &str,
    build: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Arc<T>, String> {
    let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let found = cache
        .lock()
        .ok()
        .and_then(|c| c.iter().find(|(d, _)| *d == digest).map(|(_, v)| v.clone()));
    if let Some(v) = found {
        return Ok(v);
    }
    let v = Arc::new(build(text)?);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= COMPILED_KEPT {
            c.remove(0);
        }
        c.push((digest, v.clone()));
    }
    Ok(v)
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, RulesError> {
    let io = |source| RulesError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        paths.push(entry.map_err(io)?.path());
    }
    paths.sort();
    Ok(paths)
}

impl RuleSet {
    /// Loads `dir`: `*.rhai`, `sla.toml`, `keywords.toml`,
    /// `departments.toml`, `model.json`, `tests/*.json`.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RulesError> {
        Self::from_files(&dir.display().to_string(), &Self::read_files(dir)?)
    }

    /// The rule files of `dir` as `(relative path, text)`, in name order.
    pub fn read_files(dir: &Path) -> Result<Vec<(String, String)>, RulesError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| RulesError::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        let name = |p: &Path| {
            p.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string()
        };
        let mut files = Vec::new();
        for p in read_dir_sorted(dir)? {
            let name = name(&p);
            if name.ends_with(".rhai")
                || ["sla.toml", "keywords.toml", "departments.toml", model::FILE]
                    .contains(&name.as_str())
            {
                files.push((name, read(&p)?));
            }
        }
        let tests = dir.join("tests");
        if tests.is_dir() {
            for p in read_dir_sorted(&tests)? {
                let name = name(&p);
                if name.ends_with(".json") {
                    files.push((format!("tests/{name}"), read(&p)?));
                }
            }
        }
        Ok(files)
    }

    /// The ruleset shipped inside the binary.
    pub fn embedded() -> RuleSet {
        let files: Vec<(String, String)> = super::embedded::FILES
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        Self::from_files("embedded", &files).expect("the shipped rules are valid (tested)")
    }

    /// Compiles and validates rule files given as `(relative path, text)`.
    pub fn from_files(origin: &str, files: &[(String, String)]) -> Result<RuleSet, RulesError> {
        let mut hasher = Sha256::new();
        let mut ast: Option<rhai::AST> = None;
        let mut policy_text = None;
        let mut keywords =
            compiled(&KEYWORDS, "", Keywords::parse).map_err(RulesError::Keywords)?;
        let mut departments: Option<BTreeMap<String, String>> = None;
        let mut model = None;
        // Where each function is defined: the same one in two files would
        // silently replace the other.
        let mut defined: BTreeMap<(String, usize), String> = BTreeMap::new();
        let mut fixtures = Vec::new();
        for (path, text) in files {
            if path.starts_with("tests/") {
                fixtures.extend(fixtures::parse(path, text).map_err(|message| {
                    RulesError::Fixture {
                        file: path.to_string(),
                        message,
                    }
                })?);
                continue;
            }
            // Only what changes decisions or clocks makes the version.
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update(text.as_bytes());
            hasher.update([0]);
            if path.ends_with(".rhai") {
                let compiled =
                    engine::sandbox()
                        .compile(text)
                        .map_err(|e| RulesError::Compile {
                            file: path.clone(),
                            message: e.to_string(),
                        })?;
                for f in compiled.iter_functions() {
                    let key = (f.name.to_string(), f.params.len());
                    if let Some(other) = defined.insert(key, path.clone()) {
                        return Err(RulesError::Compile {
                            file: path.clone(),
                            message: format!(
                                "`fn {}` with {} parameter(s) is also defined in {other}",
                                f.name,
                                f.params.len()
                            ),
                        });
                    }
                }
                ast = Some(match ast {
                    None => compiled,
                    Some(a) => a.merge(&compiled),
                });
            } else if path == "sla.toml" {
                policy_text = Some(text);
            } else if path == "keywords.toml" {
                keywords =
                    compiled(&KEYWORDS, text, Keywords::parse).map_err(RulesError::Keywords)?;
            } else if path == model::FILE {
                model = Some(compiled(&MODELS, text, Model::parse).map_err(RulesError::Model)?);
            } else if path == "departments.toml" {
                let list: BTreeMap<String, String> =
                    toml::from_str(text).map_err(|e| RulesError::Departments(e.to_string()))?;
                if !list.contains_key(FALLBACK_DEPARTMENT) {
                    return Err(RulesError::Departments(format!(
                        "`{FALLBACK_DEPARTMENT}` must be declared: it takes the complaints rules cannot decide"
                    )));
                }
                departments = Some(list);
            }
        }
        let ast = ast.ok_or_else(|| RulesError::NoScripts(origin.to_string()))?;
        if !ast
            .iter_functions()
            .any(|f| f.name == ENTRY && f.params.len() == 1)
        {
            return Err(RulesError::MissingEntry);
        }
        let policy = match policy_text {
            Some(t) => policy::parse(t).map_err(RulesError::Policy)?,
            None => SlaPolicy::default(),
        };
        let digest = hasher.finalize();
        let version: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(RuleSet {
            ast,
            policy,
            keywords,
            model,
            departments,
            version,
            fixtures,
            origin: origin.to_string(),
            loaded_at: chrono::Utc::now(),
            memo: Some(Memo::default()),
        })
    }

    /// The same rules without the memo: every decision runs the script
    /// (to compare with, and to measure the memo).
    pub fn without_memo(mut self) -> RuleSet {
        self.memo = None;
        self
    }

    /// Decisions the memo served instead of running the script.
    pub fn memo_hits(&self) -> u64 {
        self.memo.as_ref().map_or(0, Memo::hits)
    }

    /// The fixture cases that came with the rules.
    pub fn fixtures(&self) -> &[FixtureCase] {
        &self.fixtures
    }

    /// Runs every fixture case; returns the failures.
    pub fn run_fixtures(&self) -> Vec<fixtures::Failure> {
        fixtures::run(&self.fixtures, |input| self.try_decide(input))
    }

    /// Loads and fully validates a candidate: compiles, and every fixture passes.
    pub fn load_tested(dir: &Path) -> Result<RuleSet, (RulesError, Vec<fixtures::Failure>)> {
        let rules = RuleSet::load_dir(dir).map_err(|e| (e, Vec::new()))?;
        let failures = rules.run_fixtures();
        if failures.is_empty() {
            Ok(rules)
        } else {
            let total = rules.fixtures.len();
            Err((
                RulesError::FixturesFailed {
                    failed: failures.len(),
                    total,
                },
                failures,
            ))
        }
    }

    /// Runs `decide`, reporting a rule error instead of falling back. A
    /// department that is neither declared in `departments.toml` nor the
    /// complaint's current (group-chosen) routing is an error.
    pub fn try_decide(&self, input: &DecisionInput<'_>) -> Result<RuleDecision, String> {
        let subject = Subject::new(input, &self.keywords, self.model.as_ref());
        let remembered = self.memo.as_ref().and_then(|m| m.get(&subject));
        let d = match remembered {
            Some(d) => d,
            None => {
                let d = engine::run_decide(&self.ast, subject.clone())?;
                if let Some(memo) = &self.memo {
                    memo.put(&subject, &d);
                }
                d
            }
        };
        if let Some(declared) = &self.departments {
            let current = |name: &str| {
                input
                    .current
                    .is_some_and(|c| c.lead == name || c.assist.iter().any(|a| a.as_ref() == name))
            };
            let all = std::iter::once(&d.lead_department).chain(&d.assist_departments);
            for name in all {
                if !declared.contains_key(name) && !current(name) {
                    let names: Vec<&str> = declared.keys().map(String::as_str).collect();
                    return Err(format!(
                        "routes to `{name}`, which departments.toml does not declare ({})",
                        names.join(", ")
                    ));
                }
            }
        }
        Ok(d)
    }

    /// The keyword lists, with the segmenter that knows their words.
    pub fn keywords(&self) -> &Keywords {
        &self.keywords
    }

    /// The learned model, if the ruleset has one.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_deref()
    }

    /// The declared departments and their names for reports, if declared.
    pub fn departments(&self) -> Option<&BTreeMap<String, String>> {
        self.departments.as_ref()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::Received;

    fn decide_with(script: &str) -> Result<RuleDecision, String> {
        let files = vec![
            ("decide.rhai".to_string(), script.to_string()),
            (
                "keywords.toml".to_string(),
                "tech = [\"断网\"]\n".to_string(),
            ),
        ];
        let rules = RuleSet::from_files("test", &files).unwrap();
        let received: Received = serde_json::from_str(r#"{"channel":"Web","customer":{"id":"K","name":"N"},"description":"家里断网","attributes":{"vip":true}}"#).unwrap();
        let input = DecisionInput {
            complaint_id: "C1",
            received: &received,
            received_at: chrono::Utc::now(),
            cycle: 2,
            previous_priority: None,
            comment: None,
            current: None,
        };
        rules.try_decide(&input)
    }

    #[test]
    fn rules_see_the_documented_fields() {
        let d = decide_with(
            r#"fn decide(c) { #{ category: "technical", priority: "general", lead_department: c.channel,
                reason: `${c.keywords.tech}|${c.cycle}|${c.attributes.vip}|${c.customer.id}|${c.text}`,
                sla: #{ handle: "2h", report: 600 } } }"#,
        )
        .unwrap();
        assert_eq!(d.lead_department, "web");
        assert_eq!(d.reason, "断网|2|true|K|家里断网");
        assert_eq!(
            d.sla_overrides.get(&crate::model::Stage::Handle),
            Some(&7200)
        );
        assert_eq!(
            d.sla_overrides.get(&crate::model::Stage::Report),
            Some(&600)
        );
    }

    #[test]
    fn misspelt_fields_and_lists_are_errors_not_silence() {
        let e = decide_with(r#"fn decide(c) { c.chanel }"#).unwrap_err();
        assert!(e.contains("no field `chanel`"), "{e}");
        let e = decide_with(r#"fn decide(c) { c.keywords.technical }"#).unwrap_err();
        assert!(e.contains("no keyword list `technical`"), "{e}");
        let e = decide_with(
            r#"fn decide(c) { #{ category: "weird", priority: "general", lead_department: "x" } }"#,
        )
        .unwrap_err();
        assert!(e.contains("unknown category `weird`"), "{e}");
    }

    #[test]
    fn scripts_cannot_reach_files_or_eval() {
        for script in [
            r#"import "x" as y; fn decide(c) { 1 }"#,
            r#"fn decide(c) { import "/etc/passwd" as p; 1 }"#,
            r#"fn decide(c) { eval("1") }"#,
        ] {
            let r = RuleSet::from_files("t", &[("decide.rhai".into(), script.into())]);
            assert!(
                matches!(r, Err(RulesError::Compile { .. })),
                "{script} compiled"
            );
        }
    }

    #[test]
    fn version_is_a_content_hash() {
        let a = RuleSet::from_files("a", &[("decide.rhai".into(), "fn decide(c) { 1 }".into())])
            .unwrap();
        let b = RuleSet::from_files("b", &[("decide.rhai".into(), "fn decide(c) { 1 }".into())])
            .unwrap();
        let c = RuleSet::from_files("c", &[("decide.rhai".into(), "fn decide(c) { 2 }".into())])
            .unwrap();
        assert_eq!(a.version(), b.version());
        assert_ne!(a.version(), c.version());
        assert_eq!(a.version().len(), 16);
    }
}
