//! The catalogs of every plug-in crate, listed once, and the few steps around a build that need this program: the
//! settings files and flags, fetching what a part needs on first use, and the job setup of an executor.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, anyhow, bail};
use genius_core::catalog::{BuildContext, Catalogs, JobSetup};
use genius_core::executor::Executor;
use genius_core::{Evaluator, Optimizer, Recorded, SearchSpace};

use crate::args::DataArgs;

/// Every space, optimizer, evaluator and executor this program knows: each plug-in crate's catalog, listed here
/// and nowhere else.
pub fn catalogs() -> &'static Catalogs {
    static CATALOGS: OnceLock<Catalogs> = OnceLock::new();
    CATALOGS.get_or_init(|| {
        let mut c = Catalogs::default();
        c.spaces.add(genius_spaces::catalog::entries());
        c.optimizers.add(genius_baselines::catalog::entries());
        c.optimizers.add(genius_llm::catalog::entries());
        c.evaluators.add(genius_spaces::catalog::evaluators());
        c.evaluators.add(genius_train::catalog::entries());
        c.evaluators.add(genius_command::catalog::entries());
        // Listed after the evaluators it combines: it builds its parts from them.
        let combine = genius_core::combine::entry(c.evaluators.clone());
        c.evaluators.add([combine]);
        c.space_files = Some(genius_spaces::catalog::space_file);
        c.executors.add(genius_slurm::catalog::entries());
        c
    })
}

/// The names of every space, for `--space`.
pub fn space_names() -> Vec<&'static str> {
    catalogs().spaces.names()
}

/// The names of every optimizer, for `--optimizer`.
pub fn optimizer_names() -> Vec<&'static str> {
    catalogs().optimizers.names()
}

/// The names of every evaluator, for `--evaluator`.
pub fn evaluator_names() -> Vec<&'static str> {
    catalogs().evaluators.names()
}

/// Checks `--evaluator`: one evaluator's name, or several joined by `+` (combined, the first leading: e.g.
/// `table+latency` takes accuracy from the table and measures latency).
pub fn parse_evaluator(spec: &str) -> Result<String, String> {
    let known = evaluator_names();
    for name in spec.split('+') {
        if !known.contains(&name) {
            return Err(format!("unknown evaluator `{name}`; known: {} (join several with +)", known.join(", ")));
        }
        if name == genius_core::combine::NAME && spec != name {
            return Err(format!("`{name}` is what + makes; join the evaluators themselves, e.g. table+latency"));
        }
    }
    Ok(spec.to_owned())
}

/// The evaluator `--evaluator` names and its settings: one evaluator (see [`evaluator_settings`]), or several
/// joined by `+`, combined (genius-core's `combine`). A combination's `--train KEY=VALUE` (and the training flags
/// given) go to every part that has a setting of that name, e.g. `--evaluator table+latency --train runs=5`.
pub fn evaluator_choice(
    spec: &str,
    args: &crate::args::TrainArgs,
    command_config: Option<&Path>,
) -> Result<(String, serde_json::Value)> {
    let names: Vec<&str> = spec.split('+').collect();
    if names.len() == 1 {
        return Ok((spec.to_owned(), evaluator_settings(spec, args, command_config)?));
    }
    if command_config.is_some() {
        bail!("--command-config is for --evaluator {} alone", genius_command::NAME);
    }
    let entries = names.iter().map(|n| catalogs().evaluators.find(n)).collect::<Result<Vec<_>, _>>()?;
    let mut given = optimizer_settings(args.train_config.as_deref(), &args.train_settings)?;
    let object = given.as_object_mut().expect("settings are a table");
    let dataset_dir = args.dataset_dir.as_ref().map(|d| d.display().to_string());
    let flags: [(&str, Option<serde_json::Value>); 7] = [
        ("dataset", (args.dataset != "fashion-mnist").then(|| args.dataset.clone().into())),
        ("dataset_dir", dataset_dir.map(Into::into)),
        ("backend", (args.backend != "burn").then(|| args.backend.clone().into())),
        ("device", (args.device != "cpu").then(|| args.device.clone().into())),
        ("epochs", args.epochs.map(Into::into)),
        ("subset", args.subset.map(Into::into)),
        ("resolution", args.resolution.map(Into::into)),
    ];
    for (key, value) in flags {
        if let Some(value) = value {
            object.insert(key.into(), value);
        }
    }
    let mut parts: Vec<serde_json::Map<String, serde_json::Value>> = vec![serde_json::Map::new(); names.len()];
    for (key, value) in object.iter() {
        let mut taken = false;
        for (part, entry) in parts.iter_mut().zip(&entries) {
            if entry.settings.iter().any(|s| s.name == key) {
                part.insert(key.clone(), value.clone());
                taken = true;
            }
        }
        if !taken {
            bail!("`{key}` is a setting of none of {}; see `genius evaluators NAME` for each one's", names.join(", "));
        }
    }
    let parts: Vec<serde_json::Value> = names
        .iter()
        .zip(parts)
        .map(|(name, settings)| serde_json::json!({ "name": name, "settings": settings }))
        .collect();
    Ok((genius_core::combine::NAME.to_owned(), serde_json::json!({ "parts": parts })))
}

