//! The building blocks of the forward passes written here ([`super::decoder`], [`super::gemma3`]), on plain rows of
//! f32 (a position's activations, row-major): embedding rows read from a quantized table, RMS normalization, rotary
//! position tables, the feed-forward gates, and the weight matrices' products. Attention is [`super::attention`].

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor, gguf_file};
use candle_core::{Device, Module, Result, Tensor};

use super::simd::{Activation, Gate};

/// An embedding table kept quantized as the file stores it; the rows a batch needs are dequantized on the fly
/// (a 49,152 × 576 table is 113 MB in f32, 30 MB in Q8_0).
#[derive(Debug, Clone)]
pub struct Embedding {
    table: Arc<QTensor>,
    hidden: usize,
}

impl Embedding {
    /// The table `table` (`rows × hidden`).
    pub fn new(table: Arc<QTensor>) -> Result<Self> {
        let hidden = *table.shape().dims().last().ok_or_else(|| candle_core::Error::msg("an empty embedding"))?;
        Ok(Self { table, hidden })
    }

    /// The table, for an output projection tied to it.
    pub fn table(&self) -> &Arc<QTensor> {
        &self.table
    }

    /// The rows of `ids`, `ids.len() × hidden`, row-major.
    pub fn rows(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let dtype = self.table.dtype();
        let row_bytes = self.hidden / dtype.block_size() * dtype.type_size();
        let data = self.table.data()?;
        let count = self.table.shape().dims()[0];
        let mut out = Vec::with_capacity(ids.len() * self.hidden);
        for &id in ids {
            let id = id as usize;
            if id >= count {
                candle_core::bail!("token {id} is outside the embedding table of {count} rows");
            }
            let raw = &data[id * row_bytes..(id + 1) * row_bytes];
            if dtype == GgmlDType::F32 {
                out.extend(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
            } else {
                let cpu = Device::Cpu;
                let row = candle_core::quantized::ggml_file::qtensor_from_ggml(dtype, raw, vec![self.hidden], &cpu)?;
                out.extend(row.dequantize(&cpu)?.to_vec1::<f32>()?);
            }
        }
        Ok(out)
    }
}

/// RMS normalization, its weight read from the file.
#[derive(Debug, Clone)]
pub struct Norm {
    weight: Vec<f32>,
    eps: f32,
}

impl Norm {
    /// The norm whose weight is the tensor `name` of `content`.
    pub fn read<R: std::io::Read + std::io::Seek>(
        content: &gguf_file::Content,
        reader: &mut R,
        name: &str,
        eps: f32,
        device: &Device,
    ) -> Result<Self> {
        let weight = content.tensor(reader, name, device)?.dequantize(device)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(Self { weight, eps })
    }

    /// Every row of `x` (rows as long as the weight: a position's activations, or one head's) normalized in place,
    /// as candle's `rms_norm` computes it.
    pub fn apply(&self, x: &mut [f32]) {
        let n = self.weight.len();
        for row in x.chunks_exact_mut(n) {
            let sum2: f32 = row.iter().map(|v| v * v).sum();
            let m = (sum2 / n as f32 + self.eps).sqrt();
            for (v, w) in row.iter_mut().zip(&self.weight) {
                *v = *v / m * w;
            }
        }
    }

    /// `x` normalized, as a new buffer.
    pub fn normalized(&self, x: &[f32]) -> Vec<f32> {
        let mut out = x.to_vec();
        self.apply(&mut out);
        out
    }
}

/// How a model pairs the dimensions it rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// Dimensions `2i` and `2i + 1` (llama.cpp's "normal" rotation: Llama's GGUF files).
    Adjacent,
    /// Dimensions `i` and `i + d/2` (GPT-NeoX's: Qwen, Gemma).
    Halves,
}

/// The rotary tables of one base: cos and sin, `positions × head_dim/2`.
#[derive(Debug, Clone)]
pub struct Rope {
    cos: Vec<f32>,
    sin: Vec<f32>,
    half: usize,
    pairing: Pairing,
}

