//! The training and latency evaluators as catalog entries (genius-core's one shape for every plug-in).
//!
//! Its settings are flat, as an experiment file's `[evaluator]` table writes them: `dataset`, `dataset_dir`,
//! `backend` and `device`, and every [`TrainSettings`] field beside them. A run header records the nested
//! [`TrainConfig`] form (`train = { ... }`), which the same entry reads back on a resume.

use std::path::PathBuf;
use std::sync::Arc;

use genius_core::Evaluator;
use genius_core::catalog::{Bound, BuildContext, BuildError, Entry, Evaluators, Range, Resource, Setting, SettingKind};
use genius_core::checked::{Check, Checked};

use crate::data::sources;
use crate::evaluator::NAME;
use crate::latency::{LatencyEvaluator, LatencySettings, NAME as LATENCY};
use crate::{DatasetKind, TrainConfig, TrainError, TrainEvaluator, TrainSettings};

/// `[0, 1)`.
const UNIT_OPEN: Range = Range::Between(Bound::Inclusive(0.0), Bound::Exclusive(1.0));

/// Every setting of the training evaluator, as `genius evaluators train` prints them ([`TrainSettings::check`] refuses
/// what these ranges exclude).
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "dataset",
        SettingKind::OneOf(&["fashion-mnist", "mnist", "cifar10"]),
        "\"fashion-mnist\"",
        "the dataset",
    ),
    Setting::new("dataset_dir", SettingKind::Path, "", "a directory holding its files [default: the dataset cache]"),
    Setting::new("backend", SettingKind::OneOf(&["burn", "tch"]), "\"burn\"", "the tensor library"),
    Setting::new("device", SettingKind::Text, "\"cpu\"", "cpu, cuda:N, wgpu, mps"),
    Setting::new("epochs", SettingKind::Integer, "5", "passes over the training images").range(Range::at_least(1.0)),
    Setting::new("batch_size", SettingKind::Integer, "64", "images per training step").range(Range::at_least(1.0)),
    Setting::new("eval_batch_size", SettingKind::Integer, "256", "images per evaluation step")
        .range(Range::at_least(1.0)),
    Setting::new("optimizer", SettingKind::OneOf(&["sgd", "adam"]), "\"sgd\"", "the training optimizer"),
    Setting::new("learning_rate", SettingKind::Number, "0.05", "the initial learning rate")
        .range(Range::AtLeast(Bound::Exclusive(0.0))),
    Setting::new("momentum", SettingKind::Number, "0.9", "momentum of SGD").range(UNIT_OPEN),
    Setting::new("nesterov", SettingKind::Bool, "true", "Nesterov momentum for SGD (needs a momentum above 0)"),
    Setting::new("betas", SettingKind::List, "[0.9, 0.999]", "Adam's moment decay rates, each in [0, 1)"),
    Setting::new("adam_epsilon", SettingKind::Number, "1e-8", "Adam's denominator term")
        .range(Range::AtLeast(Bound::Exclusive(0.0))),
    Setting::new(
        "schedule",
        SettingKind::OneOf(&["cosine", "step", "constant"]),
        "\"cosine\"",
        "learning-rate schedule",
    ),
    Setting::new("step_epochs", SettingKind::Integer, "30", "epochs between decays of the step schedule")
        .range(Range::at_least(1.0)),
    Setting::new("gamma", SettingKind::Number, "0.1", "decay factor of the step schedule")
        .range(Range::Between(Bound::Exclusive(0.0), Bound::Inclusive(1.0))),
    Setting::new("weight_decay", SettingKind::Number, "5e-4", "L2 weight decay").range(Range::between(0.0, 1.0)),
    Setting::new("label_smoothing", SettingKind::Number, "0.0", "label smoothing epsilon").range(UNIT_OPEN),
    Setting::new("resolution", SettingKind::Integer, "", "image side trained on [default: the network's]")
        .range(Range::between(8.0, 1024.0)),
    Setting::new("subset", SettingKind::Integer, "", "training images used (proxy training) [default: all]")
        .range(Range::at_least(1.0)),
    Setting::new("validation", SettingKind::Integer, "5000", "images held out of training for validation")
        .range(Range::at_least(1.0)),
    Setting::new("test_subset", SettingKind::Integer, "", "test images evaluated [default: all]")
        .range(Range::at_least(1.0)),
    Setting::new("augment", SettingKind::Bool, "true", "random crops and flips, where they fit the dataset"),
    Setting::new("seed", SettingKind::Integer, "the run's seed", "seed of the split, initialization, batches"),
];

