//! Engine: compiled rules and one input to samples.
//!
//! [`evaluate_input`] is the way in: it splits the rules between the engines ([`split_engines`],
//! explained per rule by [`engine_report`]), reads the input once and merges the results in rule
//! order. [`stream`] runs every streamable rule in one pass over the scan; [`dom`] builds a
//! document from the same checked scan and runs the rest through sxd-xpath (or reads simple
//! queries directly). Both hand each selected node to [`node`], the per-node pipeline, and
//! [`aggregate`] turns a rule's observations into samples. [`collect`] gathers the samples of
//! several inputs into metric families; rendering them is the exposition's job.

pub mod aggregate;
pub mod dom;
pub mod error;
pub mod eval;
pub mod label_cache;
pub mod matcher;
pub mod node;
pub mod skips;
pub mod stream;
pub mod tree;

use std::path::{Path, PathBuf};

use crate::engine::dom::Evaluation;
use crate::engine::dom::build;
use crate::engine::error::{EvalError, RuleSamples};
use crate::engine::stream::StreamEngine;
use std::collections::BTreeMap;

use crate::model::names::METRIC_NAME_LABEL;
use crate::model::sample::{
    DuplicateSeries, Families, LabelSet, MetricType, Origin, Sample, Samples,
};
use crate::rules::compile::{CompiledRule, CompiledRules, rendered_name};
use crate::xml::{self, XmlError, XmlLimits};

/// Which engine evaluates the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Engine {
    /// The streaming engine for every streamable rule, the DOM engine for the others.
    #[default]
    Auto,
    /// The DOM engine for every rule.
    Dom,
    /// The DOM engine for every rule, with every query evaluated by sxd-xpath: the reference
    /// semantics the other engines are tested against. Not offered on the command line.
    #[value(skip)]
    XPath,
}

impl Engine {
    /// How the DOM engine answers queries with this engine choice.
    pub(crate) fn evaluation(self) -> Evaluation {
        match self {
            Engine::Auto | Engine::Dom => Evaluation::Direct,
            Engine::XPath => Evaluation::XPath,
        }
    }
}

/// Why the rules could not be evaluated on an input.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An input is too large for the DOM engine, which some rules need: by its size, or, for a
    /// FIFO, a pipe, a device or a file that grows, by the bytes read into the DOM.
    #[error(
        "{}: {} (it needs about 5 times the file size in memory), and these rules need the DOM \
         engine: {}; make them streamable (see `xml2prom run --verbose` and the README's Engines \
         section), use --engine auto, or raise --max-dom-bytes",
        input.display(), dom_excess(*size, *limit), reasons.join("; ")
    )]
    DomTooLarge {
        /// The input.
        input: PathBuf,
        /// Its size in bytes, if its metadata tells; `None` when the limit was reached reading.
        size: Option<u64>,
        /// The limit in bytes.
        limit: u64,
        /// The rules that need the DOM engine.
        rules: Vec<String>,
        /// Why each cannot stream.
        reasons: Vec<String>,
    },
    /// An input was refused or is not well-formed.
    #[error("{}: {source}", input.display())]
    Xml {
        /// The input.
        input: PathBuf,
        /// Why.
        source: XmlError,
    },
    /// A rule failed on an input.
    #[error("{}: {source}", input.display())]
    Eval {
        /// The input.
        input: PathBuf,
        /// Why.
        source: EvalError,
    },
    /// Two samples for one series.
    #[error(transparent)]
    Duplicate(#[from] Box<DuplicateSeries>),
    /// A templated metric name rendered a name that cannot be used: not a valid name, or a
    /// family another rule defines with another type or help, or the series of a histogram or
    /// summary.
    #[error("{input}: rule {rule} ({template}): {why}")]
    Name {
        /// The input.
        input: String,
        /// The rule, e.g. `metrics[2]`.
        rule: String,
        /// Its name template.
        template: String,
        /// What is wrong.
        why: String,
    },
}

