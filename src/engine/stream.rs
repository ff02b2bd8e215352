//! Stream: the one-pass streaming engine for streamable rules.
//!
//! [`StreamEngine`] is an [`xml::Sink`]: the checked scan of [`xml::scan_file`] feeds it the
//! document's tags and text once, in order, and it evaluates every streamable rule of the file
//! at the same time. Memory holds the open elements (each with its attributes, for the readers
//! of its descendants), the selected elements still open, the subtree of at most one selected
//! element at a time, and the groups of each rule; it does not grow with the input.
//!
//! Each selected element becomes a [`Record`] when its start tag is read: its attributes and
//! its ancestors' (`../@id`, `ancestor::site/@name`) are read at once, text, child elements
//! and the facts a last-step predicate needs (`[failure]`, `[count(x) > 1]`) are collected
//! until its end tag; a rule whose queries need more (`Reader::Expr`, `Predicate::Expr`) has
//! the element's subtree buffered into a [`Tree`] below its ancestors, and evaluated there by
//! [`crate::engine::eval`] at the end tag. A field read from an ancestor's child element
//! (`../name`) comes from the first child with that name, which every open element keeps
//! ([`FirstChild`]); when that child comes after the selected element, the ended record waits
//! for it, or for its ancestor's end ([`Waiting`]), and the records held behind it count
//! against `--max-dom-bytes`. Then the record yields one observation (fields, value) for the
//! per-node core, [`node::RuleState`], which the DOM engine drives too; paths
//! are matched by [`crate::engine::matcher`]. Records are handed over in the order their
//! elements start, which is document order, so aggregation, duplicate detection and error
//! messages see the nodes in the same order as the DOM engine.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::rc::Rc;

use rustc_hash::FxHashMap;

use crate::engine::error::{EvalError, EvalErrorKind, RuleSamples};
use crate::engine::eval;
use crate::engine::matcher::{self, StepMatch};
use crate::engine::node::{self, Located, Outcome, Reading, RuleState, SharedKeys};
use crate::engine::node::{render_labels, with_global_labels};
use crate::engine::skips::{Skip, Skips};
use crate::engine::tree::{NodeId, Tree};
use crate::model::number::xpath_number;
use crate::model::sample::{LabelSet, Sample, SampleValue, Samples, same_bytes};
use crate::rules::compile::{CompiledRule, CompiledRules, Reduce, Shape};
use crate::rules::expr::{Expr, XML_NAMESPACE};
use crate::rules::plan::{
    DocumentValue, Facts, NameTest, Path, Predicate, QName, ReadQuery, Reader, StreamPlan, Upward,
};
use crate::rules::templates;
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
    /// The open elements, outermost first: the first `depth` entries (the rest are kept for
    /// reuse, so a run allocates per nesting level, not per element).
    frames: Vec<Frame>,
    /// How many elements are open.
    depth: usize,
    /// In-scope namespace declarations, innermost last: (prefix, URI); "" is the default.
    scopes: Vec<(String, String)>,
    /// The rules being evaluated.
    slots: Vec<Slot<'r>>,
    /// Per path, the slots it selects for, in slot order.
    path_slots: Vec<Vec<usize>>,
    /// The distinct attribute readers of the rules (`@a`, `../@id`, `ancestor::site/@name`):
    /// at an element, each is read at most once, whatever the number of rules that read it.
    readers: Vec<AttributeReader<'r>>,
    /// Per reader, where in its element's attributes it found its attribute last: elements
    /// that a rule selects mostly write their attributes in the same order.
    reader_hints: Vec<Cell<usize>>,
    /// Per path, where its predicates found an attribute last.
    predicate_hints: Vec<Cell<usize>>,
    /// Selected elements, in document order, until their observation is handed over.
    records: VecDeque<Box<Record<'r>>>,
    /// Per path, the child elements its last step's predicate reads (see
    /// [`Predicate::children`]).
    children: Vec<Vec<(QName, bool)>>,
    /// Per path, what its last step's predicate, when deferred, needs kept.
    deferred_needs: Vec<DeferredNeeds>,
    /// Records handed over, kept for their buffers: a run allocates per record only what it
    /// keeps (strings), not the record. Boxed, so that handing a record on moves a pointer,
    /// not its few hundred bytes.
    #[allow(clippy::vec_box)] // The boxes move between `spare` and `records`, not the records.
    spare: Vec<Box<Record<'r>>>,
    /// Per slot, how many of its records wait in `records`.
    pending: Vec<usize>,
    /// The label set keys shared by the node-level rules with one label recipe (see
    /// [`Slot::share`]).
    shares: Vec<SharedKeys>,
    /// The selections of the current tag, reused.
    selected: Vec<(usize, Option<&'r Predicate>)>,
    /// The subtree of the outermost open selected element whose rule evaluates XPath on it
    /// ([`Reader::Expr`], [`Predicate::Expr`]), below its ancestors as stubs (names and
    /// attributes): reused from element to element.
    tree: Tree,
    /// The depth of that element while the tree holds one.
    tree_base: Option<usize>,
    /// The most memory the tree may take (`--max-dom-bytes`).
    tree_limit: u64,
    /// The distinct child element names the rules read of ancestors (`../name`): every open
    /// element, and the document, keeps its first child with each ([`FirstChild`]).
    above_names: Vec<&'r QName>,
    /// The document node's first child with each of those names: the root element, or none.
    document_children: Vec<FirstChild>,
    /// The first children open now, whose text is collected: (the depth of their parent, 0
    /// for the document; the index of their name in `above_names`), innermost last.
    running: Vec<(usize, usize)>,
    /// Per name of `above_names`, whether a child's text outgrew `tree_limit` (it is no
    /// longer collected: the rules that read it have failed).
    above_failed: Vec<bool>,
    /// How many records wait for an ancestor's child element that comes after them.
    waiting: usize,
    /// The memory of the records that wait, and of the finished ones held behind them.
    held: u64,
    /// How many records have been made: the next one's [`Record::seq`].
    next_seq: u64,
    /// The [`Record::seq`] of the records whose elements are open, outermost first: the
    /// records before the first are finished (waiting, or held behind one that is not).
    open: Vec<u64>,
}

/// One open element.
#[derive(Debug, Default)]
struct Frame {
    /// The name as written, for location paths.
    raw: String,
    /// 1-based position among same-named siblings.
    position: usize,
    /// Children seen so far by expanded name (namespace URI, local name), for their positions:
    /// a location path step `row[2]` counts the `row` siblings in the same namespace, as XPath
    /// does.
    children: SiblingCounts,
    /// How many namespace declarations this element added to `scopes`.
    declared: usize,
    /// How many declarations are in scope for this element (`scopes[..scope_end]`).
    scope_end: usize,
    /// The namespace URI, when `has_ns` (kept in a reused buffer).
    ns: String,
    has_ns: bool,
    /// Where the local name starts in `raw`.
    local_at: usize,
    /// 1-based position among all element siblings (what `*[n]` counts).
    index: usize,
    /// Element children seen so far.
    elements: usize,
    /// The attributes, namespace declarations left out: kept while the element is open, for
    /// the readers of its descendants (`../@id`, `ancestor::site/@name`).
    attributes: TagAttributes,
    /// The location path of the children last given a [`Place`], up to their name
    /// (`/store/row`), shared by the places of all of them.
    child_steps: std::cell::RefCell<Option<Rc<String>>>,
    /// The first child element with each of the engine's `above_names`, for the readers of
    /// its descendants (`../name`).
    firsts: Vec<FirstChild>,
    /// The [`Record::seq`] of the first record made inside the element: the records of the
    /// elements inside it are the last ones of the queue from there.
    first_record: u64,
}

/// The first child element with one name of an open element or of the document, as far as
/// it has been read.
#[derive(Debug, Default, Clone)]
struct FirstChild {
    state: ChildState,
    /// Its string value so far.
    text: String,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChildState {
    /// None yet.
    #[default]
    NotSeen,
    /// Open: its text is still being read.
    Open,
    /// Ended: its text is final.
    Ended,
}

/// The first child with name `k` of the element at `depth` (0: the document node).
fn first_child<'f>(
    frames: &'f [Frame],
    document: &'f [FirstChild],
    depth: usize,
    k: usize,
) -> Option<&'f FirstChild> {
    match depth.checked_sub(1) {
        None => document.get(k),
        Some(at) => frames.get(at)?.firsts.get(k),
    }
}

fn first_child_mut<'f>(
    frames: &'f mut [Frame],
    document: &'f mut [FirstChild],
    depth: usize,
    k: usize,
) -> Option<&'f mut FirstChild> {
    match depth.checked_sub(1) {
        None => document.get_mut(k),
        Some(at) => frames.get_mut(at)?.firsts.get_mut(k),
    }
}

/// Hands the reads and awaits of every waiting record from sequence number `inside` on, latest
/// first, to `settle`; gives the indexes of those that await nothing more.
fn settle_waiting(
    records: &mut VecDeque<Box<Record<'_>>>,
    inside: u64,
    mut settle: impl FnMut(&mut Vec<Result<Got<'static>, String>>, &mut Vec<Await<'_>>),
) -> Vec<usize> {
    let mut finished = Vec::new();
    for (index, record) in records.iter_mut().enumerate().rev() {
        if record.seq < inside {
            break;
        }
        let Some(wait) = &mut record.wait else {
            continue;
        };
        let Waiting { reads, awaits, .. } = &mut **wait;
        settle(reads, awaits);
        if awaits.is_empty() {
            finished.push(index);
        }
    }
    finished
}

/// The [`Record::seq`] of the first record inside the element at `depth` (0: the document).
fn first_records(frames: &[Frame], depth: usize) -> u64 {
    depth
        .checked_sub(1)
        .and_then(|at| frames.get(at))
        .map_or(0, |frame| frame.first_record)
}

