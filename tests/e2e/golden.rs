//! Golden cases: each folder under `tests/cases/` runs `xml2prom run` once.
//!
//! A case folder holds `rules.yaml`, any number of `*.xml` inputs (passed in name order), an
//! optional `args` file (extra arguments, one per line), and either `expected.prom` (the run
//! succeeds with exactly this output, apart from the values of xml2prom's own times and
//! durations, which [`crate::support::mask_varying`] hides on both sides, and prints nothing or
//! the warnings in `expected.stderr`) or `expected.stderr` and `expected.exit` (the run fails like
//! this, and the previous output file is left byte for byte as it was). Every successful output
//! also passes our lint, `promtool check metrics` and a real node_exporter.

use std::path::{Path, PathBuf};

use crate::support::{assert_matches_file, bless, entries, root, xml2prom, xml2prom_with_env};
use crate::{interop, lint};

const PREVIOUS: &str = "# HELP previous_run A file from an earlier, good run\n\
                        # TYPE previous_run gauge\nprevious_run 1\n";

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join("tests/cases"))
        .expect("tests/cases exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

fn inputs(case: &Path) -> Vec<String> {
    let mut inputs: Vec<String> = entries(case)
        .into_iter()
        .filter(|name| name.ends_with(".xml"))
        .collect();
    inputs.sort();
    inputs
}

/// Checks one successful output with every reader we have.
pub fn assert_accepted_everywhere(what: &str, text: &str, dir: &Path) {
    lint::assert_clean(text);
    if let Err(complaint) = interop::promtool_check(text) {
        panic!("{what}: promtool check metrics failed:\n{complaint}\n--- output ---\n{text}");
    }
    if let Some(scrape) = interop::scrape_textfile_dir(dir) {
        let scraped = lint::samples(&scrape);
        for (name, labels, value) in lint::samples(text) {
            let found = scraped
                .iter()
                .find(|(n, l, _)| *n == name && *l == labels)
                .unwrap_or_else(|| {
                    panic!("{what}: node_exporter does not serve {name}{labels:?}\n{scrape}")
                });
            assert!(
                found.2 == value || (found.2.is_nan() && value.is_nan()),
                "{what}: node_exporter serves {name}{labels:?} = {}, the file says {value}",
                found.2
            );
        }
    }
}

fn run_case(case: &Path) {
    let name = case
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let output = out_dir.path().join("out.prom");
    std::fs::write(&output, PREVIOUS).expect("seed the previous output");

    let mut args: Vec<String> = vec!["run".into(), "--rules".into(), "rules.yaml".into()];
    for input in inputs(case) {
        args.push("--input".into());
        args.push(input);
    }
    args.push("--output".into());
    args.push(output.display().to_string());
    if let Ok(extra) = std::fs::read_to_string(case.join("args")) {
        args.extend(extra.lines().filter(|l| !l.is_empty()).map(str::to_owned));
    }
    let outcome = xml2prom(case, &args);

    let expected_prom = case.join("expected.prom");
    // A new case being blessed takes its kind (success or failure) from what the run did.
    let new_case = bless() && !expected_prom.exists() && !case.join("expected.exit").exists();
    if expected_prom.exists() || (new_case && outcome.code == 0) {
        assert_eq!(
            outcome.code, 0,
            "case {name}: expected success, got exit {}\n{}",
            outcome.code, outcome.stderr
        );
        // A successful run prints nothing, unless rules skipped nodes: then one warning per
        // rule, compared with `expected.stderr`.
        let warnings = case.join("expected.stderr");
        if warnings.exists() || (new_case && !outcome.stderr.is_empty()) {
            assert_matches_file(&warnings, &outcome.stderr);
        } else {
            assert_eq!(
                outcome.stderr, "",
                "case {name}: a successful run prints nothing"
            );
        }
        let text = std::fs::read_to_string(&output).expect("output written");
        assert_matches_file(&expected_prom, &text);
        assert_eq!(
            entries(out_dir.path()),
            [".out.prom.lock", "out.prom"],
            "case {name}: stray files"
        );
        assert_accepted_everywhere(&name, &text, out_dir.path());
    } else {
        let stderr = outcome
            .stderr
            .replace(&out_dir.path().display().to_string(), "$OUT");
        assert_matches_file(&case.join("expected.stderr"), &stderr);
        assert_matches_file(&case.join("expected.exit"), &format!("{}\n", outcome.code));
        assert_ne!(outcome.code, 0, "case {name}: expected a failure");
        let previous = std::fs::read_to_string(&output).expect("previous output still there");
        assert_eq!(
            previous, PREVIOUS,
            "case {name}: the previous output was changed"
        );
        // A rule file error stops the run before the lock is taken; an input error after.
        let files: Vec<String> = entries(out_dir.path())
            .into_iter()
            .filter(|file| file != ".out.prom.lock")
            .collect();
        assert_eq!(files, ["out.prom"], "case {name}: stray files");
    }
}

#[test]
fn golden_cases() {
    let cases = cases();
    assert!(cases.len() >= 10, "the golden cases are missing");
    for case in cases {
        run_case(&case);
    }
}

/// `convert.timezone` needs no zoneinfo on the machine: with an empty `TZDIR` (as in a container
/// without tzdata) the zones come from the copy of the tz database built into the binary, and the
/// output is the same; an unknown zone still gets the nearest name.
#[test]
fn timezones_without_system_zoneinfo() {
    let case = root().join("tests/cases/convert_timezone");
    let empty = tempfile::tempdir().expect("tempdir");
    let tzdir = empty.path().display().to_string();
    let args = [
        "run",
        "--rules",
        "rules.yaml",
        "--input",
        "store.xml",
        "--output",
        "-",
        "--no-self-metrics",
    ];
    let system = xml2prom(&case, &args);
    let bundled = xml2prom_with_env(&case, &args, &[("TZDIR", &tzdir)]);
    assert_eq!(system.code, 0, "{}", system.stderr);
    assert_eq!(bundled.code, 0, "{}", bundled.stderr);
    assert!(
        system
            .stdout
            .contains("job_last_run_timestamp_seconds{job=\"summer\"} 1714564800\n"),
        "{}",
        system.stdout
    );
    assert_eq!(bundled.stdout, system.stdout);

    let dir = tempfile::tempdir().expect("tempdir");
    let rules = "version: 1\nmetrics:\n  - name: t_timestamp_seconds\n    help: h\n    \
                 type: gauge\n    value: /t\n    convert: {parse: time, format: '%Y-%m-%d', \
                 timezone: Europe/Berln}\n";
    std::fs::write(dir.path().join("rules.yaml"), rules).expect("write the rules");
    let check = xml2prom_with_env(dir.path(), &["check", "rules.yaml"], &[("TZDIR", &tzdir)]);
    assert_eq!(check.code, 2, "{}", check.stdout);
    assert!(
        check
            .stdout
            .contains("`Europe/Berln` is not a known time zone (did you mean `Europe/Berlin`?)"),
        "{}",
        check.stdout
    );
}

/// The README's first command: the bundled example, to stdout.
#[test]
fn bundled_example() {
    let outcome = xml2prom(
        &root(),
        &[
            "run",
            "--rules",
            "rules/store.yaml",
            "--input",
            "rules/examples/store.xml",
            "--output",
            "-",
        ],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_matches_file(&root().join("rules/examples/store.prom"), &outcome.stdout);
    assert!(
        outcome
            .stdout
            .contains("store_total_rows{path=\"rules/examples/store.xml\"} 6\n")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("store.prom"), &outcome.stdout).expect("write");
    assert_accepted_everywhere("bundled example", &outcome.stdout, dir.path());
}

/// Runs a bundled rule file on one of its example inputs, as `rules/examples/NAME.xml` to
/// stdout without self-metrics, and checks the output against `rules/examples/NAME.prom` and with
/// promtool and node_exporter.
fn assert_worked_example(rules: &str, name: &str) {
    let input = format!("rules/examples/{name}.xml");
    let outcome = xml2prom(
        &root(),
        &[
            "run",
            "--rules",
            rules,
            "--input",
            &input,
            "--output",
            "-",
            "--no-self-metrics",
        ],
    );
    assert_eq!(outcome.code, 0, "{input}: {}", outcome.stderr);
    assert_eq!(
        outcome.stderr, "",
        "{input}: a successful run prints nothing"
    );
    let golden = root().join(format!("rules/examples/{name}.prom"));
    assert_matches_file(&golden, &outcome.stdout);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(format!("{name}.prom")), &outcome.stdout).expect("write");
    assert_accepted_everywhere(&input, &outcome.stdout, dir.path());
}

/// The realistic example: two backup appliances (default namespace, states, durations, times,
/// decimal commas), each output as its golden file and accepted by promtool and node_exporter.
#[test]
fn backup_appliance_examples() {
    for site in ["paris", "lyon"] {
        let input = format!("rules/examples/backup-{site}.xml");
        let outcome = xml2prom(
            &root(),
            &[
                "run",
                "--rules",
                "rules/backup.yaml",
                "--input",
                &input,
                "--output",
                "-",
                "--no-self-metrics",
            ],
        );
        assert_eq!(outcome.code, 0, "{site}: {}", outcome.stderr);
        let golden = root().join(format!("rules/examples/backup-{site}.prom"));
        assert_matches_file(&golden, &outcome.stdout);
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("backup.prom"), &outcome.stdout).expect("write");
        assert_accepted_everywhere(&input, &outcome.stdout, dir.path());
    }
}

