//! XPath queries: the text of a rule's query, checked and compiled, and the one lexer that splits
//! it into tokens.
//!
//! [`XPathQuery::parse`] lexes a query once, when the rule file is read, and keeps the tokens:
//! the checks made here (namespace prefixes, nesting depth, function names), the streamable
//! [`crate::rules::plan`] and the DOM engine's direct reads all read the same tokens, so there is
//! one rule for what an XPath name, number or literal is: XPath 1.0 section 3.7, with names as
//! XML Namespaces' `NCName`, as sxd-xpath reads them.

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::Deserializer;
use sxd_document::XmlChar;

use crate::model::names::{Checked, checked_string};

/// Longest XPath expression accepted, in bytes. sxd-xpath's parser is recursive, so a bounded
/// length (with [`MAX_XPATH_NESTING`]) keeps a pathological query from overflowing the stack.
pub const MAX_XPATH_BYTES: usize = 4096;

/// Deepest nesting of parentheses, brackets and unary minus signs accepted in an XPath.
pub const MAX_XPATH_NESTING: usize = 64;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// An `NCName`: a name test, function, axis or variable name, or a prefix before [`Kind::Colon`].
    Name,
    /// `and`, `or`, `div` or `mod` where an operator stands (after an operand).
    OperatorName,
    /// A quoted string; the span includes the quotes.
    Literal,
    /// A quote with no closing quote; the span runs to the end of the query.
    UnclosedLiteral,
    /// A number: `5`, `5.`, `.5`, `1.25`.
    Number(f64),
    /// `/`
    Slash,
    /// `//`
    DoubleSlash,
    /// `@`
    At,
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// `:` between a prefix and a local name.
    Colon,
    /// `::` after an axis name.
    DoubleColon,
    /// `*` as a name test.
    Star,
    /// `*` as the multiplication operator (after an operand).
    Multiply,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `|`
    Pipe,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `$`
    Dollar,
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
    /// Any other character.
    Other,
}

/// One token of a query: what it is and where it stands (a byte range of the query's text).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What the token is.
    pub kind: Kind,
    /// Where it stands in the query's text, in bytes.
    pub span: Range<usize>,
}

impl Token {
    /// The token as written in `query`.
    pub fn text<'q>(&self, query: &'q str) -> &'q str {
        query.get(self.span.clone()).unwrap_or_default()
    }
}

/// The operator names of XPath 1.0, which are names too where no operator may stand.
const OPERATOR_NAMES: [&str; 4] = ["and", "or", "div", "mod"];

/// Splits an XPath expression into tokens, skipping whitespace. It never fails: a character
/// outside the grammar is a [`Kind::Other`] token, an unclosed quote a [`Kind::UnclosedLiteral`].
///
/// As XPath 1.0 section 3.7 says, `*` and an operator name are operators when they follow an
/// operand (a name, `*`, a number, a literal, `)`, `]`, `.` or `..`), else a name test.
pub fn lex(text: &str) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut at = 0;
    while let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) {
        let rest = text.get(at + c.len_utf8()..).unwrap_or_default();
        let next = rest.chars().next();
        let after_operand = tokens.last().is_some_and(|t| {
            matches!(
                t.kind,
                Kind::Name
                    | Kind::Star
                    | Kind::Number(_)
                    | Kind::Literal
                    | Kind::RParen
                    | Kind::RBracket
                    | Kind::Dot
                    | Kind::DotDot
            )
        });
        let two = |kind| (kind, 2);
        let (kind, len) = match (c, next) {
            (c, _) if c.is_whitespace() => {
                at += c.len_utf8();
                continue;
            }
            ('/', Some('/')) => two(Kind::DoubleSlash),
            ('.', Some('.')) => two(Kind::DotDot),
            (':', Some(':')) => two(Kind::DoubleColon),
            ('!', Some('=')) => two(Kind::Ne),
            ('<', Some('=')) => two(Kind::Le),
            ('>', Some('=')) => two(Kind::Ge),
            ('.', Some(d)) if d.is_ascii_digit() => number(text, at),
            ('0'..='9', _) => number(text, at),
            ('\'' | '"', _) => match rest.find(c) {
                Some(end) => (Kind::Literal, end + 2),
                None => (Kind::UnclosedLiteral, text.len() - at),
            },
            ('*', _) if after_operand => (Kind::Multiply, 1),
            (c, _) if c.is_ncname_start_char() => {
                let len = text[at..]
                    .find(|c: char| !c.is_ncname_char())
                    .unwrap_or(text.len() - at);
                let operator = after_operand && OPERATOR_NAMES.contains(&&text[at..at + len]);
                let kind = if operator {
                    Kind::OperatorName
                } else {
                    Kind::Name
                };
                (kind, len)
            }
            (c, _) => {
                let kind = match c {
                    '/' => Kind::Slash,
                    '.' => Kind::Dot,
                    ':' => Kind::Colon,
                    '@' => Kind::At,
                    '*' => Kind::Star,
                    '(' => Kind::LParen,
                    ')' => Kind::RParen,
                    '[' => Kind::LBracket,
                    ']' => Kind::RBracket,
                    ',' => Kind::Comma,
                    '|' => Kind::Pipe,
                    '+' => Kind::Plus,
                    '-' => Kind::Minus,
                    '$' => Kind::Dollar,
                    '=' => Kind::Eq,
                    '<' => Kind::Lt,
                    '>' => Kind::Gt,
                    _ => Kind::Other,
                };
                (kind, c.len_utf8())
            }
        };
        tokens.push(Token {
            kind,
            span: at..at + len,
        });
        at += len;
    }
    tokens
}