/// The names of every executor, for `--executor`.
pub fn executor_names() -> Vec<&'static str> {
    catalogs().executors.names()
}

/// The space called `name`.
pub fn space(name: &str) -> Result<Arc<dyn SearchSpace>> {
    let context = BuildContext::new(name, 0, Path::new("."));
    Ok(catalogs().spaces.build(name, serde_json::Value::Null, &context)?)
}

/// Where an evaluator is built: the run's directory (an evaluator built per run keeps its files there), the
/// directory relative paths in its settings are relative to [default: the current one], and the recorded run on a
/// resume.
#[derive(Debug, Clone, Copy)]
pub struct Where<'a> {
    /// The run directory.
    pub run_dir: &'a Path,
    /// The experiment file's directory.
    pub config_dir: Option<&'a Path>,
    /// The recorded run, on a resume.
    pub recorded: Option<&'a Recorded>,
}

/// The evaluator `name` with `settings` for the run on `space` with `seed`, reading tables from `data`: what it
/// declares it needs (a table, a dataset) is fetched first, unless `--offline`.
pub async fn evaluator(
    name: &str,
    settings: serde_json::Value,
    space: &Arc<dyn SearchSpace>,
    seed: u64,
    at: Where<'_>,
    data: &DataArgs,
    quiet: bool,
) -> Result<Arc<dyn Evaluator>> {
    let entry = catalogs().evaluators.find(name)?;
    let dir = data.resolve();
    let mut context = BuildContext::new(space.name(), seed, dir.path()).with_space(space).with_run_dir(at.run_dir);
    if let Some(r) = at.recorded {
        context = context.with_recorded(r);
    }
    if let Some(c) = at.config_dir {
        context = context.with_config_dir(c);
    }
    let resources = entry.resources(&settings, &context)?;
    crate::data_cmd::ensure_resources(&resources, data, quiet).await?;
    Ok(entry.build(settings, &context)?)
}

/// The executor `name` with `settings` (its configuration file's keys), for a run in `run_dir` on `space` (read from
/// `space_file` when it is not a built-in one): its jobs run `genius evaluate` (this very program) with the evaluator
/// written to `run_dir/jobs/evaluator.toml`.
pub fn executor(
    name: &str,
    settings: serde_json::Value,
    run_dir: &Path,
    space: &str,
    space_file: Option<&Path>,
    evaluator: &Arc<dyn Evaluator>,
    data_dir: &Path,
) -> Result<Arc<dyn Executor>> {
    let entry = catalogs().executors.find(name)?;
    entry.check(settings.clone())?;
    let jobs = job_setup(run_dir, space, space_file, &**evaluator, data_dir)?;
    let context = BuildContext::new(space, 0, data_dir).with_jobs(evaluator, &jobs);
    Ok(entry.build(settings, &context)?)
}

/// The job directory of a run and the command its jobs run: this program's `evaluate`, with the evaluator written
/// to the job directory.
pub fn job_setup(
    run_dir: &Path,
    space: &str,
    space_file: Option<&Path>,
    evaluator: &dyn Evaluator,
    data_dir: &Path,
) -> Result<JobSetup> {
    let job_dir = std::path::absolute(run_dir.join("jobs"))
        .with_context(|| format!("cannot make {} absolute", run_dir.display()))?;
    std::fs::create_dir_all(&job_dir).with_context(|| format!("cannot create {}", job_dir.display()))?;
    let config_path = job_dir.join(crate::evaluate_cmd::EVALUATOR_FILE);
    let mut config = crate::evaluate_cmd::EvaluatorConfig::of(evaluator, data_dir)?;
    let absolute = |p: &Path| std::path::absolute(p).with_context(|| format!("cannot make {} absolute", p.display()));
    config.space_file = space_file.map(absolute).transpose()?;
    config.run_dir = Some(absolute(run_dir)?);
    config.write(&config_path)?;
    let program = std::env::current_exe().context("cannot find this program's path for the jobs to run")?;
    let utf8 = |p: &Path| p.to_str().map(str::to_owned).ok_or_else(|| anyhow!("{} is not valid UTF-8", p.display()));
    let command = vec![
        utf8(&program)?,
        "evaluate".into(),
        "--space".into(),
        space.into(),
        "--evaluator".into(),
        utf8(&config_path)?,
    ];
    Ok(JobSetup { dir: job_dir, command })
}

