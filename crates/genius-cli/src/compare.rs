//! `genius compare`: a grid of spaces × optimizers × seeds (and ablations), run in parallel, resumable, and reported
//! with genius-report; `genius report`: the report again, from the run logs alone.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use genius_core::run_log::DirLock;
use genius_core::{
    Budget, CancellationToken, DuplicatePolicy, Evaluator, Recorded, SearchSpace, StopReason, Study, StudyEvent,
    StudySettings,
};
use genius_report::{AblationInfo, AblationPoint, FAILURES_FILE, FailedRun, GRID_FILE, GridInfo, RunLabel};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use toml::Spanned;

use crate::args::DataArgs;
use crate::commands::Ended;
use crate::registry;

/// `genius compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The experiment: a TOML file (see experiments/quickstart.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Run seeds 0..N instead of the config's seeds.
    #[arg(long, value_name = "N")]
    pub seeds: Option<u64>,
    /// Report at this single budget (evaluations) instead of the config's budgets.
    #[arg(long, value_name = "N")]
    pub budget: Option<usize>,
    /// Runs at once [default: the config's `jobs`, else the number of cores].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// The output directory [default: the config's `out`, else runs/<name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataArgs,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Check the experiment (every name, setting and key) and print its plan, without running anything.
    #[arg(long)]
    pub check: bool,
    /// Stop the grid at the first failed run, without a report [default: the other runs go on, the report lists the
    /// failed ones, and the command fails at the end].
    #[arg(long)]
    pub fail_fast: bool,
}

/// `genius report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A comparison's output directory, any directory holding run directories, or one run directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Seeds: a count (0..N) or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

/// An optimizer of the grid.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptimizerConfig {
    name: Spanned<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    settings: Option<Spanned<toml::Table>>,
    /// Its own largest budget, below the grid's (an LLM optimizer run for 10 queries beside baselines run for 100).
    #[serde(default)]
    budget: Option<Spanned<usize>>,
    /// Its own seeds, instead of the grid's (fewer paid LLM runs than free baseline runs).
    #[serde(default)]
    seeds: Option<Seeds>,
}

/// An ablation: one setting of one optimizer of the grid, varied.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AblationConfig {
    name: String,
    optimizer: Spanned<String>,
    setting: String,
    values: Spanned<Vec<toml::Value>>,
    #[serde(default)]
    spaces: Option<Vec<Spanned<String>>>,
}

/// Runner settings shared by every run of the grid.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyConfig {
    #[serde(default)]
    duplicates: Option<DuplicatePolicy>,
    #[serde(default)]
    batch_size: Option<usize>,
    #[serde(default)]
    concurrency: Option<usize>,
}

/// Where the grid's evaluations run: `[executor]` with a `name` and either a `config` file (relative to the
/// experiment file) or inline `settings`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecutorConfig {
    name: String,
    #[serde(default)]
    config: Option<PathBuf>,
    #[serde(default)]
    settings: Option<toml::Table>,
}

/// How the grid's candidates are evaluated: `[evaluator]` with a `name` (`table`, the default: the space's
/// benchmark table; `train`: each candidate trained, see `registry::train_evaluator_from_settings`) and `settings`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluatorConfig {
    name: Spanned<String>,
    #[serde(default)]
    settings: Option<toml::Table>,
}

/// The experiment file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentConfig {
    name: String,
    #[serde(default)]
    description: String,
    spaces: Vec<Spanned<String>>,
    seeds: Seeds,
    budgets: Vec<usize>,
    #[serde(default)]
    jobs: Option<usize>,
    #[serde(default)]
    out: Option<PathBuf>,
    #[serde(default)]
    baseline: Option<String>,
    #[serde(default)]
    study: StudyConfig,
    #[serde(default)]
    executor: Option<ExecutorConfig>,
    #[serde(default)]
    evaluator: Option<EvaluatorConfig>,
    /// Published results to show beside the rerun: a file of the data directory (`genius-paper-results-v1.json`).
    #[serde(default)]
    reference: Option<PathBuf>,
    #[serde(default, rename = "optimizer")]
    optimizers: Vec<OptimizerConfig>,
    #[serde(default, rename = "ablation")]
    ablations: Vec<AblationConfig>,
}