/// The number at `at`: digits with an optional `.` and digits, or `.` and digits.
fn number(text: &str, at: usize) -> (Kind, usize) {
    let digits = |from: usize| {
        text[from..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(text.len(), |n| from + n)
    };
    let mut end = digits(at);
    if text[end..].starts_with('.') {
        end = digits(end + 1);
    }
    let value = text[at..end].parse().unwrap_or(f64::NAN);
    (Kind::Number(value), end - at)
}

/// The XPath 1.0 core function library (section 4), all of which sxd-xpath implements.
const XPATH_FUNCTIONS: &[&str] = &[
    "last",
    "position",
    "count",
    "id",
    "local-name",
    "namespace-uri",
    "name",
    "string",
    "concat",
    "starts-with",
    "contains",
    "substring-before",
    "substring-after",
    "substring",
    "string-length",
    "normalize-space",
    "translate",
    "boolean",
    "not",
    "true",
    "false",
    "lang",
    "number",
    "sum",
    "floor",
    "ceiling",
    "round",
];

/// Names that may stand before `(` without being a function call, and that a parser could take
/// for a node type or an operator: node type tests, and operator names before a parenthesised
/// operand (`1 div (2)`).
pub const RESERVED_NAMES: [&str; 8] = [
    "node",
    "text",
    "comment",
    "processing-instruction",
    "and",
    "or",
    "div",
    "mod",
];

/// An XPath 1.0 expression that compiles, with its text, its tokens and the namespace prefixes
/// it uses.
pub struct XPathQuery {
    text: String,
    tokens: Vec<Token>,
    compiled: sxd_xpath::XPath,
    prefixes: Vec<String>,
}

impl fmt::Debug for XPathQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("XPathQuery").field(&self.text).finish()
    }
}