/// What a reader of an ancestor's child element (`../name`) gives at the selected element's
/// end.
enum Above<'f, 'r> {
    /// The child's text: it has ended.
    Text(&'f str),
    /// None: no ancestor the path reaches has such a child, nor can have one later.
    Missing,
    /// Not known yet: the first child with the name of the elements at depths `lo..=hi`
    /// (those `test` admits, all without one) gives it when it ends.
    Wait {
        lo: usize,
        hi: usize,
        test: Option<&'r NameTest>,
    },
}

/// Reads an ancestor's child element with name `k` for the selected element, the last of
/// `frames`, at its end, as XPath gives it: the first such child, in document order, of the
/// elements (or document node) the path reaches.
fn read_above<'f, 'r>(
    upward: &'r Upward,
    document: (bool, bool),
    k: usize,
    frames: &'f [Frame],
    document_children: &'f [FirstChild],
) -> Above<'f, 'r> {
    let state = |depth: usize| first_child(frames, document_children, depth, k);
    let selected = frames.len();
    let mut at = selected;
    for (i, test) in upward.parents.iter().enumerate() {
        let Some(up) = at.checked_sub(1) else {
            // The document node has no parent.
            return Above::Missing;
        };
        at = up;
        let admitted = match at.checked_sub(1) {
            // Only the last step matters: from the document node, the next finds nothing.
            None => i + 1 < upward.parents.len() || document.0,
            Some(index) => frames
                .get(index)
                .is_some_and(|frame| name_matches(test, frame.ns(), frame.local())),
        };
        if !admitted {
            return Above::Missing;
        }
    }
    let Some((or_self, test)) = &upward.ancestors else {
        return match state(at) {
            Some(first) if first.state == ChildState::Ended => Above::Text(&first.text),
            Some(first) if first.state == ChildState::Open => Above::Wait {
                lo: at,
                hi: at,
                test: None,
            },
            // The document node has one element child, the root, seen when it started.
            Some(_) if at > 0 && at < selected => Above::Wait {
                lo: at,
                hi: at,
                test: None,
            },
            _ => Above::Missing,
        };
    };
    let end = if *or_self {
        at
    } else {
        match at.checked_sub(1) {
            Some(end) => end,
            None => return Above::Missing,
        }
    };
    // Outermost first: the children an element has so far come before everything in the
    // next ancestor; the children it has later come after.
    let mut chain: Option<(usize, usize)> = None;
    for depth in 0..=end {
        let admitted = match depth.checked_sub(1) {
            None => document.1,
            Some(index) => frames
                .get(index)
                .is_some_and(|frame| name_matches(test, frame.ns(), frame.local())),
        };
        if !admitted {
            continue;
        }
        match state(depth) {
            Some(first) if first.state == ChildState::Ended => return Above::Text(&first.text),
            Some(first) if first.state == ChildState::Open => {
                return Above::Wait {
                    lo: depth,
                    hi: depth,
                    test: None,
                };
            }
            // Neither the document node nor the selected element, which has ended, has more
            // children to come.
            Some(_) if depth > 0 && depth < selected => {
                let lo = chain.map_or(depth, |(lo, _)| lo);
                chain = Some((lo, depth));
            }
            _ => {}
        }
    }
    match chain {
        Some((lo, hi)) => Above::Wait {
            lo,
            hi,
            test: Some(test),
        },
        None => Above::Missing,
    }
}

impl Frame {
    fn ns(&self) -> Option<&str> {
        self.has_ns.then_some(self.ns.as_str())
    }

    fn local(&self) -> &str {
        self.raw.get(self.local_at..).unwrap_or_default()
    }

    /// The value of one of the element's attributes, given the declarations in scope; `hint`
    /// is where to look first ([`TagAttributes::get_hinted`]).
    fn attribute<'f>(
        &'f self,
        scopes: &'f [(String, String)],
        name: &QName,
        hint: &Cell<usize>,
    ) -> Option<&'f str> {
        self.attributes
            .get_hinted(scopes.get(..self.scope_end).unwrap_or(scopes), name, hint)
    }
}

/// Reads an upward reader's attribute from the open elements (the selected one last).
fn read_upward<'f>(
    upward: &Upward,
    name: &QName,
    frames: &'f [Frame],
    scopes: &'f [(String, String)],
    hint: &Cell<usize>,
) -> Option<&'f str> {
    upward.read(
        frames,
        |test, frame| name_matches(test, frame.ns(), frame.local()),
        |frame| frame.attribute(scopes, name, hint),
    )
}

/// A rule being evaluated.
struct Slot<'r> {
    rule_index: usize,
    rule: &'r CompiledRule,
    kind: SlotKind<'r>,
    /// Whether a selected element is complete at its start tag (everything read is an
    /// attribute), so it needs no record unless its predicate waits for text.
    immediate: bool,
    /// Whether a field or the value is XPath evaluated on the element's buffered subtree.
    tree: bool,
    /// Whether a field or the value reads an ancestor's child element (`../name`).
    above: bool,
    /// The first error, which ends the rule's evaluation.
    error: Option<EvalError>,
    /// The nodes its policies left out.
    skips: Skips,
    /// Per field query, then the value query (or a document value's attribute), the index of
    /// its reader in the engine's `readers`, when it reads an attribute.
    reads: Vec<Option<usize>>,
    /// For a node-level rule whose labels are all fields as they are, under the same names as
    /// another such rule's, the index of their [`SharedKeys`] in the engine's `shares`.
    share: Option<usize>,
}

/// An attribute that rules read of a selected element or of its ancestors: known when the
/// element starts, and unchanged until it ends (its ancestors are still open).
#[derive(Debug, Clone, Copy, PartialEq)]
enum AttributeReader<'r> {
    /// `@a`.
    Own(&'r QName),
    /// `../@a`, `ancestor::x/@a` and the like.
    Upward(&'r Upward, &'r QName),
}

impl AttributeReader<'_> {
    /// The attribute, given the open elements (the selected one last); `hint` is where the
    /// reader found it last in its element's attributes.
    #[inline]
    fn read<'f>(
        &self,
        frames: &'f [Frame],
        scopes: &'f [(String, String)],
        hint: &Cell<usize>,
    ) -> Option<&'f str> {
        match self {
            AttributeReader::Own(name) => frames.last()?.attribute(scopes, name, hint),
            AttributeReader::Upward(upward, name) => {
                read_upward(upward, name, frames, scopes, hint)
            }
        }
    }
}

/// The attributes read at one selected element, each reader's at most once: several rules
/// often read the same ones (`@kind`, `../@name`).
struct Reads<'a> {
    /// The open elements, the selected one last.
    frames: &'a [Frame],
    scopes: &'a [(String, String)],
    readers: &'a [AttributeReader<'a>],
    /// Per reader, where it found its attribute last ([`TagAttributes::get_hinted`]).
    hints: &'a [Cell<usize>],
    /// What the first [`Reads::KEPT`] readers gave, once read (in cells, so that the rules'
    /// several queries read through one shared reference).
    got: [Cell<Option<Option<&'a str>>>; Reads::KEPT],
}

impl<'a> Reads<'a> {
    const KEPT: usize = 8;

    fn new(
        frames: &'a [Frame],
        scopes: &'a [(String, String)],
        readers: &'a [AttributeReader<'a>],
        hints: &'a [Cell<usize>],
    ) -> Self {
        Reads {
            frames,
            scopes,
            readers,
            hints,
            got: Default::default(),
        }
    }

    /// What reader `index` gives at the element (`None` for no such reader).
    fn get(&self, index: Option<usize>) -> Option<&'a str> {
        let index = index?;
        let reader = self.readers.get(index)?;
        let unhinted = Cell::new(0);
        let hint = self.hints.get(index).unwrap_or(&unhinted);
        let Some(kept) = self.got.get(index) else {
            return reader.read(self.frames, self.scopes, hint);
        };
        if let Some(got) = kept.get() {
            return got;
        }
        let got = reader.read(self.frames, self.scopes, hint);
        kept.set(Some(got));
        got
    }
}

enum SlotKind<'r> {
    Nodes {
        path: usize,
        fields: &'r [ReadQuery],
        value: Option<&'r ReadQuery>,
        /// Boxed: the other kinds are a few words.
        state: Box<RuleState<'r, Option<Place>>>,
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
struct Record<'r> {
    slot: usize,
    /// The element's depth (1 for the root element).
    depth: usize,
    /// Set at the element's end, if it is still selected then.
    done: Option<Observation>,
    /// The last step's predicate, when it needs the element's content.
    deferred: Option<&'r Predicate>,
    /// The element's position for the last step's predicate.
    position: usize,
    /// Attributes of the element, kept when the deferred predicate reads them.
    own_attributes: Vec<(QName, String)>,
    /// Per child element the deferred predicate reads (the path's `children`), what is known.
    facts: Vec<ChildFact>,
    /// The element in the engine's tree, when its rule evaluates XPath there.
    node: Option<NodeId>,
    /// The buffer of the field texts, reused from record to record.
    texts: Vec<String>,
    /// The element's string value, when something reads it.
    text: Option<String>,
    /// The first text node child: not started, running, ended.
    first_text: Option<(String, TextRun)>,
    /// One per reader of a child element.
    children: Vec<ChildRead>,
    /// The location path, for rules that name nodes in their results.
    location: Option<Place>,
    /// What the record, ended, waits for ([`Observation::Waiting`]).
    wait: Option<Box<Waiting<'r>>>,
    /// The memory it takes while it is held (counted in the engine's `held`).
    held: u64,
    /// Its number among the records made, in document order.
    seq: u64,
}

/// A selected element that has ended, whose fields or value read an ancestor's child element
/// that comes after it (`../name` before its `name`).
struct Waiting<'r> {
    /// What each field, then the value, read: the awaited ones missing until they resolve.
    reads: Vec<Result<Got<'static>, String>>,
    /// The reads still awaited.
    awaits: Vec<Await<'r>>,
    /// The element's location path, for messages.
    at: String,
}

/// One read of a [`Waiting`] record: the first child with one name of the elements at depths
/// `lo..=hi` (those `test` admits, all without one) gives it.
#[derive(Debug, Clone, Copy)]
struct Await<'r> {
    /// Which of the record's reads.
    read: usize,
    /// The index of the name in the engine's `above_names`.
    child: usize,
    lo: usize,
    hi: usize,
    test: Option<&'r NameTest>,
    /// `string(...)`: none gives the empty string.
    or_empty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextRun {
    NotStarted,
    Running,
    Ended,
}

/// What a record's deferred predicate knows of the child elements with one name.
#[derive(Debug, Default)]
struct ChildFact {
    count: usize,
    /// Their string values, when a comparison reads them.
    texts: Option<Vec<String>>,
    /// Inside such a child (its text goes to the last of `texts`).
    inside: bool,
}

/// What the last step's predicate of a path needs kept of an element until its end.
#[derive(Debug, Clone, Copy, Default)]
struct DeferredNeeds {
    /// Whether the predicate waits for the element's end at all
    /// ([`Predicate::needs_content`]): known once per path, not walked for every element.
    content: bool,
    attributes: bool,
    text: bool,
    tree: bool,
}

impl DeferredNeeds {
    fn of(path: &Path) -> DeferredNeeds {
        match path.steps.last().and_then(|step| step.predicate.as_ref()) {
            Some(predicate) => DeferredNeeds {
                content: predicate.needs_content(),
                attributes: predicate.reads_attributes(),
                text: predicate.needs_text(),
                tree: predicate.needs_tree(),
            },
            None => DeferredNeeds::default(),
        }
    }
}

/// What a deferred predicate reads of a selected element at its end.
struct EndFacts<'a> {
    record: &'a Record<'a>,
    children: &'a [(QName, bool)],
    text: &'a str,
    tree: &'a Tree,
    /// The first error of an XPath predicate.
    error: std::cell::RefCell<Option<String>>,
}

impl EndFacts<'_> {
    fn fact(&self, name: &QName) -> Option<&ChildFact> {
        let at = self.children.iter().position(|(n, _)| n == name)?;
        self.record.facts.get(at)
    }
}

impl Facts for EndFacts<'_> {
    fn attribute(&self, name: &QName) -> Option<&str> {
        self.record
            .own_attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> &str {
        self.text
    }

    fn child_count(&self, name: &QName) -> usize {
        self.fact(name).map_or(0, |fact| fact.count)
    }

    fn any_child(&self, name: &QName, test: &mut dyn FnMut(&str) -> bool) -> bool {
        self.fact(name)
            .and_then(|fact| fact.texts.as_ref())
            .is_some_and(|texts| texts.iter().any(|text| test(text)))
    }

    fn position(&self) -> usize {
        self.record.position
    }

    fn holds(&self, expr: &Expr) -> bool {
        let Some(node) = self.record.node else {
            return false;
        };
        // `last()` is refused in a streamed predicate, so the size is never read.
        let position = self.record.position;
        match eval::evaluate(expr, self.tree, node, position, position) {
            // A number is a position (XPath 1.0 section 2.4).
            Ok(eval::Value::Number(n)) => n == position as f64,
            Ok(value) => value.to_boolean(),
            Err(message) => {
                self.error.borrow_mut().get_or_insert(message);
                false
            }
        }
    }
}

