//! Running a plan: every run not yet finished, a few at once, with the grid's evaluator and executor; resumed where
//! a previous run of the grid stopped; failures collected for the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use genius_core::catalog::{BuildContext, Catalogs, JobSetup};
use genius_core::executor::Executor;
use genius_core::{Budget, CancellationToken, Evaluator, Objective, Recorded, SearchSpace, StopReason, StudyEvent};
use genius_report::{FAILURES_FILE, FailedRun, GRID_FILE};

use crate::error::{GridError, Result, chain};
use crate::experiment::{Plan, PlannedRun};
use crate::study::{StudyParts, StudySetup, run_or_resume};

/// A space and its evaluator, shared by every run on that space.
#[derive(Clone)]
pub struct SpaceParts {
    /// The space.
    pub space: Arc<dyn SearchSpace>,
    /// Its evaluator; `None` for one built per run (see [`genius_core::catalog::Entry::with_per_run`]).
    pub evaluator: Option<Arc<dyn Evaluator>>,
    /// The record of its space file for the run headers, if it was read from one.
    pub space_file: Option<serde_json::Value>,
    /// What its runs optimize (the experiment's `objectives`, checked against the evaluator's metrics); `None` for
    /// the evaluator's search metric (and, for an evaluator built per run, checked as each run builds it).
    pub objective: Option<Objective>,
}

/// What a grid reports while it runs (a progress bar); every method does nothing by default.
pub trait GridProgress: Send + Sync {
    /// A trial was evaluated (not replayed).
    fn trial(&self) {}
    /// A run reached its budget or its own end.
    fn run_finished(&self) {}
}

impl GridProgress for () {}

/// The job directory and worker command of an executor's jobs for a run in a directory, on a space, with an
/// evaluator: how this program runs one evaluation elsewhere.
pub type JobSetupFn = dyn Fn(&Path, &str, &Arc<dyn Evaluator>) -> Result<JobSetup, String> + Send + Sync;

/// How a plan runs.
pub struct Runner {
    /// The plug-ins, by name.
    pub catalogs: Arc<Catalogs>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Runs at once (at least 1).
    pub jobs: usize,
    /// Stop the grid at the first failed run.
    pub fail_fast: bool,
    /// Stops every run (cleanly, resumable) when cancelled.
    pub stop: CancellationToken,
    /// The job setup of the plan's executor, if it has one.
    pub job_setup: Option<Arc<JobSetupFn>>,
    /// Told of every trial and finished run.
    pub progress: Arc<dyn GridProgress>,
}

/// How a grid ended.
#[derive(Debug, Clone, Default)]
pub struct GridOutcome {
    /// The runs that failed, with why.
    pub failures: Vec<FailedRun>,
    /// Whether it was stopped before every run ended.
    pub interrupted: bool,
}

/// Whether the run in `dir` has what a report at `budget` evaluations needs: that many evaluations recorded and its
/// summary (which carries the evaluator's optimum the report's regret reads), or a finish of its own (the optimizer
/// done, the space exhausted) under a budget at least as large. A run killed after its last evaluation but before
/// its summary is not finished: resuming it evaluates nothing and writes the summary. A run recorded beyond `budget`
/// is never touched: the report reads its first `budget` evaluations.
pub fn finished(dir: &Path, budget: usize) -> bool {
    let Ok(recorded) = Recorded::read(dir) else { return false };
    let planned = recorded.header.budget.evaluations;
    let beyond = planned.is_some_and(|planned| planned > budget);
    (recorded.evaluations() >= budget && (recorded.summary.is_some() || beyond))
        || recorded.summary.is_some_and(|s| {
            !matches!(s.stop, StopReason::Interrupted | StopReason::Budget { .. })
                && planned.is_none_or(|planned| planned >= budget)
        })
}

impl Plan {
    /// The runs a report still needs.
    pub fn todo(&self) -> Vec<PlannedRun> {
        self.runs().filter(|r| !finished(&r.dir, r.budget)).collect()
    }

    /// The space and evaluator of every space of the plan, built from `catalogs` with the plan's evaluator (the
    /// training seed of a training evaluator is 0: every run of the grid trains a design alike), and the objective of
    /// its runs checked against the evaluator's metrics. What the evaluator needs on disk (see
    /// [`genius_core::catalog::Resource`]) must be there already.
    pub fn parts(&self, catalogs: &Catalogs, data_dir: &Path) -> Result<BTreeMap<String, SpaceParts>> {
        let entry = catalogs.evaluators.find(&self.evaluator.name)?;
        let mut parts = BTreeMap::new();
        for name in self.spaces() {
            let context = BuildContext::new(name, 0, data_dir);
            let (space, space_file) = match self.space_files.get(name) {
                Some(file) => {
                    let (space, record) = catalogs.space_file(file)?;
                    (space, Some(record))
                }
                None => (catalogs.spaces.build(name, serde_json::Value::Null, &context)?, None),
            };
            let (evaluator, objective) = if entry.per_run() {
                (None, None)
            } else {
                let context = context.with_space(&space).with_config_dir(&self.config_dir);
                let built = entry.build(self.evaluator.settings.clone(), &context);
                let evaluator = built.map_err(|e| GridError::Experiment(format!("[evaluator] {e}")))?;
                let objective = self.objective(name, evaluator.metrics())?;
                (Some(evaluator), objective)
            };
            parts.insert(name.to_owned(), SpaceParts { space, evaluator, space_file, objective });
        }
        Ok(parts)
    }

