//! The provider-neutral chat types and the [`ChatModel`] trait every client implements.

use async_trait::async_trait;
use genius_core::Usage;
use serde::{Deserialize, Serialize};

use crate::LlmError;

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the conversation.
    System,
    /// The user (the optimizer).
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// Its name as the wire formats write it: `system`, `user`, `assistant`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: Role::System, content: content.into() }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into() }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: content.into() }
    }
}

/// A JSON schema the reply must follow (structured output), where the provider supports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchema {
    /// A short name for the schema (`[a-zA-Z0-9_-]`).
    pub name: String,
    /// The schema itself.
    pub schema: serde_json::Value,
}

/// Everything sent to a model for one completion. It holds no credential: it is written to transcripts whole and
/// is the key of the response cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model (for Azure, informational: the deployment decides).
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// The most tokens the reply may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// The provider's sampling seed, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The schema of the expected answer (structured output), or `None` for free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<JsonSchema>,
    /// Values the answer must not contain (the architectures already evaluated, as objects of the schema): a
    /// provider that decodes under the schema (the embedded model) masks them token by token; the others ignore it
    /// and are never sent it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<serde_json::Value>,
}

impl ChatRequest {
    /// A request of `messages` to `model` with every option unset (the provider's defaults, free text).
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            temperature: None,
            top_p: None,
            max_tokens: None,
            seed: None,
            schema: None,
            exclude: Vec::new(),
        }
    }

    /// The messages as readable text, each under a `### role` heading, separated by blank lines: how a prompt is
    /// shown to a person (and kept in snapshot tests).
    pub fn transcript(&self) -> String {
        self.messages.iter().map(|m| format!("### {}\n{}", m.role.as_str(), m.content)).collect::<Vec<_>>().join("\n\n")
    }

    /// The request as one canonical string: the key of the response cache and of replay.
    pub fn key(&self) -> String {
        serde_json::to_string(self).expect("chat requests serialize")
    }
}

/// Prompt and completion tokens of one reply, as the provider counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tokens {
    /// Prompt (input) tokens.
    pub prompt: u64,
    /// Completion (output) tokens.
    pub completion: u64,
}

/// What a model answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatReply {
    /// The text of the answer (for a structured answer, its JSON).
    pub content: String,
    /// Why the model stopped (`stop`, `length`, `end_turn`, ...), as the provider says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// An explicit refusal, where the provider reports one apart from the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// The model that answered, as the provider names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Tokens used.
    #[serde(default)]
    pub tokens: Tokens,
}

/// Where a reply came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The provider, over the network (paid).
    Network,
    /// The response cache (free).
    Cache,
    /// A recorded run's transcript (free; usage is reported as recorded so that budgets replay alike).
    Replay,
    /// The embedded model, computed in-process (free: tokens are counted, nothing is paid).
    Local,
}

/// A failed attempt that was retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The attempt number, from 1.
    pub attempt: u32,
    /// What went wrong (with the HTTP status and the provider's message, where there was one).
    pub error: String,
    /// The HTTP status, if there was a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Seconds waited before the next attempt.
    pub wait_s: f64,
}

/// A completed call: the reply, what it cost, how long it took, and the failed attempts before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// The reply.
    pub reply: ChatReply,
    /// Where it came from.
    pub source: Source,
    /// What it cost (calls, tokens and money actually spent; for replay, as recorded).
    pub usage: Usage,
    /// Seconds from the first attempt to the reply, waits included.
    pub latency_s: f64,
    /// Attempts that failed and were retried first.
    pub retries: Vec<Attempt>,
}

/// What a chat model is, for transcripts (never a credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// `openai`, `azure`, `openai-compatible`, `anthropic`, `replay`, ...
    pub provider: String,
    /// The model name.
    pub model: String,
    /// The endpoint, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Whether the provider enforces a JSON schema on replies.
    pub structured_output: bool,
}

/// A chat model: given a conversation, it answers. Clients retry and wait inside `chat`; it is the only place in
/// genius-llm that sleeps.
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// What it is.
    fn info(&self) -> ModelInfo;

    /// One completion of `request`.
    async fn chat(&self, request: &ChatRequest) -> Result<Exchange, LlmError>;
}

#[async_trait]
impl<T: ChatModel + ?Sized> ChatModel for std::sync::Arc<T> {
    fn info(&self) -> ModelInfo {
        (**self).info()
    }
    async fn chat(&self, request: &ChatRequest) -> Result<Exchange, LlmError> {
        (**self).chat(request).await
    }
}
