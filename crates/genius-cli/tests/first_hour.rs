//! What a newcomer meets in the first hour (issue 15): advice that names the right flag, errors in plain words,
//! input that is never silently ignored, a dry run of an experiment that lists every problem at once, settings and
//! spaces that can be discovered, output for scripts, and a closed pipe that ends a command quietly.

use std::path::Path;
use std::process::Command;

mod common;
use common::{data_dir, genius_with, run};

fn genius() -> Command {
    genius_with(&data_dir())
}

/// Runs `cmd` expecting failure; returns stderr, checked to hold no panic and no Rust or serde words.
fn fails(cmd: &mut Command) -> String {
    let (out, _, stderr) = run(cmd);
    assert!(!out.status.success(), "expected failure: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for rust in ["usize", "u64", "f64", "untagged enum", "invalid type:"] {
        assert!(!stderr.contains(rust), "`{rust}` in: {stderr}");
    }
    stderr
}

fn ok(cmd: &mut Command) -> String {
    let (out, stdout, stderr) = run(cmd);
    assert!(out.status.success(), "{stderr}");
    stdout
}

fn search(tmp: &Path, extra: &[&str]) -> Command {
    let mut cmd = genius();
    cmd.current_dir(tmp).args(["search", "--space", "nas-bench-macro", "--quiet"]).args(extra);
    cmd
}

#[test]
fn an_endpoint_is_asked_for_with_the_flag_of_search() {
    let tmp = tempfile::tempdir().unwrap();
    for llm in ["openai-compatible", "azure"] {
        let e = fails(&mut search(
            tmp.path(),
            &["--budget", "3", "--optimizer", "genius", "--llm", llm, "--model", "llama3.1"],
        ));
        assert!(e.contains("--llm-base-url http"), "{e}");
        assert!(!e.contains(" --base-url"), "--base-url is the data mirror's flag: {e}");
    }
}

#[test]
fn default_run_directories_never_collide() {
    let tmp = tempfile::tempdir().unwrap();
    // Started together, with the same space, optimizer and seed: each gets its own directory.
    let children: Vec<_> = ["0.1", "0.2", "0.3", "0.4"]
        .iter()
        .map(|g| search(tmp.path(), &["--budget", "3", "--optimizer", "tpe", "--set", &format!("gamma={g}")]).spawn())
        .collect::<Result<_, _>>()
        .unwrap();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let dirs: Vec<String> = std::fs::read_dir(tmp.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs.len(), 4, "{dirs:?}");
    assert!(dirs.iter().all(|d| d.starts_with("nas-bench-macro-tpe-seed0-")), "{dirs:?}");
}

#[test]
fn a_space_without_a_table_suggests_training() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = genius();
    cmd.current_dir(tmp.path()).args(["search", "--space", "mobilenet-imagenet", "--budget", "3", "--quiet"]);
    let e = fails(&mut cmd);
    assert!(e.contains("has no benchmark table") && e.contains("--evaluator train"), "{e}");
}

#[cfg(not(feature = "local"))]
#[test]
fn a_build_without_the_embedded_model_says_so_in_plain_words() {
    let tmp = tempfile::tempdir().unwrap();
    let e = fails(&mut search(tmp.path(), &["--budget", "3", "--optimizer", "genius"]));
    assert!(e.contains("built without the embedded model"), "{e}");
    assert!(!e.contains("invalid optimizer setting"), "nothing is wrong with the settings: {e}");
}

#[test]
fn command_line_mistakes_get_plain_words() {
    let tmp = tempfile::tempdir().unwrap();
    let mut errors = Vec::new();
    let mut check = |args: &[&str]| {
        let e = fails(&mut search(tmp.path(), args));
        errors.push(format!("$ genius search --space nas-bench-macro {}\n{e}", args.join(" ")));
    };
    check(&["--budget", "-5"]);
    check(&["--budget", "ten"]);
    check(&["--budget", "0"]);
    check(&["--budget", "3", "--seed", "-1"]);
    check(&["--budget", "3", "--optimizer", "evolution", "--set", "population_size=2.5"]);
    check(&["--budget", "3", "--optimizer", "tpe", "--set", "gamma=0"]);
    check(&["--budget", "3", "--optimizer", "tpe", "--set", "gamma=\"high\""]);
    check(&["--budget", "3", "--epochs", "3"]);
    check(&["--budget", "3", "--dataset", "mnist", "--train", "learning_rate=0.1"]);
    let mut arch = genius();
    arch.args(["arch", "--space", "nas-bench-macr", "00000000"]);
    let e = fails(&mut arch);
    errors.push(format!("$ genius arch --space nas-bench-macr 00000000\n{e}"));
    let mut compare = genius();
    compare.args(["compare", "--config", "x.toml", "--jobs", "0"]);
    let e = fails(&mut compare);
    errors.push(format!("$ genius compare --config x.toml --jobs 0\n{e}"));
    insta::assert_snapshot!("command_line_mistakes", errors.join("\n"));
}

#[test]
fn a_number_written_without_its_leading_zero_is_a_number() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mut cmd = search(tmp.path(), &["--budget", "3", "--optimizer", "reinforce", "--set", "learning_rate=.001"]);
    ok(cmd.arg("--out").arg(&out));
    let settings = genius_core::Recorded::read(&out).unwrap().header.optimizer.settings;
    assert_eq!(settings["learning_rate"], 0.001, "{settings}");
}

/// An experiment with five different mistakes (and a sixth: an unknown top-level key).
const FIVE_MISTAKES: &str = r#"name = "five mistakes"
spaces = ["nas-bench-macro", "nas-bench-201-cifar1O", "mobilenet-imagenet"]
seeds = "three"
budgets = [10, 50]
baseline = "randon"
colour = "blue"

