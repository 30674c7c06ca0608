//! The tree-structured Parzen estimator (Bergstra et al., 2011, "Algorithms for Hyper-Parameter Optimization") for
//! categorical dimensions, as Optuna's default `TPESampler` runs it: random start-up trials, then a split of the
//! trials into a good group (the best `gamma` fraction) and a bad one, a Parzen estimator of each (one kernel per
//! trial plus a uniform prior, recent trials weighted more), and of the candidates drawn from the good estimator the
//! one with the largest density ratio.

use async_trait::async_trait;
use genius_core::{ArchSet, Architecture, AskContext, Observation, Optimizer, OptimizerError, SearchRng, SearchSpace};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::common::{self, FRESH_TRIES, check_declared, weighted_index};
use genius_core::catalog::{Bound, Range, Setting, SettingKind};
use genius_core::checked::{Check, Checked};

const NAME: &str = "tpe";

/// The settings of TPE, as `genius optimizers tpe` prints them and [`TpeSettings::check`] enforces them.
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "n_startup_trials",
        SettingKind::Integer,
        "10",
        "uniformly random trials before the estimator is used",
    ),
    Setting::new("n_ei_candidates", SettingKind::Integer, "24", "candidates drawn per proposal; the best ratio wins")
        .range(Range::at_least(1.0)),
    Setting::new("gamma", SettingKind::Number, "0.1", "fraction of the trials (rounded up) in the good group")
        .range(Range::Between(Bound::Exclusive(0.0), Bound::Inclusive(1.0))),
    Setting::new("max_good", SettingKind::Integer, "25", "most trials in the good group").range(Range::at_least(1.0)),
    Setting::new(
        "prior_weight",
        SettingKind::Number,
        "1.0",
        "weight of the uniform prior kernel, relative to a trial's",
    )
    .range(Range::Between(Bound::Exclusive(0.0), Bound::Inclusive(1e6))),
    Setting::new(
        "full_weight_trials",
        SettingKind::Integer,
        "25",
        "latest trials of each group at full weight (0: all)",
    ),
    Setting::new("multivariate", SettingKind::Bool, "true", "one joint estimator over all dimensions"),
    Setting::new("constant_liar", SettingKind::Bool, "true", "count a batch's earlier choices as bad trials"),
    Setting::new("avoid_duplicates", SettingKind::Bool, "false", "re-draw a proposal that was already evaluated"),
];

/// Settings of [`Tpe`]. The defaults are Optuna's (`TPESampler()` in Optuna 4.x and 5.0): 10 random start-up trials,
/// 24 candidates, the good group the best `min(ceil(0.1 n), 25)` trials, prior weight 1, the 25 latest trials in
/// each group weighted fully and older ones less, a multivariate estimator (Optuna's default since 5.0 for one
/// objective; before it was independent per dimension), and the constant liar for batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TpeSettings {
    /// Trials proposed uniformly at random before the estimator is used.
    pub n_startup_trials: usize,
    /// Candidates drawn from the good group's estimator per proposal; the best by density ratio is proposed.
    pub n_ei_candidates: usize,
    /// Fraction of the trials (rounded up) in the good group.
    pub gamma: f64,
    /// Most trials in the good group.
    pub max_good: usize,
    /// Weight of the uniform prior kernel in each estimator, relative to one trial's.
    pub prior_weight: f64,
    /// The latest trials of each group that get full weight; older ones get linearly less (as Optuna's
    /// `default_weights`). Zero weights every trial fully.
    pub full_weight_trials: usize,
    /// One joint estimator over all dimensions (each kernel a product over dimensions). When false, every dimension
    /// is estimated and chosen independently (the original TPE, and Optuna's default before 5.0).
    pub multivariate: bool,
    /// In a batch, count the architectures already chosen as bad trials when choosing the next (Optuna's
    /// `constant_liar`), so that a batch spreads out.
    pub constant_liar: bool,
    /// Re-draw a proposal that was already evaluated (up to 64 rounds of candidates, then a repeat is accepted). Off by default,
    /// as in Optuna, where a repeat costs a query. A tuning of this crate.
    pub avoid_duplicates: bool,
}

