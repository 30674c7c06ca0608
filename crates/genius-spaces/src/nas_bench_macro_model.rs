//! The NAS-Bench-Macro network (Su et al., 2021) and its parameters and FLOPs for any architecture of the space.
//!
//! The network, for 32×32 CIFAR-10 images:
//!
//! | layer | what | in → out channels | stride | map |
//! |---|---|---|---|---|
//! | 1 | stem: conv 3×3 + BN + ReLU | 3 → 32 | 1 | 32 |
//! | 2–3 | stage 1 (searchable) | 32 → 64 | 2 (first layer) | 32 → 16 |
//! | 4–6 | stage 2 (searchable) | 64 → 128 | 2 | 16 → 8 |
//! | 7–9 | stage 3 (searchable) | 128 → 256 | 2 | 8 → 4 |
//! | 10 | conv 1×1 + BN + ReLU | 256 → 1280 | 1 | 4 |
//! | 11 | global average pooling | 1280 | | 4 → 1 |
//! | 12 | linear classifier | 1280 → 10 | | |
//!
//! Convolutions have no bias. An Identity is a 1×1 convolution with batch norm in the first layer of a stage and
//! nothing elsewhere; an inverted residual is a 1×1 expansion to `expansion × in` channels, a depthwise `k × k`
//! convolution carrying the stride, and a 1×1 projection, each followed by batch norm (ReLU after the first two).
//!
//! Parameters are every trainable weight, batch-norm scales and shifts included; FLOPs are the multiply-accumulates
//! of the convolutions and the classifier only ([`FlopsCounting::MACS`]). Both reproduce the table's `params` and
//! `flops` for all 6,561 architectures (`tests/nas_bench_macro_params.rs`).

use genius_core::Architecture;
use genius_core::network::{Activation, Conv2d, FlopsCounting, Layer, Network};

use crate::cost::{Cost, LayerCosts};
use crate::nas_bench_macro::{MacroOp, NasBenchMacro};

/// The input resolution (CIFAR-10).
pub const RESOLUTION: u64 = 32;

/// The stem's output channels.
pub const STEM_CHANNELS: u64 = 32;

/// Searchable layers per stage.
pub const STAGE_LAYERS: [usize; 3] = [2, 3, 3];

const FEATURES: u64 = 1280;
const CLASSES: u64 = 10;
const COUNTING: FlopsCounting = FlopsCounting::MACS;

/// The shape of the searchable layer at key position `position` (0 to 7): input channels, output channels, stride,
/// input size.
///
/// # Panics
/// When `position` is 8 or more.
pub fn slot(position: usize) -> (u64, u64, u64, u64) {
    assert!(position < NasBenchMacro::LAYERS, "searchable positions are 0..8");
    let (mut channels, mut size, mut p) = (STEM_CHANNELS, RESOLUTION, position);
    for &layers in &STAGE_LAYERS {
        if p < layers {
            return if p == 0 { (channels, channels * 2, 2, size) } else { (channels * 2, channels * 2, 1, size / 2) };
        }
        p -= layers;
        channels *= 2;
        size /= 2;
    }
    unreachable!("position checked above")
}

/// The cost of the searchable layer at key position `position` (0 to 7) with operation `op`.
pub fn layer(position: usize, op: MacroOp) -> Cost {
    let (cin, cout, stride, size) = slot(position);
    let c = COUNTING;
    match op.block() {
        None if stride != 1 || cin != cout => {
            let (conv, out) = c.conv(cin, cout, 1, stride, 1, false, size);
            conv + c.batch_norm(cout, out)
        }
        None => Cost::ZERO,
        Some((expansion, kernel)) => {
            let mid = cin * expansion as u64;
            let (pw, size) = c.conv(cin, mid, 1, 1, 1, false, size);
            let (dw, out) = c.conv(mid, mid, kernel as u64, stride, mid, false, size);
            let (pwl, out) = c.conv(mid, cout, 1, 1, 1, false, out);
            pw + c.batch_norm(mid, size) + dw + c.batch_norm(mid, out) + pwl + c.batch_norm(cout, out)
        }
    }
}

/// Layer 1: the stem convolution with its batch norm.
pub fn stem() -> Cost {
    let (conv, out) = COUNTING.conv(3, STEM_CHANNELS, 3, 1, 1, false, RESOLUTION);
    conv + COUNTING.batch_norm(STEM_CHANNELS, out)
}

/// Layers 10 to 12: the 1×1 convolution to 1280 features with its batch norm, the pooling and the classifier.
pub fn head() -> Cost {
    let (channels, _, _, size) = slot(NasBenchMacro::LAYERS - 1);
    let (conv, out) = COUNTING.conv(channels, FEATURES, 1, 1, 1, false, size);
    conv + COUNTING.batch_norm(FEATURES, out)
        + COUNTING.global_pool(FEATURES, out)
        + COUNTING.linear(FEATURES, CLASSES, true)
}

