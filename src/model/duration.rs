//! Durations as people write them on the command line (`--every 30s`, `--lock-timeout 1h30m`)
//! and as messages and log lines print them (`every=30s`, `nothing arrived for 250ms`).
//!
//! Both go through jiff's "friendly" format: [`parse`] reads `250ms`, `30s`, `5m`, `1h30m`,
//! `1h 30m`, `1.5h`, `2 minutes` or `1d` into a [`Duration`], and [`Friendly`] prints one back
//! in the short form (`1m 30s`). `0` needs no unit. A day is 24 hours and a week 7 days;
//! months and years, which have no fixed length, and negative durations are refused with a
//! message that says what to write instead.

use std::fmt;
use std::time::Duration;

use jiff::fmt::friendly::{SpanParser, SpanPrinter};
use jiff::{SignedDuration, SpanRelativeTo};

/// The friendly-format parser, configured once.
static PARSER: SpanParser = SpanParser::new();
/// The friendly-format printer: compact unit names, a space between units (`1h 30m`).
static PRINTER: SpanPrinter = SpanPrinter::new();

/// What every refusal ends with: the forms the README documents.
const ADVICE: &str = "write a duration such as `30s`, `2m` or `1h30m`";

/// Reads a duration such as `30s`, `2m`, `1h30m`, `1h 30m`, `250ms`, `1.5h` or `1d`.
///
/// The error names the text, says what is wrong and what to write, e.g.
///
/// ```text
/// `30` is not a duration: it has no unit; write a duration such as `30s`, `2m` or `1h30m`
/// ```
pub fn parse(text: &str) -> Result<Duration, String> {
    let refuse = |why: &str| format!("`{text}` is not a duration: {why}; {ADVICE}");
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("the duration is empty; {ADVICE}"));
    }
    // Zero needs no unit, as humantime read it: `--lock-timeout 0` gives up at once.
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    if trimmed
        .bytes()
        .all(|byte| byte.is_ascii_digit() || byte == b'.')
    {
        return Err(refuse("it has no unit"));
    }
    let span = PARSER
        .parse_span(trimmed)
        .map_err(|error| refuse(&friendly_error(&error)))?;
    if span.is_negative() {
        return Err(refuse("it is negative"));
    }
    if span.get_years() != 0 || span.get_months() != 0 {
        return Err(refuse(
            "months and years have no fixed length, give days (`30d`) or hours",
        ));
    }
    let signed: SignedDuration = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|_| refuse("it is too long"))?;
    Duration::try_from(signed).map_err(|_| refuse("it is too long"))
}

/// jiff's reason, without its prefix about the format (which the caller's message names). A
/// number too big for a span, which jiff explains in its own terms (units, ranges, nanoseconds),
/// is "too long".
fn friendly_error(error: &jiff::Error) -> String {
    let message = error.to_string();
    let out_of_range = ["too big", "required range", "failed to set value"];
    if out_of_range.iter().any(|words| message.contains(words)) {
        return "it is too long".to_owned();
    }
    let reason = message
        .strip_prefix("failed to parse input in the \"friendly\" duration format: ")
        .unwrap_or(&message);
    reason.to_owned()
}

/// A duration printed as [`parse`] reads it: `30s`, `1m 30s`, `250ms`, `1s 500ms`, `0s`.
///
/// Units go up to hours, so a day prints as `24h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Friendly(pub Duration);

impl fmt::Display for Friendly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&PRINTER.unsigned_duration_to_string(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn reads_the_documented_forms() {
        for (text, expected) in [
            ("30s", ms(30_000)),
            ("5m", ms(300_000)),
            ("2m", ms(120_000)),
            ("60s", ms(60_000)),
            ("90s", ms(90_000)),
            ("1h30m", ms(5_400_000)),
            ("1h 30m", ms(5_400_000)),
            ("250ms", ms(250)),
            ("1s", ms(1_000)),
            ("0s", ms(0)),
            ("0", ms(0)),
        ] {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    /// Forms humantime read, which existing command lines and unit files may hold.
    #[test]
    fn reads_the_longer_unit_names_and_days() {
        for (text, expected) in [
            ("1m30s", ms(90_000)),
            ("2min", ms(120_000)),
            ("2mins", ms(120_000)),
            ("5 minutes", ms(300_000)),
            ("30sec", ms(30_000)),
            ("1hour", ms(3_600_000)),
            ("2hours", ms(7_200_000)),
            ("500msec", ms(500)),
            ("10us", Duration::from_micros(10)),
            ("10ns", Duration::from_nanos(10)),
            ("1d", ms(86_400_000)),
            ("1w", ms(7 * 86_400_000)),
            (" 30s ", ms(30_000)),
        ] {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn reads_fractions_and_commas() {
        assert_eq!(parse("1.5h"), Ok(ms(5_400_000)));
        assert_eq!(parse("0.5s"), Ok(ms(500)));
        assert_eq!(parse("1h, 30m"), Ok(ms(5_400_000)));
    }

    #[test]
    fn refuses_bad_input_with_advice() {
        for (text, reason) in [
            ("", "the duration is empty; "),
            ("   ", "the duration is empty; "),
            ("30", "`30` is not a duration: it has no unit; "),
            ("1.5", "`1.5` is not a duration: it has no unit; "),
            ("-5s", "`-5s` is not a duration: it is negative; "),
            ("5s ago", "`5s ago` is not a duration: it is negative; "),
            (
                "1mo",
                "`1mo` is not a duration: months and years have no fixed length",
            ),
            (
                "2y",
                "`2y` is not a duration: months and years have no fixed length",
            ),
            ("soon", "`soon` is not a duration: "),
            ("30x", "`30x` is not a duration: "),
            ("s30", "`s30` is not a duration: "),
        ] {
            let message = parse(text).expect_err(text);
            assert!(message.starts_with(reason), "{text}: {message}");
            assert!(
                message.ends_with("; write a duration such as `30s`, `2m` or `1h30m`"),
                "{text}: {message}"
            );
            assert!(!message.contains("friendly"), "{text}: {message}");
        }
    }

    #[test]
    fn refuses_what_a_duration_cannot_hold() {
        for text in ["99999999999999h", "100000000d", "9999999999999999999999s"] {
            let message = parse(text).expect_err(text);
            assert!(
                message.starts_with(&format!("`{text}` is not a duration: it is too long; ")),
                "{message}"
            );
        }
        // Still in range: about 20,000 years.
        assert!(parse("175307616h").is_ok());
    }

    #[test]
    fn prints_the_short_form() {
        for (duration, expected) in [
            (ms(30_000), "30s"),
            (ms(90_000), "1m 30s"),
            (ms(5_400_000), "1h 30m"),
            (ms(250), "250ms"),
            (ms(1_500), "1s 500ms"),
            (ms(0), "0s"),
            (ms(86_400_000), "24h"),
        ] {
            assert_eq!(Friendly(duration).to_string(), expected);
        }
    }

    #[test]
    fn what_is_printed_reads_back() {
        for duration in [ms(1), ms(999), ms(61_001), ms(3_600_000), ms(93_784_005)] {
            let text = Friendly(duration).to_string();
            assert_eq!(parse(&text), Ok(duration), "{text}");
        }
    }
}
