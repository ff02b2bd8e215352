//! `xml2prom serve`: the real binary on 127.0.0.1 with port 0 (it prints the port it got),
//! scraped over HTTP with `ureq`. The body must equal what `run -o -` writes (times and serve's
//! own counters aside), pass our lint and promtool, and come gzip-compressed on request; a broken
//! input gives 500 and an unready exporter until it is fixed; 8 concurrent scrapes of a changed
//! input evaluate once; SIGTERM ends it with 0; a real Prometheus scrapes it when installed.
//!
//! Every child is killed by a Drop guard, every wait and request is bounded.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use crate::interop;
use crate::lint;
use crate::support::{self, mask_varying, root};

/// How long the binary may take to print the address it listens on.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on every HTTP request, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for `/-/ready` (the first evaluation) or for an exit.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// A running `xml2prom serve`, killed when dropped.
pub struct Served {
    pub child: Child,
    /// `HOST:PORT` of the first address it listens on.
    pub address: String,
    log: Arc<Mutex<String>>,
}

/// One HTTP response.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }
}

impl Served {
    /// Starts `xml2prom serve ARGS --listen 127.0.0.1:0` in `dir` and waits for its address.
    pub fn start(dir: &Path, args: &[&str]) -> Served {
        Served::start_under(dir, args, &[])
    }

