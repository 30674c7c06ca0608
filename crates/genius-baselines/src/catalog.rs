//! Every optimizer of this crate by name, built from settings given as JSON (from a TOML config or `--set`).

use genius_core::{Optimizer, OptimizerError};
use serde::de::DeserializeOwned;

use crate::{RandomSearch, RandomSearchSettings};

/// An optimizer this crate provides.
#[derive(Debug, Clone, Copy)]
pub struct OptimizerEntry {
    /// Its name on the command line.
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    build: fn(serde_json::Value) -> Result<Box<dyn Optimizer>, OptimizerError>,
}

impl OptimizerEntry {
    /// Builds the optimizer from `settings` (a JSON object; `null` or `{}` for the defaults).
    pub fn build(&self, settings: serde_json::Value) -> Result<Box<dyn Optimizer>, OptimizerError> {
        (self.build)(settings)
    }
}

/// Parses settings, turning serde's message into one naming the optimizer.
pub fn settings<T: DeserializeOwned + Default>(name: &str, value: serde_json::Value) -> Result<T, OptimizerError> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value).map_err(|e| OptimizerError::Settings(format!("{name}: {e}")))
}

/// Every optimizer, in the order `genius optimizers` lists them.
pub fn optimizers() -> &'static [OptimizerEntry] {
    &[OptimizerEntry {
        name: "random",
        summary: "random search: uniform proposals (settings: without_replacement)",
        build: |v| Ok(Box::new(RandomSearch::new(settings::<RandomSearchSettings>("random", v)?))),
    }]
}

/// The optimizer called `name`.
pub fn find(name: &str) -> Option<&'static OptimizerEntry> {
    optimizers().iter().find(|o| o.name == name)
}

/// The names of every optimizer, comma-separated, for error messages.
pub fn names() -> String {
    optimizers().iter().map(|o| o.name).collect::<Vec<_>>().join(", ")
}
