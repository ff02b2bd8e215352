//! Diagnostics that point into a rule file, shared by `check`, `test` and `run`.
//!
//! Errors found while serde_yaml reads the rule file come with a byte offset, which
//! [`position_at_index`] turns into a [`Position`]. Errors found later (cross-rule checks,
//! namespace prefixes, template variables) only know the [`FieldPath`] of the offending value, such
//! as `metrics[1].labels.kind`; the rule file's one parse ([`crate::rules::yaml::Document`]) finds where
//! that value sits. A [`Diagnostic`] then goes to [`render`], which prints it the way rustc does:
//! `file:line:col`, the source line and a caret under the column. [`shorten`] keeps a message
//! that quotes a huge value (a 5 MB regex) to a few hundred characters.

use std::fmt;

/// One step of a path into the rule file: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// The value under this key of a mapping.
    Key(String),
    /// The item with this 0-based number in a sequence.
    Index(usize),
}

/// Where a value sits in the rule file, e.g. `metrics[1].labels.kind`.
///
/// The empty path is the whole document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(pub Vec<PathSegment>);

impl FieldPath {
    /// The path of the whole document, shown as `(top level)`.
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// Returns a new path one step longer: the value under key `k` of the mapping at `self`.
    pub fn key(&self, k: impl Into<String>) -> Self {
        self.with(PathSegment::Key(k.into()))
    }

    /// Returns a new path one step longer: item number `i` (0-based) of the sequence at `self`.
    pub fn index(&self, i: usize) -> Self {
        self.with(PathSegment::Index(i))
    }

    fn with(&self, segment: PathSegment) -> Self {
        let mut segments = Vec::with_capacity(self.0.len() + 1);
        segments.extend_from_slice(&self.0);
        segments.push(segment);
        FieldPath(segments)
    }
}

/// Shows the path the way users would write it: `metrics[1].labels.kind`.
///
/// A key that is not a plain identifier (ASCII letters, digits and `_`, not starting with a digit)
/// is quoted so the path stays unambiguous: `labels."a b"`, `namespaces."2x"`. The empty path
/// shows as `(top level)`.
impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Index(index) => write!(f, "[{index}]")?,
                PathSegment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_identifier(key) {
                        f.write_str(key)?;
                    } else {
                        // Debug quoting escapes `"`, `\` and control characters, so the quoted
                        // key cannot be confused with the rest of the path.
                        write!(f, "{key:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A 1-based line and column (columns count characters) and the 0-based byte index.
///
/// A UTF-8 byte order mark at the start of the file is not counted as a column: editors do not
/// show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The line, counting from 1. Lines end at `\n` (a `\r` before it belongs to the line break).
    pub line: usize,
    /// The column, counting characters (not bytes) from 1.
    pub column: usize,
    /// The byte offset into the source, counting from 0.
    pub index: usize,
}

/// The UTF-8 byte order mark, which editors do not show.
const BYTE_ORDER_MARK: char = '\u{feff}';

/// Finds the position of the value at `path` in the YAML `source`, parsing it; see
/// [`crate::rules::yaml::Document::locate`], which the loader uses on its one parse of a rule file.
///
/// Returns `None` if the path does not exist or `source` does not parse.
pub fn locate(source: &str, path: &FieldPath, key_position: bool) -> Option<Position> {
    crate::rules::yaml::Document::parse(source)
        .ok()?
        .locate(source, path, key_position)
}

/// Computes the line and column of byte `index` in `source`.
///
/// This converts serde_yaml's `Location::index()` (a byte offset, which counts a leading byte
/// order mark, as this function does) into a [`Position`]. An index past the end is clamped to
/// the end of the source; an index inside a multibyte character moves back to the start of that
/// character.
pub fn position_at_index(source: &str, index: usize) -> Position {
    let mut index = index.min(source.len());
    while !source.is_char_boundary(index) {
        index -= 1;
    }
    let before = &source[..index];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let text_start = if line_start == 0 && source.starts_with(BYTE_ORDER_MARK) {
        BYTE_ORDER_MARK.len_utf8().min(index)
    } else {
        line_start
    };
    Position {
        line: before.bytes().filter(|&b| b == b'\n').count() + 1,
        column: source[text_start..index].chars().count() + 1,
        index,
    }
}

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The rule file cannot be used; shown as `error:`.
    Error,
    /// The rule file works but is probably not what was meant; shown as `warning:`.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A message about one place in a source file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Whether this is an error or a warning.
    pub severity: Severity,
    /// A short kebab-case name of the problem, e.g. `undefined-variable`, shown as
    /// `error[undefined-variable]` and usable by machines (`check --format json`).
    pub code: &'static str,
    /// What is wrong, lower-case, without a trailing period, e.g.
    /// ``metrics[1].value: `count(//row])` is not a valid XPath expression``.
    pub message: String,
    /// The path of the source file as the user gave it.
    pub file: String,
    /// Where in the file, if known.
    pub position: Option<Position>,
    /// What to do about it, shown after `= help:`.
    pub help: Option<String>,
}

