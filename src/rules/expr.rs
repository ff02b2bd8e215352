//! XPath expressions as a tree: the whole of XPath 1.0 but variables and `id()`, parsed from the
//! tokens of [`crate::rules::xpath`], and the analysis that says whether the streaming engine can
//! evaluate one with only the selected element's ancestors and subtree at hand.
//!
//! [`parse`] turns a checked [`XPathQuery`] into an [`Expr`], resolving every prefixed name to
//! its namespace URI, checking each function's arity. [`stream_needs`] then says what evaluating
//! it with the selected element as context node reads ([`Needs`]): only names and attributes of
//! the element and its ancestors (known at the start tag), or also the element's subtree (known
//! at its end tag); or why it reads something the streaming engine never keeps, such as a
//! sibling or the text of an ancestor. The evaluator over the buffered subtree is
//! `engine::eval`.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::names::Prefix;
use crate::rules::xpath::{Kind, Token, XPathQuery};

/// The namespace URI that the prefix `xml` is bound to in every XML document (Namespaces in XML
/// section 3); XPath reads `@xml:lang` without a declaration.
pub const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// An XPath 1.0 expression (no variables), names resolved to namespace URIs at parse time.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a or b`
    Or(Box<Expr>, Box<Expr>),
    /// `a and b`
    And(Box<Expr>, Box<Expr>),
    /// `a = b`, `a != b`, `a < b`, `a <= b`, `a > b`, `a >= b`
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `a + b`, `a - b`, `a * b`, `a div b`, `a mod b`
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    /// `-a`
    Neg(Box<Expr>),
    /// `a | b`
    Union(Box<Expr>, Box<Expr>),
    /// A string literal, without its quotes.
    Literal(String),
    /// A number literal.
    Number(f64),
    /// A call of a core function with its arguments.
    Call(Function, Vec<Expr>),
    /// A location path.
    Path(LocationPath),
    /// A primary expression with predicates and location steps after it: `(a | b)[1]/@id`.
    Filter {
        /// The expression filtered: a parenthesised expression, a literal, a number or a call.
        primary: Box<Expr>,
        /// Its predicates, applied in order, positions counted in document order.
        predicates: Vec<Expr>,
        /// Location steps from each node of the filtered node-set (`//` is written out as a
        /// `descendant-or-self::node()` step).
        steps: Vec<Step>,
    },
}

/// A comparison operator (XPath 1.0 section 3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
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

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator with its operands swapped: `a < b` is `b > a`.
    pub fn swapped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            same => same,
        }
    }
}

/// An arithmetic operator (XPath 1.0 section 3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `div`
    Div,
    /// `mod`: the remainder of a truncating division, with the dividend's sign.
    Mod,
}

impl ArithOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "div",
            ArithOp::Mod => "mod",
        }
    }
}

/// A location path: steps from the context node, or from the document node when absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationPath {
    /// Whether the path starts at the document node (`/a`, `//a`, `/`).
    pub absolute: bool,
    /// The steps in order; `//` is written out as a `descendant-or-self::node()` step.
    pub steps: Vec<Step>,
}

/// One location step: `axis::test[predicate]...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Which way the step goes from each context node.
    pub axis: Axis,
    /// Which nodes of the axis it keeps.
    pub test: NodeTest,
    /// Its predicates, applied in order, positions counted along the axis.
    pub predicates: Vec<Expr>,
}

/// The thirteen axes of XPath 1.0 (section 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// `ancestor::`
    Ancestor,
    /// `ancestor-or-self::`
    AncestorOrSelf,
    /// `attribute::`, `@`
    Attribute,
    /// `child::`, the default
    Child,
    /// `descendant::`
    Descendant,
    /// `descendant-or-self::`, `//`
    DescendantOrSelf,
    /// `following::`
    Following,
    /// `following-sibling::`
    FollowingSibling,
    /// `namespace::`
    Namespace,
    /// `parent::`, `..`
    Parent,
    /// `preceding::`
    Preceding,
    /// `preceding-sibling::`
    PrecedingSibling,
    /// `self::`, `.`
    SelfAxis,
}

impl Axis {
    /// Every axis with its name, as written before `::`.
    const NAMES: [(Axis, &'static str); 13] = [
        (Axis::Ancestor, "ancestor"),
        (Axis::AncestorOrSelf, "ancestor-or-self"),
        (Axis::Attribute, "attribute"),
        (Axis::Child, "child"),
        (Axis::Descendant, "descendant"),
        (Axis::DescendantOrSelf, "descendant-or-self"),
        (Axis::Following, "following"),
        (Axis::FollowingSibling, "following-sibling"),
        (Axis::Namespace, "namespace"),
        (Axis::Parent, "parent"),
        (Axis::Preceding, "preceding"),
        (Axis::PrecedingSibling, "preceding-sibling"),
        (Axis::SelfAxis, "self"),
    ];

    /// The axis's name, as written before `::`.
    pub fn name(self) -> &'static str {
        Axis::NAMES
            .iter()
            .find(|(axis, _)| *axis == self)
            .map_or("self", |(_, name)| name)
    }

    /// Whether proximity positions count backwards, in reverse document order (section 2.4).
    pub fn is_reverse(self) -> bool {
        matches!(
            self,
            Axis::Ancestor
                | Axis::AncestorOrSelf
                | Axis::Parent
                | Axis::Preceding
                | Axis::PrecedingSibling
        )
    }
}

/// Which nodes of an axis a step keeps (section 2.3). A name test matches the axis's principal
/// node type: attributes on the attribute axis, elements elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeTest {
    /// `name` or `p:name`: that expanded name (an unprefixed name is in no namespace).
    Name {
        /// The namespace URI, `None` for no namespace.
        ns: Option<String>,
        /// The local part.
        local: String,
    },
    /// `p:*`: any name in that namespace URI.
    AnyIn(String),
    /// `*`: any name.
    Any,
    /// `node()`: any node.
    Node,
    /// `text()`
    Text,
    /// `comment()`
    Comment,
    /// `processing-instruction()`, or with a literal, only that target.
    ProcessingInstruction(Option<String>),
}

/// The XPath 1.0 core functions (section 4) but `id()`, which reads the whole document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `last()`
    Last,
    /// `position()`
    Position,
    /// `count(node-set)`
    Count,
    /// `local-name(node-set?)`
    LocalName,
    /// `namespace-uri(node-set?)`
    NamespaceUri,
    /// `name(node-set?)`
    Name,
    /// `string(object?)`
    String,
    /// `concat(string, string, string*)`
    Concat,
    /// `starts-with(string, string)`
    StartsWith,
    /// `contains(string, string)`
    Contains,
    /// `substring-before(string, string)`
    SubstringBefore,
    /// `substring-after(string, string)`
    SubstringAfter,
    /// `substring(string, number, number?)`
    Substring,
    /// `string-length(string?)`
    StringLength,
    /// `normalize-space(string?)`
    NormalizeSpace,
    /// `translate(string, string, string)`
    Translate,
    /// `boolean(object)`
    Boolean,
    /// `not(boolean)`
    Not,
    /// `true()`
    True,
    /// `false()`
    False,
    /// `lang(string)`
    Lang,
    /// `number(object?)`
    Number,
    /// `sum(node-set)`
    Sum,
    /// `floor(number)`
    Floor,
    /// `ceiling(number)`
    Ceiling,
    /// `round(number)`
    Round,
}

