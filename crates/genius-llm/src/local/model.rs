//! The embedded chat model: an instruct model read from a GGUF file and run on the CPU with candle (its quantized
//! matmuls, and the model families of [`super::family`]: Llama/SmolLM2, Qwen2, Qwen3, Gemma 3, Phi-3), answering a
//! [`ChatRequest`] in-process.
//!
//! - The prompt is the conversation in the model's chat template ([`Template`]: ChatML for SmolLM2 and Qwen, Gemma's,
//!   Phi-3's, Llama 3's; recognised from the file, others are refused by name); the template's end-of-turn token
//!   ends a free reply.
//! - With a JSON schema in the request (structured output, on for this provider), decoding is constrained to it
//!   ([`super::constrained`]): the bytes the schema forces are appended without asking the model, and at every
//!   choice only the tokens the schema allows are sampled from. The reply is always one answer of the schema. The
//!   request's `exclude` (the architectures already evaluated) is masked too: the reply never repeats one of them.
//!   Free text costs no look at the vocabulary: the tokens that are plain text are sorted by length once, and at a
//!   free-text choice those that fit are all allowed.
//! - A prompt that begins like an earlier one (the growing conversation; the stateless prompts, which share their
//!   instructions and the results before the newest) runs from the longest kept prefix with its attention cache
//!   (every family but Phi-3, which computes every prompt whole: see [`super::family`]).
//!   Prompts are computed in chunks cut at fixed positions, so that a reply is the same whatever was cached.
//! - Sampling is seeded: a generator from the request's seed (ChaCha8, as every seeded stream of genius) draws
//!   every token, so the same model file, request and seed give the same reply. Temperature 0 takes the most
//!   likely token (the lowest id on a tie).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use candle_core::Device;
use candle_core::quantized::gguf_file;
use rand::Rng;

use super::PROVIDER;
use super::constrained::{Grammar, Matcher};
use super::family::{ARCHITECTURES, Template, Weights, load_weights};
use super::tokenizer::{PreTokenizer, Tokenizer};
use crate::LlmError;
use crate::chat::{ChatModel, ChatReply, ChatRequest, Exchange, ModelInfo, Source, Tokens};

/// Prompt tokens run through the model at once (bounds the attention scores' memory). Prompts are cut at multiples
/// of it, counted from the first token, whatever was cached: every prompt token is then computed alike (the same
/// shapes, the same order of sums), so that a reply never depends on what the engine answered before.
const CHUNK: usize = 64;

/// The prompt prefixes kept with their attention cache (see [`Engine::complete`]).
const KEPT: usize = 2;

/// The most tokens of a reply with no schema and no `max_tokens`.
const FREE_TOKENS: usize = 512;

/// What one completion did, for throughput figures.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Timing {
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Seconds spent on the prompt.
    pub prompt_s: f64,
    /// Reply tokens the model chose (sampled).
    pub sampled_tokens: usize,
    /// Reply tokens the schema forced (run through the model in batches, never sampled).
    pub forced_tokens: usize,
    /// Seconds spent on the reply.
    pub reply_s: f64,
    /// Of those, seconds spent choosing tokens (masking by the schema and sampling), not running the model.
    pub choose_s: f64,
}

/// A completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The reply's text.
    pub text: String,
    /// `stop` (the answer is complete, or the model ended it) or `length` (cut at the token limit).
    pub finish_reason: &'static str,
    /// What it took.
    pub timing: Timing,
}

/// The loaded model: weights, tokenizer, chat template tokens.
pub struct Engine {
    weights: Weights,
    tokenizer: Tokenizer,
    /// Token ids by their first byte (control tokens left out), for masking.
    by_first_byte: Vec<Vec<u32>>,
    /// The tokens that are plain free text (printable ASCII but `"` and `\\`), shortest first: inside a string with
    /// room for `n` more bytes, those of at most `n` bytes are allowed without a look at each.
    plain: Vec<u32>,
    /// The byte lengths of `plain`, in the same order.
    plain_len: Vec<usize>,
    /// The tokens with a `"` (that may close a string and go on): checked one by one.
    quoted: Vec<u32>,
    /// The tokens of a reply with no schema: text, and the end of the turn.
    unconstrained: Vec<u32>,
    /// Prompt prefixes (cut at multiples of [`CHUNK`]) with the model holding their attention cache, longest last:
    /// a prompt that begins with one (the growing conversation, the stateless prompts that share their
    /// instructions and the results so far) runs from there.
    kept: Vec<(Vec<u32>, Weights)>,
    /// The previous prompt.
    last_prompt: Vec<u32>,
    /// The model's architecture (`general.architecture`).
    architecture: String,
    template: Template,
    /// The beginning-of-text token the prompt starts with, if any.
    bos: Option<u32>,
    /// The tokens that end a reply: the template's end of turn, the file's end of text.
    stops: Vec<u32>,
    /// The most positions a context may have.
    positions: usize,
    device: Device,
    name: String,
}

