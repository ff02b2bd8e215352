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
use super::survey::{
    MAX_ATTRIBUTES_PER_PATH, MAX_LABEL_VALUES, MAX_NAMESPACES, MAX_PATHS, MAX_VALUE_BYTES, Name,
    Namespace, Survey, Values,
};
use crate::model::names::FieldName;
use crate::rules::file::SUPPORTED_VERSION;

/// The most labels drafted per repeated element (each gives its own rules).
const MAX_LABELS_PER_ELEMENT: usize = 4;

/// The most rules in one draft.
const MAX_RULES: usize = 300;

/// How many values a comment lists, and how many characters of each it shows.
const COMMENT_VALUES: usize = 5;
const COMMENT_VALUE_CHARS: usize = 24;

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
struct DraftRule {
    comment: Vec<String>,
    name: String,
    help: String,
    select: Option<String>,
    fields: Vec<(String, String)>,
    labels: Vec<(String, String)>,
    value: Option<String>,
    aggregate: Option<&'static str>,
    on_missing: Option<&'static str>,
}

/// Something an element has that a rule can read: an attribute, its own text, a child's text
/// or a child's attribute.
#[derive(Debug)]
struct Property<'s> {
    /// The XPath reading it, relative to the element: `@size`, `.`, `price`, `meta/@w`.
    query: String,
    /// How comments and help texts name it: `@size`, `text`, `<price>`, `<meta> @w`.
    about: String,
    /// Its part in metric names (empty for the element's own text).
    part: String,
    /// Its label name.
    label: String,
    /// Whether it is an attribute of the element itself, which a predicate in `select` can
    /// test (`/store/row[@size]`) without leaving the streaming engine.
    own_attribute: bool,
    values: &'s Values,
}

/// Why a property is or is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Label,
    Summed,
    Identifier,
    /// Some values are numbers, some are not: summing would fail the run.
    SomeNotNumbers,
    NotNumbersNotLabel(NotLabel),
    LabelLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotLabel {
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
struct Draft<'s> {
    survey: &'s Survey,
    prefix: String,
    /// The prefix bound to each namespace of the survey.
    bound: Vec<String>,
    names: std::collections::HashSet<String>,
    rules: Vec<DraftRule>,
    rules_left_out: usize,
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
    Some(draft.render(header))
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

    /// The YAML text of the draft.
    fn render(&self, header: &Header<'_>) -> String {
        let survey = self.survey;
        let mut out = String::new();
        let mut command = String::from("xml2prom init");
        if let Some(prefix) = header.prefix {
            command.push_str(" --prefix ");
            command.push_str(&shell_word(prefix.as_str()));
        }
        command.push(' ');
        let sample = header.sample.display().to_string();
        command.push_str(&shell_word(&sample));
        let comment = |out: &mut String, text: &str| {
            let _ = writeln!(out, "# {}", comment_text(text));
        };
        comment(
            &mut out,
            "A draft rule file, made from one sample store by:",
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
        if self.rules_left_out > 0 {
            comment(
                &mut out,
                &format!(
                    "The draft stops at {MAX_RULES} rules; {} more were left out.",
                    self.rules_left_out
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
        let _ = writeln!(out, "version: {SUPPORTED_VERSION}");
        if !survey.namespaces.is_empty() {
            out.push_str("namespaces:\n");
            for (namespace, prefix) in survey.namespaces.iter().zip(&self.bound) {
                let _ = writeln!(
                    out,
                    "  {}: {}",
                    yaml_scalar(prefix),
                    yaml_scalar(&namespace.uri)
                );
            }
        }
        out.push_str("metrics:\n");
        for (index, rule) in self.rules.iter().enumerate() {
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
            if let Some(on_missing) = rule.on_missing {
                let _ = writeln!(out, "    on_missing: {on_missing}");
            }
        }
        out
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

/// `all 6 <row>` or `4 of 6 <row>`.
fn on_how_many(present: u64, elements: u64, element: &str) -> String {
    if present == elements {
        format!("all {elements} {element}")
    } else {
        format!("{present} of {elements} {element}")
    }
}

/// One line of the survey comment above an element's count rule.
fn describe_property(property: &Property<'_>, used: Use, elements: u64, element: &str) -> String {
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
fn describe_numbers(values: &Values) -> String {
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
fn list_values(values: &Values) -> String {
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
    use std::collections::BTreeMap;
    use std::fmt::Write as _;

    use proptest::prelude::*;

    use super::*;
    use crate::commands::init::tests::{STORE, draft_of, draft_with, load_and_run, series, survey};

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
        let header = Header {
            sample: Path::new("a b\nc.xml"),
            prefix: None,
            rules: "r.yaml",
        };
        let yaml = draft(&survey(STORE), &header).expect("a draft");
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
