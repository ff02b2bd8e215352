//! Run: the `run` subcommand, tying the stages together.
//!
//! Rule file -> compiled rules (every problem reported before any XML is read) -> for each
//! input: read, refuse hostile XML, parse, evaluate -> one set of families -> exposition ->
//! atomic output. Any failure stops the run before the output is touched, so the previous
//! `.prom` file stays as it was.

use std::path::{Path, PathBuf};

use crate::compile::{self, CompileError, CompiledRules};
use crate::diagnostic::{self, Diagnostic, Severity};
use crate::evaluate::{self, EvalError};
use crate::exposition;
use crate::output::{self, Destination, WriteError};
use crate::rulefile::{self, RuleFileError};
use crate::sample::{DuplicateSeries, Families, Origin};
use crate::xml::{self, XmlError, XmlLimits};

/// Everything `run` needs, checked.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The rule file.
    pub rules: PathBuf,
    /// The XML files.
    pub inputs: Vec<PathBuf>,
    /// Where the exposition goes.
    pub output: Destination,
    /// Limits on each input.
    pub limits: XmlLimits,
}

/// What a successful run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// Number of families written.
    pub families: usize,
    /// Number of series written.
    pub series: usize,
    /// Things worth telling the user that did not stop the run.
    pub warnings: Vec<String>,
}

/// A rule file that cannot be used: unreadable, malformed, or with problems found by
/// [`compile::compile`].
#[derive(Debug)]
pub enum RulesError {
    /// Unreadable or malformed YAML, or a single invalid value.
    Load(RuleFileError),
    /// Problems found when compiling; the file's text is kept to point into it.
    Compile {
        /// The rule file path.
        path: PathBuf,
        /// The rule file text.
        source: String,
        /// Every problem found.
        errors: Vec<CompileError>,
    },
}

impl RulesError {
    /// One diagnostic per problem, each pointing into the rule file where possible.
    pub fn diagnostics(&self) -> Vec<(Diagnostic, String)> {
        match self {
            RulesError::Load(RuleFileError::Read { path, source }) => vec![(
                Diagnostic {
                    severity: Severity::Error,
                    message: format!("cannot read the rule file: {source}"),
                    file: path.display().to_string(),
                    position: None,
                    help: Some("check the --rules path".to_owned()),
                },
                String::new(),
            )],
            RulesError::Load(RuleFileError::Yaml {
                path,
                text,
                message,
                position,
            }) => {
                let names = rulefile::rule_names(text);
                vec![(
                    Diagnostic {
                        severity: Severity::Error,
                        message: name_the_rule(message, &names),
                        file: path.display().to_string(),
                        position: *position,
                        help: None,
                    },
                    text.clone(),
                )]
            }
            RulesError::Compile {
                path,
                source,
                errors,
            } => {
                let names = rulefile::rule_names(source);
                let mut diagnostics: Vec<(Diagnostic, String)> = errors
                    .iter()
                    .map(|error| {
                        let position = diagnostic::locate(source, &error.path, error.at_key)
                            .or_else(|| locate_nearest(source, &error.path));
                        (
                            Diagnostic {
                                severity: Severity::Error,
                                message: name_the_rule(&error.to_string(), &names),
                                file: path.display().to_string(),
                                position,
                                help: None,
                            },
                            source.clone(),
                        )
                    })
                    .collect();
                // In file order, as an editor would list them.
                diagnostics.sort_by_key(|(d, _)| d.position.map(|p| p.index));
                diagnostics
            }
        }
    }
}

