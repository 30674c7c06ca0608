//! NAS-Bench-201 (Dong & Yang, 2020): a cell of 4 nodes and 6 edges, each edge one of 5 operations, stacked into a
//! fixed network; all 5^6 = 15,625 cells trained on CIFAR-10, CIFAR-100 and ImageNet16-120.
//!
//! The tables are GENIUS's derived tables of NAS-Bench-201 at epoch 200: a validation accuracy (`val_acc_200`, what
//! the search sees) and a test accuracy (`test_acc_200`, reported, never fed back). On CIFAR-10 the validation
//! accuracy comes from the `cifar10-valid` split (trained on the training half, evaluated on the validation half).
//!
//! The dimensions are the 6 edges in GENIUS's order `op0..op5`, and the options the operations in GENIUS's order
//! (0 `none`, 1 `skip_connect`, 2 `nor_conv_1x1`, 3 `nor_conv_3x3`, 4 `avg_pool_3x3`). The text form is the standard
//! cell string `|op0~0|+|op1~0|op2~1|+|op3~0|op4~1|op5~2|`; GENIUS's 6-digit operation list (`[3, 3, 3, 1, 2, 3]` or
//! `333123`) and lists of operation names parse too.

use std::sync::Arc;

use genius_core::network::{Activation, Cell, Conv2d, Edge, FlopsCounting, Layer, Network};
use genius_core::{
    Architecture, Dimension, Direction, Metric, MetricSpec, Notation, ParseError, SearchSpace, SpaceBrief, SpaceExt,
    Visibility,
};
use serde::Deserialize;

use crate::data::{DataDir, DataFile};
use crate::table::{Row, Table, TableError, read_records};

/// The operations an edge chooses from, in GENIUS's order (the choice index is the GENIUS operation id).
pub const OPS: [&str; 5] = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"];

/// The edges, in GENIUS's order `op0..op5`, as `(to, from)` nodes: `op0` is 1←0, `op1` 2←0, `op2` 2←1, `op3` 3←0,
/// `op4` 3←1, `op5` 3←2.
pub const EDGES: [(usize, usize); 6] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

/// Other names people write for the operations (GENIUS's prompt, the papers), with their choice index.
const ALIASES: [(&str, u16); 9] = [
    ("zeroize", 0),
    ("zero", 0),
    ("identity", 1),
    ("skip", 1),
    ("conv_1x1", 2),
    ("conv1x1", 2),
    ("conv_3x3", 3),
    ("conv3x3", 3),
    ("avg_pool", 4),
];

/// The dataset a table was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dataset {
    /// CIFAR-10 (validation accuracy from the `cifar10-valid` split).
    Cifar10,
    /// CIFAR-100.
    Cifar100,
    /// ImageNet16-120 (ImageNet downsampled to 16×16, 120 classes).
    ImageNet16,
}

impl Dataset {
    /// All three datasets.
    pub const ALL: [Dataset; 3] = [Dataset::Cifar10, Dataset::Cifar100, Dataset::ImageNet16];

    /// The space's name, e.g. `nas-bench-201-cifar10`.
    pub fn space_name(self) -> &'static str {
        match self {
            Self::Cifar10 => "nas-bench-201-cifar10",
            Self::Cifar100 => "nas-bench-201-cifar100",
            Self::ImageNet16 => "nas-bench-201-imagenet16-120",
        }
    }

    /// The dataset's usual name.
    pub fn label(self) -> &'static str {
        match self {
            Self::Cifar10 => "CIFAR-10",
            Self::Cifar100 => "CIFAR-100",
            Self::ImageNet16 => "ImageNet16-120",
        }
    }

    /// The table file.
    pub fn table(self) -> DataFile {
        match self {
            Self::Cifar10 => CIFAR10_TABLE,
            Self::Cifar100 => CIFAR100_TABLE,
            Self::ImageNet16 => IMAGENET16_TABLE,
        }
    }
}

/// The CIFAR-10 table file.
pub const CIFAR10_TABLE: DataFile = DataFile {
    relative: "nas-bench-201/nasbench201_cifar10.json",
    origin: "https://github.com/mingkai-zheng/GENIUS (benchmark/nasbench201_cifar10.json)",
    url: "https://raw.githubusercontent.com/mingkai-zheng/GENIUS/HEAD/benchmark/nasbench201_cifar10.json",
    bytes: 2_625_770,
    sha256: "7c5d7d890a285deb41556f95e904fab854f8fcfd65da7eb39410fdedd87215ec",
};

