//! Serve's HTTP layer: sockets in, [`Exporter::route`] replies out, with the limits that keep
//! one client from starving the others.
//!
//! `--web.listen-address` addresses -> listening sockets (bound before anything is served, so a
//! taken port fails at start) -> one accept loop per socket on a small tokio runtime -> per
//! connection: TLS when the web configuration has it ([`tokio_rustls`]), HTTP/1.1 by [`hyper`]
//! -> per request: size limits, basic auth, then [`Exporter::route`] on tokio's blocking pool,
//! because a scrape waits for the evaluator and must not hold an async thread while it does.
//!
//! The limits, each answering something measured on the tiny_http server this replaced:
//! - at most `max_connections` connections; one more evicts the oldest connection that has no
//!   request in flight (a slow client first, then an idle one), so a scrape always gets in;
//! - a request head must arrive within `read_header_timeout` of the connection opening or of its
//!   first byte (slowloris); a connection with nothing in flight and no traffic for
//!   `idle_timeout` is closed;
//! - a request head larger than [`MAX_HEAD_BYTES`] gets 431, a URI longer than
//!   [`MAX_URI_BYTES`] 414, a declared body larger than [`MAX_BODY_BYTES`] 413, and nothing
//!   ever buffers more than that per connection;
//! - `accept` failing for want of file descriptors (EMFILE, ENFILE) closes a few of the oldest
//!   idle connections and retries, pausing longer each time only when there is none to close,
//!   logging once per episode, so the listener always recovers;
//! - at shutdown, a connection with no request in flight is closed within a second.
//!
//! Stopping: [`Server::begin_shutdown`] ends the accept loops and asks each connection to
//! finish what it is doing; [`Server::drained`] tells when they all have.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, watch};

use super::web_config::{BasicAuth, WebConfig};
use super::{Exporter, Method, Reply, ServeError, accepts_gzip};
use crate::commands::log;

/// The largest request head (request line and headers): past it, 431.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// The longest request URI: past it, 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The largest request body a client may announce: past it, 413. No route reads a body.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;
/// The most request headers.
const MAX_HEADERS: usize = 100;
/// How many connections the kernel may queue before they are accepted.
const BACKLOG: u32 = 1024;
/// How many idle connections one `accept` failing for want of descriptors closes.
const EVICT_AT_ONCE: usize = 8;
/// Longest pause between two `accept` attempts while file descriptors are exhausted.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How long accepting must go without running out of descriptors to end an episode.
const EPISODE_END: Duration = Duration::from_secs(5);
/// The longest a connection without a request in flight is kept once shutdown began.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a connection looks at its clock when nothing else happens.
const TICK: Duration = Duration::from_secs(1);

/// Default `--web.max-connections`: well below the usual limit of 1024 open files.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 512;
/// Default `--web.read-header-timeout`.
pub const DEFAULT_READ_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--web.idle-timeout`: above the usual one-minute scrape interval, so that
/// Prometheus keeps its connection.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most connections open at once.
    pub max_connections: usize,
    /// How long a request head may take to arrive.
    pub read_header_timeout: Duration,
    /// How long a connection may stay open with nothing to do.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS as usize,
            read_header_timeout: DEFAULT_READ_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// One `--web.listen-address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddress {
    /// `:PORT`: every interface, IPv6 and IPv4 (IPv4 alone where there is no IPv6).
    AllInterfaces(u16),
    /// `HOST:PORT`, with the addresses it resolved to.
    Addresses(String, Vec<SocketAddr>),
}

impl ListenAddress {
    /// `:9840`, `127.0.0.1:9840`, `[::1]:9840` or `localhost:9840`.
    pub fn parse(text: &str) -> Result<ListenAddress, String> {
        let usage = || {
            format!(
                "`{text}` is not an address and port such as 127.0.0.1:9840, [::1]:9840, \
                 localhost:9840 or :9840 (every interface)"
            )
        };
        if let Some(port) = text.strip_prefix(':') {
            return port
                .parse()
                .map(ListenAddress::AllInterfaces)
                .map_err(|_| usage());
        }
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Ok(ListenAddress::Addresses(text.to_owned(), vec![address]));
        }
        if !text
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        {
            return Err(usage());
        }
        let addresses: Vec<SocketAddr> = text
            .to_socket_addrs()
            .map_err(|error| format!("cannot resolve `{text}`: {error}"))?
            .collect();
        if addresses.is_empty() {
            return Err(format!("`{text}` resolves to no address"));
        }
        Ok(ListenAddress::Addresses(text.to_owned(), addresses))
    }
}

