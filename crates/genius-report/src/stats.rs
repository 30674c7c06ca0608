//! Statistics over seeds: location and spread, and pairwise comparisons (Mann–Whitney U, bootstrap intervals).

use rand::RngExt;

/// Location and spread of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Describe {
    /// Sample size.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for a single value.
    pub std: f64,
    /// Median.
    pub median: f64,
    /// First quartile.
    pub q25: f64,
    /// Third quartile.
    pub q75: f64,
}

impl Describe {
    /// Describes `values` (which must not be empty; NaNs are not expected).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let std =
            if n > 1 { (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Self {
            n,
            mean,
            std,
            median: quantile(&sorted, 0.5),
            q25: quantile(&sorted, 0.25),
            q75: quantile(&sorted, 0.75),
        }
    }

    /// The standard error of the mean.
    pub fn sem(&self) -> f64 {
        self.std / (self.n as f64).sqrt()
    }
}

/// The `q`-quantile of sorted values, interpolating linearly (the default of numpy and pandas).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The two-sided p-value of the Mann–Whitney U test of `a` against `b` (normal approximation with tie correction
/// and continuity correction); 1 when both samples are constant and equal.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let mut all: Vec<(f64, usize)> = a.iter().map(|&v| (v, 0)).chain(b.iter().map(|&v| (v, 1))).collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut ranks = vec![0.0; all.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        ranks[i..=j].fill(rank);
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    let r1: f64 = all.iter().zip(&ranks).filter(|(x, _)| x.1 == 0).map(|(_, r)| r).sum();
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let n = n1 + n2;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = ((u1 - mean).abs() - 0.5).max(0.0) / var.sqrt();
    libm::erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

/// A 95% percentile-bootstrap interval of `mean(a) − mean(b)`, from `resamples` resamples with a fixed seed.
pub fn bootstrap_mean_difference(a: &[f64], b: &[f64], resamples: usize, seed: u64) -> (f64, f64) {
    let mut rng = genius_core::rng::seeded(seed);
    let mut diffs: Vec<f64> = (0..resamples)
        .map(|_| {
            let ma = (0..a.len()).map(|_| a[rng.random_range(0..a.len())]).sum::<f64>() / a.len() as f64;
            let mb = (0..b.len()).map(|_| b[rng.random_range(0..b.len())]).sum::<f64>() / b.len() as f64;
            ma - mb
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    (quantile(&diffs, 0.025), quantile(&diffs, 0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_matches_numpy_conventions() {
        let d = Describe::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(d.mean, 2.5);
        assert!((d.std - 1.2909944).abs() < 1e-6);
        assert_eq!((d.q25, d.median, d.q75), (1.75, 2.5, 3.25));
    }

    #[test]
    fn mann_whitney_separates_shifted_samples_and_not_equal_ones() {
        let a: Vec<f64> = (0..30).map(f64::from).collect();
        let b: Vec<f64> = (0..30).map(|x| f64::from(x) + 20.0).collect();
        assert!(mann_whitney(&a, &b) < 1e-5);
        assert!(mann_whitney(&a, &a) > 0.9);
        assert_eq!(mann_whitney(&[1.0, 1.0], &[1.0, 1.0]), 1.0);
        // scipy.stats.mannwhitneyu([1,2,3,4,5], [3,4,5,6,7], method="asymptotic") gives U = 4.5, p = 0.113846.
        let p = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 5.0], &[3.0, 4.0, 5.0, 6.0, 7.0]);
        assert!((p - 0.113846).abs() < 1e-5, "{p}");
    }

    #[test]
    fn bootstrap_interval_covers_the_true_difference() {
        let a: Vec<f64> = (0..50).map(|x| f64::from(x % 7) + 3.0).collect();
        let b: Vec<f64> = (0..50).map(|x| f64::from(x % 7)).collect();
        let (lo, hi) = bootstrap_mean_difference(&a, &b, 2000, 1);
        // The normal-theory width is 2 × 1.96 × sqrt(2 × 4 / 50) ≈ 1.57.
        assert!(lo < 3.0 && 3.0 < hi && (hi - lo - 1.57).abs() < 0.3, "({lo}, {hi})");
    }
}
