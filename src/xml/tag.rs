//! The fast paths over bytes that the scanner takes for almost every piece of input: plain tags
//! read without copying ([`lex_plain_tag`]), the search for the next markup byte ([`find_any`]),
//! and the normalisation of line ends in text and of whitespace in attribute values.

use std::ops::Range;

use quick_xml::errors::SyntaxError;
use quick_xml::events::attributes::AttrError;

use super::AttributeRanges;

/// Where the first `<` or `&` is in `bytes` (`None` if there is none), and whether a `\r` and
/// whether a `]` stand before it (or anywhere in `bytes` when there is none), in one pass: a run
/// of text without either, nearly all of them, then goes on without being looked at again.
pub(super) fn find_markup(bytes: &[u8]) -> Markup {
    let mut from = 0;
    let mut markup = Markup::default();
    loop {
        let Some(found) = bytes
            .get(from..)
            .and_then(|rest| find_any(rest, [b'<', b'&', b'\r', b']']))
        else {
            return markup;
        };
        let at = from + found;
        match bytes.get(at) {
            Some(b'\r') => markup.has_cr = true,
            Some(b']') => markup.has_bracket = true,
            _ => {
                markup.at = Some(at);
                return markup;
            }
        }
        from = at + 1;
    }
}

/// What [`find_markup`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Markup {
    /// Where the first `<` or `&` is.
    pub(super) at: Option<usize>,
    /// Whether a `\r` stands before it.
    pub(super) has_cr: bool,
    /// Whether a `]` stands before it.
    pub(super) has_bracket: bool,
}

/// `text` read as XML 1.0 §2.11 says: each CR LF and each CR alone is one LF. Borrows text
/// without a CR (for comments, CDATA sections and processing instructions, which come whole).
pub(super) fn normalize_line_ends(text: &str) -> std::borrow::Cow<'_, str> {
    if memchr::memchr(b'\r', text.as_bytes()).is_none() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut normalized = String::with_capacity(text.len());
    push_normalized_line_ends(text, &mut normalized);
    std::borrow::Cow::Owned(normalized)
}

/// Appends `text` to `out` with each CR LF and each CR alone as one LF (XML 1.0 §2.11).
pub(super) fn push_normalized_line_ends(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(at) = memchr::memchr(b'\r', rest.as_bytes()) {
        out.push_str(rest.get(..at).unwrap_or_default());
        out.push('\n');
        let after = rest.get(at + 1..).unwrap_or_default();
        rest = after.strip_prefix('\n').unwrap_or(after);
    }
    out.push_str(rest);
}

/// Copies a checked start tag's `raw` text into `copy` with its attribute values normalised as
/// XML 1.0 §3.3.3 says for CDATA attributes (every attribute, without a DTD): after line-end
/// normalisation (CR LF and a CR alone read as LF), each literal tab, line feed and carriage
/// return reads as a space. References are left as written, so that `&#9;` still expands to a
/// tab. `copy_ranges` gets the attributes' ranges in the copy; text between the values is
/// copied as it is.
pub(super) fn normalize_attribute_values(
    raw: &str,
    ranges: &[AttributeRanges],
    copy: &mut String,
    copy_ranges: &mut Vec<AttributeRanges>,
) {
    copy.clear();
    copy_ranges.clear();
    let mut copied = 0;
    for (key, value) in ranges {
        // Ranges are in the order of the tag; a value ends before the next key starts.
        copy.push_str(raw.get(copied..value.start).unwrap_or_default());
        let shift = copy.len() as isize - value.start as isize;
        let key_start = key.start.saturating_add_signed(shift);
        let key_range = key_start..key_start + key.len();
        let value_start = copy.len();
        let mut chars = raw
            .get(value.clone())
            .unwrap_or_default()
            .chars()
            .peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => {
                    chars.next_if_eq(&'\n');
                    copy.push(' ');
                }
                '\t' | '\n' => copy.push(' '),
                c => copy.push(c),
            }
        }
        copy_ranges.push((key_range, value_start..copy.len()));
        copied = value.end;
    }
    copy.push_str(raw.get(copied..).unwrap_or_default());
}

