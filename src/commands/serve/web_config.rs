//! Serve's web configuration: the `--web.config.file` of Prometheus' exporter-toolkit, read
//! once at start.
//!
//! YAML text -> [`WebConfigFile`] (serde structs shaped like the file, unknown keys refused with
//! their line and column, and the toolkit keys xml2prom does not implement refused by name) ->
//! [`WebConfig`]: a rustls server configuration with its certificates loaded, the extra
//! response headers checked against the toolkit's allowed set, and the basic-auth users with
//! their bcrypt hashes parsed. Anything wrong is a [`WebConfigError`], exit code 2.
//!
//! The format is <https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md>.
//! Relative paths in the file are relative to the file's folder, as in the toolkit. Unlike the
//! toolkit, the file is not read again on each connection: certificates are loaded at start.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use hyper::header::{HeaderName, HeaderValue};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use serde::de::{self, Deserializer};

/// Why the web configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file cannot be read.
    #[error("cannot read the web configuration {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// A key or value is wrong; `line` and `column` when YAML knows where.
    #[error("{}{}: {message}", path.display(), at.map_or(String::new(), |(l, c)| format!(":{l}:{c}")))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Line and column (from 1).
        at: Option<(usize, usize)>,
        /// What is wrong and what to do.
        message: String,
    },
}

/// The file as written: the three sections of the exporter-toolkit format.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
// The refused keys are read only to be refused.
#[allow(dead_code)]
struct WebConfigFile {
    /// `tls_server_config`.
    #[serde(default)]
    tls_server_config: Option<TlsServerConfig>,
    /// `http_server_config`.
    #[serde(default)]
    http_server_config: Option<HttpServerConfig>,
    /// `basic_auth_users`: user name -> bcrypt hash.
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "refuse_rate_limit")]
    rate_limit: Option<()>,
}

/// `tls_server_config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
// The refused keys are read only to be refused.
#[allow(dead_code)]
struct TlsServerConfig {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    #[serde(default)]
    client_auth_type: ClientAuth,
    client_ca_file: Option<PathBuf>,
    min_version: Option<TlsVersion>,
    max_version: Option<TlsVersion>,
    #[serde(default, deserialize_with = "refuse_client_allowed_sans")]
    client_allowed_sans: Option<()>,
    #[serde(default, deserialize_with = "refuse_cipher_suites")]
    cipher_suites: Option<()>,
    #[serde(default, deserialize_with = "refuse_prefer_server_cipher_suites")]
    prefer_server_cipher_suites: Option<()>,
    #[serde(default, deserialize_with = "refuse_curve_preferences")]
    curve_preferences: Option<()>,
}

/// `http_server_config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
// The refused keys are read only to be refused.
#[allow(dead_code)]
struct HttpServerConfig {
    #[serde(default, deserialize_with = "http2")]
    http2: Option<()>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// `client_auth_type`: the three policies rustls can enforce.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    #[default]
    NoClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl<'de> Deserialize<'de> for ClientAuth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Checked(|text| match text {
            "NoClientCert" => Ok(ClientAuth::NoClientCert),
            "VerifyClientCertIfGiven" => Ok(ClientAuth::VerifyClientCertIfGiven),
            "RequireAndVerifyClientCert" => Ok(ClientAuth::RequireAndVerifyClientCert),
            "RequestClientCert" | "RequireAnyClientCert" => Err(format!(
                "client_auth_type `{text}` accepts certificates nobody verified, which xml2prom \
                 does not do; use RequireAndVerifyClientCert with a client_ca_file"
            )),
            other => Err(format!(
                "client_auth_type `{other}` is not one of NoClientCert, \
                 VerifyClientCertIfGiven, RequireAndVerifyClientCert"
            )),
        }))
    }
}

/// `min_version` and `max_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TlsVersion {
    Tls12,
    Tls13,
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Checked(|text| match text {
            "TLS12" => Ok(TlsVersion::Tls12),
            "TLS13" => Ok(TlsVersion::Tls13),
            "TLS10" | "TLS11" => Err(format!(
                "`{text}` is not offered: xml2prom's TLS (rustls) speaks TLS12 and TLS13 only"
            )),
            other => Err(format!(
                "`{other}` is not a TLS version; use TLS12 or TLS13"
            )),
        }))
    }
}

