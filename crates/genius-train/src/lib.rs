//! Real training for genius: the network of any architecture of any space that describes one
//! ([`SearchSpace::network`](genius_core::SearchSpace::network)), trained on an image dataset, as an
//! [`Evaluator`](genius_core::Evaluator).
//!
//! - [`data`]: readers for CIFAR-10 binary batches and MNIST-format IDX files (Fashion-MNIST, MNIST), a seeded
//!   train/validation split, proxy subsets, resizing, normalization and augmentation.
//! - [`settings`]: epochs, batch size, SGD (momentum, Nesterov) or Adam, cosine or step schedule, weight decay,
//!   label smoothing, resolution, subset, seed.
//! - [`plan`]: the parameterised layers of a network in build order and their seeded initial weights, the same on
//!   every backend.
//! - [`burn_backend`]: Burn 0.22 (pure Rust, the default; CUDA and wgpu behind the `cuda` and `wgpu` features).
//! - `tch_backend`: libtorch through tch 0.26, behind the `tch` feature (off by default; `scripts/libtorch.sh`
//!   gets libtorch 2.13.0).
//! - [`backend`]: choosing the backend and device at run time.
//! - [`session`]: the training loop shared by every backend.
//! - [`evaluator`]: [`TrainEvaluator`], the evaluator.
//! - [`latency`]: [`LatencyEvaluator`], a network's inference time measured on this machine (batch 1 and a batch),
//!   with the machine recorded; combined with a table for accuracy against latency.
//!
//! ```no_run
//! use std::sync::Arc;
//! use genius_core::checked::Check;
//! use genius_core::{Evaluator, SearchSpace};
//! use genius_train::{BackendKind, DatasetKind, DeviceSpec, TrainConfig, TrainEvaluator, TrainSettings};
//!
//! # fn space() -> Arc<dyn SearchSpace> { unimplemented!() }
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let space = space(); // e.g. genius_spaces::nas_bench_macro::NasBenchMacro::new()
//! let config = TrainConfig {
//!     dataset: DatasetKind::FashionMnist,
//!     dataset_dir: "/usr/share/datasets/fashion-mnist".into(),
//!     backend: BackendKind::Burn,
//!     device: DeviceSpec::Cpu,
//!     train: TrainSettings { epochs: 1, subset: Some(5000), ..TrainSettings::default() },
//! };
//! let evaluator = TrainEvaluator::new(space.clone(), config.check()?)?;
//! let eval = evaluator.evaluate(&space.parse("02012100")?).await?;
//! println!("validation accuracy {:.2}%", eval.metrics["val_acc"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub mod backend;
pub mod burn_backend;
pub mod catalog;
pub mod data;
mod error;
pub mod evaluator;
pub mod latency;
pub mod plan;
pub mod session;
pub mod settings;
#[cfg(feature = "tch")]
pub mod tch_backend;

pub use backend::{BackendKind, DeviceSpec};
pub use data::DatasetKind;
pub use error::{Result, TrainError};
pub use evaluator::{TrainConfig, TrainEvaluator};
pub use latency::{LatencyEvaluator, LatencySettings, Machine};
pub use settings::{OptimizerKind, ScheduleKind, TrainSettings};
