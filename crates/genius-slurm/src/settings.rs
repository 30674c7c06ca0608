//! What a SLURM executor asks of the cluster, as a user writes it in `slurm.toml`.

use std::path::Path;

use genius_core::checked::{Check, Checked};
use serde::{Deserialize, Serialize};

use crate::SlurmError;

/// The settings of a [`SlurmExecutor`](crate::SlurmExecutor): the resources of each job, how many run at once, how
/// often a lost job is tried again, and how often the scheduler is asked. Every field has a default, so an empty file
/// is valid: jobs then go to the cluster's default partition with its default limits.
///
/// ```toml
/// partition = "gpu"
/// account = "nas-lab"
/// time_limit = "00:30:00"
/// cpus_per_task = 4
/// gres = "gpu:1"
/// memory = "16G"
/// max_in_flight = 32
/// sbatch_lines = ["--qos=short"]
/// setup = ["module load cuda/12.4"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlurmSettings {
    /// The partition (`--partition`); the cluster's default when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// The account charged (`--account`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The time limit of one job (`--time`), in any form sbatch takes: `30`, `00:30:00`, `1-00:00:00`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_limit: Option<String>,
    /// CPUs per job (`--cpus-per-task`).
    pub cpus_per_task: u32,
    /// Generic resources per job (`--gres`), e.g. `gpu:1` or `gpu:a100:2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gres: Option<String>,
    /// Memory per job (`--mem`), e.g. `8G`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// More sbatch options, one per entry, as written after `#SBATCH` (e.g. `--qos=short`, `--constraint=v100`).
    pub sbatch_lines: Vec<String>,
    /// Shell lines each job runs before the worker (e.g. `module load cuda`, `source venv/bin/activate`). They see
    /// `GENIUS_TRIAL`, `GENIUS_ATTEMPT` and `GENIUS_JOB_KEY`.
    pub setup: Vec<String>,
    /// The job name (`--job-name`), to find a search's jobs in `squeue`.
    pub job_name: String,
    /// Jobs submitted and not yet finished, at most.
    pub max_in_flight: usize,
    /// Times a job that ends without a result (it failed, was cancelled, timed out, was preempted or lost its node)
    /// is submitted again before its trial is recorded as failed.
    pub retries: u32,
    /// Seconds between two polls of the scheduler.
    pub poll_interval_s: f64,
}

impl Default for SlurmSettings {
    fn default() -> Self {
        Self {
            partition: None,
            account: None,
            time_limit: None,
            cpus_per_task: 1,
            gres: None,
            memory: None,
            sbatch_lines: Vec::new(),
            setup: Vec::new(),
            job_name: "genius".to_owned(),
            max_in_flight: 16,
            retries: 2,
            poll_interval_s: 5.0,
        }
    }
}

impl Check for SlurmSettings {
    type Error = SlurmError;

    /// Checks the values that sbatch would reject late or that would make the executor useless.
    fn check_ref(&self) -> Result<(), SlurmError> {
        self.problem().map_err(SlurmError::Settings)
    }
}

impl SlurmSettings {
    /// Reads the settings from a TOML file and checks them.
    pub fn from_file(path: &Path) -> Result<Checked<Self>, SlurmError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SlurmError::Settings(format!("cannot read {}: {e}", path.display())))?;
        let settings: Self = toml::from_str(&text).map_err(|e| {
            SlurmError::Settings(format!("{} is not a SLURM executor configuration: {e}", path.display()))
        })?;
        settings.check().map_err(|SlurmError::Settings(e)| SlurmError::Settings(format!("{}: {e}", path.display())))
    }

    /// Reads the settings from JSON (a run header's record of them) and checks them.
    pub fn from_json(value: serde_json::Value) -> Result<Checked<Self>, SlurmError> {
        let settings: Self = serde_json::from_value(value)
            .map_err(|e| SlurmError::Settings(format!("not a SLURM executor configuration: {e}")))?;
        settings.check()
    }

    /// The first value that sbatch would reject late or that would make the executor useless.
    fn problem(&self) -> Result<(), String> {
        if self.cpus_per_task == 0 {
            return Err("cpus_per_task must be at least 1".into());
        }
        if self.max_in_flight == 0 {
            return Err("max_in_flight must be at least 1".into());
        }
        if !(self.poll_interval_s.is_finite() && self.poll_interval_s > 0.0) {
            return Err(format!("poll_interval_s must be a positive number of seconds, not {}", self.poll_interval_s));
        }
        if self.job_name.is_empty() || self.job_name.contains(char::is_whitespace) {
            return Err(format!("job_name `{}` must be one word", self.job_name));
        }
        for line in &self.sbatch_lines {
            if !line.trim_start().starts_with('-') || line.contains('\n') {
                return Err(format!("sbatch_lines: `{line}` is not one sbatch option (e.g. `--qos=short`)"));
            }
        }
        Ok(())
    }

    /// The `#SBATCH` options these settings give, one per line, without the prefix.
    pub fn sbatch_options(&self) -> Vec<String> {
        let mut options =
            vec![format!("--job-name={}", self.job_name), format!("--cpus-per-task={}", self.cpus_per_task)];
        let named = [
            ("--partition", &self.partition),
            ("--account", &self.account),
            ("--time", &self.time_limit),
            ("--gres", &self.gres),
            ("--mem", &self.memory),
        ];
        for (flag, value) in named {
            if let Some(v) = value {
                options.push(format!("{flag}={v}"));
            }
        }
        options.extend(self.sbatch_lines.iter().map(|l| l.trim().to_owned()));
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults() {
        let s: SlurmSettings = toml::from_str("").unwrap();
        assert_eq!(s, SlurmSettings::default());
        assert_eq!(s.sbatch_options(), ["--job-name=genius", "--cpus-per-task=1"]);
    }

    #[test]
    fn settings_become_sbatch_options() {
        let s: SlurmSettings = toml::from_str(
            "partition = \"gpu\"\naccount = \"lab\"\ntime_limit = \"00:30:00\"\ncpus_per_task = 4\ngres = \
             \"gpu:1\"\nmemory = \"16G\"\nsbatch_lines = [\"--qos=short\"]",
        )
        .unwrap();
        assert_eq!(
            s.sbatch_options(),
            [
                "--job-name=genius",
                "--cpus-per-task=4",
                "--partition=gpu",
                "--account=lab",
                "--time=00:30:00",
                "--gres=gpu:1",
                "--mem=16G",
                "--qos=short"
            ]
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slurm.toml");
        std::fs::write(&path, "partiton = \"gpu\"\n").unwrap();
        let err = SlurmSettings::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("slurm.toml") && err.contains("unknown field `partiton`"), "{err}");
        std::fs::write(&path, "max_in_flight = 0\n").unwrap();
        let err = SlurmSettings::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("max_in_flight must be at least 1"), "{err}");
        std::fs::write(&path, "sbatch_lines = [\"qos=short\"]\n").unwrap();
        let err = SlurmSettings::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("not one sbatch option"), "{err}");
        let err = SlurmSettings::from_file(&dir.path().join("absent.toml")).unwrap_err().to_string();
        assert!(err.contains("cannot read") && err.contains("absent.toml"), "{err}");
    }
}
