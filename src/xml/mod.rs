//! Stage 3 of a run: bytes -> sxd `Package`, or a stream of checked content for the streaming
//! engine, with hostile input refused before any DOM is built.
//!
//! [`read`] takes the path given to `--input` and returns its bytes, refusing a file larger than
//! [`XmlLimits::max_bytes`] without reading all of it. [`parse`] takes those bytes (or bytes read
//! from stdin) and returns an `sxd_document::Package` for the evaluate stage, or an [`XmlError`]
//! that says where the input is wrong and what to do. [`scan_file`] and [`scan`] make the same
//! checks without building a DOM, and hand the content to a [`Sink`] as they go.
//!
//! All three run one scan. It reads text, tags and references itself, in one pass over each
//! piece of input (plain tags, which are almost all, without copying them), and leaves the
//! rarer markup (comments, CDATA sections, processing instructions, the XML declaration, the
//! DOCTYPE) to quick-xml; where it reads what quick-xml would, it finds the same errors at the
//! same places. It insists on UTF-8, refuses characters XML 1.0 does not allow, enforces the
//! remaining [`XmlLimits`], refuses DTD entity declarations, and refuses what sxd-document would
//! refuse later (names, namespace prefixes, the XML declaration), so that the streaming engine
//! accepts exactly the documents the DOM engine accepts, with the same errors. sxd-document
//! needs minutes for 100,000 nested elements and about 35 s for one element with 100,000
//! attributes; the scan is linear. It reads its input once, in 64 KiB pieces, and
//! holds besides only the markup construct at hand (a tag, comment, CDATA section, processing
//! instruction or DOCTYPE; text is passed on in pieces) and the open elements.
//!
//! Which error wins does not depend on the order the scan meets them: as if the checks ran one
//! after the other over the whole file, a read error beats the size limit, which beats the
//! encoding, which beats invalid UTF-8 anywhere, which beats a character XML forbids anywhere,
//! which beats the first problem of structure. So after an error the scan reads on to the end
//! (keeping nothing), and it finds the line and column of the error it reports, and only that,
//! by reading the text again up to it.
//!
//! After parsing, `parse` repairs the default namespaces sxd-document 0.3.2 resolves wrongly.
//! Nothing in this module expands a DTD entity, reads a DTD or XInclude, or opens a URL.

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use quick_xml::errors::{Error as QuickError, IllFormedError, SyntaxError};
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesDecl, BytesPI, Event};
use quick_xml::reader::Reader;
use sxd_document::{Package, QName};

mod file;

use file::{Patient, Stalled, Stamp};

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

/// How many bytes the scan asks its source for at a time. A [`Sink`] gets a long run of text in
/// pieces of at most this size.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// The UTF-8 byte order mark, which the scan skips; positions count from after it.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Byte order marks and the look of `<` in UTF-16 and UTF-32, UTF-32 first: its little-endian
/// byte order mark starts like UTF-16's. See <https://www.w3.org/TR/xml/#sec-guessing-no-ext-info>.
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

/// The encodings an XML declaration may name: ASCII is a subset of UTF-8, and the bytes must
/// be UTF-8 anyway, which the scan checks.
const ACCEPTED_ENCODINGS: [&str; 4] = ["utf-8", "utf8", "us-ascii", "ascii"];

/// How many bytes of a declared encoding name the scan keeps: enough for the 40 characters a
/// message shows, and more than any name in [`ACCEPTED_ENCODINGS`].
const DECLARED_ENCODING_BYTES: usize = 256;

/// sxd-document's message for an XML declaration it cannot read, or a processing instruction
/// named like one.
const MALFORMED_DECLARATION: &str = "malformed XML declaration, or a processing instruction named \
                                     `xml`; the declaration looks like <?xml version=\"1.0\" \
                                     encoding=\"UTF-8\"?> and comes first in the file";

const UNDECLARED_PREFIX: &str = "undeclared namespace prefix; declare it with xmlns:prefix=\"...\" \
                                 on this element or an ancestor";

const EMPTY_NAMESPACE: &str = "a namespace prefix cannot be bound to an empty URI (xmlns:p=\"\")";

const MISSING_SPACE: &str = "expected whitespace, `>` or `/>` after the attribute";

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
    /// The longest an input that is not a regular file (a FIFO, a pipe, a device) may deliver
    /// nothing, before its first byte or between two reads; then it is refused as
    /// [`XmlError::Read`]. Default: [`DEFAULT_READ_TIMEOUT`].
    pub read_timeout: Duration,
}

/// Default [`XmlLimits::read_timeout`] (`--read-timeout`): 30 s, far more than a program that
/// writes a FIFO needs between two writes, short enough that a FIFO without a writer does not
/// hold the output's lock past the next cron run.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            max_bytes: 256 * MIB,
            max_depth: 256,
            max_attributes: 256,
            max_name_bytes: 1024,
            max_attribute_bytes: 1024 * 1024,
            read_timeout: DEFAULT_READ_TIMEOUT,
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
    /// directory, the read failed, or an input that is not a regular file delivered nothing
    /// for [`XmlLimits::read_timeout`].
    ///
    /// ```text
    /// cannot read the file: it does not exist; check the --input path
    /// cannot read the file: nothing arrived for 30s; check that a program writes to it (a FIFO needs a writer), or raise --read-timeout
    /// ```
    #[error("cannot read the file: {}", ReadAdvice(.source))]
    Read {
        /// The error from the operating system.
        source: io::Error,
    },

    /// The input is larger than [`XmlLimits::max_bytes`]; from [`read`] and [`scan_file`] before
    /// the file is read past the limit, or from [`parse`] and [`scan`] for bytes that came from
    /// elsewhere (stdin).
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

    /// A regular file changed while it was read (its size, modification or change time, as
    /// `fstat` gives them at open and at the end of the read), so what was read may mix old
    /// and new content. [`read`] reads once more before it returns this; callers of
    /// [`scan_file`] do the same with a fresh sink ([`again_if_changed`]).
    ///
    /// ```text
    /// the input changed while it was read, so what was read may mix old and new content; have the program that writes it write a new file and rename it over this one, or try again once it is written
    /// ```
    #[error(
        "the input changed while it was read, so what was read may mix old and new content; \
         have the program that writes it write a new file and rename it over this one, or try \
         again once it is written"
    )]
    Changed,
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
            Self::Read { .. } | Self::TooLarge { .. } | Self::Encoding { .. } | Self::Changed => {
                None
            }
        }
    }
}

/// Receives the content of a document as the scan checks it. Every call happens only after the
/// construct was checked; a sink never sees anything of a document that fails before that point
/// (it may have seen earlier parts: callers must discard their results if the scan returns Err).
pub trait Sink {
    /// A start tag; `empty` for `<a/>`, which is followed at once by a call to `end`.
    fn start(&mut self, tag: &StartTag<'_>, empty: bool);
    /// The end of the innermost open element.
    fn end(&mut self);
    /// Character data inside the root element, as the DOM sees it: a run of text or a CDATA
    /// section's content, with its line ends normalised (XML 1.0 §2.11: CR LF and a CR alone
    /// read as LF), or the replacement of one entity or character reference (`&amp;` -> `&`,
    /// `&#10;` -> "\n", `&#13;` -> "\r", which is not normalised).
    ///
    /// A run of text longer than what one read of the input brings arrives in several calls, cut
    /// between characters where a read ended (pieces of at most 64 KiB); the pieces follow each
    /// other with no other call between them.
    fn text(&mut self, text: &str);
    /// A comment or processing instruction inside the root element (it separates text nodes).
    fn boundary(&mut self);
    /// A comment anywhere in the document, before, inside or after the root element: its text
    /// between `<!--` and `-->`, line ends normalised. Inside the root element `boundary` is called too. The default
    /// ignores it.
    fn comment(&mut self, _text: &str) {}
    /// A processing instruction anywhere in the document (the XML declaration is none), as
    /// sxd-document reads it: its target, and its value (line ends normalised) after the
    /// whitespace that follows the target, if there is such whitespace (`<?t?>` has no value, `<?t ?>` an empty one). Inside
    /// the root element `boundary` is called too. The default ignores it.
    fn processing_instruction(&mut self, _target: &str, _value: Option<&str>) {}
}

/// A sink that ignores everything (the DOM path uses it).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSink;

impl Sink for NoSink {
    fn start(&mut self, _tag: &StartTag<'_>, _empty: bool) {}
    fn end(&mut self) {}
    fn text(&mut self, _text: &str) {}
    fn boundary(&mut self) {}
}

/// Where an attribute's name and its raw value (without quotes) are in the text of a tag, as
/// byte ranges from after the `<`.
type AttributeRanges = (Range<usize>, Range<usize>);

/// A checked start tag as a [`Sink`] receives it: its name and attributes as written, split
/// once by the scan so a sink need not parse the tag again.
pub struct StartTag<'a> {
    raw: &'a str,
    name: &'a str,
    attributes: &'a [AttributeRanges],
}

impl<'a> StartTag<'a> {
    /// What stands between `<` and `>` (or `/>`), attribute values normalised as
    /// [`StartTag::attributes`] gives them.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The element name as written, prefix included.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Whether the tag has attributes (namespace declarations included).
    pub fn has_attributes(&self) -> bool {
        !self.attributes.is_empty()
    }

    /// The attributes: name (prefix included) and value with its references not yet expanded
    /// (see [`expanded_attribute_value`]), but its literal tabs, line feeds and carriage
    /// returns already read as spaces (XML 1.0 §3.3.3). Namespace declarations included.
    pub fn attributes(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.attributes.iter().map(|(key, value)| {
            (
                self.raw.get(key.clone()).unwrap_or_default(),
                self.raw.get(value.clone()).unwrap_or_default(),
            )
        })
    }
}

/// Reads a file, refusing (without reading it all) one larger than `limits.max_bytes`.
///
/// The size in the file's metadata is checked first; the read itself stops one byte past the
/// limit, so a file that grows while it is read cannot make xml2prom read more. A regular file
/// that changed while it was read is read once more, and refused as [`XmlError::Changed`] if
/// it changed again. An input that is not a regular file (a FIFO, a pipe, a device) is
/// checked as [`scan_file`] checks it while it is read, so that `/dev/zero` is refused at its
/// first byte rather than read to the limit. An empty file is refused as
/// [`XmlError::NotWellFormed`] (`the file is empty`).
pub fn read(path: &Path, limits: &XmlLimits) -> Result<Vec<u8>, XmlError> {
    again_if_changed(|| read_once(path, limits))
}

fn read_once(path: &Path, limits: &XmlLimits) -> Result<Vec<u8>, XmlError> {
    let opened = open(path, limits)?;
    let Some(stamp) = opened.stamp else {
        let mut copy = scan_stream(opened.file, limits, &mut NoSink)?;
        let mut bytes = Vec::new();
        copy.seek(SeekFrom::Start(0)).map_err(read_error)?;
        copy.read_to_end(&mut bytes).map_err(read_error)?;
        return Ok(bytes);
    };
    let mut bytes = Vec::with_capacity(usize::try_from(stamp.size()).unwrap_or(0));
    (&opened.file)
        .take(limits.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if stamp.changed(&opened.file) {
        return Err(XmlError::Changed);
    }
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

/// Runs `read` (one read of an input file, and what is made of it) once more if the input
/// changed while it was read ([`XmlError::Changed`]), so that one rewrite at the wrong moment
/// costs a second read rather than a failed run. What the first read gave must be dropped:
/// give `read` a fresh sink each time. A second change is returned as the error.
pub fn again_if_changed<T>(mut read: impl FnMut() -> Result<T, XmlError>) -> Result<T, XmlError> {
    match read() {
        Err(XmlError::Changed) => read(),
        other => other,
    }
}

/// Checks the bytes against the limits and parses them into a DOM with sxd-document's own
/// parser. The DOM engine builds its tree from the scan instead ([`crate::engine::dom::build`]); this is the
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

/// Checks a document in memory as [`parse`] does, without building a DOM, and feeds its content
/// to `sink`. Refuses exactly what [`parse`] refuses, with the same error.
pub fn scan(bytes: &[u8], limits: &XmlLimits, sink: &mut dyn Sink) -> Result<(), XmlError> {
    scan_bytes(bytes, limits, sink).map(drop)
}

/// Reads a file once and checks it as [`read`] and then [`parse`] would, without building a DOM
/// or holding the file in memory, and feeds its content to `sink`. Refuses exactly what `read`
/// and `parse` refuse, with the same error.
///
/// A regular file whose metadata says it is past the limit is refused before it is read. A
/// regular file that changed while it was read (`fstat` at open and at the end of the read
/// differ) is refused as [`XmlError::Changed`], whatever the scan found: the caller may read it
/// again with a fresh sink ([`again_if_changed`]).
///
/// A stream that cannot be read twice (a FIFO, a pipe, a device) is checked as it is read, and
/// each piece the scan reads is also copied into an unnamed temporary file, where the line and
/// column of an error are found. The scan of a stream stops at its first problem instead of
/// reading on for one that would take precedence (see the module documentation), so nothing is
/// read or copied past the piece that holds it: `/dev/zero` is refused at its first byte, a NUL.
/// Each read of a stream waits at most [`XmlLimits::read_timeout`].
pub fn scan_file(path: &Path, limits: &XmlLimits, sink: &mut dyn Sink) -> Result<(), XmlError> {
    let opened = open(path, limits)?;
    let Some(stamp) = opened.stamp else {
        return scan_stream(opened.file, limits, sink).map(drop);
    };
    let mut locate = OnDisk {
        file: opened.file.try_clone().map_err(read_error)?,
    };
    let scanned = scan_source(
        &opened.file,
        &mut locate,
        limits,
        sink,
        READ_CHUNK_BYTES,
        Rest::Read,
    );
    if stamp.changed(&opened.file) {
        return Err(XmlError::Changed);
    }
    scanned.map(drop)
}

/// [`scan_file`] with the scan on a second thread: `sink` receives the same calls in the same
/// order on this thread, while the scan reads and checks the next part of the file. For a sink
/// whose work costs as much as the scan (building a DOM) the two then take the time of the
/// slower one, not the sum. The content passes between the threads in pieces of about 256 KiB,
/// at most 8 of them at a time. If no thread can be started, the scan runs on this thread.
pub fn scan_file_in_parallel(
    path: &Path,
    limits: &XmlLimits,
    sink: &mut dyn Sink,
) -> Result<(), XmlError> {
    in_parallel(&|recorder| scan_file(path, limits, recorder), sink)
}

/// [`scan`] with the scan on a second thread, as [`scan_file_in_parallel`] does.
pub fn scan_in_parallel(
    bytes: &[u8],
    limits: &XmlLimits,
    sink: &mut dyn Sink,
) -> Result<(), XmlError> {
    in_parallel(&|recorder| scan(bytes, limits, recorder), sink)
}

/// About how many bytes of content one piece of tape carries from the scan to the sink.
const TAPE_BYTES: usize = 256 * 1024;

/// What a piece of tape reserves: room for the record that takes it past [`TAPE_BYTES`] (a
/// piece of text is at most 64 KiB), so that it seldom grows.
const TAPE_CAPACITY: usize = 2 * TAPE_BYTES;

/// How many pieces of tape may wait for the sink; then the scan waits.
const TAPES_IN_FLIGHT: usize = 8;

fn in_parallel(
    scan: &(dyn Fn(&mut dyn Sink) -> Result<(), XmlError> + Sync),
    sink: &mut dyn Sink,
) -> Result<(), XmlError> {
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<u8>>(TAPES_IN_FLIGHT);
    // Replayed tapes go back to be written again: fresh memory for every piece would cost a
    // page fault per 4 KiB of input.
    let (returner, returned) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let scanner = std::thread::Builder::new()
            .name("xml2prom-scan".to_owned())
            .spawn_scoped(scope, move || {
                let mut recorder = Recorder {
                    tape: Vec::with_capacity(TAPE_CAPACITY),
                    sender,
                    returned,
                };
                let scanned = scan(&mut recorder);
                recorder.send();
                scanned
            });
        let Ok(scanner) = scanner else {
            return scan(sink);
        };
        let mut replayed = Ok(());
        let mut ranges = Vec::new();
        // Until the scan ends and drops the sender; after a problem, the rest is only drained.
        for mut tape in receiver {
            if replayed.is_ok() {
                replayed = replay(&tape, sink, &mut ranges).ok_or_else(lost_track);
            }
            tape.clear();
            // Once the scan has ended nobody takes it back, and it is dropped.
            let _ = returner.send(tape);
        }
        let scanned = match scanner.join() {
            Ok(scanned) => scanned,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        scanned.and(replayed)
    })
}

/// The scan's end of [`in_parallel`]: writes each call onto a tape, and sends the tape on when
/// it is long enough. A tape is a sequence of records: a kind byte, then lengths (`u64`,
/// little-endian) each followed by that many bytes of text, or other numbers.
struct Recorder {
    tape: Vec<u8>,
    sender: std::sync::mpsc::SyncSender<Vec<u8>>,
    /// Tapes replayed and handed back, to be written again.
    returned: std::sync::mpsc::Receiver<Vec<u8>>,
}

const TAPE_START: u8 = b'S';
const TAPE_EMPTY_START: u8 = b's';
const TAPE_END: u8 = b'E';
const TAPE_TEXT: u8 = b'T';
const TAPE_BOUNDARY: u8 = b'B';
const TAPE_COMMENT: u8 = b'C';
const TAPE_INSTRUCTION: u8 = b'P';
const TAPE_INSTRUCTION_VALUE: u8 = b'V';

impl Recorder {
    fn write_number(&mut self, n: usize) {
        self.tape.extend_from_slice(&(n as u64).to_le_bytes());
    }

    fn write_str(&mut self, text: &str) {
        self.write_number(text.len());
        self.tape.extend_from_slice(text.as_bytes());
    }

    fn record_done(&mut self) {
        if self.tape.len() >= TAPE_BYTES {
            self.send();
        }
    }

    fn send(&mut self) {
        if self.tape.is_empty() {
            return;
        }
        let next = self
            .returned
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(TAPE_CAPACITY));
        let tape = std::mem::replace(&mut self.tape, next);
        // The other end stops listening only when it is gone; nothing is left to tell then.
        let _ = self.sender.send(tape);
    }
}

impl Sink for Recorder {
    fn start(&mut self, tag: &StartTag<'_>, empty: bool) {
        self.tape
            .push(if empty { TAPE_EMPTY_START } else { TAPE_START });
        self.write_str(tag.raw);
        self.write_str(tag.name);
        self.write_number(tag.attributes.len());
        for (key, value) in tag.attributes {
            for n in [key.start, key.end, value.start, value.end] {
                self.write_number(n);
            }
        }
        self.record_done();
    }