    /// [`Served::start`] as the arguments of `wrapper` (such as `prlimit --nofile=1024`).
    pub fn start_under(dir: &Path, args: &[&str], wrapper: &[&str]) -> Served {
        let mut command = match wrapper.split_first() {
            None => Command::new(env!("CARGO_BIN_EXE_xml2prom")),
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(env!("CARGO_BIN_EXE_xml2prom"));
                command
            }
        };
        let mut child = command
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the xml2prom binary starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (lines, received) = mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.lock().expect("log").push_str(&format!("{line}\n"));
                    let _ = lines.send(line);
                }
            });
        }
        let mut served = Served {
            child,
            address: String::new(),
            log,
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => {
                    if let Some(address) = listening_address(&line) {
                        served.address = address;
                        return served;
                    }
                }
                Err(_) => panic!(
                    "xml2prom serve printed no address within {STARTUP_TIMEOUT:?}; stderr:\n{}",
                    served.log()
                ),
            }
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[])
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        request(method, &self.url(path), headers)
    }

    /// Polls `/-/ready` until it answers `status`.
    pub fn wait_for_readiness(&self, status: u16) -> Reply {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            let reply = self.get("/-/ready");
            if reply.status == status {
                return reply;
            }
            assert!(
                Instant::now() < deadline,
                "/-/ready still answers {} after {WAIT_TIMEOUT:?}: {}\nstderr:\n{}",
                reply.status,
                reply.text(),
                self.log()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits for the process to exit, killing it after [`WAIT_TIMEOUT`]; its exit code.
    fn wait_for_exit(&mut self) -> i32 {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for xml2prom") {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "xml2prom serve did not exit within {WAIT_TIMEOUT:?}; stderr:\n{}",
                self.log()
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Errors only mean it has already exited; either way it is reaped here.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address of a `listening` log line, logfmt or JSON.
pub(crate) fn listening_address(line: &str) -> Option<String> {
    if line.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(line).ok()?;
        return (json["msg"] == "listening")
            .then(|| json["address"].as_str().map(str::to_owned))
            .flatten();
    }
    let (_, fields) = line.split_once(" level=info msg=\"listening\" address=")?;
    fields.split(' ').next().map(str::to_owned)
}

/// Sends a signal with the `kill` program (no unsafe code in the tests).
fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -{name}");
}

/// One bounded HTTP request; any status is a reply, only a transport failure panics.
fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let result = match method {
        "GET" | "HEAD" => {
            let mut builder = if method == "GET" {
                agent.get(url)
            } else {
                agent.head(url)
            };
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            builder.call()
        }
        "POST" => agent.post(url).send_empty(),
        other => panic!("no test uses {other}"),
    };
    let mut response = result.unwrap_or_else(|error| panic!("{method} {url}: {error}"));
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = if method == "HEAD" {
        Vec::new()
    } else {
        response
            .body_mut()
            .read_to_vec()
            .unwrap_or_else(|error| panic!("{method} {url}: reading the body: {error}"))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// The text without serve's own metrics, which `run` does not write: its counters, the reload
/// status, the build facts and the process metrics.
fn without_serve_counters(text: &str) -> String {
    let text: String = text
        .lines()
        .filter(|line| {
            !["xml2prom_serve_", "xml2prom_config_", "xml2prom_build_info"]
                .iter()
                .any(|own| line.contains(own))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    without_process_metrics(&text)
}

/// The text without the `process_*` metrics, which are read at each scrape.
fn without_process_metrics(text: &str) -> String {
    text.lines()
        .filter(|line| {
            let name = line
                .strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
                .unwrap_or(line);
            !name.starts_with("process_")
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The value of the sample `name` (no labels).
fn value_of(text: &str, name: &str) -> Option<f64> {
    lint::samples(text)
        .into_iter()
        .find(|(n, labels, _)| n == name && labels.is_empty())
        .map(|(_, _, value)| value)
}

pub const RULES: &str = "version: 1\nmetrics:\n\
                     - { name: store_rows, help: Rows in the store, type: gauge, \
                     value: count(//row) }\n";

/// A store of `rows` rows.
pub fn store(rows: usize) -> String {
    let mut xml = String::from("<store>\n");
    for i in 0..rows {
        xml.push_str(&format!("  <row id=\"{i}\" kind=\"order\">text</row>\n"));
    }
    xml.push_str("</store>\n");
    xml
}

pub fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write a fixture");
}

#[test]
fn metrics_are_what_run_writes_as_text_or_gzip() {
    let served = Served::start(
        &root(),
        &[
            "--rules",
            "rules/store.yaml",
            "--input",
            "rules/examples/store.xml",
        ],
    );
    served.wait_for_readiness(200);
    let reply = served.get("/metrics");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(reply.header("content-encoding"), None);
    let text = reply.text();
    let run = support::run_example(&["-o", "-"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    pretty_assertions::assert_eq!(
        mask_varying(&without_serve_counters(&text)),
        mask_varying(&run.stdout)
    );
    assert!(text.contains("# TYPE xml2prom_serve_evaluations_total counter\n"));
    assert_exporter_metrics(&text);
    lint::assert_clean(&text);
    interop::promtool_check(&text).unwrap_or_else(|problems| panic!("{problems}\n{text}"));

    let zipped = served.request("GET", "/metrics", &[("Accept-Encoding", "gzip, br")]);
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(zipped.header("vary"), Some("Accept-Encoding"));
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&zipped.body[..])
        .read_to_string(&mut unzipped)
        .expect("a valid gzip body");
    // The inputs did not change: the same evaluation, byte for byte but for the process
    // metrics, which are read at each scrape.
    assert_eq!(
        without_process_metrics(&unzipped),
        without_process_metrics(&text)
    );
    assert_exporter_metrics(&unzipped);
    let refused = served.request("GET", "/metrics", &[("Accept-Encoding", "gzip;q=0")]);
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(
        without_process_metrics(&refused.text()),
        without_process_metrics(&text)
    );

    let head = served.request("HEAD", "/metrics", &[]);
    assert_eq!(head.status, 200);
    assert!(head.header("content-length").is_some());
    // The landing page does not change between requests: HEAD gives GET's length.
    let landing = served.get("/");
    let head = served.request("HEAD", "/", &[]);
    assert_eq!(
        head.header("content-length"),
        Some(landing.body.len().to_string().as_str())
    );
}

/// `xml2prom_build_info` and the `process_*` metrics, with client_golang's HELP and TYPE.
fn assert_exporter_metrics(text: &str) {
    let build_info = text
        .lines()
        .find(|line| line.starts_with("xml2prom_build_info{"))
        .unwrap_or_else(|| panic!("no xml2prom_build_info in\n{text}"));
    let revision = build_info
        .split_once("revision=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(revision, _)| revision)
        .unwrap_or_default();
    assert!(
        revision == "unknown"
            || (revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit())),
        "{build_info}"
    );
    assert!(
        build_info.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")))
            && build_info.contains(",rustversion=\"")
            && build_info.ends_with("} 1"),
        "{build_info}"
    );
    assert!(
        text.contains("# TYPE xml2prom_build_info gauge\n"),
        "{text}"
    );
    if cfg!(target_os = "linux") {
        for (name, help, kind) in [
            (
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                "counter",
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                "gauge",
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                "gauge",
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                "gauge",
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                "gauge",
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                "gauge",
            ),
        ] {
            assert!(
                text.contains(&format!(
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} "
                )),
                "{name}:\n{text}"
            );
            // An idle process may not have used a whole clock tick of CPU yet.
            let least = if kind == "counter" { 0.0 } else { 1.0 };
            assert!(
                value_of(text, name).is_some_and(|v| v >= least),
                "{name}:\n{text}"
            );
        }
    }
}

#[test]
fn health_readiness_landing_page_and_other_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = dir.path().join("a&<b>");
    std::fs::create_dir(&inputs).expect("a directory with HTML in its name");
    write(dir.path(), "rules.yaml", RULES);
    write(&inputs, "store.xml", &store(3));
    let served = Served::start(
        dir.path(),
        &["--rules", "rules.yaml", "--input", "a&<b>/*.xml"],
    );
    let healthy = served.get("/-/healthy");
    assert_eq!(
        (healthy.status, healthy.text().as_str()),
        (200, "xml2prom is healthy.\n")
    );
    let ready = served.wait_for_readiness(200);
    assert_eq!(ready.text(), "xml2prom is ready.\n");
    let landing = served.get("/");
    assert_eq!(landing.status, 200);
    assert_eq!(
        landing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = landing.text();
    for expected in [
        "<a href=\"metrics\">Metrics</a>",
        "Inputs: a&amp;&lt;b&gt;/*.xml.",
        "<tr><td>metrics[0]</td><td>store_rows</td><td>gauge</td><td>streaming engine</td></tr>",
    ] {
        assert!(page.contains(expected), "{expected} is not in\n{page}");
    }
    assert!(!page.contains("a&<b>"), "{page}");
    let missing = served.get("/metrics/extra");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text(), "/metrics/extra is not here; try /metrics\n");
    let post = served.request("POST", "/metrics", &[]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let metrics = served.get("/metrics?unused=1");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text().contains("\nstore_rows 3\n"),
        "{}",
        metrics.text()
    );
}

/// `serve` of `RULES` on `store.xml` with `rows` rows, in a new directory, once it is ready.
fn serve_store(rows: usize) -> (tempfile::TempDir, Served) {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "rules.yaml", RULES);
    write(dir.path(), "store.xml", &store(rows));
    let served = Served::start(
        dir.path(),
        &["--rules", "rules.yaml", "--input", "store.xml"],
    );
    served.wait_for_readiness(200);
    (dir, served)
}

#[test]
fn a_broken_input_gives_500_and_an_unready_exporter_until_it_is_fixed() {
    let (dir, served) = serve_store(2);
    assert_eq!(served.get("/metrics").status, 200);

    write(dir.path(), "store.xml", "<store><row/>");
    let broken = served.get("/metrics");
    assert_eq!(broken.status, 500);
    assert_eq!(
        broken.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let message = broken.text();
    assert!(message.starts_with("store.xml: "), "{message}");
    assert!(!message.contains("store_rows"), "a partial body: {message}");
    let ready = served.get("/-/ready");
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.text(),
        format!("xml2prom is not ready: the last evaluation failed: {message}")
    );
    served.wait_for_log(" level=error msg=\"store.xml: ");

    std::fs::remove_file(dir.path().join("store.xml")).expect("remove the input");
    let missing = served.get("/metrics");
    assert_eq!(missing.status, 500);
    assert!(
        missing.text().starts_with("store.xml: "),
        "{}",
        missing.text()
    );

    write(dir.path(), "store.xml", &store(4));
    let fixed = served.get("/metrics");
    assert_eq!(fixed.status, 200, "{}", fixed.text());
    let text = fixed.text();
    assert_eq!(value_of(&text, "store_rows"), Some(4.0));
    // The first evaluation at start, then the broken, missing and fixed inputs.
    assert_eq!(
        value_of(&text, "xml2prom_serve_evaluations_total"),
        Some(4.0)
    );
    assert_eq!(
        value_of(&text, "xml2prom_serve_evaluation_failures_total"),
        Some(2.0)
    );
    assert_eq!(served.get("/-/ready").status, 200);
}

#[test]
fn concurrent_scrapes_of_a_changed_input_share_one_evaluation() {
    let (dir, served) = serve_store(1);
    // Large enough that the evaluation is still running when the other scrapes arrive.
    let rows = 100_000;
    write(dir.path(), "store.xml", &store(rows));
    let scrapers = 8;
    let start = Barrier::new(scrapers);
    let url = served.url("/metrics");
    let bodies: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..scrapers)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    let reply = request("GET", &url, &[]);
                    assert_eq!(reply.status, 200, "{}", reply.text());
                    reply.text()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a scrape"))
            .collect()
    });
    // The process metrics are read at each scrape; the rest is one evaluation.
    let bodies: Vec<String> = bodies.iter().map(|b| without_process_metrics(b)).collect();
    assert!(bodies.iter().all(|b| *b == bodies[0]), "the scrapes differ");
    assert_eq!(value_of(&bodies[0], "store_rows"), Some(rows as f64));
    // One evaluation at start, one for the changed input.
    assert_eq!(
        value_of(&bodies[0], "xml2prom_serve_evaluations_total"),
        Some(2.0),
        "stderr:\n{}",
        served.log()
    );
}

/// SIGTERM while a scrape waits for its evaluation: the scrape still gets its whole body, then
/// the process exits 0. The input is a FIFO, so the test knows the evaluation is under way when
/// its own open for writing returns (it blocks until xml2prom opens the FIFO to read it).
#[cfg(unix)]
#[test]
fn sigterm_lets_the_scrape_in_flight_finish_then_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "rules.yaml",
        "version: 1\nlabels: { path: '{{ input.path }}' }\nmetrics:\n\
         - { name: store_rows, help: Rows in the store, type: gauge, value: count(//row) }\n",
    );
    std::fs::create_dir(dir.path().join("stores")).expect("stores");
    write(&dir.path().join("stores"), "a.xml", &store(1));
    let mut served = Served::start(
        dir.path(),
        &["--rules", "rules.yaml", "--input", "stores/*.xml"],
    );
    served.wait_for_readiness(200);
    let fifo = dir.path().join("stores/b.xml");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|status| status.success()) {
        eprintln!("skipping the in-flight SIGTERM test: mkfifo is not available");
        return;
    }
    let url = served.url("/metrics");
    let scrape = std::thread::spawn(move || request("GET", &url, &[]));
    let (opened, writer) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = opened.send(std::fs::File::options().write(true).open(fifo));
    });
    let mut pipe = writer
        .recv_timeout(WAIT_TIMEOUT)
        .unwrap_or_else(|_| panic!("xml2prom did not open the FIFO within {WAIT_TIMEOUT:?}"))
        .expect("open the FIFO for writing");
    let pid = served.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    // Let the exporter see the signal before the evaluation ends.
    std::thread::sleep(Duration::from_millis(300));
    std::io::Write::write_all(&mut pipe, store(2).as_bytes()).expect("write the FIFO");
    drop(pipe);
    let reply = scrape.join().expect("the scrape");
    assert_eq!(
        reply.status,
        200,
        "{}\nstderr:\n{}",
        reply.text(),
        served.log()
    );
    let text = reply.text();
    assert!(
        text.contains("store_rows{path=\"stores/b.xml\"} 2\n"),
        "{text}"
    );
    lint::assert_clean(&text);
    assert_eq!(served.wait_for_exit(), 0, "stderr:\n{}", served.log());
    let log = served.log();
    assert!(
        log.contains(" level=info msg=\"stopping; requests in flight may finish\" grace=10s\n"),
        "{log}"
    );
    assert!(!log.contains("unfinished"), "{log}");
}

