//! [`SlurmExecutor`]: genius-core's [`Executor`] on a SLURM cluster.

use std::time::Duration;

use async_trait::async_trait;
use genius_core::executor::{Executor, ExecutorError, Job, JobId, JobOutput, JobRequest, JobState};
use serde::{Deserialize, Serialize};

use crate::batch_script::{Worker, batch_script};
use crate::{SlurmError, SlurmSettings, commands};
use genius_core::checked::{Check, Checked};

/// The lines of a lost job's log that its failed trial records.
const LOG_TAIL_LINES: usize = 20;

/// Runs evaluations as SLURM jobs: one `sbatch` job array per batch of requests, polled with `squeue` (and
/// `scontrol` for why a job ended), cancelled with `scancel`. Results come back as files in the worker's shared job
/// directory, so that a resumed study finds them from the job ids its run log recorded.
#[derive(Debug, Clone)]
pub struct SlurmExecutor {
    settings: SlurmSettings,
    worker: Worker,
}

/// The executor's record in a run header: its settings and its worker.
#[derive(Serialize, Deserialize)]
struct Recorded {
    #[serde(flatten)]
    settings: SlurmSettings,
    worker: Worker,
}

/// The executor's name in run headers and on the command line.
pub const NAME: &str = "slurm";

impl SlurmExecutor {
    /// An executor submitting `worker` jobs with `settings`; creates the worker's job directory.
    pub fn new(settings: Checked<SlurmSettings>, worker: Worker) -> Result<Self, SlurmError> {
        let settings = settings.into_inner();
        if worker.command.is_empty() {
            return Err(SlurmError::Settings("the worker command is empty".into()));
        }
        std::fs::create_dir_all(&worker.job_dir)
            .map_err(|e| SlurmError::Settings(format!("cannot create {}: {e}", worker.job_dir.display())))?;
        Ok(Self { settings, worker })
    }

    /// The executor a run header recorded ([`Executor::settings`]).
    pub fn from_recorded(value: serde_json::Value) -> Result<Self, SlurmError> {
        let recorded: Recorded = serde_json::from_value(value)
            .map_err(|e| SlurmError::Settings(format!("the run's SLURM executor record is damaged: {e}")))?;
        Self::new(recorded.settings.check()?, recorded.worker)
    }

    /// Its settings.
    pub fn slurm_settings(&self) -> &SlurmSettings {
        &self.settings
    }

    /// Its worker.
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    fn log_tail(&self, id: &JobId) -> String {
        let Ok(text) = std::fs::read_to_string(self.worker.log_path(id)) else { return String::new() };
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    async fn lost(&self, id: &JobId, seen: Option<&commands::QueueEntry>) -> Result<JobState, ExecutorError> {
        let reason = match commands::why_ended(id).await.map_err(ExecutorError::Poll)? {
            Some(why) => why,
            None => match (commands::accounted(id).await, seen) {
                (Some(why), _) => why,
                (None, Some(entry)) => entry.state.clone(),
                (None, None) => format!("SLURM no longer knows job {id} (nor does its accounting)"),
            },
        };
        Ok(JobState::Lost { reason: format!("{reason}, without a result"), log_tail: self.log_tail(id) })
    }
}

#[async_trait]
impl Executor for SlurmExecutor {
    fn name(&self) -> &str {
        NAME
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(Recorded { settings: self.settings.clone(), worker: self.worker.clone() })
            .expect("settings serialize")
    }

    fn max_in_flight(&self) -> usize {
        self.settings.max_in_flight
    }

    fn retries(&self) -> u32 {
        self.settings.retries
    }

    async fn submit(&self, requests: &[JobRequest]) -> Result<Vec<JobId>, ExecutorError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let script = batch_script(&self.settings, &self.worker, requests).map_err(ExecutorError::Submit)?;
        let path = self.worker.script_path(&requests[0]);
        std::fs::write(&path, script)
            .map_err(|e| ExecutorError::Submit(format!("cannot write {}: {e}", path.display())))?;
        let array = commands::sbatch(&path).await.map_err(ExecutorError::Submit)?;
        Ok((0..requests.len()).map(|i| JobId(format!("{array}_{i}"))).collect())
    }

    async fn poll(&self, jobs: &[Job]) -> Result<Vec<JobState>, ExecutorError> {
        // Ask the scheduler first, then look for results: a job reported ended has written all it ever will.
        let ids: Vec<JobId> = jobs.iter().map(|j| j.id.clone()).collect();
        let queue = commands::squeue(&ids).await.map_err(ExecutorError::Poll)?;
        let mut states = Vec::with_capacity(jobs.len());
        for job in jobs {
            if let Some(output) = JobOutput::read(&self.worker.output_path(&job.request))? {
                states.push(JobState::Finished(output));
                continue;
            }
            let entry = queue.get(&job.id);
            let state = match entry {
                Some(e) if commands::is_live(&e.state) => {
                    if commands::is_queued(&e.state) {
                        JobState::Queued
                    } else {
                        JobState::Running
                    }
                }
                _ => self.lost(&job.id, entry).await?,
            };
            states.push(state);
        }
        Ok(states)
    }

    async fn cancel(&self, jobs: &[Job]) -> Result<(), ExecutorError> {
        let ids: Vec<JobId> = jobs.iter().map(|j| j.id.clone()).collect();
        commands::scancel(&ids).await.map_err(ExecutorError::Cancel)
    }

    async fn pause(&self) {
        tokio::time::sleep(Duration::from_secs_f64(self.settings.poll_interval_s)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_executor_is_rebuilt_alike() {
        let dir = tempfile::tempdir().unwrap();
        let worker = Worker { command: vec!["genius".into(), "evaluate".into()], job_dir: dir.path().join("jobs") };
        let settings = SlurmSettings { partition: Some("gpu".into()), max_in_flight: 4, ..SlurmSettings::default() };
        let executor = SlurmExecutor::new(settings.clone().check().unwrap(), worker.clone()).unwrap();
        assert!(dir.path().join("jobs").is_dir());
        let record = executor.settings();
        assert_eq!(record["partition"], "gpu");
        assert_eq!(record["worker"]["command"][1], "evaluate");
        let again = SlurmExecutor::from_recorded(record).unwrap();
        assert_eq!((again.slurm_settings(), again.worker()), (&settings, &worker));
        assert_eq!(again.max_in_flight(), 4);
        let err = SlurmExecutor::from_recorded(serde_json::json!({"partition": 3})).unwrap_err();
        assert!(err.to_string().contains("SLURM executor record is damaged"), "{err}");
    }
}
