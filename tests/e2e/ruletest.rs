//! `xml2prom test`: the shipped rule tests pass, failures are reported readably, `--update`
//! rewrites golden files, and a broken test file is refused.

use crate::support::{assert_matches_file, entries, root, xml2prom};

/// The test files under `rules/tests/`.
fn shipped() -> Vec<String> {
    entries(&root().join("rules/tests"))
        .into_iter()
        .filter(|name| name.ends_with(".test.yaml"))
        .map(|name| format!("rules/tests/{name}"))
        .collect()
}

#[test]
fn the_shipped_rule_tests_pass() {
    let files = shipped();
    assert!(!files.is_empty(), "rules/tests/ has no test file");
    let mut args = vec!["test".to_owned()];
    args.extend(files);
    let outcome = xml2prom(&root(), &args);
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stdout.contains(", 0 failed\n"),
        "{}",
        outcome.stdout
    );
}

/// Every rule file in `rules/` has a test file naming it.
#[test]
fn every_rule_file_has_tests() {
    let mut tested = Vec::new();
    for file in shipped() {
        let text = std::fs::read_to_string(root().join(&file)).expect("readable");
        let rules = text
            .lines()
            .find_map(|l| l.strip_prefix("rules: "))
            .expect("a `rules:` line");
        let name = std::path::Path::new(rules.trim())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .expect("a file name");
        tested.push(name);
    }
    for name in entries(&root().join("rules")) {
        if name.ends_with(".yaml") {
            assert!(
                tested.contains(&name),
                "rules/{name} has no test file in rules/tests/"
            );
        }
    }
}

#[test]
fn failures_are_reported_per_series() {
    let outcome = xml2prom(&root(), &["test", "tests/ruletest/failing.test.yaml"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_matches_file(
        &root().join("tests/ruletest/failing.expected"),
        &outcome.stdout,
    );
}

#[test]
fn update_rewrites_golden_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let test = dir.path().join("t.test.yaml");
    let rules = root().join("rules/store.yaml");
    std::fs::write(
        &test,
        format!(
            "rules: {}\ntests:\n  - name: golden\n    input: <store/>\n    expect_file: out.prom\n",
            rules.display()
        ),
    )
    .expect("write");
    let missing = xml2prom(dir.path(), &["test", "t.test.yaml"]);
    assert_eq!(missing.code, 1, "no golden yet: {}", missing.stdout);
    assert!(missing.stdout.contains("--update"), "{}", missing.stdout);
    let update = xml2prom(dir.path(), &["test", "--update", "t.test.yaml"]);
    assert_eq!(update.code, 0, "{}{}", update.stdout, update.stderr);
    let golden = std::fs::read_to_string(dir.path().join("out.prom")).expect("written");
    assert!(
        golden.contains("store_total_rows{path=\"test.xml\"} 0\n"),
        "{golden}"
    );
    let again = xml2prom(dir.path(), &["test", "t.test.yaml"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
}

#[test]
fn a_broken_test_file_is_refused() {
    let outcome = xml2prom(&root(), &["test", "tests/ruletest/broken.test.yaml"]);
    assert_eq!(outcome.code, 2);
    assert!(
        outcome
            .stderr
            .contains("test `no expectation`: give exactly one of `expect`"),
        "{}",
        outcome.stderr
    );
}
