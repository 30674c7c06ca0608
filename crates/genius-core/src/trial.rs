//! Trials: one proposal of a study and what became of it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Architecture, Evaluation, MetricSpec, Objective, Visibility};

/// What became of a proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TrialStatus {
    /// Evaluated.
    Complete,
    /// Proposed before: answered from trial `of` without evaluating again.
    Duplicate {
        /// The trial that evaluated it.
        of: usize,
    },
    /// The evaluation failed for this architecture (the reason is kept); the study went on.
    Failed {
        /// Why.
        reason: String,
    },
    /// The optimizer proposed something outside the space or against its constraint; nothing was evaluated.
    Invalid {
        /// Why.
        reason: String,
    },
}

/// One proposal of a study and its outcome, as written to the run log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Its position in the study, from 0.
    pub index: usize,
    /// The number of the optimizer's ask (from 1) that proposed it; events of that ask in `events.jsonl` carry the
    /// same number.
    #[serde(default)]
    pub ask: u64,
    /// The architecture proposed.
    pub arch: Architecture,
    /// The architecture in its space's canonical text form.
    pub text: String,
    /// What became of it.
    #[serde(flatten)]
    pub status: TrialStatus,
    /// Whether it counted against the evaluation budget.
    pub counted: bool,
    /// The evaluation (for a duplicate, a copy of the original's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    /// When its evaluation started (RFC 3339, UTC).
    pub started_at: String,
    /// How long its evaluation took here, in seconds.
    pub duration_s: f64,
    /// Wall-clock seconds since the run started, over every session, when the trial was recorded.
    pub elapsed_s: f64,
}

impl Trial {
    /// A query the optimizer spent without a proposal ([`AskContext::fail_query`](crate::AskContext::fail_query)):
    /// an invalid trial with no architecture and an empty text form, recorded at `at` (RFC 3339).
    pub fn failed_query(index: usize, ask: u64, reason: &str, at: String) -> Self {
        Self {
            index,
            ask,
            arch: Architecture::new(Vec::new()),
            text: String::new(),
            status: TrialStatus::Invalid { reason: format!("no usable proposal: {reason}") },
            counted: true,
            evaluation: None,
            started_at: at,
            duration_s: 0.0,
            elapsed_s: 0.0,
        }
    }

    /// Whether it is a query spent without a proposal ([`Trial::failed_query`]).
    pub fn is_failed_query(&self) -> bool {
        self.arch.is_empty()
    }

    /// The evaluation, if the trial has one (complete or duplicate).
    pub fn result(&self) -> Option<&Evaluation> {
        self.evaluation.as_ref()
    }

    /// Whether it was evaluated, here or before (complete or duplicate).
    pub fn succeeded(&self) -> bool {
        matches!(self.status, TrialStatus::Complete | TrialStatus::Duplicate { .. })
    }
}

/// What an optimizer is told about a trial: the architecture, the metrics the search may see, the model facts, and
/// nothing held out. Built by the runner, so an optimizer cannot see a test accuracy by mistake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The trial's index in the study.
    pub trial: usize,
    /// The architecture.
    pub arch: Architecture,
    /// The objective's metric, when the trial has it (failed and invalid trials do not).
    pub value: Option<f64>,
    /// `value` turned so that larger is better, and `None` when the trial failed or is infeasible under the
    /// objective's constraints: what most optimizers rank by.
    pub score: Option<f64>,
    /// The metrics the search may see, by name.
    pub metrics: BTreeMap<String, f64>,
    /// Trainable parameters, where known.
    pub params: Option<u64>,
    /// FLOPs, where known.
    pub flops: Option<u64>,
    /// Whether this repeats an earlier trial's architecture.
    pub duplicate: bool,
    /// Why the trial has no result, for failed and invalid trials.
    pub failure: Option<String>,
}

impl Observation {
    /// What the search may see of `trial` under `objective`, given the evaluator's `metrics`.
    pub fn of(trial: &Trial, objective: &Objective, metrics: &MetricSpec) -> Self {
        let eval = trial.evaluation.as_ref();
        let visible = |name: &String| metrics.get(name).is_none_or(|m| m.visibility == Visibility::Search);
        let failure = match &trial.status {
            TrialStatus::Failed { reason } | TrialStatus::Invalid { reason } => Some(reason.clone()),
            _ => None,
        };
        Self {
            trial: trial.index,
            arch: trial.arch.clone(),
            value: eval.and_then(|e| objective.value(e)),
            score: eval.and_then(|e| objective.score(e)),
            metrics: eval
                .map(|e| e.metrics.iter().filter(|(k, _)| visible(k)).map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default(),
            params: eval.and_then(|e| e.params),
            flops: eval.and_then(|e| e.flops),
            duplicate: matches!(trial.status, TrialStatus::Duplicate { .. }),
            failure,
        }
    }

    /// Every objective of `objective` turned so that larger is better, for a feasible trial that has them all: its
    /// point in objective space. Read from what the search may see (a held-out metric is never here, and an
    /// objective cannot name one), so a multi-objective optimizer ranks by this.
    pub fn scores(&self, objective: &Objective) -> Option<Vec<f64>> {
        self.score?;
        let values = objective.values_by(|name| {
            self.metrics.get(name).copied().or_else(|| match name {
                "params" => self.params.map(|p| p as f64),
                "flops" => self.flops.map(|f| f as f64),
                _ => None,
            })
        })?;
        objective.oriented(values)
    }
}
