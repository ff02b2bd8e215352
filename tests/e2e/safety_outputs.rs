//! Never damage what is not ours (issue 10): outputs that are devices, FIFOs, sockets or
//! symbolic links to them are written in place; an output that is an input is refused; the lock
//! file follows no symbolic link and no other user can hold it; stale temporary files are
//! removed; a file-size limit is a clear error; messages stay short whatever the input holds.
//!
//! Device nodes and FIFOs are made in a temporary directory (`mknod`, `mkfifo`), never the real
//! `/dev/null`. The tests that need root (`mknod`, a second user through `setpriv`) say so and
//! pass without checking anything when not run as root, unless `XML2PROM_REQUIRE_TOOLS=1`.
#![cfg(unix)]

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{entries, xml2prom};

const RULES: &str = "version: 1\nmetrics:\n\
                     - { name: store_rows, help: Rows, type: gauge, value: count(/store/row) }\n";

const STORE: &str = "<store><row/><row/></store>\n";

const EXPECTED: &str = "# HELP store_rows Rows\n# TYPE store_rows gauge\nstore_rows 2\n";

const PREVIOUS: &str = "# HELP previous_run A file from an earlier, good run\n\
                        # TYPE previous_run gauge\nprevious_run 1\n";

/// A directory with `rules.yaml` and `store.xml`.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("rules");
    std::fs::write(dir.path().join("store.xml"), STORE).expect("store");
    dir
}

fn run(dir: &Path, more: &[&str]) -> crate::support::Outcome {
    let mut args = vec![
        "run",
        "--rules",
        "rules.yaml",
        "--input",
        "store.xml",
        "--no-self-metrics",
    ];
    args.extend_from_slice(more);
    xml2prom(dir, &args)
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Whether a test that needs root may go on; without root it passes unless the tools are
/// required.
fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os("XML2PROM_REQUIRE_TOOLS").is_none(),
        "{test} needs root"
    );
    eprintln!("{test}: skipped, not root");
    false
}

fn mknod_null(path: &Path) {
    let made = Command::new("mknod")
        .arg(path)
        .args(["c", "1", "3"])
        .status()
        .expect("mknod runs");
    assert!(made.success(), "mknod failed");
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
}

fn assert_null_device(path: &Path) {
    let metadata = std::fs::symlink_metadata(path).expect("stat");
    assert!(
        metadata.file_type().is_char_device(),
        "{} is no longer a character device: {:?}",
        path.display(),
        metadata.file_type()
    );
    assert_eq!(metadata.rdev(), 0x103, "not the null device any more");
}

/// Reads a FIFO in a thread, opened without blocking so that the test never hangs: until a
/// writer has come and gone, or for at most 20 s.
struct FifoReader {
    thread: std::thread::JoinHandle<String>,
}

const O_NONBLOCK: i32 = 0o4000;

