//! The command line as a user meets it: help, usage errors, output destinations.

use crate::support::{entries, mask_varying, root, run_example, xml2prom};

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
    assert!(outcome.stdout.contains("Examples:"), "{}", outcome.stdout);
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
    let outcome = run_example(&["--output", &output.display().to_string()]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!((outcome.stdout.as_str(), outcome.stderr.as_str()), ("", ""));
    let written = std::fs::read_to_string(&output).expect("written");
    // The same as on stdout, but the self-metrics name the file they are in.
    let stdout = run_example(&["--output", "-"]);
    let without_own = |text: &str| -> String {
        text.lines()
            .filter(|line| !line.contains("xml2prom_"))
            .map(|line| format!("{line}\n"))
            .collect()
    };
    assert_eq!(without_own(&written), without_own(&stdout.stdout));
    assert!(
        written.contains(
            "xml2prom_rule_samples{metric=\"store_rows\",output=\"store.prom\",rule=\"metrics[1]\"} 3\n"
        ),
        "{written}"
    );
    assert!(
        !stdout.stdout.contains("output="),
        "standard output has no output label:\n{}",
        stdout.stdout
    );
    assert_eq!(entries(dir.path()), [".store.prom.lock", "store.prom"]);
}

#[test]
fn output_directory_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("missing").join("store.prom");
    let outcome = run_example(&["--output", &output.display().to_string()]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    // The lock file beside the output is the first thing written.
    assert!(
        outcome.stderr.contains(&format!(
            "cannot open the lock file {}: the directory does not exist; nothing was written; \
             create {} first",
            dir.path().join("missing/.store.prom.lock").display(),
            dir.path().join("missing").display()
        )),
        "{}",
        outcome.stderr
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn output_without_prom_suffix_is_written_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("store.txt");
    let outcome = run_example(&["--output", &output.display().to_string()]);
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

#[test]
fn verbose_names_the_engine_of_each_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nmetrics:\n\
         - { name: a, help: h, type: gauge, value: count(/store/row) }\n\
         - { name: b, help: h, type: gauge, select: '/store/row[last()]', aggregate: count }\n",
    )
    .expect("write rules");
    let rules = rules.display().to_string();
    let run = |engine: &str| {
        xml2prom(
            &root(),
            &[
                "run",
                "--rules",
                &rules,
                "--input",
                "rules/examples/store.xml",
                "--output",
                "-",
                "--verbose",
                "--engine",
                engine,
            ],
        )
    };
    let outcome = run("auto");
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr,
        "xml2prom: metrics[0] (a): streaming engine\n\
         xml2prom: metrics[1] (b): DOM engine, not streamable: `select`: `last()` in a \
         predicate is not streamable: it needs the siblings that follow\n"
    );
    let dom = run("dom");
    assert_eq!(dom.code, 0, "{}", dom.stderr);
    assert!(
        dom.stderr
            .contains("metrics[0] (a): DOM engine (--engine dom)"),
        "{}",
        dom.stderr
    );
    assert_eq!(
        mask_varying(&dom.stdout),
        mask_varying(&outcome.stdout),
        "both engines give the same output"
    );
}

#[test]
fn both_engines_give_the_bundled_example() {
    let expected =
        std::fs::read_to_string(root().join("rules/examples/store.prom")).expect("golden");
    for engine in ["auto", "dom"] {
        let outcome = run_example(&["--output", "-", "--engine", engine]);
        assert_eq!(outcome.code, 0, "{}", outcome.stderr);
        assert_eq!(
            mask_varying(&outcome.stdout),
            mask_varying(&expected),
            "--engine {engine}"
        );
    }
}

#[test]
fn the_dom_engine_refuses_a_large_input_and_names_the_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("store.prom");
    std::fs::write(&output, "previous 1\n").expect("seed");
    let outcome = run_example(&[
        "--output",
        &output.display().to_string(),
        "--engine",
        "dom",
        "--max-dom-bytes",
        "100",
    ]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("more than the DOM engine's limit of 100 bytes"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("metrics[0] (streamable, but --engine dom)"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&output).expect("kept"),
        "previous 1\n"
    );
    // The streaming engine has no such limit.
    let outcome = run_example(&[
        "--output",
        &output.display().to_string(),
        "--max-dom-bytes",
        "100",
    ]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}

#[test]
fn var_and_label_are_checked_on_the_command_line() {
    for (args, expected) in [
        (
            ["--var", "site"],
            "error: invalid value 'site' for '--var <KEY=VALUE>': `site` has no `=`",
        ),
        (
            ["--label", "__name__=x"],
            "error: invalid value '__name__=x' for '--label <NAME=VALUE>': `__name__` is not a \
             valid label name: names starting with `__` are reserved",
        ),
    ] {
        let mut all = vec!["--output", "-"];
        all.extend(args);
        let outcome = run_example(&all);
        assert_eq!(outcome.code, 2, "{}", outcome.stderr);
        assert!(outcome.stderr.starts_with(expected), "{}", outcome.stderr);
    }
}

/// Durations take the README's forms; anything else is a usage error that says what to write.
#[test]
fn durations_are_checked_on_the_command_line() {
    for good in [
        "250ms",
        "30s",
        "5m",
        "1h30m",
        "1h 30m",
        "2 minutes",
        "1d",
        "0",
    ] {
        let outcome = run_example(&["--output", "-", "--lock-timeout", good]);
        assert_eq!(outcome.code, 0, "{good}: {}", outcome.stderr);
    }
    for (bad, why) in [
        ("30", "`30` is not a duration: it has no unit"),
        ("soon", "`soon` is not a duration: "),
        ("-5s", "`-5s` is not a duration: it is negative"),
        (
            "1mo",
            "`1mo` is not a duration: months and years have no fixed length",
        ),
    ] {
        // `=` so that clap takes `-5s` as the value, not as a flag.
        let outcome = run_example(&["--output", "-", &format!("--lock-timeout={bad}")]);
        assert_eq!(outcome.code, 2, "{bad}: {}", outcome.stderr);
        let expected =
            format!("error: invalid value '{bad}' for '--lock-timeout <DURATION>': {why}");
        assert!(outcome.stderr.starts_with(&expected), "{}", outcome.stderr);
        assert!(
            outcome
                .stderr
                .contains("; write a duration such as `30s`, `2m` or `1h30m`\n"),
            "{}",
            outcome.stderr
        );
    }
}

/// A template that needs a `--var` fails when the rules load, before any input is read.
#[test]
fn a_missing_var_fails_before_any_input_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("rules.yaml"),
        "version: 1\nlabels: { site: '{{ vars.site }}' }\nmetrics:\n\
         - { name: a, help: h, type: gauge, value: '1' }\n",
    )
    .expect("rules");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "missing.xml",
            "-o",
            "-",
        ];
        args.extend_from_slice(extra);
        xml2prom(dir.path(), &args)
    };
    let outcome = run(&[]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.starts_with(
            "rules.yaml:2:17: error[missing-var]: labels.site: the template uses `vars.site`, \
             which has no value; pass `--var site=VALUE`"
        ),
        "{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("missing.xml"),
        "{}",
        outcome.stderr
    );
    // With the value, the rules load and the missing input is the problem.
    let outcome = run(&["--var", "site=paris"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("missing.xml"), "{}", outcome.stderr);
}
