//! Numbers: text read from XML to a sample value, a sample value back to text, and text cut
//! short for a message.
//!
//! Numbers are parsed strictly: only what Prometheus itself would write is accepted, so a value
//! such as `1,5`, ` 42 `, `0x10` or `1e309` is reported instead of turning silently into a wrong
//! number or an infinity ([`parse_number`]). [`format_value`] writes what Go's
//! `strconv.ParseFloat` reads back exactly; [`xpath_number`] is XPath's own, looser `number()`.

use std::fmt::Write as _;

/// Parses a number written as Prometheus and Go write them: an optional sign, digits with an
/// optional fraction, an optional exponent; or `NaN`, `+Inf`, `-Inf`, `Inf`. No white space.
/// Finite text that overflows to infinity (`1e309`) is refused.
///
/// ```
/// # use xml2prom::model::number::parse_number;
/// assert_eq!(parse_number("42"), Some(42.0));
/// assert_eq!(parse_number("-1.5e3"), Some(-1500.0));
/// assert_eq!(parse_number("+Inf"), Some(f64::INFINITY));
/// assert_eq!(parse_number(" 42"), None);
/// assert_eq!(parse_number("1e309"), None);
/// ```
pub fn parse_number(text: &str) -> Option<f64> {
    match text {
        "NaN" => return Some(f64::NAN),
        "+Inf" | "Inf" => return Some(f64::INFINITY),
        "-Inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Formats a number so Go's `strconv.ParseFloat` reads back the same value.
///
/// Integers print without a fraction (`6`, not `6.0`); other values print the shortest text
/// that round-trips, with an exponent for very large or small magnitudes (`1e22`, `1e-7`); the
/// special values print as Prometheus spells them: `NaN`, `+Inf`, `-Inf` (never Rust's `inf`).
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    // An integral f64 below 1e16 fits an i64 exactly, and prints without a fraction; from 1e16
    // on, `Debug` below switches to exponent notation, which has none either.
    if value.fract() == 0.0 && value.abs() < 1e16 {
        let mut s = String::new();
        // `as i64` is exact here and turns -0 into 0.
        let _ = write!(s, "{}", value as i64);
        return s;
    }
    // Rust's `Debug` for f64 is the shortest round-trip form and switches to exponent notation
    // for very large and very small magnitudes, which Go parses (`1e16`, `1e-7`).
    format!("{value:?}")
}

/// XPath's `number()` of a string (XPath 1.0 section 4.4): optional XML white space, an
/// optional `-`, digits with an optional `.`, and, as libxml2 also reads it, an optional exponent
/// (`1e3`); anything else (`+5`, `inf`, `Infinity`, a no-break space) is NaN. It is sxd-xpath's
/// own conversion, so both engines agree.
///
/// ```
/// # use xml2prom::model::number::xpath_number;
/// assert_eq!(xpath_number(" -1.5\n"), -1.5);
/// assert_eq!(xpath_number("1e3"), 1000.0);
/// assert!(xpath_number("+5").is_nan());
/// assert!(xpath_number("Infinity").is_nan());
/// ```
pub fn xpath_number(s: &str) -> f64 {
    sxd_xpath::str_to_num(s)
}

/// Cuts text for an error message, so a huge or secret value is not copied into logs whole.
pub(crate) fn shorten(text: &str) -> String {
    match cut(text, 40) {
        Some((kept, _)) => format!("{kept}…"),
        None => text.to_owned(),
    }
}

/// Cuts text for a message at `max` characters, saying how much was left out:
/// `aaaa… (1200 more characters)`. Every message of a run stays a few KiB (issue 10).
pub(crate) fn shorten_to(text: &str, max: usize) -> String {
    match cut(text, max) {
        Some((kept, left_out)) => format!("{kept}… ({left_out} more characters)"),
        None => text.to_owned(),
    }
}

/// The first `max` characters of `text` and the number of characters after them, or `None`
/// when the text is not longer than `max`.
fn cut(text: &str, max: usize) -> Option<(&str, usize)> {
    let (end, _) = text.char_indices().nth(max)?;
    Some((&text[..end], text[end..].chars().count()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_prometheus_numbers() {
        for (text, value) in [
            ("0", 0.0),
            ("42", 42.0),
            ("-7", -7.0),
            ("+7", 7.0),
            ("3.25", 3.25),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("1E-3", 0.001),
            ("-Inf", f64::NEG_INFINITY),
            ("+Inf", f64::INFINITY),
        ] {
            assert_eq!(parse_number(text), Some(value), "{text}");
        }
        assert!(parse_number("NaN").is_some_and(f64::is_nan));
    }

    #[test]
    fn refuses_everything_else() {
        for text in [
            "", " 42", "42 ", "1,5", "0x10", "1e309", "-1e309", "inf", "infinity", "nan", "1e",
            "e3", ".", "-", "1.2.3", "12abc", "٣", "1_000",
        ] {
            assert_eq!(parse_number(text), None, "{text:?}");
        }
    }

    #[test]
    fn numbers_are_go_parseable() {
        let cases = [
            (6.0, "6"),
            (-3.0, "-3"),
            (0.0, "0"),
            (-0.0, "0"),
            (0.5, "0.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e15, "1000000000000000"),
            (9_007_199_254_740_992.0, "9007199254740992"),
            (9_999_999_999_999_998.0, "9999999999999998"),
            (1e16, "1e16"),
            (1e22, "1e22"),
            (1.5e300, "1.5e300"),
            (1e-7, "1e-7"),
            (f64::MAX, "1.7976931348623157e308"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_value(value), expected, "formatting {value:?}");
        }
    }

    #[test]
    fn formatted_numbers_round_trip() {
        for value in [
            0.1,
            123.456,
            9_007_199_254_740_993.0,
            2e-308,
            4.9e-324,
            12345678.9,
        ] {
            let text = format_value(value);
            assert_eq!(text.parse::<f64>().ok(), Some(value), "{text}");
        }
    }
}
