//! Init's survey: what a sample store holds, gathered in one pass and in bounded memory.
//!
//! A [`Survey`] reads the sample once through the checked scan of [`xml::scan_file`], so a
//! hostile or broken sample is refused exactly as `run` refuses it. Per element path (root to
//! element, by namespace URI and local name) it keeps how many elements there are and how many
//! at most share one parent; per attribute, and per text of elements without child elements,
//! how many values there are, how many are numbers as [`parse_number`] reads them, their range,
//! and their distinct values with counts, up to [`MAX_LABEL_VALUES`]. Everything is capped
//! (paths, attributes, namespaces, value lengths), so memory does not grow with the sample.

use crate::model::number::parse_number;
use crate::xml::{self, StartTag};

/// The most distinct values an attribute or text may have to become a label.
pub(super) const MAX_LABEL_VALUES: usize = 20;

/// The most element paths surveyed; later new paths are left out (and the draft says so).
pub(super) const MAX_PATHS: usize = 1024;

/// The most distinct attributes surveyed per element path.
pub(super) const MAX_ATTRIBUTES_PER_PATH: usize = 32;

/// The most namespace URIs bound; elements in further namespaces are left out.
pub(super) const MAX_NAMESPACES: usize = 32;

/// The longest value kept as a candidate label value, and the longest text read as a possible
/// number. A longer value makes its attribute or text unfit for a label.
pub(super) const MAX_VALUE_BYTES: usize = 100;

/// An expanded name: namespace (an index into [`Survey::namespaces`]) and local name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Name {
    pub(super) ns: Option<usize>,
    pub(super) local: String,
}

/// What the values of one attribute, or the texts of one element path, look like.
#[derive(Debug, Default)]
pub(super) struct Values {
    /// How many values were seen.
    pub(super) present: u64,
    /// How many of them are numbers as xml2prom reads them.
    pub(super) numbers: u64,
    /// How many are numbers only once white space around them is removed.
    pub(super) padded_numbers: u64,
    /// The smallest and largest number (NaN left out).
    pub(super) range: Option<(f64, f64)>,
    /// The distinct values with their counts, in the order first seen; emptied once `many`.
    pub(super) distinct: Vec<(String, u64)>,
    /// More than [`MAX_LABEL_VALUES`] distinct values, or one longer than [`MAX_VALUE_BYTES`].
    pub(super) many: bool,
    /// A value longer than [`MAX_VALUE_BYTES`] was seen.
    pub(super) long: bool,
    /// Texts that mean "no value" ([`ABSENT_TEXTS`]), as written, with their counts.
    pub(super) absent: Vec<(String, u64)>,
    /// How many values are a number followed by a unit (`1234 MiB`, `45 C`, `12 %`).
    pub(super) with_unit: u64,
    /// The unit of those, as written; `None` when there is none or when they differ.
    pub(super) unit: Option<String>,
    /// Numbers with different units were seen.
    pub(super) mixed_units: bool,
    /// How many values look like ISO 8601 dates or times (`2024-01-31T10:00:00`).
    pub(super) dates: u64,
    /// The values of the current sample, to tell whether each names one thing only; capped
    /// at [`MAX_KEY_VALUES`] and emptied between samples.
    seen: std::collections::HashSet<String>,
    /// A value repeated within one sample, or too many to tell.
    pub(super) repeats: bool,
}

/// Texts that tools write in place of a number they do not have; a value or field with one
/// of them is absent (the rule file's `absent:` list), not a failure.
pub(super) const ABSENT_TEXTS: [&str; 9] = [
    "N/A",
    "n/a",
    "NA",
    "-",
    "none",
    "None",
    "Not Supported",
    "Unknown",
    "unknown",
];

/// The most values kept per attribute or text to tell whether they are unique in a sample.
pub(super) const MAX_KEY_VALUES: usize = 4096;

/// The most bytes of values kept over the whole survey to tell whether they are unique; the
/// survey's memory stays bounded whatever the sample holds. Given back between samples.
pub(super) const KEY_VALUE_BYTES: usize = 16 << 20;

