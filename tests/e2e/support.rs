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

/// Compares `actual` with the file at `expected`, or rewrites the file in bless mode.
pub fn assert_matches_file(expected: &Path, actual: &str) {
    if bless() {
        std::fs::write(expected, actual).expect("write blessed file");
        return;
    }
    let want = std::fs::read_to_string(expected).unwrap_or_else(|err| {
        panic!(
            "cannot read {}: {err}; run with XML2PROM_BLESS=1 to create it",
            expected.display()
        )
    });
    pretty_assertions::assert_eq!(want, actual, "{} differs", expected.display());
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