/// The cost of every layer of the network for `arch`: the stem, the 8 searchable layers, the head.
///
/// # Panics
/// When `arch` is not an architecture of the space.
pub fn layers(arch: &Architecture) -> Vec<Cost> {
    let ops = NasBenchMacro::ops(arch);
    assert_eq!(ops.len(), NasBenchMacro::LAYERS, "an architecture has 8 searchable layers");
    let mut out = vec![stem()];
    out.extend(ops.iter().enumerate().map(|(p, &op)| layer(p, op)));
    out.push(head());
    out
}

/// The parameters and FLOPs of the whole network for `arch`.
///
/// # Panics
/// When `arch` is not an architecture of the space.
pub fn cost(arch: &Architecture) -> Cost {
    layers(arch).iter().sum()
}

/// The network for `arch` with a classifier for `classes` classes, as a [`Network`] description (its parameters and
/// FLOPs at 10 classes are [`cost`]'s, and so the table's).
///
/// # Panics
/// When `arch` is not an architecture of the space.
pub fn network(arch: &Architecture, classes: usize) -> Network {
    let ops = NasBenchMacro::ops(arch);
    assert_eq!(ops.len(), NasBenchMacro::LAYERS, "an architecture has 8 searchable layers");
    let relu = Some(Activation::Relu);
    let stem = STEM_CHANNELS as usize;
    let mut layers = Layer::conv_bn(Conv2d::new(3, stem, 3, 1), relu);
    for (position, &op) in ops.iter().enumerate() {
        let (cin, cout, stride, _) = slot(position);
        let (cin, cout, stride) = (cin as usize, cout as usize, stride as usize);
        match op.block() {
            None if stride != 1 || cin != cout => {
                layers.push(Layer::Sequential(Layer::conv_bn(Conv2d::new(cin, cout, 1, stride), None)));
            }
            None => {}
            Some((expansion, kernel)) => {
                let mid = cin * expansion;
                let mut body = Layer::conv_bn(Conv2d::new(cin, mid, 1, 1), relu);
                body.extend(Layer::conv_bn(Conv2d::depthwise(mid, kernel, stride), relu));
                body.extend(Layer::conv_bn(Conv2d::new(mid, cout, 1, 1), None));
                layers.push(if stride == 1 && cin == cout {
                    Layer::Residual { body, shortcut: None }
                } else {
                    Layer::Sequential(body)
                });
            }
        }
    }
    let (last, _, _, _) = slot(NasBenchMacro::LAYERS - 1);
    layers.extend(Layer::conv_bn(Conv2d::new(last as usize, FEATURES as usize, 1, 1), relu));
    layers.push(Layer::GlobalAvgPool);
    layers.push(Layer::Linear { in_features: FEATURES as usize, out_features: classes, bias: true });
    let key: String = arch.choices().iter().map(|c| c.to_string()).collect();
    Network::new(3, RESOLUTION as usize, classes, FlopsCounting::MACS, layers).named(format!("nas-bench-macro {key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_stage_layout() {
        let slots: Vec<_> = (0..8).map(slot).collect();
        assert_eq!(slots[0], (32, 64, 2, 32));
        assert_eq!(slots[1], (64, 64, 1, 16));
        assert_eq!(slots[2], (64, 128, 2, 16));
        assert_eq!(slots[4], (128, 128, 1, 8));
        assert_eq!(slots[5], (128, 256, 2, 8));
        assert_eq!(slots[7], (256, 256, 1, 4));
    }

    #[test]
    fn the_all_identity_network_is_counted_by_hand() {
        // stem 864 + 64, three 1x1 downsampling convs with BN, head conv 256x1280 + BN, classifier 1280x10 + 10.
        let params = 864 + 64 + (2048 + 128) + (8192 + 256) + (32768 + 512) + (327_680 + 2560) + 12_810;
        let flops = 864 * 1024 + 2048 * 256 + 8192 * 64 + 32768 * 16 + 327_680 * 16 + 12_800;
        assert_eq!(cost(&Architecture::new(vec![0; 8])), Cost::new(flops, params));
    }

    #[test]
    fn the_network_description_counts_as_the_calculator() {
        for key in [[0u16; 8], [2; 8], [0, 2, 0, 1, 2, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]] {
            let arch = Architecture::new(key.to_vec());
            let net = network(&arch, 10);
            net.check().unwrap();
            assert_eq!(Cost::new(net.flops(), net.params()), cost(&arch), "{key:?}");
        }
    }
}
