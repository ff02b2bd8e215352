//! Stage 3 of a run: bytes -> sxd `Package`, with hostile input refused before any DOM is built.
//!
//! [`read`] takes the path given to `--input` and returns its bytes, refusing a file larger than
//! [`XmlLimits::max_bytes`] without reading all of it. [`parse`] takes those bytes (or bytes read
//! from stdin) and returns an `sxd_document::Package` for the evaluate stage, or an [`XmlError`]
//! that says where the input is wrong and what to do. Before sxd-document sees the text, `parse`
//! insists on UTF-8, refuses characters XML 1.0 does not allow, and runs a streaming quick-xml
//! pre-scan that enforces the remaining [`XmlLimits`] and refuses DTD entity declarations.
//! sxd-document needs minutes for 100,000 nested elements and about 35 s for one element with
//! 100,000 attributes; the pre-scan is linear and keeps only the start offsets of open elements.
//! Nothing in this module expands a DTD entity, reads a DTD or XInclude, or opens a URL.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;

use quick_xml::errors::{Error as QuickError, IllFormedError, SyntaxError};
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use sxd_document::Package;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// How many characters of a name from the input an error message shows at most, so that a
/// secret in a hostile file cannot end up in a log as a "name".
const NAME_EXCERPT_CHARS: usize = 40;

/// The five entities XML predefines; sxd-document expands these and nothing else.
/// See <https://www.w3.org/TR/xml/#sec-predefined-ent>.
const PREDEFINED_ENTITIES: [&str; 5] = ["amp", "lt", "gt", "apos", "quot"];

/// The tail of every message for a limit: input past these limits is almost always an attack
/// or a broken producer, not a bigger store.
const HOSTILE_ADVICE: &str = "xml2prom refuses such input to protect itself from hostile files; \
                              check what produced the file";

/// Limits applied before a document is handed to sxd-document.
#[derive(Debug, Clone)]
pub struct XmlLimits {
    /// Largest input accepted, in bytes. Default: 256 MiB.
    pub max_bytes: u64,
    /// Deepest element nesting accepted; the root element is level 1. Default: 256.
    pub max_depth: usize,
    /// Most attributes accepted on one element (namespace declarations included). Default: 1024.
    pub max_attributes: usize,
    /// Longest element or attribute name accepted, in bytes. Default: 1024.
    pub max_name_bytes: usize,
    /// Longest attribute value accepted, in bytes as written in the file. Default: 1 MiB.
    pub max_attribute_bytes: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            max_bytes: 256 * MIB,
            max_depth: 256,
            max_attributes: 1024,
            max_name_bytes: 1024,
            max_attribute_bytes: 1024 * 1024,
        }
    }
}

/// How the encoding of a refused input was recognised; see [`XmlError::Encoding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingEvidence {
    /// The input starts with a UTF-16 or UTF-32 byte order mark.
    ByteOrderMark,
    /// The input has no byte order mark but starts with `<` followed by zero bytes, which is how
    /// `<?xml` or a root tag look in UTF-16 or UTF-32.
    ZeroBytes,
    /// The XML declaration names an encoding, as in `<?xml version="1.0" encoding="ISO-8859-1"?>`.
    Declaration,
}

/// Which kind of name broke [`XmlLimits::max_name_bytes`]; see [`XmlError::NameTooLong`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// The name of an element, as in `<name>`.
    Element,
    /// The name of an attribute, as in `name="value"`.
    Attribute,
}

impl fmt::Display for NameKind {
    /// Writes `element` or `attribute`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Element => "element",
            Self::Attribute => "attribute",
        })
    }
}

