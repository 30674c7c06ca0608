//! What a backend builds for a [`Network`]: its parameterised layers in one fixed order (the order of
//! [`Network::visit`]; a squeeze-excite contributes its reduce and expand convolutions), and their initial values,
//! drawn from a seeded generator so that every backend starts from the same weights.
//!
//! Backends keep three lists (convolutions, batch norms, linear layers) and walk the network in the same order when
//! they run it, taking the next layer of a list at each parameterised layer.

use genius_core::network::{Conv2d, Layer, Network};
use genius_core::rng::{derive_seed, seeded};
use rand::RngExt;

/// A linear layer's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearShape {
    /// Input features.
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
    /// Whether it has a bias.
    pub bias: bool,
}

/// A weight (and bias) in PyTorch's layout: a convolution's weight is `[out, in / groups, k, k]`, a linear layer's
/// `[out, in]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// The weight, row-major.
    pub weight: Vec<f32>,
    /// The bias, if the layer has one.
    pub bias: Option<Vec<f32>>,
}

/// The parameterised layers of a network, in build order, with their initial values.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Every convolution (squeeze-excite ones included).
    pub convs: Vec<Conv2d>,
    /// The channels of every batch norm.
    pub norms: Vec<usize>,
    /// Every linear layer.
    pub linears: Vec<LinearShape>,
    /// The initial values of the convolutions.
    pub conv_weights: Vec<Weights>,
    /// The initial values of the linear layers.
    pub linear_weights: Vec<Weights>,
}

/// The two convolutions of a squeeze-excite module: reduce, then expand, both 1×1 with bias.
pub fn squeeze_excite_convs(channels: usize, reduced: usize) -> [Conv2d; 2] {
    [Conv2d::new(channels, reduced, 1, 1).with_bias(), Conv2d::new(reduced, channels, 1, 1).with_bias()]
}

impl Plan {
    /// The plan of `network`, with weights drawn as PyTorch's defaults draw them (uniform in ±1/√fan-in for the
    /// weights and biases of convolutions and linear layers; batch norms start at scale 1 and shift 0) from a
    /// generator seeded by `seed`.
    pub fn new(network: &Network, seed: u64) -> Self {
        let (mut convs, mut norms, mut linears) = (Vec::new(), Vec::new(), Vec::new());
        network.visit(&mut |layer| match layer {
            Layer::Conv2d(c) => convs.push(*c),
            Layer::BatchNorm(c) => norms.push(*c),
            Layer::Linear { in_features, out_features, bias } => {
                linears.push(LinearShape { in_features: *in_features, out_features: *out_features, bias: *bias });
            }
            Layer::SqueezeExcite { channels, reduced, .. } => convs.extend(squeeze_excite_convs(*channels, *reduced)),
            _ => {}
        });
        let mut rng = seeded(derive_seed(seed, 4));
        let mut uniform = |n: usize, fan_in: usize| -> Vec<f32> {
            let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
            (0..n).map(|_| rng.random_range(-bound..bound)).collect()
        };
        let conv_weights = convs
            .iter()
            .map(|c| {
                let fan_in = c.in_channels / c.groups * c.kernel * c.kernel;
                let weight = uniform(c.out_channels * fan_in, fan_in);
                let bias = c.bias.then(|| uniform(c.out_channels, fan_in));
                Weights { weight, bias }
            })
            .collect();
        let linear_weights = linears
            .iter()
            .map(|l| {
                let weight = uniform(l.out_features * l.in_features, l.in_features);
                let bias = l.bias.then(|| uniform(l.out_features, l.in_features));
                Weights { weight, bias }
            })
            .collect();
        Self { convs, norms, linears, conv_weights, linear_weights }
    }

    /// Trainable parameters, counted from the plan's values (so it checks that the plan built every parameter the
    /// network description counts).
    pub fn params(&self) -> u64 {
        let weights = |w: &Weights| (w.weight.len() + w.bias.as_ref().map_or(0, Vec::len)) as u64;
        self.conv_weights.iter().chain(&self.linear_weights).map(weights).sum::<u64>()
            + self.norms.iter().map(|&c| 2 * c as u64).sum::<u64>()
    }
}

/// Where a backend's walk through the network stands in each list of layers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The next convolution.
    pub conv: usize,
    /// The next batch norm.
    pub norm: usize,
    /// The next linear layer.
    pub linear: usize,
}

impl Cursor {
    /// The next convolution's index, moving past it.
    pub fn next_conv(&mut self) -> usize {
        self.conv += 1;
        self.conv - 1
    }

    /// The next batch norm's index, moving past it.
    pub fn next_norm(&mut self) -> usize {
        self.norm += 1;
        self.norm - 1
    }

    /// The next linear layer's index, moving past it.
    pub fn next_linear(&mut self) -> usize {
        self.linear += 1;
        self.linear - 1
    }
}

/// Whether an edge of a cell only cuts (its operation is a lone [`Layer::Zero`]): backends skip computing it.
pub fn is_cut(op: &[Layer]) -> bool {
    matches!(op, [Layer::Zero])
}

#[cfg(test)]
mod tests {
    use genius_core::network::{Activation, FlopsCounting};

    use super::*;

    #[test]
    fn plans_list_every_parameter_in_visit_order_and_are_seeded() {
        let net = Network::new(
            3,
            8,
            5,
            FlopsCounting::MACS,
            vec![
                Layer::Conv2d(Conv2d::new(3, 8, 3, 1)),
                Layer::BatchNorm(8),
                Layer::SqueezeExcite {
                    channels: 8,
                    reduced: 4,
                    activation: Activation::Relu,
                    gate: Activation::HardSigmoid,
                },
                Layer::GlobalAvgPool,
                Layer::Linear { in_features: 8, out_features: 5, bias: true },
            ],
        );
        let plan = Plan::new(&net, 1);
        assert_eq!(plan.convs.len(), 3);
        assert_eq!(plan.convs[1], Conv2d::new(8, 4, 1, 1).with_bias());
        assert_eq!(plan.params(), net.params());
        assert_eq!(plan, Plan::new(&net, 1));
        assert_ne!(plan.conv_weights, Plan::new(&net, 2).conv_weights);
        let bound = 1.0 / 27f32.sqrt();
        assert!(plan.conv_weights[0].weight.iter().all(|w| w.abs() <= bound));
    }
}
