//! A SLURM executor for genius: a study's evaluations as jobs of a SLURM cluster.
//!
//! Each batch of architectures becomes one job array (`sbatch`); its task `i` runs the worker (`genius evaluate`)
//! on the `i`-th architecture and writes the result into a job directory on the shared file system. The executor
//! polls the jobs with `squeue` (and asks `scontrol` why a job ended without a result) and cancels them with
//! `scancel`; genius-core's runner does the rest: the run log's job records, bounded retries of lost jobs, failed
//! trials with the reason and log tail, cancelling on Ctrl-C, and reattaching to recorded jobs on a resume.
//!
//! genius-slurm only talks to SLURM's client commands, so it works wherever `sbatch` does, and schedules nothing
//! itself. Its tests on a real one-node cluster live in genius-cli (`tests/slurm.rs`, run by `.ci/run` through
//! `scripts/slurm-local.sh`).

pub mod batch_script;
pub mod catalog;
pub mod commands;
pub mod executor;
pub mod settings;

pub use batch_script::Worker;
pub use executor::{NAME, SlurmExecutor};
pub use settings::SlurmSettings;

/// A SLURM executor that cannot be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SlurmError {
    /// Bad or unreadable settings.
    #[error("SLURM executor: {0}")]
    Settings(String),
}
