//! Training throughput of genius-train's backends on the NAS-Bench-Macro network: images per second of one training
//! step (forward, backward, optimizer step) at 32×32, batch 64, SGD with Nesterov momentum and weight decay, as
//! `benches/peers/train_throughput.py` measures PyTorch on the same network. Ratios are in BENCHMARKS.md.
//!
//! `cargo bench --bench train_throughput` runs Burn on the CPU (its flex backend; `--features ndarray` adds ndarray); with
//! `--features tch` (after `eval "$(scripts/libtorch.sh)"`) libtorch too. `GENIUS_BENCH_DEVICES=cuda:0,wgpu` adds
//! devices (a build with the matching features), `GENIUS_BENCH_ARCHS=02012100,22222222` picks the architectures.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use genius_core::SearchSpace;
use genius_spaces::nas_bench_macro::NasBenchMacro;
use genius_train::TrainSettings;
use genius_train::backend::{self, BackendKind, DeviceSpec};
use genius_train::data::Batch;
use genius_train::plan::Plan;
use rand::RngExt;

const BATCH: usize = 64;
const SIDE: usize = 32;

fn list(var: &str, default: &str) -> Vec<String> {
    std::env::var(var).unwrap_or_else(|_| default.to_owned()).split(',').map(|s| s.trim().to_owned()).collect()
}

fn throughput(c: &mut Criterion) {
    let space = NasBenchMacro::new();
    let settings = TrainSettings::default();
    let mut rng = genius_core::rng::seeded(0);
    let images: Vec<f32> = (0..BATCH * 3 * SIDE * SIDE).map(|_| rng.random_range(-2.0..2.0)).collect();
    let labels: Vec<i64> = (0..BATCH).map(|i| (i % 10) as i64).collect();
    let batch = Batch { images, labels: labels.clone(), len: BATCH, channels: 3, size: SIDE };
    let targets: Vec<f32> = labels.iter().flat_map(|&l| settings.target(l as usize, 10)).collect();

    let mut targets_to_run = vec![(BackendKind::Burn, DeviceSpec::Cpu)];
    if cfg!(feature = "ndarray") {
        targets_to_run.push((BackendKind::Burn, DeviceSpec::Ndarray));
    }
    if cfg!(feature = "tch") {
        targets_to_run.push((BackendKind::Tch, DeviceSpec::Cpu));
    }
    for device in list("GENIUS_BENCH_DEVICES", "").iter().filter(|d| !d.is_empty()) {
        let device: DeviceSpec = device.parse().expect("GENIUS_BENCH_DEVICES lists devices");
        targets_to_run.push((BackendKind::Burn, device));
        if cfg!(feature = "tch") && matches!(device, DeviceSpec::Cuda(_)) {
            targets_to_run.push((BackendKind::Tch, device));
        }
    }

    let mut group = c.benchmark_group("train_step_nas_bench_macro_32px_batch64");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    for key in list("GENIUS_BENCH_ARCHS", "02012100") {
        let network = space.network(&space.parse(&key).expect("a NAS-Bench-Macro key"), 10).expect("a network");
        let plan = Plan::new(&network, 0);
        for &(kind, device) in &targets_to_run {
            let mut session = match backend::open(kind, device, &network, &plan, &settings) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("skipping {kind} {device}: {e}");
                    continue;
                }
            };
            // Warm up (allocators, autotuning, lazy initialisation) outside the measurement.
            for _ in 0..3 {
                session.train_step(&batch, &targets, 0.05).expect("a training step");
            }
            group.bench_function(BenchmarkId::new(format!("{kind}-{device}"), &key), |b| {
                b.iter(|| session.train_step(&batch, &targets, 0.05).expect("a training step"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
