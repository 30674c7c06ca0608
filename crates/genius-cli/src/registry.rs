//! Builds the parts of a study from their names and settings: the one place that sees every plug-in crate.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use genius_core::executor::Executor;
use genius_core::{Evaluator, Optimizer, SearchSpace};
use genius_spaces::catalog::{self as spaces, SpaceEntry};
use genius_spaces::data::DataDir;

/// The evaluator name of table look-ups.
pub const TABLE_EVALUATOR: &str = "table";

/// The evaluator name of real training (genius-train).
pub const TRAIN_EVALUATOR: &str = genius_train::evaluator::NAME;

/// The names of every space, for `--space`.
pub fn space_names() -> Vec<&'static str> {
    spaces::spaces().iter().map(|s| s.name).collect()
}

/// The names of every optimizer of every optimizer crate, for `--optimizer`.
pub fn optimizer_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = genius_baselines::catalog::optimizers().iter().map(|o| o.name).collect();
    names.push(genius_llm::NAME);
    names
}

/// The space called `name`.
pub fn space(name: &str) -> Result<&'static SpaceEntry> {
    spaces::find(name).ok_or_else(|| anyhow!("unknown space `{name}`; known spaces: {}", spaces::names()))
}

/// The space and evaluator of a search: for now, the space's benchmark table.
pub fn space_and_evaluator(
    entry: &SpaceEntry,
    evaluator: &str,
    data: &DataDir,
) -> Result<(Arc<dyn SearchSpace>, Arc<dyn Evaluator>)> {
    if evaluator != TABLE_EVALUATOR {
        bail!("unknown evaluator `{evaluator}`; known evaluators: {TABLE_EVALUATOR}, {TRAIN_EVALUATOR}");
    }
    let table = entry
        .load_table(data)
        .ok_or_else(|| anyhow!("space `{}` has no benchmark table to look architectures up in", entry.name))??;
    let space = table.space().clone();
    Ok((space, Arc::new(table)))
}

/// The space of `entry` and a training evaluator for it, as the `--evaluator train` flags say. The training seed is
/// the search's `seed` unless the settings give one. Once the flags are checked, a dataset missing from its cache is
/// fetched on first use (unless `--offline`).
pub async fn train_evaluator(
    entry: &SpaceEntry,
    args: &crate::args::TrainArgs,
    seed: u64,
    data: &crate::args::DataArgs,
    quiet: bool,
) -> Result<(Arc<dyn SearchSpace>, Arc<dyn Evaluator>)> {
    let mut settings = optimizer_settings(args.train_config.as_deref(), &args.train_settings)?;
    let object = settings.as_object_mut().expect("settings are a table");
    for (key, value) in [("epochs", args.epochs), ("subset", args.subset), ("resolution", args.resolution)] {
        if let Some(v) = value {
            object.insert(key.into(), v.into());
        }
    }
    object.entry("seed").or_insert(seed.into());
    let train = genius_train::TrainSettings::from_json(settings).context("training settings (--train)")?;
    let dataset: genius_train::DatasetKind = args.dataset.parse()?;
    let (backend, device) = (args.backend.parse()?, args.device.parse()?);
    let dataset_dir = crate::data_cmd::ensure_dataset(dataset, args.dataset_dir.as_deref(), data, quiet).await?;
    train_evaluator_of(entry, genius_train::TrainConfig { dataset, dataset_dir, backend, device, train })
}

/// The training evaluator an experiment file's `[evaluator] name = "train"` describes: `dataset`, `dataset_dir`,
/// `backend` and `device` as the search flags of the same names, every other key a training setting (`epochs`,
/// `subset`, `resolution`, `seed`, ...; `seed` defaults to 0: every run of the grid trains a design alike).
pub async fn train_evaluator_from_settings(
    entry: &SpaceEntry,
    mut settings: serde_json::Value,
    data: &crate::args::DataArgs,
    quiet: bool,
) -> Result<(Arc<dyn SearchSpace>, Arc<dyn Evaluator>)> {
    let object = settings.as_object_mut().ok_or_else(|| anyhow!("[evaluator] settings must be a table"))?;
    let mut take = |key: &str, default: &str| -> Result<String> {
        match object.remove(key) {
            None => Ok(default.to_owned()),
            Some(serde_json::Value::String(s)) => Ok(s),
            Some(other) => bail!("[evaluator] {key} must be a string, not {other}"),
        }
    };
    let dataset: genius_train::DatasetKind = take("dataset", "fashion-mnist")?.parse()?;
    let backend = take("backend", "burn")?.parse()?;
    let device = take("device", "cpu")?.parse()?;
    let explicit = take("dataset_dir", "")?;
    object.entry("seed").or_insert(0.into());
    let train = genius_train::TrainSettings::from_json(settings).context("[evaluator] training settings")?;
    let explicit = (!explicit.is_empty()).then(|| std::path::PathBuf::from(explicit));
    let dataset_dir = crate::data_cmd::ensure_dataset(dataset, explicit.as_deref(), data, quiet).await?;
    train_evaluator_of(entry, genius_train::TrainConfig { dataset, dataset_dir, backend, device, train })
}

