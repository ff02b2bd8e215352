//! Aggregate: the values of one rule's nodes, grouped by label set, into samples.
//!
//! An engine feeds an [`Accumulator`] one observation per selected node (its label set, its
//! value, and a handle to the node for error messages); [`Accumulator::finish`] turns each group
//! into one [`Sample`]. The engine never sees how groups combine, so every engine shares the
//! same semantics for `count`, `sum`, `min`, `max`, `avg`, histograms and summaries.

use crate::model::sample::{
    Histogram, KeySet, LabelSet, Sample, SampleValue, Samples, Summary, same_bytes,
};
use crate::rules::compile::Reduce;
use crate::rules::file::Aggregation;
use crate::rules::policy::OnDuplicate;

/// Two nodes of a rule without `aggregate` gave the same label set.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateNode<N> {
    /// The label set both nodes gave.
    pub labels: LabelSet,
    /// The node seen first.
    pub first: N,
    /// The node seen second.
    pub second: N,
}

/// What an observation did.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed<N> {
    /// The node's value is in its group.
    Added,
    /// `on_duplicate: first` or `last` left this node out: the new one or the one it replaced.
    Dropped(N),
}

/// The running state of one label set of a rule with `aggregate` or `states` (those without
/// keep theirs in [`Groups::Each`]).
#[derive(Debug, Clone)]
enum Group<N> {
    State {
        index: usize,
        node: N,
    },
    Count(u64),
    Sum(f64),
    Min(f64),
    Max(f64),
    Avg {
        sum: f64,
        count: u64,
    },
    /// Counts per bucket: boxed, not a `Vec`, so that this is no larger than `Each` and every
    /// group of a rule with many series stays small.
    Histogram {
        counts: Box<[u64]>,
        sum: f64,
        count: u64,
    },
    Summary {
        values: Vec<f64>,
    },
}

/// Groups one rule's observations by label set. `N` is the engine's handle to a node.
///
/// The label sets are kept once each, as their keys ([`LabelSet::key`]) in one [`KeySet`], and
/// found again by those bytes: a node whose labels are known costs no allocation.
#[derive(Debug)]
pub struct Accumulator<N> {
    reduce: Reduce,
    /// Each group's label set, by group id.
    labels: KeySet,
    /// The groups in the order their label sets were first seen.
    groups: Groups<N>,
    /// The group found last: consecutive nodes often share their labels (the test cases of a
    /// suite, the rows of a rack), and telling that from the key's bytes costs less than
    /// hashing them.
    last: Option<GroupId>,
    /// Whether the key before was the one before it too: only then is the next one compared
    /// with `last`, so that nodes whose labels change at every node (one series per node,
    /// kinds in random order) do not pay for a comparison that fails.
    repeating: bool,
}

/// The groups of an [`Accumulator`], by group id.
#[derive(Debug)]
enum Groups<N> {
    /// A rule without `aggregate` (one series per node): each group's value and the node it
    /// came from (`None` until observed), side by side, so that a series costs its value and
    /// its node's handle and no more.
    Each {
        values: Vec<f64>,
        nodes: Vec<Option<N>>,
    },
    /// Any other rule: each group's running state, `None` until observed.
    Other(Vec<Option<Group<N>>>),
}

impl<N> Groups<N> {
    fn for_reduce(reduce: &Reduce) -> Groups<N> {
        match reduce {
            Reduce::Each(_) => Groups::Each {
                values: Vec::new(),
                nodes: Vec::new(),
            },
            _ => Groups::Other(Vec::new()),
        }
    }

    /// Adds an empty group.
    fn push(&mut self) {
        match self {
            Groups::Each { values, nodes } => {
                values.push(f64::NAN);
                nodes.push(None);
            }
            Groups::Other(groups) => groups.push(None),
        }
    }
}

/// A label set's place in an [`Accumulator`], to observe it again without hashing the labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupId(usize);

