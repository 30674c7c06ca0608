//! The model families the embedded model runs (by the GGUF file's `general.architecture`) and the chat templates
//! it writes (recognised from the file's `tokenizer.chat_template`, else from its special tokens).
//!
//! | architecture | models | weights | kept prompt prefixes |
//! |---|---|---|---|
//! | `llama` | SmolLM2, Llama 3.x, TinyLlama | candle's `quantized_llama` | yes |
//! | `qwen2` | Qwen2, Qwen2.5 | candle's `quantized_qwen2` | no: its weights cannot be copied |
//! | `qwen3` | Qwen3 | candle's `quantized_qwen3` | no: a copy would duplicate its preallocated cache |
//! | `gemma3` | Gemma 3 | [`super::gemma3`] | yes |
//! | `phi3` | Phi-3, Phi-3.5 | candle's `quantized_phi3` | no: a copy shares its cache buffer |
//!
//! A family without kept prefixes computes every prompt from its first token: replies are the same, only slower
//! when prompts share a long beginning (the stateless protocol's instructions, a growing conversation).

use std::io::{Read, Seek};

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_phi3, quantized_qwen2, quantized_qwen3};

use super::gemma3::Gemma3;
use super::tokenizer::Tokenizer;
use crate::chat::{ChatRequest, Role};

/// The architectures (`general.architecture`) the embedded model runs.
pub const ARCHITECTURES: [&str; 5] = ["llama", "qwen2", "qwen3", "gemma3", "phi3"];

/// A model's weights with its attention cache.
pub enum Weights {
    /// Llama and its kin (SmolLM2, Llama 3).
    Llama(quantized_llama::ModelWeights),
    /// Qwen2 and Qwen2.5.
    Qwen2(quantized_qwen2::ModelWeights),
    /// Qwen3.
    Qwen3(quantized_qwen3::ModelWeights),
    /// Gemma 3.
    Gemma3(Gemma3),
    /// Phi-3 and Phi-3.5.
    Phi3(quantized_phi3::ModelWeights),
}

impl Weights {
    /// The weights of the `arch` model in `content`, read from `reader` (`arch` one of [`ARCHITECTURES`]).
    pub fn load<R: Read + Seek>(
        arch: &str,
        content: gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> candle_core::Result<Self> {
        Ok(match arch {
            "llama" => Self::Llama(quantized_llama::ModelWeights::from_gguf(content, reader, device)?),
            "qwen2" => Self::Qwen2(quantized_qwen2::ModelWeights::from_gguf(content, reader, device)?),
            "qwen3" => Self::Qwen3(quantized_qwen3::ModelWeights::from_gguf(content, reader, device)?),
            "gemma3" => Self::Gemma3(Gemma3::from_gguf(&content, reader, device)?),
            "phi3" => Self::Phi3(quantized_phi3::ModelWeights::from_gguf(false, content, reader, device)?),
            other => candle_core::bail!("no model family `{other}`"),
        })
    }

    /// The most positions a context may have: the file's context length, bounded where the implementation sets
    /// up a table or cache for fewer (Llama: 4,096; Qwen3: 4,096; Gemma 3: [`super::gemma3::MAX_POSITIONS`]).
    pub fn positions(&self, content_length: Option<usize>) -> usize {
        let file = content_length.unwrap_or(4096);
        match self {
            Self::Llama(_) => quantized_llama::MAX_SEQ_LEN,
            Self::Qwen3(_) => file.min(4096),
            Self::Gemma3(g) => g.positions(),
            Self::Qwen2(_) | Self::Phi3(_) => file,
        }
    }

    /// The logits after `ids`, which continue a context of `pos` tokens.
    pub fn forward(&mut self, ids: &[u32], pos: usize, device: &Device) -> candle_core::Result<Vec<f32>> {
        let input = || Tensor::new(ids, device).and_then(|t| t.unsqueeze(0));
        let logits = match self {
            Self::Llama(w) => w.forward(&input()?, pos)?,
            Self::Qwen2(w) => w.forward(&input()?, pos)?,
            Self::Qwen3(w) => w.forward(&input()?, pos)?,
            Self::Gemma3(w) => w.forward(ids, pos)?,
            Self::Phi3(w) => w.forward(&input()?, pos)?,
        };
        logits.squeeze(0)?.to_vec1::<f32>()
    }

    /// Forgets the attention cache (before a prompt computed from its first token).
    pub fn clear(&mut self) {
        match self {
            Self::Llama(w) => w.clear_kv_cache(),
            Self::Qwen2(w) => w.clear_kv_cache(),
            Self::Qwen3(w) => w.clear_kv_cache(),
            Self::Gemma3(w) => w.clear_cache(),
            // Phi-3 resets its cache itself at position 0.
            Self::Phi3(_) => {}
        }
    }

    /// A copy with the same attention cache that later steps of either never change, for the families where
    /// that is cheap and safe (see the module's table).
    pub fn snapshot(&self) -> Option<Self> {
        match self {
            Self::Llama(w) => Some(Self::Llama(w.clone())),
            Self::Gemma3(w) => Some(Self::Gemma3(w.clone())),
            Self::Qwen2(_) | Self::Qwen3(_) | Self::Phi3(_) => None,
        }
    }

    /// Whether several tokens may be run at once after single tokens. Qwen3 on the CPU keeps single tokens in one
    /// cache and batches in another, so there every token after the prompt is run alone.
    pub fn batches_after_steps(&self) -> bool {
        !matches!(self, Self::Qwen3(_))
    }
}

/// Whether candle multiplies by weights of `dtype` with SIMD on this CPU's kind (x86-64 with AVX2, ARM with NEON).
/// Q4_1, Q5_0, Q5_1 and Q8_1 have only scalar code in candle 0.11: some 30 times slower.
fn fast(dtype: GgmlDType) -> bool {
    !matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 | GgmlDType::Q8_1)
}

