//! What the optimizer records of its model calls, as events of the run directory's `events.jsonl`.
//!
//! | kind | when | data |
//! |---|---|---|
//! | `llm_call` | every reply | [`CallRecord`]: the full request, the reply, where it came from, latency (usage: tokens, money) |
//! | `llm_retry` | every failed attempt that was retried | [`Attempt`] plus the call number |
//! | `llm_error` | a call that failed for good | the error, the call number |
//! | `reply_problem` | a reply that could not be used | the problem and the repair message sent |
//! | `cannot_improve` | the model said it cannot propose more | the reply, and whether the run stops |
//! | `gave_up` / `fallback` | the repairs ran out | the last problem; the random proposal made instead |
//!
//! An `llm_call` line holds the whole request, so a run's transcript answers the same requests again: that is how
//! [`crate::replay`] reproduces a run, and how a resume re-pays nothing.

use serde::{Deserialize, Serialize};

use crate::chat::{Attempt, ChatReply, ChatRequest, ModelInfo, Source};

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
/// The event kind of the design principles that later prompts state (`{"source": "distilled" | "given", "text"}`).
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
