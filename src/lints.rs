//! Lints: rule files that work but are probably not what was meant, in the spirit of
//! `promtool check metrics`. They are warnings: `run` ignores them, `check` reports them (and
//! fails on them with `--strict`).

use std::fmt;

use crate::compile::{CompiledRule, CompiledRules, Reduce, Shape};
use crate::diagnostic::FieldPath;
use crate::policy::OnMissing;
use crate::sample::MetricType;

/// One warning about a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    /// Where: the rule, or one of its keys.
    pub path: FieldPath,
    /// Whether the position is the key rather than its value.
    pub at_key: bool,
    /// What kind of problem, e.g. `counter-without-total`.
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

/// Unit suffixes that are not base units, and the base unit to use instead (Prometheus naming
/// conventions: seconds, bytes, ratios).
const NON_BASE_UNITS: &[(&str, &str)] = &[
    ("_ms", "_seconds"),
    ("_msec", "_seconds"),
    ("_millis", "_seconds"),
    ("_milliseconds", "_seconds"),
    ("_us", "_seconds"),
    ("_microseconds", "_seconds"),
    ("_ns", "_seconds"),
    ("_nanoseconds", "_seconds"),
    ("_minutes", "_seconds"),
    ("_hours", "_seconds"),
    ("_days", "_seconds"),
    ("_kb", "_bytes"),
    ("_kib", "_bytes"),
    ("_kilobytes", "_bytes"),
    ("_mb", "_bytes"),
    ("_mib", "_bytes"),
    ("_megabytes", "_bytes"),
    ("_gb", "_bytes"),
    ("_gib", "_bytes"),
    ("_gigabytes", "_bytes"),
    ("_bits", "_bytes"),
    ("_percent", "_ratio"),
    ("_pct", "_ratio"),
];

/// Every lint of a compiled rule file, in rule order.
pub fn lint(rules: &CompiledRules) -> Vec<Lint> {
    let mut lints = Vec::new();
    for rule in &rules.rules {
        lint_rule(rule, rules, &mut lints);
    }
    lints
}

fn lint_rule(rule: &CompiledRule, rules: &CompiledRules, lints: &mut Vec<Lint>) {
    let path = FieldPath::root().key("metrics").index(rule.index);
    let name = rule.name.as_str();
    let mut warn = |key: &str, code: &'static str, message: String, help: Option<String>| {
        let path = key
            .split('.')
            .filter(|k| !k.is_empty())
            .fold(path.clone(), |path, k| path.key(k));
        lints.push(Lint {
            path,
            at_key: false,
            code,
            message,
            help,
        });
    };
    // The name of the series for a gauge or counter; histograms and summaries add their own
    // suffixes.
    let base = name.strip_suffix("_total").unwrap_or(name);
    match rule.kind {
        MetricType::Counter if !name.ends_with("_total") => warn(
            "name",
            "counter-without-total",
            format!("the counter `{name}` does not end in `_total`"),
            Some(format!(
                "name counters `..._total`, e.g. `{name}_total` (Prometheus naming conventions)"
            )),
        ),
        MetricType::Gauge | MetricType::Histogram | MetricType::Summary
            if name.ends_with("_total") =>
        {
            warn(
                "name",
                "total-on-non-counter",
                format!(
                    "`{name}` ends in `_total`, which marks a counter, but it is a {}",
                    rule.kind
                ),
                Some(format!("rename it `{base}`, or make it a counter")),
            )
        }
        _ => {}
    }
    if let Some((suffix, base_unit)) = NON_BASE_UNITS
        .iter()
        .find(|(suffix, _)| base.ends_with(suffix))
    {
        let stem = &base[..base.len() - suffix.len()];
        warn(
            "name",
            "unit-suffix",
            format!(
                "`{name}` has the unit `{}`, which is not a base unit",
                &suffix[1..]
            ),
            Some(format!(
                "use base units and convert the value (`convert: {{scale: ...}}`): e.g. \
                 `{stem}{base_unit}`"
            )),
        );
    }
    if let Some((unit, why)) = missing_unit(rule, base) {
        warn(
            "name",
            "missing-unit",
            format!("`{name}` reads {why} but its name has no unit"),
            Some(format!(
                "end the name in the unit of the value, e.g. `{base}_{unit}`{}",
                if name.ends_with("_total") {
                    "_total"
                } else {
                    ""
                }
            )),
        );
    }
    if name.starts_with("node_") {
        warn(
            "name",
            "node-prefix",
            format!("`{name}` starts with `node_`, the prefix of node_exporter's own metrics"),
            Some(
                "a textfile metric with the name of a node_exporter metric makes the whole \
                 scrape fail; use a prefix of your own, such as the application's name"
                    .to_owned(),
            ),
        );
    }
    let Shape::Nodes { fields, reduce, .. } = &rule.shape else {
        return;
    };
    let used: Vec<String> = rule
        .labels
        .iter()
        .flat_map(|(_, id)| rules.templates.variables(id))
        .map(|variable| variable.split('.').next().unwrap_or_default().to_owned())
        .collect();
    for (field, query) in fields {
        if !used.iter().any(|u| u == field.as_str()) {
            warn(
                &format!("fields.{}", field.as_str()),
                "unused-field",
                format!("the field `{}` is not used by any label", field.as_str()),
                Some(format!(
                    "use it in a label (`{{{{ {} }}}}`) or remove it; every field is read \
                     from every node",
                    field.as_str()
                )),
            );
        }
        let can_be_empty = query.text().trim_start().starts_with("string(")
            || rule.policies.on_missing == OnMissing::Zero;
        if can_be_empty && used.iter().any(|u| u == field.as_str()) {
            for (label, id) in &rule.labels {
                let direct = rules
                    .templates
                    .variables(id)
                    .iter()
                    .any(|v| v == field.as_str());
                if direct && matches!(reduce, Reduce::Each(_) | Reduce::States { .. }) {
                    warn(
                        &format!("labels.{}", label.as_str()),
                        "label-can-be-empty",
                        format!(
                            "the label `{}` is empty when the field `{}` finds nothing, and an \
                             empty label is the same as no label, so such nodes can collide \
                             with each other",
                            label.as_str(),
                            field.as_str()
                        ),
                        Some(
                            "give it a default in the template, e.g. \
                             `{{ owner or \"none\" }}`, or filter such nodes out in `select`"
                                .to_owned(),
                        ),
                    );
                }
            }
        }
    }
}

/// Unit suffixes a name may end in (base units and common dimensionless ones).
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
    "_info",
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
        let file = crate::rulefile::parse(&yaml).expect("valid YAML");
        let rules = crate::compile::compile(file).expect("valid rules");
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
}
