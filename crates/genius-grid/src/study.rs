//! One study, assembled once for every command that runs one: its parts, its settings, running it in its
//! directory or resuming it there, and stopping it on Ctrl-C.

use std::path::Path;
use std::sync::Arc;

use crate::error::{GridError, Result, chain};
use genius_core::checked::Checked;
use genius_core::executor::Executor;
use genius_core::{
    Budget, CancellationToken, Evaluator, Objective, Optimizer, Recorded, SearchSpace, Study, StudyOutcome,
    StudySettings,
};

/// What a study runs: the space, its evaluator, the optimizer and, optionally, an executor for the evaluations.
pub struct StudyParts {
    /// The space searched.
    pub space: Arc<dyn SearchSpace>,
    /// Its evaluator.
    pub evaluator: Arc<dyn Evaluator>,
    /// The optimizer.
    pub optimizer: Box<dyn Optimizer>,
    /// Where evaluations run (in this process when `None`).
    pub executor: Option<Arc<dyn Executor>>,
}

/// How a study runs.
#[derive(Debug, Clone)]
pub struct StudySetup {
    /// Its seed.
    pub seed: u64,
    /// Its budget.
    pub budget: Budget,
    /// The runner's settings, checked.
    pub settings: Checked<StudySettings>,
    /// What is optimized [default: the evaluator's search metric]; a resume passes the recorded one.
    pub objective: Option<Objective>,
    /// Context recorded in the run header (the command line, the grid's label).
    pub context: Option<serde_json::Value>,
    /// Stops the study (cleanly, with its run log intact) when cancelled.
    pub stop: CancellationToken,
}

impl StudyParts {
    /// The study of these parts as `setup` says; observers are added by the caller.
    pub fn assemble(self, setup: StudySetup) -> Study {
        let mut study = Study::new(self.space, self.evaluator, self.optimizer)
            .seed(setup.seed)
            .budget(setup.budget)
            .settings(setup.settings)
            .stop_on(setup.stop);
        if let Some(objective) = setup.objective {
            study = study.objective(objective);
        }
        if let Some(context) = setup.context {
            study = study.context(context);
        }
        if let Some(executor) = self.executor {
            study = study.executor(executor);
        }
        study
    }
}

/// Runs `study` in `dir`, or resumes it when `dir` holds its run log already. A run directory whose log is empty
/// (killed before its header reached the disk) recorded nothing and is started again.
pub async fn run_or_resume(study: Study, dir: &Path) -> Result<StudyOutcome> {
    let log = dir.join(genius_core::run_log::TRIALS_FILE);
    if std::fs::metadata(&log).is_ok_and(|m| m.len() == 0) {
        std::fs::remove_dir_all(dir).map_err(|e| GridError::Io(format!("cannot remove {}: {e}", dir.display())))?;
    }
    let outcome = if log.exists() {
        let recorded = Recorded::read(dir).map_err(|e| GridError::Run(chain(&e)))?;
        study.resume(recorded).await
    } else {
        study.run_in(dir).await
    };
    outcome.map_err(|e| GridError::Run(chain(&e)))
}

/// A token cancelled by the first Ctrl-C (the studies stop after the evaluations in flight, their run logs intact);
/// a second Ctrl-C ends the process at once (exit code 130). Needs a Tokio runtime.
pub fn stop_on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping after the evaluations in flight; press Ctrl-C again to quit at once");
            trigger.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    token
}
