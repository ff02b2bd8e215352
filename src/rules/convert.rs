//! Convert: the `convert:` block of a rule, from a value's text to a number.
//!
//! A rule's `value` query gives text; without `convert:` that text must be a number as Prometheus
//! writes it ([`crate::model::number::parse_number`]). A `convert:` block turns other text into a number
//! in a fixed order of optional steps:
//!
//! 1. `regex`: the text must match; the group named `value` (else group 1, else the whole match)
//!    replaces it.
//! 2. `map`: an exact, case-sensitive lookup; a hit gives its number, a miss gives `default` or,
//!    without one, goes on to step 3.
//! 3. `parse`: `number` (the default), `boolean`, `duration` (to seconds) or `time` (to Unix
//!    seconds, with a `format`, and a `timezone` for a format without an offset).
//! 4. `scale` or `divide`: multiplies or divides every result, map hits included. `divide` is
//!    one correctly rounded division, so `divide: 1000` turns 1005 into exactly 1.005, where
//!    `scale: 0.001` multiplies by the double nearest to 1/1000 and gives 1.0050000000000001.
//!    A block has at most one of them.
//!
//! [`Convert`] is checked completely while the rule file is read (the regex compiles and has one
//! value group, the time format can read back a date, the time zone is known, `scale` and
//! `divide` are finite and not zero, no key is unknown or given where it can have no effect),
//! and every error is raised inside `Deserialize`, so serde_yaml reports the line and column of
//! the offending value. At run time
//! [`Convert::apply`] gives a number or an [`Invalid`] saying why the text is not a valid value.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::LazyLock;

use chrono::format::{Fixed, Item, Parsed, StrftimeItems};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, TimeZone as _, Timelike};
use jiff::tz::{Offset, TimeZone, TimeZoneDatabase};
use regex::{Regex, RegexBuilder};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::model::number::format_value;
use crate::model::number::parse_number;
use crate::model::number::shorten;

/// Largest compiled size of a `convert.regex`, in bytes. The `regex` crate matches in time linear
/// in the text, but a short pattern with nested counted repetitions (`(a{1000}){1000}`) can
/// still compile to a huge program; this bound refuses it when the rule file is loaded.
pub const MAX_REGEX_SIZE: usize = 1 << 20;

/// Deepest nesting of groups and repetitions accepted in a `convert.regex`.
const MAX_REGEX_NESTING: u32 = 64;

/// The `convert:` block of a rule, checked as it is read.
///
/// ```
/// # use xml2prom::rules::convert::Convert;
/// let convert: Convert = serde_yaml::from_str("{regex: '^([0-9.]+) Mbps$', scale: 1000000}")
///     .map_err(|e| e.to_string())?;
/// assert_eq!(convert.apply("95 Mbps"), Ok(95_000_000.0));
/// let err = convert.apply("95 Gbps").err().map(|e| e.to_string());
/// assert_eq!(err.as_deref(), Some("does not match the regex `^([0-9.]+) Mbps$`"));
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone)]
pub struct Convert {
    regex: Option<ValueRegex>,
    map: Option<ValueMap>,
    parse: Parse,
    factor: Option<Factor>,
}

/// The last step: a factor every result is multiplied or divided by.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Factor {
    /// `scale`: multiplies.
    Scale(f64),
    /// `divide`: divides, one correctly rounded division.
    Divide(f64),
}

impl Factor {
    fn apply(self, value: f64) -> f64 {
        match self {
            Factor::Scale(scale) => value * scale,
            Factor::Divide(divisor) => value / divisor,
        }
    }
}

impl Convert {
    /// Applies the steps to a value's text.
    ///
    /// The result is never a surprise infinity: a finite number that `scale` or `divide` pushes
    /// out of range is [`Invalid`]. `NaN`, `+Inf` and `-Inf` written in the text, or given by `map`,
    /// pass through.
    pub fn apply(&self, text: &str) -> Result<f64, Invalid> {
        let (text, captured) = match &self.regex {
            Some(regex) => {
                let Some(captured) = regex.capture(text) else {
                    return Err(Invalid::new(Reason::NoMatch {
                        regex: regex.regex.as_str().to_owned(),
                    }));
                };
                let shown = (captured.len() != text.len()).then_some(captured);
                (captured, shown)
            }
            None => (text, None),
        };
        let mut missed_map = false;
        let value = match self.map.as_ref() {
            Some(map) => match (map.entries.get(text), map.default) {
                (Some(&value), _) | (None, Some(value)) => Ok(value),
                (None, None) => {
                    missed_map = true;
                    self.parse.apply(text)
                }
            },
            None => self.parse.apply(text),
        };
        let value = value.map_err(|reason| Invalid {
            reason,
            missed_map,
            captured: captured.map(shorten),
        })?;
        let Some(factor) = self.factor else {
            return Ok(value);
        };
        let scaled = factor.apply(value);
        if value.is_finite() && !scaled.is_finite() {
            return Err(Invalid {
                reason: Reason::OutOfRange { value, factor },
                missed_map: false,
                captured: captured.map(shorten),
            });
        }
        Ok(scaled)
    }

    /// The `scale` factor, when the block has one.
    pub fn scale(&self) -> Option<f64> {
        match self.factor {
            Some(Factor::Scale(scale)) => Some(scale),
            _ => None,
        }
    }
}

/// Why a text is not a valid value.
///
/// `Display` is a short phrase that completes "the value `TEXT` ...", e.g. ``does not match the
/// regex `^([0-9.]+) Mbps$` ``, ``is not in `map` and is not a number``, or ``is not a number
/// (the regex captured `9.5.1`)``.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Invalid {
    reason: Reason,
    /// The text was looked up in `map`, missed, and then failed `parse`.
    missed_map: bool,
    /// What the regex captured, shortened, when it is not the whole text.
    captured: Option<String>,
}

impl Invalid {
    fn new(reason: Reason) -> Invalid {
        Invalid {
            reason,
            missed_map: false,
            captured: None,
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.missed_map {
            f.write_str("is not in `map` and ")?;
        }
        write!(f, "{}", self.reason)?;
        if let Some(captured) = &self.captured {
            write!(f, " (the regex captured `{captured}`)")?;
        }
        Ok(())
    }
}

/// The step a text failed, each a phrase completing "the value `TEXT` ...".
#[derive(Debug, Clone, PartialEq)]
enum Reason {
    /// `regex` did not match.
    NoMatch { regex: String },
    /// `parse: number` failed.
    NotANumber { decimal_comma: bool },
    /// `parse: boolean` failed.
    NotABoolean,
    /// `parse: duration` failed.
    NotADuration,
    /// `parse: duration` read years or months.
    CalendarDuration,
    /// `parse: time` failed; `detail` is chrono's reason, when it has one.
    NotATime {
        format: String,
        detail: Option<String>,
    },
    /// `scale` or `divide` turned a finite number into an infinity.
    OutOfRange { value: f64, factor: Factor },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoMatch { regex } => write!(f, "does not match the regex `{regex}`"),
            Reason::NotANumber {
                decimal_comma: false,
            } => f.write_str("is not a number"),
            Reason::NotANumber {
                decimal_comma: true,
            } => f.write_str("is not a number with `,` as its decimal separator"),
            Reason::NotABoolean => {
                f.write_str("is not a boolean (true/false, yes/no, on/off, 1/0)")
            }
            Reason::NotADuration => f.write_str(
                "is not a duration (ISO 8601 such as `PT1H30M`, or Go style such as `1h30m`)",
            ),
            Reason::CalendarDuration => f.write_str(
                "is a duration in years or months, which have no fixed length in seconds",
            ),
            Reason::NotATime { format, detail } => {
                write!(f, "is not a time in the format {format}")?;
                if let Some(detail) = detail {
                    write!(f, ": {detail}")?;
                }
                Ok(())
            }
            Reason::OutOfRange {
                value,
                factor: Factor::Scale(scale),
            } => write!(
                f,
                "gives {}, which overflows to infinity when multiplied by `scale` ({})",
                format_value(*value),
                format_value(*scale)
            ),
            Reason::OutOfRange {
                value,
                factor: Factor::Divide(divisor),
            } => write!(
                f,
                "gives {}, which overflows to infinity when divided by `divide` ({})",
                format_value(*value),
                format_value(*divisor)
            ),
        }
    }
}

/// A `convert.regex`: compiled, with the group that gives the value.
#[derive(Debug, Clone)]
struct ValueRegex {
    regex: Regex,
    group: Group,
}

/// Which part of a match is the value.
#[derive(Debug, Clone, Copy)]
enum Group {
    /// The whole match: the regex has no capture group.
    Whole,
    /// A capture group by index: the one named `value`, or the only one.
    Index(usize),
}

impl ValueRegex {
    fn parse(pattern: &str) -> Result<ValueRegex, String> {
        let regex = RegexBuilder::new(pattern)
            .size_limit(MAX_REGEX_SIZE)
            .nest_limit(MAX_REGEX_NESTING)
            .build()
            .map_err(|err| match err {
                regex::Error::CompiledTooBig(_) => format!(
                    "the regex `{pattern}` is too large (over {} MiB compiled); simplify it",
                    MAX_REGEX_SIZE >> 20
                ),
                err => format!(
                    "`{pattern}` is not a valid regex: {}",
                    regex_error_summary(&err)
                ),
            })?;
        let named = regex.capture_names().position(|name| name == Some("value"));
        let group = match (named, regex.captures_len() - 1) {
            (Some(index), _) => Group::Index(index),
            (None, 0) => Group::Whole,
            (None, 1) => Group::Index(1),
            (None, groups) => {
                return Err(format!(
                    "the regex `{pattern}` has {groups} capture groups, so which one is the \
                     value is unclear; name it `(?<value>...)`, or make the others \
                     non-capturing `(?:...)`"
                ));
            }
        };
        Ok(ValueRegex { regex, group })
    }

    /// The value's part of the first match in `text`, or `None` without a match. A group that
    /// takes no part in the match gives the empty text.
    fn capture<'t>(&self, text: &'t str) -> Option<&'t str> {
        match self.group {
            Group::Whole => self.regex.find(text).map(|m| m.as_str()),
            Group::Index(index) => self
                .regex
                .captures(text)
                .map(|captures| captures.get(index).map_or("", |m| m.as_str())),
        }
    }
}

/// The one-line reason of a regex syntax error. The `regex` crate's message shows the pattern
/// with a caret on several lines and ends with a line `error: WHAT`; a diagnostic has one line.
fn regex_error_summary(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .rev()
        .find_map(|line| line.strip_prefix("error: "))
        .map_or_else(
            || text.split_whitespace().collect::<Vec<_>>().join(" "),
            str::to_owned,
        )
}

/// A `convert.map` with its optional `default`.
#[derive(Debug, Clone)]
struct ValueMap {
    entries: FxHashMap<Box<str>, f64>,
    default: Option<f64>,
}

/// The `parse` step, with its options.
#[derive(Debug, Clone)]
enum Parse {
    /// A number as Prometheus writes it; `decimal_comma` reads `,` as the decimal point.
    Number { decimal_comma: bool },
    /// true/false, yes/no, on/off, 1/0, in any case.
    Boolean,
    /// ISO 8601 or Go-style duration, to seconds.
    Duration,
    /// A point in time, to Unix seconds, in the first of the formats that reads it.
    Time(Vec<TimeFormat>),
}

impl Parse {
    fn apply(&self, text: &str) -> Result<f64, Reason> {
        match self {
            Parse::Number { decimal_comma } => parse_decimal(text, *decimal_comma),
            Parse::Boolean => parse_boolean(text).ok_or(Reason::NotABoolean),
            Parse::Duration => parse_duration(text),
            Parse::Time(formats) => parse_time(formats, text),
        }
    }
}

fn parse_decimal(text: &str, decimal_comma: bool) -> Result<f64, Reason> {
    let text = if decimal_comma {
        if text.contains('.') {
            return Err(Reason::NotANumber {
                decimal_comma: true,
            });
        }
        Cow::Owned(text.replace(',', "."))
    } else {
        Cow::Borrowed(text)
    };
    parse_number(&text).ok_or(Reason::NotANumber { decimal_comma })
}

fn parse_boolean(text: &str) -> Option<f64> {
    const TRUE: [&str; 4] = ["true", "yes", "on", "1"];
    const FALSE: [&str; 4] = ["false", "no", "off", "0"];
    if TRUE.iter().any(|word| text.eq_ignore_ascii_case(word)) {
        Some(1.0)
    } else if FALSE.iter().any(|word| text.eq_ignore_ascii_case(word)) {
        Some(0.0)
    } else {
        None
    }
}