/// A number followed by a unit: `1234 MiB`, `45 C`, `70.05 W`, `12 %`, `1.5ms`; the number and
/// the unit as written.
pub(super) fn number_with_unit(value: &str) -> Option<(f64, &str)> {
    let value = value.trim();
    let end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .filter(|&end| end > 0)?;
    let number = parse_number(&value[..end])?;
    let spaced = value[end..].starts_with(' ');
    let unit = value[end..].trim_start();
    // Attached to the number only as units are written (`12%`, `1.5ms`), not as in a hex id.
    let attached = [
        "%", "ms", "s", "us", "ns", "MHz", "GHz", "KiB", "MiB", "GiB", "W", "C",
    ];
    let valid = (spaced || attached.contains(&unit))
        && !unit.is_empty()
        && unit.len() <= 12
        && unit
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '%' || c == '/');
    (valid && number.is_finite()).then_some((number, unit))
}

/// Whether a text looks like an ISO 8601 date, with or without a time: `2024-01-31`,
/// `2024-01-31T10:00:00Z`, `2024-01-31 10:00:00`.
fn looks_like_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'-'
        && bytes[8..10].iter().all(u8::is_ascii_digit)
}

impl Values {
    /// Records one value; `used` is how much of [`KEY_VALUE_BYTES`] the survey keeps to tell
    /// whether values are unique.
    fn observe(&mut self, value: &str, used: &mut usize) {
        self.present += 1;
        if !self.repeats {
            if self.seen.len() >= MAX_KEY_VALUES || *used + value.len() > KEY_VALUE_BYTES {
                // Past the bounds it cannot tell: not a name for one thing only.
                self.repeats = true;
                self.seen = std::collections::HashSet::new();
            } else if self.seen.insert(value.to_owned()) {
                *used += value.len();
            } else {
                self.repeats = true;
            }
        }
        if ABSENT_TEXTS.contains(&value.trim()) {
            let text = value.trim();
            match self.absent.iter_mut().find(|(v, _)| v == text) {
                Some((_, count)) => *count += 1,
                None => self.absent.push((text.to_owned(), 1)),
            }
        } else if parse_number(value).is_none() {
            if let Some((_, unit)) = number_with_unit(value) {
                self.with_unit += 1;
                match &self.unit {
                    None if !self.mixed_units => self.unit = Some(unit.to_owned()),
                    Some(seen) if seen != unit => {
                        self.unit = None;
                        self.mixed_units = true;
                    }
                    _ => {}
                }
            } else if looks_like_date(value.trim()) {
                self.dates += 1;
            }
        }
        if let Some(number) = parse_number(value) {
            self.numbers += 1;
            if !number.is_nan() {
                self.range = Some(match self.range {
                    None => (number, number),
                    Some((low, high)) => (low.min(number), high.max(number)),
                });
            }
        } else if value.trim() != value && parse_number(value.trim()).is_some() {
            self.padded_numbers += 1;
        }
        if value.len() > MAX_VALUE_BYTES {
            self.long = true;
            self.too_many();
            return;
        }
        if self.many {
            return;
        }
        if let Some((_, count)) = self.distinct.iter_mut().find(|(v, _)| v == value) {
            *count += 1;
        } else if self.distinct.len() < MAX_LABEL_VALUES {
            self.distinct.push((value.to_owned(), 1));
        } else {
            self.too_many();
        }
    }

    /// A value too long to keep: not a label, and not read as a number.
    fn observe_long(&mut self) {
        self.present += 1;
        self.repeats = true;
        self.long = true;
        self.too_many();
    }

    fn too_many(&mut self) {
        self.many = true;
        self.distinct = Vec::new();
    }

    /// Whether every value is a number.
    pub(super) fn all_numbers(&self) -> bool {
        self.present > 0 && self.numbers == self.present
    }

    /// Whether every value that is not absent is a number, or a number with one unit, and at
    /// least one is.
    pub(super) fn all_readable(&self) -> bool {
        let absent: u64 = self.absent.iter().map(|(_, n)| n).sum();
        let read = self.numbers + self.with_unit;
        read > 0 && read + absent == self.present && !self.mixed_units
    }

    /// How many values are texts that mean "no value".
    pub(super) fn absent_count(&self) -> u64 {
        self.absent.iter().map(|(_, n)| n).sum()
    }

    /// Whether every value is the empty string (an element without text): nothing to read.
    pub(super) fn all_empty(&self) -> bool {
        !self.many && self.distinct.iter().all(|(value, _)| value.is_empty())
    }
}