/// Runs a check inside `deserialize_str`, while serde_yaml still knows where the value is.
struct Checked<T>(fn(&str) -> Result<T, String>);

impl<'de, T> de::Visitor<'de> for Checked<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        (self.0)(s).map_err(E::custom)
    }
}

/// Fails on any value with its message, through `deserialize_any` so that serde_yaml adds the
/// value's line and column.
struct Refuse {
    message: &'static str,
    /// Whether `false` is accepted: it asks for what xml2prom does anyway.
    false_is_fine: bool,
}

impl<'de> de::Visitor<'de> for Refuse {
    type Value = Option<()>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("nothing")
    }
    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        if !value && self.false_is_fine {
            return Ok(None);
        }
        Err(E::custom(self.message))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(E::custom(self.message))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(E::custom(self.message))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(E::custom(self.message))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(E::custom(self.message))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(self.message))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(self.message))
    }
}

/// One function per toolkit key that xml2prom refuses, each with its reason.
macro_rules! refuse {
    ($($name:ident($false_is_fine:expr): $message:expr;)*) => {$(
        fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<()>, D::Error> {
            d.deserialize_any(Refuse { message: $message, false_is_fine: $false_is_fine })
        }
    )*};
}

refuse! {
    refuse_rate_limit(false): "not supported by xml2prom; remove it (a scrape of unchanged \
        inputs is served from the cache)";
    refuse_client_allowed_sans(false): "not supported by xml2prom; remove it, or give the \
        clients certificates from a CA of their own in client_ca_file";
    refuse_cipher_suites(false): "not supported by xml2prom; remove it (rustls offers only \
        suites considered safe)";
    refuse_prefer_server_cipher_suites(false): "not supported by xml2prom; remove it";
    refuse_curve_preferences(false): "not supported by xml2prom; remove it";
    http2(true): "xml2prom serves HTTP/1.1 only; remove it or set it to false";
}

/// The toolkit's allowed response headers and, for two of them, the allowed values.
const HEADERS: [(&str, Option<&[&str]>); 5] = [
    ("Content-Security-Policy", None),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-XSS-Protection", None),
    ("Strict-Transport-Security", None),
];

/// The checked web configuration.
#[derive(Default)]
pub struct WebConfig {
    /// TLS, when `tls_server_config` has a certificate.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Headers added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Basic authentication, when `basic_auth_users` has users.
    pub basic_auth: Option<BasicAuth>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("headers", &self.headers)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|a| a.users.len()),
            )
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks `path`, loading the certificates it names.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| WebConfigError::Read {
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new(""));
        WebConfig::parse(&text, dir).map_err(|(at, message)| WebConfigError::Invalid {
            path: path.to_owned(),
            at,
            message,
        })
    }

    /// Checks `text`; relative paths are taken from `dir`. An error has its line and column
    /// when the YAML has them.
    fn parse(text: &str, dir: &Path) -> Result<WebConfig, (Option<(usize, usize)>, String)> {
        let file: Option<WebConfigFile> = serde_yaml::from_str(text).map_err(|error| {
            let at = error.location().map(|l| (l.line(), l.column()));
            let mut message = error.to_string();
            // serde_yaml ends its message with the position, which we put in front.
            if let Some(cut) = message.find(" at line ") {
                message.truncate(cut);
            }
            (at, message)
        })?;
        let file = file.unwrap_or_default();
        let problem = |message: String| (None, message);
        let mut config = WebConfig::default();
        if let Some(tls) = file.tls_server_config {
            config.tls = tls_config(&tls, dir).map_err(problem)?.map(Arc::new);
        }
        if let Some(http) = file.http_server_config {
            for (name, value) in &http.headers {
                config.headers.push(header(name, value).map_err(problem)?);
            }
        }
        if let Some(users) = file.basic_auth_users.filter(|u| !u.is_empty()) {
            config.basic_auth = Some(BasicAuth::new(users).map_err(problem)?);
        }
        Ok(config)
    }
}

