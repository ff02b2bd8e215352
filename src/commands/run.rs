//! Run: the `run` subcommand, tying the stages together.
//!
//! `--input` arguments -> input files ([`inputs`]; standard input, URLs and commands are read
//! by [`fetch`]) -> rule file -> compiled rules (every problem reported before any XML is read)
//! -> the output's lock ([`lock`]) -> for each input: read, refuse hostile XML, parse, evaluate
//! -> families (plus self-metrics, [`status`]) -> exposition -> atomic output -> the status
//! file, whatever happened before.
//!
//! With one output for all inputs, any failure leaves the output untouched. With one output per
//! input (`--output-dir`), a failure leaves that input's previous file untouched and the others
//! are still written. Either way every failure is recorded in [`RunOutcome::errors`], not
//! returned at the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use crate::commands::fetch::{self, FetchError, FetchOptions, Remote};
use crate::commands::inputs::{self, InputError, OutputClash};
use crate::commands::lock::{self, LockError, OutputLock};
use crate::commands::push::{self, PushError, PushTarget};
use crate::commands::status::{self, InputFacts, OutputFacts, RunStatus, Stage};
use crate::commands::{Report, log};
use crate::engine::node;
use crate::engine::skips::SkipReason;
use crate::engine::{self, Engine, EngineConfig, EngineError};
use crate::exposition;
use crate::model::names::LabelName;
use crate::model::sample::{Families, MetricType};
use crate::output::{self, Destination, WriteError};
use crate::rules::compile::CompiledRules;
use crate::rules::{self, RulesError};
use crate::xml::{XmlError, XmlLimits};

/// Where a run writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outputs {
    /// One output for all inputs (`--output FILE` or `-`): any failure writes nothing.
    One(Destination),
    /// One `.prom` file per input in this directory (`--output-dir`), named after the input.
    PerInput(PathBuf),
    /// No file: the exposition is only pushed (`--push` without `--output`).
    PushOnly,
}

/// Everything `run` needs, checked.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The rule file.
    pub rules: PathBuf,
    /// The `--input` arguments: paths, glob patterns, `-`, URLs and `exec:` commands.
    pub inputs: Vec<PathBuf>,
    /// How inputs that are not files (URLs, commands) are read.
    pub fetch: FetchOptions,
    /// Where the exposition goes.
    pub output: Outputs,
    /// Limits on each input.
    pub limits: XmlLimits,
    /// The engine choice.
    pub engine: Engine,
    /// The largest input the DOM engine may load (it needs about 5 times the file size).
    pub max_dom_bytes: u64,
    /// Print which engine runs each rule.
    pub verbose: bool,
    /// How long to wait for another run that holds the output's lock.
    pub lock_timeout: Duration,
    /// Add xml2prom's own metrics (`xml2prom_*`) to each output.
    pub self_metrics: bool,
    /// Where to write the run's status, on every run.
    pub status_file: Option<PathBuf>,
    /// Template variables (`--var KEY=VALUE`), seen as `{{ vars.KEY }}`.
    pub vars: BTreeMap<String, String>,
    /// Labels added to every sample of the rule file's metrics (`--label NAME=VALUE`).
    pub labels: Vec<(LabelName, String)>,
    /// The Pushgateway that also gets the exposition (`--push`), with one output for all
    /// inputs.
    pub push: Option<PushTarget>,
}

/// What a run did: what it wrote, and every failure on the way.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Number of output files (or stdout) written.
    pub outputs: usize,
    /// Number of series written, over all outputs.
    pub series: usize,
    /// Things worth telling the user that did not stop the run.
    pub warnings: Vec<String>,
    /// Every failure, in the order met.
    pub errors: Vec<RunError>,
    /// Each input (a path, or a pattern that gave none), and whether its samples were written.
    pub inputs: BTreeMap<String, bool>,
}

impl RunOutcome {
    /// The process exit code: 0 without failures, 2 if the rule file or the command line is
    /// wrong, 1 for any other failure.
    pub fn exit_code(&self) -> u8 {
        self.errors
            .iter()
            .map(RunError::exit_code)
            .max()
            .unwrap_or(0)
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The rule file cannot be used.
    #[error("the rule file has errors")]
    Rules(RulesError),
    /// The rules could not be evaluated on an input.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// An `--input` pattern gave no file.
    #[error(transparent)]
    Input(InputError),
    /// An input that is not a file (standard input, a URL, a command) could not be read.
    #[error(transparent)]
    Fetch(FetchError),
    /// Two inputs would write the same file in `--output-dir`.
    #[error(transparent)]
    OutputClash(OutputClash),
    /// Another run holds the output's lock, or the lock file cannot be used.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// `--status-file` names a file the run writes as an output.
    #[error(
        "--status-file {} is also an output of this run; give the status file another name",
        path.display()
    )]
    StatusClash {
        /// The status file.
        path: PathBuf,
    },
    /// An output or the status file is one of the inputs: writing it would destroy the input.
    #[error(
        "{flag}: {} is also the input {}; writing it would destroy the input, so nothing was \
         written. Give the output another name",
        output.display(), input.display()
    )]
    OutputIsInput {
        /// The flag that names the output: `--output`, `--output-dir` or `--status-file`.
        flag: &'static str,
        /// The output (for `--output-dir`, the file it would write).
        output: PathBuf,
        /// The input.
        input: PathBuf,
    },
    /// A `--label` that the rule file sets too, or that a histogram or summary reserves.
    #[error("--label {label}: {problem}")]
    LabelClash {
        /// The label.
        label: String,
        /// Who else sets or reserves it, and what to do.
        problem: String,
    },
    /// A `--grouping` label (or `job`) that the samples carry too: the Pushgateway would
    /// silently replace their values with the group's.
    #[error("{flag}: {problem}")]
    GroupingClash {
        /// The flag that sets the label: `--job` or `--grouping NAME`.
        flag: String,
        /// Who else sets it, and what to do.
        problem: String,
    },
    /// The output could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The Pushgateway could not be reached or refused the push.
    #[error(transparent)]
    Push(#[from] PushError),
}

