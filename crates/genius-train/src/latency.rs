//! The measured-latency evaluator: a candidate's network (the network description its space gives, as training
//! builds it) run for inference on this machine, batch 1 and a batch of `batch_size`, the median of `runs` timed
//! forward passes after `warmup` untimed ones. Every evaluation records the machine it was measured on (CPU model,
//! cores, OS, backend, threads); so does the run header (the evaluator's settings).
//!
//! Latency is a search metric: it is measured, nothing is held out. Combine it with a table for accuracy
//! (`--evaluator table+latency`, or `[evaluator] name = "combine"` with `parts = ["table", "latency"]`; see
//! [`genius_core::combine`]).
//!
//! The weights are [`Plan`]'s seeded initial weights (latency does not depend on their values) and the input is a
//! constant image; batch norms run in inference mode. Measurements run one at a time, never beside each other, on a
//! thread pool of `threads` threads.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::tensor::{Tensor, TensorData};
use genius_core::checked::{Check, Checked};
use genius_core::network::Network;
use genius_core::{
    Architecture, Direction, EvalError, Evaluation, Evaluator, Metric, MetricSpec, SearchSpace, SpaceExt, Visibility,
};
use serde::{Deserialize, Serialize};

use crate::backend::{self, BackendKind, DeviceSpec};
use crate::burn_backend::BurnNet;
use crate::error::{Result, TrainError};
use crate::plan::Plan;

/// The latency evaluator's name in the catalog and in run logs.
pub const NAME: &str = "latency";

/// How latency is measured; every field has a documented default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LatencySettings {
    /// The batch measured besides batch 1 [default: 8].
    pub batch_size: usize,
    /// Timed forward passes per batch size; the median is the metric [default: 10].
    pub runs: usize,
    /// Untimed forward passes before the timed ones [default: 3].
    pub warmup: usize,
    /// Threads of the measurement (0: every core) [default: 0].
    pub threads: usize,
    /// The tensor library [default: burn].
    pub backend: BackendKind,
    /// The device [default: cpu].
    pub device: DeviceSpec,
    /// The input image side [default: the network's].
    pub resolution: Option<usize>,
    /// The classes of the network's last layer [default: 10].
    pub classes: usize,
}

impl Default for LatencySettings {
    fn default() -> Self {
        Self {
            batch_size: 8,
            runs: 10,
            warmup: 3,
            threads: 0,
            backend: BackendKind::Burn,
            device: DeviceSpec::Cpu,
            resolution: None,
            classes: 10,
        }
    }
}

impl Check for LatencySettings {
    type Error = TrainError;

    /// Checks the ranges (`genius evaluators latency` prints them).
    fn check_ref(&self) -> Result<()> {
        let at_least_one = |name: &str, v: usize| {
            if v == 0 { Err(TrainError::Latency(format!("`{name}` must be at least 1 (got 0)"))) } else { Ok(()) }
        };
        at_least_one("batch_size", self.batch_size)?;
        at_least_one("runs", self.runs)?;
        at_least_one("classes", self.classes)?;
        if let Some(r) = self.resolution
            && !(8..=1024).contains(&r)
        {
            return Err(TrainError::Latency(format!("`resolution` must be between 8 and 1024 (got {r})")));
        }
        if self.backend != BackendKind::Burn {
            return Err(TrainError::Latency(
                "`backend`: latency is measured with burn only so far; use backend = \"burn\"".into(),
            ));
        }
        Ok(())
    }
}

impl LatencySettings {
    /// The settings in `value` (a JSON object; `null` for the defaults), checked. A recorded `machine` key (the run
    /// header's) is read past: the machine is this one.
    pub fn from_json(value: serde_json::Value) -> Result<Checked<Self>> {
        let value = match value {
            serde_json::Value::Null => serde_json::json!({}),
            serde_json::Value::Object(mut map) => {
                map.remove("machine");
                serde_json::Value::Object(map)
            }
            other => other,
        };
        let settings: Self = serde_json::from_value(value).map_err(|e| TrainError::Latency(e.to_string()))?;
        settings.check()
    }
}

/// The machine a latency was measured on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// The CPU model (`/proc/cpuinfo`'s model name; `unknown` where it cannot be read).
    pub cpu: String,
    /// Logical cores available to this process.
    pub cores: usize,
    /// The operating system and architecture, e.g. `linux x86_64 (Debian GNU/Linux 13 (trixie))`.
    pub os: String,
    /// The backend and device, e.g. `burn cpu`.
    pub backend: String,
    /// Threads the measurement ran on.
    pub threads: usize,
}

