//! `run --push` against gateways that misbehave (issue 10, "an honest push"): a loopback HTTP
//! server in the test answers with redirects, hostile or huge error bodies, and a loopback TLS
//! server presents a certificate from a CA made at test time. Each server is a
//! `loopback::Loopback` on 127.0.0.1 that keeps connections alive and ends when the test drops it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::interop::value_of;
use crate::loopback::{Listen, answer, test_pki};
use crate::support::{Outcome, xml2prom, xml2prom_with_env};

const RULES: &str = "version: 1\nmetrics:\n\
                     - { name: store_rows, help: Rows, type: gauge, value: count(/store/row) }\n";

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("rules");
    std::fs::write(
        dir.path().join("store.xml"),
        "<store><row/><row/></store>\n",
    )
    .expect("store");
    dir
}

fn run(dir: &Path, args: &[&str]) -> Outcome {
    run_with_env(dir, args, &[])
}

fn run_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut all = vec![
        "run",
        "--rules",
        "rules.yaml",
        "--input",
        "store.xml",
        "--status-file",
        "status.prom",
    ];
    all.extend_from_slice(args);
    xml2prom_with_env(dir, &all, env)
}

/// The `stage="push"` error count of the status file.
fn push_errors(dir: &Path) -> Option<f64> {
    let status = std::fs::read_to_string(dir.join("status.prom")).expect("status.prom");
    value_of(
        &status,
        "xml2prom_run_errors",
        &[("stage", "push"), ("status_file", "status.prom")],
    )
}

// Issue 10: a 302 turned the PUT into a GET, and the 200 of the page it led to (a proxy's
// login page, the Pushgateway's UI) made a push that pushed nothing count as a success.
#[test]
fn a_redirect_is_a_failed_push_naming_the_location_and_is_not_followed() {
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let server = Listen::new().keep_alive().serve(move |request, out| {
            if request.line.starts_with("PUT /metrics/") {
                answer(out, status, &[("Location", "/login?next=%2Fmetrics")], b"");
            } else {
                answer(out, "200 OK", &[], b"<html>please log in</html>");
            }
        });
        let dir = workspace();
        let url = server.url("http", "");
        let outcome = run(dir.path(), &["--push", &url, "--job", "store"]);
        let code = &status[..3];
        assert_eq!(outcome.code, 1, "{status}: {}", outcome.stderr);
        assert_eq!(
            outcome.stderr,
            format!(
                "xml2prom: error: the Pushgateway at {url}/metrics/job/store answered the push \
                 (job=\"store\") with HTTP {code}, a redirect to `/login?next=%2Fmetrics`; \
                 nothing was pushed: a push does not follow redirects, so give --push the \
                 address that takes the PUT itself (a proxy's login page or a moved \
                 Pushgateway are common causes)\n"
            ),
            "{status}"
        );
        assert_eq!(push_errors(dir.path()), Some(1.0), "{status}");
        let requests = server.requests();
        let lines: Vec<&str> = requests.iter().map(|r| r.line.as_str()).collect();
        assert_eq!(lines, ["PUT /metrics/job/store HTTP/1.1"], "{status}");
    }
}