impl Function {
    /// Every function with its name and the least and most arguments it takes (`None`: any).
    const TABLE: [(Function, &'static str, usize, Option<usize>); 26] = [
        (Function::Last, "last", 0, Some(0)),
        (Function::Position, "position", 0, Some(0)),
        (Function::Count, "count", 1, Some(1)),
        (Function::LocalName, "local-name", 0, Some(1)),
        (Function::NamespaceUri, "namespace-uri", 0, Some(1)),
        (Function::Name, "name", 0, Some(1)),
        (Function::String, "string", 0, Some(1)),
        (Function::Concat, "concat", 2, None),
        (Function::StartsWith, "starts-with", 2, Some(2)),
        (Function::Contains, "contains", 2, Some(2)),
        (Function::SubstringBefore, "substring-before", 2, Some(2)),
        (Function::SubstringAfter, "substring-after", 2, Some(2)),
        (Function::Substring, "substring", 2, Some(3)),
        (Function::StringLength, "string-length", 0, Some(1)),
        (Function::NormalizeSpace, "normalize-space", 0, Some(1)),
        (Function::Translate, "translate", 3, Some(3)),
        (Function::Boolean, "boolean", 1, Some(1)),
        (Function::Not, "not", 1, Some(1)),
        (Function::True, "true", 0, Some(0)),
        (Function::False, "false", 0, Some(0)),
        (Function::Lang, "lang", 1, Some(1)),
        (Function::Number, "number", 0, Some(1)),
        (Function::Sum, "sum", 1, Some(1)),
        (Function::Floor, "floor", 1, Some(1)),
        (Function::Ceiling, "ceiling", 1, Some(1)),
        (Function::Round, "round", 1, Some(1)),
    ];

    /// The function's name, as written before `(`.
    pub fn name(self) -> &'static str {
        Function::TABLE
            .iter()
            .find(|(f, ..)| *f == self)
            .map_or("", |(_, name, ..)| name)
    }

    /// The function called `name`, with its least and most arguments.
    fn lookup(name: &str) -> Option<(Function, usize, Option<usize>)> {
        Function::TABLE
            .iter()
            .find(|(_, n, ..)| *n == name)
            .map(|&(f, _, least, most)| (f, least, most))
    }
}

/// Parses a checked query into an expression, resolving prefixes with `namespaces` (and `xml`
/// to [`XML_NAMESPACE`]). Fails for what XPath 1.0 allows but this tree does not hold
/// (variables, `id()`), for a function called with the wrong number of arguments, and for an
/// undeclared prefix.
pub fn parse(query: &XPathQuery, namespaces: &BTreeMap<Prefix, String>) -> Result<Expr, String> {
    let text = query.text();
    let mut parser = Parser {
        text,
        tokens: query.tokens(),
        at: 0,
        namespaces,
    };
    let expr = parser.expr().map_err(|why| format!("`{text}`: {why}"))?;
    if let Some(token) = parser.peek() {
        return Err(format!("`{text}`: unexpected `{}`", token.text(text)));
    }
    if depth(&expr) > MAX_EXPR_DEPTH {
        return Err(format!(
            "`{text}`: operators and predicates nest deeper than {MAX_EXPR_DEPTH} levels; \
             split the expression"
        ));
    }
    Ok(expr)
}

/// Deepest nesting of operators, calls and predicates in an expression. The evaluator and the
/// analysis recurse once per level, and a 4096-byte query could nest about 2,000 (`1+1+…`), more
/// than a thread's stack holds in a debug build; no real rule comes near this.
pub const MAX_EXPR_DEPTH: usize = 256;

/// How deeply `expr` nests: 1 for a literal, number or path without predicates.
fn depth(expr: &Expr) -> usize {
    let steps = |steps: &[Step]| {
        steps
            .iter()
            .flat_map(|s| &s.predicates)
            .map(depth)
            .max()
            .unwrap_or(0)
    };
    1 + match expr {
        Expr::Or(l, r)
        | Expr::And(l, r)
        | Expr::Compare(_, l, r)
        | Expr::Arith(_, l, r)
        | Expr::Union(l, r) => depth(l).max(depth(r)),
        Expr::Neg(inner) => depth(inner),
        Expr::Literal(_) | Expr::Number(_) => 0,
        Expr::Call(_, args) => args.iter().map(depth).max().unwrap_or(0),
        Expr::Path(path) => steps(&path.steps),
        Expr::Filter {
            primary,
            predicates,
            steps: after,
        } => depth(primary)
            .max(predicates.iter().map(depth).max().unwrap_or(0))
            .max(steps(after)),
    }
}

/// A recursive-descent parser over a query's tokens, one function per grammar rule of XPath 1.0
/// section 3. The query's nesting is bounded by [`XPathQuery::parse`], so the recursion is too.
struct Parser<'q> {
    text: &'q str,
    tokens: &'q [Token],
    at: usize,
    namespaces: &'q BTreeMap<Prefix, String>,
}

