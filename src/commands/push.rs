//! Push: the exposition of a run, sent to a Prometheus Pushgateway with an HTTP `PUT`.
//!
//! The `run` flags `--push URL --job NAME [--grouping NAME=VALUE ...]` become a [`PushTarget`];
//! after each successful evaluation [`push`] sends the same text the `.prom` file gets to
//! `URL/metrics/job/NAME{/LABEL/VALUE}`. A `PUT` replaces every metric of that group, so series
//! that disappeared from the input disappear from the Pushgateway too, as they do from the file.
//!
//! Path segments follow the Pushgateway's URL rules
//! (<https://github.com/prometheus/pushgateway#url>): a value made only of unreserved characters
//! goes as it is; any other value (one with `/`, an empty one, non-ASCII) goes in the base64 form
//! `LABEL@base64/VALUE` with the URL-safe alphabet, which the Pushgateway decodes. Every request
//! is bounded by a connect timeout and a total timeout, so a Pushgateway that hangs cannot hold
//! up a run, or a loop (`--every`), for longer than `--push-timeout`.
//!
//! A push is honest about what happened (issue 10): a redirect is not followed, since an HTTP
//! client turns a `PUT` redirected with 301 or 302 into a `GET`, and the `200` of the page it
//! leads to (a proxy's login page, the Pushgateway's UI) would count as a push that pushed
//! nothing; a 3xx is a failed push naming its `Location`. Whatever the server sends back goes
//! into messages escaped and shortened ([`printable`]), and an error body is read only as far as
//! a message shows it plus [`BODY_READ_BOUND`]. HTTPS trusts the system's certificate store, or
//! only the CAs of `--push-ca-file` ([`Trust`]).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;

use crate::model::duration::Friendly;
use crate::model::names::LabelName;

/// The content type of the text exposition format the Pushgateway parses.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The longest connect phase, within the total timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of an error response's body a message shows, in bytes once escaped.
pub const SHOWN_BODY_BYTES: usize = 512;

/// How much of an error body is read past what is shown, to tell how much was left out when no
/// `Content-Length` says it; a gateway that sends 50 MB is never read further.
const BODY_READ_BOUND: usize = 64 << 10;

/// The most of a `Location` header, or of another text from the server, a message shows.
const SHOWN_TEXT_BYTES: usize = 200;

/// The largest `--push-ca-file` read; a CA bundle is a few hundred KiB.
const MAX_CA_FILE_BYTES: u64 = 16 << 20;

/// Which certificate authorities an HTTPS push trusts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trust {
    /// The system's store as `rustls-native-certs` finds it: the files named by `SSL_CERT_FILE`
    /// and `SSL_CERT_DIR` when set, else the distribution's bundle (`/etc/ssl/certs` on Debian);
    /// when that holds no certificate, the Mozilla roots compiled into the binary.
    #[default]
    System,
    /// The certificates of `--push-ca-file` and no other, as curl's `--cacert` and Prometheus's
    /// `ca_file` do.
    CaFile {
        /// The file, as given, for messages.
        path: PathBuf,
        /// Its certificates (DER), each checked to be usable as a trust anchor.
        certificates: Vec<Vec<u8>>,
    },
}

