//! YAML: rule-file text to a [`Document`], read once and bounded, and serde over it.
//!
//! The text is read by yaml-rust2's event parser (driven in a loop, never recursively) into a
//! tree whose nodes remember where they start. The tree is built under limits, so hostile YAML
//! fails fast with an error that names the limit: at most [`MAX_DEPTH`] nested collections, at
//! most [`MAX_NODES`] values, and aliases that add at most [`MAX_ALIAS_VALUES`] values and
//! [`MAX_ALIAS_BYTES`] bytes of text when expanded (a "billion laughs" file is refused before
//! anything is expanded). An alias stays a reference to its anchored node in the tree.
//!
//! [`Document::deserialize`] then runs any serde `Deserialize` type over a node, reading scalars
//! the way serde_yaml 0.9 did (YAML 1.2 core schema: `~`/`null`, `true`/`false`, integers in
//! decimal, `0x`, `0o` and `0b`, floats with `.inf` and `.nan`; any scalar is a string where a
//! string is wanted), and reports errors as serde_yaml did: the path of the value
//! (`metrics[1].name: ...`) and where it starts. [`Document::locate`] finds the position of a
//! path for errors found after deserialization. Nothing else in the crate parses YAML.
//!
//! serde_yaml itself is not used to read rule files: libyaml, under it, takes about a minute on
//! 200 KB of `[[[`, before any of our code can step in.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Unexpected, Visitor};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::rules::diagnostic::{FieldPath, PathSegment, Position, position_at_index};

/// Deepest nesting of collections (sequences and mappings) accepted in a rule file.
pub const MAX_DEPTH: usize = 64;

/// Most values (scalars, sequences, mappings, aliases) accepted in a rule file.
pub const MAX_NODES: usize = 200_000;

/// Most values that aliases may add to a rule file when expanded.
pub const MAX_ALIAS_VALUES: u64 = 100_000;

/// Most bytes of scalar text that aliases may add to a rule file when expanded.
pub const MAX_ALIAS_BYTES: u64 = 4 << 20;

/// The UTF-8 byte order mark. yaml-rust2 reads it as part of the first key (libyaml skipped it),
/// so it is hidden from the parser.
const BYTE_ORDER_MARK: char = '\u{feff}';

/// YAML that cannot be read into a [`Document`]: malformed, or past one of the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// What is wrong, without the position.
    pub message: String,
    /// The byte offset where it was found.
    pub index: usize,
    /// Whether a limit (depth, values, alias expansion) was reached, rather than bad syntax.
    pub limit: bool,
}

/// A YAML document whose nodes remember where they start; see the module documentation.
#[derive(Debug)]
pub struct Document {
    nodes: Vec<Node>,
    root: Option<usize>,
}

#[derive(Debug)]
struct Node {
    /// Byte offset of where the value starts (see [`Document::locate`]).
    start: usize,
    kind: NodeKind,
    /// The node's size with its aliases expanded: values, and bytes of scalar text.
    values: u64,
    bytes: u64,
}

#[derive(Debug)]
enum NodeKind {
    /// `plain` is true for a plain scalar without a `!!str` tag, which is resolved (null, bool,
    /// number) where serde asks for any value. `empty` is true for a plain or block scalar with no
    /// text, which has no position of its own: it starts at its key or sequence.
    Scalar {
        text: String,
        plain: bool,
        empty: bool,
    },
    /// Items, by node number.
    Sequence(Vec<usize>),
    /// Keys and values, alternating, by node number.
    Mapping(Vec<usize>),
    /// The node number of the anchored value.
    Alias(usize),
}

/// Converts yaml-rust2's character offsets into byte offsets without rescanning the text.
struct ByteOffsets<'a> {
    text: &'a str,
    /// Byte offset of every [`Self::STEP`]-th character; empty for ASCII text.
    checkpoints: Vec<usize>,
}

impl<'a> ByteOffsets<'a> {
    const STEP: usize = 256;

    fn new(text: &'a str) -> Self {
        let checkpoints = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices()
                .step_by(Self::STEP)
                .map(|(index, _)| index)
                .collect()
        };
        ByteOffsets { text, checkpoints }
    }

    fn byte(&self, chars: usize) -> usize {
        if self.checkpoints.is_empty() {
            return chars.min(self.text.len());
        }
        let Some(&from) = self.checkpoints.get(chars / Self::STEP) else {
            return self.text.len();
        };
        self.text[from..]
            .char_indices()
            .nth(chars % Self::STEP)
            .map_or(self.text.len(), |(index, _)| from + index)
    }
}

