//! Node: the per-node pipeline, written once for every engine.
//!
//! Both engines hand each selected node's readings to [`resolve`], which applies the rule's
//! policies in their one order (each field's `on_missing`, then the value's `on_missing`,
//! conversion and `on_invalid`), and the result to a [`RuleState`], which renders the labels
//! (once per distinct field values), finds the group and applies `on_duplicate`; at the end
//! [`RuleState::finish`] applies `on_empty`. `explain` shows the same steps one by one through
//! [`field`] and [`value`]. So a policy means the same whichever engine runs the rule.

use std::borrow::Cow;

use crate::engine::aggregate::{
    Accumulator, BadSeries, DuplicateNode, GivenPoint, GroupId, Observed,
};
use crate::engine::error::{EvalError, EvalErrorKind};
use crate::engine::label_cache::LabelCache;
use crate::engine::skips::{Skip, SkipReason, Skips};
use crate::model::names::{LabelName, METRIC_NAME_LABEL};
use crate::model::number::{format_value, parse_number, shorten};
use crate::model::sample::{
    KeySet, LabelSet, Sample, SampleValue, Samples, encode_text, same_bytes,
};
use crate::rules::compile::{
    CompiledRule, CompiledRules, Given, GivenReading, Reduce, Shape, ValueSpec, rendered_name,
};
use crate::rules::policy::OnEmpty;
use crate::rules::policy::{FieldMissing, OnInvalid, OnMissing};
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

/// Resolves what a rule's field query gave at one node: the text, or what the field's (else
/// the rule's) `on_missing` or the field's `default` says to do when there is none or it is a
/// text the rule lists in `absent`.
pub fn field(rule: &CompiledRule, index: usize, text: Option<String>) -> Outcome<String> {
    match text {
        Some(text) if !is_absent(rule, &text) => Outcome::Use(text),
        text => match missing_field(rule, index, text.as_deref()) {
            Outcome::Use(text) => Outcome::Use(text.to_owned()),
            Outcome::Skip(skip) => Outcome::Skip(skip),
            Outcome::Fail(kind) => Outcome::Fail(kind),
        },
    }
}

/// Whether a field's or the value's text is one the rule lists in `absent`: the same text,
/// leading and trailing XML white space aside (`<temp> N/A </temp>`).
pub fn is_absent(rule: &CompiledRule, text: &str) -> bool {
    if rule.absent.is_empty() {
        return false;
    }
    let trimmed = text.trim_matches([' ', '\t', '\n', '\r']);
    rule.absent.iter().any(|absent| absent == trimmed)
}

/// What a node gets for field `index` when it has none (`absent` is `None`) or has a text the
/// rule lists in `absent`: the text to use (empty for `on_missing: zero`, else the field's
/// `default`), a skip, or a failure.
fn missing_field<'r>(
    rule: &'r CompiledRule,
    index: usize,
    absent: Option<&str>,
) -> Outcome<&'r str> {
    let (_, query) = rule.field_query(index);
    let field = rule.field_key(index);
    let policy = match rule.field_missing.get(index) {
        Some(FieldMissing::Default(text)) => return Outcome::Use(text),
        Some(FieldMissing::Policy(policy)) => *policy,
        None => rule.policies.on_missing,
    };
    match (policy, absent) {
        (OnMissing::Zero, _) => Outcome::Use(""),
        (OnMissing::Skip, None) => Outcome::Skip(Skip {
            reason: SkipReason::Missing,
            detail: format!("`{field}: {query}` selected nothing"),
        }),
        (OnMissing::Skip, Some(text)) => Outcome::Skip(Skip {
            reason: SkipReason::Absent,
            detail: format!(
                "`{field}: {query}` gave {:?}, listed in `absent`",
                shorten(text)
            ),
        }),
        (OnMissing::Error, None) => Outcome::Fail(EvalErrorKind::Missing {
            field,
            query: query.to_owned(),
        }),
        (OnMissing::Error, Some(text)) => Outcome::Fail(EvalErrorKind::Absent {
            field,
            query: query.to_owned(),
            text: shorten(text),
        }),
    }
}

/// Resolves what a rule's value query gave at one node into the number the accumulator
/// observes (for a state set, the index of the current state); `None` for a rule without a
/// value (`aggregate: count`).
#[inline]
pub fn value(rule: &CompiledRule, reading: Reading<'_>) -> Outcome<Option<f64>> {
    // Told apart here, where it is inlined: most rules count nodes, and have no value to read.
    match rule.value {
        ValueSpec::Absent => Outcome::Use(None),
        ValueSpec::One => Outcome::Use(Some(1.0)),
        _ => read_value(rule, reading),
    }
}

/// [`value`] for a rule with a value to read.
fn read_value(rule: &CompiledRule, reading: Reading<'_>) -> Outcome<Option<f64>> {
    let query = rule.value_query();
    let text = match (reading, &rule.value) {
        (_, ValueSpec::Absent) => return Outcome::Use(None),
        (_, ValueSpec::One) => return Outcome::Use(Some(1.0)),
        (Reading::Missing, _) => return missing_value(rule, None),
        (Reading::Text(text), _) if is_absent(rule, &text) => {
            return missing_value(rule, Some(&text));
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
        _ => plain_decimal(text)
            .or_else(|| parse_number(text))
            .ok_or_else(|| {
                "is not a number (numbers are written like 42, -1.5 or 2e3, without spaces)"
                    .to_owned()
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
                field: "value".to_owned(),
                query: query.to_owned(),
                text: shorten(text),
                why,
            }),
        },
    }
}

