//! `genius compare` and `genius report` end to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use genius_core::Recorded;

mod common;
use common::data_dir;

fn genius() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_genius"));
    cmd.env("GENIUS_DATA_DIR", data_dir());
    cmd
}

const GRID: &str = r#"
name = "test grid"
spaces = ["nas-bench-macro"]
seeds = 12
budgets = [5, 20]
jobs = 2

[[optimizer]]
name = "random"

[[optimizer]]
name = "random"
label = "random-nr"
settings = { without_replacement = true }

[[ablation]]
name = "replacement"
optimizer = "random"
setting = "without_replacement"
values = [false, true]
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Every run directory below `root` with its trials (timings removed).
fn all_trials(root: &Path) -> Vec<(String, Vec<serde_json::Value>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("runs")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.join("trials.jsonl").is_file() {
                let trials = Recorded::read(&p)
                    .unwrap()
                    .trials
                    .iter()
                    .map(|t| {
                        let mut v = serde_json::to_value(t).unwrap();
                        for f in ["started_at", "duration_s", "elapsed_s"] {
                            v.as_object_mut().unwrap().remove(f);
                        }
                        v
                    })
                    .collect();
                out.push((p.strip_prefix(root).unwrap().display().to_string(), trials));
            } else if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn a_grid_runs_reports_and_a_second_start_repeats_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write(tmp.path(), "grid.toml", GRID);
    let out = tmp.path().join("out");
    let run = genius().args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("| random | "), "{stdout}");
    assert!(stdout.contains("(rank "), "{stdout}");
    for f in [
        "report.md",
        "summary.csv",
        "trials.csv",
        "grid.json",
        "plots/nas-bench-macro-anytime.svg",
        "plots/nas-bench-macro-anytime.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let runs = all_trials(&out);
    assert_eq!(runs.len(), 2 * 12 + 2 * 12, "two optimizers and two ablation values, 12 seeds each");
    assert!(runs.iter().all(|(_, t)| t.len() == 20));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("## Ablation `replacement` on nas-bench-macro (random: varying `without_replacement`)"),
        "{report}"
    );
    // The ablation has its own plot and its values are tested against the first one.
    let ablation = report.split("## Ablation `replacement`").nth(1).unwrap();
    assert!(ablation.contains("Against `"), "{ablation}");
    assert!(ablation.contains("![plots/nas-bench-macro-ablation-replacement.svg]"), "{ablation}");
    assert!(out.join("plots/nas-bench-macro-ablation-replacement.svg").is_file());
    let main = report.split("## Ablation").next().unwrap();
    assert!(!main.contains("-ablation-"), "the main section shows the main grid's plots only");
    // Without replacement, no architecture repeats within a run.
    for (dir, trials) in runs.iter().filter(|(d, _)| d.contains("random-nr")) {
        let archs: std::collections::HashSet<_> = trials.iter().map(|t| t["text"].clone()).collect();
        assert_eq!(archs.len(), trials.len(), "{dir}");
    }

    let again = genius().args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&out).output().unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("(48 already done)"));
    assert_eq!(all_trials(&out), runs);

    std::fs::remove_file(out.join("report.md")).unwrap();
    let report = genius().arg("report").arg(&out).output().unwrap();
    assert!(report.status.success());
    assert!(out.join("report.md").is_file(), "genius report regenerates the report from the run logs");
}

/// A run killed after its last evaluation but before its `summary.json` is finished by the next start, which evaluates
/// nothing in it and writes the summary: the report's regret, which reads the evaluator's optimum from the summary,
/// is the uninterrupted grid's (it used to average over the runs that had a summary only).
#[test]
fn a_run_killed_before_its_summary_is_finished_by_the_next_start_and_reported_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write(tmp.path(), "grid.toml", GRID);
    let out = tmp.path().join("out");
    let compare = || genius().args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&out).output();
    assert!(compare().unwrap().status.success());
    let (trials, summary) = (all_trials(&out), std::fs::read_to_string(out.join("summary.csv")).unwrap());
    let (run, _) = &trials[0];
    let lost = out.join(run).join("summary.json");
    std::fs::remove_file(&lost).unwrap();
    let again = compare().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("(47 already done)"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert!(lost.is_file(), "the summary is written again");
    assert_eq!(all_trials(&out), trials, "nothing was evaluated again");
    assert_eq!(std::fs::read_to_string(out.join("summary.csv")).unwrap(), summary);
}

