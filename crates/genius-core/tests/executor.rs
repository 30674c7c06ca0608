//! The study runner with an executor: evaluations as jobs of a simulated scheduler that outlives the study (as a
//! cluster outlives the process that submitted to it). Jobs are submitted in batches of at most `max_in_flight`,
//! retried when they end without a result, cancelled when the study is stopped, and reattached on a resume.

use genius_core::checked::Check;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use genius_core::executor::{Executor, ExecutorError, Job, JobId, JobOutput, JobRequest, JobState};
use genius_core::testing::{ToySpace, ToyTable, UniformOptimizer};
use genius_core::{
    Architecture, Budget, CancellationToken, EvalError, Evaluation, Evaluator, Recorded, StopReason, Study,
    StudySettings, Trial, TrialStatus, async_trait,
};

/// What a job will do.
#[derive(Debug, Clone)]
enum Fate {
    /// Evaluate (with the toy table) after this many polls.
    Finish(u32),
    /// End without a result after this many polls, for this reason.
    Lose(u32, &'static str),
    /// Never end on its own.
    Hang,
}

#[derive(Debug)]
struct SimJob {
    request: JobRequest,
    polls: u32,
    fate: Fate,
    cancelled: bool,
}

/// The scheduler's state: every job ever submitted, which outlives any one executor value.
#[derive(Debug, Default)]
struct Cluster {
    next: u64,
    jobs: BTreeMap<JobId, SimJob>,
    submissions: Vec<JobRequest>,
    batches: Vec<usize>,
    cancelled: Vec<JobId>,
    in_flight: usize,
    max_seen_in_flight: usize,
}

/// Decides each job's fate from its trial and attempt.
type Plan = Arc<dyn Fn(usize, u32) -> Fate + Send + Sync>;

struct SimExecutor {
    cluster: Arc<Mutex<Cluster>>,
    plan: Plan,
    max_in_flight: usize,
    retries: u32,
    /// Fired once `submissions` reach this count (to interrupt a study with jobs queued).
    stop_after: Option<(usize, CancellationToken)>,
}

impl SimExecutor {
    fn new(cluster: &Arc<Mutex<Cluster>>, plan: Plan) -> Self {
        Self { cluster: cluster.clone(), plan, max_in_flight: 3, retries: 1, stop_after: None }
    }
}

#[async_trait]
impl Executor for SimExecutor {
    fn name(&self) -> &str {
        "sim"
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({"max_in_flight": self.max_in_flight, "retries": self.retries})
    }
    fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }
    fn retries(&self) -> u32 {
        self.retries
    }
    async fn submit(&self, requests: &[JobRequest]) -> Result<Vec<JobId>, ExecutorError> {
        let mut c = self.cluster.lock().unwrap();
        c.batches.push(requests.len());
        let mut ids = Vec::new();
        for r in requests {
            c.next += 1;
            let id = JobId(format!("{}", c.next));
            let fate = (self.plan)(r.trial, r.attempt);
            c.jobs.insert(id.clone(), SimJob { request: r.clone(), polls: 0, fate, cancelled: false });
            c.submissions.push(r.clone());
            c.in_flight += 1;
            c.max_seen_in_flight = c.max_seen_in_flight.max(c.in_flight);
            ids.push(id);
        }
        if let Some((n, token)) = &self.stop_after
            && c.submissions.len() >= *n
        {
            token.cancel();
        }
        Ok(ids)
    }
    async fn poll(&self, jobs: &[Job]) -> Result<Vec<JobState>, ExecutorError> {
        let mut c = self.cluster.lock().unwrap();
        let mut states = Vec::new();
        for job in jobs {
            let sim = c.jobs.get_mut(&job.id).expect("a job this cluster ran");
            assert_eq!(sim.request, job.request, "a job is polled with what it was submitted for");
            sim.polls += 1;
            let state = if sim.cancelled {
                JobState::Lost { reason: "CANCELLED".into(), log_tail: String::new() }
            } else {
                match sim.fate.clone() {
                    Fate::Finish(n) if sim.polls > n => {
                        let result = futures_lite_block(ToyTable::new().evaluate(&job.request.arch));
                        JobState::Finished(JobOutput::new(
                            &job.request.text,
                            result,
                            "2026-01-01T00:00:00Z".into(),
                            1.5,
                        ))
                    }
                    Fate::Lose(n, reason) if sim.polls > n => {
                        JobState::Lost { reason: reason.into(), log_tail: format!("log of job {}\nbye", job.id) }
                    }
                    _ => JobState::Running,
                }
            };
            if !matches!(state, JobState::Running) {
                c.in_flight -= 1;
            }
            states.push(state);
        }
        Ok(states)
    }
    async fn cancel(&self, jobs: &[Job]) -> Result<(), ExecutorError> {
        let mut c = self.cluster.lock().unwrap();
        for job in jobs {
            c.jobs.get_mut(&job.id).unwrap().cancelled = true;
            c.cancelled.push(job.id.clone());
            c.in_flight -= 1;
        }
        Ok(())
    }
    async fn pause(&self) {
        tokio::task::yield_now().await;
    }
}

