//! The experiment grid of genius as a library: what `genius compare` runs, testable without the binary.
//!
//! - [`experiment`]: the experiment file (TOML; errors name the file and line) and its [`Plan`]: every run of
//!   spaces × optimizers × seeds (and ablations), each name checked against the [`Catalogs`] it is given and each
//!   setting checked by its plug-in before anything runs.
//! - [`study`]: how one study is assembled from its parts and settings (the one copy that `genius search`,
//!   `genius resume` and the grid share), run or resumed in its directory, and stopped on Ctrl-C.
//! - [`run`]: running a plan with any evaluator and executor, in parallel, resuming what a previous run of the grid
//!   left, and the report's inputs (the grid's description and its failed runs).
//!
//! The grid depends on genius-core and genius-report only: the plug-ins come in through the catalogs.
//!
//! [`Catalogs`]: genius_core::catalog::Catalogs

mod error;
pub mod experiment;
pub mod run;
pub mod study;

pub use error::{GridError, Result, chain};
pub use experiment::{Component, Overrides, Plan, PlannedRun, RunGroup};
pub use run::{GridOutcome, GridProgress, Runner, SpaceParts, finished};
pub use study::{StudyParts, StudySetup, run_or_resume, stop_on_ctrl_c};
