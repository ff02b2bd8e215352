//! Differential test: xml2prom's two engines against libxml2's XPath 1.0, through Python lxml.
//!
//! A proptest generator writes random documents (element and attribute names with and without
//! a prefix, a default namespace, text, CDATA sections, comments, processing instructions,
//! entity and character references, tabs, CR LF and lone CRs, mixed content) and random rules
//! (paths over every axis, predicates, functions, arithmetic; document-level numbers, and per
//! node `count`, `sum` and first value grouped by a label) into a temporary directory, a batch
//! at a time. `tests/libxml2/oracle.py` computes what XPath 1.0 says every rule gives on every
//! document of the batch with lxml, and `xml2prom run --output-dir` computes it with
//! `--engine auto` (the streaming engine for the streamable rules) and `--engine dom`; every
//! sample must agree. One Python process and one rule file per batch keep the cost small.
//!
//! The generator holds back what is known to differ today (see [`KNOWN_XPATH_FAULTS`]): those
//! root causes of issue 11 are fixed elsewhere, and each feature is switched on by taking it off
//! that list. `XML2PROM_LIBXML2_FAULTS=StringToNumber,NotEqualNodeSets` (names of [`Fault`], or
//! `all`) switches some on for one run, to see the divergences.
//!
//! Without python3 or lxml the tests print a notice and pass, unless `XML2PROM_REQUIRE_TOOLS` is
//! set (as CI does), when they fail. `XML2PROM_LIBXML2_BATCHES` runs more batches than the
//! default [`BATCHES`] (for example 200 locally); `XML2PROM_LIBXML2_SEED` picks another seed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

/// Batches run by default: each has [`DOCS`] documents and [`RULES`] rules, every rule
/// evaluated on every document.
const BATCHES: usize = 30;
const DOCS: usize = 12;
const RULES: usize = 40;
/// The seed of the default run, so that CI runs the same cases every time.
const SEED: u64 = 11;

/// A part of XPath 1.0 where xml2prom's answer is known to differ from the specification
/// (issue 11). The generator produces it only when it is not in [`KNOWN_XPATH_FAULTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// A: `!=` between a node-set and another value is `not(=)`, so it is true for an empty
    /// node-set and false for `<x>1</x><x>2</x>` against `'1'`.
    NotEqualNodeSets,
    /// B: `<`, `<=`, `>`, `>=` with a node-set use only its first node.
    RelationalNodeSets,
    /// C: strings become numbers as Rust parses them (`1e3`, `+5`, `inf`, a no-break space),
    /// not as XPath's `number()`. Generated as data, in text and attribute values.
    StringToNumber,
    /// I: a fractional number as a predicate (`[1.5]`, `[last() div 2]`) is truncated.
    FractionalPredicates,
    /// E: `namespace::` lacks the default namespace node.
    DefaultNamespaceNode,
    /// J: `substring(s, -1 div 0)` gives `""`.
    SubstringInfinity,
    /// G: `*` right after a comma (`concat('a', *)`) is refused.
    StarAfterComma,
    /// H: `lang()` and `id()` are refused.
    LangAndId,
    /// Numbers that are not small integers, as label values: xml2prom writes them as
    /// Prometheus does (`+Inf`, `1e16`), XPath's `string()` does not (`Infinity`).
    NumberLabels,
}

/// The faults held back from the generator: none since the fixes of issue 11 landed. A fault
/// found later goes here, with its fix to follow, so the test keeps covering the rest.
const KNOWN_XPATH_FAULTS: &[Fault] = &[];

/// Whether the generator may produce `fault`: it is not a known fault, or
/// `XML2PROM_LIBXML2_FAULTS` names it (`StringToNumber,NotEqualNodeSets`, or `all`).
fn enabled(fault: Fault) -> bool {
    let asked = std::env::var("XML2PROM_LIBXML2_FAULTS").unwrap_or_default();
    !KNOWN_XPATH_FAULTS.contains(&fault)
        || asked
            .split(',')
            .any(|name| name == "all" || name == format!("{fault:?}"))
}

/// The namespaces of every document and rule file.
const NAMESPACES: [(&str, &str); 2] = [("p", "urn:p"), ("d", "urn:d")];

// ---------------------------------------------------------------------------------------------
// Documents

/// Pieces of character data as written in a document: plain text, numbers, whitespace of
/// every kind, references.
fn text_pieces() -> Vec<&'static str> {
    let mut pieces = vec![
        "1", "2", "-3", "4.5", ".5", "5.", " 7 ", "2.5", "-2.5", "0", "x", "ab", "a b", "é€", " ",
        "\t", "\n", "\r\n", "\r", "\r\r\n", "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#9;",
        "&#10;", "&#13;", "&#65;", "&#x20AC;", "'",
    ];
    if enabled(Fault::StringToNumber) {
        pieces.extend(["1e3", "+5", "inf", "Infinity", "NaN", "\u{a0}7", "0x10"]);
    }
    pieces
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(text_pieces()), 1..4).prop_map(|p| p.concat())
}

