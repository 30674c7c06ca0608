//! Training settings: data, optimizer, schedule, regularization, proxy budget, seed. Serde data, validated once by
//! [`TrainSettings::check`], recorded with every run.

use genius_core::checked::{Check, Checked};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// The optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Stochastic gradient descent with momentum (and Nesterov's correction if `nesterov`).
    Sgd,
    /// Adam (weight decay added to the gradient, as PyTorch's `Adam` does).
    Adam,
}

/// The learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Cosine annealing from the learning rate to zero over all steps, updated every step.
    Cosine,
    /// The learning rate times `gamma` every `step_epochs` epochs.
    Step,
    /// A constant learning rate.
    Constant,
}

/// How a candidate network is trained and evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSettings {
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per training step.
    pub batch_size: usize,
    /// Images per evaluation step (validation and test).
    pub eval_batch_size: usize,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// The initial learning rate.
    pub learning_rate: f64,
    /// Momentum of SGD.
    pub momentum: f64,
    /// Nesterov momentum for SGD.
    pub nesterov: bool,
    /// Adam's first and second moment decay rates.
    pub betas: (f64, f64),
    /// Adam's denominator term.
    pub adam_epsilon: f64,
    /// The learning-rate schedule.
    pub schedule: ScheduleKind,
    /// Epochs between decays of the step schedule.
    pub step_epochs: usize,
    /// Decay factor of the step schedule.
    pub gamma: f64,
    /// L2 weight decay, applied to every parameter (batch-norm ones included), as PyTorch's optimizers do.
    pub weight_decay: f64,
    /// Label smoothing ε: targets are `1 - ε` on the label plus `ε / classes` everywhere.
    pub label_smoothing: f64,
    /// Side of the square images the network trains on; `None` for the network's design resolution.
    pub resolution: Option<usize>,
    /// Training images used (proxy training); `None` for every image left after validation.
    pub subset: Option<usize>,
    /// Images held out of the training set for validation (the search metric).
    pub validation: usize,
    /// Test images evaluated (the reported metric); `None` for the whole test set.
    pub test_subset: Option<usize>,
    /// Random crops and flips during training, where they fit the dataset.
    pub augment: bool,
    /// Seed of the data split, the weight initialization, the batch order and the augmentation. Every architecture
    /// is trained with it, so an evaluation does not depend on the order of the search.
    pub seed: u64,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            epochs: 5,
            batch_size: 64,
            eval_batch_size: 256,
            optimizer: OptimizerKind::Sgd,
            learning_rate: 0.05,
            momentum: 0.9,
            nesterov: true,
            betas: (0.9, 0.999),
            adam_epsilon: 1e-8,
            schedule: ScheduleKind::Cosine,
            step_epochs: 30,
            gamma: 0.1,
            weight_decay: 5e-4,
            label_smoothing: 0.0,
            resolution: None,
            subset: None,
            validation: 5000,
            test_subset: None,
            augment: true,
            seed: 0,
        }
    }
}

impl Check for TrainSettings {
    type Error = TrainError;

    /// Checks every field, naming the first bad one and what is allowed.
    fn check_ref(&self) -> Result<()> {
        let positive = |field: &'static str, v: usize| {
            if v == 0 { Err(TrainError::settings(field, "must be at least 1")) } else { Ok(()) }
        };
        positive("epochs", self.epochs)?;
        positive("batch_size", self.batch_size)?;
        positive("eval_batch_size", self.eval_batch_size)?;
        positive("validation", self.validation)?;
        positive("step_epochs", self.step_epochs)?;
        if let Some(r) = self.resolution.filter(|r| !(8..=1024).contains(r)) {
            return Err(TrainError::settings("resolution", format!("{r} is outside 8 to 1024 pixels")));
        }
        if self.subset == Some(0) {
            return Err(TrainError::settings("subset", "must be at least 1 image (or absent for all)"));
        }
        if self.test_subset == Some(0) {
            return Err(TrainError::settings("test_subset", "must be at least 1 image (or absent for all)"));
        }
        let finite_in = |field: &'static str, v: f64, lo: f64, hi: f64, what: &str| {
            if v.is_finite() && v >= lo && v <= hi {
                Ok(())
            } else {
                Err(TrainError::settings(field, format!("{v} {what}")))
            }
        };
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(TrainError::settings("learning_rate", format!("{} must be positive", self.learning_rate)));
        }
        finite_in("momentum", self.momentum, 0.0, 0.999_999, "must lie in [0, 1)")?;
        finite_in("weight_decay", self.weight_decay, 0.0, 1.0, "must lie in [0, 1]")?;
        finite_in("label_smoothing", self.label_smoothing, 0.0, 0.999_999, "must lie in [0, 1)")?;
        finite_in("gamma", self.gamma, 1e-9, 1.0, "must lie in (0, 1]")?;
        finite_in("betas", self.betas.0, 0.0, 0.999_999, "(the first beta) must lie in [0, 1)")?;
        finite_in("betas", self.betas.1, 0.0, 0.999_999_999, "(the second beta) must lie in [0, 1)")?;
        if !(self.adam_epsilon.is_finite() && self.adam_epsilon > 0.0) {
            return Err(TrainError::settings("adam_epsilon", "must be positive"));
        }
        if self.nesterov && self.optimizer == OptimizerKind::Sgd && self.momentum == 0.0 {
            return Err(TrainError::settings("nesterov", "Nesterov momentum needs a momentum above 0"));
        }
        Ok(())
    }
}

