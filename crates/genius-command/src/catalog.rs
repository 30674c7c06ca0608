//! The command evaluator as a catalog entry (genius-core's one shape for every plug-in), built once per run: each
//! run keeps its evaluations' files in its own directory (`<run>/commands/`).

use std::path::PathBuf;
use std::sync::Arc;

use genius_core::Evaluator;
use genius_core::catalog::{Bound, BuildError, Entry, Evaluators, Range, Setting, SettingKind};
use genius_core::checked::{Check, Checked};

use crate::{CommandEvaluator, CommandSettings, NAME};

/// Where a run's command evaluations keep their files, below the run directory.
pub const COMMANDS_DIR: &str = "commands";

/// The settings of the command evaluator, as `genius evaluators command` lists them.
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "command",
        SettingKind::List,
        "",
        "the program and its arguments, with placeholders such as {arch_json}, {seed} and {result} (required)",
    ),
    Setting::new(
        "env",
        SettingKind::Table,
        "{}",
        "environment variables added to the program's (placeholders allowed)",
    ),
    Setting::new(
        "working_dir",
        SettingKind::Path,
        "\".\"",
        "where the program runs, relative to the experiment file (or the current directory)",
    ),
    Setting::new("timeout_s", SettingKind::Number, "", "seconds one attempt may run [default: no limit]")
        .range(Range::AtLeast(Bound::Exclusive(0.0))),
    Setting::new("retries", SettingKind::Integer, "0", "how many times a failed exit is run again")
        .range(Range::at_least(0.0)),
    Setting::new("seed", SettingKind::Integer, "0", "the {seed} placeholder").range(Range::at_least(0.0)),
    Setting::new("search", SettingKind::Text, "", "the metric the search sees (required)"),
    Setting::new("report", SettingKind::Text, "", "the metric results are reported in [default: search]"),
    Setting::new("held_out", SettingKind::List, "[]", "metrics recorded for reports and never shown to the search"),
    Setting::new("metrics", SettingKind::List, "[]", "other metrics the search may see"),
    Setting::new("direction", SettingKind::OneOf(&["maximize", "minimize"]), "\"maximize\"", "which way is better"),
    Setting::new("stderr_lines", SettingKind::Integer, "10", "lines of standard error a failure's reason quotes")
        .range(Range::at_least(0.0)),
];

fn settings(value: serde_json::Value) -> Result<CommandSettings, BuildError> {
    CommandSettings::from_json(value).map_err(|e| BuildError::Settings(format!("{NAME}: {e}")))
}

fn checked(settings: CommandSettings) -> Result<Checked<CommandSettings>, BuildError> {
    settings.check().map_err(|e| BuildError::Settings(format!("{NAME}: {e}")))
}

/// The command evaluator's entry: built for the context's space, with its files in the context's run directory; a
/// relative `working_dir` is taken relative to the context's configuration directory and recorded absolute, so that
/// a resume works from anywhere.
pub fn entries() -> Vec<Entry<Evaluators>> {
    vec![
        Entry::new(
            NAME,
            "run your own program on each architecture; it writes the metrics as JSON",
            |value, context| {
                let mut settings = settings(value)?;
                checked(settings.clone())?;
                let space = context.space(NAME)?.clone();
                let run_dir = context.run_dir.ok_or_else(|| {
                    BuildError::Failed(format!(
                        "{NAME} keeps each evaluation's files in a run directory; none was given"
                    ))
                })?;
                let base = context.config_dir.map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
                let dir = base.join(settings.working_dir.take().unwrap_or_else(|| PathBuf::from(".")));
                let dir = std::path::absolute(&dir).map_err(|e| {
                    BuildError::Failed(format!("{NAME}: cannot resolve `working_dir` {}: {e}", dir.display()))
                })?;
                settings.working_dir = Some(dir);
                let evaluator = CommandEvaluator::new(space, checked(settings)?, run_dir.join(COMMANDS_DIR))
                    .map_err(|e| BuildError::Failed(e.to_string()))?;
                Ok(Arc::new(evaluator) as Arc<dyn Evaluator>)
            },
        )
        .with_settings(SETTINGS)
        .with_check(|value| settings(value).and_then(checked).map(drop))
        .with_per_run(),
    ]
}
