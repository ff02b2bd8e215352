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
                    let address = line
                        .strip_prefix("xml2prom: listening on http://")
                        .or_else(|| line.strip_prefix("xml2prom: listening on https://"));
                    if let Some(address) = address {
                        served.address = address.to_owned();
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

/// The text without serve's own counters, which `run` does not write.
fn without_serve_counters(text: &str) -> String {
    text.lines()
        .filter(|line| !line.contains("xml2prom_serve_"))
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
    // The inputs did not change: the same evaluation, byte for byte.
    assert_eq!(unzipped, text);
    let refused = served.request("GET", "/metrics", &[("Accept-Encoding", "gzip;q=0")]);
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.text(), text);

    let head = served.request("HEAD", "/metrics", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(text.len().to_string().as_str())
    );
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

#[test]
fn a_broken_input_gives_500_and_an_unready_exporter_until_it_is_fixed() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "rules.yaml", RULES);
    write(dir.path(), "store.xml", &store(2));
    let served = Served::start(
        dir.path(),
        &["--rules", "rules.yaml", "--input", "store.xml"],
    );
    served.wait_for_readiness(200);
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
    assert!(
        served.log().contains("xml2prom: error: store.xml: "),
        "{}",
        served.log()
    );

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
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "rules.yaml", RULES);
    write(dir.path(), "store.xml", &store(1));
    let served = Served::start(
        dir.path(),
        &["--rules", "rules.yaml", "--input", "store.xml"],
    );
    served.wait_for_readiness(200);
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
    assert!(log.contains("xml2prom: stopping"), "{log}");
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
