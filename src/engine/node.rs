//! Node: the per-node pipeline, written once for every engine.
//!
//! Both engines hand each selected node's readings to [`resolve`], which applies the rule's
//! policies in their one order (each field's `on_missing`, then the value's `on_missing`,
//! conversion and `on_invalid`), and the result to a [`RuleState`], which renders the labels
//! (once per distinct field values), finds the group and applies `on_duplicate`; at the end
//! [`RuleState::finish`] applies `on_empty`. `explain` shows the same steps one by one through
//! [`field`] and [`value`]. So a policy means the same whichever engine runs the rule.

use std::borrow::Cow;

use crate::engine::aggregate::{Accumulator, DuplicateNode, Observed};
use crate::engine::error::{EvalError, EvalErrorKind};
use crate::engine::label_cache::LabelCache;
use crate::engine::skips::{Skip, SkipReason, Skips};
use crate::model::names::LabelName;
use crate::model::number::{format_value, parse_number, shorten};
use crate::model::sample::{LabelSet, Sample, SampleValue};
use crate::rules::compile::{CompiledRule, CompiledRules, Reduce, Shape, ValueSpec};
use crate::rules::policy::OnEmpty;
use crate::rules::policy::{OnInvalid, OnMissing};
use crate::rules::templates::{self, TemplateId};

/// What a node's value query gave.
#[derive(Debug, Clone)]
pub enum Reading<'a> {
    /// Nothing: an empty node-set.
    Missing,
    /// A string: a node's string-value or an XPath string, borrowed from the document where
    /// it can be.
    Text(Cow<'a, str>),
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
        // Borrowed where it can be: this runs once per node, so text is not copied.
        (Reading::Number(n), _) => Cow::Owned(format_value(n)),
        (Reading::Text(text), _) => text,
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

/// The policies of one node in their one order: each field's reading (its `on_missing`), then,
/// only if every field is there, the value's reading (`on_missing`, the conversion,
/// `on_invalid`). Field texts go to `keep` by index (`on_missing: zero` gives the empty text);
/// the value gives the number the accumulator observes (`None` for a rule without a value).
/// An engine's own failure to read (an XPath error) is `E` and stops at once.
pub fn resolve<'v, T: Default, E>(
    rule: &CompiledRule,
    fields: impl IntoIterator<Item = Result<Option<T>, E>>,
    mut keep: impl FnMut(usize, T),
    value_reading: impl FnOnce() -> Result<Reading<'v>, E>,
) -> Result<Outcome<Option<f64>>, E> {
    for (index, reading) in fields.into_iter().enumerate() {
        match reading? {
            Some(text) => keep(index, text),
            None => match field(rule, index, None) {
                Outcome::Use(_) => keep(index, T::default()),
                Outcome::Skip(skip) => return Ok(Outcome::Skip(skip)),
                Outcome::Fail(kind) => return Ok(Outcome::Fail(kind)),
            },
        }
    }
    Ok(value(rule, value_reading()?))
}

/// A node as an engine knows it, for messages: the streaming engine keeps location paths, the
/// DOM engine the node itself.
pub trait Located {
    /// The node's location path, for skips and the first of two duplicates.
    fn path(&self) -> String;
    /// The node an error names: `None` for the document itself.
    fn node(&self) -> Option<String>;
}

/// A location path already worked out, or `None` where the rule does not keep them.
impl Located for Option<String> {
    fn path(&self) -> String {
        self.clone().unwrap_or_default()
    }

    fn node(&self) -> Option<String> {
        self.clone()
    }
}

/// An error of a rule, at a node (`None`: the document, or a node not named).
pub fn error(rule: &CompiledRule, node: Option<String>, kind: EvalErrorKind) -> EvalError {
    EvalError {
        rule: rule.id.clone(),
        metric: rule.name.as_str().to_owned(),
        node,
        kind: Box::new(kind),
    }
}

/// The running state of one node-level rule over one input, whichever engine reads the nodes:
/// its groups, and its labels rendered once per distinct field values.
pub struct RuleState<'r, N> {
    rule: &'r CompiledRule,
    templates: &'r templates::Templates,
    input: minijinja::Value,
    accumulator: Accumulator<N>,
    labels: LabelCache,
}

impl<'r, N: Located + Clone> RuleState<'r, N> {
    /// The state of a node-level rule; `None` for a document-level rule.
    pub fn new(
        rule: &'r CompiledRule,
        templates: &'r templates::Templates,
        input: &minijinja::Value,
    ) -> Option<Self> {
        let Shape::Nodes { reduce, .. } = &rule.shape else {
            return None;
        };
        Some(RuleState {
            rule,
            templates,
            input: input.clone(),
            accumulator: Accumulator::new(reduce),
            labels: LabelCache::default(),
        })
    }

    /// The rest of the pipeline for a node [`resolve`] kept: its labels (rendered once per
    /// distinct field texts, found again without copying them), its group, and `on_duplicate`
    /// (a node left out goes to `skips`).
    pub fn observe(
        &mut self,
        skips: &mut Skips,
        texts: &[impl AsRef<str>],
        number: Option<f64>,
        node: N,
    ) -> Result<(), EvalError> {
        let rule = self.rule;
        let hash = LabelCache::hash(texts);
        let group = match self.labels.get(hash, texts) {
            Some(group) => group,
            None => {
                let Shape::Nodes { fields, .. } = &rule.shape else {
                    return Ok(());
                };
                let context = templates::context(
                    fields
                        .iter()
                        .map(|(name, _)| name.as_str())
                        .zip(texts.iter().map(AsRef::as_ref)),
                    &self.input,
                );
                let rendered = render_labels(self.templates, &rule.labels, &context)
                    .map_err(|kind| error(rule, node.node(), kind))?;
                let group = self.accumulator.group(&LabelSet::new(rendered));
                self.labels.insert(hash, texts, group);
                group
            }
        };
        match self.accumulator.observe_group(group, number, node) {
            Ok(Observed::Added) => Ok(()),
            Ok(Observed::Dropped(dropped)) => {
                let skip = duplicate_skip(rule, self.accumulator.labels(group));
                skips.add(skip, || dropped.path());
                Ok(())
            }
            Err(DuplicateNode {
                labels,
                first,
                second,
            }) => Err(error(
                rule,
                second.node(),
                EvalErrorKind::Duplicate {
                    labels,
                    first: first.path(),
                },
            )),
        }
    }

    /// The rule's samples once every node is observed: `on_empty` decides what a rule without
    /// any gives.
    pub fn finish(self) -> Result<Vec<Sample>, EvalError> {
        if self.accumulator.is_empty() {
            Ok(empty_sample(self.rule, self.templates, &self.input)
                .map_err(|kind| error(self.rule, None, kind))?
                .into_iter()
                .collect())
        } else {
            Ok(self.accumulator.finish())
        }
    }
}
