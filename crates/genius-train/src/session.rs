//! The training loop, shared by every backend: a backend gives a [`Session`] (one network with its optimizer on one
//! device) that takes training steps and computes logits; [`fit`] runs the epochs, the schedule, the batch order and
//! the augmentation, and evaluates on the validation and test sets.

use std::time::Instant;

use genius_core::rng::{derive_seed, seeded};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::data::{self, Augmentation, Batch, ImageSet, Splits};
use crate::error::{Result, TrainError};
use crate::settings::TrainSettings;

/// One network with its optimizer state on one device.
pub trait Session {
    /// What runs it, e.g. `burn flex (cpu)` or `tch cuda:0`.
    fn describe(&self) -> String;

    /// Trainable parameters, as the backend counts them.
    fn params(&self) -> u64;

    /// One step of the optimizer on `batch` with the (smoothed) `targets` (`batch.len × classes`) at learning rate
    /// `lr`; returns the batch's mean loss before the step.
    fn train_step(&mut self, batch: &Batch, targets: &[f32], lr: f64) -> Result<f32>;

    /// The logits of every image of `batch` (`batch.len × classes`, row-major) in evaluation mode (batch norms use
    /// their running statistics).
    fn logits(&mut self, batch: &Batch) -> Result<Vec<f32>>;
}

/// How a network scored on a set of images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Top-1 accuracy, in percent.
    pub accuracy: f64,
    /// Mean cross-entropy (without label smoothing).
    pub loss: f64,
}

/// What training one network yielded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// What ran it.
    pub backend: String,
    /// Trainable parameters, as the backend counted them.
    pub params: u64,
    /// Mean training loss of each epoch.
    pub epoch_loss: Vec<f64>,
    /// Mean training loss over successive windows of steps (about ten per epoch).
    pub loss_curve: Vec<f64>,
    /// Steps per window of `loss_curve`.
    pub curve_window: usize,
    /// The score on the validation images.
    pub val: Score,
    /// The score on the test images.
    pub test: Score,
    /// Seconds spent training (steps only).
    pub train_s: f64,
    /// Seconds spent evaluating (validation and test).
    pub eval_s: f64,
    /// Training images per second.
    pub images_per_s: f64,
}

/// Cross-entropy of `logits` (`classes` per row) against `labels`, and whether each row's top class is its label.
pub fn score_logits(logits: &[f32], labels: &[i64], classes: usize) -> (f64, usize) {
    let mut loss = 0.0;
    let mut correct = 0;
    for (row, &label) in logits.chunks_exact(classes).zip(labels) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_sum = row.iter().map(|&v| f64::from(v - max).exp()).sum::<f64>().ln() + f64::from(max);
        loss += log_sum - f64::from(row[label as usize]);
        let top = row.iter().enumerate().fold(0, |best, (i, &v)| if v > row[best] { i } else { best });
        correct += usize::from(top as i64 == label);
    }
    (loss, correct)
}

/// The score of `session` on every image of `set`, in batches of `batch_size`.
pub fn evaluate(
    session: &mut dyn Session,
    set: &ImageSet,
    splits: &Splits,
    channels: usize,
    batch_size: usize,
) -> Result<Score> {
    let mut rng = seeded(0);
    let (mut loss, mut correct) = (0.0, 0);
    let indices: Vec<usize> = (0..set.len()).collect();
    for chunk in indices.chunks(batch_size) {
        let batch = data::batch(set, chunk, channels, &splits.mean, &splits.std, Augmentation::NONE, &mut rng);
        let logits = session.logits(&batch)?;
        let (l, c) = score_logits(&logits, &batch.labels, set.classes);
        loss += l;
        correct += c;
    }
    let n = set.len().max(1) as f64;
    Ok(Score { accuracy: 100.0 * correct as f64 / n, loss: loss / n })
}

/// An epoch of training just finished: what a program shows its user so that minutes of training are not silent.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochNotice {
    /// The epoch that finished, from 1.
    pub epoch: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// Its mean training loss (the training set's, never a held-out score).
    pub train_loss: f64,
    /// Seconds of training so far.
    pub elapsed_s: f64,
}

impl std::fmt::Display for EpochNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "training: epoch {}/{} done, train loss {:.3}, {:.1} s",
            self.epoch, self.epochs, self.train_loss, self.elapsed_s
        )
    }
}

