//! Serve: the `serve` subcommand, an exporter that evaluates the rules when Prometheus scrapes.
//!
//! At start: rule file -> compiled rules (a broken file fails here, exit 2, with the diagnostics
//! of `run`) -> the listening socket -> a first evaluation in the background, so that `/-/ready`
//! turns 200 without waiting for a scrape. On each `GET /metrics`: `--input` patterns expanded
//! ([`inputs::expand`]) -> a [`Stamp`] of each input (size, modification time, inode) -> the
//! last exposition if no stamp changed ([`Cache`]), else one evaluation through
//! [`run::produce`], the same code as `run`, shared by every scrape that arrives while it runs ->
//! the body, gzip-compressed when the client accepts it. A failed evaluation gives HTTP 500 with
//! every error as text, never a partial body, and is not cached: the next scrape tries again.
//!
//! The HTTP side ([`http`]) is hyper on a small tokio runtime, with TLS and basic auth from the
//! exporter-toolkit web configuration ([`web_config`]) and limits on connections, time and
//! sizes; it calls [`Exporter::route`], which knows nothing of sockets. The compiled rules stay
//! on the main thread ([`Evaluator::run_while`]). SIGTERM and SIGINT set a flag (`signal-hook`); within
//! [`POLL_INTERVAL`] the server stops accepting and requests in flight get [`GRACE`] to finish;
//! a second signal ends the process at once.
//!
//! `GET /probe?target=URL&module=NAME` ([`probe`]) fetches one target on the HTTP side and
//! evaluates one module (a `--rules` file, named by its stem) on it as a [`Job::Probe`];
//! `/metrics` evaluates the first `--rules` file on the `--input`s, if there are any.
//!
//! SIGHUP and `POST /-/reload` reload every rule file as a [`Job`] on the evaluator's thread,
//! between two evaluations: a good file replaces the rules, a broken one keeps them, and
//! either way the cache starts over (each [`Key`] holds the [`LoadedRules`] generation), so
//! that no body made before a reload is served after it. With self-metrics, the body also
//! holds the reload status, `xml2prom_build_info`, and the `process_*` metrics
//! ([`exporter_metrics`]), which are read at each scrape rather than cached. Messages are log
//! lines ([`log`]).

pub mod http;
pub mod probe;
pub mod web_config;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::commands::log::{self, LogConfig};
use crate::commands::run::{self, RunError};
use crate::commands::{Report, fail};
use crate::commands::{exporter_metrics, inputs};
use crate::engine::{self, Engine, EngineConfig};
use crate::exposition;
use crate::model::names::{LabelName, MetricName};
use crate::model::sample::{Families, LabelSet, MetricType, Origin, Sample, SampleValue};
use crate::rules;
use crate::rules::compile::CompiledRules;
use crate::xml::XmlLimits;

/// Everything `serve` needs, checked.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The rule files (`--rules`, repeatable): the first one is evaluated for `/metrics`, and
    /// each is a `/probe` module named by its file stem (distinct, checked by the caller).
    pub rules: Vec<PathBuf>,
    /// The `--input` arguments: paths and glob patterns, expanded on every evaluation; none
    /// when `serve` only probes.
    pub inputs: Vec<PathBuf>,
    /// The targets `/probe` may fetch (`--probe.allow-target`); empty turns `/probe` off.
    pub probe_allow: probe::AllowList,
    /// Where to listen (`--web.listen-address`, repeatable).
    pub listen: Vec<http::ListenAddress>,
    /// The path of the metrics (`--web.telemetry-path`).
    pub telemetry_path: String,
    /// The exporter-toolkit web configuration file (`--web.config.file`).
    pub web_config: Option<PathBuf>,
    /// Limits on connections.
    pub http: http::Limits,
    /// Limits on each input.
    pub limits: XmlLimits,
    /// The engine choice.
    pub engine: Engine,
    /// The largest input the DOM engine may load.
    pub max_dom_bytes: u64,
    /// Print which engine runs each rule at start.
    pub verbose: bool,
    /// Add xml2prom's own metrics (`xml2prom_*`) to `/metrics`.
    pub self_metrics: bool,
    /// Template variables (`--var KEY=VALUE`), seen as `{{ vars.KEY }}`.
    pub vars: BTreeMap<String, String>,
    /// Labels added to every sample of the rule file's metrics (`--label NAME=VALUE`).
    pub labels: Vec<(LabelName, String)>,
    /// How URL and command inputs are read (on every scrape: they have no stamp to cache on).
    pub fetch: crate::commands::fetch::FetchOptions,
    /// `--log.level` and `--log.format`.
    pub log: LogConfig,
}

/// Why `serve` could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The rule file cannot be used, or a `--label` clashes with it.
    #[error("the rule file has errors")]
    Rules(Vec<RunError>),
    /// A `--web.listen-address` cannot be bound.
    #[error(
        "cannot listen on {address}: {reason}; choose another --web.listen-address or stop \
         what uses it"
    )]
    Listen {
        /// The address.
        address: String,
        /// What the operating system said.
        reason: String,
    },
    /// The `--web.config.file` cannot be read or is wrong.
    #[error(transparent)]
    WebConfig(#[from] web_config::WebConfigError),
    /// The threads that serve HTTP cannot be started.
    #[error("cannot start the HTTP server's threads: {0}")]
    Runtime(std::io::Error),
    /// The SIGTERM, SIGINT and SIGHUP handlers cannot be installed.
    #[error("cannot install the SIGTERM, SIGINT and SIGHUP handlers: {0}")]
    Signals(std::io::Error),
}

impl Report for ServeError {
    /// The process exit code: 2 when the rule file or the command line is wrong, 1 otherwise.
    fn exit_code(&self) -> u8 {
        match self {
            ServeError::Rules(errors) => errors.iter().map(RunError::exit_code).max().unwrap_or(2),
            ServeError::Listen { .. } | ServeError::WebConfig(_) => 2,
            ServeError::Runtime(_) | ServeError::Signals(_) => 1,
        }
    }

    /// The full report for stderr: rendered diagnostics for the rule file, one line otherwise.
    fn report(&self) -> String {
        match self {
            ServeError::Rules(errors) => errors.iter().map(RunError::report).collect(),
            other => format!("xml2prom: error: {other}\n"),
        }
    }
}

/// How often the main thread looks at the stop flag.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long requests in flight may take to finish after SIGTERM or SIGINT.
pub const GRACE: Duration = Duration::from_secs(10);

/// The content type of the text format 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `serve`: exit code 0 once stopped by SIGTERM or SIGINT, else the error's report and code.
pub fn execute(config: &ServeConfig) -> ExitCode {
    log::init(config.log);
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// Runs the exporter until SIGTERM or SIGINT.
pub fn serve(config: &ServeConfig) -> Result<(), ServeError> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // The first signal sets the flag; a second one, with the flag set, ends the process.
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(ServeError::Signals)?;
    }
    serve_until(config, stop)
}

