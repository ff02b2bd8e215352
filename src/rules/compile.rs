//! Compile: a [`RuleFile`] to [`CompiledRules`], the plan evaluation runs.
//!
//! Everything that needs more than one value of the rule file is checked here, before any XML is
//! read: which keys a rule's shape needs or forbids, namespace prefixes used in queries,
//! variables used in templates, buckets and quantiles, and rules that share a metric family.
//! Every problem is collected, so a user sees all of them in one run. Templates are registered
//! once in one minijinja environment and rendered many times by [`crate::rules::templates`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use crate::model::names::{FieldName, LabelName, Prefix};
use crate::model::sample::MetricType;
use crate::rules::convert::Convert;
use crate::rules::diagnostic::FieldPath;
use crate::rules::file::{Aggregation, InputPattern, ReadSpec, Rule, RuleFile, RuleName, Template};
use crate::rules::plan::{self, StreamPlan};
use crate::rules::policy::{FieldMissing, OnDuplicate, OnEmpty, OnMissing, Policies};
use crate::rules::templates::{self, TemplateId};
use crate::rules::xpath::{Kind, XPathQuery};

/// The rules of one file, checked and ready to evaluate.
#[derive(Debug)]
pub struct CompiledRules {
    /// Namespace prefix -> URI, bound in every XPath evaluation.
    pub namespaces: Vec<(String, String)>,
    /// Labels added to every sample (rendered once per input).
    pub global_labels: Vec<(LabelName, TemplateId)>,
    /// The rules, in file order.
    pub rules: Vec<CompiledRule>,
    /// The template environment holding every label template.
    pub templates: templates::Templates,
}

/// One rule, ready to evaluate.
#[derive(Debug)]
pub struct CompiledRule {
    /// Where the rule is in the file, e.g. `metrics[2]`: names the rule in messages.
    pub id: String,
    /// The rule's index in `metrics:`.
    pub index: usize,
    /// The family this rule adds samples to, or the template that names it per node (then
    /// `labels` ends with the pseudo-label [`LabelName::metric_name`] rendering it).
    pub name: RuleName,
    /// The family's HELP.
    pub help: String,
    /// The family's TYPE.
    pub kind: MetricType,
    /// The rule's own labels.
    pub labels: Vec<(LabelName, TemplateId)>,
    /// What the rule reads.
    pub shape: Shape,
    /// How a node's value becomes a number.
    pub value: ValueSpec,
    /// What the rule does with missing or invalid values and empty selections.
    pub policies: Policies,
    /// Per field of [`Shape::Nodes`], in order: what a node without it gets.
    pub field_missing: Vec<FieldMissing>,
    /// Texts of a field or the value that mean "no value" (the rule's `absent`, else the
    /// file's).
    pub absent: Vec<String>,
    /// The inputs the rule reads (`inputs:`); `None` for every input.
    pub inputs: Option<Vec<InputPattern>>,
    /// Whether the nodes the rule's policies leave out go unreported (`quiet: true`).
    pub quiet: bool,
    /// How the streaming engine runs the rule, or why it cannot.
    pub stream: Result<StreamPlan, String>,
    /// The lints `check` does not report for this rule (`allow_lints:`).
    pub allow_lints: Vec<crate::rules::lints::LintCode>,
    /// For a histogram from `le` or a summary from `quantile`: the readings besides the value.
    pub given: Option<Given>,
}

/// The readings of a histogram or summary the store gives ready-made: `le` (or `quantile`),
/// `sum` and `count`, each read as one more field after the rule's own.
#[derive(Debug)]
pub struct Given {
    /// The bucket's upper bound, or the quantile's rank.
    pub bound: GivenReading,
    /// The sum of the observations, if the rule reads it.
    pub sum: Option<GivenReading>,
    /// The number of observations, if the rule reads it.
    pub count: Option<GivenReading>,
}

/// One reading of a [`Given`].
#[derive(Debug)]
pub struct GivenReading {
    /// The rule key it comes from: `le`, `quantile`, `sum` or `count`.
    pub key: &'static str,
    /// Its index among the fields of [`Shape::Nodes`].
    pub index: usize,
    /// How its text becomes a number; `None`: the text must be a number.
    pub convert: Option<Convert>,
}

impl GivenReading {
    /// The number its text gives, or why it gives none.
    pub fn number(&self, text: &str) -> Result<f64, String> {
        match &self.convert {
            Some(convert) => convert.apply(text).map_err(|why| why.to_string()),
            None => crate::model::number::parse_number(text).ok_or_else(|| {
                "is not a number (numbers are written like 42, -1.5 or 2e3, without spaces)"
                    .to_owned()
            }),
        }
    }
}

/// How a node's value becomes the number the rule observes.
#[derive(Debug, Clone)]
pub enum ValueSpec {
    /// No value: `aggregate: count` counts nodes.
    Absent,
    /// Always 1: an info metric (a name ending in `_info`, unless `info: false`).
    One,
    /// The value's text, parsed strictly as a number, or by the rule's `convert:` steps.
    Number(Option<Box<Convert>>),
    /// A state set: the value's text is one of these states, observed as its index.
    States(Vec<String>),
}

impl CompiledRule {
    /// How messages name the rule's field at `index`: `fields.NAME`, or the rule key of a
    /// reading of [`Given`] (`le`, `sum`, ...).
    pub fn field_key(&self, index: usize) -> String {
        let (name, _) = self.field_query(index);
        match name.strip_prefix(GIVEN_FIELD_MARK) {
            Some(key) => key.to_owned(),
            None => format!("fields.{name}"),
        }
    }

    /// The name and query text of the rule's field at `index`, for messages.
    pub fn field_query(&self, index: usize) -> (&str, &str) {
        match &self.shape {
            Shape::Nodes { fields, .. } => fields
                .get(index)
                .map_or(("", ""), |(name, query)| (name.as_str(), query.text())),
            Shape::Document { .. } => ("", ""),
        }
    }

    /// The text of the rule's value query, for messages (empty when it has none).
    pub fn value_query(&self) -> &str {
        match &self.shape {
            Shape::Nodes { value, .. } => value.as_ref().map_or("", XPathQuery::text),
            Shape::Document { value, .. } => value.text(),
        }
    }

    /// Whether the rule reads this input (its `inputs:` patterns, if it has them).
    pub fn reads(&self, input: &Path) -> bool {
        self.inputs
            .as_ref()
            .is_none_or(|patterns| patterns.iter().any(|pattern| pattern.matches(input)))
    }

    /// `Ok` when the streaming engine runs this rule (unless the DOM engine is forced), or the
    /// reason it cannot.
    pub fn streamable(&self) -> Result<(), String> {
        self.stream.as_ref().map(|_| ()).map_err(Clone::clone)
    }
}

pub use crate::model::names::GIVEN_FIELD_MARK;

/// What a rule reads from a document.
#[derive(Debug)]
pub enum Shape {
    /// One XPath over the whole document giving one number: one sample.
    Document {
        /// The number.
        value: XPathQuery,
        /// For `sum(NODES)`: the node-set alone, so the DOM engine adds the values in document
        /// order (sxd-xpath adds them in hash order, which changes the last bits of a sum of
        /// fractions from run to run).
        sum_of: Option<XPathQuery>,
    },
    /// A node-set, per-node fields and value, combined per label set.
    Nodes {
        /// Absolute XPath selecting the nodes.
        select: XPathQuery,
        /// Strings read from each node, for templates.
        fields: Vec<(FieldName, XPathQuery)>,
        /// The number read from each node; absent when counting.
        value: Option<XPathQuery>,
        /// How the nodes of one label set become one sample.
        reduce: Reduce,
    },
}

