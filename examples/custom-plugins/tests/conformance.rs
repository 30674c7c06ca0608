//! The example plug-ins pass genius-core's conformance suites, and run in an experiment grid beside each other.

use std::path::Path;
use std::sync::Arc;

use genius_core::SearchSpace;
use genius_core::catalog::{Catalogs, Entry, Spaces};
use genius_core::testing::{ToySpace, conformance};
use genius_example_plugins::{hill_climb, null_model, register};
use genius_grid::{Overrides, Plan, Runner};

#[tokio::test]
async fn the_hill_climber_conforms() {
    conformance::optimizer(&hill_climb::entry()).await;
}

#[tokio::test]
async fn the_null_model_conforms() {
    let space: Arc<dyn SearchSpace> = Arc::new(ToySpace::new());
    conformance::evaluator(&null_model::entry(), serde_json::json!({"seed": 3}), space, Path::new(".")).await;
}

#[tokio::test]
async fn a_grid_runs_the_new_optimizer_with_the_new_evaluator() {
    let mut catalogs = Catalogs::default();
    catalogs.spaces.add([Entry::<Spaces>::new("toy", "the toy space", |_, _| {
        Ok(Arc::new(ToySpace::new()) as Arc<dyn SearchSpace>)
    })]);
    register(&mut catalogs);
    let dir = tempfile::tempdir().unwrap();
    let experiment = r#"
name = "example"
spaces = ["toy"]
seeds = 2
budgets = [6]

[evaluator]
name = "null-model"

[[optimizer]]
name = "hill-climb"
settings = { initial_samples = 2 }
"#;
    let overrides = Overrides { out: Some(dir.path().to_owned()), ..Overrides::default() };
    let plan = Plan::parse(Path::new("example.toml"), experiment, &catalogs, &overrides).unwrap();
    assert_eq!(plan.runs().count(), 2);
    let parts = plan.parts(&catalogs, dir.path()).unwrap();
    let runner = Runner {
        catalogs: Arc::new(catalogs),
        data_dir: dir.path().to_owned(),
        jobs: 2,
        fail_fast: true,
        stop: Default::default(),
        job_setup: None,
        progress: Arc::new(()),
    };
    let outcome = runner.run(&plan, &parts).await.unwrap();
    assert!(outcome.failures.is_empty() && !outcome.interrupted, "{:?}", outcome.failures);
    assert!(plan.todo().is_empty(), "every run reached its budget");
    // Run again: nothing left to do, and the recorded runs are untouched.
    let again = Runner { progress: Arc::new(()), ..runner }.run(&plan, &parts).await.unwrap();
    assert!(again.failures.is_empty());

    // A name the catalogs lack is an error naming the line.
    let err = Plan::parse(
        Path::new("example.toml"),
        &experiment.replace("hill-climb", "hill"),
        &catalogs_for_errors(),
        &overrides,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("example.toml, line 11: unknown optimizer `hill`; did you mean `hill-climb`?; known: hill-climb"),
        "{err}"
    );
}

fn catalogs_for_errors() -> Catalogs {
    let mut catalogs = Catalogs::default();
    catalogs.spaces.add([Entry::<Spaces>::new("toy", "the toy space", |_, _| {
        Ok(Arc::new(ToySpace::new()) as Arc<dyn SearchSpace>)
    })]);
    register(&mut catalogs);
    catalogs
}