#[test]
fn vars_labels_and_no_self_metrics_work_as_for_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "rules.yaml",
        "version: 1\nlabels: { region: '{{ vars.region }}' }\nmetrics:\n\
         - { name: store_rows, help: Rows in the store, type: gauge, value: count(//row) }\n",
    );
    write(dir.path(), "store.xml", &store(3));
    let args = [
        "--rules",
        "rules.yaml",
        "--input",
        "store.xml",
        "--var",
        "region=eu",
        "--label",
        "site=paris",
        "--no-self-metrics",
    ];
    let served = Served::start(dir.path(), &args);
    served.wait_for_readiness(200);
    let text = served.get("/metrics").text();
    assert_eq!(
        text,
        "# HELP store_rows Rows in the store\n# TYPE store_rows gauge\n\
         store_rows{region=\"eu\",site=\"paris\"} 3\n"
    );
    let run = support::xml2prom(dir.path(), &[&["run"][..], &args, &["-o", "-"]].concat());
    assert_eq!(run.stdout, text);

    let clash = support::xml2prom(
        dir.path(),
        &[
            "serve",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--var",
            "region=eu",
            "--label",
            "region=x",
        ],
    );
    assert_eq!(clash.code, 2, "{}", clash.stderr);
    assert!(
        clash
            .stderr
            .contains("--label region: the rule file's top-level `labels:` sets it too"),
        "{}",
        clash.stderr
    );
}

