//! One conformance suite, run for every space of the catalog (spaces added later are covered without touching this
//! file, except to document a new table's statistics): genius-core's space suite (text forms, brief, mutation and
//! neighbours, enumeration, uniform sampling), the brief's example in its elided form, and every table matching the
//! statistics documented in `../shared/data/README.md`.

mod common;

use std::collections::HashSet;

use genius_core::testing::conformance;
use genius_core::{Architecture, Evaluator, SearchRng, SpaceExt};
use genius_spaces::catalog;
use genius_spaces::data::DataDir;
use rand::SeedableRng;

/// The data directory, holding the tables these tests read.
fn data_dir() -> DataDir {
    common::data_dir(catalog::files())
}

#[test]
fn the_catalog_names_are_unique_and_every_space_is_nonempty() {
    let mut names = HashSet::new();
    for entry in catalog::spaces() {
        assert!(names.insert(entry.name), "{} is listed twice", entry.name);
        let space = entry.space();
        assert_eq!(space.name(), entry.name, "the space calls itself by its catalog name");
        assert!(!space.dimensions().is_empty() && space.dimensions().iter().all(|d| !d.is_empty()), "{}", entry.name);
        assert!(catalog::find(entry.name).is_some());
    }
    assert!(names.len() >= 6, "NAS-Bench-Macro, 2 Channel-Bench-Macro, 3 NAS-Bench-201, and later spaces");
}

#[test]
fn every_space_passes_genius_core_s_space_suite() {
    for entry in catalog::spaces() {
        conformance::space(&*entry.space());
    }
}

#[test]
fn every_space_has_a_brief_whose_example_is_the_elided_form() {
    for entry in catalog::spaces() {
        let space = entry.space();
        let brief = space.brief().unwrap_or_else(|| panic!("{} has no brief for the LLM optimizer", entry.name));
        // The example shows the form of an answer; a whole architecture there would hand the model a point of the
        // space (it used to be the table's optimum for three spaces).
        assert_eq!(brief.example, genius_core::elided_example(&*space, brief.notation), "{}", entry.name);
    }
}

#[test]
fn a_large_space_enumerates_in_order_to_its_last_architecture() {
    for entry in catalog::spaces() {
        let space = entry.space();
        let last = space.arch_at(space.cardinality() - 1);
        let dims = space.dimensions();
        assert!(last.choices().iter().zip(dims).all(|(&c, d)| usize::from(c) == d.len() - 1), "{}", entry.name);
        assert_eq!(space.enumerate().take(3).count(), 3);
    }
}

/// What `../shared/data/README.md` documents for a table: its report metric's maximum, minimum (where given), mean
/// and median, the optimum's architecture (any text form), and the search metric's maximum where it differs.
struct Documented {
    max: f64,
    min: Option<f64>,
    mean: f64,
    median: f64,
    optimum: &'static [&'static str],
    search_max: Option<f64>,
}

fn documented(name: &str) -> Option<Documented> {
    let d = |max, min, mean, median, optimum, search_max| Documented { max, min, mean, median, optimum, search_max };
    Some(match name {
        "nas-bench-macro" => d(93.1267, Some(45.36), 90.25, 90.99, &["22212220", "22212202"], None),
        "channel-bench-macro-resnet" => d(93.8933, Some(91.57), 93.10, 93.14, &["4344424"], None),
        "channel-bench-macro-mobilenet" => d(91.8867, Some(89.17), 90.82, 90.85, &["4444342"], None),
        "nas-bench-201-cifar10" => d(94.3733, Some(10.0), 87.06, 90.73, &["333123"], Some(91.6067)),
        "nas-bench-201-cifar100" => d(73.5133, None, 61.39, 65.27, &["333133"], Some(73.4933)),
        "nas-bench-201-imagenet16-120" => d(47.3111, None, 33.57, 36.37, &["223133"], Some(46.7333)),
        _ => return None,
    })
}

#[test]
fn every_table_matches_its_documented_statistics() {
    let data = data_dir();
    let mut checked = 0;
    for entry in catalog::spaces() {
        let Some(result) = entry.load_table(&data) else { continue };
        let table = result.unwrap_or_else(|e| panic!("{e}"));
        let doc = documented(entry.name)
            .unwrap_or_else(|| panic!("{} has a table: document its statistics in this test", entry.name));
        let space = table.space().clone();
        assert_eq!(space.name(), entry.name);
        assert_eq!(table.rows().len() as u128, space.cardinality(), "{}: one row per architecture", entry.name);
        let spec = table.metrics().clone();
        spec.check().unwrap();
        let mut report = table.column(&spec.report).unwrap();
        let max = report.iter().cloned().fold(f64::MIN, f64::max);
        let mean = report.iter().sum::<f64>() / report.len() as f64;
        report.sort_by(f64::total_cmp);
        let n = report.len();
        let median = if n % 2 == 1 { report[n / 2] } else { (report[n / 2 - 1] + report[n / 2]) / 2.0 };
        assert!((max - doc.max).abs() < 1e-3, "{}: max {max}", entry.name);
        assert!((mean - doc.mean).abs() < 0.01, "{}: mean {mean}", entry.name);
        assert!((median - doc.median).abs() < 0.01, "{}: median {median}", entry.name);
        if let Some(min) = doc.min {
            assert!((report[0] - min).abs() < 0.01, "{}: min {}", entry.name, report[0]);
        }
        if let Some(search_max) = doc.search_max {
            let top = table.column(&spec.search).unwrap().into_iter().fold(f64::MIN, f64::max);
            assert!((top - search_max).abs() < 1e-3, "{}: max {} {top}", entry.name, spec.search);
        }
        let optimum = table.optimum().unwrap();
        assert!((optimum.value - max).abs() < 1e-12);
        let best: Vec<Architecture> = doc.optimum.iter().map(|t| space.parse(t).unwrap()).collect();
        assert!(best.contains(&optimum.arch), "{}: optimum {}", entry.name, space.format(&optimum.arch));
        for arch in &best {
            assert_eq!(table.rank(arch).rank, 1, "{}: {} ties for the best", entry.name, space.format(arch));
        }
        let worst = table.rows().len() as u64;
        assert!(space.enumerate().all(|a| (1..=worst).contains(&table.rank(&a).rank)));
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn every_cost_calculator_agrees_with_its_table() {
    let data = data_dir();
    let mut checked = 0;
    for entry in catalog::spaces() {
        let space = entry.space();
        let mut rng = SearchRng::seed_from_u64(6);
        let Some(probe) = entry.cost(&space.sample(&mut rng)) else { continue };
        assert!(probe.0 > 0 && probe.1 > 0, "{}: a network has parameters and FLOPs", entry.name);
        let Some(table) = entry.load_table(&data) else { continue };
        let table = table.unwrap();
        for (arch, row) in space.enumerate().zip(table.rows()) {
            let (params, flops) = entry.cost(&arch).unwrap();
            if let Some(p) = row.params {
                assert_eq!(params, p, "{} {}: params", entry.name, space.format(&arch));
            }
            if let Some(f) = row.flops {
                assert_eq!(flops, f, "{} {}: FLOPs", entry.name, space.format(&arch));
            }
        }
        checked += 1;
    }
    assert!(checked >= 3, "NAS-Bench-Macro and both Channel-Bench-Macro networks have calculators and tables");
}