/// The `arch` model's weights, with the matrices in a format candle has no SIMD code for requantized to Q8_0 (8.5
/// bits a weight: near-lossless from 4 or 5 bits, and fast): the file is copied into memory in GGUF with those
/// tensors converted, and loaded from there.
pub fn load_weights(
    arch: &str,
    content: gguf_file::Content,
    file: &mut std::fs::File,
    device: &Device,
) -> candle_core::Result<Weights> {
    if content.tensor_infos.values().all(|t| fast(t.ggml_dtype)) {
        return Weights::load(arch, content, file, device);
    }
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content.tensor(file, name, device)?;
        let tensor = if fast(tensor.dtype()) || tensor.shape().dims().last().is_none_or(|n| n % 32 != 0) {
            tensor
        } else {
            QTensor::quantize(&tensor.dequantize(device)?, GgmlDType::Q8_0)?
        };
        tensors.push((name.as_str(), tensor));
    }
    // The tokenizer's lists are not needed by the weights' loader.
    let metadata: Vec<(&str, &gguf_file::Value)> =
        content.metadata.iter().filter(|(k, _)| !k.starts_with("tokenizer.")).map(|(k, v)| (k.as_str(), v)).collect();
    let mut copy = std::io::Cursor::new(Vec::new());
    {
        let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
        gguf_file::write(&mut copy, &metadata, &refs)?;
    }
    // The converted tensors are in the copy now: freed before the weights are read back from it (a lower peak).
    drop(tensors);
    copy.set_position(0);
    let converted = gguf_file::Content::read(&mut copy)?;
    Weights::load(arch, converted, &mut copy, device)
}

/// A chat template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// `<|im_start|>role\n...<|im_end|>\n` (SmolLM2, Qwen).
    ChatMl,
    /// `<bos><start_of_turn>user\n...<end_of_turn>\n`, the assistant's role `model`, no system role: the system
    /// message opens the first user turn (Gemma).
    Gemma,
    /// `<|system|>\n...<|end|>\n<|user|>\n...<|end|>\n<|assistant|>\n` (Phi-3).
    Phi3,
    /// `<|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>` (Llama 3).
    Llama3,
}