    /// Writes the grid's description (the report's input) into the output directory.
    pub fn write_info(&self, info: &genius_report::GridInfo) -> Result<()> {
        std::fs::create_dir_all(&self.out)
            .map_err(|e| GridError::Io(format!("cannot create {}: {e}", self.out.display())))?;
        genius_core::run_log::write_json_atomically(&self.out.join(GRID_FILE), info)
            .map_err(|e| GridError::Io(chain(&e)))
    }

    /// Records the grid's failed runs for the report (removing an old record when none failed).
    pub fn write_failures(&self, failures: &[FailedRun]) -> Result<()> {
        let path = self.out.join(FAILURES_FILE);
        if failures.is_empty() {
            if path.exists() {
                std::fs::remove_file(&path)
                    .map_err(|e| GridError::Io(format!("cannot remove {}: {e}", path.display())))?;
            }
            return Ok(());
        }
        genius_core::run_log::write_json_atomically(&path, &failures).map_err(|e| GridError::Io(chain(&e)))
    }
}

impl Runner {
    /// Runs every run of `plan` that is not finished, `jobs` at once, on `parts` (see [`Plan::parts`]). A run that
    /// fails is recorded in the outcome and the others go on, unless `fail_fast`: then the runs in flight stop as
    /// interrupted and the queued ones never start.
    pub async fn run(&self, plan: &Plan, parts: &BTreeMap<String, SpaceParts>) -> Result<GridOutcome> {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(self.jobs.max(1)));
        let halt = self.stop.child_token();
        let mut handles = Vec::new();
        for run in plan.todo() {
            let part = parts
                .get(&run.space)
                .ok_or_else(|| GridError::Run(format!("no evaluator was built for space `{}`", run.space)))?
                .clone();
            let (semaphore, stop, progress) = (semaphore.clone(), halt.clone(), self.progress.clone());
            let (catalogs, data_dir, job_setup) =
                (self.catalogs.clone(), self.data_dir.clone(), self.job_setup.clone());
            let executor = plan.executor.clone();
            let (evaluator, config_dir) = (plan.evaluator.clone(), plan.config_dir.clone());
            let goals = plan.objectives.get(&run.space).cloned();
            let mut setup = StudySetup {
                seed: run.seed,
                budget: Budget::evaluations(run.budget),
                settings: plan.study.clone(),
                objective: part.objective.clone(),
                context: Some(match &part.space_file {
                    Some(record) => serde_json::json!({
                        "compare": run.label,
                        "experiment": plan.name,
                        genius_core::catalog::SPACE_FILE_CONTEXT: record,
                    }),
                    None => serde_json::json!({ "compare": run.label, "experiment": plan.name }),
                }),
                stop: halt.clone(),
            };
            let fail_fast = self.fail_fast.then(|| halt.clone());
            let planned = run.clone();
            let task = tokio::spawn(async move {
                let _permit = semaphore.acquire_owned().await.expect("the semaphore is never closed");
                // Dropped on an error (`?`), it cancels the grid under fail_fast; disarmed when the run ends cleanly.
                let fail_fast = fail_fast.map(CancellationToken::drop_guard);
                if stop.is_cancelled() {
                    return Ok::<_, GridError>(false);
                }
                let context = BuildContext::new(&run.space, run.seed, &data_dir);
                let evaluator = match &part.evaluator {
                    Some(shared) => shared.clone(),
                    None => {
                        let context =
                            context.with_space(&part.space).with_run_dir(&run.dir).with_config_dir(&config_dir);
                        let built = catalogs.evaluators.build(&evaluator.name, evaluator.settings.clone(), &context)?;
                        setup.objective =
                            crate::experiment::objective_of(&run.space, goals.as_deref(), built.metrics())?;
                        built
                    }
                };
                let optimizer =
                    catalogs.optimizers.build(&run.optimizer.name, run.optimizer.settings.clone(), &context)?;
                let executor: Option<Arc<dyn Executor>> = match &executor {
                    Some(e) => {
                        let setup = job_setup.as_ref().ok_or_else(|| {
                            GridError::Run(format!("executor `{}` needs a job setup; none was given", e.name))
                        })?;
                        let jobs = setup(&run.dir, &run.space, &evaluator).map_err(GridError::Run)?;
                        let context = context.with_jobs(&evaluator, &jobs);
                        Some(catalogs.executors.build(&e.name, e.settings.clone(), &context)?)
                    }
                    None => None,
                };
                let observer = progress.clone();
                let study = StudyParts { space: part.space, evaluator, optimizer, executor }.assemble(setup).observe(
                    move |e: &StudyEvent<'_>| {
                        if let StudyEvent::Trial { replayed: false, .. } = e {
                            observer.trial();
                        }
                    },
                );
                let outcome = run_or_resume(study, &run.dir).await?;
                let done = outcome.summary.stop != StopReason::Interrupted;
                if done {
                    progress.run_finished();
                }
                if let Some(guard) = fail_fast {
                    guard.disarm();
                }
                Ok(done)
            });
            handles.push((planned, task));
        }
        let mut outcome = GridOutcome::default();
        for (run, task) in handles {
            match task.await.unwrap_or_else(|e| Err(GridError::Run(format!("the run panicked: {e}")))) {
                Ok(true) => {}
                Ok(false) => outcome.interrupted = true,
                Err(e) => outcome.failures.push(FailedRun {
                    dir: run.dir.strip_prefix(&plan.out).unwrap_or(&run.dir).to_owned(),
                    space: run.space,
                    label: run.label,
                    seed: run.seed,
                    reason: chain(&e),
                }),
            }
        }
        outcome.interrupted |= self.stop.is_cancelled();
        Ok(outcome)
    }
}
