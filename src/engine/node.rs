//! Node: what one selected node gives, decided once for every engine.
//!
//! Both engines and `explain` hand each node's readings to [`field`] and [`value`], which apply
//! the rule's `on_missing` and `on_invalid` and the value's conversion, so a policy means the same
//! whichever engine runs the rule.

use std::borrow::Cow;

use crate::engine::error::{EvalError, EvalErrorKind};
use crate::engine::skips::{Skip, SkipReason};
use crate::model::names::LabelName;
use crate::model::number::{format_value, parse_number, shorten};
use crate::model::sample::{LabelSet, Sample, SampleValue};
use crate::rules::compile::{CompiledRule, CompiledRules, Reduce, Shape, ValueSpec};
use crate::rules::policy::OnEmpty;
use crate::rules::policy::{OnInvalid, OnMissing};
use crate::rules::templates::{self, TemplateId};

/// What a node's value query gave.
#[derive(Debug, Clone, Copy)]
pub enum Reading<'a> {
    /// Nothing: an empty node-set.
    Missing,
    /// A string: a node's string-value or an XPath string.
    Text(&'a str),
    /// A number computed by XPath (the DOM engine only), used as is.
    Number(f64),
}

/// What to do with one node.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    /// Use it.
    Use(T),
    /// Leave the node out.
    Skip(Skip),
    /// Fail the input.
    Fail(EvalErrorKind),
}

/// Resolves what a rule's field query gave at one node: the text, or what the rule's
/// `on_missing` says to do when there is none.
pub fn field(rule: &CompiledRule, index: usize, text: Option<String>) -> Outcome<String> {
    if let Some(text) = text {
        return Outcome::Use(text);
    }
    let (name, query) = rule.field_query(index);
    let field = format!("fields.{name}");
    match rule.policies.on_missing {
        OnMissing::Zero => Outcome::Use(String::new()),
        OnMissing::Skip => Outcome::Skip(Skip {
            reason: SkipReason::Missing,
            detail: format!("`{field}: {query}` selected nothing"),
        }),
        OnMissing::Error => Outcome::Fail(EvalErrorKind::Missing {
            field,
            query: query.to_owned(),
        }),
    }
}

/// Resolves what a rule's value query gave at one node into the number the accumulator
/// observes (for a state set, the index of the current state); `None` for a rule without a
/// value (`aggregate: count`).
pub fn value(rule: &CompiledRule, reading: Reading<'_>) -> Outcome<Option<f64>> {
    let query = rule.value_query();
    let text = match (reading, &rule.value) {
        (_, ValueSpec::Absent) => return Outcome::Use(None),
        (_, ValueSpec::One) => return Outcome::Use(Some(1.0)),
        (Reading::Missing, _) => {
            return match rule.policies.on_missing {
                OnMissing::Zero => match &rule.value {
                    // The compiler refuses `zero` for a state set: "no state" is not a state.
                    ValueSpec::States(_) => Outcome::Fail(EvalErrorKind::Missing {
                        field: "value".to_owned(),
                        query: query.to_owned(),
                    }),
                    _ => Outcome::Use(Some(0.0)),
                },
                OnMissing::Skip => Outcome::Skip(Skip {
                    reason: SkipReason::Missing,
                    detail: format!("`value: {query}` selected nothing"),
                }),
                OnMissing::Error => Outcome::Fail(EvalErrorKind::Missing {
                    field: "value".to_owned(),
                    query: query.to_owned(),
                }),
            };
        }
        (Reading::Number(n), ValueSpec::Number(None)) => return Outcome::Use(Some(n)),
        // Borrowed: this runs once per node, so text is not copied.
        (Reading::Number(n), _) => Cow::Owned(format_value(n)),
        (Reading::Text(text), _) => Cow::Borrowed(text),
    };
    let text = text.as_ref();
    let parsed = match &rule.value {
        ValueSpec::States(states) => states
            .iter()
            .position(|s| s == text)
            .map(|i| i as f64)
            .ok_or_else(|| format!("is not one of the states {}", states.join(", "))),
        ValueSpec::Number(Some(convert)) => convert.apply(text).map_err(|why| why.to_string()),
        _ => parse_number(text).ok_or_else(|| {
            "is not a number (numbers are written like 42, -1.5 or 2e3, without spaces)".to_owned()
        }),
    };
    match parsed {
        Ok(number) => Outcome::Use(Some(number)),
        Err(why) => match rule.policies.on_invalid {
            OnInvalid::Skip => Outcome::Skip(Skip {
                reason: SkipReason::Invalid,
                detail: format!("`value: {query}` gave {:?}, which {why}", shorten(text)),
            }),
            OnInvalid::Error => Outcome::Fail(EvalErrorKind::Invalid {
                query: query.to_owned(),
                text: shorten(text),
                why,
            }),
        },
    }
}

