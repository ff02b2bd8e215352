//! Init: a sample store to a draft rule file (the `init` subcommand).
//!
//! [`init`] surveys the sample once through the same checked scan as `run`, so a hostile or
//! broken sample is refused exactly as `run` refuses it (`survey.rs`), drafts rules from what
//! the sample holds (`draft.rs`) and writes them as YAML (`yaml.rs`).
//!
//! The draft is loaded and compiled before it is written: a draft that does not load is our
//! bug, reported as such instead of being handed to the user.

use std::fmt;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::commands::check::{self, Samples};
use crate::commands::{Report, fail};
use crate::engine::{Engine, EngineConfig};
use crate::output::{self, Destination, WriteError};
use crate::rules::compile::CompiledRules;
use crate::rules::compile::{self, SELF_METRICS_PREFIX};
use crate::rules::diagnostic::{FieldPath, PathSegment};
use crate::rules::file;
use crate::rules::lints;
use crate::xml::{self, XmlError, XmlLimits};

mod draft;
mod survey;
mod yaml;

use draft::{Header, draft, snake_case};
use survey::Survey;

/// The largest sample the draft's own check loads into the DOM engine, as `run`'s default
/// `--max-dom-bytes`: a larger one is checked by the streaming engine only, or not at all.
const CHECK_MAX_DOM_BYTES: u64 = 256 << 20;