impl<'q> Parser<'q> {
    fn peek(&self) -> Option<&'q Token> {
        self.tokens.get(self.at)
    }

    fn peek_kind(&self, ahead: usize) -> Option<Kind> {
        self.tokens.get(self.at + ahead).map(|t| t.kind)
    }

    fn token_text(&self, ahead: usize) -> &'q str {
        self.tokens
            .get(self.at + ahead)
            .map_or("", |t| t.text(self.text))
    }

    /// Whether the next token is the operator name `name`.
    fn at_operator(&self, name: &str) -> bool {
        self.peek_kind(0) == Some(Kind::OperatorName) && self.token_text(0) == name
    }

    fn eat(&mut self, kind: Kind) -> bool {
        if self.peek_kind(0) == Some(kind) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, kind: Kind, what: &str) -> Result<(), String> {
        if self.eat(kind) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// The error for the next token, where `what` was expected.
    fn unexpected(&self, what: &str) -> String {
        match self.peek() {
            Some(token) => format!("expected {what}, found `{}`", token.text(self.text)),
            None => format!("expected {what} at the end"),
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and_expr()?;
        while self.at_operator("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.equality()?;
        while self.at_operator("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.equality()?));
        }
        Ok(left)
    }

    fn equality(&mut self) -> Result<Expr, String> {
        let mut left = self.relational()?;
        loop {
            let op = match self.peek_kind(0) {
                Some(Kind::Eq) => CmpOp::Eq,
                Some(Kind::Ne) => CmpOp::Ne,
                _ => return Ok(left),
            };
            self.at += 1;
            left = Expr::Compare(op, Box::new(left), Box::new(self.relational()?));
        }
    }

    fn relational(&mut self) -> Result<Expr, String> {
        let mut left = self.additive()?;
        loop {
            let op = match self.peek_kind(0) {
                Some(Kind::Lt) => CmpOp::Lt,
                Some(Kind::Le) => CmpOp::Le,
                Some(Kind::Gt) => CmpOp::Gt,
                Some(Kind::Ge) => CmpOp::Ge,
                _ => return Ok(left),
            };
            self.at += 1;
            left = Expr::Compare(op, Box::new(left), Box::new(self.additive()?));
        }
    }

    fn additive(&mut self) -> Result<Expr, String> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek_kind(0) {
                Some(Kind::Plus) => ArithOp::Add,
                Some(Kind::Minus) => ArithOp::Sub,
                _ => return Ok(left),
            };
            self.at += 1;
            left = Expr::Arith(op, Box::new(left), Box::new(self.multiplicative()?));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            let op = if self.peek_kind(0) == Some(Kind::Multiply) {
                ArithOp::Mul
            } else if self.at_operator("div") {
                ArithOp::Div
            } else if self.at_operator("mod") {
                ArithOp::Mod
            } else {
                return Ok(left);
            };
            self.at += 1;
            left = Expr::Arith(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat(Kind::Minus) {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.union()
    }

    fn union(&mut self) -> Result<Expr, String> {
        let mut left = self.path_expr()?;
        while self.eat(Kind::Pipe) {
            left = Expr::Union(Box::new(left), Box::new(self.path_expr()?));
        }
        Ok(left)
    }

    /// Whether the next tokens start a filter expression rather than a location path: a
    /// parenthesis, literal, number, variable, or a name before `(` that is no node type.
    fn at_primary(&self) -> bool {
        match self.peek_kind(0) {
            Some(Kind::LParen | Kind::Literal | Kind::Number(_) | Kind::Dollar) => true,
            Some(Kind::Name | Kind::OperatorName) => {
                let call =
                    self.peek_kind(1) == Some(Kind::LParen) && !is_node_type(self.token_text(0));
                let prefixed_call = self.peek_kind(1) == Some(Kind::Colon)
                    && matches!(self.peek_kind(2), Some(Kind::Name | Kind::OperatorName))
                    && self.peek_kind(3) == Some(Kind::LParen);
                call || prefixed_call
            }
            _ => false,
        }
    }

    fn path_expr(&mut self) -> Result<Expr, String> {
        if !self.at_primary() {
            return self.location_path().map(Expr::Path);
        }
        let primary = self.primary()?;
        let predicates = self.predicates()?;
        let mut steps = Vec::new();
        self.more_steps(&mut steps)?;
        if predicates.is_empty() && steps.is_empty() {
            return Ok(primary);
        }
        Ok(Expr::Filter {
            primary: Box::new(primary),
            predicates,
            steps,
        })
    }

    /// `/step` and `//step` after a first step or a filter expression.
    fn more_steps(&mut self, steps: &mut Vec<Step>) -> Result<(), String> {
        loop {
            if self.eat(Kind::Slash) {
                steps.push(self.step()?);
            } else if self.eat(Kind::DoubleSlash) {
                steps.push(descendant_or_self());
                steps.push(self.step()?);
            } else {
                return Ok(());
            }
        }
    }

    fn location_path(&mut self) -> Result<LocationPath, String> {
        let mut steps = Vec::new();
        let absolute = match self.peek_kind(0) {
            Some(Kind::Slash) => {
                self.at += 1;
                if !self.at_step() {
                    return Ok(LocationPath {
                        absolute: true,
                        steps,
                    });
                }
                true
            }
            Some(Kind::DoubleSlash) => {
                self.at += 1;
                steps.push(descendant_or_self());
                true
            }
            _ => false,
        };
        steps.push(self.step()?);
        self.more_steps(&mut steps)?;
        Ok(LocationPath { absolute, steps })
    }

    /// Whether the next token can start a step.
    fn at_step(&self) -> bool {
        matches!(
            self.peek_kind(0),
            Some(
                Kind::Name | Kind::OperatorName | Kind::Star | Kind::At | Kind::Dot | Kind::DotDot
            )
        )
    }

    fn step(&mut self) -> Result<Step, String> {
        // XPath 1.0 allows no predicate after `.` or `..`; sxd-xpath, which the DOM engine
        // uses, does (`.[1]`, as XPath 2.0), so this parser does too.
        for (kind, axis) in [(Kind::Dot, Axis::SelfAxis), (Kind::DotDot, Axis::Parent)] {
            if self.eat(kind) {
                return Ok(Step {
                    axis,
                    test: NodeTest::Node,
                    predicates: self.predicates()?,
                });
            }
        }
        let axis = if self.eat(Kind::At) {
            Axis::Attribute
        } else if self.peek_kind(1) == Some(Kind::DoubleColon) {
            let name = self.token_text(0);
            let axis = Axis::NAMES
                .iter()
                .find(|(_, n)| *n == name)
                .map(|(axis, _)| *axis)
                .ok_or_else(|| format!("`{name}` is not an XPath axis"))?;
            self.at += 2;
            axis
        } else {
            Axis::Child
        };
        let test = self.node_test()?;
        let predicates = self.predicates()?;
        Ok(Step {
            axis,
            test,
            predicates,
        })
    }

    fn node_test(&mut self) -> Result<NodeTest, String> {
        if self.eat(Kind::Star) {
            return Ok(NodeTest::Any);
        }
        if !matches!(self.peek_kind(0), Some(Kind::Name | Kind::OperatorName)) {
            return Err(self.unexpected("a node test"));
        }
        let name = self.token_text(0);
        if self.peek_kind(1) == Some(Kind::LParen) && is_node_type(name) {
            self.at += 2;
            let test = match name {
                "node" => NodeTest::Node,
                "text" => NodeTest::Text,
                "comment" => NodeTest::Comment,
                _ => {
                    if self.peek_kind(0) == Some(Kind::Literal) {
                        let target = unquote(self.token_text(0)).to_owned();
                        self.at += 1;
                        NodeTest::ProcessingInstruction(Some(target))
                    } else {
                        NodeTest::ProcessingInstruction(None)
                    }
                }
            };
            self.expect(Kind::RParen, "`)`")?;
            return Ok(test);
        }
        self.at += 1;
        if self.peek_kind(0) != Some(Kind::Colon) {
            return Ok(NodeTest::Name {
                ns: None,
                local: name.to_owned(),
            });
        }
        self.at += 1;
        let uri = self.namespace(name)?;
        if self.eat(Kind::Star) {
            return Ok(NodeTest::AnyIn(uri));
        }
        if !matches!(self.peek_kind(0), Some(Kind::Name | Kind::OperatorName)) {
            return Err(self.unexpected("a local name"));
        }
        let local = self.token_text(0).to_owned();
        self.at += 1;
        Ok(NodeTest::Name {
            ns: Some(uri),
            local,
        })
    }

    /// The namespace URI of `prefix`.
    fn namespace(&self, prefix: &str) -> Result<String, String> {
        if prefix == "xml" {
            return Ok(XML_NAMESPACE.to_owned());
        }
        self.namespaces
            .iter()
            .find(|(p, _)| p.as_str() == prefix)
            .map(|(_, uri)| uri.clone())
            .ok_or_else(|| format!("the prefix `{prefix}` is not declared in `namespaces:`"))
    }

    fn predicates(&mut self) -> Result<Vec<Expr>, String> {
        let mut predicates = Vec::new();
        while self.eat(Kind::LBracket) {
            predicates.push(self.expr()?);
            self.expect(Kind::RBracket, "`]`")?;
        }
        Ok(predicates)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let Some(token) = self.peek() else {
            return Err(self.unexpected("an expression"));
        };
        match token.kind {
            Kind::LParen => {
                self.at += 1;
                let inner = self.expr()?;
                self.expect(Kind::RParen, "`)`")?;
                Ok(inner)
            }
            Kind::Literal => {
                self.at += 1;
                Ok(Expr::Literal(unquote(token.text(self.text)).to_owned()))
            }
            Kind::Number(value) => {
                self.at += 1;
                Ok(Expr::Number(value))
            }
            Kind::Dollar => Err(format!(
                "variables such as `${}` are not supported; write the value itself",
                self.token_text(1)
            )),
            _ => self.call(),
        }
    }

    fn call(&mut self) -> Result<Expr, String> {
        let name = self.token_text(0);
        if self.peek_kind(1) == Some(Kind::Colon) {
            return Err(format!(
                "`{name}:{}()` is not an XPath 1.0 function",
                self.token_text(2)
            ));
        }
        if name == "id" {
            return Err(
                "`id()` is not streamable: it looks up elements anywhere in the document"
                    .to_owned(),
            );
        }
        let (function, least, most) = Function::lookup(name)
            .ok_or_else(|| format!("`{name}()` is not an XPath 1.0 function"))?;
        self.at += 2;
        let mut args = Vec::new();
        if !self.eat(Kind::RParen) {
            loop {
                args.push(self.expr()?);
                if self.eat(Kind::RParen) {
                    break;
                }
                self.expect(Kind::Comma, "`,` or `)`")?;
            }
        }
        let fits = args.len() >= least && most.is_none_or(|most| args.len() <= most);
        if !fits {
            let takes = match most {
                None => format!("at least {least} arguments"),
                Some(most) if most == least => match least {
                    0 => "no arguments".to_owned(),
                    1 => "1 argument".to_owned(),
                    n => format!("{n} arguments"),
                },
                Some(most) => format!("{least} to {most} arguments"),
            };
            return Err(format!("`{name}()` takes {takes}, not {}", args.len()));
        }
        Ok(Expr::Call(function, args))
    }
}

/// Whether `name` before `(` is a node type test rather than a function.
fn is_node_type(name: &str) -> bool {
    matches!(name, "node" | "text" | "comment" | "processing-instruction")
}

/// Whether `expr`'s value is always a boolean.
fn is_boolean(expr: &Expr) -> bool {
    use Function as F;
    match expr {
        Expr::Or(..) | Expr::And(..) | Expr::Compare(..) => true,
        Expr::Call(function, _) => matches!(
            function,
            F::Boolean | F::Not | F::True | F::False | F::Lang | F::StartsWith | F::Contains
        ),
        _ => false,
    }
}

/// A literal token's text without its quotes.
fn unquote(literal: &str) -> &str {
    literal
        .get(1..literal.len().saturating_sub(1))
        .unwrap_or_default()
}

/// The step `//` stands for.
fn descendant_or_self() -> Step {
    Step {
        axis: Axis::DescendantOrSelf,
        test: NodeTest::Node,
        predicates: Vec::new(),
    }
}

/// Binding strength of an expression when written, for parentheses: higher binds tighter.
fn precedence(expr: &Expr) -> u8 {
    match expr {
        Expr::Or(..) => 1,
        Expr::And(..) => 2,
        Expr::Compare(CmpOp::Eq | CmpOp::Ne, ..) => 3,
        Expr::Compare(..) => 4,
        Expr::Arith(ArithOp::Add | ArithOp::Sub, ..) => 5,
        Expr::Arith(..) => 6,
        Expr::Neg(_) => 7,
        Expr::Union(..) => 8,
        Expr::Path(_) | Expr::Filter { .. } => 9,
        Expr::Literal(_) | Expr::Number(_) | Expr::Call(..) => 10,
    }
}

/// Writes `expr`, in parentheses when it binds looser than `least`.
fn write_at(f: &mut fmt::Formatter<'_>, expr: &Expr, least: u8) -> fmt::Result {
    if precedence(expr) < least {
        write!(f, "({expr})")
    } else {
        write!(f, "{expr}")
    }
}

/// The expression in XPath syntax, abbreviated where XPath allows (`@a`, `..`, `//`, no
/// `child::`), with the fewest parentheses; parsing it gives the same expression back. A name
/// in a namespace is written `Q{uri}local`, as XPath 3.0 writes an expanded name, since the
/// prefix is gone.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mine = precedence(self);
        let binary = |f: &mut fmt::Formatter<'_>, l: &Expr, op: &str, r: &Expr| {
            write_at(f, l, mine)?;
            write!(f, " {op} ")?;
            write_at(f, r, mine + 1)
        };
        match self {
            Expr::Or(l, r) => binary(f, l, "or", r),
            Expr::And(l, r) => binary(f, l, "and", r),
            Expr::Compare(op, l, r) => binary(f, l, op.as_str(), r),
            Expr::Arith(op, l, r) => binary(f, l, op.as_str(), r),
            Expr::Union(l, r) => {
                write_at(f, l, mine)?;
                f.write_str(" | ")?;
                write_at(f, r, mine + 1)
            }
            Expr::Neg(inner) => {
                f.write_str("-")?;
                write_at(f, inner, mine)
            }
            Expr::Literal(s) if s.contains('\'') => write!(f, "\"{s}\""),
            Expr::Literal(s) => write!(f, "'{s}'"),
            Expr::Number(n) if n.is_finite() => f.write_str(&sxd_xpath::num_to_str(*n)),
            Expr::Number(n) if n.is_nan() => f.write_str("(0 div 0)"),
            Expr::Number(n) if *n < 0.0 => f.write_str("(-1 div 0)"),
            Expr::Number(_) => f.write_str("(1 div 0)"),
            Expr::Call(function, args) => {
                write!(f, "{}(", function.name())?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
            Expr::Path(path) => write!(f, "{path}"),
            Expr::Filter {
                primary,
                predicates,
                steps,
            } => {
                write_at(f, primary, 10)?;
                for predicate in predicates {
                    write!(f, "[{predicate}]")?;
                }
                write_steps(f, steps, true)
            }
        }
    }
}

/// Writes steps, each after a `/` when `after` is true, else the first without one; a
/// `descendant-or-self::node()` between two steps becomes `//`.
fn write_steps(f: &mut fmt::Formatter<'_>, steps: &[Step], mut after: bool) -> fmt::Result {
    let mut i = 0;
    while let Some(step) = steps.get(i) {
        let abbreviated = after && *step == descendant_or_self() && i + 1 < steps.len();
        if abbreviated {
            f.write_str("//")?;
            i += 1;
            after = false;
            continue;
        }
        if after {
            f.write_str("/")?;
        }
        write!(f, "{step}")?;
        after = true;
        i += 1;
    }
    Ok(())
}

impl fmt::Display for LocationPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.absolute && self.steps.is_empty() {
            return f.write_str("/");
        }
        write_steps(f, &self.steps, self.absolute)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.axis, &self.test, self.predicates.is_empty()) {
            (Axis::SelfAxis, NodeTest::Node, true) => return f.write_str("."),
            (Axis::Parent, NodeTest::Node, true) => return f.write_str(".."),
            (Axis::Child, _, _) => {}
            (Axis::Attribute, _, _) => f.write_str("@")?,
            (axis, _, _) => write!(f, "{}::", axis.name())?,
        }
        write!(f, "{}", self.test)?;
        for predicate in &self.predicates {
            write!(f, "[{predicate}]")?;
        }
        Ok(())
    }
}

