//! Channel-Bench-Macro (Su et al., BCNet, 2021): the widths of a small CIFAR-10 ResNet and of a small MobileNet,
//! 7 searchable channel counts with 4 choices each, and a table of all 4^7 = 16,384 width settings of each network
//! trained three times.
//!
//! The tables record **test** accuracy only (`mean`, the mean of three trainings): they have no validation split,
//! so a search on them, as in GENIUS, is guided by the test accuracy itself. The evaluator says so in its metric
//! description.
//!
//! The text form is the channel list, as GENIUS prompts it: `[256, 256, 192, 256, 256, 128, 512]`. The table's own
//! key, 7 digits 1-4 giving each width as a multiple of a quarter of its maximum (`4432214`), parses too.
//! [`ChannelBenchMacro::cost`] counts the parameters and FLOPs of the benchmark network; it reproduces the table's
//! `params` and `flops` for every architecture of both networks.

use std::sync::Arc;

use genius_core::network::{Activation, Conv2d, FlopsCounting, Layer, Network};
use genius_core::{
    Architecture, Dimension, Direction, Metric, MetricSpec, Notation, ParseError, SearchSpace, SpaceBrief, SpaceExt,
    Visibility,
};
use serde::Deserialize;

use crate::data::{DataDir, DataFile};
use crate::table::{Row, Table, TableError, read_records, schema};

/// The base network whose widths are searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseModel {
    /// A ResNet of five basic residual blocks (two 3×3 convolutions each).
    ResNet,
    /// A MobileNetV2-style network of four inverted residual blocks and a 1×1 head convolution.
    MobileNet,
}

impl BaseModel {
    /// Both base models.
    pub const ALL: [BaseModel; 2] = [BaseModel::ResNet, BaseModel::MobileNet];

    /// The space's name, e.g. `channel-bench-macro-resnet`.
    pub fn space_name(self) -> &'static str {
        match self {
            Self::ResNet => "channel-bench-macro-resnet",
            Self::MobileNet => "channel-bench-macro-mobilenet",
        }
    }

    /// A quarter of the largest width of each searchable channel count: key digit `d` at position `i` means
    /// `d × quarter()[i]` channels.
    pub fn quarter(self) -> [u32; 7] {
        match self {
            Self::ResNet => [64, 64, 64, 128, 128, 128, 128],
            Self::MobileNet => [32, 192, 192, 192, 64, 384, 256],
        }
    }

    /// The table file.
    pub fn table(self) -> DataFile {
        match self {
            Self::ResNet => RESNET_TABLE,
            Self::MobileNet => MOBILENET_TABLE,
        }
    }
}

/// The ResNet table file.
pub const RESNET_TABLE: DataFile = DataFile {
    relative: "channel-bench-macro/Results_ResNet.json",
    origin: "https://github.com/xiusu/Channel-Bench-Macro (Results_ResNet.json)",
    url: "https://raw.githubusercontent.com/xiusu/Channel-Bench-Macro/HEAD/Results_ResNet.json",
    bytes: 2_821_965,
    sha256: "bf13bcaea3f2076f2c1bfbf5c2fee044aafe0385fae6a0d64c433b1d7f5a7520",
};

/// The MobileNet table file.
pub const MOBILENET_TABLE: DataFile = DataFile {
    relative: "channel-bench-macro/Results_MobileNet.json",
    origin: "https://github.com/xiusu/Channel-Bench-Macro (Results_MobileNet.json)",
    url: "https://raw.githubusercontent.com/xiusu/Channel-Bench-Macro/HEAD/Results_MobileNet.json",
    bytes: 2_793_867,
    sha256: "f640474d8ff3ff2231d0c45986bb0f10af291545316342fb009952e7641908e0",
};

/// The number of searchable channel counts.
pub const WIDTHS: usize = 7;

/// A Channel-Bench-Macro search space: the 7 channel counts of one base network, 4 choices each. Option labels are
/// the channel counts themselves, so the text form is the channel list.
#[derive(Debug, Clone)]
pub struct ChannelBenchMacro {
    base: BaseModel,
    dims: Vec<Dimension>,
}

impl ChannelBenchMacro {
    /// The space of `base`'s widths.
    pub fn new(base: BaseModel) -> Self {
        let dims = base
            .quarter()
            .iter()
            .enumerate()
            .map(|(i, q)| Dimension::new(format!("channels[{i}]"), (1..=4).map(|d| (d * q).to_string())))
            .collect();
        Self { base, dims }
    }

    /// The base network.
    pub fn base(&self) -> BaseModel {
        self.base
    }

