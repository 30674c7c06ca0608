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

use genius_core::catalog::{BuildContext, Catalogs, is_space_file, plain_words};
use genius_core::checked::{Check, Checked};
use genius_core::{DuplicatePolicy, Goal, MetricSpec, Objective, StudySettings};
use genius_report::{AblationInfo, AblationPoint, GridInfo, PlannedGroup, RunLabel, SeedSet, seed_dir};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::error::{GridError, Result};

macro_rules! experiment {
    ($($t:tt)*) => {
        GridError::Experiment(format!($($t)*))
    };
}

/// Seeds: a count (0..N) or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "must be a number of seeds (e.g. 10) or a list of seeds (e.g. [0, 1, 2])")]
enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

/// The objectives of the grid's runs: one list for every space, or a list per space (their metrics differ).
#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "must be a list of objectives (e.g. [\"val_acc_200:max\", \"flops:min\"]) or a table of such lists by space"
)]
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
    seeds: Option<Spanned<Seeds>>,
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

/// The top-level keys of an experiment file.
const KEYS: &[&str] = &[
    "name",
    "description",
    "spaces",
    "seeds",
    "budgets",
    "jobs",
    "out",
    "baseline",
    "study",
    "objectives",
    "executor",
    "evaluator",
    "reference",
    "optimizer",
    "ablation",
];

/// The experiment file, read key by key so that one wrong key does not hide the others: a key that is missing or
/// wrong is `None` here, its problem recorded.
#[derive(Debug, Default)]
struct ExperimentConfig {
    name: Option<String>,
    description: String,
    spaces: Option<Spanned<Vec<Spanned<String>>>>,
    seeds: Option<Spanned<Seeds>>,
    budgets: Option<Spanned<Vec<usize>>>,
    jobs: Option<Spanned<usize>>,
    out: Option<PathBuf>,
    baseline: Option<Spanned<String>>,
    study: StudyConfig,
    /// What every run optimizes [default: the evaluator's search metric].
    objectives: Option<Spanned<ObjectivesConfig>>,
    executor: Option<ExecutorConfig>,
    evaluator: Option<EvaluatorConfig>,
    /// Published results to show beside the rerun: a file of the data directory (`genius-paper-results-v1.json`).
    reference: Option<PathBuf>,
    optimizers: Vec<OptimizerConfig>,
    ablations: Vec<AblationConfig>,
    /// Whether every key could be read (a wrong `[[optimizer]]` leaves fewer in `optimizers`).
    complete: bool,
}

/// Every problem of an experiment file, each with the file and, where it has one, the line.
struct Problems<'a> {
    path: &'a Path,
    text: &'a str,
    /// Each problem with its line (`usize::MAX` for none), in the order found.
    list: Vec<(usize, String)>,
}

impl<'a> Problems<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        Self { path, text, list: Vec::new() }
    }

    /// A problem at `span` of the file (or of the whole file, with none).
    fn at(&mut self, span: Option<std::ops::Range<usize>>, message: impl std::fmt::Display) {
        let problem = match span {
            Some(span) => {
                let line = line_of(self.text, span.start);
                (line, format!("{}, line {line}: {message}", self.path.display()))
            }
            None => (usize::MAX, format!("{}: {message}", self.path.display())),
        };
        if !self.list.contains(&problem) {
            self.list.push(problem);
        }
    }

    /// A problem of a TOML error: its span and its message in plain words.
    fn toml(&mut self, what: &str, error: &toml::de::Error, fallback: std::ops::Range<usize>) {
        let message = plain_words(error.message().trim());
        let message = if what.is_empty() { message } else { format!("{what}: {message}") };
        self.at(Some(error.span().unwrap_or(fallback)), message);
    }

    /// `Ok` when there were none; else every problem, one per line.
    fn finish(mut self) -> Result<()> {
        self.list.sort_by_key(|(line, _)| *line);
        let lines: Vec<String> = self.list.into_iter().map(|(_, text)| text).collect();
        match lines.len() {
            0 => Ok(()),
            1 => Err(GridError::Experiment(lines[0].clone())),
            n => Err(experiment!("{} has {n} problems:\n{}", self.path.display(), lines.join("\n"))),
        }
    }

    fn count(&self) -> usize {
        self.list.len()
    }
}

