//! Init: a sample store to a draft rule file (the `init` subcommand).
//!
//! [`init`] surveys the sample once through the same checked scan as `run`, so a hostile or
//! broken sample is refused exactly as `run` refuses it (`survey.rs`), drafts rules from what
//! the sample holds (`draft.rs`) and writes them as YAML (`yaml.rs`).
//!
//! [`draft`] turns the survey into YAML, every rule streamable:
//!
//! - per repeated element (more than one under one parent): its count, `count(/store/row)`;
//!   per low-cardinality attribute (or child text) an aggregated count by that label, and per
//!   numeric attribute (or child text) its sum by that label, or over all elements when there is
//!   no label;
//! - per number on an element that occurs once in the document: a gauge reading it;
//! - namespaces bound to prefixes (a default namespace too, as XPath 1.0 needs) and used in
//!   every query;
//! - a comment above each rule saying what the sample holds.
//!
//! The draft is loaded and compiled before it is written: a draft that does not load is our
//! bug, reported as such instead of being handed to the user.

use std::fmt::{self, Write as _};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::model::names::FieldName;
use crate::output::{self, Destination, WriteError};
use crate::rules::compile::{self, SELF_METRICS_PREFIX};
use crate::rules::file::{self, SUPPORTED_VERSION};
use crate::xml::{self, XmlError, XmlLimits};

mod survey;

use survey::{
    MAX_ATTRIBUTES_PER_PATH, MAX_LABEL_VALUES, MAX_NAMESPACES, MAX_PATHS, MAX_VALUE_BYTES, Name,
    Namespace, Survey, Values,
};

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

/// What `init` needs, checked.
#[derive(Debug, Clone)]
pub struct InitConfig {
    /// The sample store.
    pub sample: PathBuf,
    /// The start of every metric name; `None` takes the root element's name.
    pub prefix: Option<MetricPrefix>,
    /// Where the draft goes.
    pub output: Destination,
    /// Replace an existing output file.
    pub force: bool,
    /// Limits on the sample, as for `run`'s inputs.
    pub limits: XmlLimits,
}

/// A valid start of metric names: `[a-zA-Z_:][a-zA-Z0-9_:]*`, not starting with `__` nor
/// `xml2prom_`, without a trailing `_` (one is added before each name's next part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricPrefix(String);

impl MetricPrefix {
    /// Checks a prefix given on the command line; a trailing `_` is dropped.
    ///
    /// ```
    /// # use xml2prom::commands::init::MetricPrefix;
    /// assert_eq!(MetricPrefix::parse("shop_").map(|p| p.as_str().to_owned()), Ok("shop".to_owned()));
    /// assert!(MetricPrefix::parse("1shop").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<MetricPrefix, String> {
        let trimmed = s.trim_end_matches('_');
        let mut chars = trimmed.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !valid {
            return Err(format!(
                "`{s}` is not a valid metric name prefix: use letters, digits, `_` and `:`, not \
                 starting with a digit"
            ));
        }
        if trimmed.starts_with("__") {
            return Err(format!(
                "`{s}` is not a valid metric name prefix: names starting with `__` are reserved \
                 for Prometheus"
            ));
        }
        let own = SELF_METRICS_PREFIX.trim_end_matches('_');
        if trimmed == own || trimmed.starts_with(SELF_METRICS_PREFIX) {
            return Err(format!(
                "`{s}` is not a valid metric name prefix: names starting with \
                 `{SELF_METRICS_PREFIX}` are kept for xml2prom's own metrics"
            ));
        }
        Ok(MetricPrefix(trimmed.to_owned()))
    }

    /// The prefix for a root element: its name in snake case (`storeData` -> `store_data`),
    /// or `xml` when nothing of it is usable.
    fn from_root(local: &str) -> MetricPrefix {
        let snake = snake_case(local);
        if snake.is_empty() {
            return MetricPrefix("xml".to_owned());
        }
        MetricPrefix::parse(&snake)
            .or_else(|_| MetricPrefix::parse(&format!("x_{snake}")))
            .unwrap_or_else(|_| MetricPrefix("xml".to_owned()))
    }

    /// The prefix as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MetricPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why `init` failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The sample was refused, or is not well-formed (the same errors as `run`).
    #[error("{}: {source}", sample.display())]
    Xml {
        /// The sample.
        sample: PathBuf,
        /// Why.
        source: XmlError,
    },
    /// The sample does not exist or is a directory.
    #[error("{}: cannot read the sample: {why}", sample.display())]
    Sample {
        /// The sample.
        sample: PathBuf,
        /// What is wrong and what to do.
        why: &'static str,
    },
    /// The sample has no repeated element and no number on a single element.
    #[error(
        "{}: found nothing to measure: no element repeats, and no attribute or text of an element \
         that occurs once is a number; write the rules by hand (see the README's rule file \
         reference)",
        sample.display()
    )]
    NothingToMeasure {
        /// The sample.
        sample: PathBuf,
    },
    /// `--output` names an existing file and `--force` was not given.
    #[error("{} exists; choose another --output, or add --force to replace it", path.display())]
    OutputExists {
        /// The file.
        path: PathBuf,
    },
    /// A new output file could not be created or written.
    #[error(
        "cannot write {}: {source}; check that its directory exists and that you may write there",
        path.display()
    )]
    Create {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// An existing output file could not be replaced, or stdout failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The draft does not load: xml2prom's own bug.
    #[error(
        "the drafted rule file does not load: {message}; this is a bug in xml2prom, please \
         report it with the element and attribute names of the sample"
    )]
    Bug {
        /// What the loader said.
        message: String,
    },
}

