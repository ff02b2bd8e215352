//! Exposition: families and samples to the Prometheus text format 0.0.4.
//!
//! This is the format node_exporter's textfile collector reads. Families come sorted by name and
//! series by label set (see [`crate::model::sample::Families`]), so two runs over the same data give the
//! same bytes. There are never timestamps: the collector rejects a whole file that has one.
//!
//! Format reference: <https://prometheus.io/docs/instrumenting/exposition_formats/>.

#[cfg(doc)]
use crate::model::sample::BytePairs;
use crate::model::sample::{Families, MetricFamily, MetricType, SampleValue};

/// Renders all families as one text-format document, ending with a newline when not empty.
///
/// ```
/// # use xml2prom::{exposition, model::names::MetricName, model::sample::*};
/// let mut families = Families::new();
/// let labels = LabelSet::new([("path".to_owned(), "/tmp/store.xml".to_owned())]);
/// let origin = Origin { rule: "metrics[0]".into(), input: "store.xml".into() };
/// let name = MetricName::parse("store_total_rows")?;
/// let sample = Sample { labels, value: SampleValue::Single(6.0) };
/// families.add(&name, "Total rows in store", MetricType::Gauge, sample, origin)
///     .map_err(|e| e.to_string())?;
/// let text = exposition::render(&families);
/// let lines: Vec<&str> = text.lines().collect();
/// assert_eq!(lines, [
///     "# HELP store_total_rows Total rows in store",
///     "# TYPE store_total_rows gauge",
///     "store_total_rows{path=\"/tmp/store.xml\"} 6",
/// ]);
/// assert!(text.ends_with('\n'));
/// # Ok::<(), String>(())
/// ```
pub fn render(families: &Families) -> String {
    let mut out = Vec::new();
    for family in families.iter() {
        // Writing into memory cannot fail.
        let _ = render_family(&mut out, family, &mut |_| Ok(()));
    }
    // Every piece written was UTF-8 (names, HELP, label values decoded from their label sets,
    // ASCII numbers), so this never replaces anything.
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

/// How many bytes [`render_to`] gathers before it hands them to its writer.
const CHUNK: usize = 1 << 16;

/// Writes the text [`render`] returns into `writer`, a chunk of whole lines at a time, without
/// holding the whole text: with hundreds of thousands of series the text is as large as all
/// the families it is written from.
pub fn render_to(families: &Families, writer: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(CHUNK + 1024);
    for family in families.iter() {
        render_family(&mut out, family, &mut |out| {
            if out.len() >= CHUNK {
                writer.write_all(out)?;
                out.clear();
            }
            Ok(())
        })?;
    }
    writer.write_all(&out)
}

/// Writes one family into `out`, calling `flush` after each series with what is written so
/// far (it may take it away).
fn render_family(
    out: &mut Vec<u8>,
    family: &MetricFamily,
    flush: &mut dyn FnMut(&mut Vec<u8>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let name = family.name.as_str();
    write_help(out, name, &family.help);
    write_type(out, name, family.kind);
    // One buffer for the `le` and `quantile` values of every line.
    let mut bound = Vec::new();
    for (labels, value) in family.sorted() {
        match value {
            SampleValue::Single(v) => write_sample(out, name, "", labels, None, *v),
            SampleValue::Histogram(histogram) => {
                for (le, cumulative) in &histogram.buckets {
                    bound.clear();
                    write_value(&mut bound, *le);
                    write_sample(
                        out,
                        name,
                        "_bucket",
                        labels,
                        Some(("le", &bound)),
                        *cumulative as f64,
                    );
                }
                let count = histogram.count as f64;
                write_sample(out, name, "_bucket", labels, Some(("le", b"+Inf")), count);
                write_sample(out, name, "_sum", labels, None, histogram.sum);
                write_sample(out, name, "_count", labels, None, count);
            }
            SampleValue::Summary(summary) => {
                for (quantile, v) in &summary.quantiles {
                    bound.clear();
                    write_value(&mut bound, *quantile);
                    write_sample(out, name, "", labels, Some(("quantile", &bound)), *v);
                }
                write_sample(out, name, "_sum", labels, None, summary.sum);
                let count = summary.count as f64;
                write_sample(out, name, "_count", labels, None, count);
            }
        }
        flush(out)?;
    }
    Ok(())
}

/// `# HELP name text`, where the text escapes only backslash and newline.
fn write_help(out: &mut Vec<u8>, name: &str, help: &str) {
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    for &byte in help.as_bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            byte => out.push(byte),
        }
    }
    out.push(b'\n');
}

