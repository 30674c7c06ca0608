//! Vector arithmetic that the forward passes share, written once over `pulp`'s `Simd` (AVX2, AVX-512, NEON or
//! scalar lanes, picked at run time by the caller's `Arch::dispatch`): the exponential, and the feed-forward gates
//! built on it.

use pulp::{Simd, WithSimd};

/// `e^x` for `x ≤ 0` (a score less the maximum), to a few units in the last place: `x = n·ln 2 + r` with `n` the
/// nearest integer to `x / ln 2`, `e^r` by Cephes' polynomial, `2^n` put in the exponent bits. Below -87 the result
/// is e^-87 (about 1.6 · 10⁻³⁸), which a softmax's sum does not see.
#[inline(always)]
pub fn exp<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    /// Adding and subtracting 1.5 · 2²³ rounds to the nearest integer, which the low bits then hold.
    const ROUND: f32 = 12_582_912.0;
    let x = simd.max_f32s(x, simd.splat_f32s(-87.0));
    let shifted = simd.mul_add_f32s(x, simd.splat_f32s(std::f32::consts::LOG2_E), simd.splat_f32s(ROUND));
    let n = simd.sub_f32s(shifted, simd.splat_f32s(ROUND));
    // r = x - n·ln 2, with ln 2 in two parts so that the product is exact.
    let r = simd.mul_add_f32s(n, simd.splat_f32s(-0.693_359_4), x);
    let r = simd.mul_add_f32s(n, simd.splat_f32s(2.121_944_4e-4), r);
    let mut p = simd.splat_f32s(1.987_569_1e-4);
    for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5] {
        p = simd.mul_add_f32s(p, r, simd.splat_f32s(c));
    }
    let r2 = simd.mul_f32s(r, r);
    let y = simd.add_f32s(simd.mul_add_f32s(p, r2, r), simd.splat_f32s(1.0));
    // 2^n: n + 127 in the exponent bits (n is in the low bits of `shifted`'s).
    let n_bits = simd.sub_u32s(simd.transmute_u32s_f32s(shifted), simd.splat_u32s(ROUND.to_bits()));
    let biased = simd.add_u32s(n_bits, simd.splat_u32s(127));
    let pow2 = simd.transmute_f32s_u32s(simd.mul_u32s(biased, simd.splat_u32s(1 << 23)));
    simd.mul_f32s(y, pow2)
}

/// The activation a feed-forward gate applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `x · sigmoid(x)` (Llama, Qwen).
    Silu,
    /// GELU's tanh approximation, `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))` (Gemma).
    Gelu,
}

/// `gate = activation(gate) · up`, element by element.
pub struct Gate<'a> {
    /// The activation.
    pub activation: Activation,
    /// The gate's values, replaced.
    pub gate: &'a mut [f32],
    /// The up projection's values.
    pub up: &'a [f32],
}

impl WithSimd for Gate<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Gate { activation, gate, up } = self;
        let (gates, gate_tail) = S::as_mut_simd_f32s(gate);
        let (ups, up_tail) = S::as_simd_f32s(up);
        for i in 0..gates.len() {
            gates[i] = simd.mul_f32s(activated(simd, activation, gates[i]), ups[i]);
        }
        let last = activated(simd, activation, simd.partial_load_f32s(gate_tail));
        simd.partial_store_f32s(gate_tail, simd.mul_f32s(last, simd.partial_load_f32s(up_tail)));
    }
}

