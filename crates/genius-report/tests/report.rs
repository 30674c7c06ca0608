//! A small deterministic grid on the toy table, reported from its run directories alone.

use genius_core::checked::Check;
use std::path::Path;
use std::sync::Arc;

use genius_core::testing::{ToySpace, ToyTable, UniformOptimizer};
use genius_core::{Budget, Direction, DuplicatePolicy, Evaluator, Study, StudySettings};
use genius_report::{AblationInfo, GRID_FILE, GridInfo, write_report};

async fn grid(root: &Path) {
    for (label, duplicates) in [("uniform", DuplicatePolicy::Count), ("uniform-free", DuplicatePolicy::Free)] {
        for seed in 0..6 {
            let dir = root.join("runs").join("toy").join(label).join(format!("seed-{seed}"));
            Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
                .seed(seed)
                .budget(Budget::evaluations(12))
                .settings(StudySettings { duplicates, ..Default::default() }.check().expect("valid runner settings"))
                .context(serde_json::json!({ "compare": { "optimizer": label }, "experiment": "toy grid" }))
                .run_in(&dir)
                .await
                .unwrap();
        }
    }
    for (value, budget) in [("small", 4), ("large", 12)] {
        for seed in 0..3 {
            let dir = root.join("runs").join("ablation").join(value).join(format!("seed-{seed}"));
            Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
                .seed(seed)
                .budget(Budget::evaluations(budget))
                .context(serde_json::json!({ "compare": { "optimizer": "uniform",
                    "ablation": { "name": "budget-cap", "setting": "cap", "value": value } }, "experiment": "toy grid" }))
                .run_in(&dir)
                .await
                .unwrap();
        }
    }
    let info = GridInfo {
        name: "toy grid".into(),
        description: String::new(),
        budgets: vec![4, 12],
        spaces: vec!["toy".into()],
        optimizers: vec!["uniform".into(), "uniform-free".into()],
        ablations: vec![AblationInfo {
            name: "budget-cap".into(),
            optimizer: "uniform".into(),
            setting: "cap".into(),
            values: vec!["small".into(), "large".into()],
        }],
        baseline: Some("uniform".into()),
        config: "name = \"toy grid\"".into(),
        machine: "test".into(),
        versions: "test".into(),
        groups: Vec::new(),
        runs: Vec::new(),
        references: Vec::new(),
        random_phases: Default::default(),
    };
    std::fs::write(root.join(GRID_FILE), serde_json::to_vec(&info).unwrap()).unwrap();
}

