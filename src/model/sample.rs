//! Samples: what evaluation hands to the exposition writer.
//!
//! Evaluation turns each rule into [`Sample`]s (a label set and a value); [`Families`] gathers
//! them into [`MetricFamily`]s by metric name, keeps families and series sorted so output is
//! stable, and refuses a second sample for a series that already has one.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use crate::model::names::MetricName;

/// The Prometheus metric type of a family, as written in `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// A value that can go up and down.
    Gauge,
    /// A value that only goes up.
    Counter,
    /// Observations counted into cumulative buckets, with `_sum` and `_count`.
    Histogram,
    /// Quantiles of observations, with `_sum` and `_count`.
    Summary,
}

impl MetricType {
    /// The word used in `# TYPE` lines and in the rule file.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauge",
            MetricType::Counter => "counter",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Label pairs of one series, sorted by name, without empty values.
///
/// Prometheus treats a label with an empty value as absent, so `{kind=""}` and `{}` are the same
/// series; dropping empty values here makes that equality structural.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelSet(Vec<(String, String)>);

impl LabelSet {
    /// Builds a label set from pairs; empty values are dropped, names are sorted.
    ///
    /// Names must be unique; the compiler guarantees it for rule labels.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> LabelSet {
        let mut pairs: Vec<(String, String)> =
            pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        pairs.sort();
        LabelSet(pairs)
    }

    /// The set without labels.
    pub const fn empty() -> LabelSet {
        LabelSet(Vec::new())
    }

    /// The pairs, sorted by label name.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The label set for a message, bounded whatever the input gave: each value cut at 200
    /// characters, at most 16 labels, then `... and N more`.
    ///
    /// ```
    /// # use xml2prom::model::sample::LabelSet;
    /// let labels = LabelSet::new([("id".to_owned(), "x".repeat(300))]);
    /// assert_eq!(labels.for_message(),
    ///            format!("{{id=\"{}… (100 more characters)\"}}", "x".repeat(200)));
    /// ```
    pub fn for_message(&self) -> String {
        const MAX_LABELS: usize = 16;
        const MAX_VALUE: usize = 200;
        let mut shown: Vec<String> = self
            .0
            .iter()
            .take(MAX_LABELS)
            .map(|(name, value)| {
                let value = crate::model::number::shorten_to(value, MAX_VALUE);
                format!(
                    "{}={value:?}",
                    crate::model::number::shorten_to(name, MAX_VALUE)
                )
            })
            .collect();
        if self.0.len() > MAX_LABELS {
            shown.push(format!("... and {} more", self.0.len() - MAX_LABELS));
        }
        format!("{{{}}}", shown.join(","))
    }
}

impl fmt::Display for LabelSet {
    /// Writes the label set as PromQL would show it: `{kind="a",path="/x"}`, or `{}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{name}={value:?}")?;
        }
        f.write_str("}")
    }
}

/// The value of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    /// A gauge or counter value.
    Single(f64),
    /// A histogram: cumulative counts per upper bound (ascending, `+Inf` excluded), sum, count.
    Histogram {
        /// `(le, cumulative count)` for each configured bucket, ascending by `le`.
        buckets: Vec<(f64, u64)>,
        /// Sum of all observations.
        sum: f64,
        /// Number of observations; also the `+Inf` bucket.
        count: u64,
    },
    /// A summary: `(quantile, value)` pairs ascending by quantile, sum, count.
    Summary {
        /// `(quantile, value)` for each configured quantile.
        quantiles: Vec<(f64, f64)>,
        /// Sum of all observations.
        sum: f64,
        /// Number of observations.
        count: u64,
    },
}

/// One series of a family: its labels and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: LabelSet,
    /// The series' value.
    pub value: SampleValue,
}

/// Where a sample came from, for error messages about duplicate series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The rule's position in the rule file, e.g. `metrics[2]` (shared: one per rule).
    pub rule: Arc<str>,
    /// The input file the sample was computed from (shared: one per input).
    pub input: Arc<str>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} on {}", self.rule, self.input)
    }
}

/// A metric family: name, HELP, TYPE and its series sorted by label set.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The metric name.
    pub name: MetricName,
    /// The HELP text, unescaped.
    pub help: String,
    /// The TYPE.
    pub kind: MetricType,
    /// The series, sorted by label set.
    pub series: BTreeMap<LabelSet, (SampleValue, Origin)>,
}

