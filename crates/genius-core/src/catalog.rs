//! One catalog shape for every kind of plug-in: spaces, optimizers, evaluators and executors.
//!
//! An [`Entry`] is a name, a one-line summary, the documentation of its settings ([`Setting`]: name, type, default,
//! allowed range, one line of doc) and a build function from settings (JSON, from a TOML file or `--set`) plus a
//! [`BuildContext`] (the data directory, the space, the recorded run on a resume, the job directory of an executor).
//! Each plug-in crate exports its entries; a program lists them into a [`Catalogs`] and looks every part up by name.
//! The ranges declared in a [`Setting`] are the ones [`check_settings`] enforces, so what `genius optimizers NAME`
//! prints is what validation checks.
//!
//! ```
//! use genius_core::catalog::{BuildContext, Catalog, Entry, Optimizers, Range, Setting, SettingKind};
//! use genius_core::testing::UniformOptimizer;
//!
//! static SETTINGS: &[Setting] = &[Setting::new("width", SettingKind::Integer, "4", "how wide").range(Range::at_least(1.0))];
//! let catalog = Catalog::<Optimizers>::with([Entry::new("uniform", "uniform proposals", |settings, _| {
//!     genius_core::catalog::check_settings("uniform", SETTINGS, &settings)?;
//!     Ok(Box::new(UniformOptimizer) as Box<dyn genius_core::Optimizer>)
//! })
//! .with_settings(SETTINGS)]);
//! let entry = catalog.find("uniform").unwrap();
//! let context = BuildContext::new("toy", 0, std::path::Path::new("data"));
//! assert!(entry.build(serde_json::json!({"width": 8}), &context).is_ok());
//! let err = entry.build(serde_json::json!({"width": 0}), &context).err().unwrap();
//! assert_eq!(err.to_string(), "uniform: `width` must be at least 1 (got 0)");
//! assert!(catalog.find("nope").unwrap_err().to_string().contains("known optimizers: uniform"));
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::executor::Executor;
use crate::{Evaluator, Optimizer, OptimizerError, Recorded, SearchSpace};

/// The type of a setting, for its documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingKind {
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// A string.
    Text,
    /// A file or directory path.
    Path,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A table of keys.
    Table,
    /// A list.
    List,
}

impl fmt::Display for SettingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool => f.write_str("bool"),
            Self::Integer => f.write_str("integer"),
            Self::Number => f.write_str("number"),
            Self::Text => f.write_str("string"),
            Self::Path => f.write_str("path"),
            Self::OneOf(values) => f.write_str(&values.join("|")),
            Self::Table => f.write_str("table"),
            Self::List => f.write_str("list"),
        }
    }
}

/// One end of a [`Range`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// The value itself is allowed.
    Inclusive(f64),
    /// Only values beyond it are allowed.
    Exclusive(f64),
}

/// The values a numeric setting may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// Any value of its type.
    Any,
    /// From `low` on.
    AtLeast(Bound),
    /// Between `low` and `high`.
    Between(Bound, Bound),
}

impl Range {
    /// `value >= low`.
    pub const fn at_least(low: f64) -> Self {
        Self::AtLeast(Bound::Inclusive(low))
    }

    /// `low <= value <= high`.
    pub const fn between(low: f64, high: f64) -> Self {
        Self::Between(Bound::Inclusive(low), Bound::Inclusive(high))
    }

    /// Whether `value` (finite) is allowed.
    pub fn contains(&self, value: f64) -> bool {
        let above = |b: &Bound| match *b {
            Bound::Inclusive(l) => value >= l,
            Bound::Exclusive(l) => value > l,
        };
        let below = |b: &Bound| match *b {
            Bound::Inclusive(h) => value <= h,
            Bound::Exclusive(h) => value < h,
        };
        match self {
            Self::Any => true,
            Self::AtLeast(low) => value.is_finite() && above(low),
            Self::Between(low, high) => value.is_finite() && above(low) && below(high),
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::AtLeast(Bound::Inclusive(l)) => write!(f, ">= {}", number(*l)),
            Self::AtLeast(Bound::Exclusive(l)) => write!(f, "> {}", number(*l)),
            Self::Between(low, high) => {
                let (open, l) = match low {
                    Bound::Inclusive(l) => ('[', l),
                    Bound::Exclusive(l) => ('(', l),
                };
                let (close, h) = match high {
                    Bound::Inclusive(h) => (']', h),
                    Bound::Exclusive(h) => (')', h),
                };
                write!(f, "{open}{}, {}{close}", number(*l), number(*h))
            }
        }
    }
}

