//! Helpers the tests of several files in this folder share: refusing and accepting documents
//! with their checks on the message, scanning the same bytes every way (in memory, from a file,
//! in small pieces, on a second thread) and comparing the verdicts, and a sink that records
//! what it is told.

use std::io::{self, Read, Write};

use pretty_assertions::assert_eq;
use sxd_document::Package;

use super::error::XmlError;
use super::position::InMemory;
use super::reference::parse;
use super::{NoSink, Sink, StartTag, XmlLimits, exceeds, scan, scan_file, scan_input};

/// Parses with the default limits and returns the error; fails the test if parsing succeeds.
pub(super) fn refuse(input: impl AsRef<[u8]>) -> XmlError {
    refuse_with(input, &XmlLimits::default())
}

pub(super) fn refuse_with(input: impl AsRef<[u8]>, limits: &XmlLimits) -> XmlError {
    match parse(input.as_ref(), limits) {
        Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(input.as_ref())),
        Err(error) => error,
    }
}

pub(super) fn accept(input: impl AsRef<[u8]>) -> Package {
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
pub(super) fn assert_message(error: &XmlError, words: &[&str]) {
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
pub(super) fn not_well_formed_at(error: &XmlError) -> (usize, usize, &str) {
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
pub(super) fn root_text(package: &Package) -> String {
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

pub(super) fn file_with(content: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(content).expect("write");
    file
}

pub(super) fn show(result: Result<(), XmlError>) -> String {
    match result {
        Ok(()) => "accepted".to_owned(),
        Err(error) => error.to_string(),
    }
}

/// [`scan`], reading the document `chunk` bytes at a time.
pub(super) fn scan_in_pieces(
    bytes: &[u8],
    limits: &XmlLimits,
    chunk: usize,
) -> Result<(), XmlError> {
    if exceeds(bytes.len(), limits.max_bytes) {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let mut locate = InMemory::new(bytes);
    scan_input(bytes, &mut locate, limits, &mut NoSink, chunk).map(drop)
}

/// A source that gives one byte per read, as a slow pipe may.
pub(super) struct Trickle<'a>(&'a [u8]);

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

/// Checks `input` every way there is and asserts that each way says the same as `reference::parse`;
/// returns that.
pub(super) fn assert_paths_agree(input: &[u8], limits: &XmlLimits) -> String {
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

/// Records what a sink is told, one line per call.
#[derive(Default)]
pub(super) struct Recorder(pub(super) Vec<String>);

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
    pub(super) fn joined(&self) -> Vec<String> {
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
