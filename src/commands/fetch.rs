//! Fetch: the `--input` arguments that are not files — standard input (`-`), an `http://` or
//! `https://` URL, a command's output (`exec:CMD ARGS`) — and the bytes each gives.
//!
//! A URL or a command is read once per evaluation into memory, never more than
//! `--max-input-bytes` + 1 bytes, within `--input-timeout`; the engines then scan the bytes
//! ([`crate::engine::Source::Bytes`]). Standard input is read as `/dev/stdin`, through the same
//! bounded, polled reader as a FIFO. Each gets a name for messages, self-metrics and the status
//! file ([`Remote::name`]: a URL without its credentials or the values of its secret-looking
//! query parameters) and a file stem for `--output-dir` ([`Remote::stem`]).
//!
//! [`fetch_http`] and [`run_command`] hold no state: any thread may call them.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::commands::http_config::HttpConfig;
use crate::commands::push::{self, printable};
use crate::model::duration::Friendly;

/// The prefix of a command input: `--input 'exec:nvidia-smi -q -x'`.
pub const EXEC_PREFIX: &str = "exec:";

/// The most redirects an HTTP input follows.
pub const MAX_REDIRECTS: usize = 5;

/// The most bytes of a command's standard error kept for a message.
const STDERR_KEPT_BYTES: u64 = 16 << 10;

/// The most lines of a command's standard error a message shows.
const STDERR_SHOWN_LINES: usize = 5;

/// The most bytes of one shown line of text from a server or a command.
const SHOWN_BYTES: usize = 200;

/// Query parameters whose values are taken for secrets (matched in lower case, as parts of the
/// name): `?api_key=...`, `?token=...`, `?X-Amz-Signature=...`.
const SECRET_QUERY_WORDS: [&str; 9] = [
    "token",
    "key",
    "secret",
    "pass",
    "pwd",
    "auth",
    "sig",
    "credential",
    "session",
];

/// An `--input` argument that is not a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote<'a> {
    /// `-`: standard input.
    Stdin,
    /// An `http://` or `https://` URL.
    Http(&'a str),
    /// `exec:CMD ARGS`: the command line after the prefix.
    Command(&'a str),
}

impl<'a> Remote<'a> {
    /// The argument as a non-file input, or `None` for a path or a glob pattern.
    pub fn of(arg: &'a Path) -> Option<Remote<'a>> {
        let text = arg.to_str()?;
        if text == "-" {
            Some(Remote::Stdin)
        } else if text.starts_with("http://") || text.starts_with("https://") {
            Some(Remote::Http(text))
        } else {
            text.strip_prefix(EXEC_PREFIX).map(Remote::Command)
        }
    }

    /// The input's name in messages, in the `input` label of the self-metrics and in the status
    /// file: `-`, the URL without credentials or secret query values ([`redact_url`]), or
    /// `exec:` and the command line as given.
    pub fn name(&self) -> String {
        match self {
            Remote::Stdin => "-".to_owned(),
            Remote::Http(url) => redact_url(url),
            Remote::Command(line) => format!("{EXEC_PREFIX}{line}"),
        }
    }

    /// The stem of the input's file in `--output-dir`: `stdin`; for a URL the last segment of
    /// its path without its extension, or its host when the path has none
    /// (`http://ns1:8053/xml/v3/server` -> `server`, `http://ns1:8053/` -> `ns1`); for a
    /// command the program's file name (`exec:/usr/bin/nvidia-smi -q -x` -> `nvidia-smi`).
    /// Characters other than letters, digits, `.`, `_` and `-` become `_`.
    pub fn stem(&self) -> String {
        let stem = match self {
            Remote::Stdin => "stdin".to_owned(),
            Remote::Http(url) => {
                let uri = url.parse::<ureq::http::Uri>().ok();
                let host = uri
                    .as_ref()
                    .and_then(|uri| uri.host())
                    .unwrap_or("input")
                    .trim_matches(['[', ']'])
                    .to_owned();
                let segment = uri
                    .as_ref()
                    .and_then(|uri| uri.path().rsplit('/').find(|s| !s.is_empty()))
                    .map(|segment| match segment.rsplit_once('.') {
                        Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
                        _ => segment.to_owned(),
                    });
                match segment {
                    Some(segment) if segment != "." && segment != ".." => segment,
                    _ => host,
                }
            }
            Remote::Command(line) => {
                let program = split_command(line)
                    .ok()
                    .and_then(|words| words.into_iter().next())
                    .unwrap_or_default();
                Path::new(&program)
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "command".to_owned())
            }
        };
        let safe: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if safe.is_empty() {
            "input".to_owned()
        } else {
            safe
        }
    }
}

/// Checks an argument that is not a file, for the command line: a URL that parses and holds
/// no credentials, a command line that splits into words.
pub fn check_remote(remote: &Remote<'_>) -> Result<(), String> {
    match remote {
        Remote::Stdin => Ok(()),
        Remote::Http(url) => {
            let uri = url.parse::<ureq::http::Uri>().map_err(|error| {
                format!("--input `{}` is not a valid URL: {error}", redact_url(url))
            })?;
            if uri.host().is_none_or(str::is_empty) {
                return Err(format!("--input `{}` has no host", redact_url(url)));
            }
            if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
                return Err(format!(
                    "--input `{}` holds credentials; write them into a file named by \
                     --input-http-config (basic_auth: {{ username: ..., password_file: ... }}), \
                     so that they do not show in `ps` and shell history",
                    redact_url(url)
                ));
            }
            Ok(())
        }
        Remote::Command(line) => split_command(line).map(drop),
    }
}