/// `value` read as a `T`, or `None` with its problem recorded (named `what`).
fn read_as<T: serde::de::DeserializeOwned>(
    problems: &mut Problems<'_>,
    what: &str,
    value: &Spanned<DeValue<'_>>,
) -> Option<T> {
    T::deserialize(ValueDeserializer::from(value.clone())).map_err(|e| problems.toml(what, &e, value.span())).ok()
}

/// An array of tables (`[[optimizer]]`), each read on its own.
fn read_tables<T: serde::de::DeserializeOwned>(
    problems: &mut Problems<'_>,
    key: &str,
    value: &Spanned<DeValue<'_>>,
) -> (Vec<T>, bool) {
    match value.get_ref() {
        DeValue::Array(items) => {
            let mut read = Vec::new();
            let mut complete = true;
            for item in items.iter() {
                match read_as(problems, &format!("[[{key}]]"), item) {
                    Some(t) => read.push(t),
                    None => complete = false,
                }
            }
            (read, complete)
        }
        _ => {
            problems.at(Some(value.span()), format!("`{key}` must be [[{key}]] sections"));
            (Vec::new(), false)
        }
    }
}

/// "; did you mean `x`?" when one of `known` is close to `name`.
fn did_you_mean<'k>(name: &str, known: impl IntoIterator<Item = &'k str>) -> String {
    let best = known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    best.map_or_else(String::new, |(_, k)| format!("; did you mean `{k}`?"))
}

