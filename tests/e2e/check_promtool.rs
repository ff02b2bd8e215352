//! `xml2prom check --strict` against the real `promtool check metrics`: for each problem
//! promtool reports, a rule whose output promtool flags so and which `check --strict` warns
//! about; a corpus of names where every family promtool flags comes from a rule `check` warns
//! about; and the rule files under `tests/check/` on silenced lints, compared with their
//! `.human` files.
//!
//! promtool (2.42, Debian package `prometheus`) is skipped with a notice when absent, unless
//! `XML2PROM_REQUIRE_TOOLS=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::interop::promtool_check;
use crate::support::{Outcome, assert_matches_file, root, xml2prom};

/// The store every rule here reads: two rows.
const STORE: &str = "<s><r k=\"a\" v=\"1\"/><r k=\"b\" v=\"2\"/></s>\n";

/// Writes `rules` and [`STORE`] into `dir`, then runs the rules and returns the exposition.
fn exposition(dir: &Path, rules: &str) -> String {
    std::fs::write(dir.join("rules.yaml"), rules).expect("write rules");
    std::fs::write(dir.join("store.xml"), STORE).expect("write store");
    let run = xml2prom(
        dir,
        &[
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--output",
            "-",
            "--no-self-metrics",
        ],
    );
    assert_eq!(run.code, 0, "run failed:\n{}\n{rules}", run.stderr);
    run.stdout
}

