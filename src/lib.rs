//! xml2prom: turn XML files into Prometheus metrics through declarative rules.
//!
//! A run is a pipeline, one module per stage:
//!
//! 1. [`rulefile`] reads the YAML rule file into typed structs, checking every single value as it
//!    is read (names, XPath syntax, templates).
//! 2. [`compile`] turns a [`rulefile::RuleFile`] into [`compile::CompiledRules`]: cross-rule checks,
//!    namespace prefixes, template variables, one plan per metric family. Nothing here reads XML.
//! 3. [`xml`] reads an input file and refuses hostile or broken XML before building a DOM;
//!    [`dom`] builds the DOM engine's document from the same checked scan.
//! 4. [`evaluate`] runs the compiled rules against a document and yields [`sample::Sample`]s,
//!    using [`aggregate`] and [`labels`].
//! 5. [`exposition`] renders the samples in the Prometheus text format 0.0.4.
//! 6. [`output`] writes the result atomically, or to stdout.
//!
//! [`convert`] holds a rule's `convert:` steps, which turn a value's text into a number (regex,
//! map, parse as boolean, duration or time, scale); [`policy`] what a rule does with missing and
//! invalid values, duplicate series and empty selections.
//!
//! [`diagnostic`] renders errors that point into the rule file; [`inputs`] expands `--input`
//! patterns and names the output of each input; [`lock`] keeps overlapping runs apart;
//! [`status`] reports xml2prom's own work as `xml2prom_*` gauges; [`run`] ties the stages
//! together for the `run` subcommand; [`push`] sends a run's exposition to a Pushgateway;
//! [`schedule`] repeats runs (`--every`), stopped and reloaded by signals; [`serve`] is the
//! `serve` subcommand (an exporter that evaluates on scrape).
#![warn(missing_docs)]

pub mod aggregate;
pub mod check;
pub mod cli;
pub mod compile;
pub mod convert;
pub mod diagnostic;
pub mod dom;
pub mod evaluate;
pub mod explain;
pub mod exposition;
pub mod init;
mod input_file;
pub mod inputs;
pub mod labels;
pub mod lints;
pub mod lock;
pub mod output;
pub mod policy;
pub mod push;
pub mod rulefile;
pub mod ruletest;
pub mod run;
pub mod sample;
pub mod schedule;
pub mod serve;
pub mod status;
pub mod stream;
pub mod streamable;
pub mod value;
pub mod xml;
pub mod yaml;