fn meta<'a>(content: &'a gguf_file::Content, key: &str, path: &Path) -> Result<&'a gguf_file::Value, LlmError> {
    content.metadata.get(key).ok_or_else(|| {
        LlmError::Settings(format!(
            "{}: the GGUF file has no `{key}`; it is not a model genius can run",
            path.display()
        ))
    })
}

fn strings(v: &gguf_file::Value, key: &str, path: &Path) -> Result<Vec<String>, LlmError> {
    let bad = || LlmError::Settings(format!("{}: `{key}` is not a list of strings", path.display()));
    v.to_vec().map_err(|_| bad())?.iter().map(|x| x.to_string().cloned().map_err(|_| bad())).collect()
}

/// The tokenizer of a GGUF file: byte-level BPE (`tokenizer.ggml.model = "gpt2"`, with a pre-tokenizer it knows)
/// or SentencePiece BPE (`"llama"`).
fn read_tokenizer(content: &gguf_file::Content, path: &Path) -> Result<Tokenizer, LlmError> {
    let shown = path.display();
    let model = meta(content, "tokenizer.ggml.model", path)?.to_string().cloned().unwrap_or_default();
    let tokens = strings(meta(content, "tokenizer.ggml.tokens", path)?, "tokenizer.ggml.tokens", path)?;
    let types: Vec<i32> = match content.metadata.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .to_vec()
            .map_err(|e| LlmError::Settings(format!("{shown}: tokenizer.ggml.token_type: {e}")))?
            .iter()
            .map(|x| x.to_i32().unwrap_or(1))
            .collect(),
        None => Vec::new(),
    };
    match model.as_str() {
        "gpt2" => {
            let pre_name = content
                .metadata
                .get("tokenizer.ggml.pre")
                .and_then(|v| v.to_string().ok().cloned())
                .unwrap_or_else(|| "default".into());
            let pre = PreTokenizer::named(&pre_name).ok_or_else(|| {
                LlmError::Settings(format!(
                    "{shown}: its byte-level BPE tokenizer's pre-tokenizer `{pre_name}` is not supported; the \
                     embedded model knows {}",
                    PreTokenizer::NAMES.join(", ")
                ))
            })?;
            let merges = strings(meta(content, "tokenizer.ggml.merges", path)?, "tokenizer.ggml.merges", path)?;
            Tokenizer::new(&tokens, &types, &merges, pre)
        }
        "llama" => {
            let scores: Vec<f32> = meta(content, "tokenizer.ggml.scores", path)?
                .to_vec()
                .map_err(|e| LlmError::Settings(format!("{shown}: tokenizer.ggml.scores: {e}")))?
                .iter()
                .map(|x| x.to_f32().unwrap_or(0.0))
                .collect();
            let prefix = content.metadata.get("tokenizer.ggml.add_space_prefix").and_then(|v| v.to_bool().ok());
            Tokenizer::sentencepiece(&tokens, &scores, &types, prefix.unwrap_or(true))
        }
        other => Err(LlmError::Settings(format!(
            "{shown}: its tokenizer `{other}` is not supported; the embedded model reads byte-level BPE (gpt2) and \
             SentencePiece (llama) tokenizers"
        ))),
    }
    .map_err(|e| LlmError::Settings(format!("{shown}: {e}")))
}

