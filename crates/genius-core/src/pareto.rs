//! Pareto fronts and hypervolume, for multi-objective searches.
//!
//! Points are objective vectors turned so that **larger is better** in every coordinate (as
//! [`Objective::scores`](crate::Objective::scores) and [`Observation::scores`](crate::Observation::scores) give
//! them). A point dominates another when it is at least as good in every objective and better in one; the Pareto
//! front is the set of points nothing dominates. The hypervolume of a set is the volume of objective space it
//! dominates above a reference point (a point worse than every point of interest in every objective): exact for 2
//! objectives (a sweep, O(n log n)) and 3 (slices of 2-objective sweeps, O(n² log n)).
//!
//! ```
//! use genius_core::pareto::{hypervolume, non_dominated};
//!
//! let points = [vec![3.0, 1.0], vec![1.0, 3.0], vec![2.0, 2.0], vec![1.0, 1.0]];
//! assert_eq!(non_dominated(&points), vec![0, 1, 2]);
//! // Three boxes above (0, 0): 3·1 + 1·3 + 2·2, less the overlaps, is 6.
//! assert_eq!(hypervolume(&points, &[0.0, 0.0]).unwrap(), 6.0);
//! ```

use std::cmp::Ordering;

/// A point set or reference point the hypervolume cannot be computed for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParetoError {
    /// Exact hypervolume is implemented for 2 and 3 objectives.
    #[error("exact hypervolume is computed for 2 or 3 objectives, not {0}")]
    Dimensions(usize),
    /// A point has another number of coordinates than the reference point.
    #[error("a point has {point} coordinates but the reference point has {reference}")]
    Mismatch {
        /// The point's.
        point: usize,
        /// The reference point's.
        reference: usize,
    },
    /// A coordinate is NaN or infinite.
    #[error("a point or the reference point has a coordinate that is not a finite number")]
    NotFinite,
}

/// Whether `a` dominates `b`: at least as good in every objective and better in one (larger is better).
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        if x < y {
            return false;
        }
        better |= x > y;
    }
    better
}

/// The indices of the points no other point dominates (the first Pareto front), in input order. Equal points do
/// not dominate each other: both are on the front.
pub fn non_dominated<P: AsRef<[f64]>>(points: &[P]) -> Vec<usize> {
    (0..points.len()).filter(|&i| !points.iter().any(|q| dominates(q.as_ref(), points[i].as_ref()))).collect()
}

