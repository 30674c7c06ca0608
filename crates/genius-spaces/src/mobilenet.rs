//! The MobileNet-style ImageNet search space of GENIUS (Zheng et al., 2023, section 4.3): 30 searchable layers in
//! 5 stages of 6, each a Skip or an inverted residual block (kernel 3, 5 or 7, expansion 4 or 6, with
//! squeeze-excite), between a fixed stem and a fixed head; searched under a FLOPs window such as [270, 330] MFLOPs.
//!
//! The network is the one GENIUS trained (timm blocks, HardSwish activations, squeeze-excite with ratio 0.25 of the
//! expanded width rounded to a multiple of 8, hard-sigmoid gate):
//!
//! | layer | what | in → out channels | stride | map (224 input) |
//! |---|---|---|---|---|
//! | 0 | stem: conv 3×3 + BN + act | 3 → 16 | 2 | 224 → 112 |
//! | 1 | depthwise-separable conv 3×3 with squeeze-excite, residual | 16 → 16 | 1 | 112 |
//! | 2–7 | stage 1 (searchable) | 16 → 24 | 2 (first layer) | 112 → 56 |
//! | 8–13 | stage 2 (searchable) | 24 → 40 | 2 | 56 → 28 |
//! | 14–19 | stage 3 (searchable) | 40 → 80 | 2 | 28 → 14 |
//! | 20–25 | stage 4 (searchable) | 80 → 96 | 1 | 14 |
//! | 26–31 | stage 5 (searchable) | 96 → 192 | 2 | 14 → 7 |
//! | 32 | conv 1×1 + BN + act | 192 → 320 | 1 | 7 |
//! | 33 | global average pooling | 320 | | 7 → 1 |
//! | 34 | conv 1×1 with bias + act | 320 → 1280 | | 1 |
//! | 35 | linear classifier | 1280 → 1000 | | |
//!
//! A Skip in the first layer of a stage is a 1×1 convolution with batch norm (the stage changes width or stride);
//! elsewhere it removes the layer. An inverted residual keeps a residual connection where its input and output
//! shapes agree.
//!
//! FLOPs are counted as GENIUS counted them, with thop ([`FlopsCounting::THOP`]): the calculator reproduces every entry
//! of the ten per-stage FLOPs tables of the GENIUS prompts to their printed precision, and the total it gives rounds to
//! the total GENIUS reported for nearly every experiment (see `tests/mobilenet.rs`). The per-layer figures GENIUS
//! printed for the fixed layers leave out the stem's and layer 1's output batch norms (0.8028 MFLOPs each) and differ
//! slightly for layers 32 and 34, which is why its reported totals run about 1.62 MFLOPs (plus rounding) above the sum
//! of its printed per-layer figures; the figures here are those of the real network and add up to its total.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use genius_core::network::{Activation, Conv2d, FlopsCounting, Layer, Network};
use genius_core::{
    Architecture, BriefTable, Dimension, Notation, ParseError, SearchRng, SearchSpace, SpaceBrief, SpaceExt, Violation,
};
use rand::{Rng, RngExt};

use crate::cost::{Cost, LayerCosts};

/// The space's name (with the default window, [`FlopsWindow::GENIUS_329`]).
pub const NAME: &str = "mobilenet-imagenet";

/// The number of searchable layers.
pub const LAYERS: usize = 30;

/// Searchable layers per stage.
pub const LAYERS_PER_STAGE: usize = 6;

/// The operations a searchable layer chooses from, in choice order (GENIUS's operation ids 0 to 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MobileOp {
    /// Skip the layer (a 1×1 convolution with batch norm where the layer changes width or stride).
    Skip,
    /// Inverted residual, kernel 3, expansion 4.
    IrK3E4,
    /// Inverted residual, kernel 5, expansion 4.
    IrK5E4,
    /// Inverted residual, kernel 7, expansion 4.
    IrK7E4,
    /// Inverted residual, kernel 3, expansion 6.
    IrK3E6,
    /// Inverted residual, kernel 5, expansion 6.
    IrK5E6,
    /// Inverted residual, kernel 7, expansion 6.
    IrK7E6,
}

impl MobileOp {
    /// All operations, in choice order.
    pub const ALL: [MobileOp; 7] = [
        MobileOp::Skip,
        MobileOp::IrK3E4,
        MobileOp::IrK5E4,
        MobileOp::IrK7E4,
        MobileOp::IrK3E6,
        MobileOp::IrK5E6,
        MobileOp::IrK7E6,
    ];

