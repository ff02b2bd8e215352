//! Streamable: which rules the one-pass streaming engine can run, and their plans.
//!
//! The streaming engine ([`crate::engine::stream`]) evaluates a rule while reading the document
//! once, when the rule needs of each selected element only its ancestors' names and attributes
//! and its own subtree. This module parses a rule's queries, from their tokens
//! ([`crate::rules::xpath`]), into a plan, or says why a rule is not streamable (it then runs
//! on the DOM engine, which stays the reference semantics). The plan:
//!
//! - `select`: an absolute location path of child (`/`) and descendant (`//`) steps, each a name
//!   test (`row`, `s:row`, `*`, `s:*`) with predicates that compare an attribute (`@a`) with a
//!   literal, test its presence, or (as a step's first predicate) the element's position,
//!   combined with `and`, `or`, `not()` and parentheses; on the last step also the element's
//!   string value (`.`), its child elements (`[failure]`, `[status = 'ok']`, `[count(x) > 0]`),
//!   and any other XPath predicate [`expr::stream_needs`] accepts ([`Predicate::Expr`]).
//! - `fields` and `value`: read straight from the scan, `@a`, `.`, `text()`, a child element
//!   `name`, `name/@a`, an ancestor's attribute (`../@a`, `ancestor::x/@a`: [`Upward`]) or
//!   child element (`../name`, `ancestor::x/name`), and `string(...)` of those; or any other
//!   XPath expression [`expr::stream_needs`] accepts ([`Reader::Expr`]), evaluated on the
//!   element's buffered subtree.
//! - document-level `value`: `count(PATH)`, `count(PATH/@a)`, `sum(PATH)`, `sum(PATH/@a)`.

use std::collections::BTreeMap;

use crate::model::names::Prefix;
use crate::model::number::xpath_number;
use crate::rules::expr::{self, Expr, Function};
use crate::rules::xpath::{Kind, Token, XPathQuery};

/// A resolved name: namespace URI (none for unprefixed names) and local part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QName {
    /// The namespace URI, or `None` for no namespace.
    pub ns: Option<String>,
    /// The local part.
    pub local: String,
}

/// An element name test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameTest {
    /// `*`: any element in no namespace or any namespace (XPath `*` matches all elements).
    Any,
    /// `p:*`: any element in one namespace.
    AnyIn(String),
    /// A specific name.
    Name(QName),
}

/// How a step relates to the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// `/name`: a child.
    Child,
    /// `//name`: any descendant.
    Descendant,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Child or descendant.
    pub axis: Axis,
    /// Which elements.
    pub test: NameTest,
    /// The conjunction of the step's predicates, if any.
    pub predicate: Option<Predicate>,
}

/// An absolute location path.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The steps, outermost first.
    pub steps: Vec<Step>,
}

/// A comparison operator: XPath's own, shared with the expressions of [`crate::rules::expr`].
pub use crate::rules::expr::CmpOp as Op;

/// What a predicate compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// An attribute of the element; absent means an empty node-set (every comparison false).
    Attribute(QName),
    /// The element's string value (all descendant text).
    StringValue,
    /// `name`: the child elements so named, a node-set (a comparison holds if it holds for
    /// one of them; none means false).
    Child(QName),
    /// `count(name)`: how many child elements are so named, a number.
    ChildCount(QName),
    /// `position()` (or a bare number, `[2]`): the element's position among the siblings the
    /// step's name test admits, a number. Only in a step's first predicate.
    Position,
}

impl Operand {
    /// Whether the operand is known only at the element's end (it reads the content).
    fn needs_content(&self) -> bool {
        matches!(
            self,
            Operand::StringValue | Operand::Child(_) | Operand::ChildCount(_)
        )
    }
}

/// A literal in a predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A quoted string.
    String(String),
    /// A number.
    Number(f64),
}

/// A predicate, with XPath 1.0's comparison semantics.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// All must hold.
    And(Vec<Predicate>),
    /// One must hold.
    Or(Vec<Predicate>),
    /// `not(...)`.
    Not(Box<Predicate>),
    /// `[@a]`: the attribute is present.
    Exists(QName),
    /// `[name]`: the element has a child element so named.
    HasChild(QName),
    /// `operand op literal`.
    Compare(Operand, Op, Literal),
    /// Any other XPath predicate of the last step that reads only the element's ancestors
    /// (names, attributes) and its subtree ([`expr::stream_needs`]): evaluated at the
    /// element's end on its buffered subtree. A number is a position, as in XPath.
    Expr(Box<Expr>),
}

/// What a predicate reads of one element, given by the engine that evaluates it.
pub trait Facts {
    /// The value of an attribute, `None` when absent.
    fn attribute(&self, name: &QName) -> Option<&str>;
    /// The element's string value (asked only of predicates that [`Predicate::needs_text`]).
    fn text(&self) -> &str;
    /// How many child elements have this name.
    fn child_count(&self, name: &QName) -> usize;
    /// Whether `test` holds for the string value of a child element with this name.
    fn any_child(&self, name: &QName, test: &mut dyn FnMut(&str) -> bool) -> bool;
    /// The element's position among the siblings the step's name test admits.
    fn position(&self) -> usize;
    /// Whether an XPath predicate ([`Predicate::Expr`]) holds on the element: asked at its
    /// end only, of its buffered subtree.
    fn holds(&self, expr: &Expr) -> bool;
}

impl Predicate {
    /// Whether evaluating the predicate needs the element's content, its text or its child
    /// elements (known only at its end).
    pub fn needs_content(&self) -> bool {
        self.any_operand(&mut |operand| operand.needs_content())
            || self.any(&mut |p| matches!(p, Predicate::HasChild(_) | Predicate::Expr(_)))
    }

    /// Whether the predicate has an XPath part ([`Predicate::Expr`]), which needs the
    /// element's subtree buffered.
    pub fn needs_tree(&self) -> bool {
        self.any(&mut |p| matches!(p, Predicate::Expr(_)))
    }

    /// Whether evaluating the predicate needs the element's string value.
    pub fn needs_text(&self) -> bool {
        self.any_operand(&mut |operand| *operand == Operand::StringValue)
    }

    /// Whether the predicate reads an attribute.
    pub fn reads_attributes(&self) -> bool {
        self.any(&mut |p| {
            matches!(
                p,
                Predicate::Exists(_) | Predicate::Compare(Operand::Attribute(_), _, _)
            )
        })
    }

    /// Whether the predicate uses the element's position.
    pub fn uses_position(&self) -> bool {
        self.any_operand(&mut |operand| *operand == Operand::Position)
    }

    /// The names of the child elements the predicate reads, each once, and whether it needs
    /// their string values (a comparison) or only how many there are.
    pub fn children(&self) -> Vec<(QName, bool)> {
        let mut out: Vec<(QName, bool)> = Vec::new();
        self.any(&mut |p| {
            let (name, texts) = match p {
                Predicate::HasChild(name) | Predicate::Compare(Operand::ChildCount(name), _, _) => {
                    (name, false)
                }
                Predicate::Compare(Operand::Child(name), _, _) => (name, true),
                _ => return false,
            };
            match out.iter_mut().find(|(n, _)| n == name) {
                Some((_, t)) => *t |= texts,
                None => out.push((name.clone(), texts)),
            }
            false
        });
        out
    }

