//! The command line as a user meets it: help, usage errors, output destinations.

use crate::support::{entries, root, xml2prom};

#[test]
fn help_states_the_exit_codes() {
    let outcome = xml2prom(&root(), &["run", "--help"]);
    assert_eq!(outcome.code, 0);
    for line in [
        "Exit codes:",
        "0  success",
        "2  the rule file or the command line is wrong",
    ] {
        assert!(
            outcome.stdout.contains(line),
            "{line:?} missing from:\n{}",
            outcome.stdout
        );
    }
    assert!(outcome.stdout.contains("Example:"), "{}", outcome.stdout);
}

#[test]
fn usage_errors_exit_2() {
    let outcome = xml2prom(
        &root(),
        &["run", "--rules", "rules/store.yaml", "--output", "-"],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("--input"), "{}", outcome.stderr);
    let outcome = xml2prom(&root(), &["frobnicate"]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
}

#[test]
fn version_is_printed() {
    let outcome = xml2prom(&root(), &["--version"]);
    assert_eq!(outcome.code, 0);
    assert!(
        outcome.stdout.starts_with("xml2prom "),
        "{}",
        outcome.stdout
    );
}

#[test]
fn writing_to_a_file_prints_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("store.prom");
    let outcome = xml2prom(
        &root(),
        &[
            "run",
            "--rules",
            "rules/store.yaml",
            "--input",
            "rules/examples/store.xml",
            "--output",
            &output.display().to_string(),
        ],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!((outcome.stdout.as_str(), outcome.stderr.as_str()), ("", ""));
    let written = std::fs::read_to_string(&output).expect("written");
    let expected =
        std::fs::read_to_string(root().join("rules/examples/store.prom")).expect("golden");
    assert_eq!(written, expected);
    assert_eq!(entries(dir.path()), ["store.prom"]);
}

#[test]
fn output_directory_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("missing").join("store.prom");
    let outcome = xml2prom(
        &root(),
        &[
            "run",
            "--rules",
            "rules/store.yaml",
            "--input",
            "rules/examples/store.xml",
            "--output",
            &output.display().to_string(),
        ],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("cannot write"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("the previous file is unchanged"),
        "{}",
        outcome.stderr
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn output_without_prom_suffix_is_written_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("store.txt");
    let outcome = xml2prom(
        &root(),
        &[
            "run",
            "--rules",
            "rules/store.yaml",
            "--input",
            "rules/examples/store.xml",
            "--output",
            &output.display().to_string(),
        ],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(
        outcome.stderr.starts_with("xml2prom: warning: "),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("only files ending in .prom"),
        "{}",
        outcome.stderr
    );
    assert!(
        std::fs::read_to_string(&output)
            .expect("written")
            .contains("store_total_rows")
    );
}
