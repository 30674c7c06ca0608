//! `genius search --optimizer genius` end to end, against a local server speaking the OpenAI wire format: a search,
//! its exact replay with `--llm replay:DIR`, a resume that pays for no call twice, a key that is never written, and
//! a missing key that fails before any work.

use std::collections::VecDeque;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use genius_core::Recorded;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod common;
use common::{data_dir, keys};

/// Answers each chat request with the next scripted reply (or status), and counts requests.
struct Script {
    steps: Mutex<VecDeque<(u16, String)>>,
    received: Mutex<Vec<(Option<String>, Value)>>,
}

struct Responder(Arc<Script>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let script = &self.0;
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
        script.received.lock().unwrap().push((auth, body.clone()));
        let Some((status, text)) = script.steps.lock().unwrap().pop_front() else {
            return ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "script exhausted"}}));
        };
        if status != 200 {
            return ResponseTemplate::new(status).set_body_json(json!({"error": {"message": text}}));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 20},
        }))
    }
}

async fn server(steps: Vec<(u16, &str)>) -> (MockServer, Arc<Script>) {
    let server = MockServer::start().await;
    let script = Arc::new(Script {
        steps: Mutex::new(steps.into_iter().map(|(s, t)| (s, t.to_owned())).collect()),
        received: Mutex::new(Vec::new()),
    });
    Mock::given(method("POST")).respond_with(Responder(script.clone())).mount(&server).await;
    (server, script)
}

fn genius() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_genius"));
    cmd.env("GENIUS_DATA_DIR", data_dir())
        .env("GENIUS_OFFLINE", "1")
        .env_remove("OPENAI_API_KEY")
        .env_remove("RUST_BACKTRACE");
    cmd
}

