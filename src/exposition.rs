//! Exposition: families and samples to the Prometheus text format 0.0.4.
//!
//! This is the format node_exporter's textfile collector reads. Families come sorted by name and
//! series by label set (see [`crate::model::sample::Families`]), so two runs over the same data give the
//! same bytes. There are never timestamps: the collector rejects a whole file that has one.
//!
//! Format reference: <https://prometheus.io/docs/instrumenting/exposition_formats/>.

use crate::model::number::format_value;

use crate::model::sample::{Families, LabelSet, MetricFamily, MetricType, SampleValue};

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
    let mut out = String::new();
    for family in families.iter() {
        render_family(&mut out, family);
    }
    out
}

fn render_family(out: &mut String, family: &MetricFamily) {
    let name = family.name.as_str();
    write_help(out, name, &family.help);
    write_type(out, name, family.kind);
    for (labels, (value, _origin)) in &family.series {
        match value {
            SampleValue::Single(v) => write_sample(out, name, "", labels, None, *v),
            SampleValue::Histogram {
                buckets,
                sum,
                count,
            } => {
                for (le, cumulative) in buckets {
                    let le = format_value(*le);
                    write_sample(
                        out,
                        name,
                        "_bucket",
                        labels,
                        Some(("le", &le)),
                        *cumulative as f64,
                    );
                }
                write_sample(
                    out,
                    name,
                    "_bucket",
                    labels,
                    Some(("le", "+Inf")),
                    *count as f64,
                );
                write_sample(out, name, "_sum", labels, None, *sum);
                write_sample(out, name, "_count", labels, None, *count as f64);
            }
            SampleValue::Summary {
                quantiles,
                sum,
                count,
            } => {
                for (quantile, v) in quantiles {
                    let quantile = format_value(*quantile);
                    write_sample(out, name, "", labels, Some(("quantile", &quantile)), *v);
                }
                write_sample(out, name, "_sum", labels, None, *sum);
                write_sample(out, name, "_count", labels, None, *count as f64);
            }
        }
    }
}

/// `# HELP name text`, where the text escapes only backslash and newline.
fn write_help(out: &mut String, name: &str, help: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\n');
}

/// `# TYPE name type`.
fn write_type(out: &mut String, name: &str, kind: MetricType) {
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind.as_str());
    out.push('\n');
}

/// One sample line: `name{labels} value`, with an optional trailing `le` or `quantile` label.
fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &LabelSet,
    extra: Option<(&str, &str)>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    let pairs = labels.pairs().iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let mut pairs = pairs.chain(extra).peekable();
    if pairs.peek().is_some() {
        out.push('{');
        for (i, (label, label_value)) in pairs.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(label);
            out.push_str("=\"");
            escape_label_value(out, label_value);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&format_value(value));
    out.push('\n');
}

/// Label values escape backslash, double quote and newline, nothing else.
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A label value quoted and escaped as the text format writes it: `"a\"b"`.
pub fn quote_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    escape_label_value(&mut out, value);
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::MetricName;
    use crate::model::sample::{Origin, Sample};
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
        let mut out = String::new();
        write_help(&mut out, "m", "a \\ b\nc \"quoted\"\t");
        assert_eq!(out, "# HELP m a \\\\ b\\nc \"quoted\"\t\n");
    }

    #[test]
    fn label_values_escape_backslash_quote_newline() {
        let mut out = String::new();
        escape_label_value(&mut out, "C:\\dir \"x\"\nnext\ttab ü");
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
                value: SampleValue::Histogram {
                    buckets: vec![(0.25, 0), (100.0, 1)],
                    sum: 350.5,
                    count: 3,
                },
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
                value: SampleValue::Summary {
                    quantiles: vec![(0.5, 2.0), (0.99, 9.5)],
                    sum: 20.0,
                    count: 4,
                },
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
}