/// The words of a command line, split as a POSIX shell splits them (quotes and backslashes),
/// without running a shell: no variables, globs, pipes or redirections. For those, write
/// `exec:sh -c '...'`.
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    match shlex::split(line) {
        Some(words) if !words.is_empty() => Ok(words),
        Some(_) => Err(format!(
            "--input `{EXEC_PREFIX}{line}` names no command; write e.g. \
             `{EXEC_PREFIX}nvidia-smi -q -x`"
        )),
        None => Err(format!(
            "--input `{EXEC_PREFIX}{line}` has an unclosed quote or a trailing backslash"
        )),
    }
}

/// The URL for messages and labels: without `user:password@`, and with the values of query
/// parameters whose names look like secrets ([`SECRET_QUERY_WORDS`]) replaced by `***`.
///
/// ```
/// # use xml2prom::commands::fetch::redact_url;
/// assert_eq!(
///     redact_url("https://u:pw@ns1:8053/xml?api_key=abc&format=xml"),
///     "https://ns1:8053/xml?api_key=***&format=xml"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let tail = &rest[authority_end..];
    // A fragment is never sent; dropping it keeps the name short.
    let tail = tail.split('#').next().unwrap_or_default();
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if is_secret_name(name) => format!("{name}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => tail.to_owned(),
    };
    let scheme = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    format!("{scheme}{host}{tail}")
}

/// Whether a query parameter's name looks like it carries a secret.
fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_QUERY_WORDS.iter().any(|word| name.contains(word))
}