    /// The option label, e.g. `ir_k5_e4`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::IrK3E4 => "ir_k3_e4",
            Self::IrK5E4 => "ir_k5_e4",
            Self::IrK7E4 => "ir_k7_e4",
            Self::IrK3E6 => "ir_k3_e6",
            Self::IrK5E6 => "ir_k5_e6",
            Self::IrK7E6 => "ir_k7_e6",
        }
    }

    /// The depthwise kernel size and expansion ratio of an inverted residual, `None` for Skip.
    pub fn block(self) -> Option<(u64, u64)> {
        match self {
            Self::Skip => None,
            Self::IrK3E4 => Some((3, 4)),
            Self::IrK5E4 => Some((5, 4)),
            Self::IrK7E4 => Some((7, 4)),
            Self::IrK3E6 => Some((3, 6)),
            Self::IrK5E6 => Some((5, 6)),
            Self::IrK7E6 => Some((7, 6)),
        }
    }

    /// The operation of choice index `choice`.
    ///
    /// # Panics
    /// When `choice` is 7 or more.
    pub fn from_choice(choice: usize) -> Self {
        Self::ALL[choice]
    }
}

/// A stage of searchable layers: its first layer maps `in_channels` to `out_channels` with `stride`; the other five
/// keep `out_channels` at stride 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// Input channels of the first layer.
    pub in_channels: u64,
    /// Output channels of every layer.
    pub out_channels: u64,
    /// Stride of the first layer.
    pub stride: u64,
}

/// The five stages, in order.
pub const STAGES: [Stage; 5] = [
    Stage { in_channels: 16, out_channels: 24, stride: 2 },
    Stage { in_channels: 24, out_channels: 40, stride: 2 },
    Stage { in_channels: 40, out_channels: 80, stride: 2 },
    Stage { in_channels: 80, out_channels: 96, stride: 1 },
    Stage { in_channels: 96, out_channels: 192, stride: 2 },
];

const STEM: u64 = 16;
const HEAD: u64 = 320;
const FEATURES: u64 = 1280;
const SE_RATIO: f64 = 0.25;

/// The shape of a searchable layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Its position among the searchable layers, 0 to 29 (the index into an op list).
    pub position: usize,
    /// Its stage, 0 to 4.
    pub stage: usize,
    /// Whether it is the first layer of its stage.
    pub first: bool,
    /// Input channels.
    pub in_channels: u64,
    /// Output channels.
    pub out_channels: u64,
    /// Stride.
    pub stride: u64,
}

impl Slot {
    /// The slot of searchable position `position`.
    ///
    /// # Panics
    /// When `position` is 30 or more.
    pub fn at(position: usize) -> Slot {
        assert!(position < LAYERS, "searchable positions are 0..{LAYERS}");
        let stage = position / LAYERS_PER_STAGE;
        let first = position.is_multiple_of(LAYERS_PER_STAGE);
        let s = STAGES[stage];
        let (in_channels, stride) = if first { (s.in_channels, s.stride) } else { (s.out_channels, 1) };
        Slot { position, stage, first, in_channels, out_channels: s.out_channels, stride }
    }

    /// Its layer number in GENIUS's layout (2 to 31).
    pub fn layer(&self) -> usize {
        self.position + 2
    }
}

/// timm's `make_divisible`: `value` rounded to the nearest multiple of `divisor`, at least `divisor`, and never
/// more than 10% below `value`.
fn make_divisible(value: f64, divisor: u64) -> u64 {
    let d = divisor as f64;
    let mut rounded = divisor.max(((value + d / 2.0) / d).floor() as u64 * divisor);
    if (rounded as f64) < 0.9 * value {
        rounded += divisor;
    }
    rounded
}

/// The cost of one layer of the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerCost {
    /// Its layer number in GENIUS's layout (0 to 35).
    pub layer: usize,
    /// What it is, e.g. `InvertedResidual(24, 40, stride=2, kernel_size=5, expansion=4)`.
    pub operation: String,
    /// Its FLOPs and parameters.
    pub cost: Cost,
}

/// The GENIUS ImageNet network at an input resolution and a number of classes: per-layer and total FLOPs and
/// parameters of any architecture of the space. FLOPs are counted as thop counts them ([`FlopsCounting::THOP`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MobileNetModel {
    resolution: u64,
    classes: u64,
}

impl MobileNetModel {
    /// The network GENIUS searched: 224×224 inputs, 1000 classes.
    pub const IMAGENET: MobileNetModel = MobileNetModel { resolution: 224, classes: 1000 };

    /// The network for `resolution`×`resolution` inputs and `classes` classes.
    ///
    /// # Panics
    /// When either is zero.
    pub fn new(resolution: u64, classes: u64) -> Self {
        assert!(resolution > 0 && classes > 0, "the resolution and the number of classes must be positive");
        Self { resolution, classes }
    }

    /// The input resolution.
    pub fn resolution(&self) -> u64 {
        self.resolution
    }

    /// The number of classes.
    pub fn classes(&self) -> u64 {
        self.classes
    }

    /// The size of the feature map entering stage `stage` (0 to 4), or leaving the last stage for `stage` 5.
    pub fn stage_input_size(&self, stage: usize) -> u64 {
        let mut size = self.resolution.div_ceil(2);
        for s in &STAGES[..stage] {
            size = size.div_ceil(s.stride);
        }
        size
    }

    /// Layer 0: the stem convolution with its batch norm.
    pub fn stem(&self) -> Cost {
        let c = FlopsCounting::THOP;
        let (conv, out) = c.conv(3, STEM, 3, 2, 1, false, self.resolution);
        conv + c.batch_norm(STEM, out)
    }

