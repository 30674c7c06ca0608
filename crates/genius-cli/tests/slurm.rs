//! Searches whose evaluations are jobs of a real SLURM cluster (`--executor slurm`): the same trials as a search run
//! here, lost jobs retried then recorded as failed, Ctrl-C cancelling the jobs, and a killed search resuming without
//! submitting a job twice.
//!
//! They need a cluster whose nodes see this machine's /tmp: `scripts/slurm-local.sh start` makes a one-node one as
//! root. So they are ignored by default; `.ci/run` starts that cluster and runs them with
//! `cargo test -p genius-cli --test slurm -- --ignored --test-threads=1`.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use genius_core::{Recorded, TrialStatus};

mod common;
use common::{data_dir, keys};

/// `genius search` on NAS-Bench-Macro with random search, in batches of `batch`.
fn search(out: &Path, seed: u64, budget: usize, batch: usize) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_genius"));
    cmd.env("GENIUS_DATA_DIR", data_dir()).env("GENIUS_OFFLINE", "1");
    cmd.args(["search", "--space", "nas-bench-macro", "--optimizer", "random", "--quiet"])
        .args(["--budget", &budget.to_string(), "--seed", &seed.to_string()])
        .args(["--batch-size", &batch.to_string(), "--out"])
        .arg(out);
    cmd
}

/// The same search with its evaluations as SLURM jobs configured by `toml` (polled every 0.2 s).
fn on_slurm(dir: &Path, seed: u64, budget: usize, batch: usize, toml: &str) -> Command {
    let config = dir.with_extension("slurm.toml");
    std::fs::write(&config, format!("poll_interval_s = 0.2\njob_name = \"genius-test\"\n{toml}")).unwrap();
    let mut cmd = search(dir, seed, budget, batch);
    cmd.arg("--executor").arg("slurm").arg("--executor-config").arg(config);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// The job events of a run so far, as (kind, data); a line still being written is skipped.
fn job_events(dir: &Path) -> Vec<(String, serde_json::Value)> {
    let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| {
            let kind = e["kind"].as_str()?.to_owned();
            kind.starts_with("job_").then(|| (kind, e["data"].clone()))
        })
        .collect()
}

fn of_kind<'a>(events: &'a [(String, serde_json::Value)], kind: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|(k, _)| k == kind).map(|(_, d)| d).collect()
}

