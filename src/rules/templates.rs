//! Labels: the minijinja environment and label rendering.
//!
//! Every label template of a rule file is compiled once into one [`Templates`] environment and
//! rendered per node (rule labels) or per input (top-level labels). Values given with
//! `--var KEY=VALUE` are a global of that environment, `vars`, so every template sees them as
//! `{{ vars.KEY }}` without the engines passing them along. The environment never
//! escapes (label values are escaped by the exposition writer, not as HTML), treats undefined
//! variables as errors, and bounds the work one render may do, so a template cannot hang a run.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

/// How much work one template render may do (minijinja fuel, roughly instructions). Label
/// templates are short; this only stops runaway loops such as `{% for i in range(10**9) %}`.
const FUEL_PER_RENDER: u64 = 100_000;

/// The name a template was registered under (its field path in the rule file).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateId(String);

impl TemplateId {
    /// The template's field path, e.g. `metrics[1].labels.kind`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// All label templates of a rule file, compiled.
pub struct Templates {
    env: Environment<'static>,
    /// Templates that are exactly `{{ name }}`, by id: rendered by looking the variable up,
    /// without running minijinja (the common case, and the hot path with many series).
    direct: std::collections::HashMap<String, String>,
    /// The keys of `vars`.
    vars: Vec<String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

impl Templates {
    /// An environment whose templates see `vars` as `{{ vars.KEY }}`.
    pub fn with_vars(vars: &BTreeMap<String, String>) -> Templates {
        let mut templates = Templates::new();
        templates.env.add_global("vars", Value::from(vars.clone()));
        templates.vars = vars.keys().cloned().collect();
        templates
    }

    /// Whether `--var KEY=...` gave `key`.
    pub fn has_var(&self, key: &str) -> bool {
        self.vars.iter().any(|var| var == key)
    }

    /// The keys of `vars`, sorted.
    pub fn var_keys(&self) -> &[String] {
        &self.vars
    }

    /// An empty environment configured for label values; `vars` is empty.
    pub fn new() -> Templates {
        let mut env = Environment::new();
        // Template names are field paths; one ending in `.xml` or `.html` would otherwise turn
        // on HTML escaping and put `&amp;` into label values.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL_PER_RENDER));
        env.set_recursion_limit(50);
        env.add_global("vars", Value::from(BTreeMap::<String, String>::new()));
        env.add_filter("snake_case", snake_case);
        Templates {
            env,
            direct: std::collections::HashMap::new(),
            vars: Vec::new(),
        }
    }

    /// Compiles a template; returns its id and the variables it uses (attribute lookups as
    /// `input.path`).
    pub fn add(&mut self, name: String, source: &str) -> Result<(TemplateId, Vec<String>), String> {
        self.env
            .add_template_owned(name.clone(), source.to_owned())
            .map_err(|err| crate::rules::file::template_error(&err))?;
        let template = self
            .env
            .get_template(&name)
            .map_err(|err| crate::rules::file::template_error(&err))?;
        let mut variables: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        variables.sort();
        if let Some(variable) = plain_variable(source) {
            self.direct.insert(name.clone(), variable.to_owned());
        }
        Ok((TemplateId(name), variables))
    }

    /// The variables a registered template uses (as [`Templates::add`] returns them).
    pub fn variables(&self, id: &TemplateId) -> Vec<String> {
        let mut variables: Vec<String> = self
            .env
            .get_template(id.as_str())
            .map(|t| t.undeclared_variables(true).into_iter().collect())
            .unwrap_or_default();
        variables.sort();
        variables
    }

    /// The variable of a registered template that is exactly `{{ name }}`, if it is one.
    pub fn plain_variable(&self, id: &TemplateId) -> Option<&str> {
        self.direct.get(id.as_str()).map(String::as_str)
    }