impl Report for RunError {
    /// The full report for stderr: rendered diagnostics for rule files, one line otherwise.
    fn report(&self) -> String {
        match self {
            RunError::Rules(rules) => rules.report(),
            other => format!("xml2prom: error: {}\n", bounded(&other.to_string())),
        }
    }

    /// The process exit code: 2 for a rule file problem, 1 for everything else.
    fn exit_code(&self) -> u8 {
        match self {
            RunError::Rules(_)
            | RunError::OutputClash(_)
            | RunError::StatusClash { .. }
            | RunError::OutputIsInput { .. }
            | RunError::LabelClash { .. }
            | RunError::GroupingClash { .. } => 2,
            _ => 1,
        }
    }
}

impl RunError {
    /// The stage the failure is counted in, in the status file.
    pub fn stage(&self) -> Stage {
        match self {
            RunError::Rules(_)
            | RunError::StatusClash { .. }
            | RunError::OutputIsInput { .. }
            | RunError::LabelClash { .. }
            | RunError::GroupingClash { .. } => Stage::Rules,
            RunError::Input(_)
            | RunError::Fetch(_)
            | RunError::Engine(EngineError::Xml {
                source: XmlError::Read { .. },
                ..
            }) => Stage::Read,
            RunError::Engine(EngineError::Xml { .. } | EngineError::DomTooLarge { .. }) => {
                Stage::Xml
            }
            RunError::Engine(EngineError::Eval { .. } | EngineError::Name { .. }) => {
                Stage::Evaluate
            }
            RunError::Engine(EngineError::Duplicate(_)) | RunError::OutputClash(_) => {
                Stage::Duplicate
            }
            // A lock file that cannot be created means the output cannot be written either.
            RunError::Lock(LockError::Open { .. }) => Stage::Write,
            RunError::Lock(_) => Stage::Lock,
            RunError::Write(_) => Stage::Write,
            RunError::Push(_) => Stage::Push,
        }
    }
}

/// The most characters of one message a run prints: a few KiB whatever the input held
/// (issue 10). Values in messages are shortened where they are written; this is the backstop.
const MAX_MESSAGE_CHARS: usize = 2048;

/// The most warnings, and the most errors, one run prints; the rest are counted.
const MAX_MESSAGES: usize = 100;

/// A message cut at [`MAX_MESSAGE_CHARS`], with the count of what was left out.
fn bounded(message: &str) -> String {
    crate::model::number::shorten_to(message, MAX_MESSAGE_CHARS)
}

/// Evaluates compiled rules on one input's bytes with the chosen engine and renders the
/// exposition text (for tests that compare engines, and for callers holding the bytes), with
/// the warnings a run would print (rules that skipped nodes).
pub fn evaluate_to_text(
    rules: &CompiledRules,
    bytes: &[u8],
    input: &Path,
    limits: &XmlLimits,
    engine: Engine,
) -> Result<(String, Vec<String>), EngineError> {
    let mut warnings = Vec::new();
    let families = engine::evaluate_bytes(rules, bytes, input, limits, engine, &mut warnings)?;
    Ok((exposition::render(&families), warnings))
}

/// The `run` subcommand: every input, every output; failures are gathered, not returned early,
/// so that with `--output-dir` one broken input does not stop the others. The rule file is read
/// and compiled first.
pub fn run(config: &RunConfig) -> RunOutcome {
    match rules::load(&config.rules, &config.vars) {
        Ok(rules) => run_inner(config, Ok(&rules)),
        Err(error) => run_inner(config, Err(error)),
    }
}

/// One run with rules already compiled (by [`rules::load`]): what `run --every` does on each
/// tick, so that a rule file broken meanwhile does not stop it.
pub fn run_with_rules(config: &RunConfig, rules: &CompiledRules) -> RunOutcome {
    run_inner(config, Ok(rules))
}

/// A run whose rule file cannot be used: the failure, and the status file that reports it.
pub fn run_with_broken_rules(config: &RunConfig, error: RulesError) -> RunOutcome {
    run_inner(config, Err(error))
}