/// What a predicate reads of an element at its start tag: its attributes and position.
struct StartFacts<'a> {
    attributes: &'a TagAttributes,
    scopes: &'a [(String, String)],
    position: usize,
    /// Where the path's predicates found an attribute last ([`TagAttributes::get_hinted`]).
    hint: &'a Cell<usize>,
}

impl Facts for StartFacts<'_> {
    fn attribute(&self, name: &QName) -> Option<&str> {
        self.attributes.get_hinted(self.scopes, name, self.hint)
    }

    // Predicates that read the content are deferred to the element's end (EndFacts).
    fn text(&self) -> &str {
        ""
    }

    fn child_count(&self, _name: &QName) -> usize {
        0
    }

    fn any_child(&self, _name: &QName, _test: &mut dyn FnMut(&str) -> bool) -> bool {
        false
    }

    fn position(&self) -> usize {
        self.position
    }

    // XPath predicates are deferred to the element's end (EndFacts).
    fn holds(&self, _expr: &Expr) -> bool {
        false
    }
}

/// The position a step's predicate sees: among all element siblings for `*`, among the
/// same-named ones otherwise.
fn step_position(test: &NameTest, frame: &Frame) -> usize {
    match test {
        NameTest::Any => frame.index,
        _ => frame.position,
    }
}

/// Reading the first child element with a name (its string value, or one of its attributes).
struct ChildRead {
    name: QName,
    attribute: Option<QName>,
    /// The depth of the child being read, while inside it.
    inside: Option<usize>,
    value: Option<String>,
}

impl Observation {
    /// Whether the observation is known, so that it can be handed over.
    fn is_known(&self) -> bool {
        !matches!(self, Observation::Waiting)
    }
}

