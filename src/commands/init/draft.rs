//! Init's draft: the survey of a sample turned into a rule file, every rule streamable.
//!
//! - per repeated element (more than one under one parent): its count, `count(/store/row)`;
//!   per low-cardinality attribute (or child text) an aggregated count by that label, and per
//!   numeric attribute (or child text) its sum by that label, or over all elements when there is
//!   no label;
//! - per number on an element that occurs once in the document: a gauge reading it;
//! - namespaces bound to prefixes (a default namespace too, as XPath 1.0 needs) and used in
//!   every query;
//! - a comment above each rule saying what the sample holds.

use std::fmt::Write as _;
use std::path::Path;

use super::MetricPrefix;
use super::survey::{MAX_ATTRIBUTES_PER_PATH, Name, Namespace, Survey, Values};
use super::yaml::{describe_numbers, describe_property, list_values, on_how_many, render};
use crate::model::names::FieldName;

/// The most labels drafted per repeated element (each gives its own rules).
pub(super) const MAX_LABELS_PER_ELEMENT: usize = 4;

/// The most rules in one draft.
pub(super) const MAX_RULES: usize = 300;

/// Metric name endings a drafted gauge must not have: Prometheus reads `_count`, `_sum`,
/// `_bucket` as parts of histograms and summaries, `_total` and `_created` as parts of
/// counters, and xml2prom reads `_info` as an info metric.
const RESERVED_SUFFIXES: [&str; 6] = ["_count", "_sum", "_bucket", "_total", "_created", "_info"];

/// What the header comment of a draft names.
#[derive(Debug, Clone, Copy)]
pub(super) struct Header<'a> {
    /// The sample, as given on the command line.
    pub(super) sample: &'a Path,
    /// `--prefix`, if given.
    pub(super) prefix: Option<&'a MetricPrefix>,
    /// The rule file path to suggest in the "try it" line.
    pub(super) rules: &'a str,
}

/// One drafted rule.
#[derive(Debug, Default)]
pub(super) struct DraftRule {
    pub(super) comment: Vec<String>,
    pub(super) name: String,
    pub(super) help: String,
    pub(super) select: Option<String>,
    pub(super) fields: Vec<(String, String)>,
    pub(super) labels: Vec<(String, String)>,
    pub(super) value: Option<String>,
    pub(super) aggregate: Option<&'static str>,
    pub(super) on_missing: Option<&'static str>,
}

/// Something an element has that a rule can read: an attribute, its own text, a child's text
/// or a child's attribute.
#[derive(Debug)]
pub(super) struct Property<'s> {
    /// The XPath reading it, relative to the element: `@size`, `.`, `price`, `meta/@w`.
    query: String,
    /// How comments and help texts name it: `@size`, `text`, `<price>`, `<meta> @w`.
    pub(super) about: String,
    /// Its part in metric names (empty for the element's own text).
    part: String,
    /// Its label name.
    label: String,
    /// Whether it is an attribute of the element itself, which a predicate in `select` can
    /// test (`/store/row[@size]`) without leaving the streaming engine.
    own_attribute: bool,
    pub(super) values: &'s Values,
}

/// Why a property is or is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    Label,
    Summed,
    Identifier,
    /// Some values are numbers, some are not: summing would fail the run.
    SomeNotNumbers,
    NotNumbersNotLabel(NotLabel),
    LabelLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotLabel {
    TooMany,
    OneValue,
    HardlyRepeat,
    TooRare,
    Absent,
}

impl Property<'_> {
    fn classify(&self, elements: u64) -> Use {
        let values = self.values;
        if values.all_numbers() {
            return if is_identifier(&self.label) {
                Use::Identifier
            } else {
                Use::Summed
            };
        }
        let distinct = values.distinct.len() as u64;
        let why = if values.present == 0 {
            NotLabel::Absent
        } else if values.many {
            NotLabel::TooMany
        } else if distinct < 2 {
            NotLabel::OneValue
        } else if distinct * 2 > values.present {
            NotLabel::HardlyRepeat
        } else if values.present * 2 <= elements {
            NotLabel::TooRare
        } else {
            return Use::Label;
        };
        if values.numbers + values.padded_numbers > 0 {
            return Use::SomeNotNumbers;
        }
        Use::NotNumbersNotLabel(why)
    }
}

