//! Every optimizer of this crate by name, built from settings given as JSON (from a TOML config or `--set`).

use genius_core::catalog::{Entry, Optimizers, Setting};
use genius_core::{Optimizer, OptimizerError};
use serde::de::DeserializeOwned;

use crate::{
    Evolution, EvolutionSettings, LocalSearch, LocalSearchSettings, Motpe, MotpeSettings, Nsga2, Nsga2Settings,
    RandomSearch, RandomSearchSettings, Reinforce, ReinforceSettings, Tpe, TpeSettings,
};

/// An optimizer this crate provides.
#[derive(Debug, Clone, Copy)]
pub struct OptimizerEntry {
    /// Its name on the command line.
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    /// Its settings, as `genius optimizers NAME` prints them and its `check` enforces them.
    pub settings: &'static [Setting],
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
    &[
        OptimizerEntry {
            name: "random",
            summary: "random search: uniform proposals; any number of objectives",
            settings: crate::random_search::SETTINGS,
            build: |v| {
                let s = settings::<RandomSearchSettings>("random", v)?;
                s.check()?;
                Ok(Box::new(RandomSearch::new(s)))
            },
        },
        OptimizerEntry {
            name: "evolution",
            summary: "regularized evolution, Real et al. 2019",
            settings: crate::evolution::SETTINGS,
            build: |v| Ok(Box::new(Evolution::new(settings::<EvolutionSettings>("evolution", v)?)?)),
        },
        OptimizerEntry {
            name: "local-search",
            summary: "local search with random restarts, White et al. 2021",
            settings: crate::local_search::SETTINGS,
            build: |v| Ok(Box::new(LocalSearch::new(settings::<LocalSearchSettings>("local-search", v)?)?)),
        },
        OptimizerEntry {
            name: "reinforce",
            summary: "REINFORCE with a factorised policy, as in NAS-Bench-201",
            settings: crate::reinforce::SETTINGS,
            build: |v| Ok(Box::new(Reinforce::new(settings::<ReinforceSettings>("reinforce", v)?)?)),
        },
        OptimizerEntry {
            name: "tpe",
            summary: "tree-structured Parzen estimator, as Optuna's default sampler",
            settings: crate::tpe::SETTINGS,
            build: |v| Ok(Box::new(Tpe::new(settings::<TpeSettings>("tpe", v)?)?)),
        },
        OptimizerEntry {
            name: "nsga2",
            summary: "NSGA-II, Deb et al. 2002: Pareto ranks and crowding; any number of objectives",
            settings: crate::nsga2::SETTINGS,
            build: |v| Ok(Box::new(Nsga2::new(settings::<Nsga2Settings>("nsga2", v)?)?)),
        },
        OptimizerEntry {
            name: "motpe",
            summary: "multi-objective TPE, Ozaki et al. 2020/2022: Pareto ranks and hypervolume; any number of objectives",
            settings: crate::motpe::SETTINGS,
            build: |v| Ok(Box::new(Motpe::new(settings::<MotpeSettings>("motpe", v)?)?)),
        },
    ]
}

/// Every optimizer as catalog entries (genius-core's one shape for every plug-in), in listing order. None of them
/// needs the build context: they are built from their settings alone.
pub fn entries() -> Vec<Entry<Optimizers>> {
    optimizers()
        .iter()
        .map(|o| {
            let entry = *o;
            Entry::new(o.name, o.summary, move |settings, _| Ok(entry.build(settings)?))
                .with_settings(o.settings)
                .with_check(move |settings| entry.build(settings).map(drop).map_err(Into::into))
        })
        .collect()
}

/// The optimizer called `name`.
pub fn find(name: &str) -> Option<&'static OptimizerEntry> {
    optimizers().iter().find(|o| o.name == name)
}

/// The names of every optimizer, comma-separated, for error messages.
pub fn names() -> String {
    optimizers().iter().map(|o| o.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_optimizer_builds_with_its_defaults_and_records_them() {
        for entry in optimizers() {
            for empty in [serde_json::Value::Null, serde_json::json!({})] {
                let optimizer = entry.build(empty).unwrap_or_else(|e| panic!("{}: {e}", entry.name));
                assert_eq!(optimizer.name(), entry.name);
                // The recorded settings build the same optimizer again (a resume does this).
                let again = entry.build(optimizer.settings()).unwrap();
                assert_eq!(again.settings(), optimizer.settings());
            }
        }
    }

    #[test]
    fn every_documented_setting_is_a_setting_with_its_documented_default() {
        for entry in optimizers() {
            let defaults = entry.build(serde_json::Value::Null).unwrap().settings();
            let keys: Vec<&str> = defaults.as_object().unwrap().keys().map(String::as_str).collect();
            let mut documented: Vec<&str> = entry.settings.iter().map(|s| s.name).collect();
            documented.sort_unstable();
            assert_eq!(documented, keys, "{}: the documented settings are its settings", entry.name);
            for setting in entry.settings {
                let default: toml::Value =
                    toml::from_str::<toml::Table>(&format!("v = {}", setting.default)).unwrap()["v"].clone();
                let default = serde_json::to_value(default).unwrap();
                let actual = &defaults[setting.name];
                let same = match (default.as_f64(), actual.as_f64()) {
                    (Some(a), Some(b)) => a == b,
                    _ => default == *actual,
                };
                assert!(same, "{}.{}: documented default {default}, actual {actual}", entry.name, setting.name);
                assert!(setting.check(actual).is_ok(), "{}.{}: the default is in range", entry.name, setting.name);
            }
        }
    }

    #[test]
    fn unknown_and_invalid_settings_name_the_optimizer_and_field() {
        for entry in optimizers() {
            let err = entry.build(serde_json::json!({"no_such_setting": 1})).err().unwrap();
            assert!(err.to_string().contains(&format!("{}: unknown field `no_such_setting`", entry.name)), "{err}");
        }
        let err = find("evolution").unwrap().build(serde_json::json!({"population_size": 0})).err().unwrap();
        assert!(err.to_string().contains("evolution: `population_size` must be at least 1 (got 0)"), "{err}");
        let err = find("tpe").unwrap().build(serde_json::json!({"gamma": "high"})).err().unwrap();
        assert!(err.to_string().contains("tpe: invalid type"), "{err}");
    }
}
