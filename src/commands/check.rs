//! Check: the `check` subcommand. Every rule file given is loaded and compiled exactly as `run`
//! would (so nothing it accepts can fail `run` for a rule-file reason), then linted; every
//! problem of every file is reported, as text for people, JSON for machines, or GitHub Actions
//! annotations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::engine::{self, Engine, EngineConfig, EngineError, Source};
use crate::model::sample::{LabelSet, SampleValue};
use crate::rules;
use crate::rules::compile::{CompiledRules, Shape};
use crate::rules::diagnostic::{self, Diagnostic, FieldPath, Severity};
use crate::rules::file::RuleSource;
use crate::rules::lints::{self, Lint};
use crate::xml::XmlLimits;

/// How `check` prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// `FILE:LINE:COL: error[CODE]: message`, the source line and a caret.
    #[default]
    Human,
    /// One JSON document: counts and every diagnostic with its position.
    Json,
    /// GitHub Actions workflow commands (`::error file=...::message`), shown on the pull request.
    Github,
}

/// The findings for one rule file.
#[derive(Debug)]
pub struct FileReport {
    /// The path as given.
    pub file: PathBuf,
    /// The file's text (empty if unreadable), to show source lines.
    pub source: String,
    /// Errors, or when there are none, warnings; in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many rules the file defines, when it compiled.
    pub rules: Option<usize>,
}

impl FileReport {
    fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }
}

/// Checks one rule file with the given `--var`s: load and compile errors, or, when it compiles,
/// its lints, and what it gives on the sample inputs, if any.
pub fn check_file(path: &Path, vars: &BTreeMap<String, String>, samples: &Samples) -> FileReport {
    match rules::load_with_source(path, vars) {
        Err(error) => FileReport {
            file: path.to_owned(),
            source: error.source_text().to_owned(),
            diagnostics: error.diagnostics().into_iter().map(|(d, _)| d).collect(),
            rules: None,
        },
        Ok((rules, file)) => {
            // The positions come from the same read and parse as the rules.
            let names = file.rule_names();
            let (sample_lints, failures) = on_samples(&rules, samples);
            let mut diagnostics: Vec<Diagnostic> = lints::lint(&rules)
                .into_iter()
                .chain(sample_lints)
                .map(|lint| Diagnostic {
                    severity: Severity::Warning,
                    code: lint.code,
                    message: diagnostic::shorten(&rules::name_the_rule(&lint.to_string(), &names)),
                    file: path.display().to_string(),
                    position: file.locate(&lint.path, lint.at_key),
                    help: lint.help,
                })
                .collect();
            diagnostics.extend(failures.into_iter().map(|(at, message)| {
                Diagnostic {
                severity: Severity::Error,
                code: "sample-failed",
                message: diagnostic::shorten(&rules::name_the_rule(&message, &names)),
                file: path.display().to_string(),
                position: at.and_then(|at| RuleSource::locate(&file, &at, false)),
                help: Some(
                    "`xml2prom explain --rules FILE --input SAMPLE` shows the rule at work on it"
                        .to_owned(),
                ),
            }
            }));
            diagnostics.sort_by_key(|d| d.position.map(|p| p.index));
            FileReport {
                file: path.to_owned(),
                source: file.text,
                diagnostics,
                rules: Some(rules.rules.len()),
            }
        }
    }
}

/// The checked flags of `check`.
pub struct CheckConfig {
    /// The rule files, each checked whatever the others give.
    pub files: Vec<PathBuf>,
    /// Template variables (`--var KEY=VALUE`).
    pub vars: BTreeMap<String, String>,
    /// How to print the findings.
    pub format: Format,
    /// `--strict`: warnings fail too.
    pub strict: bool,
    /// Sample inputs to evaluate every rule file on (`--input`).
    pub inputs: Vec<PathBuf>,
    /// The largest sample the DOM engine loads, as `run`'s default `--max-dom-bytes`.
    pub max_dom_bytes: u64,
}

/// Sample inputs and how to read them.
pub struct Samples {
    /// The inputs, as given.
    pub inputs: Vec<PathBuf>,
    /// How the engines read them.
    pub engine: EngineConfig,
}

impl Samples {
    /// No sample inputs: only the rule files are checked.
    pub fn none() -> Samples {
        Samples {
            inputs: Vec::new(),
            engine: EngineConfig {
                limits: XmlLimits::default(),
                engine: Engine::Auto,
                max_dom_bytes: u64::MAX,
            },
        }
    }
}