/// What a node gets when it has no value (`absent` is `None`) or a value text the rule lists
/// in `absent`: the rule's `on_missing`.
fn missing_value(rule: &CompiledRule, absent: Option<&str>) -> Outcome<Option<f64>> {
    let query = rule.value_query();
    let missing = || EvalErrorKind::Missing {
        field: "value".to_owned(),
        query: query.to_owned(),
    };
    match (rule.policies.on_missing, absent) {
        // The compiler refuses `zero` for a state set: "no state" is not a state.
        (OnMissing::Zero, _) if matches!(rule.value, ValueSpec::States(_)) => {
            Outcome::Fail(missing())
        }
        (OnMissing::Zero, _) => Outcome::Use(Some(0.0)),
        (OnMissing::Skip, None) => Outcome::Skip(Skip {
            reason: SkipReason::Missing,
            detail: format!("`value: {query}` selected nothing"),
        }),
        (OnMissing::Skip, Some(text)) => Outcome::Skip(Skip {
            reason: SkipReason::Absent,
            detail: format!(
                "`value: {query}` gave {:?}, listed in `absent`",
                shorten(text)
            ),
        }),
        (OnMissing::Error, None) => Outcome::Fail(missing()),
        (OnMissing::Error, Some(text)) => Outcome::Fail(EvalErrorKind::Absent {
            field: "value".to_owned(),
            query: query.to_owned(),
            text: shorten(text),
        }),
    }
}