/// Two samples for the same series: the output would have a duplicate line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "two samples for the series `{name}{}`: one from {first}, one from {second}; \
     add a label that tells them apart (for several inputs, e.g. path=\"{{{{ input.path }}}}\")",
    labels.for_message()
)]
pub struct DuplicateSeries {
    /// The metric name.
    pub name: String,
    /// The label set both samples have.
    pub labels: LabelSet,
    /// Where the first sample came from.
    pub first: Origin,
    /// Where the second sample came from.
    pub second: Origin,
}

/// All families of one output, sorted by name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Families {
    families: BTreeMap<String, MetricFamily>,
}

impl Families {
    /// An empty collection.
    pub fn new() -> Families {
        Families::default()
    }

    /// Adds a sample to the family `name`, creating the family on first use.
    ///
    /// The compiler has already checked that every rule sharing a name agrees on HELP and TYPE,
    /// so the first rule's HELP and TYPE stand for the family.
    pub fn add(
        &mut self,
        name: &MetricName,
        help: &str,
        kind: MetricType,
        sample: Sample,
        origin: Origin,
    ) -> Result<(), Box<DuplicateSeries>> {
        let family = self
            .families
            .entry(name.as_str().to_owned())
            .or_insert_with(|| MetricFamily {
                name: name.clone(),
                help: help.to_owned(),
                kind,
                series: BTreeMap::new(),
            });
        match family.series.entry(sample.labels) {
            std::collections::btree_map::Entry::Occupied(entry) => Err(Box::new(DuplicateSeries {
                name: name.as_str().to_owned(),
                labels: entry.key().clone(),
                first: entry.get().1.clone(),
                second: origin,
            })),
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert((sample.value, origin));
                Ok(())
            }
        }
    }

    /// The families in name order.
    pub fn iter(&self) -> impl Iterator<Item = &MetricFamily> {
        self.families.values()
    }

    /// The number of samples (series) across all families.
    pub fn series_count(&self) -> usize {
        self.families.values().map(|f| f.series.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> MetricName {
        MetricName::parse(s).expect("valid test name")
    }

    fn origin(rule: &str) -> Origin {
        Origin {
            rule: rule.into(),
            input: "store.xml".into(),
        }
    }

    #[test]
    fn empty_label_values_are_dropped_and_names_sorted() {
        let set = LabelSet::new([
            ("z".to_owned(), "1".to_owned()),
            ("a".to_owned(), "".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]);
        assert_eq!(set.to_string(), r#"{b="2",z="1"}"#);
        assert_eq!(
            set,
            LabelSet::new([("b".into(), "2".into()), ("z".into(), "1".into())])
        );
    }

    #[test]
    fn duplicate_series_is_refused_with_both_origins() {
        let mut families = Families::new();
        let labels = LabelSet::new([("kind".to_owned(), "a".to_owned())]);
        let sample = |v| Sample {
            labels: labels.clone(),
            value: SampleValue::Single(v),
        };
        families
            .add(
                &name("m"),
                "h",
                MetricType::Gauge,
                sample(1.0),
                origin("metrics[0]"),
            )
            .expect("first sample is accepted");
        let err = families
            .add(
                &name("m"),
                "h",
                MetricType::Gauge,
                sample(2.0),
                origin("metrics[1]"),
            )
            .expect_err("second sample for the same series");
        assert_eq!(&*err.first.rule, "metrics[0]");
        assert_eq!(&*err.second.rule, "metrics[1]");
        assert!(err.to_string().contains(r#"`m{kind="a"}`"#), "{err}");
        assert_eq!(families.series_count(), 1);
    }

    #[test]
    fn families_iterate_in_name_order() {
        let mut families = Families::new();
        for n in ["b", "a", "c"] {
            let sample = Sample {
                labels: LabelSet::default(),
                value: SampleValue::Single(0.0),
            };
            families
                .add(
                    &name(n),
                    "h",
                    MetricType::Gauge,
                    sample,
                    origin("metrics[0]"),
                )
                .expect("distinct families");
        }
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }
}
