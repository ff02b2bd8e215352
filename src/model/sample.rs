//! Samples: what evaluation hands to the exposition writer.
//!
//! Evaluation turns each rule into [`Sample`]s (a label set and a value); [`Families`] gathers
//! them into [`MetricFamily`]s by metric name, keeps families and series sorted so output is
//! stable, and refuses a second sample for a series that already has one.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use crate::model::names::MetricName;

/// The Prometheus metric type of a family, as written in `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// A value that can go up and down.
    Gauge,
    /// A value that only goes up.
    Counter,
    /// Observations counted into cumulative buckets, with `_sum` and `_count`.
    Histogram,
    /// Quantiles of observations, with `_sum` and `_count`.
    Summary,
}

impl MetricType {
    /// The word used in `# TYPE` lines and in the rule file.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauge",
            MetricType::Counter => "counter",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Label pairs of one series, sorted by name, without empty values.
///
/// Prometheus treats a label with an empty value as absent, so `{kind=""}` and `{}` are the same
/// series; dropping empty values here makes that equality structural.
///
/// The pairs are kept as one byte string (see [`encode_text`]): each name, then each value,
/// ended by a zero byte. That is one allocation per series instead of two per label, it hashes
/// and compares as plain bytes, and byte order is the order of the pairs themselves (by name,
/// then value, a shorter list first), so families sort their series on these bytes.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelSet(Box<[u8]>);

impl LabelSet {
    /// Builds a label set from pairs; empty values are dropped, names are sorted.
    ///
    /// Names must be unique; the compiler guarantees it for rule labels.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> LabelSet {
        let mut pairs: Vec<(String, String)> =
            pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        pairs.sort();
        let mut key = Vec::new();
        for (name, value) in &pairs {
            encode_pair(&mut key, name, value);
        }
        LabelSet(key.into_boxed_slice())
    }

    /// The set without labels.
    pub fn empty() -> LabelSet {
        LabelSet::default()
    }

    /// The label set whose encoding is `key`, as [`encode_pair`] writes it pair by pair, in
    /// name order, without empty values.
    pub fn from_key(key: &[u8]) -> LabelSet {
        LabelSet(key.into())
    }

    /// The encoded pairs: what the set hashes, compares and sorts on.
    pub fn key(&self) -> &[u8] {
        &self.0
    }

    /// The pairs, sorted by label name.
    pub fn pairs(&self) -> Pairs<'_> {
        Pairs(&self.0)
    }

    /// These labels and `extra` (whose names must be new to the set) as one set.
    pub fn with(&self, extra: &[(String, String)]) -> LabelSet {
        if extra.iter().all(|(_, value)| value.is_empty()) {
            return self.clone();
        }
        let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = self.pairs().collect();
        pairs.extend(
            extra
                .iter()
                .filter(|(_, value)| !value.is_empty())
                .map(|(name, value)| (Cow::Borrowed(name.as_str()), Cow::Borrowed(value.as_str()))),
        );
        pairs.sort();
        let mut key = Vec::with_capacity(self.0.len() + 32);
        for (name, value) in &pairs {
            encode_pair(&mut key, name, value);
        }
        LabelSet(key.into_boxed_slice())
    }

    /// The label set for a message, bounded whatever the input gave: each value cut at 200
    /// characters, at most 16 labels, then `... and N more`.
    ///
    /// ```
    /// # use xml2prom::model::sample::LabelSet;
    /// let labels = LabelSet::new([("id".to_owned(), "x".repeat(300))]);
    /// assert_eq!(labels.for_message(),
    ///            format!("{{id=\"{}… (100 more characters)\"}}", "x".repeat(200)));
    /// ```
    pub fn for_message(&self) -> String {
        const MAX_LABELS: usize = 16;
        const MAX_VALUE: usize = 200;
        // A templated metric name travels as the pseudo-label `__name__`: shown before the
        // braces, as Prometheus writes a series.
        let name = self
            .pairs()
            .find(|(label, _)| label == crate::model::names::METRIC_NAME_LABEL)
            .map_or_else(String::new, |(_, name)| {
                crate::model::number::shorten_to(&name, MAX_VALUE)
            });
        let mut shown: Vec<String> = self
            .pairs()
            .filter(|(label, _)| label != crate::model::names::METRIC_NAME_LABEL)
            .take(MAX_LABELS)
            .map(|(name, value)| {
                let value = crate::model::number::shorten_to(&value, MAX_VALUE);
                format!(
                    "{}={value:?}",
                    crate::model::number::shorten_to(&name, MAX_VALUE)
                )
            })
            .collect();
        let count = self.pairs().count() - usize::from(!name.is_empty());
        if count > MAX_LABELS {
            shown.push(format!("... and {} more", count - MAX_LABELS));
        }
        format!("{name}{{{}}}", shown.join(","))
    }
}