    /// The channel count of every searchable width of `arch`.
    pub fn channels(&self, arch: &Architecture) -> [u32; WIDTHS] {
        let q = self.base.quarter();
        std::array::from_fn(|i| (arch.choice(i) as u32 + 1) * q[i])
    }

    /// The table key of `arch`: 7 digits 1-4, e.g. `4432214`.
    pub fn key(arch: &Architecture) -> String {
        arch.choices().iter().map(|&c| char::from(b'1' + c as u8)).collect()
    }

    /// The enumeration index of a table key, or why it is not one.
    fn key_index(key: &str) -> Result<usize, String> {
        if key.len() != WIDTHS || !key.bytes().all(|b| (b'1'..=b'4').contains(&b)) {
            return Err("is not 7 digits 1-4".into());
        }
        Ok(key.bytes().fold(0usize, |acc, b| acc * 4 + usize::from(b - b'1')))
    }

    /// The trainable parameters and FLOPs (multiply-accumulates of the convolutions and the classifier, for one
    /// 32×32 CIFAR-10 image) of the benchmark network with `arch`'s widths, counted as the table counts them:
    /// convolutions have no bias, each batch norm adds two parameters per channel, and batch norms, activations,
    /// additions and pooling add no FLOPs. Returns `(params, flops)`.
    pub fn cost(&self, arch: &Architecture) -> (u64, u64) {
        let c = self.channels(arch).map(u64::from);
        let mut net = Counter::default();
        // The stem: a stride-2 3×3 convolution, 32×32 → 16×16.
        net.conv(3, c[0], 3, 1, 16);
        net.bn(c[0]);
        match self.base {
            BaseModel::ResNet => {
                // (in, middle, out, output size): two 3×3 convolutions each; the third block downsamples.
                for (i, m, o, size) in [(c[0], c[1], c[0], 16), (c[0], c[2], c[0], 16), (c[0], c[3], c[4], 8)]
                    .into_iter()
                    .chain([(c[4], c[5], c[4], 8), (c[4], c[6], c[4], 8)])
                {
                    net.conv(i, m, 3, 1, size);
                    net.bn(m);
                    net.conv(m, o, 3, 1, size);
                    net.bn(o);
                }
                net.linear(c[4], 10);
            }
            BaseModel::MobileNet => {
                // (in, hidden, out, input size, output size): 1×1 expand, 3×3 depthwise, 1×1 project.
                for (i, h, o, size_in, size) in
                    [(c[0], c[1], c[0], 16, 16), (c[0], c[2], c[0], 16, 16), (c[0], c[3], c[4], 16, 8)]
                        .into_iter()
                        .chain([(c[4], c[5], c[4], 8, 8)])
                {
                    net.conv(i, h, 1, 1, size_in);
                    net.bn(h);
                    net.conv(h, h, 3, h, size);
                    net.bn(h);
                    net.conv(h, o, 1, 1, size);
                    net.bn(o);
                }
                net.conv(c[4], c[6], 1, 1, 8);
                net.bn(c[6]);
                net.linear(c[6], 10);
            }
        }
        (net.params, net.flops)
    }

    /// The benchmark network with `arch`'s widths and a classifier for `classes` classes, as a [`Network`]
    /// description; at 10 classes its parameters and FLOPs are [`cost`](Self::cost)'s (and so the table's).
    pub fn network(&self, arch: &Architecture, classes: usize) -> Network {
        let c = self.channels(arch).map(|w| w as usize);
        let relu = Some(Activation::Relu);
        let mut layers = Layer::conv_bn(Conv2d::new(3, c[0], 3, 2), relu);
        let (name, features) = match self.base {
            BaseModel::ResNet => {
                // (in, middle, out, stride): the third block downsamples and has no shortcut.
                for (i, m, o, stride) in
                    [(c[0], c[1], c[0], 1), (c[0], c[2], c[0], 1), (c[0], c[3], c[4], 2), (c[4], c[5], c[4], 1)]
                        .into_iter()
                        .chain([(c[4], c[6], c[4], 1)])
                {
                    let mut body = Layer::conv_bn(Conv2d::new(i, m, 3, stride), relu);
                    body.extend(Layer::conv_bn(Conv2d::new(m, o, 3, 1), None));
                    let block =
                        if stride == 1 { Layer::Residual { body, shortcut: None } } else { Layer::Sequential(body) };
                    layers.push(Layer::Sequential(vec![block, Layer::Activation(Activation::Relu)]));
                }
                ("resnet", c[4])
            }
            BaseModel::MobileNet => {
                // (in, hidden, out, stride): 1×1 expand, 3×3 depthwise, 1×1 project.
                for (i, h, o, stride) in [(c[0], c[1], c[0], 1), (c[0], c[2], c[0], 1), (c[0], c[3], c[4], 2)]
                    .into_iter()
                    .chain([(c[4], c[5], c[4], 1)])
                {
                    let mut body = Layer::conv_bn(Conv2d::new(i, h, 1, 1), relu);
                    body.extend(Layer::conv_bn(Conv2d::depthwise(h, 3, stride), relu));
                    body.extend(Layer::conv_bn(Conv2d::new(h, o, 1, 1), None));
                    layers.push(if stride == 1 && i == o {
                        Layer::Residual { body, shortcut: None }
                    } else {
                        Layer::Sequential(body)
                    });
                }
                layers.extend(Layer::conv_bn(Conv2d::new(c[4], c[6], 1, 1), relu));
                ("mobilenet", c[6])
            }
        };
        layers.push(Layer::GlobalAvgPool);
        layers.push(Layer::Linear { in_features: features, out_features: classes, bias: true });
        Network::new(3, 32, classes, FlopsCounting::MACS, layers)
            .named(format!("channel-bench-macro-{name} {}", Self::key(arch)))
    }
}