/// Go's duration syntax (`time.ParseDuration`), as far as jiff's friendly parser reads it the
/// same way: units from largest to smallest, each once, a fraction only on the last one. jiff's
/// friendly format also reads `1 hour`, `1h 30m` or `2d`, which Go does not; this keeps them out.
static GO_DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[+-]?(?:[0-9]+(?:\.[0-9]+)?(?:h|m|s|ms|us|µs|μs|ns))+$")
        .expect("the Go duration pattern is a valid regex")
});

/// Reads an ISO 8601 duration (`PT1H30M`, `P1DT2H`, `-PT5S`) or a Go-style one (`1h30m`,
/// `1.5h`, `300ms`, `-5s`, `0`) as seconds. Days and weeks are 24 hours and 7 days; years and
/// months are refused since they have no fixed length.
fn parse_duration(text: &str) -> Result<f64, Reason> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.starts_with(['P', 'p']) {
        let span = jiff::fmt::temporal::SpanParser::new()
            .parse_span(text)
            .map_err(|_| Reason::NotADuration)?;
        if span.get_years() != 0 || span.get_months() != 0 {
            return Err(Reason::CalendarDuration);
        }
        let duration = span
            .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
            .map_err(|_| Reason::NotADuration)?;
        return Ok(duration.as_secs_f64());
    }
    // Go reads a lone `0` (with or without sign) as zero, the one number without a unit.
    if unsigned == "0" {
        return Ok(0.0);
    }
    if !GO_DURATION.is_match(text) {
        return Err(Reason::NotADuration);
    }
    // Go accepts both micro signs, U+00B5 and the Greek mu U+03BC; jiff reads only the first.
    let text = if text.contains('μ') {
        Cow::Owned(text.replace('μ', "µ"))
    } else {
        Cow::Borrowed(text)
    };
    jiff::fmt::friendly::SpanParser::new()
        .parse_duration(text.as_ref())
        .map(|duration: jiff::SignedDuration| duration.as_secs_f64())
        .map_err(|_| Reason::NotADuration)
}

/// Reads a time in the first format that reads it; the error of the only format, or, of
/// several, one that names them all.
fn parse_time(formats: &[TimeFormat], text: &str) -> Result<f64, Reason> {
    let mut first = None;
    for format in formats {
        match format.parse(text) {
            Ok(seconds) => return Ok(seconds),
            Err(reason) => {
                first.get_or_insert(reason);
            }
        }
    }
    match (formats.len(), first) {
        (1, Some(reason)) => Err(reason),
        _ => Err(Reason::NotATime {
            format: formats
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
            detail: None,
        }),
    }
}

/// `format:` of `parse: time`, one or a list; each is checked where it stands.
struct TimeFormats;

impl<'de> Visitor<'de> for TimeFormats {
    type Value = Vec<TimeFormat>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a time format, or a list of them")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Vec<TimeFormat>, E> {
        TimeFormat::parse_word(s)
            .map(|format| vec![format])
            .map_err(E::custom)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut items: A) -> Result<Vec<TimeFormat>, A::Error> {
        let mut formats = Vec::new();
        while let Some(format) = items.next_element_seed(Checked(TimeFormat::parse_word))? {
            formats.push(format);
        }
        if formats.is_empty() {
            return Err(de::Error::custom(
                "the list of time formats is empty; give one format or several",
            ));
        }
        Ok(formats)
    }
}

impl<'de> DeserializeSeed<'de> for TimeFormats {
    type Value = Vec<TimeFormat>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<TimeFormat>, D::Error> {
        d.deserialize_any(self)
    }
}

/// The `format` of `parse: time`.
#[derive(Debug, Clone)]
enum TimeFormat {
    /// `rfc3339`: `2024-05-01T12:00:00Z`, `2024-05-01T14:00:00.5+02:00`.
    Rfc3339,
    /// `rfc2822`: `Wed, 01 May 2024 12:00:00 +0000`.
    Rfc2822,
    /// `unix`: seconds since 1970-01-01 UTC, a number.
    Unix,
    /// `unix_ms`: milliseconds since 1970-01-01 UTC, a number.
    UnixMs,
    /// A chrono strftime format, e.g. `%Y-%m-%d %H:%M:%S`; without an offset it reads UTC, or
    /// the local time of `zone`.
    Strftime {
        text: String,
        items: Vec<Item<'static>>,
        /// The format reads an offset (`%z`) or a Unix time (`%s`): it gives an instant alone.
        reads_offset: bool,
        /// `timezone`: the zone of a time without an offset; only where `reads_offset` is false.
        zone: Option<Zone>,
    },
}

impl TimeFormat {
    fn parse(&self, text: &str) -> Result<f64, Reason> {
        let not_a_time = |detail: Option<String>| Reason::NotATime {
            format: self.to_string(),
            detail,
        };
        let time = match self {
            TimeFormat::Rfc3339 => DateTime::parse_from_rfc3339(text)
                .map_err(|err| not_a_time(Some(err.to_string())))?,
            TimeFormat::Rfc2822 => DateTime::parse_from_rfc2822(text)
                .map_err(|err| not_a_time(Some(err.to_string())))?,
            TimeFormat::Unix => {
                return parse_number(text)
                    .filter(|seconds| seconds.is_finite())
                    .ok_or_else(|| not_a_time(None));
            }
            TimeFormat::UnixMs => {
                return parse_number(text)
                    .filter(|ms| ms.is_finite())
                    .map(|ms| ms / 1000.0)
                    .ok_or_else(|| not_a_time(None));
            }
            TimeFormat::Strftime {
                items,
                zone: Some(zone),
                ..
            } => {
                let local = parse_fields(text, items)
                    .and_then(|parsed| parsed.to_naive_datetime_with_offset(0))
                    .map_err(|err| not_a_time(Some(err.to_string())))?;
                return zone
                    .unix_seconds(&local)
                    .map_err(|err| not_a_time(Some(err)));
            }
            TimeFormat::Strftime { items, .. } => {
                parse_strftime(text, items).map_err(|err| not_a_time(Some(err.to_string())))?
            }
        };
        Ok(unix_seconds(&time))
    }

    /// Whether `timezone` applies to the format: a strftime format that reads no offset.
    fn takes_zone(&self) -> bool {
        matches!(
            self,
            TimeFormat::Strftime {
                reads_offset: false,
                ..
            }
        )
    }

    /// The format with `timezone`, refused where a zone can have no effect: formats whose
    /// times carry an offset, or are Unix times.
    fn in_zone(self, zone: Zone) -> Result<TimeFormat, String> {
        match self {
            TimeFormat::Rfc3339 | TimeFormat::Rfc2822 => Err(format!(
                "`timezone` has no effect with `format: {self}`, whose times carry their own \
                 offset; remove `timezone`"
            )),
            TimeFormat::Unix | TimeFormat::UnixMs => Err(format!(
                "`timezone` has no effect with `format: {}`: a Unix time counts from \
                 1970-01-01 UTC wherever it is read; remove `timezone`",
                if matches!(self, TimeFormat::Unix) {
                    "unix"
                } else {
                    "unix_ms"
                }
            )),
            TimeFormat::Strftime {
                text,
                reads_offset: true,
                ..
            } => Err(format!(
                "`timezone` has no effect with the format `{text}`, which reads the offset \
                 (`%z`, `%:z`) or a Unix time (`%s`) from the text; remove `timezone`, or the \
                 offset from the format"
            )),
            TimeFormat::Strftime {
                text,
                items,
                reads_offset,
                ..
            } => Ok(TimeFormat::Strftime {
                text,
                items,
                reads_offset,
                zone: Some(zone),
            }),
        }
    }

    fn parse_word(text: &str) -> Result<TimeFormat, String> {
        match text {
            "rfc3339" => return Ok(TimeFormat::Rfc3339),
            "rfc2822" => return Ok(TimeFormat::Rfc2822),
            "unix" => return Ok(TimeFormat::Unix),
            "unix_ms" => return Ok(TimeFormat::UnixMs),
            "" => {
                return Err("the time format is empty; write a chrono format such as \
                            \"%Y-%m-%d %H:%M:%S\", or rfc3339, rfc2822, unix or unix_ms"
                    .to_owned());
            }
            _ => {}
        }
        let items = StrftimeItems::new(text).parse_to_owned().map_err(|_| {
            format!(
                "`{text}` is not a valid time format: it has an unknown or incomplete `%` \
                 specifier (see https://docs.rs/chrono/latest/chrono/format/strftime/); write \
                 `%%` for a literal `%`"
            )
        })?;
        if items
            .iter()
            .any(|item| matches!(item, Item::Fixed(Fixed::TimezoneName)))
        {
            return Err(format!(
                "the time format `{text}` has `%Z`, which cannot be read: a time zone name \
                 such as CET is ambiguous; use `%z` or `%:z` for a numeric offset"
            ));
        }
        // A format that cannot read back a time it wrote itself (`%H:%M` has no date, `%I`
        // needs `%p`) would refuse every value; say so now instead of at every run.
        let sample = FixedOffset::east_opt(5400)
            .and_then(|offset| offset.with_ymd_and_hms(2001, 2, 3, 13, 5, 6).single())
            .expect("a fixed date and offset in range");
        let mut written = String::new();
        let readable = write!(written, "{}", sample.format_with_items(items.iter())).is_ok()
            && parse_strftime(&written, &items).is_ok();
        let reads_offset = parse_fields(&written, &items)
            .is_ok_and(|parsed| parsed.offset().is_some() || parsed.timestamp().is_some());
        if !readable {
            return Err(format!(
                "the time format `{text}` cannot give a date and time: it needs at least a year, \
                 month and day (such as `%Y-%m-%d`) or `%s`; `%I` also needs `%p`"
            ));
        }
        Ok(TimeFormat::Strftime {
            text: text.to_owned(),
            items,
            reads_offset,
            zone: None,
        })
    }
}

/// The formats with `timezone`: it applies to those that read no offset; it is refused when
/// none does (for one format, with that format's reason).
fn in_zone(formats: Vec<TimeFormat>, zone: Zone) -> Result<Vec<TimeFormat>, String> {
    if formats.len() == 1 || !formats.iter().any(TimeFormat::takes_zone) {
        if formats.len() > 1 {
            return Err(
                "`timezone` has no effect: every format of the list reads an offset or is a \
                 Unix time; remove `timezone`"
                    .to_owned(),
            );
        }
        return formats
            .into_iter()
            .map(|f| f.in_zone(zone.clone()))
            .collect();
    }
    formats
        .into_iter()
        .map(|format| {
            if format.takes_zone() {
                format.in_zone(zone.clone())
            } else {
                Ok(format)
            }
        })
        .collect()
}

impl fmt::Display for TimeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeFormat::Rfc3339 => f.write_str("rfc3339"),
            TimeFormat::Rfc2822 => f.write_str("rfc2822"),
            TimeFormat::Unix => f.write_str("unix (seconds)"),
            TimeFormat::UnixMs => f.write_str("unix_ms (milliseconds)"),
            TimeFormat::Strftime { text, .. } => write!(f, "`{text}`"),
        }
    }
}

