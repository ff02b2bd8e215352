//! The scan on a second thread: a [`Recorder`] sink writes what the scan finds onto tapes, sent
//! over a bounded channel, and [`replay`] hands them to the real sink on the calling thread, so
//! that reading and checking the XML overlaps with evaluating it.

use std::ops::Range;

use super::error::{XmlError, lost_track};

use super::{Sink, StartTag};

/// About how many bytes of content one piece of tape carries from the scan to the sink.
const TAPE_BYTES: usize = 256 * 1024;

/// What a piece of tape reserves: room for the record that takes it past [`TAPE_BYTES`] (a
/// piece of text is at most 64 KiB), so that it seldom grows.
const TAPE_CAPACITY: usize = 2 * TAPE_BYTES;

/// How many pieces of tape may wait for the sink; then the scan waits.
const TAPES_IN_FLIGHT: usize = 8;

pub(super) fn in_parallel(
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

#[cfg(test)]
mod tests {
    use super::*;

    use pretty_assertions::assert_eq;

    use crate::xml::{XmlLimits, scan, scan_file, scan_file_in_parallel, scan_in_parallel};

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
}
