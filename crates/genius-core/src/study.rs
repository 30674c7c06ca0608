//! The study runner: ask → evaluate (bounded concurrency) → tell, until the budget is spent, with a run log that a
//! later session resumes from.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures::future::{BoxFuture, Either, select};
use futures::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::checked::{Check, Checked};
use crate::executor::Executor;
use crate::run_log::{Component, LOG_FORMAT, Recorded, RunHeader, RunLog, RunLogError};
use crate::{
    ArchMap, Architecture, AskContext, Budget, BudgetLimit, EvalError, Evaluation, Evaluator, Flush, Objective,
    ObjectiveError, Observation, Observer, Optimizer, OptimizerError, OptimizerEvent, Optimum, SearchRng, SearchSpace,
    SpaceExt, Spend, StudyEvent, Trial, TrialStatus, rng,
};

/// Whether re-proposing an evaluated architecture uses up budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePolicy {
    /// A duplicate counts as a query, as a real benchmark query would (the default, and the GENIUS protocol).
    #[default]
    Count,
    /// A duplicate is answered for free; a study whose optimizer proposes nothing new for
    /// [`StudySettings::max_idle_asks`] asks in a row stops as stalled.
    Free,
}

/// How the runner drives a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StudySettings {
    /// Architectures asked for at once (a batch is evaluated, then told, together).
    pub batch_size: usize,
    /// Evaluations running at once within a batch.
    pub concurrency: usize,
    /// Whether duplicates use up budget.
    pub duplicates: DuplicatePolicy,
    /// Consecutive asks that add no counted trial before the study stops as stalled.
    pub max_idle_asks: usize,
    /// How eagerly the run log reaches the disk.
    pub flush: Flush,
}

impl Default for StudySettings {
    fn default() -> Self {
        Self {
            batch_size: 1,
            concurrency: 1,
            duplicates: DuplicatePolicy::Count,
            max_idle_asks: 100,
            flush: Flush::Trial,
        }
    }
}

/// Why runner settings are invalid: one variant per field that can be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StudySettingsError {
    /// `batch_size` is 0.
    #[error("`batch_size` must be at least 1 (got 0)")]
    BatchSize,
    /// `concurrency` is 0.
    #[error("`concurrency` must be at least 1 (got 0)")]
    Concurrency,
    /// `max_idle_asks` is 0.
    #[error("`max_idle_asks` must be at least 1 (got 0)")]
    MaxIdleAsks,
}

impl Check for StudySettings {
    type Error = StudySettingsError;

    /// Checks every field: the batch, the concurrency and the idle asks are at least 1.
    fn check_ref(&self) -> Result<(), StudySettingsError> {
        if self.batch_size == 0 {
            return Err(StudySettingsError::BatchSize);
        }
        if self.concurrency == 0 {
            return Err(StudySettingsError::Concurrency);
        }
        if self.max_idle_asks == 0 {
            return Err(StudySettingsError::MaxIdleAsks);
        }
        Ok(())
    }
}

/// Why a study ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    /// A budget limit was reached.
    Budget {
        /// Which one.
        limit: BudgetLimit,
    },
    /// The optimizer proposed nothing (it has nothing more to try, or it chose to stop).
    OptimizerDone,
    /// The optimizer proposed nothing new for too many asks in a row (a small space is exhausted).
    Stalled,
    /// Every architecture of the (finite) space has been evaluated: only duplicates remain to be proposed.
    SpaceExhausted,
    /// Stopped from outside (Ctrl-C); the run can be resumed.
    Interrupted,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Budget { limit } => {
                write!(f, "budget spent ({})", serde_json::to_value(limit).unwrap_or_default().as_str().unwrap_or(""))
            }
            Self::OptimizerDone => f.write_str("the optimizer had nothing more to propose"),
            Self::Stalled => f.write_str("the optimizer kept re-proposing evaluated architectures"),
            Self::SpaceExhausted => f.write_str("every architecture of the space has been evaluated"),
            Self::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// The end state of a study, written to `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Why it ended.
    pub stop: StopReason,
    /// What it spent.
    pub spend: Spend,
    /// Trials evaluated.
    pub completed: usize,
    /// Trials answered from history.
    pub duplicates: usize,
    /// Trials whose evaluation failed.
    pub failed: usize,
    /// Proposals outside the space or its constraint.
    pub invalid: usize,
    /// The best trial by the objective (the search metric, feasible only).
    pub best: Option<Trial>,
    /// For a multi-objective search, the indices of the trials on the Pareto front of every objective (evaluated
    /// here, feasible, not dominated by another trial; a duplicate counts through its original), in trial order.
    /// Empty, and absent from `summary.json`, for a single objective.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub front: Vec<usize>,
    /// The evaluator's optimum by the reported metric, when it knows it.
    pub optimum: Option<Optimum>,
    /// When it ended (RFC 3339, UTC).
    pub finished_at: String,
}