fn element_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["a", "b", "c", "a", "b", "p:a", "p:b"][..])
}

/// An attribute: name and value as written between double quotes.
fn attribute() -> impl Strategy<Value = (&'static str, String)> {
    (
        prop::sample::select(&["k", "n", "n", "p:k"][..]),
        prop::collection::vec(prop::sample::select(text_pieces()), 0..3)
            .prop_map(|p| p.concat().replace('"', "&quot;")),
    )
}

fn start_tag(name: &str, xmlns: &str, attributes: &[(&'static str, String)]) -> String {
    let mut tag = format!("<{name}{xmlns}");
    let mut seen = Vec::new();
    for (key, value) in attributes {
        if !seen.contains(key) {
            seen.push(key);
            // Attributes on lines of their own now and then: whitespace in tags is CR LF too.
            let space = if value.len() % 3 == 0 { "\r\n  " } else { " " };
            let _ = write!(tag, "{space}{key}=\"{value}\"");
        }
    }
    tag
}

/// Content of an element: text, child elements, CDATA sections, comments, instructions.
fn content() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => text(),
        1 => prop::sample::select(&["x", "1", "a\r\nb", "]", "<&>", ""][..])
            .prop_map(|c| format!("<![CDATA[{c}]]>")),
        1 => prop::sample::select(&["c", " c\r\nd "][..]).prop_map(|c| format!("<!--{c}-->")),
        1 => prop::sample::select(&["<?pi?>", "<?pi x\r\ny?>"][..]).prop_map(str::to_owned),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        (
            element_name(),
            prop::sample::select(&["", "", "", "", " xmlns=\"urn:d\"", " xmlns=\"\""][..]),
            prop::collection::vec(attribute(), 0..3),
            prop::collection::vec(inner, 0..5),
        )
            .prop_map(|(name, xmlns, attributes, children)| {
                let tag = start_tag(name, xmlns, &attributes);
                if children.is_empty() {
                    format!("{tag}/>")
                } else {
                    format!("{tag}>{}</{name}>", children.concat())
                }
            })
    })
}

fn document() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["", "<?xml version=\"1.0\"?>\r\n", "<!--c-->\n<?pi x?>\r"][..]),
        prop::sample::select(&["", " xmlns=\"urn:d\""][..]),
        prop::collection::vec(attribute(), 0..2),
        prop::collection::vec(content(), 1..6),
        prop::sample::select(&["", "\r\n", "<!--after-->"][..]),
    )
        .prop_map(|(prolog, xmlns, attributes, children, epilog)| {
            let tag = start_tag("r", &format!("{xmlns} xmlns:p=\"urn:p\""), &attributes);
            format!("{prolog}{tag}>{}</r>{epilog}", children.concat())
        })
}

// ---------------------------------------------------------------------------------------------
// Queries

/// A string literal for a predicate, from the generated data.
fn literal() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["'1'", "'x'", "'a b'", "'ab'", "''", "' 7 '", "'é€'", "'2'"][..])
}

fn name_test() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["a", "b", "c", "p:a", "p:b", "d:a", "d:b", "*", "a", "*"][..])
}

