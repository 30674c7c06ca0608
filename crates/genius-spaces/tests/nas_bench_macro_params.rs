//! The NAS-Bench-Macro network calculator against the table's `params` and `flops` for every architecture.

mod common;

use genius_core::{Architecture, SearchSpace, SpaceExt};
use genius_spaces::cost::Cost;
use genius_spaces::data::DataDir;
use genius_spaces::nas_bench_macro::{self, NasBenchMacro};
use genius_spaces::nas_bench_macro_model as model;

/// The data directory, holding the tables these tests read.
fn data_dir() -> DataDir {
    common::data_dir([nas_bench_macro::TABLE])
}

#[test]
fn params_and_flops_match_the_table_for_every_architecture() {
    let table = nas_bench_macro::load(&data_dir()).unwrap();
    let space = NasBenchMacro::new();
    let mut checked = 0;
    for arch in space.enumerate() {
        let row = table.row(&arch);
        let ours = model::cost(&arch);
        let key = space.format(&arch);
        assert_eq!(Some(ours.params), row.params, "params of {key}");
        assert_eq!(Some(ours.flops), row.flops, "flops of {key}");
        checked += 1;
    }
    assert_eq!(checked, 6561);
}

#[test]
fn the_documented_record_and_extremes_are_reproduced() {
    let space = NasBenchMacro::new();
    let cost = |key: &str| model::cost(&space.parse(key).unwrap());
    // The record quoted in the data README.
    assert_eq!(cost("02012100"), Cost::new(47_327_744, 890_666));
    // The README's ranges: FLOPs 7.7M-105.7M, params 0.39M-2.93M.
    assert_eq!(cost("00000000"), Cost::new(7_713_280, 387_882));
    assert_eq!(cost("22222222"), Cost::new(105_660_928, 2_932_586));
}

#[test]
fn layers_add_up_and_identities_in_place_cost_nothing() {
    let arch = Architecture::new(vec![2, 0, 1, 0, 0, 2, 1, 0]);
    let layers = model::layers(&arch);
    assert_eq!(layers.len(), 10, "stem, 8 searchable layers, head");
    assert_eq!(layers.iter().sum::<Cost>(), model::cost(&arch));
    assert_eq!(layers[2], Cost::ZERO, "an identity at stride 1 is no layer");
    assert_ne!(layers[1], Cost::ZERO);
    assert_eq!(model::layer(0, nas_bench_macro::MacroOp::Identity), Cost::new(2048 * 256, 2048 + 128));
}

#[test]
fn the_brief_describes_the_network_the_calculator_counts() {
    let brief = NasBenchMacro::new().brief().unwrap();
    let layout: Vec<&str> = brief.layout.lines().collect();
    for position in 0..8 {
        let (cin, cout, stride, _) = model::slot(position);
        let line = layout.iter().find(|l| l.starts_with(&format!("layer{}:", position + 2))).unwrap();
        let shape = format!("in_channels={cin}, out_channels={cout}, stride={stride}");
        assert!(line.contains(&shape), "{line} should say {shape}");
    }
    assert!(layout[0].contains("Conv2d(3, 32, kernel_size=3, stride=1)"), "{}", layout[0]);
    assert!(brief.layout.contains("Conv2d(256, 1280, kernel_size=1)"));
    assert!(brief.layout.contains("Linear(1280, 10)"));
}
