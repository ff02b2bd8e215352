//! Rule tests: the `test` subcommand. A test file names a rule file and cases, each an XML
//! document (inline or a fixture) and what the rules must give for it: exposition lines, a
//! golden `.prom` file, or an error. Like `promtool test rules`, but for XML stores.
//!
//! Comparison is semantic: series are compared as (name, labels, value), in any order, with
//! exact values (`NaN` equals `NaN`). An inline `expect` covers the families it names (by a
//! series, or by a `# TYPE` or `# HELP` line); a golden file covers the whole output.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;

use crate::commands::{Report, run, show};
use crate::engine::Engine;
use crate::model::number::format_value;
use crate::rules;
use crate::rules::compile::CompiledRules;
use crate::xml::XmlLimits;

/// A test file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The rule file under test, relative to the test file.
    pub rules: PathBuf,
    /// The cases.
    pub tests: Vec<TestCase>,
}

/// One case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the case checks, shown in the report.
    pub name: String,
    /// The XML document, inline.
    pub input: Option<String>,
    /// Or a fixture file, relative to the test file.
    pub input_file: Option<PathBuf>,
    /// The path templates see as `input.path` (default: the fixture's path as written, or
    /// `test.xml` for an inline document).
    pub input_path: Option<String>,
    /// Template variables, as `run --var KEY=VALUE` gives them.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Which engine to use (default: `auto`, as `run`).
    #[serde(default)]
    pub engine: TestEngine,
    /// Exposition lines the output must have, for the families they name.
    pub expect: Option<String>,
    /// Or a golden `.prom` file the whole output must equal (semantically), relative to the
    /// test file; `--update` rewrites it.
    pub expect_file: Option<PathBuf>,
    /// Or text the error message must contain.
    pub expect_error: Option<String>,
    /// Text each warning (skipped nodes) must contain, in order; when given, the number of
    /// warnings must match too.
    pub expect_warnings: Option<Vec<String>>,
}

/// The engine a case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestEngine {
    /// Streaming where possible, as `run` does.
    #[default]
    Auto,
    /// The DOM engine for every rule.
    Dom,
    /// Both, which must agree: the case runs twice.
    Both,
}

/// One series: name, sorted labels, value.
type Series = (String, Vec<(String, String)>);

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    /// The test file.
    pub file: PathBuf,
    /// The case's name.
    pub name: String,
    /// Empty when the case passed; else one line per difference.
    pub failures: Vec<String>,
}

/// A test file that cannot be run at all.
#[derive(Debug, thiserror::Error)]
pub enum TestFileError {
    /// Unreadable.
    #[error("{}: cannot read the test file: {source}", file.display())]
    Read {
        /// The test file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a valid test file.
    #[error("{}: {message}", file.display())]
    Syntax {
        /// The test file.
        file: PathBuf,
        /// serde_yaml's message, with line and column.
        message: String,
    },
    /// The rule file under test has errors.
    #[error("{}: the rule file {} has errors:\n{report}", file.display(), rules.display())]
    Rules {
        /// The test file.
        file: PathBuf,
        /// The rule file.
        rules: PathBuf,
        /// The rendered diagnostics.
        report: String,
    },
    /// A case is not well defined (no input, or no expectation, or two of them).
    #[error("{}: test `{name}`: {why}", file.display())]
    Case {
        /// The test file.
        file: PathBuf,
        /// The case.
        name: String,
        /// What is wrong.
        why: String,
    },
}

impl Report for TestFileError {
    fn report(&self) -> String {
        format!("xml2prom: error: {self}\n")
    }