/// A tag that [`lex_plain_tag`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PlainTag {
    /// `<name ...>` or `<name .../>` (`empty`), `length` bytes from `<` to `>`.
    Start {
        length: usize,
        name_len: usize,
        empty: bool,
        /// Whether the element name is a plain name: ASCII letters, digits, `_`, `-` and `.`,
        /// starting with a letter or `_`, no `:` (a name `check_qname` accepts at a glance).
        plain_name: bool,
        /// Bit `i` says the `i`th attribute needs no more checks than for a repeated name and
        /// the limits: its name is a plain name other than `xmlns`, and its value holds no
        /// `<`, `&`, tab, line feed or carriage return.
        plain_attributes: u32,
    },
    /// `</name>`, maybe with whitespace before the `>`.
    End { length: usize },
}

/// Most attributes [`lex_plain_tag`] reads; a tag with more takes the general way.
const PLAIN_ATTRIBUTES: usize = 32;

/// Reads the tag at the start of `bytes` (at its `<`) in one pass, if it is written the plain
/// way almost every tag is: ASCII name characters and `:` in names, one or more whitespace
/// before each attribute, `=` right after the attribute name, a quoted value, at most
/// [`PLAIN_ATTRIBUTES`] attributes, and all of it in `bytes`. Puts the attributes in `lexed` as
/// byte ranges of name and value in the tag's raw text (after the `<`). Returns `None` for any
/// other tag, which the general way reads: then nothing was checked or handed on.
///
/// Where it reads a tag, quick-xml would find the same end (quotes stand only around values),
/// and its attribute iterator the same attributes with no error but a repeated name; names are
/// still to be checked as names and for repeats, and values for `<` and references.
pub(super) fn lex_plain_tag(bytes: &[u8], lexed: &mut Vec<AttributeRanges>) -> Option<PlainTag> {
    // Every byte is classified by one look-up in `LEX`; a name's bytes are or-ed together, so
    // that whether it holds a `:` is known when it ends.
    let class = |at: usize| bytes.get(at).map_or(0, |&b| LEX[usize::from(b)]);
    let end_tag = bytes.get(1) == Some(&b'/');
    let mut at = if end_tag { 2 } else { 1 };
    let name_start = at;
    let first = class(at);
    let mut seen = 0;
    while class(at) & NAME != 0 {
        seen |= class(at);
        at += 1;
    }
    let name_len = at - name_start;
    if name_len == 0 {
        return None;
    }
    if end_tag {
        while class(at) & SPACE != 0 {
            at += 1;
        }
        return (*bytes.get(at)? == b'>').then_some(PlainTag::End { length: at + 1 });
    }
    let plain_name = first & START != 0 && seen & COLON == 0;
    let mut plain_attributes = 0u32;
    lexed.clear();
    loop {
        // After the name or a value: whitespace, or the end of the tag.
        let mut spaced = false;
        while class(at) & SPACE != 0 {
            spaced = true;
            at += 1;
        }
        match *bytes.get(at)? {
            b'>' => {
                return Some(PlainTag::Start {
                    length: at + 1,
                    name_len,
                    empty: false,
                    plain_name,
                    plain_attributes,
                });
            }
            b'/' if bytes.get(at + 1) == Some(&b'>') => {
                return Some(PlainTag::Start {
                    length: at + 2,
                    name_len,
                    empty: true,
                    plain_name,
                    plain_attributes,
                });
            }
            _ if !spaced || lexed.len() == PLAIN_ATTRIBUTES => return None,
            _ => {}
        }
        let key_start = at;
        let first = class(at);
        let mut seen = 0;
        while class(at) & NAME != 0 {
            seen |= class(at);
            at += 1;
        }
        if at == key_start || bytes.get(at) != Some(&b'=') {
            return None;
        }
        let key_end = at;
        at += 1;
        let quote = *bytes.get(at).filter(|&&b| b == b'"' || b == b'\'')?;
        let value_start = at + 1;
        // Values are short: a byte at a time, noting what needs a closer look on the way.
        at = value_start;
        let mut marks = 0;
        loop {
            let byte = *bytes.get(at)?;
            let c = LEX[usize::from(byte)];
            if c & QUOTE != 0 && byte == quote {
                break;
            }
            marks |= c;
            at += 1;
        }
        let value_end = at;
        let plain = first & START != 0
            && seen & COLON == 0
            && marks & MARK == 0
            && bytes.get(key_start..key_end) != Some(b"xmlns".as_slice());
        if plain {
            plain_attributes |= 1 << lexed.len();
        }
        // Ranges in the raw text, which starts after the `<`.
        lexed.push((key_start - 1..key_end - 1, value_start - 1..value_end - 1));
        at = value_end + 1;
    }
}

