//! The `genius` binary end to end: searches, resumes after SIGKILL and Ctrl-C, and every bad input.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use genius_core::{Recorded, StopReason};

mod common;
use common::{data_dir, genius_with as genius, keys, run};

fn search(data: &Path, out: &Path, seed: u64, budget: usize) -> Command {
    let mut cmd = genius(data);
    cmd.args(["search", "--space", "nas-bench-macro", "--optimizer", "random", "--quiet"])
        .args(["--budget", &budget.to_string(), "--seed", &seed.to_string(), "--out"])
        .arg(out);
    cmd
}

#[test]
fn a_search_prints_its_best_architecture_with_its_rank() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, stdout, stderr) = run(&mut search(&data_dir(), &tmp.path().join("demo"), 0, 10));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("best architecture: "), "{stdout}");
    assert!(stdout.contains("/ 6561)"), "{stdout}");
    assert!(stdout.contains("test accuracy"), "the output says the table holds test accuracy only: {stdout}");
    let recorded = Recorded::read(&tmp.path().join("demo")).unwrap();
    assert_eq!(recorded.trials.len(), 10);
    assert_eq!(recorded.header.seed, 0);
    assert_eq!(recorded.summary.unwrap().spend.evaluations, 10);
}

#[test]
fn a_seed_gives_the_same_trials_and_another_seed_different_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir();
    for (name, seed) in [("a", 5), ("b", 5), ("c", 6)] {
        assert!(search(&data, &tmp.path().join(name), seed, 25).output().unwrap().status.success());
    }
    assert_eq!(keys(&tmp.path().join("a")), keys(&tmp.path().join("b")));
    assert_ne!(keys(&tmp.path().join("a")), keys(&tmp.path().join("c")));
}

/// Starts a long search, waits until its log holds `lines` trials, then sends `signal`.
#[test]
fn a_multi_objective_search_records_its_objectives_and_prints_its_pareto_front() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mo");
    let mut cmd = genius(&data_dir());
    cmd.args(["search", "--space", "nas-bench-201-cifar10", "--optimizer", "nsga2", "--set", "population_size=8"])
        .args(["--objective", "val_acc_200:max", "--objective", "flops:min", "--budget", "24", "--quiet", "--out"])
        .arg(&dir);
    let (out, stdout, stderr) = run(&mut cmd);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("objectives val_acc_200:max, flops:min"), "{stdout}");
    let recorded = Recorded::read(&dir).unwrap();
    let objective = &recorded.header.objective;
    assert_eq!(objective.to_string(), "val_acc_200:max, flops:min");
    let front = recorded.summary.as_ref().unwrap().front.clone();
    assert!(!front.is_empty());
    assert!(
        stdout.contains(&format!("Pareto front of val_acc_200:max, flops:min: {} trial(s)", front.len())),
        "{stdout}"
    );
    // Each point of the front is printed with both objectives and, marked held out, the test accuracy.
    for &i in &front {
        let line = stdout.lines().find(|l| l.trim_start().starts_with(&format!("trial {i:>4} "))).unwrap();
        assert!(line.contains("val_acc_200 ") && line.contains("flops ") && line.contains("held out]"), "{line}");
    }
    // A resume keeps the recorded objectives.
    let mut resume = genius(&data_dir());
    resume.args(["resume", "--quiet", "--budget", "30"]).arg(&dir);
    let (out, stdout, stderr) = run(&mut resume);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Pareto front of val_acc_200:max, flops:min"), "{stdout}");
    assert_eq!(&Recorded::read(&dir).unwrap().header.objective, objective);
}

#[test]
fn bad_objectives_name_the_metric_and_what_there_is() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let attempt = |optimizer: &str, objectives: &[&str]| {
        let mut cmd = genius(&data);
        cmd.args(["search", "--space", "nas-bench-201-cifar10", "--optimizer", optimizer, "--budget", "3"])
            .arg("--out")
            .arg(tmp.path().join("x"));
        for o in objectives {
            cmd.args(["--objective", o]);
        }
        fails(&mut cmd)
    };
    let err = attempt("nsga2", &["val_acc_200:max", "latency:min"]);
    assert!(err.contains("unknown metric `latency`; this evaluator reports: val_acc_200, params, flops"), "{err}");
    let err = attempt("nsga2", &["val_acc_200:max", "test_acc_200:max"]);
    assert!(err.contains("metric `test_acc_200` is held out"), "{err}");
    let err = attempt("nsga2", &["flops:smallest"]);
    assert!(err.contains("`flops:smallest` is not METRIC:max or METRIC:min"), "{err}");
    let err = attempt("evolution", &["val_acc_200:max", "flops:min"]);
    assert!(err.contains("optimizer `evolution` searches a single objective"), "{err}");
    assert!(!tmp.path().join("x").join("trials.jsonl").exists(), "nothing is written");
}