fn run_inner(config: &RunConfig, rules: Result<&CompiledRules, RulesError>) -> RunOutcome {
    let started = Instant::now();
    let mut outcome = RunOutcome::default();
    let (inputs, input_errors) = inputs::expand(&config.inputs);
    for input in &inputs {
        outcome.inputs.insert(inputs::name(input), false);
    }
    for error in input_errors {
        outcome.inputs.insert(error.pattern().to_owned(), false);
        outcome.errors.push(RunError::Input(error));
    }
    // Checked before anything is locked or written: an output that is an input would be
    // destroyed by the run that reads it (issue 10).
    let clashes = outputs_that_are_inputs(config, &inputs);
    if !clashes.is_empty() {
        outcome.errors.extend(clashes);
        return outcome;
    }
    let Some(status_file) = &config.status_file else {
        let _lock = write_outputs(config, rules, &inputs, &mut outcome);
        return outcome;
    };
    // The status file must never replace an output, not even with the news of a failure.
    if writes_to(config, &inputs, status_file) {
        outcome.errors.push(RunError::StatusClash {
            path: status_file.clone(),
        });
        return outcome;
    }
    let _lock = write_outputs(config, rules, &inputs, &mut outcome);
    let status = RunStatus {
        finished_at: SystemTime::now(),
        duration: started.elapsed(),
        inputs: outcome
            .inputs
            .iter()
            .map(|(input, &success)| (input.clone(), success))
            .collect(),
        failures: outcome.errors.iter().map(RunError::stage).collect(),
    };
    let name = status_file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = status::render_status(&status, &name);
    match output::write_file(status_file, text.as_bytes()) {
        Ok(()) => warn_unless_prom(status_file, &mut outcome.warnings),
        Err(error) => outcome.errors.push(RunError::Write(error)),
    }
    outcome
}

/// `run` without `--every`: one run, its warnings and failures on stderr, the worst failure's
/// exit code.
pub fn execute(config: &RunConfig) -> ExitCode {
    let outcome = run(config);
    report(&outcome);
    ExitCode::from(outcome.exit_code())
}

/// Prints a run's warnings and failures to stderr, as `run` does after each run.
pub fn report(outcome: &RunOutcome) {
    use std::io::Write;
    // If stderr itself is gone there is nobody left to tell.
    let mut stderr = std::io::stderr().lock();
    for warning in outcome.warnings.iter().take(MAX_MESSAGES) {
        let _ = writeln!(stderr, "xml2prom: warning: {}", bounded(warning));
    }
    if let Some(more) = outcome.warnings.len().checked_sub(MAX_MESSAGES)
        && more > 0
    {
        let _ = writeln!(stderr, "xml2prom: warning: ... and {more} more warnings");
    }
    for error in outcome.errors.iter().take(MAX_MESSAGES) {
        let _ = stderr.write_all(error.report().as_bytes());
    }
    if let Some(more) = outcome.errors.len().checked_sub(MAX_MESSAGES)
        && more > 0
    {
        let _ = writeln!(stderr, "xml2prom: error: ... and {more} more errors");
    }
}

/// [`report`] for `run --every`: each warning and error as a log line ([`log`]), as many and
/// as long as [`report`] writes them.
pub fn log_report(outcome: &RunOutcome) {
    for warning in outcome.warnings.iter().take(MAX_MESSAGES) {
        log::warn(&bounded(warning), &[]);
    }
    if let Some(more) = outcome.warnings.len().checked_sub(MAX_MESSAGES)
        && more > 0
    {
        log::warn("... and more warnings", &[("more", &more)]);
    }
    for error in outcome.errors.iter().take(MAX_MESSAGES) {
        let report = error.report();
        let report = report.trim_end();
        let report = report.strip_prefix("xml2prom: error: ").unwrap_or(report);
        log::error("the run failed", &[("err", &report)]);
    }
    if let Some(more) = outcome.errors.len().checked_sub(MAX_MESSAGES)
        && more > 0
    {
        log::error("... and more errors", &[("more", &more)]);
    }
}

/// The outputs (and the status file) that are inputs of the run: the same path, or the same
/// regular file under another name (a hard link, a symbolic link, `./`).
fn outputs_that_are_inputs(config: &RunConfig, inputs: &[PathBuf]) -> Vec<RunError> {
    let mut outputs: Vec<(&'static str, PathBuf)> = match &config.output {
        Outputs::One(Destination::File(path)) => vec![("--output", path.clone())],
        Outputs::PerInput(dir) => inputs::outputs_in(dir, inputs)
            .unwrap_or_default()
            .into_iter()
            .map(|path| ("--output-dir", path))
            .collect(),
        Outputs::One(Destination::Stdout) | Outputs::PushOnly => Vec::new(),
    };
    if let Some(status_file) = &config.status_file {
        outputs.push(("--status-file", status_file.clone()));
    }
    let mut clashes = Vec::new();
    for (flag, output) in outputs {
        // Standard input, a URL or a command cannot be overwritten by an output.
        let files = inputs.iter().filter(|input| Remote::of(input).is_none());
        if let Some(input) = files.clone().find(|input| is_same_input(&output, input)) {
            clashes.push(RunError::OutputIsInput {
                flag,
                output,
                input: input.clone(),
            });
        }
    }
    clashes
}