async fn output(mut cmd: Command) -> (Output, String, String) {
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn search(base: &str, out: &Path, budget: usize) -> Command {
    let mut cmd = genius();
    cmd.args(["search", "--space", "nas-bench-macro", "--optimizer", "genius", "--quiet", "--seed", "4"])
        .args(["--llm", "openai-compatible", "--model", "test-model", "--llm-base-url", &format!("{base}/v1")])
        .args(["--set", "cache=\"off\"", "--set", "retry.initial_backoff_s=0.01", "--budget", &budget.to_string()])
        .arg("--out")
        .arg(out);
    cmd
}

const REPLIES: [(u16, &str); 7] = [
    (200, "I suggest [0, 2, 0, 1, 2, 1, 0, 0]."),
    (500, "The server had an error"),
    (200, "```\n[2, 2, 2, 1, 2, 2, 2, 0]\n```"),
    (200, "Deeper is better."),
    (200, "[2, 2, 2, 1, 2, 2, 2, 2]"),
    (200, "[1, 2, 2, 1, 2, 2, 2, 0]"),
    (200, "[2, 2, 1, 2, 2, 2, 0, 0]"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genius_search_replays_exactly_and_resumes_without_paying_twice() {
    let (srv, script) = server(REPLIES.to_vec()).await;
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let (out, stdout, stderr) = output(search(&srv.uri(), &run, 5)).await;
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("best architecture: "), "{stdout}");
    let recorded = Recorded::read(&run).unwrap();
    assert_eq!(recorded.trials.len(), 5);
    assert_eq!(recorded.trials[0].text, "02012100");
    assert_eq!(script.received.lock().unwrap().len(), 7, "one request per reply, the 500 retried");
    let header = &recorded.header.optimizer;
    assert_eq!(header.name, "genius");
    assert_eq!(header.settings["llm"], "openai-compatible");
    assert_eq!(header.settings["model"], "test-model");
    let summary = recorded.summary.unwrap();
    assert_eq!(summary.spend.usage.calls, 6);
    assert_eq!(summary.spend.usage.prompt_tokens, 6000);
    let kinds: Vec<&str> = recorded.events.iter().map(|e| e.event.kind.as_str()).collect();
    assert!(kinds.contains(&"llm_retry") && kinds.contains(&"reply_problem"), "{kinds:?}");
    // The retry was not a silent wait: the user saw why, and when the next attempt would come.
    let notice = stderr.lines().find(|l| l.starts_with("note: ") && l.contains("attempt 1 of 6 failed"));
    let notice = notice.unwrap_or_else(|| panic!("no retry notice on stderr: {stderr}"));
    assert!(notice.contains("HTTP 500") && notice.contains("trying again in 0.0"), "{notice}");

    // The recorded run, replayed with no network.
    let again = tmp.path().join("again");
    let mut cmd = genius();
    cmd.args(["search", "--space", "nas-bench-macro", "--optimizer", "genius", "--quiet", "--seed", "4"])
        .args(["--llm", &format!("replay:{}", run.display()), "--budget", "5", "--out"])
        .arg(&again);
    let (out, _, stderr) = output(cmd).await;
    assert!(out.status.success(), "{stderr}");
    assert_eq!(keys(&again), keys(&run));
    assert_eq!(script.received.lock().unwrap().len(), 7, "a replay sends nothing");
    assert_eq!(Recorded::read(&again).unwrap().header.optimizer.settings["replay"], json!(run.display().to_string()));

    // A replay of another space is refused up front.
    let mut cmd = genius();
    cmd.args(["search", "--space", "nas-bench-201-cifar10", "--optimizer", "genius", "--budget", "5"])
        .args(["--llm", &format!("replay:{}", run.display())]);
    let (out, _, stderr) = output(cmd).await;
    assert!(!out.status.success());
    assert!(stderr.contains("that run searched `nas-bench-macro`"), "{stderr}");

    // The same search in two sessions: 3 evaluations, then resumed to 5. The second session replays the first
    // three asks from the transcript and asks the server only for the other two.
    *script.steps.lock().unwrap() = REPLIES.iter().map(|(s, t)| (*s, (*t).to_owned())).collect();
    let before = script.received.lock().unwrap().len();
    let part = tmp.path().join("part");
    let (out, _, stderr) = output(search(&srv.uri(), &part, 3)).await;
    assert!(out.status.success(), "{stderr}");
    let first = script.received.lock().unwrap().len() - before;
    let mut cmd = genius();
    cmd.args(["resume", "--quiet", "--budget", "5"]).arg(&part);
    let (out, stdout, stderr) = output(cmd).await;
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("3 trial(s) recorded"), "{stdout}");
    let second = script.received.lock().unwrap().len() - before - first;
    assert_eq!(first + second, 7, "no request was sent twice ({first} + {second})");
    assert_eq!(keys(&part), keys(&run));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_goes_to_the_provider_only_and_a_missing_key_fails_before_any_work() {
    let (srv, script) = server(vec![(200, "[0, 2, 0, 1, 2, 1, 0, 0]")]).await;
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut cmd = genius();
    cmd.env("OPENAI_API_KEY", "sk-cli-secret-123")
        .args(["search", "--space", "nas-bench-macro", "--optimizer", "genius", "--quiet", "--budget", "1"])
        .args(["--llm", "openai:gpt-test", "--llm-base-url", &format!("{}/v1", srv.uri()), "--set", "cache=\"off\""])
        .arg("--out")
        .arg(&run);
    let (out, _, stderr) = output(cmd).await;
    assert!(out.status.success(), "{stderr}");
    assert_eq!(script.received.lock().unwrap()[0].0.as_deref(), Some("Bearer sk-cli-secret-123"));
    for entry in std::fs::read_dir(&run).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("sk-cli-secret"), "the key was written to the run directory");
    }
    assert!(std::fs::read_to_string(run.join("events.jsonl")).unwrap().contains("\"structured_output\":true"));

    let missing = tmp.path().join("missing");
    let mut cmd = genius();
    cmd.args(["search", "--space", "nas-bench-macro", "--optimizer", "genius", "--budget", "10"])
        .args(["--llm", "openai:gpt-4o", "--out"])
        .arg(&missing);
    let (out, _, stderr) = output(cmd).await;
    assert!(!out.status.success());
    assert!(stderr.contains("OPENAI_API_KEY, which is not set"), "{stderr}");
    assert!(!missing.exists(), "nothing was started");

    let mut cmd = genius();
    cmd.args(["search", "--space", "nas-bench-macro", "--optimizer", "random", "--budget", "3", "--llm", "openai:x"]);
    let (out, _, stderr) = output(cmd).await;
    assert!(!out.status.success());
    assert!(stderr.contains("are for --optimizer genius"), "{stderr}");

    let mut cmd = genius();
    cmd.args(["search", "--space", "nas-bench-macro", "--optimizer", "genius", "--budget", "3"]).args([
        "--llm",
        "openai-compatible:m",
        "--llm-base-url",
        "http://127.0.0.1:9/v1",
        "--cost-budget",
        "1",
    ]);
    let (out, _, stderr) = output(cmd).await;
    assert!(!out.status.success());
    assert!(stderr.contains("--cost-budget needs the model's price"), "{stderr}");
}