impl ExperimentConfig {
    /// Reads every key of `root` it can, recording each problem.
    fn read(root: &Spanned<DeTable<'_>>, problems: &mut Problems<'_>) -> Self {
        let mut c = Self { complete: true, ..Self::default() };
        for (key, value) in root.get_ref().iter() {
            let k: &str = key.get_ref();
            let before = problems.count();
            match k {
                "name" => c.name = read_as(problems, "`name`", value),
                "description" => c.description = read_as(problems, "`description`", value).unwrap_or_default(),
                "spaces" => c.spaces = read_as(problems, "`spaces`", value),
                "seeds" => c.seeds = read_as(problems, "`seeds`", value),
                "budgets" => c.budgets = read_as(problems, "`budgets`", value),
                "jobs" => c.jobs = read_as(problems, "`jobs`", value),
                "out" => c.out = read_as(problems, "`out`", value),
                "baseline" => c.baseline = read_as(problems, "`baseline`", value),
                "study" => c.study = read_as(problems, "[study]", value).unwrap_or_default(),
                "objectives" => c.objectives = read_as(problems, "`objectives`", value),
                "executor" => c.executor = read_as(problems, "[executor]", value),
                "evaluator" => c.evaluator = read_as(problems, "[evaluator]", value),
                "reference" => c.reference = read_as(problems, "`reference`", value),
                "optimizer" => {
                    let (read, complete) = read_tables(problems, k, value);
                    c.optimizers = read;
                    c.complete &= complete;
                }
                "ablation" => {
                    let (read, complete) = read_tables(problems, k, value);
                    c.ablations = read;
                    c.complete &= complete;
                }
                other => problems.at(
                    Some(key.span()),
                    format!(
                        "unknown field `{other}`{}; the fields are {}",
                        did_you_mean(other, KEYS.iter().copied()),
                        KEYS.join(", ")
                    ),
                ),
            }
            c.complete &= problems.count() == before;
        }
        for (key, missing, example) in [
            ("name", c.name.is_none(), "name = \"my-grid\""),
            ("spaces", c.spaces.is_none(), "spaces = [\"nas-bench-201-cifar10\"]"),
            ("seeds", c.seeds.is_none(), "seeds = 10"),
            ("budgets", c.budgets.is_none(), "budgets = [10, 50, 100]"),
        ] {
            if missing && !root.get_ref().keys().any(|k| k.get_ref() == key) {
                problems.at(None, format!("`{key}` is missing, e.g. {example}"));
            }
        }
        c
    }
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
    /// The runner's settings of every run, checked.
    pub study: Checked<StudySettings>,
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
    /// known to `catalogs`, every optimizer's, evaluator's and executor's settings checked by its plug-in, every
    /// space given what the evaluator needs (a table), the `baseline` among the optimizers: whatever would fail
    /// once the grid runs, before anything runs. The error lists every problem found, one per line. An executor's
    /// `config` file is read relative to `path`.
    pub fn parse(path: &Path, text: &str, catalogs: &Catalogs, overrides: &Overrides) -> Result<Self> {
        let mut problems = Problems::new(path, text);
        let (root, syntax) = DeTable::parse_recoverable(text);
        if !syntax.is_empty() {
            // What follows a syntax error is guesswork: report the syntax errors alone.
            for e in &syntax {
                problems.toml("not valid TOML", e, 0..0);
            }
            problems.finish()?;
            unreachable!("the syntax errors were recorded");
        }
        let config = ExperimentConfig::read(&root, &mut problems);
        let p = &mut problems;

        // Spaces.
        let no_spaces: Vec<Spanned<String>> = Vec::new();
        let spaces: &Vec<Spanned<String>> = config.spaces.as_ref().map_or(&no_spaces, |s| s.get_ref());
        if let Some(list) = &config.spaces
            && list.get_ref().is_empty()
        {
            p.at(Some(list.span()), "`spaces` is empty; name at least one (see `genius spaces`)");
        }
        // A space is a built-in one's name or a space file's path (`*.toml`, relative to the experiment file), which
        // is read now: its name is the file's.
        let config_dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        let mut space_files = BTreeMap::new();
        let space_names = catalogs.spaces.names();
        let mut space_name = |p: &mut Problems<'_>, s: &Spanned<String>| -> Option<String> {
            let name = s.get_ref();
            if is_space_file(name) {
                let file = config_dir.join(name);
                return match catalogs.space_file(&file) {
                    Ok((space, _)) => {
                        space_files.insert(space.name().to_owned(), file);
                        Some(space.name().to_owned())
                    }
                    Err(e) => {
                        p.at(Some(s.span()), e);
                        None
                    }
                };
            }
            if catalogs.spaces.get(name).is_some() {
                return Some(name.clone());
            }
            let hint = did_you_mean(name, space_names.iter().copied());
            p.at(
                Some(s.span()),
                format!(
                    "unknown space `{name}`{hint}; known: {} (or a space file, path/to/space.toml)",
                    space_names.join(", ")
                ),
            );
            None
        };
        // The known spaces, each by its name and where the file names it.
        let mut known_spaces: Vec<(String, &Spanned<String>)> = Vec::new();
        for s in spaces {
            if let Some(name) = space_name(p, s) {
                known_spaces.push((name, s));
            }
        }
        let mut ablation_spaces: Vec<Option<Vec<String>>> = Vec::new();
        for a in &config.ablations {
            ablation_spaces.push(a.spaces.as_ref().map(|list| list.iter().filter_map(|s| space_name(p, s)).collect()));
        }

