//! The command line, as clap types. Only this crate knows clap.
// These doc comments are the --help texts, where `<space>` is meant literally.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Neural architecture search with a large language model as the optimizer, head to head with classic baselines on
/// tabular benchmarks and real training.
#[derive(Debug, Parser)]
#[command(name = "genius", version, propagate_version = true, max_term_width = 100, after_help = EXIT_STATUS)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Whether the command was asked to be quiet (`--quiet`): no progress and no per-trial output.
    pub fn quiet(&self) -> bool {
        match &self.command {
            Command::Search(args) => args.progress.quiet,
            Command::Resume(args) => args.progress.quiet,
            Command::Compare(args) => args.quiet,
            _ => false,
        }
    }
}

/// The exit statuses, as `genius --help` lists them.
pub const EXIT_STATUS: &str = "Exit status:
  0    done (also when the reader of the output went away, e.g. `genius compare ... | head -1`)
  1    an error; the message says what went wrong and what to do
  2    a wrong command line (an unknown flag, a bad value); the message shows the usage
  130  stopped by Ctrl-C with the run log intact (`genius resume DIR` or the same `genius compare` continues)";

/// The subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process; boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// List the search spaces, their size, and whether their benchmark data is present.
    Spaces(SpacesArgs),
    /// List the optimizers, or one optimizer's settings (type, default, range)
    Optimizers(ListArgs),
    /// List the evaluators, or one evaluator's settings
    Evaluators(ListArgs),
    /// List the executors, or one executor's settings
    Executors(ListArgs),
    /// Run a search: the optimizer proposes, the evaluator scores, until the budget is spent.
    Search(SearchArgs),
    /// Continue an interrupted (or extend a finished) run from its run directory, re-evaluating nothing recorded.
    Resume(ResumeArgs),
    /// Download, verify and describe the benchmark tables.
    Data(crate::data_cmd::DataCommandArgs),
    /// Download and check the embedded chat model's file (the default LLM of --optimizer genius).
    Model(crate::model_cmd::ModelCommandArgs),
    /// Parse an architecture in any text form of its space; print it canonically, with its cost and table metrics.
    Arch(crate::arch_cmd::ArchArgs),
    /// Evaluate one architecture with an evaluator described in a file; what every job of --executor runs.
    Evaluate(crate::evaluate_cmd::EvaluateArgs),
    /// Compare optimizers on spaces over many seeds (and ablations) from an experiment file; resumable.
    Compare(crate::compare::CompareArgs),
    /// Write the report (summary.csv, trials.csv, report.md, plots) of a comparison from its run logs alone.
    Report(crate::compare::ReportArgs),
    /// Serve a live web view of the runs and grids below a directory: trials, curves, the model's conversation and
    /// the report's tables (read only; on 127.0.0.1 unless --host says otherwise).
    Dashboard(crate::dashboard_cmd::DashboardArgs),
    /// Print a shell completion script: e.g. `genius completions bash > ~/.local/share/bash-completion/completions/genius`.
    Completions(CompletionsArgs),
}

/// `genius completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Machine-readable output.
#[derive(Debug, Clone, Args)]
pub struct JsonArgs {
    /// Print the result as one JSON document on stdout instead of text (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// Where benchmark tables are read from.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Directory holding the benchmark tables [default: the user's cache directory, e.g. ~/.cache/genius/data].
    #[arg(long, value_name = "DIR", env = "GENIUS_DATA_DIR", hide_env_values = true)]
    pub data_dir: Option<PathBuf>,

    /// Never download a missing table; fail with the command that fetches it instead.
    #[arg(long, env = "GENIUS_OFFLINE", hide_env_values = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub offline: bool,

    /// Download missing tables from this mirror, laid out like the data directory, instead of their origins.
    #[arg(long, value_name = "URL", env = "GENIUS_DATA_URL", hide_env_values = true)]
    pub base_url: Option<String>,
}

