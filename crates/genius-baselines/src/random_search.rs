//! Random search: uniform proposals, with or without replacement.

use async_trait::async_trait;
use genius_core::{ArchSet, Architecture, AskContext, Observation, Optimizer, OptimizerError, SpaceExt};
use serde::{Deserialize, Serialize};

use crate::common::{MAX_TRIES, check_declared, sample};
use genius_core::catalog::{Setting, SettingKind};
use genius_core::checked::{Check, Checked};

/// The settings of random search, as `genius optimizers random` prints them.
pub const SETTINGS: &[Setting] = &[Setting::new(
    "without_replacement",
    SettingKind::Bool,
    "false",
    "never propose an architecture twice (the search ends when the space is exhausted)",
)];

/// Settings of [`RandomSearch`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomSearchSettings {
    /// Never propose an architecture twice (the search ends when the space is exhausted). Off by default: classic
    /// random search draws with replacement, and its expected best-of-n is then exact to compute.
    pub without_replacement: bool,
}

/// Uniform random search over any space; proposals meet the space's constraint (by rejection).
#[derive(Debug, Clone, Default)]
pub struct RandomSearch {
    settings: RandomSearchSettings,
    seen: ArchSet,
}

/// Spaces up to this size are enumerated when fresh samples get hard to find without replacement.
const ENUMERABLE: u128 = 1 << 20;

impl Check for RandomSearchSettings {
    type Error = OptimizerError;

    /// Checks every field (none can be invalid).
    fn check_ref(&self) -> Result<(), OptimizerError> {
        check_declared("random", SETTINGS, self)
    }
}

impl RandomSearch {
    /// Random search with `settings`.
    pub fn new(settings: Checked<RandomSearchSettings>) -> Self {
        Self { settings: settings.into_inner(), seen: ArchSet::default() }
    }

    fn fresh(&self, ctx: &mut AskContext<'_>, batch: &[Architecture]) -> Result<Option<Architecture>, OptimizerError> {
        let taken = |a: &Architecture| self.seen.contains(a) || batch.contains(a);
        for _ in 0..64 {
            let a = sample(ctx)?;
            if !taken(&a) {
                return Ok(Some(a));
            }
        }
        // Most of the space is taken: pick uniformly among what is left, if the space is small enough to list.
        if ctx.space.cardinality() <= ENUMERABLE {
            let left: Vec<Architecture> =
                ctx.space.enumerate().filter(|a| !taken(a) && ctx.space.check(a).is_ok()).collect();
            return Ok((!left.is_empty()).then(|| left[rand::RngExt::random_range(ctx.rng, 0..left.len())].clone()));
        }
        for _ in 0..MAX_TRIES {
            let a = sample(ctx)?;
            if !taken(&a) {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl Optimizer for RandomSearch {
    fn name(&self) -> &str {
        "random"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(&self.settings).expect("settings serialize")
    }

    async fn ask(&mut self, ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError> {
        if !self.settings.without_replacement {
            return (0..n).map(|_| sample(ctx)).collect();
        }
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n {
            match self.fresh(ctx, &batch)? {
                Some(a) => batch.push(a),
                None => break,
            }
        }
        Ok(batch)
    }

    fn tell(&mut self, trials: &[Observation]) {
        if self.settings.without_replacement {
            self.seen.extend(trials.iter().map(|t| t.arch.clone()));
        }
    }

    /// Uniform proposals do not depend on the objectives, so random search is the baseline of a multi-objective
    /// search too.
    fn multi_objective(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use genius_core::testing::{ToySpace, ToyTable};
    use genius_core::{Budget, StopReason, Study};

    use std::collections::HashSet;

    use super::*;
    use genius_core::checked::Check;

    #[tokio::test]
    async fn without_replacement_visits_every_architecture_once_then_stops() {
        let search = RandomSearch::new(RandomSearchSettings { without_replacement: true }.check().unwrap());
        let outcome = Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(search))
            .budget(Budget::evaluations(100))
            .run()
            .await
            .unwrap();
        assert_eq!(outcome.trials.len(), 24);
        let distinct: HashSet<_> = outcome.trials.iter().map(|t| t.arch.clone()).collect();
        assert_eq!(distinct.len(), 24);
        assert_eq!(
            outcome.summary.stop,
            StopReason::SpaceExhausted,
            "the runner ends a search that has seen every architecture"
        );
    }

    #[tokio::test]
    async fn proposals_meet_the_constraint() {
        let outcome =
            Study::new(Arc::new(ToySpace::constrained()), Arc::new(ToyTable::new()), Box::new(RandomSearch::default()))
                .budget(Budget::evaluations(300))
                .run()
                .await
                .unwrap();
        assert_eq!(outcome.summary.invalid, 0);
        assert!(outcome.trials.iter().all(|t| !(t.arch.choice(0) == 2 && t.arch.choice(1) == 3)));
    }

    #[test]
    fn unknown_settings_are_refused() {
        let err = serde_json::from_value::<RandomSearchSettings>(serde_json::json!({"without_replacment": true}))
            .unwrap_err();
        assert!(err.to_string().contains("unknown field `without_replacment`"), "{err}");
    }
}
