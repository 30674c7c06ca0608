//! Random search on NAS-Bench-Macro, averaged over 1,000 seeds, against its exact expectation from the table.

use std::path::PathBuf;
use std::sync::Arc;

use genius::baselines::RandomSearch;
use genius::core::{Budget, Evaluator, Study};
use genius::spaces::data::DataDir;
use genius::spaces::nas_bench_macro;

fn data_dir() -> DataDir {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(dir.join(nas_bench_macro::TABLE.relative).is_file(), "set GENIUS_DATA_DIR to the benchmark tables");
    DataDir::new(dir)
}

/// E[max of n uniform draws with replacement] = Σ_k v_(k) [(k/N)^n − ((k−1)/N)^n] over the sorted values.
fn expected_best_of(values: &[f64], n: i32) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let big_n = v.len() as f64;
    v.iter().enumerate().map(|(k, x)| x * (((k + 1) as f64 / big_n).powi(n) - (k as f64 / big_n).powi(n))).sum()
}

#[tokio::test]
async fn best_of_10_over_1000_seeds_matches_the_exact_expectation() {
    let table = Arc::new(nas_bench_macro::load(&data_dir()).unwrap());
    let exact = expected_best_of(&table.column("mean_acc").unwrap(), 10);
    assert!((exact - 92.43).abs() < 0.01, "the data README gives about 92.43, computed {exact}");

    let seeds = 1000;
    let mut bests = Vec::with_capacity(seeds);
    for seed in 0..seeds as u64 {
        let evaluator: Arc<dyn Evaluator> = table.clone();
        let outcome = Study::new(table.space().clone(), evaluator, Box::new(RandomSearch::default()))
            .seed(seed)
            .budget(Budget::evaluations(10))
            .run()
            .await
            .unwrap();
        assert_eq!(outcome.trials.len(), 10);
        bests.push(outcome.best().unwrap().evaluation.as_ref().unwrap().metrics["mean_acc"]);
    }
    let mean = bests.iter().sum::<f64>() / seeds as f64;
    let sd = (bests.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / (seeds - 1) as f64).sqrt();
    assert!((mean - exact).abs() < 0.05, "mean best-of-10 {mean:.4} (sd {sd:.3}) vs exact {exact:.4}");
}