/// A bound as a person writes it: `0.5`, `1000000`, `2.2e-308` (never three hundred digits).
pub fn number(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-4..1e15).contains(&a) { format!("{v}") } else { format!("{v:e}") }
}

impl Range {
    /// The allowed values in words, e.g. "greater than 0 and at most 1", "at least 1".
    pub fn words(&self) -> String {
        let low = |b: &Bound| match *b {
            Bound::Inclusive(l) => format!("at least {}", number(l)),
            Bound::Exclusive(l) => format!("greater than {}", number(l)),
        };
        let high = |b: &Bound| match *b {
            Bound::Inclusive(h) => format!("at most {}", number(h)),
            Bound::Exclusive(h) => format!("less than {}", number(h)),
        };
        match self {
            Self::Any => "any value".into(),
            Self::AtLeast(l) => low(l),
            Self::Between(Bound::Inclusive(l), Bound::Inclusive(h)) => {
                format!("between {} and {}", number(*l), number(*h))
            }
            Self::Between(l, h) => format!("{} and {}", low(l), high(h)),
        }
    }
}

/// The documentation of one setting: what `genius optimizers NAME` prints, and the range [`check_settings`] enforces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    /// Its key.
    pub name: &'static str,
    /// Its type.
    pub kind: SettingKind,
    /// Its default, as written in TOML (`""` when it has none).
    pub default: &'static str,
    /// The values allowed.
    pub range: Range,
    /// One line on what it does.
    pub doc: &'static str,
}

impl Setting {
    /// A setting of any value of its type.
    pub const fn new(name: &'static str, kind: SettingKind, default: &'static str, doc: &'static str) -> Self {
        Self { name, kind, default, range: Range::Any, doc }
    }

    /// The same setting, limited to `range`.
    pub const fn range(self, range: Range) -> Self {
        Self { range, ..self }
    }

    /// Checks a value of this setting against its range: `Err` says "`name` must be ... (got ...)".
    pub fn check(&self, value: &serde_json::Value) -> Result<(), String> {
        let name = self.name;
        let numeric = matches!(self.kind, SettingKind::Integer | SettingKind::Number);
        if numeric && value.is_null() && self.range != Range::Any {
            // serde_json writes NaN and the infinities as null.
            return Err(format!("`{name}` must be a finite number, {} (got {value})", self.range.words()));
        }
        let Some(number) = value.as_f64() else { return Ok(()) };
        if self.range.contains(number) {
            return Ok(());
        }
        Err(format!("`{name}` must be {} (got {value})", self.range.words()))
    }
}

/// Checks every setting of `settings` (a JSON object; `null` for the defaults) that `documented` declares against
/// its declared range; the error names the plug-in and the setting. Unknown keys and wrong types are left to the
/// plug-in's own parsing (serde's `deny_unknown_fields`).
pub fn check_settings(plugin: &str, documented: &[Setting], settings: &serde_json::Value) -> Result<(), BuildError> {
    let Some(object) = settings.as_object() else { return Ok(()) };
    for setting in documented {
        if let Some(value) = object.get(setting.name) {
            setting.check(value).map_err(|e| BuildError::Settings(format!("{plugin}: {e}")))?;
        }
    }
    Ok(())
}

/// A serde message in a user's words: "invalid type: string \".001\", expected f64" becomes "expected a number, got
/// the text \".001\"", "expected usize" "expected a whole number (0 or more)". Other text is kept as it is.
///
/// ```
/// use genius_core::catalog::plain_words;
/// assert_eq!(plain_words("invalid type: string \"x\", expected f64"), "expected a number, got the text \"x\"");
/// assert_eq!(plain_words("invalid value: integer `-5`, expected usize"), "expected a whole number (0 or more), got -5");
/// ```
pub fn plain_words(message: &str) -> String {
    message.lines().map(plain_line).collect::<Vec<_>>().join("\n")
}