impl fmt::Display for NodeTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeTest::Name { ns: None, local } => f.write_str(local),
            NodeTest::Name {
                ns: Some(ns),
                local,
            } => write!(f, "Q{{{ns}}}{local}"),
            NodeTest::AnyIn(ns) => write!(f, "Q{{{ns}}}*"),
            NodeTest::Any => f.write_str("*"),
            NodeTest::Node => f.write_str("node()"),
            NodeTest::Text => f.write_str("text()"),
            NodeTest::Comment => f.write_str("comment()"),
            NodeTest::ProcessingInstruction(None) => f.write_str("processing-instruction()"),
            NodeTest::ProcessingInstruction(Some(target)) => {
                write!(f, "processing-instruction('{target}')")
            }
        }
    }
}

/// What evaluating an expression with the selected element as context node reads, when only
/// the element's ancestors (names and attributes, not their other children or their string
/// value) and the element's own subtree are known: the answer of [`stream_needs`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// It reads below the element (children, descendants, text, the element's string value):
    /// it can be evaluated only at the element's end tag, on the buffered subtree. When false it
    /// reads only names and attributes of the element and its ancestors (known at the start tag).
    pub subtree: bool,
    /// It uses `position()` of the *context* (top level, not inside a step predicate).
    pub position: bool,
    /// It uses `last()` of the *context* (top level, not inside a step predicate).
    pub last: bool,
}

