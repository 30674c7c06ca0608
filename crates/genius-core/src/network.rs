//! A small, framework-free description of a convolutional network: what a space's architecture *is* as a network.
//!
//! A space that can be trained for real returns a [`Network`] from [`SearchSpace::network`](crate::SearchSpace::network);
//! a trainer (genius-train) turns it into a module of its tensor library, and the space's analytic calculators can be
//! checked against the same description ([`Network::params`], [`Network::flops`]). One description per network, so the
//! trained network and the counted one cannot drift apart.
//!
//! The vocabulary is the handful of layers the benchmark networks use: 2-D convolutions (square kernels, padded by
//! `kernel / 2`, optionally grouped and biased), batch normalization, activations, average pooling, global average
//! pooling, linear layers, squeeze-and-excitation, sequences, residual blocks with an identity or projection
//! shortcut, and a cell (a small DAG whose nodes sum operations on edges from earlier nodes, as in NAS-Bench-201).
//!
//! ```
//! use genius_core::network::{Activation, Conv2d, FlopsCounting, Layer, Network};
//!
//! let net = Network::new(3, 32, 10, FlopsCounting::MACS, vec![
//!     Layer::Conv2d(Conv2d::new(3, 16, 3, 1)),
//!     Layer::BatchNorm(16),
//!     Layer::Activation(Activation::Relu),
//!     Layer::GlobalAvgPool,
//!     Layer::Linear { in_features: 16, out_features: 10, bias: true },
//! ]);
//! net.check()?;
//! assert_eq!(net.params(), 3 * 16 * 9 + 2 * 16 + 16 * 10 + 10);
//! assert_eq!(net.flops(), 3 * 16 * 9 * 32 * 32 + 16 * 10);
//! # Ok::<(), genius_core::network::NetworkError>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// A 2-D convolution with a square kernel, padded by `kernel / 2` on every side (so a stride-`s` convolution with an
/// odd kernel maps a `size × size` map to `ceil(size / s)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Conv2d {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size (odd).
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Groups: 1 for a dense convolution, `in_channels` for a depthwise one.
    pub groups: usize,
    /// Whether it adds a learned bias.
    pub bias: bool,
}

impl Conv2d {
    /// A dense convolution without bias.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize, stride: usize) -> Self {
        Self { in_channels, out_channels, kernel, stride, groups: 1, bias: false }
    }

    /// A depthwise convolution (one filter per channel) without bias.
    pub fn depthwise(channels: usize, kernel: usize, stride: usize) -> Self {
        Self { in_channels: channels, out_channels: channels, kernel, stride, groups: channels, bias: false }
    }

    /// The same convolution with a bias.
    pub fn with_bias(self) -> Self {
        Self { bias: true, ..self }
    }

    /// The padding on each side: `kernel / 2`.
    pub fn padding(&self) -> usize {
        self.kernel / 2
    }

    /// Trainable parameters: the weights and the bias.
    pub fn params(&self) -> u64 {
        let weights = self.out_channels * (self.in_channels / self.groups.max(1)) * self.kernel * self.kernel;
        (weights + if self.bias { self.out_channels } else { 0 }) as u64
    }

    /// The output size for a `size × size` input.
    pub fn output_size(&self, size: usize) -> usize {
        (size + 2 * self.padding()).saturating_sub(self.kernel) / self.stride.max(1) + 1
    }
}

/// An element-wise activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `x · relu6(x + 3) / 6`.
    HardSwish,
    /// `relu6(x + 3) / 6`.
    HardSigmoid,
}