impl DataArgs {
    /// The data directory, saying whether it came from the flag or the environment.
    pub fn resolve(&self) -> genius_spaces::data::DataDir {
        use genius_spaces::data::{DATA_DIR_ENV, DataDir};
        let from_env = std::env::var_os(DATA_DIR_ENV).map(PathBuf::from);
        match &self.data_dir {
            Some(dir) if from_env.as_ref() != Some(dir) => DataDir::new(dir),
            _ => DataDir::resolve(None),
        }
    }
}

/// Progress reporting.
#[derive(Debug, Clone, Args)]
pub struct ProgressArgs {
    /// No progress bar and no per-trial output; the result is still printed.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `genius spaces [NAME]`.
#[derive(Debug, Args)]
pub struct SpacesArgs {
    /// Print this one space: its size, its table and where it is, its settings.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: JsonArgs,
}

/// `genius optimizers | evaluators | executors [NAME]`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print this one's settings: name, type, default, allowed range and what it does.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: JsonArgs,
}

/// Whether a re-proposed architecture uses up budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Duplicates {
    /// A duplicate counts as a query (answered from the history, not re-evaluated).
    Count,
    /// A duplicate is free; the search stops if the optimizer proposes nothing new for a while.
    Free,
}

/// How eagerly the run log reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlushArg {
    /// Every trial is written out as it finishes (survives a killed process).
    Trial,
    /// Every trial is also synced to the device (survives a power cut).
    Sync,
    /// Trials are written in blocks (fastest; a trial lost to a kill is recomputed on resume).
    Buffered,
}

/// `genius search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The search space (see `genius spaces`).
    #[arg(long, value_name = "SPACE", value_parser = PossibleValuesParser::new(crate::registry::space_names()), required_unless_present = "space_file")]
    pub space: Option<String>,

    /// Search your own space, declared in a TOML file (dimensions, their descriptions for the prompt, constraints,
    /// and optionally a [table] of measured architectures), instead of a built-in one.
    #[arg(long, value_name = "FILE", conflicts_with = "space")]
    pub space_file: Option<PathBuf>,

    /// The optimizer (see `genius optimizers`).
    #[arg(long, value_name = "NAME", default_value = "random", value_parser = PossibleValuesParser::new(crate::registry::optimizer_names()))]
    pub optimizer: String,

    /// An optimizer setting, as KEY=VALUE with a TOML value (repeatable), e.g. --set without_replacement=true.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,

    /// A TOML file of optimizer settings; --set overrides its keys.
    #[arg(long, value_name = "FILE")]
    pub optimizer_config: Option<PathBuf>,

    /// Evaluations (queries) the search may spend.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive)]
    pub budget: usize,

    /// What to optimize, as METRIC:max or METRIC:min (a metric of the evaluator, or params or flops). Repeat it for
    /// a multi-objective search, whose result is a Pareto front, e.g. --objective val_acc_200:max --objective
    /// flops:min [default: the evaluator's search metric].
    #[arg(long = "objective", value_name = "METRIC:max|min", value_parser = parse_goal)]
    pub objectives: Vec<genius_core::Goal>,

    /// Also stop after this much wall-clock time, e.g. 90s, 10m, 2h.
    #[arg(long, value_name = "DURATION", value_parser = humantime_duration)]
    pub wall_time: Option<f64>,

    /// The seed of every random choice of the search.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = whole_u64)]
    pub seed: u64,

    /// The run directory [default: runs/<space>-<optimizer>-seed<seed>-<time>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Architectures proposed (and evaluated) together.
    #[arg(long, value_name = "N", default_value_t = 1, allow_negative_numbers = true, value_parser = positive)]
    pub batch_size: usize,

    /// Evaluations running at once within a batch.
    #[arg(long, value_name = "N", default_value_t = 1, allow_negative_numbers = true, value_parser = positive)]
    pub concurrency: usize,

    /// Whether re-proposing an evaluated architecture uses up budget.
    #[arg(long, value_enum, default_value_t = Duplicates::Count)]
    pub duplicates: Duplicates,

    /// How eagerly the run log reaches the disk.
    #[arg(long, value_enum, default_value_t = FlushArg::Trial)]
    pub flush: FlushArg,

    /// Run every evaluation as a job of this executor instead of in this process: `slurm` submits them to a SLURM
    /// cluster with sbatch (one job array per batch) and collects their results.
    #[arg(long, value_name = "NAME", value_parser = PossibleValuesParser::new(crate::registry::executor_names()))]
    pub executor: Option<String>,

    /// The executor's settings, a TOML file (slurm: partition, account, time_limit, cpus_per_task, gres, memory,
    /// sbatch_lines, setup, max_in_flight, retries, poll_interval_s). Jobs write their results into the run
    /// directory's jobs/, which must be on a file system the cluster's nodes share.
    #[arg(long, value_name = "FILE", requires = "executor")]
    pub executor_config: Option<PathBuf>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub llm: LlmArgs,

    /// What scores an architecture: `table` looks it up in the space's benchmark table (a space file's own
    /// [table]), `train` trains its network on a dataset (see the training options), `latency` measures its
    /// network's inference time on this machine, `command` runs your own program on it (see --command-config).
    /// Join several with + to merge their metrics, e.g. table+latency for accuracy against measured latency
    /// (--train KEY=VALUE sets a part's setting, e.g. --train runs=5).
    #[arg(long, value_name = "NAME", default_value = "table", value_parser = crate::registry::parse_evaluator)]
    pub evaluator: String,

    /// The settings of `--evaluator command`, a TOML file: command (the program and its arguments, with
    /// placeholders such as {arch_json} and {result}), env, working_dir, timeout_s, retries, seed, search, report,
    /// held_out, metrics, direction. Each evaluation's output is kept in the run directory's commands/.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataArgs,

    // Before the training options: their heading would take in whatever comes after them.
    #[command(flatten)]
    #[allow(missing_docs)]
    pub progress: ProgressArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: JsonArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub train: TrainArgs,
}

