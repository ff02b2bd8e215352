//! Aggregate: the values of one rule's nodes, grouped by label set, into samples.
//!
//! An engine feeds an [`Accumulator`] one observation per selected node (its label set, its
//! value, and a handle to the node for error messages); [`Accumulator::finish`] turns each group
//! into one [`Sample`]. The engine never sees how groups combine, so every engine shares the
//! same semantics for `count`, `sum`, `min`, `max`, `avg`, histograms and summaries.

use crate::model::number::format_value;
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
    /// The store's own buckets or quantiles (boxed, as rare as histograms).
    Given(Box<GivenGroup<N>>),
}

/// One node of a histogram or summary the store gives ready-made: a bucket's upper bound and
/// count, or a quantile's rank and value, with the sum and count it read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GivenPoint {
    /// The bucket's upper bound (`le`), or the quantile's rank.
    pub bound: f64,
    /// The bucket's count (its own or cumulative), or the quantile's value.
    pub value: f64,
    /// The sum of the observations, if the rule reads it.
    pub sum: Option<f64>,
    /// The number of observations, if the rule reads it.
    pub count: Option<f64>,
}

/// The nodes of one series of a ready-made histogram or summary.
#[derive(Debug, Clone)]
struct GivenGroup<N> {
    /// `(bound, value)` per node, in the order the nodes came.
    points: Vec<(f64, f64)>,
    /// The sum and count the first node read.
    sum: Option<f64>,
    count: Option<f64>,
    /// The first node, which a problem with the series names.
    node: N,
    /// Why the series is not valid, once one of its nodes showed it.
    problem: Option<String>,
}

/// A series of a ready-made histogram or summary that is not valid: the node it starts at,
/// and why (a phrase such as "two buckets have the upper bound 0.5").
#[derive(Debug, Clone, PartialEq)]
pub struct BadSeries<N> {
    /// The series' labels.
    pub labels: LabelSet,
    /// Its first node.
    pub node: N,
    /// What is wrong.
    pub why: String,
    /// How many nodes it has.
    pub nodes: usize,
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
                // Observed through `observe_given`.
                Group::Given(_) => {}
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
                    // Observed through `observe_given`: an empty group.
                    Reduce::Buckets { .. } | Reduce::Quantiles => {
                        Group::Given(Box::new(GivenGroup {
                            points: Vec::new(),
                            sum: None,
                            count: None,
                            node,
                            problem: None,
                        }))
                    }
                });
            }
        }
        Ok(Observed::Added)
    }

    /// Adds one node of a histogram or summary the store gives ready-made (`Reduce::Buckets`
    /// or `Reduce::Quantiles`) to a group found with [`Accumulator::group`]. Whether its series
    /// is valid is known only once every node is in: [`Accumulator::finish_checked`] tells.
    pub fn observe_given(&mut self, group: GroupId, point: GivenPoint, node: N) {
        let Groups::Other(groups) = &mut self.groups else {
            return;
        };
        let Some(slot) = groups.get_mut(group.0) else {
            return;
        };
        let given = match slot {
            Some(Group::Given(given)) => given,
            _ => {
                *slot = Some(Group::Given(Box::new(GivenGroup {
                    points: Vec::with_capacity(16),
                    sum: point.sum,
                    count: point.count,
                    node,
                    problem: None,
                })));
                let Some(Group::Given(given)) = slot else {
                    return;
                };
                given.points.push((point.bound, point.value));
                return;
            }
        };
        given.points.push((point.bound, point.value));
        if given.problem.is_some() {
            return;
        }
        for (key, first, this) in [
            ("sum", given.sum, point.sum),
            ("count", given.count, point.count),
        ] {
            if let (Some(first), Some(this)) = (first, this)
                && !(first == this || first.is_nan() && this.is_nan())
            {
                given.problem = Some(format!(
                    "its nodes read different values of `{key}`: {} and {}",
                    format_value(first),
                    format_value(this)
                ));
            }
        }
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
        self.finish_checked().0
    }

    /// [`Accumulator::finish`], and the series of a ready-made histogram or summary that are
    /// not valid, left out of the samples.
    pub fn finish_checked(self) -> (Samples, Vec<BadSeries<N>>) {
        if matches!(self.reduce, Reduce::Buckets { .. } | Reduce::Quantiles) {
            return self.finish_given();
        }
        (self.finish_observed(), Vec::new())
    }

    /// The samples of a ready-made histogram or summary, each series checked.
    fn finish_given(self) -> (Samples, Vec<BadSeries<N>>) {
        let Groups::Other(groups) = self.groups else {
            return (Samples::new(), Vec::new());
        };
        let mut samples = Samples::new();
        let mut bad = Vec::new();
        for (key, group) in self.labels.iter().zip(groups) {
            let Some(Group::Given(given)) = group else {
                continue;
            };
            let GivenGroup {
                points,
                sum,
                count,
                node,
                problem,
            } = *given;
            let points_len = points.len();
            let value = match problem {
                Some(why) => Err(why),
                None => match self.reduce {
                    Reduce::Buckets { cumulative } => {
                        given_histogram(points, sum, count, cumulative)
                    }
                    _ => given_summary(points, sum, count),
                },
            };
            let labels = LabelSet::from_key(key);
            let nodes = points_len;
            match value {
                Ok(value) => {
                    samples.push(Sample { labels, value });
                }
                Err(why) => bad.push(BadSeries {
                    labels,
                    node,
                    why,
                    nodes,
                }),
            }
        }
        (samples, bad)
    }

    fn finish_observed(self) -> Samples {
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
        // Finished by `finish_given`.
        Group::Given(_) => SampleValue::Single(f64::NAN),
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

/// The largest count an f64 holds exactly, and so the largest a bucket or `count` may give.
const MAX_EXACT_COUNT: f64 = 9_007_199_254_740_992.0;

/// A count read from the store as a whole number of observations, or why it is none.
fn whole_count(what: &str, value: f64) -> Result<u64, String> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= MAX_EXACT_COUNT {
        Ok(value as u64)
    } else {
        Err(format!(
            "{what} is {}; counts are whole numbers of observations, 0 or more (up to 2^53)",
            format_value(value)
        ))
    }
}

