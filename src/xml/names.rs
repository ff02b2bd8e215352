//! What sxd-document would refuse, checked during the scan: qualified names, namespace
//! prefixes in scope ([`Prefixes`]), entity and character references, and the syntax of the
//! XML declaration. Also the expansion of references in attribute values, as sxd-document does it.

use super::error::{MALFORMED_DECLARATION, dangling_ampersand, excerpt};
use super::input::is_xml_char;
use super::tag::is_xml_space;

/// The five entities XML predefines; sxd-document expands these and nothing else.
/// See <https://www.w3.org/TR/xml/#sec-predefined-ent>.
const PREDEFINED_ENTITIES: [&str; 5] = ["amp", "lt", "gt", "apos", "quot"];

/// The namespace prefixes declared (`xmlns:p="..."`) on the open elements, so that a name with
/// an undeclared prefix is refused, as sxd-document refuses it. The limits bound it: at most
/// `max_attributes` declarations of `max_name_bytes` each per open element.
#[derive(Debug, Default)]
pub(super) struct Prefixes {
    /// The prefixes, one after the other.
    names: String,
    /// Where each prefix ends in `names`.
    ends: Vec<usize>,
    /// The namespace names (as written) bound to the prefixes, one after the other.
    uris: String,
    /// Where each namespace name ends in `uris`.
    uri_ends: Vec<usize>,
    /// How many prefixes were declared before each open element.
    scopes: Vec<usize>,
}

impl Prefixes {
    /// Opens the scope of an element.
    pub(super) fn enter(&mut self) {
        self.scopes.push(self.ends.len());
    }

    /// Declares a prefix in the innermost scope.
    pub(super) fn declare(&mut self, prefix: &str, uri: &str) {
        self.names.push_str(prefix);
        self.ends.push(self.names.len());
        self.uris.push_str(uri);
        self.uri_ends.push(self.uris.len());
    }

    /// The namespace name bound to a prefix, innermost declaration first.
    pub(super) fn uri(&self, prefix: &str) -> Option<&str> {
        (0..self.ends.len()).rev().find_map(|i| {
            let start = i.checked_sub(1).map_or(0, |j| self.ends[j]);
            (self.names.get(start..self.ends[i]) == Some(prefix)).then(|| {
                let uri_start = i.checked_sub(1).map_or(0, |j| self.uri_ends[j]);
                self.uris
                    .get(uri_start..self.uri_ends[i])
                    .unwrap_or_default()
            })
        })
    }

    /// Closes the innermost scope and forgets its prefixes.
    pub(super) fn leave(&mut self) {
        let kept = self.scopes.pop().unwrap_or(0);
        self.ends.truncate(kept);
        self.names.truncate(self.ends.last().copied().unwrap_or(0));
        self.uri_ends.truncate(kept);
        self.uris
            .truncate(self.uri_ends.last().copied().unwrap_or(0));
    }

    pub(super) fn declared(&self, prefix: &str) -> bool {
        let mut start = 0;
        for &end in &self.ends {
            if self.names.get(start..end) == Some(prefix) {
                return true;
            }
            start = end;
        }
        false
    }

    #[cfg(test)]
    pub(super) fn held_bytes(&self) -> usize {
        self.names.capacity()
            + (self.ends.capacity() + self.scopes.capacity()) * std::mem::size_of::<usize>()
    }
}

/// Checks the body of a reference (`amp` in `&amp;`, `#38` in `&#38;`): a predefined entity, or a
/// character reference to a character XML 1.0 allows. sxd-document turns `&#0;` into a NUL.
pub(super) fn check_reference(body: &str) -> Result<(), String> {
    if let Some(number) = body.strip_prefix('#') {
        let (digits, radix) = match number.strip_prefix('x') {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Err(
                "malformed character reference; write &#NNN; (decimal) or &#xHHHH; (hex)"
                    .to_owned(),
            );
        }
        return match u32::from_str_radix(digits, radix) {
            Ok(code) if is_xml_char(code) => Ok(()),
            Ok(code) => Err(format!(
                "the character reference to U+{code:04X} names a character XML 1.0 does not allow"
            )),
            Err(_) => Err(
                "the character reference is beyond U+10FFFF, the last Unicode character".to_owned(),
            ),
        };
    }
    if body.is_empty() {
        return Err(dangling_ampersand());
    }
    if PREDEFINED_ENTITIES.contains(&body) {
        return Ok(());
    }
    Err(format!(
        "unknown entity reference `&{};`; only &amp; &lt; &gt; &apos; &quot; and character \
         references are allowed",
        excerpt(body)
    ))
}

