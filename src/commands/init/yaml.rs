//! Init's YAML: a draft written as rule-file text, with comments saying what the sample holds.
//!
//! The header comment names the command that made the draft and how to try it; each rule gets
//! the survey's findings above it (counts, ranges, the most frequent values). Every scalar is
//! written plain only when YAML cannot read it as anything but that string, and quoted with
//! escapes otherwise; comments stay on one line whatever the sample holds.

use std::fmt::Write as _;

use super::draft::{Draft, Header, MAX_LABELS_PER_ELEMENT, MAX_RULES, NotLabel, Property, Use};
use super::survey::{MAX_LABEL_VALUES, MAX_NAMESPACES, MAX_PATHS, MAX_VALUE_BYTES, Values};
use crate::rules::file::SUPPORTED_VERSION;

/// How many values a comment lists, and how many characters of each it shows.
const COMMENT_VALUES: usize = 5;
const COMMENT_VALUE_CHARS: usize = 24;

/// The YAML text of the draft.
pub(super) fn render(draft: &Draft<'_>, header: &Header<'_>) -> String {
    let survey = draft.survey;
    let mut out = String::new();
    let mut command = String::from("xml2prom init");
    if let Some(prefix) = header.prefix {
        command.push_str(" --prefix ");
        command.push_str(&shell_word(prefix.as_str()));
    }
    for sample in header.samples {
        command.push(' ');
        command.push_str(&shell_word(&sample.display().to_string()));
    }
    let sample = header
        .samples
        .first()
        .map(|s| s.display().to_string())
        .unwrap_or_default();
    let comment = |out: &mut String, text: &str| {
        let _ = writeln!(out, "# {}", comment_text(text));
    };
    comment(
        &mut out,
        if header.samples.len() > 1 {
            "A draft rule file, made from several sample stores by:"
        } else {
            "A draft rule file, made from one sample store by:"
        },
    );
    comment(&mut out, &format!("  {command}"));
    comment(
        &mut out,
        &format!(
            "The sample has {} elements; the counts and numbers in the comments are what it \
             holds.",
            survey.elements
        ),
    );
    comment(
        &mut out,
        "Review it: keep the rules you need, rename them, say in each help text what the \
         number means,",
    );
    comment(
        &mut out,
        "and check that every label stays low in distinct values on real stores.",
    );
    if survey.paths_left_out {
        comment(
            &mut out,
            &format!(
                "The sample has more than {MAX_PATHS} element paths; those past the first \
                 {MAX_PATHS} were not surveyed."
            ),
        );
    }
    if survey.namespaces_left_out {
        comment(
            &mut out,
            &format!(
                "The sample uses more than {MAX_NAMESPACES} namespaces; elements in the \
                 others were not surveyed."
            ),
        );
    }
    if draft.rules_left_out > 0 {
        comment(
            &mut out,
            &format!(
                "The draft stops at {MAX_RULES} rules; {} more were left out.",
                draft.rules_left_out
            ),
        );
    }
    comment(
        &mut out,
        &format!(
            "Try it: xml2prom run --rules {} --input {} --output -",
            shell_word(header.rules),
            shell_word(&sample)
        ),
    );
    for note in &draft.notes {
        comment(&mut out, &format!("Left out: {note}."));
    }
    let _ = writeln!(out, "version: {SUPPORTED_VERSION}");
    if !draft.absent.is_empty() {
        out.push_str("# Texts the sample writes where a number is missing: such a value is absent, not an error.\n");
        let list: Vec<String> = draft.absent.iter().map(|a| double_quoted(a)).collect();
        let _ = writeln!(out, "absent: [{}]", list.join(", "));
    }
    if !survey.namespaces.is_empty() {
        out.push_str("namespaces:\n");
        for (namespace, prefix) in survey.namespaces.iter().zip(&draft.bound) {
            let _ = writeln!(
                out,
                "  {}: {}",
                yaml_scalar(prefix),
                yaml_scalar(&namespace.uri)
            );
        }
    }
    out.push_str("metrics:\n");
    for (index, rule) in draft.rules.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        for line in &rule.comment {
            let _ = writeln!(out, "  # {}", comment_text(line));
        }
        let _ = writeln!(out, "  - name: {}", yaml_scalar(&rule.name));
        let _ = writeln!(out, "    help: {}", yaml_scalar(&rule.help));
        out.push_str("    type: gauge\n");
        if let Some(select) = &rule.select {
            let _ = writeln!(out, "    select: {}", yaml_scalar(select));
        }
        for (key, entries) in [("fields", &rule.fields), ("labels", &rule.labels)] {
            if entries.is_empty() {
                continue;
            }
            let _ = writeln!(out, "    {key}:");
            for (name, text) in entries {
                let _ = writeln!(out, "      {}: {}", yaml_scalar(name), yaml_scalar(text));
            }
        }
        if let Some(value) = &rule.value {
            let _ = writeln!(out, "    value: {}", yaml_scalar(value));
        }
        if let Some(aggregate) = rule.aggregate {
            let _ = writeln!(out, "    aggregate: {aggregate}");
        }
        if let Some((regex, factor)) = &rule.convert {
            let mut parts = Vec::new();
            if let Some(regex) = regex {
                parts.push(format!("regex: {}", single_quoted(regex)));
            }
            if let Some((key, number)) = factor {
                parts.push(format!("{key}: {number}"));
            }
            let _ = writeln!(out, "    convert: {{ {} }}", parts.join(", "));
        }
        if let Some(on_missing) = rule.on_missing {
            let _ = writeln!(out, "    on_missing: {on_missing}");
        }
        if !rule.allow_lints.is_empty() {
            for (code, why) in &rule.allow_lints {
                let _ = writeln!(out, "    # {}", comment_text(&format!("{code}: {why}")));
            }
            let codes: Vec<&str> = rule.allow_lints.iter().map(|(code, _)| *code).collect();
            let _ = writeln!(out, "    allow_lints: [{}]", codes.join(", "));
        }
    }
    out
}