#[cfg(unix)]
#[test]
fn a_grid_killed_at_twenty_points_finishes_with_the_runs_trials_and_summary_of_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = GRID.replace("seeds = 12", "seeds = 60").replace("budgets = [5, 20]", "budgets = [10, 100]");
    let config = write(tmp.path(), "grid.toml", &grid);
    let full = tmp.path().join("full");
    let start = Instant::now();
    let direct =
        genius().args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&full).output().unwrap();
    assert!(direct.status.success(), "{}", String::from_utf8_lossy(&direct.stderr));
    let whole = start.elapsed();

    // SIGKILL at 20 points spread over an uninterrupted grid's duration (a fixed pseudo-random sequence, so a failure
    // repeats): while planning, between and inside runs, while reporting. Each start resumes what the last one left.
    let killed = tmp.path().join("killed");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut kills = 0;
    for _ in 0..20 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let at = whole.mul_f64((x >> 11) as f64 / (1u64 << 53) as f64);
        let mut child = genius()
            .args(["compare", "--quiet", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&killed)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_none() {
            Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
            kills += 1;
        }
        let _ = child.wait();
    }
    assert!(kills >= 10, "only {kills} of 20 starts were still running when killed");

    let resumed =
        genius().args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&killed).output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let (a, b) = (all_trials(&killed), all_trials(&full));
    assert_eq!(a.len(), 4 * 60);
    assert!(a == b, "the resumed grid's trials differ from the uninterrupted one's");
    let summary = |dir: &Path| std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert_eq!(summary(&killed), summary(&full), "the resumed grid's summary differs from the uninterrupted one's");
}

