//! Lints: rule files that work but are probably not what was meant. They are warnings: `run`
//! ignores them, `check` reports them (and fails on them with `--strict`).
//!
//! In: a compiled rule file. Out: a list of [`Lint`]s, in rule order, without those a rule
//! silences with `allow_lints:`.
//!
//! The naming lints mirror `promtool check metrics` (Prometheus 2.42, whose linter is
//! `prometheus/testutil/promlint` of client_golang 1.14): every problem it reports on a family
//! a rule writes is a lint here, so a rule file that passes `check --strict` never gives a file
//! promtool complains about. Most mirrored lints quote promtool's words in their help.
//! A few lints go further than promtool (`_percent`, `node_` prefixes, fields and labels).
//! Label templates are judged by minijinja itself: its analysis of a template's variables, the
//! names a render looks up, and what a render gives when fields are empty.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use minijinja::Value;
use minijinja::value::Object;
use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::model::number::format_value;
use crate::model::sample::MetricType;
use crate::rules::compile::{CompiledRule, CompiledRules, Reduce, Shape, ValueSpec};
use crate::rules::diagnostic::FieldPath;
use crate::rules::policy::{FieldMissing, OnMissing};
use crate::rules::templates::{self, TemplateId};

/// Every lint, by code, as `check` prints it and `allow_lints:` names it.
pub const CODES: &[&str] = &[
    "counter-without-total",
    "total-on-non-counter",
    "unit-suffix",
    "missing-unit",
    "reserved-suffix",
    "reserved-label",
    "type-in-name",
    "colon-in-name",
    "camel-case",
    "no-help",
    "node-prefix",
    "unused-field",
    "label-can-be-empty",
    "inexact-scale",
    // Found by `check --input`, on sample inputs.
    "matches-nothing",
    "label-always-empty",
    "nan-value",
];

/// The code of a lint, as a rule's `allow_lints:` names it; only the codes of [`CODES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LintCode(&'static str);

impl LintCode {
    /// The code of a known lint; an unknown one is refused with the list of the known ones:
    /// ``unused-fields` is not a lint; the lints are counter-without-total, ...`.
    pub fn parse(s: &str) -> Result<LintCode, String> {
        CODES
            .iter()
            .find(|code| **code == s)
            .map(|code| LintCode(code))
            .ok_or_else(|| format!("`{s}` is not a lint; the lints are {}", CODES.join(", ")))
    }

    /// The code as written, e.g. `label-can-be-empty`.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for LintCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl<'de> Deserialize<'de> for LintCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Checks the code inside `deserialize_str`, so the error points at it.
        struct CodeVisitor;
        impl Visitor<'_> for CodeVisitor {
            type Value = LintCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the code of a lint, such as `label-can-be-empty`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<LintCode, E> {
                LintCode::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(CodeVisitor)
    }
}

impl schemars::JsonSchema for LintCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LintCode".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::LintCode").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The code of a lint `xml2prom check` reports, e.g. \
                            `label-can-be-empty`.",
            "type": "string",
            "enum": CODES,
        })
    }
}

