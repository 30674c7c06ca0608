//! Optimizers, driven ask/tell: asked for candidates given what the search may see, told the results.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Architecture, Objective, Observation, SearchRng, SearchSpace, Usage};

/// Something an optimizer wants recorded in the run directory's `events.jsonl`: a model call, a retry, a reply it
/// had to repair. The runner writes it; the optimizer does no IO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerEvent {
    /// What happened, e.g. `llm_call` or `repair`.
    pub kind: String,
    /// The details.
    #[serde(default)]
    pub data: serde_json::Value,
    /// What it spent (summed into the study's budget).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: Usage,
}

fn is_zero(u: &Usage) -> bool {
    *u == Usage::default()
}

/// What an optimizer sees when asked: the space, the objective, the history so far (search metrics only), how much
/// budget is left, the study's seeded generator, and a place to put events.
pub struct AskContext<'a> {
    /// The search space.
    pub space: &'a dyn SearchSpace,
    /// What is optimized.
    pub objective: &'a Objective,
    /// Every trial so far, in order, as the search may see it.
    pub history: &'a [Observation],
    /// Evaluations left in the budget, when it limits them.
    pub remaining: Option<usize>,
    /// The study's generator: the only source of randomness an optimizer may use.
    pub rng: &'a mut SearchRng,
    /// Events to record (drained by the runner after each ask).
    pub events: &'a mut Vec<OptimizerEvent>,
}

impl AskContext<'_> {
    /// Records an event.
    pub fn emit(&mut self, kind: impl Into<String>, data: serde_json::Value, usage: Usage) {
        self.events.push(OptimizerEvent { kind: kind.into(), data, usage });
    }

    /// Spends one query of the budget on a proposal that could not be made (e.g. a language model whose replies
    /// stayed unusable after every repair): the runner records an invalid trial with no architecture and `reason`,
    /// and the search goes on. Recorded as a [`QUERY_FAILED`] event, so that a resume makes the same decision.
    pub fn fail_query(&mut self, reason: impl Into<String>) {
        let reason: String = reason.into();
        self.emit(QUERY_FAILED, serde_json::json!({ "reason": reason }), Usage::default());
    }
}

/// The event kind of [`AskContext::fail_query`].
pub const QUERY_FAILED: &str = "query_failed";

/// Why an optimizer could not propose.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptimizerError {
    /// Its settings are invalid (named field, what is allowed).
    #[error("invalid optimizer setting: {0}")]
    Settings(String),
    /// It failed in a way it cannot recover from (e.g. the model provider rejects the key).
    #[error("{0}")]
    Failed(String),
    /// A wrapped error from the optimizer's own machinery.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// A search strategy, driven ask/tell (as Optuna, Syne Tune and argmin's solvers are).
///
/// An optimizer holds its settings and private memory (a population, a policy, a chat). It never prints, sleeps,
/// reads the clock or writes files: randomness comes from [`AskContext::rng`], and what it wants recorded goes to
/// [`AskContext::emit`]. Given the same seed and the same results, it must propose the same architectures: that is
/// how a run is repeated and resumed.
#[async_trait]
pub trait Optimizer: Send {
    /// Its name on the command line and in run logs, e.g. `random`.
    fn name(&self) -> &str;

    /// Its settings, recorded in the run log so that the run can be repeated.
    fn settings(&self) -> serde_json::Value;

    /// Proposes up to `n` architectures (`n >= 1`). Fewer is allowed; none (and no [`AskContext::fail_query`])
    /// means it has nothing more to propose, and the study ends.
    async fn ask(&mut self, ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError>;

    /// Tells it the outcome of trials it proposed, in proposal order.
    fn tell(&mut self, trials: &[Observation]);

    /// Whether it searches several objectives at once ([`Objective::is_multi`]), ranking trials by
    /// [`Observation::scores`]. A study with several objectives refuses an optimizer that does not. The default:
    /// it does not (it ranks by [`Observation::score`], the first objective).
    fn multi_objective(&self) -> bool {
        false
    }

    /// How many of its first proposals are uniform random draws whatever it has been told (an initial population,
    /// startup trials): within that many evaluations it *is* random search, and a report says so where a budget
    /// falls inside it. The default: none.
    fn random_phase(&self) -> usize {
        0
    }
}
