//! Classic NAS optimizers for genius, each a plain ask/tell [`Optimizer`](genius_core::Optimizer) over any
//! categorical search space, usable without the rest of genius.
//!
//! - [`RandomSearch`]: uniform proposals, with or without replacement.
//! - [`Evolution`]: regularized evolution (Real et al., 2019) with NAS-Bench-201's population and tournament sizes.
//! - [`LocalSearch`]: hill climbing over one-dimension neighbourhoods with random restarts (White et al., 2021).
//! - [`Reinforce`]: a factorised categorical policy trained by REINFORCE with a moving-average baseline, as in
//!   NAS-Bench-201.
//! - [`Tpe`]: the tree-structured Parzen estimator for categorical dimensions, as Optuna's default sampler.
//! - [`Nsga2`]: NSGA-II (Deb et al., 2002), for several objectives at once (a Pareto front); with one, an elitist
//!   genetic algorithm. [`RandomSearch`] ignores the objectives, so it is the multi-objective random baseline too.
//! - [`Motpe`]: the multi-objective TPE (Ozaki et al., 2020 and 2022): TPE's estimators, its good group chosen by
//!   Pareto rank and hypervolume contribution; with one objective, TPE.
//!
//! Each takes a settings struct whose defaults are the published ones, refuses unknown fields when deserialized, and
//! is built only from checked settings (`settings.check()?`, genius-core's [`Checked`](genius_core::checked::Checked)):
//!
//! ```
//! use genius_baselines::{Evolution, EvolutionSettings};
//! use genius_core::checked::Check;
//!
//! let evolution = Evolution::new(EvolutionSettings { population_size: 20, ..Default::default() }.check()?);
//! assert!(EvolutionSettings { population_size: 2, sample_size: 3, ..Default::default() }.check().is_err());
//! # Ok::<(), genius_core::OptimizerError>(())
//! ```
//!
//! All draw randomness only from the study's generator, do no IO, and propose only architectures of the space that
//! meet its constraint. [`catalog`] builds any of them by name from serialized settings, for command lines and
//! configs:
//!
//! ```
//! let optimizer = genius_baselines::catalog::build("tpe", serde_json::json!({ "n_startup_trials": 20 })).unwrap();
//! assert_eq!(optimizer.settings()["n_startup_trials"], 20);
//! assert!(genius_baselines::catalog::build("tpe", serde_json::json!({ "gamma": 2.0 })).is_err());
//! ```

pub mod catalog;
mod common;
mod evolution;
mod local_search;
mod motpe;
mod nsga2;
mod random_search;
mod reinforce;
mod tpe;

pub use evolution::{Evolution, EvolutionSettings};
pub use local_search::{LocalSearch, LocalSearchSettings};
pub use motpe::{Motpe, MotpeSettings};
pub use nsga2::{Nsga2, Nsga2Settings};
pub use random_search::{RandomSearch, RandomSearchSettings};
pub use reinforce::{Reinforce, ReinforceSettings};
pub use tpe::{Tpe, TpeSettings};
