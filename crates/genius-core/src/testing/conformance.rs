//! The search-space conformance suite as functions, so that a space built outside a catalog (a space file, a
//! plug-in crate's own space) is held to the same checks as the built-in ones: text forms round-trip, junk is an
//! error naming the space, the brief's notation parses back and its example names no architecture, mutation and
//! neighbours change exactly one dimension, enumeration matches cardinality, sampling is uniform (chi-square at
//! p = 0.001, fixed seeds) and feasible samples meet the constraint. Each check panics with the space's name.

use std::collections::HashSet;

use rand::SeedableRng;

use crate::{Architecture, SearchRng, SearchSpace, SpaceExt};

/// Spaces up to this size are checked architecture by architecture; larger ones on samples.
pub const EXHAUSTIVE: u128 = 20_000;

/// Runs every check on `space`.
pub fn check_space(space: &dyn SearchSpace) {
    check_dimensions(space);
    check_text_forms(space);
    check_brief(space);
    check_mutation_and_neighbours(space);
    check_enumeration(space);
    check_sampling(space);
    check_feasible_sampling(space);
}

/// The architectures to check one by one: all of a small space, a seeded sample of a large one.
pub fn architectures(space: &dyn SearchSpace, seed: u64) -> Vec<Architecture> {
    if space.cardinality() <= EXHAUSTIVE {
        space.enumerate().collect()
    } else {
        let mut rng = SearchRng::seed_from_u64(seed);
        (0..5_000).map(|_| space.sample(&mut rng)).collect()
    }
}

fn differing(a: &Architecture, b: &Architecture) -> usize {
    a.choices().iter().zip(b.choices()).filter(|(x, y)| x != y).count()
}

/// A name, at least one dimension, and an option in every dimension.
pub fn check_dimensions(space: &dyn SearchSpace) {
    let name = space.name();
    assert!(!name.is_empty(), "a space has a name");
    assert!(!space.dimensions().is_empty(), "{name}: no dimension");
    assert!(space.dimensions().iter().all(|d| !d.is_empty()), "{name}: a dimension without options");
}

/// Every architecture's canonical text parses back to it, and junk is an error naming the space, never a panic.
pub fn check_text_forms(space: &dyn SearchSpace) {
    let name = space.name();
    for arch in architectures(space, 1) {
        let text = space.format(&arch);
        let back = space.parse(&text).unwrap_or_else(|e| panic!("{name}: `{text}` does not parse back: {e}"));
        assert_eq!(back, arch, "{name}: `{text}`");
    }
    for junk in ["", "[]", "x", "[0, 0]", "9999999999999999999999", "|~|+|", "🙂"] {
        if space.dimensions().len() == 1 && junk == "x" {
            continue;
        }
        let e = space.parse(junk).err().map(|e| e.to_string());
        let e = e.unwrap_or_else(|| panic!("{name}: junk `{junk}` parses as an architecture"));
        assert!(e.contains(name), "{name}: the error names the space: {e}");
    }
}

/// The brief (where the space has one) is complete, its notation parses back, and its example of an answer does not
/// read as an architecture.
pub fn check_brief(space: &dyn SearchSpace) {
    let name = space.name();
    let Some(brief) = space.brief() else { return };
    assert!(!brief.task.is_empty(), "{name}: the brief has no task");
    assert!(!brief.layout.is_empty() && !brief.operations.is_empty() && !brief.answer_format.is_empty(), "{name}");
    assert!(space.parse(&brief.example).is_err(), "{name}: the example `{}` reads as an architecture", brief.example);
    let mut rng = SearchRng::seed_from_u64(2);
    for _ in 0..500 {
        let arch = space.sample(&mut rng);
        let written = brief.notation.write(space, &arch);
        assert_eq!(space.parse(&written).unwrap_or_else(|e| panic!("{name}: {e}")), arch, "{name}: `{written}`");
    }
}

/// Mutation and neighbours stay in the space and change exactly one dimension.
pub fn check_mutation_and_neighbours(space: &dyn SearchSpace) {
    let name = space.name();
    let mut rng = SearchRng::seed_from_u64(3);
    let expected: usize = space.dimensions().iter().map(|d| d.len() - 1).sum();
    let mutable = space.dimensions().iter().any(|d| d.len() > 1);
    for i in 0..2_000 {
        let arch = space.sample(&mut rng);
        let child = space.mutate(&arch, &mut rng);
        space.validate(&child).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(differing(&arch, &child), usize::from(mutable), "{name}");
        if i % 10 == 0 {
            let neighbours = space.neighbours(&arch);
            assert_eq!(neighbours.len(), expected, "{name}");
            assert_eq!(neighbours.iter().collect::<HashSet<_>>().len(), expected, "{name}: distinct");
            for n in &neighbours {
                space.validate(n).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(differing(&arch, n), 1, "{name}");
            }
        }
    }
}