impl fmt::Display for LabelSet {
    /// Writes the label set as PromQL would show it: `{kind="a",path="/x"}`, or `{}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (name, value)) in self.pairs().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{name}={value:?}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for LabelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LabelSet({self})")
    }
}

/// Appends one label pair to an encoded label set: the name, then the value, each as
/// [`encode_text`] writes it. Pairs must come in name order, without empty values.
pub fn encode_pair(key: &mut Vec<u8>, name: &str, value: &str) {
    encode_text(key, name.as_bytes());
    encode_text(key, value.as_bytes());
}

/// Appends one text of an encoded label set: its bytes, with 0x00 written as 0x01 0x01 and
/// 0x01 as 0x01 0x02, then a zero byte. The zero byte sorts before any byte of a text, and the
/// escapes keep the order of the bytes they stand for, so encoded sets compare as their pairs.
pub fn encode_text(key: &mut Vec<u8>, text: &[u8]) {
    if !has_low_byte(text) {
        key.extend_from_slice(text);
    } else {
        for &byte in text {
            match byte {
                0 => key.extend_from_slice(&[1, 1]),
                1 => key.extend_from_slice(&[1, 2]),
                byte => key.push(byte),
            }
        }
    }
    key.push(0);
}

/// Whether two byte strings are equal, for the short ones that names, label values and label
/// set keys mostly are: up to 16 bytes are compared with two loads each, which may overlap,
/// in place of a call to compare memory that costs more than such a string.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    fn word<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
        bytes
            .get(at..at + N)
            .and_then(|part| part.try_into().ok())
            .unwrap_or([0; N])
    }
    match len {
        0 => true,
        1..=3 => a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1],
        4..=8 => {
            word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, len - 4) == word::<4>(b, len - 4)
        }
        9..=16 => {
            word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, len - 8) == word::<8>(b, len - 8)
        }
        _ => a == b,
    }
}

/// Whether a text holds a byte 0x00 or 0x01, which [`encode_text`] escapes: tested eight bytes
/// at a time (a byte below 2 sets its high bit in `(word - 0x02..02) & !word & 0x80..80`, and
/// a borrow can set only bits above such a byte), the rest byte by byte.
fn has_low_byte(text: &[u8]) -> bool {
    const TWOS: u64 = 0x0202_0202_0202_0202;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut words = text.chunks_exact(8);
    for chunk in &mut words {
        // A chunk is eight bytes: the zeros (which would be escaped) are never used.
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default());
        if word.wrapping_sub(TWOS) & !word & HIGHS != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&byte| byte < 2)
}

/// One text of an encoded label set, as it was before [`encode_text`].
fn decode_text(text: &[u8]) -> Cow<'_, [u8]> {
    if !text.contains(&1) {
        return Cow::Borrowed(text);
    }
    let mut decoded = Vec::with_capacity(text.len());
    let mut bytes = text.iter();
    while let Some(&byte) = bytes.next() {
        match byte {
            1 => decoded.push(bytes.next().map_or(0, |&next| next - 1)),
            byte => decoded.push(byte),
        }
    }
    Cow::Owned(decoded)
}

/// Text decoded from a label set: it was UTF-8 when encoded, so nothing is ever replaced.
fn decoded_str(text: Cow<'_, [u8]>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(bytes) => String::from_utf8_lossy(bytes),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// The pairs of an encoded label set as bytes, decoded: `(name, value)`, in name order.
#[derive(Debug, Clone)]
pub struct BytePairs<'a>(&'a [u8]);

impl<'a> BytePairs<'a> {
    /// The pairs of a label set's [`LabelSet::key`].
    pub fn of(key: &'a [u8]) -> BytePairs<'a> {
        BytePairs(key)
    }

    /// The next text, decoded, or `None` at the end.
    fn text(&mut self) -> Option<Cow<'a, [u8]>> {
        if self.0.is_empty() {
            return None;
        }
        // One pass finds the end of the text and whether it holds an escape: label texts are
        // short, so a plain loop beats memchr's setup.
        let mut end = 0;
        let mut escaped = false;
        for &byte in self.0 {
            match byte {
                0 => break,
                1 => escaped = true,
                _ => {}
            }
            end += 1;
        }
        let text = self.0.get(..end).unwrap_or_default();
        self.0 = self.0.get(end + 1..).unwrap_or_default();
        Some(if escaped {
            decode_text(text)
        } else {
            Cow::Borrowed(text)
        })
    }
}

