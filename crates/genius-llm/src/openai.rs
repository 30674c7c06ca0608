//! The OpenAI Chat Completions client: OpenAI itself, Azure OpenAI deployments, and OpenAI-compatible servers
//! (vLLM, Ollama, llama.cpp's server, ...). Only this module and [`crate::anthropic`] know a wire format.

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::chat::{ChatModel, ChatReply, ChatRequest, Exchange, ModelInfo, Source};
use crate::http::{Connection, Http, tokens};
use crate::{LlmError, pricing};

/// Which kind of OpenAI-style endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavor {
    /// api.openai.com (or a proxy of it): `Authorization: Bearer`, `max_completion_tokens`, structured output.
    OpenAi,
    /// An Azure OpenAI deployment: `{base}/openai/deployments/{deployment}/chat/completions?api-version=...`, the
    /// key in an `api-key` header.
    Azure {
        /// The deployment name.
        deployment: String,
        /// The `api-version` query value.
        api_version: String,
    },
    /// Any server speaking the format: `max_tokens`; a bearer key only when one is configured.
    Compatible,
}

/// A Chat Completions client.
pub struct OpenAiClient {
    http: Http,
    flavor: Flavor,
    model: String,
    structured: bool,
}

impl OpenAiClient {
    /// A client of `flavor` for `model` over `conn`. `structured_output` says whether the endpoint accepts
    /// `response_format` with a JSON schema (OpenAI and Azure do; many compatible servers do too).
    pub fn new(
        flavor: Flavor,
        model: impl Into<String>,
        conn: Connection,
        structured_output: bool,
    ) -> Result<Self, LlmError> {
        if flavor != Flavor::Compatible && conn.api_key.is_none() {
            return Err(LlmError::Settings(format!("{} needs an API key", provider(&flavor))));
        }
        Ok(Self { http: Http::new(conn)?, flavor, model: model.into(), structured: structured_output })
    }

    fn url(&self) -> String {
        let base = &self.http.conn.base_url;
        match &self.flavor {
            Flavor::Azure { deployment, api_version } => {
                format!("{base}/openai/deployments/{deployment}/chat/completions?api-version={api_version}")
            }
            _ => format!("{base}/chat/completions"),
        }
    }

    /// The JSON body sent for `request`.
    pub fn body(&self, request: &ChatRequest) -> Value {
        let mut body = json!({ "model": request.model, "messages": request.messages });
        let o = body.as_object_mut().expect("an object");
        if let Some(t) = request.temperature {
            o.insert("temperature".into(), json!(t));
        }
        if let Some(p) = request.top_p {
            o.insert("top_p".into(), json!(p));
        }
        if let Some(m) = request.max_tokens {
            let field = if self.flavor == Flavor::Compatible { "max_tokens" } else { "max_completion_tokens" };
            o.insert(field.into(), json!(m));
        }
        if let Some(s) = request.seed {
            o.insert("seed".into(), json!(s));
        }
        if let (true, Some(schema)) = (self.structured, &request.schema) {
            o.insert(
                "response_format".into(),
                json!({
                    "type": "json_schema",
                    "json_schema": { "name": schema.name, "strict": true, "schema": schema.schema },
                }),
            );
        }
        body
    }
}

fn provider(flavor: &Flavor) -> &'static str {
    match flavor {
        Flavor::OpenAi => "openai",
        Flavor::Azure { .. } => "azure",
        Flavor::Compatible => "openai-compatible",
    }
}

#[async_trait]
impl ChatModel for OpenAiClient {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            provider: provider(&self.flavor).to_owned(),
            model: self.model.clone(),
            endpoint: Some(self.url()),
            structured_output: self.structured,
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<Exchange, LlmError> {
        let mut headers = Vec::new();
        if let Some(key) = &self.http.conn.api_key {
            match self.flavor {
                Flavor::Azure { .. } => headers.push(("api-key", key.expose().to_owned())),
                _ => headers.push(("authorization", format!("Bearer {}", key.expose()))),
            }
        }
        let name = provider(&self.flavor);
        let (value, retries, latency_s) =
            self.http.post::<Value>(name, &self.url(), &headers, &self.body(request)).await?;
        let reply = parse_reply(&value).map_err(|message| LlmError::Rejected {
            provider: name.to_owned(),
            status: Some(200),
            message,
            retries: retries.clone(),
        })?;
        let usage = pricing::usage(reply.tokens, self.http.conn.price.as_ref());
        Ok(Exchange { reply, source: Source::Network, usage, latency_s, retries })
    }
}

/// Reads a Chat Completions answer.
pub fn parse_reply(value: &Value) -> Result<ChatReply, String> {
    let choice = value
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| format!("the answer has no choices: {}", crate::http::shorten(&value.to_string(), 300)))?;
    let message = choice.get("message");
    let text = |k: &str| message.and_then(|m| m.get(k)).and_then(Value::as_str).map(str::to_owned);
    Ok(ChatReply {
        content: text("content").unwrap_or_default(),
        finish_reason: choice.get("finish_reason").and_then(Value::as_str).map(str::to_owned),
        refusal: text("refusal").filter(|r| !r.is_empty()),
        model: value.get("model").and_then(Value::as_str).map(str::to_owned),
        tokens: tokens(value.get("usage"), "prompt_tokens", "completion_tokens"),
    })
}