/// A YAML double-quoted scalar (always quoted, for flow lists).
fn double_quoted(text: &str) -> String {
    let quoted = yaml_scalar(text);
    if quoted.starts_with('"') {
        quoted
    } else {
        format!("\"{text}\"")
    }
}

/// A YAML single-quoted scalar, for regexes: backslashes stay as they are.
fn single_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `all 6 <row>` or `4 of 6 <row>`.
pub(super) fn on_how_many(present: u64, elements: u64, element: &str) -> String {
    if present == elements {
        format!("all {elements} {element}")
    } else {
        format!("{present} of {elements} {element}")
    }
}

/// One line of the survey comment above an element's count rule.
pub(super) fn describe_property(
    property: &Property<'_>,
    used: Use,
    elements: u64,
    element: &str,
) -> String {
    let values = property.values;
    if values.present == 0 {
        return format!("{}: never present", property.about);
    }
    let mut line = format!(
        "{}: on {}, ",
        property.about,
        on_how_many(values.present, elements, element)
    );
    if values.all_numbers() {
        line.push_str(&describe_numbers(values));
    } else if used == Use::SomeNotNumbers {
        let _ = write!(
            line,
            "{} of {} values are numbers",
            values.numbers, values.present
        );
        if values.padded_numbers > 0 {
            let _ = write!(
                line,
                " ({} more with spaces around them)",
                values.padded_numbers
            );
        }
    } else if values.long {
        let _ = write!(line, "values longer than {MAX_VALUE_BYTES} bytes");
    } else if values.many {
        let _ = write!(line, "more than {MAX_LABEL_VALUES} distinct values");
    } else if used == Use::Label || values.distinct.len() == 1 {
        line.push_str(&list_values(values));
    } else {
        let _ = write!(line, "{} distinct values", values.distinct.len());
    }
    let limit = format!(
        "could be a label; left out, a draft keeps {MAX_LABELS_PER_ELEMENT} labels per element"
    );
    let verdict = match used {
        Use::Label => "a label below",
        Use::Summed => "summed below",
        Use::Identifier => "an identifier by its name, not summed",
        Use::SomeNotNumbers => "not summed, a value that is not a number fails the run",
        Use::LabelLimit => &limit,
        Use::NotSummable => "a ratio, average or timestamp, not summed",
        Use::WithUnit => "numbers with a unit or texts meaning no value, not summed",
        Use::NotNumbersNotLabel(NotLabel::AbsentTexts) => {
            "texts meaning no value among them, not a label"
        }
        Use::NotNumbersNotLabel(NotLabel::TooMany) => "too many values for a label",
        Use::NotNumbersNotLabel(NotLabel::OneValue) => "one value only, not a label",
        Use::NotNumbersNotLabel(NotLabel::HardlyRepeat) => "values hardly repeat, not a label",
        Use::NotNumbersNotLabel(NotLabel::TooRare) => "on too few elements for a label",
        Use::NotNumbersNotLabel(NotLabel::Absent) => "never present",
    };
    let _ = write!(line, ": {verdict}");
    line
}

/// `numbers from 64 to 2048`, `always 3`, `NaN`.
pub(super) fn describe_numbers(values: &Values) -> String {
    match values.range {
        Some((low, high)) if low == high && values.numbers == 1 => number_text(low),
        Some((low, high)) if low == high => format!("always {}", number_text(low)),
        Some((low, high)) => format!("numbers from {} to {}", number_text(low), number_text(high)),
        None => "NaN".to_owned(),
    }
}

