//! End-to-end tests: the real `xml2prom` binary on rule and XML fixtures.
//!
//! - `check`: `xml2prom check` on the rule files under `tests/check/` and the project's own.
//! - `cli`: help, usage errors and output destinations.
//! - `explain`: `xml2prom explain` as text (compared with `tests/explain/`) and JSON.
//! - `golden`: every folder under `tests/cases/` is one case (rules, XML, expected output or
//!   expected error); the bundled example is checked against `rules/examples/store.prom`.
//! - `hostile`: generated hostile inputs; each must fail cleanly with the previous output intact.
//! - `init`: every folder under `tests/init/` is a sample, its expected draft and the run of that
//!   draft; `completions`, `man` and `--version`.
//! - `interop`: the output read by the real `promtool` and `prometheus-node-exporter`.
//! - `ruletest`: `xml2prom test` on the shipped rule tests and on failing ones.
//! - `lint`: our own strict checker of the text format (promtool 2.42 misses some problems).
//! - `schema`: `schemas/rules.schema.json` is up to date and every rule file validates against it.
//!
//! `XML2PROM_BLESS=1 cargo test` rewrites the expected files; review them in the diff.

mod check;
mod cli;
mod explain;
mod golden;
mod hostile;
mod init;
mod interop;
mod lint;
mod ruletest;
mod schema;
mod support;