    fn end(&mut self) {
        self.tape.push(TAPE_END);
        self.record_done();
    }

    fn text(&mut self, text: &str) {
        self.tape.push(TAPE_TEXT);
        self.write_str(text);
        self.record_done();
    }

    fn boundary(&mut self) {
        self.tape.push(TAPE_BOUNDARY);
        self.record_done();
    }

    fn comment(&mut self, text: &str) {
        self.tape.push(TAPE_COMMENT);
        self.write_str(text);
        self.record_done();
    }

    fn processing_instruction(&mut self, target: &str, value: Option<&str>) {
        match value {
            Some(value) => {
                self.tape.push(TAPE_INSTRUCTION_VALUE);
                self.write_str(target);
                self.write_str(value);
            }
            None => {
                self.tape.push(TAPE_INSTRUCTION);
                self.write_str(target);
            }
        }
        self.record_done();
    }
}

/// Makes the calls a tape records; `None` if the tape is not one [`Recorder`] wrote (our bug).
fn replay(
    tape: &[u8],
    sink: &mut dyn Sink,
    ranges: &mut Vec<(Range<usize>, Range<usize>)>,
) -> Option<()> {
    fn number(rest: &mut &[u8]) -> Option<usize> {
        let (bytes, after) = rest.split_first_chunk::<8>()?;
        *rest = after;
        usize::try_from(u64::from_le_bytes(*bytes)).ok()
    }
    fn text<'t>(rest: &mut &'t [u8]) -> Option<&'t str> {
        let length = number(rest)?;
        let (bytes, after) = rest.split_at_checked(length)?;
        *rest = after;
        std::str::from_utf8(bytes).ok()
    }
    let mut rest = tape;
    while let Some((&kind, after)) = rest.split_first() {
        rest = after;
        match kind {
            TAPE_START | TAPE_EMPTY_START => {
                let raw = text(&mut rest)?;
                let name = text(&mut rest)?;
                ranges.clear();
                for _ in 0..number(&mut rest)? {
                    let key = number(&mut rest)?..number(&mut rest)?;
                    let value = number(&mut rest)?..number(&mut rest)?;
                    ranges.push((key, value));
                }
                let tag = StartTag {
                    raw,
                    name,
                    attributes: ranges,
                };
                sink.start(&tag, kind == TAPE_EMPTY_START);
            }
            TAPE_END => sink.end(),
            TAPE_TEXT => sink.text(text(&mut rest)?),
            TAPE_BOUNDARY => sink.boundary(),
            TAPE_COMMENT => sink.comment(text(&mut rest)?),
            TAPE_INSTRUCTION => sink.processing_instruction(text(&mut rest)?, None),
            TAPE_INSTRUCTION_VALUE => {
                let target = text(&mut rest)?;
                sink.processing_instruction(target, Some(text(&mut rest)?));
            }
            _ => return None,
        }
    }
    Some(())
}

/// An input file, open: a regular file with its [`Stamp`] at open, or a stream (`stamp` is
/// `None`) left non-blocking for [`Patient`].
struct Opened {
    file: File,
    stamp: Option<Stamp>,
}

/// Opens an input file without blocking (a FIFO without a writer opens at once), refusing a
/// directory and a regular file whose metadata says it is larger than the limit.
fn open(path: &Path, limits: &XmlLimits) -> Result<Opened, XmlError> {
    let (file, metadata) = file::open(path).map_err(read_error)?;
    if metadata.is_dir() {
        // Linux opens a directory without complaint and fails only at the first read.
        return Err(read_error(io::ErrorKind::IsADirectory.into()));
    }
    if !metadata.is_file() {
        return Ok(Opened { file, stamp: None });
    }
    if metadata.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    Ok(Opened {
        file,
        stamp: Some(Stamp::of(&metadata)),
    })
}

/// Scans a stream as it is read (each read waiting at most the read timeout), copying what is
/// read into an unnamed temporary file for the positions of an error, and stopping at the first
/// problem. Returns the copy, its position at its end.
fn scan_stream(stream: File, limits: &XmlLimits, sink: &mut dyn Sink) -> Result<File, XmlError> {
    let copy = tempfile::tempfile().map_err(|error| read_error(spool_error(&error)))?;
    let mut locate = OnDisk {
        file: copy.try_clone().map_err(read_error)?,
    };
    let source = Tee {
        source: Patient::new(stream, limits.read_timeout),
        copy,
    };
    scan_source(
        source,
        &mut locate,
        limits,
        sink,
        READ_CHUNK_BYTES,
        Rest::Leave,
    )?;
    Ok(locate.file)
}

/// A source whose every read is also written to `copy`, before the scan sees it: the copy holds
/// what was read of a stream, and never more.
struct Tee<R> {
    source: R,
    copy: File,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.source.read(buffer)?;
        let read = buffer.get(..count).unwrap_or_default();
        io::Write::write_all(&mut self.copy, read).map_err(|error| spool_error(&error))?;
        Ok(count)
    }
}

/// A failure to keep the copy of a stream, as a read error that says so.
fn spool_error(error: &io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!(
            "cannot keep a copy of the stream in the temporary directory ({}): {error}; free \
             space there or point TMPDIR elsewhere",
            std::env::temp_dir().display()
        ),
    )
}