/// How the nodes of one label set become one sample.
#[derive(Debug, Clone, PartialEq)]
pub enum Reduce {
    /// One sample per node; `on_duplicate` says what two nodes with one label set give.
    Each(OnDuplicate),
    /// A state set: one sample per state and label set, 1 for the node's state, else 0.
    States {
        /// The label naming the state.
        label: String,
        /// The states, in the rule's order.
        states: Vec<String>,
        /// What two nodes with one label set give (`error`, `first` or `last`).
        on_duplicate: OnDuplicate,
    },
    /// Count, sum, min, max or avg over the nodes.
    Aggregate(Aggregation),
    /// Observations into histogram buckets (ascending upper bounds, `+Inf` implied).
    Histogram(Vec<f64>),
    /// Observations into exact quantiles (ascending, each in [0, 1]).
    Summary(Vec<f64>),
    /// The store's own buckets: each node one bucket, its count cumulative or its own.
    Buckets {
        /// Whether each count includes the buckets below.
        cumulative: bool,
    },
    /// The store's own quantiles: each node one quantile and its value.
    Quantiles,
}

/// A rule file problem found by [`compile`]: where it is, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileError {
    /// The offending value, e.g. `metrics[1].labels.kind`.
    pub path: FieldPath,
    /// Whether the position should be the key rather than the value (for a missing or
    /// forbidden key, the rule's entry).
    pub at_key: bool,
    /// What is wrong.
    pub kind: CompileErrorKind,
}

/// What is wrong; each variant says when it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum CompileErrorKind {
    /// A rule lacks a key its shape needs (`value` for a gauge without `select`, ...).
    MissingKey {
        /// The key.
        key: &'static str,
        /// Why it is needed.
        why: String,
    },
    /// A rule has a key that its shape cannot use (`buckets` on a gauge, ...).
    ForbiddenKey {
        /// The key.
        key: &'static str,
        /// Why it cannot be used.
        why: String,
    },
    /// A query uses a namespace prefix that `namespaces:` does not declare.
    UnknownPrefix {
        /// The prefix.
        prefix: String,
        /// The declared prefixes.
        declared: Vec<String>,
    },
    /// A template uses a variable that is neither a field of the rule nor `input`.
    UndefinedVariable {
        /// The variable as written, e.g. `kidn` or `input.paht`.
        variable: String,
        /// What the template may use.
        available: Vec<String>,
    },
    /// A template uses `vars.KEY`, and no `--var KEY=VALUE` was given.
    MissingVar {
        /// The key.
        key: String,
    },
    /// A template does not compile (registered under its field path).
    Template {
        /// minijinja's message.
        message: String,
    },
    /// A label name the metric type reserves (`le`, `quantile`).
    ReservedLabel {
        /// The label.
        label: String,
        /// The metric type that reserves it.
        kind: MetricType,
    },
    /// A rule label repeats a top-level label.
    LabelSetTwice {
        /// The label.
        label: String,
    },
    /// A bucket bound or quantile that is not usable.
    BadBound {
        /// What is wrong with it.
        why: String,
    },
    /// Two rules of one family disagree on type, help or label names.
    FamilyConflict {
        /// The family.
        name: String,
        /// The rule declared first.
        first: String,
        /// What differs, with both values.
        what: String,
    },
    /// A metric name in the prefix of xml2prom's own metrics.
    ReservedName {
        /// The name.
        name: String,
    },
    /// A family name clashes with a histogram's or summary's `_bucket`, `_sum` or `_count`.
    NameClash {
        /// The family name.
        name: String,
        /// The histogram or summary family whose series it would collide with.
        other: String,
    },
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.kind)
    }
}

impl std::error::Error for CompileError {}

impl CompileErrorKind {
    /// The diagnostic code, e.g. `undefined-variable`.
    pub fn code(&self) -> &'static str {
        match self {
            CompileErrorKind::MissingKey { .. } => "missing-key",
            CompileErrorKind::ForbiddenKey { .. } => "forbidden-key",
            CompileErrorKind::UnknownPrefix { .. } => "unknown-prefix",
            CompileErrorKind::UndefinedVariable { .. } => "undefined-variable",
            CompileErrorKind::Template { .. } => "template",
            CompileErrorKind::ReservedLabel { .. } => "reserved-label",
            CompileErrorKind::LabelSetTwice { .. } => "label-set-twice",
            CompileErrorKind::BadBound { .. } => "bad-value",
            CompileErrorKind::FamilyConflict { .. } => "family-conflict",
            CompileErrorKind::ReservedName { .. } => "reserved-name",
            CompileErrorKind::MissingVar { .. } => "missing-var",
            CompileErrorKind::NameClash { .. } => "name-clash",
        }
    }
}

impl fmt::Display for CompileErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileErrorKind::MissingKey { key, why } => write!(f, "`{key}` is required {why}"),
            CompileErrorKind::ForbiddenKey { key, why } => {
                write!(f, "`{key}` cannot be used {why}")
            }
            CompileErrorKind::UnknownPrefix { prefix, declared } => {
                write!(f, "the namespace prefix `{prefix}` is not declared")?;
                if declared.is_empty() {
                    write!(f, "; declare it under `namespaces:` at the top of the file")
                } else {
                    write!(f, "; declared prefixes: {}", declared.join(", "))
                }
            }
            CompileErrorKind::UndefinedVariable {
                variable,
                available,
            } => write!(
                f,
                "the template uses `{variable}`, which is not defined; available: {}",
                available.join(", ")
            ),
            CompileErrorKind::MissingVar { key } => write!(
                f,
                "the template uses `vars.{key}`, which has no value; pass `--var {key}=VALUE`"
            ),
            CompileErrorKind::Template { message } => {
                write!(f, "the template does not compile: {message}")
            }
            CompileErrorKind::ReservedLabel { label, kind } => write!(
                f,
                "the label `{label}` is reserved in a {kind}, which adds it to each series; \
                 rename it"
            ),
            CompileErrorKind::LabelSetTwice { label } => write!(
                f,
                "the label `{label}` is already set by the top-level `labels:`; remove one of them"
            ),
            CompileErrorKind::BadBound { why } => f.write_str(why),
            CompileErrorKind::FamilyConflict { name, first, what } => write!(
                f,
                "the metric `{name}` is also defined by {first} with {what}; rules that share a \
                 metric name must agree on type, help and label names"
            ),
            CompileErrorKind::ReservedName { name } => write!(
                f,
                "the metric name `{name}` starts with `{SELF_METRICS_PREFIX}`, which xml2prom \
                 keeps for its own metrics; choose another prefix"
            ),
            CompileErrorKind::NameClash { name, other } => write!(
                f,
                "the metric name `{name}` collides with the series of `{other}`; choose another name"
            ),
        }
    }
}

/// The prefix of xml2prom's own metrics, which rules may not use.
pub const SELF_METRICS_PREFIX: &str = "xml2prom_";

/// The metric name a name template rendered, checked as a fixed name is when the rule file is
/// loaded; `Err` with a phrase for "the name template gave ...".
pub fn rendered_name(name: &str) -> Result<crate::model::names::MetricName, String> {
    let shown = crate::model::number::shorten_to(name, 80);
    if name.is_empty() {
        return Err("an empty name".to_owned());
    }
    if name.starts_with("__") {
        return Err(format!(
            "`{shown}`, which starts with `__`, reserved for Prometheus"
        ));
    }
    let parsed = crate::model::names::MetricName::parse(name).map_err(|_| {
        format!(
            "`{shown}`, which is not a valid metric name (letters, digits, `_` and `:`, not \
             starting with a digit)"
        )
    })?;
    if name.starts_with(SELF_METRICS_PREFIX) {
        return Err(format!(
            "`{shown}`, which starts with `{SELF_METRICS_PREFIX}`, the prefix xml2prom keeps for \
             its own metrics"
        ));
    }
    Ok(parsed)
}