/// What evaluating `expr` with the selected element as context node reads, when only the
/// element's ancestors (names and attributes, not their other children or their string value)
/// and the element's own subtree are known; `Err` says, for a user, why it is not streamable.
///
/// A node-set result counts as read through its string value, as a rule's field or value reads
/// it: `..` alone is refused, `boolean(..)` is not.
pub fn stream_needs(expr: &Expr) -> Result<Needs, String> {
    let mut needs = Needs::default();
    let mut analysis = Analysis {
        needs: &mut needs,
        top: true,
    };
    if let Shape::Nodes(place) = analysis.value(expr, Place::ELEMENT)? {
        analysis.string_value(place, expr)?;
    }
    Ok(needs)
}

/// Where the nodes of a node-set may be, relative to the selected element: which kinds of node
/// it may hold. Each flag says what may be read of those nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Place {
    /// The selected element itself: its name and attributes are known at its start tag, its
    /// children and string value at its end tag.
    element: bool,
    /// Its ancestors or the document node: names and attributes only.
    above: bool,
    /// Attributes of the selected element: everything (a value, a name), at the start tag.
    own_attributes: bool,
    /// Attributes of its ancestors: everything, at the start tag.
    above_attributes: bool,
    /// Nodes in its subtree, below it, and their attributes: everything, at the end tag.
    below: bool,
}

impl Place {
    const ELEMENT: Place = Place {
        element: true,
        above: false,
        own_attributes: false,
        above_attributes: false,
        below: false,
    };

    /// Whether it holds no element (nor the document node).
    fn is_empty_of_nodes(self) -> bool {
        !(self.element || self.above || self.below)
    }

    fn or(self, other: Place) -> Place {
        Place {
            element: self.element || other.element,
            above: self.above || other.above,
            own_attributes: self.own_attributes || other.own_attributes,
            above_attributes: self.above_attributes || other.above_attributes,
            below: self.below || other.below,
        }
    }
}

/// What an expression's value is, for [`stream_needs`]: a node-set (where its nodes are), or
/// a string, number or boolean (already computed from what may be read).
#[derive(Debug, Clone, Copy)]
enum Shape {
    Nodes(Place),
    Scalar,
}

/// The walk of [`stream_needs`]: `top` is false inside a step's or a filter's predicate, where
/// `position()` and `last()` are counted along the step, not the context's.
struct Analysis<'n> {
    needs: &'n mut Needs,
    top: bool,
}

