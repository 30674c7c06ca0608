//! What a report keeps of a run: its labels, the steps of its incumbent and its model usage at the report's budgets.
//! A digest is read in one pass over the run's log and holds none of its trials, so a report's memory grows with the
//! number of runs and budgets, not with the number of trials. A multi-objective run's digest also keeps its Pareto
//! front at each of the report's budgets (fronts are small: the non-dominated trials only).

use std::path::{Path, PathBuf};

use genius_core::pareto::dominates;
use genius_core::run_log::EventRecord;
use genius_core::{Optimum, Recorded, RunHeader, StopReason, Trial, TrialStatus, Usage};

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
    /// A multi-objective run's Pareto front after `b` evaluations, for each budget `b` asked for that is below
    /// `evaluations`, in increasing order of `b` (points only).
    fronts_at: Vec<(usize, Vec<Vec<f64>>)>,
    /// A multi-objective run's final Pareto front, in trial order; empty for a single objective.
    pub front: Vec<FrontPoint>,
}

/// A trial on a multi-objective run's Pareto front.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontPoint {
    /// The trial's index.
    pub trial: usize,
    /// The architecture's text form.
    pub text: String,
    /// Every objective's value, each turned so that larger is better (the objectives' order).
    pub scores: Vec<f64>,
    /// The reported metric (held out when it is not searched): shown per point, never part of the front.
    pub reported: Option<f64>,
}

/// The non-dominated trials so far, updated one trial at a time (a point equal to one on the front adds nothing).
#[derive(Debug, Default)]
struct FrontTracker {
    points: Vec<FrontPoint>,
}

impl FrontTracker {
    fn push(&mut self, meta: &RunMeta, trial: &Trial) {
        if !matches!(trial.status, TrialStatus::Complete) {
            return;
        }
        let Some(eval) = trial.evaluation.as_ref() else { return };
        let Some(scores) = meta.objective.scores(eval) else { return };
        if self.points.iter().any(|p| p.scores == scores || dominates(&p.scores, &scores)) {
            return;
        }
        self.points.retain(|p| !dominates(&scores, &p.scores));
        let reported = eval.metrics.get(&meta.metrics.report).copied();
        self.points.push(FrontPoint { trial: trial.index, text: trial.text.clone(), scores, reported });
    }

    fn scores(&self) -> Vec<Vec<f64>> {
        self.points.iter().map(|p| p.scores.clone()).collect()
    }
}

/// Folds trials into a digest's incumbent steps and notes the asks its budgets end at.
struct Folder<'a> {
    budgets: &'a [usize],
    tracker: IncumbentTracker,
    steps: Vec<Incumbent>,
    /// `(budget, ask of that evaluation)`.
    asks: Vec<(usize, u64)>,
    front: FrontTracker,
    /// `(budget, front after that evaluation)` of a multi-objective run; the last one recorded for a budget counts.
    fronts: Vec<(usize, Vec<Vec<f64>>)>,
}

impl<'a> Folder<'a> {
    fn new(budgets: &'a [usize]) -> Self {
        Self {
            budgets,
            tracker: IncumbentTracker::default(),
            steps: Vec::new(),
            asks: Vec::new(),
            front: FrontTracker::default(),
            fronts: Vec::new(),
        }
    }

    fn push(&mut self, meta: &RunMeta, trial: &Trial) {
        let Some(now) = self.tracker.push(trial, &meta.objective, &meta.metrics) else { return };
        let evaluations = self.tracker.evaluations();
        if meta.objective.is_multi() {
            self.front.push(meta, trial);
            if self.budgets.contains(&evaluations) {
                match self.fronts.last_mut() {
                    Some((b, front)) if *b == evaluations => *front = self.front.scores(),
                    _ => self.fronts.push((evaluations, self.front.scores())),
                }
            }
        }
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
        let mut fronts_at: Vec<(usize, Vec<Vec<f64>>)> =
            self.fronts.into_iter().filter(|(b, _)| *b < evaluations).collect();
        fronts_at.sort_by_key(|(b, _)| *b);
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
            fronts_at,
            front: self.front.points,
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
        let meta = run.meta.clone();
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

    /// A multi-objective run's Pareto front (objective vectors, larger is better) after `budget` evaluations, or at the
    /// end of a run that spent no more; `None` for a single-objective run, or a budget below the run's evaluations
    /// that the digest was not asked to keep.
    pub fn front_at(&self, budget: usize) -> Option<Vec<Vec<f64>>> {
        if !self.meta.objective.is_multi() {
            return None;
        }
        if budget >= self.evaluations {
            return Some(self.front.iter().map(|p| p.scores.clone()).collect());
        }
        let i = self.fronts_at.binary_search_by_key(&budget, |(b, _)| *b).ok()?;
        Some(self.fronts_at[i].1.clone())
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