fn interrupt(data: &Path, dir: &Path, budget: usize, lines: usize, signal: &str) -> Output {
    let child = search(data, dir, 3, budget).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let log = dir.join("trials.jsonl");
    let start = Instant::now();
    loop {
        let n = std::fs::read(&log).map(|b| b.iter().filter(|&&c| c == b'\n').count()).unwrap_or(0);
        if n > lines {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the search never wrote {lines} trials");
        std::thread::sleep(Duration::from_millis(1));
    }
    let status = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
#[test]
fn a_run_killed_with_sigkill_resumes_to_the_uninterrupted_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir();
    let budget = 40_000;
    let killed = tmp.path().join("killed");
    interrupt(&data, &killed, budget, 500, "-KILL");
    let partial = Recorded::read(&killed).unwrap();
    assert!(partial.trials.len() < budget, "the search finished before it could be killed; raise the budget");
    assert!(partial.summary.is_none());

    let (out, stdout, stderr) = run(genius(&data).args(["resume", "--quiet"]).arg(&killed));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(&format!("{} trial(s) recorded", partial.trials.len())), "{stdout}");

    let full = tmp.path().join("full");
    assert!(search(&data, &full, 3, budget).output().unwrap().status.success());
    let (a, b) = (keys(&killed), keys(&full));
    assert_eq!(a.len(), budget);
    assert!(a == b, "the resumed run differs from the uninterrupted one");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_with_the_log_intact_and_the_run_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir();
    let budget = 40_000;
    let dir = tmp.path().join("run");
    let out = interrupt(&data, &dir, budget, 500, "-INT");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("genius resume"), "{stdout}");
    let recorded = Recorded::read(&dir).unwrap();
    assert!(recorded.truncated.is_empty(), "a clean stop leaves no truncated line");
    assert_eq!(recorded.summary.as_ref().unwrap().stop, StopReason::Interrupted);
    let n = recorded.trials.len();
    assert!(n < budget);

    let (out, _, stderr) = run(genius(&data).args(["resume", "--quiet"]).arg(&dir));
    assert!(out.status.success(), "{stderr}");
    let full = tmp.path().join("full");
    assert!(search(&data, &full, 3, budget).output().unwrap().status.success());
    assert!(keys(&dir) == keys(&full), "the resumed run differs from the uninterrupted one");
}

/// Runs `genius` expecting failure; returns stderr, checked to be one clear error and no panic.
fn fails(cmd: &mut Command) -> String {
    let (out, _, stderr) = run(cmd);
    assert!(!out.status.success(), "expected failure: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error")).count(), 1, "one error message: {stderr}");
    stderr
}

fn fake_data(contents: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nas-bench-macro/nas-bench-macro_cifar10.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, contents).unwrap();
    dir
}

