//! The `xml2prom` binary: parse the command line, call the library, turn the outcome into an
//! exit code (0 success, 1 an input failed, 2 the rule file or command line is wrong).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use xml2prom::cli::{self, Cli, Command};
use xml2prom::output::{self, Destination};

fn main() -> ExitCode {
    catch_file_size_limit();
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            // Checked by clap: at least one second.
            let every = args.every;
            let config = match args.into_config() {
                Ok(config) => config,
                Err(usage) => usage.exit(),
            };
            if let Some(period) = every {
                return ExitCode::from(xml2prom::commands::every::run_every(&config, period));
            }
            let outcome = xml2prom::commands::run::run(&config);
            xml2prom::commands::run::report(&outcome);
            ExitCode::from(outcome.exit_code())
        }
        Command::Check(args) => {
            let vars = args.vars.into_iter().collect();
            let reports = xml2prom::commands::check::check(&args.files, &vars);
            print!(
                "{}",
                xml2prom::commands::check::render(&reports, args.format)
            );
            ExitCode::from(xml2prom::commands::check::exit_code(&reports, args.strict))
        }
        Command::Explain(args) => {
            let vars = args.vars.into_iter().collect();
            let rules = match xml2prom::rules::load(&args.rules, &vars) {
                Ok(rules) => rules,
                Err(err) => {
                    let err = xml2prom::commands::run::RunError::Rules(err);
                    let _ = std::io::stderr().lock().write_all(err.report().as_bytes());
                    return ExitCode::from(err.exit_code());
                }
            };
            let limits = xml2prom::xml::XmlLimits {
                max_bytes: args.max_input_bytes,
                read_timeout: args.read.read_timeout,
                ..xml2prom::xml::XmlLimits::default()
            };
            match xml2prom::commands::explain::explain(
                &rules,
                &args.input,
                args.metric.as_deref(),
                args.limit,
                &limits,
            ) {
                Ok(explanation) => {
                    let text = match args.format {
                        xml2prom::commands::explain::Format::Json => {
                            xml2prom::commands::explain::render_json(&explanation)
                        }
                        xml2prom::commands::explain::Format::Human => {
                            xml2prom::commands::explain::render_human(&explanation, true)
                        }
                    };
                    // anstream strips the colours when stdout is not a terminal or NO_COLOR
                    // is set.
                    let _ = anstream::stdout().write_all(text.as_bytes());
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    let _ = std::io::stderr().lock().write_all(err.report().as_bytes());
                    ExitCode::from(err.exit_code())
                }
            }
        }
        Command::Test(args) => {
            let mut results = Vec::new();
            let mut broken = false;
            for file in &args.files {
                match xml2prom::commands::test::run_file(file, args.update, args.read.read_timeout)
                {
                    Ok(found) => results.extend(found),
                    Err(err) => {
                        eprintln!("xml2prom: error: {err}");
                        broken = true;
                    }
                }
            }
            print!("{}", xml2prom::commands::test::report(&results));
            if broken {
                ExitCode::from(2)
            } else if results.iter().any(|r| !r.failures.is_empty()) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Init(args) => match xml2prom::commands::init::init(&args.into_config()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("xml2prom: error: {err}");
                ExitCode::from(err.exit_code())
            }
        },
        Command::Serve(args) => {
            let config = match args.into_config() {
                Ok(config) => config,
                Err(usage) => usage.exit(),
            };
            match xml2prom::commands::serve::serve(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    let _ = std::io::stderr().lock().write_all(err.report().as_bytes());
                    ExitCode::from(err.exit_code())
                }
            }
        }
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