/// What a record yields, handed over in document order.
enum Observation {
    /// A node-level observation: field texts and value, checked.
    Node {
        fields: Vec<String>,
        value: Option<f64>,
        location: Option<Place>,
    },
    /// A string for `count()` (counted) or `sum()` (added as a number).
    Document(String),
    /// A field or value that is missing or not a number.
    Failed(EvalError),
    /// A node the rule's policies leave out, and its location path.
    Skipped(Skip, String),
    /// The deferred predicate did not hold, or `count(PATH/@a)` found no attribute: nothing.
    Dropped,
    /// Not known yet: the record waits ([`Record::wait`]).
    Waiting,
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
        let input_value = templates::input_value(input);
        let mut slots = Vec::new();
        let mut above_names: Vec<&'r QName> = Vec::new();
        let mut readers: Vec<AttributeReader<'r>> = Vec::new();
        let mut reader_of =
            |reader: AttributeReader<'r>| match readers.iter().position(|r| *r == reader) {
                Some(i) => i,
                None => {
                    readers.push(reader);
                    readers.len() - 1
                }
            };
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
                    let Shape::Nodes { reduce, .. } = &rule.shape else {
                        continue;
                    };
                    let Some(state) = RuleState::new(rule, &rules.templates, &input_value) else {
                        continue;
                    };
                    SlotKind::Nodes {
                        path: path_of(select),
                        fields,
                        value: value.as_ref(),
                        // A ready-made histogram's series is named by its first node.
                        keeps_paths: matches!(
                            reduce,
                            Reduce::Each(_)
                                | Reduce::States { .. }
                                | Reduce::Buckets { .. }
                                | Reduce::Quantiles
                        ),
                        state: Box::new(state),
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
            let tree = match &kind {
                SlotKind::Nodes { fields, value, .. } => {
                    fields.iter().chain(*value).any(|q| q.reader.needs_tree())
                }
                _ => false,
            };
            let mut above = false;
            if let SlotKind::Nodes { fields, value, .. } = &kind {
                for query in fields.iter().chain(*value) {
                    if let Reader::AncestorChild { child, .. } = &query.reader {
                        above = true;
                        if !above_names.contains(&child) {
                            above_names.push(child);
                        }
                    }
                }
            }
            let immediate = match &kind {
                SlotKind::Nodes { fields, value, .. } => {
                    fields.iter().chain(*value).all(|q| q.reader.at_start())
                }
                SlotKind::Count { .. } => true,
                SlotKind::Sum { attribute, .. } => attribute.is_some(),
            };
            let reads = match &kind {
                SlotKind::Nodes { fields, value, .. } => fields
                    .iter()
                    .chain(*value)
                    .map(|query| match &query.reader {
                        Reader::Attribute(name) => Some(reader_of(AttributeReader::Own(name))),
                        Reader::Ancestor(upward, name) => {
                            Some(reader_of(AttributeReader::Upward(upward, name)))
                        }
                        _ => None,
                    })
                    .collect(),
                SlotKind::Count { attribute, .. } | SlotKind::Sum { attribute, .. } => {
                    vec![attribute.map(|name| reader_of(AttributeReader::Own(name)))]
                }
            };
            slots.push(Slot {
                rule_index,
                rule,
                kind,
                immediate,
                tree,
                above,
                error: None,
                skips: Skips::default(),
                reads,
                share: None,
            });
        }
        let shares = share_keys(&mut slots);
        let children = paths
            .iter()
            .map(|path| {
                path.steps
                    .last()
                    .and_then(|step| step.predicate.as_ref())
                    .map(Predicate::children)
                    .unwrap_or_default()
            })
            .collect();
        let deferred_needs = paths.iter().map(|path| DeferredNeeds::of(path)).collect();
        let mut path_slots = vec![Vec::new(); paths.len()];
        for (index, slot) in slots.iter().enumerate() {
            if let Some(these) = path_slots.get_mut(slot.path()) {
                these.push(index);
            }
        }
        let predicate_hints = paths.iter().map(|_| Cell::new(0)).collect();
        let mut states = vec![0u64; paths.len()];
        // The document node: no step matched yet.
        states.iter_mut().for_each(|s| *s = 1);
        StreamEngine {
            rules,
            input: input_value,
            paths,
            states,
            frames: Vec::new(),
            depth: 0,
            scopes: Vec::new(),
            pending: vec![0; slots.len()],
            shares,
            slots,
            path_slots,
            reader_hints: readers.iter().map(|_| Cell::new(0)).collect(),
            predicate_hints,
            readers,
            records: VecDeque::new(),
            children,
            deferred_needs,
            spare: Vec::new(),
            selected: Vec::new(),
            tree: Tree::new(),
            tree_base: None,
            tree_limit: u64::MAX,
            document_children: vec![FirstChild::default(); above_names.len()],
            above_failed: vec![false; above_names.len()],
            above_names,
            running: Vec::new(),
            waiting: 0,
            held: 0,
            next_seq: 0,
            open: Vec::new(),
        }
    }

    /// Where the records of open elements start in `records`: the queue holds consecutive
    /// records, the finished ones before them.
    fn open_from(&self) -> usize {
        match (self.open.first(), self.records.front()) {
            (Some(&seq), Some(front)) => {
                usize::try_from(seq.saturating_sub(front.seq)).unwrap_or(usize::MAX)
            }
            _ => self.records.len(),
        }
        .min(self.records.len())
    }

    /// Limits the memory of the buffered subtree of a selected element (see
    /// [`EvalErrorKind::SubtreeTooLarge`]).
    pub fn with_subtree_limit(mut self, bytes: u64) -> Self {
        self.tree_limit = bytes;
        self
    }

    /// Fails the rules whose selected elements are in the tree once it takes more memory
    /// than allowed, and lets the tree go.
    fn check_tree(&mut self) {
        if self.tree.memory() as u64 <= self.tree_limit {
            return;
        }
        let frames = &self.frames[..self.depth];
        for record in self.records.iter_mut().filter(|r| r.done.is_none()) {
            let Some(slot) = self.slots.get_mut(record.slot) else {
                continue;
            };
            if record.node.take().is_some() && slot.error.is_none() {
                let kind = EvalErrorKind::SubtreeTooLarge {
                    limit: self.tree_limit,
                };
                let at = location(frames.get(..record.depth).unwrap_or(frames));
                slot.error = Some(node::error(slot.rule, Some(at), kind));
            }
        }
        self.tree = Tree::new();
        self.tree_base = None;
    }

    /// The results, after a scan that succeeded: samples per rule, or the error of the first
    /// rule (in file order) that failed, as the DOM engine would report it.
    pub fn finish(mut self) -> Result<Vec<RuleSamples>, EvalError> {
        self.flush();
        let global = crate::engine::node::render_global_labels(self.rules, &self.input)?;
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
            let mut skips = slot.skips;
            let samples = match slot.kind {
                SlotKind::Nodes { state, .. } => state.finish(&mut skips)?,
                SlotKind::Count { total, .. } | SlotKind::Sum { total, .. } => {
                    let context = templates::context([], &self.input);
                    let labels = render_labels(&self.rules.templates, &slot.rule.labels, &context)
                        .map_err(|kind| node::error(slot.rule, None, kind))?;
                    Samples::from(vec![Sample {
                        labels: LabelSet::new(labels),
                        value: SampleValue::Single(total),
                    }])
                }
            };
            out.push(RuleSamples {
                rule: slot.rule_index,
                samples: with_global_labels(samples, &global),
                skips,
            });
        }
        match first_error {
            Some((_, error)) => Err(error),
            None => Ok(out),
        }
    }

    fn depth(&self) -> usize {
        self.depth
    }

    /// Resolves a prefix against the declarations in scope.
    fn resolve(&self, prefix: &str) -> Result<Option<&str>, ()> {
        resolve(&self.scopes, prefix)
    }

    /// The attributes of the current start tag.
    fn attributes(&self) -> &TagAttributes {
        &self.frames[self.depth - 1].attributes
    }

    /// Reads the attributes of a start tag into the reused buffer of its frame; namespace
    /// declarations go to `scopes`. Returns how many declarations the tag made.
    fn read_attributes(&mut self, frame: usize, tag: &xml::StartTag<'_>) -> usize {
        let mut declared = 0;
        let text = tag.raw();
        let attributes = &mut self.frames[frame].attributes;
        attributes.text.clear();
        attributes.list.clear();
        attributes.text.push_str(text);
        // By the ranges the scan found: the attributes' text is in `attributes.text` already.
        for (name, value) in tag.attribute_ranges() {
            let Some(key) = text.as_bytes().get(name.clone()) else {
                continue;
            };
            if key.starts_with(b"xmlns") && (key.len() == 5 || key.get(5) == Some(&b':')) {
                let key = text.get(name.clone()).unwrap_or_default();
                let raw = text.get(value.clone()).unwrap_or_default();
                let prefix = key.strip_prefix("xmlns:").unwrap_or_default();
                // The scan has checked every reference, so expanding them cannot fail.
                let uri = quick_xml::escape::unescape(raw)
                    .map_or_else(|_| raw.to_owned(), |uri| uri.into_owned());
                self.scopes.push((prefix.to_owned(), uri));
                declared += 1;
            } else {
                attributes.push_ranges(text, name.clone(), value.clone());
            }
        }
        declared
    }

    /// Continues a start tag whose element no rule can select: keeps the match states level.
    fn after_start_unmatched(&mut self, _depth: usize) {
        self.states.extend(std::iter::repeat_n(0, self.paths.len()));
    }

    /// Evaluates a selected element whose rule reads only attributes, at its start tag; the
    /// attributes come from `reads`, shared by the rules that select the element.
    fn observe_now(slot: &mut Slot<'_>, reads: &Reads<'_>, shares: &mut [SharedKeys]) {
        let rule = slot.rule;
        let share = slot.share.and_then(|i| shares.get_mut(i));
        let skips = &mut slot.skips;
        let indexes = &slot.reads;
        let result = match &mut slot.kind {
            SlotKind::Count { total, .. } => {
                // `count(PATH/@a)` counts only the elements that have the attribute.
                let attribute = indexes.first().copied().flatten();
                if attribute.is_none() || reads.get(attribute).is_some() {
                    *total += 1.0;
                }
                Ok(())
            }
            SlotKind::Sum { total, .. } => {
                if let Some(value) = reads.get(indexes.first().copied().flatten()) {
                    *total += xpath_number(value);
                }
                Ok(())
            }
            SlotKind::Nodes {
                fields,
                value,
                state,
                keeps_paths,
                ..
            } => {
                let frames = reads.frames;
                let read = |at: usize, query: &ReadQuery| {
                    reads
                        .get(indexes.get(at).copied().flatten())
                        .or_else(|| query.or_empty.then_some(""))
                };
                // The field values borrow from the tag: on the stack for a few fields.
                let mut inline = [""; 8];
                let mut spilled = Vec::new();
                let texts = match inline.get_mut(..fields.len()) {
                    Some(texts) => texts,
                    None => {
                        spilled.resize(fields.len(), "");
                        spilled.as_mut_slice()
                    }
                };
                let resolved = node::resolve(
                    rule,
                    fields
                        .iter()
                        .enumerate()
                        .map(|(at, query)| Ok::<_, Infallible>(read(at, query))),
                    |i, text| {
                        if let Some(slot) = texts.get_mut(i) {
                            *slot = text;
                        }
                    },
                    || {
                        Ok(match value.and_then(|query| read(fields.len(), query)) {
                            Some(text) => Reading::Text(Cow::Borrowed(text)),
                            None => Reading::Missing,
                        })
                    },
                );
                match resolved {
                    Ok(Outcome::Use(number)) => {
                        let place = keeps_paths.then(|| place(frames));
                        state.observe_sharing(skips, texts, number, place, share)
                    }
                    Ok(Outcome::Skip(skip)) => {
                        skips.add(skip, || location(frames));
                        Ok(())
                    }
                    Ok(Outcome::Fail(kind)) => Err(node::error(rule, Some(location(frames)), kind)),
                    Err(never) => match never {},
                }
            }
        };
        if let Err(err) = result {
            slot.error = Some(err);
        }
    }

    /// Collects text for the first children open now that rules read of ancestors
    /// (`../name`); one that outgrows the tree's limit fails the rules that read it.
    fn first_children_text(&mut self, text: &str) {
        for &(parent, k) in &self.running {
            if self.above_failed.get(k).is_some_and(|failed| *failed) {
                continue;
            }
            let Some(first) =
                first_child_mut(&mut self.frames, &mut self.document_children, parent, k)
            else {
                continue;
            };
            first.text.push_str(text);
            if first.text.len() as u64 <= self.tree_limit {
                continue;
            }
            first.text = String::new();
            if let Some(failed) = self.above_failed.get_mut(k) {
                *failed = true;
            }
            let name = self.above_names.get(k).copied();
            let at = location(&self.frames[..self.depth]);
            for slot in &mut self.slots {
                let SlotKind::Nodes { fields, value, .. } = &slot.kind else {
                    continue;
                };
                let read = fields.iter().chain(*value).position(|query| {
                    matches!(&query.reader, Reader::AncestorChild { child, .. }
                        if Some(child) == name)
                });
                if let Some(read) = read
                    && slot.error.is_none()
                {
                    let kind =
                        above_too_large(slot.rule, fields.len(), read, false, self.tree_limit);
                    slot.error = Some(node::error(slot.rule, Some(at.clone()), kind));
                }
            }
        }
    }

    /// The first child with name `k` of the element at depth `parent` (0: the document) has
    /// ended: the records that wait for it get its text.
    fn child_ended(&mut self, parent: usize, k: usize) {
        let frames = &self.frames[..self.depth];
        let Some(first) = first_child(frames, &self.document_children, parent, k) else {
            return;
        };
        // Only the records of elements inside the parent wait for its children.
        let inside = first_records(frames, parent);
        let finished = settle_waiting(&mut self.records, inside, |reads, awaits| {
            awaits.retain(|wanted| {
                let admitted = wanted.test.is_none_or(|test| {
                    parent
                        .checked_sub(1)
                        .and_then(|at| frames.get(at))
                        .is_some_and(|frame| name_matches(test, frame.ns(), frame.local()))
                });
                let hit =
                    wanted.child == k && wanted.lo <= parent && parent <= wanted.hi && admitted;
                if hit && let Some(read) = reads.get_mut(wanted.read) {
                    *read = Ok(Got::Text(Cow::Owned(first.text.clone())));
                }
                !hit
            });
        });
        for index in finished {
            self.finish_waiting(index);
        }
    }

    /// The element at `depth` has ended: the records that wait for a child of it get none, or
    /// wait for the ancestors around it (`ancestor::x/name`).
    fn element_ended(&mut self, depth: usize) {
        // Only the records of elements inside it wait for it.
        let inside = first_records(&self.frames[..self.depth], depth);
        let finished = settle_waiting(&mut self.records, inside, |reads, awaits| {
            awaits.retain_mut(|wanted| {
                if wanted.hi < depth {
                    return true;
                }
                wanted.hi = depth.saturating_sub(1);
                if wanted.lo <= wanted.hi {
                    return true;
                }
                if let Some(read) = reads.get_mut(wanted.read) {
                    *read = Ok(if wanted.or_empty {
                        Got::Text(Cow::Borrowed(""))
                    } else {
                        Got::Missing
                    });
                }
                false
            });
        });
        for index in finished {
            self.finish_waiting(index);
        }
    }

    /// Gives a waiting record, whose reads are all known now, its observation.
    fn finish_waiting(&mut self, index: usize) {
        let Some(record) = self.records.get_mut(index) else {
            return;
        };
        let Some(wait) = record.wait.take() else {
            return;
        };
        self.waiting = self.waiting.saturating_sub(1);
        let Some(slot) = self.slots.get(record.slot) else {
            record.done = Some(Observation::Dropped);
            return;
        };
        let SlotKind::Nodes { fields, value, .. } = &slot.kind else {
            record.done = Some(Observation::Dropped);
            return;
        };
        let Waiting { reads, at, .. } = *wait;
        let mut reads = reads.into_iter();
        let read = |_: &ReadQuery| reads.next().unwrap_or(Ok(Got::Missing));
        let texts = std::mem::take(&mut record.texts);
        let location = record.location.take();
        record.done = Some(observe_reads(
            slot.rule,
            fields,
            *value,
            texts,
            location,
            read,
            || at.clone(),
        ));
    }

    /// Fails the rules whose records wait for an ancestor's child element once the records
    /// held take more memory than the tree may, and lets their records go.
    fn fail_waiting(&mut self) {
        for record in self.records.iter_mut() {
            let Some(wait) = record.wait.take() else {
                continue;
            };
            self.waiting = self.waiting.saturating_sub(1);
            record.done = Some(Observation::Dropped);
            let Some(slot) = self.slots.get_mut(record.slot) else {
                continue;
            };
            let SlotKind::Nodes { fields, .. } = &slot.kind else {
                continue;
            };
            if slot.error.is_none() {
                let read = wait.awaits.first().map_or(0, |wanted| wanted.read);
                let kind = above_too_large(slot.rule, fields.len(), read, true, self.tree_limit);
                slot.error = Some(node::error(slot.rule, Some(wait.at), kind));
            }
        }
    }

    /// Hands over finished records in document order.
    fn flush(&mut self) {
        while self
            .records
            .front()
            .is_some_and(|r| r.done.as_ref().is_some_and(Observation::is_known))
        {
            let Some(mut record) = self.records.pop_front() else {
                break;
            };
            self.held = self.held.saturating_sub(record.held);
            if let Some(count) = self.pending.get_mut(record.slot) {
                *count = count.saturating_sub(1);
            }
            if let Some(observation) = record.done.take()
                && let Some(texts) = self.observe(record.slot, observation)
            {
                record.texts = texts;
            }
            self.spare.push(record);
        }
    }

    /// Hands an observation to its rule; gives back the field texts' buffer, for reuse.
    fn observe(&mut self, slot_index: usize, observation: Observation) -> Option<Vec<String>> {
        let slot = self.slots.get_mut(slot_index)?;
        if slot.error.is_some() {
            return None;
        }
        let share = slot.share.and_then(|i| self.shares.get_mut(i));
        let skips = &mut slot.skips;
        let result = match (&mut slot.kind, observation) {
            (_, Observation::Dropped) => Ok(()),
            (_, Observation::Failed(err)) => Err(err),
            (_, Observation::Skipped(skip, location)) => {
                skips.add(skip, || location);
                Ok(())
            }
            (SlotKind::Count { total, .. }, Observation::Document(_)) => {
                *total += 1.0;
                Ok(())
            }
            (SlotKind::Sum { total, .. }, Observation::Document(text)) => {
                *total += xpath_number(&text);
                Ok(())
            }
            (
                SlotKind::Nodes { state, .. },
                Observation::Node {
                    fields,
                    value,
                    location,
                },
            ) => {
                let result = state.observe_sharing(skips, &fields, value, location, share);
                if let Err(err) = result {
                    slot.error = Some(err);
                }
                return Some(fields);
            }
            _ => Ok(()),
        };
        if let Err(err) = result {
            slot.error = Some(err);
        }
        None
    }
}

/// Resolves a prefix (`""` for the default namespace) against the declarations in scope;
/// `Err` for a prefix that is not declared (it matches no name test).
fn resolve<'s>(scopes: &'s [(String, String)], prefix: &str) -> Result<Option<&'s str>, ()> {
    match scopes.iter().rev().find(|(p, _)| p == prefix) {
        Some((_, uri)) if uri.is_empty() => Ok(None),
        Some((_, uri)) => Ok(Some(uri.as_str())),
        None if prefix.is_empty() => Ok(None),
        None => Err(()),
    }
}

/// The attributes of a start tag, namespace declarations left out: the tag's text, followed by
/// the values whose references were expanded, and where each name and value is in it. Reused
/// from tag to tag, so reading attributes allocates nothing once it has grown.
#[derive(Debug, Default)]
struct TagAttributes {
    text: String,
    list: Vec<TagAttribute>,
}

/// Where one attribute's name, the `:` in it (if any) and its value are in [`TagAttributes::text`].
#[derive(Debug, Clone)]
struct TagAttribute {
    name: std::ops::Range<usize>,
    colon: Option<usize>,
    value: std::ops::Range<usize>,
}

impl TagAttributes {
    /// Adds an attribute of the tag whose text (`raw`) is in `text`; `key` and `value` are
    /// slices of `raw`.
    #[cfg(test)]
    fn push(&mut self, raw: &str, key: &str, value: &str) {
        let offset = |part: &str| (part.as_ptr() as usize).saturating_sub(raw.as_ptr() as usize);
        self.push_ranges(
            raw,
            offset(key)..offset(key) + key.len(),
            offset(value)..offset(value) + value.len(),
        );
    }

