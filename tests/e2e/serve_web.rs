//! `xml2prom serve` with a `--web.config.file` (basic auth, TLS and client certificates from a
//! CA made in the test, response headers, files it must refuse) and under abuse: huge headers
//! and URIs, slow and idle clients, more connections than `--web.max-connections`, and the
//! process's open-files limit, each followed by a normal scrape that must still be answered.
//!
//! Every child is killed by a Drop guard; every socket has a timeout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::serve::{RULES, Served, store, write};
use crate::support;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A folder with `rules.yaml` and `store.xml` (3 rows).
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "rules.yaml", RULES);
    write(dir.path(), "store.xml", &store(3));
    dir
}

fn connect(address: &str) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

/// Sends `request` on a new connection and reads until the server closes it.
fn raw(address: &str, request: &[u8]) -> String {
    let mut stream = connect(address);
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

fn basic(user: &str, password: &str) -> String {
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {pair}")
}

#[test]
fn basic_auth_guards_every_path_and_headers_are_added() {
    let dir = fixture();
    let hash = bcrypt::hash("s3cret", 4).expect("a bcrypt hash");
    write(
        dir.path(),
        "web.yml",
        &format!(
            "basic_auth_users:\n  prometheus: '{hash}'\nhttp_server_config:\n  headers:\n    \
             X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n"
        ),
    );
    let served = Served::start(
        dir.path(),
        &[
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--web.config.file",
            "web.yml",
        ],
    );
    for path in ["/metrics", "/-/healthy", "/-/ready", "/", "/nope"] {
        let refused = served.get(path);
        assert_eq!(refused.status, 401, "{path}");
        assert_eq!(refused.header("www-authenticate"), Some("Basic"), "{path}");
        assert_eq!(refused.header("x-frame-options"), Some("deny"), "{path}");
    }
    let good = basic("prometheus", "s3cret");
    let wrong = basic("prometheus", "S3cret");
    let stranger = basic("someone", "s3cret");
    for _ in 0..3 {
        let reply = served.request("GET", "/metrics", &[("Authorization", &good)]);
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(
            reply.text().contains("\nstore_rows 3\n"),
            "{}",
            reply.text()
        );
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
    for credentials in [&wrong, &stranger, &"Bearer abc".to_owned()] {
        let reply = served.request("GET", "/metrics", &[("Authorization", credentials)]);
        assert_eq!(reply.status, 401, "{credentials}");
    }
    // A wrong password after the right one was remembered is still wrong.
    assert_eq!(
        served
            .request("GET", "/metrics", &[("Authorization", &wrong)])
            .status,
        401
    );
}

#[test]
fn a_bad_web_config_fails_at_start_with_its_position_and_exit_2() {
    let dir = fixture();
    for (text, expected) in [
        (
            "tls_server_config:\n  cert_file: a.pem\n  ciphers: []\n",
            "xml2prom: error: web.yml:3:3: tls_server_config: unknown field `ciphers`",
        ),
        (
            "tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
            "xml2prom: error: web.yml:2:18: tls_server_config.cipher_suites: not supported by \
             xml2prom; remove it",
        ),
        (
            "basic_auth_users:\n  prometheus: plain\n",
            "xml2prom: error: web.yml: basic_auth_users.prometheus: not a bcrypt hash",
        ),
        (
            "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.key\n",
            "xml2prom: error: web.yml: tls_server_config.cert_file missing.pem: ",
        ),
    ] {
        write(dir.path(), "web.yml", text);
        let outcome = support::xml2prom(
            dir.path(),
            &[
                "serve",
                "--rules",
                "rules.yaml",
                "--input",
                "store.xml",
                "--listen",
                "127.0.0.1:0",
                "--web.config.file",
                "web.yml",
            ],
        );
        assert_eq!(outcome.code, 2, "{text}: {}", outcome.stderr);
        assert!(
            outcome.stderr.starts_with(expected),
            "{text}: {}",
            outcome.stderr
        );
    }
}

/// A CA made for this test, and what it signed.
struct Pki {
    ca_pem: String,
    ca_der: rustls::pki_types::CertificateDer<'static>,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "xml2prom serve test CA");
        let cert = params.self_signed(&key).expect("CA certificate");
        Pki {
            ca_pem: cert.pem(),
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `names` and its key, as PEM.
    fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        (cert.pem(), key.serialize_pem())
    }
}

/// `GET path` over TLS, trusting `ca`, presenting `client` (certificate and key PEM) if given.
fn tls_get(
    address: &str,
    ca: &rustls::pki_types::CertificateDer<'static>,
    client: Option<&(String, String)>,
    path: &str,
    headers: &str,
) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).expect("the CA");
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![
                    rustls::pki_types::CertificateDer::from_pem_slice(cert.as_bytes())
                        .expect("cert"),
                ],
                rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
            )
            .expect("client certificate"),
    };
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
    let connection =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut stream = rustls::StreamOwned::new(connection, connect(address));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => Ok(String::from_utf8_lossy(&answer).into_owned()),
        // Some servers close without close_notify; what was read still counts.
        Err(_) if !answer.is_empty() => Ok(String::from_utf8_lossy(&answer).into_owned()),
        Err(error) => Err(error.to_string()),
    }
}

