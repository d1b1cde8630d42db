//! The one Rhai engine, sandboxed, and the call of a ruleset's `decide`.

use super::subject::{self, Subject};
use crate::core::decision::RuleDecision;
use crate::model::bounds::{MAX_DEPARTMENTS, MAX_NAME_CHARS, MAX_TEXT_CHARS};
use crate::model::{Category, Priority, Stage};
use rhai::{AST, Array, CallFnOptions, Dynamic, Engine, Map, Scope};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Limits a rule runs under; a rule that hits one gets the fallback decision.
pub mod limits {
    pub const MAX_OPERATIONS: u64 = 200_000;
    pub const MAX_CALL_LEVELS: usize = 32;
    pub const MAX_EXPR_DEPTH: usize = 64;
    pub const MAX_FN_EXPR_DEPTH: usize = 32;
    pub const MAX_STRING_SIZE: usize = 64 * 1024;
    pub const MAX_ARRAY_SIZE: usize = 10_000;
    pub const MAX_MAP_SIZE: usize = 1_000;
}

/// Name of the function every ruleset must define.
pub const ENTRY: &str = "decide";

/// The process-wide engine: strict variables, explicit limits, no modules or
/// `eval`, `print`/`debug` go to the log. Scripts can compute, nothing else.
pub fn sandbox() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut e = Engine::new();
        e.set_max_operations(limits::MAX_OPERATIONS)
            .set_max_call_levels(limits::MAX_CALL_LEVELS)
            .set_max_expr_depths(limits::MAX_EXPR_DEPTH, limits::MAX_FN_EXPR_DEPTH)
            .set_max_string_size(limits::MAX_STRING_SIZE)
            .set_max_array_size(limits::MAX_ARRAY_SIZE)
            .set_max_map_size(limits::MAX_MAP_SIZE)
            .set_max_modules(0)
            .set_strict_variables(true)
            .set_optimization_level(rhai::OptimizationLevel::Full)
            .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
        e.disable_symbol("eval");
        e.disable_symbol("import");
        e.on_print(|s| tracing::debug!(target: "rules", message = s));
        e.on_debug(|s, src, pos| tracing::debug!(target: "rules", source = src, position = %pos, message = s));
        subject::register(&mut e);
        e
    })
}

/// Runs `decide(c)` of `ast` with `subject` as `c`; any error or limit hit
/// is returned as text.
pub fn run_decide(ast: &AST, subject: Subject) -> Result<RuleDecision, String> {
    let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
    let mut scope = Scope::new();
    let out: Dynamic = sandbox()
        .call_fn_with_options(options, &mut scope, ast, ENTRY, (subject,))
        .map_err(|e| e.to_string())?;
    let map = out.try_cast::<Map>().ok_or("`decide` must return a map")?;
    decision_from_map(map)
}

fn text(map: &Map, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => v
            .clone()
            .into_string()
            .map(Some)
            .map_err(|t| format!("`{key}` must be a string, not {t}")),
    }
}

fn required(map: &Map, key: &str) -> Result<String, String> {
    let v = text(map, key)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("`decide` must return a non-empty `{key}`"))?;
    short(key, v, MAX_NAME_CHARS)
}

/// What a rule returns goes into every decision record: bounded like input.
fn short(key: &str, v: String, max: usize) -> Result<String, String> {
    let chars = if v.len() > max { v.chars().count() } else { 0 };
    if chars > max {
        return Err(format!(
            "`{key}` has {chars} characters, more than the {max} allowed"
        ));
    }
    Ok(v)
}

fn decision_from_map(map: Map) -> Result<RuleDecision, String> {
    let category = required(&map, "category")?;
    let category =
        Category::parse(&category).ok_or_else(|| format!("unknown category `{category}`"))?;
    let priority = required(&map, "priority")?;
    let priority =
        Priority::parse(&priority).ok_or_else(|| format!("unknown priority `{priority}`"))?;
    let lead_department = required(&map, "lead_department")?;
    let assist_departments = match map.get("assist_departments") {
        None => Vec::new(),
        Some(v) if v.is_unit() => Vec::new(),
        Some(v) => {
            let arr = v
                .clone()
                .try_cast::<Array>()
                .ok_or("`assist_departments` must be an array")?;
            if arr.len() > MAX_DEPARTMENTS {
                return Err(format!(
                    "`assist_departments` has {} entries, more than the {MAX_DEPARTMENTS} allowed",
                    arr.len()
                ));
            }
            let mut out = Vec::with_capacity(arr.len());
            for d in arr {
                let d = d
                    .into_string()
                    .map_err(|t| format!("assist department must be a string, not {t}"))?;
                let d = short("assist_departments", d, MAX_NAME_CHARS)?;
                if d != lead_department && !d.is_empty() && !out.contains(&d) {
                    out.push(d);
                }
            }
            out
        }
    };
    let coordination_required = match map.get("coordination_required") {
        None => !assist_departments.is_empty(),
        Some(v) if v.is_unit() => !assist_departments.is_empty(),
        Some(v) => v
            .as_bool()
            .map_err(|t| format!("`coordination_required` must be a bool, not {t}"))?,
    };
    let reason = short(
        "reason",
        text(&map, "reason")?.unwrap_or_default(),
        MAX_TEXT_CHARS,
    )?;
    let mut sla_overrides = BTreeMap::new();
    if let Some(v) = map.get("sla").filter(|v| !v.is_unit()) {
        let sla = v
            .clone()
            .try_cast::<Map>()
            .ok_or("`sla` must be a map of stage to duration")?;
        for (stage, d) in sla {
            let stage =
                Stage::parse(&stage).ok_or_else(|| format!("unknown SLA stage `{stage}`"))?;
            sla_overrides.insert(stage, duration_secs(d)?);
        }
    }
    Ok(RuleDecision {
        category,
        priority,
        lead_department,
        assist_departments,
        coordination_required,
        reason,
        sla_overrides,
    })
}

/// A duration from a rule: seconds as an integer, or text such as "2h 30m";
/// from one second to a year, like the targets of `sla.toml`.
fn duration_secs(d: Dynamic) -> Result<u64, String> {
    if let Ok(n) = d.as_int() {
        let secs = u64::try_from(n).map_err(|_| format!("SLA target {n} must be positive"))?;
        return super::policy::check_target(secs).map_err(|e| format!("SLA target {n} {e}"));
    }
    let s = d
        .into_string()
        .map_err(|t| format!("SLA target must be seconds or text like \"2h\", not {t}"))?;
    super::policy::target_secs(&s).map_err(|e| format!("SLA target `{s}`: {e}"))
}
