//! The core of genius: the data model and the traits every part plugs into, and the study runner.
//!
//! - A [`SearchSpace`] is a product of categorical [`Dimension`]s with a canonical text form and an optional
//!   constraint; an [`Architecture`] is one choice per dimension. [`SpaceExt`] gives every space sampling,
//!   mutation, neighbours, cardinality and enumeration.
//! - An [`Evaluator`] turns an architecture into an [`Evaluation`]: named metrics, of which the [`MetricSpec`] says
//!   which one the search may see and which one is only reported, plus params, FLOPs and cost.
//! - An [`Optimizer`] is driven ask/tell. It sees [`Observation`]s (search metrics only, never held-out ones), draws
//!   randomness only from the injected [`SearchRng`], and does no IO.
//! - A [`Study`] runs ask → evaluate → tell until its [`Budget`] is spent, writes the run log ([`run_log`]) and
//!   resumes from it. Evaluations run in its process, or as jobs elsewhere through an [`executor::Executor`].
//! - A [`catalog`] lists every plug-in of the four kinds (spaces, optimizers, evaluators, executors) by name, with
//!   its documented settings and how to build it.
//!
//! ```
//! use std::sync::Arc;
//! use genius_core::testing::{ToySpace, ToyTable, UniformOptimizer};
//! use genius_core::{Budget, SearchSpace, Study};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let space = Arc::new(ToySpace::new());
//! let outcome = Study::new(space.clone(), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
//!     .seed(0)
//!     .budget(Budget::evaluations(20))
//!     .run()
//!     .await?;
//! let best = outcome.best().expect("a trial succeeded");
//! println!("best {} with val_acc {}", space.format(&best.arch), best.evaluation.as_ref().unwrap().metrics["val_acc"]);
//! # Ok::<(), genius_core::StudyError>(())
//! # }).unwrap();
//! ```

mod architecture;
mod brief;
mod budget;
pub mod catalog;
pub mod checked;
pub mod combine;
mod evaluation;
pub mod executor;
mod metric;
pub mod network;
mod objective;
mod observer;
mod optimizer;
pub mod pareto;
pub mod rng;
pub mod run_log;
mod space;
mod study;
#[cfg(any(test, feature = "testing", doc))]
pub mod testing;
mod trial;

pub use architecture::{ArchMap, ArchSet, Architecture, ChoiceHasher};
pub use brief::{BriefTable, Dialogue, Notation, SpaceBrief, elided_example};
pub use budget::{Budget, BudgetLimit, Spend, Usage};
pub use evaluation::{EvalError, Evaluation, Evaluator, Optimum, Rank};
pub use metric::{Direction, Metric, MetricSpec, Visibility};
pub use objective::{Constraint, Goal, Objective, ObjectiveError};
pub use observer::{Observer, StudyEvent};
pub use optimizer::{AskContext, AskEvent, Optimizer, OptimizerError, OptimizerEvent};
pub use rng::SearchRng;
pub use run_log::{Flush, Recorded, RunHeader, RunLog, Scanned};
pub use space::{
    Dimension, FEASIBLE_DRAWS, ParseError, SearchSpace, SpaceExt, Violation, default_format, default_parse,
};
pub use study::{
    DuplicatePolicy, StopReason, Study, StudyError, StudyOutcome, StudySettings, StudySettingsError, Summary,
};
pub use trial::{Observation, Trial, TrialStatus};

pub use async_trait::async_trait;
pub use tokio_util::sync::CancellationToken;