/// nvidia-smi -q -x of two real GPUs (Telegraf's test data, schemas v11 and v12): values with
/// units, `N/A` for a fan the Tesla T4 does not have (no series, no warning).
#[test]
fn nvidia_smi_examples() {
    for name in ["nvidia-smi-tesla-t4", "nvidia-smi-rtx-3060"] {
        assert_worked_example("rules/nvidia-smi.yaml", name);
    }
}

/// JUnit XML reports of jest and pytest (dorny/test-reporter's fixtures): per-suite counts and
/// durations, the failing test cases found in each suite, one info series per failing case.
#[test]
fn junit_report_examples() {
    for name in ["junit-jest", "junit-pytest"] {
        assert_worked_example("rules/junit.yaml", name);
    }
}

/// A Cobertura coverage report of gcovr (its test reference): overall and per-package line and
/// branch coverage, and the lines of each package counted under its classes.
#[test]
fn cobertura_report_examples() {
    assert_worked_example("rules/cobertura.yaml", "cobertura-gcovr");
}

/// The manager's XML status page of Tomcat 8 and 6 (Telegraf's test data): JVM memory and
/// memory pools, per connector threads, requests, errors, bytes and times in seconds.
#[test]
fn tomcat_status_examples() {
    for name in ["tomcat-8", "tomcat-6"] {
        assert_worked_example("rules/tomcat.yaml", name);
    }
}

