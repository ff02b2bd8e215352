//! Runs the real programs our output is for: `promtool check metrics` (the reference parser) and
//! `prometheus-node-exporter` with only its textfile collector, scraped over plain HTTP on
//! 127.0.0.1. Text or a directory of `.prom` files comes in; the tools' verdicts and the scraped
//! exposition come out, compared sample by sample with what was written.
//!
//! When a tool is not installed, its checks print a notice and pass, so `cargo test` works on any
//! machine; set `XML2PROM_REQUIRE_TOOLS=1` (as CI should) to make a missing tool fail instead.
//! Debian: `apt-get install prometheus prometheus-node-exporter`.

use crate::lint::{self, samples};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

/// How long node_exporter may take to answer on its port after it was started.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two attempts to connect to a starting node_exporter.
const STARTUP_POLL: Duration = Duration::from_millis(50);
/// Bound on each connect, read and write of a scrape, and on the whole scrape.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// A scrape of the textfile collector alone is a few kilobytes; more means something is wrong.
const MAX_RESPONSE: usize = 16 << 20;
/// How long `promtool check metrics` may run.
const PROMTOOL_TIMEOUT: Duration = Duration::from_secs(30);

static PROMTOOL_NOTICE: Once = Once::new();
static NODE_EXPORTER_NOTICE: Once = Once::new();

/// Reports a missing tool: a panic if `XML2PROM_REQUIRE_TOOLS` is set, else a notice printed once.
pub fn tool_missing(notice: &'static Once, message: &str) {
    if std::env::var_os("XML2PROM_REQUIRE_TOOLS").is_some_and(|value| !value.is_empty()) {
        panic!("{message} (XML2PROM_REQUIRE_TOOLS is set, so this is an error)");
    }
    notice.call_once(|| eprintln!("{message}"));
}

/// Runs `promtool check metrics` on the text (fed on stdin). Returns Ok(()) if clean, Err(output)
/// if promtool complained. If promtool is not installed, prints a notice once to stderr
/// ("skipping promtool checks: promtool not found; install the Debian package `prometheus`") and
/// returns Ok(()).
///
/// promtool also exits non-zero for its lint warnings, such as `a_total no help text` or
/// `a counter metrics should have "_total" suffix`; those count as complaints too.
pub fn promtool_check(text: &str) -> Result<(), String> {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            tool_missing(
                &PROMTOOL_NOTICE,
                "skipping promtool checks: promtool not found; install the Debian package `prometheus`",
            );
            return Ok(());
        }
        Err(error) => panic!("cannot start `promtool check metrics`: {error}"),
    };
    let (status, stdout, stderr) = run_to_end(
        child,
        text.as_bytes(),
        PROMTOOL_TIMEOUT,
        "promtool check metrics",
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`promtool check metrics` exited with {status}:\n{stdout}{stderr}"
        ))
    }
}

/// Runs `promtool ARGS` in `dir` (30 s at most) and returns its exit status and output, or
/// None after a notice (or a panic under `XML2PROM_REQUIRE_TOOLS`) if promtool is not installed.
pub fn promtool(dir: &Path, args: &[&str]) -> Option<(ExitStatus, String)> {
    let child = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    match child {
        Ok(child) => {
            let what = format!("promtool {}", args.join(" "));
            let (status, stdout, stderr) = run_to_end(child, b"", PROMTOOL_TIMEOUT, &what);
            Some((status, format!("{stdout}{stderr}")))
        }
        Err(error) if error.kind() == ErrorKind::NotFound => {
            tool_missing(
                &PROMTOOL_NOTICE,
                "skipping promtool checks: promtool not found; install the Debian package `prometheus`",
            );
            None
        }
        Err(error) => panic!("cannot start promtool: {error}"),
    }
}