/// Runs the exporter until `stop` is set, then waits up to [`GRACE`] for requests in flight.
///
/// The compiled rules cannot cross threads (sxd-xpath's expressions are neither `Send` nor
/// `Sync`), so this thread keeps them and runs every evaluation ([`Evaluator`], [`Evaluator::run_while`]);
/// the HTTP side sends it [`Job`]s through the [`Cache`], which already lets one evaluation run
/// at a time.
pub fn serve_until(config: &ServeConfig, stop: Arc<AtomicBool>) -> Result<(), ServeError> {
    let mut evaluator = Evaluator::new(config)?;
    evaluator.start()?;
    let web = match &config.web_config {
        Some(path) => web_config::WebConfig::load(path)?,
        None => web_config::WebConfig::default(),
    };
    let (jobs, queue) = mpsc::channel();
    let exporter = Arc::new(Exporter::new(config, Arc::clone(&evaluator.shared), jobs));
    let server = http::Server::start(&config.listen, Arc::clone(&exporter), config.http, web)?;
    for url in server.urls() {
        let (scheme, address) = url.split_once("://").unwrap_or(("http", url));
        log::info(
            "listening",
            &[("address", &address), ("tls", &(scheme == "https"))],
        );
    }
    // The first evaluation runs like a scrape, so that readiness does not wait for one.
    std::thread::spawn(move || exporter.metrics());
    evaluator.run_while(&queue, || !stop.load(Ordering::SeqCst));
    log::info(
        "stopping; requests in flight may finish",
        &[("grace", &crate::model::duration::Friendly(GRACE))],
    );
    server.begin_shutdown();
    // Requests in flight may still need an evaluation.
    let deadline = Instant::now() + GRACE;
    evaluator.run_while(&queue, || !server.drained() && Instant::now() < deadline);
    if !server.drained() {
        log::warn(
            "stopping with requests unfinished",
            &[("grace", &crate::model::duration::Friendly(GRACE))],
        );
    }
    // Connections still open end with the process.
    server.stop();
    Ok(())
}

/// Whether an `Accept-Encoding` value accepts gzip: `gzip` or `*` with a q-value above 0.
fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
            .next()
            .unwrap_or(1.0);
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && quality > 0.0
    })
}

/// The request methods the exporter tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: the headers of `GET`, without a body (hyper leaves it out).
    Head,
    /// `POST`: only for `/-/reload`.
    Post,
    /// Any other method: 405.
    Other,
}

/// One HTTP response, built before any byte is sent.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// More headers.
    pub headers: Vec<(&'static str, String)>,
    /// The whole body.
    pub body: Arc<[u8]>,
}

impl Reply {
    fn text(status: u16, text: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: Arc::from(text.into().into_bytes()),
        }
    }
}

/// The HTTP side of the exporter: routes, the cache, and the way to the [`Evaluator`].
pub struct Exporter {
    inputs: Vec<PathBuf>,
    telemetry_path: String,
    rules: Arc<LoadedRules>,
    cache: Cache,
    jobs: mpsc::Sender<Job>,
    /// The `/probe` module names, in `--rules` order (the [`Job::Probe`] index).
    modules: Vec<String>,
    probe_allow: probe::AllowList,
    fetch: crate::commands::fetch::FetchOptions,
    max_bytes: u64,
    /// With self-metrics and probing on, the counts of probes, shown at each scrape.
    probes: Option<probe::ProbeCounts>,
}

/// What the HTTP side knows of the rules the [`Evaluator`] holds: which load it is on, and
/// the landing page that lists them. The evaluator updates both on every reload.
pub struct LoadedRules {
    /// Reloads tried so far, successful or not; part of each cache [`Key`], so that no
    /// exposition made before a reload (with other rules, or another reload status) is served
    /// after it.
    generation: AtomicU64,
    landing_page: Mutex<Arc<[u8]>>,
}

