//! Regularized evolution (Real et al., 2019, "Regularized Evolution for Image Classifier Architecture Search"):
//! tournament selection, one-dimension mutation, and aging (the oldest member dies, not the worst).

use std::collections::VecDeque;

use async_trait::async_trait;
use genius_core::{ArchSet, Architecture, AskContext, Observation, Optimizer, OptimizerError};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::common::{self, FRESH_TRIES, check_declared, invalid};
use genius_core::catalog::{Range, Setting, SettingKind};
use genius_core::checked::{Check, Checked};

const NAME: &str = "evolution";

/// The settings of regularized evolution, as `genius optimizers evolution` prints them and [`EvolutionSettings::check`]
/// enforces them (besides: `sample_size` must not exceed `population_size`).
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "population_size",
        SettingKind::Integer,
        "10",
        "members of the population (P); the oldest is replaced",
    )
    .range(Range::at_least(1.0)),
    Setting::new("sample_size", SettingKind::Integer, "3", "members drawn for each tournament (S), at most P")
        .range(Range::at_least(1.0)),
    Setting::new("avoid_duplicates", SettingKind::Bool, "false", "re-draw a child that was already evaluated"),
];

/// Settings of [`Evolution`]. The defaults are those of REA in NAS-Bench-201 (Dong & Yang, 2020; its
/// `R-EA.sh` script and NATS-Bench's `regularized_ea.py` commands): a population of 10 and tournaments of 3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvolutionSettings {
    /// Members of the population (P): the first P proposals are uniformly random, after that each new member
    /// replaces the oldest.
    pub population_size: usize,
    /// Members drawn (uniformly, with replacement) for each tournament (S); the best of them is mutated.
    pub sample_size: usize,
    /// Re-draw a child that was already evaluated (up to 64 tournaments and mutations, then a repeat is accepted).
    /// Off by default, as published: a repeat then costs a query. Not part of REA; a tuning of this crate.
    pub avoid_duplicates: bool,
}

impl Default for EvolutionSettings {
    fn default() -> Self {
        Self { population_size: 10, sample_size: 3, avoid_duplicates: false }
    }
}

impl Check for EvolutionSettings {
    type Error = OptimizerError;

    /// Checks every field: both sizes at least 1, and a tournament no larger than the population.
    fn check_ref(&self) -> Result<(), OptimizerError> {
        check_declared(NAME, SETTINGS, self)?;
        if self.sample_size > self.population_size {
            return Err(invalid(
                NAME,
                "sample_size",
                format_args!("must not exceed population_size ({}) (got {})", self.population_size, self.sample_size),
            ));
        }
        Ok(())
    }
}

/// Regularized evolution over any categorical space. Mutation changes one dimension to another option (retried until
/// the child meets the space's constraint); a failed or infeasible child does not join the population.
#[derive(Debug, Clone)]
pub struct Evolution {
    settings: EvolutionSettings,
    /// The living members and their scores, oldest first.
    population: VecDeque<(Architecture, f64)>,
    /// Uniformly random proposals made so far (the first `population_size`).
    initial: usize,
    /// Every architecture told, when avoiding duplicates.
    evaluated: ArchSet,
}

/// Mutation attempts per child before a constrained space is given up on for this parent.
const MUTATION_TRIES: usize = 100;

impl Evolution {
    /// Regularized evolution with `settings`, checked.
    pub fn new(settings: Checked<EvolutionSettings>) -> Self {
        let settings = settings.into_inner();
        Self { settings, population: VecDeque::new(), initial: 0, evaluated: ArchSet::default() }
    }

    /// The living members, oldest first, with their scores.
    pub fn population(&self) -> impl Iterator<Item = (&Architecture, f64)> {
        self.population.iter().map(|(a, s)| (a, *s))
    }

    fn taken(&self, arch: &Architecture, batch: &[Architecture]) -> bool {
        self.settings.avoid_duplicates && (self.evaluated.contains(arch) || batch.contains(arch))
    }

    fn random(&self, ctx: &mut AskContext<'_>, batch: &[Architecture]) -> Result<Architecture, OptimizerError> {
        let mut arch = common::sample(ctx)?;
        for _ in 1..FRESH_TRIES {
            if !self.taken(&arch, batch) {
                break;
            }
            arch = common::sample(ctx)?;
        }
        Ok(arch)
    }

    /// A tournament's winner, mutated.
    fn child(&self, ctx: &mut AskContext<'_>) -> Result<Architecture, OptimizerError> {
        let mut parent = ctx.rng.random_range(0..self.population.len());
        for _ in 1..self.settings.sample_size {
            let rival = ctx.rng.random_range(0..self.population.len());
            if self.population[rival].1 > self.population[parent].1 {
                parent = rival;
            }
        }
        match common::mutate_valid(ctx.space, &self.population[parent].0, ctx.rng, MUTATION_TRIES) {
            Some(child) => Ok(child),
            None => common::sample(ctx),
        }
    }
}

impl Default for Evolution {
    fn default() -> Self {
        Self::new(Checked::default())
    }
}

#[async_trait]
impl Optimizer for Evolution {
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
            let arch = if self.initial < self.settings.population_size || self.population.is_empty() {
                self.initial += 1;
                self.random(ctx, &batch)?
            } else {
                let mut child = self.child(ctx)?;
                for _ in 1..FRESH_TRIES {
                    if !self.taken(&child, &batch) {
                        break;
                    }
                    child = self.child(ctx)?;
                }
                child
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
            if let Some(score) = t.score {
                self.population.push_back((t.arch.clone(), score));
                if self.population.len() > self.settings.population_size {
                    self.population.pop_front();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use genius_core::testing::{ToySpace, ToyTable};
    use genius_core::{Budget, Study};

    use super::*;
    use genius_core::checked::Check;

    #[tokio::test]
    async fn the_population_ages_and_children_are_one_mutation_from_a_member() {
        let settings = EvolutionSettings { population_size: 5, sample_size: 2, avoid_duplicates: false };
        let outcome = Study::new(
            Arc::new(ToySpace::new()),
            Arc::new(ToyTable::new()),
            Box::new(Evolution::new(settings.check().unwrap())),
        )
        .budget(Budget::evaluations(40))
        .seed(3)
        .run()
        .await
        .unwrap();
        let trials = &outcome.trials;
        // Replay the population: every child after the first five is one mutation away from one of the five
        // youngest successful trials before it.
        for (i, t) in trials.iter().enumerate().skip(5) {
            let members: Vec<_> = trials[..i].iter().filter(|t| t.succeeded()).rev().take(5).collect();
            let distance =
                |a: &Architecture, b: &Architecture| (0..a.len()).filter(|&d| a.choice(d) != b.choice(d)).count();
            assert!(members.iter().any(|m| distance(&m.arch, &t.arch) == 1), "trial {i} is no mutation of a member");
        }
    }

    #[test]
    fn invalid_settings_are_refused_with_the_field() {
        let err = EvolutionSettings { sample_size: 0, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("evolution: `sample_size` must be at least 1 (got 0)"), "{err}");
        let err = EvolutionSettings { population_size: 4, sample_size: 5, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("`sample_size` must not exceed population_size (4) (got 5)"), "{err}");
    }
}
