//! The model families the embedded model runs (by the GGUF file's `general.architecture`) and the chat templates
//! it writes (recognised from the file's `tokenizer.chat_template`, else from its special tokens).
//!
//! | architecture | models | weights | kept prompt prefixes |
//! |---|---|---|---|
//! | `llama` | SmolLM2, Llama 3.x, TinyLlama | [`super::decoder`] (Mixtral: candle's `quantized_llama`) | yes |
//! | `qwen2` | Qwen2, Qwen2.5 | [`super::decoder`] | yes |
//! | `qwen3` | Qwen3 | [`super::decoder`] | yes |
//! | `gemma3` | Gemma 3 | [`super::gemma3`] | yes |
//! | `phi3` | Phi-3, Phi-3.5 | candle's `quantized_phi3` | no: a copy shares its cache buffer |
//!
//! Phi-3 computes every prompt from its first token: replies are the same, only slower when prompts share a long
//! beginning (the stateless protocol's instructions, a growing conversation).

use std::io::{Read, Seek};
use std::path::Path;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_phi3};

use super::converted;
use super::decoder::Decoder;
use super::gemma3::Gemma3;
use super::tokenizer::Tokenizer;
use crate::chat::{ChatRequest, Role};

/// The architectures (`general.architecture`) the embedded model runs.
pub const ARCHITECTURES: [&str; 5] = ["llama", "qwen2", "qwen3", "gemma3", "phi3"];

/// A model's weights with its attention cache.
pub enum Weights {
    /// Llama and its kin (SmolLM2, Llama 3), Qwen2, Qwen2.5 and Qwen3.
    Decoder(Decoder),
    /// A Llama-architecture mixture of experts (Mixtral).
    LlamaExperts(quantized_llama::ModelWeights),
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
        let experts = llama_experts(&content);
        Ok(match arch {
            "llama" if experts > 0 => {
                Self::LlamaExperts(quantized_llama::ModelWeights::from_gguf(content, reader, device)?)
            }
            "llama" | "qwen2" | "qwen3" => Self::Decoder(Decoder::from_gguf(&content, reader, device)?),
            "gemma3" => Self::Gemma3(Gemma3::from_gguf(&content, reader, device)?),
            "phi3" => Self::Phi3(quantized_phi3::ModelWeights::from_gguf(false, content, reader, device)?),
            other => candle_core::bail!("no model family `{other}`"),
        })
    }

    /// The most positions a context may have: the file's context length, bounded where the implementation sets
    /// up a table or cache for fewer (Llama-style decoders: [`super::decoder::MAX_POSITIONS`]; a mixture of
    /// experts: 4,096; Gemma 3: [`super::gemma3::MAX_POSITIONS`]).
    pub fn positions(&self, content_length: Option<usize>) -> usize {
        match self {
            Self::Decoder(d) => d.positions(),
            Self::LlamaExperts(_) => quantized_llama::MAX_SEQ_LEN,
            Self::Gemma3(g) => g.positions(),
            Self::Phi3(_) => content_length.unwrap_or(4096),
        }
    }

    /// The logits after `ids`, which continue a context of `pos` tokens.
    pub fn forward(&mut self, ids: &[u32], pos: usize, device: &Device) -> candle_core::Result<Vec<f32>> {
        let input = || Tensor::new(ids, device).and_then(|t| t.unsqueeze(0));
        let logits = match self {
            Self::Decoder(w) => return w.forward(ids, pos),
            Self::LlamaExperts(w) => w.forward(&input()?, pos)?,
            Self::Gemma3(w) => return w.forward(ids, pos),
            Self::Phi3(w) => w.forward(&input()?, pos)?,
        };
        logits.squeeze(0)?.to_vec1::<f32>()
    }

    /// Forgets the attention cache (before a prompt computed from its first token).
    pub fn clear(&mut self) {
        match self {
            Self::Decoder(w) => w.clear_cache(),
            Self::LlamaExperts(w) => w.clear_kv_cache(),
            Self::Gemma3(w) => w.clear_cache(),
            // Phi-3 resets its cache itself at position 0.
            Self::Phi3(_) => {}
        }
    }

    /// A copy with the same attention cache that later steps of either never change, for the families where
    /// that is cheap and safe (see the module's table).
    pub fn snapshot(&self) -> Option<Self> {
        match self {
            Self::Decoder(w) => Some(Self::Decoder(w.clone())),
            Self::LlamaExperts(w) => Some(Self::LlamaExperts(w.clone())),
            Self::Gemma3(w) => Some(Self::Gemma3(w.clone())),
            Self::Phi3(_) => None,
        }
    }
}

/// The experts of a Llama-architecture file (0 unless it is a mixture of experts, which candle's Llama runs).
fn llama_experts(content: &gguf_file::Content) -> u32 {
    content.metadata.get("llama.expert_count").and_then(|v| v.to_u32().ok()).unwrap_or(0)
}

/// The `arch` model's weights from the file `path` (its `content` read from `file`). A file with matrices in a
/// format neither candle nor genius's own product has SIMD code for is read from its converted copy (see
/// [`super::converted`]), made on first use.
pub fn load_weights(
    arch: &str,
    path: &Path,
    content: gguf_file::Content,
    file: &mut std::fs::File,
    device: &Device,
) -> candle_core::Result<Weights> {
    // The forward passes written here multiply through `layers::Linear`; candle's Phi-3 and Mixtral do not.
    let own_product = matches!(arch, "qwen2" | "qwen3" | "gemma3") || (arch == "llama" && llama_experts(&content) == 0);
    if !converted::needed(&content, own_product) {
        converted::remove_older_copies(path, None);
        return Weights::load(arch, content, file, device);
    }
    if let Some(copy) = converted::kept(path, &content, own_product, file, device)? {
        let mut copy = std::fs::File::open(copy)?;
        let content = gguf_file::Content::read(&mut std::io::BufReader::new(&mut copy))?;
        return Weights::load(arch, content, &mut copy, device);
    }
    let mut copy = converted::in_memory(&content, own_product, file, device)?;
    let content = gguf_file::Content::read(&mut copy)?;
    Weights::load(arch, content, &mut copy, device)
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
