//! sxd-document's own parser behind the scan, used only by tests: [`parse`] checks bytes as the
//! scan does and then builds an `sxd_document::Package`, the reference the DOM engine's tree
//! (built from the scan) is compared with. With it go the repairs and messages it needs: the
//! default namespaces sxd-document resolves wrongly, a blanked-out DOCTYPE, and its error texts.

use std::ops::Range;
use std::rc::Rc;

use quick_xml::events::Event;
use quick_xml::reader::Reader;
use sxd_document::{Package, QName};

use super::error::{
    EMPTY_NAMESPACE, MALFORMED_DECLARATION, MISSING_SPACE, UNDECLARED_PREFIX, XmlError,
};
use super::input::UTF8_BOM;
use super::names::expand_references;
use super::position::{InMemory, Locate, line_column, to_usize};
use super::{NoSink, XmlLimits, scan_bytes};

/// Checks the bytes against the limits and parses them into a DOM with sxd-document's own
/// parser. The DOM engine builds its tree from the scan instead (`engine::dom::build`); this is the
/// reference its tests compare that tree with.
///
/// The scan of [`scan`] comes first (size, encoding, characters, limits, entity declarations,
/// structure, names and namespace prefixes), then sxd-document. A DOCTYPE without entity
/// declarations is blanked out before sxd-document sees the text, since sxd-document knows only
/// `SYSTEM` DOCTYPEs after an XML declaration; nothing in it is used.
pub fn parse(bytes: &[u8], limits: &XmlLimits) -> Result<Package, XmlError> {
    let scanned = scan_bytes(bytes, limits, &mut NoSink)?;
    let text = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    // The scan has checked every byte; this cannot fail.
    let text = std::str::from_utf8(text).map_err(|error| {
        let (line, column) = InMemory::new(bytes).after(error.valid_up_to() as u64);
        XmlError::NotUtf8 { line, column }
    })?;
    let result = match scanned.doctype {
        None => sxd_document::parser::parse(text),
        Some(range) => {
            let range = to_usize(range.start)..to_usize(range.end);
            sxd_document::parser::parse(&blank_out(text, range))
        }
    };
    // Blanking keeps every byte offset, so sxd-document's offsets point into `text` either way.
    let package = result
        .map_err(|error| not_well_formed(text, error.location(), describe_sxd_error(&error)))?;
    if scanned.default_namespace_quirk {
        fix_default_namespaces(text, &package);
    }
    Ok(package)
}

/// Gives unprefixed elements the default namespace the XML Namespaces spec says they have,
/// where sxd-document 0.3.2 gets it wrong: it ignores `xmlns="..."` on an element that has a
/// prefix (`<s:store xmlns:s="urn:s" xmlns="urn:d"><row/>` puts `row` in no namespace), and
/// `xmlns=""` does not undeclare the default namespace for descendants. Either would make an
/// XPath query silently match the wrong elements.
///
/// This reads the text a second time with quick-xml, in step with a walk of the DOM in
/// document order, keeping one default namespace per open element. The text has passed the
/// pre-scan, so the two walks agree; if they ever do not, the walk stops.
/// See <https://www.w3.org/TR/xml-names/#defaulting>.
fn fix_default_namespaces(text: &str, package: &Package) {
    let document = package.as_document();
    let mut reader = Reader::from_str(text);
    // Elements still to visit, next one last; children are pushed in reverse.
    let mut pending: Vec<_> = document
        .root()
        .children()
        .into_iter()
        .rev()
        .filter_map(|c| c.element())
        .collect();
    // The default namespace inside each open element, innermost last.
    let mut in_scope: Vec<Option<Rc<str>>> = Vec::new();
    loop {
        let (tag, empty) = match reader.read_event() {
            Ok(Event::Start(tag)) => (tag, false),
            Ok(Event::Empty(tag)) => (tag, true),
            Ok(Event::End(_)) => {
                in_scope.pop();
                continue;
            }
            Ok(Event::Eof) | Err(_) => return,
            Ok(_) => continue,
        };
        let Some(element) = pending.pop() else { return };
        let children = element
            .children()
            .into_iter()
            .rev()
            .filter_map(|c| c.element());
        pending.extend(children);
        let declared = tag
            .attributes()
            .flatten()
            .find(|attribute| attribute.key.as_ref() == "xmlns")
            .map(|attribute| expand_references(&attribute.value));
        let default = match declared {
            Some(uri) if uri.is_empty() => None,
            Some(uri) => Some(Rc::from(uri)),
            None => in_scope.last().cloned().flatten(),
        };
        let name = element.name();
        if !tag.name().as_ref().contains(':') && name.namespace_uri() != default.as_deref() {
            element.set_name(QName::with_namespace_uri(
                default.as_deref(),
                name.local_part(),
            ));
        }
        if !empty {
            in_scope.push(default);
        }
    }
}

