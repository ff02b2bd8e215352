//! The DOM engine: compiled rules and a document built by [`build`] to samples.
//!
//! Each rule's `select` is evaluated once against the document; its fields and value are then
//! evaluated per selected node, its labels rendered once per distinct field values, and the
//! observations grouped by [`crate::engine::aggregate`]. Nodes are visited in document order, so
//! messages about a node are the same on every run.
//!
//! sxd-xpath is the reference semantics, and evaluates every query [`Evaluation::XPath`] asks
//! for. By default ([`Evaluation::Direct`]) the queries of a rule the streaming engine could
//! run are read straight from the document instead, as its plan ([`StreamPlan`]) describes
//! them: the `select` path walked in document order (one walk for all such rules, as the
//! streaming engine reads the file once for all), attributes and text looked up per node. On
//! a large store that takes a small part of the time and memory sxd-xpath needs (a node-set of
//! every row as a hash set, then sorted), with the same results: tests compare both on every
//! construct. The `select` of another rule is walked too when it is such a path but for
//! predicates on child elements (`//testcase[failure]`), which the walk tests in the tree; so
//! every rule of an input whose `select` is a path shares the one walk. Fields `@name`,
//! `string(@name)`, `text()`, `name/text()`, `../@name` and `ancestor::x/@name` of other rules
//! are read directly too.

pub mod build;

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use sxd_document::QName;
use sxd_document::dom::{self, Document, Element};
use sxd_xpath::nodeset::Node;
use sxd_xpath::{Context, Value};

use self::build::{first_in_document_order, sort_in_document_order};
use crate::engine::error::{EvalError, EvalErrorKind, RuleSamples};
use crate::engine::matcher::{self, StepMatch};
use crate::engine::node::{
    self, Located, Outcome, Reading, RuleState, render_global_labels, render_labels,
    with_global_labels,
};
use crate::engine::skips::Skips;
use crate::model::names::Prefix;
use crate::model::number::shorten;
use crate::model::sample::{LabelSet, Sample, SampleValue, Samples};
use crate::rules::compile::{CompiledRule, CompiledRules, Shape};
use crate::rules::plan::{
    self, DocumentValue, NameTest, Operand, Path as StreamPath, Predicate, QName as StreamName,
    ReadQuery, Reader, Step, StreamPlan, compare, compare_numbers,
};
use crate::rules::templates::{self};
use crate::rules::xpath::{Kind, RESERVED_NAMES, Token, XPathQuery};

/// How the DOM engine answers a rule's queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Evaluation {
    /// Queries of the forms the streaming engine runs ([`crate::rules::plan`]), and `@name`,
    /// `string(@name)`, `text()` and `name/text()` in other rules, are read straight from the
    /// document; the rest go through sxd-xpath. The results are the same as with
    /// [`Evaluation::XPath`], in a fraction of the time and memory.
    #[default]
    Direct,
    /// Every query goes through sxd-xpath: the reference semantics the tests hold the direct
    /// reads to.
    XPath,
}

/// Evaluates the rules at `which` (indexes into `rules.rules`) against one document. `input`
/// is the path the document was read from, as the user gave it (the templates' `input`).
pub fn evaluate(
    rules: &CompiledRules,
    which: &[usize],
    document: &Document<'_>,
    input: &Path,
    evaluation: Evaluation,
) -> Result<Vec<RuleSamples>, EvalError> {
    let mut context = Context::new();
    for (prefix, uri) in &rules.namespaces {
        context.set_namespace(prefix, uri);
    }
    let input_value = templates::input_value(input);
    let global = render_global_labels(rules, &input_value)?;
    let runs: Vec<(usize, RuleRun<'_, '_>)> = which
        .iter()
        .filter_map(|&index| {
            let rule = rules.rules.get(index)?;
            let plan = match evaluation {
                Evaluation::Direct => Plan::direct(rule, &rules.namespaces),
                Evaluation::XPath => Plan::xpath(rule),
            };
            let run = RuleRun {
                rule,
                plan,
                templates: &rules.templates,
                input: &input_value,
                context: &context,
                document,
            };
            Some((index, run))
        })
        .collect();
    let walked = walk_rules(*document, &runs);
    let mut out = Vec::with_capacity(runs.len());
    // In file order, so the error of the first failing rule is the one reported.
    for ((index, run), walked) in runs.iter().zip(walked) {
        let (samples, skips) = match walked {
            Some(result) => result?,
            None => {
                let mut skips = Skips::default();
                let samples = run.samples(&mut skips)?;
                (samples, skips)
            }
        };
        out.push(RuleSamples {
            rule: *index,
            samples: with_global_labels(samples, &global),
            skips,
        });
    }
    Ok(out)
}

/// Which queries of one rule are read straight from the document; `None` sends a query to
/// sxd-xpath.
struct Plan<'r> {
    /// A document-level count or sum, found by walking the document.
    document: Option<&'r DocumentValue>,
    /// The selected elements, found by walking the document.
    select: Option<Select<'r>>,
    /// One per field of the rule.
    fields: Vec<Option<DirectRead>>,
    /// The value.
    value: Option<DirectRead>,
}

impl<'r> Plan<'r> {
    /// Everything through sxd-xpath.
    fn xpath(rule: &CompiledRule) -> Plan<'r> {
        let fields = match &rule.shape {
            Shape::Nodes { fields, .. } => fields.len(),
            Shape::Document { .. } => 0,
        };
        Plan {
            document: None,
            select: None,
            fields: vec![None; fields],
            value: None,
        }
    }

    /// A streamable rule is read from the document as the streaming engine reads it; another
    /// rule's simple field and value queries are.
    fn direct(rule: &'r CompiledRule, namespaces: &[(String, String)]) -> Plan<'r> {
        let mut plan = Plan::xpath(rule);
        match (&rule.shape, &rule.stream) {
            (Shape::Document { .. }, Ok(StreamPlan::Document(value))) => {
                let (DocumentValue::Count(path, _) | DocumentValue::Sum(path, _)) = value;
                if walkable(path) && !reads_beyond_attributes(path) {
                    plan.document = Some(value);
                }
            }
            (
                Shape::Nodes {
                    select: select_query,
                    fields: queries,
                    value: value_query,
                    ..
                },
                Ok(StreamPlan::Nodes {
                    select,
                    fields,
                    value,
                }),
            ) => {
                // Positions, child elements, ancestors and XPath are not read as the stream
                // plan reads them, so that the engines check each other on them: a select with
                // them is walked as another rule's is (`Select::parse`), or left to sxd-xpath,
                // and such fields are read as other rules' simple queries are.
                plan.select = if walkable(select) && !reads_beyond_attributes(select) {
                    Some(Select {
                        path: Cow::Borrowed(select),
                        children: Vec::new(),
                    })
                } else {
                    Select::parse(select_query, namespaces)
                };
                let direct = |read: &ReadQuery, query: &XPathQuery| match read.reader {
                    Reader::Ancestor(..) | Reader::AncestorChild { .. } | Reader::Expr(_) => {
                        DirectRead::parse(query, namespaces)
                    }
                    _ => Some(DirectRead::Stream(read.clone())),
                };
                plan.fields = fields
                    .iter()
                    .zip(queries)
                    .map(|(read, (_, query))| direct(read, query))
                    .collect();
                plan.value = value
                    .as_ref()
                    .zip(value_query.as_ref())
                    .and_then(|(read, query)| direct(read, query));
            }
            (
                Shape::Nodes {
                    select,
                    fields,
                    value,
                    ..
                },
                _,
            ) => {
                plan.select = Select::parse(select, namespaces);
                plan.fields = fields
                    .iter()
                    .map(|(_, query)| DirectRead::parse(query, namespaces))
                    .collect();
                plan.value = value
                    .as_ref()
                    .and_then(|query| DirectRead::parse(query, namespaces));
            }
            (Shape::Document { .. }, _) => {}
        }
        plan
    }
}

