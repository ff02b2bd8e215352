//! `xml2prom init`, `completions`, `man` and `--version` as a user meets them.
//!
//! Each folder under `tests/init/` is one case: `sample.xml` (and more samples of the same tool,
//! `sample2.xml`, ..., merged into one draft), an optional `args` file (extra arguments, one per
//! line), and either `expected.yaml` (the draft `init` prints) and `expected.prom` (what `run`
//! makes of that draft on the same sample, `expected.sample2.prom` on `sample2.xml`; its
//! warnings, if any, in `run.stderr`), or `expected.stderr` and `expected.exit` for samples
//! `init` refuses. Every draft passes `xml2prom check --strict` on each of its samples, and
//! every run's output passes promtool. Every count, value list and single number the draft of
//! one sample states in its comments is checked against the run.

use std::path::{Path, PathBuf};

use crate::golden::assert_accepted_everywhere;
use crate::support::{assert_matches_file, bless, entries, root, xml2prom};

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join("tests/init"))
        .expect("tests/init exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

/// The samples of a case: `sample.xml` first, then `sample2.xml`, ... in name order.
fn samples(case: &Path) -> Vec<String> {
    let mut samples: Vec<String> = std::fs::read_dir(case)
        .expect("case folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sample") && n.ends_with(".xml") && n != "sample.xml")
        .collect();
    samples.sort();
    samples.insert(0, "sample.xml".to_owned());
    samples
}

fn case_args(case: &Path) -> Vec<String> {
    let mut args = vec!["init".to_owned()];
    args.extend(samples(case));
    if let Ok(extra) = std::fs::read_to_string(case.join("args")) {
        args.extend(extra.lines().filter(|l| !l.is_empty()).map(str::to_owned));
    }
    args
}

fn run_case(case: &Path) {
    let name = case
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let outcome = xml2prom(case, &case_args(case));
    let expected_yaml = case.join("expected.yaml");
    let new_case = bless() && !expected_yaml.exists() && !case.join("expected.exit").exists();
    if !(expected_yaml.exists() || (new_case && outcome.code == 0)) {
        assert_matches_file(&case.join("expected.stderr"), &outcome.stderr);
        assert_matches_file(&case.join("expected.exit"), &format!("{}\n", outcome.code));
        assert_ne!(outcome.code, 0, "case {name}: expected a failure");
        assert_eq!(outcome.stdout, "", "case {name}: a failure prints no draft");
        return;
    }
    assert_eq!(
        outcome.code, 0,
        "case {name}: init failed\n{}",
        outcome.stderr
    );
    assert_eq!(
        outcome.stderr, "",
        "case {name}: init prints only the draft"
    );
    assert_matches_file(&expected_yaml, &outcome.stdout);

    // The draft passes its own strict check on every sample.
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, &outcome.stdout).expect("write the draft");
    let samples = samples(case);
    let mut check = vec![
        "check".to_owned(),
        "--strict".to_owned(),
        rules.display().to_string(),
    ];
    for sample in &samples {
        check.extend(["--input".to_owned(), sample.clone()]);
    }
    let checked = xml2prom(case, &check);
    assert_eq!(
        checked.code, 0,
        "case {name}: the draft fails `check --strict` on its samples:\n{}{}",
        checked.stdout, checked.stderr
    );

    // The draft runs on each sample and gives what its comments say.
    for sample in &samples {
        let stem = sample.trim_end_matches(".xml");
        let (expected, warnings) = if stem == "sample" {
            ("expected.prom".to_owned(), "run.stderr".to_owned())
        } else {
            (
                format!("expected.{stem}.prom"),
                format!("run.{stem}.stderr"),
            )
        };
        // Alone in its directory, for node_exporter's textfile collector.
        let checked_dir = tempfile::tempdir().expect("tempdir");
        let output = checked_dir.path().join("out.prom");
        let run = xml2prom(
            case,
            &[
                "run".to_owned(),
                "--rules".to_owned(),
                rules.display().to_string(),
                "--input".to_owned(),
                sample.clone(),
                "--output".to_owned(),
                output.display().to_string(),
                // The draft's own metrics, not xml2prom's.
                "--no-self-metrics".to_owned(),
            ],
        );
        assert_eq!(
            run.code, 0,
            "case {name}: the draft does not run on {sample}:\n{}",
            run.stderr
        );
        let warnings = case.join(warnings);
        if warnings.exists() || (bless() && !run.stderr.is_empty()) {
            assert_matches_file(&warnings, &run.stderr);
        } else {
            assert_eq!(run.stderr, "", "case {name}: the run prints nothing");
        }
        let text = std::fs::read_to_string(&output).expect("output written");
        assert_matches_file(&case.join(expected), &text);
        // Counts in the comments of a merged draft are over all samples, not one.
        if samples.len() == 1 {
            assert_claims_hold(&name, &outcome.stdout, &text);
        }
        assert_accepted_everywhere(&name, &text, checked_dir.path());
    }
}

#[test]
fn golden_drafts() {
    let cases = cases();
    assert!(cases.len() >= 5, "the init cases are missing");
    for case in cases {
        run_case(&case);
    }
}

