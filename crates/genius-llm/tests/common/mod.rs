//! A local chat server for tests: it speaks the OpenAI Chat Completions and the Anthropic Messages wire formats,
//! answers each request with the next step of a script (a reply, an HTTP error, a hang), and records every request.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Which wire format the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    Anthropic,
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// A 200 with this text as the model's reply.
    Reply(String),
    /// A 200 whose reply is a structured answer (OpenAI: JSON content; Anthropic: a tool call).
    Structured(Value),
    /// An explicit refusal (OpenAI's `refusal` field; Anthropic's `stop_reason: refusal`).
    Refusal(String),
    /// An HTTP error with the provider's error body and extra headers.
    Error(u16, String, Vec<(&'static str, String)>),
    /// A reply that comes only after this delay (to run past a client's timeout).
    Hang(Duration, String),
    /// A 200 whose body is not JSON.
    Garbage,
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The script and what was received.
pub struct Script {
    wire: Wire,
    steps: Mutex<VecDeque<Step>>,
    received: Mutex<Vec<Received>>,
}

impl Script {
    /// Replaces what is left of the script.
    pub fn set(&self, steps: Vec<Step>) {
        *self.steps.lock().unwrap() = steps.into();
    }

    /// Steps not used yet.
    pub fn left(&self) -> usize {
        self.steps.lock().unwrap().len()
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn error_body(wire: Wire, status: u16, message: &str) -> Value {
    match wire {
        Wire::OpenAi => json!({ "error": { "message": message, "type": "test_error", "code": status } }),
        Wire::Anthropic => json!({ "type": "error", "error": { "type": "test_error", "message": message } }),
    }
}

/// A plausible token count: a quarter of the characters.
fn tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn ok_body(
    wire: Wire,
    request: &Value,
    content: Option<&str>,
    structured: Option<&Value>,
    refusal: Option<&str>,
) -> Value {
    let prompt = tokens(&request["messages"].to_string()) + tokens(request["system"].as_str().unwrap_or(""));
    let text = structured.map(Value::to_string).or(content.map(str::to_owned)).unwrap_or_default();
    let completion = tokens(&text);
    match wire {
        Wire::OpenAi => json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": request["model"],
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": if refusal.is_some() { Value::Null } else { json!(text) }, "refusal": refusal },
                "finish_reason": "stop",
            }],
            "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion },
        }),
        Wire::Anthropic => {
            let content = match (structured, refusal) {
                (_, Some(r)) => json!([{ "type": "text", "text": r }]),
                (Some(input), None) => {
                    json!([{ "type": "tool_use", "id": "toolu_test", "name": "proposal", "input": input }])
                }
                (None, None) => json!([{ "type": "text", "text": text }]),
            };
            json!({
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": request["model"],
                "content": content,
                "stop_reason": if refusal.is_some() { "refusal" } else if structured.is_some() { "tool_use" } else { "end_turn" },
                "usage": { "input_tokens": prompt, "output_tokens": completion },
            })
        }
    }
}

struct Responder(Arc<Script>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let script = &self.0;
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        script.received.lock().unwrap().push(Received {
            path: request.url.path().to_owned(),
            query: request.url.query().map(str::to_owned),
            headers: request
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: body.clone(),
        });
        let wire = script.wire;
        let Some(step) = script.steps.lock().unwrap().pop_front() else {
            return ResponseTemplate::new(500).set_body_json(error_body(wire, 500, "the test script is exhausted"));
        };
        match step {
            Step::Reply(text) => {
                ResponseTemplate::new(200).set_body_json(ok_body(wire, &body, Some(&text), None, None))
            }
            Step::Structured(v) => ResponseTemplate::new(200).set_body_json(ok_body(wire, &body, None, Some(&v), None)),
            Step::Refusal(r) => ResponseTemplate::new(200).set_body_json(ok_body(wire, &body, None, None, Some(&r))),
            Step::Error(status, message, headers) => {
                let mut t = ResponseTemplate::new(status).set_body_json(error_body(wire, status, &message));
                for (k, v) in headers {
                    t = t.insert_header(k, v.as_str());
                }
                t
            }
            Step::Hang(delay, text) => {
                ResponseTemplate::new(200).set_body_json(ok_body(wire, &body, Some(&text), None, None)).set_delay(delay)
            }
            Step::Garbage => ResponseTemplate::new(200).set_body_string("<html>upstream hiccup</html>"),
        }
    }
}

/// A server speaking `wire`, answering with `steps`.
pub async fn server(wire: Wire, steps: Vec<Step>) -> (MockServer, Arc<Script>) {
    let server = MockServer::start().await;
    let script = Arc::new(Script { wire, steps: Mutex::new(steps.into()), received: Mutex::new(Vec::new()) });
    Mock::given(method("POST")).respond_with(Responder(script.clone())).mount(&server).await;
    (server, script)
}

pub fn reply(text: &str) -> Step {
    Step::Reply(text.to_owned())
}
