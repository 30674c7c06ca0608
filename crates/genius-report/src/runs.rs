//! Run directories read back as data for reports: the header's labels and every trial.

use std::path::{Path, PathBuf};

use genius_core::run_log::{EventRecord, TRIALS_FILE};
use genius_core::{MetricSpec, Objective, Optimum, Recorded, RunHeader, StopReason, Trial, Usage};
use serde::{Deserialize, Serialize};

use crate::ReportError;

/// How a comparison labels a run, stored under `context.compare` in its header.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct RunLabel {
    /// The optimizer's label in the comparison (e.g. `genius-t0`), defaulting to its name.
    pub optimizer: String,
    /// The ablation this run belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ablation: Option<AblationPoint>,
}

/// One value of one setting varied by an ablation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AblationPoint {
    /// The ablation's name (its section in the config).
    pub name: String,
    /// The setting varied.
    pub setting: String,
    /// This run's value, as written in the config.
    pub value: String,
}

/// A run's labels and settings, as its header records them.
#[derive(Debug, Clone)]
pub struct RunMeta {
    /// The space's name.
    pub space: String,
    /// The optimizer's registered name.
    pub optimizer: String,
    /// How a comparison labels it.
    pub label: RunLabel,
    /// The experiment (comparison) it was run for, if any.
    pub experiment: Option<String>,
    /// The seed.
    pub seed: u64,
    /// The evaluation budget recorded in its header, if any.
    pub planned: Option<usize>,
    /// The evaluator's metrics.
    pub metrics: MetricSpec,
    /// The objective.
    pub objective: Objective,
}

impl RunMeta {
    /// The labels and settings `header` records.
    pub fn of(header: &RunHeader) -> Self {
        let label = header
            .context
            .get("compare")
            .and_then(|c| serde_json::from_value::<RunLabel>(c.clone()).ok())
            .unwrap_or_else(|| RunLabel { optimizer: header.optimizer.name.clone(), ablation: None });
        let experiment = header.context.get("experiment").and_then(|e| e.as_str()).map(str::to_owned);
        Self {
            space: header.space.clone(),
            optimizer: header.optimizer.name.clone(),
            label,
            experiment,
            seed: header.seed,
            planned: header.budget.evaluations,
            metrics: header.metrics.clone(),
            objective: header.objective.clone(),
        }
    }
}

/// One run, read from its directory.
#[derive(Debug, Clone)]
pub struct Run {
    /// Its directory.
    pub dir: PathBuf,
    /// Its labels and settings, as its header records them, except that [`RunMeta::planned`] is raised to the
    /// evaluations it spent when a resume ran it further than its recorded budget.
    pub meta: RunMeta,
    /// Every trial.
    pub trials: Vec<Trial>,
    /// Every optimizer event.
    pub events: Vec<EventRecord>,
    /// The evaluator's optimum, when known (from the summary).
    pub optimum: Option<Optimum>,
    /// Why it stopped, if it finished.
    pub stop: Option<StopReason>,
}

impl Run {
    /// Reads the run in `dir`.
    pub fn read(dir: &Path) -> Result<Self, ReportError> {
        let recorded = Recorded::read(dir)?;
        let mut meta = RunMeta::of(&recorded.header);
        let spent = recorded.trials.iter().filter(|t| t.counted).count();
        meta.planned = meta.planned.map(|b| b.max(spent));
        Ok(Self {
            dir: dir.to_owned(),
            meta,
            trials: recorded.trials,
            events: recorded.events,
            optimum: recorded.summary.as_ref().and_then(|s| s.optimum.clone()),
            stop: recorded.summary.map(|s| s.stop),
        })
    }

    /// Optimizer usage (model calls, tokens, money) of the asks up to and including `ask`.
    pub fn usage_through(&self, ask: u64) -> Usage {
        let mut usage = Usage::default();
        for e in self.events.iter().filter(|e| e.ask <= ask) {
            usage.add(&e.event.usage);
        }
        usage
    }

    /// The number of evaluations (counted trials) the run spent.
    pub fn evaluations(&self) -> usize {
        self.trials.iter().filter(|t| t.counted).count()
    }
}

/// Every run directory under `root` (any depth), in path order.
pub fn find_runs(root: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| ReportError::Io { path: dir.clone(), cause: e })?;
        for entry in entries {
            let entry = entry.map_err(|e| ReportError::Io { path: dir.clone(), cause: e })?;
            let path = entry.path();
            if path.is_dir() {
                if path.join(TRIALS_FILE).is_file() {
                    found.push(path);
                } else {
                    stack.push(path);
                }
            }
        }
    }
    found.sort();
    Ok(found)
}