/// One series of an exposition: name, labels as written between the braces, value.
fn series(exposition: &str) -> Vec<(String, String, f64)> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let value = value.parse().expect("a number");
            (name.to_owned(), labels.to_owned(), value)
        })
        .collect()
}

/// A draft's rules: their comment lines, name, and label name (if any).
fn rules(draft: &str) -> Vec<(Vec<String>, String, Option<String>)> {
    let mut rules = Vec::new();
    let mut comments = Vec::new();
    let mut lines = draft.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(comment) = line.strip_prefix("  # ") {
            comments.push(comment.to_owned());
        } else if let Some(name) = line.strip_prefix("  - name: ") {
            let mut label = None;
            while let Some(next) = lines.peek() {
                if !next.starts_with("    ") {
                    break;
                }
                if *next == "    labels:" {
                    lines.next();
                    label = lines
                        .peek()
                        .and_then(|l| l.trim_start().split_once(':'))
                        .map(|(l, _)| l.trim_matches('"').to_owned());
                }
                lines.next();
            }
            rules.push((std::mem::take(&mut comments), name.to_owned(), label));
        }
    }
    rules
}

/// Checks what the comments of a draft claim against the run of the draft on its sample:
/// element counts, label values with their counts, and single numbers.
fn assert_claims_hold(case: &str, draft: &str, exposition: &str) {
    let series = series(exposition);
    let value_of = |name: &str, labels: &str| {
        series
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .map(|(_, _, v)| *v)
    };
    let mut checked = 0;
    for (comments, name, label) in rules(draft) {
        let Some(first) = comments.first() else {
            continue;
        };
        // "/store/row: 6 <row> elements, up to 6 in one <store>"
        if let Some((_, rest)) = first.split_once(": ")
            && let Some((count, rest)) = rest.split_once(' ')
            && rest.contains(" elements, up to ")
        {
            let count: f64 = count.parse().expect("a count");
            assert_eq!(value_of(&name, ""), Some(count), "case {case}: {name}");
            checked += 1;
        }
        // "<row> elements by @kind: 3 values: order (3), invoice (2), customer (1)"
        if let Some(label) = &label
            && first.contains(" elements by ")
            && let Some((_, list)) = first
                .split_once(" values: ")
                .or(first.split_once(" value: "))
        {
            let distinct: usize = first
                .rsplit_once(" values: ")
                .or(first.rsplit_once(" value: "))
                .and_then(|(head, _)| head.rsplit(' ').next())
                .and_then(|n| n.parse().ok())
                .expect("the number of values");
            // Elements without the label, or with an empty value, count in one series
            // without it.
            let (list, without) = match list.split_once("; ") {
                Some((list, rest)) => {
                    let n = rest.split(' ').next().and_then(|n| n.parse::<f64>().ok());
                    (list, n.expect("the number of elements without the label"))
                }
                None => (list, 0.0),
            };
            let mut unlabelled = without;
            let mut labelled = distinct;
            for item in list.split(", ") {
                let Some((value, count)) = item.rsplit_once(" (") else {
                    continue;
                };
                if value == "\"\"" {
                    unlabelled += count.trim_end_matches(')').parse::<f64>().expect("a count");
                    labelled -= 1;
                }
            }
            let found = series.iter().filter(|(n, _, _)| *n == name).count();
            let expected = labelled + usize::from(unlabelled > 0.0);
            assert_eq!(found, expected, "case {case}: {name} series");
            if unlabelled > 0.0 {
                assert_eq!(value_of(&name, ""), Some(unlabelled), "case {case}: {name}");
                checked += 1;
            }
            for item in list.split(", ") {
                let Some((value, count)) = item.rsplit_once(" (") else {
                    continue;
                };
                if value.starts_with('"') || value.ends_with("...") || value.starts_with("and ") {
                    continue;
                }
                let count: f64 = count.trim_end_matches(')').parse().expect("a count");
                let labels = format!("{label}=\"{value}\"");
                assert_eq!(
                    value_of(&name, &labels),
                    Some(count),
                    "case {case}: {name}{{{labels}}}"
                );
                checked += 1;
            }
        }
        // "<store> @version is 3 (at /store)" or "<total> holds 5 (at ...)"
        for word in [" is ", " holds "] {
            if let Some((_, rest)) = first.split_once(word)
                && let Some((number, _)) = rest.split_once(" (at ")
                && let Ok(number) = number.parse::<f64>()
            {
                assert_eq!(value_of(&name, ""), Some(number), "case {case}: {name}");
                checked += 1;
            }
        }
    }
    assert!(
        checked > 0,
        "case {case}: the draft claims nothing checkable"
    );
}

#[test]
fn hostile_samples_are_refused_as_run_refuses_them() {
    let mut checked = 0;
    for case in std::fs::read_dir(root().join("tests/cases")).expect("tests/cases") {
        let case = case.expect("entry").path();
        let name = case.file_name().map(|n| n.to_string_lossy().into_owned());
        if !name.is_some_and(|n| n.starts_with("xml_")) || !case.join("expected.exit").exists() {
            continue;
        }
        let outcome = xml2prom(&case, &["init", "store.xml"]);
        let expected = std::fs::read_to_string(case.join("expected.stderr")).expect("stderr");
        assert_eq!(outcome.stderr, expected, "{}", case.display());
        assert_eq!(outcome.code, 1, "{}", case.display());
        assert_eq!(outcome.stdout, "");
        checked += 1;
    }
    assert!(checked >= 3, "the hostile cases are missing");
}