/// A finished study: every trial and the summary.
#[derive(Debug, Clone)]
pub struct StudyOutcome {
    /// Every trial, in order (replayed ones included).
    pub trials: Vec<Trial>,
    /// The summary.
    pub summary: Summary,
}

impl StudyOutcome {
    /// The best trial by the objective.
    pub fn best(&self) -> Option<&Trial> {
        self.summary.best.as_ref()
    }
}

/// Why a study could not run to a clean stop. What was recorded before the error stays in the run log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StudyError {
    /// Invalid budget or runner settings.
    #[error("invalid study settings: {0}")]
    Settings(String),
    /// The objective does not fit the evaluator.
    #[error(transparent)]
    Objective(#[from] ObjectiveError),
    /// The evaluator failed for good.
    #[error("{error}; {recorded} trial(s) are recorded and the run can be resumed once this is fixed")]
    Evaluator {
        /// The evaluator's error.
        error: EvalError,
        /// Trials recorded before it.
        recorded: usize,
    },
    /// The optimizer failed for good.
    #[error("optimizer `{name}` failed: {error}")]
    Optimizer {
        /// Its name.
        name: String,
        /// Its error.
        error: OptimizerError,
    },
    /// The run log could not be read or written.
    #[error(transparent)]
    RunLog(#[from] RunLogError),
    /// A resumed study was given a smaller evaluation budget than the run has already spent.
    #[error(
        "cannot resume with a budget of {budget} evaluations: the run has recorded {recorded}; a run is never \
         shortened (a report at a smaller budget reads only the first evaluations)"
    )]
    BudgetBelowRecord {
        /// The budget asked for.
        budget: usize,
        /// The evaluations recorded.
        recorded: usize,
    },
    /// A resumed study differs from the recorded one.
    #[error("cannot resume: the {field} differs from the recorded run (recorded {recorded}, now {now})")]
    Mismatch {
        /// What differs.
        field: &'static str,
        /// The recorded value.
        recorded: String,
        /// The value now.
        now: String,
    },
}

/// A search: a space, an evaluator, an optimizer, an objective, a budget and a seed, driven to the end.
///
/// ```
/// # use std::sync::Arc;
/// # use genius_core::{Budget, Study, testing::{ToySpace, ToyTable, UniformOptimizer}};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let outcome = Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
///     .seed(7)
///     .budget(Budget::evaluations(10))
///     .run()
///     .await
///     .unwrap();
/// assert_eq!(outcome.trials.len(), 10);
/// # });
/// ```
pub struct Study {
    space: Arc<dyn SearchSpace>,
    evaluator: Arc<dyn Evaluator>,
    optimizer: Box<dyn Optimizer>,
    objective: Objective,
    budget: Budget,
    settings: StudySettings,
    seed: u64,
    context: serde_json::Value,
    observers: Vec<Box<dyn Observer>>,
    stop: CancellationToken,
    executor: Option<Arc<dyn Executor>>,
}

impl Study {
    /// A study with the evaluator's default objective, seed 0, the default settings and no budget yet.
    pub fn new(space: Arc<dyn SearchSpace>, evaluator: Arc<dyn Evaluator>, optimizer: Box<dyn Optimizer>) -> Self {
        let objective = Objective::from_spec(evaluator.metrics());
        Self {
            space,
            evaluator,
            optimizer,
            objective,
            budget: Budget::default(),
            settings: StudySettings::default(),
            seed: 0,
            context: serde_json::Value::Null,
            observers: Vec::new(),
            stop: CancellationToken::new(),
            executor: None,
        }
    }