#[tokio::test]
async fn a_grid_reports_tables_csvs_and_plots_from_its_run_logs() {
    let tmp = tempfile::tempdir().unwrap();
    grid(tmp.path()).await;
    let files = write_report(tmp.path()).unwrap();

    let report = std::fs::read_to_string(&files.report).unwrap();
    insta::assert_snapshot!("toy_report", report);

    let summary = std::fs::read_to_string(&files.summary).unwrap();
    let header = summary.lines().next().unwrap();
    assert!(header.starts_with("space,optimizer,ablation,value,budget,runs,metric,mean,std"), "{header}");
    // 2 optimizers at 2 budgets, the ablation value `large` at both and `small` (run for 4) only at 4.
    assert_eq!(summary.lines().count(), 1 + 2 * 2 + 2 + 1);
    let trials = std::fs::read_to_string(&files.trials).unwrap();
    let recorded: usize = genius_report::runs::find_runs(tmp.path())
        .unwrap()
        .iter()
        .map(|d| genius_core::Recorded::read(d).unwrap().trials.len())
        .sum();
    assert_eq!(trials.lines().count(), 1 + recorded, "a row per trial of every run");
    assert!(recorded > 12 * 12 + 3 * (4 + 12), "free duplicates add uncounted trials");

    let anytime = std::fs::read_to_string(tmp.path().join("plots/toy-anytime.svg")).unwrap();
    let curves = anytime
        .split("<polyline")
        .skip(1)
        .filter(|p| {
            p.split("points=\"").nth(1).is_some_and(|pts| pts.split('"').next().unwrap().split_whitespace().count() > 2)
        })
        .count();
    assert_eq!(curves, 2, "one curve per optimizer");
    let texts: Vec<&str> = anytime.lines().map(str::trim).collect();
    assert!(texts.contains(&"uniform") && texts.contains(&"uniform-free"), "a legend entry per optimizer");
    let png = std::fs::read(tmp.path().join("plots/toy-anytime.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

#[tokio::test]
async fn the_best_is_chosen_by_the_search_metric_and_reported_in_the_held_out_one() {
    let tmp = tempfile::tempdir().unwrap();
    grid(tmp.path()).await;
    let files = write_report(tmp.path()).unwrap();
    for row in files.rows.iter().filter(|r| r.ablation.is_empty()) {
        assert_eq!(row.metric, "test_acc");
    }
    // Every run of the free-duplicates arm spends 12 evaluations on 12 distinct architectures of the 24.
    let runs: Vec<_> = genius_report::runs::find_runs(tmp.path()).unwrap();
    assert_eq!(runs.len(), 12 + 6);
    let run = genius_report::Run::read(&runs[0]).unwrap();
    let inc = genius_report::anytime::incumbents(&run);
    let best = inc.last().unwrap().as_ref().unwrap();
    let trial = &run.trials[best.trial];
    let max_val = run
        .trials
        .iter()
        .filter(|t| t.counted)
        .filter_map(|t| t.evaluation.as_ref().map(|e| e.metrics["val_acc"]))
        .fold(f64::MIN, f64::max);
    assert_eq!(trial.evaluation.as_ref().unwrap().metrics["val_acc"], max_val);
    assert_eq!(best.reported, Some(trial.evaluation.as_ref().unwrap().metrics["test_acc"]));
}

#[test]
fn an_empty_directory_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = write_report(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("holds no run directories"), "{err}");
}

#[tokio::test]
async fn a_single_run_directory_is_reported_on_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    grid(tmp.path()).await;
    let run = tmp.path().join("runs/toy/uniform/seed-0");
    let files = write_report(&run).unwrap();
    assert_eq!(files.report, run.join("report.md"));
    assert!(!files.rows.is_empty() && files.rows.iter().all(|r| r.runs == 1), "{:?}", files.rows);
}

fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[tokio::test]
async fn two_runs_with_the_same_labels_are_an_error_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    grid(tmp.path()).await;
    let original = tmp.path().join("runs/toy/uniform/seed-2");
    let copy = tmp.path().join("runs/copy/seed-2");
    copy_run(&original, &copy);
    let err = write_report(tmp.path()).unwrap_err().to_string();
    assert!(err.contains(&original.display().to_string()) && err.contains(&copy.display().to_string()), "{err}");
    assert!(err.contains("optimizer uniform, seed 2"), "{err}");
}

#[tokio::test]
async fn failed_runs_and_runs_of_no_comparison_are_left_out_and_listed() {
    let tmp = tempfile::tempdir().unwrap();
    grid(tmp.path()).await;
    // A plain search (no comparison recorded) left in the grid's directory.
    Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
        .seed(40)
        .budget(Budget::evaluations(12))
        .context(serde_json::json!({ "compare": { "optimizer": "uniform" } }))
        .run_in(&tmp.path().join("stray/seed-40"))
        .await
        .unwrap();
    let failed = genius_report::FailedRun {
        dir: "runs/toy/uniform/seed-5".into(),
        space: "toy".into(),
        label: genius_report::RunLabel { optimizer: "uniform".into(), ablation: None },
        seed: 5,
        reason: "optimizer `genius` failed: cannot connect".into(),
    };
    std::fs::write(tmp.path().join(genius_report::FAILURES_FILE), serde_json::to_vec(&[failed]).unwrap()).unwrap();
    let files = write_report(tmp.path()).unwrap();
    let uniform: Vec<_> = files.rows.iter().filter(|r| r.optimizer == "uniform" && r.ablation.is_empty()).collect();
    assert!(!uniform.is_empty() && uniform.iter().all(|r| r.runs == 5), "seeds 0-4 only: {uniform:?}");
    let report = std::fs::read_to_string(&files.report).unwrap();
    let failed = report.split("## Failed runs").nth(1).expect("a Failed runs section");
    assert!(
        failed.contains("`runs/toy/uniform/seed-5` | toy | uniform | 5 | optimizer `genius` failed: cannot connect")
    );
    let left = report.split("## Runs left out").nth(1).expect("a Runs left out section");
    assert!(left.contains("`stray/seed-40`"), "{left}");
}