/// Checks an executor's name and settings before any run uses them.
pub fn check_executor(name: &str, settings: &serde_json::Value) -> Result<()> {
    Ok(catalogs().executors.find(name)?.check(settings.clone())?)
}

/// The executor a run header recorded, for a resume: it polls the jobs the run submitted.
pub fn recorded_executor(
    component: &genius_core::run_log::Component,
    recorded: &Recorded,
) -> Result<Arc<dyn Executor>> {
    let entry = catalogs()
        .executors
        .get(&component.name)
        .ok_or_else(|| anyhow!("the run used executor `{}`, which this genius does not know", component.name))?;
    let context =
        BuildContext::new(&recorded.header.space, recorded.header.seed, Path::new(".")).with_recorded(recorded);
    Ok(entry.build(component.settings.clone(), &context)?)
}

/// The optimizer called `name`, built from `settings`, for the run searching `space` with `seed` (an LLM
/// optimizer's response cache answers re-runs of that run only).
pub fn optimizer(name: &str, settings: serde_json::Value, space: &str, seed: u64) -> Result<Box<dyn Optimizer>> {
    let context = BuildContext::new(space, seed, Path::new("."));
    Ok(catalogs().optimizers.build(name, settings, &context)?)
}

/// Checks that optimizer `name` takes `settings`, without reading a key or connecting to anything: a plan
/// (`genius compare --check`) can be checked on a machine with no key.
pub fn check_optimizer(name: &str, settings: serde_json::Value) -> Result<()> {
    Ok(catalogs().optimizers.find(name)?.check(settings)?)
}

/// The optimizer of the recorded run `recorded`, for a resume: an LLM optimizer answers the asks it replays from the
/// run's own transcript, so that a resume pays for no model call twice.
pub fn resumed_optimizer(name: &str, settings: serde_json::Value, recorded: &Recorded) -> Result<Box<dyn Optimizer>> {
    let context =
        BuildContext::new(&recorded.header.space, recorded.header.seed, Path::new(".")).with_recorded(recorded);
    Ok(catalogs().optimizers.build(name, settings, &context)?)
}

/// The optimizers that talk to a chat model: those with an `llm` setting, which the chat-model flags fill.
fn chat_optimizers() -> Vec<&'static str> {
    let entries = catalogs().optimizers.entries().iter();
    entries.filter(|e| e.settings.iter().any(|s| s.name == "llm")).map(|e| e.name.as_str()).collect()
}

