//! The experiment file and its plan.
//!
//! An experiment is a TOML file: a `name`, the `spaces`, `seeds` and `budgets`, one `[[optimizer]]` per optimizer
//! (with its `label`, `settings`, own `budget` and `seeds`), `[[ablation]]`s varying one setting of one of them,
//! and optional `[study]`, `[evaluator]` and `[executor]` tables (see experiments/quickstart.toml), and optional
//! `objectives` (`["val_acc_200:max", "flops:min"]` for every space, or a table of such lists by space; see
//! experiments/multi-objective.toml). [`Plan::read`]
//! checks every name against the catalogs and every setting with its plug-in, naming the file and line of what is
//! wrong, before anything runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use genius_core::catalog::{Catalogs, is_space_file};
use genius_core::{DuplicatePolicy, Goal, MetricSpec, Objective, StudySettings};
use genius_report::{AblationInfo, AblationPoint, GridInfo, PlannedGroup, RunLabel, SeedSet, seed_dir};
use serde::Deserialize;
use toml::Spanned;

use crate::error::{GridError, Result};

macro_rules! experiment {
    ($($t:tt)*) => {
        GridError::Experiment(format!($($t)*))
    };
}

macro_rules! bail {
    ($($t:tt)*) => {
        return Err(experiment!($($t)*))
    };
}

/// Seeds: a count (0..N) or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

/// The objectives of the grid's runs: one list for every space, or a list per space (their metrics differ).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ObjectivesConfig {
    All(Vec<String>),
    BySpace(BTreeMap<String, Vec<String>>),
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
    name: Spanned<String>,
    #[serde(default)]
    config: Option<PathBuf>,
    #[serde(default)]
    settings: Option<toml::Table>,
}

/// How the grid's candidates are evaluated: `[evaluator]` with a `name` from the evaluator catalog (`table`, the
/// default) and its `settings`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluatorConfig {
    name: Spanned<String>,
    #[serde(default)]
    settings: Option<Spanned<toml::Table>>,
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
    /// What every run optimizes [default: the evaluator's search metric].
    #[serde(default)]
    objectives: Option<Spanned<ObjectivesConfig>>,
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

/// What the command line changes in an experiment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Run seeds 0..N instead of the file's seeds.
    pub seeds: Option<u64>,
    /// Report at this single budget instead of the file's budgets.
    pub budget: Option<usize>,
    /// The output directory instead of the file's `out` (else `runs/<name>`).
    pub out: Option<PathBuf>,
}

/// A plug-in named in the experiment with its settings (a JSON object).
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// Its name in its catalog.
    pub name: String,
    /// Its settings.
    pub settings: serde_json::Value,
}

/// One run of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// Its budget (evaluations).
    pub budget: usize,
    /// The space searched.
    pub space: String,
    /// The optimizer and its settings.
    pub optimizer: Component,
    /// How the report labels it.
    pub label: RunLabel,
    /// Its seed.
    pub seed: u64,
    /// Its run directory.
    pub dir: PathBuf,
}

/// The runs of one optimizer (or one ablation value) on one space, one per seed, each in `<dir>/seed-<seed>`: a plan
/// holds these, never a list of every run, so that a million seeds cost no more to plan than ten.
#[derive(Debug, Clone, PartialEq)]
pub struct RunGroup {
    /// Their budget (evaluations).
    pub budget: usize,
    /// The space searched.
    pub space: String,
    /// The optimizer and its settings.
    pub optimizer: Component,
    /// How the report labels them.
    pub label: RunLabel,
    /// Their seeds.
    pub seeds: SeedSet,
    /// The directory of their run directories.
    pub dir: PathBuf,
}

impl RunGroup {
    /// Its runs, one per seed, made as they are asked for.
    pub fn runs(&self) -> impl Iterator<Item = PlannedRun> + '_ {
        self.seeds.iter().map(|seed| PlannedRun {
            budget: self.budget,
            space: self.space.clone(),
            optimizer: self.optimizer.clone(),
            label: self.label.clone(),
            seed,
            dir: self.dir.join(seed_dir(seed)),
        })
    }
}

