//! Seeded randomness: every random choice of a study comes from one injected generator.

use rand::SeedableRng;

/// The generator handed to optimizers. ChaCha8 gives the same stream on every platform and rand version, so a seed
/// recorded in a run log repeats the run.
pub type SearchRng = rand_chacha::ChaCha8Rng;

/// A generator seeded with `seed`.
pub fn seeded(seed: u64) -> SearchRng {
    SearchRng::seed_from_u64(seed)
}

/// A seed for an independent stream `stream` of the run seeded with `seed` (SplitMix64 over both), for parts that
/// need their own generator (an evaluator's weight initialisation, a replicate of a grid).
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use rand::RngExt;

    use super::*;

    #[test]
    fn the_stream_is_pinned() {
        // ChaCha8 with this seed must never change: recorded runs depend on it.
        let mut rng = seeded(42);
        let draws: Vec<u32> = (0..4).map(|_| rng.random_range(0..1000)).collect();
        let mut again = seeded(42);
        assert_eq!(draws, (0..4).map(|_| again.random_range(0..1000)).collect::<Vec<u32>>());
        assert_ne!(derive_seed(1, 0), derive_seed(1, 1));
        assert_ne!(derive_seed(1, 0), derive_seed(2, 0));
    }
}
