//! Rule file: YAML text to a [`RuleFile`] whose values are each valid on their own.
//!
//! The structs mirror the YAML (`deny_unknown_fields`). Every value that can be checked alone is
//! checked while it is read, inside `deserialize_str`, so serde_yaml still knows where the value
//! is and the error points at it: metric and label names, field names, XPath syntax, template
//! syntax. Checks that need several values (a namespace prefix used in a query, a template
//! variable that must be a field, two rules sharing a family) are in [`crate::rules::compile`].
//!
//! [`json_schema`] gives the JSON Schema of the same types, for editors
//! (`schemas/rules.schema.json`).
//!
//! All YAML parsing lives in this module (and the position lookup in [`crate::rules::diagnostic`]), so
//! replacing serde_yaml by a maintained fork touches one place.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::{Schema, SchemaGenerator};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::model::names::{Checked, FieldName, LabelName, MetricName, Prefix, checked_string};
use crate::model::sample::MetricType;
use crate::rules::convert::Convert;
use crate::rules::diagnostic::{self, FieldPath, Position, position_at_index};
use crate::rules::policy::{OnDuplicate, OnEmpty, OnInvalid, OnMissing};
use crate::rules::xpath::{MAX_XPATH_BYTES, XPathQuery};
use crate::rules::yaml::{self, Document};

/// The rule file format version this build reads.
pub const SUPPORTED_VERSION: u64 = 1;

/// A whole rule file, as written.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Format version; must be [`SUPPORTED_VERSION`].
    #[schemars(description = "The rule file format version; this xml2prom reads version 1.")]
    pub version: Version,
    /// Namespace prefixes usable in every XPath of the file: prefix -> URI.
    #[serde(default)]
    #[schemars(schema_with = "named_map::<Prefix, Text>")]
    pub namespaces: BTreeMap<Prefix, String>,
    /// Labels added to every sample: label name -> template over `input`.
    #[serde(default)]
    #[schemars(schema_with = "named_map::<LabelName, Template>")]
    pub labels: BTreeMap<LabelName, Template>,
    /// Texts that mean "no value" for every rule that does not list its own `absent`.
    #[schemars(with = "Option<Vec<Text>>")]
    pub absent: Option<Vec<String>>,
    /// The rules, one per metric (several may share a family).
    pub metrics: Vec<Rule>,
}

/// One entry of `metrics:`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Metric (family) name, or a template over the rule's fields that renders one per node.
    pub name: RuleName,
    /// HELP text.
    #[schemars(with = "Text")]
    pub help: String,
    /// Metric type.
    #[serde(rename = "type")]
    pub kind: MetricType,
    /// Absolute XPath selecting the nodes this rule reads; absent for a document-level rule.
    pub select: Option<XPathQuery>,
    /// XPath giving the number: relative to each selected node, or to the document.
    pub value: Option<XPathQuery>,
    /// Named strings read from each selected node: field name -> relative XPath, or
    /// `{query, on_missing, default}`.
    #[serde(default)]
    #[schemars(schema_with = "named_map::<FieldName, FieldSpec>")]
    pub fields: BTreeMap<FieldName, FieldSpec>,
    /// Labels of the rule's samples: label name -> template over fields and `input`.
    #[serde(default)]
    #[schemars(schema_with = "named_map::<LabelName, Template>")]
    pub labels: BTreeMap<LabelName, Template>,
    /// How the selected nodes of one label set combine into one sample.
    pub aggregate: Option<Aggregation>,
    /// Histogram bucket upper bounds, ascending; `+Inf` is added.
    pub buckets: Option<Vec<f64>>,
    /// Summary quantiles, ascending, each in [0, 1].
    pub quantiles: Option<Vec<f64>>,
    /// A histogram from the store's own buckets: each selected node is one bucket, this its
    /// upper bound (`+Inf` for the last), `value` its count.
    pub le: Option<ReadSpec>,
    /// Whether the counts of `le` buckets already include the buckets below (`true`), or count
    /// only their own range (`false`).
    pub cumulative: Option<bool>,
    /// A summary from the store's own quantiles: each selected node is one quantile, this its
    /// rank in [0, 1], `value` its value.
    pub quantile: Option<ReadSpec>,
    /// The sum of the observations of a histogram from `le` or a summary from `quantile`, read
    /// from each of its nodes.
    pub sum: Option<ReadSpec>,
    /// The number of observations of a histogram from `le` or a summary from `quantile`, read
    /// from each of its nodes.
    pub count: Option<ReadSpec>,
    /// How the value's text becomes a number: regex, map, parse, scale or divide.
    pub convert: Option<Convert>,
    /// A state set: the states `value` may give; one series per state, 1 for the current one.
    #[schemars(with = "Option<Vec<Text>>")]
    pub states: Option<Vec<String>>,
    /// The label that names the state in a state set (default `state`).
    pub state_label: Option<LabelName>,
    /// Whether the rule is an info metric (each node gives 1, its labels from fields). A gauge
    /// whose name ends in `_info` is one unless this is `false`; `true` needs such a name.
    #[schemars(
        description = "Whether the rule is an info metric (each node gives 1, its labels from \
                       fields). A gauge whose name ends in `_info` is one unless this is `false`; \
                       `true` needs such a name."
    )]
    pub info: Option<bool>,
    /// A selected node without the value or a field (a field's own `on_missing` or `default`
    /// comes first).
    pub on_missing: Option<OnMissing>,
    /// Texts of the value or a field that mean "no value": `on_missing` applies to them, and
    /// a node they leave out is counted, not reported. Replaces the file's `absent`.
    #[schemars(with = "Option<Vec<Text>>")]
    pub absent: Option<Vec<String>>,
    /// A value that does not give a number.
    pub on_invalid: Option<OnInvalid>,
    /// Two nodes that give the same series, in a rule without `aggregate`.
    pub on_duplicate: Option<OnDuplicate>,
    /// What a rule gives when no node produced a sample.
    pub on_empty: Option<OnEmpty>,
    /// The inputs this rule reads, by glob pattern: a pattern without `/` matches an input's
    /// file name, one with `/` its path as given; absent, every input.
    pub inputs: Option<Vec<InputPattern>>,
    /// Whether the nodes this rule's policies leave out are expected: counted in the
    /// self-metrics, not reported on stderr.
    pub quiet: Option<bool>,
    /// Lints `xml2prom check` does not report for this rule, by code: `[label-can-be-empty]`.
    #[serde(default)]
    pub allow_lints: Vec<crate::rules::lints::LintCode>,
}