/// Runs a future that never waits (the toy table's evaluation) to its end.
fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the toy table does not wait"),
    }
}

fn study(seed: u64, budget: usize) -> Study {
    Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
        .seed(seed)
        .budget(Budget::evaluations(budget))
        .settings(StudySettings { batch_size: 4, ..StudySettings::default() }.check().expect("valid runner settings"))
}

/// A trial without its timings.
fn key(t: &Trial) -> (usize, Architecture, TrialStatus, bool, Option<Evaluation>) {
    (t.index, t.arch.clone(), t.status.clone(), t.counted, t.evaluation.clone())
}

fn keys(trials: &[Trial]) -> Vec<(usize, Architecture, TrialStatus, bool, Option<Evaluation>)> {
    trials.iter().map(key).collect()
}

/// The data of the run log's events of one kind, read as the file has them (the wire names are part of the format).
fn events_of(dir: &std::path::Path, kind: &str) -> Vec<serde_json::Value> {
    Recorded::read(dir).unwrap().events.into_iter().filter(|e| e.event.kind == kind).map(|e| e.event.data).collect()
}

#[tokio::test]
async fn jobs_give_the_trials_of_a_local_study_within_max_in_flight() {
    let local = study(5, 14).run().await.unwrap();
    let cluster = Arc::new(Mutex::new(Cluster::default()));
    let executor = SimExecutor::new(&cluster, Arc::new(|trial, _| Fate::Finish((trial % 3) as u32)));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let remote = study(5, 14).executor(Arc::new(executor)).run_in(&dir).await.unwrap();
    assert_eq!(keys(&remote.trials), keys(&local.trials));
    assert!(local.trials.iter().any(|t| matches!(t.status, TrialStatus::Duplicate { .. })), "duplicates are not jobs");
    let c = cluster.lock().unwrap();
    let evaluated = remote.trials.iter().filter(|t| !matches!(t.status, TrialStatus::Duplicate { .. })).count();
    assert_eq!(c.submissions.len(), evaluated, "one job per evaluation");
    assert_eq!(c.max_seen_in_flight, 3, "never more than max_in_flight jobs at once");
    assert!(c.batches.iter().all(|&b| b <= 3));
    // Every job is in the run log with its id, and the trial's timings are the worker's.
    let submitted = events_of(&dir, "job_submitted");
    assert_eq!(submitted.len(), evaluated);
    assert!(submitted.iter().all(|j| j["id"].is_string() && j["attempt"] == 1));
    let evaluated_trial = remote.trials.iter().find(|t| t.status == TrialStatus::Complete).unwrap();
    assert_eq!((evaluated_trial.started_at.as_str(), evaluated_trial.duration_s), ("2026-01-01T00:00:00Z", 1.5));
    let header = Recorded::read(&dir).unwrap().header;
    assert_eq!(header.executor.as_ref().map(|e| e.name.as_str()), Some("sim"));
}

