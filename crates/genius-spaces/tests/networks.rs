//! Every space's network description (`SearchSpace::network`) against the space's own calculators and tables: the
//! network a trainer builds is the network the benchmark counted.

mod common;

use genius_core::network::{Layer, Network};
use genius_core::{SearchRng, SearchSpace, SpaceExt};
use genius_spaces::channel_bench_macro::{self, BaseModel, ChannelBenchMacro};
use genius_spaces::data::DataDir;
use genius_spaces::mobilenet::{MobileNetModel, MobileNetSpace};
use genius_spaces::nas_bench_201::{Dataset, NasBench201};
use genius_spaces::nas_bench_macro::{self, NasBenchMacro};
use genius_spaces::nas_bench_macro_model as macro_model;
use rand::SeedableRng;

/// The data directory, holding the tables these tests read.
fn data_dir() -> DataDir {
    common::data_dir([nas_bench_macro::TABLE])
}

fn network(space: &dyn SearchSpace, arch: &genius_core::Architecture, classes: usize) -> Network {
    let net = space.network(arch, classes).expect("every catalog space has a network");
    net.check().unwrap_or_else(|e| panic!("{e}"));
    net
}

#[test]
fn nas_bench_macro_networks_count_as_the_table_for_every_architecture() {
    let table = nas_bench_macro::load(&data_dir()).unwrap();
    let space = NasBenchMacro::new();
    for arch in space.enumerate() {
        let net = network(&space, &arch, 10);
        let row = table.row(&arch);
        let key = space.format(&arch);
        assert_eq!(Some(net.params()), row.params, "params of {key}");
        assert_eq!(Some(net.flops()), row.flops, "flops of {key}");
        let cost = macro_model::cost(&arch);
        assert_eq!((net.params(), net.flops()), (cost.params, cost.flops), "{key}");
    }
}

#[test]
fn channel_bench_macro_networks_count_as_the_tables() {
    let data = data_dir();
    let mut rng = SearchRng::seed_from_u64(6);
    for base in BaseModel::ALL {
        let space = ChannelBenchMacro::new(base);
        let table = channel_bench_macro::load(base, &data).unwrap();
        let mut archs: Vec<_> = (0..200).map(|_| space.sample(&mut rng)).collect();
        archs.push(space.arch_at(0));
        archs.push(space.arch_at(space.cardinality() - 1));
        for arch in archs {
            let net = network(&space, &arch, 10);
            let key = ChannelBenchMacro::key(&arch);
            assert_eq!((net.params(), net.flops()), space.cost(&arch), "{} {key}", base.space_name());
            let row = table.row(&arch);
            assert_eq!((Some(net.params()), Some(net.flops())), (row.params, row.flops), "{key}");
        }
    }
}

#[test]
fn mobilenet_networks_count_as_the_calculator_at_any_resolution_and_class_count() {
    let space = MobileNetSpace::unconstrained();
    let mut rng = SearchRng::seed_from_u64(7);
    for i in 0..100 {
        let arch = space.sample(&mut rng);
        let ops = MobileNetSpace::ops(&arch);
        let net = network(&space, &arch, 1000);
        let total = space.cost(&arch);
        assert_eq!((net.params(), net.flops()), (total.params, total.flops), "{}", space.format(&arch));
        let (resolution, classes) = [(96, 10), (160, 100), (196, 1000), (64, 10)][i % 4];
        let model = MobileNetModel::new(resolution, classes);
        let small = model.network(&ops);
        let cost = small.cost_at(resolution as usize).unwrap();
        assert_eq!((cost.params, cost.flops), (model.total(&ops).params, model.total(&ops).flops));
    }
    // The window space builds the same network.
    let windowed = MobileNetSpace::new();
    let arch = windowed.sample_feasible(&mut rng).unwrap();
    assert_eq!(network(&windowed, &arch, 1000).flops(), windowed.flops(&arch));
}

#[test]
fn nas_bench_201_networks_are_the_published_ones() {
    let space = NasBench201::new(Dataset::Cifar10);
    // Counted by hand: stem 3·16·9 + 32; per cell 6 edges of C·C·9 + 2C; reductions 16→32 and 32→64 (two 3×3
    // ReLU-conv-BN and a 1×1 shortcut convolution); the last batch norm and the classifier. The paper's largest
    // network has 1.53 M parameters.
    let all_conv3x3 = space.parse("[3, 3, 3, 3, 3, 3]").unwrap();
    let cells: u64 = [16u64, 32, 64].iter().map(|&c| 5 * 6 * (c * c * 9 + 2 * c)).sum();
    let reductions =
        (16 * 32 * 9 + 64 + 32 * 32 * 9 + 64 + 16 * 32) + (32 * 64 * 9 + 128 + 64 * 64 * 9 + 128 + 32 * 64);
    let expected = 432 + 32 + cells + reductions + 128 + 64 * 10 + 10;
    assert_eq!(expected, 1_531_546);
    assert_eq!(network(&space, &all_conv3x3, 10).params(), expected);
    // Cells without convolutions have no parameters: the fixed part alone.
    let fixed = 432 + 32 + reductions + 128 + 650;
    for text in ["[0, 0, 0, 0, 0, 0]", "[1, 4, 1, 4, 0, 1]"] {
        assert_eq!(network(&space, &space.parse(text).unwrap(), 10).params(), fixed, "{text}");
    }
    // Each 1×1 edge adds C·C + 2C per cell.
    let one = space.parse("[2, 0, 0, 0, 0, 0]").unwrap();
    let per_edge: u64 = [16u64, 32, 64].iter().map(|&c| 5 * (c * c + 2 * c)).sum();
    assert_eq!(network(&space, &one, 10).params(), fixed + per_edge);
    // Every cell of every dataset builds, at the dataset's resolution and class count.
    for dataset in Dataset::ALL {
        let space = NasBench201::new(dataset);
        for arch in space.enumerate().step_by(97) {
            let net = network(&space, &arch, dataset.classes());
            assert_eq!(net.resolution, dataset.resolution());
        }
    }
}

#[test]
fn networks_carry_the_choices_of_the_architecture() {
    let space = NasBenchMacro::new();
    let arch = space.parse("00000000").unwrap();
    let net = network(&space, &arch, 10);
    let mut residuals = 0;
    net.visit(&mut |l| residuals += usize::from(matches!(l, Layer::Residual { .. })));
    assert_eq!(residuals, 0, "identities at stride 1 are no layer at all");
    let net = network(&space, &space.parse("01011011").unwrap(), 7);
    net.visit(&mut |l| residuals += usize::from(matches!(l, Layer::Residual { .. })));
    assert_eq!(residuals, 5, "every MB block at stride 1 keeps its input");
    assert_eq!(net.classes, 7);
    assert!(net.name.contains("01011011"), "{}", net.name);
}