fn plain_line(line: &str) -> String {
    const TYPES: &[(&str, &str)] = &[
        ("usize", "a whole number (0 or more)"),
        ("u64", "a whole number (0 or more)"),
        ("u32", "a whole number (0 or more)"),
        ("u16", "a whole number (0 or more)"),
        ("u8", "a whole number (0 or more)"),
        ("isize", "a whole number"),
        ("i64", "a whole number"),
        ("i32", "a whole number"),
        ("f64", "a number"),
        ("f32", "a number"),
        ("a sequence", "a list"),
        ("a map", "a table"),
    ];
    let expected = |text: &str| -> String {
        for (rust, plain) in TYPES {
            if let Some(rest) = text.strip_prefix(rust)
                && !rest.starts_with(|c: char| c.is_ascii_alphanumeric())
            {
                return format!("{plain}{rest}");
            }
        }
        text.to_owned()
    };
    let got = |kind: &str| -> String {
        let quoted = |prefix: &str| kind.strip_prefix(prefix).map(|v| v.trim_matches('`').to_owned());
        if let Some(v) = kind.strip_prefix("string ") {
            format!("the text {v}")
        } else if let Some(v) = quoted("integer ").or_else(|| quoted("floating point ")).or_else(|| quoted("boolean "))
        {
            v
        } else {
            match kind {
                "sequence" => "a list".into(),
                "map" => "a table".into(),
                other => other.to_owned(),
            }
        }
    };
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(at) = line.find(prefix) {
            let rest = &line[at + prefix.len()..];
            if let Some((kind, wanted)) = rest.split_once(", expected ") {
                return format!("{}expected {}, got {}", &line[..at], expected(wanted), got(kind));
            }
        }
    }
    match line.find("expected ") {
        Some(at) => format!("{}expected {}", &line[..at], expected(&line[at + "expected ".len()..])),
        None => line.to_owned(),
    }
}

/// Why a part could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No entry of that name: the message lists the names there are.
    #[error("unknown {kind} `{name}`; known {plural}: {known}")]
    Unknown {
        /// The kind, e.g. `optimizer`.
        kind: &'static str,
        /// Its plural, e.g. `optimizers`.
        plural: &'static str,
        /// The name asked for.
        name: String,
        /// The names there are, comma-separated.
        known: String,
    },
    /// Invalid settings (the message names the plug-in and the setting).
    #[error("{0}")]
    Settings(String),
    /// The settings are fine but the part cannot be built here (a missing table, key or device).
    #[error("{0}")]
    Failed(String),
}

impl BuildError {
    /// The same error with a settings message in a user's words (see [`plain_words`]).
    pub fn plain(self) -> Self {
        match self {
            Self::Settings(m) => Self::Settings(plain_words(&m)),
            other => other,
        }
    }
}

impl From<OptimizerError> for BuildError {
    fn from(e: OptimizerError) -> Self {
        match e {
            OptimizerError::Settings(m) => Self::Settings(m),
            other => Self::Failed(other.to_string()),
        }
    }
}

/// Something a part needs on disk before it is built, which the program fetches on first use (it holds the
/// downloaders; plug-in crates do no network IO while building).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resource {
    /// The benchmark table of the space called `space`, in the data directory.
    Table {
        /// The space.
        space: String,
    },
    /// A training dataset, by name (e.g. `fashion-mnist`), in the dataset cache or in `dir` when given.
    Dataset {
        /// Its name.
        name: String,
        /// The directory given for it, if any.
        dir: Option<PathBuf>,
    },
}

/// How the jobs of an executor run an evaluation: the directory they share and the command of one evaluation (the
/// program appends nothing: the executor adds the architecture and where to write the result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSetup {
    /// The job directory (absolute, created).
    pub dir: PathBuf,
    /// The worker's command line, e.g. `genius evaluate --space S --evaluator DIR/evaluator.toml`.
    pub command: Vec<String>,
}

/// What a build may need besides its settings.
#[derive(Clone, Copy)]
pub struct BuildContext<'a> {
    /// The name of the space searched.
    pub space_name: &'a str,
    /// The run's seed (an evaluator's default training seed, an LLM optimizer's response-cache scope).
    pub seed: u64,
    /// The data directory (benchmark tables).
    pub data_dir: &'a Path,
    /// The space, for an evaluator or an executor.
    pub space: Option<&'a Arc<dyn SearchSpace>>,
    /// The recorded run, on a resume.
    pub recorded: Option<&'a Recorded>,
    /// The evaluator, for an executor (its jobs rebuild it).
    pub evaluator: Option<&'a Arc<dyn Evaluator>>,
    /// Where an executor's jobs run.
    pub jobs: Option<&'a JobSetup>,
    /// The run's directory, for an evaluator that keeps files per run (see [`Entry::with_per_run`]).
    pub run_dir: Option<&'a Path>,
    /// The directory that relative paths in the settings are relative to (an experiment file's) [default: the
    /// current directory].
    pub config_dir: Option<&'a Path>,
}