fn predicate() -> BoxedStrategy<String> {
    let mut options: Vec<BoxedStrategy<String>> = vec![
        Just("[@k]".to_owned()).boxed(),
        Just("[not(@n)]".to_owned()).boxed(),
        literal().prop_map(|l| format!("[@k = {l}]")).boxed(),
        literal().prop_map(|l| format!("[. = {l}]")).boxed(),
        literal().prop_map(|l| format!("[b = {l}]")).boxed(),
        literal().prop_map(|l| format!("[@k != {l}]")).boxed(),
        prop::sample::select(&["1", "2", "last()", "last() - 1", "position() > 1"][..])
            .prop_map(|p| format!("[{p}]"))
            .boxed(),
        prop::sample::select(&["[position() = last()]", "[position() mod 2 = 1]"][..])
            .prop_map(str::to_owned)
            .boxed(),
        prop::sample::select(
            &[
                "[contains(., 'a')]",
                "[starts-with(@k, '1')]",
                "[string-length(.) = 1]",
                "[normalize-space(.) = 'a b']",
                "[@n > 1]",
                "[@n <= 2]",
                "[number(@n) = 2.5]",
                "[count(*) > 0]",
                "[b]",
                "[@k and @n]",
                "[@k or b]",
                "[text()]",
                "[comment()]",
                "[processing-instruction('pi')]",
                "[*[2]]",
                "[translate(., 'ab', 'AB') = 'AB']",
                "[local-name() = 'a']",
                "[namespace-uri() = 'urn:d']",
                "[name() = 'p:a']",
                "[sum(@n) > 0]",
                "[@n = 1 or @n = 2]",
                "[@k = ../@k]",
                "[. = ../b]",
            ][..],
        )
        .prop_map(str::to_owned)
        .boxed(),
    ];
    if enabled(Fault::NotEqualNodeSets) {
        options.push(literal().prop_map(|l| format!("[b != {l}]")).boxed());
        options.push(Just("[* != 1]".to_owned()).boxed());
    }
    if enabled(Fault::RelationalNodeSets) {
        options.push(
            prop::sample::select(&["[b > 1]", "[* < 2]", "[b >= c]", "[true() > false()]"][..])
                .prop_map(str::to_owned)
                .boxed(),
        );
    }
    if enabled(Fault::FractionalPredicates) {
        options.push(
            prop::sample::select(&["[1.5]", "[last() div 2]", "[0.5 + 1]"][..])
                .prop_map(str::to_owned)
                .boxed(),
        );
    }
    if enabled(Fault::LangAndId) {
        options.push(Just("[lang('en')]".to_owned()).boxed());
    }
    prop::strategy::Union::new(options).boxed()
}

/// One location step that gives elements: an axis, a name test and at most two predicates.
fn element_step() -> impl Strategy<Value = String> {
    (
        prop::sample::select(
            &[
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "descendant::",
                "descendant-or-self::",
                "parent::",
                "ancestor::",
                "ancestor-or-self::",
                "following-sibling::",
                "preceding-sibling::",
                "following::",
                "preceding::",
                "self::",
            ][..],
        ),
        name_test(),
        prop_oneof![3 => Just(0usize), 2 => Just(1usize), 1 => Just(2usize)]
            .prop_flat_map(|n| prop::collection::vec(predicate(), n)),
    )
        .prop_map(|(axis, name, predicates)| format!("{axis}{name}{}", predicates.concat()))
}

/// An absolute path to elements.
fn elements() -> impl Strategy<Value = String> {
    let path = (
        prop::sample::select(&["/r", "/d:r", "/*", "//", "//", "//", "/r/", "/*/"][..]),
        element_step(),
        prop_oneof![3 => Just(0usize), 2 => Just(1usize), 1 => Just(2usize)]
            .prop_flat_map(|n| prop::collection::vec(element_step(), n)),
    )
        .prop_map(|(start, first, rest)| {
            let mut path = match start {
                // libxml2 leaves the elements out of the preceding axis of a comment or
                // instruction after the root element (`count(/comment()/preceding::*)` is 1
                // for `<r><a/></r><!--c-->`, XPath says 2): start such a step at an element.
                "//" if first.starts_with("preceding::") => format!("//*/{first}"),
                "//" => format!("//{first}"),
                "/r/" | "/*/" => format!("{start}{first}"),
                _ => start.to_owned(),
            };
            for step in rest {
                let _ = write!(path, "/{step}");
            }
            path
        });
    prop_oneof![
        8 => path,
        1 => (name_test(), name_test()).prop_map(|(a, b)| format!("//{a} | //{b}")),
        1 => (name_test(), name_test()).prop_map(|(a, b)| format!("(//{a})[last()]/{b}")),
    ]
}

/// An absolute path to attributes.
fn attributes() -> impl Strategy<Value = String> {
    (
        elements(),
        prop::sample::select(&["@k", "@n", "@*", "@p:k"][..]),
    )
        .prop_map(|(path, attribute)| format!("{path}/{attribute}"))
}

/// A string-valued expression relative to a selected attribute, for a label: the ones
/// `tests/libxml2/oracle.py` knows how to ask lxml for (`ATTRIBUTE_FIELDS`).
fn attribute_field() -> impl Strategy<Value = String> {
    prop::sample::select(
        &[
            ".",
            "name()",
            "local-name()",
            "namespace-uri()",
            "string(..)",
            "name(..)",
            "string-length(.)",
            "concat(., '|')",
            "translate(., ' ', '_')",
            "normalize-space(.)",
        ][..],
    )
    .prop_map(str::to_owned)
}