    /// Renders a registered template with a context.
    pub fn render(&self, id: &TemplateId, context: &Value) -> Result<String, String> {
        if let Some(variable) = self.direct.get(id.as_str())
            && let Ok(value) = context.get_attr(variable)
            && let Some(text) = value.as_str()
        {
            return Ok(text.to_owned());
        }
        let template = self
            .env
            .get_template(id.as_str())
            .map_err(|err| crate::rules::file::template_error(&err))?;
        template
            .render(context)
            .map_err(|err| crate::rules::file::template_error(&err))
    }
}

/// The `snake_case` filter: words of CamelCase, digits and separators, lower case, joined by
/// `_` (`NewTotalBytesReceived` gives `new_total_bytes_received`, `X_AVM-DE_HTTPPort` gives
/// `x_avm_de_http_port`), so an element's name can become part of a metric name.
pub fn snake_case(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        let previous = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let starts_word = c.is_uppercase()
            && previous.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_numeric()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if starts_word && !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    while out.ends_with('_') && !text.ends_with('_') {
        out.pop();
    }
    out
}

/// The variable of a template that is exactly `{{ name }}` (spaces allowed), if it is one.
fn plain_variable(source: &str) -> Option<&str> {
    let inner = source.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let mut chars = inner.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(inner)
}

/// The `input` variable of templates: `path` as given, file `name`, and `dir`.
pub fn input_value(path: &Path) -> Value {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path
        .parent()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut map = BTreeMap::new();
    map.insert("path", Value::from(path.to_string_lossy().into_owned()));
    map.insert("name", Value::from(name));
    map.insert("dir", Value::from(dir));
    Value::from(map)
}

/// The context of a rule label: the rule's fields and `input`.
pub fn context<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>, input: &Value) -> Value {
    let mut map: BTreeMap<&str, Value> = fields
        .into_iter()
        .map(|(name, value)| (name, Value::from(value)))
        .collect();
    map.insert("input", input.clone());
    Value::from(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, fields: &[(&str, &str)]) -> Result<String, String> {
        let mut templates = Templates::new();
        let (id, _) = templates.add("labels.xml".into(), source)?;
        let input = input_value(Path::new("/srv/app/store.xml"));
        templates.render(&id, &context(fields.iter().copied(), &input))
    }

    #[test]
    fn renders_fields_and_input_without_escaping() {
        assert_eq!(
            render(
                "{{ kind }}@{{ input.name }} in {{ input.dir }}",
                &[("kind", "a&b<\"c\">")]
            ),
            Ok("a&b<\"c\">@store.xml in /srv/app".to_owned())
        );
        assert_eq!(
            render("{{ input.path }}", &[]),
            Ok("/srv/app/store.xml".to_owned())
        );
    }

    #[test]
    fn plain_variables_render_without_minijinja_and_the_same() {
        assert_eq!(plain_variable("{{ kind }}"), Some("kind"));
        assert_eq!(plain_variable("{{kind}}"), Some("kind"));
        assert_eq!(plain_variable("{{ kind | upper }}"), None);
        assert_eq!(plain_variable("x{{ kind }}"), None);
        assert_eq!(plain_variable("{{ input.path }}"), None);
        assert_eq!(
            render("{{ kind }}", &[("kind", "a&b \"q\"")]),
            Ok("a&b \"q\"".to_owned())
        );
        let err = render("{{ kidn }}", &[("kind", "a")]).expect_err("still strict");
        assert!(err.contains("undefined"), "{err}");
    }

    #[test]
    fn snake_case_splits_camel_case_words() {
        for (text, expected) in [
            ("NewTotalBytesReceived", "new_total_bytes_received"),
            ("NewByteSendRate", "new_byte_send_rate"),
            (
                "NewLayer1UpstreamMaxBitRate",
                "new_layer1_upstream_max_bit_rate",
            ),
            ("X_AVM-DE_HTTPPort", "x_avm_de_http_port"),
            ("already_snake", "already_snake"),
            ("HTTP", "http"),
            ("a  b", "a_b"),
            ("", ""),
            ("-", ""),
        ] {
            assert_eq!(snake_case(text), expected, "{text}");
        }
        assert_eq!(
            render("x_{{ name | snake_case }}", &[("name", "NewPacketsSent")]),
            Ok("x_new_packets_sent".to_owned())
        );
    }

    #[test]
    fn filters_work() {
        assert_eq!(
            render("{{ kind | upper }}", &[("kind", "a")]),
            Ok("A".to_owned())
        );
    }

    #[test]
    fn undefined_variables_are_errors() {
        let err = render("{{ kidn }}", &[("kind", "a")]).expect_err("strict undefined");
        assert!(err.contains("undefined"), "{err}");
        let err = render("{{ input.paht }}", &[]).expect_err("strict undefined attribute");
        assert!(err.contains("undefined"), "{err}");
    }

    #[test]
    fn runaway_templates_stop() {
        let err = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            &[],
        )
        .expect_err("out of fuel");
        assert!(err.contains("fuel"), "{err}");
    }

    #[test]
    fn vars_are_visible_in_every_template() {
        let vars = BTreeMap::from([("site".to_owned(), "paris \"1\"".to_owned())]);
        let mut templates = Templates::with_vars(&vars);
        assert!(templates.has_var("site") && !templates.has_var("team"));
        let (id, variables) = templates
            .add("t".into(), "{{ vars.site | upper }}/{{ kind }}")
            .expect("compiles");
        assert_eq!(variables, ["kind", "vars.site"]);
        let input = input_value(Path::new("a.xml"));
        assert_eq!(
            templates.render(&id, &context([("kind", "x")], &input)),
            Ok("PARIS \"1\"/x".to_owned())
        );
        // A key no --var gave fails when rendered (compile refuses such a template earlier).
        let (missing, _) = templates
            .add("u".into(), "{{ vars.team }}")
            .expect("compiles");
        let err = templates
            .render(&missing, &context([], &input))
            .expect_err("strict undefined");
        assert!(err.contains("undefined"), "{err}");
    }

    #[test]
    fn variables_are_reported() {
        let mut templates = Templates::new();
        let (_, vars) = templates
            .add(
                "t".into(),
                "{{ kind }}{{ input.path }}{{ range(2) | join }}",
            )
            .expect("compiles");
        assert_eq!(vars, ["input.path", "kind", "range"]);
    }
}