/// One attribute of an element path.
#[derive(Debug)]
pub(super) struct Attribute {
    pub(super) name: Name,
    /// The name as first written, for comments.
    pub(super) written: String,
    pub(super) values: Values,
}

/// One element path, e.g. `/store/row`.
#[derive(Debug)]
pub(super) struct ElementPath {
    pub(super) parent: Option<usize>,
    pub(super) name: Name,
    /// The name as first written, for comments.
    pub(super) written: String,
    pub(super) children: Vec<usize>,
    /// How many elements have this path.
    pub(super) count: u64,
    /// The most elements of this path under one parent element.
    pub(super) max_per_parent: u64,
    /// How many of them have no child element.
    pub(super) leaves: u64,
    /// The texts of those without a child element.
    pub(super) text: Values,
    pub(super) attributes: Vec<Attribute>,
    /// Whether attributes past [`MAX_ATTRIBUTES_PER_PATH`] were left out.
    pub(super) attributes_left_out: bool,
}

/// One open element.
#[derive(Debug, Default)]
struct Frame {
    /// Its path; `None` when it is left out (too many paths, or an unknown namespace).
    path: Option<usize>,
    /// Child elements so far, per path.
    children: Vec<(usize, u64)>,
    has_child: bool,
    text: String,
    text_too_long: bool,
    /// How many namespace declarations it added to `scopes`.
    declared: usize,
}

/// A namespace seen in element or attribute names.
#[derive(Debug)]
pub(super) struct Namespace {
    pub(super) uri: String,
    /// The first non-empty prefix the sample wrote for it.
    pub(super) written_prefix: Option<String>,
}

/// Statistics of a sample store, gathered as an [`xml::Sink`] in bounded memory.
#[derive(Debug, Default)]
pub(super) struct Survey {
    pub(super) namespaces: Vec<Namespace>,
    pub(super) paths: Vec<ElementPath>,
    pub(super) root: Option<usize>,
    /// Open elements: the first `depth` entries (the rest are kept for reuse).
    frames: Vec<Frame>,
    depth: usize,
    /// In-scope namespace declarations, innermost last: (prefix, URI); "" is the default.
    scopes: Vec<(String, String)>,
    /// How many elements the sample has.
    pub(super) elements: u64,
    pub(super) paths_left_out: bool,
    pub(super) namespaces_left_out: bool,
    /// How many samples were surveyed before the current one.
    pub(super) samples: usize,
    /// The root element of a later sample, when its name differs from the first one's.
    pub(super) other_root: Option<String>,
    /// How much of [`KEY_VALUE_BYTES`] this sample's values take.
    key_bytes: usize,
}

/// The namespace of the `xml:` prefix, bound in every document.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

impl Survey {
    /// The URI a prefix stands for: `Ok(None)` for no namespace, `Err(())` when undeclared.
    fn resolve(&self, prefix: &str) -> Result<Option<&str>, ()> {
        if prefix == "xml" {
            return Ok(Some(XML_NAMESPACE));
        }
        match self.scopes.iter().rev().find(|(p, _)| p == prefix) {
            Some((_, uri)) if uri.is_empty() => Ok(None),
            Some((_, uri)) => Ok(Some(uri)),
            None if prefix.is_empty() => Ok(None),
            None => Err(()),
        }
    }

    /// The namespace index of a written name's prefix; `Err` when it cannot be used.
    fn namespace_of(&mut self, prefix: &str) -> Result<Option<usize>, ()> {
        let Some(uri) = self.resolve(prefix)? else {
            return Ok(None);
        };
        if uri == XML_NAMESPACE {
            return Err(());
        }
        if let Some(index) = self.namespaces.iter().position(|n| n.uri == uri) {
            let namespace = &mut self.namespaces[index];
            if namespace.written_prefix.is_none() && !prefix.is_empty() {
                namespace.written_prefix = Some(prefix.to_owned());
            }
            return Ok(Some(index));
        }
        if self.namespaces.len() >= MAX_NAMESPACES {
            self.namespaces_left_out = true;
            return Err(());
        }
        let uri = uri.to_owned();
        self.namespaces.push(Namespace {
            uri,
            written_prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
        });
        Ok(Some(self.namespaces.len() - 1))
    }

