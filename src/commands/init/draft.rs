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
    /// The samples, as given on the command line.
    pub(super) samples: &'a [std::path::PathBuf],
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
    /// `convert:`: the regex and the factor (`scale: 1048576`, `divide: 100`), if any.
    pub(super) convert: Option<Convert>,
    /// Lints `check --strict` reports on the draft, silenced with the reason: (code, why).
    pub(super) allow_lints: Vec<(&'static str, String)>,
}

/// A drafted `convert:` block: the regex, if any, and the factor (`("scale", "1048576")`), if
/// any.
pub(super) type Convert = (Option<String>, Option<Factor>);

/// `scale` or `divide`, and the number as written.
pub(super) type Factor = (&'static str, &'static str);

/// What names one element of an entity path (`@id` of `<gpu>`).
#[derive(Debug, Clone)]
pub(super) struct EntityKey {
    /// The label name: `id`.
    label: String,
    /// The query from the element: `@id`, `address/@addr`.
    query: String,
    /// How comments name it: `@id`.
    about: String,
    /// Every value is written in double quotes (Tomcat's `name='"http-nio-8080"'`): the label
    /// drops them.
    quoted: bool,
}

/// Rule fields or labels: (name, query or template).
type Entries = Vec<(String, String)>;

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
    /// A ratio, average, percentage or timestamp: a sum over elements means nothing.
    NotSummable,
    /// Numbers with a unit, or texts meaning "no value": read per named element, not summed.
    WithUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotLabel {
    TooMany,
    OneValue,
    HardlyRepeat,
    TooRare,
    Absent,
    /// Some values are texts that mean "no value" (`N/A`).
    AbsentTexts,
}