    /// Adds an attribute of the tag whose text (`raw`) is in `text`: where its name and its
    /// value as written are in it.
    fn push_ranges(
        &mut self,
        raw: &str,
        name: std::ops::Range<usize>,
        value: std::ops::Range<usize>,
    ) {
        let bytes = raw.as_bytes();
        let colon = bytes
            .get(name.clone())
            .unwrap_or_default()
            .iter()
            .position(|&b| b == b':')
            .map(|at| name.start + at);
        let value = if has_ampersand(bytes.get(value.clone()).unwrap_or_default()) {
            // The scan has checked every reference, so expanding them cannot fail.
            let written = raw.get(value).unwrap_or_default();
            let start = self.text.len();
            match quick_xml::escape::unescape(written) {
                Ok(expanded) => self.text.push_str(&expanded),
                Err(_) => self.text.push_str(written),
            }
            start..self.text.len()
        } else {
            value
        };
        self.list.push(TagAttribute { name, colon, value });
    }

    fn part(&self, range: &std::ops::Range<usize>) -> &str {
        self.text.get(range.clone()).unwrap_or_default()
    }

    /// The attributes as written: name (prefix included) and value (references expanded).
    fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.list
            .iter()
            .map(|attribute| (self.part(&attribute.name), self.part(&attribute.value)))
    }

    /// The value of the attribute with a resolved name. Unprefixed attributes are in no
    /// namespace: the default namespace is for elements only.
    fn get(&self, scopes: &[(String, String)], name: &QName) -> Option<&str> {
        let at = self.position(scopes, name)?;
        self.list
            .get(at)
            .map(|attribute| self.part(&attribute.value))
    }

    /// [`TagAttributes::get`], looking first at the attribute at `hint`, and setting `hint` to
    /// where the attribute is: the elements a reader reads mostly write their attributes in
    /// the same order, so that one comparison finds it.
    #[inline]
    fn get_hinted(
        &self,
        scopes: &[(String, String)],
        name: &QName,
        hint: &Cell<usize>,
    ) -> Option<&str> {
        if let Some(attribute) = self.list.get(hint.get())
            && self.is(attribute, scopes, name)
        {
            return Some(self.part(&attribute.value));
        }
        let at = self.position(scopes, name)?;
        hint.set(at);
        self.list
            .get(at)
            .map(|attribute| self.part(&attribute.value))
    }

    /// Where the attribute with a resolved name is in the list.
    fn position(&self, scopes: &[(String, String)], name: &QName) -> Option<usize> {
        self.list
            .iter()
            .position(|attribute| self.is(attribute, scopes, name))
    }

    /// Whether an attribute of the list has a resolved name.
    #[inline(always)]
    fn is(&self, attribute: &TagAttribute, scopes: &[(String, String)], name: &QName) -> bool {
        // Called for every field of every selected element: most attributes differ from the
        // name in length, which is told from the ranges before any byte is read.
        let bytes = self.text.as_bytes();
        let wanted = name.local.as_bytes();
        match attribute.colon {
            None => {
                name.ns.is_none()
                    && attribute.name.len() == wanted.len()
                    && bytes
                        .get(attribute.name.clone())
                        .is_some_and(|got| same_bytes(got, wanted))
            }
            Some(colon) => {
                let local = colon + 1..attribute.name.end;
                if name.ns.is_none()
                    || local.len() != wanted.len()
                    || !bytes.get(local).is_some_and(|got| same_bytes(got, wanted))
                {
                    return false;
                }
                let prefix = self.part(&(attribute.name.start..colon));
                scopes
                    .iter()
                    .rev()
                    .find(|(p, _)| p == prefix)
                    .map(|(_, uri)| uri.as_str())
                    == name.ns.as_deref()
            }
        }
    }
}

/// How many children of one element carry each expanded name. Most elements have a few
/// distinct child names, searched in a list; past [`SiblingCounts::LISTED`] they go into a hash
/// map, so an element with a million differently named children costs linear time, not
/// quadratic.
#[derive(Debug, Default)]
struct SiblingCounts {
    listed: Vec<(Option<String>, String, usize)>,
    /// Keyed by `URI \0 local name` (a namespace URI is never empty, nor holds `\0`).
    hashed: FxHashMap<String, usize>,
    /// A reused buffer for building keys.
    key: String,
}

impl SiblingCounts {
    const LISTED: usize = 16;

    /// Counts one more child with this expanded name; returns its 1-based position among them.
    fn next(&mut self, uri: Option<&str>, name: &str) -> usize {
        if let Some((_, _, count)) = self
            .listed
            .iter_mut()
            .find(|(u, n, _)| u.as_deref() == uri && same(n, name))
        {
            *count += 1;
            return *count;
        }
        if self.listed.len() < Self::LISTED {
            self.listed
                .push((uri.map(str::to_owned), name.to_owned(), 1));
            return 1;
        }
        self.key.clear();
        self.key.push_str(uri.unwrap_or_default());
        self.key.push('\0');
        self.key.push_str(name);
        match self.hashed.get_mut(self.key.as_str()) {
            Some(count) => {
                *count += 1;
                *count
            }
            None => {
                self.hashed.insert(self.key.clone(), 1);
                1
            }
        }
    }

    fn clear(&mut self) {
        self.listed.clear();
        self.hashed.clear();
    }
}

/// Whether an attribute value holds a reference (`&`): tested eight bytes at a time, as
/// values are short and a search's setup costs more than such a value (a byte equal to `&`
/// is zero in `word ^ 0x26..26`, and `(x - 0x01..01) & !x & 0x80..80` sets the high bit of a
/// zero byte; a borrow can set only bits above one), the rest byte by byte.
fn has_ampersand(bytes: &[u8]) -> bool {
    const AMPERSANDS: u64 = 0x2626_2626_2626_2626;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        // A chunk is eight bytes: the default (no `&`) is never used.
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default()) ^ AMPERSANDS;
        if word.wrapping_sub(ONES) & !word & HIGHS != 0 {
            return true;
        }
    }
    // The last one to seven bytes: up to three one by one, else as two words of four, which
    // overlap where there are fewer than eight.
    let rest = words.remainder();
    let has_in = |at: usize| {
        let word = rest
            .get(at..at + 4)
            .and_then(|part| <[u8; 4]>::try_from(part).ok())
            .map_or(0, u32::from_le_bytes)
            ^ AMPERSANDS as u32;
        word.wrapping_sub(ONES as u32) & !word & HIGHS as u32 != 0
    };
    match rest.len() {
        0..=3 => [0, 1, 2].iter().any(|&at| rest.get(at) == Some(&b'&')),
        len => has_in(0) || has_in(len - 4),
    }
}

/// Whether two short strings (names, mostly) are equal, compared in place ([`same_bytes`]).
fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// Gives the node-level rules that share a label recipe ([`RuleState::label_recipe`]) with
/// another one their [`SharedKeys`]; returns them, by [`Slot::share`].
fn share_keys(slots: &mut [Slot<'_>]) -> Vec<SharedKeys> {
    let recipes: Vec<Option<Vec<&str>>> = slots
        .iter()
        .map(|slot| match &slot.kind {
            SlotKind::Nodes { state, .. } => state.label_recipe(),
            _ => None,
        })
        .collect();
    let mut shares = Vec::new();
    let mut of_recipe: Vec<(&[&str], usize)> = Vec::new();
    for (index, recipe) in recipes.iter().enumerate() {
        let Some(recipe) = recipe.as_deref() else {
            continue;
        };
        let alike = recipes
            .iter()
            .filter(|other| other.as_deref() == Some(recipe))
            .count();
        if alike < 2 {
            continue;
        }
        let share = match of_recipe.iter().find(|(r, _)| *r == recipe) {
            Some(&(_, share)) => share,
            None => {
                shares.push(SharedKeys::new(recipe));
                of_recipe.push((recipe, shares.len() - 1));
                shares.len() - 1
            }
        };
        if let Some(slot) = slots.get_mut(index) {
            slot.share = Some(share);
        }
    }
    shares
}

impl Slot<'_> {
    /// The index of the path that selects this slot's elements.
    fn path(&self) -> usize {
        match &self.kind {
            SlotKind::Nodes { path, .. }
            | SlotKind::Count { path, .. }
            | SlotKind::Sum { path, .. } => *path,
        }
    }
}

/// Where a node is, as its location path will say: the path up to its name, shared with its
/// siblings of that name, and its position (none for the root element). Two words, where the
/// path itself would be a string of its own for every node of a rule with one series per node.
#[derive(Debug, Clone)]
pub struct Place {
    steps: Rc<String>,
    position: usize,
}

impl Place {
    /// The location path, e.g. `/store/row[3]`.
    fn path(&self) -> String {
        let mut path = String::with_capacity(self.steps.len() + 8);
        path.push_str(&self.steps);
        if self.position > 0 {
            push_position(&mut path, self.position);
        }
        path
    }
}

/// A place, or `None` where the rule does not keep them.
impl Located for Option<Place> {
    fn path(&self) -> String {
        self.as_ref().map(Place::path).unwrap_or_default()
    }

    fn node(&self) -> Option<String> {
        self.as_ref().map(Place::path)
    }
}

/// The [`Place`] of the innermost open element: its location path is [`location`]'s.
fn place(frames: &[Frame]) -> Place {
    let Some((last, parents)) = frames.split_last() else {
        return Place {
            steps: Rc::new(String::new()),
            position: 0,
        };
    };
    let Some(parent) = parents.last() else {
        return Place {
            steps: Rc::new(location(frames)),
            position: 0,
        };
    };
    let mut cached = parent.child_steps.borrow_mut();
    let steps = match &*cached {
        Some(steps) if names_child(steps, &last.raw) => steps.clone(),
        _ => {
            let mut steps = location(parents);
            steps.push('/');
            steps.push_str(&last.raw);
            let steps = Rc::new(steps);
            *cached = Some(steps.clone());
            steps
        }
    };
    Place {
        steps,
        position: last.position,
    }
}

/// Whether a location path ends in a step that names `raw` (names hold no `/`).
fn names_child(steps: &str, raw: &str) -> bool {
    steps
        .strip_suffix(raw)
        .is_some_and(|before| before.ends_with('/'))
}

/// The location path of the innermost open element, e.g. `/store/row[3]`.
fn location(frames: &[Frame]) -> String {
    // Built for every node of a rule that keeps one series per node: sized once, the
    // positions written in place.
    let size: usize = frames.iter().map(|frame| frame.raw.len() + 8).sum();
    let mut out = String::with_capacity(size);
    for (i, frame) in frames.iter().enumerate() {
        out.push('/');
        out.push_str(&frame.raw);
        if i > 0 {
            push_position(&mut out, frame.position);
        }
    }
    out
}

/// Appends `[n]`.
fn push_position(out: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push('[');
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
    out.push(']');
}

fn name_matches(test: &NameTest, ns: Option<&str>, local: &str) -> bool {
    match test {
        NameTest::Any => true,
        NameTest::AnyIn(uri) => ns == Some(uri.as_str()),
        NameTest::Name(name) => same(&name.local, local) && name.ns.as_deref() == ns,
    }
}

