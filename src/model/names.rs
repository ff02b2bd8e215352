//! Names: the checked names every stage shares (metric, label and field names, namespace
//! prefixes).
//!
//! Each is a newtype whose only way in is `parse`, which says in words what is wrong with a name
//! that is not valid, and whose `Deserialize` runs the same check inside `deserialize_str`, so
//! the rule file's reader still knows where the value is and the error points at it. The JSON
//! Schema of each name (`schemas/rules.schema.json`) states the same rule as a pattern.

use std::borrow::Cow;
use std::fmt;

use schemars::{Schema, SchemaGenerator};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Runs a check inside `deserialize_str`, while serde_yaml still knows where the value is.
pub(crate) struct Checked<T>(pub(crate) fn(&str) -> Result<T, String>);

impl<T> Visitor<'_> for Checked<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        (self.0)(s).map_err(E::custom)
    }
}

macro_rules! checked_string {
    ($type:ident) => {
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(Checked($type::parse))
            }
        }
    };
}

pub(crate) use checked_string;

/// The text of a checked name, and `Display` for it.
macro_rules! named_string {
    ($type:ident) => {
        impl $type {
            /// The name as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// Refuses a metric or label name starting with `__`, which Prometheus reserves.
fn not_reserved(s: &str, what: &str) -> Result<(), String> {
    if s.starts_with("__") {
        return Err(format!(
            "`{s}` is not a valid {what} name: names starting with `__` are reserved for \
             Prometheus"
        ));
    }
    Ok(())
}

fn is_name(s: &str, first: impl Fn(char) -> bool, rest: impl Fn(char) -> bool) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(first) && chars.all(rest)
}

/// A valid Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`, not starting with `__`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricName(String);

impl MetricName {
    /// Checks a metric name.
    pub fn parse(s: &str) -> Result<MetricName, String> {
        let valid = is_name(
            s,
            |c| c.is_ascii_alphabetic() || c == '_' || c == ':',
            |c| c.is_ascii_alphanumeric() || c == '_' || c == ':',
        );
        if !valid {
            return Err(format!(
                "`{s}` is not a valid metric name: use letters, digits, `_` and `:`, not \
                 starting with a digit"
            ));
        }
        not_reserved(s, "metric")?;
        Ok(MetricName(s.to_owned()))
    }
}

checked_string!(MetricName);
named_string!(MetricName);

/// A valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved by
/// Prometheus; node_exporter 1.5 crashes on such a label in a textfile).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelName(String);

impl LabelName {
    /// Checks a label name.
    pub fn parse(s: &str) -> Result<LabelName, String> {
        let valid = is_name(
            s,
            |c| c.is_ascii_alphabetic() || c == '_',
            |c| c.is_ascii_alphanumeric() || c == '_',
        );
        if !valid {
            return Err(format!(
                "`{s}` is not a valid label name: use letters, digits and `_`, not starting \
                 with a digit"
            ));
        }
        not_reserved(s, "label")?;
        Ok(LabelName(s.to_owned()))
    }

    /// The pseudo-label `__name__`, which carries a templated metric name (`name:
    /// "app_{{ kind }}"`) from each node to the families, as Prometheus itself names series.
    /// No rule can write it: [`LabelName::parse`] refuses names starting with `__`.
    pub fn metric_name() -> LabelName {
        LabelName(METRIC_NAME_LABEL.to_owned())
    }

    /// Whether this is [`LabelName::metric_name`].
    pub fn is_metric_name(&self) -> bool {
        self.0 == METRIC_NAME_LABEL
    }
}

/// The name of [`LabelName::metric_name`].
pub const METRIC_NAME_LABEL: &str = "__name__";

checked_string!(LabelName);
named_string!(LabelName);

/// Words a field cannot be called, because templates could not refer to it by that name.
const RESERVED_FIELD_NAMES: &[&str] = &[
    "input", "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is",
    "if", "else", "loop", "self",
];

/// A field name: an identifier templates can use, e.g. `{{ kind }}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldName(String);

impl FieldName {
    /// Checks a field name.
    pub fn parse(s: &str) -> Result<FieldName, String> {
        let valid = is_name(
            s,
            |c| c.is_ascii_alphabetic() || c == '_',
            |c| c.is_ascii_alphanumeric() || c == '_',
        );
        if !valid {
            return Err(format!(
                "`{s}` is not a valid field name: use letters, digits and `_`, not starting \
                 with a digit, so templates can refer to it as {{{{ {s} }}}}"
            ));
        }
        if RESERVED_FIELD_NAMES.contains(&s) {
            return Err(format!(
                "`{s}` cannot be a field name: templates reserve that word; choose another name"
            ));
        }
        Ok(FieldName(s.to_owned()))
    }
}

/// How the field names of the numbers a rule reads from each node besides its value start
/// (`#le`, `#sum`, ...): no field name written in a rule file can, so no template can name them.
pub const GIVEN_FIELD_MARK: char = '#';

impl FieldName {
    /// The name under which a rule reads one more number from each node besides its value
    /// (`le`, `sum`, ...): the key after [`GIVEN_FIELD_MARK`].
    pub fn given(key: &str) -> FieldName {
        FieldName(format!("{GIVEN_FIELD_MARK}{key}"))
    }
}

checked_string!(FieldName);
named_string!(FieldName);

/// A namespace prefix declared in `namespaces:`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix(String);

impl Prefix {
    /// Checks a namespace prefix (an XML NCName without `:`).
    pub fn parse(s: &str) -> Result<Prefix, String> {
        let valid = is_name(
            s,
            |c| c.is_alphabetic() || c == '_',
            |c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'),
        );
        if !valid {
            return Err(format!("`{s}` is not a valid namespace prefix"));
        }
        if s.eq_ignore_ascii_case("xml") || s.eq_ignore_ascii_case("xmlns") {
            return Err(format!(
                "`{s}` is a reserved namespace prefix; choose another"
            ));
        }
        Ok(Prefix(s.to_owned()))
    }
}

checked_string!(Prefix);
named_string!(Prefix);

/// A checked name's schema: a string matching `pattern`, refusing what `not` matches.
macro_rules! name_schema {
    ($type:ident, $description:expr, $pattern:expr, $not:tt) => {
        impl schemars::JsonSchema for $type {
            fn schema_name() -> Cow<'static, str> {
                stringify!($type).into()
            }

            fn schema_id() -> Cow<'static, str> {
                concat!(module_path!(), "::", stringify!($type)).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                schemars::json_schema!({
                    "description": $description,
                    "type": "string",
                    "pattern": $pattern,
                    "not": $not,
                })
            }
        }
    };
}