impl Property<'_> {
    fn classify(&self, elements: u64) -> Use {
        let values = self.values;
        if values.all_numbers() {
            return if is_identifier(&self.label) {
                Use::Identifier
            } else if not_summable(&self.label, values) {
                Use::NotSummable
            } else {
                Use::Summed
            };
        }
        if values.all_readable() {
            return Use::WithUnit;
        }
        let distinct = values.distinct.len() as u64;
        let why = if values.present == 0 {
            NotLabel::Absent
        } else if values.absent_count() > 0 {
            NotLabel::AbsentTexts
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
    const WORDS: [&str; 15] = [
        "id", "uuid", "guid", "serial", "pid", "port", "portid", "bus", "addr", "address", "mac",
        "ip", "minor", "domain", "device",
    ];
    name.split('_').any(|word| WORDS.contains(&word)) || name.ends_with("_id")
}

/// Whether numbers of this name mean nothing when summed over elements: ratios, percentages,
/// averages, and timestamps (names saying so, or numbers that look like Unix times).
fn not_summable(name: &str, values: &Values) -> bool {
    const WORDS: [&str; 12] = [
        "ratio",
        "percent",
        "pct",
        "util",
        "utilization",
        "avg",
        "average",
        "mean",
        "load",
        "rate",
        "version",
        "level",
    ];
    name.split('_').any(|word| WORDS.contains(&word)) || timestamp_divisor(name, values).is_some()
}

/// Whether a name speaks of a version, a model or a product: its texts (and numbers, as
/// `version="3"`) are labels of an `_info` metric, not values.
fn is_info_name(name: &str) -> bool {
    const WORDS: [&str; 10] = [
        "version",
        "product",
        "model",
        "vendor",
        "driver",
        "brand",
        "architecture",
        "release",
        "vbios",
        "build",
    ];
    name.contains("version") || name.split('_').any(|word| WORDS.contains(&word))
}

/// Numbers that look like Unix times under a name that speaks of time: `None` when they do
/// not, else the divisor to seconds (`1` for seconds, `1000` for milliseconds).
fn timestamp_divisor(name: &str, values: &Values) -> Option<u32> {
    const WORDS: [&str; 11] = [
        "time",
        "timestamp",
        "date",
        "start",
        "end",
        "created",
        "modified",
        "updated",
        "boot",
        "last",
        "epoch",
    ];
    let (low, high) = values.range?;
    // `starttime`, `last_seen_time`: the words may be run together.
    if !WORDS.iter().any(|word| name.contains(word)) || !values.all_numbers() {
        return None;
    }
    if low >= 1.0e9 && high < 4.2e9 {
        Some(1)
    } else if low >= 1.0e12 && high < 4.2e12 {
        Some(1000)
    } else {
        None
    }
}

/// What a unit as nvidia-smi and others write it reads as: the base unit's name suffix and
/// the factor to it; `None` for a unit not known here (read through a regex, name kept).
fn base_unit(unit: &str) -> Option<(&'static str, Option<Factor>)> {
    let scale = |s| Some(("scale", s));
    let divide = |d| Some(("divide", d));
    Some(match unit {
        "B" | "bytes" | "byte" => ("bytes", None),
        "KiB" => ("bytes", scale("1024")),
        "MiB" => ("bytes", scale("1048576")),
        "GiB" => ("bytes", scale("1073741824")),
        "TiB" => ("bytes", scale("1099511627776")),
        "kB" | "KB" => ("bytes", scale("1000")),
        "MB" => ("bytes", scale("1000000")),
        "GB" => ("bytes", scale("1000000000")),
        "Hz" => ("hertz", None),
        "kHz" => ("hertz", scale("1000")),
        "MHz" => ("hertz", scale("1000000")),
        "GHz" => ("hertz", scale("1000000000")),
        "W" => ("watts", None),
        "mW" => ("watts", divide("1000")),
        "V" => ("volts", None),
        "mV" => ("volts", divide("1000")),
        "A" => ("amperes", None),
        "mA" => ("amperes", divide("1000")),
        "J" => ("joules", None),
        "C" => ("celsius", None),
        "%" => ("ratio", divide("100")),
        "s" | "sec" => ("seconds", None),
        "ms" => ("seconds", divide("1000")),
        "us" => ("seconds", divide("1000000")),
        "ns" => ("seconds", divide("1000000000")),
        _ => return None,
    })
}

/// The `convert:` regex for numbers with a unit; the unit is optional when some values are
/// plain numbers.
fn unit_regex(unit: &str, optional: bool) -> String {
    let unit = regex::escape(unit);
    let unit = if optional {
        format!("(?:\\s*{unit})?")
    } else {
        format!("\\s*{unit}")
    };
    format!("^\\s*([-+]?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?){unit}\\s*$")
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
    /// The texts meaning "no value" that drafted rules read: the file's `absent:` list.
    pub(super) absent: Vec<String>,
    /// What the draft leaves out and why, for the header.
    pub(super) notes: Vec<String>,
    /// The entity key of each element path, if it is one: (label, query from the element).
    keys: Vec<Option<EntityKey>>,
}

/// Drafts a rule file from a survey. `None` when the sample has nothing to measure.
pub(super) fn draft<'s>(survey: &'s Survey, header: &Header<'_>) -> Option<Draft<'s>> {
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
        absent: Vec::new(),
        notes: Vec::new(),
        keys: Vec::new(),
    };
    // Parents come before their children, so each path sees the keys above it.
    for id in 0..survey.paths.len() {
        let key = draft.entity_key(id);
        draft.keys.push(key);
    }
    for id in 0..survey.paths.len() {
        let path = &survey.paths[id];
        if draft.keys[id].is_some() {
            draft.entity(id);
        } else if draft.inside_entity(id) {
            // Read by the entity's rules, or (repeated inside it) left to the user.
        } else if path.max_per_parent > 1 {
            draft.repeated(id);
        } else if survey.single(id) {
            draft.single(id);
        }
    }
    if let Some(root) = survey.root {
        draft.info(root);
    }
    if draft.rules.is_empty() {
        return None;
    }
    Some(draft)
}