/// Words `promtool check metrics` objects to in a metric name (its lint exits non-zero):
/// metric types, and abbreviated units after the first word.
const TYPE_WORDS: [&str; 4] = ["counter", "gauge", "histogram", "summary"];
const UNIT_ABBREVIATIONS: [&str; 14] = [
    "s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d",
];
/// Units promtool wants replaced by a base unit, besides a base unit with a prefix.
const NON_BASE_UNITS: [&str; 5] = ["minutes", "hours", "days", "weeks", "fahrenheit"];
const BASE_UNITS: [&str; 10] = [
    "amperes", "bytes", "celsius", "grams", "joules", "kelvin", "meters", "metres", "seconds",
    "volts",
];
const UNIT_PREFIXES: [&str; 18] = [
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi", "mega",
    "mebi", "giga", "gibi", "tera", "tebi", "peta", "pebi",
];

/// What `promtool check metrics` would object to in a drafted name, if anything, e.g.
/// ``the word `summary` (a metric type)``. The draft keeps the name (it comes from the sample)
/// and says so in a comment: only the user knows what a better name is, and a unit such as
/// `ms` needs the value converted, not just the name changed.
fn lint_objection(name: &str) -> Option<String> {
    name.split('_').enumerate().find_map(|(index, word)| {
        let why = if index > 0 && TYPE_WORDS.contains(&word) {
            "a metric type"
        } else if index > 0 && UNIT_ABBREVIATIONS.contains(&word) {
            "an abbreviated unit"
        } else if NON_BASE_UNITS.contains(&word)
            || UNIT_PREFIXES.iter().any(|prefix| {
                word.strip_prefix(prefix)
                    .is_some_and(|unit| BASE_UNITS.contains(&unit))
            })
        {
            "not a base unit such as seconds or bytes"
        } else {
            return None;
        };
        Some(format!("the word `{word}` ({why})"))
    })
}

/// Whether a name says it identifies something (`id`, `order_id`, `uuid`): such numbers are
/// not summed.
fn is_identifier(name: &str) -> bool {
    name == "id" || name == "uuid" || name == "guid" || name.ends_with("_id")
}

/// A draft in the making.
pub(super) struct Draft<'s> {
    pub(super) survey: &'s Survey,
    prefix: String,
    /// The prefix bound to each namespace of the survey.
    pub(super) bound: Vec<String>,
    names: std::collections::HashSet<String>,
    pub(super) rules: Vec<DraftRule>,
    pub(super) rules_left_out: usize,
}

/// Drafts a rule file from a survey. `None` when the sample has nothing to measure.
pub(super) fn draft(survey: &Survey, header: &Header<'_>) -> Option<String> {
    let root = survey.root?;
    let prefix = header
        .prefix
        .cloned()
        .unwrap_or_else(|| MetricPrefix::from_root(&survey.paths[root].name.local));
    let mut draft = Draft {
        survey,
        prefix: prefix.0,
        bound: bind_prefixes(&survey.namespaces),
        names: std::collections::HashSet::new(),
        rules: Vec::new(),
        rules_left_out: 0,
    };
    for id in 0..survey.paths.len() {
        let path = &survey.paths[id];
        if path.max_per_parent > 1 {
            draft.repeated(id);
        } else if survey.single(id) {
            draft.single(id);
        }
    }
    if draft.rules.is_empty() {
        return None;
    }
    Some(render(&draft, header))
}

/// Binds a prefix to each namespace: the one the sample wrote first, else one made from the
/// URI (a default namespace needs one too: XPath 1.0 has no default namespace).
fn bind_prefixes(namespaces: &[Namespace]) -> Vec<String> {
    let mut bound: Vec<Option<String>> = vec![None; namespaces.len()];
    let mut taken: Vec<String> = Vec::new();
    for (index, namespace) in namespaces.iter().enumerate() {
        if let Some(prefix) = &namespace.written_prefix
            && crate::model::names::Prefix::parse(prefix).is_ok()
            && !taken.contains(prefix)
        {
            taken.push(prefix.clone());
            bound[index] = Some(prefix.clone());
        }
    }
    bound
        .into_iter()
        .zip(namespaces)
        .map(|(bound, namespace)| {
            bound.unwrap_or_else(|| {
                let base = prefix_for_uri(&namespace.uri);
                let prefix = (1..)
                    .map(|n| {
                        if n == 1 {
                            base.clone()
                        } else {
                            format!("{base}{n}")
                        }
                    })
                    .find(|p| !taken.contains(p))
                    .unwrap_or(base);
                taken.push(prefix.clone());
                prefix
            })
        })
        .collect()
}

