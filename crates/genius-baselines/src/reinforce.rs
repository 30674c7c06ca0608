//! REINFORCE (Williams, 1992) as NAS-Bench-201 runs it (Dong & Yang, 2020): an independent categorical policy per
//! dimension (softmax of logits), the score as reward, an exponential-moving-average baseline, and one Adam step per
//! evaluated architecture.

use async_trait::async_trait;
use genius_core::{Architecture, AskContext, Observation, Optimizer, OptimizerError, SearchRng, SearchSpace};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::common::{self, check_declared, weighted_index};
use genius_core::catalog::{Bound, Range, Setting, SettingKind};
use genius_core::checked::{Check, Checked};

const NAME: &str = "reinforce";

/// Policy draws per proposal before a constrained space's own sampler is used instead.
const POLICY_TRIES: usize = 1000;

/// `[0, 1)`: a decay or momentum.
const DECAY: Range = Range::Between(Bound::Inclusive(0.0), Bound::Exclusive(1.0));

/// The settings of REINFORCE, as `genius optimizers reinforce` prints them and [`ReinforceSettings::check`] enforces
/// them.
pub const SETTINGS: &[Setting] = &[
    Setting::new("learning_rate", SettingKind::Number, "0.001", "Adam's learning rate for the policy logits")
        .range(Range::Between(Bound::Exclusive(0.0), Bound::Inclusive(1e6))),
    Setting::new("baseline_momentum", SettingKind::Number, "0.9", "momentum of the reward baseline's moving average")
        .range(DECAY),
    Setting::new("beta1", SettingKind::Number, "0.9", "Adam's first-moment decay").range(DECAY),
    Setting::new("beta2", SettingKind::Number, "0.999", "Adam's second-moment decay").range(DECAY),
    Setting::new("epsilon", SettingKind::Number, "1e-8", "Adam's epsilon")
        .range(Range::Between(Bound::Exclusive(0.0), Bound::Inclusive(1.0))),
    Setting::new("init_std", SettingKind::Number, "0.001", "standard deviation of the initial logits")
        .range(Range::between(0.0, 1e3)),
];

/// Settings of [`Reinforce`]. The defaults are NAS-Bench-201's (its `REINFORCE.sh` and `reinforce.py`): Adam with
/// learning rate 0.001 and a moving-average baseline with momentum 0.9. (NATS-Bench, its sequel, uses 0.01.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReinforceSettings {
    /// Adam's learning rate for the policy logits.
    pub learning_rate: f64,
    /// Momentum of the exponential moving average of rewards that serves as the baseline.
    pub baseline_momentum: f64,
    /// Adam's first-moment decay.
    pub beta1: f64,
    /// Adam's second-moment decay.
    pub beta2: f64,
    /// Adam's epsilon.
    pub epsilon: f64,
    /// Standard deviation of the initial logits (drawn from a normal around 0, as NAS-Bench-201 initialises them).
    pub init_std: f64,
}

impl Default for ReinforceSettings {
    fn default() -> Self {
        Self { learning_rate: 0.001, baseline_momentum: 0.9, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, init_std: 1e-3 }
    }
}

impl Check for ReinforceSettings {
    type Error = OptimizerError;

    /// Checks every field: a positive learning rate and epsilon, momenta and decays in `[0, 1)`, a non-negative
    /// initial spread.
    fn check_ref(&self) -> Result<(), OptimizerError> {
        check_declared(NAME, SETTINGS, self)
    }
}

/// Policy-gradient search with a factorised categorical policy. Proposals meet the space's constraint (by
/// re-sampling the policy); failed and infeasible trials give no reward and no update.
#[derive(Debug, Clone)]
pub struct Reinforce {
    settings: ReinforceSettings,
    /// One logit per option of every dimension (empty until the first ask, which knows the space).
    logits: Vec<Vec<f64>>,
    /// Adam's first and second moments, and its step count.
    m: Vec<Vec<f64>>,
    v: Vec<Vec<f64>>,
    steps: i32,
    /// The moving average of rewards, bias-corrected (numerator and denominator).
    baseline: (f64, f64),
}

impl Reinforce {
    /// REINFORCE with `settings`, checked.
    pub fn new(settings: Checked<ReinforceSettings>) -> Self {
        let settings = settings.into_inner();
        Self { settings, logits: Vec::new(), m: Vec::new(), v: Vec::new(), steps: 0, baseline: (0.0, 0.0) }
    }

    /// The policy's probabilities of every option of every dimension (empty before the first ask).
    pub fn probabilities(&self) -> Vec<Vec<f64>> {
        self.logits.iter().map(|l| softmax(l)).collect()
    }

    fn init(&mut self, space: &dyn SearchSpace, rng: &mut SearchRng) {
        let std = self.settings.init_std;
        self.logits = space.dimensions().iter().map(|d| (0..d.len()).map(|_| std * normal(rng)).collect()).collect();
        self.m = self.logits.iter().map(|l| vec![0.0; l.len()]).collect();
        self.v = self.m.clone();
    }

    fn draw(&self, rng: &mut SearchRng) -> Architecture {
        let choices: Vec<u16> = self.logits.iter().map(|l| weighted_index(&softmax(l), rng) as u16).collect();
        Architecture::new(choices)
    }

