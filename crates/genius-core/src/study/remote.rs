//! The runner's side of an [`Executor`]: a batch's evaluations as jobs, submitted, polled, retried, cancelled on a
//! stop, and reattached on a resume (see [`crate::executor`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use futures::future::{Either, select};
use tokio_util::sync::CancellationToken;

use super::{BatchOutcome, Evaluated, now};
use crate::executor::{Executor, Job, JobEvent, JobRecord, JobRequest, JobState, TrialJobs};
use crate::run_log::{RunLog, RunLogError};
use crate::{Architecture, EvalError, OptimizerEvent};

/// A study's executor, what its run log recorded of earlier jobs (on a resume), and warnings for the observers.
pub(super) struct Remote {
    pub(super) executor: Arc<dyn Executor>,
    pub(super) recorded: BTreeMap<usize, TrialJobs>,
    pub(super) warnings: Vec<String>,
}

/// One evaluation of the batch and its jobs.
struct Slot<'a> {
    trial: usize,
    arch: &'a Architecture,
    text: String,
    /// The highest attempt number used so far.
    attempt: u32,
    /// Jobs that ended without output.
    lost: u32,
    /// The job in flight.
    job: Option<Job>,
    /// When its first job of this session was submitted or reattached.
    since: Option<(String, Instant)>,
}

/// Writes a job's event to the log.
fn record(log: &mut Option<&mut RunLog>, ask: u64, record: &JobRecord) -> Result<(), RunLogError> {
    if let Some(log) = log.as_deref_mut() {
        log.append_event(ask, &OptimizerEvent::typed(record, Default::default()))?;
    }
    Ok(())
}

/// Reaches the disk whatever the flush policy: a job submitted but not recorded would be submitted again.
fn flush(log: &mut Option<&mut RunLog>) -> Result<(), RunLogError> {
    log.as_deref_mut().map_or(Ok(()), RunLog::flush)
}