#[test]
fn a_broken_rule_file_fails_at_start_as_run_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "rules.yaml",
        "version: 1\nmetrics:\n- { name: 2bad, help: h, type: gauge, value: '1' }\n",
    );
    write(dir.path(), "store.xml", &store(1));
    let args = ["--rules", "rules.yaml", "--input", "store.xml"];
    let serve = support::xml2prom(
        dir.path(),
        &[&["serve"][..], &args, &["--listen", "127.0.0.1:0"]].concat(),
    );
    let run = support::xml2prom(dir.path(), &[&["run"][..], &args, &["-o", "-"]].concat());
    assert_eq!((serve.code, run.code), (2, 2));
    assert!(serve.stderr.contains("2bad"), "{}", serve.stderr);
    assert_eq!(serve.stderr, run.stderr);
    assert_eq!(serve.stdout, "");
}

#[test]
fn an_address_in_use_is_refused_with_exit_code_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "rules.yaml", RULES);
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a port");
    let address = taken.local_addr().expect("an address").to_string();
    let outcome = support::xml2prom(
        dir.path(),
        &[
            "serve",
            "--rules",
            "rules.yaml",
            "--input",
            "x.xml",
            "--listen",
            &address,
        ],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .starts_with(&format!("xml2prom: error: cannot listen on {address}: ")),
        "{}",
        outcome.stderr
    );
}

