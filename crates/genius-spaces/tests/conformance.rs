//! One conformance suite, run for every space of the catalog (spaces added later are covered without touching this
//! file, except to document a new table's statistics): text forms round-trip, the brief's notation parses back,
//! mutation and neighbours stay in the space and change exactly one dimension, enumeration matches cardinality,
//! sampling is uniform (chi-square, fixed seed), and every table matches the statistics documented in
//! `../shared/data/README.md`.

use std::collections::HashSet;
use std::path::PathBuf;

use genius_core::{Architecture, Evaluator, SearchRng, SearchSpace, SpaceExt};
use genius_spaces::catalog;
use genius_spaces::data::DataDir;
use rand::SeedableRng;

/// `GENIUS_DATA_DIR`, else the shared data beside the repository.
fn data_dir() -> DataDir {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    for file in catalog::files() {
        assert!(
            dir.join(file.relative).is_file(),
            "these tests need the benchmark tables: set GENIUS_DATA_DIR to a directory holding {}",
            file.relative
        );
    }
    DataDir::new(dir)
}

/// Spaces up to this size are checked architecture by architecture; larger ones on samples.
const EXHAUSTIVE: u128 = 20_000;

/// The architectures to check one by one: all of a small space, a seeded sample of a large one.
fn architectures(space: &dyn SearchSpace, seed: u64) -> Vec<Architecture> {
    if space.cardinality() <= EXHAUSTIVE {
        space.enumerate().collect()
    } else {
        let mut rng = SearchRng::seed_from_u64(seed);
        (0..5_000).map(|_| space.sample(&mut rng)).collect()
    }
}

fn differing(a: &Architecture, b: &Architecture) -> usize {
    a.choices().iter().zip(b.choices()).filter(|(x, y)| x != y).count()
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
fn every_text_form_round_trips() {
    for entry in catalog::spaces() {
        let space = entry.space();
        let archs = architectures(&*space, 1);
        for arch in &archs {
            let text = space.format(arch);
            let back =
                space.parse(&text).unwrap_or_else(|e| panic!("{}: `{text}` does not parse back: {e}", entry.name));
            assert_eq!(&back, arch, "{}: `{text}`", entry.name);
        }
        // Parsing is total over text: garbage is an error naming the space, never a panic.
        for junk in ["", "[]", "x", "[0, 0]", "9999999999999999999999", "|~|+|", "🙂"] {
            let e = space.parse(junk).expect_err(junk).to_string();
            assert!(e.contains(entry.name), "{}: {e}", entry.name);
        }
    }
}

#[test]
fn the_brief_s_notation_parses_back_and_its_example_names_no_architecture() {
    for entry in catalog::spaces() {
        let space = entry.space();
        let brief = space.brief().unwrap_or_else(|| panic!("{} has no brief for the LLM optimizer", entry.name));
        assert!(!brief.layout.is_empty() && !brief.operations.is_empty() && !brief.answer_format.is_empty());
        // The example shows the form of an answer; a whole architecture there would hand the model a point of the
        // space (it used to be the table's optimum for three spaces).
        assert_eq!(brief.example, genius_core::elided_example(&*space, brief.notation), "{}", entry.name);
        assert!(space.parse(&brief.example).is_err(), "{}: the example reads as an architecture", entry.name);
        let mut rng = SearchRng::seed_from_u64(2);
        for _ in 0..500 {
            let arch = space.sample(&mut rng);
            let written = brief.notation.write(&*space, &arch);
            assert_eq!(space.parse(&written).unwrap(), arch, "{}: `{written}`", entry.name);
        }
    }
}

#[test]
fn mutation_and_neighbours_stay_in_the_space_and_change_one_dimension() {
    for entry in catalog::spaces() {
        let space = entry.space();
        let mut rng = SearchRng::seed_from_u64(3);
        let expected: usize = space.dimensions().iter().map(|d| d.len() - 1).sum();
        for i in 0..2_000 {
            let arch = space.sample(&mut rng);
            let child = space.mutate(&arch, &mut rng);
            space.validate(&child).unwrap();
            assert_eq!(differing(&arch, &child), 1, "{}", entry.name);
            if i % 10 == 0 {
                let neighbours = space.neighbours(&arch);
                assert_eq!(neighbours.len(), expected, "{}", entry.name);
                assert_eq!(neighbours.iter().collect::<HashSet<_>>().len(), expected, "{}: distinct", entry.name);
                for n in &neighbours {
                    space.validate(n).unwrap();
                    assert_eq!(differing(&arch, n), 1, "{}", entry.name);
                }
            }
        }
    }
}

#[test]
fn enumeration_matches_cardinality_and_indexing() {
    for entry in catalog::spaces() {
        let space = entry.space();
        let cardinality = space.cardinality();
        let product = space.dimensions().iter().try_fold(1u128, |acc, d| acc.checked_mul(d.len() as u128));
        assert_eq!(Some(cardinality), product, "{}", entry.name);
        if cardinality <= EXHAUSTIVE {
            let all: Vec<Architecture> = space.enumerate().collect();
            assert_eq!(all.len() as u128, cardinality, "{}", entry.name);
            assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len(), "{}: distinct", entry.name);
            for (i, arch) in all.iter().enumerate() {
                assert_eq!(space.index_of(arch), i as u128);
            }
        } else {
            let last = space.arch_at(cardinality - 1);
            assert!(last.choices().iter().zip(space.dimensions()).all(|(&c, d)| usize::from(c) == d.len() - 1));
            assert_eq!(space.enumerate().take(3).count(), 3);
        }
        let mut rng = SearchRng::seed_from_u64(4);
        for _ in 0..1_000 {
            let arch = space.sample(&mut rng);
            let index = space.index_of(&arch);
            assert!(index < cardinality);
            assert_eq!(space.arch_at(index), arch, "{}", entry.name);
        }
    }
}