/// [`LEX`]: the byte may start a plain name (ASCII letters and `_`).
const START: u8 = 1;
/// [`LEX`]: the byte may stand in a name the plain way of reading tags reads (ASCII letters,
/// digits, `_`, `-`, `.`, `:`).
const NAME: u8 = 2;
/// [`LEX`]: the byte is `:`.
const COLON: u8 = 4;
/// [`LEX`]: the byte is XML whitespace.
const SPACE: u8 = 8;
/// [`LEX`]: the byte is a quote.
const QUOTE: u8 = 16;
/// [`LEX`]: the byte in an attribute value needs a closer look: `<`, `&`, tab, line feed,
/// carriage return.
const MARK: u8 = 32;

/// What each byte is to [`lex_plain_tag`].
static LEX: [u8; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = if b.is_ascii_alphabetic() || b == b'_' {
            START | NAME
        } else if b.is_ascii_digit() || b == b'-' || b == b'.' {
            NAME
        } else if b == b':' {
            NAME | COLON
        } else if b == b' ' {
            SPACE
        } else if b == b'\t' || b == b'\n' || b == b'\r' {
            SPACE | MARK
        } else if b == b'"' || b == b'\'' {
            QUOTE
        } else if b == b'<' || b == b'&' {
            MARK
        } else {
            0
        };
        byte += 1;
    }
    table
};

/// How long the element name at the start of `raw` (what stands after the `<`) is: quick-xml
/// takes everything up to the first whitespace, and the scan checks that it is a name.
pub(super) fn name_len(raw: &str) -> usize {
    raw.bytes().position(is_xml_byte_space).unwrap_or(raw.len())
}

/// Where the next attribute's name is in `raw` (what stands between `<` and `>` or `/>`),
/// looking from `from`, and where its `=` ends; `None` when no attribute follows. Reads as
/// quick-xml's attribute iterator reads XML (not HTML), with its errors and their offsets: the
/// name runs from the first byte that is not whitespace to `=` or whitespace, and only
/// whitespace may stand between it and the `=`.
pub(super) fn attribute_key(
    raw: &[u8],
    from: usize,
) -> Option<Result<(Range<usize>, usize), AttrError>> {
    let rest = raw.get(from..)?;
    let start = from + rest.iter().position(|&b| !is_xml_byte_space(b))?;
    let after = start + 1;
    let rest = raw.get(after..).unwrap_or_default();
    let Some(end) = rest
        .iter()
        .position(|&b| b == b'=' || is_xml_byte_space(b))
        .map(|end| after + end)
    else {
        return Some(Err(AttrError::ExpectedEq(raw.len())));
    };
    if raw.get(end) == Some(&b'=') {
        return Some(Ok((start..end, end + 1)));
    }
    let rest = raw.get(end + 1..).unwrap_or_default();
    Some(match rest.iter().position(|&b| !is_xml_byte_space(b)) {
        Some(at) if rest.get(at) == Some(&b'=') => Ok((start..end, end + 1 + at + 1)),
        Some(at) => Err(AttrError::ExpectedEq(end + 1 + at)),
        None => Err(AttrError::ExpectedEq(raw.len())),
    })
}