/// Why an input file was refused.
///
/// `Display` is one line, lower-case, without a trailing period: what is wrong, then what to do.
/// The caller puts the file path in front. A message never quotes the file beyond a name of at
/// most 40 characters, so a secret in a hostile file cannot leak into logs. Where a position is
/// known, the message says `line L, column C` and [`XmlError::position`] returns it; positions
/// count from the first character after a UTF-8 byte order mark.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// The input file could not be opened or read: it does not exist, may not be read, is a
    /// directory, or the read failed.
    ///
    /// `cannot read the file: it does not exist; check the --input path`
    #[error("cannot read the file: {}", ReadAdvice(.source))]
    Read {
        /// The error from the operating system.
        source: io::Error,
    },

    /// The input is larger than [`XmlLimits::max_bytes`]; from [`read`] before the file is read
    /// past the limit, or from [`parse`] for bytes that came from elsewhere (stdin).
    ///
    /// `the input is larger than the limit of 256 MiB (268435456 bytes); if the file is genuine, raise the limit with --max-input-bytes`
    #[error(
        "the input is larger than the limit of {} ({limit} bytes); if the file is genuine, raise \
         the limit with --max-input-bytes",
        Size(*.limit)
    )]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },

    /// The input is not UTF-8: it has a UTF-16 or UTF-32 byte order mark, looks like UTF-16 or
    /// UTF-32 without one, or its XML declaration names another encoding.
    ///
    /// `the file is UTF-16LE (it starts with a byte order mark), but only UTF-8 is supported; convert it with e.g. `iconv -f UTF-16 -t UTF-8``
    #[error("{}", encoding_message(.encoding, *.evidence))]
    Encoding {
        /// The encoding found, such as `UTF-16LE` or the name in the declaration (at most 40
        /// characters of it).
        encoding: String,
        /// How the encoding was recognised.
        evidence: EncodingEvidence,
    },

    /// The input contains a byte sequence that is not UTF-8, though nothing announced another
    /// encoding; the position is that of the first bad byte.
    ///
    /// `the input is not valid UTF-8 at line 3, column 7; convert the file to UTF-8 (e.g. `iconv -f WINDOWS-1252 -t UTF-8`) or check that it is an XML file`
    #[error(
        "the input is not valid UTF-8 at line {line}, column {column}; convert the file to UTF-8 \
         (e.g. `iconv -f WINDOWS-1252 -t UTF-8`) or check that it is an XML file"
    )]
    NotUtf8 {
        /// Line of the first bad byte, from 1.
        line: usize,
        /// Column of the first bad byte, from 1, in characters.
        column: usize,
    },

    /// The input breaks the XML 1.0 grammar or a well-formedness constraint, or is empty:
    /// mismatched or missing tags, a second root element, an unknown entity reference, a
    /// character XML does not allow (raw or as `&#0;`), an undeclared namespace prefix.
    ///
    /// `not well-formed XML at line 3, column 7: expected a closing tag for <row>, found </rows>`
    #[error("not well-formed XML at line {line}, column {column}: {message}")]
    NotWellFormed {
        /// Line of the problem, from 1.
        line: usize,
        /// Column of the problem, from 1, in characters.
        column: usize,
        /// What is wrong, in plain English; quotes at most a 40-character name from the input.
        message: String,
    },

    /// Elements are nested deeper than [`XmlLimits::max_depth`]; the position is that of the
    /// first start tag past the limit.
    ///
    /// `elements are nested more than 256 levels deep at line 1, column 1281; xml2prom refuses such input to protect itself from hostile files; check what produced the file`
    #[error(
        "elements are nested more than {limit} levels deep at line {line}, column {column}; {HOSTILE_ADVICE}"
    )]
    TooDeep {
        /// Line of the start tag, from 1.
        line: usize,
        /// Column of the start tag, from 1, in characters.
        column: usize,
        /// The nesting limit.
        limit: usize,
    },

    /// One element has more attributes than [`XmlLimits::max_attributes`].
    ///
    /// `element <row> has more than 1024 attributes at line 2, column 3; xml2prom refuses such input to protect itself from hostile files; check what produced the file`
    #[error(
        "element <{element}> has more than {limit} attributes at line {line}, column {column}; {HOSTILE_ADVICE}"
    )]
    TooManyAttributes {
        /// Line of the start tag, from 1.
        line: usize,
        /// Column of the start tag, from 1, in characters.
        column: usize,
        /// The element name, at most 40 characters of it.
        element: String,
        /// The attribute limit.
        limit: usize,
    },

    /// An element or attribute name is longer than [`XmlLimits::max_name_bytes`].
    ///
    /// `element name `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…` is longer than 1024 bytes at line 1, column 1; xml2prom refuses such input to protect itself from hostile files; check what produced the file`
    #[error(
        "{kind} name `{name}` is longer than {limit} bytes at line {line}, column {column}; {HOSTILE_ADVICE}"
    )]
    NameTooLong {
        /// Line of the tag holding the name, from 1.
        line: usize,
        /// Column of the tag holding the name, from 1, in characters.
        column: usize,
        /// Whether an element or an attribute name is too long.
        kind: NameKind,
        /// The first 40 characters of the name, then `…`.
        name: String,
        /// The name limit in bytes.
        limit: usize,
    },

    /// One attribute value is longer than [`XmlLimits::max_attribute_bytes`].
    ///
    /// `the value of attribute `data` is longer than 1 MiB at line 4, column 5; xml2prom refuses such input to protect itself from hostile files; check what produced the file`
    #[error("the value of attribute `{attribute}` is longer than {} at line {line}, column {column}; {HOSTILE_ADVICE}", Size(*.limit as u64))]
    AttributeTooLarge {
        /// Line of the tag holding the attribute, from 1.
        line: usize,
        /// Column of the tag holding the attribute, from 1, in characters.
        column: usize,
        /// The attribute name, at most 40 characters of it.
        attribute: String,
        /// The value limit in bytes.
        limit: usize,
    },

    /// The DOCTYPE declares entities (`<!ENTITY`), the way to the "billion laughs" bomb and to
    /// external entities that read local files; the position is that of the first declaration.
    /// A DOCTYPE without entity declarations is accepted and ignored.
    ///
    /// `DTD entity declarations are not supported: found one at line 2, column 16; xml2prom never expands or fetches entities, remove the <!ENTITY> declarations from the DOCTYPE`
    #[error(
        "DTD entity declarations are not supported: found one at line {line}, column {column}; \
         xml2prom never expands or fetches entities, remove the <!ENTITY> declarations from the \
         DOCTYPE"
    )]
    EntityDeclaration {
        /// Line of the `<!ENTITY`, from 1.
        line: usize,
        /// Column of the `<!ENTITY`, from 1, in characters.
        column: usize,
    },
}