#[tokio::test]
async fn a_run_read_one_trial_at_a_time_gives_the_incumbent_and_usage_of_the_run_read_whole() {
    let tmp = tempfile::tempdir().unwrap();
    grid(tmp.path()).await;
    for dir in genius_report::runs::find_runs(tmp.path()).unwrap() {
        let run = genius_report::Run::read(&dir).unwrap();
        let incumbents = genius_report::anytime::incumbents(&run);
        let budgets: Vec<usize> = (1..=run.evaluations() + 2).collect();
        let mut seen = 0;
        let streamed = genius_report::RunDigest::scan(&dir, &budgets, |_, _| {
            seen += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, run.trials.len(), "every trial goes by once");
        let whole = genius_report::RunDigest::of(&run, &budgets);
        assert_eq!(streamed.evaluations, run.evaluations());
        for &b in &budgets {
            let expected = genius_report::anytime::at_budget(&incumbents, b);
            let key = |i: Option<&genius_report::anytime::Incumbent>| i.map(|i| (i.trial, i.reported, i.search));
            assert_eq!(key(streamed.incumbent_at(b)), key(expected), "{} at {b}", dir.display());
            assert_eq!(key(whole.incumbent_at(b)), key(expected), "{} at {b}", dir.display());
            let ask = if b >= incumbents.len() { u64::MAX } else { expected.map_or(u64::MAX, |i| i.ask) };
            if expected.is_some() {
                assert_eq!(streamed.usage_at(b), Some(run.usage_through(ask)));
            }
        }
    }
}

#[tokio::test]
async fn trials_parquet_holds_every_trial_with_architectures_as_strings() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let tmp = tempfile::tempdir().unwrap();
    grid(tmp.path()).await;
    let files = write_report(tmp.path()).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&files.trials_parquet).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut rows = 0;
    let mut archs = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        let arch = batch.column_by_name("arch").unwrap();
        assert_eq!(arch.data_type(), &arrow_schema::DataType::Utf8);
        let arch = arch.as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
        archs.extend(arch.iter().map(|a| a.unwrap().to_owned()));
    }
    let mut csv = csv::Reader::from_path(&files.trials).unwrap();
    let from_csv: Vec<String> = csv.records().map(|r| r.unwrap()[7].to_owned()).collect();
    assert_eq!(rows, from_csv.len(), "the same rows as trials.csv");
    assert_eq!(archs, from_csv, "the same architectures, in the same order");
}

/// A two-objective grid (toy `val_acc:max`, `params:min`): two optimizer labels, five seeds each.
async fn multi_objective_grid(root: &Path) {
    let goals =
        [genius_core::Goal::new("val_acc", Direction::Maximize), genius_core::Goal::new("params", Direction::Minimize)];
    let objective = genius_core::Objective::goals(ToyTable::new().metrics(), goals).unwrap();
    for (label, duplicates) in [("uniform", DuplicatePolicy::Count), ("uniform-free", DuplicatePolicy::Free)] {
        for seed in 0..5 {
            let dir = root.join("runs").join("toy").join(label).join(format!("seed-{seed}"));
            Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
                .seed(seed)
                .objective(objective.clone())
                .budget(Budget::evaluations(12))
                .settings(StudySettings { duplicates, ..Default::default() }.check().expect("valid runner settings"))
                .context(serde_json::json!({ "compare": { "optimizer": label }, "experiment": "mo grid" }))
                .run_in(&dir)
                .await
                .unwrap();
        }
    }
    let info = GridInfo {
        name: "mo grid".into(),
        budgets: vec![4, 12],
        spaces: vec!["toy".into()],
        optimizers: vec!["uniform".into(), "uniform-free".into()],
        baseline: Some("uniform".into()),
        ..GridInfo::default()
    };
    std::fs::write(root.join(GRID_FILE), serde_json::to_vec(&info).unwrap()).unwrap();
}