/// Source lines longer than this many characters are cut around the caret.
const MAX_LINE_CHARS: usize = 200;
/// How many characters of a cut line are shown before and after the caret.
const CONTEXT_BEFORE: usize = 80;
const CONTEXT_AFTER: usize = 100;
/// Marks where a long line was cut.
const ELLIPSIS: &str = "...";

/// Renders `diagnostic` as compilers do (`FILE:LINE:COL: error[CODE]: message`, which editors
/// and CI logs turn into links), then the line it points at, taken from `source`, with a caret
/// (no colours):
///
/// ```text
/// rules/store.yaml:14:12: error[xpath]: metrics[1].value: `count(//row])` is not a valid XPath expression
///    |
/// 14 |     value: count(//row])
///    |            ^
///    = help: try the query alone with `xml2prom explain --rules rules/store.yaml`
/// ```
///
/// The gutter is as wide as the line number. Without a position, only the file is named:
///
/// ```text
/// rules/store.yaml: warning[no-metrics]: rule file defines no metrics
///   = help: add a `metrics:` list
/// ```
///
/// Every line ends with `\n` and has no trailing spaces. Continuation lines of a multi-line
/// message or help are indented to line up with its first line. Tabs and other control characters
/// in the source line are shown as one space each, so the caret stays under the right character.
/// A source line longer than 200 characters is cut to 80 characters before the caret and 100
/// from it, with `...` where text was left out. If the position's line is not in `source`, the
/// source line and caret are left out.
pub fn render(diagnostic: &Diagnostic, source: &str) -> String {
    let mut out = String::new();
    let label = diagnostic.severity.label();
    let code = diagnostic.code;
    let Some(position) = diagnostic.position else {
        push_indented(
            &mut out,
            &format!("{}: {label}[{code}]: ", diagnostic.file),
            &diagnostic.message,
        );
        if let Some(help) = &diagnostic.help {
            push_indented(&mut out, "  = help: ", help);
        }
        return out;
    };
    push_indented(
        &mut out,
        &format!(
            "{}:{}:{}: {label}[{code}]: ",
            diagnostic.file, position.line, position.column
        ),
        &diagnostic.message,
    );

    let number = position.line.to_string();
    let gutter = " ".repeat(number.len());
    if let Some((text, caret)) = source_excerpt(source, position) {
        out.push_str(&format!("{gutter} |\n"));
        if text.is_empty() {
            out.push_str(&format!("{number} |\n"));
        } else {
            out.push_str(&format!("{number} | {text}\n"));
        }
        out.push_str(&format!("{gutter} | {}^\n", " ".repeat(caret)));
    }
    if let Some(help) = &diagnostic.help {
        push_indented(&mut out, &format!("{gutter} = help: "), help);
    }
    out
}

/// Appends `first_prefix` and `text`; later lines of `text` are indented by the prefix's width.
fn push_indented(out: &mut String, first_prefix: &str, text: &str) {
    let indent = " ".repeat(first_prefix.chars().count());
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        let prefix = if i == 0 {
            first_prefix
        } else {
            indent.as_str()
        };
        if line.is_empty() {
            out.push_str(prefix.trim_end());
        } else {
            out.push_str(prefix);
            out.push_str(line);
        }
        out.push('\n');
    }
    if text.is_empty() {
        out.push_str(first_prefix.trim_end());
        out.push('\n');
    }
}