/// One layer (or a composite of layers) of a [`Network`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// A 2-D convolution.
    Conv2d(Conv2d),
    /// Batch normalization of this many channels, with a learned scale and shift (and running statistics).
    BatchNorm(usize),
    /// An activation.
    Activation(Activation),
    /// Average pooling with a square window.
    AvgPool2d {
        /// Window size.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on each side.
        padding: usize,
        /// Whether padded zeros count in the average (PyTorch's `count_include_pad`).
        count_include_pad: bool,
    },
    /// The mean over the spatial positions: `[N, C, H, W]` → `[N, C]`.
    GlobalAvgPool,
    /// A linear layer on vectors.
    Linear {
        /// Input features.
        in_features: usize,
        /// Output features.
        out_features: usize,
        /// Whether it adds a learned bias.
        bias: bool,
    },
    /// Zeros shaped like the input: a cut edge (NAS-Bench-201's `none`).
    Zero,
    /// Layers applied in order; an empty sequence is the identity.
    Sequential(Vec<Layer>),
    /// `body(x) + shortcut(x)`, where the shortcut is the identity when `None`.
    Residual {
        /// The main branch.
        body: Vec<Layer>,
        /// The projection shortcut; `None` for the identity.
        shortcut: Option<Vec<Layer>>,
    },
    /// Squeeze-and-excitation: the input scaled per channel by `gate(expand(act(reduce(mean(x)))))`, where `reduce`
    /// and `expand` are 1×1 convolutions with bias between `channels` and `reduced` channels.
    SqueezeExcite {
        /// Channels of the input.
        channels: usize,
        /// Channels after the reduction.
        reduced: usize,
        /// The activation between the two convolutions.
        activation: Activation,
        /// The gate.
        gate: Activation,
    },
    /// A DAG cell.
    Cell(Cell),
}

/// A cell: node 0 is the cell's input; node `j ≥ 1` is the sum of its edges' operations applied to earlier nodes;
/// the last node is the cell's output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cell {
    /// The incoming edges of nodes 1, 2, … (so `nodes[j - 1]` holds node `j`'s edges).
    pub nodes: Vec<Vec<Edge>>,
}

/// An edge of a [`Cell`]: an operation applied to an earlier node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Edge {
    /// The node it reads (lower than the node it feeds).
    pub from: usize,
    /// The operation, applied in order; empty for the identity.
    pub op: Vec<Layer>,
}

/// What a FLOPs count includes beyond the multiply-accumulates of convolutions and linear layers (which every
/// convention counts, without their biases). Parameters are counted the same way under every convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FlopsCounting {
    /// FLOPs per output element of a batch normalization.
    pub batch_norm_per_element: u64,
    /// Whether a global average pooling counts `(H·W + 1)` FLOPs per channel.
    pub global_pool: bool,
}

impl FlopsCounting {
    /// Convolutions and linear layers only (multiply-accumulates), as the NAS-Bench-Macro and Channel-Bench-Macro
    /// tables count FLOPs.
    pub const MACS: FlopsCounting = FlopsCounting { batch_norm_per_element: 0, global_pool: false };
    /// thop 0.1 (`thop.profile`), as GENIUS counted its ImageNet space: also 4 FLOPs per batch-norm element and the
    /// global pooling.
    pub const THOP: FlopsCounting = FlopsCounting { batch_norm_per_element: 4, global_pool: true };
}

/// The shape of one image's activations between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Shape {
    /// A `channels × size × size` feature map.
    Map {
        /// Channels.
        channels: usize,
        /// Height and width.
        size: usize,
    },
    /// A feature vector.
    Vector(usize),
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Map { channels, size } => write!(f, "{channels}×{size}×{size}"),
            Self::Vector(n) => write!(f, "vector of {n}"),
        }
    }
}

/// A network whose layers do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("network {network}, {path}: {reason}")]
pub struct NetworkError {
    /// The network's name.
    pub network: String,
    /// Where in the network, e.g. `layer 3 / residual body / layer 1`.
    pub path: String,
    /// What does not fit.
    pub reason: String,
}

/// Parameters and FLOPs of a network, or of a layer or block of one: costs add up (`+`, `+=`, `Sum`), and a part
/// can be taken out of a whole (`-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct NetworkCost {
    /// Trainable parameters (weights, biases, and batch-norm scales and shifts; running statistics excluded).
    pub params: u64,
    /// FLOPs (multiply-accumulates) of one forward pass of one image, under the network's [`FlopsCounting`].
    pub flops: u64,
}

impl NetworkCost {
    /// No cost.
    pub const ZERO: NetworkCost = NetworkCost { flops: 0, params: 0 };

    /// A cost of `flops` FLOPs and `params` parameters.
    pub const fn new(flops: u64, params: u64) -> Self {
        Self { flops, params }
    }

    /// The FLOPs in millions.
    pub fn mflops(self) -> f64 {
        self.flops as f64 / 1e6
    }

