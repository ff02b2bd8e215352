//! Evaluate: compiled rules and a parsed document to samples (the DOM engine).
//!
//! Each rule's `select` is evaluated once against the document; its fields and value are then
//! evaluated per selected node, its labels rendered per node, and the observations grouped by
//! [`crate::aggregate`]. Nodes are visited in document order, so messages about a node are the
//! same on every run. sxd-xpath's own document ordering builds a map of the whole document on
//! every call; this engine builds one [`DocumentOrder`] per document, only when needed.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use sxd_document::dom::Document;
use sxd_xpath::nodeset::Node;
use sxd_xpath::{Context, Value};

use crate::aggregate::{Accumulator, DuplicateNode, Observed};
use crate::compile::{CompiledRule, CompiledRules, Shape};
use crate::labels::{self, TemplateId};
use crate::policy::{self, OnEmpty, Outcome, Reading, Skip, SkipReason, Skips};
use crate::rulefile::{LabelName, XPathQuery};
use crate::sample::{LabelSet, Sample, SampleValue};

/// The samples one rule gave for one input.
#[derive(Debug)]
pub struct RuleSamples {
    /// Index of the rule in [`CompiledRules::rules`].
    pub rule: usize,
    /// Its samples, top-level labels included.
    pub samples: Vec<Sample>,
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
    /// The value text does not give a number (or, in a state set, a state).
    Invalid {
        /// The query.
        query: String,
        /// The text, shortened.
        text: String,
        /// Why, a phrase completing "which ...".
        why: String,
    },
    /// A label template failed to render.
    Template {
        /// The label.
        label: String,
        /// minijinja's message.
        message: String,
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
                 `on_missing: zero` on the rule, or filter such nodes out in `select`"
            ),
            EvalErrorKind::Invalid { query, text, why } => {
                write!(f, "`value: {query}` gave {text:?}, which {why}")
            }
            EvalErrorKind::Template { label, message } => {
                write!(f, "the template of label `{label}` failed: {message}")
            }
            EvalErrorKind::Duplicate { labels, first } => write!(
                f,
                "this node and {first} both give the series {labels}; add a label that tells \
                 them apart, an `aggregate`, or `on_duplicate: first`, `last` or `sum`"
            ),
        }
    }
}

impl std::error::Error for EvalError {}

/// Evaluates the rules at `which` (indexes into `rules.rules`) against one document. `input`
/// is the path the document was read from, as the user gave it (the templates' `input`).
pub fn evaluate(
    rules: &CompiledRules,
    which: &[usize],
    document: &Document<'_>,
    input: &Path,
) -> Result<Vec<RuleSamples>, EvalError> {
    merge_adjacent_text(document);
    let mut context = Context::new();
    for (prefix, uri) in &rules.namespaces {
        context.set_namespace(prefix, uri);
    }
    let input_value = labels::input_value(input);
    let global = render_global_labels(rules, &input_value)?;
    let mut order = None;
    let mut out = Vec::with_capacity(rules.rules.len());
    for &index in which {
        let Some(rule) = rules.rules.get(index) else {
            continue;
        };
        let mut run = RuleRun {
            rule,
            templates: &rules.templates,
            input: &input_value,
            context: &context,
            document,
            order: &mut order,
        };
        let mut skips = Skips::default();
        let samples = run.samples(&global, &mut skips)?;
        out.push(RuleSamples {
            rule: index,
            samples,
            skips,
        });
    }
    Ok(out)
}

