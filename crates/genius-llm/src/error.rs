//! The crate's error type.

use crate::chat::Attempt;

/// Why a model call or the optimizer's set-up failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The API key's environment variable is not set (checked before any work starts).
    #[error(
        "{provider} needs an API key in the environment variable {var}, which is not set; export it (the key is \
         never logged or written to the run directory)"
    )]
    MissingKey {
        /// The provider.
        provider: String,
        /// The variable.
        var: String,
    },
    /// An invalid setting: the field and what is allowed.
    #[error("invalid LLM setting: {0}")]
    Settings(String),
    /// The provider refused the request for good (400, 401, 403, 404, ...): retrying cannot help.
    #[error("{provider} rejected the request{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Rejected {
        /// The provider.
        provider: String,
        /// The HTTP status.
        status: Option<u16>,
        /// The provider's own message.
        message: String,
        /// Attempts that failed and were retried before this one.
        retries: Vec<Attempt>,
    },
    /// Every allowed attempt failed with a retryable error (429, 5xx, connection, timeout).
    #[error("{provider} did not answer after {} attempt(s) over {elapsed_s:.1} s; the last error: {last}", retries.len())]
    GaveUp {
        /// The provider.
        provider: String,
        /// Every failed attempt.
        retries: Vec<Attempt>,
        /// Seconds spent, waits included.
        elapsed_s: f64,
        /// The last error.
        last: String,
    },
    /// A replayed run has no recorded reply for this request.
    #[error("{0}")]
    Replay(String),
    /// The settings are fine but this build cannot serve them (e.g. the embedded model of a build without the
    /// `local` feature): the message says what to do.
    #[error("{0}")]
    Unavailable(String),
    /// The response cache or a recorded run could not be read or written.
    #[error("{0}")]
    Io(String),
}

impl LlmError {
    /// The failed attempts this error carries (to record them in the transcript).
    pub fn retries(&self) -> &[Attempt] {
        match self {
            Self::Rejected { retries, .. } | Self::GaveUp { retries, .. } => retries,
            _ => &[],
        }
    }
}

/// The crate's result type.
pub type Result<T, E = LlmError> = std::result::Result<T, E>;
