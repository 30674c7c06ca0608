//! Optimizers, driven ask/tell: asked for candidates given what the search may see, told the results.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Architecture, Objective, Observation, SearchRng, SearchSpace, Usage};

/// Something an optimizer wants recorded in the run directory's `events.jsonl`: a model call, a retry, a reply it
/// had to repair. The runner writes it; the optimizer does no IO.
///
/// This is the line's envelope, the same for every plug-in. Each plug-in has its own typed events: an enum tagged
/// by `kind` with its payload in `data` (`#[serde(tag = "kind", content = "data", rename_all = "snake_case")]`), such
/// as [`AskEvent`] here, the executor's [`crate::executor::JobRecord`] and the LLM optimizer's events. Such an event
/// goes in through [`OptimizerEvent::typed`] (or [`AskContext::emit`]) and comes out through
/// [`OptimizerEvent::decode`]; no code builds or reads the JSON by hand.
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

impl OptimizerEvent {
    /// The envelope of a typed event: an enum serialized as `{"kind": ..., "data": ...}` (adjacently tagged).
    ///
    /// # Panics
    /// If `event` does not serialize to an object with a string `kind`: a plug-in's event type is wrong, which its
    /// first test shows.
    pub fn typed<E: Serialize>(event: &E, usage: Usage) -> Self {
        let value = serde_json::to_value(event).expect("an event serializes");
        let serde_json::Value::Object(mut fields) = value else {
            panic!(
                "an event must serialize to {{\"kind\": ..., \"data\": ...}} (serde tag = \"kind\", content = \"data\")"
            )
        };
        let Some(serde_json::Value::String(kind)) = fields.remove("kind") else {
            panic!("an event must serialize with a string `kind` (serde tag = \"kind\", content = \"data\")")
        };
        Self { kind, data: fields.remove("data").unwrap_or_default(), usage }
    }

    /// This event as one of `E`'s variants: `None` when its kind is not one of them (another plug-in's event) or its
    /// data does not fit the variant.
    pub fn decode<E: for<'de> Deserialize<'de>>(&self) -> Option<E> {
        let line = serde_json::json!({ "kind": self.kind, "data": self.data });
        serde_json::from_value(line).ok()
    }
}

/// The study's own events of an ask, recorded with the optimizer's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum AskEvent {
    /// A query the optimizer could not turn into a proposal ([`AskContext::fail_query`]).
    QueryFailed {
        /// Why.
        reason: String,
    },
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
    /// Records a typed event (see [`OptimizerEvent`]) with what it spent.
    pub fn emit<E: Serialize>(&mut self, event: &E, usage: Usage) {
        self.events.push(OptimizerEvent::typed(event, usage));
    }

    /// Spends one query of the budget on a proposal that could not be made (e.g. a language model whose replies
    /// stayed unusable after every repair): the runner records an invalid trial with no architecture and `reason`,
    /// and the search goes on. Recorded as an [`AskEvent::QueryFailed`] event, so that a resume makes the same
    /// decision.
    pub fn fail_query(&mut self, reason: impl Into<String>) {
        self.emit(&AskEvent::QueryFailed { reason: reason.into() }, Usage::default());
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_event_is_written_as_kind_and_data_and_read_back() {
        let event = OptimizerEvent::typed(&AskEvent::QueryFailed { reason: "no answer".into() }, Usage::default());
        assert_eq!(event.kind, "query_failed");
        assert_eq!(event.data, serde_json::json!({ "reason": "no answer" }));
        assert_eq!(event.decode::<AskEvent>(), Some(AskEvent::QueryFailed { reason: "no answer".into() }));
        let other =
            OptimizerEvent { kind: "llm_call".into(), data: serde_json::json!({ "call": 1 }), usage: Usage::default() };
        assert_eq!(other.decode::<AskEvent>(), None, "another plug-in's event is not one of ours");
        let misshapen =
            OptimizerEvent { kind: "query_failed".into(), data: serde_json::json!(3), usage: Usage::default() };
        assert_eq!(misshapen.decode::<AskEvent>(), None, "a payload that does not fit is not read as one");
    }
}