/// Waits (up to a minute) until `ready` holds of the run's job events.
fn wait_for(dir: &Path, what: &str, ready: impl Fn(&[(String, serde_json::Value)]) -> bool) {
    let start = Instant::now();
    while !ready(&job_events(dir)) {
        assert!(start.elapsed() < Duration::from_secs(60), "waited a minute for {what}: {:?}", job_events(dir));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What squeue says of job `id` (empty once SLURM forgot it).
fn squeue_state(id: &str) -> String {
    let out =
        Command::new("squeue").args(["--noheader", "--array", "--states=all", "--format=%T", "--jobs", id]).output();
    String::from_utf8_lossy(&out.unwrap().stdout).trim().to_owned()
}

fn kill(child: &Child, signal: &str) {
    assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
}

#[test]
#[ignore = "needs a SLURM cluster: scripts/slurm-local.sh start"]
fn a_search_on_slurm_gets_the_trials_of_the_same_search_run_here() {
    let tmp = tempfile::tempdir().unwrap();
    let (remote, local) = (tmp.path().join("slurm"), tmp.path().join("local"));
    run(&mut on_slurm(&remote, 4, 6, 3, "max_in_flight = 4\n"));
    run(&mut search(&local, 4, 6, 3));
    assert_eq!(keys(&remote), keys(&local));
    let events = job_events(&remote);
    assert_eq!(of_kind(&events, "job_submitted").len(), 6);
    assert_eq!(of_kind(&events, "job_finished").len(), 6);
    assert!(of_kind(&events, "job_lost").is_empty(), "{events:?}");
    // Two arrays of three tasks, each evaluated by `genius evaluate` into the run's jobs/.
    let ids: Vec<&str> = of_kind(&events, "job_submitted").iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert!(ids[0].ends_with("_0") && ids[2].ends_with("_2") && ids[3].ends_with("_0"), "{ids:?}");
    assert!(remote.join("jobs/trial-000000-attempt-1.json").is_file());
    let header = Recorded::read(&remote).unwrap().header;
    assert_eq!(header.executor.unwrap().settings["max_in_flight"], 4);
}

#[test]
#[ignore = "needs a SLURM cluster: scripts/slurm-local.sh start"]
fn jobs_that_fail_or_are_cancelled_are_retried_then_recorded_as_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    // Trial 1's jobs always exit 3; trial 2's first job waits to be cancelled from outside.
    let setup = r#"retries = 1
setup = [
  'if [ "$GENIUS_TRIAL" = 1 ]; then echo "simulated crash of trial 1" >&2; exit 3; fi',
  'if [ "$GENIUS_TRIAL" = 2 ] && [ "$GENIUS_ATTEMPT" = 1 ]; then sleep 120; fi',
]
"#;
    let child = on_slurm(&dir, 7, 4, 4, setup).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for(&dir, "trial 2's first job", |e| of_kind(e, "job_submitted").iter().any(|d| d["trial"] == 2));
    let events = job_events(&dir);
    let id =
        of_kind(&events, "job_submitted").iter().find(|d| d["trial"] == 2).unwrap()["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    while squeue_state(&id) != "RUNNING" {
        assert!(start.elapsed() < Duration::from_secs(60), "job {id} never ran: {}", squeue_state(&id));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(Command::new("scancel").arg(&id).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let recorded = Recorded::read(&dir).unwrap();
    assert_eq!(recorded.trials.len(), 4, "the search finished its budget");
    let TrialStatus::Failed { reason } = &recorded.trials[1].status else {
        panic!("trial 1 is not failed: {:?}", recorded.trials[1])
    };
    assert!(reason.contains("exit code 3") && reason.contains("simulated crash of trial 1"), "{reason}");
    assert_eq!(recorded.trials[2].status, TrialStatus::Complete, "the cancelled job was retried");
    let events = job_events(&dir);
    let lost = of_kind(&events, "job_lost");
    assert_eq!(lost.iter().filter(|d| d["trial"] == 1).count(), 2, "trial 1: a job and one retry: {lost:?}");
    let cancelled: Vec<_> = lost.iter().filter(|d| d["trial"] == 2).collect();
    assert_eq!(cancelled.len(), 1, "{lost:?}");
    assert!(cancelled[0]["reason"].as_str().unwrap().contains("CANCELLED"), "{cancelled:?}");
    assert_eq!(of_kind(&events, "job_submitted").len(), 6, "4 jobs, trial 1's retry and trial 2's");
}

#[test]
#[ignore = "needs a SLURM cluster: scripts/slurm-local.sh start"]
fn a_search_killed_while_jobs_are_queued_resumes_without_submitting_them_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    // Every job takes two seconds; the one-node cluster runs two at a time, so two of four wait in the queue.
    let child =
        on_slurm(&dir, 9, 8, 4, "setup = ['sleep 2']\n").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for(&dir, "the first four jobs", |e| of_kind(e, "job_submitted").len() == 4);
    let mut child = child;
    kill(&child, "-KILL");
    child.wait().unwrap();
    let before = job_events(&dir);
    let submitted: Vec<String> =
        of_kind(&before, "job_submitted").iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
    let live = submitted.iter().filter(|id| matches!(squeue_state(id).as_str(), "PENDING" | "RUNNING")).count();
    assert!(live > 0, "every job had ended before the search was killed; nothing to reattach to");

    let resumed = Command::new(env!("CARGO_BIN_EXE_genius"))
        .env("GENIUS_DATA_DIR", data_dir())
        .env("GENIUS_OFFLINE", "1")
        .args(["resume", "--quiet"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let after = job_events(&dir);
    let new = &after[before.len()..];
    let reattached: Vec<&str> = of_kind(new, "job_reattached").iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(reattached.len(), 4, "every recorded job is polled again: {new:?}");
    for d in of_kind(new, "job_submitted") {
        assert!(d["trial"].as_u64().unwrap() >= 4, "trial {} was submitted again: {new:?}", d["trial"]);
    }
    assert_eq!(of_kind(&after, "job_submitted").len(), 8, "{after:?}");

    let local = tmp.path().join("local");
    run(&mut search(&local, 9, 8, 4));
    assert_eq!(keys(&dir), keys(&local), "the resumed search differs from the same search run here");
}

#[test]
#[ignore = "needs a SLURM cluster: scripts/slurm-local.sh start"]
fn ctrl_c_cancels_the_jobs_the_search_owns() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let child = on_slurm(&dir, 11, 4, 4, "setup = ['sleep 120']\n")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&dir, "four jobs", |e| of_kind(e, "job_submitted").len() == 4);
    kill(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let events = job_events(&dir);
    assert_eq!(of_kind(&events, "job_cancelled").len(), 4, "{events:?}");
    for d in of_kind(&events, "job_submitted") {
        let id = d["id"].as_str().unwrap();
        let state = squeue_state(id);
        assert!(state.is_empty() || state == "CANCELLED" || state == "COMPLETING", "job {id} is {state}");
    }
}

/// The trials of every run directory under `root`, by run directory name.
fn grid_trials(root: &Path) -> Vec<(String, Vec<serde_json::Value>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.join("trials.jsonl").is_file() {
                out.push((path.file_name().unwrap().to_string_lossy().into_owned(), keys(&path)));
            } else if path.is_dir() && path.file_name().is_some_and(|n| n != "jobs") {
                stack.push(path);
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
#[ignore = "needs a SLURM cluster: scripts/slurm-local.sh start"]
fn a_comparison_grid_runs_its_evaluations_on_slurm() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = |name: &str, executor: &str| {
        let text = format!(
            "name = \"{name}\"\nspaces = [\"nas-bench-macro\"]\nseeds = 2\nbudgets = [4]\njobs = 2\nout = \"{}\"\n\
             [study]\nbatch_size = 2\n{executor}\n[[optimizer]]\nname = \"random\"\n",
            tmp.path().join(name).display()
        );
        let path = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_genius"));
        cmd.env("GENIUS_DATA_DIR", data_dir()).env("GENIUS_OFFLINE", "1");
        cmd.args(["compare", "--quiet", "--config"]).arg(path);
        run(&mut cmd);
    };
    std::fs::write(tmp.path().join("slurm.toml"), "poll_interval_s = 0.2\njob_name = \"genius-test\"\n").unwrap();
    grid("remote", "[executor]\nname = \"slurm\"\nconfig = \"slurm.toml\"\n");
    grid("local", "");
    let (remote, local) = (grid_trials(&tmp.path().join("remote")), grid_trials(&tmp.path().join("local")));
    assert_eq!(remote.len(), 2, "{remote:?}");
    assert_eq!(remote, local, "the grid on SLURM has the trials of the grid run here");
    assert_eq!(count_finished_jobs(&tmp.path().join("remote")), 8, "two runs of four evaluations, each a SLURM job");
    assert_eq!(count_finished_jobs(&tmp.path().join("local")), 0);
}

/// The `job_finished` events of every run under `root`.
fn count_finished_jobs(root: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.join("events.jsonl").is_file() {
                n += of_kind(&job_events(&path), "job_finished").len();
            } else if path.is_dir() {
                stack.push(path);
            }
        }
    }
    n
}

/// Runs `cmd` expecting failure; returns its standard error.
fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn without_slurm_or_with_a_bad_configuration_the_error_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    // No SLURM commands on PATH: the first submission fails, naming the command.
    let mut cmd = on_slurm(&tmp.path().join("run"), 0, 2, 1, "");
    let stderr = fails(cmd.env("PATH", tmp.path().join("no-bin")));
    assert!(stderr.contains("`sbatch` is not on PATH"), "{stderr}");
    assert!(Recorded::read(&tmp.path().join("run")).is_ok(), "the run log is kept for a resume");
    // A misspelt setting names the file and the field, before anything runs.
    let stderr = fails(&mut on_slurm(&tmp.path().join("typo"), 0, 2, 1, "partiton = \"gpu\"\n"));
    assert!(stderr.contains("typo.slurm.toml") && stderr.contains("unknown field `partiton`"), "{stderr}");
    assert!(!tmp.path().join("typo/trials.jsonl").exists());
    // --executor-config alone is refused by the parser.
    let mut cmd = search(&tmp.path().join("alone"), 0, 2, 1);
    let stderr = fails(cmd.args(["--executor-config", "slurm.toml"]));
    assert!(stderr.contains("--executor"), "{stderr}");
}
