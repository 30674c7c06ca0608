//! `null-model`: scores every design with a seeded pseudo-random number, the same for the same design and seed. A
//! null model for a search pipeline: an optimizer that beats random search on it has a bug.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use genius_core::catalog::{BuildError, Entry, Evaluators, Setting, SettingKind};
use genius_core::{
    Architecture, Direction, EvalError, Evaluation, Evaluator, Metric, MetricSpec, Visibility, async_trait,
};
use serde::{Deserialize, Serialize};

/// Its name.
pub const NAME: &str = "null-model";

/// Its settings.
pub const SETTINGS: &[Setting] =
    &[Setting::new("seed", SettingKind::Integer, "the run's seed", "the seed every score is drawn from")];

/// Settings of [`NullModel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NullModelSettings {
    /// The seed every score is drawn from.
    pub seed: u64,
}

/// Scores designs with seeded pseudo-random numbers in [0, 1): `score` (searched) and `held_out` (reported).
#[derive(Debug, Clone)]
pub struct NullModel {
    settings: NullModelSettings,
    spec: MetricSpec,
}

impl NullModel {
    /// A null model drawing from `settings.seed`.
    pub fn new(settings: NullModelSettings) -> Self {
        let metric = |name: &str, visibility, description: &str| Metric {
            name: name.into(),
            direction: Direction::Maximize,
            visibility,
            description: description.into(),
        };
        let spec = MetricSpec {
            metrics: vec![
                metric("score", Visibility::Search, "a seeded pseudo-random score in [0, 1)"),
                metric("held_out", Visibility::Reported, "another one, held out of the search"),
            ],
            search: "score".into(),
            report: "held_out".into(),
        };
        Self { settings, spec }
    }

    fn draw(&self, arch: &Architecture, stream: u64) -> f64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (self.settings.seed, stream, arch.choices()).hash(&mut hasher);
        (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[async_trait]
impl Evaluator for NullModel {
    fn name(&self) -> &str {
        NAME
    }

    fn metrics(&self) -> &MetricSpec {
        &self.spec
    }

    async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
        let metrics =
            BTreeMap::from([("score".to_owned(), self.draw(arch, 0)), ("held_out".to_owned(), self.draw(arch, 1))]);
        Ok(Evaluation { metrics, ..Evaluation::default() })
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(self.settings).expect("settings serialize")
    }
}

/// Its catalog entry: the seed defaults to the run's.
pub fn entry() -> Entry<Evaluators> {
    Entry::new(NAME, "a seeded pseudo-random score per design (a null model)", |settings, context| {
        let mut object = match settings {
            serde_json::Value::Null => serde_json::Map::new(),
            serde_json::Value::Object(map) => map,
            other => return Err(BuildError::Settings(format!("{NAME}: settings must be a table, not {other}"))),
        };
        object.entry("seed").or_insert(context.seed.into());
        let settings: NullModelSettings = serde_json::from_value(serde_json::Value::Object(object))
            .map_err(|e| BuildError::Settings(format!("{NAME}: {e}")))?;
        Ok(Arc::new(NullModel::new(settings)) as Arc<dyn Evaluator>)
    })
    .with_settings(SETTINGS)
}
