//! The chat clients against a local server speaking the OpenAI and Anthropic wire formats: what is sent, what is
//! read back, and every failure: 429 with Retry-After, 5xx, a hang past the timeout, garbage, a rejected key, a
//! server that never recovers, a port nobody listens on.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Step, Wire, reply, server};
use genius_llm::LlmError;
use genius_llm::anthropic::AnthropicClient;
use genius_llm::cache::CachedModel;
use genius_llm::chat::{ChatModel, ChatRequest, JsonSchema, Message, Source};
use genius_llm::http::{ApiKey, Connection};
use genius_llm::openai::{Flavor, OpenAiClient};
use genius_llm::pricing::Price;
use genius_llm::retry::RetryPolicy;
use serde_json::json;

fn request() -> ChatRequest {
    ChatRequest {
        model: "gpt-test".into(),
        messages: vec![Message::system("You are an expert."), Message::user("Propose a design.")],
        temperature: Some(0.0),
        top_p: None,
        max_tokens: Some(500),
        seed: Some(7),
        schema: None,
        exclude: Vec::new(),
    }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy { max_attempts: 4, initial_backoff_s: 0.01, max_backoff_s: 0.05, max_total_s: 30.0, jitter: 0.5 }
}

fn conn(base: String, key: Option<&str>) -> Connection {
    Connection {
        api_key: key.map(ApiKey::new),
        timeout: Duration::from_secs(5),
        retry: fast_retries(),
        ..Connection::new(base)
    }
}