impl Document {
    /// Reads the YAML `source` (one document; a second one is refused, as serde_yaml did).
    ///
    /// An empty file gives a document without a root, which deserializes as an empty mapping.
    pub fn parse(source: &str) -> Result<Document, SyntaxError> {
        let bom_len = if source.starts_with(BYTE_ORDER_MARK) {
            BYTE_ORDER_MARK.len_utf8()
        } else {
            0
        };
        let body = &source[bom_len..];
        let offsets = ByteOffsets::new(body);
        let at = |mark: &Marker| bom_len + offsets.byte(mark.index());
        let mut parser = Parser::new_from_str(body);
        let mut document = Document {
            nodes: Vec::new(),
            root: None,
        };
        // Parser anchor ids to node numbers.
        let mut anchors: HashMap<usize, usize> = HashMap::new();
        // Collections whose end has not been seen yet, innermost last.
        let mut open: Vec<usize> = Vec::new();
        let mut documents = 0;
        let (mut alias_values, mut alias_bytes) = (0u64, 0u64);
        loop {
            let (event, mark) = parser.next_token().map_err(|error| {
                let info = error.info();
                let (message, limit) = match info {
                    "recursion limit exceeded" => (depth_message(), true),
                    // The scanner reads an unclosed quote up to a line that is indented less.
                    "invalid indentation in quoted scalar"
                    | "while scanning a quoted scalar, found unexpected end of stream" => (
                        "the quoted text starting here is not closed (or a line of it is not \
                         indented more than its key); add the closing quote"
                            .to_owned(),
                        false,
                    ),
                    _ => (info.to_owned(), false),
                };
                SyntaxError {
                    message,
                    index: at(error.marker()),
                    limit,
                }
            })?;
            let start = at(&mark);
            let (kind, anchor) = match event {
                Event::StreamEnd => return Ok(document),
                Event::DocumentStart => {
                    documents += 1;
                    if documents > 1 {
                        return Err(SyntaxError {
                            message: "the rule file holds more than one YAML document (a second \
                                      `---`); keep one document per file"
                                .to_owned(),
                            index: start,
                            limit: false,
                        });
                    }
                    continue;
                }
                Event::Nothing | Event::StreamStart | Event::DocumentEnd => continue,
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(finished) = open.pop() else {
                        return Err(bug(start));
                    };
                    document.merge(finished)?;
                    document.finish(finished);
                    document.attach(finished, open.last().copied());
                    continue;
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let string_tag = tag.is_some_and(|tag| tag.suffix == "str");
                    let plain = style == TScalarStyle::Plain && !string_tag;
                    let empty = text.is_empty()
                        && matches!(
                            style,
                            TScalarStyle::Plain | TScalarStyle::Literal | TScalarStyle::Folded
                        );
                    (NodeKind::Scalar { text, plain, empty }, anchor)
                }
                Event::Alias(anchor) => {
                    let Some(&target) = anchors.get(&anchor) else {
                        return Err(SyntaxError {
                            message: "the alias refers to an unknown anchor".to_owned(),
                            index: start,
                            limit: false,
                        });
                    };
                    if open.contains(&target) {
                        return Err(SyntaxError {
                            message: "the alias refers to a value that contains it".to_owned(),
                            index: start,
                            limit: true,
                        });
                    }
                    alias_values = alias_values.saturating_add(document.nodes[target].values);
                    alias_bytes = alias_bytes.saturating_add(document.nodes[target].bytes);
                    if alias_values > MAX_ALIAS_VALUES || alias_bytes > MAX_ALIAS_BYTES {
                        return Err(SyntaxError {
                            message: format!(
                                "the aliases (`*name`) expand to more than {MAX_ALIAS_VALUES} \
                                 values or {} MiB of text; write the values out or share fewer",
                                MAX_ALIAS_BYTES >> 20
                            ),
                            index: start,
                            limit: true,
                        });
                    }
                    (NodeKind::Alias(target), 0)
                }
                Event::SequenceStart(anchor, _) => (NodeKind::Sequence(Vec::new()), anchor),
                Event::MappingStart(anchor, _) => (NodeKind::Mapping(Vec::new()), anchor),
            };
            let id = document.nodes.len();
            if id >= MAX_NODES {
                return Err(SyntaxError {
                    message: format!(
                        "the rule file has more than {MAX_NODES} values; split it into several \
                         files"
                    ),
                    index: start,
                    limit: true,
                });
            }
            let is_collection = matches!(kind, NodeKind::Sequence(_) | NodeKind::Mapping(_));
            if is_collection && open.len() >= MAX_DEPTH {
                return Err(SyntaxError {
                    message: depth_message(),
                    index: start,
                    limit: true,
                });
            }
            let (values, bytes) = match &kind {
                NodeKind::Scalar { text, .. } => (1, text.len() as u64),
                NodeKind::Alias(target) => (
                    document.nodes[*target].values,
                    document.nodes[*target].bytes,
                ),
                _ => (1, 0),
            };
            document.nodes.push(Node {
                start,
                kind,
                values,
                bytes,
            });
            // Anchor ids start at 1; 0 means the node has no anchor.
            if anchor != 0 {
                anchors.insert(anchor, id);
            }
            if is_collection {
                open.push(id);
            } else {
                document.attach(id, open.last().copied());
            }
        }
    }

    /// Applies the merge keys of a finished mapping: `<<: *defaults` (or a list of aliases, or a
    /// mapping written in place) adds the entries of those mappings whose keys the mapping does
    /// not have itself; of several, the first one listed wins. The entries are shared, not
    /// copied, so merging adds no values to expand.
    fn merge(&mut self, id: usize) -> Result<(), SyntaxError> {
        let NodeKind::Mapping(children) = &self.nodes[id].kind else {
            return Ok(());
        };
        let is_merge_key = |key: usize| matches!(&self.nodes[key].kind, NodeKind::Scalar { text, plain: true, .. } if text == "<<");
        if !children.chunks(2).any(|pair| is_merge_key(pair[0])) {
            return Ok(());
        }
        let mut own = Vec::with_capacity(children.len());
        let mut sources = Vec::new();
        for pair in children.chunks(2) {
            let [key, value] = *pair else {
                return Err(bug(self.nodes[id].start));
            };
            if !is_merge_key(key) {
                own.extend([key, value]);
                continue;
            }
            let not_a_mapping = |at: usize| SyntaxError {
                message: "a merge key (`<<`) takes a mapping, an alias of one (`<<: *defaults`) \
                          or a list of them"
                    .to_owned(),
                index: at,
                limit: false,
            };
            match &self.nodes[self.resolve(value)].kind {
                NodeKind::Mapping(_) => sources.push(self.resolve(value)),
                NodeKind::Sequence(items) => {
                    for &item in items {
                        let item = self.resolve(item);
                        if !matches!(self.nodes[item].kind, NodeKind::Mapping(_)) {
                            return Err(not_a_mapping(self.nodes[item].start));
                        }
                        sources.push(item);
                    }
                }
                _ => return Err(not_a_mapping(self.nodes[value].start)),
            }
        }
        // Keys by their text, so that a large mapping merges in linear time.
        let mut keys: std::collections::HashSet<&str> = own
            .chunks(2)
            .filter_map(|pair| self.scalar_text(pair[0]))
            .collect();
        let mut merged = own;
        for &source in &sources {
            let NodeKind::Mapping(entries) = &self.nodes[source].kind else {
                continue;
            };
            for pair in entries.chunks(2) {
                let [key, value] = *pair else {
                    continue;
                };
                let new = match self.scalar_text(key) {
                    Some(text) => keys.insert(text),
                    None => true,
                };
                if new {
                    merged.extend([key, value]);
                }
            }
        }
        if let NodeKind::Mapping(children) = &mut self.nodes[id].kind {
            *children = merged;
        }
        Ok(())
    }

    /// Adds up the expanded size of a finished collection.
    fn finish(&mut self, id: usize) {
        let children = match &self.nodes[id].kind {
            NodeKind::Sequence(children) | NodeKind::Mapping(children) => children,
            _ => return,
        };
        let (values, bytes) = children.iter().fold((1u64, 0u64), |(v, b), &child| {
            (
                v.saturating_add(self.nodes[child].values),
                b.saturating_add(self.nodes[child].bytes),
            )
        });
        self.nodes[id].values = values;
        self.nodes[id].bytes = bytes;
    }

    /// Adds the finished node `child` to the collection `parent`, or makes it the root.
    fn attach(&mut self, child: usize, parent: Option<usize>) {
        let Some(parent) = parent else {
            self.root.get_or_insert(child);
            return;
        };
        let child_start = self.nodes[child].start;
        let parent_start = self.nodes[parent].start;
        // An empty value starts at its key, an empty item at its sequence.
        let empty_start = match &self.nodes[parent].kind {
            NodeKind::Mapping(children) if children.len() % 2 == 1 => {
                children.last().map(|&key| self.nodes[key].start)
            }
            NodeKind::Sequence(_) => Some(parent_start),
            _ => None,
        };
        if let (NodeKind::Scalar { empty: true, .. }, Some(start)) =
            (&self.nodes[child].kind, empty_start)
        {
            self.nodes[child].start = start;
        }
        let parent_node = &mut self.nodes[parent];
        match &mut parent_node.kind {
            NodeKind::Sequence(children) => children.push(child),
            NodeKind::Mapping(children) => {
                // yaml-rust2 marks a block mapping at the `:` after its first key; the mapping
                // really starts at that key. A flow mapping's `{` comes before its first key and
                // is kept.
                if children.is_empty() && child_start < parent_node.start {
                    parent_node.start = child_start;
                }
                children.push(child);
            }
            // Only collections are kept open, so a parent is always one.
            NodeKind::Scalar { .. } | NodeKind::Alias(_) => {}
        }
    }

    /// The root node, if the document has one.
    pub fn root(&self) -> Option<NodeRef<'_>> {
        self.root.map(|id| NodeRef { document: self, id })
    }

    /// Deserializes `T` from `node` (the root when `None`, an empty mapping for an empty
    /// document), whose path is `path`.
    pub fn deserialize<T: de::DeserializeOwned>(
        &self,
        node: Option<NodeRef<'_>>,
        path: &FieldPath,
    ) -> Result<T, Error> {
        let deserializer = NodeDeserializer {
            document: self,
            id: node.map(|n| n.id).or(self.root),
            path: path.clone(),
        };
        T::deserialize(deserializer)
    }

    /// Finds where the value at `path` starts.
    ///
    /// For a mapping key this is the start of its value, or the start of the key itself if
    /// `key_position` is true (a path that ends with an index, or the root path, has no key, so
    /// `key_position` changes nothing there). A sequence item is found by its 0-based number, and
    /// its position is where the item's value starts (for `- name: x`, at `name`). A quoted scalar
    /// starts at its opening quote, a flow collection at its `[` or `{`, and a block scalar (`|`,
    /// `>`) at the first line of its text. An anchor or tag written before a scalar (`&name text`,
    /// `!!str text`) is not part of it: the scalar starts at `text`.
    ///
    /// Returns `None` if the path does not exist. If the same key appears twice in one mapping,
    /// the last one is used, as it is the one serde keeps in a map.
    ///
    /// Aliases: if the path reaches an alias (`*name`), the position is that of the alias, even
    /// when the path goes on inside the anchored value, because the alias is where the rule at
    /// hand uses the value; the rest of the path must still exist in the anchored value. An empty
    /// value (`key:` with nothing after it) has no position of its own, so its key's position is
    /// returned, or the sequence's position for an empty sequence item.
    pub fn locate(&self, source: &str, path: &FieldPath, key_position: bool) -> Option<Position> {
        self.find(path, key_position)
            .map(|index| position_at_index(source, index))
    }

    fn find(&self, path: &FieldPath, key_position: bool) -> Option<usize> {
        let mut node = self.root?;
        // The alias the walk went through first, if any: it is what gets reported.
        let mut alias: Option<usize> = None;
        // Where the last step came from: the key it took.
        let mut key: Option<usize> = None;
        for segment in &path.0 {
            if let NodeKind::Alias(target) = self.nodes[node].kind {
                alias.get_or_insert(self.nodes[node].start);
                node = target;
            }
            let step = match (segment, &self.nodes[node].kind) {
                (PathSegment::Key(wanted), NodeKind::Mapping(children)) => children
                    .chunks_exact(2)
                    .rev()
                    .find(|entry| self.scalar_text(entry[0]) == Some(wanted.as_str()))
                    .map(|entry| (Some(entry[0]), entry[1])),
                (PathSegment::Index(wanted), NodeKind::Sequence(items)) => {
                    items.get(*wanted).map(|&item| (None, item))
                }
                _ => None,
            };
            let (step_key, value) = step?;
            key = step_key;
            node = value;
        }
        if alias.is_some() {
            return alias;
        }
        if let (Some(key), true) = (key, key_position) {
            return Some(self.nodes[key].start);
        }
        Some(self.nodes[node].start)
    }

    /// The text of a scalar, looking through an alias.
    fn scalar_text(&self, id: usize) -> Option<&str> {
        match &self.nodes[self.resolve(id)].kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The node an alias stands for, or the node itself.
    fn resolve(&self, id: usize) -> usize {
        match self.nodes[id].kind {
            NodeKind::Alias(target) => target,
            _ => id,
        }
    }
}

