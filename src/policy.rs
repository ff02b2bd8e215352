//! Policy: what a rule does with a node that lacks its value or a field, with a value that does
//! not parse, with two nodes for one series, and with an empty selection; and the count of
//! nodes it skipped, reported once per run.
//!
//! Both engines hand each node's readings to [`Readings::resolve`], so a policy means the same
//! whichever engine runs the rule.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;

use crate::compile::{CompiledRule, ValueSpec};
use crate::evaluate::{EvalErrorKind, shorten};
use crate::value::parse_number;

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

/// Why a node was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    /// The value or a field selected nothing (`on_missing: skip`).
    Missing,
    /// The value did not give a number (`on_invalid: skip`).
    Invalid,
    /// Another node gave the same series (`on_duplicate: first` or `last`).
    Duplicate,
}

impl SkipReason {
    /// Every reason, in the order reports list them.
    pub const ALL: [SkipReason; 3] = [
        SkipReason::Missing,
        SkipReason::Invalid,
        SkipReason::Duplicate,
    ];

    /// The word used in reports and in the `reason` label of self-metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Missing => "missing",
            SkipReason::Invalid => "invalid",
            SkipReason::Duplicate => "duplicate",
        }
    }
}

/// One skipped node: why, where, and a phrase saying what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// Why.
    pub reason: SkipReason,
    /// What was wrong, e.g. ``"`value: @size` selected nothing"``.
    pub detail: String,
}

/// The nodes one rule skipped on one input: a count per reason and the first example.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skips {
    counts: [u64; 3],
    /// The first skipped node: its skip and its location path.
    first: Option<(Skip, String)>,
}

impl Skips {
    /// Counts one skipped node; `at` gives its location path, asked only for the first.
    pub fn add(&mut self, skip: Skip, at: impl FnOnce() -> String) {
        self.counts[skip.reason as usize] += 1;
        if self.first.is_none() {
            self.first = Some((skip, at()));
        }
    }

    /// The number of nodes skipped for one reason.
    pub fn count(&self, reason: SkipReason) -> u64 {
        self.counts[reason as usize]
    }

    /// The number of nodes skipped for any reason.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The first skipped node and its location path.
    pub fn first(&self) -> Option<&(Skip, String)> {
        self.first.as_ref()
    }

    /// One line for the run's report, or `None` when nothing was skipped:
    /// ``skipped 3 nodes (missing 2, invalid 1), first /store/row[2]: `value: @size` selected
    /// nothing``.
    pub fn report(&self) -> Option<String> {
        let total = self.total();
        let (first, at) = self.first.as_ref()?;
        let counts: Vec<String> = SkipReason::ALL
            .iter()
            .filter(|&&r| self.count(r) > 0)
            .map(|&r| format!("{} {}", r.as_str(), self.count(r)))
            .collect();
        Some(format!(
            "skipped {total} node{} ({}), first {at}: {}",
            if total == 1 { "" } else { "s" },
            counts.join(", "),
            first.detail
        ))
    }
}

/// What a node's value query gave.
#[derive(Debug, Clone, Copy)]
pub enum Reading<'a> {
    /// Nothing: an empty node-set.
    Missing,
    /// A string: a node's string-value or an XPath string.
    Text(&'a str),
    /// A number computed by XPath (the DOM engine only), used as is.
    Number(f64),
}

/// What to do with one node.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    /// Use it.
    Use(T),
    /// Leave the node out.
    Skip(Skip),
    /// Fail the input.
    Fail(EvalErrorKind),
}

/// Resolves what a rule's field query gave at one node: the text, or what the rule's
/// `on_missing` says to do when there is none.
pub fn field(rule: &CompiledRule, index: usize, text: Option<String>) -> Outcome<String> {
    if let Some(text) = text {
        return Outcome::Use(text);
    }
    let (name, query) = rule.field_query(index);
    let field = format!("fields.{name}");
    match rule.policies.on_missing {
        OnMissing::Zero => Outcome::Use(String::new()),
        OnMissing::Skip => Outcome::Skip(Skip {
            reason: SkipReason::Missing,
            detail: format!("`{field}: {query}` selected nothing"),
        }),
        OnMissing::Error => Outcome::Fail(EvalErrorKind::Missing {
            field,
            query: query.to_owned(),
        }),
    }
}