/// The `select` of a rule, found by walking the document: a path of the streamable forms, and
/// predicates on child elements (`//testcase[failure]`), which the walk tests in the DOM.
#[derive(Debug, Clone)]
struct Select<'r> {
    /// The path, with the predicates on child elements taken out.
    path: Cow<'r, StreamPath>,
    /// Per step of `path` (none past the last that has some): the child elements a matching
    /// element must have, one of each name.
    children: Vec<Vec<StreamName>>,
}

impl Select<'_> {
    /// The `select` of a rule that does not stream, if it is a walkable path once its predicates
    /// `[name]` and `[p:name]` (an element has such a child) are taken out: the rule's fields
    /// may be what keeps it from streaming, or those predicates. Otherwise sxd-xpath selects.
    ///
    /// Predicates without a position are a conjunction in any order (XPath 1.0 section 2.4), so
    /// taking some out of a step and testing them beside the rest selects the same elements;
    /// a path left with positions or other predicates the walk does not test is refused, so
    /// none is left whose meaning would change.
    fn parse(select: &XPathQuery, namespaces: &[(String, String)]) -> Option<Select<'static>> {
        let text = select.text();
        let tokens = select.tokens();
        let mut kept = String::with_capacity(text.len());
        let mut children: Vec<Vec<StreamName>> = Vec::new();
        // Steps begun (`/` and `//` outside brackets and parentheses), nesting, text copied.
        let (mut steps, mut depth, mut copied) = (0usize, 0usize, 0usize);
        let mut i = 0;
        while let Some(token) = tokens.get(i) {
            i += 1;
            match token.kind {
                Kind::Slash | Kind::DoubleSlash if depth == 0 => steps += 1,
                Kind::LBracket if depth == 0 && steps > 0 => {
                    if let Some((name, close)) = child_predicate(text, &tokens[i..], namespaces) {
                        if children.len() < steps {
                            children.resize(steps, Vec::new());
                        }
                        children.get_mut(steps - 1)?.push(name);
                        kept.push_str(text.get(copied..token.span.start)?);
                        copied = close.span.end;
                        i += tokens[i..].iter().position(|t| std::ptr::eq(t, close))? + 1;
                    } else {
                        depth += 1;
                    }
                }
                Kind::LBracket | Kind::LParen => depth += 1,
                Kind::RBracket | Kind::RParen => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        kept.push_str(text.get(copied..)?);
        let kept = XPathQuery::parse(&kept).ok()?;
        let declared = namespaces
            .iter()
            .map(|(prefix, uri)| Some((Prefix::parse(prefix).ok()?, uri.clone())))
            .collect::<Option<_>>()?;
        let Ok(StreamPlan::Nodes { select: path, .. }) =
            plan::plan_nodes(&kept, [], None, &declared)
        else {
            return None;
        };
        // Taking `[name]` out beside a position, or an XPath predicate, would change what the
        // rest selects: only attribute and text predicates may stay.
        (walkable(&path) && !reads_beyond_attributes(&path) && children.len() <= path.steps.len())
            .then_some(Select {
                path: Cow::Owned(path),
                children,
            })
    }
}

/// The predicate whose tokens follow a `[`, if it is `name` or `p:name` with an ASCII name
/// ([`name_test`]) and its `]` closes it: the name, and that `]`.
fn child_predicate<'t>(
    text: &str,
    after: &'t [Token],
    namespaces: &[(String, String)],
) -> Option<(StreamName, &'t Token)> {
    let close = after.iter().position(|t| t.kind == Kind::RBracket)?;
    let (names, rest) = after.split_at(close);
    if names.windows(2).any(|w| w[0].span.end != w[1].span.start) {
        return None;
    }
    if let [name] = names
        && RESERVED_NAMES.contains(&name.text(text))
    {
        return None;
    }
    Some((name_test(text, names, namespaces)?, rest.first()?))
}

/// A relative query read straight from an element, with the result sxd-xpath would give.
#[derive(Debug, Clone)]
enum DirectRead {
    /// A reader of the streaming engine: `@a`, `.`, `text()`, `name`, `name/@a`, `string()` of
    /// those.
    Stream(ReadQuery),
    /// `name/text()`: the first text node child of the first child element so named that has
    /// one.
    ChildText(StreamName),
    /// `../@a`, `../../@a`, ...: the attribute of the element `levels` up, and whether
    /// `string()` turns "nothing" into "".
    Up {
        levels: usize,
        attribute: StreamName,
        or_empty: bool,
    },
    /// `ancestor::x/@a` (or `ancestor-or-self::x/@a` when `or_self`): the attribute of the
    /// outermost such element that has it, the first in document order.
    Ancestor {
        element: StreamName,
        or_self: bool,
        attribute: StreamName,
        or_empty: bool,
    },
}

impl DirectRead {
    /// Recognises `@name`, `string(@name)`, `text()`, `string(text())`, `name/text()`,
    /// `../@name` (any number of `../`), `ancestor::x/@name` and `ancestor-or-self::x/@name`
    /// (each also in `string()`), written without spaces, with ASCII names whose prefixes are
    /// bound in `namespaces:`. Any other query, or spelling, goes through sxd-xpath.
    fn parse(query: &XPathQuery, namespaces: &[(String, String)]) -> Option<DirectRead> {
        let text = query.text();
        let tokens = query.tokens();
        if tokens.windows(2).any(|w| w[0].span.end != w[1].span.start) {
            return None;
        }
        let is =
            |token: &Token, kind: Kind, word: &str| token.kind == kind && token.text(text) == word;
        let (inner, or_empty) = match tokens {
            [string, open, inner @ .., close]
                if is(string, Kind::Name, "string")
                    && open.kind == Kind::LParen
                    && close.kind == Kind::RParen =>
            {
                (inner, true)
            }
            _ => (tokens, false),
        };
        let stream = |reader| Some(DirectRead::Stream(ReadQuery { reader, or_empty }));
        match inner {
            [name, open, close]
                if is(name, Kind::Name, "text")
                    && open.kind == Kind::LParen
                    && close.kind == Kind::RParen =>
            {
                stream(Reader::FirstText)
            }
            [at, name @ ..] if at.kind == Kind::At => {
                stream(Reader::Attribute(name_test(text, name, namespaces)?))
            }
            [up, slash, ..] if up.kind == Kind::DotDot && slash.kind == Kind::Slash => {
                let mut levels = 0;
                let mut rest = inner;
                while let [up, slash, after @ ..] = rest
                    && up.kind == Kind::DotDot
                    && slash.kind == Kind::Slash
                {
                    levels += 1;
                    rest = after;
                }
                let [at, name @ ..] = rest else {
                    return None;
                };
                (at.kind == Kind::At).then_some(())?;
                Some(DirectRead::Up {
                    levels,
                    attribute: name_test(text, name, namespaces)?,
                    or_empty,
                })
            }
            [axis, colons, rest @ ..]
                if axis.kind == Kind::Name
                    && colons.kind == Kind::DoubleColon
                    && matches!(axis.text(text), "ancestor" | "ancestor-or-self") =>
            {
                let slash = rest.iter().position(|t| t.kind == Kind::Slash)?;
                let (element, rest) = rest.split_at(slash);
                let [_, at, attribute @ ..] = rest else {
                    return None;
                };
                (at.kind == Kind::At).then_some(())?;
                if let [name] = element
                    && RESERVED_NAMES.contains(&name.text(text))
                {
                    return None;
                }
                Some(DirectRead::Ancestor {
                    element: name_test(text, element, namespaces)?,
                    or_self: axis.text(text) == "ancestor-or-self",
                    attribute: name_test(text, attribute, namespaces)?,
                    or_empty,
                })
            }
            [element @ .., slash, name, open, close]
                if !or_empty
                    && slash.kind == Kind::Slash
                    && is(name, Kind::Name, "text")
                    && open.kind == Kind::LParen
                    && close.kind == Kind::RParen =>
            {
                // `text/text()` is a name test on `text`, but a parser may think otherwise: such
                // names are left to sxd-xpath.
                if let [name] = element
                    && RESERVED_NAMES.contains(&name.text(text))
                {
                    return None;
                }
                Some(DirectRead::ChildText(name_test(text, element, namespaces)?))
            }
            _ => None,
        }
    }

