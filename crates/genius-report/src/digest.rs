//! What a report keeps of a run: its labels, the steps of its incumbent and its model usage at the report's budgets.
//! A digest is read in one pass over the run's log and holds none of its trials, so a report's memory grows with the
//! number of runs and budgets, not with the number of trials.

use std::path::{Path, PathBuf};

use genius_core::run_log::EventRecord;
use genius_core::{Optimum, Recorded, RunHeader, StopReason, Trial, Usage};

use crate::ReportError;
use crate::anytime::{Incumbent, IncumbentTracker};
use crate::runs::{Run, RunMeta};

/// One run, reduced to what a report needs.
#[derive(Debug, Clone)]
pub struct RunDigest {
    /// Its directory.
    pub dir: PathBuf,
    /// Its labels and settings.
    pub meta: RunMeta,
    /// The evaluation budget it was planned for, if it had one: the recorded budget, or the evaluations it spent when
    /// a resume ran it further.
    pub budget: Option<usize>,
    /// The evaluations (counted trials) it spent.
    pub evaluations: usize,
    /// The evaluator's optimum, when known (from the summary).
    pub optimum: Option<Optimum>,
    /// Why it stopped, if it finished.
    pub stop: Option<StopReason>,
    /// The incumbent each time it changed; each one's `evaluations` is when it became the incumbent.
    steps: Vec<Incumbent>,
    /// Model usage through the ask of the `b`-th evaluation, for each budget `b` asked for that is below
    /// `evaluations`, in increasing order of `b`.
    usage_at: Vec<(usize, Usage)>,
    /// Model usage over the whole run.
    total_usage: Usage,
}

/// Folds trials into a digest's incumbent steps and notes the asks its budgets end at.
struct Folder<'a> {
    budgets: &'a [usize],
    tracker: IncumbentTracker,
    steps: Vec<Incumbent>,
    /// `(budget, ask of that evaluation)`.
    asks: Vec<(usize, u64)>,
}

impl<'a> Folder<'a> {
    fn new(budgets: &'a [usize]) -> Self {
        Self { budgets, tracker: IncumbentTracker::default(), steps: Vec::new(), asks: Vec::new() }
    }

    fn push(&mut self, meta: &RunMeta, trial: &Trial) {
        let Some(now) = self.tracker.push(trial, &meta.objective, &meta.metrics) else { return };
        let evaluations = self.tracker.evaluations();
        if let Some(now) = now
            && self.steps.last().is_none_or(|last| last.trial != now.trial)
        {
            self.steps.push(now);
        }
        if self.budgets.contains(&evaluations) {
            self.asks.push((evaluations, trial.ask));
        }
    }

    /// `usages`: the `(ask, usage)` of every event that spent something, in order.
    fn finish(self, dir: &Path, meta: RunMeta, usages: impl IntoIterator<Item = (u64, Usage)>) -> RunDigest {
        let evaluations = self.tracker.evaluations();
        let mut asks: Vec<(usize, u64)> = self.asks.into_iter().filter(|&(b, _)| b < evaluations).collect();
        asks.sort_unstable();
        asks.dedup();
        let mut usage_at: Vec<(usize, Usage)> = asks.iter().map(|&(b, _)| (b, Usage::default())).collect();
        let mut total_usage = Usage::default();
        for (event_ask, spent) in usages {
            total_usage.add(&spent);
            for ((_, ask), (_, usage)) in asks.iter().zip(&mut usage_at) {
                if event_ask <= *ask {
                    usage.add(&spent);
                }
            }
        }
        RunDigest {
            dir: dir.to_owned(),
            budget: meta.planned.map(|b| b.max(evaluations)),
            meta,
            evaluations,
            optimum: None,
            stop: None,
            steps: self.steps,
            usage_at,
            total_usage,
        }
    }
}

impl RunDigest {
    /// Reads the run in `dir` in one pass, keeping the usage at each of `budgets`; each trial also goes to `on_trial`
    /// (for tables of every trial) as it is read.
    pub fn scan(
        dir: &Path,
        budgets: &[usize],
        mut on_trial: impl FnMut(&RunMeta, &Trial) -> Result<(), ReportError>,
    ) -> Result<Self, ReportError> {
        let mut folder = Folder::new(budgets);
        let mut meta: Option<RunMeta> = None;
        let mut usages = Vec::new();
        let scanned = Recorded::scan(
            dir,
            |header: &RunHeader, trial: Trial| {
                let meta = meta.get_or_insert_with(|| RunMeta::of(header));
                folder.push(meta, &trial);
                on_trial(meta, &trial)
            },
            // Only what usage needs is kept: the ask and what it spent, not the event's payload.
            |e: EventRecord| {
                if e.event.usage != Usage::default() {
                    usages.push((e.ask, e.event.usage));
                }
                Ok::<(), ReportError>(())
            },
        )?;
        let meta = meta.unwrap_or_else(|| RunMeta::of(&scanned.header));
        let mut digest = folder.finish(dir, meta, usages);
        digest.optimum = scanned.summary.as_ref().and_then(|s| s.optimum.clone());
        digest.stop = scanned.summary.map(|s| s.stop);
        Ok(digest)
    }

    /// The digest of a run read in full, keeping the usage at each of `budgets`.
    pub fn of(run: &Run, budgets: &[usize]) -> Self {
        let meta = run.meta();
        let mut folder = Folder::new(budgets);
        for t in &run.trials {
            folder.push(&meta, t);
        }
        let mut digest = folder.finish(&run.dir, meta, run.events.iter().map(|e| (e.ask, e.event.usage)));
        digest.optimum = run.optimum.clone();
        digest.stop = run.stop;
        digest
    }

    /// The incumbent after `budget` evaluations, or at the end of a run that stopped before spending them; `None`
    /// while no trial had succeeded.
    pub fn incumbent_at(&self, budget: usize) -> Option<&Incumbent> {
        let k = budget.min(self.evaluations);
        let after = self.steps.partition_point(|s| s.evaluations <= k);
        after.checked_sub(1).map(|i| &self.steps[i])
    }

    /// Optimizer usage (model calls, tokens, money) up to `budget` evaluations: through the ask of the last of them,
    /// or everything the run recorded when it spent no more than `budget` (a final call that proposed nothing too).
    /// `None` for a budget below the run's evaluations that the digest was not asked to keep.
    pub fn usage_at(&self, budget: usize) -> Option<Usage> {
        if budget >= self.evaluations {
            return Some(self.total_usage);
        }
        let i = self.usage_at.binary_search_by_key(&budget, |(b, _)| *b).ok()?;
        Some(self.usage_at[i].1)
    }
}