impl XmlError {
    /// The 1-based `(line, column)` the error points at, column counted in characters, or `None`
    /// when the error is about the file as a whole (read failure, size, encoding).
    pub fn position(&self) -> Option<(usize, usize)> {
        match *self {
            Self::NotUtf8 { line, column }
            | Self::NotWellFormed { line, column, .. }
            | Self::TooDeep { line, column, .. }
            | Self::TooManyAttributes { line, column, .. }
            | Self::NameTooLong { line, column, .. }
            | Self::AttributeTooLarge { line, column, .. }
            | Self::EntityDeclaration { line, column } => Some((line, column)),
            Self::Read { .. } | Self::TooLarge { .. } | Self::Encoding { .. } => None,
        }
    }
}

/// Reads a file, refusing (without reading it all) one larger than `limits.max_bytes`.
///
/// The size in the file's metadata is checked first; the read itself stops one byte past the
/// limit, so a file that grows while it is read, or a FIFO, cannot make xml2prom read more.
/// An empty file is refused as [`XmlError::NotWellFormed`] (`the file is empty`).
pub fn read(path: &Path, limits: &XmlLimits) -> Result<Vec<u8>, XmlError> {
    let read_error = |source| XmlError::Read { source };
    let file = File::open(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if metadata.is_dir() {
        // Linux opens a directory without complaint and fails only at the first read.
        return Err(read_error(io::ErrorKind::IsADirectory.into()));
    }
    if metadata.is_file() && metadata.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let announced = if metadata.is_file() {
        metadata.len()
    } else {
        0
    };
    let mut bytes = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    file.take(limits.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if exceeds(bytes.len(), limits.max_bytes) {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    if bytes.is_empty() {
        return Err(empty_file());
    }
    Ok(bytes)
}

/// Checks the bytes against the limits and parses them into a DOM.
///
/// In order: size, encoding (UTF-8 only; a UTF-8 byte order mark is skipped), characters XML 1.0
/// does not allow, then the quick-xml pre-scan (nesting depth, attribute count, name and
/// attribute value length, entity declarations, structure), then sxd-document. A DOCTYPE
/// without entity declarations is blanked out before sxd-document sees the text, since
/// sxd-document knows only `SYSTEM` DOCTYPEs after an XML declaration; nothing in it is used.
pub fn parse(bytes: &[u8], limits: &XmlLimits) -> Result<Package, XmlError> {
    if exceeds(bytes.len(), limits.max_bytes) {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let text = decode(bytes)?;
    check_characters(text)?;
    let doctype = prescan(text, limits)?;
    let result = match doctype {
        None => sxd_document::parser::parse(text),
        Some(range) => sxd_document::parser::parse(&blank_out(text, range)),
    };
    // Blanking keeps every byte offset, so sxd-document's offsets point into `text` either way.
    result.map_err(|error| not_well_formed(text, error.location(), describe_sxd_error(&error)))
}

/// Whether a length is past a limit, without a lossy cast.
fn exceeds(len: usize, limit: u64) -> bool {
    !u64::try_from(len).is_ok_and(|len| len <= limit)
}

fn empty_file() -> XmlError {
    XmlError::NotWellFormed {
        line: 1,
        column: 1,
        message: "the file is empty".to_owned(),
    }
}

/// Checks the encoding and returns the text without a UTF-8 byte order mark.
fn decode(bytes: &[u8]) -> Result<&str, XmlError> {
    if bytes.is_empty() {
        return Err(empty_file());
    }
    // UTF-32 first: its little-endian byte order mark starts like UTF-16's.
    // See https://www.w3.org/TR/xml/#sec-guessing-no-ext-info.
    const SIGNATURES: [(&[u8], &str, EncodingEvidence); 8] = [
        (
            &[0x00, 0x00, 0xFE, 0xFF],
            "UTF-32BE",
            EncodingEvidence::ByteOrderMark,
        ),
        (
            &[0xFF, 0xFE, 0x00, 0x00],
            "UTF-32LE",
            EncodingEvidence::ByteOrderMark,
        ),
        (&[0xFE, 0xFF], "UTF-16BE", EncodingEvidence::ByteOrderMark),
        (&[0xFF, 0xFE], "UTF-16LE", EncodingEvidence::ByteOrderMark),
        (
            &[0x00, 0x00, 0x00, b'<'],
            "UTF-32BE",
            EncodingEvidence::ZeroBytes,
        ),
        (
            &[b'<', 0x00, 0x00, 0x00],
            "UTF-32LE",
            EncodingEvidence::ZeroBytes,
        ),
        (&[0x00, b'<'], "UTF-16BE", EncodingEvidence::ZeroBytes),
        (&[b'<', 0x00], "UTF-16LE", EncodingEvidence::ZeroBytes),
    ];
    for (signature, encoding, evidence) in SIGNATURES {
        if bytes.starts_with(signature) {
            return Err(XmlError::Encoding {
                encoding: encoding.to_owned(),
                evidence,
            });
        }
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.is_empty() {
        return Err(empty_file());
    }
    if let Some(declared) = declared_encoding(bytes) {
        // ASCII is a subset of UTF-8; the bytes must still be UTF-8, which is checked next.
        let accepted = ["utf-8", "utf8", "us-ascii", "ascii"];
        if !accepted
            .iter()
            .any(|name| declared.eq_ignore_ascii_case(name.as_bytes()))
        {
            return Err(XmlError::Encoding {
                encoding: excerpt(&String::from_utf8_lossy(declared)),
                evidence: EncodingEvidence::Declaration,
            });
        }
    }
    std::str::from_utf8(bytes).map_err(|error| {
        let valid = bytes.get(..error.valid_up_to()).unwrap_or_default();
        let valid = std::str::from_utf8(valid).unwrap_or_default();
        let (line, column) = line_column(valid, valid.len());
        XmlError::NotUtf8 { line, column }
    })
}

/// The value of `encoding="..."` in an XML declaration at the start of `bytes`, if there is one.
///
/// This looks at bytes, not text, so that a Latin-1 file that says so is told to convert from
/// Latin-1 rather than that it is not UTF-8.
fn declared_encoding(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(b"<?xml")?;
    if !rest.first().is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    let end = rest.windows(2).position(|pair| pair == b"?>")?;
    let declaration = rest.get(..end)?;
    let at = declaration
        .windows(8)
        .position(|word| word == b"encoding")?;
    let rest = trim_ascii_start(declaration.get(at + 8..)?);
    let rest = trim_ascii_start(rest.strip_prefix(b"=")?);
    let (&quote, rest) = rest.split_first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let close = rest.iter().position(|&b| b == quote)?;
    rest.get(..close)
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Refuses characters XML 1.0 does not allow: control characters other than tab, line feed and
/// carriage return, and U+FFFE / U+FFFF. sxd-document accepts them all, and a NUL in a label
/// value would end up in the exposition. See <https://www.w3.org/TR/xml/#NT-Char>.
fn check_characters(text: &str) -> Result<(), XmlError> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found) = bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| b < 0x20 || b == 0xEF))
    {
        let at = from + found;
        let code = match bytes.get(at..).unwrap_or_default() {
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
            [0xEF, 0xBF, last @ (0xBE | 0xBF), ..] => Some(0xFF00 | u32::from(*last)),
            [byte, ..] if !is_xml_char(u32::from(*byte)) => Some(u32::from(*byte)),
            _ => None,
        };
        if let Some(code) = code {
            let message = format!("the character U+{code:04X} is not allowed in XML 1.0");
            return Err(not_well_formed(text, at, message));
        }
        from = at + 1;
    }
    Ok(())
}

/// Whether a code point is a `Char` of XML 1.0 (<https://www.w3.org/TR/xml/#NT-Char>).
fn is_xml_char(code: u32) -> bool {
    matches!(code, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Walks the document with quick-xml without building anything, enforcing the limits and the
/// structure sxd-document would be slow to reject. Returns the byte range of the DOCTYPE, if
/// there is one.
fn prescan(text: &str, limits: &XmlLimits) -> Result<Option<Range<usize>>, XmlError> {
    let mut reader = Reader::from_str(text);
    // `--` inside a comment is not well-formed; checking costs one search per comment.
    reader.config_mut().check_comments = true;
    // Start offsets of the open elements, innermost last; at most `max_depth` of them.
    let mut open: Vec<usize> = Vec::new();
    let mut root_seen = false;
    let mut doctype = None;
    loop {
        let start = to_usize(reader.buffer_position());
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                let at = to_usize(reader.error_position());
                return Err(not_well_formed(text, at, describe_quick_error(&error)));
            }
        };
        match event {
            Event::Start(tag) | Event::Empty(tag) if open.is_empty() && root_seen => {
                let message = format!(
                    "a second root element <{}>; an XML document has exactly one root element \
                     (are two documents joined together?)",
                    excerpt(tag.name().as_ref())
                );
                return Err(not_well_formed(text, start, message));
            }
            Event::Start(tag) => {
                check_tag(text, start, &tag, open.len() + 1, limits)?;
                root_seen = true;
                open.push(start);
            }
            Event::Empty(tag) => {
                check_tag(text, start, &tag, open.len() + 1, limits)?;
                root_seen = true;
            }
            Event::End(_) => {
                // quick-xml has already checked that the name matches the open element.
                open.pop();
            }
            Event::Text(content) => {
                if open.is_empty() {
                    if let Some(at) = content.find(|c: char| !is_xml_space(c)) {
                        return Err(outside_root(text, start + at, root_seen));
                    }
                } else if let Some(at) = content.find("]]>") {
                    let message = "`]]>` is not allowed in text; write it as ]]&gt;".to_owned();
                    return Err(not_well_formed(text, start + at, message));
                }
            }
            Event::CData(_) if open.is_empty() => {
                return Err(outside_root(text, start, root_seen));
            }
            Event::GeneralRef(reference) => {
                if open.is_empty() {
                    return Err(outside_root(text, start, root_seen));
                }
                check_reference(&reference)
                    .map_err(|message| not_well_formed(text, start, message))?;
            }
            Event::DocType(_) => {
                let end = to_usize(reader.buffer_position());
                doctype = Some(check_doctype(
                    text,
                    start..end,
                    root_seen,
                    doctype.is_some(),
                )?);
            }
            Event::Decl(_) if start != 0 => {
                let message =
                    "the XML declaration `<?xml ...?>` is only allowed at the very start \
                               of the file"
                        .to_owned();
                return Err(not_well_formed(text, start, message));
            }
            Event::Eof => {
                if let Some(&innermost) = open.last() {
                    let (line, column) = line_column(text, innermost);
                    let message = format!(
                        "the document ends before all elements are closed (truncated file?); \
                         <{}> opened at line {line}, column {column} is not closed",
                        excerpt(tag_name_at(text, innermost))
                    );
                    return Err(not_well_formed(text, text.len(), message));
                }
                if !root_seen {
                    let message = "the document has no root element".to_owned();
                    return Err(not_well_formed(text, text.len(), message));
                }
                return Ok(doctype);
            }
            Event::CData(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
}

/// Checks one start tag (`<name ...>` or `<name .../>`) at `start`, which opens nesting level
/// `depth`, against the limits; also checks its attributes' syntax and references.
fn check_tag(
    text: &str,
    start: usize,
    tag: &BytesStart<'_>,
    depth: usize,
    limits: &XmlLimits,
) -> Result<(), XmlError> {
    let position = || line_column(text, start);
    if depth > limits.max_depth {
        let (line, column) = position();
        return Err(XmlError::TooDeep {
            line,
            column,
            limit: limits.max_depth,
        });
    }
    let name = tag.name();
    let name = name.as_ref();
    if name.len() > limits.max_name_bytes {
        let (line, column) = position();
        let (kind, name, limit) = (NameKind::Element, excerpt(name), limits.max_name_bytes);
        return Err(XmlError::NameTooLong {
            line,
            column,
            kind,
            name,
            limit,
        });
    }
    // quick-xml checks for duplicate attributes with a hash set past a few attributes, so this
    // loop stays linear; it stops at the first attribute past the limit anyway.
    for (count, attribute) in tag.attributes().enumerate() {
        let attribute = attribute.map_err(|error| attribute_error(text, start, tag, &error))?;
        if count >= limits.max_attributes {
            let (line, column) = position();
            let (element, limit) = (excerpt(name), limits.max_attributes);
            return Err(XmlError::TooManyAttributes {
                line,
                column,
                element,
                limit,
            });
        }
        let key = attribute.key.as_ref();
        if key.len() > limits.max_name_bytes {
            let (line, column) = position();
            let (kind, name, limit) = (NameKind::Attribute, excerpt(key), limits.max_name_bytes);
            return Err(XmlError::NameTooLong {
                line,
                column,
                kind,
                name,
                limit,
            });
        }
        if attribute.value.len() > limits.max_attribute_bytes {
            let (line, column) = position();
            let (attribute, limit) = (excerpt(key), limits.max_attribute_bytes);
            return Err(XmlError::AttributeTooLarge {
                line,
                column,
                attribute,
                limit,
            });
        }
        check_attribute_value(text, start, &attribute.value)?;
    }
    Ok(())
}

/// Checks the raw value of an attribute: no `<`, and every `&` starts a reference that
/// sxd-document can expand to a character XML allows.
fn check_attribute_value(text: &str, tag_start: usize, value: &str) -> Result<(), XmlError> {
    let value_start = offset_within(text, value).unwrap_or(tag_start);
    let mut from = 0;
    while let Some(found) = value.get(from..).and_then(|rest| rest.find(['<', '&'])) {
        let at = from + found;
        let rest = value.get(at..).unwrap_or_default();
        let fail = |message: String| not_well_formed(text, value_start + at, message);
        if rest.starts_with('<') {
            return Err(fail(
                "`<` is not allowed in an attribute value; write it as &lt;".to_owned(),
            ));
        }
        let Some(end) = rest.find(';') else {
            return Err(fail(dangling_ampersand()));
        };
        let body = rest.get(1..end).unwrap_or_default();
        check_reference(body).map_err(fail)?;
        from = at + end + 1;
    }
    Ok(())
}

/// Checks the body of a reference (`amp` in `&amp;`, `#38` in `&#38;`): a predefined entity, or a
/// character reference to a character XML 1.0 allows. sxd-document turns `&#0;` into a NUL.
fn check_reference(body: &str) -> Result<(), String> {
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
                "the character reference is beyond U+10FFFF, the last Unicode \
                           character"
                    .to_owned(),
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

fn dangling_ampersand() -> String {
    "`&` must start a reference such as &amp; and end with `;`; write a literal & as &amp;"
        .to_owned()
}

/// Checks a DOCTYPE at `range` and returns the range to blank out: it must come before the root
/// element, be the only one, be spelled `<!DOCTYPE`, and declare no entities.
fn check_doctype(
    text: &str,
    range: Range<usize>,
    root_seen: bool,
    seen_before: bool,
) -> Result<Range<usize>, XmlError> {
    let start = range.start;
    let fail = |message: &str| not_well_formed(text, start, message.to_owned());
    let Some(raw) = text.get(range.clone()) else {
        return Err(fail(
            "xml2prom lost track of this DOCTYPE; this is a bug, please report it",
        ));
    };
    if root_seen {
        return Err(fail("a DOCTYPE is only allowed before the root element"));
    }
    if seen_before {
        return Err(fail("a document may have only one DOCTYPE"));
    }
    if !raw.starts_with("<!DOCTYPE") {
        return Err(fail("write `<!DOCTYPE` in upper case"));
    }
    // Any `<!ENTITY`, even one inside a comment in the DTD, is refused: a false alarm costs less
    // than a missed declaration. XML keywords are upper case; checking without case costs nothing.
    let bytes = raw.as_bytes();
    let declaration = bytes.windows(8).position(|window| {
        window.starts_with(b"<!")
            && window
                .get(2..)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"ENTITY"))
    });
    if let Some(at) = declaration {
        let (line, column) = line_column(text, start + at);
        return Err(XmlError::EntityDeclaration { line, column });
    }
    Ok(range)
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

fn outside_root(text: &str, at: usize, root_seen: bool) -> XmlError {
    let message = if root_seen {
        "content after the end of the root element; an XML document has exactly one root element \
         (are two documents joined together?)"
    } else {
        "content before the root element; an XML document starts with `<` (is this an XML file?)"
    };
    not_well_formed(text, at, message.to_owned())
}

/// The name of the tag starting at `start` (`row` for `<row id="1">`).
fn tag_name_at(text: &str, start: usize) -> &str {
    let rest = text.get(start + 1..).unwrap_or_default();
    let end = rest
        .find(|c: char| is_xml_space(c) || c == '>' || c == '/')
        .unwrap_or(rest.len());
    rest.get(..end).unwrap_or_default()
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Turns a quick-xml error into a message; names in it are cut to 40 characters.
fn describe_quick_error(error: &QuickError) -> String {
    match error {
        QuickError::Syntax(error) => match error {
            SyntaxError::InvalidBangMarkup => {
                "`<!` must start a comment `<!--`, a CDATA section `<![CDATA[` or a `<!DOCTYPE`"
                    .to_owned()
            }
            SyntaxError::UnclosedPI => "a processing instruction `<?` is not closed with `?>` \
                                        (truncated file?)"
                .to_owned(),
            SyntaxError::UnclosedXmlDecl => {
                "the XML declaration is not closed with `?>`".to_owned()
            }
            SyntaxError::UnclosedComment => {
                "a comment is not closed with `-->` (truncated file?)".to_owned()
            }
            SyntaxError::UnclosedDoctype => {
                "the DOCTYPE is not closed with `>` (truncated file?)".to_owned()
            }
            SyntaxError::UnclosedCData => {
                "a CDATA section is not closed with `]]>` (truncated file?)".to_owned()
            }
            SyntaxError::UnclosedTag => "a tag is not closed with `>` (truncated file?)".to_owned(),
            SyntaxError::UnclosedSingleQuotedAttributeValue => {
                "an attribute value is not closed with `'` (truncated file?)".to_owned()
            }
            SyntaxError::UnclosedDoubleQuotedAttributeValue => {
                "an attribute value is not closed with `\"` (truncated file?)".to_owned()
            }
        },
        QuickError::IllFormed(error) => match error {
            IllFormedError::MissingDeclVersion(_) => {
                "the XML declaration must start with version=\"1.0\"".to_owned()
            }
            IllFormedError::UnknownVersion => {
                "unknown XML version in the XML declaration; use version=\"1.0\"".to_owned()
            }
            IllFormedError::MissingDoctypeName => {
                "the DOCTYPE must name the root element, as in <!DOCTYPE store>".to_owned()
            }
            IllFormedError::MissingEndTag(name) => format!(
                "the document ends before <{}> is closed (truncated file?)",
                excerpt(name)
            ),
            IllFormedError::UnmatchedEndTag(name) => {
                format!(
                    "closing tag </{}> has no matching opening tag",
                    excerpt(name)
                )
            }
            IllFormedError::MismatchedEndTag { expected, found } => format!(
                "expected a closing tag for <{}>, found </{}>",
                excerpt(expected),
                excerpt(found)
            ),
            IllFormedError::DoubleHyphenInComment => "a comment must not contain `--`".to_owned(),
            IllFormedError::UnclosedReference => dangling_ampersand(),
        },
        QuickError::InvalidAttr(error) => describe_attribute_error(error, ""),
        QuickError::Escape(_) => "malformed entity or character reference".to_owned(),
        QuickError::Encoding(_) => "the input is not valid UTF-8".to_owned(),
        QuickError::Namespace(_) => "malformed namespace declaration".to_owned(),
        // A reader over a byte slice does no I/O; say so rather than pretend.
        QuickError::Io(_) => {
            "xml2prom failed to read from memory; this is a bug, please report it".to_owned()
        }
    }
}

/// A malformed attribute in the tag at `tag_start`; quick-xml's positions count from the byte
/// after the `<`.
fn attribute_error(
    text: &str,
    tag_start: usize,
    tag: &BytesStart<'_>,
    error: &AttrError,
) -> XmlError {
    let relative = match *error {
        AttrError::ExpectedEq(at)
        | AttrError::ExpectedValue(at)
        | AttrError::UnquotedValue(at)
        | AttrError::ExpectedQuote(at, _)
        | AttrError::Duplicated(at, _) => at,
    };
    let raw: &str = tag;
    let rest = raw.get(relative..).unwrap_or_default();
    let end = rest
        .find(|c: char| is_xml_space(c) || c == '=')
        .unwrap_or(rest.len());
    let name = rest.get(..end).unwrap_or_default();
    not_well_formed(
        text,
        tag_start + 1 + relative,
        describe_attribute_error(error, name),
    )
}

fn describe_attribute_error(error: &AttrError, name: &str) -> String {
    match error {
        AttrError::ExpectedEq(_) => "expected `=` after the attribute name".to_owned(),
        AttrError::ExpectedValue(_) => "expected a quoted value after `=`".to_owned(),
        AttrError::UnquotedValue(_) => "attribute values must be quoted with \" or '".to_owned(),
        AttrError::ExpectedQuote(_, quote) => {
            format!(
                "an attribute value is not closed with `{}`",
                char::from(*quote)
            )
        }
        AttrError::Duplicated(_, _) => format!(
            "duplicate attribute `{}`; an attribute may appear only once per element",
            excerpt(name)
        ),
    }
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
        "a namespace prefix cannot be bound to an empty URI (xmlns:p=\"\")"
    } else if has("UnknownNamespacePrefix") {
        "undeclared namespace prefix; declare it with xmlns:prefix=\"...\" on this element or an \
         ancestor"
    } else if has("UnclosedElement") {
        "the document ends before all elements are closed (truncated file?)"
    } else if has("InvalidProcessingInstructionTarget") {
        "the XML declaration `<?xml ...?>` is only allowed at the very start of the file"
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

/// The 1-based line and column (in characters) of byte `offset` in `text`; an offset inside a
/// character counts as that character, one past the end as the position after the last one.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or_default();
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    (line, column)
}

/// The byte offset of `part` in `text`, if `part` is a slice of `text`.
fn offset_within(text: &str, part: &str) -> Option<usize> {
    let offset = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    (offset + part.len() <= text.len()).then_some(offset)
}

fn to_usize(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

/// At most the first 40 characters of a name from the input, then `…`; control characters
/// become `?` so a name cannot move the cursor in a terminal.
fn excerpt(name: &str) -> String {
    let mut chars = name.chars();
    let mut short: String = chars
        .by_ref()
        .take(NAME_EXCERPT_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if chars.next().is_some() {
        short.push('…');
    }
    short
}

/// A size for a message: `256 MiB`, `1.5 MiB`, `4 KiB` or `100 bytes`.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        if bytes >= MIB && bytes.is_multiple_of(MIB) {
            write!(f, "{} MiB", bytes / MIB)
        } else if bytes >= MIB {
            // Precision lost above 2^53 bytes does not matter in a message.
            let mib = bytes as f64 / MIB as f64;
            write!(f, "{mib:.1} MiB")
        } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
            write!(f, "{} KiB", bytes / KIB)
        } else {
            write!(f, "{bytes} bytes")
        }
    }
}

/// What went wrong reading the file, and what to do about it.
struct ReadAdvice<'a>(&'a io::Error);

impl fmt::Display for ReadAdvice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.kind() {
            io::ErrorKind::NotFound => f.write_str("it does not exist; check the --input path"),
            io::ErrorKind::PermissionDenied => f.write_str(
                "permission denied; run xml2prom as a user who may read it, or change its \
                 permissions",
            ),
            io::ErrorKind::IsADirectory => {
                f.write_str("it is a directory; pass the path of an XML file to --input")
            }
            _ => {
                // Operating system messages start upper-case ("Input/output error").
                let message = self.0.to_string();
                let mut chars = message.chars();
                let first = chars
                    .next()
                    .map(|c| c.to_lowercase().to_string())
                    .unwrap_or_default();
                write!(
                    f,
                    "{first}{}; check that the file is readable and try again",
                    chars.as_str()
                )
            }
        }
    }
}

fn encoding_message(encoding: &str, evidence: EncodingEvidence) -> EncodingMessage<'_> {
    EncodingMessage { encoding, evidence }
}

/// The message for [`XmlError::Encoding`].
struct EncodingMessage<'a> {
    encoding: &'a str,
    evidence: EncodingEvidence,
}

impl fmt::Display for EncodingMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encoding = self.encoding;
        match self.evidence {
            EncodingEvidence::ByteOrderMark => {
                // iconv reads the byte order from the mark and drops it when told just UTF-16.
                let family = if encoding.starts_with("UTF-32") {
                    "UTF-32"
                } else {
                    "UTF-16"
                };
                write!(
                    f,
                    "the file is {encoding} (it starts with a byte order mark), but only UTF-8 is \
                     supported; convert it with e.g. `iconv -f {family} -t UTF-8`"
                )
            }
            EncodingEvidence::ZeroBytes => write!(
                f,
                "the file looks like {encoding} (it starts with `<` and zero bytes), but only \
                 UTF-8 is supported; convert it with e.g. `iconv -f {encoding} -t UTF-8`"
            ),
            EncodingEvidence::Declaration => write!(
                f,
                "the XML declaration says encoding=\"{encoding}\", but only UTF-8 is supported; \
                 convert the file with e.g. `iconv -f {encoding} -t UTF-8` and change the \
                 declaration to encoding=\"UTF-8\""
            ),
        }
    }
}