/// Where the quoted value after an attribute's `=` is in `raw`, looking from `from` (after the
/// `=`), without its quotes; as quick-xml reads it, with its errors and their offsets.
pub(super) fn attribute_value(raw: &[u8], from: usize) -> Result<Range<usize>, AttrError> {
    let rest = raw.get(from..).unwrap_or_default();
    let Some(at) = rest.iter().position(|&b| !is_xml_byte_space(b)) else {
        return Err(AttrError::ExpectedValue(raw.len()));
    };
    let quote_at = from + at;
    let quote = match raw.get(quote_at) {
        Some(&quote @ (b'"' | b'\'')) => quote,
        _ => return Err(AttrError::UnquotedValue(quote_at)),
    };
    let start = quote_at + 1;
    match find_any(raw.get(start..).unwrap_or_default(), [quote]) {
        Some(length) => Ok(start..start + length),
        None => Err(AttrError::ExpectedQuote(raw.len(), quote)),
    }
}

/// Where the scan is in a tag, looking for its `>` as quick-xml does: a `>` inside a quoted
/// attribute value does not end the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TagQuote {
    Outside,
    Single,
    Double,
}

impl TagQuote {
    /// The offset of the `>` that ends the tag in `bytes`, if there is one; otherwise remembers
    /// whether the tag ends inside a quoted value, for the next bytes.
    pub(super) fn find_end(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut at = 0;
        loop {
            let rest = bytes.get(at..)?;
            // Inside quotes only the closing quote matters.
            at += match self {
                Self::Outside => find_any(rest, [b'>', b'"', b'\''])?,
                Self::Single => find_any(rest, [b'\''])?,
                Self::Double => find_any(rest, [b'"'])?,
            };
            *self = match (*self, bytes.get(at)) {
                (Self::Outside, Some(b'>')) => return Some(at),
                (Self::Outside, Some(b'\'')) => Self::Single,
                (Self::Outside, Some(b'"')) => Self::Double,
                _ => Self::Outside,
            };
            at += 1;
        }
    }

    /// quick-xml's error for a tag that the end of the input cuts short here.
    pub(super) fn unclosed(self) -> SyntaxError {
        match self {
            Self::Outside => SyntaxError::UnclosedTag,
            Self::Single => SyntaxError::UnclosedSingleQuotedAttributeValue,
            Self::Double => SyntaxError::UnclosedDoubleQuotedAttributeValue,
        }
    }
}

/// How many bytes a search looks at one by one before it hands the rest to memchr: most text
/// runs, tags and attribute values are shorter, and for them a plain loop costs less than
/// memchr's set-up.
const SHORT: usize = 64;

