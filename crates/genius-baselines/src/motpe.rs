//! The multi-objective tree-structured Parzen estimator, MOTPE (Ozaki, Tanigaki, Watanabe & Onishi, 2020,
//! "Multiobjective tree-structured Parzen estimator for computationally expensive optimization problems", GECCO;
//! and Ozaki, Tanigaki, Watanabe, Nomura & Onishi, 2022, "Multiobjective Tree-Structured Parzen Estimator", JAIR).
//!
//! As TPE, it proposes uniformly at random for its start-up trials, then splits the trials into a good group and a
//! bad one, builds a Parzen estimator of each, and proposes, of the candidates drawn from the good estimator, the one
//! with the largest density ratio (which the papers show maximises the expected hypervolume improvement under
//! TPE's model). What changes is the split: the trials are ranked by non-dominated sorting (Pareto fronts) instead of
//! by one value; whole fronts go to the good group while they fit in its size, and the front that does not fit is
//! cut by hypervolume contribution: its members are taken one at a time, each time the one that adds the most
//! hypervolume to those taken (greedy hypervolume subset selection), against a reference point a tenth of each
//! objective's range below the worst value told. The categorical kernels are this crate's TPE's.
//!
//! The good group's kernels weigh as their trials' hypervolume contributions to the group (the volume only that
//! trial dominates, over the largest one; a trial another good one dominates keeps a negligible weight), as the MOTPE
//! papers weigh them; the bad group's all weigh the same. With one objective the fronts are the levels of the score,
//! and it is TPE with uniform weights; with more than three objectives (where exact hypervolume is not computed) the
//! last front is cut by trial order and the good group's kernels weigh the same.

use async_trait::async_trait;
use genius_core::catalog::{Bound, Range, Setting, SettingKind};
use genius_core::checked::{Check, Checked};
use genius_core::pareto;
use genius_core::{
    Architecture, AskContext, Objective, Observation, Optimizer, OptimizerError, SearchRng, SearchSpace,
};
use serde::{Deserialize, Serialize};

use crate::TpeSettings;
use crate::common::{self, FRESH_TRIES, check_declared};
use crate::tpe::{Centre, Estimator, Told};

const NAME: &str = "motpe";

/// The settings of MOTPE, as `genius optimizers motpe` prints them and [`MotpeSettings::check`] enforces them.
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "n_startup_trials",
        SettingKind::Integer,
        "10",
        "uniformly random trials before the estimators are used (the 2020 paper: 11 × dimensions − 1)",
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
    Setting::new("constant_liar", SettingKind::Bool, "true", "count a batch's earlier choices as bad trials"),
];

/// Settings of [`Motpe`]. The defaults are the papers' and Optuna's: 10 random start-up trials (the 2020 paper
/// recommends 11 × dimensions − 1 for its continuous benchmarks), 24 candidates per proposal, a good group of the
/// best `min(ceil(0.1 n), 25)` trials by Pareto rank and hypervolume contribution (its kernels weighted by their
/// contributions), and a uniform prior of weight 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MotpeSettings {
    /// Trials proposed uniformly at random before the estimators are used.
    pub n_startup_trials: usize,
    /// Candidates drawn from the good group's estimator per proposal; the best by density ratio is proposed.
    pub n_ei_candidates: usize,
    /// Fraction of the trials (rounded up) in the good group.
    pub gamma: f64,
    /// Most trials in the good group.
    pub max_good: usize,
    /// Weight of the uniform prior kernel in each estimator, relative to one trial's.
    pub prior_weight: f64,
    /// In a batch, count the architectures already chosen as bad trials when choosing the next (as this crate's
    /// TPE does), so that a batch spreads out; a batch of one is the papers' sequential algorithm.
    pub constant_liar: bool,
}

impl Default for MotpeSettings {
    fn default() -> Self {
        Self {
            n_startup_trials: 10,
            n_ei_candidates: 24,
            gamma: 0.1,
            max_good: 25,
            prior_weight: 1.0,
            constant_liar: true,
        }
    }
}

impl Check for MotpeSettings {
    type Error = OptimizerError;

    /// Checks every field against its declared range.
    fn check_ref(&self) -> Result<(), OptimizerError> {
        check_declared(NAME, SETTINGS, self)
    }
}