/// Reads `text` with a strftime format. A format without an offset reads UTC; one without a
/// time of day reads midnight, and one without minutes reads the full hour. chrono refuses an
/// offset of a day or more, and a date that does not exist.
fn parse_strftime(
    text: &str,
    items: &[Item<'static>],
) -> Result<DateTime<FixedOffset>, chrono::format::ParseError> {
    let mut parsed = parse_fields(text, items)?;
    if parsed.offset().is_none() {
        parsed.set_offset(0)?;
    }
    parsed.to_datetime()
}

/// The fields `text` gives with a strftime format, a missing time of day set to midnight and
/// missing minutes to the full hour.
fn parse_fields(text: &str, items: &[Item<'static>]) -> Result<Parsed, chrono::format::ParseError> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, items.iter())?;
    if parsed.timestamp().is_none() {
        if parsed.hour_div_12().is_none() && parsed.hour_mod_12().is_none() {
            parsed.set_hour(0)?;
        }
        if parsed.minute().is_none() {
            parsed.set_minute(0)?;
        }
    }
    Ok(parsed)
}

/// A `convert.timezone`: where a local time without an offset was written.
#[derive(Debug, Clone)]
struct Zone {
    zone: TimeZone,
}

/// The tz database built into the binary, for zones the system's zoneinfo lacks (a container
/// without tzdata).
static BUNDLED_ZONES: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

impl Zone {
    /// `UTC`, a fixed offset (`+02:00`, `-0530`, `+02`) or an IANA name (`Europe/Berlin`, in any
    /// case), looked up in the system's zoneinfo and then in the bundled copy.
    fn parse(text: &str) -> Result<Zone, String> {
        const WRITE: &str = "write an IANA time zone name such as `Europe/Berlin`, `UTC`, or a \
                             fixed offset such as `+02:00` or `-0530`";
        if text.trim().is_empty() {
            return Err(format!("the time zone is empty; {WRITE}"));
        }
        if text.starts_with(['+', '-']) {
            return parse_fixed_offset(text).map(|offset| Zone {
                zone: TimeZone::fixed(offset),
            });
        }
        if text.eq_ignore_ascii_case("UTC") {
            return Ok(Zone {
                zone: TimeZone::UTC,
            });
        }
        // The zoneinfo directory often has a `localtime`: the zone of the machine, which says
        // nothing about where the store was written.
        if text.eq_ignore_ascii_case("localtime") {
            return Err(format!(
                "`{text}` is the time zone of the machine xml2prom runs on, not of the store; \
                 name the store's zone: {}",
                WRITE.trim_start_matches("write ")
            ));
        }
        let found = jiff::tz::db()
            .get(text)
            .or_else(|_| BUNDLED_ZONES.get(text))
            .ok()
            .filter(|zone| !zone.is_unknown());
        match found {
            Some(zone) => Ok(Zone { zone }),
            None => {
                let hint = nearest_zone_name(text)
                    .map_or_else(String::new, |name| format!(" (did you mean `{name}`?)"));
                Err(format!("`{text}` is not a known time zone{hint}; {WRITE}"))
            }
        }
    }

    /// The Unix time of a local time in this zone. A time that occurs twice (when the clocks go
    /// back) is the earlier one, with the offset before the change; a time that does not exist
    /// (when the clocks go forward) is moved forward by the length of the gap, so 02:30 on a
    /// night that skips from 02:00 to 03:00 is 03:30. This is the `compatible` choice of
    /// RFC 5545 and JavaScript's Temporal. A leap second reads as the next minute's first
    /// second, as in UTC.
    fn unix_seconds(&self, local: &NaiveDateTime) -> Result<f64, String> {
        // chrono keeps a leap second as a nanosecond count of 1e9 or more within second 59.
        let (leap, nanos) = match local.nanosecond().checked_sub(1_000_000_000) {
            Some(nanos) => (1.0, nanos),
            None => (0.0, local.nanosecond()),
        };
        let narrow = |value: u32| i8::try_from(value).map_err(|err| err.to_string());
        let year = i16::try_from(local.year())
            .map_err(|_| format!("the year {} is out of range", local.year()))?;
        let civil = jiff::civil::DateTime::new(
            year,
            narrow(local.month())?,
            narrow(local.day())?,
            narrow(local.hour())?,
            narrow(local.minute())?,
            narrow(local.second())?,
            i32::try_from(nanos).map_err(|err| err.to_string())?,
        )
        .map_err(|err| err.to_string())?;
        let instant = self
            .zone
            .to_ambiguous_timestamp(civil)
            .compatible()
            .map_err(|err| err.to_string())?;
        Ok(instant.as_second() as f64 + leap + f64::from(instant.subsec_nanosecond()) / 1e9)
    }
}

/// `+HH:MM`, `+HHMM` or `+HH` (or with `-`), less than 24 hours.
fn parse_fixed_offset(text: &str) -> Result<Offset, String> {
    let malformed = || {
        format!(
            "`{text}` is not an offset; write `+HH:MM`, `+HHMM` or `+HH`, such as `+02:00`, \
             `-0530` or `+01`"
        )
    };
    let (sign, digits) = text.split_at(1);
    let (hours, minutes) = match digits.as_bytes() {
        [_, _] => (digits, "00"),
        [_, _, b':', _, _] => (&digits[..2], &digits[3..]),
        [_, _, _, _] => digits.split_at(2),
        _ => return Err(malformed()),
    };
    let number = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse::<i32>().ok())
            .flatten()
    };
    let (Some(hours), Some(minutes)) = (number(hours), number(minutes)) else {
        return Err(malformed());
    };
    if hours > 23 || minutes > 59 {
        return Err(format!(
            "`{text}` is not an offset: hours go up to 23 and minutes up to 59"
        ));
    }
    let seconds = (hours * 3600 + minutes * 60) * if sign == "-" { -1 } else { 1 };
    Offset::from_seconds(seconds).map_err(|err| err.to_string())
}

/// The known zone name nearest to a misspelt one: the same name in another case or with `_`
/// for spaces, a zone whose last part it is (`Berlin`: `Europe/Berlin`), or one a typo or two
/// away, compared whole or by the last part.
fn nearest_zone_name(text: &str) -> Option<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .chain(BUNDLED_ZONES.available())
        .map(|name| name.as_str().to_owned())
        .collect();
    names.sort_unstable();
    names.dedup();
    let wanted = text.trim().replace(' ', "_").to_ascii_lowercase();
    let last_part = |name: &str| name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    let wanted_last = last_part(&wanted);
    // Short names are too close to too many others: `Z` is one letter from `NZ`.
    let limit = match wanted_last.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    };
    names
        .into_iter()
        .filter(|name| !name.contains("posix") && !name.contains("right/"))
        .filter_map(|name| {
            let lower = name.to_ascii_lowercase();
            let whole = strsim::damerau_levenshtein(&wanted, &lower);
            let last = strsim::damerau_levenshtein(&wanted_last, &last_part(&lower));
            // A whole name nearer than the last parts breaks the tie, then the shorter name.
            let rank = (whole.min(last), whole, name.len());
            (whole.min(last) <= limit).then_some((rank, name))
        })
        .min()
        .map(|(_, name)| name)
}

/// Seconds since 1970-01-01 UTC, fraction kept. A leap second (`23:59:60`) reads as the first
/// instant of the next minute, as Unix time has no leap seconds.
fn unix_seconds(time: &DateTime<FixedOffset>) -> f64 {
    // chrono keeps a leap second as a nanosecond count of 1e9 or more within second 59.
    time.timestamp() as f64 + f64::from(time.nanosecond()) / 1e9
}

// --- Deserialize ------------------------------------------------------------------------------

/// Runs a check inside `deserialize_str`, while serde_yaml still knows where the value is.
struct Checked<T>(fn(&str) -> Result<T, String>);

impl<T> Visitor<'_> for Checked<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        (self.0)(s).map_err(E::custom)
    }
}

impl<'de, T> DeserializeSeed<'de> for Checked<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_str(self)
    }
}

/// `decimal_separator`: whether it is `,`.
fn parse_decimal_separator(text: &str) -> Result<bool, String> {
    match text {
        "." => Ok(false),
        "," => Ok(true),
        _ => Err(format!(
            "`{text}` is not a decimal separator; use \".\" (the default) or \",\""
        )),
    }
}

/// The words of `parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ParseKind {
    Number,
    Boolean,
    Duration,
    Time,
}

/// A number, from a YAML integer or float; `check` may refuse it where it stands.
struct Number {
    check: fn(f64) -> Result<f64, String>,
}

impl Visitor<'_> for Number {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        (self.check)(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }

    /// `+Inf`, `-Inf` and `NaN` as Prometheus writes them (YAML spells them `.inf`, `-.inf`
    /// and `.nan`).
    fn visit_str<E: de::Error>(self, s: &str) -> Result<f64, E> {
        match parse_number(s) {
            Some(v) if !v.is_finite() => self.visit_f64(v),
            _ => Err(E::invalid_type(de::Unexpected::Str(s), &self)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Number {
    type Value = f64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<f64, D::Error> {
        // Not `deserialize_f64`: `+Inf` is a string to YAML.
        d.deserialize_any(self)
    }
}

fn any_number(v: f64) -> Result<f64, String> {
    Ok(v)
}

fn scale_factor(v: f64) -> Result<f64, String> {
    if !v.is_finite() || v == 0.0 {
        return Err(format!(
            "`scale` is {}; it must be a finite number other than 0",
            format_value(v)
        ));
    }
    Ok(v)
}

fn divisor(v: f64) -> Result<f64, String> {
    if !v.is_finite() || v == 0.0 {
        return Err(format!(
            "`divide` is {}; it must be a finite number other than 0",
            format_value(v)
        ));
    }
    Ok(v)
}

/// `map`: text -> number, each text once, at least one entry.
struct MapEntries;

impl<'de> Visitor<'de> for MapEntries {
    type Value = FxHashMap<Box<str>, f64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of texts to numbers, e.g. {OK: 1, FAILED: 0}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut entries = FxHashMap::default();
        while let Some(key) = access.next_key_seed(MapKey { seen: &entries })? {
            let value = access.next_value_seed(Number { check: any_number })?;
            entries.insert(key, value);
        }
        if entries.is_empty() {
            return Err(de::Error::custom(
                "`map` is empty; add entries such as {OK: 1, FAILED: 0}, or remove it",
            ));
        }
        Ok(entries)
    }
}

impl<'de> DeserializeSeed<'de> for MapEntries {
    type Value = FxHashMap<Box<str>, f64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

/// A key of `map`, refused where it stands if an earlier entry has the same text. A YAML
/// scalar such as `1` or `yes` is read as the text written, which is what the lookup compares.
struct MapKey<'a> {
    seen: &'a FxHashMap<Box<str>, f64>,
}

impl Visitor<'_> for MapKey<'_> {
    type Value = Box<str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a text")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Box<str>, E> {
        if self.seen.contains_key(s) {
            return Err(E::custom(format!(
                "`{s}` is in `map` twice; keep one entry"
            )));
        }
        Ok(s.into())
    }
}

impl<'de> DeserializeSeed<'de> for MapKey<'_> {
    type Value = Box<str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Box<str>, D::Error> {
        d.deserialize_str(self)
    }
}

/// The keys of a `convert:` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Regex,
    Map,
    Default,
    Parse,
    Format,
    Timezone,
    DecimalSeparator,
    Scale,
    Divide,
}

/// The keys of a `convert:` block, in the order messages list them.
pub const FIELDS: &[&str] = &[
    "regex",
    "map",
    "default",
    "parse",
    "format",
    "timezone",
    "decimal_separator",
    "scale",
    "divide",
];

/// A key of the `convert:` block, refused where it stands when unknown or repeated.
struct FieldKey<'a> {
    seen: &'a [Field],
}

impl Visitor<'_> for FieldKey<'_> {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a `convert` key")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Field, E> {
        let field = match s {
            "regex" => Field::Regex,
            "map" => Field::Map,
            "default" => Field::Default,
            "parse" => Field::Parse,
            "format" => Field::Format,
            "timezone" => Field::Timezone,
            "decimal_separator" => Field::DecimalSeparator,
            "scale" => Field::Scale,
            "divide" => Field::Divide,
            _ => return Err(E::unknown_field(s, FIELDS)),
        };
        if self.seen.contains(&field) {
            return Err(E::custom(format!("`{s}` is given twice; keep one")));
        }
        Ok(field)
    }
}

impl<'de> DeserializeSeed<'de> for FieldKey<'_> {
    type Value = Field;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_str(self)
    }
}

/// Reads the whole block: each value is checked where it stands, then the keys are checked
/// together (the error then points at the block).
struct ConvertVisitor;

