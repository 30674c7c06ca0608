//! Local search (White, Nolen & Savani, 2021, "Exploring the Loss Landscape in Neural Architecture Search"): start
//! from the best of a few random architectures, evaluate its one-step neighbours, move to the best one while it
//! improves, and restart from a random architecture at a local optimum.

use async_trait::async_trait;
use genius_core::{
    ArchMap, ArchSet, Architecture, AskContext, Observation, Optimizer, OptimizerError, SearchSpace, SpaceExt,
};
use rand::RngExt;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::common::{self, FRESH_TRIES, check_declared};
use genius_core::catalog::{Range, Setting, SettingKind};
use genius_core::checked::{Check, Checked};

const NAME: &str = "local-search";

/// Spaces up to this size are listed to find what is left unevaluated when random draws keep hitting known ones.
const ENUMERABLE: u128 = 1 << 20;

/// The settings of local search, as `genius optimizers local-search` prints them and [`LocalSearchSettings::check`]
/// enforces them.
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "initial_samples",
        SettingKind::Integer,
        "10",
        "random architectures evaluated before the first centre",
    )
    .range(Range::at_least(1.0)),
    Setting::new(
        "first_improvement",
        SettingKind::Bool,
        "false",
        "move to the first improving neighbour, not the best",
    ),
];

/// Settings of [`LocalSearch`]. The defaults are those of White et al.'s local search as NASLib runs it: 10 random
/// initial architectures, the full neighbourhood evaluated before a move, a single random architecture at each
/// restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalSearchSettings {
    /// Uniformly random architectures evaluated first; the best of them is the first centre.
    pub initial_samples: usize,
    /// Move to the first neighbour that improves on the centre instead of evaluating the whole neighbourhood and
    /// moving to the best. Off by default (the published variant evaluates the full neighbourhood).
    pub first_improvement: bool,
}

impl Default for LocalSearchSettings {
    fn default() -> Self {
        Self { initial_samples: 10, first_improvement: false }
    }
}

impl Check for LocalSearchSettings {
    type Error = OptimizerError;

    /// Checks every field: at least one initial sample.
    fn check_ref(&self) -> Result<(), OptimizerError> {
        check_declared(NAME, SETTINGS, self)
    }
}

#[derive(Debug, Clone)]
enum Phase {
    /// Proposing the initial random architectures.
    Init,
    /// Waiting for the score of a restart point.
    Restart(Architecture),
    /// Evaluating the neighbourhood of a centre.
    Climb {
        /// The centre's score.
        score: f64,
        /// Neighbours still to propose, in (shuffled) proposal order.
        queue: Vec<Architecture>,
        /// Every neighbour (valid under the constraint).
        neighbours: ArchSet,
        /// The best neighbour evaluated so far.
        best: Option<(Architecture, f64)>,
    },
}

/// Local search over the one-dimension neighbourhood of any categorical space. An architecture evaluated before is
/// never proposed again (its recorded score is used), so every query is new; the search ends once a small space is
/// exhausted.
#[derive(Debug, Clone)]
pub struct LocalSearch {
    settings: LocalSearchSettings,
    phase: Phase,
    initial: usize,
    /// Every architecture told, with its score (`None` when it failed or is infeasible) and when it was first told.
    known: ArchMap<(Option<f64>, usize)>,
}

/// Steps without a proposal (moves to known neighbours, restarts at known points) before an ask gives up.
const MAX_SILENT_STEPS: usize = 10_000;

impl LocalSearch {
    /// Local search with `settings`, checked.
    pub fn new(settings: Checked<LocalSearchSettings>) -> Self {
        let settings = settings.into_inner();
        Self { settings, phase: Phase::Init, initial: 0, known: ArchMap::default() }
    }

    /// A random valid architecture neither known nor in `batch`; `None` when the space has nothing left.
    fn fresh(&self, ctx: &mut AskContext<'_>, batch: &[Architecture]) -> Result<Option<Architecture>, OptimizerError> {
        let taken = |a: &Architecture| self.known.contains_key(a) || batch.contains(a);
        for _ in 0..FRESH_TRIES {
            let a = common::sample(ctx)?;
            if !taken(&a) {
                return Ok(Some(a));
            }
        }
        if ctx.space.cardinality() <= ENUMERABLE {
            let left: Vec<Architecture> =
                ctx.space.enumerate().filter(|a| !taken(a) && ctx.space.check(a).is_ok()).collect();
            return Ok((!left.is_empty()).then(|| left[ctx.rng.random_range(0..left.len())].clone()));
        }
        // A huge space whose random draws keep hitting known architectures: settle for a known one.
        common::sample(ctx).map(Some)
    }