type EpochNotifier = Box<dyn Fn(&EpochNotice) + Send + Sync>;

static ON_EPOCH: std::sync::OnceLock<EpochNotifier> = std::sync::OnceLock::new();

/// Has `notify` told of every finished epoch of [`fit`] in this process (a program's progress display: the command
/// line prints it on standard error unless quiet). Set once per process; `false` if one was set already.
pub fn on_epoch(notify: impl Fn(&EpochNotice) + Send + Sync + 'static) -> bool {
    ON_EPOCH.set(Box::new(notify)).is_ok()
}

/// Trains `session` on `splits.train` as `settings` say, then scores it on the validation and test sets. The batch
/// order and augmentation are drawn from generators seeded by `settings.seed`; `channels` is the network's input
/// channels. `stop` is asked between steps; when it answers true, training ends early with an error.
pub fn fit(
    session: &mut dyn Session,
    splits: &Splits,
    settings: &TrainSettings,
    channels: usize,
    stop: &dyn Fn() -> bool,
) -> Result<TrainReport> {
    let train = &splits.train;
    let classes = train.classes;
    let augmentation = if settings.augment { splits.augmentation } else { Augmentation::NONE };
    let batch_size = settings.batch_size.min(train.len());
    // A last batch of one image cannot be batch-normalized in training mode; it is dropped.
    let steps_per_epoch = train.len() / batch_size + usize::from(train.len() % batch_size > 1);
    let window = (steps_per_epoch / 10).max(1);
    let mut augment_rng = seeded(derive_seed(settings.seed, 3));
    let (mut epoch_loss, mut loss_curve) = (Vec::new(), Vec::new());
    let started = Instant::now();
    let mut images = 0usize;
    for epoch in 0..settings.epochs {
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut seeded(derive_seed(settings.seed, 100 + epoch as u64)));
        let (mut sum, mut window_sum, mut window_steps) = (0.0, 0.0, 0);
        for (step, chunk) in order.chunks(batch_size).take(steps_per_epoch).enumerate() {
            if stop() {
                return Err(TrainError::Backend("training was stopped".into()));
            }
            let batch = data::batch(train, chunk, channels, &splits.mean, &splits.std, augmentation, &mut augment_rng);
            let targets: Vec<f32> = batch.labels.iter().flat_map(|&l| settings.target(l as usize, classes)).collect();
            let lr = settings.learning_rate_at(epoch, step, steps_per_epoch);
            let loss = f64::from(session.train_step(&batch, &targets, lr)?);
            if !loss.is_finite() {
                return Err(TrainError::Diverged { epoch, step, loss });
            }
            images += batch.len;
            sum += loss;
            window_sum += loss;
            window_steps += 1;
            if window_steps == window {
                loss_curve.push(window_sum / window as f64);
                (window_sum, window_steps) = (0.0, 0);
            }
        }
        if window_steps > 0 {
            loss_curve.push(window_sum / window_steps as f64);
        }
        epoch_loss.push(sum / steps_per_epoch as f64);
        if let Some(notify) = ON_EPOCH.get() {
            notify(&EpochNotice {
                epoch: epoch + 1,
                epochs: settings.epochs,
                train_loss: sum / steps_per_epoch as f64,
                elapsed_s: started.elapsed().as_secs_f64(),
            });
        }
    }
    let train_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let val = evaluate(session, &splits.val, splits, channels, settings.eval_batch_size)?;
    let test = evaluate(session, &splits.test, splits, channels, settings.eval_batch_size)?;
    Ok(TrainReport {
        backend: session.describe(),
        params: session.params(),
        epoch_loss,
        loss_curve,
        curve_window: window,
        val,
        test,
        train_s,
        eval_s: started.elapsed().as_secs_f64(),
        images_per_s: images as f64 / train_s.max(1e-9),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logits_are_scored_by_cross_entropy_and_top_one() {
        let logits = [2.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let (loss, correct) = score_logits(&logits, &[0, 2], 3);
        assert_eq!(correct, 1);
        let first = (2f64.exp() + 2.0).ln() - 2.0;
        let second = (1f64.exp() + 2.0).ln();
        assert!((loss - first - second).abs() < 1e-6);
    }
}