impl StreamEngine<'_> {
    /// The end tag of the element at `depth` for the open records: its records complete, and
    /// its parent's child readers and text runs move on.
    fn end_records(&mut self, depth: usize) {
        // Every record that completes here is the ending element's: they share its reads,
        // made when the first completes.
        let mut reads = None;
        let from = self.open_from();
        for index in from..self.records.len() {
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
                for fact in &mut record.facts {
                    fact.inside = false;
                }
            }
            if record.depth == depth {
                let frames = &self.frames[..self.depth];
                let record = &mut self.records[index];
                let slot = &self.slots[record.slot];
                let children = &self.children[slot.path()];
                let reads = reads.get_or_insert_with(|| {
                    Reads::new(frames, &self.scopes, &self.readers, &self.reader_hints)
                });
                let above = AboveNames {
                    names: &self.above_names,
                    document: &self.document_children,
                };
                let observation =
                    complete(record, slot, children, &self.tree, reads, &above, || {
                        location(frames)
                    });
                let record = &mut self.records[index];
                if matches!(observation, Observation::Waiting) {
                    self.waiting += 1;
                }
                record.done = Some(observation);
                if self.waiting > 0 {
                    record.held = held_bytes(record);
                    self.held += record.held;
                }
            }
        }
        // First text runs of the parent end here too.
        for record in self.records.range_mut(from..).filter(|r| r.done.is_none()) {
            if record.depth + 1 == depth
                && let Some((_, run)) = &mut record.first_text
                && *run == TextRun::Running
            {
                *run = TextRun::Ended;
            }
        }
        // The records that ended here are the last open ones.
        let front = self.records.front().map_or(0, |r| r.seq);
        while let Some(&seq) = self.open.last()
            && usize::try_from(seq.saturating_sub(front))
                .ok()
                .and_then(|at| self.records.get(at))
                .is_none_or(|record| record.done.is_some())
        {
            self.open.pop();
        }
        if self.waiting > 0 {
            self.element_ended(depth);
        }
        self.flush();
        if self.held > self.tree_limit {
            self.fail_waiting();
            self.flush();
        }
    }
}

impl<'r> xml::Sink for StreamEngine<'r> {
    fn start(&mut self, tag: &xml::StartTag<'_>, _empty: bool) {
        let raw = tag.name();
        let depth = self.depth + 1;
        if self.frames.len() < depth {
            self.frames.push(Frame::default());
        }
        // Namespace declarations must be read before the name resolves. Attributes are read
        // into the frame's reused buffers, so this allocates nothing once they have grown.
        let declared = if !tag.has_attributes() {
            self.frames[depth - 1].attributes.list.clear();
            0
        } else {
            self.read_attributes(depth - 1, tag)
        };
        // Found byte by byte: a name is short, and a `char` search costs more than it.
        let (prefix, local) = match raw.bytes().position(|b| b == b':') {
            Some(at) => (
                raw.get(..at).unwrap_or_default(),
                raw.get(at + 1..).unwrap_or_default(),
            ),
            None => ("", raw),
        };

        // The name resolves once, for the position and for matching. Position among siblings
        // of the same expanded name, for location paths; an undeclared prefix (allowed only
        // where sxd-document allows it) counts by the name as written.
        let scopes = std::mem::take(&mut self.scopes);
        let resolved = resolve(&scopes, prefix);
        let (uri, name) = match resolved {
            Ok(uri) => (uri, local),
            Err(()) => (None, raw),
        };
        let (position, index) = match self.depth.checked_sub(1).map(|i| &mut self.frames[i]) {
            Some(parent) => {
                parent.elements += 1;
                (parent.children.next(uri, name), parent.elements)
            }
            None => (1, 1),
        };
        let frame = &mut self.frames[depth - 1];
        frame.raw.clear();
        frame.raw.push_str(raw);
        frame.local_at = raw.len() - name.len();
        frame.ns.clear();
        frame.ns.push_str(uri.unwrap_or_default());
        frame.has_ns = uri.is_some();
        frame.position = position;
        frame.index = index;
        frame.elements = 0;
        frame.children.clear();
        frame.declared = declared;
        frame.scope_end = scopes.len();
        *frame.child_steps.get_mut() = None;
        frame.first_record = self.next_seq;
        if !self.above_names.is_empty() {
            frame
                .firsts
                .resize_with(self.above_names.len(), FirstChild::default);
            for first in &mut frame.firsts {
                first.state = ChildState::NotSeen;
                first.text.clear();
            }
        }
        self.depth = depth;

        // Inside a selected element whose rule evaluates XPath on its subtree, every element
        // goes into the tree.
        let mut in_tree = self
            .tree_base
            .map(|_| open_in_tree(&mut self.tree, &self.frames[depth - 1], &scopes));
        if in_tree.is_some() {
            self.check_tree();
            in_tree = in_tree.filter(|_| self.tree_base.is_some());
        }

        let Ok(ns) = resolved else {
            // An undeclared prefix (the scan allows it only where sxd-document does) names no
            // namespace a rule can match; such an element is never selected.
            self.scopes = scopes;
            self.after_start_unmatched(depth);
            return;
        };

        // The first child with a name that rules read of ancestors (`../name`).
        if let Some(k) = self
            .above_names
            .iter()
            .position(|name| same(&name.local, local) && name.ns.as_deref() == ns)
            && let Some(first) =
                first_child_mut(&mut self.frames, &mut self.document_children, depth - 1, k)
            && first.state == ChildState::NotSeen
        {
            first.state = ChildState::Open;
            first.text.clear();
            self.running.push((depth - 1, k));
        }

        // Child readers, child facts and first-text runs of the open records.
        if !self.records.is_empty() {
            let attributes = &self.frames[depth - 1].attributes;
            let from = self.open_from();
            for record in self.records.range_mut(from..).filter(|r| r.done.is_none()) {
                if record.depth + 1 != depth {
                    continue;
                }
                if let Some((_, run)) = &mut record.first_text
                    && *run == TextRun::Running
                {
                    *run = TextRun::Ended;
                }
                for child in &mut record.children {
                    if child.inside.is_none()
                        && child.value.is_none()
                        && child.name.local == local
                        && child.name.ns.as_deref() == ns
                    {
                        match &child.attribute {
                            None => {
                                child.inside = Some(depth);
                                child.value = Some(String::new());
                            }
                            Some(attribute) => {
                                child.value = attributes.get(&scopes, attribute).map(str::to_owned);
                            }
                        }
                    }
                }
                if !record.facts.is_empty() {
                    let path = self.slots[record.slot].path();
                    for ((name, _), fact) in self.children[path].iter().zip(&mut record.facts) {
                        if same(&name.local, local) && name.ns.as_deref() == ns {
                            fact.count += 1;
                            if let Some(texts) = &mut fact.texts {
                                texts.push(String::new());
                                fact.inside = true;
                            }
                        }
                    }
                }
            }
        }

        // Match every path one level deeper.
        let parent_base = (depth - 1) * self.paths.len();
        let mut selected = std::mem::take(&mut self.selected);
        selected.clear();
        let frame = &self.frames[depth - 1];
        for p in 0..self.paths.len() {
            let path: &'r Path = self.paths[p];
            let parent = self.states[parent_base + p];
            let deferred = self.deferred_needs[p].content;
            let advanced = matcher::advance(path, parent, |step, last| {
                if !name_matches(&step.test, ns, local) {
                    return StepMatch::No;
                }
                match &step.predicate {
                    Some(predicate) if last && deferred => StepMatch::Deferred(predicate),
                    Some(predicate) => {
                        let facts = StartFacts {
                            attributes: &frame.attributes,
                            scopes: &scopes,
                            position: step_position(&step.test, frame),
                            hint: &self.predicate_hints[p],
                        };
                        if predicate.eval(&facts) {
                            StepMatch::Yes
                        } else {
                            StepMatch::No
                        }
                    }
                    None => StepMatch::Yes,
                }
            });
            if advanced.selected {
                selected.push((p, None));
            } else if let Some(predicate) = advanced.deferred {
                selected.push((p, Some(predicate)));
            }
            self.states.push(advanced.state);
        }
        self.scopes = scopes;

        let reads = Reads::new(
            &self.frames[..depth],
            &self.scopes,
            &self.readers,
            &self.reader_hints,
        );
        for &(path, deferred) in &selected {
            for &slot_index in self.path_slots.get(path).map_or(&[][..], Vec::as_slice) {
                let slot = &self.slots[slot_index];
                if slot.error.is_some() {
                    continue;
                }
                if deferred.is_none() && slot.immediate && self.pending[slot_index] == 0 {
                    Self::observe_now(&mut self.slots[slot_index], &reads, &mut self.shares);
                } else {
                    let spare = self.spare.pop();
                    let mut record = self.record(spare, slot_index, depth, deferred);
                    record.seq = self.next_seq;
                    self.next_seq += 1;
                    let slot = &self.slots[slot_index];
                    if slot.tree || (deferred.is_some() && self.deferred_needs[path].tree) {
                        let node = match in_tree {
                            Some(node) => node,
                            None => start_tree(
                                &mut self.tree,
                                &mut self.tree_base,
                                &self.frames[..depth],
                                &self.scopes,
                            ),
                        };
                        in_tree = Some(node);
                        record.node = Some(node);
                    }
                    self.pending[slot_index] += 1;
                    self.open.push(record.seq);
                    self.records.push_back(record);
                }
            }
        }
        self.selected = selected;
    }

    fn end(&mut self) {
        let depth = self.depth();
        if self.tree_base.is_some() {
            self.tree.close();
        }
        // A first child that rules read of ancestors ends: its text is final.
        while let Some(&(parent, k)) = self.running.last()
            && parent + 1 == depth
        {
            self.running.pop();
            if let Some(first) =
                first_child_mut(&mut self.frames, &mut self.document_children, parent, k)
            {
                first.state = ChildState::Ended;
            }
            if self.waiting > 0 {
                self.child_ended(parent, k);
            }
        }
        if !self.records.is_empty() {
            self.end_records(depth);
        }
        if self.tree_base == Some(depth) {
            // The outermost element in the tree has ended, and with it every record there.
            self.tree_base = None;
        }
        if let Some(frame) = self.depth.checked_sub(1).and_then(|i| self.frames.get(i)) {
            let keep = self.scopes.len().saturating_sub(frame.declared);
            self.scopes.truncate(keep);
        }
        self.depth = self.depth.saturating_sub(1);
        let keep = self.states.len().saturating_sub(self.paths.len());
        self.states.truncate(keep);
    }

    fn text(&mut self, text: &str) {
        let depth = self.depth();
        if self.tree_base.is_some() {
            self.tree.text(text);
            self.check_tree();
        }
        if !self.running.is_empty() {
            self.first_children_text(text);
        }
        if self.records.is_empty() {
            return;
        }
        let from = self.open_from();
        for record in self.records.range_mut(from..).filter(|r| r.done.is_none()) {
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
            for fact in &mut record.facts {
                if fact.inside
                    && let Some(last) = fact.texts.as_mut().and_then(|texts| texts.last_mut())
                {
                    last.push_str(text);
                }
            }
        }
    }

    fn comment(&mut self, text: &str) {
        if self.tree_base.is_some() && self.depth > 0 {
            self.tree.comment(text);
        }
    }

    fn processing_instruction(&mut self, target: &str, value: Option<&str>) {
        if self.tree_base.is_some() && self.depth > 0 {
            self.tree.processing_instruction(target, value);
        }
    }

    fn boundary(&mut self) {
        let depth = self.depth();
        let from = self.open_from();
        for record in self.records.range_mut(from..).filter(|r| r.done.is_none()) {
            if record.depth == depth
                && let Some((_, run)) = &mut record.first_text
                && *run == TextRun::Running
            {
                *run = TextRun::Ended;
            }
        }
    }
}