impl LoadedRules {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn landing_page(&self) -> Arc<[u8]> {
        Arc::clone(
            &self
                .landing_page
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl Exporter {
    /// The HTTP side of `config`, sending its jobs to the evaluator that publishes `rules`.
    pub fn new(config: &ServeConfig, rules: Arc<LoadedRules>, jobs: mpsc::Sender<Job>) -> Self {
        let modules: Vec<String> = config.rules.iter().map(|path| module_name(path)).collect();
        let probes = (config.self_metrics && !config.probe_allow.is_empty())
            .then(|| probe::ProbeCounts::new(modules.iter().map(String::as_str)));
        Exporter {
            inputs: config.inputs.clone(),
            telemetry_path: config.telemetry_path.clone(),
            rules,
            cache: Cache::default(),
            jobs,
            modules,
            probe_allow: config.probe_allow.clone(),
            fetch: config.fetch.clone(),
            max_bytes: config.limits.max_bytes,
            probes,
        }
    }

    /// The response to a request for `url`. Only `/probe` reads the query string, and the
    /// scrape's timeout (`X-Prometheus-Scrape-Timeout-Seconds`), if the request has one.
    pub fn route(
        &self,
        method: Method,
        url: &str,
        gzip: bool,
        scrape_timeout: Option<Duration>,
    ) -> Reply {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        if path == "/probe" {
            if matches!(method, Method::Post | Method::Other) {
                let mut reply = Reply::text(405, "only GET and HEAD are allowed here\n");
                reply.headers.push(("Allow", "GET, HEAD".to_owned()));
                return reply;
            }
            return self.probe_reply(query, scrape_timeout);
        }
        if path == "/-/reload" {
            return match method {
                Method::Post => self.reload_reply(),
                _ => {
                    let mut reply = Reply::text(405, "only POST is allowed here\n");
                    reply.headers.push(("Allow", "POST".to_owned()));
                    reply
                }
            };
        }
        let metrics = path == self.telemetry_path;
        if !metrics && !matches!(path, "/" | "/-/healthy" | "/-/ready") {
            return Reply::text(
                404,
                format!("{path} is not here; try {}\n", self.telemetry_path),
            );
        }
        if matches!(method, Method::Post | Method::Other) {
            let mut reply = Reply::text(405, "only GET and HEAD are allowed here\n");
            reply.headers.push(("Allow", "GET, HEAD".to_owned()));
            return reply;
        }
        if metrics {
            return self.metrics_reply(gzip);
        }
        match path {
            "/-/healthy" => Reply::text(200, "xml2prom is healthy.\n"),
            "/-/ready" => match self.cache.readiness() {
                Ok(()) => Reply::text(200, "xml2prom is ready.\n"),
                Err(reason) => Reply::text(503, format!("xml2prom is not ready: {reason}\n")),
            },
            _ => Reply {
                status: 200,
                content_type: "text/html; charset=utf-8",
                headers: Vec::new(),
                body: self.rules.landing_page(),
            },
        }
    }

    fn metrics_reply(&self, gzip: bool) -> Reply {
        match self.metrics() {
            Ok(exposition) => {
                let mut headers = vec![("Vary", "Accept-Encoding".to_owned())];
                // The process metrics are read now, not when the rules were evaluated; with
                // them the body, and its gzip form, are made for each scrape.
                let body = match &exposition.process {
                    None if gzip => Arc::clone(exposition.gzip()),
                    None => Arc::clone(&exposition.text),
                    Some(taken) => {
                        let process = exporter_metrics::process_metrics(taken);
                        let mut process = exposition::render(&process);
                        if let Some(probes) = &self.probes {
                            process.push_str(&probes.render());
                        }
                        if gzip {
                            exposition.gzip_followed_by(process.as_bytes())
                        } else {
                            let mut text = exposition.text.to_vec();
                            text.extend_from_slice(process.as_bytes());
                            Arc::from(text)
                        }
                    }
                };
                if gzip {
                    headers.push(("Content-Encoding", "gzip".to_owned()));
                }
                Reply {
                    status: 200,
                    content_type: METRICS_CONTENT_TYPE,
                    headers,
                    body,
                }
            }
            Err(message) => Reply::text(500, format!("{message}\n")),
        }
    }

    /// `POST /-/reload`: 200 once the evaluator uses the new rules, 500 with the diagnostics if
    /// the rule file is broken (the old rules keep answering).
    fn reload_reply(&self) -> Reply {
        let (reply, answer) = mpsc::channel();
        let job = Job::Reload {
            trigger: "POST /-/reload",
            reply: Some(reply),
        };
        let stopped = || Arc::from("xml2prom is stopping; the rule file was not reloaded");
        let outcome = if self.jobs.send(job).is_err() {
            Err(stopped())
        } else {
            answer.recv().unwrap_or_else(|_| Err(stopped()))
        };
        match outcome {
            Ok(()) => Reply::text(200, "xml2prom reloaded the rule file.\n"),
            Err(diagnostics) => Reply::text(500, diagnostics.to_string()),
        }
    }

    /// `GET /probe?target=URL&module=NAME`: 403 without `--probe.allow-target` or for a
    /// target it does not allow, 400 for a missing or invalid target or an unknown module,
    /// else 200 with the module's metrics (none if the probe failed) and the probe's gauges.
    fn probe_reply(&self, query: &str, scrape_timeout: Option<Duration>) -> Reply {
        if self.probe_allow.is_empty() {
            return Reply::text(
                403,
                "probing is off: start xml2prom serve with --probe.allow-target PATTERN, a \
                 regular expression matching the whole URL of each target /probe may fetch\n",
            );
        }
        let probe = match probe::Probe::parse(query) {
            Ok(probe) => probe,
            Err(message) => return Reply::text(400, format!("{message}\n")),
        };
        let module = match (&probe.module, self.modules.as_slice()) {
            (None, [_]) => 0,
            (None, modules) => {
                return Reply::text(
                    400,
                    format!(
                        "the `module` parameter is missing; give one of: {}\n",
                        modules.join(", ")
                    ),
                );
            }
            (Some(name), modules) => match modules.iter().position(|m| m == name) {
                Some(index) => index,
                None => {
                    return Reply::text(
                        400,
                        format!(
                            "unknown module `{name}`; the modules are the --rules file stems: \
                             {}\n",
                            modules.join(", ")
                        ),
                    );
                }
            },
        };
        let name = &self.modules[module];
        let shown = crate::commands::fetch::redact_url(&probe.target);
        if !self.probe_allow.allows(&probe.target) {
            log::warn(
                "refused a probe of a target that no --probe.allow-target pattern allows",
                &[("target", &shown), ("module", name)],
            );
            return Reply::text(
                403,
                format!(
                    "the target `{shown}` is not allowed; add a --probe.allow-target pattern \
                     that matches its whole URL\n"
                ),
            );
        }
        let started = Instant::now();
        let mut options = self.fetch.clone();
        options.timeout = probe::fetch_timeout(options.timeout, scrape_timeout);
        let fetched = crate::commands::fetch::fetch_http_within(
            &probe.target,
            &options,
            self.max_bytes,
            &|url| self.probe_allow.allows(url),
        );
        let (reply, answer) = mpsc::channel();
        let job = Job::Probe {
            module,
            target: probe.target.clone(),
            fetched,
            reply,
        };
        let stopped = || "xml2prom is stopping; the target was not evaluated".to_owned();
        let outcome = if self.jobs.send(job).is_err() {
            Err(stopped())
        } else {
            answer.recv().unwrap_or_else(|_| Err(stopped()))
        };
        let success = outcome.is_ok();
        if let Some(probes) = &self.probes {
            probes.count(name, success);
        }
        let mut body = match outcome {
            Ok(text) => text,
            Err(reason) => {
                log::warn(
                    "probe failed",
                    &[("target", &shown), ("module", name), ("err", &reason)],
                );
                String::new()
            }
        };
        body.push_str(&probe::probe_metrics(success, started.elapsed()));
        Reply {
            status: 200,
            content_type: METRICS_CONTENT_TYPE,
            headers: Vec::new(),
            body: Arc::from(body.into_bytes()),
        }
    }

    /// The exposition of the inputs as they are now: the cached one if no input changed, else
    /// a new evaluation (shared with every scrape that asks while it runs). An evaluation after
    /// which the inputs no longer have the stamps they had before it is answered but not
    /// cached: an input changed while it was read, and the next scrape reads it again. So is
    /// one during which the rules were reloaded.
    pub fn metrics(&self) -> Result<Arc<Exposition>, Arc<str>> {
        let (paths, unmatched) = inputs::expand(&self.inputs);
        let key = Key::of(&paths, &unmatched, self.rules.generation());
        let unchanged = |key: &Key| {
            let (paths, unmatched) = inputs::expand(&self.inputs);
            Key::of(&paths, &unmatched, self.rules.generation()) == *key
        };
        self.cache.get_or_evaluate_if(key, unchanged, |evaluation| {
            let (reply, answer) = mpsc::channel();
            let job = Job::Evaluate {
                inputs: paths,
                unmatched,
                evaluation: *evaluation,
                reply,
            };
            let stopped = || Arc::from("xml2prom is stopping; the rules were not evaluated");
            if self.jobs.send(job).is_err() {
                return Err(stopped());
            }
            answer.recv().unwrap_or_else(|_| Err(stopped()))
        })
    }
}

/// What the [`Evaluator`] is asked to do.
pub enum Job {
    /// Evaluate the rules on these inputs.
    Evaluate {
        /// The files `--input` expands to.
        inputs: Vec<PathBuf>,
        /// The patterns that matched nothing.
        unmatched: Vec<inputs::InputError>,
        /// Its number, for serve's own counters.
        evaluation: Evaluation,
        /// Where the outcome goes.
        reply: mpsc::Sender<Outcome>,
    },
    /// Evaluate one module's rules on a fetched `/probe` target.
    Probe {
        /// The module's index in `--rules` order.
        module: usize,
        /// The target URL, which names the input in messages (redacted).
        target: String,
        /// The target's body, or why it could not be fetched.
        fetched: Result<Vec<u8>, crate::commands::fetch::FetchError>,
        /// Where the module's metrics, or every error as text, go.
        reply: mpsc::Sender<Result<String, String>>,
    },
    /// Re-read the rule files.
    Reload {
        /// What asked, for the log: `SIGHUP` or `POST /-/reload`.
        trigger: &'static str,
        /// Where `Ok` or the diagnostics go, if someone waits for them.
        reply: Option<mpsc::Sender<Result<(), Arc<str>>>>,
    },
}

/// One rule file and its compiled rules: `/metrics` uses the first, `/probe` any by name.
struct Module {
    name: String,
    path: PathBuf,
    rules: CompiledRules,
}

/// The name of the module of a rule file: its file stem.
pub fn module_name(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The compiled rules and how to evaluate them; lives on one thread.
pub struct Evaluator {
    config: ServeConfig,
    modules: Vec<Module>,
    engines: EngineConfig,
    labels: Vec<(String, String)>,
    shared: Arc<LoadedRules>,
    reloads: ReloadStatus,
    /// Set by SIGHUP once [`Evaluator::start`] watches it.
    hangup: Arc<AtomicBool>,
    hangup_handler: Option<signal_hook::SigId>,
}

impl Drop for Evaluator {
    fn drop(&mut self) {
        if let Some(id) = self.hangup_handler.take() {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// `xml2prom_config_last_reload_*`, as Prometheus reports its own configuration reloads.
#[derive(Debug, Clone, Copy)]
struct ReloadStatus {
    /// Whether the last load of the rule file (the one at start included) succeeded.
    successful: bool,
    /// When the rules in use were loaded, in seconds since the epoch.
    success_time: f64,
}

impl Evaluator {
    /// Loads and compiles the rules; a broken rule file or a clashing `--label` is an error.
    pub fn new(config: &ServeConfig) -> Result<Evaluator, ServeError> {
        let mut modules = Vec::with_capacity(config.rules.len());
        let mut errors = Vec::new();
        for path in &config.rules {
            match load(config, path) {
                Ok(rules) => modules.push(Module {
                    name: module_name(path),
                    path: path.clone(),
                    rules,
                }),
                Err(more) => errors.extend(more),
            }
        }
        if !errors.is_empty() || modules.is_empty() {
            return Err(ServeError::Rules(errors));
        }
        let mut evaluator = Evaluator {
            config: config.clone(),
            modules,
            engines: EngineConfig {
                limits: config.limits.clone(),
                engine: config.engine,
                max_dom_bytes: config.max_dom_bytes,
            },
            labels: config
                .labels
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                .collect(),
            shared: Arc::new(LoadedRules {
                generation: AtomicU64::new(0),
                landing_page: Mutex::new(Arc::from(&b""[..])),
            }),
            reloads: ReloadStatus {
                successful: true,
                success_time: unix_time(SystemTime::now()),
            },
            hangup: Arc::new(AtomicBool::new(false)),
            hangup_handler: None,
        };
        evaluator.publish_landing_page();
        Ok(evaluator)
    }

    /// Starts watching SIGHUP (before the exporter says it listens, so that a SIGHUP sent then
    /// reloads rather than ends the process) and, with `--verbose`, logs which engine runs
    /// each rule.
    pub fn start(&mut self) -> Result<(), ServeError> {
        if self.hangup_handler.is_none() {
            let id =
                signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&self.hangup))
                    .map_err(ServeError::Signals)?;
            self.hangup_handler = Some(id);
        }
        self.report_engines();
        Ok(())
    }

    /// With `--verbose`, logs which engine runs each rule.
    fn report_engines(&self) {
        if self.config.verbose {
            for module in &self.modules {
                for line in engine::engine_report(&module.rules, self.config.engine) {
                    log::info(&line, &[("module", &module.name)]);
                }
            }
        }
    }

    fn publish_landing_page(&mut self) {
        let page = Arc::from(
            self.landing_page(&self.config.inputs, &self.config.telemetry_path)
                .into_bytes(),
        );
        *self
            .shared
            .landing_page
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = page;
    }

    /// Runs one job and sends its outcome back; errors and warnings also go to the log.
    pub fn run(&mut self, job: Job) {
        match job {
            Job::Evaluate {
                inputs,
                unmatched,
                evaluation,
                reply,
            } => {
                // The scrape may have gone; the outcome is in the cache anyway.
                let _ = reply.send(self.evaluate(inputs, unmatched, &evaluation));
            }
            Job::Probe {
                module,
                target,
                fetched,
                reply,
            } => {
                let _ = reply.send(self.probe(module, &target, fetched));
            }
            Job::Reload { trigger, reply } => {
                let outcome = self.reload(trigger);
                if let Some(reply) = reply {
                    let _ = reply.send(outcome);
                }
            }
        }
    }

    /// Runs jobs until every sender is gone.
    pub fn run_all(&mut self, queue: &mpsc::Receiver<Job>) {
        while let Ok(job) = queue.recv() {
            self.run(job);
        }
    }

    /// Runs jobs for as long as `go_on()` holds, and reloads the rules after a SIGHUP (looked at
    /// between jobs, at least every [`POLL_INTERVAL`]).
    pub fn run_while(&mut self, queue: &mpsc::Receiver<Job>, go_on: impl Fn() -> bool) {
        while go_on() {
            if self.hangup.swap(false, Ordering::SeqCst) {
                let _ = self.reload("SIGHUP");
            }
            if let Ok(job) = queue.recv_timeout(POLL_INTERVAL) {
                self.run(job);
            }
        }
    }

    /// Re-reads every rule file with the `--var`s and `--label`s given at start. A good file
    /// replaces its module's rules; a broken one keeps them, and its diagnostics are logged
    /// and returned (those of every broken file). Either way the cache starts over, as the
    /// reload status is in every exposition.
    fn reload(&mut self, trigger: &str) -> Result<(), Arc<str>> {
        let mut diagnostics = String::new();
        for index in 0..self.modules.len() {
            let path = self.modules[index].path.clone();
            let file = path.display().to_string();
            match load(&self.config, &path) {
                Ok(rules) => {
                    self.modules[index].rules = rules;
                    log::info(
                        "reloaded the rule file",
                        &[("file", &file), ("trigger", &trigger)],
                    );
                }
                Err(errors) => {
                    let report: String = errors.iter().map(RunError::report).collect();
                    log::error(
                        "the rule file has errors; the rules loaded before keep running until \
                         it is fixed and reloaded again",
                        &[
                            ("file", &file),
                            ("trigger", &trigger),
                            ("err", &report.trim_end()),
                        ],
                    );
                    diagnostics.push_str(&report);
                }
            }
        }
        let outcome = if diagnostics.is_empty() {
            self.reloads = ReloadStatus {
                successful: true,
                success_time: unix_time(SystemTime::now()),
            };
            self.report_engines();
            Ok(())
        } else {
            self.reloads.successful = false;
            Err(Arc::from(diagnostics))
        };
        self.publish_landing_page();
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        outcome
    }

    /// Evaluates module `module` on the fetched body of `target`: its metrics, with the
    /// `--label`s, or every error (the fetch's included) as text.
    fn probe(
        &self,
        module: usize,
        target: &str,
        fetched: Result<Vec<u8>, crate::commands::fetch::FetchError>,
    ) -> Result<String, String> {
        let Some(module) = self.modules.get(module) else {
            return Err("no such module; this is a bug in xml2prom, please report it".to_owned());
        };
        let mut fetched = Some(fetched);
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let production = run::produce_with(
            &module.rules,
            &[PathBuf::from(target)],
            &self.engines,
            |_| fetched.take(),
            &self.labels,
            &mut errors,
            &mut warnings,
        );
        for warning in &warnings {
            log::warn(warning, &[("module", &module.name)]);
        }
        if !errors.is_empty() {
            let message: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(message.join("; "));
        }
        let (families, _) = production.finish(&module.rules, None);
        Ok(exposition::render(&families))
    }

    fn evaluate(
        &self,
        paths: Vec<PathBuf>,
        unmatched: Vec<inputs::InputError>,
        evaluation: &Evaluation,
    ) -> Outcome {
        let started = Instant::now();
        let inputs = paths.len();
        let mut errors: Vec<RunError> = unmatched.into_iter().map(RunError::Input).collect();
        let mut warnings = Vec::new();
        // `/metrics` evaluates the first rule file; the others are only `/probe` modules.
        let rules = &self.modules[0].rules;
        let production = run::produce(
            rules,
            &paths,
            &self.engines,
            &self.config.fetch,
            &self.labels,
            &mut errors,
            &mut warnings,
        );
        for warning in &warnings {
            log::warn(warning, &[]);
        }
        if !errors.is_empty() {
            let message: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let message = message.join("\n");
            for line in message.lines() {
                log::error(line, &[]);
            }
            return Err(Arc::from(message));
        }
        let self_metrics = self.config.self_metrics;
        // Without inputs (a `serve` that only probes) there is nothing to report per input or
        // rule: only serve's own metrics.
        let output = (self_metrics && inputs > 0).then_some("");
        let (mut families, _) = production.finish(rules, output);
        let process = self_metrics.then(|| {
            families
                .iter()
                .map(|family| family.name.as_str().to_owned())
                .filter(|name| name.starts_with("process_"))
                .collect()
        });
        if self_metrics {
            add_serve_metrics(&mut families, evaluation, &self.reloads);
        }
        let mut exposition = Exposition::new(exposition::render(&families));
        exposition.process = process;
        log::debug(
            "evaluated the rules",
            &[
                ("evaluation", &evaluation.number),
                ("inputs", &inputs),
                ("bytes", &exposition.text.len()),
                (
                    "duration",
                    &format!("{:.3}s", started.elapsed().as_secs_f64()),
                ),
            ],
        );
        Ok(Arc::new(exposition))
    }

    /// The landing page: a link to /metrics and the loaded rules, every text escaped.
    fn landing_page(&self, inputs: &[PathBuf], telemetry_path: &str) -> String {
        // Relative links, so that the page also works behind a proxy that adds a prefix.
        let mut page = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
             <title>xml2prom</title></head>\n<body>\n<h1>xml2prom</h1>\n\
             <p><a href=\"{}\">Metrics</a> &middot; <a href=\"-/healthy\">Health</a> \
             &middot; <a href=\"-/ready\">Readiness</a></p>\n",
            escape_html(telemetry_path.trim_start_matches('/'))
        );
        let mut inputs: Vec<String> = inputs.iter().map(|p| inputs::name(p)).collect();
        if inputs.is_empty() {
            inputs.push("none, only /probe targets".to_owned());
        }
        let _ = writeln!(
            page,
            "<p>Version {}. Inputs: {}.</p>",
            escape_html(crate::VERSION),
            escape_html(&inputs.join(", "))
        );
        for (index, module) in self.modules.iter().enumerate() {
            if self.modules.len() == 1 {
                page.push_str("<h2>Rules</h2>\n");
            } else {
                let _ = writeln!(
                    page,
                    "<h2>Module {}{}</h2>",
                    escape_html(&module.name),
                    if index == 0 { " (also /metrics)" } else { "" }
                );
            }
            self.rules_table(&mut page, &module.rules);
        }
        page.push_str("</body>\n</html>\n");
        page
    }

    /// The table of one rule file's rules, for the landing page.
    fn rules_table(&self, page: &mut String, rules: &CompiledRules) {
        page.push_str(
            "<table>\n<tr><th>Rule</th><th>Metric</th><th>Type</th><th>Engine</th></tr>\n",
        );
        for (rule, engine) in rules
            .rules
            .iter()
            .zip(engine::engine_report(rules, self.engines.engine))
        {
            let engine = engine
                .split_once("): ")
                .map_or(engine.as_str(), |(_, how)| how);
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&rule.id),
                escape_html(rule.name.as_str()),
                rule.kind,
                escape_html(engine)
            );
        }
        page.push_str("</table>\n");
    }
}

/// Text made safe for HTML element content and attribute values.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Serve's own counter: evaluations so far.
const EVALUATIONS: (&str, &str) = (
    "xml2prom_serve_evaluations_total",
    "Evaluations of the rules since xml2prom serve started, this one included; scrapes while \
     no input changed reuse the last evaluation and are not counted",
);

/// Serve's own counter: failed evaluations so far.
const FAILURES: (&str, &str) = (
    "xml2prom_serve_evaluation_failures_total",
    "Evaluations since xml2prom serve started that failed and were answered with HTTP 500",
);

/// Serve's own gauge: whether the last reload worked (Prometheus's name for its own).
const RELOAD_SUCCESSFUL: (&str, &str) = (
    "xml2prom_config_last_reload_successful",
    "Whether the last load of the rule file (at start, on SIGHUP or POST /-/reload) succeeded",
);

/// Serve's own gauge: when the rules in use were loaded.
const RELOAD_SUCCESS_TIME: (&str, &str) = (
    "xml2prom_config_last_reload_success_timestamp_seconds",
    "Time of the last successful load of the rule file, in seconds since the epoch",
);

/// Seconds since the epoch.
fn unix_time(time: SystemTime) -> f64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// Loads and compiles the rule file `path` with the `--var`s of `config`, and checks its
/// `--label`s against it.
fn load(config: &ServeConfig, path: &std::path::Path) -> Result<CompiledRules, Vec<RunError>> {
    let rules = rules::load(path, &config.vars).map_err(|error| vec![RunError::Rules(error)])?;
    let clashes = run::label_clashes(&rules, &config.labels);
    if !clashes.is_empty() {
        return Err(clashes);
    }
    Ok(rules)
}

/// Adds serve's own metrics, as they stand for the evaluation `evaluation` (1 for the first):
/// its counters, the reload status and `xml2prom_build_info`.
fn add_serve_metrics(families: &mut Families, evaluation: &Evaluation, reloads: &ReloadStatus) {
    exporter_metrics::add_build_info(families);
    for ((name, help), value) in [
        (RELOAD_SUCCESSFUL, f64::from(u8::from(reloads.successful))),
        (RELOAD_SUCCESS_TIME, reloads.success_time),
    ] {
        add_own(families, name, help, MetricType::Gauge, value);
    }
    for ((name, help), value) in [
        (EVALUATIONS, evaluation.number),
        (FAILURES, evaluation.failures_before),
    ] {
        add_own(families, name, help, MetricType::Counter, value as f64);
    }
}

/// Adds one of serve's own series, without labels.
fn add_own(families: &mut Families, name: &str, help: &str, kind: MetricType, value: f64) {
    let name = MetricName::parse(name)
        .expect("own metric names are valid; the test `own_counters_are_valid` checks them");
    let sample = Sample {
        labels: LabelSet::new([]),
        value: SampleValue::Single(value),
    };
    let origin = Origin {
        rule: Arc::from(name.as_str()),
        input: Arc::from(""),
    };
    // The rules cannot use the `xml2prom_` prefix, so the series is new.
    let _ = families.add(&name, help, kind, sample, origin);
}

/// One rendered exposition, and its gzip form made on first request.
#[derive(Debug)]
pub struct Exposition {
    /// The text format 0.0.4.
    pub text: Arc<[u8]>,
    gzip: OnceLock<Arc<[u8]>>,
    /// The text as raw deflate blocks ending in a sync flush, and the CRC of the text, made on
    /// first request: the start of a gzip body that goes on with the text read at each scrape.
    deflated: OnceLock<(Arc<[u8]>, crc32fast::Hasher)>,
    /// With self-metrics, the `process_*` metrics follow the text, read at each scrape; these
    /// are the `process_*` names the rules already use, which are left out.
    process: Option<Vec<String>>,
}

/// `bytes`, gzip-compressed.
fn compress(bytes: &[u8]) -> Arc<[u8]> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    Arc::from(encoder.finish().unwrap_or_default())
}

impl Exposition {
    fn new(text: String) -> Exposition {
        Exposition {
            text: Arc::from(text.into_bytes()),
            gzip: OnceLock::new(),
            deflated: OnceLock::new(),
            process: None,
        }
    }