/// How inputs that are not files are read.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Authentication and TLS for HTTP(S) inputs (`--input-http-config`).
    pub http: Arc<HttpConfig>,
    /// The longest an HTTP fetch or a command may take, all of it (`--input-timeout`).
    pub timeout: Duration,
    /// The longest connecting to an HTTP server may take (`--input-connect-timeout`).
    pub connect_timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> FetchOptions {
        FetchOptions {
            http: Arc::new(HttpConfig::default()),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// An input that is not a file could not be read. Messages name the input as
/// [`Remote::name`] does, never with a credential.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer from the server: refused, unknown host, timeout, TLS.
    #[error("cannot fetch {url}: {reason}{hint}")]
    Transport {
        /// The URL, redacted.
        url: String,
        /// What went wrong.
        reason: String,
        /// What to do.
        hint: String,
    },
    /// The server answered with a status other than 2xx (or a redirect that is followed).
    #[error("{url} answered HTTP {status}{body}{hint}")]
    Status {
        /// The URL, redacted.
        url: String,
        /// The status code.
        status: u16,
        /// `: ` and the start of the body, escaped, or nothing.
        body: String,
        /// What to do.
        hint: String,
    },
    /// A redirect that is not followed: to plain http from https, to another scheme, without a
    /// `Location`, or one too many.
    #[error("{url} redirects {problem}; give --input the address that serves the document")]
    Redirect {
        /// The URL, redacted.
        url: String,
        /// Where to and why it is refused.
        problem: String,
    },
    /// A `/probe` target redirects to a URL that no `--probe.allow-target` pattern allows.
    #[error(
        "{url} redirects (HTTP {status}) to `{to}`, which no --probe.allow-target pattern \
         allows; probe the address that serves the document, or allow that one too"
    )]
    RedirectNotAllowed {
        /// The URL, redacted.
        url: String,
        /// The redirect's status code.
        status: u16,
        /// Where to, redacted.
        to: String,
    },
    /// The document is larger than `--max-input-bytes`.
    #[error(
        "{input}: the input is larger than the limit of {limit} bytes; raise --max-input-bytes \
         if it is expected"
    )]
    TooLarge {
        /// The input's name.
        input: String,
        /// The limit.
        limit: u64,
    },
    /// The command could not be started.
    #[error("{input}: cannot run `{program}`: {source}; check the command and the PATH")]
    Spawn {
        /// The input's name.
        input: String,
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The command did not end in time; it was killed.
    #[error(
        "{input}: the command did not finish within {} and was killed; make it faster or raise \
         --input-timeout",
        Friendly(*timeout)
    )]
    CommandTimeout {
        /// The input's name.
        input: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The command failed: a non-zero exit status or a signal.
    #[error("{input}: the command {status}{stderr}")]
    CommandFailed {
        /// The input's name.
        input: String,
        /// `exited with status 3` or `was killed by signal 9`.
        status: String,
        /// `; its error output: ` and the first lines of its stderr, or nothing.
        stderr: String,
    },
    /// The command's output could not be read.
    #[error("{input}: cannot read the command's output: {source}")]
    Read {
        /// The input's name.
        input: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Fetches an `http://` or `https://` URL: at most `max_bytes` of body (a larger one is refused
/// after `max_bytes` + 1 bytes, or at once by its `Content-Length`), within `options.timeout`,
/// connecting within `options.connect_timeout`, with the headers and TLS settings of
/// `options.http`. Redirects are followed up to [`MAX_REDIRECTS`] times to the same scheme or
/// from http to https, never from https to http; the credentials go only to the host first
/// named (the host, whatever the port). Any status but 2xx is an error.
pub fn fetch_http(
    url: &str,
    options: &FetchOptions,
    max_bytes: u64,
) -> Result<Vec<u8>, FetchError> {
    fetch_http_within(url, options, max_bytes, &|_| true)
}

/// [`fetch_http`], following a redirect only to a URL that `allowed` accepts: `serve`'s
/// `/probe` checks each hop against `--probe.allow-target`, so that an allowed target cannot
/// send the exporter anywhere else.
pub fn fetch_http_within(
    url: &str,
    options: &FetchOptions,
    max_bytes: u64,
    allowed: &dyn Fn(&str) -> bool,
) -> Result<Vec<u8>, FetchError> {
    let shown = redact_url(url);
    let started = Instant::now();
    let config = &options.http;
    let mut current = url.to_owned();
    let first_authority = authority_of(url);
    for _ in 0..=MAX_REDIRECTS {
        let https = current.starts_with("https://");
        let agent = agent(options, https, started.elapsed());
        let transport = |error: ureq::Error| {
            let hint = match &error {
                ureq::Error::Timeout(_) => format!(
                    "; give it more time with --input-timeout (now {}) or \
                     --input-connect-timeout (now {})",
                    Friendly(options.timeout),
                    Friendly(options.connect_timeout)
                ),
                _ if push::is_certificate_error(&error) => {
                    "; if a private CA signed the server's certificate, name it in the \
                     tls_config.ca_file of --input-http-config"
                        .to_owned()
                }
                _ if error.to_string().contains("CertificateRequired") => {
                    "; the server asks for a client certificate: name it in the \
                     tls_config.cert_file and key_file of --input-http-config"
                        .to_owned()
                }
                _ => String::new(),
            };
            FetchError::Transport {
                url: redact_url(&current),
                // Some of ureq's messages quote the URL, secrets included.
                reason: push::describe(&error).replace(current.as_str(), &redact_url(&current)),
                hint,
            }
        };
        let mut request = agent.get(&current);
        if !config
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("accept"))
        {
            request = request.header("Accept", "application/xml, text/xml;q=0.9, */*;q=0.1");
        }
        // Credentials go to the host they were given for, not to one a redirect names.
        if authority_of(&current) == first_authority
            && let Some(authorization) = &config.authorization
        {
            request = request.header("Authorization", authorization.expose());
        }
        for (name, value) in &config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request.call().map_err(transport)?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) && status != 304 {
            let location = response
                .headers()
                .get("location")
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
            let Some(location) = location else {
                return Err(FetchError::Redirect {
                    url: shown,
                    problem: format!("(HTTP {status}) without a Location header"),
                });
            };
            let next = resolve(&current, location.trim());
            let from_https = current.starts_with("https://");
            let to_https = next.starts_with("https://");
            let to_http = next.starts_with("http://");
            if from_https && !to_https {
                return Err(FetchError::Redirect {
                    url: redact_url(&current),
                    problem: format!(
                        "(HTTP {status}) to `{}`, which is not https: a redirect from https to \
                         plain http is never followed",
                        shown_text(&redact_url(&next))
                    ),
                });
            }
            if !to_https && !to_http {
                return Err(FetchError::Redirect {
                    url: redact_url(&current),
                    problem: format!(
                        "(HTTP {status}) to `{}`, which is not an http or https URL",
                        shown_text(&redact_url(&next))
                    ),
                });
            }
            if !allowed(&next) {
                return Err(FetchError::RedirectNotAllowed {
                    url: redact_url(&current),
                    status,
                    to: shown_text(&redact_url(&next)),
                });
            }
            current = next;
            continue;
        }
        if !(200..300).contains(&status) {
            let mut bytes = Vec::new();
            let _ = response
                .body_mut()
                .as_reader()
                .take(SHOWN_BYTES as u64)
                .read_to_end(&mut bytes);
            let text = shown_text(&String::from_utf8_lossy(&bytes));
            let hint = match status {
                401 | 403 => "; check the credentials in --input-http-config".to_owned(),
                404 => "; check the URL's path".to_owned(),
                _ => String::new(),
            };
            return Err(FetchError::Status {
                url: redact_url(&current),
                status,
                body: if text.is_empty() {
                    String::new()
                } else {
                    format!(": {text}")
                },
                hint,
            });
        }
        let too_large = || FetchError::TooLarge {
            input: shown.clone(),
            limit: max_bytes,
        };
        let announced: Option<u64> = response
            .headers()
            .get("content-length")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse().ok());
        if announced.is_some_and(|length| length > max_bytes) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|error| match ureq::Error::from(error) {
                ureq::Error::Io(io) => FetchError::Transport {
                    url: redact_url(&current),
                    reason: format!("the body could not be read: {io}"),
                    hint: String::new(),
                },
                other => transport(other),
            })?;
        if bytes.len() as u64 > max_bytes {
            return Err(too_large());
        }
        return Ok(bytes);
    }
    Err(FetchError::Redirect {
        url: shown,
        problem: format!("more than {MAX_REDIRECTS} times"),
    })
}