/// Whether promtool can be run, for tests that must know a check really happened.
pub fn promtool_installed() -> bool {
    Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Feeds `input` to the child's stdin while collecting its stdout and stderr (threads, so neither
/// side can block on a full pipe), waiting at most `timeout` before killing it.
fn run_to_end(
    mut child: Child,
    input: &[u8],
    timeout: Duration,
    what: &str,
) -> (ExitStatus, String, String) {
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // A tool may exit before reading everything; a broken pipe then is its verdict, not ours.
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let read_all = |stream: Option<Box<dyn Read + Send>>| {
        let mut stream = stream.expect("output is piped");
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stream.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = read_all(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let stderr = read_all(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{what}` did not finish within {timeout:?}; killed it");
            }
            Err(error) => panic!("cannot wait for `{what}`: {error}"),
        }
    };
    writer
        .join()
        .expect("the stdin writer thread does not panic");
    let stdout = stdout
        .join()
        .expect("the stdout reader thread does not panic");
    let stderr = stderr
        .join()
        .expect("the stderr reader thread does not panic");
    (status, stdout, stderr)
}

/// A real prometheus-node-exporter started on 127.0.0.1 with a free port, only the textfile
/// collector enabled, stopped (killed and reaped) on drop.
pub struct NodeExporter {
    child: Child,
    port: u16,
    /// node_exporter's stderr (its log) goes to this file, so a chatty exporter never blocks on a
    /// full pipe and the log can be shown when something fails.
    log_path: PathBuf,
    _log_dir: tempfile::TempDir,
}

/// Why a start attempt failed.
enum StartFailure {
    /// Another process took the port between our probe and node_exporter's bind; worth a retry.
    PortTaken,
    Failed(String),
}

impl NodeExporter {
    /// Starts node_exporter reading `textfile_dir` (`--collector.disable-defaults
    /// --collector.textfile --collector.textfile.directory=DIR
    /// --web.listen-address=127.0.0.1:PORT`) and waits until it answers; retries once with another
    /// port if the port was taken meanwhile. Returns None with a printed notice when neither
    /// `prometheus-node-exporter` (Debian) nor `node_exporter` (upstream) is on the PATH.
    ///
    /// Panics with the exporter's log if it exits early or does not answer within 10 s.
    pub fn start(textfile_dir: &Path) -> Option<NodeExporter> {
        let mut last_failure = String::new();
        for attempt in 1..=2 {
            let exporter = Self::spawn(textfile_dir, free_port())?;
            match exporter.wait_until_ready() {
                Ok(exporter) => return Some(exporter),
                Err(StartFailure::PortTaken) => {
                    last_failure = format!(
                        "attempt {attempt}: the port was taken before node_exporter could bind it"
                    );
                }
                Err(StartFailure::Failed(message)) => panic!("{message}"),
            }
        }
        panic!("node_exporter did not start: {last_failure}");
    }

    /// Spawns the exporter, or returns None (after a notice) if it is not installed.
    fn spawn(textfile_dir: &Path, port: u16) -> Option<NodeExporter> {
        let log_dir = tempfile::tempdir().expect("a temporary directory for the node_exporter log");
        let log_path = log_dir.path().join("node_exporter.log");
        let mut not_found = true;
        for program in ["prometheus-node-exporter", "node_exporter"] {
            let log = File::create(&log_path).expect("the node_exporter log file can be created");
            let spawned = Command::new(program)
                .arg("--collector.disable-defaults")
                .arg("--collector.textfile")
                .arg(format!(
                    "--collector.textfile.directory={}",
                    textfile_dir.display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn();
            match spawned {
                Ok(child) => {
                    return Some(NodeExporter {
                        child,
                        port,
                        log_path,
                        _log_dir: log_dir,
                    });
                }
                Err(error) if error.kind() == ErrorKind::NotFound => continue,
                Err(error) => {
                    not_found = false;
                    eprintln!("cannot start {program}: {error}");
                }
            }
        }
        if not_found {
            tool_missing(
                &NODE_EXPORTER_NOTICE,
                "skipping node_exporter checks: prometheus-node-exporter not found; install the Debian package `prometheus-node-exporter`",
            );
            return None;
        }
        panic!("node_exporter is installed but could not be started");
    }

    /// Polls the port every 50 ms until node_exporter accepts a connection, for at most 10 s.
    fn wait_until_ready(mut self) -> Result<NodeExporter, StartFailure> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let polls = (STARTUP_TIMEOUT.as_millis() / STARTUP_POLL.as_millis()) as usize;
        for _ in 0..polls {
            match self.child.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    let log = self.log();
                    return Err(if log.contains("address already in use") {
                        StartFailure::PortTaken
                    } else {
                        StartFailure::Failed(format!(
                            "node_exporter exited with {status} before answering\n--- node_exporter log:\n{log}"
                        ))
                    });
                }
                Err(error) => {
                    return Err(StartFailure::Failed(format!(
                        "cannot check on node_exporter: {error}"
                    )));
                }
            }
            if TcpStream::connect_timeout(&self.address(), STARTUP_POLL).is_ok() {
                return Ok(self);
            }
            if Instant::now() >= deadline {
                break;
            }
            thread::sleep(STARTUP_POLL);
        }
        Err(StartFailure::Failed(format!(
            "node_exporter did not answer on {} within {STARTUP_TIMEOUT:?}\n--- node_exporter log:\n{}",
            self.address(),
            self.log()
        )))
    }

    fn address(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// What node_exporter has logged so far (its stderr), e.g. why it could not read a file:
    /// `level=error ... msg="failed to collect textfile data" file=a.prom err="..."`.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path)
            .unwrap_or_else(|error| format!("(cannot read the log: {error})"))
    }

    /// GET /metrics over plain std::net::TcpStream (HTTP/1.0, read to end, each read bounded by a
    /// 5 s timeout and the whole scrape by 10 s) and return the body.
    ///
    /// Panics with the exporter's log if the request fails, the status is not 200, or the body
    /// is not node_exporter's (another program could have taken the port).
    pub fn scrape(&self) -> String {
        let address = self.address();
        let mut stream = TcpStream::connect_timeout(&address, IO_TIMEOUT)
            .unwrap_or_else(|error| self.fail(&format!("cannot connect to {address}: {error}")));
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("a non-zero timeout");
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .expect("a non-zero timeout");
        // No Accept header: the exporter then answers in text format 0.0.4, uncompressed.
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap_or_else(|error| self.fail(&format!("cannot send the request: {error}")));
        let deadline = Instant::now() + SCRAPE_TIMEOUT;
        let mut response = Vec::new();
        let mut buffer = [0; 64 * 1024];
        loop {
            if Instant::now() > deadline {
                self.fail(&format!("no complete response within {SCRAPE_TIMEOUT:?}"));
            }
            if response.len() > MAX_RESPONSE {
                self.fail(&format!("the response is larger than {MAX_RESPONSE} bytes"));
            }
            match stream.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => response.extend_from_slice(&buffer[..read]),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => self.fail(&format!("cannot read the response: {error}")),
            }
        }
        let response = String::from_utf8(response)
            .unwrap_or_else(|error| self.fail(&format!("the response is not UTF-8: {error}")));
        let Some((head, body)) = response.split_once("\r\n\r\n") else {
            self.fail(&format!("the response has no end of headers:\n{response}"));
        };
        let status = head.lines().next().unwrap_or_default();
        if status.split(' ').nth(1) != Some("200") {
            self.fail(&format!("GET /metrics answered `{status}`:\n{body}"));
        }
        if !body.contains("node_textfile_scrape_error") {
            self.fail(&format!(
                "{address} answered, but not with node_exporter's textfile metrics:\n{body}"
            ));
        }
        body.to_string()
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "scraping node_exporter on {}: {what}\n--- node_exporter log:\n{}",
            self.address(),
            self.log()
        );
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        // Errors only mean it has already exited; either way it is reaped here.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago: bind port 0, read the port the kernel chose, release it.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding 127.0.0.1:0");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// Convenience: writes nothing; given a directory already holding .prom files, starts
/// node_exporter, scrapes, asserts `node_textfile_scrape_error 0`, and returns the scrape body.
/// Returns None if node_exporter is absent.
///
/// Also asserts node_exporter logged no error: it reads a file with duplicate series without a
/// scrape error but logs "was collected before with the same name and label values" and serves
/// only one of them.
pub fn scrape_textfile_dir(dir: &Path) -> Option<String> {
    let exporter = NodeExporter::start(dir)?;
    let body = exporter.scrape();
    let scrape_error = value_of(&body, "node_textfile_scrape_error", &[]);
    let log = exporter.log();
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("level=error"))
        .collect();
    assert!(
        scrape_error == Some(0.0) && errors.is_empty(),
        "node_exporter did not read {} cleanly: node_textfile_scrape_error is {scrape_error:?} (want Some(0.0)), logged errors:\n{}\n--- node_exporter log:\n{log}",
        dir.display(),
        errors.join("\n")
    );
    Some(body)
}

/// The value of the series `name` with exactly `labels` (empty values left out), if present.
pub fn value_of(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Vec<(String, String)> = labels
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(l, v)| (l.to_string(), v.to_string()))
        .collect();
    wanted.sort();
    samples(text)
        .into_iter()
        .find(|(n, l, _)| n == name && *l == wanted)
        .map(|(_, _, value)| value)
}

/// Equal as numbers, except that NaN equals NaN (a gauge may well be NaN).
fn same_number(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// `name{a="1"}` for messages; values shown with Rust escapes so invisible characters show.
fn series_name(name: &str, labels: &[(String, String)]) -> String {
    let labels: Vec<String> = labels.iter().map(|(l, v)| format!("{l}={v:?}")).collect();
    if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    }
}

/// `# HELP` or `# TYPE` lines by metric name, with the rest of the line as written (HELP text
/// keeps its escapes; node_exporter writes the same two escapes back).
fn metadata(text: &str, keyword: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            line.strip_prefix("# ")?
                .strip_prefix(keyword)?
                .strip_prefix(' ')
        })
        .map(|rest| {
            let rest = rest.trim_start_matches([' ', '\t']);
            let (name, text) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
            (
                name.to_string(),
                text.trim_start_matches([' ', '\t']).to_string(),
            )
        })
        .collect()
}