fn train_evaluator_of(
    entry: &SpaceEntry,
    config: genius_train::TrainConfig,
) -> Result<(Arc<dyn SearchSpace>, Arc<dyn Evaluator>)> {
    let space = entry.space();
    let evaluator = genius_train::TrainEvaluator::new(space.clone(), config)
        .with_context(|| format!("cannot train networks of `{}`", entry.name))?;
    Ok((space, Arc::new(evaluator)))
}

/// The space of `entry` and the training evaluator a run header recorded (its `evaluator.settings`).
pub fn recorded_train_evaluator(
    entry: &SpaceEntry,
    settings: &serde_json::Value,
) -> Result<(Arc<dyn SearchSpace>, Arc<dyn Evaluator>)> {
    let space = entry.space();
    let evaluator = genius_train::TrainEvaluator::from_settings(space.clone(), settings.clone())
        .context("cannot rebuild the run's training evaluator")?;
    Ok((space, Arc::new(evaluator)))
}

/// The executor name of SLURM jobs (genius-slurm).
pub const SLURM_EXECUTOR: &str = genius_slurm::NAME;

/// The executor `name` with `settings` (its configuration file's keys), for a run in `run_dir` on `space`: its jobs
/// run `genius evaluate` (this very program) with the evaluator written to `run_dir/jobs/evaluator.toml`.
pub fn executor(
    name: &str,
    settings: serde_json::Value,
    run_dir: &Path,
    space: &str,
    evaluator: &dyn Evaluator,
    data: &DataDir,
) -> Result<Arc<dyn Executor>> {
    let settings = executor_settings(name, &settings)?;
    let job_dir = std::path::absolute(run_dir.join("jobs"))
        .with_context(|| format!("cannot make {} absolute", run_dir.display()))?;
    std::fs::create_dir_all(&job_dir).with_context(|| format!("cannot create {}", job_dir.display()))?;
    let config_path = job_dir.join(crate::evaluate_cmd::EVALUATOR_FILE);
    crate::evaluate_cmd::EvaluatorConfig::of(evaluator, data)?.write(&config_path)?;
    let program = std::env::current_exe().context("cannot find this program's path for the jobs to run")?;
    let command = vec![
        program.to_str().ok_or_else(|| anyhow!("{} is not valid UTF-8", program.display()))?.to_owned(),
        "evaluate".into(),
        "--space".into(),
        space.into(),
        "--evaluator".into(),
        config_path.to_str().ok_or_else(|| anyhow!("{} is not valid UTF-8", config_path.display()))?.to_owned(),
    ];
    let worker = genius_slurm::Worker { command, job_dir };
    Ok(Arc::new(genius_slurm::SlurmExecutor::new(settings, worker)?))
}

/// Checks an executor's name and settings before any run uses them.
pub fn check_executor(name: &str, settings: &serde_json::Value) -> Result<()> {
    executor_settings(name, settings).map(drop)
}

/// The settings of executor `name`, read and checked.
fn executor_settings(name: &str, settings: &serde_json::Value) -> Result<genius_slurm::SlurmSettings> {
    if name != SLURM_EXECUTOR {
        bail!("unknown executor `{name}`; known executors: {SLURM_EXECUTOR}");
    }
    Ok(genius_slurm::SlurmSettings::from_json(settings.clone())?)
}

/// The executor a run header recorded, for a resume: it polls the jobs the run submitted.
pub fn recorded_executor(component: &genius_core::run_log::Component) -> Result<Arc<dyn Executor>> {
    if component.name != SLURM_EXECUTOR {
        bail!("the run used executor `{}`, which this genius does not know", component.name);
    }
    Ok(Arc::new(genius_slurm::SlurmExecutor::from_recorded(component.settings.clone())?))
}

/// The optimizer called `name`, built from `settings`, for the run searching `space` with `seed` (an LLM
/// optimizer's response cache answers re-runs of that run only).
pub fn optimizer(name: &str, settings: serde_json::Value, space: &str, seed: u64) -> Result<Box<dyn Optimizer>> {
    if name == genius_llm::NAME {
        let run = genius_llm::RunScope { space: space.to_owned(), seed };
        return Ok(genius_llm::build(settings, None, &run)?);
    }
    let entry = genius_baselines::catalog::find(name).ok_or_else(|| {
        anyhow!("unknown optimizer `{name}`; known optimizers: {}", genius_baselines::catalog::names())
    })?;
    Ok(entry.build(settings)?)
}

