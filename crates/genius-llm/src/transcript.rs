//! What the optimizer records of its model calls, as events of the run directory's `events.jsonl`.
//!
//! | kind | when | data |
//! |---|---|---|
//! | `llm_call` | every reply | [`CallRecord`]: the full request, the reply, where it came from, latency (usage: tokens, money) |
//! | `llm_retry` | every failed attempt that was retried | [`RetryRecord`]: the [`Attempt`] plus the call number |
//! | `llm_error` | a call that failed for good | [`ErrorRecord`]: the error, the call number |
//! | `reply_problem` | a reply that could not be used | [`ProblemRecord`]: the problem and the repair message sent |
//! | `cannot_improve` | the model said it cannot propose more | [`CannotImproveRecord`]: the reply, whether the run stops |
//! | `gave_up` | the repairs ran out | [`GiveUpRecord`]: the last problem, what was done instead |
//! | `fallback` | the repairs ran out | [`FallbackRecord`]: the last problem, the random proposal made instead |
//! | `structured_output_rejected` | the provider refused the schema | [`RejectedRecord`]: the run goes on in free text |
//! | `principles` | principles were distilled | [`PrinciplesRecord`]: the text later prompts state |
//!
//! Each is a variant of [`LlmEvent`], written and read through its type, never as hand-built JSON.
//!
//! An `llm_call` line holds the whole request, so a run's transcript answers the same requests again: that is how
//! [`crate::replay`] reproduces a run, and how a resume re-pays nothing.

use serde::{Deserialize, Serialize};

use crate::chat::{Attempt, ChatReply, ChatRequest, ModelInfo, Source};

// The events' wire names (the `kind` of their lines), for code that reads a run's files as they are.

/// The event kind of a model reply.
pub const LLM_CALL: &str = "llm_call";
/// The event kind of a retried failure.
pub const LLM_RETRY: &str = "llm_retry";
/// The event kind of a call that failed for good.
pub const LLM_ERROR: &str = "llm_error";
/// The event kind of an unusable reply and its repair.
pub const REPLY_PROBLEM: &str = "reply_problem";
/// The event kind of a model saying it cannot improve.
pub const CANNOT_IMPROVE: &str = "cannot_improve";
/// The event kind of running out of repairs and stopping.
pub const GAVE_UP: &str = "gave_up";
/// The event kind of running out of repairs and proposing at random instead.
pub const FALLBACK: &str = "fallback";
/// The event kind of a provider rejecting structured output for the model; the run goes on in free text.
pub const STRUCTURED_OUTPUT_REJECTED: &str = "structured_output_rejected";
/// The event kind of the design principles that later prompts state.
pub const PRINCIPLES: &str = "principles";

/// The data of an `llm_call` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The optimizer's call number over the run, from 1.
    pub call: u64,
    /// Why the call was made: `propose`, or the kind of repair (`no_answer`, `invalid`, `duplicate`,
    /// `violation`, `cannot_improve`).
    pub purpose: String,
    /// The model (never a credential).
    pub model: ModelInfo,
    /// The full request.
    pub request: ChatRequest,
    /// The reply.
    pub reply: ChatReply,
    /// Where the reply came from.
    pub source: Source,
    /// Seconds from the first attempt to the reply.
    pub latency_s: f64,
}

/// The data of an `llm_retry` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryRecord {
    /// The call it belongs to.
    pub call: u64,
    /// The failed attempt.
    #[serde(flatten)]
    pub attempt: Attempt,
}

/// The data of an `llm_error` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// The call that failed.
    pub call: u64,
    /// Why it was made (as in [`CallRecord::purpose`]).
    pub purpose: String,
    /// The error.
    pub error: String,
}

/// The data of a `reply_problem` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemRecord {
    /// The call whose reply it was.
    pub call: u64,
    /// What kind of problem: `no_answer`, `invalid`, `duplicate`, `violation` or `cannot_improve`.
    pub kind: String,
    /// The problem, in words.
    pub problem: String,
    /// The repair message sent back; `None` when the repairs ran out and none was sent.
    pub repair: Option<String>,
    /// Repairs of this kind used so far in the ask.
    pub repairs: usize,
}

/// The data of a `cannot_improve` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CannotImproveRecord {
    /// The call whose reply it was.
    pub call: u64,
    /// The reply (shortened).
    pub reply: String,
    /// The provider's refusal, when it gave one.
    pub refusal: Option<String>,
    /// `stop` or `continue`.
    pub action: String,
}

/// The data of a `gave_up` event: the repairs ran out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GiveUpRecord {
    /// The last problem's kind (as in [`ProblemRecord::kind`]).
    pub kind: String,
    /// The last problem, in words.
    pub problem: String,
    /// What the optimizer did instead: `propose the duplicates`, `record the proposal as an invalid trial`,
    /// `fail the query`, or `stop`.
    pub action: String,
    /// The architectures proposed anyway (the duplicates, or the violating ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proposed: Vec<String>,
    /// Why the action was taken, where it needs saying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// The data of a `fallback` event: the repairs ran out and a random architecture was proposed instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FallbackRecord {
    /// The last problem's kind (as in [`ProblemRecord::kind`]).
    pub kind: String,
    /// The last problem, in words.
    pub problem: String,
    /// `random`.
    pub action: String,
    /// The architecture proposed instead.
    pub proposed: String,
}

/// The data of a `structured_output_rejected` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedRecord {
    /// The call the provider rejected.
    pub call: u64,
    /// The provider's error.
    pub error: String,
    /// What the optimizer does from now on.
    pub action: String,
}

/// The data of a `principles` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrinciplesRecord {
    /// `distilled` (by the model from the first iteration) or `given` (by the settings).
    pub source: String,
    /// The call that distilled them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<u64>,
    /// The principles.
    pub text: String,
}

/// The model calls among a run's events (its [`genius_core::Recorded::events`]), in order.
pub fn calls(events: &[genius_core::run_log::EventRecord]) -> Vec<CallRecord> {
    events
        .iter()
        .filter_map(|e| match e.event.decode() {
            Some(LlmEvent::LlmCall(call)) => Some(*call),
            _ => None,
        })
        .collect()
}

/// Every event the LLM optimizer records, one line of `events.jsonl` each (`{"kind": "llm_call", "data": ...}`;
/// the table at the top of this module). Written with [`genius_core::AskContext::emit`], read back with
/// [`genius_core::OptimizerEvent::decode`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum LlmEvent {
    /// A model reply ([`LLM_CALL`]).
    LlmCall(Box<CallRecord>),
    /// A retried failure ([`LLM_RETRY`]).
    LlmRetry(RetryRecord),
    /// A call that failed for good ([`LLM_ERROR`]).
    LlmError(ErrorRecord),
    /// An unusable reply and its repair ([`REPLY_PROBLEM`]).
    ReplyProblem(ProblemRecord),
    /// The model said it cannot propose more ([`CANNOT_IMPROVE`]).
    CannotImprove(CannotImproveRecord),
    /// The repairs ran out ([`GAVE_UP`]).
    GaveUp(GiveUpRecord),
    /// The repairs ran out and a random architecture was proposed instead ([`FALLBACK`]).
    Fallback(FallbackRecord),
    /// The provider rejected structured output ([`STRUCTURED_OUTPUT_REJECTED`]).
    StructuredOutputRejected(RejectedRecord),
    /// The design principles later prompts state ([`PRINCIPLES`]).
    Principles(PrinciplesRecord),
}