impl Engine {
    /// Loads the model in `path`: a GGUF file of a chat model of one of the [`ARCHITECTURES`], with a byte-level
    /// BPE or SentencePiece tokenizer and a chat template of [`Template`].
    pub fn open(path: &Path) -> Result<Self, LlmError> {
        let shown = path.display();
        let mut file = std::fs::File::open(path).map_err(|e| {
            LlmError::Settings(if e.kind() == std::io::ErrorKind::NotFound {
                super::missing_model_help(path)
            } else {
                format!("cannot read the model file {shown}: {e}")
            })
        })?;
        // The header is thousands of small fields (the vocabulary, the merges): read through a buffer, not a system
        // call each.
        let content = gguf_file::Content::read(&mut std::io::BufReader::new(&mut file)).map_err(|e| {
            LlmError::Settings(format!(
                "{shown} is not a readable GGUF model file ({e}); download it again (genius model fetch --force)"
            ))
        })?;
        let arch = meta(&content, "general.architecture", path)?.to_string().cloned().unwrap_or_default();
        if !ARCHITECTURES.contains(&arch.as_str()) {
            return Err(LlmError::Settings(format!(
                "{shown}: its architecture is `{arch}`; the embedded model runs {} (Llama and SmolLM2, Qwen2 and \
                 Qwen2.5, Qwen3, Gemma 3, Phi-3): name a GGUF file of one of them",
                ARCHITECTURES.join(", ")
            )));
        }
        let context = content.metadata.get(&format!("{arch}.context_length")).and_then(|v| v.to_u32().ok());
        let context = context.map(|n| n as usize);
        let tokenizer = read_tokenizer(&content, path)?;
        let chat_template = content.metadata.get("tokenizer.chat_template").and_then(|v| v.to_string().ok());
        let template = Template::recognise(chat_template.map(String::as_str), &tokenizer).ok_or_else(|| {
            LlmError::Settings(format!(
                "{shown}: its chat template is none the embedded model writes ({}), or its vocabulary lacks that \
                 template's special tokens",
                Template::all_in_words()
            ))
        })?;
        let eos = content.metadata.get("tokenizer.ggml.eos_token_id").and_then(|v| v.to_u32().ok());
        let mut stops = template.stops(&tokenizer);
        stops.extend(eos.filter(|e| !stops.contains(e) && (*e as usize) < tokenizer.len()));
        // A SentencePiece file asks for its beginning-of-text token unless it says not to (llama.cpp's reading).
        let add_bos = content.metadata.get("tokenizer.ggml.add_bos_token").and_then(|v| v.to_bool().ok());
        let file_bos = content.metadata.get("tokenizer.ggml.bos_token_id").and_then(|v| v.to_u32().ok());
        let bos = template
            .bos(&tokenizer)
            .or_else(|| file_bos.filter(|_| tokenizer.is_sentencepiece() && add_bos.unwrap_or(true)));
        let device = Device::Cpu;
        let weights = load_weights(&arch, path, content, &mut file, &device)
            .map_err(|e| LlmError::Settings(format!("{shown}: cannot load the `{arch}` model's weights: {e}")))?;
        let positions = weights.positions(context);
        let mut by_first_byte = vec![Vec::new(); 256];
        for id in 0..u32::try_from(tokenizer.len()).expect("fewer than 2^32 tokens") {
            if let Some(&b) = tokenizer.token_bytes(id).first().filter(|_| !tokenizer.is_control(id)) {
                by_first_byte[usize::from(b)].push(id);
            }
        }
        let mut plain: Vec<u32> = (0..u32::try_from(tokenizer.len()).expect("fewer than 2^32 tokens"))
            .filter(|&t| !tokenizer.is_control(t) && !tokenizer.token_bytes(t).is_empty())
            .filter(|&t| tokenizer.token_bytes(t).iter().all(|&b| super::constrained::plain(b)))
            .collect();
        plain.sort_by_key(|&t| (tokenizer.token_bytes(t).len(), t));
        let plain_len = plain.iter().map(|&t| tokenizer.token_bytes(t).len()).collect();
        let quoted = (0..u32::try_from(tokenizer.len()).expect("fewer than 2^32 tokens"))
            .filter(|&t| !tokenizer.is_control(t) && tokenizer.token_bytes(t).contains(&b'"'))
            .collect();
        let unconstrained = (0..u32::try_from(tokenizer.len()).expect("fewer than 2^32 tokens"))
            .filter(|&t| !tokenizer.is_control(t) || stops.contains(&t))
            .collect();
        let name = path.file_name().map_or_else(|| shown.to_string(), |n| n.to_string_lossy().into_owned());
        Ok(Self {
            unconstrained,
            weights,
            tokenizer,
            by_first_byte,
            plain,
            plain_len,
            quoted,
            kept: Vec::new(),
            last_prompt: Vec::new(),
            architecture: arch,
            template,
            bos,
            stops,
            positions,
            device,
            name,
        })
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The model's architecture (`general.architecture`: one of [`ARCHITECTURES`]).
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// The chat template the prompts are written in.
    pub fn template(&self) -> Template {
        self.template
    }

    /// The conversation in the model's chat template, ready for the assistant's reply.
    pub fn prompt(&self, request: &ChatRequest) -> Vec<u32> {
        self.template.prompt(request, &self.tokenizer, self.bos)
    }

    /// The logits after `ids`, which continue a context of `pos` tokens.
    fn forward(&mut self, ids: &[u32], pos: usize) -> Result<Vec<f32>, LlmError> {
        self.weights
            .forward(ids, pos, &self.device)
            .map_err(|e| LlmError::Settings(format!("the embedded model failed: {e}")))
    }

    /// Runs `ids` (in chunks) after `pos` tokens: the logits after the last.
    fn feed(&mut self, ids: &[u32], pos: usize) -> Result<Vec<f32>, LlmError> {
        if pos + ids.len() > self.positions {
            return Err(LlmError::Settings(format!(
                "the conversation needs {} tokens; the embedded model holds {}",
                pos + ids.len(),
                self.positions
            )));
        }
        let mut logits = Vec::new();
        for (i, chunk) in ids.chunks(CHUNK).enumerate() {
            logits = self.forward(chunk, pos + i * CHUNK)?;
        }
        Ok(logits)
    }

    /// Runs the prompt: from the longest kept prefix of it, in chunks cut at multiples of [`CHUNK`], keeping the
    /// model at two cuts for the next prompts: the last before the point where this prompt leaves the previous one
    /// (what the stateless prompts share: instructions and the results before the newest), and the last before its
    /// end (a conversation goes on after it). The logits after the last token.
    fn run_prompt(&mut self, prompt: &[u32]) -> Result<Vec<f32>, LlmError> {
        let found = self.kept.iter().rposition(|(ids, _)| ids.len() < prompt.len() && prompt.starts_with(ids));
        let start = match found.and_then(|i| Some((self.kept[i].0.len(), self.kept[i].1.snapshot()?))) {
            Some((len, weights)) => {
                self.weights = weights;
                len
            }
            None => {
                self.weights.clear();
                0
            }
        };
        let shared = self.last_prompt.iter().zip(prompt).take_while(|(a, b)| a == b).count();
        let cut = |n: usize| n / CHUNK * CHUNK;
        let mut marks: Vec<usize> = [cut(shared), cut(prompt.len() - 1)].into_iter().filter(|&m| m > 0).collect();
        marks.dedup();
        let mut kept: Vec<(Vec<u32>, Weights)> =
            self.kept.drain(..).filter(|(ids, _)| marks.contains(&ids.len()) && prompt.starts_with(ids)).collect();
        let mut logits = Vec::new();
        let mut pos = start;
        while pos < prompt.len() {
            let end = (cut(pos) + CHUNK).min(prompt.len());
            logits = self.feed(&prompt[pos..end], pos)?;
            pos = end;
            if marks.contains(&pos)
                && !kept.iter().any(|(ids, _)| ids.len() == pos)
                && let Some(copy) = self.weights.snapshot()
            {
                kept.push((prompt[..pos].to_vec(), copy));
            }
        }
        kept.sort_by_key(|(ids, _)| ids.len());
        let extra = kept.len().saturating_sub(KEPT);
        kept.drain(..extra);
        self.kept = kept;
        self.last_prompt = prompt.to_vec();
        Ok(logits)
    }

    /// One completion of `request`.
    pub fn complete(&mut self, request: &ChatRequest) -> Result<Completion, LlmError> {
        let grammar = request
            .schema
            .as_ref()
            .map(|s| Grammar::from_schema(&s.schema).map(|g| g.excluding(&request.exclude)))
            .transpose()?;
        let temperature = request.temperature.unwrap_or(0.0);
        let top_p = request.top_p.unwrap_or(1.0);
        let limit = request.max_tokens.map_or(if grammar.is_some() { usize::MAX } else { FREE_TOKENS }, |n| n as usize);
        let mut rng = genius_core::rng::seeded(request.seed.unwrap_or(0));
        let prompt = self.prompt(request);
        let started = Instant::now();
        let mut logits = self.run_prompt(&prompt)?;
        let mut timing =
            Timing { prompt_tokens: prompt.len(), prompt_s: started.elapsed().as_secs_f64(), ..Timing::default() };
        let reply_started = Instant::now();
        let mut pos = prompt.len();
        let mut out: Vec<u32> = Vec::new();
        let mut matcher: Option<Matcher> = grammar.as_ref().map(Grammar::start);
        let finish = loop {
            if out.len() >= limit {
                break "length";
            }
            if let (Some(g), Some(m)) = (&grammar, matcher.as_mut()) {
                let forced = m.force(g);
                if !forced.is_empty() {
                    let text = String::from_utf8_lossy(&forced).into_owned();
                    let ids = self.tokenizer.encode(&text);
                    timing.forced_tokens += ids.len();
                    out.extend(&ids);
                    if m.done() {
                        break "stop";
                    }
                    logits = self.feed(&ids, pos)?;
                    pos += ids.len();
                    continue;
                }
                let choosing = Instant::now();
                let allowed = self.allowed(g, m);
                let Some(token) = sample(&logits, &allowed, temperature, top_p, &mut rng) else {
                    return Err(LlmError::Settings("the schema allows no token here (a bug)".into()));
                };
                timing.choose_s += choosing.elapsed().as_secs_f64();
                let fed = m.accepts(g, self.tokenizer.token_bytes(token));
                debug_assert!(fed);
                for &b in self.tokenizer.token_bytes(token) {
                    m.feed(g, b);
                }
                timing.sampled_tokens += 1;
                out.push(token);
                if m.done() {
                    break "stop";
                }
            } else {
                let Some(token) = sample(&logits, &self.unconstrained, temperature, top_p, &mut rng) else {
                    return Err(LlmError::Settings("the model has no tokens to sample".into()));
                };
                if self.stops.contains(&token) {
                    break "stop";
                }
                timing.sampled_tokens += 1;
                out.push(token);
            }
            let last = *out.last().expect("a token");
            logits = self.feed(&[last], pos)?;
            pos += 1;
        };
        timing.reply_s = reply_started.elapsed().as_secs_f64();
        Ok(Completion { text: self.tokenizer.decode(&out), finish_reason: finish, timing })
    }

    /// The tokens the grammar allows after `m`.
    fn allowed(&self, g: &Grammar, m: &Matcher) -> Vec<u32> {
        if let Some(room) = m.text_room(g) {
            // Free text: every plain token that fits, and the few with a quote that the grammar takes.
            let fits = self.plain_len.partition_point(|&n| n <= room);
            let mut out = self.plain[..fits].to_vec();
            out.extend(self.quoted.iter().copied().filter(|&t| m.accepts(g, self.tokenizer.token_bytes(t))));
            return out;
        }
        m.next_bytes(g)
            .into_iter()
            .flat_map(|b| self.by_first_byte[usize::from(b)].iter().copied())
            .filter(|&t| m.accepts(g, self.tokenizer.token_bytes(t)))
            .collect()
    }
}

/// Draws a token of `allowed` from `logits`: the most likely at temperature 0 (the lowest id on a tie), else from
/// the softmax at `temperature` (in the order of the token ids, whatever the order of `allowed`), cut to the smallest
/// set holding `top_p` of the mass when `top_p` is below 1.
fn sample(logits: &[f32], allowed: &[u32], temperature: f64, top_p: f64, rng: &mut impl Rng) -> Option<u32> {
    let logit = |t: u32| f64::from(logits[t as usize]);
    let best = allowed.iter().copied().max_by(|&a, &b| logit(a).total_cmp(&logit(b)).then(b.cmp(&a)))?;
    if temperature <= 0.0 {
        return Some(best);
    }
    let top = logit(best);
    let mut ids = allowed.to_vec();
    if top_p < 1.0 {
        ids.sort_by(|&a, &b| logit(b).total_cmp(&logit(a)).then(a.cmp(&b)));
    } else {
        ids.sort_unstable();
    }
    let mut weights: Vec<f64> = ids.iter().map(|&t| ((logit(t) - top) / temperature).exp()).collect();
    if top_p < 1.0 {
        let total: f64 = weights.iter().sum();
        let mut mass = 0.0;
        for (i, w) in weights.iter().enumerate() {
            mass += w / total;
            if mass >= top_p {
                weights.truncate(i + 1);
                break;
            }
        }
    }
    let total: f64 = weights.iter().sum();
    // 53 random bits as a number in [0, 1).
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return Some(ids[i]);
        }
    }
    Some(ids[weights.len() - 1])
}