fn depth_message() -> String {
    format!(
        "the YAML is nested deeper than {MAX_DEPTH} levels of sequences and mappings; a rule \
         file needs a few"
    )
}

fn bug(index: usize) -> SyntaxError {
    SyntaxError {
        message: "the YAML parser gave events out of order; please report this as a bug".to_owned(),
        index,
        limit: false,
    }
}

/// One node of a [`Document`], to walk the tree.
#[derive(Debug, Clone, Copy)]
pub struct NodeRef<'d> {
    document: &'d Document,
    id: usize,
}

impl<'d> NodeRef<'d> {
    fn node(&self) -> &'d Node {
        &self.document.nodes[self.document.resolve(self.id)]
    }

    /// The byte offset where the node starts (an alias: where the alias is written).
    pub fn start(&self) -> usize {
        self.document.nodes[self.id].start
    }

    /// The scalar's text, looking through an alias; `None` for a collection.
    pub fn as_str(&self) -> Option<&'d str> {
        match &self.node().kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The items of a sequence, looking through an alias.
    pub fn items(&self) -> Option<Vec<NodeRef<'d>>> {
        match &self.node().kind {
            NodeKind::Sequence(items) => Some(self.refs(items)),
            _ => None,
        }
    }

    /// The keys and values of a mapping, looking through an alias.
    pub fn entries(&self) -> Option<Vec<(NodeRef<'d>, NodeRef<'d>)>> {
        match &self.node().kind {
            NodeKind::Mapping(children) => Some(
                children
                    .chunks_exact(2)
                    .map(|pair| {
                        (
                            NodeRef {
                                document: self.document,
                                id: pair[0],
                            },
                            NodeRef {
                                document: self.document,
                                id: pair[1],
                            },
                        )
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Whether the node is an empty plain scalar (`key:` with nothing after it) or `null`/`~`.
    pub fn is_null(&self) -> bool {
        matches!(&self.node().kind, NodeKind::Scalar { text, plain: true, .. } if is_null(text))
    }

    fn refs(&self, ids: &[usize]) -> Vec<NodeRef<'d>> {
        ids.iter()
            .map(|&id| NodeRef {
                document: self.document,
                id,
            })
            .collect()
    }
}

// --- Errors -----------------------------------------------------------------------------------

/// A value that does not deserialize: what is wrong, the path of the value and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What is wrong, without the path.
    pub message: String,
    /// The path of the value, once known.
    pub path: Option<FieldPath>,
    /// The byte offset of the value, once known.
    pub index: Option<usize>,
    /// A hint for an unknown key: the nearest known key, or where the key belongs.
    pub help: Option<String>,
    /// Whether the error is an unknown key.
    pub unknown_key: bool,
    /// Whether the error is a missing key.
    pub missing_key: bool,
}

impl Error {
    fn new(message: String) -> Self {
        Error {
            message,
            path: None,
            index: None,
            help: None,
            unknown_key: false,
            missing_key: false,
        }
    }

    /// Sets the path and position unless a deeper value already did.
    pub fn at(mut self, index: usize, path: &FieldPath) -> Self {
        if self.index.is_none() {
            self.index = Some(index);
            self.path = Some(path.clone());
        }
        self
    }
}

/// `path: message` (just the message at the top level), as serde_yaml showed it.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) if !path.0.is_empty() => write!(f, "{path}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Error::new(message.to_string())
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        // serde's own wording, then a hint.
        let message = <de::value::Error as de::Error>::unknown_field(field, expected).to_string();
        let mut error = Error::new(message);
        error.help = crate::rules::file::unknown_key_help(field, expected);
        error.unknown_key = true;
        error
    }

    fn missing_field(field: &'static str) -> Self {
        let mut error = Error::new(format!("missing field `{field}`"));
        error.missing_key = true;
        error
    }
}

