//! Model: the words every stage shares, and nothing else.
//!
//! [`names`] holds the checked names (metric, label, field, namespace prefix), [`sample`] the
//! samples and metric families that engines produce and the exposition writes, [`number`] how
//! text becomes a number and back, [`duration`] how durations are read and printed. This folder imports nothing from the rest of the crate, so
//! every stage can use it without reaching any other stage.

pub mod duration;
pub mod names;
pub mod number;
pub mod sample;
