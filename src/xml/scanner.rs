//! The [`Scanner`]: one pass over checked input that reads text, tags and references itself,
//! leaves the rarer markup (comments, CDATA, processing instructions, the declaration, the
//! DOCTYPE) to quick-xml, enforces the limits on depth, attributes and name lengths, refuses entity
//! declarations, and hands the content to a sink. It does not know where its bytes come from.

use std::collections::HashSet;
use std::io::{BufRead, Read};
use std::ops::Range;

use quick_xml::errors::{Error as QuickError, IllFormedError};
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesDecl, BytesPI, Event};
use quick_xml::reader::Reader;

use super::error::{
    EMPTY_NAMESPACE, MALFORMED_DECLARATION, MISSING_SPACE, NameKind, UNDECLARED_PREFIX, XmlError,
    attribute_error, dangling_ampersand, describe_quick_error, excerpt, invalid_name, lost_track,
};
use super::input::Input;
use super::names::{
    Prefixes, check_declaration_syntax, check_qname, check_reference, name_error, referenced_char,
};
use super::position::Locate;
use super::tag::{
    Markup, PlainTag, TagQuote, attribute_key, attribute_value, find_any, find_markup,
    is_xml_byte_space, is_xml_space, lex_plain_tag, name_len, normalize_attribute_values,
    normalize_line_ends, push_normalized_line_ends,
};

use super::{AttributeRanges, Scanned, Sink, StartTag, XmlLimits};

/// Why the scan loop stopped before the end of the document.
pub(super) enum Stop {
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

/// The state of one scan: what is open, what was seen, where positions and content go.
pub(super) struct Scanner<'s> {
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
    pub(super) fn new(
        limits: &'s XmlLimits,
        locate: &'s mut dyn Locate,
        sink: &'s mut dyn Sink,
    ) -> Self {
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

    pub(super) fn scanned(self) -> Scanned {
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
            #[cfg(test)]
            doctype: self.doctype,
            #[cfg(test)]
            default_namespace_quirk: self.default_namespace_quirk,
        }
    }