    /// The parameters in millions.
    pub fn mparams(self) -> f64 {
        self.params as f64 / 1e6
    }
}

impl std::ops::Add for NetworkCost {
    type Output = NetworkCost;

    fn add(self, other: NetworkCost) -> NetworkCost {
        NetworkCost { flops: self.flops + other.flops, params: self.params + other.params }
    }
}

/// The cost of a part taken out of a whole (e.g. a network without one layer).
///
/// # Panics
/// When `other` is not part of `self` (either count would go below zero).
impl std::ops::Sub for NetworkCost {
    type Output = NetworkCost;

    fn sub(self, other: NetworkCost) -> NetworkCost {
        let less = |a: u64, b: u64| a.checked_sub(b).expect("a cost can only lose what it holds");
        NetworkCost { flops: less(self.flops, other.flops), params: less(self.params, other.params) }
    }
}

impl std::ops::AddAssign for NetworkCost {
    fn add_assign(&mut self, other: NetworkCost) {
        *self = *self + other;
    }
}

impl std::iter::Sum for NetworkCost {
    fn sum<I: Iterator<Item = NetworkCost>>(iter: I) -> NetworkCost {
        iter.fold(NetworkCost::ZERO, std::ops::Add::add)
    }
}

impl<'a> std::iter::Sum<&'a NetworkCost> for NetworkCost {
    fn sum<I: Iterator<Item = &'a NetworkCost>>(iter: I) -> NetworkCost {
        iter.copied().sum()
    }
}

/// A classification network: an image of `in_channels × resolution × resolution` in, `classes` logits out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Network {
    /// A short name for messages, e.g. `nas-bench-macro 02012100`.
    pub name: String,
    /// Input channels (3 for RGB).
    pub in_channels: usize,
    /// The input resolution the network was designed for (it runs at any resolution its strides allow).
    pub resolution: usize,
    /// Output classes.
    pub classes: usize,
    /// How its FLOPs are counted (the convention of the benchmark it comes from).
    pub counting: FlopsCounting,
    /// The layers, in order; the last one outputs `classes` features.
    pub layers: Vec<Layer>,
}

impl Network {
    /// A network named `network` until [`named`](Self::named) renames it.
    pub fn new(
        in_channels: usize,
        resolution: usize,
        classes: usize,
        counting: FlopsCounting,
        layers: Vec<Layer>,
    ) -> Self {
        Self { name: "network".into(), in_channels, resolution, classes, counting, layers }
    }

    /// The same network under another name.
    pub fn named(self, name: impl Into<String>) -> Self {
        Self { name: name.into(), ..self }
    }

    /// Checks that the layers fit together at the design resolution and end in `classes` features.
    pub fn check(&self) -> Result<(), NetworkError> {
        self.cost_at(self.resolution).map(|_| ())
    }

    /// Trainable parameters (weights, biases, batch-norm scales and shifts).
    pub fn params(&self) -> u64 {
        self.layers.iter().map(Layer::params).sum()
    }

    /// FLOPs of one forward pass of one image at the design resolution.
    ///
    /// # Panics
    /// When the layers do not fit together ([`check`](Self::check) says why).
    pub fn flops(&self) -> u64 {
        match self.cost_at(self.resolution) {
            Ok(cost) => cost.flops,
            Err(e) => panic!("{e}"),
        }
    }

    /// Parameters and FLOPs at input resolution `resolution`, checking that the layers fit together.
    pub fn cost_at(&self, resolution: usize) -> Result<NetworkCost, NetworkError> {
        let mut tracer = Tracer { network: &self.name, counting: self.counting, flops: 0 };
        let input = Shape::Map { channels: self.in_channels, size: resolution };
        let out = tracer.sequence(&self.layers, input, "layer")?;
        if out != Shape::Vector(self.classes) {
            return Err(tracer.error(
                "output".into(),
                format!("the network ends in {out}, expected a vector of {} classes", self.classes),
            ));
        }
        Ok(NetworkCost { params: self.params(), flops: tracer.flops })
    }