    /// The text, gzip-compressed (once, then kept).
    pub fn gzip(&self) -> &Arc<[u8]> {
        self.gzip.get_or_init(|| compress(&self.text))
    }

    /// The text followed by `tail`, as one gzip member: the text compressed once and kept,
    /// then `tail` in stored (uncompressed) deflate blocks, so that a scrape does not compress
    /// the whole body again for the few lines read at that scrape. The CRC covers both.
    pub fn gzip_followed_by(&self, tail: &[u8]) -> Arc<[u8]> {
        let (deflated, crc) = self.deflated.get_or_init(|| {
            let mut encoder =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            // Writing into a Vec cannot fail; `flush` is a sync flush, which ends the blocks
            // on a byte boundary without a final block.
            let _ = encoder.write_all(&self.text);
            let _ = encoder.flush();
            let mut crc = crc32fast::Hasher::new();
            crc.update(&self.text);
            (Arc::from(encoder.get_ref().as_slice()), crc)
        });
        // RFC 1952: ID1 ID2, CM 8 (deflate), no flags, no time, XFL 0, OS 255 (unknown).
        let mut body = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        body.extend_from_slice(deflated);
        // RFC 1951 3.2.4: stored blocks, BFINAL set on the last, each at most 65535 bytes.
        let mut chunks = tail.chunks(usize::from(u16::MAX)).peekable();
        if chunks.peek().is_none() {
            body.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        }
        while let Some(chunk) = chunks.next() {
            body.push(u8::from(chunks.peek().is_none()));
            let length = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
            body.extend_from_slice(&length.to_le_bytes());
            body.extend_from_slice(&(!length).to_le_bytes());
            body.extend_from_slice(chunk);
        }
        let mut crc = crc.clone();
        crc.update(tail);
        body.extend_from_slice(&crc.finalize().to_le_bytes());
        let size = (self.text.len() as u64).wrapping_add(tail.len() as u64) as u32;
        body.extend_from_slice(&size.to_le_bytes());
        Arc::from(body)
    }
}

/// What the cache knows of one input: enough to tell that it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    size: u64,
    modified: Option<SystemTime>,
    /// The change time (seconds, nanoseconds), which moves with any write, as the modification
    /// time does unless a writer sets that back.
    changed: (i64, i64),
    /// A file replaced by rename (as an atomic writer does) has a new inode even when its size
    /// and time look the same.
    inode: u64,
}