/// The embedded model as a [`ChatModel`]: one engine behind a lock, run on a blocking thread.
#[derive(Clone)]
pub struct LocalModel {
    engine: Arc<Mutex<Engine>>,
    path: PathBuf,
    name: String,
}

impl LocalModel {
    /// The model in `path`, loaded once per process (the studies of a `genius compare` share it, one call at a
    /// time).
    pub fn open(path: &Path) -> Result<Self, LlmError> {
        static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<Engine>>>>> = OnceLock::new();
        let key = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
        let engine = match loaded.get(&key) {
            Some(e) => e.clone(),
            None => {
                let e = Arc::new(Mutex::new(Engine::open(path)?));
                loaded.insert(key, e.clone());
                e
            }
        };
        let name = engine.lock().unwrap_or_else(PoisonError::into_inner).name.clone();
        Ok(Self { engine, path: path.to_owned(), name })
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Forgets the prompt prefixes kept with their attention cache (a benchmark's cold start; replies do not
    /// depend on them).
    pub fn forget_prompts(&self) {
        let mut engine = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
        engine.kept.clear();
        engine.last_prompt.clear();
    }

    /// One completion, on this thread (it takes seconds: call it from a blocking thread in async code).
    pub fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        self.engine.lock().unwrap_or_else(PoisonError::into_inner).complete(request)
    }
}

#[async_trait]
impl ChatModel for LocalModel {
    fn info(&self) -> ModelInfo {
        ModelInfo { provider: PROVIDER.into(), model: self.name.clone(), endpoint: None, structured_output: true }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<Exchange, LlmError> {
        let started = Instant::now();
        let (model, owned) = (self.clone(), request.clone());
        let done = tokio::task::spawn_blocking(move || model.complete(&owned))
            .await
            .map_err(|e| LlmError::Settings(format!("the embedded model's thread failed: {e}")))??;
        let tokens = Tokens {
            prompt: done.timing.prompt_tokens as u64,
            completion: (done.timing.sampled_tokens + done.timing.forced_tokens) as u64,
        };
        let reply = ChatReply {
            content: done.text,
            finish_reason: Some(done.finish_reason.into()),
            refusal: None,
            model: Some(self.name.clone()),
            tokens,
        };
        Ok(Exchange {
            reply,
            source: Source::Local,
            usage: crate::pricing::usage(tokens, None),
            latency_s: started.elapsed().as_secs_f64(),
            retries: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_seeded_and_greedy_at_zero() {
        let logits = [0.0f32, 2.0, 1.0, 2.0, -1.0];
        let all = [0, 1, 2, 3, 4];
        let mut rng = genius_core::rng::seeded(1);
        assert_eq!(sample(&logits, &all, 0.0, 1.0, &mut rng), Some(1));
        assert_eq!(sample(&logits, &[0, 2, 4], 0.0, 1.0, &mut rng), Some(2));
        assert_eq!(sample(&logits, &[], 1.0, 1.0, &mut rng), None);
        let draws = |seed| {
            let mut rng = genius_core::rng::seeded(seed);
            (0..64).map(|_| sample(&logits, &all, 1.0, 1.0, &mut rng).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        assert!(draws(7).iter().all(|t| all.contains(t)));
        // top_p keeps the smallest set holding that mass: here the two best tokens.
        let mut rng = genius_core::rng::seeded(3);
        assert!((0..64).all(|_| [1, 3].contains(&sample(&logits, &all, 1.0, 0.5, &mut rng).unwrap())));
    }
}