impl MotpeSettings {
    /// The size of the good group among `n` trials.
    fn good_size(&self, n: usize) -> usize {
        ((self.gamma * n as f64).ceil() as usize).min(self.max_good)
    }

    /// The kernels' settings (the crate's TPE estimator, every trial weighted fully).
    fn kernels(&self) -> TpeSettings {
        TpeSettings { prior_weight: self.prior_weight, full_weight_trials: 0, ..TpeSettings::default() }
    }
}

/// MOTPE over any categorical space and any number of objectives (one included), ranking trials by
/// [`Observation::scores`]. Proposals meet the space's constraint (candidates that break it are dropped).
#[derive(Debug, Clone)]
pub struct Motpe {
    settings: MotpeSettings,
    /// Trials with a value, in trial order (failed ones are left out, as TPE leaves them out).
    told: Vec<Told>,
    /// What the search saw of each of them (their objective vectors are read at the asks, under the study's
    /// objective).
    observations: Vec<Observation>,
    /// The objective vectors read so far, in trial order (`None` for an infeasible trial), and the objective they
    /// were read under.
    points: Vec<Option<Vec<f64>>>,
    scored_under: Option<Objective>,
}

impl Motpe {
    /// MOTPE with `settings`, checked.
    pub fn new(settings: Checked<MotpeSettings>) -> Self {
        let settings = settings.into_inner();
        Self { settings, told: Vec::new(), observations: Vec::new(), points: Vec::new(), scored_under: None }
    }

    /// The good group (indices into the told trials, in trial order) for `points`, each trial's objective vector
    /// (`None` when infeasible): whole Pareto fronts while they fit, the next front cut by greedy hypervolume
    /// contribution, and the earliest infeasible trials when too few are feasible.
    fn good(&self, points: &[Option<Vec<f64>>]) -> Vec<usize> {
        let n_good = self.settings.good_size(points.len());
        let feasible: Vec<usize> = (0..points.len()).filter(|&i| points[i].is_some()).collect();
        let vectors: Vec<&[f64]> = feasible.iter().map(|&i| points[i].as_deref().expect("feasible")).collect();
        let mut good: Vec<usize> = Vec::with_capacity(n_good);
        for front in top_fronts(&vectors, n_good) {
            let room = n_good - good.len();
            if room == 0 {
                break;
            }
            if front.len() <= room {
                good.extend(front.iter().map(|&k| feasible[k]));
            } else {
                let members: Vec<&[f64]> = front.iter().map(|&k| vectors[k]).collect();
                let reference = reference(&vectors);
                good.extend(select(&members, room, reference.as_deref()).into_iter().map(|k| feasible[front[k]]));
            }
        }
        if good.len() < n_good {
            let infeasible = (0..points.len()).filter(|&i| points[i].is_none());
            good.extend(infeasible.take(n_good - good.len()));
        }
        good.sort_unstable();
        good
    }

    /// Reads the objective vectors of the trials told since the last ask (of every trial, should the objective
    /// change, which a study's does not).
    fn score(&mut self, objective: &Objective) {
        if self.scored_under.as_ref() != Some(objective) {
            self.points.clear();
            self.scored_under = Some(objective.clone());
        }
        let new = &self.observations[self.points.len()..];
        self.points.extend(new.iter().map(|o| o.scores(objective)));
    }

    /// One proposal from the estimators of `good` (its kernels weighing `weights`) and `bad` (and the batch's
    /// pending ones, under the constant liar), or `None` when every candidate broke the space's constraint.
    fn propose(
        &self,
        space: &dyn SearchSpace,
        rng: &mut SearchRng,
        good: &[usize],
        weights: &[f64],
        bad: &[usize],
        pending: &[Architecture],
    ) -> Option<Architecture> {
        let liars: Vec<Told> = if self.settings.constant_liar {
            pending.iter().map(|a| Told::new(a.clone(), None)).collect()
        } else {
            Vec::new()
        };
        let good: Vec<Centre<'_>> = good.iter().map(|&i| self.told[i].centre()).collect();
        let bad: Vec<Centre<'_>> =
            bad.iter().map(|&i| self.told[i].centre()).chain(liars.iter().map(Told::centre)).collect();
        let sizes: Vec<usize> = space.dimensions().iter().map(|d| d.len()).collect();
        let kernels = self.settings.kernels();
        let good = Estimator::weighted(&kernels, &sizes, &good, weights.to_vec());
        let bad = Estimator::new(&kernels, &sizes, &bad);
        let mut best: Option<(f64, Architecture)> = None;
        for _ in 0..self.settings.n_ei_candidates {
            let candidate = good.sample(rng);
            if space.check(&candidate).is_err() {
                continue;
            }
            let ratio = good.log_pdf(&candidate) - bad.log_pdf(&candidate);
            if best.as_ref().is_none_or(|(b, _)| ratio > *b) {
                best = Some((ratio, candidate));
            }
        }
        best.map(|(_, a)| a)
    }
}

