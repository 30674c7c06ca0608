//! The incumbent of a run after each evaluation: the best architecture by the search metric so far, and its
//! reported metric, rank and regret.

use genius_core::{MetricSpec, Objective, Rank, Trial};

use crate::runs::Run;

/// The best trial after some number of evaluations.
#[derive(Debug, Clone, PartialEq)]
pub struct Incumbent {
    /// Evaluations spent when it was the incumbent.
    pub evaluations: usize,
    /// Its trial index.
    pub trial: usize,
    /// Its value of the search metric.
    pub search: f64,
    /// Its value of the reported metric.
    pub reported: Option<f64>,
    /// Its rank in the table by the reported metric, if a table ranks it.
    pub rank: Option<Rank>,
    /// The ask that proposed the last trial counted (for usage up to this point).
    pub ask: u64,
}

/// Follows a run's incumbent one trial at a time (chosen by the objective's score, feasible only, ties to the
/// earliest, as the runner does), so that a report never needs a run's trials in memory.
#[derive(Debug, Clone, Default)]
pub struct IncumbentTracker {
    best: Option<(f64, Incumbent)>,
    evaluations: usize,
}

impl IncumbentTracker {
    /// Takes the next trial of a run; returns the incumbent after it when it was counted as an evaluation (`Some(None)`
    /// while no trial has succeeded), `None` for a trial that was not counted.
    pub fn push(&mut self, trial: &Trial, objective: &Objective, metrics: &MetricSpec) -> Option<Option<Incumbent>> {
        let eval = trial.evaluation.as_ref();
        if let Some(eval) = eval
            && let Some(score) = objective.score(eval)
            && self.best.as_ref().is_none_or(|(b, _)| score > *b)
        {
            let incumbent = Incumbent {
                evaluations: 0,
                trial: trial.index,
                search: objective.value(eval).expect("a scored evaluation has the search metric"),
                reported: eval.value(&metrics.report),
                rank: eval.rank,
                ask: 0,
            };
            self.best = Some((score, incumbent));
        }
        if !trial.counted {
            return None;
        }
        self.evaluations += 1;
        let evaluations = self.evaluations;
        Some(self.best.as_ref().map(|(_, inc)| Incumbent { evaluations, ask: trial.ask, ..inc.clone() }))
    }

    /// The evaluations (counted trials) seen so far.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }
}

/// The incumbent after every evaluation: entry `k` is the incumbent after `k + 1` evaluations (`None` until a trial
/// succeeds).
pub fn incumbents(run: &Run) -> Vec<Option<Incumbent>> {
    let mut tracker = IncumbentTracker::default();
    run.trials.iter().filter_map(|t| tracker.push(t, &run.meta.objective, &run.meta.metrics)).collect()
}

/// The incumbent after `budget` evaluations, or at the end of a run that stopped before spending them.
pub fn at_budget(incumbents: &[Option<Incumbent>], budget: usize) -> Option<&Incumbent> {
    let k = budget.min(incumbents.len());
    if k == 0 { None } else { incumbents[k - 1].as_ref() }
}
