//! The GENIUS optimizer in whole studies against a local server: 10-iteration searches in each of the paper's three
//! protocols through scripted replies (realistic ones and every failure), transcripts that record every failure,
//! exact replay from a transcript, resumes that re-pay nothing, and prompts that never see a held-out metric.

mod common;

use genius_core::checked::Check;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Script, Step, Wire, reply, server};
use genius_core::testing::{ToySpace, ToyTable};
use genius_core::{Budget, Recorded, SearchSpace, StopReason, Study, StudyOutcome, Trial, TrialStatus};
use genius_llm::RunScope;
use genius_llm::anthropic::AnthropicClient;
use genius_llm::chat::ChatModel;
use genius_llm::http::{ApiKey, Connection};
use genius_llm::openai::{Flavor, OpenAiClient};
use genius_llm::provider::Provider;
use genius_llm::retry::RetryPolicy;
use genius_llm::settings::{
    CacheMode, DuplicateHandling, OnCannotImprove, OnRepairsExhausted, Principles, ProtocolChoice,
};
use genius_llm::transcript::CallRecord;
use genius_llm::{Genius, GeniusSettings};
use serde_json::{Value, json};

fn fast_retries() -> RetryPolicy {
    RetryPolicy { max_attempts: 4, initial_backoff_s: 0.01, max_backoff_s: 0.05, max_total_s: 30.0, jitter: 0.5 }
}

/// Settings for an OpenAI-compatible server at `base`, as the CLI would record them.
fn compatible(base: &str, protocol: ProtocolChoice) -> GeniusSettings {
    GeniusSettings {
        llm: Provider::OpenAiCompatible,
        model: Some("test-model".into()),
        base_url: Some(format!("{base}/v1")),
        timeout_s: 0.5,
        retry: fast_retries(),
        cache: CacheMode::Off,
        protocol,
        on_cannot_improve: OnCannotImprove::Continue,
        ..GeniusSettings::default()
    }
}

fn connection(base: String) -> Connection {
    Connection {
        api_key: Some(ApiKey::new("test-key")),
        timeout: Duration::from_millis(500),
        retry: fast_retries(),
        ..Connection::new(base)
    }
}

fn toy() -> Arc<ToySpace> {
    Arc::new(ToySpace::new().with_brief())
}

fn constrained_toy() -> Arc<ToySpace> {
    Arc::new(ToySpace::constrained().with_brief())
}

async fn run(space: Arc<ToySpace>, genius: Genius, dir: &Path, budget: usize) -> StudyOutcome {
    Study::new(space, Arc::new(ToyTable::new()), Box::new(genius))
        .seed(3)
        .budget(Budget::evaluations(budget))
        .run_in(dir)
        .await
        .unwrap()
}

/// A trial without its timings.
fn key(t: &Trial) -> Value {
    let mut v = serde_json::to_value(t).unwrap();
    for field in ["started_at", "duration_s", "elapsed_s"] {
        v.as_object_mut().unwrap().remove(field);
    }
    v
}

fn keys(trials: &[Trial]) -> Vec<Value> {
    trials.iter().map(key).collect()
}

fn events(dir: &Path, kind: &str) -> Vec<Value> {
    Recorded::read(dir).unwrap().events.into_iter().filter(|e| e.event.kind == kind).map(|e| e.event.data).collect()
}

fn calls(dir: &Path) -> Vec<CallRecord> {
    genius_llm::transcript::calls(&Recorded::read(dir).unwrap().events)
}

fn problems(dir: &Path) -> Vec<String> {
    events(dir, "reply_problem").iter().map(|p| p["kind"].as_str().unwrap().to_owned()).collect()
}

fn retry_errors(dir: &Path) -> Vec<String> {
    events(dir, "llm_retry").iter().map(|r| r["error"].as_str().unwrap().to_owned()).collect()
}

fn archs(trials: &[Trial]) -> Vec<Vec<u16>> {
    trials.iter().map(|t| t.arch.choices().to_vec()).collect()
}

/// Replays the run in `dir` into `again` and checks the trials are the same and nothing went to the server.
async fn replays_exactly(space: Arc<ToySpace>, settings: &GeniusSettings, dir: &Path, again: &Path, script: &Script) {
    let sent = script.received().len();
    let replay = GeniusSettings { replay: Some(dir.to_owned()), ..settings.clone() };
    let model = replay.model(None, &RunScope::default()).unwrap();
    let genius = Genius::new(replay.resolve().unwrap(), model);
    let budget = Recorded::read(dir).unwrap().header.budget.evaluations.unwrap();
    let replayed = run(space, genius, again, budget).await;
    let original = Recorded::read(dir).unwrap();
    assert_eq!(keys(&replayed.trials), keys(&original.trials), "a replay gives identical trials");
    assert_eq!(script.received().len(), sent, "a replay sends nothing");
    assert!(calls(again).iter().all(|c| c.source == genius_llm::chat::Source::Replay));
    assert_eq!(replayed.summary.spend.usage, original.summary.unwrap().spend.usage, "usage replays as recorded");
}

/// The stateless script: realistic replies and every failure the client and the parser must survive.
fn stateless_script() -> Vec<Step> {
    vec![
        Step::Error(429, "Rate limit reached for requests".into(), vec![("retry-after-ms", "30".into())]),
        reply("[0, 0, 0]"),
        Step::Error(500, "The server had an error while processing your request.".into(), vec![]),
        reply("```json\n{\"architecture\": [1, 0, 0]}\n```"),
        Step::Hang(Duration::from_secs(2), "[9, 9, 9]".into()),
        reply("Here is my suggestion: [1, 1, 0], because a wider network should do better."),
        reply("Deeper networks usually do better on this kind of task."),
        reply("[1, 2]"),
        reply("[1, 2, 7]"),
        reply("[1, 2, 0]"),
        reply("[1, 2, 0]"),
        reply("op_list = [2, 2, 0]"),
        reply("I'm sorry, but I cannot improve on these results any further."),
        reply("Very well: [2, 3, 0]"),
        reply("[2, 1, 0]"),
        reply("[0, 3, 0]"),
        reply("[1, 3, 0]"),
        reply("[2, 0, 0]"),
    ]
}

