//! Command line: clap derive types. `main` parses them and [`Cli::into_command`] turns them into
//! a [`crate::commands::Command`] of checked configurations, so the subcommands never read raw
//! flags.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand};

use crate::VERSION;
use crate::commands::check::{CheckConfig, Format};
use crate::commands::every::MIN_PERIOD;
use crate::commands::explain::ExplainConfig;
use crate::commands::fetch::{FetchOptions, Remote};
use crate::commands::http_config::HttpConfig;
use crate::commands::init::{InitConfig, MetricPrefix};
use crate::commands::inputs;
use crate::commands::log::{Format as LogFormat, Level, LogConfig};
use crate::commands::push::PushTarget;
use crate::commands::run::{Outputs, RunConfig};
use crate::commands::test::TestConfig;
use crate::commands::{self, ManPageError};
use crate::engine::Engine;
use crate::model::duration::{self, Friendly};
use crate::model::names::LabelName;
use crate::output::Destination;
use crate::xml::XmlLimits;

/// The exit codes, for both `--help` texts: a macro, so that `concat!` can use it.
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  success
  1  an input failed: unreadable, not well-formed or hostile XML, a value that is not a number,
     duplicate series; an output could not be written; a push to the Pushgateway failed; or
     another run held the lock too long. The previous output is unchanged (with --output-dir,
     the other inputs are still written)
  2  the rule file or the command line is wrong (with --every: at the start)
  With --every, SIGTERM or SIGINT end the loop with 0 after the run in progress"
    };
}

/// Turn XML files into Prometheus metrics with declarative rules.
#[derive(Debug, Parser)]
#[command(name = "xml2prom", version = VERSION, after_help = exit_codes!())]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate rules against XML files and write .prom files.
    #[command(after_help = concat!(
        "Examples:\n  xml2prom run --rules rules/store.yaml --input /srv/app/store.xml \\\n      \
         --output /var/lib/node_exporter/textfile/store.prom\n  \
         xml2prom run --rules rules/store.yaml --input '/srv/stores/*.xml' \\\n      \
         --output-dir /var/lib/node_exporter/textfile \\\n      \
         --status-file /var/lib/node_exporter/textfile/xml2prom.prom\n  \
         xml2prom run --rules rules/store.yaml --input /srv/app/store.xml \\\n      \
         --output /textfile/store.prom --every 30s\n  \
         xml2prom run --rules rules/store.yaml --input /srv/app/store.xml \\\n      \
         --push http://pushgateway:9091 --job xml2prom --grouping instance=store-1\n  \
         xml2prom run --rules bind.yaml --input http://127.0.0.1:8053/xml/v3/server \\\n      \
         --input-http-config bind-http.yaml --output /textfile/bind.prom\n  \
         xml2prom run --rules nvidia.yaml --input 'exec:nvidia-smi -q -x' -o -\n\n\
         A DURATION is 250ms, 30s, 5m, 1h30m or 1h 30m (also 1.5h, 2min, 1d for 24 hours).\n\n",
        exit_codes!()
    ))]
    Run(RunArgs),
    /// Check rule files without reading any XML: every error, and warnings (lints).
    #[command(after_help = "\
