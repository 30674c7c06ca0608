//! Any program as a genius evaluator: `[evaluator] name = "command"` runs a command once per architecture and reads
//! its metrics back, so that a researcher's own training script scores the candidates of any optimizer.
//!
//! ```toml
//! [evaluator]
//! name = "command"
//! [evaluator.settings]
//! command = ["python3", "train.py", "--arch", "{arch_json}", "--seed", "{seed}", "--out", "{result}"]
//! env = { OMP_NUM_THREADS = "1" }
//! working_dir = "."            # where the program runs [default: the current directory]
//! timeout_s = 600              # per attempt; the whole process group is ended when it runs out
//! retries = 1                  # runs again after a failed exit (not after a timeout or an unreadable result)
//! seed = 0
//! search = "val_acc"           # the metric the search sees
//! report = "test_acc"          # the metric results are reported in [default: search]
//! held_out = ["test_acc"]      # recorded, never shown to the search
//! direction = "maximize"
//! ```
//!
//! Placeholders, in the arguments and the environment's values: `{arch}` (the space's canonical text form),
//! `{arch_json}` (a JSON object keyed by dimension name: numbers for numeric options, strings otherwise),
//! `{arch_file}` (a file holding that JSON), `{choices}` (the option ids, `[0, 2, 1]`), `{trial}` (this run's
//! evaluation number, 0, 1, 2, ...; it goes on across a resume), `{seed}`, `{result}` (where to write the result),
//! `{work_dir}` (the evaluation's own directory) and `{space}`. A lower-case word in braces that is not one of
//! them is an error (a typo), `{{name}}` is the literal text `{name}`, and other braces (JSON, shell groups) are
//! kept as they are.
//!
//! The program writes one JSON object to `{result}` or as the last JSON line of its standard output: the metrics
//! (`{"val_acc": 97.1, "test_acc": 96.4}`, or under a `"metrics"` key), and optionally `cost_s` (else the wall time
//! is the cost), `params` and `flops`. Each evaluation keeps its directory, `<trials dir>/<trial>/`, with
//! `arch.json`, `stdout.txt`, `stderr.txt` (`stdout.retry1.txt`, ... for retries) and `result.json`. A failed exit, a
//! timeout, or a result that is not JSON or lacks a declared metric is a failed trial whose reason holds the last
//! lines of standard error. The program runs in a process group of its own, ended (SIGKILL) when it times out, when
//! the evaluation is dropped (Ctrl-C stops a study by dropping its evaluations), and when the program exits, so that
//! nothing it started outlives it.

pub mod catalog;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use genius_core::checked::{Check, Checked};
use genius_core::{
    Architecture, Direction, EvalError, Evaluation, Evaluator, Metric, MetricSpec, SearchSpace, Visibility,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The evaluator's name.
pub const NAME: &str = "command";

/// Every placeholder the arguments and environment values may use.
pub const PLACEHOLDERS: &[&str] =
    &["arch", "arch_json", "arch_file", "choices", "trial", "seed", "result", "work_dir", "space"];

/// The name of the result file in an evaluation's directory.
pub const RESULT_FILE: &str = "result.json";

/// Keys of a result object that are not metrics.
const FACTS: &[&str] = &["cost_s", "params", "flops", "metrics"];

/// Why a command evaluator cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A setting is missing or wrong.
    #[error("command evaluator: {0}")]
    Settings(String),
    /// The program cannot be run.
    #[error("command evaluator: the program `{program}` {reason}")]
    Program {
        /// The program as written.
        program: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A file or directory cannot be made.
    #[error("command evaluator: cannot create {path}: {cause}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
}

/// The command evaluator's settings (the `[evaluator.settings]` of an experiment; recorded in the run header).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSettings {
    /// The program and its arguments, with placeholders.
    pub command: Vec<String>,
    /// Environment variables added to the program's (values may hold placeholders).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Where the program runs [default: the current directory].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<PathBuf>,
    /// Seconds one attempt may run before its process group is ended [default: no limit].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    /// How many times a failed exit is run again [default: 0].
    #[serde(default)]
    pub retries: u32,
    /// The `{seed}` placeholder [default: 0].
    #[serde(default)]
    pub seed: u64,
    /// The metric the search sees.
    pub search: String,
    /// The metric results are reported in [default: the searched one].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// Metrics recorded for reports and never shown to the search.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_out: Vec<String>,
    /// Other metrics the search may see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
    /// Which way every metric is better [default: maximize].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// How many of the last lines of standard error a failure's reason quotes [default: 10].
    #[serde(default = "default_stderr_lines")]
    pub stderr_lines: usize,
}