impl<'r> StreamEngine<'r> {
    /// A record for a selected element whose start tag was just read, in the buffers of a
    /// spare one if there is one.
    fn record(
        &self,
        spare: Option<Box<Record<'r>>>,
        slot_index: usize,
        depth: usize,
        deferred: Option<&'r Predicate>,
    ) -> Box<Record<'r>> {
        let slot = &self.slots[slot_index];
        let path = slot.path();
        let frame = &self.frames[depth - 1];
        let position = self.paths[path]
            .steps
            .last()
            .map_or(frame.position, |step| step_position(&step.test, frame));
        let needs = self.deferred_needs[path];
        let mut record = spare.unwrap_or_else(|| {
            Box::new(Record {
                slot: 0,
                depth: 0,
                done: None,
                deferred: None,
                position: 0,
                own_attributes: Vec::new(),
                facts: Vec::new(),
                node: None,
                texts: Vec::new(),
                text: None,
                first_text: None,
                children: Vec::new(),
                location: None,
                wait: None,
                held: 0,
                seq: 0,
            })
        });
        record.slot = slot_index;
        record.depth = depth;
        record.done = None;
        record.position = position;
        record.node = None;
        record.deferred = deferred;
        record.location = None;
        record.wait = None;
        record.held = 0;
        record.first_text = None;
        record.children.clear();
        record.facts.clear();
        record.own_attributes.clear();
        record.text = None;
        if deferred.is_some() {
            record
                .facts
                .extend(self.children[path].iter().map(|(_, texts)| ChildFact {
                    texts: texts.then(Vec::new),
                    ..ChildFact::default()
                }));
            if needs.attributes {
                record
                    .own_attributes
                    .extend(self.attributes().iter().map(|(key, value)| {
                        let name = match key.split_once(':') {
                            None => QName {
                                ns: None,
                                local: key.to_owned(),
                            },
                            Some((prefix, local)) => QName {
                                ns: self.resolve(prefix).ok().flatten().map(str::to_owned),
                                local: local.to_owned(),
                            },
                        };
                        (name, value.to_owned())
                    }));
            }
            if needs.text {
                record.text = Some(String::new());
            }
        }
        // Attributes are read at the element's end, from its frame and its ancestors', which
        // are unchanged until then: only if the deferred predicate holds.
        let read = |query: &ReadQuery, record: &mut Record| match &query.reader {
            Reader::Attribute(_)
            | Reader::Ancestor(..)
            | Reader::AncestorChild { .. }
            | Reader::Expr(_) => {}
            Reader::StringValue => {
                record.text.get_or_insert_with(String::new);
            }
            Reader::FirstText => {
                record.first_text = Some((String::new(), TextRun::NotStarted));
            }
            Reader::Child(name) => {
                record.children.push(ChildRead {
                    name: name.clone(),
                    attribute: None,
                    inside: None,
                    value: None,
                });
            }
            Reader::ChildAttribute(name, attribute) => {
                record.children.push(ChildRead {
                    name: name.clone(),
                    attribute: Some(attribute.clone()),
                    inside: None,
                    value: None,
                });
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
                    record.location = Some(place(&self.frames[..self.depth]));
                }
            }
            SlotKind::Count { attribute, .. } | SlotKind::Sum { attribute, .. } => {
                // `sum(PATH)` adds the elements' string values; `count(PATH)` needs none.
                if attribute.is_none() && matches!(slot.kind, SlotKind::Sum { .. }) {
                    record.text.get_or_insert_with(String::new);
                }
            }
        }
        record
    }
}

/// Finishes a record at its element's end tag: checks the deferred predicate and reads the
/// fields and value, in the DOM engine's order (fields by name, then the value); attributes
/// come from `reads`, at the element.
fn complete<'r>(
    record: &mut Record<'r>,
    slot: &Slot<'r>,
    children: &[(QName, bool)],
    tree: &Tree,
    reads: &Reads<'_>,
    above: &AboveNames<'_, '_>,
    at: impl Fn() -> String,
) -> Observation {
    let text = record.text.take().unwrap_or_default();
    if let Some(predicate) = record.deferred {
        let facts = EndFacts {
            record,
            children,
            text: &text,
            tree,
            error: std::cell::RefCell::new(None),
        };
        let holds = predicate.eval(&facts);
        if let Some(message) = facts.error.into_inner() {
            let (field, query) = match &slot.rule.shape {
                Shape::Nodes { select, .. } => ("select", select.text()),
                Shape::Document { value, .. } => ("value", value.text()),
            };
            let kind = EvalErrorKind::XPath {
                field: field.to_owned(),
                query: query.to_owned(),
                message,
            };
            return Observation::Failed(node::error(slot.rule, Some(at()), kind));
        }
        if !holds {
            return Observation::Dropped;
        }
    }
    let (fields, value) = match &slot.kind {
        SlotKind::Count { attribute, .. } | SlotKind::Sum { attribute, .. } => {
            return match attribute {
                Some(_) => match reads.get(slot.reads.first().copied().flatten()) {
                    Some(value) => Observation::Document(value.to_owned()),
                    // `count(PATH/@a)` counts only the elements that have the attribute.
                    None => Observation::Dropped,
                },
                None => Observation::Document(text),
            };
        }
        SlotKind::Nodes { fields, value, .. } => (*fields, *value),
    };
    let mut children = record.children.drain(..);
    let first_text = record.first_text.take();
    let mut indexes = slot.reads.iter();
    let node = record.node;
    // The reads of ancestors' child elements that are not known yet.
    let mut awaits: Vec<Await<'r>> = Vec::new();
    let mut nth = 0;
    // Shared by the fields and the value, which read in turn.
    let mut read = |query: &'r ReadQuery| -> Result<Got<'_>, String> {
        let index = indexes.next().copied().flatten();
        let this = nth;
        nth += 1;
        let found = match &query.reader {
            Reader::Attribute(_) | Reader::Ancestor(..) => reads.get(index).map(Cow::Borrowed),
            Reader::AncestorChild {
                upward,
                child,
                document,
            } => {
                let Some(k) = above.names.iter().position(|name| *name == child) else {
                    return Ok(Got::Missing);
                };
                match read_above(upward, *document, k, reads.frames, above.document) {
                    Above::Text(text) => Some(Cow::Borrowed(text)),
                    Above::Missing => None,
                    Above::Wait { lo, hi, test } => {
                        awaits.push(Await {
                            read: this,
                            child: k,
                            lo,
                            hi,
                            test,
                            or_empty: query.or_empty,
                        });
                        return Ok(Got::Missing);
                    }
                }
            }
            Reader::StringValue => Some(Cow::Borrowed(text.as_str())),
            Reader::FirstText => match &first_text {
                Some((acc, run)) if *run != TextRun::NotStarted => {
                    Some(Cow::Borrowed(acc.as_str()))
                }
                _ => None,
            },
            Reader::Child(_) | Reader::ChildAttribute(..) => {
                children.next().and_then(|c| c.value).map(Cow::Owned)
            }
            Reader::Expr(expr) => {
                let Some(node) = node else {
                    return Ok(Got::Missing);
                };
                // A field is evaluated alone, at position 1 of 1, as the DOM engine does.
                return Ok(match eval::evaluate(expr, tree, node, 1, 1)? {
                    eval::Value::Nodes(nodes) => match nodes.first() {
                        Some(&first) => {
                            Got::Text(Cow::Owned(eval::string_value(tree, first).into_owned()))
                        }
                        None => Got::Missing,
                    },
                    eval::Value::String(s) => Got::Text(Cow::Owned(s.into_owned())),
                    eval::Value::Number(n) => Got::Number(n),
                    eval::Value::Boolean(b) => Got::Boolean(b),
                });
            }
        };
        Ok(
            match found.or_else(|| query.or_empty.then_some(Cow::Borrowed(""))) {
                Some(text) => Got::Text(text),
                None => Got::Missing,
            },
        )
    };
    let texts = std::mem::take(&mut record.texts);
    let location = record.location.take();
    let waits = slot.above
        && fields.iter().chain(value).any(|query| match &query.reader {
            Reader::AncestorChild {
                upward,
                child,
                document,
            } => above
                .names
                .iter()
                .position(|name| *name == child)
                .is_some_and(|k| {
                    matches!(
                        read_above(upward, *document, k, reads.frames, above.document),
                        Above::Wait { .. }
                    )
                }),
            _ => false,
        });
    if !waits {
        return observe_reads(slot.rule, fields, value, texts, location, read, at);
    }
    // An ancestor's child element comes after the element: everything is read now, while the
    // element's own parts are there, and the record waits for what is not known.
    let got: Vec<Result<Got<'_>, String>> = fields.iter().chain(value).map(&mut read).collect();
    record.texts = texts;
    record.location = location;
    record.wait = Some(Box::new(Waiting {
        reads: got
            .into_iter()
            .map(|got| got.map(Got::into_owned))
            .collect(),
        awaits,
        at: at(),
    }));
    Observation::Waiting
}

/// Turns what a record's fields and value read (`read`, called for each in turn) into its
/// observation, with the rule's policies.
fn observe_reads<'a, 'q>(
    rule: &CompiledRule,
    fields: &'q [ReadQuery],
    value: Option<&'q ReadQuery>,
    mut texts: Vec<String>,
    location: Option<Place>,
    read: impl FnMut(&'q ReadQuery) -> Result<Got<'a>, String>,
    at: impl Fn() -> String,
) -> Observation {
    let read = std::cell::RefCell::new(read);
    let failed = |field: String, query: &str, message: String| {
        node::error(
            rule,
            Some(at()),
            EvalErrorKind::XPath {
                field,
                query: query.to_owned(),
                message,
            },
        )
    };
    // The texts are copied into the buffers of the record's last ones: nothing is allocated
    // once they have grown.
    texts.truncate(fields.len());
    texts.resize(fields.len(), String::new());
    let resolved = node::resolve(
        rule,
        fields.iter().enumerate().map(|(i, query)| {
            read.borrow_mut()(query)
                .map(Got::into_text)
                .map_err(|message| {
                    let (name, text) = rule.field_query(i);
                    failed(format!("fields.{name}"), text, message)
                })
        }),
        |i, text: Cow<'_, str>| {
            if let Some(slot) = texts.get_mut(i) {
                slot.clear();
                slot.push_str(&text);
            }
        },
        || {
            let Some(query) = value else {
                return Ok(Reading::Missing);
            };
            read.borrow_mut()(query)
                .map(Got::into_reading)
                .map_err(|message| failed("value".to_owned(), rule.value_query(), message))
        },
    );
    let number = match resolved {
        Ok(Outcome::Use(number)) => number,
        Ok(Outcome::Skip(skip)) => return Observation::Skipped(skip, at()),
        Ok(Outcome::Fail(kind)) => return Observation::Failed(node::error(rule, Some(at()), kind)),
        Err(error) => return Observation::Failed(error),
    };
    Observation::Node {
        fields: texts,
        value: number,
        location,
    }
}

/// The names of the child elements rules read of ancestors, and the document node's first
/// children with them, for [`complete`].
struct AboveNames<'a, 'r> {
    names: &'a [&'r QName],
    document: &'a [FirstChild],
}

