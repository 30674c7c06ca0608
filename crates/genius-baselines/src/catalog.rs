//! Every optimizer of this crate as genius-core catalog entries ([`entries`]), built from settings given as JSON (from
//! a TOML config or `--set`): parsed (errors name the optimizer and the field), checked, then constructed.

use std::path::Path;

use genius_core::catalog::{BuildContext, BuildError, Catalog, Entry, Optimizers, Setting};
use genius_core::checked::{Check, Checked};
use genius_core::{Optimizer, OptimizerError};
use serde::de::DeserializeOwned;

use crate::{Evolution, LocalSearch, Motpe, Nsga2, RandomSearch, Reinforce, Tpe};

/// Parses settings, turning serde's message into one naming the optimizer.
pub fn settings<T: DeserializeOwned + Default>(name: &str, value: serde_json::Value) -> Result<T, OptimizerError> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value).map_err(|e| OptimizerError::Settings(format!("{name}: {e}")))
}

/// The entry of an optimizer built by `new` from its checked settings `S`.
fn entry<S, T>(
    name: &'static str,
    summary: &'static str,
    documented: &'static [Setting],
    new: fn(Checked<S>) -> T,
) -> Entry<Optimizers>
where
    S: DeserializeOwned + Default + Check<Error = OptimizerError> + 'static,
    T: Optimizer + 'static,
{
    let build = move |value: serde_json::Value| -> Result<Box<dyn Optimizer>, OptimizerError> {
        Ok(Box::new(new(settings::<S>(name, value)?.check()?)))
    };
    Entry::new(name, summary, move |value, _| Ok(build(value)?))
        .with_settings(documented)
        .with_check(move |value| build(value).map(drop).map_err(Into::into))
}

/// Every optimizer, in the order `genius optimizers` lists them. None of them needs the build context: they are
/// built from their settings alone.
pub fn entries() -> Vec<Entry<Optimizers>> {
    vec![
        entry(
            "random",
            "random search: uniform proposals; any number of objectives",
            crate::random_search::SETTINGS,
            RandomSearch::new,
        ),
        entry("evolution", "regularized evolution, Real et al. 2019", crate::evolution::SETTINGS, Evolution::new),
        entry(
            "local-search",
            "local search with random restarts, White et al. 2021",
            crate::local_search::SETTINGS,
            LocalSearch::new,
        ),
        entry(
            "reinforce",
            "REINFORCE with a factorised policy, as in NAS-Bench-201",
            crate::reinforce::SETTINGS,
            Reinforce::new,
        ),
        entry("tpe", "tree-structured Parzen estimator, as Optuna's default sampler", crate::tpe::SETTINGS, Tpe::new),
        entry(
            "nsga2",
            "NSGA-II, Deb et al. 2002: Pareto ranks and crowding; any number of objectives",
            crate::nsga2::SETTINGS,
            Nsga2::new,
        ),
        entry(
            "motpe",
            "multi-objective TPE, Ozaki et al. 2020/2022: Pareto ranks and hypervolume; any number of objectives",
            crate::motpe::SETTINGS,
            Motpe::new,
        ),
    ]
}

/// This crate's optimizers as a catalog.
pub fn catalog() -> Catalog<Optimizers> {
    Catalog::with(entries())
}

/// Builds this crate's optimizer `name` from `settings` (a JSON object; `null` or `{}` for the defaults).
pub fn build(name: &str, settings: serde_json::Value) -> Result<Box<dyn Optimizer>, BuildError> {
    catalog().build(name, settings, &BuildContext::new("", 0, Path::new("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_optimizer_builds_with_its_defaults_and_records_them() {
        for entry in entries() {
            for empty in [serde_json::Value::Null, serde_json::json!({})] {
                let optimizer = build(&entry.name, empty).unwrap_or_else(|e| panic!("{}: {e}", entry.name));
                assert_eq!(optimizer.name(), entry.name);
                // The recorded settings build the same optimizer again (a resume does this).
                let again = build(&entry.name, optimizer.settings()).unwrap();
                assert_eq!(again.settings(), optimizer.settings());
            }
        }
    }

    #[test]
    fn every_documented_setting_is_a_setting_with_its_documented_default() {
        for entry in entries() {
            let defaults = build(&entry.name, serde_json::Value::Null).unwrap().settings();
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
        for entry in entries() {
            let err = build(&entry.name, serde_json::json!({"no_such_setting": 1})).err().unwrap();
            assert!(err.to_string().contains(&format!("{}: unknown field `no_such_setting`", entry.name)), "{err}");
        }
        let err = build("evolution", serde_json::json!({"population_size": 0})).err().unwrap();
        assert!(err.to_string().contains("evolution: `population_size` must be at least 1 (got 0)"), "{err}");
        let err = build("tpe", serde_json::json!({"gamma": "high"})).err().unwrap();
        assert!(err.to_string().contains("tpe: expected a number, got the text \"high\""), "{err}");
    }
}