    /// The string the query gives at `element`; `None` for an empty node-set.
    fn read<'d>(&self, element: Element<'d>) -> Option<Cow<'d, str>> {
        match self {
            DirectRead::Stream(ReadQuery { reader, or_empty }) => {
                let found = match reader {
                    Reader::Attribute(name) => {
                        element.attribute_value(sxd_name(name)).map(Cow::Borrowed)
                    }
                    Reader::StringValue => Some(Cow::Owned(Node::Element(element).string_value())),
                    Reader::FirstText => first_text(element).map(Cow::Borrowed),
                    Reader::Child(name) => children_named(element, name)
                        .next()
                        .map(|child| Cow::Owned(Node::Element(child).string_value())),
                    Reader::ChildAttribute(child, attribute) => children_named(element, child)
                        .find_map(|c| c.attribute_value(sxd_name(attribute)))
                        .map(Cow::Borrowed),
                    // Never a stream reader here: `Plan::direct` reads these through
                    // `DirectRead::parse` (`Up`, `Ancestor`) or sxd-xpath.
                    Reader::Ancestor(..) | Reader::AncestorChild { .. } | Reader::Expr(_) => None,
                };
                match found {
                    None if *or_empty => Some(Cow::Borrowed("")),
                    found => found,
                }
            }
            DirectRead::ChildText(name) => children_named(element, name)
                .find_map(first_text)
                .map(Cow::Borrowed),
            DirectRead::Up {
                levels,
                attribute,
                or_empty,
            } => {
                let mut at = Some(element);
                for _ in 0..*levels {
                    at = at.and_then(|e| e.parent()).and_then(|p| p.element());
                }
                let found = at.and_then(|e| e.attribute_value(sxd_name(attribute)));
                or_empty_if(found.map(Cow::Borrowed), *or_empty)
            }
            DirectRead::Ancestor {
                element: name,
                or_self,
                attribute,
                or_empty,
            } => {
                let first = if *or_self {
                    Some(element)
                } else {
                    parent_element(element)
                };
                let found = std::iter::successors(first, |e| parent_element(*e))
                    .filter(|e| is_named(*e, name))
                    .filter_map(|e| e.attribute_value(sxd_name(attribute)))
                    .last();
                or_empty_if(found.map(Cow::Borrowed), *or_empty)
            }
        }
    }
}

/// An element or attribute name test written as `name` or `prefix:name` with ASCII names, the
/// prefix bound in `namespaces`: the tokens `names` of the query `text`.
fn name_test(text: &str, names: &[Token], namespaces: &[(String, String)]) -> Option<StreamName> {
    let ascii_name = |token: &Token| token.kind == Kind::Name && token.text(text).is_ascii();
    let (prefix, local) = match names {
        [local] if ascii_name(local) => (None, local),
        [prefix, colon, local]
            if ascii_name(prefix) && colon.kind == Kind::Colon && ascii_name(local) =>
        {
            (Some(prefix.text(text)), local)
        }
        _ => return None,
    };
    let ns = match prefix {
        Some(prefix) => Some(
            namespaces
                .iter()
                .find(|(p, _)| p == prefix)
                .map(|(_, uri)| uri.clone())?,
        ),
        None => None,
    };
    Some(StreamName {
        ns,
        local: local.text(text).to_owned(),
    })
}

/// Whether a path's predicates read more than attributes and the string value: positions or
/// child elements.
fn reads_beyond_attributes(path: &StreamPath) -> bool {
    path.steps
        .iter()
        .filter_map(|s| s.predicate.as_ref())
        .any(|p| p.uses_position() || !p.children().is_empty() || p.needs_tree())
}

/// A path the document can be walked along: one step at least, and few enough for a bit set.
fn walkable(path: &StreamPath) -> bool {
    !path.steps.is_empty() && path.steps.len() < 64
}

fn sxd_name(name: &StreamName) -> QName<'_> {
    QName::with_namespace_uri(name.ns.as_deref(), &name.local)
}

