//! Benchmark tables: the time to load each table from its JSON file (read, parse, index, rank), and the time of one
//! look-up (an architecture's full evaluation, and its rank alone). Run with `cargo bench --bench table_load`;
//! results go to BENCHMARKS.md.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use genius::core::{Architecture, SearchRng, SpaceExt};
use genius::spaces::catalog;
use genius::spaces::data::DataDir;
use rand::SeedableRng;

fn data_dir() -> DataDir {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    DataDir::new(dir)
}

fn table_load(c: &mut Criterion) {
    let data = data_dir();
    let mut group = c.benchmark_group("table_load");
    group.sample_size(20);
    for entry in catalog::spaces().iter().filter(|e| e.table.is_some()) {
        entry.load_table(&data).expect("tabled").expect("the benchmark tables (set GENIUS_DATA_DIR)");
        group.bench_function(BenchmarkId::from_parameter(entry.name), |b| {
            b.iter(|| entry.load_table(&data).expect("tabled").expect("loads"))
        });
    }
    group.finish();
}

fn table_lookup(c: &mut Criterion) {
    let data = data_dir();
    let mut group = c.benchmark_group("table_lookup");
    for entry in catalog::spaces().iter().filter(|e| e.table.is_some()) {
        let table = entry.load_table(&data).expect("tabled").expect("the benchmark tables (set GENIUS_DATA_DIR)");
        let space = table.space().clone();
        let mut rng = SearchRng::seed_from_u64(0);
        let archs: Vec<Architecture> = (0..1024).map(|_| space.sample(&mut rng)).collect();
        let mut i = 0;
        group.bench_function(BenchmarkId::new("evaluation", entry.name), |b| {
            b.iter(|| {
                i = (i + 1) % archs.len();
                table.lookup(black_box(&archs[i]))
            })
        });
        group.bench_function(BenchmarkId::new("rank", entry.name), |b| {
            b.iter(|| {
                i = (i + 1) % archs.len();
                table.rank(black_box(&archs[i]))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, table_load, table_lookup);
criterion_main!(benches);