/// An agent for one request, with what is left of the total timeout.
fn agent(options: &FetchOptions, https: bool, spent: Duration) -> ureq::Agent {
    let left = options
        .timeout
        .saturating_sub(spent)
        .max(Duration::from_millis(1));
    let mut builder = ureq::Agent::config_builder()
        .timeout_global(Some(left))
        .timeout_connect(Some(options.connect_timeout.min(left)))
        .http_status_as_error(false)
        // Redirects are followed here, one by one, to check each.
        .max_redirects(0)
        .user_agent(concat!("xml2prom/", env!("CARGO_PKG_VERSION")));
    if https {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
        let config = &options.http;
        let roots = if config.ca_certificates.is_empty() {
            push::Trust::System.root_certs()
        } else {
            RootCerts::Specific(Arc::new(
                config
                    .ca_certificates
                    .iter()
                    .map(|der| Certificate::from_der(der).to_owned())
                    .collect(),
            ))
        };
        let client = config.client_cert.as_ref().and_then(|(chain, key)| {
            let chain: Vec<Certificate<'static>> = chain
                .iter()
                .map(|der| Certificate::from_der(der).to_owned())
                .collect();
            // Checked when the config was read.
            let key = PrivateKey::from_pem(key.expose().as_bytes()).ok()?;
            Some(ClientCert::new_with_certs(&chain, key))
        });
        builder = builder.tls_config(
            TlsConfig::builder()
                .root_certs(roots)
                .client_cert(client)
                .disable_verification(config.insecure_skip_verify)
                .build(),
        );
    }
    builder.build().into()
}

/// The host of a URL, lower-cased, for telling whether a redirect leaves it. As Go's HTTP
/// client does, the scheme and port do not count: `http://h` -> `https://h` keeps the
/// credentials (it can only go up to https, see [`fetch_http`]).
fn authority_of(url: &str) -> Option<String> {
    let uri = url.parse::<ureq::http::Uri>().ok()?;
    Some(uri.host().unwrap_or("").to_ascii_lowercase())
}