/// Where the first byte of `stops` is in `bytes`. The first [`SHORT`] bytes are searched
/// eight at a time in a `u64`, the rest by memchr.
pub(super) fn find_any<const N: usize>(bytes: &[u8], stops: [u8; N]) -> Option<usize> {
    let head = bytes.get(..SHORT).unwrap_or(bytes);
    let mut words = head.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut words {
        let word = chunk.try_into().map_or(0, u64::from_le_bytes);
        let found = stops
            .iter()
            .fold(0, |found, &stop| found | equal_bytes(word, stop));
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if let Some(found) = words.remainder().iter().position(|b| stops.contains(b)) {
        return Some(at + found);
    }
    let rest = bytes.get(SHORT..)?;
    let found = match *stops.as_slice() {
        [a] => memchr::memchr(a, rest),
        [a, b] => memchr::memchr2(a, b, rest),
        [a, b, c] => memchr::memchr3(a, b, c, rest),
        _ => rest.iter().position(|b| stops.contains(b)),
    };
    found.map(|found| SHORT + found)
}

/// The bytes of `word` (little-endian) equal to `byte`, as their high bits: exact up to the
/// first of them, which is all [`find_any`] looks at (a borrow may mark a byte above it).
fn equal_bytes(word: u64, byte: u8) -> u64 {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_where_equal = word ^ (LOW * u64::from(byte));
    zero_where_equal.wrapping_sub(LOW) & !zero_where_equal & HIGH
}

/// Whether a byte is whitespace to XML (and to quick-xml): space, tab, line feed, carriage
/// return.
pub(super) fn is_xml_byte_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

pub(super) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    use pretty_assertions::assert_eq;
    use quick_xml::errors::{Error as QuickError, SyntaxError};
    use quick_xml::events::Event;
    use quick_xml::events::attributes::AttrError;
    use quick_xml::reader::Reader;

    use crate::xml::position::{InMemory, to_usize};
    use crate::xml::test_support::Recorder;
    use crate::xml::{Sink, StartTag, XmlLimits, expanded_attribute_value, scan, scan_input};

    /// One attribute as a tag reader reads it, or its error.
    type AttributeRead = Result<AttributeRanges, AttrError>;

    /// Random tag text for the tests of the tag readers: mostly plain tags, with the pieces
    /// that make a tag irregular mixed in.
    fn random_tag(next: &mut impl FnMut() -> u64) -> String {
        const PIECES: [&str; 33] = [
            " a=\"1\"",
            " b='x'",
            " p:c=\"2\"",
            " a=\"3\"",
            " d=\"x>y\"",
            " e='\"'",
            " f=\"'\"",
            "=",
            "\"",
            "'",
            " ",
            "\t",
            "\n",
            "/",
            ">",
            "g",
            "h = \"4\"",
            "é",
            "<",
            "&amp;",
            ":",
            "1",
            "i=j",
            "k=\"",
            " n=\"a&amp;b\"",
            " m='&lt;'",
            " o=\"<\"",
            " xmlns=\"u\"",
            " xmlns:q='u'",
            " t=\"a\tb\"",
            " _u-v.w9=\"z\"",
            " 9z=\"1\"",
            " -y='1'",
        ];
        let mut tag = String::from(["<r", "</r", "<", "< r", "<p:r", "<é"][(next() % 6) as usize]);
        for _ in 0..next() % 8 {
            tag.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        tag.push_str(["/>", ">", "", " >", "/ >"][(next() % 5) as usize]);
        tag.push_str("tail>");
        tag
    }

    /// quick-xml's reading of the tag at the start of `text`: how long it is and its attributes
    /// (ranges of name and value in the text after `<`, up to the first error), or its error.
    fn quick_xml_reads(text: &str) -> Result<(usize, Vec<AttributeRead>), SyntaxError> {
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = false;
        reader.config_mut().allow_unmatched_ends = true;
        let offset = |part: &str| part.as_ptr() as usize - text.as_ptr() as usize - 1;
        let attributes = match reader.read_event() {
            Ok(Event::Start(tag) | Event::Empty(tag)) => tag
                .attributes()
                .scan(false, |failed, attribute| {
                    // The scan stops at the first problem; so does this.
                    (!*failed).then(|| {
                        *failed = attribute.is_err();
                        attribute.map(|attribute| {
                            let (key, value) = (attribute.key.as_ref(), attribute.value.as_ref());
                            (
                                offset(key)..offset(key) + key.len(),
                                offset(value)..offset(value) + value.len(),
                            )
                        })
                    })
                })
                .collect(),
            Ok(Event::End(_)) => Vec::new(),
            Err(QuickError::Syntax(error)) => return Err(error),
            other => panic!("{text:?}: {other:?}"),
        };
        Ok((to_usize(reader.buffer_position()), attributes))
    }

    /// The general attribute reader of [`Scanner::check_tag`] on its own: attribute_key, the
    /// check for a duplicate name, attribute_value, up to the first error.
    fn general_reads(raw: &[u8]) -> Vec<AttributeRead> {
        let mut read: Vec<AttributeRead> = Vec::new();
        let mut from = name_len(std::str::from_utf8(raw).expect("UTF-8"));
        while let Some(key) = attribute_key(raw, from) {
            let attribute = key.and_then(|(key, eq)| {
                let first = read
                    .iter()
                    .flatten()
                    .find(|(other, _)| raw[other.clone()] == raw[key.clone()]);
                match first {
                    Some((first, _)) => Err(AttrError::Duplicated(key.start, first.start)),
                    None => attribute_value(raw, eq).map(|value| (key, value)),
                }
            });
            let failed = attribute.is_err();
            if let Ok((_, value)) = &attribute {
                from = value.end + 1;
            }
            read.push(attribute);
            if failed {
                break;
            }
        }
        read
    }

    #[test]
    fn the_tag_readers_find_what_quick_xml_finds() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut plain, mut general, mut marked) = (0, 0, 0);
        // A name `check_qname` takes without a closer look: no `:` in it.
        let is_plain = |name: &str| {
            crate::xml::names::check_qname(name) == Ok(None)
                && name.is_ascii()
                && !name.contains(':')
        };
        for _ in 0..20_000 {
            let text = random_tag(&mut next);
            let bytes = text.as_bytes();
            let expected = quick_xml_reads(&text);
            // The general way: the end as quick-xml finds it, then its attributes.
            let mut quote = TagQuote::Outside;
            let end = quote
                .find_end(bytes.get(1..).unwrap_or_default())
                .map(|end| end + 2);
            let found = match end {
                None => Err(quote.unclosed()),
                Some(length) => {
                    let inside = &bytes[1..length - 1];
                    let end_tag = inside.starts_with(b"/");
                    let raw = inside
                        .strip_suffix(b"/")
                        .filter(|_| !end_tag)
                        .unwrap_or(inside);
                    let attributes = if end_tag {
                        Vec::new()
                    } else {
                        general_reads(raw)
                    };
                    Ok((length, attributes))
                }
            };
            assert_eq!(found, expected, "general way on {text:?}");
            // The plain way reads a tag only when quick-xml reads it without an error.
            let mut lexed = Vec::new();
            match lex_plain_tag(bytes, &mut lexed) {
                None => general += 1,
                Some(tag) => {
                    plain += 1;
                    let (length, mut attributes) = expected.clone().expect("a tag quick-xml reads");
                    // The only error left is a repeated name, which `check_tag` finds.
                    if let Some(Err(error)) = attributes.last() {
                        let AttrError::Duplicated(at, _) = *error else {
                            panic!("{text:?}: {attributes:?}");
                        };
                        assert_eq!(
                            lexed.get(attributes.len() - 1).map(|(key, _)| key.start),
                            Some(at)
                        );
                        attributes.pop();
                        lexed.truncate(attributes.len());
                    }
                    let attributes: Vec<_> = attributes.into_iter().flatten().collect();
                    match tag {
                        PlainTag::Start {
                            length: plain_length,
                            name_len: plain_name,
                            empty,
                            plain_name: name_is_plain,
                            plain_attributes,
                        } => {
                            assert_eq!(plain_length, length, "{text:?}");
                            assert_eq!(empty, text[..length].ends_with("/>"), "{text:?}");
                            let inside = &text[1..length - 1];
                            let raw = inside.strip_suffix('/').filter(|_| empty).unwrap_or(inside);
                            assert_eq!(plain_name, name_len(raw), "{text:?}");
                            assert_eq!(lexed, attributes, "{text:?}");
                            // What is marked plain needs no closer look: the checks it skips
                            // would find nothing.
                            let name = &raw[..plain_name];
                            assert_eq!(name_is_plain, is_plain(name), "{text:?}");
                            for (i, (key, value)) in lexed.iter().enumerate() {
                                let (key, value) = (&raw[key.clone()], &raw[value.clone()]);
                                let expected = is_plain(key)
                                    && key != "xmlns"
                                    && !value.contains(['<', '&', '\t', '\n', '\r']);
                                assert_eq!(
                                    plain_attributes & (1 << i) != 0,
                                    expected,
                                    "{text:?}: attribute {i}"
                                );
                            }
                            marked +=
                                usize::from(name_is_plain) + plain_attributes.count_ones() as usize;
                        }
                        PlainTag::End {
                            length: plain_length,
                        } => {
                            assert!(text.starts_with("</"), "{text:?}");
                            assert_eq!(plain_length, length, "{text:?}");
                        }
                    }
                }
            }
        }
        assert!(
            plain > 2_000 && general > 2_000 && marked > 1_000,
            "{plain} plain, {general} general, {marked} plain names and attributes"
        );
    }

    #[test]
    fn find_markup_tells_of_carriage_returns_and_brackets_before_the_markup() {
        let markup = |at, has_cr, has_bracket| Markup {
            at,
            has_cr,
            has_bracket,
        };
        assert_eq!(find_markup(b"plain text<"), markup(Some(10), false, false));
        assert_eq!(find_markup(b"a]b\rc&amp;"), markup(Some(5), true, true));
        // What comes after the markup is not looked at.
        assert_eq!(find_markup(b"ab<]\r"), markup(Some(2), false, false));
        assert_eq!(find_markup(b"]]"), markup(None, false, true));
        let long = format!("{}]{}\r", "x".repeat(100), "y".repeat(100));
        assert_eq!(find_markup(long.as_bytes()), markup(None, true, true));
    }

    #[test]
    fn find_any_finds_the_first_stop_wherever_it_is() {
        // Bytes one off a stop (a borrow in the word arithmetic) before and after it, and
        // lengths across the eight-byte words and the hand-over to memchr.
        for length in 0..(SHORT + 40) {
            for at in (0..length).chain([usize::MAX]) {
                for decoy in [b'<' - 1, b'<' + 1, b'&' + 1, 0x80, 0xFF, 0x00] {
                    let mut bytes = vec![decoy; length];
                    if let Some(stop) = bytes.get_mut(at) {
                        *stop = if at % 2 == 0 { b'<' } else { b'&' };
                    }
                    let expected = bytes.iter().position(|&b| b == b'<' || b == b'&');
                    assert_eq!(find_any(&bytes, [b'<', b'&']), expected, "{bytes:?}");
                    let expected = bytes.iter().position(|&b| b == b'<');
                    assert_eq!(find_any(&bytes, [b'<']), expected, "{bytes:?}");
                    let three = find_any(&bytes, [b';', b'&', b'<']);
                    assert_eq!(
                        three,
                        bytes
                            .iter()
                            .position(|&b| b"; &<".contains(&b) && b != b' ')
                    );
                }
            }
        }
    }

    /// What a sink is told about `xml` when the scan reads it `chunk` bytes at a time, adjacent
    /// pieces of text joined.
    fn told_in_chunks(xml: &str, chunk: usize) -> Vec<String> {
        let mut recorder = Recorder::default();
        let mut locate = InMemory::new(xml.as_bytes());
        let limits = XmlLimits::default();
        scan_input(xml.as_bytes(), &mut locate, &limits, &mut recorder, chunk)
            .unwrap_or_else(|error| panic!("{xml:?}: {error}"));
        recorder.joined()
    }

    #[test]
    fn line_ends_in_text_read_as_line_feeds() {
        // XML 1.0 §2.11, issue 11 (root cause D): CR LF and a CR alone are one LF, also when a
        // read ends between them; a character reference keeps its carriage return.
        for (xml, text) in [
            ("<r>line1\r\nline2</r>", "line1\nline2"),
            ("<r>a\rb\r</r>", "a\nb\n"),
            ("<r>\r\r\n\n\r</r>", "\n\n\n\n"),
            ("<r>a&#13;\nb&#13;&#10;c\r&#10;</r>", "a\r\nb\r\nc\n\n"),
            ("<r>a\r<![CDATA[\nb\r\nc\r]]>\nd</r>", "a\n\nb\nc\n\nd"),
            ("<r>\r&amp;\r\n</r>", "\n&\n"),
        ] {
            let expected = vec![
                "start r".to_owned(),
                format!("text {text:?}"),
                "end".to_owned(),
            ];
            for chunk in [1, 2, 3, 5, 64 * 1024] {
                assert_eq!(
                    told_in_chunks(xml, chunk),
                    expected,
                    "{xml:?} in {chunk}-byte reads"
                );
            }
        }
    }

    #[test]
    fn line_ends_in_comments_and_instructions_read_as_line_feeds() {
        #[derive(Default)]
        struct Markup(Vec<String>);
        impl Sink for Markup {
            fn start(&mut self, _tag: &StartTag<'_>, _empty: bool) {}
            fn end(&mut self) {}
            fn text(&mut self, _text: &str) {}
            fn boundary(&mut self) {}
            fn comment(&mut self, text: &str) {
                self.0.push(format!("comment {text:?}"));
            }
            fn processing_instruction(&mut self, target: &str, value: Option<&str>) {
                self.0.push(format!("pi {target} {value:?}"));
            }
        }
        let xml = "<!--a\r\nb-->\r\n<r><!--\rc\r--><?p x\r\ny\r?></r><?q\r\nz?>";
        let mut markup = Markup::default();
        scan(xml.as_bytes(), &XmlLimits::default(), &mut markup).expect("a valid document");
        assert_eq!(
            markup.0,
            [
                "comment \"a\\nb\"",
                "comment \"\\nc\\n\"",
                "pi p Some(\"x\\ny\\n\")",
                "pi q Some(\"z\")",
            ]
        );
    }

    #[test]
    fn whitespace_in_attribute_values_reads_as_spaces() {
        // XML 1.0 §3.3.3, issue 11 (root cause D): a literal tab, line feed or carriage return
        // (CR LF once) is a space; character references keep their character, and text
        // between the attributes is left as it is.
        for (xml, tag) in [
            ("<row k=\"a\tb\"/>", "empty row k=\"a b\""),
            ("<r a='1\r\n2' b='3'/>", "empty r a='1 2' b='3'"),
            (
                "<r a='\r\r\n\n\t' b='&#9;&#10;&#13;'/>",
                "empty r a='    ' b='&#9;&#10;&#13;'",
            ),
            (
                "<r\r\n a = '1\n2'\r\n\tb='x'/>",
                "empty r\r\n a = '1 2'\r\n\tb='x'",
            ),
            (
                "<r xmlns:p='urn:\ta' p:v='\n'/>",
                "empty r xmlns:p='urn: a' p:v=' '",
            ),
        ] {
            for chunk in [1, 4, 64 * 1024] {
                assert_eq!(
                    told_in_chunks(xml, chunk),
                    [tag, "end"],
                    "{xml:?} in {chunk}-byte reads"
                );
            }
        }
        let xml = "<r a='x\r\ny' b='&#9;'/>";
        let mut attributes = Vec::new();
        struct Attributes<'v>(&'v mut Vec<(String, String)>);
        impl Sink for Attributes<'_> {
            fn start(&mut self, tag: &StartTag<'_>, _empty: bool) {
                for (key, raw) in tag.attributes() {
                    self.0
                        .push((key.to_owned(), expanded_attribute_value(raw).into_owned()));
                }
            }
            fn end(&mut self) {}
            fn text(&mut self, _text: &str) {}
            fn boundary(&mut self) {}
        }
        scan(
            xml.as_bytes(),
            &XmlLimits::default(),
            &mut Attributes(&mut attributes),
        )
        .expect("a valid document");
        assert_eq!(
            attributes,
            [
                ("a".to_owned(), "x y".to_owned()),
                ("b".to_owned(), "\t".to_owned())
            ]
        );
    }

    #[test]
    fn attributes_are_normalised_in_tags_read_the_general_way_too() {
        // More attributes than `lex_plain_tag` reads, and a tag longer than a read.
        let many: String = (0..40).map(|i| format!(" a{i}='{i}\t'")).collect();
        let expected: String = (0..40).map(|i| format!(" a{i}='{i} '")).collect();
        let xml = format!("<r{many}/>");
        for chunk in [7, 64 * 1024] {
            assert_eq!(
                told_in_chunks(&xml, chunk),
                [format!("empty r{expected}"), "end".to_owned()]
            );
        }
    }
}
