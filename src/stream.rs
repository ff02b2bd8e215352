//! Stream: the one-pass streaming engine for streamable rules.
//!
//! [`StreamEngine`] is an [`xml::Sink`]: the checked scan of [`xml::scan_file`] feeds it the
//! document's tags and text once, in order, and it evaluates every streamable rule of the file
//! at the same time. Memory holds only the open elements, the selected elements still open, and
//! the groups of each rule; it does not grow with the input.
//!
//! Each selected element becomes a [`Record`] when its start tag is read: attributes are read at
//! once, text and child elements are collected until its end tag, then the record yields one
//! observation (fields, value, labels) for the rule's [`Accumulator`]. Records are handed over in
//! the order their elements start, which is document order, so aggregation, duplicate detection
//! and error messages see the nodes in the same order as the DOM engine.

use std::collections::{HashMap, VecDeque};

use quick_xml::events::BytesStart;

use crate::aggregate::{Accumulator, DuplicateNode};
use crate::compile::{CompiledRule, CompiledRules, Shape};
use crate::evaluate::{EvalError, EvalErrorKind, RuleSamples, render_labels, with_global_labels};
use crate::labels;
use crate::sample::{LabelSet, Sample, SampleValue};
use crate::streamable::{
    Axis, DocumentValue, NameTest, Path, Predicate, QName, ReadQuery, Reader, StreamPlan,
    xpath_number,
};
use crate::value::parse_number;
use crate::xml;

/// Evaluates the streamable rules of a file while a scan reads the document.
pub struct StreamEngine<'r> {
    rules: &'r CompiledRules,
    input: minijinja::Value,
    /// Distinct select paths of the rules, each matched once per element.
    paths: Vec<&'r Path>,
    /// Per open element (and the document at level 0), the match states of every path:
    /// `paths.len()` words per level; bit k means "the first k steps match here".
    states: Vec<u64>,
    /// The open elements, outermost first.
    frames: Vec<Frame>,
    /// In-scope namespace declarations, innermost last: (prefix, URI); "" is the default.
    scopes: Vec<(String, String)>,
    /// The rules being evaluated.
    slots: Vec<Slot<'r>>,
    /// Selected elements, in document order, until their observation is handed over.
    records: VecDeque<Record>,
    /// Attributes of the current start tag, resolved, when they were needed.
    attributes: Vec<(QName, String)>,
}

/// One open element.
#[derive(Debug, Default)]
struct Frame {
    /// The name as written, for location paths.
    raw: String,
    /// 1-based position among same-named siblings.
    position: usize,
    /// Children seen so far by name, for their positions.
    children: Vec<(String, usize)>,
    /// How many namespace declarations this element added to `scopes`.
    declared: usize,
}

/// A rule being evaluated.
struct Slot<'r> {
    rule_index: usize,
    rule: &'r CompiledRule,
    kind: SlotKind<'r>,
    /// The first error, which ends the rule's evaluation.
    error: Option<EvalError>,
}

enum SlotKind<'r> {
    Nodes {
        path: usize,
        fields: &'r [ReadQuery],
        value: Option<&'r ReadQuery>,
        accumulator: Accumulator<Option<String>>,
        /// Rendered labels by field values: templates render once per distinct input.
        labels: HashMap<Vec<String>, LabelSet>,
        keeps_paths: bool,
    },
    Count {
        path: usize,
        attribute: Option<&'r QName>,
        total: f64,
    },
    Sum {
        path: usize,
        attribute: Option<&'r QName>,
        total: f64,
    },
}

