//! Conformance suites for plug-ins of every kind: a crate that adds a space, an optimizer, an evaluator or an
//! executor proves it behaves as genius expects with one call in a test, as a burn backend runs burn's test suite.
//! Each function panics, naming the plug-in and the rule, at the first thing wrong.
//!
//! ```
//! use genius_core::catalog::{Entry, Optimizers};
//! use genius_core::testing::{UniformOptimizer, conformance};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let entry = Entry::<Optimizers>::new("uniform", "uniform proposals", |settings, _| {
//!     genius_core::catalog::check_settings("uniform", &[], &settings)?;
//!     match &settings {
//!         serde_json::Value::Object(m) if !m.is_empty() => {
//!             Err(genius_core::catalog::BuildError::Settings("uniform takes no settings".into()))
//!         }
//!         _ => Ok(Box::new(UniformOptimizer) as Box<dyn genius_core::Optimizer>),
//!     }
//! });
//! conformance::optimizer(&entry).await;
//! # });
//! ```

use std::path::Path;
use std::sync::Arc;

use crate::catalog::{BuildContext, Entry, Evaluators, Executors, Optimizers, Spaces};
use crate::testing::{ToySpace, ToyTable};
use crate::{Budget, Direction, EvalError, Evaluator, Goal, Objective, SearchSpace, SpaceExt, Study, rng};

/// Architectures a suite samples from a space.
const SAMPLES: usize = 64;

/// A space: a name and dimensions; every sampled architecture's text form parses back to it (and is canonical),
/// its enumeration index round-trips, its neighbours differ in one dimension, its constraint check is stable, and a
/// constrained space yields feasible samples. A space of at most 100 000 architectures is enumerated whole.
pub fn space(space: &dyn SearchSpace) {
    let name = space.name().to_owned();
    assert!(!name.is_empty(), "a space has a name");
    assert!(!space.dimensions().is_empty(), "{name}: a space has dimensions");
    for (i, d) in space.dimensions().iter().enumerate() {
        assert!(!d.options.is_empty(), "{name}: dimension {i} has no options");
    }
    let mut r = rng::seeded(0);
    let n = space.cardinality();
    assert!(n >= 1, "{name}: a space has architectures");
    for _ in 0..SAMPLES {
        let arch = space.sample(&mut r);
        space.validate(&arch).unwrap_or_else(|e| panic!("{name}: a sample is not valid: {e}"));
        let text = space.format(&arch);
        let back = space.parse(&text).unwrap_or_else(|e| panic!("{name}: `{text}` does not parse back: {e}"));
        assert_eq!(space.canonical(&back), space.canonical(&arch), "{name}: `{text}` parses to another design");
        assert_eq!(space.arch_at(space.index_of(&arch)), arch, "{name}: the enumeration index round-trips");
        assert_eq!(space.check(&arch).is_ok(), space.check(&arch).is_ok(), "{name}: the constraint is stable");
        for neighbour in space.neighbours(&arch) {
            let differ = neighbour.choices().iter().zip(arch.choices()).filter(|(a, b)| a != b).count();
            assert_eq!(differ, 1, "{name}: a neighbour differs in one dimension");
        }
    }
    if space.is_constrained() {
        let feasible = space.sample_valid(&mut r, 10_000);
        let arch = feasible.unwrap_or_else(|| panic!("{name}: no feasible architecture in 10 000 draws"));
        assert!(space.check(&arch).is_ok(), "{name}: sample_valid returns a feasible design");
    }
    if n <= 100_000 {
        assert_eq!(space.enumerate().count() as u128, n, "{name}: the enumeration has cardinality() designs");
    }
}

/// A space's catalog entry: it builds without settings, under its own name, and the space passes [`space`].
pub fn space_entry(entry: &Entry<Spaces>) {
    let context = BuildContext::new(&entry.name, 0, Path::new("."));
    let built = entry.build(serde_json::Value::Null, &context).unwrap_or_else(|e| panic!("{}: {e}", entry.name));
    assert_eq!(built.name(), entry.name, "a space's name is its entry's");
    space(&*built);
}