/// A short prefix for a namespace URI: the first letter of its last word
/// (`urn:example:store` -> `s`, `http://www.w3.org/2005/Atom` -> `a`), else `ns`.
fn prefix_for_uri(uri: &str) -> String {
    uri.split(|c: char| !c.is_ascii_alphanumeric())
        .rfind(|word| word.starts_with(|c: char| c.is_ascii_alphabetic()))
        .and_then(|word| word.chars().next())
        .map_or_else(|| "ns".to_owned(), |c| c.to_ascii_lowercase().to_string())
}

impl<'s> Draft<'s> {
    /// An element or attribute name as an XPath name test.
    fn step(&self, name: &Name) -> String {
        match name.ns {
            Some(ns) => format!("{}:{}", self.bound[ns], name.local),
            None => name.local.clone(),
        }
    }

    /// The absolute XPath of an element path: `/s:store/s:row`.
    fn path_query(&self, id: usize) -> String {
        let mut steps = Vec::new();
        let mut at = Some(id);
        while let Some(id) = at {
            steps.push(self.step(&self.survey.paths[id].name));
            at = self.survey.paths[id].parent;
        }
        steps.reverse();
        format!("/{}", steps.join("/"))
    }

    /// The start of the metric names for an element path: the prefix, then the snake-case
    /// name of each element below the root: `store_row`.
    fn base_name(&self, id: usize) -> String {
        let mut parts = Vec::new();
        let mut at = Some(id);
        while let Some(id) = at {
            let path = &self.survey.paths[id];
            if path.parent.is_some() {
                parts.push(name_part(&path.name.local, "element"));
            }
            at = path.parent;
        }
        parts.push(self.prefix.clone());
        parts.reverse();
        parts.join("_")
    }

    /// A metric name not used yet in the draft, without an ending Prometheus or xml2prom
    /// reserve.
    fn claim(&mut self, name: String) -> String {
        let mut name = name;
        if RESERVED_SUFFIXES
            .iter()
            .any(|suffix| name.ends_with(suffix))
        {
            name.push_str("_value");
        }
        let unique = (1..)
            .map(|n| {
                if n == 1 {
                    name.clone()
                } else {
                    format!("{name}_{n}")
                }
            })
            .find(|candidate| !self.names.contains(candidate))
            .unwrap_or(name);
        self.names.insert(unique.clone());
        unique
    }

    fn push(&mut self, mut rule: DraftRule) {
        if self.rules.len() >= MAX_RULES {
            self.rules_left_out += 1;
            return;
        }
        if let Some(objection) = lint_objection(&rule.name) {
            rule.comment.push(format!(
                "promtool check metrics objects to {objection} in this name; rename the metric"
            ));
        }
        self.rules.push(rule);
    }