    /// Whether `f` holds for the predicate or one inside it.
    fn any(&self, f: &mut dyn FnMut(&Predicate) -> bool) -> bool {
        if f(self) {
            return true;
        }
        match self {
            Predicate::And(all) | Predicate::Or(all) => all.iter().any(|p| p.any(f)),
            Predicate::Not(inner) => inner.any(f),
            _ => false,
        }
    }

    /// Whether `f` holds for one of the predicate's operands.
    fn any_operand(&self, f: &mut dyn FnMut(&Operand) -> bool) -> bool {
        self.any(&mut |p| match p {
            Predicate::Compare(operand, _, _) => f(operand),
            _ => false,
        })
    }

    /// Evaluates the predicate on what `facts` reads of an element, with XPath 1.0's
    /// semantics.
    pub fn eval(&self, facts: &dyn Facts) -> bool {
        match self {
            Predicate::And(all) => all.iter().all(|p| p.eval(facts)),
            Predicate::Or(all) => all.iter().any(|p| p.eval(facts)),
            Predicate::Not(inner) => !inner.eval(facts),
            Predicate::Exists(name) => facts.attribute(name).is_some(),
            Predicate::HasChild(name) => facts.child_count(name) > 0,
            Predicate::Compare(operand, op, literal) => match operand {
                Operand::Attribute(name) => match facts.attribute(name) {
                    Some(value) => compare(value, *op, literal),
                    // An empty node-set compares false with anything.
                    None => false,
                },
                Operand::StringValue => compare(facts.text(), *op, literal),
                Operand::Child(name) => {
                    facts.any_child(name, &mut |value| compare(value, *op, literal))
                }
                // A number compared with a string compares numbers (XPath 1.0 section 3.4).
                Operand::ChildCount(name) => {
                    compare_numbers(facts.child_count(name) as f64, *op, literal)
                }
                Operand::Position => compare_numbers(facts.position() as f64, *op, literal),
            },
            Predicate::Expr(expr) => facts.holds(expr),
        }
    }
}

/// XPath 1.0 comparison of a number with a literal: both as numbers, whatever the operator.
pub fn compare_numbers(a: f64, op: Op, literal: &Literal) -> bool {
    let b = match literal {
        Literal::Number(n) => *n,
        Literal::String(s) => xpath_number(s),
    };
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
    }
}

/// XPath 1.0 comparison of a node's string value with a literal (XPath 1.0 section 3.4):
/// `=` and `!=` compare strings with a string literal and numbers with a number literal;
/// `<`, `<=`, `>`, `>=` always compare numbers.
pub fn compare(value: &str, op: Op, literal: &Literal) -> bool {
    match (op, literal) {
        (Op::Eq, Literal::String(s)) => value == s,
        (Op::Ne, Literal::String(s)) => value != s,
        (op, literal) => compare_numbers(xpath_number(value), op, literal),
    }
}

/// What a field or value reads from a selected element.
#[derive(Debug, Clone, PartialEq)]
pub enum Reader {
    /// `@a`.
    Attribute(QName),
    /// `.`: the string value.
    StringValue,
    /// `text()`: the first text node child.
    FirstText,
    /// `name`: the string value of the first child element so named.
    Child(QName),
    /// `name/@a`: the attribute of the first child element so named that has it.
    ChildAttribute(QName, QName),
    /// `../@a`, `../../@a`, `parent::x/@a`, `ancestor::x/@a`, `ancestor-or-self::x/@a`: an
    /// attribute of an ancestor, known when the element starts.
    Ancestor(Upward, QName),
    /// `../name`, `../../name`, `parent::x/name`, `ancestor::x/name`,
    /// `ancestor-or-self::x/name`: the string value of the first (in document order) child
    /// element so named of the ancestors the path reaches, known when that child ends, which
    /// may be after the selected element.
    AncestorChild {
        /// The path up.
        upward: Upward,
        /// The child's name.
        child: QName,
        /// Whether the document node above the root element is reached: by the last parent
        /// step (`..`, `parent::node()`), and by the `ancestor::` step (`ancestor::node()`).
        /// `*` and names admit elements only.
        document: (bool, bool),
    },
    /// Any other XPath expression that reads only the element's ancestors (names,
    /// attributes) and its subtree ([`expr::stream_needs`]): evaluated at the element's end
    /// on its buffered subtree, with the result the DOM engine gives.
    Expr(Box<Expr>),
}

impl Reader {
    /// Whether the reader is known at the element's start tag (it reads attributes only).
    pub fn at_start(&self) -> bool {
        matches!(self, Reader::Attribute(_) | Reader::Ancestor(..))
    }

    /// Whether the reader needs the element's subtree buffered.
    pub fn needs_tree(&self) -> bool {
        matches!(self, Reader::Expr(_))
    }
}

/// A path up the ancestors: parent steps, then at most one `ancestor::` or
/// `ancestor-or-self::` step.
#[derive(Debug, Clone, PartialEq)]
pub struct Upward {
    /// `..` (any parent, [`NameTest::Any`]) or `parent::test`, innermost first.
    pub parents: Vec<NameTest>,
    /// `ancestor::test` (false) or `ancestor-or-self::test` (true), after the parent steps.
    pub ancestors: Option<(bool, NameTest)>,
}

impl Upward {
    /// The attribute the reader gives, given the open elements (outermost first, the selected
    /// one last) and a way to read an attribute of one of them: for `ancestor::` the first in
    /// document order, the outermost element that matches and has the attribute, as XPath's
    /// `string()` of the node-set takes.
    pub fn read<'f, 'v, F>(
        &self,
        elements: &'f [F],
        matches: impl Fn(&NameTest, &F) -> bool,
        attribute: impl Fn(&'f F) -> Option<&'v str>,
    ) -> Option<&'v str> {
        let mut at = elements.len().checked_sub(1)?;
        for test in &self.parents {
            // Above the root element is the document node, which has no attributes.
            at = at.checked_sub(1)?;
            if !matches(test, &elements[at]) {
                return None;
            }
        }
        match &self.ancestors {
            None => attribute(&elements[at]),
            Some((or_self, test)) => {
                let end = if *or_self { at + 1 } else { at };
                elements[..end]
                    .iter()
                    .filter(|element| matches(test, element))
                    .find_map(attribute)
            }
        }
    }
}

/// A field or value query: a reader, and whether `string()` turns "nothing" into "".
#[derive(Debug, Clone, PartialEq)]
pub struct ReadQuery {
    /// What to read.
    pub reader: Reader,
    /// `string(...)`: a missing node gives the empty string instead of "missing".
    pub or_empty: bool,
}

/// A document-level value the streaming engine computes.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentValue {
    /// `count(PATH)` or `count(PATH/@a)`.
    Count(Path, Option<QName>),
    /// `sum(PATH)` or `sum(PATH/@a)`.
    Sum(Path, Option<QName>),
}