/// A space and its evaluator, shared by every run on that space (`None`: each run builds its own command evaluator).
type SpaceParts = (Arc<dyn SearchSpace>, Option<Arc<dyn Evaluator>>);

/// One run of the grid.
#[derive(Debug, Clone)]
struct Planned {
    budget: usize,
    space: String,
    optimizer: String,
    settings: serde_json::Value,
    label: RunLabel,
    seed: u64,
    dir: PathBuf,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn at(path: &Path, text: &str, span: std::ops::Range<usize>, message: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{}, line {}: {message}", path.display(), line_of(text, span.start))
}

fn slug(value: &str) -> String {
    value.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

fn toml_to_json(table: &toml::Table) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(table)?)
}

/// Reads and checks an experiment file: every name known, every optimizer buildable with its settings, before
/// anything runs. Errors name the file and line.
fn plan(path: &Path, text: &str, args: &CompareArgs) -> Result<(ExperimentConfig, Vec<Planned>, PathBuf, GridInfo)> {
    let config: ExperimentConfig =
        toml::from_str(text).map_err(|e| anyhow!("{} is not a valid experiment: {e}", path.display()))?;
    if config.spaces.is_empty() {
        bail!("{}: `spaces` is empty", path.display());
    }
    if config.optimizers.is_empty() {
        bail!("{}: no [[optimizer]] section", path.display());
    }
    // A space is a built-in one's name or a space file (`*.toml`, relative to the experiment): its name is the file's.
    let space_name = |s: &Spanned<String>| -> Result<String> {
        match crate::own::experiment_space(s.get_ref(), path) {
            Ok(Some(file)) => Ok(genius_core::SearchSpace::name(&*file).to_owned()),
            Err(e) => Err(at(path, text, s.span(), format!("{e:#}"))),
            Ok(None) if registry::space(s.get_ref()).is_ok() => Ok(s.get_ref().clone()),
            Ok(None) => Err(at(
                path,
                text,
                s.span(),
                format!(
                    "unknown space `{}`; known: {} (or a space file, path/to/space.toml)",
                    s.get_ref(),
                    registry::space_names().join(", ")
                ),
            )),
        }
    };
    let mut space_names = Vec::new();
    for s in &config.spaces {
        space_names.push(space_name(s)?);
    }
    if let Some(e) = &config.evaluator {
        let name = e.name.get_ref();
        let known = [registry::TABLE_EVALUATOR, registry::TRAIN_EVALUATOR, crate::own::COMMAND_EVALUATOR];
        if !known.contains(&name.as_str()) {
            let known = known.join(", ");
            return Err(at(path, text, e.name.span(), format!("unknown evaluator `{name}`; known: {known}")));
        }
        if name == crate::own::COMMAND_EVALUATOR {
            let settings = e.settings.as_ref().map(toml_to_json).transpose()?.unwrap_or(serde_json::json!({}));
            crate::own::check_command(settings)
                .map_err(|err| at(path, text, e.name.span(), format!("[evaluator] {err:#}")))?;
        }
    }
    let mut budgets = match args.budget {
        Some(b) => vec![b],
        None => config.budgets.clone(),
    };
    budgets.sort_unstable();
    budgets.dedup();
    if budgets.is_empty() || budgets[0] == 0 {
        bail!("{}: `budgets` must list positive evaluation counts", path.display());
    }
    let seeds: Vec<u64> = match (args.seeds, &config.seeds) {
        (Some(n), _) | (None, &Seeds::Count(n)) => (0..n).collect(),
        (None, Seeds::List(list)) => list.clone(),
    };
    if seeds.is_empty() {
        bail!("{}: no seeds to run", path.display());
    }
    let out = args
        .out
        .clone()
        .or_else(|| config.out.clone())
        .unwrap_or_else(|| PathBuf::from("runs").join(slug(&config.name)));

    // Every optimizer, with its label and settings, checked by building it once.
    let top = *budgets.last().expect("checked non-empty");
    let seeds_of = |own: &Option<Seeds>| -> Vec<u64> {
        match (args.seeds, own) {
            (Some(n), _) => (0..n).collect(),
            (None, Some(Seeds::Count(n))) => (0..*n).collect(),
            (None, Some(Seeds::List(list))) => list.clone(),
            (None, None) => seeds.clone(),
        }
    };
    let mut labels: Vec<(String, String, serde_json::Value, usize, Vec<u64>)> = Vec::new();
    for o in &config.optimizers {
        let name = o.name.get_ref();
        if !registry::optimizer_names().contains(&name.as_str()) {
            return Err(at(
                path,
                text,
                o.name.span(),
                format!("unknown optimizer `{name}`; known: {}", registry::optimizer_names().join(", ")),
            ));
        }
        let settings = match &o.settings {
            Some(s) => toml_to_json(s.get_ref())?,
            None => serde_json::Value::Null,
        };
        if let Err(e) = registry::check_optimizer(name, settings.clone()) {
            let span = o.settings.as_ref().map_or(o.name.span(), |s| s.span());
            return Err(at(path, text, span, e));
        }
        let label = o.label.clone().unwrap_or_else(|| name.clone());
        if labels.iter().any(|l| l.0 == label) {
            return Err(at(
                path,
                text,
                o.name.span(),
                format!("two optimizers are labelled `{label}`; give each a distinct `label`"),
            ));
        }
        let budget = match &o.budget {
            Some(b) if *b.get_ref() == 0 || *b.get_ref() > top => {
                return Err(at(
                    path,
                    text,
                    b.span(),
                    format!("`budget` of `{label}` must be between 1 and the grid's largest budget, {top}"),
                ));
            }
            Some(b) => *b.get_ref(),
            None => top,
        };
        labels.push((label, name.clone(), settings, budget, seeds_of(&o.seeds)));
    }

    let mut runs = Vec::new();
    for space in &space_names {
        for (label, name, settings, budget, own_seeds) in &labels {
            for &seed in own_seeds {
                runs.push(Planned {
                    budget: *budget,
                    space: space.clone(),
                    optimizer: name.clone(),
                    settings: settings.clone(),
                    label: RunLabel { optimizer: label.clone(), ablation: None },
                    seed,
                    dir: out.join("runs").join(space).join(slug(label)).join(format!("seed-{seed}")),
                });
            }
        }
    }
    let mut ablations = Vec::new();
    for a in &config.ablations {
        let base = labels.iter().find(|l| &l.0 == a.optimizer.get_ref()).ok_or_else(|| {
            at(
                path,
                text,
                a.optimizer.span(),
                format!(
                    "ablation `{}` varies optimizer `{}`, which no [[optimizer]] is labelled",
                    a.name,
                    a.optimizer.get_ref()
                ),
            )
        })?;
        let spaces: Vec<String> = match &a.spaces {
            Some(list) => list.iter().map(&space_name).collect::<Result<_>>()?,
            None => space_names.clone(),
        };
        let mut values = Vec::new();
        for v in a.values.get_ref() {
            let mut settings = match &base.2 {
                serde_json::Value::Object(m) => m.clone(),
                _ => serde_json::Map::new(),
            };
            settings.insert(a.setting.clone(), serde_json::to_value(v)?);
            let settings = serde_json::Value::Object(settings);
            if let Err(e) = registry::check_optimizer(&base.1, settings.clone()) {
                return Err(at(
                    path,
                    text,
                    a.values.span(),
                    format!("ablation `{}`, {} = {v}: {e}", a.name, a.setting),
                ));
            }
            let value = match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            values.push(value.clone());
            for space in &spaces {
                for &seed in &base.4 {
                    runs.push(Planned {
                        budget: base.3,
                        space: space.clone(),
                        optimizer: base.1.clone(),
                        settings: settings.clone(),
                        label: RunLabel {
                            optimizer: base.0.clone(),
                            ablation: Some(AblationPoint {
                                name: a.name.clone(),
                                setting: a.setting.clone(),
                                value: value.clone(),
                            }),
                        },
                        seed,
                        dir: out
                            .join("runs")
                            .join(space)
                            .join(format!("ablation-{}", slug(&a.name)))
                            .join(slug(&value))
                            .join(format!("seed-{seed}")),
                    });
                }
            }
        }
        ablations.push(AblationInfo {
            name: a.name.clone(),
            optimizer: base.0.clone(),
            setting: a.setting.clone(),
            values,
        });
    }
    let info = GridInfo {
        name: config.name.clone(),
        description: config.description.clone(),
        budgets,
        spaces: space_names.clone(),
        optimizers: labels.iter().map(|l| l.0.clone()).collect(),
        ablations,
        baseline: config.baseline.clone(),
        config: text.to_owned(),
        machine: machine(),
        versions: format!("genius {}", env!("CARGO_PKG_VERSION")),
        runs: runs.iter().map(|r| r.dir.strip_prefix(&out).unwrap_or(&r.dir).to_owned()).collect(),
        references: Vec::new(),
    };
    Ok((config, runs, out, info))
}