/// Renders the top-level labels for one input.
pub fn render_global_labels(
    rules: &CompiledRules,
    input: &minijinja::Value,
) -> Result<Vec<(String, String)>, EvalError> {
    let context = labels::context([], input);
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
    templates: &labels::Templates,
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
    templates: &labels::Templates,
    input: &minijinja::Value,
) -> Result<Option<Sample>, EvalErrorKind> {
    if rule.policies.on_empty != OnEmpty::Zero {
        return Ok(None);
    }
    let context = labels::context([], input);
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
                crate::compile::Reduce::Each(policy)
                | crate::compile::Reduce::States {
                    on_duplicate: policy,
                    ..
                },
            ..
        } => policy.as_str(),
        _ => "",
    };
    Skip {
        reason: SkipReason::Duplicate,
        detail: format!("another node gave the series {labels} too (`on_duplicate: {policy}`)"),
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

/// One rule being evaluated against one document.
struct RuleRun<'a, 'd> {
    rule: &'a CompiledRule,
    templates: &'a labels::Templates,
    input: &'a minijinja::Value,
    context: &'a Context<'d>,
    document: &'a Document<'d>,
    order: &'a mut Option<DocumentOrder<'d>>,
}

impl<'d> RuleRun<'_, 'd> {
    fn error(&self, node: Option<Node<'d>>, kind: EvalErrorKind) -> EvalError {
        EvalError {
            rule: self.rule.id.clone(),
            metric: self.rule.name.as_str().to_owned(),
            // The root stands for "the document": a document-level rule names no node.
            node: node
                .filter(|n| !matches!(n, Node::Root(_)))
                .map(location_path),
            kind: Box::new(kind),
        }
    }

    fn run_query(
        &self,
        field: &str,
        query: &XPathQuery,
        node: Node<'d>,
    ) -> Result<Value<'d>, EvalError> {
        query
            .compiled()
            .evaluate(self.context, node)
            .map_err(|err| {
                self.error(
                    Some(node),
                    EvalErrorKind::XPath {
                        field: field.to_owned(),
                        query: query.text().to_owned(),
                        message: err.to_string(),
                    },
                )
            })
    }

    fn order(&mut self) -> &DocumentOrder<'d> {
        self.order
            .get_or_insert_with(|| DocumentOrder::new(*self.document))
    }

    /// The string a field or value query gives at a node; `None` for an empty node-set.
    fn string_of(&mut self, value: Value<'d>) -> Option<String> {
        match value {
            Value::Nodeset(nodes) => match nodes.size() {
                0 => None,
                1 => nodes.iter().next().map(|n| n.string_value()),
                _ => {
                    let order = self.order();
                    nodes
                        .iter()
                        .min_by_key(|n| order.position(*n))
                        .map(|n| n.string_value())
                }
            },
            Value::String(s) => Some(s),
            Value::Number(n) => Some(crate::exposition::format_value(n)),
            Value::Boolean(b) => Some(b.to_string()),
        }
    }

    /// What the value query gives at a node.
    fn value_at(&mut self, query: &XPathQuery, node: Node<'d>) -> Result<Got, EvalError> {
        Ok(match self.run_query("value", query, node)? {
            Value::Number(n) => Got::Number(n),
            Value::Boolean(b) => Got::Number(if b { 1.0 } else { 0.0 }),
            other => match self.string_of(other) {
                Some(text) => Got::Text(text),
                None => Got::Missing,
            },
        })
    }

    /// `sum(NODES)` as XPath defines it, adding in document order.
    fn sum_in_document_order(
        &mut self,
        nodes: &XPathQuery,
        root: Node<'d>,
    ) -> Result<Option<f64>, EvalError> {
        match self.run_query("value", nodes, root)? {
            Value::Nodeset(set) => {
                let mut nodes: Vec<Node<'d>> = set.iter().collect();
                if nodes.len() > 1 {
                    let order = self.order();
                    nodes.sort_by_key(|n| order.position(*n));
                }
                Ok(Some(
                    nodes
                        .iter()
                        .map(|n| crate::streamable::xpath_number(&n.string_value()))
                        .sum(),
                ))
            }
            // Not a node-set: the caller evaluates `sum()` itself, which reports the error.
            _ => Ok(None),
        }
    }

    fn samples(
        &mut self,
        global: &[(String, String)],
        skips: &mut Skips,
    ) -> Result<Vec<Sample>, EvalError> {
        let root: Node<'d> = self.document.root().into();
        let rule = self.rule;
        let samples = match &rule.shape {
            Shape::Document { value, sum_of } => {
                let sum = match sum_of {
                    Some(nodes) => self.sum_in_document_order(nodes, root)?,
                    None => None,
                };
                let got = match sum {
                    Some(sum) => Got::Number(sum),
                    None => self.value_at(value, root)?,
                };
                match policy::value(rule, got.reading()) {
                    Outcome::Use(v) => {
                        let context = labels::context([], self.input);
                        let labels = render_labels(self.templates, &rule.labels, &context)
                            .map_err(|kind| self.error(None, kind))?;
                        vec![Sample {
                            labels: LabelSet::new(labels),
                            value: SampleValue::Single(v.unwrap_or(f64::NAN)),
                        }]
                    }
                    Outcome::Skip(skip) => {
                        skips.add(skip, || "/".to_owned());
                        Vec::new()
                    }
                    Outcome::Fail(kind) => return Err(self.error(None, kind)),
                }
            }
            Shape::Nodes {
                select,
                fields,
                value,
                reduce,
            } => {
                let nodes = match self.run_query("select", select, root)? {
                    Value::Nodeset(nodes) => nodes,
                    other => {
                        return Err(self.error(
                            None,
                            EvalErrorKind::SelectNotNodes {
                                query: select.text().to_owned(),
                                got: describe(&other),
                            },
                        ));
                    }
                };
                let mut nodes: Vec<Node<'d>> = nodes.iter().collect();
                if nodes.len() > 1 {
                    let order = self.order();
                    nodes.sort_by_key(|n| order.position(*n));
                }
                let mut acc = Accumulator::new(reduce);
                let mut field_values = Vec::with_capacity(fields.len());
                'nodes: for node in nodes {
                    field_values.clear();
                    for (index, (name, query)) in fields.iter().enumerate() {
                        let field = format!("fields.{}", name.as_str());
                        let result = self.run_query(&field, query, node)?;
                        let text = self.string_of(result);
                        match policy::field(rule, index, text) {
                            Outcome::Use(text) => field_values.push(text),
                            Outcome::Skip(skip) => {
                                skips.add(skip, || location_path(node));
                                continue 'nodes;
                            }
                            Outcome::Fail(kind) => return Err(self.error(Some(node), kind)),
                        }
                    }
                    let got = match value {
                        Some(query) => self.value_at(query, node)?,
                        None => Got::Missing,
                    };
                    let v = match policy::value(rule, got.reading()) {
                        Outcome::Use(v) => v,
                        Outcome::Skip(skip) => {
                            skips.add(skip, || location_path(node));
                            continue 'nodes;
                        }
                        Outcome::Fail(kind) => return Err(self.error(Some(node), kind)),
                    };
                    let context = labels::context(
                        fields
                            .iter()
                            .map(|(name, _)| name.as_str())
                            .zip(field_values.iter().map(String::as_str)),
                        self.input,
                    );
                    let labels = LabelSet::new(
                        render_labels(self.templates, &rule.labels, &context)
                            .map_err(|kind| self.error(Some(node), kind))?,
                    );
                    match acc.observe(&labels, v, node) {
                        Ok(Observed::Added) => {}
                        Ok(Observed::Dropped(dropped)) => {
                            skips.add(duplicate_skip(rule, &labels), || location_path(dropped));
                        }
                        Err(DuplicateNode {
                            labels,
                            first,
                            second,
                        }) => {
                            return Err(self.error(
                                Some(second),
                                EvalErrorKind::Duplicate {
                                    labels,
                                    first: location_path(first),
                                },
                            ));
                        }
                    }
                }
                if acc.is_empty() {
                    empty_sample(rule, self.templates, self.input)
                        .map_err(|kind| self.error(None, kind))?
                        .into_iter()
                        .collect()
                } else {
                    acc.finish()
                }
            }
        };
        Ok(with_global_labels(samples, global))
    }
}

