//! Stage 3 of a run: bytes -> a stream of checked content for the engines, with hostile input
//! refused before any of it is used.
//!
//! [`read`] takes the path given to `--input` and returns its bytes, refusing a file larger than
//! [`XmlLimits::max_bytes`] without reading all of it. [`scan`] checks those bytes (or bytes read
//! from stdin), [`scan_file`] a file as it reads it, and both hand the content to a [`Sink`] as
//! they go, or return an [`XmlError`] that says where the input is wrong and what to do. The
//! tests keep sxd-document's own parser behind the same checks (`reference::parse`), as the
//! reference the DOM engine's tree is compared with.
//!
//! Every way in runs one scan. It reads text, tags and references itself, in one pass over each
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
//! Nothing in this module expands a DTD entity, reads a DTD or XInclude, or opens a URL.
//!
//! The files, from the bytes in to the sink: `file.rs` opens an input, `input.rs` reads and
//! checks its bytes, `scanner.rs` reads the document (with `tag.rs` for plain tags and
//! `names.rs` for what sxd-document would refuse), `position.rs` finds the line and column of
//! an error, `error.rs` words it, and `parallel.rs` runs the scan on a second thread.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use quick_xml::reader::Reader;

mod error;
mod file;
mod input;
mod names;
mod parallel;
mod position;
#[cfg(test)]
pub(crate) mod reference;
mod scanner;
mod tag;
#[cfg(test)]
mod test_support;

pub use error::{EncodingEvidence, NameKind, XmlError};
use error::{empty_file, lost_track, read_error};
use file::{Patient, Stamp};
use input::Input;
use names::expand_references;
use parallel::in_parallel;
use position::{InMemory, Locate, OnDisk};
use scanner::{Scanner, Stop};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// How many bytes the scan asks its source for at a time. A [`Sink`] gets a long run of text in
/// pieces of at most this size.
const READ_CHUNK_BYTES: usize = 64 * 1024;

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

    /// Where each attribute's name and value are in [`StartTag::raw`], as byte ranges: the
    /// pieces [`StartTag::attributes`] gives, for a sink that keeps the tag's text.
    pub fn attribute_ranges(&self) -> &'a [(Range<usize>, Range<usize>)] {
        self.attributes
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

/// Checks a document in memory as `reference::parse` does, without building a DOM, and feeds its
/// content to `sink`. Refuses exactly what `reference::parse` refuses, with the same error.
pub fn scan(bytes: &[u8], limits: &XmlLimits, sink: &mut dyn Sink) -> Result<(), XmlError> {
    scan_bytes(bytes, limits, sink).map(drop)
}

/// Reads a file once and checks it as [`read`] and then `reference::parse` would, without
/// building a DOM or holding the file in memory, and feeds its content to `sink`. Refuses exactly
/// what `read` and `reference::parse` refuse, with the same error.
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

/// Whether a length is past a limit, without a lossy cast.
fn exceeds(len: usize, limit: u64) -> bool {
    !u64::try_from(len).is_ok_and(|len| len <= limit)
}

/// [`scan`] for `reference::parse`: the size check, then the scan, keeping what `parse` needs.
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

/// What a scan that accepted the document learned that `reference::parse` needs.
struct Scanned {
    /// The byte range of the DOCTYPE in the text, if there is one.
    #[cfg(test)]
    doctype: Option<Range<u64>>,
    /// Whether some `xmlns="..."` is one that sxd-document resolves wrongly; see
    /// `reference::fix_default_namespaces`.
    #[cfg(test)]
    default_namespace_quirk: bool,
    /// How many bytes the scan's growable buffers had reserved at the end; they must not grow
    /// with the number of elements.
    #[cfg(test)]
    held_bytes: usize,
}

/// The one scanning loop behind `reference::parse`, [`scan`] and [`scan_file`]: runs every check
/// of this module over the document `source` gives, feeding `sink`. `locate` finds the line and
/// column of an error, and is only asked for the error returned.
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

#[cfg(test)]
mod tests {
    use super::*;

    use std::fs::File;
    use std::io::{self, Read, Write};

    use std::path::Path;

    use pretty_assertions::assert_eq;

    use crate::xml::reference::parse;
    use crate::xml::test_support::{
        Recorder, accept, assert_message, assert_paths_agree, file_with, not_well_formed_at,
        refuse_with, scan_in_pieces, show,
    };

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
}
