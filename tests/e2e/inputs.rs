//! Many inputs: glob patterns, `--output-dir` with one file per input, and what a broken input
//! does to the others.

use std::path::{Path, PathBuf};

use crate::golden::assert_accepted_everywhere;
use crate::support::{Outcome, entries, mask_varying, root, xml2prom};

const PREVIOUS: &str = "# HELP previous_run A file from an earlier, good run\n\
                        # TYPE previous_run gauge\nprevious_run 1\n";

/// A store with `rows` rows.
fn store(rows: usize) -> String {
    let mut xml = String::from("<store>");
    for i in 0..rows {
        xml.push_str(&format!("<row id=\"{i}\" kind=\"k{}\"/>", i % 2));
    }
    xml.push_str("</store>\n");
    xml
}

/// Rows per input, labelled by the input's file name.
const RULES: &str = "version: 1\nlabels:\n  store: \"{{ input.name }}\"\nmetrics:\n\
                     - { name: store_rows, help: Rows, type: gauge, value: count(/store/row) }\n";

/// A directory holding `rules.yaml` and the given XML files (name, content).
fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("rules");
    for (name, content) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent");
        }
        std::fs::write(path, content).expect("xml");
    }
    dir
}

/// `xml2prom run --rules rules.yaml ARGS` in `dir`.
fn run(dir: &Path, args: &[&str]) -> Outcome {
    let mut all = vec!["run", "--rules", "rules.yaml"];
    all.extend_from_slice(args);
    xml2prom(dir, &all)
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_pattern_gives_every_matching_file_sorted_and_once() {
    let dir = workspace(&[
        ("stores/b.xml", &store(2)),
        ("stores/a.xml", &store(1)),
        ("stores/notes.txt", "not XML"),
    ]);
    // `a.xml` comes twice (by name and by pattern) and is read once: no duplicate series.
    let outcome = run(
        dir.path(),
        &[
            "--input",
            "stores/*.xml",
            "--input",
            "stores/a.xml",
            "-o",
            "-",
        ],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(
        outcome
            .stdout
            .contains("store_rows{store=\"a.xml\"} 1\nstore_rows{store=\"b.xml\"} 2\n"),
        "{}",
        outcome.stdout
    );
    assert!(!outcome.stdout.contains("notes"), "{}", outcome.stdout);
}

#[test]
fn a_pattern_that_matches_nothing_is_an_error_naming_it() {
    let dir = workspace(&[("a.xml", &store(1))]);
    let output = dir.path().join("out.prom");
    std::fs::write(&output, PREVIOUS).expect("seed");
    let outcome = run(
        dir.path(),
        &[
            "--input",
            "a.xml",
            "--input",
            "missing/*.xml",
            "-o",
            "out.prom",
        ],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr,
        "xml2prom: error: the pattern `missing/*.xml` matches no file; check the pattern and \
         the directory it lists\n"
    );
    assert_eq!(
        read(output),
        PREVIOUS,
        "one output for all: nothing written"
    );
}

#[test]
fn a_missing_plain_path_keeps_its_error() {
    let dir = workspace(&[]);
    let outcome = run(dir.path(), &["--input", "nope.xml", "-o", "-"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr,
        "xml2prom: error: nope.xml: cannot read the file: it does not exist; check the --input \
         path\n"
    );
}

#[test]
fn a_bad_pattern_is_a_usage_error() {
    let dir = workspace(&[]);
    let outcome = run(dir.path(), &["--input", "stores/[a.xml", "-o", "-"]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .starts_with("error: `stores/[a.xml` is not a valid glob pattern"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn output_dir_writes_one_file_per_input_named_after_it() {
    let dir = workspace(&[("in/a.xml", &store(1)), ("in/b.store.xml", &store(3))]);
    std::fs::create_dir(dir.path().join("out")).expect("out");
    let outcome = run(dir.path(), &["--input", "in/*.xml", "--output-dir", "out"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!((outcome.stdout.as_str(), outcome.stderr.as_str()), ("", ""));
    let out = dir.path().join("out");
    assert_eq!(entries(&out), [".xml2prom.lock", "a.prom", "b.store.prom"]);
    let a = read(out.join("a.prom"));
    assert_eq!(
        mask_varying(&a),
        "# HELP store_rows Rows\n# TYPE store_rows gauge\nstore_rows{store=\"a.xml\"} 1\n\
         # HELP xml2prom_input_mtime_seconds Modification time of each input of this output when \
         xml2prom read it, in seconds since the Unix epoch\n\
         # TYPE xml2prom_input_mtime_seconds gauge\n\
         xml2prom_input_mtime_seconds{input=\"in/a.xml\",output=\"a.prom\"} <varies>\n\
         # HELP xml2prom_input_size_bytes Size in bytes of each input of this output when \
         xml2prom read it\n\
         # TYPE xml2prom_input_size_bytes gauge\n\
         xml2prom_input_size_bytes{input=\"in/a.xml\",output=\"a.prom\"} 39\n\
         # HELP xml2prom_last_success_timestamp_seconds When xml2prom wrote this output, in \
         seconds since the Unix epoch\n\
         # TYPE xml2prom_last_success_timestamp_seconds gauge\n\
         xml2prom_last_success_timestamp_seconds{output=\"a.prom\"} <varies>\n\
         # HELP xml2prom_rule_samples Series each rule added to this output (a histogram or \
         summary series counts once); 0 when its select matched nothing\n\
         # TYPE xml2prom_rule_samples gauge\n\
         xml2prom_rule_samples{metric=\"store_rows\",output=\"a.prom\",rule=\"metrics[0]\"} 1\n\
         # HELP xml2prom_run_duration_seconds Seconds xml2prom spent reading and evaluating the \
         inputs of this output\n\
         # TYPE xml2prom_run_duration_seconds gauge\n\
         xml2prom_run_duration_seconds{output=\"a.prom\"} <varies>\n"
    );
    let b = read(out.join("b.store.prom"));
    assert!(b.contains("store_rows{store=\"b.store.xml\"} 3\n"), "{b}");
    assert!(
        b.contains("xml2prom_rule_samples{metric=\"store_rows\",output=\"b.store.prom\",rule=\"metrics[0]\"} 1\n"),
        "{b}"
    );
    // node_exporter reads the whole directory: both files side by side, their self-metrics
    // told apart by the output label (it would log an error for a series in both).
    assert_accepted_everywhere("output dir a.prom", &a, &out);
    assert_accepted_everywhere("output dir b.store.prom", &b, &out);
}

#[test]
fn no_self_metrics_leaves_them_out() {
    let dir = workspace(&[("a.xml", &store(1))]);
    let outcome = run(
        dir.path(),
        &["--input", "a.xml", "-o", "-", "--no-self-metrics"],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout,
        "# HELP store_rows Rows\n# TYPE store_rows gauge\nstore_rows{store=\"a.xml\"} 1\n"
    );
}

#[test]
fn a_rule_cannot_define_an_own_metric() {
    let dir = workspace(&[("a.xml", &store(1))]);
    std::fs::write(
        dir.path().join("rules.yaml"),
        "version: 1\nmetrics:\n- { name: xml2prom_rule_samples, help: Mine, type: gauge, \
         value: count(//row) }\n",
    )
    .expect("rules");
    let outcome = run(dir.path(), &["--input", "a.xml", "-o", "-"]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("`xml2prom_rule_samples`"),
        "{}",
        outcome.stderr
    );
    assert_eq!(outcome.stdout, "");
}

#[test]
fn output_dir_keeps_the_previous_file_of_a_broken_input_and_writes_the_others() {
    let dir = workspace(&[
        ("a.xml", &store(1)),
        ("b.xml", "<store><row>"),
        ("c.xml", &store(2)),
        ("d.xml", "<store><row id='1'/><row id='2'/></store><extra/>"),
    ]);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("out");
    for name in ["a.prom", "b.prom", "c.prom", "d.prom"] {
        std::fs::write(out.join(name), PREVIOUS).expect("seed");
    }
    let outcome = run(dir.path(), &["--input", "*.xml", "--output-dir", "out"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    // Every failure is reported, one line each, in input order.
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", outcome.stderr);
    assert!(
        lines[0].starts_with("xml2prom: error: b.xml: not well-formed XML"),
        "{}",
        outcome.stderr
    );
    assert!(
        lines[1].starts_with("xml2prom: error: d.xml: not well-formed XML"),
        "{}",
        outcome.stderr
    );
    assert_eq!(read(out.join("b.prom")), PREVIOUS);
    assert_eq!(read(out.join("d.prom")), PREVIOUS);
    assert!(read(out.join("a.prom")).contains("store_rows{store=\"a.xml\"} 1\n"));
    assert!(read(out.join("c.prom")).contains("store_rows{store=\"c.xml\"} 2\n"));
    assert_eq!(
        entries(&out),
        [".xml2prom.lock", "a.prom", "b.prom", "c.prom", "d.prom"],
        "no temporary file left"
    );
}

#[test]
fn output_dir_refuses_two_inputs_with_one_name_before_reading_any() {
    let dir = workspace(&[("x/store.xml", &store(1)), ("y/store.xml", &store(2))]);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("out");
    let outcome = run(
        dir.path(),
        &["--input", "*/store.xml", "--output-dir", "out"],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr,
        "xml2prom: error: x/store.xml and y/store.xml would both be written to out/store.prom; \
         give inputs with different file names, or run xml2prom once per directory with its own \
         --output-dir\n"
    );
    assert_eq!(
        entries(&out),
        Vec::<String>::new(),
        "nothing written, not even a lock"
    );
}

#[test]
fn one_output_for_all_writes_nothing_when_one_input_fails_and_names_every_failure() {
    let dir = workspace(&[
        ("a.xml", &store(1)),
        ("b.xml", "<store>"),
        ("c.xml", "not xml"),
    ]);
    let output = dir.path().join("out.prom");
    std::fs::write(&output, PREVIOUS).expect("seed");
    let outcome = run(dir.path(), &["--input", "*.xml", "-o", "out.prom"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", outcome.stderr);
    assert!(
        lines[0].starts_with("xml2prom: error: b.xml: "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("xml2prom: error: c.xml: "),
        "{}",
        lines[1]
    );
    assert_eq!(read(output), PREVIOUS);
}

#[test]
fn output_and_output_dir_are_exclusive_and_one_is_required() {
    let dir = workspace(&[("a.xml", &store(1))]);
    let both = run(
        dir.path(),
        &["--input", "a.xml", "-o", "-", "--output-dir", "."],
    );
    assert_eq!(both.code, 2, "{}", both.stderr);
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.stderr
    );
    let neither = run(dir.path(), &["--input", "a.xml"]);
    assert_eq!(neither.code, 2, "{}", neither.stderr);
    assert!(neither.stderr.contains("--output"), "{}", neither.stderr);
}

/// The README's example for many stores.
#[test]
fn the_bundled_example_into_a_directory() {
    let out = tempfile::tempdir().expect("tempdir");
    let outcome = xml2prom(
        &root(),
        &[
            "run",
            "--rules",
            "rules/store.yaml",
            "--input",
            "rules/examples/*.xml",
            "--output-dir",
            &out.path().display().to_string(),
        ],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let text = read(out.path().join("store.prom"));
    assert!(
        text.contains("store_total_rows{path=\"rules/examples/store.xml\"} 6\n"),
        "{text}"
    );
    assert_accepted_everywhere("bundled example in a directory", &text, out.path());
}