/// One `http_server_config.headers` entry, checked as the toolkit checks it.
fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let Some((known, allowed)) = HEADERS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) else {
        let names: Vec<&str> = HEADERS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "http_server_config.headers: `{name}` cannot be set; the headers that can are {}",
            names.join(", ")
        ));
    };
    if let Some(allowed) = allowed
        && !allowed.iter().any(|a| a.eq_ignore_ascii_case(value))
    {
        return Err(format!(
            "http_server_config.headers.{known}: `{value}` is not allowed; use {}",
            allowed.join(" or ")
        ));
    }
    let value = HeaderValue::from_str(value).map_err(|_| {
        format!("http_server_config.headers.{known}: `{value}` is not a valid header value")
    })?;
    let name = HeaderName::from_bytes(known.as_bytes())
        .expect("the names in HEADERS are valid header names");
    Ok((name, value))
}

/// The rustls configuration of `tls_server_config`, or `None` if it is empty.
fn tls_config(tls: &TlsServerConfig, dir: &Path) -> Result<Option<rustls::ServerConfig>, String> {
    let section = "tls_server_config";
    let nothing = tls.cert.is_none()
        && tls.key.is_none()
        && tls.cert_file.is_none()
        && tls.key_file.is_none()
        && tls.client_ca.is_none()
        && tls.client_ca_file.is_none()
        && tls.client_auth_type == ClientAuth::NoClientCert;
    if nothing {
        return Ok(None);
    }
    let at = |file: &Path| dir.join(file);
    let certs: Vec<CertificateDer<'static>> = match (&tls.cert, &tls.cert_file) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{section}: `cert` and `cert_file` are both set; keep one"
            ));
        }
        (None, None) => return Err(format!("{section}: `cert_file` is missing")),
        (Some(pem), None) => CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{section}.cert: {e}"))?,
        (None, Some(file)) => CertificateDer::pem_file_iter(at(file))
            .and_then(Iterator::collect)
            .map_err(|e| format!("{section}.cert_file {}: {e}", at(file).display()))?,
    };
    if certs.is_empty() {
        return Err(format!(
            "{section}: the certificate holds no PEM CERTIFICATE block"
        ));
    }
    let key = match (&tls.key, &tls.key_file) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{section}: `key` and `key_file` are both set; keep one"
            ));
        }
        (None, None) => return Err(format!("{section}: `key_file` is missing")),
        (Some(pem), None) => PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("{section}.key: {e}"))?,
        (None, Some(file)) => PrivateKeyDer::from_pem_file(at(file))
            .map_err(|e| format!("{section}.key_file {}: {e}", at(file).display()))?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let min = tls.min_version.unwrap_or(TlsVersion::Tls12);
    let max = tls.max_version.unwrap_or(TlsVersion::Tls13);
    if min > max {
        return Err(format!("{section}: min_version is above max_version"));
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (min..=max).contains(v))
    .map(|(_, v)| v)
    .collect();
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("{section}: {e}"))?;
    let client_cas: Option<Vec<CertificateDer<'static>>> =
        match (&tls.client_ca, &tls.client_ca_file) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{section}: `client_ca` and `client_ca_file` are both set; keep one"
                ));
            }
            (None, None) => None,
            (Some(pem), None) => Some(
                CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("{section}.client_ca: {e}"))?,
            ),
            (None, Some(file)) => Some(
                CertificateDer::pem_file_iter(at(file))
                    .and_then(Iterator::collect)
                    .map_err(|e| format!("{section}.client_ca_file {}: {e}", at(file).display()))?,
            ),
        };
    let builder = match (tls.client_auth_type, client_cas) {
        (ClientAuth::NoClientCert, None) => builder.with_no_client_auth(),
        (ClientAuth::NoClientCert, Some(_)) => {
            return Err(format!(
                "{section}: a client CA is set but client_auth_type is NoClientCert; set \
                 client_auth_type to RequireAndVerifyClientCert, or remove the client CA"
            ));
        }
        (_, None) => {
            return Err(format!(
                "{section}: client_auth_type {:?} needs a client_ca_file to verify the \
                 client certificates with",
                tls.client_auth_type
            ));
        }
        (auth, Some(cas)) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in cas {
                roots
                    .add(ca)
                    .map_err(|e| format!("{section}: a client CA certificate is unusable: {e}"))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let verifier = if auth == ClientAuth::VerifyClientCertIfGiven {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("{section}: the client CA cannot be used: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("{section}: the certificate and key do not make a pair: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(config))
}

/// How many verified user-password pairs are remembered; past that, the memory starts anew.
const VERIFIED_CAPACITY: usize = 100;

/// `basic_auth_users`, and the credentials already verified.
///
/// bcrypt is slow on purpose (about 70 ms at cost 10), so, as in the toolkit, a pair that was
/// verified once is remembered: here as a SHA-256 digest of the hash and the password, keyed by
/// user, compared in constant time. Only successes are remembered; a wrong password pays bcrypt
/// each time, one verification at a time, which also slows guessing.
pub struct BasicAuth {
    users: HashMap<String, String>,
    verified: Mutex<HashMap<String, [u8; 32]>>,
    bcrypt: Mutex<()>,
}

/// The hash checked for an unknown user, so that a wrong user name takes as long as a wrong
/// password (the toolkit does the same).
const UNKNOWN_USER_HASH: &str = "$2b$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Credentials from an `Authorization: Basic` header.
pub struct Credentials {
    user: String,
    password: Vec<u8>,
}

impl BasicAuth {
    fn new(users: BTreeMap<String, String>) -> Result<BasicAuth, String> {
        for (user, hash) in &users {
            if user.contains(':') {
                return Err(format!(
                    "basic_auth_users: `{user}` cannot be sent by a client: a user name cannot \
                     hold `:`"
                ));
            }
            hash.parse::<bcrypt::HashParts>().map_err(|e| {
                format!(
                    "basic_auth_users.{user}: not a bcrypt hash ({e}); make one with \
                     `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
                )
            })?;
        }
        Ok(BasicAuth {
            users: users.into_iter().collect(),
            verified: Mutex::new(HashMap::new()),
            bcrypt: Mutex::new(()),
        })
    }

    /// The credentials of an `Authorization` header value, if it is `Basic` and well formed.
    pub fn credentials(header: Option<&[u8]>) -> Option<Credentials> {
        let header = std::str::from_utf8(header?).ok()?.trim();
        let (scheme, encoded) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let colon = decoded.iter().position(|b| *b == b':')?;
        Some(Credentials {
            user: String::from_utf8(decoded[..colon].to_vec()).ok()?,
            password: decoded[colon + 1..].to_vec(),
        })
    }

    fn hash_of(&self, user: &str) -> &str {
        self.users
            .get(user)
            .map_or(UNKNOWN_USER_HASH, String::as_str)
    }

    fn digest(hash: &str, password: &[u8]) -> [u8; 32] {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(hash.as_bytes());
        context.update(&[0]);
        context.update(password);
        let mut digest = [0; 32];
        digest.copy_from_slice(context.finish().as_ref());
        digest
    }

    /// `Some(true)` if these credentials were verified before; `None` if bcrypt must say.
    pub fn remembered(&self, credentials: &Credentials) -> Option<bool> {
        let digest = BasicAuth::digest(self.hash_of(&credentials.user), &credentials.password);
        let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        let known = verified.get(&credentials.user)?;
        // Constant time, so that the time taken does not tell how much of the digest matched.
        let difference = known.iter().zip(digest).fold(0, |d, (a, b)| d | (a ^ b));
        (difference == 0).then_some(true)
    }

    /// Checks the credentials with bcrypt (slow: run it off the async threads), remembering a
    /// success.
    pub fn verify(&self, credentials: &Credentials) -> bool {
        let hash = self.hash_of(&credentials.user);
        let matches = {
            let _one_at_a_time = self.bcrypt.lock().unwrap_or_else(PoisonError::into_inner);
            bcrypt::verify(&credentials.password, hash).unwrap_or(false)
        };
        let allowed = matches && self.users.contains_key(&credentials.user);
        if allowed {
            let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
            verified.insert(
                credentials.user.clone(),
                BasicAuth::digest(hash, &credentials.password),
            );
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, (Option<(usize, usize)>, String)> {
        WebConfig::parse(text, Path::new("."))
    }

    fn error(text: &str) -> (Option<(usize, usize)>, String) {
        match parse(text) {
            Ok(config) => panic!("accepted: {config:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn an_empty_file_means_plain_http_without_auth() {
        for text in [
            "",
            "# nothing\n",
            "tls_server_config: {}\n",
            "basic_auth_users: {}\n",
        ] {
            let config = parse(text).expect("valid");
            assert!(
                config.tls.is_none() && config.basic_auth.is_none(),
                "{text}"
            );
        }
    }

    #[test]
    fn unknown_and_unsupported_keys_are_refused_where_they_are() {
        let (at, message) = error("tls_server_config:\n  cert_flie: a.pem\n");
        assert_eq!(at, Some((2, 3)));
        assert!(message.contains("unknown field `cert_flie`"), "{message}");
        let (at, message) =
            error("tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n");
        assert_eq!(at.map(|(l, _)| l), Some(2));
        assert_eq!(
            message,
            "tls_server_config.cipher_suites: not supported by xml2prom; remove it (rustls \
             offers only suites considered safe)"
        );
        let (at, message) = error("http_server_config:\n  http2: true\n");
        assert_eq!(at.map(|(l, _)| l), Some(2));
        assert!(message.contains("HTTP/1.1 only"), "{message}");
        assert!(parse("http_server_config:\n  http2: false\n").is_ok());
        let (_, message) = error("rate_limit: {interval: 1s, burst: 2}\n");
        assert!(
            message.starts_with("rate_limit: not supported"),
            "{message}"
        );
        let (at, message) = error("tls_server_config:\n  client_auth_type: RequireAnyClientCert\n");
        assert_eq!(at, Some((2, 21)));
        assert!(message.contains("RequireAndVerifyClientCert"), "{message}");
        let (_, message) = error("tls_server_config:\n  min_version: TLS11\n");
        assert!(message.contains("TLS12 and TLS13 only"), "{message}");
    }

    #[test]
    fn tls_needs_a_certificate_and_key() {
        let (at, message) = error("tls_server_config:\n  key_file: k.pem\n");
        assert_eq!(at, None);
        assert_eq!(message, "tls_server_config: `cert_file` is missing");
        let (_, message) = error("tls_server_config:\n  cert_file: nope.pem\n  key_file: k.pem\n");
        assert!(
            message.starts_with("tls_server_config.cert_file ./nope.pem: "),
            "{message}"
        );
    }

    #[test]
    fn headers_are_the_toolkits_set() {
        let config = parse(
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    \
             Strict-Transport-Security: max-age=31536000\n",
        )
        .expect("valid");
        let names: Vec<&str> = config.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["strict-transport-security", "x-frame-options"]);
        let (_, message) = error("http_server_config:\n  headers:\n    Server: me\n");
        assert!(message.contains("`Server` cannot be set"), "{message}");
        let (_, message) =
            error("http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n");
        assert!(message.contains("use nosniff"), "{message}");
    }

    #[test]
    fn basic_auth_remembers_a_verified_password_only() {
        let hash = bcrypt::hash("secret", 4).expect("hash");
        let config = parse(&format!("basic_auth_users:\n  alice: '{hash}'\n")).expect("valid");
        let auth = config.basic_auth.expect("users");
        let header = |user: &str, password: &str| {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            BasicAuth::credentials(Some(format!("Basic {encoded}").as_bytes())).expect("basic")
        };
        let good = header("alice", "secret");
        assert_eq!(auth.remembered(&good), None);
        assert!(auth.verify(&good));
        assert_eq!(auth.remembered(&good), Some(true));
        let wrong = header("alice", "Secret");
        assert_eq!(auth.remembered(&wrong), None);
        assert!(!auth.verify(&wrong));
        assert!(!auth.verify(&header("bob", "secret")));
        assert!(BasicAuth::credentials(Some(b"Bearer abc")).is_none());
        assert!(BasicAuth::credentials(None).is_none());
        let (_, message) = error("basic_auth_users:\n  alice: plain\n");
        assert!(message.contains("not a bcrypt hash"), "{message}");
    }
}
