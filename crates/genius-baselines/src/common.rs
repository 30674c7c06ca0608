//! What the optimizers share: drawing valid architectures, checking settings.

use genius_core::catalog::Setting;
use genius_core::{Architecture, AskContext, OptimizerError, SearchRng, SearchSpace, SpaceExt};
use rand::RngExt;

/// Rejection-sampling attempts before a constrained draw is given up as too unlikely.
pub(crate) const MAX_TRIES: usize = 100_000;

/// Attempts at a fresh (not yet evaluated) proposal before an optimizer settles for a repeat.
pub(crate) const FRESH_TRIES: usize = 64;

/// A uniformly random architecture of the space that meets its constraint.
pub(crate) fn sample(ctx: &mut AskContext<'_>) -> Result<Architecture, OptimizerError> {
    sample_in(ctx.space, ctx.rng)
}

/// [`sample`] from a space and a generator.
pub(crate) fn sample_in(space: &dyn SearchSpace, rng: &mut SearchRng) -> Result<Architecture, OptimizerError> {
    space.sample_feasible(rng).ok_or_else(|| {
        OptimizerError::Failed(format!(
            "found no architecture of {} that meets its constraint (the space's sampler gave up; a space whose \
             constraint rejects nearly every uniform draw should override SearchSpace::sample_feasible)",
            space.name()
        ))
    })
}

/// A one-dimension mutation of `arch` that meets the space's constraint: up to `tries` attempts, `None` if none did
/// (or if the space has no dimension with two options).
pub(crate) fn mutate_valid(
    space: &dyn SearchSpace,
    arch: &Architecture,
    rng: &mut SearchRng,
    tries: usize,
) -> Option<Architecture> {
    (0..tries).map(|_| space.mutate(arch, rng)).find(|a| a != arch && space.check(a).is_ok())
}

/// Index drawn with probability proportional to `weights` (non-negative, not all zero).
pub(crate) fn weighted_index(weights: &[f64], rng: &mut SearchRng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    // Rounding left `u` at or past the end: the last index with weight.
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

/// A settings error naming the optimizer and the field.
pub(crate) fn invalid(optimizer: &str, field: &str, message: impl std::fmt::Display) -> OptimizerError {
    OptimizerError::Settings(format!("{optimizer}: `{field}` {message}"))
}

/// Checks `settings` against the ranges its documentation declares (the table `genius optimizers NAME` prints).
pub(crate) fn check_declared(
    optimizer: &str,
    documented: &[Setting],
    settings: &impl serde::Serialize,
) -> Result<(), OptimizerError> {
    let value = serde_json::to_value(settings).expect("settings serialize");
    genius_core::catalog::check_settings(optimizer, documented, &value)
        .map_err(|e| OptimizerError::Settings(e.to_string()))
}

/// What the multi-objective optimizers' tests share: the toy table's two objectives and how close a study came to its
/// true Pareto front.
#[cfg(test)]
pub(crate) mod toy_front {
    use genius_core::testing::{ToySpace, ToyTable};
    use genius_core::{Budget, Direction, Evaluator, Goal, Objective, Optimizer, Study, StudyOutcome, pareto};

    /// The toy table's validation accuracy (maximised) against its parameters (minimised).
    pub(crate) fn objective() -> Objective {
        let goals = [Goal::new("val_acc", Direction::Maximize), Goal::new("params", Direction::Minimize)];
        Objective::goals(ToyTable::new().metrics(), goals).unwrap()
    }

    /// A study of `optimizer` on the toy table's two objectives, 40 evaluations with `seed`.
    pub(crate) async fn search(optimizer: Box<dyn Optimizer>, seed: u64) -> StudyOutcome {
        let (space, table) = (std::sync::Arc::new(ToySpace::new()), std::sync::Arc::new(ToyTable::new()));
        Study::new(space, table, optimizer)
            .objective(objective())
            .budget(Budget::evaluations(40))
            .seed(seed)
            .run()
            .await
            .unwrap()
    }

    /// The hypervolume of the front `outcome` found over that of the toy table's true front (by brute force over the
    /// space), against one reference point below both.
    pub(crate) async fn hypervolume_ratio(outcome: &StudyOutcome) -> f64 {
        let (table, objective) = (ToyTable::new(), objective());
        let mut all = Vec::new();
        for a in genius_core::SpaceExt::enumerate(&ToySpace::new()) {
            if let Ok(e) = table.evaluate(&a).await {
                all.push(objective.scores(&e).unwrap());
            }
        }
        let truth: Vec<Vec<f64>> = pareto::non_dominated(&all).into_iter().map(|i| all[i].clone()).collect();
        let found: Vec<Vec<f64>> = outcome
            .summary
            .front
            .iter()
            .map(|&i| objective.scores(outcome.trials[i].evaluation.as_ref().unwrap()).unwrap())
            .collect();
        let reference = [0.0, -20_000.0];
        pareto::hypervolume(&found, &reference).unwrap() / pareto::hypervolume(&truth, &reference).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use genius_core::rng;

    use super::*;

    #[test]
    fn weighted_index_follows_the_weights() {
        let mut rng = rng::seeded(3);
        let weights = [0.0, 1.0, 3.0, 0.0];
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[weighted_index(&weights, &mut rng)] += 1;
        }
        assert_eq!(counts[0] + counts[3], 0, "zero weights are never drawn");
        let ratio = counts[2] as f64 / counts[1] as f64;
        assert!((2.6..3.4).contains(&ratio), "{counts:?}");
    }

    #[test]
    fn declared_range_errors_name_the_optimizer_and_field() {
        use genius_core::catalog::{Range, SettingKind};
        let gamma = [Setting::new("gamma", SettingKind::Number, "0.1", "").range(Range::between(0.0, 1.0))];
        let err = check_declared("tpe", &gamma, &serde_json::json!({"gamma": 1.5})).unwrap_err();
        assert_eq!(err.to_string(), "invalid optimizer setting: tpe: `gamma` must be between 0 and 1 (got 1.5)");
        assert!(check_declared("tpe", &gamma, &serde_json::json!({"gamma": f64::NAN})).is_err());
        let size = [Setting::new("population_size", SettingKind::Integer, "10", "").range(Range::at_least(1.0))];
        let err = check_declared("evolution", &size, &serde_json::json!({"population_size": 0})).unwrap_err();
        assert!(err.to_string().contains("`population_size` must be at least 1 (got 0)"), "{err}");
    }
}