/// How candidates are trained with `--evaluator train`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Training (--evaluator train)")]
pub struct TrainArgs {
    /// The dataset to train on.
    #[arg(long, value_name = "NAME", default_value = "fashion-mnist", value_parser = ["fashion-mnist", "mnist", "cifar10"])]
    pub dataset: String,

    /// The directory holding the dataset's files [default: Debian's /usr/share/datasets/fashion-mnist for
    /// fashion-mnist where installed, else <GENIUS_DATASETS_DIR or e.g. ~/.cache/genius/datasets>/<dataset>, fetched
    /// there on first use (see `genius data fetch`)].
    #[arg(long, value_name = "DIR")]
    pub dataset_dir: Option<PathBuf>,

    /// The tensor library: burn (pure Rust) or tch (libtorch; a build with the `tch` feature).
    #[arg(long, value_name = "NAME", default_value = "burn", value_parser = ["burn", "tch"])]
    pub backend: String,

    /// The device: cpu, cuda:N or wgpu (Burn's GPU backends need the `cuda` or `wgpu` feature).
    #[arg(long, value_name = "DEVICE", default_value = "cpu")]
    pub device: String,

    /// Training epochs per candidate [default: 5].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive)]
    pub epochs: Option<usize>,

    /// Training images per candidate, a seeded subset (proxy training) [default: all but the validation images].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive)]
    pub subset: Option<usize>,

    /// Side of the square images the networks train on [default: the network's, e.g. 32].
    #[arg(long, value_name = "PIXELS", allow_negative_numbers = true, value_parser = positive)]
    pub resolution: Option<usize>,

    /// A training setting as KEY=VALUE with a TOML value (repeatable), e.g. --train learning_rate=0.1 --train
    /// optimizer=adam; the keys are those of genius_train::TrainSettings.
    #[arg(long = "train", value_name = "KEY=VALUE")]
    pub train_settings: Vec<String>,

    /// A TOML file of training settings; --train and the flags above override its keys.
    #[arg(long, value_name = "FILE")]
    pub train_config: Option<PathBuf>,
}