/// A selected element whose observation is not handed over yet.
struct Record {
    slot: usize,
    /// The element's depth (1 for the root element).
    depth: usize,
    /// Set at the element's end, if it is still selected then.
    done: Option<Observation>,
    /// The last step's predicate, when it needs the element's text.
    deferred: Option<Predicate>,
    /// Attributes of the element, kept when the deferred predicate reads them.
    own_attributes: Vec<(QName, String)>,
    /// The element's string value, when something reads it.
    text: Option<String>,
    /// The first text node child: not started, running, ended.
    first_text: Option<(String, TextRun)>,
    /// One per reader of a child element.
    children: Vec<ChildRead>,
    /// Per reader, the attribute value read at the start (`None` for other readers, or an
    /// absent attribute).
    read_now: Vec<Option<String>>,
    /// The location path, for rules that name nodes in their results.
    location: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextRun {
    NotStarted,
    Running,
    Ended,
}

/// Reading the first child element with a name (its string value, or one of its attributes).
struct ChildRead {
    name: QName,
    attribute: Option<QName>,
    /// The depth of the child being read, while inside it.
    inside: Option<usize>,
    value: Option<String>,
}

/// What a record yields, handed over in document order.
enum Observation {
    /// A node-level observation: field texts and value, checked.
    Node {
        fields: Vec<String>,
        value: Option<f64>,
        location: Option<String>,
    },
    /// A string for `count()` (counted) or `sum()` (added as a number).
    Document(String),
    /// A field or value that is missing or not a number.
    Failed(EvalError),
    /// The deferred predicate did not hold, or `count(PATH/@a)` found no attribute: nothing.
    Dropped,
}

impl<'r> StreamEngine<'r> {
    /// An engine for the given rules of the file (indexes into `rules.rules`), which must all be
    /// streamable; other indexes are ignored.
    pub fn new(rules: &'r CompiledRules, which: &[usize], input: &std::path::Path) -> Self {
        let mut paths: Vec<&Path> = Vec::new();
        let mut path_of = |path: &'r Path| match paths.iter().position(|p| *p == path) {
            Some(i) => i,
            None => {
                paths.push(path);
                paths.len() - 1
            }
        };
        let mut slots = Vec::new();
        for &rule_index in which {
            let Some(rule) = rules.rules.get(rule_index) else {
                continue;
            };
            let kind = match &rule.stream {
                Ok(StreamPlan::Nodes {
                    select,
                    fields,
                    value,
                }) => {
                    let reduce = match &rule.shape {
                        Shape::Nodes { reduce, .. } => reduce.clone(),
                        Shape::Document { .. } => continue,
                    };
                    SlotKind::Nodes {
                        path: path_of(select),
                        fields,
                        value: value.as_ref(),
                        keeps_paths: reduce == crate::compile::Reduce::Each,
                        accumulator: Accumulator::new(&reduce),
                        labels: HashMap::new(),
                    }
                }
                Ok(StreamPlan::Document(DocumentValue::Count(path, attribute))) => {
                    SlotKind::Count {
                        path: path_of(path),
                        attribute: attribute.as_ref(),
                        total: 0.0,
                    }
                }
                Ok(StreamPlan::Document(DocumentValue::Sum(path, attribute))) => SlotKind::Sum {
                    path: path_of(path),
                    attribute: attribute.as_ref(),
                    total: 0.0,
                },
                Err(_) => continue,
            };
            slots.push(Slot {
                rule_index,
                rule,
                kind,
                error: None,
            });
        }
        let mut states = vec![0u64; paths.len()];
        // The document node: no step matched yet.
        states.iter_mut().for_each(|s| *s = 1);
        StreamEngine {
            rules,
            input: labels::input_value(input),
            paths,
            states,
            frames: Vec::new(),
            scopes: Vec::new(),
            slots,
            records: VecDeque::new(),
            attributes: Vec::new(),
        }
    }

    /// The results, after a scan that succeeded: samples per rule, or the error of the first
    /// rule (in file order) that failed, as the DOM engine would report it.
    pub fn finish(mut self) -> Result<Vec<RuleSamples>, EvalError> {
        self.flush();
        let global = crate::evaluate::render_global_labels(self.rules, &self.input)?;
        let mut out = Vec::new();
        let mut first_error: Option<(usize, EvalError)> = None;
        for slot in self.slots {
            if let Some(error) = slot.error {
                if first_error
                    .as_ref()
                    .is_none_or(|(i, _)| slot.rule_index < *i)
                {
                    first_error = Some((slot.rule_index, error));
                }
                continue;
            }
            let samples = match slot.kind {
                SlotKind::Nodes { accumulator, .. } => accumulator.finish(),
                SlotKind::Count { total, .. } | SlotKind::Sum { total, .. } => {
                    let context = labels::context([], &self.input);
                    let labels = render_labels(&self.rules.templates, &slot.rule.labels, &context)
                        .map_err(|kind| error(slot.rule, None, kind))?;
                    vec![Sample {
                        labels: LabelSet::new(labels),
                        value: SampleValue::Single(total),
                    }]
                }
            };
            out.push(RuleSamples {
                rule: slot.rule_index,
                samples: with_global_labels(samples, &global),
            });
        }
        match first_error {
            Some((_, error)) => Err(error),
            None => Ok(out),
        }
    }

