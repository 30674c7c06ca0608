//! NSGA-II (Deb, Pratap, Agarwal & Meyarivan, 2002, "A fast and elitist multiobjective genetic algorithm:
//! NSGA-II"): generations of offspring bred by binary tournaments on (Pareto rank, crowding distance), and elitist
//! survival of the best half of parents and offspring by non-dominated sorting, ties in the last front broken by
//! crowding distance.
//!
//! The paper's operators are for real and binary strings; on categorical dimensions this uses their usual
//! counterparts (as Optuna's `NSGAIISampler` does): uniform crossover (each dimension from the second parent with
//! probability `swapping_prob`) and per-dimension mutation to another option with probability `1/dimensions`.
//! With one objective it is an elitist genetic algorithm ranked by the score.

use async_trait::async_trait;
use genius_core::catalog::{Range, Setting, SettingKind};
use genius_core::checked::{Check, Checked};
use genius_core::pareto;
use genius_core::{Architecture, AskContext, Objective, Observation, Optimizer, OptimizerError, SearchSpace};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::common::{self, check_declared};
use genius_core::SearchRng;

const NAME: &str = "nsga2";

/// The settings of NSGA-II, as `genius optimizers nsga2` prints them and [`Nsga2Settings::check`] enforces them.
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "population_size",
        SettingKind::Integer,
        "100",
        "members of each generation (N); the first N are random",
    )
    .range(Range::at_least(2.0)),
    Setting::new("crossover_prob", SettingKind::Number, "0.9", "chance that a child is a crossover of two parents")
        .range(Range::between(0.0, 1.0)),
    Setting::new("swapping_prob", SettingKind::Number, "0.5", "in a crossover, chance of each dimension from parent 2")
        .range(Range::between(0.0, 1.0)),
    Setting::new(
        "mutation_prob",
        SettingKind::Number,
        "0",
        "chance of each dimension mutating to another option; 0 means 1 / the number of dimensions",
    )
    .range(Range::between(0.0, 1.0)),
];

/// Settings of [`Nsga2`]. The defaults are Deb et al. (2002)'s: a population of 100, crossover probability 0.9 and a
/// mutation probability of one over the number of variables; uniform crossover swaps each dimension with
/// probability 0.5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Nsga2Settings {
    /// Members of each generation (N): the first N proposals are uniformly random; after that each generation breeds
    /// N children, and the best N of parents and children survive.
    pub population_size: usize,
    /// The chance that a child is bred by crossover of two tournament winners (otherwise it copies the first).
    pub crossover_prob: f64,
    /// In a crossover, the chance that each dimension comes from the second parent.
    pub swapping_prob: f64,
    /// The chance that each dimension of a child mutates to another option; 0 means 1 / the number of dimensions.
    pub mutation_prob: f64,
}

impl Default for Nsga2Settings {
    fn default() -> Self {
        Self { population_size: 100, crossover_prob: 0.9, swapping_prob: 0.5, mutation_prob: 0.0 }
    }
}

impl Check for Nsga2Settings {
    type Error = OptimizerError;

    /// Checks every field against its declared range.
    fn check_ref(&self) -> Result<(), OptimizerError> {
        check_declared(NAME, SETTINGS, self)
    }
}

/// A surviving parent: its architecture, Pareto rank (0 is the first front) and crowding distance.
#[derive(Debug, Clone)]
struct Member {
    arch: Architecture,
    rank: usize,
    crowding: f64,
}

/// NSGA-II over any categorical space and any number of objectives (one included), ranking trials by
/// [`Observation::scores`]. Failed and infeasible trials never survive.
#[derive(Debug, Clone)]
pub struct Nsga2 {
    settings: Nsga2Settings,
    /// The survivors of the last selection.
    parents: Vec<Member>,
    /// Their observations (the pool of the next selection, with the offspring told since).
    parent_observations: Vec<Observation>,
    /// Offspring told since the last selection.
    offspring: Vec<Observation>,
    /// Proposals made in the current generation.
    issued: usize,
    /// Generations started (0 while the random first one is proposed).
    generation: usize,
}

/// Attempts at a child that meets the space's constraint before a random architecture is proposed instead.
const CHILD_TRIES: usize = 100;

impl Nsga2 {
    /// NSGA-II with `settings`, checked.
    pub fn new(settings: Checked<Nsga2Settings>) -> Self {
        let settings = settings.into_inner();
        Self {
            settings,
            parents: Vec::new(),
            parent_observations: Vec::new(),
            offspring: Vec::new(),
            issued: 0,
            generation: 0,
        }
    }

    /// The surviving parents' architectures, Pareto ranks and crowding distances (empty before the first selection).
    pub fn parents(&self) -> impl Iterator<Item = (&Architecture, usize, f64)> {
        self.parents.iter().map(|m| (&m.arch, m.rank, m.crowding))
    }

