//! Your own problem end to end through the `genius` binary: a space file searched by the GENIUS optimizer against a
//! scripted local server speaking the OpenAI wire format (scored by the file's own table, whose held-out column never
//! reaches a prompt), a search scored by your own program (`--evaluator command`) and resumed, and a comparison of
//! a space file with the command evaluator.

use std::collections::VecDeque;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use genius_core::{Recorded, SpaceExt};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers each chat request with the next scripted reply, and keeps every request body.
struct Script {
    replies: Mutex<VecDeque<String>>,
    received: Mutex<Vec<Value>>,
}

struct Responder(Arc<Script>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        self.0.received.lock().unwrap().push(body.clone());
        let Some(text) = self.0.replies.lock().unwrap().pop_front() else {
            return ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "script exhausted"}}));
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 500, "completion_tokens": 20},
        }))
    }
}

async fn server(replies: &[&str]) -> (MockServer, Arc<Script>) {
    let server = MockServer::start().await;
    let script = Arc::new(Script {
        replies: Mutex::new(replies.iter().map(|s| (*s).to_owned()).collect()),
        received: Mutex::new(Vec::new()),
    });
    Mock::given(method("POST")).respond_with(Responder(script.clone())).mount(&server).await;
    (server, script)
}

fn genius() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_genius"));
    cmd.env("GENIUS_OFFLINE", "1").env_remove("OPENAI_API_KEY").env_remove("RUST_BACKTRACE");
    cmd
}

