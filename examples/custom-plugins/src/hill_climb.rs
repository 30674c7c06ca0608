//! `hill-climb`: start from random designs, then mutate the best design seen so far, one dimension at a time.

use genius_core::catalog::{BuildError, Entry, Optimizers, Range, Setting, SettingKind, check_settings};
use genius_core::checked::{Check, Checked};
use genius_core::{Architecture, AskContext, Observation, Optimizer, OptimizerError, SpaceExt, async_trait};
use serde::{Deserialize, Serialize};

/// Its name.
pub const NAME: &str = "hill-climb";

/// Its settings, as `genius optimizers hill-climb` would print them and [`HillClimbSettings::check`] enforces them.
pub const SETTINGS: &[Setting] =
    &[Setting::new("initial_samples", SettingKind::Integer, "4", "uniformly random designs before the first mutation")
        .range(Range::at_least(1.0))];

/// Settings of [`HillClimb`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HillClimbSettings {
    /// Uniformly random designs before the first mutation.
    pub initial_samples: usize,
}

impl Default for HillClimbSettings {
    fn default() -> Self {
        Self { initial_samples: 4 }
    }
}

impl Check for HillClimbSettings {
    type Error = BuildError;

    /// Checks the settings against their declared ranges.
    fn check_ref(&self) -> Result<(), BuildError> {
        check_settings(NAME, SETTINGS, &serde_json::to_value(self).expect("settings serialize"))
    }
}

/// Mutates the best design seen so far (by the search score); random designs first.
#[derive(Debug, Clone)]
pub struct HillClimb {
    settings: HillClimbSettings,
}

impl HillClimb {
    /// A hill climber with checked settings.
    pub fn new(settings: Checked<HillClimbSettings>) -> Self {
        Self { settings: settings.into_inner() }
    }
}

#[async_trait]
impl Optimizer for HillClimb {
    fn name(&self) -> &str {
        NAME
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(&self.settings).expect("settings serialize")
    }

    async fn ask(&mut self, ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError> {
        let best = ctx
            .history
            .iter()
            .filter_map(|o| o.score.map(|s| (s, &o.arch)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, arch)| arch.clone());
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let arch = match &best {
                Some(best) if ctx.history.len() >= self.settings.initial_samples => ctx.space.mutate(best, ctx.rng),
                _ => ctx.space.sample(ctx.rng),
            };
            out.push(arch);
        }
        Ok(out)
    }

    fn tell(&mut self, _trials: &[Observation]) {}
}

/// Its catalog entry.
pub fn entry() -> Entry<Optimizers> {
    Entry::new(NAME, "hill climbing: mutate the best design seen so far", |settings, _| {
        let settings: HillClimbSettings = if settings.is_null() {
            HillClimbSettings::default()
        } else {
            serde_json::from_value(settings).map_err(|e| BuildError::Settings(format!("{NAME}: {e}")))?
        };
        Ok(Box::new(HillClimb::new(settings.check()?)) as Box<dyn Optimizer>)
    })
    .with_settings(SETTINGS)
}