    /// What a rule can read on each element of a path, in the order the sample showed them.
    fn properties(&self, id: usize) -> Vec<Property<'s>> {
        let survey = self.survey;
        let path = &survey.paths[id];
        let mut properties = Vec::new();
        for attribute in &path.attributes {
            let local = &attribute.name.local;
            properties.push(Property {
                query: format!("@{}", self.step(&attribute.name)),
                about: format!("@{}", attribute.written),
                part: name_part(local, "attribute"),
                label: name_part(local, "attribute"),
                own_attribute: true,
                values: &attribute.values,
            });
        }
        if path.leaves == path.count && !path.text.all_empty() {
            properties.push(Property {
                query: ".".to_owned(),
                about: "text".to_owned(),
                part: String::new(),
                label: name_part(&path.name.local, "text"),
                own_attribute: false,
                values: &path.text,
            });
        }
        for &child_id in &path.children {
            let child = &survey.paths[child_id];
            if child.max_per_parent > 1 {
                continue;
            }
            let step = self.step(&child.name);
            let part = name_part(&child.name.local, "element");
            if child.leaves == child.count && !child.text.all_empty() {
                properties.push(Property {
                    query: step.clone(),
                    about: format!("<{}>", child.written),
                    part: part.clone(),
                    label: part.clone(),
                    own_attribute: false,
                    values: &child.text,
                });
            }
            for attribute in &child.attributes {
                let name = format!("{part}_{}", name_part(&attribute.name.local, "attribute"));
                properties.push(Property {
                    query: format!("{step}/@{}", self.step(&attribute.name)),
                    about: format!("<{}> @{}", child.written, attribute.written),
                    part: name.clone(),
                    label: name,
                    own_attribute: false,
                    values: &attribute.values,
                });
            }
        }
        properties
    }

    /// Rules for an element that repeats under its parent.
    fn repeated(&mut self, id: usize) {
        let survey = self.survey;
        let path = &survey.paths[id];
        let count = path.count;
        let element = format!("<{}>", path.written);
        let query = self.path_query(id);
        let base = self.base_name(id);
        let properties = self.properties(id);
        let mut uses: Vec<Use> = properties.iter().map(|p| p.classify(count)).collect();
        let mut labels = 0;
        for used in &mut uses {
            if *used == Use::Label {
                labels += 1;
                if labels > MAX_LABELS_PER_ELEMENT {
                    *used = Use::LabelLimit;
                }
            }
        }

        let parent = path
            .parent
            .map_or_else(String::new, |p| format!("<{}>", survey.paths[p].written));
        let mut comment = vec![format!(
            "{query}: {count} {element} elements, up to {} in one {parent}",
            path.max_per_parent
        )];
        for (property, used) in properties.iter().zip(&uses) {
            comment.push(format!(
                "  {}",
                describe_property(property, *used, count, &element)
            ));
        }
        if path.attributes_left_out {
            comment.push(format!(
                "  more attributes, not surveyed (the survey keeps {MAX_ATTRIBUTES_PER_PATH} per \
                 element)"
            ));
        }
        let name = self.claim(format!("{base}_elements"));
        self.push(DraftRule {
            comment,
            help: format!("Number of {element} elements at {query}"),
            name,
            value: Some(format!("count({query})")),
            ..DraftRule::default()
        });

        let label_properties: Vec<&Property<'_>> = properties
            .iter()
            .zip(&uses)
            .filter(|(_, used)| **used == Use::Label)
            .map(|(p, _)| p)
            .collect();
        let summed: Vec<&Property<'_>> = properties
            .iter()
            .zip(&uses)
            .filter(|(_, used)| **used == Use::Summed)
            .map(|(p, _)| p)
            .collect();

        for label in &label_properties {
            let (field, template) = field_for(&label.label);
            let name = self.claim(format!("{base}_elements_by_{}", label.label));
            let mut seen = format!(
                "{element} elements by {}: {}",
                label.about,
                list_values(label.values)
            );
            let without = count - label.values.present;
            if without > 0 {
                let _ = write!(
                    seen,
                    "; {without} without {}, counted without the label",
                    label.about
                );
            }
            self.push(DraftRule {
                comment: vec![seen],
                help: format!("Number of {element} elements at {query} by {}", label.about),
                name,
                select: Some(query.clone()),
                fields: vec![(field, field_query(label, count))],
                labels: vec![(label.label.clone(), template)],
                aggregate: Some("count"),
                ..DraftRule::default()
            });
        }

        for value in &summed {
            let of = if value.part.is_empty() {
                base.clone()
            } else {
                format!("{base}_{}", value.part)
            };
            let seen = format!(
                "{}: {} on {}",
                value.about,
                describe_numbers(value.values),
                on_how_many(value.values.present, count, &element)
            );
            // Elements without the value: an attribute of the element itself is required in
            // `select`; for other values the rule skips them (and says so on each run).
            let missing = value.values.present < count;
            let (select, on_missing, without) = match (missing, value.own_attribute) {
                (false, _) => (query.clone(), None, None),
                (true, true) => (
                    format!("{query}[{}]", value.query),
                    None,
                    Some(format!(
                        "{element} elements without {} are left out by the predicate in select",
                        value.about
                    )),
                ),
                (true, false) => (
                    query.clone(),
                    Some("skip"),
                    Some(format!(
                        "{element} elements without {} are left out (on_missing: skip, \
                         reported on each run)",
                        value.about
                    )),
                ),
            };
            if label_properties.is_empty() {
                let name = self.claim(of.clone());
                let target = if value.query == "." {
                    query.clone()
                } else {
                    format!("{query}/{}", value.query)
                };
                self.push(DraftRule {
                    comment: vec![format!("Sum of {seen}")],
                    help: format!(
                        "Sum of {} over the {element} elements at {query}",
                        value.about
                    ),
                    name,
                    value: Some(format!("sum({target})")),
                    ..DraftRule::default()
                });
                continue;
            }
            for label in &label_properties {
                let (field, template) = field_for(&label.label);
                let name = self.claim(format!("{of}_by_{}", label.label));
                let mut comment = vec![format!("Sum by {} of {seen}", label.about)];
                comment.extend(without.clone());
                self.push(DraftRule {
                    comment,
                    help: format!(
                        "Sum of {} over the {element} elements at {query} by {}",
                        value.about, label.about
                    ),
                    name,
                    select: Some(select.clone()),
                    fields: vec![(field, field_query(label, count))],
                    labels: vec![(label.label.clone(), template)],
                    value: Some(value.query.clone()),
                    aggregate: Some("sum"),
                    on_missing,
                });
            }
        }
    }

    /// Rules for an element that occurs once in the sample: a gauge per number it holds.
    fn single(&mut self, id: usize) {
        let survey = self.survey;
        let path = &survey.paths[id];
        let element = format!("<{}>", path.written);
        let query = self.path_query(id);
        let base = self.base_name(id);
        for attribute in &path.attributes {
            let values = &attribute.values;
            let part = name_part(&attribute.name.local, "attribute");
            if !values.all_numbers() || is_identifier(&part) {
                continue;
            }
            let name = self.claim(format!("{base}_{part}"));
            self.push(DraftRule {
                comment: vec![format!(
                    "{element} @{} is {} (at {query})",
                    attribute.written,
                    describe_numbers(values)
                )],
                help: format!("@{} of {element} at {query}", attribute.written),
                name,
                select: Some(query.clone()),
                value: Some(format!("@{}", self.step(&attribute.name))),
                ..DraftRule::default()
            });
        }
        if path.leaves == 1 && path.text.all_numbers() && !is_identifier(&path.name.local) {
            let name = self.claim(base);
            self.push(DraftRule {
                comment: vec![format!(
                    "{element} holds {} (at {query})",
                    describe_numbers(&path.text)
                )],
                help: format!("The number in {element} at {query}"),
                name,
                select: Some(query),
                value: Some(".".to_owned()),
                ..DraftRule::default()
            });
        }
    }
}