impl Default for TpeSettings {
    fn default() -> Self {
        Self {
            n_startup_trials: 10,
            n_ei_candidates: 24,
            gamma: 0.1,
            max_good: 25,
            prior_weight: 1.0,
            full_weight_trials: 25,
            multivariate: true,
            constant_liar: true,
            avoid_duplicates: false,
        }
    }
}

impl Check for TpeSettings {
    type Error = OptimizerError;

    /// Checks every field: at least one candidate, `gamma` in `(0, 1]`, at least one good trial, a positive prior
    /// weight.
    fn check_ref(&self) -> Result<(), OptimizerError> {
        check_declared(NAME, SETTINGS, self)
    }
}

impl TpeSettings {
    /// The size of the good group among `n` trials.
    fn good_size(&self, n: usize) -> usize {
        ((self.gamma * n as f64).ceil() as usize).min(self.max_good)
    }

    /// The weights of a group of `m` trials in trial order (Optuna's `default_weights` with a window of
    /// `full_weight_trials`).
    fn weights(&self, m: usize) -> Vec<f64> {
        let window = self.full_weight_trials;
        if window == 0 || m < window {
            return vec![1.0; m];
        }
        let ramp = m - window;
        let mut w: Vec<f64> = (0..ramp)
            .map(|i| {
                let (lo, hi) = (1.0 / m as f64, 1.0);
                if ramp == 1 { lo } else { lo + (hi - lo) * i as f64 / (ramp - 1) as f64 }
            })
            .collect();
        w.extend(std::iter::repeat_n(1.0, window));
        w
    }
}

/// A trial as TPE remembers it.
#[derive(Debug, Clone)]
pub(crate) struct Told {
    arch: Architecture,
    /// The score, `None` for an infeasible trial (it has a value that breaks the objective's constraints).
    score: Option<f64>,
    /// The architecture packed for counting matches (see [`Packed`]), empty when a choice exceeds a byte.
    words: Vec<u64>,
}

impl Told {
    pub(crate) fn new(arch: Architecture, score: Option<f64>) -> Self {
        let words = Packed::words_of(arch.choices());
        Self { arch, score, words }
    }

    pub(crate) fn centre(&self) -> Centre<'_> {
        (self.arch.choices(), &self.words)
    }
}

/// A kernel centre: an architecture's choices and their packed words (empty if they do not pack).
pub(crate) type Centre<'a> = (&'a [u16], &'a [u64]);

/// TPE over any categorical space. Proposals meet the space's constraint (candidates that break it are dropped).
#[derive(Debug, Clone)]
pub struct Tpe {
    settings: TpeSettings,
    /// Trials with a value, in trial order (failed ones are left out, as Optuna leaves failed trials out).
    told: Vec<Told>,
    /// The feasible ones among them (indices into `told`), best first, the earlier first among ties (kept sorted as
    /// trials are told, as a stable sort of every trial would order them).
    ranked: Vec<usize>,
    /// Every architecture told, when avoiding duplicates.
    evaluated: ArchSet,
}

impl Tpe {
    /// TPE with `settings`, checked.
    pub fn new(settings: Checked<TpeSettings>) -> Self {
        let settings = settings.into_inner();
        Self { settings, told: Vec::new(), ranked: Vec::new(), evaluated: ArchSet::default() }
    }

