//! `xml2prom serve` in probe mode: `/probe?target=URL&module=NAME` against a loopback HTTP
//! server of the test that serves two XML documents, a 404, a slow answer and redirects; the
//! modules are the `--rules` files, the targets held to `--probe.allow-target`.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::interop::promtool_check;
use crate::lint;
use crate::loopback::{Loopback, answer_and_close};
use crate::serve::{Served, write};
use crate::support::xml2prom;

const STORE_RULES: &str = "version: 1\nmetrics:\n\
                           - { name: store_rows, help: Rows, type: gauge, value: count(/store/row) }\n";

const BIND_RULES: &str = "version: 1\nmetrics:\n\
                          - { name: bind_queries_total, help: Queries, type: counter, \
                          value: /statistics/server/@queries }\n";

/// The loopback server: each connection one request, answered by path. Stops on drop.
struct Documents {
    server: Loopback,
}

impl Documents {
    fn start() -> Documents {
        let server = Loopback::http(|request, out| {
            let (status, location, body) = match request.path.as_str() {
                "/store.xml" => ("200 OK", None, "<store><row/><row/><row/></store>"),
                "/bind.xml" => (
                    "200 OK",
                    None,
                    "<statistics><server queries=\"42\"/></statistics>",
                ),
                "/broken.xml" => ("200 OK", None, "<store><row>"),
                "/redirect.xml" => ("302 Found", Some("/store.xml"), ""),
                "/escape.xml" => ("302 Found", Some("/secret.xml"), ""),
                "/slow.xml" => {
                    std::thread::sleep(Duration::from_secs(4));
                    ("200 OK", None, "<store/>")
                }
                _ => ("404 Not Found", None, "no such document"),
            };
            let headers: &[(&str, &str)] = match location {
                Some(location) => &[("Location", location)],
                None => &[],
            };
            answer_and_close(out, status, headers, body.as_bytes());
        });
        Documents { server }
    }

    fn url(&self, path: &str) -> String {
        self.server.url("http", path)
    }

    /// The allow-list pattern for this server's documents (not `/secret.xml`).
    fn pattern(&self) -> String {
        format!(
            r"http://127\.0\.0\.1:{}/(store|bind|broken|missing|redirect|escape|slow)\.xml",
            self.server.port()
        )
    }

    fn paths(&self) -> Vec<String> {
        self.server
            .requests()
            .into_iter()
            .map(|request| request.path)
            .collect()
    }
}

/// `text` percent-encoded for a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn probe_path(target: &str, module: Option<&str>) -> String {
    match module {
        Some(module) => format!("/probe?module={module}&target={}", encode(target)),
        None => format!("/probe?target={}", encode(target)),
    }
}

/// The value of the unlabelled sample `name`.
fn value_of(text: &str, name: &str) -> Option<f64> {
    lint::samples(text)
        .into_iter()
        .find(|(n, labels, _)| n == name && labels.is_empty())
        .map(|(_, _, value)| value)
}

/// A probe body: 200, valid for promtool and our checker, with the probe's gauges.
fn assert_probe_body(text: &str, success: bool) {
    lint::assert_clean(text);
    promtool_check(text).unwrap_or_else(|problem| panic!("{problem}\n{text}"));
    assert_eq!(
        value_of(text, "xml2prom_probe_success"),
        Some(f64::from(u8::from(success))),
        "{text}"
    );
    assert!(
        text.contains("# HELP xml2prom_probe_duration_seconds "),
        "{text}"
    );
    assert!(text.contains("# HELP xml2prom_probe_success "), "{text}");
}

fn modules(dir: &Path) {
    write(dir, "store.yaml", STORE_RULES);
    write(dir, "bind.yaml", BIND_RULES);
}

/// `serve` with the modules `store` and `bind`, probing only the documents of `documents`.
fn serve_both_modules(documents: &Documents) -> (tempfile::TempDir, Served) {
    let dir = tempfile::tempdir().expect("tempdir");
    modules(dir.path());
    let pattern = documents.pattern();
    let served = Served::start(
        dir.path(),
        &[
            "--rules",
            "store.yaml",
            "--rules",
            "bind.yaml",
            "--probe.allow-target",
            &pattern,
        ],
    );
    (dir, served)
}