// --- Scalars, read as serde_yaml 0.9 read them --------------------------------------------------

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Leading zeros followed by digits are a string in YAML 1.2 (`007`).
fn digits_but_not_number(text: &str) -> bool {
    let text = text.strip_prefix(['-', '+']).unwrap_or(text);
    text.len() > 1 && text.starts_with('0') && text[1..].bytes().all(|b| b.is_ascii_digit())
}

fn radix_int<T>(
    text: &str,
    parse: fn(&str, u32) -> Result<T, std::num::ParseIntError>,
) -> Option<T> {
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = text.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(int) = parse(rest, radix) {
                return Some(int);
            }
        }
    }
    None
}

fn parse_u64(text: &str) -> Option<u64> {
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    if let Some(int) = radix_int(unsigned, u64::from_str_radix) {
        return Some(int);
    }
    if unsigned.starts_with(['+', '-']) || digits_but_not_number(text) {
        return None;
    }
    unsigned.parse().ok()
}

fn parse_negative_i64(text: &str) -> Option<i64> {
    let rest = text.strip_prefix('-')?;
    if let Some(int) = radix_int(rest, u64::from_str_radix) {
        return 0i64.checked_sub_unsigned(int);
    }
    if rest.starts_with(['+', '-']) || digits_but_not_number(text) {
        return None;
    }
    text.parse().ok()
}