    /// Splits the told trials into the good and the bad group (each in trial order), with `pending` appended to
    /// the bad one.
    fn split<'a>(&'a self, pending: &'a [Told]) -> (Vec<Centre<'a>>, Vec<Centre<'a>>) {
        let n_good = self.settings.good_size(self.told.len());
        let mut good: Vec<usize> = self.ranked.iter().copied().take(n_good).collect();
        if good.len() < n_good {
            // Too few feasible trials: the earliest infeasible ones fill the good group.
            let infeasible = (0..self.told.len()).filter(|&i| self.told[i].score.is_none());
            good.extend(infeasible.take(n_good - good.len()));
        }
        good.sort_unstable();
        let mut in_good = vec![false; self.told.len()];
        good.iter().for_each(|&i| in_good[i] = true);
        let bad = (0..self.told.len()).filter(|&i| !in_good[i]).map(|i| self.told[i].centre());
        let good = good.iter().map(|&i| self.told[i].centre()).collect();
        (good, bad.chain(pending.iter().map(Told::centre)).collect())
    }

    /// One proposal from the estimators of the current trials (and the batch's pending ones, under the constant
    /// liar); `exclude` rejects candidates (already evaluated, or in the batch).
    fn propose(
        &self,
        space: &dyn SearchSpace,
        rng: &mut SearchRng,
        pending: &[Architecture],
        exclude: &dyn Fn(&Architecture) -> bool,
    ) -> Option<Architecture> {
        let liars: Vec<Told> = if self.settings.constant_liar {
            pending.iter().map(|a| Told::new(a.clone(), None)).collect()
        } else {
            Vec::new()
        };
        let (good, bad) = self.split(&liars);
        let sizes: Vec<usize> = space.dimensions().iter().map(|d| d.len()).collect();
        let good = Estimator::new(&self.settings, &sizes, &good);
        let bad = Estimator::new(&self.settings, &sizes, &bad);
        if self.settings.multivariate {
            let mut best: Option<(f64, Architecture)> = None;
            for _ in 0..self.settings.n_ei_candidates {
                let candidate = good.sample(rng);
                if exclude(&candidate) || space.check(&candidate).is_err() {
                    continue;
                }
                let ratio = good.log_pdf(&candidate) - bad.log_pdf(&candidate);
                if best.as_ref().is_none_or(|(b, _)| ratio > *b) {
                    best = Some((ratio, candidate));
                }
            }
            best.map(|(_, a)| a)
        } else {
            let choices: Vec<u16> = (0..sizes.len())
                .map(|d| {
                    let (l, g) = (good.marginal(d), bad.marginal(d));
                    let mut best: Option<(f64, usize)> = None;
                    for _ in 0..self.settings.n_ei_candidates {
                        let c = weighted_index(&l, rng);
                        let ratio = l[c].ln() - g[c].ln();
                        if best.is_none_or(|(b, _)| ratio > b) {
                            best = Some((ratio, c));
                        }
                    }
                    best.map_or(0, |(_, c)| c as u16)
                })
                .collect();
            let arch = Architecture::new(choices);
            (!exclude(&arch) && space.check(&arch).is_ok()).then_some(arch)
        }
    }
}

impl Default for Tpe {
    fn default() -> Self {
        Self::new(Checked::default())
    }
}

/// A Parzen estimator over a categorical product space: one kernel per trial of a group plus a uniform prior, as
/// Optuna builds it. Trial `i`'s kernel puts, in every dimension `d` with `k` options, probability
/// `(1 + p) / (1 + k p)` on its own choice and `p / (1 + k p)` on each other one, where `p` is the prior weight over
/// the number of kernels.
pub(crate) struct Estimator<'a> {
    sizes: &'a [usize],
    /// The trials' choices.
    centres: Vec<&'a [u16]>,
    /// The mixture weights, normalised: one per centre, then the prior's.
    weights: Vec<f64>,
    /// Per dimension: the log-probability of a kernel's own choice and of any other one.
    log_own: Vec<f64>,
    log_other: Vec<f64>,
    /// Per dimension: a kernel's probability of its own choice and of each other one.
    own: Vec<f64>,
    other: Vec<f64>,
    /// Per dimension: `own / other`, the factor a matching choice adds to a kernel's density.
    ratio: Vec<f64>,
    /// The product of `other` over the dimensions (a kernel's density where nothing matches).
    base: f64,
    /// The prior's weight times its density (uniform).
    prior: f64,
    /// Whether densities fit in plain floating point (else they are summed in the log domain).
    direct: bool,
    /// When every dimension has as many options (so one ratio for all): `ratio^m` for `m` matching dimensions.
    powers: Option<Vec<f64>>,
    /// With `powers`, when every option index fits a byte: the centres packed eight dimensions to a word, so that
    /// matches are counted a word at a time.
    packed: Option<Packed>,
}

