//! `schemas/rules.schema.json`: the committed JSON Schema is the one the loader's types give
//! and the one `xml2prom schema` prints, every rule file of the project validates against it, and it refuses what the loader refuses
//! for the reasons a schema can state (unknown keys, bad names, wrong types).

use std::path::{Path, PathBuf};

use crate::support::{bless, root, xml2prom};

/// Where the schema is committed, relative to the repository root.
const SCHEMA: &str = "schemas/rules.schema.json";

/// `xml2prom schema` prints the schema, and only it, to stdout: the committed file, byte for byte.
#[test]
fn committed_schema_is_up_to_date() {
    let printed = xml2prom(&root(), &["schema"]);
    assert_eq!(
        (printed.code, printed.stderr.as_str()),
        (0, ""),
        "`xml2prom schema` fails"
    );
    let generated = printed.stdout;
    pretty_assertions::assert_eq!(
        generated,
        xml2prom::rules::file::json_schema(),
        "`xml2prom schema` prints another schema than the rule file types give"
    );
    let path = root().join(SCHEMA);
    if bless() {
        std::fs::write(&path, &generated).expect("write the schema");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!("cannot read {SCHEMA}: {err}; create it with `XML2PROM_BLESS=1 cargo test schema`")
    });
    pretty_assertions::assert_eq!(
        committed,
        generated,
        "{SCHEMA} is out of date with the rule file types; regenerate it with \
         `XML2PROM_BLESS=1 cargo test schema`, review the diff and commit it"
    );
}

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&xml2prom::rules::file::json_schema()).expect("the schema is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    if let Err(err) = jsonschema::meta::validate(&schema) {
        panic!("{SCHEMA} is not a valid JSON Schema: {err}");
    }
}