/// Resolves what a rule's value query gave at one node into the number the accumulator
/// observes (for a state set, the index of the current state); `None` for a rule without a
/// value (`aggregate: count`).
pub fn value(rule: &CompiledRule, reading: Reading<'_>) -> Outcome<Option<f64>> {
    let query = rule.value_query();
    let text = match (reading, &rule.value) {
        (_, ValueSpec::Absent) => return Outcome::Use(None),
        (_, ValueSpec::One) => return Outcome::Use(Some(1.0)),
        (Reading::Missing, _) => {
            return match rule.policies.on_missing {
                OnMissing::Zero => match &rule.value {
                    // The compiler refuses `zero` for a state set: "no state" is not a state.
                    ValueSpec::States(_) => Outcome::Fail(EvalErrorKind::Missing {
                        field: "value".to_owned(),
                        query: query.to_owned(),
                    }),
                    _ => Outcome::Use(Some(0.0)),
                },
                OnMissing::Skip => Outcome::Skip(Skip {
                    reason: SkipReason::Missing,
                    detail: format!("`value: {query}` selected nothing"),
                }),
                OnMissing::Error => Outcome::Fail(EvalErrorKind::Missing {
                    field: "value".to_owned(),
                    query: query.to_owned(),
                }),
            };
        }
        (Reading::Number(n), ValueSpec::Number(None)) => return Outcome::Use(Some(n)),
        // Borrowed: this runs once per node, so text is not copied.
        (Reading::Number(n), _) => Cow::Owned(crate::exposition::format_value(n)),
        (Reading::Text(text), _) => Cow::Borrowed(text),
    };
    let text = text.as_ref();
    let parsed = match &rule.value {
        ValueSpec::States(states) => states
            .iter()
            .position(|s| s == text)
            .map(|i| i as f64)
            .ok_or_else(|| format!("is not one of the states {}", states.join(", "))),
        ValueSpec::Number(Some(convert)) => convert.apply(text).map_err(|why| why.to_string()),
        _ => parse_number(text).ok_or_else(|| {
            "is not a number (numbers are written like 42, -1.5 or 2e3, without spaces)".to_owned()
        }),
    };
    match parsed {
        Ok(number) => Outcome::Use(Some(number)),
        Err(why) => match rule.policies.on_invalid {
            OnInvalid::Skip => Outcome::Skip(Skip {
                reason: SkipReason::Invalid,
                detail: format!("`value: {query}` gave {:?}, which {why}", shorten(text)),
            }),
            OnInvalid::Error => Outcome::Fail(EvalErrorKind::Invalid {
                query: query.to_owned(),
                text: shorten(text),
                why,
            }),
        },
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(reason: SkipReason) -> Skip {
        Skip {
            reason,
            detail: "`value: @v` selected nothing".to_owned(),
        }
    }

    #[test]
    fn skips_count_per_reason_and_keep_the_first_example() {
        let mut skips = Skips::default();
        assert_eq!(skips.report(), None);
        skips.add(skip(SkipReason::Missing), || "/store/row[2]".to_owned());
        skips.add(skip(SkipReason::Invalid), || unreachable!("asked once"));
        skips.add(skip(SkipReason::Missing), || unreachable!("asked once"));
        assert_eq!(skips.count(SkipReason::Missing), 2);
        assert_eq!(skips.count(SkipReason::Invalid), 1);
        assert_eq!(skips.count(SkipReason::Duplicate), 0);
        assert_eq!(skips.total(), 3);
        assert_eq!(
            skips.report().as_deref(),
            Some(
                "skipped 3 nodes (missing 2, invalid 1), first /store/row[2]: `value: @v` \
                 selected nothing"
            )
        );
    }

    #[test]
    fn one_skip_is_singular() {
        let mut skips = Skips::default();
        skips.add(skip(SkipReason::Duplicate), || "/a".to_owned());
        assert_eq!(
            skips.report().as_deref(),
            Some("skipped 1 node (duplicate 1), first /a: `value: @v` selected nothing")
        );
    }

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
