//! Gemma 3's forward pass on quantized GGUF weights, written for the embedded model rather than taken from
//! candle-transformers 0.11.1's `quantized_gemma3`, which differs from the model in ways that matter here: it gates
//! the feed-forward network with SiLU where Gemma 3 uses GELU (tanh approximation; candle issue #3745), its mask
//! hides the whole cached prefix from a chunk of prompt that continues it (so a prompt can only be run in one
//! piece), single tokens see past the sliding window, and every layer precomputes its rotary tables for 131,072
//! positions (2.3 GB for Gemma 3 270M). Here:
//!
//! - the embedding table stays quantized (262,144 rows) and the rows a batch needs are dequantized on the fly;
//!   the output projection shares it when the file ties them;
//! - five layers in six attend to a sliding window of the last `attention.sliding_window` positions with the
//!   local rotary base (`rope.local_freq_base`, 10,000 by default), every sixth to the whole context with the
//!   global base (`rope.freq_base`, scaled linearly by `rope.scaling.factor` when the file gives one);
//! - queries and keys are RMS-normalized per head, attention is scaled by 1/sqrt(key length) (by
//!   1/sqrt(embedding / heads) for the 27B model, as llama.cpp does), and each block's output is normalized again
//!   before its residual;
//! - the attention cache is a per-layer tensor pair grown by concatenation: cloning the model keeps its cache
//!   (the engine's kept prompt prefixes), and a clone never shares storage that a later step writes into.

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor, gguf_file};
use candle_core::{DType, Device, Module, Result, Tensor};

/// The most positions the rotary tables cover (the engine's context is the smaller of this and the file's).
pub const MAX_POSITIONS: usize = 8192;

/// RMS normalization with a weight read from the file (llama.cpp's converter has already added Gemma's `1 +`).
#[derive(Debug, Clone)]
struct Norm {
    weight: Tensor,
    eps: f32,
}

impl Norm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps)
    }
}

#[derive(Debug, Clone)]
struct Layer {
    q: QMatMul,
    k: QMatMul,
    v: QMatMul,
    o: QMatMul,
    q_norm: Norm,
    k_norm: Norm,
    attn_norm: Norm,
    post_attn_norm: Norm,
    ffn_norm: Norm,
    post_ffn_norm: Norm,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
    /// The sliding window, for a local layer.
    window: Option<usize>,
    cache: Option<(Tensor, Tensor)>,
}

/// The rotary tables of one base: cos and sin, `MAX_POSITIONS × head_dim/2`.
#[derive(Debug, Clone)]
struct Rope {
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    fn new(head_dim: usize, base: f32, scale: f32, positions: usize, device: &Device) -> Result<Self> {
        let inv: Vec<f32> = (0..head_dim).step_by(2).map(|i| 1.0 / base.powf(i as f32 / head_dim as f32)).collect();
        let inv = Tensor::new(inv.as_slice(), device)?.reshape((1, head_dim / 2))?;
        let pos = (Tensor::arange(0u32, positions as u32, device)?.to_dtype(DType::F32)? / f64::from(scale))?
            .reshape((positions, 1))?;
        let angles = pos.matmul(&inv)?;
        Ok(Self { cos: angles.cos()?, sin: angles.sin()? })
    }

    fn apply(&self, x: &Tensor, pos: usize) -> Result<Tensor> {
        let n = x.dim(2)?;
        candle_nn::rotary_emb::rope(&x.contiguous()?, &self.cos.narrow(0, pos, n)?, &self.sin.narrow(0, pos, n)?)
    }
}

/// A Gemma 3 model with its attention cache.
#[derive(Debug, Clone)]
pub struct Gemma3 {
    embedding: Arc<QTensor>,
    hidden: usize,
    layers: Vec<Layer>,
    norm: Norm,
    output: QMatMul,
    local_rope: Rope,
    global_rope: Rope,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    scale: f64,
    positions: usize,
    device: Device,
}

