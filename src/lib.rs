//! xml2prom: turn XML into Prometheus metrics through declarative rules.
//!
//! A run is a pipeline, one folder per stage, and imports point one way, down this list
//! (`tests/layers.rs` checks it):
//!
//! 1. [`rules`] reads the YAML rule file and compiles it: every value checked as it is read,
//!    then cross-rule checks, namespace prefixes, templates and one plan per metric family.
//!    Nothing there reads XML.
//! 2. [`xml`] reads an input and refuses hostile or broken XML, handing checked content to a
//!    [`xml::Sink`]. It imports nothing from the rest of the crate.
//! 3. [`engine`] runs the compiled rules over one input: the streaming engine as the scan goes,
//!    the DOM engine (sxd-xpath) over a document built from the same scan. Both hand each
//!    selected node to one per-node core, so a rule means the same whichever engine runs it.
//! 4. [`exposition`] renders the samples in the Prometheus text format 0.0.4; [`output`] writes
//!    the text atomically, or to stdout.
//! 5. [`commands`] are the subcommands (`run`, `serve`, `check`, `test`, `explain`, `init`),
//!    which tie the stages together; [`cli`] turns command-line flags into them.
//!
//! [`model`] holds the words every stage shares: names, samples and numbers.
#![warn(missing_docs)]

pub mod cli;
pub mod commands;
pub mod engine;
pub mod exposition;
pub mod model;
pub mod output;
pub mod rules;
pub mod xml;

/// What `--version` prints after the program name: the crate version and the rule file version
/// this build reads (a test checks it against [`rules::file::SUPPORTED_VERSION`]).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (rule file version 1)");
