//! Check: the `check` subcommand. Every rule file given is loaded and compiled exactly as `run`
//! would (so nothing it accepts can fail `run` for a rule-file reason), then linted; every
//! problem of every file is reported, as text for people, JSON for machines, or GitHub Actions
//! annotations.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use crate::rules;
use crate::rules::diagnostic::{self, Diagnostic, Severity};
use crate::rules::lints;

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
/// its lints.
pub fn check_file(path: &std::path::Path, vars: &BTreeMap<String, String>) -> FileReport {
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
            let mut diagnostics: Vec<Diagnostic> = lints::lint(&rules)
                .into_iter()
                .map(|lint| Diagnostic {
                    severity: Severity::Warning,
                    code: lint.code,
                    message: diagnostic::shorten(&rules::name_the_rule(&lint.to_string(), &names)),
                    file: path.display().to_string(),
                    position: file.locate(&lint.path, lint.at_key),
                    help: lint.help,
                })
                .collect();
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
}

/// `check`: the findings on stdout, and the exit code of [`exit_code`].
pub fn execute(config: &CheckConfig) -> ExitCode {
    let reports = check(&config.files, &config.vars);
    print!("{}", render(&reports, config.format));
    ExitCode::from(exit_code(&reports, config.strict))
}

/// Checks every file, never stopping at the first problem.
pub fn check(files: &[PathBuf], vars: &BTreeMap<String, String>) -> Vec<FileReport> {
    files.iter().map(|file| check_file(file, vars)).collect()
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