impl Gemma3 {
    /// The model in `content` (a `gemma3` GGUF file), its tensors read from `reader`.
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        content: &gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> Result<Self> {
        let arch = "gemma3";
        let md = |k: &str| {
            content
                .metadata
                .get(&format!("{arch}.{k}"))
                .ok_or_else(|| candle_core::Error::msg(format!("no {arch}.{k}")))
        };
        let u = |k: &str| -> Result<usize> { Ok(md(k)?.to_u32()? as usize) };
        let f = |k: &str, default: f32| md(k).and_then(|v| v.to_f32()).unwrap_or(default);
        let heads = u("attention.head_count")?;
        let kv_heads = u("attention.head_count_kv")?;
        let blocks = u("block_count")?;
        let hidden = u("embedding_length")?;
        let head_dim = u("attention.key_length")?;
        let window = u("attention.sliding_window")?;
        let eps = f("attention.layer_norm_rms_epsilon", 1e-6);
        let positions = u("context_length").unwrap_or(MAX_POSITIONS).min(MAX_POSITIONS);
        let scaling = md("rope.scaling.type").ok().and_then(|v| v.to_string().ok().cloned());
        let factor = if scaling.is_none_or(|s| s == "linear") { f("rope.scaling.factor", 1.0) } else { 1.0 };
        let local_rope = Rope::new(head_dim, f("rope.local_freq_base", 10_000.0), 1.0, positions, device)?;
        let global_rope = Rope::new(head_dim, f("rope.freq_base", 1_000_000.0), factor, positions, device)?;
        // llama.cpp's choice: the 27B model (62 blocks) scales by its embedding per head, the others by the key
        // length.
        let scale = if blocks == 62 { 1.0 / ((hidden / heads) as f64).sqrt() } else { 1.0 / (head_dim as f64).sqrt() };
        let mut tensor = |name: &str| content.tensor(reader, name, device);
        let mut norm = |name: &str| -> Result<Norm> { Ok(Norm { weight: tensor(name)?.dequantize(device)?, eps }) };
        let output_norm = norm("output_norm.weight")?;
        let mut layers = Vec::with_capacity(blocks);
        for i in 0..blocks {
            let mut mm =
                |n: &str| QMatMul::from_qtensor(content.tensor(reader, &format!("blk.{i}.{n}.weight"), device)?);
            let (q, k, v, o) = (mm("attn_q")?, mm("attn_k")?, mm("attn_v")?, mm("attn_output")?);
            let (gate, up, down) = (mm("ffn_gate")?, mm("ffn_up")?, mm("ffn_down")?);
            let mut n = |n: &str| -> Result<Norm> {
                let w = content.tensor(reader, &format!("blk.{i}.{n}.weight"), device)?.dequantize(device)?;
                Ok(Norm { weight: w, eps })
            };
            layers.push(Layer {
                q,
                k,
                v,
                o,
                q_norm: n("attn_q_norm")?,
                k_norm: n("attn_k_norm")?,
                attn_norm: n("attn_norm")?,
                post_attn_norm: n("post_attention_norm")?,
                ffn_norm: n("ffn_norm")?,
                post_ffn_norm: n("post_ffw_norm")?,
                gate,
                up,
                down,
                // Every sixth layer (the 6th, 12th, ...) is global.
                window: ((i + 1) % 6 != 0).then_some(window),
                cache: None,
            });
        }
        let embedding = Arc::new(content.tensor(reader, "token_embd.weight", device)?);
        let output = match content.tensor(reader, "output.weight", device) {
            Ok(t) => QMatMul::from_qtensor(t)?,
            Err(_) => QMatMul::from_arc(embedding.clone())?,
        };
        Ok(Self {
            embedding,
            hidden,
            layers,
            norm: output_norm,
            output,
            local_rope,
            global_rope,
            heads,
            kv_heads,
            head_dim,
            scale,
            positions,
            device: device.clone(),
        })
    }

    /// The most positions a context may have.
    pub fn positions(&self) -> usize {
        self.positions
    }

    /// Forgets the attention cache.
    pub fn clear_cache(&mut self) {
        for l in &mut self.layers {
            l.cache = None;
        }
    }