/// What broke the DOM engine's limit: `the file is 3.5 MiB, more than the DOM engine's limit
/// of 1.0 MiB`, or, for an input whose size only the read tells, `more than the DOM engine's
/// limit of 1.0 MiB was read from the input`.
fn dom_excess(size: Option<u64>, limit: u64) -> String {
    match size {
        Some(size) => format!(
            "the file is {}, more than the DOM engine's limit of {}",
            byte_size(size),
            byte_size(limit)
        ),
        None => format!(
            "more than the DOM engine's limit of {} was read from the input",
            byte_size(limit)
        ),
    }
}

/// A byte count for a message: `812 bytes`, `3.5 MiB`.
fn byte_size(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{bytes} bytes")
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    }
}

/// Which rules each engine runs: (streaming, DOM), as indexes into `rules.rules`.
pub fn split_engines(rules: &CompiledRules, engine: Engine) -> (Vec<usize>, Vec<usize>) {
    (0..rules.rules.len()).partition(|&i| engine == Engine::Auto && rules.rules[i].stream.is_ok())
}

/// One line per rule: which engine runs it, and why a rule cannot stream.
pub fn engine_report(rules: &CompiledRules, engine: Engine) -> Vec<String> {
    rules
        .rules
        .iter()
        .map(|rule| {
            let how = match (&rule.stream, engine) {
                (_, Engine::Dom | Engine::XPath) => "DOM engine (--engine dom)".to_owned(),
                (Ok(_), Engine::Auto) => "streaming engine".to_owned(),
                (Err(why), Engine::Auto) => format!("DOM engine, not streamable: {why}"),
            };
            format!("{} ({}): {how}", rule.id, rule.name)
        })
        .collect()
}

/// Where an input's bytes come from.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// A file, read in pieces.
    File(&'a Path),
    /// Bytes in memory.
    Bytes(&'a [u8]),
}

/// Evaluates the rules on one input with the chosen engines.
///
/// A file that changed while it was read ([`XmlError::Changed`]) is read once more, with fresh
/// engines, and a warning says so: what the first read gave may mix old and new content. If it
/// changes again, that is the error.
pub fn evaluate_input(
    rules: &CompiledRules,
    source: Source<'_>,
    input: &Path,
    config: &EngineConfig,
    warnings: &mut Vec<String>,
) -> Result<Vec<RuleSamples>, EngineError> {
    match evaluate_once(rules, &source, input, config) {
        Err(EngineError::Xml {
            source: XmlError::Changed,
            ..
        }) => {
            warnings.push(format!(
                "{}: the input changed while it was read; it was read again (have the program \
                 that writes it write a new file and rename it over this one)",
                input.display()
            ));
            evaluate_once(rules, &source, input, config)
        }
        other => other,
    }
}

/// Inputs smaller than this are scanned on the engine's thread: a second thread would get them
/// in one piece of tape, after the scan, with nothing to overlap.
const SCAN_BESIDE_FROM: u64 = 1 << 20;

/// Whether the streaming engine's input is scanned on a second thread while the engine
/// evaluates what was scanned ([`xml::scan_file_in_parallel`]): when xml2prom may use more than
/// one CPU (the scheduler's affinity mask and a container's CPU quota both count) and the input
/// is not known to be small. On one CPU the two threads would take turns, and the hand-over
/// between them would only cost.
fn scan_beside(source: &Source<'_>) -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if cpus < 2 {
        return false;
    }
    match *source {
        // A FIFO, a pipe or a device says nothing of its size: it may be large.
        Source::File(path) => std::fs::metadata(path)
            .ok()
            .filter(std::fs::Metadata::is_file)
            .is_none_or(|metadata| metadata.len() >= SCAN_BESIDE_FROM),
        Source::Bytes(bytes) => bytes.len() as u64 >= SCAN_BESIDE_FROM,
    }
}

/// Scans an input into the streaming engine, on a second thread when `beside`.
fn scan_streaming(
    source: Source<'_>,
    limits: &XmlLimits,
    engine: &mut StreamEngine<'_>,
    beside: bool,
) -> Result<(), XmlError> {
    match (source, beside) {
        (Source::File(path), true) => xml::scan_file_in_parallel(path, limits, engine),
        (Source::File(path), false) => xml::scan_file(path, limits, engine),
        (Source::Bytes(bytes), true) => xml::scan_in_parallel(bytes, limits, engine),
        (Source::Bytes(bytes), false) => xml::scan(bytes, limits, engine),
    }
}

