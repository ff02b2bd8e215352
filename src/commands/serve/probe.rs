//! Probe: `GET /probe?target=URL&module=NAME`, as json_exporter and blackbox_exporter do it.
//!
//! The query string -> a [`Probe`] (target and module) -> the target checked against the
//! [`AllowList`] of `--probe.allow-target` patterns -> the target fetched on the HTTP side
//! ([`fetch::fetch_http_within`], every redirect hop checked against the same list) within the
//! scrape's timeout -> the module's rules evaluated on the bytes by the evaluator thread ->
//! the module's metrics followed by [`probe_metrics`] (`xml2prom_probe_success`,
//! `xml2prom_probe_duration_seconds`). A target that cannot be fetched or evaluated is still
//! HTTP 200, with `xml2prom_probe_success 0` and the reason in the log, as blackbox_exporter
//! answers, so that an alert reads `xml2prom_probe_success == 0` and `up` keeps meaning "the
//! exporter answered". Nothing here is cached: each probe fetches its target anew.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use regex::Regex;

use crate::commands::fetch::{Remote, check_remote};
use crate::model::names::MetricName;
use crate::model::sample::{Families, LabelSet, MetricType, Origin, Sample, SampleValue};

/// One `--probe.allow-target` pattern: a regular expression that must match the whole target
/// URL, as Prometheus anchors its relabelling regexes.
#[derive(Debug, Clone)]
pub struct AllowedTarget {
    pattern: String,
    regex: Regex,
}

impl AllowedTarget {
    /// The pattern, anchored at both ends, or why it is not a valid regular expression.
    pub fn parse(pattern: &str) -> Result<AllowedTarget, String> {
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|error| format!("`{pattern}` is not a valid regular expression: {error}"))?;
        Ok(AllowedTarget {
            pattern: pattern.to_owned(),
            regex,
        })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

/// The targets `/probe` may fetch: those that one `--probe.allow-target` pattern matches whole.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    targets: Vec<AllowedTarget>,
}

impl AllowList {
    /// The list of these patterns; empty turns probing off.
    pub fn new(targets: Vec<AllowedTarget>) -> AllowList {
        AllowList { targets }
    }

    /// Whether no pattern is given, and `/probe` answers 403.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Whether a pattern matches the whole of `url`.
    pub fn allows(&self, url: &str) -> bool {
        self.targets.iter().any(|target| target.regex.is_match(url))
    }
}

/// The parameters of one `/probe` request.
#[derive(Debug, PartialEq, Eq)]
pub struct Probe {
    /// The `target` URL, decoded.
    pub target: String,
    /// The `module`, decoded, if given.
    pub module: Option<String>,
}

impl Probe {
    /// The probe a query string (without `?`) asks for, or the text of a 400 answer: no
    /// `target`, a target that is not an http(s) URL with a host, a parameter given twice.
    pub fn parse(query: &str) -> Result<Probe, String> {
        let mut target = None;
        let mut module = None;
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match decode(name).as_str() {
                "target" => &mut target,
                "module" => &mut module,
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!(
                    "the parameter `{}` is given twice; give it once",
                    decode(name)
                ));
            }
            *slot = Some(decode(value));
        }
        let Some(target) = target.filter(|target| !target.is_empty()) else {
            return Err(
                "the `target` parameter is missing; ask for /probe?target=URL&module=NAME, \
                 the URL percent-encoded"
                    .to_owned(),
            );
        };
        match Remote::of(std::path::Path::new(&target)) {
            Some(remote @ Remote::Http(_)) => check_remote(&remote)
                .map_err(|message| message.replacen("--input", "the target", 1))?,
            _ => {
                return Err(format!(
                    "the target `{}` is not an http:// or https:// URL",
                    crate::commands::fetch::redact_url(&target)
                ));
            }
        }
        Ok(Probe {
            target,
            module: module.filter(|module| !module.is_empty()),
        })
    }
}