/// The chi-square critical value for `df` degrees of freedom at p = 0.001 (Wilson–Hilferty approximation, within a
/// few percent of the exact value for every df ≥ 1, on the generous side for small df).
fn chi_square_critical(df: usize) -> f64 {
    let df = df as f64;
    let z = 3.0902; // the 0.999 quantile of the standard normal
    let t = 2.0 / (9.0 * df);
    (df * (1.0 - t + z * t.sqrt()).powi(3)).max(10.83)
}

fn chi_square(observed: &[u64], expected: &[f64]) -> f64 {
    observed.iter().zip(expected).map(|(&o, &e)| (o as f64 - e).powi(2) / e).sum()
}

#[test]
fn sampling_is_uniform() {
    const N: u64 = 30_000;
    const BINS: u128 = 64;
    for entry in catalog::spaces() {
        let space = entry.space();
        let dims = space.dimensions();
        let cardinality = space.cardinality();
        let mut rng = SearchRng::seed_from_u64(5);
        let mut marginal: Vec<Vec<u64>> = dims.iter().map(|d| vec![0; d.len()]).collect();
        let mut joint = vec![0u64; BINS as usize];
        for _ in 0..N {
            let arch = space.sample(&mut rng);
            for (counts, &c) in marginal.iter_mut().zip(arch.choices()) {
                counts[usize::from(c)] += 1;
            }
            joint[(space.index_of(&arch) * BINS / cardinality) as usize] += 1;
        }
        for (d, counts) in dims.iter().zip(&marginal) {
            let expected = vec![N as f64 / d.len() as f64; d.len()];
            let stat = chi_square(counts, &expected);
            assert!(
                stat < chi_square_critical(d.len() - 1),
                "{} {}: chi-square {stat:.1} {counts:?}",
                entry.name,
                d.name
            );
        }
        // Whole architectures: the enumeration index in 64 bins of (nearly) equal size.
        let start = |b: u128| (b * cardinality).div_ceil(BINS);
        let expected: Vec<f64> =
            (0..BINS).map(|b| (start(b + 1) - start(b)) as f64 / cardinality as f64 * N as f64).collect();
        let stat = chi_square(&joint, &expected);
        assert!(stat < chi_square_critical(BINS as usize - 1), "{}: joint chi-square {stat:.1}", entry.name);
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