/// How the streaming engine runs one rule.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamPlan {
    /// A node-level rule.
    Nodes {
        /// The selected elements.
        select: Path,
        /// The fields, in the rule's (sorted) order.
        fields: Vec<ReadQuery>,
        /// The value, when the rule has one.
        value: Option<ReadQuery>,
    },
    /// A document-level rule.
    Document(DocumentValue),
}

/// Plans a node-level rule; `Err` says why it is not streamable.
pub fn plan_nodes<'a>(
    select: &XPathQuery,
    fields: impl IntoIterator<Item = (&'a str, &'a XPathQuery)>,
    value: Option<&XPathQuery>,
    namespaces: &BTreeMap<Prefix, String>,
) -> Result<StreamPlan, String> {
    let ns = Namespaces(namespaces);
    let select = Parser::new(select, &ns)
        .whole(|p| p.path())
        .map_err(|why| format!("`select`: {why}"))?;
    let mut planned = Vec::new();
    for (name, query) in fields {
        let read =
            read_query(query, namespaces).map_err(|why| format!("`fields.{name}`: {why}"))?;
        planned.push(read);
    }
    let value = match value {
        Some(query) => {
            Some(read_query(query, namespaces).map_err(|why| format!("`value`: {why}"))?)
        }
        None => None,
    };
    Ok(StreamPlan::Nodes {
        select,
        fields: planned,
        value,
    })
}

/// Plans a field or value query: one of the readers the engines read directly, or else an
/// XPath expression the streaming engine evaluates on the element's buffered subtree.
fn read_query(
    query: &XPathQuery,
    namespaces: &BTreeMap<Prefix, String>,
) -> Result<ReadQuery, String> {
    let ns = Namespaces(namespaces);
    let simple = Parser::new(query, &ns).whole(|p| p.read_query());
    if simple.is_ok() {
        return simple;
    }
    let expr = expr::parse(query, namespaces)?;
    if let Err(why) = expr::stream_needs(&expr) {
        // Of a path up the ancestors, the direct reading says best what streams.
        return Err(match simple {
            Err(direct) if Parser::new(query, &ns).starts_upward() => direct,
            _ => why,
        });
    }
    Ok(ReadQuery {
        reader: Reader::Expr(Box::new(expr)),
        or_empty: false,
    })
}

/// Whether an expression is a number, so that as a predicate it tests the position.
fn is_number(expr: &Expr) -> bool {
    match expr {
        Expr::Number(_) | Expr::Arith(..) | Expr::Neg(_) => true,
        Expr::Call(function, _) => matches!(
            function,
            Function::Last
                | Function::Position
                | Function::Count
                | Function::StringLength
                | Function::Number
                | Function::Sum
                | Function::Floor
                | Function::Ceiling
                | Function::Round
        ),
        _ => false,
    }
}

/// Plans a document-level rule; `Err` says why it is not streamable.
pub fn plan_document(
    value: &XPathQuery,
    namespaces: &BTreeMap<Prefix, String>,
) -> Result<StreamPlan, String> {
    let ns = Namespaces(namespaces);
    Parser::new(value, &ns)
        .whole(|p| p.document_value())
        .map(StreamPlan::Document)
        .map_err(|why| format!("`value`: {why}"))
}

struct Namespaces<'a>(&'a BTreeMap<Prefix, String>);

impl Namespaces<'_> {
    fn uri(&self, prefix: &str) -> Result<String, String> {
        self.0
            .iter()
            .find(|(p, _)| p.as_str() == prefix)
            .map(|(_, uri)| uri.clone())
            .ok_or_else(|| format!("the prefix `{prefix}` is not declared"))
    }
}

/// The comparison operator a token spells, if it is one.
fn comparison(kind: Kind) -> Option<Op> {
    match kind {
        Kind::Eq => Some(Op::Eq),
        Kind::Ne => Some(Op::Ne),
        Kind::Lt => Some(Op::Lt),
        Kind::Le => Some(Op::Le),
        Kind::Gt => Some(Op::Gt),
        Kind::Ge => Some(Op::Ge),
        _ => None,
    }
}

/// Whether a token is a name; an operator name counts, as the plan reads `and` and `or` by
/// their text.
fn is_name(kind: Kind) -> bool {
    matches!(kind, Kind::Name | Kind::OperatorName)
}

/// Whether a token is `*`, as a name test or as the multiplication operator.
fn is_star(kind: Kind) -> bool {
    matches!(kind, Kind::Star | Kind::Multiply)
}

/// A recursive-descent parser over the tokens of one query.
struct Parser<'a> {
    text: &'a str,
    tokens: &'a [Token],
    at: usize,
    ns: &'a Namespaces<'a>,
    /// Whether `position()` may stand here: in a step's first predicate.
    position_ok: bool,
}

impl<'a> Parser<'a> {
    fn new(query: &'a XPathQuery, ns: &'a Namespaces<'a>) -> Parser<'a> {
        Parser {
            text: query.text(),
            tokens: query.tokens(),
            at: 0,
            ns,
            position_ok: false,
        }
    }

    /// Runs a production that must consume every token.
    fn whole<T>(mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        let result = f(&mut self)?;
        match self.tokens.get(self.at) {
            None => Ok(result),
            Some(token) => Err(format!(
                "{} is outside the streamable subset",
                self.describe(token)
            )),
        }
    }

    /// The kind of the token `offset` places ahead.
    fn kind_at(&self, offset: usize) -> Option<Kind> {
        self.tokens.get(self.at + offset).map(|t| t.kind)
    }

    /// The name `offset` places ahead, if a name stands there.
    fn name_at(&self, offset: usize) -> Option<&'a str> {
        let token = self.tokens.get(self.at + offset)?;
        is_name(token.kind).then(|| token.text(self.text))
    }

    fn is(&self, kind: Kind) -> bool {
        self.kind_at(0) == Some(kind)
    }

