//! The status file (`--status-file`): written on every run, whatever failed, and read by
//! node_exporter next to the outputs; the alert rules for it, checked and unit-tested by
//! promtool.

use std::path::Path;

use crate::golden::assert_accepted_everywhere;
use crate::interop::{promtool, promtool_installed};
use crate::support::{Outcome, entries, mask_varying, root, xml2prom};

const RULES: &str = "version: 1\nlabels:\n  store: \"{{ input.name }}\"\nmetrics:\n\
                     - { name: store_rows, help: Rows, type: gauge, value: count(/store/row) }\n";

const PREVIOUS: &str = "# HELP previous_run A file from an earlier, good run\n\
                        # TYPE previous_run gauge\nprevious_run 1\n";

const GOOD: &str = "<store><row/><row/></store>\n";

/// A directory with `rules.yaml`, the given XML files and an empty `textfile/` directory.
fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("rules");
    std::fs::create_dir(dir.path().join("textfile")).expect("textfile dir");
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).expect("xml");
    }
    dir
}

fn run(dir: &Path, args: &[&str]) -> Outcome {
    let mut all = vec!["run", "--rules", "rules.yaml"];
    all.extend_from_slice(args);
    xml2prom(dir, &all)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The status file's samples, times masked, without HELP and TYPE.
fn status_samples(path: &Path) -> Vec<String> {
    mask_varying(&read(path))
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The `xml2prom_run_errors` samples for the given counts, every other stage 0.
fn errors(status_file: &str, counts: &[(&str, u32)]) -> Vec<String> {
    [
        "duplicate",
        "evaluate",
        "lock",
        "push",
        "read",
        "rules",
        "write",
        "xml",
    ]
    .iter()
    .map(|stage| {
        let count = counts
            .iter()
            .find(|(s, _)| s == stage)
            .map_or(0, |(_, c)| *c);
        format!("xml2prom_run_errors{{stage=\"{stage}\",status_file=\"{status_file}\"}} {count}")
    })
    .collect()
}

fn expected(status_file: &str, inputs: &[(&str, u8)], counts: &[(&str, u32)]) -> Vec<String> {
    let mut lines: Vec<String> = inputs
        .iter()
        .map(|(input, success)| {
            format!(
                "xml2prom_input_success{{input=\"{input}\",status_file=\"{status_file}\"}} \
                 {success}"
            )
        })
        .collect();
    lines.push(format!(
        "xml2prom_last_run_duration_seconds{{status_file=\"{status_file}\"}} <varies>"
    ));
    lines.push(format!(
        "xml2prom_last_run_timestamp_seconds{{status_file=\"{status_file}\"}} <varies>"
    ));
    lines.extend(errors(status_file, counts));
    lines
}

#[test]
fn a_partly_failed_run_reports_each_input_and_stage_next_to_its_outputs() {
    let dir = workspace(&[
        ("a.xml", GOOD),
        ("b.xml", "<store><row>"),
        ("c.xml", "<store><row/></store>\n"),
    ]);
    let outcome = run(
        dir.path(),
        &[
            "--input",
            "*.xml",
            "--input",
            "missing/*.xml",
            "--output-dir",
            "textfile",
            "--status-file",
            "textfile/xml2prom.prom",
        ],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_eq!(outcome.stderr.lines().count(), 2, "{}", outcome.stderr);
    let textfile = dir.path().join("textfile");
    let status = textfile.join("xml2prom.prom");
    assert_eq!(
        status_samples(&status),
        expected(
            "xml2prom.prom",
            &[
                ("a.xml", 1),
                ("b.xml", 0),
                ("c.xml", 1),
                ("missing/*.xml", 0)
            ],
            &[("read", 1), ("xml", 1)]
        )
    );
    assert_eq!(
        entries(&textfile),
        [".xml2prom.lock", "a.prom", "c.prom", "xml2prom.prom"]
    );
    // node_exporter reads the status file and both outputs in one directory: every series of
    // each is served, none collides with another.
    for name in ["xml2prom.prom", "a.prom", "c.prom"] {
        let text = read(&textfile.join(name));
        assert_accepted_everywhere(name, &text, &textfile);
    }
}

#[test]
fn a_broken_rule_file_still_writes_the_status() {
    let dir = workspace(&[("a.xml", GOOD)]);
    std::fs::write(dir.path().join("rules.yaml"), "version: 1\nmetrics: [").expect("rules");
    std::fs::write(dir.path().join("textfile/out.prom"), PREVIOUS).expect("seed");
    let outcome = run(
        dir.path(),
        &[
            "--input",
            "a.xml",
            "-o",
            "textfile/out.prom",
            "--status-file",
            "textfile/status.prom",
        ],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    let status = dir.path().join("textfile/status.prom");
    assert_eq!(
        status_samples(&status),
        expected("status.prom", &[("a.xml", 0)], &[("rules", 1)])
    );
    assert_eq!(read(&dir.path().join("textfile/out.prom")), PREVIOUS);
    assert_accepted_everywhere("status file", &read(&status), &dir.path().join("textfile"));
}

#[test]
fn evaluation_and_duplicate_failures_are_counted() {
    let dir = workspace(&[
        ("a.xml", "<store><row id='1' n='x'/></store>"),
        ("b.xml", "<store><row id='1' n='1'/></store>"),
        ("c.xml", "<store><row id='1' n='2'/></store>"),
    ]);
    std::fs::write(
        dir.path().join("rules.yaml"),
        "version: 1\nmetrics:\n- { name: store_n, help: N, type: gauge, select: /store/row, \
         fields: { id: '@id' }, labels: { id: '{{ id }}' }, value: '@n' }\n",
    )
    .expect("rules");
    let outcome = run(
        dir.path(),
        &[
            "--input",
            "*.xml",
            "-o",
            "-",
            "--status-file",
            "status.prom",
        ],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "", "one output for all: nothing written");
    assert_eq!(
        status_samples(&dir.path().join("status.prom")),
        expected(
            "status.prom",
            &[("a.xml", 0), ("b.xml", 0), ("c.xml", 0)],
            &[("duplicate", 1), ("evaluate", 1)]
        )
    );
}

#[test]
fn a_successful_run_says_so() {
    let dir = workspace(&[("a.xml", GOOD)]);
    let outcome = run(
        dir.path(),
        &[
            "--input",
            "a.xml",
            "-o",
            "-",
            "--status-file",
            "textfile/status.prom",
        ],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stderr, "");
    assert_eq!(
        status_samples(&dir.path().join("textfile/status.prom")),
        expected("status.prom", &[("a.xml", 1)], &[])
    );
}

#[test]
fn a_lock_timeout_is_counted() {
    let dir = workspace(&[("a.xml", GOOD)]);
    // Another run, as far as xml2prom can tell: this process holds the output's lock.
    let lock = std::fs::File::create(dir.path().join("textfile/.out.prom.lock")).expect("lock");
    lock.lock().expect("take the lock");
    let outcome = run(
        dir.path(),
        &[
            "--input",
            "a.xml",
            "-o",
            "textfile/out.prom",
            "--lock-timeout",
            "100ms",
            "--status-file",
            "status.prom",
        ],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("held the lock"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        status_samples(&dir.path().join("status.prom")),
        expected("status.prom", &[("a.xml", 0)], &[("lock", 1)])
    );
    assert!(!dir.path().join("textfile/out.prom").exists());
}

#[test]
fn a_failed_write_is_counted() {
    let dir = workspace(&[("a.xml", GOOD)]);
    // A directory where the output file should go: the rename onto it fails.
    std::fs::create_dir(dir.path().join("textfile/out.prom")).expect("in the way");
    let outcome = run(
        dir.path(),
        &[
            "--input",
            "a.xml",
            "-o",
            "textfile/out.prom",
            "--status-file",
            "status.prom",
        ],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("cannot write"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        status_samples(&dir.path().join("status.prom")),
        expected("status.prom", &[("a.xml", 0)], &[("write", 1)])
    );
}

#[test]
fn the_status_file_never_replaces_an_output() {
    let dir = workspace(&[("a.xml", GOOD)]);
    let textfile = dir.path().join("textfile");
    std::fs::write(textfile.join("a.prom"), PREVIOUS).expect("seed");
    let outcome = run(
        dir.path(),
        &[
            "--input",
            "a.xml",
            "--output-dir",
            "textfile",
            "--status-file",
            "./textfile/a.prom",
        ],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr,
        "xml2prom: error: --status-file ./textfile/a.prom is also an output of this run; give \
         the status file another name\n"
    );
    assert_eq!(read(&textfile.join("a.prom")), PREVIOUS);
    assert_eq!(entries(&textfile), ["a.prom"]);
}

#[test]
fn a_status_file_not_ending_in_prom_is_written_with_a_warning() {
    let dir = workspace(&[("a.xml", GOOD)]);
    let outcome = run(
        dir.path(),
        &["--input", "a.xml", "-o", "-", "--status-file", "status.txt"],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr,
        "xml2prom: warning: status.txt was written, but node_exporter's textfile collector reads \
         only files ending in .prom\n"
    );
    assert!(read(&dir.path().join("status.txt")).contains("xml2prom_run_errors"));
}

/// The bundled alert rules are valid, and their unit tests (when each alert fires) pass.
#[test]
fn the_alert_rules_pass_promtool() {
    let alerts = root().join("deploy/monitoring");
    let Some((status, output)) = promtool(&alerts, &["check", "rules", "xml2prom.rules.yml"])
    else {
        return;
    };
    assert!(status.success(), "promtool check rules:\n{output}");
    assert!(output.contains("SUCCESS: 8 rules found"), "{output}");
    let Some((status, output)) = promtool(&alerts, &["test", "rules", "xml2prom.rules.test.yml"])
    else {
        return;
    };
    assert!(status.success(), "promtool test rules:\n{output}");
}

/// The README lists every alert of the bundled rules with its severity, in a table row
/// starting with the alert's name.
#[test]
fn the_readme_lists_every_alert() {
    let rules = read(&root().join("deploy/monitoring/xml2prom.rules.yml"));
    let readme = read(&root().join("README.md"));
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
        .collect();
    assert_eq!(alerts.len(), 8, "{alerts:?}");
    for alert in alerts {
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{alert}` |")))
            .unwrap_or_else(|| panic!("README.md has no table row for the alert {alert}"));
        assert!(
            row.ends_with("| warning |") || row.ends_with("| info |"),
            "README.md row of {alert} does not end with its severity: {row}"
        );
    }
}

/// The README's self-metrics table has a row for every gauge xml2prom adds to its outputs.
#[test]
fn the_readme_lists_every_self_metric() {
    let readme = read(&root().join("README.md"));
    for gauge in xml2prom::commands::status::SELF_METRICS {
        let row = format!("| `{}", gauge.name);
        assert!(
            readme
                .lines()
                .any(|line| line.starts_with(&row) && line[row.len()..].starts_with(['`', '{'])),
            "README.md has no self-metrics table row for {}",
            gauge.name
        );
    }
}

/// The README's table of subcommands names each subcommand once, and every subcommand the
/// command line has.
#[test]
fn the_readme_lists_each_subcommand_once() {
    let readme = read(&root().join("README.md"));
    let start = readme
        .find("| subcommand | what it does |")
        .expect("README.md has the table of subcommands");
    let rows: Vec<&str> = readme[start..]
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .collect();
    let mut named: Vec<&str> = rows
        .iter()
        .flat_map(|row| row.split('|').nth(1).unwrap_or_default().split(','))
        .filter_map(|cell| cell.trim().strip_prefix('`')?.split([' ', '`']).next())
        .collect();
    let count = named.len();
    named.sort_unstable();
    named.dedup();
    assert_eq!(
        named.len(),
        count,
        "a subcommand is listed twice: {rows:#?}"
    );
    let command = <xml2prom::cli::Cli as clap::CommandFactory>::command();
    let subcommands: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
    assert!(subcommands.len() >= 9, "{subcommands:?}");
    for subcommand in subcommands {
        assert!(
            named.contains(&subcommand),
            "{subcommand} is missing: {named:?}"
        );
    }
}

/// The unit tests of the alert rules can fail: an alert expected too early is reported.
#[test]
fn the_alert_rule_tests_can_fail() {
    if !promtool_installed() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let alerts = root().join("deploy/monitoring");
    std::fs::copy(
        alerts.join("xml2prom.rules.yml"),
        dir.path().join("xml2prom.rules.yml"),
    )
    .expect("copy rules");
    let tests = read(&alerts.join("xml2prom.rules.test.yml"));
    // Still pending at 5 minutes (`for: 5m`), so expecting it firing must fail.
    let wrong = tests.replacen("eval_time: 7m", "eval_time: 5m", 1);
    assert_ne!(wrong, tests);
    std::fs::write(dir.path().join("xml2prom.rules.test.yml"), wrong).expect("write");
    let (status, output) =
        promtool(dir.path(), &["test", "rules", "xml2prom.rules.test.yml"]).expect("installed");
    assert!(!status.success(), "{output}");
    assert!(output.contains("Xml2promInputFailing"), "{output}");
}