impl Analysis<'_> {
    /// The shape of `expr`'s value with a context node at `context`, checking that nothing it
    /// reads is unknown.
    fn value(&mut self, expr: &Expr, context: Place) -> Result<Shape, String> {
        match expr {
            Expr::Or(l, r) | Expr::And(l, r) => {
                self.boolean(l, context)?;
                self.boolean(r, context)?;
                Ok(Shape::Scalar)
            }
            // A node-set compared with a boolean is converted to a boolean (section 3.4).
            Expr::Compare(_, l, r) if is_boolean(l) || is_boolean(r) => {
                self.boolean(l, context)?;
                self.boolean(r, context)?;
                Ok(Shape::Scalar)
            }
            Expr::Compare(_, l, r) | Expr::Arith(_, l, r) => {
                self.string(l, context)?;
                self.string(r, context)?;
                Ok(Shape::Scalar)
            }
            Expr::Neg(inner) => {
                self.string(inner, context)?;
                Ok(Shape::Scalar)
            }
            Expr::Union(l, r) => {
                let l = self.nodes(l, context)?;
                let r = self.nodes(r, context)?;
                Ok(Shape::Nodes(l.or(r)))
            }
            Expr::Literal(_) | Expr::Number(_) => Ok(Shape::Scalar),
            Expr::Call(function, args) => self.call(expr, *function, args, context),
            Expr::Path(path) => {
                if path.absolute {
                    return Err(format!(
                        "`{path}`: an absolute path reads the whole document, but only the \
                         selected element's ancestors and subtree are known; start from the \
                         element (`.`, `..`, `ancestor::`)"
                    ));
                }
                self.steps(&path.steps, context, &path.to_string())
                    .map(Shape::Nodes)
            }
            Expr::Filter {
                primary,
                predicates,
                steps,
            } => {
                let place = self.nodes(primary, context)?;
                self.predicates(predicates, place)?;
                self.steps(steps, place, &expr.to_string())
                    .map(Shape::Nodes)
            }
        }
    }

    /// `expr`, whose value is a node-set: where its nodes are.
    fn nodes(&mut self, expr: &Expr, context: Place) -> Result<Place, String> {
        match self.value(expr, context)? {
            Shape::Nodes(place) => Ok(place),
            Shape::Scalar => Ok(Place::default()),
        }
    }

    /// `expr` converted to a boolean: a node-set is tested only for being empty.
    fn boolean(&mut self, expr: &Expr, context: Place) -> Result<(), String> {
        let place = self.nodes(expr, context)?;
        self.existence(place);
        Ok(())
    }

    /// Whether nodes at `place` exist: known at the start tag unless they are below.
    fn existence(&mut self, place: Place) {
        if place.below {
            self.needs.subtree = true;
        }
    }

    /// `expr` converted to a string or a number: a node-set by the string value of a node.
    fn string(&mut self, expr: &Expr, context: Place) -> Result<(), String> {
        let place = self.nodes(expr, context)?;
        self.string_value(place, expr)
    }

    /// Reading the string value of nodes at `place`, which `expr` selected.
    fn string_value(&mut self, place: Place, expr: &dyn fmt::Display) -> Result<(), String> {
        if place.above {
            return Err(format!(
                "`{expr}`: the text of an ancestor is not known when the element ends; \
                 read its attributes instead"
            ));
        }
        if place.element || place.below {
            self.needs.subtree = true;
        }
        Ok(())
    }

    /// Reading the names of nodes at `place` (`name()`, `local-name()`, `namespace-uri()`).
    fn name(&mut self, place: Place) {
        self.existence(place);
    }

    fn call(
        &mut self,
        expr: &Expr,
        function: Function,
        args: &[Expr],
        context: Place,
    ) -> Result<Shape, String> {
        use Function as F;
        match function {
            F::Last | F::Position => {
                if self.top {
                    if function == F::Last {
                        self.needs.last = true;
                    } else {
                        self.needs.position = true;
                    }
                }
            }
            F::Count | F::Boolean | F::Not => {
                for arg in args {
                    self.boolean(arg, context)?;
                }
            }
            F::LocalName | F::NamespaceUri | F::Name => match args.first() {
                Some(arg) => {
                    let place = self.nodes(arg, context)?;
                    self.name(place);
                }
                None => self.name(context),
            },
            F::String | F::StringLength | F::NormalizeSpace | F::Number if args.is_empty() => {
                self.string_value(context, expr)?;
            }
            F::Lang => {
                // The `xml:lang` attributes of the context node and its ancestors.
                for arg in args {
                    self.string(arg, context)?;
                }
                if context.below {
                    self.needs.subtree = true;
                }
            }
            _ => {
                for arg in args {
                    self.string(arg, context)?;
                }
            }
        }
        Ok(Shape::Scalar)
    }

    /// Predicates of a step or filter whose nodes are at `place`: each is evaluated with one of
    /// those nodes as context, positions counted along the step.
    fn predicates(&mut self, predicates: &[Expr], place: Place) -> Result<(), String> {
        let top = std::mem::replace(&mut self.top, false);
        let result = predicates.iter().try_for_each(|predicate| {
            let shape = self.value(predicate, place)?;
            if let Shape::Nodes(nodes) = shape {
                self.existence(nodes);
            }
            Ok(())
        });
        self.top = top;
        result
    }

    /// Location steps from a context at `context`: where the nodes they select are. `path` is
    /// the whole path, for messages.
    fn steps(&mut self, steps: &[Step], context: Place, path: &str) -> Result<Place, String> {
        let mut place = context;
        for step in steps {
            place = self.step(step, place, path)?;
            self.predicates(&step.predicates, place)?;
        }
        Ok(place)
    }

    fn step(&mut self, step: &Step, from: Place, path: &str) -> Result<Place, String> {
        let to = match step.axis {
            Axis::SelfAxis => from,
            Axis::Attribute => Place {
                own_attributes: from.element,
                above_attributes: from.above,
                below: from.below,
                ..Place::default()
            },
            Axis::Child | Axis::Descendant | Axis::DescendantOrSelf => {
                if from.above {
                    return Err(format!(
                        "`{path}`: a child of an ancestor is not known when the element \
                         ends; only the ancestors' names and attributes are"
                    ));
                }
                let mut to = Place::default();
                if from.element || from.below {
                    to.below = true;
                    self.needs.subtree = true;
                }
                if step.axis == Axis::DescendantOrSelf {
                    // An attribute is its own only descendant-or-self.
                    to = to.or(Place {
                        below: false,
                        ..from
                    });
                }
                to
            }
            Axis::Parent | Axis::Ancestor | Axis::AncestorOrSelf => {
                let parent = Place {
                    element: from.own_attributes || from.below,
                    above: from.element || from.above || from.above_attributes,
                    below: from.below,
                    ..Place::default()
                };
                let mut to = parent;
                if step.axis != Axis::Parent {
                    // Above the parents: the selected element's ancestors, from anywhere.
                    to.above |= !parent.is_empty_of_nodes();
                }
                if step.axis == Axis::AncestorOrSelf {
                    to = to.or(from);
                }
                to
            }
            Axis::FollowingSibling | Axis::PrecedingSibling | Axis::Following | Axis::Preceding => {
                return Err(format!(
                    "`{path}`: the `{}::` axis reads the element's siblings or the rest of \
                     the document, which the streaming engine does not keep",
                    step.axis.name()
                ));
            }
            Axis::Namespace => {
                return Err(format!(
                    "`{path}`: the `namespace::` axis is not supported by the streaming engine"
                ));
            }
        };
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespaces() -> BTreeMap<Prefix, String> {
        let mut map = BTreeMap::new();
        map.insert(Prefix::parse("s").expect("valid"), "urn:s".to_owned());
        map
    }

    fn expr(text: &str) -> Expr {
        let query = XPathQuery::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        parse(&query, &namespaces()).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn parse_err(text: &str) -> String {
        match XPathQuery::parse(text) {
            Err(e) => e,
            Ok(query) => match parse(&query, &namespaces()) {
                Err(e) => e,
                Ok(e) => panic!("{text} parsed as {e:?}"),
            },
        }
    }

    /// Parses `text`, checks that it is written back as `shown` and that `shown` parses to the
    /// same expression.
    fn round_trip(text: &str, shown: &str) {
        let parsed = expr(text);
        assert_eq!(parsed.to_string(), shown, "{text}");
        assert_eq!(expr(shown), parsed, "{shown}");
    }

    #[test]
    fn every_construct_round_trips() {
        for (text, shown) in [
            ("a", "a"),
            ("child::a", "a"),
            ("a/b", "a/b"),
            ("a//b", "a//b"),
            ("a/descendant-or-self::node()/b", "a//b"),
            ("descendant-or-self::node()", "descendant-or-self::node()"),
            (
                "a/descendant-or-self::node()",
                "a/descendant-or-self::node()",
            ),
            ("/", "/"),
            ("/a", "/a"),
            ("//a", "//a"),
            ("/descendant-or-self::node()/a", "//a"),
            (".", "."),
            ("self::node()", "."),
            ("..", ".."),
            ("parent::node()", ".."),
            ("../@id", "../@id"),
            ("./a", "./a"),
            ("@id", "@id"),
            ("attribute::id", "@id"),
            ("@*", "@*"),
            ("*", "*"),
            ("s:*", "Q{urn:s}*"),
            ("ancestor::site", "ancestor::site"),
            ("ancestor-or-self::*", "ancestor-or-self::*"),
            ("descendant::a", "descendant::a"),
            ("following::a", "following::a"),
            ("following-sibling::a", "following-sibling::a"),
            ("preceding::a", "preceding::a"),
            ("preceding-sibling::a", "preceding-sibling::a"),
            ("namespace::*", "namespace::*"),
            ("self::a", "self::a"),
            ("parent::a", "parent::a"),
            ("text()", "text()"),
            ("comment()", "comment()"),
            ("node()", "node()"),
            ("processing-instruction()", "processing-instruction()"),
            ("processing-instruction('x')", "processing-instruction('x')"),
            ("a[1]", "a[1]"),
            ("a[@k='v'][2]", "a[@k = 'v'][2]"),
            ("ancestor::*[2]/@id", "ancestor::*[2]/@id"),
            ("self::node()[1]", "self::node()[1]"),
            (".[1]", "self::node()[1]"),
            ("..[@id]", "parent::node()[@id]"),
            ("\"it's\"", "\"it's\""),
            ("1.5", "1.5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-1", "-1"),
            ("--1", "--1"),
            ("1 - -1", "1 - -1"),
            ("a | b | c", "a | b | c"),
            ("(a | b)[1]", "(a | b)[1]"),
            ("(a)[1]/@id", "(a)[1]/@id"),
            ("(a)//b", "(a)//b"),
            ("count(a)", "count(a)"),
            ("concat('a', b, 'c')", "concat('a', b, 'c')"),
            ("1 + 2 * 3", "1 + 2 * 3"),
            ("(1 + 2) * 3", "(1 + 2) * 3"),
            ("1 - (2 - 3)", "1 - (2 - 3)"),
            ("1 - 2 - 3", "1 - 2 - 3"),
            ("a or b and c", "a or b and c"),
            ("(a or b) and c", "(a or b) and c"),
            ("a = b != c", "a = b != c"),
            ("a < b <= c > d >= e", "a < b <= c > d >= e"),
            ("a = (b < c)", "a = b < c"),
            ("(a = b) < c", "(a = b) < c"),
            ("-(1 + 2)", "-(1 + 2)"),
            ("-a | b", "-a | b"),
            ("6 div 2 mod 4", "6 div 2 mod 4"),
            ("@s:id", "@Q{urn:s}id"),
        ] {
            if shown.contains("Q{") {
                assert_eq!(expr(text).to_string(), shown, "{text}");
            } else {
                round_trip(text, shown);
            }
        }
    }

    #[test]
    fn operator_names_and_star_are_names_where_no_operand_precedes() {
        let name = |local: &str| NodeTest::Name {
            ns: None,
            local: local.to_owned(),
        };
        let child = |local: &str| {
            Expr::Path(LocationPath {
                absolute: false,
                steps: vec![Step {
                    axis: Axis::Child,
                    test: name(local),
                    predicates: vec![],
                }],
            })
        };
        assert_eq!(
            expr("div div div"),
            Expr::Arith(ArithOp::Div, Box::new(child("div")), Box::new(child("div")))
        );
        assert_eq!(
            expr("and and or"),
            Expr::And(Box::new(child("and")), Box::new(child("or")))
        );
        assert_eq!(
            expr("mod mod mod"),
            Expr::Arith(ArithOp::Mod, Box::new(child("mod")), Box::new(child("mod")))
        );
        assert_eq!(
            expr("* * *"),
            Expr::Arith(
                ArithOp::Mul,
                Box::new(Expr::Path(LocationPath {
                    absolute: false,
                    steps: vec![Step {
                        axis: Axis::Child,
                        test: NodeTest::Any,
                        predicates: vec![]
                    }]
                })),
                Box::new(Expr::Path(LocationPath {
                    absolute: false,
                    steps: vec![Step {
                        axis: Axis::Child,
                        test: NodeTest::Any,
                        predicates: vec![]
                    }]
                }))
            )
        );
        round_trip("or/and", "or/and");
        round_trip("a[div]", "a[div]");
        round_trip("count(mod)", "count(mod)");
        // `a-1` is one name; with spaces it is a subtraction.
        round_trip("a-1", "a-1");
        assert!(matches!(expr("a - 1"), Expr::Arith(ArithOp::Sub, ..)));
    }

    #[test]
    fn precedence_follows_the_grammar() {
        assert!(matches!(expr("1 or 2 and 3"), Expr::Or(..)));
        assert!(matches!(expr("1 = 2 and 3"), Expr::And(..)));
        assert!(matches!(expr("1 < 2 = 3"), Expr::Compare(CmpOp::Eq, ..)));
        assert!(matches!(expr("1 + 2 < 3"), Expr::Compare(CmpOp::Lt, ..)));
        assert!(matches!(expr("1 * 2 + 3"), Expr::Arith(ArithOp::Add, ..)));
        assert!(matches!(expr("-1 * 2"), Expr::Arith(ArithOp::Mul, ..)));
        assert!(matches!(expr("-a | b"), Expr::Neg(_)));
        assert_eq!(
            expr("-1"),
            Expr::Neg(Box::new(Expr::Number(1.0))),
            "a negative number is a negated literal"
        );
        // Left associative.
        match expr("8 - 4 - 2") {
            Expr::Arith(ArithOp::Sub, l, r) => {
                assert!(matches!(*l, Expr::Arith(ArithOp::Sub, ..)));
                assert_eq!(*r, Expr::Number(2.0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_resolve_to_namespace_uris() {
        let Expr::Path(path) = expr("s:a/@s:b/xml:c") else {
            panic!("not a path");
        };
        let tests: Vec<_> = path.steps.iter().map(|s| s.test.clone()).collect();
        assert_eq!(
            tests,
            [
                NodeTest::Name {
                    ns: Some("urn:s".into()),
                    local: "a".into()
                },
                NodeTest::Name {
                    ns: Some("urn:s".into()),
                    local: "b".into()
                },
                NodeTest::Name {
                    ns: Some(XML_NAMESPACE.into()),
                    local: "c".into()
                },
            ]
        );
    }

    #[test]
    fn every_function_parses_with_its_arity() {
        for text in [
            "last()",
            "position()",
            "count(a)",
            "local-name()",
            "local-name(a)",
            "namespace-uri(a)",
            "name()",
            "string()",
            "string(1)",
            "concat('a', 'b', 'c', 'd')",
            "starts-with('a', 'b')",
            "contains('a', 'b')",
            "substring-before('a', 'b')",
            "substring-after('a', 'b')",
            "substring('a', 1)",
            "substring('a', 1, 2)",
            "string-length()",
            "normalize-space('a')",
            "translate('a', 'b', 'c')",
            "boolean(1)",
            "not(1)",
            "true()",
            "false()",
            "lang('en')",
            "number()",
            "sum(a)",
            "floor(1)",
            "ceiling(1)",
            "round(1)",
        ] {
            round_trip(text, text);
        }
    }

    #[test]
    fn parse_errors_name_the_problem() {
        for (text, message) in [
            ("count()", "`count()` takes 1 argument, not 0"),
            ("count(a, b)", "`count()` takes 1 argument, not 2"),
            (
                "concat('a')",
                "`concat()` takes at least 2 arguments, not 1",
            ),
            (
                "substring('a')",
                "`substring()` takes 2 to 3 arguments, not 1",
            ),
            ("true(1)", "`true()` takes no arguments, not 1"),
            (
                "translate('a', 'b')",
                "`translate()` takes 3 arguments, not 2",
            ),
            ("id('x')", "`id()` is not streamable"),
            ("$v", "variables such as `$v` are not supported"),
            ("p:a", "the prefix `p` is not declared"),
            ("nosuch()", "`nosuch()` is not an XPath 1.0 function"),
            ("a[", "not a valid XPath"),
            (&vec!["1"; 258].join("+"), "nest deeper than 256 levels"),
        ] {
            let error = parse_err(text);
            assert!(error.contains(message), "{text}: {error}");
        }
    }

    fn needs(text: &str) -> Needs {
        stream_needs(&expr(text)).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn streamable_expressions_and_what_they_read() {
        let start = Needs::default();
        let end = Needs {
            subtree: true,
            ..Needs::default()
        };
        for (text, expected) in [
            ("@id", start),
            ("../@id", start),
            ("ancestor::site/@name", start),
            ("ancestor::x[@kind='a']/@name", start),
            ("ancestor::*[2]/@id", start),
            ("ancestor::*[last()]/@id", start),
            ("name(..)", start),
            ("name()", start),
            ("local-name(ancestor::*[1])", start),
            ("namespace-uri(..)", start),
            ("count(ancestor::x)", start),
            ("boolean(..)", start),
            ("not(ancestor::skip)", start),
            ("sum(../@x)", start),
            ("sum(ancestor::*/@x)", start),
            ("string(../@id)", start),
            ("concat(@a, '-', ../@b)", start),
            ("lang('en')", start),
            ("ancestor-or-self::*[@id][1]/@id", start),
            ("../../@id", start),
            ("parent::site/@name = 'x'", start),
            ("ancestor::*[name() = 'site']/@name", start),
            ("@size * 2", start),
            ("self::row/@id", start),
            ("(../@a | ../@b)[1]", start),
            ("translate(@id, 'ab', 'AB')", start),
            ("count(failure) > 0", end),
            ("sum(item/@size)", end),
            (".", end),
            ("string()", end),
            ("string-length()", end),
            ("normalize-space()", end),
            ("number()", end),
            ("text()", end),
            ("item[2]/@id", end),
            ("descendant::x[@k = 'v']", end),
            (".//x", end),
            ("item/..", end),
            ("string(item/..)", end),
            ("name(item/ancestor::*[3])", end),
            ("count(descendant-or-self::node())", end),
            ("self::node() = 'x'", end),
            ("item[. > 3]", end),
            ("string(@id/..)", end),
            ("ancestor::x = true()", start),
            ("not(../@a) = false()", start),
            (
                "position()",
                Needs {
                    position: true,
                    ..start
                },
            ),
            (
                "last() - position()",
                Needs {
                    position: true,
                    last: true,
                    ..start
                },
            ),
            ("ancestor::*[position() = last()]/@id", start),
            (
                "concat(position(), text())",
                Needs {
                    position: true,
                    subtree: true,
                    last: false,
                },
            ),
        ] {
            assert_eq!(needs(text), expected, "{text}");
        }
    }

    #[test]
    fn unstreamable_expressions_say_why() {
        let child = "a child of an ancestor is not known";
        let text = "the text of an ancestor is not known";
        let absolute = "an absolute path reads the whole document";
        let siblings = "which the streaming engine does not keep";
        for (query, reason) in [
            ("../name", child),
            ("../*", child),
            ("..//x", child),
            ("ancestor::site/row", child),
            ("ancestor::*[row]/@id", child),
            ("ancestor::x[name = 'a']/@id", child),
            ("count(../x)", child),
            ("name(../*)", child),
            ("../text()", child),
            ("ancestor-or-self::*/x", child),
            ("item/ancestor::*/x", child),
            ("string(..)", text),
            ("..", text),
            ("ancestor::site", text),
            (".. = 'x'", text),
            ("number(..)", text),
            ("sum(ancestor::*)", text),
            ("ancestor::*[. = 'x']/@id", text),
            ("concat(.., 'x')", text),
            ("ancestor::x[string-length() > 1]", text),
            ("string(ancestor-or-self::*)", text),
            ("string(../@id/..)", text),
            ("normalize-space(..)", text),
            ("/a", absolute),
            ("//a", absolute),
            ("/", absolute),
            ("count(//a)", absolute),
            ("sum(/store/row/@size)", absolute),
            ("following-sibling::a", siblings),
            ("preceding-sibling::a/@id", siblings),
            ("following::a", siblings),
            ("preceding::*", siblings),
            ("item/following-sibling::item", siblings),
            ("namespace::*", "`namespace::` axis is not supported"),
        ] {
            match stream_needs(&expr(query)) {
                Ok(needs) => panic!("{query} is streamable: {needs:?}"),
                Err(why) => assert!(why.contains(reason), "{query}: {why}"),
            }
        }
        assert_eq!(
            stream_needs(&expr("../name")),
            Err(
                "`../name`: a child of an ancestor is not known when the element ends; \
                 only the ancestors' names and attributes are"
                    .to_owned()
            )
        );
        assert!(parse_err("id('x')").contains("not streamable"));
    }
}