fn parse_f64(text: &str) -> Option<f64> {
    let unsigned = match text.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => text,
    };
    match unsigned {
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    unsigned.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// What a scalar is, for "invalid type" messages and `deserialize_any`.
enum Resolved<'a> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(&'a str),
}

fn resolve_scalar(text: &str, plain: bool) -> Resolved<'_> {
    if !plain {
        return Resolved::Str(text);
    }
    if is_null(text) {
        Resolved::Null
    } else if let Some(b) = parse_bool(text) {
        Resolved::Bool(b)
    } else if let Some(u) = parse_u64(text) {
        Resolved::Unsigned(u)
    } else if let Some(i) = parse_negative_i64(text) {
        Resolved::Signed(i)
    } else if let Some(f) = (!digits_but_not_number(text))
        .then(|| parse_f64(text))
        .flatten()
    {
        Resolved::Float(f)
    } else {
        Resolved::Str(text)
    }
}

impl Resolved<'_> {
    fn unexpected(&self) -> Unexpected<'_> {
        match *self {
            Resolved::Null => Unexpected::Unit,
            Resolved::Bool(b) => Unexpected::Bool(b),
            Resolved::Unsigned(u) => Unexpected::Unsigned(u),
            Resolved::Signed(i) => Unexpected::Signed(i),
            Resolved::Float(f) => Unexpected::Float(f),
            Resolved::Str(s) => Unexpected::Str(s),
        }
    }
}

// --- The deserializer -------------------------------------------------------------------------

struct NodeDeserializer<'d> {
    document: &'d Document,
    /// `None` for an empty document.
    id: Option<usize>,
    path: FieldPath,
}

