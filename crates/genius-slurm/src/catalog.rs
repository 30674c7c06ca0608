//! The SLURM executor as a catalog entry (genius-core's one shape for every plug-in).

use std::sync::Arc;

use genius_core::catalog::{Bound, BuildError, Entry, Executors, Range, Setting, SettingKind};
use genius_core::executor::Executor;

use crate::{NAME, SlurmError, SlurmExecutor, SlurmSettings, Worker};

/// Every setting of the SLURM executor, as `genius executors slurm` prints them (its `Check` impl refuses
/// what these ranges exclude).
pub const SETTINGS: &[Setting] = &[
    Setting::new("partition", SettingKind::Text, "", "sbatch --partition"),
    Setting::new("account", SettingKind::Text, "", "sbatch --account"),
    Setting::new("time_limit", SettingKind::Text, "", "sbatch --time, per job (e.g. \"00:30:00\")"),
    Setting::new("cpus_per_task", SettingKind::Integer, "1", "sbatch --cpus-per-task").range(Range::at_least(1.0)),
    Setting::new("gres", SettingKind::Text, "", "sbatch --gres (e.g. \"gpu:1\")"),
    Setting::new("memory", SettingKind::Text, "", "sbatch --mem (e.g. \"8G\")"),
    Setting::new("sbatch_lines", SettingKind::List, "[]", "more sbatch options, one each (e.g. \"--qos=short\")"),
    Setting::new("setup", SettingKind::List, "[]", "shell lines run before the worker (module load ...)"),
    Setting::new("job_name", SettingKind::Text, "\"genius\"", "the jobs' name, one word"),
    Setting::new("max_in_flight", SettingKind::Integer, "16", "jobs submitted and not finished, at most")
        .range(Range::at_least(1.0)),
    Setting::new("retries", SettingKind::Integer, "2", "resubmissions of a job lost without a result"),
    Setting::new("poll_interval_s", SettingKind::Number, "5.0", "seconds between squeue polls")
        .range(Range::AtLeast(Bound::Exclusive(0.0))),
];

fn settings_error(e: SlurmError) -> BuildError {
    BuildError::Settings(e.to_string())
}

/// The SLURM executor's catalog entry. On a resume (the build context holds the recorded run) it is rebuilt from
/// the run header's record, worker included, and polls the jobs the run submitted; otherwise its jobs run the
/// context's job setup.
pub fn entries() -> Vec<Entry<Executors>> {
    vec![
        Entry::new(
            NAME,
            "every evaluation as a job of a SLURM cluster (sbatch job arrays, squeue, scancel)",
            |settings, context| {
                if context.recorded.is_some() {
                    return Ok(
                        Arc::new(SlurmExecutor::from_recorded(settings).map_err(settings_error)?) as Arc<dyn Executor>
                    );
                }
                let settings = SlurmSettings::from_json(settings).map_err(settings_error)?;
                let jobs = context.jobs.ok_or_else(|| {
                    BuildError::Failed(format!("{NAME}: no job directory and worker command were given"))
                })?;
                let worker = Worker { command: jobs.command.clone(), job_dir: jobs.dir.clone() };
                Ok(Arc::new(SlurmExecutor::new(settings, worker).map_err(settings_error)?) as Arc<dyn Executor>)
            },
        )
        .with_settings(SETTINGS)
        .with_check(|settings| SlurmSettings::from_json(settings).map(drop).map_err(settings_error)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_documented() {
        let defaults = serde_json::to_value(SlurmSettings::default()).unwrap();
        let documented: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        for key in defaults.as_object().unwrap().keys() {
            assert!(documented.contains(&key.as_str()), "`{key}` is not documented");
        }
        let err = entries()[0].check(serde_json::json!({"max_in_flight": 0})).unwrap_err().to_string();
        assert!(err.contains("max_in_flight must be at least 1"), "{err}");
    }
}
