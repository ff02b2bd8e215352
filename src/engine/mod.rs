//! Engine: compiled rules and one input to samples.
//!
//! [`stream`] runs every streamable rule in one pass over the scan; [`dom`] builds a document
//! from the same checked scan and runs the rest through sxd-xpath (or reads simple queries
//! directly). [`aggregate`] turns a rule's selected nodes into samples.

pub mod aggregate;
pub mod dom;
pub mod error;
pub mod node;
pub mod skips;
pub mod stream;