/// What a node holds, looking through an alias.
enum Content<'d> {
    Scalar(&'d str, bool),
    Sequence(&'d [usize]),
    Mapping(&'d [usize]),
}

impl<'d> NodeDeserializer<'d> {
    fn start(&self) -> usize {
        self.id.map_or(0, |id| self.document.nodes[id].start)
    }

    fn content(&self) -> Content<'d> {
        let Some(id) = self.id else {
            return Content::Scalar("", true);
        };
        match &self.document.nodes[self.document.resolve(id)].kind {
            NodeKind::Scalar { text, plain, .. } => Content::Scalar(text, *plain),
            NodeKind::Sequence(items) => Content::Sequence(items),
            NodeKind::Mapping(children) => Content::Mapping(children),
            // An alias never points at an alias.
            NodeKind::Alias(_) => Content::Scalar("", true),
        }
    }

    /// The error for a value of the wrong type.
    fn invalid_type(&self, expected: &dyn de::Expected) -> Error {
        match self.content() {
            Content::Scalar(text, plain) => {
                de::Error::invalid_type(resolve_scalar(text, plain).unexpected(), expected)
            }
            Content::Sequence(_) => de::Error::invalid_type(Unexpected::Seq, expected),
            Content::Mapping(_) => de::Error::invalid_type(Unexpected::Map, expected),
        }
    }

    /// Runs `f` and gives its error this node's path and position unless it has them.
    fn with_position<T>(self, f: impl FnOnce(&Self) -> Result<T, Error>) -> Result<T, Error> {
        f(&self).map_err(|error| error.at(self.start(), &self.path))
    }

    fn child(&self, id: usize, segment: PathSegment) -> NodeDeserializer<'d> {
        let mut path = self.path.clone();
        path.0.push(segment);
        NodeDeserializer {
            document: self.document,
            id: Some(id),
            path,
        }
    }

    fn visit_seq<'de, V: Visitor<'de>>(
        &self,
        items: &'d [usize],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let mut access = Items {
            parent: self,
            items,
            next: 0,
        };
        let value = visitor.visit_seq(&mut access)?;
        if access.next < items.len() {
            return Err(de::Error::invalid_length(items.len(), &"fewer elements"));
        }
        Ok(value)
    }

    fn visit_map<'de, V: Visitor<'de>>(
        &self,
        children: &'d [usize],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let mut access = Entries {
            parent: self,
            children,
            next: 0,
            key_path: None,
        };
        visitor.visit_map(&mut access)
    }

    fn is_empty_plain(&self) -> bool {
        matches!(self.content(), Content::Scalar(text, true) if text.is_empty())
    }
}

struct Items<'a, 'd> {
    parent: &'a NodeDeserializer<'d>,
    items: &'d [usize],
    next: usize,
}

impl<'de> de::SeqAccess<'de> for &mut Items<'_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(&id) = self.items.get(self.next) else {
            return Ok(None);
        };
        let index = self.next;
        self.next += 1;
        seed.deserialize(self.parent.child(id, PathSegment::Index(index)))
            .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct Entries<'a, 'd> {
    parent: &'a NodeDeserializer<'d>,
    children: &'d [usize],
    next: usize,
    /// The path of the value whose key was read last.
    key_path: Option<PathSegment>,
}

impl<'de> de::MapAccess<'de> for &mut Entries<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(&key) = self.children.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let text = self.parent.document.scalar_text(key).unwrap_or("?");
        self.key_path = Some(PathSegment::Key(text.to_owned()));
        // A key's errors (an unknown field) name the mapping, as serde_yaml did, and point at
        // the key.
        let key_deserializer = NodeDeserializer {
            document: self.parent.document,
            id: Some(key),
            path: self.parent.path.clone(),
        };
        seed.deserialize(key_deserializer).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some(&value) = self.children.get(self.next) else {
            return Err(de::Error::custom("a mapping key without a value"));
        };
        self.next += 1;
        let segment = self
            .key_path
            .take()
            .unwrap_or_else(|| PathSegment::Key("?".to_owned()));
        seed.deserialize(self.parent.child(value, segment))
    }

    fn size_hint(&self) -> Option<usize> {
        Some((self.children.len() - self.next) / 2)
    }
}

/// A scalar read as an enum variant without data (`type: gauge`).
struct UnitVariant<'d>(NodeDeserializer<'d>);

impl<'de, 'd> de::EnumAccess<'de> for UnitVariant<'d> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let Content::Scalar(text, _) = self.0.content() else {
            return Err(self.0.invalid_type(&"a variant name"));
        };
        let text = text.to_owned();
        let value = seed.deserialize(de::value::StrDeserializer::<Error>::new(&text))?;
        Ok((value, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, Error> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"newtype variant",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, Error> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"tuple variant",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"struct variant",
        ))
    }
}