/// Whether writing `output` would write the input file `input`. Devices and FIFOs are read and
/// written in place, so only a regular file counts by its inode (`/dev/stdin` and `/dev/stdout`
/// may well be one terminal).
fn is_same_input(output: &Path, input: &Path) -> bool {
    if output::same_file(output, input) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(out), Ok(inp)) = (std::fs::metadata(output), std::fs::metadata(input)) {
            return inp.is_file() && out.dev() == inp.dev() && out.ino() == inp.ino();
        }
    }
    false
}

/// Whether the run writes `path` as an output.
fn writes_to(config: &RunConfig, inputs: &[PathBuf], path: &Path) -> bool {
    match &config.output {
        Outputs::One(Destination::Stdout) | Outputs::PushOnly => false,
        Outputs::One(Destination::File(output)) => output::same_file(output, path),
        Outputs::PerInput(dir) => inputs::outputs_in(dir, inputs)
            .unwrap_or_default()
            .iter()
            .any(|output| output::same_file(output, path)),
    }
}

/// Evaluates every input and writes every output, recording each failure.
fn write_outputs(
    config: &RunConfig,
    rules: Result<&CompiledRules, RulesError>,
    inputs: &[PathBuf],
    outcome: &mut RunOutcome,
) -> Option<OutputLock> {
    let rules = match rules {
        Ok(rules) => rules,
        Err(error) => {
            outcome.errors.push(RunError::Rules(error));
            return None;
        }
    };
    // Rules cannot clash with the self-metrics: compile refuses the `xml2prom_` prefix.
    let mut clashes = label_clashes(rules, &config.labels);
    if let Some(target) = &config.push {
        clashes.extend(grouping_clashes(rules, &config.labels, target));
    }
    if !clashes.is_empty() {
        outcome.errors.extend(clashes);
        return None;
    }
    if config.verbose {
        for line in engine::engine_report(rules, config.engine) {
            eprintln!("xml2prom: {line}");
        }
    }
    let engines = EngineConfig {
        limits: config.limits.clone(),
        engine: config.engine,
        max_dom_bytes: config.max_dom_bytes,
    };
    let labels: Vec<(String, String)> = config
        .labels
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
        .collect();
    let outputs = match &config.output {
        Outputs::PerInput(dir) => match inputs::outputs_in(dir, inputs) {
            Ok(outputs) => outputs,
            Err(clashes) => {
                outcome
                    .errors
                    .extend(clashes.into_iter().map(RunError::OutputClash));
                return None;
            }
        },
        Outputs::One(_) | Outputs::PushOnly => Vec::new(),
    };
    // Held until the run ends, status file included; the rule file is checked first, so a broken
    // one fails at once.
    // A device or FIFO is written in place, and its directory (`/dev`) is not ours to put a lock
    // file in; like stdout, it takes no lock.
    let lock_file = match &config.output {
        Outputs::One(Destination::Stdout) | Outputs::PushOnly => None,
        Outputs::One(Destination::File(path)) if output::special_file(path).is_some() => None,
        Outputs::One(Destination::File(path)) => Some(lock::lock_file_for_output(path)),
        Outputs::PerInput(dir) => Some(lock::lock_file_for_directory(dir)),
    };
    let lock = match lock_file.map(|path| lock::acquire(&path, config.lock_timeout)) {
        Some(Err(error)) => {
            outcome.errors.push(RunError::Lock(error));
            return None;
        }
        Some(Ok(lock)) => Some(lock),
        None => None,
    };
    // Every writer of these files holds the lock, so their temporary files are stale: left by a
    // run that was killed before its rename.
    if lock.is_some() {
        let written: Vec<&Path> = match &config.output {
            Outputs::One(Destination::File(path)) => vec![path.as_path()],
            Outputs::PerInput(_) => outputs.iter().map(PathBuf::as_path).collect(),
            Outputs::One(Destination::Stdout) | Outputs::PushOnly => Vec::new(),
        };
        for path in written {
            for stale in output::remove_stale_temporaries(path) {
                if config.verbose {
                    eprintln!(
                        "xml2prom: removed {}, left by an earlier run of {} that was stopped \
                         while writing",
                        stale.display(),
                        path.display()
                    );
                }
            }
        }
    }
    let one = match &config.output {
        Outputs::One(destination) => Some(Some(destination)),
        Outputs::PushOnly => Some(None),
        Outputs::PerInput(_) => None,
    };
    match one {
        Some(destination) => {
            // Any failure, including a pattern that matched nothing, writes nothing.
            let production = produce(
                rules,
                inputs,
                &engines,
                &config.fetch,
                &labels,
                &mut outcome.errors,
                &mut outcome.warnings,
            );
            if outcome.errors.is_empty() {
                write_output(production, destination, rules, config, outcome);
            }
            if let Some(Destination::File(path)) = destination
                && outcome.outputs > 0
            {
                warn_unless_prom(path, &mut outcome.warnings);
            }
        }
        None => {
            for (input, output) in inputs.iter().zip(outputs) {
                let mut errors = Vec::new();
                let input = std::slice::from_ref(input);
                let mut warnings = Vec::new();
                let production = produce(
                    rules,
                    input,
                    &engines,
                    &config.fetch,
                    &labels,
                    &mut errors,
                    &mut warnings,
                );
                outcome.warnings.extend(warnings);
                if errors.is_empty() {
                    let destination = Destination::File(output);
                    write_output(production, Some(&destination), rules, config, outcome);
                }
                outcome.errors.extend(errors);
            }
        }
    }
    lock
}