/// A search's optimizer settings with its chat-model flags laid over them (only an optimizer with a chat model
/// takes them); checks that a replay searches the space it recorded (`space_name`) and that a money budget has a
/// price to count with.
pub fn llm_settings(
    args: &crate::args::SearchArgs,
    space_name: &str,
    settings: serde_json::Value,
) -> Result<serde_json::Value> {
    let llm = &args.llm;
    let chat = chat_optimizers();
    if !chat.contains(&args.optimizer.as_str()) {
        let given = llm.llm.is_some() || llm.model.is_some() || llm.llm_base_url.is_some();
        if given || llm.token_budget.is_some() || llm.cost_budget.is_some() {
            bail!(
                "--llm, --model, --llm-base-url, --token-budget and --cost-budget are for --optimizer {}",
                chat.join(" or --optimizer ")
            );
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

/// A search's evaluator settings: the `--train-config` file and `--train KEY=VALUE` overrides, with each training
/// flag (`--dataset`, `--epochs`, ...) laid over them where the evaluator has a setting of that name.
pub fn evaluator_settings(
    name: &str,
    args: &crate::args::TrainArgs,
    command_config: Option<&Path>,
) -> Result<serde_json::Value> {
    let entry = catalogs().evaluators.find(name)?;
    if !entry.settings.iter().any(|s| s.name == "epochs") {
        // Training flags given to an evaluator that trains nothing would be silently ignored.
        let given: Vec<&str> = [
            ("--dataset", args.dataset != "fashion-mnist"),
            ("--dataset-dir", args.dataset_dir.is_some()),
            ("--backend", args.backend != "burn"),
            ("--device", args.device != "cpu"),
            ("--epochs", args.epochs.is_some()),
            ("--subset", args.subset.is_some()),
            ("--resolution", args.resolution.is_some()),
            ("--train", !args.train_settings.is_empty()),
            ("--train-config", args.train_config.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect();
        if !given.is_empty() {
            let trainers: Vec<&str> = catalogs()
                .evaluators
                .entries()
                .iter()
                .filter(|e| e.settings.iter().any(|s| s.name == "epochs"))
                .map(|e| e.name.as_str())
                .collect();
            bail!(
                "{} {} for training, which --evaluator {name} does not do; add --evaluator {} or leave {} out",
                given.join(", "),
                if given.len() == 1 { "is" } else { "are" },
                trainers.join(" or --evaluator "),
                if given.len() == 1 { "it" } else { "them" },
            );
        }
    }
    if name == genius_command::NAME {
        let path = command_config
            .ok_or_else(|| anyhow!("--evaluator {name} needs its settings: --command-config FILE (see --help)"))?;
        return optimizer_settings(Some(path), &[]).with_context(|| format!("--command-config {}", path.display()));
    }
    if command_config.is_some() {
        bail!("--command-config is for --evaluator {}", genius_command::NAME);
    }
    let mut settings = optimizer_settings(args.train_config.as_deref(), &args.train_settings)?;
    let object = settings.as_object_mut().expect("settings are a table");
    let dataset_dir = args.dataset_dir.as_ref().map(|d| d.display().to_string());
    let flags: [(&str, Option<serde_json::Value>); 7] = [
        ("dataset", Some(args.dataset.clone().into())),
        ("dataset_dir", dataset_dir.map(Into::into)),
        ("backend", Some(args.backend.clone().into())),
        ("device", Some(args.device.clone().into())),
        ("epochs", args.epochs.map(Into::into)),
        ("subset", args.subset.map(Into::into)),
        ("resolution", args.resolution.map(Into::into)),
    ];
    for (key, value) in flags {
        if let Some(value) = value
            && entry.settings.iter().any(|s| s.name == key)
        {
            object.insert(key.into(), value);
        }
    }
    Ok(settings)
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
            .or_else(|_| toml::from_str(&format!("v = {}", spelled_number(value.trim()).ok_or(())?)).map_err(|_| ()))
            .or_else(|_| toml::from_str(&format!("v = {:?}", value.trim())))
            .with_context(|| format!("--set {key}: `{value}` is not a TOML value"))?;
        table.insert(key.to_owned(), parsed["v"].clone());
    }
    Ok(serde_json::to_value(table)?)
}

/// A number as people write it but TOML refuses, in TOML: `.001` is `0.001`, `-.5` is `-0.5`, `1.` is `1.0`.
fn spelled_number(value: &str) -> Option<String> {
    let (sign, digits) = match value.strip_prefix(['-', '+']) {
        Some(rest) => (&value[..1], rest),
        None => ("", value),
    };
    let fixed = if digits.starts_with('.') {
        format!("{sign}0{digits}")
    } else if digits.ends_with('.') {
        format!("{sign}{digits}0")
    } else {
        return None;
    };
    fixed.parse::<f64>().ok().map(|_| fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_are_typed_as_toml() {
        let v = optimizer_settings(None, &["a=true".into(), "b = 3".into(), "c=0.5".into(), "d=tournament".into()])
            .unwrap();
        assert_eq!(v, serde_json::json!({"a": true, "b": 3, "c": 0.5, "d": "tournament"}));
        let v = optimizer_settings(None, &["a=.001".into(), "b=-.5".into(), "c=2.".into(), "d=.x".into()]).unwrap();
        assert_eq!(v, serde_json::json!({"a": 0.001, "b": -0.5, "c": 2.0, "d": ".x"}));
        let err = optimizer_settings(None, &["nonsense".into()]).unwrap_err();
        assert!(err.to_string().contains("is not KEY=VALUE"));
    }

    #[test]
    fn unknown_settings_name_the_optimizer_and_field() {
        let err = optimizer("random", serde_json::json!({"pop": 3}), "toy", 0).err().unwrap();
        assert!(err.to_string().contains("random: unknown field `pop`"), "{err}");
    }

    #[test]
    fn every_kind_is_listed_and_the_llm_optimizer_is_one_of_the_optimizers() {
        let c = catalogs();
        assert!(c.spaces.get("nas-bench-201-cifar10").is_some());
        assert!(optimizer_names().contains(&genius_llm::NAME));
        assert_eq!(evaluator_names(), ["table", "train", "latency", "command", "combine"]);
        assert!(parse_evaluator("table+latency").is_ok());
        assert!(parse_evaluator("table+nope").unwrap_err().contains("unknown evaluator `nope`"));
        assert!(parse_evaluator("table+combine").unwrap_err().contains("what + makes"));
        assert_eq!(executor_names(), ["slurm"]);
        assert_eq!(chat_optimizers(), [genius_llm::NAME]);
    }
}
