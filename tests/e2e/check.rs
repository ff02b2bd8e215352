//! `xml2prom check`: every error of every file, lints, the three output formats and the exit
//! codes, compared with the files under `tests/check/`.

use crate::support::{assert_matches_file, root, xml2prom};

fn check(args: &[&str]) -> crate::support::Outcome {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    xml2prom(&root(), &all)
}

#[test]
fn lints_are_warnings_in_every_format() {
    let human = check(&["tests/check/lints.yaml"]);
    assert_eq!(human.code, 0, "warnings alone pass without --strict");
    assert_matches_file(&root().join("tests/check/lints.human"), &human.stdout);

    let strict = check(&["--strict", "tests/check/lints.yaml"]);
    assert_eq!(strict.code, 1, "--strict fails on warnings");
    assert_eq!(strict.stdout, human.stdout);

    let json = check(&["--format", "json", "tests/check/lints.yaml"]);
    assert_eq!(json.code, 0);
    assert_matches_file(&root().join("tests/check/lints.json"), &json.stdout);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("valid JSON");
    assert_eq!(parsed["warnings"], 5);

    let github = check(&["--format", "github", "tests/check/lints.yaml"]);
    assert_matches_file(&root().join("tests/check/lints.github"), &github.stdout);
    assert!(
        github
            .stdout
            .lines()
            .all(|l| l.starts_with("::warning file="))
    );
}