impl<N: Clone> Accumulator<N> {
    /// An empty accumulator for a rule.
    pub fn new(reduce: &Reduce) -> Accumulator<N> {
        Accumulator {
            reduce: reduce.clone(),
            labels: KeySet::default(),
            groups: Groups::for_reduce(reduce),
            last: None,
            repeating: false,
        }
    }

    /// The group of a label set, created empty on first use.
    pub fn group(&mut self, labels: &LabelSet) -> GroupId {
        self.group_of_key(labels.key())
    }

    /// The group of a label set given by its key ([`LabelSet::key`]), created empty on first
    /// use; the key is copied only then.
    pub fn group_of_key(&mut self, key: &[u8]) -> GroupId {
        if self.repeating
            && let Some(last) = self.last
            && same_bytes(self.labels.get(last.0), key)
        {
            return last;
        }
        let (id, new) = self.labels.insert(key);
        if new {
            self.groups.push();
        }
        self.repeating = self.last == Some(GroupId(id));
        self.last = Some(GroupId(id));
        GroupId(id)
    }

    /// Adds one node's observation. `value` may be `None` only for `aggregate: count`, which
    /// the compiler guarantees by requiring `value` everywhere else; for a state set it is the
    /// index of the node's state.
    pub fn observe(
        &mut self,
        labels: &LabelSet,
        value: Option<f64>,
        node: N,
    ) -> Result<Observed<N>, DuplicateNode<N>> {
        let group = self.group(labels);
        self.observe_group(group, value, node)
    }

    /// Adds one node's observation to a group found with [`Accumulator::group`].
    pub fn observe_group(
        &mut self,
        group: GroupId,
        value: Option<f64>,
        node: N,
    ) -> Result<Observed<N>, DuplicateNode<N>> {
        let v = value.unwrap_or(f64::NAN);
        let labels = &self.labels;
        let id = group.0;
        let slots = match &mut self.groups {
            Groups::Each { values, nodes } => {
                let (Some(kept), Some(first)) = (values.get_mut(id), nodes.get_mut(id)) else {
                    return Ok(Observed::Added);
                };
                let on_duplicate = match &self.reduce {
                    Reduce::Each(policy) => *policy,
                    _ => OnDuplicate::Error,
                };
                let Some(first) = first else {
                    *kept = v;
                    *first = Some(node);
                    return Ok(Observed::Added);
                };
                match on_duplicate {
                    OnDuplicate::Error => {
                        return Err(DuplicateNode {
                            labels: LabelSet::from_key(labels.get(id)),
                            first: first.clone(),
                            second: node,
                        });
                    }
                    OnDuplicate::First => return Ok(Observed::Dropped(node)),
                    OnDuplicate::Last => {
                        *kept = v;
                        return Ok(Observed::Dropped(std::mem::replace(first, node)));
                    }
                    OnDuplicate::Sum => *kept += v,
                }
                return Ok(Observed::Added);
            }
            Groups::Other(groups) => groups,
        };
        let Some(slot) = slots.get_mut(id) else {
            return Ok(Observed::Added);
        };
        let on_duplicate = match &self.reduce {
            Reduce::States { on_duplicate, .. } => *on_duplicate,
            _ => OnDuplicate::Error,
        };
        match slot {
            Some(group) => match group {
                Group::State { index, node: first } => match on_duplicate {
                    OnDuplicate::First => return Ok(Observed::Dropped(node)),
                    OnDuplicate::Last => {
                        *index = v as usize;
                        return Ok(Observed::Dropped(std::mem::replace(first, node)));
                    }
                    // The compiler refuses `sum` for state sets.
                    OnDuplicate::Error | OnDuplicate::Sum => {
                        return Err(DuplicateNode {
                            labels: LabelSet::from_key(labels.get(id)),
                            first: first.clone(),
                            second: node,
                        });
                    }
                },
                Group::Count(n) => *n += 1,
                Group::Sum(s) => *s += v,
                Group::Min(m) => *m = m.min(v),
                Group::Max(m) => *m = m.max(v),
                Group::Avg { sum, count } => {
                    *sum += v;
                    *count += 1;
                }
                Group::Histogram { counts, sum, count } => {
                    observe_histogram(&self.reduce, counts, v);
                    *sum += v;
                    *count += 1;
                }
                Group::Summary { values } => values.push(v),
            },
            None => {
                *slot = Some(match &self.reduce {
                    Reduce::States { .. } => Group::State {
                        index: v as usize,
                        node,
                    },
                    Reduce::Aggregate(Aggregation::Count) => Group::Count(1),
                    // Its groups are `Groups::Each`: not reached.
                    Reduce::Each(_) => Group::Count(1),
                    Reduce::Aggregate(Aggregation::Sum) => Group::Sum(v),
                    Reduce::Aggregate(Aggregation::Min) => Group::Min(v),
                    Reduce::Aggregate(Aggregation::Max) => Group::Max(v),
                    Reduce::Aggregate(Aggregation::Avg) => Group::Avg { sum: v, count: 1 },
                    Reduce::Histogram(bounds) => {
                        let mut counts = vec![0; bounds.len()].into_boxed_slice();
                        observe_histogram(&self.reduce, &mut counts, v);
                        Group::Histogram {
                            counts,
                            sum: v,
                            count: 1,
                        }
                    }
                    Reduce::Summary(_) => Group::Summary { values: vec![v] },
                });
            }
        }
        Ok(Observed::Added)
    }

