//! Rules: YAML text to [`compile::CompiledRules`]. Nothing here reads XML.
//!
//! [`load`] is the way in: the rule file read, checked and compiled, or a [`RulesError`] with
//! every problem found, each pointing into the file.
//!
//! [`file`] reads the rule file into typed structs, checking every single value as it is read
//! (names, XPath syntax, templates), from the bounded, positioned YAML tree of [`yaml`].
//! [`xpath`] holds a rule's XPath queries, lexed once by the one XPath lexer that the checks, the
//! plans and the DOM engine's direct reads share.
//! [`compile`] turns a [`file::RuleFile`] into [`compile::CompiledRules`]: cross-rule checks,
//! namespace prefixes, template variables, one plan per metric family, and for each query the
//! streamable [`plan`] when it has one. [`convert`] holds a rule's `convert:` steps, [`policy`]
//! what a rule does with missing and invalid values, duplicate series and empty selections,
//! [`templates`] the minijinja environment for labels and HELP. [`diagnostic`] points errors into
//! the rule file; [`lints`] are the warnings of `check`.

pub mod compile;
pub mod convert;
pub mod diagnostic;
pub mod expr;
pub mod file;
pub mod lints;
pub mod plan;
pub mod policy;
pub mod templates;
pub mod xpath;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::Path;

use crate::rules::compile::{CompileError, CompiledRules};
use crate::rules::diagnostic::{Diagnostic, Severity};
use crate::rules::file::RuleFileError;

/// Loads and compiles a rule file, with the values of `--var`.
pub fn load(path: &Path, vars: &BTreeMap<String, String>) -> Result<CompiledRules, RulesError> {
    load_with_source(path, vars).map(|(rules, _)| rules)
}

/// [`load`], also giving the file's text and tree (from the one parse) to point into it.
pub fn load_with_source(
    path: &Path,
    vars: &BTreeMap<String, String>,
) -> Result<(CompiledRules, file::RuleSource), RulesError> {
    let loaded = file::load(path).map_err(RulesError::Load)?;
    match compile::compile_with_vars(loaded.rules, vars) {
        Ok(rules) => Ok((rules, loaded.source)),
        Err(errors) => Err(RulesError::Compile {
            file: loaded.source,
            errors,
        }),
    }
}

/// A rule file that cannot be used: unreadable, malformed, or with problems found by
/// [`compile::compile`].
#[derive(Debug)]
pub enum RulesError {
    /// Unreadable, too large or malformed YAML, or invalid values (every rule checked).
    Load(RuleFileError),
    /// Problems found when compiling; the file's text and tree are kept to point into it.
    Compile {
        /// The rule file, its text and its tree.
        file: file::RuleSource,
        /// Every problem found.
        errors: Vec<CompileError>,
    },
}

impl RulesError {
    /// The rule file's text, to show source lines (empty when it could not be read).
    pub fn source_text(&self) -> &str {
        match self {
            RulesError::Load(RuleFileError::Yaml { file, .. })
            | RulesError::Compile { file, .. } => &file.text,
            RulesError::Load(RuleFileError::Read { .. } | RuleFileError::TooLarge { .. }) => "",
        }
    }

    /// The full report for stderr: every problem rendered with its source line, and a count
    /// when there are several.
    pub fn report(&self) -> String {
        let diagnostics = self.diagnostics();
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

    /// One diagnostic per problem, each pointing into the rule file where possible, in file
    /// order; messages that quote a huge value are shortened.
    pub fn diagnostics(&self) -> Vec<(Diagnostic, String)> {
        match self {
            RulesError::Load(RuleFileError::Read { path, source }) => vec![(
                Diagnostic {
                    severity: Severity::Error,
                    code: "read",
                    message: format!("cannot read the rule file: {source}"),
                    file: path.display().to_string(),
                    position: None,
                    help: Some("check the path of the rule file".to_owned()),
                },
                String::new(),
            )],
            RulesError::Load(RuleFileError::TooLarge { path }) => vec![(
                Diagnostic {
                    severity: Severity::Error,
                    code: "too-large",
                    message: format!(
                        "the rule file is larger than {} MiB, the most xml2prom reads",
                        file::MAX_RULE_FILE_BYTES >> 20
                    ),
                    file: path.display().to_string(),
                    position: None,
                    help: Some(
                        "check the path of the rule file; split a rule file that large into \
                         several"
                            .to_owned(),
                    ),
                },
                String::new(),
            )],
            RulesError::Load(RuleFileError::Yaml { file, problems }) => {
                let names = file.rule_names();
                problems
                    .iter()
                    .map(|problem| {
                        (
                            Diagnostic {
                                severity: Severity::Error,
                                code: problem.code,
                                message: name_the_rule(&problem.message, &names),
                                file: file.path.display().to_string(),
                                position: problem.position,
                                help: problem.help.clone(),
                            },
                            file.text.clone(),
                        )
                    })
                    .collect()
            }
            RulesError::Compile { file, errors } => {
                let names = file.rule_names();
                let mut diagnostics: Vec<(Diagnostic, String)> = errors
                    .iter()
                    .map(|error| {
                        let position = file.locate(&error.path, error.at_key);
                        (
                            Diagnostic {
                                severity: Severity::Error,
                                code: error.kind.code(),
                                message: diagnostic::shorten(&name_the_rule(
                                    &error.to_string(),
                                    &names,
                                )),
                                file: file.path.display().to_string(),
                                position,
                                help: None,
                            },
                            file.text.clone(),
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
pub(crate) fn name_the_rule(message: &str, names: &[Option<String>]) -> String {
    let name = message
        .strip_prefix("metrics[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(index, _)| index.parse::<usize>().ok())
        .and_then(|index| names.get(index).cloned().flatten());
    match (name, message.split_once(": ")) {
        (Some(name), Some((path, rest))) => {
            format!("{path} (rule `{}`): {rest}", diagnostic::shorten(&name))
        }
        _ => message.to_owned(),
    }
}