/// A query-string component decoded: `+` is a space, `%XX` a byte; a `%` not followed by two
/// hex digits stays as it is. Bytes that are not UTF-8 become U+FFFD.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if hex(i + 1).is_some() && hex(i + 2).is_some() => {
                let high = hex(i + 1).unwrap_or(0);
                let low = hex(i + 2).unwrap_or(0);
                out.push((high * 16 + low) as u8);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How much of Prometheus's scrape timeout the fetch leaves for the evaluation and the answer,
/// as blackbox_exporter's `--timeout-offset` does.
pub const TIMEOUT_OFFSET: Duration = Duration::from_millis(500);

/// The fetch timeout of a probe: `--input-timeout`, or less if the scrape's own timeout
/// (`X-Prometheus-Scrape-Timeout-Seconds`) minus [`TIMEOUT_OFFSET`] is shorter; at least 100ms.
pub fn fetch_timeout(input_timeout: Duration, scrape_timeout: Option<Duration>) -> Duration {
    match scrape_timeout {
        Some(scrape) => input_timeout
            .min(scrape.saturating_sub(TIMEOUT_OFFSET))
            .max(Duration::from_millis(100)),
        None => input_timeout,
    }
}

/// The value of an `X-Prometheus-Scrape-Timeout-Seconds` header, if it is a positive number.
pub fn parse_scrape_timeout(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds > 0.0)
        .then(|| Duration::try_from_secs_f64(seconds.min(86_400.0)).ok())
        .flatten()
}

/// The gauge that says whether the probe worked.
const SUCCESS: (&str, &str) = (
    "xml2prom_probe_success",
    "Whether the probe's target was fetched and its module's rules evaluated on it (1) or not (0)",
);

/// The gauge of the probe's duration.
const DURATION: (&str, &str) = (
    "xml2prom_probe_duration_seconds",
    "How long the probe took, fetching the target and evaluating the module's rules, in seconds",
);

/// Serve's own counter of probes, by module and outcome.
const PROBES: (&str, &str) = (
    "xml2prom_serve_probes_total",
    "Requests to /probe since xml2prom serve started that reached a module, by module and \
     outcome (success or failure)",
);

/// The two lines of gauges that end every `/probe` body.
pub fn probe_metrics(success: bool, duration: Duration) -> String {
    let mut families = Families::new();
    add(
        &mut families,
        SUCCESS,
        MetricType::Gauge,
        &[],
        f64::from(u8::from(success)),
    );
    add(
        &mut families,
        DURATION,
        MetricType::Gauge,
        &[],
        duration.as_secs_f64(),
    );
    crate::exposition::render(&families)
}

fn add(
    families: &mut Families,
    (name, help): (&str, &str),
    kind: MetricType,
    labels: &[(&str, &str)],
    value: f64,
) {
    let name = MetricName::parse(name)
        .expect("own metric names are valid; the test `probe_metrics_are_valid` checks them");
    let sample = Sample {
        labels: LabelSet::new(
            labels
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        ),
        value: SampleValue::Single(value),
    };
    let origin = Origin {
        rule: std::sync::Arc::from(name.as_str()),
        input: std::sync::Arc::from(""),
    };
    // The rules cannot use the `xml2prom_` prefix, and each label set is added once.
    let _ = families.add(&name, help, kind, sample, origin);
}

/// Probes so far, by module and outcome, for `xml2prom_serve_probes_total`.
#[derive(Debug, Default)]
pub struct ProbeCounts {
    counts: Mutex<BTreeMap<String, [u64; 2]>>,
}

