//! Errors of the engines: why a rule could not be evaluated against an input, and the samples
//! a rule gave when it could.

use std::fmt;

use crate::engine::skips::Skips;
use crate::model::names::METRIC_NAME_LABEL;
use crate::model::number::shorten_to;
use crate::model::sample::{LabelSet, Samples};

/// The samples one rule gave for one input.
#[derive(Debug)]
pub struct RuleSamples {
    /// Index of the rule in [`crate::rules::compile::CompiledRules::rules`].
    pub rule: usize,
    /// Its samples, top-level labels included.
    pub samples: Samples,
    /// The nodes it left out, by its policies.
    pub skips: Skips,
}

/// Why a rule could not be evaluated against a document.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    /// The rule, e.g. `metrics[2]`.
    pub rule: String,
    /// The rule's metric name.
    pub metric: String,
    /// The node being evaluated, as a location path, when there is one.
    pub node: Option<String>,
    /// What went wrong (boxed: errors are rare, results are common).
    pub kind: Box<EvalErrorKind>,
}

/// What went wrong; each variant says when it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalErrorKind {
    /// sxd-xpath failed to run a query (unknown function, unknown variable, wrong argument).
    XPath {
        /// The rule field holding the query (`select`, `value`, `fields.kind`).
        field: String,
        /// The query.
        query: String,
        /// sxd-xpath's message.
        message: String,
    },
    /// `select` gave a number, string or boolean instead of nodes.
    SelectNotNodes {
        /// The query.
        query: String,
        /// What it gave.
        got: String,
    },
    /// A query selected no node where a value is needed.
    Missing {
        /// The rule field holding the query (`value`, `fields.kind`).
        field: String,
        /// The query.
        query: String,
    },
    /// A field or the value gave a text the rule lists in `absent`, under `on_missing: error`.
    Absent {
        /// The rule field holding the query (`value`, `fields.kind`).
        field: String,
        /// The query.
        query: String,
        /// The text, shortened.
        text: String,
    },
    /// The value text (or a histogram's `le`, `sum`, ...) does not give a number (or, in a
    /// state set, a state).
    Invalid {
        /// The rule key holding the query (`value`, `le`, `sum`, ...).
        field: String,
        /// The query.
        query: String,
        /// The text, shortened.
        text: String,
        /// Why, a phrase completing "which ...".
        why: String,
    },
    /// A templated metric name rendered a name that is not usable, under `on_invalid: error`.
    InvalidName {
        /// Why, a phrase completing "the name template gave ...".
        why: String,
    },
    /// A label template failed to render.
    Template {
        /// The label.
        label: String,
        /// minijinja's message.
        message: String,
    },
    /// The subtree of a selected element, which the streaming engine buffers for a query that
    /// reads it, outgrew the limit.
    SubtreeTooLarge {
        /// The limit, in bytes (`--max-dom-bytes`).
        limit: u64,
    },
    /// A query of the streaming engine that reads an ancestor's child element (`../name`)
    /// held more memory than allowed: the selected elements that come before that child and
    /// wait for it (`waiting`), or the child's text.
    AncestorChildTooLarge {
        /// The rule field holding the query (`value`, `fields.site`).
        field: String,
        /// The query.
        query: String,
        /// The limit, in bytes (`--max-dom-bytes`).
        limit: u64,
        /// Whether the elements waiting for the child took the memory, not its text.
        waiting: bool,
    },
    /// The nodes of one series of a histogram or summary the store gives ready-made do not
    /// make a valid one (two buckets with one bound, counts not cumulative, ...).
    BadSeries {
        /// The series' labels.
        labels: LabelSet,
        /// `histogram` or `summary`.
        what: &'static str,
        /// What is wrong.
        why: String,
    },
    /// Two nodes gave the same label set in a rule without `aggregate`.
    Duplicate {
        /// The label set.
        labels: LabelSet,
        /// The other node.
        first: String,
    },
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} ({})", self.rule, self.metric)?;
        if let Some(node) = &self.node {
            write!(f, " at {node}")?;
        }
        f.write_str(": ")?;
        match self.kind.as_ref() {
            EvalErrorKind::XPath {
                field,
                query,
                message,
            } => write!(f, "`{field}: {query}` failed: {message}"),
            EvalErrorKind::SelectNotNodes { query, got } => write!(
                f,
                "`select: {query}` gave {got}, not nodes; select elements or attributes, \
                 e.g. `/store/row`"
            ),
            EvalErrorKind::Missing { field, query } => write!(
                f,
                "`{field}: {query}` selected nothing; fix the store, set `on_missing: skip` or \
                 `on_missing: zero` on the rule{}, or filter such nodes out in `select`",
                if field == "value" {
                    ""
                } else {
                    " (or on the field, or a `default` on the field)"
                }
            ),
            EvalErrorKind::Absent { field, query, text } => write!(
                f,
                "`{field}: {query}` gave {text:?}, which `absent` lists as no value; set \
                 `on_missing: skip` or `zero` on the rule{}, or filter such nodes out in \
                 `select`",
                if field == "value" {
                    ""
                } else {
                    " or the field, a `default` on the field"
                }
            ),
            EvalErrorKind::Invalid {
                field,
                query,
                text,
                why,
            } => {
                write!(f, "`{field}: {query}` gave {text:?}, which {why}")
            }
            EvalErrorKind::BadSeries { labels, what, why } => write!(
                f,
                "the series {} is not a valid {what}: {why}; fix the store, or set \
                 `on_invalid: skip` to leave such series out",
                labels.for_message()
            ),
            EvalErrorKind::Template { label, message } if label == METRIC_NAME_LABEL => {
                write!(f, "the name template failed: {message}")
            }
            EvalErrorKind::Template { label, message } => {
                write!(f, "the template of label `{label}` failed: {message}")
            }
            EvalErrorKind::InvalidName { why } => write!(
                f,
                "the name template gave {why}; change the template, or leave such nodes out \
                 with `on_invalid: skip`"
            ),
            EvalErrorKind::SubtreeTooLarge { limit } => write!(
                f,
                "the element's subtree, which the rule's queries read, takes more than \
                 --max-dom-bytes ({limit} bytes) in memory; select smaller elements, read only \
                 their attributes, or raise --max-dom-bytes"
            ),
            EvalErrorKind::AncestorChildTooLarge {
                field,
                query,
                limit,
                waiting: true,
            } => write!(
                f,
                "`{field}: {query}` reads an element that comes after the selected elements in \
                 their ancestor, and the elements waiting for it take more than \
                 --max-dom-bytes ({limit} bytes) in memory; put that element before them in the \
                 store (e.g. the name first), raise --max-dom-bytes, or use --engine dom"
            ),
            EvalErrorKind::AncestorChildTooLarge {
                field,
                query,
                limit,
                waiting: false,
            } => write!(
                f,
                "`{field}: {query}` reads an element whose text takes more than \
                 --max-dom-bytes ({limit} bytes) in memory; read a smaller element or raise \
                 --max-dom-bytes"
            ),
            EvalErrorKind::Duplicate { labels, first } => write!(
                f,
                "this node and {} both give the series {}; add a label that tells them apart, \
                 an `aggregate`, or `on_duplicate: first`, `last` or `sum`",
                shorten_to(first, 400),
                labels.for_message()
            ),
        }
    }
}

impl std::error::Error for EvalError {}