impl fmt::Debug for BuildContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildContext")
            .field("space_name", &self.space_name)
            .field("seed", &self.seed)
            .field("data_dir", &self.data_dir)
            .field("resume", &self.recorded.is_some())
            .field("jobs", &self.jobs)
            .field("run_dir", &self.run_dir)
            .field("config_dir", &self.config_dir)
            .finish_non_exhaustive()
    }
}

impl<'a> BuildContext<'a> {
    /// A context for a run on `space_name` with `seed`, reading tables from `data_dir`.
    pub fn new(space_name: &'a str, seed: u64, data_dir: &'a Path) -> Self {
        Self {
            space_name,
            seed,
            data_dir,
            space: None,
            recorded: None,
            evaluator: None,
            jobs: None,
            run_dir: None,
            config_dir: None,
        }
    }

    /// With the run's directory (for an evaluator built per run).
    pub fn with_run_dir(self, run_dir: &'a Path) -> Self {
        Self { run_dir: Some(run_dir), ..self }
    }

    /// With the directory that relative paths in the settings are relative to.
    pub fn with_config_dir(self, config_dir: &'a Path) -> Self {
        Self { config_dir: Some(config_dir), ..self }
    }

    /// With the space (for an evaluator).
    pub fn with_space(self, space: &'a Arc<dyn SearchSpace>) -> Self {
        Self { space: Some(space), ..self }
    }

    /// With the recorded run (a resume).
    pub fn with_recorded(self, recorded: &'a Recorded) -> Self {
        Self { recorded: Some(recorded), ..self }
    }

    /// With the evaluator and the job setup (for an executor).
    pub fn with_jobs(self, evaluator: &'a Arc<dyn Evaluator>, jobs: &'a JobSetup) -> Self {
        Self { evaluator: Some(evaluator), jobs: Some(jobs), ..self }
    }

    /// The space, or an error saying that `plugin` needs one.
    pub fn space(&self, plugin: &str) -> Result<&'a Arc<dyn SearchSpace>, BuildError> {
        self.space.ok_or_else(|| BuildError::Failed(format!("{plugin} is built for a space; none was given")))
    }
}

/// A kind of plug-in: what its entries build.
pub trait Kind: 'static {
    /// What an entry builds.
    type Built;
    /// The kind's name in messages, e.g. `optimizer`.
    const NOUN: &'static str;
    /// Its plural.
    const PLURAL: &'static str;
}

/// Search spaces.
#[derive(Debug)]
pub enum Spaces {}
/// Optimizers.
#[derive(Debug)]
pub enum Optimizers {}
/// Evaluators.
#[derive(Debug)]
pub enum Evaluators {}
/// Executors.
#[derive(Debug)]
pub enum Executors {}

impl Kind for Spaces {
    type Built = Arc<dyn SearchSpace>;
    const NOUN: &'static str = "space";
    const PLURAL: &'static str = "spaces";
}
impl Kind for Optimizers {
    type Built = Box<dyn Optimizer>;
    const NOUN: &'static str = "optimizer";
    const PLURAL: &'static str = "optimizers";
}
impl Kind for Evaluators {
    type Built = Arc<dyn Evaluator>;
    const NOUN: &'static str = "evaluator";
    const PLURAL: &'static str = "evaluators";
}
impl Kind for Executors {
    type Built = Arc<dyn Executor>;
    const NOUN: &'static str = "executor";
    const PLURAL: &'static str = "executors";
}

