//! Label cache: a rule's label groups by field values, so that label templates render once per
//! distinct field values, looked up without copying the values.

use crate::engine::aggregate::GroupId;
use crate::model::sample::{KeySet, encode_text};

/// A rule's groups by field values, so that its label templates render once per distinct
/// values. Looked up with the values borrowed from the document: finding a group allocates
/// nothing. Every distinct set of values is kept once, in one buffer ([`KeySet`]).
#[derive(Debug, Default)]
pub struct LabelCache {
    /// Each distinct set of field values, as [`LabelCache::key`] writes it.
    keys: KeySet,
    /// The group of each set of values, by its id in `keys`.
    groups: Vec<GroupId>,
    /// The key being looked up, reused from node to node.
    scratch: Vec<u8>,
}

impl LabelCache {
    /// Writes the values as one key: each value's bytes, then a zero byte (escaped as
    /// [`encode_text`] does, so ("a", "bc") and ("ab", "c") are two keys).
    fn key(key: &mut Vec<u8>, values: &[impl AsRef<str>]) {
        key.clear();
        for value in values {
            encode_text(key, value.as_ref().as_bytes());
        }
    }

    /// The group of these field values, if they were seen.
    pub fn get(&mut self, values: &[impl AsRef<str>]) -> Option<GroupId> {
        Self::key(&mut self.scratch, values);
        let id = self.keys.find(&self.scratch)?;
        self.groups.get(id).copied()
    }

    /// Files the group of field values not seen before.
    pub fn insert(&mut self, values: &[impl AsRef<str>], group: GroupId) {
        Self::key(&mut self.scratch, values);
        let (id, new) = self.keys.insert(&self.scratch);
        if new {
            self.groups.push(group);
        } else if let Some(known) = self.groups.get_mut(id) {
            *known = group;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::aggregate::Accumulator;
    use crate::model::sample::LabelSet;

    #[test]
    fn the_label_cache_tells_field_values_apart_and_finds_them_borrowed() {
        let mut accumulator: Accumulator<Option<String>> = Accumulator::new(
            &crate::rules::compile::Reduce::Each(crate::rules::policy::OnDuplicate::Error),
        );
        let mut group = |n: usize| accumulator.group(&LabelSet::new([("n".into(), n.to_string())]));
        let mut cache = LabelCache::default();
        let entries: [(&[&str], GroupId); 6] = [
            (&["a", "bc"], group(0)),
            (&["ab", "c"], group(1)),
            (&["abc"], group(2)),
            (&[], group(3)),
            (&["", "é"], group(4)),
            (&["\u{0}", "\u{1}"], group(5)),
        ];
        for (values, group) in entries {
            assert_eq!(cache.get(values), None);
            cache.insert(values, group);
        }
        for (values, group) in entries {
            let owned: Vec<String> = values.iter().map(|value| (*value).to_owned()).collect();
            assert_eq!(cache.get(&owned), Some(group));
        }
        for other in [
            &["", "é", ""][..],
            &["é"],
            &["", ""],
            &["é", ""],
            &["\u{1}", "\u{0}"],
        ] {
            assert_eq!(cache.get(other), None, "{other:?}");
        }
    }
}
