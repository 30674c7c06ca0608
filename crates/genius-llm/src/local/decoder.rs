//! The forward pass of the Llama-style decoders (`llama`: SmolLM2, Llama 3.x, TinyLlama; `qwen2`: Qwen2 and Qwen2.5;
//! `qwen3`: Qwen3) on quantized GGUF weights, written for the embedded model rather than taken from
//! candle-transformers 0.11.1's `quantized_llama`, `quantized_qwen2` and `quantized_qwen3`, which suit it less:
//!
//! - the embedding table stays quantized and the rows a batch needs are dequantized on the fly (candle's three
//!   dequantize it whole to f32: 113 MB for SmolLM2-135M, about 2 GB for a 7B model's 128k or 152k vocabulary);
//! - the attention cache ([`super::attention`]) is appended in place and a clone of the model keeps its own: every
//!   family keeps prompt prefixes (candle's Qwen2 weights cannot be cloned, and its Qwen3 shares a preallocated
//!   cache between clones);
//! - a step is computed on plain rows of f32, with no tensor per operation (candle's per-operation allocation and
//!   dispatch were most of a reply token's time);
//! - a chunk of prompt that continues a cached prefix is masked against the prefix and itself, and single tokens
//!   and batches share one cache in every family;
//! - Llama 3.1's rotary frequency factors (`rope_freqs.weight`) are applied, as llama.cpp does (candle ignores
//!   them).
//!
//! One block: `x += o(attention(rope(q(norm(x))), rope(k(norm(x))), v(norm(x))))`, then
//! `x += down(silu(gate(norm(x))) * up(norm(x)))`. Qwen2 adds biases to q, k and v; Qwen3 normalizes queries and
//! keys per head before the rotation. Llama pairs adjacent dimensions in the rotation, Qwen the two halves.

use std::sync::Arc;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Result};

use super::attention::{Cache, Heads, attend};
use super::layers::{Embedding, Linear, Norm, Pairing, Rope, add, silu_gate};

/// The most positions the rotary tables cover (the engine's context is the smaller of this and the file's).
pub const MAX_POSITIONS: usize = 8192;

/// The architectures (`general.architecture`) this forward pass runs.
pub const ARCHITECTURES: [&str; 3] = ["llama", "qwen2", "qwen3"];

#[derive(Debug, Clone)]
struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    /// Qwen2's biases of q, k and v.
    bias: Option<(Vec<f32>, Vec<f32>, Vec<f32>)>,
    /// Qwen3's per-head norms of queries and keys.
    qk_norm: Option<(Norm, Norm)>,
    attn_norm: Norm,
    ffn_norm: Norm,
    gate: Linear,
    up: Linear,
    down: Linear,
    cache: Cache,
}

/// A Llama, Qwen2 or Qwen3 model with its attention cache.
#[derive(Debug, Clone)]
pub struct Decoder {
    embedding: Embedding,
    layers: Vec<Layer>,
    norm: Norm,
    output: Linear,
    rope: Rope,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    positions: usize,
}