impl Machine {
    /// This machine, measured with `settings`.
    pub fn here(settings: &LatencySettings) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("model name") || l.starts_with("Model") || l.starts_with("Hardware"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        let release = std::fs::read_to_string("/etc/os-release").ok().and_then(|text| {
            text.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim_matches('"').to_owned())
        });
        let os = match release {
            Some(r) => format!("{} {} ({r})", std::env::consts::OS, std::env::consts::ARCH),
            None => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        };
        let threads = if settings.threads == 0 { cores } else { settings.threads };
        Self { cpu, cores, os, backend: format!("{} {}", settings.backend, settings.device), threads }
    }
}

/// The metrics of the latency evaluator.
pub fn metric_spec(batch_size: usize) -> MetricSpec {
    let metric = |name: &str, description: String| Metric {
        name: name.into(),
        direction: Direction::Minimize,
        visibility: Visibility::Search,
        description,
    };
    MetricSpec {
        metrics: vec![
            metric("latency_ms", "median inference time of one image (batch 1) on this machine, ms".into()),
            metric(
                "latency_batch_ms",
                format!("median inference time of a batch of {batch_size} images on this machine, ms"),
            ),
        ],
        search: "latency_ms".into(),
        report: "latency_ms".into(),
    }
}

/// The measured-latency evaluator of one space.
pub struct LatencyEvaluator {
    space: Arc<dyn SearchSpace>,
    settings: LatencySettings,
    machine: Machine,
    spec: MetricSpec,
    pool: Arc<rayon::ThreadPool>,
    /// Measurements run one at a time: two beside each other would slow each other down.
    running: Arc<Mutex<()>>,
}

impl std::fmt::Debug for LatencyEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyEvaluator")
            .field("space", &self.space.name())
            .field("settings", &self.settings)
            .field("machine", &self.machine)
            .finish()
    }
}

/// What measuring one network gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The median of the batch-1 runs, ms.
    pub latency_ms: f64,
    /// The median of the batch runs, ms.
    pub latency_batch_ms: f64,
    /// Every timed batch-1 run, ms.
    pub runs_ms: Vec<f64>,
    /// Every timed batch run, ms.
    pub batch_runs_ms: Vec<f64>,
    /// Seconds the whole measurement took, warm-up included.
    pub total_s: f64,
}

/// The median of `values` (not empty).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

impl LatencyEvaluator {
    /// The evaluator of `space` with `settings`: checks that the space describes networks and that the backend and
    /// device are there.
    pub fn new(space: Arc<dyn SearchSpace>, settings: Checked<LatencySettings>) -> Result<Self> {
        let settings = settings.into_inner();
        backend::check_available(settings.backend, settings.device)?;
        let probe = space.arch_at(0);
        space.network(&probe, settings.classes).ok_or_else(|| {
            TrainError::Network(format!(
                "space `{}` describes no network to measure; latency needs a space with networks",
                space.name()
            ))
        })?;
        let machine = Machine::here(&settings);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(machine.threads)
            .thread_name(|i| format!("genius-latency-{i}"))
            .build()
            .map_err(|e| TrainError::Backend(format!("cannot start {} measuring threads: {e}", machine.threads)))?;
        Ok(Self {
            space,
            spec: metric_spec(settings.batch_size),
            settings,
            machine,
            pool: Arc::new(pool),
            running: Arc::new(Mutex::new(())),
        })
    }

    /// The machine it measures on.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// How it measures.
    pub fn config(&self) -> &LatencySettings {
        &self.settings
    }

    /// The network of `arch`, checked at the measuring resolution.
    pub fn network(&self, arch: &Architecture) -> Result<(Network, usize)> {
        let network = self.space.network(arch, self.settings.classes).ok_or_else(|| {
            TrainError::Network(format!("space `{}` has no network for {}", self.space.name(), self.space.format(arch)))
        })?;
        let resolution = self.settings.resolution.unwrap_or(network.resolution);
        network.cost_at(resolution).map_err(|e| TrainError::Network(format!("{e} (at {resolution}×{resolution})")))?;
        Ok((network, resolution))
    }

    /// Measures `arch`'s network (blocking; [`Evaluator::evaluate`] runs this on a blocking thread).
    pub fn measure(&self, arch: &Architecture) -> Result<Measurement> {
        let (network, resolution) = self.network(arch)?;
        measure(&network, resolution, &self.settings, &self.pool, &self.running)
    }
}

