//! Evaluators and what they return: metrics, model facts and cost.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Architecture, MetricSpec};

/// Where an architecture stands in a tabular benchmark, by the reported metric: 1 is the best, ties share the better
/// rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rank {
    /// The position, 1-based.
    pub rank: u64,
    /// How many architectures the table holds.
    pub of: u64,
}

/// The best architecture of a table by its reported metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Optimum {
    /// The architecture (one of them, when several tie).
    pub arch: Architecture,
    /// Its value of the reported metric.
    pub value: f64,
}

/// What evaluating one architecture yielded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evaluation {
    /// Every metric by name, both those the search may see and the held-out ones (see [`MetricSpec`]).
    pub metrics: BTreeMap<String, f64>,
    /// Trainable parameters, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<u64>,
    /// Multiply-accumulate operations of one forward pass (the field's "FLOPs"), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flops: Option<u64>,
    /// What the evaluation cost in seconds: real training time, or the time a table records. `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_s: Option<f64>,
    /// Rank in a tabular benchmark by the reported metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<Rank>,
    /// Anything else worth keeping in the run log (a loss curve, per-seed accuracies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl Evaluation {
    /// The value of `name`: a metric, or `params` / `flops` when no metric has that name.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied().or_else(|| match name {
            "params" => self.params.map(|p| p as f64),
            "flops" => self.flops.map(|f| f as f64),
            _ => None,
        })
    }
}

/// Why an evaluation gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// This architecture could not be evaluated (not in the table, diverged, out of memory). The study records a
    /// failed trial with this reason and goes on.
    #[error("evaluation failed: {0}")]
    Failed(String),
    /// The evaluator cannot work at all (lost its data, its device). The study stops, keeping what it recorded.
    #[error("evaluator error: {0}")]
    Fatal(String),
}

/// Evaluates architectures: a benchmark table look-up and a real trainer implement the same trait.
///
/// `evaluate` takes `&self` so that a runner may evaluate several architectures at once; an evaluator that must not
/// run concurrently serialises internally.
#[async_trait]
pub trait Evaluator: Send + Sync {
    /// A short name for logs, e.g. `table` or `train`.
    fn name(&self) -> &str;

    /// The metrics an evaluation carries, which one the search sees by default and which one is reported.
    fn metrics(&self) -> &MetricSpec;

    /// Evaluates one architecture, which is valid for the evaluator's space.
    async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError>;

    /// The best architecture by the reported metric, when the evaluator knows it (tables do).
    fn optimum(&self) -> Option<Optimum> {
        None
    }

    /// The evaluator's settings, recorded in the run log so that the run can be repeated.
    fn settings(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}