/// One read of an input and the evaluation of the rules on it, for [`evaluate_input`].
fn evaluate_once(
    rules: &CompiledRules,
    source: &Source<'_>,
    input: &Path,
    config: &EngineConfig,
) -> Result<Vec<RuleSamples>, EngineError> {
    let xml_error = |source| EngineError::Xml {
        input: input.to_owned(),
        source,
    };
    let eval_error = |source| EngineError::Eval {
        input: input.to_owned(),
        source,
    };
    let (mut streaming, mut dom_rules) = split_engines(rules, config.engine);
    // Rules scoped to other inputs (`inputs:`) are not evaluated here: no samples, no
    // `on_empty` sample, no error.
    let reads = |i: &usize| rules.rules.get(*i).is_some_and(|rule| rule.reads(input));
    streaming.retain(reads);
    dom_rules.retain(reads);
    if dom_rules.is_empty() {
        let mut engine =
            StreamEngine::new(rules, &streaming, input).with_subtree_limit(config.max_dom_bytes);
        let beside = scan_beside(source);
        scan_streaming(*source, &config.limits, &mut engine, beside).map_err(xml_error)?;
        return engine.finish().map_err(eval_error);
    }
    let too_large = |size| EngineError::DomTooLarge {
        input: input.to_owned(),
        size,
        limit: config.max_dom_bytes,
        rules: dom_rules
            .iter()
            .map(|&i| rules.rules[i].id.clone())
            .collect(),
        reasons: dom_rules
            .iter()
            .map(|&i| match &rules.rules[i].stream {
                Err(why) => format!("{}: {why}", rules.rules[i].id),
                Ok(_) => {
                    format!("{} (streamable, but --engine dom)", rules.rules[i].id)
                }
            })
            .collect(),
    };
    if let Source::File(path) = *source {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if size > config.max_dom_bytes {
            return Err(too_large(Some(size)));
        }
    }
    // The metadata says nothing of a FIFO, a pipe or a device (0), and a file may grow: the
    // scan that builds the DOM stops one byte past the DOM's limit, whatever the metadata said.
    let dom_limited = config.max_dom_bytes < config.limits.max_bytes;
    let limits = XmlLimits {
        max_bytes: config.limits.max_bytes.min(config.max_dom_bytes),
        ..config.limits.clone()
    };
    // One scan builds the DOM and feeds the streaming engine, if it has rules; the input is
    // read in pieces and never held whole.
    let mut engine = (!streaming.is_empty()).then(|| {
        StreamEngine::new(rules, &streaming, input).with_subtree_limit(config.max_dom_bytes)
    });
    let mut no_sink = xml::NoSink;
    let also: &mut dyn xml::Sink = match &mut engine {
        Some(engine) => engine,
        None => &mut no_sink,
    };
    let package = match *source {
        Source::File(path) => build::load(path, &limits, also),
        Source::Bytes(bytes) => build::parse(bytes, &limits, also),
    }
    .map_err(|error| match error {
        XmlError::TooLarge { .. } if dom_limited => too_large(None),
        error => xml_error(error),
    })?;
    let dom_results = dom::evaluate(
        rules,
        &dom_rules,
        &package.as_document(),
        input,
        config.engine.evaluation(),
    );
    let stream_results = match engine {
        Some(engine) => engine.finish(),
        None => Ok(Vec::new()),
    };
    // Report the error of the first failing rule in file order, as one engine would.
    let position = |error: &EvalError| rules.rules.iter().position(|r| r.id == error.rule);
    match (dom_results, stream_results) {
        (Ok(mut a), Ok(b)) => {
            a.extend(b);
            a.sort_by_key(|r| r.rule);
            Ok(a)
        }
        (Err(a), Err(b)) => Err(eval_error(if position(&b) < position(&a) { b } else { a })),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(eval_error(e)),
    }
}

/// The engine settings of a run.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Limits on each input.
    pub limits: XmlLimits,
    /// The engine choice.
    pub engine: Engine,
    /// The largest input the DOM engine may load.
    pub max_dom_bytes: u64,
}