    /// Sets the seed of the study's generator.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the budget.
    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// Sets the objective.
    pub fn objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }

    /// Sets the runner settings, checked ([`Check::check`]).
    pub fn settings(mut self, settings: Checked<StudySettings>) -> Self {
        self.settings = settings.into_inner();
        self
    }

    /// Adds caller context to the run header (the command line, data files).
    pub fn context(mut self, context: serde_json::Value) -> Self {
        self.context = context;
        self
    }

    /// Adds an observer.
    pub fn observe(mut self, observer: impl Observer + 'static) -> Self {
        self.observers.push(Box::new(observer));
        self
    }

    /// Uses `token` to stop the study: cancelling it ends the study cleanly after recording what has finished.
    pub fn stop_on(mut self, token: CancellationToken) -> Self {
        self.stop = token;
        self
    }

    /// Runs the evaluations as jobs of `executor` (see [`crate::executor`]) instead of in this process. The
    /// evaluator still names the metrics and the optimum, and its settings are what every job evaluates with.
    /// [`StudySettings::concurrency`] does not apply: the executor's [`Executor::max_in_flight`] does, and a batch
    /// ([`StudySettings::batch_size`]) is what can run at once.
    pub fn executor(mut self, executor: Arc<dyn Executor>) -> Self {
        self.executor = Some(executor);
        self
    }

    /// The header this study writes to its run log.
    pub fn header(&self) -> RunHeader {
        RunHeader {
            format: LOG_FORMAT,
            genius_version: env!("CARGO_PKG_VERSION").to_owned(),
            created_at: now(),
            seed: self.seed,
            space: self.space.name().to_owned(),
            optimizer: Component { name: self.optimizer.name().to_owned(), settings: self.optimizer.settings() },
            evaluator: Component { name: self.evaluator.name().to_owned(), settings: self.evaluator.settings() },
            objective: self.objective.clone(),
            metrics: self.evaluator.metrics().clone(),
            budget: self.budget.clone(),
            settings: self.settings.clone(),
            executor: self.executor.as_ref().map(|e| Component { name: e.name().to_owned(), settings: e.settings() }),
            context: self.context.clone(),
        }
    }

    /// Checks the budget, the settings and the objective, as every run does before it starts. A multi-objective
    /// study needs an optimizer that searches several objectives ([`Optimizer::multi_objective`]).
    pub fn check(&self) -> Result<(), StudyError> {
        self.budget.check().map_err(StudyError::Settings)?;
        self.evaluator.metrics().check().map_err(StudyError::Settings)?;
        self.objective.check(self.evaluator.metrics())?;
        if self.objective.is_multi() && !self.optimizer.multi_objective() {
            return Err(StudyError::Settings(format!(
                "optimizer `{}` searches a single objective, and this study has {} ({}); choose one that searches \
                 several (`genius optimizers` says \"any number of objectives\" of them), or give one objective",
                self.optimizer.name(),
                self.objective.count(),
                self.objective
            )));
        }
        Ok(())
    }

    /// The trials on the Pareto front of a multi-objective study: complete, feasible, and not dominated.
    fn front(&self, state: &State) -> Vec<usize> {
        if !self.objective.is_multi() {
            return Vec::new();
        }
        let points: Vec<(usize, Vec<f64>)> = state
            .history
            .iter()
            .filter(|o| !o.duplicate)
            .filter_map(|o| o.scores(&self.objective).map(|s| (o.trial, s)))
            .collect();
        let scores: Vec<&[f64]> = points.iter().map(|(_, s)| s.as_slice()).collect();
        crate::pareto::non_dominated(&scores).into_iter().map(|i| points[i].0).collect()
    }

    /// Runs the study in memory, with no run log.
    pub async fn run(self) -> Result<StudyOutcome, StudyError> {
        self.check()?;
        self.drive(None, None).await
    }

    /// Runs the study with its run log in `dir`, which must not hold a run yet.
    pub async fn run_in(self, dir: &Path) -> Result<StudyOutcome, StudyError> {
        self.check()?;
        let log = RunLog::create(dir, &self.header(), self.settings.flush)?;
        self.drive(Some(log), None).await
    }

    /// Resumes the run `recorded`: replays its trials through the optimizer without evaluating them, then goes on
    /// until the budget (which may differ from the recorded one) is spent. Everything else must match the record.
    pub async fn resume(self, recorded: Recorded) -> Result<StudyOutcome, StudyError> {
        self.check()?;
        let now = self.header();
        let was = &recorded.header;
        same("space", &was.space, &now.space)?;
        same("seed", &was.seed, &now.seed)?;
        same("optimizer", &was.optimizer, &now.optimizer)?;
        same("evaluator", &was.evaluator, &now.evaluator)?;
        same("objective", &was.objective, &now.objective)?;
        same("batch size", &was.settings.batch_size, &now.settings.batch_size)?;
        same("duplicate policy", &was.settings.duplicates, &now.settings.duplicates)?;
        let spent = recorded.evaluations();
        if let Some(budget) = self.budget.evaluations.filter(|&b| b < spent) {
            return Err(StudyError::BudgetBelowRecord { budget, recorded: spent });
        }
        let log = RunLog::reopen(&recorded, self.settings.flush)?;
        self.drive(Some(log), Some(recorded)).await
    }

    fn notify(observers: &mut [Box<dyn Observer>], event: &StudyEvent<'_>) {
        for o in observers {
            o.observe(event);
        }
    }

    async fn drive(mut self, mut log: Option<RunLog>, recorded: Option<Recorded>) -> Result<StudyOutcome, StudyError> {
        let header = recorded.as_ref().map_or_else(|| self.header(), |r| r.header.clone());
        let mut remote = self.remote(&header, recorded.as_ref());
        let mut replay = Replay::of(recorded);
        Self::notify(&mut self.observers, &StudyEvent::Started { header: &header, recorded: replay.trials.len() });

        let mut state = State::default();
        let mut rng = rng::seeded(self.seed);
        let started = Instant::now();
        let stop = loop {
            state.spend.elapsed_s = replay.elapsed_offset + started.elapsed().as_secs_f64();
            if let Some(stop) = self.stop_reason(&state) {
                break stop;
            }
            let remaining = self.budget.remaining_evaluations(&state.spend);
            let n = remaining.map_or(self.settings.batch_size, |r| r.min(self.settings.batch_size));
            state.asks += 1;
            let Some(asked) = self.ask(&state, &mut rng, remaining, n).await else {
                break StopReason::Interrupted;
            };
            Self::record_events(&mut state, &asked.events, &replay, log.as_mut())?;
            let mut proposals = asked.proposals.map_err(|error| {
                if let Some(log) = log.as_mut() {
                    let _ = log.flush();
                }
                StudyError::Optimizer { name: self.optimizer.name().to_owned(), error }
            })?;
            let failed = failed_queries(&asked.events);
            if proposals.is_empty() && failed.is_empty() {
                break StopReason::OptimizerDone;
            }
            if !failed.is_empty() {
                self.record_failed_queries(&mut state, &mut replay, failed, n, log.as_mut())?;
                if proposals.is_empty() {
                    continue;
                }
            }
            let n = self.budget.remaining_evaluations(&state.spend).map_or(n, |r| r.min(n));
            if n == 0 {
                continue;
            }
            self.drop_extra(&mut proposals, n);

            // What the optimizer is told of this batch: the observations recorded from here on.
            let told_from = state.history.len();
            let counted_before = state.spend.evaluations;
            let fresh = match self.replay(&mut state, &mut replay, proposals)? {
                Replayed::Diverged => {
                    self.optimizer.tell(&state.history[told_from..]);
                    continue;
                }
                Replayed::Fresh(fresh) => fresh,
            };
            let parts =
                Parts { space: &*self.space, evaluator: &*self.evaluator, settings: &self.settings, stop: &self.stop };
            let jobs = remote.as_mut().map(|r| (r, log.as_mut()));
            let (trials, outcome) = Self::evaluate(parts, &state, fresh, jobs).await;
            for warning in remote.as_mut().map(|r| std::mem::take(&mut r.warnings)).unwrap_or_default() {
                Self::notify(&mut self.observers, &StudyEvent::Warning(&warning));
            }
            self.record(&mut state, trials, log.as_mut(), false)?;
            state.idle = if state.spend.evaluations > counted_before { 0 } else { state.idle + 1 };
            match outcome {
                BatchOutcome::Done => self.optimizer.tell(&state.history[told_from..]),
                BatchOutcome::Interrupted => break StopReason::Interrupted,
                BatchOutcome::Fatal(error) => {
                    if let Some(log) = log.as_mut() {
                        log.flush()?;
                    }
                    return Err(StudyError::Evaluator { error, recorded: state.trials.len() });
                }
                BatchOutcome::Log(error) => return Err(error.into()),
            }
        };
        state.spend.elapsed_s = replay.elapsed_offset + started.elapsed().as_secs_f64();
        let summary = self.summarise(&state, stop);
        if let Some(log) = log.as_mut() {
            log.finish(&summary)?;
        }
        Self::notify(&mut self.observers, &StudyEvent::Finished(&summary));
        Ok(StudyOutcome { trials: state.trials, summary })
    }

    /// The executor's side of the study, with the jobs an earlier session of this run submitted through the same
    /// kind of executor (they are polled again, not submitted again).
    fn remote(&self, header: &RunHeader, recorded: Option<&Recorded>) -> Option<remote::Remote> {
        self.executor.clone().map(|executor| {
            let same = header.executor.as_ref().is_some_and(|e| e.name == executor.name());
            let recorded = match recorded {
                Some(r) if same => crate::executor::recorded_jobs(&r.events),
                _ => Default::default(),
            };
            remote::Remote { executor, recorded, warnings: Vec::new() }
        })
    }

    /// Step 1: why the study stops before the next ask, if it does.
    fn stop_reason(&self, state: &State) -> Option<StopReason> {
        // A space with a constraint may never have all of its product evaluated; it stalls or spends its budget.
        let cardinality = self.space.cardinality();
        if self.stop.is_cancelled() {
            Some(StopReason::Interrupted)
        } else if let Some(limit) = self.budget.exhausted(&state.spend) {
            Some(StopReason::Budget { limit })
        } else if cardinality > 0 && state.seen.len() as u128 >= cardinality {
            Some(StopReason::SpaceExhausted)
        } else if state.idle >= self.settings.max_idle_asks {
            Some(StopReason::Stalled)
        } else {
            None
        }
    }

    /// Step 2: asks the optimizer for `n` architectures; `None` when the study was stopped meanwhile.
    async fn ask(&mut self, state: &State, rng: &mut SearchRng, remaining: Option<usize>, n: usize) -> Option<Asked> {
        let mut events = Vec::new();
        let proposals = {
            let mut ctx = AskContext {
                space: &*self.space,
                objective: &self.objective,
                history: &state.history,
                remaining,
                rng,
                events: &mut events,
            };
            let ask = self.optimizer.ask(&mut ctx, n);
            match select(ask, std::pin::pin!(self.stop.cancelled())).await {
                Either::Left((proposals, _)) => proposals,
                Either::Right(_) => return None,
            }
        };
        Some(Asked { proposals, events })
    }

    /// Step 3: adds what the ask spent to the study's spend, and writes its events to the log unless the log holds
    /// them already (a resumed ask whose trials are recorded).
    fn record_events(
        state: &mut State,
        events: &[OptimizerEvent],
        replay: &Replay,
        mut log: Option<&mut RunLog>,
    ) -> Result<(), StudyError> {
        for event in events {
            state.spend.usage.add(&event.usage);
            if state.asks > replay.events_through
                && let Some(log) = log.as_deref_mut()
            {
                log.append_event(state.asks, event)?;
            }
        }
        Ok(())
    }

    /// Step 4, for queries the optimizer could not turn into a proposal: each is an invalid trial with no
    /// architecture (replayed from the log on resume, where the optimizer fails the same way), told at once.
    fn record_failed_queries(
        &mut self,
        state: &mut State,
        replay: &mut Replay,
        failed: Vec<String>,
        n: usize,
        log: Option<&mut RunLog>,
    ) -> Result<(), StudyError> {
        let told_from = state.history.len();
        let counted_before = state.spend.evaluations;
        let (mut replayed, mut fresh) = (Vec::new(), Vec::new());
        for reason in failed.into_iter().take(n) {
            if replay.trials.front().is_some_and(Trial::is_failed_query) {
                replayed.push(replay.trials.pop_front().expect("front exists"));
            } else if replay.trials.is_empty() {
                let index = state.trials.len() + replayed.len() + fresh.len();
                fresh.push(Trial::failed_query(index, state.asks, &reason, now()));
            }
        }
        if !replay.trials.is_empty() && replayed.is_empty() {
            // The log holds a proposal where the optimizer now fails: keep the log and go on from it.
            replayed.extend(replay.trials.drain(..));
        }
        self.record(state, replayed, None, true)?;
        self.record(state, fresh, log, false)?;
        state.idle = if state.spend.evaluations > counted_before { 0 } else { state.idle + 1 };
        self.optimizer.tell(&state.history[told_from..]);
        Ok(())
    }

    /// Drops what an optimizer proposed beyond the `n` it was asked for, with a warning.
    fn drop_extra(&mut self, proposals: &mut Vec<Architecture>, n: usize) {
        if proposals.len() > n {
            let message = format!(
                "optimizer `{}` proposed {} architectures when asked for {n}; the extra ones were dropped",
                self.optimizer.name(),
                proposals.len()
            );
            Self::notify(&mut self.observers, &StudyEvent::Warning(&message));
            proposals.truncate(n);
        }
    }

    /// Step 5: records the trials the log already holds, as long as the optimizer proposes them again, and returns
    /// the proposals left to evaluate. Where it proposes something else, the rest of the log is recorded too (and
    /// the search goes on from there, with a warning).
    fn replay(
        &mut self,
        state: &mut State,
        replay: &mut Replay,
        mut proposals: Vec<Architecture>,
    ) -> Result<Replayed, StudyError> {
        let mut replayed = Vec::new();
        while replayed.len() < proposals.len()
            && let Some(front) = replay.trials.front()
        {
            if front.arch == proposals[replayed.len()] {
                replayed.push(replay.trials.pop_front().expect("front exists"));
            } else {
                break;
            }
        }
        if !replay.trials.is_empty() && replayed.len() < proposals.len() {
            let message = format!(
                "the optimizer diverged from the run log at trial {} (proposed {}, the log holds {}); the remaining {} \
                 recorded trial(s) are kept and told to it, and the search goes on from there",
                state.trials.len() + replayed.len(),
                self.space.format(&proposals[replayed.len()]),
                replay.trials.front().map(|t| t.text.as_str()).unwrap_or(""),
                replay.trials.len()
            );
            Self::notify(&mut self.observers, &StudyEvent::Warning(&message));
            replayed.extend(replay.trials.drain(..));
            self.record(state, replayed, None, true)?;
            return Ok(Replayed::Diverged);
        }
        let fresh = proposals.split_off(replayed.len());
        self.record(state, replayed, None, true)?;
        Ok(Replayed::Fresh(fresh))
    }

    /// Step 6: classifies a batch of new proposals (invalid, duplicate, to evaluate), evaluates what needs it, and
    /// returns the batch's trials in proposal order: all of them, or the prefix finished before an interruption or
    /// a fatal error.
    ///
    /// It borrows only the parts it needs (not the whole study, whose optimizer need not be `Sync`), so that a study's
    /// future is `Send` and can run on a multi-threaded runtime. With an executor (`remote`), evaluations are jobs.
    async fn evaluate(
        parts: Parts<'_>,
        state: &State,
        proposals: Vec<Architecture>,
        remote: Option<(&mut remote::Remote, Option<&mut RunLog>)>,
    ) -> (Vec<Trial>, BatchOutcome) {
        let (plans, jobs) = classify(&parts, state, &proposals);
        let (done, outcome) = match remote.filter(|_| !jobs.is_empty()) {
            Some((remote, log)) => {
                let base = state.trials.len();
                let trials =
                    plans.iter().enumerate().filter(|(_, p)| matches!(p, Plan::Evaluate(_))).map(|(pos, _)| base + pos);
                let work = trials.zip(&jobs).map(|(trial, arch)| (trial, *arch, parts.space.format(arch))).collect();
                match remote::evaluate(remote, log, state.asks, work, parts.stop).await {
                    Ok(finished) => finished,
                    Err(error) => (Vec::new(), BatchOutcome::Log(error)),
                }
            }
            None => evaluate_here(&parts, &jobs).await,
        };
        let trials = assemble(&parts, state, &proposals, plans, done);
        (trials, outcome)
    }

    /// Step 7: the end state.
    fn summarise(&self, state: &State, stop: StopReason) -> Summary {
        let count = |f: fn(&TrialStatus) -> bool| state.trials.iter().filter(|t| f(&t.status)).count();
        Summary {
            stop,
            spend: state.spend.clone(),
            completed: count(|s| matches!(s, TrialStatus::Complete)),
            duplicates: count(|s| matches!(s, TrialStatus::Duplicate { .. })),
            failed: count(|s| matches!(s, TrialStatus::Failed { .. })),
            invalid: count(|s| matches!(s, TrialStatus::Invalid { .. })),
            best: state.best.map(|i| state.trials[i].clone()),
            front: self.front(state),
            optimum: self.evaluator.optimum(),
            finished_at: now(),
        }
    }

    /// Adds trials to the study state (and the log, unless replayed) and notifies observers. What the optimizer is
    /// told of them is appended to `state.history`, one observation per trial.
    fn record(
        &mut self,
        state: &mut State,
        trials: Vec<Trial>,
        mut log: Option<&mut RunLog>,
        replayed: bool,
    ) -> Result<(), StudyError> {
        for mut trial in trials {
            if !replayed {
                trial.elapsed_s = state.spend.elapsed_s.max(state.trials.last().map_or(0.0, |t| t.elapsed_s));
                if let Some(log) = log.as_deref_mut() {
                    log.append_trial(&trial)?;
                }
            }
            let observation = Observation::of(&trial, &self.objective, self.evaluator.metrics());
            if matches!(trial.status, TrialStatus::Complete | TrialStatus::Failed { .. }) {
                state.seen.entry(trial.arch.clone()).or_insert(trial.index);
            }
            if let Some(score) = observation.score
                && state.best_score.is_none_or(|b| score > b)
            {
                state.best_score = Some(score);
                state.best = Some(trial.index);
            }
            state.spend.trials += 1;
            state.spend.evaluations += usize::from(trial.counted);
            state.history.push(observation);
            state.trials.push(trial);
            let trial = state.trials.last().expect("just pushed");
            let best = state.best.map(|i| &state.trials[i]);
            let event = StudyEvent::Trial { trial, best, spend: &state.spend, replayed };
            Self::notify(&mut self.observers, &event);
        }
        Ok(())
    }
}

