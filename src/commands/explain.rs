//! Explain: the `explain` subcommand, the debug view of a rule file on one input. Per rule: its
//! queries and engine, how many nodes `select` matched, the first nodes with their location
//! path, fields, rendered labels and value (or why the rule's policies skip them), and the
//! samples the rule gives, as `run` computes them.
//!
//! The per-node view is evaluated on the DOM (the reference semantics) whatever engine `run`
//! uses; the samples come from a real run with the usual engine choice, so they are exactly
//! what `run` would write.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anstyle::Style;
use serde::Serialize;
use sxd_xpath::nodeset::Node;
use sxd_xpath::{Context, Value};

use crate::commands::run::{self, RunError};
use crate::commands::{check, fail};
use crate::engine::dom::build::{self, first_in_document_order, sort_in_document_order};
use crate::engine::dom::location_path;
use crate::engine::error::{EvalError, EvalErrorKind};
use crate::engine::node::render_labels;
use crate::engine::node::{self, Outcome, Reading};
use crate::engine::{self, Engine, EngineError};
use crate::model::names::METRIC_NAME_LABEL;
use crate::model::number::format_value;
use crate::model::number::shorten;
use crate::rules;
use crate::rules::compile::{CompiledRule, CompiledRules, Shape};
use crate::rules::templates;
use crate::rules::xpath::XPathQuery;
use crate::xml::{self, XmlLimits};

/// How `explain` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Indented text, coloured on a terminal (unless `NO_COLOR` is set).
    #[default]
    Human,
    /// One JSON document.
    Json,
}

/// What explain found for one input.
#[derive(Debug, Serialize)]
pub struct Explanation {
    /// The input.
    pub input: String,
    /// One entry per rule shown.
    pub rules: Vec<RuleView>,
    /// Warnings the run printed (skipped nodes).
    pub warnings: Vec<String>,
}

/// One rule.
#[derive(Debug, Serialize)]
pub struct RuleView {
    /// `metrics[N]`.
    pub id: String,
    /// The metric name.
    pub metric: String,
    /// The metric type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Which engine `run` uses for it, and why not streaming.
    pub engine: String,
    /// `select`, when the rule has one.
    pub select: Option<String>,
    /// `value`, when the rule has one.
    pub value: Option<String>,
    /// How many nodes `select` matched.
    pub matched: Option<usize>,
    /// The first nodes, in document order.
    pub nodes: Vec<NodeView>,
    /// The samples the rule gives, as exposition lines.
    pub samples: Vec<String>,
    /// An error evaluating the rule's queries on the DOM.
    pub error: Option<String>,
}

/// One selected node.
#[derive(Debug, Serialize)]
pub struct NodeView {
    /// Its location path.
    pub path: String,
    /// Field name and what its query gave (`None`: nothing).
    pub fields: Vec<(String, Option<String>)>,
    /// For a histogram from `le` or a summary from `quantile`: the rule key (`le`, `sum`, ...),
    /// what its query gave, and the number it is (or why it is none).
    pub readings: Vec<(String, Option<String>, String)>,
    /// What the value query gave, as text.
    pub value_text: Option<String>,
    /// The number observed, if the node is used.
    pub value: Option<String>,
    /// The metric name the rule's name template rendered, if it has one and the node is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The rendered labels, if the node is used.
    pub labels: Option<String>,
    /// Why the node is left out or fails, if it is.
    pub outcome: Option<String>,
}

/// The checked flags of `explain`.
pub struct ExplainConfig {
    /// The rule file.
    pub rules: PathBuf,
    /// Template variables (`--var KEY=VALUE`).
    pub vars: BTreeMap<String, String>,
    /// The input.
    pub input: PathBuf,
    /// `--metric`: only the rules of this metric.
    pub metric: Option<String>,
    /// `--limit`: how many nodes to show per rule.
    pub limit: usize,
    /// What the input may be.
    pub limits: XmlLimits,
    /// Text or JSON.
    pub format: Format,
}