/// Names a template can use besides fields: minijinja's global functions.
const TEMPLATE_GLOBALS: &[&str] = &["range", "dict", "namespace", "debug", "cycler", "joiner"];

/// The attributes of `input` in templates.
pub const INPUT_ATTRIBUTES: &[&str] = &["path", "name", "dir"];

/// Checks a rule file as a whole and builds the evaluation plan. Returns every problem found.
pub fn compile(file: RuleFile) -> Result<CompiledRules, Vec<CompileError>> {
    compile_with_vars(file, &BTreeMap::new())
}

/// [`compile`], with the values of `--var KEY=VALUE` that templates see as `{{ vars.KEY }}`.
pub fn compile_with_vars(
    file: RuleFile,
    vars: &BTreeMap<String, String>,
) -> Result<CompiledRules, Vec<CompileError>> {
    let mut errors = Vec::new();
    let mut templates = templates::Templates::with_vars(vars);
    let root = FieldPath::root();
    let declared: Vec<String> = file
        .namespaces
        .keys()
        .map(|p| p.as_str().to_owned())
        .collect();

    let mut global_labels = Vec::new();
    for (label, template) in &file.labels {
        let path = root.key("labels").key(label.as_str());
        if let Some(id) = register(&mut templates, &path, template, &[], &mut errors) {
            global_labels.push((label.clone(), id));
        }
    }
    let global_names: BTreeSet<&str> = file.labels.keys().map(LabelName::as_str).collect();

    let mut rules = Vec::new();
    for (index, rule) in file.metrics.into_iter().enumerate() {
        let path = root.key("metrics").index(index);
        // Rules with problems still take part in the cross-rule checks below, so one run
        // reports a family conflict even when one of the rules also has another problem.
        let compiled = compile_rule(
            rule,
            index,
            &path,
            &file.namespaces,
            &declared,
            &global_names,
            file.absent.as_deref().unwrap_or_default(),
            &mut templates,
            &mut errors,
        );
        rules.extend(compiled);
    }
    for (label, _) in &global_labels {
        for rule in &rules {
            if reserved_label(rule.kind) == Some(label.as_str()) {
                errors.push(CompileError {
                    path: root.key("labels").key(label.as_str()),
                    at_key: true,
                    kind: CompileErrorKind::ReservedLabel {
                        label: label.as_str().to_owned(),
                        kind: rule.kind,
                    },
                });
            }
        }
    }
    check_families(&rules, &mut errors);

    if errors.is_empty() {
        Ok(CompiledRules {
            namespaces: file
                .namespaces
                .into_iter()
                .map(|(prefix, uri)| (prefix.as_str().to_owned(), uri))
                .collect(),
            global_labels,
            rules,
            templates,
        })
    } else {
        Err(errors)
    }
}