    /// Layer 1: the depthwise-separable block (depthwise 3×3, batch norm, squeeze-excite, pointwise, batch norm).
    pub fn first_block(&self) -> Cost {
        let c = FlopsCounting::THOP;
        let size = self.resolution.div_ceil(2);
        let (dw, size) = c.conv(STEM, STEM, 3, 1, STEM, false, size);
        let (pw, size) = c.conv(STEM, STEM, 1, 1, 1, false, size);
        dw + c.batch_norm(STEM, size) + squeeze_excite(STEM) + pw + c.batch_norm(STEM, size)
    }

    /// The searchable layer at `position` (0 to 29) with operation `op`.
    pub fn searchable(&self, position: usize, op: MobileOp) -> Cost {
        let slot = Slot::at(position);
        let size = if slot.first { self.stage_input_size(slot.stage) } else { self.stage_input_size(slot.stage + 1) };
        let c = FlopsCounting::THOP;
        match op.block() {
            None if slot.first => {
                let (conv, out) = c.conv(slot.in_channels, slot.out_channels, 1, slot.stride, 1, false, size);
                conv + c.batch_norm(slot.out_channels, out)
            }
            None => Cost::ZERO,
            Some((kernel, expansion)) => {
                let mid = make_divisible((slot.in_channels * expansion) as f64, 8);
                let (pw, size) = c.conv(slot.in_channels, mid, 1, 1, 1, false, size);
                let (dw, out) = c.conv(mid, mid, kernel, slot.stride, mid, false, size);
                let (pwl, out) = c.conv(mid, slot.out_channels, 1, 1, 1, false, out);
                pw + c.batch_norm(mid, size)
                    + dw
                    + c.batch_norm(mid, out)
                    + squeeze_excite(mid)
                    + pwl
                    + c.batch_norm(slot.out_channels, out)
            }
        }
    }

    /// Layer 32: the 1×1 convolution from 192 to 320 channels with its batch norm.
    pub fn head_conv(&self) -> Cost {
        let c = FlopsCounting::THOP;
        let (conv, out) = c.conv(STAGES[4].out_channels, HEAD, 1, 1, 1, false, self.stage_input_size(5));
        conv + c.batch_norm(HEAD, out)
    }

    /// Layer 33: the global average pooling.
    pub fn pool(&self) -> Cost {
        FlopsCounting::THOP.global_pool(HEAD, self.stage_input_size(5))
    }

    /// Layer 34: the 1×1 convolution (with bias) from 320 to 1280 features on the pooled vector.
    pub fn feature_conv(&self) -> Cost {
        FlopsCounting::THOP.conv(HEAD, FEATURES, 1, 1, 1, true, 1).0
    }

    /// Layer 35: the linear classifier.
    pub fn classifier(&self) -> Cost {
        FlopsCounting::THOP.linear(FEATURES, self.classes, true)
    }

    /// Every fixed layer together (0, 1 and 32 to 35).
    pub fn fixed(&self) -> Cost {
        self.stem() + self.first_block() + self.head_conv() + self.pool() + self.feature_conv() + self.classifier()
    }

    /// The cost of every operation in the first layer (`first`) or in the other layers of stage `stage` (0 to 4),
    /// in choice order: the rows of GENIUS's FLOPs tables (`flops_stage{stage + 1}_{first,rest}`).
    pub fn stage_table(&self, stage: usize, first: bool) -> [Cost; 7] {
        let position = stage * LAYERS_PER_STAGE + usize::from(!first);
        MobileOp::ALL.map(|op| self.searchable(position, op))
    }

    /// All 36 layers of the network with the searchable layers set to `ops`, in order.
    ///
    /// # Panics
    /// When `ops` does not hold 30 operations.
    pub fn layers(&self, ops: &[MobileOp]) -> Vec<LayerCost> {
        assert_eq!(ops.len(), LAYERS, "an architecture has {LAYERS} searchable layers");
        let fixed = |layer, operation: String, cost| LayerCost { layer, operation, cost };
        let mut out = vec![
            fixed(0, format!("Conv2d(3, {STEM}, kernel_size=3, stride=2) + BatchNorm"), self.stem()),
            fixed(
                1,
                format!("DepthwiseSeparable({STEM}, {STEM}, kernel_size=3, stride=1) with squeeze-excite"),
                self.first_block(),
            ),
        ];
        for (position, &op) in ops.iter().enumerate() {
            let slot = Slot::at(position);
            let operation = match op.block() {
                None => format!("Skip({}, {}, stride={})", slot.in_channels, slot.out_channels, slot.stride),
                Some((k, e)) => format!(
                    "InvertedResidual({}, {}, stride={}, kernel_size={k}, expansion={e})",
                    slot.in_channels, slot.out_channels, slot.stride
                ),
            };
            out.push(LayerCost { layer: slot.layer(), operation, cost: self.searchable(position, op) });
        }
        out.push(fixed(32, format!("Conv2d(192, {HEAD}, kernel_size=1) + BatchNorm"), self.head_conv()));
        out.push(fixed(33, "AdaptiveAvgPool2d(1)".into(), self.pool()));
        out.push(fixed(34, format!("Conv2d({HEAD}, {FEATURES}, kernel_size=1, bias=True)"), self.feature_conv()));
        out.push(fixed(35, format!("Linear({FEATURES}, {})", self.classes), self.classifier()));
        out
    }

