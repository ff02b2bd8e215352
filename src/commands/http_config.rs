//! The `--input-http-config` file: how HTTP(S) inputs authenticate and which TLS they trust,
//! read once at start into an [`HttpConfig`].
//!
//! The file is a subset of Prometheus's `http_config` (the keys of a scrape job that say how to
//! reach a target), so that what a Prometheus job already holds can be copied over:
//!
//! ```yaml
//! basic_auth: { username: stats, password_file: /etc/xml2prom/bind.password }
//! # or: authorization: { type: Bearer, credentials_file: /etc/xml2prom/token }
//! # or: bearer_token_file: /etc/xml2prom/token
//! headers: { X-Scope: bind }
//! tls_config: { ca_file: ca.pem, cert_file: client.pem, key_file: client.key }
//! ```
//!
//! Secrets come from files, so that none sits on the command line or in `ps`; a relative path is
//! taken from the config file's directory, as Prometheus does. An unknown key is refused with
//! its `file:line:column`. Secrets are held as [`Secret`], whose `Debug` shows `***`, and no
//! message names one.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The largest config, password, token or certificate file read: a CA bundle is a few hundred
/// KiB.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// A credential; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The credential, for the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How HTTP(S) inputs are fetched, checked: the headers of every request (credentials
/// included) and the TLS settings.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// The `Authorization` header's value (`Basic ...` or `Bearer ...`), if any.
    pub authorization: Option<Secret>,
    /// More headers, in name order.
    pub headers: Vec<(String, String)>,
    /// The CA certificates (DER) that alone are trusted; empty: the system's store.
    pub ca_certificates: Vec<Vec<u8>>,
    /// A client certificate chain (DER) and its private key (PEM), for mutual TLS.
    pub client_cert: Option<(Vec<Vec<u8>>, Secret)>,
    /// Accept any server certificate (`insecure_skip_verify: true`).
    pub insecure_skip_verify: bool,
}

/// The file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    basic_auth: Option<RawBasicAuth>,
    authorization: Option<RawAuthorization>,
    bearer_token_file: Option<PathBuf>,
    headers: Option<BTreeMap<String, String>>,
    tls_config: Option<RawTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasicAuth {
    username: String,
    password: Option<String>,
    password_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthorization {
    #[serde(rename = "type")]
    kind: Option<String>,
    credentials: Option<String>,
    credentials_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    #[serde(default)]
    insecure_skip_verify: bool,
}

/// `--input-http-config` cannot be used. The message never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum HttpConfigError {
    /// The file, or a file it names, cannot be read.
    #[error("--input-http-config {}: cannot read {}: {source}", config.display(), path.display())]
    Read {
        /// The config file.
        config: PathBuf,
        /// The file that cannot be read (the config itself or one it names).
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not have the expected shape: an unknown key, a wrong type.
    #[error(
        "{}:{line}:{column}: {message}; the keys are basic_auth, authorization, \
         bearer_token_file, headers and tls_config, as in Prometheus's http_config",
        config.display()
    )]
    Syntax {
        /// The config file.
        config: PathBuf,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// serde_yaml's message.
        message: String,
    },
    /// Keys that are valid alone but not together, or a value that cannot be used.
    #[error("--input-http-config {}: {key}: {problem}", config.display())]
    Invalid {
        /// The config file.
        config: PathBuf,
        /// The key, e.g. `basic_auth`.
        key: String,
        /// What is wrong and what to do.
        problem: String,
    },
}

/// Reads a file of at most [`MAX_FILE_BYTES`].
fn read_bounded(config: &Path, path: &Path) -> Result<Vec<u8>, HttpConfigError> {
    let error = |source| HttpConfigError::Read {
        config: config.to_owned(),
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(error(std::io::Error::other(format!(
            "it is larger than {} MiB",
            MAX_FILE_BYTES >> 20
        ))));
    }
    Ok(bytes)
}

impl HttpConfig {
    /// Reads and checks the file, and the password, token and certificate files it names.
    pub fn load(path: &Path) -> Result<HttpConfig, HttpConfigError> {
        let text = read_bounded(path, path)?;
        let text = String::from_utf8(text).map_err(|_| HttpConfigError::Invalid {
            config: path.to_owned(),
            key: "(file)".to_owned(),
            problem: "is not UTF-8 text; write it as YAML in UTF-8".to_owned(),
        })?;
        HttpConfig::parse(&text, path)
    }

