//! Pooled attainment over seeds: the empirical attainment surfaces of several runs' Pareto fronts in two objectives.
//!
//! A front *attains* a point when one of its points is at least as good in both objectives. The `k`-attainment front
//! of `n` fronts is the Pareto front of the points that at least `k` of them attain: with `k = ⌈n/2⌉`, what half the
//! seeds reached (the median attainment surface of Fonseca and Fleming); with `k = 1`, what any seed reached; with
//! `k = n`, what every seed reached. The points are in the objectives' oriented form (larger is better).
//!
//! ```
//! use genius_report::attainment::attainment_front;
//! // Two seeds' fronts: what both reach is the corner below each pair of steps.
//! let fronts = vec![vec![(3.0, 1.0), (1.0, 3.0)], vec![(2.0, 2.0)]];
//! assert_eq!(attainment_front(&fronts, 2), vec![(2.0, 1.0), (1.0, 2.0)]);
//! assert_eq!(attainment_front(&fronts, 1), vec![(3.0, 1.0), (2.0, 2.0), (1.0, 3.0)]);
//! ```

/// The `k`-attainment front of `fronts` (each a set of points, larger better in both coordinates): the Pareto points
/// of the region at least `k` fronts attain, by the first coordinate falling. Empty when `k` is 0 or more than the
/// fronts there are, or when fewer than `k` fronts have a point.
pub fn attainment_front(fronts: &[Vec<(f64, f64)>], k: usize) -> Vec<(f64, f64)> {
    if k == 0 || k > fronts.len() {
        return Vec::new();
    }
    // Sweep the first coordinate downwards: `best[i]` is the largest second coordinate front `i` reaches with a
    // first coordinate at least the current one, and the k-th largest of them is how far k fronts reach.
    let mut points: Vec<(f64, f64, usize)> =
        fronts.iter().enumerate().flat_map(|(i, f)| f.iter().map(move |&(x, y)| (x, y, i))).collect();
    points.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut best = vec![f64::NEG_INFINITY; fronts.len()];
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut scratch = Vec::with_capacity(fronts.len());
    let mut at = 0;
    while at < points.len() {
        let x = points[at].0;
        while at < points.len() && points[at].0 == x {
            let (_, y, i) = points[at];
            best[i] = best[i].max(y);
            at += 1;
        }
        scratch.clear();
        scratch.extend_from_slice(&best);
        scratch.sort_by(|a, b| b.total_cmp(a));
        let y = scratch[k - 1];
        if y == f64::NEG_INFINITY {
            continue;
        }
        // A lower first coordinate is on the front only where it reaches further in the second.
        match out.last() {
            Some(&(_, last)) if y <= last => {}
            _ => out.push((x, y)),
        }
    }
    out
}

/// `k` for an attainment level (a fraction of the fronts, e.g. 0.5): at least `level × n` of `n` fronts, and at least
/// one.
pub fn fronts_needed(level: f64, n: usize) -> usize {
    ((level * n as f64) - 1e-9).ceil().max(1.0) as usize
}

/// The staircase that bounds what the points of a front (larger better in both coordinates) attain, for drawing:
/// by the first coordinate rising, each point and, before it, the corner below the previous one at its height.
pub fn staircase(front: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut sorted = front.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut line = Vec::with_capacity(2 * sorted.len());
    for (i, &p) in sorted.iter().enumerate() {
        if i > 0 {
            line.push((sorted[i - 1].0, p.1));
        }
        line.push(p);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// The `k`-attainment front by brute force: every point whose coordinates come from the fronts' points, kept
    /// when `k` fronts attain it, then the Pareto front of those.
    fn brute(fronts: &[Vec<(f64, f64)>], k: usize) -> Vec<(f64, f64)> {
        let xs: Vec<f64> = fronts.iter().flatten().map(|p| p.0).collect();
        let ys: Vec<f64> = fronts.iter().flatten().map(|p| p.1).collect();
        let attained = |z: (f64, f64)| fronts.iter().filter(|f| f.iter().any(|p| p.0 >= z.0 && p.1 >= z.1)).count();
        let mut kept: Vec<(f64, f64)> = Vec::new();
        for &x in &xs {
            for &y in &ys {
                if attained((x, y)) >= k && !kept.contains(&(x, y)) {
                    kept.push((x, y));
                }
            }
        }
        let dominated = |p: &(f64, f64)| kept.iter().any(|q| q != p && q.0 >= p.0 && q.1 >= p.1);
        let mut front: Vec<(f64, f64)> = kept.iter().copied().filter(|p| !dominated(p)).collect();
        front.sort_by(|a, b| b.0.total_cmp(&a.0));
        front
    }

    #[test]
    fn the_sweep_agrees_with_brute_force_on_random_point_sets() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20);
        for case in 0..300 {
            let n = rng.random_range(1..6);
            // Small integer grids make ties in either coordinate common.
            let fronts: Vec<Vec<(f64, f64)>> = (0..n)
                .map(|_| {
                    (0..rng.random_range(0..5))
                        .map(|_| (rng.random_range(0..6) as f64, rng.random_range(0..6) as f64))
                        .collect()
                })
                .collect();
            for k in 1..=n {
                assert_eq!(attainment_front(&fronts, k), brute(&fronts, k), "case {case}, k {k}: {fronts:?}");
            }
            assert!(attainment_front(&fronts, n + 1).is_empty());
        }
    }

    #[test]
    fn the_staircase_turns_below_each_point() {
        let line = staircase(&[(3.0, 1.0), (1.0, 3.0), (2.0, 2.0)]);
        assert_eq!(line, vec![(1.0, 3.0), (1.0, 2.0), (2.0, 2.0), (2.0, 1.0), (3.0, 1.0)]);
    }

    #[test]
    fn half_of_the_fronts_is_the_median_count() {
        assert_eq!(fronts_needed(0.5, 100), 50);
        assert_eq!(fronts_needed(0.5, 5), 3);
        assert_eq!(fronts_needed(0.5, 1), 1);
        assert_eq!(fronts_needed(1.0, 7), 7);
        assert_eq!(fronts_needed(0.0, 7), 1);
    }
}