#[tokio::test]
async fn lost_jobs_are_retried_then_recorded_as_failed_with_their_reason_and_log() {
    let cluster = Arc::new(Mutex::new(Cluster::default()));
    // Trial 1 loses its first job only; trial 2 loses every job; the others finish.
    let plan: Plan = Arc::new(|trial, attempt| match (trial, attempt) {
        (1, 1) => Fate::Lose(1, "NODE_FAIL"),
        (2, _) => Fate::Lose(0, "FAILED, exit code 3"),
        _ => Fate::Finish(1),
    });
    let executor = SimExecutor { retries: 2, ..SimExecutor::new(&cluster, plan) };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let outcome = study(8, 8).executor(Arc::new(executor)).run_in(&dir).await.unwrap();
    assert_eq!(outcome.summary.stop, StopReason::Budget { limit: genius_core::BudgetLimit::Evaluations });
    assert_eq!(outcome.trials.len(), 8, "the search went on to its budget");
    let local = study(8, 8).run().await.unwrap();
    assert_eq!(outcome.trials[1].evaluation, local.trials[1].evaluation, "trial 1 succeeded on its retry");
    match &outcome.trials[2].status {
        TrialStatus::Failed { reason } => {
            assert!(reason.contains("3 time(s)") && reason.contains("FAILED, exit code 3"), "{reason}");
            assert!(reason.contains("log of job") && reason.ends_with("bye"), "{reason}");
        }
        other => panic!("trial 2 should have failed, not {other:?}"),
    }
    let c = cluster.lock().unwrap();
    let attempts = |trial| c.submissions.iter().filter(|r| r.trial == trial).map(|r| r.attempt).collect::<Vec<_>>();
    assert_eq!(attempts(1), [1, 2]);
    assert_eq!(attempts(2), [1, 2, 3], "two retries, then given up");
    assert_eq!(events_of(&dir, "job_lost").len(), 4);
}

#[tokio::test]
async fn an_evaluation_that_fails_is_a_result_and_not_retried() {
    // [0, 0, 1] always fails in the toy table: as a job, it finishes with that failure as its output.
    let script = [[0u16, 0, 1], [1, 1, 0]].map(|c| Architecture::new(c.to_vec()));
    let optimizer = genius_core::testing::ScriptedOptimizer::new(script);
    let cluster = Arc::new(Mutex::new(Cluster::default()));
    let executor = SimExecutor::new(&cluster, Arc::new(|_, _| Fate::Finish(0)));
    let outcome = Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(optimizer))
        .budget(Budget::evaluations(2))
        .executor(Arc::new(executor))
        .run()
        .await
        .unwrap();
    assert!(matches!(&outcome.trials[0].status, TrialStatus::Failed { reason } if reason.contains("always fails")));
    assert_eq!(outcome.trials[1].status, TrialStatus::Complete);
    assert_eq!(cluster.lock().unwrap().submissions.len(), 2);
}

#[tokio::test]
async fn a_stopped_study_cancels_its_jobs_and_a_resume_submits_them_again() {
    let cluster = Arc::new(Mutex::new(Cluster::default()));
    let stop = CancellationToken::new();
    let plan: Plan = Arc::new(|trial, attempt| if attempt == 1 && trial < 3 { Fate::Hang } else { Fate::Finish(0) });
    let executor = SimExecutor { stop_after: Some((3, stop.clone())), ..SimExecutor::new(&cluster, plan.clone()) };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let first = study(3, 8).executor(Arc::new(executor)).stop_on(stop).run_in(&dir).await.unwrap();
    assert_eq!(first.summary.stop, StopReason::Interrupted);
    assert!(first.trials.is_empty());
    let cancelled = cluster.lock().unwrap().cancelled.clone();
    assert_eq!(cancelled.len(), 3, "the study cancels every job it owns");
    assert_eq!(events_of(&dir, "job_cancelled").len(), 3);

    let executor = SimExecutor::new(&cluster, plan);
    let resumed = study(3, 8).executor(Arc::new(executor)).resume(Recorded::read(&dir).unwrap()).await.unwrap();
    let local = study(3, 8).run().await.unwrap();
    assert_eq!(keys(&resumed.trials), keys(&local.trials));
    let c = cluster.lock().unwrap();
    let again: Vec<&JobRequest> = c.submissions[3..].iter().filter(|r| r.trial < 3).collect();
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|r| r.attempt == 2), "cancelled jobs run again as new attempts: {again:?}");
    assert!(Recorded::read(&dir).unwrap().events.iter().all(|e| e.event.kind != "job_lost"), "a cancel is no failure");
}