/// The reasons of the queries an ask could not turn into a proposal ([`AskContext::fail_query`]).
fn failed_queries(events: &[OptimizerEvent]) -> Vec<String> {
    events.iter().filter_map(|e| e.decode().map(|crate::AskEvent::QueryFailed { reason }| reason)).collect()
}

/// What becomes of one proposal of a batch.
enum Plan {
    /// Outside the space or its constraint, for this reason.
    Invalid(String),
    /// Evaluated before, as this trial.
    Seen(usize),
    /// Proposed earlier in the same batch, at this position.
    SameAs(usize),
    /// To evaluate, as this job of the batch.
    Evaluate(usize),
}

/// Plans every proposal of a batch, and lists the architectures to evaluate (each once).
fn classify<'a>(parts: &Parts<'_>, state: &State, proposals: &'a [Architecture]) -> (Vec<Plan>, Vec<&'a Architecture>) {
    let mut plans = Vec::with_capacity(proposals.len());
    let mut jobs: Vec<&Architecture> = Vec::new();
    for (pos, arch) in proposals.iter().enumerate() {
        let plan = if let Err(e) = parts.space.validate(arch) {
            Plan::Invalid(e.to_string())
        } else if let Err(v) = parts.space.check(arch) {
            Plan::Invalid(format!("violates the space's constraint: {v}"))
        } else if let Some(&of) = state.seen.get(arch) {
            Plan::Seen(of)
        } else if let Some(earlier) = proposals[..pos].iter().position(|a| a == arch) {
            Plan::SameAs(earlier)
        } else {
            jobs.push(arch);
            Plan::Evaluate(jobs.len() - 1)
        };
        plans.push(plan);
    }
    (plans, jobs)
}