/// `# TYPE name type`.
fn write_type(out: &mut Vec<u8>, name: &str, kind: MetricType) {
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind.as_str().as_bytes());
    out.push(b'\n');
}

/// One sample line: `name{labels} value`, with an optional trailing `le` or `quantile` label.
/// `labels` is a label set's key ([`crate::model::sample::LabelSet::key`]), written straight
/// from its bytes.
fn write_sample(
    out: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    labels: &[u8],
    extra: Option<(&str, &[u8])>,
    value: f64,
) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(suffix.as_bytes());
    if !labels.is_empty() || extra.is_some() {
        out.push(b'{');
        let mut rest = labels;
        let mut first = true;
        while !rest.is_empty() {
            if !first {
                out.push(b',');
            }
            first = false;
            rest = write_key_text(out, rest, false);
            out.extend_from_slice(b"=\"");
            rest = write_key_text(out, rest, true);
            out.push(b'"');
        }
        if let Some((label, value)) = extra {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(b"=\"");
            escape_label_value(out, value);
            out.push(b'"');
        }
        out.push(b'}');
    }
    out.push(b' ');
    write_value(out, value);
    out.push(b'\n');
}

/// What a byte of a label set's key is to [`write_key_text`]: 0 for a byte written as it is.
static KEY_BYTES: [u8; 256] = {
    let mut table = [0; 256];
    table[0] = KEY_END;
    table[1] = KEY_ESCAPE;
    table[b'\\' as usize] = KEY_QUOTED;
    table[b'"' as usize] = KEY_QUOTED;
    table[b'\n' as usize] = KEY_QUOTED;
    table
};
/// [`KEY_BYTES`]: the zero byte that ends a text of the key.
const KEY_END: u8 = 1;
/// [`KEY_BYTES`]: the first byte of an escaped 0x00 or 0x01 (see `encode_text`).
const KEY_ESCAPE: u8 = 2;
/// [`KEY_BYTES`]: a byte a label value escapes (`\`, `"`, line feed).
const KEY_QUOTED: u8 = 3;

/// Writes the text that starts `key` (a label set's key, see
/// [`crate::model::sample::LabelSet::key`]) decoded, and escaped as a label value when
/// `value`, in one pass that copies runs of plain bytes; returns the rest of the key, after the
/// text's zero byte. What [`BytePairs`] decodes and [`escape_label_value`] escapes.
fn write_key_text<'k>(out: &mut Vec<u8>, key: &'k [u8], value: bool) -> &'k [u8] {
    let mut start = 0;
    let mut at = 0;
    while let Some(&byte) = key.get(at) {
        let class = KEY_BYTES[usize::from(byte)];
        if class == 0 || (class == KEY_QUOTED && !value) {
            at += 1;
            continue;
        }
        out.extend_from_slice(key.get(start..at).unwrap_or_default());
        match class {
            KEY_END => return key.get(at + 1..).unwrap_or_default(),
            KEY_ESCAPE => {
                // 0x01 0x01 stands for 0x00, 0x01 0x02 for 0x01: neither is escaped.
                let next = key.get(at + 1).copied().unwrap_or(1);
                out.push(next.saturating_sub(1));
                at += 2;
            }
            _ => {
                out.extend_from_slice(match byte {
                    b'\\' => b"\\\\",
                    b'"' => b"\\\"",
                    _ => b"\\n",
                });
                at += 1;
            }
        }
        start = at;
    }
    out.extend_from_slice(key.get(start..).unwrap_or_default());
    &[]
}

/// Appends a sample value exactly as [`crate::model::number::format_value`] spells it, without
/// allocating.
fn write_value(out: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e16 {
        // `as i64` is exact here and turns -0 into 0, as in `format_value`.
        let integer = value as i64;
        if integer < 0 {
            out.push(b'-');
        }
        let mut rest = integer.unsigned_abs();
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
            start -= 1;
            if rest == 0 {
                break;
            }
        }
        out.extend_from_slice(digits.get(start..).unwrap_or_default());
    } else {
        use std::io::Write;
        let _ = write!(out, "{value:?}");
    }
}

/// Label values escape backslash, double quote and newline, nothing else.
fn escape_label_value(out: &mut Vec<u8>, value: &[u8]) {
    let mut start = 0;
    for (i, &byte) in value.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            b'\n' => b"\\n",
            _ => continue,
        };
        out.extend_from_slice(value.get(start..i).unwrap_or_default());
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(value.get(start..).unwrap_or_default());
}