/// `explain`: the explanation on stdout, coloured on a terminal.
pub fn execute(config: &ExplainConfig) -> ExitCode {
    let rules = match rules::load(&config.rules, &config.vars) {
        Ok(rules) => rules,
        Err(error) => return fail(&error),
    };
    let explanation = match explain(
        &rules,
        &config.input,
        config.metric.as_deref(),
        config.limit,
        &config.limits,
    ) {
        Ok(explanation) => explanation,
        Err(error) => return fail(&error),
    };
    let text = match config.format {
        Format::Json => render_json(&explanation),
        Format::Human => render_human(&explanation, true),
    };
    // anstream strips the colours when stdout is not a terminal or NO_COLOR is set.
    let _ = anstream::stdout().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

/// Explains `rules` on `input`: the first `limit` nodes of each rule whose metric is `metric`
/// (every rule when `None`).
pub fn explain(
    rules: &CompiledRules,
    input: &Path,
    metric: Option<&str>,
    limit: usize,
    limits: &XmlLimits,
) -> Result<Explanation, RunError> {
    let xml_error = |source| {
        RunError::Engine(EngineError::Xml {
            input: input.to_owned(),
            source,
        })
    };
    let bytes = xml::read(input, limits).map_err(xml_error)?;
    let package = build::parse(&bytes, limits, &mut xml::NoSink).map_err(xml_error)?;
    let document = package.as_document();
    let mut context = Context::new();
    for (prefix, uri) in &rules.namespaces {
        context.set_namespace(prefix, uri);
    }
    let input_value = templates::input_value(input);
    let global = node::render_global_labels(rules, &input_value).map_err(|source| {
        RunError::Engine(EngineError::Eval {
            input: input.to_owned(),
            source,
        })
    })?;
    let (run_text, mut warnings) =
        match run::evaluate_to_text(rules, &bytes, input, limits, Engine::Auto) {
            Ok(found) => found,
            Err(error) => (String::new(), vec![format!("the run fails: {error}")]),
        };
    // What `check --input` would warn about on this input (its failures are the run's above).
    let samples = check::Samples {
        inputs: vec![input.to_owned()],
        engine: engine::EngineConfig {
            limits: limits.clone(),
            engine: Engine::Auto,
            max_dom_bytes: u64::MAX,
        },
    };
    let names: Vec<Option<String>> = rules
        .rules
        .iter()
        .map(|rule| Some(rule.name.as_str().to_owned()))
        .collect();
    let (lints, _) = check::on_samples(rules, &samples);
    warnings.extend(lints.into_iter().map(|lint| {
        let line = crate::rules::name_the_rule(&lint.to_string(), &names);
        format!("{line} [{}]", lint.code)
    }));
    let engines = engine::engine_report(rules, Engine::Auto);
    let mut views = Vec::new();
    for (rule, engine) in rules.rules.iter().zip(engines) {
        // A templated name is known per node: the filter is applied once they are shown.
        if metric.is_some_and(|m| m != rule.name.as_str()) && !rule.name.is_template() {
            continue;
        }
        let mut view = RuleView {
            id: rule.id.clone(),
            metric: rule.name.as_str().to_owned(),
            kind: rule.kind.to_string(),
            engine: engine
                .split_once("): ")
                .map_or(engine.clone(), |(_, e)| e.to_owned()),
            select: None,
            value: match &rule.shape {
                Shape::Document { value, .. } => Some(value.text().to_owned()),
                Shape::Nodes { value, .. } => value.as_ref().map(|v| v.text().to_owned()),
            },
            matched: None,
            nodes: Vec::new(),
            samples: samples_of(&run_text, rule.name.as_str()),
            error: None,
        };
        if let Some(patterns) = rule.inputs.as_ref().filter(|_| !rule.reads(input)) {
            let patterns: Vec<&str> = patterns.iter().map(|p| p.as_str()).collect();
            view.engine = format!(
                "none: the rule reads only the inputs `inputs: [{}]` names, not this one",
                patterns.join(", ")
            );
            views.push(view);
            continue;
        }
        if let Shape::Nodes { select, .. } = &rule.shape {
            view.select = Some(select.text().to_owned());
            let root: Node<'_> = document.root().into();
            match select.compiled().evaluate(&context, root) {
                Ok(Value::Nodeset(set)) => {
                    let mut nodes: Vec<Node<'_>> = set.iter().collect();
                    sort_in_document_order(&mut nodes);
                    view.matched = Some(nodes.len());
                    for node in nodes.into_iter().take(limit) {
                        let at = (&context, &input_value, global.as_slice());
                        match node_view(rule, rules, at, node) {
                            Ok(node) => view.nodes.push(node),
                            Err(error) => {
                                view.error = Some(error);
                                break;
                            }
                        }
                    }
                }
                Ok(other) => view.error = Some(format!("`select` gave {other:?}, not nodes")),
                Err(error) => view.error = Some(format!("`select` failed: {error}")),
            }
        }
        if rule.name.is_template() {
            let mut names: Vec<&str> = view
                .nodes
                .iter()
                .filter_map(|n| n.name.as_deref())
                .collect();
            names.sort_unstable();
            names.dedup();
            if metric.is_some_and(|m| m != rule.name.as_str() && !names.contains(&m)) {
                continue;
            }
            view.samples = names
                .iter()
                .flat_map(|name| samples_of(&run_text, name))
                .collect();
        }
        views.push(view);
    }
    Ok(Explanation {
        input: input.display().to_string(),
        rules: views,
        warnings,
    })
}

/// The exposition lines of one family in a run's output.
fn samples_of(text: &str, name: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            let series = line.split(['{', ' ']).next().unwrap_or_default();
            series == name
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| series.strip_suffix(suffix) == Some(name))
        })
        .map(str::to_owned)
        .collect()
}

