//! NAS-Bench-Macro: the space, the table, and every way a table file can be wrong.

mod common;

use genius_core::{Architecture, Evaluator, SearchSpace, SpaceExt};
use genius_spaces::data::DataDir;
use genius_spaces::nas_bench_macro::{self, MacroOp, NasBenchMacro};
use genius_spaces::table::{TIE_TOLERANCE, TableError};

/// The data directory, holding the tables these tests read.
fn data_dir() -> DataDir {
    common::data_dir([nas_bench_macro::TABLE])
}

#[test]
fn every_architecture_round_trips_through_its_text_form() {
    let space = NasBenchMacro::new();
    assert_eq!(space.cardinality(), 6561);
    let mut n = 0;
    for arch in space.enumerate() {
        let text = space.format(&arch);
        assert_eq!(text.len(), 8);
        assert_eq!(space.parse(&text).unwrap(), arch);
        n += 1;
    }
    assert_eq!(n, 6561);
    let listed = space.parse("[0, 2, 0, 1, 2, 1, 0, 0]").unwrap();
    assert_eq!(space.format(&listed), "02012100");
    let named = space.parse("identity mb_e6_k5 identity mb_e3_k3 mb_e6_k5 mb_e3_k3 identity identity").unwrap();
    assert_eq!(named, listed);
    assert_eq!(NasBenchMacro::ops(&listed)[1], MacroOp::MbE6K5);
}

#[test]
fn bad_text_names_the_problem_and_the_format() {
    let space = NasBenchMacro::new();
    let e = space.parse("0201210").unwrap_err().to_string();
    assert!(e.contains("expected 8 choices, found 7") && e.contains("write 8 digits 0-2"), "{e}");
    let e = space.parse("02012103").unwrap_err().to_string();
    assert!(e.contains("choice 3 of dimension 7 (layer 9) is out of range 0..3"), "{e}");
}

#[test]
fn the_table_matches_the_published_statistics() {
    let table = nas_bench_macro::load(&data_dir()).unwrap();
    let acc = table.column("mean_acc").unwrap();
    assert_eq!(acc.len(), 6561);
    let max = acc.iter().cloned().fold(f64::MIN, f64::max);
    let min = acc.iter().cloned().fold(f64::MAX, f64::min);
    assert!((max - 93.1267).abs() < 1e-3, "max {max}");
    assert!((min - 45.36).abs() < 1e-2, "min {min}");
    assert_eq!(acc.iter().filter(|&&a| a > 93.0).count(), 12);
    assert_eq!(acc.iter().filter(|&&a| a >= 92.5).count(), 399);
    let mean = acc.iter().sum::<f64>() / acc.len() as f64;
    assert!((mean - 90.25).abs() < 0.01, "mean {mean}");

    let space = table.space().clone();
    let best = table.optimum().unwrap();
    assert!(["22212220", "22212202"].contains(&space.format(&best.arch).as_str()));
    for key in ["22212220", "22212202"] {
        let arch = space.parse(key).unwrap();
        assert_eq!(table.rank(&arch).rank, 1, "{key} ties for the best");
    }
    let worst = table.lookup(&space.parse("00000000").unwrap());
    assert_eq!(worst.rank.unwrap().rank, 6561);
    let e = table.lookup(&space.parse("02012100").unwrap());
    assert!((e.metrics["mean_acc"] - 89.1967).abs() < 1e-3);
    assert_eq!((e.params, e.flops), (Some(890_666), Some(47_327_744)));
}

#[test]
fn ties_share_the_better_rank() {
    let table = nas_bench_macro::load(&data_dir()).unwrap();
    let acc = table.column("mean_acc").unwrap();
    let space = table.space().clone();
    for (i, arch) in space.enumerate().enumerate().step_by(97) {
        // Equal accuracies stored as floats a few 1e-6 apart are one tie group (see TIE_TOLERANCE).
        let better = acc.iter().filter(|&&a| a > acc[i] + TIE_TOLERANCE).count() as u64;
        assert_eq!(table.rank(&arch).rank, better + 1, "{}", space.format(&arch));
    }
}

#[tokio::test]
async fn the_evaluator_answers_with_metrics_rank_and_model_facts() {
    let table = nas_bench_macro::load(&data_dir()).unwrap();
    let arch = table.space().parse("22212220").unwrap();
    let e = table.evaluate(&arch).await.unwrap();
    assert_eq!(e.rank.unwrap().rank, 1);
    assert_eq!(e.rank.unwrap().of, 6561);
    assert!(e.details.unwrap()["test_acc"].as_array().unwrap().len() == 3);
    let bad = Architecture::new(vec![0; 7]);
    assert!(table.evaluate(&bad).await.is_err());
}

fn write_table(contents: &[u8]) -> (tempfile::TempDir, DataDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(nas_bench_macro::TABLE.relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
    let data = DataDir::new(dir.path());
    (dir, data)
}

#[test]
fn a_missing_table_says_where_it_was_looked_for_and_where_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = nas_bench_macro::load(&DataDir::new(dir.path())).unwrap_err();
    assert!(matches!(err, TableError::Missing { .. }));
    let msg = err.to_string();
    assert!(msg.contains("nas-bench-macro_cifar10.json") && msg.contains("github.com/xiusu/NAS-Bench-Macro"), "{msg}");
    assert!(msg.contains("GENIUS_DATA_DIR"), "{msg}");
}

#[test]
fn a_truncated_table_is_malformed_not_a_partial_load() {
    let real = std::fs::read(data_dir().file(nas_bench_macro::TABLE.relative)).unwrap();
    let (_dir, data) = write_table(&real[..real.len() / 2]);
    let err = nas_bench_macro::load(&data).unwrap_err();
    assert!(matches!(err, TableError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("truncated or malformed"), "{err}");
}

#[test]
fn wrong_contents_are_schema_errors_naming_the_problem() {
    let record = r#"{"test_acc": [90.0], "mean_acc": 90.0, "std": 0.0, "params": 1, "flops": 1}"#;
    let (_d, data) = write_table(format!(r#"{{"0201": {record}}}"#).as_bytes());
    let err = nas_bench_macro::load(&data).unwrap_err().to_string();
    assert!(err.contains("key `0201` is not 8 digits 0-2"), "{err}");

    let (_d, data) = write_table(format!(r#"{{"02012100": {record}}}"#).as_bytes());
    let err = nas_bench_macro::load(&data).unwrap_err().to_string();
    assert!(err.contains("6560 of the 6561 architectures have no record"), "{err}");

    let (_d, data) = write_table(br#"{"02012100": {"test_acc": [90.0], "std": 0.0}}"#);
    let err = nas_bench_macro::load(&data).unwrap_err().to_string();
    assert!(err.contains("missing field `mean_acc`"), "{err}");

    let (_d, data) = write_table(b"[1, 2, 3]");
    let err = nas_bench_macro::load(&data).unwrap_err();
    assert!(matches!(err, TableError::Schema { .. }), "{err}");
}