    pub(super) fn run<R: Read>(&mut self, reader: &mut Reader<Input<R>>) -> Result<(), Stop> {
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
            let markup = find_markup(rest);
            let Some(found) = markup.at else {
                if !rest.is_empty() {
                    let run = text.get(at..).unwrap_or_default();
                    self.text(offset + at as u64, run, markup)?;
                }
                return Ok((bytes.len(), Next::Read));
            };
            if found > 0 {
                let run = text.get(at..at + found).unwrap_or_default();
                self.text(offset + at as u64, run, markup)?;
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
                    plain_name,
                    plain_attributes,
                }) => {
                    let raw_end = at + length - if empty { 2 } else { 1 };
                    let raw = text.get(after..raw_end).unwrap_or_default();
                    let name = raw.get(..name_len).unwrap_or_default();
                    let lexed = Lexed {
                        attributes: &lexed,
                        plain_name,
                        plain_attributes,
                    };
                    Some(
                        self.start_tag(tag_start, raw, name, empty, Some(lexed))
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
    /// hands it on with its line ends normalised. `markup` says whether it holds a `\r` or a
    /// `]`.
    fn text(&mut self, offset: u64, text: &str, markup: Markup) -> Result<(), XmlError> {
        if self.open.is_empty() {
            if let Some(at) = text.find(|c: char| !is_xml_space(c)) {
                return Err(self.outside_root(offset + at as u64));
            }
            return Ok(());
        }
        // Without a `]` here or just before, no `]]>` can end in this piece.
        if markup.has_bracket || self.brackets > 0 {
            if let Some(at) = cdata_end(self.brackets, text) {
                let message = "`]]>` is not allowed in text; write it as ]]&gt;".to_owned();
                return Err(self.not_well_formed(offset.saturating_add_signed(at), message));
            }
            self.brackets = trailing_brackets(self.brackets, text);
        }
        self.hand_on_text(text, markup.has_cr);
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
        lexed: Option<Lexed<'_>>,
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
        lexed: Option<Lexed<'_>>,
    ) -> Result<bool, XmlError> {
        let limits = self.limits;
        if let Some(lexed) = lexed
            && plain_tag_fits(limits, raw, name, depth, lexed)
        {
            // Nothing in the tag is to be refused, declared or resolved: only its attributes
            // are kept.
            self.prefixes.enter();
            self.attribute_ranges.clear();
            self.attribute_ranges.extend_from_slice(lexed.attributes);
            self.value_whitespace = false;
            return Ok(false);
        }
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
        let plain_name = lexed.is_some_and(|lexed| lexed.plain_name);
        let prefix = match if plain_name {
            Ok(None)
        } else {
            check_qname(name)
        } {
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
            // An attribute the plain way marked needs no look at its name's syntax or its value.
            let plain = lexed.is_some_and(|lexed| {
                count < u32::BITS as usize && lexed.plain_attributes & (1 << count) != 0
            });
            let key = match lexed {
                Some(lexed) => lexed
                    .attributes
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
            let key_prefix = match if plain { Ok(None) } else { check_qname(key) } {
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
            if !plain {
                self.check_attribute_value(inside + value_range.start as u64, value)?;
                self.value_whitespace |=
                    find_any(value.as_bytes(), [b'\t', b'\n', b'\r']).is_some();
            }
            // quick-xml reads `a="1"b="2"`; sxd-document wants whitespace after the quote. (The
            // plain way reads only tags with whitespace there.)
            if lexed.is_none()
                && bytes
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

/// Whether a start tag that [`lex_plain_tag`] read is plain throughout and within the limits,
/// so that [`Scanner::check_tag`] would find nothing to refuse in it: the element name and every
/// attribute marked plain (no name syntax, references, whitespace in values or namespace
/// declarations to look at), no name or value over its limit, no repeated attribute name. Any
/// other tag takes the general checks, which find its first problem.
fn plain_tag_fits(
    limits: &XmlLimits,
    raw: &str,
    name: &str,
    depth: usize,
    lexed: Lexed<'_>,
) -> bool {
    let attributes = lexed.attributes;
    let all = match u32::try_from(attributes.len()) {
        Ok(n) if n < u32::BITS => (1u32 << n) - 1,
        _ => return false,
    };
    if !lexed.plain_name
        || lexed.plain_attributes != all
        || depth > limits.max_depth
        || name.len() > limits.max_name_bytes
        || attributes.len() > limits.max_attributes
    {
        return false;
    }
    let bytes = raw.as_bytes();
    for (i, (key, value)) in attributes.iter().enumerate() {
        if key.len() > limits.max_name_bytes || value.len() > limits.max_attribute_bytes {
            return false;
        }
        let name = bytes.get(key.clone());
        // Most names differ in length or first byte: no call to compare memory.
        let repeated = attributes
            .get(..i)
            .unwrap_or_default()
            .iter()
            .any(|(other, _)| {
                other.len() == key.len()
                    && bytes.get(other.start) == bytes.get(key.start)
                    && bytes.get(other.clone()) == name
            });
        if repeated {
            return false;
        }
    }
    true
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

/// A start tag's attributes as [`lex_plain_tag`] read them, and what it found needs no closer
/// look (see [`PlainTag::Start`]).
#[derive(Debug, Clone, Copy)]
struct Lexed<'a> {
    attributes: &'a [AttributeRanges],
    plain_name: bool,
    plain_attributes: u32,
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

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::Write;

    use pretty_assertions::assert_eq;

    use crate::xml::position::InMemory;
    use crate::xml::reference::parse;
    use crate::xml::test_support::{
        Recorder, accept, assert_message, assert_paths_agree, not_well_formed_at, refuse,
        refuse_with, root_text,
    };
    use crate::xml::{NoSink, scan, scan_input};
    use sxd_document::Package;

    fn root_name(package: &Package) -> String {
        let document = package.as_document();
        let root = document
            .root()
            .children()
            .into_iter()
            .find_map(|child| child.element());
        root.expect("a root element").name().local_part().to_owned()
    }

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
}
