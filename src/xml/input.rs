//! The input of a scan on its way to quick-xml: [`Input`] reads the source in chunks and checks
//! each byte once (the size limit, a byte order mark or the zero bytes of UTF-16 and UTF-32, the
//! encoding an XML declaration names, UTF-8 validity, characters XML 1.0 forbids) before the
//! scanner sees it; [`Declaration`] finds the declared encoding however the bytes arrive.

use std::io::{self, BufRead, Read};

use super::error::{EncodingEvidence, XmlError, empty_file, excerpt};
use super::position::Locate;

/// The UTF-8 byte order mark, which the scan skips; positions count from after it.
pub(super) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

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

/// The input of a scan on its way to quick-xml, checked as it is read: the size limit, the byte
/// order mark or zero bytes of UTF-16 and UTF-32, the encoding an XML declaration names, UTF-8
/// validity, and characters XML 1.0 does not allow. quick-xml reads it as a [`BufRead`] and gets
/// only checked bytes, cut between characters; after the first problem it gets nothing more,
/// which it takes for the end of the input.
///
/// Offsets count bytes of the text: the input after a UTF-8 byte order mark.
pub(super) struct Input<R> {
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
    pub(super) fn new(source: R, limit: u64, chunk: usize) -> Self {
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
    pub(super) fn position(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Whether a problem was found, so that nothing more is handed out.
    pub(super) fn halted(&self) -> bool {
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
    pub(super) fn available(&mut self) -> &[u8] {
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
    pub(super) fn refill(&mut self) -> bool {
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
    pub(super) fn drain(&mut self) {
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
    pub(super) fn verdict(&mut self, locate: &mut dyn Locate) -> Option<XmlError> {
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
pub(super) fn is_xml_char(code: u32) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    use pretty_assertions::assert_eq;

    use crate::xml::XmlLimits;
    use crate::xml::reference::parse;
    use crate::xml::test_support::{accept, assert_message, not_well_formed_at, refuse, root_text};

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
}