impl<'a> Iterator for BytePairs<'a> {
    type Item = (Cow<'a, [u8]>, Cow<'a, [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let name = self.text()?;
        let value = self.text().unwrap_or_default();
        Some((name, value))
    }
}

/// The pairs of a label set as text: `(name, value)`, in name order.
#[derive(Debug, Clone)]
pub struct Pairs<'a>(&'a [u8]);

impl<'a> Iterator for Pairs<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut bytes = BytePairs(self.0);
        let (name, value) = bytes.next()?;
        self.0 = bytes.0;
        Some((decoded_str(name), decoded_str(value)))
    }
}

/// Byte strings stored once each, in one buffer, with a dense id in the order they came: the
/// label sets of a family or of a rule's groups, found again by their bytes without copying
/// them. About 16 bytes besides the bytes themselves per key, and two allocations in all.
#[derive(Debug, Default, Clone)]
pub struct KeySet {
    /// Every key, one after the other.
    bytes: Vec<u8>,
    /// Where each key ends in `bytes` (it starts where the one before ends).
    ends: Vec<usize>,
    /// Each key's hash (its low 32 bits), to probe and to grow without hashing again.
    hashes: Vec<u32>,
    /// Open addressing, linear probing: 0 is empty, else the key's id + 1. A power of two long,
    /// at most three quarters full.
    slots: Vec<u32>,
    /// Keys past the 2^32 - 1 that `slots` can name (only in theory: that is hundreds of
    /// gigabytes of keys), by their bytes.
    overflow: rustc_hash::FxHashMap<Box<[u8]>, usize>,
}

impl KeySet {
    /// The number of keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The keys in id order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let key = self.bytes.get(start..end).unwrap_or_default();
            start = end;
            key
        })
    }

    /// The bytes of key `id` (empty for an id that is not one).
    pub fn get(&self, id: usize) -> &[u8] {
        let start = match id.checked_sub(1) {
            Some(before) => self.ends.get(before).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(id).copied().unwrap_or(start);
        self.bytes.get(start..end).unwrap_or_default()
    }

    fn hash(key: &[u8]) -> u32 {
        use std::hash::Hasher;
        let mut hasher = rustc_hash::FxHasher::default();
        hasher.write(key);
        let hash = hasher.finish();
        // Fold the high bits in: FxHasher's are the better mixed.
        (hash ^ (hash >> 32)) as u32
    }

    /// The id of `key`, if it is there.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        self.find_hashed(key, Self::hash(key))
    }

    fn find_hashed(&self, key: &[u8], hash: u32) -> Option<usize> {
        if !self.slots.is_empty() {
            let mask = self.slots.len() - 1;
            let mut slot = hash as usize & mask;
            loop {
                let id = (*self.slots.get(slot)? as usize).checked_sub(1)?;
                if self.hashes.get(id) == Some(&hash) && same_bytes(self.get(id), key) {
                    return Some(id);
                }
                slot = (slot + 1) & mask;
            }
        }
        if self.overflow.is_empty() {
            None
        } else {
            self.overflow.get(key).copied()
        }
    }

    /// The id of `key`, and whether it is new (added with the next id).
    pub fn insert(&mut self, key: &[u8]) -> (usize, bool) {
        let hash = Self::hash(key);
        if let Some(id) = self.find_hashed(key, hash) {
            return (id, false);
        }
        let id = self.ends.len();
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
        self.hashes.push(hash);
        match u32::try_from(id + 1) {
            Ok(filled) if filled < u32::MAX => {
                if (id + 1) * 4 > self.slots.len() * 3 {
                    self.grow();
                }
                self.place(id, filled);
            }
            _ => {
                self.overflow.insert(key.into(), id);
            }
        }
        (id, true)
    }

    /// Puts key `id` (stored as `filled`, its id + 1) in its slot.
    fn place(&mut self, id: usize, filled: u32) {
        let mask = self.slots.len() - 1;
        let mut slot = self.hashes.get(id).copied().unwrap_or(0) as usize & mask;
        while let Some(taken) = self.slots.get(slot)
            && *taken != 0
        {
            slot = (slot + 1) & mask;
        }
        if let Some(free) = self.slots.get_mut(slot) {
            *free = filled;
        }
    }

    /// Doubles the slots and places every key again.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        self.slots = vec![0; size];
        for id in 0..self.ends.len().min(u32::MAX as usize - 1) {
            self.place(id, id as u32 + 1);
        }
    }
}

impl KeySet {
    /// Drops what finds keys by their bytes, for a set that is only read by id from now on
    /// and [`KeySet::truncate`]d: [`KeySet::find`] finds nothing, and nothing should be
    /// inserted any more.
    pub fn forget_index(&mut self) {
        self.hashes = Vec::new();
        self.slots = Vec::new();
        self.overflow = rustc_hash::FxHashMap::default();
    }

