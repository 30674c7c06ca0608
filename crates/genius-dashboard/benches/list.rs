//! Listing a large tree of runs: 15,000 run directories (a grid of 5 optimizers × 3,000 seeds, 20 trials each) on
//! the toy table. `cold` is a fresh dashboard reading every run; `warm` a dashboard that listed them before (what a
//! browser's refresh costs: a stat per run, nothing re-read); `warm, one page filtered` the same with a filter.

use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use genius_core::testing::{ToySpace, ToyTable, UniformOptimizer};
use genius_core::{Budget, SearchSpace, SpaceExt, Study, Trial, TrialStatus};
use genius_dashboard::{Dashboard, ListQuery};

const RUNS: usize = 15_000;
const TRIALS: usize = 20;

fn tree(root: &Path) {
    let space = ToySpace::new();
    let archs: Vec<_> = space.enumerate().collect();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let table = ToyTable::new();
    let evaluations: Vec<_> =
        archs.iter().map(|a| rt.block_on(genius_core::Evaluator::evaluate(&table, a)).ok()).collect();
    for r in 0..RUNS {
        let label = format!("opt-{}", r % 5);
        let seed = (r / 5) as u64;
        let study = Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
            .seed(seed)
            .budget(Budget::evaluations(TRIALS))
            .context(serde_json::json!({ "compare": { "optimizer": label } }));
        let mut text = serde_json::to_string(&study.header()).unwrap();
        text.push('\n');
        for i in 0..TRIALS {
            let k = (r * 7 + i * 5) % archs.len();
            let trial = Trial {
                index: i,
                ask: i as u64 + 1,
                arch: archs[k].clone(),
                text: space.format(&archs[k]),
                status: if evaluations[k].is_some() {
                    TrialStatus::Complete
                } else {
                    TrialStatus::Failed { reason: "toy failure".into() }
                },
                counted: true,
                evaluation: evaluations[k].clone(),
                started_at: "2026-01-01T00:00:00Z".into(),
                duration_s: 0.0,
                elapsed_s: i as f64,
            };
            text.push_str(&serde_json::to_string(&trial).unwrap());
            text.push('\n');
        }
        let dir = root.join("grid").join(&label).join(format!("seed-{seed}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("trials.jsonl"), text).unwrap();
    }
}

fn list(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    let mut group = c.benchmark_group("dashboard_list_15000_runs");
    group.sample_size(10);
    group.bench_function("cold", |b| {
        b.iter(|| {
            let d = Dashboard::new(tmp.path()).unwrap();
            let listing = d.list(&ListQuery::default());
            assert_eq!(listing["total"], RUNS);
        })
    });
    let warm = Dashboard::new(tmp.path()).unwrap();
    warm.list(&ListQuery::default());
    group.bench_function("warm", |b| b.iter(|| warm.list(&ListQuery::default())));
    let filtered = ListQuery { optimizer: Some("opt-3".into()), page: Some(7), ..Default::default() };
    group.bench_function("warm, one page filtered", |b| b.iter(|| warm.list(&filtered)));
    group.finish();
}

criterion_group!(benches, list);
criterion_main!(benches);
