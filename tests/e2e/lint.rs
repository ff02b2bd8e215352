//! Our own strict checker of the Prometheus text exposition format 0.0.4, as node_exporter's
//! textfile collector reads it: text in, a list of problems out.
//!
//! `promtool check metrics` (2.42) parses with the same Go library as node_exporter
//! (`expfmt.TextParser` in prometheus/common) but does not report duplicate series or a family
//! split in two, and node_exporter 1.5.0 reads both without a scrape error: it merges a split
//! family and silently serves only one of two duplicate series (it merely logs "was collected
//! before with the same name and label values"). [`lint`] reports those, everything the Go parser
//! rejects (which makes node_exporter skip the whole file), a label name starting with `__`
//! (which makes node_exporter 1.5.0 panic and exit), and samples the parser silently drops. It is
//! stricter than Go where Prometheus' own writer is: numbers as Prometheus writes them
//! (`+Inf`, not `inf`), no blank lines, lower-case types.
//!
//! Every problem reads `line N: what is wrong`; [`assert_clean`] shows them with the numbered text.
//! [`samples`] parses the sample lines for semantic comparisons, since node_exporter re-serialises
//! what it reads (label order, number format).
//!
//! Format reference: <https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>

use std::collections::{BTreeMap, HashMap};

/// Checks `text` against everything node_exporter's textfile collector and the text format 0.0.4
/// require; returns every problem found (empty = clean).
///
/// Each problem starts with the line it concerns, sorted by line, e.g.
/// ``line 3: duplicate series `a{x="1"}`: same name and labels as line 2``. A negative counter
/// is reported too, prefixed `warning: `, since node_exporter serves it but it breaks `rate()`.
/// The empty text is clean (node_exporter reads an empty file as no metrics).
pub fn lint(text: &str) -> Vec<String> {
    let mut checker = Checker::default();
    for (n, line) in split_lines(text, &mut checker.problems) {
        match parse_line(line, n, &mut checker.problems) {
            Some(Parsed::Help(name)) => checker.help(n, name),
            Some(Parsed::Type(name, kind)) => checker.declare_type(n, name, kind),
            Some(Parsed::Sample(sample)) => checker.sample(n, sample),
            None => {}
        }
    }
    checker.finish()
}

/// Panics with all problems and the text, numbered by line, if [`lint`] finds any.
///
/// The message looks like:
///
/// ```text
/// the exposition text has 1 problem:
///   line 2: `a` has a timestamp (`17`); node_exporter's textfile collector rejects a file with timestamps
/// --- text:
///    1 | # TYPE a gauge
///    2 | a 1 17
/// ```
pub fn assert_clean(text: &str) {
    let problems = lint(text);
    if problems.is_empty() {
        return;
    }
    let mut message = format!(
        "the exposition text has {} problem{}:\n",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for problem in &problems {
        message.push_str(&format!("  {problem}\n"));
    }
    message.push_str("--- text:\n");
    for (i, line) in text.split_inclusive('\n').enumerate() {
        // `{:?}`-style escaping would hide what the file looks like; only make the line end visible
        // when it is not a plain `\n`.
        let shown = match line.strip_suffix('\n') {
            Some(body) if body.ends_with('\r') => format!("{}\\r", &body[..body.len() - 1]),
            Some(body) => body.to_string(),
            None => format!("{line}    <- no newline at the end of the file"),
        };
        message.push_str(&format!("{:>4} | {shown}\n", i + 1));
    }
    panic!("{message}");
}

/// A label set as [`samples`] returns it: (label name, unescaped value) pairs.
pub type Labels = Vec<(String, String)>;

/// Parses every sample line of `text` into (metric name, labels, value), in file order.
///
/// Labels are unescaped, sorted by name, and those with an empty value are left out (Prometheus
/// and node_exporter treat `x=""` as no `x` label). The values of `le` and `quantile` labels are
/// rewritten in one canonical form (`0.5`, `1`, `+Inf`), because node_exporter re-serialises a
/// bucket bound `1.0` as `1`. Timestamps are ignored. Comment, HELP, TYPE and blank lines are
/// skipped.
///
/// Panics if a sample line cannot be read; run [`lint`] first for a full report.
pub fn samples(text: &str) -> Vec<(String, Labels, f64)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut problems = Problems::default();
        match parse_sample(line, i + 1, &mut problems) {
            Some(Sample {
                name,
                labels,
                value: Some(value),
                ..
            }) => {
                out.push((name, normalise_labels(labels), value));
            }
            _ => panic!(
                "samples: cannot read line {} `{line}`:\n{}",
                i + 1,
                problems.render().join("\n")
            ),
        }
    }
    out
}

/// Sorts labels by name, drops empty values and makes `le` and `quantile` values canonical.
fn normalise_labels(labels: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = labels
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| match (name.as_str(), parse_value(&value)) {
            ("le" | "quantile", Ok(number)) => (name, canonical_number(number)),
            _ => (name, value),
        })
        .collect();
    labels.sort();
    labels
}

/// Writes a number the way Prometheus does for the special values, and as Rust's shortest
/// round-trip decimal otherwise; only used to compare bounds, so any one-to-one form would do.
fn canonical_number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{value}")
    }
}

/// Problems with the line each concerns; rendered sorted by line, in order of discovery within one.
#[derive(Default)]
struct Problems(Vec<(usize, String)>);

impl Problems {
    fn push(&mut self, line: usize, message: impl Into<String>) {
        self.0.push((line, message.into()));
    }

    fn render(mut self) -> Vec<String> {
        self.0.sort_by_key(|(line, _)| *line);
        self.0
            .into_iter()
            .map(|(line, message)| format!("line {line}: {message}"))
            .collect()
    }
}

/// Splits the text into numbered lines, reporting line-ending problems and dropping blank lines.
fn split_lines<'a>(text: &'a str, problems: &mut Problems) -> Vec<(usize, &'a str)> {
    if text.is_empty() {
        return Vec::new();
    }
    let body = match text.strip_suffix('\n') {
        Some(body) => body,
        None => {
            problems.push(
                text.split('\n').count(),
                "the file does not end with a newline; node_exporter rejects it (unexpected end of input stream)",
            );
            text
        }
    };
    let lines: Vec<&str> = body.split('\n').collect();
    let is_blank = |line: &str| line.trim_matches([' ', '\t', '\r']).is_empty();
    let trailing_blanks_from = lines
        .iter()
        .rposition(|line| !is_blank(line))
        .map_or(0, |i| i + 1);
    let mut out = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        let n = i + 1;
        let line = match line.strip_suffix('\r') {
            Some(line) => {
                problems.push(n, "line ends with `\\r`; use `\\n` line endings, not `\\r\\n` (node_exporter reads `\\r` as part of the value)");
                line
            }
            None => line,
        };
        if is_blank(line) {
            if i >= trailing_blanks_from {
                problems.push(
                    n,
                    "blank line at the end of the file; the file must end with exactly one `\\n`",
                );
            } else {
                problems.push(n, "blank line");
            }
            continue;
        }
        out.push((n, line));
    }
    out
}