/// Renders a draft as rule-file text.
pub(super) fn text(draft: &Draft<'_>, header: &Header<'_>) -> String {
    render(draft, header)
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
        // promtool check metrics refuses a metric type in a name after its first word: the
        // word goes (`pci_replay_counter` -> `pci_replay`), the `# TYPE` line says it.
        let words: Vec<&str> = name.split('_').collect();
        let kept: Vec<&str> = words
            .iter()
            .enumerate()
            .filter(|(index, word)| *index == 0 || !TYPE_WORDS.contains(word))
            .map(|(_, word)| *word)
            .collect();
        let mut name = if kept.len() > 1 { kept.join("_") } else { name };
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

    /// Whether an ancestor of the path is an entity.
    fn inside_entity(&self, id: usize) -> bool {
        let mut at = self.survey.paths[id].parent;
        while let Some(parent) = at {
            if self.keys.get(parent).is_some_and(Option::is_some) {
                return true;
            }
            at = self.survey.paths[parent].parent;
        }
        false
    }

    /// The key of an element path that names one thing per element (`<gpu id="...">`,
    /// `<counter name="A">`, `<connector name="http-8080">`): (label, query from the element,
    /// how comments name it). Its values must be on every element, none meaning "no value",
    /// and unique within a sample; numbers only for ports (numeric `id`s count records).
    fn entity_key(&self, id: usize) -> Option<EntityKey> {
        const KEYS: [&str; 13] = [
            "name",
            "id",
            "uuid",
            "type",
            "portid",
            "port",
            "key",
            "zone",
            "host",
            "hostname",
            "interface",
            "device",
            "addr",
        ];
        let survey = self.survey;
        let path = &survey.paths[id];
        path.parent?;
        let repeated = path.max_per_parent > 1;
        let mut candidates: Vec<(usize, EntityKey)> = Vec::new();
        // The element's own attributes first, then what its children hold.
        let mut consider = |name: &str, query: String, about: String, values: &Values| {
            let label = name_part(name, "key");
            let Some(rank) = KEYS.iter().position(|k| *k == label) else {
                return;
            };
            let rank = rank
                + if query.starts_with('@') {
                    0
                } else {
                    KEYS.len()
                };
            let fits = values.present == path.count
                && values.absent_count() == 0
                && !values.long
                // Unique in the sample, or together with the key of an entity above.
                && (!values.repeats || self.inside_entity(id))
                && !values.distinct.iter().any(|(v, _)| v.is_empty())
                && (!values.all_numbers() || label.starts_with("port"))
                && (repeated || matches!(label.as_str(), "id" | "uuid"));
            if fits {
                let quoted = !values.many
                    && values
                        .distinct
                        .iter()
                        .all(|(v, _)| v.len() > 2 && v.starts_with('"') && v.ends_with('"'));
                candidates.push((
                    rank,
                    EntityKey {
                        label,
                        query,
                        about,
                        quoted,
                    },
                ));
            }
        };
        for attribute in &path.attributes {
            consider(
                &attribute.name.local,
                format!("@{}", self.step(&attribute.name)),
                format!("@{}", attribute.written),
                &attribute.values,
            );
        }
        for &child_id in &path.children {
            let child = &survey.paths[child_id];
            if child.max_per_parent > 1 || child.count != path.count {
                continue;
            }
            if child.leaves == child.count {
                consider(
                    &child.name.local,
                    self.step(&child.name),
                    format!("<{}>", child.written),
                    &child.text,
                );
            }
            for attribute in &child.attributes {
                consider(
                    &attribute.name.local,
                    format!("{}/@{}", self.step(&child.name), self.step(&attribute.name)),
                    format!("<{}> @{}", child.written, attribute.written),
                    &attribute.values,
                );
            }
        }
        candidates.sort_by_key(|(rank, ..)| *rank);
        candidates.into_iter().next().map(|(_, key)| key)
    }

    /// What an entity (or the root) reads: its attributes and text, and those of the elements
    /// below it that occur once in it, down to the next entity or repeated element. Each is
    /// (query from the element, how comments name it, name part, values).
    fn readings(&self, id: usize) -> Vec<(String, String, String, &'s Values)> {
        let survey = self.survey;
        let mut out = Vec::new();
        let mut stack: Vec<(usize, String, String, String, usize)> =
            vec![(id, String::new(), String::new(), String::new(), 0)];
        while let Some((at, query, about, part, depth)) = stack.pop() {
            let path = &survey.paths[at];
            let join = |a: &str, b: &str, sep: &str| {
                if a.is_empty() {
                    b.to_owned()
                } else {
                    format!("{a}{sep}{b}")
                }
            };
            for attribute in &path.attributes {
                if at == id
                    && self.keys[id]
                        .as_ref()
                        .is_some_and(|key| key.query == format!("@{}", self.step(&attribute.name)))
                {
                    continue;
                }
                out.push((
                    join(&query, &format!("@{}", self.step(&attribute.name)), "/"),
                    join(&about, &format!("@{}", attribute.written), " "),
                    join(&part, &name_part(&attribute.name.local, "attribute"), "_"),
                    &attribute.values,
                ));
            }
            // The root's own text is between its children; an entity's is its value
            // (`<counter name="A">5</counter>`).
            if (at != id || path.parent.is_some())
                && path.leaves == path.count
                && !path.text.all_empty()
            {
                out.push((query.clone(), about.clone(), part.clone(), &path.text));
            }
            if depth >= 8 {
                continue;
            }
            for &child_id in path.children.iter().rev() {
                let child = &survey.paths[child_id];
                if child.max_per_parent > 1 || self.keys[child_id].is_some() {
                    continue;
                }
                stack.push((
                    child_id,
                    join(&query, &self.step(&child.name), "/"),
                    join(&about, &format!("<{}>", child.written), " "),
                    join(&part, &name_part(&child.name.local, "element"), "_"),
                    depth + 1,
                ));
            }
        }
        out
    }

    /// The fields and labels naming an entity: its key, and the keys of the entities it is in
    /// (`../@name`), as far as the streaming engine reads them.
    fn entity_labels(&self, id: usize) -> (Entries, Entries) {
        let mut fields = Vec::new();
        let mut labels = Vec::new();
        let mut at = Some(id);
        let mut up = String::new();
        while let Some(current) = at {
            if let Some(key) = &self.keys[current] {
                let (label, query) = (&key.label, &key.query);
                // `<testsuite name>` above `<testcase name>`: `testsuite_name`.
                let label = if labels.iter().any(|(l, _): &(String, String)| l == label) {
                    let element = name_part(&self.survey.paths[current].name.local, "element");
                    format!("{element}_{label}")
                } else {
                    label.clone()
                };
                if labels.iter().any(|(l, _)| *l == label) {
                    break;
                }
                let (field, mut template) = field_for(&label);
                if key.quoted {
                    template = format!("{{{{ {field} | replace('\"', '') }}}}");
                }
                fields.push((field, format!("{up}{query}")));
                labels.push((label, template));
            }
            up.push_str("../");
            at = self.survey.paths[current].parent;
        }
        (fields, labels)
    }

    /// Rules for an entity: one series per element, labelled by its key, for each number it
    /// holds, and an `_info` metric for its versions and models.
    fn entity(&mut self, id: usize) {
        let survey = self.survey;
        let path = &survey.paths[id];
        let element = format!("<{}>", path.written);
        let query = self.path_query(id);
        let base = self.base_name(id);
        let (fields, labels) = self.entity_labels(id);
        let Some(key_about) = self.keys[id].as_ref().map(|key| key.about.clone()) else {
            return;
        };
        let mut info: Vec<(String, String, String)> = Vec::new();
        for (value_query, about, part, values) in self.readings(id) {
            let about = if about.is_empty() {
                "text".to_owned()
            } else {
                about
            };
            if is_identifier(&part) && !is_info_name(&part) {
                continue;
            }
            if is_info_name(&part) && (!values.all_numbers() || part.contains("version")) {
                if values.present == path.count && values.absent_count() == 0 && !values.long {
                    info.push((name_part(&part, "info"), value_query, about));
                }
                continue;
            }
            let Some(mut rule) = self.reading_rule(&base, &part, &about, &value_query, values)
            else {
                continue;
            };
            rule.comment.insert(
                0,
                format!(
                    "{element} {about}: {}, on {}, one series per {element} by {key_about}",
                    describe_readable(values),
                    on_how_many(values.present, path.count, &element)
                ),
            );
            rule.help = format!("{about} of each {element} at {query}");
            rule.select = Some(query.clone());
            rule.fields.clone_from(&fields);
            rule.labels.clone_from(&labels);
            if values.present < path.count || values.absent_count() > 0 {
                rule.on_missing = Some("skip");
            }
            self.push(rule);
        }
        self.push_info(&base, &element, &query, fields, labels, info);
    }

    /// An `_info` metric of value 1 whose labels are the versions and models an element holds.
    fn push_info(
        &mut self,
        base: &str,
        element: &str,
        query: &str,
        mut fields: Vec<(String, String)>,
        mut labels: Vec<(String, String)>,
        info: Vec<(String, String, String)>,
    ) {
        if info.is_empty() {
            return;
        }
        let mut abouts = Vec::new();
        for (label, value_query, about) in info.into_iter().take(8) {
            if labels.iter().any(|(l, _)| *l == label) {
                continue;
            }
            let (field, template) = field_for(&label);
            fields.push((field, value_query));
            labels.push((label, template));
            abouts.push(about);
        }
        let name = self.claim_info(format!("{base}_info"));
        self.push(DraftRule {
            comment: vec![format!(
                "{element} {}: versions and models, labels of an info metric (value 1)",
                abouts.join(", ")
            )],
            help: format!("Versions and models of {element} at {query}, always 1"),
            name,
            select: Some(query.to_owned()),
            fields,
            labels,
            ..DraftRule::default()
        });
    }

    /// The versions and models of the root and the elements that occur once with it.
    fn info(&mut self, root: usize) {
        let survey = self.survey;
        let path = &survey.paths[root];
        let mut info = Vec::new();
        for (value_query, about, part, values) in self.readings(root) {
            if is_info_name(&part)
                && (!values.all_numbers() || part.contains("version"))
                && values.present == path.count
                && values.absent_count() == 0
                && !values.long
            {
                let query = if value_query.is_empty() {
                    ".".to_owned()
                } else {
                    value_query
                };
                info.push((name_part(&part, "info"), query, about));
            }
        }
        let element = format!("<{}>", path.written);
        let query = self.path_query(root);
        let base = self.prefix.clone();
        self.push_info(&base, &element, &query, Vec::new(), Vec::new(), info);
    }

    /// A rule reading one number (plain, with a unit, or a timestamp) from the text at
    /// `value`; `None` for texts that are not such numbers (dates are noted in the header).
    fn reading_rule(
        &mut self,
        base: &str,
        part: &str,
        about: &str,
        value: &str,
        values: &Values,
    ) -> Option<DraftRule> {
        let stem = if part.is_empty() {
            base.to_owned()
        } else {
            format!("{base}_{part}")
        };
        if values.dates > 0 && values.dates == values.present {
            self.notes.push(format!(
                "`{stem}`: {} holds dates; read them with `convert: {{parse: time, \
                 format: ...}}` into a `_timestamp_seconds` gauge if you need them",
                if about.is_empty() { "the text" } else { about }
            ));
            return None;
        }
        if !values.all_readable() {
            return None;
        }
        for (text, _) in &values.absent {
            if !self.absent.contains(text) {
                self.absent.push(text.clone());
            }
        }
        let value = if value.is_empty() { "." } else { value }.to_owned();
        let mut rule = DraftRule {
            value: Some(value),
            ..DraftRule::default()
        };
        if let Some(unit) = &values.unit {
            let optional = values.numbers > 0;
            match base_unit(unit) {
                Some((suffix, factor)) => {
                    rule.name = self.claim(with_suffix(&stem, suffix));
                    rule.convert = Some((Some(unit_regex(unit, optional)), factor));
                }
                None => {
                    rule.name = self.claim(stem);
                    rule.convert = Some((Some(unit_regex(unit, optional)), None));
                    rule.comment.push(format!(
                        "`{unit}` is not a unit xml2prom knows: the number is read as it is; \
                         convert it to a base unit and name the metric after it"
                    ));
                }
            }
        } else if let Some(divisor) = timestamp_divisor(&stem, values) {
            rule.name = self.claim(with_suffix(&stem, "timestamp_seconds"));
            if divisor > 1 {
                rule.convert = Some((None, Some(("divide", "1000"))));
            }
        } else {
            rule.name = self.claim(stem);
        }
        Some(rule)
    }

    /// Like [`Draft::claim`] for an `_info` name, which is meant to end so.
    fn claim_info(&mut self, name: String) -> String {
        let unique = (1..)
            .map(|n| {
                if n == 1 {
                    name.clone()
                } else {
                    format!("{}_{n}_info", name.trim_end_matches("_info"))
                }
            })
            .find(|candidate| !self.names.contains(candidate))
            .unwrap_or(name);
        self.names.insert(unique.clone());
        unique
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
                    ..DraftRule::default()
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
        let mut readings: Vec<(String, String, String, &Values)> = path
            .attributes
            .iter()
            .map(|attribute| {
                (
                    format!("@{}", self.step(&attribute.name)),
                    format!("@{}", attribute.written),
                    name_part(&attribute.name.local, "attribute"),
                    &attribute.values,
                )
            })
            .collect();
        if path.leaves == path.count && path.parent.is_some() {
            readings.push((".".to_owned(), String::new(), String::new(), &path.text));
        }
        for (value, about, part, values) in readings {
            let own = if part.is_empty() {
                name_part(&path.name.local, "element")
            } else {
                part.clone()
            };
            if is_identifier(&own)
                || is_info_name(&own) && (!values.all_numbers() || own.contains("version"))
            {
                continue;
            }
            let Some(mut rule) = self.reading_rule(&base, &part, &about, &value, values) else {
                continue;
            };
            let verb = match (about.is_empty(), rule.convert.is_some()) {
                (true, false) => format!("{element} holds"),
                (true, true) => format!("{element} reads"),
                (false, false) => format!("{element} {about} is"),
                (false, true) => format!("{element} {about} reads"),
            };
            let shown = if rule.convert.is_some() || values.absent_count() > 0 {
                describe_readable(values)
            } else {
                describe_numbers(values)
            };
            rule.comment
                .insert(0, format!("{verb} {shown} (at {query})"));
            rule.help = if about.is_empty() {
                format!("The number in {element} at {query}")
            } else {
                format!("{about} of {element} at {query}")
            };
            rule.select = Some(query.clone());
            if values.absent_count() > 0 {
                rule.on_missing = Some("skip");
            }
            self.push(rule);
        }
    }
}