/// How the nodes of one label set combine into one gauge or counter sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// The number of nodes.
    Count,
    /// The sum of their values.
    Sum,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
    /// The arithmetic mean of the values.
    Avg,
}

impl Aggregation {
    /// The word used in the rule file.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Count => "count",
            Aggregation::Sum => "sum",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
            Aggregation::Avg => "avg",
        }
    }
}

/// Largest rule file read, in bytes. A larger file (or a device such as `/dev/zero`) is refused
/// once this many bytes have been read, without reading more.
pub const MAX_RULE_FILE_BYTES: u64 = 16 << 20;

/// The keys of the top level of a rule file, as [`RuleFile`] reads them.
pub const TOP_LEVEL_KEYS: &[&str] = &["version", "namespaces", "labels", "absent", "metrics"];

/// The keys of one rule, as [`Rule`] reads them.
pub const RULE_KEYS: &[&str] = &[
    "name",
    "help",
    "type",
    "select",
    "value",
    "fields",
    "labels",
    "aggregate",
    "buckets",
    "quantiles",
    "le",
    "cumulative",
    "quantile",
    "sum",
    "count",
    "convert",
    "states",
    "state_label",
    "info",
    "on_missing",
    "absent",
    "on_invalid",
    "on_duplicate",
    "on_empty",
    "inputs",
    "quiet",
    "allow_lints",
];

/// The keys of a field given as a mapping, as [`FieldSpec`] reads them.
pub const FIELD_KEYS: &[&str] = &["query", "on_missing", "default"];

/// The keys of a `convert:` block, as [`Convert`] reads them.
pub const CONVERT_KEYS: &[&str] = crate::rules::convert::FIELDS;

/// A rule file's text and its YAML tree, kept to point into it in messages.
#[derive(Debug)]
pub struct RuleSource {
    /// The path as the user gave it.
    pub path: PathBuf,
    /// The YAML text.
    pub text: String,
    /// The one parse of the text; `None` when the text is not valid YAML.
    pub document: Option<Document>,
}

impl RuleSource {
    /// Where the value at `path` is, or, when it does not exist (a missing key), the nearest
    /// value on the way to it that does.
    pub fn locate(&self, path: &FieldPath, key_position: bool) -> Option<Position> {
        let document = self.document.as_ref()?;
        if let Some(position) = document.locate(&self.text, path, key_position) {
            return Some(position);
        }
        let mut segments = path.0.clone();
        while segments.pop().is_some() {
            let shorter = FieldPath(segments.clone());
            if let Some(position) = document.locate(&self.text, &shorter, false) {
                return Some(position);
            }
        }
        None
    }

    /// The `name:` of each entry of `metrics:`, for messages; `None` where an entry has no
    /// text name.
    pub fn rule_names(&self) -> Vec<Option<String>> {
        let Some(root) = self.document.as_ref().and_then(Document::root) else {
            return Vec::new();
        };
        let metrics = root.entries().and_then(|entries| {
            entries
                .into_iter()
                .rev()
                .find(|(key, _)| key.as_str() == Some("metrics"))
                .and_then(|(_, metrics)| metrics.items())
        });
        metrics
            .unwrap_or_default()
            .iter()
            .map(|rule| {
                let entries = rule.entries()?;
                let (_, name) = entries
                    .into_iter()
                    .rev()
                    .find(|(key, _)| key.as_str() == Some("name"))?;
                name.as_str().map(str::to_owned)
            })
            .collect()
    }
}

/// A rule file read and parsed, with its source kept for error messages.
#[derive(Debug)]
pub struct LoadedRuleFile {
    /// The text and where each value is.
    pub source: RuleSource,
    /// The parsed rules.
    pub rules: RuleFile,
}

/// One problem in a rule file's YAML or values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `yaml` (syntax), `yaml-limit` (nesting, size or alias limits), `unknown-key`,
    /// `missing-key` or `bad-value` (a value of the wrong type, or one that fails its check).
    pub code: &'static str,
    /// What is wrong, starting with the path of the value (`metrics[0].name: ...`), shortened
    /// where it quotes a long value.
    pub message: String,
    /// Where, when known.
    pub position: Option<Position>,
    /// What to do, when there is a hint (the nearest known key, where a key belongs).
    pub help: Option<String>,
}

/// A rule file that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum RuleFileError {
    /// The file cannot be read (missing, not permitted, not UTF-8).
    #[error("cannot read rule file {}: {source}", path.display())]
    Read {
        /// The rule file path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_RULE_FILE_BYTES`] (or is a device that never ends).
    #[error("the rule file {} is larger than {} MiB", path.display(), MAX_RULE_FILE_BYTES >> 20)]
    TooLarge {
        /// The rule file path.
        path: PathBuf,
    },
    /// The YAML is malformed or past a limit, or values have the wrong type or are invalid:
    /// every problem found, each rule checked on its own.
    #[error("{}", problems.first().map_or("", |p| p.message.as_str()))]
    Yaml {
        /// The text, and its tree when it parsed.
        file: RuleSource,
        /// Every problem, in file order.
        problems: Vec<Problem>,
    },
}

