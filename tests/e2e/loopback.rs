//! The loopback HTTP(S) server the tests run `xml2prom` against: a listener on a loopback
//! address (127.0.0.1, or another one of 127.0.0.0/8) whose every connection gets its own thread,
//! every request handed to the test's `respond` callback and recorded. Plain HTTP or TLS with a
//! rustls configuration; one request per connection (closed after the answer) or keep-alive.
//! The server stops accepting when the test drops it. `test_pki` makes a CA and a certificate
//! signed by it for the TLS servers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request line without its line end: `PUT /metrics/job/store HTTP/1.1`.
    pub line: String,
    /// The request target of that line (`/metrics/job/store`); `/` if the line has none.
    pub path: String,
    /// The headers in the order sent, names and values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body of `Content-Length` bytes, empty without one.
    pub body: String,
}

impl Request {
    /// The value of the first header called `name`, in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with one request: writes the whole answer to the stream.
type Respond = dyn Fn(&Request, &mut dyn Write) + Send + Sync;

/// Where and how a server listens; `Listen::new()` is plain HTTP on 127.0.0.1, one request per
/// connection.
#[must_use]
pub struct Listen {
    host: &'static str,
    tls: Option<Arc<rustls::ServerConfig>>,
    keep_alive: bool,
}

impl Listen {
    pub fn new() -> Listen {
        Listen {
            host: "127.0.0.1",
            tls: None,
            keep_alive: false,
        }
    }

    /// On another loopback address (Linux answers on all of 127.0.0.0/8).
    pub fn host(self, host: &'static str) -> Listen {
        Listen { host, ..self }
    }

    /// HTTPS with the given rustls configuration.
    pub fn tls(self, config: Arc<rustls::ServerConfig>) -> Listen {
        Listen {
            tls: Some(config),
            ..self
        }
    }

    /// Reads further requests on a connection until the client closes it, instead of closing
    /// it after the first answer.
    pub fn keep_alive(self) -> Listen {
        Listen {
            keep_alive: true,
            ..self
        }
    }

    /// Starts the server; `respond` answers each request.
    pub fn serve(
        self,
        respond: impl Fn(&Request, &mut dyn Write) + Send + Sync + 'static,
    ) -> Loopback {
        Loopback::start(self, Arc::new(respond))
    }
}

/// A running loopback server; see the module's documentation. Stops accepting on drop.
pub struct Loopback {
    host: &'static str,
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Loopback {
    /// Plain HTTP on 127.0.0.1, one request per connection.
    pub fn http(respond: impl Fn(&Request, &mut dyn Write) + Send + Sync + 'static) -> Loopback {
        Listen::new().serve(respond)
    }

    /// HTTPS on 127.0.0.1 with the given rustls configuration, one request per connection.
    pub fn https(
        config: Arc<rustls::ServerConfig>,
        respond: impl Fn(&Request, &mut dyn Write) + Send + Sync + 'static,
    ) -> Loopback {
        Listen::new().tls(config).serve(respond)
    }

    fn start(listen: Listen, respond: Arc<Respond>) -> Loopback {
        let Listen {
            host,
            tls,
            keep_alive,
        } = listen;
        let listener = TcpListener::bind((host, 0)).expect("bind a loopback port");
        let port = listener.local_addr().expect("address").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (requests, stop) = (Arc::clone(&requests), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    let (requests, respond, tls) =
                        (Arc::clone(&requests), Arc::clone(&respond), tls.clone());
                    std::thread::spawn(move || {
                        serve_connection(stream, tls, keep_alive, &requests, &*respond);
                    });
                }
            })
        };
        Loopback {
            host,
            port,
            requests,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// `scheme://host:port` followed by `path` (which may be empty).
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}:{}{path}", self.host, self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request read so far, in the order they were read.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Reads requests from one connection (only the first unless `keep_alive`) until it closes or
/// fails, then shuts it down; a TLS handshake that fails (the client does not trust us) ends it
/// quietly.
fn serve_connection(
    stream: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    keep_alive: bool,
    requests: &Mutex<Vec<Request>>,
    respond: &Respond,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let raw = stream.try_clone().expect("clone the stream");
    let mut io: Box<dyn ReadWrite> = match tls {
        None => Box::new(stream),
        Some(config) => {
            let connection = rustls::ServerConnection::new(config).expect("a TLS connection");
            Box::new(rustls::StreamOwned::new(connection, stream))
        }
    };
    while let Some(request) = read_request(&mut io) {
        requests.lock().expect("requests").push(request.clone());
        respond(&request, &mut io);
        let _ = io.flush();
        if !keep_alive {
            break;
        }
    }
    let _ = raw.shutdown(Shutdown::Both);
}

/// One request: head up to the blank line, then a `Content-Length` body; None at the end of
/// the connection or on any error.
fn read_request(io: &mut dyn ReadWrite) -> Option<Request> {
    let mut reader = BufReader::new(io);
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.trim_end().split_once(':') {
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().ok()?;
            }
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    // Requests are small and sent whole before the answer: nothing is left in the buffer.
    let line = line.trim_end().to_owned();
    Some(Request {
        path: line.split(' ').nth(1).unwrap_or("/").to_owned(),
        line,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Writes a whole answer with a `Content-Length` body, leaving the connection open.
pub fn answer(out: &mut dyn Write, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    write_answer(out, status, headers, body, false);
}

/// Writes a whole answer with a `Content-Length` body and `Connection: close`.
pub fn answer_and_close(out: &mut dyn Write, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    write_answer(out, status, headers, body, true);
}

fn write_answer(
    out: &mut dyn Write,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(body);
}

/// A CA made for this test, and a server certificate for 127.0.0.1 and localhost it signed.
pub(crate) struct TestPki {
    pub(crate) ca_pem: String,
    pub(crate) server: Arc<rustls::ServerConfig>,
}

pub(crate) fn test_pki() -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "xml2prom test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("server key");
    let server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server params");
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        server_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![server_cert.der().clone()], key)
    .expect("server TLS configuration");
    TestPki {
        ca_pem: ca_cert.pem(),
        server: Arc::new(config),
    }
}