#[test]
fn a_deeply_nested_sample_is_refused_quickly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let depth = 100_000;
    let xml = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    std::fs::write(dir.path().join("deep.xml"), xml).expect("write");
    let outcome = xml2prom(dir.path(), &["init", "deep.xml"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.starts_with("xml2prom: error: deep.xml: ") && outcome.stderr.contains("256"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn output_is_written_once_and_replaced_only_with_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = root().join("tests/init/readme/sample.xml");
    let sample = sample.display().to_string();
    let draft = dir.path().join("draft.yaml");
    let args = ["init", &sample, "--output", "draft.yaml"];

    let outcome = xml2prom(dir.path(), &args);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!((outcome.stdout.as_str(), outcome.stderr.as_str()), ("", ""));
    let written = std::fs::read_to_string(&draft).expect("draft written");
    assert!(
        written.contains("# Try it: xml2prom run --rules draft.yaml --input "),
        "{written}"
    );

    std::fs::write(&draft, "mine\n").expect("overwrite");
    let outcome = xml2prom(dir.path(), &args);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr,
        "xml2prom: error: draft.yaml exists; choose another --output, or add --force to \
         replace it\n"
    );
    assert_eq!(std::fs::read_to_string(&draft).expect("kept"), "mine\n");

    let outcome = xml2prom(dir.path(), &[&args[..], &["--force"]].concat());
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(std::fs::read_to_string(&draft).expect("replaced"), written);
    assert_eq!(
        entries(dir.path()),
        ["draft.yaml"],
        "no temporary file left"
    );
}

#[test]
fn a_missing_sample_and_a_bad_prefix() {
    let outcome = xml2prom(&root(), &["init", "no-such-file.xml"]);
    assert_eq!(outcome.code, 1);
    assert_eq!(
        outcome.stderr,
        "xml2prom: error: no-such-file.xml: cannot read the sample: it does not exist; check \
         the SAMPLE path\n"
    );
    let outcome = xml2prom(&root(), &["init", "tests"]);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stderr.contains("it is a directory"),
        "{}",
        outcome.stderr
    );
    let outcome = xml2prom(
        &root(),
        &[
            "init",
            "tests/init/readme/sample.xml",
            "--max-input-bytes",
            "10",
        ],
    );
    assert_eq!(outcome.code, 1);
    assert!(
        outcome
            .stderr
            .contains("raise the limit with --max-input-bytes"),
        "{}",
        outcome.stderr
    );
    let outcome = xml2prom(
        &root(),
        &["init", "tests/init/readme/sample.xml", "--prefix", "9lives"],
    );
    assert_eq!(outcome.code, 2);
    assert!(
        outcome
            .stderr
            .contains("`9lives` is not a valid metric name prefix"),
        "{}",
        outcome.stderr
    );
}

/// The README shows the `readme` case: its sample, its draft and the draft's output, as they
/// are.
#[test]
fn the_readme_shows_the_current_draft() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let case = root().join("tests/init/readme");
    for file in ["sample.xml", "expected.yaml", "expected.prom"] {
        let text = std::fs::read_to_string(case.join(file)).expect("case file");
        assert!(
            readme.contains(&text),
            "README.md does not show tests/init/readme/{file} as it is:\n{text}"
        );
    }
}

#[test]
fn version_names_the_rule_file_version() {
    let outcome = xml2prom(&root(), &["--version"]);
    assert_eq!(outcome.code, 0);
    assert_eq!(
        outcome.stdout,
        format!(
            "xml2prom {} (rule file version 1)\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let outcome = xml2prom(&root(), &["completions", shell]);
        assert_eq!(outcome.code, 0, "{shell}: {}", outcome.stderr);
        for word in ["init", "run", "completions"] {
            assert!(outcome.stdout.contains(word), "{shell}: no {word}");
        }
    }
    let outcome = xml2prom(&root(), &["completions", "tcsh"]);
    assert_eq!(outcome.code, 2);
}

#[test]
fn man_pages_for_the_program_and_each_subcommand() {
    let outcome = xml2prom(&root(), &["man"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(
        outcome
            .stdout
            .contains(".SH NAME\nxml2prom \\- Turn XML files")
    );
    assert!(outcome.stdout.contains("xml2prom\\-init(1)"));
    let outcome = xml2prom(&root(), &["man", "run"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stdout.contains(".SH NAME\nxml2prom\\-run \\- "));
    assert!(outcome.stdout.contains("\\-\\-rules"));
    let outcome = xml2prom(&root(), &["man", "nope"]);
    assert_eq!(outcome.code, 2);
    assert!(
        outcome
            .stderr
            .starts_with("xml2prom: error: there is no subcommand `nope`"),
        "{}",
        outcome.stderr
    );
}
