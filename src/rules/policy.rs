//! Policy: what a rule says to do with a node that lacks its value or a field, with a value
//! that does not parse, with two nodes for one series, and with an empty selection.
//!
//! These are the words of the rule file, as data. What they mean for one node is decided in one
//! place, [`crate::engine::node`], so a policy means the same whichever engine runs the rule.

use serde::Deserialize;

/// `on_missing:` a selected node without the value or without a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnMissing {
    /// Leave the node out and count it as skipped.
    Skip,
    /// Use 0 for a missing value and the empty string for a missing field.
    Zero,
    /// Fail the input (the default).
    #[default]
    Error,
}

/// `on_invalid:` a value whose text does not give a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnInvalid {
    /// Leave the node out and count it as skipped.
    Skip,
    /// Fail the input (the default).
    #[default]
    Error,
}

/// `on_duplicate:` two nodes of a rule without `aggregate` give the same series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnDuplicate {
    /// Fail the input (the default).
    #[default]
    Error,
    /// Keep the first node in document order; later ones are skipped.
    First,
    /// Keep the last node in document order; earlier ones are skipped.
    Last,
    /// Add the values of all the nodes.
    Sum,
}

impl OnDuplicate {
    /// The word used in the rule file.
    pub fn as_str(self) -> &'static str {
        match self {
            OnDuplicate::Error => "error",
            OnDuplicate::First => "first",
            OnDuplicate::Last => "last",
            OnDuplicate::Sum => "sum",
        }
    }
}

/// `on_empty:` what a rule gives when no node produced a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnEmpty {
    /// No sample at all (the default).
    #[default]
    None,
    /// One sample of value 0 (`aggregate: count` or `sum` with labels that use no field).
    Zero,
}

/// What a node without one field (or with an `absent` text for it) gets: the field's or the
/// rule's `on_missing`, or the field's `default` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldMissing {
    /// What `on_missing` says.
    Policy(OnMissing),
    /// This text, as if the node had it.
    Default(String),
}

/// A rule's policies, each defaulted when the rule does not set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policies {
    /// See [`OnMissing`].
    pub on_missing: OnMissing,
    /// See [`OnInvalid`].
    pub on_invalid: OnInvalid,
    /// See [`OnEmpty`].
    pub on_empty: OnEmpty,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_words_parse() {
        let parse = |s: &str| serde_yaml::from_str::<OnDuplicate>(s);
        assert_eq!(parse("last").ok(), Some(OnDuplicate::Last));
        assert!(parse("LAST").is_err());
        assert_eq!(
            serde_yaml::from_str::<OnEmpty>("none").ok(),
            Some(OnEmpty::None)
        );
        assert_eq!(
            serde_yaml::from_str::<OnMissing>("zero").ok(),
            Some(OnMissing::Zero)
        );
    }
}