#[derive(Default)]
struct Counter {
    params: u64,
    flops: u64,
}

impl Counter {
    /// A bias-free `k×k` convolution with `groups` groups producing a `size×size` map.
    fn conv(&mut self, cin: u64, cout: u64, k: u64, groups: u64, size: u64) {
        let weights = cin / groups * cout * k * k;
        self.params += weights;
        self.flops += weights * size * size;
    }

    fn bn(&mut self, channels: u64) {
        self.params += 2 * channels;
    }

    fn linear(&mut self, cin: u64, cout: u64) {
        self.params += cin * cout + cout;
        self.flops += cin * cout;
    }
}

impl SearchSpace for ChannelBenchMacro {
    fn name(&self) -> &str {
        self.base.space_name()
    }

    fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    /// The channel list, e.g. `[256, 256, 192, 256, 256, 128, 512]`.
    fn format(&self, arch: &Architecture) -> String {
        Notation::Labels.write(self, arch)
    }

    /// Reads a channel list (`[64, 576, 576, 192, 128, 768, 512]`; brackets, commas optional) or a table key
    /// (`4432214`). Numbers are channel counts, never choice indices.
    fn parse(&self, text: &str) -> Result<Architecture, ParseError> {
        let name = self.name();
        let trimmed = text.trim();
        let body = trimmed.trim_start_matches(['[', '(']).trim_end_matches([']', ')']).trim();
        let help = |reason: String| {
            let example = genius_core::elided_example(self, Notation::Labels);
            ParseError::new(
                name,
                trimmed,
                format!(
                    "{reason}; write 7 channel counts, channels[0] first, in a list like {example}, or the 7-digit \
                     table key (digits 1-4)"
                ),
            )
        };
        if body.len() == WIDTHS && body.bytes().all(|b| b.is_ascii_digit()) {
            let index = Self::key_index(body).map_err(|r| help(format!("the table key {r}")))?;
            return Ok(self.arch_at(index as u128));
        }
        let items: Vec<&str> = body.split([',', ' ', ';']).map(str::trim).filter(|s| !s.is_empty()).collect();
        if items.len() != WIDTHS {
            return Err(help(format!("expected 7 channel counts, found {}", items.len())));
        }
        let mut choices = Vec::with_capacity(WIDTHS);
        for (i, (item, d)) in items.iter().zip(&self.dims).enumerate() {
            let choice = d.options.iter().position(|o| o == item).ok_or_else(|| {
                help(format!("`{item}` is not a width of channels[{i}] (options: {})", d.options.join(", ")))
            })?;
            choices.push(choice as u16);
        }
        Ok(Architecture::new(choices))
    }

    /// The benchmark network ([`ChannelBenchMacro::network`]).
    fn network(&self, arch: &Architecture, classes: usize) -> Option<Network> {
        Some(ChannelBenchMacro::network(self, arch, classes))
    }