impl Trust {
    /// Reads a PEM file of CA certificates (`--push-ca-file`); the message says what is wrong
    /// with it.
    pub fn from_ca_file(path: &Path) -> Result<Trust, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let shown = path.display();
        let advice = "give a PEM file with the certificate of the CA that signed the \
                      Pushgateway's certificate (-----BEGIN CERTIFICATE-----)";
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| file.take(MAX_CA_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|error| format!("--push-ca-file {shown}: cannot read it: {error}"))?;
        if bytes.len() as u64 > MAX_CA_FILE_BYTES {
            return Err(format!(
                "--push-ca-file {shown}: is larger than {} MiB; {advice}",
                MAX_CA_FILE_BYTES >> 20
            ));
        }
        let mut certificates = Vec::new();
        for (i, item) in CertificateDer::pem_slice_iter(&bytes).enumerate() {
            let certificate = item.map_err(|error| {
                format!(
                    "--push-ca-file {shown}: certificate {} is not valid PEM: {error}; {advice}",
                    i + 1
                )
            })?;
            // The same check rustls makes when it builds its store; a certificate it would
            // skip silently there is refused here, at the start.
            rustls::RootCertStore::empty()
                .add(certificate.clone())
                .map_err(|error| {
                    // rustls words these for a server's certificate ("invalid peer
                    // certificate: ..."); the kind alone fits a file.
                    let why = match error {
                        rustls::Error::InvalidCertificate(kind) => format!("{kind:?}"),
                        other => other.to_string(),
                    };
                    format!(
                        "--push-ca-file {shown}: certificate {} is not a valid CA certificate \
                         ({why}); {advice}",
                        i + 1
                    )
                })?;
            certificates.push(certificate.as_ref().to_vec());
        }
        if certificates.is_empty() {
            return Err(format!(
                "--push-ca-file {shown}: holds no PEM certificate; {advice}"
            ));
        }
        Ok(Trust::CaFile {
            path: path.to_owned(),
            certificates,
        })
    }

    /// The roots ureq verifies a Pushgateway's certificate with.
    pub(crate) fn root_certs(&self) -> ureq::tls::RootCerts {
        use ureq::tls::{Certificate, RootCerts};
        let certificates: Vec<Certificate<'static>> = match self {
            Trust::CaFile { certificates, .. } => certificates
                .iter()
                .map(|der| Certificate::from_der(der).to_owned())
                .collect(),
            // Read at each push, so that a store updated during a long `--every` loop counts;
            // a bundle of about 150 certificates takes a few milliseconds. Unreadable entries
            // are skipped, as every TLS client on the system does.
            Trust::System => rustls_native_certs::load_native_certs()
                .certs
                .iter()
                .map(|der| Certificate::from_der(der).to_owned())
                .collect(),
        };
        if certificates.is_empty() {
            // Only for an empty system store (a container without ca-certificates): the roots
            // compiled in, which were the only ones before.
            return RootCerts::WebPki;
        }
        RootCerts::Specific(Arc::new(certificates))
    }

    /// What to do when the Pushgateway's certificate is not trusted.
    fn hint(&self) -> String {
        match self {
            Trust::System => "; if a private CA signed the Pushgateway's certificate, give it \
                              with --push-ca-file CA.pem or add it to the system's store"
                .to_owned(),
            Trust::CaFile { path, .. } => format!(
                "; only the CAs of --push-ca-file {} are trusted: give the one that signed the \
                 Pushgateway's certificate",
                path.display()
            ),
        }
    }
}

/// Where and how to push, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// The Pushgateway's base URL (`http://pushgateway:9091`), without the `/metrics/...` part.
    pub url: String,
    /// The `job` label of the group.
    pub job: String,
    /// More labels of the group's key, in the order given.
    pub grouping: Vec<(LabelName, String)>,
    /// The longest a push may take, connect included.
    pub timeout: Duration,
    /// The CAs an HTTPS push trusts.
    pub trust: Trust,
}

