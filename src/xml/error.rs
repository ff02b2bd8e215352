//! The errors of stage 3: [`XmlError`], each variant's doc giving its exact message, and the
//! helpers that word those messages (sizes, read advice, encodings, quick-xml's and attribute
//! errors, name excerpts), so that every text a refused input can produce is in this file.

use std::fmt;
use std::io;

use quick_xml::errors::{Error as QuickError, IllFormedError, SyntaxError};
use quick_xml::events::attributes::AttrError;

use super::file::Stalled;
use super::tag::is_xml_space;
use super::{KIB, MIB};

/// How many characters of a name from the input an error message shows at most, so that a
/// secret in a hostile file cannot end up in a log as a "name".
const NAME_EXCERPT_CHARS: usize = 40;

/// The tail of every message for a limit: input past these limits is almost always an attack
/// or a broken producer, not a bigger store.
const HOSTILE_ADVICE: &str = "xml2prom refuses such input to protect itself from hostile files; \
                              check what produced the file";

/// sxd-document's message for an XML declaration it cannot read, or a processing instruction
/// named like one.
pub(super) const MALFORMED_DECLARATION: &str = "malformed XML declaration, or a processing instruction named \
                                     `xml`; the declaration looks like <?xml version=\"1.0\" \
                                     encoding=\"UTF-8\"?> and comes first in the file";

pub(super) const UNDECLARED_PREFIX: &str = "undeclared namespace prefix; declare it with xmlns:prefix=\"...\" \
                                 on this element or an ancestor";

pub(super) const EMPTY_NAMESPACE: &str =
    "a namespace prefix cannot be bound to an empty URI (xmlns:p=\"\")";

pub(super) const MISSING_SPACE: &str = "expected whitespace, `>` or `/>` after the attribute";

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
///
/// [`XmlLimits::max_name_bytes`]: super::XmlLimits::max_name_bytes
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
    ///
    /// [`XmlLimits::read_timeout`]: super::XmlLimits::read_timeout
    #[error("cannot read the file: {}", ReadAdvice(.source))]
    Read {
        /// The error from the operating system.
        source: io::Error,
    },

    /// The input is larger than [`XmlLimits::max_bytes`]; from [`read`] and [`scan_file`] before
    /// the file is read past the limit, or from `reference::parse` and [`scan`] for bytes that came
    /// from elsewhere (stdin).
    ///
    /// ```text
    /// the input is larger than the limit of 256 MiB (268435456 bytes); if the file is genuine, raise the limit with --max-input-bytes
    /// ```
    ///
    /// [`XmlLimits::max_bytes`]: super::XmlLimits::max_bytes
    /// [`read`]: super::read
    /// [`scan_file`]: super::scan_file
    /// [`scan`]: super::scan
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
    ///
    /// [`XmlLimits::max_depth`]: super::XmlLimits::max_depth
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
    ///
    /// [`XmlLimits::max_attributes`]: super::XmlLimits::max_attributes
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
    ///
    /// [`XmlLimits::max_name_bytes`]: super::XmlLimits::max_name_bytes
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
    ///
    /// [`XmlLimits::max_attribute_bytes`]: super::XmlLimits::max_attribute_bytes
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
    ///
    /// [`read`]: super::read
    /// [`scan_file`]: super::scan_file
    /// [`again_if_changed`]: super::again_if_changed
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

pub(super) fn read_error(source: io::Error) -> XmlError {
    XmlError::Read { source }
}

pub(super) fn empty_file() -> XmlError {
    XmlError::NotWellFormed {
        line: 1,
        column: 1,
        message: "the file is empty".to_owned(),
    }
}

/// The error for a scan that stopped without a reason; it would be our bug.
pub(super) fn lost_track() -> XmlError {
    XmlError::NotWellFormed {
        line: 1,
        column: 1,
        message: "xml2prom lost track of its input; this is a bug, please report it".to_owned(),
    }
}

/// Turns a quick-xml error into a message; names in it are cut to 40 characters.
pub(super) fn describe_quick_error(error: &QuickError) -> String {
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
pub(super) fn attribute_error(raw: &str, error: &AttrError) -> (usize, String) {
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

pub(super) fn invalid_name(kind: NameKind, name: &str) -> String {
    format!(
        "`{}` is not a valid {kind} name; a name starts with a letter or `_` and holds letters, \
         digits, `-`, `.` and `_`, with at most one `:` between two such parts",
        excerpt(name)
    )
}

pub(super) fn dangling_ampersand() -> String {
    "`&` must start a reference such as &amp; and end with `;`; write a literal & as &amp;"
        .to_owned()
}

/// At most the first 40 characters of a name from the input, then `…`; control characters
/// become `?` so a name cannot move the cursor in a terminal.
pub(super) fn excerpt(name: &str) -> String {
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
}