/// The first Pareto fronts of `points` (larger is better), as many as it takes to hold `needed` points (or all):
/// each lists indices in input order, as [`pareto::fronts`] does. Points sorted by their values in lexicographic
/// order, best first, come after every point that dominates them, and a point dominated by one left is dominated by
/// one on the front being peeled, so each point is compared with that front's members only: O(n k) for fronts of
/// k points in all, where a full non-dominated sort costs O(n²) at every ask.
fn top_fronts(points: &[&[f64]], needed: usize) -> Vec<Vec<usize>> {
    let mut left: Vec<usize> = (0..points.len()).collect();
    left.sort_by(|&a, &b| {
        let order = points[b].iter().zip(points[a]).map(|(x, y)| x.total_cmp(y)).find(|o| o.is_ne());
        order.unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b))
    });
    let mut fronts = Vec::new();
    let mut held = 0;
    while held < needed && !left.is_empty() {
        let mut front: Vec<usize> = Vec::new();
        let mut rest = Vec::with_capacity(left.len());
        for &i in &left {
            if front.iter().any(|&f| pareto::dominates(points[f], points[i])) {
                rest.push(i);
            } else {
                front.push(i);
            }
        }
        held += front.len();
        front.sort_unstable();
        fronts.push(front);
        left = rest;
    }
    fronts
}

/// The smallest weight of a good trial's kernel: that of a trial whose contribution is nothing (another good trial
/// dominates it, or it is infeasible), so that it still counts, barely.
const LEAST_WEIGHT: f64 = 1e-12;

/// The weights of the good group's kernels: each trial's exclusive hypervolume contribution to the group (above
/// `reference`) over the largest one, at least [`LEAST_WEIGHT`]; an infeasible trial (`None`) weighs the least. All
/// weigh 1 without a reference point (one objective, or more than three) or when no trial contributes.
fn contribution_weights(members: &[Option<&[f64]>], reference: Option<&[f64]>) -> Vec<f64> {
    let uniform = vec![1.0; members.len()];
    let Some(reference) = reference else { return uniform };
    let feasible: Vec<&[f64]> = members.iter().flatten().copied().collect();
    let volume_of = |set: &[&[f64]]| pareto::hypervolume(set, reference).expect("finite points of 2 or 3 objectives");
    let whole = volume_of(&feasible);
    let mut k = 0;
    let contributions: Vec<f64> = members
        .iter()
        .map(|m| match m {
            None => 0.0,
            Some(_) => {
                let without: Vec<&[f64]> =
                    feasible.iter().enumerate().filter(|&(j, _)| j != k).map(|(_, p)| *p).collect();
                k += 1;
                (whole - volume_of(&without)).max(0.0)
            }
        })
        .collect();
    let largest = contributions.iter().copied().fold(0.0, f64::max);
    if largest <= 0.0 {
        return uniform;
    }
    contributions.iter().map(|c| (c / largest).max(LEAST_WEIGHT)).collect()
}

/// The reference point of the hypervolume contributions: a tenth of each objective's range (1 where the range is
/// empty) below the worst value of `points` (larger is better); `None` where exact hypervolume is not computed
/// (one objective, or more than three).
fn reference(points: &[&[f64]]) -> Option<Vec<f64>> {
    let d = points.first()?.len();
    if !(2..=3).contains(&d) {
        return None;
    }
    Some(
        (0..d)
            .map(|m| {
                let lo = points.iter().map(|p| p[m]).fold(f64::INFINITY, f64::min);
                let hi = points.iter().map(|p| p[m]).fold(f64::NEG_INFINITY, f64::max);
                let margin = if hi > lo { (hi - lo) / 10.0 } else { 1.0 };
                lo - margin
            })
            .collect(),
    )
}