impl RuleFileError {
    /// The diagnostic code of the first problem: `read`, `too-large`, or a [`Problem::code`].
    pub fn code(&self) -> &'static str {
        match self {
            RuleFileError::Read { .. } => "read",
            RuleFileError::TooLarge { .. } => "too-large",
            RuleFileError::Yaml { problems, .. } => problems.first().map_or("yaml", |p| p.code),
        }
    }
}

/// Reads a rule file of at most [`MAX_RULE_FILE_BYTES`] and parses it once.
pub fn load(path: &Path) -> Result<LoadedRuleFile, RuleFileError> {
    let text = read_bounded(path)?;
    match parse_all(&text) {
        Ok((document, rules)) => Ok(LoadedRuleFile {
            source: RuleSource {
                path: path.to_owned(),
                text,
                document: Some(document),
            },
            rules,
        }),
        Err((document, problems)) => Err(RuleFileError::Yaml {
            file: RuleSource {
                path: path.to_owned(),
                text,
                document,
            },
            problems,
        }),
    }
}

/// The text of a rule file, refused past [`MAX_RULE_FILE_BYTES`] while it is read, so a device
/// or a growing file cannot exhaust memory.
fn read_bounded(path: &Path) -> Result<String, RuleFileError> {
    use std::io::Read;
    let read_error = |source| RuleFileError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    if file
        .metadata()
        .is_ok_and(|m| m.is_file() && m.len() > MAX_RULE_FILE_BYTES)
    {
        return Err(RuleFileError::TooLarge {
            path: path.to_owned(),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_RULE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_RULE_FILE_BYTES {
        return Err(RuleFileError::TooLarge {
            path: path.to_owned(),
        });
    }
    String::from_utf8(bytes).map_err(|_| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

/// Parses rule file text; on error gives the first problem's message (with its path, without a
/// position suffix) and position.
pub fn parse(source: &str) -> Result<RuleFile, (String, Option<Position>)> {
    parse_all(source)
        .map(|(_, rules)| rules)
        .map_err(|(_, problems)| {
            let first = problems.into_iter().next();
            first.map_or((String::from("the rule file is invalid"), None), |p| {
                (p.message, p.position)
            })
        })
}

/// Parses rule file text once, checking each top-level key and each rule on its own, so one
/// bad value does not hide the problems of other rules. On error gives every problem in file
/// order, and the YAML tree when the text parsed.
#[allow(clippy::type_complexity)]
pub fn parse_all(source: &str) -> Result<(Document, RuleFile), (Option<Document>, Vec<Problem>)> {
    let document = match Document::parse(source) {
        Ok(document) => document,
        Err(error) => {
            let problem = Problem {
                code: if error.limit { "yaml-limit" } else { "yaml" },
                message: diagnostic::shorten(&error.message),
                position: Some(position_at_index(source, error.index)),
                help: None,
            };
            return Err((None, vec![problem]));
        }
    };
    let mut errors = Vec::new();
    let rules = read_rule_file(&document, &mut errors);
    match rules {
        Some(rules) if errors.is_empty() => Ok((document, rules)),
        _ => {
            let mut problems: Vec<Problem> = errors
                .into_iter()
                .map(|error| Problem {
                    code: if error.unknown_key {
                        "unknown-key"
                    } else if error.missing_key {
                        "missing-key"
                    } else {
                        "bad-value"
                    },
                    message: diagnostic::shorten(&error.to_string()),
                    position: error.index.map(|index| position_at_index(source, index)),
                    help: error.help.as_deref().map(diagnostic::shorten),
                })
                .collect();
            problems.sort_by_key(|p| p.position.map(|p| p.index));
            Err((Some(document), problems))
        }
    }
}

/// Reads the top level key by key and `metrics:` rule by rule, collecting every error.
fn read_rule_file(document: &Document, errors: &mut Vec<yaml::Error>) -> Option<RuleFile> {
    let root_path = FieldPath::root();
    let Some(entries) = document.root().and_then(|root| root.entries()) else {
        // Not a mapping, or an empty file: serde's own message for the whole file.
        return document
            .deserialize::<RuleFile>(None, &root_path)
            .map_err(|error| errors.push(error))
            .ok();
    };
    let root_start = document.root().map_or(0, |root| root.start());
    fn keep<T>(errors: &mut Vec<yaml::Error>, result: Result<T, yaml::Error>) -> Option<T> {
        result.map_err(|error| errors.push(error)).ok()
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut version = None;
    let mut namespaces = None;
    let mut labels = None;
    let mut absent = None;
    let mut metrics: Option<Vec<Option<Rule>>> = None;
    let mut key_errors = Vec::new();
    for (key, value) in entries {
        let name = key.as_str().unwrap_or("?");
        let path = root_path.key(name);
        if seen.contains(&name) && TOP_LEVEL_KEYS.contains(&name) {
            key_errors.push(
                <yaml::Error as de::Error>::custom(format!("duplicate field `{name}`"))
                    .at(key.start(), &root_path),
            );
            continue;
        }
        seen.push(name);
        match name {
            "version" => {
                version = keep(errors, document.deserialize::<Version>(Some(value), &path))
            }
            "namespaces" => namespaces = keep(errors, document.deserialize(Some(value), &path)),
            "labels" => labels = keep(errors, document.deserialize(Some(value), &path)),
            "absent" => absent = keep(errors, document.deserialize(Some(value), &path)),
            "metrics" => {
                metrics = match value.items() {
                    Some(items) => Some(
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, item)| {
                                keep(
                                    errors,
                                    document.deserialize::<Rule>(Some(*item), &path.index(i)),
                                )
                            })
                            .collect(),
                    ),
                    None => keep(
                        errors,
                        document.deserialize::<Vec<Rule>>(Some(value), &path),
                    )
                    .map(|rules| rules.into_iter().map(Some).collect()),
                };
            }
            _ => key_errors.push(
                <yaml::Error as de::Error>::unknown_field(name, TOP_LEVEL_KEYS)
                    .at(key.start(), &root_path),
            ),
        }
    }
    for (key, given) in [
        ("version", seen.contains(&"version")),
        ("metrics", seen.contains(&"metrics")),
    ] {
        if !given {
            key_errors
                .push(<yaml::Error as de::Error>::missing_field(key).at(root_start, &root_path));
        }
    }
    errors.extend(key_errors);
    let metrics = metrics?.into_iter().collect::<Option<Vec<Rule>>>()?;
    Some(RuleFile {
        version: version?,
        namespaces: namespaces.unwrap_or_default(),
        labels: labels.unwrap_or_default(),
        absent: absent.flatten(),
        metrics,
    })
}

/// The hint for an unknown key among `expected`: where it belongs when it is a key of another
/// part of the rule file (`map` beside `value` belongs under `convert:`), else the nearest
/// known key (`valeu`: did you mean `value`?).
pub fn unknown_key_help(key: &str, expected: &[&str]) -> Option<String> {
    let in_rule = expected == RULE_KEYS;
    let at_top = expected == TOP_LEVEL_KEYS;
    let in_convert = expected == CONVERT_KEYS;
    if in_rule && CONVERT_KEYS.contains(&key) {
        return Some(format!(
            "`{key}` belongs under `convert:`, beside the rule's `value:`: \
             `convert: {{{key}: ...}}`"
        ));
    }
    if in_rule && TOP_LEVEL_KEYS.contains(&key) {
        return Some(format!(
            "`{key}` belongs at the top level of the file, not in a rule"
        ));
    }
    if at_top && RULE_KEYS.contains(&key) {
        return Some(format!(
            "`{key}` belongs in a rule, an entry of `metrics:`: \
             `metrics: [{{name: ..., {key}: ...}}]`"
        ));
    }
    if at_top && CONVERT_KEYS.contains(&key) {
        return Some(format!(
            "`{key}` belongs under `convert:` in a rule: `convert: {{{key}: ...}}`"
        ));
    }
    if in_convert && RULE_KEYS.contains(&key) {
        return Some(format!(
            "`{key}` belongs in the rule, beside `convert:`, not under it"
        ));
    }
    let nearest = expected
        .iter()
        .map(|known| (strsim::damerau_levenshtein(key, known), *known))
        .filter(|&(distance, known)| distance <= 2 && distance < known.len().max(key.len()) / 2 + 1)
        .min_by_key(|&(distance, _)| distance)?;
    Some(format!("did you mean `{}`?", nearest.1))
}

/// The `version:` value; only [`SUPPORTED_VERSION`] is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version(pub u64);

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct VersionVisitor;
        impl Visitor<'_> for VersionVisitor {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "the number {SUPPORTED_VERSION}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                if v == SUPPORTED_VERSION {
                    Ok(Version(v))
                } else {
                    Err(E::custom(format!(
                        "rule file version {v} is not supported; this xml2prom reads version \
                         {SUPPORTED_VERSION}"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
                Err(E::custom(format!(
                    "rule file version {v} is not supported; this xml2prom reads version \
                     {SUPPORTED_VERSION}"
                )))
            }
        }
        d.deserialize_u64(VersionVisitor)
    }
}

/// One entry of `fields:`: the query, and what a node without it gets, when not the rule's
/// `on_missing`.
///
/// Written as the query alone (`kind: "@kind"`) or as a mapping
/// (`kind: {query: "@kind", default: unknown}`).
#[derive(Debug)]
pub struct FieldSpec {
    /// The XPath, relative to each selected node.
    pub query: XPathQuery,
    /// This field's `on_missing`, in place of the rule's.
    pub on_missing: Option<OnMissing>,
    /// The text a node without this field (or with an `absent` text) gets.
    pub default: Option<String>,
}

impl From<XPathQuery> for FieldSpec {
    fn from(query: XPathQuery) -> FieldSpec {
        FieldSpec {
            query,
            on_missing: None,
            default: None,
        }
    }
}

impl<'de> Deserialize<'de> for FieldSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The mapping form.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            query: XPathQuery,
            on_missing: Option<OnMissing>,
            #[serde(default, deserialize_with = "text")]
            default: Option<String>,
        }
        /// A scalar as the text written: `default: 0` is the text `0`.
        fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
            struct TextVisitor;
            impl Visitor<'_> for TextVisitor {
                type Value = Option<String>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a text")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
                    Ok(Some(v.to_owned()))
                }
            }
            d.deserialize_str(TextVisitor)
        }
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = FieldSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an XPath query, or a mapping with `query` and `on_missing` or `default`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldSpec, E> {
                XPathQuery::parse(v).map(FieldSpec::from).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FieldSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FieldSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<FieldSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<FieldSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<FieldSpec, A::Error> {
                let full = Full::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(FieldSpec {
                    query: full.query,
                    on_missing: full.on_missing,
                    default: full.default,
                })
            }
        }
        d.deserialize_any(FieldVisitor)
    }
}

