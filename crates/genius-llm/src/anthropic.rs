//! The Anthropic Messages client. Structured output is a forced tool call whose input schema is the answer's.

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::chat::{ChatModel, ChatReply, ChatRequest, Exchange, ModelInfo, Role, Source};
use crate::http::{Connection, Http, tokens};
use crate::{LlmError, pricing};

/// The API version header sent.
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the Messages API; this is sent when the request sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// A Messages API client.
pub struct AnthropicClient {
    http: Http,
    model: String,
    structured: bool,
}

impl AnthropicClient {
    /// A client for `model` over `conn` (base URL e.g. `https://api.anthropic.com`). With `structured_output`, a
    /// request's schema is sent as a tool the model must call.
    pub fn new(model: impl Into<String>, conn: Connection, structured_output: bool) -> Result<Self, LlmError> {
        if conn.api_key.is_none() {
            return Err(LlmError::Settings("anthropic needs an API key".into()));
        }
        Ok(Self { http: Http::new(conn)?, model: model.into(), structured: structured_output })
    }

    fn url(&self) -> String {
        let base = &self.http.conn.base_url;
        if base.ends_with("/v1") { format!("{base}/messages") } else { format!("{base}/v1/messages") }
    }

    /// The JSON body sent for `request`: system messages joined into `system`, the rest as turns.
    pub fn body(&self, request: &ChatRequest) -> Value {
        let system: Vec<&str> =
            request.messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
        let turns: Vec<Value> = request
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| json!({ "role": m.role, "content": m.content }))
            .collect();
        let mut body = json!({
            "model": request.model,
            "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "messages": turns,
        });
        let o = body.as_object_mut().expect("an object");
        if !system.is_empty() {
            o.insert("system".into(), json!(system.join("\n\n")));
        }
        if let Some(t) = request.temperature {
            o.insert("temperature".into(), json!(t));
        }
        if let Some(p) = request.top_p {
            o.insert("top_p".into(), json!(p));
        }
        if let (true, Some(schema)) = (self.structured, &request.schema) {
            o.insert(
                "tools".into(),
                json!([{
                    "name": schema.name,
                    "description": "Give your answer by calling this tool.",
                    "input_schema": schema.schema,
                }]),
            );
            o.insert("tool_choice".into(), json!({ "type": "tool", "name": schema.name }));
        }
        body
    }
}

#[async_trait]
impl ChatModel for AnthropicClient {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            provider: "anthropic".into(),
            model: self.model.clone(),
            endpoint: Some(self.url()),
            structured_output: self.structured,
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<Exchange, LlmError> {
        let key = self.http.conn.api_key.as_ref().map(|k| k.expose().to_owned()).unwrap_or_default();
        let headers = [("x-api-key", key), ("anthropic-version", API_VERSION.to_owned())];
        let (value, retries, latency_s) =
            self.http.post::<Value>("anthropic", &self.url(), &headers, &self.body(request)).await?;
        let reply = parse_reply(&value).map_err(|message| LlmError::Rejected {
            provider: "anthropic".into(),
            status: Some(200),
            message,
            retries: retries.clone(),
        })?;
        let usage = pricing::usage(reply.tokens, self.http.conn.price.as_ref());
        Ok(Exchange { reply, source: Source::Network, usage, latency_s, retries })
    }
}

/// Reads a Messages answer: text blocks joined, and a tool call's input as JSON text.
pub fn parse_reply(value: &Value) -> Result<ChatReply, String> {
    let blocks = value
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("the answer has no content: {}", crate::http::shorten(&value.to_string(), 300)))?;
    let mut parts = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(b.get("text").and_then(Value::as_str).unwrap_or_default().to_owned()),
            Some("tool_use") => parts.push(b.get("input").map(Value::to_string).unwrap_or_default()),
            _ => {}
        }
    }
    let stop = value.get("stop_reason").and_then(Value::as_str).map(str::to_owned);
    Ok(ChatReply {
        content: parts.join("\n"),
        refusal: (stop.as_deref() == Some("refusal")).then(|| "the model refused (stop_reason: refusal)".to_owned()),
        finish_reason: stop,
        model: value.get("model").and_then(Value::as_str).map(str::to_owned),
        tokens: tokens(value.get("usage"), "input_tokens", "output_tokens"),
    })
}
