//! Rows of the comparison: one per space × optimizer (× ablation value) × budget, and the CSV files.

use std::collections::BTreeMap;
use std::path::Path;

use genius_core::{Direction, Goal};
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
    /// A multi-objective group's objectives (`val_acc_200:max flops:min`); empty for a single objective.
    pub objectives: String,
    /// Mean hypervolume of the runs' Pareto fronts at this budget (2 or 3 objectives; larger is better).
    pub hv_mean: Option<f64>,
    /// Its sample standard deviation.
    pub hv_std: Option<f64>,
    /// Mean number of trials on a run's front.
    pub front_size: Option<f64>,
    /// The hypervolume's reference point, in the objectives' own units (`val_acc_200=…;flops=…`), shared by every
    /// row of the space.
    pub hv_reference: String,
    /// The values over runs, for tests and plots (not written to CSV).
    #[serde(skip)]
    pub values: Vec<f64>,
    /// The hypervolume of each run, for tests, plots and significance tests (not written to CSV).
    #[serde(skip)]
    pub hv_values: Vec<f64>,
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
        objectives: String::new(),
        hv_mean: None,
        hv_std: None,
        front_size: None,
        hv_reference: String::new(),
        values,
        hv_values: Vec::new(),
    })
}

/// The hypervolume reference point of a space's multi-objective runs: worse than every point of every run's front
/// at every budget kept, by a tenth of each objective's range over those points (so that a front's extreme points
/// count), derived from the runs compared and recorded in `summary.csv` and `report.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The objectives it is for (runs with other objectives get no hypervolume).
    pub objectives: Vec<Goal>,
    /// The point, each objective turned so that larger is better.
    pub point: Vec<f64>,
}

impl Reference {
    /// The reference point of the multi-objective runs of `runs` that share the first one's objectives, from their
    /// fronts at `budgets` and at their end; `None` when there is no such run or no point at all.
    pub fn of(runs: &[&RunDigest], budgets: &[usize]) -> Option<Self> {
        let first = runs.iter().find(|r| r.meta.objective.is_multi())?;
        let objectives = first.meta.objective.all();
        let mut lo = vec![f64::INFINITY; objectives.len()];
        let mut hi = vec![f64::NEG_INFINITY; objectives.len()];
        for run in runs.iter().filter(|r| r.meta.objective.all() == objectives) {
            let fronts = budgets.iter().filter_map(|&b| run.front_at(b)).chain(run.front_at(usize::MAX));
            for point in fronts.flatten() {
                for (k, &v) in point.iter().enumerate() {
                    lo[k] = lo[k].min(v);
                    hi[k] = hi[k].max(v);
                }
            }
        }
        if lo.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let point = lo
            .iter()
            .zip(&hi)
            .map(|(&l, &h)| {
                let span = if h > l { h - l } else { l.abs().max(1.0) };
                l - 0.1 * span
            })
            .collect();
        Some(Self { objectives, point })
    }

    /// The point in the objectives' own units, as `metric=value` pairs joined by `;`.
    pub fn describe(&self) -> String {
        self.objectives
            .iter()
            .zip(&self.point)
            .map(|(g, &v)| format!("{}={}", g.metric, g.direction.oriented(v)))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// The hypervolume of `run`'s front after `budget` evaluations; `None` for a run with other objectives, a
    /// budget the digest did not keep, or more than 3 objectives.
    pub fn hypervolume(&self, run: &RunDigest, budget: usize) -> Option<f64> {
        if run.meta.objective.all() != self.objectives {
            return None;
        }
        genius_core::pareto::hypervolume(&run.front_at(budget)?, &self.point).ok()
    }
}

/// Fills the hypervolume columns of `row` (the group `runs` at its budget) against `reference`: mean and sd over the
/// runs that have a front there (runs planned below the budget left out, as for the other columns).
pub fn add_hypervolume(row: &mut SummaryRow, runs: &[&RunDigest], reference: &Reference) {
    let budget = row.budget;
    let mut values = Vec::new();
    let mut sizes = Vec::new();
    for run in runs.iter().filter(|r| r.budget.is_none_or(|planned| planned >= budget)) {
        if let Some(hv) = reference.hypervolume(run, budget) {
            values.push(hv);
            sizes.push(run.front_at(budget).map_or(0, |f| f.len()) as f64);
        }
    }
    if values.is_empty() {
        return;
    }
    let d = Describe::of(&values);
    let objective = reference.objectives.iter().map(Goal::to_string).collect::<Vec<_>>().join(" ");
    row.objectives = objective;
    row.hv_mean = Some(d.mean);
    row.hv_std = Some(d.std);
    row.front_size = Some(sizes.iter().sum::<f64>() / sizes.len() as f64);
    row.hv_reference = reference.describe();
    row.hv_values = values;
}

/// Writes `rows` as CSV.
pub fn write_summary_csv(path: &Path, rows: &[SummaryRow]) -> Result<(), ReportError> {
    let mut w = csv::Writer::from_path(path).map_err(|e| ReportError::csv(path, e))?;
    for r in rows {
        w.serialize(r).map_err(|e| ReportError::csv(path, e))?;
    }
    w.flush().map_err(|e| ReportError::Io { path: path.to_owned(), cause: e })
}