/// Renders the top-level labels for one input.
pub fn render_global_labels(
    rules: &CompiledRules,
    input: &minijinja::Value,
) -> Result<Vec<(String, String)>, EvalError> {
    let context = templates::context([], input);
    rules
        .global_labels
        .iter()
        .map(|(label, id)| {
            rules
                .templates
                .render(id, &context)
                .map(|value| (label.as_str().to_owned(), value))
                .map_err(|message| EvalError {
                    rule: "labels".to_owned(),
                    metric: "top-level labels".to_owned(),
                    node: None,
                    kind: Box::new(EvalErrorKind::Template {
                        label: label.as_str().to_owned(),
                        message,
                    }),
                })
        })
        .collect()
}

/// Renders a rule's labels for one node and adds the top-level labels.
pub fn render_labels(
    templates: &templates::Templates,
    labels: &[(LabelName, TemplateId)],
    context: &minijinja::Value,
) -> Result<Vec<(String, String)>, EvalErrorKind> {
    labels
        .iter()
        .map(|(label, id)| {
            templates
                .render(id, context)
                .map(|value| (label.as_str().to_owned(), value))
                .map_err(|message| EvalErrorKind::Template {
                    label: label.as_str().to_owned(),
                    message,
                })
        })
        .collect()
}

/// The sample `on_empty: zero` gives a rule that produced none: 0, labelled without fields.
pub fn empty_sample(
    rule: &CompiledRule,
    templates: &templates::Templates,
    input: &minijinja::Value,
) -> Result<Option<Sample>, EvalErrorKind> {
    if rule.policies.on_empty != OnEmpty::Zero {
        return Ok(None);
    }
    let context = templates::context([], input);
    let labels = render_labels(templates, &rule.labels, &context)?;
    Ok(Some(Sample {
        labels: LabelSet::new(labels),
        value: SampleValue::Single(0.0),
    }))
}

/// The skip for a node that `on_duplicate: first` or `last` left out.
pub fn duplicate_skip(rule: &CompiledRule, labels: &LabelSet) -> Skip {
    let policy = match &rule.shape {
        Shape::Nodes {
            reduce:
                Reduce::Each(policy)
                | Reduce::States {
                    on_duplicate: policy,
                    ..
                },
            ..
        } => policy.as_str(),
        _ => "",
    };
    Skip {
        reason: SkipReason::Duplicate,
        detail: format!(
            "another node gave the series {} too (`on_duplicate: {policy}`)",
            labels.for_message()
        ),
    }
}

/// Adds the top-level labels to every sample of a rule.
pub fn with_global_labels(samples: Vec<Sample>, global: &[(String, String)]) -> Vec<Sample> {
    if global.is_empty() {
        return samples;
    }
    samples
        .into_iter()
        .map(|sample| Sample {
            labels: LabelSet::new(
                sample
                    .labels
                    .pairs()
                    .iter()
                    .cloned()
                    .chain(global.iter().cloned()),
            ),
            value: sample.value,
        })
        .collect()
}