/// What a query gives at a node, as text: the string-value of the first node in document order,
/// or the string, number or boolean. A field's number and boolean are XPath's `string()` of them
/// (`Infinity`, `true`), as `run` puts them into labels; a value's are the sample they give.
fn text_at<'d>(
    query: &XPathQuery,
    context: &Context<'d>,
    node: Node<'d>,
    field: bool,
) -> Result<Option<String>, String> {
    let value = query
        .compiled()
        .evaluate(context, node)
        .map_err(|error| format!("`{}` failed: {error}", query.text()))?;
    Ok(match value {
        Value::Nodeset(set) => first_in_document_order(set.iter()).map(|n| n.string_value()),
        Value::String(s) => Some(s),
        Value::Number(n) if field => Some(sxd_xpath::num_to_str(n)),
        Value::Number(n) => Some(format_value(n)),
        Value::Boolean(b) if field => Some(b.to_string()),
        Value::Boolean(b) => Some(if b { "1" } else { "0" }.to_owned()),
    })
}

/// Where a node is evaluated: the XPath context, the template `input` and the top-level labels.
type At<'a, 'd> = (
    &'a Context<'d>,
    &'a minijinja::Value,
    &'a [(String, String)],
);

fn node_view<'d>(
    rule: &CompiledRule,
    rules: &CompiledRules,
    (context, input, global): At<'_, 'd>,
    node: Node<'d>,
) -> Result<NodeView, String> {
    let Shape::Nodes { fields, value, .. } = &rule.shape else {
        return Err("not a node-level rule".to_owned());
    };
    let mut view = NodeView {
        path: location_path(node),
        fields: Vec::new(),
        readings: Vec::new(),
        value_text: None,
        value: None,
        name: None,
        labels: None,
        outcome: None,
    };
    let mut texts = Vec::new();
    for (index, (name, query)) in fields.iter().enumerate() {
        let text = text_at(query, context, node, true)?;
        let given = rule.given.as_ref().and_then(|given| {
            [Some(&given.bound), given.sum.as_ref(), given.count.as_ref()]
                .into_iter()
                .flatten()
                .find(|reading| reading.index == index)
        });
        match given {
            Some(reading) => {
                let number = match text.as_deref().map(|text| reading.number(text)) {
                    Some(Ok(number)) => format_value(number),
                    Some(Err(why)) => format!("not a number: it {why}"),
                    None => "(nothing)".to_owned(),
                };
                view.readings
                    .push((reading.key.to_owned(), text.as_deref().map(shorten), number));
            }
            None => view.fields.push((name.as_str().to_owned(), text.clone())),
        }
        match settle(rule, node::field(rule, index, text)) {
            Ok(text) => texts.push(text),
            Err(why) => {
                view.outcome = Some(why);
                return Ok(view);
            }
        }
    }
    let text = match value {
        Some(query) => text_at(query, context, node, false)?,
        None => None,
    };
    view.value_text = text.as_deref().map(shorten);
    let reading = match &text {
        Some(text) => Reading::Text(text.as_str().into()),
        None => Reading::Missing,
    };
    match settle(rule, node::value(rule, reading)) {
        Ok(number) => {
            view.value = Some(match (number, &rule.value) {
                (None, _) => "counted".to_owned(),
                (Some(n), crate::rules::compile::ValueSpec::States(states)) => {
                    format!(
                        "state {}",
                        states.get(n as usize).cloned().unwrap_or_default()
                    )
                }
                (Some(n), _) => format_value(n),
            });
        }
        Err(why) => {
            view.outcome = Some(why);
            return Ok(view);
        }
    }
    let context = templates::context(
        fields
            .iter()
            .map(|(name, _)| name.as_str())
            .zip(texts.iter().map(String::as_str)),
        input,
    );
    match render_labels(&rules.templates, &rule.labels, &context) {
        Ok(mut labels) => {
            if let Some(at) = labels
                .iter()
                .position(|(label, _)| label == METRIC_NAME_LABEL)
            {
                let (_, name) = labels.remove(at);
                if let Err(why) = crate::rules::compile::rendered_name(&name) {
                    view.outcome = Some(match rule.policies.on_invalid {
                        crate::rules::policy::OnInvalid::Skip => {
                            format!("skipped (invalid: the name template gave {why})")
                        }
                        crate::rules::policy::OnInvalid::Error => format!(
                            "fails the run: {}",
                            fail_text(rule, EvalErrorKind::InvalidName { why })
                        ),
                    });
                }
                view.name = Some(name);
            }
            let all = labels.into_iter().chain(global.iter().cloned());
            view.labels = Some(crate::model::sample::LabelSet::new(all).to_string());
        }
        Err(kind) => view.outcome = Some(format!("fails the run: {}", fail_text(rule, kind))),
    }
    Ok(view)
}