/// Enumeration matches the cardinality and indexing round-trips.
pub fn check_enumeration(space: &dyn SearchSpace) {
    let name = space.name();
    let cardinality = space.cardinality();
    let product = space.dimensions().iter().try_fold(1u128, |acc, d| acc.checked_mul(d.len() as u128));
    assert_eq!(Some(cardinality), product, "{name}");
    if cardinality <= EXHAUSTIVE {
        let all: Vec<Architecture> = space.enumerate().collect();
        assert_eq!(all.len() as u128, cardinality, "{name}");
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len(), "{name}: distinct");
        for (i, arch) in all.iter().enumerate() {
            assert_eq!(space.index_of(arch), i as u128, "{name}");
        }
    }
    let mut rng = SearchRng::seed_from_u64(4);
    for _ in 0..1_000 {
        let arch = space.sample(&mut rng);
        let index = space.index_of(&arch);
        assert!(index < cardinality, "{name}");
        assert_eq!(space.arch_at(index), arch, "{name}");
    }
}

/// The chi-square critical value for `df` degrees of freedom at p = 0.001 (Wilson–Hilferty approximation).
fn chi_square_critical(df: usize) -> f64 {
    let df = df as f64;
    let z = 3.0902;
    let t = 2.0 / (9.0 * df);
    (df * (1.0 - t + z * t.sqrt()).powi(3)).max(10.83)
}

fn chi_square(observed: &[u64], expected: &[f64]) -> f64 {
    observed.iter().zip(expected).map(|(&o, &e)| (o as f64 - e).powi(2) / e).sum()
}

/// Uniform sampling: each dimension's marginal, and the whole architecture in 64 bins of the enumeration index.
pub fn check_sampling(space: &dyn SearchSpace) {
    const N: u64 = 30_000;
    let name = space.name();
    let dims = space.dimensions();
    let cardinality = space.cardinality();
    let bins = cardinality.min(64);
    let mut rng = SearchRng::seed_from_u64(5);
    let mut marginal: Vec<Vec<u64>> = dims.iter().map(|d| vec![0; d.len()]).collect();
    let mut joint = vec![0u64; bins as usize];
    for _ in 0..N {
        let arch = space.sample(&mut rng);
        for (counts, &c) in marginal.iter_mut().zip(arch.choices()) {
            counts[usize::from(c)] += 1;
        }
        joint[(space.index_of(&arch) * bins / cardinality) as usize] += 1;
    }
    for (d, counts) in dims.iter().zip(&marginal) {
        if d.len() < 2 || d.len() as u64 * 5 > N {
            continue;
        }
        let expected = vec![N as f64 / d.len() as f64; d.len()];
        let stat = chi_square(counts, &expected);
        assert!(stat < chi_square_critical(d.len() - 1), "{name} {}: chi-square {stat:.1}", d.name);
    }
    if bins >= 2 {
        let start = |b: u128| (b * cardinality).div_ceil(bins);
        let expected: Vec<f64> =
            (0..bins).map(|b| (start(b + 1) - start(b)) as f64 / cardinality as f64 * N as f64).collect();
        let stat = chi_square(&joint, &expected);
        assert!(stat < chi_square_critical(bins as usize - 1), "{name}: joint chi-square {stat:.1}");
    }
}

/// A constrained space's feasible samples meet its constraint.
pub fn check_feasible_sampling(space: &dyn SearchSpace) {
    let name = space.name();
    let mut rng = SearchRng::seed_from_u64(6);
    for _ in 0..200 {
        let arch = space.sample_feasible(&mut rng).unwrap_or_else(|| panic!("{name}: no feasible architecture found"));
        assert!(space.is_valid(&arch), "{name}: {}", space.format(&arch));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ToySpace;

    #[test]
    fn the_toy_spaces_pass_the_suite() {
        check_space(&ToySpace::new());
        check_space(&ToySpace::constrained());
    }
}