    fn next(&mut self) -> Option<&'a Token> {
        let token = self.tokens.get(self.at);
        self.at += 1;
        token
    }

    fn consume(&mut self, kind: Kind) -> Result<(), String> {
        let expected = match kind {
            Kind::At => "`@`",
            Kind::LParen => "`(`",
            Kind::RParen => "`)`",
            _ => "`]`",
        };
        match self.next() {
            Some(t) if t.kind == kind => Ok(()),
            Some(t) => Err(format!(
                "expected {expected} but found {}",
                self.describe(t)
            )),
            None => Err(format!("expected {expected}")),
        }
    }

    /// A token as messages name it.
    fn describe(&self, token: &Token) -> String {
        let text = token.text(self.text);
        match (token.kind, comparison(token.kind)) {
            (_, Some(op)) => format!("the operator {op:?}"),
            (Kind::Literal, _) => format!("the literal {:?}", unquoted(text)),
            (Kind::Number(n), _) => format!("the number {n}"),
            _ => format!("`{text}`"),
        }
    }

    fn path(&mut self) -> Result<Path, String> {
        let mut steps = Vec::new();
        loop {
            let axis = match self.kind_at(0) {
                Some(Kind::Slash) => Axis::Child,
                Some(Kind::DoubleSlash) => Axis::Descendant,
                _ if steps.is_empty() => {
                    return Err("only absolute paths (starting with `/` or `//`) are \
                                streamable"
                        .to_owned());
                }
                _ => break,
            };
            // `PATH/@a` ends the path; the caller reads the attribute step.
            if self.kind_at(1) == Some(Kind::At) {
                if steps.is_empty() {
                    return Err("a path of attributes only is not streamable".to_owned());
                }
                break;
            }
            self.next();
            let test = self.name_test()?;
            let mut predicates = Vec::new();
            while self.is(Kind::LBracket) {
                self.next();
                // A position counts the siblings the name test admits, before any other
                // predicate filters them; `p:*` would count per namespace, which no record keeps.
                self.position_ok = predicates.is_empty() && !matches!(test, NameTest::AnyIn(_));
                let start = self.at;
                let predicate = self
                    .or_expr()
                    .and_then(|p| self.consume(Kind::RBracket).map(|()| p))
                    .or_else(|why| {
                        self.at = start;
                        // The XPath error says more than the direct reading's, unless the
                        // expression does not even parse.
                        self.xpath_predicate().map_err(|xpath| xpath.unwrap_or(why))
                    });
                self.position_ok = false;
                predicates.push(predicate?);
            }
            let predicate = match predicates.len() {
                0 => None,
                1 => predicates.pop(),
                _ => Some(Predicate::And(predicates)),
            };
            steps.push(Step {
                axis,
                test,
                predicate,
            });
        }
        // What a predicate reads of an element's content is known at its end, after its
        // descendants were matched: only the last step can wait for it.
        let inner = steps.len().saturating_sub(1);
        if steps[..inner].iter().any(|step| {
            step.predicate
                .as_ref()
                .is_some_and(Predicate::needs_content)
        }) {
            return Err(
                "a predicate on an element's text, child elements or with XPath functions is \
                 streamable only on the last step"
                    .to_owned(),
            );
        }
        Ok(Path { steps })
    }

    /// A predicate outside the subset read directly, from the current token to its `]`
    /// (consumed): an XPath expression evaluated on the element's buffered subtree, so only on
    /// the last step of a path; a number (a position) only as the step's first predicate, and
    /// never `last()`, which needs the siblings that follow.
    fn xpath_predicate(&mut self) -> Result<Predicate, Option<String>> {
        let start = self.at;
        let mut depth = 0usize;
        let end = loop {
            match self.kind_at(0) {
                None => return Err(None),
                Some(Kind::LBracket) => depth += 1,
                Some(Kind::RBracket) if depth == 0 => break self.at,
                Some(Kind::RBracket) => depth -= 1,
                Some(_) => {}
            }
            self.at += 1;
        };
        self.at += 1;
        let (Some(first), Some(last)) = (
            self.tokens.get(start),
            end.checked_sub(1).and_then(|e| self.tokens.get(e)),
        ) else {
            return Err(None);
        };
        let text = self
            .text
            .get(first.span.start..last.span.end)
            .unwrap_or_default();
        let query = XPathQuery::parse(text).map_err(|_| None)?;
        let expr = expr::parse(&query, self.ns.0).map_err(|_| None)?;
        let number = is_number(&expr);
        // A predicate reads its node-sets as booleans: whether an ancestor exists is known.
        let as_read = if number {
            expr.clone()
        } else {
            Expr::Call(Function::Boolean, vec![expr.clone()])
        };
        let needs = expr::stream_needs(&as_read).map_err(Some)?;
        if needs.last {
            return Err(Some(
                "`last()` in a predicate is not streamable: it needs the siblings that follow"
                    .to_owned(),
            ));
        }
        if (needs.position || number) && !self.position_ok {
            return Err(Some(
                "a position is streamable only in a step's first predicate (and not under \
                 `p:*`)"
                    .to_owned(),
            ));
        }
        Ok(Predicate::Expr(Box::new(expr)))
    }

    fn name_test(&mut self) -> Result<NameTest, String> {
        let Some(token) = self.next() else {
            return Err("a step is missing".to_owned());
        };
        match token.kind {
            kind if is_star(kind) => Ok(NameTest::Any),
            kind if is_name(kind) => {
                let name = token.text(self.text);
                if self.is(Kind::DoubleColon) {
                    if name == "child" {
                        self.next();
                        return self.name_test();
                    }
                    return Err(format!(
                        "the axis `{name}::` is not streamable; axes other than child and descendant are not streamable"
                    ));
                }
                if self.is(Kind::LParen) {
                    return Err(format!("the node test `{name}()` is not streamable"));
                }
                if self.is(Kind::Colon) {
                    self.next();
                    let uri = self.ns.uri(name)?;
                    match self.next() {
                        Some(t) if is_star(t.kind) => Ok(NameTest::AnyIn(uri)),
                        Some(t) if is_name(t.kind) => Ok(NameTest::Name(QName {
                            ns: Some(uri),
                            local: t.text(self.text).to_owned(),
                        })),
                        _ => Err("a name must follow a prefix".to_owned()),
                    }
                } else {
                    Ok(NameTest::Name(QName {
                        ns: None,
                        local: name.to_owned(),
                    }))
                }
            }
            Kind::DoubleColon | Kind::DotDot => {
                Err("axes other than child and descendant are not streamable".to_owned())
            }
            _ => Err(format!("{} is not a streamable step", self.describe(token))),
        }
    }

    fn qname(&mut self) -> Result<QName, String> {
        match self.name_test()? {
            NameTest::Name(name) => Ok(name),
            _ => Err("wildcards are not streamable here".to_owned()),
        }
    }

    fn or_expr(&mut self) -> Result<Predicate, String> {
        let mut all = vec![self.and_expr()?];
        while self.name_at(0) == Some("or") {
            self.next();
            all.push(self.and_expr()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Predicate::Or(all)
        })
    }

    fn and_expr(&mut self) -> Result<Predicate, String> {
        let mut all = vec![self.unary()?];
        while self.name_at(0) == Some("and") {
            self.next();
            all.push(self.unary()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Predicate::And(all)
        })
    }

    fn unary(&mut self) -> Result<Predicate, String> {
        match (self.kind_at(0), self.kind_at(1)) {
            (_, Some(Kind::LParen)) if self.name_at(0) == Some("not") => {
                self.next();
                self.next();
                let inner = self.or_expr()?;
                self.consume(Kind::RParen)?;
                Ok(Predicate::Not(Box::new(inner)))
            }
            (Some(Kind::LParen), _) => {
                self.next();
                let inner = self.or_expr()?;
                self.consume(Kind::RParen)?;
                Ok(inner)
            }
            (Some(Kind::Number(n)), Some(Kind::RBracket)) => {
                if !self.position_ok {
                    return Err(
                        "a position such as `[1]` is streamable only as a step's first \
                                predicate"
                            .to_owned(),
                    );
                }
                self.next();
                Ok(Predicate::Compare(
                    Operand::Position,
                    Op::Eq,
                    Literal::Number(n),
                ))
            }
            (Some(Kind::Literal | Kind::Number(_) | Kind::Minus), _) => {
                let literal = self.literal()?;
                let op = self.op()?;
                let operand = self.operand()?;
                Ok(Predicate::Compare(operand, op.swapped(), literal))
            }
            _ => {
                let operand = self.operand()?;
                if self.kind_at(0).and_then(comparison).is_some() {
                    let op = self.op()?;
                    let literal = self.literal()?;
                    return Ok(Predicate::Compare(operand, op, literal));
                }
                match operand {
                    Operand::Attribute(name) => Ok(Predicate::Exists(name)),
                    Operand::Child(name) => Ok(Predicate::HasChild(name)),
                    Operand::StringValue => {
                        Err("`[.]` alone is not streamable; compare it".to_owned())
                    }
                    Operand::ChildCount(_) | Operand::Position => {
                        Err("a number alone as a predicate is a position; compare it".to_owned())
                    }
                }
            }
        }
    }

    fn op(&mut self) -> Result<Op, String> {
        match self.next() {
            Some(t) => comparison(t.kind).ok_or_else(|| {
                format!(
                    "expected a comparison operator but found {}: arithmetic in a predicate is \
                     not streamable",
                    self.describe(t)
                )
            }),
            None => Err("a comparison operator is missing".to_owned()),
        }
    }

    fn operand(&mut self) -> Result<Operand, String> {
        let function = self
            .name_at(0)
            .filter(|_| self.kind_at(1) == Some(Kind::LParen));
        match function {
            Some("position") => {
                self.next();
                self.next();
                self.consume(Kind::RParen)?;
                if !self.position_ok {
                    return Err(
                        "`position()` is streamable only in a step's first predicate".to_owned(),
                    );
                }
                return Ok(Operand::Position);
            }
            Some("count") => {
                self.next();
                self.next();
                let name = self.child_name()?;
                self.consume(Kind::RParen)?;
                return Ok(Operand::ChildCount(name));
            }
            Some(name) => {
                return Err(format!(
                    "the function `{name}()` in a predicate is not streamable"
                ));
            }
            None => {}
        }
        match self.kind_at(0) {
            Some(Kind::At) => {
                self.next();
                Ok(Operand::Attribute(self.qname()?))
            }
            Some(Kind::Dot) => {
                self.next();
                Ok(Operand::StringValue)
            }
            Some(kind) if is_name(kind) || is_star(kind) => Ok(Operand::Child(self.child_name()?)),
            Some(_) => {
                let token = &self.tokens[self.at];
                Err(format!(
                    "{} in a predicate is not streamable (use `@attribute`, `.`, a child \
                     element's name or `count(name)`)",
                    self.describe(token)
                ))
            }
            None => Err("a predicate is incomplete".to_owned()),
        }
    }

    /// A child element's name, `name` or `child::name`, alone: not followed by a step.
    fn child_name(&mut self) -> Result<QName, String> {
        let name = self.qname()?;
        if self.is(Kind::Slash) || self.is(Kind::DoubleSlash) || self.is(Kind::LBracket) {
            return Err(format!(
                "only a child element's name (`{}`) is streamable in a predicate, not a path \
                 below it",
                name.local
            ));
        }
        Ok(name)
    }

    fn literal(&mut self) -> Result<Literal, String> {
        let token = self.next().map(|t| (t.kind, t.text(self.text)));
        match token {
            Some((Kind::Literal, text)) => Ok(Literal::String(unquoted(text).to_owned())),
            Some((Kind::Number(n), _)) => Ok(Literal::Number(n)),
            Some((Kind::Minus, _)) => match self.kind_at(0) {
                Some(Kind::Number(n)) => {
                    self.next();
                    Ok(Literal::Number(-n))
                }
                _ => Err("only literals can be compared".to_owned()),
            },
            _ => Err("only literals can be compared".to_owned()),
        }
    }

    fn read_query(&mut self) -> Result<ReadQuery, String> {
        if self.name_at(0) == Some("string") && self.kind_at(1) == Some(Kind::LParen) {
            self.next();
            self.next();
            let reader = self.reader()?;
            self.consume(Kind::RParen)?;
            return Ok(ReadQuery {
                reader,
                or_empty: true,
            });
        }
        Ok(ReadQuery {
            reader: self.reader()?,
            or_empty: false,
        })
    }

    fn reader(&mut self) -> Result<Reader, String> {
        if self.is(Kind::DotDot) || self.upward_axis().is_some() {
            return self.upward();
        }
        match self.kind_at(0) {
            Some(Kind::At) => {
                self.next();
                Ok(Reader::Attribute(self.qname()?))
            }
            Some(Kind::Dot) => {
                self.next();
                Ok(Reader::StringValue)
            }
            _ if self.name_at(0) == Some("text") && self.kind_at(1) == Some(Kind::LParen) => {
                self.next();
                self.next();
                self.consume(Kind::RParen)?;
                Ok(Reader::FirstText)
            }
            Some(kind) if is_name(kind) => {
                let child = self.qname()?;
                if self.is(Kind::Slash) {
                    self.next();
                    self.consume(Kind::At)?;
                    Ok(Reader::ChildAttribute(child, self.qname()?))
                } else {
                    Ok(Reader::Child(child))
                }
            }
            Some(_) => {
                let token = &self.tokens[self.at];
                Err(format!("{} is not streamable here", self.describe(token)))
            }
            None => Err("the query is empty".to_owned()),
        }
    }

    /// Whether the query is a path up the ancestors (`../x`, `ancestor::x/y`), or `string()`
    /// of one.
    fn starts_upward(&mut self) -> bool {
        if self.name_at(0) == Some("string") && self.kind_at(1) == Some(Kind::LParen) {
            self.at += 2;
        }
        self.is(Kind::DotDot) || self.upward_axis().is_some()
    }

    /// The upward axis named at the current token, if one is: (`ancestor`, or-self).
    fn upward_axis(&self) -> Option<Option<bool>> {
        if self.kind_at(1) != Some(Kind::DoubleColon) {
            return None;
        }
        match self.name_at(0)? {
            "parent" => Some(None),
            "ancestor" => Some(Some(false)),
            "ancestor-or-self" => Some(Some(true)),
            _ => None,
        }
    }

    /// `../@a`, `../../@a`, `parent::x/@a`, `ancestor::x/@a`, `ancestor-or-self::x/@a`, and
    /// the same with a child element's name instead of `@a` (`../name`, `ancestor::x/name`).
    fn upward(&mut self) -> Result<Reader, String> {
        const ONLY: &str = "an ancestor is streamable only for its attributes (`../@a`, \
                            `ancestor::x/@a`) and the string value of one child element by \
                            name (`../name`, `ancestor::x/name`): its own text is not known \
                            when the element ends";
        let mut upward = Upward {
            parents: Vec::new(),
            ancestors: None,
        };
        let mut document = (false, false);
        loop {
            if self.is(Kind::DotDot) {
                self.next();
                upward.parents.push(NameTest::Any);
                document.0 = true;
            } else if let Some(axis) = self.upward_axis() {
                self.next();
                self.next();
                let node = self.name_at(0) == Some("node");
                let test = self.upward_test()?;
                // `upward_test` reads `node()` (any node, the document too) as `*`.
                let node = node && test == NameTest::Any;
                match axis {
                    None => {
                        upward.parents.push(test);
                        document.0 = node;
                    }
                    Some(or_self) => {
                        upward.ancestors = Some((or_self, test));
                        document.1 = node;
                    }
                }
            } else if self.is(Kind::At) {
                self.next();
                return Ok(Reader::Ancestor(upward, self.qname()?));
            } else if self.child_step_at(0) {
                return self.ancestor_child(upward, document);
            } else {
                return Err(ONLY.to_owned());
            }
            if self.is(Kind::LBracket) {
                return Err("a predicate on an ancestor step is not streamable".to_owned());
            }
            if upward.ancestors.is_some()
                && !(self.is(Kind::Slash)
                    && (self.kind_at(1) == Some(Kind::At) || self.child_step_at(1)))
            {
                return Err(
                    "an `ancestor::` step is streamable only as the last step before `/@a` or \
                     `/name`"
                        .to_owned(),
                );
            }
            match self.next().map(|t| t.kind) {
                Some(Kind::Slash) => {}
                _ => return Err(ONLY.to_owned()),
            }
        }
    }

    /// Whether a child element step (`name`, `p:name`, `*`, `child::name`) stands `offset`
    /// tokens ahead: not another axis, nor a node test.
    fn child_step_at(&self, offset: usize) -> bool {
        let Some(kind) = self.kind_at(offset) else {
            return false;
        };
        if is_star(kind) {
            return true;
        }
        is_name(kind)
            && match self.kind_at(offset + 1) {
                Some(Kind::DoubleColon) => self.name_at(offset) == Some("child"),
                Some(Kind::LParen) => false,
                _ => true,
            }
    }

    /// The child element step after an upward path: one name, and nothing below it.
    fn ancestor_child(&mut self, upward: Upward, document: (bool, bool)) -> Result<Reader, String> {
        let child = match self.name_test()? {
            NameTest::Name(name) => name,
            _ => {
                return Err(
                    "an ancestor's child element is streamable by its name only (`../name`), \
                     not `*`"
                        .to_owned(),
                );
            }
        };
        if self.is(Kind::LBracket) {
            return Err(
                "a predicate on an ancestor's child element is not streamable (`../name` is: \
                 the first such child)"
                    .to_owned(),
            );
        }
        if self.is(Kind::Slash) || self.is(Kind::DoubleSlash) {
            return Err(format!(
                "only one child element step after an ancestor is streamable (`../{}`), not a \
                 path below it",
                child.local
            ));
        }
        Ok(Reader::AncestorChild {
            upward,
            child,
            document,
        })
    }

    /// The name test of an upward step: a name, a wildcard, or `node()` (any ancestor: the
    /// document node above the root has no attributes).
    fn upward_test(&mut self) -> Result<NameTest, String> {
        if self.name_at(0) == Some("node")
            && self.kind_at(1) == Some(Kind::LParen)
            && self.kind_at(2) == Some(Kind::RParen)
        {
            self.at += 3;
            return Ok(NameTest::Any);
        }
        self.name_test()
    }

    fn document_value(&mut self) -> Result<DocumentValue, String> {
        let function = match self.name_at(0) {
            Some(name @ ("count" | "sum")) => name,
            _ => {
                return Err(
                    "only `count(PATH)` and `sum(PATH)` are streamable at document \
                            level"
                        .to_owned(),
                );
            }
        };
        self.next();
        self.consume(Kind::LParen)?;
        let path = self.path()?;
        let attribute = if self.is(Kind::Slash) {
            self.next();
            self.consume(Kind::At)?;
            Some(self.qname()?)
        } else {
            None
        };
        self.consume(Kind::RParen)?;
        Ok(if function == "count" {
            DocumentValue::Count(path, attribute)
        } else {
            DocumentValue::Sum(path, attribute)
        })
    }
}