    fn depth(&self) -> usize {
        self.frames.len()
    }

    /// Resolves a prefix (`""` for the default namespace) against the declarations in scope.
    fn resolve(&self, prefix: &str) -> Option<String> {
        self.scopes
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| uri.clone())
            .filter(|uri| !uri.is_empty())
    }

    /// Reads the attributes of a start tag (namespace declarations first, so prefixes used on
    /// the same tag resolve).
    fn read_attributes(&mut self, tag: &BytesStart<'_>) -> usize {
        let mut declared = 0;
        let mut plain = Vec::new();
        for attribute in tag.attributes().with_checks(false).flatten() {
            let key = attribute.key.as_ref().to_owned();
            let value = quick_xml::escape::unescape(&attribute.value)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| attribute.value.to_string());
            if key == "xmlns" {
                self.scopes.push((String::new(), value));
                declared += 1;
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                self.scopes.push((prefix.to_owned(), value));
                declared += 1;
            } else {
                plain.push((key, value));
            }
        }
        self.attributes.clear();
        for (key, value) in plain {
            let name = match key.split_once(':') {
                // Unprefixed attributes are in no namespace; the default namespace is for
                // elements only.
                None => QName {
                    ns: None,
                    local: key,
                },
                Some((prefix, local)) => QName {
                    ns: self
                        .resolve(prefix)
                        .or_else(|| Some(format!("undeclared:{prefix}"))),
                    local: local.to_owned(),
                },
            };
            self.attributes.push((name, value));
        }
        declared
    }

    fn attribute(&self, name: &QName) -> Option<String> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// Hands over finished records in document order.
    fn flush(&mut self) {
        while self.records.front().is_some_and(|r| r.done.is_some()) {
            let Some(record) = self.records.pop_front() else {
                break;
            };
            if let Some(observation) = record.done {
                self.observe(record.slot, observation);
            }
        }
    }

    fn observe(&mut self, slot_index: usize, observation: Observation) {
        let templates = &self.rules.templates;
        let input = &self.input;
        let Some(slot) = self.slots.get_mut(slot_index) else {
            return;
        };
        if slot.error.is_some() {
            return;
        }
        let rule = slot.rule;
        let result = match (&mut slot.kind, observation) {
            (_, Observation::Dropped) => Ok(()),
            (_, Observation::Failed(err)) => Err(err),
            (SlotKind::Count { total, .. }, Observation::Document(_)) => {
                *total += 1.0;
                Ok(())
            }
            (SlotKind::Sum { total, .. }, Observation::Document(text)) => {
                *total += xpath_number(&text);
                Ok(())
            }
            (
                SlotKind::Nodes {
                    accumulator,
                    labels: cache,
                    ..
                },
                Observation::Node {
                    fields,
                    value,
                    location,
                },
            ) => observe_node(
                rule,
                templates,
                input,
                accumulator,
                cache,
                fields,
                value,
                location,
            ),
            _ => Ok(()),
        };
        if let Err(err) = result {
            slot.error = Some(err);
        }
    }
}

/// Renders one node's labels (once per distinct field values) and adds its value.
#[allow(clippy::too_many_arguments)]
fn observe_node(
    rule: &CompiledRule,
    templates: &labels::Templates,
    input: &minijinja::Value,
    accumulator: &mut Accumulator<Option<String>>,
    cache: &mut HashMap<Vec<String>, LabelSet>,
    texts: Vec<String>,
    number: Option<f64>,
    location: Option<String>,
) -> Result<(), EvalError> {
    let labels = match cache.get(&texts) {
        Some(labels) => labels.clone(),
        None => {
            let Shape::Nodes { fields, .. } = &rule.shape else {
                return Ok(());
            };
            let context = labels::context(
                fields
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .zip(texts.iter().map(String::as_str)),
                input,
            );
            let rendered = render_labels(templates, &rule.labels, &context)
                .map_err(|kind| error(rule, location.clone(), kind))?;
            let labels = LabelSet::new(rendered);
            cache.insert(texts, labels.clone());
            labels
        }
    };
    accumulator.observe(labels, number, location).map_err(
        |DuplicateNode {
             labels,
             first,
             second,
         }| {
            error(
                rule,
                second,
                EvalErrorKind::Duplicate {
                    labels,
                    first: first.unwrap_or_default(),
                },
            )
        },
    )
}