impl XPathQuery {
    /// Compiles an XPath expression.
    pub fn parse(text: &str) -> Result<XPathQuery, String> {
        if text.trim().is_empty() {
            return Err("the XPath expression is empty".to_owned());
        }
        if text.len() > MAX_XPATH_BYTES {
            return Err(format!(
                "the XPath expression is {} bytes long; the limit is {MAX_XPATH_BYTES}",
                text.len()
            ));
        }
        let tokens = lex(text);
        let prefixes = scan(text, &tokens)
            .map_err(|why| format!("`{text}` is not a valid XPath expression: {why}"))?;
        let compiled = sxd_xpath::Factory::new()
            .build(text)
            .map_err(|err| format!("`{text}` is not a valid XPath expression: {err}"))?
            .ok_or_else(|| "the XPath expression is empty".to_owned())?;
        Ok(XPathQuery {
            text: text.to_owned(),
            tokens,
            compiled,
            prefixes,
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The expression's tokens, in order.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The compiled expression.
    pub fn compiled(&self) -> &sxd_xpath::XPath {
        &self.compiled
    }

    /// Namespace prefixes used in name tests, function names or variables.
    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }
}

checked_string!(XPathQuery);

/// Checks a query's tokens for what sxd-xpath would not refuse cleanly, and returns the
/// namespace prefixes it uses.
///
/// sxd-xpath panics when a name test uses a prefix that the context does not bind, and parses
/// nested expressions recursively; this scan lets the compiler refuse both before any XML is
/// read. Literals are skipped; a name right before a single `:` is a prefix.
fn scan(text: &str, tokens: &[Token]) -> Result<Vec<String>, String> {
    let mut prefixes: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut unary_run = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1);
        match token.kind {
            Kind::UnclosedLiteral => {
                let quote = token.text(text).chars().next().unwrap_or('\'');
                return Err(format!(
                    "the string literal starting with {quote} is not closed"
                ));
            }
            Kind::Literal => continue,
            Kind::LParen | Kind::LBracket => {
                depth += 1;
                if depth > MAX_XPATH_NESTING {
                    return Err(format!("nested deeper than {MAX_XPATH_NESTING} levels"));
                }
            }
            Kind::RParen | Kind::RBracket => depth = depth.saturating_sub(1),
            Kind::Minus => {
                unary_run += 1;
                if unary_run > MAX_XPATH_NESTING {
                    return Err(format!(
                        "more than {MAX_XPATH_NESTING} minus signs in a row"
                    ));
                }
                continue;
            }
            Kind::Name | Kind::OperatorName => {
                let name = token.text(text);
                if next.is_some_and(|t| t.kind == Kind::LParen)
                    && !RESERVED_NAMES.contains(&name)
                    && !XPATH_FUNCTIONS.contains(&name)
                {
                    return Err(format!(
                        "`{name}()` is not an XPath 1.0 function; available: {}",
                        XPATH_FUNCTIONS.join(", ")
                    ));
                }
                let prefix =
                    next.is_some_and(|t| t.kind == Kind::Colon && t.span.start == token.span.end);
                if prefix && !prefixes.iter().any(|p| p == name) {
                    prefixes.push(name.to_owned());
                }
            }
            _ => {}
        }
        unary_run = 0;
    }
    Ok(prefixes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each token of `text` as its kind and its text.
    fn tokens(text: &str) -> Vec<(Kind, &str)> {
        lex(text).iter().map(|t| (t.kind, t.text(text))).collect()
    }

    #[test]
    fn names_follow_ncname() {
        use Kind::*;
        assert_eq!(tokens("a:b"), [(Name, "a"), (Colon, ":"), (Name, "b")]);
        assert_eq!(tokens("a-b"), [(Name, "a-b")]);
        assert_eq!(tokens("a.b_c1"), [(Name, "a.b_c1")]);
        assert_eq!(tokens("é"), [(Name, "é")]);
        assert_eq!(tokens("/café·x"), [(Slash, "/"), (Name, "café·x")]);
        assert_eq!(
            tokens("child::a"),
            [(Name, "child"), (DoubleColon, "::"), (Name, "a")]
        );
        assert_eq!(tokens("$var"), [(Dollar, "$"), (Name, "var")]);
        assert_eq!(tokens("ª"), [(Other, "ª")]);
        let spans: Vec<Range<usize>> = lex("é:x").into_iter().map(|t| t.span).collect();
        assert_eq!(spans, [0..2, 2..3, 3..4]);
    }

    #[test]
    fn numbers_and_minus() {
        use Kind::*;
        assert_eq!(tokens("-1"), [(Minus, "-"), (Number(1.0), "1")]);
        assert_eq!(tokens(".5"), [(Number(0.5), ".5")]);
        assert_eq!(tokens("5."), [(Number(5.0), "5.")]);
        assert_eq!(tokens("1.25"), [(Number(1.25), "1.25")]);
        assert_eq!(tokens("1.2.3"), [(Number(1.2), "1.2"), (Number(0.3), ".3")]);
        assert_eq!(
            tokens("a - -1"),
            [(Name, "a"), (Minus, "-"), (Minus, "-"), (Number(1.0), "1")]
        );
    }

    #[test]
    fn literals_and_punctuation() {
        use Kind::*;
        assert_eq!(tokens("'it''s'"), [(Literal, "'it'"), (Literal, "'s'")]);
        assert_eq!(tokens(r#""a'b""#), [(Literal, r#""a'b""#)]);
        assert_eq!(tokens("'open"), [(UnclosedLiteral, "'open")]);
        assert_eq!(
            tokens("..//@x"),
            [(DotDot, ".."), (DoubleSlash, "//"), (At, "@"), (Name, "x")]
        );
        assert_eq!(
            tokens("@a!=1<=2>=3<4>5=6"),
            [
                (At, "@"),
                (Name, "a"),
                (Ne, "!="),
                (Number(1.0), "1"),
                (Le, "<="),
                (Number(2.0), "2"),
                (Ge, ">="),
                (Number(3.0), "3"),
                (Lt, "<"),
                (Number(4.0), "4"),
                (Gt, ">"),
                (Number(5.0), "5"),
                (Eq, "="),
                (Number(6.0), "6"),
            ]
        );
        assert_eq!(
            tokens(" ( a | b , c ) "),
            [
                (LParen, "("),
                (Name, "a"),
                (Pipe, "|"),
                (Name, "b"),
                (Comma, ","),
                (Name, "c"),
                (RParen, ")"),
            ]
        );
        assert_eq!(tokens("!"), [(Other, "!")]);
    }

    #[test]
    fn operators_after_an_operand() {
        use Kind::*;
        assert_eq!(
            tokens("div div div"),
            [(Name, "div"), (OperatorName, "div"), (Name, "div")]
        );
        assert_eq!(
            tokens("/and[@or and .]"),
            [
                (Slash, "/"),
                (Name, "and"),
                (LBracket, "["),
                (At, "@"),
                (Name, "or"),
                (OperatorName, "and"),
                (Dot, "."),
                (RBracket, "]"),
            ]
        );
        assert_eq!(tokens("p:div"), [(Name, "p"), (Colon, ":"), (Name, "div")]);
        assert_eq!(tokens("* * *"), [(Star, "*"), (Multiply, "*"), (Star, "*")]);
        assert_eq!(
            tokens("@*|p:*"),
            [
                (At, "@"),
                (Star, "*"),
                (Pipe, "|"),
                (Name, "p"),
                (Colon, ":"),
                (Star, "*"),
            ]
        );
        assert_eq!(
            tokens("count(x)*2"),
            [
                (Name, "count"),
                (LParen, "("),
                (Name, "x"),
                (RParen, ")"),
                (Multiply, "*"),
                (Number(2.0), "2"),
            ]
        );
        assert_eq!(tokens("1 mod 2")[1], (OperatorName, "mod"));
    }

    #[test]
    fn every_xpath_1_0_function_and_expression_form_compiles() {
        // Issue 11, root causes F, G and H: `id()` and `lang()` are XPath 1.0 functions, `*`
        // after a comma is a name test, and `!=` next to `|` and `+` is compiled as written.
        for text in [
            "count(id('a b'))",
            "//row[lang('en')]",
            "concat('a', *)",
            "count(//r[@n != 2 + 3] | //g)",
        ] {
            assert!(XPathQuery::parse(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn xpath_scan_finds_prefixes_outside_literals() {
        let q = XPathQuery::parse("/s:store/s:row[@t:kind = 'x:y'][child::a:b]/@*").expect("valid");
        assert_eq!(q.prefixes(), ["s", "t", "a"]);
        let q = XPathQuery::parse("count(ancestor-or-self::node())").expect("valid");
        assert!(q.prefixes().is_empty());
        let q = XPathQuery::parse("/p:*").expect("valid");
        assert_eq!(q.prefixes(), ["p"]);
    }

    #[test]
    fn prefixes_are_ncnames_as_sxd_xpath_reads_them() {
        let q = XPathQuery::parse("/é:x/a·b:c").expect("valid");
        assert_eq!(q.prefixes(), ["é", "a·b"]);
    }

    #[test]
    fn pathological_xpath_is_refused_before_the_parser() {
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(XPathQuery::parse(&deep).is_err());
        let minus = format!("{}1", "-".repeat(3000));
        assert!(XPathQuery::parse(&minus).is_err());
        assert!(XPathQuery::parse(&"a/".repeat(5000)).is_err());
        assert!(XPathQuery::parse("'open").is_err());
        let err = XPathQuery::parse("max(/a/@b)").expect_err("not XPath 1.0");
        assert!(
            err.contains("`max()` is not an XPath 1.0 function"),
            "{err}"
        );
        assert!(
            XPathQuery::parse(
                "count(/a/text()) div (2) + string-length(name(/a/processing-instruction()))"
            )
            .is_ok()
        );
        assert!(XPathQuery::parse("  ").is_err());
    }

    #[test]
    fn scan_messages() {
        let err = |text: &str| XPathQuery::parse(text).expect_err(text);
        assert_eq!(
            err("'open"),
            "`'open` is not a valid XPath expression: the string literal starting with ' is not closed"
        );
        assert!(err("\"a").ends_with("the string literal starting with \" is not closed"));
        let deep = format!("{}1{}", "[(".repeat(40), ")]".repeat(40));
        assert!(err(&deep).ends_with("nested deeper than 64 levels"));
        // Whitespace and literals do not end a run of minus signs; anything else does.
        let spaced = format!("{}1", "- ".repeat(65));
        assert!(err(&spaced).ends_with("more than 64 minus signs in a row"));
        let literals = format!("{}1", "-'x'".repeat(65));
        assert!(err(&literals).ends_with("more than 64 minus signs in a row"));
        let broken = format!("{}1", "-1".repeat(65));
        assert!(XPathQuery::parse(&broken).is_ok());
        assert!(err("p:max(1)").contains("`max()` is not an XPath 1.0 function"));
        assert!(err("f (1)").contains("`f()` is not an XPath 1.0 function"));
    }
}
