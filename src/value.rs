//! Value: text read from XML to a sample value.
//!
//! Numbers are parsed strictly: only what Prometheus itself would write is accepted, so a value
//! such as `1,5`, ` 42 `, `0x10` or `1e309` is reported instead of turning silently into a wrong
//! number or an infinity.

/// Parses a number written as Prometheus and Go write them: an optional sign, digits with an
/// optional fraction, an optional exponent; or `NaN`, `+Inf`, `-Inf`, `Inf`. No white space.
/// Finite text that overflows to infinity (`1e309`) is refused.
///
/// ```
/// # use xml2prom::value::parse_number;
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
}