#[tokio::test]
async fn a_killed_study_resumes_by_polling_its_jobs_instead_of_submitting_them_again() {
    let cluster = Arc::new(Mutex::new(Cluster::default()));
    // Jobs take 4 polls; the study is dropped (a killed process) while its second batch is in flight.
    let plan: Plan = Arc::new(|_, _| Fate::Finish(4));
    let executor = SimExecutor::new(&cluster, plan.clone());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let watched = cluster.clone();
    let study_run = study(9, 10).executor(Arc::new(executor)).run_in(&dir);
    tokio::select! {
        _ = study_run => panic!("the study should be killed before it ends"),
        _ = async {
            while watched.lock().unwrap().submissions.len() < 6 {
                tokio::task::yield_now().await;
            }
        } => {}
    }
    let before: Vec<JobRequest> = cluster.lock().unwrap().submissions.clone();
    let recorded = Recorded::read(&dir).unwrap();
    let recorded_trials = recorded.trials.len();
    assert!(recorded_trials < 10, "killed mid-run: {recorded_trials} trial(s) recorded");

    let executor = SimExecutor::new(&cluster, plan);
    let resumed = study(9, 10).executor(Arc::new(executor)).resume(recorded).await.unwrap();
    let local = study(9, 10).run().await.unwrap();
    assert_eq!(keys(&resumed.trials), keys(&local.trials));
    let c = cluster.lock().unwrap();
    let mut per_trial: HashMap<usize, usize> = HashMap::new();
    for r in &c.submissions {
        *per_trial.entry(r.trial).or_default() += 1;
    }
    assert!(per_trial.values().all(|&n| n == 1), "no job submitted twice: {:?}", c.submissions);
    assert_eq!(&c.submissions[..before.len()], &before[..]);
    let reattached = events_of(&dir, "job_reattached");
    assert!(!reattached.is_empty(), "the resume polled the jobs in flight at the kill");
}

#[tokio::test]
async fn a_job_whose_evaluator_cannot_work_stops_the_study() {
    struct Broken;
    #[async_trait]
    impl Executor for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn settings(&self) -> serde_json::Value {
            serde_json::Value::Null
        }
        fn max_in_flight(&self) -> usize {
            2
        }
        fn retries(&self) -> u32 {
            0
        }
        async fn submit(&self, requests: &[JobRequest]) -> Result<Vec<JobId>, ExecutorError> {
            Ok(requests.iter().map(|r| JobId(r.key())).collect())
        }
        async fn poll(&self, jobs: &[Job]) -> Result<Vec<JobState>, ExecutorError> {
            let fatal = Err(EvalError::Fatal("the table is missing on node n1".into()));
            Ok(jobs
                .iter()
                .map(|j| JobState::Finished(JobOutput::new(&j.request.text, fatal.clone(), String::new(), 0.0)))
                .collect())
        }
        async fn cancel(&self, _: &[Job]) -> Result<(), ExecutorError> {
            Ok(())
        }
        async fn pause(&self) {}
    }
    let err = study(1, 4).executor(Arc::new(Broken)).run().await.unwrap_err();
    assert!(err.to_string().contains("the table is missing on node n1"), "{err}");
}
