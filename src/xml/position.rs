//! Line and column of a byte offset, for the one error a scan reports: counted in the bytes in
//! memory ([`InMemory`]) or by reading the file, or the copy of a stream, again from its start
//! ([`OnDisk`]). Lines end at LF, CR LF or a lone CR; columns count characters from one.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use super::READ_CHUNK_BYTES;
use super::input::UTF8_BOM;

/// Finds lines and columns of byte offsets in the text (the input after a UTF-8 byte order
/// mark). The scan asks only for the error it reports, so finding a position may read the text
/// again from its start.
pub(super) trait Locate {
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
pub(super) struct InMemory<'a> {
    text: &'a [u8],
}

impl<'a> InMemory<'a> {
    /// Over the bytes of a whole document, skipping a UTF-8 byte order mark as the scan does.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
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
pub(super) struct OnDisk {
    pub(super) file: File,
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
pub(super) struct LineCounter {
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

pub(super) fn to_usize(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

/// The 1-based line and column (in characters) of byte `offset` in `text`; an offset inside a
/// character counts as that character, one past the end as the position after the last one.
#[cfg(test)]
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    InMemory {
        text: text.as_bytes(),
    }
    .line_column(offset as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    use pretty_assertions::assert_eq;

    use crate::xml::test_support::{file_with, not_well_formed_at, refuse};
    use crate::xml::{NoSink, XmlLimits, scan_file};

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
