//! Overlapping runs: two real `xml2prom` processes on one output. The first holds the lock while
//! it waits for its input (a FIFO the test writes only when it is ready), so the order of events
//! does not depend on timing.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{entries, xml2prom};

/// How long any one step may take before the test counts it as a hang.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

const RULES: &str = "version: 1\nmetrics:\n\
                     - { name: store_rows, help: Rows, type: gauge, value: count(/store/row) }\n";

const PREVIOUS: &str = "# HELP previous_run A file from an earlier, good run\n\
                        # TYPE previous_run gauge\nprevious_run 1\n";

/// Child processes killed on drop, so a failing test leaves no process behind.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_xml2prom"))
        .args(["run", "--rules", "rules.yaml", "--no-self-metrics"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xml2prom starts")
}

/// Waits for a child to exit, at most [`STEP_TIMEOUT`]; returns its exit code and stderr.
fn finish(child: &mut Child) -> (i32, String) {
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(start.elapsed() < STEP_TIMEOUT, "xml2prom hangs");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    (status.code().unwrap_or(-1), stderr)
}

/// Waits until another process holds the lock on `lock_file`.
fn wait_until_locked(lock_file: &Path) {
    let start = Instant::now();
    loop {
        if let Ok(file) = std::fs::File::open(lock_file)
            && let Err(std::fs::TryLockError::WouldBlock) = file.try_lock()
        {
            return;
        }
        assert!(
            start.elapsed() < STEP_TIMEOUT,
            "the first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn store(rows: usize) -> String {
    format!("<store>{}</store>\n", "<row/>".repeat(rows))
}

#[cfg(unix)]
#[test]
fn a_second_run_waits_for_the_first_or_gives_up_after_the_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    std::fs::write(path.join("rules.yaml"), RULES).expect("rules");
    std::fs::write(path.join("quick.xml"), store(2)).expect("quick input");
    std::fs::write(path.join("out.prom"), PREVIOUS).expect("seed");
    let made = Command::new("mkfifo")
        .arg(path.join("slow.xml"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");

    // The first run takes the lock, then blocks opening its input until the test writes it.
    let mut children = Children(vec![spawn(
        path,
        &["--input", "slow.xml", "--output", "out.prom"],
    )]);
    wait_until_locked(&path.join(".out.prom.lock"));

    // A run that may wait 300 ms gives up with a clear error and writes nothing.
    let start = Instant::now();
    let mut impatient = spawn(
        path,
        &[
            "--input",
            "quick.xml",
            "-o",
            "out.prom",
            "--lock-timeout",
            "300ms",
        ],
    );
    let (code, stderr) = finish(&mut impatient);
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "it did not wait"
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.starts_with("xml2prom: error: another xml2prom run held the lock ")
            && stderr.contains(".out.prom.lock for all of --lock-timeout (300ms); nothing was")
            && stderr.contains("--lock-timeout"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(path.join("out.prom")).expect("out"),
        PREVIOUS
    );

    // A patient run waits for the first one to finish.
    children.0.push(spawn(
        path,
        &[
            "--input",
            "quick.xml",
            "-o",
            "out.prom",
            "--lock-timeout",
            "30s",
        ],
    ));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        children.0[1].try_wait().expect("wait").is_none(),
        "the second run did not wait for the lock"
    );

    // Now the first run gets its input; it writes, releases, and the second writes after it.
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .open(path.join("slow.xml"))
        .expect("open the FIFO for writing");
    fifo.write_all(store(5).as_bytes()).expect("feed the FIFO");
    drop(fifo);
    let (code, stderr) = finish(&mut children.0[0]);
    assert_eq!(code, 0, "first run: {stderr}");
    let (code, stderr) = finish(&mut children.0[1]);
    assert_eq!(code, 0, "second run: {stderr}");
    // Had the second run not waited, the first would have written last (5 rows).
    assert_eq!(
        std::fs::read_to_string(path.join("out.prom")).expect("out"),
        "# HELP store_rows Rows\n# TYPE store_rows gauge\nstore_rows 2\n"
    );
    assert_eq!(
        entries(path),
        [
            ".out.prom.lock",
            "out.prom",
            "quick.xml",
            "rules.yaml",
            "slow.xml"
        ]
    );
}

#[test]
fn standard_output_takes_no_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("rules");
    std::fs::write(dir.path().join("a.xml"), store(1)).expect("input");
    let outcome = xml2prom(
        dir.path(),
        &[
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "a.xml",
            "-o",
            "-",
        ],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(entries(dir.path()), ["a.xml", "rules.yaml"]);
}

#[test]
fn a_bad_lock_timeout_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outcome = xml2prom(
        dir.path(),
        &[
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "a.xml",
            "-o",
            "-",
            "--lock-timeout",
            "soon",
        ],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("invalid value 'soon' for '--lock-timeout"),
        "{}",
        outcome.stderr
    );
}