/// An optimizer's catalog entry (one that builds with its defaults): it builds from `null` and `{}` under its own
/// name; its recorded settings build the same optimizer again (a resume does this); every key of its recorded
/// settings is documented, with a default in its range; an unknown setting is refused; and on the toy space it
/// proposes only valid architectures, the same ones again for the same seed. One that searches several objectives
/// ([`Optimizer::multi_objective`](crate::Optimizer::multi_objective)) does the same in a two-objective study
/// (`val_acc:max`, `params:min`), whose summary names a Pareto front.
pub async fn optimizer(entry: &Entry<Optimizers>) {
    let name = entry.name.as_str();
    let context = BuildContext::new("toy", 0, Path::new("."));
    for empty in [serde_json::Value::Null, serde_json::json!({})] {
        entry.check(empty.clone()).unwrap_or_else(|e| panic!("{name}: its defaults pass its check: {e}"));
        let built = entry.build(empty, &context).unwrap_or_else(|e| panic!("{name}: builds with defaults: {e}"));
        assert_eq!(built.name(), name, "an optimizer's name is its entry's");
        let recorded = built.settings();
        let again = entry.build(recorded.clone(), &context).unwrap_or_else(|e| panic!("{name}: rebuilds: {e}"));
        assert_eq!(again.settings(), recorded, "{name}: its recorded settings build the same optimizer");
        if let Some(object) = recorded.as_object() {
            for (key, value) in object {
                let setting = entry.settings.iter().find(|s| s.name == key);
                let setting = setting.unwrap_or_else(|| panic!("{name}: setting `{key}` is not documented"));
                setting.check(value).unwrap_or_else(|e| panic!("{name}: its default is out of range: {e}"));
            }
        }
    }
    assert!(
        entry.build(serde_json::json!({"no_such_setting": 1}), &context).is_err(),
        "{name}: an unknown setting is refused"
    );
    let multi = entry.build(serde_json::Value::Null, &context).expect("builds").multi_objective();
    let run = |seed: u64, several: bool| async move {
        let optimizer = entry.build(serde_json::Value::Null, &context).expect("builds");
        let space = Arc::new(ToySpace::new());
        let table = Arc::new(ToyTable::new());
        let mut study = Study::new(space.clone(), table.clone(), optimizer).seed(seed).budget(Budget::evaluations(12));
        if several {
            let goals = [Goal::new("val_acc", Direction::Maximize), Goal::new("params", Direction::Minimize)];
            study = study.objective(Objective::goals(table.metrics(), goals).expect("toy objectives"));
        }
        let outcome = study.run().await.unwrap_or_else(|e| panic!("{name}: a study on the toy space fails: {e}"));
        for trial in &outcome.trials {
            if !trial.arch.is_empty() {
                space.validate(&trial.arch).unwrap_or_else(|e| panic!("{name}: proposed an invalid design: {e}"));
            }
        }
        if several {
            assert!(!outcome.summary.front.is_empty(), "{name}: a two-objective study has a Pareto front");
        }
        outcome.trials.iter().map(|t| t.arch.clone()).collect::<Vec<_>>()
    };
    let first = run(7, false).await;
    assert!(!first.is_empty(), "{name}: proposes something");
    assert_eq!(run(7, false).await, first, "{name}: the same seed proposes the same designs");
    if multi {
        let first = run(7, true).await;
        assert!(!first.is_empty(), "{name}: proposes something for two objectives");
        assert_eq!(run(7, true).await, first, "{name}: the same seed proposes the same designs for two objectives");
    }
}

/// An evaluator's catalog entry, built with `settings` for `space` reading data from `data_dir`: it builds under its
/// own name, its metric spec names the searched and reported metrics among its metrics, a sampled architecture's
/// evaluation carries both (finite), evaluating it again gives the same searched value, and its recorded settings
/// build it again.
pub async fn evaluator(
    entry: &Entry<Evaluators>,
    settings: serde_json::Value,
    space: Arc<dyn SearchSpace>,
    data_dir: &Path,
) {
    let name = entry.name.as_str();
    let space_name = space.name().to_owned();
    let context = BuildContext::new(&space_name, 0, data_dir).with_space(&space);
    entry.check(settings.clone()).unwrap_or_else(|e| panic!("{name}: its settings pass its check: {e}"));
    let built = entry.build(settings, &context).unwrap_or_else(|e| panic!("{name}: does not build: {e}"));
    assert_eq!(built.name(), name, "an evaluator's name is its entry's");
    let spec = built.metrics().clone();
    let names: Vec<&str> = spec.metrics.iter().map(|m| m.name.as_str()).collect();
    assert!(names.contains(&spec.search.as_str()), "{name}: the searched metric `{}` is a metric", spec.search);
    assert!(names.contains(&spec.report.as_str()), "{name}: the reported metric `{}` is a metric", spec.report);
    let mut r = rng::seeded(1);
    let mut evaluated = 0;
    for _ in 0..8 {
        let Some(arch) = space.sample_valid(&mut r, 1000) else { continue };
        let evaluation = match built.evaluate(&arch).await {
            Ok(e) => e,
            Err(EvalError::Failed(_)) => continue,
            Err(e) => panic!("{name}: {e}"),
        };
        for metric in [&spec.search, &spec.report] {
            let value = evaluation.metrics.get(metric).unwrap_or_else(|| panic!("{name}: no `{metric}`"));
            assert!(value.is_finite(), "{name}: `{metric}` is {value}");
        }
        let again = built.evaluate(&arch).await.unwrap_or_else(|e| panic!("{name}: fails the second time: {e}"));
        assert_eq!(again.metrics.get(&spec.search), evaluation.metrics.get(&spec.search), "{name}: deterministic");
        evaluated += 1;
        if evaluated == 2 {
            break;
        }
    }
    assert!(evaluated > 0, "{name}: evaluates some sampled architecture");
    let recorded = built.settings();
    let again = entry.build(recorded.clone(), &context).unwrap_or_else(|e| panic!("{name}: rebuilds: {e}"));
    assert_eq!(again.settings(), recorded, "{name}: its recorded settings build the same evaluator");
}