#[test]
fn a_long_or_strange_location_is_shortened_and_escaped() {
    let long = format!("http://login.example/{}\u{202e}", "a".repeat(5000));
    let location = long.clone();
    let server = Listen::new().keep_alive().serve(move |_, out| {
        answer(out, "302 Found", &[("Location", &location)], b"");
    });
    let dir = workspace();
    let outcome = run(
        dir.path(),
        &["--push", &server.url("http", ""), "--job", "store"],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.len() < 1500, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("a redirect to `http://login.example/aaaa"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("…` (4824 more bytes)"),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains('\u{202e}'), "{}", outcome.stderr);
    assert_eq!(push_errors(dir.path()), Some(1.0));
}

// Issue 10: the gateway's error body went to stderr raw, terminal escapes and newlines included.
#[test]
fn an_error_body_reaches_stderr_escaped_on_one_line() {
    let body = "bad metrics\x1b[2J\x1b]0;owned\x07\r\nxml2prom: fake line\n\tend\u{9b}31m\n";
    let server = Listen::new().keep_alive().serve(move |_, out| {
        answer(out, "400 Bad Request", &[], body.as_bytes());
    });
    let dir = workspace();
    let url = server.url("http", "");
    let outcome = run(dir.path(), &["--push", &url, "--job", "store"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr.lines().count(),
        1,
        "one line only:\n{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains(['\x1b', '\x07', '\r', '\u{9b}']),
        "{:?}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains(
            "with HTTP 400: bad metrics\\u{1b}[2J\\u{1b}]0;owned\\u{7}\\r\\nxml2prom: fake \
             line\\n\\tend\\u{9b}31m;"
        ),
        "{}",
        outcome.stderr
    );
    assert_eq!(push_errors(dir.path()), Some(1.0));
}

#[test]
fn a_huge_error_body_is_cut_at_512_bytes_and_never_read_whole() {
    const SIZE: u64 = 50 << 20;
    let written = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&written);
    let server = Listen::new().keep_alive().serve(move |_, out| {
        let head = format!("HTTP/1.1 500 Internal Server Error\r\nContent-Length: {SIZE}\r\n\r\n");
        if out.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![b'x'; 64 << 10];
        while counter.load(Ordering::SeqCst) < SIZE {
            // The client hangs up once it has what it shows: the write fails and we stop.
            if out.write_all(&chunk).is_err() {
                return;
            }
            counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
    });
    let dir = workspace();
    let start = Instant::now();
    let outcome = run(
        dir.path(),
        &["--push", &server.url("http", ""), "--job", "store"],
    );
    let elapsed = start.elapsed();
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let shown = format!(
        "with HTTP 500: {}… ({} more bytes)\n",
        "x".repeat(512),
        SIZE - 512
    );
    assert!(outcome.stderr.ends_with(&shown), "{}", outcome.stderr);
    assert!(outcome.stderr.len() < 1500, "{}", outcome.stderr.len());
    // Give the server a moment to notice the closed connection, then check it could not
    // deliver the body: socket buffers take a few MB at most.
    std::thread::sleep(Duration::from_millis(200));
    let delivered = written.load(Ordering::SeqCst);
    assert!(delivered < 16 << 20, "the client read {delivered} bytes");
    assert_eq!(push_errors(dir.path()), Some(1.0));
}

// Issue 10: only the roots compiled into the binary were trusted, so a Pushgateway behind a
// private CA failed even with SSL_CERT_FILE set.
#[test]
fn https_trusts_the_ca_of_push_ca_file_and_of_the_system_store() {
    let pki = test_pki();
    let server = Listen::new()
        .tls(Arc::clone(&pki.server))
        .keep_alive()
        .serve(|_, out| {
            answer(out, "200 OK", &[], b"");
        });
    let dir = workspace();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("ca.pem");
    let url = server.url("https", "");
    // An empty certificate directory keeps the machine's store from changing the outcome.
    let empty = tempfile::tempdir().expect("empty dir");
    let empty_dir = empty.path().to_str().expect("UTF-8 temp path");
    let system_without_ca = [("SSL_CERT_FILE", ""), ("SSL_CERT_DIR", empty_dir)];

    let untrusted = run_with_env(
        dir.path(),
        &["--push", &url, "--job", "store"],
        &system_without_ca,
    );
    assert_eq!(untrusted.code, 1, "{}", untrusted.stderr);
    assert!(
        untrusted.stderr.contains(&format!(
            "cannot push to the Pushgateway at {url}/metrics/job/store (job=\"store\"): "
        )) && untrusted.stderr.contains("--push-ca-file"),
        "{}",
        untrusted.stderr
    );
    assert_eq!(push_errors(dir.path()), Some(1.0));
    assert!(server.requests().is_empty(), "{:?}", server.requests());

    let trusted = run_with_env(
        dir.path(),
        &["--push", &url, "--job", "store", "--push-ca-file", "ca.pem"],
        &system_without_ca,
    );
    assert_eq!((trusted.code, trusted.stderr.as_str()), (0, ""));
    assert_eq!(push_errors(dir.path()), Some(0.0));

    // The system store as rustls-native-certs reads it: SSL_CERT_FILE names the bundle.
    let ca_path = dir.path().join("ca.pem");
    let ca_file = ca_path.to_str().expect("UTF-8 temp path");
    let system = run_with_env(
        dir.path(),
        &["--push", &url, "--job", "store"],
        &[("SSL_CERT_FILE", ca_file), ("SSL_CERT_DIR", empty_dir)],
    );
    assert_eq!((system.code, system.stderr.as_str()), (0, ""));

    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for request in &requests {
        assert_eq!(request.line, "PUT /metrics/job/store HTTP/1.1");
        assert!(request.body.contains("store_rows 2\n"), "{}", request.body);
    }
}

#[test]
fn a_bad_push_ca_file_is_a_usage_error_before_anything_runs() {
    let dir = workspace();
    std::fs::write(dir.path().join("empty.pem"), "").expect("empty.pem");
    std::fs::write(
        dir.path().join("key.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("key.pem");
    std::fs::write(
        dir.path().join("broken.pem"),
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .expect("broken.pem");
    for (file, expected) in [
        (
            "missing.pem",
            "--push-ca-file missing.pem: cannot read it: ",
        ),
        (
            "empty.pem",
            "--push-ca-file empty.pem: holds no PEM certificate",
        ),
        (
            "key.pem",
            "--push-ca-file key.pem: holds no PEM certificate",
        ),
        (
            "broken.pem",
            "--push-ca-file broken.pem: certificate 1 is not a valid CA certificate",
        ),
    ] {
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
                "--push",
                "https://127.0.0.1:9",
                "--job",
                "store",
                "--push-ca-file",
                file,
            ],
        );
        assert_eq!(outcome.code, 2, "{file}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(expected),
            "{file}: want `{expected}` in\n{}",
            outcome.stderr
        );
        assert!(!dir.path().join("out.prom").exists(), "{file}");
    }
    // A CA file means nothing over plain HTTP: refused, not ignored.
    std::fs::write(dir.path().join("ca.pem"), test_pki().ca_pem).expect("ca.pem");
    let outcome = xml2prom(
        dir.path(),
        &[
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--push",
            "http://127.0.0.1:9",
            "--job",
            "store",
            "--push-ca-file",
            "ca.pem",
        ],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("--push-ca-file is for an https:// --push"),
        "{}",
        outcome.stderr
    );
    // The flag belongs to --push.
    let outcome = xml2prom(
        dir.path(),
        &[
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "-o",
            "-",
            "--push-ca-file",
            "empty.pem",
        ],
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("--push <URL>"),
        "{}",
        outcome.stderr
    );
}