    /// The network with the searchable layers set to `ops`, as a [`Network`] description: its parameters and FLOPs
    /// (counted as thop counts them) are [`total`](Self::total)'s.
    ///
    /// # Panics
    /// When `ops` does not hold 30 operations.
    pub fn network(&self, ops: &[MobileOp]) -> Network {
        assert_eq!(ops.len(), LAYERS, "an architecture has {LAYERS} searchable layers");
        let act = Some(Activation::HardSwish);
        let u = |v: u64| v as usize;
        let se = |channels: u64| Layer::SqueezeExcite {
            channels: u(channels),
            reduced: u(make_divisible(channels as f64 * SE_RATIO, 8)),
            activation: Activation::Relu,
            gate: Activation::HardSigmoid,
        };
        let mut layers = Layer::conv_bn(Conv2d::new(3, u(STEM), 3, 2), act);
        let mut first = Layer::conv_bn(Conv2d::depthwise(u(STEM), 3, 1), act);
        first.push(se(STEM));
        first.extend(Layer::conv_bn(Conv2d::new(u(STEM), u(STEM), 1, 1), None));
        layers.push(Layer::Residual { body: first, shortcut: None });
        for (position, &op) in ops.iter().enumerate() {
            let slot = Slot::at(position);
            let (cin, cout, stride) = (u(slot.in_channels), u(slot.out_channels), u(slot.stride));
            match op.block() {
                None if slot.first => {
                    layers.push(Layer::Sequential(Layer::conv_bn(Conv2d::new(cin, cout, 1, stride), None)))
                }
                None => {}
                Some((kernel, expansion)) => {
                    let mid = make_divisible((slot.in_channels * expansion) as f64, 8);
                    let mut body = Layer::conv_bn(Conv2d::new(cin, u(mid), 1, 1), act);
                    body.extend(Layer::conv_bn(Conv2d::depthwise(u(mid), u(kernel), stride), act));
                    body.push(se(mid));
                    body.extend(Layer::conv_bn(Conv2d::new(u(mid), cout, 1, 1), None));
                    layers.push(if stride == 1 && cin == cout {
                        Layer::Residual { body, shortcut: None }
                    } else {
                        Layer::Sequential(body)
                    });
                }
            }
        }
        layers.extend(Layer::conv_bn(Conv2d::new(u(STAGES[4].out_channels), u(HEAD), 1, 1), act));
        layers.push(Layer::GlobalAvgPool);
        layers.push(Layer::Linear { in_features: u(HEAD), out_features: u(FEATURES), bias: true });
        layers.push(Layer::Activation(Activation::HardSwish));
        layers.push(Layer::Linear { in_features: u(FEATURES), out_features: u(self.classes), bias: true });
        let ids: String = ops
            .iter()
            .map(|op| char::from(b'0' + MobileOp::ALL.iter().position(|o| o == op).unwrap_or(0) as u8))
            .collect();
        Network::new(3, u(self.resolution), u(self.classes), FlopsCounting::THOP, layers).named(format!("{NAME} {ids}"))
    }

    /// The FLOPs and parameters of the whole network with the searchable layers set to `ops`.
    ///
    /// # Panics
    /// When `ops` does not hold 30 operations.
    pub fn total(&self, ops: &[MobileOp]) -> Cost {
        assert_eq!(ops.len(), LAYERS, "an architecture has {LAYERS} searchable layers");
        self.fixed() + ops.iter().enumerate().map(|(p, &op)| self.searchable(p, op)).sum::<Cost>()
    }
}

/// A squeeze-excite module on `channels` channels (reduced to a quarter, rounded to a multiple of 8): two 1×1
/// convolutions with bias on the pooled vector. The mean and the gate are not counted.
fn squeeze_excite(channels: u64) -> Cost {
    let reduced = make_divisible(channels as f64 * SE_RATIO, 8);
    let c = FlopsCounting::THOP;
    c.conv(channels, reduced, 1, 1, 1, true, 1).0 + c.conv(reduced, channels, 1, 1, 1, true, 1).0
}

/// A FLOPs window in whole MFLOPs, both ends included. As GENIUS judged its proposals, a network's total is rounded
/// to the nearest whole MFLOP before it is compared (329.41 MFLOPs is 329, 330.24 passes [270, 330], 330.55 does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlopsWindow {
    min: u64,
    max: u64,
}

/// A FLOPs window that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a FLOPs window: {reason}; write MIN-MAX in whole MFLOPs, e.g. 270-330")]
pub struct WindowError {
    /// The offending input.
    pub input: String,
    /// What is wrong.
    pub reason: String,
}