    /// The output shape of every top-level layer at input resolution `resolution`, in order.
    pub fn shapes_at(&self, resolution: usize) -> Result<Vec<Shape>, NetworkError> {
        let mut tracer = Tracer { network: &self.name, counting: self.counting, flops: 0 };
        let mut shape = Shape::Map { channels: self.in_channels, size: resolution };
        let mut out = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            shape = tracer.layer(layer, shape, &format!("layer {i}"))?;
            out.push(shape);
        }
        Ok(out)
    }

    /// Visits every layer, composites before their parts, in the order a builder creates their parameters.
    pub fn visit(&self, f: &mut impl FnMut(&Layer)) {
        for layer in &self.layers {
            layer.visit(f);
        }
    }
}

impl Layer {
    /// A convolution, its batch normalization and, if given, an activation.
    pub fn conv_bn(conv: Conv2d, activation: Option<Activation>) -> Vec<Layer> {
        let mut out = vec![Layer::Conv2d(conv), Layer::BatchNorm(conv.out_channels)];
        out.extend(activation.map(Layer::Activation));
        out
    }

    /// Trainable parameters of this layer and everything inside it.
    pub fn params(&self) -> u64 {
        match self {
            Self::Conv2d(c) => c.params(),
            Self::BatchNorm(c) => 2 * *c as u64,
            Self::Linear { in_features, out_features, bias } => {
                (in_features * out_features + if *bias { *out_features } else { 0 }) as u64
            }
            Self::SqueezeExcite { channels, reduced, .. } => (2 * channels * reduced + channels + reduced) as u64,
            Self::Sequential(layers) => layers.iter().map(Layer::params).sum(),
            Self::Residual { body, shortcut } => body.iter().chain(shortcut.iter().flatten()).map(Layer::params).sum(),
            Self::Cell(cell) => cell.nodes.iter().flatten().flat_map(|e| &e.op).map(Layer::params).sum(),
            Self::Activation(_) | Self::AvgPool2d { .. } | Self::GlobalAvgPool | Self::Zero => 0,
        }
    }

    /// Visits this layer, then the layers inside it in order (a residual's body before its shortcut, a cell's nodes
    /// and edges in order).
    pub fn visit(&self, f: &mut impl FnMut(&Layer)) {
        f(self);
        match self {
            Self::Sequential(layers) => layers.iter().for_each(|l| l.visit(f)),
            Self::Residual { body, shortcut } => {
                body.iter().chain(shortcut.iter().flatten()).for_each(|l| l.visit(f));
            }
            Self::Cell(cell) => cell.nodes.iter().flatten().flat_map(|e| &e.op).for_each(|l| l.visit(f)),
            _ => {}
        }
    }
}

struct Tracer<'a> {
    network: &'a str,
    counting: FlopsCounting,
    flops: u64,
}

