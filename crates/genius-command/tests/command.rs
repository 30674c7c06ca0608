//! The command evaluator end to end, with small shell scripts as the "training" program: success (result file and
//! standard output), failure, timeout and a dropped evaluation (the whole process group is gone afterwards), retries,
//! a missing or non-executable program, and results that are not JSON or lack the searched metric.

use genius_core::checked::Check;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use genius_command::{CommandError, CommandEvaluator, CommandSettings};
use genius_core::testing::ToySpace;
use genius_core::{Architecture, EvalError, Evaluator};

fn settings(script: &str) -> CommandSettings {
    CommandSettings {
        command: vec!["sh".into(), "-c".into(), script.into(), "sh".into(), "{result}".into(), "{work_dir}".into()],
        env: [("GENIUS_ARCH".to_owned(), "{arch_json}".to_owned())].into(),
        working_dir: None,
        timeout_s: None,
        retries: 0,
        seed: 7,
        search: "val_acc".into(),
        report: Some("test_acc".into()),
        held_out: vec!["test_acc".into()],
        metrics: Vec::new(),
        direction: None,
        stderr_lines: 10,
    }
}

fn evaluator(settings: CommandSettings, dir: &Path) -> CommandEvaluator {
    CommandEvaluator::new(Arc::new(ToySpace::new()), settings.check().unwrap(), dir.join("commands")).unwrap()
}

fn arch() -> Architecture {
    Architecture::new(vec![2, 1, 0])
}

fn failed(result: Result<genius_core::Evaluation, EvalError>) -> String {
    match result {
        Err(EvalError::Failed(reason)) => reason,
        other => panic!("expected a failed evaluation, got {other:?}"),
    }
}

/// Whether process `pid` is running (a zombie waiting for its parent counts as gone).
fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit(')').next().and_then(|s| s.split_whitespace().next()).unwrap_or("");
    state != "Z" && state != "X"
}

/// Waits (up to 10 s) until none of `pids` is running.
fn all_gone(pids: &[i32]) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if pids.iter().all(|&p| !alive(p)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn read_pids(dir: &Path) -> Vec<i32> {
    let text = std::fs::read_to_string(dir.join("pids")).unwrap();
    text.split_whitespace().map(|p| p.parse().unwrap()).collect()
}

#[tokio::test]
async fn a_result_file_and_the_last_json_line_of_stdout_are_read_and_every_file_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let script = r#"echo "training $GENIUS_ARCH"; echo "warning" >&2; echo '{"val_acc": 91.5, "test_acc": 90.25, "cost_s": 3}' > "$1""#;
    let e = evaluator(settings(script), tmp.path());
    let eval = e.evaluate(&arch()).await.unwrap();
    assert_eq!(eval.metrics["val_acc"], 91.5);
    assert_eq!(eval.metrics["test_acc"], 90.25);
    assert_eq!(eval.cost_s, Some(3.0));
    let dir = tmp.path().join("commands/0");
    let stdout = std::fs::read_to_string(dir.join("stdout.txt")).unwrap();
    assert_eq!(stdout.trim(), r#"training {"depth":3,"op":"conv","width":16}"#);
    assert_eq!(std::fs::read_to_string(dir.join("stderr.txt")).unwrap().trim(), "warning");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("arch.json")).unwrap()).unwrap();
    assert_eq!(written, serde_json::json!({"depth": 3, "width": 16, "op": "conv"}));

    // No result file: the last JSON object line of standard output, under a `metrics` key here.
    let script = r#"echo '{"val_acc": 1}'; echo 'done'; echo '{"metrics": {"val_acc": 80, "test_acc": 70}}'; echo bye"#;
    let e = evaluator(settings(script), tmp.path());
    let eval = e.evaluate(&arch()).await.unwrap();
    assert_eq!((eval.metrics["val_acc"], eval.metrics["test_acc"]), (80.0, 70.0));
    assert!(eval.cost_s.is_some_and(|c| c >= 0.0), "the wall time is the cost when none is reported");
    assert!(tmp.path().join("commands/1/stdout.txt").is_file(), "a second evaluator of the run numbers on");
}

#[tokio::test]
async fn a_failed_exit_is_a_failed_trial_with_the_last_lines_of_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let script =
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo \"line $i\" >&2; done; echo 'CUDA out of memory' >&2; exit 3";
    let reason = failed(evaluator(settings(script), tmp.path()).evaluate(&arch()).await);
    assert!(reason.contains("exit status: 3"), "{reason}");
    assert!(reason.contains("CUDA out of memory") && reason.contains("line 12"), "{reason}");
    assert!(!reason.contains("line 3\n"), "only the last 10 lines: {reason}");
}

#[tokio::test]
async fn a_failed_exit_is_retried_up_to_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    // Fails on the first attempt, succeeds on the second: the count lives in the evaluation's own directory.
    let script = r#"n=$(cat "$2/count" 2>/dev/null || echo 0); echo $((n + 1)) > "$2/count"
        if [ "$n" -lt 1 ]; then echo "flaky node" >&2; exit 1; fi
        echo '{"val_acc": 50, "test_acc": 40}'"#;
    let mut s = settings(script);
    s.retries = 1;
    let eval = evaluator(s.clone(), tmp.path()).evaluate(&arch()).await.unwrap();
    assert_eq!(eval.metrics["val_acc"], 50.0);
    let dir = tmp.path().join("commands/0");
    assert_eq!(std::fs::read_to_string(dir.join("count")).unwrap().trim(), "2");
    assert!(std::fs::read_to_string(dir.join("stderr.txt")).unwrap().contains("flaky node"));
    assert!(dir.join("stdout.retry1.txt").is_file());

    // Always failing: retries + 1 attempts, then a failed trial.
    let mut s = settings(r#"n=$(cat "$2/count" 2>/dev/null || echo 0); echo $((n + 1)) > "$2/count"; exit 2"#);
    s.retries = 2;
    let reason = failed(evaluator(s, tmp.path()).evaluate(&arch()).await);
    assert!(reason.contains("attempt 3 of 3"), "{reason}");
    let count = std::fs::read_to_string(tmp.path().join("commands/1/count")).unwrap();
    assert_eq!(count.trim(), "3");
}

