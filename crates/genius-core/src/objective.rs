//! What a study optimizes: one metric in one direction, with optional constraints on others.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Direction, Evaluation, MetricSpec, Visibility};

/// A bound on a metric (or on `params` / `flops`) that a feasible architecture must meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraint {
    /// The metric name, or `params` / `flops`.
    pub metric: String,
    /// The smallest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The largest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Constraint {
    /// Whether `eval` meets the bound; an evaluation without the metric does not.
    pub fn holds(&self, eval: &Evaluation) -> bool {
        eval.value(&self.metric).is_some_and(|v| self.min.is_none_or(|lo| v >= lo) && self.max.is_none_or(|hi| v <= hi))
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => write!(f, "{lo} <= {} <= {hi}", self.metric),
            (Some(lo), None) => write!(f, "{} >= {lo}", self.metric),
            (None, Some(hi)) => write!(f, "{} <= {hi}", self.metric),
            (None, None) => write!(f, "{} (unbounded)", self.metric),
        }
    }
}

/// An objective that does not fit the evaluator's metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectiveError {
    /// The evaluator reports no such metric.
    #[error("unknown metric `{name}`; this evaluator reports: {known}")]
    UnknownMetric {
        /// The name asked for.
        name: String,
        /// The names it knows, comma-separated.
        known: String,
    },
    /// The metric is held out: optimizing or constraining it would feed it back into the search.
    #[error("metric `{0}` is held out (reported only); a search may not optimize or constrain it")]
    HeldOut(String),
    /// A constraint with neither bound, or with `min > max`.
    #[error("constraint on `{0}` needs min <= max and at least one of them")]
    EmptyConstraint(String),
}

/// Optimize `metric` in `direction`, subject to `constraints`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// The metric the search sees and optimizes.
    pub metric: String,
    /// Which way is better.
    pub direction: Direction,
    /// Bounds a feasible architecture meets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
}

impl Objective {
    /// The evaluator's default: its search metric, in that metric's direction, unconstrained.
    pub fn from_spec(spec: &MetricSpec) -> Self {
        let m = spec.search_metric();
        Self { metric: m.name.clone(), direction: m.direction, constraints: Vec::new() }
    }

    /// Optimize `metric` of `spec` in its natural direction.
    pub fn metric(spec: &MetricSpec, metric: &str) -> Result<Self, ObjectiveError> {
        let m = spec.get(metric).ok_or_else(|| unknown(spec, metric))?;
        let objective = Self { metric: m.name.clone(), direction: m.direction, constraints: Vec::new() };
        objective.check(spec)?;
        Ok(objective)
    }

    /// Checks that every metric named is known and visible to the search.
    pub fn check(&self, spec: &MetricSpec) -> Result<(), ObjectiveError> {
        let visible = |name: &str| -> Result<(), ObjectiveError> {
            match spec.get(name) {
                Some(m) if m.visibility == Visibility::Reported => Err(ObjectiveError::HeldOut(name.to_owned())),
                Some(_) => Ok(()),
                None if name == "params" || name == "flops" => Ok(()),
                None => Err(unknown(spec, name)),
            }
        };
        visible(&self.metric)?;
        for c in &self.constraints {
            visible(&c.metric)?;
            let ordered = match (c.min, c.max) {
                (Some(lo), Some(hi)) => lo <= hi,
                (None, None) => false,
                _ => true,
            };
            if !ordered {
                return Err(ObjectiveError::EmptyConstraint(c.metric.clone()));
            }
        }
        Ok(())
    }

    /// The objective value of `eval`, if it has one.
    pub fn value(&self, eval: &Evaluation) -> Option<f64> {
        eval.value(&self.metric)
    }

    /// Whether `eval` meets every constraint.
    pub fn feasible(&self, eval: &Evaluation) -> bool {
        self.constraints.iter().all(|c| c.holds(eval))
    }

    /// The value turned so that larger is better, for feasible evaluations that have it.
    pub fn score(&self, eval: &Evaluation) -> Option<f64> {
        self.value(eval).filter(|_| self.feasible(eval)).map(|v| self.direction.oriented(v))
    }
}

fn unknown(spec: &MetricSpec, name: &str) -> ObjectiveError {
    let known = spec.metrics.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ");
    ObjectiveError::UnknownMetric { name: name.to_owned(), known }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metric;

    fn spec() -> MetricSpec {
        let metric = |name: &str, visibility| Metric {
            name: name.into(),
            direction: Direction::Maximize,
            visibility,
            description: String::new(),
        };
        MetricSpec {
            metrics: vec![metric("val", Visibility::Search), metric("test", Visibility::Reported)],
            search: "val".into(),
            report: "test".into(),
        }
    }

    fn eval(val: f64, flops: u64) -> Evaluation {
        Evaluation {
            metrics: [("val".into(), val), ("test".into(), 1.0)].into(),
            flops: Some(flops),
            ..Default::default()
        }
    }

    #[test]
    fn held_out_metrics_cannot_be_optimized_or_constrained() {
        assert_eq!(Objective::metric(&spec(), "test").unwrap_err(), ObjectiveError::HeldOut("test".into()));
        let mut o = Objective::from_spec(&spec());
        o.constraints.push(Constraint { metric: "test".into(), min: Some(0.0), max: None });
        assert_eq!(o.check(&spec()).unwrap_err(), ObjectiveError::HeldOut("test".into()));
        assert!(matches!(Objective::metric(&spec(), "nope"), Err(ObjectiveError::UnknownMetric { .. })));
    }

    #[test]
    fn constraints_gate_the_score() {
        let mut o = Objective::from_spec(&spec());
        o.constraints.push(Constraint { metric: "flops".into(), min: Some(10.0), max: Some(20.0) });
        o.check(&spec()).unwrap();
        assert_eq!(o.score(&eval(90.0, 15)), Some(90.0));
        assert_eq!(o.score(&eval(90.0, 25)), None);
        o.direction = Direction::Minimize;
        assert_eq!(o.score(&eval(90.0, 15)), Some(-90.0));
    }
}