const BROKEN_RULES: &str =
    "version: 1\nmetrics:\n- { name: 2bad, help: h, type: gauge, value: '1' }\n";

/// [`RULES`] and one more metric, `store_cells`.
fn more_rules() -> String {
    format!(
        "{RULES}- {{ name: store_cells, help: Cells in the store, type: gauge, \
         value: count(//row/@id) }}\n"
    )
}

impl Served {
    /// Polls `/metrics` until its body satisfies `done`; that body.
    fn wait_for_metrics(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            let reply = self.get("/metrics");
            let text = reply.text();
            if reply.status == 200 && done(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {WAIT_TIMEOUT:?}: {}\n{text}\nstderr:\n{}",
                reply.status,
                self.log()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until the log contains `needle` (stderr is read on another thread, so a line
    /// written before an answer may reach the log after it).
    pub(crate) fn wait_for_log(&self, needle: &str) {
        self.wait_for_log_line(needle, |line| line.contains(needle));
    }

    /// Waits until a line of the log satisfies `found`; `what` names it in the failure.
    pub(crate) fn wait_for_log_line(&self, what: &str, found: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        while !self.log().lines().any(&found) {
            assert!(
                Instant::now() < deadline,
                "no log line with {what} within {WAIT_TIMEOUT:?}; stderr:\n{}",
                self.log()
            );
            std::thread::sleep(POLL);
        }
    }
}

#[test]
fn sighup_reloads_a_good_rule_file_and_keeps_the_old_rules_for_a_broken_one() {
    let (dir, served) = serve_store(3);
    let before = served.get("/metrics").text();
    assert_eq!(value_of(&before, "store_cells"), None, "{before}");
    assert_eq!(
        value_of(&before, "xml2prom_config_last_reload_successful"),
        Some(1.0)
    );
    let loaded_at = value_of(
        &before,
        "xml2prom_config_last_reload_success_timestamp_seconds",
    )
    .expect("the time of the first load");

    write(dir.path(), "rules.yaml", &more_rules());
    signal(&served.child, "HUP");
    // The input did not change: only the reload makes store_cells appear.
    let text = served.wait_for_metrics("store_cells after SIGHUP", |text| {
        value_of(text, "store_cells") == Some(3.0)
    });
    assert_eq!(value_of(&text, "store_rows"), Some(3.0));
    assert_eq!(
        value_of(&text, "xml2prom_config_last_reload_successful"),
        Some(1.0)
    );
    let reloaded_at = value_of(
        &text,
        "xml2prom_config_last_reload_success_timestamp_seconds",
    )
    .expect("the time of the reload");
    assert!(reloaded_at >= loaded_at, "{loaded_at} then {reloaded_at}");
    served.wait_for_log_line("the SIGHUP reload", |line| {
        line.ends_with(" level=info msg=\"reloaded the rule file\" file=rules.yaml trigger=SIGHUP")
    });
    assert!(served.get("/").text().contains("<td>store_cells</td>"));

    write(dir.path(), "rules.yaml", BROKEN_RULES);
    signal(&served.child, "HUP");
    served.wait_for_log(
        " level=error msg=\"the rule file has errors; the rules loaded before keep \
                         running until it is fixed and reloaded again\" file=rules.yaml \
                         trigger=SIGHUP err=\"rules.yaml:3:11: error[bad-value]: ",
    );
    let text = served.wait_for_metrics("the failed reload in /metrics", |text| {
        value_of(text, "xml2prom_config_last_reload_successful") == Some(0.0)
    });
    // The old rules keep answering.
    assert_eq!(value_of(&text, "store_cells"), Some(3.0), "{text}");
    assert_eq!(
        value_of(
            &text,
            "xml2prom_config_last_reload_success_timestamp_seconds"
        ),
        Some(reloaded_at)
    );
    lint::assert_clean(&text);
    interop::promtool_check(&text).unwrap_or_else(|problems| panic!("{problems}\n{text}"));
    assert_eq!(served.get("/-/ready").status, 200);
}

#[test]
fn post_reload_answers_200_or_500_with_the_diagnostics_and_get_is_405() {
    let (dir, served) = serve_store(2);
    assert_eq!(
        value_of(&served.get("/metrics").text(), "store_cells"),
        None
    );

    let get = served.get("/-/reload");
    assert_eq!((get.status, get.header("allow")), (405, Some("POST")));

    write(dir.path(), "rules.yaml", BROKEN_RULES);
    let broken = served.request("POST", "/-/reload", &[]);
    assert_eq!(broken.status, 500);
    assert_eq!(
        broken.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let diagnostics = broken.text();
    assert!(
        diagnostics.starts_with("rules.yaml:3:11: error[bad-value]: metrics[0].name"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("`2bad` is not a valid metric name"),
        "{diagnostics}"
    );
    let text = served.get("/metrics").text();
    assert_eq!(value_of(&text, "store_rows"), Some(2.0), "{text}");
    assert_eq!(
        value_of(&text, "xml2prom_config_last_reload_successful"),
        Some(0.0)
    );
    assert!(
        served
            .log()
            .contains(" trigger=\"POST /-/reload\" err=\"rules.yaml:3:11: "),
        "{}",
        served.log()
    );

    write(dir.path(), "rules.yaml", &more_rules());
    let good = served.request("POST", "/-/reload", &[]);
    assert_eq!(
        (good.status, good.text().as_str()),
        (200, "xml2prom reloaded the rule file.\n")
    );
    // No exposition made before the reload is served after its answer.
    let text = served.get("/metrics").text();
    assert_eq!(value_of(&text, "store_cells"), Some(2.0), "{text}");
    assert_eq!(
        value_of(&text, "xml2prom_config_last_reload_successful"),
        Some(1.0)
    );
}

#[test]
fn log_format_json_and_level_debug_for_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "rules.yaml", RULES);
    write(dir.path(), "store.xml", &store(2));
    let served = Served::start(
        dir.path(),
        &[
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--log.format",
            "json",
            "--log.level",
            "debug",
        ],
    );
    served.wait_for_readiness(200);
    served.wait_for_log("\"msg\":\"evaluated the rules\"");
    write(dir.path(), "store.xml", "<store><row/>");
    assert_eq!(served.get("/metrics").status, 500);
    served.wait_for_log("\"level\":\"error\"");
    for line in served.log().lines() {
        let json: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let time = json["time"].as_str().unwrap_or_default();
        assert!(support::is_log_time(time), "{line}");
        assert!(json["msg"].is_string(), "{line}");
    }
    let first: serde_json::Value =
        serde_json::from_str(served.log().lines().next().unwrap_or_default()).expect("JSON");
    assert_eq!(
        (&first["level"], &first["msg"]),
        (&serde_json::json!("info"), &serde_json::json!("listening"))
    );
    assert_eq!(first["address"], served.address);
    let debug = served
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|json| json["level"] == "debug")
        .expect("a debug line");
    assert_eq!(
        (&debug["msg"], &debug["evaluation"], &debug["inputs"]),
        (
            &serde_json::json!("evaluated the rules"),
            &serde_json::json!("1"),
            &serde_json::json!("1")
        ),
        "{debug}"
    );
    let error = served
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|json| json["level"] == "error")
        .expect("an error line");
    assert!(
        error["msg"]
            .as_str()
            .is_some_and(|msg| msg.starts_with("store.xml: not well-formed XML")),
        "{error}"
    );
}

#[test]
fn log_level_error_hides_the_info_lines_of_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "rules.yaml", RULES);
    write(dir.path(), "store.xml", &store(1));
    // No `listening` line at this level, so the test picks the port.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
        .args(["serve", "--rules", "rules.yaml", "--input", "store.xml"])
        .args(["--listen", &address, "--log.level", "error"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the xml2prom binary starts");
    let deadline = Instant::now() + WAIT_TIMEOUT;
    let url = format!("http://{address}/-/ready");
    loop {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        if agent.get(&url).call().is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "serve did not get ready");
        std::thread::sleep(POLL);
    }
    write(dir.path(), "store.xml", "<store>");
    assert_eq!(
        request("GET", &format!("http://{address}/metrics"), &[]).status,
        500
    );
    signal(&child, "TERM");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("it ends");
    assert_eq!(status.code(), Some(0), "{stderr}");
    let lines = support::logfmt_lines(&stderr);
    assert_eq!(lines.len(), 1, "only the failed evaluation:\n{stderr}");
    assert!(
        lines[0].starts_with("level=error msg=\"store.xml: "),
        "{stderr}"
    );
}