    /// Keeps the first `len` keys only; the set must have no index
    /// ([`KeySet::forget_index`]).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.ends.len() {
            return;
        }
        self.ends.truncate(len);
        self.bytes.truncate(self.ends.last().copied().unwrap_or(0));
    }

    /// Gives back the memory that the keys no longer use.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

impl PartialEq for KeySet {
    /// The same keys in the same order.
    fn eq(&self, other: &KeySet) -> bool {
        self.bytes == other.bytes && self.ends == other.ends
    }
}

/// The value of one series.
///
/// A gauge or counter value is held inline; the rarer histograms and summaries are boxed, so
/// that a sample of a family with hundreds of thousands of series stays small.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    /// A gauge or counter value.
    Single(f64),
    /// A histogram.
    Histogram(Box<Histogram>),
    /// A summary.
    Summary(Box<Summary>),
}

/// The value of a histogram series: cumulative counts per upper bound, sum, count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// `(le, cumulative count)` for each configured bucket, ascending by `le` (`+Inf`
    /// excluded).
    pub buckets: Vec<(f64, u64)>,
    /// Sum of all observations.
    pub sum: f64,
    /// Number of observations; also the `+Inf` bucket.
    pub count: u64,
}

/// The value of a summary series: `(quantile, value)` pairs, sum, count.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// `(quantile, value)` for each configured quantile, ascending by quantile.
    pub quantiles: Vec<(f64, f64)>,
    /// Sum of all observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

/// One series of a family: its labels and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: LabelSet,
    /// The series' value.
    pub value: SampleValue,
}

/// The samples of one rule over one input: distinct label sets, each with its value, in the
/// order they came.
///
/// The label sets sit in one [`KeySet`], which [`Families::add_all`] hands whole to a family
/// that has no series yet: the series of a rule with one per node are stored once, without an
/// allocation each.
#[derive(Default, Clone, PartialEq)]
pub struct Samples {
    /// The label sets, by sample id.
    labels: KeySet,
    /// The values, by sample id.
    values: Vec<SampleValue>,
}

impl Samples {
    /// No samples.
    pub fn new() -> Samples {
        Samples::default()
    }

    /// The samples whose label sets are the keys of `labels` (distinct, as a [`KeySet`]'s
    /// are), each with the value of its id; keys without a value are left out.
    pub fn from_parts(mut labels: KeySet, mut values: Vec<SampleValue>) -> Samples {
        if labels.len() != values.len() {
            let len = labels.len().min(values.len());
            labels.forget_index();
            labels.truncate(len);
            let mut indexed = KeySet::default();
            for key in labels.iter() {
                indexed.insert(key);
            }
            labels = indexed;
            values.truncate(len);
        }
        Samples { labels, values }
    }

    /// Adds a sample; `false`, and nothing added, if its label set already has one.
    pub fn push(&mut self, sample: Sample) -> bool {
        let (_, new) = self.labels.insert(sample.labels.key());
        if new {
            self.values.push(sample.value);
        }
        new
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The samples as `(label set key, value)`, in the order they came.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &SampleValue)> {
        self.labels.iter().zip(&self.values)
    }

    /// The samples one by one, each with its own label set.
    pub fn to_vec(&self) -> Vec<Sample> {
        self.iter()
            .map(|(key, value)| Sample {
                labels: LabelSet::from_key(key),
                value: value.clone(),
            })
            .collect()
    }

    /// The samples with `extra` labels (whose names must be new to every set) added to each.
    pub fn with_labels(self, extra: &[(String, String)]) -> Samples {
        if extra.iter().all(|(_, value)| value.is_empty()) {
            return self;
        }
        let mut labelled = KeySet::default();
        for key in self.labels.iter() {
            labelled.insert(LabelSet::from_key(key).with(extra).key());
        }
        Samples::from_parts(labelled, self.values)
    }
}

impl fmt::Debug for Samples {
    /// As the list of samples.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.to_vec()).finish()
    }
}

impl From<Vec<Sample>> for Samples {
    /// The samples in order; a second sample for a label set is left out.
    fn from(samples: Vec<Sample>) -> Samples {
        let mut all = Samples::new();
        for sample in samples {
            all.push(sample);
        }
        all
    }
}

impl FromIterator<Sample> for Samples {
    fn from_iter<I: IntoIterator<Item = Sample>>(samples: I) -> Samples {
        let mut all = Samples::new();
        for sample in samples {
            all.push(sample);
        }
        all
    }
}

/// Where a sample came from, for error messages about duplicate series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The rule's position in the rule file, e.g. `metrics[2]` (shared: one per rule).
    pub rule: Arc<str>,
    /// The input file the sample was computed from (shared: one per input).
    pub input: Arc<str>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} on {}", self.rule, self.input)
    }
}