/// The running HTTP side: its runtime, its sockets' addresses, and the way to stop it.
pub struct Server {
    runtime: tokio::runtime::Runtime,
    urls: Vec<String>,
    shutdown: watch::Sender<bool>,
    shared: Arc<Shared>,
}

/// What every connection reads.
struct Shared {
    exporter: Arc<Exporter>,
    web: WebConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    connections: Connections,
    /// Accept loops still running.
    accepting: AtomicUsize,
}

impl Server {
    /// Binds every address, then serves `exporter` on them in the background.
    pub fn start(
        addresses: &[ListenAddress],
        exporter: Arc<Exporter>,
        limits: Limits,
        web: WebConfig,
    ) -> Result<Server, ServeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            // Each scrape waiting for an evaluation holds one of these.
            .max_blocking_threads(64)
            .thread_name("xml2prom-http")
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        let listeners = runtime.block_on(async { bind_all(addresses) })?;
        let scheme = if web.tls.is_some() { "https" } else { "http" };
        let urls = listeners
            .iter()
            .map(|listener| {
                listener
                    .local_addr()
                    .map_or_else(|_| "?".to_owned(), |a| format!("{scheme}://{a}"))
            })
            .collect();
        let shared = Arc::new(Shared {
            exporter,
            tls: web.tls.clone().map(tokio_rustls::TlsAcceptor::from),
            web,
            limits,
            connections: Connections::new(limits.max_connections),
            accepting: AtomicUsize::new(listeners.len()),
        });
        let (shutdown, stopping) = watch::channel(false);
        for listener in listeners {
            runtime.spawn(accept_loop(listener, Arc::clone(&shared), stopping.clone()));
        }
        Ok(Server {
            runtime,
            urls,
            shutdown,
            shared,
        })
    }

    /// `http://ADDRESS:PORT` (or `https://`) of each socket, in the order of the addresses.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Stops accepting; each connection ends once its request in flight, if any, is answered.
    pub fn begin_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Whether every accept loop and every connection has ended.
    pub fn drained(&self) -> bool {
        self.shared.accepting.load(Ordering::SeqCst) == 0 && self.shared.connections.is_empty()
    }

    /// Ends whatever still runs.
    pub fn stop(self) {
        self.runtime.shutdown_background();
    }
}

/// A listening socket for each address; the first that cannot be bound is the error.
fn bind_all(addresses: &[ListenAddress]) -> Result<Vec<TcpListener>, ServeError> {
    let mut listeners = Vec::new();
    for address in addresses {
        match address {
            ListenAddress::AllInterfaces(port) => {
                let v6 = SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, *port));
                let v4 = SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, *port));
                // On Linux `[::]` also takes IPv4, unless the host has no IPv6 at all.
                let listener =
                    bind(v6)
                        .or_else(|_| bind(v4))
                        .map_err(|error| ServeError::Listen {
                            address: format!(":{port}"),
                            reason: error.to_string(),
                        })?;
                listeners.push(listener);
            }
            ListenAddress::Addresses(_, resolved) => {
                for socket in resolved {
                    listeners.push(bind(*socket).map_err(|error| ServeError::Listen {
                        address: socket.to_string(),
                        reason: error.to_string(),
                    })?);
                }
            }
        }
    }
    Ok(listeners)
}

fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

/// Whether an `accept` error means the process or the system is out of file descriptors (or
/// of the memory behind them): a state that passes when connections close.
fn out_of_descriptors(error: &std::io::Error) -> bool {
    use rustix::io::Errno;
    Errno::from_io_error(error)
        .is_some_and(|e| [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM].contains(&e))
}