/// What the flat settings name besides the training settings.
struct Flat {
    dataset: DatasetKind,
    dataset_dir: Option<PathBuf>,
    backend: crate::BackendKind,
    device: crate::DeviceSpec,
    train: serde_json::Map<String, serde_json::Value>,
}

fn settings_error(e: TrainError) -> BuildError {
    BuildError::Settings(format!("{NAME}: {e}"))
}

/// Reads the flat settings, taking `dataset`, `dataset_dir`, `backend` and `device` out of them.
fn flat(settings: &serde_json::Value) -> Result<Flat, BuildError> {
    let mut object = match settings {
        serde_json::Value::Null => serde_json::Map::new(),
        serde_json::Value::Object(map) => map.clone(),
        other => return Err(BuildError::Settings(format!("{NAME}: settings must be a table, not {other}"))),
    };
    let mut take = |key: &str, default: &str| -> Result<String, BuildError> {
        match object.remove(key) {
            None => Ok(default.to_owned()),
            Some(serde_json::Value::String(s)) => Ok(s),
            Some(other) => Err(BuildError::Settings(format!("{NAME}: `{key}` must be a string, not {other}"))),
        }
    };
    let dataset = take("dataset", "fashion-mnist")?.parse().map_err(settings_error)?;
    let backend = take("backend", "burn")?.parse().map_err(settings_error)?;
    let device = take("device", "cpu")?.parse().map_err(settings_error)?;
    let dir = take("dataset_dir", "")?;
    Ok(Flat { dataset, dataset_dir: (!dir.is_empty()).then(|| dir.into()), backend, device, train: object })
}

/// Whether `settings` are the recorded form (a run header's `TrainConfig`, with its `train` table).
fn recorded_form(settings: &serde_json::Value) -> bool {
    settings.get("train").is_some_and(serde_json::Value::is_object)
}

/// The training configuration `settings` describe for a run with `context`: the flat form (the training seed
/// defaults to the run's) or the recorded one. A dataset without `dataset_dir` is read from Debian's copy or the
/// dataset cache.
pub fn config(settings: serde_json::Value, context: &BuildContext<'_>) -> Result<Checked<TrainConfig>, BuildError> {
    if recorded_form(&settings) {
        return serde_json::from_value::<TrainConfig>(settings)
            .map_err(|e| BuildError::Settings(format!("{NAME}: {e} (in the run header)")))?
            .check()
            .map_err(settings_error);
    }
    let mut flat = flat(&settings)?;
    flat.train.entry("seed").or_insert(context.seed.into());
    let train = TrainSettings::from_json(serde_json::Value::Object(flat.train)).map_err(settings_error)?;
    let dataset_dir = flat.dataset_dir.unwrap_or_else(|| flat.dataset.default_dir(&sources::cache_root()));
    let (dataset, backend, device, train) = (flat.dataset, flat.backend, flat.device, train.into_inner());
    TrainConfig { dataset, dataset_dir, backend, device, train }.check().map_err(settings_error)
}

/// Every setting of the latency evaluator, as `genius evaluators latency` prints them.
pub const LATENCY_SETTINGS: &[Setting] = &[
    Setting::new("batch_size", SettingKind::Integer, "8", "the batch measured besides batch 1")
        .range(Range::at_least(1.0)),
    Setting::new("runs", SettingKind::Integer, "10", "timed forward passes per batch size (the median is the metric)")
        .range(Range::at_least(1.0)),
    Setting::new("warmup", SettingKind::Integer, "3", "untimed forward passes before the timed ones"),
    Setting::new("threads", SettingKind::Integer, "0", "threads of the measurement (0: every core)"),
    Setting::new("backend", SettingKind::OneOf(&["burn"]), "\"burn\"", "the tensor library"),
    Setting::new("device", SettingKind::Text, "\"cpu\"", "cpu, cuda:N, wgpu"),
    Setting::new("resolution", SettingKind::Integer, "", "input image side [default: the network's]")
        .range(Range::between(8.0, 1024.0)),
    Setting::new("classes", SettingKind::Integer, "10", "classes of the network's last layer")
        .range(Range::at_least(1.0)),
];