/// The character a reference that passed [`check_reference`] stands for, as sxd-document
/// expands it: `amp` -> `&`, `#10` -> line feed, `#x41` -> `A`.
pub(super) fn referenced_char(body: &str) -> Option<char> {
    match body {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => body.strip_prefix('#').and_then(|number| {
            let code = match number.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => number.parse(),
            };
            code.ok().and_then(char::from_u32)
        }),
    }
}

/// Checks a name as sxd-document reads element and attribute names: a name without `:`, or two
/// joined by one `:`, each starting with a letter or `_` (a `QName`,
/// <https://www.w3.org/TR/xml-names/#NT-QName>). Returns where the `:` is, if there is one, or
/// where the name stops being one; an empty name or part fails where it should start.
pub(super) fn check_qname(name: &str) -> Result<Option<usize>, usize> {
    let bytes = name.as_bytes();
    // Most names are ASCII letters, digits, `_`, `-` and `.`: one look-up per byte finds out.
    let plain = bytes
        .iter()
        .position(|&byte| NAME_BYTES[usize::from(byte)] & NAME_CHAR == 0)
        .unwrap_or(bytes.len());
    if plain == bytes.len()
        && let Some(&first) = bytes.first()
        && NAME_BYTES[usize::from(first)] & NAME_START != 0
    {
        return Ok(None);
    }
    let mut colon = None;
    let mut part_start = true;
    for (at, &byte) in bytes.iter().enumerate() {
        let fits = match byte {
            b':' => !part_start && colon.is_none(),
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => true,
            b'0'..=b'9' | b'-' | b'.' => !part_start,
            // Decode characters only for a name that is not ASCII.
            0x80.. => return check_qname_chars(name),
            _ => false,
        };
        if !fits {
            return Err(at);
        }
        if byte == b':' {
            colon = Some(at);
        }
        part_start = byte == b':';
    }
    if part_start {
        return Err(name.len());
    }
    Ok(colon)
}

/// [`NAME_BYTES`]: the byte may start a name part (ASCII letters and `_`).
const NAME_START: u8 = 1;
/// [`NAME_BYTES`]: the byte may stand in a name part (ASCII letters, digits, `_`, `-`, `.`).
const NAME_CHAR: u8 = 2;

/// What each byte may be in an ASCII name without `:`; see [`check_qname`].
static NAME_BYTES: [u8; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        if b.is_ascii_alphabetic() || b == b'_' {
            table[byte] = NAME_START | NAME_CHAR;
        } else if b.is_ascii_digit() || b == b'-' || b == b'.' {
            table[byte] = NAME_CHAR;
        }
        byte += 1;
    }
    table
};

/// [`check_qname`] for a name that is not all ASCII.
fn check_qname_chars(name: &str) -> Result<Option<usize>, usize> {
    let mut colon = None;
    let mut part_start = true;
    let mut rest = name;
    while let Some(&byte) = rest.as_bytes().first() {
        let at = name.len() - rest.len();
        // Most names are ASCII; decode a character only when it is not.
        let c = if byte.is_ascii() {
            char::from(byte)
        } else {
            rest.chars().next().unwrap_or_default()
        };
        let fits = if part_start {
            is_name_start_char(c)
        } else if c == ':' {
            colon.is_none()
        } else {
            is_name_char(c)
        };
        if !fits {
            return Err(at);
        }
        if c == ':' {
            colon = Some(at);
        }
        part_start = c == ':';
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    if part_start {
        return Err(name.len());
    }
    Ok(colon)
}

/// Where `name` stops being an XML name (<https://www.w3.org/TR/xml/#NT-Name>), if it does:
/// like [`check_qname`], but `:` may stand anywhere.
pub(super) fn name_error(name: &str) -> Option<usize> {
    let mut chars = name.char_indices();
    match chars.next() {
        Some((_, c)) if c == ':' || is_name_start_char(c) => {}
        _ => return Some(0),
    }
    chars
        .find(|&(_, c)| !(c == ':' || is_name_char(c)))
        .map(|(at, _)| at)
}

/// Whether a character may start a name part (`NCNameStartChar`), with sxd-document 0.3.2's
/// ranges, which end the last range at U+EFFFF.
fn is_name_start_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic() || c == '_';
    }
    matches!(c,
        'A'..='Z'
        | '_'
        | 'a'..='z'
        | '\u{C0}'..='\u{D6}'
        | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}'
        | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// Whether a character may continue a name part (`NCNameChar`), as sxd-document has it.
