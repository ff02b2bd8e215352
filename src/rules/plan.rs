//! Streamable: which rules the one-pass streaming engine can run, and their plans.
//!
//! The streaming engine ([`crate::engine::stream`]) evaluates a subset of XPath 1.0 while reading the
//! document once, in memory that does not grow with the input. This module parses a rule's
//! queries, from their tokens ([`crate::rules::xpath`]), into that subset, or says why a rule is
//! not streamable (it then runs on the DOM engine, which stays the reference semantics). The
//! subset:
//!
//! - `select`: an absolute location path of child (`/`) and descendant (`//`) steps, each a name
//!   test (`row`, `s:row`, `*`, `s:*`) with predicates that compare an attribute (`@a`) or, on
//!   the last step, the element's string value (`.`) with a literal (`=`, `!=`, `<`, `<=`, `>`,
//!   `>=`), combined with `and`, `or`, `not()` and parentheses, or test an attribute's presence.
//! - `fields` and `value`: `@a`, `.`, `text()`, a child element `name`, `name/@a`, and
//!   `string(...)` of those.
//! - document-level `value`: `count(PATH)`, `count(PATH/@a)`, `sum(PATH)`, `sum(PATH/@a)`.

use std::collections::BTreeMap;

use crate::model::names::Prefix;
use crate::model::number::xpath_number;
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

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The operator with its operands swapped: `'x' < @a` is `@a > 'x'`.
    fn flipped(self) -> Op {
        match self {
            Op::Eq | Op::Ne => self,
            Op::Lt => Op::Gt,
            Op::Le => Op::Ge,
            Op::Gt => Op::Lt,
            Op::Ge => Op::Le,
        }
    }
}

/// What a predicate compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// An attribute of the element; absent means an empty node-set (every comparison false).
    Attribute(QName),
    /// The element's string value (all descendant text).
    StringValue,
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
    /// `operand op literal`.
    Compare(Operand, Op, Literal),
}

impl Predicate {
    /// Whether evaluating the predicate needs the element's string value (known only at its end).
    pub fn needs_text(&self) -> bool {
        match self {
            Predicate::And(all) | Predicate::Or(all) => all.iter().any(Predicate::needs_text),
            Predicate::Not(inner) => inner.needs_text(),
            Predicate::Exists(_) => false,
            Predicate::Compare(operand, _, _) => *operand == Operand::StringValue,
        }
    }

    /// Evaluates the predicate given a way to read attributes and the string value.
    pub fn eval<'v>(&self, attribute: &dyn Fn(&QName) -> Option<&'v str>, text: &str) -> bool {
        match self {
            Predicate::And(all) => all.iter().all(|p| p.eval(attribute, text)),
            Predicate::Or(all) => all.iter().any(|p| p.eval(attribute, text)),
            Predicate::Not(inner) => !inner.eval(attribute, text),
            Predicate::Exists(name) => attribute(name).is_some(),
            Predicate::Compare(operand, op, literal) => {
                let value = match operand {
                    Operand::Attribute(name) => match attribute(name) {
                        Some(value) => value,
                        // An empty node-set compares false with anything.
                        None => return false,
                    },
                    Operand::StringValue => text,
                };
                compare(value, *op, literal)
            }
        }
    }
}

/// XPath 1.0 comparison of a node's string value with a literal (XPath 1.0 section 3.4):
/// `=` and `!=` compare strings with a string literal and numbers with a number literal;
/// `<`, `<=`, `>`, `>=` always compare numbers.
pub fn compare(value: &str, op: Op, literal: &Literal) -> bool {
    match (op, literal) {
        (Op::Eq, Literal::String(s)) => value == s,
        (Op::Ne, Literal::String(s)) => value != s,
        (op, literal) => {
            let a = xpath_number(value);
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
    for (i, step) in select.steps.iter().enumerate() {
        let last = i + 1 == select.steps.len();
        if !last && step.predicate.as_ref().is_some_and(Predicate::needs_text) {
            return Err(
                "`select`: a predicate on an element's text is streamable only on the \
                        last step"
                    .to_owned(),
            );
        }
    }
    let mut planned = Vec::new();
    for (name, query) in fields {
        let read = Parser::new(query, &ns)
            .whole(|p| p.read_query())
            .map_err(|why| format!("`fields.{name}`: {why}"))?;
        planned.push(read);
    }
    let value = match value {
        Some(query) => Some(
            Parser::new(query, &ns)
                .whole(|p| p.read_query())
                .map_err(|why| format!("`value`: {why}"))?,
        ),
        None => None,
    };
    Ok(StreamPlan::Nodes {
        select,
        fields: planned,
        value,
    })
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
}

impl<'a> Parser<'a> {
    fn new(query: &'a XPathQuery, ns: &'a Namespaces<'a>) -> Parser<'a> {
        Parser {
            text: query.text(),
            tokens: query.tokens(),
            at: 0,
            ns,
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
                predicates.push(self.or_expr()?);
                self.consume(Kind::RBracket)?;
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
        Ok(Path { steps })
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
            (Some(Kind::Number(_)), Some(Kind::RBracket)) => {
                Err("positional predicates such as `[1]` are not streamable".to_owned())
            }
            (Some(Kind::Literal | Kind::Number(_) | Kind::Minus), _) => {
                let literal = self.literal()?;
                let op = self.op()?;
                let operand = self.operand()?;
                Ok(Predicate::Compare(operand, op.flipped(), literal))
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
                    Operand::StringValue => {
                        Err("`[.]` alone is not streamable; compare it".to_owned())
                    }
                }
            }
        }
    }

    fn op(&mut self) -> Result<Op, String> {
        self.next()
            .and_then(|t| comparison(t.kind))
            .ok_or_else(|| "a comparison operator is missing".to_owned())
    }

    fn operand(&mut self) -> Result<Operand, String> {
        match self.next() {
            Some(t) if t.kind == Kind::At => Ok(Operand::Attribute(self.qname()?)),
            Some(t) if t.kind == Kind::Dot => Ok(Operand::StringValue),
            Some(token) => Err(format!(
                "{} in a predicate is not streamable (use `@attribute` or `.`)",
                self.describe(token)
            )),
            None => Err("a predicate is incomplete".to_owned()),
        }
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
            ("/store/row[1]", "positional predicates"),
            ("/store/row[last()]", "not streamable"),
            ("/store/row/..", "axes"),
            ("/store/ancestor::x", "axes"),
            ("/store[. = 'x']/row", "only on the last step"),
            ("/store/row | /store/x", "outside the streamable subset"),
            ("/store/text()", "node test"),
            ("/store/row[@a = @b]", "only literals"),
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
        for text in ["count(x)", "@*", "../@a", "x/y", "number(@a)", "@a + 1"] {
            assert!(
                plan_nodes(&query("/a"), [("f", &query(text))], None, &namespaces()).is_err(),
                "{text}"
            );
        }
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