/// A metric family: name, HELP, TYPE and its series.
///
/// Each series is its label set's bytes in one shared buffer ([`KeySet`]), its value and the
/// index of its origin: about the size of its exposition line, without a per-series
/// allocation. [`MetricFamily::sorted`] puts them in label-set order when they are written.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The metric name.
    pub name: MetricName,
    /// The HELP text, unescaped.
    pub help: String,
    /// The TYPE.
    pub kind: MetricType,
    /// The label sets of the series, by series id.
    labels: KeySet,
    /// The values, by series id.
    values: Vec<SampleValue>,
    /// The origins as runs: from series id `.0` on (up to the next run), the origin at index
    /// `.1` of [`Families`]' origins. Series come rule by rule and input by input, so a family
    /// has a run or a few, not a number per series.
    origins: Vec<(usize, u32)>,
}

impl MetricFamily {
    /// The number of series.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the family has no series.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Adds a series from origin `origin`; `Err` with the origin of the series it already
    /// has with these labels.
    fn insert(&mut self, key: &[u8], value: SampleValue, origin: u32) -> Result<(), u32> {
        let (id, new) = self.labels.insert(key);
        if !new {
            return Err(self.origin_of(id));
        }
        self.values.push(value);
        if self.origins.last().is_none_or(|&(_, last)| last != origin) {
            self.origins.push((id, origin));
        }
        Ok(())
    }

    /// The origin index of series `id`.
    fn origin_of(&self, id: usize) -> u32 {
        let run = self.origins.partition_point(|&(first, _)| first <= id);
        run.checked_sub(1)
            .and_then(|run| self.origins.get(run))
            .map_or(u32::MAX, |&(_, origin)| origin)
    }

    /// The length of the longest prefix that the keys of all series share.
    fn common_prefix(&self) -> usize {
        let first = self.labels.get(0);
        let mut common = first.len();
        for id in 1..self.labels.len() {
            let key = self.labels.get(id);
            common = first
                .iter()
                .zip(key)
                .take(common)
                .take_while(|(a, b)| a == b)
                .count();
            if common == 0 {
                break;
            }
        }
        common
    }

    /// The series as `(label set key, value)`, sorted by label set (see [`LabelSet::key`]
    /// and [`BytePairs`]).
    pub fn sorted(&self) -> impl Iterator<Item = (&[u8], &SampleValue)> {
        // The bytes every key starts with (`kind\0k0` for kinds k000000 to k099999) decide
        // nothing; the next eight bytes of each key, as a number, decide most comparisons
        // without reading the keys, and equal ones compare the rest. Keys are distinct, so an
        // unstable sort gives the one order.
        let common = self.common_prefix();
        let rest = |id: usize| self.labels.get(id).get(common..).unwrap_or_default();
        let head = |key: &[u8]| {
            let mut head = [0u8; 8];
            for (to, from) in head.iter_mut().zip(key) {
                *to = *from;
            }
            u64::from_be_bytes(head)
        };
        let mut order: Vec<(u64, usize)> = (0..self.values.len())
            .map(|id| (head(rest(id)), id))
            .collect();
        order.sort_unstable_by(|&(a_head, a), &(b_head, b)| {
            a_head.cmp(&b_head).then_with(|| rest(a).cmp(rest(b)))
        });
        order.into_iter().filter_map(move |(_, id)| {
            let value = self.values.get(id)?;
            Some((self.labels.get(id), value))
        })
    }
}

/// Two samples for the same series: the output would have a duplicate line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "two samples for the series `{name}{}`: one from {first}, one from {second}; \
     add a label that tells them apart (for several inputs, e.g. path=\"{{{{ input.path }}}}\")",
    labels.for_message()
)]
pub struct DuplicateSeries {
    /// The metric name.
    pub name: String,
    /// The label set both samples have.
    pub labels: LabelSet,
    /// Where the first sample came from.
    pub first: Origin,
    /// Where the second sample came from.
    pub second: Origin,
}

/// All families of one output, sorted by name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Families {
    families: BTreeMap<String, MetricFamily>,
    /// Every distinct origin, in the order first seen: samples refer to them by index.
    origins: Vec<Origin>,
}

impl Families {
    /// An empty collection.
    pub fn new() -> Families {
        Families::default()
    }

    /// Adds a sample to the family `name`, creating the family on first use.
    ///
    /// The compiler has already checked that every rule sharing a name agrees on HELP and TYPE,
    /// so the first rule's HELP and TYPE stand for the family.
    pub fn add(
        &mut self,
        name: &MetricName,
        help: &str,
        kind: MetricType,
        sample: Sample,
        origin: Origin,
    ) -> Result<(), Box<DuplicateSeries>> {
        let index = self.origin_index(origin);
        let family = self.family(name, help, kind);
        family
            .insert(sample.labels.key(), sample.value, index)
            .map_err(|first| self.duplicate(name, sample.labels.key(), first, index))
    }