/// Evaluates `jobs` (trial index, architecture, text) through the executor. Returns one result per job (`None` for
/// those unfinished when the study was stopped or failed for good) and how the batch ended.
pub(super) async fn evaluate(
    remote: &mut Remote,
    mut log: Option<&mut RunLog>,
    ask: u64,
    jobs: Vec<(usize, &Architecture, String)>,
    stop: &CancellationToken,
) -> Result<(Vec<Option<Evaluated>>, BatchOutcome), RunLogError> {
    let executor = remote.executor.clone();
    let name = executor.name().to_owned();
    let max = executor.max_in_flight().max(1);
    let retries = executor.retries();
    let mut done: Vec<Option<Evaluated>> = (0..jobs.len()).map(|_| None).collect();
    let mut slots: Vec<Slot<'_>> = jobs
        .into_iter()
        .map(|(trial, arch, text)| Slot { trial, arch, text, attempt: 0, lost: 0, job: None, since: None })
        .collect();
    let mut queue = VecDeque::new();
    let mut in_flight: Vec<usize> = Vec::new();

    // A resume: jobs the log records for these trials are polled again, not submitted again.
    for (i, slot) in slots.iter_mut().enumerate() {
        if let Some(rec) = remote.recorded.remove(&slot.trial)
            && rec.text == slot.text
        {
            slot.attempt = rec.last_attempt;
            slot.lost = rec.lost;
            if let Some(job) = rec.live {
                record(&mut log, ask, &JobRecord::JobReattached(JobEvent::of(&job)))?;
                slot.job = Some(job);
                slot.since = Some((now(), Instant::now()));
                in_flight.push(i);
                continue;
            }
            if slot.lost > retries {
                let loss = rec.last_loss.unwrap_or_default();
                let result = Err(EvalError::Failed(gave_up(slot.lost, &loss.reason, &loss.log_tail)));
                done[i] = Some(Evaluated { result, started_at: now(), duration_s: 0.0 });
                continue;
            }
        }
        queue.push_back(i);
    }
    flush(&mut log)?;

    let outcome = loop {
        if stop.is_cancelled() {
            cancel(&*executor, &mut slots, &in_flight, &mut log, ask, &mut remote.warnings).await?;
            break BatchOutcome::Interrupted;
        }
        let room = max.saturating_sub(in_flight.len());
        if room > 0 && !queue.is_empty() {
            let batch: Vec<usize> = queue.drain(..room.min(queue.len())).collect();
            let requests: Vec<JobRequest> = batch
                .iter()
                .map(|&i| {
                    let slot = &mut slots[i];
                    slot.attempt += 1;
                    JobRequest {
                        trial: slot.trial,
                        attempt: slot.attempt,
                        arch: slot.arch.clone(),
                        text: slot.text.clone(),
                    }
                })
                .collect();
            let ids = match executor.submit(&requests).await {
                Ok(ids) if ids.len() == requests.len() => ids,
                Ok(ids) => {
                    let message =
                        format!("executor `{name}` returned {} job ids for {} submissions", ids.len(), requests.len());
                    break BatchOutcome::Fatal(EvalError::Fatal(message));
                }
                Err(e) => break BatchOutcome::Fatal(EvalError::Fatal(format!("executor `{name}`: {e}"))),
            };
            for ((i, request), id) in batch.into_iter().zip(requests).zip(ids) {
                let submitted = JobRecord::JobSubmitted(Job { id, request });
                record(&mut log, ask, &submitted)?;
                let JobRecord::JobSubmitted(job) = submitted else { unreachable!("built just above") };
                let slot = &mut slots[i];
                slot.job = Some(job);
                slot.since.get_or_insert_with(|| (now(), Instant::now()));
                in_flight.push(i);
            }
            flush(&mut log)?;
        }
        if in_flight.is_empty() {
            break BatchOutcome::Done;
        }

        let polled: Vec<Job> = in_flight.iter().map(|&i| slots[i].job.clone().expect("in flight")).collect();
        let states = match executor.poll(&polled).await {
            Ok(states) if states.len() == polled.len() => states,
            Ok(states) => {
                let message = format!("executor `{name}` returned {} states for {} jobs", states.len(), polled.len());
                break BatchOutcome::Fatal(EvalError::Fatal(message));
            }
            Err(e) => {
                let message = format!(
                    "executor `{name}`: {e}; its {} job(s) in flight are recorded in the run log, and a resume \
                     collects them",
                    polled.len()
                );
                break BatchOutcome::Fatal(EvalError::Fatal(message));
            }
        };
        let mut changed = false;
        let mut fatal = None;
        let mut still = Vec::with_capacity(in_flight.len());
        for (i, state) in in_flight.iter().copied().zip(states) {
            let slot = &mut slots[i];
            match state {
                JobState::Queued | JobState::Running => still.push(i),
                JobState::Finished(output) => {
                    changed = true;
                    let job = slot.job.take().expect("in flight");
                    record(
                        &mut log,
                        ask,
                        &JobRecord::JobFinished(JobEvent { host: output.host.clone(), ..JobEvent::of(&job) }),
                    )?;
                    let (started_at, duration_s) = (output.started_at.clone(), output.duration_s);
                    match output.result() {
                        Err(EvalError::Fatal(reason)) => {
                            fatal = Some(format!("job {} (trial {}, {}): {reason}", job.id, slot.trial, slot.text));
                        }
                        result => done[i] = Some(Evaluated { result, started_at, duration_s }),
                    }
                }
                JobState::Lost { reason, log_tail } => {
                    changed = true;
                    let job = slot.job.take().expect("in flight");
                    slot.lost += 1;
                    let event = JobEvent {
                        reason: Some(reason.clone()),
                        log_tail: Some(log_tail.clone()),
                        ..JobEvent::of(&job)
                    };
                    record(&mut log, ask, &JobRecord::JobLost(event))?;
                    if slot.lost <= retries {
                        remote.warnings.push(format!(
                            "job {} of trial {} ({}) ended without a result: {reason}; submitting it again (retry {} \
                             of {retries})",
                            job.id, slot.trial, slot.text, slot.lost
                        ));
                        queue.push_back(i);
                    } else {
                        let (started_at, clock) = slot.since.take().unwrap_or_else(|| (now(), Instant::now()));
                        let reason = gave_up(slot.lost, &reason, &log_tail);
                        let (result, duration_s) = (Err(EvalError::Failed(reason)), clock.elapsed().as_secs_f64());
                        done[i] = Some(Evaluated { result, started_at, duration_s });
                    }
                }
            }
        }
        in_flight = still;
        flush(&mut log)?;
        if let Some(reason) = fatal {
            cancel(&*executor, &mut slots, &in_flight, &mut log, ask, &mut remote.warnings).await?;
            break BatchOutcome::Fatal(EvalError::Fatal(reason));
        }
        if (!changed || queue.is_empty()) && !in_flight.is_empty() {
            let pause = executor.pause();
            if let Either::Right(_) = select(pause, std::pin::pin!(stop.cancelled())).await {
                continue;
            }
        }
    };
    Ok((done, outcome))
}

/// The reason of a trial whose every job ended without output.
fn gave_up(jobs: u32, reason: &str, log_tail: &str) -> String {
    let mut text = format!("its job ended without a result {jobs} time(s); the last time: {reason}");
    if !log_tail.trim().is_empty() {
        text.push_str("; the last lines of its log:\n");
        text.push_str(log_tail.trim_end());
    }
    text
}

/// Cancels the jobs in flight (the study stops) and records it.
async fn cancel(
    executor: &dyn Executor,
    slots: &mut [Slot<'_>],
    in_flight: &[usize],
    log: &mut Option<&mut RunLog>,
    ask: u64,
    warnings: &mut Vec<String>,
) -> Result<(), RunLogError> {
    let jobs: Vec<Job> = in_flight.iter().filter_map(|&i| slots[i].job.take()).collect();
    if jobs.is_empty() {
        return Ok(());
    }
    if let Err(e) = executor.cancel(&jobs).await {
        // Left recorded as submitted: a resume reattaches to them rather than submitting them again.
        let ids: Vec<String> = jobs.iter().map(|j| j.id.to_string()).collect();
        warnings.push(format!("could not cancel job(s) {}: {e}; a resume collects them", ids.join(", ")));
        return Ok(());
    }
    for job in &jobs {
        record(log, ask, &JobRecord::JobCancelled(JobEvent::of(job)))?;
    }
    flush(log)
}
