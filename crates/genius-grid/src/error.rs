//! What can go wrong with a grid.

use genius_core::catalog::BuildError;

/// Why an experiment could not be planned or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GridError {
    /// The experiment file is wrong; the message names the file and, where it can, the line.
    #[error("{0}")]
    Experiment(String),
    /// A space, optimizer, evaluator or executor could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A run could not be run (its study failed, its run log could not be read).
    #[error("{0}")]
    Run(String),
    /// A file of the grid could not be written or removed.
    #[error("{0}")]
    Io(String),
}

/// A result with a [`GridError`].
pub type Result<T, E = GridError> = std::result::Result<T, E>;

/// `error` and its sources, joined by `: ` (as anyhow's `{:#}` prints them).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
