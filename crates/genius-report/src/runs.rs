//! Run directories read back as data for reports: the header's labels and every trial.

use std::path::{Path, PathBuf};

use genius_core::run_log::{EventRecord, TRIALS_FILE};
use genius_core::{MetricSpec, Objective, Optimum, Recorded, StopReason, Trial, Usage};
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

/// One run, read from its directory.
#[derive(Debug, Clone)]
pub struct Run {
    /// Its directory.
    pub dir: PathBuf,
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
    /// The evaluation budget it was planned for, if it had one: the recorded budget, or the evaluations it spent when
    /// a resume ran it further.
    pub budget: Option<usize>,
    /// The evaluator's metrics.
    pub metrics: MetricSpec,
    /// The objective.
    pub objective: Objective,
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
        let header = recorded.header;
        let label = header
            .context
            .get("compare")
            .and_then(|c| serde_json::from_value::<RunLabel>(c.clone()).ok())
            .unwrap_or_else(|| RunLabel { optimizer: header.optimizer.name.clone(), ablation: None });
        let experiment = header.context.get("experiment").and_then(|e| e.as_str()).map(str::to_owned);
        let spent = recorded.trials.iter().filter(|t| t.counted).count();
        Ok(Self {
            dir: dir.to_owned(),
            space: header.space,
            optimizer: header.optimizer.name,
            label,
            experiment,
            seed: header.seed,
            budget: header.budget.evaluations.map(|b| b.max(spent)),
            metrics: header.metrics,
            objective: header.objective,
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

/// Checks that no two runs carry the same labels (space, optimizer label, ablation point, seed).
pub fn check_distinct(runs: &[Run]) -> Result<(), ReportError> {
    let mut seen: std::collections::BTreeMap<(&str, &RunLabel, u64), &Path> = std::collections::BTreeMap::new();
    for run in runs {
        if let Some(first) = seen.insert((&run.space, &run.label, run.seed), &run.dir) {
            let ablation = run.label.ablation.as_ref().map(|a| format!(", {} = {}", a.setting, a.value));
            return Err(ReportError::Duplicate {
                first: first.to_owned(),
                second: run.dir.clone(),
                what: format!(
                    "space {}, optimizer {}{}, seed {}",
                    run.space,
                    run.label.optimizer,
                    ablation.unwrap_or_default(),
                    run.seed
                ),
            });
        }
    }
    Ok(())
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