fn config_error(text: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let config = write(tmp.path(), "bad.toml", text);
    let out = genius()
        .args(["compare", "--quiet", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(tmp.path().join("o"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!tmp.path().join("o").exists(), "nothing runs before the config is valid");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn config_errors_name_the_line_before_anything_runs() {
    let e = config_error(&GRID.replace("jobs = 2", "jobs = 2\ncolour = \"red\""));
    assert!(e.contains("unknown field `colour`") && e.contains("line 7"), "{e}");
    let e = config_error(
        &GRID.replace("spaces = [\"nas-bench-macro\"]", "spaces = [\"nas-bench-macro\", \"nas-bench-9000\"]"),
    );
    assert!(e.contains("line 3") && e.contains("unknown space `nas-bench-9000`"), "{e}");
    let e = config_error(&GRID.replace("name = \"random\"\nlabel", "name = \"randon\"\nlabel"));
    assert!(e.contains("line 12") && e.contains("unknown optimizer `randon`"), "{e}");
    let e = config_error(&GRID.replace("without_replacement = true }", "with_replacement = true }"));
    assert!(e.contains("line 14") && e.contains("unknown field `with_replacement`"), "{e}");
    let e = config_error(&GRID.replace("optimizer = \"random\"\nsetting", "optimizer = \"evolution-x\"\nsetting"));
    assert!(e.contains("line 18") && e.contains("no [[optimizer]] is labelled"), "{e}");
    let e = config_error(&GRID.replace("values = [false, true]", "values = [false, 3]"));
    assert!(e.contains("line 20") && e.contains("without_replacement = 3"), "{e}");
    let e = config_error(&GRID.replace("jobs = 2", "jobs = 2\n[evaluator]\nname = \"trian\""));
    assert!(
        e.contains("line 8") && e.contains("unknown evaluator `trian`; did you mean `train`?; known: table, train"),
        "{e}"
    );
}

#[test]
fn an_optimizer_with_its_own_budget_and_seeds_is_reported_only_where_it_ran() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = GRID.replace(
        "settings = { without_replacement = true }",
        "settings = { without_replacement = true }\nbudget = 5\nseeds = 3",
    );
    let config = write(tmp.path(), "grid.toml", &grid);
    let out = tmp.path().join("out");
    let run = genius().args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&out).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let runs = all_trials(&out);
    let short: Vec<_> = runs.iter().filter(|(d, _)| d.contains("random-nr")).collect();
    assert_eq!(short.len(), 3);
    assert!(short.iter().all(|(_, t)| t.len() == 5));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let row = report.lines().find(|l| l.starts_with("| random-nr |")).unwrap();
    assert!(row.ends_with("| – |"), "no value beyond its budget: {row}");
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(summary.lines().any(|l| l.starts_with("nas-bench-macro,random-nr,,,5,3,")), "{summary}");
}

#[test]
fn every_shipped_experiment_is_valid() {
    let experiments = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut checked = 0;
    for entry in std::fs::read_dir(&experiments).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = genius()
                .env("OPENAI_API_KEY", "sk-test-not-a-key")
                .args(["compare", "--check", "--config"])
                .arg(&path)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
            assert!(stdout.contains("valid;"), "{stdout}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "quickstart and the three paper experiments");
}

#[test]
fn a_paper_experiment_without_a_key_stops_before_running() {
    let tmp = tempfile::tempdir().unwrap();
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../experiments/paper-macro.toml");
    let out = genius()
        .env_remove("OPENAI_API_KEY")
        .args(["compare", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(tmp.path().join("o"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("OPENAI_API_KEY"), "{stderr}");
    assert!(!tmp.path().join("o").exists());
}

/// A grid of random search beside a GENIUS optimizer whose model endpoint is dead (nothing listens on port 9), with
/// `attempts` calls of `backoff` seconds' back-off.
fn dead_endpoint_grid(attempts: u32, backoff: f64) -> String {
    format!(
        r#"
name = "dead endpoint"
spaces = ["nas-bench-macro"]
seeds = 2
budgets = [5]
jobs = 1

[[optimizer]]
name = "random"

[[optimizer]]
name = "genius"
seeds = 1
settings = {{ llm = "openai-compatible", model = "m", base_url = "http://127.0.0.1:9/v1", cache = "off", retry = {{ max_attempts = {attempts}, initial_backoff_s = {backoff}, jitter = 0.0 }} }}
"#
    )
}

#[test]
fn a_grid_with_a_dead_model_endpoint_finishes_the_other_runs_and_reports_the_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write(tmp.path(), "grid.toml", &dead_endpoint_grid(1, 0.0));
    let out = tmp.path().join("out");
    let compare = || {
        let mut cmd = genius();
        cmd.args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&out);
        cmd
    };
    let run = compare().output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(!run.status.success(), "{stdout}");
    let failed = out.join("runs/nas-bench-macro/genius/seed-0");
    assert!(stderr.contains("1 of 3 run(s) failed") && stderr.contains(&failed.display().to_string()), "{stderr}");
    assert!(stderr.contains("cannot connect"), "with its reason: {stderr}");
    assert!(stdout.contains("| random | "), "the report of the other runs is printed: {stdout}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let section = report.split("## Failed runs").nth(1).expect("a Failed runs section");
    assert!(section.contains("`runs/nas-bench-macro/genius/seed-0` | nas-bench-macro | genius | 0 |"), "{section}");
    let failures: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("failures.json")).unwrap()).unwrap();
    assert_eq!(failures.as_array().unwrap().len(), 1);
    for seed in 0..2 {
        let random = Recorded::read(&out.join(format!("runs/nas-bench-macro/random/seed-{seed}"))).unwrap();
        assert_eq!(random.trials.len(), 5);
        assert!(random.summary.is_some());
    }

    // Again: the finished runs are kept, the failed one is tried again.
    let again = compare().output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("(2 already done)"));

    // --fail-fast stops at the first failure, with no report.
    let fresh = tmp.path().join("fresh");
    let fast = genius()
        .args(["compare", "--quiet", "--fail-fast", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&fresh)
        .output()
        .unwrap();
    assert!(!fast.status.success());
    let stderr = String::from_utf8_lossy(&fast.stderr);
    assert!(stderr.contains("--fail-fast") && stderr.contains("genius/seed-0"), "{stderr}");
    assert!(!fresh.join("report.md").exists());
}

#[cfg(unix)]
#[test]
fn a_second_compare_on_the_same_grid_is_refused_naming_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    // The dead endpoint's back-off (1 s, then 2 s) keeps the first grid running for a few seconds.
    let config = write(tmp.path(), "grid.toml", &dead_endpoint_grid(3, 1.0));
    let out = tmp.path().join("out");
    let compare = || {
        let mut cmd = genius();
        cmd.args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&out);
        cmd
    };
    let first = compare().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let pid = first.id();
    let start = Instant::now();
    while std::fs::read_to_string(out.join("genius.lock")).ok().map(|s| s.trim().to_owned()) != Some(pid.to_string()) {
        assert!(start.elapsed() < Duration::from_secs(30), "the first compare never took the lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = compare().output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(stderr.contains(&out.display().to_string()) && stderr.contains(&format!("pid {pid}")), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error")).count(), 1, "{stderr}");
    let first = first.wait_with_output().unwrap();
    assert!(!first.status.success(), "the first ends with its one failed run");
    for seed in 0..2 {
        let random = Recorded::read(&out.join(format!("runs/nas-bench-macro/random/seed-{seed}"))).unwrap();
        assert_eq!(random.trials.len(), 5, "one writer, each trial once");
    }
}

