//! The `xml2prom` binary: parse the command line, call the library, turn the outcome into an
//! exit code (0 success, 1 an input failed, 2 the rule file or command line is wrong).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use xml2prom::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            let config = match args.into_config() {
                Ok(config) => config,
                Err(usage) => usage.exit(),
            };
            let outcome = xml2prom::run::run(&config);
            // If stderr itself is gone there is nobody left to tell.
            let mut stderr = std::io::stderr().lock();
            for warning in &outcome.warnings {
                let _ = writeln!(stderr, "xml2prom: warning: {warning}");
            }
            for error in &outcome.errors {
                let _ = stderr.write_all(error.report().as_bytes());
            }
            ExitCode::from(outcome.exit_code())
        }
    }
}