    /// The label set of a group (empty for a group that is not one).
    pub fn labels(&self, group: GroupId) -> LabelSet {
        LabelSet::from_key(self.labels.get(group.0))
    }

    /// Whether no node was observed.
    pub fn is_empty(&self) -> bool {
        match &self.groups {
            Groups::Each { nodes, .. } => nodes.iter().all(Option::is_none),
            Groups::Other(groups) => groups.iter().all(Option::is_none),
        }
    }

    /// One sample per label set that was observed, in the order the label sets were first
    /// seen (the exposition sorts).
    ///
    /// The label sets move into the samples as they are, not copied: when every group was
    /// observed (as it is unless an observation failed), they are the samples' label sets.
    pub fn finish(self) -> Samples {
        let Accumulator {
            reduce,
            labels,
            groups,
            last: _,
            repeating: _,
        } = self;
        match (groups, &reduce) {
            (Groups::Each { values, nodes }, _) => {
                let observed: Vec<bool> = nodes.iter().map(Option::is_some).collect();
                drop(nodes);
                let values = values.into_iter().map(SampleValue::Single).collect();
                keep_observed(labels, values, &observed)
            }
            (
                Groups::Other(groups),
                Reduce::States {
                    label, states: all, ..
                },
            ) => {
                let mut samples = Samples::new();
                for (key, group) in labels.iter().zip(groups) {
                    let Some(Group::State { index, .. }) = group else {
                        continue;
                    };
                    let labels = LabelSet::from_key(key);
                    for (i, state) in all.iter().enumerate() {
                        samples.push(Sample {
                            labels: labels.with(&[(label.clone(), state.clone())]),
                            value: SampleValue::Single(if i == index { 1.0 } else { 0.0 }),
                        });
                    }
                }
                samples
            }
            (Groups::Other(groups), _) => {
                let observed: Vec<bool> = groups.iter().map(Option::is_some).collect();
                let values = groups
                    .into_iter()
                    .map(|group| match group {
                        Some(group) => finish_group(&reduce, group),
                        None => SampleValue::Single(f64::NAN),
                    })
                    .collect();
                keep_observed(labels, values, &observed)
            }
        }
    }
}

/// The samples of the groups that were observed: all of them, the label sets moved as they
/// are, or (rarely) a copy of the observed ones.
fn keep_observed(labels: KeySet, values: Vec<SampleValue>, observed: &[bool]) -> Samples {
    if observed.iter().all(|&seen| seen) {
        return Samples::from_parts(labels, values);
    }
    labels
        .iter()
        .zip(values)
        .zip(observed)
        .filter(|(_, seen)| **seen)
        .map(|((key, value), _)| Sample {
            labels: LabelSet::from_key(key),
            value,
        })
        .collect()
}

