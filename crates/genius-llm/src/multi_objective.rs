//! What the multi-objective protocol shows of a search: every objective's value of each result (read from what the
//! search may see, so never a held-out metric), the current Pareto front, and the target, a budget on one objective
//! (`target = "flops<=100e6"`) that a proposal must meet.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use genius_core::{Objective, Observation, pareto};

use crate::LlmError;

/// Which side of its value a target keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `METRIC<=VALUE`.
    AtMost,
    /// `METRIC>=VALUE`.
    AtLeast,
}

/// A budget on one objective of a multi-objective search, written `METRIC<=VALUE` or `METRIC>=VALUE` (`flops<=100e6`,
/// in the metric's own units: FLOPs and parameters as counts). The request asks for a design that meets it, and the
/// Pareto front the prompt marks is the front of the designs that meet it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The objective's metric (or `params` / `flops`).
    pub metric: String,
    /// Which side of `value` is kept.
    pub bound: Bound,
    /// The bound.
    pub value: f64,
}

impl Target {
    /// Whether `value` meets the target.
    pub fn holds(&self, value: f64) -> bool {
        match self.bound {
            Bound::AtMost => value <= self.value,
            Bound::AtLeast => value >= self.value,
        }
    }

    /// Checks that the target bounds one of `objective`'s objectives, in a search with several.
    pub fn check(&self, objective: &Objective) -> Result<(), String> {
        if !objective.is_multi() {
            return Err(format!(
                "target `{self}` is for a search with several objectives, and this one has one ({objective}); add \
                 `--objective {}:min` (or max), or leave the target out",
                self.metric
            ));
        }
        if !objective.all().iter().any(|g| g.metric == self.metric) {
            return Err(format!(
                "target `{self}` bounds `{}`, which is not an objective of this search ({objective}); bound one of \
                 them",
                self.metric
            ));
        }
        Ok(())
    }
}

impl FromStr for Target {
    type Err = LlmError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || {
            LlmError::Settings(format!(
                "target `{s}` is not METRIC<=VALUE or METRIC>=VALUE (e.g. `flops<=100e6`, in the metric's own units)"
            ))
        };
        let (metric, bound, value) = if let Some((m, v)) = s.split_once("<=") {
            (m, Bound::AtMost, v)
        } else if let Some((m, v)) = s.split_once(">=") {
            (m, Bound::AtLeast, v)
        } else {
            return Err(syntax());
        };
        let metric = metric.trim();
        let value: f64 = value.trim().parse().map_err(|_| syntax())?;
        if metric.is_empty() || !value.is_finite() {
            return Err(syntax());
        }
        Ok(Self { metric: metric.to_owned(), bound, value })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.bound {
            Bound::AtMost => "<=",
            Bound::AtLeast => ">=",
        };
        write!(f, "{}{op}{}", self.metric, self.value)
    }
}

/// The value of `metric` (an objective's) that the search may see of `o`: a searched metric, or the network's
/// parameters or FLOPs.
pub fn value(o: &Observation, metric: &str) -> Option<f64> {
    o.metrics.get(metric).copied().or_else(|| match metric {
        "params" => o.params.map(|p| p as f64),
        "flops" => o.flops.map(|f| f as f64),
        _ => None,
    })
}

/// Whether `o` misses `target` (a trial without the target's metric does not count as missing it).
pub fn misses(o: &Observation, target: Option<&Target>) -> bool {
    target.is_some_and(|t| value(o, &t.metric).is_some_and(|v| !t.holds(v)))
}

/// The trials (by index in the study) on the Pareto front of `history` under `objective`: complete, feasible, not a
/// repeat of an earlier trial, within `target`, and dominated by no other such trial (as the study's own front).
pub fn front(history: &[Observation], objective: &Objective, target: Option<&Target>) -> BTreeSet<usize> {
    let points: Vec<(usize, Vec<f64>)> = history
        .iter()
        .filter(|o| !o.duplicate && !o.arch.is_empty() && !misses(o, target))
        .filter_map(|o| o.scores(objective).map(|s| (o.trial, s)))
        .collect();
    let scores: Vec<&[f64]> = points.iter().map(|(_, s)| s.as_slice()).collect();
    pareto::non_dominated(&scores).into_iter().map(|i| points[i].0).collect()
}

#[cfg(test)]
mod tests {
    use genius_core::testing::ToyTable;
    use genius_core::{Architecture, Direction, Evaluator, Goal};

    use super::*;

    fn objective() -> Objective {
        let goals = [Goal::new("val_acc", Direction::Maximize), Goal::new("params", Direction::Minimize)];
        Objective::goals(ToyTable::new().metrics(), goals).unwrap()
    }

    fn observation(trial: usize, val: f64, params: u64) -> Observation {
        Observation {
            trial,
            arch: Architecture::new(vec![trial as u16]),
            value: Some(val),
            score: Some(val),
            metrics: [("val_acc".to_owned(), val)].into(),
            params: Some(params),
            flops: None,
            duplicate: false,
            failure: None,
        }
    }

    #[test]
    fn targets_parse_print_and_hold() {
        let t: Target = " flops <= 1e8 ".parse().unwrap();
        assert_eq!(t, Target { metric: "flops".into(), bound: Bound::AtMost, value: 1e8 });
        assert_eq!(t.to_string(), "flops<=100000000");
        assert!(t.holds(1e8) && !t.holds(1e8 + 1.0));
        let t: Target = "val_acc>=90".parse().unwrap();
        assert!(t.holds(90.0) && !t.holds(89.9));
        for bad in ["flops", "flops<100", "<=3", "flops<=many", "flops<=inf"] {
            let err = bad.parse::<Target>().unwrap_err().to_string();
            assert!(err.contains(&format!("target `{bad}` is not METRIC<=VALUE or METRIC>=VALUE")), "{err}");
        }
    }

    #[test]
    fn a_target_bounds_an_objective_of_a_search_with_several() {
        let t: Target = "params<=5000".parse().unwrap();
        t.check(&objective()).unwrap();
        let err = "flops<=5".parse::<Target>().unwrap().check(&objective()).unwrap_err();
        assert!(err.contains("`flops`, which is not an objective of this search (val_acc:max, params:min)"), "{err}");
        let single = Objective::from_spec(ToyTable::new().metrics());
        assert!(t.check(&single).unwrap_err().contains("is for a search with several objectives"));
    }

    #[test]
    fn the_front_leaves_out_repeats_infeasible_trials_and_those_missing_the_target() {
        let objective = objective();
        let mut history = vec![
            observation(0, 80.0, 100),
            observation(1, 90.0, 300),
            observation(2, 70.0, 200), // dominated by 0
            observation(3, 95.0, 900),
        ];
        let mut repeat = observation(4, 95.0, 900);
        repeat.duplicate = true;
        history.push(repeat);
        let mut failed = observation(5, 0.0, 0);
        (failed.value, failed.score) = (None, None);
        failed.metrics.clear();
        history.push(failed);
        assert_eq!(front(&history, &objective, None), [0, 1, 3].into());
        let target: Target = "params<=500".parse().unwrap();
        assert!(misses(&history[3], Some(&target)) && !misses(&history[1], Some(&target)));
        assert!(!misses(&history[5], Some(&target)), "a trial without the metric does not miss it");
        assert_eq!(front(&history, &objective, Some(&target)), [0, 1].into());
        assert_eq!(value(&history[1], "params"), Some(300.0));
        assert_eq!(value(&history[1], "test_acc"), None, "a held-out metric is never there");
    }
}