/// One warning about a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    /// Where: the rule, or one of its keys.
    pub path: FieldPath,
    /// Whether the position is the key rather than its value.
    pub at_key: bool,
    /// What kind of problem, e.g. `counter-without-total`; one of [`CODES`].
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Units `promtool check metrics` knows, and the base unit of each (promlint's `units`). A word
/// of the name that is one of these, with or without a prefix of [`UNIT_PREFIXES`], and is not
/// its own base unit gets "use base unit X instead of Y".
const PROMTOOL_UNITS: &[(&str, &str)] = &[
    ("amperes", "amperes"),
    ("bytes", "bytes"),
    ("celsius", "celsius"),
    ("grams", "grams"),
    ("joules", "joules"),
    ("kelvin", "kelvin"),
    ("meters", "meters"),
    ("metres", "metres"),
    ("seconds", "seconds"),
    ("volts", "volts"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    ("kelvins", "kelvin"),
    ("fahrenheit", "celsius"),
    ("rankine", "celsius"),
    ("inches", "meters"),
    ("yards", "meters"),
    ("miles", "meters"),
    ("bits", "bytes"),
    ("calories", "joules"),
    ("pounds", "grams"),
    ("ounces", "grams"),
];

/// Unit prefixes, as promlint spells them (`mibi`, sic), and `mebi`, the right spelling, which
/// promtool does not know but which is no base unit either.
const UNIT_PREFIXES: &[&str] = &[
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi", "mega",
    "mibi", "mebi", "giga", "gibi", "tera", "tebi", "peta", "pebi",
];

/// Abbreviated units promtool refuses anywhere after the first word ("metric names should not
/// contain abbreviated units", case-insensitive): the abbreviation, the base unit it stands
/// for, and whether it is that base unit abbreviated (`s`) rather than another unit (`ms`).
const ABBREVIATED_UNITS: &[(&str, &str, bool)] = &[
    ("s", "seconds", true),
    ("ms", "seconds", false),
    ("us", "seconds", false),
    ("ns", "seconds", false),
    ("sec", "seconds", true),
    ("b", "bytes", true),
    ("kb", "bytes", false),
    ("mb", "bytes", false),
    ("gb", "bytes", false),
    ("tb", "bytes", false),
    ("pb", "bytes", false),
    ("m", "meters", true),
    ("h", "seconds", false),
    ("d", "seconds", false),
];

/// Units that are not base units although promtool lets them pass, and the base unit to use
/// (Prometheus naming conventions: seconds, bytes, ratios).
const OTHER_NON_BASE_UNITS: &[(&str, &str)] = &[
    ("msec", "seconds"),
    ("millis", "seconds"),
    ("kib", "bytes"),
    ("mib", "bytes"),
    ("gib", "bytes"),
    ("percent", "ratio"),
    ("pct", "ratio"),
];

/// The metric types promtool refuses in a name, after the first word ("metric name should not
/// include type 'gauge'"). promlint also tries `gauge_histogram`, which a name can only contain
/// together with `_gauge` and `_histogram`, so it adds nothing here.
const TYPE_WORDS: &[&str] = &["counter", "gauge", "histogram", "summary"];

/// A word of a metric name that is a unit in a form promtool or the naming conventions refuse.
struct UnitWord<'a> {
    /// Which word of the name (split at `_`).
    index: usize,
    /// The word as written.
    word: &'a str,
    /// The base unit to write instead.
    base: &'static str,
    /// Whether the word only abbreviates `base` (`s`, `sec`, `b`, `m`).
    abbreviated: bool,
}

/// The unit problems of a metric name, one per offending word, in order.
fn unit_words(name: &str) -> Vec<UnitWord<'_>> {
    let mut found = Vec::new();
    for (index, word) in name.split('_').enumerate() {
        // promlint compares each word, the first one too, case-sensitively.
        let promtool_unit = PROMTOOL_UNITS.iter().find_map(|(unit, base)| {
            UNIT_PREFIXES
                .iter()
                .chain([&""])
                .any(|prefix| word.strip_prefix(prefix) == Some(unit))
                .then_some(*base)
        });
        if let Some(base) = promtool_unit {
            if word != base {
                found.push(UnitWord {
                    index,
                    word,
                    base,
                    abbreviated: false,
                });
            }
            continue;
        }
        // promlint looks for `_ms_` or a final `_ms` in the lower-cased name: a word that is
        // not the first.
        if index == 0 {
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if let Some((_, base, abbreviated)) = ABBREVIATED_UNITS.iter().find(|(a, ..)| *a == lower) {
            found.push(UnitWord {
                index,
                word,
                base,
                abbreviated: *abbreviated,
            });
        } else if let Some((_, base)) = OTHER_NON_BASE_UNITS.iter().find(|(u, _)| *u == lower) {
            found.push(UnitWord {
                index,
                word,
                base,
                abbreviated: false,
            });
        }
    }
    found
}

/// `name` with its word number `index` replaced (or removed, when `with` is empty).
fn replace_word(name: &str, index: usize, with: &str) -> String {
    name.split('_')
        .enumerate()
        .filter_map(|(i, word)| match (i == index, with.is_empty()) {
            (false, _) => Some(word),
            (true, false) => Some(with),
            (true, true) => None,
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// Whether promlint reads `name` as camelCase: a lower-case letter followed by an upper-case one.
fn is_camel_case(name: &str) -> bool {
    name.as_bytes()
        .windows(2)
        .any(|pair| pair[0].is_ascii_lowercase() && pair[1].is_ascii_uppercase())
}

/// `storeRows` -> `store_rows`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for c in name.chars() {
        if previous_lower && c.is_ascii_uppercase() {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// What promtool says about a lint, for the help line.
fn promtool_says(text: &str) -> String {
    format!("`promtool check metrics` reports: {text}")
}

/// Every lint of a compiled rule file, in rule order, then those of the top-level labels;
/// without the lints each rule allows (`allow_lints:`).
pub fn lint(rules: &CompiledRules) -> Vec<Lint> {
    let mut lints = Vec::new();
    for rule in &rules.rules {
        let mut found = Vec::new();
        lint_rule(rule, rules, &mut found);
        found.retain(|lint| {
            !rule
                .allow_lints
                .iter()
                .any(|code| code.as_str() == lint.code)
        });
        lints.extend(found);
    }
    lint_global_labels(rules, &mut lints);
    lints
}

/// The labels of the whole file are on every sample: their names must pass promtool for
/// every family.
fn lint_global_labels(rules: &CompiledRules, lints: &mut Vec<Lint>) {
    for (label, _) in &rules.global_labels {
        let path = FieldPath::root().key("labels").key(label.as_str());
        for problem in label_name_problems(label.as_str(), |kind| {
            rules.rules.iter().find(|rule| rule.kind != kind)
        }) {
            lints.push(Lint {
                path: path.clone(),
                at_key: true,
                code: problem.0,
                message: problem.1,
                help: Some(problem.2),
            });
        }
    }
}

/// The promtool problems of a label name: camelCase, or `le` (`quantile`) on a family that is
/// not a histogram (summary). `other_than(kind)` gives a rule of another type that has the label,
/// if any. Each problem is (code, message, help).
fn label_name_problems<'r>(
    label: &str,
    other_than: impl Fn(MetricType) -> Option<&'r CompiledRule>,
) -> Vec<(&'static str, String, String)> {
    let mut problems = Vec::new();
    if is_camel_case(label) {
        problems.push((
            "camel-case",
            format!("the label name `{label}` is written in camelCase"),
            format!(
                "write it in snake_case, e.g. `{}`; {}",
                snake_case(label),
                promtool_says("label names should be written in 'snake_case' not 'camelCase'")
            ),
        ));
    }
    for (reserved, owner, what) in [
        (
            "le",
            MetricType::Histogram,
            "the bucket bound of a histogram",
        ),
        ("quantile", MetricType::Summary, "the quantile of a summary"),
    ] {
        if label != reserved {
            continue;
        }
        if let Some(rule) = other_than(owner) {
            problems.push((
                "reserved-label",
                format!(
                    "the label `{label}` is {what}, but `{}` is a {}",
                    rule.name.as_str(),
                    rule.kind
                ),
                format!(
                    "give the label another name; {}",
                    promtool_says(&format!(
                        "non-{owner} metrics should not have \"{label}\" label"
                    ))
                ),
            ));
        }
    }
    problems
}

fn lint_rule(rule: &CompiledRule, rules: &CompiledRules, lints: &mut Vec<Lint>) {
    let path = FieldPath::root().key("metrics").index(rule.index);
    let mut warn = |key: &str, at_key: bool, code: &'static str, message: String, help: String| {
        let path = key
            .split('.')
            .filter(|k| !k.is_empty())
            .fold(path.clone(), |path, k| path.key(k));
        lints.push(Lint {
            path,
            at_key,
            code,
            message,
            help: Some(help),
        });
    };
    // A templated name is only known per node: its lints are those of its labels.
    if let Some(name) = rule.name.fixed().map(|name| name.as_str()) {
        // The name of the series for a gauge or counter; histograms and summaries add their own
        // suffixes.
        let base = name.strip_suffix("_total").unwrap_or(name);
        match rule.kind {
            MetricType::Counter if !name.ends_with("_total") => warn(
                "name",
                false,
                "counter-without-total",
                format!("the counter `{name}` does not end in `_total`"),
                format!(
                    "name counters `..._total`, e.g. `{name}_total` (Prometheus naming conventions)"
                ),
            ),
            MetricType::Gauge | MetricType::Histogram | MetricType::Summary
                if name.ends_with("_total") =>
            {
                warn(
                    "name",
                    false,
                    "total-on-non-counter",
                    format!(
                        "`{name}` ends in `_total`, which marks a counter, but it is a {}",
                        rule.kind
                    ),
                    format!("rename it `{base}`, or make it a counter"),
                )
            }
            _ => {}
        }
        let units = unit_words(name);
        let has_unit = !units.is_empty();
        for unit in units {
            let suggestion = replace_word(name, unit.index, unit.base);
            if unit.abbreviated {
                let minutes = if unit.word.eq_ignore_ascii_case("m") {
                    " (for minutes: seconds, converting the value)"
                } else {
                    ""
                };
                warn(
                    "name",
                    false,
                    "unit-suffix",
                    format!("`{name}` abbreviates the unit `{}`", unit.word),
                    format!(
                        "spell the unit out, e.g. `{suggestion}`{minutes}; {}",
                        promtool_says("metric names should not contain abbreviated units")
                    ),
                );
            } else {
                warn(
                    "name",
                    false,
                    "unit-suffix",
                    format!(
                        "`{name}` has the unit `{}`, which is not a base unit",
                        unit.word
                    ),
                    format!(
                        "use base units, e.g. `{suggestion}`, and convert the value with \
                     `convert: {{scale: ...}}` to multiply or `convert: {{divide: ...}}` to \
                     divide exactly (milliseconds to seconds: `divide: 1000`)"
                    ),
                );
            }
        }
        // A name with a unit in the wrong form has `unit-suffix` already.
        if let Some((unit, why)) = missing_unit(rule, base).filter(|_| !has_unit) {
            warn(
                "name",
                false,
                "missing-unit",
                format!("`{name}` reads {why} but its name has no unit"),
                format!(
                    "end the name in the unit of the value, e.g. `{base}_{unit}`{}",
                    if name.ends_with("_total") {
                        "_total"
                    } else {
                        ""
                    }
                ),
            );
        }
        if let ValueSpec::Number(Some(convert)) = &rule.value
            && let Some(scale) = convert.scale()
            && let Some(divisor) = reciprocal_divisor(scale)
        {
            let sign = if divisor < 0.0 { "-" } else { "" };
            let fraction = format!("{sign}1/{}", format_value(divisor.abs()));
            let example = inexact_example(scale, divisor).map_or_else(String::new, |k| {
                format!(
                    ": {} × {} gives {}, {} / {} gives {}",
                    format_value(k),
                    format_value(scale),
                    format_value(k * scale),
                    format_value(k),
                    format_value(divisor),
                    format_value(k / divisor),
                )
            });
            warn(
                "convert.scale",
                false,
                "inexact-scale",
                format!(
                    "`scale: {}` multiplies by the binary number nearest to {fraction}, which is \
                 not exactly {fraction}{example}",
                    format_value(scale),
                ),
                format!(
                    "write `divide: {}`, one correctly rounded division, instead of `scale`",
                    format_value(divisor)
                ),
            );
        }
        let is_histogram = rule.kind == MetricType::Histogram;
        let is_summary = rule.kind == MetricType::Summary;
        for (suffix, reserved_for) in [
            ("_bucket", !is_histogram),
            ("_count", !is_histogram && !is_summary),
            ("_sum", !is_histogram && !is_summary),
        ] {
            if reserved_for && name.ends_with(suffix) {
                let owners = if suffix == "_bucket" {
                    "histogram"
                } else {
                    "histogram and non-summary"
                };
                warn(
                    "name",
                    false,
                    "reserved-suffix",
                    format!(
                        "`{name}` ends in `{suffix}`, which histograms{} give their own series",
                        if suffix == "_bucket" {
                            ""
                        } else {
                            " and summaries"
                        }
                    ),
                    format!(
                        "name the {} after what it measures, without `{suffix}`; {}",
                        rule.kind,
                        promtool_says(&format!(
                            "non-{owners} metrics should not have \"{suffix}\" suffix"
                        ))
                    ),
                );
            }
        }
        let lower = name.to_ascii_lowercase();
        for word in TYPE_WORDS {
            if lower.contains(&format!("_{word}_")) || lower.ends_with(&format!("_{word}")) {
                let without = name
                    .split('_')
                    .enumerate()
                    .filter(|(i, w)| *i == 0 || !w.eq_ignore_ascii_case(word))
                    .map(|(_, w)| w)
                    .collect::<Vec<_>>()
                    .join("_");
                warn(
                    "name",
                    false,
                    "type-in-name",
                    format!("`{name}` has the metric type `{word}` in its name"),
                    format!(
                        "the `# TYPE` line says it already: e.g. `{without}`; {}",
                        promtool_says(&format!("metric name should not include type '{word}'"))
                    ),
                );
            }
        }
        if name.contains(':') {
            warn(
                "name",
                false,
                "colon-in-name",
                format!("`{name}` contains `:`, which Prometheus keeps for recording rules"),
                format!(
                    "use `_` instead, e.g. `{}`; {}",
                    name.replace(':', "_"),
                    promtool_says("metric names should not contain ':'")
                ),
            );
        }
        if is_camel_case(name) {
            warn(
                "name",
                false,
                "camel-case",
                format!("`{name}` is written in camelCase"),
                format!(
                    "write it in snake_case, e.g. `{}`; {}",
                    snake_case(name),
                    promtool_says("metric names should be written in 'snake_case' not 'camelCase'")
                ),
            );
        }
        // The text format reader behind promtool skips blanks after the name in `# HELP name`, and
        // a line that ends there sets no HELP at all.
        if rule.help.trim_matches([' ', '\t']).is_empty() {
            warn(
                "help",
                false,
                "no-help",
                format!("`{name}` has an empty HELP text"),
                format!(
                    "say in `help:` what the metric measures; {}",
                    promtool_says("no help text")
                ),
            );
        }
        if name.starts_with("node_") {
            warn(
                "name",
                false,
                "node-prefix",
                format!("`{name}` starts with `node_`, the prefix of node_exporter's own metrics"),
                "a textfile metric with the name of a node_exporter metric makes the whole scrape \
             fail; use a prefix of your own, such as the application's name"
                    .to_owned(),
            );
        }
    }
    let this_rule = |kind: MetricType| (rule.kind != kind).then_some(rule);
    for (label, _) in rule
        .labels
        .iter()
        .filter(|(label, _)| !label.is_metric_name())
    {
        for (code, message, help) in label_name_problems(label.as_str(), this_rule) {
            warn(
                &format!("labels.{}", label.as_str()),
                true,
                code,
                message,
                help,
            );
        }
    }
    let Shape::Nodes { fields, reduce, .. } = &rule.shape else {
        return;
    };
    if let Reduce::States { label, .. } = reduce {
        for (code, message, help) in label_name_problems(label, this_rule) {
            warn("state_label", false, code, message, help);
        }
    }
    // A field finds nothing as the empty string with `string(...)`, with `on_missing: zero`
    // (its own or the rule's), or with an empty `default`.
    let can_be_empty: Vec<&str> = fields
        .iter()
        .enumerate()
        .filter(|(index, (_, query))| {
            let missing = rule
                .field_missing
                .get(*index)
                .cloned()
                .unwrap_or(FieldMissing::Policy(rule.policies.on_missing));
            query.text().trim_start().starts_with("string(")
                || missing == FieldMissing::Policy(OnMissing::Zero)
                || missing == FieldMissing::Default(String::new())
        })
        .map(|(_, (field, _))| field.as_str())
        .collect();
    let field_names: Vec<&str> = fields.iter().map(|(field, _)| field.as_str()).collect();
    let uses: Vec<TemplateUse> = rule
        .labels
        .iter()
        .map(|(_, id)| TemplateUse::of(&rules.templates, id, &field_names, &can_be_empty))
        .collect();
    for (field, _) in fields {
        let field = field.as_str();
        // A reading of a ready-made histogram or summary (`le`, `sum`, ...), not a field.
        if field.starts_with(crate::rules::compile::GIVEN_FIELD_MARK) {
            continue;
        }
        if !uses.iter().any(|template| template.fields.contains(field)) {
            warn(
                &format!("fields.{field}"),
                false,
                "unused-field",
                format!("the field `{field}` is not used by any label"),
                format!(
                    "use it in a label (`{{{{ {field} }}}}`) or remove it; every field is read \
                     from every node"
                ),
            );
        }
        if !matches!(reduce, Reduce::Each(_) | Reduce::States { .. }) {
            continue;
        }
        for ((label, _), template) in rule.labels.iter().zip(&uses) {
            if label.is_metric_name() {
                continue;
            }
            // Reported once per label, at the first of the fields that empty it.
            let Some(empty_with) = &template.empty_with else {
                continue;
            };
            if empty_with.first().map(String::as_str) != Some(field) {
                continue;
            }
            let fields = match empty_with.as_slice() {
                [one] => format!("the field `{one}` finds"),
                [init @ .., last] => format!(
                    "the fields {} and `{last}` find",
                    init.iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                [] => continue,
            };
            let label = label.as_str();
            warn(
                &format!("labels.{label}"),
                false,
                "label-can-be-empty",
                format!(
                    "the label `{label}` is empty when {fields} nothing, and an empty label is \
                     the same as no label, so such nodes can collide with each other"
                ),
                if template.defaults_undefined_only {
                    format!(
                        "`default(...)` replaces only an undefined value, and a field that finds \
                         nothing is defined, as the empty string: write \
                         `{{{{ {field} | default(\"none\", true) }}}}` or \
                         `{{{{ {field} or \"none\" }}}}`"
                    )
                } else {
                    format!(
                        "give it a default in the template, e.g. `{{{{ {field} or \"none\" }}}}`, \
                         or filter such nodes out in `select`"
                    )
                },
            );
        }
    }
}

/// What a label template does with the rule's fields, as minijinja itself finds it: the
/// variables of the compiled template (`Template::undeclared_variables`), and the variables a
/// render actually looks up (minijinja's analysis misses the base of a slice, `{{ f[3:] }}`).
struct TemplateUse {
    /// The fields the template uses.
    fields: BTreeSet<String>,
    /// When the template renders the empty string with every field it uses that can be empty
    /// set to the empty string (the others to a placeholder): those fields, in rule order.
    empty_with: Option<Vec<String>>,
    /// Whether, with those fields undefined instead, it renders something: a `default(...)`
    /// that replaces only undefined values.
    defaults_undefined_only: bool,
}

impl TemplateUse {
    fn of(
        templates: &templates::Templates,
        id: &TemplateId,
        field_names: &[&str],
        can_be_empty: &[&str],
    ) -> TemplateUse {
        let mut used: BTreeSet<String> = templates
            .variables(id)
            .iter()
            .map(|variable| variable.split('.').next().unwrap_or_default().to_owned())
            .collect();
        let (_, looked_up) = render_recording(templates, id, field_names, &[], Absent::Empty);
        used.extend(looked_up);
        let emptied: Vec<&str> = can_be_empty
            .iter()
            .copied()
            .filter(|field| used.contains(*field))
            .collect();
        let mut empty_with = None;
        let mut defaults_undefined_only = false;
        if !emptied.is_empty() {
            let (rendered, looked_up) =
                render_recording(templates, id, field_names, &emptied, Absent::Empty);
            used.extend(looked_up);
            if rendered.is_ok_and(|text| text.is_empty()) {
                empty_with = Some(emptied.iter().map(|f| (*f).to_owned()).collect());
                let (rendered, _) =
                    render_recording(templates, id, field_names, &emptied, Absent::Undefined);
                defaults_undefined_only = rendered.is_ok_and(|text| !text.is_empty());
            }
        }
        let fields = used
            .into_iter()
            .filter(|variable| field_names.contains(&variable.as_str()))
            .collect();
        TemplateUse {
            fields,
            empty_with,
            defaults_undefined_only,
        }
    }
}

/// A template context that records the names a render looks up in it.
#[derive(Debug)]
struct RecordingContext {
    values: std::collections::BTreeMap<String, Value>,
    looked_up: Mutex<BTreeSet<String>>,
}

impl Object for RecordingContext {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        self.looked_up
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key.to_owned());
        self.values.get(key).cloned()
    }
}

/// What [`render_recording`] gives the fields that find nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Absent {
    /// The empty string, as a run does.
    Empty,
    /// Nothing: they are undefined.
    Undefined,
}

/// Renders a template with every field set to a placeholder, except those of `absent`, set to
/// the empty string or left undefined; returns the result (an error when the template refuses
/// such values) and the names the render looked up.
fn render_recording(
    templates: &templates::Templates,
    id: &TemplateId,
    fields: &[&str],
    absent: &[&str],
    how: Absent,
) -> (Result<String, String>, BTreeSet<String>) {
    let mut values: std::collections::BTreeMap<String, Value> = fields
        .iter()
        .filter(|field| how == Absent::Empty || !absent.contains(field))
        .map(|field| {
            let value = if absent.contains(field) { "" } else { "x" };
            ((*field).to_owned(), Value::from(value))
        })
        .collect();
    values.insert(
        "input".to_owned(),
        templates::input_value(Path::new("/srv/app/store.xml")),
    );
    let context = Value::from_object(RecordingContext {
        values,
        looked_up: Mutex::new(BTreeSet::new()),
    });
    let rendered = templates.render(id, &context);
    let looked_up = context
        .downcast_object_ref::<RecordingContext>()
        .map(|recording| {
            recording
                .looked_up
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone()
        })
        .unwrap_or_default();
    (rendered, looked_up)
}

/// The integer `n` a `scale` stands for as 1/n, when dividing by it is more exact: `scale` is
/// the double nearest to 1/n for an integer n of at least 2 in magnitude (and at most 2^53), and
/// n is not a power of two (1/2^k is exact, so the product is too).
fn reciprocal_divisor(scale: f64) -> Option<f64> {
    if !scale.is_finite() || scale == 0.0 || scale.abs() >= 1.0 {
        return None;
    }
    let divisor = (1.0 / scale).round();
    let magnitude = divisor.abs();
    let exact = (2.0..=9_007_199_254_740_992.0).contains(&magnitude)
        && 1.0 / divisor == scale
        // An integer up to 2^53 converts to u64 exactly.
        && !(magnitude as u64).is_power_of_two();
    exact.then_some(divisor)
}

/// The smallest whole number up to 10 000 that `* scale` and `/ divisor` give different results
/// for, to show in the lint.
fn inexact_example(scale: f64, divisor: f64) -> Option<f64> {
    (1..=10_000u32)
        .map(f64::from)
        .find(|&k| k * scale != k / divisor)
}

/// Unit suffixes a name may end in (base units and common dimensionless ones). `_info` is not
/// one: an info metric reads no value, and a gauge named `..._info` with `info: false` reads
/// one like any other.
const UNIT_SUFFIXES: &[&str] = &[
    "_seconds",
    "_bytes",
    "_ratio",
    "_celsius",
    "_volts",
    "_amperes",
    "_joules",
    "_grams",
    "_meters",
    "_hertz",
    "_watts",
    "_count",
    "_total",
    "_rows",
    "_elements",
    "_items",
];

/// The unit a rule's value seems to have, from the name it reads (`@size`, `duration`), when
/// the metric name does not end in a unit: (`bytes`, "`@size`").
fn missing_unit(rule: &CompiledRule, base: &str) -> Option<(&'static str, String)> {
    if UNIT_SUFFIXES.iter().any(|suffix| base.ends_with(suffix)) {
        return None;
    }
    let query = match &rule.shape {
        Shape::Nodes {
            value: Some(value), ..
        } => value.text(),
        Shape::Document { value, .. } if value.text().trim_start().starts_with("sum(") => {
            value.text()
        }
        _ => return None,
    };
    // The last name in the query: `@size`, `item/duration`, `sum(/s/r/@bytes)`.
    let last = query
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '@'))
        .find(|word| !word.is_empty())?
        .trim_start_matches('@')
        .to_ascii_lowercase();
    let unit = if ["size", "bytes", "length"].iter().any(|w| last.contains(w)) {
        "bytes"
    } else if [
        "duration", "latency", "elapsed", "timeout", "uptime", "seconds",
    ]
    .iter()
    .any(|w| last.contains(w))
    {
        "seconds"
    } else {
        return None;
    };
    Some((unit, format!("`{last}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lints_of(metrics: &str) -> Vec<(String, &'static str)> {
        let yaml = format!("version: 1\nmetrics:\n{metrics}");
        let file = crate::rules::file::parse(&yaml).expect("valid YAML");
        let rules = crate::rules::compile::compile(file).expect("valid rules");
        lint(&rules)
            .into_iter()
            .map(|l| (l.path.to_string(), l.code))
            .collect()
    }

    #[test]
    fn a_clean_rule_has_no_lint() {
        let lints = lints_of(
            "  - { name: store_rows, help: h, type: gauge, select: /s/r, fields: { k: \"@k\" }, \
             labels: { kind: \"{{ k }}\" }, aggregate: count }\n  - { name: store_reads_total, \
             help: h, type: counter, value: count(/s/r) }\n",
        );
        assert_eq!(lints, []);
    }

    #[test]
    fn scale_that_is_the_reciprocal_of_an_integer() {
        let rule = |scale: &str| {
            format!(
                "  - {{ name: store_latency_seconds, help: h, type: gauge, select: /s/r, \
                 value: \"@ms\", convert: {{ scale: {scale} }} }}\n"
            )
        };
        for scale in [
            "0.001",
            "-0.001",
            "0.1",
            "1e-6",
            "1e-9",
            "0.2",
            "0.016666666666666666",
        ] {
            assert_eq!(
                lints_of(&rule(scale)),
                [("metrics[0].convert.scale".to_owned(), "inexact-scale")],
                "{scale}"
            );
        }
        // Powers of two are exact, others are no reciprocal of an integer.
        for scale in [
            "0.5",
            "0.125",
            "0.0009765625",
            "0.0011",
            "1000",
            "2",
            "0.3",
            "0.33",
        ] {
            assert_eq!(lints_of(&rule(scale)), [], "{scale}");
        }
        let yaml = format!("version: 1\nmetrics:\n{}", rule("0.001"));
        let file = crate::rules::file::parse(&yaml).expect("valid YAML");
        let rules = crate::rules::compile::compile(file).expect("valid rules");
        let found = lint(&rules);
        assert_eq!(
            found[0].message,
            "`scale: 0.001` multiplies by the binary number nearest to 1/1000, which is not \
             exactly 1/1000: 9 × 0.001 gives 0.009000000000000001, 9 / 1000 gives 0.009"
        );
        assert_eq!(
            found[0].help.as_deref(),
            Some("write `divide: 1000`, one correctly rounded division, instead of `scale`")
        );
        let yaml = format!("version: 1\nmetrics:\n{}", rule("-0.1"));
        let file = crate::rules::file::parse(&yaml).expect("valid YAML");
        let rules = crate::rules::compile::compile(file).expect("valid rules");
        assert_eq!(
            lint(&rules)[0].message,
            "`scale: -0.1` multiplies by the binary number nearest to -1/10, which is not \
             exactly -1/10: 3 × -0.1 gives -0.30000000000000004, 3 / -10 gives -0.3"
        );
        assert_eq!(reciprocal_divisor(0.001), Some(1000.0));
        assert_eq!(reciprocal_divisor(-0.1), Some(-10.0));
        assert_eq!(reciprocal_divisor(f64::MIN_POSITIVE), None);
    }

    #[test]
    fn a_gauge_named_info_with_info_false_is_linted_like_any_gauge() {
        let lints = lints_of(
            "  - { name: job_duration_info, help: h, type: gauge, select: /s/r, \
             value: \"@duration\", info: false }\n  - { name: job_info, help: h, type: gauge, \
             select: /s/r, fields: { duration: \"@duration\" }, labels: { d: \"{{ duration }}\" } }\n",
        );
        assert_eq!(lints, [("metrics[0].name".to_owned(), "missing-unit")]);
    }

    #[test]
    fn naming_lints() {
        let lints = lints_of(
            "  - { name: store_reads, help: h, type: counter, value: count(/s/r) }\n\
             \x20 - { name: store_rows_total, help: h, type: gauge, value: count(/s/r) }\n\
             \x20 - { name: store_latency_ms, help: h, type: gauge, value: count(/s/r) }\n\
             \x20 - { name: node_store_rows, help: h, type: gauge, value: count(/s/r) }\n\
             \x20 - { name: store_size, help: h, type: gauge, value: sum(/s/r/@size) }\n\
             \x20 - { name: store_latency, help: h, type: gauge, select: /s/r, value: \"@latency\", \
             aggregate: max }\n",
        );
        assert_eq!(
            lints,
            [
                ("metrics[0].name".to_owned(), "counter-without-total"),
                ("metrics[1].name".to_owned(), "total-on-non-counter"),
                ("metrics[2].name".to_owned(), "unit-suffix"),
                ("metrics[3].name".to_owned(), "node-prefix"),
                ("metrics[4].name".to_owned(), "missing-unit"),
                ("metrics[5].name".to_owned(), "missing-unit"),
            ]
        );
    }

    #[test]
    fn unused_fields_and_labels_that_can_be_empty() {
        let lints = lints_of(
            "  - name: store_row_size_bytes\n    help: h\n    type: gauge\n    select: /s/r\n\
             \x20   fields: { id: \"@id\", owner: \"string(@owner)\", spare: \"@x\" }\n\
             \x20   labels: { id: \"{{ id }}\", owner: \"{{ owner }}\" }\n    value: \"@size\"\n",
        );
        assert_eq!(
            lints,
            [
                ("metrics[0].labels.owner".to_owned(), "label-can-be-empty"),
                ("metrics[0].fields.spare".to_owned(), "unused-field"),
            ]
        );
    }

    /// A gauge rule with one label over one field; `template` is the label's template.
    fn label_rule(field: &str, template: &str) -> String {
        format!(
            "  - name: store_rows\n    help: h\n    type: gauge\n    select: /s/r\n\
             \x20   fields: {{ f: \"{field}\" }}\n    labels: {{ l: \"{template}\" }}\n\
             \x20   value: \"@v\"\n"
        )
    }

    #[test]
    fn promtool_naming_lints() {
        let lints = lints_of(
            "  - { name: store_rows_count, help: h, type: gauge, value: count(/s/r) }\n\
             \x20 - { name: store_size_sum, help: h, type: counter, value: count(/s/r) }\n\
             \x20 - { name: store_rows_bucket, help: h, type: summary, select: /s/r, value: '@v', \
             quantiles: [0.5] }\n\
             \x20 - { name: store_gauge_rows, help: h, type: gauge, value: count(/s/r) }\n\
             \x20 - { name: store_reads_Counter_total, help: h, type: counter, value: count(/s/r) }\n\
             \x20 - { name: 'store:rows', help: h, type: gauge, value: count(/s/r) }\n\
             \x20 - { name: storeRows, help: h, type: gauge, value: count(/s/r) }\n\
             \x20 - { name: store_rows, help: ' ', type: gauge, value: count(/s/r) }\n\
             \x20 - { name: store_rows_ok, help: h, type: gauge, value: count(/s/r), \
             labels: { rowKind: a, le: b, quantile: c } }\n\
             \x20 - { name: store_wait, help: h, type: histogram, select: /s/r, value: '@v', \
             buckets: [1], labels: { quantile: c } }\n",
        );
        assert_eq!(
            lints,
            [
                ("metrics[0].name".to_owned(), "reserved-suffix"),
                ("metrics[1].name".to_owned(), "counter-without-total"),
                ("metrics[1].name".to_owned(), "reserved-suffix"),
                ("metrics[2].name".to_owned(), "reserved-suffix"),
                ("metrics[3].name".to_owned(), "type-in-name"),
                ("metrics[4].name".to_owned(), "type-in-name"),
                ("metrics[5].name".to_owned(), "colon-in-name"),
                ("metrics[6].name".to_owned(), "camel-case"),
                ("metrics[7].help".to_owned(), "no-help"),
                ("metrics[8].labels.le".to_owned(), "reserved-label"),
                ("metrics[8].labels.quantile".to_owned(), "reserved-label"),
                ("metrics[8].labels.rowKind".to_owned(), "camel-case"),
                ("metrics[9].labels.quantile".to_owned(), "reserved-label"),
            ]
        );
    }

    #[test]
    fn units_anywhere_in_the_name() {
        let units = |name: &str| -> Vec<(String, &'static str, bool)> {
            unit_words(name)
                .into_iter()
                .map(|u| (u.word.to_owned(), u.base, u.abbreviated))
                .collect()
        };
        // promtool: "use base unit", any word, the first too, case-sensitive.
        assert_eq!(
            units("net_bits_per_second"),
            [("bits".to_owned(), "bytes", false)]
        );
        assert_eq!(
            units("kilobytes_free"),
            [("kilobytes".to_owned(), "bytes", false)]
        );
        assert_eq!(
            units("disk_mibibytes"),
            [("mibibytes".to_owned(), "bytes", false)]
        );
        assert_eq!(
            units("run_milliseconds_total"),
            [("milliseconds".to_owned(), "seconds", false)]
        );
        assert_eq!(units("room_fahrenheit")[0].1, "celsius");
        assert_eq!(units("lamp_millivolts")[0].1, "volts");
        assert_eq!(units("job_Milliseconds"), []);
        // promtool: "abbreviated units", a word after the first, any case.
        assert_eq!(units("job_MS_total"), [("MS".to_owned(), "seconds", false)]);
        assert_eq!(units("job_s"), [("s".to_owned(), "seconds", true)]);
        assert_eq!(units("job_sec_x"), [("sec".to_owned(), "seconds", true)]);
        assert_eq!(units("ms_job"), []);
        assert_eq!(units("disk_tb"), [("tb".to_owned(), "bytes", false)]);
        // xml2prom's own: no base units either.
        assert_eq!(
            units("disk_used_percent"),
            [("percent".to_owned(), "ratio", false)]
        );
        // Base units and words that merely contain one pass.
        assert_eq!(units("job_duration_seconds_total"), []);
        assert_eq!(units("room_thermometers"), []);
        assert_eq!(units("disk_bytes_per_second"), []);
        assert_eq!(
            replace_word("net_bits_per_second", 1, "bytes"),
            "net_bytes_per_second"
        );
    }

    #[test]
    fn unit_lints_say_what_to_write() {
        let yaml = "version: 1\nmetrics:\n  - { name: net_bits_per_second, help: h, type: gauge, \
                    value: '1' }\n  - { name: job_s, help: h, type: gauge, value: '1' }\n";
        let rules = crate::rules::compile::compile(crate::rules::file::parse(yaml).expect("YAML"))
            .expect("valid rules");
        let lints = lint(&rules);
        assert_eq!(
            lints[0].help.as_deref(),
            Some(
                "use base units, e.g. `net_bytes_per_second`, and convert the value with \
                 `convert: {scale: ...}` to multiply or `convert: {divide: ...}` to divide \
                 exactly (milliseconds to seconds: `divide: 1000`)"
            )
        );
        assert_eq!(lints[1].message, "`job_s` abbreviates the unit `s`",);
        assert_eq!(
            lints[1].help.as_deref(),
            Some(
                "spell the unit out, e.g. `job_seconds`; `promtool check metrics` reports: \
                 metric names should not contain abbreviated units"
            )
        );
    }

    /// `store_size_kb` has a unit, in the wrong form: `unit-suffix` says so, and
    /// `missing-unit` ("its name has no unit") would be wrong.
    #[test]
    fn a_wrong_unit_is_not_a_missing_one() {
        let lints =
            lints_of("  - { name: store_size_kb, help: h, type: gauge, value: sum(/s/r/@size) }\n");
        assert_eq!(lints, [("metrics[0].name".to_owned(), "unit-suffix")]);
    }

    #[test]
    fn top_level_labels_are_linted_once() {
        let yaml = "version: 1\nlabels: { siteName: a, le: b }\nmetrics:\n  - { name: store_rows, \
                    help: h, type: gauge, value: '1' }\n";
        let rules = crate::rules::compile::compile(crate::rules::file::parse(yaml).expect("YAML"))
            .expect("valid rules");
        let lints: Vec<_> = lint(&rules)
            .into_iter()
            .map(|l| (l.path.to_string(), l.code, l.at_key))
            .collect();
        assert_eq!(
            lints,
            [
                ("labels.le".to_owned(), "reserved-label", true),
                ("labels.siteName".to_owned(), "camel-case", true),
            ]
        );
    }

    #[test]
    fn a_state_label_is_a_label_name_too() {
        let lints = lints_of(
            "  - { name: store_state, help: h, type: gauge, select: /s, value: '@s', \
             states: [a, b], state_label: currentState }\n",
        );
        assert_eq!(lints, [("metrics[0].state_label".to_owned(), "camel-case")]);
    }

    /// Issue 11: `label-can-be-empty` fired on templates that never render empty.
    #[test]
    fn a_label_with_a_default_is_never_empty() {
        for template in [
            "{{ f or 'unnamed' }}",
            "{{ f | default('n/a', true) }}",
            "{{ f if f else 'none' }}",
            "{{ (f or 'x') | upper }}",
            "x-{{ f }}",
            "{% if f %}{{ f }}{% else %}none{% endif %}",
        ] {
            assert_eq!(
                lints_of(&label_rule("string(@f)", template)),
                [],
                "{template}"
            );
        }
    }

    /// A default that replaces only undefined values keeps an empty field empty, so the
    /// label can still be empty (minijinja's `default` as Jinja's).
    #[test]
    fn a_label_that_can_still_be_empty() {
        for template in [
            "{{ f }}",
            "{{ f | default('n/a') }}",
            "{{ f | upper }}",
            "{{ f[3:] }}",
            "{{ f | trim }}",
        ] {
            assert_eq!(
                lints_of(&label_rule("string(@f)", template)),
                [("metrics[0].labels.l".to_owned(), "label-can-be-empty")],
                "{template}"
            );
        }
    }

    #[test]
    fn a_label_empty_only_when_two_fields_are() {
        let yaml = "  - name: store_rows\n    help: h\n    type: gauge\n    select: /s/r\n\
                    \x20   fields: { a: \"string(@a)\", b: \"string(@b)\", c: \"@c\" }\n\
                    \x20   labels: { ab: \"{{ a or b }}\", ac: \"{{ a }}{{ c }}\" }\n    value: \"@v\"\n";
        assert_eq!(
            lints_of(yaml),
            [("metrics[0].labels.ab".to_owned(), "label-can-be-empty")]
        );
        let yaml = format!("version: 1\nmetrics:\n{yaml}");
        let rules = crate::rules::compile::compile(crate::rules::file::parse(&yaml).expect("YAML"))
            .expect("valid rules");
        assert!(
            lint(&rules)[0]
                .message
                .contains("empty when the fields `a` and `b` find nothing"),
            "{:?}",
            lint(&rules)[0].message
        );
    }

    /// Issue 11: `unused-field` fired on a field used through a slice, whose base minijinja's
    /// own analysis does not report.
    #[test]
    fn a_field_used_through_a_filter_a_slice_or_an_attribute_is_used() {
        for template in [
            "{{ f[3:] }}",
            "{{ f[:2] ~ '-' }}",
            "{{ f | upper }}",
            "{{ f.attr | default('x') }}",
            "{{ f[0] }}",
            "{{ 'x' if f else 'y' }}",
            "{% if f %}a{% endif %}",
            "{{ f|replace('a', 'b') }}",
        ] {
            assert_eq!(lints_of(&label_rule("@f", template)), [], "{template}");
        }
        assert_eq!(
            lints_of(&label_rule("@f", "{% set f = 'y' %}{{ f }}")),
            [("metrics[0].fields.f".to_owned(), "unused-field")]
        );
    }

    #[test]
    fn a_rule_allows_a_lint() {
        let rules = "  - { name: store_reads, help: h, type: counter, value: count(/s/r), \
                     allow_lints: [counter-without-total] }\n\
                     \x20 - { name: store_reads_ms, help: h, type: counter, value: count(/s/r), \
                     allow_lints: [counter-without-total] }\n";
        assert_eq!(
            lints_of(rules),
            [("metrics[1].name".to_owned(), "unit-suffix")]
        );
    }

    #[test]
    fn an_unknown_lint_is_refused_with_the_known_ones() {
        let yaml = "version: 1\nmetrics:\n  - { name: store_reads, help: h, type: counter, \
                    value: '1', allow_lints: [unused-fields] }\n";
        let (message, position) = crate::rules::file::parse(yaml).expect_err("unknown lint");
        assert!(
            message.starts_with(
                "metrics[0].allow_lints[0]: `unused-fields` is not a lint; the lints are \
                 counter-without-total, total-on-non-counter, unit-suffix,"
            ),
            "{message}"
        );
        assert!(
            message.contains("unused-field, label-can-be-empty"),
            "{message}"
        );
        assert_eq!(position.map(|p| (p.line, p.column)), Some((3, 76)));
        assert_eq!(
            LintCode::parse("no-help").map(LintCode::as_str),
            Ok("no-help")
        );
    }

    #[test]
    fn a_default_for_undefined_values_only_is_named_in_the_help() {
        let help = |template: &str| {
            let yaml = format!(
                "version: 1\nmetrics:\n{}",
                label_rule("string(@f)", template)
            );
            let rules =
                crate::rules::compile::compile(crate::rules::file::parse(&yaml).expect("YAML"))
                    .expect("valid rules");
            lint(&rules)[0].help.clone().unwrap_or_default()
        };
        assert!(
            help("{{ f | default('n/a') }}")
                .contains("write `{{ f | default(\"none\", true) }}` or `{{ f or \"none\" }}`"),
            "{}",
            help("{{ f | default('n/a') }}")
        );
        assert!(help("{{ f }}").starts_with("give it a default"));
    }
}