fn measure(
    network: &Network,
    resolution: usize,
    settings: &LatencySettings,
    pool: &rayon::ThreadPool,
    running: &Mutex<()>,
) -> Result<Measurement> {
    let _one_at_a_time = running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let start = Instant::now();
    // The module is built on the measuring pool's thread, so that it never crosses threads.
    let (runs_ms, batch_runs_ms) = pool.install(|| {
        let device = backend::burn_device(settings.device)?;
        let plan = Plan::new(network, 0);
        let model = BurnNet::new(network, &plan, &device);
        let time = |batch: usize| -> Result<Vec<f64>> {
            let shape = [batch, network.in_channels, resolution, resolution];
            let pixels = vec![0.5f32; shape.iter().product()];
            let mut times = Vec::with_capacity(settings.runs);
            for i in 0..settings.warmup + settings.runs {
                let x = Tensor::<4>::from_data(TensorData::new(pixels.clone(), shape), &device);
                let t = Instant::now();
                // Reading the logits back waits for the whole forward pass, on any device.
                let logits = model.forward(x).into_data();
                let ms = t.elapsed().as_secs_f64() * 1e3;
                if logits.num_elements() != batch * network.classes {
                    return Err(TrainError::Network(format!(
                        "{}: the forward pass gave the wrong shape",
                        network.name
                    )));
                }
                if i >= settings.warmup {
                    times.push(ms);
                }
            }
            Ok(times)
        };
        Ok::<_, TrainError>((time(1)?, time(settings.batch_size)?))
    })?;
    Ok(Measurement {
        latency_ms: median(&runs_ms),
        latency_batch_ms: median(&batch_runs_ms),
        runs_ms,
        batch_runs_ms,
        total_s: start.elapsed().as_secs_f64(),
    })
}

#[genius_core::async_trait]
impl Evaluator for LatencyEvaluator {
    fn name(&self) -> &str {
        NAME
    }

    fn metrics(&self) -> &MetricSpec {
        &self.spec
    }

    async fn evaluate(&self, arch: &Architecture) -> std::result::Result<Evaluation, EvalError> {
        let (network, resolution) = self.network(arch).map_err(|e| EvalError::Failed(e.to_string()))?;
        let cost = network.cost_at(resolution).map_err(|e| EvalError::Failed(e.to_string()))?;
        let (settings, pool, running) = (self.settings.clone(), self.pool.clone(), self.running.clone());
        let net = network.clone();
        let m = tokio::task::spawn_blocking(move || measure(&net, resolution, &settings, &pool, &running))
            .await
            .map_err(|e| EvalError::Fatal(format!("the measuring thread failed: {e}")))?
            .map_err(|e| match e {
                TrainError::Backend(_) => EvalError::Fatal(e.to_string()),
                other => EvalError::Failed(other.to_string()),
            })?;
        let mut metrics = std::collections::BTreeMap::new();
        metrics.insert("latency_ms".to_owned(), m.latency_ms);
        metrics.insert("latency_batch_ms".to_owned(), m.latency_batch_ms);
        let details = serde_json::json!({
            "machine": self.machine,
            "resolution": resolution,
            "batch_size": self.settings.batch_size,
            "warmup": self.settings.warmup,
            "runs_ms": m.runs_ms,
            "batch_runs_ms": m.batch_runs_ms,
        });
        Ok(Evaluation {
            metrics,
            params: Some(cost.params),
            flops: Some(cost.flops),
            cost_s: Some(m.total_s),
            rank: None,
            details: Some(details),
        })
    }

    /// The settings and, under `machine`, the machine measured on (read past on a resume).
    fn settings(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(&self.settings).expect("the settings serialize");
        value["machine"] = serde_json::to_value(&self.machine).expect("the machine serializes");
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_value() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn settings_have_defaults_and_ranges() {
        let s = LatencySettings::from_json(serde_json::Value::Null).unwrap();
        assert_eq!(*s, LatencySettings::default());
        let err = LatencySettings::from_json(serde_json::json!({"runs": 0})).unwrap_err().to_string();
        assert!(err.contains("`runs` must be at least 1"), "{err}");
        let err = LatencySettings::from_json(serde_json::json!({"repeats": 3})).unwrap_err().to_string();
        assert!(err.contains("unknown field `repeats`"), "{err}");
        let recorded = serde_json::json!({"runs": 4, "machine": {"cpu": "elsewhere"}});
        assert_eq!(LatencySettings::from_json(recorded).unwrap().runs, 4);
    }

    #[test]
    fn the_machine_says_what_it_is() {
        let m = Machine::here(&LatencySettings { threads: 1, ..LatencySettings::default() });
        assert!(m.cores >= 1 && m.threads == 1 && !m.cpu.is_empty() && m.os.contains(std::env::consts::OS));
        assert_eq!(m.backend, "burn cpu");
    }
}
