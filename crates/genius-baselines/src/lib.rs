//! Classic NAS optimizers for genius, each a plain ask/tell [`Optimizer`](genius_core::Optimizer) over any
//! categorical search space, usable without the rest of genius.
//!
//! - [`RandomSearch`]: uniform proposals, with or without replacement.
//!
//! [`catalog`] builds any of them by name from serialized settings, for command lines and configs.

pub mod catalog;
mod random_search;

pub use random_search::{RandomSearch, RandomSearchSettings};