/// The templates, with the special tokens each needs (all of them in the vocabulary) and the text of its template
/// that tells it.
const TEMPLATES: [(Template, &[&str], &str); 4] = [
    (Template::ChatMl, &["<|im_start|>", "<|im_end|>"], "<|im_start|>"),
    (Template::Gemma, &["<start_of_turn>", "<end_of_turn>"], "<start_of_turn>"),
    (Template::Llama3, &["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], "<|start_header_id|>"),
    (Template::Phi3, &["<|user|>", "<|assistant|>", "<|end|>"], "<|assistant|>"),
];

impl Template {
    /// The template of a model: the one its chat template (`tokenizer.chat_template`) is written in, else, for a
    /// file with none, the one whose special tokens its vocabulary has.
    pub fn recognise(chat_template: Option<&str>, tokenizer: &Tokenizer) -> Option<Self> {
        let has = |names: &[&str]| names.iter().all(|t| special(tokenizer, t).is_some());
        match chat_template {
            Some(text) => TEMPLATES.iter().find(|(_, needs, tell)| text.contains(tell) && has(needs)),
            None => TEMPLATES.iter().find(|(_, needs, _)| has(needs)),
        }
        .map(|(t, _, _)| *t)
    }

    /// The templates in words, for an error.
    pub fn all_in_words() -> &'static str {
        "ChatML (<|im_start|>), Gemma (<start_of_turn>), Phi-3 (<|user|> <|assistant|> <|end|>), Llama 3 \
         (<|start_header_id|>)"
    }

    /// The tokens that end the assistant's turn (besides the file's end-of-text token).
    pub fn stops(self, tokenizer: &Tokenizer) -> Vec<u32> {
        let names: &[&str] = match self {
            Self::ChatMl => &["<|im_end|>"],
            Self::Gemma => &["<end_of_turn>"],
            Self::Phi3 => &["<|end|>", "<|endoftext|>"],
            Self::Llama3 => &["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"],
        };
        names.iter().filter_map(|n| special(tokenizer, n)).collect()
    }

    /// The conversation of `request` in this template, ready for the assistant's reply. `bos`: the file's
    /// beginning-of-text token, written first when the file asks for it (`tokenizer.ggml.add_bos_token`; Gemma and
    /// Llama 3 always).
    pub fn prompt(self, request: &ChatRequest, tokenizer: &Tokenizer, bos: Option<u32>) -> Vec<u32> {
        let sp = |t: &str| special(tokenizer, t).expect("a template is only chosen when its tokens are there");
        let mut ids: Vec<u32> = bos.into_iter().collect();
        match self {
            Self::ChatMl => {
                let (start, end) = (sp("<|im_start|>"), sp("<|im_end|>"));
                for m in &request.messages {
                    ids.push(start);
                    ids.extend(tokenizer.encode_fragment(&format!("{}\n{}", role(m.role, "assistant"), m.content)));
                    ids.push(end);
                    ids.extend(tokenizer.encode_fragment("\n"));
                }
                ids.push(start);
                ids.extend(tokenizer.encode_fragment("assistant\n"));
            }
            Self::Gemma => {
                let (start, end) = (sp("<start_of_turn>"), sp("<end_of_turn>"));
                for (r, content) in fold_system(request) {
                    ids.push(start);
                    ids.extend(tokenizer.encode_fragment(&format!("{}\n{}", role(r, "model"), content.trim())));
                    ids.push(end);
                    ids.extend(tokenizer.encode_fragment("\n"));
                }
                ids.push(start);
                ids.extend(tokenizer.encode_fragment("model\n"));
            }
            Self::Phi3 => {
                let end = sp("<|end|>");
                let system = special(tokenizer, "<|system|>");
                let turns: Vec<(Role, String)> = if system.is_some() {
                    request.messages.iter().map(|m| (m.role, m.content.clone())).collect()
                } else {
                    fold_system(request)
                };
                for (r, content) in turns {
                    ids.push(match r {
                        Role::System => system.expect("folded when there is none"),
                        Role::User => sp("<|user|>"),
                        Role::Assistant => sp("<|assistant|>"),
                    });
                    ids.extend(tokenizer.encode_fragment(&format!("\n{content}")));
                    ids.push(end);
                    ids.extend(tokenizer.encode_fragment("\n"));
                }
                ids.push(sp("<|assistant|>"));
                ids.extend(tokenizer.encode_fragment("\n"));
            }
            Self::Llama3 => {
                let (start, end, eot) = (sp("<|start_header_id|>"), sp("<|end_header_id|>"), sp("<|eot_id|>"));
                for m in &request.messages {
                    ids.push(start);
                    ids.extend(tokenizer.encode_fragment(role(m.role, "assistant")));
                    ids.push(end);
                    ids.extend(tokenizer.encode_fragment(&format!("\n\n{}", m.content.trim())));
                    ids.push(eot);
                }
                ids.push(start);
                ids.extend(tokenizer.encode_fragment("assistant"));
                ids.push(end);
                ids.extend(tokenizer.encode_fragment("\n\n"));
            }
        }
        ids
    }

    /// The beginning-of-text token this template always writes, whatever the file says.
    pub fn bos(self, tokenizer: &Tokenizer) -> Option<u32> {
        match self {
            Self::Gemma => special(tokenizer, "<bos>"),
            Self::Llama3 => special(tokenizer, "<|begin_of_text|>"),
            Self::ChatMl | Self::Phi3 => None,
        }
    }
}

fn role(r: Role, assistant: &'static str) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => assistant,
    }
}

/// The turns of a template with no system role: each system message opens the next user turn (a blank line
/// between), as Gemma's own template does with the first.
fn fold_system(request: &ChatRequest) -> Vec<(Role, String)> {
    let mut turns = Vec::new();
    let mut pending = String::new();
    for m in &request.messages {
        match m.role {
            Role::System => {
                pending.push_str(m.content.trim());
                pending.push_str("\n\n");
            }
            Role::User => turns.push((Role::User, std::mem::take(&mut pending) + &m.content)),
            Role::Assistant => turns.push((Role::Assistant, m.content.clone())),
        }
    }
    if !pending.is_empty() {
        turns.push((Role::User, pending.trim_end().to_owned()));
    }
    turns
}