/// Evaluates `jobs` in this process, [`StudySettings::concurrency`] at a time: their results in order, all of them
/// or those finished before an interruption or a fatal error.
async fn evaluate_here(parts: &Parts<'_>, jobs: &[&Architecture]) -> (Vec<Option<Evaluated>>, BatchOutcome) {
    let evaluator = parts.evaluator;
    let mut done: Vec<Option<Evaluated>> = Vec::with_capacity(jobs.len());
    if parts.settings.concurrency == 1 || jobs.len() <= 1 {
        // One at a time, in order: the same as a stream buffered by one, without its machinery (the runner's hot
        // path for table look-ups).
        for arch in jobs {
            let started_at = now();
            let clock = Instant::now();
            let evaluation = std::pin::pin!(evaluator.evaluate(arch));
            let result = match select(evaluation, std::pin::pin!(parts.stop.cancelled())).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => return (done, BatchOutcome::Interrupted),
            };
            if let Err(EvalError::Fatal(_)) = &result {
                return (done, BatchOutcome::Fatal(result.unwrap_err()));
            }
            done.push(Some(Evaluated { result, started_at, duration_s: clock.elapsed().as_secs_f64() }));
        }
        return (done, BatchOutcome::Done);
    }
    // Boxed with an explicit type: a closure returning an `async` block would not be provably `Send` for every
    // lifetime, which a multi-threaded runtime needs.
    let futures: Vec<BoxFuture<'_, Evaluated>> = jobs
        .iter()
        .map(|arch| {
            Box::pin(async move {
                let started_at = now();
                let clock = Instant::now();
                let result = evaluator.evaluate(arch).await;
                Evaluated { result, started_at, duration_s: clock.elapsed().as_secs_f64() }
            }) as BoxFuture<'_, _>
        })
        .collect();
    let mut results = stream::iter(futures).buffered(parts.settings.concurrency);
    while done.len() < jobs.len() {
        match select(results.next(), Box::pin(parts.stop.cancelled())).await {
            Either::Left((Some(evaluated), _)) => {
                if let Err(EvalError::Fatal(_)) = &evaluated.result {
                    return (done, BatchOutcome::Fatal(evaluated.result.unwrap_err()));
                }
                done.push(Some(evaluated));
            }
            Either::Left((None, _)) => break,
            Either::Right(_) => return (done, BatchOutcome::Interrupted),
        }
    }
    (done, BatchOutcome::Done)
}