    /// Adds one rule's samples to the family `name`, as [`Families::add`] adds each: a family
    /// without series yet takes their label sets whole. At the first sample whose series the
    /// family already has, stops with the error (the samples before it are added).
    pub fn add_all(
        &mut self,
        name: &MetricName,
        help: &str,
        kind: MetricType,
        samples: Samples,
        origin: Origin,
    ) -> Result<(), Box<DuplicateSeries>> {
        if samples.is_empty() {
            return Ok(());
        }
        let index = self.origin_index(origin);
        let family = self.family(name, help, kind);
        if family.is_empty() {
            family.labels = samples.labels;
            family.values = samples.values;
            family.origins = vec![(0, index)];
            return Ok(());
        }
        let Samples { labels, values } = samples;
        for (key, value) in labels.iter().zip(values) {
            if let Err(first) = family.insert(key, value, index) {
                return Err(self.duplicate(name, key, first, index));
            }
        }
        Ok(())
    }

    /// The index of `origin` among the origins, added if new.
    fn origin_index(&mut self, origin: Origin) -> u32 {
        // Samples come rule by rule and input by input: the origin is almost always the last.
        let index = match self.origins.iter().rposition(|known| *known == origin) {
            Some(index) => index,
            None => {
                self.origins.push(origin);
                self.origins.len() - 1
            }
        };
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    /// The family `name`, created empty on first use.
    fn family(&mut self, name: &MetricName, help: &str, kind: MetricType) -> &mut MetricFamily {
        self.families
            .entry(name.as_str().to_owned())
            .or_insert_with(|| MetricFamily {
                name: name.clone(),
                help: help.to_owned(),
                kind,
                labels: KeySet::default(),
                values: Vec::new(),
                origins: Vec::new(),
            })
    }

    /// The error for a second sample of series `key`, whose first came from origin index
    /// `first`.
    fn duplicate(
        &self,
        name: &MetricName,
        key: &[u8],
        first: u32,
        second: u32,
    ) -> Box<DuplicateSeries> {
        let origin = |index: u32| self.origins.get(index as usize).cloned();
        let second = origin(second).unwrap_or_else(|| Origin {
            rule: "".into(),
            input: "".into(),
        });
        let first = origin(first).unwrap_or_else(|| second.clone());
        Box::new(DuplicateSeries {
            name: name.as_str().to_owned(),
            labels: LabelSet::from_key(key),
            first,
            second,
        })
    }

    /// The family `name`, with the origin of its first series, if it has one.
    pub fn family_named(&self, name: &str) -> Option<(&MetricFamily, Option<&Origin>)> {
        let family = self.families.get(name)?;
        let origin = family
            .origins
            .first()
            .and_then(|&(_, index)| self.origins.get(index as usize));
        Some((family, origin))
    }

    /// The families in name order.
    pub fn iter(&self) -> impl Iterator<Item = &MetricFamily> {
        self.families.values()
    }

    /// The number of samples (series) across all families.
    pub fn series_count(&self) -> usize {
        self.families.values().map(MetricFamily::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> MetricName {
        MetricName::parse(s).expect("valid test name")
    }

    #[test]
    fn low_bytes_are_found_at_every_place_of_every_length() {
        for len in 0..40 {
            for fill in [b'a', 2, 0x7f, 0x80, 0x81, 0xfe, 0xff] {
                let text = vec![fill; len];
                assert!(!has_low_byte(&text), "{len} {fill}");
                for at in 0..len {
                    for low in [0, 1] {
                        let mut text = text.clone();
                        text[at] = low;
                        assert!(has_low_byte(&text), "{len} {fill} {at} {low}");
                    }
                    let mut text = text.clone();
                    text[at] = 2;
                    assert!(!has_low_byte(&text), "{len} {fill} {at}");
                }
            }
        }
    }

    #[test]
    fn same_bytes_tells_what_equality_tells_at_every_length() {
        for len in 0..40 {
            let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_bytes(&a, &a.clone()), "{len}");
            for other in 0..40 {
                let b: Vec<u8> = (0..other).map(|i| b'a' + (i % 26) as u8).collect();
                assert_eq!(same_bytes(&a, &b), len == other, "{len} {other}");
            }
            // A difference at any one place.
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "{len} {at}");
            }
        }
    }

    fn origin(rule: &str) -> Origin {
        Origin {
            rule: rule.into(),
            input: "store.xml".into(),
        }
    }