Examples:
  xml2prom check rules/*.yaml
  xml2prom check --strict --format github rules/*.yaml   # in a GitHub Actions step

Exit codes:
  0  no error (warnings allowed unless --strict)
  1  warnings, with --strict
  2  at least one error")]
    Check(CheckArgs),
    /// Run rule unit tests: XML documents and the metrics (or errors) the rules must give.
    #[command(after_help = "\
Example:
  xml2prom test rules/tests/*.test.yaml

Exit codes:
  0  every test passed
  1  a test failed
  2  a test file or its rule file cannot be used")]
    Test(TestArgs),
    /// Show how each rule reads an input: nodes matched, fields, labels, values, skips, samples.
    #[command(after_help = "\
Example:
  xml2prom explain --rules rules/store.yaml --input rules/examples/store.xml --metric store_rows")]
    Explain(ExplainArgs),
    /// Draft a rule file from a sample XML store.
    #[command(after_help = "\
Example:
  xml2prom init /srv/app/store.xml --output rules/store.yaml
  xml2prom run --rules rules/store.yaml --input /srv/app/store.xml --output -

Exit codes:
  0  the draft was written
  1  the sample failed (unreadable, not well-formed or hostile XML, nothing to measure),
     or the draft could not be written
  2  the command line is wrong, or --output exists and --force was not given")]
    Init(InitArgs),
    /// Serve the metrics over HTTP, evaluating the rules when Prometheus scrapes.
    #[command(after_help = "\
Example:
  xml2prom serve --rules rules/store.yaml --input /srv/app/store.xml \
    --web.listen-address 127.0.0.1:9840 --web.config.file /etc/xml2prom/web.yml
  xml2prom serve --rules bind.yaml --rules store.yaml \
    --probe.allow-target 'http://ns[0-9]+\\.example\\.net:8053/xml/v3/server'
  curl 'http://127.0.0.1:9840/probe?module=bind&target=http%3A%2F%2Fns1.example.net%3A8053%2Fxml%2Fv3%2Fserver'

Endpoints:
  /metrics     the rules evaluated on the inputs (--web.telemetry-path); the result is reused
               until an input changes (path, size, modification time); URL and exec: inputs
               are fetched on every scrape; HTTP 500 with the message if an input fails
  /-/healthy   200 while the process runs
  /-/ready     200 once the last evaluation succeeded, 503 with the reason otherwise
  /probe       ?target=URL&module=NAME: fetch the target (allowed by --probe.allow-target)
               and evaluate the module (the --rules file of that stem; optional with one)
               on it; 200 with its metrics and xml2prom_probe_success (0 if the fetch or
               the evaluation failed, the reason logged), 400 for a missing target or an
               unknown module, 403 for a target not allowed
  /-/reload    POST: re-read the rule files; 200, or 500 with the diagnostics (the old rules
               of a broken file keep answering)
  /            a page that links to /metrics and lists the loaded rules

With self-metrics on, /metrics also has xml2prom_build_info, xml2prom_config_last_reload_*
and the process_* metrics. SIGHUP re-reads the rule file as POST /-/reload does.

--web.config.file takes the exporter-toolkit format (TLS, client certificates, basic auth with
bcrypt hashes, response headers); basic auth then applies to every path.

Limits: a request head over 32 KiB gets 431, a URI over 8 KiB 414, a declared body over 64 KiB
413. Past --web.max-connections, a new connection closes the oldest one that has no request in
flight.

SIGTERM or SIGINT stops accepting, lets the requests in flight finish, and exits 0.

Log lines go to stderr as logfmt or JSON, with a timestamp:
  time=2026-12-04T02:00:00.123Z level=info msg=\"listening\" address=127.0.0.1:9840 tls=false

Exit codes:
  0  stopped by SIGTERM or SIGINT
  1  the server failed
  2  the rule file, the web configuration or the command line is wrong, or a
     --web.listen-address cannot be used")]
    Serve(ServeArgs),
    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  xml2prom completions bash > ~/.local/share/bash-completion/completions/xml2prom
  xml2prom completions zsh > ~/.zfunc/_xml2prom
  xml2prom completions fish > ~/.config/fish/completions/xml2prom.fish")]
    Completions(CompletionsArgs),
    /// Print a man page (roff).
    #[command(after_help = "\
Examples:
  xml2prom man | man -l -
  xml2prom man run > /usr/local/share/man/man1/xml2prom-run.1")]
    Man(ManArgs),
    /// Print the JSON Schema of rule files, for editors.
    #[command(after_help = "\
Example:
  xml2prom schema > /etc/xml2prom/rules.schema.json

then name it on the first line of a rule file:
  # yaml-language-server: $schema=/etc/xml2prom/rules.schema.json

It is the file schemas/rules.schema.json of the source tree, for the rule file version this
xml2prom reads.")]
    Schema,
}

impl Cli {
    /// The subcommand with its flags checked, or a usage error (exit code 2) for what clap's
    /// derive cannot check alone. `completions` and `man` generate their text here, from the
    /// command line's own definition, and `schema` from the rule file's types.
    pub fn into_command(self) -> Result<commands::Command, clap::Error> {
        Ok(match self.command {
            Command::Run(args) => {
                // Checked by clap: at least one second.
                let every = args.every;
                let log = args.log.config();
                if every.is_none() && args.log.given() {
                    // One run writes its messages plainly, as before; a log format is for the
                    // loop, whose messages a log collector reads.
                    return Err(usage_error(
                        "--log.level and --log.format are for `run --every` and `serve`; add \
                         --every, or remove them",
                    ));
                }
                commands::Command::Run {
                    config: args.into_config()?,
                    every,
                    log,
                }
            }
            Command::Check(args) => commands::Command::Check(args.into_config()?),
            Command::Test(args) => commands::Command::Test(args.into_config()),
            Command::Explain(args) => commands::Command::Explain(args.into_config()?),
            Command::Init(args) => commands::Command::Init(args.into_config()),
            Command::Serve(args) => commands::Command::Serve(args.into_config()?),
            Command::Completions(args) => {
                commands::Command::Completions(completion_script(args.shell))
            }
            Command::Man(args) => {
                commands::Command::Man(man_page(args.subcommand.as_deref()).map_err(ManPageError))
            }
            Command::Schema => commands::Command::Schema(crate::rules::file::json_schema()),
        })
    }
}

/// Flags of `xml2prom explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The YAML rule file.
    #[arg(long, value_name = "FILE")]
    pub rules: PathBuf,

    /// The XML file to read.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,

    /// Show only the rules of this metric.
    #[arg(long, value_name = "NAME")]
    pub metric: Option<String>,

    /// How many nodes to show per rule.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub limit: usize,

    /// How to print: text (coloured on a terminal unless NO_COLOR is set) or JSON.
    #[arg(long, value_enum, default_value_t = crate::commands::explain::Format::Human)]
    pub format: crate::commands::explain::Format,

    /// Refuse an input file larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_DOM_BYTES)]
    pub max_input_bytes: u64,

    /// A template variable, {{ vars.KEY }} in every label template, as `run --var` gives it.
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// How long the input may deliver nothing.
    #[command(flatten)]
    pub read: ReadArgs,
}

impl ExplainArgs {
    /// The checked `explain` configuration; a `--var` given twice keeps its last value. The
    /// input must be a file.
    pub fn into_config(self) -> Result<ExplainConfig, clap::Error> {
        files_only("explain", std::slice::from_ref(&self.input))?;
        Ok(ExplainConfig {
            rules: self.rules,
            vars: self.vars.into_iter().collect(),
            input: self.input,
            metric: self.metric,
            limit: self.limit,
            limits: XmlLimits {
                max_bytes: self.max_input_bytes,
                read_timeout: self.read.read_timeout,
                ..XmlLimits::default()
            },
            format: self.format,
        })
    }
}

/// Refuses `-`, a URL or an `exec:` command as the input of a subcommand that reads sample
/// files (`check`, `explain`), which may read an input more than once.
fn files_only(subcommand: &str, inputs: &[PathBuf]) -> Result<(), clap::Error> {
    match inputs.iter().find(|input| Remote::of(input).is_some()) {
        Some(input) => Err(subcommand_error(
            subcommand,
            &format!(
                "--input {}: {subcommand} reads sample files only; save the document to a                  file first (e.g. `curl -o sample.xml URL`, `CMD > sample.xml`) and give that",
                inputs::name(input)
            ),
        )),
        None => Ok(()),
    }
}

/// The flag of every subcommand that reads inputs: how long an input may deliver nothing.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Give up on an input that is not a regular file (a FIFO, a pipe, a device) that delivers
    /// nothing for this long, before its first byte or between two reads (30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "30s",
          value_parser = parse_read_timeout)]
    pub read_timeout: Duration,
}

/// Flags of `xml2prom test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The test files.
    #[arg(required = true, value_name = "TESTFILES")]
    pub files: Vec<PathBuf>,

    /// Rewrite the golden files (`expect_file`) with the current output instead of comparing.
    #[arg(long)]
    pub update: bool,

    /// How long a fixture may deliver nothing.
    #[command(flatten)]
    pub read: ReadArgs,
}

impl TestArgs {
    /// The checked `test` configuration.
    pub fn into_config(self) -> TestConfig {
        TestConfig {
            files: self.files,
            update: self.update,
            read_timeout: self.read.read_timeout,
        }
    }
}

/// Flags of `xml2prom check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The rule files to check; every file is checked, whatever the others give.
    #[arg(required = true, value_name = "RULES")]
    pub files: Vec<PathBuf>,

    /// How to print the findings.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub strict: bool,

    /// A template variable the rule files use ({{ vars.KEY }}), as `run --var` gives it.
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// A sample input to evaluate the rules on (repeatable): warns about a rule that gives no
    /// sample, a label that is empty in every series, and values that are NaN.
    #[arg(long = "input", value_name = "SAMPLE")]
    pub inputs: Vec<PathBuf>,
}

impl CheckArgs {
    /// The checked `check` configuration; a `--var` given twice keeps its last value. The
    /// sample inputs must be files.
    pub fn into_config(self) -> Result<CheckConfig, clap::Error> {
        files_only("check", &self.inputs)?;
        Ok(CheckConfig {
            files: self.files,
            vars: self.vars.into_iter().collect(),
            format: self.format,
            strict: self.strict,
            inputs: self.inputs,
            max_dom_bytes: DEFAULT_MAX_DOM_BYTES,
        })
    }
}

/// Arguments of `xml2prom init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The sample XML stores to draft the rules from: several samples of one tool (the same
    /// root element) are merged into one draft.
    #[arg(value_name = "SAMPLE", required = true, num_args = 1..)]
    pub samples: Vec<PathBuf>,

    /// Start every metric name with this [default: the root element's name].
    #[arg(long, value_name = "PREFIX", value_parser = MetricPrefix::parse)]
    pub prefix: Option<MetricPrefix>,

    /// Write the draft to this file instead of standard output (- for standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace the --output file if it exists.
    #[arg(long, short = 'f')]
    pub force: bool,

    /// Refuse a sample larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_INPUT_BYTES)]
    pub max_input_bytes: u64,
}

impl InitArgs {
    /// The checked `init` configuration; the sample gets the limits of `run`'s inputs.
    pub fn into_config(self) -> InitConfig {
        InitConfig {
            samples: self.samples,
            prefix: self.prefix,
            output: self
                .output
                .as_deref()
                .map_or(Destination::Stdout, Destination::from_arg),
            force: self.force,
            limits: XmlLimits {
                max_bytes: self.max_input_bytes,
                ..XmlLimits::default()
            },
        }
    }
}

/// Arguments of `xml2prom completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `xml2prom man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand, for its own page (xml2prom-run(1), ...); none for xml2prom(1).
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
}

/// A shell completion script for the whole command line.
pub fn completion_script(shell: clap_complete::Shell) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "xml2prom", &mut script);
    String::from_utf8_lossy(&script).into_owned()
}

/// A man page in roff: xml2prom(1), or xml2prom-SUBCOMMAND(1). `Err` names the subcommands
/// when `subcommand` is not one of them.
pub fn man_page(subcommand: Option<&str>) -> Result<String, String> {
    let mut command = Cli::command().disable_help_subcommand(true);
    // Building gives each subcommand its display name, `xml2prom-run`, the title of its page.
    command.build();
    let page = match subcommand {
        None => command,
        Some(name) => {
            let found = command
                .get_subcommands()
                .find(|c| c.get_name() == name)
                .cloned();
            found.ok_or_else(|| {
                let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
                format!(
                    "there is no subcommand `{name}`; man pages exist for: {}",
                    names.join(", ")
                )
            })?
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .source(format!("xml2prom {VERSION}"))
        .render(&mut roff)
        .map_err(|error| format!("cannot render the man page: {error}"))?;
    Ok(String::from_utf8_lossy(&roff).into_owned())
}

/// Flags of `xml2prom run`.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("destination")
        .required(true)
        .multiple(true)
        .args(["output", "output_dir", "push"])
))]
pub struct RunArgs {
    /// The YAML rule file.
    #[arg(long, value_name = "FILE")]
    pub rules: PathBuf,

    /// An XML file, a quoted glob pattern such as 'stores/*.xml', - for standard input, an
    /// http:// or https:// URL, or 'exec:CMD ARGS' for a command's output; repeat for several.
    #[arg(long, value_name = "FILE|GLOB|-|URL|exec:CMD", required = true)]
    pub input: Vec<PathBuf>,

    /// The .prom file to write atomically with the samples of every input (an existing device,
    /// FIFO or socket is written in place), or - for standard output.
    #[arg(
        long,
        short = 'o',
        value_name = "FILE|-",
        conflicts_with = "output_dir"
    )]
    pub output: Option<PathBuf>,

    /// Write one .prom file per input into this directory, named after the input
    /// (stores/a.xml -> DIR/a.prom); a broken input keeps its previous file.
    #[arg(long, value_name = "DIR", conflicts_with = "push")]
    pub output_dir: Option<PathBuf>,

    /// Run again every DURATION (1s at least) until SIGTERM or SIGINT, which end it after the
    /// run in progress; SIGHUP re-reads the rule file (a broken one keeps the old rules).
    #[arg(long, value_name = "DURATION", value_parser = parse_period)]
    pub every: Option<Duration>,

    /// Also PUT the exposition to this Pushgateway (http://host:9091) after each evaluation;
    /// with no --output, only push.
    #[arg(long, value_name = "URL", requires = "job")]
    pub push: Option<String>,

    /// The job label of the pushed group (with --push).
    #[arg(long, value_name = "NAME", requires = "push")]
    pub job: Option<String>,

    /// Another label of the pushed group's key (with --push); repeat for several.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_grouping, requires = "push")]
    pub grouping: Vec<(LabelName, String)>,

    /// The longest a push may take, connecting included (with --push).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration,
          requires = "push")]
    pub push_timeout: Duration,

    /// Trust only the CA certificates of this PEM file for an https:// --push (without it: the
    /// system's certificate store, as SSL_CERT_FILE and SSL_CERT_DIR name it when set).
    #[arg(long, value_name = "FILE", requires = "push")]
    pub push_ca_file: Option<PathBuf>,

    /// How long to wait while another run writes the same output (30s, 2m, 1h30m); then fail.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub lock_timeout: Duration,

    /// Also write the run's status to this .prom file on every run, failed or not: time and
    /// duration, success per input, failures per stage (for alerting).
    #[arg(long, value_name = "FILE.prom")]
    pub status_file: Option<PathBuf>,

    /// What every evaluation takes: variables, labels, limits, engine.
    #[command(flatten)]
    pub evaluation: EvaluationArgs,

    /// How the loop logs (with --every).
    #[command(flatten)]
    pub log: LogArgs,
}

/// `--log.level` and `--log.format`, for the commands that keep running: `serve`, `run --every`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only log messages at this level or above [default: info].
    #[arg(long = "log.level", value_name = "LEVEL", value_enum)]
    pub level: Option<Level>,

    /// Write each log line as logfmt (key=value) or as a JSON object [default: logfmt].
    #[arg(long = "log.format", value_name = "FORMAT", value_enum)]
    pub format: Option<LogFormat>,
}

impl LogArgs {
    fn config(&self) -> LogConfig {
        LogConfig {
            level: self.level.unwrap_or_default(),
            format: self.format.unwrap_or_default(),
        }
    }

    fn given(&self) -> bool {
        self.level.is_some() || self.format.is_some()
    }
}

/// The flags `run` and `serve` share: how the rules are evaluated.
#[derive(Debug, Args)]
pub struct EvaluationArgs {
    /// A template variable, {{ vars.KEY }} in every label template; repeat for several.
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// A label added to every sample of the rule file's metrics; repeat for several.
    #[arg(long = "label", value_name = "NAME=VALUE", value_parser = parse_label)]
    pub labels: Vec<(LabelName, String)>,

    /// Leave out xml2prom's own metrics (xml2prom_*: duration, series per rule, size and
    /// modification time of each input, ...).
    #[arg(long)]
    pub no_self_metrics: bool,

    /// Refuse an input file larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_INPUT_BYTES)]
    pub max_input_bytes: u64,

    /// Refuse to load an input larger than this into the DOM engine (it needs about 5 times
    /// the file size in memory); streamable rules are held to it only for the subtree of a
    /// selected element they buffer, when a query reads below it.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_DOM_BYTES)]
    pub max_dom_bytes: u64,

    /// Which engine evaluates the rules: auto streams every streamable rule, dom forces the
    /// DOM engine (the reference semantics) for all.
    #[arg(long, value_enum, default_value_t = Engine::Auto)]
    pub engine: Engine,

    /// How long an input may deliver nothing.
    #[command(flatten)]
    pub read: ReadArgs,

    /// The longest fetching a URL input or running an exec: input may take, all of it; a
    /// command still running then is killed.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_read_timeout)]
    pub input_timeout: Duration,

    /// The longest connecting to the server of a URL input may take.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_read_timeout)]
    pub input_connect_timeout: Duration,

    /// A YAML file in the shape of Prometheus's http_config (basic_auth, authorization,
    /// bearer_token_file, headers, tls_config) for URL inputs; secrets are read from files.
    #[arg(long, value_name = "FILE")]
    pub input_http_config: Option<PathBuf>,

    /// Print to stderr which engine runs each rule, and why a rule cannot stream.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// [`EvaluationArgs`], checked.
struct Evaluation {
    vars: BTreeMap<String, String>,
    labels: Vec<(LabelName, String)>,
    limits: XmlLimits,
    engine: Engine,
    max_dom_bytes: u64,
    verbose: bool,
    self_metrics: bool,
    fetch: FetchOptions,
}

impl EvaluationArgs {
    /// Checks what clap's derive cannot: a `--var` or `--label` given twice.
    fn checked(self, error: impl Fn(&str) -> clap::Error) -> Result<Evaluation, clap::Error> {
        let mut vars = BTreeMap::new();
        for (key, value) in self.vars {
            if vars.contains_key(&key) {
                return Err(error(&format!(
                    "--var {key} is given twice; give each key once"
                )));
            }
            vars.insert(key, value);
        }
        for (i, (label, _)) in self.labels.iter().enumerate() {
            if self.labels[..i].iter().any(|(other, _)| other == label) {
                return Err(error(&format!(
                    "--label {label} is given twice; give each label once"
                )));
            }
        }
        let http = match &self.input_http_config {
            Some(path) => HttpConfig::load(path).map_err(|e| error(&e.to_string()))?,
            None => HttpConfig::default(),
        };
        Ok(Evaluation {
            fetch: FetchOptions {
                http: std::sync::Arc::new(http),
                timeout: self.input_timeout,
                connect_timeout: self.input_connect_timeout,
            },
            vars,
            labels: self.labels,
            limits: XmlLimits {
                max_bytes: self.max_input_bytes,
                read_timeout: self.read.read_timeout,
                ..XmlLimits::default()
            },
            engine: self.engine,
            max_dom_bytes: self.max_dom_bytes,
            verbose: self.verbose,
            self_metrics: !self.no_self_metrics,
        })
    }
}

/// Flags of `xml2prom serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A YAML rule file, loaded at start and again on SIGHUP or POST /-/reload; repeat for
    /// several /probe modules, each named by its file stem (the first also serves /metrics).
    #[arg(long, value_name = "FILE", required = true)]
    pub rules: Vec<PathBuf>,

    /// An XML file, a quoted glob pattern such as 'stores/*.xml' (expanded on every scrape), an
    /// http:// or https:// URL, or 'exec:CMD ARGS' (both fetched on every scrape); repeat for
    /// several. Optional with --probe.allow-target.
    #[arg(long, value_name = "FILE|GLOB|URL|exec:CMD")]
    pub input: Vec<PathBuf>,

    /// A regular expression that must match the whole URL of a target /probe may fetch (and
    /// of every redirect it follows); repeat for several. Without one, /probe answers 403.
    #[arg(long = "probe.allow-target", value_name = "REGEX",
          value_parser = crate::commands::serve::probe::AllowedTarget::parse)]
    pub probe_allow_target: Vec<crate::commands::serve::probe::AllowedTarget>,

    /// An address and port to listen on, `:PORT` for every interface; repeat for several.
    #[arg(
        long = "web.listen-address",
        visible_alias = "listen",
        value_name = "ADDRESS:PORT",
        default_value = DEFAULT_LISTEN,
        value_parser = crate::commands::serve::http::ListenAddress::parse
    )]
    pub listen: Vec<crate::commands::serve::http::ListenAddress>,

    /// The path of the metrics.
    #[arg(
        long = "web.telemetry-path",
        value_name = "PATH",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,

    /// A web configuration file (exporter-toolkit format): TLS, basic auth, headers.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config: Option<PathBuf>,

    /// The most connections open at once; past it, the oldest idle one is closed.
    #[arg(
        long = "web.max-connections",
        value_name = "N",
        default_value_t = crate::commands::serve::http::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_connections: u32,

    /// How long a client may take to send a request's headers.
    #[arg(long = "web.read-header-timeout", value_name = "DURATION", default_value = "10s",
          value_parser = parse_read_timeout)]
    pub read_header_timeout: Duration,

    /// How long a kept-alive connection may stay open with no request.
    #[arg(long = "web.idle-timeout", value_name = "DURATION", default_value = "90s",
          value_parser = parse_read_timeout)]
    pub idle_timeout: Duration,

    /// What every evaluation takes: variables, labels, limits, engine.
    #[command(flatten)]
    pub evaluation: EvaluationArgs,

    /// How the exporter logs.
    #[command(flatten)]
    pub log: LogArgs,
}

/// Default `serve --listen`: loopback only, so that exposing the metrics is a choice.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9840";

impl ServeArgs {
    /// The checked `serve` configuration, or a usage error (exit code 2): glob pattern syntax,
    /// a `--var` or `--label` given twice.
    pub fn into_config(self) -> Result<crate::commands::serve::ServeConfig, clap::Error> {
        let error = |message: &str| subcommand_error("serve", message);
        for input in &self.input {
            inputs::check_pattern(input).map_err(|message| error(&message))?;
            if Remote::of(input) == Some(Remote::Stdin) {
                return Err(error(
                    "--input - (standard input) cannot be read again on every scrape; give \
                     serve a file, a URL or an exec: command, or use `run` for standard input",
                ));
            }
        }
        if self.input.is_empty() && self.probe_allow_target.is_empty() {
            return Err(error(
                "give --input (what /metrics evaluates), --probe.allow-target (the targets \
                 /probe may fetch), or both",
            ));
        }
        if self.rules.len() > 1 && self.probe_allow_target.is_empty() {
            return Err(error(
                "several --rules are /probe modules, and /probe is off without \
                 --probe.allow-target; add it, or give one --rules",
            ));
        }
        for (i, path) in self.rules.iter().enumerate() {
            let name = crate::commands::serve::module_name(path);
            if let Some(other) = self.rules[..i]
                .iter()
                .find(|other| crate::commands::serve::module_name(other) == name)
            {
                return Err(error(&format!(
                    "--rules {} and --rules {} are both the module `{name}`; a module is named \
                     by its file stem, so rename one of them",
                    other.display(),
                    path.display()
                )));
            }
        }
        let evaluation = self.evaluation.checked(error)?;
        let path = &self.telemetry_path;
        if !path.starts_with('/') || matches!(path.as_str(), "/" | "/-/healthy" | "/-/ready") {
            return Err(error(&format!(
                "--web.telemetry-path `{path}` must start with `/` and not be /, /-/healthy \
                 or /-/ready"
            )));
        }
        Ok(crate::commands::serve::ServeConfig {
            rules: self.rules,
            inputs: self.input,
            probe_allow: crate::commands::serve::probe::AllowList::new(self.probe_allow_target),
            listen: self.listen,
            telemetry_path: self.telemetry_path,
            web_config: self.web_config,
            http: crate::commands::serve::http::Limits {
                max_connections: self.max_connections as usize,
                read_header_timeout: self.read_header_timeout,
                idle_timeout: self.idle_timeout,
            },
            limits: evaluation.limits,
            engine: evaluation.engine,
            max_dom_bytes: evaluation.max_dom_bytes,
            verbose: evaluation.verbose,
            self_metrics: evaluation.self_metrics,
            vars: evaluation.vars,
            labels: evaluation.labels,
            fetch: evaluation.fetch,
            log: self.log.config(),
        })
    }
}

/// A usage error of one subcommand, rendered by clap like its own (`error: ...`, usage, exit 2).
fn subcommand_error(name: &str, message: &str) -> clap::Error {
    let mut command = Cli::command();
    command.build();
    match command.find_subcommand_mut(name) {
        Some(subcommand) => subcommand.error(clap::error::ErrorKind::ValueValidation, message),
        None => Cli::command().error(clap::error::ErrorKind::ValueValidation, message),
    }
}

/// Default `--max-input-bytes`: 16 GiB, far above any store, but finite so that a file that
/// never ends (a FIFO, a device) cannot keep a run going forever.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 16 << 30;

/// Default `--max-dom-bytes`: 256 MiB, about 1.3 GiB of memory in the DOM engine.
pub const DEFAULT_MAX_DOM_BYTES: u64 = 256 << 20;

impl RunArgs {
    /// The checked run configuration, or a usage error (exit code 2) for what clap's derive
    /// cannot check alone: the syntax of glob patterns.
    pub fn into_config(self) -> Result<RunConfig, clap::Error> {
        for input in &self.input {
            inputs::check_pattern(input).map_err(|message| usage_error(&message))?;
        }
        let stdin = self
            .input
            .iter()
            .filter(|input| Remote::of(input) == Some(Remote::Stdin))
            .count();
        if stdin > 1 {
            return Err(usage_error(
                "--input - (standard input) is given twice; it can be read only once",
            ));
        }
        if stdin > 0 && self.every.is_some() {
            return Err(usage_error(
                "--input - (standard input) cannot be read again on every run of --every; \
                 give a file, a URL or an exec: command, or run xml2prom once per document",
            ));
        }
        let evaluation = self.evaluation.checked(usage_error)?;
        let push = match (self.push, self.job) {
            (Some(url), Some(job)) => {
                let target = PushTarget::new(&url, &job, self.grouping, self.push_timeout)
                    .map_err(|message| usage_error(&message))?;
                match &self.push_ca_file {
                    Some(_) if !url.starts_with("https://") => {
                        return Err(usage_error(
                            "--push-ca-file is for an https:// --push; remove it, or push over \
                             https://",
                        ));
                    }
                    Some(file) => Some(
                        target
                            .with_ca_file(file)
                            .map_err(|message| usage_error(&message))?,
                    ),
                    None => Some(target),
                }
            }
            _ => None,
        };
        let output = match (self.output, self.output_dir, &push) {
            (_, Some(dir), _) => Outputs::PerInput(dir),
            (Some(file), None, _) => Outputs::One(Destination::from_arg(&file)),
            (None, None, Some(_)) => Outputs::PushOnly,
            // The `destination` group requires one of them.
            (None, None, None) => {
                return Err(usage_error("give --output, --output-dir or --push"));
            }
        };
        Ok(RunConfig {
            rules: self.rules,
            inputs: self.input,
            fetch: evaluation.fetch,
            output,
            limits: evaluation.limits,
            engine: evaluation.engine,
            max_dom_bytes: evaluation.max_dom_bytes,
            verbose: evaluation.verbose,
            lock_timeout: self.lock_timeout,
            self_metrics: evaluation.self_metrics,
            status_file: self.status_file,
            vars: evaluation.vars,
            labels: evaluation.labels,
            push,
        })
    }
}

/// A duration such as `30s`, `2m`, `1h30m` or `1h 30m` (see [`duration::parse`]).
fn parse_duration(text: &str) -> Result<Duration, String> {
    duration::parse(text)
}

/// `--read-timeout`: a duration longer than zero.
fn parse_read_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if timeout.is_zero() {
        return Err("the read timeout must be longer than zero; write e.g. `30s`".to_owned());
    }
    Ok(timeout)
}

/// `--every`: a duration of at least [`MIN_PERIOD`].
fn parse_period(text: &str) -> Result<Duration, String> {
    let period = parse_duration(text)?;
    if period < MIN_PERIOD {
        return Err(format!(
            "{} is shorter than {}, the shortest period; give `--every 1s` or more",
            Friendly(period),
            Friendly(MIN_PERIOD)
        ));
    }
    Ok(period)
}

/// `--grouping NAME=VALUE`: a label name Prometheus accepts; the value may be empty.
fn parse_grouping(text: &str) -> Result<(LabelName, String), String> {
    let (name, value) = split_pair(text, "NAME=VALUE", "--grouping instance=store-1")?;
    Ok((LabelName::parse(name)?, value.to_owned()))
}

/// `KEY=VALUE`, split at the first `=`.
fn split_pair<'a>(text: &'a str, what: &str, example: &str) -> Result<(&'a str, &'a str), String> {
    text.split_once('=')
        .ok_or_else(|| format!("`{text}` has no `=`; write {what}, e.g. `{example}`"))
}

/// `--var KEY=VALUE`: the key must be usable as `{{ vars.KEY }}`.
fn parse_var(text: &str) -> Result<(String, String), String> {
    let (key, value) = split_pair(text, "KEY=VALUE", "--var site=paris")?;
    let mut chars = key.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`{key}` is not a valid variable name: use letters, digits and `_`, not starting \
             with a digit, so that templates can write {{{{ vars.{key} }}}}"
        ));
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// `--label NAME=VALUE`: a label name Prometheus accepts, and a value that is not empty.
fn parse_label(text: &str) -> Result<(LabelName, String), String> {
    let (name, value) = split_pair(text, "NAME=VALUE", "--label site=paris")?;
    let name = LabelName::parse(name)?;
    if value.is_empty() {
        return Err(format!(
            "the label `{name}` has an empty value, which Prometheus treats as no label at all; \
             give a value"
        ));
    }
    Ok((name, value.to_owned()))
}

/// A usage error of `xml2prom run`, rendered by clap like its own (`error: ...`, usage, exit 2).
fn usage_error(message: &str) -> clap::Error {
    subcommand_error("run", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_flags_parse() {
        let cli = Cli::try_parse_from([
            "xml2prom", "run", "--rules", "r.yaml", "--input", "a.xml", "--input", "b.xml", "-o",
            "-",
        ])
        .expect("valid command line");
        let Command::Run(args) = cli.command else {
            panic!("parsed as run");
        };
        let config = args.into_config().expect("valid configuration");
        assert_eq!(config.inputs.len(), 2);
        assert_eq!(config.output, Outputs::One(Destination::Stdout));
    }

    fn command(args: &[&str]) -> Result<commands::Command, clap::Error> {
        Cli::try_parse_from(std::iter::once(&"xml2prom").chain(args))
            .expect("valid command line")
            .into_command()
    }

    #[test]
    fn each_subcommand_becomes_its_checked_command() {
        let run = ["run", "--rules", "r.yaml", "--input", "a.xml", "-o", "-"];
        let Ok(commands::Command::Run { config, every, .. }) = command(&run) else {
            panic!("run");
        };
        assert_eq!(
            (config.output, every),
            (Outputs::One(Destination::Stdout), None)
        );
        let every = [&run[..], &["--every", "5s"]].concat();
        let Ok(commands::Command::Run { every, .. }) = command(&every) else {
            panic!("run --every");
        };
        assert_eq!(every, Some(Duration::from_secs(5)));
        let bad_glob = ["run", "--rules", "r.yaml", "--input", "[a.xml", "-o", "-"];
        let err = command(&bad_glob).err().expect("a usage error");
        assert_eq!(err.exit_code(), 2);

        let check = [
            "check", "--var", "k=1", "--var", "k=2", "--strict", "a.yaml",
        ];
        let Ok(commands::Command::Check(config)) = command(&check) else {
            panic!("check");
        };
        assert_eq!(config.files, [PathBuf::from("a.yaml")]);
        assert_eq!(config.vars.get("k").map(String::as_str), Some("2"));
        assert!(config.strict);

        let test = ["test", "--update", "--read-timeout", "2s", "a.test.yaml"];
        let Ok(commands::Command::Test(config)) = command(&test) else {
            panic!("test");
        };
        assert!(config.update);
        assert_eq!(config.read_timeout, Duration::from_secs(2));

        let explain = [
            "explain", "--rules", "r.yaml", "--input", "a.xml", "--limit", "3",
        ];
        let Ok(commands::Command::Explain(config)) = command(&explain) else {
            panic!("explain");
        };
        assert_eq!(
            (config.limit, config.limits.max_bytes),
            (3, DEFAULT_MAX_DOM_BYTES)
        );
        assert_eq!(config.limits.read_timeout, Duration::from_secs(30));

        let Ok(commands::Command::Man(Err(error))) = command(&["man", "frobnicate"]) else {
            panic!("man");
        };
        assert!(
            error.0.contains("there is no subcommand `frobnicate`"),
            "{error}"
        );
    }

    fn parse(args: &[&str]) -> Result<RunConfig, clap::Error> {
        let cli = Cli::try_parse_from(["xml2prom", "run", "--rules", "r.yaml"].iter().chain(args))?;
        let Command::Run(args) = cli.command else {
            panic!("parsed as run");
        };
        args.into_config()
    }

    #[test]
    fn output_and_output_dir_exclude_each_other_and_one_is_required() {
        let config = parse(&["--input", "a.xml", "--output-dir", "out"]).expect("valid");
        assert_eq!(config.output, Outputs::PerInput(PathBuf::from("out")));
        let err =
            parse(&["--input", "a.xml", "--output-dir", "out", "-o", "-"]).expect_err("both given");
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        let err = parse(&["--input", "a.xml"]).expect_err("neither given");
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn lock_timeout_takes_human_durations() {
        let config = parse(&["--input", "a", "-o", "-"]).expect("default");
        assert_eq!(config.lock_timeout, Duration::from_secs(60));
        let config = parse(&["--input", "a", "-o", "-", "--lock-timeout", "1m 30s"]).expect("ok");
        assert_eq!(config.lock_timeout, Duration::from_secs(90));
        let err = parse(&["--input", "a", "-o", "-", "--lock-timeout", "30"]).expect_err("no unit");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("such as `30s`"), "{err}");
    }

    #[test]
    fn vars_and_labels_are_checked_pairs() {
        let config = parse(&[
            "--input",
            "a",
            "-o",
            "-",
            "--var",
            "site=paris=1",
            "--var",
            "empty=",
            "--label",
            "team=ops",
        ])
        .expect("valid");
        assert_eq!(config.vars["site"], "paris=1");
        assert_eq!(config.vars["empty"], "");
        assert_eq!(config.labels[0].0.as_str(), "team");
        assert_eq!(config.labels[0].1, "ops");
        for (args, expected) in [
            (
                ["--var", "site"],
                "`site` has no `=`; write KEY=VALUE, e.g. `--var site=paris`",
            ),
            (["--var", "1x=a"], "`1x` is not a valid variable name"),
            (
                ["--var", "a-b=c"],
                "so that templates can write {{ vars.a-b }}",
            ),
            (
                ["--label", "__x=a"],
                "names starting with `__` are reserved",
            ),
            (["--label", "a.b=c"], "`a.b` is not a valid label name"),
            (["--label", "team="], "the label `team` has an empty value"),
        ] {
            let mut all = vec!["--input", "a", "-o", "-"];
            all.extend(args);
            let err = parse(&all).expect_err("invalid");
            assert_eq!(err.exit_code(), 2);
            let message = err.to_string();
            assert!(message.contains(expected), "{args:?}: {message}");
        }
    }

    #[test]
    fn a_key_given_twice_is_refused() {
        let err =
            parse(&["--input", "a", "-o", "-", "--var", "a=1", "--var", "a=2"]).expect_err("twice");
        assert!(err.to_string().contains("--var a is given twice"), "{err}");
        let err = parse(&[
            "--input", "a", "-o", "-", "--label", "a=1", "--label", "a=1",
        ])
        .expect_err("twice");
        assert!(
            err.to_string().contains("--label a is given twice"),
            "{err}"
        );
    }

    #[test]
    fn check_and_explain_take_sample_files_only() {
        for args in [
            &["check", "r.yaml", "--input", "-"][..],
            &[
                "explain",
                "--rules",
                "r.yaml",
                "--input",
                "http://h/x?token=secret",
            ][..],
        ] {
            let Err(err) = command(args) else {
                panic!("{args:?} accepted");
            };
            let err = err.to_string();
            assert!(err.contains("reads sample files only"), "{err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn a_bad_glob_pattern_is_a_usage_error() {
        let err = parse(&["--input", "stores/[a.xml", "-o", "-"]).expect_err("bad pattern");
        assert_eq!(err.exit_code(), 2);
        let message = err.to_string();
        assert!(message.contains("not a valid glob pattern"), "{message}");
        assert!(message.contains("xml2prom run"), "{message}");
    }

    #[test]
    fn check_takes_several_files_and_a_format() {
        let cli = Cli::try_parse_from([
            "xml2prom", "check", "a.yaml", "b.yaml", "--format", "json", "--strict",
        ])
        .expect("valid command line");
        let Command::Check(args) = cli.command else {
            panic!("parsed as check");
        };
        assert_eq!(args.files.len(), 2);
        assert_eq!(args.format, Format::Json);
        assert!(args.strict);
    }

    #[test]
    fn version_names_the_rule_file_version() {
        let expected = format!(
            "{} (rule file version {})",
            env!("CARGO_PKG_VERSION"),
            crate::rules::file::SUPPORTED_VERSION
        );
        assert_eq!(VERSION, expected);
        assert_eq!(
            Cli::command().render_version(),
            format!("xml2prom {expected}\n")
        );
    }

    #[test]
    fn init_flags_parse() {
        let cli = Cli::try_parse_from([
            "xml2prom",
            "init",
            "store.xml",
            "--prefix",
            "shop_",
            "-o",
            "rules.yaml",
            "--force",
        ])
        .expect("valid command line");
        let Command::Init(args) = cli.command else {
            panic!("parsed as another subcommand");
        };
        let config = args.into_config();
        assert_eq!(
            config.prefix.map(|p| p.to_string()),
            Some("shop".to_owned())
        );
        assert_eq!(
            config.output,
            Destination::File(PathBuf::from("rules.yaml"))
        );
        assert!(config.force);
        let cli = Cli::try_parse_from(["xml2prom", "init", "store.xml"]).expect("valid");
        let Command::Init(args) = cli.command else {
            panic!("parsed as another subcommand");
        };
        assert_eq!(args.into_config().output, Destination::Stdout);
    }

    #[test]
    fn a_bad_prefix_is_a_usage_error() {
        for prefix in ["1x", "__x", "xml2prom", "xml2prom_x", "a-b", ""] {
            let err = Cli::try_parse_from(["xml2prom", "init", "s.xml", "--prefix", prefix])
                .expect_err(prefix);
            assert_eq!(err.exit_code(), 2, "{prefix}");
        }
    }

    #[test]
    fn bash_completions_know_the_subcommands() {
        let script = completion_script(clap_complete::Shell::Bash);
        for word in [
            "xml2prom",
            "run",
            "init",
            "completions",
            "man",
            "--rules",
            "--prefix",
        ] {
            assert!(
                script.contains(word),
                "{word} missing from the bash completions"
            );
        }
        for shell in [
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::Elvish,
            clap_complete::Shell::PowerShell,
        ] {
            assert!(completion_script(shell).contains("init"), "{shell}");
        }
    }

    #[test]
    fn man_pages_have_a_name_section() {
        let page = man_page(None).expect("main page");
        assert!(page.contains(".SH NAME"), "{page}");
        assert!(page.contains("xml2prom\\-init(1)"), "{page}");
        let page = man_page(Some("init")).expect("init page");
        assert!(page.contains(".TH xml2prom-init 1"), "{page}");
        assert!(
            page.contains(".SH NAME\nxml2prom\\-init \\- Draft"),
            "{page}"
        );
        assert!(page.contains("(rule file version 1)"), "{page}");
        assert!(page.contains("\\-\\-prefix"), "{page}");
        let err = man_page(Some("frobnicate")).expect_err("no such subcommand");
        assert!(err.contains("run, check, test, explain, init"), "{err}");
    }

    fn parse_serve(args: &[&str]) -> Result<crate::commands::serve::ServeConfig, clap::Error> {
        let cli = Cli::try_parse_from(
            ["xml2prom", "serve", "--rules", "r.yaml"]
                .iter()
                .chain(args),
        )?;
        let Command::Serve(args) = cli.command else {
            panic!("parsed as serve");
        };
        args.into_config()
    }

    #[test]
    fn serve_flags_parse_with_a_loopback_default() {
        use crate::commands::serve::http::ListenAddress;
        let config = parse_serve(&["--input", "a.xml", "--no-self-metrics"]).expect("valid");
        assert_eq!(
            config.listen,
            [ListenAddress::Addresses(
                DEFAULT_LISTEN.to_owned(),
                vec![DEFAULT_LISTEN.parse().expect("an address")]
            )]
        );
        assert!(!config.self_metrics);
        assert_eq!(config.telemetry_path, "/metrics");
        let config = parse_serve(&[
            "--input",
            "a",
            "--listen",
            "[::]:0",
            "--web.listen-address",
            ":9841",
            "--web.telemetry-path",
            "/x/metrics",
        ])
        .expect("valid");
        assert_eq!(config.listen.len(), 2);
        assert_eq!(config.listen[1], ListenAddress::AllInterfaces(9841));
        assert_eq!(config.telemetry_path, "/x/metrics");
        for (args, expected) in [
            (
                &["--input", "a", "--listen", "localhost"][..],
                "is not an address and port",
            ),
            (
                &["--input", "a", "--web.telemetry-path", "/-/ready"][..],
                "must start with `/`",
            ),
            (
                &["--input", "a", "--web.max-connections", "0"][..],
                "--web.max-connections",
            ),
            (&["--input", "[a"][..], "not a valid glob pattern"),
            (
                &["--input", "a", "--var", "k=1", "--var", "k=2"][..],
                "--var k is given twice",
            ),
            (
                &["--input", "a", "--label", "l=1", "--label", "l=2"][..],
                "--label l is given twice",
            ),
            (&["--listen", "127.0.0.1:1"][..], "--input"),
        ] {
            let err = parse_serve(args).expect_err("invalid");
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains(expected), "{args:?}: {err}");
        }
        let err = parse_serve(&["--input", "[a"]).expect_err("bad pattern");
        assert!(err.to_string().contains("xml2prom serve"), "{err}");
    }

    #[test]
    fn log_flags_parse_for_serve_and_run_every_only() {
        let config = parse_serve(&[
            "--input",
            "a.xml",
            "--log.level",
            "debug",
            "--log.format",
            "json",
        ])
        .expect("valid");
        assert_eq!(
            config.log,
            LogConfig {
                level: Level::Debug,
                format: LogFormat::Json
            }
        );
        let serve_default = parse_serve(&["--input", "a.xml"]).expect("valid");
        assert_eq!(serve_default.log, LogConfig::default());
        assert!(
            parse_serve(&[
                "--rules",
                "r.yaml",
                "--input",
                "a.xml",
                "--log.level",
                "loud"
            ])
            .is_err()
        );
        let run = ["run", "--rules", "r.yaml", "--input", "a.xml", "-o", "-"];
        let every = [&run[..], &["--every", "5s", "--log.level", "warn"]].concat();
        let Ok(commands::Command::Run { log, .. }) = command(&every) else {
            panic!("run --every with --log.level");
        };
        assert_eq!(log.level, Level::Warn);
        let once = [&run[..], &["--log.format", "json"]].concat();
        let error = command(&once).err().expect("a usage error");
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("add --every"), "{error}");
    }

    #[test]
    fn input_is_required() {
        let err = Cli::try_parse_from(["xml2prom", "run", "--rules", "r.yaml", "-o", "-"])
            .expect_err("no input");
        assert_eq!(err.exit_code(), 2);
    }
}