/// The batch's trials in proposal order, from the plans and the finished jobs: up to the first job that did not
/// finish.
fn assemble(
    parts: &Parts<'_>,
    state: &State,
    proposals: &[Architecture],
    plans: Vec<Plan>,
    mut done: Vec<Option<Evaluated>>,
) -> Vec<Trial> {
    let base = state.trials.len();
    let counted_dup = parts.settings.duplicates == DuplicatePolicy::Count;
    let mut trials: Vec<Trial> = Vec::with_capacity(proposals.len());
    for (pos, (arch, plan)) in proposals.iter().zip(plans).enumerate() {
        let settled = match plan {
            Plan::Invalid(reason) => Settled {
                status: TrialStatus::Invalid { reason },
                evaluation: None,
                counted: true,
                started_at: now(),
                duration_s: 0.0,
            },
            Plan::Seen(of) => repeat(&state.trials[of], counted_dup),
            Plan::SameAs(earlier) => repeat(&trials[earlier], counted_dup),
            // Each job is planned once, so its result is moved out rather than cloned.
            Plan::Evaluate(job) => match done.get_mut(job).and_then(Option::take) {
                None => break,
                Some(Evaluated { result, started_at, duration_s }) => {
                    let (status, evaluation) = match result {
                        Ok(e) => (TrialStatus::Complete, Some(e)),
                        Err(EvalError::Failed(reason) | EvalError::Fatal(reason)) => {
                            (TrialStatus::Failed { reason }, None)
                        }
                    };
                    Settled { status, evaluation, counted: true, started_at, duration_s }
                }
            },
        };
        trials.push(Trial {
            index: base + pos,
            ask: state.asks,
            arch: arch.clone(),
            text: parts.space.format(arch),
            status: settled.status,
            counted: settled.counted,
            evaluation: settled.evaluation,
            started_at: settled.started_at,
            duration_s: settled.duration_s,
            elapsed_s: 0.0,
        });
    }
    trials
}

