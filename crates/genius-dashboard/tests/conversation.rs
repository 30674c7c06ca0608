//! The model's conversation of a recorded LLM run (tests/fixtures/llm-run), over HTTP.

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use genius_dashboard::Dashboard;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

async fn get_json(dashboard: &Dashboard, uri: &str) -> Value {
    let response = dashboard.router().oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// The fixture of an LLM run, recorded by the real `genius search --optimizer genius` against a scripted server.
fn llm_fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[tokio::test]
async fn the_conversation_of_an_llm_run_has_every_call_its_repairs_and_trials() {
    let dashboard = Dashboard::new(&llm_fixture()).unwrap();
    let c = get_json(&dashboard, "/api/conversation/llm-run").await;
    let calls: Vec<&Value> = c["items"].as_array().unwrap().iter().filter(|i| i["type"] == "call").collect();
    assert_eq!(c["calls"].as_u64().unwrap() as usize, calls.len());
    assert!(calls.len() >= 5, "{c}");
    // In order, numbered from 1.
    for (k, call) in calls.iter().enumerate() {
        assert_eq!(call["call"].as_u64().unwrap() as usize, k + 1);
    }
    assert_eq!(calls[0]["reply"], "I suggest [0, 1, 0, 1, 0, 1, 0, 1].");
    assert!(calls[0]["messages"].as_array().unwrap().iter().all(|m| m["state"] == "first"));
    // The retried 500 belongs to the second call.
    assert_eq!(calls[1]["retries"][0]["status"], 500);
    // The reply with no architecture in it was repaired: the problem, the repair sent, and the next call carries it.
    let repaired = calls.iter().find(|c| !c["problems"].as_array().unwrap().is_empty()).expect("a repaired call");
    let problem = &repaired["problems"][0];
    assert!(problem["repair"].is_string() && problem["problem"].is_string(), "{problem}");
    let next = calls.iter().find(|c| c["call"] == repaired["call"].as_u64().unwrap() + 1).unwrap();
    let new_messages: Vec<&Value> =
        next["messages"].as_array().unwrap().iter().filter(|m| m["state"] != "same").collect();
    assert!(!new_messages.is_empty());
    assert!(new_messages.iter().any(|m| m["content"] == problem["repair"]), "{next}");
    assert!(new_messages.len() < next["messages"].as_array().unwrap().len(), "earlier messages show as unchanged");
    // The first call's proposal became trial 0.
    assert_eq!(calls[0]["trials"][0]["index"], 0);
    assert_eq!(calls[0]["trials"][0]["text"], "01010101");
    assert!(c["prompt_tokens"].as_u64().unwrap() > 0);
}
