//! Commands: one module per subcommand, tying the stages together, and the way each ends.
//!
//! [`run`] runs the rules over the inputs once and writes the results, with [`inputs`] (input
//! patterns and output names), [`fetch`] (standard input, URLs and commands as inputs, with
//! [`http_config`]), [`lock`] (overlapping runs), [`status`] (xml2prom's own gauges),
//! [`push`] (the Pushgateway) and [`every`] (repeated runs, stopped and reloaded by signals).
//! [`serve`] is the exporter that evaluates on scrape, [`check`] checks rule files, [`test`] runs
//! rule-file unit tests, [`explain`] shows how a rule reads a store, and [`init`] drafts a rule
//! file from a sample store. [`log`] writes the messages of `serve` and `run --every`, and
//! [`exporter_metrics`] are the metrics every Prometheus exporter shows about itself.
//!
//! A [`Command`] is a subcommand with its flags checked; [`execute`] carries it out and gives
//! the exit code. An error that ends a subcommand reaches stderr one way, [`fail`], through its
//! [`Report`].

pub mod check;
pub mod every;
pub mod explain;
pub mod exporter_metrics;
pub mod fetch;
pub mod http_config;
pub mod init;
pub mod inputs;
pub mod lock;
pub mod log;
pub mod push;
pub mod run;
pub mod serve;
pub mod status;
pub mod test;

use std::fmt;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use crate::output::{self, Destination, WriteError};
use crate::rules::RulesError;

/// A subcommand, its flags checked: what the command line hands over.
pub enum Command {
    /// `run`: once, or every `every` until a signal stops it.
    Run {
        /// The checked flags.
        config: run::RunConfig,
        /// `--every`: the period of repeated runs.
        every: Option<Duration>,
        /// `--log.level` and `--log.format`, for the loop.
        log: log::LogConfig,
    },
    /// `check`.
    Check(check::CheckConfig),
    /// `test`.
    Test(test::TestConfig),
    /// `explain`.
    Explain(explain::ExplainConfig),
    /// `init`.
    Init(init::InitConfig),
    /// `serve`.
    Serve(serve::ServeConfig),
    /// `completions`: the script for stdout.
    Completions(String),
    /// `man`: the page for stdout, or why there is none.
    Man(Result<String, ManPageError>),
    /// `schema`: the rule file's JSON Schema for stdout.
    Schema(String),
}

/// Carries out a subcommand and gives the process exit code: 0 success, 1 an input failed, 2
/// the rule file or the command line is wrong.
pub fn execute(command: Command) -> ExitCode {
    match command {
        Command::Run {
            config,
            every: None,
            ..
        } => run::execute(&config),
        Command::Run {
            config,
            every: Some(period),
            log,
        } => {
            log::init(log);
            every::execute(&config, period)
        }
        Command::Check(config) => check::execute(&config),
        Command::Test(config) => test::execute(&config),
        Command::Explain(config) => explain::execute(&config),
        Command::Init(config) => init::execute(&config),
        Command::Serve(config) => serve::execute(&config),
        Command::Completions(script) => print(&script),
        Command::Man(Ok(page)) => print(&page),
        Command::Man(Err(error)) => fail(&error),
        Command::Schema(schema) => print(&schema),
    }
}

/// An error that ends a subcommand: what stderr gets, and the exit code.
pub trait Report {
    /// The full text for stderr, ending in a newline: rendered diagnostics for a rule file,
    /// `xml2prom: error: ...` otherwise.
    fn report(&self) -> String;
    /// The process exit code: 2 when the rule file or the command line must change, 1 otherwise.
    fn exit_code(&self) -> u8;
}

/// Writes an error's report to stderr. If stderr itself is gone there is nobody left to tell.
pub fn show(error: &dyn Report) {
    let _ = std::io::stderr()
        .lock()
        .write_all(error.report().as_bytes());
}

/// Ends a subcommand on an error: its report to stderr, its exit code.
pub fn fail(error: &dyn Report) -> ExitCode {
    show(error);
    ExitCode::from(error.exit_code())
}

impl Report for RulesError {
    fn report(&self) -> String {
        RulesError::report(self)
    }

    fn exit_code(&self) -> u8 {
        2
    }
}

impl Report for WriteError {
    fn report(&self) -> String {
        format!("xml2prom: error: {self}\n")
    }

    fn exit_code(&self) -> u8 {
        1
    }
}

/// Why `man` printed no page: there is no such subcommand, or the page cannot be rendered.
#[derive(Debug)]
pub struct ManPageError(pub String);

impl fmt::Display for ManPageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Report for ManPageError {
    fn report(&self) -> String {
        format!("xml2prom: error: {self}\n")
    }

    fn exit_code(&self) -> u8 {
        2
    }
}

/// Writes generated text to stdout; a closed pipe is not an error.
fn print(text: &str) -> ExitCode {
    match output::write(&Destination::Stdout, text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}
