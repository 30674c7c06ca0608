//! What the HTTP clients share: connection settings, the secret key, sending with retries, reading errors.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use genius_core::SearchRng;
use serde::de::DeserializeOwned;

use crate::LlmError;
use crate::chat::{Attempt, Tokens};
use crate::pricing::Price;
use crate::retry::{self, Failure, RetryPolicy};

/// An API key. It is never printed (its `Debug` hides it), logged, or written anywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key from its text.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key read from the environment variable `var`; [`LlmError::MissingKey`] when it is unset or empty.
    pub fn from_env(var: &str, provider: &str) -> Result<Self, LlmError> {
        match std::env::var(var) {
            Ok(k) if !k.trim().is_empty() => Ok(Self(k.trim().to_owned())),
            _ => Err(LlmError::MissingKey { provider: provider.to_owned(), var: var.to_owned() }),
        }
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<hidden>)")
    }
}

/// How a client reaches its provider.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The key, when the endpoint needs one.
    pub api_key: Option<ApiKey>,
    /// The limit of one HTTP attempt.
    pub timeout: Duration,
    /// Headers added to every request (never put a secret here: settings are recorded).
    pub headers: Vec<(String, String)>,
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
    /// The model's price, for accounting.
    pub price: Option<Price>,
}

impl Connection {
    /// A connection to `base_url` with no key, a 120 s timeout, the default retry policy and no price.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            api_key: None,
            timeout: Duration::from_secs(120),
            headers: Vec::new(),
            retry: RetryPolicy::default(),
            price: None,
        }
    }
}

/// An HTTP client with its connection settings and its jitter generator.
pub(crate) struct Http {
    pub(crate) conn: Connection,
    client: reqwest::Client,
    rng: Mutex<SearchRng>,
}

impl Http {
    pub(crate) fn new(conn: Connection) -> Result<Self, LlmError> {
        conn.retry.check()?;
        if let Some(p) = &conn.price {
            p.check()?;
        }
        let client = reqwest::Client::builder()
            .timeout(conn.timeout)
            .connect_timeout(conn.timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| LlmError::Settings(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { conn, client, rng: Mutex::new(genius_core::rng::seeded(0x6c6c6d)) })
    }

    /// POSTs `body` to `url` with `headers` (plus the configured ones) until an attempt gives a readable `R`.
    pub(crate) async fn post<R: DeserializeOwned>(
        &self,
        provider: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &serde_json::Value,
    ) -> Result<(R, Vec<Attempt>, f64), LlmError> {
        retry::with_retries(&self.conn.retry, provider, &self.rng, || async {
            let mut req = self.client.post(url).json(body);
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            for (k, v) in &self.conn.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let resp = req.send().await.map_err(|e| Failure::transport(transport_message(&e, self.conn.timeout)))?;
            let status = resp.status().as_u16();
            let after = retry::retry_after(resp.headers());
            let text = resp.text().await.map_err(|e| {
                Failure::transport(format!("the answer broke off: {}", transport_message(&e, self.conn.timeout)))
            })?;
            if !(200..300).contains(&status) {
                return Err(Failure::http(status, error_message(&text), after));
            }
            serde_json::from_str::<R>(&text).map_err(|e| Failure {
                retryable: true,
                status: Some(status),
                message: format!("unreadable answer ({e}): {}", shorten(&text, 300)),
                retry_after: None,
            })
        })
        .await
    }
}

fn transport_message(e: &reqwest::Error, timeout: Duration) -> String {
    let mut message = if e.is_timeout() {
        format!("no answer within the timeout of {:.1} s", timeout.as_secs_f64())
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut detail = Vec::new();
    while let Some(s) = source {
        detail.push(s.to_string());
        source = s.source();
    }
    if let Some(last) = detail.last() {
        message.push_str(&format!(" ({last})"));
    }
    message
}

/// The provider's message from an error body (`{"error": {"message": ...}}` and the other shapes servers use).
pub(crate) fn error_message(body: &str) -> String {
    let value: serde_json::Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return if body.trim().is_empty() { "(empty answer)".to_owned() } else { shorten(body.trim(), 500) },
    };
    let pick = |v: &serde_json::Value| -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(o) => o.get("message").and_then(|m| m.as_str()).map(str::to_owned),
            _ => None,
        }
    };
    value
        .get("error")
        .and_then(pick)
        .or_else(|| value.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .or_else(|| value.get("detail").map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned)))
        .unwrap_or_else(|| shorten(body.trim(), 500))
}

/// `text` cut to `max` characters.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// Token counts from a provider's usage object with the given field names.
pub(crate) fn tokens(usage: Option<&serde_json::Value>, prompt: &str, completion: &str) -> Tokens {
    let get = |k: &str| usage.and_then(|u| u.get(k)).and_then(serde_json::Value::as_u64).unwrap_or(0);
    Tokens { prompt: get(prompt), completion: get(completion) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_messages_are_found_in_every_shape() {
        assert_eq!(error_message(r#"{"error":{"message":"Incorrect API key","type":"x"}}"#), "Incorrect API key");
        assert_eq!(error_message(r#"{"error":"model not found"}"#), "model not found");
        assert_eq!(
            error_message(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#),
            "Overloaded"
        );
        assert_eq!(error_message(r#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(error_message("Bad Gateway"), "Bad Gateway");
        assert_eq!(error_message(""), "(empty answer)");
    }

    #[test]
    fn keys_are_hidden_from_debug_output() {
        let conn = Connection { api_key: Some(ApiKey::new("sk-secret")), ..Connection::new("http://x") };
        assert!(!format!("{conn:?}").contains("sk-secret"));
    }
}