/// The load errors of `timezone`, `divide` and `info`, and the `inexact-scale` lint, each at
/// its line and column.
#[test]
fn value_errors_and_the_inexact_scale_lint() {
    let files = [
        "tests/cases/rule_convert_value_errors/rules.yaml",
        "tests/cases/rule_info_key_errors/rules.yaml",
        "tests/check/inexact_scale.yaml",
    ];
    let human = check(&files);
    assert_eq!(human.code, 2);
    assert_matches_file(&root().join("tests/check/values.human"), &human.stdout);
    assert!(
        human
            .stdout
            .ends_with("xml2prom: checked 3 rule files: 10 errors, 1 warning\n"),
        "{}",
        human.stdout
    );

    let mut args = vec!["--format", "json"];
    args.extend(files);
    let json = check(&args);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("valid JSON");
    let found: Vec<(String, u64, u64, String)> = parsed["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            (
                d["file"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned(),
                d["line"].as_u64().unwrap_or_default(),
                d["column"].as_u64().unwrap_or_default(),
                d["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("rule_convert_value_errors", 8, 68, "bad-value"),
        ("rule_convert_value_errors", 15, 7, "bad-value"),
        ("rule_convert_value_errors", 23, 14, "bad-value"),
        ("rule_convert_value_errors", 29, 14, "bad-value"),
        ("rule_convert_value_errors", 35, 14, "bad-value"),
        ("rule_convert_value_errors", 41, 24, "bad-value"),
        ("rule_info_key_errors", 9, 11, "forbidden-key"),
        ("rule_info_key_errors", 16, 11, "forbidden-key"),
        ("rule_info_key_errors", 21, 5, "forbidden-key"),
        ("rule_info_key_errors", 22, 5, "missing-key"),
        ("check", 8, 23, "inexact-scale"),
    ];
    let expected: Vec<(String, u64, u64, String)> = expected
        .iter()
        .map(|(dir, line, column, code)| ((*dir).to_owned(), *line, *column, (*code).to_owned()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn every_error_of_every_file_in_one_run() {
    let outcome = check(&[
        "tests/cases/rule_many_problems/rules.yaml",
        "rules/store.yaml",
        "tests/cases/rule_policy_misuse/rules.yaml",
        "tests/cases/rule_yaml_syntax/rules.yaml",
        "tests/check/no-such-file.yaml",
    ]);
    assert_eq!(outcome.code, 2);
    assert_matches_file(
        &root().join("tests/check/many_files.human"),
        &outcome.stdout,
    );
    assert!(
        outcome
            .stdout
            .ends_with("xml2prom: checked 5 rule files: 23 errors, 0 warnings\n")
    );
}

/// Whatever `run` accepts, `check` accepts without error: every rule file of the project.
#[test]
fn every_rule_file_that_runs_passes_check() {
    let mut files: Vec<String> = Vec::new();
    for dir in ["rules", "tests/cases"] {
        for entry in walk(&root().join(dir)) {
            let text = entry.display().to_string();
            let case = entry.parent().map(|p| p.join("expected.prom").exists());
            let is_rules = text.ends_with(".yaml")
                && !text.ends_with(".test.yaml")
                && !text.contains("/alerts/");
            // A case run with `--var`s is checked with them below.
            let has_args = entry.parent().is_some_and(|p| p.join("args").exists());
            if is_rules && !has_args && (dir == "rules" || case == Some(true)) {
                files.push(text);
            }
        }
    }
    assert!(files.len() > 20, "rule files found: {files:?}");
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let outcome = check(&args);
    assert!(
        !outcome.stdout.contains("error["),
        "check reports errors in rule files that run:\n{}",
        outcome.stdout
    );
    assert_ne!(outcome.code, 2);
    let with_vars = check(&[
        "--var",
        "site=paris",
        "--var",
        "prefix=p",
        "tests/cases/vars_and_constant_labels/rules.yaml",
    ]);
    assert_eq!(with_vars.code, 0, "{}", with_vars.stdout);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// One bad key, one bad name, one broken XPath and one key at the wrong level, in four rules:
/// each rule is checked on its own, so all four are reported (issue 11), with a hint for each key.
#[test]
fn an_error_in_each_of_four_rules_gives_four_errors() {
    let human = check(&["tests/check/errors_in_four_rules.yaml"]);
    assert_eq!(human.code, 2);
    assert_matches_file(
        &root().join("tests/check/errors_in_four_rules.human"),
        &human.stdout,
    );
    assert!(
        human.stdout.contains("did you mean `value`?"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("`map` belongs under `convert:`"),
        "{}",
        human.stdout
    );
    let json = check(&["--format", "json", "tests/check/errors_in_four_rules.yaml"]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("valid JSON");
    assert_eq!(parsed["errors"], 4, "{}", json.stdout);
}

#[test]
fn sample_inputs_show_rules_that_give_nothing_empty_labels_and_nan() {
    let rules = "tests/check/samples.yaml";
    let good = check(&[rules, "--input", "tests/check/samples/store.xml"]);
    assert_eq!(good.code, 0, "warnings alone pass: {}", good.stdout);
    assert_matches_file(&root().join("tests/check/samples.human"), &good.stdout);
    let strict = check(&[
        "--strict",
        rules,
        "--input",
        "tests/check/samples/store.xml",
    ]);
    assert_eq!(strict.code, 1, "--strict fails on the sample warnings");

    // A sample that cannot be read is an error; the rules are not judged on it.
    let broken = check(&[
        "--format",
        "json",
        rules,
        "--input",
        "tests/check/samples/broken.xml",
    ]);
    assert_eq!(broken.code, 2, "{}", broken.stdout);
    let parsed: serde_json::Value = serde_json::from_str(&broken.stdout).expect("valid JSON");
    let codes: Vec<&str> = parsed["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        ["sample-failed", "label-can-be-empty"],
        "{}",
        broken.stdout
    );

    // `store_failed_rows` allows `matches-nothing`; without samples, none of this runs.
    assert!(
        !good.stdout.contains("store_failed_rows"),
        "{}",
        good.stdout
    );
    let alone = check(&[rules]);
    assert!(
        !alone.stdout.contains("matches-nothing"),
        "{}",
        alone.stdout
    );
}

/// `check --input` renders templated names as a run does: a name another rule gives with
/// another type is an error on the sample, at the templated rule; a good one passes.
#[test]
fn sample_inputs_check_the_names_templates_render() {
    let case = "tests/cases/name_template_conflict";
    let conflict = check(&[
        &format!("{case}/rules.yaml"),
        "--input",
        &format!("{case}/counters.xml"),
    ]);
    assert_eq!(conflict.code, 2, "{}", conflict.stdout);
    assert!(
        conflict.stdout.contains(
            "rules.yaml:3:5: error[sample-failed]: on the sample input: \
             tests/cases/name_template_conflict/counters.xml: rule metrics[0] \
             (fritzbox_{{ counter | snake_case }}): the name template gave `fritzbox_bytes_sent`, \
             which rule metrics[1] (fritzbox_bytes_sent) also defines with type `gauge`"
        ),
        "{}",
        conflict.stdout
    );
    let good = check(&[
        "rules/fritzbox.yaml",
        "--input",
        "rules/examples/fritzbox-wan-addon-infos.xml",
        "--input",
        "rules/examples/fritzbox-wan-common-link-properties.xml",
        "--input",
        "rules/examples/fritzbox-wlan-total-associations.xml",
    ]);
    assert_eq!(good.code, 0, "{}", good.stdout);
    assert!(
        good.stdout.ends_with("0 errors, 0 warnings\n"),
        "{}",
        good.stdout
    );
}