impl FlopsWindow {
    /// The window of GENIUS-329: [270, 330] MFLOPs.
    pub const GENIUS_329: FlopsWindow = FlopsWindow { min: 270, max: 330 };
    /// The window of GENIUS-401: [370, 430] MFLOPs.
    pub const GENIUS_401: FlopsWindow = FlopsWindow { min: 370, max: 430 };

    /// The window [`min`, `max`] MFLOPs.
    pub fn new(min: u64, max: u64) -> Result<Self, WindowError> {
        if min > max {
            return Err(WindowError {
                input: format!("{min}-{max}"),
                reason: "the lower end is above the upper end".into(),
            });
        }
        Ok(Self { min, max })
    }

    /// The lower end, in MFLOPs.
    pub fn min_mflops(&self) -> u64 {
        self.min
    }

    /// The upper end, in MFLOPs.
    pub fn max_mflops(&self) -> u64 {
        self.max
    }

    /// `flops` rounded to the nearest whole MFLOP (halves up).
    pub fn rounded_mflops(flops: u64) -> u64 {
        (flops + 500_000) / 1_000_000
    }

    /// Whether a network of `flops` FLOPs lies in the window.
    pub fn contains(&self, flops: u64) -> bool {
        (self.min..=self.max).contains(&Self::rounded_mflops(flops))
    }
}

impl fmt::Display for FlopsWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}] MFLOPs", self.min, self.max)
    }
}

impl FromStr for FlopsWindow {
    type Err = WindowError;

    /// Reads `270-330`, `270,330` or `[270, 330]`.
    fn from_str(text: &str) -> Result<Self, WindowError> {
        let err = |reason: &str| WindowError { input: text.trim().to_owned(), reason: reason.into() };
        let body = text.trim().trim_start_matches('[').trim_end_matches(']');
        let (lo, hi) = body.split_once(['-', ',']).ok_or_else(|| err("expected two numbers"))?;
        let number =
            |s: &str| s.trim().parse::<u64>().map_err(|_| err(&format!("`{}` is not a whole number", s.trim())));
        let window = Self::new(number(lo)?, number(hi)?).map_err(|e| err(&e.reason))?;
        Ok(window)
    }
}

/// The GENIUS MobileNet-style ImageNet space: 30 layers × 7 operations, under an optional FLOPs window. Its text form
/// is 30 digits 0-6, one per searchable layer (layer 2 first); lists of ids (flat, or one list per stage as in
/// `[[1, 0, 0, 0, 1, 0], [1, 0, 1, 1, 1, 0], ...]`) and lists of operation labels parse too.
#[derive(Debug, Clone)]
pub struct MobileNetSpace {
    name: String,
    window: Option<FlopsWindow>,
    dims: Vec<Dimension>,
    model: MobileNetModel,
    fixed_flops: u64,
    layer_flops: [[u64; 7]; LAYERS],
    sampler: OnceLock<Option<Arc<WindowSampler>>>,
}

impl MobileNetSpace {
    /// The space under GENIUS-329's window, [270, 330] MFLOPs, named `mobilenet-imagenet`.
    pub fn new() -> Self {
        Self::build(Some(FlopsWindow::GENIUS_329))
    }

    /// The space under `window`, named `mobilenet-imagenet` for [270, 330] and `mobilenet-imagenet-MIN-MAX`
    /// otherwise, so that run logs record the window.
    pub fn with_window(window: FlopsWindow) -> Self {
        Self::build(Some(window))
    }

    /// The space without a FLOPs constraint, named `mobilenet-imagenet-unconstrained`.
    pub fn unconstrained() -> Self {
        Self::build(None)
    }

    /// The space a name given by [`name`](SearchSpace::name) stands for: `mobilenet-imagenet`,
    /// `mobilenet-imagenet-MIN-MAX` or `mobilenet-imagenet-unconstrained`; `None` for any other name.
    pub fn from_name(name: &str) -> Option<Self> {
        let rest = name.strip_prefix(NAME)?;
        if rest.is_empty() {
            return Some(Self::new());
        }
        let rest = rest.strip_prefix('-')?;
        if rest == "unconstrained" {
            return Some(Self::unconstrained());
        }
        let window: FlopsWindow = rest.parse().ok()?;
        (Self::name_for(Some(window)) == name).then(|| Self::with_window(window))
    }

    fn name_for(window: Option<FlopsWindow>) -> String {
        match window {
            Some(w) if w == FlopsWindow::GENIUS_329 => NAME.to_owned(),
            Some(w) => format!("{NAME}-{}-{}", w.min, w.max),
            None => format!("{NAME}-unconstrained"),
        }
    }

    fn build(window: Option<FlopsWindow>) -> Self {
        let model = MobileNetModel::IMAGENET;
        let labels = MobileOp::ALL.map(MobileOp::label);
        let dims = (0..LAYERS).map(|p| Dimension::new(format!("layer {}", p + 2), labels)).collect();
        let mut layer_flops = [[0u64; 7]; LAYERS];
        for (position, row) in layer_flops.iter_mut().enumerate() {
            *row = MobileOp::ALL.map(|op| model.searchable(position, op).flops);
        }
        Self {
            name: Self::name_for(window),
            window,
            dims,
            model,
            fixed_flops: model.fixed().flops,
            layer_flops,
            sampler: OnceLock::new(),
        }
    }

