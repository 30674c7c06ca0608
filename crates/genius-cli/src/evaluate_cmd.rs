//! `genius evaluate`: evaluates one architecture with an evaluator described in a file and writes the result
//! atomically. It is what every job of an executor runs (see `genius_core::executor`), and a way to score one
//! architecture by hand.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use genius_core::catalog::BuildContext;
use genius_core::executor::{JobOutcome, JobOutput};
use genius_core::{EvalError, Evaluator, SearchSpace};
use genius_spaces::data::DataDir;
use serde::{Deserialize, Serialize};

use crate::commands::Ended;
use crate::registry;

/// `genius evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The search space (see `genius spaces`).
    #[arg(long, value_name = "SPACE")]
    pub space: String,

    /// The architecture, in any text form of its space (see `genius arch`).
    #[arg(long, value_name = "ARCH")]
    pub arch: String,

    /// The evaluator: a TOML file with its `name` (table or train), its `settings` (as a run header records them)
    /// and, for tables, its `data_dir`. A search with an executor writes one into its run directory's jobs/.
    #[arg(long, value_name = "CONFIG.toml")]
    pub evaluator: PathBuf,

    /// Where to write the result (JSON, written through a temporary file and a rename) [default: standard output].
    #[arg(long, value_name = "RESULT.json")]
    pub out: Option<PathBuf>,
}

/// An evaluator as a file: what `genius evaluate` builds its evaluator from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluatorConfig {
    /// Its name in the evaluator catalog (`genius evaluators`).
    pub name: String,
    /// The directory of the benchmark tables (`table`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Its settings, as [`Evaluator::settings`] gives them (`train`).
    #[serde(default)]
    pub settings: toml::Table,
    /// The space file of the space searched, when it is not a built-in one (an absolute path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_file: Option<PathBuf>,
    /// The run directory, for an evaluator that keeps files per run (`command`: `<run>/commands/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<PathBuf>,
}

/// The name of the evaluator file a run's jobs read, in the job directory.
pub const EVALUATOR_FILE: &str = "evaluator.toml";

/// `value` without its nulls (TOML has none; an absent setting takes its default, as a null would).
fn without_nulls(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect()
        }
        serde_json::Value::Array(items) => items.iter().map(without_nulls).collect(),
        other => other.clone(),
    }
}

impl EvaluatorConfig {
    /// The file form of `evaluator`, reading tables from `data_dir`.
    pub fn of(evaluator: &dyn Evaluator, data_dir: &Path) -> Result<Self> {
        let settings = match without_nulls(&evaluator.settings()) {
            serde_json::Value::Object(map) => {
                toml::Table::try_from(map).context("the evaluator's settings cannot be written as TOML")?
            }
            _ => toml::Table::new(),
        };
        let data_dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned());
        Ok(Self {
            name: evaluator.name().to_owned(),
            data_dir: Some(data_dir),
            settings,
            space_file: None,
            run_dir: None,
        })
    }

    /// Writes the file (through a temporary file and a rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).context("the evaluator configuration cannot be written as TOML")?;
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Reads the file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not an evaluator configuration", path.display()))
    }

    /// The space `space` and this evaluator of it, built by name from the catalog (with the settings a run header
    /// records, as [`Evaluator::settings`] gives them).
    pub fn build(&self, space: &str) -> Result<(Arc<dyn SearchSpace>, Arc<dyn Evaluator>)> {
        let built = match &self.space_file {
            Some(file) => registry::catalogs().space_file(file)?.0,
            None => registry::space(space)?,
        };
        let settings = serde_json::to_value(&self.settings)?;
        let data = match &self.data_dir {
            Some(dir) => DataDir::new(dir),
            None => DataDir::resolve(None),
        };
        let mut context = BuildContext::new(space, 0, data.path()).with_space(&built);
        if let Some(dir) = &self.run_dir {
            context = context.with_run_dir(dir);
        }
        let evaluator = registry::catalogs().evaluators.build(&self.name, settings, &context)?;
        Ok((built, evaluator))
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty())
}

/// `genius evaluate`.
pub async fn evaluate(args: &EvaluateArgs, out: &mut impl Write) -> Result<Ended> {
    let started_at = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let clock = Instant::now();
    let built = EvaluatorConfig::read(&args.evaluator).and_then(|config| config.build(&args.space));
    let (text, result) = match built {
        Ok((space, evaluator)) => {
            match space.parse(&args.arch) {
                Ok(arch) => (space.format(&arch), evaluator.evaluate(&arch).await),
                // Not worth a retry: the same text fails the same way.
                Err(e) => (
                    args.arch.clone(),
                    Err(EvalError::Failed(format!("`{}` is not an architecture of `{}`: {e}", args.arch, args.space))),
                ),
            }
        }
        // The job's output says why, so that the search stops with the reason instead of retrying the job.
        Err(e) => (args.arch.clone(), Err(EvalError::Fatal(format!("{e:#}")))),
    };
    let mut output = JobOutput::new(text, result, started_at, clock.elapsed().as_secs_f64());
    output.host = hostname();
    match &args.out {
        Some(path) => output.write(path)?,
        None => writeln!(out, "{}", serde_json::to_string_pretty(&output)?)?,
    }
    if let JobOutcome::Fatal { reason } = &output.outcome {
        bail!("{reason}");
    }
    Ok(Ended::Done)
}