fn default_stderr_lines() -> usize {
    10
}

impl CommandSettings {
    /// Reads settings from JSON (an experiment's or a run header's), rejecting unknown keys.
    pub fn from_json(value: Value) -> Result<Self, CommandError> {
        serde_json::from_value(value).map_err(|e| CommandError::Settings(e.to_string()))
    }

    /// The metrics these settings declare.
    pub fn metric_spec(&self) -> MetricSpec {
        let direction = self.direction.unwrap_or(Direction::Maximize);
        let report = self.report.clone().unwrap_or_else(|| self.search.clone());
        let mut names = vec![self.search.clone()];
        for n in std::iter::once(&report).chain(&self.held_out).chain(&self.metrics) {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        let metrics = names
            .into_iter()
            .map(|name| {
                let held = self.held_out.contains(&name);
                Metric {
                    description: format!("`{name}` as the command reported it{}", if held { ", held out" } else { "" }),
                    name,
                    direction,
                    visibility: if held { Visibility::Reported } else { Visibility::Search },
                }
            })
            .collect();
        MetricSpec { metrics, search: self.search.clone(), report }
    }

    /// The first problem of the settings: a command, known placeholders, a sensible timeout, metrics that fit
    /// together.
    fn problem(&self) -> Result<(), CommandError> {
        if self.command.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(CommandError::Settings(
                "`command` is empty; give the program and its arguments, e.g. [\"python3\", \"train.py\", \
                 \"{arch_json}\"]"
                    .into(),
            ));
        }
        for (what, text) in self.command.iter().map(|a| ("command", a)).chain(self.env.values().map(|v| ("env", v))) {
            render(text, &|_: &str| Some(String::new()))
                .map_err(|e| CommandError::Settings(format!("{what}: `{text}`: {e}")))?;
        }
        if let Some(t) = self.timeout_s
            && !(t.is_finite() && t > 0.0)
        {
            return Err(CommandError::Settings(format!("`timeout_s` must be a positive number of seconds, not {t}")));
        }
        if self.held_out.contains(&self.search) {
            return Err(CommandError::Settings(format!(
                "`{}` is the searched metric; it cannot be held out",
                self.search
            )));
        }
        self.metric_spec().check().map_err(CommandError::Settings)
    }
}

impl Check for CommandSettings {
    type Error = CommandError;

    /// Checks the settings: a command, known placeholders, a sensible timeout, metrics that fit together.
    fn check_ref(&self) -> Result<(), CommandError> {
        self.problem()
    }
}