#[tokio::test]
async fn a_multi_objective_grid_reports_hypervolumes_equal_to_brute_force_fronts_plots_and_tests() {
    let tmp = tempfile::tempdir().unwrap();
    multi_objective_grid(tmp.path()).await;
    let files = write_report(tmp.path()).unwrap();
    let mo: Vec<&genius_report::SummaryRow> = files.rows.iter().filter(|r| r.hv_mean.is_some()).collect();
    assert_eq!(mo.len(), 4, "two labels at two budgets");
    // One reference point for the space, in the objectives' own units.
    let reference_text = &mo[0].hv_reference;
    assert!(mo.iter().all(|r| &r.hv_reference == reference_text && r.objectives == "val_acc:max params:min"));
    let reference: Vec<f64> = reference_text
        .split(';')
        .zip([Direction::Maximize, Direction::Minimize])
        .map(|(kv, d)| d.oriented(kv.split_once('=').unwrap().1.parse::<f64>().unwrap()))
        .collect();
    // Every run's hypervolume at every budget is that of its first `budget` evaluations' front, found by brute force
    // from the whole log (the report streamed it through its digest).
    let objective = genius_core::Recorded::header(&tmp.path().join("runs/toy/uniform/seed-0")).unwrap().objective;
    for row in &mo {
        let mut expected = Vec::new();
        for seed in 0..5 {
            let dir = tmp.path().join("runs/toy").join(&row.optimizer).join(format!("seed-{seed}"));
            let recorded = genius_core::Recorded::read(&dir).unwrap();
            let mut counted = 0;
            let mut points: Vec<Vec<f64>> = Vec::new();
            for t in &recorded.trials {
                if t.counted {
                    counted += 1;
                }
                if counted > row.budget {
                    break;
                }
                if let Some(p) = t.evaluation.as_ref().and_then(|e| objective.scores(e)) {
                    assert!(p.iter().zip(&reference).all(|(x, r)| x > r), "the reference is below every point");
                    points.push(p);
                }
            }
            let front: Vec<Vec<f64>> =
                genius_core::pareto::non_dominated(&points).into_iter().map(|i| points[i].clone()).collect();
            expected.push(genius_core::pareto::hypervolume(&front, &reference).unwrap());
        }
        assert_eq!(row.hv_values.len(), 5);
        for (got, want) in row.hv_values.iter().zip(&expected) {
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{} at {}: {got} vs {want}",
                row.optimizer,
                row.budget
            );
        }
    }
    let summary = std::fs::read_to_string(&files.summary).unwrap();
    let header = summary.lines().next().unwrap();
    assert!(header.ends_with("objectives,hv_mean,hv_std,front_size,hv_reference"), "{header}");
    let report = std::fs::read_to_string(&files.report).unwrap();
    assert!(report.contains("Multi-objective (val_acc:max params:min): hypervolume"), "{report}");
    assert!(report.contains("Hypervolume against `uniform`:"), "{report}");
    for stem in ["toy-hypervolume", "toy-fronts"] {
        assert!(files.plots.iter().any(|p| p.ends_with(format!("{stem}.svg"))), "{stem}");
        assert!(report.contains(&format!("plots/{stem}.svg")), "{report}");
    }
    // Each point of a run's front carries its held-out reported metric (shown, never searched).
    let data = genius_report::report_data(tmp.path()).unwrap();
    for run in &data.runs {
        assert!(!run.front.is_empty());
        assert!(run.front.iter().all(|p| p.reported.is_some()));
    }
    // Pooled over seeds: attainment.csv holds each label's 50% attainment front of its five runs' final fronts (3 of
    // 5), the points that at least three fronts reach and no other such point beats, checked by brute force.
    assert!(report.contains("`attainment.csv`"), "{report}");
    let mut csv = csv::Reader::from_path(files.attainment.as_ref().expect("attainment.csv is written")).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    for label in ["uniform", "uniform-free"] {
        let fronts: Vec<Vec<(f64, f64)>> = data
            .runs
            .iter()
            .filter(|r| r.meta.label.optimizer == label)
            .map(|r| r.front.iter().map(|p| (p.scores[0], p.scores[1])).collect())
            .collect();
        assert_eq!(fronts.len(), 5, "{label}");
        let reached = |z: (f64, f64)| fronts.iter().filter(|f| f.iter().any(|p| p.0 >= z.0 && p.1 >= z.1)).count();
        let corners: Vec<(f64, f64)> = fronts
            .iter()
            .flatten()
            .flat_map(|a| fronts.iter().flatten().map(move |b| (a.0, b.1)))
            .filter(|&z| reached(z) >= 3)
            .collect();
        let mut want: Vec<(f64, f64)> =
            corners.iter().copied().filter(|p| !corners.iter().any(|q| q != p && q.0 >= p.0 && q.1 >= p.1)).collect();
        want.sort_by(|a, b| a.0.total_cmp(&b.0));
        want.dedup();
        // In the csv: the objectives' own units (params minimized, so its oriented value is negated).
        let mut got: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| &r[1] == label)
            .map(|r| (r[6].parse::<f64>().unwrap(), -r[8].parse::<f64>().unwrap()))
            .collect();
        got.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(!want.is_empty(), "{label}");
        assert_eq!(got, want, "{label}");
        assert!(rows.iter().filter(|r| &r[1] == label).all(|r| &r[2] == "0.5" && &r[3] == "3" && &r[4] == "5"));
    }
}