/// Every rule file the loader reads validates: the bundled rules (not Prometheus alert rules
/// under `rules/alerts/`, nor rule tests `*.test.yaml`), every golden case's rules and every
/// file under `tests/check/`.
#[test]
fn every_rule_file_the_loader_reads_validates() {
    let validator = validator();
    let mut files: Vec<PathBuf> = walk(&root().join("rules"))
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .filter(|path| !path.components().any(|c| c.as_os_str() == "alerts"))
        .filter(|path| !path.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    files.extend(
        walk(&root().join("tests/check"))
            .into_iter()
            .filter(|path| path.extension().is_some_and(|ext| ext == "yaml")),
    );
    let mut running_cases = 0;
    for case in walk_dirs(&root().join("tests/cases")) {
        let rules = case.join("rules.yaml");
        if case.join("expected.prom").exists() {
            running_cases += 1;
            files.push(rules);
        } else if rules.exists() {
            // A case that fails later (on its XML, or when rules are compiled) still has a rule
            // file the loader reads; one it refuses is checked below, not here.
            files.push(rules);
        }
    }
    assert!(running_cases > 15, "golden cases found: {running_cases}");

    let mut checked = 0;
    let mut failures = Vec::new();
    for path in &files {
        let source = std::fs::read_to_string(path).expect("readable rule file");
        let must_run = path
            .parent()
            .is_some_and(|dir| dir.join("expected.prom").exists())
            || path.starts_with(root().join("rules"));
        match xml2prom::rules::file::parse(&source) {
            Ok(_) => {}
            Err((message, _)) if must_run => {
                panic!("{} does not load: {message}", path.display())
            }
            Err(_) => continue,
        }
        checked += 1;
        let instance = yaml_to_json(&source);
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|err| format!("  {}: {err}", err.instance_path()))
            .collect();
        if !errors.is_empty() {
            failures.push(format!("{}:\n{}", display(path), errors.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "rule files the loader reads do not validate against {SCHEMA}:\n{}",
        failures.join("\n")
    );
    assert!(checked > 30, "rule files checked: {checked}");
}

/// Rule files with a mistake the schema can state are refused by the schema and by the loader.
#[test]
fn schema_refuses_what_the_loader_refuses() {
    let validator = validator();
    const RULE: &str = "version: 1\nmetrics:\n  - name: store_rows\n    help: Rows\n    \
                        type: gauge\n";
    let invalid = [
        (
            "an unknown key in a rule",
            format!("{RULE}    valeu: count(//row)\n"),
        ),
        (
            "an unknown top-level key",
            format!("{RULE}    value: '1'\nlables: {{}}\n"),
        ),
        (
            "a metric name starting with a digit",
            RULE.replace("store_rows", "2bad") + "    value: '1'\n",
        ),
        (
            "a metric name with a dash",
            RULE.replace("store_rows", "store-rows") + "    value: '1'\n",
        ),
        (
            "a reserved metric name",
            RULE.replace("store_rows", "__rows") + "    value: '1'\n",
        ),
        (
            "a reserved label name",
            format!("{RULE}    value: '1'\n    labels: {{ __kind: x }}\n"),
        ),
        (
            "a label name with a colon",
            format!("{RULE}    value: '1'\n    labels: {{ 'a:b': x }}\n"),
        ),
        (
            "a reserved field name",
            format!("{RULE}    select: /r\n    value: '1'\n    fields: {{ input: '@a' }}\n"),
        ),
        (
            "a reserved namespace prefix",
            format!("{RULE}    value: '1'\nnamespaces: {{ xml: 'urn:x' }}\n"),
        ),
        (
            "an unknown metric type",
            RULE.replace("gauge", "gauge2") + "    value: '1'\n",
        ),
        (
            "version 2",
            RULE.replace("version: 1", "version: 2") + "    value: '1'\n",
        ),
        (
            "metrics as a mapping",
            "version: 1\nmetrics: {}\n".to_owned(),
        ),
        ("no metrics", "version: 1\n".to_owned()),
        (
            "a rule without help",
            RULE.replace("    help: Rows\n", "") + "    value: '1'\n",
        ),
        (
            "a bucket that is not a number",
            RULE.replace("gauge", "histogram")
                + "    select: /r\n    value: '1'\n    \
                                                  buckets: [small]\n",
        ),
        (
            "help as a list",
            RULE.replace("help: Rows", "help: [Rows]") + "    value: '1'\n",
        ),
        (
            "an unknown aggregation",
            format!("{RULE}    select: /r\n    aggregate: median\n"),
        ),
        (
            "an unknown policy",
            format!("{RULE}    select: /r\n    value: '@v'\n    on_missing: ignore\n"),
        ),
        ("an empty XPath", format!("{RULE}    value: ''\n")),
        (
            "an unknown convert key",
            format!("{RULE}    value: '@v'\n    convert: {{ parse: number, unit: s }}\n"),
        ),
        (
            "a convert default without map",
            format!("{RULE}    value: '@v'\n    convert: {{ default: 0 }}\n"),
        ),
        (
            "a convert format without parse: time",
            format!("{RULE}    value: '@v'\n    convert: {{ format: rfc3339 }}\n"),
        ),
        (
            "parse: time without format",
            format!("{RULE}    value: '@v'\n    convert: {{ parse: time }}\n"),
        ),
        (
            "a decimal separator with parse: boolean",
            format!(
                "{RULE}    value: '@v'\n    convert: {{ parse: boolean, decimal_separator: ',' }}\n"
            ),
        ),
        (
            "a scale of 0",
            format!("{RULE}    value: '@v'\n    convert: {{ scale: 0 }}\n"),
        ),
        (
            "a map value that is not a number",
            format!("{RULE}    value: '@v'\n    convert: {{ map: {{ OK: one }} }}\n"),
        ),
        (
            "a divide of 0",
            format!("{RULE}    value: '@v'\n    convert: {{ divide: 0 }}\n"),
        ),
        (
            "scale and divide together",
            format!("{RULE}    value: '@v'\n    convert: {{ scale: 2, divide: 1000 }}\n"),
        ),
        (
            "a timezone without parse: time",
            format!("{RULE}    value: '@v'\n    convert: {{ timezone: Europe/Berlin }}\n"),
        ),
        (
            "a timezone with format: rfc3339",
            format!(
                "{RULE}    value: '@v'\n    convert: {{ parse: time, format: rfc3339, \
                 timezone: UTC }}\n"
            ),
        ),
        (
            "info that is not a boolean",
            format!("{RULE}    select: /r\n    value: '@v'\n    info: 'no'\n"),
        ),
    ];
    for (what, yaml) in &invalid {
        assert!(
            xml2prom::rules::file::parse(yaml).is_err(),
            "the loader accepts {what}:\n{yaml}"
        );
        assert!(
            !validator.is_valid(&yaml_to_json(yaml)),
            "the schema accepts {what}:\n{yaml}"
        );
    }
    for case in ["rule_unknown_key", "rule_bad_metric_name"] {
        let path = root().join("tests/cases").join(case).join("rules.yaml");
        let source = std::fs::read_to_string(&path).expect("readable rule file");
        assert!(
            !validator.is_valid(&yaml_to_json(&source)),
            "the schema accepts {}",
            display(&path)
        );
    }
}

/// A value YAML reads as a number or boolean where the loader wants text is that text to the
/// loader, so the schema accepts it too: `value: 1` is the XPath `1`.
#[test]
fn schema_accepts_numbers_where_the_loader_reads_text() {
    let yaml = "version: 1\nmetrics:\n  - name: up\n    help: 42\n    type: gauge\n    \
                value: 1\n    labels: { release: 2 }\n  - name: service_state\n    help: State\n    \
                type: gauge\n    select: /s\n    value: '@state'\n    states: [0, 1, true]\n";
    assert!(
        xml2prom::rules::file::parse(yaml).is_ok(),
        "the loader reads it"
    );
    let instance = yaml_to_json(yaml);
    let errors: Vec<String> = validator()
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// A validator for the schema, as generated: the same text as the committed file (see
/// [`committed_schema_is_up_to_date`]), without racing that test when it rewrites the file. The
/// schema has no remote references, so nothing is fetched.
fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(&xml2prom::rules::file::json_schema()).expect("the schema is JSON");
    jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|err| panic!("the schema does not compile: {err}"))
}

/// The rule file as JSON, as an editor's YAML language server sees it.
/// The rule file as the loader sees it, merge keys (`<<: *anchor`) applied, as JSON.
fn yaml_to_json(source: &str) -> serde_json::Value {
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(source).unwrap_or_else(|err| panic!("not YAML: {err}\n{source}"));
    value
        .apply_merge()
        .unwrap_or_else(|err| panic!("bad merge keys: {err}\n{source}"));
    serde_json::to_value(value).unwrap_or_else(|err| panic!("not JSON: {err}\n{source}"))
}

fn display(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The files under `dir`, recursively, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in walk_dirs(dir).into_iter().chain([dir.to_owned()]) {
        if let Ok(entries) = std::fs::read_dir(&path) {
            out.extend(
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|path| path.is_file()),
            );
        }
    }
    out.sort();
    out
}

/// The directories under `dir`, recursively, sorted.
fn walk_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for path in entries.flatten().map(|entry| entry.path()) {
            if path.is_dir() {
                out.extend(walk_dirs(&path));
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
