//! Rows of the comparison: one per space × optimizer (× ablation value) × budget, and the CSV files.

use std::collections::BTreeMap;
use std::path::Path;

use genius_core::Direction;
use serde::Serialize;

use crate::ReportError;
use crate::digest::RunDigest;
use crate::stats::Describe;

/// One row of `summary.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// The space.
    pub space: String,
    /// The optimizer's label.
    pub optimizer: String,
    /// The ablation (`name`), empty for the main grid.
    pub ablation: String,
    /// The ablated setting's value, empty for the main grid.
    pub value: String,
    /// Evaluations (queries).
    pub budget: usize,
    /// Runs (seeds) with a result at this budget.
    pub runs: usize,
    /// The reported metric's name.
    pub metric: String,
    /// Mean of the reported metric of the incumbent.
    pub mean: f64,
    /// Its sample standard deviation.
    pub std: f64,
    /// Its standard error.
    pub sem: f64,
    /// Its median.
    pub median: f64,
    /// Its first quartile.
    pub q25: f64,
    /// Its third quartile.
    pub q75: f64,
    /// Mean rank in the table (empty when the evaluator does not rank).
    pub mean_rank: Option<f64>,
    /// Median rank.
    pub median_rank: Option<f64>,
    /// The table's size, for "rank r / N".
    pub table_size: Option<u64>,
    /// Mean regret to the table's optimum (how much worse than the best architecture; 0 is optimal).
    pub mean_regret: Option<f64>,
    /// Mean evaluations actually spent (fewer than the budget when an optimizer stopped early).
    pub evaluations: f64,
    /// Mean model calls up to this budget.
    pub llm_calls: f64,
    /// Mean tokens up to this budget.
    pub tokens: f64,
    /// Mean money (US dollars) up to this budget.
    pub cost_usd: f64,
    /// The values over runs, for tests and plots (not written to CSV).
    #[serde(skip)]
    pub values: Vec<f64>,
}

/// The key that groups runs into a row (without the budget).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupKey {
    /// Space.
    pub space: String,
    /// Optimizer label.
    pub optimizer: String,
    /// Ablation name and value, if any.
    pub ablation: Option<(String, String)>,
}

/// Groups runs by space, optimizer label and ablation point.
pub fn group(runs: &[RunDigest]) -> BTreeMap<GroupKey, Vec<&RunDigest>> {
    let mut groups: BTreeMap<GroupKey, Vec<&RunDigest>> = BTreeMap::new();
    for run in runs {
        let m = &run.meta;
        let key = GroupKey {
            space: m.space.clone(),
            optimizer: m.label.optimizer.clone(),
            ablation: m.label.ablation.as_ref().map(|a| (a.name.clone(), a.value.clone())),
        };
        groups.entry(key).or_default().push(run);
    }
    for g in groups.values_mut() {
        g.sort_by_key(|r| r.meta.seed);
    }
    groups
}

/// The row of `runs` (one group) at `budget`; `None` when no run has a result there. Runs planned with a smaller
/// budget are left out (a run that stopped early by itself keeps its last incumbent).
pub fn row(key: &GroupKey, runs: &[&RunDigest], budget: usize) -> Option<SummaryRow> {
    let mut values = Vec::new();
    let mut ranks = Vec::new();
    let mut regrets = Vec::new();
    let (mut evaluations, mut calls, mut tokens, mut cost) = (0.0, 0.0, 0.0, 0.0);
    let mut table_size = None;
    for run in runs.iter().filter(|r| r.budget.is_none_or(|planned| planned >= budget)) {
        let Some(best) = run.incumbent_at(budget) else { continue };
        let Some(value) = best.reported else { continue };
        values.push(value);
        if let Some(rank) = best.rank {
            ranks.push(rank.rank as f64);
            table_size = Some(rank.of);
        }
        if let Some(opt) = &run.optimum {
            let direction = run.meta.metrics.report_metric().direction;
            regrets.push(match direction {
                Direction::Maximize => opt.value - value,
                Direction::Minimize => value - opt.value,
            });
        }
        evaluations += budget.min(run.evaluations) as f64;
        // A run that ended before the budget spent everything it recorded (a final "cannot improve" call too).
        let usage = run.usage_at(budget).expect("a report keeps the usage at each of its budgets");
        calls += usage.calls as f64;
        tokens += usage.tokens() as f64;
        cost += usage.cost_usd;
    }
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let d = Describe::of(&values);
    let ranks_d = (!ranks.is_empty()).then(|| Describe::of(&ranks));
    Some(SummaryRow {
        space: key.space.clone(),
        optimizer: key.optimizer.clone(),
        ablation: key.ablation.as_ref().map(|a| a.0.clone()).unwrap_or_default(),
        value: key.ablation.as_ref().map(|a| a.1.clone()).unwrap_or_default(),
        budget,
        runs: values.len(),
        metric: runs[0].meta.metrics.report.clone(),
        mean: d.mean,
        std: d.std,
        sem: d.sem(),
        median: d.median,
        q25: d.q25,
        q75: d.q75,
        mean_rank: ranks_d.map(|r| r.mean),
        median_rank: ranks_d.map(|r| r.median),
        table_size,
        mean_regret: (!regrets.is_empty()).then(|| regrets.iter().sum::<f64>() / regrets.len() as f64),
        evaluations: evaluations / n,
        llm_calls: calls / n,
        tokens: tokens / n,
        cost_usd: cost / n,
        values,
    })
}

/// Writes `rows` as CSV.
pub fn write_summary_csv(path: &Path, rows: &[SummaryRow]) -> Result<(), ReportError> {
    let mut w = csv::Writer::from_path(path).map_err(|e| ReportError::csv(path, e))?;
    for r in rows {
        w.serialize(r).map_err(|e| ReportError::csv(path, e))?;
    }
    w.flush().map_err(|e| ReportError::Io { path: path.to_owned(), cause: e })
}