/// `check`: the findings on stdout, and the exit code of [`exit_code`].
pub fn execute(config: &CheckConfig) -> ExitCode {
    let samples = Samples {
        inputs: config.inputs.clone(),
        engine: EngineConfig {
            limits: XmlLimits::default(),
            engine: Engine::Auto,
            max_dom_bytes: config.max_dom_bytes,
        },
    };
    let reports = check(&config.files, &config.vars, &samples);
    print!("{}", render(&reports, config.format));
    ExitCode::from(exit_code(&reports, config.strict))
}

/// Checks every file, never stopping at the first problem.
pub fn check(
    files: &[PathBuf],
    vars: &BTreeMap<String, String>,
    samples: &Samples,
) -> Vec<FileReport> {
    files
        .iter()
        .map(|file| check_file(file, vars, samples))
        .collect()
}

/// What one rule gave on the sample inputs it reads.
#[derive(Debug, Default, Clone)]
struct OnSamples {
    /// The sample inputs the rule reads (`inputs:`).
    read: Vec<String>,
    /// Whether it failed on one of them.
    failed: bool,
    /// Its series, over all of them.
    series: usize,
    /// The label names some series has.
    labels: BTreeSet<String>,
    /// The series whose value is NaN.
    nan: usize,
}

/// Collects the namespace URIs a document declares (`xmlns` and `xmlns:p` attributes), at
/// most [`DECLARED_KEPT`] distinct ones.
#[derive(Debug, Default)]
struct Declared(BTreeSet<String>);

/// The most namespace URIs kept of one sample, for hints.
const DECLARED_KEPT: usize = 64;

impl crate::xml::Sink for Declared {
    fn start(&mut self, tag: &crate::xml::StartTag<'_>, _empty: bool) {
        for (name, value) in tag.attributes() {
            if (name == "xmlns" || name.starts_with("xmlns:"))
                && !value.is_empty()
                && self.0.len() < DECLARED_KEPT
            {
                self.0
                    .insert(crate::xml::expanded_attribute_value(value).into_owned());
            }
        }
    }
    fn end(&mut self) {}
    fn text(&mut self, _text: &str) {}
    fn boundary(&mut self) {}
}

/// For a rule that matched nothing: a namespace URI of the rule file that the sample does not
/// declare, and the sample's URI nearest to it, when one is near (a typo, a version).
fn namespace_hint(
    rules: &CompiledRules,
    rule: &crate::rules::compile::CompiledRule,
    samples: &Samples,
    inputs: &[String],
) -> Option<String> {
    let queries: Vec<&crate::rules::xpath::XPathQuery> = match &rule.shape {
        Shape::Nodes {
            select,
            fields,
            value,
            ..
        } => std::iter::once(select)
            .chain(fields.iter().map(|(_, query)| query))
            .chain(value)
            .collect(),
        Shape::Document { value, .. } => vec![value],
    };
    let used: BTreeSet<&str> = queries
        .iter()
        .flat_map(|query| query.prefixes())
        .map(String::as_str)
        .collect();
    if used.is_empty() {
        return None;
    }
    let mut declared = Declared::default();
    for input in samples
        .inputs
        .iter()
        .filter(|i| inputs.contains(&i.display().to_string()))
    {
        let _ = crate::xml::scan_file(input, &samples.engine.limits, &mut declared);
    }
    rules.namespaces.iter().find_map(|(prefix, uri)| {
        if !used.contains(prefix.as_str()) || declared.0.contains(uri) {
            return None;
        }
        let (distance, nearest) = declared
            .0
            .iter()
            .map(|known| (strsim::levenshtein(known, uri), known))
            .min()?;
        (distance <= 3.max(uri.len() / 10)).then(|| {
            format!(
                "the rule file binds `{prefix}` to `{uri}`, which the sample does not declare; \
                 it declares `{nearest}`: a namespace URI must match character for character"
            )
        })
    })
}