    /// Starts climbing from `centre`: its unevaluated neighbours are queued in random order, the known ones counted.
    fn climb(&mut self, space: &dyn SearchSpace, rng: &mut genius_core::SearchRng, centre: Architecture, score: f64) {
        let mut all: Vec<Architecture> = space.neighbours(&centre);
        all.retain(|a| space.check(a).is_ok());
        all.shuffle(rng);
        let mut best: Option<(Architecture, f64)> = None;
        let mut queue = Vec::new();
        for a in &all {
            match self.known.get(a).map(|k| k.0) {
                Some(Some(s)) => {
                    if best.as_ref().is_none_or(|(_, b)| s > *b) {
                        best = Some((a.clone(), s));
                    }
                }
                Some(None) => {}
                None => queue.push(a.clone()),
            }
        }
        queue.reverse(); // popped from the back, so proposed in shuffled order
        self.phase = Phase::Climb { score, queue, neighbours: all.into_iter().collect(), best };
    }
}

impl Default for LocalSearch {
    fn default() -> Self {
        Self::new(Checked::default())
    }
}

#[async_trait]
impl Optimizer for LocalSearch {
    fn name(&self) -> &str {
        NAME
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(&self.settings).expect("settings serialize")
    }

    fn random_phase(&self) -> usize {
        self.settings.initial_samples
    }

    async fn ask(&mut self, ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError> {
        let mut batch: Vec<Architecture> = Vec::with_capacity(n);
        let mut silent = 0;
        while batch.len() < n && silent < MAX_SILENT_STEPS {
            silent += 1;
            match &mut self.phase {
                Phase::Init => {
                    if self.initial < self.settings.initial_samples {
                        self.initial += 1;
                    } else if !batch.is_empty() {
                        break; // the initial samples' scores are needed first
                    } else if let Some((centre, score)) = best_known(&self.known) {
                        self.climb(ctx.space, ctx.rng, centre, score);
                        continue;
                    }
                    // Initial samples still to draw, or every one so far failed: another random one.
                    match self.fresh(ctx, &batch)? {
                        Some(a) => batch.push(a),
                        None => break,
                    }
                    silent = 0;
                }
                Phase::Restart(point) => {
                    if batch.contains(point) {
                        break; // its score is needed first
                    }
                    let point = point.clone();
                    match self.known.get(&point).map(|k| k.0) {
                        Some(Some(score)) => {
                            self.climb(ctx.space, ctx.rng, point, score);
                        }
                        Some(None) => match self.fresh(ctx, &batch)? {
                            // The restart point failed: restart elsewhere.
                            Some(a) => {
                                self.phase = Phase::Restart(a.clone());
                                if !self.known.contains_key(&a) {
                                    batch.push(a);
                                    silent = 0;
                                }
                            }
                            None => break,
                        },
                        None => {
                            batch.push(point);
                            silent = 0;
                        }
                    }
                }
                Phase::Climb { score, queue, best, .. } => {
                    let improved = best.as_ref().is_some_and(|(_, b)| b > score);
                    let settled = queue.is_empty() || (self.settings.first_improvement && improved);
                    if !settled {
                        batch.push(queue.pop().expect("not empty"));
                        silent = 0;
                        continue;
                    }
                    if !batch.is_empty() {
                        break; // the neighbours' scores are needed first
                    }
                    if improved {
                        let (next, s) = best.take().expect("improved");
                        self.climb(ctx.space, ctx.rng, next, s);
                        continue;
                    }
                    // A local optimum: restart from a random architecture.
                    match self.fresh(ctx, &batch)? {
                        Some(a) => self.phase = Phase::Restart(a),
                        None => break,
                    }
                }
            }
        }
        Ok(batch)
    }

    fn tell(&mut self, trials: &[Observation]) {
        for t in trials {
            let order = self.known.len();
            self.known.entry(t.arch.clone()).or_insert((t.score, order));
            if let (Phase::Climb { neighbours, best, .. }, Some(s)) = (&mut self.phase, t.score)
                && neighbours.contains(&t.arch)
                && best.as_ref().is_none_or(|(_, b)| s > *b)
            {
                *best = Some((t.arch.clone(), s));
            }
        }
    }
}

/// The best scored architecture known, the earliest told among ties.
fn best_known(known: &ArchMap<(Option<f64>, usize)>) -> Option<(Architecture, f64)> {
    let mut best: Option<(&Architecture, f64, usize)> = None;
    for (a, &(s, order)) in known {
        if let Some(s) = s {
            let better = match best {
                None => true,
                Some((_, bs, bo)) => s > bs || (s == bs && order < bo),
            };
            if better {
                best = Some((a, s, order));
            }
        }
    }
    best.map(|(a, s, _)| (a.clone(), s))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use genius_core::testing::{ToySpace, ToyTable};
    use genius_core::{
        Budget, Dimension, EvalError, Evaluation, Evaluator, Metric, MetricSpec, StopReason, Study, Trial, Visibility,
    };

    use std::collections::HashSet;

    use super::*;
    use genius_core::checked::Check;

    /// Two dimensions of ten options; the score is the sum of the choices, so every climb goes up and right.
    struct Grid(Vec<Dimension>, MetricSpec);

    impl Grid {
        fn new() -> Self {
            let dim = |n: &str| Dimension::new(n, (0..10).map(|i| i.to_string()));
            let metric = Metric {
                name: "sum".into(),
                direction: genius_core::Direction::Maximize,
                visibility: Visibility::Search,
                description: "sum of choices".into(),
            };
            let spec = MetricSpec { metrics: vec![metric], search: "sum".into(), report: "sum".into() };
            Self(vec![dim("x"), dim("y")], spec)
        }
    }

    impl SearchSpace for Grid {
        fn name(&self) -> &str {
            "grid"
        }
        fn dimensions(&self) -> &[Dimension] {
            &self.0
        }
    }

    #[async_trait]
    impl Evaluator for Grid {
        fn name(&self) -> &str {
            "grid-sum"
        }
        fn metrics(&self) -> &MetricSpec {
            &self.1
        }
        async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
            let sum = (arch.choice(0) + arch.choice(1)) as f64;
            Ok(Evaluation { metrics: [("sum".to_owned(), sum)].into(), ..Default::default() })
        }
    }