/// The CIFAR-100 table file.
pub const CIFAR100_TABLE: DataFile = DataFile {
    relative: "nas-bench-201/nasbench201_cifar100.json",
    origin: "https://github.com/mingkai-zheng/GENIUS (benchmark/nasbench201_cifar100.json)",
    url: "https://raw.githubusercontent.com/mingkai-zheng/GENIUS/HEAD/benchmark/nasbench201_cifar100.json",
    bytes: 2_722_508,
    sha256: "6b21a0e98864e0aff288fc54bb5105907441bfd63bb063ad3d279edcbf926da5",
};

/// The ImageNet16-120 table file.
pub const IMAGENET16_TABLE: DataFile = DataFile {
    relative: "nas-bench-201/nasbench201_imagenet.json",
    origin: "https://github.com/mingkai-zheng/GENIUS (benchmark/nasbench201_imagenet.json)",
    url: "https://raw.githubusercontent.com/mingkai-zheng/GENIUS/HEAD/benchmark/nasbench201_imagenet.json",
    bytes: 2_738_705,
    sha256: "a29f63ca37b72cfa9a8e4ce6bad5d678c6039c9929c8060b7d32187f537d560f",
};

/// The NAS-Bench-201 cell space, named after the dataset whose table evaluates it.
#[derive(Debug, Clone)]
pub struct NasBench201 {
    dataset: Dataset,
    dims: Vec<Dimension>,
}

impl NasBench201 {
    /// The space evaluated on `dataset`.
    pub fn new(dataset: Dataset) -> Self {
        let dims = EDGES
            .iter()
            .enumerate()
            .map(|(i, (to, from))| Dimension::new(format!("op{i} ({to}<-{from})"), OPS))
            .collect();
        Self { dataset, dims }
    }

    /// The dataset.
    pub fn dataset(&self) -> Dataset {
        self.dataset
    }

    /// The cell string of `arch`, `|op0~0|+|op1~0|op2~1|+|op3~0|op4~1|op5~2|`.
    pub fn cell_string(arch: &Architecture) -> String {
        let op = |i: usize| OPS[arch.choice(i)];
        format!("|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|", op(0), op(1), op(2), op(3), op(4), op(5))
    }

    /// Reads a cell string; every edge must appear once, in any order within its node.
    fn parse_cell(text: &str) -> Result<Architecture, String> {
        let nodes: Vec<&str> = text.split('+').collect();
        if nodes.len() != 3 {
            return Err(format!("a cell string has 3 nodes separated by `+`, found {}", nodes.len()));
        }
        let mut choices = [None::<u16>; 6];
        for (n, node) in nodes.iter().enumerate() {
            let to = n + 1;
            let node = node.trim();
            if !(node.starts_with('|') && node.ends_with('|') && node.len() > 1) {
                return Err(format!("node {to} `{node}` is not enclosed in `|`"));
            }
            let edges: Vec<&str> = node[1..node.len() - 1].split('|').map(str::trim).collect();
            if edges.len() != to {
                return Err(format!("node {to} has {to} incoming edges, found {} in `{node}`", edges.len()));
            }
            for edge in edges {
                let (op, from) = edge.split_once('~').ok_or_else(|| format!("edge `{edge}` is not `op~input`"))?;
                let from: usize = from.trim().parse().ok().filter(|&f| f < to).ok_or_else(|| {
                    format!("edge `{edge}` of node {to} names input `{from}`; inputs are 0..{}", to - 1)
                })?;
                let choice = op_index(op.trim())
                    .ok_or_else(|| format!("`{}` is not an operation; operations: {}", op.trim(), OPS.join(", ")))?;
                let dim = EDGES.iter().position(|&e| e == (to, from)).expect("edge in range");
                if choices[dim].replace(choice).is_some() {
                    return Err(format!("node {to} has two edges from node {from}"));
                }
            }
        }
        Ok(Architecture::new(choices.map(|c| c.expect("every edge was set")).to_vec()))
    }