impl PushTarget {
    /// Checks the pieces given on the command line; the message says what to fix.
    pub fn new(
        url: &str,
        job: &str,
        grouping: Vec<(LabelName, String)>,
        timeout: Duration,
    ) -> Result<PushTarget, String> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| {
                format!(
                    "--push `{}` is not an http:// or https:// URL; give the Pushgateway's \
                     address, e.g. `--push http://pushgateway:9091`",
                    redact(url)
                )
            })?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() {
            return Err(format!(
                "--push `{}` names no host; give the Pushgateway's address, e.g. \
                 `--push http://pushgateway:9091`",
                redact(url)
            ));
        }
        if rest.contains(['?', '#']) {
            return Err(format!(
                "--push `{}` has a query or fragment; give the base URL only, xml2prom adds \
                 /metrics/job/... itself",
                redact(url)
            ));
        }
        if rest.contains("/metrics/") || rest.ends_with("/metrics") {
            return Err(format!(
                "--push `{}` already has a /metrics path; give the base URL only and the \
                 labels with --job and --grouping",
                redact(url)
            ));
        }
        if job.is_empty() {
            return Err("--job is empty; the Pushgateway needs a job name".to_owned());
        }
        if timeout.is_zero() {
            return Err(
                "--push-timeout must be more than 0s, e.g. `--push-timeout 10s`".to_owned(),
            );
        }
        for (i, (name, _)) in grouping.iter().enumerate() {
            if name.as_str() == "job" {
                return Err(
                    "--grouping job=...: `job` is set with --job; remove it from --grouping"
                        .to_owned(),
                );
            }
            if grouping[..i].iter().any(|(other, _)| other == name) {
                return Err(format!(
                    "--grouping {name} is given twice; give each label once"
                ));
            }
        }
        Ok(PushTarget {
            url: url.trim_end_matches('/').to_owned(),
            job: job.to_owned(),
            grouping,
            timeout,
            trust: Trust::System,
        })
    }

    /// The same target, trusting only the CAs of `path` for HTTPS (`--push-ca-file`).
    pub fn with_ca_file(self, path: &Path) -> Result<PushTarget, String> {
        Ok(PushTarget {
            trust: Trust::from_ca_file(path)?,
            ..self
        })
    }

    /// The URL of the group: base URL, then `/metrics/job/JOB`, then one `/LABEL/VALUE` per
    /// grouping label.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use xml2prom::commands::push::PushTarget;
    /// # use xml2prom::model::names::LabelName;
    /// let site = LabelName::parse("site").unwrap();
    /// let path = LabelName::parse("path").unwrap();
    /// let target = PushTarget::new(
    ///     "http://127.0.0.1:9091/",
    ///     "store",
    ///     vec![(site, "paris".into()), (path, "/srv/a".into())],
    ///     Duration::from_secs(10),
    /// ).unwrap();
    /// assert_eq!(
    ///     target.group_url(),
    ///     "http://127.0.0.1:9091/metrics/job/store/site/paris/path@base64/L3Nydi9h"
    /// );
    /// ```
    pub fn group_url(&self) -> String {
        let mut url = format!("{}/metrics/{}", self.url, segment("job", &self.job));
        for (name, value) in &self.grouping {
            url.push('/');
            url.push_str(&segment(name.as_str(), value));
        }
        url
    }

    /// The group for messages: `job="store", site="paris"`.
    fn group(&self) -> String {
        std::iter::once(("job", self.job.as_str()))
            .chain(self.grouping.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .map(|(name, value)| format!("{name}={value:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One `LABEL/VALUE` pair of the group's path.
fn segment(name: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if plain {
        format!("{name}/{value}")
    } else if value.is_empty() {
        // The Pushgateway's spelling of an empty value: a lone padding character.
        format!("{name}@base64/=")
    } else {
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value);
        format!("{name}@base64/{encoded}")
    }
}

/// The URL for messages, without a password written into it (`http://user:***@host`).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        None => url.to_owned(),
    }
}

/// The push failed; the textfile output, if any, is not affected.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// No answer: connection refused, unknown host, timeout, TLS failure.
    #[error(
        "cannot push to the Pushgateway at {url} ({group}): {reason}; check that it runs and \
         that --push names it{hint}"
    )]
    Transport {
        /// The group's URL, without a password.
        url: String,
        /// The group's labels.
        group: String,
        /// What went wrong, escaped and shortened.
        reason: String,
        /// More advice for timeouts and certificates.
        hint: String,
    },
    /// The Pushgateway, or something in front of it, answered with a redirect (3xx). It is not
    /// followed: nothing was pushed.
    #[error(
        "the Pushgateway at {url} answered the push ({group}) with HTTP {status}, {}; nothing \
         was pushed: a push does not follow redirects, so give --push the address that takes \
         the PUT itself (a proxy's login page or a moved Pushgateway are common causes)",
        match location {
            Some(location) => format!("a redirect to {location}"),
            None => "a redirect without a Location header".to_owned(),
        }
    )]
    Redirected {
        /// The group's URL, without a password.
        url: String,
        /// The group's labels.
        group: String,
        /// The HTTP status code.
        status: u16,
        /// The `Location` header in backticks, escaped, shortened and without a password.
        location: Option<String>,
    },
    /// The Pushgateway answered with an error status.
    #[error("the Pushgateway at {url} refused the push ({group}) with HTTP {status}: {body}{hint}")]
    Refused {
        /// The group's URL, without a password.
        url: String,
        /// The group's labels.
        group: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (the Pushgateway says why), escaped, at most
        /// [`SHOWN_BODY_BYTES`] and a note of how much was left out.
        body: String,
        /// What to do about it.
        hint: String,
    },
}

