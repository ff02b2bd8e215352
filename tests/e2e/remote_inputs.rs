//! Inputs that are not files: `--input -` (standard input), `http://` and `https://` URLs served
//! by a loopback server started in the test, and `exec:` commands. Each failure must name the
//! input without its credentials, exit 1 and keep the previous output.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::loopback::{Listen, Loopback, answer_and_close};
use crate::support::{Outcome, xml2prom};

const RULES: &str = "version: 1\nmetrics:\n\
                     - { name: store_rows, help: Rows, type: gauge, value: count(/store/row) }\n";

const STORE: &str = "<store><row/><row/><row/></store>";

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("rules");
    dir
}

fn run(dir: &Path, args: &[&str]) -> Outcome {
    let mut all = vec!["run", "--rules", "rules.yaml"];
    all.extend_from_slice(args);
    xml2prom(dir, &all)
}

/// Runs `xml2prom ARGS` with `stdin` on its standard input.
fn run_with_stdin(dir: &Path, args: &[&str], stdin: &[u8]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the xml2prom binary starts");
    let mut input = child.stdin.take().expect("piped stdin");
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let output = child.wait_with_output().expect("xml2prom runs");
    let _ = writer.join();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8"),
    }
}

/// A previous output, to check that a failure keeps it.
const PREVIOUS: &str = "# previous\n";

fn seeded(dir: &Path) -> std::path::PathBuf {
    let output = dir.join("out.prom");
    std::fs::write(&output, PREVIOUS).expect("seed");
    output
}

fn assert_failed_keeping(outcome: &Outcome, output: &Path, expected: &str) {
    assert_eq!(outcome.code, 1, "{outcome:?}");
    assert!(outcome.stderr.contains(expected), "{outcome:?}");
    assert_eq!(std::fs::read_to_string(output).expect("kept"), PREVIOUS);
}

#[test]
fn standard_input_is_read_once_and_named_dash() {
    let dir = workspace();
    let outcome = run_with_stdin(
        dir.path(),
        &[
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "-",
            "-o",
            "-",
            "--status-file",
            "status.prom",
        ],
        STORE.as_bytes(),
    );
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert!(
        outcome.stdout.contains("\nstore_rows 3\n"),
        "{}",
        outcome.stdout
    );
    let status = std::fs::read_to_string(dir.path().join("status.prom")).expect("status");
    assert!(
        status.contains("xml2prom_input_success{input=\"-\",status_file=\"status.prom\"} 1"),
        "{status}"
    );
    // Not well-formed: the error names the input `-`.
    let outcome = run_with_stdin(
        dir.path(),
        &["run", "--rules", "rules.yaml", "--input", "-", "-o", "-"],
        b"<store>",
    );
    assert_eq!(outcome.code, 1, "{outcome:?}");
    assert!(
        outcome.stderr.starts_with("xml2prom: error: -: "),
        "{}",
        outcome.stderr
    );
}

#[test]
fn standard_input_is_refused_where_it_would_be_read_again() {
    let dir = workspace();
    for (args, expected) in [
        (
            &["run", "--input", "-", "--input", "-", "-o", "-"][..],
            "is given twice",
        ),
        (
            &["run", "--input", "-", "--every", "5s", "-o", "-"][..],
            "every run of --every",
        ),
        (&["serve", "--input", "-"][..], "on every scrape"),
    ] {
        let mut all = args.to_vec();
        all.extend(["--rules", "rules.yaml"]);
        let outcome = xml2prom(dir.path(), &all);
        assert_eq!(outcome.code, 2, "{args:?}: {outcome:?}");
        assert!(
            outcome.stderr.contains(expected),
            "{args:?}: {}",
            outcome.stderr
        );
    }
}

#[test]
fn a_url_is_fetched_and_named_without_its_secrets() {
    let server = Loopback::http(|request, out| {
        assert!(request.header("accept").is_some_and(|a| a.contains("xml")));
        answer_and_close(
            out,
            "200 OK",
            &[("Content-Type", "application/xml")],
            STORE.as_bytes(),
        );
    });
    let dir = workspace();
    let url = server.url("http", "/xml/v3/server?api_key=hunter2&format=xml");
    let outcome = run(dir.path(), &["--input", &url, "-o", "-"]);
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert!(
        outcome.stdout.contains("\nstore_rows 3\n"),
        "{}",
        outcome.stdout
    );
    let shown = server.url("http", "/xml/v3/server?api_key=***&format=xml");
    assert!(
        outcome.stdout.contains(&format!(
            "xml2prom_input_size_bytes{{input=\"{shown}\"}} 33"
        )),
        "{}",
        outcome.stdout
    );
    assert!(!outcome.stdout.contains("hunter2"));
    assert_eq!(
        server.requests()[0].path,
        "/xml/v3/server?api_key=hunter2&format=xml"
    );
    // --output-dir names the file after the last segment of the URL's path.
    std::fs::create_dir(dir.path().join("out")).expect("out");
    let outcome = run(dir.path(), &["--input", &url, "--output-dir", "out"]);
    assert_eq!(outcome.code, 0, "{outcome:?}");
    let written = std::fs::read_to_string(dir.path().join("out/server.prom")).expect("server");
    assert!(written.contains("\nstore_rows 3\n"), "{written}");
}

