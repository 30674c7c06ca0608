//! Executors: evaluations that run elsewhere (a cluster's batch jobs), which the study runner submits, polls,
//! cancels and, after a restart, reattaches to.
//!
//! Without an executor a study calls [`Evaluator::evaluate`](crate::Evaluator::evaluate) in its own process. With
//! one ([`Study::executor`](crate::Study::executor)), every architecture to evaluate becomes a job: a worker process
//! somewhere (`genius evaluate`) evaluates it with the same evaluator settings and writes a [`JobOutput`] file. The
//! runner keeps at most [`Executor::max_in_flight`] jobs submitted at once, polls them, records each job in the run
//! log's `events.jsonl` (a [`JobRecord`] each, with the job's id), and:
//!
//! - collects a finished job's output: a complete evaluation, or the evaluation's own failure ([`JobOutcome`]), which
//!   are results, never retried;
//! - retries a job that ended without output (it exited non-zero, was cancelled from outside, timed out, was
//!   preempted, lost its node) [`Executor::retries`] times, then records a failed trial with the reason and the tail
//!   of the job's log;
//! - cancels the jobs it owns when the study's stop token fires;
//! - on resume, finds every job the log records for a trial still to be recorded and polls it instead of submitting
//!   it again: a job still queued or running is waited for, a finished one collected.
//!
//! An executor must therefore be able to poll a job it did not submit in this process: everything it needs is in
//! the [`Job`] (its id and what it evaluates). genius-slurm implements this for SLURM; another engine (Kubernetes
//! Jobs, Ray's job API) is another implementation of the same trait.

use std::fmt;
use std::path::Path;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::run_log::{EventRecord, RunLogError, write_json_atomically};
use crate::{Architecture, EvalError, Evaluation};

/// What the runner records of a job in the run log's `events.jsonl` (one line each, `{"kind": "job_submitted",
/// "data": ...}`; see [`crate::OptimizerEvent`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum JobRecord {
    /// A job's submission.
    JobSubmitted(Job),
    /// A job whose output was collected (with the host it ran on).
    JobFinished(JobEvent),
    /// A job that ended without output (with the reason and log tail).
    JobLost(JobEvent),
    /// A job the study cancelled (it was stopped).
    JobCancelled(JobEvent),
    /// A recorded job a resumed study polls again instead of submitting.
    JobReattached(JobEvent),
}

/// A job's id as its executor knows it (a SLURM job id, `1234_5` for an array task).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub String);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One evaluation to run as a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRequest {
    /// The index of the trial it evaluates for.
    pub trial: usize,
    /// The attempt, from 1: a job retried after a failure, or submitted again after the study cancelled it, is a new
    /// attempt.
    pub attempt: u32,
    /// The architecture.
    pub arch: Architecture,
    /// The architecture in its space's canonical text form, as a worker's command line carries it.
    pub text: String,
}

impl JobRequest {
    /// A name unique within a run, `trial-000012-attempt-1`, for the job's files.
    pub fn key(&self) -> String {
        format!("trial-{:06}-attempt-{}", self.trial, self.attempt)
    }
}

/// A submitted job: its id and what it evaluates. The data of a [`JobRecord::JobSubmitted`] event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// What it evaluates.
    #[serde(flatten)]
    pub request: JobRequest,
}

/// The data of the job events other than [`JobRecord::JobSubmitted`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The job's id.
    pub id: JobId,
    /// The trial it evaluates for.
    pub trial: usize,
    /// Its attempt.
    pub attempt: u32,
    /// Why it ended without output ([`JobRecord::JobLost`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The last lines of its log ([`JobRecord::JobLost`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_tail: Option<String>,
    /// Where it ran ([`JobRecord::JobFinished`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl JobEvent {
    /// The event of `job` with nothing else to say.
    pub fn of(job: &Job) -> Self {
        Self {
            id: job.id.clone(),
            trial: job.request.trial,
            attempt: job.request.attempt,
            reason: None,
            log_tail: None,
            host: None,
        }
    }
}

/// What the evaluation of a job yielded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum JobOutcome {
    /// Evaluated.
    Complete {
        /// The evaluation.
        evaluation: Evaluation,
    },
    /// This architecture could not be evaluated ([`EvalError::Failed`]): a result, recorded as a failed trial.
    Failed {
        /// Why.
        reason: String,
    },
    /// The evaluator cannot work at all on the worker ([`EvalError::Fatal`], or it could not be built): the study
    /// stops, so that the set-up can be fixed before the run is resumed.
    Fatal {
        /// Why.
        reason: String,
    },
}

