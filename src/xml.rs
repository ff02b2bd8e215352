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
//! After parsing, `parse` repairs the default namespaces sxd-document 0.3.2 resolves wrongly.
//! Nothing in this module expands a DTD entity, reads a DTD or XInclude, or opens a URL.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;
use std::rc::Rc;

use quick_xml::errors::{Error as QuickError, IllFormedError, SyntaxError};
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use sxd_document::{Package, QName};

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
    /// Most attributes accepted on one element (namespace declarations included). Default: 256 (sxd-document slows down quadratically with attributes per element).
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
            max_attributes: 256,
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
    /// ```text
    /// cannot read the file: it does not exist; check the --input path
    /// ```
    #[error("cannot read the file: {}", ReadAdvice(.source))]
    Read {
        /// The error from the operating system.
        source: io::Error,
    },

    /// The input is larger than [`XmlLimits::max_bytes`]; from [`read`] before the file is read
    /// past the limit, or from [`parse`] for bytes that came from elsewhere (stdin).
    ///
    /// ```text
    /// the input is larger than the limit of 256 MiB (268435456 bytes); if the file is genuine, raise the limit with --max-input-bytes
    /// ```
    #[error(
        "the input is larger than the limit of {}; if the file is genuine, raise the limit with \
         --max-input-bytes",
        ExactSize(*.limit)
    )]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },

    /// The input is not UTF-8: it has a UTF-16 or UTF-32 byte order mark, looks like UTF-16 or
    /// UTF-32 without one, or its XML declaration names another encoding.
    ///
    /// ```text
    /// the file is UTF-16LE (it starts with a byte order mark), but only UTF-8 is supported; convert it with e.g. `iconv -f UTF-16 -t UTF-8`
    /// ```
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
    /// ```text
    /// the input is not valid UTF-8 at line 3, column 7; convert the file to UTF-8 (e.g. `iconv -f WINDOWS-1252 -t UTF-8`) or check that it is an XML file
    /// ```
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
    /// ```text
    /// not well-formed XML at line 3, column 7: expected a closing tag for <row>, found </rows>
    /// ```
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
    /// ```text
    /// elements are nested more than 256 levels deep at line 1, column 1281; xml2prom refuses such input to protect itself from hostile files; check what produced the file
    /// ```
    #[error(
        "elements are nested more than {limit} levels deep at line {line}, column {column}; \
         {HOSTILE_ADVICE}"
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
    /// ```text
    /// element <row> has more than 256 attributes at line 2, column 3; xml2prom refuses such input to protect itself from hostile files; check what produced the file
    /// ```
    #[error(
        "element <{element}> has more than {limit} attributes at line {line}, column {column}; \
         {HOSTILE_ADVICE}"
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
    /// ```text
    /// element name `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…` is longer than 1024 bytes at line 1, column 1; xml2prom refuses such input to protect itself from hostile files; check what produced the file
    /// ```
    #[error(
        "{kind} name `{name}` is longer than {limit} bytes at line {line}, column {column}; \
         {HOSTILE_ADVICE}"
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
    /// ```text
    /// the value of attribute `data` is longer than 1 MiB at line 4, column 5; xml2prom refuses such input to protect itself from hostile files; check what produced the file
    /// ```
    #[error(
        "the value of attribute `{attribute}` is longer than {} at line {line}, column {column}; \
         {HOSTILE_ADVICE}",
        Size(*.limit as u64)
    )]
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
    /// ```text
    /// DTD entity declarations are not supported: found one at line 2, column 16; xml2prom never expands or fetches entities, remove the <!ENTITY> declarations from the DOCTYPE
    /// ```
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
    let scan = prescan(text, limits)?;
    let result = match scan.doctype {
        None => sxd_document::parser::parse(text),
        Some(range) => sxd_document::parser::parse(&blank_out(text, range)),
    };
    // Blanking keeps every byte offset, so sxd-document's offsets point into `text` either way.
    let package = result
        .map_err(|error| not_well_formed(text, error.location(), describe_sxd_error(&error)))?;
    if scan.default_namespace_quirk {
        fix_default_namespaces(text, &package);
    }
    Ok(package)
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
            [0xEF, 0xBF, last @ (0xBE | 0xBF), ..] => Some(0xFFC0 | u32::from(*last & 0x3F)),
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

/// What the pre-scan learned that the rest of [`parse`] needs.
struct Prescan {
    /// The byte range of the DOCTYPE, if there is one.
    doctype: Option<Range<usize>>,
    /// Whether some `xmlns="..."` is one that sxd-document resolves wrongly; see
    /// [`fix_default_namespaces`].
    default_namespace_quirk: bool,
}

