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

#[cfg(unix)]
#[test]
fn a_grid_killed_part_way_finishes_with_the_runs_and_trials_of_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = GRID.replace("seeds = 12", "seeds = 200").replace("budgets = [5, 20]", "budgets = [100]");
    let config = write(tmp.path(), "grid.toml", &grid);
    let killed = tmp.path().join("killed");
    let child = genius()
        .args(["compare", "--quiet", "--jobs", "1", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&killed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let done = walk_count(&killed, "summary.json");
        if done >= 10 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "the grid never got going");
        std::thread::sleep(Duration::from_millis(5));
    }
    Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
    let _ = child.wait_with_output();
    assert!(walk_count(&killed, "summary.json") < 4 * 200, "the grid finished before it was killed");

    let resumed =
        genius().args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&killed).output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let full = tmp.path().join("full");
    let direct =
        genius().args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&full).output().unwrap();
    assert!(direct.status.success());
    let (a, b) = (all_trials(&killed), all_trials(&full));
    assert_eq!(a.len(), 4 * 200);
    assert!(a == b, "the resumed grid differs from the uninterrupted one");
}

fn walk_count(root: &Path, name: &str) -> usize {
    let mut n = 0;
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|f| f == name) {
                n += 1;
            }
        }
    }
    n
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
