//! The README's main job, `genius compare --config experiments/quickstart.toml`, run whole but for its GENIUS row
//! (the embedded model's minutes of CPU are the local-model phase's, in genius-llm's tests): it writes the summary,
//! the report and the plots, and its random-search row at 10 queries on NAS-Bench-Macro agrees with the exact
//! expectation of the best of 10 uniform draws from the table.

use std::path::PathBuf;

use genius::spaces::data::DataDir;
use genius::spaces::nas_bench_macro;
use genius_cli::compare::CompareArgs;

fn data_path() -> PathBuf {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(dir.join(nas_bench_macro::TABLE.relative).is_file(), "set GENIUS_DATA_DIR to the benchmark tables");
    dir
}

/// E[max of n uniform draws with replacement] = Σ_k v_(k) [(k/N)^n − ((k−1)/N)^n] over the sorted values.
fn expected_best_of(values: &[f64], n: i32) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let big_n = v.len() as f64;
    v.iter().enumerate().map(|(k, x)| x * (((k + 1) as f64 / big_n).powi(n) - (k as f64 / big_n).powi(n))).sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quickstart_reports_every_baseline_and_random_search_meets_its_expectation() {
    let out = tempfile::tempdir().unwrap();
    // The shipped file, less its `[[optimizer]]` table of the genius optimizer.
    let shipped =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("experiments/quickstart.toml")).unwrap();
    let tables: Vec<&str> = shipped.split("\n[[optimizer]]\n").collect();
    let genius_rows = tables.iter().filter(|t| t.starts_with("name = \"genius\"")).count();
    assert_eq!(genius_rows, 1, "the quickstart has a GENIUS row");
    let kept: Vec<&str> = tables.into_iter().filter(|t| !t.starts_with("name = \"genius\"")).collect();
    let plan = tempfile::tempdir().unwrap();
    let config = plan.path().join("quickstart.toml");
    std::fs::write(&config, kept.join("\n[[optimizer]]\n")).unwrap();
    let args = CompareArgs {
        config,
        seeds: None,
        budget: None,
        jobs: None,
        out: Some(out.path().to_owned()),
        data: genius_cli::args::DataArgs { data_dir: Some(data_path()), offline: true, base_url: None },
        quiet: true,
        check: false,
        fail_fast: false,
    };
    let mut printed = Vec::new();
    genius_cli::compare::compare(&args, &mut printed).await.unwrap();

    for file in ["summary.csv", "trials.csv", "report.md", "plots/nas-bench-macro-anytime.svg"] {
        assert!(out.path().join(file).is_file(), "{file} written");
    }
    // At 10 queries evolution, local search and TPE with their published defaults are still drawing uniformly: the
    // report says so beside their comparison with random search.
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    let note = report.lines().find(|l| l.starts_with("Note: within its initial random phase")).expect("the note");
    for o in ["`evolution` at 10 queries", "`local-search` at 10 queries", "`tpe` at 10 queries"] {
        assert!(note.contains(o), "{o} in {note}");
    }
    assert!(!note.contains("`random`") && !note.contains("`reinforce`"), "{note}");
    let summary = std::fs::read_to_string(out.path().join("summary.csv")).unwrap();
    let mut lines = summary.lines();
    let headers: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| headers.iter().position(|h| *h == name).unwrap();
    let (space, optimizer, budget, runs, mean, sem) =
        (column("space"), column("optimizer"), column("budget"), column("runs"), column("mean"), column("sem"));
    // No field of these rows holds a comma or a quote.
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    // 5 optimizers × 2 spaces × 3 budgets, each over the 200 seeds.
    assert_eq!(rows.len(), 30, "{rows:?}");
    assert!(rows.iter().all(|r| r[runs] == "200"));

    let random = rows
        .iter()
        .find(|r| r[space] == "nas-bench-macro" && r[optimizer] == "random" && r[budget] == "10")
        .expect("the random row at 10 queries");
    let (mean, sem): (f64, f64) = (random[mean].parse().unwrap(), random[sem].parse().unwrap());
    let table = nas_bench_macro::load(&DataDir::new(data_path())).unwrap();
    let exact = expected_best_of(&table.column("mean_acc").unwrap(), 10);
    assert!(sem > 0.0 && sem < 0.05, "standard error {sem}");
    assert!((mean - exact).abs() < 3.0 * sem, "random best-of-10 {mean:.4} ± {sem:.4} (s.e.) against exact {exact:.4}");
}