impl Stamp {
    /// The stamp of `path`, or `None` if it cannot be read (the evaluation reports why).
    pub fn of(path: &std::path::Path) -> Option<Stamp> {
        let metadata = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let (inode, changed) = {
            use std::os::unix::fs::MetadataExt;
            (metadata.ino(), (metadata.ctime(), metadata.ctime_nsec()))
        };
        #[cfg(not(unix))]
        let (inode, changed) = (0, (0, 0));
        Some(Stamp {
            size: metadata.len(),
            modified: metadata.modified().ok(),
            changed,
            inode,
        })
    }
}

/// The inputs as one evaluation saw them: each file's stamp, and the patterns that matched
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    inputs: Vec<(PathBuf, Option<Stamp>)>,
    unmatched: Vec<String>,
    /// Unique to this key when an input is a URL or a command, which have no stamp to tell
    /// that they changed: no two such keys are equal, so each scrape fetches anew.
    fresh: Option<u64>,
    /// The [`LoadedRules`] generation: reloads so far.
    rules: u64,
}

impl Key {
    /// The key of the inputs `--input` expands to now, with the rules of `generation`.
    fn of(paths: &[PathBuf], unmatched: &[inputs::InputError], generation: u64) -> Key {
        static FRESH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let remote = paths
            .iter()
            .any(|p| crate::commands::fetch::Remote::of(p).is_some());
        Key {
            inputs: paths.iter().map(|p| (p.clone(), Stamp::of(p))).collect(),
            unmatched: unmatched.iter().map(|e| e.pattern().to_owned()).collect(),
            fresh: remote.then(|| FRESH.fetch_add(1, Ordering::Relaxed)),
            rules: generation,
        }
    }
}