    /// The FLOPs window, if the space has one.
    pub fn window(&self) -> Option<FlopsWindow> {
        self.window
    }

    /// The network the space's FLOPs are counted on (224×224 inputs, 1000 classes).
    pub fn model(&self) -> MobileNetModel {
        self.model
    }

    /// The operation of every searchable layer of `arch`.
    ///
    /// # Panics
    /// When `arch` is not an architecture of the space.
    pub fn ops(arch: &Architecture) -> Vec<MobileOp> {
        assert_eq!(arch.len(), LAYERS, "an architecture has {LAYERS} searchable layers");
        arch.choices().iter().map(|&c| MobileOp::from_choice(usize::from(c))).collect()
    }

    /// The total FLOPs of `arch` (fast: from a precomputed table).
    ///
    /// # Panics
    /// When `arch` is not an architecture of the space.
    pub fn flops(&self, arch: &Architecture) -> u64 {
        assert_eq!(arch.len(), LAYERS, "an architecture has {LAYERS} searchable layers");
        self.fixed_flops
            + arch.choices().iter().zip(&self.layer_flops).map(|(&c, row)| row[usize::from(c)]).sum::<u64>()
    }

    /// The total FLOPs and parameters of `arch`.
    ///
    /// # Panics
    /// When `arch` is not an architecture of the space.
    pub fn cost(&self, arch: &Architecture) -> Cost {
        self.model.total(&Self::ops(arch))
    }

    /// The cost of every layer of `arch`, fixed layers included.
    ///
    /// # Panics
    /// When `arch` is not an architecture of the space.
    pub fn layers(&self, arch: &Architecture) -> Vec<LayerCost> {
        self.model.layers(&Self::ops(arch))
    }

    /// A uniformly random architecture among those inside the FLOPs window (any architecture when the space has no
    /// window); `None` when the window holds none (or, for a window so narrow that it holds fewer than about 1 in
    /// 100,000 of the architectures within 3 MFLOPs of it, when none was found in 100,000 draws).
    ///
    /// Rejection sampling ([`SpaceExt::sample_valid`]) is hopeless here: about 1 uniform architecture in 100,000 lies
    /// in [270, 330] MFLOPs (the mean is 560). This samples exactly uniformly instead: it counts, layer by layer, how
    /// many completions of a partial architecture end in the window (on FLOPs rounded down to 0.1 MFLOP per layer,
    /// a slight superset of the window), draws each layer's operation with probability proportional to its count,
    /// and rejects the rare draw that the exact FLOPs put outside the window. The counts are computed on the first call
    /// (a few milliseconds) and kept.
    pub fn sample_in_window<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Architecture> {
        let Some(window) = self.window else { return Some(self.sample(rng)) };
        let sampler = self.sampler.get_or_init(|| WindowSampler::new(self, window).map(Arc::new)).as_ref()?;
        (0..Self::MAX_DRAWS).map(|_| sampler.draw(rng)).find(|arch| window.contains(self.flops(arch)))
    }

    /// How many candidates [`sample_in_window`](Self::sample_in_window) draws at most.
    const MAX_DRAWS: usize = 100_000;
}

/// Counts of window completions over FLOPs quantised to buckets, for [`MobileNetSpace::sample_in_window`].
#[derive(Debug)]
struct WindowSampler {
    /// Each layer's choices in buckets.
    buckets: Vec<[usize; 7]>,
    /// `counts[l][s]`: how many ways layers `l..` can be completed from partial bucket sum `s` to end in `lo..=hi`.
    counts: Vec<Vec<u128>>,
}

impl WindowSampler {
    const BUCKET: u64 = 100_000;

    fn new(space: &MobileNetSpace, window: FlopsWindow) -> Option<Self> {
        // Exact total T = fixed + Σ f, and Σ floor(f / B) · B ≤ Σ f < Σ floor(f / B) · B + 30 B. The window holds
        // T with lo_f ≤ T < hi_f (rounding half up), so every architecture in it has a bucket sum in [lo, hi].
        let lo_f = (window.min * 1_000_000).saturating_sub(500_000);
        let hi_f = window.max * 1_000_000 + 500_000;
        let searchable_lo = lo_f.saturating_sub(space.fixed_flops);
        let searchable_hi = hi_f.checked_sub(space.fixed_flops)?;
        let lo = (searchable_lo / Self::BUCKET).saturating_sub(LAYERS as u64) as usize;
        let hi = (searchable_hi / Self::BUCKET) as usize;
        let buckets: Vec<[usize; 7]> =
            space.layer_flops.iter().map(|row| row.map(|f| (f / Self::BUCKET) as usize)).collect();
        let mut counts = vec![vec![0u128; hi + 1]; LAYERS + 1];
        counts[LAYERS][lo..=hi].fill(1);
        for l in (0..LAYERS).rev() {
            for s in 0..=hi {
                counts[l][s] = buckets[l].iter().filter(|&&b| s + b <= hi).map(|&b| counts[l + 1][s + b]).sum();
            }
        }
        (counts[0][0] > 0).then_some(Self { buckets, counts })
    }

    fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Architecture {
        let mut s = 0usize;
        let mut choices = Vec::with_capacity(LAYERS);
        for l in 0..LAYERS {
            let weight = |b: usize| self.counts[l + 1].get(s + b).copied().unwrap_or(0);
            let mut pick = rng.random_range(0..self.counts[l][s]);
            let mut chosen = 0;
            for (c, &b) in self.buckets[l].iter().enumerate() {
                if pick < weight(b) {
                    chosen = c;
                    break;
                }
                pick -= weight(b);
            }
            s += self.buckets[l][chosen];
            choices.push(chosen as u16);
        }
        Architecture::new(choices)
    }
}

impl Default for MobileNetSpace {
    fn default() -> Self {
        Self::new()
    }
}

/// `value` in MFLOPs with 4 decimals, trailing zeros dropped (`1.5053`, `14.313`, `0.0`).
fn mflops_text(flops: u64) -> String {
    let text = format!("{:.4}", flops as f64 / 1e6);
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') { format!("{trimmed}0") } else { trimmed.to_owned() }
}

impl SearchSpace for MobileNetSpace {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    fn parse(&self, text: &str) -> Result<Architecture, ParseError> {
        let mut flat: String = text.chars().map(|c| if matches!(c, '[' | ']' | '(' | ')') { ' ' } else { c }).collect();
        // One digit string per stage (`100010 101110 ...`) reads as the digits together.
        let tokens: Vec<&str> = flat.split([',', ';', ' ', '\n', '\t']).filter(|t| !t.is_empty()).collect();
        if tokens.len() != LAYERS
            && tokens.iter().all(|t| t.bytes().all(|b| b.is_ascii_digit()))
            && tokens.iter().map(|t| t.len()).sum::<usize>() == LAYERS
        {
            flat = tokens.concat();
        }
        genius_core::default_parse(&self.name, &self.dims, &flat).map_err(|mut e| {
            e.input = ParseError::new(&self.name, text.trim(), "").input;
            e.reason.push_str(
                "; write 30 operation ids 0-6 (0 skip, 1-6 inverted residuals), layer 2 first, as a list like [1, 2, \
                 ..., 0] or as five lists of six, one per stage",
            );
            e
        })
    }

    fn check(&self, arch: &Architecture) -> Result<(), Violation> {
        let Some(window) = self.window else { return Ok(()) };
        let flops = self.flops(arch);
        if window.contains(flops) {
            Ok(())
        } else {
            Err(Violation {
                message: format!(
                    "{:.2} MFLOPs (rounded: {}) is outside the FLOPs window {window}",
                    flops as f64 / 1e6,
                    FlopsWindow::rounded_mflops(flops)
                ),
            })
        }
    }

    fn is_constrained(&self) -> bool {
        self.window.is_some()
    }

    /// Within a stage, a Skip after the stage's first layer is an identity (same shape, stride 1): the stage is the
    /// same network with its skips moved to the end. The first layer's Skip is a 1x1 convolution and stays.
    fn canonical(&self, arch: &Architecture) -> Architecture {
        let mut choices = Vec::with_capacity(LAYERS);
        for stage in arch.choices().chunks(LAYERS_PER_STAGE) {
            let (first, rest) = stage.split_first().expect("stages are not empty");
            choices.push(*first);
            let blocks: Vec<u16> = rest.iter().copied().filter(|&c| c != 0).collect();
            choices.extend(blocks.iter().copied().chain(std::iter::repeat_n(0, rest.len() - blocks.len())));
        }
        Architecture::new(choices)
    }

    fn stated_mflops(&self, arch: &Architecture) -> Option<u64> {
        Some(FlopsWindow::rounded_mflops(self.flops(arch)))
    }

    /// Exactly uniform over the window, by [`MobileNetSpace::sample_in_window`] (rejection sampling would need about
    /// 100,000 uniform draws per architecture in [270, 330] MFLOPs).
    fn sample_feasible(&self, rng: &mut SearchRng) -> Option<Architecture> {
        self.sample_in_window(rng)
    }

    /// The network at the space's 224×224 resolution with a classifier for `classes` classes
    /// ([`MobileNetModel::network`]); it runs at any resolution, and its FLOPs at another are
    /// [`Network::cost_at`](genius_core::network::Network::cost_at)'s.
    fn network(&self, arch: &Architecture, classes: usize) -> Option<Network> {
        (classes > 0).then(|| MobileNetModel::new(self.model.resolution(), classes as u64).network(&Self::ops(arch)))
    }