/// A string-valued expression relative to a selected node, for a label. Nothing that depends
/// on the order of an element's attributes (`string(@*)`): XPath 1.0 leaves it to the
/// implementation (§5), and sxd-document sorts them where libxml2 keeps them as written.
fn field() -> BoxedStrategy<String> {
    let mut options: Vec<BoxedStrategy<String>> = vec![
        prop::sample::select(
            &[
                ".",
                ".",
                "@k",
                "@n",
                "@p:k",
                "name()",
                "local-name()",
                "namespace-uri()",
                "text()",
                "b",
                "name(..)",
                "concat(@k, '|', name())",
                "normalize-space(.)",
                "substring(., 2)",
                "substring(., 2, 2)",
                "substring(., 1.5, 2.6)",
                "substring(., 0)",
                "substring-before(., ' ')",
                "substring-after(@k, 'a')",
                "translate(., 'abc\t', 'ABC_')",
                "string(following-sibling::*[1])",
                "name(preceding-sibling::*[1])",
                "count(*)",
                "string-length(.)",
                "boolean(@k)",
                "comment()",
                "processing-instruction()",
                "string(../@k)",
                "../b",
                "string(../a)",
                "string(../../b)",
                "string(../p:a)",
                "string(parent::*/b)",
                "string(ancestor::a/b)",
                "string(ancestor-or-self::*/a)",
                "string(../ancestor::node()/p:b)",
                "name(ancestor::*[2])",
                "concat(., .)",
                "string(*[last()])",
                "starts-with(., '1')",
                "count(@*)",
                "sum(@n)",
            ][..],
        )
        .prop_map(str::to_owned)
        .boxed(),
    ];
    if enabled(Fault::NumberLabels) {
        options.push(
            prop::sample::select(
                &["sum(*)", "number(.) div 0", "number(@n) * 1.5", "number(.)"][..],
            )
            .prop_map(str::to_owned)
            .boxed(),
        );
    }
    if enabled(Fault::SubstringInfinity) {
        options.push(Just("substring(., -1 div 0)".to_owned()).boxed());
    }
    if enabled(Fault::StarAfterComma) {
        options.push(Just("concat('a', *)".to_owned()).boxed());
    }
    if enabled(Fault::DefaultNamespaceNode) {
        // libxml2 lists an undeclaration `xmlns=""` as a namespace node whose value is empty;
        // XPath 1.0 (§5.4) gives an element no namespace node for it. The predicate leaves that
        // node of libxml2's out and keeps every namespace node the recommendation has.
        options.push(Just("count(namespace::*[string() != ''])".to_owned()).boxed());
    }
    if enabled(Fault::LangAndId) {
        options.push(Just("string(lang('en'))".to_owned()).boxed());
    }
    prop::strategy::Union::new(options).boxed()
}

/// A number-valued expression relative to a selected node, for a value. No `position()` or
/// `last()`: lxml has no context size for a query on one node.
fn relative_number() -> impl Strategy<Value = String> {
    prop::sample::select(
        &[
            "count(*)",
            "count(@*)",
            "count(.//text())",
            "string-length(.)",
            "number(@n)",
            "number(.)",
            "sum(*)",
            "sum(.//@n)",
            "number(@n) * 2",
            "number(@n) + 1",
            "number(.) div 2",
            "number(@n) mod 3",
            "-number(@n)",
            "floor(number(@n))",
            "ceiling(number(.))",
            "round(number(@n))",
            "round(number(.))",
            "boolean(b)",
            "not(@k)",
            "@n = 1",
            "contains(., 'a')",
            "string-length(normalize-space(.))",
            "count(ancestor::*)",
            "count(preceding::*)",
            "count(following-sibling::*)",
            "count(../*)",
            "number(@n) = number(@n)",
        ][..],
    )
    .prop_map(str::to_owned)
}

/// A number-valued expression on the document, for a document-level value.
fn document_number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => elements().prop_map(|p| format!("count({p})")),
        2 => attributes().prop_map(|p| format!("count({p})")),
        1 => elements().prop_map(|p| format!("sum({p}/@n)")),
        1 => elements().prop_map(|p| format!("sum({p})")),
        1 => elements().prop_map(|p| format!("number({p})")),
        1 => elements().prop_map(|p| format!("string-length({p})")),
        1 => elements().prop_map(|p| format!("boolean({p})")),
        1 => (elements(), literal()).prop_map(|(p, l)| format!("{p} = {l}")),
        1 => (elements(), elements()).prop_map(|(a, b)| format!("count({a}) - count({b}) * 2")),
        1 => (elements(), elements()).prop_map(|(a, b)| format!("count({a} | {b})")),
        1 => elements().prop_map(|p| format!("round(sum({p}/@n) div 2)")),
        1 => elements().prop_map(|p| format!("floor(-sum({p}/@n)) mod 5")),
        1 => Just("count(//comment()) + count(//processing-instruction()) * 10".to_owned()),
        1 => Just("count(//text()) + string-length(string(/))".to_owned()),
        1 => Just("count(/comment()) + count(/processing-instruction('pi'))".to_owned()),
    ]
}

