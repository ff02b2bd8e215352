//! Status: what xml2prom tells Prometheus about its own work, as gauges named `xml2prom_*`.
//!
//! Each output gets self-metrics ([`add_self_metrics`]): how long it took, how many series each
//! rule gave, the size and modification time of each input, and when it was written. Every
//! series carries an `output` label with the output's file name, so that the self-metrics of
//! several outputs in one textfile directory never collide (node_exporter serves one series of
//! two with the same name and labels, and logs an error on every scrape).
//!
//! The status file (`--status-file`, [`render_status`]) is written on every run, whatever
//! happened: when the run ended and how long it took, whether each input reached its output,
//! and the failures of each stage, every stage always present so that alert rules need no
//! `absent()`. Its series carry a `status_file` label with the file's name, for the same reason
//! as `output` above: several jobs may each keep a status file in one textfile directory.
//!
//! [`Gauges`] is the one way to add such a metric: declare a [`Gauge`] (name and HELP), list it
//! in [`SELF_METRICS`] (so that no rule may use the name) and set its samples in
//! [`add_self_metrics`], e.g. `gauges.set(&RULE_SAMPLES, &[("rule", "metrics[0]")], 3.0)`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::skips::SkipReason;
use crate::model::names::MetricName;
use crate::model::sample::{Families, LabelSet, MetricType, Origin, Sample, SampleValue};

/// One of xml2prom's own gauges: its name and HELP text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauge {
    /// The metric name, starting with `xml2prom_`.
    pub name: &'static str,
    /// The HELP text.
    pub help: &'static str,
}

/// Self-metric: the time spent producing one output.
pub const RUN_DURATION: Gauge = Gauge {
    name: "xml2prom_run_duration_seconds",
    help: "Seconds xml2prom spent reading and evaluating the inputs of this output",
};

/// Self-metric: the series each rule added to one output.
pub const RULE_SAMPLES: Gauge = Gauge {
    name: "xml2prom_rule_samples",
    help: "Series each rule added to this output (a histogram or summary series counts once); \
           0 when its select matched nothing",
};

/// Self-metric: the nodes each rule's policies left out, by reason.
pub const RULE_SKIPPED: Gauge = Gauge {
    name: "xml2prom_rule_skipped",
    help: "Nodes each rule left out of this output by its policies (on_missing, on_invalid, \
           on_duplicate), by reason",
};

/// Self-metric: the size of each input.
pub const INPUT_SIZE: Gauge = Gauge {
    name: "xml2prom_input_size_bytes",
    help: "Size in bytes of each input of this output when xml2prom read it",
};

/// Self-metric: the modification time of each input.
pub const INPUT_MTIME: Gauge = Gauge {
    name: "xml2prom_input_mtime_seconds",
    help: "Modification time of each input of this output when xml2prom read it, in seconds \
           since the Unix epoch",
};

/// Self-metric: when the output was written.
pub const LAST_SUCCESS: Gauge = Gauge {
    name: "xml2prom_last_success_timestamp_seconds",
    help: "When xml2prom wrote this output, in seconds since the Unix epoch",
};

/// Every gauge xml2prom writes into outputs next to the rule file's metrics.
pub const SELF_METRICS: &[Gauge] = &[
    RUN_DURATION,
    RULE_SAMPLES,
    RULE_SKIPPED,
    INPUT_SIZE,
    INPUT_MTIME,
    LAST_SUCCESS,
];

/// Status: when the last run ended.
pub const LAST_RUN_TIMESTAMP: Gauge = Gauge {
    name: "xml2prom_last_run_timestamp_seconds",
    help: "When the last xml2prom run ended, successful or not, in seconds since the Unix epoch",
};

/// Status: how long the last run took.
pub const LAST_RUN_DURATION: Gauge = Gauge {
    name: "xml2prom_last_run_duration_seconds",
    help: "Seconds the last xml2prom run took, from start to end, waiting for the lock included",
};

/// Status: whether each input reached its output.
pub const INPUT_SUCCESS: Gauge = Gauge {
    name: "xml2prom_input_success",
    help: "1 if the last run wrote the samples of this input to its output, 0 if it did not \
           (the input or the output failed, or the rule file did)",
};