/// The memory a finished record takes while it is held: its texts, and what it waits with.
fn held_bytes(record: &Record<'_>) -> u64 {
    let strings = |texts: &[String]| -> usize {
        texts
            .iter()
            .map(|text| text.capacity() + std::mem::size_of::<String>())
            .sum()
    };
    let mut bytes = std::mem::size_of::<Record<'_>>();
    if let Some(wait) = &record.wait {
        bytes += std::mem::size_of::<Waiting<'_>>()
            + wait.at.capacity()
            + wait.awaits.len() * std::mem::size_of::<Await<'_>>()
            + strings(&record.texts);
        for read in &wait.reads {
            bytes += std::mem::size_of::<Result<Got<'_>, String>>()
                + match read {
                    Ok(Got::Text(text)) => text.len(),
                    Err(message) => message.len(),
                    Ok(_) => 0,
                };
        }
    }
    if let Some(Observation::Node { fields, .. }) = &record.done {
        bytes += strings(fields);
    }
    bytes as u64
}

/// What a field or value query gave at the element's end.
enum Got<'a> {
    /// An empty node-set.
    Missing,
    /// A string: a node's string value, or an XPath string; borrowed from the record or the
    /// open elements where it can be.
    Text(Cow<'a, str>),
    /// A number computed by XPath.
    Number(f64),
    /// A boolean computed by XPath.
    Boolean(bool),
}

impl<'a> Got<'a> {
    /// The same, owning its text.
    fn into_owned(self) -> Got<'static> {
        match self {
            Got::Missing => Got::Missing,
            Got::Text(text) => Got::Text(Cow::Owned(text.into_owned())),
            Got::Number(n) => Got::Number(n),
            Got::Boolean(b) => Got::Boolean(b),
        }
    }

    /// As a field's text: a number or boolean as XPath's `string()` writes it, as the DOM
    /// engine gives it.
    fn into_text(self) -> Option<Cow<'a, str>> {
        match self {
            Got::Missing => None,
            Got::Text(text) => Some(text),
            Got::Number(n) => Some(Cow::Owned(sxd_xpath::num_to_str(n))),
            Got::Boolean(b) => Some(Cow::Owned(b.to_string())),
        }
    }

    /// As a value's reading: a number used as is, a boolean as 1 or 0.
    fn into_reading(self) -> Reading<'a> {
        match self {
            Got::Missing => Reading::Missing,
            Got::Text(text) => Reading::Text(text),
            Got::Number(n) => Reading::Number(n),
            Got::Boolean(b) => Reading::Number(if b { 1.0 } else { 0.0 }),
        }
    }
}

/// The error of a rule whose read of an ancestor's child element (field `read`, or the value
/// after the `fields` fields) holds more memory than allowed: the records that wait for it
/// (`waiting`), or the child's text.
fn above_too_large(
    rule: &CompiledRule,
    fields: usize,
    read: usize,
    waiting: bool,
    limit: u64,
) -> EvalErrorKind {
    let (field, query) = if read < fields {
        let (name, text) = rule.field_query(read);
        (format!("fields.{name}"), text.to_owned())
    } else {
        ("value".to_owned(), rule.value_query().to_owned())
    };
    EvalErrorKind::AncestorChildTooLarge {
        field,
        query,
        limit,
        waiting,
    }
}

/// Opens an element of the scan in the tree, as its frame holds it; its attributes' prefixes
/// resolve with the declarations in scope.
fn open_in_tree(tree: &mut Tree, frame: &Frame, scopes: &[(String, String)]) -> NodeId {
    let scopes = scopes.get(..frame.scope_end).unwrap_or(scopes);
    let attributes = frame
        .attributes
        .iter()
        .map(|(key, value)| match key.split_once(':') {
            None => (None, key, key, value),
            // `xml` is bound without a declaration (Namespaces in XML, section 3).
            Some(("xml", local)) => (Some(XML_NAMESPACE), local, key, value),
            Some((prefix, local)) => (resolve(scopes, prefix).ok().flatten(), local, key, value),
        });
    tree.open(frame.ns(), frame.local(), &frame.raw, attributes)
}

/// Starts the tree at an element (the last of `frames`): its ancestors as stubs, then the
/// element; `base` becomes the element's depth.
fn start_tree(
    tree: &mut Tree,
    base: &mut Option<usize>,
    frames: &[Frame],
    scopes: &[(String, String)],
) -> NodeId {
    tree.clear();
    let mut node = Tree::ROOT;
    for frame in frames {
        node = open_in_tree(tree, frame, scopes);
    }
    *base = Some(frames.len());
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn name(ns: Option<&str>, local: &str) -> QName {
        QName {
            ns: ns.map(str::to_owned),
            local: local.to_owned(),
        }
    }

    #[test]
    fn a_place_names_the_path_that_location_writes() {
        // Open elements as a walk goes down and up a tree whose siblings change names and
        // prefixes, so that the steps a parent shares are found again and replaced.
        let names = ["row", "item", "m:row", "rows", "ow", "m:w"];
        let mut frames: Vec<Frame> = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut checked = 0;
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if frames.len() > 1 && (seed.is_multiple_of(3) || frames.len() > 6) {
                frames.pop();
                continue;
            }
            let frame = Frame {
                raw: names[(seed >> 8) as usize % names.len()].to_owned(),
                position: (seed >> 16) as usize % 40 + 1,
                ..Frame::default()
            };
            if let Some(parent) = frames.last()
                && seed.is_multiple_of(5)
            {
                // A parent element ends and another one opens in its frame.
                *parent.child_steps.borrow_mut() = None;
            }
            frames.push(frame);
            assert_eq!(place(&frames).path(), location(&frames));
            assert_eq!(Some(place(&frames)).node(), Some(location(&frames)));
            checked += 1;
        }
        assert!(checked > 1000, "{checked}");
        assert_eq!(None::<Place>.path(), "");
        assert_eq!(
            std::mem::size_of::<Option<Place>>(),
            2 * std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn tag_attributes_are_found_by_resolved_name_with_references_expanded() {
        let written = [
            ("kind", "a &amp; b"),
            ("p:size", "7"),
            ("q:size", "8"),
            ("sizes", "9"),
        ];
        let mut raw = String::from("row");
        let mut ranges = Vec::new();
        for (key, value) in written {
            raw.push(' ');
            let key_start = raw.len();
            raw.push_str(key);
            raw.push_str("=\"");
            let value_start = raw.len();
            raw.push_str(value);
            raw.push('"');
            ranges.push((
                key_start..key_start + key.len(),
                value_start..value_start + value.len(),
            ));
        }
        let mut attributes = TagAttributes::default();
        attributes.text.push_str(&raw);
        for (key, value) in ranges {
            attributes.push(&raw, &raw[key], &raw[value]);
        }
        let scopes = [
            ("p".to_owned(), "urn:p".to_owned()),
            (String::new(), "urn:default".to_owned()),
            ("q".to_owned(), "urn:q".to_owned()),
        ];
        assert_eq!(attributes.get(&scopes, &name(None, "kind")), Some("a & b"));
        assert_eq!(
            attributes.get(&scopes, &name(Some("urn:p"), "size")),
            Some("7")
        );
        assert_eq!(
            attributes.get(&scopes, &name(Some("urn:q"), "size")),
            Some("8")
        );
        assert_eq!(attributes.get(&scopes, &name(None, "sizes")), Some("9"));
        // An unprefixed attribute is in no namespace, whatever the default namespace.
        assert_eq!(attributes.get(&scopes, &name(None, "size")), None);
        assert_eq!(
            attributes.get(&scopes, &name(Some("urn:default"), "kind")),
            None
        );
        assert_eq!(
            attributes.iter().collect::<Vec<_>>(),
            [
                ("kind", "a & b"),
                ("p:size", "7"),
                ("q:size", "8"),
                ("sizes", "9")
            ]
        );
    }

    #[test]
    fn a_hinted_attribute_lookup_finds_what_the_full_search_finds() {
        let names = [
            "id", "kind", "p:kind", "q:kind", "size", "sizes", "p:size", "a",
        ];
        let scopes = [
            ("p".to_owned(), "urn:p".to_owned()),
            ("q".to_owned(), "urn:q".to_owned()),
        ];
        let wanted = [
            name(None, "id"),
            name(None, "kind"),
            name(Some("urn:p"), "kind"),
            name(Some("urn:q"), "kind"),
            name(Some("urn:x"), "kind"),
            name(None, "size"),
            name(Some("urn:p"), "size"),
            name(None, "sizes"),
            name(None, "a"),
            name(None, "b"),
        ];
        let hints: Vec<Cell<usize>> = wanted.iter().map(|_| Cell::new(0)).collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut attributes = TagAttributes::default();
        for round in 0..3_000 {
            // A tag with some of the names, in an order that changes now and then.
            let mut raw = String::from("row");
            let mut ranges = Vec::new();
            let count = next() as usize % (names.len() + 1);
            let first = if round % 7 == 0 { next() as usize } else { 0 };
            for i in 0..count {
                let key = names[(first + i) % names.len()];
                raw.push(' ');
                let key_start = raw.len();
                raw.push_str(key);
                raw.push_str("='");
                let value_start = raw.len();
                raw.push_str(&format!("{round}.{i}"));
                ranges.push((key_start..key_start + key.len(), value_start..raw.len()));
                raw.push('\'');
            }
            attributes.text.clear();
            attributes.list.clear();
            attributes.text.push_str(&raw);
            for (key, value) in ranges {
                attributes.push(&raw, &raw[key], &raw[value]);
            }
            for _ in 0..4 {
                let at = next() as usize % wanted.len();
                assert_eq!(
                    attributes.get_hinted(&scopes, &wanted[at], &hints[at]),
                    attributes.get(&scopes, &wanted[at]),
                    "{raw} {:?}",
                    wanted[at]
                );
            }
        }
    }

    #[test]
    fn an_ampersand_is_found_at_every_place_of_every_length() {
        for len in 0..40 {
            for fill in [b'a', b'%', b'\'', 0x27, 0xa6, 0xff, 0x80] {
                let text = vec![fill; len];
                assert!(!has_ampersand(&text), "{len} {fill}");
                for at in 0..len {
                    let mut with = text.clone();
                    with[at] = b'&';
                    assert!(has_ampersand(&with), "{len} {fill} {at}");
                    with[at] = b'&' ^ 0x80;
                    assert!(!has_ampersand(&with), "{len} {fill} {at}");
                }
            }
        }
    }

    #[test]
    fn positions_are_written_in_brackets() {
        for n in [0, 1, 9, 10, 12345, usize::MAX] {
            let mut out = String::from("/a");
            push_position(&mut out, n);
            assert_eq!(out, format!("/a[{n}]"));
        }
    }

    #[test]
    fn sibling_positions_count_by_expanded_name_in_the_list_and_past_it() {
        let mut counts = SiblingCounts::default();
        let names: Vec<String> = (0..40).map(|i| format!("e{i}")).collect();
        for name in &names {
            assert_eq!(counts.next(None, name), 1, "{name}");
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(counts.next(None, name), 2, "{name}");
            // The same local name in a namespace is another name.
            assert_eq!(counts.next(Some("urn:x"), name), 1, "{name}");
            if i % 2 == 0 {
                assert_eq!(counts.next(None, name), 3, "{name}");
            }
        }
        assert_eq!(counts.next(Some("urn:x"), "e39"), 2);
        counts.clear();
        assert_eq!(counts.next(None, "e39"), 1);
    }
}