/// Powers of ten that an f64 holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The number of a plain decimal (`42`, `-1.5`, `0.205`: an optional sign, at most 15 digits
/// with an optional `.`, no exponent), exactly as [`parse_number`] gives it; `None` for any
/// other text, which goes to [`parse_number`].
///
/// Values are read once per selected node, and most are such decimals: their digits make an
/// integer below 2^53 and the fraction a power of ten below 10^16, both exact in an f64, so
/// one division, which IEEE 754 rounds correctly, gives the correctly rounded value that
/// Rust's parser gives too (Clinger's fast path).
fn plain_decimal(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    // At most 15 digits and a `.`: so the digits below never overflow.
    if digits.len() > 16 {
        return None;
    }
    // The whole digits, then the fraction's, each in a loop that only adds digits.
    let mut mantissa: u64 = 0;
    let mut at = 0;
    while let Some(digit) = digits.get(at).map(|byte| byte.wrapping_sub(b'0'))
        && digit <= 9
    {
        mantissa = mantissa * 10 + u64::from(digit);
        at += 1;
    }
    let whole = at;
    if digits.get(at) == Some(&b'.') {
        at += 1;
    }
    let fraction_at = at;
    while let Some(digit) = digits.get(at).map(|byte| byte.wrapping_sub(b'0'))
        && digit <= 9
    {
        mantissa = mantissa * 10 + u64::from(digit);
        at += 1;
    }
    let places = at - fraction_at;
    if at != digits.len() || whole + places == 0 || whole + places > 15 {
        return None;
    }
    let scale = *EXACT_POWERS_OF_TEN.get(places)?;
    let magnitude = mantissa as f64 / scale;
    Some(if negative { -magnitude } else { magnitude })
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
pub fn with_global_labels(samples: Samples, global: &[(String, String)]) -> Samples {
    samples.with_labels(global)
}

/// The policies of one node in their one order: each field's reading (its `on_missing`), then,
/// only if every field is there, the value's reading (`on_missing`, the conversion,
/// `on_invalid`). Field texts go to `keep` by index (`on_missing: zero` gives the empty text);
/// the value gives the number the accumulator observes (`None` for a rule without a value).
/// An engine's own failure to read (an XPath error) is `E` and stops at once.
pub fn resolve<'r, 'v, T: AsRef<str> + From<&'r str>, E>(
    rule: &'r CompiledRule,
    fields: impl IntoIterator<Item = Result<Option<T>, E>>,
    mut keep: impl FnMut(usize, T),
    value_reading: impl FnOnce() -> Result<Reading<'v>, E>,
) -> Result<Outcome<Option<f64>>, E> {
    for (index, reading) in fields.into_iter().enumerate() {
        let reading = reading?;
        let absent = match &reading {
            Some(text) if !is_absent(rule, text.as_ref()) => None,
            Some(text) => Some(text.as_ref()),
            None => None,
        };
        if reading.is_some() && absent.is_none() {
            if let Some(text) = reading {
                keep(index, text);
            }
            continue;
        }
        match missing_field(rule, index, absent) {
            Outcome::Use(text) => keep(index, T::from(text)),
            Outcome::Skip(skip) => return Ok(Outcome::Skip(skip)),
            Outcome::Fail(kind) => return Ok(Outcome::Fail(kind)),
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

/// Where one of a rule's labels gets its value, when no node needs minijinja to tell.
#[derive(Debug, Clone, Copy)]
enum LabelSource {
    /// Exactly `{{ field }}`: the text of the rule's field at this index.
    Field(usize),
    /// A template that reads no field (a constant, `{{ input.path }}`, `{{ vars.region }}`):
    /// the same for every node of the input, rendered at the first node, at this index of
    /// [`RuleState::constants`].
    Constant(usize),
}

/// The running state of one node-level rule over one input, whichever engine reads the nodes:
/// its groups, and its labels rendered once per distinct field values.
///
/// When every label of the rule is a field as it is (`{{ id }}`) or the same for the whole
/// input, a node's label set is written straight from its field texts into a buffer reused
/// from node to node, and its group found by those bytes: no template runs and nothing is
/// allocated for a node whose series is known, and each new series costs only its bytes.
pub struct RuleState<'r, N> {
    rule: &'r CompiledRule,
    templates: &'r templates::Templates,
    input: minijinja::Value,
    accumulator: Accumulator<N>,
    labels: LabelCache,
    /// The rule's labels in name order with where their values come from, if no label needs
    /// minijinja per node; `None` sends every node through the templates and [`LabelCache`].
    direct: Option<Vec<(&'r str, &'r TemplateId, LabelSource)>>,
    /// The values of the [`LabelSource::Constant`] labels, once the first node rendered them.
    constants: Option<Vec<String>>,
    /// The label set key being built, reused from node to node.
    key: Vec<u8>,
    /// Per label of `direct`, its name as the key encodes it ([`encode_text`]): the same at
    /// every node, so encoded once.
    encoded_names: Vec<Vec<u8>>,
    /// Per key of the [`SharedKeys`] the rule observes through, its group once found.
    shared_groups: Vec<Option<GroupId>>,
}

/// The label set keys of rules whose labels are all fields as they are, under the same label
/// names ([`RuleState::label_recipe`]): such rules give the same key for the same label
/// values, so several of them observing one node encode and find its key once, and each finds
/// its group by the key's id ([`RuleState::observe_shared`]).
#[derive(Debug)]
pub struct SharedKeys {
    /// The label names, in name order, as the key encodes them.
    names: Vec<Vec<u8>>,
    /// Every key found, by id.
    keys: KeySet,
    /// The key being built, reused from node to node.
    key: Vec<u8>,
    /// The label values of the key found last, one after the other, where each ends, and the
    /// key's id: consecutive lookups are mostly the rules of one node, with the same values,
    /// and telling that from the values' bytes costs less than encoding and hashing them.
    last_values: Vec<u8>,
    last_ends: Vec<usize>,
    last: Option<usize>,
}

impl SharedKeys {
    /// The keys of the rules with this label recipe.
    pub fn new(recipe: &[&str]) -> SharedKeys {
        let names = recipe
            .iter()
            .map(|label| {
                let mut name = Vec::new();
                encode_text(&mut name, label.as_bytes());
                name
            })
            .collect();
        SharedKeys {
            names,
            keys: KeySet::default(),
            key: Vec::new(),
            last_values: Vec::new(),
            last_ends: Vec::new(),
            last: None,
        }
    }

    /// Whether `values` are the values of the key found last.
    fn same_as_last<'v>(&self, values: impl Iterator<Item = &'v str>) -> bool {
        let mut start = 0;
        let mut ends = self.last_ends.iter();
        for value in values {
            let Some(&end) = ends.next() else {
                return false;
            };
            let kept = self.last_values.get(start..end).unwrap_or_default();
            if !same_bytes(kept, value.as_bytes()) {
                return false;
            }
            start = end;
        }
        ends.next().is_none()
    }

    /// The id of the key of these label values (one per label, in name order).
    fn id_of<'v>(&mut self, values: impl Iterator<Item = &'v str> + Clone) -> usize {
        if let Some(last) = self.last
            && self.same_as_last(values.clone())
        {
            return last;
        }
        self.key.clear();
        self.last_values.clear();
        self.last_ends.clear();
        for (name, value) in self.names.iter().zip(values) {
            if !value.is_empty() {
                // As `encode_pair` writes the pair.
                self.key.extend_from_slice(name);
                encode_text(&mut self.key, value.as_bytes());
            }
            self.last_values.extend_from_slice(value.as_bytes());
            self.last_ends.push(self.last_values.len());
        }
        let (id, _) = self.keys.insert(&self.key);
        self.last = Some(id);
        id
    }
}