    /// One policy-gradient step for reward `reward` of `arch`.
    fn update(&mut self, arch: &Architecture, reward: f64) {
        let mu = self.settings.baseline_momentum;
        self.baseline = (mu * self.baseline.0 + (1.0 - mu) * reward, mu * self.baseline.1 + (1.0 - mu));
        let advantage = reward - self.baseline.0 / self.baseline.1;
        let ReinforceSettings { learning_rate, beta1, beta2, epsilon, .. } = self.settings;
        self.steps += 1;
        let (c1, c2) = (1.0 - beta1.powi(self.steps), 1.0 - beta2.powi(self.steps));
        for (d, logits) in self.logits.iter_mut().enumerate() {
            let p = softmax(logits);
            let chosen = arch.choice(d);
            for (k, logit) in logits.iter_mut().enumerate() {
                // The loss is -log pi(arch) * advantage; its gradient in logit k is -(1[k chosen] - p_k) * advantage.
                let grad = -(f64::from(u8::from(k == chosen)) - p[k]) * advantage;
                let (m, v) = (&mut self.m[d][k], &mut self.v[d][k]);
                *m = beta1 * *m + (1.0 - beta1) * grad;
                *v = beta2 * *v + (1.0 - beta2) * grad * grad;
                *logit -= learning_rate * (*m / c1) / ((*v / c2).sqrt() + epsilon);
            }
        }
    }
}

impl Default for Reinforce {
    fn default() -> Self {
        Self::new(Checked::default())
    }
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / total).collect()
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut SearchRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[async_trait]
impl Optimizer for Reinforce {
    fn name(&self) -> &str {
        NAME
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(&self.settings).expect("settings serialize")
    }

    async fn ask(&mut self, ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError> {
        if self.logits.is_empty() {
            self.init(ctx.space, ctx.rng);
        }
        let mut batch = Vec::with_capacity(n);
        for _ in 0..n {
            let mut arch = self.draw(ctx.rng);
            if ctx.space.is_constrained() {
                let mut tries = 1;
                while ctx.space.check(&arch).is_err() && tries < POLICY_TRIES {
                    arch = self.draw(ctx.rng);
                    tries += 1;
                }
                if ctx.space.check(&arch).is_err() {
                    // The policy puts little mass on feasible architectures: a random feasible one instead.
                    arch = common::sample(ctx)?;
                }
            }
            batch.push(arch);
        }
        Ok(batch)
    }

    fn tell(&mut self, trials: &[Observation]) {
        for t in trials {
            if let Some(reward) = t.score
                && t.arch.len() == self.logits.len()
            {
                self.update(&t.arch, reward);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use genius_core::testing::{ToySpace, ToyTable};
    use genius_core::{Evaluator, Objective, rng};

    use super::*;
    use genius_core::checked::Check;

    #[test]
    fn the_baseline_is_a_bias_corrected_moving_average() {
        let mut r = Reinforce {
            logits: vec![vec![0.0, 0.0]],
            m: vec![vec![0.0; 2]],
            v: vec![vec![0.0; 2]],
            ..Default::default()
        };
        let a = Architecture::new(vec![1]);
        r.update(&a, 10.0);
        assert!((r.baseline.0 / r.baseline.1 - 10.0).abs() < 1e-12, "the first reward is the baseline");
        r.update(&a, 20.0);
        let expected = (0.9 * 0.1 * 10.0 + 0.1 * 20.0) / (0.9 * 0.1 + 0.1);
        assert!((r.baseline.0 / r.baseline.1 - expected).abs() < 1e-9);
    }

    #[test]
    fn a_reward_above_the_baseline_makes_the_action_likelier() {
        let mut r = Reinforce::new(ReinforceSettings { learning_rate: 0.1, ..Default::default() }.check().unwrap());
        r.logits = vec![vec![0.0; 3]];
        r.m = vec![vec![0.0; 3]];
        r.v = vec![vec![0.0; 3]];
        r.update(&Architecture::new(vec![0]), 1.0); // sets the baseline
        r.update(&Architecture::new(vec![2]), 5.0); // above it
        let p = r.probabilities();
        assert!(p[0][2] > p[0][1] && p[0][2] > 1.0 / 3.0, "{p:?}");
    }

    #[tokio::test]
    async fn learns_the_toy_table_with_a_large_learning_rate() {
        let (space, table) = (ToySpace::new(), ToyTable::new());
        let objective = Objective::from_spec(table.metrics());
        let (mut rng, mut events) = (rng::seeded(2), Vec::new());
        let mut r = Reinforce::new(ReinforceSettings { learning_rate: 0.05, ..Default::default() }.check().unwrap());
        for trial in 0..300 {
            let mut ctx = AskContext {
                space: &space,
                objective: &objective,
                history: &[],
                remaining: None,
                rng: &mut rng,
                events: &mut events,
            };
            let arch = r.ask(&mut ctx, 1).await.unwrap().remove(0);
            let score = table.evaluate(&arch).await.ok().map(|e| e.metrics["val_acc"]);
            r.tell(&[Observation {
                trial,
                arch,
                value: score,
                score,
                metrics: Default::default(),
                params: None,
                flops: None,
                duplicate: false,
                failure: None,
            }]);
        }
        // Depth 3 and conv score highest: the policy prefers them.
        let p = r.probabilities();
        assert!(p[0][2] > 0.5 && p[2][0] > 0.5, "{p:?}");
    }

    #[test]
    fn invalid_settings_are_refused_with_the_field() {
        let err = ReinforceSettings { learning_rate: 0.0, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("reinforce: `learning_rate` must be greater than 0"), "{err}");
        let err = ReinforceSettings { baseline_momentum: 1.0, ..Default::default() }.check().unwrap_err();
        assert!(err.to_string().contains("`baseline_momentum`"), "{err}");
    }
}