    /// 2: the test file or its rule file must change.
    fn exit_code(&self) -> u8 {
        2
    }
}

/// The checked flags of `test`.
pub struct TestConfig {
    /// The test files.
    pub files: Vec<PathBuf>,
    /// `--update`: rewrite the golden files instead of comparing.
    pub update: bool,
    /// How long a fixture that is not a regular file may deliver nothing.
    pub read_timeout: Duration,
}

/// `test`: every test file, even after one that cannot be run; the results on stdout. Exit
/// code 2 if a test file cannot be run, else 1 if a case failed.
pub fn execute(config: &TestConfig) -> ExitCode {
    let mut results = Vec::new();
    let mut broken = false;
    for file in &config.files {
        match run_file(file, config.update, config.read_timeout) {
            Ok(found) => results.extend(found),
            Err(error) => {
                show(&error);
                broken = true;
            }
        }
    }
    print!("{}", report(&results));
    if broken {
        ExitCode::from(2)
    } else if results.iter().any(|r| !r.failures.is_empty()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs every case of one test file. `update` rewrites golden files instead of comparing.
/// A fixture that is not a regular file (a FIFO) may deliver nothing for at most
/// `read_timeout`.
pub fn run_file(
    path: &Path,
    update: bool,
    read_timeout: Duration,
) -> Result<Vec<CaseResult>, TestFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| TestFileError::Read {
        file: path.to_owned(),
        source,
    })?;
    let file: TestFile = serde_yaml::from_str(&text).map_err(|err| TestFileError::Syntax {
        file: path.to_owned(),
        message: err.to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    let rules_path = base.join(&file.rules);
    let mut results = Vec::new();
    for case in &file.tests {
        // Variables are part of the compiled templates: compile per case.
        let rules = rules::load(&rules_path, &case.vars).map_err(|error| TestFileError::Rules {
            file: path.to_owned(),
            rules: rules_path.clone(),
            report: error.report(),
        })?;
        let engines: &[Engine] = match case.engine {
            TestEngine::Auto => &[Engine::Auto],
            TestEngine::Dom => &[Engine::Dom],
            TestEngine::Both => &[Engine::Auto, Engine::Dom],
        };
        let mut failures = Vec::new();
        for &engine in engines {
            let mut found = run_case(path, base, &rules, case, engine, update, read_timeout)?;
            if engines.len() > 1 {
                let which = format!("[{engine:?} engine] ").to_lowercase();
                found.iter_mut().for_each(|f| f.insert_str(0, &which));
            }
            failures.extend(found);
        }
        results.push(CaseResult {
            file: path.to_owned(),
            name: case.name.clone(),
            failures,
        });
    }
    Ok(results)
}

/// A fixture's bytes; one that is not a regular file (a FIFO) is read as `run` reads such an
/// input, checked as it comes and given up after `read_timeout` without a byte.
fn read_fixture(path: &Path, read_timeout: Duration) -> Result<Vec<u8>, String> {
    let regular = std::fs::metadata(path).map_err(|err| err.to_string())?;
    if regular.is_file() {
        return std::fs::read(path).map_err(|err| err.to_string());
    }
    let limits = XmlLimits {
        read_timeout,
        ..XmlLimits::default()
    };
    crate::xml::read(path, &limits).map_err(|err| err.to_string())
}

fn run_case(
    path: &Path,
    base: &Path,
    rules: &CompiledRules,
    case: &TestCase,
    engine: Engine,
    update: bool,
    read_timeout: Duration,
) -> Result<Vec<String>, TestFileError> {
    let case_error = |why: &str| TestFileError::Case {
        file: path.to_owned(),
        name: case.name.clone(),
        why: why.to_owned(),
    };
    let (bytes, default_path) = match (&case.input, &case.input_file) {
        (Some(inline), None) => (inline.clone().into_bytes(), "test.xml".to_owned()),
        (None, Some(fixture)) => {
            let bytes = read_fixture(&base.join(fixture), read_timeout).map_err(|err| {
                case_error(&format!(
                    "cannot read the fixture {}: {err}",
                    base.join(fixture).display()
                ))
            })?;
            (bytes, fixture.display().to_string())
        }
        _ => return Err(case_error("give exactly one of `input` and `input_file`")),
    };
    let expectations = [
        case.expect.is_some(),
        case.expect_file.is_some(),
        case.expect_error.is_some(),
    ];
    if expectations.iter().filter(|&&e| e).count() != 1 {
        return Err(case_error(
            "give exactly one of `expect`, `expect_file` and `expect_error`",
        ));
    }
    let input = PathBuf::from(case.input_path.clone().unwrap_or(default_path));
    let outcome = run::evaluate_to_text(rules, &bytes, &input, &XmlLimits::default(), engine);
    let mut failures = Vec::new();
    match (outcome, &case.expect_error) {
        (Err(error), Some(wanted)) => {
            let message = error.to_string();
            if !message.contains(wanted.as_str()) {
                failures.push(format!(
                    "expected an error containing {wanted:?}, got: {message}"
                ));
            }
        }
        (Err(error), None) => failures.push(format!("unexpected error: {error}")),
        (Ok((text, _)), Some(wanted)) => failures.push(format!(
            "expected an error containing {wanted:?}, but the run succeeded with:\n{}",
            indent(&text)
        )),
        (Ok((text, warnings)), None) => {
            if let Some(expected) = &case.expect_warnings {
                compare_warnings(expected, &warnings, &mut failures);
            }
            let actual = parse(&text).map_err(|why| case_error(&format!("output: {why}")))?;
            if let Some(expected) = &case.expect {
                let expected = parse(expected)
                    .map_err(|why| case_error(&format!("`expect` is not exposition: {why}")))?;
                // A family is covered when a series of it is expected, or when a `# TYPE` or
                // `# HELP` line names it: then it must have exactly those series, none at all
                // if the lines name no series of it.
                let families: BTreeSet<&str> = expected
                    .keys()
                    .map(|(n, _)| family(n))
                    .chain(named_families(case.expect.as_deref().unwrap_or_default()))
                    .collect();
                let actual = actual
                    .into_iter()
                    .filter(|((name, _), _)| families.contains(family(name)))
                    .collect();
                failures.extend(diff(&expected, &actual));
            } else if let Some(golden) = &case.expect_file {
                let golden = base.join(golden);
                if update {
                    std::fs::write(&golden, &text).map_err(|err| {
                        case_error(&format!("cannot write {}: {err}", golden.display()))
                    })?;
                } else {
                    match std::fs::read_to_string(&golden) {
                        Ok(expected_text) => {
                            let expected = parse(&expected_text).map_err(|why| {
                                case_error(&format!(
                                    "{} is not exposition: {why}",
                                    golden.display()
                                ))
                            })?;
                            failures.extend(diff(&expected, &actual));
                        }
                        Err(err) => failures.push(format!(
                            "cannot read {}: {err}; run with --update to create it",
                            golden.display()
                        )),
                    }
                }
            }
        }
    }
    Ok(failures)
}

fn compare_warnings(expected: &[String], warnings: &[String], failures: &mut Vec<String>) {
    if expected.len() != warnings.len() {
        failures.push(format!(
            "expected {} warning(s), got {}: {warnings:?}",
            expected.len(),
            warnings.len()
        ));
        return;
    }
    for (wanted, got) in expected.iter().zip(warnings) {
        if !got.contains(wanted.as_str()) {
            failures.push(format!(
                "expected a warning containing {wanted:?}, got: {got}"
            ));
        }
    }
}

/// The families that `# TYPE` and `# HELP` lines of exposition text name.
fn named_families(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|line| {
        let rest = line.trim_start().strip_prefix('#')?.trim_start();
        let rest = rest
            .strip_prefix("TYPE")
            .or_else(|| rest.strip_prefix("HELP"))?;
        rest.starts_with([' ', '\t'])
            .then(|| rest.split_whitespace().next())
            .flatten()
    })
}

/// The family a series belongs to: `h_bucket`, `h_sum` and `h_count` belong to `h`.
fn family(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// Every difference between two sets of series, one line each, sorted.
fn diff(expected: &BTreeMap<Series, f64>, actual: &BTreeMap<Series, f64>) -> Vec<String> {
    let mut out = Vec::new();
    for (series, want) in expected {
        match actual.get(series) {
            None => out.push(format!(
                "missing: {} {}",
                SeriesName(series),
                format_value(*want)
            )),
            Some(got) if !same(*got, *want) => out.push(format!(
                "{}: expected {}, got {}",
                SeriesName(series),
                format_value(*want),
                format_value(*got)
            )),
            Some(_) => {}
        }
    }
    for (series, got) in actual {
        if !expected.contains_key(series) {
            out.push(format!(
                "unexpected: {} {}",
                SeriesName(series),
                format_value(*got)
            ));
        }
    }
    out
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

struct SeriesName<'a>(&'a Series);

impl fmt::Display for SeriesName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, labels) = self.0;
        f.write_str(name)?;
        if !labels.is_empty() {
            let pairs: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}={}", crate::exposition::quote_label_value(v)))
                .collect();
            write!(f, "{{{}}}", pairs.join(","))?;
        }
        Ok(())
    }
}