/// Where each of a rule's labels gets its value, in label name order, if none needs minijinja
/// per node: each is `{{ field }}` or reads no field at all.
fn direct_labels<'r>(
    rule: &'r CompiledRule,
    templates: &templates::Templates,
) -> Option<Vec<(&'r str, &'r TemplateId, LabelSource)>> {
    let Shape::Nodes { fields, .. } = &rule.shape else {
        return None;
    };
    // A templated name is checked as it is rendered, once per distinct field texts.
    if rule.name.is_template() {
        return None;
    }
    let is_field = |name: &str| fields.iter().position(|(field, _)| field.as_str() == name);
    let mut constants = 0;
    let mut direct = Vec::with_capacity(rule.labels.len());
    for (label, id) in &rule.labels {
        let source = match templates.plain_variable(id).filter(|v| *v != "input") {
            Some(variable) => LabelSource::Field(is_field(variable)?),
            None => {
                // A template that reads only `input` and `vars` (unless a field is named
                // `vars`, which hides the global) gives the same text at every node.
                let constant = templates.variables(id).iter().all(|variable| {
                    let root = variable.split('.').next().unwrap_or_default();
                    root == "input" || (root == "vars" && is_field("vars").is_none())
                });
                if !constant {
                    return None;
                }
                constants += 1;
                LabelSource::Constant(constants - 1)
            }
        };
        direct.push((label.as_str(), id, source));
    }
    direct.sort_by(|a, b| a.0.cmp(b.0));
    Some(direct)
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
        let direct = direct_labels(rule, templates);
        let encoded_names = direct
            .iter()
            .flatten()
            .map(|(label, _, _)| {
                let mut name = Vec::new();
                encode_text(&mut name, label.as_bytes());
                name
            })
            .collect();
        Some(RuleState {
            rule,
            templates,
            input: input.clone(),
            accumulator: Accumulator::new(reduce),
            labels: LabelCache::default(),
            direct,
            constants: None,
            key: Vec::new(),
            encoded_names,
            shared_groups: Vec::new(),
        })
    }

    /// The rule's label names in name order, when every label is a field as it is (`{{ kind
    /// }}`): the rules with the same recipe can share their keys ([`SharedKeys`]). `None` for
    /// a rule without labels or with any other label.
    pub fn label_recipe(&self) -> Option<Vec<&'r str>> {
        let direct = self.direct.as_ref().filter(|direct| !direct.is_empty())?;
        direct
            .iter()
            .map(|(label, _, source)| match source {
                LabelSource::Field(_) => Some(*label),
                LabelSource::Constant(_) => None,
            })
            .collect()
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
        self.observe_sharing(skips, texts, number, node, None)
    }

    /// [`RuleState::observe`], the node's key found in `shared` for a rule whose
    /// [`RuleState::label_recipe`] is `shared`'s: there another rule observing the node may
    /// have found it already, and the rule finds its group by the key's id.
    pub fn observe_sharing(
        &mut self,
        skips: &mut Skips,
        texts: &[impl AsRef<str>],
        number: Option<f64>,
        node: N,
        shared: Option<&mut SharedKeys>,
    ) -> Result<(), EvalError> {
        let group = match (shared, self.direct.is_some()) {
            (Some(shared), true) => self.shared_group(texts, shared),
            (None, true) => self.direct_group(texts, &node)?,
            (_, false) => match self.rendered_group(texts, &node)? {
                Ok(group) => group,
                Err(skip) => {
                    skips.add(skip, || node.path());
                    return Ok(());
                }
            },
        };
        if let Some(given) = &self.rule.given {
            return self.observe_given(skips, given, group, texts, number, node);
        }
        self.observe_group(skips, group, number, node)
    }

    /// Adds a node of a histogram or summary the store gives ready-made: its bound, sum and
    /// count read as numbers (a text that gives none is what `on_invalid` says).
    fn observe_given(
        &mut self,
        skips: &mut Skips,
        given: &'r Given,
        group: GroupId,
        texts: &[impl AsRef<str>],
        number: Option<f64>,
        node: N,
    ) -> Result<(), EvalError> {
        let rule = self.rule;
        let read = |reading: &'r GivenReading| {
            let text = texts.get(reading.index).map_or("", AsRef::as_ref);
            reading.number(text).map_err(|why| (reading, text, why))
        };
        let point = (|| {
            Ok(GivenPoint {
                bound: read(&given.bound)?,
                value: number.unwrap_or(f64::NAN),
                sum: given.sum.as_ref().map(read).transpose()?,
                count: given.count.as_ref().map(read).transpose()?,
            })
        })();
        match point {
            Ok(point) => {
                self.accumulator.observe_given(group, point, node);
                Ok(())
            }
            Err((reading, text, why)) => {
                let (_, query) = rule.field_query(reading.index);
                match rule.policies.on_invalid {
                    OnInvalid::Skip => {
                        let skip = Skip {
                            reason: SkipReason::Invalid,
                            detail: format!(
                                "`{}: {query}` gave {:?}, which {why}",
                                reading.key,
                                shorten(text)
                            ),
                        };
                        skips.add(skip, || node.path());
                        Ok(())
                    }
                    OnInvalid::Error => Err(error(
                        rule,
                        node.node(),
                        EvalErrorKind::Invalid {
                            field: reading.key.to_owned(),
                            query: query.to_owned(),
                            text: shorten(text),
                            why,
                        },
                    )),
                }
            }
        }
    }

    /// The group of a node whose labels are all fields as they are, by its key in `shared`.
    fn shared_group(&mut self, texts: &[impl AsRef<str>], shared: &mut SharedKeys) -> GroupId {
        let values = self
            .direct
            .iter()
            .flatten()
            .map(|(_, _, source)| match *source {
                LabelSource::Field(i) => texts.get(i).map_or("", AsRef::as_ref),
                LabelSource::Constant(_) => "",
            });
        let id = shared.id_of(values);
        if let Some(group) = self.shared_groups.get(id).copied().flatten() {
            return group;
        }
        let group = self.accumulator.group_of_key(shared.keys.get(id));
        if self.shared_groups.len() <= id {
            self.shared_groups.resize(id + 1, None);
        }
        if let Some(slot) = self.shared_groups.get_mut(id) {
            *slot = Some(group);
        }
        group
    }

    /// Adds a node to its group, and applies `on_duplicate`.
    fn observe_group(
        &mut self,
        skips: &mut Skips,
        group: GroupId,
        number: Option<f64>,
        node: N,
    ) -> Result<(), EvalError> {
        let rule = self.rule;
        match self.accumulator.observe_group(group, number, node) {
            Ok(Observed::Added) => Ok(()),
            Ok(Observed::Dropped(dropped)) => {
                let skip = duplicate_skip(rule, &self.accumulator.labels(group));
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

    /// The context of the rule's templates at a node with these field texts.
    fn context(&self, texts: &[impl AsRef<str>]) -> minijinja::Value {
        let names = match &self.rule.shape {
            Shape::Nodes { fields, .. } => fields.as_slice(),
            _ => &[],
        };
        templates::context(
            names
                .iter()
                .map(|(name, _)| name.as_str())
                .zip(texts.iter().map(AsRef::as_ref)),
            &self.input,
        )
    }

    /// The group of a node whose labels are fields as they are or constants: its label set
    /// key is written from the texts, without templates.
    fn direct_group(&mut self, texts: &[impl AsRef<str>], node: &N) -> Result<GroupId, EvalError> {
        let rule = self.rule;
        if self.constants.is_none() {
            let context = self.context(texts);
            let mut constants = Vec::new();
            for (label, id, source) in self.direct.iter().flatten() {
                if let LabelSource::Constant(_) = source {
                    let text = self.templates.render(id, &context).map_err(|message| {
                        let label = (*label).to_owned();
                        error(
                            rule,
                            node.node(),
                            EvalErrorKind::Template { label, message },
                        )
                    })?;
                    constants.push(text);
                }
            }
            self.constants = Some(constants);
        }
        let constants = self.constants.as_deref().unwrap_or_default();
        self.key.clear();
        for ((_, _, source), name) in self.direct.iter().flatten().zip(&self.encoded_names) {
            let value = match *source {
                LabelSource::Field(i) => texts.get(i).map_or("", AsRef::as_ref),
                LabelSource::Constant(i) => constants.get(i).map_or("", String::as_str),
            };
            if !value.is_empty() {
                // As `encode_pair` writes the pair.
                self.key.extend_from_slice(name);
                encode_text(&mut self.key, value.as_bytes());
            }
        }
        Ok(self.accumulator.group_of_key(&self.key))
    }

    /// The group of a node whose labels need minijinja: rendered once per distinct field
    /// texts, found again through the [`LabelCache`]. A templated name is checked as it is
    /// rendered: an invalid one fails the input, or, with `on_invalid: skip`, gives the skip
    /// that leaves the node out (and is rendered again at the next node that gives it).
    fn rendered_group(
        &mut self,
        texts: &[impl AsRef<str>],
        node: &N,
    ) -> Result<Result<GroupId, Skip>, EvalError> {
        if let Some(group) = self.labels.get(texts) {
            return Ok(Ok(group));
        }
        let rule = self.rule;
        let context = self.context(texts);
        let rendered = render_labels(self.templates, &rule.labels, &context)
            .map_err(|kind| error(rule, node.node(), kind))?;
        if rule.name.is_template() {
            let name = rendered
                .iter()
                .find(|(label, _)| label == METRIC_NAME_LABEL)
                .map_or("", |(_, name)| name.as_str());
            if let Err(why) = rendered_name(name) {
                return match rule.policies.on_invalid {
                    OnInvalid::Skip => Ok(Err(Skip {
                        reason: SkipReason::Invalid,
                        detail: format!("the name template gave {why}"),
                    })),
                    OnInvalid::Error => {
                        Err(error(rule, node.node(), EvalErrorKind::InvalidName { why }))
                    }
                };
            }
        }
        let group = self.accumulator.group(&LabelSet::new(rendered));
        self.labels.insert(texts, group);
        Ok(Ok(group))
    }

    /// The rule's samples once every node is observed: `on_empty` decides what a rule without
    /// any gives.
    ///
    /// A series of a ready-made histogram or summary that is not valid is what `on_invalid`
    /// says: left out (into `skips`), or the rule's error.
    pub fn finish(self, skips: &mut Skips) -> Result<Samples, EvalError> {
        if self.accumulator.is_empty() {
            return Ok(empty_sample(self.rule, self.templates, &self.input)
                .map_err(|kind| error(self.rule, None, kind))?
                .into_iter()
                .collect());
        }
        let (samples, bad) = self.accumulator.finish_checked();
        let rule = self.rule;
        let what = if rule.kind == crate::model::sample::MetricType::Histogram {
            "histogram"
        } else {
            "summary"
        };
        for BadSeries {
            labels,
            node,
            why,
            nodes,
        } in bad
        {
            match rule.policies.on_invalid {
                OnInvalid::Skip => {
                    // Every node of the series is left out; the first one names it.
                    let skip = Skip {
                        reason: SkipReason::Invalid,
                        detail: format!(
                            "the series {} is not a valid {what}: {why}",
                            labels.for_message()
                        ),
                    };
                    for _ in 0..nodes {
                        skips.add(skip.clone(), || node.path());
                    }
                }
                OnInvalid::Error => {
                    return Err(error(
                        rule,
                        node.node(),
                        EvalErrorKind::BadSeries { labels, what, why },
                    ));
                }
            }
        }
        Ok(samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{compile, file};

    fn rules(yaml: &str) -> CompiledRules {
        let vars = [("region".to_owned(), "eu".to_owned())].into();
        compile::compile_with_vars(file::parse(yaml).expect("valid YAML"), &vars)
            .expect("valid rules")
    }

    /// The label sets a rule's state gives for nodes with these field texts, sorted.
    fn label_sets(rules: &CompiledRules, nodes: &[[&str; 2]]) -> (bool, Vec<String>) {
        let input = templates::input_value(std::path::Path::new("/srv/store.xml"));
        let rule = &rules.rules[0];
        let mut state: RuleState<'_, Option<String>> =
            RuleState::new(rule, &rules.templates, &input).expect("a node-level rule");
        let direct = state.direct.is_some();
        let mut skips = Skips::default();
        for texts in nodes {
            state
                .observe(&mut skips, texts, Some(1.0), None)
                .expect("no duplicates");
        }
        let mut sets: Vec<String> = state
            .finish(&mut skips)
            .expect("samples")
            .to_vec()
            .into_iter()
            .map(|sample| sample.labels.to_string())
            .collect();
        sets.sort();
        (direct, sets)
    }

    const RULE: &str = r#"
version: 1
metrics:
  - name: m
    help: h
    type: gauge
    select: /store/row
    fields: { id: "@id", kind: "@kind" }
    labels:
LABELS
    aggregate: count
"#;

    #[test]
    fn plain_fields_and_per_input_labels_skip_the_templates_and_give_the_same_labels() {
        let nodes = [["1", "a"], ["2", ""], ["1", "a"], ["", "b\"\n\u{0}"]];
        let direct = rules(&RULE.replace(
            "LABELS",
            "      id: \"{{ id }}\"\n      kind: \"{{kind}}\"\n      path: \"{{ input.path }}\"\n      \
             region: \"{{ vars.region | upper }}\"\n      shop: paris\n      none: \"\"",
        ));
        // The same labels, each through minijinja: `~ ""` makes the fields templates.
        let rendered = rules(&RULE.replace(
            "LABELS",
            "      id: \"{{ id ~ '' }}\"\n      kind: \"{{ kind ~ '' }}\"\n      path: \"{{ input.path }}\"\n      \
             region: \"{{ vars.region | upper }}\"\n      shop: paris\n      none: \"\"",
        ));
        let (fast, fast_sets) = label_sets(&direct, &nodes);
        let (slow, slow_sets) = label_sets(&rendered, &nodes);
        assert!(fast && !slow);
        assert_eq!(fast_sets, slow_sets);
        assert_eq!(
            fast_sets,
            [
                r#"{id="1",kind="a",path="/srv/store.xml",region="EU",shop="paris"}"#,
                r#"{id="2",path="/srv/store.xml",region="EU",shop="paris"}"#,
                r#"{kind="b\"\n\0",path="/srv/store.xml",region="EU",shop="paris"}"#,
            ]
        );
    }

    #[test]
    fn a_templated_name_renders_per_distinct_fields_and_a_fixed_name_keeps_the_fast_path() {
        let labels = "      id: \"{{ id }}\"";
        let fixed = rules(&RULE.replace("LABELS", labels));
        let templated = rules(
            &RULE
                .replace("LABELS", labels)
                .replace("name: m", "name: \"m_{{ kind }}\""),
        );
        let nodes = [["1", "a"], ["1", "b"], ["1", "a"]];
        let (fast, _) = label_sets(&fixed, &nodes);
        let (direct, sets) = label_sets(&templated, &nodes);
        assert!(fast && !direct);
        assert_eq!(
            sets,
            [
                r#"{__name__="m_a",id="1"}"#.to_owned(),
                r#"{__name__="m_b",id="1"}"#.to_owned()
            ]
        );
    }

    #[test]
    fn absent_texts_and_field_policies_decide_what_a_node_gets() {
        let rules = rules(
            r#"
version: 1
absent: ["N/A", ""]
metrics:
  - name: m
    help: h
    type: gauge
    select: /gpus/gpu
    fields:
      id: "@id"
      mode: { query: mode, default: unknown }
      fan: { query: fan, on_missing: zero }
    labels: { id: "{{ id }}", mode: "{{ mode }}", fan: "{{ fan }}" }
    value: power
    on_missing: skip
  - name: n
    help: h
    type: gauge
    select: /gpus/gpu
    fields: { id: "@id" }
    labels: { id: "{{ id }}" }
    value: power
    absent: []
"#,
        );
        let (m, n) = (&rules.rules[0], &rules.rules[1]);
        let use_text = |text: &str| Outcome::Use(text.to_owned());
        // Fields are in name order: fan, id, mode.
        // `id`: the rule's `on_missing: skip`, as absent (counted only) or missing (reported).
        assert!(matches!(
            field(m, 1, Some(" N/A\t".to_owned())),
            Outcome::Skip(Skip {
                reason: SkipReason::Absent,
                ..
            })
        ));
        assert!(matches!(
            field(m, 1, None),
            Outcome::Skip(Skip {
                reason: SkipReason::Missing,
                ..
            })
        ));
        assert_eq!(field(m, 1, Some("n/a".to_owned())), use_text("n/a"));
        // `mode`: its default, for a missing field and for an absent text alike.
        assert_eq!(field(m, 2, None), use_text("unknown"));
        assert_eq!(field(m, 2, Some("N/A".to_owned())), use_text("unknown"));
        assert_eq!(field(m, 2, Some("Default".to_owned())), use_text("Default"));
        // `fan`: its own `on_missing: zero`; "" is listed too.
        assert_eq!(field(m, 0, Some(String::new())), use_text(""));
        assert_eq!(field(m, 0, None), use_text(""));
        // The value: the rule's policy; `n` lists nothing, so N/A is a text to parse.
        assert!(matches!(
            value(m, Reading::Text(Cow::Borrowed("N/A"))),
            Outcome::Skip(Skip {
                reason: SkipReason::Absent,
                ..
            })
        ));
        assert_eq!(
            value(m, Reading::Text(Cow::Borrowed("7"))),
            Outcome::Use(Some(7.0))
        );
        assert!(matches!(value(m, Reading::Number(f64::NAN)), Outcome::Use(Some(v)) if v.is_nan()));
        match value(n, Reading::Text(Cow::Borrowed("N/A"))) {
            Outcome::Fail(kind) => {
                let message = error(n, None, kind).to_string();
                assert!(message.contains("is not a number"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match value(n, Reading::Missing) {
            Outcome::Fail(kind) => {
                let message = error(n, None, kind).to_string();
                assert!(message.contains("selected nothing"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // `resolve` applies the same, field by field, then the value.
        let mut kept = vec![String::new(); 3];
        let outcome = resolve::<String, ()>(
            m,
            [
                Ok(None),
                Ok(Some("1".to_owned())),
                Ok(Some("N/A".to_owned())),
            ],
            |i, text| kept[i] = text,
            || Ok(Reading::Text(Cow::Borrowed("70.5"))),
        );
        assert_eq!(outcome, Ok(Outcome::Use(Some(70.5))));
        assert_eq!(kept, ["", "1", "unknown"]);
        let outcome = resolve::<String, ()>(
            m,
            [Ok(None), Ok(Some("N/A".to_owned())), Ok(None)],
            |_, _| {},
            || unreachable!("the field `id` decides"),
        );
        assert!(matches!(
            outcome,
            Ok(Outcome::Skip(Skip {
                reason: SkipReason::Absent,
                ..
            }))
        ));
    }

    #[test]
    fn an_absent_text_under_on_missing_error_names_the_list() {
        let rules = rules(
            "version: 1\nabsent: [N/A]\nmetrics:\n  - { name: m, help: h, type: gauge, \
             select: /a/b, fields: { k: '@k' }, labels: { k: '{{ k }}' }, value: v }\n",
        );
        let rule = &rules.rules[0];
        match field(rule, 0, Some("N/A".to_owned())) {
            Outcome::Fail(kind) => assert_eq!(
                error(rule, None, kind).to_string(),
                "rule metrics[0] (m): `fields.k: @k` gave \"N/A\", which `absent` lists as no value; set \
                 `on_missing: skip` or `zero` on the rule or the field, a `default` on the \
                 field, or filter such nodes out in `select`"
            ),
            other => panic!("{other:?}"),
        }
        match value(rule, Reading::Text(Cow::Borrowed("N/A"))) {
            Outcome::Fail(kind) => {
                let message = error(rule, None, kind).to_string();
                assert!(
                    message.contains("`value: v` gave \"N/A\", which `absent`"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plain_decimals_give_what_the_full_parser_gives() {
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "+0",
            "0.0",
            "-0.0",
            "5.",
            ".5",
            "-.5",
            "+.5",
            ".",
            "-",
            "+",
            "",
            "1.2.3",
            "1e3",
            "1E3",
            "NaN",
            "+Inf",
            "-Inf",
            "Inf",
            " 1",
            "1 ",
            "0x10",
            "1,5",
            "--1",
            "+-1",
            "007",
            "0.1",
            "0.2",
            "0.3",
            "2.254",
            "156.518",
            "999999999999999",
            "9999999999999999",
            "0.000000000000001",
            "0.0000000000000001",
            "123456789012345",
            "1234567890123456",
            "12345678.9012345",
            "1234567890.12345678",
            "9007199254740993",
            "٣",
            "1_000",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        // Many decimals of every length and scale, from a fixed pseudo-random sequence.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 18) as usize + 1;
            let mut text = String::new();
            match (seed >> 8) % 4 {
                0 => text.push('-'),
                1 => text.push('+'),
                _ => {}
            }
            let digits = format!("{:020}", seed >> 3);
            text.push_str(&digits[20 - len.min(20)..]);
            let dot = (seed >> 16) as usize % (len + 2);
            if dot <= len {
                text.insert(text.len() - dot, '.');
            }
            texts.push(text);
        }
        let mut fast = 0;
        for text in &texts {
            if let Some(number) = plain_decimal(text) {
                fast += 1;
                let full = parse_number(text).expect("a plain decimal is a number");
                assert_eq!(number.to_bits(), full.to_bits(), "{text:?}");
            }
        }
        assert!(fast > 100_000, "{fast}");
        for text in [
            "1e3",
            "NaN",
            "+Inf",
            "",
            "-",
            ".",
            " 1",
            "1.2.3",
            "9999999999999999",
        ] {
            assert_eq!(plain_decimal(text), None, "{text:?}");
        }
    }

    #[test]
    fn rules_sharing_their_keys_give_what_each_gives_alone() {
        // Three rules with the labels `id` and `kind` from fields in different places, and one
        // whose labels read a constant too, which has no recipe.
        let rules = rules(
            r#"
version: 1
metrics:
  - name: a
    help: h
    type: gauge
    select: /store/row
    fields: { id: "@id", kind: "@kind" }
    labels: { kind: "{{ kind }}", id: "{{ id }}" }
    aggregate: count
  - name: b
    help: h
    type: gauge
    select: /store/row
    fields: { kind: "@kind", id: "@id", zone: "@zone" }
    labels: { id: "{{ id }}", kind: "{{ kind }}" }
    value: "@size"
    aggregate: sum
  - name: c
    help: h
    type: gauge
    select: /store/row
    fields: { kind: "@kind", id: "@id" }
    labels: { id: "{{ id }}", kind: "{{ kind }}" }
    value: "@size"
    aggregate: max
  - name: d
    help: h
    type: gauge
    select: /store/row
    fields: { kind: "@kind", id: "@id" }
    labels: { id: "{{ id }}", kind: "{{ kind }}", shop: paris }
    aggregate: count
"#,
        );
        let input = templates::input_value(std::path::Path::new("store.xml"));
        let states = || -> Vec<RuleState<'_, Option<String>>> {
            rules
                .rules
                .iter()
                .map(|rule| {
                    RuleState::new(rule, &rules.templates, &input).expect("a node-level rule")
                })
                .collect()
        };
        let (mut alone, mut sharing) = (states(), states());
        let recipes: Vec<_> = sharing.iter().map(RuleState::label_recipe).collect();
        assert_eq!(recipes[0], Some(vec!["id", "kind"]));
        assert!(recipes[1] == recipes[0] && recipes[2] == recipes[0]);
        assert_eq!(recipes[3], None);
        let mut shared = SharedKeys::new(&["id", "kind"]);
        let values = ["", "1", "2", "a\0b", "12", "x", "x\u{1}", "y"];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut skips = Skips::default();
        for _ in 0..5_000 {
            let id = values[next() as usize % values.len()];
            let kind = values[next() as usize % values.len()];
            let size = Some((next() % 100) as f64);
            // Each rule's field texts in field name order; some nodes go to one rule only.
            let texts: [&[&str]; 4] = [&[id, kind], &[id, kind, "z"], &[id, kind], &[id, kind]];
            let number = [None, size, size, None];
            let some = next() % 4;
            for (i, (alone, sharing)) in alone.iter_mut().zip(&mut sharing).enumerate() {
                if some == 0 && i != 1 {
                    continue;
                }
                alone
                    .observe(&mut skips, texts[i], number[i], None)
                    .expect("observed");
                let keys = recipes[i].is_some().then_some(&mut shared);
                sharing
                    .observe_sharing(&mut skips, texts[i], number[i], None, keys)
                    .expect("observed");
            }
        }
        for (alone, sharing) in alone.into_iter().zip(sharing) {
            assert_eq!(
                alone.finish(&mut Skips::default()).expect("samples"),
                sharing.finish(&mut Skips::default()).expect("samples")
            );
        }
    }

    #[test]
    fn a_label_template_error_names_the_first_node_on_either_path() {
        for labels in [
            "      id: \"{{ id }}\"\n      bad: \"{{ input.path.deeper }}\"",
            "      id: \"{{ id | upper }}\"\n      bad: \"{{ input.path.deeper }}\"",
        ] {
            let rules = rules(&RULE.replace("LABELS", labels));
            let input = templates::input_value(std::path::Path::new("store.xml"));
            let rule = &rules.rules[0];
            let mut state: RuleState<'_, Option<String>> =
                RuleState::new(rule, &rules.templates, &input).expect("a node-level rule");
            let error = state
                .observe(
                    &mut Skips::default(),
                    &["1", "a"],
                    None,
                    Some("/store/row[1]".into()),
                )
                .expect_err("the template fails");
            assert_eq!(error.node.as_deref(), Some("/store/row[1]"), "{labels}");
            assert!(
                matches!(*error.kind, EvalErrorKind::Template { ref label, .. } if label == "bad"),
                "{error:?}"
            );
        }
    }
}