/// How a proposal of a batch was settled: what its trial records.
struct Settled {
    status: TrialStatus,
    evaluation: Option<Evaluation>,
    /// Whether it uses up budget.
    counted: bool,
    /// When it started (RFC 3339).
    started_at: String,
    /// How long it took (seconds).
    duration_s: f64,
}

/// Re-proposing the architecture of `original`: its evaluation, or its failure, without evaluating.
fn repeat(original: &Trial, counted: bool) -> Settled {
    let of = original.index;
    let status = match &original.status {
        TrialStatus::Failed { reason } => {
            TrialStatus::Failed { reason: format!("already failed as trial {of}: {reason}") }
        }
        _ => TrialStatus::Duplicate { of },
    };
    Settled { status, evaluation: original.evaluation.clone(), counted, started_at: now(), duration_s: 0.0 }
}

/// An evaluation's result, when it started and how long it took.
struct Evaluated {
    result: Result<Evaluation, EvalError>,
    /// RFC 3339.
    started_at: String,
    /// Seconds.
    duration_s: f64,
}

/// What one ask returned: the proposals (or the optimizer's error) and the events it emitted.
struct Asked {
    proposals: Result<Vec<Architecture>, OptimizerError>,
    events: Vec<OptimizerEvent>,
}

/// What a resumed run's log holds that the study has not replayed yet.
#[derive(Default)]
struct Replay {
    /// Recorded trials, not yet proposed again.
    trials: VecDeque<Trial>,
    /// The last ask whose events the log holds.
    events_through: u64,
    /// The recorded run's elapsed seconds (a resumed study's clock goes on from there).
    elapsed_offset: f64,
}