name_schema!(
    MetricName,
    "A Prometheus metric name: letters, digits, `_` and `:`, not starting with a digit; \
     names starting with `__` are reserved for Prometheus.",
    "^[a-zA-Z_:][a-zA-Z0-9_:]*$",
    { "pattern": "^__" }
);

name_schema!(
    LabelName,
    "A Prometheus label name: letters, digits and `_`, not starting with a digit; names \
     starting with `__` are reserved for Prometheus.",
    "^[a-zA-Z_][a-zA-Z0-9_]*$",
    { "pattern": "^__" }
);

name_schema!(
    FieldName,
    "A field name, which templates use as `{{ name }}`: letters, digits and `_`, not starting \
     with a digit, and not a word templates reserve.",
    "^[a-zA-Z_][a-zA-Z0-9_]*$",
    { "enum": RESERVED_FIELD_NAMES }
);

// Non-ASCII letters are accepted as any non-ASCII character: `\p{...}` classes are not portable
// across the regex engines of JSON Schema validators, and the loader checks the rest.
name_schema!(
    Prefix,
    "A namespace prefix: an XML name without `:`, not `xml` or `xmlns`.",
    r"^(?:[a-zA-Z_]|[^\x00-\x7F])(?:[a-zA-Z0-9_.-]|[^\x00-\x7F])*$",
    { "pattern": "^[xX][mM][lL]([nN][sS])?$" }
);