/// The file a worker writes (atomically) when it has evaluated its architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOutput {
    /// The architecture evaluated, in its space's text form.
    pub arch: String,
    /// What the evaluation yielded.
    #[serde(flatten)]
    pub outcome: JobOutcome,
    /// When the evaluation started (RFC 3339, UTC).
    pub started_at: String,
    /// How long it took, in seconds.
    pub duration_s: f64,
    /// The machine it ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl JobOutput {
    /// The output of an evaluation of `arch` that returned `result`.
    pub fn new(
        arch: impl Into<String>,
        result: Result<Evaluation, EvalError>,
        started_at: String,
        duration_s: f64,
    ) -> Self {
        let outcome = match result {
            Ok(evaluation) => JobOutcome::Complete { evaluation },
            Err(EvalError::Failed(reason)) => JobOutcome::Failed { reason },
            Err(EvalError::Fatal(reason)) => JobOutcome::Fatal { reason },
        };
        Self { arch: arch.into(), outcome, started_at, duration_s, host: None }
    }

    /// The evaluation's result, as [`Evaluator::evaluate`](crate::Evaluator::evaluate) would have returned it.
    pub fn result(self) -> Result<Evaluation, EvalError> {
        match self.outcome {
            JobOutcome::Complete { evaluation } => Ok(evaluation),
            JobOutcome::Failed { reason } => Err(EvalError::Failed(reason)),
            JobOutcome::Fatal { reason } => Err(EvalError::Fatal(reason)),
        }
    }

    /// Writes the output to `path` through a temporary file and a rename, so that a poller never reads half of it.
    pub fn write(&self, path: &Path) -> Result<(), RunLogError> {
        write_json_atomically(path, self)
    }

    /// Reads the output at `path`: `None` when there is none (yet).
    pub fn read(path: &Path) -> Result<Option<Self>, ExecutorError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                ExecutorError::Output(format!(
                    "{} is not a job output ({e}); remove it to evaluate again",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ExecutorError::Output(format!("cannot read {}: {e}", path.display()))),
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    /// Waiting to start.
    Queued,
    /// Running.
    Running,
    /// Ended and left its output.
    Finished(JobOutput),
    /// Ended without output: it failed, was cancelled, timed out, was preempted or lost its node, or the executor no
    /// longer knows it. The study retries it.
    Lost {
        /// Why, as the scheduler says (e.g. `FAILED, exit code 3`).
        reason: String,
        /// The last lines of its log, where there is one.
        log_tail: String,
    },
}

/// An executor that cannot work (its scheduler cannot be reached, rejects a submission, or an output is damaged).
/// The study stops with it; the jobs it submitted stay recorded, and a resume reattaches to them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// A submission was refused.
    #[error("cannot submit: {0}")]
    Submit(String),
    /// The scheduler could not be asked about jobs.
    #[error("cannot poll jobs: {0}")]
    Poll(String),
    /// Jobs could not be cancelled.
    #[error("cannot cancel jobs: {0}")]
    Cancel(String),
    /// A job's output could not be read.
    #[error("{0}")]
    Output(String),
}

/// Runs evaluations as jobs elsewhere: submits them, polls them, cancels them. Implementations hold their settings
/// and talk to their scheduler; the study runner does the bookkeeping (run log, retries, reattaching).
#[async_trait]
pub trait Executor: Send + Sync {
    /// A short name for logs and run headers, e.g. `slurm`.
    fn name(&self) -> &str;

    /// Its settings, recorded in the run header so that a resume rebuilds the same executor.
    fn settings(&self) -> serde_json::Value;

    /// Jobs submitted and not finished at once, at most (at least 1).
    fn max_in_flight(&self) -> usize;

    /// Times a job that ended without output is submitted again before its trial is recorded as failed.
    fn retries(&self) -> u32;

    /// Submits one job per request (a batch, e.g. one job array) and returns their ids, in order.
    async fn submit(&self, requests: &[JobRequest]) -> Result<Vec<JobId>, ExecutorError>;

    /// The state of each job, in order. It must work for jobs submitted by an earlier process (a resumed study
    /// reattaches to them this way).
    async fn poll(&self, jobs: &[Job]) -> Result<Vec<JobState>, ExecutorError>;

    /// Cancels the jobs (those already ended are no error).
    async fn cancel(&self, jobs: &[Job]) -> Result<(), ExecutorError>;

    /// Waits until the next poll is worth doing (a poll interval).
    async fn pause(&self);
}

/// Why a job ended without output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobLoss {
    /// The executor's reason.
    pub reason: String,
    /// The last lines of the job's log.
    pub log_tail: String,
}

/// A recorded job that ended without output (`lost`) or was cancelled: its trial has no live job any more.
fn ended(jobs: &mut std::collections::BTreeMap<usize, TrialJobs>, event: JobEvent, lost: bool) {
    let Some(entry) = jobs.get_mut(&event.trial) else { return };
    if entry.live.as_ref().is_none_or(|j| j.id != event.id) {
        return;
    }
    entry.live = None;
    if lost {
        entry.lost += 1;
        entry.last_loss =
            Some(JobLoss { reason: event.reason.unwrap_or_default(), log_tail: event.log_tail.unwrap_or_default() });
    }
}

/// What a run log records about the jobs of one trial, read back for a resume.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrialJobs {
    /// Its latest job, unless that one was lost or cancelled.
    pub live: Option<Job>,
    /// The highest attempt number used.
    pub last_attempt: u32,
    /// Jobs that ended without output.
    pub lost: u32,
    /// The reason and log tail of the last of them.
    pub last_loss: Option<JobLoss>,
    /// The architecture its jobs evaluate.
    pub text: String,
}

/// The jobs a run log records, by trial index, in the order of its events.
pub fn recorded_jobs(events: &[EventRecord]) -> std::collections::BTreeMap<usize, TrialJobs> {
    let mut jobs: std::collections::BTreeMap<usize, TrialJobs> = std::collections::BTreeMap::new();
    for e in events {
        match e.event.decode() {
            Some(JobRecord::JobSubmitted(job)) => {
                let entry = jobs.entry(job.request.trial).or_default();
                if entry.text != job.request.text {
                    // Another architecture at this trial index (a resumed optimizer diverged): its history is not
                    // this one's.
                    *entry = TrialJobs { text: job.request.text.clone(), ..TrialJobs::default() };
                }
                entry.last_attempt = entry.last_attempt.max(job.request.attempt);
                entry.live = Some(job);
            }
            Some(JobRecord::JobLost(event)) => ended(&mut jobs, event, true),
            Some(JobRecord::JobCancelled(event)) => ended(&mut jobs, event, false),
            // A finished job stays live: its output is collected again on resume (its trial is not recorded yet).
            Some(JobRecord::JobFinished(_) | JobRecord::JobReattached(_)) | None => {}
        }
    }
    jobs
}