/// `k` of `members` (one front, no member dominating another), greedily by hypervolume contribution above
/// `reference`: each time the member that adds the most hypervolume to those taken, the earlier on ties. Without a
/// reference point, the first `k`.
///
/// A member's gain only shrinks as members are taken (hypervolume is submodular), so a gain computed earlier bounds
/// it from above: a member is taken once its fresh gain beats every other member's bound (Minoux's lazy greedy),
/// which picks the same members as computing every gain afresh in every round, at a fraction of the cost.
fn select(members: &[&[f64]], k: usize, reference: Option<&[f64]>) -> Vec<usize> {
    let k = k.min(members.len());
    let Some(reference) = reference else { return (0..k).collect() };
    let volume_of = |set: &[&[f64]]| pareto::hypervolume(set, reference).expect("finite points of 2 or 3 objectives");
    // Each member's bound on its gain, and whether that bound is its gain given the members taken now.
    let mut bound: Vec<f64> = vec![f64::INFINITY; members.len()];
    let mut fresh = vec![false; members.len()];
    let mut taken: Vec<usize> = Vec::with_capacity(k);
    let mut chosen: Vec<&[f64]> = Vec::with_capacity(k);
    let mut volume = 0.0;
    while taken.len() < k {
        // The member with the largest bound, the earlier on ties.
        let best = (0..members.len())
            .filter(|i| !taken.contains(i))
            .fold(None, |best: Option<usize>, i| match best {
                Some(b) if bound[b] >= bound[i] => Some(b),
                _ => Some(i),
            })
            .expect("a member is left");
        if fresh[best] {
            volume += bound[best];
            taken.push(best);
            chosen.push(members[best]);
            fresh.iter_mut().for_each(|f| *f = false);
            continue;
        }
        chosen.push(members[best]);
        bound[best] = volume_of(&chosen) - volume;
        chosen.pop();
        fresh[best] = true;
    }
    taken
}

impl Default for Motpe {
    fn default() -> Self {
        Self::new(Checked::default())
    }
}