/// Adds one input's results to the families, and a warning per rule that skipped nodes.
pub fn add_results(
    families: &mut Families,
    rules: &CompiledRules,
    results: Vec<RuleSamples>,
    input: &Path,
    warnings: &mut Vec<String>,
) -> Result<(), EngineError> {
    let input: std::sync::Arc<str> = input.display().to_string().into();
    for result in results {
        let rule = &rules.rules[result.rule];
        if let Some(report) = result.skips.report().filter(|_| !rule.quiet) {
            warnings.push(format!(
                "{input}: rule {} ({}): {report}",
                rule.id, rule.name
            ));
        }
        let origin = Origin {
            rule: rule.id.as_str().into(),
            input: input.clone(),
        };
        match rule.name.fixed() {
            Some(name) => {
                families.add_all(name, &rule.help, rule.kind, result.samples, origin)?;
            }
            None => add_templated(families, rules, rule, result.samples, origin)?,
        }
    }
    Ok(())
}

/// Adds the samples of a rule with a templated name: split into families by the name each
/// sample rendered (the pseudo-label [`LabelName::metric_name`]), each name checked once as
/// the compiler checks a fixed name: valid, not xml2prom's own prefix, of the type and help of
/// every other rule giving that family, and not a series of a histogram or summary.
fn add_templated(
    families: &mut Families,
    rules: &CompiledRules,
    rule: &CompiledRule,
    samples: Samples,
    origin: Origin,
) -> Result<(), EngineError> {
    let mut by_name: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for sample in samples.to_vec() {
        let mut name = String::new();
        let pairs: Vec<(String, String)> = sample
            .labels
            .pairs()
            .filter_map(|(label, value)| {
                if label == METRIC_NAME_LABEL {
                    name = value.into_owned();
                    None
                } else {
                    Some((label.into_owned(), value.into_owned()))
                }
            })
            .collect();
        by_name.entry(name).or_default().push(Sample {
            labels: LabelSet::new(pairs),
            value: sample.value,
        });
    }
    let fail = |why: String| EngineError::Name {
        input: origin.input.to_string(),
        rule: rule.id.clone(),
        template: rule.name.as_str().to_owned(),
        why,
    };
    for (name, samples) in by_name {
        let metric =
            rendered_name(&name).map_err(|why| fail(format!("the name template gave {why}")))?;
        family_conflict(families, rules, rule, &name).map_err(fail)?;
        families.add_all(
            &metric,
            &rule.help,
            rule.kind,
            Samples::from(samples),
            origin.clone(),
        )?;
    }
    Ok(())
}

/// Why a templated rule cannot add samples to the family `name`: another rule gives that
/// family with another type or help, or `name` is a series of a histogram or summary.
fn family_conflict(
    families: &Families,
    rules: &CompiledRules,
    rule: &CompiledRule,
    name: &str,
) -> Result<(), String> {
    let differs = |other_kind: MetricType, other_help: &str| {
        let mut what = Vec::new();
        if other_kind != rule.kind {
            what.push(format!("type `{other_kind}` (here `{}`)", rule.kind));
        }
        if other_help != rule.help {
            what.push(format!("help {other_help:?} (here {:?})", rule.help));
        }
        (!what.is_empty()).then(|| what.join(" and "))
    };
    let conflict = |other: &str, what: String| {
        format!(
            "the name template gave `{name}`, which {other} also defines with {what}; rules that \
             share a metric name must agree on type and help"
        )
    };
    for other in rules.rules.iter().filter(|other| other.index != rule.index) {
        let Some(fixed) = other.name.fixed() else {
            continue;
        };
        if fixed.as_str() == name
            && let Some(what) = differs(other.kind, &other.help)
        {
            return Err(conflict(&format!("rule {} ({fixed})", other.id), what));
        }
        let suffixes: &[&str] = match other.kind {
            MetricType::Histogram => &["_bucket", "_sum", "_count"],
            MetricType::Summary => &["_sum", "_count"],
            MetricType::Gauge | MetricType::Counter => &[],
        };
        if suffixes
            .iter()
            .any(|suffix| name.strip_suffix(suffix) == Some(fixed.as_str()))
        {
            return Err(format!(
                "the name template gave `{name}`, which collides with the series of the {} \
                 `{fixed}` of rule {}; change the template",
                other.kind, other.id
            ));
        }
    }
    if let Some((family, first)) = families.family_named(name)
        && let Some(what) = differs(family.kind, &family.help)
    {
        let other = first.map_or_else(
            || "another rule".to_owned(),
            |first| format!("rule {}", first.rule),
        );
        return Err(conflict(&other, what));
    }
    Ok(())
}