impl InitError {
    /// The process exit code: 2 when the command line must change (the output exists), 1
    /// otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            InitError::OutputExists { .. } => 2,
            _ => 1,
        }
    }
}

/// The `init` subcommand: surveys the sample, drafts the rule file and writes it.
pub fn init(config: &InitConfig) -> Result<(), InitError> {
    // Refuse before reading a sample that may be large.
    if let Destination::File(path) = &config.output
        && !config.force
        && path.symlink_metadata().is_ok()
    {
        return Err(InitError::OutputExists { path: path.clone() });
    }
    // The scan's messages for a missing file or a directory point at `run`'s --input.
    match std::fs::metadata(&config.sample) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(InitError::Sample {
                sample: config.sample.clone(),
                why: "it does not exist; check the SAMPLE path",
            });
        }
        Ok(metadata) if metadata.is_dir() => {
            return Err(InitError::Sample {
                sample: config.sample.clone(),
                why: "it is a directory; give the path of an XML file as SAMPLE",
            });
        }
        _ => {}
    }
    let mut survey = Survey::default();
    xml::scan_file(&config.sample, &config.limits, &mut survey).map_err(|source| {
        InitError::Xml {
            sample: config.sample.clone(),
            source,
        }
    })?;
    let rules_path = match &config.output {
        Destination::File(path) => path.display().to_string(),
        Destination::Stdout => "rules.yaml".to_owned(),
    };
    let header = Header {
        sample: &config.sample,
        prefix: config.prefix.as_ref(),
        rules: &rules_path,
    };
    let text = draft(&survey, &header).ok_or_else(|| InitError::NothingToMeasure {
        sample: config.sample.clone(),
    })?;
    check_draft(&text)?;
    match &config.output {
        Destination::Stdout => output::write(&Destination::Stdout, &text)?,
        Destination::File(path) if config.force => {
            output::write_atomically(path, text.as_bytes())?;
        }
        Destination::File(path) => write_new(path, &text)?,
    }
    Ok(())
}

/// Loads and compiles a draft as `run` would.
fn check_draft(text: &str) -> Result<(), InitError> {
    let rules = file::parse(text).map_err(|(message, _)| InitError::Bug { message })?;
    compile::compile(rules).map_err(|errors| InitError::Bug {
        message: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    Ok(())
}

/// Creates a file that must not exist yet and writes the text; removes it again on failure.
fn write_new(path: &Path, text: &str) -> Result<(), InitError> {
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            return Err(InitError::OutputExists {
                path: path.to_owned(),
            });
        }
        Err(source) => {
            return Err(InitError::Create {
                path: path.to_owned(),
                source,
            });
        }
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| {
            let _ = std::fs::remove_file(path);
            InitError::Create {
                path: path.to_owned(),
                source,
            }
        })
}

// ---------------------------------------------------------------------------------------------
// Draft