/// Checks that optimizer `name` builds from `settings`, without reading a key or connecting to anything: a plan
/// (`genius compare --check`) can be checked on a machine with no key.
pub fn check_optimizer(name: &str, settings: serde_json::Value) -> Result<()> {
    if name == genius_llm::NAME {
        genius_llm::GeniusSettings::from_json(settings).and_then(genius_llm::GeniusSettings::resolve)?;
        return Ok(());
    }
    optimizer(name, settings, "", 0).map(drop)
}

/// The optimizer of the recorded run `recorded`, for a resume: an LLM optimizer answers the asks it replays from the
/// run's own transcript, so that a resume pays for no model call twice.
pub fn resumed_optimizer(
    name: &str,
    settings: serde_json::Value,
    recorded: &genius_core::Recorded,
) -> Result<Box<dyn Optimizer>> {
    let (space, seed) = (&recorded.header.space, recorded.header.seed);
    if name == genius_llm::NAME {
        let origin = recorded.dir.display().to_string();
        let run = genius_llm::RunScope { space: space.clone(), seed };
        return Ok(genius_llm::build(settings, Some((&origin, &recorded.events)), &run)?);
    }
    optimizer(name, settings, space, seed)
}

/// A search's optimizer settings with its chat-model flags laid over them (only `--optimizer genius` takes them);
/// checks that a replay searches the space it recorded and that a money budget has a price to count with.
pub fn llm_settings(
    args: &crate::args::SearchArgs,
    space_name: &str,
    settings: serde_json::Value,
) -> Result<serde_json::Value> {
    let llm = &args.llm;
    if args.optimizer != genius_llm::NAME {
        let given = llm.llm.is_some() || llm.model.is_some() || llm.llm_base_url.is_some();
        if given || llm.token_budget.is_some() || llm.cost_budget.is_some() {
            bail!("--llm, --model, --llm-base-url, --token-budget and --cost-budget are for --optimizer genius");
        }
        return Ok(settings);
    }
    let flags =
        genius_llm::flags::settings(llm.llm.as_deref(), llm.model.as_deref(), llm.llm_base_url.as_deref(), settings)?;
    if let Some(space) = &flags.space
        && space != space_name
    {
        bail!(
            "--llm {}: that run searched `{space}`, not `{space_name}`; replay it with --space {space}",
            llm.llm.as_deref().unwrap_or_default(),
        );
    }
    if llm.cost_budget.is_some() && flags.settings.get("price").is_none() {
        bail!(
            "--cost-budget needs the model's price, in US dollars per million tokens: e.g. --set price.input=2.5 \
             --set price.output=10"
        );
    }
    Ok(flags.settings)
}

/// Optimizer settings from a TOML file and `KEY=VALUE` overrides (values in TOML syntax), as a JSON object.
pub fn optimizer_settings(file: Option<&Path>, overrides: &[String]) -> Result<serde_json::Value> {
    let mut table = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str::<toml::Table>(&text).with_context(|| format!("{} is not valid TOML", path.display()))?
        }
        None => toml::Table::new(),
    };
    for item in overrides {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| anyhow!("--set `{item}` is not KEY=VALUE (e.g. --set without_replacement=true)"))?;
        let key = key.trim();
        let parsed: toml::Table = toml::from_str(&format!("v = {}", value.trim()))
            .or_else(|_| toml::from_str(&format!("v = {:?}", value.trim())))
            .with_context(|| format!("--set {key}: `{value}` is not a TOML value"))?;
        table.insert(key.to_owned(), parsed["v"].clone());
    }
    Ok(serde_json::to_value(table)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_are_typed_as_toml() {
        let v = optimizer_settings(None, &["a=true".into(), "b = 3".into(), "c=0.5".into(), "d=tournament".into()])
            .unwrap();
        assert_eq!(v, serde_json::json!({"a": true, "b": 3, "c": 0.5, "d": "tournament"}));
        let err = optimizer_settings(None, &["nonsense".into()]).unwrap_err();
        assert!(err.to_string().contains("is not KEY=VALUE"));
    }

    #[test]
    fn unknown_settings_name_the_optimizer_and_field() {
        let err = optimizer("random", serde_json::json!({"pop": 3}), "toy", 0).err().unwrap();
        assert!(err.to_string().contains("random: unknown field `pop`"), "{err}");
    }
}