/// Walks the document with quick-xml without building anything, enforcing the limits and the
/// structure sxd-document would be slow to reject.
fn prescan(text: &str, limits: &XmlLimits) -> Result<Prescan, XmlError> {
    let mut reader = Reader::from_str(text);
    // `--` inside a comment is not well-formed; checking costs one search per comment.
    reader.config_mut().check_comments = true;
    // Start offsets of the open elements, innermost last; at most `max_depth` of them.
    let mut open: Vec<usize> = Vec::new();
    let mut root_seen = false;
    let mut doctype = None;
    let mut default_namespace_quirk = false;
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
                default_namespace_quirk |= check_tag(text, start, &tag, open.len() + 1, limits)?;
                root_seen = true;
                open.push(start);
            }
            Event::Empty(tag) => {
                default_namespace_quirk |= check_tag(text, start, &tag, open.len() + 1, limits)?;
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
                let message = "the XML declaration `<?xml ...?>` is only allowed at the very \
                               start of the file"
                    .to_owned();
                return Err(not_well_formed(text, start, message));
            }
            Event::Decl(declaration) => {
                // sxd-document reads only 1.x declarations, and reports any other as a misplaced
                // one; say what is really wrong.
                let version = declaration
                    .version()
                    .map_err(|error| not_well_formed(text, start, describe_quick_error(&error)))?;
                if !version.starts_with("1.") {
                    let message = "unsupported XML version; xml2prom reads XML 1.0 \
                                   (<?xml version=\"1.0\"?>)"
                        .to_owned();
                    return Err(not_well_formed(text, start, message));
                }
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
                return Ok(Prescan {
                    doctype,
                    default_namespace_quirk,
                });
            }
            Event::CData(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
}

/// Checks one start tag (`<name ...>` or `<name .../>`) at `start`, which opens nesting level
/// `depth`, against the limits; also checks its attributes' syntax and references. Returns
/// whether the tag has an `xmlns` that sxd-document resolves wrongly.
fn check_tag(
    text: &str,
    start: usize,
    tag: &BytesStart<'_>,
    depth: usize,
    limits: &XmlLimits,
) -> Result<bool, XmlError> {
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
    if name.is_empty() {
        // quick-xml reads `<>` and `< b>` as tags with an empty name.
        let message = "expected an element name right after `<`".to_owned();
        return Err(not_well_formed(text, start + 1, message));
    }
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
    let mut default_namespace_quirk = false;
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
        if key == "xmlns" && (name.contains(':') || attribute.value.is_empty()) {
            default_namespace_quirk = true;
        }
    }
    Ok(default_namespace_quirk)
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