/// A checked experiment: every run, where they go, and how they run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The experiment's name.
    pub name: String,
    /// Every run, spaces × optimizers × seeds, then the ablations, as groups of seeds (see [`Plan::runs`]).
    pub groups: Vec<RunGroup>,
    /// The output directory.
    pub out: PathBuf,
    /// The grid's description for the report (its `references` left for the caller to fill).
    pub info: GridInfo,
    /// The evaluator of every run (`table` unless the file names one).
    pub evaluator: Component,
    /// The executor of every run, if any.
    pub executor: Option<Component>,
    /// The runner's settings of every run.
    pub study: StudySettings,
    /// Runs at once, as the file says.
    pub jobs: Option<usize>,
    /// The file of published results to show beside the rerun, if any (in the data directory).
    pub reference: Option<PathBuf>,
    /// The spaces read from space files, by name: the file of each (see [`Catalogs::space_file`]).
    pub space_files: BTreeMap<String, PathBuf>,
    /// The experiment file's directory: relative paths in its settings are relative to it.
    pub config_dir: PathBuf,
    /// The objectives of each space's runs, by space; a space not here optimizes its evaluator's search metric.
    pub objectives: BTreeMap<String, Vec<Goal>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn at(path: &Path, text: &str, span: std::ops::Range<usize>, message: impl std::fmt::Display) -> GridError {
    experiment!("{}, line {}: {message}", path.display(), line_of(text, span.start))
}