/// A copy of `text` with the bytes in `range` replaced by spaces, line feeds kept, so that byte
/// offsets and line numbers stay as they were. If `range` does not fall on character boundaries
/// (which quick-xml never reports), the text is returned unchanged: sxd-document never expands
/// or fetches anything from a DOCTYPE either, it only knows fewer forms of it.
fn blank_out(text: &str, range: Range<usize>) -> String {
    let (Some(before), Some(doctype), Some(after)) = (
        text.get(..range.start),
        text.get(range.clone()),
        text.get(range.end..),
    ) else {
        return text.to_owned();
    };
    let mut blanked = String::with_capacity(text.len());
    blanked.push_str(before);
    for c in doctype.chars() {
        if c == '\n' {
            blanked.push('\n');
        } else {
            blanked.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    blanked.push_str(after);
    blanked
}

/// Turns an sxd-document error into a message.
///
/// sxd-document 0.3.2 keeps its error kinds private; their names are visible only in the
/// `Debug` output, `Error { location: 4, errors: {UnknownNamedReference} }`, which lists every
/// alternative that failed at that offset. The names are sxd-document's, never file content.
fn describe_sxd_error(error: &sxd_document::parser::Error) -> String {
    let debug = format!("{error:?}");
    let listed = debug.split_once("errors:").map_or("", |(_, listed)| listed);
    let (kinds, literals) = sxd_error_kinds(listed);
    let has = |kind: &str| kinds.contains(&kind);
    let message = if has("UnknownNamedReference") {
        "unknown entity reference; only &amp; &lt; &gt; &apos; &quot; and character references are \
         allowed"
    } else if has("InvalidDecimalReference") || has("InvalidHexReference") {
        "the character reference names a character XML 1.0 does not allow"
    } else if has("MismatchedElementEndName") {
        "the closing tag does not match the open element"
    } else if has("DuplicateAttribute") {
        "duplicate attribute; an attribute may appear only once per element"
    } else if has("RedefinedNamespace") {
        "the same namespace prefix is declared twice on one element"
    } else if has("RedefinedDefaultNamespace") {
        "the default namespace (xmlns) is declared twice on one element"
    } else if has("EmptyNamespace") {
        EMPTY_NAMESPACE
    } else if has("UnknownNamespacePrefix") {
        UNDECLARED_PREFIX
    } else if has("UnclosedElement") {
        "the document ends before all elements are closed (truncated file?)"
    } else if has("InvalidProcessingInstructionTarget") {
        MALFORMED_DECLARATION
    } else if has("ExpectedVersionNumber") {
        "the XML declaration needs version=\"1.0\""
    } else if has("ExpectedEncoding") {
        "the encoding name in the XML declaration is not valid"
    } else if has("ExpectedYesNo") {
        "standalone in the XML declaration must be \"yes\" or \"no\""
    } else if has("ExpectedElementName") {
        "expected an element name; names start with a letter or `_`"
    } else if has("ExpectedAttribute") {
        "expected an attribute name, `>` or `/>`; attribute names start with a letter or `_`"
    } else if has("ExpectedElementEnd") || has("ExpectedElementSelfClosed") {
        MISSING_SPACE
    } else if has("ExpectedOpeningQuote") {
        "attribute values must be quoted with \" or '"
    } else if has("ExpectedAttributeValue") || has("ExpectedClosingQuote") {
        "an attribute value is not closed, or contains `<` (write it as &lt;)"
    } else if has("ExpectedNamedReferenceValue")
        || has("ExpectedDecimalReferenceValue")
        || has("ExpectedHexReferenceValue")
    {
        "`&` must start a reference such as &amp; and end with `;`; write a literal & as &amp;"
    } else if has("ExpectedCommentBody") {
        "a comment must not contain `--`"
    } else if has("ExpectedElement") && has("ExpectedComment") {
        "expected the root element"
    } else if has("ExpectedComment") && has("ExpectedWhitespace") {
        "content after the end of the root element; an XML document has exactly one root element"
    } else if let ([], [literal]) = (kinds.as_slice(), literals.as_slice()) {
        return format!("expected `{literal}`");
    } else {
        "the XML parser (sxd-document) stopped here"
    };
    message.to_owned()
}

/// Splits `{Expected("<?xml"), ExpectedComment}` into the error names other than `Expected`
/// (`ExpectedComment`) and the literals of `Expected(...)` (`<?xml`).
fn sxd_error_kinds(listed: &str) -> (Vec<&str>, Vec<&str>) {
    let mut kinds = Vec::new();
    let mut literals = Vec::new();
    let mut rest = listed;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic()) {
        rest = rest.get(start..).unwrap_or_default();
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(end);
        rest = after;
        // `Expected("...")` and `ExpectedClosingQuote("'")`: skip the quoted literal, which
        // may contain anything, keeping the literal of a plain `Expected`.
        if let Some(quoted) = rest.strip_prefix("(\"") {
            let close = quoted.find("\")").unwrap_or(quoted.len());
            let literal = quoted.get(..close).unwrap_or_default();
            rest = quoted.get(close..).unwrap_or_default();
            if name == "Expected" {
                literals.push(literal);
                continue;
            }
        }
        kinds.push(name);
    }
    (kinds, literals)
}

/// A `NotWellFormed` error at byte `offset` of `text`.
fn not_well_formed(text: &str, offset: usize, message: String) -> XmlError {
    let (line, column) = line_column(text, offset);
    XmlError::NotWellFormed {
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use pretty_assertions::assert_eq;

    use crate::xml::test_support::accept;
    use sxd_document::Package;

    #[test]
    fn namespaced_document_is_accepted() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- inventory export -->
<s:store xmlns:s="urn:example:store" xmlns="urn:example:default" s:region="eu">
  <row id="1" name="café &amp; bar"><value>3.5</value></row>
  <row id="2"><value><![CDATA[4 < 5]]></value></row>
</s:store>
"#;
        let package = accept(xml);
        let document = package.as_document();
        let root = document
            .root()
            .children()
            .into_iter()
            .find_map(|child| child.element());
        let root = root.expect("a root element");
        assert_eq!(root.name().namespace_uri(), Some("urn:example:store"));
        assert_eq!(
            root.attribute_value(("urn:example:store", "region")),
            Some("eu")
        );
        let rows: Vec<_> = root
            .children()
            .into_iter()
            .filter_map(|child| child.element())
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name().namespace_uri(), Some("urn:example:default"));
        assert_eq!(rows[0].attribute_value("name"), Some("café & bar"));
    }

    /// The namespace URI of every element, in document order, as `local=uri`.
    fn element_namespaces(package: &Package) -> Vec<String> {
        let document = package.as_document();
        let mut pending: Vec<_> = document
            .root()
            .children()
            .into_iter()
            .filter_map(|child| child.element())
            .collect();
        let mut seen = Vec::new();
        while let Some(element) = pending.pop() {
            let name = element.name();
            seen.push(format!(
                "{}={}",
                name.local_part(),
                name.namespace_uri().unwrap_or("")
            ));
            pending.extend(
                element
                    .children()
                    .into_iter()
                    .rev()
                    .filter_map(|c| c.element()),
            );
        }
        seen
    }

    #[test]
    fn default_namespace_on_a_prefixed_element_reaches_its_children() {
        // sxd-document 0.3.2 alone puts `row` and `v` in no namespace.
        let xml = "<s:store xmlns:s=\"urn:s\" xmlns=\"urn:d&amp;x\"><s:g><row><v/></row></s:g>\
                   <row xmlns=\"urn:e\"/></s:store>";
        assert_eq!(
            element_namespaces(&accept(xml)),
            [
                "store=urn:s",
                "g=urn:s",
                "row=urn:d&x",
                "v=urn:d&x",
                "row=urn:e"
            ]
        );
    }

    #[test]
    fn empty_default_namespace_undeclares_it_for_children() {
        // sxd-document 0.3.2 alone puts `row` in urn:d.
        let xml = "<store xmlns=\"urn:d\"><x xmlns=\"\"><row/></x><row/></store>";
        assert_eq!(
            element_namespaces(&accept(xml)),
            ["store=urn:d", "x=", "row=", "row=urn:d"]
        );
    }

    #[test]
    fn sxd_errors_the_pre_scan_lets_through_get_a_plain_message() {
        // These reach sxd-document only when the pre-scan misses them; check the mapping directly.
        let cases = [
            ("<r>", "truncated file?"),
            ("<r/><s/>", "content after the end of the root element"),
            ("x", "expected the root element"),
            ("<r>&#0</r>", "expected `;`"),
            ("<r><s></r>", "closing tag does not match"),
            ("<r a=\"1\" a=\"2\"/>", "duplicate attribute"),
            ("<r>&x;</r>", "unknown entity reference"),
        ];
        for (xml, words) in cases {
            let error = sxd_document::parser::parse(xml).expect_err(xml);
            let message = describe_sxd_error(&error);
            assert!(
                message.contains(words),
                "{xml}: {message:?} lacks {words:?}"
            );
        }
    }

    #[test]
    fn sxd_error_kinds_skip_quoted_literals() {
        let listed = r#" {Expected("<?xml"), ExpectedClosingQuote("\""), ExpectedComment} }"#;
        let (kinds, literals) = sxd_error_kinds(listed);
        assert_eq!(kinds, ["ExpectedClosingQuote", "ExpectedComment"]);
        assert_eq!(literals, ["<?xml"]);
    }
}