#[tokio::test]
async fn stateless_history_survives_every_failure_and_replays_exactly() {
    let (srv, script) = server(Wire::OpenAi, stateless_script()).await;
    let settings = compatible(&srv.uri(), ProtocolChoice::Auto);
    let model = settings.model(None, &RunScope::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let outcome = run(toy(), Genius::new(settings.clone().resolve().unwrap(), model), &dir, 10).await;

    assert_eq!(outcome.summary.stop, StopReason::Budget { limit: genius_core::BudgetLimit::Evaluations });
    assert_eq!(outcome.summary.spend.evaluations, 10);
    assert_eq!(outcome.summary.completed, 10, "repairs cost calls, never evaluations");
    assert_eq!(
        archs(&outcome.trials),
        vec![
            vec![0, 0, 0],
            vec![1, 0, 0],
            vec![1, 1, 0],
            vec![1, 2, 0],
            vec![2, 2, 0],
            vec![2, 3, 0],
            vec![2, 1, 0],
            vec![0, 3, 0],
            vec![1, 3, 0],
            vec![2, 0, 0]
        ]
    );
    assert_eq!(script.left(), 0);

    // The transcript records every failure.
    let retries = retry_errors(&dir);
    assert_eq!(retries.len(), 3, "{retries:?}");
    assert!(retries[0].contains("HTTP 429: Rate limit reached"), "{retries:?}");
    assert!(retries[1].contains("HTTP 500"), "{retries:?}");
    assert!(retries[2].contains("no answer within the timeout"), "{retries:?}");
    assert_eq!(problems(&dir), ["no_answer", "invalid", "invalid", "duplicate", "cannot_improve"]);
    let invalid = events(&dir, "reply_problem");
    assert!(invalid[1]["problem"].as_str().unwrap().contains("it has 2 entries where 3 are needed"));
    assert!(invalid[2]["problem"].as_str().unwrap().contains("entry 3 (op) is 7"));
    assert_eq!(events(&dir, "cannot_improve")[0]["action"], "continue");
    let calls = calls(&dir);
    assert_eq!(calls.len(), 15, "one call per reply");
    assert_eq!(calls.iter().map(|c| c.call).collect::<Vec<_>>(), (1..=15).collect::<Vec<_>>());
    let recorded = Recorded::read(&dir).unwrap();
    let tokens: u64 = recorded.events.iter().map(|e| e.event.usage.tokens()).sum();
    assert_eq!(outcome.summary.spend.usage.tokens(), tokens);
    assert_eq!(outcome.summary.spend.usage.calls, 15);
    assert!(tokens > 0);

    // Stateless: every call is a fresh two-message chat, plus the repairs of its iteration.
    assert_eq!(calls[0].request.messages.len(), 2);
    assert_eq!(calls[4].request.messages.len(), 4, "the repair after prose stays in the same chat");
    assert!(calls[4].request.messages[3].content.starts_with("I could not find a design in your reply."));
    assert!(
        calls[6].request.messages[7].content.contains("entry 3 (op) is 7, which is not allowed there; allowed: 0, 1")
    );
    assert!(calls[8].request.messages[3].content.contains("has already been evaluated"));
    assert_eq!(calls[8].purpose, "duplicate");

    // The prompts see the search metric only.
    for call in &calls {
        for m in &call.request.messages {
            assert!(!m.content.contains("test_acc"), "{}", m.content);
        }
    }
    let last = &calls.last().unwrap().request.messages[1].content;
    let mut lines = 0;
    for line in last.lines().filter(|l| l.contains(" gives an accuracy of ")) {
        let (arch, value) = line.split_once(" gives an accuracy of ").unwrap();
        let arch = toy().parse(arch).unwrap();
        assert_eq!(value, format!("{:.2}%", ToyTable::val_acc(&arch)), "{line}");
        assert_ne!(value, format!("{:.2}%", ToyTable::test_acc(&arch)), "{line}");
        lines += 1;
    }
    assert_eq!(lines, 9, "every earlier trial is listed");

    insta::assert_snapshot!("stateless_first_prompt", calls[0].request.transcript());
    insta::assert_snapshot!("stateless_later_prompt", calls[14].request.transcript());

    replays_exactly(toy(), &settings, &dir, &tmp.path().join("replayed"), &script).await;
}

#[tokio::test]
async fn a_resume_answers_its_recorded_asks_from_the_transcript_and_pays_nothing_twice() {
    let (srv, script) = server(Wire::OpenAi, stateless_script()).await;
    let settings = compatible(&srv.uri(), ProtocolChoice::Stateless);
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let uninterrupted = run(
        toy(),
        Genius::new(settings.clone().resolve().unwrap(), settings.model(None, &RunScope::default()).unwrap()),
        &whole,
        10,
    )
    .await;
    let total_requests = script.received().len();

    // The same search stopped after 4 evaluations, then resumed to 10.
    script.set(stateless_script());
    let before = script.received().len();
    let part = tmp.path().join("part");
    run(
        toy(),
        Genius::new(settings.clone().resolve().unwrap(), settings.model(None, &RunScope::default()).unwrap()),
        &part,
        4,
    )
    .await;
    let first_session = script.received().len() - before;
    let recorded = Recorded::read(&part).unwrap();
    let origin = part.display().to_string();
    let model = settings.model(Some((&origin, &recorded.events)), &RunScope::default()).unwrap();
    let resumed =
        Study::new(toy(), Arc::new(ToyTable::new()), Box::new(Genius::new(settings.clone().resolve().unwrap(), model)))
            .seed(3)
            .budget(Budget::evaluations(10))
            .resume(recorded)
            .await
            .unwrap();
    let second_session = script.received().len() - before - first_session;

    assert_eq!(keys(&resumed.trials), keys(&uninterrupted.trials));
    assert_eq!(first_session + second_session, total_requests, "no request was sent twice");
    assert_eq!(resumed.summary.spend.usage, uninterrupted.summary.spend.usage, "the budget saw the same spend");
    let replayed = calls(&part).iter().filter(|c| c.source == genius_llm::chat::Source::Replay).count();
    assert_eq!(replayed, 0, "replayed asks are not written again");
    assert_eq!(calls(&part).len(), calls(&whole).len(), "the transcript holds each call once");
}

/// The conversation script, over the Anthropic wire with structured output (a forced tool call).
fn conversation_script() -> Vec<Step> {
    let arch = |d: u16, w: u16, o: u16| json!({"depth": d, "width": w, "op": o});
    vec![
        Step::Error(529, "Overloaded".into(), vec![]),
        Step::Structured(json!({"analysis": "Start small and measure.", "architecture": arch(0, 1, 0)})),
        reply(
            "Let me think step by step. Convolutions carry more signal than pooling, so I keep conv.\n\n\
             ```json\n{\"architecture\": {\"depth\": 1, \"width\": 1, \"op\": 0}}\n```",
        ),
        Step::Error(429, "rate_limit_error".into(), vec![("retry-after-ms", "30".into())]),
        reply("I would go deeper. Final answer: [2, 1]"),
        Step::Structured(json!({"analysis": "Deeper now.", "architecture": arch(2, 1, 0)})),
        Step::Structured(json!({"analysis": "Same again.", "architecture": arch(2, 1, 0)})),
        Step::Structured(json!({"analysis": "Wider.", "architecture": arch(2, 2, 0)})),
        Step::Refusal("I can't help with that.".into()),
        reply("Fine: [2, 3, 0]"),
        Step::Hang(Duration::from_secs(2), "[0, 0, 0]".into()),
        reply("[1, 3, 0]"),
        reply("Let us test pooling at the smallest size: [0, 0, 1]"),
        reply("[1, 2, 1]"),
        reply("Stage 1: [2]\nStage 2: [0, 0]"),
        reply("[2, 2, 1]"),
    ]
}

#[tokio::test]
async fn a_conversation_grows_one_chat_and_replays_exactly() {
    let (srv, script) = server(Wire::Anthropic, conversation_script()).await;
    let settings = GeniusSettings {
        llm: Provider::Anthropic,
        model: Some("claude-test".into()),
        base_url: Some(srv.uri()),
        retry: fast_retries(),
        cache: CacheMode::Off,
        protocol: ProtocolChoice::Conversation,
        on_cannot_improve: OnCannotImprove::Continue,
        ..GeniusSettings::default()
    };
    let model: Arc<dyn ChatModel> = Arc::new(AnthropicClient::new("claude-test", connection(srv.uri()), true).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let outcome = run(toy(), Genius::new(settings.clone().resolve().unwrap(), model), &dir, 10).await;

    assert_eq!(outcome.summary.spend.evaluations, 10);
    assert_eq!(
        archs(&outcome.trials),
        vec![
            vec![0, 1, 0],
            vec![1, 1, 0],
            vec![2, 1, 0],
            vec![2, 2, 0],
            vec![2, 3, 0],
            vec![1, 3, 0],
            vec![0, 0, 1],
            vec![1, 2, 1],
            vec![2, 0, 0],
            vec![2, 2, 1]
        ]
    );
    assert!(matches!(outcome.trials[6].status, TrialStatus::Failed { .. }), "the toy table fails [0, 0, 1]");
    assert_eq!(outcome.summary.completed, 9);
    assert_eq!(script.left(), 0);
    assert_eq!(problems(&dir), ["invalid", "duplicate", "cannot_improve"]);
    let retries = retry_errors(&dir);
    assert_eq!(retries.len(), 3, "{retries:?}");
    assert!(retries[0].contains("HTTP 529: Overloaded"));
    assert!(retries[2].contains("no answer within the timeout"));
    assert_eq!(events(&dir, "cannot_improve")[0]["refusal"], "the model refused (stop_reason: refusal)");

    let calls = calls(&dir);
    assert_eq!(calls.len(), 13);
    // One chat: every request extends the previous one.
    for w in calls.windows(2) {
        let (a, b) = (&w[0].request.messages, &w[1].request.messages);
        assert!(b.len() > a.len() && b[..a.len()] == a[..], "call {} does not extend call {}", w[1].call, w[0].call);
    }
    let schema = calls[0].request.schema.as_ref().expect("structured output is on");
    assert_eq!(schema.schema["required"], json!(["analysis", "architecture"]));
    assert!(script.received()[0].body["tools"][0]["input_schema"]["properties"]["architecture"].is_object());
    let feedback = &calls[10].request.messages.last().unwrap().content;
    assert!(
        feedback.starts_with("The model [0, 0, 1] could not be evaluated: this toy architecture always fails. Please"),
        "{feedback}"
    );
    let feedback = &calls[9].request.messages.last().unwrap().content;
    assert!(feedback.starts_with("By using the model [1, 3, 0], we achieved an accuracy of 78.000%."), "{feedback}");
    for call in &calls {
        assert!(call.request.messages.iter().all(|m| !m.content.contains("test_acc")));
    }

    insta::assert_snapshot!("conversation_first_prompt", calls[0].request.transcript());
    insta::assert_snapshot!("conversation_later_prompt", calls[6].request.transcript());

    replays_exactly(toy(), &settings, &dir, &tmp.path().join("replayed"), &script).await;
}

/// The constrained script, over the OpenAI wire with a key and structured output.
fn constrained_script() -> Vec<Step> {
    let arch = |d: u16, w: u16, o: u16| json!({"analysis": "Balance depth and width.", "architecture": {"depth": d, "width": w, "op": o}});
    vec![
        Step::Structured(arch(2, 3, 0)),
        Step::Structured(arch(2, 2, 0)),
        Step::Error(500, "upstream error".into(), vec![]),
        reply(
            "```json\n{\"analysis\": \"Wide but shallow.\", \"architecture\": {\"depth\": 1, \"width\": 3, \"op\": 0}}\n```",
        ),
        reply("Here: [2, 3, 1]"),
        reply("Then [2, 3, 1] again, it is the strongest."),
        reply("[1, 2, 0]"),
        Step::Garbage,
        reply("[4, 2, 0]"),
        reply("[1, 1, 0]"),
        reply("[0, 3, 0]"),
        reply("[0, 2, 0]"),
        reply("[1, 0, 0]"),
        reply("[2, 1, 0]"),
        reply("[1, 3, 1]"),
        reply("[0, 1, 1]"),
    ]
}

#[tokio::test]
async fn the_constrained_protocol_answers_violations_in_the_same_chat_and_replays_exactly() {
    let (srv, script) = server(Wire::OpenAi, constrained_script()).await;
    let settings = GeniusSettings {
        llm: Provider::OpenAi,
        model: Some("gpt-test".into()),
        base_url: Some(format!("{}/v1", srv.uri())),
        retry: fast_retries(),
        cache: CacheMode::Off,
        principles: Principles::Off,
        ..GeniusSettings::default()
    };
    let model: Arc<dyn ChatModel> =
        Arc::new(OpenAiClient::new(Flavor::OpenAi, "gpt-test", connection(format!("{}/v1", srv.uri())), true).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let outcome = run(constrained_toy(), Genius::new(settings.clone().resolve().unwrap(), model), &dir, 10).await;

    assert_eq!(outcome.summary.spend.evaluations, 10);
    assert_eq!(outcome.summary.invalid, 0, "no proposal breaks the constraint");
    assert_eq!(
        archs(&outcome.trials),
        vec![
            vec![2, 2, 0],
            vec![1, 3, 0],
            vec![1, 2, 0],
            vec![1, 1, 0],
            vec![0, 3, 0],
            vec![0, 2, 0],
            vec![1, 0, 0],
            vec![2, 1, 0],
            vec![1, 3, 1],
            vec![0, 1, 1]
        ]
    );
    assert_eq!(script.left(), 0);
    assert_eq!(problems(&dir), ["violation", "violation", "violation", "invalid"]);
    let retries = retry_errors(&dir);
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert!(retries[1].contains("unreadable answer"), "{retries:?}");

    let calls = calls(&dir);
    assert_eq!(calls.len(), 14);
    assert!(calls[0].request.schema.is_some());
    assert_eq!(script.received()[0].body["response_format"]["json_schema"]["strict"], true);
    let violation = &calls[1].request.messages[3].content;
    assert_eq!(
        violation,
        "The design [2, 3, 0] fails to meet the constraint: depth 3 with width 64 is too large. Please revise your \
         design to propose a more suitable approach that maximizes the model's performance while meeting the \
         constraint."
    );
    assert_eq!(calls[1].purpose, "violation");

    insta::assert_snapshot!("constrained_first_prompt", calls[0].request.transcript());
    insta::assert_snapshot!("constrained_later_prompt", calls[5].request.transcript());

    replays_exactly(constrained_toy(), &settings, &dir, &tmp.path().join("replayed"), &script).await;
}

#[tokio::test]
async fn a_model_that_cannot_improve_stops_the_study_when_so_configured() {
    let steps = vec![
        reply("[1, 1, 0]"),
        reply("[2, 2, 0]"),
        reply("These results cannot be improved upon; I have nothing more to suggest."),
    ];
    let (srv, _script) = server(Wire::OpenAi, steps).await;
    let settings = GeniusSettings {
        on_cannot_improve: OnCannotImprove::Stop,
        ..compatible(&srv.uri(), ProtocolChoice::Stateless)
    };
    let tmp = tempfile::tempdir().unwrap();
    let outcome = run(
        toy(),
        Genius::new(settings.clone().resolve().unwrap(), settings.model(None, &RunScope::default()).unwrap()),
        tmp.path(),
        10,
    )
    .await;
    assert_eq!(outcome.summary.stop, StopReason::OptimizerDone);
    assert_eq!(outcome.trials.len(), 2);
    assert_eq!(events(tmp.path(), "cannot_improve")[0]["action"], "stop");
}

#[tokio::test]
async fn when_repairs_run_out_the_query_fails_and_the_search_goes_on_or_it_stops_or_draws_as_configured() {
    let garbage = || (0..4).map(|i| reply(&format!("Design number {i} is my favourite."))).collect::<Vec<_>>();
    let (srv, script) = server(Wire::OpenAi, garbage().into_iter().chain([reply("[1, 1, 1]")]).collect()).await;
    let settings = compatible(&srv.uri(), ProtocolChoice::Stateless);
    let tmp = tempfile::tempdir().unwrap();
    // The default: the query is spent on a failed trial with the reason, and the next one goes on.
    let outcome = run(
        toy(),
        Genius::new(settings.clone().resolve().unwrap(), settings.model(None, &RunScope::default()).unwrap()),
        &tmp.path().join("f"),
        2,
    )
    .await;
    assert_eq!(outcome.summary.stop, StopReason::Budget { limit: genius_core::BudgetLimit::Evaluations });
    assert!(outcome.trials[0].is_failed_query());
    match &outcome.trials[0].status {
        TrialStatus::Invalid { reason } => {
            assert!(reason.contains("no design found in the reply (after 3 repair(s))"), "{reason}")
        }
        other => panic!("expected an invalid trial, got {other:?}"),
    }
    assert_eq!(outcome.summary.invalid, 1);
    assert_eq!(outcome.trials[1].arch.choices(), &[1, 1, 1]);
    assert_eq!(events(&tmp.path().join("f"), "gave_up")[0]["action"], "fail the query");
    // The run resumes through the failed query: it is replayed from the log, not asked again.
    let recorded = Recorded::read(&tmp.path().join("f")).unwrap();
    assert_eq!(recorded.trials.len(), 2);
    assert!(recorded.trials[0].is_failed_query());

    script.set(garbage());
    let settings = GeniusSettings { on_repairs_exhausted: OnRepairsExhausted::Stop, ..settings };
    let outcome = run(
        toy(),
        Genius::new(settings.clone().resolve().unwrap(), settings.model(None, &RunScope::default()).unwrap()),
        &tmp.path().join("a"),
        5,
    )
    .await;
    assert_eq!(outcome.summary.stop, StopReason::OptimizerDone);
    assert!(outcome.trials.is_empty());
    assert_eq!(problems(&tmp.path().join("a")), ["no_answer"; 4], "the 4th problem is recorded, with no repair sent");
    assert_eq!(events(&tmp.path().join("a"), "gave_up")[0]["action"], "stop");

    script.set(garbage().into_iter().chain([reply("[1, 1, 1]")]).collect());
    let settings = GeniusSettings { on_repairs_exhausted: OnRepairsExhausted::Random, ..settings };
    let outcome = run(
        toy(),
        Genius::new(settings.clone().resolve().unwrap(), settings.model(None, &RunScope::default()).unwrap()),
        &tmp.path().join("b"),
        2,
    )
    .await;
    assert_eq!(outcome.trials.len(), 2);
    let fallback = events(&tmp.path().join("b"), "fallback");
    assert_eq!(fallback[0]["proposed"], json!(toy().format(&outcome.trials[0].arch)));
    assert_eq!(outcome.trials[1].arch.choices(), &[1, 1, 1]);
}

#[tokio::test]
async fn repeated_duplicates_are_proposed_at_last_and_answered_from_the_history() {
    let steps =
        vec![reply("[1, 1, 0]"), reply("[1, 1, 0]"), reply("[1, 1, 0]"), reply("[1, 1, 0]"), reply("[1, 1, 0]")];
    let (srv, _script) = server(Wire::OpenAi, steps).await;
    let settings = compatible(&srv.uri(), ProtocolChoice::Stateless);
    let tmp = tempfile::tempdir().unwrap();
    let outcome = run(
        toy(),
        Genius::new(settings.clone().resolve().unwrap(), settings.model(None, &RunScope::default()).unwrap()),
        tmp.path(),
        2,
    )
    .await;
    assert_eq!(outcome.trials.len(), 2);
    assert_eq!(outcome.trials[1].status, TrialStatus::Duplicate { of: 0 });
    assert_eq!(events(tmp.path(), "gave_up")[0]["action"], "propose the duplicates");
}

#[tokio::test]
async fn a_model_that_never_answers_ends_the_study_with_a_recorded_error() {
    let steps = (0..4).map(|_| Step::Error(503, "Service Unavailable".into(), vec![])).collect();
    let (srv, _script) = server(Wire::OpenAi, steps).await;
    let settings = compatible(&srv.uri(), ProtocolChoice::Stateless);
    let tmp = tempfile::tempdir().unwrap();
    let err = Study::new(
        toy(),
        Arc::new(ToyTable::new()),
        Box::new(Genius::new(settings.clone().resolve().unwrap(), settings.model(None, &RunScope::default()).unwrap())),
    )
    .budget(Budget::evaluations(3))
    .run_in(tmp.path())
    .await
    .unwrap_err();
    assert!(err.to_string().contains("did not answer after 4 attempt(s)"), "{err}");
    assert_eq!(retry_errors(tmp.path()).len(), 4);
    assert!(events(tmp.path(), "llm_error")[0]["error"].as_str().unwrap().contains("HTTP 503: Service Unavailable"));
}

#[tokio::test]
async fn several_proposals_per_call_keep_the_valid_new_ones() {
    let steps = vec![
        reply("{\"architectures\": [[0, 1, 0], [1, 1, 0], [2, 1, 0]]}"),
        reply("[[0, 1, 0], [0, 2, 0], [9, 9, 9], [1, 2, 0]]"),
    ];
    let (srv, _script) = server(Wire::OpenAi, steps).await;
    let settings = GeniusSettings { proposals_per_call: 3, ..compatible(&srv.uri(), ProtocolChoice::Stateless) };
    let tmp = tempfile::tempdir().unwrap();
    let outcome = Study::new(
        toy(),
        Arc::new(ToyTable::new()),
        Box::new(Genius::new(settings.clone().resolve().unwrap(), settings.model(None, &RunScope::default()).unwrap())),
    )
    .budget(Budget::evaluations(5))
    .settings(
        genius_core::StudySettings { batch_size: 3, ..Default::default() }.check().expect("valid runner settings"),
    )
    .run_in(tmp.path())
    .await
    .unwrap();
    // Two are left in the budget: the second reply's last two well-formed designs are [0, 2, 0] and [1, 2, 0].
    assert_eq!(archs(&outcome.trials), vec![vec![0, 1, 0], vec![1, 1, 0], vec![2, 1, 0], vec![0, 2, 0], vec![1, 2, 0]]);
    let first = &calls(tmp.path())[0].request.messages[1].content;
    assert!(first.contains("a list of 3 different designs"), "{first}");
}

#[tokio::test]
async fn a_run_stopped_by_a_failing_model_resumes_and_its_transcript_still_replays_exactly() {
    let first = vec![reply("[0, 1, 0]"), reply("[1, 1, 0]")]
        .into_iter()
        .chain((0..4).map(|_| Step::Error(503, "Service Unavailable".into(), vec![])))
        .collect();
    let (srv, script) = server(Wire::OpenAi, first).await;
    let settings = compatible(&srv.uri(), ProtocolChoice::Stateless);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let study = |genius: Genius| {
        Study::new(toy(), Arc::new(ToyTable::new()), Box::new(genius)).seed(3).budget(Budget::evaluations(4))
    };
    let err =
        study(Genius::new(settings.clone().resolve().unwrap(), settings.model(None, &RunScope::default()).unwrap()))
            .run_in(&dir)
            .await;
    assert!(err.unwrap_err().to_string().contains("HTTP 503"));
    assert_eq!(Recorded::read(&dir).unwrap().trials.len(), 2);

    // The provider is back: the resume replays asks 1 and 2 from the transcript and pays only for 3 and 4.
    script.set(vec![reply("[2, 1, 0]"), reply("[2, 2, 0]")]);
    let sent = script.received().len();
    let recorded = Recorded::read(&dir).unwrap();
    let origin = dir.display().to_string();
    let model = settings.model(Some((&origin, &recorded.events)), &RunScope::default()).unwrap();
    let outcome = study(Genius::new(settings.clone().resolve().unwrap(), model)).resume(recorded).await.unwrap();
    assert_eq!(archs(&outcome.trials), vec![vec![0, 1, 0], vec![1, 1, 0], vec![2, 1, 0], vec![2, 2, 0]]);
    assert_eq!(script.received().len() - sent, 2);
    assert_eq!(events(&dir, "llm_error").len(), 1, "the failure stays in the transcript");
    assert_eq!(calls(&dir).len(), 4, "and so does the call that answered ask 3 after the resume");

    replays_exactly(toy(), &settings, &dir, &tmp.path().join("replayed"), &script).await;
}

#[tokio::test]
async fn a_provider_that_rejects_structured_output_gets_free_text_and_the_search_completes() {
    // As OpenAI answers for gpt-4: the schema is refused with HTTP 400.
    let refusal = "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.";
    let designs =
        ["[0, 0, 0]", "[0, 1, 0]", "[0, 2, 0]", "[0, 3, 0]", "[1, 0, 0]", "[1, 1, 0]", "[1, 2, 0]", "[1, 3, 0]"];
    let designs = designs.iter().chain(&["[2, 0, 0]", "[2, 1, 0]"]).map(|d| reply(&format!("My design: {d}")));
    let steps = std::iter::once(Step::Error(400, refusal.into(), vec![])).chain(designs).collect();
    let (srv, script) = server(Wire::OpenAi, steps).await;
    let settings = GeniusSettings {
        llm: Provider::OpenAi,
        model: Some("gpt-4".into()),
        base_url: Some(format!("{}/v1", srv.uri())),
        retry: fast_retries(),
        cache: CacheMode::Off,
        ..GeniusSettings::default()
    };
    let model = settings.clone().resolve().unwrap();
    assert_eq!(model.structured_output, Some(true), "on by default for openai");
    let client: Arc<dyn ChatModel> =
        Arc::new(OpenAiClient::new(Flavor::OpenAi, "gpt-4", connection(format!("{}/v1", srv.uri())), true).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let outcome = run(toy(), Genius::new(settings.resolve().unwrap(), client), tmp.path(), 10).await;
    assert_eq!(outcome.summary.completed, 10);
    let fallback = events(tmp.path(), "structured_output_rejected");
    assert_eq!(fallback.len(), 1);
    assert!(fallback[0]["error"].as_str().unwrap().contains("HTTP 400"), "{fallback:?}");
    let received = script.received();
    assert_eq!(received.len(), 11);
    assert!(received[0].body.get("response_format").is_some());
    assert!(received[1..].iter().all(|r| r.body.get("response_format").is_none()), "free text from then on");
    // A resume starts in free text, so that the run's own transcript answers again: nothing reaches the server.
    let recorded = Recorded::read(tmp.path()).unwrap();
    let settings: GeniusSettings = serde_json::from_value(recorded.header.optimizer.settings.clone()).unwrap();
    let origin = tmp.path().display().to_string();
    let live: Arc<dyn ChatModel> =
        Arc::new(OpenAiClient::new(Flavor::OpenAi, "gpt-4", connection(format!("{}/v1", srv.uri())), true).unwrap());
    let model = Arc::new(genius_llm::replay::ReplayModel::from_events(&origin, &recorded.events, Some(live)).unwrap());
    let genius = Genius::new(settings.resolve().unwrap(), model).resumed(&recorded.events);
    let resumed = Study::new(toy(), Arc::new(ToyTable::new()), Box::new(genius))
        .seed(3)
        .budget(Budget::evaluations(10))
        .resume(recorded)
        .await
        .unwrap();
    assert_eq!(keys(&resumed.trials), keys(&outcome.trials));
    assert_eq!(script.received().len(), 11);
}

#[tokio::test]
async fn repeats_at_temperature_zero_are_independent_calls_and_a_rerun_of_the_same_run_is_served_by_the_cache() {
    let one_run = || ["[0, 1, 0]", "[1, 1, 0]", "[2, 1, 0]"].map(reply).to_vec();
    let (srv, script) = server(Wire::OpenAi, [one_run(), one_run(), one_run()].concat()).await;
    let cache = tempfile::tempdir().unwrap();
    let settings = GeniusSettings {
        temperature: 0.0,
        cache: CacheMode::Auto,
        cache_dir: Some(cache.path().to_owned()),
        ..compatible(&srv.uri(), ProtocolChoice::Stateless)
    };
    let tmp = tempfile::tempdir().unwrap();
    let study = |seed: u64, dir: &Path| {
        let run = RunScope { space: "toy".into(), seed };
        let genius = Genius::new(settings.clone().resolve().unwrap(), settings.model(None, &run).unwrap());
        let dir = dir.to_owned();
        async move {
            Study::new(toy(), Arc::new(ToyTable::new()), Box::new(genius))
                .seed(seed)
                .budget(Budget::evaluations(3))
                .run_in(&dir)
                .await
                .unwrap()
        }
    };
    for seed in 0..3 {
        study(seed, &tmp.path().join(format!("seed{seed}"))).await;
        assert_eq!(script.received().len(), 3 * (seed as usize + 1), "seed {seed} is a run of its own: its own calls");
    }
    // The same run again (seed 1, from scratch): every reply from the cache, nothing sent.
    let again = study(1, &tmp.path().join("seed1-again")).await;
    assert_eq!(script.received().len(), 9);
    assert_eq!(keys(&again.trials), keys(&Recorded::read(&tmp.path().join("seed1")).unwrap().trials));
    assert!(calls(&tmp.path().join("seed1-again")).iter().all(|c| c.source == genius_llm::chat::Source::Cache));
}

#[tokio::test]
async fn duplicates_are_repaired_by_default_and_evaluated_as_the_original_code_did_when_so_configured() {
    let steps = || vec![reply("[1, 1, 0]"), reply("[1, 1, 0]"), reply("[2, 1, 0]")];
    let (srv, script) = server(Wire::OpenAi, steps()).await;
    let settings = compatible(&srv.uri(), ProtocolChoice::Stateless);
    let tmp = tempfile::tempdir().unwrap();
    let model = settings.model(None, &RunScope::default()).unwrap();
    let outcome =
        run(toy(), Genius::new(settings.clone().resolve().unwrap(), model), &tmp.path().join("repair"), 2).await;
    assert_eq!(archs(&outcome.trials), vec![vec![1, 1, 0], vec![2, 1, 0]]);
    assert_eq!(problems(&tmp.path().join("repair")), ["duplicate"]);

    script.set(steps());
    let settings = GeniusSettings { duplicates: DuplicateHandling::Evaluate, ..settings };
    let model = settings.model(None, &RunScope::default()).unwrap();
    let outcome =
        run(toy(), Genius::new(settings.clone().resolve().unwrap(), model), &tmp.path().join("evaluate"), 2).await;
    assert_eq!(archs(&outcome.trials), vec![vec![1, 1, 0], vec![1, 1, 0]]);
    assert_eq!(outcome.trials[1].status, TrialStatus::Duplicate { of: 0 });
    assert!(outcome.trials[1].counted, "the duplicate costs the query, as in the original code");
    assert!(problems(&tmp.path().join("evaluate")).is_empty());
    // Older run logs said `reject_duplicates = false`: the same setting.
    let old: GeniusSettings =
        serde_json::from_value(json!({"llm": "openai", "model": "gpt-4", "reject_duplicates": false})).unwrap();
    assert_eq!(old.resolve().unwrap().duplicates, DuplicateHandling::Evaluate);
}

#[tokio::test]
async fn the_constrained_protocol_distils_principles_after_its_first_iteration_and_states_them_instead_of_the_questions()
 {
    let principles =
        "1. Larger kernels cost more.\n2. Keep early stages simple.\n3. Spend FLOPs late.\n4. Go deeper late.";
    let steps = vec![reply("Analysis... [1, 1, 0]"), reply(principles), reply("[2, 1, 0]"), reply("[0, 1, 1]")];
    let (srv, script) = server(Wire::OpenAi, steps).await;
    let settings = compatible(&srv.uri(), ProtocolChoice::Constrained);
    let tmp = tempfile::tempdir().unwrap();
    let model = settings.model(None, &RunScope::default()).unwrap();
    let outcome = run(constrained_toy(), Genius::new(settings.clone().resolve().unwrap(), model), tmp.path(), 3).await;
    assert_eq!(archs(&outcome.trials), vec![vec![1, 1, 0], vec![2, 1, 0], vec![0, 1, 1]]);
    let made = calls(tmp.path());
    let purposes: Vec<&str> = made.iter().map(|c| c.purpose.as_str()).collect();
    assert_eq!(purposes, ["propose", "distill", "propose", "propose"], "one distillation, once");
    // The distillation continues the first iteration's chat.
    assert_eq!(made[1].request.messages[..2], made[0].request.messages[..2]);
    assert_eq!(made[1].request.messages[2].content, "Analysis... [1, 1, 0]");
    assert!(made[1].request.messages[3].content.starts_with("Please summarize your analysis"));
    assert!(made[1].request.schema.is_none());
    let first = &made[0].request.messages[1].content;
    assert!(first.contains("Which operation is more powerful"), "{first}");
    for later in [&made[2], &made[3]] {
        let text = &later.request.messages[1].content;
        assert!(text.contains(&format!("Please follow these design principles:\n{principles}")), "{text}");
        assert!(!text.contains("Which operation is more powerful"), "{text}");
    }
    assert_eq!(events(tmp.path(), "principles")[0]["text"], principles);
    assert_eq!(script.left(), 0);

    // Off: the questions every time, no distillation.
    script.set(vec![reply("[1, 1, 0]"), reply("[2, 1, 0]")]);
    let settings = GeniusSettings { principles: Principles::Off, ..settings };
    let model = settings.model(None, &RunScope::default()).unwrap();
    run(constrained_toy(), Genius::new(settings.resolve().unwrap(), model), &tmp.path().join("off"), 2).await;
    let off = calls(&tmp.path().join("off"));
    assert_eq!(off.len(), 2);
    assert!(off[1].request.messages[1].content.contains("Which operation is more powerful"));
}

#[tokio::test]
async fn constraint_violations_have_their_own_bound_and_a_last_violation_is_recorded_as_an_invalid_trial() {
    // Five violations in a row (more than max_repairs = 3), then a design that fits.
    let violating = || (0..5).map(|_| reply("[2, 3, 0]")).collect::<Vec<_>>();
    let (srv, script) = server(Wire::OpenAi, violating().into_iter().chain([reply("[2, 2, 0]")]).collect()).await;
    let settings =
        GeniusSettings { principles: Principles::Off, ..compatible(&srv.uri(), ProtocolChoice::Constrained) };
    let tmp = tempfile::tempdir().unwrap();
    let model = settings.model(None, &RunScope::default()).unwrap();
    let outcome =
        run(constrained_toy(), Genius::new(settings.clone().resolve().unwrap(), model), &tmp.path().join("a"), 1).await;
    assert_eq!(archs(&outcome.trials), vec![vec![2, 2, 0]]);
    assert_eq!(problems(&tmp.path().join("a")), ["violation"; 5]);

    script.set(violating());
    let settings = GeniusSettings { max_violations: 2, ..settings };
    let model = settings.model(None, &RunScope::default()).unwrap();
    let outcome =
        run(constrained_toy(), Genius::new(settings.resolve().unwrap(), model), &tmp.path().join("b"), 1).await;
    assert_eq!(archs(&outcome.trials), vec![vec![2, 3, 0]]);
    match &outcome.trials[0].status {
        TrialStatus::Invalid { reason } => assert!(reason.contains("constraint"), "{reason}"),
        other => panic!("expected an invalid trial, got {other:?}"),
    }
    assert_eq!(events(&tmp.path().join("b"), "gave_up")[0]["action"], "record the proposal as an invalid trial");
}

/// A chat model that says it is the embedded model, answers from a script and keeps every request.
struct ScriptedLocal {
    replies: std::sync::Mutex<std::collections::VecDeque<String>>,
    requests: std::sync::Mutex<Vec<genius_llm::chat::ChatRequest>>,
}

#[genius_core::async_trait]
impl ChatModel for ScriptedLocal {
    fn info(&self) -> genius_llm::chat::ModelInfo {
        genius_llm::chat::ModelInfo {
            provider: "local".into(),
            model: "scripted.gguf".into(),
            endpoint: None,
            structured_output: true,
        }
    }
    async fn chat(
        &self,
        request: &genius_llm::chat::ChatRequest,
    ) -> Result<genius_llm::chat::Exchange, genius_llm::LlmError> {
        self.requests.lock().unwrap().push(request.clone());
        let content = self.replies.lock().unwrap().pop_front().expect("a scripted reply");
        Ok(genius_llm::chat::Exchange {
            reply: genius_llm::chat::ChatReply {
                content,
                finish_reason: Some("stop".into()),
                refusal: None,
                model: None,
                tokens: Default::default(),
            },
            source: genius_llm::chat::Source::Local,
            usage: Default::default(),
            latency_s: 0.0,
            retries: Vec::new(),
        })
    }
}

/// The requests a 3-query study sent, its model replying `[0, 0, 0]`, `[0, 0, 0]` again (a duplicate), then new
/// designs.
async fn masked_requests(llm: Provider, mask: bool) -> Vec<Vec<Value>> {
    let answers = ["[0, 0, 0]", "[0, 0, 0]", "[1, 0, 0]", "[2, 0, 0]"];
    let model = Arc::new(ScriptedLocal {
        replies: std::sync::Mutex::new(
            answers
                .iter()
                .map(|a| {
                    let c: Vec<u64> = serde_json::from_str(a).unwrap();
                    json!({"architecture": {"depth": c[0], "width": c[1], "op": c[2]}}).to_string()
                })
                .collect(),
        ),
        requests: std::sync::Mutex::new(Vec::new()),
    });
    let settings = GeniusSettings {
        llm,
        model: Some("scripted.gguf".into()),
        base_url: Some("http://127.0.0.1:9/v1".into()),
        structured_output: Some(true),
        cache: CacheMode::Off,
        protocol: ProtocolChoice::Stateless,
        mask_evaluated: mask,
        ..GeniusSettings::default()
    };
    let genius = Genius::new(settings.resolve().unwrap(), model.clone());
    let dir = tempfile::tempdir().unwrap();
    let outcome = Study::new(toy(), Arc::new(ToyTable::new()), Box::new(genius))
        .seed(1)
        .budget(Budget::evaluations(3))
        .run_in(dir.path())
        .await
        .unwrap();
    assert_eq!(outcome.trials.len(), 3);
    let header = Recorded::read(dir.path()).unwrap().header;
    assert_eq!(header.optimizer.settings["mask_evaluated"], json!(mask), "the run config records the setting");
    model.requests.lock().unwrap().iter().map(|r| r.exclude.clone()).collect()
}

#[tokio::test]
async fn the_embedded_model_is_sent_every_architecture_evaluated_to_mask_unless_that_is_off() {
    let arch = |d: u64| json!({"depth": d, "width": 0, "op": 0});
    // Call 1: nothing evaluated; call 2 (a duplicate of trial 1, sent back): trial 1; call 3: trial 1, and the
    // duplicate this ask proposed (the same design, listed once); call 4: trials 1 and 2.
    assert_eq!(
        masked_requests(Provider::Local, true).await,
        [vec![], vec![arch(0)], vec![arch(0)], vec![arch(0), arch(1)]]
    );
    // Off for an ablation, and never for a model behind an API (the repair message stays).
    assert!(masked_requests(Provider::Local, false).await.iter().all(Vec::is_empty));
    assert!(masked_requests(Provider::OpenAiCompatible, true).await.iter().all(Vec::is_empty));
}