/// The printable text of the line at `position` and the number of characters before the caret,
/// or `None` if `source` has no such line.
fn source_excerpt(source: &str, position: Position) -> Option<(String, usize)> {
    let line = source.split('\n').nth(position.line.checked_sub(1)?)?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = if position.line == 1 {
        line.strip_prefix(BYTE_ORDER_MARK).unwrap_or(line)
    } else {
        line
    };
    let chars: Vec<char> = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    // A caret just past the last character is allowed: it points at the end of the line.
    let caret = position.column.saturating_sub(1).min(chars.len());

    if chars.len() <= MAX_LINE_CHARS {
        let text: String = chars.iter().collect();
        return Some((text.trim_end().to_owned(), caret));
    }
    let window = CONTEXT_BEFORE + CONTEXT_AFTER;
    let end = (caret.saturating_sub(CONTEXT_BEFORE) + window).min(chars.len());
    let start = end.saturating_sub(window);
    let mut text = String::new();
    if start > 0 {
        text.push_str(ELLIPSIS);
    }
    text.extend(&chars[start..end]);
    let shown_caret = caret - start + if start > 0 { ELLIPSIS.len() } else { 0 };
    if end < chars.len() {
        text.push_str(ELLIPSIS);
    }
    Some((text.trim_end().to_owned(), shown_caret))
}

/// Longest text between backticks or double quotes that a message shows whole, in characters.
pub const MAX_QUOTED_CHARS: usize = 200;

/// Longest message shown whole, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// How many characters of a shortened quote are kept.
const QUOTE_KEPT_CHARS: usize = 120;

