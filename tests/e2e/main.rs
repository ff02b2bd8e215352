//! End-to-end tests: the real `xml2prom` binary on rule and XML fixtures.
//!
//! - `check`: `xml2prom check` on the rule files under `tests/check/` and the project's own.
//! - `check_promtool`: `check --strict` warns about everything `promtool check metrics` lints
//!   on the output, and `allow_lints:` silences one lint of one rule.
//! - `cli`: help, usage errors and output destinations.
//! - `deploy`: the recipes and monitoring kit under `deploy/`, each run or checked as far as the
//!   machine allows (systemd-analyze, kubectl, promtool, node_exporter when installed).
//! - `explain`: `xml2prom explain` as text (compared with `tests/explain/`) and JSON.
//! - `golden`: every folder under `tests/cases/` is one case (rules, XML, expected output or
//!   expected error); the bundled example is checked against `rules/examples/store.prom`.
//! - `inputs`: glob patterns, `--output-dir`, one broken input among many.
//! - `hostile`: generated hostile inputs; each must fail cleanly with the previous output intact.
//! - `init`: every folder under `tests/init/` is a sample, its expected draft and the run of that
//!   draft; `completions`, `man` and `--version`.
//! - `interop`: the output read by the real `promtool` and `prometheus-node-exporter`.
//! - `schedule`: `run --every` driven by real signals: repeated writes, SIGTERM/SIGINT stop with
//!   exit 0 (after the run in progress), SIGHUP with a broken and then a fixed rule file; its
//!   log lines as logfmt and JSON, filtered by `--log.level`.
//! - `probe`: `serve`'s `/probe` with two modules against a loopback HTTP server: each
//!   module's metrics, 400/403 answers, failed fetches as `xml2prom_probe_success 0`, a
//!   redirect out of `--probe.allow-target`, the scrape-timeout header; checked by promtool.
//! - `push`: `run --push` to a real `prometheus-pushgateway` on 127.0.0.1, read back from it; a
//!   closed port; the flags' usage errors.
//! - `safety_outputs`: outputs that are devices, FIFOs or sockets, or inputs; the lock file's
//!   safety; stale temporary files; the file-size limit; bounded messages (issue 10).
//! - `push_safety`: `run --push` to loopback servers that redirect, send hostile or huge error
//!   bodies, or present a certificate of a CA made at test time.
//! - `remote_inputs`: `--input -`, URLs served by a loopback HTTP(S) server in the test (200,
//!   404, slow, huge, redirects, basic auth from `--input-http-config`) and `exec:` commands
//!   (success, exit 3, timeout); `serve` fetching a URL on every scrape.
//! - `ruletest`: `xml2prom test` on the shipped rule tests and on failing ones.
//! - `safety_inputs`: inputs bounded as they are read: `/dev/zero` and FIFOs (size limits, the
//!   DOM limit, `--read-timeout`), a store rewritten in place while it is read.
//! - `rulefile_limits`: hostile rule files (alias bomb, deep nesting, `/dev/zero`) fail fast and
//!   small in every command and on SIGHUP; `check` lists the errors of every rule.
//! - `lock`: two real runs on one output, the second waiting for the first.
//! - `loopback`: no tests; the loopback HTTP(S) server that `probe`, `push_safety` and
//!   `remote_inputs` answer `xml2prom` with (a respond callback, recorded requests).
//! - `serve`: `xml2prom serve` on 127.0.0.1, scraped over HTTP (body, gzip, routes, a broken
//!   input, concurrent scrapes, SIGTERM; build_info and process metrics checked by promtool;
//!   reloads by SIGHUP and `POST /-/reload`; log formats and levels) and by a real Prometheus
//!   when installed.
//! - `serve_web`: serve's web configuration (basic auth, TLS and client certificates from a CA
//!   made at test time, headers, bad files) and its limits (431, 414, timeouts, the connection
//!   cap and `nofile=1024` with hundreds of slow clients).
//! - `status`: the status file on every kind of run, and the alert rules checked by promtool.
//! - `lint`: our own strict checker of the text format (promtool 2.42 misses some problems).
//! - `schema`: `schemas/rules.schema.json` is up to date and every rule file validates against it.
//! - `xpath`: XPath 1.0 semantics beyond the golden `xpath_*` cases (`explain` agrees with `run`).
//!
//! `XML2PROM_BLESS=1 cargo test` rewrites the expected files; review them in the diff.

mod check;
mod check_promtool;
mod cli;
mod deploy;
mod explain;
mod golden;
mod hostile;
mod init;
mod inputs;
mod interop;
mod lint;
mod lock;
mod loopback;
mod probe;
mod push;
mod push_safety;
mod remote_inputs;
mod rulefile_limits;
mod ruletest;
mod safety_inputs;
mod safety_outputs;
mod schedule;
mod schema;
mod serve;
mod serve_web;
mod status;
mod support;
mod xpath;