/// `check --strict --format json rules.yaml` in `dir`: the outcome and each warning as
/// (rule index, code).
fn strict_check(dir: &Path) -> (Outcome, Vec<(Option<usize>, String)>) {
    let outcome = xml2prom(
        dir,
        &["check", "--strict", "--format", "json", "rules.yaml"],
    );
    let report: serde_json::Value =
        serde_json::from_str(&outcome.stdout).expect("check --format json gives JSON");
    assert_eq!(report["errors"], 0, "{}", outcome.stdout);
    let warnings = report["diagnostics"]
        .as_array()
        .expect("a list of diagnostics")
        .iter()
        .map(|d| {
            let message = d["message"].as_str().unwrap_or_default();
            let rule = message
                .strip_prefix("metrics[")
                .and_then(|rest| rest.split(']').next())
                .and_then(|index| index.parse().ok());
            (rule, d["code"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    (outcome, warnings)
}

/// A rule file of one gauge counting rows, with `rule` (YAML flow-mapping entries) added or
/// replacing `name`, `type` and `help`.
fn one_rule(entries: &str) -> String {
    let mut rule: BTreeMap<&str, &str> = [
        ("name", "store_rows"),
        ("help", "Rows"),
        ("type", "gauge"),
        ("value", "count(/s/r)"),
    ]
    .into_iter()
    .collect();
    let mut top = "";
    for entry in entries.split(" ; ") {
        if let Some(labels) = entry.strip_prefix("top: ") {
            top = labels;
            continue;
        }
        let (key, value) = entry.split_once(": ").expect("`key: value`");
        rule.insert(key, value);
    }
    let body: Vec<String> = rule.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("version: 1\n{top}metrics:\n  - {{ {} }}\n", body.join(", "))
}

/// Every problem promtool 2.42 reports on a family (promlint of client_golang 1.14), as
/// (promtool's words, the lint that warns about it, the rule that makes it).
const PROMTOOL_PROBLEMS: &[(&str, &str, &str)] = &[
    (
        "store_reads counter metrics should have \"_total\" suffix",
        "counter-without-total",
        "name: store_reads ; type: counter",
    ),
    (
        "store_rows_total non-counter metrics should not have \"_total\" suffix",
        "total-on-non-counter",
        "name: store_rows_total",
    ),
    (
        "store_net_bits_per_second use base unit \"bytes\" instead of \"bits\"",
        "unit-suffix",
        "name: store_net_bits_per_second",
    ),
    (
        "store_wait_milliseconds use base unit \"seconds\" instead of \"milliseconds\"",
        "unit-suffix",
        "name: store_wait_milliseconds",
    ),
    (
        "kilobytes_free use base unit \"bytes\" instead of \"kilobytes\"",
        "unit-suffix",
        "name: kilobytes_free",
    ),
    (
        "store_wait_hours use base unit \"seconds\" instead of \"hours\"",
        "unit-suffix",
        "name: store_wait_hours",
    ),
    (
        "store_wait_s metric names should not contain abbreviated units",
        "unit-suffix",
        "name: store_wait_s",
    ),
    (
        "store_wait_MS_total metric names should not contain abbreviated units",
        "unit-suffix",
        "name: store_wait_MS_total ; type: counter",
    ),
    (
        "store_rows_count non-histogram and non-summary metrics should not have \"_count\" suffix",
        "reserved-suffix",
        "name: store_rows_count",
    ),
    (
        "store_size_sum non-histogram and non-summary metrics should not have \"_sum\" suffix",
        "reserved-suffix",
        "name: store_size_sum",
    ),
    (
        "store_rows_bucket non-histogram metrics should not have \"_bucket\" suffix",
        "reserved-suffix",
        "name: store_rows_bucket ; type: summary ; select: /s/r ; value: '@v' ; \
         quantiles: [0.5]",
    ),
    (
        "store_rows non-histogram metrics should not have \"le\" label",
        "reserved-label",
        "labels: { le: x }",
    ),
    (
        "store_rows non-summary metrics should not have \"quantile\" label",
        "reserved-label",
        "top: labels: { quantile: x }\n",
    ),
    (
        "store_rows_gauge metric name should not include type 'gauge'",
        "type-in-name",
        "name: store_rows_gauge",
    ),
    (
        "store_counter_reads_total metric name should not include type 'counter'",
        "type-in-name",
        "name: store_counter_reads_total ; type: counter",
    ),
    (
        "store_wait_histogram metric name should not include type 'histogram'",
        "type-in-name",
        "name: store_wait_histogram ; type: histogram ; select: /s/r ; value: '@v' ; \
         buckets: [1]",
    ),
    (
        "store_wait_summary metric name should not include type 'summary'",
        "type-in-name",
        "name: store_wait_summary ; type: summary ; select: /s/r ; value: '@v' ; \
         quantiles: [0.5]",
    ),
    (
        "store:rows metric names should not contain ':'",
        "colon-in-name",
        "name: 'store:rows'",
    ),
    (
        "storeRows metric names should be written in 'snake_case' not 'camelCase'",
        "camel-case",
        "name: storeRows",
    ),
    (
        "store_rows label names should be written in 'snake_case' not 'camelCase'",
        "camel-case",
        "select: /s/r ; fields: { k: '@k' } ; labels: { rowKind: '{{ k }}' } ; \
         aggregate: sum ; value: '@v'",
    ),
    (
        "store_rows label names should be written in 'snake_case' not 'camelCase'",
        "camel-case",
        "top: labels: { siteName: paris }\n",
    ),
    (
        "store_state label names should be written in 'snake_case' not 'camelCase'",
        "camel-case",
        "name: store_state ; select: /s/r ; value: '@k' ; states: [a, b] ; \
         fields: { v: '@v' } ; labels: { v: '{{ v }}' } ; state_label: rowState",
    ),
    ("store_rows no help text", "no-help", "help: ''"),
    ("store_rows no help text", "no-help", "help: ' '"),
];

/// Issue 11: `check --strict` passed rules whose output promtool then lints. For each problem
/// promtool reports: promtool reports it on the rule's output, and `check --strict` fails on
/// the matching lint; the clean rule passes both.
#[test]
fn each_promtool_lint_is_a_check_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clean = one_rule(
        "select: /s/r ; fields: { k: '@k' } ; labels: { kind: '{{ k }}' } ; aggregate: sum ; \
         value: '@v'",
    );
    let text = exposition(dir.path(), &clean);
    assert_eq!(promtool_check(&text), Ok(()), "{text}");
    let (outcome, warnings) = strict_check(dir.path());
    assert_eq!((outcome.code, warnings), (0, vec![]), "{}", outcome.stdout);

    for (says, code, rule) in PROMTOOL_PROBLEMS {
        let rules = one_rule(rule);
        let text = exposition(dir.path(), &rules);
        if let Err(complaint) = promtool_check(&text) {
            assert!(
                complaint.contains(says),
                "promtool does not say `{says}` about:\n{text}\nit says:\n{complaint}"
            );
        } else if which_promtool() {
            panic!("promtool accepts the output of\n{rules}\n{text}");
        }
        let (outcome, warnings) = strict_check(dir.path());
        assert_eq!(
            outcome.code, 1,
            "check --strict passes\n{rules}{}",
            outcome.stdout
        );
        // A top-level label is linted once, for no rule in particular.
        assert!(
            warnings.contains(&(Some(0), code.to_string()))
                || (rule.starts_with("top: ") && warnings.contains(&(None, code.to_string()))),
            "check --strict does not warn `{code}` about\n{rules}{}",
            outcome.stdout
        );
    }
}

/// Whether promtool is installed (a missing one was reported by [`promtool_check`]).
fn which_promtool() -> bool {
    std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok()
}

/// Words a generated metric name is made of: units in every form promtool knows, abbreviations
/// in both cases, types, reserved suffixes, and words that only look like them.
const WORDS: &[&str] = &[
    "seconds",
    "milliseconds",
    "microseconds",
    "nanoseconds",
    "kiloseconds",
    "minutes",
    "hours",
    "days",
    "weeks",
    "bytes",
    "kilobytes",
    "megabytes",
    "mibibytes",
    "mebibytes",
    "gibibytes",
    "bits",
    "kilobits",
    "meters",
    "kilometers",
    "metres",
    "inches",
    "miles",
    "celsius",
    "millicelsius",
    "fahrenheit",
    "kelvin",
    "kelvins",
    "volts",
    "millivolts",
    "amperes",
    "milliamperes",
    "joules",
    "calories",
    "grams",
    "kilograms",
    "pounds",
    "ounces",
    "s",
    "ms",
    "us",
    "ns",
    "sec",
    "b",
    "kb",
    "mb",
    "gb",
    "tb",
    "pb",
    "m",
    "h",
    "d",
    "MS",
    "Sec",
    "KB",
    "counter",
    "gauge",
    "histogram",
    "summary",
    "Gauge",
    "bucket",
    "count",
    "sum",
    "total",
    "rows",
    "size",
    "thermometers",
    "msg",
    "bus",
    "ends",
    "secs",
    "second",
    "per",
    "ratio",
    "info",
    "sums",
    "counters",
    "gauges",
    "Milliseconds",
    "fooBar",
    "x:y",
];

/// Issue 11, the guarantee itself: over a corpus of names built from [`WORDS`] for every
/// type, every family promtool reports a problem about comes from a rule `check --strict`
/// warns about; and every rule warned about by a lint that mirrors one promtool rule
/// exactly is a family promtool reports.
#[test]
fn promtool_never_complains_about_what_check_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut names = BTreeSet::new();
    for (i, first) in WORDS.iter().enumerate() {
        let second = WORDS[(i * 7 + 3) % WORDS.len()];
        for name in [
            format!("store_{first}"),
            format!("store_{first}_{second}"),
            format!("{first}_store"),
        ] {
            if name.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
                names.insert(name);
            }
        }
    }
    let kinds = [
        ("gauge", ""),
        ("counter", ""),
        ("histogram", ", select: /s/r, value: '@v', buckets: [1]"),
        ("summary", ", select: /s/r, value: '@v', quantiles: [0.5]"),
    ];
    let mut rules = String::from("version: 1\nmetrics:\n");
    let mut families = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (mut kind, mut rest) = kinds[i % kinds.len()];
        // Info metrics are gauges, and a histogram or summary must not share its series'
        // names with another rule.
        let clashes = ["_sum", "_count", "_bucket"]
            .iter()
            .any(|suffix| names.contains(&format!("{name}{suffix}")));
        if rest.contains("select") && clashes {
            (kind, rest) = kinds[0];
        }
        if name.ends_with("_info") {
            (kind, rest) = ("gauge", ", select: /s");
        }
        let rest = if rest.is_empty() {
            ", value: count(/s/r)"
        } else {
            rest
        };
        rules.push_str(&format!(
            "  - {{ name: '{name}', help: h, type: {kind}{rest} }}\n"
        ));
        families.push(name.clone());
    }
    let text = exposition(dir.path(), &rules);
    let complaint = match promtool_check(&text) {
        Err(complaint) => complaint,
        Ok(()) if !which_promtool() => return,
        Ok(()) => panic!("promtool accepts every name of the corpus"),
    };
    let flagged: BTreeSet<&str> = complaint
        .lines()
        .filter_map(|line| line.split_once(' ').map(|(family, _)| family))
        .filter(|family| families.iter().any(|f| f == family))
        .collect();
    let (_, warnings) = strict_check(dir.path());
    let warned: BTreeSet<&str> = warnings
        .iter()
        .filter_map(|(rule, _)| rule.map(|i| families[i].as_str()))
        .collect();
    let missed: Vec<&&str> = flagged.difference(&warned).collect();
    assert!(
        missed.is_empty(),
        "promtool reports problems that check --strict does not warn about: {missed:?}\n\
         promtool says:\n{complaint}"
    );
    // Lints that mirror one promtool rule exactly (not `unit-suffix`, which also knows units
    // promtool does not, and whose promtool rule picks one of several units at random).
    let exact = [
        "counter-without-total",
        "total-on-non-counter",
        "reserved-suffix",
        "type-in-name",
        "colon-in-name",
        "camel-case",
    ];
    let extra: Vec<&str> = warnings
        .iter()
        .filter(|(_, code)| exact.contains(&code.as_str()))
        .filter_map(|(rule, _)| rule.map(|i| families[i].as_str()))
        .filter(|family| !flagged.contains(family))
        .collect();
    assert!(
        extra.is_empty(),
        "check warns where promtool is silent: {extra:?}"
    );
    assert!(
        flagged.len() > 100 && flagged.len() + 20 < families.len(),
        "the corpus has clean and flagged names: {} of {} flagged",
        flagged.len(),
        families.len()
    );
}