/// The `--label`s that the rule file sets itself, or that one of its histograms or summaries
/// reserves (`le`, `quantile`).
pub fn label_clashes(rules: &CompiledRules, labels: &[(LabelName, String)]) -> Vec<RunError> {
    let mut clashes = Vec::new();
    for (label, _) in labels {
        let clash = |problem: String| RunError::LabelClash {
            label: label.as_str().to_owned(),
            problem,
        };
        if rules.global_labels.iter().any(|(name, _)| name == label) {
            clashes.push(clash(
                "the rule file's top-level `labels:` sets it too; remove one of them".to_owned(),
            ));
        }
        for rule in &rules.rules {
            let reserved = match rule.kind {
                MetricType::Histogram => Some("le"),
                MetricType::Summary => Some("quantile"),
                MetricType::Gauge | MetricType::Counter => None,
            };
            if rule.labels.iter().any(|(name, _)| name == label) {
                clashes.push(clash(format!(
                    "{} (`{}`) sets it too; remove one of them",
                    rule.id, rule.name
                )));
            } else if reserved == Some(label.as_str()) {
                clashes.push(clash(format!(
                    "{} (`{}`) is a {}, which adds `{}` to each series; choose another label \
                     name",
                    rule.id,
                    rule.name,
                    rule.kind,
                    label.as_str()
                )));
            }
        }
    }
    clashes
}

/// The labels of the pushed group (`job` and `--grouping`) that the samples carry too: the
/// rule file's labels, a `--label` with another value, or the `le`/`quantile` of a histogram
/// or summary. The Pushgateway would replace their values with the group's without a word.
fn grouping_clashes(
    rules: &CompiledRules,
    labels: &[(LabelName, String)],
    target: &PushTarget,
) -> Vec<RunError> {
    let mut clashes = Vec::new();
    let group = std::iter::once(("job", target.job.as_str())).chain(
        target
            .grouping
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    for (label, value) in group {
        let (flag, shown) = if label == "job" {
            ("--job".to_owned(), "`job` (--job)".to_owned())
        } else {
            (format!("--grouping {label}"), format!("`{label}`"))
        };
        let clash = |problem: String| RunError::GroupingClash {
            flag: flag.clone(),
            problem: format!(
                "{problem}; the Pushgateway would replace its values with the group's \
                 `{value}`. Remove one of them, or rename the label in the rule file"
            ),
        };
        if rules
            .global_labels
            .iter()
            .any(|(name, _)| name.as_str() == label)
        {
            clashes.push(clash(format!(
                "the rule file's top-level `labels:` sets {shown} too"
            )));
        }
        for rule in &rules.rules {
            let reserved = match rule.kind {
                MetricType::Histogram => Some("le"),
                MetricType::Summary => Some("quantile"),
                MetricType::Gauge | MetricType::Counter => None,
            };
            if rule.labels.iter().any(|(name, _)| name.as_str() == label) || reserved == Some(label)
            {
                clashes.push(clash(format!(
                    "{} (`{}`) sets {shown} too",
                    rule.id, rule.name
                )));
            }
        }
        if let Some((_, other)) = labels.iter().find(|(name, _)| name.as_str() == label)
            && other != value
        {
            clashes.push(clash(format!("--label {label}={other} sets {shown} too")));
        }
    }
    clashes
}

/// One output being produced: its families, and what its self-metrics will report
/// ([`Production::finish`] adds them).
pub struct Production {
    families: Families,
    /// Series per rule, by rule index.
    samples_per_rule: Vec<usize>,
    /// Nodes each rule skipped, by rule index, per reason (in [`SkipReason::ALL`] order).
    skipped_per_rule: Vec<[u64; SkipReason::ALL.len()]>,
    inputs: Vec<InputFacts>,
    started: Instant,
}

/// Evaluates the rules against each input and gathers the families, recording every failure
/// (an input that fails adds nothing, and the inputs after it are still evaluated). An input
/// that is not a file is read now: standard input as `/dev/stdin`, a URL or a command into
/// memory, bounded by `config.limits.max_bytes`, then scanned from there.
pub fn produce(
    rules: &CompiledRules,
    inputs: &[PathBuf],
    config: &EngineConfig,
    fetch: &FetchOptions,
    labels: &[(String, String)],
    errors: &mut Vec<RunError>,
    warnings: &mut Vec<String>,
) -> Production {
    let read = |remote: Remote<'_>| match remote {
        Remote::Http(url) => Some(fetch::fetch_http(url, fetch, config.limits.max_bytes)),
        Remote::Command(line) => Some(fetch::run_command(
            line,
            fetch.timeout,
            config.limits.max_bytes,
        )),
        Remote::Stdin => None,
    };
    produce_with(rules, inputs, config, read, labels, errors, warnings)
}