/// A `Location` resolved against the URL that sent it (RFC 3986 section 5.2, without dot
/// segments): absolute, scheme-relative (`//host/x`), absolute path (`/x`) or relative path.
fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = rest[authority_end..]
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    let directory = path.rsplit_once('/').map_or("", |(directory, _)| directory);
    format!("{scheme}://{authority}{directory}/{location}")
}

/// Text from a server or a command for a message: escaped onto one line, at most
/// [`SHOWN_BYTES`].
fn shown_text(text: &str) -> String {
    let trimmed = text.trim();
    let (shown, used) = printable(trimmed.as_bytes(), SHOWN_BYTES);
    if used < trimmed.len() {
        format!("{shown}…")
    } else {
        shown
    }
}

/// Runs a command (`line` split as [`split_command`] does, without a shell) with standard input
/// closed and returns its standard output: at most `max_bytes` (one byte more and it is killed
/// and refused), within `timeout` (then it is killed, its whole process group on Unix). A
/// non-zero exit status is an error with the first lines of its standard error.
pub fn run_command(line: &str, timeout: Duration, max_bytes: u64) -> Result<Vec<u8>, FetchError> {
    let input = format!("{EXEC_PREFIX}{line}");
    let words = split_command(line).map_err(|message| FetchError::Spawn {
        input: input.clone(),
        program: line.to_owned(),
        source: std::io::Error::other(message),
    })?;
    let mut command = Command::new(&words[0]);
    command
        .args(&words[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so that a timeout kills what it started too, and a Ctrl-C meant
    // for xml2prom does not hit it first.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(|source| FetchError::Spawn {
        input: input.clone(),
        program: words[0].clone(),
        source,
    })?;
    let overflow = Arc::new(AtomicBool::new(false));
    let (stdout_sender, stdout_result) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        let overflow = Arc::clone(&overflow);
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let read = stdout
                .take(max_bytes.saturating_add(1))
                .read_to_end(&mut bytes);
            if bytes.len() as u64 > max_bytes {
                overflow.store(true, Ordering::SeqCst);
            }
            let _ = stdout_sender.send(read.map(|_| bytes));
        });
    }
    let (stderr_sender, stderr_result) = mpsc::channel();
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut bytes = Vec::new();
            let _ = (&mut stderr)
                .take(STDERR_KEPT_BYTES)
                .read_to_end(&mut bytes);
            // Drain the rest, so that the command is not stopped by a full pipe.
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            let _ = stderr_sender.send(bytes);
        });
    }
    let deadline = Instant::now() + timeout;
    let status = loop {
        if overflow.load(Ordering::SeqCst) {
            kill(&mut child);
            return Err(FetchError::TooLarge {
                input,
                limit: max_bytes,
            });
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(source) => {
                kill(&mut child);
                return Err(FetchError::Read { input, source });
            }
        }
        if Instant::now() >= deadline {
            kill(&mut child);
            return Err(FetchError::CommandTimeout { input, timeout });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // A process the command left behind may still hold its output open: wait only as long as
    // the timeout allows.
    let left = deadline.saturating_duration_since(Instant::now());
    let bytes = match stdout_result.recv_timeout(left) {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(source)) => return Err(FetchError::Read { input, source }),
        Err(_) => {
            kill_group(&child);
            return Err(FetchError::CommandTimeout { input, timeout });
        }
    };
    if bytes.len() as u64 > max_bytes {
        return Err(FetchError::TooLarge {
            input,
            limit: max_bytes,
        });
    }
    if !status.success() {
        let stderr = stderr_result
            .recv_timeout(Duration::from_millis(100))
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&stderr);
        let lines: Vec<String> = text
            .lines()
            .map(str::trim_end)
            .filter(|line| !line.is_empty())
            .take(STDERR_SHOWN_LINES)
            .map(shown_text)
            .collect();
        return Err(FetchError::CommandFailed {
            input,
            status: describe_status(status),
            stderr: if lines.is_empty() {
                "; it wrote nothing to its error output".to_owned()
            } else {
                format!("; its error output: {}", lines.join(" / "))
            },
        });
    }
    Ok(bytes)
}

/// `exited with status 3`, `was killed by signal 9`.
fn describe_status(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "failed".to_owned(),
    }
}

/// Kills the command and what it started, and reaps it.
fn kill(child: &mut std::process::Child) {
    kill_group(child);
    let _ = child.kill();
    let _ = child.wait();
}