/// `found`, or `""` for nothing when the query is `string(...)`.
fn or_empty_if(found: Option<Cow<'_, str>>, or_empty: bool) -> Option<Cow<'_, str>> {
    match found {
        None if or_empty => Some(Cow::Borrowed("")),
        found => found,
    }
}

/// The parent of an element, if it is an element (not the root node).
fn parent_element(element: Element<'_>) -> Option<Element<'_>> {
    element.parent().and_then(|parent| parent.element())
}

/// Whether an element has the name `name`.
fn is_named(element: Element<'_>, name: &StreamName) -> bool {
    let n = element.name();
    n.local_part() == name.local && n.namespace_uri() == name.ns.as_deref()
}

/// The children of an element, read one by one: `Element::children` copies them all into a
/// vector first, as much memory as a million-row store's root has children.
fn children(element: Element<'_>) -> impl Iterator<Item = dom::ChildOfElement<'_>> {
    (0..).map_while(move |i| element.child(i))
}

fn first_text(element: Element<'_>) -> Option<&str> {
    children(element)
        .find_map(|child| child.text())
        .map(|text| text.text())
}

fn children_named<'d, 'n>(
    element: Element<'d>,
    name: &'n StreamName,
) -> impl Iterator<Item = Element<'d>> + 'n
where
    'd: 'n,
{
    children(element)
        .filter_map(|child| child.element())
        .filter(move |child| is_named(*child, name))
}

/// The children still to visit of an open element in [`walk`].
enum Unvisited<'d> {
    /// Those of the root node (the root element, comments and processing instructions).
    Top(std::vec::IntoIter<dom::ChildOfElement<'d>>),
    /// Those of an element, from this index on.
    Of(Element<'d>, usize),
}

impl<'d> Iterator for Unvisited<'d> {
    type Item = dom::ChildOfElement<'d>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Unvisited::Top(top) => top.next(),
            Unvisited::Of(element, next) => {
                let child = element.child(*next)?;
                *next += 1;
                Some(child)
            }
        }
    }
}

/// Whether an element matches a name test.
fn name_test_matches(test: &NameTest, element: Element<'_>) -> bool {
    let name = element.name();
    match test {
        NameTest::Any => true,
        NameTest::AnyIn(uri) => name.namespace_uri() == Some(uri.as_str()),
        NameTest::Name(test) => {
            name.local_part() == test.local && name.namespace_uri() == test.ns.as_deref()
        }
    }
}

/// Whether an element matches a step's name test and predicate (one that reads attributes
/// and the string value only: see [`reads_beyond_attributes`]), and has a child element of
/// each name in `children`.
fn step_matches(step: &Step, children: &[StreamName], element: Element<'_>) -> bool {
    name_test_matches(&step.test, element)
        && step
            .predicate
            .as_ref()
            .is_none_or(|predicate| holds(predicate, element, &mut None))
        && children
            .iter()
            .all(|name| children_named(element, name).next().is_some())
}

/// [`Predicate::eval`] on an element of the DOM, reading the attributes in place and the string
/// value only when a comparison needs it (`text` keeps it once read).
fn holds<'d>(predicate: &Predicate, element: Element<'d>, text: &mut Option<String>) -> bool {
    match predicate {
        Predicate::And(all) => all.iter().all(|p| holds(p, element, text)),
        Predicate::Or(all) => all.iter().any(|p| holds(p, element, text)),
        Predicate::Not(inner) => !holds(inner, element, text),
        Predicate::Exists(name) => element.attribute_value(sxd_name(name)).is_some(),
        Predicate::Compare(Operand::Attribute(name), op, literal) => element
            .attribute_value(sxd_name(name))
            // An empty node-set compares false with anything.
            .is_some_and(|value| compare(value, *op, literal)),
        Predicate::Compare(Operand::StringValue, op, literal) => {
            let text = text.get_or_insert_with(|| Node::Element(element).string_value());
            compare(text, *op, literal)
        }
        Predicate::HasChild(name) => children_named(element, name).next().is_some(),
        Predicate::Compare(Operand::Child(name), op, literal) => children_named(element, name)
            .any(|child| compare(&Node::Element(child).string_value(), *op, literal)),
        Predicate::Compare(Operand::ChildCount(name), op, literal) => {
            compare_numbers(children_named(element, name).count() as f64, *op, literal)
        }
        // Paths with positions or XPath predicates are evaluated by sxd-xpath
        // (`reads_beyond_attributes`), never walked.
        Predicate::Compare(Operand::Position, _, _) | Predicate::Expr(_) => false,
    }
}

/// Calls `visit(i, element)` with each element `paths[i]` selects, in document order, each once
/// per path; once `visit` returns false for a path, that path is no longer followed.
///
/// One walk of the document in document order for every path, as the streaming engine reads
/// the file once for every rule: per path, the steps that may match an element are a bit set
/// handed down from its parent, and a subtree no step of any path can reach is skipped. Each
/// path must be [`walkable`].
fn walk<'d>(
    document: Document<'d>,
    paths: &[(&StreamPath, &[Vec<StreamName>])],
    mut visit: impl FnMut(usize, Element<'d>) -> bool,
) {
    let count = paths.len();
    let mut following = vec![true; count];
    let top: Vec<dom::ChildOfElement<'d>> = document
        .root()
        .children()
        .into_iter()
        .map(Into::into)
        .collect();
    // The children still to visit of each open element, and per path the steps that may match
    // them: `count` bit sets per open element, one after the other.
    let mut frames = vec![Unvisited::Top(top.into_iter())];
    let mut candidates: Vec<u64> = vec![1; count];
    while let Some(children) = frames.last_mut() {
        let Some(child) = children.next() else {
            frames.pop();
            candidates.truncate(frames.len() * count);
            continue;
        };
        let Some(element) = child.element() else {
            continue;
        };
        let base = (frames.len() - 1) * count;
        let mut descend = false;
        for (i, &(path, children)) in paths.iter().enumerate() {
            let active = candidates.get(base + i).copied().unwrap_or(0);
            let mut below = 0;
            if active != 0 && following[i] {
                let advanced = matcher::advance(path, active, |step, _| {
                    let k = path.steps.iter().position(|s| std::ptr::eq(s, step));
                    let children = k
                        .and_then(|k| children.get(k))
                        .map_or(&[][..], Vec::as_slice);
                    if step_matches(step, children, element) {
                        StepMatch::Yes
                    } else {
                        StepMatch::No
                    }
                });
                if advanced.selected && !visit(i, element) {
                    following[i] = false;
                }
                below = advanced.below(path);
            }
            // The bit sets of the element's children, kept if any is not empty.
            candidates.push(below);
            descend |= below != 0;
        }
        if descend {
            frames.push(Unvisited::Of(element, 0));
        } else {
            candidates.truncate(base + count);
        }
    }
}

/// What a rule whose nodes or value are found by walking the document has gathered so far.
enum Gathered<'r, 'd> {
    Nodes(Box<NodeState<'r, 'd>>, Skips),
    Count(u64),
    Sum(f64),
    Failed(EvalError),
}

/// A rule's samples and the nodes its policies left out.
type Evaluated = (Samples, Skips);

/// Evaluates, in one walk of the document, every rule whose `select` or document-level value is
/// a walkable path; `None` for the other rules.
fn walk_rules<'r: 'd, 'd>(
    document: Document<'d>,
    runs: &[(usize, RuleRun<'r, 'd>)],
) -> Vec<Option<Result<Evaluated, EvalError>>> {
    // (index in `runs`, path, child elements per step, what it gathered)
    type Walker<'p, 'r, 'd> = (
        usize,
        &'p StreamPath,
        &'p [Vec<StreamName>],
        Gathered<'r, 'd>,
    );
    let mut walkers: Vec<Walker<'_, 'r, 'd>> = Vec::new();
    for (i, (_, run)) in runs.iter().enumerate() {
        let walker = match (&run.plan.select, run.plan.document, &run.rule.shape) {
            (Some(select), _, Shape::Nodes { .. }) => run.node_state().map(|state| {
                let gathered = Gathered::Nodes(Box::new(state), Skips::default());
                (&*select.path, select.children.as_slice(), gathered)
            }),
            (_, Some(DocumentValue::Count(path, _)), _) => {
                Some((path, &[][..], Gathered::Count(0)))
            }
            (_, Some(DocumentValue::Sum(path, _)), _) => Some((path, &[][..], Gathered::Sum(0.0))),
            _ => None,
        };
        if let Some((path, children, gathered)) = walker {
            walkers.push((i, path, children, gathered));
        }
    }
    let mut results: Vec<Option<Result<Evaluated, EvalError>>> =
        runs.iter().map(|_| None).collect();
    if walkers.is_empty() {
        return results;
    }
    let paths: Vec<(&StreamPath, &[Vec<StreamName>])> = walkers
        .iter()
        .map(|&(_, path, children, _)| (path, children))
        .collect();
    walk(document, &paths, |w, element| {
        let Some((i, _, _, gathered)) = walkers.get_mut(w) else {
            return false;
        };
        let Some((_, run)) = runs.get(*i) else {
            return false;
        };
        match gathered {
            Gathered::Nodes(state, skips) => {
                if let Err(error) = run.observe(Node::Element(element), state, skips) {
                    *gathered = Gathered::Failed(error);
                    return false;
                }
            }
            Gathered::Count(count) => {
                if let Some(DocumentValue::Count(_, attribute)) = run.plan.document {
                    let counted = attribute
                        .as_ref()
                        .is_none_or(|a| element.attribute_value(sxd_name(a)).is_some());
                    *count += u64::from(counted);
                }
            }
            // Added in document order, as `sum_in_document_order` adds.
            Gathered::Sum(sum) => match run.plan.document {
                Some(DocumentValue::Sum(_, Some(attribute))) => {
                    if let Some(text) = element.attribute_value(sxd_name(attribute)) {
                        *sum += crate::model::number::xpath_number(text);
                    }
                }
                _ => {
                    let text = Node::Element(element).string_value();
                    *sum += crate::model::number::xpath_number(&text);
                }
            },
            Gathered::Failed(_) => return false,
        }
        true
    });
    for (i, _, _, gathered) in walkers {
        let Some((_, run)) = runs.get(i) else {
            continue;
        };
        let result = match gathered {
            Gathered::Nodes(state, mut skips) => state
                .core
                .finish(&mut skips)
                .map(|samples| (samples, skips)),
            Gathered::Count(count) => run.document_samples(Reading::Number(count as f64)),
            Gathered::Sum(sum) => run.document_samples(Reading::Number(sum)),
            Gathered::Failed(error) => Err(error),
        };
        if let Some(slot) = results.get_mut(i) {
            *slot = Some(result);
        }
    }
    results
}

