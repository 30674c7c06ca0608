//! The training evaluator: builds a candidate's network from its space, trains it on a dataset, and answers with
//! the validation accuracy (what the search sees), the test accuracy (reported, held out), parameters, FLOPs,
//! training time and the loss curve.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use genius_core::checked::{Check, Checked};
use genius_core::network::Network;
use genius_core::{
    Architecture, Direction, EvalError, Evaluation, Evaluator, Metric, MetricSpec, SearchSpace, SpaceExt, Visibility,
};
use serde::{Deserialize, Serialize};

use crate::backend::{self, BackendKind, DeviceSpec};
use crate::data::{DatasetKind, SplitSpec, Splits};
use crate::error::{Result, TrainError};
use crate::plan::Plan;
use crate::session::{self, TrainReport};
use crate::settings::TrainSettings;

/// The evaluator's name in run logs and on the command line.
pub const NAME: &str = "train";

/// Everything that decides what the training evaluator does; recorded in the run header, so a run can be resumed
/// (and repeated) from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The dataset.
    pub dataset: DatasetKind,
    /// The directory holding its files.
    pub dataset_dir: PathBuf,
    /// The tensor library.
    pub backend: BackendKind,
    /// The device.
    pub device: DeviceSpec,
    /// How each candidate is trained.
    pub train: TrainSettings,
}

impl Check for TrainConfig {
    type Error = TrainError;

    /// Checks the training settings (the dataset, backend and device are checked where they are read).
    fn check_ref(&self) -> Result<()> {
        self.train.check_ref()
    }
}

/// The training evaluator of one space on one dataset.
pub struct TrainEvaluator {
    space: Arc<dyn SearchSpace>,
    config: TrainConfig,
    splits: Arc<Splits>,
    resolution: usize,
    spec: MetricSpec,
    /// Trainings run one at a time: each one uses every core (or the whole device).
    running: Arc<Mutex<()>>,
}

impl std::fmt::Debug for TrainEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainEvaluator").field("space", &self.space.name()).field("config", &self.config).finish()
    }
}

/// The metrics of the training evaluator.
pub fn metric_spec(dataset: DatasetKind) -> MetricSpec {
    let d = dataset.name();
    let metric = |name: &str, direction, visibility, description: String| Metric {
        name: name.into(),
        direction,
        visibility,
        description,
    };
    MetricSpec {
        metrics: vec![
            metric(
                "val_acc",
                Direction::Maximize,
                Visibility::Search,
                format!("{d} validation accuracy (%) after training (images held out of the training set)"),
            ),
            metric("val_loss", Direction::Minimize, Visibility::Search, format!("{d} validation cross-entropy")),
            metric(
                "train_loss",
                Direction::Minimize,
                Visibility::Search,
                "mean training loss of the last epoch".into(),
            ),
            metric(
                "test_acc",
                Direction::Maximize,
                Visibility::Reported,
                format!("{d} test accuracy (%); held out, never shown to the search"),
            ),
            metric("test_loss", Direction::Minimize, Visibility::Reported, format!("{d} test cross-entropy; held out")),
        ],
        search: "val_acc".into(),
        report: "test_acc".into(),
    }
}

impl TrainEvaluator {
    /// The evaluator of `space` as `config` says: reads the dataset, checks that the space has networks and that the
    /// backend and device are available, and cuts the data.
    pub fn new(space: Arc<dyn SearchSpace>, config: Checked<TrainConfig>) -> Result<Self> {
        let config = config.into_inner();
        let classes = config.dataset.classes();
        let probe = space.arch_at(0);
        let network = space.network(&probe, classes).ok_or_else(|| {
            TrainError::Network(format!("space `{}` describes no network to train; use a table instead", space.name()))
        })?;
        backend::check_available(config.backend, config.device)?;
        let resolution = config.train.resolution.unwrap_or(network.resolution);
        let (train, test) = config.dataset.read(&config.dataset_dir)?;
        let spec = SplitSpec {
            validation: config.train.validation,
            subset: config.train.subset,
            test_subset: config.train.test_subset,
            resolution,
            seed: config.train.seed,
        };
        let splits = Splits::new(config.dataset.name(), &train, &test, spec, config.dataset.augmentation())?;
        Ok(Self {
            space,
            spec: metric_spec(config.dataset),
            config,
            splits: Arc::new(splits),
            resolution,
            running: Arc::new(Mutex::new(())),
        })
    }

