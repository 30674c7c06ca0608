//! `genius compare --config experiments/multi-objective.toml`, run whole: accuracy against FLOPs on NAS-Bench-201
//! (CIFAR-10) and NAS-Bench-Macro, with random search, NSGA-II and MOTPE. Every row has its hypervolume, the report
//! compares NSGA-II's and MOTPE's against random search's, and the plots of fronts and hypervolume are written.

use std::path::PathBuf;

use genius_cli::compare::CompareArgs;

fn data_path() -> PathBuf {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(dir.join("nas-bench-201").is_dir(), "set GENIUS_DATA_DIR to the benchmark tables");
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn the_multi_objective_experiment_reports_hypervolumes_fronts_and_tests() {
    let out = tempfile::tempdir().unwrap();
    let args = CompareArgs {
        config: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("experiments/multi-objective.toml"),
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

    let data = genius_report::report_data(out.path()).unwrap();
    // 2 spaces × 3 optimizers × 3 budgets, each over the 30 seeds, each with its hypervolume.
    assert_eq!(data.rows.len(), 18);
    for row in &data.rows {
        assert_eq!(row.runs, 30, "{row:?}");
        assert_eq!(row.hv_values.len(), 30, "{} {} {}", row.space, row.optimizer, row.budget);
        assert!(row.hv_values.iter().all(|&v| v > 0.0));
        let objectives =
            if row.space == "nas-bench-macro" { "mean_acc:max flops:min" } else { "val_acc_200:max flops:min" };
        assert_eq!(row.objectives, objectives);
        eprintln!(
            "{} {:<7} {:>3} queries: hypervolume {:.6e} ± {:.3e}, front {:.1} (reference {})",
            row.space,
            row.optimizer,
            row.budget,
            row.hv_mean.unwrap(),
            row.hv_std.unwrap(),
            row.front_size.unwrap(),
            row.hv_reference
        );
    }
    // A front never shrinks in hypervolume as queries are added (the same runs, read at larger budgets).
    for space in ["nas-bench-201-cifar10", "nas-bench-macro"] {
        for optimizer in ["random", "nsga2", "motpe"] {
            let at = |b: usize| {
                data.rows.iter().find(|r| r.space == space && r.optimizer == optimizer && r.budget == b).unwrap()
            };
            for (small, large) in [(25, 50), (50, 100)] {
                for (x, y) in at(small).hv_values.iter().zip(&at(large).hv_values) {
                    assert!(y >= x, "{space} {optimizer}: {x} at {small} queries, {y} at {large}");
                }
            }
        }
    }
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(report.contains("Hypervolume against `random`:"), "{report}");
    for file in [
        "plots/nas-bench-201-cifar10-hypervolume.svg",
        "plots/nas-bench-201-cifar10-fronts.svg",
        "plots/nas-bench-macro-fronts.svg",
    ] {
        assert!(out.path().join(file).is_file(), "{file} written");
    }
    let summary = std::fs::read_to_string(out.path().join("summary.csv")).unwrap();
    assert!(summary.lines().next().unwrap().ends_with("objectives,hv_mean,hv_std,front_size,hv_reference"));
}