/// What the rule field of a query is, for messages: `select`, `value`, `fields.kind`.
#[derive(Clone, Copy)]
enum QueryField<'a> {
    Select,
    Value,
    Field(&'a str),
}

impl fmt::Display for QueryField<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryField::Select => f.write_str("select"),
            QueryField::Value => f.write_str("value"),
            QueryField::Field(name) => write!(f, "fields.{name}"),
        }
    }
}

/// The running state of a node-level rule.
struct NodeState<'r, 'd> {
    core: RuleState<'r, Node<'d>>,
    /// The current node's field values.
    values: Vec<Cow<'d, str>>,
}

/// The node itself: its location path is worked out only for a message.
impl Located for Node<'_> {
    fn path(&self) -> String {
        location_path(*self)
    }

    fn node(&self) -> Option<String> {
        // The root stands for "the document": a document-level rule names no node.
        (!matches!(self, Node::Root(_))).then(|| location_path(*self))
    }
}

/// One rule being evaluated against one document.
struct RuleRun<'a, 'd> {
    rule: &'a CompiledRule,
    plan: Plan<'a>,
    templates: &'a templates::Templates,
    input: &'a minijinja::Value,
    context: &'a Context<'d>,
    document: &'a Document<'d>,
}

impl<'a, 'd> RuleRun<'a, 'd> {
    fn error(&self, node: Option<Node<'d>>, kind: EvalErrorKind) -> EvalError {
        node::error(self.rule, node.and_then(|node| node.node()), kind)
    }

    /// The state of a node-level rule for a walk or a query.
    fn node_state(&self) -> Option<NodeState<'a, 'd>> {
        let fields = match &self.rule.shape {
            Shape::Nodes { fields, .. } => fields.len(),
            Shape::Document { .. } => 0,
        };
        Some(NodeState {
            core: RuleState::new(self.rule, self.templates, self.input)?,
            values: Vec::with_capacity(fields),
        })
    }