/// What `init` needs, checked.
#[derive(Debug, Clone)]
pub struct InitConfig {
    /// The sample stores, at least one; several are merged into one draft.
    pub samples: Vec<PathBuf>,
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
    /// A later sample has another root element than the first.
    #[error(
        "{}: its root element is <{root}>, not <{first}> as in {}: give samples of one tool \
         only, and run init once per tool",
        sample.display(),
        first_sample.display()
    )]
    OtherRoot {
        /// The sample.
        sample: PathBuf,
        /// Its root element.
        root: String,
        /// The first sample.
        first_sample: PathBuf,
        /// Its root element.
        first: String,
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

impl Report for InitError {
    fn report(&self) -> String {
        format!("xml2prom: error: {self}\n")
    }

    /// 2 when the command line must change (the output exists), 1 otherwise.
    fn exit_code(&self) -> u8 {
        match self {
            InitError::OutputExists { .. } => 2,
            _ => 1,
        }
    }
}

/// `init`: the draft written, or the error's report and exit code.
pub fn execute(config: &InitConfig) -> ExitCode {
    match init(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
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
    let first = config.samples.first().ok_or_else(|| InitError::Bug {
        message: "no sample given".to_owned(),
    })?;
    let mut survey = Survey::default();
    for sample in &config.samples {
        // The scan's messages for a missing file or a directory point at `run`'s --input.
        match std::fs::metadata(sample) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(InitError::Sample {
                    sample: sample.clone(),
                    why: "it does not exist; check the SAMPLE path",
                });
            }
            Ok(metadata) if metadata.is_dir() => {
                return Err(InitError::Sample {
                    sample: sample.clone(),
                    why: "it is a directory; give the path of an XML file as SAMPLE",
                });
            }
            _ => {}
        }
        survey.next_sample();
        xml::scan_file(sample, &config.limits, &mut survey).map_err(|source| InitError::Xml {
            sample: sample.clone(),
            source,
        })?;
        if let Some(root) = survey.other_root.take() {
            let first_root = survey.root.map(|r| survey.paths[r].written.clone());
            return Err(InitError::OtherRoot {
                sample: sample.clone(),
                root,
                first_sample: first.clone(),
                first: first_root.unwrap_or_default(),
            });
        }
    }
    let rules_path = match &config.output {
        Destination::File(path) => path.display().to_string(),
        Destination::Stdout => "rules.yaml".to_owned(),
    };
    let header = Header {
        samples: &config.samples,
        prefix: config.prefix.as_ref(),
        rules: &rules_path,
    };
    let mut drafted = draft(&survey, &header).ok_or_else(|| InitError::NothingToMeasure {
        sample: first.clone(),
    })?;
    let samples = Samples {
        inputs: config.samples.clone(),
        engine: EngineConfig {
            limits: config.limits.clone(),
            engine: Engine::Auto,
            max_dom_bytes: CHECK_MAX_DOM_BYTES,
        },
    };
    let text = pass_own_check(&mut drafted, &header, &samples)?;
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
fn check_draft(text: &str) -> Result<CompiledRules, InitError> {
    let rules = file::parse(text).map_err(|(message, _)| InitError::Bug { message })?;
    compile::compile(rules).map_err(|errors| InitError::Bug {
        message: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// The index of the rule a lint or failure is about, from its path `metrics[3]...`.
fn rule_index(path: &FieldPath) -> Option<usize> {
    match path.0.as_slice() {
        [PathSegment::Key(key), PathSegment::Index(index), ..] if key == "metrics" => Some(*index),
        _ => None,
    }
}

/// Makes the draft pass `xml2prom check --strict DRAFT --input SAMPLE` for every sample: a
/// rule that fails on a sample is left out (and the header says so), and each lint the
/// draft cannot avoid (a unit it does not know, a name taken from the sample) is silenced on
/// its rule with `allow_lints:` and the lint's message as the reason. Returns the text.
fn pass_own_check(
    drafted: &mut draft::Draft<'_>,
    header: &Header<'_>,
    samples: &Samples,
) -> Result<String, InitError> {
    for _ in 0..3 {
        let rules = check_draft(&draft::text(drafted, header))?;
        let (_, failures) = check::on_samples(&rules, samples);
        let mut failed: Vec<usize> = failures
            .iter()
            .filter_map(|(path, _)| path.as_ref().and_then(rule_index))
            .collect();
        if failed.is_empty() {
            break;
        }
        failed.sort_unstable();
        failed.dedup();
        for index in failed.into_iter().rev() {
            if index < drafted.rules.len() {
                let rule = drafted.rules.remove(index);
                drafted
                    .notes
                    .push(format!("`{}`, which fails on a sample", rule.name));
            }
        }
        if drafted.rules.is_empty() {
            return Err(InitError::NothingToMeasure {
                sample: header.samples.first().cloned().unwrap_or_default(),
            });
        }
    }
    let rules = check_draft(&draft::text(drafted, header))?;
    let (input_lints, _) = check::on_samples(&rules, samples);
    for lint in lints::lint(&rules).into_iter().chain(input_lints) {
        if let Some(rule) = rule_index(&lint.path).and_then(|i| drafted.rules.get_mut(i))
            && !rule.allow_lints.iter().any(|(code, _)| *code == lint.code)
        {
            rule.allow_lints.push((lint.code, lint.message.clone()));
        }
    }
    let text = draft::text(drafted, header);
    check_draft(&text)?;
    Ok(text)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::run;
    use crate::engine::Engine;
    use proptest::prelude::*;
    use std::fmt::Write as _;

    /// The survey of an XML text.
    pub(super) fn survey(xml: &str) -> Survey {
        let mut survey = Survey::default();
        xml::scan(xml.as_bytes(), &XmlLimits::default(), &mut survey).expect("a valid sample");
        survey
    }

    pub(super) fn draft_with(xml: &str, prefix: Option<&str>) -> String {
        let prefix = prefix.map(|p| MetricPrefix::parse(p).expect("valid prefix"));
        let samples = [PathBuf::from("sample.xml")];
        let header = Header {
            samples: &samples,
            prefix: prefix.as_ref(),
            rules: "rules.yaml",
        };
        let surveyed = survey(xml);
        let drafted = draft(&surveyed, &header).expect("something to measure");
        draft::text(&drafted, &header)
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
        let rules = match crate::rules::load(&path, &Default::default()) {
            Ok(rules) => rules,
            Err(err) => {
                let report = err.report();
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
            "  - name: store_info\n",
            "      version: \"@version\"\n",
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
        // A version is a label of an info metric, not a number to graph.
        assert_eq!(
            series(&out, r#"store_info{version="3"}"#),
            Some(1.0),
            "{out}"
        );
        // Identifiers are not summed.
        assert!(!out.contains("store_row_id"), "{out}");
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
        // `summary` is a metric type, which promtool refuses in a name: the word goes.
        assert_eq!(series(&out, "inventory_total_value"), Some(14.0), "{out}");
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
    fn undeclared_and_reserved_prefixes_are_left_out() {
        // `xml:lang` is in the XML namespace, which rule files cannot bind.
        let xml = r#"<s><r xml:lang="en" k="a" n="1"/><r xml:lang="de" k="a" n="2"/><r xml:lang="en" k="b" n="3"/><r xml:lang="de" k="b" n="4"/></s>"#;
        let yaml = draft_of(xml);
        assert!(!yaml.contains("lang"), "{yaml}");
        let out = load_and_run(xml, &yaml);
        assert_eq!(series(&out, r#"s_r_n_by_k{k="b"}"#), Some(7.0), "{out}");
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

    proptest! {
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