    async fn on_grid(settings: LocalSearchSettings, budget: usize, seed: u64) -> Vec<Trial> {
        let grid = Arc::new(Grid::new());
        Study::new(grid.clone(), grid, Box::new(LocalSearch::new(settings.check().unwrap())))
            .budget(Budget::evaluations(budget))
            .seed(seed)
            .run()
            .await
            .unwrap()
            .trials
    }

    fn sum(t: &Trial) -> f64 {
        t.evaluation.as_ref().unwrap().metrics["sum"]
    }

    #[tokio::test]
    async fn never_repeats_and_ends_when_the_space_is_exhausted() {
        let outcome =
            Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(LocalSearch::default()))
                .budget(Budget::evaluations(100))
                .seed(1)
                .run()
                .await
                .unwrap();
        assert_eq!(outcome.trials.len(), 24, "every toy architecture once");
        let distinct: HashSet<_> = outcome.trials.iter().map(|t| t.arch.clone()).collect();
        assert_eq!(distinct.len(), 24);
        assert_eq!(
            outcome.summary.stop,
            StopReason::SpaceExhausted,
            "the runner ends a search that has seen every architecture"
        );
    }

    #[tokio::test]
    async fn evaluates_the_whole_neighbourhood_of_the_best_initial_sample_then_moves_to_the_best() {
        for seed in 0..5 {
            let trials = on_grid(LocalSearchSettings { initial_samples: 3, first_improvement: false }, 60, seed).await;
            // The best initial sample, the earliest among ties.
            let top = trials[..3].iter().map(sum).fold(f64::MIN, f64::max);
            let centre = trials[..3].iter().find(|t| sum(t) == top).unwrap();
            let initial: HashSet<_> = trials[..3].iter().map(|t| t.arch.clone()).collect();
            let neighbours = Grid::new().neighbours(&centre.arch);
            let unknown = neighbours.iter().filter(|a| !initial.contains(*a)).count();
            let climb = &trials[3..3 + unknown];
            assert!(climb.iter().all(|t| neighbours.contains(&t.arch)), "seed {seed}: the whole neighbourhood first");
            // Then the neighbourhood of the best neighbour (one of them, if several tie).
            let seen: Vec<&Trial> =
                climb.iter().chain(trials[..3].iter().filter(|t| neighbours.contains(&t.arch))).collect();
            let top = seen.iter().map(|t| sum(t)).fold(f64::MIN, f64::max);
            if top > sum(centre) {
                let next = &trials[3 + unknown].arch;
                let moved =
                    seen.iter().filter(|t| sum(t) == top).any(|t| Grid::new().neighbours(&t.arch).contains(next));
                assert!(moved, "seed {seed}: moved to the best neighbour");
            }
        }
    }

    #[tokio::test]
    async fn first_improvement_moves_at_the_first_better_neighbour() {
        for seed in 0..5 {
            let trials = on_grid(LocalSearchSettings { initial_samples: 1, first_improvement: true }, 40, seed).await;
            let start = sum(&trials[0]);
            if start == 18.0 {
                continue; // started at the optimum
            }
            let first_better = trials.iter().position(|t| sum(t) > start).unwrap();
            assert!(Grid::new().neighbours(&trials[0].arch).contains(&trials[first_better].arch));
            let next = Grid::new().neighbours(&trials[first_better].arch);
            assert!(next.contains(&trials[first_better + 1].arch), "seed {seed}: moved at once");
        }
    }

    #[tokio::test]
    async fn reaches_the_optimum_of_a_monotone_grid() {
        let trials = on_grid(LocalSearchSettings::default(), 60, 9).await;
        assert!(trials.iter().any(|t| sum(t) == 18.0));
    }
}