    /// Checks the text of the file at `path` (the directory that relative paths start from).
    pub fn parse(text: &str, path: &Path) -> Result<HttpConfig, HttpConfigError> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_yaml::from_str(text).map_err(|error| {
                let (line, column) = error
                    .location()
                    .map_or((1, 1), |at| (at.line(), at.column()));
                HttpConfigError::Syntax {
                    config: path.to_owned(),
                    line,
                    column,
                    message: error.to_string(),
                }
            })?
        };
        let base = path.parent().unwrap_or(Path::new(""));
        let resolve = |file: &Path| base.join(file);
        let invalid = |key: &str, problem: &str| HttpConfigError::Invalid {
            config: path.to_owned(),
            key: key.to_owned(),
            problem: problem.to_owned(),
        };
        let secret_file = |file: &Path, key: &str| -> Result<Secret, HttpConfigError> {
            let bytes = read_bounded(path, &resolve(file))?;
            let text =
                String::from_utf8(bytes).map_err(|_| invalid(key, "the file is not UTF-8 text"))?;
            // As Prometheus does: a trailing line end is not part of the secret.
            let text = text.trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                return Err(invalid(
                    key,
                    "the file is empty; write the credential into it",
                ));
            }
            Ok(Secret(text.to_owned()))
        };
        let given = [
            raw.basic_auth.is_some(),
            raw.authorization.is_some(),
            raw.bearer_token_file.is_some(),
        ];
        if given.iter().filter(|&&g| g).count() > 1 {
            return Err(invalid(
                "basic_auth",
                "basic_auth, authorization and bearer_token_file exclude each other; keep one",
            ));
        }
        let mut authorization = None;
        if let Some(basic) = raw.basic_auth {
            let password = match (basic.password, basic.password_file) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "basic_auth",
                        "give password or password_file, not both",
                    ));
                }
                (Some(password), None) => Secret(password),
                (None, Some(file)) => secret_file(&file, "basic_auth.password_file")?,
                (None, None) => Secret(String::new()),
            };
            if basic.username.contains(':') {
                return Err(invalid(
                    "basic_auth.username",
                    "a user name cannot contain `:` in HTTP basic authentication",
                ));
            }
            use base64::Engine as _;
            let pair = format!("{}:{}", basic.username, password.expose());
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            authorization = Some(Secret(format!("Basic {encoded}")));
        }
        if let Some(auth) = raw.authorization {
            let kind = auth.kind.unwrap_or_else(|| "Bearer".to_owned());
            if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(invalid(
                    "authorization.type",
                    "is not an HTTP authentication scheme; write e.g. `Bearer`",
                ));
            }
            if kind.eq_ignore_ascii_case("basic") {
                return Err(invalid(
                    "authorization.type",
                    "use basic_auth for Basic authentication",
                ));
            }
            let credentials = match (auth.credentials, auth.credentials_file) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "authorization",
                        "give credentials or credentials_file, not both",
                    ));
                }
                (Some(credentials), None) => Secret(credentials),
                (None, Some(file)) => secret_file(&file, "authorization.credentials_file")?,
                (None, None) => {
                    return Err(invalid(
                        "authorization",
                        "give credentials_file (a file holding the token)",
                    ));
                }
            };
            authorization = Some(Secret(format!("{kind} {}", credentials.expose())));
        }
        if let Some(file) = raw.bearer_token_file {
            let token = secret_file(&file, "bearer_token_file")?;
            authorization = Some(Secret(format!("Bearer {}", token.expose())));
        }
        if let Some(Secret(value)) = &authorization
            && value.contains(['\r', '\n'])
        {
            return Err(invalid(
                "authorization",
                "the credential holds a line break; write it on one line",
            ));
        }
        let mut headers = Vec::new();
        for (name, value) in raw.headers.unwrap_or_default() {
            let key = format!("headers.{name}");
            let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            if name.is_empty() || !name.bytes().all(token) {
                return Err(invalid(&key, "is not a valid HTTP header name"));
            }
            if name.eq_ignore_ascii_case("authorization") {
                return Err(invalid(
                    &key,
                    "set credentials with basic_auth, authorization or bearer_token_file, \
                     which read them from a file",
                ));
            }
            if value.contains(['\r', '\n', '\0']) {
                return Err(invalid(&key, "the value holds a line break or a NUL"));
            }
            headers.push((name, value));
        }
        let tls = raw.tls_config.unwrap_or_default();
        let ca_certificates = match &tls.ca_file {
            Some(file) => {
                let certificates = certificates(&read_bounded(path, &resolve(file))?);
                if certificates.is_empty() {
                    return Err(invalid(
                        "tls_config.ca_file",
                        "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    ));
                }
                certificates
            }
            None => Vec::new(),
        };
        let client_cert = match (&tls.cert_file, &tls.key_file) {
            (Some(cert), Some(key)) => {
                let chain = certificates(&read_bounded(path, &resolve(cert))?);
                if chain.is_empty() {
                    return Err(invalid(
                        "tls_config.cert_file",
                        "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    ));
                }
                let key_pem = read_bounded(path, &resolve(key))?;
                if ureq::tls::PrivateKey::from_pem(&key_pem).is_err() {
                    return Err(invalid(
                        "tls_config.key_file",
                        "holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
                    ));
                }
                let key_pem = String::from_utf8(key_pem)
                    .map_err(|_| invalid("tls_config.key_file", "is not PEM text"))?;
                Some((chain, Secret(key_pem)))
            }
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "tls_config",
                    "cert_file and key_file go together; give both or neither",
                ));
            }
        };
        Ok(HttpConfig {
            authorization,
            headers,
            ca_certificates,
            client_cert,
            insecure_skip_verify: tls.insecure_skip_verify,
        })
    }
}