/// Architectures packed one byte per dimension into 64-bit words (zero padding at the end).
struct Packed {
    words: usize,
    /// The words of every centre, one after the other.
    centres: Vec<u64>,
}

impl Packed {
    /// `choices` packed, or nothing if a choice exceeds a byte.
    fn words_of(choices: &[u16]) -> Vec<u64> {
        let mut out = Vec::new();
        if choices.iter().all(|&c| c <= 0xff) {
            Self::pack(choices, choices.len().div_ceil(8), &mut out);
        }
        out
    }

    fn pack(choices: &[u16], words: usize, out: &mut Vec<u64>) {
        for w in 0..words {
            let mut word = 0u64;
            for (b, &c) in choices.iter().skip(w * 8).take(8).enumerate() {
                word |= u64::from(c as u8) << (8 * b);
            }
            out.push(word);
        }
    }

    /// The number of differing bytes between two packed words.
    fn differing(a: u64, b: u64) -> u32 {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        const ONES: u64 = 0x0101_0101_0101_0101;
        let v = a ^ b;
        // One bit per byte, set where the byte is not zero; the multiplication sums the bytes into the top one
        // (cheaper than a population count on CPUs without one).
        let nonzero = ((((v & LOW7) + LOW7) | v) & !LOW7) >> 7;
        (nonzero.wrapping_mul(ONES) >> 56) as u32
    }
}

