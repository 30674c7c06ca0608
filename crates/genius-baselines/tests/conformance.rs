//! The conformance suite: every optimizer of the catalog (with its defaults and with each non-default variant), on
//! every space of `genius_spaces::catalog` and on the toy spaces of `genius_core::testing`, must
//! - never propose outside the space or against its constraint,
//! - spend the evaluation budget exactly,
//! - repeat its trials for the same seed and change them for another seed,
//! - end on a space smaller than the budget (duplicates counted or free),
//! - work with batches of any size.
//!
//! Architectures are scored by a synthetic evaluator (a fixed pseudo-random landscape with failures and a held-out
//! metric), so that every space is covered whether or not its table is present and whatever it is evaluated by.

use genius_core::checked::Check;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use genius_baselines::catalog;
use genius_core::testing::{ToySpace, ToyTable};
use genius_core::{
    Architecture, Budget, Dimension, Direction, DuplicatePolicy, EvalError, Evaluation, Evaluator, Metric, MetricSpec,
    Optimizer, SearchSpace, SpaceExt, StopReason, Study, StudyOutcome, StudySettings, Visibility, async_trait,
};

/// Every optimizer configuration the suite runs: each catalog entry with its defaults, and the non-default variants.
fn optimizers() -> Vec<(String, serde_json::Value)> {
    let mut out: Vec<(String, serde_json::Value)> =
        catalog::entries().into_iter().map(|o| (o.name, serde_json::json!({}))).collect();
    let variants = [
        ("random", serde_json::json!({"without_replacement": true})),
        ("evolution", serde_json::json!({"avoid_duplicates": true, "population_size": 5, "sample_size": 5})),
        ("local-search", serde_json::json!({"first_improvement": true, "initial_samples": 1})),
        ("reinforce", serde_json::json!({"learning_rate": 0.05})),
        ("tpe", serde_json::json!({"multivariate": false})),
        ("tpe", serde_json::json!({"avoid_duplicates": true, "n_startup_trials": 3, "constant_liar": false})),
        ("nsga2", serde_json::json!({"population_size": 5, "mutation_prob": 0.5, "crossover_prob": 1.0})),
        ("motpe", serde_json::json!({"n_startup_trials": 3, "constant_liar": false, "gamma": 0.5})),
    ];
    for (name, settings) in variants {
        if catalog::catalog().get(name).is_some() {
            out.push((name.to_owned(), settings));
        }
    }
    out
}

fn build(name: &str, settings: &serde_json::Value) -> Box<dyn Optimizer> {
    catalog::build(name, settings.clone()).unwrap_or_else(|e| panic!("{name} {settings}: {e}"))
}

/// Every space the suite searches: the catalog's and the toy ones.
fn spaces() -> Vec<Arc<dyn SearchSpace>> {
    let mut out: Vec<Arc<dyn SearchSpace>> = genius_spaces::catalog::spaces().iter().map(|s| s.space()).collect();
    out.push(Arc::new(ToySpace::new()));
    out.push(Arc::new(ToySpace::constrained()));
    out
}

/// A fixed landscape over any space: an additive part (a pseudo-random weight per option of every dimension) and
/// pseudo-random noise, `val` searched and `test` held out; about one architecture in 40 fails.
struct Synthetic {
    spec: MetricSpec,
}

impl Synthetic {
    fn new() -> Self {
        let metric = |name: &str, visibility| Metric {
            name: name.into(),
            direction: Direction::Maximize,
            visibility,
            description: format!("synthetic {name}"),
        };
        Self {
            spec: MetricSpec {
                metrics: vec![metric("val", Visibility::Search), metric("test", Visibility::Reported)],
                search: "val".into(),
                report: "test".into(),
            },
        }
    }
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(z: u64) -> f64 {
    (mix(z) >> 11) as f64 / (1u64 << 53) as f64
}

#[async_trait]
impl Evaluator for Synthetic {
    fn name(&self) -> &str {
        "synthetic"
    }
    fn metrics(&self) -> &MetricSpec {
        &self.spec
    }
    async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
        let key = arch.choices().iter().fold(17u64, |h, &c| mix(h ^ u64::from(c)));
        if key % 40 == 0 {
            return Err(EvalError::Failed("synthetic failure".into()));
        }
        let additive: f64 =
            arch.choices().iter().enumerate().map(|(d, &c)| unit((d as u64) << 16 | u64::from(c))).sum();
        let val = 50.0 + 40.0 * additive / arch.len().max(1) as f64 + 2.0 * unit(key);
        let test = val - 1.0 + unit(key ^ 1);
        Ok(Evaluation { metrics: [("val".to_owned(), val), ("test".to_owned(), test)].into(), ..Default::default() })
    }
}