fn error(rule: &CompiledRule, node: Option<String>, kind: EvalErrorKind) -> EvalError {
    EvalError {
        rule: rule.id.clone(),
        metric: rule.name.as_str().to_owned(),
        node,
        kind: Box::new(kind),
    }
}

/// The location path of the innermost open element, e.g. `/store/row[3]`.
fn location(frames: &[Frame]) -> String {
    let mut out = String::new();
    for (i, frame) in frames.iter().enumerate() {
        out.push('/');
        out.push_str(&frame.raw);
        if i > 0 {
            out.push_str(&format!("[{}]", frame.position));
        }
    }
    out
}

fn name_matches(test: &NameTest, ns: Option<&str>, local: &str) -> bool {
    match test {
        NameTest::Any => true,
        NameTest::AnyIn(uri) => ns == Some(uri.as_str()),
        NameTest::Name(name) => name.local == local && name.ns.as_deref() == ns,
    }
}

impl xml::Sink for StreamEngine<'_> {
    fn start(&mut self, tag: &BytesStart<'_>, _empty: bool) {
        let raw = tag.name().as_ref().to_owned();
        // Namespace declarations must be read before the name resolves; read attributes only
        // when the tag has any (most tags in big stores have a few, and rules read them).
        let has_attributes = !tag.attributes_raw().trim().is_empty();
        let declared = if has_attributes {
            self.read_attributes(tag)
        } else {
            self.attributes.clear();
            0
        };
        let (prefix, local) = match raw.split_once(':') {
            Some((prefix, local)) => (prefix.to_owned(), local.to_owned()),
            None => (String::new(), raw.clone()),
        };
        let ns = if prefix.is_empty() {
            self.resolve("")
        } else {
            self.resolve(&prefix)
                .or_else(|| Some(format!("undeclared:{prefix}")))
        };

        // Position among same-named siblings, for location paths.
        let position = match self.frames.last_mut() {
            Some(parent) => match parent.children.iter_mut().find(|(n, _)| *n == raw) {
                Some((_, count)) => {
                    *count += 1;
                    *count
                }
                None => {
                    parent.children.push((raw.clone(), 1));
                    1
                }
            },
            None => 1,
        };

        // Child readers and first-text runs of the open records.
        let depth = self.depth() + 1;
        for record in self.records.iter_mut().filter(|r| r.done.is_none()) {
            if record.depth + 1 == depth {
                if let Some((_, run)) = &mut record.first_text
                    && *run == TextRun::Running
                {
                    *run = TextRun::Ended;
                }
                for child in &mut record.children {
                    if child.inside.is_none()
                        && child.value.is_none()
                        && child.name.local == local
                        && child.name.ns.as_deref() == ns.as_deref()
                    {
                        match &child.attribute {
                            None => {
                                child.inside = Some(depth);
                                child.value = Some(String::new());
                            }
                            Some(attribute) => {
                                child.value = self
                                    .attributes
                                    .iter()
                                    .find(|(n, _)| n == attribute)
                                    .map(|(_, v)| v.clone());
                            }
                        }
                    }
                }
            }
        }

        // Match every path one level deeper.
        let parent_base = (depth - 1) * self.paths.len();
        let mut selected: Vec<(usize, Option<Predicate>)> = Vec::new();
        for (p, path) in self.paths.iter().enumerate() {
            let parent = self.states[parent_base + p];
            let mut next = 0u64;
            let mut deferred: Option<&Predicate> = None;
            let steps = path.steps.len();
            let mut bits = parent;
            while bits != 0 {
                let k = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if k >= steps {
                    continue;
                }
                let step = &path.steps[k];
                if step.axis == Axis::Descendant {
                    next |= 1 << k;
                }
                if !name_matches(&step.test, ns.as_deref(), &local) {
                    continue;
                }
                let last = k + 1 == steps;
                match &step.predicate {
                    Some(predicate) if predicate.needs_text() && last => {
                        deferred = Some(predicate);
                    }
                    Some(predicate) => {
                        let attributes = &self.attributes;
                        let read = |name: &QName| {
                            attributes
                                .iter()
                                .find(|(n, _)| n == name)
                                .map(|(_, v)| v.clone())
                        };
                        if predicate.eval(&read, "") {
                            next |= 1 << (k + 1);
                        }
                    }
                    None => next |= 1 << (k + 1),
                }
            }
            if next & (1 << steps) != 0 {
                selected.push((p, None));
            } else if let Some(predicate) = deferred {
                selected.push((p, Some(predicate.clone())));
            }
            self.states.push(next);
        }

        self.frames.push(Frame {
            raw,
            position,
            children: Vec::new(),
            declared,
        });

        if selected.is_empty() {
            return;
        }
        for slot_index in 0..self.slots.len() {
            let slot = &self.slots[slot_index];
            if slot.error.is_some() {
                continue;
            }
            let (path, deferred) = match &slot.kind {
                SlotKind::Nodes { path, .. }
                | SlotKind::Count { path, .. }
                | SlotKind::Sum { path, .. } => match selected.iter().find(|(p, _)| p == path) {
                    Some((_, deferred)) => (*path, deferred.clone()),
                    None => continue,
                },
            };
            let _ = path;
            let record = self.record(slot_index, depth, deferred);
            self.records.push_back(record);
        }
    }

    fn end(&mut self) {
        let depth = self.depth();
        for index in 0..self.records.len() {
            let record = &mut self.records[index];
            if record.done.is_some() {
                continue;
            }
            if record.depth + 1 == depth {
                for child in &mut record.children {
                    if child.inside == Some(depth) {
                        child.inside = None;
                    }
                }
            }
            if record.depth == depth {
                let frames = &self.frames;
                let record = &mut self.records[index];
                let observation = complete(record, &self.slots[record.slot], || location(frames));
                self.records[index].done = Some(observation);
            }
        }
        // First text runs of the parent end here too.
        for record in self.records.iter_mut().filter(|r| r.done.is_none()) {
            if record.depth + 1 == depth
                && let Some((_, run)) = &mut record.first_text
                && *run == TextRun::Running
            {
                *run = TextRun::Ended;
            }
        }
        self.flush();
        if let Some(frame) = self.frames.pop() {
            let keep = self.scopes.len().saturating_sub(frame.declared);
            self.scopes.truncate(keep);
        }
        let keep = self.states.len().saturating_sub(self.paths.len());
        self.states.truncate(keep);
    }

    fn text(&mut self, text: &str) {
        let depth = self.depth();
        for record in self.records.iter_mut().filter(|r| r.done.is_none()) {
            if let Some(acc) = &mut record.text {
                acc.push_str(text);
            }
            if record.depth == depth
                && let Some((acc, run)) = &mut record.first_text
                && *run != TextRun::Ended
            {
                acc.push_str(text);
                *run = TextRun::Running;
            }
            for child in &mut record.children {
                if child.inside.is_some()
                    && let Some(value) = &mut child.value
                {
                    value.push_str(text);
                }
            }
        }
    }

    fn boundary(&mut self) {
        let depth = self.depth();
        for record in self.records.iter_mut().filter(|r| r.done.is_none()) {
            if record.depth == depth
                && let Some((_, run)) = &mut record.first_text
                && *run == TextRun::Running
            {
                *run = TextRun::Ended;
            }
        }
    }
}