#[async_trait]
impl Optimizer for Motpe {
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
        if self.told.len() < self.settings.n_startup_trials {
            while batch.len() < n {
                batch.push(common::sample(ctx)?);
            }
            return Ok(batch);
        }
        self.score(ctx.objective);
        let good = self.good(&self.points);
        let feasible: Vec<&[f64]> = self.points.iter().flatten().map(Vec::as_slice).collect();
        let members: Vec<Option<&[f64]>> = good.iter().map(|&i| self.points[i].as_deref()).collect();
        let weights = contribution_weights(&members, reference(&feasible).as_deref());
        let mut in_good = vec![false; self.told.len()];
        good.iter().for_each(|&i| in_good[i] = true);
        let bad: Vec<usize> = (0..self.told.len()).filter(|&i| !in_good[i]).collect();
        while batch.len() < n {
            let proposal =
                (0..FRESH_TRIES).find_map(|_| self.propose(ctx.space, ctx.rng, &good, &weights, &bad, &batch));
            let arch = match proposal {
                Some(a) => a,
                // Every candidate broke the constraint: a uniform feasible one instead.
                None => common::sample(ctx)?,
            };
            batch.push(arch);
        }
        Ok(batch)
    }

    fn tell(&mut self, trials: &[Observation]) {
        for t in trials.iter().filter(|t| t.value.is_some()) {
            self.told.push(Told::new(t.arch.clone(), t.score));
            self.observations.push(t.clone());
        }
    }

    fn multi_objective(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genius_core::checked::Check;

    #[test]
    fn the_good_group_is_whole_fronts_then_the_largest_hypervolume_contributions() {
        // Larger is better. Front 1: trials 0, 2, 5 and 7; front 2: 3; then 1, then 6; trial 4 is infeasible.
        let points: Vec<Option<Vec<f64>>> = vec![
            Some(vec![10.0, 0.0]),
            Some(vec![1.0, 1.0]),
            Some(vec![5.0, 5.0]),
            Some(vec![2.0, 2.0]),
            None,
            Some(vec![0.0, 10.0]),
            Some(vec![0.5, 0.5]),
            Some(vec![9.0, 0.5]),
        ];
        // Eight trials at gamma 0.5: a good group of 4, front 1 whole.
        let motpe = Motpe::new(MotpeSettings { gamma: 0.5, ..Default::default() }.check().unwrap());
        assert_eq!(motpe.good(&points), vec![0, 2, 5, 7]);
        // At gamma 0.75, six: fronts 1, 2 (trial 3) and 3 (trial 1).
        let motpe = Motpe::new(MotpeSettings { gamma: 0.75, ..Default::default() }.check().unwrap());
        assert_eq!(motpe.good(&points), vec![0, 1, 2, 3, 5, 7]);
        // At gamma 0.375, three of front 1, by hypervolume contribution above (-1, -1) (a tenth of the range of
        // 10 below the worst, 0): (5, 5) first (6 × 6 = 36, the largest box), then (9, 0.5) (adds 4 × 1.5 = 6,
        // against 5 for each extreme), then (0, 10) (adds 1 × 5 = 5, against 1 for (10, 0)).
        let feasible: Vec<&[f64]> = points.iter().flatten().map(Vec::as_slice).collect();
        assert_eq!(reference(&feasible), Some(vec![-1.0, -1.0]));
        let motpe = Motpe::new(MotpeSettings { gamma: 0.375, ..Default::default() }.check().unwrap());
        assert_eq!(motpe.good(&points), vec![2, 5, 7]);
        let members: Vec<&[f64]> = [0, 2, 5, 7].iter().map(|&i| points[i].as_deref().unwrap()).collect();
        assert_eq!(select(&members, 3, Some(&[-1.0, -1.0])), vec![1, 3, 2]);
        // Too few feasible trials: the earliest infeasible one fills the group.
        let few = vec![None, Some(vec![1.0, 1.0]), None];
        let motpe = Motpe::new(MotpeSettings { gamma: 1.0, ..Default::default() }.check().unwrap());
        assert_eq!(motpe.good(&few), vec![0, 1, 2]);
        let motpe = Motpe::new(MotpeSettings { gamma: 0.6, ..Default::default() }.check().unwrap());
        assert_eq!(motpe.good(&few), vec![0, 1]);
    }

    #[test]
    fn with_one_objective_the_good_group_is_the_best_trials_earliest_first_among_ties() {
        let motpe = Motpe::new(MotpeSettings { gamma: 0.25, ..Default::default() }.check().unwrap());
        let points: Vec<Option<Vec<f64>>> =
            [1.0, 9.0, 3.0, 9.0, 9.0, 2.0, 0.0, 5.0, 4.0, 9.0, 1.0, 6.0].iter().map(|&v| Some(vec![v])).collect();
        // Twelve trials, a good group of 3: three of the four 9.0s, the earliest.
        assert_eq!(motpe.good(&points), vec![1, 3, 4]);
    }

    #[tokio::test]
    async fn it_reaches_the_toy_front_and_repeats_for_a_seed() {
        let go = |seed| async move {
            let settings = MotpeSettings { n_startup_trials: 5, ..Default::default() };
            crate::common::toy_front::search(Box::new(Motpe::new(settings.check().unwrap())), seed).await
        };
        let outcome = go(2).await;
        let arch = |o: &genius_core::StudyOutcome| o.trials.iter().map(|t| t.arch.clone()).collect::<Vec<_>>();
        assert_eq!(arch(&outcome), arch(&go(2).await));
        assert_ne!(arch(&outcome), arch(&go(3).await));
        let ratio = crate::common::toy_front::hypervolume_ratio(&outcome).await;
        assert!(ratio > 0.9, "40 queries of 24 toy architectures reach most of the front's hypervolume: {ratio}");
    }

    #[test]
    fn invalid_settings_are_refused_with_the_field() {
        let err = MotpeSettings { gamma: 0.0, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("motpe: `gamma` must be greater than 0 and at most 1 (got 0.0)"), "{err}");
        let err = MotpeSettings { n_ei_candidates: 0, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("`n_ei_candidates` must be at least 1 (got 0)"), "{err}");
        let err = MotpeSettings { max_good: 0, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("`max_good` must be at least 1"), "{err}");
    }

    /// Greedy selection computing every gain afresh in every round.
    fn eager(members: &[&[f64]], k: usize, reference: &[f64]) -> Vec<usize> {
        let mut taken: Vec<usize> = Vec::new();
        while taken.len() < k.min(members.len()) {
            let volume = |extra: Option<usize>| {
                let set: Vec<&[f64]> = taken.iter().chain(extra.as_ref()).map(|&i| members[i]).collect();
                pareto::hypervolume(&set, reference).unwrap()
            };
            let base = volume(None);
            let mut best: Option<(f64, usize)> = None;
            for i in (0..members.len()).filter(|i| !taken.contains(i)) {
                let gain = volume(Some(i)) - base;
                if best.is_none_or(|(g, _)| gain > g) {
                    best = Some((gain, i));
                }
            }
            taken.push(best.unwrap().1);
        }
        taken
    }

    #[test]
    fn lazy_greedy_selection_picks_what_eager_greedy_picks() {
        let mut rng = genius_core::rng::seeded(10);
        for case in 0..200 {
            let d = 2 + case % 2;
            let n = rand::RngExt::random_range(&mut rng, 1..16usize);
            // A front: random points, reduced to those nothing dominates; on a grid half the time, for ties.
            let points: Vec<Vec<f64>> = (0..n)
                .map(|_| {
                    (0..d)
                        .map(|_| {
                            if case % 4 < 2 {
                                f64::from(rand::RngExt::random_range(&mut rng, 0..6u8))
                            } else {
                                rand::RngExt::random_range(&mut rng, 0.0..5.0)
                            }
                        })
                        .collect()
                })
                .collect();
            let front: Vec<&[f64]> = pareto::non_dominated(&points).into_iter().map(|i| points[i].as_slice()).collect();
            let reference = vec![-1.0; d];
            for k in 1..=front.len() {
                assert_eq!(select(&front, k, Some(&reference)), eager(&front, k, &reference), "case {case}, k {k}");
            }
        }
    }

    #[test]
    fn the_top_fronts_are_the_first_fronts_of_a_full_sort() {
        let mut rng = genius_core::rng::seeded(9);
        for case in 0..200 {
            let d = 1 + case % 3;
            let n = rand::RngExt::random_range(&mut rng, 0..30usize);
            // Values on a small grid, so that ties and repeated points are common.
            let points: Vec<Vec<f64>> = (0..n)
                .map(|_| (0..d).map(|_| f64::from(rand::RngExt::random_range(&mut rng, 0..5u8))).collect())
                .collect();
            let refs: Vec<&[f64]> = points.iter().map(Vec::as_slice).collect();
            let all = pareto::fronts(&refs);
            for needed in [1, 3, 10, 100] {
                let top = top_fronts(&refs, needed);
                assert_eq!(top, all[..top.len()], "case {case}, {needed} needed");
                let held: usize = top.iter().map(Vec::len).sum();
                assert!(held >= needed.min(n), "case {case}");
                assert!(top.len() == all.len() || held - top.last().unwrap().len() < needed, "no front too many");
            }
        }
    }

    #[test]
    fn good_kernels_weigh_as_their_hypervolume_contributions() {
        let reference = [0.0, 0.0];
        // Only (4, 1) dominates (2, 4] × (0, 1], an area of 2; only (1, 3) dominates (0, 1] × (2, 3], and only
        // (2, 2) dominates (1, 2] × (1, 2], an area of 1 each; (2, 2) dominates (1, 1), which contributes nothing.
        let points: [&[f64]; 4] = [&[4.0, 1.0], &[1.0, 3.0], &[2.0, 2.0], &[1.0, 1.0]];
        let members: Vec<Option<&[f64]>> = points.iter().copied().map(Some).chain([None]).collect();
        let w = contribution_weights(&members, Some(&reference));
        assert_eq!(w, vec![1.0, 0.5, 0.5, LEAST_WEIGHT, LEAST_WEIGHT]);
        assert_eq!(contribution_weights(&members, None), vec![1.0; 5], "no reference point: uniform");
        assert_eq!(contribution_weights(&[None, None], Some(&reference)), vec![1.0; 2], "no contribution: uniform");
    }

    #[test]
    fn the_reference_point_lies_a_tenth_of_the_range_below_the_worst() {
        let points: Vec<&[f64]> = vec![&[0.0, 5.0], &[10.0, 5.0]];
        assert_eq!(reference(&points), Some(vec![-1.0, 4.0]));
        assert_eq!(reference(&[&[1.0][..]]), None);
        assert_eq!(reference(&[&[1.0, 2.0, 3.0, 4.0][..]]), None);
        assert_eq!(select(&[&[1.0, 2.0, 3.0, 4.0][..], &[4.0, 3.0, 2.0, 1.0][..]], 1, None), vec![0]);
    }
}