/// Runs a study on another thread and fails the test if it does not end within a minute (an optimizer looping
/// forever on a small space would otherwise hang the suite).
fn run(
    space: Arc<dyn SearchSpace>,
    evaluator: Arc<dyn Evaluator>,
    optimizer: Box<dyn Optimizer>,
    budget: usize,
    seed: u64,
    settings: StudySettings,
) -> StudyOutcome {
    let label = format!("{} on {} (seed {seed}, {settings:?})", optimizer.name(), space.name());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let outcome = runtime.block_on(
            Study::new(space, evaluator, optimizer)
                .budget(Budget::evaluations(budget))
                .seed(seed)
                .settings(settings.check().expect("valid runner settings"))
                .run(),
        );
        let _ = tx.send(outcome.map_err(|e| e.to_string()));
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(outcome) => outcome.unwrap_or_else(|e| panic!("{label}: {e}")),
        Err(_) => panic!("{label} did not end within two minutes"),
    }
}

fn archs(outcome: &StudyOutcome) -> Vec<Architecture> {
    outcome.trials.iter().map(|t| t.arch.clone()).collect()
}

/// Every trial lies in the space and meets its constraint; none is invalid.
fn assert_valid(label: &str, space: &dyn SearchSpace, outcome: &StudyOutcome) {
    assert_eq!(outcome.summary.invalid, 0, "{label}: invalid proposals");
    for t in &outcome.trials {
        space.validate(&t.arch).unwrap_or_else(|e| panic!("{label}: {e}"));
        if let Err(v) = space.check(&t.arch) {
            panic!("{label}: {} breaks the constraint: {v}", space.format(&t.arch));
        }
    }
}

/// A space is large when it holds many more architectures than the suite's budgets.
fn large(space: &dyn SearchSpace) -> bool {
    space.cardinality() >= 1000
}

const BUDGET: usize = 40;

#[test]
fn every_optimizer_spends_the_budget_exactly_with_valid_proposals_on_every_space() {
    for space in spaces().into_iter().filter(|s| large(&**s)) {
        for (name, settings) in optimizers() {
            let label = format!("{name} {settings} on {}", space.name());
            let outcome =
                run(space.clone(), Arc::new(Synthetic::new()), build(&name, &settings), BUDGET, 1, Default::default());
            assert_valid(&label, &*space, &outcome);
            assert_eq!(outcome.trials.len(), BUDGET, "{label}: trials");
            assert_eq!(outcome.summary.spend.evaluations, BUDGET, "{label}: evaluations");
            assert_eq!(outcome.summary.stop, StopReason::Budget { limit: genius_core::BudgetLimit::Evaluations });
        }
    }
}

#[test]
fn the_same_seed_repeats_the_trials_and_another_seed_changes_them() {
    for space in spaces() {
        for (name, settings) in optimizers() {
            let label = format!("{name} {settings} on {}", space.name());
            let go = |seed| {
                let outcome = run(
                    space.clone(),
                    Arc::new(Synthetic::new()),
                    build(&name, &settings),
                    BUDGET,
                    seed,
                    Default::default(),
                );
                archs(&outcome)
            };
            let (a, again, other) = (go(7), go(7), go(8));
            assert_eq!(a, again, "{label}: the same seed gave other trials");
            assert_ne!(a, other, "{label}: another seed gave the same trials");
        }
    }
}

/// A space of two architectures: one dimension of two options and one of a single option.
struct Pair(Vec<Dimension>);

impl SearchSpace for Pair {
    fn name(&self) -> &str {
        "pair"
    }
    fn dimensions(&self) -> &[Dimension] {
        &self.0
    }
}

