//! Writes a synthetic comparison grid for measuring reports at scale: RUNS run directories of TRIALS trials each
//! (2 spaces × 4 optimizers × seeds), with a `grid.json` that plans them, as `genius compare` would leave them.
//! The values are seeded noise, not a benchmark's.
//!
//! ```text
//! cargo run --release -p genius-report --example synthetic_grid -- DIR RUNS [TRIALS]
//! cargo run --release -p genius-report --example report -- DIR
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use genius_core::testing::{ToySpace, ToyTable, UniformOptimizer};
use genius_core::{
    Architecture, Budget, BudgetLimit, Evaluation, Flush, Rank, RunLog, Spend, StopReason, Study, Summary, Trial,
    TrialStatus,
};
use genius_report::{GRID_FILE, GridInfo};
use rand::{RngExt, SeedableRng};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: synthetic_grid DIR RUNS [TRIALS]";
    let root = PathBuf::from(args.first().expect(usage));
    let runs: usize = args.get(1).expect(usage).parse().expect(usage);
    let trials: usize = args.get(2).map_or(100, |t| t.parse().expect(usage));
    let spaces = ["synthetic-a", "synthetic-b"];
    let optimizers = ["random", "evolution", "local-search", "tpe"];
    let seeds = runs.div_ceil(spaces.len() * optimizers.len());
    let mut planned = Vec::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    'all: for seed in 0..seeds as u64 {
        for space in spaces {
            for optimizer in optimizers {
                if planned.len() == runs {
                    break 'all;
                }
                let relative = PathBuf::from("runs").join(space).join(optimizer).join(format!("seed-{seed}"));
                let study =
                    Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
                        .seed(seed)
                        .budget(Budget::evaluations(trials))
                        .context(
                            serde_json::json!({ "compare": { "optimizer": optimizer }, "experiment": "synthetic" }),
                        );
                let mut header = study.header();
                header.space = space.to_owned();
                let dir = root.join(&relative);
                let mut log = RunLog::create(&dir, &header, Flush::Buffered).expect("a fresh directory");
                for index in 0..trials {
                    let choices: Vec<u16> = (0..8).map(|_| rng.random_range(0..3u16)).collect();
                    let text: String = choices.iter().map(|c| char::from(b'0' + *c as u8)).collect();
                    let val: f64 = rng.random_range(0.85..0.95);
                    let evaluation = Evaluation {
                        metrics: [("val_acc".to_owned(), val), ("test_acc".to_owned(), val - 0.01)].into(),
                        params: Some(rng.random_range(100_000..2_000_000)),
                        flops: Some(rng.random_range(1_000_000..90_000_000)),
                        cost_s: None,
                        rank: Some(Rank { rank: rng.random_range(1..6562), of: 6561 }),
                        details: None,
                    };
                    let trial = Trial {
                        index,
                        ask: index as u64 + 1,
                        arch: Architecture::new(choices),
                        text,
                        status: TrialStatus::Complete,
                        counted: true,
                        evaluation: Some(evaluation),
                        started_at: "2026-12-01T00:00:00Z".into(),
                        duration_s: 0.0,
                        elapsed_s: 0.0,
                    };
                    log.append_trial(&trial).expect("writes");
                }
                let summary = Summary {
                    stop: StopReason::Budget { limit: BudgetLimit::Evaluations },
                    spend: Spend::default(),
                    completed: trials,
                    duplicates: 0,
                    failed: 0,
                    invalid: 0,
                    best: None,
                    front: Vec::new(),
                    optimum: None,
                    finished_at: "2026-12-01T00:00:00Z".into(),
                };
                log.finish(&summary).expect("writes");
                planned.push(relative);
            }
        }
    }
    let info = GridInfo {
        name: "synthetic".into(),
        budgets: vec![10, 50, trials],
        spaces: spaces.map(str::to_owned).to_vec(),
        optimizers: optimizers.map(str::to_owned).to_vec(),
        baseline: Some("random".into()),
        runs: planned,
        ..GridInfo::default()
    };
    std::fs::write(root.join(GRID_FILE), serde_json::to_vec(&info).expect("serializes")).expect("writes grid.json");
    eprintln!("{} runs of {trials} trials in {}", info.runs.len(), root.display());
}
