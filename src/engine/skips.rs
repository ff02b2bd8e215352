//! Skips: the nodes a rule left out, counted per reason, with the first example, reported once
//! per run (`skipped 3 nodes (missing 2, invalid 1), first /store/row[2]: ...`).

use std::fmt;

use crate::rules::compile::{CompiledRule, Reduce, Shape};
use crate::rules::policy::{FieldMissing, OnDuplicate, OnInvalid, OnMissing};

/// Why a node was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    /// The value or a field selected nothing (`on_missing: skip`).
    Missing,
    /// The value did not give a number (`on_invalid: skip`).
    Invalid,
    /// Another node gave the same series (`on_duplicate: first` or `last`).
    Duplicate,
    /// The value or a field gave a text the rule lists in `absent` (`on_missing: skip`): an
    /// expected absence, counted but not reported.
    Absent,
}

impl SkipReason {
    /// Every reason, in the order reports list them.
    pub const ALL: [SkipReason; 4] = [
        SkipReason::Missing,
        SkipReason::Invalid,
        SkipReason::Duplicate,
        SkipReason::Absent,
    ];

    /// The word used in reports and in the `reason` label of self-metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Missing => "missing",
            SkipReason::Invalid => "invalid",
            SkipReason::Duplicate => "duplicate",
            SkipReason::Absent => "absent",
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
    counts: [u64; 4],
    /// The first skipped node that is reported (not an expected absence): its skip and its
    /// location path.
    first: Option<(Skip, String)>,
}

impl Skips {
    /// Counts one skipped node; `at` gives its location path, asked only for the first one
    /// reported.
    pub fn add(&mut self, skip: Skip, at: impl FnOnce() -> String) {
        self.counts[skip.reason as usize] += 1;
        if self.first.is_none() && skip.reason != SkipReason::Absent {
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

    /// One line for the run's report, or `None` when nothing was skipped but expected
    /// absences (which only the self-metrics count):
    /// ``skipped 3 nodes (missing 2, invalid 1), first /store/row[2]: `value: @size` selected
    /// nothing``.
    pub fn report(&self) -> Option<String> {
        let total = self.total() - self.count(SkipReason::Absent);
        let (first, at) = self.first.as_ref()?;
        let counts: Vec<String> = SkipReason::ALL
            .iter()
            .filter(|&&r| r != SkipReason::Absent && self.count(r) > 0)
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

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.detail)
    }
}

/// Whether the rule's policies can leave a node out for this reason.
pub fn can_skip(rule: &CompiledRule, reason: SkipReason) -> bool {
    match reason {
        SkipReason::Missing => {
            rule.policies.on_missing == OnMissing::Skip
                || rule
                    .field_missing
                    .contains(&FieldMissing::Policy(OnMissing::Skip))
        }
        SkipReason::Absent => !rule.absent.is_empty() && can_skip(rule, SkipReason::Missing),
        SkipReason::Invalid => rule.policies.on_invalid == OnInvalid::Skip,
        SkipReason::Duplicate => matches!(
            &rule.shape,
            Shape::Nodes {
                reduce: Reduce::Each(OnDuplicate::First | OnDuplicate::Last)
                    | Reduce::States {
                        on_duplicate: OnDuplicate::First | OnDuplicate::Last,
                        ..
                    },
                ..
            }
        ),
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
    fn expected_absences_are_counted_not_reported() {
        let mut skips = Skips::default();
        skips.add(skip(SkipReason::Absent), || unreachable!("not reported"));
        skips.add(skip(SkipReason::Absent), || unreachable!("not reported"));
        assert_eq!(skips.count(SkipReason::Absent), 2);
        assert_eq!(skips.report(), None);
        skips.add(skip(SkipReason::Invalid), || "/a[3]".to_owned());
        assert_eq!(skips.total(), 3);
        assert_eq!(
            skips.report().as_deref(),
            Some("skipped 1 node (invalid 1), first /a[3]: `value: @v` selected nothing")
        );
    }
}
