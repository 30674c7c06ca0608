//! genius-llm: chat-model clients and the GENIUS optimizer, a language model proposing architectures.
//!
//! - [`chat`]: the provider-neutral [`ChatModel`] trait, requests and replies. Clients: [`openai`] (OpenAI, Azure
//!   OpenAI, any OpenAI-compatible server such as vLLM, Ollama or llama.cpp's server) and [`anthropic`], over
//!   reqwest with rustls. Keys come from the environment only and are never logged or written. [`local`]: the
//!   embedded model (the cargo feature `local`), a small instruct model in GGUF run in-process with candle, its
//!   decoding constrained to the answer's schema and its sampling seeded; the default when no provider is named.
//! - [`retry`]: 429 honours `Retry-After`; 5xx, connection errors and timeouts back off exponentially with jitter,
//!   bounded in attempts and total time; 400/401/403/404 fail at once with the provider's message.
//! - [`pricing`]: tokens and (with a price in the settings) money per call; the runner sums them into the budget.
//! - [`transcript`], [`replay`], [`cache`]: every request and reply goes to the run's `events.jsonl`; a recorded run
//!   answers the same requests again (`--llm replay:DIR`, and resumes that re-pay nothing); a response cache keyed by
//!   the full request never pays twice for the same request.
//! - [`prompt`], [`reply`], [`schema`]: the paper's prompts as TOML templates; reading architectures out of any reply
//!   with precise problems; the JSON schema of an answer, derived from the space.
//! - [`Genius`]: the optimizer (`genius_core::Optimizer`), in the paper's three protocols, and for a search with
//!   several objectives in a multi-objective one ([`multi_objective`]: every result's objectives, the current Pareto
//!   front marked, an optional target on one objective).
//!
//! ```
//! use std::sync::Arc;
//! use genius_core::{Budget, Study, testing::{ToySpace, ToyTable}};
//! use genius_llm::chat::{ChatModel, ChatReply, ChatRequest, Exchange, ModelInfo, Source};
//! use genius_llm::{Genius, GeniusSettings, LlmError};
//!
//! /// A stand-in model that always proposes the same architecture; a real run uses an HTTP client.
//! struct Fixed;
//! #[genius_core::async_trait]
//! impl ChatModel for Fixed {
//!     fn info(&self) -> ModelInfo {
//!         ModelInfo { provider: "fixed".into(), model: "m".into(), endpoint: None, structured_output: false }
//!     }
//!     async fn chat(&self, _: &ChatRequest) -> Result<Exchange, LlmError> {
//!         let reply = ChatReply { content: "I suggest [2, 3, 0].".into(), finish_reason: None, refusal: None,
//!                                 model: None, tokens: Default::default() };
//!         Ok(Exchange { reply, source: Source::Network, usage: Default::default(), latency_s: 0.0, retries: vec![] })
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let settings = GeniusSettings { model: Some("m".into()), ..GeniusSettings::default() };
//! let space = Arc::new(ToySpace::new().with_brief());
//! let genius = Genius::new(settings.resolve()?, Arc::new(Fixed));
//! let outcome = Study::new(space, Arc::new(ToyTable::new()), Box::new(genius))
//!     .budget(Budget::evaluations(3))
//!     .run()
//!     .await?;
//! // The first proposal is evaluated; the model repeats it, is told "already evaluated" three times, and the
//! // duplicate is proposed at last (answered from the history, never evaluated twice).
//! assert_eq!(outcome.trials[0].arch.choices(), &[2, 3, 0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub mod anonymize;
pub mod anthropic;
pub mod cache;
pub mod catalog;
pub mod chat;
mod error;
pub mod flags;
pub mod http;
pub mod local;
pub mod multi_objective;
pub mod openai;
pub mod optimizer;
pub mod pricing;
pub mod prompt;
pub mod provider;
pub mod replay;
pub mod reply;
pub mod retry;
pub mod schema;
pub mod settings;
pub mod transcript;

use genius_core::run_log::EventRecord;
use genius_core::{Optimizer, OptimizerError};

pub use chat::ChatModel;
pub use error::{LlmError, Result};
pub use optimizer::{Genius, NAME, Protocol};
pub use settings::{GeniusSettings, Resolved, RunScope};

/// One line on the optimizer, for `genius optimizers`.
pub const SUMMARY: &str = "GENIUS: a chat model (the embedded local model, OpenAI, Azure, OpenAI-compatible, \
                           Anthropic, or a recorded run) proposes architectures; any number of objectives";

/// The GENIUS optimizer built from `settings` (JSON, as recorded in a run header) for the run `run`, with its
/// model: a replay when the settings name one, else the live client (its key read from the environment now, so that
/// a missing key fails before any work), answering first from `recorded` (a resumed run's own events, with the run
/// directory for messages). The response cache, when on, answers only re-runs of this same run.
pub fn build(
    settings: serde_json::Value,
    recorded: Option<(&str, &[EventRecord])>,
    run: &RunScope,
) -> Result<Box<dyn Optimizer>, OptimizerError> {
    let fail = |e: LlmError| match e {
        LlmError::Settings(m) => OptimizerError::Settings(m),
        e => OptimizerError::Failed(e.to_string()),
    };
    let settings = GeniusSettings::from_json(settings).and_then(GeniusSettings::resolve).map_err(fail)?;
    let model = settings.model(recorded, run).map_err(fail)?;
    let genius = Genius::new(settings, model);
    Ok(Box::new(match recorded {
        Some((_, events)) => genius.resumed(events),
        None => genius,
    }))
}