impl Rope {
    /// The tables for `positions` positions of heads of `head_dim`, base `base`, positions divided by `scale`,
    /// each frequency divided by its factor in `factors` where given (Llama 3.1's `rope_freqs.weight`).
    pub fn new(
        head_dim: usize,
        base: f32,
        scale: f32,
        factors: Option<&[f32]>,
        pairing: Pairing,
        positions: usize,
    ) -> Result<Self> {
        let mut inv: Vec<f32> = (0..head_dim).step_by(2).map(|i| 1.0 / base.powf(i as f32 / head_dim as f32)).collect();
        if let Some(factors) = factors {
            if factors.len() != inv.len() {
                candle_core::bail!("{} rotary frequency factors for {} frequencies", factors.len(), inv.len());
            }
            for (f, factor) in inv.iter_mut().zip(factors) {
                *f /= factor;
            }
        }
        let angles: Vec<f32> = (0..positions).flat_map(|p| inv.iter().map(move |f| p as f32 / scale * f)).collect();
        Ok(Self {
            cos: angles.iter().map(|a| a.cos()).collect(),
            sin: angles.iter().map(|a| a.sin()).collect(),
            half: head_dim / 2,
            pairing,
        })
    }

    /// `x` (`n × heads × head_dim`, positions `pos..pos + n`) rotated in place.
    pub fn apply(&self, x: &mut [f32], heads: usize, pos: usize) {
        let (half, head_dim) = (self.half, 2 * self.half);
        for (i, position) in x.chunks_exact_mut(heads * head_dim).enumerate() {
            let at = (pos + i) * half;
            let (cos, sin) = (&self.cos[at..at + half], &self.sin[at..at + half]);
            for head in position.chunks_exact_mut(head_dim) {
                for j in 0..half {
                    let (a, b) = match self.pairing {
                        Pairing::Adjacent => (2 * j, 2 * j + 1),
                        Pairing::Halves => (j, j + half),
                    };
                    let (x0, x1) = (head[a], head[b]);
                    head[a] = x0 * cos[j] - x1 * sin[j];
                    head[b] = x0 * sin[j] + x1 * cos[j];
                }
            }
        }
    }
}

/// `gate = silu(gate) · up`, element by element (the Llama-style feed-forward's gating).
pub fn silu_gate(gate: &mut [f32], up: &[f32]) {
    pulp::Arch::new().dispatch(Gate { activation: Activation::Silu, gate, up });
}

/// `gate = gelu(gate) · up` with GELU's tanh approximation (Gemma's gating).
pub fn gelu_gate(gate: &mut [f32], up: &[f32]) {
    pulp::Arch::new().dispatch(Gate { activation: Activation::Gelu, gate, up });
}

/// `x += y`, element by element.
pub fn add(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// A weight matrix (`out × in`, as the file stores it) applied to activations: by genius's own product
/// ([`super::qmatmul`]) for a Q8_0 or Q4_1 matrix on a CPU it accelerates, by candle's quantized matmul otherwise.
/// Every row count takes the same path, so a row's result never depends on its batch (a prompt whole, in chunks or
/// token by token): with quantized activations the last bit matters, a rounding that flips in one layer moves the
/// logits visibly.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Arc<QTensor>,
    matmul: QMatMul,
}

impl Linear {
    /// The matrix `weight`.
    pub fn new(weight: Arc<QTensor>) -> Result<Self> {
        Ok(Self { matmul: QMatMul::from_arc(weight.clone())?, weight })
    }

    /// `x · weightᵀ`: `x` is `m` rows of the matrix's inputs, the result `m` rows of its outputs.
    pub fn forward(&self, x: &[f32]) -> Result<Vec<f32>> {
        let [out] = Self::forward_many([self], x)?;
        Ok(out)
    }

    /// `x · weightᵀ` for each of `matrices`, which take the same inputs (a layer's query, key and value
    /// projections): by one call of genius's product where it multiplies them all (the activations quantized once,
    /// one dispatch to the threads), by candle's otherwise.
    pub fn forward_many<const N: usize>(matrices: [&Self; N], x: &[f32]) -> Result<[Vec<f32>; N]> {
        let products = Self::products(&matrices, x)?;
        Ok(products.try_into().expect("one product per matrix"))
    }