impl schemars::JsonSchema for FieldSpec {
    fn schema_name() -> Cow<'static, str> {
        "Field".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let query = generator.subschema_for::<XPathQuery>();
        let on_missing = generator.subschema_for::<OnMissing>();
        schemars::json_schema!({
            "description": "An XPath relative to each selected node, or a mapping with the query \
                            and what a node without it gets: `on_missing` (in place of the \
                            rule's) or a `default` text.",
            "oneOf": [
                query,
                {
                    "type": "object",
                    "properties": {
                        "query": query,
                        "on_missing": on_missing,
                        "default": { "type": ["string", "number", "boolean"] }
                    },
                    "required": ["query"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// A number read from each selected node besides `value`: the bound, sum or count of a
/// histogram or summary the store gives ready-made.
///
/// Written as the query alone (`le: "@le"`) or as a mapping with a `convert:` block
/// (`le: {query: "@ms", convert: {divide: 1000}}`).
#[derive(Debug)]
pub struct ReadSpec {
    /// The XPath, relative to each selected node.
    pub query: XPathQuery,
    /// How its text becomes a number; without it, the text must be a number.
    pub convert: Option<Convert>,
}

impl<'de> Deserialize<'de> for ReadSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The mapping form.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            query: XPathQuery,
            convert: Option<Convert>,
        }
        struct ReadVisitor;
        impl<'de> Visitor<'de> for ReadVisitor {
            type Value = ReadSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an XPath query, or a mapping with `query` and `convert`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ReadSpec, E> {
                XPathQuery::parse(v)
                    .map(|query| ReadSpec {
                        query,
                        convert: None,
                    })
                    .map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<ReadSpec, A::Error> {
                let full = Full::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ReadSpec {
                    query: full.query,
                    convert: full.convert,
                })
            }
        }
        d.deserialize_any(ReadVisitor)
    }
}

impl schemars::JsonSchema for ReadSpec {
    fn schema_name() -> Cow<'static, str> {
        "Reading".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let query = generator.subschema_for::<XPathQuery>();
        let convert = generator.subschema_for::<Convert>();
        schemars::json_schema!({
            "description": "An XPath relative to each selected node giving a number, or a \
                            mapping with the query and a `convert:` block for its text.",
            "oneOf": [
                query,
                {
                    "type": "object",
                    "properties": {
                        "query": query,
                        "convert": convert
                    },
                    "required": ["query"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// A glob pattern naming inputs (`*`, `?`, `[...]`, `**`), valid as written.
#[derive(Debug, Clone)]
pub struct InputPattern {
    text: String,
    pattern: glob::Pattern,
}

impl InputPattern {
    /// Checks the pattern's syntax.
    pub fn parse(s: &str) -> Result<InputPattern, String> {
        if s.is_empty() {
            return Err(
                "an empty pattern matches no input; write a file name or a glob \
                        such as `*.xml`"
                    .to_owned(),
            );
        }
        let pattern = glob::Pattern::new(s)
            .map_err(|err| format!("`{s}` is not a valid glob pattern: {}", err.msg))?;
        Ok(InputPattern {
            text: s.to_owned(),
            pattern,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern names this input: its file name, for a pattern without `/`; its
    /// path as given, for one with `/` (where `*` does not cross a `/`, and `**` does).
    pub fn matches(&self, input: &Path) -> bool {
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        if self.text.contains('/') {
            self.pattern.matches_path_with(input, options)
        } else {
            input
                .file_name()
                .is_some_and(|name| self.pattern.matches_with(&name.to_string_lossy(), options))
        }
    }
}

checked_string!(InputPattern);

impl schemars::JsonSchema for InputPattern {
    fn schema_name() -> Cow<'static, str> {
        "InputPattern".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A glob pattern (`*`, `?`, `[...]`, `**`): without `/` it matches an \
                            input's file name, with `/` its path as given.",
            "type": "string",
            "minLength": 1,
        })
    }
}

/// A minijinja template whose syntax is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

impl Template {
    /// Checks the template's syntax. Variables are checked by the compiler, which knows the
    /// rule's fields.
    pub fn parse(s: &str) -> Result<Template, String> {
        let env = minijinja::Environment::new();
        env.template_from_str(s)
            .map_err(|err| format!("`{s}` is not a valid template: {}", template_error(&err)))?;
        Ok(Template(s.to_owned()))
    }

    /// The template source.
    pub fn source(&self) -> &str {
        &self.0
    }
}

checked_string!(Template);

/// A rule's `name:`: a metric name, or a minijinja template over the rule's fields, `input` and
/// `vars` that renders one per node (`fritzbox_{{ counter }}_total`). The text outside the
/// template's tags is checked here: it must be able to make a valid metric name. What the tags
/// give is checked when a node renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleName {
    /// A metric name.
    Fixed(MetricName),
    /// A template that renders the name.
    Template(Template),
}

impl RuleName {
    /// Checks a metric name, or, for a text with `{{`, `{%` or `{#`, a name template.
    pub fn parse(s: &str) -> Result<RuleName, String> {
        if !is_template_text(s) {
            return MetricName::parse(s).map(RuleName::Fixed);
        }
        let template = Template::parse(s)?;
        check_name_constants(s)?;
        Ok(RuleName::Template(template))
    }

    /// The name, or the template's source, as written.
    pub fn as_str(&self) -> &str {
        match self {
            RuleName::Fixed(name) => name.as_str(),
            RuleName::Template(template) => template.source(),
        }
    }

    /// The metric name of a rule whose name is not a template.
    pub fn fixed(&self) -> Option<&MetricName> {
        match self {
            RuleName::Fixed(name) => Some(name),
            RuleName::Template(_) => None,
        }
    }

    /// Whether the name is a template.
    pub fn is_template(&self) -> bool {
        matches!(self, RuleName::Template(_))
    }
}

impl fmt::Display for RuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

checked_string!(RuleName);

/// Whether a text is a minijinja template rather than plain text.
fn is_template_text(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// The text of a name template outside its tags, in order, with whether each piece starts the
/// name (comes before any tag); `{{-` and `-}}` trim the white space beside them, as minijinja
/// does.
fn name_constants(s: &str) -> Vec<(String, bool)> {
    let mut pieces = Vec::new();
    let mut rest = s;
    let mut trim_start = false;
    let mut first = true;
    loop {
        let open = ["{{", "{%", "{#"]
            .iter()
            .filter_map(|tag| rest.find(tag).map(|at| (at, *tag)))
            .min();
        let Some((at, tag)) = open else {
            let text = if trim_start { rest.trim_start() } else { rest };
            pieces.push((text.to_owned(), first));
            return pieces;
        };
        let mut text = &rest[..at];
        if trim_start {
            text = text.trim_start();
        }
        let inner = &rest[at + 2..];
        if inner.starts_with('-') {
            text = text.trim_end();
        }
        pieces.push((text.to_owned(), first));
        first = false;
        let close = match tag {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let Some(end) = inner.find(close) else {
            return pieces;
        };
        trim_start = inner[..end].ends_with('-');
        rest = &inner[end + 2..];
    }
}

/// Refuses a name template whose constant text cannot be part of a valid metric name: a
/// start that no metric name has (`1x_{{ a }}`, `__{{ a }}`, `xml2prom_{{ a }}`), or a
/// character metric names do not have (`{{ a }}-x`).
fn check_name_constants(s: &str) -> Result<(), String> {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    for (text, first) in name_constants(s) {
        if let Some(bad) = text.chars().find(|c| !name_char(*c)) {
            return Err(format!(
                "`{s}` cannot give a valid metric name: its text `{text}` has `{bad}`; metric \
                 names have letters, digits, `_` and `:` (a template can make a value one, e.g. \
                 `{{{{ kind | snake_case }}}}`)"
            ));
        }
        if !first {
            continue;
        }
        if let Some(digit) = text.chars().next().filter(char::is_ascii_digit) {
            return Err(format!(
                "`{s}` cannot give a valid metric name: it starts with `{digit}`, and metric \
                 names start with a letter, `_` or `:`"
            ));
        }
        if text.starts_with("__") {
            return Err(format!(
                "`{s}` cannot give a valid metric name: names starting with `__` are reserved \
                 for Prometheus"
            ));
        }
        if text.starts_with(crate::rules::compile::SELF_METRICS_PREFIX) {
            return Err(format!(
                "`{s}` cannot give a valid metric name: names starting with `{}` are kept for \
                 xml2prom's own metrics; choose another prefix",
                crate::rules::compile::SELF_METRICS_PREFIX
            ));
        }
    }
    Ok(())
}

/// A minijinja error as one line: its kind and detail, without the template name.
pub fn template_error(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    }
}

// --- JSON Schema ------------------------------------------------------------------------------

/// The JSON Schema (draft 2020-12) of the rule file, as pretty JSON ending in a newline.
///
/// It is generated from the types [`parse`] reads into, so it describes the same keys, value
/// types and names; `schemas/rules.schema.json` is this text, and a test keeps it up to date.
/// What needs more than one value or a compiler (XPath syntax, template variables, which keys a
/// shape needs, rules sharing a family) is left to the loader: a file the schema accepts may
/// still be refused by `xml2prom check`, with the line and column.
pub fn json_schema() -> String {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<RuleFile>();
    // The `$id` names the format version as a URN: the project has no fixed public URL.
    let id = format!("urn:xml2prom:rules:v{SUPPORTED_VERSION}");
    schema.insert("$id".to_owned(), id.into());
    schema.insert("title".to_owned(), "xml2prom rule file".into());
    schema.insert(
        "description".to_owned(),
        format!(
            "Rules that turn XML files into Prometheus metrics with xml2prom, format version \
             {SUPPORTED_VERSION}. Check a file with `xml2prom check FILE`."
        )
        .into(),
    );
    format!("{:#}\n", schema.as_value())
}

/// Free text: a YAML number or boolean in its place is read as the text written (`help: 42`
/// is the text `42`), so the schema accepts those too.
struct Text;

impl schemars::JsonSchema for Text {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// A mapping whose keys are checked names (`propertyNames`), unlike schemars' own map schema,
/// which can only express a key's `pattern` and would drop the `not` that refuses `__`.
fn named_map<K: schemars::JsonSchema, V: schemars::JsonSchema>(
    generator: &mut SchemaGenerator,
) -> Schema {
    schemars::json_schema!({
        "type": "object",
        "propertyNames": generator.subschema_for::<K>(),
        "additionalProperties": generator.subschema_for::<V>(),
    })
}

impl schemars::JsonSchema for XPathQuery {
    fn schema_name() -> Cow<'static, str> {
        "XPathQuery".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::XPathQuery").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "An XPath 1.0 expression, e.g. `count(/store/row)` or `@size`.",
            "type": ["string", "number", "boolean"],
            "minLength": 1,
            "maxLength": MAX_XPATH_BYTES,
            "pattern": r"\S",
        })
    }
}

impl schemars::JsonSchema for RuleName {
    fn schema_name() -> Cow<'static, str> {
        "RuleName".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::RuleName").into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "The metric name, or a minijinja template over the rule's fields, \
                            `input` and `vars` that renders it per node, e.g. \
                            `app_{{ counter | snake_case }}_total` (gauges, counters and info \
                            metrics). Each rendered name is checked: an invalid one fails the \
                            run, or is skipped with `on_invalid: skip`.",
            "anyOf": [
                generator.subschema_for::<MetricName>(),
                {
                    "type": "string",
                    "pattern": "\\{[{%#]",
                },
            ],
        })
    }
}

impl schemars::JsonSchema for Template {
    fn schema_name() -> Cow<'static, str> {
        "Template".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::Template").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A minijinja template, e.g. `{{ kind | lower }}`; its variables are \
                            the rule's fields and `input.path`, `input.name`, `input.dir`.",
            "type": ["string", "number", "boolean"],
        })
    }
}

impl schemars::JsonSchema for Version {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Version".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({ "const": SUPPORTED_VERSION })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_pattern_names_a_file_name_or_a_path() {
        let matches = |pattern: &str, input: &str| {
            InputPattern::parse(pattern)
                .expect("a valid pattern")
                .matches(Path::new(input))
        };
        // Without `/`: the file name, wherever the file is.
        assert!(matches("server.xml", "server.xml"));
        assert!(matches("server.xml", "/var/lib/bind/server.xml"));
        assert!(matches("*.xml", "stats/zones.xml"));
        assert!(matches("server-?.xml", "server-1.xml"));
        assert!(matches("[sz]*.xml", "zones.xml"));
        assert!(!matches("server.xml", "Server.xml"), "case matters");
        assert!(!matches("server.xml", "server.xml.bak"));
        assert!(!matches("*.xml", "/srv/xml"));
        // With `/`: the path as given; `*` stays within one directory, `**` crosses them.
        assert!(matches("stats/*.xml", "stats/zones.xml"));
        assert!(!matches("stats/*.xml", "zones.xml"));
        assert!(!matches("/srv/*.xml", "/srv/a/b.xml"));
        assert!(matches("/srv/**/*.xml", "/srv/a/b.xml"));
        assert!(!matches("/srv/*.xml", "srv/a.xml"));
        for bad in ["", "[server", "a/***"] {
            assert!(InputPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn parse_err(yaml: &str) -> (String, Position) {
        let (message, position) = parse(yaml).expect_err("the rule file is invalid");
        (message, position.expect("serde_yaml knows where"))
    }

    const HEAD: &str = "version: 1\nmetrics:\n";

    #[test]
    fn a_full_rule_file_parses() {
        let yaml = r#"
version: 1
namespaces: { s: "urn:example:store" }
labels: { path: "{{ input.path }}" }
metrics:
  - name: store_rows
    help: Rows by kind
    type: gauge
    select: /s:store/s:row
    fields: { kind: "@kind" }
    labels: { kind: "{{ kind }}" }
    aggregate: count
  - name: store_row_size_bytes
    help: Sizes
    type: histogram
    select: /store/row
    value: "@size"
    buckets: [100, 1000]
"#;
        let file = parse(yaml).expect("valid rule file");
        assert_eq!(file.metrics.len(), 2);
        assert_eq!(
            file.metrics[0]
                .select
                .as_ref()
                .map(|q| q.prefixes().to_vec()),
            Some(vec!["s".to_owned()])
        );
        assert_eq!(file.metrics[1].buckets, Some(vec![100.0, 1000.0]));
        assert_eq!(file.metrics[0].aggregate, Some(Aggregation::Count));
    }

    #[test]
    fn invalid_metric_name_points_at_the_value() {
        let yaml = format!("{HEAD}  - name: 2bad\n    help: h\n    type: gauge\n    value: '1'\n");
        let (message, position) = parse_err(&yaml);
        assert!(
            message.starts_with("metrics[0].name: `2bad` is not a valid metric name"),
            "{message}"
        );
        assert_eq!((position.line, position.column), (3, 11));
    }

    #[test]
    fn reserved_label_name_is_refused() {
        let yaml = format!(
            "{HEAD}  - name: m\n    help: h\n    type: gauge\n    value: '1'\n    labels: {{ __x: a }}\n"
        );
        let (message, position) = parse_err(&yaml);
        assert!(
            message.contains("`__x` is not a valid label name"),
            "{message}"
        );
        assert_eq!(position.line, 7);
    }

    #[test]
    fn unknown_key_is_refused() {
        let yaml = format!("{HEAD}  - name: m\n    help: h\n    type: gauge\n    valeu: '1'\n");
        let (message, position) = parse_err(&yaml);
        assert!(message.contains("unknown field `valeu`"), "{message}");
        assert_eq!(position.line, 6);
    }

    /// The hint of an unknown key inside or beside `convert:`, the new keys included.
    #[test]
    fn unknown_keys_near_convert_get_a_hint() {
        let help = |body: &str| {
            let yaml =
                format!("{HEAD}  - name: m\n    help: h\n    type: gauge\n    value: '1'\n{body}");
            match parse_all(&yaml) {
                Ok(_) => panic!("accepted: {yaml}"),
                Err((_, problems)) => problems[0].help.clone(),
            }
        };
        assert_eq!(
            help("    convert: { timzone: UTC }\n").as_deref(),
            Some("did you mean `timezone`?")
        );
        assert_eq!(
            help("    convert: { devide: 1000 }\n").as_deref(),
            Some("did you mean `divide`?")
        );
        assert_eq!(
            help("    convert: { info: false }\n").as_deref(),
            Some("`info` belongs in the rule, beside `convert:`, not under it")
        );
        assert_eq!(
            help("    divide: 1000\n").as_deref(),
            Some(
                "`divide` belongs under `convert:`, beside the rule's `value:`: `convert: {divide: ...}`"
            )
        );
        assert_eq!(
            help("    timezone: UTC\n").as_deref(),
            Some(
                "`timezone` belongs under `convert:`, beside the rule's `value:`: `convert: {timezone: ...}`"
            )
        );
    }

    #[test]
    fn bad_xpath_is_refused_at_its_line() {
        let yaml =
            format!("{HEAD}  - name: m\n    help: h\n    type: gauge\n    value: count(//row])\n");
        let (message, position) = parse_err(&yaml);
        assert!(
            message.contains("`count(//row])` is not a valid XPath expression"),
            "{message}"
        );
        assert_eq!((position.line, position.column), (6, 12));
    }

    #[test]
    fn bad_template_is_refused() {
        let yaml = format!(
            "{HEAD}  - name: m\n    help: h\n    type: gauge\n    value: '1'\n    labels: {{ a: '{{{{ x ' }}\n"
        );
        let (message, _) = parse_err(&yaml);
        assert!(message.contains("is not a valid template"), "{message}");
    }

    #[test]
    fn wrong_version_and_type_are_refused() {
        let (message, _) = parse_err("version: 2\nmetrics: []\n");
        assert!(message.contains("version 2 is not supported"), "{message}");
        let yaml = format!("{HEAD}  - name: m\n    help: h\n    type: gauge2\n    value: '1'\n");
        let (message, _) = parse_err(&yaml);
        assert!(message.contains("unknown variant `gauge2`"), "{message}");
    }

    #[test]
    fn a_name_template_is_checked_outside_its_tags() {
        let ok = |s: &str| RuleName::parse(s).map(|name| name.is_template());
        assert_eq!(ok("store_rows"), Ok(false));
        assert_eq!(ok("fritzbox_{{ counter }}_total"), Ok(true));
        assert_eq!(ok("{{ a }}"), Ok(true));
        assert_eq!(ok("a:{{ a | snake_case }}_{{ b }}"), Ok(true));
        assert_eq!(ok("{# a comment #}app_{% if a %}x{% endif %}"), Ok(true));
        // `{{-` and `-}}` trim the white space beside them.
        assert_eq!(ok("app_ {{- a -}} _x"), Ok(true));
        let refused = |s: &str| RuleName::parse(s).expect_err(s);
        assert!(refused("1x_{{ a }}").contains("it starts with `1`"));
        assert!(refused("{{ a }}-x").contains("its text `-x` has `-`"));
        assert!(refused("app {{ a }}").contains("its text `app ` has ` `"));
        assert!(refused("__{{ a }}").contains("reserved for Prometheus"));
        assert!(refused("xml2prom_{{ a }}").contains("xml2prom's own metrics"));
        assert!(refused("app_{{ a").contains("is not a valid template"));
        assert!(refused("2bad").contains("is not a valid metric name"));
        // After a tag, any name character may follow.
        assert_eq!(ok("{{ a }}1_x"), Ok(true));
        assert_eq!(
            name_constants("a_{{ b }}_c{%- if d %} e {% endif -%} f"),
            [
                ("a_".to_owned(), true),
                ("_c".to_owned(), false),
                (" e ".to_owned(), false),
                ("f".to_owned(), false)
            ]
        );
    }

    #[test]
    fn names() {
        assert!(MetricName::parse("a:b_c1").is_ok());
        assert!(MetricName::parse("__a").is_err());
        assert!(MetricName::parse("a-b").is_err());
        assert!(MetricName::parse("").is_err());
        assert!(LabelName::parse("_a").is_ok());
        assert!(LabelName::parse("a:b").is_err());
        assert!(FieldName::parse("input").is_err());
        assert!(FieldName::parse("kind").is_ok());
        assert!(Prefix::parse("xml").is_err());
    }

    /// Whether the schema schemars gives for `T` alone accepts each of `instances`.
    fn schema_accepts<T: schemars::JsonSchema>(instances: &[serde_json::Value]) -> Vec<bool> {
        let schema = schemars::generate::SchemaSettings::draft2020_12()
            .into_generator()
            .into_root_schema_for::<T>();
        let validator =
            jsonschema::draft202012::new(schema.as_value()).expect("the schema compiles");
        instances.iter().map(|i| validator.is_valid(i)).collect()
    }

    /// Every string of up to three characters from an alphabet that covers the edges of the
    /// name rules, and a few longer words.
    fn candidate_names() -> Vec<String> {
        let alphabet = ['a', 'Z', '0', '_', ':', '.', '-', ' ', 'é', 'x'];
        let mut names = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..3 {
            last = last
                .iter()
                .flat_map(|prefix| alphabet.iter().map(move |c| format!("{prefix}{c}")))
                .collect();
            names.extend(last.iter().cloned());
        }
        for word in [
            "xml", "XmL", "xmlns", "XMLNS", "xmlx", "xmlnsx", "input", "loop", "self", "inputs",
            "__name__", "a__b", "a\n", "€uro", "ünï", "a\u{300}",
        ] {
            names.push(word.to_owned());
        }
        names
    }

    #[test]
    fn schema_names_agree_with_the_checks() {
        let names = candidate_names();
        let instances: Vec<serde_json::Value> = names.iter().map(|n| n.as_str().into()).collect();
        let metric = schema_accepts::<MetricName>(&instances);
        let label = schema_accepts::<LabelName>(&instances);
        let field = schema_accepts::<FieldName>(&instances);
        let prefix = schema_accepts::<Prefix>(&instances);
        for (i, name) in names.iter().enumerate() {
            assert_eq!(
                MetricName::parse(name).is_ok(),
                metric[i],
                "metric name {name:?}"
            );
            assert_eq!(
                LabelName::parse(name).is_ok(),
                label[i],
                "label name {name:?}"
            );
            assert_eq!(
                FieldName::parse(name).is_ok(),
                field[i],
                "field name {name:?}"
            );
            // The schema reads any non-ASCII character as a letter; on ASCII it is exact.
            if name.is_ascii() {
                assert_eq!(Prefix::parse(name).is_ok(), prefix[i], "prefix {name:?}");
            } else if Prefix::parse(name).is_ok() {
                assert!(prefix[i], "prefix {name:?}");
            }
        }
        assert!(prefix[names.iter().position(|n| n == "ünï").expect("listed")]);
    }

    #[test]
    fn schema_xpath_and_version_agree_with_the_checks() {
        let texts = [
            "count(/a)",
            "@a",
            " . ",
            "",
            "  ",
            "\t",
            &"a".repeat(MAX_XPATH_BYTES),
        ];
        let instances: Vec<serde_json::Value> = texts.iter().map(|&t| t.into()).collect();
        for (text, accepted) in texts.iter().zip(schema_accepts::<XPathQuery>(&instances)) {
            assert_eq!(XPathQuery::parse(text).is_ok(), accepted, "{text:?}");
        }
        let too_long = "a".repeat(MAX_XPATH_BYTES + 1);
        assert_eq!(
            schema_accepts::<XPathQuery>(&[too_long.into()]),
            [false],
            "longer than the limit"
        );
        let versions = [
            serde_json::json!(SUPPORTED_VERSION),
            2.into(),
            0.into(),
            "1".into(),
        ];
        assert_eq!(
            schema_accepts::<Version>(&versions),
            [true, false, false, false]
        );
        let schema: serde_json::Value =
            serde_json::from_str(&json_schema()).expect("the schema is JSON");
        let description = schema["properties"]["version"]["description"].as_str();
        assert!(
            description.is_some_and(|d| d.contains(&format!("version {SUPPORTED_VERSION}."))),
            "{description:?}"
        );
        assert!(json_schema().ends_with("}\n"));
    }
}