/// The metric types of format 0.0.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl Kind {
    fn parse(text: &str) -> Option<Kind> {
        Some(match text {
            "counter" => Kind::Counter,
            "gauge" => Kind::Gauge,
            "histogram" => Kind::Histogram,
            "summary" => Kind::Summary,
            "untyped" => Kind::Untyped,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
            Kind::Untyped => "untyped",
        }
    }
}

/// One sample line: labels in file order, values unescaped.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    /// `None` when the value is not a number as Prometheus writes it (already reported).
    value: Option<f64>,
    value_text: String,
}

/// A line that matters for the checks across lines; plain comments and broken lines are `None`.
enum Parsed {
    Help(String),
    Type(String, Option<Kind>),
    Sample(Sample),
}

/// Reads the text of a line, always advancing, so every loop over it ends with the line.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.rest = &self.rest[c.len_utf8()..];
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.rest = &self.rest[1..];
            true
        } else {
            false
        }
    }

    /// Skips spaces and tabs, the only blanks the Go parser allows between tokens.
    fn skip_blanks(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let end = self
            .rest
            .find(|c: char| !keep(c))
            .unwrap_or(self.rest.len());
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        token
    }

    fn token(&mut self) -> &'a str {
        self.take_while(|c| c != ' ' && c != '\t')
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses a sample value or a bucket or quantile bound.
///
/// Accepts what Go's `strconv.ParseFloat` accepts in the forms Prometheus writes: decimals with an
/// optional exponent, `NaN`, `+Inf`, `-Inf`. Go would also take `inf`, `Infinity` or `nan` in any
/// case; Prometheus never writes those, so they are reported. Hex floats and `_` are refused by
/// the Go parser itself, and a decimal beyond the f64 range is a range error there.
fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => return Ok(f64::NAN),
        "+Inf" => return Ok(f64::INFINITY),
        "-Inf" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    if text.is_empty() {
        return Err("the value is empty".to_string());
    }
    if !is_decimal(text) {
        return Err(format!(
            "`{text}` is not a number as Prometheus writes it; use a decimal such as `1.5` or `2e-3`, `NaN`, `+Inf` or `-Inf`"
        ));
    }
    let value: f64 = text
        .parse()
        .expect("a checked decimal always parses as f64");
    if value.is_infinite() {
        return Err(format!(
            "`{text}` is too large for a 64-bit float (Go's ParseFloat reports a range error)"
        ));
    }
    Ok(value)
}

/// `[+-]?(digits[.digits?] | .digits)([eE][+-]?digits)?`
fn is_decimal(text: &str) -> bool {
    let mut c = Cursor { rest: text };
    let _ = c.eat('+') || c.eat('-');
    let integer = c.take_while(|c| c.is_ascii_digit());
    let fraction = if c.eat('.') {
        c.take_while(|c| c.is_ascii_digit())
    } else {
        ""
    };
    if integer.is_empty() && fraction.is_empty() {
        return false;
    }
    if c.eat('e') || c.eat('E') {
        let _ = c.eat('+') || c.eat('-');
        if c.take_while(|c| c.is_ascii_digit()).is_empty() {
            return false;
        }
    }
    c.rest.is_empty()
}

/// Parses one non-blank line; reports what is wrong within it.
fn parse_line(line: &str, n: usize, problems: &mut Problems) -> Option<Parsed> {
    // The Go parser skips leading blanks, so do we.
    let line = line.trim_start_matches([' ', '\t']);
    match line.strip_prefix('#') {
        Some(comment) => parse_comment(comment, n, problems),
        None => parse_sample(line, n, problems).map(Parsed::Sample),
    }
}

/// Parses what follows `#`: HELP, TYPE, or any other comment (ignored).
fn parse_comment(comment: &str, n: usize, problems: &mut Problems) -> Option<Parsed> {
    let mut c = Cursor { rest: comment };
    c.skip_blanks();
    let keyword = c.token();
    if keyword != "HELP" && keyword != "TYPE" {
        return None;
    }
    c.skip_blanks();
    let name = c.token();
    if name.is_empty() {
        problems.push(n, format!("`# {keyword}` names no metric"));
        return None;
    }
    if !is_metric_name(name) {
        problems.push(
            n,
            format!("`{name}` in `# {keyword}` is not a valid metric name; names match [a-zA-Z_:][a-zA-Z0-9_:]*"),
        );
        return None;
    }
    c.skip_blanks();
    if keyword == "HELP" {
        check_help_text(c.rest, name, n, problems);
        return Some(Parsed::Help(name.to_string()));
    }
    let kind_text = c.token();
    c.skip_blanks();
    if !c.rest.is_empty() {
        problems.push(
            n,
            format!("unexpected `{}` after the type of `{name}`", c.rest),
        );
    }
    let kind = if kind_text.is_empty() {
        problems.push(
            n,
            format!(
                "`# TYPE {name}` names no type; use counter, gauge, histogram, summary or untyped"
            ),
        );
        None
    } else {
        let kind = Kind::parse(kind_text);
        if kind.is_none() {
            problems.push(
                n,
                format!("`{kind_text}` is not a metric type; use counter, gauge, histogram, summary or untyped"),
            );
        }
        kind
    };
    Some(Parsed::Type(name.to_string(), kind))
}

/// HELP text may escape only `\\` and `\n`; the Go parser rejects the file for any other escape.
fn check_help_text(text: &str, name: &str, n: usize, problems: &mut Problems) {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            continue;
        }
        match chars.next() {
            Some('\\' | 'n') => {}
            Some(other) => problems.push(
                n,
                format!("invalid escape `\\{other}` in the HELP text of `{name}`; only `\\\\` and `\\n` are allowed"),
            ),
            None => problems.push(
                n,
                format!("the HELP text of `{name}` ends with a lone `\\`; write `\\\\` for a backslash"),
            ),
        }
    }
}

