//! Run and grid directories for the dashboard's tests, written by genius-core's own run log and study runner on the
//! toy space and table.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use genius_core::testing::{ToySpace, ToyTable, UniformOptimizer};
use genius_core::{Architecture, Budget, Evaluator, Flush, RunLog, SearchSpace, SpaceExt, Study, Trial, TrialStatus};
use genius_report::{GRID_FILE, GridInfo};

/// A small grid: two optimizer labels × `seeds` seeds on the toy table, with its `grid.json`.
pub async fn grid(root: &Path, seeds: u64) {
    for label in ["uniform", "uniform-b"] {
        for seed in 0..seeds {
            let dir = root.join("toy").join(label).join(format!("seed-{seed}"));
            Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
                .seed(seed + if label == "uniform" { 0 } else { 100 })
                .budget(Budget::evaluations(8))
                .context(serde_json::json!({ "compare": { "optimizer": label }, "experiment": "toy grid" }))
                .run_in(&dir)
                .await
                .unwrap();
        }
    }
    let info = GridInfo {
        name: "toy grid".into(),
        budgets: vec![4, 8],
        spaces: vec!["toy".into()],
        optimizers: vec!["uniform".into(), "uniform-b".into()],
        baseline: Some("uniform".into()),
        ..Default::default()
    };
    std::fs::write(root.join(GRID_FILE), serde_json::to_vec(&info).unwrap()).unwrap();
}

/// A run being written by hand, trial by trial, as the study runner writes it (its lock held while it lives).
pub struct Writer {
    pub log: RunLog,
    space: ToySpace,
    table: ToyTable,
    next: usize,
}

impl Writer {
    /// Starts a run in `dir` (header written, no trial yet).
    pub fn start(dir: &Path) -> Self {
        let study = Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
            .seed(7)
            .budget(Budget::evaluations(24));
        let log = RunLog::create(dir, &study.header(), Flush::Trial).unwrap();
        Self { log, space: ToySpace::new(), table: ToyTable::new(), next: 0 }
    }

    /// Evaluates the next architecture of the toy space (in enumeration order) and appends its trial.
    pub async fn append(&mut self) -> Trial {
        let trial = self.next_trial().await;
        self.log.append_trial(&trial).unwrap();
        trial
    }

    /// The next trial's line as the run log writes it (newline included), for a test to write by hand.
    pub async fn next_line(&mut self) -> String {
        let trial = self.next_trial().await;
        serde_json::to_string(&trial).unwrap() + "\n"
    }

    async fn next_trial(&mut self) -> Trial {
        let arch: Architecture = self.space.enumerate().nth(self.next).expect("24 architectures");
        let evaluation = self.table.evaluate(&arch).await;
        let (status, evaluation) = match evaluation {
            Ok(e) => (TrialStatus::Complete, Some(e)),
            Err(e) => (TrialStatus::Failed { reason: e.to_string() }, None),
        };
        let trial = Trial {
            index: self.next,
            ask: self.next as u64 + 1,
            text: self.space.format(&arch),
            arch,
            status,
            counted: true,
            evaluation,
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_s: 0.01,
            elapsed_s: self.next as f64,
        };
        self.next += 1;
        trial
    }
}
