//! Per-trial overhead of every baseline optimizer with a table evaluator: ask + evaluate (a table look-up) + tell +
//! the runner's bookkeeping, with the run log buffered (`Flush::Buffered`). Run with
//! `cargo bench --bench optimizers`; results go to BENCHMARKS.md beside Optuna's (benches/peers/optuna_quality.py).
//!
//! Each measurement is one study's trials 1-100 (of a 100-trial study) or trials 101-200 (of a 200-trial study, so
//! that the optimizer has a history of 100 to 199 trials: the figure for TPE's 100-trial history), timed between the
//! study's own events (its start, and the recording of trials 100 and 200): creating the run directory and writing
//! the summary are left out, as Optuna's figure leaves out `create_study`. Criterion reports the time of 100 trials
//! and the throughput in trials per second; the time per trial is the former over 100.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use genius::baselines::catalog;
use genius::core::checked::Check;
use genius::core::{Budget, Evaluator, Flush, Study, StudyEvent, StudySettings};
use genius::spaces::data::DataDir;
use genius::spaces::table::Table;
use serde_json::json;

fn data_dir() -> DataDir {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    DataDir::new(dir)
}

/// The optimizer configurations measured, with their labels.
fn configurations() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    vec![
        ("random", "random", json!({})),
        ("random-wo-replacement", "random", json!({"without_replacement": true})),
        ("evolution", "evolution", json!({})),
        ("local-search", "local-search", json!({})),
        ("reinforce", "reinforce", json!({})),
        ("tpe", "tpe", json!({})),
        ("tpe-independent", "tpe", json!({"multivariate": false})),
    ]
}

/// Runs one study of `trials` trials with a buffered log in a fresh directory under `root`, and returns the time
/// of trials `from + 1 ..= trials`.
fn per_trial(
    runtime: &tokio::runtime::Runtime,
    table: &Arc<Table>,
    optimizer: (&str, &serde_json::Value),
    trials: usize,
    from: usize,
    seed: u64,
    root: &std::path::Path,
) -> Duration {
    let stamps = Arc::new(Mutex::new(Vec::with_capacity(trials + 1)));
    let recorder = stamps.clone();
    let evaluator: Arc<dyn Evaluator> = table.clone();
    let optimizer = catalog::build(optimizer.0, optimizer.1.clone()).unwrap();
    let study = Study::new(table.space().clone(), evaluator, optimizer)
        .seed(seed)
        .budget(Budget::evaluations(trials))
        .settings(
            StudySettings { flush: Flush::Buffered, ..Default::default() }.check().expect("valid runner settings"),
        )
        .observe(move |event: &StudyEvent<'_>| {
            if matches!(event, StudyEvent::Started { .. } | StudyEvent::Trial { .. }) {
                recorder.lock().unwrap().push(Instant::now());
            }
        });
    let dir = root.join(format!("{seed}"));
    runtime.block_on(study.run_in(&dir)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stamps = stamps.lock().unwrap();
    assert_eq!(stamps.len(), trials + 1, "a start and one stamp per trial");
    stamps[trials] - stamps[from]
}

fn optimizers(c: &mut Criterion) {
    let data = data_dir();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut tables = Vec::new();
    for name in ["nas-bench-macro", "nas-bench-201-cifar10"] {
        let entry = genius::spaces::catalog::find(name).expect("a catalog space");
        let table = entry.load_table(&data).expect("a table").unwrap_or_else(|e| panic!("{e} (set GENIUS_DATA_DIR)"));
        tables.push((name, Arc::new(table)));
    }
    for (window, trials, from) in [("trials_1_100", 100, 0), ("trials_101_200", 200, 100)] {
        let mut group = c.benchmark_group(format!("per_trial_{window}"));
        group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        group.throughput(Throughput::Elements((trials - from) as u64));
        for (space, table) in &tables {
            for (label, name, settings) in configurations() {
                let mut seed = 0u64;
                group.bench_function(BenchmarkId::new(label, space), |b| {
                    b.iter_custom(|iters| {
                        (0..iters)
                            .map(|_| {
                                seed += 1;
                                per_trial(&runtime, table, (name, &settings), trials, from, seed, tmp.path())
                            })
                            .sum()
                    });
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, optimizers);
criterion_main!(benches);