/// What the header comment of a draft names.
#[derive(Debug, Clone, Copy)]
struct Header<'a> {
    /// The sample, as given on the command line.
    pub sample: &'a Path,
    /// `--prefix`, if given.
    pub prefix: Option<&'a MetricPrefix>,
    /// The rule file path to suggest in the "try it" line.
    pub rules: &'a str,
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
fn draft(survey: &Survey, header: &Header<'_>) -> Option<String> {
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
fn snake_case(name: &str) -> String {
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
    use super::*;
    use crate::commands::run::{self, Engine};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The survey of an XML text.
    pub(super) fn survey(xml: &str) -> Survey {
        let mut survey = Survey::default();
        xml::scan(xml.as_bytes(), &XmlLimits::default(), &mut survey).expect("a valid sample");
        survey
    }

    pub(super) fn draft_with(xml: &str, prefix: Option<&str>) -> String {
        let prefix = prefix.map(|p| MetricPrefix::parse(p).expect("valid prefix"));
        let header = Header {
            sample: Path::new("sample.xml"),
            prefix: prefix.as_ref(),
            rules: "rules.yaml",
        };
        draft(&survey(xml), &header).expect("something to measure")
    }

    pub(super) fn draft_of(xml: &str) -> String {
        draft_with(xml, None)
    }

    /// Loads a draft from a file as `run` does, checks every rule streams, runs it on its
    /// sample with both engines and returns the exposition.
    pub(super) fn load_and_run(xml: &str, yaml: &str) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rules.yaml");
        std::fs::write(&path, yaml).expect("write draft");
        let rules = match run::load_rules(&path, &Default::default()) {
            Ok(rules) => rules,
            Err(err) => {
                let report = run::RunError::Rules(err).report();
                panic!("the draft does not load:\n{report}\n--- draft ---\n{yaml}");
            }
        };
        for rule in &rules.rules {
            assert!(
                rule.stream.is_ok(),
                "{} ({}) is not streamable: {:?}",
                rule.id,
                rule.name,
                rule.stream.as_ref().err()
            );
        }
        let input = Path::new("sample.xml");
        let limits = XmlLimits::default();
        let (streamed, warnings) =
            run::evaluate_to_text(&rules, xml.as_bytes(), input, &limits, Engine::Auto)
                .unwrap_or_else(|err| panic!("the draft fails on its sample: {err}\n{yaml}"));
        let (dom, _) = run::evaluate_to_text(&rules, xml.as_bytes(), input, &limits, Engine::Dom)
            .unwrap_or_else(|err| panic!("the draft fails on the DOM engine: {err}\n{yaml}"));
        assert_eq!(streamed, dom, "the engines disagree on the draft\n{yaml}");
        for warning in warnings {
            assert!(warning.contains("missing"), "unexpected warning: {warning}");
        }
        streamed
    }

    /// The value of a series in an exposition, e.g. `store_row_elements` or
    /// `store_row_elements_by_kind{kind="order"}`.
    pub(super) fn series(exposition: &str, series: &str) -> Option<f64> {
        exposition.lines().find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
    }

    pub(super) const STORE: &str = r#"<?xml version="1.0"?>
<store name="main" version="3">
  <row id="1" kind="order" size="120" status="ok">first</row>
  <row id="2" kind="order" size="80" status="failed">second</row>
  <row id="3" kind="invoice" size="2048" status="ok">third</row>
  <row id="4" kind="invoice" status="ok">fourth</row>
  <row id="5" kind="order" size="300" status="ok">fifth</row>
</store>
"#;

    #[test]
    fn a_plain_store_gives_counts_labels_and_sums() {
        let yaml = draft_of(STORE);
        for expected in [
            "  # /store/row: 5 <row> elements, up to 5 in one <store>\n",
            "  #   @id: on all 5 <row>, numbers from 1 to 5: an identifier by its name, not \
             summed\n",
            "  #   @kind: on all 5 <row>, 2 values: order (3), invoice (2): a label below\n",
            "  #   @size: on 4 of 5 <row>, numbers from 80 to 2048: summed below\n",
            "  #   @status: on all 5 <row>, 2 values: ok (4), failed (1): a label below\n",
            "  #   text: on all 5 <row>, 5 distinct values: values hardly repeat, not a label\n",
            "  - name: store_row_elements\n",
            "    value: count(/store/row)\n",
            "    select: \"/store/row[@size]\"\n",
            "  - name: store_version\n",
        ] {
            assert!(yaml.contains(expected), "{expected:?} missing from\n{yaml}");
        }
        assert!(!yaml.contains("on_missing"), "{yaml}");
        let out = load_and_run(STORE, &yaml);
        assert_eq!(series(&out, "store_row_elements"), Some(5.0), "{out}");
        assert_eq!(
            series(&out, r#"store_row_elements_by_kind{kind="order"}"#),
            Some(3.0)
        );
        assert_eq!(
            series(&out, r#"store_row_elements_by_status{status="failed"}"#),
            Some(1.0)
        );
        assert_eq!(
            series(&out, r#"store_row_size_by_kind{kind="invoice"}"#),
            Some(2048.0)
        );
        assert_eq!(series(&out, "store_version"), Some(3.0));
        // Identifiers are not summed.
        assert!(!out.contains("store_row_id"), "{out}");
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
    fn a_default_namespace_is_bound_to_a_prefix_used_in_every_query() {
        let xml = r#"<inventory xmlns="urn:example:inventory" xmlns:x="urn:example:extra">
  <item x:zone="north" status="ok"><qty>3</qty><meta weight="1.5"/></item>
  <item x:zone="north" status="ok"><qty>0</qty></item>
  <item x:zone="south" status="gone"><qty>10</qty><meta weight="2"/></item>
  <item x:zone="south" status="ok"><qty>1</qty><meta weight="0.5"/></item>
  <x:summary x:total="14"/>
</inventory>"#;
        let yaml = draft_of(xml);
        for expected in [
            "namespaces:\n  i: urn:example:inventory\n  x: urn:example:extra\n",
            "    value: count(/i:inventory/i:item)\n",
            "      zone: \"@x:zone\"\n",
            "    value: i:qty\n",
            "    value: i:meta/@weight\n    aggregate: sum\n    on_missing: skip\n",
            "    select: /i:inventory/x:summary\n    value: \"@x:total\"\n",
        ] {
            assert!(yaml.contains(expected), "{expected:?} missing from\n{yaml}");
        }
        let out = load_and_run(xml, &yaml);
        assert_eq!(series(&out, "inventory_item_elements"), Some(4.0), "{out}");
        assert_eq!(
            series(&out, r#"inventory_item_qty_by_zone{zone="south"}"#),
            Some(11.0)
        );
        assert_eq!(
            series(&out, r#"inventory_item_meta_weight_by_zone{zone="north"}"#),
            Some(1.5)
        );
        assert_eq!(series(&out, "inventory_summary_total_value"), Some(14.0));
    }

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
    fn nested_repeated_elements_child_texts_and_single_numbers() {
        let xml = r#"<orders>
  <stats><open>2</open><closed>1</closed><ratio>0.5</ratio></stats>
  <order state="open"><line sku="a"><price>1.5</price></line><line sku="b"><price>2</price></line></order>
  <order state="open"><line sku="a"><price>1.5</price></line></order>
  <order state="closed"><line sku="c"><price>7</price></line><line sku="a"><price>1.5</price></line></order>
  <order state="closed"><line sku="a"><price>3</price></line></order>
</orders>"#;
        let yaml = draft_of(xml);
        let out = load_and_run(xml, &yaml);
        assert_eq!(series(&out, "orders_order_elements"), Some(4.0), "{out}");
        assert_eq!(
            series(&out, "orders_order_line_elements"),
            Some(6.0),
            "{out}"
        );
        assert_eq!(
            series(&out, r#"orders_order_line_elements_by_sku{sku="a"}"#),
            Some(4.0),
            "{yaml}\n{out}"
        );
        assert_eq!(
            series(&out, r#"orders_order_line_price_by_sku{sku="a"}"#),
            Some(7.5)
        );
        assert_eq!(series(&out, "orders_stats_open"), Some(2.0));
        assert_eq!(series(&out, "orders_stats_ratio"), Some(0.5));
        assert_eq!(
            series(&out, r#"orders_order_elements_by_state{state="closed"}"#),
            Some(2.0)
        );
    }

    #[test]
    fn without_a_label_numbers_are_summed_over_all_elements() {
        let xml = "<log><e ms=\"5\">1</e><e ms=\"7\">2.5</e><e>4</e></log>";
        let yaml = draft_of(xml);
        assert!(yaml.contains("    value: sum(/log/e)\n"), "{yaml}");
        assert!(yaml.contains("    value: sum(/log/e/@ms)\n"), "{yaml}");
        let out = load_and_run(xml, &yaml);
        assert_eq!(series(&out, "log_e"), Some(7.5), "{out}");
        assert_eq!(series(&out, "log_e_ms"), Some(12.0), "{out}");
        assert_eq!(series(&out, "log_e_elements"), Some(3.0), "{out}");
    }

    #[test]
    fn awkward_names_give_valid_rules() {
        // Reserved template words, XPath operator and node-type names, names with dots,
        // dashes, capitals and non-ASCII letters, and names that end like a histogram or an
        // info metric.
        let xml = r#"<Root-Data>
  <and for="x" in="y" loop="1" text="a" div="b"><node>1</node><info>3</info></and>
  <and for="x" in="y" loop="2" text="a" div="b"><node>2</node><info>4</info></and>
  <and for="z" in="w" loop="3" text="c" div="d"><node>3</node><info>5</info></and>
  <and for="z" in="w" loop="4" text="c" div="d"><node>4</node><info>6</info></and>
  <größe wert.zahl="5" HTTPStatus-code="7" count="2" true="1"/>
</Root-Data>"#;
        let yaml = draft_of(xml);
        for expected in [
            "  - name: root_data_and_elements\n",
            "      for: \"@for\"\n",
            "      in_value: \"@in\"\n",
            "      text: \"{{ text }}\"\n",
            "  - name: root_data_gr_e_wert_zahl\n",
            "  - name: root_data_gr_e_http_status_code\n",
            "  - name: root_data_gr_e_count_value\n",
            "  - name: root_data_gr_e_true\n",
            "  - name: root_data_and_info_by_for\n",
        ] {
            assert!(yaml.contains(expected), "{expected:?} missing from\n{yaml}");
        }
        let out = load_and_run(xml, &yaml);
        assert_eq!(
            series(&out, r#"root_data_and_node_by_for{for="z"}"#),
            Some(7.0),
            "{out}"
        );
        assert_eq!(series(&out, "root_data_gr_e_count_value"), Some(2.0));

        // Child elements named like XPath operators and node types, read as values.
        let names = [
            "and",
            "or",
            "div",
            "mod",
            "text",
            "comment",
            "node",
            "processing-instruction",
        ];
        let mut xml = String::from("<s>");
        for (i, kind) in ["a", "a", "b", "b"].iter().enumerate() {
            xml.push_str("<r>");
            for name in names {
                let _ = write!(xml, "<{name}>{i}</{name}>");
            }
            let _ = write!(xml, "<k>{kind}</k></r>");
        }
        xml.push_str("</s>");
        let yaml = draft_of(&xml);
        let out = load_and_run(&xml, &yaml);
        for name in names {
            let series_name = format!("s_r_{}_by_k{{k=\"b\"}}", snake_case(name));
            assert_eq!(
                series(&out, &series_name),
                Some(5.0),
                "{series_name}\n{out}"
            );
        }
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
    fn undeclared_and_reserved_prefixes_are_left_out() {
        // `xml:lang` is in the XML namespace, which rule files cannot bind.
        let xml = r#"<s><r xml:lang="en" k="a" n="1"/><r xml:lang="de" k="a" n="2"/><r xml:lang="en" k="b" n="3"/><r xml:lang="de" k="b" n="4"/></s>"#;
        let yaml = draft_of(xml);
        assert!(!yaml.contains("lang"), "{yaml}");
        let out = load_and_run(xml, &yaml);
        assert_eq!(series(&out, r#"s_r_n_by_k{k="b"}"#), Some(7.0), "{out}");
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
    fn metric_prefixes() {
        for (given, kept) in [
            ("shop", "shop"),
            ("shop_", "shop"),
            ("a:b", "a:b"),
            ("_x", "_x"),
        ] {
            assert_eq!(MetricPrefix::parse(given).map(|p| p.0), Ok(kept.to_owned()));
        }
        for bad in ["", "_", "1a", "a-b", "__a", "xml2prom", "xml2prom_x", "ä"] {
            assert!(MetricPrefix::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(MetricPrefix::from_root("storeData").0, "store_data");
        assert_eq!(MetricPrefix::from_root("xml2prom").0, "x_xml2prom");
        assert_eq!(MetricPrefix::from_root("名前").0, "xml");
        assert_eq!(MetricPrefix::from_root("é1").0, "x_1");
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

        #[test]
        fn any_attribute_values_give_a_draft_that_runs(
            values in proptest::collection::vec("[a-c\n\"'#:&<> -]{0,4}", 4..12),
            numbers in proptest::collection::vec(-5.0f64..5.0, 4..12),
        ) {
            let mut xml = String::from("<s>");
            for (i, value) in values.iter().enumerate() {
                let escaped = value
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;")
                    .replace('\n', "&#10;");
                let number = numbers.get(i).copied().unwrap_or(1.0);
                let _ = write!(xml, "<r k=\"{escaped}\" n=\"{number}\">{number}</r>");
            }
            xml.push_str("</s>");
            let yaml = draft_of(&xml);
            let out = load_and_run(&xml, &yaml);
            prop_assert_eq!(series(&out, "s_r_elements"), Some(values.len() as f64));
        }
    }
}
