//! The quality report of the classic baselines: for every optimizer configuration, space, seed and budget, the
//! reported metric of the best architecture by the search metric among the first `budget` trials; mean ± standard
//! deviation over the seeds. Duplicates count as queries (the runner's default), as they do for Optuna.
//!
//! ```sh
//! GENIUS_DATA_DIR=../shared/data cargo run --release --example baseline_quality -- --seeds 200
//! ```
//!
//! Options: `--seeds N` (seeds 0..N, default 200), `--budgets 10,50,100`, `--spaces nas-bench-macro,...`
//! (default NAS-Bench-Macro and NAS-Bench-201 CIFAR-10), `--only NAME[,NAME]` (optimizers), `--data-dir DIR`,
//! `--json FILE` (every seed's value, for paired comparisons). One study per seed runs to the largest budget; the
//! smaller budgets read its first trials (no optimizer here looks at the remaining budget, so a shorter run would
//! propose the same first trials).

// A report program: its output is the point.
#![allow(clippy::print_stdout)]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use genius::baselines::catalog;
use genius::core::{Budget, Evaluator, Objective, Study, Trial};
use genius::spaces::data::DataDir;
use serde_json::json;

/// The configurations compared: each optimizer with its published defaults, and the variants worth reporting.
fn configurations() -> Vec<(&'static str, serde_json::Value, &'static str)> {
    vec![
        ("random", json!({}), "uniform, with replacement"),
        ("random", json!({"without_replacement": true}), "without replacement"),
        ("evolution", json!({}), "published: P=10, S=3 (NAS-Bench-201)"),
        ("evolution", json!({"avoid_duplicates": true}), "tuned: no repeated child"),
        ("local-search", json!({}), "published: 10 initial, full neighbourhood"),
        ("local-search", json!({"first_improvement": true}), "first improvement"),
        ("reinforce", json!({}), "published: lr 0.001, momentum 0.9 (NAS-Bench-201)"),
        ("reinforce", json!({"learning_rate": 0.01}), "lr 0.01 (NATS-Bench)"),
        ("tpe", json!({}), "published: Optuna 5 defaults (multivariate)"),
        ("tpe", json!({"multivariate": false}), "Optuna 4 defaults (independent)"),
        ("tpe", json!({"avoid_duplicates": true}), "tuned: no repeated proposal"),
    ]
}

struct Args {
    seeds: u64,
    budgets: Vec<usize>,
    spaces: Vec<String>,
    only: Option<Vec<String>>,
    data_dir: Option<PathBuf>,
    json: Option<PathBuf>,
}

fn args() -> Result<Args> {
    let mut args = Args {
        seeds: 200,
        budgets: vec![10, 50, 100],
        spaces: vec!["nas-bench-macro".into(), "nas-bench-201-cifar10".into()],
        only: None,
        data_dir: None,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        let list = |v: String| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect::<Vec<_>>();
        match flag.as_str() {
            "--seeds" => args.seeds = value()?.parse().context("--seeds: a number")?,
            "--budgets" => {
                args.budgets =
                    list(value()?).iter().map(|b| b.parse()).collect::<Result<_, _>>().context("--budgets")?
            }
            "--spaces" => args.spaces = list(value()?),
            "--only" => args.only = Some(list(value()?)),
            "--data-dir" => args.data_dir = Some(value()?.into()),
            "--json" => args.json = Some(value()?.into()),
            other => bail!("unknown option `{other}`; see the top of examples/baseline_quality.rs"),
        }
    }
    if args.seeds == 0 || args.budgets.is_empty() || args.budgets.contains(&0) {
        bail!("--seeds and every budget must be at least 1");
    }
    args.budgets.sort_unstable();
    Ok(args)
}

/// The reported metric of the best trial by the search metric among the first `budget` trials (the earliest among
/// ties, as the runner's summary picks it).
fn best_reported(trials: &[Trial], budget: usize, objective: &Objective, report: &str) -> Option<f64> {
    let mut best: Option<(f64, f64)> = None;
    for t in trials.iter().take(budget) {
        let Some(e) = t.evaluation.as_ref() else { continue };
        let Some(score) = objective.score(e) else { continue };
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, e.metrics[report]));
        }
    }
    best.map(|(_, r)| r)
}

fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

fn main() -> Result<()> {
    let args = args()?;
    let data = DataDir::resolve(args.data_dir.clone());
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let max_budget = *args.budgets.last().expect("at least one budget");
    let mut records = Vec::new();
    println!(
        "Best architecture by the search metric, its reported metric: mean ± sd over {} seeds (0..{}); duplicates \
         count as queries.\n",
        args.seeds, args.seeds
    );
    for space_name in &args.spaces {
        let entry = genius::spaces::catalog::find(space_name)
            .with_context(|| format!("unknown space `{space_name}`; known: {}", genius::spaces::catalog::names()))?;
        let table = Arc::new(entry.load_table(&data).with_context(|| format!("{space_name} has no table"))??);
        let spec = table.metrics().clone();
        let objective = Objective::from_spec(&spec);
        let optimum = table.optimum().map_or(f64::NAN, |o| o.value);
        println!("### {space_name} (searched: {}, reported: {}, optimum {optimum:.2})\n", spec.search, spec.report);
        let header: Vec<String> = args.budgets.iter().map(|b| format!("{b} queries")).collect();
        println!("| optimizer | settings | {} | µs/trial |", header.join(" | "));
        println!("|---|---|{}---|", "---|".repeat(args.budgets.len()));
        for (name, settings, label) in configurations() {
            if args.only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
                continue;
            }
            catalog::catalog().find(name)?;
            let mut per_budget: Vec<Vec<f64>> = vec![Vec::new(); args.budgets.len()];
            let clock = Instant::now();
            for seed in 0..args.seeds {
                let evaluator: Arc<dyn Evaluator> = table.clone();
                let optimizer = catalog::build(name, settings.clone())?;
                let outcome = runtime.block_on(
                    Study::new(table.space().clone(), evaluator, optimizer)
                        .seed(seed)
                        .budget(Budget::evaluations(max_budget))
                        .run(),
                )?;
                for (i, &b) in args.budgets.iter().enumerate() {
                    let best = best_reported(&outcome.trials, b, &objective, &spec.report)
                        .with_context(|| format!("{name} seed {seed}: no successful trial in {b}"))?;
                    per_budget[i].push(best);
                }
            }
            let micros = clock.elapsed().as_secs_f64() * 1e6 / (args.seeds as f64 * max_budget as f64);
            let cells: Vec<String> = per_budget
                .iter()
                .map(|v| {
                    let (m, sd) = mean_sd(v);
                    format!("{m:.2} ± {sd:.2}")
                })
                .collect();
            println!("| {name} | {label} | {} | {micros:.1} |", cells.join(" | "));
            for (i, &b) in args.budgets.iter().enumerate() {
                let (mean, sd) = mean_sd(&per_budget[i]);
                records.push(json!({
                    "space": space_name, "optimizer": name, "settings": settings, "label": label, "budget": b,
                    "mean": mean, "sd": sd, "seeds": args.seeds, "values": per_budget[i],
                }));
            }
        }
        println!();
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&records)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
