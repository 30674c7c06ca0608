//! The typed value a search proposes: one choice per dimension of a search space.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

/// An architecture: the index of the chosen option in every dimension of its search space.
///
/// It is cheap to clone, ordered and hashable, so it serves as a map key and a cache key. Its human forms
/// (an op-id string, a channel list, a cell string) are produced and parsed only by the space it belongs to, see
/// [`SearchSpace::format`](crate::SearchSpace::format) and [`SearchSpace::parse`](crate::SearchSpace::parse).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Architecture(Vec<u16>);

impl Architecture {
    /// An architecture with the given choice per dimension. Whether it lies in a space is checked by
    /// [`SpaceExt::validate`](crate::SpaceExt::validate).
    pub fn new(choices: impl Into<Vec<u16>>) -> Self {
        Self(choices.into())
    }

    /// The chosen option index of every dimension.
    pub fn choices(&self) -> &[u16] {
        &self.0
    }

    /// The chosen option index of dimension `dim`.
    ///
    /// # Panics
    /// When `dim` is out of range.
    pub fn choice(&self, dim: usize) -> usize {
        usize::from(self.0[dim])
    }

    /// The number of dimensions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the architecture has no dimension at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A copy with dimension `dim` set to option `choice`.
    pub fn with_choice(&self, dim: usize, choice: u16) -> Self {
        let mut choices = self.0.clone();
        choices[dim] = choice;
        Self(choices)
    }
}

impl fmt::Debug for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Architecture{:?}", self.0)
    }
}

impl From<Vec<u16>> for Architecture {
    fn from(choices: Vec<u16>) -> Self {
        Self(choices)
    }
}

/// A map keyed by architectures with [`ChoiceHasher`], a fast deterministic hash: the standard one is built against
/// hash flooding, which a search does not face, and costs more than the rest of a table trial's bookkeeping. For
/// look-ups; code that iterates such a map must not depend on its order.
pub type ArchMap<V> = HashMap<Architecture, V, BuildHasherDefault<ChoiceHasher>>;

/// A set of architectures with [`ChoiceHasher`], as [`ArchMap`].
pub type ArchSet = HashSet<Architecture, BuildHasherDefault<ChoiceHasher>>;

/// A fast hasher for architectures (short lists of small integers): multiply-rotate mixing of 8-byte words (as
/// rustc's FxHasher), with a final avalanche. Not resistant to hash flooding; use it through [`ArchMap`] and
/// [`ArchSet`].
#[derive(Debug, Default, Clone, Copy)]
pub struct ChoiceHasher(u64);

impl ChoiceHasher {
    const K: u64 = 0xf135_7aea_2e62_a9c5;

    fn mix(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(Self::K).rotate_left(26);
    }
}

impl Hasher for ChoiceHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.mix(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word) ^ (rest.len() as u64) << 59);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        // A final avalanche, so that the low bits the table indexes by depend on every input bit.
        let mut z = self.0;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z ^ (z >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_hash_separates_architectures() {
        let mut set = ArchSet::default();
        let space_of = |n: u16| (0..n).flat_map(move |a| (0..n).map(move |b| Architecture::new(vec![a, b, a ^ b])));
        set.extend(space_of(40));
        assert_eq!(set.len(), 1600);
        assert!(space_of(40).all(|a| set.contains(&a)));
        assert!(!set.contains(&Architecture::new(vec![0, 0])), "a prefix is another architecture");
    }

    #[test]
    fn with_choice_changes_one_dimension_only() {
        let a = Architecture::new(vec![0, 1, 2]);
        let b = a.with_choice(1, 0);
        assert_eq!(b.choices(), &[0, 0, 2]);
        assert_eq!(a.choices(), &[0, 1, 2]);
    }

    #[test]
    fn serializes_as_a_plain_list() {
        let a = Architecture::new(vec![2, 0, 1]);
        assert_eq!(serde_json::to_string(&a).unwrap(), "[2,0,1]");
        let back: Architecture = serde_json::from_str("[2,0,1]").unwrap();
        assert_eq!(back, a);
    }
}
