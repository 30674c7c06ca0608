//! The building blocks of the forward passes written here ([`super::decoder`], [`super::gemma3`]): embedding rows
//! read from a quantized table, RMS normalization, rotary position tables, the causal mask and attention over a
//! growing cache.

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor, gguf_file};
use candle_core::{DType, Device, Module, Result, Tensor};

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

    /// The rows of `ids`, `ids.len() × hidden`.
    pub fn rows(&self, ids: &[u32], device: &Device) -> Result<Tensor> {
        let dtype = self.table.dtype();
        let row_bytes = self.hidden / dtype.block_size() * dtype.type_size();
        let data = self.table.data()?;
        let count = self.table.shape().dims()[0];
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let id = id as usize;
            if id >= count {
                candle_core::bail!("token {id} is outside the embedding table of {count} rows");
            }
            let raw = &data[id * row_bytes..(id + 1) * row_bytes];
            let row = if dtype == GgmlDType::F32 {
                let values: Vec<f32> =
                    raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                Tensor::from_vec(values, self.hidden, device)?
            } else {
                candle_core::quantized::ggml_file::qtensor_from_ggml(dtype, raw, vec![self.hidden], device)?
                    .dequantize(device)?
            };
            out.push(row);
        }
        Tensor::stack(&out, 0)
    }
}

/// RMS normalization over the last dimension, its weight read from the file.
#[derive(Debug, Clone)]
pub struct Norm {
    weight: Tensor,
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
        Ok(Self { weight: content.tensor(reader, name, device)?.dequantize(device)?, eps })
    }

    /// `x` normalized.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps)
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
    cos: Tensor,
    sin: Tensor,
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
        device: &Device,
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
        let inv = Tensor::new(inv.as_slice(), device)?.reshape((1, head_dim / 2))?;
        let pos = (Tensor::arange(0u32, positions as u32, device)?.to_dtype(DType::F32)? / f64::from(scale))?
            .reshape((positions, 1))?;
        let angles = pos.matmul(&inv)?;
        Ok(Self { cos: angles.cos()?, sin: angles.sin()?, pairing })
    }

    /// `x` (`1 × heads × n × head_dim`) at positions `pos..pos + n`, rotated.
    pub fn apply(&self, x: &Tensor, pos: usize) -> Result<Tensor> {
        let n = x.dim(2)?;
        let (cos, sin) = (self.cos.narrow(0, pos, n)?, self.sin.narrow(0, pos, n)?);
        match self.pairing {
            Pairing::Adjacent => candle_nn::rotary_emb::rope_i(&x.contiguous()?, &cos, &sin),
            Pairing::Halves => candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin),
        }
    }
}

/// The additive mask of `n` queries at positions `pos..pos + n` over `pos + n` keys: 0 where a query may look,
/// minus infinity where it may not (later positions; with a window, positions `window` or more before it).
pub fn causal_mask(n: usize, pos: usize, window: Option<usize>, device: &Device) -> Result<Tensor> {
    let keys = pos + n;
    let w = window.unwrap_or(usize::MAX);
    let m: Vec<f32> = (0..n)
        .flat_map(|i| {
            let q = pos + i;
            (0..keys).map(move |j| if j <= q && q - j < w { 0.0 } else { f32::NEG_INFINITY })
        })
        .collect();
    Tensor::from_vec(m, (1, 1, n, keys), device)
}