#[test]
fn a_smaller_budget_than_a_finished_grid_reports_at_it_without_rewriting_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = GRID.replace("seeds = 12", "seeds = 3");
    let config = write(tmp.path(), "grid.toml", &grid);
    let out = tmp.path().join("out");
    let run = genius().args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&out).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let files = |name: &str| -> Vec<Vec<u8>> {
        let mut dirs: Vec<_> = all_trials(&out).into_iter().map(|(d, _)| out.join(d)).collect();
        dirs.sort();
        dirs.iter().map(|d| std::fs::read(d.join(name)).unwrap()).collect()
    };
    let (summaries, trials) = (files("summary.json"), files("trials.jsonl"));

    let small = genius()
        .args(["compare", "--quiet", "--budget", "5", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&small.stdout);
    assert!(small.status.success(), "{}", String::from_utf8_lossy(&small.stderr));
    assert!(stdout.contains("(12 already done)"), "{stdout}");
    assert_eq!(files("summary.json"), summaries, "no summary rewritten");
    assert_eq!(files("trials.jsonl"), trials);
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(summary.lines().any(|l| l.starts_with("nas-bench-macro,random,,,5,3,")), "{summary}");
    assert!(!summary.lines().any(|l| l.contains(",20,")), "{summary}");

    // Fewer seeds: the runs of the third are not pooled in, and the report names them.
    let fewer = genius()
        .args(["compare", "--quiet", "--seeds", "2", "--budget", "5", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(fewer.status.success(), "{}", String::from_utf8_lossy(&fewer.stderr));
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(summary.lines().any(|l| l.starts_with("nas-bench-macro,random,,,5,2,")), "{summary}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let left = report.split("## Runs left out").nth(1).expect("a Runs left out section");
    assert!(left.contains("`runs/nas-bench-macro/random/seed-2`"), "{left}");
}

#[test]
fn the_paper_s_published_results_are_reference_rows_beside_the_rerun_never_pooled() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = "name = \"with reference\"\nspaces = [\"nas-bench-macro\"]\nseeds = 3\nbudgets = [10]\n\
                reference = \"genius-paper-results-v1.json\"\n[[optimizer]]\nname = \"random\"\n";
    let config = write(tmp.path(), "grid.toml", grid);
    let out = tmp.path().join("out");
    let run = genius().args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&out).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Published results (reference, not rerun here)"), "{report}");
    // Tables 2-3 of the paper: the best of each trial's 10 queries, 93.05 (rank 8), 92.92 (27), 92.83 (61) at T=0.
    assert!(
        report.contains("| nas-bench-macro | GENIUS (paper, GPT-4, T=0) | 10 | 3 | 92.93 ± 0.11 (rank 32 / 6561) |"),
        "{report}"
    );
    assert!(report.contains("GENIUS (paper, GPT-4, T=1) | 10 | 3 | 92.88 ± 0.08 (rank 45 / 6561)"), "{report}");
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(!summary.contains("paper"), "reference rows are never pooled with the runs:\n{summary}");
}