    #[test]
    fn empty_label_values_are_dropped_and_names_sorted() {
        let set = LabelSet::new([
            ("z".to_owned(), "1".to_owned()),
            ("a".to_owned(), "".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]);
        assert_eq!(set.to_string(), r#"{b="2",z="1"}"#);
        assert_eq!(
            set,
            LabelSet::new([("b".into(), "2".into()), ("z".into(), "1".into())])
        );
    }

    #[test]
    fn label_sets_keep_any_text_and_compare_as_their_pairs() {
        let texts = [
            "",
            "a",
            "a\u{0}",
            "a\u{1}",
            "a\u{1}\u{0}",
            "a\u{2}",
            "ab",
            "b",
            "é",
        ];
        let mut sets = Vec::new();
        for name in ["a", "a1", "b"] {
            for value in texts.iter().filter(|t| !t.is_empty()) {
                for other in texts {
                    let pairs = vec![
                        (name.to_owned(), (*value).to_owned()),
                        ("z".to_owned(), (*other).to_owned()),
                    ];
                    let set = LabelSet::new(pairs.clone());
                    let kept: Vec<(String, String)> =
                        pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
                    let back: Vec<(String, String)> = set
                        .pairs()
                        .map(|(n, v)| (n.into_owned(), v.into_owned()))
                        .collect();
                    assert_eq!(back, kept);
                    sets.push((kept, set));
                }
            }
        }
        for (a_pairs, a) in &sets {
            for (b_pairs, b) in &sets {
                assert_eq!(a.cmp(b), a_pairs.cmp(b_pairs), "{a_pairs:?} {b_pairs:?}");
            }
        }
    }

    #[test]
    fn a_key_set_finds_every_key_it_holds_and_no_other() {
        let mut keys = KeySet::default();
        let key = |i: usize| format!("key {i}").into_bytes();
        for i in 0..10_000 {
            assert_eq!(keys.insert(&key(i)), (i, true));
        }
        assert_eq!(keys.insert(b""), (10_000, true));
        for i in 0..10_000 {
            assert_eq!(keys.find(&key(i)), Some(i));
            assert_eq!(keys.insert(&key(i)), (i, false));
            assert_eq!(keys.get(i), key(i).as_slice());
        }
        assert_eq!(keys.find(b""), Some(10_000));
        assert_eq!(keys.find(b"key 10000"), None);
        assert_eq!(keys.get(10_001), b"");
        keys.forget_index();
        keys.truncate(3);
        assert_eq!(keys.len(), 3);
        assert_eq!(keys.get(2), b"key 2");
        assert_eq!(keys.get(3), b"");
    }

    #[test]
    fn a_family_sorts_its_series_by_label_set() {
        // Long shared beginnings, values that are prefixes of others, and a set without labels.
        let mut sets: Vec<LabelSet> = (0..3000)
            .map(|i| {
                let kind = format!("k0{:0width$}", (i * 7919) % 3000, width = 1 + i % 5);
                LabelSet::new([
                    ("kind".to_owned(), kind),
                    ("x".to_owned(), "1".repeat(i % 3)),
                ])
            })
            .collect();
        sets.push(LabelSet::empty());
        sets.push(LabelSet::new([("kind".to_owned(), "k0".to_owned())]));
        let mut families = Families::new();
        for set in &sets {
            let sample = Sample {
                labels: set.clone(),
                value: SampleValue::Single(0.0),
            };
            // Some kinds come twice with one width: the second is refused, as it should be.
            let _ = families.add(
                &name("m"),
                "h",
                MetricType::Gauge,
                sample,
                origin("metrics[0]"),
            );
        }
        sets.sort();
        sets.dedup();
        let family = families.iter().next().expect("one family");
        let sorted: Vec<LabelSet> = family
            .sorted()
            .map(|(key, _)| LabelSet::from_key(key))
            .collect();
        assert_eq!(sorted, sets);
    }

    #[test]
    fn duplicate_series_is_refused_with_both_origins() {
        let mut families = Families::new();
        let labels = LabelSet::new([("kind".to_owned(), "a".to_owned())]);
        let sample = |v| Sample {
            labels: labels.clone(),
            value: SampleValue::Single(v),
        };
        families
            .add(
                &name("m"),
                "h",
                MetricType::Gauge,
                sample(1.0),
                origin("metrics[0]"),
            )
            .expect("first sample is accepted");
        let err = families
            .add(
                &name("m"),
                "h",
                MetricType::Gauge,
                sample(2.0),
                origin("metrics[1]"),
            )
            .expect_err("second sample for the same series");
        assert_eq!(&*err.first.rule, "metrics[0]");
        assert_eq!(&*err.second.rule, "metrics[1]");
        assert!(err.to_string().contains(r#"`m{kind="a"}`"#), "{err}");
        assert_eq!(families.series_count(), 1);
    }

    #[test]
    fn a_rule_s_samples_go_into_a_family_whole_or_one_by_one() {
        let key = |i: usize| LabelSet::new([("id".to_owned(), i.to_string())]);
        let batch = |ids: std::ops::Range<usize>| {
            ids.map(|i| Sample {
                labels: key(i),
                value: SampleValue::Single(i as f64),
            })
            .collect::<Samples>()
        };
        let mut families = Families::new();
        let rule = |n: usize| Origin {
            rule: format!("metrics[{n}]").into(),
            input: "store.xml".into(),
        };
        // A new family takes the first batch whole; the next ones are added one by one, each
        // run of series remembering its origin.
        for (n, ids) in [0..1000, 1000..1500, 1500..1501].into_iter().enumerate() {
            families
                .add_all(&name("m"), "h", MetricType::Gauge, batch(ids), rule(n))
                .expect("distinct series");
        }
        families
            .add_all(&name("m"), "h", MetricType::Gauge, Samples::new(), rule(9))
            .expect("nothing to add");
        assert_eq!(families.series_count(), 1501);
        let family = families.iter().next().expect("one family");
        let mut expected: Vec<(LabelSet, f64)> = (0..1501).map(|i| (key(i), i as f64)).collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        let got: Vec<(LabelSet, f64)> = family
            .sorted()
            .map(|(key, value)| match value {
                SampleValue::Single(v) => (LabelSet::from_key(key), *v),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, expected);
        // A second sample names the rule of the first, whichever run it is in.
        for (id, first) in [(0, 0), (999, 0), (1000, 1), (1499, 1), (1500, 2)] {
            let err = families
                .add_all(
                    &name("m"),
                    "h",
                    MetricType::Gauge,
                    batch(id..id + 1),
                    rule(7),
                )
                .expect_err("a series the family has");
            assert_eq!(err.first.rule, rule(first).rule, "{id}");
            assert_eq!(&*err.second.rule, "metrics[7]");
            assert_eq!(err.labels, key(id));
        }
        // Stopped at the first duplicate: the samples before it are added.
        let mixed: Samples = [1501, 1502, 5, 1503]
            .map(|i| Sample {
                labels: key(i),
                value: SampleValue::Single(0.0),
            })
            .into_iter()
            .collect();
        let err = families
            .add_all(&name("m"), "h", MetricType::Gauge, mixed, rule(8))
            .expect_err("the third is there");
        assert_eq!(err.labels, key(5));
        assert_eq!(families.series_count(), 1503);
    }

    #[test]
    fn samples_keep_one_value_per_label_set_in_the_order_they_came() {
        let key = |kind: &str| LabelSet::new([("kind".to_owned(), kind.to_owned())]);
        let sample = |kind: &str, v: f64| Sample {
            labels: key(kind),
            value: SampleValue::Single(v),
        };
        let mut samples = Samples::new();
        assert!(samples.push(sample("b", 1.0)));
        assert!(samples.push(sample("a", 2.0)));
        assert!(!samples.push(sample("b", 3.0)), "a second sample for b");
        assert_eq!(samples.to_vec(), [sample("b", 1.0), sample("a", 2.0)]);
        assert_eq!(format!("{samples:?}"), format!("{:?}", samples.to_vec()));
        let labelled = samples.clone().with_labels(&[
            ("host".to_owned(), "x".to_owned()),
            ("empty".to_owned(), String::new()),
        ]);
        let with_host = |kind: &str, v: f64| Sample {
            labels: LabelSet::new([
                ("host".to_owned(), "x".to_owned()),
                ("kind".to_owned(), kind.to_owned()),
            ]),
            value: SampleValue::Single(v),
        };
        assert_eq!(
            labelled.to_vec(),
            [with_host("b", 1.0), with_host("a", 2.0)]
        );
        assert_eq!(samples.clone().with_labels(&[]), samples);
        // Keys without a value are left out, and the rest found again.
        let mut keys = KeySet::default();
        for kind in ["x", "y", "z"] {
            keys.insert(key(kind).key());
        }
        let parts = Samples::from_parts(keys, vec![SampleValue::Single(7.0)]);
        assert_eq!(parts.to_vec(), [sample("x", 7.0)]);
        let mut parts = parts;
        assert!(!parts.push(sample("x", 8.0)));
        assert!(parts.push(sample("y", 8.0)));
    }

    #[test]
    fn families_iterate_in_name_order() {
        let mut families = Families::new();
        for n in ["b", "a", "c"] {
            let sample = Sample {
                labels: LabelSet::default(),
                value: SampleValue::Single(0.0),
            };
            families
                .add(
                    &name(n),
                    "h",
                    MetricType::Gauge,
                    sample,
                    origin("metrics[0]"),
                )
                .expect("distinct families");
        }
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }
}
