//! Budgets: how much a study may spend, and what it has spent.

use serde::{Deserialize, Serialize};

/// Tokens, calls and money an optimizer spent (an LLM optimizer reports them; others spend nothing).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Model calls made.
    #[serde(default)]
    pub calls: u64,
    /// Prompt (input) tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Completion (output) tokens.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Money spent, in US dollars, where a price is known.
    #[serde(default)]
    pub cost_usd: f64,
}

impl Usage {
    /// Prompt and completion tokens together.
    pub fn tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &Usage) {
        self.calls += other.calls;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cost_usd += other.cost_usd;
    }
}

/// What a study may spend; it stops at the first limit reached. Unset limits do not bind, but at least one must be
/// set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Budget {
    /// Evaluations (queries): trials that count against the budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluations: Option<usize>,
    /// Wall-clock seconds, summed over every session of the run (a resumed run goes on counting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time_s: Option<f64>,
    /// Model tokens (prompt and completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// Model spend in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// Which limit of a [`Budget`] stopped a study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetLimit {
    /// The evaluation count.
    Evaluations,
    /// The wall-clock time.
    WallTime,
    /// The token count.
    Tokens,
    /// The money.
    Cost,
}

impl Budget {
    /// A budget of `n` evaluations.
    pub fn evaluations(n: usize) -> Self {
        Self { evaluations: Some(n), ..Self::default() }
    }

    /// Checks that some limit is set and that every set limit is positive.
    pub fn check(&self) -> Result<(), String> {
        if self.evaluations.is_none() && self.wall_time_s.is_none() && self.tokens.is_none() && self.cost_usd.is_none()
        {
            return Err("the budget sets no limit: give evaluations, wall time, tokens or money".into());
        }
        if self.evaluations == Some(0) {
            return Err("the evaluation budget is 0: a search needs at least 1 evaluation".into());
        }
        if self.wall_time_s.is_some_and(|t| t.is_nan() || t <= 0.0) {
            return Err("the wall-time budget must be a positive number of seconds".into());
        }
        if self.tokens == Some(0) {
            return Err("the token budget is 0".into());
        }
        if self.cost_usd.is_some_and(|c| c.is_nan() || c <= 0.0) {
            return Err("the money budget must be positive".into());
        }
        Ok(())
    }

    /// The first limit that `spend` has reached, if any.
    pub fn exhausted(&self, spend: &Spend) -> Option<BudgetLimit> {
        if self.evaluations.is_some_and(|n| spend.evaluations >= n) {
            Some(BudgetLimit::Evaluations)
        } else if self.wall_time_s.is_some_and(|t| spend.elapsed_s >= t) {
            Some(BudgetLimit::WallTime)
        } else if self.tokens.is_some_and(|t| spend.usage.tokens() >= t) {
            Some(BudgetLimit::Tokens)
        } else if self.cost_usd.is_some_and(|c| spend.usage.cost_usd >= c) {
            Some(BudgetLimit::Cost)
        } else {
            None
        }
    }

    /// Evaluations still allowed, if the budget limits them.
    pub fn remaining_evaluations(&self, spend: &Spend) -> Option<usize> {
        self.evaluations.map(|n| n.saturating_sub(spend.evaluations))
    }
}

/// What a study has spent so far.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Spend {
    /// Trials that counted against the evaluation budget.
    pub evaluations: usize,
    /// Every trial, counted or not.
    pub trials: usize,
    /// Wall-clock seconds over every session of the run.
    pub elapsed_s: f64,
    /// Optimizer usage (model calls, tokens, money).
    pub usage: Usage,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_rejects_empty_and_zero_budgets() {
        assert!(Budget::default().check().unwrap_err().contains("no limit"));
        assert!(Budget::evaluations(0).check().unwrap_err().contains("is 0"));
        assert!(Budget { wall_time_s: Some(-1.0), ..Default::default() }.check().is_err());
        Budget::evaluations(1).check().unwrap();
    }

    #[test]
    fn the_first_reached_limit_stops() {
        let budget = Budget { evaluations: Some(10), tokens: Some(100), ..Default::default() };
        let mut spend = Spend { evaluations: 3, ..Default::default() };
        assert_eq!(budget.exhausted(&spend), None);
        spend.usage.prompt_tokens = 100;
        assert_eq!(budget.exhausted(&spend), Some(BudgetLimit::Tokens));
        spend.evaluations = 10;
        assert_eq!(budget.exhausted(&spend), Some(BudgetLimit::Evaluations));
        assert_eq!(budget.remaining_evaluations(&spend), Some(0));
    }
}