#[test]
fn tls_and_client_certificates_from_the_web_config() {
    let dir = fixture();
    let pki = Pki::new();
    let (cert, key) = pki.leaf(&["localhost", "127.0.0.1"]);
    write(dir.path(), "server.pem", &cert);
    write(dir.path(), "server.key", &key);
    write(dir.path(), "ca.pem", &pki.ca_pem);
    std::fs::create_dir(dir.path().join("conf")).expect("conf");
    // Paths are relative to the web configuration's folder, as in exporter-toolkit.
    write(
        &dir.path().join("conf"),
        "web.yml",
        "tls_server_config:\n  cert_file: ../server.pem\n  key_file: ../server.key\n  \
         min_version: TLS12\n",
    );
    let args = [
        "--rules",
        "rules.yaml",
        "--input",
        "store.xml",
        "--web.config.file",
        "conf/web.yml",
    ];
    let served = Served::start(dir.path(), &args);
    assert!(
        served
            .log()
            .contains("msg=\"listening\" address=127.0.0.1:")
            && served.log().contains(" tls=true"),
        "{}",
        served.log()
    );
    let answer = tls_get(&served.address, &pki.ca_der, None, "/metrics", "").expect("TLS");
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{answer}");
    assert!(answer.contains("\nstore_rows 3\n"), "{answer}");
    // Plain HTTP to a TLS port gets no metrics.
    let plain = raw(
        &served.address,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(!plain.contains("store_rows"), "{plain}");
    drop(served);

    write(
        &dir.path().join("conf"),
        "web.yml",
        "tls_server_config:\n  cert_file: ../server.pem\n  key_file: ../server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ../ca.pem\n",
    );
    let served = Served::start(dir.path(), &args);
    let client = pki.leaf(&["prometheus"]);
    let answer =
        tls_get(&served.address, &pki.ca_der, Some(&client), "/metrics", "").expect("mTLS");
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{answer}");
    let without = tls_get(&served.address, &pki.ca_der, None, "/metrics", "");
    assert!(
        without.as_ref().map_or(true, |a| !a.contains("store_rows")),
        "{without:?}"
    );
    let stranger_ca = Pki::new();
    let stranger = stranger_ca.leaf(&["prometheus"]);
    let refused = tls_get(
        &served.address,
        &pki.ca_der,
        Some(&stranger),
        "/metrics",
        "",
    );
    assert!(
        refused.as_ref().map_or(true, |a| !a.contains("store_rows")),
        "{refused:?}"
    );
}

#[test]
fn huge_headers_get_431_huge_uris_414_and_the_server_goes_on() {
    let dir = fixture();
    let served = Served::start(
        dir.path(),
        &["--rules", "rules.yaml", "--input", "store.xml"],
    );
    let mut request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 40 * 1024));
    request.extend(b"\r\n\r\n");
    let answer = raw(&served.address, &request);
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 431"),
        "{}",
        status_line(&answer)
    );
    let uri = format!(
        "GET /metrics?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "q".repeat(16 * 1024)
    );
    let answer = raw(&served.address, uri.as_bytes());
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 414"),
        "{}",
        status_line(&answer)
    );
    let body = "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n";
    let answer = raw(&served.address, body.as_bytes());
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 413"),
        "{}",
        status_line(&answer)
    );
    assert_eq!(served.get("/metrics").status, 200);
}

#[test]
fn slow_and_idle_connections_are_closed_after_their_timeouts() {
    let dir = fixture();
    let served = Served::start(
        dir.path(),
        &[
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--web.read-header-timeout",
            "1s",
            "--web.idle-timeout",
            "2s",
        ],
    );
    served.wait_for_readiness(200);
    // Half a request head, then nothing: closed after the header timeout.
    let mut slow = connect(&served.address);
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    let start = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let slow_closed = start.elapsed();
    println!("a slow request head was cut after {slow_closed:?}");
    assert!(
        slow_closed >= Duration::from_millis(900) && slow_closed < Duration::from_secs(5),
        "{slow_closed:?}"
    );

    // One request kept alive, then silence: closed after the idle timeout, not before.
    let mut idle = connect(&served.address);
    idle.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut buffer = [0; 4096];
    let n = idle.read(&mut buffer).expect("an answer");
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
    let start = Instant::now();
    let mut rest = Vec::new();
    let _ = idle.read_to_end(&mut rest);
    let idle_closed = start.elapsed();
    println!("an idle kept-alive connection was closed after {idle_closed:?}");
    assert!(
        idle_closed >= Duration::from_millis(1800) && idle_closed < Duration::from_secs(6),
        "{idle_closed:?}"
    );
}

/// Opens `count` connections that each send half a request head and then wait.
fn slow_clients(address: &str, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let mut stream = connect(address);
            let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n");
            stream
        })
        .collect()
}