        // The evaluator, and what it needs of every space.
        let evaluator = match &config.evaluator {
            Some(e) => {
                let name = e.name.get_ref();
                match catalogs.evaluators.get(name) {
                    None => {
                        let known = catalogs.evaluators.names();
                        let hint = did_you_mean(name, known.iter().copied());
                        p.at(
                            Some(e.name.span()),
                            format!("unknown evaluator `{name}`{hint}; known: {}", known.join(", ")),
                        );
                        None
                    }
                    Some(entry) => {
                        let settings = match &e.settings {
                            Some(s) => toml_to_json(s.get_ref())?,
                            None => serde_json::json!({}),
                        };
                        match entry.check(settings.clone()) {
                            Ok(()) => Some(Component { name: name.clone(), settings }),
                            Err(err) => {
                                let span = e.settings.as_ref().map_or(e.name.span(), |s| s.span());
                                p.at(Some(span), format!("[evaluator] {err}"));
                                None
                            }
                        }
                    }
                }
            }
            None if catalogs.evaluators.get("table").is_some() => {
                Some(Component { name: "table".into(), settings: serde_json::json!({}) })
            }
            None => {
                p.at(None, "no [evaluator] given, and there is no `table` evaluator to default to");
                None
            }
        };
        if let Some(evaluator) = &evaluator {
            let entry = catalogs.evaluators.find(&evaluator.name)?;
            for (name, s) in &known_spaces {
                if space_files.contains_key(name) {
                    continue; // a space file's table is read with the file: it is there
                }
                let context = BuildContext::new(name, 0, Path::new("."));
                if let Err(err) = entry.resources(&evaluator.settings, &context) {
                    let fix = if config.evaluator.is_none() { " (no [evaluator] is given: it is `table`)" } else { "" };
                    p.at(Some(s.span()), format!("{err}{fix}"));
                }
            }
        }

        // The executor.
        let executor = match &config.executor {
            Some(e) => {
                let name = e.name.get_ref();
                let settings = match (&e.config, &e.settings) {
                    (Some(_), Some(_)) => {
                        p.at(Some(e.name.span()), "[executor] takes `config` or `settings`, not both");
                        None
                    }
                    (Some(file), None) => {
                        let file = path.parent().unwrap_or(Path::new(".")).join(file);
                        match std::fs::read_to_string(&file) {
                            Err(err) => {
                                p.at(Some(e.name.span()), format!("[executor] cannot read {}: {err}", file.display()));
                                None
                            }
                            Ok(text) => match toml::from_str::<toml::Table>(&text) {
                                Ok(table) => Some(toml_to_json(&table)?),
                                Err(err) => {
                                    let at = err
                                        .span()
                                        .map_or(String::new(), |s| format!(", line {}", line_of(&text, s.start)));
                                    let message = plain_words(err.message().trim());
                                    p.at(Some(e.name.span()), format!("[executor] {}{at}: {message}", file.display()));
                                    None
                                }
                            },
                        }
                    }
                    (None, Some(table)) => Some(toml_to_json(table)?),
                    (None, None) => Some(serde_json::json!({})),
                };
                match catalogs.executors.get(name) {
                    None => {
                        let known = catalogs.executors.names();
                        let hint = did_you_mean(name, known.iter().copied());
                        p.at(
                            Some(e.name.span()),
                            format!("unknown executor `{name}`{hint}; known: {}", known.join(", ")),
                        );
                        None
                    }
                    Some(entry) => settings.and_then(|settings| match entry.check(settings.clone()) {
                        Ok(()) => Some(Component { name: name.clone(), settings }),
                        Err(err) => {
                            p.at(Some(e.name.span()), format!("[executor] {err:#}"));
                            None
                        }
                    }),
                }
            }
            None => None,
        };