/// Parses `name{label="value",...} value [timestamp]` with the Go parser's tolerance for blanks.
fn parse_sample(line: &str, n: usize, problems: &mut Problems) -> Option<Sample> {
    let mut c = Cursor { rest: line };
    let name = c.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !is_metric_name(name) || !matches!(c.peek(), None | Some(' ' | '\t' | '{')) {
        let token = line.split([' ', '\t', '{']).next().unwrap_or_default();
        problems.push(
            n,
            if token.is_empty() {
                "the sample has no metric name".to_string()
            } else {
                format!(
                    "`{token}` is not a valid metric name; names match [a-zA-Z_:][a-zA-Z0-9_:]*"
                )
            },
        );
        return None;
    }
    let mut labels: Vec<(String, String)> = Vec::new();
    c.skip_blanks();
    if c.eat('{') {
        // Each round consumes at least a label name, so the loop ends with the line.
        loop {
            c.skip_blanks();
            if c.eat('}') {
                break;
            }
            let label = c.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
            if label.is_empty() {
                problems.push(
                    n,
                    match c.peek() {
                        None => format!("the label set of `{name}` is not closed with `}}`"),
                        Some(other) => {
                            format!("expected a label name in `{name}`, found `{other}`")
                        }
                    },
                );
                return None;
            }
            if !is_label_name(label) {
                problems.push(
                    n,
                    format!(
                        "`{label}` is not a valid label name; names match [a-zA-Z_][a-zA-Z0-9_]*"
                    ),
                );
            } else if label.starts_with("__") {
                problems.push(
                    n,
                    format!("label name `{label}` is reserved: names starting with `__` are for Prometheus' internal use (node_exporter 1.5.0 crashes on it)"),
                );
            }
            if labels.iter().any(|(existing, _)| existing == label) {
                problems.push(
                    n,
                    format!("label `{label}` appears twice in one sample of `{name}`"),
                );
            }
            c.skip_blanks();
            if !c.eat('=') {
                problems.push(n, format!("expected `=` after label `{label}` of `{name}`"));
                return None;
            }
            c.skip_blanks();
            if !c.eat('"') {
                problems.push(
                    n,
                    format!("the value of label `{label}` of `{name}` must be in double quotes"),
                );
                return None;
            }
            let value = read_label_value(&mut c, name, label, n, problems)?;
            labels.push((label.to_string(), value));
            c.skip_blanks();
            if c.eat(',') {
                continue;
            }
            if c.eat('}') {
                break;
            }
            problems.push(
                n,
                if c.rest.is_empty() {
                    format!("the label set of `{name}` is not closed with `}}`")
                } else {
                    format!("expected `,` or `}}` after label `{label}` of `{name}`")
                },
            );
            return None;
        }
    }
    c.skip_blanks();
    let value_text = c.token();
    if value_text.is_empty() {
        problems.push(n, format!("`{name}` has no value"));
        return None;
    }
    let value = match parse_value(value_text) {
        Ok(value) => Some(value),
        Err(problem) => {
            problems.push(n, format!("value of `{name}`: {problem}"));
            None
        }
    };
    c.skip_blanks();
    if !c.rest.is_empty() {
        let timestamp = c.token();
        problems.push(
            n,
            format!("`{name}` has a timestamp (`{timestamp}`); node_exporter's textfile collector rejects a file with timestamps"),
        );
        c.skip_blanks();
        if !c.rest.is_empty() {
            problems.push(
                n,
                format!("unexpected `{}` after the timestamp of `{name}`", c.rest),
            );
        }
    }
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
        value_text: value_text.to_string(),
    })
}

/// Reads a label value after its opening quote; it may escape only `\\`, `\"` and `\n`.
fn read_label_value(
    c: &mut Cursor,
    name: &str,
    label: &str,
    n: usize,
    problems: &mut Problems,
) -> Option<String> {
    let mut value = String::new();
    let unclosed = format!("the value of label `{label}` of `{name}` has no closing `\"`");
    // Each round consumes a character, so the loop ends with the line.
    loop {
        match c.bump() {
            None => {
                problems.push(n, unclosed);
                return None;
            }
            Some('"') => return Some(value),
            Some('\\') => match c.bump() {
                Some('\\') => value.push('\\'),
                Some('"') => value.push('"'),
                Some('n') => value.push('\n'),
                Some(other) => {
                    problems.push(
                        n,
                        format!("invalid escape `\\{other}` in the value of label `{label}` of `{name}`; only `\\\\`, `\\\"` and `\\n` are allowed"),
                    );
                    value.push('\\');
                    value.push(other);
                }
                None => {
                    problems.push(n, unclosed);
                    return None;
                }
            },
            Some(other) => value.push(other),
        }
    }
}

/// What is known about one metric family so far.
struct Family {
    kind: Option<Kind>,
    first_line: usize,
    help_line: Option<usize>,
    type_line: Option<usize>,
    first_sample_line: Option<usize>,
    split_reported: bool,
}

/// The part a sample plays in its family.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Counter, gauge, untyped, or a summary's quantile sample: the name is the family's.
    Plain,
    Bucket,
    Sum,
    Count,
}

struct Bucket {
    le: f64,
    le_text: String,
    count: Option<f64>,
    count_text: String,
    line: usize,
}

/// The samples of one histogram or summary with one label set (without `le` / `quantile`).
struct Group {
    kind: Kind,
    first_line: usize,
    buckets: Vec<Bucket>,
    sum_line: Option<usize>,
    /// Value (if it is a number), its text and its line.
    count: Option<(Option<f64>, String, usize)>,
}

/// The checks that span lines, fed one parsed line at a time.
#[derive(Default)]
struct Checker {
    problems: Problems,
    families: HashMap<String, Family>,
    /// The family of the latest HELP, TYPE or sample line.
    current: Option<String>,
    /// Family -> the family that followed its group of lines, and where.
    left_for: HashMap<String, (String, usize)>,
    /// (name, normalised labels) -> line of the first such series.
    series: HashMap<(String, Vec<(String, String)>), usize>,
    /// (family, labels without `le` / `quantile`) -> samples of a histogram or summary.
    groups: BTreeMap<(String, Vec<(String, String)>), Group>,
}

impl Checker {
    fn family(&mut self, name: &str, n: usize) -> &mut Family {
        self.families.entry(name.to_string()).or_insert(Family {
            kind: None,
            first_line: n,
            help_line: None,
            type_line: None,
            first_sample_line: None,
            split_reported: false,
        })
    }

    /// The family a sample belongs to, as the Go parser decides it: its own name if that family
    /// exists, else the histogram or summary it is a `_bucket`, `_sum` or `_count` of.
    fn family_of(&self, sample_name: &str) -> String {
        if self.families.contains_key(sample_name) {
            return sample_name.to_string();
        }
        let parts: [(&str, &[Kind]); 3] = [
            ("_bucket", &[Kind::Histogram]),
            ("_sum", &[Kind::Histogram, Kind::Summary]),
            ("_count", &[Kind::Histogram, Kind::Summary]),
        ];
        for (suffix, kinds) in parts {
            if let Some(base) = sample_name.strip_suffix(suffix)
                && let Some(family) = self.families.get(base)
                && family.kind.is_some_and(|kind| kinds.contains(&kind))
            {
                return base.to_string();
            }
        }
        sample_name.to_string()
    }