fn latency_settings(settings: serde_json::Value) -> Result<Checked<LatencySettings>, BuildError> {
    LatencySettings::from_json(settings).map_err(|e| BuildError::Settings(e.to_string()))
}

/// The training evaluator's catalog entry. It declares its dataset as a [`Resource`] so that a program can fetch
/// it before the build reads it.
pub fn entries() -> Vec<Entry<Evaluators>> {
    vec![
        Entry::new(
            NAME,
            "train every candidate on a dataset (val_acc searched, test_acc held out)",
            |settings, context| {
                let space = context.space(NAME)?.clone();
                let config = config(settings, context)?;
                let evaluator = TrainEvaluator::new(space, config).map_err(|e| {
                    BuildError::Failed(format!("cannot train networks of `{}`: {e}", context.space_name))
                })?;
                Ok(Arc::new(evaluator) as Arc<dyn Evaluator>)
            },
        )
        .with_settings(SETTINGS)
        .with_check(|settings| {
            if recorded_form(&settings) {
                return serde_json::from_value::<TrainConfig>(settings)
                    .map_err(|e| BuildError::Settings(format!("{NAME}: {e}")))?
                    .check()
                    .map(drop)
                    .map_err(settings_error);
            }
            let flat = flat(&settings)?;
            TrainSettings::from_json(serde_json::Value::Object(flat.train)).map(drop).map_err(settings_error)
        })
        .with_resources(|settings, _| {
            if recorded_form(settings) {
                return Ok(Vec::new());
            }
            let flat = flat(settings)?;
            Ok(vec![Resource::Dataset { name: flat.dataset.name().to_owned(), dir: flat.dataset_dir }])
        }),
        Entry::new(
            LATENCY,
            "measure every candidate's inference time on this machine (latency_ms, batch 1; latency_batch_ms)",
            |settings, context| {
                let space = context.space(LATENCY)?.clone();
                let evaluator = LatencyEvaluator::new(space, latency_settings(settings)?).map_err(|e| {
                    BuildError::Failed(format!("cannot measure networks of `{}`: {e}", context.space_name))
                })?;
                Ok(Arc::new(evaluator) as Arc<dyn Evaluator>)
            },
        )
        .with_settings(LATENCY_SETTINGS)
        .with_check(|settings| latency_settings(settings).map(drop)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_training_setting_is_documented_with_its_default() {
        let defaults = serde_json::to_value(TrainSettings::default()).unwrap();
        let documented: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        for key in defaults.as_object().unwrap().keys() {
            assert!(documented.contains(&key.as_str()), "`{key}` is not documented");
        }
        assert_eq!(documented.len(), defaults.as_object().unwrap().len() + 4, "four keys besides TrainSettings'");
    }

    #[test]
    fn flat_settings_are_checked_and_name_the_field() {
        let entry = &entries()[0];
        entry.check(serde_json::json!({"epochs": 1, "dataset": "mnist"})).unwrap();
        let err = entry.check(serde_json::json!({"epochs": 0})).unwrap_err().to_string();
        assert!(err.starts_with("train: ") && err.contains("epochs"), "{err}");
        let err = entry.check(serde_json::json!({"dataset": 3})).unwrap_err().to_string();
        assert!(err.contains("`dataset` must be a string"), "{err}");
        let context = BuildContext::new("toy", 7, std::path::Path::new("."));
        let resources = entry.resources(&serde_json::json!({"dataset": "mnist"}), &context).unwrap();
        assert_eq!(resources, [Resource::Dataset { name: "mnist".into(), dir: None }]);
        let config = config(serde_json::json!({"dataset_dir": "/d"}), &context).unwrap();
        assert_eq!((config.train.seed, &config.dataset_dir), (7, &PathBuf::from("/d")));
    }
}