type BuildFn<K> = dyn Fn(serde_json::Value, &BuildContext<'_>) -> Result<<K as Kind>::Built, BuildError> + Send + Sync;
type CheckFn = dyn Fn(serde_json::Value) -> Result<(), BuildError> + Send + Sync;
type ResourcesFn = dyn Fn(&serde_json::Value, &BuildContext<'_>) -> Result<Vec<Resource>, BuildError> + Send + Sync;
type DescribeFn = dyn Fn(&serde_json::Value) -> Option<String> + Send + Sync;
type WarningsFn = dyn Fn(&serde_json::Value) -> Vec<String> + Send + Sync;

/// One plug-in of kind `K`: its name, summary, settings and how to build it.
pub struct Entry<K: Kind> {
    /// Its name on the command line and in experiment files.
    pub name: String,
    /// One line on what it is.
    pub summary: String,
    /// Its settings.
    pub settings: &'static [Setting],
    build: Arc<BuildFn<K>>,
    check: Option<Arc<CheckFn>>,
    resources: Option<Arc<ResourcesFn>>,
    describe: Option<Arc<DescribeFn>>,
    per_run: bool,
    warnings: Option<Arc<WarningsFn>>,
}

impl<K: Kind> Clone for Entry<K> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            summary: self.summary.clone(),
            settings: self.settings,
            build: self.build.clone(),
            check: self.check.clone(),
            resources: self.resources.clone(),
            describe: self.describe.clone(),
            per_run: self.per_run,
            warnings: self.warnings.clone(),
        }
    }
}

impl<K: Kind> fmt::Debug for Entry<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry").field("kind", &K::NOUN).field("name", &self.name).finish_non_exhaustive()
    }
}

impl<K: Kind> Entry<K> {
    /// An entry with no settings.
    pub fn new(
        name: impl Into<String>,
        summary: impl Into<String>,
        build: impl Fn(serde_json::Value, &BuildContext<'_>) -> Result<K::Built, BuildError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            summary: summary.into(),
            settings: &[],
            build: Arc::new(build),
            check: None,
            resources: None,
            describe: None,
            per_run: false,
            warnings: None,
        }
    }

    /// Built once per run rather than once per space of a grid: it keeps files in the run's directory (the
    /// context's [`BuildContext::run_dir`]).
    pub fn with_per_run(self) -> Self {
        Self { per_run: true, ..self }
    }

    /// Whether it is built once per run (see [`Entry::with_per_run`]).
    pub fn per_run(&self) -> bool {
        self.per_run
    }

    /// With its settings' documentation.
    pub fn with_settings(self, settings: &'static [Setting]) -> Self {
        Self { settings, ..self }
    }

    /// With a check of settings that needs no context and touches nothing (no key read, no file opened), for a
    /// plan checked on a machine that cannot run it. Without one, [`Entry::check`] checks the declared ranges.
    pub fn with_check(
        self,
        check: impl Fn(serde_json::Value) -> Result<(), BuildError> + Send + Sync + 'static,
    ) -> Self {
        Self { check: Some(Arc::new(check)), ..self }
    }

    /// With the resources it needs before it is built (see [`Resource`]).
    pub fn with_resources(
        self,
        resources: impl Fn(&serde_json::Value, &BuildContext<'_>) -> Result<Vec<Resource>, BuildError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self { resources: Some(Arc::new(resources)), ..self }
    }

    /// With a short description of what given settings make of it, for a plan (e.g. which model at which
    /// temperature).
    pub fn with_describe(
        self,
        describe: impl Fn(&serde_json::Value) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self { describe: Some(Arc::new(describe)), ..self }
    }

    /// With what would stop a build on this machine though the settings are valid (an API key not in the
    /// environment, a model file not downloaded): a plan checked here warns of them rather than failing, since it
    /// may run elsewhere. The function reads the environment and the disk only, never the network.
    pub fn with_warnings(self, warnings: impl Fn(&serde_json::Value) -> Vec<String> + Send + Sync + 'static) -> Self {
        Self { warnings: Some(Arc::new(warnings)), ..self }
    }

    /// What would stop a build of `settings` here (see [`Entry::with_warnings`]); empty when nothing would.
    pub fn warnings(&self, settings: &serde_json::Value) -> Vec<String> {
        self.warnings.as_ref().map_or_else(Vec::new, |w| w(settings))
    }

    /// Builds it from `settings` (a JSON object; `null` or `{}` for the defaults).
    pub fn build(&self, settings: serde_json::Value, context: &BuildContext<'_>) -> Result<K::Built, BuildError> {
        (self.build)(settings, context).map_err(BuildError::plain)
    }

    /// Checks `settings` without building anything.
    pub fn check(&self, settings: serde_json::Value) -> Result<(), BuildError> {
        match &self.check {
            Some(check) => check(settings),
            None => check_settings(&self.name, self.settings, &settings),
        }
        .map_err(BuildError::plain)
    }

    /// What it needs on disk before [`Entry::build`].
    pub fn resources(
        &self,
        settings: &serde_json::Value,
        context: &BuildContext<'_>,
    ) -> Result<Vec<Resource>, BuildError> {
        match &self.resources {
            Some(resources) => resources(settings, context),
            None => Ok(Vec::new()),
        }
    }

    /// A short description of what `settings` make of it, if it has one.
    pub fn describe(&self, settings: &serde_json::Value) -> Option<String> {
        self.describe.as_ref().and_then(|d| d(settings))
    }
}

/// Every entry of one kind, in listing order.
pub struct Catalog<K: Kind> {
    entries: Vec<Entry<K>>,
}

impl<K: Kind> Clone for Catalog<K> {
    fn clone(&self) -> Self {
        Self { entries: self.entries.clone() }
    }
}

impl<K: Kind> fmt::Debug for Catalog<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog").field("kind", &K::PLURAL).field("names", &self.names()).finish()
    }
}

