//! The incumbent of a run after each evaluation: the best architecture by the search metric so far, and its
//! reported metric, rank and regret.

use genius_core::Rank;

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

/// The incumbent after every evaluation: entry `k` is the incumbent after `k + 1` evaluations (`None` until a trial
/// succeeds). Chosen by the objective's score (search metric, feasible only), ties to the earliest, as the runner does.
pub fn incumbents(run: &Run) -> Vec<Option<Incumbent>> {
    let mut out = Vec::new();
    let mut best: Option<(f64, Incumbent)> = None;
    let mut evaluations = 0;
    for trial in &run.trials {
        let eval = trial.evaluation.as_ref();
        if let Some(score) = eval.and_then(|e| run.objective.score(e))
            && best.as_ref().is_none_or(|(b, _)| score > *b)
        {
            let eval = eval.expect("scored");
            best = Some((
                score,
                Incumbent {
                    evaluations: 0,
                    trial: trial.index,
                    search: run.objective.value(eval).expect("scored"),
                    reported: eval.value(&run.metrics.report),
                    rank: eval.rank,
                    ask: 0,
                },
            ));
        }
        if trial.counted {
            evaluations += 1;
            out.push(best.as_ref().map(|(_, inc)| Incumbent { evaluations, ask: trial.ask, ..inc.clone() }));
        }
    }
    out
}

/// The incumbent after `budget` evaluations, or at the end of a run that stopped before spending them.
pub fn at_budget(incumbents: &[Option<Incumbent>], budget: usize) -> Option<&Incumbent> {
    let k = budget.min(incumbents.len());
    if k == 0 { None } else { incumbents[k - 1].as_ref() }
}