/// A number for a comment, short: `2048`, `0.05`, `1e21`, `+Inf`.
fn number_text(number: f64) -> String {
    if number.is_infinite() {
        return if number > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let magnitude = number.abs();
    if magnitude != 0.0 && !(1e-4..1e15).contains(&magnitude) {
        format!("{number:e}")
    } else {
        format!("{number}")
    }
}

/// `3 values: order (3), invoice (2), customer (1)`: the most frequent first, shortened.
pub(super) fn list_values(values: &Values) -> String {
    let mut sorted: Vec<&(String, u64)> = values.distinct.iter().collect();
    // Stable: equal counts keep the order the sample showed them.
    sorted.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    let shown: Vec<String> = sorted
        .iter()
        .take(COMMENT_VALUES)
        .map(|(value, count)| format!("{} ({count})", show_value(value)))
        .collect();
    let count = sorted.len();
    let mut text = format!(
        "{count} {}: {}",
        if count == 1 { "value" } else { "values" },
        shown.join(", ")
    );
    if count > COMMENT_VALUES {
        let _ = write!(text, ", and {} more", count - COMMENT_VALUES);
    }
    text
}

/// A value for a comment: as it is when it is a plain word, else quoted with escapes; at most
/// [`COMMENT_VALUE_CHARS`] characters of it.
fn show_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '@' | '+'));
    let shortened: String = value.chars().take(COMMENT_VALUE_CHARS).collect();
    let more = if shortened.len() < value.len() {
        "..."
    } else {
        ""
    };
    if plain {
        return format!("{shortened}{more}");
    }
    let mut out = String::from("\"");
    for c in shortened.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out.push_str(more);
    comment_text(&out)
}

/// Text made safe for a YAML comment: line breaks, control characters and characters YAML does
/// not allow are written as escapes (`\n`, `\u{2028}`), so the comment stays one line.
fn comment_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if yaml_printable(c) && !yaml_line_break(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    out
}

/// Characters YAML allows in a stream as they are (YAML 1.2 `c-printable`), without the byte
/// order mark, which may only start a stream.
fn yaml_printable(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
        && c != '\u{FEFF}'
}

/// Characters YAML reads as the end of a line.
fn yaml_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A YAML scalar for `text`: plain when it cannot be read as anything but that string (a name,
/// a simple path), otherwise double-quoted, with every character YAML would change or refuse
/// written as an escape.
fn yaml_scalar(text: &str) -> String {
    if is_plain(text) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if yaml_printable(c) && !yaml_line_break(c) => out.push(c),
            c if u32::from(c) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// Whether a string can stand unquoted in block YAML and read back as the same string: ASCII
/// name and path characters only, starting with a letter, `_`, `/` or `(`, not ending in `:`,
/// and not a word YAML 1.1 or 1.2 reads as a boolean or null.
fn is_plain(text: &str) -> bool {
    const WORDS: [&str; 11] = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "nan", "inf",
    ];
    text.starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '_' | '/' | '('))
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '/' | '(' | ')' | ':' | '.' | '*' | '-' | '@')
        })
        && !text.ends_with(':')
        && !WORDS.iter().any(|word| text.eq_ignore_ascii_case(word))
}