#[test]
fn two_modules_give_their_metrics_and_bad_requests_get_400_or_403() {
    let documents = Documents::start();
    let (_dir, served) = serve_both_modules(&documents);
    let store = served.get(&probe_path(&documents.url("/store.xml"), Some("store")));
    assert_eq!(store.status, 200, "{}", store.text());
    assert_eq!(
        store.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_probe_body(&store.text(), true);
    assert_eq!(value_of(&store.text(), "store_rows"), Some(3.0));
    assert!(
        !store.text().contains("bind_queries_total"),
        "{}",
        store.text()
    );

    let bind = served.get(&probe_path(&documents.url("/bind.xml"), Some("bind")));
    assert_eq!(bind.status, 200);
    assert_probe_body(&bind.text(), true);
    assert_eq!(value_of(&bind.text(), "bind_queries_total"), Some(42.0));
    assert!(!bind.text().contains("store_rows"));

    // A redirect to an allowed URL is followed.
    let redirected = served.get(&probe_path(&documents.url("/redirect.xml"), Some("store")));
    assert_probe_body(&redirected.text(), true);
    assert_eq!(value_of(&redirected.text(), "store_rows"), Some(3.0));

    for (path, expected) in [
        (
            probe_path(&documents.url("/store.xml"), None),
            "the `module` parameter is missing; give one of: store, bind",
        ),
        (
            probe_path(&documents.url("/store.xml"), Some("nope")),
            "unknown module `nope`",
        ),
        (
            "/probe?module=store".to_owned(),
            "the `target` parameter is missing",
        ),
        (
            "/probe?module=store&target=ftp%3A%2F%2Fh%2Fx".to_owned(),
            "is not an http:// or https:// URL",
        ),
    ] {
        let reply = served.get(&path);
        assert_eq!(reply.status, 400, "{path}: {}", reply.text());
        assert!(reply.text().contains(expected), "{path}: {}", reply.text());
    }

    let refused = served.get(&probe_path("http://127.0.0.1:1/store.xml", Some("store")));
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.text().contains("--probe.allow-target"),
        "{}",
        refused.text()
    );
    served.wait_for_log("refused a probe");
    let post = served.request("POST", &probe_path(&documents.url("/store.xml"), None), &[]);
    assert_eq!(post.status, 405);

    // Without --input, /metrics has serve's own metrics only, the probes counted.
    let metrics = served.get("/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    lint::assert_clean(&text);
    promtool_check(&text).unwrap_or_else(|problem| panic!("{problem}\n{text}"));
    assert!(!text.contains("store_rows"), "{text}");
    assert!(
        text.contains("xml2prom_serve_probes_total{module=\"store\",outcome=\"success\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("xml2prom_serve_probes_total{module=\"bind\",outcome=\"success\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("xml2prom_serve_probes_total{module=\"bind\",outcome=\"failure\"} 0\n"),
        "{text}"
    );
    let landing = served.get("/").text();
    assert!(landing.contains("<h2>Module bind</h2>"), "{landing}");
    assert!(
        landing.contains("Inputs: none, only /probe targets."),
        "{landing}"
    );
}

#[test]
fn failed_fetches_and_evaluations_are_200_with_probe_success_0_and_logged() {
    let documents = Documents::start();
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    modules(dir.path());
    let pattern = documents.pattern();
    let unreachable = format!("http://127.0.0.1:{closed}/store.xml");
    let served = Served::start(
        dir.path(),
        &[
            "--rules",
            "store.yaml",
            "--probe.allow-target",
            &pattern,
            "--probe.allow-target",
            &regex_escape(&unreachable),
        ],
    );
    for (target, logged) in [
        (documents.url("/missing.xml"), "answered HTTP 404"),
        (unreachable.clone(), "cannot fetch"),
        (documents.url("/broken.xml"), "not well-formed XML"),
        (
            documents.url("/escape.xml"),
            "which no --probe.allow-target pattern allows",
        ),
    ] {
        let reply = served.get(&probe_path(&target, None));
        assert_eq!(reply.status, 200, "{target}: {}", reply.text());
        assert_probe_body(&reply.text(), false);
        assert!(!reply.text().contains("store_rows"), "{}", reply.text());
        served.wait_for_log_line(&format!("{target}: {logged}"), |line| {
            line.contains("msg=\"probe failed\"") && line.contains(logged)
        });
    }
    // The redirect out of the allow-list was never followed.
    assert!(
        !documents.paths().iter().any(|path| path == "/secret.xml"),
        "{:?}",
        documents.paths()
    );

    // Prometheus's scrape timeout bounds the fetch: 1.5s minus the offset, not --input-timeout.
    let started = Instant::now();
    let slow = served.request(
        "GET",
        &probe_path(&documents.url("/slow.xml"), None),
        &[("X-Prometheus-Scrape-Timeout-Seconds", "1.5")],
    );
    let took = started.elapsed();
    assert_probe_body(&slow.text(), false);
    assert!(took < Duration::from_secs(3), "{took:?}");
    let duration = value_of(&slow.text(), "xml2prom_probe_duration_seconds").expect("duration");
    assert!((0.9..2.5).contains(&duration), "{duration}");
}

/// `text` as a regular expression that matches it literally.
fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '/' | ':' | '_' | '-') {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn one_rule_file_needs_no_module_and_metrics_still_evaluate_the_inputs() {
    let documents = Documents::start();
    let dir = tempfile::tempdir().expect("tempdir");
    modules(dir.path());
    write(dir.path(), "local.xml", "<store><row/></store>");
    let pattern = documents.pattern();
    let served = Served::start(
        dir.path(),
        &[
            "--rules",
            "store.yaml",
            "--input",
            "local.xml",
            "--probe.allow-target",
            &pattern,
            "--label",
            "site=paris",
        ],
    );
    let probed = served.get(&probe_path(&documents.url("/store.xml"), None));
    assert_probe_body(&probed.text(), true);
    assert!(
        probed.text().contains("store_rows{site=\"paris\"} 3\n"),
        "{}",
        probed.text()
    );
    let named = served.get(&probe_path(&documents.url("/store.xml"), Some("store")));
    assert_probe_body(&named.text(), true);
    let metrics = served.get("/metrics").text();
    assert!(
        metrics.contains("store_rows{site=\"paris\"} 1\n"),
        "{metrics}"
    );
    assert!(!metrics.contains("xml2prom_probe_success"), "{metrics}");
}

#[test]
fn probing_is_off_without_an_allow_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    modules(dir.path());
    write(dir.path(), "local.xml", "<store><row/></store>");
    let served = Served::start(
        dir.path(),
        &["--rules", "store.yaml", "--input", "local.xml"],
    );
    let reply = served.get("/probe?target=http%3A%2F%2F127.0.0.1%2Fstore.xml");
    assert_eq!(reply.status, 403);
    assert!(
        reply
            .text()
            .contains("start xml2prom serve with --probe.allow-target"),
        "{}",
        reply.text()
    );
}

#[test]
fn module_names_and_the_flags_are_checked_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    modules(dir.path());
    std::fs::create_dir(dir.path().join("other")).expect("mkdir");
    write(&dir.path().join("other"), "store.yaml", STORE_RULES);
    for (args, expected) in [
        (
            vec![
                "--rules",
                "store.yaml",
                "--rules",
                "other/store.yaml",
                "--probe.allow-target",
                "http://h/.*",
            ],
            "are both the module `store`",
        ),
        (vec!["--rules", "store.yaml"], "give --input"),
        (
            vec![
                "--rules",
                "store.yaml",
                "--rules",
                "bind.yaml",
                "--input",
                "x.xml",
            ],
            "several --rules are /probe modules",
        ),
        (
            vec!["--rules", "store.yaml", "--probe.allow-target", "("],
            "is not a valid regular expression",
        ),
    ] {
        let mut all = vec!["serve"];
        all.extend(&args);
        let outcome = xml2prom(dir.path(), &all);
        assert_eq!(outcome.code, 2, "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(expected),
            "{args:?}: {}",
            outcome.stderr
        );
    }
}

#[test]
fn a_reload_reloads_every_module_and_a_broken_one_keeps_its_rules() {
    let documents = Documents::start();
    let (dir, served) = serve_both_modules(&documents);
    write(
        dir.path(),
        "store.yaml",
        "version: 1\nmetrics:\n- { name: 2bad, help: h, type: gauge, value: '1' }\n",
    );
    write(
        dir.path(),
        "bind.yaml",
        &format!("{BIND_RULES}- {{ name: bind_up, help: Up, type: gauge, value: '1' }}\n"),
    );
    let reloaded = served.request("POST", "/-/reload", &[]);
    assert_eq!(reloaded.status, 500, "{}", reloaded.text());
    assert!(
        reloaded.text().contains("store.yaml"),
        "{}",
        reloaded.text()
    );
    assert!(
        !reloaded.text().contains("bind.yaml"),
        "{}",
        reloaded.text()
    );
    let store = served.get(&probe_path(&documents.url("/store.xml"), Some("store")));
    assert_probe_body(&store.text(), true);
    assert_eq!(value_of(&store.text(), "store_rows"), Some(3.0));
    let bind = served.get(&probe_path(&documents.url("/bind.xml"), Some("bind")));
    assert_probe_body(&bind.text(), true);
    assert_eq!(value_of(&bind.text(), "bind_up"), Some(1.0));
    let metrics = served.get("/metrics").text();
    assert!(
        metrics.contains("\nxml2prom_config_last_reload_successful 0\n"),
        "{metrics}"
    );
}
