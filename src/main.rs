//! The `xml2prom` binary: parse the command line, call the library, turn the outcome into an
//! exit code (0 success, 1 an input failed, 2 the rule file or command line is wrong).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use xml2prom::cli::{self, Cli, Command};
use xml2prom::output::{self, Destination};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => match xml2prom::run::run(&args.into_config()) {
            Ok(summary) => {
                for warning in &summary.warnings {
                    eprintln!("xml2prom: warning: {warning}");
                }
                ExitCode::SUCCESS
            }
            Err(err) => {
                // If stderr itself is gone there is nobody left to tell.
                let _ = std::io::stderr().lock().write_all(err.report().as_bytes());
                ExitCode::from(err.exit_code())
            }
        },
        Command::Init(args) => match xml2prom::init::init(&args.into_config()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("xml2prom: error: {err}");
                ExitCode::from(err.exit_code())
            }
        },
        Command::Completions(args) => print(&cli::completion_script(args.shell)),
        Command::Man(args) => match cli::man_page(args.subcommand.as_deref()) {
            Ok(page) => print(&page),
            Err(message) => {
                eprintln!("xml2prom: error: {message}");
                ExitCode::from(2)
            }
        },
    }
}

/// Writes generated text to stdout; a closed pipe is not an error.
fn print(text: &str) -> ExitCode {
    match output::write(&Destination::Stdout, text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xml2prom: error: {err}");
            ExitCode::FAILURE
        }
    }
}