impl<'a> Estimator<'a> {
    pub(crate) fn new(settings: &TpeSettings, sizes: &'a [usize], group: &[Centre<'a>]) -> Self {
        Self::weighted(settings, sizes, group, settings.weights(group.len()))
    }

    /// The estimator of `group` with `weights`, one per member (a member's full weight is 1, as the prior's is
    /// `settings.prior_weight`).
    pub(crate) fn weighted(
        settings: &TpeSettings,
        sizes: &'a [usize],
        group: &[Centre<'a>],
        mut weights: Vec<f64>,
    ) -> Self {
        debug_assert_eq!(weights.len(), group.len());
        weights.push(settings.prior_weight);
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let p = settings.prior_weight / (group.len() + 1) as f64;
        let own: Vec<f64> = sizes.iter().map(|&k| (1.0 + p) / (1.0 + k as f64 * p)).collect();
        let other: Vec<f64> = sizes.iter().map(|&k| p / (1.0 + k as f64 * p)).collect();
        let ratio: Vec<f64> = own.iter().zip(&other).map(|(o, x)| o / x).collect();
        let log_other: Vec<f64> = other.iter().map(|x| x.ln()).collect();
        let log_prior = -sizes.iter().map(|&k| (k as f64).ln()).sum::<f64>();
        // Plain products stay far from overflow and underflow when every factor's logarithm sums to well within
        // the range of f64 (about ±709).
        let log_base: f64 = log_other.iter().sum();
        let log_max_ratio: f64 = ratio.iter().map(|r| r.ln()).sum();
        let direct = log_base > -600.0 && log_max_ratio < 600.0 && log_prior > -600.0;
        let prior = weights[group.len()] * log_prior.exp();
        let powers: Option<Vec<f64>> = (direct && sizes.windows(2).all(|w| w[0] == w[1]))
            .then(|| (0..=sizes.len()).map(|m| ratio.first().map_or(1.0, |r| r.powi(m as i32))).collect());
        let words = sizes.len().div_ceil(8);
        let packable = sizes.iter().all(|&k| k <= 256) && group.iter().all(|(_, w)| w.len() == words);
        let packed = (powers.is_some() && packable).then(|| {
            let mut centres = Vec::with_capacity(words * group.len());
            group.iter().for_each(|(_, w)| centres.extend_from_slice(w));
            Packed { words, centres }
        });
        Self {
            sizes,
            centres: group.iter().map(|(c, _)| *c).collect(),
            log_own: own.iter().map(|x| x.ln()).collect(),
            log_other,
            own,
            other,
            ratio,
            base: log_base.exp(),
            prior,
            direct,
            powers,
            packed,
            weights,
        }
    }

    pub(crate) fn sample(&self, rng: &mut SearchRng) -> Architecture {
        let kernel = weighted_index(&self.weights, rng);
        let choices = match self.centres.get(kernel) {
            None => self.sizes.iter().map(|&k| rng.random_range(0..k as u16)).collect(),
            Some(centre) => centre
                .iter()
                .zip(self.sizes)
                .zip(&self.own)
                .map(|((&c, &k), &own)| {
                    if k == 1 || rng.random::<f64>() < own {
                        c
                    } else {
                        // Uniform among the other options.
                        let o = rng.random_range(0..k as u16 - 1);
                        if o >= c { o + 1 } else { o }
                    }
                })
                .collect::<Vec<u16>>(),
        };
        Architecture::new(choices)
    }

    pub(crate) fn log_pdf(&self, arch: &Architecture) -> f64 {
        let x = arch.choices();
        if let (Some(powers), Some(packed)) = (&self.powers, &self.packed) {
            // As below, counting the differing dimensions a word (eight dimensions) at a time.
            let mut words = Vec::with_capacity(packed.words);
            Packed::pack(x, packed.words, &mut words);
            let dims = x.len();
            let mut sum = 0.0;
            if let [x] = words[..] {
                // Up to eight dimensions, one word per centre (the common case).
                for (&c, w) in packed.centres.iter().zip(&self.weights) {
                    sum += w * powers[dims - Packed::differing(c, x) as usize];
                }
            } else {
                for (centre, w) in packed.centres.chunks_exact(packed.words).zip(&self.weights) {
                    let differing: u32 = centre.iter().zip(&words).map(|(&c, &x)| Packed::differing(c, x)).sum();
                    sum += w * powers[dims - differing as usize];
                }
            }
            return (self.base * sum + self.prior).ln();
        }
        if let Some(powers) = &self.powers {
            // One ratio for every dimension: a kernel's factor is ratio^(matching dimensions).
            let mut sum = 0.0;
            for (centre, w) in self.centres.iter().zip(&self.weights) {
                let matches = centre.iter().zip(x).filter(|(c, xd)| c == xd).count();
                sum += w * powers[matches];
            }
            return (self.base * sum + self.prior).ln();
        }
        if self.direct {
            // The density is base × Σ_i w_i Π_{d matching} ratio_d, plus the prior's.
            let mut sum = 0.0;
            for (centre, w) in self.centres.iter().zip(&self.weights) {
                let mut k = *w;
                for ((&c, &xd), &r) in centre.iter().zip(x).zip(&self.ratio) {
                    if c == xd {
                        k *= r;
                    }
                }
                sum += k;
            }
            return (self.base * sum + self.prior).ln();
        }
        let base: f64 = self.log_other.iter().sum();
        let log_prior: f64 =
            self.weights[self.centres.len()].ln() - self.sizes.iter().map(|&k| (k as f64).ln()).sum::<f64>();
        let mut terms = Vec::with_capacity(self.centres.len() + 1);
        for (centre, w) in self.centres.iter().zip(&self.weights) {
            let mut log_k = base;
            for (d, (&c, &xd)) in centre.iter().zip(x).enumerate() {
                if c == xd {
                    log_k += self.log_own[d] - self.log_other[d];
                }
            }
            terms.push(w.ln() + log_k);
        }
        terms.push(log_prior);
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
    }

    /// The mixture's probabilities of every option of dimension `d`.
    fn marginal(&self, d: usize) -> Vec<f64> {
        let k = self.sizes[d];
        let prior = self.weights[self.centres.len()];
        let mut p = vec![prior / k as f64; k];
        for (centre, w) in self.centres.iter().zip(&self.weights) {
            for (option, slot) in p.iter_mut().enumerate() {
                *slot += w * if usize::from(centre[d]) == option { self.own[d] } else { self.other[d] };
            }
        }
        p
    }
}

#[async_trait]
impl Optimizer for Tpe {
    fn name(&self) -> &str {
        NAME
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(&self.settings).expect("settings serialize")
    }

    fn random_phase(&self) -> usize {
        self.settings.n_startup_trials
    }