        // Budgets, seeds, jobs.
        let mut budgets = match (overrides.budget, &config.budgets) {
            (Some(b), _) => vec![b],
            (None, Some(b)) => b.get_ref().clone(),
            (None, None) => Vec::new(),
        };
        budgets.sort_unstable();
        budgets.dedup();
        if let Some(b) = &config.budgets
            && overrides.budget.is_none()
            && (budgets.is_empty() || budgets[0] == 0)
        {
            p.at(Some(b.span()), "`budgets` must list evaluation counts of 1 or more, e.g. budgets = [10, 50, 100]");
        }
        let seeds_of = |p: &mut Problems<'_>, given: &Option<Spanned<Seeds>>, fallback: SeedSet| -> SeedSet {
            let seeds = match (overrides.seeds, given) {
                (Some(n), _) => SeedSet::Count(n),
                (None, Some(s)) => match s.get_ref() {
                    Seeds::Count(n) => SeedSet::Count(*n),
                    Seeds::List(list) => SeedSet::List(list.clone()),
                },
                (None, None) => fallback,
            };
            if seeds.is_empty()
                && let Some(s) = given
            {
                p.at(Some(s.span()), "no seeds to run: give a count of 1 or more or a list of seeds");
            }
            seeds
        };
        let seeds = seeds_of(p, &config.seeds, SeedSet::List(Vec::new()));
        if overrides.seeds == Some(0) {
            p.at(None, "no seeds to run (--seeds 0)");
        }
        if let Some(jobs) = &config.jobs
            && *jobs.get_ref() == 0
        {
            p.at(Some(jobs.span()), "`jobs` must be 1 or more (runs at once)");
        }
        let out = overrides
            .out
            .clone()
            .or_else(|| config.out.clone())
            .unwrap_or_else(|| PathBuf::from("runs").join(slug(config.name.as_deref().unwrap_or("grid"))));

        // Every optimizer, with its label and settings, checked by its plug-in.
        let top = budgets.last().copied().unwrap_or(0);
        let mut labelled: Vec<Labelled> = Vec::new();
        let mut labels: Vec<String> = Vec::new();
        for o in &config.optimizers {
            let name = o.name.get_ref();
            let label = o.label.clone().unwrap_or_else(|| name.clone());
            if labels.contains(&label) {
                p.at(
                    Some(o.name.span()),
                    format!("two optimizers are labelled `{label}`; give each a distinct `label`"),
                );
            }
            labels.push(label.clone());
            let Some(entry) = catalogs.optimizers.get(name) else {
                let known = catalogs.optimizers.names();
                let hint = did_you_mean(name, known.iter().copied());
                p.at(Some(o.name.span()), format!("unknown optimizer `{name}`{hint}; known: {}", known.join(", ")));
                continue;
            };
            let settings = match &o.settings {
                Some(s) => toml_to_json(s.get_ref())?,
                None => serde_json::Value::Null,
            };
            if let Err(e) = entry.check(settings.clone()) {
                let span = o.settings.as_ref().map_or(o.name.span(), |s| s.span());
                p.at(Some(span), e);
                continue;
            }
            let budget = match &o.budget {
                Some(b) if top > 0 && (*b.get_ref() == 0 || *b.get_ref() > top) => {
                    let message =
                        format!("`budget` of `{label}` must be between 1 and the grid's largest budget, {top}");
                    p.at(Some(b.span()), message);
                    continue;
                }
                Some(b) => *b.get_ref(),
                None => top,
            };
            let optimizer = Component { name: name.clone(), settings };
            let seeds = seeds_of(p, &o.seeds, seeds.clone());
            labelled.push(Labelled { label, optimizer, budget, seeds });
        }
        if config.optimizers.is_empty() && config.complete {
            p.at(
                None,
                "no [[optimizer]] section: add one, e.g. [[optimizer]] name = \"random\" (see `genius optimizers`)",
            );
        }
        if let Some(baseline) = &config.baseline
            && !labels.contains(baseline.get_ref())
        {
            let b = baseline.get_ref();
            let hint = did_you_mean(b, labels.iter().map(String::as_str));
            p.at(
                Some(baseline.span()),
                format!(
                    "`baseline` is `{b}`, which no [[optimizer]] is labelled{hint} (the report would have no \
                     significance table); the labels are: {}",
                    labels.join(", ")
                ),
            );
        }

        let space_list: Vec<String> = known_spaces.iter().map(|(name, _)| name.clone()).collect();
        let mut groups = Vec::new();
        for space in &space_list {
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
            let Some(base) = labelled.iter().find(|l| &l.label == a.optimizer.get_ref()) else {
                if !labels.contains(a.optimizer.get_ref()) {
                    let hint = did_you_mean(a.optimizer.get_ref(), labels.iter().map(String::as_str));
                    p.at(
                        Some(a.optimizer.span()),
                        format!(
                            "ablation `{}` varies optimizer `{}`, which no [[optimizer]] is labelled{hint}",
                            a.name,
                            a.optimizer.get_ref()
                        ),
                    );
                }
                continue;
            };
            let ablated = own_spaces.unwrap_or_else(|| space_list.clone());
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
                    p.at(Some(a.values.span()), format!("ablation `{}`, {} = {v}: {e}", a.name, a.setting));
                    continue;
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
            Some(o) => objectives(p, o, &known_spaces),
            None => BTreeMap::new(),
        };
        let study = StudySettings {
            duplicates: config.study.duplicates.unwrap_or_default(),
            batch_size: config.study.batch_size.unwrap_or(1),
            concurrency: config.study.concurrency.unwrap_or(1),
            flush: genius_core::Flush::Buffered,
            ..StudySettings::default()
        };
        let study = study
            .check()
            .map_err(|e| {
                let span = root.get_ref().iter().find(|(k, _)| k.get_ref() == "study").map(|(k, _)| k.span());
                p.at(span, format!("[study] {e}"));
            })
            .ok();
        problems.finish()?;
        let (Some(name), Some(evaluator), Some(study)) = (config.name, evaluator, study) else {
            unreachable!("a missing name, a missing evaluator or bad study settings is a problem reported above")
        };
        let info = GridInfo {
            name: name.clone(),
            description: config.description.clone(),
            budgets,
            spaces: space_list,
            optimizers: labelled.iter().map(|l| l.label.clone()).collect(),
            ablations,
            baseline: config.baseline.map(Spanned::into_inner),
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
            random_phases: BTreeMap::new(),
        };
        Ok(Self {
            name,
            groups,
            out,
            info,
            evaluator,
            executor,
            study,
            jobs: config.jobs.map(Spanned::into_inner),
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
/// against each space's evaluator when it is built: [`Plan::objective`]). `spaces` are the known spaces by name, each
/// with how the file names it (a space file by its path); a table of lists may use either.
fn objectives(
    p: &mut Problems<'_>,
    config: &Spanned<ObjectivesConfig>,
    spaces: &[(String, &Spanned<String>)],
) -> BTreeMap<String, Vec<Goal>> {
    let mut error = |message: String| p.at(Some(config.span()), format!("`objectives`: {message}"));
    let mut goals = |list: &[String]| -> Option<Vec<Goal>> {
        if list.is_empty() {
            error("an empty list; give at least one METRIC:max or METRIC:min".into());
            return None;
        }
        let parsed: Result<Vec<Goal>, _> = list.iter().map(|g| g.parse::<Goal>()).collect();
        parsed.map_err(|e| error(e.to_string())).ok()
    };
    match config.get_ref() {
        ObjectivesConfig::All(list) => match goals(list) {
            Some(goals) => spaces.iter().map(|(name, _)| (name.clone(), goals.clone())).collect(),
            None => BTreeMap::new(),
        },
        ObjectivesConfig::BySpace(by_space) => {
            let mut read = BTreeMap::new();
            let mut problems = Vec::new();
            for (key, list) in by_space {
                match spaces.iter().find(|(name, given)| name == key || given.get_ref() == key) {
                    Some((name, _)) => {
                        if let Some(goals) = goals(list) {
                            read.insert(name.clone(), goals);
                        }
                    }
                    None => {
                        let known: Vec<&str> = spaces.iter().map(|(name, _)| name.as_str()).collect();
                        problems
                            .push(format!("space `{key}` is not among the experiment's spaces ({})", known.join(", ")));
                    }
                }
            }
            for (name, given) in spaces {
                if !by_space.contains_key(name) && !by_space.contains_key(given.get_ref()) {
                    problems.push(format!(
                        "no objectives for space `{name}`; give every space its list, or one list for all"
                    ));
                }
            }
            for message in problems {
                error(message);
            }
            read
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