/// A literal's text without its quotes.
fn unquoted(literal: &str) -> &str {
    literal
        .get(1..literal.len().saturating_sub(1))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespaces() -> BTreeMap<Prefix, String> {
        let mut map = BTreeMap::new();
        map.insert(Prefix::parse("s").expect("valid"), "urn:s".to_owned());
        map
    }

    fn query(text: &str) -> XPathQuery {
        XPathQuery::parse(text).expect("valid XPath")
    }

    fn select(text: &str) -> Result<Path, String> {
        match plan_nodes(&query(text), [], None, &namespaces())? {
            StreamPlan::Nodes { select, .. } => Ok(select),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn name(local: &str) -> NameTest {
        NameTest::Name(QName {
            ns: None,
            local: local.to_owned(),
        })
    }

    fn attr(local: &str) -> QName {
        QName {
            ns: None,
            local: local.to_owned(),
        }
    }

    #[test]
    fn child_and_descendant_paths() {
        let path = select("/store//row").expect("streamable");
        assert_eq!(path.steps.len(), 2);
        assert_eq!(path.steps[0].axis, Axis::Child);
        assert_eq!(path.steps[1].axis, Axis::Descendant);
        assert_eq!(path.steps[1].test, name("row"));
        let path = select("/s:store/s:*").expect("streamable");
        assert_eq!(path.steps[1].test, NameTest::AnyIn("urn:s".to_owned()));
    }

    #[test]
    fn names_are_whole_xml_names_as_sxd_xpath_reads_them() {
        // `·` (U+00B7) and combining marks continue a name: the step is one name, not `a`.
        let path = select("/a\u{B7}b/c\u{300}d[@e\u{B7}f]").expect("streamable");
        assert_eq!(path.steps[0].test, name("a\u{B7}b"));
        assert_eq!(path.steps[1].test, name("c\u{300}d"));
        assert_eq!(
            path.steps[1].predicate,
            Some(Predicate::Exists(attr("e\u{B7}f")))
        );
    }

    #[test]
    fn predicates() {
        let path = select("/store/row[@status != 'deleted' and (@size > 10 or not(@x))][@y]")
            .expect("streamable");
        let expected = Predicate::And(vec![
            Predicate::And(vec![
                Predicate::Compare(
                    Operand::Attribute(attr("status")),
                    Op::Ne,
                    Literal::String("deleted".to_owned()),
                ),
                Predicate::Or(vec![
                    Predicate::Compare(
                        Operand::Attribute(attr("size")),
                        Op::Gt,
                        Literal::Number(10.0),
                    ),
                    Predicate::Not(Box::new(Predicate::Exists(attr("x")))),
                ]),
            ]),
            Predicate::Exists(attr("y")),
        ]);
        assert_eq!(path.steps[1].predicate, Some(expected));
        let path = select("/a/b['5' < .]").expect("streamable");
        assert_eq!(
            path.steps[1].predicate,
            Some(Predicate::Compare(
                Operand::StringValue,
                Op::Gt,
                Literal::String("5".to_owned())
            ))
        );
    }

    #[test]
    fn not_streamable_says_why() {
        for (query, why) in [
            ("store/row", "only absolute paths"),
            ("/store/row[@a][1]", "only in a step's first predicate"),
            (
                "/store/row[@a][position() = 1]",
                "only in a step's first predicate",
            ),
            ("/store/row[@a][1 + 1]", "only in a step's first predicate"),
            ("/store/s:*[2]", "not under `p:*`"),
            ("/store/row[last()]", "`last()`"),
            ("/store/row[x]/y", "only on the last step"),
            ("/store/row[contains(., 'x')]/y", "only on the last step"),
            ("/store/row[../x]", "`../x`"),
            ("/store/row[following-sibling::x]", "following-sibling"),
            ("/store/row[last()]", "not streamable"),
            ("/store/row/..", "axes"),
            ("/store/ancestor::x", "axes"),
            ("/store[. = 'x']/row", "only on the last step"),
            ("/store/row | /store/x", "outside the streamable subset"),
            ("/store/text()", "node test"),
            ("/store/row[@a = @b]/x", "only on the last step"),
        ] {
            let err = select(query).expect_err(query);
            assert!(err.contains(why), "{query}: {err}");
        }
    }

    #[test]
    fn readers() {
        let fields = [
            ("a", "@kind"),
            ("b", "."),
            ("c", "text()"),
            ("d", "s:size"),
            ("e", "child/@id"),
            ("f", "string(@x)"),
        ]
        .map(|(name, text)| (name, query(text)));
        let plan = plan_nodes(
            &query("/a"),
            fields.iter().map(|(name, q)| (*name, q)),
            Some(&query("size")),
            &namespaces(),
        )
        .expect("streamable");
        let StreamPlan::Nodes { fields, value, .. } = plan else {
            panic!("node plan expected")
        };
        let readers: Vec<&Reader> = fields.iter().map(|f| &f.reader).collect();
        assert_eq!(readers[0], &Reader::Attribute(attr("kind")));
        assert_eq!(readers[1], &Reader::StringValue);
        assert_eq!(readers[2], &Reader::FirstText);
        assert_eq!(
            readers[3],
            &Reader::Child(QName {
                ns: Some("urn:s".to_owned()),
                local: "size".to_owned()
            })
        );
        assert_eq!(
            readers[4],
            &Reader::ChildAttribute(attr("child"), attr("id"))
        );
        assert!(fields[5].or_empty);
        assert_eq!(value.map(|v| v.reader), Some(Reader::Child(attr("size"))));
        let reader = |text: &str| {
            plan_nodes(&query("/a"), [("f", &query(text))], None, &namespaces()).map(|plan| {
                match plan {
                    StreamPlan::Nodes { mut fields, .. } => fields.remove(0).reader,
                    other => panic!("{other:?}"),
                }
            })
        };
        // Beyond the direct readers: XPath on the element's buffered subtree.
        for text in [
            "count(x)",
            "@*",
            "ancestor::x[1]/@a",
            "ancestor::x/../@a",
            "x/y",
            "number(@a)",
            "@a + 1",
            "concat(@a, ../@b)",
            "sum(.//x/@n) div count(x)",
        ] {
            assert!(
                matches!(reader(text), Ok(Reader::Expr(_))),
                "{text}: {:?}",
                reader(text)
            );
        }
        // An ancestor's own text is not known when the element ends; of its children, only
        // the string value of the first one with a name streams.
        for (text, why) in [
            ("..", "its own text is not known"),
            ("../..", "its own text is not known"),
            (
                "ancestor::x",
                "only as the last step before `/@a` or `/name`",
            ),
            ("..//x", "its own text is not known"),
            ("../x/y", "not a path below it"),
            ("ancestor::x/y/@a", "not a path below it"),
            ("../x[1]", "a predicate on an ancestor's child element"),
            (
                "../x[@a = 'b']",
                "a predicate on an ancestor's child element",
            ),
            ("../*", "by its name only"),
            ("../s:*", "by its name only"),
            ("../text()", "one child element by name"),
            ("ancestor::x/../y", "only as the last step before"),
            ("preceding::x/@a", "does not keep"),
            ("/a/@x", "an absolute path"),
        ] {
            let got = reader(text);
            let err = got.as_ref().expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn ancestor_child_readers() {
        let reader = |text: &str| {
            let plan = plan_nodes(&query("/a"), [("f", &query(text))], None, &namespaces())
                .unwrap_or_else(|why| panic!("{text}: {why}"));
            let StreamPlan::Nodes { mut fields, .. } = plan else {
                panic!("node plan expected")
            };
            fields.remove(0)
        };
        let up = |parents: Vec<NameTest>, ancestors: Option<(bool, NameTest)>| Upward {
            parents,
            ancestors,
        };
        let child = |upward: Upward, local: &str, document: (bool, bool)| Reader::AncestorChild {
            upward,
            child: attr(local),
            document,
        };
        let read = reader("../name");
        assert_eq!(
            read.reader,
            child(up(vec![NameTest::Any], None), "name", (true, false))
        );
        assert!(!read.or_empty && !read.reader.at_start() && !read.reader.needs_tree());
        assert_eq!(
            reader("../../child::name").reader,
            child(
                up(vec![NameTest::Any, NameTest::Any], None),
                "name",
                (true, false)
            )
        );
        assert_eq!(
            reader("parent::rack/name").reader,
            child(up(vec![name("rack")], None), "name", (false, false))
        );
        // `*` is an element, `node()` any node: the document node above the root too.
        assert_eq!(
            reader("parent::*/name").reader,
            child(up(vec![NameTest::Any], None), "name", (false, false))
        );
        assert_eq!(
            reader("parent::node()/name").reader,
            child(up(vec![NameTest::Any], None), "name", (true, false))
        );
        assert_eq!(
            reader("parent::node/name").reader,
            child(up(vec![name("node")], None), "name", (false, false))
        );
        assert_eq!(
            reader("ancestor::site/name").reader,
            child(
                up(vec![], Some((false, name("site")))),
                "name",
                (false, false)
            )
        );
        assert_eq!(
            reader("../ancestor-or-self::node()/name").reader,
            child(
                up(vec![NameTest::Any], Some((true, NameTest::Any))),
                "name",
                (true, true)
            )
        );
        let read = reader("string(../s:name)");
        assert!(read.or_empty);
        assert_eq!(
            read.reader,
            Reader::AncestorChild {
                upward: up(vec![NameTest::Any], None),
                child: QName {
                    ns: Some("urn:s".to_owned()),
                    local: "name".to_owned()
                },
                document: (true, false),
            }
        );
        // As the value too.
        let plan = plan_nodes(&query("/a"), [], Some(&query("../limit")), &namespaces());
        assert!(
            matches!(
                plan,
                Ok(StreamPlan::Nodes {
                    value: Some(ReadQuery {
                        reader: Reader::AncestorChild { .. },
                        ..
                    }),
                    ..
                })
            ),
            "{plan:?}"
        );
    }

    #[test]
    fn ancestor_readers() {
        let reader = |text: &str| {
            let plan = plan_nodes(&query("/a"), [("f", &query(text))], None, &namespaces())
                .unwrap_or_else(|why| panic!("{text}: {why}"));
            let StreamPlan::Nodes { mut fields, .. } = plan else {
                panic!("node plan expected")
            };
            fields.remove(0).reader
        };
        let up = |parents: Vec<NameTest>, ancestors: Option<(bool, NameTest)>| Upward {
            parents,
            ancestors,
        };
        assert_eq!(
            reader("../@id"),
            Reader::Ancestor(up(vec![NameTest::Any], None), attr("id"))
        );
        assert_eq!(
            reader("../../@id"),
            Reader::Ancestor(up(vec![NameTest::Any, NameTest::Any], None), attr("id"))
        );
        assert_eq!(
            reader("parent::rack/@id"),
            Reader::Ancestor(up(vec![name("rack")], None), attr("id"))
        );
        assert_eq!(
            reader("parent::node()/@id"),
            Reader::Ancestor(up(vec![NameTest::Any], None), attr("id"))
        );
        assert_eq!(
            reader("ancestor::site/@name"),
            Reader::Ancestor(up(vec![], Some((false, name("site")))), attr("name"))
        );
        assert_eq!(
            reader("../ancestor-or-self::s:*/@s:name"),
            Reader::Ancestor(
                up(
                    vec![NameTest::Any],
                    Some((true, NameTest::AnyIn("urn:s".to_owned())))
                ),
                QName {
                    ns: Some("urn:s".to_owned()),
                    local: "name".to_owned()
                }
            )
        );
        let ReadQuery { or_empty, .. } = match plan_nodes(
            &query("/a"),
            [("f", &query("string(../@id)"))],
            None,
            &namespaces(),
        ) {
            Ok(StreamPlan::Nodes { mut fields, .. }) => fields.remove(0),
            other => panic!("{other:?}"),
        };
        assert!(or_empty);
    }

    /// `Upward::read` over names: the elements outermost first, the selected one last.
    #[test]
    fn upward_reads_follow_xpath() {
        let chain = [("site", "s1"), ("site", "s2"), ("rack", "r"), ("row", "w")];
        let read = |upward: &Upward| {
            upward.read(
                &chain,
                |test, (n, _)| match test {
                    NameTest::Name(q) => q.local == *n,
                    _ => true,
                },
                |(_, value)| (*value != "-").then_some(*value),
            )
        };
        let up = |parents: Vec<NameTest>, ancestors: Option<(bool, NameTest)>| Upward {
            parents,
            ancestors,
        };
        assert_eq!(read(&up(vec![NameTest::Any], None)), Some("r"));
        assert_eq!(read(&up(vec![name("rack")], None)), Some("r"));
        assert_eq!(read(&up(vec![name("site")], None)), None);
        // The first in document order: the outermost `site`.
        assert_eq!(read(&up(vec![], Some((false, name("site"))))), Some("s1"));
        assert_eq!(read(&up(vec![], Some((true, name("row"))))), Some("w"));
        assert_eq!(read(&up(vec![], Some((false, name("row"))))), None);
        assert_eq!(
            read(&up(
                vec![NameTest::Any, NameTest::Any],
                Some((true, name("site")))
            )),
            Some("s1")
        );
        // Above the root element is the document node: nothing.
        assert_eq!(read(&up(vec![NameTest::Any; 4], None)), None);
        assert_eq!(read(&up(vec![NameTest::Any; 3], None)), Some("s1"));
    }

    #[test]
    fn child_and_position_predicates() {
        let predicate = |text: &str| {
            select(text)
                .unwrap_or_else(|why| panic!("{text}: {why}"))
                .steps
                .pop()
                .and_then(|step| step.predicate)
                .expect("a predicate")
        };
        assert_eq!(
            predicate("//testcase[failure]"),
            Predicate::HasChild(attr("failure"))
        );
        assert_eq!(
            predicate("//testcase[not(child::skipped)]"),
            Predicate::Not(Box::new(Predicate::HasChild(attr("skipped"))))
        );
        assert_eq!(
            predicate("//t[status = 'ok']"),
            Predicate::Compare(
                Operand::Child(attr("status")),
                Op::Eq,
                Literal::String("ok".to_owned())
            )
        );
        assert_eq!(
            predicate("//t[0 < count(s:x)]"),
            Predicate::Compare(
                Operand::ChildCount(QName {
                    ns: Some("urn:s".to_owned()),
                    local: "x".to_owned()
                }),
                Op::Gt,
                Literal::Number(0.0)
            )
        );
        assert_eq!(
            predicate("/a/b[2]"),
            Predicate::Compare(Operand::Position, Op::Eq, Literal::Number(2.0))
        );
        assert_eq!(
            predicate("/a/*[position() <= 3][@x]"),
            Predicate::And(vec![
                Predicate::Compare(Operand::Position, Op::Le, Literal::Number(3.0)),
                Predicate::Exists(attr("x")),
            ])
        );
        let p = predicate("//t[failure or (count(e) >= 2 and @a)]");
        assert!(p.needs_content() && !p.needs_text() && p.reads_attributes());
        assert_eq!(p.children(), [(attr("failure"), false), (attr("e"), false)]);
        let p = predicate("//t[e = 'x' or count(e) > 1]");
        assert_eq!(p.children(), [(attr("e"), true)]);
        assert!(!predicate("/a/b[2]").needs_content());
        // Positions and child elements on an earlier step.
        assert!(select("/a[2]/b").is_ok());
        assert!(select("/a[x]/b").is_err());
    }

    #[test]
    fn document_values() {
        assert!(matches!(
            plan_document(&query("count(/store/row)"), &namespaces()),
            Ok(StreamPlan::Document(DocumentValue::Count(_, None)))
        ));
        assert!(matches!(
            plan_document(&query("sum(/store/row/@size)"), &namespaces()),
            Ok(StreamPlan::Document(DocumentValue::Sum(_, Some(_))))
        ));
        for text in [
            "count(/a) + 1",
            "/a/@b",
            "not(/a)",
            "count(/a)[1]",
            "sum(/a/b/c/@d/e)",
            // Content predicates wait for the element's end: last step only.
            "count(/a[. = 'x']/b)",
            "count(//a[@k][* != 1]/*)",
            "sum(/a[b]/c/@d)",
        ] {
            assert!(
                plan_document(&query(text), &namespaces()).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn comparisons_follow_xpath() {
        let s = |v: &str| Literal::String(v.to_owned());
        assert!(compare("10", Op::Gt, &s("9")));
        assert!(!compare("10", Op::Gt, &s("abc")));
        assert!(compare("abc", Op::Ne, &Literal::Number(1.0)));
        assert!(compare(" 5 ", Op::Eq, &Literal::Number(5.0)));
        assert!(!compare(" 5 ", Op::Eq, &s("5")));
        assert!(compare("a", Op::Ne, &s("b")));
    }
}