/// A metric name ending in a unit: the stem with `_unit` unless it ends so already.
fn with_suffix(stem: &str, unit: &str) -> String {
    if stem.ends_with(&format!("_{unit}")) {
        stem.to_owned()
    } else {
        format!("{stem}_{unit}")
    }
}

/// What readable values look like in a comment: `numbers in MiB`, `N/A on 1`.
fn describe_readable(values: &Values) -> String {
    let mut text = match &values.unit {
        Some(unit) if values.numbers > 0 => format!("numbers, some in `{unit}`"),
        Some(unit) => format!("numbers in `{unit}`"),
        None if values.numbers > 0 => describe_numbers(values),
        None => "no number".to_owned(),
    };
    for (absent, count) in &values.absent {
        let _ = write!(text, ", `{absent}` on {count}");
    }
    text
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
    fn units_absent_texts_entities_and_versions() {
        let xml = r#"<log><driver_version>570.1</driver_version><started>1700000000</started>
  <gpu id="0000:01:00.0"><product_name>RTX</product_name><serial>123456</serial>
    <mem><used>1024 MiB</used></mem><temp>45 C</temp><fan>N/A</fan><util>12 %</util>
    <clock>1410 MHz</clock><lat>5 ms</lat><odd>3 furlongs</odd><power>70.5 W</power></gpu>
  <gpu id="0000:02:00.0"><product_name>RTX</product_name><serial>654321</serial>
    <mem><used>2048 MiB</used></mem><temp>50 C</temp><fan>30 %</fan><util>N/A</util>
    <clock>1500 MHz</clock><lat>7 ms</lat><odd>4 furlongs</odd><power>N/A</power></gpu>
</log>"#;
        let yaml = draft_of(xml);
        for expected in [
            "absent: [\"N/A\"]\n",
            "  - name: log_gpu_mem_used_bytes\n",
            "    convert: { regex: '^\\s*([-+]?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\\s*MiB\\s*$', \
             scale: 1048576 }\n",
            "  - name: log_gpu_fan_ratio\n",
            "    on_missing: skip\n",
            "  - name: log_started_timestamp_seconds\n",
            "`furlongs` is not a unit xml2prom knows",
        ] {
            assert!(yaml.contains(expected), "{expected:?} missing from\n{yaml}");
        }
        // Serial numbers are never values.
        assert!(!yaml.contains("serial\n    help"), "{yaml}");
        let out = load_and_run(xml, &yaml);
        let gpu = |name: &str, id: &str| series(&out, &format!("{name}{{id=\"{id}\"}}"));
        assert_eq!(
            gpu("log_gpu_mem_used_bytes", "0000:02:00.0"),
            Some(2_147_483_648.0)
        );
        assert_eq!(gpu("log_gpu_temp_celsius", "0000:01:00.0"), Some(45.0));
        assert_eq!(gpu("log_gpu_util_ratio", "0000:01:00.0"), Some(0.12));
        assert_eq!(
            gpu("log_gpu_util_ratio", "0000:02:00.0"),
            None,
            "N/A is absent"
        );
        assert_eq!(gpu("log_gpu_clock_hertz", "0000:02:00.0"), Some(1.5e9));
        assert_eq!(gpu("log_gpu_lat_seconds", "0000:01:00.0"), Some(0.005));
        assert_eq!(gpu("log_gpu_power_watts", "0000:01:00.0"), Some(70.5));
        assert_eq!(gpu("log_gpu_odd", "0000:02:00.0"), Some(4.0));
        assert_eq!(
            series(
                &out,
                r#"log_gpu_info{id="0000:01:00.0",product_name="RTX"}"#
            ),
            Some(1.0),
            "{out}"
        );
        assert_eq!(
            series(&out, r#"log_info{driver_version="570.1"}"#),
            Some(1.0)
        );
        assert_eq!(series(&out, "log_started_timestamp_seconds"), Some(1.7e9));
        assert!(!out.contains("serial"), "{out}");
    }

    #[test]
    fn named_counters_are_one_series_each_and_never_summed() {
        let xml = r#"<stats><counters type="opcode"><counter name="QUERY">5</counter>
  <counter name="NOTIFY">1</counter></counters>
  <counters type="rcode"><counter name="QUERY">2</counter></counters>
  <zones><zone name="a.example"><serial>7</serial><queries>3</queries></zone>
  <zone name="b.example"><serial>9</serial><queries>4</queries></zone></zones></stats>"#;
        let yaml = draft_of(xml);
        let out = load_and_run(xml, &yaml);
        assert_eq!(
            series(&out, r#"stats_zones_zone_queries{name="b.example"}"#),
            Some(4.0),
            "{out}"
        );
        assert!(!out.contains("serial"), "{out}");
        assert!(!yaml.contains("aggregate: sum"), "{yaml}");
        // The same counter name under two <counters>: both names are labels.
        for (kind, value) in [("opcode", 5.0), ("rcode", 2.0)] {
            assert_eq!(
                series(
                    &out,
                    &format!(r#"stats_counters{{name="QUERY",type="{kind}"}}"#)
                ),
                Some(value),
                "{out}"
            );
        }

        // Names written in quotes (Tomcat's connectors) are labels without them.
        let xml = r#"<status><connector name='"http-8080"'><info requests="3"/></connector>
  <connector name='"ajp-8009"'><info requests="4"/></connector></status>"#;
        let out = load_and_run(xml, &draft_of(xml));
        assert_eq!(
            series(&out, r#"status_connector_info_requests{name="ajp-8009"}"#),
            Some(4.0),
            "{out}"
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
            let samples = [std::path::PathBuf::from("s.xml")];
            let header = Header {
                samples: &samples,
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
            absent: Vec::new(),
            notes: Vec::new(),
            keys: Vec::new(),
        };
        assert_eq!(draft.claim("s_count".to_owned()), "s_count_value");
        assert_eq!(draft.claim("s_info".to_owned()), "s_info_value");
        assert_eq!(draft.claim("s_a".to_owned()), "s_a");
        assert_eq!(draft.claim("s_a".to_owned()), "s_a_2");
        assert_eq!(draft.claim("s_a".to_owned()), "s_a_3");
    }

    #[test]
    fn names_promtool_objects_to_are_kept_with_a_comment_or_mended() {
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
        // A metric type is dropped from the name; the `# TYPE` line says it.
        assert!(yaml.contains("  - name: s_total_value\n"), "{yaml}");
        assert!(!yaml.contains("`summary` (a metric type)"), "{yaml}");
        assert!(
            yaml.contains("the word `ms` (an abbreviated unit)"),
            "{yaml}"
        );
    }
}