/// What a policy decided for a node: the value to use, or what the view says instead.
fn settle<T>(rule: &CompiledRule, outcome: Outcome<T>) -> Result<T, String> {
    match outcome {
        Outcome::Use(value) => Ok(value),
        Outcome::Skip(skip) => Err(format!("skipped ({skip})")),
        Outcome::Fail(kind) => Err(format!("fails the run: {}", fail_text(rule, kind))),
    }
}

/// An evaluation error's message without the rule and node, which the view shows already.
fn fail_text(rule: &CompiledRule, kind: EvalErrorKind) -> String {
    let error = EvalError {
        rule: rule.id.clone(),
        metric: rule.name.as_str().to_owned(),
        node: None,
        kind: Box::new(kind),
    };
    let text = error.to_string();
    text.split_once("): ")
        .map_or(text.clone(), |(_, rest)| rest.to_owned())
}

/// The explanation as text; `color` adds ANSI styles (the caller decides, from the terminal and
/// `NO_COLOR`).
pub fn render_human(explanation: &Explanation, color: bool) -> String {
    let style = |s: Style, text: &str| {
        if color {
            format!("{}{text}{}", s.render(), s.render_reset())
        } else {
            text.to_owned()
        }
    };
    let bold = Style::new().bold();
    let dim = Style::new().dimmed();
    let warn = anstyle::AnsiColor::Yellow.on_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style(bold, &format!("input {}", explanation.input))
    );
    for rule in &explanation.rules {
        let _ = writeln!(
            out,
            "\n{} {} ({}): {}",
            style(bold, &rule.id),
            style(bold, &rule.metric),
            rule.kind,
            rule.engine
        );
        if let Some(select) = &rule.select {
            let matched = rule
                .matched
                .map_or(String::new(), |n| format!(" -> {n} node{}", plural(n)));
            let _ = writeln!(out, "  select: {select}{matched}");
        }
        if let Some(value) = &rule.value {
            let _ = writeln!(out, "  value:  {value}");
        }
        for node in &rule.nodes {
            let _ = writeln!(out, "  {}", style(dim, &format!("node {}", node.path)));
            for (name, text) in &node.fields {
                let shown = text
                    .as_deref()
                    .map_or("(nothing)".to_owned(), |t| format!("{:?}", shorten(t)));
                let _ = writeln!(out, "      field {name} = {shown}");
            }
            for (key, text, number) in &node.readings {
                if let Some(text) = text {
                    let _ = writeln!(out, "      {key} text = {text:?}");
                }
                let _ = writeln!(out, "      {key} = {number}");
            }
            if let Some(text) = &node.value_text {
                let _ = writeln!(out, "      value text = {text:?}");
            }
            if let Some(value) = &node.value {
                let _ = writeln!(out, "      value = {value}");
            }
            if let Some(name) = &node.name {
                let _ = writeln!(out, "      name = {name}");
            }
            if let Some(labels) = &node.labels {
                let _ = writeln!(out, "      labels = {labels}");
            }
            if let Some(outcome) = &node.outcome {
                let _ = writeln!(out, "      {}", style(warn, outcome));
            }
        }
        if let Some(matched) = rule.matched
            && matched > rule.nodes.len()
            && rule.error.is_none()
        {
            let more = matched - rule.nodes.len();
            let _ = writeln!(
                out,
                "  {}",
                style(
                    dim,
                    &format!("... {more} more node{} (--limit)", plural(more))
                )
            );
        }
        if let Some(error) = &rule.error {
            let _ = writeln!(out, "  {}", style(warn, &format!("error: {error}")));
        }
        if rule.samples.is_empty() {
            let _ = writeln!(out, "  samples: none");
        } else {
            let _ = writeln!(out, "  samples:");
            let samples = rule.samples.to_vec();
            for sample in &samples {
                let _ = writeln!(out, "    {sample}");
            }
        }
    }
    for warning in &explanation.warnings {
        let _ = writeln!(out, "\n{}", style(warn, &format!("warning: {warning}")));
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The explanation as JSON.
pub fn render_json(explanation: &Explanation) -> String {
    // Plain strings and numbers always serialize.
    let mut out = serde_json::to_string_pretty(explanation).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_of_a_family_include_histogram_series() {
        let text = "# HELP h x\nh_bucket{le=\"1\"} 1\nh_sum 2\nh_count 1\nhx 3\nh 4\n";
        assert_eq!(
            samples_of(text, "h"),
            ["h_bucket{le=\"1\"} 1", "h_sum 2", "h_count 1", "h 4"]
        );
    }
}