/// Sends `text` (the exposition of one output) to the target's group, replacing what it held.
pub fn push(target: &PushTarget, text: &str) -> Result<(), PushError> {
    let url = target.group_url();
    let shown = redact(&url);
    let mut config = ureq::Agent::config_builder()
        .timeout_global(Some(target.timeout))
        .timeout_connect(Some(CONNECT_TIMEOUT.min(target.timeout)))
        .http_status_as_error(false)
        // With 0, ureq returns the 3xx itself instead of following it (issue 10).
        .max_redirects(0)
        .user_agent(concat!("xml2prom/", env!("CARGO_PKG_VERSION")));
    if url.starts_with("https://") {
        config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(target.trust.root_certs())
                .build(),
        );
    }
    let agent: ureq::Agent = config.build().into();
    let transport = |error: ureq::Error| {
        let hint = if matches!(error, ureq::Error::Timeout(_)) {
            format!(
                ", or give it more time with --push-timeout (now {})",
                Friendly(target.timeout)
            )
        } else if is_certificate_error(&error) {
            target.trust.hint()
        } else {
            String::new()
        };
        PushError::Transport {
            url: shown.clone(),
            group: target.group(),
            reason: shortened(describe(&error).as_bytes(), SHOWN_BODY_BYTES, Length::All),
            hint,
        }
    };
    let mut response = agent
        .put(&url)
        .header("Content-Type", CONTENT_TYPE)
        .send(text)
        .map_err(transport)?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    if (300..400).contains(&status) {
        let location = response.headers().get("location").map(|value| {
            let location = redact(&String::from_utf8_lossy(value.as_bytes()));
            let (text, used) = printable(location.as_bytes(), SHOWN_TEXT_BYTES);
            match location.len() - used {
                0 => format!("`{text}`"),
                left => format!("`{text}…` ({left} more bytes)"),
            }
        });
        return Err(PushError::Redirected {
            url: shown,
            group: target.group(),
            status,
            location,
        });
    }
    // The Pushgateway explains a refusal in the body. Read only what a message shows and a
    // bound past it (issue 10: a 50 MB body); a partial or unreadable body still leaves the
    // status to report.
    let announced: Option<u64> = response
        .headers()
        .get("content-length")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok());
    let limit = SHOWN_BODY_BYTES + BODY_READ_BOUND;
    let mut bytes = Vec::new();
    let read = response
        .body_mut()
        .as_reader()
        .take(limit as u64)
        .read_to_end(&mut bytes);
    let length = if read.is_ok() && bytes.len() < limit {
        Length::All
    } else {
        match announced {
            Some(total) if total >= bytes.len() as u64 => Length::Total(total),
            _ => Length::Unknown,
        }
    };
    let body = shortened(&bytes, SHOWN_BODY_BYTES, length);
    let hint = match status {
        400 => "; the Pushgateway could not take these metrics as they are (the message above \
                says which); a metric with the same name but another HELP or type in another \
                group is a common cause"
            .to_owned(),
        401 | 403 => {
            "; the Pushgateway needs credentials, e.g. `--push https://user:password@host`"
                .to_owned()
        }
        404 | 405 => {
            "; check that --push is the Pushgateway's base URL (with its route prefix, if \
                      it has one)"
                .to_owned()
        }
        _ => String::new(),
    };
    Err(PushError::Refused {
        url: shown,
        group: target.group(),
        status,
        body: if body.is_empty() {
            "(no message)".to_owned()
        } else {
            body
        },
        hint,
    })
}

