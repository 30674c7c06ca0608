//! The comparison grid at scale: 3 baselines (random search, regularized evolution, TPE) × 1,000 seeds × 100
//! queries on NAS-Bench-201 CIFAR-10, timed two ways. Run with `cargo bench --bench compare_grid`; the figures go to
//! BENCHMARKS.md beside the same grid run with Optuna (benches/peers/optuna_grid.py).
//!
//! - `studies_in_memory`: the 3,000 studies one after another on one thread, without run logs: the optimizers and
//!   the runner alone, as the Optuna script runs its studies (in-memory storage, one process).
//! - `genius_compare`: the `genius compare` command on that grid, end to end: 3,000 run directories with their run
//!   logs, the summary, trials table, report and plots, with `--jobs 1` and with `--jobs 2`.
//!
//! `GRID_SEEDS` (default 1000) shrinks the grid for a quick look.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use genius::baselines::catalog;
use genius::core::{Budget, Evaluator, Study};
use genius::spaces::data::DataDir;
use genius_cli::compare::CompareArgs;

const SPACE: &str = "nas-bench-201-cifar10";
const OPTIMIZERS: [&str; 3] = ["random", "evolution", "tpe"];
const QUERIES: usize = 100;

fn data_path() -> PathBuf {
    std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

fn seeds() -> u64 {
    std::env::var("GRID_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000)
}

fn compare_grid(c: &mut Criterion) {
    let seeds = seeds();
    let trials = OPTIMIZERS.len() as u64 * seeds * QUERIES as u64;
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let entry = genius::spaces::catalog::find(SPACE).expect("a catalog space");
    let table = entry
        .load_table(&DataDir::new(data_path()))
        .expect("a table space")
        .unwrap_or_else(|e| panic!("{e} (set GENIUS_DATA_DIR)"));
    let table = Arc::new(table);

    let mut group = c.benchmark_group(format!("compare_grid_{SPACE}_{seeds}_seeds"));
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(trials));

    group.bench_function("studies_in_memory", |b| {
        b.iter(|| {
            let mut best = 0.0;
            for name in OPTIMIZERS {
                for seed in 0..seeds {
                    let evaluator: Arc<dyn Evaluator> = table.clone();
                    let optimizer = catalog::build(name, serde_json::Value::Null).unwrap();
                    let study = Study::new(table.space().clone(), evaluator, optimizer)
                        .seed(seed)
                        .budget(Budget::evaluations(QUERIES));
                    let outcome = runtime.block_on(study.run()).unwrap();
                    best += outcome
                        .best()
                        .map_or(0.0, |t| t.evaluation.as_ref().and_then(|e| e.value("val_acc_200")).unwrap_or(0.0));
                }
            }
            best
        });
    });

    // `genius compare` runs its studies as tasks: a multi-threaded runtime, as the command has.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("grid.toml");
    let optimizers: String = OPTIMIZERS.iter().map(|name| format!("[[optimizer]]\nname = \"{name}\"\n\n")).collect();
    std::fs::write(
        &config,
        format!(
            "name = \"grid\"\nspaces = [\"{SPACE}\"]\nseeds = {seeds}\nbudgets = [10, 50, {QUERIES}]\n\
             baseline = \"random\"\n\n{optimizers}"
        ),
    )
    .unwrap();
    for jobs in [1, 2] {
        let mut run = 0;
        group.bench_function(format!("genius_compare_jobs_{jobs}"), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    run += 1;
                    let out = tmp.path().join(format!("jobs{jobs}-{run}"));
                    let args = CompareArgs {
                        config: config.clone(),
                        seeds: None,
                        budget: None,
                        jobs: Some(jobs),
                        out: Some(out.clone()),
                        data: genius_cli::args::DataArgs { data_dir: Some(data_path()), offline: true, base_url: None },
                        quiet: true,
                        check: false,
                        fail_fast: false,
                    };
                    let mut sink = Vec::new();
                    let start = Instant::now();
                    runtime.block_on(genius_cli::compare::compare(&args, &mut sink)).unwrap();
                    spent += start.elapsed();
                    std::fs::remove_dir_all(&out).unwrap();
                }
                spent
            });
        });
    }
    group.finish();
}

criterion_group!(benches, compare_grid);
criterion_main!(benches);