/// Asserts that every sample of `file` is in `scrape` with the same value, compared semantically
/// (labels as sets without empty values, numbers as f64), and that each HELP and TYPE of the file
/// reached the scrape unchanged.
fn assert_file_in_scrape(file: &str, scrape: &str) {
    let file_samples = samples(file);
    assert!(
        !file_samples.is_empty(),
        "the file has no samples, so the scrape would prove nothing:\n{file}"
    );
    let scraped: HashMap<(String, Vec<(String, String)>), f64> = samples(scrape)
        .into_iter()
        .map(|(name, labels, value)| ((name, labels), value))
        .collect();
    let mut problems = Vec::new();
    for (name, labels, value) in file_samples {
        let series = series_name(&name, &labels);
        match scraped.get(&(name, labels)) {
            None => problems.push(format!("`{series}` is missing from the scrape")),
            Some(&got) if !same_number(got, value) => problems.push(format!(
                "`{series}` is {value} in the file but {got} in the scrape"
            )),
            Some(_) => {}
        }
    }
    for keyword in ["HELP", "TYPE"] {
        let scraped = metadata(scrape, keyword);
        for (name, text) in metadata(file, keyword) {
            match scraped.get(&name) {
                Some(got) if *got == text => {}
                got => problems.push(format!(
                    "`# {keyword} {name}` is `{text}` in the file but {got:?} in the scrape"
                )),
            }
        }
    }
    if !problems.is_empty() {
        // The exporter's own go_*, process_* and promhttp_* metrics would only hide the rest.
        let own_metrics = ["go_", "process_", "promhttp_"];
        let scrape_shown: Vec<&str> = scrape
            .lines()
            .filter(|line| {
                let name = line
                    .strip_prefix("# HELP ")
                    .or(line.strip_prefix("# TYPE "))
                    .unwrap_or(line);
                !own_metrics.iter().any(|prefix| name.starts_with(prefix))
            })
            .collect();
        panic!(
            "node_exporter did not serve the file as written:\n  {}\n--- file:\n{file}--- scrape (without node_exporter's own go_, process_, promhttp_ metrics):\n{}",
            problems.join("\n  "),
            scrape_shown.join("\n")
        );
    }
}