    async fn ask(&mut self, ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError> {
        let mut batch: Vec<Architecture> = Vec::with_capacity(n);
        let avoid = self.settings.avoid_duplicates;
        while batch.len() < n {
            let taken = |a: &Architecture| avoid && (self.evaluated.contains(a) || batch.contains(a));
            let mut arch = None;
            if self.told.len() < self.settings.n_startup_trials {
                for _ in 0..FRESH_TRIES {
                    let a = common::sample(ctx)?;
                    let fresh = !taken(&a);
                    arch = Some(a);
                    if fresh {
                        break;
                    }
                }
            } else {
                for _ in 0..FRESH_TRIES {
                    arch = self.propose(ctx.space, ctx.rng, &batch, &taken);
                    if arch.is_some() {
                        break;
                    }
                }
            }
            let arch = match arch {
                Some(a) => a,
                // Every candidate broke the constraint or was taken: a uniform feasible one instead.
                None => common::sample(ctx)?,
            };
            batch.push(arch);
        }
        Ok(batch)
    }

    fn tell(&mut self, trials: &[Observation]) {
        for t in trials {
            if self.settings.avoid_duplicates {
                self.evaluated.insert(t.arch.clone());
            }
            if t.value.is_some() {
                if let Some(score) = t.score {
                    // After every trial at least as good: the order of a stable sort, best first.
                    let at = self.ranked.partition_point(|&i| self.told[i].score.is_some_and(|s| s >= score));
                    self.ranked.insert(at, self.told.len());
                }
                self.told.push(Told::new(t.arch.clone(), t.score));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use genius_core::rng;

    use super::*;
    use genius_core::checked::Check;

    fn archs(list: &[&[u16]]) -> Vec<Architecture> {
        list.iter().map(|c| Architecture::new(c.to_vec())).collect()
    }

    fn pending(list: &[Architecture]) -> Vec<Told> {
        list.iter().map(|a| Told::new(a.clone(), None)).collect()
    }

    #[test]
    fn the_good_group_and_the_weights_follow_optuna() {
        let s = TpeSettings::default();
        assert_eq!((s.good_size(10), s.good_size(11), s.good_size(100), s.good_size(1000)), (1, 2, 10, 25));
        assert_eq!(s.weights(3), vec![1.0; 3]);
        let w = s.weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12 && (w[4] - 1.0).abs() < 1e-12 && w[5..].iter().all(|&x| x == 1.0));
        assert!(w[..5].windows(2).all(|p| p[0] < p[1]));
    }

    #[test]
    fn the_split_keeps_the_best_in_trial_order_and_puts_pending_ones_in_the_bad_group() {
        let mut tpe = Tpe::default();
        let a = archs(&[&[0], &[1], &[2], &[0], &[1], &[2], &[0], &[1], &[2], &[0], &[1]]);
        let scores = [1.0, 5.0, 3.0, 9.0, 2.0, 9.0, 0.0, 4.0, 1.0, 1.0, 8.0];
        let told: Vec<Observation> = a
            .iter()
            .zip(scores)
            .enumerate()
            .map(|(trial, (arch, s))| Observation {
                trial,
                arch: arch.clone(),
                value: Some(s),
                score: Some(s),
                metrics: Default::default(),
                params: None,
                flops: None,
                duplicate: false,
                failure: None,
            })
            .collect();
        tpe.tell(&told);
        // Best first, the earlier first among ties (a stable sort).
        assert_eq!(tpe.ranked, vec![3, 5, 10, 1, 7, 2, 4, 0, 8, 9, 6]);
        let pending = pending(&archs(&[&[2]]));
        let (good, bad) = tpe.split(&pending);
        // 11 trials: the best ceil(1.1) = 2, the two 9.0s (trials 3 and 5), in trial order.
        assert_eq!(good, vec![tpe.told[3].centre(), tpe.told[5].centre()]);
        assert_eq!(bad.len(), 10);
        assert_eq!(bad.last(), Some(&pending[0].centre()));
    }

    #[test]
    fn the_estimator_is_a_normalised_density_that_favours_its_trials() {
        let sizes = [3usize, 2];
        let group = pending(&archs(&[&[2, 1], &[2, 0]]));
        let refs: Vec<Centre<'_>> = group.iter().map(Told::centre).collect();
        let est = Estimator::new(&TpeSettings::default(), &sizes, &refs);
        let mut total = 0.0;
        for x in 0..3u16 {
            for y in 0..2u16 {
                total += est.log_pdf(&Architecture::new(vec![x, y])).exp();
            }
        }
        assert!((total - 1.0).abs() < 1e-12, "sums to {total}");
        // The plain-product path and the log-domain one agree.
        let mut logs = Estimator::new(&TpeSettings::default(), &sizes, &refs);
        logs.direct = false;
        assert!(est.direct && est.powers.is_none(), "dimensions of 3 and 2 options: no common ratio");
        for x in 0..3u16 {
            for y in 0..2u16 {
                let a = Architecture::new(vec![x, y]);
                assert!((est.log_pdf(&a) - logs.log_pdf(&a)).abs() < 1e-12);
            }
        }
        // With equal dimensions, the match-count path agrees with the other two.
        let square = [3usize, 3, 3];
        let group = pending(&archs(&[&[2, 1, 0], &[2, 0, 0], &[1, 1, 1]]));
        let refs: Vec<Centre<'_>> = group.iter().map(Told::centre).collect();
        let packed = Estimator::new(&TpeSettings::default(), &square, &refs);
        let mut counted = Estimator::new(&TpeSettings::default(), &square, &refs);
        counted.packed = None;
        let mut product = Estimator::new(&TpeSettings::default(), &square, &refs);
        (product.packed, product.powers) = (None, None);
        let mut logs = Estimator::new(&TpeSettings::default(), &square, &refs);
        (logs.packed, logs.powers, logs.direct) = (None, None, false);
        assert!(packed.packed.is_some());
        for a in (0..27u16).map(|i| Architecture::new(vec![i / 9, i / 3 % 3, i % 3])) {
            let p = packed.log_pdf(&a);
            for other in [&counted, &product, &logs] {
                assert!((p - other.log_pdf(&a)).abs() < 1e-12);
            }
        }
        // More than eight dimensions span several words; differing bytes are counted exactly.
        assert_eq!(Packed::differing(0x0102_0304_0506_0708, 0x0102_0304_0506_0708), 0);
        assert_eq!(Packed::differing(0x0102_0304_0506_0708, 0x0100_0304_0006_0709), 3);
        assert_eq!(Packed::differing(0x8000_0000_0000_0000, 0), 1);
        let mut words = Vec::new();
        Packed::pack(&(0..11u16).collect::<Vec<_>>(), 2, &mut words);
        assert_eq!(words, vec![0x0706_0504_0302_0100, 0x000a_0908]);
        assert!(est.log_pdf(&Architecture::new(vec![2, 1])) > est.log_pdf(&Architecture::new(vec![0, 1])));
        let marginal = est.marginal(0);
        assert!((marginal.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Two kernels and the prior, a third each; a kernel gives its own option (1 + 1/3) / (1 + 3/3) = 2/3.
        assert!((marginal[2] - (2.0 * 2.0 / 9.0 + 1.0 / 9.0)).abs() < 1e-12, "{marginal:?}");
        // Sampling follows the density.
        let mut rng = rng::seeded(4);
        let draws = 20_000;
        let hits = (0..draws).filter(|_| est.sample(&mut rng).choices() == [2, 1]).count();
        let expected = est.log_pdf(&Architecture::new(vec![2, 1])).exp();
        assert!((hits as f64 / draws as f64 - expected).abs() < 0.015, "{hits} vs {expected}");
    }

    #[test]
    fn invalid_settings_are_refused_with_the_field() {
        let err = TpeSettings { gamma: 0.0, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("tpe: `gamma` must be greater than 0 and at most 1 (got 0.0)"), "{err}");
        let err = TpeSettings { n_ei_candidates: 0, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("`n_ei_candidates` must be at least 1 (got 0)"), "{err}");
        let err = TpeSettings { prior_weight: -1.0, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("`prior_weight`"), "{err}");
    }
}