/// What a value query gave, owned.
enum Got {
    Missing,
    Text(String),
    Number(f64),
}

impl Got {
    fn reading(&self) -> Reading<'_> {
        match self {
            Got::Missing => Reading::Missing,
            Got::Text(text) => Reading::Text(text),
            Got::Number(n) => Reading::Number(*n),
        }
    }
}

fn describe(value: &Value<'_>) -> String {
    match value {
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {}", crate::exposition::format_value(*n)),
        Value::String(s) => format!("the string {:?}", shorten(s)),
        Value::Nodeset(_) => "nodes".to_owned(),
    }
}

/// Cuts text for an error message, so a huge or secret value is not copied into logs whole.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// Merges adjacent text nodes into one, as the XPath data model has them.
///
/// sxd-document makes one text node per run of characters, CDATA section and entity or
/// character reference, so `<a>x&amp;y</a>` has three; `text()` would then read only `x`.
/// Comments and processing instructions still separate text nodes, as they should.
pub fn merge_adjacent_text(document: &Document<'_>) {
    use sxd_document::dom::ChildOfElement;
    let mut stack: Vec<sxd_document::dom::Element<'_>> = document
        .root()
        .children()
        .into_iter()
        .filter_map(|child| child.element())
        .collect();
    while let Some(element) = stack.pop() {
        let mut run: Option<(sxd_document::dom::Text<'_>, String)> = None;
        let mut merged = Vec::new();
        for child in element.children() {
            match child {
                ChildOfElement::Text(text) => match &mut run {
                    Some((_, joined)) => {
                        joined.push_str(text.text());
                        merged.push(text);
                    }
                    None => run = Some((text, text.text().to_owned())),
                },
                other => {
                    if let Some((first, joined)) = run.take()
                        && joined.len() != first.text().len()
                    {
                        first.set_text(&joined);
                    }
                    if let ChildOfElement::Element(child) = other {
                        stack.push(child);
                    }
                }
            }
        }
        if let Some((first, joined)) = run
            && joined.len() != first.text().len()
        {
            first.set_text(&joined);
        }
        for text in merged {
            text.remove_from_parent();
        }
    }
}

/// The position of every node of a document in document order, built in one walk.
pub struct DocumentOrder<'d> {
    positions: HashMap<Node<'d>, usize>,
}

