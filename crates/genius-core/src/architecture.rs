//! The typed value a search proposes: one choice per dimension of a search space.

use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

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