    fn run_query(
        &self,
        field: QueryField<'_>,
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
                        field: field.to_string(),
                        query: query.text().to_owned(),
                        message: err.to_string(),
                    },
                )
            })
    }

    /// The string a field or value query gives at a node; `None` for an empty node-set.
    fn read(
        &self,
        field: QueryField<'_>,
        query: &XPathQuery,
        direct: Option<&DirectRead>,
        node: Node<'d>,
    ) -> Result<Option<Cow<'d, str>>, EvalError> {
        if let (Some(direct), Node::Element(element)) = (direct, node) {
            return Ok(direct.read(element));
        }
        let text = match self.run_query(field, query, node)? {
            Value::Nodeset(nodes) => match nodes.size() {
                0 => None,
                1 => nodes.iter().next().map(|n| n.string_value()),
                _ => first_in_document_order(nodes.iter()).map(|n| n.string_value()),
            },
            Value::String(s) => Some(s),
            // A number is the string XPath's `string()` makes of it (`Infinity`,
            // `10000000000000000`, `0.5`), as `string(QUERY)` would give: a field's text is an
            // XPath string, not a sample value.
            Value::Number(n) => Some(sxd_xpath::num_to_str(n)),
            Value::Boolean(b) => Some(b.to_string()),
        };
        Ok(text.map(Cow::Owned))
    }

    /// What the value query gives at a node.
    fn value_at(
        &self,
        query: &XPathQuery,
        direct: Option<&DirectRead>,
        node: Node<'d>,
    ) -> Result<Reading<'d>, EvalError> {
        let text = match (direct, node) {
            (Some(direct), Node::Element(element)) => direct.read(element),
            _ => match self.run_query(QueryField::Value, query, node)? {
                Value::Number(n) => return Ok(Reading::Number(n)),
                Value::Boolean(b) => return Ok(Reading::Number(if b { 1.0 } else { 0.0 })),
                other => self.read_value(other),
            },
        };
        Ok(match text {
            Some(text) => Reading::Text(text),
            None => Reading::Missing,
        })
    }

    /// The string of a value query's node-set or string.
    fn read_value(&self, value: Value<'d>) -> Option<Cow<'d, str>> {
        match value {
            Value::Nodeset(nodes) => match nodes.size() {
                0 => None,
                1 => nodes.iter().next().map(|n| Cow::Owned(n.string_value())),
                _ => first_in_document_order(nodes.iter()).map(|n| Cow::Owned(n.string_value())),
            },
            Value::String(s) => Some(Cow::Owned(s)),
            Value::Number(n) => Some(Cow::Owned(sxd_xpath::num_to_str(n))),
            Value::Boolean(b) => Some(Cow::Owned(b.to_string())),
        }
    }

    /// `sum(NODES)` as XPath defines it, adding in document order.
    fn sum_in_document_order(
        &self,
        nodes: &XPathQuery,
        root: Node<'d>,
    ) -> Result<Option<f64>, EvalError> {
        match self.run_query(QueryField::Value, nodes, root)? {
            Value::Nodeset(set) => {
                let mut nodes: Vec<Node<'d>> = set.iter().collect();
                sort_in_document_order(&mut nodes);
                Ok(Some(
                    nodes
                        .iter()
                        .map(|n| crate::model::number::xpath_number(&n.string_value()))
                        .sum(),
                ))
            }
            // Not a node-set: the caller evaluates `sum()` itself, which reports the error.
            _ => Ok(None),
        }
    }

    /// The one sample of a document-level rule, or none if its policies skip the value.
    fn document_samples(&self, got: Reading<'_>) -> Result<Evaluated, EvalError> {
        let mut skips = Skips::default();
        let samples = match node::value(self.rule, got) {
            Outcome::Use(v) => {
                let context = templates::context([], self.input);
                let labels = render_labels(self.templates, &self.rule.labels, &context)
                    .map_err(|kind| self.error(None, kind))?;
                Samples::from(vec![Sample {
                    labels: LabelSet::new(labels),
                    value: SampleValue::Single(v.unwrap_or(f64::NAN)),
                }])
            }
            Outcome::Skip(skip) => {
                skips.add(skip, || "/".to_owned());
                Samples::new()
            }
            Outcome::Fail(kind) => return Err(self.error(None, kind)),
        };
        Ok((samples, skips))
    }

    /// Reads one selected node's fields and value and adds it to its group, or to `skips` if
    /// the rule's policies leave it out.
    fn observe(
        &self,
        node: Node<'d>,
        state: &mut NodeState<'_, 'd>,
        skips: &mut Skips,
    ) -> Result<(), EvalError>
    where
        'a: 'd,
    {
        let Shape::Nodes { fields, value, .. } = &self.rule.shape else {
            return Ok(());
        };
        let values = &mut state.values;
        values.clear();
        let readings = fields.iter().enumerate().map(|(i, (name, query))| {
            let direct = self.plan.fields.get(i).and_then(Option::as_ref);
            self.read(QueryField::Field(name.as_str()), query, direct, node)
        });
        let resolved = node::resolve(
            self.rule,
            readings,
            |_, text| values.push(text),
            || match value {
                Some(query) => self.value_at(query, self.plan.value.as_ref(), node),
                None => Ok(Reading::Missing),
            },
        )?;
        match resolved {
            Outcome::Use(number) => state.core.observe(skips, &state.values, number, node),
            Outcome::Skip(skip) => {
                skips.add(skip, || location_path(node));
                Ok(())
            }
            Outcome::Fail(kind) => Err(self.error(Some(node), kind)),
        }
    }

    /// The samples of a rule evaluated with sxd-xpath (rules the walk does not cover).
    fn samples(&self, skips: &mut Skips) -> Result<Samples, EvalError> {
        let root: Node<'d> = self.document.root().into();
        match &self.rule.shape {
            Shape::Document { value, sum_of } => {
                let sum = match sum_of {
                    Some(nodes) => self.sum_in_document_order(nodes, root)?,
                    None => None,
                };
                let got = match sum {
                    Some(sum) => Reading::Number(sum),
                    None => self.value_at(value, None, root)?,
                };
                let (samples, skipped) = self.document_samples(got)?;
                *skips = skipped;
                Ok(samples)
            }
            Shape::Nodes { select, .. } => {
                let Some(mut state) = self.node_state() else {
                    return Ok(Samples::new());
                };
                let nodes = match self.run_query(QueryField::Select, select, root)? {
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
                sort_in_document_order(&mut nodes);
                for node in nodes {
                    self.observe(node, &mut state, skips)?;
                }
                state.core.finish(skips)
            }
        }
    }
}

fn describe(value: &Value<'_>) -> String {
    match value {
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {}", crate::model::number::format_value(*n)),
        Value::String(s) => format!("the string {:?}", shorten(s)),
        Value::Nodeset(_) => "nodes".to_owned(),
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

#[cfg(test)]
mod tests {
    use super::build;
    use super::*;
    use crate::xml::{NoSink, XmlLimits};
    use pretty_assertions::assert_eq;

    const NAMESPACES: &str = "namespaces:\n  m: \"urn:m\"\n";

    fn compiled(metrics: &str) -> CompiledRules {
        let yaml = format!("version: 1\n{NAMESPACES}metrics:\n{metrics}");
        let file = crate::rules::file::parse(&yaml).unwrap_or_else(|(e, _)| panic!("{e}\n{yaml}"));
        crate::rules::compile::compile(file).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"))
    }

    /// The samples (or the error) of every rule, as text.
    fn outcome(rules: &CompiledRules, xml: &str, evaluation: Evaluation) -> String {
        let package =
            build::parse(xml.as_bytes(), &XmlLimits::default(), &mut NoSink).expect("accepted");
        let which: Vec<usize> = (0..rules.rules.len()).collect();
        let document = package.as_document();
        match evaluate(rules, &which, &document, Path::new("in.xml"), evaluation) {
            Ok(results) => format!("{:?}", results),
            Err(error) => format!("error: {error}"),
        }
    }

    /// Direct reads give what sxd-xpath gives, and each rule's queries were read directly as
    /// `direct` says (select or document value, then one flag per field, then the value).
    #[track_caller]
    fn same_as_xpath(metric: &str, xml: &str, direct: &[bool]) -> String {
        let rules = compiled(metric);
        let rule = &rules.rules[0];
        let plan = Plan::direct(rule, &rules.namespaces);
        let mut used = vec![plan.select.is_some() || plan.document.is_some()];
        used.extend(plan.fields.iter().map(Option::is_some));
        if let Shape::Nodes { value: Some(_), .. } = &rule.shape {
            used.push(plan.value.is_some());
        }
        assert_eq!(used, direct, "which queries are read directly in {metric}");
        let reference = outcome(&rules, xml, Evaluation::XPath);
        assert_eq!(
            outcome(&rules, xml, Evaluation::Direct),
            reference,
            "{metric} on {xml}"
        );
        reference
    }

    const STORE: &str = "<store xmlns:m='urn:m'>\
        <row id='1' kind='a' size='10' status='ok'>one<!--c-->more<i>x</i><i>y</i></row>\
        <row id='2' kind='b' size='2.5' status='failed'><i v='7'/><i>z<j/>w</i>tail</row>\
        <m:row id='3' kind='a' size='1e3' m:size='4'>three<m:i>ns</m:i></m:row>\
        <group><row id='4' kind='a' size='-1'>nested</row></group>\
        <row id='5' kind='b'/>\
        </store>";

    #[test]
    fn streamable_rules_are_read_directly_with_the_same_results() {
        for metric in [
            "- { name: m, help: h, type: gauge, value: count(/store/row) }",
            "- { name: m, help: h, type: gauge, value: count(//row/@size) }",
            "- { name: m, help: h, type: gauge, value: sum(//row/@size) }",
            "- { name: m, help: h, type: gauge, value: sum(/store/group/row) }",
            "- { name: m, help: h, type: gauge, value: count(/store/m:*) }",
            "- { name: m, help: h, type: gauge, value: \"count(//*[@kind = 'a'][@size > 5])\" }",
        ] {
            same_as_xpath(metric, STORE, &[true]);
        }
        for metric in [
            "- { name: m, help: h, type: gauge, select: /store/row, fields: { k: '@kind' }, labels: { k: '{{ k }}' }, value: '@size', aggregate: sum }",
            "- { name: m, help: h, type: gauge, select: '//row[@status != \"failed\"]', fields: { t: 'text()' }, labels: { t: '{{ t }}' }, aggregate: count }",
            "- { name: m, help: h, type: gauge, select: //row, fields: { s: '.' }, labels: { s: '{{ s }}' }, aggregate: count }",
            "- { name: m, help: h, type: gauge, select: /store/row, fields: { i: i, v: 'string(i/@v)' }, labels: { i: '{{ i }}', v: '{{ v }}' }, aggregate: count }",
            "- { name: m, help: h, type: gauge, select: '/store/*', fields: { s: 'string(@m:size)' }, labels: { s: '{{ s }}' }, aggregate: count }",
            "- { name: m, help: h, type: gauge, select: '//row[. = \"nested\"]', value: '@size' }",
        ] {
            let rules = compiled(metric);
            let Shape::Nodes { fields, value, .. } = &rules.rules[0].shape else {
                panic!("a node rule");
            };
            let mut direct = vec![true; 1 + fields.len()];
            if value.is_some() {
                direct.push(true);
            }
            same_as_xpath(metric, STORE, &direct);
        }
    }

    #[test]
    fn simple_fields_of_other_rules_are_read_directly() {
        // `[1]` keeps the select from streaming; the fields are still read directly.
        let rows = same_as_xpath(
            "- { name: m, help: h, type: gauge, select: '/store/row[1] | /store/m:row', fields: { a: '@kind', b: 'string(@nothing)', c: text(), d: 'string(text())', e: 'i/text()', f: 'm:i/text()' }, labels: { a: '{{ a }}', b: '{{ b }}', c: '{{ c }}', d: '{{ d }}', e: '{{ e }}', f: '{{ f }}' }, aggregate: count }",
            "<store xmlns:m='urn:m'><row kind='a'>t<i>x</i><m:i>y</m:i><i>z</i></row><m:row kind='b'>u<i><j/>v</i><m:i/><m:i>w</m:i><m:i>q</m:i></m:row></store>",
            &[false, true, true, true, true, true, true],
        );
        assert!(rows.contains("\"x\""), "{rows}");
        assert!(rows.contains("\"v\""), "{rows}");
        assert!(rows.contains("\"w\""), "{rows}");
        // An attribute selected by sxd-xpath has no attributes or children: fields of it are
        // empty, as sxd-xpath has them.
        same_as_xpath(
            "- { name: m, help: h, type: gauge, select: '//row/@*', fields: { a: 'string(@x)', t: 'string(text())' }, labels: { a: '{{ a }}', t: '{{ t }}' }, aggregate: count }",
            STORE,
            &[false, true, true],
        );
        // Errors: a missing field, a value that is not a number, in document order.
        let missing = same_as_xpath(
            "- { name: m, help: h, type: gauge, select: '//row[position() < 3]', fields: { e: 'i/text()' }, labels: { e: '{{ e }}' }, aggregate: count }",
            "<s><row><i>1</i></row><row><i/></row></s>",
            &[false, true],
        );
        assert!(missing.contains("/s/row[2]"), "{missing}");
        let not_a_number = same_as_xpath(
            "- { name: m, help: h, type: gauge, select: '//row[position() < 3]', value: 'text()', aggregate: sum }",
            "<s><row>1</row><row>x</row></s>",
            &[false, true],
        );
        assert!(not_a_number.contains("\"x\""), "{not_a_number}");
    }

    #[test]
    fn other_spellings_go_through_sxd_xpath() {
        let namespaces = [("m".to_owned(), "urn:m".to_owned())];
        for query in [
            "@ kind",
            "@*",
            "@m:*",
            "@q:kind",
            "@ké",
            "string(@a, @b)",
            "string( @a )",
            "text()[1]",
            "text/text()",
            "a/b/text()",
            "string(a/text())",
            "number(@a)",
            "./@a",
            "@a | @b",
        ] {
            assert!(
                DirectRead::parse(&XPathQuery::parse(query).expect("valid"), &namespaces).is_none(),
                "{query} should go through sxd-xpath"
            );
        }
        for query in [
            "@kind",
            " @m:kind ",
            "string(@a-b.c)",
            "text()",
            "m:row/text()",
        ] {
            assert!(
                DirectRead::parse(&XPathQuery::parse(query).expect("valid"), &namespaces).is_some(),
                "{query} should be read directly"
            );
        }
    }

    #[test]
    fn parent_and_ancestor_attributes_are_read_directly() {
        let namespaces = [("m".to_owned(), "urn:m".to_owned())];
        for query in [
            "../@id",
            "../../@name",
            "string(../@id)",
            "../@m:id",
            "ancestor::site/@name",
            "string(ancestor::m:site/@name)",
            "ancestor-or-self::row/@id",
        ] {
            assert!(
                DirectRead::parse(&XPathQuery::parse(query).expect("valid"), &namespaces).is_some(),
                "{query} should be read directly"
            );
        }
        for query in [
            "..",
            "../@*",
            "../ @id",
            "../@id/..",
            "../x/@id",
            "./../@id",
            "ancestor::*/@name",
            "ancestor::site[1]/@name",
            "ancestor::site/@name/..",
            "ancestor::site/rack/@id",
            "ancestor::node/@id",
            "parent::rack/@id",
            "descendant::row/@id",
            "ancestor::q:site/@name",
        ] {
            assert!(
                DirectRead::parse(&XPathQuery::parse(query).expect("valid"), &namespaces).is_none(),
                "{query} should go through sxd-xpath"
            );
        }
        // Sites in sites (the outermost with the attribute is first in document order), a site
        // without the attribute, a row at the top, prefixed names, and `ancestor-or-self`.
        let xml = "<inv xmlns:m='urn:m' name='top'>\
            <site name='s1'><rack id='r1'><row id='1'/><row/></rack>\
              <site name='s2'><rack id='r2' m:id='mr2'><row id='2'/></rack></site></site>\
            <site><rack id='r3'><row id='3'/></rack><row id='4'/></site>\
            <m:site name='ms'><site name='s3'><rack><row id='5'/></rack></site></m:site>\
            <row id='6'/></inv>";
        for fields in [
            "{ a: '../@id', b: 'ancestor::site/@name' }",
            "{ a: 'string(../@m:id)', b: '../../@name' }",
            "{ a: 'string(ancestor::m:site/@name)', b: 'ancestor-or-self::row/@id' }",
            "{ a: 'string(ancestor-or-self::site/@name)', b: 'string(../../../@name)' }",
        ] {
            let metric = format!(
                "- {{ name: m, help: h, type: gauge, select: //row, fields: {fields}, labels: {{ a: '{{{{ a }}}}', b: '{{{{ b }}}}' }}, aggregate: count, on_missing: zero }}"
            );
            let got = same_as_xpath(&metric, xml, &[true, true, true]);
            assert!(!got.starts_with("error"), "{got}");
        }
        // A missing field names the node, as sxd-xpath's reading does.
        let missing = same_as_xpath(
            "- { name: m, help: h, type: gauge, select: //row, fields: { s: 'ancestor::site/@name' }, labels: { s: '{{ s }}' }, aggregate: count }",
            xml,
            &[true, true],
        );
        assert!(missing.contains("/inv/site[2]/rack[1]/row[1]"), "{missing}");
    }

    #[test]
    fn predicates_on_child_elements_are_walked() {
        let xml = "<s xmlns:m='urn:m'><t n='1'><failure/></t><t n='2'><skipped/></t>\
            <t n='3' x='1'><failure/><skipped/></t><t n='4'>failure</t><t n='5'><m:failure/></t>\
            <g><t n='6' x='1'><failure/><c><d/></c></t><t n='7'><c/></t></g>\
            <t n='8'><text/><failure/></t></s>";
        for select in [
            "//t[failure]",
            "//t[skipped]",
            "/s/t[failure][skipped]",
            "//t[failure][@x = '1']",
            "//t[@x][failure]",
            "//t[m:failure]",
            "//g[t]/t[c]",
            "//t[failure]//c[d]",
            "/s//t[failure][failure]",
            "//t[ failure ]",
        ] {
            let metric = format!(
                "- {{ name: m, help: h, type: gauge, select: \"{select}\", fields: {{ n: '../@n', s: '@n' }}, labels: {{ n: '{{{{ n }}}}', s: '{{{{ s }}}}' }}, aggregate: count, on_missing: zero }}"
            );
            same_as_xpath(&metric, xml, &[true, true, true]);
        }
        for select in [
            "//t[failure or skipped]",
            "//t[not(failure)]",
            "//t[failure][1]",
            "//t[text]",
            "//t[failure/x]",
            "//t[failure] | //g",
        ] {
            let metric = format!(
                "- {{ name: m, help: h, type: gauge, select: \"{select}\", fields: {{ s: '@n' }}, labels: {{ s: '{{{{ s }}}}' }}, aggregate: count }}"
            );
            same_as_xpath(&metric, xml, &[false, true]);
        }
    }

    #[test]
    fn rules_walked_together_give_what_each_gives_alone() {
        let metrics = "\
- { name: a, help: h, type: gauge, value: count(//row) }
- { name: b, help: h, type: gauge, select: '/store/row[@size]', fields: { k: '@kind' }, labels: { k: '{{ k }}' }, value: '@size', aggregate: sum }
- { name: c, help: h, type: gauge, select: '//row[1]', fields: { k: '@kind' }, labels: { k: '{{ k }}' }, aggregate: count }
- { name: d, help: h, type: gauge, select: '//*[@kind]', fields: { t: 'string(text())' }, labels: { t: '{{ t }}' }, aggregate: count }
- { name: e, help: h, type: gauge, value: sum(/store/group/row/@size) }
";
        let rules = compiled(metrics);
        let together = outcome(&rules, STORE, Evaluation::Direct);
        assert_eq!(together, outcome(&rules, STORE, Evaluation::XPath));
        for (i, line) in metrics.lines().enumerate() {
            let alone = outcome(&compiled(&format!("{line}\n")), STORE, Evaluation::Direct);
            let samples = alone.trim_start_matches("[RuleSamples { rule: 0, samples: ");
            assert!(
                together.contains(samples.trim_end_matches("}]")),
                "rule {i}: {alone}\n{together}"
            );
        }
    }

    #[test]
    fn policies_give_what_sxd_xpath_gives_on_direct_reads() {
        let xml = "<store><row k='a' v='1'>1</row><row k='a' v='x'>2</row><row v='3'>yes</row>\
            <row k='b'>up</row><row k='b' v='4'>down</row><row k='a' v='5'>1</row></store>";
        // Walked (streamable) and sxd-xpath selects, fields and values read directly.
        for select in ["/store/row", "/store/row[position() > 0]"] {
            let direct = select == "/store/row";
            for (policies, value) in [
                (
                    "on_missing: skip, on_invalid: skip, on_duplicate: first",
                    "'@v'",
                ),
                (
                    "on_missing: zero, on_invalid: skip, on_duplicate: last",
                    "'@v'",
                ),
                (
                    "on_missing: skip, on_invalid: skip, on_duplicate: sum",
                    "'@v'",
                ),
                (
                    "on_missing: skip, on_duplicate: first",
                    "'@v', convert: { map: { x: 7 } }",
                ),
                (
                    "on_missing: skip, on_invalid: skip, on_duplicate: last",
                    "'text()', states: [up, down, '1']",
                ),
                (
                    "on_missing: skip, on_invalid: skip, on_duplicate: first",
                    "'text()', convert: { parse: boolean }",
                ),
            ] {
                let metric = format!(
                    "- {{ name: m, help: h, type: gauge, select: '{select}', fields: {{ k: '@k' }}, labels: {{ k: '{{{{ k }}}}' }}, value: {value}, {policies} }}"
                );
                let rules = compiled(&metric);
                let mut used = vec![direct, true];
                if let Shape::Nodes { value: Some(_), .. } = &rules.rules[0].shape {
                    used.push(true);
                }
                let got = same_as_xpath(&metric, xml, &used);
                // Each of these leaves a node out: the skips are compared too.
                assert!(got.contains("first: Some(("), "{got}");
            }
            for metric in [
                format!(
                    "- {{ name: m_info, help: h, type: gauge, select: '{select}', fields: {{ k: '@k' }}, labels: {{ k: '{{{{ k }}}}' }}, on_missing: skip, on_duplicate: first }}"
                ),
                format!(
                    "- {{ name: m, help: h, type: gauge, select: '{select}[@k = \"z\"]', value: '@v', aggregate: sum, on_empty: zero }}"
                ),
                format!(
                    "- {{ name: m, help: h, type: gauge, select: '{select}', fields: {{ k: '@k' }}, labels: {{ k: '{{{{ k }}}}' }}, aggregate: count, on_missing: zero }}"
                ),
            ] {
                let rules = compiled(&metric);
                let Shape::Nodes { fields, value, .. } = &rules.rules[0].shape else {
                    panic!("a node rule");
                };
                let mut used = vec![direct];
                used.extend(fields.iter().map(|_| true));
                if value.is_some() {
                    used.push(true);
                }
                same_as_xpath(&metric, xml, &used);
            }
        }
        // A policy that fails names the same node in both.
        let failed = same_as_xpath(
            "- { name: m, help: h, type: gauge, select: /store/row, fields: { k: '@k' }, labels: { k: '{{ k }}' }, value: '@v', on_missing: skip }",
            xml,
            &[true, true, true],
        );
        assert!(failed.contains("/store/row[2]"), "{failed}");
        // Document-level values: walked counts and sums, sxd-xpath strings.
        for metric in [
            "- { name: m, help: h, type: gauge, value: 'string(/store/row[2]/@v)', on_invalid: skip }",
            "- { name: m, help: h, type: gauge, value: 'string(/store/row[1]/@v)', convert: { scale: 3 } }",
        ] {
            let got = same_as_xpath(metric, xml, &[false]);
            assert!(!got.starts_with("error"), "{got}");
        }
        same_as_xpath(
            "- { name: m, help: h, type: gauge, value: 'count(/store/row)', convert: { scale: 2 } }",
            xml,
            &[true],
        );
    }

    #[test]
    fn the_first_failing_rule_in_file_order_is_reported() {
        let xml = "<store><row kind='a' size='x'/><row size='1'/></store>";
        // A walked rule fails after a rule sxd-xpath evaluates fails: the earlier one wins.
        let rules = compiled(
            "\
- { name: a, help: h, type: gauge, value: count(/store/row) }
- { name: b, help: h, type: gauge, select: '/store/row[2]', fields: { k: '@kind' }, labels: { k: '{{ k }}' }, aggregate: count }
- { name: c, help: h, type: gauge, select: /store/row, value: '@size', aggregate: sum }
",
        );
        for evaluation in [Evaluation::Direct, Evaluation::XPath] {
            let error = outcome(&rules, xml, evaluation);
            assert!(error.starts_with("error: rule metrics[1] (b)"), "{error}");
        }
        let rules = compiled(
            "\
- { name: c, help: h, type: gauge, select: /store/row, value: '@size', aggregate: sum }
- { name: b, help: h, type: gauge, select: '/store/row[2]', fields: { k: '@kind' }, labels: { k: '{{ k }}' }, aggregate: count }
",
        );
        for evaluation in [Evaluation::Direct, Evaluation::XPath] {
            let error = outcome(&rules, xml, evaluation);
            assert!(
                error.starts_with("error: rule metrics[0] (c) at /store/row[1]"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_select_walk_visits_each_element_once_in_document_order() {
        // `//a//b` reaches the inner `b` through two `a`s; XPath selects it once.
        same_as_xpath(
            "- { name: m, help: h, type: gauge, select: '//a//b', fields: { id: '@id' }, labels: { id: '{{ id }}' }, value: '@id' }",
            "<a><a><b id='1'><b id='2'/></b></a><b id='3'/></a>",
            &[true, true, true],
        );
        let rules = compiled(
            "- { name: m, help: h, type: gauge, select: '//a//b', fields: { id: '@id' }, labels: { id: '{{ id }}' }, value: '@id' }",
        );
        let Ok(StreamPlan::Nodes { select, .. }) = &rules.rules[0].stream else {
            panic!("streamable");
        };
        let package = build::parse(
            b"<a><a><b id='1'><b id='2'/></b></a><b id='3'/><c><b id='4'/></c></a>",
            &XmlLimits::default(),
            &mut NoSink,
        )
        .expect("accepted");
        let mut seen = Vec::new();
        walk(package.as_document(), &[(select, &[][..])], |_, element| {
            seen.push(element.attribute_value("id").unwrap_or_default().to_owned());
            true
        });
        assert_eq!(seen, ["1", "2", "3", "4"]);
        // Two paths in one walk; the second stops being followed after its first element.
        let mut seen = Vec::new();
        walk(
            package.as_document(),
            &[(select, &[][..]), (select, &[][..])],
            |path, element| {
                seen.push((
                    path,
                    element.attribute_value("id").unwrap_or_default().to_owned(),
                ));
                path == 0
            },
        );
        let expected: Vec<(usize, String)> = [(0, "1"), (1, "1"), (0, "2"), (0, "3"), (0, "4")]
            .into_iter()
            .map(|(path, id)| (path, id.to_owned()))
            .collect();
        assert_eq!(seen, expected);
    }
}