/// Whether the TLS handshake failed on the server's certificate (an unknown CA, a wrong name).
pub(crate) fn is_certificate_error(error: &ureq::Error) -> bool {
    let rustls = match error {
        ureq::Error::Rustls(rustls) => Some(rustls),
        ureq::Error::Io(io) => io.get_ref().and_then(|inner| inner.downcast_ref()),
        _ => None,
    };
    matches!(rustls, Some(rustls::Error::InvalidCertificate(_)))
}

/// An HTTP client error in a user's words.
pub(crate) fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".to_owned()
        }
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::HostNotFound => "the host name is not known".to_owned(),
        ureq::Error::ConnectionFailed => "the connection failed".to_owned(),
        ureq::Error::Timeout(_) => "no answer in time".to_owned(),
        other => other.to_string(),
    }
}

/// How much text there is beside the bytes at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    /// The bytes are all of it.
    All,
    /// The bytes are its start; the whole is this long (`Content-Length`).
    Total(u64),
    /// The bytes are its start; how much follows is not known.
    Unknown,
}

/// `bytes` (text from the server) as [`printable`] text of at most `max` bytes; when that cuts
/// it, `…` and how many bytes were left out (`at least` when `length` does not say). ASCII
/// spaces and line ends around a whole text are dropped; an empty text gives an empty string.
fn shortened(bytes: &[u8], max: usize, length: Length) -> String {
    let length = match length {
        Length::Total(total) if total == bytes.len() as u64 => Length::All,
        length => length,
    };
    let trimmed = match length {
        Length::All => bytes.trim_ascii(),
        Length::Total(_) | Length::Unknown => bytes.trim_ascii_start(),
    };
    let dropped_at_start = (bytes.len() - trimmed.len()) as u64;
    let (text, used) = printable(trimmed, max);
    let left = (trimmed.len() - used) as u64;
    match length {
        Length::All if left == 0 => text,
        Length::All => format!("{text}… ({left} more bytes)"),
        Length::Total(total) => format!(
            "{text}… ({} more bytes)",
            total.saturating_sub(dropped_at_start + used as u64)
        ),
        Length::Unknown => format!("{text}… (at least {left} more bytes)"),
    }
}