    fn brief(&self) -> Option<SpaceBrief> {
        let operations = self.dims.iter().map(|d| format!("{}: [{}]", d.name, d.options.join(", "))).collect();
        let (layout, notes) = match self.base {
            BaseModel::ResNet => (
                "\
layer1: Conv2d(3, channels[0], kernel_size=3, stride=2) + BatchNorm + ReLU
layer2: ResidualBlock(in=channels[0], middle=channels[1], out=channels[0], stride=1)
layer3: ResidualBlock(in=channels[0], middle=channels[2], out=channels[0], stride=1)
layer4: ResidualBlock(in=channels[0], middle=channels[3], out=channels[4], stride=2), without the shortcut
layer5: ResidualBlock(in=channels[4], middle=channels[5], out=channels[4], stride=1)
layer6: ResidualBlock(in=channels[4], middle=channels[6], out=channels[4], stride=1)
layer7: global average pooling, Linear(channels[4], 10)",
                vec![
                    "ResidualBlock(in, middle, out, stride): Conv2d(in, middle, 3x3, stride) + BatchNorm + ReLU, then \
                     Conv2d(middle, out, 3x3) + BatchNorm; the input is added to the result when stride is 1, and a \
                     ReLU follows."
                        .to_owned(),
                ],
            ),
            BaseModel::MobileNet => (
                "\
layer1: Conv2d(3, channels[0], kernel_size=3, stride=2) + BatchNorm + ReLU
layer2: InvertedResidual(in=channels[0], hidden=channels[1], out=channels[0], stride=1)
layer3: InvertedResidual(in=channels[0], hidden=channels[2], out=channels[0], stride=1)
layer4: InvertedResidual(in=channels[0], hidden=channels[3], out=channels[4], stride=2)
layer5: InvertedResidual(in=channels[4], hidden=channels[5], out=channels[4], stride=1)
layer6: Conv2d(channels[4], channels[6], kernel_size=1) + BatchNorm + ReLU
layer7: global average pooling, Linear(channels[6], 10)",
                vec![
                    "InvertedResidual(in, hidden, out, stride): Conv2d(in, hidden, 1x1) + BatchNorm + ReLU, a 3x3 \
                     depthwise Conv2d(hidden, hidden, stride) + BatchNorm + ReLU, then Conv2d(hidden, out, 1x1) + \
                     BatchNorm; the input is added to the result when in == out and stride is 1."
                        .to_owned(),
                ],
            ),
        };
        Some(SpaceBrief {
            task: "The model will be trained and tested on CIFAR-10, and the objective is to maximize its accuracy."
                .into(),
            operations,
            notes,
            layout: layout.into(),
            notation: Notation::Labels,
            answer_format: "channels: a list of 7 channel counts, channels[0] to channels[6], each one of the \
                            options listed for its index"
                .into(),
            example: genius_core::elided_example(self, Notation::Labels),
            tables: Vec::new(),
            dialogue: genius_core::Dialogue::Fresh,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    acc: Vec<f64>,
    std: f64,
    flops: u64,
    params: u64,
    mean: f64,
}

/// The metrics of the tables: `mean` is both searched and reported, since the tables hold nothing else.
pub fn metric_spec() -> MetricSpec {
    MetricSpec {
        metrics: vec![Metric {
            name: "mean".into(),
            direction: Direction::Maximize,
            visibility: Visibility::Search,
            description: "CIFAR-10 test accuracy (%), mean of 3 trainings; the table has no validation accuracy, \
                          so the search sees the test accuracy itself"
                .into(),
        }],
        search: "mean".into(),
        report: "mean".into(),
    }
}

/// Loads the ResNet table from `dir`.
pub fn load_resnet(dir: &DataDir) -> Result<Table, TableError> {
    load(BaseModel::ResNet, dir)
}

/// Loads the MobileNet table from `dir`.
pub fn load_mobilenet(dir: &DataDir) -> Result<Table, TableError> {
    load(BaseModel::MobileNet, dir)
}

/// Loads `base`'s table from `dir`, checking that it holds exactly one well-formed record per architecture.
pub fn load(base: BaseModel, dir: &DataDir) -> Result<Table, TableError> {
    let name = base.space_name();
    let file = base.table();
    let space = ChannelBenchMacro::new(base);
    let (records, path): (Vec<Record>, _) =
        read_records(name, dir, &file, 4usize.pow(WIDTHS as u32), &ChannelBenchMacro::key_index)?;
    let mut rows = Vec::with_capacity(records.len());
    for (i, r) in records.into_iter().enumerate() {
        if !r.mean.is_finite() || r.acc.is_empty() {
            let key = ChannelBenchMacro::key(&space.arch_at(i as u128));
            return Err(schema(name, &path, format!("record `{key}` has no usable accuracy")));
        }
        rows.push(Row {
            values: vec![r.mean],
            params: Some(r.params),
            flops: Some(r.flops),
            cost_s: None,
            details: Some(serde_json::json!({ "acc": r.acc, "std": r.std })),
        });
    }
    let settings = serde_json::json!({ "benchmark": name, "file": file.relative });
    Ok(Table::new(name, Arc::new(space), metric_spec(), rows, settings))
}