    fn brief(&self) -> Option<SpaceBrief> {
        let m = &self.model;
        let operations = MobileOp::ALL
            .iter()
            .enumerate()
            .map(|(i, op)| match op.block() {
                None => format!("{i}: Skip(in_channels, out_channels, stride)"),
                Some((k, e)) => {
                    format!("{i}: InvertedResidual(in_channels, out_channels, stride, kernel_size={k}, expansion={e})")
                }
            })
            .collect();
        let mut layout = vec![
            format!(
                "layer0: fixed, Conv2d(3, 16, kernel_size=3, stride=2) + BatchNorm, {} MFLOPs",
                mflops_text(m.stem().flops)
            ),
            format!(
                "layer1: fixed, depthwise-separable Conv2d(16, 16, kernel_size=3, stride=1) with squeeze-excite, {} MFLOPs",
                mflops_text(m.first_block().flops)
            ),
        ];
        for position in 0..LAYERS {
            let slot = Slot::at(position);
            let table = format!("stage{}_{}", slot.stage + 1, if slot.first { "first" } else { "rest" });
            layout.push(format!(
                "layer{}: searchable, stage {}, in_channels={}, out_channels={}, stride={}{}, MFLOPs {table}[op_list[{position}]]",
                slot.layer(),
                slot.stage + 1,
                slot.in_channels,
                slot.out_channels,
                slot.stride,
                if slot.stride == 2 { " (downsample)" } else { "" },
            ));
        }
        layout.push(format!(
            "layer32: fixed, Conv2d(192, 320, kernel_size=1) + BatchNorm, {} MFLOPs",
            mflops_text(m.head_conv().flops)
        ));
        layout.push(format!("layer33: fixed, global average pooling, {} MFLOPs", mflops_text(m.pool().flops)));
        layout.push(format!(
            "layer34: fixed, Conv2d(320, 1280, kernel_size=1), {} MFLOPs",
            mflops_text(m.feature_conv().flops)
        ));
        layout.push(format!("layer35: fixed, Linear(1280, 1000), {} MFLOPs", mflops_text(m.classifier().flops)));
        let mut tables = Vec::new();
        for stage in 0..STAGES.len() {
            for first in [true, false] {
                let row: Vec<String> = m.stage_table(stage, first).iter().map(|c| mflops_text(c.flops)).collect();
                tables.push(BriefTable {
                    title: format!("stage{}_{}", stage + 1, if first { "first" } else { "rest" }),
                    text: format!("[{}]", row.join(", ")),
                });
            }
        }
        let window = match self.window {
            Some(w) => format!("; the total FLOPs of the model, fixed and searchable layers together, must lie in {w}"),
            None => String::new(),
        };
        Some(SpaceBrief {
            task: "The model will be trained and tested on ImageNet, and the objective is to maximize its top-1 accuracy."
                .into(),
            operations,
            notes: vec![
                "Skip removes a layer; in the first layer of a stage, where in_channels != out_channels or stride != 1, \
                 it is a 1x1 convolution with batch normalization that gives the feature map the expected shape."
                    .into(),
                "Every InvertedResidual has a squeeze-and-excitation module and keeps a residual connection where its \
                 input and output shapes agree."
                    .into(),
                "A downsampling layer halves the width and height of the feature map.".into(),
                "The 30 searchable layers form five stages of six: stage 1 is layers 2-7, stage 2 layers 8-13, stage 3 \
                 layers 14-19, stage 4 layers 20-25 and stage 5 layers 26-31; skipping layers sets the depth of a \
                 stage."
                    .into(),
                "The tables give the MFLOPs of each operation (indexed by operation id) in the first layer \
                 (stageN_first) and in the other layers (stageN_rest) of each stage; the FLOPs of a model are the sum \
                 over its layers."
                    .into(),
            ],
            layout: layout.join("\n"),
            notation: Notation::Choices,
            answer_format: format!(
                "op_list: a list of 30 operation ids, each 0 to 6, one per searchable layer from layer2 to layer31{window}"
            ),
            example: genius_core::elided_example(self, Notation::Choices),
            tables,
            dialogue: genius_core::Dialogue::Fresh,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_follows_timm() {
        assert_eq!(make_divisible(96.0, 8), 96);
        assert_eq!(make_divisible(4.0, 8), 8);
        assert_eq!(make_divisible(36.0, 8), 40);
        assert_eq!(make_divisible(60.0, 8), 64);
        assert_eq!(make_divisible(288.0, 8), 288);
        assert_eq!(make_divisible(10.0, 8), 16, "never more than 10% below");
    }

    #[test]
    fn feature_maps_shrink_by_stage_strides() {
        let m = MobileNetModel::IMAGENET;
        let sizes: Vec<u64> = (0..=5).map(|s| m.stage_input_size(s)).collect();
        assert_eq!(sizes, [112, 56, 28, 14, 14, 7]);
        assert_eq!(MobileNetModel::new(196, 1000).stage_input_size(5), 7);
        assert_eq!(MobileNetModel::new(160, 1000).stage_input_size(5), 5);
    }

    #[test]
    fn mflops_text_drops_trailing_zeros() {
        assert_eq!(mflops_text(1_505_280), "1.5053");
        assert_eq!(mflops_text(14_313_000), "14.313");
        assert_eq!(mflops_text(0), "0.0");
    }
}