/// Accepts connections until shutdown, surviving descriptor exhaustion.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopping: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(5);
    // When descriptors last ran out, while the episode lasts: it ends with a successful
    // accept after EPISODE_END of calm, so that a limit reached again and again is told once.
    let mut exhausted: Option<Instant> = None;
    loop {
        if *stopping.borrow() {
            break;
        }
        let accepted = tokio::select! {
            biased;
            _ = stopping.changed() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                if exhausted.is_some_and(|last| last.elapsed() >= EPISODE_END) {
                    log::info("accepting connections again", &[]);
                    exhausted = None;
                }
                backoff = Duration::from_millis(5);
                let Some(admitted) = admit(&shared) else {
                    // Every connection has a request in flight: this one waits for none.
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(
                    stream,
                    Arc::clone(&shared),
                    admitted,
                    stopping.clone(),
                ));
            }
            Err(error) if out_of_descriptors(&error) => {
                if exhausted.is_none() {
                    log::warn(
                        "cannot accept connections; closing the oldest idle connections and \
                         retrying; raise the open-files limit (ulimit -n, LimitNOFILE=) or \
                         lower --web.max-connections",
                        &[("err", &error)],
                    );
                }
                exhausted = Some(Instant::now());
                // Closing a few idle connections at once frees descriptors for the clients
                // waiting in the backlog; their tasks need a moment to close the sockets. With
                // nothing to close, wait longer each time.
                let evicted = (0..EVICT_AT_ONCE)
                    .take_while(|_| shared.connections.evict_oldest_idle())
                    .count();
                let pause = if evicted > 0 {
                    Duration::from_millis(1)
                } else {
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    backoff
                };
                tokio::select! {
                    _ = stopping.changed() => break,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
            // A client that left before it was accepted, or the like: the next one is fine.
            Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
    shared.accepting.fetch_sub(1, Ordering::SeqCst);
}

/// The open connections, oldest first, so that the oldest idle one can be closed.
struct Connections {
    max: usize,
    epoch: Instant,
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Connection>>>,
    /// Whether the limit was met and not yet left well behind (one warning per episode).
    full: AtomicBool,
}

/// What the limits need to know of one connection; times are milliseconds since
/// [`Connections::epoch`].
struct Connection {
    /// The last read or write that moved bytes.
    last_io: AtomicU64,
    /// When the request head now arriving began, or 0 if none is.
    head_started: AtomicU64,
    /// Requests handed to the service and not yet answered.
    in_flight: AtomicUsize,
    /// Notified to close the connection now.
    evict: Notify,
}

/// A place among the [`Connections`], given up when dropped.
struct Admitted {
    id: u64,
    connection: Arc<Connection>,
    shared: Arc<Shared>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.shared.connections.lock().remove(&self.id);
    }
}

impl Connections {
    fn new(max: usize) -> Connections {
        Connections {
            max: max.max(1),
            epoch: Instant::now(),
            next: AtomicU64::new(0),
            open: Mutex::new(BTreeMap::new()),
            full: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Connection>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        // At least 1, so that 0 can mean "none".
        (self.epoch.elapsed().as_millis() as u64).max(1)
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Closes the oldest connection with no request in flight, preferring one that has not
    /// finished sending a request head (a slow client) to one that waits between requests (a
    /// kept-alive Prometheus); whether there was one.
    fn evict_oldest_idle(&self) -> bool {
        let mut open = self.lock();
        let idle = |c: &Connection| c.in_flight.load(Ordering::SeqCst) == 0;
        let oldest = open
            .iter()
            .find(|(_, c)| idle(c) && c.head_started.load(Ordering::SeqCst) != 0)
            .or_else(|| open.iter().find(|(_, c)| idle(c)))
            .map(|(id, _)| *id);
        match oldest.and_then(|id| open.remove(&id)) {
            Some(connection) => {
                connection.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A place for a new connection, evicting the oldest idle one at the limit; `None` if every
/// connection has a request in flight.
fn admit(shared: &Arc<Shared>) -> Option<Admitted> {
    let connections = &shared.connections;
    let count = connections.lock().len();
    if count >= connections.max {
        if !connections.full.swap(true, Ordering::SeqCst) {
            log::warn(
                "connections are open up to --web.max-connections; closing the oldest idle \
                 ones to let new ones in",
                &[("connections", &connections.max)],
            );
        }
        if !connections.evict_oldest_idle() {
            return None;
        }
    } else if count < connections.max / 2 {
        connections.full.store(false, Ordering::SeqCst);
    }
    let now = connections.now();
    let connection = Arc::new(Connection {
        last_io: AtomicU64::new(now),
        // A new connection must send its first request head in time too.
        head_started: AtomicU64::new(now),
        in_flight: AtomicUsize::new(0),
        evict: Notify::new(),
    });
    let id = connections.next.fetch_add(1, Ordering::SeqCst);
    connections.lock().insert(id, Arc::clone(&connection));
    Some(Admitted {
        id,
        connection,
        shared: Arc::clone(shared),
    })
}

/// One connection: the TLS handshake if any, then HTTP until the client leaves, a limit
/// closes it, or shutdown.
async fn connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    admitted: Admitted,
    stopping: watch::Receiver<bool>,
) {
    let watched = Watched {
        inner: stream,
        connection: Arc::clone(&admitted.connection),
        epoch: shared.connections.epoch,
    };
    match &shared.tls {
        None => serve_http(watched, &shared, &admitted.connection, stopping).await,
        Some(acceptor) => {
            let handshake =
                tokio::time::timeout(shared.limits.read_header_timeout, acceptor.accept(watched));
            let stream = tokio::select! {
                stream = handshake => stream,
                _ = admitted.connection.evict.notified() => return,
            };
            // A failed or slow handshake is the client's problem; nothing to answer.
            if let Ok(Ok(stream)) = stream {
                serve_http(stream, &shared, &admitted.connection, stopping).await;
            }
        }
    }
    drop(admitted);
}

/// HTTP/1.1 on one connection, with the header and idle timeouts.
async fn serve_http<IO>(
    io: IO,
    shared: &Arc<Shared>,
    connection: &Arc<Connection>,
    mut stopping: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let shared = Arc::clone(shared);
        let connection = Arc::clone(connection);
        hyper::service::service_fn(move |request| {
            let shared = Arc::clone(&shared);
            let connection = Arc::clone(&connection);
            async move { Ok::<_, Infallible>(handle(request, shared, connection).await) }
        })
    };
    let http = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(http);
    let mut shutting_down = false;
    loop {
        if !shutting_down && *stopping.borrow() {
            shutting_down = true;
            http.as_mut().graceful_shutdown();
        }
        let wait = match overdue(connection, shared, shutting_down) {
            None => return,
            Some(wait) => wait,
        };
        tokio::select! {
            // An error is one client's broken connection; the others go on.
            _ = &mut http => return,
            _ = connection.evict.notified() => return,
            changed = stopping.changed(), if !shutting_down => {
                if changed.is_err() {
                    shutting_down = true;
                    http.as_mut().graceful_shutdown();
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// `None` if the connection broke a timeout, else how long to wait before looking again.
/// While shutting down, both timeouts are at most [`SHUTDOWN_TIMEOUT`]: a client still sending
/// its request head has no request in flight, and must not hold the exit for the grace period.
fn overdue(connection: &Connection, shared: &Shared, shutting_down: bool) -> Option<Duration> {
    if connection.in_flight.load(Ordering::SeqCst) > 0 {
        return Some(TICK);
    }
    let limit = |timeout: Duration| {
        let timeout = if shutting_down {
            timeout.min(SHUTDOWN_TIMEOUT)
        } else {
            timeout
        };
        timeout.as_millis() as u64
    };
    let now = shared.connections.now();
    let head = connection.head_started.load(Ordering::SeqCst);
    let deadline = if head != 0 {
        head + limit(shared.limits.read_header_timeout)
    } else {
        connection.last_io.load(Ordering::SeqCst) + limit(shared.limits.idle_timeout)
    };
    if now >= deadline {
        return None;
    }
    Some(Duration::from_millis(deadline - now).min(TICK))
}

/// A stream that tells its [`Connection`] when bytes move, and when a request head begins.
struct Watched<S> {
    inner: S,
    connection: Arc<Connection>,
    epoch: Instant,
}

impl<S> Watched<S> {
    fn moved(&self, read: bool) {
        let now = (self.epoch.elapsed().as_millis() as u64).max(1);
        self.connection.last_io.store(now, Ordering::SeqCst);
        if read
            && self.connection.in_flight.load(Ordering::SeqCst) == 0
            && self.connection.head_started.load(Ordering::SeqCst) == 0
        {
            self.connection.head_started.store(now, Ordering::SeqCst);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.moved(true);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved(false);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a request as in flight while it lives.
struct InFlight<'a>(&'a Connection, &'a Connections);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.last_io.store(self.1.now(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The response to one request, with the configured headers.
async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    connection: Arc<Connection>,
) -> Response<Full<Bytes>> {
    connection.in_flight.fetch_add(1, Ordering::SeqCst);
    connection.head_started.store(0, Ordering::SeqCst);
    let _in_flight = InFlight(&connection, &shared.connections);
    let mut response = answer(request, &shared).await;
    for (name, value) in &shared.web.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

async fn answer(request: Request<Incoming>, shared: &Arc<Shared>) -> Response<Full<Bytes>> {
    let url = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    if url.len() > MAX_URI_BYTES {
        return closing(reply(Reply::text(
            414,
            format!("the request URI is longer than {MAX_URI_BYTES} bytes\n"),
        )));
    }
    // hyper refuses a head that overflows its buffer; one that arrived whole in a single read
    // is measured here.
    let head: usize = url.len()
        + request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if head > MAX_HEAD_BYTES {
        return closing(reply(Reply::text(
            431,
            format!("request heads are limited to {MAX_HEAD_BYTES} bytes\n"),
        )));
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return closing(reply(Reply::text(
            413,
            format!("request bodies are limited to {MAX_BODY_BYTES} bytes\n"),
        )));
    }
    if let Some(auth) = &shared.web.basic_auth {
        let credentials = BasicAuth::credentials(
            request
                .headers()
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes),
        );
        let allowed = match credentials {
            None => false,
            Some(credentials) => match auth.remembered(&credentials) {
                Some(allowed) => allowed,
                None => {
                    let shared = Arc::clone(shared);
                    tokio::task::spawn_blocking(move || {
                        shared
                            .web
                            .basic_auth
                            .as_ref()
                            .is_some_and(|auth| auth.verify(&credentials))
                    })
                    .await
                    .unwrap_or(false)
                }
            },
        };
        if !allowed {
            let mut refusal = Reply::text(401, "Unauthorized\n");
            refusal
                .headers
                .push(("WWW-Authenticate", "Basic".to_owned()));
            return reply(refusal);
        }
    }
    let method = match *request.method() {
        hyper::Method::GET => Method::Get,
        hyper::Method::HEAD => Method::Head,
        hyper::Method::POST => Method::Post,
        _ => Method::Other,
    };
    let gzip = request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(accepts_gzip);
    // Prometheus says how long it waits; `/probe` fetches its target within that.
    let scrape_timeout = request
        .headers()
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|value| value.to_str().ok())
        .and_then(super::probe::parse_scrape_timeout);
    let exporter = Arc::clone(&shared.exporter);
    match tokio::task::spawn_blocking(move || exporter.route(method, &url, gzip, scrape_timeout))
        .await
    {
        Ok(answer) => reply(answer),
        Err(_) => reply(Reply::text(
            500,
            "the request failed unexpectedly; this is a bug in xml2prom, please report it\n",
        )),
    }
}

/// A [`Reply`] as an HTTP response; hyper leaves the body out for `HEAD`.
fn reply(answer: Reply) -> Response<Full<Bytes>> {
    let length = answer.body.len();
    let mut response = Response::new(Full::new(Bytes::from_owner(answer.body)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    for (name, value) in answer.headers {
        // Our header values are ASCII; one that is not is left out rather than sent broken.
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(name, value);
        }
    }
    response
}

/// The response, with the connection closed after it.
fn closing(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_take_the_exporter_forms() {
        assert_eq!(
            ListenAddress::parse(":9840"),
            Ok(ListenAddress::AllInterfaces(9840))
        );
        assert_eq!(
            ListenAddress::parse("127.0.0.1:0"),
            Ok(ListenAddress::Addresses(
                "127.0.0.1:0".to_owned(),
                vec![SocketAddr::from(([127, 0, 0, 1], 0))]
            ))
        );
        assert!(ListenAddress::parse("[::1]:9840").is_ok());
        for bad in ["localhost", ":", ":99999", "9840", "1.2.3.4"] {
            let error = ListenAddress::parse(bad).expect_err(bad);
            assert!(
                error.contains("is not an address and port"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn descriptor_exhaustion_is_told_from_other_accept_errors() {
        assert!(out_of_descriptors(&std::io::Error::from_raw_os_error(24)));
        assert!(out_of_descriptors(&std::io::Error::from_raw_os_error(23)));
        assert!(!out_of_descriptors(&std::io::Error::from_raw_os_error(103)));
        assert!(!out_of_descriptors(&std::io::Error::other("x")));
    }
}