#[tokio::test]
async fn a_timeout_ends_the_whole_process_group() {
    let tmp = tempfile::tempdir().unwrap();
    let script = r#"sleep 60 & echo "$$ $!" > "$2/pids"; echo 'started' >&2; sleep 60"#;
    let mut s = settings(script);
    s.timeout_s = Some(1.0);
    let reason = failed(evaluator(s, tmp.path()).evaluate(&arch()).await);
    assert!(reason.contains("timed out after 1 s") && reason.contains("started"), "{reason}");
    let pids = read_pids(&tmp.path().join("commands/0"));
    assert_eq!(pids.len(), 2);
    assert!(all_gone(&pids), "the program and the child it started are gone: {pids:?}");
}

#[tokio::test]
async fn a_dropped_evaluation_as_on_ctrl_c_leaves_no_process_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let script = r#"sleep 60 & echo "$$ $!" > "$2/pids"; sleep 60"#;
    let e = evaluator(settings(script), tmp.path());
    let pids_file = tmp.path().join("commands/0/pids");
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        let a = arch();
        let evaluation = e.evaluate(&a);
        tokio::pin!(evaluation);
        // Drop the evaluation (what a study does on Ctrl-C) once the program has started its child.
        loop {
            tokio::select! {
                _ = &mut evaluation => panic!("the program should still be running"),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {
                    if std::fs::read_to_string(&pids_file).is_ok_and(|t| t.split_whitespace().count() == 2) {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "the program started");
    let pids = read_pids(&tmp.path().join("commands/0"));
    assert!(all_gone(&pids), "nothing outlives a dropped evaluation: {pids:?}");
}

#[tokio::test]
async fn results_that_are_not_json_or_lack_the_searched_metric_are_failed_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let reason = failed(evaluator(settings(r#"echo 'accuracy: 0.9' > "$1""#), tmp.path()).evaluate(&arch()).await);
    assert!(reason.contains("result.json is not JSON"), "{reason}");
    let reason = failed(evaluator(settings(r#"echo '{"accuracy": 0.9}' > "$1""#), tmp.path()).evaluate(&arch()).await);
    assert!(reason.contains("lacks the metric `val_acc`; it has: accuracy"), "{reason}");
    let reason = failed(evaluator(settings("echo 'no json here'"), tmp.path()).evaluate(&arch()).await);
    assert!(reason.contains("wrote no result"), "{reason}");
    let reason =
        failed(evaluator(settings(r#"echo '{"val_acc": "high", "test_acc": 1}'"#), tmp.path()).evaluate(&arch()).await);
    assert!(reason.contains("metric `val_acc`") && reason.contains("not a number"), "{reason}");
}

#[test]
fn a_missing_or_non_executable_program_is_refused_when_the_evaluator_is_built() {
    let tmp = tempfile::tempdir().unwrap();
    let build = |program: &str| {
        let mut s = settings("");
        s.command = vec![program.into()];
        s.working_dir = Some(tmp.path().to_owned());
        CommandEvaluator::new(Arc::new(ToySpace::new()), s.check().unwrap(), tmp.path().join("commands")).unwrap_err()
    };
    let e = build("./train.sh");
    assert!(matches!(e, CommandError::Program { .. }) && e.to_string().contains("does not exist"), "{e}");
    std::fs::write(tmp.path().join("train.sh"), "#!/bin/sh\n").unwrap();
    let e = build("./train.sh");
    assert!(e.to_string().contains("is not executable") && e.to_string().contains("chmod +x"), "{e}");
    let e = build("no-such-trainer-anywhere");
    assert!(e.to_string().contains("is not on PATH"), "{e}");
    let mut s = settings("");
    s.command = vec!["sh".into(), "{model}".into()];
    let e = s.check().unwrap_err();
    assert!(e.to_string().contains("unknown placeholder `{model}`"), "{e}");
}

#[tokio::test]
async fn evaluations_run_concurrently_in_a_study_and_each_keeps_its_own_directory() {
    use genius_core::testing::UniformOptimizer;
    use genius_core::{Budget, Study, StudySettings};
    let tmp = tempfile::tempdir().unwrap();
    let script = r#"echo "{\"val_acc\": $(( ${#GENIUS_ARCH} % 7 )), \"test_acc\": 1}""#;
    let e = Arc::new(evaluator(settings(script), tmp.path()));
    let outcome = Study::new(Arc::new(ToySpace::new()), e, Box::new(UniformOptimizer))
        .seed(3)
        .budget(Budget::evaluations(6))
        .settings(
            StudySettings { batch_size: 3, concurrency: 3, ..StudySettings::default() }
                .check()
                .expect("valid runner settings"),
        )
        .run_in(&tmp.path().join("run"))
        .await
        .unwrap();
    let completed = outcome.trials.iter().filter(|t| t.evaluation.is_some()).count();
    let evaluated = std::fs::read_dir(tmp.path().join("commands")).unwrap().count();
    assert!(completed >= 1 && completed == evaluated, "{completed} completed, {evaluated} directories");
}