/// A label value quoted and escaped as the text format writes it: `"a\"b"`.
pub fn quote_label_value(value: &str) -> String {
    let mut out = Vec::with_capacity(value.len() + 2);
    out.push(b'"');
    escape_label_value(&mut out, value.as_bytes());
    out.push(b'"');
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::MetricName;
    use crate::model::number::format_value;
    use crate::model::sample::{BytePairs, Histogram, LabelSet, Origin, Sample, Summary};
    use pretty_assertions::assert_eq;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        LabelSet::new(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())))
    }

    fn families(entries: Vec<(&str, &str, MetricType, Sample)>) -> Families {
        let mut families = Families::new();
        for (i, (name, help, kind, sample)) in entries.into_iter().enumerate() {
            let origin = Origin {
                rule: format!("metrics[{i}]").into(),
                input: "x.xml".into(),
            };
            let name = MetricName::parse(name).expect("valid test name");
            families
                .add(&name, help, kind, sample, origin)
                .expect("no duplicates in test data");
        }
        families
    }

    #[test]
    fn help_escapes_only_backslash_and_newline() {
        let mut out = Vec::new();
        write_help(&mut out, "m", "a \\ b\nc \"quoted\"\t");
        let out = String::from_utf8(out).expect("UTF-8");
        assert_eq!(out, "# HELP m a \\\\ b\\nc \"quoted\"\t\n");
    }

    /// `write_sample`'s labels as they were written before `write_key_text`: decoded pairs,
    /// then each value escaped.
    fn labels_pair_by_pair(key: &[u8], extra: Option<(&str, &[u8])>) -> Vec<u8> {
        let mut out = Vec::new();
        let extra = extra.map(|(label, value)| (label.as_bytes().into(), value.into()));
        for (i, (label, value)) in BytePairs::of(key).chain(extra).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&label);
            out.extend_from_slice(b"=\"");
            escape_label_value(&mut out, &value);
            out.push(b'"');
        }
        out
    }

    #[test]
    fn labels_are_written_from_the_key_as_pair_by_pair() {
        let texts = [
            "",
            "a",
            "x\\y",
            "q\"",
            "l\nm",
            "\0",
            "\u{1}",
            "\u{1}\0\\\"\n",
            "ü€",
            "\u{2}",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2_000 {
            let mut pairs = Vec::new();
            for i in 0..next() % 4 {
                let mut value = String::new();
                for _ in 0..next() % 4 {
                    value.push_str(texts[(next() % texts.len() as u64) as usize]);
                }
                pairs.push((format!("l{i}"), value));
            }
            let set = LabelSet::new(pairs);
            let extra = match next() % 3 {
                0 => None,
                1 => Some(("le", &b"+Inf"[..])),
                _ => Some(("quantile", &b"0.5"[..])),
            };
            let mut out = Vec::new();
            write_sample(&mut out, "m", "", set.key(), extra, 1.0);
            let mut expected = b"m".to_vec();
            let labels = labels_pair_by_pair(set.key(), extra);
            if !labels.is_empty() {
                expected.push(b'{');
                expected.extend_from_slice(&labels);
                expected.push(b'}');
            }
            expected.extend_from_slice(b" 1\n");
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected),
                "{set:?}"
            );
        }
        // A key cut short in an escape or a text, which no label set has: no panic.
        for key in [&b"a\0b\x01"[..], b"a", b"\x01", b"a\0\x01\x00"] {
            let mut out = Vec::new();
            write_sample(&mut out, "m", "", key, None, 1.0);
            assert!(out.starts_with(b"m{") && out.ends_with(b"} 1\n"), "{key:?}");
        }
    }

    #[test]
    fn label_values_escape_backslash_quote_newline() {
        let mut out = Vec::new();
        escape_label_value(&mut out, "C:\\dir \"x\"\nnext\ttab ü".as_bytes());
        let out = String::from_utf8(out).expect("UTF-8");
        assert_eq!(out, "C:\\\\dir \\\"x\\\"\\nnext\ttab ü");
    }

    #[test]
    fn gauge_family_with_and_without_labels() {
        let text = render(&families(vec![
            (
                "b_rows",
                "Rows",
                MetricType::Gauge,
                Sample {
                    labels: labels(&[("kind", "y"), ("a", "1")]),
                    value: SampleValue::Single(2.0),
                },
            ),
            (
                "b_rows",
                "Rows",
                MetricType::Gauge,
                Sample {
                    labels: labels(&[("kind", "x"), ("a", "1")]),
                    value: SampleValue::Single(1.5),
                },
            ),
            (
                "a_total",
                "All",
                MetricType::Counter,
                Sample {
                    labels: labels(&[]),
                    value: SampleValue::Single(3.0),
                },
            ),
        ]));
        assert_eq!(
            text,
            "# HELP a_total All\n# TYPE a_total counter\na_total 3\n\
             # HELP b_rows Rows\n# TYPE b_rows gauge\n\
             b_rows{a=\"1\",kind=\"x\"} 1.5\nb_rows{a=\"1\",kind=\"y\"} 2\n"
        );
    }

    #[test]
    fn histogram_lines() {
        let text = render(&families(vec![(
            "size",
            "Sizes",
            MetricType::Histogram,
            Sample {
                labels: labels(&[("kind", "a")]),
                value: SampleValue::Histogram(Box::new(Histogram {
                    buckets: vec![(0.25, 0), (100.0, 1)],
                    sum: 350.5,
                    count: 3,
                })),
            },
        )]));
        assert_eq!(
            text,
            "# HELP size Sizes\n# TYPE size histogram\n\
             size_bucket{kind=\"a\",le=\"0.25\"} 0\nsize_bucket{kind=\"a\",le=\"100\"} 1\n\
             size_bucket{kind=\"a\",le=\"+Inf\"} 3\nsize_sum{kind=\"a\"} 350.5\nsize_count{kind=\"a\"} 3\n"
        );
    }

    #[test]
    fn summary_lines() {
        let text = render(&families(vec![(
            "lat",
            "Latency",
            MetricType::Summary,
            Sample {
                labels: labels(&[]),
                value: SampleValue::Summary(Box::new(Summary {
                    quantiles: vec![(0.5, 2.0), (0.99, 9.5)],
                    sum: 20.0,
                    count: 4,
                })),
            },
        )]));
        assert_eq!(
            text,
            "# HELP lat Latency\n# TYPE lat summary\n\
             lat{quantile=\"0.5\"} 2\nlat{quantile=\"0.99\"} 9.5\nlat_sum 20\nlat_count 4\n"
        );
    }

    #[test]
    fn no_families_render_as_empty_file() {
        assert_eq!(render(&Families::new()), "");
    }

    #[test]
    fn values_are_written_as_format_value_spells_them() {
        for value in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            6.0,
            1.5,
            -2.25,
            0.1,
            1e15,
            9_999_999_999_999_998.0,
            1e16,
            1e22,
            1e-7,
            123_456.789,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            4_503_599_627_370_497.0,
        ] {
            let mut out = Vec::new();
            write_value(&mut out, value);
            assert_eq!(
                String::from_utf8(out).expect("ASCII"),
                format_value(value),
                "{value:?}"
            );
        }
    }

    #[test]
    fn series_sort_by_label_set_whatever_their_bytes_look_like() {
        // `a` before `a1` (a name that is a prefix comes first), though `=` sorts after `1`;
        // a value with a quote before one with `#`, though its escape `\"` sorts after `#`; a
        // value with a control character before a longer one, and a set before its extension.
        let sets = [
            labels(&[("a", "x")]),
            labels(&[("a", "x"), ("b", "1")]),
            labels(&[("a", "x\u{1}")]),
            labels(&[("a", "x\u{1}y")]),
            labels(&[("a", "x\"")]),
            labels(&[("a", "x#")]),
            labels(&[("a1", "x")]),
        ];
        let mut entries = Vec::new();
        for set in sets.iter().rev() {
            entries.push((
                "m",
                "h",
                MetricType::Gauge,
                Sample {
                    labels: set.clone(),
                    value: SampleValue::Single(1.0),
                },
            ));
        }
        let text = render(&families(entries));
        assert_eq!(
            text,
            "# HELP m h\n# TYPE m gauge\n\
             m{a=\"x\"} 1\nm{a=\"x\",b=\"1\"} 1\nm{a=\"x\u{1}\"} 1\nm{a=\"x\u{1}y\"} 1\n\
             m{a=\"x\\\"\"} 1\nm{a=\"x#\"} 1\nm{a1=\"x\"} 1\n"
        );
        let mut sorted = sets.to_vec();
        sorted.sort();
        assert_eq!(sorted, sets);
    }

    #[test]
    fn render_to_writes_what_render_returns() {
        let mut entries = Vec::new();
        // More than one chunk of lines, in two families.
        for i in 0..5000 {
            for name in ["a_rows", "b_rows"] {
                entries.push((
                    name,
                    "Rows",
                    MetricType::Gauge,
                    Sample {
                        labels: labels(&[("id", &i.to_string()), ("kind", "x\"y")]),
                        value: SampleValue::Single(f64::from(i) / 4.0),
                    },
                ));
            }
        }
        let families = families(entries);
        let mut written = Vec::new();
        render_to(&families, &mut written).expect("writing to memory");
        assert!(written.len() > 2 * CHUNK);
        assert_eq!(
            String::from_utf8(written).expect("UTF-8"),
            render(&families)
        );
    }
}