    /// Notes that line `n` belongs to `family`; reports the family as split if it had lines
    /// before another family's.
    fn enter(&mut self, n: usize, family: &str) {
        if self.current.as_deref() == Some(family) {
            return;
        }
        if let Some(previous) = self.current.take() {
            self.left_for
                .entry(previous)
                .or_insert((family.to_string(), n));
        }
        self.current = Some(family.to_string());
        let Some((other, at)) = self.left_for.get(family).cloned() else {
            return;
        };
        let state = self.family(family, n);
        if !state.split_reported {
            state.split_reported = true;
            self.problems.push(
                n,
                format!("family `{family}` is split: its lines are interrupted by family `{other}` at line {at}; all lines of a family must be together"),
            );
        }
    }

    fn help(&mut self, n: usize, name: String) {
        self.enter(n, &name);
        let family = self.family(&name, n);
        let problem = match (family.help_line, family.first_sample_line) {
            (Some(first), _) => Some(format!(
                "second HELP line for `{name}` (the first is line {first})"
            )),
            (None, Some(sample)) => Some(format!(
                "HELP line for `{name}` after its first sample (line {sample}); HELP and TYPE come first"
            )),
            (None, None) => None,
        };
        family.help_line.get_or_insert(n);
        if let Some(problem) = problem {
            self.problems.push(n, problem);
        }
    }

    fn declare_type(&mut self, n: usize, name: String, kind: Option<Kind>) {
        self.enter(n, &name);
        let family = self.family(&name, n);
        let problem = if let Some(first) = family.type_line {
            Some(format!(
                "second TYPE line for `{name}` (the first is line {first})"
            ))
        } else if let Some(sample) = family.first_sample_line {
            Some(format!(
                "TYPE line for `{name}` after its first sample (line {sample}); HELP and TYPE come first"
            ))
        } else {
            // Only a TYPE before any sample decides how the samples are read, as in the Go parser.
            family.kind = kind;
            None
        };
        family.type_line.get_or_insert(n);
        if let Some(problem) = problem {
            self.problems.push(n, problem);
        }
    }

    fn sample(&mut self, n: usize, sample: Sample) {
        let family_name = self.family_of(&sample.name);
        self.enter(n, &family_name);
        let family = self.family(&family_name, n);
        family.first_sample_line.get_or_insert(n);
        let kind = family.kind.unwrap_or(Kind::Untyped);
        let name = sample.name.as_str();
        let role = match name.strip_prefix(family_name.as_str()) {
            Some("_bucket") => Role::Bucket,
            Some("_sum") => Role::Sum,
            Some("_count") => Role::Count,
            _ => Role::Plain,
        };
        let label = |wanted: &str| {
            sample
                .labels
                .iter()
                .find(|(l, _)| l == wanted)
                .map(|(_, v)| v.as_str())
        };

        // The bound that `le` or `quantile` gives this sample, if its role has one.
        let mut bound: Option<(f64, &str)> = None;
        match (kind, role) {
            (Kind::Histogram, Role::Plain) => {
                self.problems.push(
                    n,
                    format!("`{name}` is a histogram: its samples are `{name}_bucket`, `{name}_sum` and `{name}_count` (node_exporter drops this one)"),
                );
                return;
            }
            (Kind::Histogram, Role::Bucket) => {
                match label("le") {
                    None => {
                        self.problems.push(n, format!("`{name}` has no `le` label"));
                        return;
                    }
                    Some(le) => {
                        match parse_value(le) {
                            Ok(value) if value.is_nan() => {
                                self.problems.push(n, format!("`le` of `{name}` is NaN; a bucket bound is a number or `+Inf`"));
                                return;
                            }
                            Ok(value) => bound = Some((value, le)),
                            Err(problem) => {
                                self.problems
                                    .push(n, format!("`le` of `{name}`: {problem}"));
                                return;
                            }
                        }
                    }
                }
            }
            (Kind::Histogram, Role::Sum | Role::Count) if label("le").is_some() => {
                self.problems.push(
                    n,
                    format!(
                        "`{name}` has an `le` label; only `{family_name}_bucket` samples have one"
                    ),
                );
            }
            (Kind::Summary, Role::Plain) => {
                match label("quantile") {
                    None => {
                        self.problems.push(
                        n,
                        format!("`{name}` is a summary: each `{name}` sample needs a `quantile` label (node_exporter drops this one)"),
                    );
                        return;
                    }
                    Some(quantile) => match parse_value(quantile) {
                        Ok(value) if (0.0..=1.0).contains(&value) => {
                            bound = Some((value, quantile))
                        }
                        Ok(_) => {
                            self.problems.push(n, format!("`quantile` of `{name}` is `{quantile}`; it must be between 0 and 1"));
                            return;
                        }
                        Err(problem) => {
                            self.problems
                                .push(n, format!("`quantile` of `{name}`: {problem}"));
                            return;
                        }
                    },
                }
            }
            (Kind::Summary, Role::Sum | Role::Count) if label("quantile").is_some() => {
                self.problems.push(n, format!("`{name}` has a `quantile` label; only `{family_name}` samples of a summary have one"));
            }
            _ => {}
        }

        // Duplicate series: an empty label is an absent one, and bounds compare as numbers
        // (node_exporter keeps one bucket per bound).
        let bound_label = match kind {
            Kind::Histogram => "le",
            Kind::Summary => "quantile",
            _ => "",
        };
        let mut key_labels: Vec<(String, String)> = sample
            .labels
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(label, value)| match bound {
                Some((number, _)) if label == bound_label => {
                    (label.clone(), canonical_number(number))
                }
                _ => (label.clone(), value.clone()),
            })
            .collect();
        key_labels.sort();
        if let Some(first) = self.series.get(&(sample.name.clone(), key_labels.clone())) {
            let note = if sample.labels.iter().any(|(_, value)| value.is_empty()) {
                " (a label with an empty value is the same as no label)"
            } else {
                ""
            };
            self.problems.push(
                n,
                format!(
                    "duplicate series `{}`: same name and labels as line {first}{note}",
                    series_text(name, &sample.labels)
                ),
            );
            return;
        }
        self.series
            .insert((sample.name.clone(), key_labels.clone()), n);

        if kind == Kind::Counter && sample.value.is_some_and(|value| value < 0.0) {
            self.problems.push(
                n,
                format!(
                    "warning: counter `{name}` is negative ({}); counters only go up",
                    sample.value_text
                ),
            );
        }