/// BIND 9's statistics channel (bind_exporter's fixtures): each document as its golden file,
/// and the three read in one run, as a deployment reads them, giving each series once and
/// every series bind_exporter's own test expects, with its value.
#[test]
fn bind_statistics_examples() {
    for name in ["bind-server", "bind-zones", "bind-tasks"] {
        assert_worked_example("rules/bind.yaml", name);
    }
    let args = [
        "run",
        "--rules",
        "rules/bind.yaml",
        "--input",
        "rules/examples/bind-server.xml",
        "--input",
        "rules/examples/bind-zones.xml",
        "--input",
        "rules/examples/bind-tasks.xml",
        "--output",
        "-",
        "--no-self-metrics",
    ];
    let outcome = xml2prom(&root(), &args);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stderr, "", "a successful run prints nothing");
    let parts: String = ["bind-server", "bind-zones", "bind-tasks"]
        .iter()
        .map(|name| {
            std::fs::read_to_string(root().join(format!("rules/examples/{name}.prom")))
                .expect("golden")
        })
        .collect();
    let mut whole = lint::samples(&outcome.stdout);
    let mut each = lint::samples(&parts);
    let key = |s: &(String, lint::Labels, f64)| format!("{}{:?}", s.0, s.1);
    whole.sort_by_key(key);
    each.sort_by_key(key);
    assert_eq!(
        whole.iter().map(key).collect::<Vec<_>>(),
        each.iter().map(key).collect::<Vec<_>>(),
        "one run over the three documents gives what each gives alone"
    );
    // bind_exporter_test.go's serverStats, viewStats and taskStats, but for the boot and
    // config times, which xml2prom keeps to the millisecond (bind_exporter truncates them).
    let peer = r#"bind_incoming_queries_total{type="A"} 128417