/// [`produce`], with `read` giving the bytes of each input that is not a file (`None` for
/// standard input, which is read as `/dev/stdin`): `serve`'s `/probe` fetches its target
/// before the evaluation and hands the outcome in here.
pub fn produce_with(
    rules: &CompiledRules,
    inputs: &[PathBuf],
    config: &EngineConfig,
    mut read: impl FnMut(Remote<'_>) -> Option<Result<Vec<u8>, fetch::FetchError>>,
    labels: &[(String, String)],
    errors: &mut Vec<RunError>,
    warnings: &mut Vec<String>,
) -> Production {
    let mut production = Production {
        families: Families::new(),
        samples_per_rule: vec![0; rules.rules.len()],
        skipped_per_rule: vec![[0; SkipReason::ALL.len()]; rules.rules.len()],
        inputs: Vec::with_capacity(inputs.len()),
        started: Instant::now(),
    };
    for input in inputs {
        let remote = Remote::of(input);
        let fetched = remote.and_then(&mut read);
        let named = remote.map(|remote| PathBuf::from(remote.name()));
        let bytes = match fetched {
            Some(Ok(bytes)) => Some(bytes),
            Some(Err(error)) => {
                production.inputs.push(InputFacts {
                    input: inputs::name(input),
                    size: None,
                    modified: None,
                });
                errors.push(RunError::Fetch(error));
                continue;
            }
            None => None,
        };
        let (source, input) = match (&bytes, remote, &named) {
            (Some(bytes), _, Some(name)) => (engine::Source::Bytes(bytes), name.as_path()),
            // Read as a FIFO is: bounded, and polled with --read-timeout.
            (_, Some(Remote::Stdin), Some(name)) => (
                engine::Source::File(Path::new("/dev/stdin")),
                name.as_path(),
            ),
            _ => (engine::Source::File(input.as_path()), input.as_path()),
        };
        production.inputs.push(match &bytes {
            Some(bytes) => InputFacts {
                input: input.display().to_string(),
                size: Some(bytes.len() as u64),
                modified: None,
            },
            None if remote.is_some() => InputFacts {
                input: input.display().to_string(),
                size: None,
                modified: None,
            },
            None => InputFacts::of(input),
        });
        let added =
            engine::evaluate_input(rules, source, input, config, warnings).and_then(|results| {
                let mut labelled = Vec::with_capacity(results.len());
                for mut result in results {
                    if let Some(count) = production.samples_per_rule.get_mut(result.rule) {
                        *count += result.samples.len();
                    }
                    if let Some(counts) = production.skipped_per_rule.get_mut(result.rule) {
                        for (count, reason) in counts.iter_mut().zip(SkipReason::ALL) {
                            *count += result.skips.count(reason);
                        }
                    }
                    result.samples = node::with_global_labels(result.samples, labels);
                    labelled.push(result);
                }
                engine::add_results(&mut production.families, rules, labelled, input, warnings)
            });
        if let Err(error) = added {
            errors.push(error.into());
        }
    }
    production
}

impl Production {
    /// The families with the self-metrics added, each labelled `output="{output}"` (an empty
    /// name leaves the label out), or without them for `None`; and the inputs the families
    /// come from.
    pub fn finish(
        mut self,
        rules: &CompiledRules,
        output: Option<&str>,
    ) -> (Families, Vec<String>) {
        if let Some(output) = output {
            let facts = OutputFacts {
                output: output.to_owned(),
                duration: self.started.elapsed(),
                rule_samples: rules
                    .rules
                    .iter()
                    .zip(&self.samples_per_rule)
                    .map(|(rule, &count)| (rule.id.clone(), rule.name.as_str().to_owned(), count))
                    .collect(),
                rule_skipped: rules
                    .rules
                    .iter()
                    .zip(&self.skipped_per_rule)
                    .flat_map(|(rule, counts)| {
                        SkipReason::ALL
                            .into_iter()
                            .zip(*counts)
                            .filter(|(reason, _)| crate::engine::skips::can_skip(rule, *reason))
                            .map(|(reason, count)| {
                                (
                                    rule.id.clone(),
                                    rule.name.as_str().to_owned(),
                                    reason,
                                    count,
                                )
                            })
                    })
                    .collect(),
                inputs: self.inputs.clone(),
                written_at: SystemTime::now(),
            };
            status::add_self_metrics(&mut self.families, &facts);
        }
        let inputs = self.inputs.into_iter().map(|facts| facts.input).collect();
        (self.families, inputs)
    }
}

/// Adds the self-metrics (unless turned off), renders the families, writes them to the
/// destination (none with `--push` alone) and pushes them (with `--push`). A failed write does
/// not stop the push, nor a failed push the write: each is a failure of its own stage.
fn write_output(
    production: Production,
    destination: Option<&Destination>,
    rules: &CompiledRules,
    config: &RunConfig,
    outcome: &mut RunOutcome,
) {
    let output = match destination {
        None | Some(Destination::Stdout) => String::new(),
        Some(Destination::File(path)) => path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let (families, produced_from) =
        production.finish(rules, config.self_metrics.then_some(output.as_str()));
    // A push needs the text in memory; a file or stdout alone is written as it is rendered.
    let text = config.push.as_ref().map(|_| exposition::render(&families));
    let written = match destination {
        Some(destination) => match match &text {
            Some(text) => output::write(destination, text),
            None => output::write_with(destination, &Rendered(&families)),
        } {
            Ok(()) => {
                outcome.outputs += 1;
                true
            }
            Err(error) => {
                outcome.errors.push(RunError::Write(error));
                false
            }
        },
        None => false,
    };
    let pushed = match (&config.push, &text) {
        (Some(target), Some(text)) => match push::push(target, text) {
            Ok(()) => true,
            Err(error) => {
                outcome.errors.push(RunError::Push(error));
                false
            }
        },
        _ => false,
    };
    // An input reached its output when its file was written, or, with --push alone, when it
    // was pushed.
    if written || (destination.is_none() && pushed) {
        outcome.series += families.series_count();
        for input in produced_from {
            outcome.inputs.insert(input, true);
        }
    }
}

/// Families to write as exposition text, rendered while they are written.
struct Rendered<'a>(&'a Families);

impl output::Content for Rendered<'_> {
    fn write_to(&self, writer: &mut dyn std::io::Write) -> std::io::Result<()> {
        exposition::render_to(self.0, writer)
    }
}

