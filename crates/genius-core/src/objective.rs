//! What a study optimizes: one metric in one direction, or several (a multi-objective search, whose results are a
//! Pareto front), with optional constraints on others.

use std::fmt;
use std::str::FromStr;

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
    /// The same metric named twice among the objectives.
    #[error("metric `{0}` is named twice among the objectives; name each metric once")]
    Repeated(String),
    /// An objective written other than `METRIC:max` or `METRIC:min`.
    #[error("objective `{0}` is not METRIC:max or METRIC:min (e.g. `flops:min`)")]
    Syntax(String),
    /// No objective at all.
    #[error("no objective given; name at least one, as METRIC:max or METRIC:min")]
    Empty,
}

/// One objective of a search: a metric (or `params` / `flops`) and which way is better. Written `METRIC:max` or
/// `METRIC:min` on the command line and in experiment files.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Goal {
    /// The metric name, or `params` / `flops`.
    pub metric: String,
    /// Which way is better.
    pub direction: Direction,
}

impl Goal {
    /// `metric` in `direction`.
    pub fn new(metric: impl Into<String>, direction: Direction) -> Self {
        Self { metric: metric.into(), direction }
    }
}

impl FromStr for Goal {
    type Err = ObjectiveError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || ObjectiveError::Syntax(s.to_owned());
        let (metric, direction) = s.trim().rsplit_once(':').ok_or_else(syntax)?;
        let direction = match direction.trim().to_ascii_lowercase().as_str() {
            "max" | "maximize" => Direction::Maximize,
            "min" | "minimize" => Direction::Minimize,
            _ => return Err(syntax()),
        };
        let metric = metric.trim();
        if metric.is_empty() {
            return Err(syntax());
        }
        Ok(Self::new(metric, direction))
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let direction = match self.direction {
            Direction::Maximize => "max",
            Direction::Minimize => "min",
        };
        write!(f, "{}:{direction}", self.metric)
    }
}

/// Optimize `metric` in `direction` (and, in a multi-objective search, every metric of `also` at once), subject to
/// `constraints`.
///
/// The first objective stays in `metric` and `direction`, so a single-objective run log reads and writes exactly as
/// before; `also` is absent from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// The metric the search sees and optimizes (the first objective of a multi-objective search).
    pub metric: String,
    /// Which way is better.
    pub direction: Direction,
    /// The further objectives of a multi-objective search, optimized together with `metric`; empty for a
    /// single-objective one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Goal>,
    /// Bounds a feasible architecture meets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
}

impl Objective {
    /// The evaluator's default: its search metric, in that metric's direction, unconstrained.
    pub fn from_spec(spec: &MetricSpec) -> Self {
        let m = spec.search_metric();
        Self { metric: m.name.clone(), direction: m.direction, also: Vec::new(), constraints: Vec::new() }
    }

    /// Optimize `metric` of `spec` in its natural direction.
    pub fn metric(spec: &MetricSpec, metric: &str) -> Result<Self, ObjectiveError> {
        let m = spec.get(metric).ok_or_else(|| unknown(spec, metric))?;
        let objective =
            Self { metric: m.name.clone(), direction: m.direction, also: Vec::new(), constraints: Vec::new() };
        objective.check(spec)?;
        Ok(objective)
    }

    /// Optimize every one of `goals` at once (one goal is a single-objective search), checked against `spec`: every
    /// metric known, none held out, none twice.
    pub fn goals(spec: &MetricSpec, goals: impl IntoIterator<Item = Goal>) -> Result<Self, ObjectiveError> {
        let mut goals = goals.into_iter();
        let first = goals.next().ok_or(ObjectiveError::Empty)?;
        let objective =
            Self { metric: first.metric, direction: first.direction, also: goals.collect(), constraints: Vec::new() };
        objective.check(spec)?;
        Ok(objective)
    }

    /// Every objective, the first one (`metric`, `direction`) first.
    pub fn all(&self) -> Vec<Goal> {
        std::iter::once(Goal::new(self.metric.clone(), self.direction)).chain(self.also.iter().cloned()).collect()
    }

    /// Whether it has more than one objective.
    pub fn is_multi(&self) -> bool {
        !self.also.is_empty()
    }

