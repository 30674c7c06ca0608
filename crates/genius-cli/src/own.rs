//! Your own problem: a search space from a file (`--space-file`, or a `.toml` path in an experiment's `spaces`), your
//! own table (the space file's `[table]`), and any program as the evaluator (`--evaluator command`, `[evaluator] name
//! = "command"`). Everything here is wiring; the space and table live in genius-spaces, the evaluator in
//! genius-command.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use genius_core::{Evaluator, SearchSpace};
use genius_spaces::space_file::FileSpace;
use genius_spaces::user_table::UserTable;

/// The evaluator name of the command evaluator.
pub const COMMAND_EVALUATOR: &str = genius_command::NAME;

/// The key of a run header's context that records a file space (its path and its text).
pub const CONTEXT_KEY: &str = "space_file";

/// Where a run's command evaluations keep their files.
pub const COMMANDS_DIR: &str = "commands";

/// Whether an experiment's `spaces` entry names a space file rather than a built-in space.
pub fn is_space_file(entry: &str) -> bool {
    entry.ends_with(".toml")
}

/// Reads a space file.
pub fn read_space(path: &Path) -> Result<Arc<FileSpace>> {
    Ok(Arc::new(FileSpace::read(path)?))
}

/// What a run header records of a file space, so that a resume rebuilds the very same space.
pub fn context(space: &FileSpace) -> serde_json::Value {
    let path = std::path::absolute(space.path()).unwrap_or_else(|_| space.path().to_owned());
    serde_json::json!({ "path": path, "text": space.source() })
}

/// The file space a run header's context records, if the run searched one.
pub fn recorded_space(context: &serde_json::Value) -> Result<Option<Arc<FileSpace>>> {
    let Some(record) = context.get(CONTEXT_KEY) else { return Ok(None) };
    let path = record["path"].as_str().ok_or_else(|| anyhow!("the run header's space_file has no path"))?;
    let text = record["text"].as_str().ok_or_else(|| anyhow!("the run header's space_file has no text"))?;
    Ok(Some(Arc::new(FileSpace::from_text(Path::new(path), text)?)))
}

/// The user table of a file space, the evaluator `--evaluator table` means for it.
pub fn table(space: &Arc<FileSpace>) -> Result<Arc<dyn Evaluator>> {
    if space.table().is_none() {
        bail!(
            "{} has no [table] to look architectures up in; declare one, or score them with your own program: \
             --evaluator command --command-config FILE (see `genius search --help`)",
            space.path().display()
        );
    }
    Ok(Arc::new(UserTable::load(space.clone())?))
}

/// The command evaluator `settings` describe (an experiment's `[evaluator.settings]`, a `--command-config` file, or a
/// run header's record), for the run in `run_dir`. A relative `working_dir` is relative to `base` (the experiment
/// file's directory, or the current one) and is recorded absolute, so that a resume works from anywhere.
pub fn command_evaluator(
    space: Arc<dyn SearchSpace>,
    settings: serde_json::Value,
    run_dir: &Path,
    base: &Path,
) -> Result<Arc<dyn Evaluator>> {
    let mut settings = genius_command::CommandSettings::from_json(settings)?;
    let dir = settings.working_dir.take().unwrap_or_else(|| PathBuf::from("."));
    let dir = std::path::absolute(base.join(dir)).context("cannot resolve the command's working_dir")?;
    settings.working_dir = Some(dir);
    let trials = run_dir.join(COMMANDS_DIR);
    Ok(Arc::new(genius_command::CommandEvaluator::new(space, settings, trials)?))
}

/// Checks command settings without building anything (for `genius compare --check`).
pub fn check_command(settings: serde_json::Value) -> Result<()> {
    genius_command::CommandSettings::from_json(settings)?.check()?;
    Ok(())
}

/// The settings of a `--command-config` TOML file.
pub fn command_settings_file(path: &Path) -> Result<serde_json::Value> {
    crate::registry::optimizer_settings(Some(path), &[]).with_context(|| format!("--command-config {}", path.display()))
}

/// The file space an experiment's `spaces` entry names, if it is a `.toml` path (relative to the experiment file).
pub fn experiment_space(entry: &str, experiment: &Path) -> Result<Option<Arc<FileSpace>>> {
    if !is_space_file(entry) {
        return Ok(None);
    }
    let path = experiment.parent().unwrap_or(Path::new(".")).join(entry);
    read_space(&path).map(Some)
}