/// Expands the references in an attribute value that passed [`check_attribute_value`], the way
/// sxd-document does: predefined entities and character references, nothing else.
fn expand_references(raw: &str) -> String {
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
        let body = after.get(..end).unwrap_or_default();
        let character = match body {
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
        };
        expanded.extend(character);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    expanded.push_str(rest);
    expanded
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
        "malformed XML declaration, or a processing instruction named `xml`; the declaration \
         looks like <?xml version=\"1.0\" encoding=\"UTF-8\"?> and comes first in the file"
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
        "expected whitespace, `>` or `/>` after the attribute"
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

/// A size with its exact byte count when rounded, for a limit the user may want to raise:
/// `256 MiB (268435456 bytes)` or `100 bytes`.
struct ExactSize(u64);

impl fmt::Display for ExactSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounded = Size(self.0).to_string();
        if rounded.ends_with(" bytes") {
            f.write_str(&rounded)
        } else {
            write!(f, "{rounded} ({} bytes)", self.0)
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

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use std::io::Write;

    /// Parses with the default limits and returns the error; fails the test if parsing succeeds.
    fn refuse(input: impl AsRef<[u8]>) -> XmlError {
        refuse_with(input, &XmlLimits::default())
    }

    fn refuse_with(input: impl AsRef<[u8]>, limits: &XmlLimits) -> XmlError {
        match parse(input.as_ref(), limits) {
            Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(input.as_ref())),
            Err(error) => error,
        }
    }

    fn accept(input: impl AsRef<[u8]>) -> Package {
        match parse(input.as_ref(), &XmlLimits::default()) {
            Ok(package) => package,
            Err(error) => panic!(
                "refused {:?}: {error}",
                String::from_utf8_lossy(input.as_ref())
            ),
        }
    }

    /// Asserts that the message contains each of `words`, and has the shape every message must
    /// have: one line, no trailing period, starting lower-case or with an acronym.
    fn assert_message(error: &XmlError, words: &[&str]) {
        let message = error.to_string();
        for word in words {
            assert!(message.contains(word), "{word:?} is not in {message:?}");
        }
        assert!(!message.contains('\n'), "more than one line: {message:?}");
        assert!(!message.ends_with('.'), "trailing period: {message:?}");
        let first_word = message.split_whitespace().next().unwrap_or_default();
        assert!(
            first_word.starts_with(|c: char| c.is_lowercase())
                || first_word.chars().all(|c| c.is_ascii_uppercase()),
            "does not start lower-case: {message:?}"
        );
    }

    /// The message of a `NotWellFormed` error and its position; fails on any other variant.
    fn not_well_formed_at(error: &XmlError) -> (usize, usize, &str) {
        match error {
            XmlError::NotWellFormed {
                line,
                column,
                message,
            } => (*line, *column, message),
            other => panic!("expected NotWellFormed, got {other:?}"),
        }
    }

    /// The text of the root element's first text node, to see what sxd-document built.
    fn root_text(package: &Package) -> String {
        let document = package.as_document();
        let root = document
            .root()
            .children()
            .into_iter()
            .find_map(|child| child.element());
        let root = root.expect("a root element");
        root.children()
            .into_iter()
            .filter_map(|child| child.text())
            .map(|text| text.text().to_owned())
            .collect()
    }

    fn root_name(package: &Package) -> String {
        let document = package.as_document();
        let root = document
            .root()
            .children()
            .into_iter()
            .find_map(|child| child.element());
        root.expect("a root element").name().local_part().to_owned()
    }

    // --- entities and DTDs -------------------------------------------------------------------

    #[test]
    fn billion_laughs_is_refused_as_an_entity_declaration() {
        let mut xml =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
        for level in 1..10 {
            let previous = if level == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", level - 1)
            };
            let reference = format!("&{previous};");
            xml.push_str(&format!(
                " <!ENTITY lol{level} \"{}\">\n",
                reference.repeat(10)
            ));
        }
        xml.push_str("]>\n<lolz>&lol9;</lolz>\n");
        let error = refuse(&xml);
        assert!(
            matches!(error, XmlError::EntityDeclaration { line: 3, column: 2 }),
            "{error:?}"
        );
        assert_message(
            &error,
            &[
                "DTD entity declarations are not supported",
                "line 3, column 2",
            ],
        );
        assert_message(&error, &["never expands or fetches entities"]);
        assert_eq!(error.position(), Some((3, 2)));
    }

    #[test]
    fn external_entity_is_refused_and_the_file_is_never_read() {
        let mut secret = tempfile::NamedTempFile::new().expect("temporary file");
        secret
            .write_all(b"root:x:0:0:TOP-SECRET-VALUE:/root:/bin/bash\n")
            .expect("write");
        let url = format!("file://{}", secret.path().display());
        for target in [url.as_str(), "file:///etc/passwd"] {
            let xml = format!(
                "<?xml version=\"1.0\"?>\n\
                 <!DOCTYPE r [<!ENTITY x SYSTEM \"{target}\">]>\n<r>&x;</r>"
            );
            let error = refuse(&xml);
            assert!(
                matches!(
                    error,
                    XmlError::EntityDeclaration {
                        line: 2,
                        column: 14
                    }
                ),
                "{error:?}"
            );
            let message = error.to_string();
            for leak in ["TOP-SECRET", "root:", "passwd", "file:", "/bin/bash"] {
                assert!(!message.contains(leak), "{leak:?} leaked into {message:?}");
            }
        }
    }

    #[test]
    fn parameter_entities_are_refused() {
        let xml = "<!DOCTYPE r [\n  <!ENTITY % remote SYSTEM \"http://127.0.0.1:1/evil.dtd\">\n  \
                   %remote;\n]>\n<r/>";
        let error = refuse(xml);
        assert!(
            matches!(error, XmlError::EntityDeclaration { line: 2, column: 3 }),
            "{error:?}"
        );
        assert_message(&error, &["entity declarations are not supported", "remove"]);
        assert!(!error.to_string().contains("127.0.0.1"));
    }

    #[test]
    fn entity_declaration_in_lower_case_is_refused_too() {
        let error = refuse("<!DOCTYPE r [<!entity x \"y\">]><r/>");
        assert!(
            matches!(error, XmlError::EntityDeclaration { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn entity_defined_only_in_an_external_dtd_is_an_unknown_reference() {
        // The DTD is never fetched, so `&ext;` stays undefined.
        let error = refuse("<!DOCTYPE r SYSTEM \"http://127.0.0.1:1/r.dtd\">\n<r>&ext;</r>");
        let (line, column, _) = not_well_formed_at(&error);
        assert_eq!((line, column), (2, 4));
        assert_message(
            &error,
            &[
                "unknown entity reference `&ext;`",
                "&amp; &lt; &gt; &apos; &quot;",
            ],
        );
    }

    #[test]
    fn unknown_entity_reference_in_an_attribute_is_refused() {
        let error = refuse("<r>\n  <row name=\"a &nbsp; b\"/>\n</r>");
        assert_eq!(not_well_formed_at(&error).0, 2);
        assert_eq!(error.position(), Some((2, 16)));
        assert_message(&error, &["unknown entity reference `&nbsp;`"]);
    }

    #[test]
    fn xinclude_is_an_ordinary_element_and_nothing_is_included() {
        let xml = "<r xmlns:xi=\"http://www.w3.org/2001/XInclude\">\
                   <xi:include href=\"/etc/passwd\" parse=\"text\"/></r>";
        let package = accept(xml);
        let document = package.as_document();
        let root = document
            .root()
            .children()
            .into_iter()
            .find_map(|child| child.element());
        let root = root.expect("a root element");
        let children = root.children();
        assert_eq!(children.len(), 1);
        let include = children[0].element().expect("the xi:include element");
        assert_eq!(include.name().local_part(), "include");
        assert_eq!(
            include.name().namespace_uri(),
            Some("http://www.w3.org/2001/XInclude")
        );
        assert!(include.children().is_empty());
        assert_eq!(root_text(&package), "");
    }

    #[test]
    fn doctype_without_entities_is_accepted_and_ignored() {
        let inputs = [
            // First thing in the file, which sxd-document alone refuses.
            "<!DOCTYPE store SYSTEM \"http://x/store.dtd\">\n<store>1</store>",
            // PUBLIC, which sxd-document alone refuses.
            "<?xml version=\"1.0\"?>\n<!DOCTYPE store PUBLIC \"-//X//DTD Store//EN\" \
             \"http://x/store.dtd\">\n<store>1</store>",
            // An internal subset with declarations that are not entities, `]` and `>` in quotes.
            "<?xml version=\"1.0\"?>\n<!DOCTYPE store [\n  <!ELEMENT store (#PCDATA)>\n  \
             <!ATTLIST store note CDATA \"a]>b\">\n  <!-- a comment -->\n]>\n<store>1</store>",
            "\u{FEFF}<!DOCTYPE store>\n<store>1</store>",
        ];
        for xml in inputs {
            let package = accept(xml);
            assert_eq!(root_name(&package), "store");
            assert_eq!(root_text(&package), "1");
        }
    }

    #[test]
    fn positions_after_a_doctype_are_unchanged() {
        // The DOCTYPE is blanked out for sxd-document; its errors must still point at the file.
        let xml = "<!DOCTYPE r [\n  <!ELEMENT r ANY>\n  <!ATTLIST r é CDATA \"é\">\n]>\n\
                   <r>\n  <p:x/>\n</r>";
        let error = refuse(xml);
        assert_eq!(error.position(), Some((6, 4)));
        assert_message(&error, &["undeclared namespace prefix", "line 6, column 4"]);
    }

    #[test]
    fn misplaced_or_repeated_doctype_is_refused() {
        let cases = [
            ("<r/><!DOCTYPE r>", "only allowed before the root element"),
            ("<!DOCTYPE r><!DOCTYPE r><r/>", "only one DOCTYPE"),
            ("<!doctype r><r/>", "upper case"),
        ];
        for (xml, words) in cases {
            let error = refuse(xml);
            not_well_formed_at(&error);
            assert_message(&error, &[words]);
        }
    }

    // --- limits ------------------------------------------------------------------------------

    #[test]
    fn million_deep_nesting_is_refused_at_the_limit() {
        let xml = "<a>".repeat(1_000_000);
        let error = refuse(&xml);
        // The 257th `<a>` starts at byte 256 * 3.
        assert!(
            matches!(
                error,
                XmlError::TooDeep {
                    line: 1,
                    column: 769,
                    limit: 256
                }
            ),
            "{error:?}"
        );
        assert_message(
            &error,
            &[
                "nested more than 256 levels",
                "line 1, column 769",
                "hostile",
            ],
        );
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted() {
        let limits = XmlLimits {
            max_depth: 3,
            ..XmlLimits::default()
        };
        assert!(parse(b"<a><b><c/></b></a>", &limits).is_ok());
        let error = refuse_with("<a><b><c><d/></c></b></a>", &limits);
        assert!(
            matches!(
                error,
                XmlError::TooDeep {
                    column: 10,
                    limit: 3,
                    ..
                }
            ),
            "{error:?}"
        );
        let error = refuse_with("<a><b><c><d></d></c></b></a>", &limits);
        assert!(
            matches!(
                error,
                XmlError::TooDeep {
                    column: 10,
                    limit: 3,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn element_with_100k_attributes_is_refused() {
        let mut xml = String::from("<store>\n  <row");
        for index in 0..100_000 {
            xml.push_str(&format!(" a{index}=\"{index}\""));
        }
        xml.push_str("/>\n</store>");
        let error = refuse(&xml);
        assert!(
            matches!(
                &error,
                XmlError::TooManyAttributes { line: 2, column: 3, element, limit: 256 }
                    if element == "row"
            ),
            "{error:?}"
        );
        assert_message(
            &error,
            &[
                "element <row> has more than 256 attributes",
                "line 2, column 3",
            ],
        );
    }

    #[test]
    fn attributes_up_to_the_limit_are_accepted() {
        let limits = XmlLimits {
            max_attributes: 2,
            ..XmlLimits::default()
        };
        assert!(parse(b"<r a=\"1\" b=\"2\"/>", &limits).is_ok());
        let error = refuse_with("<r a=\"1\" b=\"2\" c=\"3\"/>", &limits);
        assert!(
            matches!(error, XmlError::TooManyAttributes { limit: 2, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn five_megabyte_attribute_value_is_refused_without_quoting_it() {
        let xml = format!("<r>\n<row data=\"{}\"/></r>", "s".repeat(5 * 1024 * 1024));
        let error = refuse(&xml);
        assert!(
            matches!(&error, XmlError::AttributeTooLarge { line: 2, column: 1, attribute, limit }
                if attribute == "data" && *limit == 1024 * 1024),
            "{error:?}"
        );
        assert_message(
            &error,
            &["attribute `data` is longer than 1 MiB", "line 2, column 1"],
        );
        assert!(!error.to_string().contains("ss"));
    }

    #[test]
    fn five_megabyte_element_name_is_refused_and_cut_short() {
        let name = "n".repeat(5 * 1024 * 1024);
        let error = refuse(format!("<{name}/>"));
        let XmlError::NameTooLong {
            kind,
            name: shown,
            limit,
            line,
            column,
        } = &error
        else {
            panic!("expected NameTooLong, got {error:?}");
        };
        assert_eq!(
            (*kind, *limit, *line, *column),
            (NameKind::Element, 1024, 1, 1)
        );
        assert_eq!(shown, &format!("{}…", "n".repeat(40)));
        assert_message(&error, &["element name", "longer than 1024 bytes"]);
        assert!(error.to_string().len() < 400);
    }

    #[test]
    fn long_attribute_name_is_refused() {
        let limits = XmlLimits {
            max_name_bytes: 8,
            ..XmlLimits::default()
        };
        assert!(parse(b"<r abcdefgh=\"1\"/>", &limits).is_ok());
        let error = refuse_with("<r abcdefghi=\"1\"/>", &limits);
        assert!(
            matches!(&error, XmlError::NameTooLong { kind: NameKind::Attribute, name, limit: 8, .. }
                if name == "abcdefghi"),
            "{error:?}"
        );
        assert_message(
            &error,
            &["attribute name `abcdefghi` is longer than 8 bytes"],
        );
    }

    #[test]
    fn input_larger_than_the_limit_is_refused_by_parse() {
        let limits = XmlLimits {
            max_bytes: 10,
            ..XmlLimits::default()
        };
        assert!(parse(b"<r>12</r>\n", &limits).is_ok());
        let error = refuse_with("<r>123</r>\n", &limits);
        assert!(
            matches!(error, XmlError::TooLarge { limit: 10 }),
            "{error:?}"
        );
        assert_message(
            &error,
            &["larger than the limit of 10 bytes;", "--max-input-bytes"],
        );
        assert_eq!(error.position(), None);
        let default = XmlError::TooLarge {
            limit: XmlLimits::default().max_bytes,
        };
        assert_message(&default, &["256 MiB", "(268435456 bytes)"]);
    }

    // --- structure ---------------------------------------------------------------------------

    #[test]
    fn truncated_document_is_refused() {
        let error = refuse("<store>\n  <row id=\"1\">\n    <value>3</value>\n");
        let (line, column, message) = not_well_formed_at(&error);
        assert_eq!((line, column), (4, 1));
        assert!(
            message.contains("<row> opened at line 2, column 3 is not closed"),
            "{message}"
        );
        assert_message(
            &error,
            &["ends before all elements are closed (truncated file?)"],
        );

        let error = refuse("<store>\n  <row id=\"1");
        assert_eq!(error.position(), Some((2, 3)));
        assert_message(
            &error,
            &["attribute value is not closed", "truncated file?"],
        );
    }

    #[test]
    fn two_root_elements_are_refused() {
        let error = refuse("<store/>\n<store/>\n");
        assert_eq!(not_well_formed_at(&error).0, 2);
        assert_message(
            &error,
            &["second root element <store>", "exactly one root element"],
        );
    }

    #[test]
    fn content_outside_the_root_element_is_refused() {
        let error = refuse("<r/>\ntrailing");
        assert_eq!(error.position(), Some((2, 1)));
        assert_message(&error, &["content after the end of the root element"]);
        let error = refuse("  leading<r/>");
        assert_eq!(error.position(), Some((1, 3)));
        assert_message(&error, &["content before the root element"]);
    }

    #[test]
    fn document_without_a_root_element_is_refused() {
        for xml in ["<?xml version=\"1.0\"?>\n<!-- nothing -->\n", " \n\t"] {
            let error = refuse(xml);
            not_well_formed_at(&error);
            assert_message(&error, &["no root element"]);
        }
    }

    #[test]
    fn mismatched_tags_are_refused() {
        let error = refuse("<store>\n  <row>\n  </rows>\n</store>");
        let (line, column, message) = not_well_formed_at(&error);
        assert_eq!((line, column), (3, 3));
        assert_eq!(message, "expected a closing tag for <row>, found </rows>");
        assert_message(
            &error,
            &["not well-formed XML at line 3, column 3: expected a closing tag"],
        );
        let error = refuse("<r/>\n</r>");
        assert_message(&error, &["closing tag </r> has no matching opening tag"]);
    }

    #[test]
    fn duplicate_attributes_are_refused() {
        let error = refuse("<r b=\"1\" b=\"2\"/>");
        assert_eq!(error.position(), Some((1, 10)));
        assert_message(&error, &["duplicate attribute `b`"]);
        let error = refuse("<r xmlns:p=\"x\" xmlns:p=\"y\"/>");
        assert_message(&error, &["duplicate attribute `xmlns:p`"]);
    }

    #[test]
    fn malformed_markup_gets_a_plain_message() {
        let cases = [
            ("<r><!-- a -- b --></r>", "comment must not contain `--`"),
            ("<r>]]></r>", "`]]>` is not allowed in text"),
            ("<r>a & b</r>", "write a literal & as &amp;"),
            ("<r a=\"x<y\"/>", "`<` is not allowed in an attribute value"),
            ("<r a=\"x & y\"/>", "write a literal & as &amp;"),
            ("<r a=1/>", "must be quoted"),
            ("<r a/>", "expected `=`"),
            ("<r a=\"1\"b=\"2\"/>", "expected whitespace, `>` or `/>`"),
            ("<1r/>", "expected an element name"),
            ("<r>< x</r>", "expected an element name right after `<`"),
            ("<r 1a=\"x\"/>", "expected an attribute name"),
            ("<p:r/>", "undeclared namespace prefix"),
            ("<r xmlns:p=\"\"/>", "empty URI"),
            (
                " <?xml version=\"1.0\"?><r/>",
                "only allowed at the very start",
            ),
            ("<?xml version=\"2.0\"?><r/>", "unsupported XML version"),
            (
                "<?xml encoding=\"UTF-8\"?><r/>",
                "must start with version=\"1.0\"",
            ),
            (
                "<?xml version=\"1.0\" standalone=\"maybe\"?><r/>",
                "\"yes\" or \"no\"",
            ),
            ("<r><!-- open", "comment is not closed"),
            ("<r><![CDATA[open", "CDATA section is not closed"),
            ("<r><!x></r>", "`<!` must start a comment"),
        ];
        for (xml, words) in cases {
            let error = refuse(xml);
            not_well_formed_at(&error);
            assert_message(&error, &[words]);
        }
    }

    // --- encoding and characters -------------------------------------------------------------

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let bom = if big_endian {
            [0xFE, 0xFF]
        } else {
            [0xFF, 0xFE]
        };
        let units = text.encode_utf16();
        let mut bytes = bom.to_vec();
        for unit in units {
            let pair = if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            };
            bytes.extend_from_slice(&pair);
        }
        bytes
    }

    #[test]
    fn utf16_with_byte_order_mark_is_refused() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><r/>";
        for (big_endian, name) in [(false, "UTF-16LE"), (true, "UTF-16BE")] {
            let error = refuse(utf16(xml, big_endian));
            assert!(
                matches!(
                    &error,
                    XmlError::Encoding { encoding, evidence: EncodingEvidence::ByteOrderMark }
                        if encoding == name
                ),
                "{error:?}"
            );
            assert_message(
                &error,
                &[name, "only UTF-8 is supported", "iconv -f UTF-16 -t UTF-8"],
            );
            assert_eq!(error.position(), None);
        }
    }

    #[test]
    fn utf32_and_bomless_utf16_are_refused() {
        let cases: [(&[u8], &str, EncodingEvidence); 4] = [
            (
                b"\xFF\xFE\x00\x00<\x00\x00\x00",
                "UTF-32LE",
                EncodingEvidence::ByteOrderMark,
            ),
            (
                b"\x00\x00\xFE\xFF\x00\x00\x00<",
                "UTF-32BE",
                EncodingEvidence::ByteOrderMark,
            ),
            (
                b"<\x00r\x00/\x00>\x00",
                "UTF-16LE",
                EncodingEvidence::ZeroBytes,
            ),
            (
                b"\x00<\x00r\x00/\x00>",
                "UTF-16BE",
                EncodingEvidence::ZeroBytes,
            ),
        ];
        for (bytes, name, expected) in cases {
            let error = refuse(bytes);
            assert!(
                matches!(
                    &error,
                    XmlError::Encoding { encoding, evidence }
                        if encoding == name && *evidence == expected
                ),
                "{error:?}"
            );
            assert_message(&error, &[name, "only UTF-8 is supported", "iconv"]);
        }
    }

    #[test]
    fn latin1_declaration_is_refused_before_its_bytes_are() {
        let mut xml = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<r>caf".to_vec();
        xml.extend_from_slice(b"\xE9</r>");
        let error = refuse(&xml);
        assert!(
            matches!(
                &error,
                XmlError::Encoding { encoding, evidence: EncodingEvidence::Declaration }
                    if encoding == "ISO-8859-1"
            ),
            "{error:?}"
        );
        assert_message(
            &error,
            &[
                "encoding=\"ISO-8859-1\"",
                "only UTF-8",
                "iconv -f ISO-8859-1 -t UTF-8",
            ],
        );
    }

    #[test]
    fn utf8_and_ascii_declarations_are_accepted() {
        for name in ["UTF-8", "utf-8", "utf8", "US-ASCII", "ascii"] {
            accept(format!(
                "<?xml version=\"1.0\" encoding=\"{name}\"?><r>é</r>"
            ));
            accept(format!("<?xml version='1.0' encoding = '{name}' ?><r/>"));
        }
    }

    #[test]
    fn invalid_utf8_reports_line_and_column_of_the_first_bad_byte() {
        let mut xml = "<r>\n  <name>héllo".as_bytes().to_vec();
        xml.extend_from_slice(b"\xFF</name>\n</r>");
        let error = refuse(&xml);
        assert!(
            matches!(
                error,
                XmlError::NotUtf8 {
                    line: 2,
                    column: 14
                }
            ),
            "{error:?}"
        );
        assert_message(
            &error,
            &[
                "not valid UTF-8 at line 2, column 14",
                "convert the file to UTF-8",
            ],
        );
    }

    #[test]
    fn random_binary_garbage_is_refused_without_panicking() {
        // xorshift64: deterministic, so a failure can be replayed.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"<>/?!&#;=\"' \n\tabcx0[]-:\xC3\xA9\xFF\x00";
        for round in 0..500 {
            let len = usize::try_from(next() % 3000).unwrap_or(0);
            let bytes: Vec<u8> = if round % 2 == 0 {
                (0..len).map(|_| next().to_le_bytes()[0]).collect()
            } else {
                let pick = |n: u64| alphabet[usize::try_from(n).unwrap_or(0) % alphabet.len()];
                (0..len).map(|_| pick(next())).collect()
            };
            assert!(
                parse(&bytes, &XmlLimits::default()).is_err(),
                "round {round} accepted"
            );
        }
    }

    #[test]
    fn empty_input_is_refused() {
        for input in [&b""[..], b"\xEF\xBB\xBF"] {
            let error = refuse(input);
            assert_eq!(not_well_formed_at(&error), (1, 1, "the file is empty"));
            assert_message(&error, &["the file is empty"]);
        }
    }

    #[test]
    fn nul_character_references_are_refused() {
        let cases = [
            ("<r>&#0;</r>", (1, 4), "U+0000"),
            ("<r>\n <v a=\"x&#x0;\"/></r>", (2, 9), "U+0000"),
            ("<r>&#x1F;</r>", (1, 4), "U+001F"),
            ("<r>&#xFFFF;</r>", (1, 4), "U+FFFF"),
            ("<r>&#xD800;</r>", (1, 4), "U+D800"),
            ("<r>&#1114112;</r>", (1, 4), "U+110000"),
            ("<r>&#99999999999;</r>", (1, 4), "beyond U+10FFFF"),
            ("<r>&#x;</r>", (1, 4), "malformed character reference"),
        ];
        for (xml, position, words) in cases {
            let error = refuse(xml);
            not_well_formed_at(&error);
            assert_eq!(error.position(), Some(position), "{xml}");
            assert_message(&error, &[words]);
        }
        // Characters XML allows, written as references, still work.
        assert_eq!(
            root_text(&accept("<r>&#9;&#x41;&#233;&#x1F600;</r>")),
            "\tAé😀"
        );
    }

    #[test]
    fn raw_control_characters_are_refused() {
        let cases = [
            ("<r>\n  a\u{0}b</r>", (2, 4), "U+0000"),
            ("<r a=\"\u{1B}[31m\"/>", (1, 7), "U+001B"),
            ("<r>\u{FFFE}</r>", (1, 4), "U+FFFE"),
        ];
        for (xml, position, code) in cases {
            let error = refuse(xml);
            not_well_formed_at(&error);
            assert_eq!(error.position(), Some(position), "{xml:?}");
            assert_message(&error, &[code, "not allowed in XML 1.0"]);
        }
        // Tab, line feed and carriage return are fine.
        assert_eq!(root_text(&accept("<r>a\tb\r\nc</r>")), "a\tb\r\nc");
    }

    #[test]
    fn utf8_byte_order_mark_is_skipped() {
        let package = accept("\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?><r>x</r>");
        assert_eq!(root_text(&package), "x");
        // Columns count from after the mark.
        let error = refuse("\u{FEFF}<r>&bad;</r>");
        assert_eq!(error.position(), Some((1, 4)));
    }

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
    fn expand_references_matches_sxd_document() {
        assert_eq!(
            expand_references("a&amp;b&lt;&#x41;&#66;&quot;&apos;&gt;"),
            "a&b<AB\"'>"
        );
        assert_eq!(expand_references("plain"), "plain");
        assert_eq!(expand_references("a&b"), "a&b");
    }

    // --- read ----------------------------------------------------------------------------------

    fn file_with(content: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temporary file");
        file.write_all(content).expect("write");
        file
    }

    #[test]
    fn read_returns_the_bytes() {
        let file = file_with(b"<r/>\n");
        let bytes = read(file.path(), &XmlLimits::default()).expect("readable");
        assert_eq!(bytes, b"<r/>\n");
    }

    #[test]
    fn read_refuses_a_file_larger_than_the_limit() {
        let limits = XmlLimits {
            max_bytes: 5,
            ..XmlLimits::default()
        };
        assert!(read(file_with(b"<r/>\n").path(), &limits).is_ok());
        let error = read(file_with(b"<r/>\n\n").path(), &limits).expect_err("too large");
        assert!(
            matches!(error, XmlError::TooLarge { limit: 5 }),
            "{error:?}"
        );
        assert_message(
            &error,
            &["larger than the limit of 5 bytes", "--max-input-bytes"],
        );
    }

    #[cfg(unix)]
    #[test]
    fn read_stops_at_the_limit_on_an_endless_stream() {
        // /dev/zero has no size in its metadata and never ends; only `take` stops the read.
        let limits = XmlLimits {
            max_bytes: 4096,
            ..XmlLimits::default()
        };
        let error = read(Path::new("/dev/zero"), &limits).expect_err("endless");
        assert!(
            matches!(error, XmlError::TooLarge { limit: 4096 }),
            "{error:?}"
        );
        assert_message(&error, &["limit of 4 KiB (4096 bytes);"]);
    }

    #[test]
    fn read_refuses_an_empty_file() {
        let error = read(file_with(b"").path(), &XmlLimits::default()).expect_err("empty");
        assert_eq!(not_well_formed_at(&error), (1, 1, "the file is empty"));
    }

    #[test]
    fn read_explains_a_missing_file_and_a_directory() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let missing = directory.path().join("missing.xml");
        let error = read(&missing, &XmlLimits::default()).expect_err("missing");
        assert!(
            matches!(&error, XmlError::Read { source } if source.kind() == io::ErrorKind::NotFound),
            "{error:?}"
        );
        assert_message(
            &error,
            &[
                "cannot read the file",
                "does not exist",
                "check the --input path",
            ],
        );
        assert_eq!(error.position(), None);

        let error = read(directory.path(), &XmlLimits::default()).expect_err("directory");
        assert_message(&error, &["is a directory", "--input"]);
    }

    // --- helpers -------------------------------------------------------------------------------

    #[test]
    fn line_column_counts_characters_from_one() {
        let text = "ab\ncé\u{1F600}x";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        // `x` is after a 2-byte and a 4-byte character.
        assert_eq!(line_column(text, text.len() - 1), (2, 4));
        assert_eq!(line_column(text, 5), (2, 2), "inside `é` counts as `é`");
        assert_eq!(line_column(text, 1000), (2, 5));
    }

    #[test]
    fn excerpt_cuts_names_and_hides_control_characters() {
        assert_eq!(excerpt("row"), "row");
        assert_eq!(excerpt(&"é".repeat(40)), "é".repeat(40));
        assert_eq!(excerpt(&"é".repeat(41)), format!("{}…", "é".repeat(40)));
        assert_eq!(excerpt("a\u{1B}b"), "a?b");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(Size(256 * MIB).to_string(), "256 MiB");
        assert_eq!(Size(MIB + MIB / 2).to_string(), "1.5 MiB");
        assert_eq!(Size(4096).to_string(), "4 KiB");
        assert_eq!(Size(100).to_string(), "100 bytes");
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

    #[test]
    fn a_large_ordinary_document_is_accepted() {
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<store>\n");
        for index in 0..20_000 {
            xml.push_str(&format!(
                "  <row id=\"{index}\" note=\"a &amp; b\"><v>{index}</v></row>\n"
            ));
        }
        xml.push_str("</store>\n");
        let package = accept(&xml);
        let document = package.as_document();
        let root = document
            .root()
            .children()
            .into_iter()
            .find_map(|child| child.element());
        let rows = root
            .expect("a root element")
            .children()
            .into_iter()
            .filter_map(|c| c.element());
        assert_eq!(rows.count(), 20_000);
    }
}