/// Fills the placeholders of `template`: `{name}`, a lower-case word between braces, is a placeholder (an unknown
/// one is an error, so that a typo is caught); `{{name}}` is the literal text `{name}`, and any other brace is kept
/// as it is (a JSON object or a shell group in an inline script).
pub fn render(template: &str, value: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find(['{', '}']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let word_at = |from: usize| {
            tail[from..]
                .find('}')
                .map(|end| &tail[from..from + end])
                .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        };
        // `{{name}}` is the literal text `{name}`.
        if let Some(name) =
            tail.strip_prefix("{{").and_then(|_| word_at(2)).filter(|w| tail[2 + w.len()..].starts_with("}}"))
        {
            out.push_str(&format!("{{{name}}}"));
            rest = &tail[name.len() + 4..];
            continue;
        }
        let word = word_at(1);
        match word {
            Some(name) if PLACEHOLDERS.contains(&name) => {
                out.push_str(&value(name).unwrap_or_default());
                rest = &tail[name.len() + 2..];
            }
            Some(name) => {
                return Err(format!(
                    "unknown placeholder `{{{name}}}`; known: {} (write `{{{{{name}}}}}` for the literal text)",
                    PLACEHOLDERS.join(", ")
                ));
            }
            None => {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// `arch` as a JSON object keyed by dimension name: an option label that is a number becomes a JSON number, any
/// other label a string.
pub fn arch_json(space: &dyn SearchSpace, arch: &Architecture) -> Value {
    let map: serde_json::Map<String, Value> = space
        .dimensions()
        .iter()
        .zip(arch.choices())
        .map(|(d, &c)| {
            let label = &d.options[usize::from(c)];
            let value = if let Ok(i) = label.parse::<i64>() {
                Value::from(i)
            } else if let Some(x) = label.parse::<f64>().ok().filter(|x| x.is_finite()) {
                Value::from(x)
            } else {
                Value::String(label.clone())
            };
            (d.name.clone(), value)
        })
        .collect();
    Value::Object(map)
}

/// Finds `program` as the OS would run it from `dir`: a path (relative to `dir`) must be an executable file; a bare
/// name is looked up on `path` (the `PATH` value).
pub fn resolve_program(program: &str, dir: &Path, path: Option<&str>) -> Result<PathBuf, CommandError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |reason: String| CommandError::Program { program: program.to_owned(), reason };
    let executable = |p: &Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        let p = dir.join(program);
        return match p.metadata() {
            Err(_) => Err(fail(format!("does not exist (looked for {})", p.display()))),
            Ok(m) if !m.is_file() => Err(fail(format!("is not a file ({})", p.display()))),
            Ok(_) if !executable(&p) => Err(fail(format!(
                "is not executable ({}); make it so with `chmod +x`, or run it through its interpreter, e.g. \
                 [\"python3\", \"{program}\", ...]",
                p.display()
            ))),
            Ok(_) => Ok(std::path::absolute(&p).unwrap_or(p)),
        };
    }
    let path = path.map(str::to_owned).or_else(|| std::env::var("PATH").ok()).unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| executable(p))
        .ok_or_else(|| fail("is not on PATH; install it, or give its path".into()))
}

/// Runs a command per architecture; see the crate documentation.
pub struct CommandEvaluator {
    space: Arc<dyn SearchSpace>,
    settings: CommandSettings,
    spec: MetricSpec,
    program: PathBuf,
    working_dir: PathBuf,
    trials_dir: PathBuf,
    next: AtomicU64,
}

impl std::fmt::Debug for CommandEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandEvaluator")
            .field("program", &self.program)
            .field("trials_dir", &self.trials_dir)
            .finish_non_exhaustive()
    }
}

/// How one attempt ended.
enum Attempt {
    Exited(std::process::ExitStatus),
    TimedOut,
}

/// A process group that is killed when this is dropped: on a timeout, on Ctrl-C (the evaluation is dropped), and
/// after the program exits (whatever it left running in its group).
struct Group(i32);

impl Drop for Group {
    fn drop(&mut self) {
        // ESRCH (the group is already gone) is the usual case after a clean exit.
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(self.0), nix::sys::signal::Signal::SIGKILL);
    }
}

impl CommandEvaluator {
    /// An evaluator of `space`'s architectures with `settings`, keeping each evaluation's files under `trials_dir`
    /// (a run's `commands/`). The program is checked now: a missing or non-executable program is an error here, not
    /// a failed trial later.
    pub fn new(
        space: Arc<dyn SearchSpace>,
        settings: Checked<CommandSettings>,
        trials_dir: impl Into<PathBuf>,
    ) -> Result<Self, CommandError> {
        let settings = settings.into_inner();
        let cwd = std::env::current_dir().map_err(|cause| CommandError::Io { path: ".".into(), cause })?;
        let working_dir = match &settings.working_dir {
            Some(d) => cwd.join(d),
            None => cwd,
        };
        if !working_dir.is_dir() {
            return Err(CommandError::Settings(format!("`working_dir` {} is not a directory", working_dir.display())));
        }
        let program =
            resolve_program(&settings.command[0], &working_dir, settings.env.get("PATH").map(String::as_str))?;
        let trials_dir = trials_dir.into();
        let trials_dir = std::path::absolute(&trials_dir).unwrap_or(trials_dir);
        std::fs::create_dir_all(&trials_dir).map_err(|cause| CommandError::Io { path: trials_dir.clone(), cause })?;
        let spec = settings.metric_spec();
        Ok(Self { space, settings, spec, program, working_dir, trials_dir, next: AtomicU64::new(0) })
    }

    /// The settings.
    pub fn command_settings(&self) -> &CommandSettings {
        &self.settings
    }