impl FifoReader {
    fn start(path: &Path) -> FifoReader {
        use std::os::unix::fs::OpenOptionsExt;
        // Opened here, so xml2prom finds a reader however fast it is.
        let mut fifo = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_NONBLOCK)
            .open(path)
            .expect("open the FIFO for reading");
        let thread = std::thread::spawn(move || {
            let mut text = Vec::new();
            let start = Instant::now();
            let mut buffer = [0; 4096];
            while start.elapsed() < Duration::from_secs(20) {
                match fifo.read(&mut buffer) {
                    Ok(0) if !text.is_empty() => break,
                    Ok(n) => text.extend_from_slice(&buffer[..n]),
                    Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(err) => panic!("reading the FIFO: {err}"),
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            String::from_utf8(text).expect("UTF-8")
        });
        FifoReader { thread }
    }

    /// What the reader got.
    fn finish(self) -> String {
        self.thread.join().expect("reader thread")
    }
}

// --- outputs that are not regular files ----------------------------------------------------

#[test]
fn a_device_output_is_written_in_place_and_takes_no_lock() {
    if !root_or_skip("a_device_output_is_written_in_place_and_takes_no_lock") {
        return;
    }
    let dir = workspace();
    let null = dir.path().join("null");
    mknod_null(&null);
    // Before issue 10 the temporary file was renamed over the device.
    let outcome = run(dir.path(), &["-o", "null", "--verbose"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_null_device(&null);
    assert_eq!(entries(dir.path()), ["null", "rules.yaml", "store.xml"]);

    // The status file too; and a symbolic link to a device is written through, link kept.
    std::os::unix::fs::symlink("null", dir.path().join("out.prom")).expect("symlink");
    let outcome = run(
        dir.path(),
        &["-o", "out.prom", "--status-file", "null", "--verbose"],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(
        std::fs::symlink_metadata(dir.path().join("out.prom"))
            .expect("stat")
            .file_type()
            .is_symlink(),
        "the symbolic link was replaced"
    );
    assert_null_device(&null);
    assert_eq!(
        entries(dir.path()),
        ["null", "out.prom", "rules.yaml", "store.xml"]
    );
}

#[test]
fn a_fifo_output_gives_its_reader_the_whole_text() {
    let dir = workspace();
    let fifo = dir.path().join("out.prom");
    mkfifo(&fifo);
    let reader = FifoReader::start(&fifo);
    let outcome = run(dir.path(), &["-o", "out.prom"]);
    let got = reader.finish();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(got, EXPECTED, "the reader did not get the exposition");
    assert!(
        std::fs::metadata(&fifo)
            .expect("stat")
            .file_type()
            .is_fifo(),
        "the FIFO was replaced"
    );
    assert_eq!(entries(dir.path()), ["out.prom", "rules.yaml", "store.xml"]);
}

#[test]
fn a_fifo_output_without_a_reader_fails_at_once() {
    let dir = workspace();
    let fifo = dir.path().join("out.prom");
    mkfifo(&fifo);
    let start = Instant::now();
    let outcome = run(dir.path(), &["-o", "out.prom"]);
    assert!(start.elapsed() < Duration::from_secs(10), "it waited");
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr,
        "xml2prom: error: cannot write out.prom: it is a FIFO that no process reads; start its \
         reader first (xml2prom does not wait for one)\n"
    );
    assert!(
        std::fs::metadata(&fifo)
            .expect("stat")
            .file_type()
            .is_fifo()
    );
    assert_eq!(entries(dir.path()), ["out.prom", "rules.yaml", "store.xml"]);
}

#[test]
fn a_socket_output_is_written_to_its_listener() {
    let dir = workspace();
    let socket = dir.path().join("out.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let server = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking stream");
                    let mut text = String::new();
                    let _ = stream.read_to_string(&mut text);
                    return Some(text);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        None
    });
    let outcome = run(dir.path(), &["-o", "out.sock"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    // Renamed over, the socket would never see a connection.
    assert!(
        std::fs::metadata(&socket)
            .expect("stat")
            .file_type()
            .is_socket(),
        "the socket was replaced"
    );
    assert_eq!(
        server.join().expect("server").as_deref(),
        Some(EXPECTED),
        "the listener did not get the exposition"
    );
}

#[test]
fn a_regular_output_is_still_replaced_atomically() {
    let dir = workspace();
    std::fs::write(dir.path().join("out.prom"), PREVIOUS).expect("seed");
    let outcome = run(dir.path(), &["-o", "out.prom"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let metadata = std::fs::metadata(dir.path().join("out.prom")).expect("stat");
    assert_eq!(metadata.mode() & 0o777, 0o644);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.prom")).expect("read"),
        EXPECTED
    );
    assert_eq!(
        entries(dir.path()),
        [".out.prom.lock", "out.prom", "rules.yaml", "store.xml"]
    );
}

// --- an output that is an input ------------------------------------------------------------

#[test]
fn an_output_that_is_an_input_is_refused_before_anything_is_written() {
    let dir = workspace();
    let path = dir.path();
    std::fs::create_dir(path.join("od")).expect("od");
    std::fs::write(path.join("od/x.prom"), STORE).expect("an input inside --output-dir");
    std::fs::hard_link(path.join("store.xml"), path.join("link.xml")).expect("hard link");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--input", "store.xml", "-o", "store.xml"],
            "--output: store.xml is also the input store.xml",
        ),
        (
            &["--input", "store.xml", "-o", "./store.xml"],
            "--output: ./store.xml is also the input store.xml",
        ),
        (
            &["--input", "store.xml", "-o", "link.xml"],
            "--output: link.xml is also the input store.xml",
        ),
        (
            &["--input", "od/x.prom", "--output-dir", "od"],
            "--output-dir: od/x.prom is also the input od/x.prom",
        ),
        (
            &[
                "--input",
                "store.xml",
                "-o",
                "out.prom",
                "--status-file",
                "store.xml",
            ],
            "--status-file: store.xml is also the input store.xml",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["run", "--rules", "rules.yaml"];
        all.extend_from_slice(args);
        let outcome = xml2prom(path, &all);
        assert_eq!(outcome.code, 2, "{args:?}: {}", outcome.stderr);
        assert_eq!(
            outcome.stderr,
            format!(
                "xml2prom: error: {message}; writing it would destroy the input, so nothing \
                 was written. Give the output another name\n"
            ),
            "{args:?}"
        );
        assert_eq!(
            std::fs::read_to_string(path.join("store.xml")).expect("read"),
            STORE
        );
        assert_eq!(
            std::fs::read_to_string(path.join("od/x.prom")).expect("read"),
            STORE
        );
        assert_eq!(
            entries(path),
            ["link.xml", "od", "rules.yaml", "store.xml"],
            "{args:?}"
        );
    }
}

// --- the lock ------------------------------------------------------------------------------

#[test]
fn a_planted_lock_symlink_is_not_followed() {
    let dir = workspace();
    let path = dir.path();
    std::fs::write(path.join("out.prom"), PREVIOUS).expect("seed");
    std::os::unix::fs::symlink("victim", path.join(".out.prom.lock")).expect("plant");
    let outcome = run(path, &["-o", "out.prom"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr,
        "xml2prom: error: the lock file .out.prom.lock is a symbolic link, not a regular file; \
         xml2prom never follows or replaces it, and nothing was written. Remove it (xml2prom \
         creates its lock file itself)\n"
    );
    assert!(!path.join("victim").exists(), "the symlink was followed");
    assert_eq!(
        std::fs::read_to_string(path.join("out.prom")).expect("read"),
        PREVIOUS
    );

    // A FIFO planted there is refused too, without waiting for a writer.
    std::fs::remove_file(path.join(".out.prom.lock")).expect("remove");
    mkfifo(&path.join(".out.prom.lock"));
    let outcome = run(path, &["-o", "out.prom"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("the lock file .out.prom.lock is a FIFO, not a regular file"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        std::fs::read_to_string(path.join("out.prom")).expect("read"),
        PREVIOUS
    );
}

/// `setpriv` to the user nobody (65534), running `args`.
fn as_nobody(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

#[test]
fn another_user_cannot_hold_the_lock() {
    if !root_or_skip("another_user_cannot_hold_the_lock") {
        return;
    }
    let dir = workspace();
    let path = dir.path();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let outcome = run(path, &["-o", "out.prom"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let lock = path.join(".out.prom.lock");
    assert_eq!(
        std::fs::metadata(&lock).expect("stat").mode() & 0o777,
        0o600
    );

    // Before issue 10 the lock file was 0644: nobody could open it and hold the lock.
    let mut holder = as_nobody(
        path,
        &["flock", "--nonblock", ".out.prom.lock", "sleep", "30"],
    )
    .spawn()
    .expect("setpriv runs");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if holder.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let outcome = run(path, &["-o", "out.prom", "--lock-timeout", "500ms"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);

    // A lock file of another user (not root) is refused: that user could hold it.
    std::fs::write(path.join("out.prom"), PREVIOUS).expect("seed");
    std::os::unix::fs::chown(&lock, Some(65534), Some(65534)).expect("chown");
    let outcome = run(path, &["-o", "out.prom"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(
            "the lock file .out.prom.lock belongs to the user with uid 65534, not to this user \
             (uid 0) or root"
        ),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        std::fs::read_to_string(path.join("out.prom")).expect("read"),
        PREVIOUS
    );
}

#[test]
fn a_lock_file_others_could_read_is_made_private() {
    let dir = workspace();
    let lock = dir.path().join(".out.prom.lock");
    std::fs::write(&lock, "").expect("an old lock file");
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let outcome = run(dir.path(), &["-o", "out.prom"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        std::fs::metadata(&lock).expect("stat").mode() & 0o777,
        0o600
    );
}

// --- leftovers -----------------------------------------------------------------------------

#[test]
fn stale_temporary_files_of_the_output_are_removed() {
    let dir = workspace();
    let path = dir.path();
    let stale = [".out.prom.a1B2c3.tmp", ".out.prom.ZZZZZZ.tmp"];
    for name in stale {
        std::fs::write(path.join(name), "half a file").expect("plant");
    }
    // Not ours, or not a file: kept.
    let kept = [
        ".out.prom.abc.tmp",
        ".other.prom.a1B2c3.tmp",
        ".out.prom.a1B2c3.tmp.bak",
        "notes.txt",
    ];
    for name in kept {
        std::fs::write(path.join(name), "keep").expect("plant");
    }
    std::fs::write(path.join("victim"), "keep").expect("victim");
    std::os::unix::fs::symlink("victim", path.join(".out.prom.QQQQQQ.tmp")).expect("symlink");
    std::fs::create_dir(path.join(".out.prom.DDDDDD.tmp")).expect("dir");

    let outcome = run(path, &["-o", "out.prom"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let mut want: Vec<&str> = vec![
        ".out.prom.DDDDDD.tmp",
        ".out.prom.QQQQQQ.tmp",
        ".out.prom.lock",
        "out.prom",
        "rules.yaml",
        "store.xml",
        "victim",
    ];
    want.extend(kept);
    want.sort();
    assert_eq!(entries(path), want);
    assert_eq!(
        std::fs::read_to_string(path.join("victim")).expect("read"),
        "keep"
    );

    // With --output-dir, the temporary files of each output in it.
    std::fs::create_dir(path.join("od")).expect("od");
    std::fs::write(path.join("od/.store.prom.Xy7890.tmp"), "half").expect("plant");
    std::fs::write(path.join("od/.shop.prom.Xy7890.tmp"), "another output's").expect("plant");
    let outcome = xml2prom(
        path,
        &[
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--output-dir",
            "od",
        ],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        entries(&path.join("od")),
        [".shop.prom.Xy7890.tmp", ".xml2prom.lock", "store.prom"]
    );
}

// --- the file-size limit -------------------------------------------------------------------

#[test]
fn a_write_past_the_file_size_limit_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    let rules = "version: 1\nmetrics:\n\
                 - { name: store_row, help: Rows, type: gauge, select: /store/row, \
                 value: '@v', labels: { id: '{{ id }}' }, fields: { id: '@id' } }\n";
    std::fs::write(path.join("rules.yaml"), rules).expect("rules");
    let rows: String = (0..2000)
        .map(|i| format!("<row id=\"{i}\" v=\"1\"/>"))
        .collect();
    std::fs::write(path.join("store.xml"), format!("<store>{rows}</store>")).expect("store");
    std::fs::write(path.join("out.prom"), PREVIOUS).expect("seed");
    let outcome = Command::new("prlimit")
        .arg("--fsize=16384")
        .arg(env!("CARGO_BIN_EXE_xml2prom"))
        .args([
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "-o",
            "out.prom",
            "--status-file",
            "status.prom",
        ])
        .current_dir(path)
        .output()
        .expect("prlimit runs");
    let stderr = String::from_utf8_lossy(&outcome.stderr);
    // Before issue 10, SIGXFSZ killed the run: no code, a temporary file left, no status file.
    assert_eq!(outcome.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(
            "xml2prom: error: cannot write out.prom: the file-size limit (ulimit -f / \
             LimitFSIZE=) is smaller than the file; the previous file is unchanged; raise the \
             limit above "
        ),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(path.join("out.prom")).expect("read"),
        PREVIOUS
    );
    assert_eq!(
        entries(path),
        [
            ".out.prom.lock",
            "out.prom",
            "rules.yaml",
            "status.prom",
            "store.xml"
        ]
    );
    let status = std::fs::read_to_string(path.join("status.prom")).expect("status file");
    assert!(
        status.contains("xml2prom_run_errors{stage=\"write\",status_file=\"status.prom\"} 1"),
        "{status}"
    );
}

// --- bounded messages ----------------------------------------------------------------------

#[test]
fn a_duplicate_series_message_stays_short() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    // Thousands of rows that all give one series with a 100 KB label value, from two rules.
    let rule = "{ name: store_row, help: Rows, type: gauge, select: /store/row, value: '@v', \
                labels: { name: '{{ name }}' }, fields: { name: /store/@name } }";
    std::fs::write(
        path.join("rules.yaml"),
        format!("version: 1\nmetrics:\n- {rule}\n- {rule}\n"),
    )
    .expect("rules");
    let rows = "<row v=\"1\"/>".repeat(5000);
    let name = "n".repeat(100_000);
    std::fs::write(
        path.join("store.xml"),
        format!("<store name=\"{name}\">{rows}</store>"),
    )
    .expect("store");
    for engine in ["auto", "dom"] {
        let outcome = xml2prom(
            path,
            &[
                "run",
                "--rules",
                "rules.yaml",
                "--input",
                "store.xml",
                "-o",
                "out.prom",
                "--engine",
                engine,
            ],
        );
        assert_eq!(outcome.code, 1, "{engine}: {}", &outcome.stderr[..200]);
        assert!(
            outcome.stderr.len() < 4096,
            "{engine}: {} bytes: {}",
            outcome.stderr.len(),
            &outcome.stderr[..400]
        );
        assert!(
            outcome.stderr.contains("… (99800 more characters)\""),
            "{engine}: {}",
            outcome.stderr
        );
    }
}

#[test]
fn a_long_list_of_failures_ends_with_a_count() {
    let dir = workspace();
    let path = dir.path();
    std::fs::create_dir(path.join("in")).expect("in");
    for i in 0..130 {
        std::fs::write(path.join(format!("in/s{i:03}.xml")), "<store><row/>").expect("input");
    }
    std::fs::create_dir(path.join("od")).expect("od");
    let outcome = xml2prom(
        path,
        &[
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "in/*.xml",
            "--output-dir",
            "od",
        ],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 101, "{}", outcome.stderr);
    assert_eq!(lines[100], "xml2prom: error: ... and 30 more errors");
}