/// Status: failures per stage.
pub const RUN_ERRORS: Gauge = Gauge {
    name: "xml2prom_run_errors",
    help: "Failures in the last run by stage: rules (rule file or command line), read, xml (not \
           well-formed or refused), evaluate, duplicate (series or output files), lock, write, push \
           (to the Pushgateway)",
};

/// Every gauge of the status file.
pub const STATUS_METRICS: &[Gauge] = &[
    LAST_RUN_TIMESTAMP,
    LAST_RUN_DURATION,
    INPUT_SUCCESS,
    RUN_ERRORS,
];

/// A stage of a run where a failure can happen: the `stage` label of `xml2prom_run_errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// The rule file, or a command line that does not fit it (exit code 2).
    Rules,
    /// An input could not be read, or a pattern matched nothing.
    Read,
    /// An input is not well-formed, not UTF-8, or refused as hostile or too large.
    Xml,
    /// A rule failed on an input (a value that is not a number, ...).
    Evaluate,
    /// Two samples for one series, or two inputs for one output file.
    Duplicate,
    /// Another run held the output's lock for the whole `--lock-timeout`.
    Lock,
    /// An output could not be written.
    Write,
    /// The Pushgateway could not be reached or refused the push (`--push`).
    Push,
}

impl Stage {
    /// Every stage, in the order of a run.
    pub const ALL: [Stage; 8] = [
        Stage::Rules,
        Stage::Read,
        Stage::Xml,
        Stage::Evaluate,
        Stage::Duplicate,
        Stage::Lock,
        Stage::Write,
        Stage::Push,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Rules => "rules",
            Stage::Read => "read",
            Stage::Xml => "xml",
            Stage::Evaluate => "evaluate",
            Stage::Duplicate => "duplicate",
            Stage::Lock => "lock",
            Stage::Write => "write",
            Stage::Push => "push",
        }
    }
}

/// What the status file reports about one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStatus {
    /// When the run ended.
    pub finished_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Each input (a path, or a pattern that gave none) and whether it reached its output.
    pub inputs: Vec<(String, bool)>,
    /// The stage of each failure.
    pub failures: Vec<Stage>,
}

/// The status file's text; `status_file` is its file name (the `status_file` label).
pub fn render_status(status: &RunStatus, status_file: &str) -> String {
    let mut families = Families::new();
    let mut gauges = Gauges::new(&mut families, &[("status_file", status_file)]);
    gauges.set(&LAST_RUN_TIMESTAMP, &[], unix_seconds(status.finished_at));
    gauges.set(&LAST_RUN_DURATION, &[], status.duration.as_secs_f64());
    for (input, success) in &status.inputs {
        gauges.set(
            &INPUT_SUCCESS,
            &[("input", input)],
            if *success { 1.0 } else { 0.0 },
        );
    }
    for stage in Stage::ALL {
        let count = status.failures.iter().filter(|&&s| s == stage).count();
        gauges.set(&RUN_ERRORS, &[("stage", stage.as_str())], count as f64);
    }
    crate::exposition::render(&families)
}

/// Adds samples of xml2prom's own gauges to a set of families, each with the common labels.
pub struct Gauges<'a> {
    families: &'a mut Families,
    common: Vec<(String, String)>,
}