/// The certificates (DER) of a PEM file, skipping other items.
fn certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(certificate)) => Some(certificate.der().to_vec()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HttpConfig, String> {
        HttpConfig::parse(text, Path::new("/etc/xml2prom/http.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_file_is_no_authentication() {
        let config = parse("").expect("empty");
        assert!(config.authorization.is_none() && config.headers.is_empty());
    }

    #[test]
    fn basic_auth_becomes_the_header_and_never_shows() {
        let config = parse("basic_auth: { username: stats, password: s3cret }\n").expect("ok");
        let header = config.authorization.clone().expect("set");
        // base64("stats:s3cret")
        assert_eq!(header.expose(), "Basic c3RhdHM6czNjcmV0");
        assert!(!format!("{config:?}").contains("c3RhdHM6czNjcmV0"));
    }

    #[test]
    fn secrets_are_read_from_files_beside_the_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("token"), "abc\n").expect("token");
        let config = HttpConfig::parse(
            "authorization: { credentials_file: token }\nheaders: { X-Scope: bind }\n",
            &dir.path().join("http.yaml"),
        )
        .expect("ok");
        assert_eq!(config.authorization.expect("set").expose(), "Bearer abc");
        assert_eq!(config.headers, [("X-Scope".to_owned(), "bind".to_owned())]);
        let config = HttpConfig::parse("bearer_token_file: token\n", &dir.path().join("h.yaml"))
            .expect("ok");
        assert_eq!(config.authorization.expect("set").expose(), "Bearer abc");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let message = parse("basic_auth:\n  username: a\n  pasword: b\n").expect_err("typo");
        assert!(
            message.starts_with("/etc/xml2prom/http.yaml:3:3: basic_auth: unknown field `pasword`"),
            "{message}"
        );
        let message = parse("proxy_url: http://proxy\n").expect_err("unsupported");
        assert!(
            message.starts_with("/etc/xml2prom/http.yaml:1:1: unknown field"),
            "{message}"
        );
    }

    #[test]
    fn conflicting_or_unusable_keys_are_refused_without_the_secret() {
        for (text, expected) in [
            (
                "basic_auth: { username: a, password: hunter2 }\nbearer_token_file: t\n",
                "exclude each other",
            ),
            (
                "basic_auth: { username: a, password: hunter2, password_file: f }\n",
                "not both",
            ),
            (
                "headers: { Authorization: hunter2 }\n",
                "read them from a file",
            ),
            (
                "headers: { 'Bad Name': x }\n",
                "not a valid HTTP header name",
            ),
            ("tls_config: { cert_file: c.pem }\n", "go together"),
            (
                "authorization: { type: Basic, credentials: hunter2 }\n",
                "use basic_auth",
            ),
            ("authorization: { type: Bearer }\n", "credentials_file"),
        ] {
            let message = parse(text).expect_err(text);
            assert!(message.contains(expected), "{text}: {message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn a_missing_secret_file_is_named() {
        let message = parse("bearer_token_file: missing-token\n").expect_err("missing");
        assert!(
            message.contains("cannot read /etc/xml2prom/missing-token"),
            "{message}"
        );
    }
}