    /// The path of a child element (or of the root, for `parent == None`), created if new.
    fn path_of(
        &mut self,
        parent: Option<usize>,
        ns: Option<usize>,
        local: &str,
        written: &str,
    ) -> Option<usize> {
        let existing = match parent {
            None => self.root,
            Some(parent) => self.paths[parent]
                .children
                .iter()
                .copied()
                .find(|&c| self.paths[c].name.ns == ns && self.paths[c].name.local == local),
        };
        if existing.is_some() {
            return existing;
        }
        if self.paths.len() >= MAX_PATHS {
            self.paths_left_out = true;
            return None;
        }
        let id = self.paths.len();
        self.paths.push(ElementPath {
            parent,
            name: Name {
                ns,
                local: local.to_owned(),
            },
            written: written.to_owned(),
            children: Vec::new(),
            count: 0,
            // The root is alone under the document.
            max_per_parent: u64::from(parent.is_none()),
            leaves: 0,
            text: Values::default(),
            attributes: Vec::new(),
            attributes_left_out: false,
        });
        match parent {
            None => self.root = Some(id),
            Some(parent) => self.paths[parent].children.push(id),
        }
        Some(id)
    }

    /// Records the attributes of an element of path `id`.
    fn observe_attributes(&mut self, id: usize, tag: &StartTag<'_>) {
        for (key, raw) in tag.attributes() {
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let (prefix, local) = key.split_once(':').unwrap_or(("", key));
            // Unprefixed attributes are in no namespace, whatever the default namespace is.
            let ns = if prefix.is_empty() {
                None
            } else {
                match self.namespace_of(prefix) {
                    Ok(ns) => ns,
                    Err(()) => continue,
                }
            };
            let value = unescape(raw);
            let path = &mut self.paths[id];
            let index = match path
                .attributes
                .iter()
                .position(|a| a.name.ns == ns && a.name.local == local)
            {
                Some(index) => index,
                None if path.attributes.len() >= MAX_ATTRIBUTES_PER_PATH => {
                    path.attributes_left_out = true;
                    continue;
                }
                None => {
                    path.attributes.push(Attribute {
                        name: Name {
                            ns,
                            local: local.to_owned(),
                        },
                        written: key.to_owned(),
                        values: Values::default(),
                    });
                    path.attributes.len() - 1
                }
            };
            path.attributes[index]
                .values
                .observe(&value, &mut self.key_bytes);
        }
    }

    /// Whether every element of the path, and of each ancestor, occurs once in each sample.
    pub(super) fn single(&self, id: usize) -> bool {
        let path = &self.paths[id];
        path.max_per_parent == 1 && path.parent.is_none_or(|parent| self.single(parent))
    }

    /// Starts the next sample: uniqueness is judged within each sample, and its root must
    /// have the name of the first one.
    pub(super) fn next_sample(&mut self) {
        self.samples += 1;
        self.key_bytes = 0;
        for path in &mut self.paths {
            path.text.seen.clear();
            for attribute in &mut path.attributes {
                attribute.values.seen.clear();
            }
        }
    }
}

