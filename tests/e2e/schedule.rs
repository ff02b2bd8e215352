//! `run --every`: a real looping `xml2prom` process, watched through its output file and its
//! stderr, and driven with real signals (`kill -TERM`, `kill -INT`, `kill -HUP`). Every wait is
//! a poll bounded by [`STEP_TIMEOUT`], and the process is killed on drop if a test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::interop::promtool_check;
use crate::lint;
use crate::support::xml2prom;

/// How long any one step (a write, a reload, a stop) may take before it counts as a hang. The
/// period is 1 s; the bound leaves room for a slow, shared machine.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(25);

const ROWS: &str = "version: 1\nmetrics:\n\
                    - { name: store_rows, help: Rows, type: gauge, value: count(/store/row) }\n";
const ITEMS: &str = "version: 1\nmetrics:\n\
                     - { name: store_items, help: Items, type: gauge, value: count(//item) }\n";
const STORE: &str = "<store><row/><row/><item/></store>\n";

/// A `run --every 1s` process on `rules.yaml` and `store.xml` in a temporary directory, writing
/// `out.prom`; its stderr goes to a file, so it can never block on a full pipe.
struct Loop {
    child: Child,
    dir: tempfile::TempDir,
    stderr: PathBuf,
}

impl Loop {
    fn start(rules: &str, more_args: &[&str]) -> Loop {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("rules.yaml"), rules).expect("rules");
        std::fs::write(dir.path().join("store.xml"), STORE).expect("store");
        let stderr = dir.path().join("stderr.log");
        let child = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
            .args(["run", "--rules", "rules.yaml", "--input", "store.xml"])
            .args(["--output", "out.prom", "--every", "1s"])
            .args(more_args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("the xml2prom binary starts");
        Loop { child, dir, stderr }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends a signal with the `kill` program (no unsafe code in the tests).
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("the kill program runs");
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// Polls until `done` holds, at most [`STEP_TIMEOUT`]; panics with the stderr otherwise,
    /// or at once if the process ended.
    fn wait_for<T>(&mut self, what: &str, mut done: impl FnMut(&Loop) -> Option<T>) -> T {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(value) = done(self) {
                return value;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "xml2prom ended ({status}) while waiting for {what}\n--- stderr:\n{}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {STEP_TIMEOUT:?}\n--- stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits for a write of `out.prom` after the one that gave `after` (its time of writing,
    /// `xml2prom_last_success_timestamp_seconds`), and returns the new text and time.
    fn next_write(&mut self, after: Option<f64>) -> (String, f64) {
        let output = self.path("out.prom");
        self.wait_for("write of out.prom", |_| {
            let text = std::fs::read_to_string(&output).ok()?;
            let written = written_at(&text)?;
            (Some(written) != after).then_some((text, written))
        })
    }

    /// Waits for the process to end, at most [`STEP_TIMEOUT`].
    fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for xml2prom") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "xml2prom did not stop within {STEP_TIMEOUT:?}\n--- stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        // Errors only mean it has already exited; either way it is reaped here.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `xml2prom_last_success_timestamp_seconds` in an output: when it was written.
fn written_at(text: &str) -> Option<f64> {
    lint::samples(text)
        .into_iter()
        .find(|(name, _, _)| name == "xml2prom_last_success_timestamp_seconds")
        .map(|(_, _, value)| value)
}

/// The value of a sample without labels.
fn value(text: &str, metric: &str) -> Option<f64> {
    lint::samples(text)
        .into_iter()
        .find(|(name, _, _)| name == metric)
        .map(|(_, _, value)| value)
}

/// A complete output: parsed by our strict checker and by promtool, with the rule's sample.
fn assert_complete(text: &str, metric: &str, expected: f64) {
    lint::assert_clean(text);
    if let Err(complaint) = promtool_check(text) {
        panic!("{complaint}\n--- output:\n{text}");
    }
    assert_eq!(value(text, metric), Some(expected), "{text}");
}

#[test]
fn every_writes_again_and_again_until_sigterm_which_exits_0_after_the_write() {
    let mut running = Loop::start(ROWS, &["--status-file", "status.prom"]);
    let (_, first) = running.next_write(None);
    let (_, second) = running.next_write(Some(first));
    let (_, third) = running.next_write(Some(second));
    // A fixed cadence of 1 s: neither a burst nor a pause between writes.
    for gap in [second - first, third - second] {
        assert!((0.5..2.5).contains(&gap), "{gap} s between two writes");
    }
    running.signal("TERM");
    let stopped = Instant::now();
    let status = running.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{}", running.stderr());
    // The stop is prompt: no wait for the next tick's run.
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopped.elapsed()
    );
    let stderr = running.stderr();
    let lines = crate::support::logfmt_lines(&stderr);
    assert_eq!(
        lines.first().map(String::as_str),
        Some(
            "level=info msg=\"running; SIGHUP reloads the rule file, SIGTERM or SIGINT stops\" \
             every=1s file=rules.yaml"
        ),
        "{stderr}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("level=info msg=\"stopped after the last run\" signal=SIGTERM"),
        "{stderr}"
    );
    let output = std::fs::read_to_string(running.path("out.prom")).expect("out.prom");
    assert_complete(&output, "store_rows", 2.0);
    let status = std::fs::read_to_string(running.path("status.prom")).expect("status.prom");
    assert!(
        status
            .contains("xml2prom_input_success{input=\"store.xml\",status_file=\"status.prom\"} 1"),
        "{status}"
    );
    // No temporary file left behind.
    assert_eq!(
        crate::support::entries(running.dir.path()),
        [
            ".out.prom.lock",
            "out.prom",
            "rules.yaml",
            "status.prom",
            "stderr.log",
            "store.xml"
        ]
    );
}

#[test]
fn sigterm_during_a_run_waits_for_its_write() {
    // The input is a FIFO: the run blocks reading it until the test writes the store, so the
    // signal surely arrives in the middle of a run.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), ROWS).expect("rules");
    let made = Command::new("mkfifo")
        .arg(dir.path().join("store.xml"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
    let stderr = dir.path().join("stderr.log");
    let child = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
        .args(["run", "--rules", "rules.yaml", "--input", "store.xml"])
        .args(["--output", "out.prom", "--every", "1s"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("the xml2prom binary starts");
    let mut running = Loop { child, dir, stderr };
    // The loop has started (its signals are watched) once it said so.
    running.wait_for("start message", |running| {
        running.stderr().contains(" every=1s ").then_some(())
    });
    running.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        running.child.try_wait().expect("wait").is_none(),
        "xml2prom stopped in the middle of a run\n--- stderr:\n{}",
        running.stderr()
    );
    assert!(!running.path("out.prom").exists());
    // Opening the FIFO for writing waits for its reader, the blocked run; on a thread, so that
    // the bounded wait below fails the test should the reader be gone.
    let fifo = running.path("store.xml");
    let feeder = std::thread::spawn(move || std::fs::write(fifo, STORE));
    let status = running.wait_for_exit();
    feeder.join().expect("feeder").expect("feed the FIFO");
    assert_eq!(status.code(), Some(0), "{}", running.stderr());
    let output = std::fs::read_to_string(running.path("out.prom")).expect("written before exit");
    assert_complete(&output, "store_rows", 2.0);
}

#[test]
fn sighup_keeps_the_old_rules_when_the_new_file_is_broken_and_switches_when_it_is_fixed() {
    let mut running = Loop::start(ROWS, &[]);
    let (text, mut written) = running.next_write(None);
    assert_complete(&text, "store_rows", 2.0);

    std::fs::write(
        running.path("rules.yaml"),
        "version: 1\nmetrics: [ { name: 2bad } ]\n",
    )
    .expect("broken rules");
    running.signal("HUP");
    running.wait_for("report of the broken rule file", |running| {
        running
            .stderr()
            .contains(
                " level=error msg=\"the rule file has errors; the rules loaded before keep \
                 running until it is fixed and SIGHUP is sent again\" file=rules.yaml \
                 trigger=SIGHUP err=",
            )
            .then_some(())
    });
    let stderr = running.stderr();
    assert!(
        stderr.contains("rules.yaml:2:"),
        "a diagnostic with a position:\n{stderr}"
    );
    // Two writes after the report: the second surely ran after the failed reload.
    for _ in 0..2 {
        let (text, at) = running.next_write(Some(written));
        assert_complete(&text, "store_rows", 2.0);
        written = at;
    }

    std::fs::write(running.path("rules.yaml"), ITEMS).expect("new rules");
    running.signal("HUP");
    running.wait_for("reload of the fixed rule file", |running| {
        running
            .stderr()
            .contains(" level=info msg=\"reloaded the rule file\" file=rules.yaml trigger=SIGHUP\n")
            .then_some(())
    });
    let text = running.wait_for("write with the new rules", |running| {
        let text = std::fs::read_to_string(running.path("out.prom")).ok()?;
        text.contains("store_items").then_some(text)
    });
    assert_complete(&text, "store_items", 1.0);
    assert_eq!(value(&text, "store_rows"), None, "{text}");

    running.signal("INT");
    let status = running.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{}", running.stderr());
    let stderr = running.stderr();
    assert_eq!(
        crate::support::logfmt_lines(&stderr)
            .last()
            .map(String::as_str),
        Some("level=info msg=\"stopped after the last run\" signal=SIGINT"),
        "{stderr}"
    );
}

#[test]
fn a_broken_rule_file_at_the_start_ends_the_loop_with_exit_2_and_a_status_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("rules.yaml"),
        "version: 1\nmetrics: [ { name: 2bad } ]\n",
    )
    .expect("rules");
    std::fs::write(dir.path().join("store.xml"), STORE).expect("store");
    let outcome = xml2prom(
        dir.path(),
        &[
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "-o",
            "out.prom",
            "--every",
            "1s",
            "--status-file",
            "status.prom",
        ],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("rules.yaml:2:"),
        "{}",
        outcome.stderr
    );
    assert!(!dir.path().join("out.prom").exists());
    let status = std::fs::read_to_string(dir.path().join("status.prom")).expect("status file");
    assert!(
        status.contains("xml2prom_run_errors{stage=\"rules\",status_file=\"status.prom\"} 1"),
        "{status}"
    );
}

#[test]
fn a_period_under_a_second_is_a_usage_error() {
    let dir: &Path = &crate::support::root();
    for period in ["500ms", "0s", "1"] {
        let outcome = xml2prom(
            dir,
            &[
                "run",
                "--rules",
                "rules/store.yaml",
                "--input",
                "x.xml",
                "-o",
                "-",
                "--every",
                period,
            ],
        );
        assert_eq!(outcome.code, 2, "{period}: {}", outcome.stderr);
        assert!(outcome.stderr.contains("--every"), "{}", outcome.stderr);
    }
    let outcome = xml2prom(
        dir,
        &[
            "run",
            "--rules",
            "rules/store.yaml",
            "--input",
            "x.xml",
            "-o",
            "-",
            "--every",
            "500ms",
        ],
    );
    assert!(
        outcome
            .stderr
            .contains("500ms is shorter than 1s, the shortest period"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let mut running = Loop::start(ROWS, &["--log.format", "json"]);
    running.next_write(None);
    running.signal("TERM");
    let status = running.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{}", running.stderr());
    let stderr = running.stderr();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for line in &lines {
        let time = line["time"].as_str().unwrap_or_default();
        assert!(crate::support::is_log_time(time), "{line}");
        assert_eq!(line["level"], "info", "{line}");
    }
    assert_eq!(
        lines
            .first()
            .map(|line| (&line["msg"], &line["every"], &line["file"])),
        Some((
            &serde_json::json!("running; SIGHUP reloads the rule file, SIGTERM or SIGINT stops"),
            &serde_json::json!("1s"),
            &serde_json::json!("rules.yaml")
        )),
        "{stderr}"
    );
    assert_eq!(
        lines.last().map(|line| (&line["msg"], &line["signal"])),
        Some((
            &serde_json::json!("stopped after the last run"),
            &serde_json::json!("SIGTERM")
        )),
        "{stderr}"
    );
}

#[test]
fn log_level_warn_hides_info_and_a_failed_run_is_an_error_line() {
    let mut running = Loop::start(ROWS, &["--log.level", "warn"]);
    running.next_write(None);
    std::fs::write(running.path("store.xml"), "<store><row/>").expect("broken store");
    running.wait_for("the failed run", |running| {
        running
            .stderr()
            .contains(
                " level=error msg=\"the run failed\" err=\"store.xml: not well-formed XML at line 1",
            )
            .then_some(())
    });
    running.signal("TERM");
    let status = running.wait_for_exit();
    assert_eq!(status.code(), Some(0), "{}", running.stderr());
    let stderr = running.stderr();
    let lines = crate::support::logfmt_lines(&stderr);
    assert!(!lines.is_empty(), "{stderr}");
    assert!(
        lines.iter().all(|line| line.starts_with("level=error ")),
        "only errors at --log.level warn here:\n{stderr}"
    );
}

#[test]
fn log_flags_without_every_are_a_usage_error() {
    let outcome = xml2prom(
        &crate::support::root(),
        &[
            "run",
            "--rules",
            "rules/store.yaml",
            "--input",
            "rules/examples/store.xml",
            "-o",
            "-",
            "--log.format",
            "json",
        ],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("--log.level and --log.format are for `run --every` and `serve`"),
        "{}",
        outcome.stderr
    );
    assert_eq!(outcome.stdout, "");
}