impl StreamEngine<'_> {
    /// A record for a selected element whose start tag was just read.
    fn record(&self, slot_index: usize, depth: usize, deferred: Option<Predicate>) -> Record {
        let slot = &self.slots[slot_index];
        let mut record = Record {
            slot: slot_index,
            depth,
            done: None,
            own_attributes: if deferred.is_some() {
                self.attributes.clone()
            } else {
                Vec::new()
            },
            text: deferred.as_ref().map(|_| String::new()),
            deferred,
            first_text: None,
            children: Vec::new(),
            read_now: Vec::new(),
            location: None,
        };
        let read = |query: &ReadQuery, record: &mut Record| match &query.reader {
            Reader::Attribute(name) => record.read_now.push(self.attribute(name)),
            Reader::StringValue => {
                record.text.get_or_insert_with(String::new);
                record.read_now.push(None);
            }
            Reader::FirstText => {
                record.first_text = Some((String::new(), TextRun::NotStarted));
                record.read_now.push(None);
            }
            Reader::Child(name) => {
                record.children.push(ChildRead {
                    name: name.clone(),
                    attribute: None,
                    inside: None,
                    value: None,
                });
                record.read_now.push(None);
            }
            Reader::ChildAttribute(name, attribute) => {
                record.children.push(ChildRead {
                    name: name.clone(),
                    attribute: Some(attribute.clone()),
                    inside: None,
                    value: None,
                });
                record.read_now.push(None);
            }
        };
        match &slot.kind {
            SlotKind::Nodes {
                fields,
                value,
                keeps_paths,
                ..
            } => {
                for query in fields.iter().chain(*value) {
                    read(query, &mut record);
                }
                if *keeps_paths {
                    record.location = Some(location(&self.frames));
                }
            }
            SlotKind::Count { attribute, .. } | SlotKind::Sum { attribute, .. } => {
                match attribute {
                    Some(name) => record.read_now.push(self.attribute(name)),
                    // `sum(PATH)` adds the elements' string values; `count(PATH)` needs none.
                    None if matches!(slot.kind, SlotKind::Sum { .. }) => {
                        record.text.get_or_insert_with(String::new);
                    }
                    None => {}
                }
            }
        }
        record
    }
}