/// Counts `v` into the first bucket whose upper bound is >= v (non-cumulative counts).
/// A value above every bound, or NaN, lands only in the implicit `+Inf` bucket.
fn observe_histogram(reduce: &Reduce, counts: &mut [u64], v: f64) {
    if let Reduce::Histogram(bounds) = reduce
        && let Some(i) = bounds.iter().position(|&le| v <= le)
    {
        counts[i] += 1;
    }
}

fn finish_group<N>(reduce: &Reduce, group: Group<N>) -> SampleValue {
    match group {
        // Expanded by `finish`; one state alone stands for "the node's state is this".
        Group::State { .. } => SampleValue::Single(1.0),
        Group::Count(n) => SampleValue::Single(n as f64),
        Group::Sum(v) | Group::Min(v) | Group::Max(v) => SampleValue::Single(v),
        Group::Avg { sum, count } => SampleValue::Single(sum / count as f64),
        Group::Histogram { counts, sum, count } => {
            let bounds = match reduce {
                Reduce::Histogram(bounds) => bounds.as_slice(),
                _ => &[],
            };
            let mut cumulative = 0;
            let buckets = bounds
                .iter()
                .zip(counts.iter())
                .map(|(&le, &n)| {
                    cumulative += n;
                    (le, cumulative)
                })
                .collect();
            SampleValue::Histogram(Box::new(Histogram {
                buckets,
                sum,
                count,
            }))
        }
        Group::Summary { mut values } => {
            let quantiles = match reduce {
                Reduce::Summary(quantiles) => quantiles.as_slice(),
                _ => &[],
            };
            values.sort_by(f64::total_cmp);
            SampleValue::Summary(Box::new(Summary {
                quantiles: quantiles
                    .iter()
                    .map(|&q| (q, quantile(&values, q)))
                    .collect(),
                sum: values.iter().sum(),
                count: values.len() as u64,
            }))
        }
    }
}