impl Tracer<'_> {
    fn error(&self, path: String, reason: String) -> NetworkError {
        NetworkError { network: self.network.to_owned(), path, reason }
    }

    fn sequence(&mut self, layers: &[Layer], mut shape: Shape, prefix: &str) -> Result<Shape, NetworkError> {
        for (i, layer) in layers.iter().enumerate() {
            shape = self.layer(layer, shape, &format!("{prefix} {i}"))?;
        }
        Ok(shape)
    }

    fn map(&self, shape: Shape, path: &str, what: &str) -> Result<(usize, usize), NetworkError> {
        match shape {
            Shape::Map { channels, size } => Ok((channels, size)),
            Shape::Vector(_) => Err(self.error(path.to_owned(), format!("{what} needs a feature map, got {shape}"))),
        }
    }

    fn layer(&mut self, layer: &Layer, shape: Shape, path: &str) -> Result<Shape, NetworkError> {
        match layer {
            Layer::Conv2d(c) => {
                let (channels, size) = self.map(shape, path, "a convolution")?;
                if channels != c.in_channels {
                    return Err(self.error(
                        path.into(),
                        format!("the convolution expects {} input channels, got {channels}", c.in_channels),
                    ));
                }
                let groups_fit =
                    c.groups >= 1 && c.in_channels.is_multiple_of(c.groups) && c.out_channels.is_multiple_of(c.groups);
                if c.kernel == 0 || c.kernel.is_multiple_of(2) || c.stride == 0 || !groups_fit {
                    return Err(self.error(
                        path.into(),
                        format!(
                            "invalid convolution: kernel {} (odd), stride {} (≥ 1), groups {} (dividing {} and {})",
                            c.kernel, c.stride, c.groups, c.in_channels, c.out_channels
                        ),
                    ));
                }
                if size + 2 * c.padding() < c.kernel {
                    return Err(self.error(path.into(), format!("a {size}×{size} map is too small for the kernel")));
                }
                let out = c.output_size(size);
                let weights = c.out_channels * (c.in_channels / c.groups) * c.kernel * c.kernel;
                self.flops += (out * out * weights) as u64;
                Ok(Shape::Map { channels: c.out_channels, size: out })
            }
            Layer::BatchNorm(c) => {
                let (channels, size) = self.map(shape, path, "a batch norm")?;
                if channels != *c {
                    return Err(self.error(path.into(), format!("batch norm of {c} channels, got {channels}")));
                }
                self.flops += self.counting.batch_norm_per_element * (channels * size * size) as u64;
                Ok(shape)
            }
            Layer::Activation(_) | Layer::Zero => Ok(shape),
            Layer::AvgPool2d { kernel, stride, padding, .. } => {
                let (channels, size) = self.map(shape, path, "a pooling")?;
                if *kernel == 0 || *stride == 0 || size + 2 * padding < *kernel || 2 * padding > *kernel {
                    return Err(self.error(
                        path.into(),
                        format!(
                            "invalid pooling: window {kernel}, stride {stride}, padding {padding} on {size}×{size}"
                        ),
                    ));
                }
                Ok(Shape::Map { channels, size: (size + 2 * padding - kernel) / stride + 1 })
            }
            Layer::GlobalAvgPool => {
                let (channels, size) = self.map(shape, path, "a global pooling")?;
                if self.counting.global_pool {
                    self.flops += ((size * size + 1) * channels) as u64;
                }
                Ok(Shape::Vector(channels))
            }
            Layer::Linear { in_features, out_features, .. } => match shape {
                Shape::Vector(n) if n == *in_features => {
                    self.flops += (in_features * out_features) as u64;
                    Ok(Shape::Vector(*out_features))
                }
                _ => Err(self.error(path.into(), format!("a linear layer of {in_features} inputs got {shape}"))),
            },
            Layer::Sequential(layers) => self.sequence(layers, shape, &format!("{path} / layer")),
            Layer::Residual { body, shortcut } => {
                let out = self.sequence(body, shape, &format!("{path} / body layer"))?;
                let short = match shortcut {
                    Some(layers) => self.sequence(layers, shape, &format!("{path} / shortcut layer"))?,
                    None => shape,
                };
                if out != short {
                    return Err(self.error(
                        path.into(),
                        format!("the body gives {out} but the shortcut gives {short}; they cannot be added"),
                    ));
                }
                Ok(out)
            }
            Layer::SqueezeExcite { channels, reduced, .. } => {
                let (c, _) = self.map(shape, path, "a squeeze-excite")?;
                if c != *channels || *reduced == 0 {
                    return Err(self.error(path.into(), format!("squeeze-excite of {channels} channels, got {c}")));
                }
                self.flops += (2 * channels * reduced) as u64;
                Ok(shape)
            }
            Layer::Cell(cell) => {
                if cell.nodes.is_empty() {
                    return Err(self.error(path.into(), "a cell needs at least one node".into()));
                }
                let mut nodes = vec![shape];
                for (j, edges) in cell.nodes.iter().enumerate() {
                    let node = j + 1;
                    if edges.is_empty() {
                        return Err(self.error(path.into(), format!("node {node} of the cell has no edge")));
                    }
                    let mut out = None;
                    for edge in edges {
                        let Some(&input) = nodes.get(edge.from) else {
                            return Err(self.error(
                                path.into(),
                                format!("node {node} reads node {}, which does not come before it", edge.from),
                            ));
                        };
                        let edge_path = format!("{path} / edge {node}<-{} layer", edge.from);
                        let shape = self.sequence(&edge.op, input, &edge_path)?;
                        match out {
                            Some(s) if s != shape => {
                                return Err(
                                    self.error(path.into(), format!("node {node} sums {s} and {shape}, which differ"))
                                );
                            }
                            _ => out = Some(shape),
                        }
                    }
                    nodes.push(out.expect("a node has an edge"));
                }
                Ok(*nodes.last().expect("a cell has a node"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(layers: Vec<Layer>) -> Network {
        Network::new(3, 8, 4, FlopsCounting::MACS, layers).named("test")
    }

    #[test]
    fn residuals_cells_and_squeeze_excite_are_counted() {
        let conv = Conv2d::new(3, 8, 3, 1);
        let cell = Cell {
            nodes: vec![
                vec![Edge { from: 0, op: Layer::conv_bn(Conv2d::new(8, 8, 1, 1), None) }],
                vec![Edge { from: 0, op: vec![] }, Edge { from: 1, op: vec![Layer::Zero] }],
            ],
        };
        let n = net(vec![
            Layer::Conv2d(conv),
            Layer::Residual {
                body: Layer::conv_bn(Conv2d::depthwise(8, 3, 1), Some(Activation::Relu)),
                shortcut: None,
            },
            Layer::Cell(cell),
            Layer::SqueezeExcite {
                channels: 8,
                reduced: 2,
                activation: Activation::Relu,
                gate: Activation::HardSigmoid,
            },
            Layer::Residual {
                body: Layer::conv_bn(Conv2d::new(8, 16, 3, 2), None),
                shortcut: Some(vec![
                    Layer::AvgPool2d { kernel: 2, stride: 2, padding: 0, count_include_pad: true },
                    Layer::Conv2d(Conv2d::new(8, 16, 1, 1)),
                ]),
            },
            Layer::GlobalAvgPool,
            Layer::Linear { in_features: 16, out_features: 4, bias: true },
        ]);
        n.check().unwrap();
        let params = 3 * 8 * 9 + (8 * 9 + 16) + (64 + 16) + (2 * 8 * 2 + 8 + 2) + (8 * 16 * 9 + 32 + 8 * 16) + (64 + 4);
        assert_eq!(n.params(), params);
        let flops = 3 * 8 * 9 * 64 + 8 * 9 * 64 + 64 * 64 + 32 + 8 * 16 * 9 * 16 + 8 * 16 * 16 + 64;
        assert_eq!(n.flops(), flops);
        let thop = Network { counting: FlopsCounting::THOP, ..n.clone() };
        assert_eq!(thop.flops(), flops + 4 * (8 * 64 + 8 * 64 + 16 * 16) + (16 + 1) * 16);
        let shapes = n.shapes_at(8).unwrap();
        assert_eq!(shapes[4], Shape::Map { channels: 16, size: 4 });
        let mut seen = 0;
        n.visit(&mut |_| seen += 1);
        assert_eq!(seen, 7 + 3 + 3 + 4);
    }

    #[test]
    fn mismatches_name_the_layer() {
        let e = net(vec![Layer::Conv2d(Conv2d::new(4, 8, 3, 1))]).check().unwrap_err();
        assert_eq!(e.to_string(), "network test, layer 0: the convolution expects 4 input channels, got 3");
        let e = net(vec![Layer::Residual { body: vec![Layer::Conv2d(Conv2d::new(3, 8, 3, 2))], shortcut: None }])
            .check()
            .unwrap_err();
        assert!(e.reason.contains("the body gives 8×4×4 but the shortcut gives 3×8×8"), "{e}");
        let e = net(vec![Layer::GlobalAvgPool, Layer::Linear { in_features: 3, out_features: 5, bias: false }])
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("ends in vector of 5, expected a vector of 4 classes"), "{e}");
        let e = net(vec![Layer::GlobalAvgPool, Layer::BatchNorm(3)]).check().unwrap_err();
        assert_eq!(e.path, "layer 1");
        let bad_cell = Layer::Cell(Cell { nodes: vec![vec![Edge { from: 1, op: vec![] }]] });
        assert!(net(vec![bad_cell]).check().unwrap_err().reason.contains("does not come before it"));
    }

    #[test]
    fn convolutions_pad_by_half_the_kernel() {
        assert_eq!(Conv2d::new(1, 1, 3, 2).output_size(32), 16);
        assert_eq!(Conv2d::new(1, 1, 5, 2).output_size(7), 4);
        assert_eq!(Conv2d::new(1, 1, 1, 2).output_size(7), 4);
        assert_eq!(Conv2d::depthwise(8, 7, 1).output_size(14), 14);
        assert_eq!(Conv2d::depthwise(8, 3, 1).with_bias().params(), 8 * 9 + 8);
    }
}