/// Finishes a record at its element's end tag: checks the deferred predicate and reads the
/// fields and value, in the DOM engine's order (fields by name, then the value).
fn complete(record: &mut Record, slot: &Slot<'_>, at: impl Fn() -> String) -> Observation {
    let text = record.text.take().unwrap_or_default();
    if let Some(predicate) = &record.deferred {
        let attributes = &record.own_attributes;
        let read = |name: &QName| {
            attributes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        if !predicate.eval(&read, &text) {
            return Observation::Dropped;
        }
    }
    let (fields, value) = match &slot.kind {
        SlotKind::Count { attribute, .. } | SlotKind::Sum { attribute, .. } => {
            return match attribute {
                Some(_) => match record.read_now.pop().flatten() {
                    Some(value) => Observation::Document(value),
                    // `count(PATH/@a)` counts only the elements that have the attribute.
                    None => Observation::Dropped,
                },
                None => Observation::Document(text),
            };
        }
        SlotKind::Nodes { fields, value, .. } => (*fields, *value),
    };
    let Shape::Nodes {
        fields: field_queries,
        value: value_query,
        ..
    } = &slot.rule.shape
    else {
        return Observation::Dropped;
    };
    let mut children = record.children.drain(..);
    let first_text = record.first_text.take();
    let mut readings = record.read_now.drain(..);
    let mut read = |query: &ReadQuery| -> Option<String> {
        let now = readings.next().flatten();
        let found = match &query.reader {
            Reader::Attribute(_) => now,
            Reader::StringValue => Some(text.clone()),
            Reader::FirstText => match &first_text {
                Some((acc, run)) if *run != TextRun::NotStarted => Some(acc.clone()),
                _ => None,
            },
            Reader::Child(_) | Reader::ChildAttribute(..) => children.next().and_then(|c| c.value),
        };
        found.or_else(|| query.or_empty.then(String::new))
    };
    let rule = slot.rule;
    let mut texts = Vec::with_capacity(fields.len());
    for (query, (name, xpath)) in fields.iter().zip(field_queries) {
        match read(query) {
            Some(text) => texts.push(text),
            None => {
                return Observation::Failed(error(
                    rule,
                    Some(at()),
                    EvalErrorKind::Missing {
                        field: format!("fields.{}", name.as_str()),
                        query: xpath.text().to_owned(),
                    },
                ));
            }
        }
    }
    let number = match (value, value_query) {
        (Some(query), Some(xpath)) => match read(query) {
            None => {
                return Observation::Failed(error(
                    rule,
                    Some(at()),
                    EvalErrorKind::Missing {
                        field: "value".to_owned(),
                        query: xpath.text().to_owned(),
                    },
                ));
            }
            Some(text) => match parse_number(&text) {
                Some(number) => Some(number),
                None => {
                    return Observation::Failed(error(
                        rule,
                        Some(at()),
                        EvalErrorKind::NotANumber {
                            query: xpath.text().to_owned(),
                            text: crate::evaluate::shorten(&text),
                        },
                    ));
                }
            },
        },
        _ => None,
    };
    Observation::Node {
        fields: texts,
        value: number,
        location: record.location.take(),
    }
}
