//! Search spaces and tabular NAS benchmarks for genius, usable on their own as a Rust NAS-benchmark API.
//!
//! - [`nas_bench_macro`]: NAS-Bench-Macro, 8 layers × 3 operations, 6,561 architectures trained on CIFAR-10.
//! - [`channel_bench_macro`]: Channel-Bench-Macro, the 7 widths × 4 choices of a ResNet and of a MobileNet, 16,384
//!   architectures each, trained on CIFAR-10.
//! - [`nas_bench_201`]: NAS-Bench-201, a cell of 6 edges × 5 operations, 15,625 cells trained on CIFAR-10, CIFAR-100
//!   and ImageNet16-120.
//! - [`mobilenet`]: the MobileNet-style ImageNet space of GENIUS, 7^30 architectures under a FLOPs window, with
//!   exact FLOPs and parameter calculators.
//! - [`nas_bench_macro_model`]: the parameters and FLOPs of every NAS-Bench-Macro network.
//! - [`cost`]: counting parameters and FLOPs layer by layer.
//! - [`table`]: any complete benchmark table as an [`Evaluator`](genius_core::Evaluator), with ranks and optimum.
//! - [`data`]: where the tables live (`--data-dir`, `GENIUS_DATA_DIR`, or the user's cache directory), and
//!   checking and installing table files against their pinned SHA-256.
//! - [`catalog`]: every space by name, for command lines and configs.
//! - [`space_file`]: a search space defined in a TOML file (dimensions, descriptions for the prompt, constraints).
//! - [`user_table`]: your own table of measured architectures of a file space, as an evaluator.
//!
//! ```no_run
//! use genius_core::{SearchSpace, SpaceExt};
//! use genius_spaces::{data::DataDir, nas_bench_macro};
//!
//! let table = nas_bench_macro::load(&DataDir::resolve(None))?;
//! let arch = table.space().parse("22212220")?;
//! let eval = table.lookup(&arch);
//! println!("{:.2} (rank {} / {})", eval.metrics["mean_acc"], eval.rank.unwrap().rank, eval.rank.unwrap().of);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod catalog;
pub mod channel_bench_macro;
pub mod cost;
pub mod data;
pub mod mobilenet;
pub mod nas_bench_201;
pub mod nas_bench_macro;
pub mod nas_bench_macro_model;
pub mod space_file;
pub mod table;
pub mod user_table;