/// `value` with every character but ASCII letters, digits, `.` and `-` made `_`: a directory name.
pub fn slug(value: &str) -> String {
    value.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

fn toml_to_json(table: &toml::Table) -> Result<serde_json::Value> {
    serde_json::to_value(table).map_err(|e| experiment!("a table cannot be read as settings: {e}"))
}

/// An optimizer of the grid, checked: label, name, settings, budget, seeds.
struct Labelled {
    label: String,
    optimizer: Component,
    budget: usize,
    seeds: SeedSet,
}

impl Plan {
    /// Reads the experiment file at `path`.
    pub fn read(path: &Path, catalogs: &Catalogs, overrides: &Overrides) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| experiment!("cannot read {}: {e}", path.display()))?;
        Self::parse(path, &text, catalogs, overrides)
    }

    /// Reads and checks an experiment (`text`, from the file `path`, which errors name with the line): every name
    /// known to `catalogs`, every optimizer's, evaluator's and executor's settings checked by its plug-in, before
    /// anything runs. An executor's `config` file is read relative to `path`.
    pub fn parse(path: &Path, text: &str, catalogs: &Catalogs, overrides: &Overrides) -> Result<Self> {
        let config: ExperimentConfig =
            toml::from_str(text).map_err(|e| experiment!("{} is not a valid experiment: {e}", path.display()))?;
        if config.spaces.is_empty() {
            bail!("{}: `spaces` is empty", path.display());
        }
        if config.optimizers.is_empty() {
            bail!("{}: no [[optimizer]] section", path.display());
        }
        // A space is a built-in one's name or a space file's path (`*.toml`, relative to the experiment file), which
        // is read now: its name is the file's.
        let config_dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        let mut space_files = BTreeMap::new();
        let mut space_name = |s: &Spanned<String>| -> Result<String> {
            let name = s.get_ref();
            if is_space_file(name) {
                let file = config_dir.join(name);
                let (space, _) = catalogs.space_file(&file).map_err(|e| at(path, text, s.span(), e))?;
                space_files.insert(space.name().to_owned(), file);
                return Ok(space.name().to_owned());
            }
            match catalogs.spaces.get(name) {
                Some(_) => Ok(name.clone()),
                None => Err(at(
                    path,
                    text,
                    s.span(),
                    format!(
                        "unknown space `{name}`; known: {} (or a space file, path/to/space.toml)",
                        catalogs.spaces.names().join(", ")
                    ),
                )),
            }
        };
        let mut spaces = Vec::new();
        for s in &config.spaces {
            spaces.push(space_name(s)?);
        }
        let mut ablation_spaces = Vec::new();
        for a in &config.ablations {
            ablation_spaces.push(match &a.spaces {
                Some(list) => Some(list.iter().map(&mut space_name).collect::<Result<Vec<_>>>()?),
                None => None,
            });
        }
        let evaluator = match &config.evaluator {
            Some(e) => {
                let name = e.name.get_ref();
                let entry = catalogs.evaluators.get(name).ok_or_else(|| {
                    let known = catalogs.evaluators.names().join(", ");
                    at(path, text, e.name.span(), format!("unknown evaluator `{name}`; known: {known}"))
                })?;
                let settings = match &e.settings {
                    Some(s) => toml_to_json(s.get_ref())?,
                    None => serde_json::json!({}),
                };
                if let Err(err) = entry.check(settings.clone()) {
                    let span = e.settings.as_ref().map_or(e.name.span(), |s| s.span());
                    return Err(at(path, text, span, format!("[evaluator] {err}")));
                }
                Component { name: name.clone(), settings }
            }
            None => Component { name: "table".into(), settings: serde_json::json!({}) },
        };
        if catalogs.evaluators.get(&evaluator.name).is_none() {
            bail!("{}: no [evaluator] given, and there is no `table` evaluator to default to", path.display());
        }
        let executor = match &config.executor {
            Some(e) => {
                let name = e.name.get_ref();
                let entry = catalogs.executors.get(name).ok_or_else(|| {
                    let known = catalogs.executors.names().join(", ");
                    at(path, text, e.name.span(), format!("unknown executor `{name}`; known: {known}"))
                })?;
                let settings = match (&e.config, &e.settings) {
                    (Some(_), Some(_)) => {
                        bail!("{}: [executor] takes `config` or `settings`, not both", path.display())
                    }
                    (Some(file), None) => {
                        let file = path.parent().unwrap_or(Path::new(".")).join(file);
                        let text = std::fs::read_to_string(&file).map_err(|err| {
                            experiment!("{}: [executor] cannot read {}: {err}", path.display(), file.display())
                        })?;
                        let table: toml::Table = toml::from_str(&text).map_err(|err| {
                            experiment!("{}: [executor] {} is not valid TOML: {err}", path.display(), file.display())
                        })?;
                        toml_to_json(&table)?
                    }
                    (None, Some(table)) => toml_to_json(table)?,
                    (None, None) => serde_json::json!({}),
                };
                entry.check(settings.clone()).map_err(|err| experiment!("{}: [executor] {err:#}", path.display()))?;
                Some(Component { name: name.clone(), settings })
            }
            None => None,
        };
        let mut budgets = match overrides.budget {
            Some(b) => vec![b],
            None => config.budgets.clone(),
        };
        budgets.sort_unstable();
        budgets.dedup();
        if budgets.is_empty() || budgets[0] == 0 {
            bail!("{}: `budgets` must list positive evaluation counts", path.display());
        }
        let seeds = match (overrides.seeds, &config.seeds) {
            (Some(n), _) | (None, &Seeds::Count(n)) => SeedSet::Count(n),
            (None, Seeds::List(list)) => SeedSet::List(list.clone()),
        };
        if seeds.is_empty() {
            bail!("{}: no seeds to run", path.display());
        }
        let out = overrides
            .out
            .clone()
            .or_else(|| config.out.clone())
            .unwrap_or_else(|| PathBuf::from("runs").join(slug(&config.name)));

        // Every optimizer, with its label and settings, checked by its plug-in.
        let top = *budgets.last().expect("checked non-empty");
        let seeds_of = |own: &Option<Seeds>| -> SeedSet {
            match (overrides.seeds, own) {
                (Some(n), _) => SeedSet::Count(n),
                (None, Some(Seeds::Count(n))) => SeedSet::Count(*n),
                (None, Some(Seeds::List(list))) => SeedSet::List(list.clone()),
                (None, None) => seeds.clone(),
            }
        };
        let mut labelled: Vec<Labelled> = Vec::new();
        for o in &config.optimizers {
            let name = o.name.get_ref();
            let Some(entry) = catalogs.optimizers.get(name) else {
                return Err(at(
                    path,
                    text,
                    o.name.span(),
                    format!("unknown optimizer `{name}`; known: {}", catalogs.optimizers.names().join(", ")),
                ));
            };
            let settings = match &o.settings {
                Some(s) => toml_to_json(s.get_ref())?,
                None => serde_json::Value::Null,
            };
            if let Err(e) = entry.check(settings.clone()) {
                let span = o.settings.as_ref().map_or(o.name.span(), |s| s.span());
                return Err(at(path, text, span, e));
            }
            let label = o.label.clone().unwrap_or_else(|| name.clone());
            if labelled.iter().any(|l| l.label == label) {
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
            let optimizer = Component { name: name.clone(), settings };
            labelled.push(Labelled { label, optimizer, budget, seeds: seeds_of(&o.seeds) });
        }

        let mut groups = Vec::new();
        for space in &spaces {
            for l in &labelled {
                groups.push(RunGroup {
                    budget: l.budget,
                    space: space.clone(),
                    optimizer: l.optimizer.clone(),
                    label: RunLabel { optimizer: l.label.clone(), ablation: None },
                    seeds: l.seeds.clone(),
                    dir: out.join("runs").join(space).join(slug(&l.label)),
                });
            }
        }
        let mut ablations = Vec::new();
        for (a, own_spaces) in config.ablations.iter().zip(ablation_spaces) {
            let base = labelled.iter().find(|l| &l.label == a.optimizer.get_ref()).ok_or_else(|| {
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
            let ablated = own_spaces.unwrap_or_else(|| spaces.clone());
            let entry = catalogs.optimizers.find(&base.optimizer.name)?;
            let mut values = Vec::new();
            for v in a.values.get_ref() {
                let mut settings = match &base.optimizer.settings {
                    serde_json::Value::Object(m) => m.clone(),
                    _ => serde_json::Map::new(),
                };
                settings.insert(a.setting.clone(), serde_json::to_value(v).map_err(|e| experiment!("{e}"))?);
                let settings = serde_json::Value::Object(settings);
                if let Err(e) = entry.check(settings.clone()) {
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
                for space in &ablated {
                    groups.push(RunGroup {
                        budget: base.budget,
                        space: space.clone(),
                        optimizer: Component { name: base.optimizer.name.clone(), settings: settings.clone() },
                        label: RunLabel {
                            optimizer: base.label.clone(),
                            ablation: Some(AblationPoint {
                                name: a.name.clone(),
                                setting: a.setting.clone(),
                                value: value.clone(),
                            }),
                        },
                        seeds: base.seeds.clone(),
                        dir: out
                            .join("runs")
                            .join(space)
                            .join(format!("ablation-{}", slug(&a.name)))
                            .join(slug(&value)),
                    });
                }
            }
            ablations.push(AblationInfo {
                name: a.name.clone(),
                optimizer: base.label.clone(),
                setting: a.setting.clone(),
                values,
            });
        }
        let objectives = match &config.objectives {
            Some(o) => objectives(path, text, o, &config.spaces)?,
            None => BTreeMap::new(),
        };
        let study = StudySettings {
            duplicates: config.study.duplicates.unwrap_or_default(),
            batch_size: config.study.batch_size.unwrap_or(1),
            concurrency: config.study.concurrency.unwrap_or(1),
            flush: genius_core::Flush::Buffered,
            ..StudySettings::default()
        };
        study.check().map_err(|e| experiment!("{}: [study] {e}", path.display()))?;
        let info = GridInfo {
            name: config.name.clone(),
            description: config.description.clone(),
            budgets,
            spaces: spaces.clone(),
            optimizers: labelled.iter().map(|l| l.label.clone()).collect(),
            ablations,
            baseline: config.baseline.clone(),
            config: text.to_owned(),
            machine: machine(),
            versions: format!("genius {}", env!("CARGO_PKG_VERSION")),
            groups: groups
                .iter()
                .map(|g| PlannedGroup {
                    dir: g.dir.strip_prefix(&out).unwrap_or(&g.dir).to_owned(),
                    seeds: g.seeds.clone(),
                })
                .collect(),
            runs: Vec::new(),
            references: Vec::new(),
        };
        Ok(Self {
            name: config.name,
            groups,
            out,
            info,
            evaluator,
            executor,
            study,
            jobs: config.jobs,
            reference: config.reference,
            space_files,
            config_dir,
            objectives,
        })
    }

    /// The objective of `space`'s runs, checked against its evaluator's metrics `spec` (every metric known, none held
    /// out): `None` for the evaluator's default.
    pub fn objective(&self, space: &str, spec: &MetricSpec) -> Result<Option<Objective>> {
        objective_of(space, self.objectives.get(space).map(Vec::as_slice), spec)
    }

    /// The spaces of the runs, each once, in plan order.
    pub fn spaces(&self) -> Vec<&str> {
        let mut spaces: Vec<&str> = Vec::new();
        for group in &self.groups {
            if !spaces.contains(&group.space.as_str()) {
                spaces.push(&group.space);
            }
        }
        spaces
    }

    /// Every run, made as it is asked for (a plan holds groups of seeds, never a list of every run).
    pub fn runs(&self) -> impl Iterator<Item = PlannedRun> + '_ {
        self.groups.iter().flat_map(RunGroup::runs)
    }

    /// How many runs it plans.
    pub fn run_count(&self) -> u64 {
        self.groups.iter().map(|g| g.seeds.len()).sum()
    }
}

/// The `objectives` of an experiment by space, each `METRIC:max|min`, checked for syntax (the metrics are checked
/// against each space's evaluator when it is built: [`Plan::objective`]).
fn objectives(
    path: &Path,
    text: &str,
    config: &Spanned<ObjectivesConfig>,
    spaces: &[Spanned<String>],
) -> Result<BTreeMap<String, Vec<Goal>>> {
    let error = |message: String| at(path, text, config.span(), format!("`objectives`: {message}"));
    let goals = |list: &[String]| -> Result<Vec<Goal>> {
        if list.is_empty() {
            return Err(error("an empty list; give at least one METRIC:max or METRIC:min".into()));
        }
        list.iter().map(|g| g.parse::<Goal>().map_err(|e| error(e.to_string()))).collect()
    };
    let names: Vec<&String> = spaces.iter().map(Spanned::get_ref).collect();
    match config.get_ref() {
        ObjectivesConfig::All(list) => {
            let goals = goals(list)?;
            Ok(names.into_iter().map(|s| (s.clone(), goals.clone())).collect())
        }
        ObjectivesConfig::BySpace(by_space) => {
            if let Some(other) = by_space.keys().find(|k| !names.contains(k)) {
                let known = names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                return Err(error(format!("space `{other}` is not among the experiment's spaces ({known})")));
            }
            if let Some(missing) = names.iter().find(|s| !by_space.contains_key(s.as_str())) {
                return Err(error(format!(
                    "no objectives for space `{missing}`; give every space its list, or one list for all"
                )));
            }
            by_space.iter().map(|(space, list)| Ok((space.clone(), goals(list)?))).collect()
        }
    }
}

/// The objective of `space`'s runs from its `goals` (if the experiment gives any), checked against its evaluator's
/// metrics `spec`: `None` for the evaluator's default.
pub(crate) fn objective_of(space: &str, goals: Option<&[Goal]>, spec: &MetricSpec) -> Result<Option<Objective>> {
    let Some(goals) = goals else { return Ok(None) };
    Objective::goals(spec, goals.iter().cloned())
        .map(Some)
        .map_err(|e| experiment!("`objectives` of space `{space}`: {e}"))
}

/// A one-line description of this machine.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{} {}, {cpu}, {cores} core(s)", std::env::consts::OS, std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use genius_core::catalog::{BuildError, Catalogs, Entry};
    use genius_core::testing::{ToySpace, ToyTable, UniformOptimizer};
    use genius_core::{Evaluator, Optimizer, SearchSpace};

    use super::*;

    fn catalogs() -> Catalogs {
        let mut c = Catalogs::default();
        c.spaces.add([Entry::new("toy", "", |_, _| Ok(Arc::new(ToySpace::new()) as Arc<dyn SearchSpace>))]);
        for name in ["a", "b"] {
            c.optimizers.add([Entry::new(name, "", |settings, _| match &settings {
                serde_json::Value::Object(m) if !m.is_empty() => Err(BuildError::Settings("no settings".into())),
                _ => Ok(Box::new(UniformOptimizer) as Box<dyn Optimizer>),
            })]);
        }
        c.evaluators.add([Entry::new("table", "", |_, _| Ok(Arc::new(ToyTable::new()) as Arc<dyn Evaluator>))]);
        c
    }

    #[test]
    fn a_million_seeds_plan_as_groups_not_as_a_million_runs() {
        let text = "name = \"big\"\nspaces = [\"toy\"]\nseeds = 3\nbudgets = [5]\n\
                    [[optimizer]]\nname = \"a\"\n[[optimizer]]\nname = \"b\"\nseeds = [4, 9]\n";
        let overrides = Overrides { out: Some("out".into()), ..Overrides::default() };
        let plan = Plan::parse(Path::new("big.toml"), text, &catalogs(), &overrides).unwrap();
        let dirs: Vec<PathBuf> = plan.runs().map(|r| r.dir).collect();
        let expected = ["out/runs/toy/a/seed-0", "out/runs/toy/a/seed-1", "out/runs/toy/a/seed-2"]
            .into_iter()
            .chain(["out/runs/toy/b/seed-4", "out/runs/toy/b/seed-9"])
            .map(PathBuf::from)
            .collect::<Vec<_>>();
        assert_eq!(dirs, expected);
        for run in plan.runs() {
            assert!(plan.info.planned(run.dir.strip_prefix("out").unwrap()), "{}", run.dir.display());
        }

        let overrides = Overrides { seeds: Some(1_000_000), ..overrides };
        let plan = Plan::parse(Path::new("big.toml"), text, &catalogs(), &overrides).unwrap();
        assert_eq!(plan.run_count(), 2_000_000);
        assert_eq!(plan.groups.len(), 2);
        let grid_json = serde_json::to_vec(&plan.info).unwrap();
        assert!(grid_json.len() < 4096, "grid.json describes the plan, it does not list it: {} bytes", grid_json.len());
        assert!(plan.info.planned(Path::new("runs/toy/b/seed-999999")));
        assert!(!plan.info.planned(Path::new("runs/toy/b/seed-1000000")));
    }
}