/// The q-quantile of sorted values, interpolated linearly between the two nearest ranks, as
/// PromQL's `quantile()` computes it: rank `q * (n - 1)`. NaN for no values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = q * (sorted.len() - 1) as f64;
    let lower = rank.floor() as usize;
    let upper = rank.ceil() as usize;
    let (a, b) = (sorted[lower], sorted[upper.min(sorted.len() - 1)]);
    if lower == upper {
        a
    } else {
        a + (b - a) * (rank - lower as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kind: &str) -> LabelSet {
        LabelSet::new([("kind".to_owned(), kind.to_owned())])
    }

    fn run(reduce: Reduce, observations: &[(&str, f64)]) -> Vec<Sample> {
        let mut acc = Accumulator::new(&reduce);
        for (i, (kind, v)) in observations.iter().enumerate() {
            acc.observe(&labels(kind), Some(*v), i)
                .expect("no duplicates");
        }
        let mut samples = acc.finish().to_vec();
        samples.sort_by(|a, b| a.labels.cmp(&b.labels));
        samples
    }

    fn singles(samples: &[Sample]) -> Vec<f64> {
        samples
            .iter()
            .map(|s| match s.value {
                SampleValue::Single(v) => v,
                _ => panic!("expected a single value, got {:?}", s.value),
            })
            .collect()
    }

    const DATA: &[(&str, f64)] = &[("a", 1.0), ("b", 10.0), ("a", 3.0), ("a", 2.0)];

    #[test]
    fn aggregations() {
        let cases = [
            (Aggregation::Count, vec![3.0, 1.0]),
            (Aggregation::Sum, vec![6.0, 10.0]),
            (Aggregation::Min, vec![1.0, 10.0]),
            (Aggregation::Max, vec![3.0, 10.0]),
            (Aggregation::Avg, vec![2.0, 10.0]),
        ];
        for (aggregation, expected) in cases {
            let samples = run(Reduce::Aggregate(aggregation), DATA);
            assert_eq!(singles(&samples), expected, "{aggregation:?}");
        }
    }

    #[test]
    fn count_needs_no_value() {
        let mut acc = Accumulator::new(&Reduce::Aggregate(Aggregation::Count));
        acc.observe(&labels("a"), None, 0).expect("ok");
        acc.observe(&labels("a"), None, 1).expect("ok");
        assert_eq!(singles(&acc.finish().to_vec()), [2.0]);
    }

    #[test]
    fn each_refuses_a_second_node_for_a_label_set() {
        let mut acc = Accumulator::new(&Reduce::Each(OnDuplicate::Error));
        acc.observe(&labels("a"), Some(1.0), "/store/row[1]")
            .expect("first");
        acc.observe(&labels("b"), Some(1.0), "/store/row[2]")
            .expect("other labels");
        let err = acc
            .observe(&labels("a"), Some(2.0), "/store/row[3]")
            .expect_err("duplicate");
        assert_eq!(
            err,
            DuplicateNode {
                labels: labels("a"),
                first: "/store/row[1]",
                second: "/store/row[3]"
            }
        );
    }

    #[test]
    fn histogram_is_cumulative_with_inf_as_count() {
        let samples = run(
            Reduce::Histogram(vec![1.0, 2.5, 100.0]),
            &[
                ("a", 0.5),
                ("a", 1.0),
                ("a", 2.0),
                ("a", 1000.0),
                ("a", f64::NAN),
            ],
        );
        match &samples[0].value {
            SampleValue::Histogram(histogram) => {
                assert_eq!(histogram.buckets, [(1.0, 2), (2.5, 3), (100.0, 3)]);
                assert_eq!(histogram.count, 5);
                assert!(histogram.sum.is_nan());
            }
            other => panic!("not a histogram: {other:?}"),
        }
    }

    #[test]
    fn summary_quantiles_are_exact() {
        let samples = run(
            Reduce::Summary(vec![0.0, 0.5, 0.9, 1.0]),
            &[("a", 4.0), ("a", 1.0), ("a", 3.0), ("a", 2.0)],
        );
        assert_eq!(
            samples[0].value,
            SampleValue::Summary(Box::new(Summary {
                quantiles: vec![(0.0, 1.0), (0.5, 2.5), (0.9, 3.7), (1.0, 4.0)],
                sum: 10.0,
                count: 4
            }))
        );
    }

    #[test]
    fn finish_gives_the_label_sets_in_the_order_first_seen() {
        // Enough groups for `finish` to give memory back while it goes.
        let states = vec!["ok".to_owned(), "failed".to_owned()];
        let mut acc = Accumulator::new(&Reduce::States {
            label: "state".to_owned(),
            states: states.clone(),
            on_duplicate: OnDuplicate::Error,
        });
        let kinds: Vec<String> = (0..3000)
            .map(|i| format!("k{}", (i * 7919) % 3000))
            .collect();
        for (i, kind) in kinds.iter().enumerate() {
            acc.observe(&labels(kind), Some((i % 2) as f64), i)
                .expect("distinct kinds");
        }
        let samples = acc.finish();
        let expected: Vec<(LabelSet, f64)> = kinds
            .iter()
            .enumerate()
            .flat_map(|(i, kind)| {
                states.iter().enumerate().map(move |(s, state)| {
                    let set = LabelSet::new([
                        ("kind".to_owned(), kind.clone()),
                        ("state".to_owned(), state.clone()),
                    ]);
                    (set, if s == i % 2 { 1.0 } else { 0.0 })
                })
            })
            .collect();
        let got: Vec<(LabelSet, f64)> = samples
            .to_vec()
            .into_iter()
            .map(|s| match s.value {
                SampleValue::Single(v) => (s.labels, v),
                other => panic!("not a single value: {other:?}"),
            })
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_group_of_a_rule_without_aggregate_is_its_value_and_its_node() {
        let mut acc = Accumulator::new(&Reduce::Each(OnDuplicate::Error));
        for (i, kind) in ["a", "b", "c"].into_iter().enumerate() {
            acc.observe(&labels(kind), Some(i as f64), i)
                .expect("distinct");
        }
        let Groups::Each { values, nodes } = &acc.groups else {
            panic!("one series per node keeps values and nodes side by side");
        };
        assert_eq!(values, &[0.0, 1.0, 2.0]);
        assert_eq!(nodes, &[Some(0), Some(1), Some(2)]);
    }

    #[test]
    fn one_series_per_node_keeps_the_policy_for_a_second_node() {
        let observe = |policy, values: &[(&str, f64)]| {
            let mut acc = Accumulator::new(&Reduce::Each(policy));
            let mut dropped = Vec::new();
            for (i, (kind, v)) in values.iter().enumerate() {
                match acc.observe(&labels(kind), Some(*v), i) {
                    Ok(Observed::Added) => {}
                    Ok(Observed::Dropped(node)) => dropped.push(node),
                    Err(err) => return Err((err.first, err.second)),
                }
            }
            let got: Vec<(String, f64)> = acc
                .finish()
                .to_vec()
                .into_iter()
                .map(|s| match s.value {
                    SampleValue::Single(v) => (s.labels.to_string(), v),
                    other => panic!("{other:?}"),
                })
                .collect();
            Ok((got, dropped))
        };
        let data = [("b", 1.0), ("a", 2.0), ("b", 4.0), ("b", 8.0)];
        let set = |kind: &str| labels(kind).to_string();
        assert_eq!(observe(OnDuplicate::Error, &data), Err((0, 2)));
        assert_eq!(
            observe(OnDuplicate::First, &data),
            Ok((vec![(set("b"), 1.0), (set("a"), 2.0)], vec![2, 3]))
        );
        assert_eq!(
            observe(OnDuplicate::Last, &data),
            Ok((vec![(set("b"), 8.0), (set("a"), 2.0)], vec![0, 2]))
        );
        assert_eq!(
            observe(OnDuplicate::Sum, &data),
            Ok((vec![(set("b"), 13.0), (set("a"), 2.0)], vec![]))
        );
    }

    #[test]
    fn a_group_never_observed_gives_no_sample() {
        for reduce in [
            Reduce::Each(OnDuplicate::Error),
            Reduce::Aggregate(Aggregation::Sum),
        ] {
            let mut acc = Accumulator::new(&reduce);
            acc.group(&labels("unseen"));
            assert!(acc.is_empty());
            acc.observe(&labels("a"), Some(1.0), 0).expect("observed");
            assert!(!acc.is_empty());
            let samples = acc.finish();
            assert_eq!(singles(&samples.to_vec()), [1.0], "{reduce:?}");
            assert_eq!(samples.to_vec()[0].labels, labels("a"));
        }
    }

    #[test]
    fn the_group_of_a_key_is_the_same_found_again_at_once_or_later() {
        let mut acc: Accumulator<usize> = Accumulator::new(&Reduce::Aggregate(Aggregation::Count));
        let keys: [&[u8]; 7] = [
            b"a\0x\0", b"a\0x\0", b"a\0y\0", b"a\0x\0", b"", b"", b"a\0y\0",
        ];
        let groups: Vec<GroupId> = keys.iter().map(|key| acc.group_of_key(key)).collect();
        assert_eq!(
            groups,
            [0, 0, 1, 0, 2, 2, 1].map(GroupId),
            "ids in the order the keys were first seen"
        );
        for (group, key) in groups.iter().zip(keys) {
            acc.observe_group(*group, None, 0).expect("counted");
            assert_eq!(acc.labels(*group).key(), key);
        }
    }

    #[test]
    fn quantile_of_one_value() {
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
