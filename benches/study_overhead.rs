//! Per-trial overhead of the study runner: ask + evaluate (a table look-up) + tell + bookkeeping, in memory and with
//! a buffered run log. Run with `cargo bench --bench study_overhead`; results go to BENCHMARKS.md.

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use genius::baselines::RandomSearch;
use genius::core::checked::Check;
use genius::core::{Budget, Evaluator, Flush, Study, StudySettings};
use genius::spaces::data::DataDir;
use genius::spaces::nas_bench_macro;

fn data_dir() -> DataDir {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    DataDir::new(dir)
}

fn study_overhead(c: &mut Criterion) {
    let table = Arc::new(nas_bench_macro::load(&data_dir()).expect("the NAS-Bench-Macro table (set GENIUS_DATA_DIR)"));
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let trials = 1000usize;
    let mut group = c.benchmark_group("study_per_trial");
    group.throughput(Throughput::Elements(trials as u64));
    let study = |seed: u64| {
        let evaluator: Arc<dyn Evaluator> = table.clone();
        Study::new(table.space().clone(), evaluator, Box::new(RandomSearch::default()))
            .seed(seed)
            .budget(Budget::evaluations(trials))
            .settings(
                StudySettings { flush: Flush::Buffered, ..Default::default() }.check().expect("valid runner settings"),
            )
    };
    group.bench_function(BenchmarkId::new("random/nas-bench-macro", "in-memory"), |b| {
        let mut seed = 0;
        b.iter(|| {
            seed += 1;
            runtime.block_on(study(seed).run()).unwrap()
        });
    });
    let tmp = tempfile::tempdir().unwrap();
    let mut seed = 0;
    group.bench_function(BenchmarkId::new("random/nas-bench-macro", "buffered-log"), |b| {
        b.iter(|| {
            seed += 1;
            let dir = tmp.path().join(seed.to_string());
            runtime.block_on(study(seed).run_in(&dir)).unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, study_overhead);
criterion_main!(benches);
