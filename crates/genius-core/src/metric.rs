//! Metrics an evaluator reports, and which of them a search may see.

use serde::{Deserialize, Serialize};

/// Whether larger or smaller values of a metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Larger is better (accuracy).
    Maximize,
    /// Smaller is better (loss, latency).
    Minimize,
}

impl Direction {
    /// `value` turned so that larger is better.
    pub fn oriented(self, value: f64) -> f64 {
        match self {
            Self::Maximize => value,
            Self::Minimize => -value,
        }
    }
}

/// Who may see a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// The search may see it: it may drive the optimizer (validation accuracy).
    Search,
    /// Held out: reported in results, never fed back to the optimizer (test accuracy).
    Reported,
}

/// One metric an evaluator reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Its name in evaluations and run logs, e.g. `val_acc`.
    pub name: String,
    /// Which way is better.
    pub direction: Direction,
    /// Whether the search may see it.
    pub visibility: Visibility,
    /// What it measures, for reports and `--help` (e.g. `CIFAR-10 test accuracy (%), mean of 3 trainings`).
    pub description: String,
}

/// The metrics of an evaluator: which one the search optimizes by default and which one results are reported in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSpec {
    /// Every metric an evaluation may carry.
    pub metrics: Vec<Metric>,
    /// The metric a search optimizes unless told otherwise; its visibility is [`Visibility::Search`].
    pub search: String,
    /// The metric results are reported in (the best architecture is chosen by the search metric, then reported in
    /// this one). It may be the search metric itself when the evaluator has nothing held out.
    pub report: String,
}

impl MetricSpec {
    /// The metric called `name`.
    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The default search metric.
    pub fn search_metric(&self) -> &Metric {
        self.get(&self.search).expect("MetricSpec::search names one of its metrics")
    }

    /// The reported metric.
    pub fn report_metric(&self) -> &Metric {
        self.get(&self.report).expect("MetricSpec::report names one of its metrics")
    }

    /// Checks that `search` and `report` name metrics and that the search metric is visible to the search.
    pub fn check(&self) -> Result<(), String> {
        let search = self.get(&self.search).ok_or_else(|| format!("search metric `{}` is not listed", self.search))?;
        if search.visibility != Visibility::Search {
            return Err(format!("search metric `{}` is held out (reported only)", self.search));
        }
        self.get(&self.report).ok_or_else(|| format!("report metric `{}` is not listed", self.report))?;
        Ok(())
    }

    /// The names of the metrics a search may see.
    pub fn visible(&self) -> impl Iterator<Item = &str> {
        self.metrics.iter().filter(|m| m.visibility == Visibility::Search).map(|m| m.name.as_str())
    }
}