bind_incoming_requests_total{opcode="QUERY"} 37634
bind_responses_total{result="Success"} 29313
bind_query_duplicates_total 216
bind_query_errors_total{error="Dropped"} 237
bind_query_errors_total{error="Failure"} 2950
bind_query_recursions_total 60946
bind_zone_transfer_rejected_total 3
bind_zone_transfer_success_total 25
bind_zone_transfer_failure_total 1
bind_recursive_clients 76
bind_response_rcodes_total{rcode="NOERROR"} 989812
bind_response_rcodes_total{rcode="NXDOMAIN"} 33958
bind_resolver_cache_rrsets{type="A",view="_default"} 34324
bind_resolver_queries_total{type="CNAME",view="_default"} 28
bind_resolver_response_errors_total{error="FORMERR",view="_bind"} 0
bind_resolver_response_errors_total{error="FORMERR",view="_default"} 42906
bind_resolver_response_errors_total{error="NXDOMAIN",view="_bind"} 0
bind_resolver_response_errors_total{error="NXDOMAIN",view="_default"} 16707
bind_resolver_response_errors_total{error="OtherError",view="_bind"} 0
bind_resolver_response_errors_total{error="OtherError",view="_default"} 20660
bind_resolver_response_errors_total{error="SERVFAIL",view="_bind"} 0
bind_resolver_response_errors_total{error="SERVFAIL",view="_default"} 7596
bind_resolver_response_lame_total{view="_default"} 9108
bind_resolver_query_duration_seconds_bucket{view="_default",le="0.01"} 38334
bind_resolver_query_duration_seconds_bucket{view="_default",le="0.1"} 113122
bind_resolver_query_duration_seconds_bucket{view="_default",le="0.5"} 182658
bind_resolver_query_duration_seconds_bucket{view="_default",le="0.8"} 187375
bind_resolver_query_duration_seconds_bucket{view="_default",le="1.6"} 188409
bind_resolver_query_duration_seconds_bucket{view="_default",le="+Inf"} 227755
bind_zone_serial{view="_default",zone_name="TEST_ZONE"} 123
bind_resolver_response_errors_total{error="REFUSED",view="_bind"} 17
bind_resolver_response_errors_total{error="REFUSED",view="_default"} 5798
bind_tasks_running 8
bind_worker_threads 16
"#;
    for (name, labels, value) in lint::samples(peer) {
        let found = whole
            .iter()
            .find(|(n, l, _)| *n == name && *l == labels)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in\n{}", outcome.stdout));
        assert_eq!(found.2, value, "{name}{labels:?}");
    }
}

/// An nmap -oX scan report of two hosts (python-libnmap's test file): hosts up and down, the
/// scan's duration and end time, open ports per host, one info series per open port.
#[test]
fn nmap_scan_examples() {
    assert_worked_example("rules/nmap.yaml", "nmap-2-hosts");
}

/// FRITZ!Box TR-064 responses (mxschmitt/fritzbox_exporter's and Telegraf's test data): every
/// numeric element of a service a family of its own, named from the element by one templated
/// rule per service; the link status as a state set, the access type as an info series.
#[test]
fn fritzbox_examples() {
    for name in [
        "fritzbox-wan-addon-infos",
        "fritzbox-wan-common-link-properties",
        "fritzbox-wlan-total-associations",
    ] {
        assert_worked_example("rules/fritzbox.yaml", name);
    }
}