    /// The embedding rows of `ids`, `ids.len() × hidden`, dequantized from the quantized table.
    fn embed(&self, ids: &[u32]) -> Result<Tensor> {
        let dtype = self.embedding.dtype();
        let row_bytes = self.hidden / dtype.block_size() * dtype.type_size();
        let data = self.embedding.data()?;
        let rows = self.embedding.shape().dims()[0];
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let id = id as usize;
            if id >= rows {
                candle_core::bail!("token {id} is outside the embedding table of {rows} rows");
            }
            let raw = &data[id * row_bytes..(id + 1) * row_bytes];
            let row = if dtype == GgmlDType::F32 {
                Tensor::from_slice(
                    &raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect::<Vec<_>>(),
                    self.hidden,
                    &self.device,
                )?
            } else {
                candle_core::quantized::ggml_file::qtensor_from_ggml(dtype, raw, vec![self.hidden], &self.device)?
                    .dequantize(&self.device)?
            };
            out.push(row);
        }
        Tensor::stack(&out, 0)
    }

    /// The additive mask of `n` queries at positions `pos..pos + n` over `pos + n` keys: 0 where a query may look,
    /// minus infinity where it may not (later positions; with a window, positions `window` or more before it).
    fn mask(&self, n: usize, pos: usize, window: Option<usize>) -> Result<Tensor> {
        let keys = pos + n;
        let w = window.unwrap_or(usize::MAX);
        let m: Vec<f32> = (0..n)
            .flat_map(|i| {
                let q = pos + i;
                (0..keys).map(move |j| if j <= q && q - j < w { 0.0 } else { f32::NEG_INFINITY })
            })
            .collect();
        Tensor::from_vec(m, (1, 1, n, keys), &self.device)
    }

    /// The logits after `ids`, which continue a context of `pos` tokens (whose attention cache the model holds).
    pub fn forward(&mut self, ids: &[u32], pos: usize) -> Result<Tensor> {
        let n = ids.len();
        if pos + n > self.positions {
            candle_core::bail!("{} positions; the model is set up for {}", pos + n, self.positions);
        }
        let mut x = (self.embed(ids)?.unsqueeze(0)? * (self.hidden as f64).sqrt())?;
        let masks = if n > 1 {
            let window = self.layers.iter().find_map(|l| l.window);
            Some((self.mask(n, pos, window)?, self.mask(n, pos, None)?))
        } else {
            None
        };
        let (heads, kv_heads, head_dim, scale) = (self.heads, self.kv_heads, self.head_dim, self.scale);
        for layer in &mut self.layers {
            let rope = if layer.window.is_some() { &self.local_rope } else { &self.global_rope };
            let h = layer.attn_norm.forward(&x)?;
            let q = layer.q.forward(&h)?.reshape((1, n, heads, head_dim))?.transpose(1, 2)?;
            let k = layer.k.forward(&h)?.reshape((1, n, kv_heads, head_dim))?.transpose(1, 2)?;
            let v = layer.v.forward(&h)?.reshape((1, n, kv_heads, head_dim))?.transpose(1, 2)?.contiguous()?;
            let q = rope.apply(&layer.q_norm.forward(&q)?, pos)?;
            let k = rope.apply(&layer.k_norm.forward(&k)?, pos)?;
            let (k, v) = match &layer.cache {
                Some((ck, cv)) if pos > 0 => (Tensor::cat(&[ck, &k], 2)?, Tensor::cat(&[cv, &v], 2)?),
                _ => (k, v),
            };
            layer.cache = Some((k.clone(), v.clone()));
            // A single token looks at the window's last positions only; a batch is masked.
            let (k, v) = match layer.window {
                Some(w) if n == 1 && k.dim(2)? > w => {
                    let t = k.dim(2)?;
                    (k.narrow(2, t - w, w)?, v.narrow(2, t - w, w)?)
                }
                _ => (k, v),
            };
            let k = candle_transformers::utils::repeat_kv(k, heads / kv_heads)?.contiguous()?;
            let v = candle_transformers::utils::repeat_kv(v, heads / kv_heads)?.contiguous()?;
            let mut scores = (q.contiguous()?.matmul(&k.t()?)? * scale)?;
            if let Some((local, global)) = &masks {
                let mask = if layer.window.is_some() { local } else { global };
                scores = scores.broadcast_add(mask)?;
            }
            let attn = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?;
            let attn = attn.transpose(1, 2)?.reshape((1, n, heads * head_dim))?;
            let attn = layer.post_attn_norm.forward(&layer.o.forward(&attn)?)?;
            let x1 = (attn + &x)?;
            let h = layer.ffn_norm.forward(&x1)?;
            let ff = layer.down.forward(&(layer.gate.forward(&h)?.gelu()? * layer.up.forward(&h)?)?)?;
            x = (layer.post_ffn_norm.forward(&ff)? + x1)?;
        }
        let last = x.narrow(1, n - 1, 1)?.squeeze(1)?;
        self.output.forward(&self.norm.forward(&last)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_tables_scale_positions() {
        let d = Device::Cpu;
        let plain = Rope::new(4, 10_000.0, 1.0, 16, &d).unwrap();
        let scaled = Rope::new(4, 10_000.0, 8.0, 16, &d).unwrap();
        // Position 8 scaled by 8 is position 1 unscaled.
        let p = |r: &Rope, i| r.cos.narrow(0, i, 1).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(p(&scaled, 8), p(&plain, 1));
        assert_eq!(p(&plain, 0), vec![1.0, 1.0]);
    }
}
