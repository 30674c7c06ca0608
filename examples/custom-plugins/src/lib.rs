//! Plug-ins added from outside genius's crates, as a contributor adds one: each is one file (its type, its settings
//! and its catalog entry) plus one line in [`register`] (in genius itself: one line in
//! `crates/genius-cli/src/registry.rs`). `tests/conformance.rs` proves each with genius-core's exported
//! conformance suites and runs them in an experiment grid.

pub mod hill_climb;
pub mod null_model;

use genius_core::catalog::Catalogs;

/// Adds this crate's plug-ins to `catalogs`: one line per plug-in.
pub fn register(catalogs: &mut Catalogs) {
    catalogs.optimizers.add([hill_climb::entry()]);
    catalogs.evaluators.add([null_model::entry()]);
}