fn is_name_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    }
    is_name_start_char(c)
        || matches!(c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Checks an XML declaration (what stands between `<?` and `?>`, from `xml` on) against the
/// grammar sxd-document reads: `version`, then optionally `encoding`, then optionally
/// `standalone`, in that order and each after whitespace
/// (<https://www.w3.org/TR/xml/#NT-XMLDecl>). Returns the offset in `content` of the first
/// problem, and what it is.
pub(super) fn check_declaration_syntax(content: &str) -> Result<(), (usize, &'static str)> {
    let malformed = |at| (at, MALFORMED_DECLARATION);
    let mut cursor = DeclarationCursor { content, at: 3 };
    if !cursor.space() {
        return Err(malformed(cursor.at));
    }
    let (at, version) = cursor.pseudo_attribute("version").map_err(malformed)?;
    let digits = version.strip_prefix("1.").unwrap_or_default();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err((at, "the XML declaration needs version=\"1.0\""));
    }
    let mut spaced = cursor.space();
    if spaced && cursor.rest().starts_with("encoding") {
        let (at, encoding) = cursor.pseudo_attribute("encoding").map_err(malformed)?;
        let mut bytes = encoding.bytes();
        let valid = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err((at, "the encoding name in the XML declaration is not valid"));
        }
        spaced = cursor.space();
    }
    if spaced && cursor.rest().starts_with("standalone") {
        let (at, standalone) = cursor.pseudo_attribute("standalone").map_err(malformed)?;
        if standalone != "yes" && standalone != "no" {
            return Err((
                at,
                "standalone in the XML declaration must be \"yes\" or \"no\"",
            ));
        }
        cursor.space();
    }
    if cursor.rest().is_empty() {
        Ok(())
    } else {
        Err(malformed(cursor.at))
    }
}

/// A place in an XML declaration, for [`check_declaration_syntax`].
struct DeclarationCursor<'a> {
    content: &'a str,
    at: usize,
}

impl<'a> DeclarationCursor<'a> {
    fn rest(&self) -> &'a str {
        self.content.get(self.at..).unwrap_or_default()
    }

    /// Skips whitespace; returns whether there was some.
    fn space(&mut self) -> bool {
        let rest = self.rest();
        let skipped = rest.len() - rest.trim_start_matches(is_xml_space).len();
        self.at += skipped;
        skipped > 0
    }

    /// Reads `name`, `=` with optional whitespace around it, and a quoted value. Returns the
    /// value and where it starts, or where the pseudo-attribute stops being one.
    fn pseudo_attribute(&mut self, name: &str) -> Result<(usize, &'a str), usize> {
        if !self.rest().starts_with(name) {
            return Err(self.at);
        }
        self.at += name.len();
        self.space();
        if !self.rest().starts_with('=') {
            return Err(self.at);
        }
        self.at += 1;
        self.space();
        let rest = self.rest();
        let Some(quote) = rest.chars().next().filter(|&c| c == '"' || c == '\'') else {
            return Err(self.at);
        };
        let value_start = self.at + 1;
        let Some(length) = rest.get(1..).and_then(|value| value.find(quote)) else {
            return Err(value_start);
        };
        let value = self
            .content
            .get(value_start..value_start + length)
            .unwrap_or_default();
        self.at = value_start + length + 1;
        Ok((value_start, value))
    }
}

/// Expands the references in an attribute value that passed the scan, the way sxd-document
/// does: predefined entities and character references, nothing else.
pub(super) fn expand_references(raw: &str) -> String {
    let mut expanded = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        expanded.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 1..).unwrap_or_default();
        let Some(end) = after.find(';') else {
            expanded.push('&');
            rest = after;
            continue;
        };
        expanded.extend(referenced_char(after.get(..end).unwrap_or_default()));
        rest = after.get(end + 1..).unwrap_or_default();
    }
    expanded.push_str(rest);
    expanded
}

#[cfg(test)]
mod tests {
    use super::*;

    use pretty_assertions::assert_eq;

    use crate::xml::test_support::{assert_message, assert_paths_agree};
    use crate::xml::{NoSink, XmlLimits, scan};

    #[test]
    fn expand_references_matches_sxd_document() {
        assert_eq!(
            expand_references("a&amp;b&lt;&#x41;&#66;&quot;&apos;&gt;"),
            "a&b<AB\"'>"
        );
        assert_eq!(expand_references("plain"), "plain");
        assert_eq!(expand_references("a&b"), "a&b");
    }