    /// Reads GENIUS's operation list: 6 digits (`333123`), a list of ids (`[3, 3, 3, 1, 2, 3]`), or a list of
    /// operation names.
    fn parse_list(text: &str) -> Result<Architecture, String> {
        let body = text.trim_start_matches(['[', '(']).trim_end_matches([']', ')']).trim();
        let items: Vec<&str> = if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
            body.split("").filter(|s| !s.is_empty()).collect()
        } else {
            body.split([',', ' ', ';']).map(|s| s.trim().trim_matches(['"', '\''])).filter(|s| !s.is_empty()).collect()
        };
        if items.len() != 6 {
            return Err(format!("expected 6 operations, found {}", items.len()));
        }
        let mut choices = Vec::with_capacity(6);
        for (i, item) in items.iter().enumerate() {
            let choice = match item.parse::<u16>() {
                Ok(c) if usize::from(c) < OPS.len() => c,
                Ok(c) => return Err(format!("operation id {c} of op{i} is out of range 0..5")),
                Err(_) => op_index(item)
                    .ok_or_else(|| format!("`{item}` (op{i}) is not an operation; operations: {}", OPS.join(", ")))?,
            };
            choices.push(choice);
        }
        Ok(Architecture::new(choices))
    }
}

/// The channels of the cells of each stage of the NAS-Bench-201 network.
pub const STAGE_CHANNELS: [usize; 3] = [16, 32, 64];

/// Cells per stage of the NAS-Bench-201 network.
pub const CELLS_PER_STAGE: usize = 5;

impl Dataset {
    /// The image resolution the benchmark trained at: 32 for CIFAR, 16 for ImageNet16-120.
    pub fn resolution(self) -> usize {
        match self {
            Self::Cifar10 | Self::Cifar100 => 32,
            Self::ImageNet16 => 16,
        }
    }

    /// The number of classes.
    pub fn classes(self) -> usize {
        match self {
            Self::Cifar10 => 10,
            Self::Cifar100 => 100,
            Self::ImageNet16 => 120,
        }
    }
}

impl NasBench201 {
    /// The operation of edge operation id `op` (0 to 4) on `channels` channels, as the benchmark's cells build it.
    fn edge_op(op: usize, channels: usize) -> Vec<Layer> {
        let relu_conv_bn = |kernel| {
            let mut layers = vec![Layer::Activation(Activation::Relu)];
            layers.extend(Layer::conv_bn(Conv2d::new(channels, channels, kernel, 1), None));
            layers
        };
        match op {
            0 => vec![Layer::Zero],
            1 => Vec::new(),
            2 => relu_conv_bn(1),
            3 => relu_conv_bn(3),
            _ => vec![Layer::AvgPool2d { kernel: 3, stride: 1, padding: 1, count_include_pad: false }],
        }
    }

    /// The benchmark network of the cell `arch` with a classifier for `classes` classes, as a [`Network`]
    /// description: a 3×3 convolution stem with 16 channels and batch norm; three stages of 5 cells at 16, 32 and 64
    /// channels, joined by residual reduction blocks (ReLU-conv-BN twice, the first with stride 2; the shortcut a 2×2
    /// average pooling and a 1×1 convolution); batch norm, ReLU, global average pooling and a linear classifier.
    pub fn network(&self, arch: &Architecture, classes: usize) -> Network {
        let mut layers = Layer::conv_bn(Conv2d::new(3, STAGE_CHANNELS[0], 3, 1), None);
        for (stage, &c) in STAGE_CHANNELS.iter().enumerate() {
            if stage > 0 {
                let cin = STAGE_CHANNELS[stage - 1];
                let mut body = vec![Layer::Activation(Activation::Relu)];
                body.extend(Layer::conv_bn(Conv2d::new(cin, c, 3, 2), None));
                body.push(Layer::Activation(Activation::Relu));
                body.extend(Layer::conv_bn(Conv2d::new(c, c, 3, 1), None));
                let shortcut = vec![
                    Layer::AvgPool2d { kernel: 2, stride: 2, padding: 0, count_include_pad: true },
                    Layer::Conv2d(Conv2d::new(cin, c, 1, 1)),
                ];
                layers.push(Layer::Residual { body, shortcut: Some(shortcut) });
            }
            let nodes = (1..=3)
                .map(|to| {
                    EDGES
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| e.0 == to)
                        .map(|(dim, &(_, from))| Edge { from, op: Self::edge_op(arch.choice(dim), c) })
                        .collect()
                })
                .collect();
            let cell = Cell { nodes };
            layers.extend((0..CELLS_PER_STAGE).map(|_| Layer::Cell(cell.clone())));
        }
        let last = STAGE_CHANNELS[2];
        layers.push(Layer::BatchNorm(last));
        layers.push(Layer::Activation(Activation::Relu));
        layers.push(Layer::GlobalAvgPool);
        layers.push(Layer::Linear { in_features: last, out_features: classes, bias: true });
        Network::new(3, self.dataset.resolution(), classes, FlopsCounting::MACS, layers).named(format!(
            "{} {}",
            self.name(),
            Self::cell_string(arch)
        ))
    }
}

