//! The shipped ruleset, compiled into the binary so `demo` and `replay` need
//! nothing but the executable. `rules/` on disk is the same text.

/// `(relative path, text)` of every shipped rule file.
pub const FILES: &[(&str, &str)] = &[
    ("classify.rhai", include_str!("../../rules/classify.rhai")),
    ("decide.rhai", include_str!("../../rules/decide.rhai")),
    (
        "departments.toml",
        include_str!("../../rules/departments.toml"),
    ),
    ("keywords.toml", include_str!("../../rules/keywords.toml")),
    ("model.json", include_str!("../../rules/model.json")),
    ("priority.rhai", include_str!("../../rules/priority.rhai")),
    ("route.rhai", include_str!("../../rules/route.rhai")),
    ("sla.toml", SLA_TOML),
    (
        "tests/business.json",
        include_str!("../../rules/tests/business.json"),
    ),
    (
        "tests/evidence.json",
        include_str!("../../rules/tests/evidence.json"),
    ),
    (
        "tests/other.json",
        include_str!("../../rules/tests/other.json"),
    ),
    (
        "tests/technical.json",
        include_str!("../../rules/tests/technical.json"),
    ),
];

/// The shipped SLA policy.
pub const SLA_TOML: &str = include_str!("../../rules/sla.toml");