impl TrainSettings {
    /// Reads settings from JSON (e.g. the `train` object of a run header), rejecting unknown fields, and checks
    /// them.
    pub fn from_json(value: serde_json::Value) -> Result<Checked<Self>> {
        let settings: Self =
            serde_json::from_value(value).map_err(|e| TrainError::settings("settings", e.to_string()))?;
        settings.check()
    }

    /// The learning rate of step `step` (0-based) of epoch `epoch`, with `steps_per_epoch` steps per epoch.
    pub fn learning_rate_at(&self, epoch: usize, step: usize, steps_per_epoch: usize) -> f64 {
        match self.schedule {
            ScheduleKind::Constant => self.learning_rate,
            ScheduleKind::Step => self.learning_rate * self.gamma.powi((epoch / self.step_epochs) as i32),
            ScheduleKind::Cosine => {
                let total = (self.epochs * steps_per_epoch).max(1) as f64;
                let t = (epoch * steps_per_epoch + step) as f64;
                0.5 * self.learning_rate * (1.0 + (std::f64::consts::PI * t / total).cos())
            }
        }
    }

    /// The training target of an image of class `label` among `classes`, with label smoothing.
    pub fn target(&self, label: usize, classes: usize) -> impl Iterator<Item = f32> + '_ {
        let eps = self.label_smoothing;
        (0..classes).map(move |c| ((if c == label { 1.0 - eps } else { 0.0 }) + eps / classes as f64) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_fields_are_named() {
        TrainSettings::default().check().unwrap();
        let bad = TrainSettings { learning_rate: -1.0, ..TrainSettings::default() };
        assert!(bad.check().unwrap_err().to_string().contains("`learning_rate`"));
        let bad = TrainSettings { momentum: 0.0, ..TrainSettings::default() };
        assert!(bad.check().unwrap_err().to_string().contains("`nesterov`"));
        let e = TrainSettings::from_json(serde_json::json!({"epochs": 2, "lr": 0.1})).unwrap_err();
        assert!(e.to_string().contains("unknown field `lr`"), "{e}");
        let s = TrainSettings::from_json(serde_json::json!({"epochs": 2, "optimizer": "adam"})).unwrap();
        assert_eq!((s.epochs, s.optimizer), (2, OptimizerKind::Adam));
    }

    #[test]
    fn schedules() {
        let s = TrainSettings { epochs: 2, learning_rate: 1.0, ..TrainSettings::default() };
        assert_eq!(s.learning_rate_at(0, 0, 10), 1.0);
        assert!((s.learning_rate_at(1, 0, 10) - 0.5).abs() < 1e-12);
        assert!(s.learning_rate_at(1, 9, 10) < 0.01);
        let step = TrainSettings { schedule: ScheduleKind::Step, step_epochs: 2, gamma: 0.5, learning_rate: 1.0, ..s };
        assert_eq!([0, 1, 2, 4].map(|e| step.learning_rate_at(e, 3, 10)), [1.0, 1.0, 0.5, 0.25]);
    }

    #[test]
    fn smoothed_targets_sum_to_one() {
        let s = TrainSettings { label_smoothing: 0.1, ..TrainSettings::default() };
        let t: Vec<f32> = s.target(2, 10).collect();
        assert!((t.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((t[2] - 0.91).abs() < 1e-6 && (t[0] - 0.01).abs() < 1e-6);
    }
}
