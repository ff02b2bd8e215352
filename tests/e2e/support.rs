//! Running the binary and comparing with expected files.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest any single run of the binary may take in a test before it counts as a hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// What one run of the binary did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `xml2prom ARGS` in `dir`, killing it if it outlives [`RUN_TIMEOUT`].
pub fn xml2prom<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Outcome {
    xml2prom_with_env(dir, args, &[])
}

/// The same with environment variables set (`NO_COLOR=1` unless `env` sets it; an empty
/// value removes the variable).
pub fn xml2prom_with_env<S: AsRef<std::ffi::OsStr>>(
    dir: &Path,
    args: &[S],
    env: &[(&str, &str)],
) -> Outcome {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xml2prom"));
    command.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    for (key, value) in env {
        if value.is_empty() {
            command.env_remove(key);
        } else {
            command.env(key, value);
        }
    }
    let mut child = command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the xml2prom binary starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for xml2prom") {
            break status;
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("xml2prom {:?} did not finish within {RUN_TIMEOUT:?}", dir);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    Outcome {
        // A signal (crash) has no code: report it as -1 so no expectation can match it.
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// Runs the bundled example (`rules/store.yaml` on `rules/examples/store.xml`) from the
/// repository root, with more arguments.
pub fn run_example(args: &[&str]) -> Outcome {
    let mut all = vec![
        "run",
        "--rules",
        "rules/store.yaml",
        "--input",
        "rules/examples/store.xml",
    ];
    all.extend_from_slice(args);
    xml2prom(&root(), &all)
}

/// Whether expected files should be rewritten instead of compared.
pub fn bless() -> bool {
    std::env::var_os("XML2PROM_BLESS").is_some_and(|v| v == "1")
}

/// xml2prom's own metrics whose values change from run to run (times and durations).
pub const VARYING: &[&str] = &[
    "xml2prom_input_mtime_seconds",
    "xml2prom_last_run_duration_seconds",
    "xml2prom_last_run_timestamp_seconds",
    "xml2prom_last_success_timestamp_seconds",
    "xml2prom_run_duration_seconds",
];

/// The text with the value of every sample of a [`VARYING`] metric replaced by `<varies>`,
/// so that outputs compare whole while times and durations change.
pub fn mask_varying(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let varies = !line.starts_with('#') && VARYING.contains(&&line[..name_end]);
        match line.rfind(' ') {
            Some(space) if varies => {
                masked.push_str(&line[..=space]);
                masked.push_str("<varies>");
                if line.ends_with('\n') {
                    masked.push('\n');
                }
            }
            _ => masked.push_str(line),
        }
    }
    masked
}

/// Compares `actual` with the file at `expected`, times and durations masked (see
/// [`mask_varying`]), or rewrites the file in bless mode when more than those differ.
pub fn assert_matches_file(expected: &Path, actual: &str) {
    let want = std::fs::read_to_string(expected);
    if bless() {
        // Rewriting only what really changed keeps times out of the diff.
        if want.map_or(true, |want| mask_varying(&want) != mask_varying(actual)) {
            std::fs::write(expected, actual).expect("write blessed file");
        }
        return;
    }
    let want = want.unwrap_or_else(|err| {
        panic!(
            "cannot read {}: {err}; run with XML2PROM_BLESS=1 to create it",
            expected.display()
        )
    });
    pretty_assertions::assert_eq!(
        mask_varying(&want),
        mask_varying(actual),
        "{} differs",
        expected.display()
    );
}

/// The names in a directory, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn masking_hides_only_times_and_durations() {
    let text = "# HELP xml2prom_run_duration_seconds Seconds\n\
                xml2prom_run_duration_seconds{output=\"a b.prom\"} 0.25\n\
                xml2prom_run_duration_seconds_other 3\n\
                xml2prom_input_mtime_seconds 17e8\n\
                store_rows 6\n";
    assert_eq!(
        mask_varying(text),
        "# HELP xml2prom_run_duration_seconds Seconds\n\
         xml2prom_run_duration_seconds{output=\"a b.prom\"} <varies>\n\
         xml2prom_run_duration_seconds_other 3\n\
         xml2prom_input_mtime_seconds <varies>\n\
         store_rows 6\n"
    );
}

/// The lines of a logfmt log (`serve`, `run --every`) without their timestamps:
/// `level=info msg="..." ...`. Panics on a line that does not start with
/// `time=YYYY-MM-DDTHH:MM:SS.mmmZ `, so every line's form is checked too.
pub fn logfmt_lines(log: &str) -> Vec<String> {
    log.lines()
        .map(|line| {
            let rest = line
                .strip_prefix("time=")
                .unwrap_or_else(|| panic!("a log line without time=: {line}\n{log}"));
            let (time, rest) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("a log line with only a time: {line}"));
            assert!(
                is_log_time(time),
                "not a UTC time with milliseconds: {line}"
            );
            rest.to_owned()
        })
        .collect()
}

/// Whether `time` looks like `2026-12-04T02:00:00.123Z`.
pub fn is_log_time(time: &str) -> bool {
    let bytes = time.as_bytes();
    bytes.len() == 24
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            19 => *b == b'.',
            23 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
}