/// Shortens a message that quotes a huge value: text between backticks or double quotes longer
/// than [`MAX_QUOTED_CHARS`] keeps its first 120 characters, then `...` and how many characters
/// were left out (`` `aaaa...` (4999880 more characters) ``); a message still longer than
/// [`MAX_MESSAGE_CHARS`] is cut the same way.
pub fn shorten(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE_CHARS + 64));
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = &rest[open..=open];
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let Some(close) = rest.find(quote) else {
            break;
        };
        let quoted = &rest[..close];
        let length = quoted.chars().count();
        if length > MAX_QUOTED_CHARS {
            out.extend(quoted.chars().take(QUOTE_KEPT_CHARS));
            out.push_str(ELLIPSIS);
            out.push_str(quote);
            out.push_str(&format!(" ({} more characters)", length - QUOTE_KEPT_CHARS));
        } else {
            out.push_str(quoted);
            out.push_str(quote);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    let length = out.chars().count();
    if length > MAX_MESSAGE_CHARS {
        let mut cut: String = out.chars().take(MAX_MESSAGE_CHARS).collect();
        cut.push_str(&format!(
            "{ELLIPSIS} ({} more characters)",
            length - MAX_MESSAGE_CHARS
        ));
        return cut;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const RULES: &str = r#"version: 1
namespaces:
  s: "urn:example:store"
labels:
  path: "{{ input.path }}"
metrics:
  - name: store_total_rows
    help: Total rows in store
    type: gauge
    value: count(/store/row)
  - name: store_rows
    help: "Rows in store by kind"
    type: gauge
    select: /store/row
    fields: { kind: "@kind" }
    labels:
      kind: "{{ kind }}"
    aggregate: count
    buckets: [100, 1000]
"#;

    /// Builds a path from its display form, e.g. `metrics[1].labels.kind` (no quoted keys).
    fn path(text: &str) -> FieldPath {
        let mut path = FieldPath::root();
        for part in text.split('.') {
            let mut pieces = part.split('[');
            let key = pieces.next().expect("split yields at least one piece");
            if !key.is_empty() {
                path = path.key(key);
            }
            for index in pieces {
                let index = index.strip_suffix(']').expect("index ends with `]`");
                path = path.index(index.parse().expect("index is a number"));
            }
        }
        path
    }

    /// Line, column and the rest of the line from the found byte index, so a test shows both
    /// the numbers and the text they point at.
    fn found<'a>(source: &'a str, at: &str, key_position: bool) -> Option<(usize, usize, &'a str)> {
        let position = locate(source, &path(at), key_position)?;
        let rest = source[position.index..].lines().next().unwrap_or("");
        Some((position.line, position.column, rest))
    }

    #[test]
    fn field_path_display() {
        assert_eq!(
            path("metrics[1].labels.kind").to_string(),
            "metrics[1].labels.kind"
        );
        assert_eq!(FieldPath::root().to_string(), "(top level)");
        assert_eq!(
            FieldPath::root().index(0).key("name").to_string(),
            "[0].name"
        );
        assert_eq!(
            FieldPath::root().key("labels").key("a b").to_string(),
            r#"labels."a b""#
        );
        assert_eq!(
            FieldPath::root()
                .key("ns")
                .key("2x")
                .key("say \"hi\"")
                .key("_ok")
                .to_string(),
            r#"ns."2x"."say \"hi\""._ok"#
        );
        assert_eq!(FieldPath::root().key("").to_string(), r#""""#);
    }

    #[test]
    fn field_path_builders_leave_the_original_alone() {
        let metrics = FieldPath::root().key("metrics");
        let item = metrics.index(3);
        assert_eq!(metrics.0, vec![PathSegment::Key("metrics".into())]);
        assert_eq!(
            item.0,
            vec![PathSegment::Key("metrics".into()), PathSegment::Index(3)]
        );
    }

    #[test]
    fn locates_block_plain_value_with_exact_index() {
        assert_eq!(
            locate(RULES, &path("metrics[0].value"), false),
            Some(Position {
                line: 10,
                column: 12,
                index: RULES.find("count(/store/row)").unwrap(),
            })
        );
    }

    #[test]
    fn locates_values_in_block_and_flow_collections() {
        assert_eq!(
            found(RULES, "labels.path", false),
            Some((5, 9, r#""{{ input.path }}""#))
        );
        assert_eq!(
            found(RULES, "metrics[1].fields", false),
            Some((15, 13, r#"{ kind: "@kind" }"#))
        );
        assert_eq!(
            found(RULES, "metrics[1].fields.kind", false),
            Some((15, 21, r#""@kind" }"#))
        );
        assert_eq!(
            found(RULES, "metrics[1].labels", false),
            Some((17, 7, r#"kind: "{{ kind }}""#))
        );
        assert_eq!(
            found(RULES, "metrics[1].labels.kind", false),
            Some((17, 13, r#""{{ kind }}""#))
        );
        assert_eq!(
            found(RULES, "metrics[1].buckets", false),
            Some((19, 14, "[100, 1000]"))
        );
        assert_eq!(
            found(RULES, "metrics[1].buckets[1]", false),
            Some((19, 20, "1000]"))
        );
        assert_eq!(found(RULES, "version", false), Some((1, 10, "1")));
    }

    #[test]
    fn locates_sequence_items_at_their_value() {
        assert_eq!(
            found(RULES, "metrics", false),
            Some((7, 3, "- name: store_total_rows"))
        );
        assert_eq!(
            found(RULES, "metrics[1]", false),
            Some((11, 5, "name: store_rows"))
        );
        assert_eq!(found(RULES, "", false), Some((1, 1, "version: 1")));
    }

    #[test]
    fn key_position_points_at_the_key() {
        assert_eq!(
            found(RULES, "metrics[1].aggregate", true),
            Some((18, 5, "aggregate: count"))
        );
        assert_eq!(
            found(RULES, "metrics[1].aggregate", false),
            Some((18, 16, "count"))
        );
        assert_eq!(
            found(RULES, "metrics[1].fields.kind", true),
            Some((15, 15, r#"kind: "@kind" }"#))
        );
        // A path ending in an index has no key, so the item's own position is used.
        assert_eq!(
            found(RULES, "metrics[1].buckets[0]", true),
            Some((19, 15, "100, 1000]"))
        );
    }

    #[test]
    fn missing_paths_are_none() {
        for missing in [
            "metrics[2]",
            "metrics[1].labels.missing",
            "metrics[0].fields",
            "metrics.name",
            "labels[0]",
            "metrics[0].value.deeper",
            "metrics[1].buckets[2]",
            "Version",
        ] {
            assert_eq!(locate(RULES, &path(missing), false), None, "{missing}");
            assert_eq!(locate(RULES, &path(missing), true), None, "{missing}");
        }
    }

    #[test]
    fn invalid_yaml_is_none() {
        for broken in [
            "metrics: [a, b\n",
            "labels: {path: x\n",
            "a: b: c\n",
            "metrics:\n\t- name: x\n",
            "labels: *undefined\n",
            "labels: \"unterminated\n",
        ] {
            assert_eq!(
                locate(broken, &FieldPath::root(), false),
                None,
                "{broken:?}"
            );
            assert_eq!(locate(broken, &path("labels"), false), None, "{broken:?}");
        }
        // The whole document must parse, even after the place asked for.
        let broken_later = "labels:\n  path: x\nmetrics: [\n";
        assert_eq!(locate(broken_later, &path("labels.path"), false), None);
        assert_eq!(locate("", &FieldPath::root(), false), None);
    }

    #[test]
    fn skips_comments_and_blank_lines() {
        let source = "# Rules for the store export: see README.\n\
                      \n\
                      version: 1   # the format version\n\
                      \n\
                      metrics:\n\
                      \x20 # the first family, name: not_this\n\
                      \x20 - name: a   # trailing: comment\n\
                      \x20   # value: not_this_either\n\
                      \n\
                      \x20   value: count(//x)  # counts: x\n";
        assert_eq!(
            found(source, "version", false),
            Some((3, 10, "1   # the format version"))
        );
        assert_eq!(
            found(source, "metrics[0]", false),
            Some((7, 5, "name: a   # trailing: comment"))
        );
        assert_eq!(
            found(source, "metrics[0].value", false),
            Some((10, 12, "count(//x)  # counts: x"))
        );
    }

    #[test]
    fn block_scalars_point_at_their_first_line_of_text() {
        let source = "metrics:\n  - name: a\n    help: |\n      Rows in the store,\n      by kind.\n    \
                      description: >-\n      folded\n      text\n    value: count(//row)\n";
        assert_eq!(
            found(source, "metrics[0].help", false),
            Some((4, 7, "Rows in the store,"))
        );
        assert_eq!(
            found(source, "metrics[0].help", true),
            Some((3, 5, "help: |"))
        );
        assert_eq!(
            found(source, "metrics[0].description", false),
            Some((7, 7, "folded"))
        );
        assert_eq!(
            found(source, "metrics[0].value", false),
            Some((9, 12, "count(//row)"))
        );
    }

    #[test]
    fn empty_values_point_at_their_key_or_sequence() {
        let source = "labels:\n  kind:\nhelp: |\nitems:\n  - a\n  -\nlast: x\n";
        assert_eq!(found(source, "labels.kind", false), Some((2, 3, "kind:")));
        assert_eq!(found(source, "help", false), Some((3, 1, "help: |")));
        assert_eq!(found(source, "items[1]", false), Some((5, 3, "- a")));
        // An empty quoted string has a position of its own.
        assert_eq!(found("a: ''\n", "a", false), Some((1, 4, "''")));
    }

    #[test]
    fn quoted_keys_and_duplicate_keys() {
        let source = "labels:\n  \"a b\": x\n  'c': y\n  c: z\n";
        assert_eq!(found(source, "labels.c", false), Some((4, 6, "z")));
        assert_eq!(
            locate(source, &FieldPath::root().key("labels").key("a b"), false).map(|p| p.line),
            Some(2)
        );
        assert_eq!(
            locate(source, &FieldPath::root().key("labels").key("a b"), true).map(|p| p.column),
            Some(3)
        );
    }

    #[test]
    fn aliases_resolve_to_the_alias() {
        let source = "defaults: &defaults\n  kind: \"{{ kind }}\"\nmetrics:\n  - name: a\n    \
                      labels: *defaults\n    help: &h Rows\n    other: *h\n";
        assert_eq!(
            found(source, "defaults.kind", false),
            Some((2, 9, r#""{{ kind }}""#))
        );
        assert_eq!(
            found(source, "metrics[0].labels", false),
            Some((5, 13, "*defaults"))
        );
        assert_eq!(
            found(source, "metrics[0].labels.kind", false),
            Some((5, 13, "*defaults"))
        );
        assert_eq!(
            found(source, "metrics[0].labels.kind", true),
            Some((5, 13, "*defaults"))
        );
        assert_eq!(
            found(source, "metrics[0].labels", true),
            Some((5, 5, "labels: *defaults"))
        );
        assert_eq!(
            found(source, "metrics[0].other", false),
            Some((7, 12, "*h"))
        );
        // An anchor (like a tag) is not part of the value: the value starts after it.
        assert_eq!(
            found(source, "metrics[0].help", false),
            Some((6, 14, "Rows"))
        );
        assert_eq!(
            locate(source, &path("metrics[0].labels.missing"), false),
            None
        );
    }

    #[test]
    fn one_document_is_read_and_a_second_one_refused() {
        // A rule file is one document, as serde_yaml required: a second one makes the file
        // invalid rather than silently ignored.
        let source = "---\nversion: 1\n---\nversion: 2\nextra: x\n";
        assert_eq!(locate(source, &path("version"), false), None);
        let source = "---\nversion: 1\n...\n";
        assert_eq!(found(source, "version", false), Some((2, 10, "1")));
    }

    #[test]
    fn multibyte_text_crlf_and_byte_order_mark() {
        let source = "help: \"Zähler für Zeilen\"\nkind: {a: é, b: x}\n";
        assert_eq!(found(source, "kind.b", false), Some((2, 17, "x}")));
        let crlf = "a: 1\r\nb: 2\r\n";
        assert_eq!(
            locate(crlf, &path("b"), false),
            Some(Position {
                line: 2,
                column: 4,
                index: 9
            })
        );
        let bom = "\u{feff}a: x\nb: y\n";
        assert_eq!(
            locate(bom, &path("a"), false),
            Some(Position {
                line: 1,
                column: 4,
                index: 6
            })
        );
        assert_eq!(
            locate(bom, &path("a"), true),
            Some(Position {
                line: 1,
                column: 1,
                index: 3
            })
        );
        assert_eq!(
            locate(bom, &path("b"), false),
            Some(Position {
                line: 2,
                column: 4,
                index: 11
            })
        );
    }

    #[test]
    fn position_at_index_counts_characters() {
        let source = "name: \"é\"\nkind: ü x\n";
        let u = source.find('ü').unwrap();
        assert_eq!(u, 17);
        assert_eq!(
            position_at_index(source, u),
            Position {
                line: 2,
                column: 7,
                index: 17
            }
        );
        // `x` comes after a two-byte character: byte 20, but column 9.
        assert_eq!(
            position_at_index(source, 20),
            Position {
                line: 2,
                column: 9,
                index: 20
            }
        );
        // Inside `ü`: back to its first byte.
        assert_eq!(
            position_at_index(source, u + 1),
            Position {
                line: 2,
                column: 7,
                index: 17
            }
        );
        // A newline belongs to the line it ends.
        assert_eq!(
            position_at_index(source, 10),
            Position {
                line: 1,
                column: 10,
                index: 10
            }
        );
        assert_eq!(
            position_at_index(source, 0),
            Position {
                line: 1,
                column: 1,
                index: 0
            }
        );
    }

    #[test]
    fn position_at_index_clamps_out_of_range() {
        let source = "a: é\nb: x\n";
        let end = Position {
            line: 3,
            column: 1,
            index: source.len(),
        };
        assert_eq!(position_at_index(source, source.len()), end);
        assert_eq!(position_at_index(source, 1000), end);
        assert_eq!(position_at_index(source, usize::MAX), end);
        assert_eq!(
            position_at_index("", 5),
            Position {
                line: 1,
                column: 1,
                index: 0
            }
        );
    }

    /// Checks `locate` against the reference: where serde_yaml itself reports an error in the
    /// value at `at`, given a type `T` that makes exactly that value fail.
    fn assert_agrees_with_serde_yaml<T: serde::de::DeserializeOwned + fmt::Debug>(
        source: &str,
        at: &str,
    ) {
        let error =
            serde_yaml::from_str::<T>(source).expect_err("the value at `at` is not a number");
        let location = error.location().expect("serde_yaml reports a location");
        let ours = locate(source, &path(at), false).expect("the path exists");
        assert_eq!(position_at_index(source, location.index()), ours, "{error}");
        if !source.starts_with(BYTE_ORDER_MARK) {
            assert_eq!(
                (location.line(), location.column()),
                (ours.line, ours.column),
                "{error}"
            );
        }
    }

    #[test]
    fn agrees_with_serde_yaml_locations() {
        use std::collections::BTreeMap;

        // The fields are never read: these types exist only to make serde_yaml fail at one value.
        #[derive(Debug, serde::Deserialize)]
        #[expect(dead_code, reason = "only deserialized")]
        struct Rules<M> {
            metrics: Vec<M>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[expect(dead_code, reason = "only deserialized")]
        struct Value {
            value: Option<u32>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[expect(dead_code, reason = "only deserialized")]
        struct Fields {
            fields: Option<BTreeMap<String, u32>>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[expect(dead_code, reason = "only deserialized")]
        struct Labels {
            labels: BTreeMap<String, u32>,
        }

        assert_agrees_with_serde_yaml::<Rules<Value>>(RULES, "metrics[0].value");
        assert_agrees_with_serde_yaml::<Rules<Fields>>(RULES, "metrics[1].fields.kind");
        assert_agrees_with_serde_yaml::<Labels>(RULES, "labels.path");
        assert_agrees_with_serde_yaml::<Labels>("\u{feff}labels: {a: é}\n", "labels.a");
    }

    fn diagnostic(position: Option<Position>, help: Option<&str>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code: "xpath",
            message: "metrics[1].value: `count(//row])` is not a valid XPath expression".into(),
            file: "rules/store.yaml".into(),
            position,
            help: help.map(str::to_owned),
        }
    }

    #[test]
    fn renders_with_position_and_help() {
        let source = format!("{}    value: count(//row])\n", "#\n".repeat(13));
        let index = source.find("count").unwrap();
        let rendered = render(
            &diagnostic(
                Some(position_at_index(&source, index)),
                Some(
                    "try the query alone with `xml2prom explain --rules rules/store.yaml --input store.xml`",
                ),
            ),
            &source,
        );
        assert_eq!(
            rendered,
            "rules/store.yaml:14:12: error[xpath]: metrics[1].value: `count(//row])` is not a \
             valid XPath expression\n\
             \x20  |\n\
             14 |     value: count(//row])\n\
             \x20  |            ^\n\
             \x20  = help: try the query alone with `xml2prom explain --rules rules/store.yaml --input store.xml`\n"
        );
    }

    #[test]
    fn renders_without_position() {
        let rendered = render(&diagnostic(None, Some("check the query")), "");
        assert_eq!(
            rendered,
            "rules/store.yaml: error[xpath]: metrics[1].value: `count(//row])` is not a valid \
             XPath expression\n\
             \x20 = help: check the query\n"
        );
        let rendered = render(&diagnostic(None, None), "");
        assert_eq!(
            rendered,
            "rules/store.yaml: error[xpath]: metrics[1].value: `count(//row])` is not a valid \
             XPath expression\n"
        );
    }

    #[test]
    fn renders_three_digit_line_and_warning() {
        let source = format!("{}  - name: x\n", "# filler\n".repeat(104));
        let position = locate(&source, &FieldPath::root().index(0), true).unwrap();
        let warning = Diagnostic {
            severity: Severity::Warning,
            code: "no-help",
            message: "metrics[0]: `x` has no HELP text".into(),
            file: "rules/big.yaml".into(),
            position: Some(position),
            help: None,
        };
        assert_eq!(
            render(&warning, &source),
            "rules/big.yaml:105:5: warning[no-help]: metrics[0]: `x` has no HELP text\n\
             \x20   |\n\
             105 |   - name: x\n\
             \x20   |     ^\n"
        );
    }

    #[test]
    fn renders_one_digit_line_empty_line_and_caret_past_the_end() {
        let source = "a: 1\n\nb: [\r\n";
        let at = |line, column| {
            Some(Position {
                line,
                column,
                index: 0,
            })
        };
        assert_eq!(
            render(&diagnostic(at(2, 1), None), source),
            "rules/store.yaml:2:1: error[xpath]: metrics[1].value: `count(//row])` is not a valid \
             XPath expression\n\
             \x20 |\n\
             2 |\n\
             \x20 | ^\n"
        );
        assert_eq!(
            render(&diagnostic(at(3, 99), None), source),
            "rules/store.yaml:3:99: error[xpath]: metrics[1].value: `count(//row])` is not a valid \
             XPath expression\n\
             \x20 |\n\
             3 | b: [\n\
             \x20 |     ^\n"
        );
        // A line the source does not have: only the file and position.
        assert_eq!(
            render(&diagnostic(at(9, 1), Some("h")), source),
            "rules/store.yaml:9:1: error[xpath]: metrics[1].value: `count(//row])` is not a valid \
             XPath expression\n\
             \x20 = help: h\n"
        );
    }

    #[test]
    fn renders_tabs_and_control_characters_as_one_space() {
        let source = "a:\t\"x\u{1b}y\"  \n";
        let position = position_at_index(source, source.find('y').unwrap());
        assert_eq!(position.column, 7);
        assert_eq!(
            render(&diagnostic(Some(position), None), source),
            "rules/store.yaml:1:7: error[xpath]: metrics[1].value: `count(//row])` is not a valid \
             XPath expression\n\
             \x20 |\n\
             1 | a: \"x y\"\n\
             \x20 |       ^\n"
        );
    }

    #[test]
    fn renders_multi_line_message_and_help_aligned() {
        let diagnostic = Diagnostic {
            severity: Severity::Error,
            code: "write",
            message: "cannot write store.prom: permission denied\n\nthe previous file is unchanged"
                .into(),
            file: "rules/store.yaml".into(),
            position: None,
            help: Some("run as a user who may write there\nor pick another --output".into()),
        };
        assert_eq!(
            render(&diagnostic, ""),
            "rules/store.yaml: error[write]: cannot write store.prom: permission denied\n\
             \n\
             \x20                               the previous file is unchanged\n\
             \x20 = help: run as a user who may write there\n\
             \x20         or pick another --output\n"
        );
    }

    #[test]
    fn cuts_long_lines_around_the_caret() {
        let source = format!("    value: {}BAD{}\n", "x".repeat(300), "y".repeat(300));
        let bad = position_at_index(&source, source.find("BAD").unwrap());
        assert_eq!(bad.column, 312);
        assert_eq!(
            render(&diagnostic(Some(bad), None), &source),
            format!(
                "rules/store.yaml:1:312: error[xpath]: metrics[1].value: `count(//row])` is not a \
                 valid XPath expression\n  |\n1 | ...{}BAD{}...\n  | {}^\n",
                "x".repeat(80),
                "y".repeat(97),
                " ".repeat(83),
            )
        );
        let start = position_at_index(&source, 4);
        assert_eq!(
            render(&diagnostic(Some(start), None), &source),
            format!(
                "rules/store.yaml:1:5: error[xpath]: metrics[1].value: `count(//row])` is not a \
                 valid XPath expression\n  |\n1 |     value: {}...\n  |     ^\n",
                "x".repeat(169),
            )
        );
        // Right at the end: the window keeps its full width, cut on the left only.
        let end = position_at_index(&source, source.len() - 2);
        assert_eq!(
            render(&diagnostic(Some(end), None), &source),
            format!(
                "rules/store.yaml:1:614: error[xpath]: metrics[1].value: `count(//row])` is not a \
                 valid XPath expression\n  |\n1 | ...{}\n  | {}^\n",
                "y".repeat(180),
                " ".repeat(3 + 179),
            )
        );
    }
}
