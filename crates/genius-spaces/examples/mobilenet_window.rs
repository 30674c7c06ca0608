//! How rare the FLOPs window of the GENIUS MobileNet space is for uniform samples, and what sampling inside it costs.
//!
//! ```sh
//! cargo run --release -p genius-spaces --example mobilenet_window [-- SAMPLES]
//! ```
#![allow(clippy::print_stdout)]

use std::time::Instant;

use genius_core::{SearchRng, SearchSpace, SpaceExt};
use genius_spaces::mobilenet::{FlopsWindow, MobileNetSpace};
use rand::SeedableRng;

fn main() {
    let samples: u64 = std::env::args().nth(1).map_or(10_000_000, |s| s.parse().expect("SAMPLES is a whole number"));
    for window in [FlopsWindow::GENIUS_329, FlopsWindow::GENIUS_401] {
        let space = MobileNetSpace::with_window(window);
        let mut rng = SearchRng::seed_from_u64(0);
        let start = Instant::now();
        let (mut inside, mut total_mflops) = (0u64, 0.0);
        for _ in 0..samples {
            let arch = space.sample(&mut rng);
            let flops = space.flops(&arch);
            total_mflops += flops as f64 / 1e6;
            inside += u64::from(window.contains(flops));
        }
        let uniform = start.elapsed();
        println!(
            "{} ({window}): {inside} of {samples} uniform samples inside ({:.2e}); mean {:.1} MFLOPs; {:.0} ns per \
             sample and check",
            space.name(),
            inside as f64 / samples as f64,
            total_mflops / samples as f64,
            uniform.as_nanos() as f64 / samples as f64
        );
        let start = Instant::now();
        let first = space.sample_in_window(&mut rng).expect("the window holds architectures");
        let setup = start.elapsed();
        let draws = 100_000;
        let start = Instant::now();
        for _ in 0..draws {
            let arch = space.sample_in_window(&mut rng).unwrap();
            assert!(space.is_valid(&arch));
        }
        println!(
            "  sample_in_window: first call {:.1} ms (builds the counts), then {:.1} us per architecture; e.g. {}",
            setup.as_secs_f64() * 1e3,
            start.elapsed().as_secs_f64() * 1e6 / draws as f64,
            space.format(&first)
        );
    }
}