/// Evaluates the rules on each sample input: warnings for a rule that gives no series, a
/// label no series has, and NaN values (each unless the rule allows the lint); and an error
/// per sample a rule (or the whole input) fails on, with the rule's path when one failed.
pub(crate) fn on_samples(
    rules: &CompiledRules,
    samples: &Samples,
) -> (Vec<Lint>, Vec<(Option<FieldPath>, String)>) {
    let mut seen = vec![OnSamples::default(); rules.rules.len()];
    let mut failures = Vec::new();
    let mut families = crate::model::sample::Families::new();
    for input in &samples.inputs {
        let shown = input.display().to_string();
        for (rule, seen) in rules.rules.iter().zip(&mut seen) {
            if rule.reads(input) {
                seen.read.push(shown.clone());
            }
        }
        let mut warnings = Vec::new();
        let results = match engine::evaluate_input(
            rules,
            Source::File(input),
            input,
            &samples.engine,
            &mut warnings,
        ) {
            Ok(results) => results,
            Err(error) => {
                let failed = match &error {
                    EngineError::Eval { source, .. } => {
                        rules.rules.iter().position(|r| r.id == source.rule)
                    }
                    _ => None,
                };
                match failed.and_then(|i| seen.get_mut(i)) {
                    Some(seen) => seen.failed = true,
                    // The input itself: no rule can be judged on it.
                    None => seen.iter_mut().for_each(|seen| seen.failed = true),
                }
                let at = failed.map(|i| FieldPath::root().key("metrics").index(i));
                failures.push((at, format!("on the sample input: {error}")));
                continue;
            }
        };
        for result in &results {
            let Some(seen) = seen.get_mut(result.rule) else {
                continue;
            };
            seen.series += result.samples.len();
            for (key, value) in result.samples.iter() {
                for (name, _) in LabelSet::from_key(key).pairs() {
                    if !seen.labels.contains(name.as_ref()) {
                        seen.labels.insert(name.into_owned());
                    }
                }
                if matches!(value, SampleValue::Single(v) if v.is_nan()) {
                    seen.nan += 1;
                }
            }
        }
        // The names templated names rendered are checked as a run checks them: valid, and
        // of the type and help of the other rules giving their families.
        if let Err(error @ EngineError::Name { .. }) =
            engine::add_results(&mut families, rules, results, input, &mut Vec::new())
        {
            let failed = match &error {
                EngineError::Name { rule, .. } => rules.rules.iter().position(|r| &r.id == rule),
                _ => None,
            };
            if let Some(seen) = failed.and_then(|i| seen.get_mut(i)) {
                seen.failed = true;
            }
            let at = failed.map(|i| FieldPath::root().key("metrics").index(i));
            failures.push((at, format!("on the sample input: {error}")));
        }
    }
    let mut found = Vec::new();
    for (rule, seen) in rules.rules.iter().zip(&seen) {
        if seen.read.is_empty() || seen.failed {
            continue;
        }
        let path = FieldPath::root().key("metrics").index(rule.index);
        let allowed = |code: &str| rule.allow_lints.iter().any(|allow| allow.as_str() == code);
        let inputs = seen.read.join(", ");
        if seen.series == 0 {
            if !allowed("matches-nothing") {
                let (key, what) = match &rule.shape {
                    Shape::Nodes { .. } => ("select", "its `select` matched no node"),
                    Shape::Document { .. } => ("value", "its policies left its value out"),
                };
                let help = namespace_hint(rules, rule, samples, &seen.read).unwrap_or_else(|| {
                    "compare the path with the sample (`xml2prom explain` shows what it \
                     matches); in a document with namespaces, the URIs under `namespaces:` \
                     must be the ones it declares, character for character"
                        .to_owned()
                });
                found.push(Lint {
                    path: path.key(key),
                    at_key: false,
                    code: "matches-nothing",
                    message: format!("gives no series on the sample input {inputs}: {what}"),
                    help: Some(help),
                });
            }
            continue;
        }
        for (label, _) in &rule.labels {
            if !seen.labels.contains(label.as_str()) && !allowed("label-always-empty") {
                found.push(Lint {
                    path: path.key("labels").key(label.as_str()),
                    at_key: true,
                    code: "label-always-empty",
                    message: format!(
                        "the label `{label}` is empty in {} on the sample input {inputs}, so \
                         none has it",
                        match seen.series {
                            1 => "the one series".to_owned(),
                            n => format!("all {n} series"),
                        }
                    ),
                    help: Some(
                        "check its template and the fields it uses (`xml2prom explain` shows \
                         each node's fields); an empty label value is no label"
                            .to_owned(),
                    ),
                });
            }
        }
        if seen.nan > 0 && !allowed("nan-value") {
            found.push(Lint {
                path: path.key("value"),
                at_key: false,
                code: "nan-value",
                message: format!(
                    "the value is NaN in {} of {} series on the sample input {inputs}",
                    seen.nan, seen.series
                ),
                help: Some(
                    "an operand may be missing: `number()` of an empty node-set is NaN, and so \
                     is arithmetic on it; give the field a `default`, or filter such nodes out \
                     in `select`"
                        .to_owned(),
                ),
            });
        }
    }
    (found, failures)
}

/// The exit code: 2 when any file has an error, 1 when `strict` and any has a warning, else 0.
pub fn exit_code(reports: &[FileReport], strict: bool) -> u8 {
    if reports.iter().any(|r| r.count(Severity::Error) > 0) {
        2
    } else if strict && reports.iter().any(|r| r.count(Severity::Warning) > 0) {
        1
    } else {
        0
    }
}

