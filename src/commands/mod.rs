//! Commands: one module per subcommand, tying the stages together.
//!
//! [`run`] runs the rules over the inputs once and writes the results, with [`inputs`] (input
//! patterns and output names), [`lock`] (overlapping runs), [`status`] (xml2prom's own gauges),
//! [`push`] (the Pushgateway) and [`every`] (repeated runs, stopped and reloaded by signals).
//! [`serve`] is the exporter that evaluates on scrape, [`check`] checks rule files, [`test`] runs
//! rule-file unit tests, [`explain`] shows how a rule reads a store, and [`init`] drafts a rule
//! file from a sample store.

pub mod check;
pub mod every;
pub mod explain;
pub mod init;
pub mod inputs;
pub mod lock;
pub mod push;
pub mod run;
pub mod serve;
pub mod status;
pub mod test;