    /// How many objectives it has.
    pub fn count(&self) -> usize {
        1 + self.also.len()
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
        for (i, goal) in self.also.iter().enumerate() {
            visible(&goal.metric)?;
            if goal.metric == self.metric || self.also[..i].iter().any(|g| g.metric == goal.metric) {
                return Err(ObjectiveError::Repeated(goal.metric.clone()));
            }
        }
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

    /// Every objective's value of `eval`, in [`Objective::all`]'s order, when it has them all.
    pub fn values(&self, eval: &Evaluation) -> Option<Vec<f64>> {
        self.values_by(|name| eval.value(name))
    }

    /// Every objective's value, each turned so that larger is better, for a feasible evaluation that has them all:
    /// the point of objective space a Pareto front is made of ([`crate::pareto`]).
    pub fn scores(&self, eval: &Evaluation) -> Option<Vec<f64>> {
        self.feasible(eval).then(|| self.oriented(self.values(eval)?)).flatten()
    }

    /// The values of every objective, looked up by `value`, in [`Objective::all`]'s order.
    pub(crate) fn values_by(&self, value: impl Fn(&str) -> Option<f64>) -> Option<Vec<f64>> {
        std::iter::once(self.metric.as_str()).chain(self.also.iter().map(|g| g.metric.as_str())).map(value).collect()
    }

    /// `values` (in [`Objective::all`]'s order) turned so that larger is better.
    pub fn oriented(&self, values: Vec<f64>) -> Option<Vec<f64>> {
        let directions = std::iter::once(self.direction).chain(self.also.iter().map(|g| g.direction));
        (values.len() == self.count()).then(|| values.into_iter().zip(directions).map(|(v, d)| d.oriented(v)).collect())
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let goals: Vec<String> = self.all().iter().map(Goal::to_string).collect();
        write!(f, "{}", goals.join(", "))?;
        for c in &self.constraints {
            write!(f, "; {c}")?;
        }
        Ok(())
    }
}

fn unknown(spec: &MetricSpec, name: &str) -> ObjectiveError {
    let mut known: Vec<&str> = spec.visible().collect();
    known.extend(["params", "flops"].into_iter().filter(|n| spec.get(n).is_none()));
    ObjectiveError::UnknownMetric { name: name.to_owned(), known: known.join(", ") }
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

    #[test]
    fn goals_parse_and_print_as_metric_colon_direction() {
        let goal: Goal = "flops:min".parse().unwrap();
        assert_eq!(goal, Goal::new("flops", Direction::Minimize));
        assert_eq!(goal.to_string(), "flops:min");
        assert_eq!(" val : MAX ".parse::<Goal>().unwrap(), Goal::new("val", Direction::Maximize));
        assert_eq!("a:b:max".parse::<Goal>().unwrap().metric, "a:b");
        for bad in ["flops", "flops:lower", ":max", ""] {
            let err = bad.parse::<Goal>().unwrap_err();
            assert_eq!(err, ObjectiveError::Syntax(bad.into()), "{bad}");
            assert!(err.to_string().contains("METRIC:max or METRIC:min"), "{err}");
        }
    }

    #[test]
    fn several_goals_are_checked_and_oriented() {
        let goals = |texts: &[&str]| texts.iter().map(|t| t.parse::<Goal>().unwrap()).collect::<Vec<_>>();
        let o = Objective::goals(&spec(), goals(&["val:max", "flops:min"])).unwrap();
        assert!(o.is_multi());
        assert_eq!(o.count(), 2);
        assert_eq!(o.to_string(), "val:max, flops:min");
        assert_eq!(o.values(&eval(90.0, 15)), Some(vec![90.0, 15.0]));
        assert_eq!(o.scores(&eval(90.0, 15)), Some(vec![90.0, -15.0]));
        let no_flops = Evaluation { metrics: [("val".into(), 1.0)].into(), ..Default::default() };
        assert_eq!(o.scores(&no_flops), None, "a point needs every objective");
        // The held-out rule holds for every objective, not only the first.
        let err = Objective::goals(&spec(), goals(&["val:max", "test:max"])).unwrap_err();
        assert_eq!(err, ObjectiveError::HeldOut("test".into()));
        let err = Objective::goals(&spec(), goals(&["val:max", "val:min"])).unwrap_err();
        assert_eq!(err, ObjectiveError::Repeated("val".into()));
        assert_eq!(Objective::goals(&spec(), Vec::new()).unwrap_err(), ObjectiveError::Empty);
        let err = Objective::goals(&spec(), goals(&["val:max", "latency:min"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown metric `latency`; this evaluator reports: val, params, flops",
            "the list names what may be searched, never the held-out metric"
        );
        // A single goal is the single-objective search, serialized as before.
        let single = Objective::goals(&spec(), goals(&["val:max"])).unwrap();
        assert_eq!(single, Objective::from_spec(&spec()));
        let json = serde_json::to_value(&single).unwrap();
        assert_eq!(json, serde_json::json!({"metric": "val", "direction": "maximize"}));
        let back: Objective = serde_json::from_value(serde_json::to_value(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }
}