/// The field name and label template for a label: the field is named like the label, unless
/// templates reserve that word.
fn field_for(label: &str) -> (String, String) {
    let field = if FieldName::parse(label).is_ok() {
        label.to_owned()
    } else {
        format!("{label}_value")
    };
    let template = format!("{{{{ {field} }}}}");
    (field, template)
}

/// The field query for a label: `string(...)` when some elements lack it, so they count
/// without the label instead of failing the run.
fn field_query(property: &Property<'_>, elements: u64) -> String {
    if property.values.present < elements {
        format!("string({})", property.query)
    } else {
        property.query.clone()
    }
}

/// An XML name as a part of metric and label names: snake case, ASCII letters, digits and `_`
/// only (`sizeInBytes` -> `size_in_bytes`, `HTTPCode` -> `http_code`, `size-kb` -> `size_kb`);
/// `fallback` when nothing is left.
fn name_part(name: &str, fallback: &str) -> String {
    let snake = snake_case(name);
    if snake.is_empty() {
        fallback.to_owned()
    } else {
        snake
    }
}

/// Snake case of a name: `totalSize` -> `total_size`; every character other than an ASCII
/// letter or digit becomes `_`; runs of `_` become one; none at either end.
pub(super) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let previous = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (previous.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(char::is_ascii_lowercase));
            if boundary {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    let mut collapsed = String::with_capacity(out.len());
    for c in out.chars() {
        if c == '_' && (collapsed.is_empty() || collapsed.ends_with('_')) {
            continue;
        }
        collapsed.push(c);
    }
    collapsed.trim_end_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::commands::init::tests::{draft_of, load_and_run, series, survey};

    #[test]
    fn prefixes_written_in_the_sample_are_kept_and_clashes_avoided() {
        // The default namespace would take `s`, which the sample gives to another namespace.
        let xml = r#"<s:store xmlns:s="urn:other:s" xmlns:t="urn:example:t">
  <t:row xmlns="urn:example:store" t:kind="a"/><t:row t:kind="a"/><t:row t:kind="b"/>
  <t:row t:kind="b"/>
  <store><v>1</v></store>
</s:store>"#;
        let survey = survey(xml);
        let bound = bind_prefixes(&survey.namespaces);
        let uris: Vec<&str> = survey.namespaces.iter().map(|n| n.uri.as_str()).collect();
        assert_eq!(
            uris,
            ["urn:other:s", "urn:example:t"],
            "the default one is unused"
        );
        assert_eq!(bound, ["s", "t"]);
        let xml = r#"<s:store xmlns:s="urn:other:s" xmlns="urn:example:store">
  <row kind="a"/><row kind="a"/><row kind="b"/><row kind="b"/>
</s:store>"#;
        let yaml = draft_of(xml);
        assert!(
            yaml.contains("namespaces:\n  s: urn:other:s\n  s2: urn:example:store\n"),
            "{yaml}"
        );
        let out = load_and_run(xml, &yaml);
        assert_eq!(
            series(&out, r#"store_row_elements_by_kind{kind="b"}"#),
            Some(2.0)
        );
    }

    #[test]
    fn prefix_for_uri_takes_the_first_letter_of_the_last_word() {
        assert_eq!(prefix_for_uri("urn:example:store"), "s");
        assert_eq!(prefix_for_uri("http://www.w3.org/2005/Atom"), "a");
        assert_eq!(prefix_for_uri("http://example.com/v2/"), "v");
        assert_eq!(prefix_for_uri("123"), "ns");
        assert_eq!(prefix_for_uri(""), "ns");
    }

    #[test]
    fn labels_need_few_repeating_values_on_most_elements() {
        let mut xml = String::from("<s>");
        for i in 0..30 {
            let _ = write!(
                xml,
                "<r many=\"v{i}\" one=\"same\" few=\"{}\" rare=\"{}\"/>",
                i % 3,
                if i < 10 { "x" } else { "" }.to_owned() + ""
            );
        }
        xml.push_str("</s>");
        // `rare` is "x" on 10 of 30 and empty on the others: two values, fine as a label.
        let yaml = draft_of(&xml);
        assert!(
            yaml.contains("@many: on all 30 <r>, more than 20 distinct values: too many values"),
            "{yaml}"
        );
        assert!(yaml.contains("@one: on all 30 <r>, 1 value: same (30): one value only"));
        assert!(yaml.contains("@few: on all 30 <r>, numbers from 0 to 2: summed below"));
        let survey = survey(&xml);
        let row = &survey.paths[1];
        assert!(row.attributes[0].values.many);
        assert!(
            row.attributes[0].values.distinct.is_empty(),
            "freed once too many"
        );
        load_and_run(&xml, &yaml);

        let xml = "<s><r k=\"a\"/><r k=\"a\"/><r/><r/><r/><r k=\"b\"/><r k=\"b\"/></s>";
        let yaml = draft_of(xml);
        assert!(yaml.contains("      k: string(@k)\n"), "{yaml}");
        let out = load_and_run(xml, &yaml);
        assert_eq!(series(&out, "s_r_elements_by_k"), Some(3.0), "{out}");

        let xml = "<s><r k=\"a\"/><r k=\"a\"/><r/><r/><r/><r/></s>";
        let yaml = draft_of(xml);
        assert!(
            yaml.contains("@k: on 2 of 6 <r>, 1 value: a (2): one value only, not a label"),
            "{yaml}"
        );
    }

    #[test]
    fn the_label_limit_and_the_rule_limit_hold() {
        let mut xml = String::from("<s>");
        for i in 0..4 {
            xml.push_str("<r");
            for a in 0..30 {
                let _ = write!(xml, " a{a}=\"{}\"", if i % 2 == 0 { "x" } else { "y" });
            }
            for n in 0..2 {
                let _ = write!(xml, " n{n}=\"{i}\"");
            }
            xml.push_str("/>");
        }
        xml.push_str("</s>");
        let yaml = draft_of(&xml);
        assert_eq!(
            yaml.matches("a label below").count(),
            MAX_LABELS_PER_ELEMENT,
            "{yaml}"
        );
        assert_eq!(yaml.matches("could be a label; left out").count(), 26);
        load_and_run(&xml, &yaml);

        // 1 + 4 labels * (1 count + 2 sums) per path.
        let mut xml = String::from("<s>");
        for p in 0..30 {
            for i in 0..2 {
                let _ = write!(
                    xml,
                    "<p{p} a=\"{i}x\" b=\"{i}y\" c=\"{i}z\" d=\"{i}w\" n=\"1\" m=\"2\"/>"
                );
                let _ = write!(
                    xml,
                    "<p{p} a=\"{i}x\" b=\"{i}y\" c=\"{i}z\" d=\"{i}w\" n=\"1\" m=\"2\"/>"
                );
            }
        }
        xml.push_str("</s>");
        let yaml = draft_of(&xml);
        assert_eq!(yaml.matches("\n  - name: ").count(), MAX_RULES, "{yaml}");
        assert!(yaml.contains("# The draft stops at 300 rules; 90 more were left out.\n"));
        load_and_run(&xml, &yaml);
    }

    #[test]
    fn nothing_to_measure_gives_no_draft() {
        for xml in ["<a/>", "<a b=\"x\"><c>text</c><d/></a>", "<a id=\"7\"/>"] {
            let header = Header {
                sample: Path::new("s.xml"),
                prefix: None,
                rules: "r.yaml",
            };
            assert!(draft(&survey(xml), &header).is_none(), "{xml}");
        }
    }

    #[test]
    fn snake_case_of_xml_names() {
        for (name, snake) in [
            ("row", "row"),
            ("totalSize", "total_size"),
            ("sizeInBytes", "size_in_bytes"),
            ("HTTPCode", "http_code"),
            ("size-kb", "size_kb"),
            ("wert.zahl", "wert_zahl"),
            ("__x__", "x"),
            ("a__b", "a_b"),
            ("größe", "gr_e"),
            ("名前", ""),
            ("v2Count", "v2_count"),
            ("ABC", "abc"),
        ] {
            assert_eq!(snake_case(name), snake, "{name}");
        }
        assert_eq!(name_part("名前", "element"), "element");
    }

    #[test]
    fn unit_suffixes_are_kept_not_invented() {
        let xml = r#"<s><f sizeBytes="10" size="1" took_seconds="0.5" latency="2"/><f sizeBytes="20" size="2" took_seconds="1" latency="3"/></s>"#;
        let yaml = draft_of(xml);
        for name in [
            "s_f_size_bytes",
            "s_f_size",
            "s_f_took_seconds",
            "s_f_latency",
        ] {
            assert!(
                yaml.contains(&format!("  - name: {name}\n")),
                "{name}\n{yaml}"
            );
        }
        assert!(!yaml.contains("latency_seconds"), "{yaml}");
        assert!(!yaml.contains("s_f_size_bytes_2"), "{yaml}");
    }

    #[test]
    fn reserved_suffixes_get_value_appended_and_names_stay_unique() {
        let survey = survey("<s/>");
        let mut draft = Draft {
            survey: &survey,
            prefix: "s".to_owned(),
            bound: Vec::new(),
            names: std::collections::HashSet::new(),
            rules: Vec::new(),
            rules_left_out: 0,
        };
        assert_eq!(draft.claim("s_count".to_owned()), "s_count_value");
        assert_eq!(draft.claim("s_info".to_owned()), "s_info_value");
        assert_eq!(draft.claim("s_a".to_owned()), "s_a");
        assert_eq!(draft.claim("s_a".to_owned()), "s_a_2");
        assert_eq!(draft.claim("s_a".to_owned()), "s_a_3");
    }

    #[test]
    fn names_promtool_objects_to_are_kept_with_a_comment() {
        assert_eq!(lint_objection("store_row_elements"), None);
        assert_eq!(
            lint_objection("s_row"),
            None,
            "the first word may be anything"
        );
        assert_eq!(
            lint_objection("inventory_summary_total"),
            Some("the word `summary` (a metric type)".to_owned())
        );
        assert_eq!(
            lint_objection("job_latency_ms_by_queue"),
            Some("the word `ms` (an abbreviated unit)".to_owned())
        );
        assert_eq!(
            lint_objection("file_kilobytes"),
            Some("the word `kilobytes` (not a base unit such as seconds or bytes)".to_owned())
        );
        assert_eq!(lint_objection("a_bytes"), None);
        let xml = r#"<s><summary><total>5</total></summary><r ms="1"/><r ms="2"/></s>"#;
        let yaml = draft_of(xml);
        assert!(
            yaml.contains(
                "  # promtool check metrics objects to the word `summary` (a metric type) in \
                 this name; rename the metric\n  - name: s_summary_total_value\n"
            ),
            "{yaml}"
        );
        assert!(
            yaml.contains("the word `ms` (an abbreviated unit)"),
            "{yaml}"
        );
    }
}