/// Scrapes once and gives the time it took.
fn timed_scrape(served: &Served) -> Duration {
    let start = Instant::now();
    let reply = served.get("/metrics");
    let took = start.elapsed();
    assert_eq!(
        reply.status,
        200,
        "{}\nstderr:\n{}",
        reply.text(),
        served.log()
    );
    assert!(reply.text().contains("\nstore_rows 3\n"));
    took
}

fn prlimit(nofile: u32) -> Option<Vec<String>> {
    let found = std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipping: prlimit (util-linux) is not installed");
        return None;
    }
    Some(vec!["prlimit".to_owned(), format!("--nofile={nofile}")])
}

/// Issue: 600 slow connections under `nofile=1024` used to kill the listener for good.
#[test]
fn six_hundred_slow_clients_under_nofile_1024_do_not_stop_a_scrape() {
    let Some(wrapper) = prlimit(1024) else { return };
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let dir = fixture();
    let served = Served::start_under(
        dir.path(),
        &["--rules", "rules.yaml", "--input", "store.xml"],
        &wrapper,
    );
    served.wait_for_readiness(200);
    let slow = slow_clients(&served.address, 600);
    let during = timed_scrape(&served);
    println!("a scrape with 600 slow connections held under nofile=1024 took {during:?}");
    assert!(during < Duration::from_secs(2), "{during:?}");
    drop(slow);
    let after = timed_scrape(&served);
    println!("a scrape after they went took {after:?}");
    assert!(after < Duration::from_secs(2), "{after:?}");
    served.wait_for_log_line("the connection cap warning", |line| {
        line.contains("up to --web.max-connections") && line.contains(" connections=512")
    });
}

#[test]
fn running_out_of_file_descriptors_is_survived_and_logged_once() {
    let Some(wrapper) = prlimit(100) else { return };
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let dir = fixture();
    let served = Served::start_under(
        dir.path(),
        &[
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--web.max-connections",
            "1000",
        ],
        &wrapper,
    );
    served.wait_for_readiness(200);
    let slow = slow_clients(&served.address, 300);
    let during = timed_scrape(&served);
    println!("a scrape with 300 slow connections under nofile=100 took {during:?}");
    assert!(during < Duration::from_secs(2), "{during:?}");
    drop(slow);
    let after = timed_scrape(&served);
    println!("a scrape after they went took {after:?}");
    let log = served.log();
    assert_eq!(log.matches("cannot accept connections").count(), 1, "{log}");
}

#[test]
fn past_the_connection_cap_slow_clients_go_before_a_kept_alive_scraper() {
    let dir = fixture();
    let served = Served::start(
        dir.path(),
        &[
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--web.max-connections",
            "5",
        ],
    );
    let ask = |stream: &mut TcpStream| {
        stream
            .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut buffer = [0; 4096];
        let n = stream.read(&mut buffer).unwrap_or(0);
        String::from_utf8_lossy(&buffer[..n]).into_owned()
    };
    let mut scraper = connect(&served.address);
    assert!(ask(&mut scraper).starts_with("HTTP/1.1 200"));
    let _slow = slow_clients(&served.address, 12);
    std::thread::sleep(Duration::from_millis(300));
    let again = ask(&mut scraper);
    assert!(
        again.starts_with("HTTP/1.1 200"),
        "{again:?}\n{}",
        served.log()
    );
    served.wait_for_log_line("the connection cap warning", |line| {
        line.contains("up to --web.max-connections") && line.contains(" connections=5")
    });
}

#[cfg(unix)]
#[test]
fn sigterm_does_not_wait_for_clients_that_never_finish_a_request() {
    let dir = fixture();
    let mut served = Served::start(
        dir.path(),
        &["--rules", "rules.yaml", "--input", "store.xml"],
    );
    served.wait_for_readiness(200);
    let _slow = slow_clients(&served.address, 20);
    let pid = served.child.id().to_string();
    let start = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let code = loop {
        if let Some(status) = served.child.try_wait().expect("wait") {
            break status.code();
        }
        assert!(start.elapsed() < Duration::from_secs(8), "{}", served.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = start.elapsed();
    println!("exited {took:?} after SIGTERM with 20 half-sent requests open");
    assert_eq!(code, Some(0), "{}", served.log());
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(!served.log().contains("unfinished"), "{}", served.log());
}

#[test]
fn listen_on_several_addresses_with_a_telemetry_path() {
    let dir = fixture();
    let served = Served::start(
        dir.path(),
        &[
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--web.listen-address",
            "[::1]:0",
            "--web.telemetry-path",
            "/x/metrics",
        ],
    );
    served.wait_for_readiness(200);
    let moved = served.get("/x/metrics");
    assert_eq!(moved.status, 200);
    assert!(moved.text().contains("\nstore_rows 3\n"));
    assert_eq!(served.get("/metrics").status, 404);
    assert!(served.get("/").text().contains("<a href=\"x/metrics\">"));
    let log = served.log();
    assert!(log.contains("msg=\"listening\" address=[::1]:"), "{log}");
}