    /// The evaluator recorded in a run header's evaluator settings (see [`Evaluator::settings`]).
    pub fn from_settings(space: Arc<dyn SearchSpace>, settings: serde_json::Value) -> Result<Self> {
        let config: TrainConfig = serde_json::from_value(settings)
            .map_err(|e| TrainError::settings("evaluator settings", format!("{e} (in the run header)")))?;
        Self::new(space, config.check()?)
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The data it trains and evaluates on.
    pub fn splits(&self) -> &Splits {
        &self.splits
    }

    /// The network of `arch`, checked at the training resolution.
    pub fn network(&self, arch: &Architecture) -> Result<Network> {
        let network = self.space.network(arch, self.config.dataset.classes()).ok_or_else(|| {
            TrainError::Network(format!("space `{}` has no network for {}", self.space.name(), self.space.format(arch)))
        })?;
        network
            .cost_at(self.resolution)
            .map_err(|e| TrainError::Network(format!("{e} (at {0}×{0})", self.resolution)))?;
        Ok(network)
    }

    /// Trains `arch`'s network and scores it (blocking; [`Evaluator::evaluate`] runs this on a blocking thread).
    pub fn train(&self, arch: &Architecture) -> Result<(Network, TrainReport)> {
        let network = self.network(arch)?;
        let report = train_network(&network, &self.splits, &self.config, &self.running)?;
        Ok((network, report))
    }
}

fn train_network(network: &Network, splits: &Splits, config: &TrainConfig, running: &Mutex<()>) -> Result<TrainReport> {
    let plan = Plan::new(network, config.train.seed);
    if plan.params() != network.params() {
        return Err(TrainError::Network(format!(
            "{}: the backend plan holds {} parameters, the description {}",
            network.name,
            plan.params(),
            network.params()
        )));
    }
    let _one_at_a_time = running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut session = backend::open(config.backend, config.device, network, &plan, &config.train)?;
    if session.params() != network.params() {
        return Err(TrainError::Network(format!(
            "{}: {} counts {} parameters, the description {}",
            network.name,
            session.describe(),
            session.params(),
            network.params()
        )));
    }
    session::fit(session.as_mut(), splits, &config.train, network.in_channels, &|| false)
}

#[genius_core::async_trait]
impl Evaluator for TrainEvaluator {
    fn name(&self) -> &str {
        NAME
    }

    fn metrics(&self) -> &MetricSpec {
        &self.spec
    }

    async fn evaluate(&self, arch: &Architecture) -> std::result::Result<Evaluation, EvalError> {
        let network = self.network(arch).map_err(|e| EvalError::Failed(e.to_string()))?;
        let flops = network.cost_at(self.resolution).map_err(|e| EvalError::Failed(e.to_string()))?.flops;
        let (splits, config, running) = (self.splits.clone(), self.config.clone(), self.running.clone());
        let net = network.clone();
        let report = tokio::task::spawn_blocking(move || train_network(&net, &splits, &config, &running))
            .await
            .map_err(|e| EvalError::Fatal(format!("the training thread failed: {e}")))?
            .map_err(|e| match e {
                TrainError::Backend(_) => EvalError::Fatal(e.to_string()),
                other => EvalError::Failed(other.to_string()),
            })?;
        let mut metrics = std::collections::BTreeMap::new();
        metrics.insert("val_acc".to_owned(), report.val.accuracy);
        metrics.insert("val_loss".to_owned(), report.val.loss);
        metrics.insert("train_loss".to_owned(), report.epoch_loss.last().copied().unwrap_or(f64::NAN));
        metrics.insert("test_acc".to_owned(), report.test.accuracy);
        metrics.insert("test_loss".to_owned(), report.test.loss);
        let details = serde_json::json!({
            "backend": report.backend,
            "resolution": self.resolution,
            "epoch_loss": report.epoch_loss,
            "loss_curve": report.loss_curve,
            "curve_window_steps": report.curve_window,
            "train_s": report.train_s,
            "eval_s": report.eval_s,
            "images_per_s": report.images_per_s,
            "train_images": self.splits.train.len(),
            "val_images": self.splits.val.len(),
            "test_images": self.splits.test.len(),
        });
        Ok(Evaluation {
            metrics,
            params: Some(report.params),
            flops: Some(flops),
            cost_s: Some(report.train_s + report.eval_s),
            rank: None,
            details: Some(details),
        })
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).expect("the configuration serializes")
    }
}