/// An executor's catalog entry, built with `settings` in `context` (its job setup): it builds under its own name,
/// its settings pass its check, and it runs at least one job at a time. (Running jobs needs its scheduler: the
/// executor's own tests do that.)
pub fn executor(entry: &Entry<Executors>, settings: serde_json::Value, context: &BuildContext<'_>) {
    let name = entry.name.as_str();
    entry.check(settings.clone()).unwrap_or_else(|e| panic!("{name}: its settings pass its check: {e}"));
    let built = entry.build(settings, context).unwrap_or_else(|e| panic!("{name}: does not build: {e}"));
    assert_eq!(built.name(), name, "an executor's name is its entry's");
    assert!(built.max_in_flight() >= 1, "{name}: runs at least one job at a time");
    assert!(entry.check(serde_json::json!({"no_such_setting": 1})).is_err(), "{name}: an unknown setting is refused");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::BuildError;
    use crate::testing::UniformOptimizer;

    #[tokio::test]
    async fn the_toy_plugins_conform() {
        space(&ToySpace::new());
        space(&ToySpace::constrained());
        space_entry(&Entry::new("toy", "", |_, _| Ok(Arc::new(ToySpace::new()) as Arc<dyn SearchSpace>)));
        let uniform = Entry::<Optimizers>::new("uniform", "", |settings, _| match &settings {
            serde_json::Value::Object(m) if !m.is_empty() => Err(BuildError::Settings("no settings".into())),
            _ => Ok(Box::new(UniformOptimizer) as Box<dyn crate::Optimizer>),
        });
        optimizer(&uniform).await;
        let table =
            Entry::<Evaluators>::new(
                "toy-table",
                "",
                |_, _| Ok(Arc::new(ToyTable::new()) as Arc<dyn crate::Evaluator>),
            );
        evaluator(&table, serde_json::json!({}), Arc::new(ToySpace::new()), Path::new(".")).await;
    }

    #[tokio::test]
    #[should_panic(expected = "the same seed proposes the same designs")]
    async fn an_optimizer_drawing_from_its_own_entropy_fails() {
        let bad = Entry::<Optimizers>::new("clock", "", |settings, _| match &settings {
            serde_json::Value::Object(m) if !m.is_empty() => Err(BuildError::Settings("no settings".into())),
            _ => Ok(Box::new(Unseeded) as Box<dyn crate::Optimizer>),
        });
        optimizer(&bad).await;
    }

    /// Proposes from a counter shared by every instance: a second run differs from the first.
    struct Unseeded;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    #[async_trait::async_trait]
    impl crate::Optimizer for Unseeded {
        fn name(&self) -> &str {
            "clock"
        }
        fn settings(&self) -> serde_json::Value {
            serde_json::json!({})
        }
        async fn ask(
            &mut self,
            ctx: &mut crate::AskContext<'_>,
            n: usize,
        ) -> Result<Vec<crate::Architecture>, crate::OptimizerError> {
            let next = || NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u128 % ctx.space.cardinality();
            Ok((0..n).map(|_| ctx.space.arch_at(next())).collect())
        }
        fn tell(&mut self, _: &[crate::Observation]) {}
    }
}