/// Evaluates the rules against every input and gathers the families.
pub fn collect(
    rules: &CompiledRules,
    inputs: &[PathBuf],
    config: &EngineConfig,
    warnings: &mut Vec<String>,
) -> Result<Families, EngineError> {
    let mut families = Families::new();
    for input in inputs {
        let results = evaluate_input(rules, Source::File(input), input, config, warnings)?;
        add_results(&mut families, rules, results, input, warnings)?;
    }
    Ok(families)
}

/// Evaluates the rules on one input's bytes with the chosen engine, without the DOM engine's
/// size limit, and gathers the families, with the warnings a run would print (rules that
/// skipped nodes).
pub fn evaluate_bytes(
    rules: &CompiledRules,
    bytes: &[u8],
    input: &Path,
    limits: &XmlLimits,
    engine: Engine,
    warnings: &mut Vec<String>,
) -> Result<Families, EngineError> {
    let config = EngineConfig {
        limits: limits.clone(),
        engine,
        max_dom_bytes: u64::MAX,
    };
    let results = evaluate_input(rules, Source::Bytes(bytes), input, &config, warnings)?;
    let mut families = Families::new();
    add_results(&mut families, rules, results, input, warnings)?;
    Ok(families)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample::LabelSet;
    use crate::rules::{compile, file};

    const RULES: &str = r#"
version: 1
metrics:
  - name: rows
    help: Rows per kind
    type: gauge
    select: //row[@status = 'failed']
    fields: { kind: "@kind", rack: "../@id" }
    labels: { kind: "{{ kind }}", rack: "{{ rack }}" }
    aggregate: count
  - name: size_bytes
    help: Size of each row
    type: gauge
    select: /store/rack/row
    fields: { id: "@id" }
    labels: { id: "{{ id }}" }
    value: "@size"
  - name: notes
    help: Notes per row, from the subtree
    type: gauge
    select: //row[note]
    fields: { id: "@id" }
    labels: { id: "{{ id }}" }
    value: "count(note) + string-length(normalize-space(.))"
"#;

    /// A store of about `rows` × 110 bytes, every row different.
    fn store(rows: usize) -> String {
        let mut xml = String::from("<store>\n<rack id=\"r1\">\n");
        for i in 0..rows {
            let status = if i % 7 == 0 { "failed" } else { "ok" };
            let note = if i % 5 == 0 {
                "<note>a &amp; b</note>"
            } else {
                ""
            };
            xml.push_str(&format!(
                "  <row id=\"{i}\" kind=\"k{}\" size=\"{}\" status=\"{status}\">row {i}{note}</row>\n",
                i % 13,
                i * 7 % 1000
            ));
            if i % 1000 == 999 {
                xml.push_str(&format!("</rack>\n<rack id=\"r{}\">\n", i / 1000 + 2));
            }
        }
        xml.push_str("</rack>\n</store>\n");
        xml
    }

    /// What the streaming engine makes of `xml` with the scan on this thread or beside it: its
    /// results or its error, written out.
    fn streamed(xml: &str, beside: bool, subtree_limit: u64) -> String {
        let rules = compile::compile(file::parse(RULES).expect("valid YAML")).expect("valid rules");
        let which: Vec<usize> = (0..rules.rules.len()).collect();
        let input = Path::new("/srv/store.xml");
        let mut engine = StreamEngine::new(&rules, &which, input).with_subtree_limit(subtree_limit);
        let limits = XmlLimits::default();
        if let Err(error) =
            scan_streaming(Source::Bytes(xml.as_bytes()), &limits, &mut engine, beside)
        {
            return format!("scan: {error}");
        }
        match engine.finish() {
            Ok(results) => format!("{results:?}"),
            Err(error) => format!("rules: {error}"),
        }
    }

    #[test]
    fn the_scan_beside_the_engine_gives_what_the_scan_on_its_thread_gives() {
        let xml = store(30_000);
        assert!(
            xml.len() as u64 > 2 * SCAN_BESIDE_FROM,
            "{} bytes",
            xml.len()
        );
        let here = streamed(&xml, false, u64::MAX);
        assert!(
            here.contains("k12") && !here.starts_with("scan"),
            "{here:.300}"
        );
        assert_eq!(streamed(&xml, true, u64::MAX), here);
        // A problem near the end, found by the scan while the engine is behind it.
        let broken = xml.replace("</store>", "</stor>");
        let here = streamed(&broken, false, u64::MAX);
        assert!(here.starts_with("scan: "), "{here:.300}");
        assert_eq!(streamed(&broken, true, u64::MAX), here);
        // A problem the engine finds.
        let here = streamed(&xml, false, 64);
        assert!(here.starts_with("rules: "), "{here:.300}");
        assert_eq!(streamed(&xml, true, 64), here);
    }

    /// What the streaming engine makes of `xml` with `rules` and a limit on what it buffers.
    fn streamed_with(rules: &str, xml: &str, limit: u64) -> String {
        let rules = compile::compile(file::parse(rules).expect("valid YAML")).expect("valid rules");
        let which: Vec<usize> = (0..rules.rules.len()).collect();
        let input = Path::new("/srv/store.xml");
        let mut engine = StreamEngine::new(&rules, &which, input).with_subtree_limit(limit);
        let limits = XmlLimits::default();
        if let Err(error) =
            scan_streaming(Source::Bytes(xml.as_bytes()), &limits, &mut engine, false)
        {
            return format!("scan: {error}");
        }
        match engine.finish() {
            Ok(results) => format!("{results:?}"),
            Err(error) => format!("rules: {error}"),
        }
    }

    #[test]
    fn records_waiting_for_an_ancestors_child_are_bounded() {
        const RULES: &str = r#"
version: 1
metrics:
  - name: rows
    help: Rows per rack
    type: gauge
    select: //row
    fields: { rack: "../name" }
    labels: { rack: "{{ rack }}" }
    aggregate: count
  - name: sizes
    help: Size of each row
    type: gauge
    select: //row
    fields: { id: "@id", text: "." }
    labels: { id: "{{ id }}", text: "{{ text }}" }
    value: "@size"
"#;
        let rows: String = (0..5000)
            .map(|i| format!("<row id=\"{i}\" size=\"{i}\">row {i}</row>\n"))
            .collect();
        let limit = 64 * 1024;
        // The name first: nothing waits.
        let first = format!("<store><rack><name>r1</name>{rows}</rack></store>");
        let got = streamed_with(RULES, &first, limit);
        assert!(
            got.contains("r1") && !got.starts_with("rules"),
            "{got:.300}"
        );
        // The name last: the rows wait for it, and with them the other rule's rows.
        let last = format!("<store><rack>{rows}<name>r1</name></rack></store>");
        assert_eq!(streamed_with(RULES, &last, u64::MAX), got);
        let got = streamed_with(RULES, &last, limit);
        assert_eq!(
            got,
            "rules: rule metrics[0] (rows) at /store/rack[1]/row[1]: `fields.rack: ../name` reads \
             an element that comes after the selected elements in their ancestor, and the \
             elements waiting for it take more than --max-dom-bytes (65536 bytes) in memory; \
             put that element before them in the store (e.g. the name first), raise \
             --max-dom-bytes, or use --engine dom"
        );
        // The child's own text is bounded too.
        let long = format!(
            "<store><rack><name>{}</name><row id=\"1\" size=\"1\"/></rack></store>",
            "x".repeat(100_000)
        );
        let got = streamed_with(RULES, &long, limit);
        assert_eq!(
            got,
            "rules: rule metrics[0] (rows) at /store/rack[1]/name[1]: `fields.rack: ../name` reads an \
             element whose text takes more than --max-dom-bytes (65536 bytes) in memory; read a \
             smaller element or raise --max-dom-bytes"
        );
    }

    /// The families each engine makes of `xml` with `rules` (name, type, series), with the
    /// warnings, or the error; the same for every engine.
    fn families_of(rules: &str, xml: &str) -> Result<(Vec<String>, Vec<String>), String> {
        let rules = compile::compile(file::parse(rules).expect("valid YAML")).expect("valid rules");
        let mut seen = None;
        for engine in [Engine::Auto, Engine::Dom, Engine::XPath] {
            let mut warnings = Vec::new();
            let got = evaluate_bytes(
                &rules,
                xml.as_bytes(),
                Path::new("box.xml"),
                &XmlLimits::default(),
                engine,
                &mut warnings,
            )
            .map(|families| {
                let names = families
                    .iter()
                    .map(|family| {
                        let series: Vec<String> = family
                            .sorted()
                            .map(|(key, value)| format!("{}={value:?}", LabelSet::from_key(key)))
                            .collect();
                        format!("{} {} {}", family.name, family.kind, series.join(" "))
                    })
                    .collect();
                (names, warnings)
            })
            .map_err(|error| error.to_string());
            if let Some(seen) = &seen {
                assert_eq!(&got, seen, "{engine:?}");
            }
            seen = Some(got);
        }
        seen.unwrap_or_else(|| Err("no engine".to_owned()))
    }

    const BOX: &str = "<box><c name='BytesSent' if='wan'>10</c><c name='BytesReceived' \
                       if='wan'>20</c><c name='BytesSent' if='lan'>3</c><c name='Bad-One' \
                       if='lan'>4</c></box>";

    #[test]
    fn a_templated_name_gives_a_family_per_rendered_name() {
        let rules = "version: 1\nmetrics:\n\
            - { name: 'box_{{ name | snake_case }}_total', help: Bytes, type: counter, \
                select: /box/c, fields: { name: '@name', iface: '@if' }, labels: { if: '{{ iface }}' }, \
                value: . }\n\
            - { name: box_bytes_sent_total, help: Bytes, type: counter, value: '1', \
                labels: { if: all } }\n";
        let (families, warnings) = families_of(rules, BOX).expect("runs");
        assert_eq!(
            families,
            [
                "box_bad_one_total counter {if=\"lan\"}=Single(4.0)",
                "box_bytes_received_total counter {if=\"wan\"}=Single(20.0)",
                "box_bytes_sent_total counter {if=\"all\"}=Single(1.0) {if=\"lan\"}=Single(3.0) \
                 {if=\"wan\"}=Single(10.0)",
            ]
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn an_invalid_rendered_name_fails_or_is_skipped() {
        let rule = "version: 1\nmetrics:\n\
            - { name: 'box_{{ name }}', help: Bytes, type: gauge, select: /box/c, \
                fields: { name: '@name', iface: '@if' }, labels: { if: '{{ iface }}' }, value: .POLICY }\n";
        let error = families_of(&rule.replace("POLICY", ""), BOX).expect_err("invalid name");
        assert_eq!(
            error,
            "box.xml: rule metrics[0] (box_{{ name }}) at /box/c[4]: the name template gave \
             `box_Bad-One`, which is not a valid metric name (letters, digits, `_` and `:`, not \
             starting with a digit); change the template, or leave such nodes out with \
             `on_invalid: skip`"
        );
        let (families, warnings) =
            families_of(&rule.replace("POLICY", ", on_invalid: skip"), BOX).expect("skips");
        assert_eq!(families.len(), 2, "{families:?}");
        assert_eq!(
            warnings,
            [
                "box.xml: rule metrics[0] (box_{{ name }}): skipped 1 node (invalid 1), first \
                 /box/c[4]: the name template gave `box_Bad-One`, which is not a valid metric \
                 name (letters, digits, `_` and `:`, not starting with a digit)"
            ]
        );
    }

    #[test]
    fn rendered_names_must_agree_with_other_rules_and_not_clash() {
        let templated = "- { name: 'box_{{ name | snake_case }}', help: Bytes, type: gauge, \
                         select: \"/box/c[@if = 'wan']\", fields: { name: '@name' }, value: . }\n";
        let run = |other: &str| {
            families_of(&format!("version: 1\nmetrics:\n{templated}{other}"), BOX)
                .map(|(families, _)| families.len())
        };
        // The same type and help: one family.
        assert_eq!(
            run(
                "- { name: box_bytes_sent, help: Bytes, type: gauge, value: '1', labels: { a: b } }\n"
            ),
            Ok(2)
        );
        assert_eq!(
            run("- { name: box_bytes_sent, help: Sent, type: counter, value: '1' }\n"),
            Err(
                "box.xml: rule metrics[0] (box_{{ name | snake_case }}): the name template gave \
                 `box_bytes_sent`, which rule metrics[1] (box_bytes_sent) also defines with type \
                 `counter` (here `gauge`) and help \"Sent\" (here \"Bytes\"); rules that share a \
                 metric name must agree on type and help"
                    .to_owned()
            )
        );
        // Two templated rules meet in a family.
        assert_eq!(
            run(
                "- { name: 'box_{{ name | snake_case }}', help: Other, type: gauge, \
                 select: \"/box/c[@if = 'lan']\", fields: { name: '@name' }, value: ., \
                 labels: { lan: x } }\n"
            ),
            Err(
                "box.xml: rule metrics[1] (box_{{ name | snake_case }}): the name template gave \
                 `box_bytes_sent`, which rule metrics[0] also defines with help \"Bytes\" (here \
                 \"Other\"); rules that share a metric name must agree on type and help"
                    .to_owned()
            )
        );
        assert_eq!(
            run(
                "- { name: box_bytes, help: h, type: summary, select: /box/c, value: ., \
                 quantiles: [0.5] }\n"
            ),
            Ok(3)
        );
        let clash = "- { name: box_bytes, help: h, type: histogram, select: /box/c, value: ., \
                     buckets: [1] }\n";
        let templated_count = templated.replace("box_{{", "box_bytes_{{").replace(
            "select: \"/box/c[@if = 'wan']\", fields: { name: '@name' }",
            "select: \"/box/c[1]\", fields: { name: \"'count'\" }",
        );
        assert_eq!(
            families_of(
                &format!("version: 1\nmetrics:\n{templated_count}{clash}"),
                BOX
            )
            .map(|(families, _)| families.len()),
            Err(
                "box.xml: rule metrics[0] (box_bytes_{{ name | snake_case }}): the name template \
                 gave `box_bytes_count`, which collides with the series of the histogram \
                 `box_bytes` of rule metrics[1]; change the template"
                    .to_owned()
            )
        );
    }

    #[test]
    fn two_nodes_of_one_rendered_series_are_a_duplicate_named_as_a_series() {
        let rules = "version: 1\nmetrics:\n\
            - { name: 'box_{{ name | snake_case }}', help: h, type: gauge, select: /box/c, \
                fields: { name: '@name' }, value: . }\n";
        assert_eq!(
            families_of(rules, BOX),
            Err(
                "box.xml: rule metrics[0] (box_{{ name | snake_case }}) at /box/c[3]: this node \
                 and /box/c[1] both give the series box_bytes_sent{}; add a label that tells them \
                 apart, an `aggregate`, or `on_duplicate: first`, `last` or `sum`"
                    .to_owned()
            )
        );
    }

    #[test]
    fn a_document_level_name_template_is_checked_too() {
        let rules = "version: 1\nmetrics:\n\
            - { name: 'box_{{ input.name | replace(\".\", \"_\") }}', help: h, type: gauge, \
                value: count(/box/c) }\n\
            - { name: 'box_{{ input.name }}', help: h, type: gauge, value: count(/box/c) }\n";
        assert_eq!(
            families_of(rules, BOX),
            Err(
                "box.xml: rule metrics[1] (box_{{ input.name }}): the name template gave \
                 `box_box.xml`, which is not a valid metric name (letters, digits, `_` and `:`, \
                 not starting with a digit)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn small_inputs_are_scanned_on_the_engine_thread() {
        assert!(!scan_beside(&Source::Bytes(b"<a/>")));
        let large = vec![b' '; SCAN_BESIDE_FROM as usize];
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        assert_eq!(scan_beside(&Source::Bytes(&large)), cpus > 1);
    }
}
