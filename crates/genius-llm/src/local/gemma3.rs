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
//! - the attention cache ([`super::attention`]) is appended in place: cloning the model keeps its cache (the
//!   engine's kept prompt prefixes), and a clone never sees another's later positions;
//! - a step is computed on plain rows of f32, with no tensor per operation.

use std::sync::Arc;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Result};

use super::attention::{Cache, Heads, attend};
use super::layers::{Embedding, Linear, Norm, Pairing, Rope, add, gelu_gate};

/// The most positions the rotary tables cover (the engine's context is the smaller of this and the file's).
pub const MAX_POSITIONS: usize = 8192;

#[derive(Debug, Clone)]
struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: Norm,
    k_norm: Norm,
    attn_norm: Norm,
    post_attn_norm: Norm,
    ffn_norm: Norm,
    post_ffn_norm: Norm,
    gate: Linear,
    up: Linear,
    down: Linear,
    /// The sliding window, for a local layer.
    window: Option<usize>,
    cache: Cache,
}

/// A Gemma 3 model with its attention cache.
#[derive(Debug, Clone)]
pub struct Gemma3 {
    embedding: Embedding,
    hidden: usize,
    layers: Vec<Layer>,
    norm: Norm,
    output: Linear,
    local_rope: Rope,
    global_rope: Rope,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    scale: f32,
    positions: usize,
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
        let rope = |base, scale| Rope::new(head_dim, base, scale, None, Pairing::Halves, positions);
        let local_rope = rope(f("rope.local_freq_base", 10_000.0), 1.0)?;
        let global_rope = rope(f("rope.freq_base", 1_000_000.0), factor)?;
        // llama.cpp's choice: the 27B model (62 blocks) scales by its embedding per head, the others by the key
        // length.
        let scale = if blocks == 62 { 1.0 / ((hidden / heads) as f32).sqrt() } else { 1.0 / (head_dim as f32).sqrt() };
        let output_norm = Norm::read(content, reader, "output_norm.weight", eps, device)?;
        let mut layers = Vec::with_capacity(blocks);
        for i in 0..blocks {
            let mut mm =
                |n: &str| Linear::new(Arc::new(content.tensor(reader, &format!("blk.{i}.{n}.weight"), device)?));
            let (q, k, v, o) = (mm("attn_q")?, mm("attn_k")?, mm("attn_v")?, mm("attn_output")?);
            let (gate, up, down) = (mm("ffn_gate")?, mm("ffn_up")?, mm("ffn_down")?);
            let mut n = |n: &str| Norm::read(content, reader, &format!("blk.{i}.{n}.weight"), eps, device);
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
                cache: Cache::default(),
            });
        }
        let embedding = Embedding::new(Arc::new(content.tensor(reader, "token_embd.weight", device)?))?;
        let output = match content.tensor(reader, "output.weight", device) {
            Ok(t) => Linear::new(Arc::new(t))?,
            Err(_) => Linear::new(embedding.table().clone())?,
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
        })
    }

    /// The most positions a context may have.
    pub fn positions(&self) -> usize {
        self.positions
    }

    /// Forgets the attention cache.
    pub fn clear_cache(&mut self) {
        for l in &mut self.layers {
            l.cache.clear();
        }
    }

    /// The logits after `ids`, which continue a context of `pos` tokens (whose attention cache the model holds).
    pub fn forward(&mut self, ids: &[u32], pos: usize) -> Result<Vec<f32>> {
        let n = ids.len();
        if n == 0 {
            candle_core::bail!("no tokens to run");
        }
        if pos + n > self.positions {
            candle_core::bail!("{} positions; the model is set up for {}", pos + n, self.positions);
        }
        let mut x = self.embedding.rows(ids)?;
        // Gemma scales the embeddings by √hidden (in f32, as candle's f64 factor becomes).
        let factor = (self.hidden as f64).sqrt() as f32;
        x.iter_mut().for_each(|v| *v *= factor);
        let (heads, kv_heads, head_dim) = (self.heads, self.kv_heads, self.head_dim);
        for layer in &mut self.layers {
            let rope = if layer.window.is_some() { &self.local_rope } else { &self.global_rope };
            let h = layer.attn_norm.normalized(&x);
            let [mut q, mut k, v] = Linear::forward_many([&layer.q, &layer.k, &layer.v], &h)?;
            layer.q_norm.apply(&mut q);
            layer.k_norm.apply(&mut k);
            rope.apply(&mut q, heads, pos);
            rope.apply(&mut k, kv_heads, pos);
            let shape = Heads { heads, kv_heads, head_dim, scale: self.scale, window: layer.window };
            let attn = attend(&mut layer.cache, shape, &q, &k, &v, pos)?;
            let mut attn = layer.o.forward(&attn)?;
            layer.post_attn_norm.apply(&mut attn);
            add(&mut x, &attn);
            let h = layer.ffn_norm.normalized(&x);
            let [mut gate, up] = Linear::forward_many([&layer.gate, &layer.up], &h)?;
            gelu_gate(&mut gate, &up);
            let mut ff = layer.down.forward(&gate)?;
            layer.post_ffn_norm.apply(&mut ff);
            add(&mut x, &ff);
        }
        let hidden = x.len() / n;
        self.output.forward(&self.norm.normalized(&x[(n - 1) * hidden..]))
    }
}