#[test]
fn bad_inputs_exit_non_zero_with_one_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir();
    let out = |name: &str| tmp.path().join(name);

    let empty = tempfile::tempdir().unwrap();
    let e = fails(&mut search(empty.path(), &out("a"), 0, 3));
    assert!(e.contains("table is missing") && e.contains("nas-bench-macro_cifar10.json"), "{e}");

    let real = std::fs::read(data.join("nas-bench-macro/nas-bench-macro_cifar10.json")).unwrap();
    let truncated = fake_data(&real[..real.len() - 100]);
    let e = fails(&mut search(truncated.path(), &out("b"), 0, 3));
    assert!(e.contains("truncated or malformed"), "{e}");

    let malformed = fake_data(b"{\"02012100\": {\"mean_acc\": 1.0,, }");
    let e = fails(&mut search(malformed.path(), &out("c"), 0, 3));
    assert!(e.contains("truncated or malformed"), "{e}");

    let wrong = fake_data(b"{\"banana\": 3}");
    let e = fails(&mut search(wrong.path(), &out("d"), 0, 3));
    assert!(e.contains("does not have the expected contents"), "{e}");

    let e = fails(genius(&data).args(["search", "--space", "nas-bench-999", "--budget", "3"]));
    assert!(e.contains("nas-bench-999") && e.contains("possible values: nas-bench-macro"), "{e}");

    let e =
        fails(genius(&data).args(["search", "--space", "nas-bench-macro", "--optimizer", "gpt-5", "--budget", "3"]));
    assert!(e.contains("gpt-5") && e.contains("possible values"), "{e}");

    let e = fails(&mut search(&data, &out("e"), 0, 0));
    assert!(e.contains("'0' for '--budget <N>'") && e.contains("1 or more"), "{e}");
    assert!(!out("e").exists(), "nothing is created for a refused run");

    std::fs::write(out("file"), b"").unwrap();
    let e = fails(&mut search(&data, &out("file").join("run"), 0, 3));
    assert!(e.contains("cannot create run directory") && e.contains("file/run"), "{e}");

    let e = fails(search(&data, &out("f"), 0, 3).args(["--set", "banana=1"]));
    assert!(e.contains("unknown field `banana`"), "{e}");

    let e = fails(genius(&data).args(["resume"]).arg(out("nowhere")));
    assert!(e.contains("holds no run log"), "{e}");
}

#[test]
fn a_finished_run_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir();
    let dir = tmp.path().join("run");
    assert!(search(&data, &dir, 1, 5).output().unwrap().status.success());
    let before = keys(&dir);
    let e = fails(&mut search(&data, &dir, 2, 5));
    assert!(e.contains("already holds a run"), "{e}");
    assert_eq!(keys(&dir), before);
}

#[test]
fn a_resume_below_the_recorded_budget_is_refused_and_rewrites_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir();
    let dir = tmp.path().join("run");
    assert!(search(&data, &dir, 1, 50).output().unwrap().status.success());
    let files = || ["trials.jsonl", "events.jsonl", "summary.json"].map(|f| std::fs::read(dir.join(f)).unwrap());
    let before = files();
    let e = fails(genius(&data).args(["resume", "--quiet", "--budget", "20"]).arg(&dir));
    assert!(e.contains("budget of 20 evaluations") && e.contains("recorded 50"), "{e}");
    assert_eq!(files(), before, "summary.json still says 50");
}

#[test]
fn a_budget_beyond_the_space_stops_when_every_architecture_is_evaluated() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir();
    let dir = tmp.path().join("run");
    let (out, stdout, stderr) = run(&mut search(&data, &dir, 1, 200_000));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("stopped: every architecture of the space has been evaluated"), "{stdout}");
    let recorded = Recorded::read(&dir).unwrap();
    assert_eq!(recorded.summary.unwrap().stop, StopReason::SpaceExhausted);
    let distinct: std::collections::HashSet<_> = recorded.trials.iter().map(|t| &t.arch).collect();
    assert_eq!(distinct.len(), 6561);
}

#[test]
fn spaces_lists_every_space_with_its_data_status() {
    let (out, stdout, _) = run(genius(&data_dir()).arg("spaces"));
    assert!(out.status.success());
    assert!(stdout.lines().any(|l| l.starts_with("nas-bench-macro") && l.contains("6561") && l.contains("present")));
    let empty = tempfile::tempdir().unwrap();
    let (_, stdout, _) = run(genius(empty.path()).arg("spaces"));
    assert!(stdout.lines().any(|l| l.starts_with("nas-bench-macro") && l.contains("missing")), "{stdout}");
    assert!(stdout.contains("from GENIUS_DATA_DIR"), "{stdout}");
}

#[test]
fn help_texts() {
    for args in [&["--help"][..], &["search", "--help"], &["resume", "--help"], &["spaces", "--help"]] {
        let (out, stdout, _) = run(genius(&data_dir()).args(args));
        assert!(out.status.success());
        insta::assert_snapshot!(format!("help_{}", args.join("_").trim_start_matches('-').replace("--", "")), stdout);
    }
}