/// Kills the command's process group (it leads one: `process_group(0)`).
fn kill_group(child: &std::process::Child) {
    #[cfg(unix)]
    {
        let pid = rustix::process::Pid::from_child(child);
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    #[cfg(not(unix))]
    let _ = child;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_that_are_not_files_are_recognised() {
        assert_eq!(Remote::of(Path::new("-")), Some(Remote::Stdin));
        assert_eq!(
            Remote::of(Path::new("https://h/x?a=*")),
            Some(Remote::Http("https://h/x?a=*"))
        );
        assert_eq!(
            Remote::of(Path::new("exec:nvidia-smi -q -x")),
            Some(Remote::Command("nvidia-smi -q -x"))
        );
        for path in ["store.xml", "./-", "stores/*.xml", "./exec:x", "httpd.xml"] {
            assert_eq!(Remote::of(Path::new(path)), None, "{path}");
        }
    }

    #[test]
    fn credentials_and_secret_query_values_are_stripped_from_names() {
        for (url, expected) in [
            ("http://h:8053/xml/v3", "http://h:8053/xml/v3"),
            ("http://user:pw@h/x", "http://h/x"),
            ("https://user@h", "https://h"),
            (
                "https://h/s?Token=a&b=c&X-Amz-Signature=z&password=p",
                "https://h/s?Token=***&b=c&X-Amz-Signature=***&password=***",
            ),
            (
                "http://h/x?flag&apikey=1#frag",
                "http://h/x?flag&apikey=***",
            ),
            ("http://u:p@h?key=v", "http://h?key=***"),
        ] {
            assert_eq!(redact_url(url), expected, "{url}");
        }
    }

    #[test]
    fn each_kind_of_input_has_a_file_stem() {
        for (arg, expected) in [
            ("-", "stdin"),
            ("http://ns1:8053/xml/v3/server", "server"),
            ("http://ns1:8053/", "ns1"),
            ("https://[::1]:8080", "__1"),
            ("http://h/stats.xml?x=1", "stats"),
            ("http://h/a/..", "h"),
            ("exec:/usr/bin/nvidia-smi -q -x", "nvidia-smi"),
            ("exec:'my tool' --x", "my_tool"),
        ] {
            let remote = Remote::of(Path::new(arg)).expect("remote");
            assert_eq!(remote.stem(), expected, "{arg}");
        }
    }

    #[test]
    fn urls_and_command_lines_are_checked() {
        assert!(check_remote(&Remote::Http("http://h:1/x")).is_ok());
        let message = check_remote(&Remote::Http("http://u:hunter2@h/x")).expect_err("userinfo");
        assert!(message.contains("--input-http-config"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(check_remote(&Remote::Http("http://")).is_err());
        assert!(check_remote(&Remote::Command("a 'b")).is_err());
        assert!(check_remote(&Remote::Command("  ")).is_err());
        assert_eq!(
            split_command("sh -c 'echo \"<a/>\"'").expect("splits"),
            ["sh", "-c", "echo \"<a/>\""]
        );
    }

    #[test]
    fn redirects_resolve_against_the_url_that_sent_them() {
        for (location, expected) in [
            ("https://o/x", "https://o/x"),
            ("//o/x", "http://o/x"),
            ("/y?z", "http://h:1/y?z"),
            ("c.xml", "http://h:1/a/c.xml"),
        ] {
            assert_eq!(
                resolve("http://h:1/a/b?q", location),
                expected,
                "{location}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_command_gives_its_output_or_a_clear_failure() {
        let ok = run_command("printf '<a/>'", Duration::from_secs(5), 100).expect("runs");
        assert_eq!(ok, b"<a/>");
        let failed = run_command("sh -c 'echo bad >&2; exit 3'", Duration::from_secs(5), 100)
            .expect_err("exit 3")
            .to_string();
        assert!(
            failed.ends_with("the command exited with status 3; its error output: bad"),
            "{failed}"
        );
        let large = run_command("yes", Duration::from_secs(5), 1000).expect_err("endless");
        assert!(
            matches!(large, FetchError::TooLarge { limit: 1000, .. }),
            "{large}"
        );
        let started = Instant::now();
        let slow = run_command("sleep 30", Duration::from_millis(200), 100).expect_err("slow");
        assert!(matches!(slow, FetchError::CommandTimeout { .. }), "{slow}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let missing = run_command("no-such-program-xml2prom", Duration::from_secs(5), 100)
            .expect_err("missing");
        assert!(matches!(missing, FetchError::Spawn { .. }), "{missing}");
    }
}