/// A rule as the oracle reads it; [`Rule::yaml`] writes it for xml2prom.
#[derive(Debug, Clone)]
struct Rule {
    kind: &'static str,
    select: String,
    value: String,
    field: String,
}

fn rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        2 => document_number().prop_map(|value| Rule {
            kind: "document",
            select: String::new(),
            value,
            field: String::new(),
        }),
        2 => (elements(), field()).prop_map(|(select, field)| Rule {
            kind: "count",
            select,
            value: String::new(),
            field,
        }),
        1 => (attributes(), attribute_field()).prop_map(|(select, field)| Rule {
            kind: "count",
            select,
            value: String::new(),
            field,
        }),
        1 => (elements(), relative_number(), field()).prop_map(|(select, value, field)| Rule {
            kind: "sum",
            select,
            value,
            field,
        }),
        1 => (elements(), relative_number(), field()).prop_map(|(select, value, field)| Rule {
            kind: "first",
            select,
            value,
            field,
        }),
    ]
}

impl Rule {
    /// The rule in xml2prom's rule file (JSON, which is YAML), named `name`.
    fn yaml(&self, name: &str) -> Value {
        let mut rule = json!({ "name": name, "help": "h", "type": "gauge" });
        if self.kind == "document" {
            rule["value"] = json!(self.value);
            return rule;
        }
        rule["select"] = json!(self.select);
        rule["fields"] = json!({ "f": self.field });
        rule["labels"] = json!({ "v": "{{ f }}" });
        rule["on_missing"] = json!("zero");
        match self.kind {
            "count" => rule["aggregate"] = json!("count"),
            "sum" => {
                rule["value"] = json!(self.value);
                rule["aggregate"] = json!("sum");
            }
            _ => {
                rule["value"] = json!(self.value);
                rule["on_duplicate"] = json!("first");
            }
        }
        rule
    }

    fn oracle(&self, name: &str) -> Value {
        json!({ "name": name, "kind": self.kind, "select": self.select, "value": self.value,
                "field": self.field })
    }
}

// ---------------------------------------------------------------------------------------------
// Running the oracle and xml2prom

static NOTICE: Once = Once::new();

/// Whether python3 with lxml can run; otherwise a notice (or a panic under
/// `XML2PROM_REQUIRE_TOOLS`), as the other interop tests do.
fn oracle_available() -> bool {
    let works = Command::new("python3")
        .args(["-c", "import lxml.etree"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if works {
        return true;
    }
    let message = "skipping the libxml2 differential test: python3 with lxml not found; \
                   install it with `pip install lxml`";
    if std::env::var_os("XML2PROM_REQUIRE_TOOLS").is_some_and(|value| !value.is_empty()) {
        panic!("{message} (XML2PROM_REQUIRE_TOOLS is set, so this is an error)");
    }
    NOTICE.call_once(|| eprintln!("{message}"));
    false
}

/// Samples of one document: (metric name, labels) -> value.
type Samples = BTreeMap<(String, Vec<(String, String)>), f64>;

/// What one side made of one document.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Samples(Samples),
    Refused(String),
}

fn number(text: &str) -> f64 {
    match text {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => text
            .parse()
            .unwrap_or_else(|_| panic!("`{text}` is not a number")),
    }
}

fn same(a: &Answer, b: &Answer) -> bool {
    match (a, b) {
        (Answer::Samples(a), Answer::Samples(b)) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
                    ka == kb && (va == vb || (va.is_nan() && vb.is_nan()))
                })
        }
        (Answer::Refused(_), Answer::Refused(_)) => true,
        _ => false,
    }
}

/// Runs the oracle on the job in `dir`: one answer per document.
fn run_oracle(dir: &Path, rules: &[Value], docs: &[PathBuf]) -> Vec<Answer> {
    let namespaces: serde_json::Map<String, Value> = NAMESPACES
        .iter()
        .map(|(p, u)| ((*p).to_owned(), json!(u)))
        .collect();
    let job = json!({ "namespaces": namespaces, "docs": docs, "rules": rules });
    let job_path = dir.join("job.json");
    fs::write(&job_path, job.to_string()).expect("write the oracle's job");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libxml2/oracle.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(&job_path)
        .output()
        .expect("run the oracle");
    assert!(
        output.status.success(),
        "the oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("the oracle's JSON");
    let docs = answer["docs"].as_array().expect("docs");
    docs.iter()
        .map(|doc| {
            if let Some(error) = doc["error"].as_str() {
                return Answer::Refused(error.to_owned());
            }
            let mut samples = Samples::new();
            for sample in doc["samples"].as_array().expect("samples") {
                let name = sample[0].as_str().expect("name").to_owned();
                let labels: Vec<(String, String)> = sample[1]
                    .as_object()
                    .expect("labels")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().expect("label").to_owned()))
                    .collect();
                samples.insert((name, labels), number(sample[2].as_str().expect("value")));
            }
            Answer::Samples(samples)
        })
        .collect()
}