/// An attribute value with its references expanded, as the engines read it.
fn unescape(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.contains('&') {
        // The scan has checked every reference, so expanding them cannot fail.
        quick_xml::escape::unescape(raw).unwrap_or(std::borrow::Cow::Borrowed(raw))
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
}

impl xml::Sink for Survey {
    fn start(&mut self, tag: &StartTag<'_>, _empty: bool) {
        self.elements += 1;
        let mut declared = 0;
        for (key, raw) in tag.attributes() {
            let prefix = match key.strip_prefix("xmlns") {
                Some("") => "",
                Some(rest) => match rest.strip_prefix(':') {
                    Some(prefix) => prefix,
                    None => continue,
                },
                None => continue,
            };
            self.scopes
                .push((prefix.to_owned(), unescape(raw).into_owned()));
            declared += 1;
        }
        // The parent's path: `Some(None)` for the root, `None` when the parent is left out.
        let parent = match self.depth.checked_sub(1) {
            None => Some(None),
            Some(index) => {
                let frame = &mut self.frames[index];
                frame.has_child = true;
                frame.text.clear();
                frame.path.map(Some)
            }
        };
        let written = tag.name();
        let (prefix, local) = written.split_once(':').unwrap_or(("", written));
        let ns = self.namespace_of(prefix);
        if self.depth == 0
            && let Some(root) = self.root
        {
            let name = &self.paths[root].name;
            if ns.as_ref().ok() != Some(&name.ns) || name.local != local {
                self.other_root.get_or_insert_with(|| written.to_owned());
            }
        }
        let path = match (parent, ns) {
            (Some(parent), Ok(ns)) if self.other_root.is_none() => {
                self.path_of(parent, ns, local, written)
            }
            _ => None,
        };
        if let Some(id) = path {
            self.paths[id].count += 1;
            if let Some(index) = self.depth.checked_sub(1) {
                let children = &mut self.frames[index].children;
                match children.iter_mut().find(|(child, _)| *child == id) {
                    Some((_, count)) => *count += 1,
                    None => children.push((id, 1)),
                }
            }
            if tag.has_attributes() {
                self.observe_attributes(id, tag);
            }
        }
        if self.frames.len() <= self.depth {
            self.frames.push(Frame::default());
        }
        let frame = &mut self.frames[self.depth];
        frame.path = path;
        frame.children.clear();
        frame.has_child = false;
        frame.text.clear();
        frame.text_too_long = false;
        frame.declared = declared;
        self.depth += 1;
    }

    fn end(&mut self) {
        let Some(index) = self.depth.checked_sub(1) else {
            return;
        };
        self.depth = index;
        let frame = &self.frames[index];
        if let Some(id) = frame.path {
            for &(child, count) in &frame.children {
                let child = &mut self.paths[child];
                child.max_per_parent = child.max_per_parent.max(count);
            }
            if !frame.has_child {
                let path = &mut self.paths[id];
                path.leaves += 1;
                if frame.text_too_long {
                    path.text.observe_long();
                } else {
                    path.text.observe(&frame.text, &mut self.key_bytes);
                }
            }
        }
        let keep = self.scopes.len().saturating_sub(frame.declared);
        self.scopes.truncate(keep);
    }

    fn text(&mut self, text: &str) {
        let Some(frame) = self
            .depth
            .checked_sub(1)
            .and_then(|index| self.frames.get_mut(index))
        else {
            return;
        };
        if frame.path.is_none() || frame.has_child || frame.text_too_long {
            return;
        }
        if frame.text.len() + text.len() > MAX_VALUE_BYTES {
            frame.text_too_long = true;
            frame.text.clear();
        } else {
            frame.text.push_str(text);
        }
    }

    fn boundary(&mut self) {}
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::commands::init::tests::{draft_of, load_and_run, survey};

    #[test]
    fn the_survey_is_bounded() {
        let mut xml = String::from("<s>");
        for p in 0..MAX_PATHS + 10 {
            let _ = write!(xml, "<e{p} v=\"{p}\"/>");
        }
        for a in 0..MAX_ATTRIBUTES_PER_PATH + 5 {
            let _ = write!(xml, "<w a{a}=\"1\"/>");
        }
        xml.push_str("</s>");
        let surveyed = survey(&xml);
        assert_eq!(surveyed.paths.len(), MAX_PATHS);
        assert!(surveyed.paths_left_out);
        let yaml = draft_of(&xml);
        assert!(
            yaml.contains("# The sample has more than 1024 element paths; those past the first 1024 were not surveyed.\n"),
            "{yaml}"
        );
        load_and_run(&xml, &yaml);

        // A long text is neither kept nor read as a number.
        let digits = "1".repeat(MAX_VALUE_BYTES + 1);
        let xml = format!("<s><n>{digits}</n><n>{digits}</n><n>2</n></s>");
        let surveyed = survey(&xml);
        let n = &surveyed.paths[1].text;
        assert_eq!((n.present, n.numbers, n.many, n.long), (3, 1, true, true));
        assert!(n.distinct.is_empty());
    }

    #[test]
    fn more_attributes_than_the_cap_are_noted() {
        let mut xml = String::from("<s>");
        for _ in 0..2 {
            xml.push_str("<r");
            for a in 0..MAX_ATTRIBUTES_PER_PATH + 3 {
                let _ = write!(xml, " a{a}=\"{a}\"");
            }
            xml.push_str("/>");
        }
        xml.push_str("</s>");
        let yaml = draft_of(&xml);
        assert!(yaml.contains("#   more attributes, not surveyed"), "{yaml}");
        assert!(yaml.contains("@a31"), "{yaml}");
        assert!(!yaml.contains("@a32"), "{yaml}");
    }
}