/// What an evaluation knows of itself, for serve's own counters.
#[derive(Debug, Clone, Copy)]
pub struct Evaluation {
    /// 1 for the first evaluation.
    pub number: u64,
    /// Failed evaluations before this one.
    pub failures_before: u64,
}

type Outcome = Result<Arc<Exposition>, Arc<str>>;

/// The last successful exposition by [`Key`], and the evaluation under way, if any.
///
/// One evaluation runs at a time. A scrape that finds the inputs unchanged since the last
/// success gets its exposition; one that finds an evaluation of the same inputs under way
/// waits for it and shares its outcome, failure included; any other waits for the running
/// evaluation to end, then looks again. So N concurrent scrapes of unchanged inputs cost one
/// evaluation.
#[derive(Default)]
pub struct Cache {
    state: Mutex<CacheState>,
    changed: Condvar,
}

#[derive(Default)]
struct CacheState {
    last_success: Option<(Key, Arc<Exposition>)>,
    /// The key and number of the evaluation under way.
    running: Option<(Key, u64)>,
    /// The number and outcome of the last evaluation that ended.
    last: Option<(u64, Outcome)>,
    evaluations: u64,
    failures: u64,
}

impl Cache {
    fn lock(&self) -> MutexGuard<'_, CacheState> {
        // A panic while holding the lock leaves consistent state: every field is replaced whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The exposition for `key`: cached, shared with an evaluation under way, or from
    /// `evaluate`.
    pub fn get_or_evaluate(
        &self,
        key: Key,
        evaluate: impl FnOnce(&Evaluation) -> Outcome,
    ) -> Outcome {
        self.get_or_evaluate_if(key, |_| true, evaluate)
    }

    /// [`Cache::get_or_evaluate`], keeping the exposition of a new evaluation for later scrapes
    /// only if `unchanged(&key)` says after it that the inputs still are as `key` has them:
    /// else an input changed while it was read, and the exposition may not be what the inputs
    /// now hold. The scrapes that asked for it get it either way.
    pub fn get_or_evaluate_if(
        &self,
        key: Key,
        unchanged: impl FnOnce(&Key) -> bool,
        evaluate: impl FnOnce(&Evaluation) -> Outcome,
    ) -> Outcome {
        let mut state = self.lock();
        let number = loop {
            if let Some((cached, exposition)) = &state.last_success
                && *cached == key
            {
                return Ok(Arc::clone(exposition));
            }
            match &state.running {
                None => break state.evaluations + 1,
                Some((running, number)) => {
                    let (same, number) = (*running == key, *number);
                    while state.running.as_ref().is_some_and(|(_, n)| *n == number) {
                        state = self
                            .changed
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    if same
                        && let Some((ended, outcome)) = &state.last
                        && *ended == number
                    {
                        return outcome.clone();
                    }
                }
            }
        };
        let evaluation = Evaluation {
            number,
            failures_before: state.failures,
        };
        state.evaluations = number;
        state.running = Some((key.clone(), number));
        drop(state);
        let mut running = Running {
            cache: self,
            number,
            key: Some(key),
        };
        let outcome = evaluate(&evaluation);
        let keep = running.key.as_ref().is_some_and(unchanged);
        running.end(outcome.clone(), keep);
        outcome
    }

    /// `Ok` if the last evaluation succeeded, else why not.
    pub fn readiness(&self) -> Result<(), String> {
        match &self.lock().last {
            Some((_, Ok(_))) => Ok(()),
            Some((_, Err(message))) => Err(format!("the last evaluation failed: {message}")),
            None => Err("the first evaluation has not finished yet".to_owned()),
        }
    }
}

/// The evaluation under way; dropped without [`Running::end`] (a panic), it ends as a failure
/// so that no scrape waits for it forever.
struct Running<'a> {
    cache: &'a Cache,
    number: u64,
    key: Option<Key>,
}