        if !matches!(kind, Kind::Histogram | Kind::Summary) {
            return;
        }
        if matches!(role, Role::Bucket | Role::Count)
            && let Some(value) = sample.value
            && !(value.is_finite() && value >= 0.0 && value.fract() == 0.0)
        {
            self.problems.push(
                n,
                format!("`{name}` is {}, but node_exporter keeps counts as whole numbers (uint64); use a whole non-negative number", sample.value_text),
            );
        }
        key_labels.retain(|(label, _)| label != bound_label);
        let group = self
            .groups
            .entry((family_name, key_labels))
            .or_insert(Group {
                kind,
                first_line: n,
                buckets: Vec::new(),
                sum_line: None,
                count: None,
            });
        match role {
            Role::Bucket => {
                let (le, le_text) = bound.expect("a bucket without a valid `le` returned above");
                group.buckets.push(Bucket {
                    le,
                    le_text: le_text.to_string(),
                    count: sample.value,
                    count_text: sample.value_text,
                    line: n,
                });
            }
            Role::Sum => group.sum_line = Some(n),
            Role::Count => group.count = Some((sample.value, sample.value_text, n)),
            Role::Plain => {}
        }
    }

    fn finish(mut self) -> Vec<String> {
        for ((family, labels), group) in &self.groups {
            let subject = series_text(family, labels);
            let kind = group.kind.name();
            if group.sum_line.is_none() {
                self.problems.push(
                    group.first_line,
                    format!("{kind} `{subject}` has no `{family}_sum` sample"),
                );
            }
            if group.count.is_none() {
                self.problems.push(
                    group.first_line,
                    format!("{kind} `{subject}` has no `{family}_count` sample"),
                );
            }
            if group.kind != Kind::Histogram {
                continue;
            }
            let mut buckets: Vec<&Bucket> = group.buckets.iter().collect();
            buckets.sort_by(|a, b| a.le.total_cmp(&b.le));
            for pair in buckets.windows(2) {
                let (lower, upper) = (pair[0], pair[1]);
                if let (Some(low), Some(high)) = (lower.count, upper.count)
                    && high < low
                {
                    self.problems.push(
                        upper.line,
                        format!(
                            "histogram `{subject}` is not cumulative: bucket le=\"{}\" has {} but the lower bucket le=\"{}\" (line {}) has {}",
                            upper.le_text, upper.count_text, lower.le_text, lower.line, lower.count_text
                        ),
                    );
                }
            }
            match buckets.iter().find(|bucket| bucket.le == f64::INFINITY) {
                None => self.problems.push(
                    group.first_line,
                    format!("histogram `{subject}` has no `le=\"+Inf\"` bucket"),
                ),
                Some(infinite) => {
                    if let Some((Some(count), count_text, count_line)) = &group.count
                        && infinite.count.is_some_and(|value| value != *count)
                    {
                        self.problems.push(
                            infinite.line,
                            format!(
                                "histogram `{subject}`: the `le=\"+Inf\"` bucket has {} but `{family}_count` (line {count_line}) has {count_text}; they must be equal",
                                infinite.count_text
                            ),
                        );
                    }
                }
            }
        }

        // A histogram `foo` owns the names `foo_bucket`, `foo_sum` and `foo_count`; a family of its
        // own with such a name collides with it (client_golang refuses to gather both).
        let mut owners: Vec<(&String, &Family)> = self
            .families
            .iter()
            .filter(|(_, family)| matches!(family.kind, Some(Kind::Histogram | Kind::Summary)))
            .collect();
        owners.sort_by_key(|(name, _)| *name);
        for (owner, family) in owners {
            let kind = family
                .kind
                .expect("filtered on a histogram or summary type");
            let suffixes: &[&str] = if kind == Kind::Histogram {
                &["_bucket", "_sum", "_count"]
            } else {
                &["_sum", "_count"]
            };
            for suffix in suffixes {
                let name = format!("{owner}{suffix}");
                if let Some(other) = self.families.get(&name) {
                    self.problems.push(
                        other.first_line,
                        format!(
                            "family `{name}` collides with {} `{owner}` (line {}), whose samples include `{name}`; rename one of them",
                            kind.name(),
                            family.first_line
                        ),
                    );
                }
            }
        }
        self.problems.render()
    }
}