/// The points sorted into successive Pareto fronts (Deb et al. 2002's fast non-dominated sort, O(m n²)): the first
/// front is [`non_dominated`], the second is what is non-dominated once the first is removed, and so on. Each front
/// lists indices in input order; every index is in exactly one front.
pub fn fronts<P: AsRef<[f64]>>(points: &[P]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut dominated_by = vec![0usize; n];
    let mut dominating: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (points[i].as_ref(), points[j].as_ref());
            if dominates(a, b) {
                dominating[i].push(j);
                dominated_by[j] += 1;
            } else if dominates(b, a) {
                dominating[j].push(i);
                dominated_by[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominating[i] {
                dominated_by[j] -= 1;
                if dominated_by[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(current);
        current = next;
    }
    fronts
}

/// The hypervolume `points` dominate above `reference` (larger is better): the volume of the union of the boxes
/// from `reference` to each point. Points not strictly better than the reference in every objective add nothing.
/// Exact for 2 and 3 objectives; an empty set has hypervolume 0.
pub fn hypervolume<P: AsRef<[f64]>>(points: &[P], reference: &[f64]) -> Result<f64, ParetoError> {
    let d = reference.len();
    if !(2..=3).contains(&d) {
        return Err(ParetoError::Dimensions(d));
    }
    if reference.iter().any(|r| !r.is_finite()) {
        return Err(ParetoError::NotFinite);
    }
    let mut above = Vec::with_capacity(points.len());
    for p in points {
        let p = p.as_ref();
        if p.len() != d {
            return Err(ParetoError::Mismatch { point: p.len(), reference: d });
        }
        if p.iter().any(|x| !x.is_finite()) {
            return Err(ParetoError::NotFinite);
        }
        if p.iter().zip(reference).all(|(x, r)| x > r) {
            above.push(p);
        }
    }
    Ok(match d {
        2 => area(above.iter().map(|p| [p[0], p[1]]).collect(), [reference[0], reference[1]]),
        _ => volume(&above, reference),
    })
}

/// The area dominated by `points` (all above `reference`) in two objectives: sweep by the first, descending.
fn area(mut points: Vec<[f64; 2]>, reference: [f64; 2]) -> f64 {
    points.sort_by(|a, b| b[0].total_cmp(&a[0]).then(b[1].total_cmp(&a[1])));
    let mut best = reference[1];
    let mut total = 0.0;
    for [x, y] in points {
        if y > best {
            total += (x - reference[0]) * (y - best);
            best = y;
        }
    }
    total
}

/// The volume dominated by `points` (all above `reference`) in three objectives: slices between successive values
/// of the third objective, each the area of the points at or above it.
fn volume(points: &[&[f64]], reference: &[f64]) -> f64 {
    let mut order: Vec<&[f64]> = points.to_vec();
    order.sort_by(|a, b| b[2].total_cmp(&a[2]));
    let mut total = 0.0;
    let mut slice: Vec<[f64; 2]> = Vec::with_capacity(order.len());
    let mut i = 0;
    while i < order.len() {
        let z = order[i][2];
        while i < order.len() && order[i][2].total_cmp(&z) == Ordering::Equal {
            slice.push([order[i][0], order[i][1]]);
            i += 1;
        }
        let below = order.get(i).map_or(reference[2], |p| p[2]);
        total += area(slice.clone(), [reference[0], reference[1]]) * (z - below);
    }
    total
}

#[cfg(test)]
mod tests {
    use rand::RngExt;

    use super::*;
    use crate::rng;

    /// The dominated volume counted cell by cell: every coordinate of every point (and the reference) cuts each
    /// axis; a cell is dominated when one point dominates (weakly) its upper corner.
    fn brute_volume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
        let d = reference.len();
        let axes: Vec<Vec<f64>> = (0..d)
            .map(|k| {
                let mut cuts: Vec<f64> = points.iter().map(|p| p[k]).filter(|&x| x > reference[k]).collect();
                cuts.push(reference[k]);
                cuts.sort_by(f64::total_cmp);
                cuts.dedup();
                cuts
            })
            .collect();
        let mut total = 0.0;
        let mut cell = vec![0usize; d];
        loop {
            if cell.iter().enumerate().all(|(k, &c)| c + 1 < axes[k].len()) {
                let upper: Vec<f64> = (0..d).map(|k| axes[k][cell[k] + 1]).collect();
                if points.iter().any(|p| p.iter().zip(&upper).all(|(x, u)| x >= u)) {
                    total += (0..d).map(|k| axes[k][cell[k] + 1] - axes[k][cell[k]]).product::<f64>();
                }
            }
            // The next cell, odometer-style.
            let mut k = 0;
            loop {
                if k == d {
                    return total;
                }
                cell[k] += 1;
                if cell[k] < axes[k].len() {
                    break;
                }
                cell[k] = 0;
                k += 1;
            }
        }
    }

    /// Fronts by their definition: repeatedly take what nothing left dominates.
    fn brute_fronts(points: &[Vec<f64>]) -> Vec<Vec<usize>> {
        let mut left: Vec<usize> = (0..points.len()).collect();
        let mut fronts = Vec::new();
        while !left.is_empty() {
            let front: Vec<usize> =
                left.iter().copied().filter(|&i| !left.iter().any(|&j| dominates(&points[j], &points[i]))).collect();
            left.retain(|i| !front.contains(i));
            fronts.push(front);
        }
        fronts
    }

    fn random_points(rng: &mut crate::SearchRng, n: usize, d: usize, grid: bool) -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| {
                (0..d)
                    .map(|_| if grid { f64::from(rng.random_range(0..6u8)) } else { rng.random_range(-1.0..4.0) })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn fronts_and_hypervolume_match_brute_force_on_random_sets() {
        let mut rng = rng::seeded(20);
        for d in [2, 3] {
            for case in 0..300 {
                let n = rng.random_range(0..25);
                // Half the sets on a small grid, so ties, repeated points and points on the reference are common.
                let points = random_points(&mut rng, n, d, case % 2 == 0);
                let reference: Vec<f64> = (0..d).map(|_| rng.random_range(-1.5..1.0)).collect();
                let expected = brute_volume(&points, &reference);
                let hv = hypervolume(&points, &reference).unwrap();
                assert!((hv - expected).abs() <= 1e-9 * expected.max(1.0), "d={d} case {case}: {hv} vs {expected}");
                let fronts = fronts(&points);
                assert_eq!(fronts, brute_fronts(&points), "d={d} case {case}");
                let first = fronts.first().cloned().unwrap_or_default();
                assert_eq!(non_dominated(&points), first);
                // The front alone has the whole set's hypervolume.
                let front_points: Vec<Vec<f64>> = first.iter().map(|&i| points[i].clone()).collect();
                let hv_front = hypervolume(&front_points, &reference).unwrap();
                assert!((hv_front - hv).abs() <= 1e-9 * hv.max(1.0));
            }
        }
    }

    #[test]
    fn hypervolume_of_simple_sets() {
        assert_eq!(hypervolume::<Vec<f64>>(&[], &[0.0, 0.0]).unwrap(), 0.0);
        assert_eq!(hypervolume(&[[2.0, 3.0]], &[0.0, 1.0]).unwrap(), 4.0);
        assert_eq!(hypervolume(&[[2.0, 3.0, 4.0]], &[1.0, 1.0, 1.0]).unwrap(), 6.0);
        // A point on the reference in one objective adds nothing.
        assert_eq!(hypervolume(&[[2.0, 1.0]], &[0.0, 1.0]).unwrap(), 0.0);
        // Two unit cubes overlapping in half a cube.
        let hv = hypervolume(&[[1.0, 1.0, 1.0], [1.0, 1.0, 0.5], [0.5, 1.0, 1.0]], &[0.0; 3]).unwrap();
        assert_eq!(hv, 1.0);
    }

    #[test]
    fn bad_inputs_are_refused_with_the_reason() {
        assert_eq!(hypervolume(&[[1.0]], &[0.0]).unwrap_err(), ParetoError::Dimensions(1));
        assert_eq!(hypervolume(&[[1.0; 4]], &[0.0; 4]).unwrap_err(), ParetoError::Dimensions(4));
        assert_eq!(
            hypervolume(&[vec![1.0, 2.0, 3.0]], &[0.0, 0.0]).unwrap_err(),
            ParetoError::Mismatch { point: 3, reference: 2 }
        );
        assert_eq!(hypervolume(&[[f64::NAN, 1.0]], &[0.0, 0.0]).unwrap_err(), ParetoError::NotFinite);
        assert!(ParetoError::Dimensions(4).to_string().contains("2 or 3 objectives"));
    }

    #[test]
    fn domination_is_strict() {
        assert!(dominates(&[1.0, 2.0], &[1.0, 1.0]));
        assert!(!dominates(&[1.0, 1.0], &[1.0, 1.0]));
        assert!(!dominates(&[2.0, 0.0], &[1.0, 1.0]));
        assert_eq!(non_dominated(&[[1.0, 1.0], [1.0, 1.0]]), vec![0, 1]);
    }
}
