//! Rules: YAML text to [`compile::CompiledRules`]. Nothing here reads XML.
//!
//! [`file`] reads the rule file into typed structs, checking every single value as it is read
//! (names, XPath syntax, templates), from the bounded, positioned YAML tree of [`yaml`].
//! [`compile`] turns a [`file::RuleFile`] into [`compile::CompiledRules`]: cross-rule checks,
//! namespace prefixes, template variables, one plan per metric family, and for each query the
//! streamable [`plan`] when it has one. [`convert`] holds a rule's `convert:` steps, [`policy`]
//! what a rule does with missing and invalid values, duplicate series and empty selections,
//! [`templates`] the minijinja environment for labels and HELP. [`diagnostic`] points errors into
//! the rule file; [`lints`] are the warnings of `check`.

pub mod compile;
pub mod convert;
pub mod diagnostic;
pub mod file;
pub mod lints;
pub mod plan;
pub mod policy;
pub mod templates;
pub mod yaml;
