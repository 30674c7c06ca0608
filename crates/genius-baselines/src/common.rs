//! What the optimizers share: drawing valid architectures, checking settings.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use genius_core::catalog::Setting;
use genius_core::{Architecture, AskContext, OptimizerError, SearchRng, SearchSpace, SpaceExt};
use rand::RngExt;

/// A map keyed by architectures with a fast deterministic hash (the standard one is built against hash flooding,
/// which a search does not face, and costs more than the rest of a table trial's bookkeeping).
pub(crate) type ArchMap<V> = HashMap<Architecture, V, BuildHasherDefault<ChoiceHasher>>;

/// A set of architectures with the fast hash of [`ArchMap`].
pub(crate) type ArchSet = HashSet<Architecture, BuildHasherDefault<ChoiceHasher>>;

/// Multiply-rotate mixing of 8-byte words (as rustc's FxHasher), with a final avalanche.
#[derive(Default, Clone, Copy)]
pub(crate) struct ChoiceHasher(u64);

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
        let mut z = self.0;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z ^ (z >> 33)
    }
}

/// Rejection-sampling attempts before a constrained draw is given up as too unlikely.
pub(crate) const MAX_TRIES: usize = 100_000;

/// Attempts at a fresh (not yet evaluated) proposal before an optimizer settles for a repeat.
pub(crate) const FRESH_TRIES: usize = 64;

/// A uniformly random architecture of the space that meets its constraint.
pub(crate) fn sample(ctx: &mut AskContext<'_>) -> Result<Architecture, OptimizerError> {
    sample_in(ctx.space, ctx.rng)
}

/// [`sample`] from a space and a generator.
pub(crate) fn sample_in(space: &dyn SearchSpace, rng: &mut SearchRng) -> Result<Architecture, OptimizerError> {
    space.sample_feasible(rng).ok_or_else(|| {
        OptimizerError::Failed(format!(
            "found no architecture of {} that meets its constraint (the space's sampler gave up; a space whose \
             constraint rejects nearly every uniform draw should override SearchSpace::sample_feasible)",
            space.name()
        ))
    })
}

/// A one-dimension mutation of `arch` that meets the space's constraint: up to `tries` attempts, `None` if none did
/// (or if the space has no dimension with two options).
pub(crate) fn mutate_valid(
    space: &dyn SearchSpace,
    arch: &Architecture,
    rng: &mut SearchRng,
    tries: usize,
) -> Option<Architecture> {
    (0..tries).map(|_| space.mutate(arch, rng)).find(|a| a != arch && space.check(a).is_ok())
}

/// Index drawn with probability proportional to `weights` (non-negative, not all zero).
pub(crate) fn weighted_index(weights: &[f64], rng: &mut SearchRng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    // Rounding left `u` at or past the end: the last index with weight.
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

/// A settings error naming the optimizer and the field.
pub(crate) fn invalid(optimizer: &str, field: &str, message: impl std::fmt::Display) -> OptimizerError {
    OptimizerError::Settings(format!("{optimizer}: `{field}` {message}"))
}

/// Checks `settings` against the ranges its documentation declares (the table `genius optimizers NAME` prints).
pub(crate) fn check_declared(
    optimizer: &str,
    documented: &[Setting],
    settings: &impl serde::Serialize,
) -> Result<(), OptimizerError> {
    let value = serde_json::to_value(settings).expect("settings serialize");
    genius_core::catalog::check_settings(optimizer, documented, &value)
        .map_err(|e| OptimizerError::Settings(e.to_string()))
}

#[cfg(test)]
mod tests {
    use genius_core::rng;

    use super::*;

    #[test]
    fn weighted_index_follows_the_weights() {
        let mut rng = rng::seeded(3);
        let weights = [0.0, 1.0, 3.0, 0.0];
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[weighted_index(&weights, &mut rng)] += 1;
        }
        assert_eq!(counts[0] + counts[3], 0, "zero weights are never drawn");
        let ratio = counts[2] as f64 / counts[1] as f64;
        assert!((2.6..3.4).contains(&ratio), "{counts:?}");
    }

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
    fn declared_range_errors_name_the_optimizer_and_field() {
        use genius_core::catalog::{Range, SettingKind};
        let gamma = [Setting::new("gamma", SettingKind::Number, "0.1", "").range(Range::between(0.0, 1.0))];
        let err = check_declared("tpe", &gamma, &serde_json::json!({"gamma": 1.5})).unwrap_err();
        assert_eq!(err.to_string(), "invalid optimizer setting: tpe: `gamma` must be between 0 and 1 (got 1.5)");
        assert!(check_declared("tpe", &gamma, &serde_json::json!({"gamma": f64::NAN})).is_err());
        let size = [Setting::new("population_size", SettingKind::Integer, "10", "").range(Range::at_least(1.0))];
        let err = check_declared("evolution", &size, &serde_json::json!({"population_size": 0})).unwrap_err();
        assert!(err.to_string().contains("`population_size` must be at least 1 (got 0)"), "{err}");
    }
}