impl Running<'_> {
    /// Ends the evaluation with `outcome`, which later scrapes of the same inputs reuse if it is
    /// a success and `keep` says so.
    fn end(&mut self, outcome: Outcome, keep: bool) {
        let Some(key) = self.key.take() else {
            return;
        };
        let mut state = self.cache.lock();
        match &outcome {
            Ok(exposition) if keep => state.last_success = Some((key, Arc::clone(exposition))),
            Ok(_) => {}
            Err(_) => state.failures += 1,
        }
        state.last = Some((self.number, outcome));
        state.running = None;
        drop(state);
        self.cache.changed.notify_all();
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.end(
            Err(Arc::from(
                "the evaluation stopped unexpectedly; this is a bug in xml2prom, please report \
                 it with the rule file",
            )),
            false,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(size: u64) -> Key {
        Key {
            inputs: vec![(
                PathBuf::from("a.xml"),
                Some(Stamp {
                    size,
                    modified: None,
                    changed: (0, 0),
                    inode: 1,
                }),
            )],
            unmatched: Vec::new(),
            fresh: None,
            rules: 0,
        }
    }

    fn exposition(text: &str) -> Outcome {
        Ok(Arc::new(Exposition::new(text.to_owned())))
    }

    fn text(outcome: &Outcome) -> String {
        match outcome {
            Ok(exposition) => String::from_utf8_lossy(&exposition.text).into_owned(),
            Err(message) => format!("error: {message}"),
        }
    }

    #[test]
    fn unchanged_inputs_reuse_the_last_success_and_failures_are_not_kept() {
        let cache = Cache::default();
        assert!(cache.readiness().is_err());
        let first = cache.get_or_evaluate(key(1), |e| exposition(&format!("n {}\n", e.number)));
        assert_eq!(text(&first), "n 1\n");
        assert_eq!(cache.readiness(), Ok(()));
        let again = cache.get_or_evaluate(key(1), |_| panic!("must not evaluate"));
        assert_eq!(text(&again), "n 1\n");
        let failed = cache.get_or_evaluate(key(2), |_| Err(Arc::from("broken")));
        assert_eq!(text(&failed), "error: broken");
        assert_eq!(
            cache.readiness(),
            Err("the last evaluation failed: broken".to_owned())
        );
        let retried = cache.get_or_evaluate(key(2), |e| {
            exposition(&format!("n {} after {}\n", e.number, e.failures_before))
        });
        assert_eq!(text(&retried), "n 3 after 1\n");
        assert_eq!(cache.readiness(), Ok(()));
    }

    #[test]
    fn an_exposition_of_inputs_that_changed_while_read_is_answered_but_not_cached() {
        // Issue 10: a body read while its input was rewritten must not be served again.
        let cache = Cache::default();
        let first = cache.get_or_evaluate_if(key(1), |_| false, |_| exposition("torn\n"));
        assert_eq!(text(&first), "torn\n");
        let again = cache.get_or_evaluate_if(
            key(1),
            |_| true,
            |e| exposition(&format!("n {}\n", e.number)),
        );
        assert_eq!(text(&again), "n 2\n");
        let cached = cache.get_or_evaluate(key(1), |_| panic!("must not evaluate"));
        assert_eq!(text(&cached), "n 2\n");
    }

    #[test]
    fn concurrent_requests_for_the_same_inputs_share_one_evaluation() {
        let cache = Cache::default();
        let evaluations = std::sync::atomic::AtomicUsize::new(0);
        let outcomes: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let outcome = cache.get_or_evaluate(key(7), |e| {
                            evaluations.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(200));
                            exposition(&format!("n {}\n", e.number))
                        });
                        text(&outcome)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        assert_eq!(evaluations.load(Ordering::SeqCst), 1);
        assert!(outcomes.iter().all(|o| o == "n 1\n"), "{outcomes:?}");
    }

    #[test]
    fn a_panicking_evaluation_fails_and_does_not_block_the_next() {
        let cache = Cache::default();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.get_or_evaluate(key(1), |_| panic!("simulated bug"))
        }));
        assert!(panicked.is_err());
        assert!(
            cache
                .readiness()
                .is_err_and(|r| r.contains("bug in xml2prom"))
        );
        let next = cache.get_or_evaluate(key(1), |_| exposition("ok\n"));
        assert_eq!(text(&next), "ok\n");
    }

    #[test]
    fn gzip_is_accepted_by_name_or_star_unless_its_quality_is_zero() {
        for (value, expected) in [
            ("gzip", true),
            ("deflate, GZIP;q=0.5", true),
            ("*", true),
            ("identity", false),
            ("gzip;q=0", false),
            ("gzip; q=0.0, br", false),
            ("", false),
        ] {
            assert_eq!(accepts_gzip(value), expected, "{value}");
        }
    }

    #[test]
    fn a_gzip_body_with_a_tail_is_one_member_that_any_decoder_reads() {
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("rows{{id=\"{i}\"}} {i}\n"));
        }
        let exposition = Exposition::new(text.clone());
        for tail in [
            String::new(),
            "process_open_fds 9\n".to_owned(),
            "x".repeat(70_000),
        ] {
            let body = exposition.gzip_followed_by(tail.as_bytes());
            let mut decoded = String::new();
            // GzDecoder reads one member only: the body must be a single member.
            std::io::Read::read_to_string(
                &mut flate2::read::GzDecoder::new(&body[..]),
                &mut decoded,
            )
            .expect("valid gzip");
            assert_eq!(decoded, format!("{text}{tail}"), "tail of {}", tail.len());
            assert!(
                body.len() < text.len() / 3 + tail.len() + 100,
                "{}",
                body.len()
            );
            // The decoder checks the CRC: a wrong one would fail above.
            let mut corrupt = body.to_vec();
            let at = corrupt.len() - 8;
            corrupt[at] ^= 1;
            let mut ignored = Vec::new();
            assert!(
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(&corrupt[..]),
                    &mut ignored
                )
                .is_err()
            );
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn own_counters_are_valid() {
        let mut families = Families::new();
        add_serve_metrics(
            &mut families,
            &Evaluation {
                number: 3,
                failures_before: 1,
            },
            &ReloadStatus {
                successful: false,
                success_time: 1_764_800_000.5,
            },
        );
        let text = exposition::render(&families);
        let build_info = text
            .find("# HELP xml2prom_build_info ")
            .expect("build info");
        let after_build_info = text[build_info..]
            .find("# HELP xml2prom_config_")
            .map(|at| build_info + at)
            .expect("reload status after build info");
        assert_eq!(
            &text[after_build_info..],
            format!(
                "# HELP {0} {1}\n# TYPE {0} gauge\n{0} 1764800000.5\n\
                 # HELP {2} {3}\n# TYPE {2} gauge\n{2} 0\n\
                 # HELP {4} {5}\n# TYPE {4} counter\n{4} 1\n\
                 # HELP {6} {7}\n# TYPE {6} counter\n{6} 3\n",
                RELOAD_SUCCESS_TIME.0,
                RELOAD_SUCCESS_TIME.1,
                RELOAD_SUCCESSFUL.0,
                RELOAD_SUCCESSFUL.1,
                FAILURES.0,
                FAILURES.1,
                EVALUATIONS.0,
                EVALUATIONS.1
            )
        );
        assert!(text.starts_with("# HELP xml2prom_build_info "), "{text}");
    }

    /// An exporter for `rules.yaml` and `a.xml` in `dir`, its evaluator on its own thread
    /// until the exporter is dropped.
    fn exporter(dir: &std::path::Path, xml: &str) -> Exporter {
        exporter_with(dir, xml, false)
    }

    const ROWS: &str = "version: 1\nmetrics:\n- { name: rows, help: 'Rows <b>', type: gauge, \
                        value: count(//r) }\n";

    /// The same, with serve's own metrics on or off.
    fn exporter_with(dir: &std::path::Path, xml: &str, self_metrics: bool) -> Exporter {
        std::fs::write(dir.join("rules.yaml"), ROWS).expect("rules");
        std::fs::write(dir.join("a.xml"), xml).expect("xml");
        let config = ServeConfig {
            rules: vec![dir.join("rules.yaml")],
            inputs: vec![dir.join("a.xml")],
            probe_allow: probe::AllowList::default(),
            listen: Vec::new(),
            telemetry_path: "/metrics".to_owned(),
            web_config: None,
            http: http::Limits::default(),
            limits: XmlLimits::default(),
            engine: Engine::Auto,
            max_dom_bytes: u64::MAX,
            verbose: false,
            self_metrics,
            vars: BTreeMap::new(),
            labels: Vec::new(),
            fetch: crate::commands::fetch::FetchOptions::default(),
            log: LogConfig::default(),
        };
        let (jobs, queue) = mpsc::channel();
        let (shared, rules) = mpsc::channel();
        let exporter_config = config.clone();
        std::thread::spawn(move || {
            let mut evaluator = Evaluator::new(&config).expect("valid rules");
            let _ = shared.send(Arc::clone(&evaluator.shared));
            evaluator.run_all(&queue);
        });
        Exporter::new(
            &exporter_config,
            rules.recv().expect("the loaded rules"),
            jobs,
        )
    }

    #[test]
    fn a_reload_replaces_good_rules_keeps_them_for_a_broken_file_and_empties_the_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let exporter = exporter_with(dir.path(), "<s><r/><r/></s>", true);
        let before = body(&exporter.route(Method::Get, "/metrics", false, None));
        assert!(before.contains("\nrows 2\n"), "{before}");
        assert!(before.contains("\nxml2prom_config_last_reload_successful 1\n"));
        assert!(before.contains("\nprocess_open_fds "), "{before}");
        let get = exporter.route(Method::Get, "/-/reload", false, None);
        assert_eq!(get.status, 405);
        assert!(get.headers.contains(&("Allow", "POST".to_owned())));

        let rules = dir.path().join("rules.yaml");
        std::fs::write(
            &rules,
            format!("{ROWS}- {{ name: cells, help: h, type: gauge, value: '7' }}\n"),
        )
        .expect("new rules");
        let reloaded = exporter.route(Method::Post, "/-/reload", false, None);
        assert_eq!(
            (reloaded.status, body(&reloaded).as_str()),
            (200, "xml2prom reloaded the rule file.\n")
        );
        // The input did not change, but the rules did: a new evaluation.
        let after = body(&exporter.route(Method::Get, "/metrics", false, None));
        assert!(after.contains("\ncells 7\n"), "{after}");
        assert!(
            after.contains("\nxml2prom_serve_evaluations_total 2\n"),
            "{after}"
        );
        let landing = body(&exporter.route(Method::Get, "/", false, None));
        assert!(landing.contains("<td>cells</td>"), "{landing}");

        std::fs::write(
            &rules,
            "version: 1\nmetrics:\n- { name: 2bad, help: h, type: gauge, value: '1' }\n",
        )
        .expect("broken rules");
        let broken = exporter.route(Method::Post, "/-/reload", false, None);
        assert_eq!(broken.status, 500);
        assert!(body(&broken).contains("2bad"), "{}", body(&broken));
        let kept = body(&exporter.route(Method::Get, "/metrics", false, None));
        assert!(kept.contains("\ncells 7\n"), "{kept}");
        assert!(
            kept.contains("\nxml2prom_config_last_reload_successful 0\n"),
            "{kept}"
        );
    }

    fn body(reply: &Reply) -> String {
        String::from_utf8_lossy(&reply.body).into_owned()
    }

    #[test]
    fn routes_give_their_status_and_content_type() {
        let dir = tempfile::tempdir().expect("tempdir");
        let exporter = exporter(dir.path(), "<s><r/><r/></s>");
        let reply = exporter.route(Method::Get, "/metrics?debug=1", false, None);
        assert_eq!(
            (reply.status, reply.content_type),
            (200, METRICS_CONTENT_TYPE)
        );
        assert_eq!(
            body(&reply),
            "# HELP rows Rows <b>\n# TYPE rows gauge\nrows 2\n"
        );
        let gzipped = exporter.route(Method::Get, "/metrics", true, None);
        assert!(
            gzipped
                .headers
                .contains(&("Content-Encoding", "gzip".to_owned()))
        );
        let mut unzipped = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&gzipped.body[..]),
            &mut unzipped,
        )
        .expect("valid gzip");
        assert_eq!(unzipped, body(&reply));
        let landing = exporter.route(Method::Head, "/", false, None);
        assert_eq!(landing.status, 200);
        assert!(body(&landing).contains("<td>metrics[0]</td><td>rows</td><td>gauge</td>"));
        assert!(body(&landing).contains("<a href=\"metrics\">"));
        assert_eq!(
            exporter
                .route(Method::Get, "/-/healthy", false, None)
                .status,
            200
        );
        assert_eq!(
            exporter.route(Method::Get, "/-/ready", false, None).status,
            200
        );
        assert_eq!(
            exporter.route(Method::Get, "/nope", false, None).status,
            404
        );
        let post = exporter.route(Method::Other, "/metrics", false, None);
        assert_eq!(post.status, 405);
        assert!(post.headers.contains(&("Allow", "GET, HEAD".to_owned())));
    }

    #[test]
    fn a_broken_input_gives_500_and_not_ready() {
        let dir = tempfile::tempdir().expect("tempdir");
        let exporter = exporter(dir.path(), "<s><r/>");
        let reply = exporter.route(Method::Get, "/metrics", false, None);
        assert_eq!(
            (reply.status, reply.content_type),
            (500, "text/plain; charset=utf-8")
        );
        assert!(body(&reply).contains("a.xml: "), "{}", body(&reply));
        let ready = exporter.route(Method::Get, "/-/ready", false, None);
        assert_eq!(ready.status, 503);
        assert!(body(&ready).contains("the last evaluation failed"));
    }
}