impl<'de> Visitor<'de> for ConvertVisitor {
    type Value = Convert;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of convert steps, e.g. {parse: boolean}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Convert, A::Error> {
        let mut seen = Vec::new();
        let mut regex = None;
        let mut map = None;
        let mut default = None;
        let mut parse = None;
        let mut format = None;
        let mut timezone = None;
        let mut decimal_comma = None;
        let mut scale = None;
        let mut divide = None;
        while let Some(field) = access.next_key_seed(FieldKey { seen: &seen })? {
            seen.push(field);
            match field {
                Field::Regex => regex = Some(access.next_value_seed(Checked(ValueRegex::parse))?),
                Field::Map => map = Some(access.next_value_seed(MapEntries)?),
                Field::Default => {
                    default = Some(access.next_value_seed(Number { check: any_number })?);
                }
                Field::Parse => parse = Some(access.next_value::<ParseKind>()?),
                Field::Format => format = Some(access.next_value_seed(TimeFormats)?),
                Field::Timezone => timezone = Some(access.next_value_seed(Checked(Zone::parse))?),
                Field::DecimalSeparator => {
                    decimal_comma = Some(access.next_value_seed(Checked(parse_decimal_separator))?);
                }
                Field::Scale => {
                    scale = Some(access.next_value_seed(Number {
                        check: scale_factor,
                    })?);
                }
                Field::Divide => {
                    divide = Some(access.next_value_seed(Number { check: divisor })?);
                }
            }
        }
        let kind = parse.unwrap_or(ParseKind::Number);
        let factor = match (scale, divide) {
            (Some(_), Some(_)) => {
                return Err(de::Error::custom(
                    "`scale` and `divide` cannot be used together: keep one factor (`scale: 8` \
                     with `divide: 1000` is `divide: 125`)",
                ));
            }
            (Some(scale), None) => Some(Factor::Scale(scale)),
            (None, Some(divisor)) => Some(Factor::Divide(divisor)),
            (None, None) => None,
        };
        if default.is_some() {
            if map.is_none() {
                return Err(de::Error::custom(
                    "`default` needs a `map`: it is the number for a text that is not in `map`; \
                     add a `map` or remove `default`",
                ));
            }
            if let Some(key) = [
                (parse.is_some(), "parse"),
                (format.is_some(), "format"),
                (timezone.is_some(), "timezone"),
                (decimal_comma.is_some(), "decimal_separator"),
            ]
            .iter()
            .find_map(|&(given, key)| given.then_some(key))
            {
                return Err(de::Error::custom(format!(
                    "`{key}` has no effect with a `default`: every text then gets its number \
                     from `map` or `default`; remove `{key}` or `default`"
                )));
            }
        }
        if decimal_comma.is_some() && kind != ParseKind::Number {
            return Err(de::Error::custom(
                "`decimal_separator` applies only to `parse: number`; remove it",
            ));
        }
        let parse = match (kind, format) {
            (ParseKind::Time, Some(formats)) => match timezone {
                Some(zone) => Parse::Time(in_zone(formats, zone).map_err(de::Error::custom)?),
                None => Parse::Time(formats),
            },
            (ParseKind::Time, None) => {
                return Err(de::Error::custom(
                    "`parse: time` needs a `format`: a chrono format such as \
                     \"%Y-%m-%d %H:%M:%S\" (read as UTC unless it has `%z` or a `timezone`), \
                     or rfc3339, rfc2822, unix or unix_ms",
                ));
            }
            (_, Some(_)) => {
                return Err(de::Error::custom(
                    "`format` applies only to `parse: time`; add `parse: time` or remove \
                     `format`",
                ));
            }
            (_, None) if timezone.is_some() => {
                return Err(de::Error::custom(
                    "`timezone` applies only to `parse: time`: it is where a time without an \
                     offset was written; add `parse: time` with a `format`, or remove `timezone`",
                ));
            }
            (ParseKind::Number, None) => Parse::Number {
                decimal_comma: decimal_comma.unwrap_or(false),
            },
            (ParseKind::Boolean, None) => Parse::Boolean,
            (ParseKind::Duration, None) => Parse::Duration,
        };
        Ok(Convert {
            regex,
            map: map.map(|entries| ValueMap { entries, default }),
            parse,
            factor,
        })
    }
}

impl<'de> Deserialize<'de> for Convert {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ConvertVisitor)
    }
}