/// A Prometheus server, killed when dropped.
struct Prometheus {
    child: Child,
    _data: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_scrapes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "rules.yaml", RULES);
    write(dir.path(), "store.xml", &store(5));
    let served = Served::start(
        dir.path(),
        &["--rules", "rules.yaml", "--input", "store.xml"],
    );
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let data = tempfile::tempdir().expect("tempdir");
    let config = data.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{ scrape_interval: 1s, scrape_timeout: 1s }}\n\
             scrape_configs:\n  - job_name: xml2prom\n    static_configs:\n      \
             - targets: ['{}']\n",
            served.address
        ),
    )
    .expect("prometheus.yml");
    let spawned = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            data.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var_os("XML2PROM_REQUIRE_TOOLS").is_some_and(|v| !v.is_empty()) {
                panic!("prometheus not found (XML2PROM_REQUIRE_TOOLS is set, so this is an error)");
            }
            eprintln!(
                "skipping the Prometheus scrape: prometheus not found; install the Debian package `prometheus`"
            );
            return;
        }
        Err(error) => panic!("cannot start prometheus: {error}"),
    };
    let _prometheus = Prometheus { child, _data: data };
    let query =
        format!("http://127.0.0.1:{port}/api/v1/query?query=store_rows%7Bjob%3D%22xml2prom%22%7D");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    loop {
        // Connection refused while Prometheus starts: try again.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        if let Ok(mut response) = agent.get(&query).call() {
            last = response.body_mut().read_to_string().unwrap_or_default();
            let json: serde_json::Value = serde_json::from_str(&last).unwrap_or_default();
            let value = json["data"]["result"][0]["value"][1]
                .as_str()
                .map(str::to_owned);
            if value.as_deref() == Some("5") {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not get store_rows 5 from xml2prom within 60s; last answer: \
             {last}\nxml2prom stderr:\n{}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