impl Decoder {
    /// The model in `content` (a GGUF file of one of [`ARCHITECTURES`]), its tensors read from `reader`.
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        content: &gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> Result<Self> {
        let arch = content.metadata.get("general.architecture").and_then(|v| v.to_string().ok()).cloned();
        let arch = arch.unwrap_or_default();
        if !ARCHITECTURES.contains(&arch.as_str()) {
            candle_core::bail!("architecture `{arch}` is not a Llama-style decoder");
        }
        let md = |k: &str| {
            content
                .metadata
                .get(&format!("{arch}.{k}"))
                .ok_or_else(|| candle_core::Error::msg(format!("no {arch}.{k}")))
        };
        let u = |k: &str| -> Result<usize> { Ok(md(k)?.to_u32()? as usize) };
        if md("expert_count").and_then(|v| v.to_u32()).is_ok_and(|n| n > 0) {
            candle_core::bail!("a mixture of experts");
        }
        let heads = u("attention.head_count")?;
        let kv_heads = u("attention.head_count_kv")?;
        let blocks = u("block_count")?;
        let hidden = u("embedding_length")?;
        if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 {
            candle_core::bail!("{heads} attention heads in groups of {kv_heads} key-value heads");
        }
        let head_dim = u("attention.key_length").unwrap_or(hidden / heads);
        let rotated = u("rope.dimension_count").unwrap_or(head_dim);
        if rotated != head_dim {
            candle_core::bail!("a partial rotation ({rotated} of {head_dim} dimensions)");
        }
        let eps = md("attention.layer_norm_rms_epsilon")?.to_f32()?;
        let base = md("rope.freq_base").and_then(|v| v.to_f32()).unwrap_or(10_000.0);
        let positions = u("context_length").unwrap_or(4096).min(MAX_POSITIONS);
        let factors = if content.tensor_infos.contains_key("rope_freqs.weight") {
            let t = content.tensor(reader, "rope_freqs.weight", device)?.dequantize(device)?;
            Some(t.flatten_all()?.to_vec1::<f32>()?)
        } else {
            None
        };
        let pairing = if arch == "llama" { Pairing::Adjacent } else { Pairing::Halves };
        let rope = Rope::new(head_dim, base, 1.0, factors.as_deref(), pairing, positions)?;
        let norm = Norm::read(content, reader, "output_norm.weight", eps, device)?;
        let mut layers = Vec::with_capacity(blocks);
        for i in 0..blocks {
            let name = |n: &str| format!("blk.{i}.{n}");
            let mut mm = |n: &str| Linear::new(Arc::new(content.tensor(reader, &name(n), device)?));
            let (q, k, v, o) =
                (mm("attn_q.weight")?, mm("attn_k.weight")?, mm("attn_v.weight")?, mm("attn_output.weight")?);
            let (gate, up, down) = (mm("ffn_gate.weight")?, mm("ffn_up.weight")?, mm("ffn_down.weight")?);
            let bias = if content.tensor_infos.contains_key(&name("attn_q.bias")) {
                let mut b = |n: &str| {
                    content.tensor(reader, &name(n), device)?.dequantize(device)?.flatten_all()?.to_vec1::<f32>()
                };
                Some((b("attn_q.bias")?, b("attn_k.bias")?, b("attn_v.bias")?))
            } else {
                None
            };
            let qk_norm = if content.tensor_infos.contains_key(&name("attn_q_norm.weight")) {
                Some((
                    Norm::read(content, reader, &name("attn_q_norm.weight"), eps, device)?,
                    Norm::read(content, reader, &name("attn_k_norm.weight"), eps, device)?,
                ))
            } else {
                None
            };
            layers.push(Layer {
                q,
                k,
                v,
                o,
                bias,
                qk_norm,
                attn_norm: Norm::read(content, reader, &name("attn_norm.weight"), eps, device)?,
                ffn_norm: Norm::read(content, reader, &name("ffn_norm.weight"), eps, device)?,
                gate,
                up,
                down,
                cache: Cache::default(),
            });
        }
        let embedding = Embedding::new(Arc::new(content.tensor(reader, "token_embd.weight", device)?))?;
        let output = if content.tensor_infos.contains_key("output.weight") {
            Linear::new(Arc::new(content.tensor(reader, "output.weight", device)?))?
        } else {
            Linear::new(embedding.table().clone())?
        };
        Ok(Self { embedding, layers, norm, output, rope, heads, kv_heads, head_dim, positions })
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
        let (heads, kv_heads, head_dim) = (self.heads, self.kv_heads, self.head_dim);
        let shape = Heads { heads, kv_heads, head_dim, scale: 1.0 / (head_dim as f32).sqrt(), window: None };
        for layer in &mut self.layers {
            let h = layer.attn_norm.normalized(&x);
            let [mut q, mut k, mut v] = Linear::forward_many([&layer.q, &layer.k, &layer.v], &h)?;
            if let Some((bq, bk, bv)) = &layer.bias {
                for (rows, bias) in [(&mut q, bq), (&mut k, bk), (&mut v, bv)] {
                    rows.chunks_exact_mut(bias.len()).for_each(|row| add(row, bias));
                }
            }
            if let Some((q_norm, k_norm)) = &layer.qk_norm {
                q_norm.apply(&mut q);
                k_norm.apply(&mut k);
            }
            self.rope.apply(&mut q, heads, pos);
            self.rope.apply(&mut k, kv_heads, pos);
            let attn = attend(&mut layer.cache, shape, &q, &k, &v, pos)?;
            add(&mut x, &layer.o.forward(&attn)?);
            let h = layer.ffn_norm.normalized(&x);
            let [mut gate, up] = Linear::forward_many([&layer.gate, &layer.up], &h)?;
            silu_gate(&mut gate, &up);
            add(&mut x, &layer.down.forward(&gate)?);
        }
        let hidden = x.len() / n;
        self.output.forward(&self.norm.normalized(&x[(n - 1) * hidden..]))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use candle_core::Tensor;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_transformers::models::{quantized_llama, quantized_qwen2, quantized_qwen3};

    use super::*;
    use crate::local::test_values as values;

    const VOCAB: usize = 50;
    const HIDDEN: usize = 64;
    const HEADS: usize = 4;
    const KV_HEADS: usize = 2;
    const HEAD_DIM: usize = 16;
    const FF: usize = 96;

    /// A small random model of `arch` as a GGUF file: two blocks, Q8_0 matrices (f32 norms and biases), Qwen2's
    /// biases, Qwen3's query and key norms, and an output projection of its own unless `tied`.
    fn model_file(arch: &str, tied: bool) -> Cursor<Vec<u8>> {
        let d = Device::Cpu;
        let mut seed = 0;
        let mut tensor = |shape: &[usize], dtype: GgmlDType, scale: f32, offset: f32| {
            seed += 1;
            let v: Vec<f32> = values(shape.iter().product(), seed, scale).into_iter().map(|x| x + offset).collect();
            QTensor::quantize(&Tensor::from_vec(v, shape, &d).unwrap(), dtype).unwrap()
        };
        let mut tensors: Vec<(String, QTensor)> = Vec::new();
        let (q8, f32) = (GgmlDType::Q8_0, GgmlDType::F32);
        tensors.push(("token_embd.weight".into(), tensor(&[VOCAB, HIDDEN], q8, 1.0, 0.0)));
        tensors.push(("output_norm.weight".into(), tensor(&[HIDDEN], f32, 0.1, 1.0)));
        if !tied {
            tensors.push(("output.weight".into(), tensor(&[VOCAB, HIDDEN], q8, 0.3, 0.0)));
        }
        for i in 0..2 {
            let mut add = |n: &str, shape: &[usize], dtype, scale, offset| {
                tensors.push((format!("blk.{i}.{n}"), tensor(shape, dtype, scale, offset)));
            };
            add("attn_norm.weight", &[HIDDEN], f32, 0.1, 1.0);
            add("attn_q.weight", &[HEADS * HEAD_DIM, HIDDEN], q8, 0.3, 0.0);
            add("attn_k.weight", &[KV_HEADS * HEAD_DIM, HIDDEN], q8, 0.3, 0.0);
            add("attn_v.weight", &[KV_HEADS * HEAD_DIM, HIDDEN], q8, 0.3, 0.0);
            add("attn_output.weight", &[HIDDEN, HEADS * HEAD_DIM], q8, 0.3, 0.0);
            add("ffn_norm.weight", &[HIDDEN], f32, 0.1, 1.0);
            add("ffn_gate.weight", &[FF, HIDDEN], q8, 0.3, 0.0);
            add("ffn_up.weight", &[FF, HIDDEN], q8, 0.3, 0.0);
            add("ffn_down.weight", &[HIDDEN, FF], q8, 0.3, 0.0);
            if arch == "qwen2" {
                add("attn_q.bias", &[HEADS * HEAD_DIM], f32, 0.2, 0.0);
                add("attn_k.bias", &[KV_HEADS * HEAD_DIM], f32, 0.2, 0.0);
                add("attn_v.bias", &[KV_HEADS * HEAD_DIM], f32, 0.2, 0.0);
            }
            if arch == "qwen3" {
                add("attn_q_norm.weight", &[HEAD_DIM], f32, 0.1, 1.0);
                add("attn_k_norm.weight", &[HEAD_DIM], f32, 0.1, 1.0);
            }
        }
        use gguf_file::Value;
        let key = |k: &str| format!("{arch}.{k}");
        let metadata: Vec<(String, Value)> = vec![
            ("general.architecture".into(), Value::String(arch.into())),
            // candle's Qwen3 computes its rotation in f16 unless the file says f32.
            ("general.dtype".into(), Value::U32(0)),
            (key("attention.head_count"), Value::U32(HEADS as u32)),
            (key("attention.head_count_kv"), Value::U32(KV_HEADS as u32)),
            (key("attention.key_length"), Value::U32(HEAD_DIM as u32)),
            (key("rope.dimension_count"), Value::U32(HEAD_DIM as u32)),
            (key("block_count"), Value::U32(2)),
            (key("embedding_length"), Value::U32(HIDDEN as u32)),
            (key("feed_forward_length"), Value::U32(FF as u32)),
            (key("context_length"), Value::U32(256)),
            (key("attention.layer_norm_rms_epsilon"), Value::F32(1e-6)),
            (key("rope.freq_base"), Value::F32(10_000.0)),
        ];
        let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut file = Cursor::new(Vec::new());
        gguf_file::write(&mut file, &metadata, &tensors).unwrap();
        file.set_position(0);
        file
    }

    fn ours(file: &mut Cursor<Vec<u8>>) -> Decoder {
        file.set_position(0);
        let content = gguf_file::Content::read(file).unwrap();
        Decoder::from_gguf(&content, file, &Device::Cpu).unwrap()
    }

    fn logits(t: Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    fn assert_close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
        let worst = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(worst <= 1e-4 * scale, "{what}: differs by {worst} (logits up to {scale})");
    }

    const PROMPT: [u32; 7] = [1, 7, 3, 42, 0, 19, 8];

    /// Each family's logits after a prompt and after one more token, ours against candle-transformers' model of
    /// the same file (the reference for the arithmetic; the differences are the ones the module names).
    #[test]
    fn logits_match_candles_models_of_the_same_file() {
        let d = Device::Cpu;
        let input = |ids: &[u32]| Tensor::new(ids, &d).unwrap().unsqueeze(0).unwrap();
        for (arch, tied) in [("llama", false), ("llama", true), ("qwen2", true), ("qwen2", false), ("qwen3", true)] {
            let mut file = model_file(arch, tied);
            let mut model = ours(&mut file);
            let prompt = model.forward(&PROMPT, 0).unwrap();
            let next = model.forward(&[5], PROMPT.len()).unwrap();
            file.set_position(0);
            let content = gguf_file::Content::read(&mut file).unwrap();
            let (theirs_prompt, theirs_next) = match arch {
                "llama" => {
                    let mut m = quantized_llama::ModelWeights::from_gguf(content, &mut file, &d).unwrap();
                    (m.forward(&input(&PROMPT), 0).unwrap(), m.forward(&input(&[5]), PROMPT.len()).unwrap())
                }
                "qwen2" => {
                    let mut m = quantized_qwen2::ModelWeights::from_gguf(content, &mut file, &d).unwrap();
                    (m.forward(&input(&PROMPT), 0).unwrap(), m.forward(&input(&[5]), PROMPT.len()).unwrap())
                }
                _ => {
                    let mut m = quantized_qwen3::ModelWeights::from_gguf(content, &mut file, &d).unwrap();
                    (m.forward(&input(&PROMPT), 0).unwrap(), m.forward(&input(&[5]), PROMPT.len()).unwrap())
                }
            };
            assert_close(&prompt, &logits(theirs_prompt), &format!("{arch} (tied {tied}) after the prompt"));
            assert_close(&next, &logits(theirs_next), &format!("{arch} (tied {tied}) after one more token"));
        }
    }

    /// A prompt run whole, in chunks, token by token, or continued from a clone of the model at its middle gives
    /// the same logits, to the bit: the cache and the positions a chunk continuing a prefix sees are right, a
    /// clone's cache is its own, and every operation computes a position the same way whatever its batch.
    #[test]
    fn a_prompt_in_pieces_or_from_a_kept_prefix_gives_the_same_logits() {
        for arch in ARCHITECTURES {
            let mut file = model_file(arch, true);
            let mut model = ours(&mut file);
            let whole = model.forward(&PROMPT, 0).unwrap();
            model.clear_cache();
            model.forward(&PROMPT[..3], 0).unwrap();
            let kept = model.clone();
            let chunks = model.forward(&PROMPT[3..], 3).unwrap();
            assert_eq!(chunks, whole, "{arch} in two chunks");
            // The original goes elsewhere; the clone still continues the first three tokens.
            model.forward(&[9, 9], PROMPT.len()).unwrap();
            let mut kept = kept;
            let from_kept = kept.forward(&PROMPT[3..], 3).unwrap();
            assert_eq!(from_kept, whole, "{arch} from the kept prefix");
            model.clear_cache();
            let mut last = Vec::new();
            for (i, id) in PROMPT.iter().enumerate() {
                last = model.forward(&[*id], i).unwrap();
            }
            assert_eq!(last, whole, "{arch} token by token");
        }
    }

    #[test]
    fn files_it_cannot_run_are_refused_with_the_reason() {
        let mut file = model_file("qwen2", true);
        let mut content = gguf_file::Content::read(&mut file).unwrap();
        content.metadata.insert("qwen2.rope.dimension_count".into(), gguf_file::Value::U32(8));
        let err = Decoder::from_gguf(&content, &mut file, &Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("partial rotation"), "{err}");
        content.metadata.insert("qwen2.attention.head_count".into(), gguf_file::Value::U32(0));
        let err = Decoder::from_gguf(&content, &mut file, &Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("0 attention heads"), "{err}");
        content.metadata.insert("general.architecture".into(), gguf_file::Value::String("phi3".into()));
        let err = Decoder::from_gguf(&content, &mut file, &Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("phi3"), "{err}");
    }
}
