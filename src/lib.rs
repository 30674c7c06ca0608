//! genius: neural architecture search with a large language model as the optimizer, head to head with classic
//! baselines on the same spaces, benchmarks and budgets.
//!
//! This umbrella crate re-exports the workspace's crates: [`core`] (the traits and the study runner), [`spaces`]
//! (search spaces and tabular benchmarks), [`baselines`] (classic optimizers) and [`llm`] (chat-model clients and
//! the GENIUS optimizer). Each can be used on its own.

pub use genius_baselines as baselines;
pub use genius_core as core;
pub use genius_llm as llm;
pub use genius_spaces as spaces;
