//! NAS-Bench-Macro (Su et al., 2021): 8 searchable layers of a CIFAR-10 macro network, each an Identity or a
//! MobileNetV2 block, and a table of every one of the 3^8 = 6,561 architectures trained three times.
//!
//! The table records **test** accuracy only (`mean_acc`, the mean of three trainings): it has no validation split,
//! so a search on it, as in GENIUS, is guided by the test accuracy itself. The evaluator says so in its metric
//! description; keep it in mind when comparing with benchmarks that have a validation metric.

use std::collections::HashMap;
use std::sync::Arc;

use genius_core::{
    Architecture, Dimension, Direction, Metric, MetricSpec, Notation, ParseError, SearchSpace, SpaceBrief, Visibility,
};
use serde::Deserialize;

use crate::data::{DataDir, DataFile};
use crate::table::{Row, Table, TableError, read_json, schema};

/// The space's name.
pub const NAME: &str = "nas-bench-macro";

/// The table file.
pub const TABLE: DataFile = DataFile {
    relative: "nas-bench-macro/nas-bench-macro_cifar10.json",
    origin: "https://github.com/xiusu/NAS-Bench-Macro (data/nas-bench-macro_cifar10.json)",
    url: "https://raw.githubusercontent.com/xiusu/NAS-Bench-Macro/HEAD/data/nas-bench-macro_cifar10.json",
    bytes: 1_178_821,
    sha256: "686dee8363cc21cca8c1f321ad5749454f2d9b9ca5972682e137e539bc522297",
};

/// The operations a searchable layer chooses from, in choice order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacroOp {
    /// Identity (a 1×1 convolution with batch norm where the layer changes stride or width).
    Identity,
    /// MobileNetV2 inverted residual block, expansion 3, kernel 3.
    MbE3K3,
    /// MobileNetV2 inverted residual block, expansion 6, kernel 5.
    MbE6K5,
}

impl MacroOp {
    /// All operations, in choice order.
    pub const ALL: [MacroOp; 3] = [MacroOp::Identity, MacroOp::MbE3K3, MacroOp::MbE6K5];

    /// The option label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::MbE3K3 => "mb_e3_k3",
            Self::MbE6K5 => "mb_e6_k5",
        }
    }

    /// The MobileNetV2 expansion ratio and kernel size, `None` for identity.
    pub fn block(self) -> Option<(usize, usize)> {
        match self {
            Self::Identity => None,
            Self::MbE3K3 => Some((3, 3)),
            Self::MbE6K5 => Some((6, 5)),
        }
    }
}

/// The NAS-Bench-Macro search space: layers 2 to 9 of the benchmark network, 3 operations each. Its text form is
/// the table key, one digit per layer (`0` identity, `1` MB e3 k3, `2` MB e6 k5), e.g. `02012100`; lists of digits
/// or of operation labels parse too.
#[derive(Debug, Clone)]
pub struct NasBenchMacro {
    dims: Vec<Dimension>,
}

impl NasBenchMacro {
    /// The searchable layers (positions 0, 2 and 5 downsample: layers 2, 4 and 7 of the network).
    pub const LAYERS: usize = 8;
    /// The key positions of the stride-2 layers.
    pub const DOWNSAMPLE: [usize; 3] = [0, 2, 5];

    /// The space.
    pub fn new() -> Self {
        let labels = MacroOp::ALL.map(MacroOp::label);
        Self { dims: (0..Self::LAYERS).map(|i| Dimension::new(format!("layer {}", i + 2), labels)).collect() }
    }

    /// The operation of every layer of `arch`.
    pub fn ops(arch: &Architecture) -> Vec<MacroOp> {
        arch.choices().iter().map(|&c| MacroOp::ALL[usize::from(c)]).collect()
    }
}

impl Default for NasBenchMacro {
    fn default() -> Self {
        Self::new()
    }
}

impl SearchSpace for NasBenchMacro {
    fn name(&self) -> &str {
        NAME
    }

    fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    fn brief(&self) -> Option<SpaceBrief> {
        Some(SpaceBrief {
            task: "The model will be trained and tested on CIFAR-10, and the objective is to maximize its accuracy."
                .into(),
            operations: vec![
                "0: Identity(in_channels, out_channels, stride)".into(),
                "1: InvertedResidual(in_channels, out_channels, stride, expansion=3, kernel_size=3)".into(),
                "2: InvertedResidual(in_channels, out_channels, stride, expansion=6, kernel_size=5)".into(),
            ],
            notes: vec![
                "Identity skips the layer; where in_channels != out_channels or stride != 1, a 1x1 convolution with \
                 batch normalization transforms the input to the expected shape."
                    .into(),
            ],
            layout: "\
layer1: defined, Conv2d(3, 32, kernel_size=3, stride=1) + BatchNorm + ReLU
layer2: undefined, in_channels=32, out_channels=64, stride=2, operation op_list[0]
layer3: undefined, in_channels=64, out_channels=64, stride=1, operation op_list[1]
layer4: undefined, in_channels=64, out_channels=128, stride=2, operation op_list[2]
layer5: undefined, in_channels=128, out_channels=128, stride=1, operation op_list[3]
layer6: undefined, in_channels=128, out_channels=128, stride=1, operation op_list[4]
layer7: undefined, in_channels=128, out_channels=256, stride=2, operation op_list[5]
layer8: undefined, in_channels=256, out_channels=256, stride=1, operation op_list[6]
layer9: undefined, in_channels=256, out_channels=256, stride=1, operation op_list[7]
layer10: defined, Conv2d(256, 1280, kernel_size=1) + BatchNorm + ReLU
layer11: defined, global average pooling
layer12: defined, Linear(1280, 10)"
                .into(),
            notation: Notation::Choices,
            answer_format:
                "op_list: a list of 8 operation ids, one per undefined layer (layer2 to layer9), each 0, 1 or 2".into(),
            example: genius_core::elided_example(self, Notation::Choices),
            tables: Vec::new(),
            dialogue: genius_core::Dialogue::Fresh,
        })
    }

    /// The benchmark network ([`nas_bench_macro_model::network`](crate::nas_bench_macro_model::network)).
    fn network(&self, arch: &Architecture, classes: usize) -> Option<genius_core::network::Network> {
        Some(crate::nas_bench_macro_model::network(arch, classes))
    }

    fn parse(&self, text: &str) -> Result<Architecture, ParseError> {
        genius_core::default_parse(NAME, &self.dims, text).map_err(|mut e| {
            e.reason.push_str(&format!(
                "; write 8 digits 0-2 (0 identity, 1 mb_e3_k3, 2 mb_e6_k5), one per layer from layer2 to layer9, or \
                 a list like {}",
                genius_core::elided_example(self, Notation::Choices)
            ));
            e
        })
    }
}

#[derive(Deserialize)]
struct Record {
    test_acc: Vec<f64>,
    mean_acc: f64,
    std: f64,
    params: u64,
    flops: u64,
}

/// The metrics of the table: `mean_acc` is both searched and reported, since the table holds nothing else.
pub fn metric_spec() -> MetricSpec {
    MetricSpec {
        metrics: vec![Metric {
            name: "mean_acc".into(),
            direction: Direction::Maximize,
            visibility: Visibility::Search,
            description: "CIFAR-10 test accuracy (%), mean of 3 trainings; the table has no validation accuracy, \
                          so the search sees the test accuracy itself"
                .into(),
        }],
        search: "mean_acc".into(),
        report: "mean_acc".into(),
    }
}

/// Loads the table from `dir`, checking that it holds exactly one well-formed record per architecture.
pub fn load(dir: &DataDir) -> Result<Table, TableError> {
    let (records, path): (HashMap<String, Record>, _) = read_json(NAME, dir, &TABLE)?;
    let space = NasBenchMacro::new();
    let mut rows: Vec<Option<Row>> = vec![None; 6561];
    for (key, r) in records {
        let valid_key = key.len() == NasBenchMacro::LAYERS && key.bytes().all(|b| (b'0'..=b'2').contains(&b));
        if !valid_key {
            return Err(schema(NAME, &path, format!("key `{key}` is not 8 digits 0-2")));
        }
        let arch = space.parse(&key).expect("checked key");
        if !r.mean_acc.is_finite() || r.test_acc.is_empty() {
            return Err(schema(NAME, &path, format!("record `{key}` has no usable accuracy")));
        }
        let index = genius_core::SpaceExt::index_of(&space, &arch) as usize;
        rows[index] = Some(Row {
            values: vec![r.mean_acc],
            params: Some(r.params),
            flops: Some(r.flops),
            cost_s: None,
            details: Some(serde_json::json!({ "test_acc": r.test_acc, "std": r.std })),
        });
    }
    let missing = rows.iter().filter(|r| r.is_none()).count();
    if missing > 0 {
        return Err(schema(NAME, &path, format!("{missing} of the 6561 architectures have no record")));
    }
    let settings = serde_json::json!({ "benchmark": NAME, "file": TABLE.relative });
    Ok(Table::new(NAME, Arc::new(space), metric_spec(), rows.into_iter().map(Option::unwrap).collect(), settings))
}