fn reserved_label(kind: MetricType) -> Option<&'static str> {
    match kind {
        MetricType::Histogram => Some("le"),
        MetricType::Summary => Some("quantile"),
        MetricType::Gauge | MetricType::Counter => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn compile_rule(
    rule: Rule,
    index: usize,
    path: &FieldPath,
    namespaces: &BTreeMap<Prefix, String>,
    declared: &[String],
    global_names: &BTreeSet<&str>,
    file_absent: &[String],
    templates: &mut templates::Templates,
    errors: &mut Vec<CompileError>,
) -> Option<CompiledRule> {
    let kind = rule.kind;
    let mut error = |key: &str, at_key: bool, kind: CompileErrorKind| {
        errors.push(CompileError {
            path: if key.is_empty() {
                path.clone()
            } else {
                path.key(key)
            },
            at_key,
            kind,
        })
    };

    // Namespace prefixes of every query.
    let queries = rule
        .select
        .iter()
        .map(|q| (path.key("select"), q))
        .chain(rule.value.iter().map(|q| (path.key("value"), q)))
        .chain(
            rule.fields
                .iter()
                .map(|(name, field)| (path.key("fields").key(name.as_str()), &field.query)),
        )
        .chain(
            [
                ("le", &rule.le),
                ("quantile", &rule.quantile),
                ("sum", &rule.sum),
                ("count", &rule.count),
            ]
            .into_iter()
            .filter_map(|(key, read)| read.as_ref().map(|read| (path.key(key), &read.query))),
        );
    let mut prefix_errors = Vec::new();
    for (query_path, query) in queries {
        for prefix in query.prefixes() {
            if !declared.contains(prefix) {
                prefix_errors.push(CompileError {
                    path: query_path.clone(),
                    at_key: false,
                    kind: CompileErrorKind::UnknownPrefix {
                        prefix: prefix.clone(),
                        declared: declared.to_vec(),
                    },
                });
            }
        }
    }

    if rule.name.as_str().starts_with(SELF_METRICS_PREFIX) {
        error(
            "name",
            false,
            CompileErrorKind::ReservedName {
                name: rule.name.as_str().to_owned(),
            },
        );
    }

    let templated_name = rule.name.is_template();
    if templated_name && matches!(kind, MetricType::Histogram | MetricType::Summary) {
        error(
            "name",
            false,
            forbidden(
                "name",
                &format!(
                    "as a template for a {kind}: only gauges, counters and info metrics take \
                     their names from the data; give the {kind} a fixed name"
                ),
            ),
        );
    }

    // Which keys the shape needs.
    let for_kind = format!("for a {kind}");
    // A name ending in `_info` makes an info metric unless `info: false` says otherwise;
    // `info: true` is checked below.
    let named_info = rule.name.as_str().ends_with("_info");
    let is_info = rule.info.unwrap_or(named_info) && rule.states.is_none();
    if rule.info == Some(true) && !named_info {
        let name = rule.name.as_str();
        error(
            "info",
            false,
            forbidden(
                "info: true",
                &format!(
                    "on `{name}`, whose name does not end in `_info`: info metrics are named \
                     `..._info`; rename it `{name}_info`, or remove `info: true`"
                ),
            ),
        );
    }
    if rule.info == Some(true) && rule.states.is_some() {
        error(
            "info",
            false,
            forbidden(
                "info: true",
                "with `states`: a state set is not an info metric; remove one of them",
            ),
        );
    }
    match kind {
        MetricType::Gauge | MetricType::Counter => {
            if rule.buckets.is_some() {
                error(
                    "buckets",
                    true,
                    forbidden(
                        "buckets",
                        &format!("{for_kind}; buckets belong to a histogram"),
                    ),
                );
            }
            if rule.quantiles.is_some() {
                error(
                    "quantiles",
                    true,
                    forbidden(
                        "quantiles",
                        &format!("{for_kind}; quantiles belong to a summary"),
                    ),
                );
            }
            match (&rule.select, rule.aggregate, &rule.value) {
                (None, Some(_), _) => error(
                    "aggregate",
                    true,
                    forbidden(
                        "aggregate",
                        "without `select`: a document-level `value` is already one number",
                    ),
                ),
                (None, None, None) => error(
                    "",
                    true,
                    missing(
                        "value",
                        "for a rule without `select`: an XPath that gives a number, such as \
                         `count(/store/row)`",
                    ),
                ),
                (Some(_), Some(Aggregation::Count), Some(_)) => error(
                    "value",
                    true,
                    forbidden("value", "with `aggregate: count`, which counts the nodes"),
                ),
                (Some(_), Some(aggregation), None) if aggregation != Aggregation::Count => error(
                    "",
                    true,
                    missing(
                        "value",
                        &format!(
                            "with `aggregate: {}`: the number to aggregate",
                            aggregation.as_str()
                        ),
                    ),
                ),
                (Some(_), None, None) if !is_info => error(
                    "",
                    true,
                    missing(
                        "value",
                        if rule.info == Some(false) {
                            "with `select` and no `aggregate`: the number each node gives (or \
                             add `aggregate: count` to count nodes)"
                        } else {
                            "with `select` and no `aggregate`: the number each node gives (or \
                             add `aggregate: count` to count nodes, or end the name in `_info` \
                             for an info metric of value 1)"
                        },
                    ),
                ),
                (_, _, Some(_)) if is_info => error(
                    "value",
                    true,
                    forbidden(
                        "value",
                        "in an info metric (a name ending in `_info`), whose value is always 1; \
                         for a gauge of this name whose value is read, add `info: false`",
                    ),
                ),
                _ => {}
            }
        }
        MetricType::Histogram | MetricType::Summary => {
            if rule.select.is_none() {
                error(
                    "",
                    true,
                    missing(
                        "select",
                        &format!("{for_kind}: the nodes whose values are observed"),
                    ),
                );
            }
            let given = if kind == MetricType::Histogram {
                rule.le.is_some()
            } else {
                rule.quantile.is_some()
            };
            if rule.value.is_none() {
                let why = match (given, kind) {
                    (false, _) => format!("{for_kind}: the number each node observes"),
                    (true, MetricType::Histogram) => {
                        format!("{for_kind} from `le`: the count of each bucket")
                    }
                    (true, _) => format!("{for_kind} from `quantile`: the value of each quantile"),
                };
                error("", true, missing("value", &why));
            }
            if rule.aggregate.is_some() {
                error(
                    "aggregate",
                    true,
                    forbidden(
                        "aggregate",
                        &format!("{for_kind}, which aggregates its observations itself"),
                    ),
                );
            }
            let (own, own_name, other, other_name) = if kind == MetricType::Histogram {
                (&rule.buckets, "buckets", &rule.quantiles, "quantiles")
            } else {
                (&rule.quantiles, "quantiles", &rule.buckets, "buckets")
            };
            if other.is_some() {
                error(other_name, true, forbidden(other_name, &for_kind));
            }
            let (given_key, node_is) = if kind == MetricType::Histogram {
                ("le", "bucket")
            } else {
                ("quantile", "quantile")
            };
            match own {
                None if given => {}
                None => error(
                    "",
                    true,
                    missing(
                        own_name,
                        &format!(
                            "{for_kind}, or `{given_key}` when each selected node is a \
                             {node_is} the store counted"
                        ),
                    ),
                ),
                Some(_) if given => error(
                    own_name,
                    true,
                    forbidden(
                        own_name,
                        &format!(
                            "with `{given_key}`, where each selected node is one {node_is}; \
                             keep one of them"
                        ),
                    ),
                ),
                Some(bounds) => {
                    for why in check_bounds(bounds, kind) {
                        error(own_name, false, CompileErrorKind::BadBound { why });
                    }
                }
            }
        }
    }
    if rule.select.is_none() && !rule.fields.is_empty() {
        error(
            "fields",
            true,
            forbidden(
                "fields",
                "without `select`: fields are read from each selected node",
            ),
        );
    }

    check_given_keys(&rule, kind, &mut error);
    let value_spec = check_value_and_policies(&rule, kind, is_info, templated_name, &mut error);
    if rule.inputs.as_ref().is_some_and(Vec::is_empty) {
        error(
            "inputs",
            false,
            forbidden(
                "inputs",
                "as an empty list, which matches no input: list the inputs the rule reads \
                 (`[\"*.xml\"]`), or leave `inputs` out for every input",
            ),
        );
    }
    let rule_on_missing = rule.on_missing.unwrap_or_default();
    let mut field_missing = Vec::with_capacity(rule.fields.len());
    for (name, field) in &rule.fields {
        field_missing.push(match (&field.on_missing, &field.default) {
            (Some(policy), None) => FieldMissing::Policy(*policy),
            (None, Some(text)) => FieldMissing::Default(text.clone()),
            (None, None) => FieldMissing::Policy(rule_on_missing),
            (Some(_), Some(text)) => {
                errors.push(CompileError {
                    path: path.key("fields").key(name.as_str()).key("default"),
                    at_key: true,
                    kind: forbidden(
                        "default",
                        "beside `on_missing`: a field without its query either gets the \
                         `default` text or what `on_missing` says; keep one",
                    ),
                });
                FieldMissing::Default(text.clone())
            }
        });
    }
    let absent = rule.absent.clone().unwrap_or_else(|| file_absent.to_vec());

    // Labels and their templates.
    let field_names: Vec<&str> = rule.fields.keys().map(FieldName::as_str).collect();
    let mut labels = Vec::new();
    for (label, template) in &rule.labels {
        let label_path = path.key("labels").key(label.as_str());
        if global_names.contains(label.as_str()) {
            errors.push(CompileError {
                path: label_path.clone(),
                at_key: true,
                kind: CompileErrorKind::LabelSetTwice {
                    label: label.as_str().to_owned(),
                },
            });
        }
        if reserved_label(kind) == Some(label.as_str()) {
            errors.push(CompileError {
                path: label_path.clone(),
                at_key: true,
                kind: CompileErrorKind::ReservedLabel {
                    label: label.as_str().to_owned(),
                    kind,
                },
            });
        }
        if let Some(id) = register(templates, &label_path, template, &field_names, errors) {
            labels.push((label.clone(), id));
        }
    }
    if let RuleName::Template(template) = &rule.name
        && let Some(id) = register(templates, &path.key("name"), template, &field_names, errors)
    {
        labels.push((LabelName::metric_name(), id));
    }
    if let Some(state_label) = &rule.state_label {
        let taken = global_names.contains(state_label.as_str())
            || rule.labels.contains_key(state_label)
            || reserved_label(kind) == Some(state_label.as_str());
        if taken {
            errors.push(CompileError {
                path: path.key("state_label"),
                at_key: false,
                kind: CompileErrorKind::LabelSetTwice {
                    label: state_label.as_str().to_owned(),
                },
            });
        }
    } else if rule.states.is_some()
        && (global_names.contains("state") || rule.labels.keys().any(|l| l.as_str() == "state"))
    {
        errors.push(CompileError {
            path: path.key("states"),
            at_key: true,
            kind: forbidden(
                "states",
                "while a label is named `state`, the label a state set adds; set `state_label` \
                 to another name",
            ),
        });
    }
    if rule.on_empty == Some(OnEmpty::Zero) {
        let reads_field = |id: &TemplateId| {
            templates.variables(id).iter().any(|variable| {
                let head = variable.split('.').next().unwrap_or_default();
                field_names.contains(&head)
            })
        };
        let name_uses_field = labels
            .iter()
            .any(|(label, id)| label.is_metric_name() && reads_field(id));
        if name_uses_field {
            errors.push(CompileError {
                path: path.key("on_empty"),
                at_key: false,
                kind: forbidden(
                    "on_empty: zero",
                    "when the name template uses a field: with no node there is no field value \
                     to name the 0 sample with",
                ),
            });
        } else if labels.iter().any(|(_, id)| reads_field(id)) {
            errors.push(CompileError {
                path: path.key("on_empty"),
                at_key: false,
                kind: forbidden(
                    "on_empty: zero",
                    "when a label uses a field: with no node there is no field value to label \
                     the 0 sample with",
                ),
            });
        }
    }
    errors.extend(prefix_errors);

    let mut given = None;
    let shape = match (rule.select, rule.value) {
        (None, Some(value)) => {
            let sum_of = sum_argument(&value).and_then(|nodes| XPathQuery::parse(nodes).ok());
            Shape::Document { value, sum_of }
        }
        (Some(select), value) => {
            let on_duplicate = rule.on_duplicate.unwrap_or_default();
            let reduce = match (kind, rule.aggregate, &value_spec) {
                (MetricType::Histogram, _, _) if rule.le.is_some() => Reduce::Buckets {
                    cumulative: rule.cumulative.unwrap_or(false),
                },
                (MetricType::Summary, _, _) if rule.quantile.is_some() => Reduce::Quantiles,
                (MetricType::Histogram, _, _) => {
                    Reduce::Histogram(rule.buckets.unwrap_or_default())
                }
                (MetricType::Summary, _, _) => Reduce::Summary(rule.quantiles.unwrap_or_default()),
                (_, Some(aggregation), _) => Reduce::Aggregate(aggregation),
                (_, None, ValueSpec::States(states)) => Reduce::States {
                    label: rule
                        .state_label
                        .as_ref()
                        .map_or("state", LabelName::as_str)
                        .to_owned(),
                    states: states.clone(),
                    on_duplicate,
                },
                (_, None, _) => Reduce::Each(on_duplicate),
            };
            let mut fields: Vec<(FieldName, XPathQuery)> = rule
                .fields
                .into_iter()
                .map(|(name, field)| (name, field.query))
                .collect();
            let bound = match kind {
                MetricType::Histogram => rule.le.map(|read| ("le", read)),
                MetricType::Summary => rule.quantile.map(|read| ("quantile", read)),
                _ => None,
            };
            if let Some(bound) = bound {
                let mut reading = |(key, read): (&'static str, ReadSpec)| {
                    fields.push((FieldName::given(key), read.query));
                    field_missing.push(FieldMissing::Policy(OnMissing::Error));
                    GivenReading {
                        key,
                        index: fields.len() - 1,
                        convert: read.convert,
                    }
                };
                let bound = reading(bound);
                let sum = rule.sum.map(|read| reading(("sum", read)));
                let count = rule.count.map(|read| reading(("count", read)));
                given = Some(Given { bound, sum, count });
            }
            Shape::Nodes {
                select,
                fields,
                value,
                reduce,
            }
        }
        (None, None) => return None,
    };
    let stream = match &shape {
        Shape::Document { value, .. } => plan::plan_document(value, namespaces),
        Shape::Nodes {
            select,
            fields,
            value,
            ..
        } => plan::plan_nodes(
            select,
            fields.iter().map(|(name, query)| (name.as_str(), query)),
            value.as_ref(),
            namespaces,
        ),
    };
    Some(CompiledRule {
        stream,
        allow_lints: rule.allow_lints,
        id: path.to_string(),
        index,
        name: rule.name,
        help: rule.help,
        kind,
        labels,
        shape,
        value: value_spec,
        policies: Policies {
            on_missing: rule.on_missing.unwrap_or_default(),
            on_invalid: rule.on_invalid.unwrap_or_default(),
            on_empty: rule.on_empty.unwrap_or_default(),
        },
        field_missing,
        absent,
        inputs: rule.inputs,
        quiet: rule.quiet.unwrap_or(false),
        given,
    })
}

/// Checks the keys of a histogram or summary the store gives ready-made: `le` and
/// `cumulative` only in a histogram, `quantile` only in a summary, `sum` and `count` only with
/// either, `cumulative` required with `le`, `count` required with `quantile`.
fn check_given_keys(
    rule: &Rule,
    kind: MetricType,
    error: &mut impl FnMut(&str, bool, CompileErrorKind),
) {
    let given = match kind {
        MetricType::Histogram => rule.le.is_some(),
        MetricType::Summary => rule.quantile.is_some(),
        MetricType::Gauge | MetricType::Counter => false,
    };
    if rule.le.is_some() && kind != MetricType::Histogram {
        error(
            "le",
            true,
            forbidden(
                "le",
                &format!("for a {kind}: `le` reads the upper bound of a histogram's bucket"),
            ),
        );
    }
    if rule.quantile.is_some() && kind != MetricType::Summary {
        error(
            "quantile",
            true,
            forbidden(
                "quantile",
                &format!("for a {kind}: `quantile` reads the rank of a summary's quantile"),
            ),
        );
    }
    if rule.cumulative.is_some() && !(kind == MetricType::Histogram && given) {
        error(
            "cumulative",
            true,
            forbidden(
                "cumulative",
                "without `le` in a histogram: it says how the store counts its buckets",
            ),
        );
    }
    if kind == MetricType::Histogram && given && rule.cumulative.is_none() {
        error(
            "",
            true,
            missing(
                "cumulative",
                "with `le`: `true` when each bucket's count includes the buckets below it (as \
                 Prometheus counts), `false` when it counts only its own range",
            ),
        );
    }
    for (key, present) in [("sum", rule.sum.is_some()), ("count", rule.count.is_some())] {
        if present && !given {
            let why = match kind {
                MetricType::Histogram | MetricType::Summary => format!(
                    "in a {kind} without `{}`: one that observes values counts and sums them \
                     itself",
                    if kind == MetricType::Histogram {
                        "le"
                    } else {
                        "quantile"
                    }
                ),
                MetricType::Gauge | MetricType::Counter => format!(
                    "for a {kind}: `{key}` belongs to a histogram from `le` or a summary from \
                     `quantile`; for the sum of the nodes, use `aggregate: sum`"
                ),
            };
            error(key, true, forbidden(key, &why));
        }
    }
    if kind == MetricType::Summary && given && rule.count.is_none() {
        error(
            "",
            true,
            missing(
                "count",
                "with `quantile`: the number of observations, which a summary's `_count` \
                 gives; without one, write the quantiles as a gauge with a label",
            ),
        );
    }
}

/// Checks the keys of state sets, info metrics and policies; returns how the value is read.
fn check_value_and_policies(
    rule: &Rule,
    kind: MetricType,
    is_info: bool,
    templated_name: bool,
    error: &mut impl FnMut(&str, bool, CompileErrorKind),
) -> ValueSpec {
    let has_select = rule.select.is_some();
    if is_info && kind != MetricType::Gauge {
        error(
            "type",
            false,
            forbidden(
                "type",
                &format!(
                    "as `{kind}` for an info metric (a name ending in `_info`): info metrics \
                     are gauges; for a {kind} of this name, add `info: false`"
                ),
            ),
        );
    }
    if is_info && !has_select {
        error(
            "",
            true,
            missing(
                "select",
                "for an info metric: the nodes whose fields become its labels (`/store` for \
                 the document element)",
            ),
        );
    }
    if let Some(states) = &rule.states {
        let why = if kind != MetricType::Gauge {
            Some(format!("for a {kind}: a state set is a gauge"))
        } else if !has_select {
            Some("without `select`: each selected node has one state".to_owned())
        } else if rule.aggregate.is_some() {
            Some("with `aggregate`: each series shows one node's state".to_owned())
        } else {
            None
        };
        if let Some(why) = why {
            error("states", true, forbidden("states", &why));
        }
        if rule.value.is_none() && has_select {
            error(
                "",
                true,
                missing(
                    "value",
                    "with `states`: the text that names each node's state",
                ),
            );
        }
        let mut seen = BTreeSet::new();
        if states.is_empty() {
            error(
                "states",
                false,
                CompileErrorKind::BadBound {
                    why: "give at least one state".to_owned(),
                },
            );
        }
        for state in states {
            if state.is_empty() || !seen.insert(state.as_str()) {
                error(
                    "states",
                    false,
                    CompileErrorKind::BadBound {
                        why: format!(
                            "the state {state:?} is {}; states must be distinct and not empty",
                            if state.is_empty() {
                                "empty"
                            } else {
                                "given twice"
                            }
                        ),
                    },
                );
            }
        }
        if rule.on_missing == Some(OnMissing::Zero) {
            error(
                "on_missing",
                false,
                forbidden(
                    "on_missing: zero",
                    "with `states`: a missing state is not a state; use `skip` or `error`",
                ),
            );
        }
    } else if rule.state_label.is_some() {
        error(
            "state_label",
            true,
            forbidden("state_label", "without `states`"),
        );
    }
    let each = rule.aggregate.is_none() && matches!(kind, MetricType::Gauge | MetricType::Counter);
    match rule.on_duplicate {
        Some(_) if !each || !has_select => error(
            "on_duplicate",
            true,
            forbidden(
                "on_duplicate",
                if has_select {
                    "with `aggregate`, a histogram or a summary, which combine the nodes of a \
                     series themselves"
                } else {
                    "without `select`: a document-level rule gives one sample"
                },
            ),
        ),
        Some(OnDuplicate::Sum) if rule.states.is_some() => error(
            "on_duplicate",
            false,
            forbidden(
                "on_duplicate: sum",
                "with `states`: states do not add up; use `first`, `last` or `error`",
            ),
        ),
        _ => {}
    }
    if rule.on_empty == Some(OnEmpty::Zero)
        && !matches!(rule.aggregate, Some(Aggregation::Count | Aggregation::Sum))
    {
        error(
            "on_empty",
            false,
            forbidden(
                "on_empty: zero",
                "without `aggregate: count` or `aggregate: sum`: only a count or a sum of no \
                 node is 0",
            ),
        );
    }
    let counts = rule.aggregate == Some(Aggregation::Count);
    // A templated name is read from each node, and `on_invalid` says what an invalid one does.
    if rule.on_invalid.is_some() && (is_info || counts) && !templated_name {
        error(
            "on_invalid",
            true,
            forbidden("on_invalid", "in a rule that reads no value"),
        );
    }
    if rule.convert.is_some() {
        let why = if is_info || counts {
            Some("in a rule that reads no value")
        } else if rule.states.is_some() {
            Some("with `states`, whose value is a state's name, not a number")
        } else {
            None
        };
        if let Some(why) = why {
            error("convert", true, forbidden("convert", why));
        }
    }
    match &rule.states {
        Some(states) => ValueSpec::States(states.clone()),
        None if is_info => ValueSpec::One,
        None if counts => ValueSpec::Absent,
        None => ValueSpec::Number(rule.convert.clone().map(Box::new)),
    }
}

/// `NODES` of a query that is exactly `sum(NODES)`.
fn sum_argument(query: &XPathQuery) -> Option<&str> {
    let [sum, open, inner @ .., close] = query.tokens() else {
        return None;
    };
    let text = query.text();
    if !(sum.kind == Kind::Name && sum.text(text) == "sum" && open.kind == Kind::LParen) {
        return None;
    }
    // `sum(a) + sum(b)` also starts and ends so: the final `)` must close the first `(`.
    let mut depth = 0usize;
    for token in inner {
        match token.kind {
            Kind::LParen => depth += 1,
            Kind::RParen => depth = depth.checked_sub(1)?,
            _ => {}
        }
    }
    (depth == 0 && close.kind == Kind::RParen).then(|| &text[open.span.end..close.span.start])
}

fn missing(key: &'static str, why: &str) -> CompileErrorKind {
    CompileErrorKind::MissingKey {
        key,
        why: why.to_owned(),
    }
}

fn forbidden(key: &'static str, why: &str) -> CompileErrorKind {
    CompileErrorKind::ForbiddenKey {
        key,
        why: why.to_owned(),
    }
}

/// Problems with histogram buckets or summary quantiles.
fn check_bounds(bounds: &[f64], kind: MetricType) -> Vec<String> {
    let what = if kind == MetricType::Histogram {
        "bucket"
    } else {
        "quantile"
    };
    let mut problems = Vec::new();
    if bounds.is_empty() {
        problems.push(format!("give at least one {what}"));
    }
    for (i, &b) in bounds.iter().enumerate() {
        if !b.is_finite() {
            problems.push(format!(
                "{what} {i} is {}; give finite numbers{}",
                crate::model::number::format_value(b),
                if kind == MetricType::Histogram {
                    " (the +Inf bucket is always added)"
                } else {
                    ""
                }
            ));
        } else if kind == MetricType::Summary && !(0.0..=1.0).contains(&b) {
            problems.push(format!(
                "quantile {i} is {b}; quantiles are between 0 and 1"
            ));
        }
        if i > 0 && bounds[i - 1] >= b {
            problems.push(format!(
                "{what}s must be strictly ascending: {} comes after {}",
                b,
                bounds[i - 1]
            ));
        }
    }
    problems
}

/// Registers a template and checks its variables; returns its id or records the error.
fn register(
    templates: &mut templates::Templates,
    path: &FieldPath,
    template: &Template,
    fields: &[&str],
    errors: &mut Vec<CompileError>,
) -> Option<TemplateId> {
    let (id, variables) = match templates.add(path.to_string(), template.source()) {
        Ok(added) => added,
        Err(message) => {
            errors.push(CompileError {
                path: path.clone(),
                at_key: false,
                kind: CompileErrorKind::Template { message },
            });
            return None;
        }
    };
    let mut available: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    available.extend(INPUT_ATTRIBUTES.iter().map(|a| format!("input.{a}")));
    available.extend(templates.var_keys().iter().map(|key| format!("vars.{key}")));
    for variable in variables {
        let mut parts = variable.splitn(2, '.');
        let head = parts.next().unwrap_or_default();
        let rest = parts.next();
        let var_key = rest.map(|attr| attr.split('.').next().unwrap_or_default());
        if head == "vars"
            && !fields.contains(&head)
            && let Some(key) = var_key.filter(|key| !templates.has_var(key))
        {
            errors.push(CompileError {
                path: path.clone(),
                at_key: false,
                kind: CompileErrorKind::MissingVar {
                    key: key.to_owned(),
                },
            });
            continue;
        }
        let known = if head == "vars" {
            true
        } else if head == "input" {
            rest.is_none_or(|attr| {
                INPUT_ATTRIBUTES.contains(&attr.split('.').next().unwrap_or_default())
            })
        } else {
            fields.contains(&head) || TEMPLATE_GLOBALS.contains(&head)
        };
        if !known {
            errors.push(CompileError {
                path: path.clone(),
                at_key: false,
                kind: CompileErrorKind::UndefinedVariable {
                    variable,
                    available: available.clone(),
                },
            });
        }
    }
    // The template compiled, so the label exists for the family checks even if a variable
    // is wrong; the error above keeps the rules from being used.
    Some(id)
}

/// Rules sharing a name must agree; no family may collide with a histogram's or summary's
/// `_bucket`, `_sum`, `_count` series.
fn check_families(rules: &[CompiledRule], errors: &mut Vec<CompileError>) {
    let mut first_of: BTreeMap<&str, &CompiledRule> = BTreeMap::new();
    // A templated name is checked against the others once it is rendered, at run time.
    for rule in rules.iter().filter(|rule| !rule.name.is_template()) {
        let rule_path = || FieldPath::root().key("metrics").index(rule.index);
        match first_of.get(rule.name.as_str()) {
            None => {
                first_of.insert(rule.name.as_str(), rule);
            }
            Some(first) => {
                let label_names = |r: &CompiledRule| {
                    r.labels
                        .iter()
                        .map(|(n, _)| n.as_str().to_owned())
                        .collect::<BTreeSet<_>>()
                };
                let mut differences = Vec::new();
                if first.kind != rule.kind {
                    differences.push((
                        "type",
                        format!("type `{}` (here `{}`)", first.kind, rule.kind),
                    ));
                }
                if first.help != rule.help {
                    differences.push((
                        "help",
                        format!("help {:?} (here {:?})", first.help, rule.help),
                    ));
                }
                let (a, b) = (label_names(first), label_names(rule));
                if a != b {
                    let list =
                        |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
                    differences.push((
                        "labels",
                        format!("labels [{}] (here [{}])", list(&a), list(&b)),
                    ));
                }
                for (key, what) in differences {
                    errors.push(CompileError {
                        path: rule_path().key(key),
                        at_key: true,
                        kind: CompileErrorKind::FamilyConflict {
                            name: rule.name.as_str().to_owned(),
                            first: first.id.clone(),
                            what,
                        },
                    });
                }
            }
        }
    }
    for (name, rule) in &first_of {
        if !matches!(rule.kind, MetricType::Histogram | MetricType::Summary) {
            continue;
        }
        let suffixes: &[&str] = if rule.kind == MetricType::Histogram {
            &["_bucket", "_sum", "_count"]
        } else {
            &["_sum", "_count"]
        };
        for suffix in suffixes {
            let series = format!("{name}{suffix}");
            if let Some(clash) = first_of.get(series.as_str()) {
                errors.push(CompileError {
                    path: FieldPath::root()
                        .key("metrics")
                        .index(clash.index)
                        .key("name"),
                    at_key: false,
                    kind: CompileErrorKind::NameClash {
                        name: series,
                        other: (*name).to_owned(),
                    },
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(yaml: &str) -> Vec<String> {
        let file = crate::rules::file::parse(yaml).expect("the YAML itself is valid");
        match compile(file) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    fn rule(body: &str) -> String {
        format!("version: 1\nmetrics:\n  - name: m\n    help: h\n{body}")
    }

    fn assert_one(yaml: &str, expected: &str) {
        let found = errors(yaml);
        assert!(
            found.len() == 1 && found[0].contains(expected),
            "expected one error containing {expected:?}, got {found:#?}"
        );
    }

    #[test]
    fn a_valid_file_compiles_to_a_plan() {
        let yaml = rule(
            "    type: gauge\n    select: /store/row\n    fields: { kind: '@kind' }\n    \
             labels: { kind: '{{ kind }}' }\n    aggregate: count\n",
        );
        let file = crate::rules::file::parse(&yaml).expect("valid");
        let compiled = compile(file).expect("compiles");
        assert_eq!(compiled.rules.len(), 1);
        assert!(matches!(
            compiled.rules[0].shape,
            Shape::Nodes {
                reduce: Reduce::Aggregate(Aggregation::Count),
                ..
            }
        ));
    }

    #[test]
    fn vars_need_a_value_from_the_command_line() {
        let yaml = "version: 1\nlabels: { site: '{{ vars.site }}' }\nmetrics:\n  - name: m\n    \
                    help: h\n    type: gauge\n    value: '1'\n    labels: { team: '{{ vars.team }}' }\n";
        let compile_with = |vars: &[(&str, &str)]| {
            let file = crate::rules::file::parse(yaml).expect("valid");
            let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
            compile_with_vars(file, &vars.collect())
        };
        let errors = compile_with(&[("site", "paris")]).expect_err("no team");
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "metrics[0].labels.team: the template uses `vars.team`, which has no value; pass \
              `--var team=VALUE`"
            ]
        );
        assert!(compile_with(&[("site", "paris"), ("team", "ops")]).is_ok());
    }

    /// The value each rule of `yaml` reads, or its errors.
    fn value_specs(yaml: &str) -> Result<Vec<String>, Vec<String>> {
        let file = crate::rules::file::parse(yaml).expect("the YAML itself is valid");
        match compile(file) {
            Ok(compiled) => Ok(compiled
                .rules
                .iter()
                .map(|rule| match rule.value {
                    ValueSpec::Absent => "absent".to_owned(),
                    ValueSpec::One => "one".to_owned(),
                    ValueSpec::Number(_) => "number".to_owned(),
                    ValueSpec::States(_) => "states".to_owned(),
                })
                .collect()),
            Err(errors) => Err(errors.iter().map(ToString::to_string).collect()),
        }
    }

    #[test]
    fn info_metrics_by_name_and_the_info_key() {
        let named = |name: &str, body: &str| {
            format!("version: 1\nmetrics:\n  - name: {name}\n    help: h\n    type: gauge\n{body}")
        };
        let select = "    select: /s\n    fields: { v: '@v' }\n    labels: { v: '{{ v }}' }\n";
        assert_eq!(
            value_specs(&named("store_info", select)),
            Ok(vec!["one".to_owned()])
        );
        let explicit = format!("{select}    info: true\n");
        assert_eq!(
            value_specs(&named("store_info", &explicit)),
            Ok(vec!["one".to_owned()])
        );
        // `info: false`: a gauge named `..._info` whose value is read.
        let gauge = "    select: /s\n    value: '@level'\n    info: false\n";
        assert_eq!(
            value_specs(&named("water_level_info", gauge)),
            Ok(vec!["number".to_owned()])
        );
        let document = "    value: count(/s/x)\n    info: false\n";
        assert_eq!(
            value_specs(&named("store_info", document)),
            Ok(vec!["number".to_owned()])
        );
        let counted = "    select: /s/x\n    aggregate: count\n    info: false\n";
        assert_eq!(
            value_specs(&named("store_info", counted)),
            Ok(vec!["absent".to_owned()])
        );
        let plain = "    value: '1'\n    info: false\n";
        assert_eq!(
            value_specs(&named("store_rows", plain)),
            Ok(vec!["number".to_owned()])
        );
        let states = "    select: /s\n    value: '@s'\n    states: [a, b]\n    info: false\n";
        assert_eq!(
            value_specs(&named("store_info", states)),
            Ok(vec!["states".to_owned()])
        );
        let counter = "version: 1\nmetrics:\n  - name: store_info\n    help: h\n    \
                       type: counter\n    value: count(/s/x)\n    info: false\n";
        assert_eq!(value_specs(counter), Ok(vec!["number".to_owned()]));
    }

    #[test]
    fn the_info_key_is_checked() {
        let named = |name: &str, body: &str| {
            format!("version: 1\nmetrics:\n  - name: {name}\n    help: h\n    type: gauge\n{body}")
        };
        assert_eq!(
            value_specs(&named("store_build", "    select: /s\n    info: true\n")),
            Err(vec![
                "metrics[0].info: `info: true` cannot be used on `store_build`, whose name does \
                 not end in `_info`: info metrics are named `..._info`; rename it \
                 `store_build_info`, or remove `info: true`"
                    .to_owned()
            ])
        );
        assert_eq!(
            value_specs(&named(
                "store_info",
                "    select: /s\n    value: '@s'\n    states: [a]\n    info: true\n"
            )),
            Err(vec![
                "metrics[0].info: `info: true` cannot be used with `states`: a state set is not an \
                 info metric; remove one of them"
                    .to_owned()
            ])
        );
        assert_eq!(
            value_specs(&named("store_info", "    select: /s\n    value: '@v'\n")),
            Err(vec![
                "metrics[0].value: `value` cannot be used in an info metric (a name ending in \
                 `_info`), whose value is always 1; for a gauge of this name whose value is \
                 read, add `info: false`"
                    .to_owned()
            ])
        );
        assert_eq!(
            value_specs(&named("store_info", "    select: /s\n    info: false\n")),
            Err(vec![
                "metrics[0]: `value` is required with `select` and no `aggregate`: the number \
                 each node gives (or add `aggregate: count` to count nodes)"
                    .to_owned()
            ])
        );
        let counter = "version: 1\nmetrics:\n  - name: store_info\n    help: h\n    \
                       type: counter\n    select: /s\n";
        assert_eq!(
            value_specs(counter),
            Err(vec![
                "metrics[0].type: `type` cannot be used as `counter` for an info metric (a name \
                 ending in `_info`): info metrics are gauges; for a counter of this name, add \
                 `info: false`"
                    .to_owned()
            ])
        );
    }

    #[test]
    fn shapes_need_their_keys() {
        assert_one(
            &rule("    type: gauge\n"),
            "`value` is required for a rule without `select`",
        );
        assert_one(
            &rule("    type: gauge\n    select: /a\n"),
            "`value` is required with `select`",
        );
        assert_one(
            &rule("    type: gauge\n    select: /a\n    aggregate: sum\n"),
            "`value` is required with `aggregate: sum`",
        );
        assert_one(
            &rule("    type: gauge\n    select: /a\n    value: '@x'\n    aggregate: count\n"),
            "`value` cannot be used with `aggregate: count`",
        );
        assert_one(
            &rule("    type: gauge\n    value: '1'\n    aggregate: sum\n"),
            "`aggregate` cannot be used without `select`",
        );
        assert_one(
            &rule("    type: gauge\n    value: '1'\n    fields: { a: '@a' }\n"),
            "`fields` cannot be used without `select`",
        );
        assert_one(
            &rule("    type: gauge\n    value: '1'\n    buckets: [1]\n"),
            "`buckets` cannot be used for a gauge; buckets belong to a histogram",
        );
        assert_one(
            &rule("    type: histogram\n    select: /a\n    value: '@x'\n"),
            "`buckets` is required for a histogram",
        );
        assert_one(
            &rule(
                "    type: summary\n    select: /a\n    value: '@x'\n    quantiles: [0.5, 1.5]\n",
            ),
            "quantile 1 is 1.5",
        );
        assert_one(
            &rule("    type: histogram\n    select: /a\n    value: '@x'\n    buckets: []\n"),
            "give at least one bucket",
        );
        assert_one(
            &rule("    type: histogram\n    select: /a\n    value: '@x'\n    buckets: [.inf]\n"),
            "the +Inf bucket is always added",
        );
    }

    #[test]
    fn unknown_prefixes_and_variables_are_found() {
        let yaml = rule(
            "    type: gauge\n    select: /s:a\n    fields: { k: 't:x' }\n    \
             labels: { k: '{{ kk }}', p: '{{ input.path }}' }\n    aggregate: count\n",
        );
        let found = errors(&yaml);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found.iter().any(|e| e.contains("prefix `s`")));
        assert!(found.iter().any(|e| e.contains("prefix `t`")));
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("metrics[0].labels.k: the template uses `kk`"))
        );
    }

    #[test]
    fn declared_prefixes_are_accepted() {
        let yaml = "version: 1\nnamespaces: { s: 'urn:x' }\nmetrics:\n  - name: m\n    help: h\n    \
                    type: gauge\n    value: count(/s:a)\n";
        assert_eq!(errors(yaml), Vec::<String>::new());
    }

    #[test]
    fn a_document_sum_names_its_nodes() {
        let argument = |text: &str| {
            let query = XPathQuery::parse(text).expect("valid");
            sum_argument(&query).map(str::to_owned)
        };
        assert_eq!(argument(" sum( /a/@b ) ").as_deref(), Some(" /a/@b "));
        assert_eq!(
            argument("sum(/a[@x = ')'])").as_deref(),
            Some("/a[@x = ')']")
        );
        assert_eq!(argument("sum((/a | /b))").as_deref(), Some("(/a | /b)"));
        for text in ["sum(/a) + sum(/b)", "s:sum(/a)", "sum(/a)[1]", "count(/a)"] {
            assert_eq!(argument(text), None, "{text}");
        }
    }

    #[test]
    fn families_must_agree_and_not_clash() {
        let yaml = "version: 1\nmetrics:\n\
            - { name: m, help: a, type: gauge, value: '1' }\n\
            - { name: m, help: b, type: counter, value: '1' }\n\
            - { name: h, help: a, type: histogram, select: /a, value: '@x', buckets: [1] }\n\
            - { name: h_count, help: a, type: gauge, value: '1' }\n";
        let found = errors(yaml);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].contains("with type `gauge` (here `counter`)")
                || found[1].contains("type `gauge`")
        );
        assert!(
            found
                .iter()
                .any(|e| e.contains("`h_count` collides with the series of `h`"))
        );
    }

    #[test]
    fn name_templates_are_registered_and_checked() {
        let yaml = "version: 1\nmetrics:\n\
            - { name: 'app_{{ kind }}', help: a, type: gauge, select: /a, fields: { kind: '@k' }, \
                value: '@v' }\n\
            - { name: 'app_{{ knid }}', help: a, type: gauge, select: /a, fields: { kind: '@k' }, \
                value: '@v' }\n\
            - { name: 'h_{{ kind }}', help: a, type: histogram, select: /a, \
                fields: { kind: '@k' }, value: '@v', buckets: [1] }\n\
            - { name: 'app_{{ kind }}_info', help: a, type: gauge, select: /a, \
                fields: { kind: '@k' }, on_invalid: skip }\n";
        let found = errors(yaml);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].starts_with("metrics[1].name: the template uses `knid`"));
        assert!(found[1].starts_with(
            "metrics[2].name: `name` cannot be used as a template for a histogram: only gauges, \
             counters and info metrics"
        ));
        let valid = "version: 1\nmetrics:\n\
            - { name: 'app_{{ kind }}', help: a, type: gauge, select: /a, fields: { kind: '@k' }, \
                value: '@v' }\n\
            - { name: app_x, help: b, type: counter, value: '1' }\n";
        let compiled = compile(crate::rules::file::parse(valid).expect("valid")).expect("compiles");
        let rule = &compiled.rules[0];
        assert!(rule.name.is_template() && rule.name.fixed().is_none());
        assert!(matches!(rule.labels.as_slice(), [(label, _)] if label.is_metric_name()));
        assert_eq!(
            compiled.rules[1].name.fixed().map(|n| n.as_str()),
            Some("app_x")
        );
        let empty = "version: 1\nmetrics:\n\
            - { name: 'app_{{ kind }}', help: a, type: gauge, select: /a, fields: { kind: '@k' }, \
                aggregate: count, on_empty: zero }\n";
        assert_eq!(
            errors(empty),
            [
                "metrics[0].on_empty: `on_empty: zero` cannot be used when the name template uses a \
              field: with no node there is no field value to name the 0 sample with"
            ]
        );
    }

    #[test]
    fn rendered_names_are_checked_as_fixed_names() {
        assert_eq!(
            rendered_name("app_rows").map(|n| n.to_string()),
            Ok("app_rows".into())
        );
        for (name, why) in [
            ("", "an empty name"),
            ("app-rows", "is not a valid metric name"),
            ("1app", "is not a valid metric name"),
            ("__app", "reserved for Prometheus"),
            ("xml2prom_rows", "the prefix xml2prom keeps"),
        ] {
            let got = rendered_name(name).expect_err(name);
            assert!(got.contains(why), "{name}: {got}");
        }
    }

    #[test]
    fn labels_cannot_repeat_top_level_labels_or_use_reserved_names() {
        let yaml = "version: 1\nlabels: { path: x, quantile: y }\nmetrics:\n\
            - { name: m, help: a, type: gauge, value: '1', labels: { path: z } }\n\
            - { name: s, help: a, type: summary, select: /a, value: '@x', quantiles: [0.5] }\n";
        let found = errors(yaml);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found
                .iter()
                .any(|e| e.contains("already set by the top-level `labels:`"))
        );
        assert!(
            found
                .iter()
                .any(|e| e.contains("`quantile` is reserved in a summary"))
        );
    }
}