/// Warns that node_exporter's textfile collector will not read a file not ending in `.prom`.
fn warn_unless_prom(path: &Path, warnings: &mut Vec<String>) {
    // A device or FIFO (`/dev/null`, a reader's pipe) is not for node_exporter.
    if path.extension().is_none_or(|e| e != "prom") && output::special_file(path).is_none() {
        warnings.push(format!(
            "{} was written, but node_exporter's textfile collector reads only files ending \
             in .prom",
            path.display()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{compile, file};

    fn rules(yaml: &str) -> CompiledRules {
        let file = file::parse(yaml).expect("valid YAML");
        compile::compile(file).expect("valid rules")
    }

    fn label(name: &str) -> (LabelName, String) {
        (LabelName::parse(name).expect("valid name"), "x".to_owned())
    }

    #[test]
    fn constant_labels_must_not_clash_with_the_rule_file() {
        let rules = rules(
            "version: 1\nlabels: { path: '{{ input.path }}' }\nmetrics:\n\
             - { name: a, help: h, type: gauge, value: '1', labels: { kind: k } }\n\
             - { name: b, help: h, type: summary, select: //r, value: '@v', quantiles: [0.5] }\n",
        );
        let clashes: Vec<String> = label_clashes(
            &rules,
            &[
                label("path"),
                label("kind"),
                label("quantile"),
                label("le"),
                label("site"),
            ],
        )
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            clashes,
            [
                "--label path: the rule file's top-level `labels:` sets it too; remove one of them",
                "--label kind: metrics[0] (`a`) sets it too; remove one of them",
                "--label quantile: metrics[1] (`b`) is a summary, which adds `quantile` to each \
                 series; choose another label name",
            ]
        );
    }

    #[test]
    fn group_labels_must_not_be_labels_of_the_samples() {
        let rules = rules(
            "version: 1\nlabels: { site: '{{ input.name }}' }\nmetrics:\n\
             - { name: a, help: h, type: gauge, value: '1', labels: { job: k } }\n\
             - { name: b, help: h, type: summary, select: //r, value: '@v', quantiles: [0.5] }\n",
        );
        let grouping = ["site", "quantile", "team", "region", "other"]
            .into_iter()
            .map(label)
            .collect();
        let target = PushTarget::new("http://gw", "batch", grouping, Duration::from_secs(1))
            .expect("valid target");
        // `--label team=x` agrees with the group's `team=x`; `region=eu` does not.
        let labels = [
            label("team"),
            (LabelName::parse("region").expect("valid"), "eu".to_owned()),
        ];
        let clashes: Vec<String> = grouping_clashes(&rules, &labels, &target)
            .iter()
            .map(|error| {
                assert_eq!((error.exit_code(), error.stage()), (2, Stage::Rules));
                error.to_string()
            })
            .collect();
        let tail = |value: &str| {
            format!(
                "; the Pushgateway would replace its values with the group's `{value}`. Remove \
                 one of them, or rename the label in the rule file"
            )
        };
        assert_eq!(
            clashes,
            [
                format!(
                    "--job: metrics[0] (`a`) sets `job` (--job) too{}",
                    tail("batch")
                ),
                format!(
                    "--grouping site: the rule file's top-level `labels:` sets `site` too{}",
                    tail("x")
                ),
                format!(
                    "--grouping quantile: metrics[1] (`b`) sets `quantile` too{}",
                    tail("x")
                ),
                format!(
                    "--grouping region: --label region=eu sets `region` too{}",
                    tail("x")
                ),
            ]
        );
    }

    #[test]
    fn failures_count_in_their_stage_and_the_worst_sets_the_exit_code() {
        let no_match = RunError::Input(InputError::NoMatch {
            pattern: "*.xml".to_owned(),
        });
        let unreadable = RunError::Engine(EngineError::Xml {
            input: PathBuf::from("a.xml"),
            source: XmlError::Read {
                source: std::io::ErrorKind::NotFound.into(),
            },
        });
        let too_large = RunError::Engine(EngineError::Xml {
            input: PathBuf::from("a.xml"),
            source: XmlError::TooLarge { limit: 1 },
        });
        let timeout = RunError::Lock(LockError::Timeout {
            path: PathBuf::from(".a.prom.lock"),
            timeout: Duration::from_secs(1),
        });
        let no_directory = RunError::Lock(LockError::Open {
            path: PathBuf::from("missing/.a.prom.lock"),
            source: std::io::ErrorKind::NotFound.into(),
        });
        let stages: Vec<Stage> = [&no_match, &unreadable, &too_large, &timeout, &no_directory]
            .iter()
            .map(|e| e.stage())
            .collect();
        assert_eq!(
            stages,
            [
                Stage::Read,
                Stage::Read,
                Stage::Xml,
                Stage::Lock,
                Stage::Write
            ]
        );
        let mut outcome = RunOutcome::default();
        assert_eq!(outcome.exit_code(), 0);
        outcome.errors.push(timeout);
        assert_eq!(outcome.exit_code(), 1);
        outcome.errors.push(RunError::StatusClash {
            path: PathBuf::from("a.prom"),
        });
        assert_eq!(outcome.exit_code(), 2);
    }

    #[test]
    fn each_input_is_marked_by_whether_its_output_was_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = |name: &str| dir.path().join(name);
        std::fs::write(
            path("rules.yaml"),
            "version: 1\nmetrics:\n- { name: a, help: h, type: gauge, value: count(//r) }\n",
        )
        .expect("rules");
        std::fs::write(path("good.xml"), "<s><r/></s>").expect("good");
        std::fs::write(path("bad.xml"), "<s>").expect("bad");
        std::fs::create_dir(path("out")).expect("out");
        let config = RunConfig {
            rules: path("rules.yaml"),
            inputs: vec![path("*.xml"), path("none/*.xml")],
            fetch: FetchOptions::default(),
            output: Outputs::PerInput(path("out")),
            limits: XmlLimits::default(),
            engine: Engine::Auto,
            max_dom_bytes: u64::MAX,
            verbose: false,
            lock_timeout: Duration::ZERO,
            self_metrics: true,
            status_file: None,
            vars: BTreeMap::new(),
            labels: Vec::new(),
            push: None,
        };
        let outcome = run(&config);
        let show = |name: &str| path(name).display().to_string();
        assert_eq!(
            outcome.inputs,
            BTreeMap::from([
                (show("bad.xml"), false),
                (show("good.xml"), true),
                (show("none/*.xml"), false),
            ])
        );
        assert_eq!((outcome.outputs, outcome.exit_code()), (1, 1));
        let stages: Vec<Stage> = outcome.errors.iter().map(RunError::stage).collect();
        assert_eq!(stages, [Stage::Read, Stage::Xml]);
        assert!(path("out/good.prom").exists() && !path("out/bad.prom").exists());
    }

    #[test]
    fn the_status_file_is_never_an_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = RunConfig {
            rules: dir.path().join("rules.yaml"),
            inputs: vec![dir.path().join("store.xml")],
            fetch: FetchOptions::default(),
            output: Outputs::PerInput(dir.path().to_owned()),
            limits: XmlLimits::default(),
            engine: Engine::Auto,
            max_dom_bytes: u64::MAX,
            verbose: false,
            lock_timeout: Duration::ZERO,
            self_metrics: true,
            status_file: None,
            vars: BTreeMap::new(),
            labels: Vec::new(),
            push: None,
        };
        let inputs = config.inputs.clone();
        assert!(writes_to(&config, &inputs, &dir.path().join("store.prom")));
        assert!(!writes_to(
            &config,
            &inputs,
            &dir.path().join("status.prom")
        ));
        config.output = Outputs::One(Destination::File(dir.path().join("all.prom")));
        assert!(writes_to(
            &config,
            &inputs,
            &dir.path().join(".").join("all.prom")
        ));
        config.output = Outputs::One(Destination::Stdout);
        assert!(!writes_to(&config, &inputs, Path::new("-")));
    }
}