/// Parameters and FLOPs of every cell's network from 31 counted networks: every edge's operation adds the same cost
/// whatever the other edges hold (the network computes every edge, as NAS-Bench-201's does), so a network's cost is
/// that of the all-`none` network plus, per edge, what its operation adds there. Counting all 15,625 networks one by
/// one takes seconds; this takes milliseconds, and a test checks it against direct counts.
pub struct CellCosts {
    base: (u64, u64),
    /// `added[edge][op]`: what `op` on `edge` adds to the all-`none` network.
    added: Vec<Vec<(u64, u64)>>,
}

impl CellCosts {
    /// The costs of `space`'s networks (at its dataset's resolution and class count).
    pub fn new(space: &NasBench201) -> Self {
        let classes = space.dataset.classes();
        let count = |arch: &Architecture| {
            let net = space.network(arch, classes);
            (net.params(), net.flops())
        };
        let none = Architecture::new(vec![0; EDGES.len()]);
        let base = count(&none);
        let added = (0..EDGES.len())
            .map(|edge| {
                (0..OPS.len() as u16)
                    .map(|op| {
                        let (p, f) = count(&none.with_choice(edge, op));
                        (p - base.0, f - base.1)
                    })
                    .collect()
            })
            .collect();
        Self { base, added }
    }

    /// Parameters and FLOPs (multiply-accumulates) of `arch`'s network.
    pub fn of(&self, arch: &Architecture) -> (u64, u64) {
        arch.choices().iter().enumerate().fold(self.base, |(p, f), (edge, &op)| {
            let (dp, df) = self.added[edge][op as usize];
            (p + dp, f + df)
        })
    }
}

fn op_index(name: &str) -> Option<u16> {
    OPS.iter()
        .position(|o| o.eq_ignore_ascii_case(name))
        .map(|i| i as u16)
        .or_else(|| ALIASES.iter().find(|(a, _)| a.eq_ignore_ascii_case(name)).map(|&(_, i)| i))
}

impl SearchSpace for NasBench201 {
    fn name(&self) -> &str {
        self.dataset.space_name()
    }

    fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    /// The standard cell string.
    fn format(&self, arch: &Architecture) -> String {
        Self::cell_string(arch)
    }

    /// Reads a cell string (`|nor_conv_3x3~0|+|...|`), GENIUS's operation list (`[3, 3, 3, 1, 2, 3]`, `333123`), or
    /// a list of operation names.
    fn parse(&self, text: &str) -> Result<Architecture, ParseError> {
        let trimmed = text.trim();
        let parsed = if trimmed.contains('~') { Self::parse_cell(trimmed) } else { Self::parse_list(trimmed) };
        parsed.map_err(|reason| {
            ParseError::new(
                self.name(),
                trimmed,
                format!(
                    "{reason}; write the cell string, |op0~0|+|op1~0|op2~1|+|op3~0|op4~1|op5~2| with an operation \
                     name for each op, or 6 operation ids 0-4 (0 none, 1 skip_connect, 2 nor_conv_1x1, 3 \
                     nor_conv_3x3, 4 avg_pool_3x3), op0 first, in a list like {}",
                    genius_core::elided_example(self, Notation::Choices)
                ),
            )
        })
    }

    /// The benchmark network ([`NasBench201::network`]).
    fn network(&self, arch: &Architecture, classes: usize) -> Option<Network> {
        Some(NasBench201::network(self, arch, classes))
    }