    /// Elitist survival: parents and offspring sorted into fronts; whole fronts survive while they fit, the front
    /// that does not fit by crowding distance.
    fn select(&mut self, objective: &Objective) {
        let pool: Vec<Observation> = self.parent_observations.drain(..).chain(self.offspring.drain(..)).collect();
        let scored: Vec<(usize, Vec<f64>)> =
            pool.iter().enumerate().filter_map(|(i, o)| o.scores(objective).map(|s| (i, s))).collect();
        let points: Vec<&[f64]> = scored.iter().map(|(_, s)| s.as_slice()).collect();
        let n = self.settings.population_size;
        let mut parents = Vec::with_capacity(n);
        let mut observations = Vec::with_capacity(n);
        for (rank, front) in pareto::fronts(&points).into_iter().enumerate() {
            if parents.len() >= n {
                break;
            }
            let distances = crowding(&points, &front);
            let mut order: Vec<usize> = (0..front.len()).collect();
            if parents.len() + front.len() > n {
                order.sort_by(|&a, &b| distances[b].total_cmp(&distances[a]));
                order.truncate(n - parents.len());
            }
            for k in order {
                let (i, _) = &scored[front[k]];
                parents.push(Member { arch: pool[*i].arch.clone(), rank, crowding: distances[k] });
                observations.push(pool[*i].clone());
            }
        }
        self.parents = parents;
        self.parent_observations = observations;
    }

    /// The better of two random parents by rank, then crowding distance.
    fn tournament(&self, rng: &mut SearchRng) -> usize {
        let a = rng.random_range(0..self.parents.len());
        let b = rng.random_range(0..self.parents.len());
        let (x, y) = (&self.parents[a], &self.parents[b]);
        if y.rank < x.rank || (y.rank == x.rank && y.crowding > x.crowding) { b } else { a }
    }

    /// A child of two tournament winners: crossover, then mutation; one that breaks the space's constraint is bred
    /// again, and after [`CHILD_TRIES`] a random architecture is proposed.
    fn child(&self, ctx: &mut AskContext<'_>) -> Result<Architecture, OptimizerError> {
        let dims = ctx.space.dimensions().len();
        let mutation =
            if self.settings.mutation_prob > 0.0 { self.settings.mutation_prob } else { 1.0 / dims.max(1) as f64 };
        for _ in 0..CHILD_TRIES {
            let first = &self.parents[self.tournament(ctx.rng)].arch;
            let second = &self.parents[self.tournament(ctx.rng)].arch;
            let crossover = ctx.rng.random::<f64>() < self.settings.crossover_prob;
            let mut choices = first.choices().to_vec();
            if crossover {
                for (d, c) in choices.iter_mut().enumerate() {
                    if ctx.rng.random::<f64>() < self.settings.swapping_prob {
                        *c = second.choices()[d];
                    }
                }
            }
            mutate(ctx.space, &mut choices, mutation, ctx.rng);
            let child = Architecture::new(choices);
            if ctx.space.check(&child).is_ok() {
                return Ok(child);
            }
        }
        common::sample(ctx)
    }
}

/// Each dimension with more than one option moves, with probability `p`, to another option drawn uniformly.
fn mutate(space: &dyn SearchSpace, choices: &mut [u16], p: f64, rng: &mut SearchRng) {
    for (dim, c) in space.dimensions().iter().zip(choices.iter_mut()) {
        let options = dim.len() as u16;
        if options > 1 && rng.random::<f64>() < p {
            let other = rng.random_range(0..options - 1);
            *c = if other >= *c { other + 1 } else { other };
        }
    }
}

/// The crowding distance of each member of `front` (indices into `points`), in `front`'s order: for every
/// objective, the gap between its two neighbours in that objective over the front's range; the extremes are
/// infinitely far.
fn crowding(points: &[&[f64]], front: &[usize]) -> Vec<f64> {
    let mut distance = vec![0.0; front.len()];
    let Some(&first) = front.first() else { return distance };
    let objectives = points[first].len();
    // `m` is an objective: it indexes each point's values, not the points.
    #[allow(clippy::needless_range_loop)]
    for m in 0..objectives {
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| points[front[a]][m].total_cmp(&points[front[b]][m]));
        let (lo, hi) = (points[front[order[0]]][m], points[front[order[order.len() - 1]]][m]);
        distance[order[0]] = f64::INFINITY;
        distance[order[order.len() - 1]] = f64::INFINITY;
        if hi > lo {
            for w in order.windows(3) {
                distance[w[1]] += (points[front[w[2]]][m] - points[front[w[0]]][m]) / (hi - lo);
            }
        }
    }
    distance
}

impl Default for Nsga2 {
    fn default() -> Self {
        Self::new(Checked::default())
    }
}

#[async_trait]
impl Optimizer for Nsga2 {
    fn name(&self) -> &str {
        NAME
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(&self.settings).expect("settings serialize")
    }

    fn random_phase(&self) -> usize {
        self.settings.population_size
    }