impl<K: Kind> Default for Catalog<K> {
    fn default() -> Self {
        Self { entries: Vec::new() }
    }
}

impl<K: Kind> Catalog<K> {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// A catalog of `entries`.
    ///
    /// # Panics
    /// When two entries share a name (a programming error of the crates listed).
    pub fn with(entries: impl IntoIterator<Item = Entry<K>>) -> Self {
        let mut catalog = Self::new();
        catalog.add(entries);
        catalog
    }

    /// Adds `entries` after those there are.
    ///
    /// # Panics
    /// When an entry's name is taken (a programming error of the crates listed).
    pub fn add(&mut self, entries: impl IntoIterator<Item = Entry<K>>) -> &mut Self {
        for entry in entries {
            assert!(self.get(&entry.name).is_none(), "two {} are named `{}`", K::PLURAL, entry.name);
            self.entries.push(entry);
        }
        self
    }

    /// Every entry, in listing order.
    pub fn entries(&self) -> &[Entry<K>] {
        &self.entries
    }

    /// The entry called `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&Entry<K>> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The entry called `name`, or an error listing the names there are.
    pub fn find(&self, name: &str) -> Result<&Entry<K>, BuildError> {
        self.get(name).ok_or_else(|| BuildError::Unknown {
            kind: K::NOUN,
            plural: K::PLURAL,
            name: name.to_owned(),
            known: self.names().join(", "),
        })
    }

    /// The names, in listing order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// Builds the entry called `name`.
    pub fn build(
        &self,
        name: &str,
        settings: serde_json::Value,
        context: &BuildContext<'_>,
    ) -> Result<K::Built, BuildError> {
        self.find(name)?.build(settings, context)
    }
}

/// The catalogs of all four kinds: everything a program can build by name.
#[derive(Debug, Clone, Default)]
pub struct Catalogs {
    /// Search spaces.
    pub spaces: Catalog<Spaces>,
    /// Optimizers.
    pub optimizers: Catalog<Optimizers>,
    /// Evaluators.
    pub evaluators: Catalog<Evaluators>,
    /// Executors.
    pub executors: Catalog<Executors>,
    /// How a space is read from a file (`--space-file`, a `.toml` path among an experiment's spaces), if this
    /// program reads space files.
    pub space_files: Option<SpaceFileFn>,
}

/// A space from a file: its path (for messages and the paths it names) and its text.
pub type SpaceFileFn = fn(&Path, &str) -> Result<Arc<dyn SearchSpace>, BuildError>;

/// The key of a run header's context that records the space file the run searched (its absolute path and text), so
/// that a resume rebuilds the very space even where the file has changed or moved.
pub const SPACE_FILE_CONTEXT: &str = "space_file";

/// Whether a space's name on the command line or in an experiment is a space file's path rather than a name.
pub fn is_space_file(name: &str) -> bool {
    name.ends_with(".toml")
}