    /// Where each evaluation's directory is made.
    pub fn trials_dir(&self) -> &Path {
        &self.trials_dir
    }

    /// A fresh evaluation directory and its number: the first number whose directory does not exist yet.
    fn claim(&self) -> Result<(u64, PathBuf), EvalError> {
        std::fs::create_dir_all(&self.trials_dir)
            .map_err(|e| EvalError::Fatal(format!("cannot create {}: {e}", self.trials_dir.display())))?;
        loop {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let dir = self.trials_dir.join(n.to_string());
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok((n, dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(EvalError::Fatal(format!("cannot create {}: {e}", dir.display()))),
            }
        }
    }

    async fn attempt(
        &self,
        dir: &Path,
        args: &[String],
        env: &[(String, String)],
        k: u32,
    ) -> Result<Attempt, EvalError> {
        let suffix = if k == 0 { String::new() } else { format!(".retry{k}") };
        let open = |name: &str| {
            let path = dir.join(format!("{name}{suffix}.txt"));
            std::fs::File::create(&path).map_err(|e| EvalError::Fatal(format!("cannot create {}: {e}", path.display())))
        };
        let (stdout, stderr) = (open("stdout")?, open("stderr")?);
        let mut child = tokio::process::Command::new(&self.program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.working_dir)
            .stdin(std::process::Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| EvalError::Fatal(format!("cannot run `{}`: {e}", self.program.display())))?;
        let _group = child.id().map(|pid| Group(pid as i32));
        let wait = child.wait();
        let status = match self.settings.timeout_s {
            Some(t) => match tokio::time::timeout(Duration::from_secs_f64(t), wait).await {
                Ok(status) => status,
                Err(_) => return Ok(Attempt::TimedOut),
            },
            None => wait.await,
        };
        status.map(Attempt::Exited).map_err(|e| EvalError::Failed(format!("lost the program: {e}")))
    }

    fn stderr_tail(&self, dir: &Path, k: u32) -> String {
        let suffix = if k == 0 { String::new() } else { format!(".retry{k}") };
        let path = dir.join(format!("stderr{suffix}.txt"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = &lines[lines.len().saturating_sub(self.settings.stderr_lines)..];
        if tail.is_empty() {
            format!("standard error ({}) is empty", path.display())
        } else {
            format!("last lines of standard error ({}):\n{}", path.display(), tail.join("\n"))
        }
    }

    /// The result object: the result file, else the last JSON object line of standard output.
    fn result(&self, dir: &Path, k: u32, elapsed: f64) -> Result<Evaluation, String> {
        let file = dir.join(RESULT_FILE);
        let (object, from) = if file.exists() {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| format!("the result file {} is not JSON ({e})", file.display()))?;
            (v, file.display().to_string())
        } else {
            let suffix = if k == 0 { String::new() } else { format!(".retry{k}") };
            let out = dir.join(format!("stdout{suffix}.txt"));
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let line =
                text.lines().rev().find_map(|l| serde_json::from_str::<Value>(l.trim()).ok().filter(Value::is_object));
            let v = line.ok_or_else(|| {
                format!(
                    "the program wrote no result: no {} and no JSON object line on standard output ({})",
                    file.display(),
                    out.display()
                )
            })?;
            (v, format!("the last JSON line of {}", out.display()))
        };
        let Value::Object(map) = &object else {
            return Err(format!("the result in {from} is not a JSON object of metrics"));
        };
        let metrics_of = match map.get("metrics") {
            Some(Value::Object(m)) => m,
            Some(_) => return Err(format!("`metrics` in {from} is not an object")),
            None => map,
        };
        let mut metrics = BTreeMap::new();
        for m in &self.spec.metrics {
            let v = metrics_of.get(&m.name).ok_or_else(|| {
                let has: Vec<&str> = metrics_of.keys().map(String::as_str).filter(|k| !FACTS.contains(k)).collect();
                format!("the result in {from} lacks the metric `{}`; it has: {}", m.name, has.join(", "))
            })?;
            let x = v
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("metric `{}` in {from} is {v}, not a number", m.name))?;
            metrics.insert(m.name.clone(), x);
        }
        let number = |key: &str| map.get(key).and_then(Value::as_f64).filter(|x| x.is_finite() && *x >= 0.0);
        Ok(Evaluation {
            metrics,
            params: number("params").map(|x| x as u64),
            flops: number("flops").map(|x| x as u64),
            cost_s: Some(number("cost_s").unwrap_or(elapsed)),
            rank: None,
            details: Some(object.clone()),
        })
    }
}

#[async_trait]
impl Evaluator for CommandEvaluator {
    fn name(&self) -> &str {
        NAME
    }