/// `allow_lints:` silences one lint for one rule; defaults, filters and slices give no lint;
/// a `default(...)` that keeps an empty field empty, and a new unit lint, still warn.
#[test]
fn allowed_lints_defaults_and_slices() {
    let outcome = xml2prom(
        &root(),
        &["check", "--strict", "tests/check/allow_lints.yaml"],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stdout);
    assert_matches_file(
        &root().join("tests/check/allow_lints.human"),
        &outcome.stdout,
    );
}

/// What `check` says about the templates of `tests/check/allow_lints.yaml` is what `run` does
/// with them: a row without `suite`, `owner` or `note` gets `unnamed` and `nobody`, but no
/// `note` label at all, since `default('none')` keeps the empty string.
#[test]
fn a_run_renders_defaults_as_the_lints_say() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = std::fs::read_to_string(root().join("tests/check/allow_lints.yaml"))
        .expect("read the rule file");
    std::fs::write(dir.path().join("rules.yaml"), rules).expect("write rules");
    std::fs::write(
        dir.path().join("store.xml"),
        "<store throughput=\"10\">\
         <row id=\"r1\" code=\"ABC123\" size=\"5\" reads=\"1\" writes=\"2\"/>\
         <row id=\"r2\" code=\"XYZ9\" size=\"6\" suite=\"s\" owner=\"o\" note=\"n\" reads=\"1\" \
         writes=\"2\"><note/></row></store>\n",
    )
    .expect("write store");
    let run = xml2prom(
        dir.path(),
        &[
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--output",
            "-",
            "--no-self-metrics",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    for line in [
        "store_row_size_bytes{code=\"123\",id=\"R1\",owner=\"nobody\",suite=\"unnamed\"} 5\n",
        "store_row_size_bytes{code=\"9\",id=\"R2\",owner=\"o\",suite=\"s\"} 6\n",
        "store_row_notes{id=\"r1\"} 0\n",
        "store_row_notes{id=\"r2\",note=\"n\"} 1\n",
    ] {
        assert!(run.stdout.contains(line), "no `{line}` in\n{}", run.stdout);
    }
}

/// An unknown lint in `allow_lints:` is a rule-file error, for `check` and `run` alike, and
/// the message lists the known lints.
#[test]
fn an_unknown_lint_is_an_error_listing_the_known_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("rules.yaml"),
        one_rule("allow_lints: [unused-fields]"),
    )
    .expect("write rules");
    let check = xml2prom(dir.path(), &["check", "rules.yaml"]);
    assert_eq!(check.code, 2, "{}", check.stdout);
    assert!(
        check.stdout.contains(
            "metrics[0].allow_lints[0] (rule `store_rows`): `unused-fields` is not a lint; the lints are \
             counter-without-total, total-on-non-counter, unit-suffix, missing-unit, \
             reserved-suffix, reserved-label, type-in-name, colon-in-name, camel-case, no-help, \
             node-prefix, unused-field, label-can-be-empty"
        ),
        "{}",
        check.stdout
    );
    std::fs::write(dir.path().join("store.xml"), STORE).expect("write store");
    let run = xml2prom(
        dir.path(),
        &[
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "-o",
            "-",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("`unused-fields` is not a lint"),
        "{}",
        run.stderr
    );
}

/// The messages of the lints that mirror promtool, one rule each.
#[test]
fn promtool_lints_in_human_form() {
    let outcome = xml2prom(
        &root(),
        &["check", "--strict", "tests/check/promtool_lints.yaml"],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stdout);
    assert_matches_file(
        &root().join("tests/check/promtool_lints.human"),
        &outcome.stdout,
    );
}
