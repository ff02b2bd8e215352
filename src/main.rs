//! The `xml2prom` binary: parse the command line, carry out the subcommand, turn the outcome
//! into an exit code (0 success, 1 an input failed, 2 the rule file or command line is wrong).

use std::process::ExitCode;

use clap::Parser;
use xml2prom::cli::Cli;
use xml2prom::commands;

fn main() -> ExitCode {
    catch_file_size_limit();
    match Cli::parse().into_command() {
        Ok(command) => commands::execute(command),
        Err(usage) => usage.exit(),
    }
}

/// A write past the file-size limit (`ulimit -f`, systemd's `LimitFSIZE=`, a quota) raises
/// SIGXFSZ, whose default action kills the process without a word, leaving the temporary file
/// behind and the status file unwritten (issue 10). With the signal caught, the write fails with
/// `EFBIG` instead: the run reports it, removes the temporary file, keeps the previous output
/// and still writes the status file where it fits. A handler rather than `SIG_IGN`, so that no
/// program started from here inherits the disposition.
fn catch_file_size_limit() {
    #[cfg(unix)]
    {
        let caught = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Err(err) = signal_hook::flag::register(signal_hook::consts::SIGXFSZ, caught) {
            eprintln!("xml2prom: warning: cannot catch SIGXFSZ: {err}");
        }
    }
}