    fn metrics(&self) -> &MetricSpec {
        &self.spec
    }

    async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
        let (trial, dir) = self.claim()?;
        let json = arch_json(&*self.space, arch);
        let arch_file = dir.join("arch.json");
        std::fs::write(&arch_file, serde_json::to_string_pretty(&json).expect("JSON"))
            .map_err(|e| EvalError::Fatal(format!("cannot write {}: {e}", arch_file.display())))?;
        let choices: Vec<String> = arch.choices().iter().map(u16::to_string).collect();
        let value = |name: &str| -> Option<String> {
            Some(match name {
                "arch" => self.space.format(arch),
                "arch_json" => json.to_string(),
                "arch_file" => arch_file.display().to_string(),
                "choices" => format!("[{}]", choices.join(", ")),
                "trial" => trial.to_string(),
                "seed" => self.settings.seed.to_string(),
                "result" => dir.join(RESULT_FILE).display().to_string(),
                "work_dir" => dir.display().to_string(),
                "space" => self.space.name().to_owned(),
                _ => return None,
            })
        };
        let fill = |t: &String| render(t, &value).map_err(EvalError::Fatal);
        let args: Vec<String> = self.settings.command[1..].iter().map(fill).collect::<Result<_, _>>()?;
        let env: Vec<(String, String)> =
            self.settings.env.iter().map(|(k, v)| Ok((k.clone(), fill(v)?))).collect::<Result<_, EvalError>>()?;
        let attempts = self.settings.retries + 1;
        for k in 0..attempts {
            let clock = Instant::now();
            match self.attempt(&dir, &args, &env, k).await? {
                Attempt::TimedOut => {
                    return Err(EvalError::Failed(format!(
                        "timed out after {} s (timeout_s); its process group was ended; {}",
                        self.settings.timeout_s.unwrap_or_default(),
                        self.stderr_tail(&dir, k)
                    )));
                }
                Attempt::Exited(status) if status.success() => {
                    return self
                        .result(&dir, k, clock.elapsed().as_secs_f64())
                        .map_err(|reason| EvalError::Failed(format!("{reason}; {}", self.stderr_tail(&dir, k))));
                }
                Attempt::Exited(status) if k + 1 == attempts => {
                    let tries =
                        if attempts == 1 { String::new() } else { format!(" (attempt {attempts} of {attempts})") };
                    return Err(EvalError::Failed(format!(
                        "the program failed with {status}{tries}; {}",
                        self.stderr_tail(&dir, k)
                    )));
                }
                Attempt::Exited(_) => {}
            }
        }
        unreachable!("the last attempt returns")
    }

    fn settings(&self) -> Value {
        serde_json::to_value(&self.settings).expect("settings are JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_and_unknown_ones_are_errors() {
        let v = |n: &str| Some(format!("<{n}>"));
        assert_eq!(render("--arch={arch} {{trial}} {trial}", &v).unwrap(), "--arch=<arch> {trial} <trial>");
        assert_eq!(render(r#"{"m": {"a": 1}}"#, &v).unwrap(), r#"{"m": {"a": 1}}"#);
        assert!(render("{nope}", &v).unwrap_err().contains("unknown placeholder `{nope}`"));
        // Other braces are literal: a JSON object or a shell group in an inline script.
        assert_eq!(render(r#"echo '{"acc": 1}' > {result}"#, &v).unwrap(), r#"echo '{"acc": 1}' > <result>"#);
        assert_eq!(render("{ a; } {arch", &v).unwrap(), "{ a; } {arch");
    }

    #[test]
    fn the_json_form_keeps_numbers_as_numbers() {
        let space = genius_core::testing::ToySpace::new();
        let arch = Architecture::new(vec![2, 1, 0]);
        assert_eq!(arch_json(&space, &arch), serde_json::json!({"depth": 3, "width": 16, "op": "conv"}));
    }
}
