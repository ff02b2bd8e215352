//! Label cache: a rule's label groups by field values, so that label templates render once per
//! distinct field values, looked up without copying the values.

use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

use crate::engine::aggregate::GroupId;

/// A rule's groups by field values, so that its label templates render once per distinct
/// values. Looked up with the values borrowed from the document: finding a group allocates
/// nothing. Each distinct set of values is kept once, in one allocation.
#[derive(Debug, Default)]
pub struct LabelCache {
    /// By a hash of the values: the values (see [`LabelCache::key`]) and their group.
    groups: FxHashMap<u64, KeyedGroup>,
    /// Further values whose hash is in `groups` already (64-bit hashes rarely collide).
    collided: FxHashMap<u64, Vec<KeyedGroup>>,
}

/// Field values as a [`LabelCache::key`], and their group.
type KeyedGroup = (Box<[u8]>, GroupId);

impl LabelCache {
    /// The hash of field values, as [`LabelCache::get`] and [`LabelCache::insert`] take it.
    pub fn hash(values: &[impl AsRef<str>]) -> u64 {
        let mut hasher = FxHasher::default();
        for value in values {
            hasher.write(value.as_ref().as_bytes());
            // No UTF-8 text holds 0xFF: ("a", "bc") and ("ab", "c") hash apart.
            hasher.write_u8(0xFF);
        }
        hasher.finish()
    }

    /// The values as one key: each value's length (8 bytes), then its bytes.
    fn key(values: &[impl AsRef<str>]) -> Box<[u8]> {
        let mut key = Vec::new();
        for value in values {
            let value = value.as_ref().as_bytes();
            key.extend_from_slice(&(value.len() as u64).to_le_bytes());
            key.extend_from_slice(value);
        }
        key.into_boxed_slice()
    }

    /// Whether `key` holds `values`.
    fn holds(key: &[u8], values: &[impl AsRef<str>]) -> bool {
        let mut rest = key;
        for value in values {
            let value = value.as_ref().as_bytes();
            let Some((length, tail)) = rest.split_first_chunk::<8>() else {
                return false;
            };
            if u64::from_le_bytes(*length) != value.len() as u64 {
                return false;
            }
            let Some(tail) = tail.strip_prefix(value) else {
                return false;
            };
            rest = tail;
        }
        rest.is_empty()
    }

    /// The group of these field values, if they were seen.
    pub fn get(&self, hash: u64, values: &[impl AsRef<str>]) -> Option<GroupId> {
        let (key, group) = self.groups.get(&hash)?;
        if Self::holds(key, values) {
            return Some(*group);
        }
        self.collided
            .get(&hash)?
            .iter()
            .find_map(|(key, group)| Self::holds(key, values).then_some(*group))
    }

    /// Files the group of field values not seen before.
    pub fn insert(&mut self, hash: u64, values: &[impl AsRef<str>], group: GroupId) {
        let entry = (Self::key(values), group);
        match self.groups.entry(hash) {
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.entry(hash).or_default().push(entry);
            }
            std::collections::hash_map::Entry::Vacant(vacant) => {
                vacant.insert(entry);
            }
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
        let entries: [(&[&str], GroupId); 4] = [
            (&["a", "bc"], group(0)),
            (&["ab", "c"], group(1)),
            (&["abc"], group(2)),
            (&[], group(3)),
        ];
        for (values, group) in entries {
            let hash = LabelCache::hash(values);
            assert_eq!(cache.get(hash, values), None);
            cache.insert(hash, values, group);
        }
        for (values, group) in entries {
            let owned: Vec<String> = values.iter().map(|value| (*value).to_owned()).collect();
            let hash = LabelCache::hash(&owned);
            assert_eq!(hash, LabelCache::hash(values));
            assert_eq!(cache.get(hash, &owned), Some(group));
        }
        // Values filed under another's hash (as if the hashes collided) find their own group.
        let hash = LabelCache::hash(&["x"]);
        cache.insert(hash, &["y"], group(4));
        assert_eq!(cache.get(hash, &["y"]), Some(group(4)));
        assert_eq!(cache.get(hash, &["x"]), None);
        // A key holds exactly its values.
        let key = LabelCache::key(&["", "é"]);
        assert!(LabelCache::holds(&key, &["", "é"]));
        for other in [&["", "é", ""][..], &["é"], &["", ""], &["é", ""], &[]] {
            assert!(!LabelCache::holds(&key, other), "{other:?}");
        }
    }
}