/// A path or word as a shell would need it: as it is when it has only safe characters, else in
/// single quotes.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '+' | '=')
        })
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::commands::init::draft::draft;
    use crate::commands::init::tests::{STORE, draft_of, draft_with, load_and_run, series, survey};

    #[test]
    fn the_header_names_the_command_and_the_rule_file_version() {
        let yaml = draft_with(STORE, Some("shop"));
        assert!(
            yaml.starts_with(
                "# A draft rule file, made from one sample store by:\n\
                 #   xml2prom init --prefix shop sample.xml\n"
            ),
            "{yaml}"
        );
        assert!(yaml.contains("\nversion: 1\n"), "{yaml}");
        assert!(yaml.contains("  - name: shop_row_elements\n"), "{yaml}");
        assert!(!yaml.contains("name: store_"), "{yaml}");
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("data/store.xml"), "data/store.xml");
        assert_eq!(shell_word("my store.xml"), "'my store.xml'");
        assert_eq!(shell_word("it's.xml"), r"'it'\''s.xml'");
        assert_eq!(shell_word(""), "''");
        let yaml = draft_with(STORE, None);
        assert!(yaml.contains("#   xml2prom init sample.xml\n"), "{yaml}");
        let samples = [std::path::PathBuf::from("a b\nc.xml")];
        let header = Header {
            samples: &samples,
            prefix: None,
            rules: "r.yaml",
        };
        let surveyed = survey(STORE);
        let yaml = render(&draft(&surveyed, &header).expect("a draft"), &header);
        assert!(yaml.contains("#   xml2prom init 'a b\\nc.xml'\n"), "{yaml}");
        assert!(
            yaml.contains(
                "# Try it: xml2prom run --rules r.yaml --input 'a b\\nc.xml' --output -\n"
            ),
            "{yaml}"
        );
    }

    #[test]
    fn values_that_would_break_yaml_stay_inside_quotes_and_comments() {
        // Label values with line breaks (as references), quotes, `#` and YAML's other line
        // breaks; a namespace URI with a quote and a line break.
        let xml = "<s xmlns:q=\"urn:a&quot;b&#10;c\">\
                   <r q:k=\"a&#10;b\"/><r q:k=\"a&#10;b\"/><r q:k=\"x\u{2028}#y: z\"/>\
                   <r q:k=\"x\u{2028}#y: z\"/><r q:k='&quot;--- [' /><r q:k='&quot;--- [' />\
                   </s>";
        let yaml = draft_of(xml);
        for line in yaml.lines() {
            assert!(
                line.trim_start().starts_with('#') || !line.contains("---"),
                "{line}"
            );
        }
        assert!(yaml.contains(r#"q: "urn:a\"b\nc""#), "{yaml}");
        assert!(
            yaml.contains(r#"3 values: "a\nb" (2), "x\u{2028}#y: z" (2), "\"--- [" (2)"#),
            "{yaml}"
        );
        let out = load_and_run(xml, &yaml);
        assert_eq!(
            series(&out, "s_r_elements_by_k{k=\"a\\nb\"}"),
            Some(2.0),
            "{out}"
        );
    }

    #[test]
    fn long_values_are_shortened_in_comments() {
        let long = "v".repeat(60);
        let xml = format!("<s><r k=\"{long}\"/><r k=\"{long}\"/><r k=\"b\"/><r k=\"b\"/></s>");
        let yaml = draft_of(&xml);
        assert!(
            yaml.contains(&format!(
                "2 values: {}... (2), b (2)",
                "v".repeat(COMMENT_VALUE_CHARS)
            )),
            "{yaml}"
        );
        load_and_run(&xml, &yaml);
    }

    #[test]
    fn comment_text_is_one_line() {
        assert_eq!(comment_text("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(
            comment_text("x\u{2028}y\u{85}z\u{feff}\u{7}"),
            "x\\u{2028}y\\u{85}z\\u{feff}\\u{7}"
        );
        assert_eq!(show_value("a b"), "\"a b\"");
        assert_eq!(show_value(""), "\"\"");
        assert_eq!(show_value("ok"), "ok");
        assert_eq!(show_value("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
    }

    #[test]
    fn plain_scalars_are_only_unambiguous_ones() {
        for plain in [
            "store_rows",
            "count(/s:store/s:row)",
            "/store/row",
            "sum(/a/b/@c)",
        ] {
            assert_eq!(yaml_scalar(plain), plain);
        }
        for quoted in [
            "@size",
            "{{ kind }}",
            "true",
            "No",
            "null",
            "y",
            "a:",
            "1e3",
            "",
            ".",
            "a b",
        ] {
            assert!(yaml_scalar(quoted).starts_with('"'), "{quoted}");
        }
    }

    /// Reads `key: SCALAR` back with both YAML parsers xml2prom uses.
    fn read_back(scalar: &str) -> (String, Option<String>) {
        let text = format!("key: {scalar}\n");
        let map: BTreeMap<String, String> =
            serde_yaml::from_str(&text).unwrap_or_else(|err| panic!("{text:?}: {err}"));
        let other = yaml_rust2::YamlLoader::load_from_str(&text)
            .ok()
            .and_then(|docs| {
                docs.first()
                    .and_then(|d| d["key"].as_str().map(str::to_owned))
            });
        (map.get("key").cloned().unwrap_or_default(), other)
    }

    proptest! {
        #[test]
        fn every_string_survives_as_a_yaml_scalar(text in any::<String>()) {
            let (serde, rust2) = read_back(&yaml_scalar(&text));
            prop_assert_eq!(&serde, &text);
            prop_assert_eq!(rust2.as_deref(), Some(text.as_str()));
        }

        #[test]
        fn path_like_strings_survive_as_yaml_scalars(text in "[a-zA-Z_/(@.:*)0-9 #'\"-]{0,12}") {
            let (serde, rust2) = read_back(&yaml_scalar(&text));
            prop_assert_eq!(&serde, &text);
            prop_assert_eq!(rust2.as_deref(), Some(text.as_str()));
        }

        #[test]
        fn comments_never_break_a_line(text in any::<String>()) {
            let line = comment_text(&text);
            prop_assert!(!line.chars().any(|c| yaml_line_break(c) || !yaml_printable(c)));
            let doc = format!("# {line}\nkey: v\n");
            let map: BTreeMap<String, String> = serde_yaml::from_str(&doc)
                .map_err(|err| TestCaseError::fail(format!("{doc:?}: {err}")))?;
            prop_assert_eq!(map.get("key").map(String::as_str), Some("v"));
        }
    }
}