/// Parses exposition text into series. Comments and blank lines are skipped, and so are
/// xml2prom's own `xml2prom_*` series (times and durations differ from run to run; a golden
/// file written by `run` holds them); an empty label value is dropped (it is the same as no
/// label); a repeated series is an error.
pub fn parse(text: &str) -> Result<BTreeMap<Series, f64>, String> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with(crate::rules::compile::SELF_METRICS_PREFIX)
        {
            continue;
        }
        let (series, value) =
            parse_line(line).map_err(|why| format!("line {}: {why}: {line}", i + 1))?;
        if out.insert(series, value).is_some() {
            return Err(format!("line {}: the series is given twice: {line}", i + 1));
        }
    }
    Ok(out)
}

fn parse_line(line: &str) -> Result<(Series, f64), String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("expected a metric name".to_owned());
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = rest
                .split_once('=')
                .ok_or_else(|| "expected `label=\"value\"`".to_owned())?;
            let key = key.trim();
            let after = after
                .trim_start()
                .strip_prefix('"')
                .ok_or_else(|| format!("the value of `{key}` must be quoted"))?;
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("unterminated label value".to_owned()),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        _ => return Err("bad escape in a label value".to_owned()),
                    },
                    Some((_, c)) => value.push(c),
                }
            };
            if !value.is_empty() {
                labels.push((key.to_owned(), value));
            }
            rest = after[end + 1..].trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let value_text = rest.trim();
    let value = crate::model::number::parse_number(value_text)
        .ok_or_else(|| format!("`{value_text}` is not a sample value (no timestamps)"))?;
    labels.sort();
    Ok(((name.to_owned(), labels), value))
}