impl Replay {
    fn of(recorded: Option<Recorded>) -> Self {
        let Some(r) = recorded else { return Self::default() };
        // The events of asks whose trials are recorded are in the log already. A last ask that left no trial (its
        // optimizer failed, or the run stopped between its events and its trials) runs again, and its new events are
        // written too, so that the log holds what led to every trial (an LLM optimizer's transcript must, to be
        // replayed). Logs from before trials carried their ask: all.
        let events_through = match r.trials.last() {
            Some(t) if t.ask > 0 => t.ask,
            Some(_) => r.last_event_ask(),
            None => 0,
        };
        let elapsed_offset = r.trials.last().map_or(0.0, |t| t.elapsed_s);
        Self { trials: VecDeque::from(r.trials), events_through, elapsed_offset }
    }
}

/// What [`Study::replay`] left of a batch.
enum Replayed {
    /// The optimizer left the log: the rest of the log is recorded, the batch is not evaluated.
    Diverged,
    /// The proposals to evaluate.
    Fresh(Vec<Architecture>),
}

/// What evaluating a batch needs from the study.
struct Parts<'a> {
    space: &'a dyn SearchSpace,
    evaluator: &'a dyn Evaluator,
    settings: &'a StudySettings,
    stop: &'a CancellationToken,
}

enum BatchOutcome {
    Done,
    Interrupted,
    Fatal(EvalError),
    /// The run log could not be written (job records).
    Log(RunLogError),
}

/// The study as it runs.
#[derive(Default)]
struct State {
    trials: Vec<Trial>,
    /// What the optimizer sees of the trials.
    history: Vec<Observation>,
    /// The first trial of every architecture evaluated (complete or failed).
    seen: ArchMap<usize>,
    best: Option<usize>,
    best_score: Option<f64>,
    spend: Spend,
    /// Asks so far (1-based once the first is made).
    asks: u64,
    /// Asks in a row that added no counted trial.
    idle: usize,
}

fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Checks that a recorded header field equals the current one.
fn same<T: Serialize>(field: &'static str, recorded: &T, now: &T) -> Result<(), StudyError> {
    let (recorded, now) =
        (serde_json::to_value(recorded).unwrap_or_default(), serde_json::to_value(now).unwrap_or_default());
    if recorded == now {
        Ok(())
    } else {
        Err(StudyError::Mismatch { field, recorded: recorded.to_string(), now: now.to_string() })
    }
}

mod remote;
#[cfg(test)]
mod tests;