/// `name{a="1",b="x\"y"}`, label values escaped as in the format; `name` alone without labels.
fn series_text(name: &str, labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let labels: Vec<String> = labels
        .iter()
        .map(|(label, value)| {
            let escaped = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{label}=\"{escaped}\"")
        })
        .collect();
    format!("{name}{{{}}}", labels.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// Lints `text` and compares the problems with `expected` as a whole.
    #[track_caller]
    fn problems(text: &str, expected: &[&str]) {
        assert_eq!(
            lint(text),
            expected.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "text:\n{text}"
        );
    }

    /// A file using all four types, escapes, comments and the special values, as a writer
    /// following the format would produce it.
    const CLEAN: &str = r#"# A comment that is neither HELP nor TYPE.
# HELP store_orders_total Orders taken, from C:\\store\nsecond line.
# TYPE store_orders_total counter
store_orders_total{shop="north"} 1027
store_orders_total{shop="south",till="2"} 0
# HELP store_temperature_celsius Temperature with "quotes" in help.
# TYPE store_temperature_celsius gauge
store_temperature_celsius{room="cold \"store\"",path="C:\\tmp",note="two\nlines"} -3.5
store_temperature_celsius{room="hall"} NaN
store_temperature_celsius{room="roof"} -Inf
store_temperature_celsius{room="oven"} +Inf
store_temperature_celsius{room="server"} 2.5e+01
# HELP store_request_duration_seconds Time to serve a request.
# TYPE store_request_duration_seconds histogram
store_request_duration_seconds_bucket{handler="/",le="0.1"} 2
store_request_duration_seconds_bucket{handler="/",le="0.5"} 5
store_request_duration_seconds_bucket{handler="/",le="+Inf"} 6
store_request_duration_seconds_sum{handler="/"} 1.75
store_request_duration_seconds_count{handler="/"} 6
store_request_duration_seconds_bucket{handler="/cart",le="0.1"} 0
store_request_duration_seconds_bucket{handler="/cart",le="0.5"} 0
store_request_duration_seconds_bucket{handler="/cart",le="+Inf"} 0
store_request_duration_seconds_sum{handler="/cart"} 0
store_request_duration_seconds_count{handler="/cart"} 0
# HELP store_response_size_bytes Size of responses.
# TYPE store_response_size_bytes summary
store_response_size_bytes{quantile="0"} 12
store_response_size_bytes{quantile="0.5"} 512
store_response_size_bytes{quantile="1"} 2048
store_response_size_bytes_sum 10240
store_response_size_bytes_count 12
# TYPE store_open untyped
store_open 1
store_version_info{version="1.2"} 1
"#;

    #[test]
    fn realistic_file_with_all_four_types_is_clean() {
        problems(CLEAN, &[]);
    }

    #[test]
    fn empty_text_is_clean() {
        problems("", &[]);
    }

    #[test]
    fn missing_final_newline() {
        problems(
            "# TYPE a gauge\na 1",
            &[
                "line 2: the file does not end with a newline; node_exporter rejects it (unexpected end of input stream)",
            ],
        );
    }

    #[test]
    fn more_than_one_final_newline() {
        problems(
            "a 1\n\n",
            &[
                "line 2: blank line at the end of the file; the file must end with exactly one `\\n`",
            ],
        );
        problems(
            "\n",
            &[
                "line 1: blank line at the end of the file; the file must end with exactly one `\\n`",
            ],
        );
    }

    #[test]
    fn blank_lines() {
        problems(
            "a 1\n\nb 1\n  \t\nc 1\n",
            &["line 2: blank line", "line 4: blank line"],
        );
    }

    #[test]
    fn crlf_line_endings() {
        problems(
            "a 1\r\n",
            &[
                "line 1: line ends with `\\r`; use `\\n` line endings, not `\\r\\n` (node_exporter reads `\\r` as part of the value)",
            ],
        );
    }

    #[test]
    fn help_escapes_only_backslash_and_newline() {
        problems("# HELP a One \\\\ and \\n are fine.\na 1\n", &[]);
        problems(
            "# HELP a Tab \\t and quote \\\" are not.\na 1\n",
            &[
                "line 1: invalid escape `\\t` in the HELP text of `a`; only `\\\\` and `\\n` are allowed",
                "line 1: invalid escape `\\\"` in the HELP text of `a`; only `\\\\` and `\\n` are allowed",
            ],
        );
        problems(
            "# HELP a Ends with \\\na 1\n",
            &["line 1: the HELP text of `a` ends with a lone `\\`; write `\\\\` for a backslash"],
        );
    }

    #[test]
    fn help_and_type_need_a_valid_name() {
        problems(
            "# HELP 2a Text.\n# TYPE a-b gauge\n# HELP\n",
            &[
                "line 1: `2a` in `# HELP` is not a valid metric name; names match [a-zA-Z_:][a-zA-Z0-9_:]*",
                "line 2: `a-b` in `# TYPE` is not a valid metric name; names match [a-zA-Z_:][a-zA-Z0-9_:]*",
                "line 3: `# HELP` names no metric",
            ],
        );
    }

    #[test]
    fn type_must_be_one_of_five() {
        problems(
            "# TYPE a GAUGE\na 1\n# TYPE b gaugehistogram\nb 1\n# TYPE c\nc 1\n# TYPE d gauge extra\nd 1\n",
            &[
                "line 1: `GAUGE` is not a metric type; use counter, gauge, histogram, summary or untyped",
                "line 3: `gaugehistogram` is not a metric type; use counter, gauge, histogram, summary or untyped",
                "line 5: `# TYPE c` names no type; use counter, gauge, histogram, summary or untyped",
                "line 7: unexpected `extra` after the type of `d`",
            ],
        );
    }

    #[test]
    fn at_most_one_help_and_type_per_family() {
        problems(
            "# HELP a One.\n# TYPE a gauge\n# HELP a Two.\n# TYPE a counter\na 1\n",
            &[
                "line 3: second HELP line for `a` (the first is line 1)",
                "line 4: second TYPE line for `a` (the first is line 2)",
            ],
        );
    }

    #[test]
    fn help_and_type_come_before_the_first_sample() {
        problems(
            "a 1\n# HELP a Late.\n# TYPE a gauge\n",
            &[
                "line 2: HELP line for `a` after its first sample (line 1); HELP and TYPE come first",
                "line 3: TYPE line for `a` after its first sample (line 1); HELP and TYPE come first",
            ],
        );
    }

    #[test]
    fn metric_names() {
        problems("a:b_c9 1\n_a 1\n:a 1\n", &[]);
        problems(
            "9a 1\na-b 1\n{x=\"1\"} 1\n",
            &[
                "line 1: `9a` is not a valid metric name; names match [a-zA-Z_:][a-zA-Z0-9_:]*",
                "line 2: `a-b` is not a valid metric name; names match [a-zA-Z_:][a-zA-Z0-9_:]*",
                "line 3: the sample has no metric name",
            ],
        );
    }

    #[test]
    fn label_names() {
        problems("a{_x=\"1\",y9=\"2\"} 1\n", &[]);
        problems(
            "a{9x=\"1\"} 1\nb{__x=\"1\"} 1\nc{-x=\"1\"} 1\n",
            &[
                "line 1: `9x` is not a valid label name; names match [a-zA-Z_][a-zA-Z0-9_]*",
                "line 2: label name `__x` is reserved: names starting with `__` are for Prometheus' internal use (node_exporter 1.5.0 crashes on it)",
                "line 3: expected a label name in `c`, found `-`",
            ],
        );
    }

    #[test]
    fn duplicate_label_name_in_one_sample() {
        problems(
            "a{x=\"1\",x=\"2\"} 1\n",
            &["line 1: label `x` appears twice in one sample of `a`"],
        );
    }

    #[test]
    fn label_values_escape_only_backslash_quote_and_newline() {
        problems(
            "a{x=\"tab\\there\"} 1\n",
            &[
                "line 1: invalid escape `\\t` in the value of label `x` of `a`; only `\\\\`, `\\\"` and `\\n` are allowed",
            ],
        );
        assert_eq!(
            samples("a{x=\"q\\\"b\\\\n\\n\"} 1\n"),
            vec![(
                "a".to_string(),
                vec![("x".to_string(), "q\"b\\n\n".to_string())],
                1.0
            )]
        );
    }

    #[test]
    fn broken_label_sets() {
        problems(
            "a{x=\"1\" 1\nb{x=\"1} 1\nc{x 1\nd{x=1} 1\ne{x=\"1\"\n",
            &[
                "line 1: expected `,` or `}` after label `x` of `a`",
                "line 2: the value of label `x` of `b` has no closing `\"`",
                "line 3: expected `=` after label `x` of `c`",
                "line 4: the value of label `x` of `d` must be in double quotes",
                "line 5: the label set of `e` is not closed with `}`",
            ],
        );
        // The format allows a trailing comma, an empty label set and blanks between tokens.
        problems("a{x=\"1\",} 1\nb{} 1\nc { x = \"1\" , y=\"2\" }  1\n", &[]);
    }

    #[test]
    fn values_prometheus_writes_are_accepted() {
        for value in [
            "0", "-0", "+1", "1.5", "1.", ".5", "1e3", "1E+06", "2.5e-3", "1e-400", "NaN", "+Inf",
            "-Inf",
        ] {
            problems(&format!("a {value}\n"), &[]);
        }
    }

    #[test]
    fn values_prometheus_does_not_write_are_rejected() {
        for value in [
            "inf", "Inf", "Infinity", "-inf", "nan", "+NaN", "0x10", "0x1p3", "1_000", "1,5",
            "one", "1e", ".",
        ] {
            problems(
                &format!("a {value}\n"),
                &[&format!(
                    "line 1: value of `a`: `{value}` is not a number as Prometheus writes it; use a decimal such as `1.5` or `2e-3`, `NaN`, `+Inf` or `-Inf`"
                )],
            );
        }
        problems(
            "a 1e309\n",
            &[
                "line 1: value of `a`: `1e309` is too large for a 64-bit float (Go's ParseFloat reports a range error)",
            ],
        );
        problems(
            "a\nb{x=\"1\"}\n",
            &["line 1: `a` has no value", "line 2: `b` has no value"],
        );
    }

    #[test]
    fn timestamps_are_rejected() {
        problems(
            "a 1 1700000000000\nb 1 2 3\n",
            &[
                "line 1: `a` has a timestamp (`1700000000000`); node_exporter's textfile collector rejects a file with timestamps",
                "line 2: `b` has a timestamp (`2`); node_exporter's textfile collector rejects a file with timestamps",
                "line 2: unexpected `3` after the timestamp of `b`",
            ],
        );
    }

    #[test]
    fn split_family() {
        problems(
            "# TYPE a gauge\na{x=\"1\"} 1\nb 1\na{x=\"2\"} 1\nb{x=\"2\"} 1\n",
            &[
                "line 4: family `a` is split: its lines are interrupted by family `b` at line 3; all lines of a family must be together",
                "line 5: family `b` is split: its lines are interrupted by family `a` at line 4; all lines of a family must be together",
            ],
        );
        // HELP and TYPE belong to their family's group too.
        problems(
            "# HELP a A.\nb 1\n# TYPE a gauge\na 1\n",
            &[
                "line 3: family `a` is split: its lines are interrupted by family `b` at line 2; all lines of a family must be together",
            ],
        );
        // Comments belong to no family.
        problems("a 1\n# just a note\na{x=\"1\"} 1\n", &[]);
    }

    #[test]
    fn histogram_parts_belong_to_the_histogram_family() {
        let text = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\ng 1\nh_sum 1\nh_count 1\n";
        problems(
            text,
            &[
                "line 5: family `h` is split: its lines are interrupted by family `g` at line 4; all lines of a family must be together",
            ],
        );
        // Without TYPE, `h_bucket` and `h_sum` are families of their own, each in one piece.
        problems(
            "h_bucket{le=\"1\"} 1\nh_sum 1\nh_bucket{le=\"2\"} 1\n",
            &[
                "line 3: family `h_bucket` is split: its lines are interrupted by family `h_sum` at line 2; all lines of a family must be together",
            ],
        );
    }

    #[test]
    fn duplicate_series() {
        problems(
            "a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n",
            &["line 2: duplicate series `a{y=\"2\",x=\"1\"}`: same name and labels as line 1"],
        );
        problems("a{x=\"1\"} 1\na{x=\"2\"} 1\nb{x=\"1\"} 1\n", &[]);
    }

    #[test]
    fn empty_label_value_is_an_absent_label() {
        problems(
            "a{x=\"\"} 1\na 1\n",
            &["line 2: duplicate series `a`: same name and labels as line 1"],
        );
        problems(
            "a 1\na{x=\"\"} 1\n",
            &[
                "line 2: duplicate series `a{x=\"\"}`: same name and labels as line 1 (a label with an empty value is the same as no label)",
            ],
        );
    }

    #[test]
    fn duplicate_bucket_bounds_compare_as_numbers() {
        problems(
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
            &["line 3: duplicate series `h_bucket{le=\"1.0\"}`: same name and labels as line 2"],
        );
    }

    const HISTOGRAM_HEAD: &str = "# TYPE h histogram\n";

    #[test]
    fn histogram_bucket_needs_le() {
        problems(
            &format!("{HISTOGRAM_HEAD}h_bucket 1\nh_bucket{{le=\"+Inf\"}} 1\nh_sum 1\nh_count 1\n"),
            &["line 2: `h_bucket` has no `le` label"],
        );
        problems(
            &format!(
                "{HISTOGRAM_HEAD}h_bucket{{le=\"inf\"}} 1\nh_bucket{{le=\"NaN\"}} 1\nh_bucket{{le=\"+Inf\"}} 1\nh_sum 1\nh_count 1\n"
            ),
            &[
                "line 2: `le` of `h_bucket`: `inf` is not a number as Prometheus writes it; use a decimal such as `1.5` or `2e-3`, `NaN`, `+Inf` or `-Inf`",
                "line 3: `le` of `h_bucket` is NaN; a bucket bound is a number or `+Inf`",
            ],
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        // Out of file order on purpose: cumulative means in ascending `le` order.
        problems(
            &format!(
                "{HISTOGRAM_HEAD}h_bucket{{le=\"0.5\"}} 3\nh_bucket{{le=\"0.25\"}} 5\nh_bucket{{le=\"+Inf\"}} 5\nh_sum 1\nh_count 5\n"
            ),
            &[
                "line 2: histogram `h` is not cumulative: bucket le=\"0.5\" has 3 but the lower bucket le=\"0.25\" (line 3) has 5",
            ],
        );
        problems(
            &format!(
                "{HISTOGRAM_HEAD}h_bucket{{le=\"0.5\"}} 3\nh_bucket{{le=\"0.25\"}} 1\nh_bucket{{le=\"+Inf\"}} 5\nh_sum 1\nh_count 5\n"
            ),
            &[],
        );
    }

    #[test]
    fn histogram_needs_an_infinite_bucket_equal_to_count() {
        problems(
            &format!("{HISTOGRAM_HEAD}h_bucket{{le=\"1\"}} 5\nh_sum 1\nh_count 5\n"),
            &["line 2: histogram `h` has no `le=\"+Inf\"` bucket"],
        );
        problems(
            &format!(
                "{HISTOGRAM_HEAD}h_bucket{{x=\"a\",le=\"+Inf\"}} 5\nh_sum{{x=\"a\"}} 1\nh_count{{x=\"a\"}} 6\n"
            ),
            &[
                "line 2: histogram `h{x=\"a\"}`: the `le=\"+Inf\"` bucket has 5 but `h_count` (line 4) has 6; they must be equal",
            ],
        );
    }

    #[test]
    fn histogram_needs_sum_and_count_per_label_set() {
        problems(
            &format!(
                "{HISTOGRAM_HEAD}h_bucket{{x=\"a\",le=\"+Inf\"}} 1\nh_bucket{{x=\"b\",le=\"+Inf\"}} 1\nh_sum{{x=\"a\"}} 1\nh_count{{x=\"b\"}} 1\n"
            ),
            &[
                "line 2: histogram `h{x=\"a\"}` has no `h_count` sample",
                "line 3: histogram `h{x=\"b\"}` has no `h_sum` sample",
            ],
        );
    }

    #[test]
    fn histogram_has_no_plain_samples_and_le_only_on_buckets() {
        problems(
            &format!(
                "{HISTOGRAM_HEAD}h 1\nh_bucket{{le=\"+Inf\"}} 1\nh_sum{{le=\"1\"}} 1\nh_count 1\n"
            ),
            &[
                "line 2: `h` is a histogram: its samples are `h_bucket`, `h_sum` and `h_count` (node_exporter drops this one)",
                "line 4: `h_sum` has an `le` label; only `h_bucket` samples have one",
            ],
        );
    }

    #[test]
    fn histogram_counts_are_whole_numbers() {
        problems(
            &format!(
                "{HISTOGRAM_HEAD}h_bucket{{le=\"1\"}} 0.5\nh_bucket{{le=\"+Inf\"}} 2.5\nh_sum -3\nh_count 2.5\n"
            ),
            &[
                "line 2: `h_bucket` is 0.5, but node_exporter keeps counts as whole numbers (uint64); use a whole non-negative number",
                "line 3: `h_bucket` is 2.5, but node_exporter keeps counts as whole numbers (uint64); use a whole non-negative number",
                "line 5: `h_count` is 2.5, but node_exporter keeps counts as whole numbers (uint64); use a whole non-negative number",
            ],
        );
    }

    const SUMMARY_HEAD: &str = "# TYPE s summary\n";

    #[test]
    fn summary_quantile_is_between_zero_and_one() {
        problems(
            &format!(
                "{SUMMARY_HEAD}s{{quantile=\"1.5\"}} 1\ns{{quantile=\"-0.1\"}} 1\ns{{quantile=\"NaN\"}} 1\ns{{quantile=\"x\"}} 1\ns_sum 1\ns_count 1\n"
            ),
            &[
                "line 2: `quantile` of `s` is `1.5`; it must be between 0 and 1",
                "line 3: `quantile` of `s` is `-0.1`; it must be between 0 and 1",
                "line 4: `quantile` of `s` is `NaN`; it must be between 0 and 1",
                "line 5: `quantile` of `s`: `x` is not a number as Prometheus writes it; use a decimal such as `1.5` or `2e-3`, `NaN`, `+Inf` or `-Inf`",
            ],
        );
    }

    #[test]
    fn summary_sample_needs_quantile_and_only_it_has_one() {
        problems(
            &format!("{SUMMARY_HEAD}s 1\ns_sum 1\ns_count{{quantile=\"0.5\"}} 1\n"),
            &[
                "line 2: `s` is a summary: each `s` sample needs a `quantile` label (node_exporter drops this one)",
                "line 4: `s_count` has a `quantile` label; only `s` samples of a summary have one",
            ],
        );
    }

    #[test]
    fn summary_needs_sum_and_count_per_label_set() {
        problems(
            &format!(
                "{SUMMARY_HEAD}s{{x=\"a\",quantile=\"0.5\"}} 1\ns_sum{{x=\"a\"}} 1\ns{{x=\"b\",quantile=\"0.5\"}} 1\ns_count{{x=\"b\"}} 1.5\n"
            ),
            &[
                "line 2: summary `s{x=\"a\"}` has no `s_count` sample",
                "line 4: summary `s{x=\"b\"}` has no `s_sum` sample",
                "line 5: `s_count` is 1.5, but node_exporter keeps counts as whole numbers (uint64); use a whole non-negative number",
            ],
        );
        // A summary without quantiles is fine.
        problems(&format!("{SUMMARY_HEAD}s_sum 1\ns_count 1\n"), &[]);
    }

    #[test]
    fn negative_counter_is_a_warning() {
        problems(
            "# TYPE c_total counter\nc_total{x=\"1\"} -1\nc_total{x=\"2\"} 0\n",
            &["line 2: warning: counter `c_total` is negative (-1); counters only go up"],
        );
        problems("# TYPE g gauge\ng -1\n", &[]);
    }

    #[test]
    fn family_names_owned_by_a_histogram_or_summary_collide() {
        problems(
            "# TYPE h_count gauge\nh_count 1\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n",
            &[
                "line 1: family `h_count` collides with histogram `h` (line 3), whose samples include `h_count`; rename one of them",
                "line 4: histogram `h` has no `h_count` sample",
            ],
        );
        problems(
            "# TYPE s summary\ns_sum 1\ns_count 1\n# HELP s_sum Clash.\n",
            &[
                "line 4: family `s_sum` collides with summary `s` (line 1), whose samples include `s_sum`; rename one of them",
            ],
        );
    }

    #[test]
    fn samples_are_normalised_for_comparison() {
        let text = "# HELP a A.\na{z=\"1\",a=\"2\",e=\"\"} 1.5e3 17\nh_bucket{le=\"1.0\"} 2\nh_bucket{le=\"+Inf\"} NaN\n";
        // Values as text, because NaN is not equal to itself.
        let got: Vec<(String, Labels, String)> = samples(text)
            .into_iter()
            .map(|(name, labels, value)| (name, labels, value.to_string()))
            .collect();
        let owned = |name: &str, labels: &[(&str, &str)], value: &str| {
            (
                name.to_string(),
                labels
                    .iter()
                    .map(|(l, v)| (l.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
                value.to_string(),
            )
        };
        assert_eq!(
            got,
            vec![
                owned("a", &[("a", "2"), ("z", "1")], "1500"),
                owned("h_bucket", &[("le", "1")], "2"),
                owned("h_bucket", &[("le", "+Inf")], "NaN"),
            ]
        );
    }

    #[test]
    #[should_panic(expected = "samples: cannot read line 1 `a inf`")]
    fn samples_refuses_unreadable_lines() {
        samples("a inf\n");
    }

    #[test]
    #[should_panic(
        expected = "the exposition text has 1 problem:\n  line 2: `a` has a timestamp (`17`); node_exporter's textfile collector rejects a file with timestamps\n--- text:\n   1 | # TYPE a gauge\n   2 | a 1 17\n"
    )]
    fn assert_clean_shows_problems_and_numbered_text() {
        assert_clean("# TYPE a gauge\na 1 17\n");
    }

    #[test]
    fn assert_clean_accepts_a_clean_file() {
        assert_clean(CLEAN);
    }
}
