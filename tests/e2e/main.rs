//! End-to-end tests: the real `xml2prom` binary on rule and XML fixtures.
//!
//! - `cli`: help, usage errors and output destinations.
//! - `golden`: every folder under `tests/cases/` is one case (rules, XML, expected output or
//!   expected error); the bundled example is checked against `rules/examples/store.prom`.
//! - `inputs`: glob patterns, `--output-dir`, one broken input among many.
//! - `hostile`: generated hostile inputs; each must fail cleanly with the previous output intact.
//! - `interop`: the output read by the real `promtool` and `prometheus-node-exporter`.
//! - `lock`: two real runs on one output, the second waiting for the first.
//! - `status`: the status file on every kind of run, and the alert rules checked by promtool.
//! - `lint`: our own strict checker of the text format (promtool 2.42 misses some problems).
//!
//! `XML2PROM_BLESS=1 cargo test` rewrites the expected files; review them in the diff.

mod cli;
mod golden;
mod hostile;
mod inputs;
mod interop;
mod lint;
mod lock;
mod status;
mod support;