/// A label value as the exposition format writes it, unescaped; returns it and the rest.
fn label_value(text: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return (value, &text[at + 1..]),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, other)) => value.push(other),
                None => break,
            },
            c => value.push(c),
        }
    }
    panic!("unterminated label value in {text:?}");
}

/// The samples of an exposition text.
fn parse_exposition(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name_end = line.find(['{', ' ']).expect("a sample line");
        let name = line[..name_end].to_owned();
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(mut inside) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = inside.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let inside_trimmed = inside.trim_start_matches(',');
                let eq = inside_trimmed.find("=\"").expect("label=\"value\"");
                let key = inside_trimmed[..eq].to_owned();
                let (value, after) = label_value(&inside_trimmed[eq + 2..]);
                labels.push((key, value));
                inside = after;
            }
        }
        labels.sort();
        samples.insert((name, labels), number(rest.trim()));
    }
    samples
}

/// Runs xml2prom with `engine` over every document; one answer per document, and stderr.
fn run_xml2prom(dir: &Path, engine: &str, docs: &[PathBuf]) -> (Vec<Answer>, String) {
    let out = dir.join(format!("out-{engine}"));
    fs::create_dir_all(&out).expect("output directory");
    let output = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
        .args(["run", "--rules"])
        .arg(dir.join("rules.yaml"))
        .arg("--input")
        .arg(dir.join("docs/*.xml"))
        .arg("--output-dir")
        .arg(&out)
        .args(["--engine", engine])
        .env("NO_COLOR", "1")
        .output()
        .expect("run xml2prom");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.code() != Some(2),
        "xml2prom refused the rule file (the generator made a rule it does not take):\n{stderr}"
    );
    let answers = docs
        .iter()
        .map(|doc| {
            let stem = doc.file_stem().and_then(|s| s.to_str()).expect("a stem");
            match fs::read_to_string(out.join(format!("{stem}.prom"))) {
                Ok(text) => Answer::Samples(parse_exposition(&text)),
                Err(_) => Answer::Refused(stderr.clone()),
            }
        })
        .collect();
    (answers, stderr)
}

/// One batch: documents and rules.
#[derive(Debug, Clone)]
struct Batch {
    docs: Vec<String>,
    rules: Vec<Rule>,
}

fn batch() -> impl Strategy<Value = Batch> {
    (
        prop::collection::vec(document(), DOCS),
        prop::collection::vec(rule(), RULES),
    )
        .prop_map(|(docs, rules)| Batch { docs, rules })
}

/// A difference between xml2prom and libxml2 on one document and one rule.
struct Divergence {
    doc: String,
    rule: Rule,
    expected: String,
    auto: String,
    dom: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "document: {:?}", self.doc)?;
        writeln!(f, "rule: {:?}", self.rule)?;
        writeln!(f, "  libxml2:       {}", self.expected)?;
        writeln!(f, "  --engine auto: {}", self.auto)?;
        writeln!(f, "  --engine dom:  {}", self.dom)
    }
}

/// The samples of rule `name` in an answer, written for a report.
fn describe(answer: &Answer, name: &str) -> String {
    match answer {
        Answer::Refused(message) => format!("refused: {}", message.trim()),
        Answer::Samples(samples) => {
            let mine: Vec<String> = samples
                .iter()
                .filter(|((n, _), _)| n == name)
                .map(|((_, labels), value)| format!("{labels:?} {value}"))
                .collect();
            format!("[{}]", mine.join(", "))
        }
    }
}

fn only(answer: &Answer, name: &str) -> Answer {
    match answer {
        Answer::Refused(message) => Answer::Refused(message.clone()),
        Answer::Samples(samples) => Answer::Samples(
            samples
                .iter()
                .filter(|((n, _), _)| n == name)
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        ),
    }
}

/// How much a run compared, so that a generator that stops reaching the data shows.
#[derive(Debug, Default)]
struct Coverage {
    /// Documents libxml2 refused (all of them are well-formed, so this should stay 0).
    refused: usize,
    /// Document and rule pairs where libxml2 gives a sample, and one whose value is not 0.
    with_samples: usize,
    with_nonzero: usize,
}