#[tokio::test]
async fn openai_sends_the_documented_request_and_reads_reply_tokens_and_money() {
    let (srv, script) = server(Wire::OpenAi, vec![reply("[1, 2, 0]")]).await;
    let mut c = conn(format!("{}/v1", srv.uri()), Some("sk-test-secret"));
    c.price = Some(Price { input: 2.5, output: 10.0 });
    c.headers = vec![("OpenAI-Organization".into(), "org-test".into())];
    let client = OpenAiClient::new(Flavor::OpenAi, "gpt-test", c, true).unwrap();
    let mut req = request();
    req.schema = Some(JsonSchema { name: "proposal".into(), schema: json!({"type": "object"}) });
    let x = client.chat(&req).await.unwrap();

    assert_eq!(x.reply.content, "[1, 2, 0]");
    assert_eq!(x.source, Source::Network);
    assert_eq!(x.reply.model.as_deref(), Some("gpt-test"));
    assert!(x.usage.prompt_tokens > 0 && x.usage.completion_tokens > 0);
    assert_eq!(x.usage.calls, 1);
    let expected = (x.usage.prompt_tokens as f64 * 2.5 + x.usage.completion_tokens as f64 * 10.0) / 1e6;
    assert!((x.usage.cost_usd - expected).abs() < 1e-12);

    let got = &script.received()[0];
    assert_eq!(got.path, "/v1/chat/completions");
    assert_eq!(got.header("authorization"), Some("Bearer sk-test-secret"));
    assert_eq!(got.header("openai-organization"), Some("org-test"));
    assert_eq!(got.body["model"], "gpt-test");
    assert_eq!(got.body["messages"][0], json!({"role": "system", "content": "You are an expert."}));
    assert_eq!(got.body["temperature"], 0.0);
    assert_eq!(got.body["seed"], 7);
    assert_eq!(got.body["max_completion_tokens"], 500);
    assert_eq!(got.body["response_format"]["type"], "json_schema");
    assert_eq!(got.body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(got.body["response_format"]["json_schema"]["name"], "proposal");
    // The key is in the header only, never in what a transcript records.
    assert!(!serde_json::to_string(&req).unwrap().contains("sk-test-secret"));
    assert!(!format!("{:?}", client.info()).contains("sk-test-secret"));
}

#[tokio::test]
async fn azure_uses_the_deployment_url_api_version_and_api_key_header() {
    let (srv, script) = server(Wire::OpenAi, vec![reply("ok")]).await;
    let flavor = Flavor::Azure { deployment: "gpt4o-prod".into(), api_version: "2024-10-21".into() };
    let client = OpenAiClient::new(flavor, "gpt4o-prod", conn(srv.uri(), Some("azure-secret")), true).unwrap();
    client.chat(&request()).await.unwrap();
    let got = &script.received()[0];
    assert_eq!(got.path, "/openai/deployments/gpt4o-prod/chat/completions");
    assert_eq!(got.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(got.header("api-key"), Some("azure-secret"));
    assert_eq!(got.header("authorization"), None);
}

#[tokio::test]
async fn a_compatible_server_gets_no_key_max_tokens_and_no_schema_when_it_is_off() {
    let (srv, script) = server(Wire::OpenAi, vec![reply("ok")]).await;
    let client =
        OpenAiClient::new(Flavor::Compatible, "llama3", conn(format!("{}/v1", srv.uri()), None), false).unwrap();
    let mut req = request();
    req.schema = Some(JsonSchema { name: "proposal".into(), schema: json!({"type": "object"}) });
    client.chat(&req).await.unwrap();
    let got = &script.received()[0];
    assert_eq!(got.header("authorization"), None);
    assert_eq!(got.body["max_tokens"], 500);
    assert!(got.body.get("max_completion_tokens").is_none());
    assert!(got.body.get("response_format").is_none());
}

#[tokio::test]
async fn anthropic_sends_system_apart_and_a_forced_tool_for_the_schema() {
    let answer = json!({"architecture": {"depth": 2, "width": 3, "op": 0}});
    let (srv, script) = server(Wire::Anthropic, vec![Step::Structured(answer.clone()), reply("plain text")]).await;
    let client = AnthropicClient::new("claude-test", conn(srv.uri(), Some("ant-secret")), true).unwrap();
    let mut req = request();
    req.schema = Some(JsonSchema { name: "proposal".into(), schema: json!({"type": "object"}) });
    let x = client.chat(&req).await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&x.reply.content).unwrap(), answer);
    assert!(x.usage.prompt_tokens > 0);
    let got = &script.received()[0];
    assert_eq!(got.path, "/v1/messages");
    assert_eq!(got.header("x-api-key"), Some("ant-secret"));
    assert_eq!(got.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(got.body["system"], "You are an expert.");
    assert_eq!(got.body["messages"], json!([{"role": "user", "content": "Propose a design."}]));
    assert_eq!(got.body["max_tokens"], 500);
    assert_eq!(got.body["tool_choice"], json!({"type": "tool", "name": "proposal"}));

    let x = client.chat(&request()).await.unwrap();
    assert_eq!(x.reply.content, "plain text");
    assert!(script.received()[1].body.get("tools").is_none());
}

#[tokio::test]
async fn a_429_waits_what_retry_after_says_then_succeeds() {
    let steps = vec![Step::Error(429, "Rate limit reached".into(), vec![("retry-after", "1".into())]), reply("ok")];
    let (srv, script) = server(Wire::OpenAi, steps).await;
    let client = OpenAiClient::new(Flavor::OpenAi, "m", conn(srv.uri(), Some("k")), false).unwrap();
    let started = Instant::now();
    let x = client.chat(&request()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert_eq!(x.reply.content, "ok");
    assert_eq!(x.retries.len(), 1);
    assert_eq!(x.retries[0].status, Some(429));
    assert_eq!(x.retries[0].wait_s, 1.0);
    assert!(x.retries[0].error.contains("Rate limit reached"));
    assert!(x.latency_s >= 1.0);
    assert_eq!(script.received().len(), 2);
}

#[tokio::test]
async fn server_errors_garbage_and_a_hang_past_the_timeout_are_retried() {
    let steps = vec![
        Step::Error(500, "internal error".into(), vec![]),
        Step::Garbage,
        Step::Hang(Duration::from_secs(3), "too late".into()),
        Step::Error(503, "overloaded".into(), vec![("retry-after-ms", "20".into())]),
        reply("finally"),
    ];
    let (srv, script) = server(Wire::OpenAi, steps).await;
    let mut c = conn(srv.uri(), Some("k"));
    c.timeout = Duration::from_millis(400);
    c.retry.max_attempts = 5;
    let client = OpenAiClient::new(Flavor::OpenAi, "m", c, false).unwrap();
    let x = client.chat(&request()).await.unwrap();
    assert_eq!(x.reply.content, "finally");
    let errors: Vec<&str> = x.retries.iter().map(|a| a.error.as_str()).collect();
    assert_eq!(x.retries.len(), 4, "{errors:?}");
    assert!(errors[0].contains("HTTP 500: internal error"), "{errors:?}");
    assert!(errors[1].contains("unreadable answer"), "{errors:?}");
    assert!(errors[2].contains("no answer within the timeout of 0.4 s"), "{errors:?}");
    assert!(errors[3].contains("HTTP 503: overloaded"), "{errors:?}");
    assert_eq!(x.retries[3].wait_s, 0.02);
    assert_eq!(script.received().len(), 5);
}

#[tokio::test]
async fn a_rejected_key_fails_at_once_with_the_providers_message() {
    let (srv, script) =
        server(Wire::OpenAi, vec![Step::Error(401, "Incorrect API key provided: sk-wr***ng.".into(), vec![])]).await;
    let client = OpenAiClient::new(Flavor::OpenAi, "m", conn(srv.uri(), Some("sk-wrong")), false).unwrap();
    let err = client.chat(&request()).await.unwrap_err();
    assert!(matches!(err, LlmError::Rejected { status: Some(401), .. }), "{err:?}");
    assert_eq!(err.to_string(), "openai rejected the request (HTTP 401): Incorrect API key provided: sk-wr***ng.");
    assert_eq!(script.received().len(), 1, "no retry of a 401");

    let (srv, _) = server(Wire::Anthropic, vec![Step::Error(404, "model: claude-nope".into(), vec![])]).await;
    let client = AnthropicClient::new("claude-nope", conn(srv.uri(), Some("k")), false).unwrap();
    let err = client.chat(&request()).await.unwrap_err();
    assert_eq!(err.to_string(), "anthropic rejected the request (HTTP 404): model: claude-nope");
}

#[tokio::test]
async fn retries_are_bounded_in_count_and_time() {
    let steps = (0..10).map(|_| Step::Error(502, "bad gateway".into(), vec![])).collect();
    let (srv, script) = server(Wire::OpenAi, steps).await;
    let client = OpenAiClient::new(Flavor::OpenAi, "m", conn(srv.uri(), Some("k")), false).unwrap();
    let err = client.chat(&request()).await.unwrap_err();
    assert_eq!(script.received().len(), 4, "max_attempts is 4");
    assert_eq!(err.retries().len(), 4);
    assert!(err.to_string().contains("did not answer after 4 attempt(s)"), "{err}");

    let steps = vec![Step::Error(429, "slow down".into(), vec![("retry-after", "120".into())])];
    let (srv, script) = server(Wire::OpenAi, steps).await;
    let mut c = conn(srv.uri(), Some("k"));
    c.retry.max_total_s = 5.0;
    let client = OpenAiClient::new(Flavor::OpenAi, "m", c, false).unwrap();
    let started = Instant::now();
    let err = client.chat(&request()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "it did not wait the 120 s");
    assert!(err.to_string().contains("would pass the 5 s limit of one call"), "{err}");
    assert_eq!(script.received().len(), 1);
}

#[tokio::test]
async fn a_closed_port_is_a_connection_error_retried_then_reported() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut c = conn(format!("http://127.0.0.1:{port}/v1"), None);
    c.retry.max_attempts = 2;
    let client = OpenAiClient::new(Flavor::Compatible, "m", c, false).unwrap();
    let err = client.chat(&request()).await.unwrap_err();
    assert!(err.to_string().contains("cannot connect"), "{err}");
    assert_eq!(err.retries().len(), 2);
}

#[tokio::test]
async fn the_cache_answers_an_identical_request_without_the_network() {
    let (srv, script) = server(Wire::OpenAi, vec![reply("[0, 1, 0]"), reply("[1, 1, 1]")]).await;
    let dir = tempfile::tempdir().unwrap();
    let live: Arc<dyn ChatModel> =
        Arc::new(OpenAiClient::new(Flavor::Compatible, "m", conn(srv.uri(), None), false).unwrap());
    let cached = CachedModel::open(live.clone(), dir.path(), "run-a").unwrap();
    let first = cached.chat(&request()).await.unwrap();
    let second = cached.chat(&request()).await.unwrap();
    assert_eq!((first.source, second.source), (Source::Network, Source::Cache));
    assert_eq!(second.reply, first.reply);
    assert_eq!(second.usage, Default::default(), "a cached reply costs nothing");
    assert_eq!(script.received().len(), 1);

    // Another request is paid; the cache survives a restart.
    let mut other = request();
    other.messages.push(Message::user("And another."));
    assert_eq!(cached.chat(&other).await.unwrap().reply.content, "[1, 1, 1]");
    let reopened = CachedModel::open(live.clone(), dir.path(), "run-a").unwrap();
    assert_eq!(reopened.len(), 2);
    assert_eq!(reopened.chat(&request()).await.unwrap().source, Source::Cache);
    assert_eq!(script.received().len(), 2);
    let text = std::fs::read_to_string(reopened.path()).unwrap();
    assert!(!text.contains("authorization"), "no header is cached");

    // Another run (another seed) is never answered from this run's entries, even for the same request.
    script.set(vec![reply("[2, 2, 2]")]);
    let other_run = CachedModel::open(live, dir.path(), "run-b").unwrap();
    assert!(other_run.is_empty());
    let answer = other_run.chat(&request()).await.unwrap();
    assert_eq!((answer.source, answer.reply.content.as_str()), (Source::Network, "[2, 2, 2]"));
    assert_eq!(script.received().len(), 3);
}