/// Adds the rule's metric name to a message that starts with its path:
/// `metrics[1].value: ...` becomes ``metrics[1].value (rule `store_rows`): ...``.
fn name_the_rule(message: &str, names: &[Option<String>]) -> String {
    let name = message
        .strip_prefix("metrics[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(index, _)| index.parse::<usize>().ok())
        .and_then(|index| names.get(index).cloned().flatten());
    match (name, message.split_once(": ")) {
        (Some(name), Some((path, rest))) => format!("{path} (rule `{name}`): {rest}"),
        _ => message.to_owned(),
    }
}

/// The position of the longest prefix of `path` that exists (a missing key points at its rule).
fn locate_nearest(source: &str, path: &diagnostic::FieldPath) -> Option<diagnostic::Position> {
    let mut segments = path.0.clone();
    while segments.pop().is_some() {
        if let Some(position) =
            diagnostic::locate(source, &diagnostic::FieldPath(segments.clone()), false)
        {
            return Some(position);
        }
    }
    None
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The rule file cannot be used.
    #[error("the rule file has errors")]
    Rules(RulesError),
    /// An input was refused or is not well-formed.
    #[error("{}: {source}", input.display())]
    Xml {
        /// The input.
        input: PathBuf,
        /// Why.
        source: XmlError,
    },
    /// A rule failed on an input.
    #[error("{}: {source}", input.display())]
    Eval {
        /// The input.
        input: PathBuf,
        /// Why.
        source: EvalError,
    },
    /// Two samples for one series.
    #[error(transparent)]
    Duplicate(#[from] Box<DuplicateSeries>),
    /// The output could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl RunError {
    /// The process exit code: 2 for a rule file problem, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Rules(_) => 2,
            _ => 1,
        }
    }

    /// The full report for stderr: rendered diagnostics for rule files, one line otherwise.
    pub fn report(&self) -> String {
        match self {
            RunError::Rules(rules) => {
                let diagnostics = rules.diagnostics();
                let count = diagnostics.len();
                let mut out: String = diagnostics
                    .iter()
                    .map(|(d, source)| diagnostic::render(d, source))
                    .collect::<Vec<_>>()
                    .join("\n");
                if count > 1 {
                    out.push_str(&format!(
                        "\nxml2prom: {count} errors in the rule file; nothing was written\n"
                    ));
                }
                out
            }
            other => format!("xml2prom: error: {other}\n"),
        }
    }
}

/// Loads and compiles a rule file.
pub fn load_rules(path: &Path) -> Result<CompiledRules, RulesError> {
    let loaded = rulefile::load(path).map_err(RulesError::Load)?;
    compile::compile(loaded.rules).map_err(|errors| RulesError::Compile {
        path: loaded.path,
        source: loaded.source,
        errors,
    })
}

/// Evaluates the rules against every input and gathers the families.
pub fn collect(
    rules: &CompiledRules,
    inputs: &[PathBuf],
    limits: &XmlLimits,
) -> Result<Families, RunError> {
    let mut families = Families::new();
    for input in inputs {
        let xml_error = |source| RunError::Xml {
            input: input.clone(),
            source,
        };
        let bytes = xml::read(input, limits).map_err(xml_error)?;
        let package = xml::parse(&bytes, limits).map_err(xml_error)?;
        drop(bytes);
        let document = package.as_document();
        let results =
            evaluate::evaluate(rules, &document, input).map_err(|source| RunError::Eval {
                input: input.clone(),
                source,
            })?;
        for result in results {
            let rule = &rules.rules[result.rule];
            for sample in result.samples {
                let origin = Origin {
                    rule: rule.id.clone(),
                    input: input.display().to_string(),
                };
                families.add(&rule.name, &rule.help, rule.kind, sample, origin)?;
            }
        }
    }
    Ok(families)
}

/// The `run` subcommand.
pub fn run(config: &RunConfig) -> Result<RunSummary, RunError> {
    let rules = load_rules(&config.rules).map_err(RunError::Rules)?;
    let families = collect(&rules, &config.inputs, &config.limits)?;
    let text = exposition::render(&families);
    output::write(&config.output, &text)?;
    let mut warnings = Vec::new();
    if let Destination::File(path) = &config.output
        && path.extension().is_none_or(|e| e != "prom")
    {
        warnings.push(format!(
            "{} was written, but node_exporter's textfile collector reads only files ending \
             in .prom",
            path.display()
        ));
    }
    Ok(RunSummary {
        families: families.iter().count(),
        series: families.series_count(),
        warnings,
    })
}