/// A histogram from the store's buckets: sorted by upper bound, each bound once, the counts
/// accumulated (or checked to be ascending when `cumulative`), and its count the `+Inf`
/// bucket's or `count`'s (both, when both are there, agreeing). Its sum is `sum`'s, or NaN,
/// as exporters write an unknown sum (node_exporter would read a missing one as 0).
fn given_histogram(
    mut points: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
    cumulative: bool,
) -> Result<SampleValue, String> {
    if let Some(&(bound, _)) = points
        .iter()
        .find(|(bound, _)| bound.is_nan() || *bound == f64::NEG_INFINITY)
    {
        return Err(format!(
            "a bucket has the upper bound {}; bounds are numbers or +Inf",
            format_value(bound)
        ));
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(pair) = points.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(format!(
            "two buckets have the upper bound {}",
            format_value(pair[0].0)
        ));
    }
    let mut buckets = Vec::with_capacity(points.len());
    let mut total: u64 = 0;
    let mut below: Option<f64> = None;
    let mut inf = None;
    for &(le, value) in &points {
        let n = whole_count(
            &format!("the count of bucket le=\"{}\"", format_value(le)),
            value,
        )?;
        let cumulated = if cumulative {
            if n < total {
                return Err(format!(
                    "the count of bucket le=\"{}\" ({n}) is below the {total} of bucket \
                     le=\"{}\" under it, so the counts are not cumulative; if each bucket \
                     counts only its own range, set `cumulative: false`",
                    format_value(le),
                    below.map_or_else(String::new, format_value)
                ));
            }
            n
        } else {
            total
                .checked_add(n)
                .filter(|&t| t as f64 <= MAX_EXACT_COUNT)
                .ok_or_else(|| "the buckets count more than 2^53 observations in all".to_owned())?
        };
        total = cumulated;
        below = Some(le);
        if le == f64::INFINITY {
            inf = Some(cumulated);
        } else {
            buckets.push((le, cumulated));
        }
    }
    let count = match (inf, count) {
        (Some(inf), Some(count)) => {
            let count = whole_count("`count`", count)?;
            if count != inf {
                return Err(format!(
                    "the +Inf bucket counts {inf} observations and `count` gives {count}; they \
                     are the same number in a histogram"
                ));
            }
            count
        }
        (Some(inf), None) => inf,
        (None, Some(count)) => {
            let count = whole_count("`count`", count)?;
            if count < total {
                return Err(format!(
                    "`count` gives {count}, fewer than the {total} observations of bucket \
                     le=\"{}\"",
                    below.map_or_else(String::new, format_value)
                ));
            }
            count
        }
        (None, None) => {
            return Err(
                "no bucket has the upper bound +Inf, and the rule reads no `count`: the number \
                 of all observations is not known; read it with `count`, or select the store's \
                 +Inf bucket too"
                    .to_owned(),
            );
        }
    };
    Ok(SampleValue::Histogram(Box::new(Histogram {
        buckets,
        sum: sum.unwrap_or(f64::NAN),
        count,
    })))
}