async fn output(mut cmd: Command) -> (Output, String, String) {
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

const SPACE: &str = r#"
name = "toy-mlp"
task = "A small multilayer perceptron is trained on a toy problem; the objective is to maximize its validation accuracy."

[[dimension]]
name = "layers"
kind = "integer"
min = 1
max = 3
description = "hidden layers"

[[dimension]]
name = "width"
kind = "ordered"
values = [16, 32, 64]
description = "units per hidden layer"

[[dimension]]
name = "activation"
kind = "categorical"
options = ["relu", "tanh"]

[[dimension]]
name = "dropout"
kind = "ordered"
values = [0.0, 0.25, 0.5]

[table]
file = "results.csv"
search = "val_acc"
report = "test_acc"
held_out = ["test_acc"]
"#;

/// Every architecture of the toy space with made-up accuracies: the held-out test accuracies end in .37, a value
/// no search metric takes, so that one in a prompt could only be a leak.
fn write_problem(dir: &Path) {
    std::fs::write(dir.join("space.toml"), SPACE).unwrap();
    let mut csv = String::from("layers,width,activation,dropout,val_acc,test_acc\n");
    for l in 1..=3 {
        for (wi, w) in [16, 32, 64].iter().enumerate() {
            for (ai, a) in ["relu", "tanh"].iter().enumerate() {
                for (di, d) in ["0.0", "0.25", "0.5"].iter().enumerate() {
                    let val = 80 + 2 * l + 3 * wi as i32 - ai as i32 - di as i32;
                    csv.push_str(&format!("{l},{w},{a},{d},{val}.5,{}.37\n", val - 1));
                }
            }
        }
    }
    std::fs::write(dir.join("results.csv"), csv).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genius_searches_a_space_file_with_its_own_table_and_no_prompt_holds_a_held_out_value() {
    let tmp = tempfile::tempdir().unwrap();
    write_problem(tmp.path());
    let replies = [
        "Let us start small: [1, 16, relu, 0.5]",
        "Wider should help.\n```json\n{\"layers\": 2, \"width\": 64, \"activation\": \"tanh\", \"dropout\": 0.0}\n```",
        "[3, 32, gelu, 0.0]",
        "[3, 64, relu, 0.25]",
    ];
    let (srv, script) = server(&replies).await;
    let out = tmp.path().join("run");
    let mut cmd = genius();
    cmd.arg("search").arg("--space-file").arg(tmp.path().join("space.toml"));
    cmd.args(["--optimizer", "genius", "--quiet", "--budget", "3", "--seed", "1"])
        .args(["--llm", "openai-compatible", "--model", "test-model", "--llm-base-url", &format!("{}/v1", srv.uri())])
        .args(["--set", "cache=\"off\""])
        .arg("--out")
        .arg(&out);
    let (status, stdout, stderr) = output(cmd).await;
    assert!(status.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("search: toy-mlp with genius"), "{stdout}");
    assert!(stdout.contains("best architecture: [3, 64, relu, 0.25]"), "{stdout}");
    assert!(stdout.contains("(rank 2 / 54)"), "{stdout}");

    let recorded = Recorded::read(&out).unwrap();
    let texts: Vec<&str> = recorded.trials.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(texts, ["[1, 16, relu, 0.5]", "[2, 64, tanh, 0.0]", "[3, 64, relu, 0.25]"]);
    assert_eq!(recorded.header.space, "toy-mlp");
    assert!(recorded.header.context["space_file"]["text"].as_str().unwrap().contains("toy-mlp"));

    let received = script.received.lock().unwrap().clone();
    assert_eq!(received.len(), 4, "three proposals and one repair of `gelu`");
    let prompts: Vec<String> = received
        .iter()
        .flat_map(|b| b["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap().to_owned()))
        .collect();
    let all = prompts.join("\n");
    assert!(all.contains("A small multilayer perceptron is trained on a toy problem"), "the task from the file");
    assert!(all.contains("width (units per hidden layer): one of 16, 32, 64"), "{all}");
    assert!(all.contains("[2, 64, ..., 0.0]"), "the elided example form");
    assert!(all.contains("80.5"), "the search metric of the first trial is fed back");
    assert!(!all.contains(".37") && !all.contains("test_acc"), "no held-out value or name in any prompt:\n{all}");
    let schema = &received[0]["response_format"];
    assert!(schema.is_null() || schema.to_string().contains("activation"), "{schema}");

    // The run resumes from its own record of the space file, even when the file is gone.
    std::fs::remove_file(tmp.path().join("space.toml")).unwrap();
    let mut cmd = genius();
    cmd.arg("resume").arg(&out).args(["--quiet"]);
    let (status, stdout, stderr) = output(cmd).await;
    assert!(status.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("resume: toy-mlp with genius"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn your_own_program_scores_a_space_file_and_a_comparison_runs_on_it() {
    let tmp = tempfile::tempdir().unwrap();
    write_problem(tmp.path());
    // The "training script": accuracy from the architecture's JSON form, written to the result file.
    std::fs::write(
        tmp.path().join("train.sh"),
        "#!/bin/sh\n# $1: the architecture as JSON, $2: the result file\n\
         n=$(printf '%s' \"$1\" | wc -c)\n\
         echo \"training $1\"\n\
         echo \"{\\\"val_acc\\\": $((n % 13 + 80)), \\\"test_acc\\\": $((n % 11 + 70))}\" > \"$2\"\n",
    )
    .unwrap();
    std::process::Command::new("chmod").arg("+x").arg(tmp.path().join("train.sh")).status().unwrap();
    std::fs::write(
        tmp.path().join("command.toml"),
        "command = [\"./train.sh\", \"{arch_json}\", \"{result}\"]\nsearch = \"val_acc\"\nreport = \"test_acc\"\n\
         held_out = [\"test_acc\"]\ntimeout_s = 60\n",
    )
    .unwrap();
    let out = tmp.path().join("run");
    let mut cmd = genius();
    cmd.current_dir(tmp.path()).args(["search", "--space-file", "space.toml", "--optimizer", "evolution"]);
    cmd.args(["--evaluator", "command", "--command-config", "command.toml", "--budget", "4", "--quiet"]);
    cmd.args(["--concurrency", "2", "--batch-size", "2", "--out"]).arg(&out);
    let (status, stdout, stderr) = output(cmd).await;
    assert!(status.status.success(), "{stdout}\n{stderr}");
    let recorded = Recorded::read(&out).unwrap();
    assert_eq!(recorded.trials.iter().filter(|t| t.evaluation.is_some()).count(), 4, "{stdout}");
    assert_eq!(recorded.header.evaluator.name, "command");
    let kept = std::fs::read_to_string(out.join("commands/0/stdout.txt")).unwrap();
    assert!(kept.starts_with("training {\""), "{kept}");

    // A resume with a larger budget rebuilds the evaluator from the header and numbers its evaluations on.
    let mut cmd = genius();
    cmd.arg("resume").arg(&out).args(["--budget", "6", "--quiet"]);
    let (status, stdout, stderr) = output(cmd).await;
    assert!(status.status.success(), "{stdout}\n{stderr}");
    let recorded = Recorded::read(&out).unwrap();
    assert_eq!(recorded.trials.len(), 6);
    let distinct: std::collections::HashSet<_> =
        recorded.trials.iter().filter(|t| t.evaluation.is_some()).map(|t| t.arch.clone()).collect();
    let dirs = std::fs::read_dir(out.join("commands")).unwrap().count();
    assert_eq!(dirs, distinct.len(), "one directory per evaluation, numbered on across the resume");
    assert!(out.join(format!("commands/{}/result.json", dirs - 1)).is_file());

    // As an executor's job runs it (SLURM): the job file names the space file and the run directory, and
    // `genius evaluate` rebuilds the command evaluator from it, keeping the evaluation's files in that run.
    let catalogs = genius_cli::registry::catalogs();
    let space_file = tmp.path().join("space.toml");
    let (space, _) = catalogs.space_file(&space_file).unwrap();
    let job_run = tmp.path().join("job-run");
    let settings: Value =
        toml::from_str::<toml::Table>(&std::fs::read_to_string(tmp.path().join("command.toml")).unwrap())
            .map(|t| serde_json::to_value(t).unwrap())
            .unwrap();
    let context = genius_core::catalog::BuildContext::new(space.name(), 0, tmp.path())
        .with_space(&space)
        .with_run_dir(&job_run)
        .with_config_dir(tmp.path());
    let evaluator = catalogs.evaluators.build("command", settings, &context).unwrap();
    let jobs =
        genius_cli::registry::job_setup(&job_run, space.name(), Some(&space_file), &*evaluator, tmp.path()).unwrap();
    let arch = space.format(&space.sample(&mut genius_core::rng::seeded(5)));
    let result = tmp.path().join("job-result.json");
    let mut cmd = genius();
    cmd.current_dir("/").args(&jobs.command[1..]).arg("--arch").arg(&arch).arg("--out").arg(&result);
    let (status, stdout, stderr) = output(cmd).await;
    assert!(status.status.success(), "{stdout}\n{stderr}");
    let job: Value = serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    assert_eq!(job["status"], "complete", "{job}");
    assert!(job["evaluation"]["metrics"]["val_acc"].is_number(), "{job}");
    assert!(job_run.join("commands/0/result.json").is_file(), "the job's files are in the run: {job}");

    // A comparison: the space file and the command evaluator from an experiment file.
    std::fs::write(
        tmp.path().join("experiment.toml"),
        "name = \"own\"\nspaces = [\"space.toml\"]\nseeds = 2\nbudgets = [3]\nout = \"grid\"\n\
         [evaluator]\nname = \"command\"\n[evaluator.settings]\ncommand = [\"./train.sh\", \"{arch_json}\", \"{result}\"]\n\
         search = \"val_acc\"\nreport = \"test_acc\"\nheld_out = [\"test_acc\"]\n\
         [[optimizer]]\nname = \"random\"\n[[optimizer]]\nname = \"tpe\"\n",
    )
    .unwrap();
    let mut cmd = genius();
    cmd.current_dir(tmp.path()).args(["compare", "--config", "experiment.toml", "--quiet", "--jobs", "2"]);
    let (status, stdout, stderr) = output(cmd).await;
    assert!(status.status.success(), "{stdout}\n{stderr}");
    let report = std::fs::read_to_string(tmp.path().join("grid/report.md")).unwrap();
    assert!(report.contains("toy-mlp") && report.contains("tpe"), "{report}");
    assert!(tmp.path().join("grid/runs/toy-mlp/random/seed-1/commands/2/stdout.txt").is_file());

    // Bad input: an experiment naming a missing space file, with its line.
    std::fs::write(
        tmp.path().join("bad.toml"),
        "name = \"bad\"\nseeds = 1\nbudgets = [1]\nspaces = [\"nope.toml\"]\n[[optimizer]]\nname = \"random\"\n",
    )
    .unwrap();
    let mut cmd = genius();
    cmd.current_dir(tmp.path()).args(["compare", "--config", "bad.toml", "--check"]);
    let (status, _, stderr) = output(cmd).await;
    assert!(!status.status.success());
    assert!(stderr.contains("bad.toml, line 4") && stderr.contains("cannot read the space file nope.toml"), "{stderr}");
}
