//! The model's conversation of an LLM run: every call in order, its messages (a later prompt shown as what changed
//! since the call before), the reply, the proposal read from it or the problem and the repair sent back, tokens,
//! cost, latency and retries, linked to the trials the ask produced. Read from `events.jsonl` as genius-llm writes it
//! (`llm_call`, `llm_retry`, `llm_error`, `reply_problem`, ...), as plain JSON: this crate does not depend on
//! genius-llm.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use serde_json::{Value, json};
use similar::{ChangeTag, TextDiff};

use crate::run::{Loaded, load, status_name};
use crate::{ApiError, Shared};

/// `GET /api/conversation/{path}`.
pub(crate) async fn conversation(
    State(shared): State<Arc<Shared>>,
    UrlPath(rel): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    tokio::task::spawn_blocking(move || load(&shared, &rel).map(|l| conversation_json(&l)))
        .await
        .expect("reading never panics")
        .map(Json)
}

/// The messages of a call against those of the call before: each message the same, changed (with a line diff) or
/// new.
fn messages_against(now: &[Value], before: Option<&[Value]>) -> Vec<Value> {
    let text = |m: &Value| m.get("content").and_then(Value::as_str).unwrap_or_default().to_owned();
    let role = |m: &Value| m.get("role").and_then(Value::as_str).unwrap_or_default().to_owned();
    now.iter()
        .enumerate()
        .map(|(i, m)| {
            let (content, who) = (text(m), role(m));
            match before.and_then(|b| b.get(i)) {
                None => {
                    json!({ "role": who, "state": if before.is_some() { "new" } else { "first" }, "content": content })
                }
                Some(prev) if text(prev) == content && role(prev) == who => {
                    json!({ "role": who, "state": "same", "content": content })
                }
                Some(prev) => {
                    let old = text(prev);
                    let diff = TextDiff::from_lines(old.as_str(), content.as_str());
                    let lines: Vec<Value> = diff
                        .iter_all_changes()
                        .map(|c| {
                            let tag = match c.tag() {
                                ChangeTag::Equal => " ",
                                ChangeTag::Delete => "-",
                                ChangeTag::Insert => "+",
                            };
                            json!([tag, c.value().trim_end_matches('\n')])
                        })
                        .collect();
                    json!({ "role": who, "state": "changed", "content": content, "diff": lines })
                }
            }
        })
        .collect()
}

fn conversation_json(loaded: &Loaded) -> Value {
    let run = &loaded.run;
    let call_of = |data: &Value| data.get("call").and_then(Value::as_u64);
    let mut retries: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    let mut problems: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for e in &run.events {
        let Some(call) = call_of(&e.event.data) else { continue };
        match e.event.kind.as_str() {
            "llm_retry" => retries.entry(call).or_default().push(e.event.data.clone()),
            "reply_problem" => problems.entry(call).or_default().push(e.event.data.clone()),
            _ => {}
        }
    }
    // The last model call of each ask: the one whose reply became the ask's trials.
    let mut last_call_of_ask: BTreeMap<u64, u64> = BTreeMap::new();
    for e in run.events.iter().filter(|e| e.event.kind == "llm_call") {
        if let Some(call) = call_of(&e.event.data) {
            last_call_of_ask.insert(e.ask, call);
        }
    }
    let trials_of = |ask: u64| -> Vec<Value> {
        run.trials
            .iter()
            .filter(|t| t.ask == ask)
            .map(|t| {
                let (status, reason) = status_name(t);
                json!({ "index": t.index, "text": t.text, "status": status, "reason": reason,
                        "search": t.evaluation.as_ref().and_then(|e| run.meta.objective.value(e)) })
            })
            .collect()
    };

    let mut items = Vec::new();
    let mut before: Option<Vec<Value>> = None;
    let (mut prompt_tokens, mut completion_tokens, mut cost) = (0u64, 0u64, 0.0f64);
    for e in &run.events {
        let data = &e.event.data;
        match e.event.kind.as_str() {
            "llm_call" => {
                let call = call_of(data).unwrap_or(0);
                let messages: Vec<Value> =
                    data.pointer("/request/messages").and_then(Value::as_array).cloned().unwrap_or_default();
                let usage = &e.event.usage;
                prompt_tokens += usage.prompt_tokens;
                completion_tokens += usage.completion_tokens;
                cost += usage.cost_usd;
                let problems = problems.get(&call).cloned().unwrap_or_default();
                let proposal =
                    (problems.is_empty() && last_call_of_ask.get(&e.ask) == Some(&call)).then(|| trials_of(e.ask));
                items.push(json!({
                    "type": "call",
                    "call": call,
                    "ask": e.ask,
                    "purpose": data.get("purpose"),
                    "model": data.get("model"),
                    "source": data.get("source"),
                    "latency_s": data.get("latency_s"),
                    "schema": data.pointer("/request/schema/name"),
                    "temperature": data.pointer("/request/temperature"),
                    "messages": messages_against(&messages, before.as_deref()),
                    "reply": data.pointer("/reply/content"),
                    "refusal": data.pointer("/reply/refusal"),
                    "finish_reason": data.pointer("/reply/finish_reason"),
                    "usage": { "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                               "cost_usd": usage.cost_usd },
                    "retries": retries.get(&call).cloned().unwrap_or_default(),
                    "problems": problems,
                    "trials": proposal,
                }));
                before = Some(messages);
            }
            "llm_retry" | "reply_problem" => {}
            kind => items.push(json!({ "type": "event", "kind": kind, "ask": e.ask, "data": data })),
        }
    }
    let calls = items.iter().filter(|i| i["type"] == "call").count();
    json!({
        "run": loaded.rel,
        "space": run.meta.space,
        "optimizer": run.meta.optimizer,
        "label": run.meta.label.optimizer,
        "calls": calls,
        "retries": retries.values().map(Vec::len).sum::<usize>(),
        "repairs": problems.values().map(Vec::len).sum::<usize>(),
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost_usd": cost,
        "items": items,
    })
}