/// The report, in the chosen format.
pub fn render(reports: &[FileReport], format: Format) -> String {
    match format {
        Format::Human => render_human(reports),
        Format::Json => render_json(reports),
        Format::Github => render_github(reports),
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn render_human(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for report in reports {
        for diagnostic in &report.diagnostics {
            out.push_str(&diagnostic::render(diagnostic, &report.source));
            out.push('\n');
        }
    }
    let errors: usize = reports.iter().map(|r| r.count(Severity::Error)).sum();
    let warnings: usize = reports.iter().map(|r| r.count(Severity::Warning)).sum();
    out.push_str(&format!(
        "xml2prom: checked {}: {}, {}\n",
        plural(reports.len(), "rule file"),
        plural(errors, "error"),
        plural(warnings, "warning")
    ));
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    files: usize,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    file: &'a str,
    line: Option<usize>,
    column: Option<usize>,
    severity: &'static str,
    code: &'static str,
    message: &'a str,
    help: Option<&'a str>,
}

fn render_json(reports: &[FileReport]) -> String {
    let diagnostics = reports
        .iter()
        .flat_map(|r| &r.diagnostics)
        .map(|d| JsonDiagnostic {
            file: &d.file,
            line: d.position.map(|p| p.line),
            column: d.position.map(|p| p.column),
            severity: d.severity.label(),
            code: d.code,
            message: &d.message,
            help: d.help.as_deref(),
        })
        .collect();
    let report = JsonReport {
        files: reports.len(),
        errors: reports.iter().map(|r| r.count(Severity::Error)).sum(),
        warnings: reports.iter().map(|r| r.count(Severity::Warning)).sum(),
        diagnostics,
    };
    // Serializing plain strings and numbers cannot fail.
    let mut out = serde_json::to_string_pretty(&report).unwrap_or_default();
    out.push('\n');
    out
}

/// Escapes workflow command data (the message).
fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command property (file, title).
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn render_github(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for diagnostic in reports.iter().flat_map(|r| &r.diagnostics) {
        let mut properties = format!("file={}", github_property(&diagnostic.file));
        if let Some(position) = diagnostic.position {
            properties.push_str(&format!(",line={},col={}", position.line, position.column));
        }
        properties.push_str(&format!(
            ",title={}",
            github_property(&format!("xml2prom {}", diagnostic.code))
        ));
        let mut message = diagnostic.message.clone();
        if let Some(help) = &diagnostic.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::{} {properties}::{}\n",
            diagnostic.severity.label(),
            github_data(&message)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(diagnostics: Vec<Diagnostic>) -> FileReport {
        FileReport {
            file: "rules/a.yaml".into(),
            source: "version: 1\nmetrics: []\n".into(),
            diagnostics,
            rules: Some(0),
        }
    }

    fn warning() -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            code: "unit-suffix",
            message: "metrics[0].name: 50%, a, b: c".into(),
            file: "rules/a,b.yaml".into(),
            position: Some(diagnostic::Position {
                line: 2,
                column: 1,
                index: 11,
            }),
            help: Some("line one\nline two".into()),
        }
    }

    #[test]
    fn exit_codes() {
        let clean = [report(vec![])];
        assert_eq!(exit_code(&clean, true), 0);
        let warned = [report(vec![warning()])];
        assert_eq!(exit_code(&warned, false), 0);
        assert_eq!(exit_code(&warned, true), 1);
        let mut error = warning();
        error.severity = Severity::Error;
        assert_eq!(exit_code(&[report(vec![error]), report(vec![])], false), 2);
    }

    #[test]
    fn github_annotations_escape_data_and_properties() {
        assert_eq!(
            render(&[report(vec![warning()])], Format::Github),
            "::warning file=rules/a%2Cb.yaml,line=2,col=1,title=xml2prom unit-suffix::\
             metrics[0].name: 50%25, a, b: c%0Ahelp: line one%0Aline two\n"
        );
    }

    #[test]
    fn json_report_counts_and_positions() {
        let json = render(&[report(vec![warning()]), report(vec![])], Format::Json);
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(value["files"], 2);
        assert_eq!(value["errors"], 0);
        assert_eq!(value["warnings"], 1);
        assert_eq!(value["diagnostics"][0]["line"], 2);
        assert_eq!(value["diagnostics"][0]["code"], "unit-suffix");
        assert_eq!(value["diagnostics"][0]["severity"], "warning");
    }

    #[test]
    fn human_report_ends_with_a_summary() {
        let text = render(&[report(vec![warning()])], Format::Human);
        assert!(text.starts_with("rules/a,b.yaml:2:1: warning[unit-suffix]: "));
        assert!(text.ends_with("xml2prom: checked 1 rule file: 0 errors, 1 warning\n"));
    }
}