/// `genius resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run directory of the run to continue.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// A new evaluation budget (to extend a finished run) instead of the recorded one.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive)]
    pub budget: Option<usize>,

    /// A new wall-clock limit (over every session of the run), e.g. 2h.
    #[arg(long, value_name = "DURATION", value_parser = humantime_duration)]
    pub wall_time: Option<f64>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub progress: ProgressArgs,
}

/// The chat model of `--optimizer genius`.
#[derive(Debug, Clone, Args)]
pub struct LlmArgs {
    /// The chat model: PROVIDER[:MODEL] with a provider of openai, azure, openai-compatible or anthropic (e.g.
    /// openai:gpt-4o), local:PATH.gguf for a GGUF file run in-process, or replay:DIR to replay the genius run
    /// recorded in DIR with no network. The key is read from OPENAI_API_KEY, AZURE_OPENAI_API_KEY or
    /// ANTHROPIC_API_KEY (or the variable --set api_key_env=VAR names) and is never written anywhere [default: the
    /// embedded model with its default file, see `genius model fetch`].
    #[arg(long, value_name = "SPEC")]
    pub llm: Option<String>,

    /// The model's name, where --llm gives none (e.g. --llm openai-compatible --model llama3.1).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,

    /// The model's endpoint: required for azure (https://NAME.openai.azure.com) and openai-compatible servers (e.g.
    /// http://127.0.0.1:11434/v1 for Ollama).
    #[arg(long, value_name = "URL")]
    pub llm_base_url: Option<String>,

    /// Also stop when the model has used this many tokens (prompt and completion).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive_u64)]
    pub token_budget: Option<u64>,

    /// Also stop when the model has cost this many US dollars (it needs the model's price in dollars per million
    /// tokens: --set price.input=2.5 --set price.output=10).
    #[arg(long, value_name = "USD", allow_negative_numbers = true, value_parser = dollars)]
    pub cost_budget: Option<f64>,
}

/// A whole number of 1 or more, e.g. a budget: `-5`, `0`, `ten` and `2.5` are refused with what to write instead.
pub fn positive(s: &str) -> Result<usize, String> {
    let n = whole(s, 1)?;
    usize::try_from(n).map_err(|_| format!("{n} is too large"))
}

/// [`positive`] as a `u64`.
pub fn positive_u64(s: &str) -> Result<u64, String> {
    whole(s, 1)
}

/// A whole number of 0 or more, e.g. a seed.
pub fn whole_u64(s: &str) -> Result<u64, String> {
    whole(s, 0)
}

/// A whole number of `min` or more.
fn whole(s: &str, min: u64) -> Result<u64, String> {
    let t = s.trim();
    let wanted = format!("a whole number of {min} or more, e.g. 10");
    if let Ok(n) = t.parse::<u64>() {
        return if n >= min { Ok(n) } else { Err(format!("it is too small; write {wanted}")) };
    }
    Err(match t.parse::<f64>() {
        Ok(v) if v < 0.0 => format!("it is negative; write {wanted}"),
        Ok(v) if v.is_finite() && v.fract() != 0.0 => format!("it is not whole; write {wanted}"),
        Ok(v) if v.is_finite() && v < 1.8e19 => format!("write it without a decimal point or exponent: {wanted}"),
        Ok(_) => "it is too large".into(),
        Err(_) => format!("it is not a number; write {wanted}"),
    })
}

/// An amount of US dollars: a positive number, e.g. 2.5.
fn dollars(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("it must be a positive number of US dollars, e.g. 2.5".into()),
        Err(_) => Err("not a number; write US dollars as e.g. 2.5".into()),
    }
}

fn humantime_duration(s: &str) -> Result<f64, String> {
    humantime::parse_duration(s).map(|d| d.as_secs_f64()).map_err(|e| format!("{e} (write e.g. 90s, 10m, 2h)"))
}

/// `METRIC:max` or `METRIC:min`.
fn parse_goal(text: &str) -> Result<genius_core::Goal, String> {
    text.parse().map_err(|e: genius_core::ObjectiveError| e.to_string())
}