#[test]
fn every_optimizer_ends_on_a_space_smaller_than_the_budget() {
    let pair: Arc<dyn SearchSpace> = Arc::new(Pair(vec![Dimension::new("a", ["x", "y"]), Dimension::new("b", ["z"])]));
    let tiny: Vec<(Arc<dyn SearchSpace>, Arc<dyn Evaluator>)> = vec![
        (Arc::new(ToySpace::new()), Arc::new(ToyTable::new())),
        (Arc::new(ToySpace::constrained()), Arc::new(ToyTable::new())),
        (Arc::new(ToySpace::new()), Arc::new(Synthetic::new())),
        (pair, Arc::new(Synthetic::new())),
    ];
    let budget = 100;
    for (space, evaluator) in tiny {
        for (name, settings) in optimizers() {
            for duplicates in [DuplicatePolicy::Count, DuplicatePolicy::Free] {
                let label = format!("{name} {settings} on {} ({duplicates:?})", space.name());
                let study = StudySettings { duplicates, max_idle_asks: 20, ..Default::default() };
                let outcome = run(space.clone(), evaluator.clone(), build(&name, &settings), budget, 3, study);
                assert_valid(&label, &*space, &outcome);
                let evaluations = outcome.summary.spend.evaluations;
                match outcome.summary.stop {
                    StopReason::Budget { .. } => assert_eq!(evaluations, budget, "{label}"),
                    StopReason::OptimizerDone | StopReason::Stalled | StopReason::SpaceExhausted => {
                        assert!(evaluations <= budget, "{label}")
                    }
                    StopReason::Interrupted => panic!("{label}: interrupted"),
                }
                // Nothing is evaluated twice, and no more than the space holds is evaluated.
                let evaluated: Vec<_> = outcome
                    .trials
                    .iter()
                    .filter(|t| matches!(t.status, genius_core::TrialStatus::Complete))
                    .map(|t| t.arch.clone())
                    .collect();
                let distinct: HashSet<_> = evaluated.iter().collect();
                assert_eq!(distinct.len(), evaluated.len(), "{label}");
                assert!(evaluated.len() as u128 <= space.cardinality(), "{label}");
            }
        }
    }
}

#[test]
fn every_optimizer_asks_and_is_told_in_batches_of_any_size() {
    let mut spaces: Vec<Arc<dyn SearchSpace>> = spaces().into_iter().filter(|s| large(&**s)).take(1).collect();
    spaces.push(Arc::new(ToySpace::constrained()));
    let budget = 50;
    for space in spaces {
        for (name, settings) in optimizers() {
            for batch_size in [2, 5, 16, 64] {
                let label = format!("{name} {settings} on {} in batches of {batch_size}", space.name());
                let study = StudySettings { batch_size, concurrency: 3, ..Default::default() };
                let go = |seed| {
                    run(space.clone(), Arc::new(Synthetic::new()), build(&name, &settings), budget, seed, study.clone())
                };
                let outcome = go(5);
                assert_valid(&label, &*space, &outcome);
                if large(&*space) || outcome.summary.stop != StopReason::OptimizerDone {
                    assert_eq!(outcome.summary.spend.evaluations, budget, "{label}");
                }
                assert_eq!(archs(&outcome), archs(&go(5)), "{label}: not repeatable");
            }
        }
    }
}

/// genius-core's own suite for optimizer entries (settings documented and round-tripped, unknown settings refused,
/// valid and seed-deterministic proposals; for one that searches several objectives, in a two-objective study too).
#[tokio::test]
async fn every_catalog_entry_passes_the_core_conformance_suite() {
    for entry in catalog::entries() {
        genius_core::testing::conformance::optimizer(&entry).await;
    }
}

#[test]
fn the_suite_covers_every_optimizer_and_space_of_the_catalogs() {
    let names: HashSet<String> = optimizers().into_iter().map(|(n, _)| n).collect();
    for entry in catalog::entries() {
        assert!(names.contains(&entry.name), "{} is not run", entry.name);
    }
    assert!(["random", "evolution", "local-search", "reinforce", "tpe"].iter().all(|n| names.contains(*n)));
    let spaces: HashSet<String> = spaces().iter().map(|s| s.name().to_owned()).collect();
    for entry in genius_spaces::catalog::spaces() {
        assert!(spaces.contains(entry.name), "{} is not searched", entry.name);
    }
}