impl ProbeCounts {
    /// Counters at 0 for each module, so that every series exists from the start.
    pub fn new<'a>(modules: impl IntoIterator<Item = &'a str>) -> ProbeCounts {
        ProbeCounts {
            counts: Mutex::new(
                modules
                    .into_iter()
                    .map(|module| (module.to_owned(), [0, 0]))
                    .collect(),
            ),
        }
    }

    /// Counts one probe of `module`.
    pub fn count(&self, module: &str, success: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = counts.entry(module.to_owned()).or_default();
        entry[usize::from(!success)] += 1;
    }

    /// `xml2prom_serve_probes_total` as text.
    pub fn render(&self) -> String {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut families = Families::new();
        for (module, [successes, failures]) in counts.iter() {
            for (outcome, value) in [("success", successes), ("failure", failures)] {
                add(
                    &mut families,
                    PROBES,
                    MetricType::Counter,
                    &[("module", module), ("outcome", outcome)],
                    *value as f64,
                );
            }
        }
        crate::exposition::render(&families)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_and_a_missing_or_bad_target_is_refused() {
        assert_eq!(
            Probe::parse("module=bind&target=http%3A%2F%2Fh%3A8053%2Fxml%3Fa%3Db%2Bc"),
            Ok(Probe {
                target: "http://h:8053/xml?a=b+c".to_owned(),
                module: Some("bind".to_owned()),
            })
        );
        assert_eq!(
            Probe::parse("target=https://h/x&module="),
            Ok(Probe {
                target: "https://h/x".to_owned(),
                module: None,
            })
        );
        for (query, expected) in [
            ("module=a", "`target` parameter is missing"),
            ("target=", "`target` parameter is missing"),
            (
                "target=file:///etc/passwd",
                "not an http:// or https:// URL",
            ),
            ("target=exec:id", "not an http:// or https:// URL"),
            ("target=http://u:p@h/", "holds credentials"),
            ("target=http://h/&target=http://i/", "given twice"),
        ] {
            let error = Probe::parse(query).expect_err(query);
            assert!(error.contains(expected), "{query}: {error}");
            assert!(!error.contains("u:p"), "{error}");
        }
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%C3%A9"), "é");
    }

    #[test]
    fn patterns_match_the_whole_url() {
        let list = AllowList::new(vec![
            AllowedTarget::parse(r"http://127\.0\.0\.1:\d+/.*").expect("valid"),
        ]);
        assert!(list.allows("http://127.0.0.1:8053/xml"));
        assert!(!list.allows("http://127.0.0.1.evil:80/xml"));
        assert!(!list.allows("xhttp://127.0.0.1:8053/xml"));
        assert!(AllowList::default().is_empty());
        assert!(AllowedTarget::parse("(").is_err());
    }

    #[test]
    fn the_scrape_timeout_shortens_the_fetch() {
        let ten = Duration::from_secs(10);
        assert_eq!(fetch_timeout(ten, None), ten);
        assert_eq!(
            fetch_timeout(ten, parse_scrape_timeout("4")),
            Duration::from_millis(3500)
        );
        assert_eq!(fetch_timeout(ten, parse_scrape_timeout("60")), ten);
        assert_eq!(
            fetch_timeout(ten, parse_scrape_timeout("0.2")),
            Duration::from_millis(100)
        );
        for bad in ["", "0", "-1", "NaN", "inf", "x"] {
            assert_eq!(parse_scrape_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn probe_metrics_are_valid() {
        assert_eq!(
            probe_metrics(true, Duration::from_millis(1500)),
            format!(
                "# HELP {0} {1}\n# TYPE {0} gauge\n{0} 1.5\n\
                 # HELP {2} {3}\n# TYPE {2} gauge\n{2} 1\n",
                DURATION.0, DURATION.1, SUCCESS.0, SUCCESS.1
            )
        );
        let counts = ProbeCounts::new(["a"]);
        counts.count("a", false);
        assert_eq!(
            counts.render(),
            format!(
                "# HELP {0} {1}\n# TYPE {0} counter\n\
                 {0}{{module=\"a\",outcome=\"failure\"}} 1\n\
                 {0}{{module=\"a\",outcome=\"success\"}} 0\n",
                PROBES.0, PROBES.1
            )
        );
    }
}