impl<'a> Gauges<'a> {
    /// Gauges added to `families`, each sample with the `common` labels (empty values are
    /// left out, as everywhere).
    pub fn new(families: &'a mut Families, common: &[(&str, &str)]) -> Gauges<'a> {
        Gauges {
            families,
            common: common
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        }
    }

    /// Sets one sample of `gauge`. A second sample with the same labels is ignored: own metrics
    /// are built from distinct inputs and rules, so it would be a repetition of the first.
    pub fn set(&mut self, gauge: &Gauge, labels: &[(&str, &str)], value: f64) {
        let name = MetricName::parse(gauge.name)
            .expect("own metric names are valid; the test `own_gauges_are_valid` checks them");
        let labels = LabelSet::new(
            labels
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .chain(self.common.iter().cloned()),
        );
        let origin = Origin {
            rule: Arc::from(gauge.name),
            input: Arc::from(""),
        };
        let sample = Sample {
            labels,
            value: SampleValue::Single(value),
        };
        // The only possible error is a repeated series, ignored as documented.
        let _ = self
            .families
            .add(&name, gauge.help, MetricType::Gauge, sample, origin);
    }
}

/// What one input was when a run read it.
#[derive(Debug, Clone, PartialEq)]
pub struct InputFacts {
    /// The input's path as given (the `input` label).
    pub input: String,
    /// Its size in bytes, for a regular file.
    pub size: Option<u64>,
    /// Its modification time, where the filesystem keeps one.
    pub modified: Option<SystemTime>,
}

impl InputFacts {
    /// Reads the facts of `path`; what cannot be read is left out.
    pub fn of(path: &Path) -> InputFacts {
        let metadata = std::fs::metadata(path).ok();
        InputFacts {
            input: path.display().to_string(),
            size: metadata
                .as_ref()
                .filter(|m| m.is_file())
                .map(std::fs::Metadata::len),
            modified: metadata.and_then(|m| m.modified().ok()),
        }
    }
}

/// What the self-metrics of one output report.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFacts {
    /// The output's file name (the `output` label); empty for standard output.
    pub output: String,
    /// Time spent reading and evaluating the inputs and rendering.
    pub duration: Duration,
    /// For each rule: its id (`metrics[0]`), its metric name, and the series it gave.
    pub rule_samples: Vec<(String, String, usize)>,
    /// For each rule and each reason its policies can skip a node for: its id, its metric name,
    /// the reason and how many nodes it skipped.
    pub rule_skipped: Vec<(String, String, SkipReason, u64)>,
    /// Each input of the output.
    pub inputs: Vec<InputFacts>,
    /// When the output is written.
    pub written_at: SystemTime,
}

/// Adds the self-metrics of one output to its families.
pub fn add_self_metrics(families: &mut Families, facts: &OutputFacts) {
    let mut gauges = Gauges::new(families, &[("output", &facts.output)]);
    gauges.set(&RUN_DURATION, &[], facts.duration.as_secs_f64());
    for (rule, metric, samples) in &facts.rule_samples {
        gauges.set(
            &RULE_SAMPLES,
            &[("rule", rule), ("metric", metric)],
            *samples as f64,
        );
    }
    for (rule, metric, reason, count) in &facts.rule_skipped {
        gauges.set(
            &RULE_SKIPPED,
            &[
                ("rule", rule),
                ("metric", metric),
                ("reason", reason.as_str()),
            ],
            *count as f64,
        );
    }
    for input in &facts.inputs {
        let label = [("input", input.input.as_str())];
        if let Some(size) = input.size {
            gauges.set(&INPUT_SIZE, &label, size as f64);
        }
        if let Some(modified) = input.modified {
            gauges.set(&INPUT_MTIME, &label, unix_seconds(modified));
        }
    }
    gauges.set(&LAST_SUCCESS, &[], unix_seconds(facts.written_at));
}