/// A summary from the store's quantiles: sorted by rank, each rank once and in [0, 1], its
/// count `count`'s (which the compiler requires) and its sum `sum`'s or NaN.
fn given_summary(
    mut points: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
) -> Result<SampleValue, String> {
    if let Some(&(rank, _)) = points.iter().find(|(rank, _)| !(0.0..=1.0).contains(rank)) {
        return Err(format!(
            "a quantile has the rank {}; ranks are between 0 and 1 (the 99th percentile is \
             0.99: `convert: {{divide: 100}}` turns 99 into it)",
            format_value(rank)
        ));
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(pair) = points.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(format!(
            "two quantiles have the rank {}",
            format_value(pair[0].0)
        ));
    }
    let count = whole_count("`count`", count.unwrap_or(f64::NAN))?;
    Ok(SampleValue::Summary(Box::new(Summary {
        quantiles: points,
        sum: sum.unwrap_or(f64::NAN),
        count,
    })))
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

    fn given(reduce: Reduce, points: &[(&str, GivenPoint)]) -> (Vec<Sample>, Vec<String>) {
        let mut acc = Accumulator::new(&reduce);
        for (i, (kind, point)) in points.iter().enumerate() {
            let group = acc.group(&labels(kind));
            acc.observe_given(group, *point, i);
        }
        let (samples, bad) = acc.finish_checked();
        let mut samples = samples.to_vec();
        samples.sort_by(|a, b| a.labels.cmp(&b.labels));
        (samples, bad.into_iter().map(|bad| bad.why).collect())
    }

    fn bucket(le: f64, n: f64) -> GivenPoint {
        GivenPoint {
            bound: le,
            value: n,
            sum: None,
            count: None,
        }
    }

    fn histogram_of(sample: &Sample) -> &Histogram {
        match &sample.value {
            SampleValue::Histogram(h) => h,
            other => panic!("expected a histogram, got {other:?}"),
        }
    }

    #[test]
    fn given_buckets_accumulate_in_bound_order() {
        let inf = f64::INFINITY;
        // Out of order, as a JSON map or a store may list them.
        let points = [
            ("a", bucket(0.5, 3.0)),
            ("a", bucket(inf, 4.0)),
            ("a", bucket(0.1, 2.0)),
            ("b", bucket(0.1, 0.0)),
            ("b", bucket(inf, 0.0)),
        ];
        let (samples, bad) = given(Reduce::Buckets { cumulative: false }, &points);
        assert!(bad.is_empty(), "{bad:?}");
        let a = histogram_of(&samples[0]);
        assert_eq!(a.buckets, vec![(0.1, 2), (0.5, 5)]);
        assert_eq!(a.count, 9);
        assert!(a.sum.is_nan(), "an unknown sum is NaN, not 0");
        assert_eq!(histogram_of(&samples[1]).count, 0);
    }

    #[test]
    fn given_cumulative_buckets_are_taken_as_they_are() {
        let points = [
            (
                "a",
                GivenPoint {
                    sum: Some(4.5),
                    count: Some(9.0),
                    ..bucket(0.1, 2.0)
                },
            ),
            (
                "a",
                GivenPoint {
                    sum: Some(4.5),
                    count: Some(9.0),
                    ..bucket(0.5, 5.0)
                },
            ),
        ];
        let (samples, bad) = given(Reduce::Buckets { cumulative: true }, &points);
        assert!(bad.is_empty(), "{bad:?}");
        let a = histogram_of(&samples[0]);
        assert_eq!(a.buckets, vec![(0.1, 2), (0.5, 5)]);
        assert_eq!((a.count, a.sum), (9, 4.5));
    }

    #[test]
    fn given_buckets_that_do_not_make_a_histogram_are_refused() {
        let inf = f64::INFINITY;
        let cases: Vec<(Reduce, Vec<GivenPoint>, &str)> = vec![
            (
                Reduce::Buckets { cumulative: false },
                vec![bucket(0.1, 1.0), bucket(0.1, 2.0), bucket(inf, 0.0)],
                "two buckets have the upper bound 0.1",
            ),
            (
                Reduce::Buckets { cumulative: true },
                vec![bucket(0.1, 5.0), bucket(0.5, 3.0), bucket(inf, 5.0)],
                "the count of bucket le=\"0.5\" (3) is below the 5 of bucket le=\"0.1\"",
            ),
            (
                Reduce::Buckets { cumulative: false },
                vec![bucket(0.1, 1.0), bucket(0.5, 2.0)],
                "no bucket has the upper bound +Inf, and the rule reads no `count`",
            ),
            (
                Reduce::Buckets { cumulative: false },
                vec![bucket(0.1, 1.5), bucket(inf, 2.0)],
                "the count of bucket le=\"0.1\" is 1.5; counts are whole numbers",
            ),
            (
                Reduce::Buckets { cumulative: false },
                vec![bucket(0.1, -1.0), bucket(inf, 2.0)],
                "the count of bucket le=\"0.1\" is -1",
            ),
            (
                Reduce::Buckets { cumulative: false },
                vec![bucket(f64::NAN, 1.0), bucket(inf, 2.0)],
                "a bucket has the upper bound NaN",
            ),
            (
                Reduce::Buckets { cumulative: false },
                vec![
                    GivenPoint {
                        count: Some(2.0),
                        ..bucket(0.1, 1.0)
                    },
                    GivenPoint {
                        count: Some(2.0),
                        ..bucket(inf, 2.0)
                    },
                ],
                "the +Inf bucket counts 3 observations and `count` gives 2",
            ),
            (
                Reduce::Buckets { cumulative: true },
                vec![
                    GivenPoint {
                        count: Some(1.0),
                        ..bucket(0.1, 1.0)
                    },
                    GivenPoint {
                        count: Some(1.0),
                        ..bucket(0.5, 2.0)
                    },
                ],
                "`count` gives 1, fewer than the 2 observations of bucket le=\"0.5\"",
            ),
            (
                Reduce::Buckets { cumulative: true },
                vec![
                    GivenPoint {
                        sum: Some(1.0),
                        ..bucket(0.1, 1.0)
                    },
                    GivenPoint {
                        sum: Some(2.0),
                        ..bucket(inf, 2.0)
                    },
                ],
                "its nodes read different values of `sum`: 1 and 2",
            ),
            (
                Reduce::Quantiles,
                vec![GivenPoint {
                    count: Some(1.0),
                    ..bucket(99.0, 1.0)
                }],
                "a quantile has the rank 99; ranks are between 0 and 1",
            ),
            (
                Reduce::Quantiles,
                vec![
                    GivenPoint {
                        count: Some(1.0),
                        ..bucket(0.5, 1.0)
                    },
                    GivenPoint {
                        count: Some(1.0),
                        ..bucket(0.5, 2.0)
                    },
                ],
                "two quantiles have the rank 0.5",
            ),
        ];
        for (reduce, points, expected) in cases {
            let points: Vec<(&str, GivenPoint)> = points.into_iter().map(|p| ("a", p)).collect();
            let (samples, bad) = given(reduce, &points);
            assert!(samples.is_empty(), "{expected}: {samples:?}");
            assert_eq!(bad.len(), 1, "{expected}");
            assert!(
                bad[0].starts_with(expected),
                "{:?} does not start with {expected:?}",
                bad[0]
            );
        }
    }

    #[test]
    fn given_quantiles_make_a_summary() {
        let point = |q: f64, v: f64| GivenPoint {
            bound: q,
            value: v,
            sum: Some(120.0),
            count: Some(40.0),
        };
        let points = [("a", point(0.99, 9.5)), ("a", point(0.5, 2.0))];
        let (samples, bad) = given(Reduce::Quantiles, &points);
        assert!(bad.is_empty(), "{bad:?}");
        let SampleValue::Summary(summary) = &samples[0].value else {
            panic!("expected a summary");
        };
        assert_eq!(summary.quantiles, vec![(0.5, 2.0), (0.99, 9.5)]);
        assert_eq!((summary.sum, summary.count), (120.0, 40));
    }

    #[test]
    fn quantile_of_one_value() {
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