#[test]
fn an_error_status_names_the_url_and_keeps_the_previous_output() {
    let server =
        Loopback::http(|_, out| answer_and_close(out, "404 Not Found", &[], b"no such page"));
    let dir = workspace();
    let output = seeded(dir.path());
    let url = server.url("http", "/missing?token=hunter2");
    let outcome = run(
        dir.path(),
        &[
            "--input",
            &url,
            "-o",
            "out.prom",
            "--status-file",
            "status.prom",
        ],
    );
    let shown = server.url("http", "/missing?token=***");
    let status = std::fs::read_to_string(dir.path().join("status.prom")).expect("status");
    assert!(
        status.contains("xml2prom_run_errors{stage=\"read\",status_file=\"status.prom\"} 1"),
        "{status}"
    );
    assert!(
        status.contains(&format!("xml2prom_input_success{{input=\"{shown}\",")),
        "{status}"
    );
    assert!(!status.contains("hunter2"), "{status}");
    assert_failed_keeping(
        &outcome,
        &output,
        &format!("xml2prom: error: {shown} answered HTTP 404: no such page; check the URL's path"),
    );
    assert!(!outcome.stderr.contains("hunter2"));
}

#[test]
fn a_server_that_does_not_answer_in_time_fails_within_the_timeout() {
    let server = Loopback::http(|_, out| {
        std::thread::sleep(Duration::from_secs(6));
        answer_and_close(out, "200 OK", &[], STORE.as_bytes());
    });
    let dir = workspace();
    let output = seeded(dir.path());
    let url = server.url("http", "/slow");
    let started = Instant::now();
    let outcome = run(
        dir.path(),
        &["--input", &url, "--input-timeout", "1s", "-o", "out.prom"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_failed_keeping(&outcome, &output, "--input-timeout (now 1s)");
    // The head in time, the body too slow: the timeout covers the whole fetch.
    let server = Loopback::http(|_, out| {
        let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<store>");
        let _ = out.flush();
        std::thread::sleep(Duration::from_secs(6));
    });
    let url = server.url("http", "/trickle");
    let started = Instant::now();
    let outcome = run(
        dir.path(),
        &["--input", &url, "--input-timeout", "1s", "-o", "out.prom"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_failed_keeping(&outcome, &output, &format!("cannot fetch {url}: "));
}

#[test]
fn a_document_over_the_size_limit_is_refused_with_or_without_its_length() {
    const LIMIT: usize = 100_000;
    let dir = workspace();
    let output = seeded(dir.path());
    let huge = format!("<store>{}</store>", "<row/>".repeat(LIMIT));
    for announced in [true, false] {
        let huge = huge.clone();
        let server = Loopback::http(move |_, out| {
            if announced {
                answer_and_close(out, "200 OK", &[], huge.as_bytes());
            } else {
                // No Content-Length: the body ends when the connection closes.
                let _ = out.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                let _ = out.write_all(huge.as_bytes());
            }
        });
        let url = server.url("http", "/huge.xml");
        let limit = LIMIT.to_string();
        let outcome = run(
            dir.path(),
            &[
                "--input",
                &url,
                "--max-input-bytes",
                &limit,
                "-o",
                "out.prom",
            ],
        );
        assert_failed_keeping(
            &outcome,
            &output,
            &format!("{url}: the input is larger than the limit of {LIMIT} bytes"),
        );
    }
}

#[test]
fn redirects_are_followed_to_http_or_https_but_never_down_to_http() {
    let server = Loopback::http(|request, out| match request.path.as_str() {
        "/old" => answer_and_close(out, "302 Found", &[("Location", "/new")], b""),
        "/new" => answer_and_close(out, "200 OK", &[], STORE.as_bytes()),
        _ => answer_and_close(out, "404 Not Found", &[], b""),
    });
    let dir = workspace();
    let outcome = run(
        dir.path(),
        &["--input", &server.url("http", "/old"), "-o", "-"],
    );
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert!(
        outcome.stdout.contains("\nstore_rows 3\n"),
        "{}",
        outcome.stdout
    );
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/old", "/new"]);

    let pki = crate::loopback::test_pki();
    let target = server.url("http", "/new");
    let secure = Loopback::https(Arc::clone(&pki.server), move |_, out| {
        answer_and_close(out, "301 Moved Permanently", &[("Location", &target)], b"");
    });
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("CA");
    std::fs::write(
        dir.path().join("http.yaml"),
        "tls_config: { ca_file: ca.pem }\n",
    )
    .expect("config");
    let output = seeded(dir.path());
    let url = secure.url("https", "/");
    let outcome = run(
        dir.path(),
        &[
            "--input",
            &url,
            "--input-http-config",
            "http.yaml",
            "-o",
            "out.prom",
        ],
    );
    assert_failed_keeping(
        &outcome,
        &output,
        "a redirect from https to plain http is never followed",
    );
    assert_eq!(
        server.requests().len(),
        2,
        "the http server was not asked again"
    );
    // Without the CA, the certificate is not trusted.
    let outcome = run(dir.path(), &["--input", &url, "-o", "out.prom"]);
    assert_failed_keeping(&outcome, &output, "tls_config.ca_file");
}

#[test]
fn basic_auth_comes_from_the_config_file_and_never_shows() {
    // base64("stats:hunter2")
    const EXPECTED: &str = "Basic c3RhdHM6aHVudGVyMg==";
    let server = Loopback::http(|request, out| {
        if request.header("authorization") == Some(EXPECTED) {
            answer_and_close(out, "200 OK", &[], STORE.as_bytes());
        } else {
            answer_and_close(out, "401 Unauthorized", &[], b"who are you?");
        }
    });
    let dir = workspace();
    std::fs::write(dir.path().join("password"), "hunter2\n").expect("password");
    std::fs::write(
        dir.path().join("http.yaml"),
        "basic_auth:\n  username: stats\n  password_file: password\n",
    )
    .expect("config");
    let url = server.url("http", "/stats");
    run_with_config(dir.path(), &url, "http.yaml", 3);
    // A redirect to another host is followed without the credentials.
    let other = Listen::new()
        .host("127.0.0.2")
        .serve(|_, out| answer_and_close(out, "200 OK", &[], STORE.as_bytes()));
    let elsewhere = other.url("http", "/elsewhere");
    let redirecting = Loopback::http(move |_, out| {
        answer_and_close(
            out,
            "307 Temporary Redirect",
            &[("Location", &elsewhere)],
            b"",
        );
    });
    let outcome = run(
        dir.path(),
        &[
            "--input",
            &redirecting.url("http", "/"),
            "--input-http-config",
            "http.yaml",
            "-o",
            "-",
        ],
    );
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert!(redirecting.requests()[0].header("authorization").is_some());
    assert_eq!(other.requests()[0].header("authorization"), None);

    let outcome = run(dir.path(), &["--input", &url, "-o", "-"]);
    assert_eq!(outcome.code, 1, "{outcome:?}");
    assert!(
        outcome
            .stderr
            .contains("answered HTTP 401: who are you?; check the credentials"),
        "{}",
        outcome.stderr
    );
    // A typo in the config file is a usage error naming its line.
    std::fs::write(
        dir.path().join("bad.yaml"),
        "basic_auth:\n  username: stats\n  pasword: hunter2\n",
    )
    .expect("config");
    let outcome = run(
        dir.path(),
        &[
            "--input",
            &url,
            "--input-http-config",
            "bad.yaml",
            "-o",
            "-",
        ],
    );
    assert_eq!(outcome.code, 2, "{outcome:?}");
    assert!(
        outcome
            .stderr
            .contains("bad.yaml:3:3: basic_auth: unknown field `pasword`")
    );
    assert!(!outcome.stderr.contains("hunter2"), "{}", outcome.stderr);
}

#[cfg(unix)]
#[test]
fn a_command_gives_its_output_or_fails_clearly() {
    let dir = workspace();
    std::fs::write(dir.path().join("store.xml"), STORE).expect("store");
    let outcome = run(dir.path(), &["--input", "exec:cat store.xml", "-o", "-"]);
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert!(
        outcome.stdout.contains("\nstore_rows 3\n"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains("xml2prom_input_size_bytes{input=\"exec:cat store.xml\"} 33"),
        "{}",
        outcome.stdout
    );

    let output = seeded(dir.path());
    let failing = "exec:sh -c 'echo \"no GPU found\" >&2; echo second >&2; exit 3'";
    let outcome = run(dir.path(), &["--input", failing, "-o", "out.prom"]);
    assert_failed_keeping(
        &outcome,
        &output,
        &format!(
            "xml2prom: error: {failing}: the command exited with status 3; its error output: \
             no GPU found / second\n"
        ),
    );

    let started = Instant::now();
    let outcome = run(
        dir.path(),
        &[
            "--input",
            "exec:sleep 30",
            "--input-timeout",
            "1s",
            "-o",
            "out.prom",
        ],
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_failed_keeping(
        &outcome,
        &output,
        "exec:sleep 30: the command did not finish within 1s and was killed",
    );

    let outcome = run(dir.path(), &["--input", "exec:'unclosed", "-o", "-"]);
    assert_eq!(outcome.code, 2, "{outcome:?}");
    assert!(
        outcome.stderr.contains("unclosed quote"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn serve_fetches_a_url_on_every_scrape() {
    let rows = Arc::new(AtomicUsize::new(1));
    let served_rows = Arc::clone(&rows);
    let server = Loopback::http(move |_, out| {
        let rows = served_rows.load(Ordering::SeqCst);
        let body = format!("<store>{}</store>", "<row/>".repeat(rows));
        answer_and_close(out, "200 OK", &[], body.as_bytes());
    });
    let dir = workspace();
    let url = server.url("http", "/stats");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
        .args(["serve", "--rules", "rules.yaml", "--input", &url])
        .args(["--listen", "127.0.0.1:0", "--no-self-metrics"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("serve prints its address")
            .expect("line");
        if let Some(address) = crate::serve::listening_address(&line) {
            break address;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let scrape = || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent
            .get(format!("http://{address}/metrics"))
            .call()
            .expect("scrape");
        response.body_mut().read_to_string().expect("body")
    };
    let first = scrape();
    rows.store(2, Ordering::SeqCst);
    let second = scrape();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("\nstore_rows 1\n"), "{first}");
    assert!(second.contains("\nstore_rows 2\n"), "{second}");
}

#[test]
fn https_trusts_the_ca_file_of_the_config_or_skips_verification_when_told() {
    let pki = crate::loopback::test_pki();
    let server = Loopback::https(Arc::clone(&pki.server), |_, out| {
        answer_and_close(out, "200 OK", &[], STORE.as_bytes());
    });
    let dir = workspace();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("CA");
    std::fs::write(
        dir.path().join("ca.yaml"),
        "tls_config: { ca_file: ca.pem }\n",
    )
    .expect("ca");
    std::fs::write(
        dir.path().join("insecure.yaml"),
        "tls_config: { insecure_skip_verify: true }\n",
    )
    .expect("insecure");
    let url = server.url("https", "/stats.xml");
    for config in ["ca.yaml", "insecure.yaml"] {
        let outcome = run(
            dir.path(),
            &["--input", &url, "--input-http-config", config, "-o", "-"],
        );
        assert_eq!(outcome.code, 0, "{config}: {outcome:?}");
        assert!(
            outcome.stdout.contains("\nstore_rows 3\n"),
            "{}",
            outcome.stdout
        );
    }
}

/// A server that asks for a client certificate signed by its CA: the config's `cert_file` and
/// `key_file` must be sent, and without them the handshake fails.
#[test]
fn a_client_certificate_from_the_config_is_presented() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "xml2prom mTLS test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let signed = |names: Vec<String>| {
        let key = KeyPair::generate().expect("key");
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("certificate");
        (cert, key)
    };
    let (server_cert, server_key) = signed(vec!["127.0.0.1".to_owned()]);
    let (client_cert, client_key) = signed(vec!["client".to_owned()]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone()).expect("CA root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("client verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .expect("server TLS configuration");
    let server = Loopback::https(Arc::new(config), |_, out| {
        answer_and_close(out, "200 OK", &[], STORE.as_bytes());
    });
    let dir = workspace();
    std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).expect("CA");
    std::fs::write(dir.path().join("client.pem"), client_cert.pem()).expect("cert");
    std::fs::write(dir.path().join("client.key"), client_key.serialize_pem()).expect("key");
    std::fs::write(
        dir.path().join("mtls.yaml"),
        "tls_config:\n  ca_file: ca.pem\n  cert_file: client.pem\n  key_file: client.key\n",
    )
    .expect("config");
    std::fs::write(
        dir.path().join("ca.yaml"),
        "tls_config: { ca_file: ca.pem }\n",
    )
    .expect("ca");
    let url = server.url("https", "/stats.xml");
    run_with_config(dir.path(), &url, "mtls.yaml", 3);
    let outcome = run(
        dir.path(),
        &["--input", &url, "--input-http-config", "ca.yaml", "-o", "-"],
    );
    assert_eq!(outcome.code, 1, "{outcome:?}");
    assert!(
        outcome.stderr.contains(&format!("cannot fetch {url}: "))
            && outcome.stderr.contains("tls_config.cert_file and key_file"),
        "{}",
        outcome.stderr
    );
}

/// `run --input URL --input-http-config CONFIG -o -` in `dir`, which must succeed and write
/// `store_rows ROWS`.
fn run_with_config(dir: &Path, url: &str, config: &str, rows: usize) {
    let outcome = run(
        dir,
        &["--input", url, "--input-http-config", config, "-o", "-"],
    );
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert!(
        outcome.stdout.contains(&format!("\nstore_rows {rows}\n")),
        "{}",
        outcome.stdout
    );
}