impl<'d> DocumentOrder<'d> {
    /// Walks the document once (iteratively: no recursion on deep documents).
    // sxd nodes hash by the identity of the DOM node they point to, which never changes while
    // the document lives, so the interior mutability clippy sees cannot change a key's hash.
    #[allow(clippy::mutable_key_type)]
    pub fn new(document: Document<'d>) -> DocumentOrder<'d> {
        let mut positions = HashMap::new();
        let mut stack: Vec<Node<'d>> = vec![document.root().into()];
        while let Some(node) = stack.pop() {
            positions.insert(node, positions.len());
            if let Node::Element(element) = node {
                for attribute in element.attributes() {
                    positions.insert(attribute.into(), positions.len());
                }
            }
            let children = node.children();
            stack.extend(children.into_iter().rev());
        }
        DocumentOrder { positions }
    }

    /// The node's position; nodes not walked (namespace nodes) sort last.
    pub fn position(&self, node: Node<'d>) -> usize {
        self.positions.get(&node).copied().unwrap_or(usize::MAX)
    }
}

/// A location path that finds `node` again, e.g. `/store/row[3]/@size`.
pub fn location_path(node: Node<'_>) -> String {
    let mut steps = Vec::new();
    let mut current = Some(node);
    while let Some(node) = current {
        match node {
            Node::Root(_) => break,
            Node::Element(element) => {
                // The prefix as written: sxd-xpath's `prefixed_name` picks any prefix bound to
                // the namespace, which may not be the one the store uses.
                let local = element.name().local_part();
                let name = match element.preferred_prefix() {
                    Some(prefix) => format!("{prefix}:{local}"),
                    None => local.to_owned(),
                };
                if matches!(node.parent(), Some(Node::Root(_))) {
                    steps.push(name);
                } else {
                    let before = node
                        .preceding_siblings()
                        .iter()
                        .filter(|s| matches!(s, Node::Element(e) if e.name() == element.name()))
                        .count();
                    steps.push(format!("{name}[{}]", before + 1));
                }
            }
            Node::Attribute(attribute) => {
                let local = attribute.name().local_part();
                steps.push(match attribute.preferred_prefix() {
                    Some(prefix) => format!("@{prefix}:{local}"),
                    None => format!("@{local}"),
                })
            }
            Node::Text(_) => {
                let before = node
                    .preceding_siblings()
                    .iter()
                    .filter(|s| matches!(s, Node::Text(_)))
                    .count();
                steps.push(format!("text()[{}]", before + 1));
            }
            Node::Comment(_) => steps.push("comment()".to_owned()),
            Node::ProcessingInstruction(_) => steps.push("processing-instruction()".to_owned()),
            Node::Namespace(_) => steps.push("namespace::*".to_owned()),
        }
        current = node.parent();
    }
    steps.reverse();
    format!("/{}", steps.join("/"))
}