/// The special token written `text`: a control token, or a token that is exactly that text on its own.
pub fn special(tokenizer: &Tokenizer, text: &str) -> Option<u32> {
    tokenizer.control_token(text).or_else(|| match tokenizer.encode(text)[..] {
        [id] if tokenizer.token_bytes(id) == text.as_bytes() => Some(id),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Message;

    /// A SentencePiece vocabulary with every byte, a space, and the special tokens of every template (as control
    /// tokens).
    fn vocabulary(extra: &[&str]) -> Tokenizer {
        let mut tokens: Vec<String> = (0..=255u8).map(|b| format!("<0x{b:02X}>")).collect();
        let mut types = vec![6; 256];
        tokens.push("\u{2581}".into());
        types.push(1);
        for t in extra {
            tokens.push((*t).into());
            types.push(3);
        }
        let scores = vec![0.0; tokens.len()];
        Tokenizer::sentencepiece(&tokens, &scores, &types, false).unwrap()
    }

    fn text(t: &Tokenizer, ids: &[u32]) -> String {
        ids.iter().map(|&i| String::from_utf8_lossy(t.token_bytes(i)).into_owned()).collect()
    }

    #[test]
    fn every_template_writes_its_turns_and_is_recognised() {
        let request = ChatRequest::new(
            "m",
            vec![Message::system("Be brief."), Message::user("Hi"), Message::assistant("Yes"), Message::user("Go")],
        );
        let all = [
            "<|im_start|>",
            "<|im_end|>",
            "<bos>",
            "<start_of_turn>",
            "<end_of_turn>",
            "<|system|>",
            "<|user|>",
            "<|assistant|>",
            "<|end|>",
            "<|begin_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
        ];
        let t = vocabulary(&all);
        let cases = [
            (
                Template::ChatMl,
                "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYes\
                 <|im_end|>\n<|im_start|>user\nGo<|im_end|>\n<|im_start|>assistant\n",
                "<|im_end|>",
            ),
            (
                Template::Gemma,
                "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nYes<end_of_turn>\n\
                 <start_of_turn>user\nGo<end_of_turn>\n<start_of_turn>model\n",
                "<end_of_turn>",
            ),
            (
                Template::Phi3,
                "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nYes<|end|>\n<|user|>\nGo<|end|>\n\
                 <|assistant|>\n",
                "<|end|>",
            ),
            (
                Template::Llama3,
                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>\
                 user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nYes<|eot_id|>\
                 <|start_header_id|>user<|end_header_id|>\n\nGo<|eot_id|><|start_header_id|>assistant<|end_header_id|>\
                 \n\n",
                "<|eot_id|>",
            ),
        ];
        for (template, expected, stop) in cases {
            assert_eq!(text(&t, &template.prompt(&request, &t, template.bos(&t))), expected, "{template:?}");
            assert_eq!(text(&t, &template.stops(&t)[..1]), stop);
        }
        // Recognised by the file's template text, or by the special tokens where it has none.
        let only = |names: &[&str]| vocabulary(names);
        assert_eq!(Template::recognise(Some("{{'<|im_start|>' + role}}"), &t), Some(Template::ChatMl));
        assert_eq!(Template::recognise(Some("<start_of_turn>"), &t), Some(Template::Gemma));
        assert_eq!(Template::recognise(None, &only(&all[3..5])), Some(Template::Gemma));
        assert_eq!(Template::recognise(None, &only(&all[6..9])), Some(Template::Phi3));
        assert_eq!(Template::recognise(None, &only(&all[10..13])), Some(Template::Llama3));
        // A template whose tokens the vocabulary lacks, or none at all, is no template.
        assert_eq!(Template::recognise(Some("<|im_start|>"), &only(&all[3..5])), None);
        assert_eq!(Template::recognise(None, &only(&[])), None);
        // Phi-3 without a system token folds the system message into the user's turn.
        let phi = only(&all[6..9]);
        assert!(
            text(&phi, &Template::Phi3.prompt(&request, &phi, None)).starts_with("<|user|>\nBe brief.\n\nHi<|end|>")
        );
    }

    #[test]
    fn a_system_message_opens_the_first_user_turn() {
        let request = ChatRequest::new(
            "m",
            vec![
                Message::system("Be brief. "),
                Message::user("Hi"),
                Message::assistant("Hello"),
                Message::user("Again"),
            ],
        );
        assert_eq!(
            fold_system(&request),
            [
                (Role::User, "Be brief.\n\nHi".to_owned()),
                (Role::Assistant, "Hello".to_owned()),
                (Role::User, "Again".to_owned())
            ]
        );
    }
}
