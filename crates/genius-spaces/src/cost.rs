//! Counting a network's parameters and FLOPs layer by layer, the way the benchmarks' authors counted them.
//!
//! Feature maps are square; every convolution pads by `kernel / 2` (odd kernels), so a stride-`s` convolution maps
//! a `size × size` map to `ceil(size / s)`. FLOPs are multiply-accumulates, as the usual PyTorch profilers report
//! them: a convolution costs `out_elements × in_channels / groups × kernel²` (its bias is not counted), a linear
//! layer `out_elements × in_features`. What else counts depends on the convention, genius-core's [`FlopsCounting`]
//! (the same one a [`Network`](genius_core::network::Network) is counted with); [`LayerCosts`] gives it the
//! closed-form calculators the spaces use where tracing a whole network would be too slow (the FLOPs window's exact
//! sampler, the per-layer tables of the prompts).

pub use genius_core::network::FlopsCounting;

/// The trainable parameters and FLOPs of a layer, a block or a whole network: genius-core's [`NetworkCost`], which
/// adds and subtracts.
///
/// [`NetworkCost`]: genius_core::network::NetworkCost
pub use genius_core::network::NetworkCost as Cost;

/// The cost of single layers under a FLOPs convention: `FlopsCounting::THOP.conv(...)`.
///
/// [`FlopsCounting::THOP`] is thop 0.1 (`thop.profile`), which GENIUS used for its ImageNet space: convolutions
/// and linear layers without their bias, batch norm at 4 FLOPs per element, adaptive average pooling; activations,
/// the squeeze-excite mean and gate, and residual additions are not counted (they are functional calls or modules
/// thop skips). [`FlopsCounting::MACS`] is convolutions and linear layers only, as the NAS-Bench-Macro table counts
/// FLOPs.
pub trait LayerCosts {
    /// A `kernel × kernel` convolution of a `size × size` map, padded by `kernel / 2`; returns its cost and the
    /// output size.
    #[allow(clippy::too_many_arguments)]
    fn conv(
        &self,
        in_channels: u64,
        out_channels: u64,
        kernel: u64,
        stride: u64,
        groups: u64,
        bias: bool,
        size: u64,
    ) -> (Cost, u64);

    /// A batch normalization of `channels` channels of a `size × size` map.
    fn batch_norm(&self, channels: u64, size: u64) -> Cost;

    /// A linear layer on a vector.
    fn linear(&self, in_features: u64, out_features: u64, bias: bool) -> Cost;

    /// An adaptive average pooling of `channels` channels of a `size × size` map to 1×1 (`(size² + 1)` FLOPs per
    /// channel where the convention counts it, as thop does).
    fn global_pool(&self, channels: u64, size: u64) -> Cost;
}

impl LayerCosts for FlopsCounting {
    fn conv(
        &self,
        in_channels: u64,
        out_channels: u64,
        kernel: u64,
        stride: u64,
        groups: u64,
        bias: bool,
        size: u64,
    ) -> (Cost, u64) {
        let out = size.div_ceil(stride);
        let weights = out_channels * (in_channels / groups) * kernel * kernel;
        let flops = out * out * weights;
        (Cost::new(flops, weights + if bias { out_channels } else { 0 }), out)
    }

    fn batch_norm(&self, channels: u64, size: u64) -> Cost {
        Cost::new(self.batch_norm_per_element * channels * size * size, 2 * channels)
    }

    fn linear(&self, in_features: u64, out_features: u64, bias: bool) -> Cost {
        Cost::new(in_features * out_features, in_features * out_features + if bias { out_features } else { 0 })
    }

    fn global_pool(&self, channels: u64, size: u64) -> Cost {
        Cost::new(if self.global_pool { (size * size + 1) * channels } else { 0 }, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_convolution_counts_its_multiply_accumulates_and_weights() {
        // The GENIUS ImageNet stem: 3 -> 16, 3x3, stride 2 on 224x224 is printed as 5.419 MFLOPs.
        let (c, out) = FlopsCounting::THOP.conv(3, 16, 3, 2, 1, false, 224);
        assert_eq!(out, 112);
        assert_eq!(c, Cost::new(5_419_008, 432));
        let (dw, out) = FlopsCounting::THOP.conv(16, 16, 3, 1, 16, false, 112);
        assert_eq!((dw, out), (Cost::new(16 * 9 * 112 * 112, 144), 112));
        let (_, odd) = FlopsCounting::THOP.conv(8, 8, 5, 2, 8, false, 7);
        assert_eq!(odd, 4);
        let (biased, _) = FlopsCounting::THOP.conv(320, 1280, 1, 1, 1, true, 1);
        assert_eq!(biased, Cost::new(409_600, 409_600 + 1280));
    }

    #[test]
    fn conventions_differ_only_in_what_they_add() {
        assert_eq!(FlopsCounting::THOP.batch_norm(24, 56), Cost::new(4 * 24 * 56 * 56, 48));
        assert_eq!(FlopsCounting::MACS.batch_norm(24, 56), Cost::new(0, 48));
        assert_eq!(FlopsCounting::THOP.global_pool(320, 7), Cost::new(16_000, 0));
        assert_eq!(FlopsCounting::MACS.global_pool(320, 7), Cost::ZERO);
        assert_eq!(FlopsCounting::MACS.linear(1280, 10, true), Cost::new(12_800, 12_810));
        let total: Cost = [Cost::new(1, 2), Cost::new(3, 4)].iter().sum();
        assert_eq!(total, Cost::new(4, 6));
        assert!((Cost::new(5_419_008, 0).mflops() - 5.419008).abs() < 1e-12);
    }
}