macro_rules! forward_integers {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.with_position(|de| match de.content() {
                    Content::Scalar(text, true) => {
                        if let Some(u) = parse_u64(text) {
                            visitor.visit_u64(u)
                        } else if let Some(i) = parse_negative_i64(text) {
                            visitor.visit_i64(i)
                        } else {
                            Err(de.invalid_type(&visitor))
                        }
                    }
                    _ => Err(de.invalid_type(&visitor)),
                })
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.with_position(|de| match de.content() {
            Content::Scalar(text, plain) => match resolve_scalar(text, plain) {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Unsigned(u) => visitor.visit_u64(u),
                Resolved::Signed(i) => visitor.visit_i64(i),
                Resolved::Float(f) => visitor.visit_f64(f),
                Resolved::Str(s) => visitor.visit_str(s),
            },
            Content::Sequence(items) => de.visit_seq(items, visitor),
            Content::Mapping(children) => de.visit_map(children, visitor),
        })
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.with_position(|de| match de.content() {
            Content::Scalar(text, true) => match parse_bool(text) {
                Some(b) => visitor.visit_bool(b),
                None => Err(de.invalid_type(&visitor)),
            },
            _ => Err(de.invalid_type(&visitor)),
        })
    }

    forward_integers!(
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.with_position(|de| match de.content() {
            Content::Scalar(text, true) => match parse_f64(text) {
                Some(f) => visitor.visit_f64(f),
                None => Err(de.invalid_type(&visitor)),
            },
            _ => Err(de.invalid_type(&visitor)),
        })
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.with_position(|de| match de.content() {
            Content::Scalar(text, _) => visitor.visit_str(text),
            _ => Err(de.invalid_type(&visitor)),
        })
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        self.with_position(|_| Err(de::Error::custom("bytes are not supported in a rule file")))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let none = matches!(self.content(), Content::Scalar(text, true) if is_null(text));
        if none {
            self.with_position(|_| visitor.visit_none())
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.with_position(|de| match de.content() {
            Content::Scalar(text, true) if is_null(text) => visitor.visit_unit(),
            _ => Err(de.invalid_type(&visitor)),
        })
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.with_position(|de| match de.content() {
            Content::Sequence(items) => de.visit_seq(items, visitor),
            _ if de.is_empty_plain() => de.visit_seq(&[], visitor),
            _ => Err(de.invalid_type(&visitor)),
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.with_position(|de| match de.content() {
            Content::Mapping(children) => de.visit_map(children, visitor),
            _ if de.is_empty_plain() => de.visit_map(&[], visitor),
            _ => Err(de.invalid_type(&visitor)),
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let start = self.start();
        let path = self.path.clone();
        match self.content() {
            Content::Scalar(..) => visitor.visit_enum(UnitVariant(self)),
            _ => Err(self.invalid_type(&visitor)),
        }
        .map_err(|error| error.at(start, &path))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    fn limit_error(source: &str) -> SyntaxError {
        let error = Document::parse(source).expect_err("refused");
        assert!(error.limit, "{error:?}");
        error
    }

    #[test]
    fn an_alias_bomb_is_refused_before_it_expands() {
        let mut source = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let items = vec![format!("*a{}", i - 1); 9].join(", ");
            source.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        let error = limit_error(&source);
        assert!(error.message.contains("aliases"), "{}", error.message);
        // A few shared values are fine.
        let shared = "l: &l {a: x, b: y}\nm: [*l, *l, *l]\n";
        assert!(Document::parse(shared).is_ok());
    }

    #[test]
    fn a_big_text_repeated_by_aliases_is_refused() {
        let source = format!(
            "a: &a {}\nb: [{}]\n",
            "x".repeat(1 << 20),
            ["*a"; 5].join(", ")
        );
        assert!(limit_error(&source).message.contains("MiB"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let block = format!("a:\n{}x\n", "- ".repeat(10_000));
        assert!(
            limit_error(&block)
                .message
                .contains("nested deeper than 64")
        );
        let flow = format!("a: {}\n", "[".repeat(200_000));
        assert!(limit_error(&flow).message.contains("nested deeper than 64"));
        let flow_maps = format!("a: {}\n", "{a: ".repeat(100));
        assert!(
            limit_error(&flow_maps)
                .message
                .contains("nested deeper than 64")
        );
        let fine = format!("a: {}x{}\n", "[".repeat(60), "]".repeat(60));
        assert!(Document::parse(&fine).is_ok());
    }

    #[test]
    fn too_many_values_are_refused() {
        let source = format!("a: [{}]\n", "1,".repeat(MAX_NODES));
        assert!(
            limit_error(&source)
                .message
                .contains("more than 200000 values")
        );
    }

    #[test]
    fn an_alias_inside_its_own_anchor_is_refused() {
        let error = Document::parse("a: &a [*a]\n").expect_err("a cycle");
        assert!(error.message.contains("contains it"), "{error:?}");
    }

    #[test]
    fn syntax_errors_and_several_documents() {
        let error = Document::parse("a: \"open\n").expect_err("unterminated");
        assert!(!error.limit);
        assert!(
            error
                .message
                .contains("quoted text starting here is not closed"),
            "{}",
            error.message
        );
        let error = Document::parse("a: 1\n---\nb: 2\n").expect_err("two documents");
        assert!(error.message.contains("more than one YAML document"));
        assert!(Document::parse("---\na: 1\n...\n").is_ok());
        assert!(Document::parse("").is_ok_and(|d| d.root().is_none()));
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        text: String,
        count: Option<u64>,
        ratio: Option<f64>,
        flag: Option<bool>,
        list: Option<Vec<f64>>,
        map: Option<BTreeMap<String, String>>,
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Gauge,
        Counter,
    }

    fn sample(source: &str) -> Result<Sample, Error> {
        let document = Document::parse(source).expect("valid YAML");
        document.deserialize(None, &FieldPath::root())
    }

    #[test]
    fn scalars_read_as_serde_yaml_read_them() {
        let s = sample(
            "text: 42\ncount: 0x10\nratio: .inf\nflag: True\nlist: [1, -2.5, +3]\n\
             map: {a: 1, b: ~, c: 'x'}\nkind: gauge\n",
        )
        .expect("valid");
        assert_eq!(s.text, "42");
        assert_eq!(s.count, Some(16));
        assert_eq!(s.ratio, Some(f64::INFINITY));
        assert_eq!(s.flag, Some(true));
        assert_eq!(s.list, Some(vec![1.0, -2.5, 3.0]));
        assert_eq!(s.map.expect("a map")["b"], "~");
        assert_eq!(s.kind, Some(Kind::Gauge));
        let s = sample("text: |\n  block\ncount: ~\nratio:\n").expect("valid");
        assert_eq!((s.text.as_str(), s.count, s.ratio), ("block\n", None, None));
    }

    #[test]
    fn errors_name_the_path_and_point_at_the_value() {
        let source = "text: x\ncount: '3'\n";
        let error = sample(source).expect_err("a quoted number");
        assert_eq!(
            error.to_string(),
            "count: invalid type: string \"3\", expected u64"
        );
        assert_eq!(error.index, source.find("'3'"));
        let error = sample("text: x\nlist: [1, a]\n").expect_err("not a number");
        assert_eq!(
            error.to_string(),
            "list[1]: invalid type: string \"a\", expected f64"
        );
        let source = "text: x\nkind: gauge2\n";
        let error = sample(source).expect_err("unknown variant");
        assert!(
            error
                .to_string()
                .starts_with("kind: unknown variant `gauge2`")
        );
        assert_eq!(error.index, source.find("gauge2"));
        let source = "text: x\ncoutn: 1\n";
        let error = sample(source).expect_err("unknown key");
        assert!(error.unknown_key);
        assert_eq!(
            error.to_string(),
            "unknown field `coutn`, expected one of `text`, `count`, `ratio`, `flag`, `list`, \
             `map`, `kind`"
        );
        assert_eq!(error.index, source.find("coutn"));
        let error = sample("count: 1\n").expect_err("missing");
        assert!(error.missing_key);
        assert_eq!(error.to_string(), "missing field `text`");
        let error = sample("[1]\n").expect_err("not a mapping");
        assert_eq!(
            error.to_string(),
            "invalid type: sequence, expected struct Sample"
        );
    }

    #[test]
    fn aliases_deserialize_as_their_anchored_value() {
        let s = sample("map: &m {a: x}\ntext: &t hello\nlist: &l [1]\n").expect("valid");
        assert_eq!(s.text, "hello");
        #[derive(Debug, Deserialize)]
        struct Two {
            a: BTreeMap<String, String>,
            b: BTreeMap<String, String>,
        }
        let document = Document::parse("a: &m {k: v}\nb: *m\n").expect("valid");
        let two: Two = document
            .deserialize(None, &FieldPath::root())
            .expect("valid");
        assert_eq!(two.a, two.b);
    }

    #[test]
    fn merge_keys_add_the_entries_the_mapping_does_not_have() {
        type Maps = BTreeMap<String, BTreeMap<String, String>>;
        let read = |source: &str| -> Maps {
            Document::parse(source)
                .expect("valid")
                .deserialize(None, &FieldPath::root())
                .expect("a map of maps")
        };
        let maps = read(
            "base: &b {job: x, site: lyon}\n\
             other: &o {site: paris, zone: a}\n\
             one: {<<: *b, job: y}\n\
             list: {<<: [*o, *b]}\n\
             inline: {<<: {k: v}, k: w}\n\
             quoted: {\"<<\": kept}\n",
        );
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(maps["one"], map(&[("job", "y"), ("site", "lyon")]));
        // Of several, the first listed wins.
        assert_eq!(
            maps["list"],
            map(&[("job", "x"), ("site", "paris"), ("zone", "a")])
        );
        assert_eq!(maps["inline"], map(&[("k", "w")]));
        assert_eq!(
            maps["quoted"],
            map(&[("<<", "kept")]),
            "a quoted key is a key"
        );
        // A merged value is found where it is written, for messages.
        let source = "base: &b {job: x}\none: {<<: *b}\n";
        let document = Document::parse(source).expect("valid");
        let path = FieldPath::root().key("one").key("job");
        let at = document.locate(source, &path, false).expect("found");
        assert_eq!(&source[at.index..at.index + 1], "x");
        for bad in [
            "a: {<<: 3}\n",
            "a: {<<: [{k: v}, 3]}\n",
            "b: &s [1]\na: {<<: *s}\n",
        ] {
            let error = Document::parse(bad).expect_err("not a mapping");
            assert!(error.message.contains("merge key"), "{bad}: {error:?}");
        }
    }

    #[test]
    fn merging_large_mappings_takes_linear_time() {
        let keys: String = (0..40_000).map(|i| format!("k{i}: v\n  ")).collect();
        let source = format!("a: &a\n  {keys}\nb:\n  <<: *a\n  k0: w\n");
        let started = std::time::Instant::now();
        let document = Document::parse(&source).expect("valid");
        let maps: BTreeMap<String, BTreeMap<String, String>> = document
            .deserialize(None, &FieldPath::root())
            .expect("valid");
        assert_eq!(maps["b"].len(), 40_000);
        assert_eq!(maps["b"]["k0"], "w");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn positions_use_bytes_with_multibyte_text() {
        let source = format!("{}\nb: [x, {{c: y}}]\n", "é".repeat(600));
        let source = format!("a: {source}");
        let document = Document::parse(&source).expect("valid");
        let path = FieldPath::root().key("b").index(1).key("c");
        let position = document.locate(&source, &path, false).expect("found");
        assert_eq!(&source[position.index..position.index + 1], "y");
        assert_eq!((position.line, position.column), (2, 12));
    }
}