    #[test]
    fn the_quick_name_check_agrees_with_the_check_by_characters() {
        // Every name of up to three characters from an alphabet of each kind of byte.
        let alphabet = [
            "a", "Z", "_", "0", "-", ".", ":", " ", "=", "é", "\u{B7}", "\u{300}",
        ];
        let mut names = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> = names
                .iter()
                .flat_map(|name| alphabet.iter().map(move |c| format!("{name}{c}")))
                .collect();
            names.extend(longer);
        }
        for name in names {
            assert_eq!(check_qname(&name), check_qname_chars(&name), "{name:?}");
        }
    }

    #[test]
    fn names_prefixes_and_declarations_sxd_document_refuses_are_refused_by_the_scan() {
        let cases = [
            (
                "<a:b:c xmlns:a=\"u\"/>",
                (1, 5),
                "`a:b:c` is not a valid element name",
            ),
            ("<r:/>", (1, 4), "`r:` is not a valid element name"),
            ("<:r/>", (1, 2), "expected an element name"),
            (
                "<r a@b=\"1\"/>",
                (1, 5),
                "`a@b` is not a valid attribute name",
            ),
            (
                "<r a:=\"1\"/>",
                (1, 6),
                "`a:` is not a valid attribute name",
            ),
            ("<r>\n<p:x/></r>", (2, 2), "undeclared namespace prefix"),
            ("<r p:a=\"1\"/>", (1, 4), "undeclared namespace prefix"),
            (
                "<r><c xmlns:p=\"u\"/><p:x/></r>",
                (1, 21),
                "undeclared namespace prefix",
            ),
            ("<xml:r/>", (1, 2), "undeclared namespace prefix"),
            (
                "<r a=\"1\"\nb=\"2\" c=\"3\"d=\"4\"/>",
                (2, 12),
                "expected whitespace, `>` or `/>`",
            ),
            (
                "<?xml version=\"1.0\" foo=\"x\"?><r/>",
                (1, 21),
                "malformed XML declaration",
            ),
            (
                "<?xml version=\"1.0\" standalone=\"yes\" encoding=\"UTF-8\"?><r/>",
                (1, 38),
                "malformed XML declaration",
            ),
            (
                "<?xml version=\"1.0\"encoding=\"UTF-8\"?><r/>",
                (1, 20),
                "malformed XML declaration",
            ),
            (
                "<?xml version=\"1.x\"?><r/>",
                (1, 16),
                "needs version=\"1.0\"",
            ),
            (
                "<?xml version='1.0' standalone='maybe'?><r/>",
                (1, 33),
                "\"yes\" or \"no\"",
            ),
            (
                "<r/><?XML x?>",
                (1, 7),
                "a processing instruction named `xml`",
            ),
            ("<??><r/>", (1, 3), "expected a name right after `<?`"),
            (
                "<r><?a=b?></r>",
                (1, 7),
                "`a=b` is not a valid processing instruction target",
            ),
            (
                "\u{FEFF}\u{FEFF}<r/>",
                (1, 1),
                "content before the root element",
            ),
        ];
        for (xml, position, words) in cases {
            // What sxd-document sees: the text after a byte order mark.
            let text = xml.strip_prefix('\u{FEFF}').unwrap_or(xml);
            assert!(
                sxd_document::parser::parse(text).is_err(),
                "sxd-document accepts {xml:?}"
            );
            let error = scan(xml.as_bytes(), &XmlLimits::default(), &mut NoSink).expect_err(xml);
            assert_eq!(error.position(), Some(position), "{xml}: {error}");
            assert_message(&error, &[words]);
            assert_paths_agree(xml.as_bytes(), &XmlLimits::default());
        }
    }

    #[test]
    fn what_sxd_document_accepts_the_scan_accepts() {
        let inputs = [
            "<?xml version='1.0' encoding='UTF-8' standalone='no' ?><r/>",
            "<?xml version=\"1.10\"?><r/>",
            "<?target ?><r><?a:b-c.d?><!----></r><?end x?>",
            "<r xml:lang=\"en\"><xml:c/></r>",
            "<r a=\"1\" a:b=\"2\" xmlns:a=\"u\"/>",
            "<p:r xmlns:p=\"u\"><p:c p:a=\"1\"/></p:r>",
            "<xml:r xmlns:xml=\"http://www.w3.org/XML/1998/namespace\"/>",
            "<r a=\"1\"\tb=\"2\"\nc='3' />",
            "<_.-·\u{FEFF}/>",
            "<r>]]&gt; ]] ]> &#x10FFFF;</r>",
        ];
        for xml in inputs {
            sxd_document::parser::parse(xml).unwrap_or_else(|error| panic!("{xml}: {error:?}"));
            assert_eq!(
                assert_paths_agree(xml.as_bytes(), &XmlLimits::default()),
                "accepted",
                "{xml}"
            );
        }
    }
}
