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

use std::time::Duration;

use base64::Engine as _;

use crate::rulefile::LabelName;

/// The content type of the text exposition format the Pushgateway parses.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The longest connect phase, within the total timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of an error response's body goes into the message.
const MAX_ERROR_BODY: u64 = 4096;

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
        })
    }

    /// The URL of the group: base URL, then `/metrics/job/JOB`, then one `/LABEL/VALUE` per
    /// grouping label.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use xml2prom::push::PushTarget;
    /// # use xml2prom::rulefile::LabelName;
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
        /// What went wrong.
        reason: String,
        /// More advice for timeouts.
        hint: String,
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
        /// The start of the response body: the Pushgateway says why.
        body: String,
        /// What to do about it.
        hint: String,
    },
}

/// Sends `text` (the exposition of one output) to the target's group, replacing what it held.
pub fn push(target: &PushTarget, text: &str) -> Result<(), PushError> {
    let url = target.group_url();
    let shown = redact(&url);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(target.timeout))
        .timeout_connect(Some(CONNECT_TIMEOUT.min(target.timeout)))
        .http_status_as_error(false)
        .user_agent(concat!("xml2prom/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let transport = |error: ureq::Error| {
        let hint = match error {
            ureq::Error::Timeout(_) => format!(
                ", or give it more time with --push-timeout (now {})",
                humantime::format_duration(target.timeout)
            ),
            _ => String::new(),
        };
        PushError::Transport {
            url: shown.clone(),
            group: target.group(),
            reason: describe(&error),
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
    // The Pushgateway explains a refusal in the body; a partial or unreadable body still
    // leaves the status to report.
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ERROR_BODY)
        .read_to_string()
        .unwrap_or_default();
    let body = body.trim();
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
            body.to_owned()
        },
        hint,
    })
}

/// An HTTP client error in a user's words.
fn describe(error: &ureq::Error) -> String {
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