impl Catalogs {
    /// The space in the file at `path`, and its record for a run header's context (under [`SPACE_FILE_CONTEXT`]).
    pub fn space_file(&self, path: &Path) -> Result<(Arc<dyn SearchSpace>, serde_json::Value), BuildError> {
        let read = self
            .space_files
            .ok_or_else(|| BuildError::Failed(format!("{}: this program reads no space files", path.display())))?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| BuildError::Failed(format!("cannot read the space file {}: {e}", path.display())))?;
        let space = read(path, &text)?;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        Ok((space, serde_json::json!({ "path": absolute, "text": text })))
    }

    /// The space a run searched: the space file its header's context records, or the space of its name.
    pub fn recorded_space(&self, header: &crate::RunHeader) -> Result<Arc<dyn SearchSpace>, BuildError> {
        let Some(record) = header.context.get(SPACE_FILE_CONTEXT) else {
            let context = BuildContext::new(&header.space, header.seed, Path::new("."));
            return self.spaces.build(&header.space, serde_json::Value::Null, &context);
        };
        let field = |key: &str| {
            record[key].as_str().ok_or_else(|| {
                BuildError::Failed(format!("the run header's `{SPACE_FILE_CONTEXT}` has no `{key}`; is it damaged?"))
            })
        };
        let path = field("path")?;
        let read = self.space_files.ok_or_else(|| {
            BuildError::Failed(format!("the run searched the space file {path}; this program reads no space files"))
        })?;
        read(Path::new(path), field("text")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_check_and_print_as_declared() {
        let s = Setting::new("gamma", SettingKind::Number, "0.1", "fraction")
            .range(Range::Between(Bound::Exclusive(0.0), Bound::Inclusive(1.0)));
        assert_eq!(s.range.to_string(), "(0, 1]");
        assert!(s.check(&serde_json::json!(0.5)).is_ok());
        assert!(s.check(&serde_json::json!(1)).is_ok());
        let err = s.check(&serde_json::json!(0.0)).unwrap_err();
        assert_eq!(err, "`gamma` must be greater than 0 and at most 1 (got 0.0)");
        // serde_json writes NaN as null.
        let err = s.check(&serde_json::json!(f64::NAN)).unwrap_err();
        assert_eq!(err, "`gamma` must be a finite number, greater than 0 and at most 1 (got null)");
        // A bound a person reads at a glance, never 300 digits.
        let tiny = Setting::new("eps", SettingKind::Number, "", "").range(Range::between(f64::MIN_POSITIVE, 1e300));
        assert_eq!(tiny.range.to_string(), "[2.2250738585072014e-308, 1e300]");
        assert_eq!(Range::between(0.0, 1e6).words(), "between 0 and 1000000");
        assert_eq!(Range::Between(Bound::Inclusive(0.0), Bound::Exclusive(1.0)).words(), "at least 0 and less than 1");
        let n = Setting::new("n", SettingKind::Integer, "10", "count").range(Range::at_least(1.0));
        assert_eq!(n.range.to_string(), ">= 1");
        assert_eq!(n.check(&serde_json::json!(0)).unwrap_err(), "`n` must be at least 1 (got 0)");
        // Not a number: the plug-in's own parsing says what is wrong.
        assert!(n.check(&serde_json::json!("many")).is_ok());
    }

    #[test]
    fn serde_messages_read_in_plain_words() {
        assert_eq!(
            plain_words("invalid type: floating point `0.5`, expected usize"),
            "expected a whole number (0 or more), got 0.5"
        );
        assert_eq!(
            plain_words("tpe: invalid type: sequence, expected u64"),
            "tpe: expected a whole number (0 or more), got a list"
        );
        assert_eq!(plain_words("invalid type: boolean `true`, expected a string"), "expected a string, got true");
        assert_eq!(plain_words("unknown field `pop`, expected one of `a`"), "unknown field `pop`, expected one of `a`");
        assert_eq!(plain_words("expected u8 or u64"), "expected a whole number (0 or more) or u64");
    }

    #[test]
    fn a_catalog_finds_by_name_and_lists_the_names_it_has() {
        let catalog = Catalog::<Spaces>::with([Entry::new("toy", "a toy", |_, _| {
            Ok(Arc::new(crate::testing::ToySpace::new()) as Arc<dyn SearchSpace>)
        })]);
        let context = BuildContext::new("toy", 0, Path::new("."));
        assert_eq!(catalog.build("toy", serde_json::Value::Null, &context).unwrap().name(), "toy");
        let err = catalog.find("nope").unwrap_err().to_string();
        assert_eq!(err, "unknown space `nope`; known spaces: toy");
    }

    #[test]
    #[should_panic(expected = "two spaces are named `toy`")]
    fn two_entries_of_one_name_are_refused() {
        let entry = Entry::<Spaces>::new("toy", "", |_, _| Err(BuildError::Failed("unused".into())));
        Catalog::with([entry.clone(), entry]);
    }
}