#[tokio::test]
async fn genius_is_listed_among_the_optimizers() {
    let mut cmd = genius();
    cmd.arg("optimizers");
    let (out, stdout, _) = output(cmd).await;
    assert!(out.status.success());
    assert!(stdout.lines().any(|l| l.starts_with("genius ")), "{stdout}");
}

/// Answers every chat request, after `delay`, with the next architecture of NAS-Bench-Macro in enumeration order.
struct Slow {
    delay: std::time::Duration,
    count: Mutex<u32>,
}

impl Respond for Slow {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let mut n = self.count.lock().unwrap();
        let digits: Vec<String> = (0..8).map(|i| ((*n / 3u32.pow(7 - i)) % 3).to_string()).collect();
        *n += 1;
        ResponseTemplate::new(200).set_delay(self.delay).set_body_json(json!({
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("[{}]", digits.join(", "))},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        }))
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_resumes_of_one_run_at_once_one_is_refused_and_a_later_one_finishes_it_exactly() {
    let srv = MockServer::start().await;
    let slow = Slow { delay: std::time::Duration::from_millis(150), count: Mutex::new(0) };
    Mock::given(method("POST")).respond_with(slow).mount(&srv).await;
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let (out, _, stderr) = output(search(&srv.uri(), &run, 2)).await;
    assert!(out.status.success(), "{stderr}");

    let resume = || {
        let mut cmd = genius();
        cmd.args(["resume", "--quiet", "--budget", "30"]).arg(&run);
        cmd
    };
    let first = resume().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let pid = first.id();
    let start = std::time::Instant::now();
    while std::fs::read_to_string(run.join("genius.lock")).ok().map(|s| s.trim().to_owned()) != Some(pid.to_string()) {
        assert!(start.elapsed().as_secs() < 30, "the first resume never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let (out, _, stderr) = output(resume()).await;
    assert!(!out.status.success());
    assert!(stderr.contains(&run.display().to_string()) && stderr.contains(&format!("pid {pid}")), "{stderr}");
    assert!(stderr.contains("in use by another genius process"), "{stderr}");

    // The first is killed mid-run: the OS releases its lock, and the log it leaves is valid.
    std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    let _ = first.wait_with_output();
    let partial = Recorded::read(&run).unwrap();
    assert!(partial.trials.len() < 30, "the first resume finished before it was killed");
    let (out, _, stderr) = output(resume()).await;
    assert!(out.status.success(), "{stderr}");
    let done = Recorded::read(&run).unwrap();
    assert_eq!(done.trials.len(), 30);
    assert!(done.trials.iter().enumerate().all(|(i, t)| t.index == i));
    assert_eq!(done.summary.unwrap().spend.evaluations, 30);
}

/// The paper's "3 trials" at temperature 0 are three runs: each seed makes its own calls (the response cache serves
/// only re-runs of the same seed), a re-run of the finished grid makes none, and a grid started again from nothing
/// is answered from the cache alone.
#[tokio::test]
async fn three_seeds_at_temperature_zero_are_three_sets_of_calls_and_a_rerun_makes_none() {
    let replies: Vec<String> = (0..9).map(|i| format!("[0, 0, 0, 0, 0, 0, {}, {}]", i / 3, i % 3)).collect();
    let (srv, script) = server(replies.iter().map(|r| (200, r.as_str())).collect()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("t0.toml");
    std::fs::write(
        &config,
        format!(
            r#"name = "t0"
spaces = ["nas-bench-macro"]
seeds = 3
budgets = [3]
jobs = 1
out = "{}"
[[optimizer]]
name = "genius"
label = "genius-t0"
settings = {{ llm = "openai-compatible", model = "test-model", base_url = "{}/v1", temperature = 0.0, cache_dir = "{}", duplicates = "evaluate" }}
"#,
            tmp.path().join("grid").display(),
            srv.uri(),
            tmp.path().join("cache").display()
        ),
    )
    .unwrap();
    let compare = |check: bool| {
        let mut cmd = genius();
        cmd.args(["compare", "--quiet", "--config"]).arg(&config);
        if check {
            cmd.arg("--check");
        }
        cmd
    };
    let (out, stdout, stderr) = output(compare(true)).await;
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("genius-t0 (openai-compatible test-model, T=0)"), "{stdout}");
    assert!(stdout.contains("3 seed(s), 3 evaluations"), "{stdout}");
    assert!(script.received.lock().unwrap().is_empty(), "a check calls no model");

    let (out, _, stderr) = output(compare(false)).await;
    assert!(out.status.success(), "{stderr}");
    assert_eq!(script.received.lock().unwrap().len(), 9, "three seeds, three calls each");
    let grid = tmp.path().join("grid");
    let runs: Vec<_> = (0..3).map(|seed| grid.join(format!("runs/nas-bench-macro/genius-t0/seed-{seed}"))).collect();
    assert!(runs.iter().all(|r| r.join("trials.jsonl").is_file()), "{runs:?}");

    // The same grid again: finished, nothing asked.
    let (out, _, stderr) = output(compare(false)).await;
    assert!(out.status.success(), "{stderr}");
    assert_eq!(script.received.lock().unwrap().len(), 9);
    // The grid from nothing (its run directories removed): every reply from the cache of its own seed.
    let before: Vec<Vec<Value>> = runs.iter().map(|r| keys(r)).collect();
    std::fs::remove_dir_all(&grid).unwrap();
    let (out, _, stderr) = output(compare(false)).await;
    assert!(out.status.success(), "{stderr}");
    assert_eq!(script.received.lock().unwrap().len(), 9, "re-runs of the same seeds are served by the cache");
    let after: Vec<Vec<Value>> = runs.iter().map(|r| keys(r)).collect();
    assert_eq!(before, after);
}

/// `--optimizer genius` with two objectives: the model is shown both for every result, the run records them and
/// prints its Pareto front.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genius_search_with_two_objectives_shows_both_and_prints_its_front() {
    let steps =
        vec![(200, "[0, 2, 0, 1, 2, 1, 0, 0]"), (200, "[2, 2, 2, 1, 2, 2, 2, 0]"), (200, "[1, 1, 1, 1, 1, 1, 1, 1]")];
    let (srv, script) = server(steps).await;
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut cmd = search(&srv.uri(), &run, 3);
    cmd.args(["--objective", "mean_acc:max", "--objective", "flops:min"]);
    let (out, stdout, stderr) = output(cmd).await;
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Pareto front of mean_acc:max, flops:min"), "{stdout}");
    assert_eq!(Recorded::read(&run).unwrap().header.objective.to_string(), "mean_acc:max, flops:min");
    let received = script.received.lock().unwrap();
    assert_eq!(received.len(), 3);
    let last = received[2].1["messages"][1]["content"].as_str().unwrap();
    assert!(last.contains("- maximize mean_acc\n- minimize MFLOPs (millions of FLOPs)"), "{last}");
    assert!(last.contains("1. [0, 2, 0, 1, 2, 1, 0, 0]: mean_acc "), "{last}");
    assert!(last.contains("Please suggest a new design that improves the Pareto front"), "{last}");
}