/// Seconds since the Unix epoch, negative before it.
pub fn unix_seconds(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition;
    use pretty_assertions::assert_eq;

    #[test]
    fn own_gauges_are_valid() {
        for gauge in SELF_METRICS.iter().chain(STATUS_METRICS) {
            assert!(MetricName::parse(gauge.name).is_ok(), "{}", gauge.name);
            assert!(gauge.name.starts_with("xml2prom_"), "{}", gauge.name);
            assert!(!gauge.help.is_empty() && !gauge.help.ends_with('.'));
        }
    }

    #[test]
    fn self_metrics_of_one_output() {
        let mut families = Families::new();
        let facts = OutputFacts {
            output: "store.prom".to_owned(),
            duration: Duration::from_millis(1500),
            rule_samples: vec![
                ("metrics[0]".to_owned(), "store_rows".to_owned(), 3),
                ("metrics[1]".to_owned(), "store_failed".to_owned(), 0),
            ],
            rule_skipped: vec![(
                "metrics[1]".to_owned(),
                "store_failed".to_owned(),
                SkipReason::Missing,
                2,
            )],
            inputs: vec![
                InputFacts {
                    input: "/srv/a.xml".to_owned(),
                    size: Some(812),
                    modified: Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_250)),
                },
                InputFacts {
                    input: "fifo".to_owned(),
                    size: None,
                    modified: None,
                },
            ],
            written_at: UNIX_EPOCH + Duration::from_secs(1_700_000_060),
        };
        add_self_metrics(&mut families, &facts);
        let text = exposition::render(&families);
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                r#"xml2prom_input_mtime_seconds{input="/srv/a.xml",output="store.prom"} 1700000000.25"#,
                r#"xml2prom_input_size_bytes{input="/srv/a.xml",output="store.prom"} 812"#,
                r#"xml2prom_last_success_timestamp_seconds{output="store.prom"} 1700000060"#,
                r#"xml2prom_rule_samples{metric="store_failed",output="store.prom",rule="metrics[1]"} 0"#,
                r#"xml2prom_rule_samples{metric="store_rows",output="store.prom",rule="metrics[0]"} 3"#,
                r#"xml2prom_rule_skipped{metric="store_failed",output="store.prom",reason="missing",rule="metrics[1]"} 2"#,
                r#"xml2prom_run_duration_seconds{output="store.prom"} 1.5"#,
            ]
        );
        assert!(text.contains("# TYPE xml2prom_run_duration_seconds gauge\n"));
    }

    #[test]
    fn standard_output_has_no_output_label() {
        let mut families = Families::new();
        let mut gauges = Gauges::new(&mut families, &[("output", "")]);
        gauges.set(&RUN_DURATION, &[], 0.25);
        gauges.set(&RUN_DURATION, &[], 7.0);
        let text = exposition::render(&families);
        assert!(
            text.ends_with("\nxml2prom_run_duration_seconds 0.25\n"),
            "{text}"
        );
    }

    #[test]
    fn times_before_the_epoch_are_negative() {
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(5)), -5.0);
    }

    #[test]
    fn facts_of_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.xml");
        std::fs::write(&path, "<a/>").expect("write");
        let facts = InputFacts::of(&path);
        assert_eq!(facts.size, Some(4));
        assert!(facts.modified.is_some());
        let missing = InputFacts::of(&dir.path().join("missing.xml"));
        assert_eq!((missing.size, missing.modified), (None, None));
        let directory = InputFacts::of(dir.path());
        assert_eq!(directory.size, None);
    }

    #[test]
    fn the_status_file_has_every_stage_and_input() {
        let status = RunStatus {
            finished_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            duration: Duration::from_millis(250),
            inputs: vec![
                ("/srv/a.xml".to_owned(), true),
                ("/srv/b.xml".to_owned(), false),
            ],
            failures: vec![Stage::Xml, Stage::Write, Stage::Xml],
        };
        let text = render_status(&status, "xml2prom.prom");
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                r#"xml2prom_input_success{input="/srv/a.xml",status_file="xml2prom.prom"} 1"#,
                r#"xml2prom_input_success{input="/srv/b.xml",status_file="xml2prom.prom"} 0"#,
                r#"xml2prom_last_run_duration_seconds{status_file="xml2prom.prom"} 0.25"#,
                r#"xml2prom_last_run_timestamp_seconds{status_file="xml2prom.prom"} 1700000000"#,
                r#"xml2prom_run_errors{stage="duplicate",status_file="xml2prom.prom"} 0"#,
                r#"xml2prom_run_errors{stage="evaluate",status_file="xml2prom.prom"} 0"#,
                r#"xml2prom_run_errors{stage="lock",status_file="xml2prom.prom"} 0"#,
                r#"xml2prom_run_errors{stage="push",status_file="xml2prom.prom"} 0"#,
                r#"xml2prom_run_errors{stage="read",status_file="xml2prom.prom"} 0"#,
                r#"xml2prom_run_errors{stage="rules",status_file="xml2prom.prom"} 0"#,
                r#"xml2prom_run_errors{stage="write",status_file="xml2prom.prom"} 1"#,
                r#"xml2prom_run_errors{stage="xml",status_file="xml2prom.prom"} 2"#,
            ]
        );
    }
}