/// The report of a whole `test` run: one line per case, details of failures, a summary.
pub fn report(results: &[CaseResult]) -> String {
    let mut out = String::new();
    for result in results {
        let status = if result.failures.is_empty() {
            "ok  "
        } else {
            "FAIL"
        };
        out.push_str(&format!(
            "{status} {}: {}\n",
            result.file.display(),
            result.name
        ));
        for failure in &result.failures {
            for (i, line) in failure.lines().enumerate() {
                out.push_str(if i == 0 { "       " } else { "         " });
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    let failed = results.iter().filter(|r| !r.failures.is_empty()).count();
    out.push_str(&format!(
        "xml2prom: {} test{}, {failed} failed\n",
        results.len(),
        if results.len() == 1 { "" } else { "s" }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exposition_with_escapes_and_drops_empty_labels() {
        let parsed = parse(
            "# HELP a x\n# TYPE a gauge\na{k=\"v\\\"1\\n\",e=\"\"} 1.5\nb NaN\nc{z=\"1\", a=\"2\",} +Inf\n",
        )
        .expect("valid");
        let a = ("a".to_owned(), vec![("k".to_owned(), "v\"1\n".to_owned())]);
        assert_eq!(parsed.get(&a), Some(&1.5));
        assert!(parsed[&("b".to_owned(), vec![])].is_nan());
        let c = (
            "c".to_owned(),
            vec![
                ("a".to_owned(), "2".to_owned()),
                ("z".to_owned(), "1".to_owned()),
            ],
        );
        assert_eq!(parsed.get(&c), Some(&f64::INFINITY));
    }

    #[test]
    fn refuses_timestamps_duplicates_and_garbage() {
        assert!(parse("a 1 1700000000").is_err());
        assert!(parse("a 1\na 2").is_err());
        assert!(parse("a{k=v} 1").is_err());
        assert!(parse("{k=\"v\"} 1").is_err());
    }

    #[test]
    fn diff_names_missing_unexpected_and_different_series() {
        let expected = parse("a{k=\"x\"} 1\nb 2\nn NaN\n").expect("valid");
        let actual = parse("a{k=\"x\"} 3\nc 4\nn NaN\n").expect("valid");
        assert_eq!(
            diff(&expected, &actual),
            [
                "a{k=\"x\"}: expected 1, got 3",
                "missing: b 2",
                "unexpected: c 4",
            ]
        );
    }

    #[test]
    fn histogram_series_belong_to_their_family() {
        assert_eq!(family("h_bucket"), "h");
        assert_eq!(family("h_count"), "h");
        assert_eq!(family("h"), "h");
    }
}