/// Names of the entries in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("the directory can be listed")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The files node_exporter read successfully: it serves `node_textfile_mtime_seconds` only for
/// them. Version 1.5.0 labels them with the full path, later ones with the file name alone, so
/// this returns file names.
fn files_read(scrape: &str) -> Vec<String> {
    let mut names: Vec<String> = samples(scrape)
        .into_iter()
        .filter(|(name, _, _)| name == "node_textfile_mtime_seconds")
        .filter_map(|(_, labels, _)| labels.into_iter().find(|(label, _)| label == "file"))
        .map(|(_, file)| {
            Path::new(&file)
                .file_name()
                .map_or(file.clone(), |n| n.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

/// A file a writer following the format could produce: a gauge whose label values need all three
/// escapes, a HELP text with both of its escapes, a histogram, a summary and a counter.
const HAND_WRITTEN: &str = r#"# HELP store_items Items on the shelf, from C:\\store\nby aisle.
# TYPE store_items gauge
store_items{aisle="A \"1\"",path="C:\\tmp",note="two\nlines"} 3
store_items{aisle="B",path="",note="plain"} 4.5
# HELP store_request_duration_seconds Time to serve a request.
# TYPE store_request_duration_seconds histogram
store_request_duration_seconds_bucket{handler="/",le="0.1"} 2
store_request_duration_seconds_bucket{handler="/",le="0.5"} 5
store_request_duration_seconds_bucket{handler="/",le="+Inf"} 6
store_request_duration_seconds_sum{handler="/"} 1.75
store_request_duration_seconds_count{handler="/"} 6
# HELP store_response_size_bytes Size of responses.
# TYPE store_response_size_bytes summary
store_response_size_bytes{quantile="0.5"} 512
store_response_size_bytes{quantile="0.99"} 2048
store_response_size_bytes_sum 10240
store_response_size_bytes_count 12
# HELP store_orders_total Orders taken since the store opened.
# TYPE store_orders_total counter
store_orders_total 1.027e+03
"#;

#[test]
fn node_exporter_reads_hand_written_file() {
    lint::assert_clean(HAND_WRITTEN);
    if let Err(complaint) = promtool_check(HAND_WRITTEN) {
        panic!("{complaint}");
    }
    let dir = tempfile::tempdir().expect("a temporary textfile directory");
    fs::write(dir.path().join("store.prom"), HAND_WRITTEN).expect("the .prom file can be written");
    let Some(scrape) = scrape_textfile_dir(dir.path()) else {
        return;
    };

    // The escapes survive the round trip: node_exporter unescapes, then escapes again.
    let items = [
        ("aisle", "A \"1\""),
        ("path", "C:\\tmp"),
        ("note", "two\nlines"),
    ];
    assert_eq!(
        value_of(&scrape, "store_items", &items),
        Some(3.0),
        "gauge with escaped label values"
    );
    assert_eq!(
        value_of(&scrape, "store_items", &[("aisle", "B"), ("note", "plain")]),
        Some(4.5)
    );
    let bucket = [("handler", "/"), ("le", "+Inf")];
    assert_eq!(
        value_of(&scrape, "store_request_duration_seconds_bucket", &bucket),
        Some(6.0)
    );
    assert_eq!(
        value_of(
            &scrape,
            "store_request_duration_seconds_sum",
            &[("handler", "/")]
        ),
        Some(1.75)
    );
    assert_eq!(
        value_of(
            &scrape,
            "store_response_size_bytes",
            &[("quantile", "0.99")]
        ),
        Some(2048.0)
    );
    assert_eq!(value_of(&scrape, "store_orders_total", &[]), Some(1027.0));
    let help = &metadata(&scrape, "HELP")["store_items"];
    assert_eq!(help, "Items on the shelf, from C:\\\\store\\nby aisle.");
    assert_file_in_scrape(HAND_WRITTEN, &scrape);
}

#[test]
fn node_exporter_rejects_timestamp() {
    let file = "# HELP store_stamped Has a timestamp.\n# TYPE store_stamped gauge\nstore_stamped 1 1700000000000\n";
    let problems = lint::lint(file);
    assert!(
        problems.iter().any(|p| p.contains("has a timestamp")),
        "lint missed the timestamp: {problems:?}"
    );

    let dir = tempfile::tempdir().expect("a temporary textfile directory");
    fs::write(dir.path().join("stamped.prom"), file).expect("the .prom file can be written");
    let Some(exporter) = NodeExporter::start(dir.path()) else {
        return;
    };
    let scrape = exporter.scrape();
    assert_eq!(
        value_of(&scrape, "node_textfile_scrape_error", &[]),
        Some(1.0),
        "node_exporter accepted a timestamp\n--- node_exporter log:\n{}",
        exporter.log()
    );
    assert_eq!(
        value_of(&scrape, "store_stamped", &[]),
        None,
        "the rejected file's sample was served"
    );
    assert!(
        exporter.log().contains("timestamps"),
        "the log does not say why:\n{}",
        exporter.log()
    );
}

/// Files node_exporter refuses whole, each with the problem lint must report: lint is at least as
/// strict as the reader it stands in for.
#[test]
fn node_exporter_rejects_what_lint_rejects() {
    let cases: &[(&str, &str, &str)] = &[
        ("timestamp", "a_ts 1 1700000000000\n", "has a timestamp"),
        (
            "label_escape",
            "a_esc{x=\"tab\\there\"} 1\n",
            "invalid escape `\\t` in the value of label",
        ),
        (
            "help_escape",
            "# HELP a_help tab\\there\na_help 1\n",
            "invalid escape `\\t` in the HELP text",
        ),
        (
            "duplicate_label",
            "a_dup{x=\"1\",x=\"2\"} 1\n",
            "appears twice",
        ),
        (
            "hex",
            "a_hex 0x10\n",
            "is not a number as Prometheus writes it",
        ),
        ("overflow", "a_big 1e309\n", "too large for a 64-bit float"),
        (
            "late_type",
            "a_late 1\n# TYPE a_late gauge\n",
            "TYPE line for `a_late` after its first sample",
        ),
        (
            "second_type",
            "# TYPE a_two gauge\n# TYPE a_two counter\na_two 1\n",
            "second TYPE line",
        ),
        ("crlf", "a_crlf 1\r\n", "line ends with `\\r`"),
        (
            "no_final_newline",
            "a_nonl 1",
            "does not end with a newline",
        ),
        ("unclosed", "a_open{x=\"1\" 1\n", "expected `,` or `}`"),
    ];
    let dir = tempfile::tempdir().expect("a temporary textfile directory");
    // A clean file in the same directory shows that reading succeeds where it should.
    fs::write(
        dir.path().join("control.prom"),
        "# HELP a_ok Fine.\n# TYPE a_ok gauge\na_ok 1\n",
    )
    .expect("writable");
    for (case, text, expected) in cases {
        let problems = lint::lint(text);
        assert!(
            problems.iter().any(|problem| problem.contains(expected)),
            "case {case}: lint should report `{expected}`, reported {problems:?}"
        );
        fs::write(dir.path().join(format!("{case}.prom")), text)
            .expect("the .prom file can be written");
    }
    let Some(exporter) = NodeExporter::start(dir.path()) else {
        return;
    };
    let scrape = exporter.scrape();
    assert_eq!(
        value_of(&scrape, "node_textfile_scrape_error", &[]),
        Some(1.0)
    );
    assert_eq!(
        files_read(&scrape),
        vec!["control.prom".to_string()],
        "node_exporter should read only the control file\n--- node_exporter log:\n{}",
        exporter.log()
    );
}

/// node_exporter reads a file with duplicate series without a scrape error, yet serves only one
/// of them; lint must catch what the scrape error does not.
#[test]
fn node_exporter_loses_duplicates_that_lint_rejects() {
    let file = "# TYPE a_dup gauge\na_dup{x=\"\"} 1\na_dup 2\n";
    assert_eq!(
        lint::lint(file),
        vec!["line 3: duplicate series `a_dup`: same name and labels as line 2".to_string()]
    );
    let dir = tempfile::tempdir().expect("a temporary textfile directory");
    fs::write(dir.path().join("dup.prom"), file).expect("the .prom file can be written");
    let Some(exporter) = NodeExporter::start(dir.path()) else {
        return;
    };
    let scrape = exporter.scrape();
    let served: Vec<f64> = samples(&scrape)
        .into_iter()
        .filter(|(name, _, _)| name == "a_dup")
        .map(|(_, _, v)| v)
        .collect();
    assert!(
        served.len() < 2,
        "node_exporter served both duplicates: {served:?}"
    );
}

/// The scrape is written by client_golang, Prometheus' reference writer; lint must find no
/// fault in it, or lint is wrong.
#[test]
fn lint_accepts_node_exporter_output() {
    let dir = tempfile::tempdir().expect("a temporary textfile directory");
    fs::write(dir.path().join("store.prom"), HAND_WRITTEN).expect("the .prom file can be written");
    let Some(scrape) = scrape_textfile_dir(dir.path()) else {
        return;
    };
    assert!(
        scrape.contains("go_gc_duration_seconds{quantile="),
        "expected the exporter's own summary too"
    );
    lint::assert_clean(&scrape);
}

/// promtool_check must be able to fail, or the checks using it prove nothing.
#[test]
fn promtool_check_reports_problems() {
    if !promtool_installed() {
        let _ = promtool_check("");
        return;
    }
    let complaint = promtool_check("# TYPE a_total counter\na_total 1\n")
        .expect_err("promtool should want a HELP line");
    assert!(
        complaint.contains("no help text"),
        "unexpected complaint:\n{complaint}"
    );
    let complaint = promtool_check("a{ 1\n").expect_err("promtool should reject broken syntax");
    assert!(
        complaint.contains("error while linting"),
        "unexpected complaint:\n{complaint}"
    );
    assert_eq!(promtool_check(""), Ok(()));
}

/// The comparison must see a changed value, a missing series and a changed type.
#[test]
#[should_panic(expected = "node_exporter did not serve the file as written:
  `a{x=\"1\"}` is 1 in the file but 2 in the scrape
  `b` is missing from the scrape
  `# TYPE a` is `gauge` in the file but Some(\"untyped\") in the scrape")]
fn assert_file_in_scrape_reports_differences() {
    let file = "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} NaN\nb 1\n";
    let scrape = "# TYPE a untyped\na{x=\"2\"} NaN\na{x=\"1\"} 2\n";
    assert_file_in_scrape(file, scrape);
}

/// scrape_textfile_dir must fail on what node_exporter only logs, not just on a scrape error.
#[test]
fn scrape_textfile_dir_fails_on_logged_errors() {
    let dir = tempfile::tempdir().expect("a temporary textfile directory");
    fs::write(dir.path().join("dup.prom"), "a_dup 1\na_dup 2\n")
        .expect("the .prom file can be written");
    match std::panic::catch_unwind(|| scrape_textfile_dir(dir.path())) {
        Ok(None) => {} // node_exporter is not installed
        Ok(Some(scrape)) => panic!("scrape_textfile_dir accepted duplicate series:\n{scrape}"),
        Err(payload) => {
            let message = payload.downcast_ref::<String>().map_or("", String::as_str);
            assert!(
                message.contains("was collected before with the same name and label values"),
                "{message}"
            );
        }
    }
}

/// The example rule file, run by the real binary, gives a file node_exporter serves in full.
#[test]
fn run_example_through_node_exporter() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("a temporary textfile directory");
    let output_path = dir.path().join("store.prom");
    let output = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
        .arg("run")
        .arg("--rules")
        .arg(manifest.join("rules/store.yaml"))
        .arg("--input")
        .arg(manifest.join("rules/examples/store.xml"))
        .arg("--output")
        .arg(&output_path)
        .output()
        .expect("xml2prom can be started");
    assert!(
        output.status.success(),
        "xml2prom run exited with {}\n--- stdout:\n{}--- stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // No temporary file may be left next to the output, or node_exporter could read it; the
    // lock file stays, and is not read (it does not end in .prom).
    assert_eq!(
        entries(dir.path()),
        vec![".store.prom.lock".to_string(), "store.prom".to_string()],
        "xml2prom left other files next to its output"
    );
    let text = fs::read_to_string(&output_path).expect("xml2prom wrote the output as UTF-8");
    lint::assert_clean(&text);
    if let Err(complaint) = promtool_check(&text) {
        panic!("{complaint}\n--- file:\n{text}");
    }
    let Some(scrape) = scrape_textfile_dir(dir.path()) else {
        return;
    };
    assert_file_in_scrape(&text, &scrape);
}

/// Many inputs into one textfile directory, with a status file beside them: node_exporter reads
/// all three files in one scrape and serves every series, HELP and TYPE of each as written (the
/// self-metrics and status of the files must not collide with each other).
#[test]
fn run_output_dir_and_status_file_through_node_exporter() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stores = tempfile::tempdir().expect("a directory for the inputs");
    for name in ["paris.xml", "lyon.xml"] {
        fs::copy(
            manifest.join("rules/examples/store.xml"),
            stores.path().join(name),
        )
        .expect("the example store can be copied");
    }
    let dir = tempfile::tempdir().expect("a temporary textfile directory");
    let output = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
        .arg("run")
        .arg("--rules")
        .arg(manifest.join("rules/store.yaml"))
        .arg("--input")
        .arg(stores.path().join("*.xml"))
        .arg("--output-dir")
        .arg(dir.path())
        .arg("--status-file")
        .arg(dir.path().join("xml2prom.prom"))
        .arg("--label")
        .arg("site=eu \"west\"")
        .output()
        .expect("xml2prom can be started");
    assert!(
        output.status.success(),
        "xml2prom run exited with {}\n--- stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        entries(dir.path()),
        [".xml2prom.lock", "lyon.prom", "paris.prom", "xml2prom.prom"],
        "xml2prom left other files next to its outputs"
    );
    let files: Vec<(&str, String)> = ["lyon.prom", "paris.prom", "xml2prom.prom"]
        .into_iter()
        .map(|name| {
            let text = fs::read_to_string(dir.path().join(name)).expect("written as UTF-8");
            (name, text)
        })
        .collect();
    for (name, text) in &files {
        lint::assert_clean(text);
        if let Err(complaint) = promtool_check(text) {
            panic!("{name}: {complaint}\n--- file:\n{text}");
        }
    }
    let Some(scrape) = scrape_textfile_dir(dir.path()) else {
        return;
    };
    for (_, text) in &files {
        assert_file_in_scrape(text, &scrape);
    }
    assert_eq!(
        files_read(&scrape),
        ["lyon.prom", "paris.prom", "xml2prom.prom"]
    );
}
