//! The embedded model's quantized matrix products: genius's own (`genius_llm::local::qmatmul`) against candle 0.11's
//! `QMatMul`, on SmolLM2-135M's shapes (inner dimension 576, 1,536 outputs: its gate and up projections), one row
//! (a reply token) and 64 rows (a prompt chunk), Q8_0 and Q4_1 weights. Run with `cargo bench --bench
//! quantized_matmul`; results go to BENCHMARKS.md.

use std::hint::black_box;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use genius::llm::local::qmatmul::{self, Format};

fn products(c: &mut Criterion) {
    let device = Device::Cpu;
    let (k, n) = (576, 1536);
    let mut group = c.benchmark_group("quantized_matmul");
    group.sample_size(20);
    for (dtype, format) in [(GgmlDType::Q8_0, Format::Q8_0), (GgmlDType::Q4_1, Format::Q4_1)] {
        let weights = Tensor::randn(0f32, 1.0, (n, k), &device).expect("weights");
        let quantized = QTensor::quantize(&weights, dtype).expect("quantizes");
        let bytes = quantized.data().expect("on the CPU").to_vec();
        let candle = QMatMul::from_qtensor(quantized).expect("a matrix");
        for m in [1, 64] {
            let x = Tensor::randn(0f32, 1.0, (1, m, k), &device).expect("activations");
            let values = x.flatten_all().and_then(|x| x.to_vec1::<f32>()).expect("f32");
            group.throughput(Throughput::Elements((2 * m * n * k) as u64));
            group.bench_function(BenchmarkId::new(format!("candle {format:?}"), m), |b| {
                b.iter(|| candle.forward(black_box(&x)).expect("multiplies"))
            });
            group.bench_function(BenchmarkId::new(format!("genius {format:?}"), m), |b| {
                b.iter(|| qmatmul::matmul(format, black_box(&bytes), n, k, black_box(&values), m))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, products);
criterion_main!(benches);