/// `activation(x)`, with the exponential of a non-positive number only.
#[inline(always)]
fn activated<S: Simd>(simd: S, activation: Activation, x: S::f32s) -> S::f32s {
    let one = simd.splat_f32s(1.0);
    match activation {
        Activation::Silu => {
            // sigmoid(x) = 1 / (1 + e^-x) for x ≥ 0, e^x / (1 + e^x) below.
            let e = exp(simd, simd.sub_f32s(simd.splat_f32s(0.0), simd.abs_f32s(x)));
            let positive = simd.greater_than_or_equal_f32s(x, simd.splat_f32s(0.0));
            let sigmoid = simd.div_f32s(simd.select_f32s(positive, one, e), simd.add_f32s(one, e));
            simd.mul_f32s(x, sigmoid)
        }
        Activation::Gelu => {
            const SQRT_TWO_OVER_PI: f32 = 0.797_884_6;
            let cube = simd.mul_f32s(simd.mul_f32s(x, x), simd.splat_f32s(0.044_715));
            let u = simd.mul_f32s(simd.mul_f32s(simd.splat_f32s(SQRT_TWO_OVER_PI), x), simd.add_f32s(one, cube));
            // tanh(|u|) = (1 - e^-2|u|) / (1 + e^-2|u|), its sign u's.
            let e = exp(simd, simd.mul_f32s(simd.splat_f32s(-2.0), simd.abs_f32s(u)));
            let magnitude = simd.div_f32s(simd.sub_f32s(one, e), simd.add_f32s(one, e));
            let positive = simd.greater_than_or_equal_f32s(u, simd.splat_f32s(0.0));
            let tanh = simd.select_f32s(positive, magnitude, simd.sub_f32s(simd.splat_f32s(0.0), magnitude));
            simd.mul_f32s(simd.mul_f32s(simd.splat_f32s(0.5), x), simd.add_f32s(one, tanh))
        }
    }
}

#[cfg(test)]
mod tests {
    use pulp::Arch;

    use super::*;

    #[test]
    fn the_exponential_is_libms_to_a_few_units_in_the_last_place() {
        struct Exps<'a>(&'a mut [f32]);
        impl WithSimd for Exps<'_> {
            type Output = ();
            fn with_simd<S: Simd>(self, simd: S) {
                let (body, tail) = S::as_mut_simd_f32s(self.0);
                for x in body {
                    *x = exp(simd, *x);
                }
                let last = exp(simd, simd.partial_load_f32s(tail));
                simd.partial_store_f32s(tail, last);
            }
        }
        let xs: Vec<f32> = (0..=20_000).map(|i| -90.0 * i as f32 / 20_000.0).chain([0.0, -1e-8, -0.5, -87.0]).collect();
        let mut ours = xs.clone();
        Arch::new().dispatch(Exps(&mut ours));
        for (x, e) in xs.iter().zip(&ours) {
            let want = x.exp();
            if *x < -87.0 {
                assert!(*e <= 1.7e-38, "e^{x}: {e}");
            } else {
                assert!((e - want).abs() <= 4.0 * f32::EPSILON * want, "e^{x}: {e} against {want}");
            }
        }
    }

    #[test]
    fn the_gates_are_their_formulas() {
        let xs: Vec<f32> = (0..=4_001).map(|i| (i as f32 - 2_000.0) / 100.0).collect();
        let up: Vec<f32> = xs.iter().map(|x| 0.5 - x / 40.0).collect();
        for activation in [Activation::Silu, Activation::Gelu] {
            let mut gate = xs.clone();
            Arch::new().dispatch(Gate { activation, gate: &mut gate, up: &up });
            for ((x, u), got) in xs.iter().zip(&up).zip(&gate) {
                let x64 = f64::from(*x);
                let want = match activation {
                    Activation::Silu => x64 / (1.0 + (-x64).exp()),
                    Activation::Gelu => {
                        0.5 * x64
                            * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x64 + 0.044_715 * x64.powi(3))).tanh())
                    }
                } * f64::from(*u);
                // GELU's `1 + tanh` cancels for large negative x in f32 (candle's formula too): a few units of
                // 1's last place, times x/2 · up.
                let cancelled = 4.0 * f64::from(f32::EPSILON) * f64::from(x * u).abs();
                assert!(
                    (f64::from(*got) - want).abs() <= 1e-6 * want.abs() + cancelled + 1e-30,
                    "{activation:?}({x}) · {u}: {got} against {want}"
                );
            }
        }
    }
}