    fn brief(&self) -> Option<SpaceBrief> {
        Some(SpaceBrief {
            task: format!(
                "The model will be trained on {} and the objective is to maximize its accuracy.",
                self.dataset.label()
            ),
            operations: vec![
                "0: Zeroize()  # outputs zeros: the edge is cut and carries no gradient".into(),
                "1: nn.Identity()  # skip connection".into(),
                "2: ReLUConvBN(channels, channels, kernel_size=1, stride=1, padding=0)".into(),
                "3: ReLUConvBN(channels, channels, kernel_size=3, stride=1, padding=1)".into(),
                "4: nn.AvgPool2d(kernel_size=3, stride=1, padding=1)  # keeps the spatial size".into(),
            ],
            notes: vec![
                "ReLUConvBN is a ReLU, then the convolution, then batch normalization; input and output channels \
                 are equal."
                    .into(),
            ],
            layout: "\
The searched block (cell) has 4 feature maps s0..s3 and 6 edges, each applying one operation:
s0 = the block's input
s1 = op0(s0)
s2 = op1(s0) + op2(s1)
s3 = op3(s0) + op4(s1) + op5(s2), the block's output
The network: a 3x3 convolution stem with 16 channels; 5 blocks at 16 channels; a residual reduction block (stride 2, \
32 channels); 5 blocks at 32 channels; a residual reduction block (stride 2, 64 channels); 5 blocks at 64 channels; \
batch normalization, ReLU, global average pooling and a linear classifier. All 15 blocks use the same design."
                .into(),
            notation: Notation::Choices,
            answer_format: "op_list: a list of 6 operation ids [op0, op1, op2, op3, op4, op5], each 0 to 4".into(),
            example: genius_core::elided_example(self, Notation::Choices),
            tables: Vec::new(),
            dialogue: genius_core::Dialogue::Conversation,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    val_acc_200: f64,
    test_acc_200: f64,
    /// The file's rank by test accuracy (ties broken arbitrarily); required, but ranks are recomputed.
    #[serde(rename = "rank")]
    _rank: u32,
}

/// The metrics of the tables: the search sees `val_acc_200`; `test_acc_200` is reported and held out.
pub fn metric_spec(dataset: Dataset) -> MetricSpec {
    let val = match dataset {
        Dataset::Cifar10 => "CIFAR-10 validation accuracy (%) after 200 epochs (cifar10-valid split: trained on the \
                             training half, evaluated on the validation half)"
            .to_owned(),
        _ => format!("{} validation accuracy (%) after 200 epochs", dataset.label()),
    };
    MetricSpec {
        metrics: vec![
            Metric {
                name: "val_acc_200".into(),
                direction: Direction::Maximize,
                visibility: Visibility::Search,
                description: val,
            },
            Metric {
                name: "test_acc_200".into(),
                direction: Direction::Maximize,
                visibility: Visibility::Reported,
                description: format!(
                    "{} test accuracy (%) after 200 epochs; held out, never shown to the search",
                    dataset.label()
                ),
            },
        ],
        search: "val_acc_200".into(),
        report: "test_acc_200".into(),
    }
}

/// Loads the CIFAR-10 table from `dir`.
pub fn load_cifar10(dir: &DataDir) -> Result<Table, TableError> {
    load(Dataset::Cifar10, dir)
}

/// Loads the CIFAR-100 table from `dir`.
pub fn load_cifar100(dir: &DataDir) -> Result<Table, TableError> {
    load(Dataset::Cifar100, dir)
}

/// Loads the ImageNet16-120 table from `dir`.
pub fn load_imagenet16(dir: &DataDir) -> Result<Table, TableError> {
    load(Dataset::ImageNet16, dir)
}

/// Loads `dataset`'s table from `dir`, checking that it holds exactly one well-formed record per cell. Ranks are
/// by `test_acc_200` with ties sharing the better rank (the file's own `rank` column breaks ties arbitrarily).
pub fn load(dataset: Dataset, dir: &DataDir) -> Result<Table, TableError> {
    let name = dataset.space_name();
    let file = dataset.table();
    let space = NasBench201::new(dataset);
    let index = |key: &str| -> Result<usize, String> {
        let arch = NasBench201::parse_cell(key).map_err(|reason| format!("is not a cell string: {reason}"))?;
        Ok(space.index_of(&arch) as usize)
    };
    let (records, _): (Vec<Record>, _) = read_records(name, dir, &file, 15_625, &index)?;
    // The table records neither params nor FLOPs: they are counted from the network each cell stands for, so
    // every row has them and FLOPs can be an objective.
    let costs = CellCosts::new(&space);
    let rows = records
        .into_iter()
        .zip(space.enumerate())
        .map(|(r, arch)| {
            let (params, flops) = costs.of(&arch);
            Row {
                values: vec![r.val_acc_200, r.test_acc_200],
                params: Some(params),
                flops: Some(flops),
                cost_s: None,
                details: None,
            }
        })
        .collect();
    let settings = serde_json::json!({ "benchmark": name, "file": file.relative });
    Ok(Table::new(name, Arc::new(space), metric_spec(dataset), rows, settings))
}