/// Attention of the rotated queries `q` (`1 × heads × n × head_dim`) over the keys and values `k` and `v` of the same
/// `n` positions (`1 × kv_heads × n × head_dim`) appended to `cache`, which holds those of the `pos` positions before
/// them (and is replaced by the longer pair): the grouped key-value heads repeated, scores scaled by `scale`, `mask`
/// added (a batch), and for a single token only the last `window` positions seen. `1 × n × heads·head_dim`.
#[allow(clippy::too_many_arguments)]
pub fn cached_attention(
    cache: &mut Option<(Tensor, Tensor)>,
    q: &Tensor,
    k: Tensor,
    v: Tensor,
    pos: usize,
    scale: f64,
    mask: Option<&Tensor>,
    window: Option<usize>,
) -> Result<Tensor> {
    let (_, heads, n, head_dim) = q.dims4()?;
    let kv_heads = k.dim(1)?;
    let (k, v) = match cache.as_ref() {
        Some((ck, cv)) if pos > 0 => (Tensor::cat(&[ck, &k], 2)?, Tensor::cat(&[cv, &v], 2)?),
        _ => (k, v),
    };
    *cache = Some((k.clone(), v.clone()));
    let (k, v) = match window {
        Some(w) if n == 1 && k.dim(2)? > w => {
            let t = k.dim(2)?;
            (k.narrow(2, t - w, w)?, v.narrow(2, t - w, w)?)
        }
        _ => (k, v),
    };
    let k = candle_transformers::utils::repeat_kv(k, heads / kv_heads)?.contiguous()?;
    let v = candle_transformers::utils::repeat_kv(v, heads / kv_heads)?.contiguous()?;
    let mut scores = (q.contiguous()?.matmul(&k.t()?)? * scale)?;
    if let Some(mask) = mask {
        scores = scores.broadcast_add(mask)?;
    }
    let attn = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?;
    attn.transpose(1, 2)?.reshape((1, n, heads * head_dim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_tables_scale_positions_and_frequencies() {
        let d = Device::Cpu;
        let rope = |scale, factors| Rope::new(4, 10_000.0, scale, factors, Pairing::Halves, 16, &d).unwrap();
        let p = |r: &Rope, i| r.cos.narrow(0, i, 1).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let (plain, scaled) = (rope(1.0, None), rope(8.0, None));
        // Position 8 scaled by 8 is position 1 unscaled.
        assert_eq!(p(&scaled, 8), p(&plain, 1));
        assert_eq!(p(&plain, 0), vec![1.0, 1.0]);
        // A factor of 8 on every frequency is the same as positions scaled by 8.
        let factored = rope(1.0, Some(&[8.0, 8.0]));
        assert_eq!(p(&factored, 8), p(&plain, 1));
        assert!(Rope::new(4, 10_000.0, 1.0, Some(&[1.0]), Pairing::Halves, 4, &d).is_err());
    }

    #[test]
    fn the_mask_hides_later_positions_and_those_outside_the_window() {
        let d = Device::Cpu;
        let rows = |m: Tensor| m.squeeze(0).unwrap().squeeze(0).unwrap().to_vec2::<f32>().unwrap();
        let seen = |row: &Vec<f32>| row.iter().map(|v| *v == 0.0).collect::<Vec<_>>();
        // Two queries at positions 2 and 3 over four keys.
        let m = rows(causal_mask(2, 2, None, &d).unwrap());
        assert_eq!(seen(&m[0]), [true, true, true, false]);
        assert_eq!(seen(&m[1]), [true, true, true, true]);
        let m = rows(causal_mask(2, 2, Some(2), &d).unwrap());
        assert_eq!(seen(&m[0]), [false, true, true, false]);
        assert_eq!(seen(&m[1]), [false, false, true, true]);
    }

    #[test]
    fn embedding_rows_are_the_table_rows() {
        let d = Device::Cpu;
        let values: Vec<f32> = (0..3 * 32).map(|i| i as f32 / 8.0).collect();
        let table = Tensor::from_vec(values.clone(), (3, 32), &d).unwrap();
        let quantized = Arc::new(QTensor::quantize(&table, GgmlDType::F32).unwrap());
        let rows = Embedding::new(quantized).unwrap().rows(&[2, 0], &d).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(rows[0], values[64..96]);
        assert_eq!(rows[1], values[..32]);
        let q8 = Arc::new(QTensor::quantize(&table, GgmlDType::Q8_0).unwrap());
        let embedding = Embedding::new(q8).unwrap();
        let row = embedding.rows(&[1], &d).unwrap().to_vec2::<f32>().unwrap();
        assert!(row[0].iter().zip(&values[32..64]).all(|(a, b)| (a - b).abs() < 0.05), "{row:?}");
        assert!(embedding.rows(&[3], &d).is_err(), "a token outside the table");
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

    /// `x · weightᵀ` over the last dimension of `x`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let format = super::qmatmul::Format::of(self.weight.dtype());
        let (Some(format), &[n, k], Some(&inner)) = (format, self.weight.shape().dims(), x.dims().last()) else {
            return self.matmul.forward(x);
        };
        if !x.device().is_cpu()
            || inner != k
            || !k.is_multiple_of(super::qmatmul::BLOCK)
            || !super::qmatmul::accelerated()
        {
            // candle's product, which also names a shape that does not fit.
            return self.matmul.forward(x);
        }
        let m = x.elem_count() / k;
        let input = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let out = super::qmatmul::matmul(format, &self.weight.data()?, n, k, &input, m);
        let mut shape = x.dims().to_vec();
        *shape.last_mut().expect("an input has dimensions") = n;
        Tensor::from_vec(out, shape, x.device())
    }
}
