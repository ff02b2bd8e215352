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
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Tape>(TAPES_IN_FLIGHT);
    // Replayed tapes go back to be written again: fresh memory for every piece would cost a
    // page fault per 4 KiB of input.
    let (returner, returned) = std::sync::mpsc::channel::<Tape>();
    std::thread::scope(|scope| {
        let scanner = std::thread::Builder::new()
            .name("xml2prom-scan".to_owned())
            .spawn_scoped(scope, move || {
                let mut recorder = Recorder {
                    tape: Tape::new(),
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
        // Until the scan ends and drops the sender; after a problem, the rest is only drained.
        for mut tape in receiver {
            if replayed.is_ok() {
                replayed = replay(&tape, sink).ok_or_else(lost_track);
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

/// A piece of what the scan found, as [`Recorder`] writes it: the text of every call one after
/// the other, a record per call in `words` (its kind, the lengths of its pieces of text, how
/// many attributes a start tag has), and the start tags' attributes. The text stays a `str` all the way, so that replaying it checks only where
/// each piece starts and ends, not each byte.
#[derive(Debug, Default)]
struct Tape {
    text: String,
    words: Vec<usize>,
    /// The start tags' attributes one after the other, each tag's taken as a slice by replay.
    attributes: Vec<(Range<usize>, Range<usize>)>,
}

impl Tape {
    fn new() -> Tape {
        Tape {
            text: String::with_capacity(TAPE_CAPACITY),
            words: Vec::with_capacity(TAPE_CAPACITY / 32),
            attributes: Vec::with_capacity(TAPE_CAPACITY / 64),
        }
    }

    /// About how much memory the tape's content takes.
    fn bytes(&self) -> usize {
        self.text.len()
            + self.words.len() * std::mem::size_of::<usize>()
            + self.attributes.len() * std::mem::size_of::<(Range<usize>, Range<usize>)>()
    }

    fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    fn clear(&mut self) {
        self.text.clear();
        self.words.clear();
        self.attributes.clear();
    }
}

/// The scan's end of [`in_parallel`]: writes each call onto a tape, and sends the tape on when
/// it is long enough.
struct Recorder {
    tape: Tape,
    sender: std::sync::mpsc::SyncSender<Tape>,
    /// Tapes replayed and handed back, to be written again.
    returned: std::sync::mpsc::Receiver<Tape>,
}

const TAPE_START: usize = 1;
const TAPE_EMPTY_START: usize = 2;
/// A start tag whose name is not where its raw text starts (the scan makes none; the tape
/// would still tell it right).
const TAPE_START_NAMED: usize = 3;
const TAPE_EMPTY_START_NAMED: usize = 4;
const TAPE_END: usize = 5;
const TAPE_TEXT: usize = 6;
const TAPE_BOUNDARY: usize = 7;
const TAPE_COMMENT: usize = 8;
const TAPE_INSTRUCTION: usize = 9;
const TAPE_INSTRUCTION_VALUE: usize = 10;

impl Recorder {
    fn write_str(&mut self, text: &str) {
        self.tape.words.push(text.len());
        self.tape.text.push_str(text);
    }

    fn record_done(&mut self) {
        if self.tape.bytes() >= TAPE_BYTES {
            self.send();
        }
    }

    fn send(&mut self) {
        if self.tape.is_empty() {
            return;
        }
        let next = self.returned.try_recv().unwrap_or_else(|_| Tape::new());
        let tape = std::mem::replace(&mut self.tape, next);
        // The other end stops listening only when it is gone; nothing is left to tell then.
        let _ = self.sender.send(tape);
    }
}

impl Sink for Recorder {
    fn start(&mut self, tag: &StartTag<'_>, empty: bool) {
        // The scan's names start its tags' raw text: then the name is only a length.
        let prefix = tag.raw.as_ptr() == tag.name.as_ptr() && tag.name.len() <= tag.raw.len();
        let kind = match (prefix, empty) {
            (true, false) => TAPE_START,
            (true, true) => TAPE_EMPTY_START,
            (false, false) => TAPE_START_NAMED,
            (false, true) => TAPE_EMPTY_START_NAMED,
        };
        self.tape.words.push(kind);
        self.write_str(tag.raw);
        if prefix {
            self.tape.words.push(tag.name.len());
        } else {
            self.write_str(tag.name);
        }
        self.tape.words.push(tag.attributes.len());
        self.tape.attributes.extend_from_slice(tag.attributes);
        self.record_done();
    }

    fn end(&mut self) {
        self.tape.words.push(TAPE_END);
        self.record_done();
    }

    fn text(&mut self, text: &str) {
        self.tape.words.push(TAPE_TEXT);
        self.write_str(text);
        self.record_done();
    }

    fn boundary(&mut self) {
        self.tape.words.push(TAPE_BOUNDARY);
        self.record_done();
    }

    fn comment(&mut self, text: &str) {
        self.tape.words.push(TAPE_COMMENT);
        self.write_str(text);
        self.record_done();
    }

    fn processing_instruction(&mut self, target: &str, value: Option<&str>) {
        match value {
            Some(value) => {
                self.tape.words.push(TAPE_INSTRUCTION_VALUE);
                self.write_str(target);
                self.write_str(value);
            }
            None => {
                self.tape.words.push(TAPE_INSTRUCTION);
                self.write_str(target);
            }
        }
        self.record_done();
    }
}

/// Makes the calls a tape records; `None` if the tape is not one [`Recorder`] wrote (our bug).
fn replay(tape: &Tape, sink: &mut dyn Sink) -> Option<()> {
    let mut words = tape.words.iter().copied();
    let mut attributes = tape.attributes.as_slice();
    let mut at: usize = 0;
    let mut text = |words: &mut dyn Iterator<Item = usize>| {
        let start = at;
        at = start.checked_add(words.next()?)?;
        tape.text.get(start..at)
    };
    while let Some(kind) = words.next() {
        match kind {
            TAPE_START | TAPE_EMPTY_START | TAPE_START_NAMED | TAPE_EMPTY_START_NAMED => {
                let raw = text(&mut words)?;
                let name = match kind {
                    TAPE_START | TAPE_EMPTY_START => raw.get(..words.next()?)?,
                    _ => text(&mut words)?,
                };
                let (these, rest) = attributes.split_at_checked(words.next()?)?;
                attributes = rest;
                let tag = StartTag {
                    raw,
                    name,
                    attributes: these,
                };
                sink.start(
                    &tag,
                    matches!(kind, TAPE_EMPTY_START | TAPE_EMPTY_START_NAMED),
                );
            }
            TAPE_END => sink.end(),
            TAPE_TEXT => sink.text(text(&mut words)?),
            TAPE_BOUNDARY => sink.boundary(),
            TAPE_COMMENT => sink.comment(text(&mut words)?),
            TAPE_INSTRUCTION => sink.processing_instruction(text(&mut words)?, None),
            TAPE_INSTRUCTION_VALUE => {
                let target = text(&mut words)?;
                sink.processing_instruction(target, Some(text(&mut words)?));
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
        let tape = |text: &str, words: &[usize]| Tape {
            text: text.to_owned(),
            words: words.to_vec(),
            attributes: Vec::new(),
        };
        for tape in [
            tape("", &[99]),
            tape("", &[TAPE_START]),
            // Longer than the text, past its end, or not at a character's end.
            tape("ab", &[TAPE_TEXT, 5]),
            tape("ab", &[TAPE_TEXT, usize::MAX]),
            tape("é", &[TAPE_TEXT, 1]),
            // A name longer than the tag, attributes missing.
            tape("a", &[TAPE_START, 1, 2, 0]),
            tape("a b='1'", &[TAPE_START, 7, 1, 1]),
        ] {
            assert_eq!(replay(&tape, &mut calls), None, "{tape:?}");
        }
        let mut good = tape("a b='1'", &[TAPE_BOUNDARY, TAPE_START, 7, 1, 1, TAPE_END]);
        good.attributes.push((2..3, 5..6));
        calls.0.clear();
        assert_eq!(replay(&good, &mut calls), Some(()));
        assert_eq!(
            calls.0,
            [
                "boundary",
                r#"start "a b='1'" "a" true [("b", "1")] false"#,
                "end"
            ]
        );
    }
}