/// A one-line description of this machine.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{} {}, {cpu}, {cores} core(s)", std::env::consts::OS, std::env::consts::ARCH)
}

/// Whether the run in `dir` has what a report at `budget` evaluations needs: that many evaluations recorded, or a
/// finish of its own (the optimizer done, the space exhausted) under a budget at least as large. A run recorded
/// beyond `budget` is never touched: the report reads its first `budget` evaluations.
fn finished(dir: &Path, budget: usize) -> bool {
    let Ok(recorded) = Recorded::read(dir) else { return false };
    recorded.evaluations() >= budget
        || recorded.summary.is_some_and(|s| {
            !matches!(s.stop, StopReason::Interrupted | StopReason::Budget { .. })
                && recorded.header.budget.evaluations.is_none_or(|planned| planned >= budget)
        })
}

/// `genius compare`.
pub async fn compare(args: &CompareArgs, out: &mut impl Write) -> Result<Ended> {
    let text =
        std::fs::read_to_string(&args.config).with_context(|| format!("cannot read {}", args.config.display()))?;
    let (config, runs, root, info) = plan(&args.config, &text, args)?;
    let executor = match &config.executor {
        Some(e) => {
            let settings = match (&e.config, &e.settings) {
                (Some(_), Some(_)) => {
                    bail!("{}: [executor] takes `config` or `settings`, not both", args.config.display())
                }
                (Some(file), None) => {
                    let file = args.config.parent().unwrap_or(Path::new(".")).join(file);
                    registry::optimizer_settings(Some(&file), &[])?
                }
                (None, Some(table)) => toml_to_json(table)?,
                (None, None) => serde_json::json!({}),
            };
            registry::check_executor(&e.name, &settings)
                .map_err(|err| anyhow!("{}: [executor] {err:#}", args.config.display()))?;
            Some((e.name.clone(), settings))
        }
        None => None,
    };
    if args.check {
        writeln!(out, "{}: valid; {} run(s) into {}", args.config.display(), runs.len(), root.display())?;
        let mut groups: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
        for r in &runs {
            let mut label = match &r.label.ablation {
                Some(a) => format!("{} [{} = {}]", r.label.optimizer, a.setting, a.value),
                None => r.label.optimizer.clone(),
            };
            if r.optimizer == genius_llm::NAME {
                // Which model, at which temperature: each seed is an independent run of it (its own calls).
                let (model, _) = genius_llm::GeniusSettings::from_json(r.settings.clone())
                    .and_then(genius_llm::GeniusSettings::resolve)?;
                let name = model.model.as_deref().map(|m| m.rsplit('/').next().unwrap_or(m)).unwrap_or_default();
                label.push_str(&format!(" ({} {name}, T={})", model.llm, model.temperature));
            }
            let g = groups.entry((r.space.clone(), label)).or_insert((0, r.budget));
            g.0 += 1;
        }
        for ((space, label), (seeds, budget)) in groups {
            writeln!(out, "  {space:<30} {label:<36} {seeds:>4} seed(s), {budget} evaluations")?;
        }
        return Ok(Ended::Done);
    }
    // Every optimizer of the plan is built once before any run starts, so that a missing API key is one error now
    // rather than a failure in every run of the grid.
    let mut built: Vec<(&str, &serde_json::Value)> = Vec::new();
    for run in &runs {
        if !built.contains(&(run.optimizer.as_str(), &run.settings)) {
            registry::optimizer(&run.optimizer, run.settings.clone(), &run.space, run.seed)
                .map_err(|e| anyhow!("{}: optimizer `{}`: {e:#}", args.config.display(), run.label.optimizer))?;
            built.push((run.optimizer.as_str(), &run.settings));
        }
    }
    // Every table of the plan before the first run starts, fetched on first use as `genius search` does.
    let evaluator_name = config.evaluator.as_ref().map_or(registry::TABLE_EVALUATOR, |e| e.name.get_ref().as_str());
    // Space files by name (and their records for the run headers); the other spaces are built-in ones.
    let mut file_spaces = BTreeMap::new();
    let listed = config.spaces.iter().chain(config.ablations.iter().flat_map(|a| a.spaces.iter().flatten()));
    for s in listed {
        if let Some(file) = crate::own::experiment_space(s.get_ref(), &args.config)? {
            file_spaces.insert(genius_core::SearchSpace::name(&*file).to_owned(), file);
        }
    }
    if evaluator_name == registry::TABLE_EVALUATOR {
        let builtin = runs.iter().map(|r| r.space.as_str()).filter(|s| !file_spaces.contains_key(*s));
        crate::data_cmd::ensure_tables(builtin, &args.data, args.quiet).await?;
    }
    // The command evaluator is built per run: each keeps its evaluations' files in its own run directory.
    let command = match &config.evaluator {
        Some(e) if evaluator_name == crate::own::COMMAND_EVALUATOR => {
            Some(e.settings.as_ref().map(toml_to_json).transpose()?.unwrap_or(serde_json::json!({})))
        }
        _ => None,
    };
    let base = args.config.parent().unwrap_or(Path::new(".")).to_owned();
    let data = args.data.resolve();
    let mut parts: BTreeMap<String, SpaceParts> = BTreeMap::new();
    for run in &runs {
        if !parts.contains_key(&run.space) {
            let built = match (file_spaces.get(&run.space), &config.evaluator) {
                (Some(file), _) if command.is_some() => (file.clone() as Arc<dyn SearchSpace>, None),
                (Some(file), _) => (file.clone() as Arc<dyn SearchSpace>, Some(crate::own::table(file)?)),
                (None, _) if command.is_some() => (registry::space(&run.space)?.space(), None),
                (None, Some(e)) if *e.name.get_ref() == registry::TRAIN_EVALUATOR => {
                    let entry = registry::space(&run.space)?;
                    let settings = e.settings.as_ref().map(toml_to_json).transpose()?.unwrap_or(serde_json::json!({}));
                    let (space, evaluator) =
                        registry::train_evaluator_from_settings(entry, settings, &args.data, args.quiet)
                            .await
                            .map_err(|err| anyhow!("{}: [evaluator] {err:#}", args.config.display()))?;
                    (space, Some(evaluator))
                }
                (None, _) => {
                    let entry = registry::space(&run.space)?;
                    let (space, evaluator) = registry::space_and_evaluator(entry, registry::TABLE_EVALUATOR, &data)?;
                    (space, Some(evaluator))
                }
            };
            parts.insert(run.space.clone(), built);
        }
    }
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    // Held until the command ends: a second `genius compare` on this grid is refused.
    let _lock = DirLock::acquire(&root)?;
    let mut info = info;
    if let Some(file) = &config.reference
        && let Some(paper) = crate::paper_reference::read(file, data.path())?
    {
        info.references = crate::paper_reference::rows(&paper, &info.spaces);
    }
    genius_core::run_log::write_json_atomically(&root.join(GRID_FILE), &info)?;

    let settings = StudySettings {
        duplicates: config.study.duplicates.unwrap_or_default(),
        batch_size: config.study.batch_size.unwrap_or(1),
        concurrency: config.study.concurrency.unwrap_or(1),
        flush: genius_core::Flush::Buffered,
        ..StudySettings::default()
    };
    settings.check().map_err(|e| anyhow!("{}: [study] {e}", args.config.display()))?;
    let todo: Vec<Planned> = runs.iter().filter(|r| !finished(&r.dir, r.budget)).cloned().collect();
    let jobs =
        args.jobs.or(config.jobs).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    writeln!(
        out,
        "compare: {} — {} run(s) ({} already done), {} job(s), budgets {:?}, output {}",
        config.name,
        runs.len(),
        runs.len() - todo.len(),
        jobs,
        info.budgets,
        root.display()
    )?;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(runs.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs  {msg}  eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_position((runs.len() - todo.len()) as u64);
    let trials = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let trigger = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            trigger.cancel();
        }
    });
    let semaphore = Arc::new(tokio::sync::Semaphore::new(jobs));
    // Cancelled by --fail-fast at the first failure: the runs in flight stop as interrupted, the queued ones never start.
    let halt = stop.child_token();
    let mut handles = Vec::new();
    for run in todo {
        let planned = run.clone();
        let (space, shared) = parts[&run.space].clone();
        let (command, base) = (command.clone(), base.clone());
        let (semaphore, stop, bar, trials, settings, executor, data) = (
            semaphore.clone(),
            halt.clone(),
            bar.clone(),
            trials.clone(),
            settings.clone(),
            executor.clone(),
            data.clone(),
        );
        let budget = Budget::evaluations(run.budget);
        let mut context = serde_json::json!({ "compare": run.label, "experiment": info.name });
        if let Some(file) = file_spaces.get(&run.space) {
            context[crate::own::CONTEXT_KEY] = crate::own::context(file);
        }
        let fail_fast = args.fail_fast.then(|| halt.clone());
        let task = tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await.expect("the semaphore is never closed");
            // Dropped on an error (`?`), it cancels the grid under --fail-fast; disarmed when the run ends cleanly.
            let fail_fast = fail_fast.map(CancellationToken::drop_guard);
            if stop.is_cancelled() {
                return Ok::<_, anyhow::Error>(false);
            }
            let optimizer = registry::optimizer(&run.optimizer, run.settings.clone(), &run.space, run.seed)?;
            let evaluator = match (shared, command) {
                (Some(evaluator), _) => evaluator,
                (None, Some(settings)) => crate::own::command_evaluator(space.clone(), settings, &run.dir, &base)?,
                (None, None) => unreachable!("only the command evaluator is built per run"),
            };
            let counter = trials.clone();
            let progress = bar.clone();
            let study = Study::new(space, evaluator.clone(), optimizer)
                .seed(run.seed)
                .budget(budget)
                .settings(settings)
                .context(context)
                .stop_on(stop)
                .observe(move |e: &StudyEvent<'_>| {
                    if let StudyEvent::Trial { replayed: false, .. } = e {
                        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
                        if n % 64 == 0 {
                            progress.set_message(format!("{n} trials"));
                        }
                    }
                });
            let study = match &executor {
                Some((name, settings)) => study.executor(registry::executor(
                    name,
                    settings.clone(),
                    &run.dir,
                    &run.space,
                    &*evaluator,
                    &data,
                )?),
                None => study,
            };
            let log = run.dir.join(genius_core::run_log::TRIALS_FILE);
            if std::fs::metadata(&log).is_ok_and(|m| m.len() == 0) {
                // Killed before its header reached the disk: nothing was recorded, start it again.
                std::fs::remove_dir_all(&run.dir).with_context(|| format!("cannot remove {}", run.dir.display()))?;
            }
            let outcome = if log.exists() {
                study.resume(Recorded::read(&run.dir)?).await
            } else {
                study.run_in(&run.dir).await
            }?;
            let done = outcome.summary.stop != StopReason::Interrupted;
            if done {
                bar.inc(1);
            }
            if let Some(guard) = fail_fast {
                guard.disarm();
            }
            Ok(done)
        });
        handles.push((planned, task));
    }
    let mut failures = Vec::new();
    let mut interrupted = false;
    for (run, task) in handles {
        match task.await.unwrap_or_else(|e| Err(anyhow!("the run panicked: {e}"))) {
            Ok(true) => {}
            Ok(false) => interrupted = true,
            Err(e) => {
                failures.push(FailedRun {
                    dir: run.dir.strip_prefix(&root).unwrap_or(&run.dir).to_owned(),
                    space: run.space,
                    label: run.label,
                    seed: run.seed,
                    reason: format!("{e:#}"),
                });
            }
        }
    }
    bar.finish_and_clear();
    if args.fail_fast
        && let Some(first) = failures.first()
    {
        bail!(
            "run {} failed: {}; the grid stopped there (--fail-fast); run the same command again to resume it",
            root.join(&first.dir).display(),
            first.reason
        );
    }
    if interrupted || stop.is_cancelled() {
        writeln!(out, "interrupted; run the same command again to resume the grid where it stopped")?;
        return Ok(Ended::Interrupted);
    }
    let failures_path = root.join(FAILURES_FILE);
    if failures.is_empty() {
        if failures_path.exists() {
            std::fs::remove_file(&failures_path)
                .with_context(|| format!("cannot remove {}", failures_path.display()))?;
        }
    } else {
        genius_core::run_log::write_json_atomically(&failures_path, &failures)?;
    }
    let ended = write_report(&root, out)?;
    if failures.is_empty() {
        return Ok(ended);
    }
    let list: Vec<String> =
        failures.iter().map(|f| format!("  {}: {}", root.join(&f.dir).display(), f.reason)).collect();
    bail!(
        "{} of {} run(s) failed; the report leaves them out and lists them under \"Failed runs\"; run the same \
         command again to retry them:\n{}",
        failures.len(),
        runs.len(),
        list.join("\n")
    )
}

/// Writes the report of `dir` and prints where it is and its main tables.
fn write_report(dir: &Path, out: &mut impl Write) -> Result<Ended> {
    let files = genius_report::write_report(dir)?;
    let text = std::fs::read_to_string(&files.report)?;
    for line in text.lines().skip(1).take_while(|l| !l.starts_with("## Configuration")) {
        if !line.starts_with("![") {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(
        out,
        "\nreport: {}\nsummary: {}\ntrials: {}",
        files.report.display(),
        files.summary.display(),
        files.trials.display()
    )?;
    Ok(Ended::Done)
}

/// `genius report`.
pub fn report(args: &ReportArgs, out: &mut impl Write) -> Result<Ended> {
    write_report(&args.dir, out)
}