impl schemars::JsonSchema for Convert {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Convert".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::Convert").into()
    }

    /// The keys and value types the `Deserialize` above accepts, and the combinations it refuses
    /// that a schema can say (`default` without `map`, `format` without `parse: time`, ...).
    /// What needs a compiler is left to the loader: the regex and time format themselves, and a
    /// key given twice (which YAML already forbids).
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let parse_is = |kind: &str| serde_json::json!({ "required": ["parse"], "properties": { "parse": { "const": kind } } });
        schemars::json_schema!({
            "description": "How the value's text becomes a number. The steps run in this order, \
                            each optional: `regex`, `map` (with `default`), `parse` (with \
                            `format`, `timezone` or `decimal_separator`), `scale` or `divide`.",
            "type": "object",
            "properties": {
                "regex": {
                    "description": "Step 1: the text must match this regex (Rust syntax; anchor \
                                    it with ^ and $); the group named `value`, else group 1, \
                                    else the whole match replaces the text.",
                    "type": "string",
                },
                "map": {
                    "description": "Step 2: exact, case-sensitive lookup of the text: text -> \
                                    number (`+Inf`, `-Inf` and `NaN` as Prometheus writes \
                                    them, or YAML's `.inf`). A text not in the map gets \
                                    `default`, or without one goes on to `parse`.",
                    "type": "object",
                    "additionalProperties": {
                        "oneOf": [
                            { "type": "number" },
                            { "enum": ["+Inf", "Inf", "-Inf", "NaN"] }
                        ]
                    },
                    "minProperties": 1,
                },
                "default": {
                    "description": "The number for a text that is not in `map`.",
                    "oneOf": [
                        { "type": "number" },
                        { "enum": ["+Inf", "Inf", "-Inf", "NaN"] }
                    ],
                },
                "parse": {
                    "description": "Step 3: how the text is read (default `number`).",
                    "oneOf": [
                        {
                            "const": "number",
                            "description": "A number as Prometheus writes it: 42, -1.5, 2e3, \
                                            NaN, +Inf.",
                        },
                        {
                            "const": "boolean",
                            "description": "true/false, yes/no, on/off, 1/0, in any case: 1 \
                                            or 0.",
                        },
                        {
                            "const": "duration",
                            "description": "ISO 8601 (PT1H30M) or Go style (1h30m, 300ms), \
                                            in seconds.",
                        },
                        {
                            "const": "time",
                            "description": "A point in time in `format`, in Unix seconds.",
                        },
                    ],
                },
                "format": {
                    "description": "The time format of `parse: time`: a chrono format such as \
                                    \"%Y-%m-%d %H:%M:%S\" (UTC unless it has %z or a \
                                    `timezone`), or rfc3339, rfc2822, unix (seconds) or unix_ms; \
                                    or a list of them, tried in order.",
                    "oneOf": [
                        { "type": "string", "minLength": 1 },
                        {
                            "type": "array",
                            "items": { "type": "string", "minLength": 1 },
                            "minItems": 1,
                        },
                    ],
                    "examples": ["%Y-%m-%d %H:%M:%S", "rfc3339", "rfc2822", "unix", "unix_ms"],
                },
                "timezone": {
                    "description": "Where the times of `parse: time` were written, for a format \
                                    without an offset: an IANA time zone name \
                                    (`Europe/Berlin`), `UTC`, or a fixed offset (`+02:00`, \
                                    `-0530`). A local time that occurs twice when the clocks go \
                                    back is the earlier one; one skipped when they go forward \
                                    moves forward by the gap. Not with rfc3339, rfc2822, unix, \
                                    unix_ms or a format with %z or %s.",
                    "type": "string",
                    "minLength": 1,
                    "examples": ["Europe/Berlin", "America/New_York", "UTC", "+02:00"],
                },
                "decimal_separator": {
                    "description": "The decimal separator of `parse: number`: \".\" (the \
                                    default) or \",\" (then 1,5 is 1.5).",
                    "enum": [".", ","],
                },
                "scale": {
                    "description": "Step 4: multiplies the result, `map` hits included; a \
                                    finite number other than 0. Not with `divide`.",
                    "type": "number",
                    "not": { "const": 0 },
                },
                "divide": {
                    "description": "Step 4: divides the result, `map` hits included, in one \
                                    correctly rounded division (`divide: 1000` gives exactly \
                                    1.005 for 1005, where `scale: 0.001` gives \
                                    1.0050000000000001); a finite number other than 0. Not \
                                    with `scale`.",
                    "type": "number",
                    "not": { "const": 0 },
                },
            },
            "additionalProperties": false,
            // `if`/`then` rather than `dependentRequired`: editors that implement only draft-07
            // understand it too.
            "allOf": [
                {
                    "if": { "required": ["default"] },
                    "then": {
                        "required": ["map"],
                        "not": {
                            "anyOf": [
                                { "required": ["parse"] },
                                { "required": ["format"] },
                                { "required": ["timezone"] },
                                { "required": ["decimal_separator"] },
                            ],
                        },
                    },
                },
                { "not": { "required": ["scale", "divide"] } },
                { "if": { "required": ["format"] }, "then": parse_is("time") },
                { "if": parse_is("time"), "then": { "required": ["format"] } },
                {
                    "if": { "required": ["timezone"] },
                    "then": {
                        "required": ["parse", "format"],
                        "properties": {
                            "parse": { "const": "time" },
                            "format": {
                                "not": { "enum": ["rfc3339", "rfc2822", "unix", "unix_ms"] },
                            },
                        },
                    },
                },
                {
                    "if": { "required": ["decimal_separator"] },
                    "then": { "properties": { "parse": { "const": "number" } } },
                },
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    fn convert(yaml: &str) -> Convert {
        serde_yaml::from_str(yaml).unwrap_or_else(|err| panic!("{yaml}: {err}"))
    }

    /// The load error for `yaml`, as serde_yaml shows it (with ` at line L column C`).
    fn refused(yaml: &str) -> String {
        match serde_yaml::from_str::<Convert>(yaml) {
            Ok(convert) => panic!("{yaml} was accepted: {convert:?}"),
            Err(err) => err.to_string(),
        }
    }

    /// The message of a value `convert` refuses.
    fn invalid(convert: &Convert, text: &str) -> String {
        match convert.apply(text) {
            Ok(value) => panic!("{text:?} gave {value} with {convert:?}"),
            Err(err) => err.to_string(),
        }
    }

    fn assert_values(convert: &Convert, cases: &[(&str, f64)]) {
        for &(text, expected) in cases {
            assert_eq!(
                convert.apply(text),
                Ok(expected),
                "{text:?} with {convert:?}"
            );
        }
    }

    fn assert_invalid(convert: &Convert, texts: &[&str]) {
        for text in texts {
            assert!(
                convert.apply(text).is_err(),
                "{text:?} was accepted with {convert:?}: {:?}",
                convert.apply(text)
            );
        }
    }

    // --- the examples of the README ---------------------------------------------------------

    #[test]
    fn readme_examples() {
        let speed = convert("{regex: '^([0-9.]+) Mbps$', scale: 1000000}");
        assert_eq!(speed.apply("95 Mbps"), Ok(95_000_000.0));
        let state = convert("{map: {OK: 1, DEGRADED: 0.5, FAILED: 0}, default: -1}");
        assert_values(
            &state,
            &[
                ("OK", 1.0),
                ("DEGRADED", 0.5),
                ("FAILED", 0.0),
                ("ok", -1.0),
            ],
        );
        assert_eq!(convert("{parse: boolean}").apply("yes"), Ok(1.0));
        let timeout = convert("{parse: duration}");
        assert_values(
            &timeout,
            &[("PT1H30M", 5400.0), ("1h30m", 5400.0), ("300ms", 0.3)],
        );
        let backup = convert("{parse: time, format: '%Y-%m-%d %H:%M:%S'}");
        assert_eq!(backup.apply("2024-05-01 12:00:00"), Ok(1_714_564_800.0));
        let disk = convert("{regex: '^([0-9,]+) GB$', decimal_separator: ',', scale: 1e9}");
        assert_eq!(disk.apply("1,5 GB"), Ok(1.5e9));
        let login = convert("{parse: time, format: '%Y-%m-%d %H:%M:%S', timezone: Europe/Berlin}");
        assert_values(
            &login,
            &[
                ("2024-05-01 14:00:00", 1_714_564_800.0),
                ("2024-10-27 02:30:00", 1_729_989_000.0),
                ("2024-03-31 02:30:00", 1_711_848_600.0),
            ],
        );
        let latency = convert("{divide: 1000}");
        assert_eq!(latency.apply("1005"), Ok(1.005));
        assert_eq!(
            convert("{scale: 0.001}").apply("1005"),
            Ok(1.005_000_000_000_000_1)
        );
    }

    #[test]
    fn no_step_is_a_strict_number() {
        let plain = convert("{}");
        assert_values(
            &plain,
            &[("42", 42.0), ("-1.5e3", -1500.0), ("+Inf", f64::INFINITY)],
        );
        assert!(plain.apply("NaN").is_ok_and(f64::is_nan));
        assert_invalid(
            &plain,
            &["", " 42", "42 ", "1,5", "0x10", "1e309", "inf", "forty"],
        );
        assert_eq!(invalid(&plain, "1e309"), "is not a number");
    }

    // --- regex ------------------------------------------------------------------------------

    #[test]
    fn regex_value_is_the_named_group_else_group_one_else_the_whole_match() {
        let named = convert(r"regex: '^(\w+)=(?<value>\d+)(ms)?$'");
        assert_values(&named, &[("took=12ms", 12.0), ("took=7", 7.0)]);
        let first = convert(r"regex: 'size (\d+)'");
        assert_eq!(
            first.apply("disk size 512 bytes"),
            Ok(512.0),
            "searches, unanchored"
        );
        let whole = convert(r"regex: '\d+(?:\.\d+)?'");
        assert_eq!(whole.apply("about 3.25 GB"), Ok(3.25));
    }

    #[test]
    fn regex_must_match() {
        let speed = convert("regex: '^([0-9.]+) Mbps$'");
        assert_eq!(
            invalid(&speed, "95 Gbps"),
            "does not match the regex `^([0-9.]+) Mbps$`"
        );
        assert_invalid(&speed, &["", "95 mbps", " 95 Mbps", "Mbps"]);
    }

    #[test]
    fn regex_group_that_takes_no_part_gives_the_empty_text() {
        let optional = convert("{regex: '^(\\d+)?x$', map: {'': 0}}");
        assert_values(&optional, &[("x", 0.0), ("5x", 5.0)]);
        let no_map = convert(r"regex: '^(\d+)?x$'");
        assert_eq!(
            invalid(&no_map, "x"),
            "is not a number (the regex captured ``)"
        );
    }

    #[test]
    fn regex_on_unicode_text() {
        let euro = convert(r"regex: '^(\d+) €$'");
        assert_eq!(euro.apply("12 €"), Ok(12.0));
        // `\d` is Unicode-aware and matches Arabic-Indic digits, which are no number for us.
        let units = convert(r"regex: '^(\d+) units$'");
        assert_eq!(
            invalid(&units, "٣٤ units"),
            "is not a number (the regex captured `٣٤`)"
        );
        let ascii = convert(r"regex: '^((?-u:\d)+)$'");
        assert_eq!(
            invalid(&ascii, "٣٤"),
            "does not match the regex `^((?-u:\\d)+)$`"
        );
    }

    #[test]
    fn captured_text_in_messages_is_shortened() {
        let any = convert("regex: '^<(.*)>$'");
        let long = format!("<{}>", "9".repeat(100) + "x");
        assert_eq!(
            invalid(&any, &long),
            format!("is not a number (the regex captured `{}…`)", "9".repeat(40))
        );
    }

    // --- map --------------------------------------------------------------------------------

    #[test]
    fn map_hit_miss_and_default() {
        let state = convert("map: {OK: 1, FAILED: 0}");
        assert_values(&state, &[("OK", 1.0), ("FAILED", 0.0), ("2", 2.0)]);
        assert_eq!(invalid(&state, "ok"), "is not in `map` and is not a number");
        assert_eq!(invalid(&state, ""), "is not in `map` and is not a number");
        let with_default = convert("{map: {OK: 1}, default: .nan}");
        assert!(with_default.apply("anything").is_ok_and(f64::is_nan));
        let yes_no = convert("{map: {unknown: -1}, parse: boolean}");
        assert_values(&yes_no, &[("unknown", -1.0), ("YES", 1.0)]);
        assert_eq!(
            invalid(&yes_no, "maybe"),
            "is not in `map` and is not a boolean (true/false, yes/no, on/off, 1/0)"
        );
    }

    #[test]
    fn map_values_may_be_written_as_prometheus_writes_them() {
        let bounds =
            convert("{map: {'1600+': +Inf, low: -Inf, none: NaN, big: .inf}, divide: 1000}");
        assert_values(
            &bounds,
            &[
                ("1600+", f64::INFINITY),
                ("low", f64::NEG_INFINITY),
                ("big", f64::INFINITY),
                ("10", 0.01),
            ],
        );
        assert!(bounds.apply("none").is_ok_and(f64::is_nan));
        let with_default = convert("{map: {OK: 1}, default: +Inf}");
        assert_eq!(with_default.apply("anything"), Ok(f64::INFINITY));
        // Only the special values: a number in quotes is a text.
        for yaml in ["map: {a: '1'}", "map: {a: infinity}", "map: {a: inf}"] {
            assert!(
                serde_yaml::from_str::<Convert>(yaml).is_err(),
                "{yaml} should be refused"
            );
        }
    }

    #[test]
    fn map_keys_are_the_text_written_in_yaml() {
        let keys = convert("map: {1: 10, 1.0: 11, yes: 12, ~: 13, 'two words': 14, 0x10: 15}");
        assert_values(
            &keys,
            &[
                ("1", 10.0),
                ("1.0", 11.0),
                ("yes", 12.0),
                ("~", 13.0),
                ("two words", 14.0),
                ("0x10", 15.0),
            ],
        );
        // `yes` is the text `yes`, not `true`; `01` is not in `map` and parses as a number.
        assert_invalid(&keys, &["true"]);
        assert_eq!(keys.apply("01"), Ok(1.0));
    }

    #[test]
    fn map_is_exact_and_case_sensitive() {
        let state = convert("{map: {OK: 1}, default: 0}");
        assert_values(
            &state,
            &[("OK", 1.0), ("ok", 0.0), (" OK", 0.0), ("OK ", 0.0)],
        );
        let unicode = convert("{map: {'Ærø': 1, 'straße': 2}, default: 0}");
        assert_values(&unicode, &[("Ærø", 1.0), ("straße", 2.0), ("strasse", 0.0)]);
    }

    // --- parse: number ----------------------------------------------------------------------

    #[test]
    fn decimal_comma() {
        let comma = convert("decimal_separator: ','");
        assert_values(
            &comma,
            &[
                ("1,5", 1.5),
                ("-0,25", -0.25),
                ("1,5e3", 1500.0),
                ("7", 7.0),
            ],
        );
        assert_invalid(
            &comma,
            &["1.5", "1,2,3", "1.000,5", "", " 1,5", ",", "1,5 "],
        );
        assert_eq!(
            invalid(&comma, "1.5"),
            "is not a number with `,` as its decimal separator"
        );
        let dot = convert("decimal_separator: '.'");
        assert_eq!(dot.apply("1.5"), Ok(1.5));
        assert_eq!(invalid(&dot, "1,5"), "is not a number");
    }

    // --- parse: boolean ---------------------------------------------------------------------

    #[test]
    fn booleans() {
        let boolean = convert("parse: boolean");
        assert_values(
            &boolean,
            &[
                ("true", 1.0),
                ("True", 1.0),
                ("YES", 1.0),
                ("on", 1.0),
                ("1", 1.0),
                ("false", 0.0),
                ("FALSE", 0.0),
                ("No", 0.0),
                ("oFF", 0.0),
                ("0", 0.0),
            ],
        );
        assert_invalid(
            &boolean,
            &[
                "",
                " true",
                "true ",
                "t",
                "y",
                "2",
                "01",
                "1.0",
                "enabled",
                "ja",
                "ｙｅｓ",
            ],
        );
        assert_eq!(
            invalid(&boolean, "y"),
            "is not a boolean (true/false, yes/no, on/off, 1/0)"
        );
    }

    // --- parse: duration --------------------------------------------------------------------

    #[test]
    fn iso_8601_durations() {
        let duration = convert("parse: duration");
        assert_values(
            &duration,
            &[
                ("PT1H30M", 5400.0),
                ("P1DT2H", 93_600.0),
                ("PT0.5S", 0.5),
                ("PT0,5S", 0.5),
                ("PT1.5H", 5400.0),
                ("PT36H", 129_600.0),
                ("P1W", 604_800.0),
                ("P2W3D", 1_468_800.0),
                ("P0Y0M1D", 86_400.0),
                ("-PT5S", -5.0),
                ("+PT5S", 5.0),
                ("PT0S", 0.0),
            ],
        );
        assert_invalid(
            &duration,
            &["P", "PT", "P1DT", "P1.5D", "PT1H30M ", " PT1H", "P-1D"],
        );
        assert_eq!(
            invalid(&duration, "P1DT"),
            "is not a duration (ISO 8601 such as `PT1H30M`, or Go style such as `1h30m`)"
        );
    }

    #[test]
    fn years_and_months_are_refused() {
        let duration = convert("parse: duration");
        for text in ["P1Y", "P1M", "P1Y2M3D", "-P1M", "P1YT1S"] {
            assert_eq!(
                invalid(&duration, text),
                "is a duration in years or months, which have no fixed length in seconds",
                "{text}"
            );
        }
        // `M` after `T` is minutes.
        assert_eq!(duration.apply("PT1M"), Ok(60.0));
    }

    #[test]
    fn go_durations() {
        let duration = convert("parse: duration");
        assert_values(
            &duration,
            &[
                ("1h30m", 5400.0),
                ("1.5h", 5400.0),
                ("300ms", 0.3),
                ("2us", 2e-6),
                ("2µs", 2e-6),
                ("2μs", 2e-6),
                ("1ns", 1e-9),
                ("-5s", -5.0),
                ("+5s", 5.0),
                ("-1h30m", -5400.0),
                ("1h0m0.5s", 3600.5),
                ("90m", 5400.0),
                ("0", 0.0),
                ("-0", 0.0),
                ("0s", 0.0),
                ("2562047h", 9_223_369_200.0),
            ],
        );
        assert_invalid(
            &duration,
            &[
                "", "1", "h", "s", "-", "1 hour", "1h 30m", "5 s", "2d", "1w", "1y", "1,5s",
                "1e3s", "--5s", " 1s", "1s ", "1.5h30m", "30m1h", "1h1h", ".5s", "5.s", "1.5ns",
                "1H", "1sec", "١s",
            ],
        );
    }

    // --- parse: time ------------------------------------------------------------------------

    /// 2024-05-01T12:00:00Z.
    const MAY_DAY_NOON: f64 = 1_714_564_800.0;

    /// 2017-01-01T00:00:00Z, the instant after the leap second 2016-12-31T23:59:60Z.
    const NEW_YEAR_2017: f64 = 1_483_228_800.0;

    #[test]
    fn rfc3339_times() {
        let time = convert("{parse: time, format: rfc3339}");
        assert_values(
            &time,
            &[
                ("2024-05-01T12:00:00Z", MAY_DAY_NOON),
                ("2024-05-01T14:00:00+02:00", MAY_DAY_NOON),
                ("2024-05-01T07:00:00-05:00", MAY_DAY_NOON),
                ("2024-05-01T12:00:00.5Z", MAY_DAY_NOON + 0.5),
                ("2024-05-01 12:00:00Z", MAY_DAY_NOON),
                ("2016-12-31T23:59:60Z", NEW_YEAR_2017),
                ("2016-12-31T23:59:60.5Z", NEW_YEAR_2017 + 0.5),
                ("1969-12-31T23:59:59Z", -1.0),
            ],
        );
        assert_invalid(
            &time,
            &[
                "",
                "2024-05-01",
                "2024-05-01T12:00:00",
                "2024-02-30T00:00:00Z",
                "1714564800",
            ],
        );
        assert_eq!(
            invalid(&time, "2024-05-01T12:00:00"),
            "is not a time in the format rfc3339: premature end of input"
        );
    }

    #[test]
    fn rfc2822_times() {
        let time = convert("{parse: time, format: rfc2822}");
        assert_values(
            &time,
            &[
                ("Wed, 01 May 2024 12:00:00 +0000", MAY_DAY_NOON),
                ("Wed, 1 May 2024 14:00:00 +0200", MAY_DAY_NOON),
                ("1 May 2024 12:00:00 GMT", MAY_DAY_NOON),
            ],
        );
        assert_invalid(
            &time,
            &[
                "",
                "2024-05-01T12:00:00Z",
                "Thu, 01 May 2024 12:00:00 +0000",
            ],
        );
    }

    #[test]
    fn unix_times() {
        let seconds = convert("{parse: time, format: unix}");
        assert_values(
            &seconds,
            &[
                ("1714564800", MAY_DAY_NOON),
                ("1714564800.25", MAY_DAY_NOON + 0.25),
                ("-1", -1.0),
            ],
        );
        assert_invalid(&seconds, &["", "NaN", "+Inf", " 1", "1e309", "1,5"]);
        assert_eq!(
            invalid(&seconds, "soon"),
            "is not a time in the format unix (seconds)"
        );
        let millis = convert("{parse: time, format: unix_ms}");
        assert_values(
            &millis,
            &[("1714564800500", MAY_DAY_NOON + 0.5), ("-1000", -1.0)],
        );
        assert_invalid(&millis, &["", "-Inf", "1e309"]);
        assert_eq!(
            invalid(&millis, "x"),
            "is not a time in the format unix_ms (milliseconds)"
        );
    }

    #[test]
    fn strftime_without_an_offset_reads_utc() {
        let time = convert("{parse: time, format: '%Y-%m-%d %H:%M:%S'}");
        assert_values(
            &time,
            &[
                ("2024-05-01 12:00:00", MAY_DAY_NOON),
                ("2024-02-29 00:00:00", 1_709_164_800.0),
                ("2016-12-31 23:59:60", NEW_YEAR_2017),
            ],
        );
        assert_invalid(
            &time,
            &[
                "",
                "2024-05-01",
                "2024-05-01 12:00:00 ",
                "2023-02-29 00:00:00",
                "2024-05-01 24:00:00",
            ],
        );
        assert_eq!(
            invalid(&time, "2024-02-30 00:00:00"),
            "is not a time in the format `%Y-%m-%d %H:%M:%S`: input is out of range"
        );
        assert_eq!(
            invalid(&time, "yesterday"),
            "is not a time in the format `%Y-%m-%d %H:%M:%S`: input contains invalid characters"
        );
    }

    #[test]
    fn strftime_with_an_offset() {
        let numeric = convert("{parse: time, format: '%Y-%m-%d %H:%M:%S %z'}");
        assert_values(
            &numeric,
            &[
                ("2024-05-01 14:00:00 +0200", MAY_DAY_NOON),
                ("2024-05-01 06:30:00 -0530", MAY_DAY_NOON),
                ("2024-05-01 12:00:00 +0000", MAY_DAY_NOON),
            ],
        );
        // An offset of a day or more is no offset.
        assert_invalid(
            &numeric,
            &["2024-05-01 12:00:00 +9900", "2024-05-01 12:00:00"],
        );
        let colon = convert("{parse: time, format: '%Y-%m-%dT%H:%M:%S%:z'}");
        assert_eq!(colon.apply("2024-05-01T07:00:00-05:00"), Ok(MAY_DAY_NOON));
    }

    #[test]
    fn strftime_partial_times_and_fractions() {
        let date = convert("{parse: time, format: '%Y-%m-%d'}");
        assert_eq!(date.apply("2024-05-01"), Ok(MAY_DAY_NOON - 43_200.0));
        let hour = convert("{parse: time, format: '%d/%m/%Y %Hh'}");
        assert_eq!(hour.apply("01/05/2024 12h"), Ok(MAY_DAY_NOON));
        let fraction = convert("{parse: time, format: '%Y-%m-%d %H:%M:%S%.f'}");
        assert_values(
            &fraction,
            &[
                ("2024-05-01 12:00:00.250", MAY_DAY_NOON + 0.25),
                ("2024-05-01 12:00:00", MAY_DAY_NOON),
            ],
        );
        let twelve = convert("{parse: time, format: '%Y-%m-%d %I:%M %p'}");
        assert_eq!(twelve.apply("2024-05-01 12:00 PM"), Ok(MAY_DAY_NOON));
        let epoch = convert("{parse: time, format: '%s'}");
        assert_eq!(epoch.apply("1714564800"), Ok(MAY_DAY_NOON));
        let named = convert("{parse: time, format: '%d %b %Y, %H:%M'}");
        assert_eq!(named.apply("01 May 2024, 12:00"), Ok(MAY_DAY_NOON));
    }

    // --- timezone ---------------------------------------------------------------------------

    fn in_zone(zone: &str, format: &str) -> Convert {
        convert(&format!(
            "{{parse: time, format: '{format}', timezone: '{zone}'}}"
        ))
    }

    #[test]
    fn timezone_reads_local_times() {
        let berlin = in_zone("Europe/Berlin", "%Y-%m-%d %H:%M:%S");
        assert_values(
            &berlin,
            &[
                // Summer time, +02:00, and winter time, +01:00.
                ("2024-05-01 14:00:00", MAY_DAY_NOON),
                ("2024-01-15 12:00:00", 1_705_316_400.0),
                ("2016-12-31 23:59:60", NEW_YEAR_2017 - 3600.0),
            ],
        );
        assert_invalid(
            &berlin,
            &["", "2024-05-01 14:00:00 +0200", "2024-02-30 00:00:00"],
        );
        assert_eq!(
            invalid(&berlin, "2024-02-30 00:00:00"),
            "is not a time in the format `%Y-%m-%d %H:%M:%S`: input is out of range"
        );
        let new_york = in_zone("America/New_York", "%m/%d/%Y %I:%M %p");
        assert_eq!(new_york.apply("05/01/2024 08:00 AM"), Ok(MAY_DAY_NOON));
        let any_case = in_zone("europe/BERLIN", "%Y-%m-%d %H:%M");
        assert_eq!(any_case.apply("2024-05-01 14:00"), Ok(MAY_DAY_NOON));
        let date = in_zone("Europe/Berlin", "%Y-%m-%d");
        assert_eq!(date.apply("2024-05-01"), Ok(MAY_DAY_NOON - 50_400.0));
        let fraction = in_zone("Europe/Berlin", "%Y-%m-%d %H:%M:%S%.f");
        assert_eq!(
            fraction.apply("2024-05-01 14:00:00.250"),
            Ok(MAY_DAY_NOON + 0.25)
        );
    }

    #[test]
    fn several_time_formats_are_tried_in_order() {
        // JUnit reports: jest writes local times without an offset, pytest with a fraction and
        // an offset.
        let both = convert(
            "{parse: time, format: [\"%Y-%m-%dT%H:%M:%S\", \"%Y-%m-%dT%H:%M:%S%.f%:z\"], \
             timezone: Europe/Berlin}",
        );
        assert_values(
            &both,
            &[
                ("2024-05-01T14:00:00", MAY_DAY_NOON),
                ("2024-05-01T08:00:00.250-04:00", MAY_DAY_NOON + 0.25),
            ],
        );
        assert_eq!(
            invalid(&both, "yesterday"),
            "is not a time in the format `%Y-%m-%dT%H:%M:%S` or `%Y-%m-%dT%H:%M:%S%.f%:z`"
        );
        let words = convert("{parse: time, format: [rfc3339, unix]}");
        assert_values(
            &words,
            &[
                ("2024-05-01T12:00:00Z", MAY_DAY_NOON),
                ("1714564800", MAY_DAY_NOON),
            ],
        );
        // One format in a list is that format, with its own reason.
        let one = convert("{parse: time, format: [rfc3339]}");
        assert!(invalid(&one, "x").starts_with("is not a time in the format rfc3339: "));
        assert!(refused("{parse: time, format: []}").contains("the list of time formats is empty"));
        assert!(refused("{parse: time, format: [rfc3339, \"%H\"]}").contains("cannot give a date"));
        assert!(
            refused("{parse: time, format: [rfc3339, unix], timezone: UTC}")
                .contains("every format of the list reads an offset")
        );
        assert!(
            refused("{parse: time, format: [unix], timezone: UTC}")
                .contains("`timezone` has no effect with `format: unix`")
        );
    }

    #[test]
    fn timezone_utc_and_fixed_offsets() {
        for (zone, text) in [
            ("UTC", "2024-05-01 12:00:00"),
            ("utc", "2024-05-01 12:00:00"),
            ("Etc/UTC", "2024-05-01 12:00:00"),
            ("+02:00", "2024-05-01 14:00:00"),
            ("+0200", "2024-05-01 14:00:00"),
            ("+02", "2024-05-01 14:00:00"),
            ("-05:30", "2024-05-01 06:30:00"),
            ("-0530", "2024-05-01 06:30:00"),
            ("+00:00", "2024-05-01 12:00:00"),
            ("-00:00", "2024-05-01 12:00:00"),
            ("+23:59", "2024-05-02 11:59:00"),
        ] {
            let time = in_zone(zone, "%Y-%m-%d %H:%M:%S");
            assert_eq!(time.apply(text), Ok(MAY_DAY_NOON), "{zone} {text}");
        }
        let utc = in_zone("UTC", "%Y-%m-%d %H:%M:%S%.f");
        assert_values(
            &utc,
            &[
                ("1969-12-31 23:59:59.5", -0.5),
                ("2016-12-31 23:59:60", NEW_YEAR_2017),
                ("2016-12-31 23:59:60.5", NEW_YEAR_2017 + 0.5),
            ],
        );
        let plus_one = in_zone("+01:00", "%Y-%m-%d %H:%M:%S");
        assert_eq!(plus_one.apply("2017-01-01 00:59:60"), Ok(NEW_YEAR_2017));
    }

    /// A local time at a change of offset is read as RFC 5545 and Temporal's `compatible` do:
    /// one that occurs twice is the earlier one, one that does not exist moves forward by the
    /// length of the gap.
    #[test]
    fn timezone_at_daylight_saving_changes() {
        let berlin = in_zone("Europe/Berlin", "%Y-%m-%d %H:%M:%S");
        assert_values(
            &berlin,
            &[
                // 2024-03-31: 02:00 +01:00 is followed by 03:00 +02:00.
                ("2024-03-31 01:59:59", 1_711_846_799.0),
                ("2024-03-31 02:00:00", 1_711_846_800.0),
                ("2024-03-31 02:30:00", 1_711_848_600.0),
                ("2024-03-31 03:30:00", 1_711_848_600.0),
                // 2024-10-27: 03:00 +02:00 is followed by 02:00 +01:00; 02:30 happens twice.
                ("2024-10-27 02:30:00", 1_729_989_000.0),
                ("2024-10-27 03:30:00", 1_729_996_200.0),
            ],
        );
        // Southern hemisphere: Sydney leaves summer time on 2024-04-07 at 03:00 +11:00.
        let sydney = in_zone("Australia/Sydney", "%Y-%m-%d %H:%M");
        assert_eq!(
            sydney.apply("2024-04-07 02:30"),
            Ok(1_712_417_400.0),
            "the earlier 02:30, at +11:00"
        );
    }

    #[test]
    fn timezone_years_out_of_range_are_invalid() {
        let date = in_zone("Europe/Berlin", "%Y-%m-%d");
        assert_invalid(&date, &["12345-01-01", "-12345-01-01", "9999-12-31"]);
        assert!(date.apply("9999-12-01").is_ok());
        assert!(date.apply("-9999-02-01").is_ok());
    }

    #[test]
    fn the_bundled_tz_database_is_built_in() {
        assert!(!BUNDLED_ZONES.is_definitively_empty());
        let berlin = BUNDLED_ZONES
            .get("Europe/Berlin")
            .expect("Europe/Berlin is bundled");
        let zone = Zone { zone: berlin };
        let local = NaiveDateTime::parse_from_str("2024-05-01 14:00:00", "%Y-%m-%d %H:%M:%S")
            .expect("a date");
        assert_eq!(zone.unix_seconds(&local), Ok(MAY_DAY_NOON));
    }

    #[test]
    fn misspelt_zones_get_the_nearest_name() {
        for (text, nearest) in [
            ("Europe/Berln", Some("Europe/Berlin")),
            ("Berlin", Some("Europe/Berlin")),
            ("New York", Some("America/New_York")),
            ("America/NewYork", Some("America/New_York")),
            ("Europe/Amsterdm", Some("Europe/Amsterdam")),
            ("Mars/Olympus_Mons", None),
            ("x", None),
            ("Z", None),
            ("ETS", Some("EST")),
            ("GMT+2", Some("Etc/GMT+2")),
        ] {
            assert_eq!(nearest_zone_name(text).as_deref(), nearest, "{text}");
        }
    }

    // --- scale ------------------------------------------------------------------------------

    #[test]
    fn scale_applies_to_every_result() {
        let kilo = convert("{map: {full: 100}, scale: 1000}");
        assert_values(&kilo, &[("full", 100_000.0), ("1.5", 1500.0)]);
        let ms = convert("{parse: duration, scale: 1000}");
        assert_eq!(ms.apply("1.5s"), Ok(1500.0));
        let negate = convert("scale: -1");
        assert_values(&negate, &[("5", -5.0), ("+Inf", f64::NEG_INFINITY)]);
        assert!(negate.apply("NaN").is_ok_and(f64::is_nan));
        let tiny = convert("scale: 1e-300");
        assert_eq!(tiny.apply("1e-300"), Ok(0.0), "underflow to 0 is a number");
    }

    #[test]
    fn scale_never_makes_an_infinity() {
        let big = convert("{regex: '^(.*) units$', scale: 10}");
        assert_eq!(
            invalid(&big, "1e308 units"),
            "gives 1e308, which overflows to infinity when multiplied by `scale` (10) \
             (the regex captured `1e308`)"
        );
        let huge = convert("scale: 1e300");
        assert_eq!(
            invalid(&huge, "-1e10"),
            "gives -10000000000, which overflows to infinity when multiplied by `scale` (1e300)"
        );
        assert_eq!(
            huge.apply("+Inf"),
            Ok(f64::INFINITY),
            "an infinity written stays"
        );
    }

    #[test]
    fn divide_is_one_exact_division() {
        let ms = convert("divide: 1000");
        assert_values(
            &ms,
            &[
                ("1005", 1.005),
                ("1", 0.001),
                ("3", 0.003),
                ("-250", -0.25),
                ("0", 0.0),
                ("+Inf", f64::INFINITY),
            ],
        );
        assert!(ms.apply("NaN").is_ok_and(f64::is_nan));
        // What `scale: 0.001` gives instead: the double nearest to 1/1000 is not 1/1000.
        assert_eq!(
            convert("scale: 0.001").apply("1005"),
            Ok(1.005_000_000_000_000_1)
        );
        let duration = convert("{parse: duration, divide: 60}");
        assert_eq!(duration.apply("1h30m"), Ok(90.0));
        let mapped = convert("{map: {full: 100}, divide: 4}");
        assert_values(&mapped, &[("full", 25.0), ("10", 2.5)]);
        let negative = convert("divide: -0.5");
        assert_eq!(negative.apply("3"), Ok(-6.0));
    }

    proptest! {
        /// `divide: N` is the correctly rounded quotient: for integers it equals the decimal
        /// text of the exact quotient, read back.
        #[test]
        fn divide_by_a_power_of_ten_reads_like_the_decimal(value in -10_000_000i64..10_000_000, digits in 1u32..7) {
            let divisor = 10i64.pow(digits);
            let convert = convert(&format!("divide: {divisor}"));
            let sign = if value < 0 { "-" } else { "" };
            let magnitude = value.unsigned_abs();
            let decimal = format!(
                "{sign}{}.{:0width$}",
                magnitude / divisor.unsigned_abs(),
                magnitude % divisor.unsigned_abs(),
                width = digits as usize
            );
            let expected: f64 = decimal.parse().expect("a decimal");
            prop_assert_eq!(convert.apply(&value.to_string()), Ok(expected), "{}", decimal);
        }
    }

    #[test]
    fn divide_never_makes_an_infinity() {
        let tiny = convert("divide: 1e-10");
        assert_eq!(
            invalid(&tiny, "1e300"),
            "gives 1e300, which overflows to infinity when divided by `divide` (1e-10)"
        );
        assert_eq!(tiny.apply("-Inf"), Ok(f64::NEG_INFINITY));
    }

    // --- load-time checks -------------------------------------------------------------------

    #[test]
    fn bad_blocks_are_refused_with_a_message() {
        let big_pattern = format!("regex: '{}'", "(?:a{1000}){1000}");
        let deep = format!("{}a{}", "(?:".repeat(100), ")".repeat(100));
        let deep_pattern = format!("regex: '{deep}'");
        let deep_message = format!(
            "regex: `{deep}` is not a valid regex: exceed the maximum number of nested \
             parentheses/brackets (64) at line 1 column 8"
        );
        for (yaml, message) in [
            (
                "regex: '('",
                "regex: `(` is not a valid regex: unclosed group at line 1 column 8",
            ),
            (
                r"regex: '\p{Nope}'",
                r"regex: `\p{Nope}` is not a valid regex: Unicode property not found at line 1 column 8",
            ),
            (
                "{regex: '(a)(b)'}",
                "regex: the regex `(a)(b)` has 2 capture groups, so which one is the value is \
                 unclear; name it `(?<value>...)`, or make the others non-capturing `(?:...)` \
                 at line 1 column 9",
            ),
            (
                &big_pattern,
                "regex: the regex `(?:a{1000}){1000}` is too large (over 1 MiB compiled); \
                 simplify it at line 1 column 8",
            ),
            (&deep_pattern, &deep_message),
            (
                "regex: [a]",
                "regex: invalid type: sequence, expected a string at line 1 column 8",
            ),
            (
                "map: {}",
                "map: `map` is empty; add entries such as {OK: 1, FAILED: 0}, or remove it at line 1 column 6",
            ),
            (
                "map: {a: 1, a: 2}",
                "map: `a` is in `map` twice; keep one entry at line 1 column 13",
            ),
            (
                "map: {a: '1'}",
                "map.a: invalid type: string \"1\", expected a number at line 1 column 10",
            ),
            (
                "map: {a: true}",
                "map.a: invalid type: boolean `true`, expected a number at line 1 column 10",
            ),
            (
                "map: {[a]: 1}",
                "map: invalid type: sequence, expected a text at line 1 column 7",
            ),
            (
                "map: [a]",
                "map: invalid type: sequence, expected a mapping of texts to numbers, e.g. {OK: 1, FAILED: 0} at line 1 column 6",
            ),
            (
                "parse: bool",
                "parse: unknown variant `bool`, expected one of `number`, `boolean`, `duration`, \
                 `time` at line 1 column 8",
            ),
            (
                "{parse: time, format: '%Q'}",
                "format: `%Q` is not a valid time format: it has an unknown or incomplete `%` \
                 specifier (see https://docs.rs/chrono/latest/chrono/format/strftime/); write \
                 `%%` for a literal `%` at line 1 column 23",
            ),
            (
                "{parse: time, format: '%Y-%m-%d %'}",
                "format: `%Y-%m-%d %` is not a valid time format: it has an unknown or \
                 incomplete `%` specifier (see https://docs.rs/chrono/latest/chrono/format/strftime/); \
                 write `%%` for a literal `%` at line 1 column 23",
            ),
            (
                "{parse: time, format: '%H:%M'}",
                "format: the time format `%H:%M` cannot give a date and time: it needs at least \
                 a year, month and day (such as `%Y-%m-%d`) or `%s`; `%I` also needs `%p` at \
                 line 1 column 23",
            ),
            (
                "{parse: time, format: '%Y-%m-%d %I:%M'}",
                "format: the time format `%Y-%m-%d %I:%M` cannot give a date and time: it needs \
                 at least a year, month and day (such as `%Y-%m-%d`) or `%s`; `%I` also needs \
                 `%p` at line 1 column 23",
            ),
            (
                "{parse: time, format: '%Y-%m-%d %H:%M %Z'}",
                "format: the time format `%Y-%m-%d %H:%M %Z` has `%Z`, which cannot be read: a \
                 time zone name such as CET is ambiguous; use `%z` or `%:z` for a numeric offset \
                 at line 1 column 23",
            ),
            (
                "{parse: time, format: ''}",
                "format: the time format is empty; write a chrono format such as \
                 \"%Y-%m-%d %H:%M:%S\", or rfc3339, rfc2822, unix or unix_ms at line 1 column 23",
            ),
            (
                "timezone: Europe/Berln",
                "timezone: `Europe/Berln` is not a known time zone (did you mean \
                 `Europe/Berlin`?); write an IANA time zone name such as `Europe/Berlin`, `UTC`, \
                 or a fixed offset such as `+02:00` or `-0530` at line 1 column 11",
            ),
            (
                "timezone: Mars/Olympus_Mons",
                "timezone: `Mars/Olympus_Mons` is not a known time zone; write an IANA time zone \
                 name such as `Europe/Berlin`, `UTC`, or a fixed offset such as `+02:00` or \
                 `-0530` at line 1 column 11",
            ),
            (
                "timezone: ''",
                "timezone: the time zone is empty; write an IANA time zone name such as \
                 `Europe/Berlin`, `UTC`, or a fixed offset such as `+02:00` or `-0530` at line 1 \
                 column 11",
            ),
            (
                "timezone: '+2'",
                "timezone: `+2` is not an offset; write `+HH:MM`, `+HHMM` or `+HH`, such as \
                 `+02:00`, `-0530` or `+01` at line 1 column 11",
            ),
            (
                "timezone: '+02:0a'",
                "timezone: `+02:0a` is not an offset; write `+HH:MM`, `+HHMM` or `+HH`, such as \
                 `+02:00`, `-0530` or `+01` at line 1 column 11",
            ),
            (
                "timezone: '+24:00'",
                "timezone: `+24:00` is not an offset: hours go up to 23 and minutes up to 59 at \
                 line 1 column 11",
            ),
            (
                "timezone: '-01:60'",
                "timezone: `-01:60` is not an offset: hours go up to 23 and minutes up to 59 at \
                 line 1 column 11",
            ),
            (
                "timezone: localtime",
                "timezone: `localtime` is the time zone of the machine xml2prom runs on, not of \
                 the store; name the store's zone: an IANA time zone name such as \
                 `Europe/Berlin`, `UTC`, or a fixed offset such as `+02:00` or `-0530` at line 1 \
                 column 11",
            ),
            (
                "timezone: 2",
                "timezone: `2` is not a known time zone; write an IANA time zone name such as \
                 `Europe/Berlin`, `UTC`, or a fixed offset such as `+02:00` or `-0530` at line 1 \
                 column 11",
            ),
            (
                "decimal_separator: ';'",
                "decimal_separator: `;` is not a decimal separator; use \".\" (the default) or \
                 \",\" at line 1 column 20",
            ),
            (
                "scale: 0",
                "scale: `scale` is 0; it must be a finite number other than 0 at line 1 column 8",
            ),
            (
                "scale: -0.0",
                "scale: `scale` is 0; it must be a finite number other than 0 at line 1 column 8",
            ),
            (
                "scale: .inf",
                "scale: `scale` is +Inf; it must be a finite number other than 0 at line 1 column 8",
            ),
            (
                "scale: .nan",
                "scale: `scale` is NaN; it must be a finite number other than 0 at line 1 column 8",
            ),
            (
                "scale: '1000'",
                "scale: invalid type: string \"1000\", expected a number at line 1 column 8",
            ),
            (
                "{sclae: 1000}",
                "unknown field `sclae`, expected one of `regex`, `map`, `default`, `parse`, \
                 `format`, `timezone`, `decimal_separator`, `scale`, `divide` at line 1 column 2",
            ),
            (
                "divide: 0",
                "divide: `divide` is 0; it must be a finite number other than 0 at line 1 column 9",
            ),
            (
                "divide: -.inf",
                "divide: `divide` is -Inf; it must be a finite number other than 0 at line 1 \
                 column 9",
            ),
            (
                "divide: .nan",
                "divide: `divide` is NaN; it must be a finite number other than 0 at line 1 \
                 column 9",
            ),
            (
                "divide: '1000'",
                "divide: invalid type: string \"1000\", expected a number at line 1 column 9",
            ),
            (
                "{scale: 1, scale: 2}",
                "`scale` is given twice; keep one at line 1 column 12",
            ),
            (
                "[parse]",
                "invalid type: sequence, expected a mapping of convert steps, e.g. {parse: boolean}",
            ),
        ] {
            assert_eq!(refused(yaml), message, "{yaml}");
        }
    }

    #[test]
    fn keys_that_cannot_work_together_are_refused() {
        for (yaml, message) in [
            (
                "{default: 1}",
                "`default` needs a `map`: it is the number for a text that is not in `map`; add \
                 a `map` or remove `default`",
            ),
            (
                "{map: {a: 1}, default: 0, parse: boolean}",
                "`parse` has no effect with a `default`: every text then gets its number from \
                 `map` or `default`; remove `parse` or `default`",
            ),
            (
                "{map: {a: 1}, default: 0, decimal_separator: ','}",
                "`decimal_separator` has no effect with a `default`: every text then gets its \
                 number from `map` or `default`; remove `decimal_separator` or `default`",
            ),
            (
                "{parse: time}",
                "`parse: time` needs a `format`: a chrono format such as \"%Y-%m-%d %H:%M:%S\" \
                 (read as UTC unless it has `%z` or a `timezone`), or rfc3339, rfc2822, unix or \
                 unix_ms",
            ),
            (
                "{format: rfc3339}",
                "`format` applies only to `parse: time`; add `parse: time` or remove `format`",
            ),
            (
                "{parse: duration, format: rfc3339}",
                "`format` applies only to `parse: time`; add `parse: time` or remove `format`",
            ),
            (
                "{parse: boolean, decimal_separator: ','}",
                "`decimal_separator` applies only to `parse: number`; remove it",
            ),
            (
                "{parse: time, format: rfc3339, timezone: Europe/Berlin}",
                "`timezone` has no effect with `format: rfc3339`, whose times carry their own \
                 offset; remove `timezone`",
            ),
            (
                "{parse: time, format: rfc2822, timezone: UTC}",
                "`timezone` has no effect with `format: rfc2822`, whose times carry their own \
                 offset; remove `timezone`",
            ),
            (
                "{parse: time, format: unix, timezone: UTC}",
                "`timezone` has no effect with `format: unix`: a Unix time counts from \
                 1970-01-01 UTC wherever it is read; remove `timezone`",
            ),
            (
                "{parse: time, format: unix_ms, timezone: '+01:00'}",
                "`timezone` has no effect with `format: unix_ms`: a Unix time counts from \
                 1970-01-01 UTC wherever it is read; remove `timezone`",
            ),
            (
                "{parse: time, format: '%Y-%m-%d %H:%M %z', timezone: Europe/Berlin}",
                "`timezone` has no effect with the format `%Y-%m-%d %H:%M %z`, which reads the \
                 offset (`%z`, `%:z`) or a Unix time (`%s`) from the text; remove `timezone`, or \
                 the offset from the format",
            ),
            (
                "{timezone: Europe/Berlin, parse: time, format: '%Y-%m-%dT%H:%M:%S%:z'}",
                "`timezone` has no effect with the format `%Y-%m-%dT%H:%M:%S%:z`, which reads \
                 the offset (`%z`, `%:z`) or a Unix time (`%s`) from the text; remove \
                 `timezone`, or the offset from the format",
            ),
            (
                "{parse: time, format: '%s', timezone: Europe/Berlin}",
                "`timezone` has no effect with the format `%s`, which reads the offset (`%z`, \
                 `%:z`) or a Unix time (`%s`) from the text; remove `timezone`, or the offset \
                 from the format",
            ),
            (
                "{parse: time, format: '%+', timezone: Europe/Berlin}",
                "`timezone` has no effect with the format `%+`, which reads the offset (`%z`, \
                 `%:z`) or a Unix time (`%s`) from the text; remove `timezone`, or the offset \
                 from the format",
            ),
            (
                "{timezone: Europe/Berlin}",
                "`timezone` applies only to `parse: time`: it is where a time without an offset \
                 was written; add `parse: time` with a `format`, or remove `timezone`",
            ),
            (
                "{parse: duration, timezone: Europe/Berlin}",
                "`timezone` applies only to `parse: time`: it is where a time without an offset \
                 was written; add `parse: time` with a `format`, or remove `timezone`",
            ),
            (
                "{map: {a: 1}, default: 0, timezone: UTC}",
                "`timezone` has no effect with a `default`: every text then gets its number from \
                 `map` or `default`; remove `timezone` or `default`",
            ),
            (
                "{parse: time, timezone: UTC}",
                "`parse: time` needs a `format`: a chrono format such as \"%Y-%m-%d %H:%M:%S\" \
                 (read as UTC unless it has `%z` or a `timezone`), or rfc3339, rfc2822, unix or \
                 unix_ms",
            ),
            (
                "{scale: 8, divide: 1000}",
                "`scale` and `divide` cannot be used together: keep one factor (`scale: 8` with \
                 `divide: 1000` is `divide: 125`)",
            ),
        ] {
            // serde_yaml leaves out the position of the document's first character.
            assert_eq!(
                refused(yaml).split(" at line 1 column 1").next(),
                Some(message),
                "{yaml}"
            );
        }
    }

    #[test]
    fn errors_point_at_the_value_inside_a_rule_file() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Rule {
            name: String,
            convert: Convert,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct File {
            metrics: Vec<Rule>,
        }
        let error = |yaml: &str| match serde_yaml::from_str::<File>(yaml) {
            Ok(file) => panic!("accepted: {file:?}"),
            Err(err) => err.to_string(),
        };
        let bad_regex = "metrics:\n  - name: speed\n    convert:\n      scale: 8\n      regex: '^([0-9.]+ Mbps$'\n";
        assert_eq!(
            error(bad_regex),
            "metrics[0].convert.regex: `^([0-9.]+ Mbps$` is not a valid regex: unclosed group \
             at line 5 column 14"
        );
        let no_format = "metrics:\n  - name: at\n    convert:\n      parse: time\n";
        assert_eq!(
            error(no_format),
            "metrics[0].convert: `parse: time` needs a `format`: a chrono format such as \
             \"%Y-%m-%d %H:%M:%S\" (read as UTC unless it has `%z` or a `timezone`), or \
             rfc3339, rfc2822, unix or unix_ms at line 4 column 7"
        );
        let twice =
            "metrics:\n  - name: s\n    convert:\n      map:\n        OK: 1\n        OK: 2\n";
        assert_eq!(
            error(twice),
            "metrics[0].convert.map: `OK` is in `map` twice; keep one entry at line 6 column 9"
        );
    }

    #[test]
    fn every_step_together() {
        let all = convert(
            "{regex: '^state=(?<value>\\S*)', map: {up: 1, down: 0}, parse: boolean, scale: 2}",
        );
        assert_values(
            &all,
            &[("state=up", 2.0), ("state=down", 0.0), ("state=YES", 2.0)],
        );
        assert_eq!(
            invalid(&all, "state=maybe later"),
            "is not in `map` and is not a boolean (true/false, yes/no, on/off, 1/0) (the regex \
             captured `maybe`)"
        );
        assert_eq!(
            invalid(&all, "status=up"),
            "does not match the regex `^state=(?<value>\\S*)`"
        );
    }

    // --- properties -------------------------------------------------------------------------

    /// One block of each kind, to throw arbitrary text at.
    fn every_kind() -> Vec<Convert> {
        [
            "{}",
            "decimal_separator: ','",
            "{regex: '^(?<value>[^ ]*) (?:kB|MB)$', scale: 1024}",
            "{map: {OK: 1}, parse: boolean}",
            "{map: {OK: 1}, default: 0}",
            "parse: duration",
            "{parse: time, format: rfc3339}",
            "{parse: time, format: rfc2822}",
            "{parse: time, format: unix_ms}",
            "{parse: time, format: '%Y-%m-%d %H:%M:%S%.f %z'}",
            "{parse: time, format: '%d %B %Y %I %p'}",
            "{parse: time, format: '%Y-%m-%d %H:%M:%S%.f', timezone: Europe/Berlin}",
            "{parse: time, format: '%Y-%m-%d %H', timezone: '-09:30'}",
            "{parse: time, format: '%s', scale: 1e300}",
            "scale: 1e300",
            "divide: 1e-300",
        ]
        .into_iter()
        .map(convert)
        .collect()
    }

    proptest! {
        #[test]
        fn apply_never_panics_on_any_text(text in any::<String>()) {
            for convert in every_kind() {
                let _ = convert.apply(&text);
            }
        }

        #[test]
        fn apply_never_panics_on_near_misses(
            text in r"[+-]?[0-9]{0,20}([.,][0-9]{0,12})?(e[+-]?[0-9]{1,3})?( ?(PT?|[YMWDHST]|[hms]|ms|us|µs|μs|ns|:|-|T|Z|[+-][0-9]{2}:?[0-9]{2}|kB|MB)[0-9]{0,4}){0,6}"
        ) {
            for convert in every_kind() {
                if let Ok(value) = convert.apply(&text) {
                    // A finite text never turns into an infinity.
                    prop_assert!(!value.is_infinite() || text.contains("Inf"), "{text:?} -> {value}");
                }
            }
        }

        #[test]
        fn numbers_round_trip(value in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
            let written = format_value(value);
            prop_assert_eq!(convert("{}").apply(&written), Ok(value));
            let with_comma = written.replace('.', ",");
            prop_assert_eq!(convert("decimal_separator: ','").apply(&with_comma), Ok(value));
        }

        #[test]
        fn durations_in_both_syntaxes_agree(h in 0u32..10_000, m in 0u32..60, s in 0u32..60, ms in 0u32..1000) {
            let seconds = f64::from(h) * 3600.0 + f64::from(m) * 60.0 + f64::from(s) + f64::from(ms) / 1000.0;
            let duration = convert("parse: duration");
            let go = format!("{h}h{m}m{s}s{ms}ms");
            let iso = format!("PT{h}H{m}M{s}.{ms:03}S");
            prop_assert_eq!(duration.apply(&go), Ok(seconds), "{}", go);
            prop_assert_eq!(duration.apply(&iso), Ok(seconds), "{}", iso);
            prop_assert_eq!(duration.apply(&format!("-{go}")), Ok(-seconds));
        }

        /// A local time written in Berlin reads back as the instant it was written for, except
        /// in the hour that occurs twice each autumn, which reads as its first occurrence.
        #[test]
        fn local_times_round_trip(seconds in -2_000_000_000i64..4_000_000_000) {
            let zone = jiff::tz::db().get("Europe/Berlin").expect("Europe/Berlin");
            let instant = jiff::Timestamp::from_second(seconds).expect("in range");
            let local = zone.to_datetime(instant);
            let written = local.strftime("%Y-%m-%d %H:%M:%S").to_string();
            let read = convert("{parse: time, format: '%Y-%m-%d %H:%M:%S', timezone: Europe/Berlin}")
                .apply(&written);
            let twice = zone.to_ambiguous_timestamp(local).is_ambiguous();
            let earlier = zone
                .to_ambiguous_timestamp(local)
                .earlier()
                .map(|t| t.as_second() as f64);
            if twice {
                prop_assert_eq!(read.ok(), earlier.ok(), "{}", written);
            } else {
                prop_assert_eq!(read, Ok(seconds as f64), "{}", written);
            }
        }

        #[test]
        fn times_round_trip(seconds in -62_000_000_000i64..250_000_000_000, millis in 0u32..1000) {
            let time = DateTime::from_timestamp(seconds, millis * 1_000_000)
                .expect("in chrono's range");
            let expected = seconds as f64 + f64::from(millis) / 1000.0;
            let rfc3339 = convert("{parse: time, format: rfc3339}");
            prop_assert_eq!(rfc3339.apply(&time.to_rfc3339()), Ok(expected));
            let custom = convert("{parse: time, format: '%Y-%m-%d %H:%M:%S%.3f'}");
            let written = time.format("%Y-%m-%d %H:%M:%S%.3f").to_string();
            prop_assert_eq!(custom.apply(&written), Ok(expected));
        }
    }

    /// The schema of `convert:` accepts what `Deserialize` accepts and refuses what it refuses,
    /// except what needs a compiler (listed last).
    #[test]
    fn schema_agrees_with_deserialize() {
        let schema = schemars::generate::SchemaSettings::draft2020_12()
            .into_generator()
            .into_root_schema_for::<Convert>();
        let validator =
            jsonschema::draft202012::new(schema.as_value()).expect("the schema compiles");
        let schema_accepts = |yaml: &str| {
            let instance: serde_json::Value = serde_yaml::from_str(yaml).expect("YAML");
            validator.is_valid(&instance)
        };
        // `.inf` and `.nan` (accepted in `map`) are left out: JSON has no such numbers, so a
        // YAML to JSON conversion turns them into null.
        let accepted = [
            "{}",
            "{regex: '^([0-9.]+) Mbps$', scale: 125000}",
            "{map: {OK: 1, DEGRADED: 0.5, FAILED: 0}, default: -1}",
            "{map: {1: 1, yes: 0, '~': 2}}",
            "{map: {OK: 1}, parse: boolean}",
            "{parse: number}",
            "{parse: boolean}",
            "{parse: duration}",
            "{parse: time, format: '%Y-%m-%d %H:%M:%S'}",
            "{parse: time, format: unix_ms}",
            "{decimal_separator: ','}",
            "{parse: number, decimal_separator: '.'}",
            "{regex: '^([0-9,]+) GB$', decimal_separator: ',', scale: 1e9}",
            "{scale: -0.001}",
            "{parse: duration, divide: 1000}",
            "{parse: time, format: '%Y-%m-%d %H:%M:%S', timezone: Europe/Berlin}",
            "{parse: time, format: '%d.%m.%Y', timezone: '+02:00'}",
            "{map: {OK: 1}, default: 0, divide: -8}",
        ];
        for yaml in accepted {
            assert!(
                serde_yaml::from_str::<Convert>(yaml).is_ok(),
                "Deserialize refuses {yaml}"
            );
            assert!(schema_accepts(yaml), "the schema refuses {yaml}");
        }
        let refused = [
            "{unit: s}",
            "{default: 0}",
            "{map: {a: 1}, default: 0, parse: number}",
            "{map: {a: 1}, default: 0, format: unix}",
            "{map: {a: 1}, default: 0, decimal_separator: ','}",
            "{format: unix}",
            "{parse: boolean, format: unix}",
            "{parse: time}",
            "{parse: time, format: ''}",
            "{decimal_separator: ';'}",
            "{parse: duration, decimal_separator: ','}",
            "{scale: 0}",
            "{scale: 0.0}",
            "{scale: '2'}",
            "{scale: .inf}",
            "{divide: 0}",
            "{divide: '1000'}",
            "{scale: 8, divide: 1000}",
            "{timezone: Europe/Berlin}",
            "{parse: duration, timezone: UTC}",
            "{parse: time, format: rfc3339, timezone: UTC}",
            "{parse: time, format: unix_ms, timezone: UTC}",
            "{parse: time, format: '%Y-%m-%d', timezone: ''}",
            "{parse: time, format: '%Y-%m-%d', timezone: 2}",
            "{map: {a: 1}, default: 0, timezone: UTC}",
            "{map: {}}",
            "{map: {a: x}}",
            "{map: {a: '1'}}",
            "{map: [a]}",
            "{parse: integer}",
            "{regex: [a]}",
            "5",
            "[parse]",
        ];
        for yaml in refused {
            assert!(
                serde_yaml::from_str::<Convert>(yaml).is_err(),
                "Deserialize accepts {yaml}"
            );
            assert!(!schema_accepts(yaml), "the schema accepts {yaml}");
        }
        // The loader compiles the regex and the time format; the schema cannot.
        for yaml in [
            "{regex: '('}",
            "{regex: '(a)(b)'}",
            "{parse: time, format: '%H:%M'}",
            "{parse: time, format: '%d.%m.%Y %Z'}",
            "{parse: time, format: '%Y-%m-%d', timezone: Mars/Olympus_Mons}",
            "{parse: time, format: '%Y-%m-%d %z', timezone: UTC}",
        ] {
            assert!(
                serde_yaml::from_str::<Convert>(yaml).is_err(),
                "Deserialize accepts {yaml}"
            );
            assert!(schema_accepts(yaml), "the schema refuses {yaml}");
        }
    }
}