[[optimizer]]
name = "random"

[[optimizer]]
name = "tpe"
settings = { gamma = 1.5 }

[[optimizer]]
name = "evolution"
settings = { population = 20 }
"#;

#[test]
fn compare_check_lists_every_problem_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("five.toml"), FIVE_MISTAKES).unwrap();
    let mut cmd = genius();
    cmd.current_dir(tmp.path()).args(["compare", "--check", "--config", "five.toml"]);
    let e = fails(&mut cmd);
    assert_eq!(e.lines().filter(|l| l.starts_with("five.toml, line ")).count(), 7, "{e}");
    insta::assert_snapshot!("compare_check_five_mistakes", e);
}

#[test]
fn compare_check_warns_of_a_missing_key_and_passes() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/paper-nb201.toml");
    let mut cmd = genius();
    cmd.env_remove("OPENAI_API_KEY").args(["compare", "--check", "--config"]).arg(&config);
    let stdout = ok(&mut cmd);
    assert!(stdout.contains("valid;"), "{stdout}");
    let warnings: Vec<&str> = stdout.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 2, "one per GENIUS optimizer: {stdout}");
    assert!(warnings.iter().all(|w| w.contains("OPENAI_API_KEY")), "{stdout}");
    let mut cmd = genius();
    cmd.env("OPENAI_API_KEY", "sk-test-not-a-key").args(["compare", "--check", "--config"]).arg(&config);
    assert!(!ok(&mut cmd).contains("warning:"));
}

#[test]
fn every_plug_in_lists_its_settings() {
    for args in [
        &["optimizers", "tpe"][..],
        &["optimizers", "evolution"],
        &["evaluators", "train"],
        &["evaluators", "table"],
        &["executors", "slurm"],
        &["spaces", "nas-bench-macro"],
    ] {
        let stdout = ok(genius().args(args));
        // The data directory differs between machines.
        let stdout = stdout.replace(&data_dir().display().to_string(), "[data]");
        insta::assert_snapshot!(format!("list_{}", args.join("_")), stdout);
    }
    let e = fails(genius().args(["optimizers", "tpee"]));
    assert!(e.contains("unknown optimizer `tpee`") && e.contains("tpe"), "{e}");
}

fn json(args: &[&str]) -> serde_json::Value {
    let stdout = ok(genius().args(args));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

#[test]
fn json_output_for_scripts() {
    let optimizers = json(&["optimizers", "--json"]);
    assert!(optimizers.as_array().unwrap().iter().any(|o| o["name"] == "tpe"));
    let tpe = json(&["optimizers", "tpe", "--json"]);
    let gamma = tpe["settings"].as_array().unwrap().iter().find(|s| s["name"] == "gamma").unwrap();
    assert_eq!(gamma["type"], "number");
    assert_eq!(gamma["default"], "0.1");
    assert_eq!(gamma["range"], "(0, 1]");
    let spaces = json(&["spaces", "--json"]);
    let macro_ = spaces["spaces"].as_array().unwrap().iter().find(|s| s["name"] == "nas-bench-macro").unwrap();
    assert_eq!(macro_["architectures"], 6561);
    assert_eq!(macro_["data"], "present");
    let arch = json(&["arch", "--space", "nas-bench-macro", "--json", "02012100"]);
    assert_eq!(arch["canonical"], "02012100");
    assert_eq!(arch["rank"]["of"], 6561);
    let info = json(&["data", "info", "nas-bench-macro", "--json"]);
    assert_eq!(info["tables"][0]["architectures"], 6561);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut cmd = search(tmp.path(), &["--budget", "5", "--json", "--out"]);
    let stdout = ok(cmd.arg(&dir));
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(result["trials"], 5);
    assert_eq!(result["run_dir"], dir.display().to_string());
    assert!(result["best"]["metrics"].is_object(), "{result}");
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(genius().args(["completions", shell]));
        assert!(script.contains("genius") && script.contains("budget"), "{shell}: {script}");
    }
    let e = fails(genius().args(["completions", "tcsh"]));
    assert!(e.contains("possible values"), "{e}");
}

/// Runs `genius ARGS | head -1` in a shell in `dir`; returns genius's exit status and its stderr.
#[cfg(unix)]
fn into_head(dir: &Path, args: &str) -> (String, String) {
    let bin = env!("CARGO_BIN_EXE_genius");
    let script = format!("'{bin}' {args} 2> err | head -1 > /dev/null; echo ${{PIPESTATUS[0]}}");
    let mut bash = Command::new("bash");
    bash.current_dir(dir).env("GENIUS_DATA_DIR", data_dir()).env("GENIUS_OFFLINE", "1").args(["-c", &script]);
    let (out, stdout, stderr) = run(&mut bash);
    assert!(out.status.success(), "{stderr}");
    let err = std::fs::read_to_string(dir.join("err")).unwrap();
    (stdout.trim().to_owned(), err)
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = "name = \"g\"\nspaces = [\"nas-bench-macro\"]\nseeds = 20\nbudgets = [50]\njobs = 1\n\
                [[optimizer]]\nname = \"random\"\n[[optimizer]]\nname = \"tpe\"\n";
    std::fs::write(tmp.path().join("grid.toml"), grid).unwrap();
    for args in [
        "search --space nas-bench-macro --budget 3000 --quiet --out run",
        "compare --config grid.toml --quiet --out grid",
        "arch --space nas-bench-macro 02012100",
        "completions zsh",
    ] {
        let (status, err) = into_head(tmp.path(), args);
        assert_eq!(status, "0", "{args}: {err}");
        assert!(!err.contains("Broken pipe") && !err.contains("error"), "{args}: {err}");
    }
}