    async fn ask(&mut self, ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError> {
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n {
            if self.issued == self.settings.population_size {
                self.select(ctx.objective);
                self.issued = 0;
                self.generation += 1;
            }
            self.issued += 1;
            let arch =
                if self.generation == 0 || self.parents.is_empty() { common::sample(ctx)? } else { self.child(ctx)? };
            batch.push(arch);
        }
        Ok(batch)
    }

    fn tell(&mut self, trials: &[Observation]) {
        self.offspring.extend(trials.iter().filter(|t| t.score.is_some()).cloned());
    }

    fn multi_objective(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use genius_core::testing::{ToySpace, ToyTable};
    use genius_core::{Evaluator, TrialStatus};

    use super::*;
    use crate::common::toy_front::objective;
    use genius_core::checked::Check;

    #[test]
    fn crowding_marks_the_extremes_and_sums_normalised_gaps() {
        let points: Vec<&[f64]> = vec![&[0.0, 4.0], &[1.0, 3.0], &[3.0, 1.0], &[4.0, 0.0]];
        let d = crowding(&points, &[0, 1, 2, 3]);
        assert!(d[0].is_infinite() && d[3].is_infinite());
        // Member 1: neighbours 0 and 2 differ by 3 in each objective, over a range of 4.
        assert!((d[1] - 1.5).abs() < 1e-12 && (d[2] - 1.5).abs() < 1e-12, "{d:?}");
    }

    #[tokio::test]
    async fn survivors_are_the_best_fronts_and_children_come_from_them() {
        let settings = Nsga2Settings { population_size: 6, ..Default::default() };
        let mut nsga = Nsga2::new(settings.check().unwrap());
        let space = ToySpace::new();
        let table = ToyTable::new();
        let objective = objective();
        let mut rng = genius_core::rng::seeded(4);
        let mut events = Vec::new();
        let mut history: Vec<Observation> = Vec::new();
        let mut trial = 0;
        for _generation in 0..4 {
            let mut ctx = AskContext {
                space: &space,
                objective: &objective,
                history: &history,
                remaining: None,
                rng: &mut rng,
                events: &mut events,
            };
            let batch = nsga.ask(&mut ctx, 6).await.unwrap();
            let mut told = Vec::new();
            for arch in batch {
                let evaluation = table.evaluate(&arch).await.ok();
                let t = genius_core::Trial {
                    index: trial,
                    ask: 1,
                    text: String::new(),
                    status: if evaluation.is_some() {
                        TrialStatus::Complete
                    } else {
                        TrialStatus::Failed { reason: "x".into() }
                    },
                    arch,
                    counted: true,
                    evaluation,
                    started_at: String::new(),
                    duration_s: 0.0,
                    elapsed_s: 0.0,
                };
                trial += 1;
                told.push(Observation::of(&t, &objective, table.metrics()));
            }
            nsga.tell(&told);
            history.extend(told);
        }
        // Selection after the fourth generation: whole fronts of the pool (the last survivors and the children told
        // since) survive in order; no one left out is of a better front than a survivor.
        let pool: Vec<Observation> = nsga.parent_observations.iter().chain(&nsga.offspring).cloned().collect();
        nsga.select(&objective);
        let points: Vec<Vec<f64>> = pool.iter().filter_map(|o| o.scores(&objective)).collect();
        let scored: Vec<&Observation> = pool.iter().filter(|o| o.scores(&objective).is_some()).collect();
        let fronts = pareto::fronts(&points);
        let front_of = |i: usize| fronts.iter().position(|f| f.contains(&i)).unwrap();
        let worst_survivor = nsga.parents().map(|(_, rank, _)| rank).max().unwrap();
        for (i, o) in scored.iter().enumerate() {
            let survives = nsga.parents().any(|(a, rank, _)| a == &o.arch && rank == front_of(i));
            if !survives {
                assert!(front_of(i) >= worst_survivor, "{:?} of front {} was left out", o.arch, front_of(i));
            }
        }
        for (arch, rank, _) in nsga.parents() {
            let i = scored.iter().position(|o| &o.arch == arch).unwrap();
            assert_eq!(rank, front_of(i), "a survivor's rank is its front in the pool");
        }
        assert_eq!(nsga.parents().count(), 6);
    }

    #[tokio::test]
    async fn it_reaches_the_toy_front_and_repeats_for_a_seed() {
        let go = |seed| async move {
            let settings = Nsga2Settings { population_size: 8, ..Default::default() };
            crate::common::toy_front::search(Box::new(Nsga2::new(settings.check().unwrap())), seed).await
        };
        let outcome = go(2).await;
        let again = go(2).await;
        let arch = |o: &genius_core::StudyOutcome| o.trials.iter().map(|t| t.arch.clone()).collect::<Vec<_>>();
        assert_eq!(arch(&outcome), arch(&again));
        let ratio = crate::common::toy_front::hypervolume_ratio(&outcome).await;
        assert!(ratio > 0.9, "40 of 24 toy architectures' queries reach most of the front's hypervolume: {ratio}");
    }

    #[test]
    fn invalid_settings_are_refused_with_the_field() {
        let err = Nsga2Settings { population_size: 1, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("nsga2: `population_size` must be at least 2 (got 1)"), "{err}");
        let err = Nsga2Settings { crossover_prob: 1.5, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("`crossover_prob` must be between 0 and 1"), "{err}");
    }
}