fn read_error(source: io::Error) -> XmlError {
    XmlError::Read { source }
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

/// The error for a scan that stopped without a reason; it would be our bug.
fn lost_track() -> XmlError {
    XmlError::NotWellFormed {
        line: 1,
        column: 1,
        message: "xml2prom lost track of its input; this is a bug, please report it".to_owned(),
    }
}

/// [`scan`] for [`parse`]: the size check, then the scan, keeping what `parse` needs.
fn scan_bytes(bytes: &[u8], limits: &XmlLimits, sink: &mut dyn Sink) -> Result<Scanned, XmlError> {
    if exceeds(bytes.len(), limits.max_bytes) {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    scan_input(
        bytes,
        &mut InMemory::new(bytes),
        limits,
        sink,
        READ_CHUNK_BYTES,
    )
}

/// What a scan that accepted the document learned that [`parse`] needs.
struct Scanned {
    /// The byte range of the DOCTYPE in the text, if there is one.
    doctype: Option<Range<u64>>,
    /// Whether some `xmlns="..."` is one that sxd-document resolves wrongly; see
    /// [`fix_default_namespaces`].
    default_namespace_quirk: bool,
    /// How many bytes the scan's growable buffers had reserved at the end; they must not grow
    /// with the number of elements.
    #[cfg(test)]
    held_bytes: usize,
}

/// The one scanning loop behind [`parse`], [`scan`] and [`scan_file`]: runs every check of this
/// module over the document `source` gives, feeding `sink`. `locate` finds the line and column
/// of an error, and is only asked for the error returned.
///
/// When the scan refuses the document, the rest of the input is read (at most to the size
/// limit, keeping nothing) so that the error returned is the one the checks would report had
/// they run one after the other over the whole file; see the module documentation.
///
/// `chunk` is the most the scan reads at a time: [`READ_CHUNK_BYTES`], or a few bytes in tests
/// to reach every place where one read ends and the next begins.
fn scan_input<R: Read>(
    source: R,
    locate: &mut dyn Locate,
    limits: &XmlLimits,
    sink: &mut dyn Sink,
    chunk: usize,
) -> Result<Scanned, XmlError> {
    scan_source(source, locate, limits, sink, chunk, Rest::Read)
}

/// What a scan does with the rest of its input after the first problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rest {
    /// Reads it to the end (keeping nothing), for a problem that takes precedence: a file, or
    /// bytes in memory.
    Read,
    /// Leaves it: a stream may never end, and what is read of it must be copied.
    Leave,
}

/// [`scan_input`], with the choice of what happens after the first problem.
fn scan_source<R: Read>(
    source: R,
    locate: &mut dyn Locate,
    limits: &XmlLimits,
    sink: &mut dyn Sink,
    chunk: usize,
    rest: Rest,
) -> Result<Scanned, XmlError> {
    let mut reader = Reader::from_reader(Input::new(source, limits.max_bytes, chunk));
    // `--` inside a comment is not well-formed; checking costs one search per comment.
    reader.config_mut().check_comments = true;
    let mut scanner = Scanner::new(limits, locate, sink);
    let outcome = scanner.run(&mut reader);
    let scanned = scanner.scanned();
    let mut input = reader.into_inner();
    if rest == Rest::Read {
        input.drain();
    }
    if let Some(error) = input.verdict(locate) {
        return Err(error);
    }
    match outcome {
        Ok(()) => Ok(scanned),
        Err(Stop::Refused(error)) => Err(error),
        Err(Stop::Input) => Err(lost_track()),
    }
}

/// Why the scan loop stopped before the end of the document.
enum Stop {
    /// The input found a problem; [`Input::verdict`] says which.
    Input,
    /// The document is refused.
    Refused(XmlError),
}

impl From<XmlError> for Stop {
    fn from(error: XmlError) -> Self {
        Self::Refused(error)
    }
}

/// The input of a scan on its way to quick-xml, checked as it is read: the size limit, the byte
/// order mark or zero bytes of UTF-16 and UTF-32, the encoding an XML declaration names, UTF-8
/// validity, and characters XML 1.0 does not allow. quick-xml reads it as a [`BufRead`] and gets
/// only checked bytes, cut between characters; after the first problem it gets nothing more,
/// which it takes for the end of the input.
///
/// Offsets count bytes of the text: the input after a UTF-8 byte order mark.
struct Input<R> {
    source: R,
    /// One piece of input: `..start` handed out, `start..checked` checked and not yet
    /// handed out, `checked..filled` read and not yet checked (the start of a character whose
    /// other bytes are not read yet).
    buffer: Vec<u8>,
    start: usize,
    checked: usize,
    filled: usize,
    /// The offset of `buffer[0]` in the text.
    base: u64,
    /// Bytes read from the source, a byte order mark included.
    read: u64,
    limit: u64,
    /// Whether the first bytes were looked at for a byte order mark.
    started: bool,
    eof: bool,
    declaration: Declaration,
    // What was found, the first of each kind.
    read_error: Option<io::Error>,
    too_large: bool,
    encoding: Option<(String, EncodingEvidence)>,
    not_utf8: Option<u64>,
    forbidden: Option<(u64, u32)>,
}

impl<R: Read> Input<R> {
    /// Reads `source` in pieces of `chunk` bytes (at least 4), refusing more than `limit` bytes.
    fn new(source: R, limit: u64, chunk: usize) -> Self {
        Self {
            source,
            buffer: vec![0; chunk.max(4)],
            start: 0,
            checked: 0,
            filled: 0,
            base: 0,
            read: 0,
            limit,
            started: false,
            eof: false,
            declaration: Declaration::new(),
            read_error: None,
            too_large: false,
            encoding: None,
            not_utf8: None,
            forbidden: None,
        }
    }

    /// The offset of the next byte to hand out.
    fn position(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Whether a problem was found, so that nothing more is handed out.
    fn halted(&self) -> bool {
        self.read_error.is_some()
            || self.too_large
            || self.encoding.is_some()
            || self.not_utf8.is_some()
            || self.forbidden.is_some()
    }

    /// Whether new bytes still need checking: after the encoding was refused or a byte was not
    /// UTF-8, only the size and read errors matter.
    fn validating(&self) -> bool {
        self.encoding.is_none() && self.not_utf8.is_none()
    }

    /// The checked bytes not handed out yet, reading more when there are none; empty at the end
    /// of the input and after a problem.
    fn available(&mut self) -> &[u8] {
        while self.start == self.checked && !self.halted() && self.advance() {}
        if self.halted() {
            return &[];
        }
        self.buffer
            .get(self.start..self.checked)
            .unwrap_or_default()
    }

    /// Reads more, keeping the checked bytes not handed out yet; returns false when nothing
    /// more can be read.
    fn refill(&mut self) -> bool {
        let held = self.checked - self.start;
        while !self.halted() && self.checked - self.start == held {
            if self.start == 0 && self.filled == self.buffer.len() {
                // No room: only a character longer than the buffer could do this.
                return false;
            }
            if !self.advance() {
                return false;
            }
        }
        !self.halted()
    }

    /// Reads the rest of the input, checking it but keeping nothing, for a problem that takes
    /// precedence over the one the scan stopped at.
    fn drain(&mut self) {
        loop {
            self.start = self.checked;
            if !self.advance() {
                return;
            }
        }
    }

    /// Reads once more from the source and checks what came; returns false when nothing more
    /// can be read. Keeps the bytes from `start` on.
    fn advance(&mut self) -> bool {
        if self.eof || self.read_error.is_some() || self.too_large {
            return false;
        }
        self.buffer.copy_within(self.start..self.filled, 0);
        self.base += self.start as u64;
        self.checked -= self.start;
        self.filled -= self.start;
        self.start = 0;
        let mut new = self.filled;
        self.read_some();
        if !self.started {
            // Four bytes tell UTF-32 from UTF-16; a pipe may bring fewer at a time.
            while self.filled < 4 && !(self.eof || self.read_error.is_some() || self.too_large) {
                self.read_some();
            }
            self.started = true;
            self.check_start();
            new = 0;
        }
        let new = self.buffer.get(new..self.filled).unwrap_or_default();
        if let Some(encoding) = self.declaration.feed(new) {
            self.encoding
                .get_or_insert((encoding, EncodingEvidence::Declaration));
        }
        if self.validating() {
            self.check_new();
        } else {
            self.checked = self.filled;
        }
        true
    }

    /// One read from the source into the free end of the buffer, stopping one byte past the
    /// limit.
    fn read_some(&mut self) {
        let allowed = self.limit.saturating_add(1).saturating_sub(self.read);
        let room =
            (self.buffer.len() - self.filled).min(usize::try_from(allowed).unwrap_or(usize::MAX));
        let Some(free) = self.buffer.get_mut(self.filled..self.filled + room) else {
            return;
        };
        if free.is_empty() {
            return;
        }
        loop {
            match self.source.read(free) {
                Ok(0) => self.eof = true,
                Ok(count) => {
                    self.filled += count;
                    self.read += count as u64;
                    self.too_large = self.read > self.limit;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => self.read_error = Some(error),
            }
            return;
        }
    }

    /// Looks at the first bytes: a UTF-16 or UTF-32 signature is refused, a UTF-8 byte order
    /// mark is dropped.
    fn check_start(&mut self) {
        let head = self.buffer.get(..self.filled.min(4)).unwrap_or_default();
        let signature = SIGNATURES
            .iter()
            .find(|(signature, ..)| head.starts_with(signature));
        if let Some(&(_, encoding, evidence)) = signature {
            self.encoding = Some((encoding.to_owned(), evidence));
        } else if head.starts_with(UTF8_BOM) {
            self.buffer.copy_within(UTF8_BOM.len()..self.filled, 0);
            self.filled -= UTF8_BOM.len();
        }
    }

    /// Checks the bytes read since the last check: UTF-8, and characters XML allows. An
    /// incomplete character at the end waits for the next read, unless the input has ended.
    fn check_new(&mut self) {
        let new = self
            .buffer
            .get(self.checked..self.filled)
            .unwrap_or_default();
        let (valid, bad) = match std::str::from_utf8(new) {
            Ok(_) => (new.len(), false),
            Err(error) => (error.valid_up_to(), error.error_len().is_some() || self.eof),
        };
        let offset = self.base + self.checked as u64;
        if self.forbidden.is_none()
            && let Some((at, code)) = forbidden_character(new.get(..valid).unwrap_or_default())
        {
            self.forbidden = Some((offset + at as u64, code));
        }
        if bad {
            self.not_utf8 = Some(offset + valid as u64);
        }
        self.checked += valid;
    }

    /// The error the input's problems make, if any, once the input was read to its end.
    fn verdict(&mut self, locate: &mut dyn Locate) -> Option<XmlError> {
        if let Some(source) = self.read_error.take() {
            return Some(XmlError::Read { source });
        }
        if self.too_large {
            return Some(XmlError::TooLarge { limit: self.limit });
        }
        if self.eof && self.base + self.filled as u64 == 0 {
            return Some(empty_file());
        }
        if let Some((encoding, evidence)) = self.encoding.take() {
            return Some(XmlError::Encoding { encoding, evidence });
        }
        if let Some(at) = self.not_utf8 {
            let (line, column) = locate.after(at);
            return Some(XmlError::NotUtf8 { line, column });
        }
        if let Some((at, code)) = self.forbidden {
            let (line, column) = locate.line_column(at);
            let message = format!("the character U+{code:04X} is not allowed in XML 1.0");
            return Some(XmlError::NotWellFormed {
                line,
                column,
                message,
            });
        }
        None
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.available();
        let count = available.len().min(out.len());
        if let (Some(to), Some(from)) = (out.get_mut(..count), available.get(..count)) {
            to.copy_from_slice(from);
        }
        self.consume(count);
        Ok(count)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(self.available())
    }

    fn consume(&mut self, amount: usize) {
        self.start = (self.start + amount).min(self.checked);
    }
}

/// The first character XML 1.0 does not allow in `text` (UTF-8, whole characters), as its
/// offset and code point: control characters other than tab, line feed and carriage return, and
/// U+FFFE / U+FFFF. sxd-document accepts them all, and a NUL in a label value would end up in
/// the exposition. See <https://www.w3.org/TR/xml/#NT-Char>.
fn forbidden_character(text: &[u8]) -> Option<(usize, u32)> {
    const BLOCK: usize = 32;
    for (index, block) in text.chunks(BLOCK).enumerate() {
        // Without branches, so that a block takes a few vector instructions: most blocks hold
        // no control character but tab and line ends, and no byte that may start U+FFFE.
        let suspect = block.iter().fold(false, |suspect, &b| {
            suspect | ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r')) | (b == 0xEF)
        });
        if !suspect {
            continue;
        }
        for offset in 0..block.len() {
            let at = index * BLOCK + offset;
            let code = match text.get(at..).unwrap_or_default() {
                // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
                [0xEF, 0xBF, last @ (0xBE | 0xBF), ..] => Some(0xFFC0 | u32::from(*last & 0x3F)),
                [byte, ..] if !is_xml_char(u32::from(*byte)) => Some(u32::from(*byte)),
                _ => None,
            };
            if let Some(code) = code {
                return Some((at, code));
            }
        }
    }
    None
}

/// Whether a code point is a `Char` of XML 1.0 (<https://www.w3.org/TR/xml/#NT-Char>).
fn is_xml_char(code: u32) -> bool {
    matches!(code, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Finds the encoding an XML declaration at the start of the text names, as the bytes arrive.
///
/// The rules are those of a search in the whole declaration: the text starts with `<?xml` and
/// an ASCII space, the declaration ends at the first `?>`, and the first `encoding` in it must be
/// followed by `=` and a quoted value, with spaces allowed around the `=`. It looks at bytes, not
/// text, so that a Latin-1 file that says so is told to convert from Latin-1 rather than that it
/// is not UTF-8.
struct Declaration {
    state: DeclarationState,
    /// Whether the previous byte was `?`, to see the `?>` that ends the declaration.
    question: bool,
    /// The first [`DECLARED_ENCODING_BYTES`] bytes of the value.
    value: Vec<u8>,
    /// Whether the value is longer than what `value` keeps.
    long: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeclarationState {
    /// So many bytes of `<?xml` are there.
    Opening(usize),
    /// After `<?xml`, where a space must follow.
    Space,
    /// So many bytes of `encoding` are there.
    Keyword(usize),
    /// After `encoding`, before `=`.
    Equals,
    /// After `=`, before the quote.
    Quote,
    /// Inside the value, which this quote closes.
    Value(u8),
    /// The value is closed; it counts once the declaration ends.
    Closed,
    /// Decided: the declaration names an encoding, or there is none to find.
    Over,
}

impl Declaration {
    fn new() -> Self {
        Self {
            state: DeclarationState::Opening(0),
            question: false,
            value: Vec::new(),
            long: false,
        }
    }

    /// Reads the next bytes of the text; when they end a declaration naming an encoding other
    /// than UTF-8 or ASCII, returns that name, cut for a message.
    fn feed(&mut self, bytes: &[u8]) -> Option<String> {
        for &byte in bytes {
            if self.state == DeclarationState::Over {
                return None;
            }
            if self.step(byte) {
                self.state = DeclarationState::Over;
                let accepted = !self.long
                    && ACCEPTED_ENCODINGS
                        .iter()
                        .any(|name| self.value.eq_ignore_ascii_case(name.as_bytes()));
                return (!accepted).then(|| excerpt(&String::from_utf8_lossy(&self.value)));
            }
        }
        None
    }

    /// Takes one byte; returns true when it ends a declaration that names an encoding.
    fn step(&mut self, byte: u8) -> bool {
        use DeclarationState::{Closed, Equals, Keyword, Opening, Over, Quote, Space, Value};
        const OPENING: &[u8] = b"<?xml";
        const KEYWORD: &[u8] = b"encoding";
        let ends = self.question && byte == b'>';
        self.question = byte == b'?';
        let space = byte.is_ascii_whitespace();
        self.state = match self.state {
            Opening(matched) if OPENING.get(matched) == Some(&byte) => {
                if matched + 1 == OPENING.len() {
                    Space
                } else {
                    Opening(matched + 1)
                }
            }
            Space if space => Keyword(0),
            Opening(_) | Space => Over,
            Closed if ends => return true,
            _ if ends => Over,
            Keyword(matched) if KEYWORD.get(matched) == Some(&byte) => {
                if matched + 1 == KEYWORD.len() {
                    Equals
                } else {
                    Keyword(matched + 1)
                }
            }
            // `encoding` has no prefix that recurs inside it, so a mismatch can only restart
            // the match at this byte.
            Keyword(_) if byte == b'e' => Keyword(1),
            Keyword(_) => Keyword(0),
            Equals if byte == b'=' => Quote,
            Quote if byte == b'"' || byte == b'\'' => Value(byte),
            Equals | Quote if space => self.state,
            Equals | Quote => Over,
            Value(quote) if byte == quote => Closed,
            Value(_) => {
                if self.value.len() < DECLARED_ENCODING_BYTES {
                    self.value.push(byte);
                } else {
                    self.long = true;
                }
                self.state
            }
            Closed | Over => self.state,
        };
        false
    }
}

/// The state of one scan: what is open, what was seen, where positions and content go.
struct Scanner<'s> {
    limits: &'s XmlLimits,
    locate: &'s mut dyn Locate,
    sink: &'s mut dyn Sink,
    /// The open elements, innermost last: where each start tag starts, and where its name ends
    /// in `names`. At most `max_depth` of them.
    open: Vec<(u64, usize)>,
    /// The names of the open elements one after the other, for the message about a document
    /// that ends too soon.
    names: String,
    prefixes: Prefixes,
    root_seen: bool,
    doctype: Option<Range<u64>>,
    default_namespace_quirk: bool,
    /// How many `]` (at most 2 are counted) end the part of the current run of text already
    /// checked, to find a `]]>` split between two reads.
    brackets: usize,
    /// The bytes the buffer for quick-xml's events and for tags longer than a read had reserved
    /// at the end.
    #[cfg_attr(not(test), allow(dead_code))]
    event_buffer_bytes: usize,
    /// The current start tag's attributes: byte ranges of name and raw value in the tag.
    attribute_ranges: Vec<AttributeRanges>,
    /// The attributes [`lex_plain_tag`] read, before they are checked.
    lexed: Vec<AttributeRanges>,
    /// Whether the last piece of text handed on ended in a carriage return, so that a line
    /// feed at the start of the next piece belongs to it (XML 1.0 §2.11: CR LF reads as LF).
    after_cr: bool,
    /// A piece of text with its line ends normalised, when it had a carriage return.
    normalized: String,
    /// Whether an attribute value of the tag [`Scanner::check_tag`] checked last holds a
    /// literal tab, line feed or carriage return, which read as spaces (XML 1.0 §3.3.3).
    value_whitespace: bool,
    /// The current start tag with its attribute values normalised, and their ranges in it,
    /// when `value_whitespace`.
    tag_copy: String,
    tag_copy_ranges: Vec<AttributeRanges>,
}

impl<'s> Scanner<'s> {
    fn new(limits: &'s XmlLimits, locate: &'s mut dyn Locate, sink: &'s mut dyn Sink) -> Self {
        Self {
            limits,
            locate,
            sink,
            open: Vec::new(),
            names: String::new(),
            prefixes: Prefixes::default(),
            root_seen: false,
            doctype: None,
            default_namespace_quirk: false,
            brackets: 0,
            event_buffer_bytes: 0,
            attribute_ranges: Vec::new(),
            lexed: Vec::new(),
            after_cr: false,
            normalized: String::new(),
            value_whitespace: false,
            tag_copy: String::new(),
            tag_copy_ranges: Vec::new(),
        }
    }

    fn scanned(self) -> Scanned {
        Scanned {
            #[cfg(test)]
            held_bytes: self.event_buffer_bytes
                + self.names.capacity()
                + self.open.capacity() * std::mem::size_of::<(u64, usize)>()
                + self.prefixes.held_bytes()
                + self.normalized.capacity()
                + self.tag_copy.capacity()
                + (self.attribute_ranges.capacity()
                    + self.lexed.capacity()
                    + self.tag_copy_ranges.capacity())
                    * std::mem::size_of::<AttributeRanges>(),
            doctype: self.doctype,
            default_namespace_quirk: self.default_namespace_quirk,
        }
    }

    fn run<R: Read>(&mut self, reader: &mut Reader<Input<R>>) -> Result<(), Stop> {
        // One buffer for every event: it grows to the largest markup construct, not further.
        let mut buffer = Vec::new();
        let outcome = self.events(reader, &mut buffer);
        self.event_buffer_bytes = buffer.capacity();
        outcome
    }

    fn events<R: Read>(
        &mut self,
        reader: &mut Reader<Input<R>>,
        buffer: &mut Vec<u8>,
    ) -> Result<(), Stop> {
        loop {
            // Text, tags and references go past quick-xml; it reads the rest of the markup.
            self.content(reader.get_mut(), buffer)?;
            let start = reader.get_ref().position();
            let before = reader.buffer_position();
            buffer.clear();
            let result = reader.read_event_into(buffer);
            if reader.get_ref().halted() {
                // Whatever quick-xml made of the end of what it got, the input's problem wins.
                return Err(Stop::Input);
            }
            let event = match result {
                Ok(event) => event,
                Err(error) => {
                    let at = start + reader.error_position().saturating_sub(before);
                    return Err(self
                        .not_well_formed(at, describe_quick_error(&error))
                        .into());
                }
            };
            let doctype = match event {
                // `content` reads every tag and all text, so quick-xml never meets one.
                Event::Start(_) | Event::Empty(_) | Event::End(_) | Event::Text(_) => {
                    return Err(lost_track().into());
                }
                Event::CData(_) if self.open.is_empty() => {
                    return Err(self.outside_root(start).into());
                }
                Event::CData(content) => {
                    self.sink.text(&normalize_line_ends(&content));
                    false
                }
                Event::GeneralRef(reference) => {
                    self.reference(start, &reference)?;
                    false
                }
                Event::DocType(_) => true,
                Event::Decl(declaration) => {
                    self.declaration(start, &declaration)?;
                    false
                }
                Event::PI(instruction) => {
                    self.instruction(start, &instruction)?;
                    false
                }
                Event::Comment(text) => {
                    if !self.open.is_empty() {
                        self.sink.boundary();
                    }
                    self.sink.comment(&normalize_line_ends(&text));
                    false
                }
                Event::Eof => return self.end_of_document(start).map_err(Stop::from),
            };
            if doctype {
                // `buffer` holds the DOCTYPE as written, from `<!` to `>`.
                let end = reader.get_ref().position();
                self.check_doctype(start..end, buffer)?;
            }
        }
    }

    /// Reads what the input is at, up to the first construct left to quick-xml: runs of text,
    /// start and end tags, and references whose `;` is in the bytes at hand. quick-xml gets
    /// comments, CDATA sections, processing instructions, the XML declaration, the DOCTYPE, a
    /// reference split between two reads or not closed, and the end of the input.
    ///
    /// quick-xml never sees a tag, so it keeps no stack of open elements: this scan checks that
    /// end tags match, with quick-xml's messages. Between two of its events quick-xml only
    /// waits for text or markup, so handing it the input at any `<!`, `<?` or `&` is safe.
    fn content<R: Read>(&mut self, input: &mut Input<R>, buffer: &mut Vec<u8>) -> Result<(), Stop> {
        loop {
            let offset = input.position();
            let available = input.available();
            if available.is_empty() {
                self.brackets = 0;
                self.after_cr = false;
                return Ok(());
            }
            // The input hands out whole characters only.
            let Ok(text) = std::str::from_utf8(available) else {
                return Err(Stop::Input);
            };
            let (taken, next) = self.take(offset, text)?;
            input.consume(taken);
            match next {
                Next::Read => {}
                Next::QuickXml => return Ok(()),
                Next::LongTag => self.long_tag(input, buffer)?,
                // A `<` ends the bytes at hand: read on, keeping it. At the end of the input,
                // quick-xml reports the tag that is not closed.
                Next::Peek => {
                    if !input.refill() {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Takes the text, tags and references at the start of `text` (checked bytes at `offset`),
    /// and says how many bytes it took and what comes next.
    fn take(&mut self, offset: u64, text: &str) -> Result<(usize, Next), XmlError> {
        let bytes = text.as_bytes();
        let mut at = 0;
        loop {
            let rest = bytes.get(at..).unwrap_or_default();
            let (found, has_cr) = find_markup(rest);
            let Some(found) = found else {
                if !rest.is_empty() {
                    self.text(
                        offset + at as u64,
                        text.get(at..).unwrap_or_default(),
                        has_cr,
                    )?;
                }
                return Ok((bytes.len(), Next::Read));
            };
            if found > 0 {
                let run = text.get(at..at + found).unwrap_or_default();
                self.text(offset + at as u64, run, has_cr)?;
            }
            self.brackets = 0;
            self.after_cr = false;
            at += found;
            let after = at + 1;
            let rest = bytes.get(after..).unwrap_or_default();
            if bytes.get(at) == Some(&b'&') {
                // quick-xml reads a reference up to `;`, and refuses one that meets `&` or `<`
                // first; it also reads one whose end is not at hand yet.
                match find_any(rest, [b';', b'&', b'<']) {
                    Some(end) if rest.get(end) == Some(&b';') => {
                        let body = text.get(after..after + end).unwrap_or_default();
                        self.reference(offset + at as u64, body)?;
                        at = after + end + 1;
                        continue;
                    }
                    _ => return Ok((at, Next::QuickXml)),
                }
            }
            match rest.first() {
                None => return Ok((at, Next::Peek)),
                Some(b'!' | b'?') => return Ok((at, Next::QuickXml)),
                Some(_) => {}
            }
            let tag_start = offset + at as u64;
            let tag_bytes = bytes.get(at..).unwrap_or_default();
            let mut lexed = std::mem::take(&mut self.lexed);
            let plain = lex_plain_tag(tag_bytes, &mut lexed);
            let outcome = match plain {
                Some(PlainTag::End { length }) => {
                    let content = text.get(at + 2..at + length - 1).unwrap_or_default();
                    Some(self.end_tag(tag_start, content).map(|()| length))
                }
                Some(PlainTag::Start {
                    length,
                    name_len,
                    empty,
                }) => {
                    let raw_end = at + length - if empty { 2 } else { 1 };
                    let raw = text.get(after..raw_end).unwrap_or_default();
                    let name = raw.get(..name_len).unwrap_or_default();
                    Some(
                        self.start_tag(tag_start, raw, name, empty, Some(&lexed))
                            .map(|()| length),
                    )
                }
                None => None,
            };
            self.lexed = lexed;
            if let Some(outcome) = outcome {
                at += outcome?;
                continue;
            }
            let mut quote = TagQuote::Outside;
            match quote.find_end(rest) {
                Some(end) => {
                    let tag = text.get(at..after + end + 1).unwrap_or_default();
                    self.tag(tag_start, tag)?;
                    at += tag.len();
                }
                None => return Ok((at, Next::LongTag)),
            }
        }
    }

    /// Reads a tag that goes on past the bytes at hand into `buffer`, as quick-xml would, then
    /// checks it. The input is at its `<`.
    fn long_tag<R: Read>(
        &mut self,
        input: &mut Input<R>,
        buffer: &mut Vec<u8>,
    ) -> Result<(), Stop> {
        let start = input.position();
        buffer.clear();
        let mut quote = TagQuote::Outside;
        loop {
            let available = input.available();
            if available.is_empty() {
                if input.halted() {
                    return Err(Stop::Input);
                }
                // As quick-xml, which reports a tag that is not closed at its `<`.
                let error = QuickError::Syntax(quote.unclosed());
                return Err(self
                    .not_well_formed(start, describe_quick_error(&error))
                    .into());
            }
            // The `<` itself is neither `>` nor a quote, so the search may include it.
            match quote.find_end(available) {
                Some(end) => {
                    buffer.extend_from_slice(available.get(..=end).unwrap_or_default());
                    input.consume(end + 1);
                    break;
                }
                None => {
                    buffer.extend_from_slice(available);
                    let taken = available.len();
                    input.consume(taken);
                }
            }
        }
        let Ok(tag) = std::str::from_utf8(buffer) else {
            return Err(Stop::Input);
        };
        self.tag(start, tag).map_err(Stop::from)
    }

    /// Checks text at `offset`: only whitespace outside the root element, and no `]]>`; then
    /// hands it on with its line ends normalised. `has_cr` says whether it holds a `\r`.
    fn text(&mut self, offset: u64, text: &str, has_cr: bool) -> Result<(), XmlError> {
        if self.open.is_empty() {
            if let Some(at) = text.find(|c: char| !is_xml_space(c)) {
                return Err(self.outside_root(offset + at as u64));
            }
            return Ok(());
        }
        if let Some(at) = cdata_end(self.brackets, text) {
            let message = "`]]>` is not allowed in text; write it as ]]&gt;".to_owned();
            return Err(self.not_well_formed(offset.saturating_add_signed(at), message));
        }
        self.brackets = trailing_brackets(self.brackets, text);
        self.hand_on_text(text, has_cr);
        Ok(())
    }

    /// Hands on a piece of text read as XML 1.0 §2.11 says: each CR LF and each CR alone is
    /// one LF, also when a read ends between the CR and the LF. Text without a CR (`has_cr`
    /// false, nearly all) goes on as it is.
    fn hand_on_text(&mut self, text: &str, has_cr: bool) {
        let text = if std::mem::take(&mut self.after_cr) {
            text.strip_prefix('\n').unwrap_or(text)
        } else {
            text
        };
        if !has_cr {
            if !text.is_empty() {
                self.sink.text(text);
            }
            return;
        }
        self.after_cr = text.ends_with('\r');
        let mut normalized = std::mem::take(&mut self.normalized);
        normalized.clear();
        push_normalized_line_ends(text, &mut normalized);
        self.sink.text(&normalized);
        self.normalized = normalized;
    }

    /// Checks a tag at `start`, written as `tag` from `<` to `>`, and hands it on.
    fn tag(&mut self, start: u64, tag: &str) -> Result<(), XmlError> {
        let inside = tag
            .strip_prefix('<')
            .and_then(|tag| tag.strip_suffix('>'))
            .unwrap_or_default();
        if let Some(content) = inside.strip_prefix('/') {
            return self.end_tag(start, content);
        }
        let (raw, empty) = match inside.strip_suffix('/') {
            Some(raw) => (raw, true),
            None => (inside, false),
        };
        let name = raw.get(..name_len(raw)).unwrap_or_default();
        self.start_tag(start, raw, name, empty, None)
    }

    /// A start tag at `start`: `raw` stands between `<` and `>` or `/>`, and starts with
    /// `name`. `lexed` has its attributes when [`lex_plain_tag`] has read them.
    fn start_tag(
        &mut self,
        start: u64,
        raw: &str,
        name: &str,
        empty: bool,
        lexed: Option<&[AttributeRanges]>,
    ) -> Result<(), XmlError> {
        if self.open.is_empty() && self.root_seen {
            let message = format!(
                "a second root element <{}>; an XML document has exactly one root element (are \
                 two documents joined together?)",
                excerpt(name)
            );
            return Err(self.not_well_formed(start, message));
        }
        let depth = self.open.len() + 1;
        self.default_namespace_quirk |= self.check_tag(start, raw, name, depth, lexed)?;
        self.root_seen = true;
        let start_tag = if self.value_whitespace {
            normalize_attribute_values(
                raw,
                &self.attribute_ranges,
                &mut self.tag_copy,
                &mut self.tag_copy_ranges,
            );
            StartTag {
                raw: &self.tag_copy,
                name: self.tag_copy.get(..name.len()).unwrap_or_default(),
                attributes: &self.tag_copy_ranges,
            }
        } else {
            StartTag {
                raw,
                name,
                attributes: &self.attribute_ranges,
            }
        };
        if empty {
            self.sink.start(&start_tag, true);
            self.prefixes.leave();
            self.sink.end();
        } else {
            self.sink.start(&start_tag, false);
            self.names.push_str(name);
            self.open.push((start, self.names.len()));
        }
        Ok(())
    }

    /// An end tag at `start`, `content` standing between `</` and `>`: it must close the
    /// innermost open element. quick-xml's rules and messages: the name is what stands there
    /// without the whitespace at its end.
    fn end_tag(&mut self, start: u64, content: &str) -> Result<(), XmlError> {
        let found = match content
            .as_bytes()
            .iter()
            .rposition(|&b| !is_xml_byte_space(b))
        {
            Some(last) => content.get(..=last).unwrap_or_default(),
            None => content,
        };
        let Some(&(_, name_end)) = self.open.last() else {
            let error = IllFormedError::UnmatchedEndTag(found.to_owned());
            let message = describe_quick_error(&QuickError::IllFormed(error));
            return Err(self.not_well_formed(start, message));
        };
        let name_start = self
            .open
            .len()
            .checked_sub(2)
            .and_then(|parent| self.open.get(parent))
            .map_or(0, |&(_, parent_end)| parent_end);
        let expected = self.names.get(name_start..name_end).unwrap_or_default();
        if found != expected {
            let error = IllFormedError::MismatchedEndTag {
                expected: expected.to_owned(),
                found: found.to_owned(),
            };
            let message = describe_quick_error(&QuickError::IllFormed(error));
            return Err(self.not_well_formed(start, message));
        }
        self.open.pop();
        self.names.truncate(name_start);
        self.prefixes.leave();
        self.sink.end();
        Ok(())
    }

    /// Checks one start tag (`<name ...>` or `<name .../>`) at `start`, which opens nesting
    /// level `depth`: the limits, the syntax of names and attributes, references in attribute
    /// values, namespace prefixes. Declares the tag's namespace prefixes for what it contains.
    /// Returns whether the tag has an `xmlns` that sxd-document resolves wrongly.
    ///
    /// `raw` stands between `<` and `>` or `/>` and starts with `name`; attributes are read as
    /// quick-xml reads them (see [`attribute_key`]), and the first problem in the tag wins.
    fn check_tag(
        &mut self,
        start: u64,
        raw: &str,
        name: &str,
        depth: usize,
        lexed: Option<&[AttributeRanges]>,
    ) -> Result<bool, XmlError> {
        let limits = self.limits;
        if depth > limits.max_depth {
            let (line, column) = self.locate.line_column(start);
            return Err(XmlError::TooDeep {
                line,
                column,
                limit: limits.max_depth,
            });
        }
        // Offsets in `raw` count from after the `<`.
        let inside = start + 1;
        if name.is_empty() {
            // quick-xml reads `<>` and `< b>` as tags with an empty name.
            let message = "expected an element name right after `<`".to_owned();
            return Err(self.not_well_formed(inside, message));
        }
        if name.len() > limits.max_name_bytes {
            let (line, column) = self.locate.line_column(start);
            let (kind, name, limit) = (NameKind::Element, excerpt(name), limits.max_name_bytes);
            return Err(XmlError::NameTooLong {
                line,
                column,
                kind,
                name,
                limit,
            });
        }
        let prefix = match check_qname(name) {
            Ok(colon) => colon.and_then(|colon| name.get(..colon)),
            Err(at) => {
                let message = if at == 0 {
                    "expected an element name; names start with a letter or `_`".to_owned()
                } else {
                    invalid_name(NameKind::Element, name)
                };
                return Err(self.not_well_formed(inside + at as u64, message));
            }
        };
        self.prefixes.enter();
        let mut default_namespace_quirk = false;
        let mut prefixed_attribute = false;
        self.attribute_ranges.clear();
        self.value_whitespace = false;
        let bytes = raw.as_bytes();
        let mut from = name.len();
        // Names seen, once there are too many to compare each with all: quick-xml does so too,
        // so that a tag with many attributes costs linear time. The loop stops at the first
        // attribute past the limit anyway.
        let mut seen: Option<HashSet<&[u8]>> = None;
        for count in 0.. {
            let key = match lexed {
                Some(lexed) => lexed
                    .get(count)
                    .map(|(key, value)| Ok((key.clone(), Ok(value.clone())))),
                None => attribute_key(bytes, from).map(|key| key.map(|(key, eq)| (key, Err(eq)))),
            };
            let attribute = match key {
                None => break,
                // The value is read after the check for a duplicate name, as quick-xml does.
                Some(Ok((key, value))) => {
                    let duplicate = self.duplicate_key(bytes, &key, &mut seen);
                    match (duplicate, value) {
                        (Some(first), _) => Err(AttrError::Duplicated(key.start, first)),
                        (None, Ok(value)) => Ok((key, value)),
                        (None, Err(eq)) => attribute_value(bytes, eq).map(|value| (key, value)),
                    }
                }
                Some(Err(error)) => Err(error),
            };
            let (key_range, value_range) = match attribute {
                Ok(ranges) => ranges,
                Err(error) => {
                    let (at, message) = attribute_error(raw, &error);
                    return Err(self.not_well_formed(inside + at as u64, message));
                }
            };
            from = value_range.end + 1;
            if count >= limits.max_attributes {
                let (line, column) = self.locate.line_column(start);
                let (element, limit) = (excerpt(name), limits.max_attributes);
                return Err(XmlError::TooManyAttributes {
                    line,
                    column,
                    element,
                    limit,
                });
            }
            let key = raw.get(key_range.clone()).unwrap_or_default();
            let key_start = inside + key_range.start as u64;
            if key.len() > limits.max_name_bytes {
                let (line, column) = self.locate.line_column(start);
                let (kind, name, limit) =
                    (NameKind::Attribute, excerpt(key), limits.max_name_bytes);
                return Err(XmlError::NameTooLong {
                    line,
                    column,
                    kind,
                    name,
                    limit,
                });
            }
            let key_prefix = match check_qname(key) {
                Ok(colon) => colon.and_then(|colon| key.get(..colon)),
                Err(at) => {
                    let message = if at == 0 {
                        "expected an attribute name, `>` or `/>`; attribute names start with a \
                         letter or `_`"
                            .to_owned()
                    } else {
                        invalid_name(NameKind::Attribute, key)
                    };
                    return Err(self.not_well_formed(key_start + at as u64, message));
                }
            };
            let value = raw.get(value_range.clone()).unwrap_or_default();
            if value.len() > limits.max_attribute_bytes {
                let (line, column) = self.locate.line_column(start);
                let (attribute, limit) = (excerpt(key), limits.max_attribute_bytes);
                return Err(XmlError::AttributeTooLarge {
                    line,
                    column,
                    attribute,
                    limit,
                });
            }
            self.attribute_ranges
                .push((key_range.clone(), value_range.clone()));
            self.check_attribute_value(inside + value_range.start as u64, value)?;
            self.value_whitespace |= find_any(value.as_bytes(), [b'\t', b'\n', b'\r']).is_some();
            // quick-xml reads `a="1"b="2"`; sxd-document wants whitespace after the quote.
            if bytes
                .get(from)
                .is_some_and(|&byte| !is_xml_byte_space(byte))
            {
                return Err(self.not_well_formed(inside + from as u64, MISSING_SPACE.to_owned()));
            }
            match key_prefix {
                Some("xmlns") => {
                    if value.is_empty() {
                        return Err(self.not_well_formed(key_start, EMPTY_NAMESPACE.to_owned()));
                    }
                    self.prefixes
                        .declare(key.get("xmlns:".len()..).unwrap_or_default(), value);
                }
                Some(_) => prefixed_attribute = true,
                None if key == "xmlns" && (prefix.is_some() || value.is_empty()) => {
                    default_namespace_quirk = true;
                }
                None => {}
            }
        }
        // A prefix may be declared anywhere in the tag that uses it. sxd-document knows `xml`
        // for attributes everywhere, for elements only inside the root element.
        if let Some(prefix) = prefix
            && !(self.prefixes.declared(prefix) || (prefix == "xml" && depth > 1))
        {
            return Err(self.not_well_formed(inside, UNDECLARED_PREFIX.to_owned()));
        }
        if prefixed_attribute {
            // Namespaces in XML 1.0: no two attributes of an element may have the same expanded
            // name, e.g. `m:a` and `x:a` with `m` and `x` bound to one namespace.
            let mut expanded: Vec<(String, &str)> = Vec::new();
            let keys: Vec<std::ops::Range<usize>> = self
                .attribute_ranges
                .iter()
                .map(|(key, _)| key.clone())
                .collect();
            for range in keys {
                let key = raw.get(range.clone()).unwrap_or_default();
                let Some((prefix, local)) = key.split_once(':') else {
                    continue;
                };
                if prefix == "xmlns" || prefix == "xml" {
                    continue;
                }
                let key_start = inside + range.start as u64;
                let Some(uri) = self.prefixes.uri(prefix).map(str::to_owned) else {
                    return Err(self.not_well_formed(key_start, UNDECLARED_PREFIX.to_owned()));
                };
                if expanded.iter().any(|(u, l)| *u == uri && *l == local) {
                    let message = format!(
                        "the attribute `{}` repeats another attribute of the element: both \
                         prefixes are bound to the namespace {uri:?}",
                        excerpt(key)
                    );
                    return Err(self.not_well_formed(key_start, message));
                }
                expanded.push((uri, local));
            }
        }
        Ok(default_namespace_quirk)
    }

    /// Where the first attribute named `key` (a range in `raw`) starts, if an attribute of the
    /// current tag has that name already. Compares with each one while there are few, then
    /// keeps the names in `seen`.
    fn duplicate_key<'a>(
        &self,
        raw: &'a [u8],
        key: &Range<usize>,
        seen: &mut Option<HashSet<&'a [u8]>>,
    ) -> Option<usize> {
        /// Up to this many attributes, comparing with each costs less than hashing.
        const COMPARED: usize = 16;
        let name = raw.get(key.clone()).unwrap_or_default();
        let first = |name: &[u8]| {
            self.attribute_ranges
                .iter()
                .find(|(other, _)| {
                    // Most names differ in length or first byte: no call to compare memory.
                    other.len() == name.len()
                        && raw.get(other.start) == name.first()
                        && raw.get(other.clone()) == Some(name)
                })
                .map(|(other, _)| other.start)
        };
        if self.attribute_ranges.len() < COMPARED {
            return first(name);
        }
        let seen = seen.get_or_insert_with(|| {
            self.attribute_ranges
                .iter()
                .map(|(other, _)| raw.get(other.clone()).unwrap_or_default())
                .collect()
        });
        if seen.insert(name) { None } else { first(name) }
    }

    /// Checks the raw value of an attribute starting at `value_start`: no `<`, and every `&`
    /// starts a reference that sxd-document can expand to a character XML allows.
    fn check_attribute_value(&mut self, value_start: u64, value: &str) -> Result<(), XmlError> {
        let mut from = 0;
        while let Some(found) = value
            .as_bytes()
            .get(from..)
            .and_then(|rest| find_any(rest, [b'<', b'&']))
        {
            let at = from + found;
            let rest = value.get(at..).unwrap_or_default();
            let problem = if rest.starts_with('<') {
                Err("`<` is not allowed in an attribute value; write it as &lt;".to_owned())
            } else if let Some(end) = rest.find(';') {
                from = at + end + 1;
                check_reference(rest.get(1..end).unwrap_or_default())
            } else {
                Err(dangling_ampersand())
            };
            if let Err(message) = problem {
                return Err(self.not_well_formed(value_start + at as u64, message));
            }
        }
        Ok(())
    }

    /// Checks an entity or character reference in text (`amp` for `&amp;`) at `start`, and hands
    /// on the character it stands for.
    fn reference(&mut self, start: u64, body: &str) -> Result<(), XmlError> {
        if self.open.is_empty() {
            return Err(self.outside_root(start));
        }
        if let Err(message) = check_reference(body) {
            return Err(self.not_well_formed(start, message));
        }
        if let Some(character) = referenced_char(body) {
            self.sink.text(character.encode_utf8(&mut [0; 4]));
        }
        Ok(())
    }

    /// Checks a DOCTYPE at `range`, written as `raw`: it must come before the root element, be
    /// the only one, be spelled `<!DOCTYPE`, and declare no entities.
    fn check_doctype(&mut self, range: Range<u64>, raw: &[u8]) -> Result<(), XmlError> {
        let start = range.start;
        let problem = if self.root_seen {
            Some("a DOCTYPE is only allowed before the root element")
        } else if self.doctype.is_some() {
            Some("a document may have only one DOCTYPE")
        } else if !raw.starts_with(b"<!DOCTYPE") {
            Some("write `<!DOCTYPE` in upper case")
        } else {
            None
        };
        if let Some(message) = problem {
            return Err(self.not_well_formed(start, message.to_owned()));
        }
        // Any `<!ENTITY`, even one inside a comment in the DTD, is refused: a false alarm costs
        // less than a missed declaration. XML keywords are upper case; checking without case
        // costs nothing.
        let declaration = raw.windows(8).position(|window| {
            window.starts_with(b"<!")
                && window
                    .get(2..)
                    .is_some_and(|w| w.eq_ignore_ascii_case(b"ENTITY"))
        });
        if let Some(at) = declaration {
            let (line, column) = self.locate.line_column(start + at as u64);
            return Err(XmlError::EntityDeclaration { line, column });
        }
        self.doctype = Some(range);
        Ok(())
    }

    /// Checks the XML declaration at `start`: first in the file, version 1.x, and written the
    /// way sxd-document reads it.
    fn declaration(&mut self, start: u64, declaration: &BytesDecl<'_>) -> Result<(), XmlError> {
        if start != 0 {
            let message = "the XML declaration `<?xml ...?>` is only allowed at the very start of \
                           the file"
                .to_owned();
            return Err(self.not_well_formed(start, message));
        }
        // sxd-document reads only 1.x declarations, and reports any other as a misplaced one;
        // say what is really wrong.
        let version = match declaration.version() {
            Ok(version) => version,
            Err(error) => return Err(self.not_well_formed(start, describe_quick_error(&error))),
        };
        if !version.starts_with("1.") {
            let message =
                "unsupported XML version; xml2prom reads XML 1.0 (<?xml version=\"1.0\"?>)"
                    .to_owned();
            return Err(self.not_well_formed(start, message));
        }
        let content: &str = declaration;
        if let Err((at, message)) = check_declaration_syntax(content) {
            // `content` starts after `<?`.
            return Err(self.not_well_formed(start + 2 + at as u64, message.to_owned()));
        }
        Ok(())
    }

    /// Checks a processing instruction at `start`: its target is a name, and not `xml` in any
    /// case, which sxd-document refuses.
    fn instruction(&mut self, start: u64, instruction: &BytesPI<'_>) -> Result<(), XmlError> {
        let target = instruction.target();
        let problem = if target.is_empty() {
            Some((
                0,
                "expected a name right after `<?`; a processing instruction looks like \
                 <?target data?>"
                    .to_owned(),
            ))
        } else if target.eq_ignore_ascii_case("xml") {
            Some((0, MALFORMED_DECLARATION.to_owned()))
        } else {
            name_error(target).map(|at| {
                let message = format!(
                    "`{}` is not a valid processing instruction target; a name starts with a \
                     letter, `_` or `:` and holds letters, digits, `-`, `.`, `_` and `:`",
                    excerpt(target)
                );
                (at, message)
            })
        };
        if let Some((at, message)) = problem {
            // The target starts after `<?`.
            return Err(self.not_well_formed(start + 2 + at as u64, message));
        }
        if !self.open.is_empty() {
            self.sink.boundary();
        }
        let value = instruction.content();
        let value = (!value.is_empty())
            .then(|| normalize_line_ends(value.trim_start_matches(is_xml_space)));
        self.sink.processing_instruction(target, value.as_deref());
        Ok(())
    }

    /// At the end of the input: every element closed, and there was one.
    fn end_of_document(&mut self, end: u64) -> Result<(), XmlError> {
        if let Some(&(innermost, name_end)) = self.open.last() {
            let name_start = self
                .open
                .len()
                .checked_sub(2)
                .and_then(|parent| self.open.get(parent))
                .map_or(0, |&(_, parent_end)| parent_end);
            let name = excerpt(self.names.get(name_start..name_end).unwrap_or_default());
            let (line, column) = self.locate.line_column(innermost);
            let message = format!(
                "the document ends before all elements are closed (truncated file?); <{name}> \
                 opened at line {line}, column {column} is not closed"
            );
            return Err(self.not_well_formed(end, message));
        }
        if !self.root_seen {
            let message = "the document has no root element".to_owned();
            return Err(self.not_well_formed(end, message));
        }
        Ok(())
    }

    fn outside_root(&mut self, at: u64) -> XmlError {
        let message = if self.root_seen {
            "content after the end of the root element; an XML document has exactly one root \
             element (are two documents joined together?)"
        } else {
            "content before the root element; an XML document starts with `<` (is this an XML \
             file?)"
        };
        self.not_well_formed(at, message.to_owned())
    }

    /// A `NotWellFormed` error at byte `offset` of the text.
    fn not_well_formed(&mut self, offset: u64, message: String) -> XmlError {
        let (line, column) = self.locate.line_column(offset);
        XmlError::NotWellFormed {
            line,
            column,
            message,
        }
    }
}

/// Where the first `]]>` of a run of text starts, relative to `text`, when the part of the run
/// before `text` ends in `brackets` times `]` (counted up to 2).
fn cdata_end(brackets: usize, text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if brackets >= 2 && bytes.starts_with(b">") {
        return Some(-2);
    }
    if brackets >= 1 && bytes.starts_with(b"]>") {
        return Some(-1);
    }
    // Most text has no `]`; one pass over the bytes finds that sooner than a substring search.
    let mut from = 0;
    while let Some(found) = bytes.get(from..).and_then(|rest| find_any(rest, [b']'])) {
        let at = from + found;
        if bytes.get(at..at + 3) == Some(b"]]>") {
            return i64::try_from(at).ok();
        }
        from = at + 1;
    }
    None
}

/// How many `]` (counted up to 2) end a run of text after `text`, when the run before it ended
/// in `brackets` of them.
fn trailing_brackets(brackets: usize, text: &str) -> usize {
    let trailing = text.len() - text.trim_end_matches(']').len();
    if trailing == text.len() {
        (brackets + trailing).min(2)
    } else {
        trailing.min(2)
    }
}

/// The namespace prefixes declared (`xmlns:p="..."`) on the open elements, so that a name with
/// an undeclared prefix is refused, as sxd-document refuses it. The limits bound it: at most
/// `max_attributes` declarations of `max_name_bytes` each per open element.
#[derive(Debug, Default)]
struct Prefixes {
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
    fn enter(&mut self) {
        self.scopes.push(self.ends.len());
    }

    /// Declares a prefix in the innermost scope.
    fn declare(&mut self, prefix: &str, uri: &str) {
        self.names.push_str(prefix);
        self.ends.push(self.names.len());
        self.uris.push_str(uri);
        self.uri_ends.push(self.uris.len());
    }

    /// The namespace name bound to a prefix, innermost declaration first.
    fn uri(&self, prefix: &str) -> Option<&str> {
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
    fn leave(&mut self) {
        let kept = self.scopes.pop().unwrap_or(0);
        self.ends.truncate(kept);
        self.names.truncate(self.ends.last().copied().unwrap_or(0));
        self.uri_ends.truncate(kept);
        self.uris
            .truncate(self.uri_ends.last().copied().unwrap_or(0));
    }

    fn declared(&self, prefix: &str) -> bool {
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
    fn held_bytes(&self) -> usize {
        self.names.capacity()
            + (self.ends.capacity() + self.scopes.capacity()) * std::mem::size_of::<usize>()
    }
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

/// The character a reference that passed [`check_reference`] stands for, as sxd-document
/// expands it: `amp` -> `&`, `#10` -> line feed, `#x41` -> `A`.
fn referenced_char(body: &str) -> Option<char> {
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
fn check_qname(name: &str) -> Result<Option<usize>, usize> {
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
fn name_error(name: &str) -> Option<usize> {
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

fn invalid_name(kind: NameKind, name: &str) -> String {
    format!(
        "`{}` is not a valid {kind} name; a name starts with a letter or `_` and holds letters, \
         digits, `-`, `.` and `_`, with at most one `:` between two such parts",
        excerpt(name)
    )
}

/// Checks an XML declaration (what stands between `<?` and `?>`, from `xml` on) against the
/// grammar sxd-document reads: `version`, then optionally `encoding`, then optionally
/// `standalone`, in that order and each after whitespace
/// (<https://www.w3.org/TR/xml/#NT-XMLDecl>). Returns the offset in `content` of the first
/// problem, and what it is.
fn check_declaration_syntax(content: &str) -> Result<(), (usize, &'static str)> {
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

/// An attribute value as [`StartTag::attributes`] gives it, with its references expanded the
/// way sxd-document expands them: `a &amp; b` -> `a & b`. Borrows the value when it has none.
///
/// The value given is already normalised as XML 1.0 §3.3.3 says for CDATA attributes (the
/// scan does it): a literal tab, line feed or carriage return (CR LF counting as one) reads as
/// a space, while a character reference keeps its character, so `a&#9;b` expands to a tab.
pub fn expanded_attribute_value(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.contains('&') {
        std::borrow::Cow::Owned(expand_references(raw))
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
}

/// Expands the references in an attribute value that passed the scan, the way sxd-document
/// does: predefined entities and character references, nothing else.
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
        expanded.extend(referenced_char(after.get(..end).unwrap_or_default()));
        rest = after.get(end + 1..).unwrap_or_default();
    }
    expanded.push_str(rest);
    expanded
}

/// Where the first `<` or `&` is in `bytes` (`None` if there is none), and whether a `\r`
/// stands before it (or anywhere in `bytes` when there is none), in one pass: a run of text
/// without a carriage return, nearly all of them, then goes on without being looked at again.
fn find_markup(bytes: &[u8]) -> (Option<usize>, bool) {
    let mut from = 0;
    let mut has_cr = false;
    loop {
        let Some(found) = bytes
            .get(from..)
            .and_then(|rest| find_any(rest, [b'<', b'&', b'\r']))
        else {
            return (None, has_cr);
        };
        let at = from + found;
        if bytes.get(at) != Some(&b'\r') {
            return (Some(at), has_cr);
        }
        has_cr = true;
        from = at + 1;
    }
}

/// `text` read as XML 1.0 §2.11 says: each CR LF and each CR alone is one LF. Borrows text
/// without a CR (for comments, CDATA sections and processing instructions, which come whole).
fn normalize_line_ends(text: &str) -> std::borrow::Cow<'_, str> {
    if memchr::memchr(b'\r', text.as_bytes()).is_none() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut normalized = String::with_capacity(text.len());
    push_normalized_line_ends(text, &mut normalized);
    std::borrow::Cow::Owned(normalized)
}

/// Appends `text` to `out` with each CR LF and each CR alone as one LF (XML 1.0 §2.11).
fn push_normalized_line_ends(text: &str, out: &mut String) {
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
fn normalize_attribute_values(
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

/// A tag that [`lex_plain_tag`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlainTag {
    /// `<name ...>` or `<name .../>` (`empty`), `length` bytes from `<` to `>`.
    Start {
        length: usize,
        name_len: usize,
        empty: bool,
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
fn lex_plain_tag(bytes: &[u8], lexed: &mut Vec<AttributeRanges>) -> Option<PlainTag> {
    let name_byte = |at: usize| {
        bytes
            .get(at)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
    };
    let end_tag = bytes.get(1) == Some(&b'/');
    let mut at = if end_tag { 2 } else { 1 };
    let name_start = at;
    while name_byte(at) {
        at += 1;
    }
    let name_len = at - name_start;
    if name_len == 0 {
        return None;
    }
    if end_tag {
        while is_xml_byte_space(*bytes.get(at)?) {
            at += 1;
        }
        return (*bytes.get(at)? == b'>').then_some(PlainTag::End { length: at + 1 });
    }
    lexed.clear();
    loop {
        // After the name or a value: whitespace, or the end of the tag.
        let mut spaced = false;
        while is_xml_byte_space(*bytes.get(at)?) {
            spaced = true;
            at += 1;
        }
        match *bytes.get(at)? {
            b'>' => {
                return Some(PlainTag::Start {
                    length: at + 1,
                    name_len,
                    empty: false,
                });
            }
            b'/' if bytes.get(at + 1) == Some(&b'>') => {
                return Some(PlainTag::Start {
                    length: at + 2,
                    name_len,
                    empty: true,
                });
            }
            _ if !spaced || lexed.len() == PLAIN_ATTRIBUTES => return None,
            _ => {}
        }
        let key_start = at;
        while name_byte(at) {
            at += 1;
        }
        if at == key_start || bytes.get(at) != Some(&b'=') {
            return None;
        }
        let key_end = at;
        at += 1;
        let quote = *bytes.get(at).filter(|&&b| b == b'"' || b == b'\'')?;
        let value_start = at + 1;
        let value_end = value_start + find_any(bytes.get(value_start..)?, [quote])?;
        // Ranges in the raw text, which starts after the `<`.
        lexed.push((key_start - 1..key_end - 1, value_start - 1..value_end - 1));
        at = value_end + 1;
    }
}

/// How long the element name at the start of `raw` (what stands after the `<`) is: quick-xml
/// takes everything up to the first whitespace, and the scan checks that it is a name.
fn name_len(raw: &str) -> usize {
    raw.bytes().position(is_xml_byte_space).unwrap_or(raw.len())
}

/// Where the next attribute's name is in `raw` (what stands between `<` and `>` or `/>`),
/// looking from `from`, and where its `=` ends; `None` when no attribute follows. Reads as
/// quick-xml's attribute iterator reads XML (not HTML), with its errors and their offsets: the
/// name runs from the first byte that is not whitespace to `=` or whitespace, and only
/// whitespace may stand between it and the `=`.
fn attribute_key(raw: &[u8], from: usize) -> Option<Result<(Range<usize>, usize), AttrError>> {
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
fn attribute_value(raw: &[u8], from: usize) -> Result<Range<usize>, AttrError> {
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
enum TagQuote {
    Outside,
    Single,
    Double,
}

impl TagQuote {
    /// The offset of the `>` that ends the tag in `bytes`, if there is one; otherwise remembers
    /// whether the tag ends inside a quoted value, for the next bytes.
    fn find_end(&mut self, bytes: &[u8]) -> Option<usize> {
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
    fn unclosed(self) -> SyntaxError {
        match self {
            Self::Outside => SyntaxError::UnclosedTag,
            Self::Single => SyntaxError::UnclosedSingleQuotedAttributeValue,
            Self::Double => SyntaxError::UnclosedDoubleQuotedAttributeValue,
        }
    }
}

/// What [`Scanner::take`] stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The end of the bytes at hand: read on.
    Read,
    /// Markup or a reference that quick-xml reads.
    QuickXml,
    /// A tag that goes on past the bytes at hand.
    LongTag,
    /// A `<` that ends the bytes at hand, so that what it starts is not known yet.
    Peek,
}

/// How many bytes a search looks at one by one before it hands the rest to memchr: most text
/// runs, tags and attribute values are shorter, and for them a plain loop costs less than
/// memchr's set-up.
const SHORT: usize = 64;

/// Where the first byte of `stops` is in `bytes`. The first [`SHORT`] bytes are searched
/// eight at a time in a `u64`, the rest by memchr.
fn find_any<const N: usize>(bytes: &[u8], stops: [u8; N]) -> Option<usize> {
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
fn is_xml_byte_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
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
        // The scan's input reports its own read errors and never fails quick-xml's reads.
        QuickError::Io(_) => {
            "xml2prom lost track of its input; this is a bug, please report it".to_owned()
        }
    }
}

/// Where a malformed attribute is in the tag `raw` (what stands between `<` and `>`), and
/// what is wrong with it.
fn attribute_error(raw: &str, error: &AttrError) -> (usize, String) {
    let at = match *error {
        AttrError::ExpectedEq(at)
        | AttrError::ExpectedValue(at)
        | AttrError::UnquotedValue(at)
        | AttrError::ExpectedQuote(at, _)
        | AttrError::Duplicated(at, _) => at,
    };
    let rest = raw.get(at..).unwrap_or_default();
    let end = rest
        .find(|c: char| is_xml_space(c) || c == '=')
        .unwrap_or(rest.len());
    let name = rest.get(..end).unwrap_or_default();
    (at, describe_attribute_error(error, name))
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

/// The 1-based line and column (in characters) of byte `offset` in `text`; an offset inside a
/// character counts as that character, one past the end as the position after the last one.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    InMemory {
        text: text.as_bytes(),
    }
    .line_column(offset as u64)
}

/// Finds lines and columns of byte offsets in the text (the input after a UTF-8 byte order
/// mark). The scan asks only for the error it reports, so finding a position may read the text
/// again from its start.
trait Locate {
    /// Counts lines and characters in the text before byte `offset` (at most its end), and
    /// returns the count with the byte at `offset`, if there is one.
    fn count(&mut self, offset: u64) -> (LineCounter, Option<u8>);

    /// The 1-based line and column (in characters) of byte `offset`; an offset inside a
    /// character counts as that character, one past the end as the position after the last one.
    fn line_column(&mut self, offset: u64) -> (usize, usize) {
        let (counter, next) = self.count(offset);
        counter.position(next)
    }

    /// The line and column just after the first `offset` bytes, whatever byte comes next (for a
    /// byte that is not UTF-8).
    fn after(&mut self, offset: u64) -> (usize, usize) {
        self.count(offset).0.position(None)
    }
}

/// Positions in a document in memory.
struct InMemory<'a> {
    text: &'a [u8],
}

impl<'a> InMemory<'a> {
    /// Over the bytes of a whole document, skipping a UTF-8 byte order mark as the scan does.
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            text: bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes),
        }
    }
}

impl Locate for InMemory<'_> {
    fn count(&mut self, offset: u64) -> (LineCounter, Option<u8>) {
        let offset = to_usize(offset).min(self.text.len());
        let mut counter = LineCounter::default();
        counter.feed(self.text.get(..offset).unwrap_or_default());
        (counter, self.text.get(offset).copied())
    }
}

/// Positions in a file, found by reading it again from its start. The handle shares its read
/// position with the one the scan reads through, so the position is put back afterwards. If
/// the file cannot be read again, the position counts what could be read.
struct OnDisk {
    file: File,
}

impl OnDisk {
    fn count_from_start(&mut self, offset: u64) -> io::Result<(LineCounter, Option<u8>)> {
        self.file.seek(SeekFrom::Start(0))?;
        let mut counter = LineCounter::default();
        let mut chunk = vec![0; READ_CHUNK_BYTES];
        let mut remaining = offset;
        let mut first = true;
        loop {
            let count = read_fully(&mut self.file, &mut chunk)?;
            let mut piece = chunk.get(..count).unwrap_or_default();
            if first {
                piece = piece.strip_prefix(UTF8_BOM).unwrap_or(piece);
                first = false;
            }
            if piece.is_empty() {
                return Ok((counter, None));
            }
            if let Ok(wanted) = usize::try_from(remaining)
                && wanted < piece.len()
            {
                counter.feed(piece.get(..wanted).unwrap_or_default());
                return Ok((counter, piece.get(wanted).copied()));
            }
            counter.feed(piece);
            remaining -= piece.len() as u64;
        }
    }
}

impl Locate for OnDisk {
    fn count(&mut self, offset: u64) -> (LineCounter, Option<u8>) {
        let saved = self.file.stream_position();
        let counted = self.count_from_start(offset);
        if let Ok(saved) = saved {
            // If this fails, so does the scan's next read, which then reports it.
            let _ = self.file.seek(SeekFrom::Start(saved));
        }
        counted.unwrap_or_default()
    }
}

/// Reads until `buffer` is full or the source ends; returns how many bytes were read.
fn read_fully(source: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(free) = buffer.get_mut(filled..).filter(|free| !free.is_empty()) {
        match source.read(free) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Lines and characters counted over text that may come in pieces. A line ends at a line feed,
/// a CR LF or a CR alone, as XML 1.0 §2.11 reads line ends.
#[derive(Debug, Default, Clone, Copy)]
struct LineCounter {
    newlines: usize,
    /// Characters since the last line end.
    chars_in_line: usize,
    /// Whether the bytes fed so far end in a CR, so that a line feed next ends no other line.
    after_cr: bool,
}

impl LineCounter {
    fn feed(&mut self, bytes: &[u8]) {
        if self.after_cr || memchr::memchr(b'\r', bytes).is_some() {
            self.feed_with_cr(bytes);
            return;
        }
        let line = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                let before = bytes.get(..last).unwrap_or_default();
                self.newlines += before.iter().filter(|&&b| b == b'\n').count() + 1;
                self.chars_in_line = 0;
                bytes.get(last + 1..).unwrap_or_default()
            }
            None => bytes,
        };
        self.chars_in_line += line.iter().filter(|&&b| !is_continuation_byte(b)).count();
    }

    /// [`LineCounter::feed`] for bytes with a carriage return, or after one.
    fn feed_with_cr(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    self.newlines += 1;
                    self.chars_in_line = 0;
                }
                byte if !is_continuation_byte(byte) => self.chars_in_line += 1,
                _ => {}
            }
        }
    }

    /// The 1-based line and column of what follows the bytes fed, `next` being the byte there:
    /// a continuation byte means the offset is inside the last character, which then counts.
    fn position(self, next: Option<u8>) -> (usize, usize) {
        let inside = next.is_some_and(is_continuation_byte);
        (self.newlines + 1, self.chars_in_line + usize::from(!inside))
    }
}

/// Whether a byte continues a UTF-8 character rather than starting one.
fn is_continuation_byte(byte: u8) -> bool {
    byte & 0xC0 == 0x80
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
        if let Some(stalled) = self
            .0
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Stalled>())
        {
            return stalled.fmt(f);
        }
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

    // --- one scan for every path -------------------------------------------------------------

    fn show(result: Result<(), XmlError>) -> String {
        match result {
            Ok(()) => "accepted".to_owned(),
            Err(error) => error.to_string(),
        }
    }

    /// [`scan`], reading the document `chunk` bytes at a time.
    fn scan_in_pieces(bytes: &[u8], limits: &XmlLimits, chunk: usize) -> Result<(), XmlError> {
        if exceeds(bytes.len(), limits.max_bytes) {
            return Err(XmlError::TooLarge {
                limit: limits.max_bytes,
            });
        }
        let mut locate = InMemory::new(bytes);
        scan_input(bytes, &mut locate, limits, &mut NoSink, chunk).map(drop)
    }

    /// A source that gives one byte per read, as a slow pipe may.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), out.first_mut()) {
                (Some((&byte, rest)), Some(slot)) => {
                    *slot = byte;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// Checks `input` every way there is and asserts that each way says the same as [`parse`];
    /// returns that.
    fn assert_paths_agree(input: &[u8], limits: &XmlLimits) -> String {
        let expected = show(parse(input, limits).map(drop));
        let file = file_with(input);
        let mut outcomes = vec![
            ("scan", show(scan(input, limits, &mut NoSink))),
            (
                "scan_file",
                show(scan_file(file.path(), limits, &mut NoSink)),
            ),
        ];
        for chunk in [4, 5, 7, 16] {
            outcomes.push(("scan in pieces", show(scan_in_pieces(input, limits, chunk))));
        }
        if !exceeds(input.len(), limits.max_bytes) {
            let mut locate = InMemory::new(input);
            let trickled = scan_input(Trickle(input), &mut locate, limits, &mut NoSink, 64);
            outcomes.push(("scan of a trickle", show(trickled.map(drop))));
        }
        let shown: String = String::from_utf8_lossy(input).chars().take(300).collect();
        for (way, outcome) in outcomes {
            assert_eq!(
                outcome,
                expected,
                "{way} disagrees with parse on {} bytes: {shown:?}",
                input.len()
            );
        }
        expected
    }

    #[test]
    fn every_path_gives_the_same_verdict_on_good_and_hostile_documents() {
        let mut billion_laughs = String::from("<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
        billion_laughs.push_str(" <!ENTITY lol1 \"&lol;&lol;\">\n]>\n<lolz>&lol1;</lolz>\n");
        let mut many_attributes = String::from("<store>\n  <row");
        for index in 0..300 {
            many_attributes.push_str(&format!(" a{index}=\"{index}\""));
        }
        many_attributes.push_str("/>\n</store>");
        let mut rows = String::from("<?xml version=\"1.0\"?>\n<store>\n");
        for index in 0..3_000 {
            rows.push_str(&format!(
                "  <row id=\"{index}\" note=\"a &amp; b\">é{index}</row>\n"
            ));
        }
        rows.push_str("</store>\n");
        let mut late_bad_utf8 = rows.clone().into_bytes();
        late_bad_utf8.extend_from_slice(b"<x>\xFF</x>");
        let corpus: Vec<Vec<u8>> = vec![
            rows.into_bytes(),
            late_bad_utf8,
            billion_laughs.into_bytes(),
            many_attributes.into_bytes(),
            "<a>".repeat(300).into_bytes(),
            format!("<r>\n<row data=\"{}\"/></r>", "s".repeat(2 * 1024 * 1024)).into_bytes(),
            format!("<{}/>", "n".repeat(2000)).into_bytes(),
            b"<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<r>&x;</r>".to_vec(),
            b"<!DOCTYPE r SYSTEM \"http://127.0.0.1:1/r.dtd\">\n<r>&ext;</r>".to_vec(),
            b"<!DOCTYPE r [\n  <!ELEMENT r ANY>\n  <!ATTLIST r \xC3\xA9 CDATA \"x\">\n]>\n<r>\n  <p:x/>\n</r>".to_vec(),
            b"<r/><!DOCTYPE r>".to_vec(),
            b"<!DOCTYPE r><!DOCTYPE r><r/>".to_vec(),
            b"<!doctype r><r/>".to_vec(),
            b"<store>\n  <row id=\"1\">\n    <value>3</value>\n".to_vec(),
            b"<store>\n  <row id=\"1".to_vec(),
            b"<store/>\n<store/>\n".to_vec(),
            b"<r/>\ntrailing".to_vec(),
            b"  leading<r/>".to_vec(),
            b"<?xml version=\"1.0\"?>\n<!-- nothing -->\n".to_vec(),
            b" \n\t".to_vec(),
            b"<store>\n  <row>\n  </rows>\n</store>".to_vec(),
            b"<r b=\"1\" b=\"2\"/>".to_vec(),
            b"<r><!-- a -- b --></r>".to_vec(),
            b"<r>]]></r>".to_vec(),
            b"<r>a & b</r>".to_vec(),
            b"<r a=\"x<y\"/>".to_vec(),
            b"<r a=1/>".to_vec(),
            b"<r a=\"1\"b=\"2\"/>".to_vec(),
            b"<1r/>".to_vec(),
            b"<r>< x</r>".to_vec(),
            b"<r xmlns:p=\"\"/>".to_vec(),
            b" <?xml version=\"1.0\"?><r/>".to_vec(),
            b"<?xml version=\"2.0\"?><r/>".to_vec(),
            b"<?xml encoding=\"UTF-8\"?><r/>".to_vec(),
            b"<?xml version=\"1.0\" standalone=\"maybe\"?><r/>".to_vec(),
            b"<r><![CDATA[open".to_vec(),
            b"<r><!x></r>".to_vec(),
            b"\xFF\xFE<\x00r\x00/\x00>\x00".to_vec(),
            b"\x00\x00\xFE\xFF\x00\x00\x00<".to_vec(),
            b"<\x00r\x00/\x00>\x00".to_vec(),
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<r>caf\xE9</r>".to_vec(),
            b"<?xml version=\"1.0\" encoding=\"latin\xE9\"?><r/>".to_vec(),
            b"<r>\n  <name>h\xC3\xA9llo\xFF</name>\n</r>".to_vec(),
            b"<r></x>\xFF".to_vec(),
            b"<r></x>\x01".to_vec(),
            b"<r>\x01</r>\xFF".to_vec(),
            b"<r>\xE2\x82".to_vec(),
            b"\xEF\xBB".to_vec(),
            b"".to_vec(),
            b"\xEF\xBB\xBF".to_vec(),
            b"\xEF\xBB\xBF\xEF\xBB\xBF<r/>".to_vec(),
            b"\xEF\xBB\xBF<r>&bad;</r>".to_vec(),
            b"<r>&#0;</r>".to_vec(),
            b"<r>\n <v a=\"x&#x0;\"/></r>".to_vec(),
            b"<r>&#99999999999;</r>".to_vec(),
            b"<r a=\"\x1B[31m\"/>".to_vec(),
            b"<r>\xEF\xBF\xBE</r>".to_vec(),
            b"<r>a\tb\r\nc</r>".to_vec(),
            b"<s:store xmlns:s=\"urn:s\" xmlns=\"urn:d&amp;x\"><s:g><row><v/></row></s:g></s:store>".to_vec(),
            b"<store xmlns=\"urn:d\"><x xmlns=\"\"><row/></x><row/></store>".to_vec(),
            b"<r>]</r>]]>".to_vec(),
            b"<r>]]]]]]]</r>".to_vec(),
            b"<r>x]]]></r>".to_vec(),
            b"<r>\xC3\xA9\n\xF0\x9F\x98\x80]]></r>".to_vec(),
        ];
        let small = XmlLimits {
            max_bytes: 100_000,
            max_depth: 3,
            max_attributes: 2,
            max_name_bytes: 8,
            max_attribute_bytes: 16,
            ..XmlLimits::default()
        };
        for input in &corpus {
            assert_paths_agree(input, &XmlLimits::default());
            assert_paths_agree(input, &small);
        }
        // Some of them, to show the corpus holds what it should.
        assert_eq!(
            assert_paths_agree(&corpus[0], &XmlLimits::default()),
            "accepted"
        );
        assert!(assert_paths_agree(&corpus[1], &XmlLimits::default()).contains("not valid UTF-8"));
        assert!(assert_paths_agree(&corpus[0], &small).contains("larger than the limit"));
    }

    /// A small document made of `seed` with a few random edits: tokens of XML syntax put in,
    /// bytes cut out.
    fn mutate(seed: &[u8], next: &mut impl FnMut() -> u64) -> Vec<u8> {
        const TOKENS: [&[u8]; 40] = [
            b"<",
            b">",
            b"/",
            b"&",
            b";",
            b"\"",
            b"=",
            b" ",
            b":",
            b"xmlns:p=\"u\"",
            b"p:",
            b"<!--",
            b"-->",
            b"<![CDATA[",
            b"]]>",
            b"<?xml version=\"1.0\"?>",
            b"<?pi x?>",
            b"&amp;",
            b"&#0;",
            b"\xFF",
            b"\x00",
            b"\xC3\xA9",
            b"\xEF\xBB\xBF",
            b"<!DOCTYPE r>",
            b"<!ENTITY",
            b"\n",
            b"]",
            b"-",
            b"</r>",
            b"<r>",
            b" encoding=\"latin1\"",
            b"xml:",
            b" a:b=\"1\"",
            b"<xml:c/>",
            b"<? ?>",
            b"\xE2\x80",
            b"\x1B",
            b"'",
            b".",
            b"<x/>",
        ];
        let mut pick = |n: usize| usize::try_from(next()).unwrap_or(0) % n.max(1);
        let mut doc = seed.to_vec();
        for _ in 0..1 + pick(4) {
            let at = pick(doc.len() + 1);
            let token = TOKENS[pick(TOKENS.len())];
            match pick(3) {
                0 => drop(doc.splice(at..at, token.iter().copied())),
                1 => drop(doc.drain(at..(at + 1 + pick(4)).min(doc.len()))),
                _ => drop(doc.splice(at..(at + token.len()).min(doc.len()), token.iter().copied())),
            }
        }
        doc
    }

    #[test]
    fn random_edits_get_the_same_verdict_every_way_and_what_the_scan_accepts_sxd_accepts() {
        let seeds: [&[u8]; 3] = [
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->\n<s:store xmlns:s=\"urn:s\" \
              xmlns=\"urn:d\" s:region=\"eu\">\n  <row id=\"1\" name=\"caf\xC3\xA9 &amp; bar\">\
              <value>3.5</value></row>\n  <row id=\"2\"><value><![CDATA[4 < 5]]></value>\
              <?pi data?></row>\n</s:store>\n",
            b"<!DOCTYPE r [<!ELEMENT r ANY>]>\n<r a='1' b=\"&#x41;\">t&#10;x<c/>y</r>",
            b"\xEF\xBB\xBF<?xml version='1.0' standalone='yes'?><r><a><b>text</b></a></r>",
        ];
        // xorshift64: deterministic, so a failure can be replayed.
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let small = XmlLimits {
            max_depth: 4,
            max_attributes: 3,
            max_name_bytes: 6,
            max_attribute_bytes: 10,
            max_bytes: 400,
            ..XmlLimits::default()
        };
        let (mut accepted, mut refused) = (0, 0);
        for round in 0..600 {
            let seed = seeds[round % seeds.len()];
            let doc = mutate(seed, &mut next);
            let limits = if round % 3 == 0 {
                small.clone()
            } else {
                XmlLimits::default()
            };
            let parsed = show(parse(&doc, &limits).map(drop));
            let scanned = show(scan(&doc, &limits, &mut NoSink));
            // sxd-document never refuses what the scan accepts, so the engines agree.
            assert_eq!(scanned, parsed, "on {:?}", String::from_utf8_lossy(&doc));
            let chunk = 4 + usize::try_from(next() % 13).unwrap_or(0);
            let pieces = show(scan_in_pieces(&doc, &limits, chunk));
            assert_eq!(
                pieces,
                parsed,
                "{chunk}-byte reads of {:?}",
                String::from_utf8_lossy(&doc)
            );
            if round % 20 == 0 {
                let file = file_with(&doc);
                let filed = show(scan_file(file.path(), &limits, &mut NoSink));
                assert_eq!(
                    filed,
                    parsed,
                    "scan_file on {:?}",
                    String::from_utf8_lossy(&doc)
                );
            }
            if parsed == "accepted" {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
        // The edits must leave some documents whole and break others, or this tests little.
        assert!(
            accepted > 20 && refused > 200,
            "{accepted} accepted, {refused} refused"
        );
    }

    /// One attribute as a tag reader reads it, or its error.
    type AttributeRead = Result<AttributeRanges, AttrError>;

    /// Random tag text for the tests of the tag readers: mostly plain tags, with the pieces
    /// that make a tag irregular mixed in.
    fn random_tag(next: &mut impl FnMut() -> u64) -> String {
        const PIECES: [&str; 27] = [
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
        let (mut plain, mut general) = (0, 0);
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
                        } => {
                            assert_eq!(plain_length, length, "{text:?}");
                            assert_eq!(empty, text[..length].ends_with("/>"), "{text:?}");
                            let inside = &text[1..length - 1];
                            let raw = inside.strip_suffix('/').filter(|_| empty).unwrap_or(inside);
                            assert_eq!(plain_name, name_len(raw), "{text:?}");
                            assert_eq!(lexed, attributes, "{text:?}");
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
            plain > 2_000 && general > 2_000,
            "{plain} plain, {general} general"
        );
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

    #[test]
    fn end_tags_are_matched_by_the_scan_with_quick_xml_messages() {
        let cases = [
            ("<r></r  \n>", None),
            ("<r><a></a\t></r>", None),
            (
                "<r></x>",
                Some(((1, 4), "expected a closing tag for <r>, found </x>")),
            ),
            (
                "<r></r x>",
                Some(((1, 4), "expected a closing tag for <r>, found </r x>")),
            ),
            ("<r></r x=\">\">", Some(((1, 4), "found </r x=\">\">"))),
            (
                "<r></>",
                Some(((1, 4), "expected a closing tag for <r>, found </>")),
            ),
            ("<r></ r>", Some(((1, 4), "found </ r>"))),
            (
                "<r/></r>",
                Some(((1, 5), "closing tag </r> has no matching opening tag")),
            ),
            (
                "</r>",
                Some(((1, 1), "closing tag </r> has no matching opening tag")),
            ),
            ("<r></r", Some(((1, 4), "a tag is not closed with `>`"))),
            (
                "<r><a b=\"></r>",
                Some(((1, 4), "an attribute value is not closed with `\"`")),
            ),
            (
                "<r><a b='></r>",
                Some(((1, 4), "an attribute value is not closed with `'`")),
            ),
            ("<r><", Some(((1, 4), "a tag is not closed with `>`"))),
        ];
        for (xml, expected) in cases {
            let verdict = assert_paths_agree(xml.as_bytes(), &XmlLimits::default());
            let Some((position, words)) = expected else {
                assert_eq!(verdict, "accepted", "{xml}");
                continue;
            };
            let error = scan(xml.as_bytes(), &XmlLimits::default(), &mut NoSink).expect_err(xml);
            assert_eq!(error.position(), Some(position), "{xml}: {error}");
            assert_message(&error, &[words]);
        }
    }

    #[test]
    fn a_tag_across_reads_is_read_as_a_tag_within_one() {
        // Every way to cut a document of plain and irregular tags between two reads: each tag
        // starts and ends in one read, or in two, or in many.
        let xml = "<r a=\"1\" b='>'>\n <p:row xmlns:p=\"u\" p:c=\"&amp;\" d = \"2\"/>t&lt;<e\nf='g'\n/>\
                   </r\n >";
        let mut whole = Recorder::default();
        scan(xml.as_bytes(), &XmlLimits::default(), &mut whole).expect("valid");
        for chunk in 4..=xml.len() + 1 {
            let mut pieces = Recorder::default();
            let mut locate = InMemory::new(xml.as_bytes());
            let limits = XmlLimits::default();
            scan_input(xml.as_bytes(), &mut locate, &limits, &mut pieces, chunk).expect("valid");
            assert_eq!(pieces.joined(), whole.joined(), "{chunk}-byte reads");
        }
        assert_eq!(
            whole.joined()[..3],
            [
                "start r a=\"1\" b='>'".to_owned(),
                "text \"\\n \"".to_owned(),
                "empty p:row xmlns:p=\"u\" p:c=\"&amp;\" d = \"2\"".to_owned(),
            ]
        );
    }

    /// Records what a sink is told, one line per call.
    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl Sink for Recorder {
        fn start(&mut self, tag: &StartTag<'_>, empty: bool) {
            let raw: &str = tag.raw();
            let kind = if empty { "empty" } else { "start" };
            self.0.push(format!("{kind} {raw}"));
        }
        fn end(&mut self) {
            self.0.push("end".to_owned());
        }
        fn text(&mut self, text: &str) {
            self.0.push(format!("text {text:?}"));
        }
        fn boundary(&mut self) {
            self.0.push("boundary".to_owned());
        }
    }

    impl Recorder {
        /// The calls with adjacent pieces of text joined.
        fn joined(&self) -> Vec<String> {
            let mut joined: Vec<String> = Vec::new();
            for call in &self.0 {
                let piece = call.strip_prefix("text ");
                match (piece, joined.last_mut()) {
                    (Some(piece), Some(last)) if last.starts_with("text ") => {
                        last.truncate(last.len() - 1);
                        last.push_str(piece.strip_prefix('"').unwrap_or(piece));
                    }
                    _ => joined.push(call.clone()),
                }
            }
            joined
        }
    }

    /// Every call a sink gets, with everything it is told.
    #[derive(Default)]
    struct Calls(Vec<String>);

    impl Sink for Calls {
        fn start(&mut self, tag: &StartTag<'_>, empty: bool) {
            let attributes: Vec<(&str, &str)> = tag.attributes().collect();
            self.0.push(format!(
                "start {:?} {:?} {:?} {attributes:?} {empty}",
                tag.raw(),
                tag.name(),
                tag.has_attributes()
            ));
        }
        fn end(&mut self) {
            self.0.push("end".to_owned());
        }
        fn text(&mut self, text: &str) {
            self.0.push(format!("text {text:?}"));
        }
        fn boundary(&mut self) {
            self.0.push("boundary".to_owned());
        }
        fn comment(&mut self, text: &str) {
            self.0.push(format!("comment {text:?}"));
        }
        fn processing_instruction(&mut self, target: &str, value: Option<&str>) {
            self.0.push(format!("instruction {target:?} {value:?}"));
        }
    }

    #[test]
    fn the_parallel_scan_makes_the_same_calls() {
        let rows: String = (0..20_000)
            .map(|i| format!("<row id='{i}' k = \"x&amp;y\">t{i}<!--c--><?p v?></row>\n"))
            .collect();
        let long_text = "z".repeat(300_000);
        for xml in [
            "<a/>".to_owned(),
            "<!--x--><?p?><a xmlns:p='u' p:b='1'>t<![CDATA[]]><?q  v ?>&#65;</a><!--y-->"
                .to_owned(),
            format!("<store>\n{rows}</store>"),
            format!("<a>{long_text}</a>"),
            format!("<store>{rows}</stor>"),
            "<a><b></a>".to_owned(),
        ] {
            let mut alone = Calls::default();
            let scanned = scan(xml.as_bytes(), &XmlLimits::default(), &mut alone);
            let mut parallel = Calls::default();
            let in_parallel =
                scan_in_parallel(xml.as_bytes(), &XmlLimits::default(), &mut parallel);
            assert_eq!(alone.0, parallel.0);
            assert_eq!(
                scanned.map_err(|e| e.to_string()),
                in_parallel.map_err(|e| e.to_string())
            );
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("store.xml");
        std::fs::write(&path, format!("<store>{rows}</store>")).expect("written");
        let mut alone = Calls::default();
        scan_file(&path, &XmlLimits::default(), &mut alone).expect("accepted");
        let mut parallel = Calls::default();
        scan_file_in_parallel(&path, &XmlLimits::default(), &mut parallel).expect("accepted");
        assert_eq!(alone.0.len(), parallel.0.len());
        assert!(alone.0 == parallel.0);
    }

    #[test]
    fn a_tape_that_is_not_one_is_refused_without_a_panic() {
        let mut calls = Calls::default();
        let mut ranges = Vec::new();
        for tape in [
            &b"X"[..],
            b"S",
            b"T\x05\0\0\0\0\0\0\0ab",
            b"T\x02\0\0\0\0\0\0\0\xff\xfe",
        ] {
            assert_eq!(replay(tape, &mut calls, &mut ranges), None, "{tape:?}");
        }
        assert_eq!(replay(b"BE", &mut calls, &mut ranges), Some(()));
        assert_eq!(calls.0, ["boundary", "end"]);
    }

    #[test]
    fn the_sink_is_told_the_document_as_the_dom_sees_it() {
        let xml = "\u{FEFF}<?xml version=\"1.0\"?>\n<!-- before -->\n<!DOCTYPE store>\n\
                   <store xmlns:s=\"urn:s\" name=\"x\">\n  \
                   <row id=\"1\">a &amp; b&#10;c\r\n<!-- split -->d<![CDATA[<e>]]><?pi x?></row>\n  \
                   <s:empty s:flag=\"1\"/><n><m/></n>\n</store>\n<!-- after -->\n";
        let mut recorder = Recorder::default();
        scan(xml.as_bytes(), &XmlLimits::default(), &mut recorder).expect("a valid document");
        let expected = [
            "start store xmlns:s=\"urn:s\" name=\"x\"",
            "text \"\\n  \"",
            "start row id=\"1\"",
            "text \"a \"",
            "text \"&\"",
            "text \" b\"",
            "text \"\\n\"",
            "text \"c\\n\"",
            "boundary",
            "text \"d\"",
            "text \"<e>\"",
            "boundary",
            "end",
            "text \"\\n  \"",
            "empty s:empty s:flag=\"1\"",
            "end",
            "start n",
            "empty m",
            "end",
            "end",
            "text \"\\n\"",
            "end",
        ];
        assert_eq!(recorder.0, expected);
        let file = file_with(xml.as_bytes());
        let mut from_file = Recorder::default();
        scan_file(file.path(), &XmlLimits::default(), &mut from_file).expect("a valid document");
        assert_eq!(from_file.0, expected);
        // Read 4 bytes at a time, text comes in more pieces, and the same when joined.
        let mut in_pieces = Recorder::default();
        let mut locate = InMemory::new(xml.as_bytes());
        let limits = XmlLimits::default();
        scan_input(xml.as_bytes(), &mut locate, &limits, &mut in_pieces, 4).expect("valid");
        assert!(in_pieces.0.len() > expected.len());
        assert_eq!(in_pieces.joined(), recorder.joined());
    }

    #[test]
    fn a_sink_hears_nothing_past_a_problem() {
        let mut recorder = Recorder::default();
        let error = scan(
            b"<r><a>1</a><b x=\"&nope;\">2</b></r>",
            &XmlLimits::default(),
            &mut recorder,
        )
        .expect_err("unknown entity");
        assert_message(&error, &["unknown entity reference `&nope;`"]);
        assert_eq!(recorder.0, ["start r", "start a", "text \"1\"", "end"]);
    }

    #[test]
    fn text_longer_than_a_read_is_checked_and_handed_on_whole() {
        // `]]>` split between two reads of 64 KiB, after a character of two bytes.
        let filler = "é".repeat(READ_CHUNK_BYTES / 2);
        for split in 0..4 {
            let xml = format!(
                "<r>\n{}{}]]>x</r>",
                &filler[..filler.len() - 2],
                &"a".repeat(split)
            );
            let error = assert_paths_agree(xml.as_bytes(), &XmlLimits::default());
            assert!(error.contains("`]]>` is not allowed in text"), "{error}");
            assert!(error.contains("line 2, column"), "{error}");
        }
        let long = format!("<r>{filler}]]</r>");
        let mut recorder = Recorder::default();
        scan(long.as_bytes(), &XmlLimits::default(), &mut recorder).expect("valid");
        let pieces = recorder
            .0
            .iter()
            .filter(|call| call.starts_with("text "))
            .count();
        assert!(pieces > 1, "the text came in one piece");
        assert_eq!(
            recorder.joined(),
            [
                "start r".to_owned(),
                format!("text {:?}", format!("{filler}]]")),
                "end".to_owned()
            ]
        );
    }

    #[test]
    fn declared_encoding_is_found_however_the_bytes_arrive() {
        let cases: [(&[u8], Option<&str>); 11] = [
            (
                b"<?xml version=\"1.0\" encoding=\"latin1\"?><r/>",
                Some("latin1"),
            ),
            (b"<?xml encoding = 'KOI8-R' ?>", Some("KOI8-R")),
            // Only the first `encoding` counts, even inside another word.
            (
                b"<?xml xencoding=\"cp1252\" encoding=\"UTF-8\"?>",
                Some("cp1252"),
            ),
            (b"<?xml encoding=\"UTF-8\"?>", None),
            (b"<?xml encoding=\"us-ASCII\"?>", None),
            (b"<?xml encoding=\"\"?>", Some("")),
            // The declaration ends at the first `?>`, wherever it is.
            (b"<?xml encoding=\"a?>b\"?>", None),
            (b"<?xml encoding=\"latin1\"", None),
            (b"<?xmlencoding=\"latin1\"?>", None),
            (b"<?xml encoding \"latin1\"?>", None),
            (b" <?xml encoding=\"latin1\"?>", None),
        ];
        for (bytes, expected) in cases {
            let mut whole = Declaration::new();
            let mut found = whole.feed(bytes);
            let mut by_byte = Declaration::new();
            let mut found_by_byte = None;
            for byte in bytes {
                found_by_byte = found_by_byte.or(by_byte.feed(std::slice::from_ref(byte)));
            }
            assert_eq!(
                found.as_deref(),
                expected,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
            assert_eq!(found_by_byte, found.take());
        }
        let long = format!("<?xml encoding=\"{}\"?>", "x".repeat(1000));
        let name = Declaration::new().feed(long.as_bytes()).expect("not UTF-8");
        assert_eq!(name, format!("{}…", "x".repeat(40)));
    }

    // --- which error wins ----------------------------------------------------------------------

    #[test]
    fn an_error_later_in_the_file_wins_when_its_check_comes_first() {
        let cases: [(&[u8], &str); 5] = [
            // Invalid UTF-8 anywhere beats structure and characters XML forbids.
            (
                b"<r></x>\n\x01\n\xFF",
                "not valid UTF-8 at line 3, column 1",
            ),
            // A character XML forbids anywhere beats structure.
            (b"<r></x>\n<y>\x01</y>", "U+0001 is not allowed in XML 1.0"),
            // The declared encoding beats invalid UTF-8, even inside the declaration.
            (
                b"<?xml version=\"1.0\" encoding=\"latin\xE9\"?><r>\xE9</r>",
                "encoding=\"latin\u{FFFD}\"",
            ),
            // The empty file beats all.
            (b"\xEF\xBB\xBF", "the file is empty"),
            // A name the DOM would refuse comes before a limit further on.
            (
                b"<r><1a/><b><c><d><e/></d></c></b></r>",
                "expected an element name",
            ),
        ];
        let limits = XmlLimits {
            max_depth: 3,
            ..XmlLimits::default()
        };
        for (input, words) in cases {
            let error = assert_paths_agree(input, &limits);
            assert!(error.contains(words), "{words:?} is not in {error:?}");
        }
        // The position of the first error (at the start of a tag that ends in the second read
        // of the file) is found by reading the file again, before the rest is read.
        let far = |last: &[u8]| {
            let mut far = b"<r>".to_vec();
            far.extend(std::iter::repeat_n(b' ', READ_CHUNK_BYTES - 100));
            far.extend_from_slice(b"<a");
            for index in 0..100 {
                far.extend_from_slice(format!(" a{index}=\"{index}\"").as_bytes());
            }
            far.extend_from_slice(b"/>");
            far.extend(std::iter::repeat_n(b' ', 2 * READ_CHUNK_BYTES));
            far.extend_from_slice(b"\n ");
            far.extend_from_slice(last);
            far.extend_from_slice(b"</r>");
            far
        };
        let limits = XmlLimits {
            max_attributes: 3,
            ..XmlLimits::default()
        };
        let error = assert_paths_agree(&far(b"x"), &limits);
        let column = READ_CHUNK_BYTES - 100 + 4;
        assert!(
            error.contains(&format!("at line 1, column {column}")),
            "{error}"
        );
        let error = assert_paths_agree(&far(b"\xFF"), &limits);
        assert!(
            error.contains("not valid UTF-8 at line 2, column 2"),
            "{error}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn scan_file_stops_at_the_limit_on_an_endless_stream() {
        // /dev/zero starts with a NUL, refused as a character; the size limit still wins, as in
        // `read`, and the stream is read only one byte past the limit.
        let limits = XmlLimits {
            max_bytes: 4096,
            ..XmlLimits::default()
        };
        let error = scan_file(Path::new("/dev/zero"), &limits, &mut NoSink).expect_err("endless");
        assert!(
            matches!(error, XmlError::TooLarge { limit: 4096 }),
            "{error:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn scan_file_reads_a_pipe_once_and_still_finds_positions() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let fifo = directory.path().join("store.fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !status.is_ok_and(|status| status.success()) {
            eprintln!("mkfifo is not available; skipping");
            return;
        }
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut pipe = File::options()
                    .write(true)
                    .open(fifo)
                    .expect("open the fifo");
                pipe.write_all(b"<r>\n  <a></b>\n</r>")
                    .expect("write the fifo");
            })
        };
        let error = scan_file(&fifo, &XmlLimits::default(), &mut NoSink).expect_err("mismatch");
        writer.join().expect("the writer");
        assert_eq!(error.position(), Some((2, 6)));
        assert_message(&error, &["expected a closing tag for <a>, found </b>"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_stream_is_refused_at_its_first_bad_byte_not_read_to_the_limit() {
        // Issue 10: /dev/zero was copied to the size limit (16 GiB by default) before its first
        // byte was looked at. A stream's scan stops at its first problem.
        let started = std::time::Instant::now();
        let scanned = scan_file(Path::new("/dev/zero"), &XmlLimits::default(), &mut NoSink)
            .expect_err("a NUL");
        let read = read(Path::new("/dev/zero"), &XmlLimits::default()).expect_err("a NUL");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        for error in [scanned, read] {
            assert_eq!(error.position(), Some((1, 1)), "{error}");
            assert_message(&error, &["the character U+0000 is not allowed in XML 1.0"]);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_without_a_writer_is_refused_after_the_read_timeout() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let fifo = directory.path().join("store.fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !status.is_ok_and(|status| status.success()) {
            eprintln!("mkfifo is not available; skipping");
            return;
        }
        let limits = XmlLimits {
            read_timeout: std::time::Duration::from_millis(300),
            ..XmlLimits::default()
        };
        for error in [
            scan_file(&fifo, &limits, &mut NoSink).expect_err("no writer"),
            read(&fifo, &limits).expect_err("no writer"),
        ] {
            assert!(matches!(error, XmlError::Read { .. }), "{error:?}");
            assert_message(
                &error,
                &[
                    "cannot read the file: nothing arrived for 300ms;",
                    "--read-timeout",
                ],
            );
        }
    }

    /// A sink that rewrites a file in place (same size) at the first start tag it gets, as an
    /// application with `pwrite` may while xml2prom reads the file.
    struct Rewriter<'p> {
        path: Option<&'p Path>,
        starts: usize,
    }

    impl Sink for Rewriter<'_> {
        fn start(&mut self, _tag: &StartTag<'_>, _empty: bool) {
            self.starts += 1;
            if let Some(path) = self.path.take() {
                let file = File::options()
                    .write(true)
                    .open(path)
                    .expect("open to write");
                std::os::unix::fs::FileExt::write_at(&file, b"b", 1).expect("pwrite");
            }
        }
        fn end(&mut self) {}
        fn text(&mut self, _text: &str) {}
        fn boundary(&mut self) {}
    }

    #[cfg(unix)]
    #[test]
    fn a_file_changed_while_it_is_scanned_is_refused_and_read_again_once() {
        // Issue 10: a store rewritten in place while it was read gave spliced numbers.
        let file = file_with(b"<a/>");
        let mut rewriter = Rewriter {
            path: Some(file.path()),
            starts: 0,
        };
        let error =
            scan_file(file.path(), &XmlLimits::default(), &mut rewriter).expect_err("changed");
        assert!(matches!(error, XmlError::Changed), "{error:?}");
        assert_eq!(error.position(), None);
        assert_message(
            &error,
            &["the input changed while it was read", "rename it over"],
        );
        // Changed once, during the first read, then stable: the second read (a fresh sink)
        // is the outcome.
        let mut attempts = 0;
        let again = again_if_changed(|| {
            attempts += 1;
            let mut rewriter = Rewriter {
                path: (attempts == 1).then_some(file.path()),
                starts: 0,
            };
            scan_file(file.path(), &XmlLimits::default(), &mut rewriter).map(|()| rewriter.starts)
        });
        assert_eq!(attempts, 2);
        assert_eq!(again.expect("stable the second time"), 1);
        // Changed at every read: the second change is the error.
        let mut attempts = 0;
        let twice = again_if_changed(|| {
            attempts += 1;
            let mut rewriter = Rewriter {
                path: Some(file.path()),
                starts: 0,
            };
            scan_file(file.path(), &XmlLimits::default(), &mut rewriter)
        });
        assert_eq!(attempts, 2);
        assert!(matches!(twice, Err(XmlError::Changed)), "{twice:?}");
    }

    #[test]
    fn scan_file_explains_a_missing_file_a_directory_and_a_large_file_as_read_does() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let missing = directory.path().join("missing.xml");
        let limits = XmlLimits {
            max_bytes: 5,
            ..XmlLimits::default()
        };
        let large = file_with(b"<r/>\n\n");
        for path in [missing.as_path(), directory.path(), large.path()] {
            let scanned = scan_file(path, &limits, &mut NoSink).expect_err("refused");
            let read = read(path, &limits).expect_err("refused");
            assert_eq!(scanned.to_string(), read.to_string());
        }
    }

    // --- what sxd-document refuses, the scan refuses ------------------------------------------

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

    // --- bounded memory -------------------------------------------------------------------------

    /// A store of `rows` rows, made as it is read, so the test holds no copy of it.
    struct GeneratedStore {
        rows: usize,
        made: usize,
        pending: Vec<u8>,
        at: usize,
        ended: bool,
    }

    impl GeneratedStore {
        fn new(rows: usize) -> Self {
            Self {
                rows,
                made: 0,
                pending: b"<?xml version=\"1.0\"?>\n<store name=\"bench\">\n".to_vec(),
                at: 0,
                ended: false,
            }
        }
    }

    impl Read for GeneratedStore {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            while self.at == self.pending.len() {
                self.pending.clear();
                self.at = 0;
                if self.made < self.rows {
                    let row = self.made;
                    self.made += 1;
                    let line = format!(
                        "  <row id=\"{row}\" kind=\"invoice\" size=\"{}\" status=\"ok\">invoice \
                         {row} paid &amp; closed</row>\n",
                        row * 7
                    );
                    self.pending.extend_from_slice(line.as_bytes());
                } else if !self.ended {
                    self.ended = true;
                    self.pending.extend_from_slice(b"</store>\n");
                } else {
                    return Ok(0);
                }
            }
            let rest = self.pending.get(self.at..).unwrap_or_default();
            let count = rest.len().min(out.len());
            out[..count].copy_from_slice(&rest[..count]);
            self.at += count;
            Ok(count)
        }
    }

    /// Counts what a sink is told.
    #[derive(Default)]
    struct Counter {
        elements: usize,
        text_bytes: usize,
    }

    impl Sink for Counter {
        fn start(&mut self, _tag: &StartTag<'_>, _empty: bool) {
            self.elements += 1;
        }
        fn end(&mut self) {}
        fn text(&mut self, text: &str) {
            self.text_bytes += text.len();
        }
        fn boundary(&mut self) {}
    }

    #[test]
    fn the_scan_holds_no_more_for_more_elements() {
        let held = |rows| {
            let mut counter = Counter::default();
            let limits = XmlLimits {
                max_bytes: u64::MAX,
                ..XmlLimits::default()
            };
            let scanned = scan_input(
                GeneratedStore::new(rows),
                &mut InMemory::new(b""),
                &limits,
                &mut counter,
                READ_CHUNK_BYTES,
            )
            .expect("a valid store");
            assert_eq!(counter.elements, rows + 1);
            scanned.held_bytes
        };
        let few = held(100);
        let many = held(200_000);
        assert_eq!(few, many, "the buffers grew with the number of elements");
        assert!(many < 4096, "{many} bytes held");
    }

    #[test]
    fn scan_file_reads_a_50_mb_store() {
        const ROWS: usize = 520_000;
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("store.xml");
        let mut file = io::BufWriter::new(File::create(&path).expect("create the store"));
        let mut store = GeneratedStore::new(ROWS);
        io::copy(&mut store, &mut file).expect("write the store");
        file.into_inner()
            .expect("flush the store")
            .sync_all()
            .expect("sync");
        let size = std::fs::metadata(&path).expect("metadata").len();
        assert!(size > 50_000_000, "{size} bytes");
        let mut counter = Counter::default();
        scan_file(&path, &XmlLimits::default(), &mut counter).expect("a valid store");
        assert_eq!(counter.elements, ROWS + 1);
        // Each row's text is `invoice N paid & closed`, and `\n  ` stands before each row.
        let row_text: usize = (0..ROWS)
            .map(|row| "invoice  paid & closed".len() + row.to_string().len())
            .sum();
        assert_eq!(counter.text_bytes, row_text + 3 * ROWS + 1);
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

    #[test]
    fn a_carriage_return_alone_ends_a_line_in_error_positions() {
        for (xml, line, column) in [
            ("<r>\r<a></r>", 2, 4),
            ("<r>\r\n<a></r>", 2, 4),
            ("<r>\r\r\n\n<a></r>", 4, 4),
            ("<r\ra='1'\rb='<'/>", 3, 4),
        ] {
            let error = refuse(xml);
            let (at_line, at_column, _) = not_well_formed_at(&error);
            assert_eq!((at_line, at_column), (line, column), "{xml:?}: {error}");
            let file = file_with(xml.as_bytes());
            let from_file =
                scan_file(file.path(), &XmlLimits::default(), &mut NoSink).expect_err("refused");
            assert_eq!(from_file.to_string(), error.to_string());
        }
    }

    #[test]
    fn line_counter_counts_a_cr_lf_split_between_pieces_once() {
        let mut counter = LineCounter::default();
        for piece in [&b"a\r"[..], b"\nb\r", b"c"] {
            counter.feed(piece);
        }
        assert_eq!(counter.position(None), (3, 2));
    }
}