/// `bytes` as text that is safe on one line of a terminal or a log, at most `max` bytes long,
/// and how many bytes of `bytes` it shows. Line ends and tabs become `\n`, `\r`, `\t`; other
/// control characters (C0, DEL, C1, so no terminal escape sequence gets through) and the
/// invisible characters that reorder or break lines (bidirectional controls, U+2028, U+2029)
/// become `\u{1b}`; bytes that are not UTF-8 become U+FFFD. Nothing is cut inside a character
/// or an escape.
///
/// ```text
/// "bad\x1b[2J\nnext" -> bad\u{1b}[2J\nnext
/// ```
pub fn printable(bytes: &[u8], max: usize) -> (String, usize) {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut used = 0;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let start = out.len();
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control()
                    || matches!(
                        c,
                        '\u{061c}'
                            | '\u{200e}'
                            | '\u{200f}'
                            | '\u{2028}'..='\u{202e}'
                            | '\u{2066}'..='\u{2069}'
                    ) =>
                {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
                c => out.push(c),
            }
            if out.len() > max {
                out.truncate(start);
                return (out, used);
            }
            used += c.len_utf8();
        }
        let invalid = chunk.invalid();
        if !invalid.is_empty() {
            if out.len() + '\u{fffd}'.len_utf8() > max {
                return (out, used);
            }
            out.push('\u{fffd}');
            used += invalid.len();
        }
    }
    (out, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(name: &str, value: &str) -> (LabelName, String) {
        (
            LabelName::parse(name).expect("valid name"),
            value.to_owned(),
        )
    }

    fn target(url: &str, job: &str, grouping: Vec<(LabelName, String)>) -> PushTarget {
        PushTarget::new(url, job, grouping, Duration::from_secs(10)).expect("valid target")
    }

    #[test]
    fn plain_values_go_as_they_are_others_in_base64() {
        assert_eq!(segment("job", "store-1.a_b~c"), "job/store-1.a_b~c");
        assert_eq!(segment("path", "/srv/a"), "path@base64/L3Nydi9h");
        assert_eq!(segment("empty", ""), "empty@base64/=");
        // `?` and `>` would be `/` and `+` in the standard alphabet: the URL-safe one is used.
        assert_eq!(segment("x", "??>"), "x@base64/Pz8-");
        assert_eq!(segment("city", "Zürich"), "city@base64/WsO8cmljaA");
        assert_eq!(segment("sp", "a b"), "sp@base64/YSBi");
    }

    #[test]
    fn the_group_url_has_the_job_then_the_grouping_labels_in_order() {
        let t = target(
            "https://gw.example:9091/prefix/",
            "nightly/backup",
            vec![label("site", "paris"), label("instance", "")],
        );
        assert_eq!(
            t.group_url(),
            "https://gw.example:9091/prefix/metrics/job@base64/bmlnaHRseS9iYWNrdXA\
             /site/paris/instance@base64/="
        );
        assert_eq!(
            t.group(),
            r#"job="nightly/backup", site="paris", instance="""#
        );
    }

    #[test]
    fn bad_targets_are_refused_with_what_to_do() {
        let ten = Duration::from_secs(10);
        for (url, job, grouping, timeout, expected) in [
            (
                "pushgateway:9091",
                "j",
                vec![],
                ten,
                "not an http:// or https:// URL",
            ),
            ("http://", "j", vec![], ten, "names no host"),
            (
                "http://gw/?a=1",
                "j",
                vec![],
                ten,
                "has a query or fragment",
            ),
            (
                "http://gw/metrics/job/x",
                "j",
                vec![],
                ten,
                "already has a /metrics path",
            ),
            ("http://gw", "", vec![], ten, "--job is empty"),
            (
                "http://gw",
                "j",
                vec![label("job", "x")],
                ten,
                "`job` is set with --job",
            ),
            (
                "http://gw",
                "j",
                vec![label("a", "1"), label("a", "2")],
                ten,
                "--grouping a is given twice",
            ),
            ("http://gw", "j", vec![], Duration::ZERO, "more than 0s"),
        ] {
            let error = PushTarget::new(url, job, grouping, timeout).expect_err(url);
            assert!(error.contains(expected), "{url}: {error}");
        }
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("https://ops:s3cret@gw:9091/metrics/job/a"),
            "https://ops:***@gw:9091/metrics/job/a"
        );
        assert_eq!(redact("http://gw:9091"), "http://gw:9091");
        let error = PushTarget::new("ftp://ops:s3cret@gw", "j", vec![], Duration::from_secs(1))
            .expect_err("not http");
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn server_text_is_escaped_onto_one_line_and_never_cut_inside_a_character() {
        let shown = |bytes: &[u8], max| printable(bytes, max);
        assert_eq!(
            shown(b"a\x1b[31mb\r\n\tc\x7f", 100),
            ("a\\u{1b}[31mb\\r\\n\\tc\\u{7f}".to_owned(), 12)
        );
        // C1 controls (a one-character CSI), bidirectional overrides and line separators.
        assert_eq!(
            shown("\u{9b}2J\u{202e}x\u{2028}".as_bytes(), 100).0,
            "\\u{9b}2J\\u{202e}x\\u{2028}"
        );
        // Not UTF-8: one replacement character per bad sequence, every byte counted.
        assert_eq!(
            shown(b"a\xff\xfeb", 100),
            ("a\u{fffd}\u{fffd}b".to_owned(), 4)
        );
        // The limit is on the text shown: an escape or a character is left out whole.
        assert_eq!(shown(b"abc\x1b", 8), ("abc".to_owned(), 3));
        assert_eq!(shown("abü".as_bytes(), 3), ("ab".to_owned(), 2));
        assert_eq!(shown(b"", 3), (String::new(), 0));
    }

    #[test]
    fn shortened_text_says_how_much_was_left_out() {
        let text = [b'x'; 20];
        assert_eq!(
            shortened(&text, 8, Length::All),
            "xxxxxxxx… (12 more bytes)"
        );
        assert_eq!(
            shortened(&text, 8, Length::Total(1000)),
            "xxxxxxxx… (992 more bytes)"
        );
        assert_eq!(
            shortened(&text, 8, Length::Unknown),
            "xxxxxxxx… (at least 12 more bytes)"
        );
        // A whole text is trimmed and shown without a note when it fits.
        assert_eq!(
            shortened(b"  bad input\n", 64, Length::Total(12)),
            "bad input"
        );
        assert_eq!(shortened(b"\n", 64, Length::All), "");
        // Leading spaces of a start count among the bytes not shown only once.
        assert_eq!(
            shortened(b"  abcdef", 3, Length::Total(10)),
            "abc… (5 more bytes)"
        );
    }

    #[test]
    fn a_ca_file_is_checked_when_it_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not PEM at all\n").expect("write");
        let error = Trust::from_ca_file(&path).expect_err("no certificate");
        assert!(
            error.ends_with(
                "holds no PEM certificate; give a PEM file with the certificate of the CA that \
             signed the Pushgateway's certificate (-----BEGIN CERTIFICATE-----)"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_closed_port_is_a_clear_transport_error() {
        // Bind a port, then free it: nothing listens there for the moment of the test.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let t = target(&format!("http://127.0.0.1:{port}"), "store", vec![]);
        let message = push(&t, "a 1\n").expect_err("nothing listens").to_string();
        assert!(
            message.starts_with(&format!(
                "cannot push to the Pushgateway at http://127.0.0.1:{port}/metrics/job/store \
                 (job=\"store\"): connection refused"
            )),
            "{message}"
        );
    }

    #[test]
    fn a_pushgateway_that_never_answers_times_out() {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        // Accepts, reads, never answers; ends when the client gives up (or after 10 s).
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("one connection");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            let mut buffer = [0; 4096];
            while matches!(stream.read(&mut buffer), Ok(n) if n > 0) {}
        });
        let t = PushTarget::new(
            &format!("http://127.0.0.1:{port}"),
            "store",
            vec![],
            Duration::from_millis(500),
        )
        .expect("valid target");
        let start = std::time::Instant::now();
        let message = push(&t, "a 1\n").expect_err("no answer").to_string();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(
            message.contains(
                "no answer in time; check that it runs and that --push names it, or give it \
                 more time with --push-timeout (now 500ms)"
            ),
            "{message}"
        );
        server.join().expect("server");
    }

    #[test]
    fn an_error_status_is_reported_with_the_body() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("one connection");
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            // Read the head and the 4-byte body; the request is small.
            let mut request = Vec::new();
            let mut buffer = [0; 4096];
            while !request.ends_with(b"a 1\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let body = "pushed metrics are invalid or inconsistent";
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            String::from_utf8_lossy(&request).into_owned()
        });
        let t = target(&format!("http://127.0.0.1:{port}"), "store", vec![]);
        let message = push(&t, "a 1\n").expect_err("refused").to_string();
        let request = server.join().expect("server");
        assert!(
            request.starts_with("PUT /metrics/job/store HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request
                .to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{request}"
        );
        assert!(
            message.contains(
                "refused the push (job=\"store\") with HTTP 400: pushed metrics are invalid"
            ),
            "{message}"
        );
    }
}