/// Runs one batch in a fresh directory; returns the divergences.
fn check_batch(batch: &Batch, coverage: &mut Coverage) -> Vec<Divergence> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let docs_dir = dir.path().join("docs");
    fs::create_dir_all(&docs_dir).expect("docs directory");
    let docs: Vec<PathBuf> = batch
        .docs
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let path = docs_dir.join(format!("doc{i:03}.xml"));
            fs::write(&path, doc).expect("write a document");
            path
        })
        .collect();
    let names: Vec<String> = (0..batch.rules.len()).map(|i| format!("m{i:03}")).collect();
    let namespaces: serde_json::Map<String, Value> = NAMESPACES
        .iter()
        .map(|(p, u)| ((*p).to_owned(), json!(u)))
        .collect();
    let rule_file = json!({
        "version": 1,
        "namespaces": namespaces,
        "metrics": batch.rules.iter().zip(&names).map(|(r, n)| r.yaml(n)).collect::<Vec<_>>(),
    });
    fs::write(dir.path().join("rules.yaml"), rule_file.to_string()).expect("write the rules");
    let oracle_rules: Vec<Value> = batch
        .rules
        .iter()
        .zip(&names)
        .map(|(r, n)| r.oracle(n))
        .collect();
    let expected = run_oracle(dir.path(), &oracle_rules, &docs);
    let (auto, _) = run_xml2prom(dir.path(), "auto", &docs);
    let (dom, _) = run_xml2prom(dir.path(), "dom", &docs);
    let mut divergences = Vec::new();
    for (i, doc) in batch.docs.iter().enumerate() {
        for (rule, name) in batch.rules.iter().zip(&names) {
            let want = only(&expected[i], name);
            match &want {
                Answer::Refused(_) => coverage.refused += 1,
                Answer::Samples(samples) => {
                    coverage.with_samples += usize::from(!samples.is_empty());
                    coverage.with_nonzero += usize::from(samples.values().any(|v| *v != 0.0));
                }
            }
            let (a, d) = (only(&auto[i], name), only(&dom[i], name));
            if !same(&want, &a) || !same(&want, &d) {
                divergences.push(Divergence {
                    doc: doc.clone(),
                    rule: rule.clone(),
                    expected: describe(&want, name),
                    auto: describe(&a, name),
                    dom: describe(&d, name),
                });
            }
        }
    }
    divergences
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn engines_agree_with_libxml2_on_random_documents_and_rules() {
    if !oracle_available() {
        return;
    }
    let batches = env_number("XML2PROM_LIBXML2_BATCHES", BATCHES as u64);
    let seed = env_number("XML2PROM_LIBXML2_SEED", SEED);
    let mut seed_bytes = [0; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = batch();
    let mut divergences = Vec::new();
    let mut coverage = Coverage::default();
    for _ in 0..batches {
        let batch = strategy.new_tree(&mut runner).expect("a batch").current();
        divergences.extend(check_batch(&batch, &mut coverage));
    }
    let cases = batches as usize * DOCS * RULES;
    eprintln!(
        "libxml2 differential: {cases} cases (document x rule) in {batches} batches, seed \
         {seed}: {} divergences; {coverage:?}",
        divergences.len()
    );
    if !divergences.is_empty() {
        let shown = env_number("XML2PROM_LIBXML2_SHOW", 20) as usize;
        let mut report = String::new();
        for divergence in divergences.iter().take(shown) {
            let _ = writeln!(report, "{divergence}");
        }
        panic!(
            "{} of {cases} cases differ from libxml2; the first ones:\n{report}",
            divergences.len()
        );
    }
    // The documents are well-formed, and most rules find something in them: otherwise the
    // comparison would compare empty results.
    assert_eq!(coverage.refused, 0, "libxml2 refused generated documents");
    assert!(
        coverage.with_samples * 5 > cases * 2,
        "few cases give samples: {coverage:?}"
    );
    assert!(
        coverage.with_nonzero * 5 > cases,
        "few cases give non-zero values: {coverage:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Fixed cases: the examples of issue 11

/// Runs one document with one rule through the oracle and both engines; asserts that libxml2
/// gives `expected` (so the case tests what it says) and that both engines agree with it.
#[track_caller]
fn fixed(doc: &str, rule: Rule, expected: &[(&[(&str, &str)], f64)]) {
    if !oracle_available() {
        return;
    }
    let batch = Batch {
        docs: vec![doc.to_owned()],
        rules: vec![rule],
    };
    let want: Samples = expected
        .iter()
        .map(|(labels, value)| {
            let labels = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            (("m000".to_owned(), labels), *value)
        })
        .collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("doc.xml");
    fs::write(&path, doc).expect("write the document");
    let oracle = run_oracle(dir.path(), &[batch.rules[0].oracle("m000")], &[path]);
    assert!(
        same(&oracle[0], &Answer::Samples(want)),
        "libxml2 gives {:?}, the case expects {expected:?}",
        oracle[0]
    );
    let divergences = check_batch(&batch, &mut Coverage::default());
    if let Some(divergence) = divergences.first() {
        panic!("{divergence}");
    }
}

fn document_rule(value: &str) -> Rule {
    Rule {
        kind: "document",
        select: String::new(),
        value: value.to_owned(),
        field: String::new(),
    }
}

fn count_rule(select: &str, field: &str) -> Rule {
    Rule {
        kind: "count",
        select: select.to_owned(),
        value: String::new(),
        field: field.to_owned(),
    }
}

#[test]
fn issue_11_d_cr_lf_in_text_reads_as_a_line_feed() {
    fixed(
        "<r><note>line1\r\nline2</note></r>",
        count_rule("/r/note", "."),
        &[(&[("v", "line1\nline2")], 1.0)],
    );
    fixed(
        "<r><note>a\rb&#13;c</note></r>",
        count_rule("/r/note", "."),
        &[(&[("v", "a\nb\rc")], 1.0)],
    );
}

#[test]
fn issue_11_d_a_tab_in_an_attribute_value_reads_as_a_space() {
    fixed(
        "<r><row k=\"a\tb\"/></r>",
        document_rule("count(//row[@k = 'a b'])"),
        &[(&[], 1.0)],
    );
    fixed(
        "<r><row k=\"a\r\nb&#9;c&#10;\"/></r>",
        count_rule("//row", "@k"),
        &[(&[("v", "a b\tc\n")], 1.0)],
    );
}

#[test]
fn issue_11_d_the_rule_of_the_issue_labels_the_text_with_an_escaped_line_feed() {
    // The example as the issue writes it, on both engines: the label is `line1\nline2`.
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::write(
        dir.path().join("store.xml"),
        "<r><note>line1\r\nline2</note></r>",
    )
    .expect("xml");
    fs::write(
        dir.path().join("rules.yaml"),
        "version: 1\nmetrics:\n  - name: m_info\n    help: h\n    type: gauge\n    select: /r/note\n    \
         fields: {t: .}\n    labels: {text: \"{{ t }}\"}\n",
    )
    .expect("rules");
    for engine in ["auto", "dom"] {
        let output = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
            .current_dir(dir.path())
            .args([
                "run",
                "--rules",
                "rules.yaml",
                "--input",
                "store.xml",
                "-o",
                "-",
            ])
            .args(["--engine", engine])
            .output()
            .expect("run xml2prom");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("m_info{text=\"line1\\nline2\"} 1\n"),
            "--engine {engine}: {stdout}"
        );
    }
}

#[test]
fn issue_11_a_not_equal_over_node_sets() {
    fixed(
        "<store><row><status>ok</status></row><row/><row><status>deleted</status></row></store>",
        document_rule("count(/store/row[status != 'deleted'])"),
        &[(&[], 1.0)],
    );
    fixed(
        "<r><g><x>1</x><x>2</x></g></r>",
        document_rule("count(//g[x != '1'])"),
        &[(&[], 1.0)],
    );
}

#[test]
fn issue_11_b_relational_over_node_sets() {
    fixed(
        "<r><g><x>1</x><x>2</x></g></r>",
        document_rule("count(//g[x > 1])"),
        &[(&[], 1.0)],
    );
    fixed(
        "<r/>",
        document_rule("number(true() > false())"),
        &[(&[], 1.0)],
    );
}

#[test]
fn issue_11_c_string_to_number() {
    fixed(
        // `+5` and `Infinity` are not numbers; `1e3` is, as libxml2 reads it (the one departure
        // from XPath 1.0's number() the README lists), so `1e3` and `200` are above 100.
        "<r><row size=\"1e3\"/><row size=\"+5\"/><row size=\"Infinity\"/><row size=\"200\"/></r>",
        document_rule("count(//row[@size > 100])"),
        &[(&[], 2.0)],
    );
    fixed(
        "<r><row size=\"+5\"/><row size=\"2\"/></r>",
        document_rule("sum(//row/@size)"),
        &[(&[], f64::NAN)],
    );
}

#[test]
fn issue_11_i_fractional_predicates_select_nothing() {
    fixed(
        "<r><a/><a/><a/></r>",
        document_rule("count(//a[1.5])"),
        &[(&[], 0.0)],
    );
    fixed(
        "<r><a/><a/><a/></r>",
        document_rule("count(//a[last() div 2])"),
        &[(&[], 0.0)],
    );
}