    fn products(matrices: &[&Self], x: &[f32]) -> Result<Vec<Vec<f32>>> {
        let mut ours = Vec::with_capacity(matrices.len());
        let mut inner = None;
        for matrix in matrices {
            let &[n, k] = matrix.weight.shape().dims() else {
                candle_core::bail!("a weight matrix of shape {:?}", matrix.weight.shape());
            };
            if !x.len().is_multiple_of(k) || inner.is_some_and(|i| i != k) {
                candle_core::bail!("{} activations are not rows of the matrix's {k} inputs", x.len());
            }
            inner = Some(k);
            let format = super::qmatmul::Format::of(matrix.weight.dtype());
            if let Some(format) =
                format.filter(|_| k.is_multiple_of(super::qmatmul::BLOCK) && super::qmatmul::accelerated())
            {
                ours.push((format, n, k));
            }
        }
        let Some(k) = inner else {
            return Ok(Vec::new());
        };
        let m = x.len() / k;
        if ours.len() == matrices.len() {
            let data: Vec<_> = matrices.iter().map(|matrix| matrix.weight.data()).collect::<Result<_>>()?;
            let parts: Vec<_> = ours
                .iter()
                .zip(&data)
                .map(|(&(format, rows, _), weights)| super::qmatmul::Matrix { format, weights, rows })
                .collect();
            return Ok(super::qmatmul::matmul_many(&parts, k, x, m));
        }
        // candle's product for the other formats (and where ours has no SIMD).
        let input = Tensor::from_slice(x, (m, k), &Device::Cpu)?;
        matrices.iter().map(|matrix| matrix.matmul.forward(&input)?.flatten_all()?.to_vec1::<f32>()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_tables_scale_positions_and_frequencies() {
        let rope = |scale, factors| Rope::new(4, 10_000.0, scale, factors, Pairing::Halves, 16).unwrap();
        let p = |r: &Rope, i: usize| r.cos[i * 2..i * 2 + 2].to_vec();
        let (plain, scaled) = (rope(1.0, None), rope(8.0, None));
        // Position 8 scaled by 8 is position 1 unscaled.
        assert_eq!(p(&scaled, 8), p(&plain, 1));
        assert_eq!(p(&plain, 0), vec![1.0, 1.0]);
        // A factor of 8 on every frequency is the same as positions scaled by 8.
        let factored = rope(1.0, Some(&[8.0, 8.0]));
        assert_eq!(p(&factored, 8), p(&plain, 1));
        assert!(Rope::new(4, 10_000.0, 1.0, Some(&[1.0]), Pairing::Halves, 4).is_err());
    }

    /// Both pairings rotate the same pairs as candle's `rope_i` (adjacent) and `rope` (halves).
    #[test]
    fn rotation_matches_candles() {
        let d = Device::Cpu;
        let (heads, n, pos) = (2, 3, 5);
        let x: Vec<f32> = (0..n * heads * 8).map(|i| (i as f32 * 0.37).sin()).collect();
        for pairing in [Pairing::Adjacent, Pairing::Halves] {
            let rope = Rope::new(8, 10_000.0, 1.0, None, pairing, 16).unwrap();
            let mut ours = x.clone();
            rope.apply(&mut ours, heads, pos);
            let table = |t: &Vec<f32>| Tensor::from_slice(&t[pos * 4..(pos + n) * 4], (n, 4), &d).unwrap();
            let (cos, sin) = (table(&rope.cos), table(&rope.sin));
            // candle's layout: heads before positions.
            let xt =
                Tensor::from_slice(&x, (1, n, heads, 8), &d).unwrap().transpose(1, 2).unwrap().contiguous().unwrap();
            let theirs = match pairing {
                Pairing::Adjacent => candle_nn::rotary_emb::rope_i(&xt, &cos, &sin),
                Pairing::Halves => candle_nn::rotary_emb::rope(&xt, &cos, &sin),
            };
            let theirs = theirs.unwrap().transpose(1, 2).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(ours, theirs, "{pairing:?}");
        }
    }

    #[test]
    fn norms_and_gates_match_candles() {
        let d = Device::Cpu;
        let x: Vec<f32> = (0..2 * 6).map(|i| (i as f32 * 0.71).cos() * 3.0).collect();
        let norm = Norm { weight: vec![0.5, 1.0, 1.5, 2.0, 2.5, 3.0], eps: 1e-6 };
        let w = Tensor::new(norm.weight.as_slice(), &d).unwrap();
        let xt = Tensor::from_slice(&x, (2, 6), &d).unwrap();
        let theirs = candle_nn::ops::rms_norm(&xt, &w, 1e-6).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(norm.normalized(&x), theirs);
        let up: Vec<f32> = x.iter().map(|v| v * 0.5 + 0.1).collect();
        let upt = Tensor::new(up.as_slice(), &d).unwrap();
        let flat = xt.flatten_all().unwrap();
        for (gate, act) in [(silu_gate as fn(&mut [f32], &[f32]), flat.silu()), (gelu_gate, flat.gelu())] {
            let mut ours = x.clone();
            gate(&mut ours, &up);
            let theirs = (act.unwrap() * &upt).unwrap().to_vec1::<f32>().unwrap();
            for (a, b) in ours.iter().zip(&theirs) {
                assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
            }
        }
    }

    /// A group of matrices multiplied together gives each one's own product; a matrix of another format among them
    /// sends the group to candle, with the same results to rounding.
    #[test]
    fn matrices_multiplied_together_give_their_own_products() {
        let d = Device::Cpu;
        let matrix = |rows: usize, seed: usize, dtype| {
            let v: Vec<f32> = (0..rows * 64).map(|i| ((i * 7 + seed * 13) as f32 * 0.13).sin()).collect();
            Linear::new(Arc::new(QTensor::quantize(&Tensor::from_vec(v, (rows, 64), &d).unwrap(), dtype).unwrap()))
                .unwrap()
        };
        let x: Vec<f32> = (0..3 * 64).map(|i| (i as f32 * 0.29).cos()).collect();
        let (a, b) = (matrix(5, 1, GgmlDType::Q8_0), matrix(3, 2, GgmlDType::Q4_1));
        let together = Linear::forward_many([&a, &b], &x).unwrap();
        assert_eq!(together, [a.forward(&x).unwrap(), b.forward(&x).unwrap()]);
        assert_eq!(together[0].len(), 3 * 5);
        let c = matrix(4, 3, GgmlDType::F32);
        let mixed = Linear::forward_many([&a, &c], &x).unwrap();
        for (got, want) in mixed[0].iter().zip(&together[0]) {
            assert!((got - want).abs() < 0.05, "{got} vs {want}");
        }
        assert_eq!(mixed[1], c.forward(&x).unwrap());
        let err = Linear::forward_many([&a], &x[..40]).unwrap_err().to_string();
        assert!(err.contains("40 activations"), "{err}");
    }

    #[test]
    fn embedding_rows_are_the_table_rows() {
        let d = Device::Cpu;
        let values: Vec<f32> = (0..3 * 32).map(|i| i as f32 / 8.0).collect();
        let table = Tensor::from_vec(values.clone(), (3, 32), &d).unwrap();
        let quantized = Arc::new(QTensor::quantize(&table, GgmlDType::F32).unwrap());
        let rows = Embedding::new(quantized).unwrap().rows(&[2, 0]).unwrap();
        assert_eq!(rows[..32], values[64..96]);
        assert_eq!(rows[32..], values[..32]);
        let q8 = Arc::new(QTensor::quantize(&table, GgmlDType::Q8_0).unwrap());
        let embedding = Embedding::new(q8).unwrap();
        let row = embedding.rows(&[1]).unwrap();
        assert!(row.iter().zip(&values[32..64]).all(|(a, b)| (a - b).abs() < 0.05), "{row:?}");
        assert!(embedding.rows(&[3]).is_err(), "a token outside the table");
    }
}
