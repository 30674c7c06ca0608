//! The measured-latency evaluator on real spaces, alone and combined with a table: its numbers are positive, the
//! network with far more FLOPs is the slower one, the machine is recorded, and a search of table accuracy against
//! measured latency runs end to end through the binary (`--evaluator table+latency`). Tiny settings keep it short:
//! batch 2, one warm-up run and a few timed ones.

mod common;

use genius_core::checked::Check;
use std::sync::Arc;

use genius_core::{Evaluator, Recorded, SearchSpace, SpaceExt};
use genius_spaces::nas_bench_201::{CellCosts, Dataset, NasBench201};
use genius_train::{LatencyEvaluator, LatencySettings};

fn tiny() -> LatencySettings {
    LatencySettings { batch_size: 2, runs: 3, warmup: 1, ..LatencySettings::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_with_far_more_flops_is_slower_and_the_machine_is_recorded() {
    let space = NasBench201::new(Dataset::Cifar10);
    // The cells of fewest and most FLOPs, found by counting every cell's network (not named by hand).
    let costs = CellCosts::new(&space);
    let flops = |a: &genius_core::Architecture| costs.of(a).1;
    let (small, large) = space.enumerate().fold((None, None), |(lo, hi): (Option<_>, Option<_>), a| {
        let lo = match lo {
            Some(l) if flops(&l) <= flops(&a) => Some(l),
            _ => Some(a.clone()),
        };
        let hi = match hi {
            Some(h) if flops(&h) >= flops(&a) => Some(h),
            _ => Some(a),
        };
        (lo, hi)
    });
    let (small, large) = (small.unwrap(), large.unwrap());
    assert!(flops(&large) > 10 * flops(&small), "{} against {}", flops(&large), flops(&small));

    let space: Arc<dyn SearchSpace> = Arc::new(space);
    // Five timed runs: the median stays in order on a machine busy with other work.
    let evaluator =
        LatencyEvaluator::new(space.clone(), LatencySettings { runs: 5, ..tiny() }.check().unwrap()).unwrap();
    let fast = evaluator.evaluate(&small).await.unwrap();
    let slow = evaluator.evaluate(&large).await.unwrap();
    for e in [&fast, &slow] {
        for metric in ["latency_ms", "latency_batch_ms"] {
            assert!(e.metrics[metric] > 0.0 && e.metrics[metric].is_finite(), "{metric}: {:?}", e.metrics);
        }
        let details = e.details.as_ref().unwrap();
        assert_eq!(details["runs_ms"].as_array().unwrap().len(), 5);
        let machine = &details["machine"];
        assert!(machine["cores"].as_u64().unwrap() >= 1, "{machine}");
        assert!(!machine["cpu"].as_str().unwrap().is_empty() && machine["os"].as_str().is_some(), "{machine}");
        assert_eq!(machine["backend"], "burn cpu");
    }
    assert_eq!((fast.flops, slow.flops), (Some(flops(&small)), Some(flops(&large))), "FLOPs as the space counts them");
    assert!(
        slow.metrics["latency_ms"] > fast.metrics["latency_ms"],
        "{} FLOPs took {} ms, {} FLOPs {} ms",
        flops(&large),
        slow.metrics["latency_ms"],
        flops(&small),
        fast.metrics["latency_ms"]
    );
    assert!(slow.metrics["latency_batch_ms"] > fast.metrics["latency_batch_ms"]);
    // The run header records the machine with the settings, and the settings build the evaluator again.
    let recorded = evaluator.settings();
    assert_eq!(recorded["machine"]["threads"], evaluator.machine().threads);
    let again = LatencySettings::from_json(recorded).unwrap();
    assert_eq!(&*again, evaluator.config());
}

#[test]
fn a_search_of_table_accuracy_against_measured_latency_runs_end_to_end() {
    let data = common::data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let (out, stdout, stderr) = common::run(common::genius_with(&data).args([
        "search",
        "--space",
        "nas-bench-201-cifar10",
        "--optimizer",
        "nsga2",
        "--set",
        "population_size=2",
        "--evaluator",
        "table+latency",
        "--train",
        "runs=2",
        "--train",
        "warmup=1",
        "--train",
        "batch_size=2",
        "--objective",
        "val_acc_200:max",
        "--objective",
        "latency_ms:min",
        "--budget",
        "5",
        "--seed",
        "3",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ]));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let recorded = Recorded::read(&dir).unwrap();
    let header = &recorded.header;
    assert_eq!(header.evaluator.name, "combine");
    let parts = &header.evaluator.settings["parts"];
    assert_eq!(parts[0]["name"], "table");
    assert_eq!(parts[1]["name"], "latency");
    assert_eq!(parts[1]["settings"]["runs"], 2);
    assert!(parts[1]["settings"]["machine"]["cpu"].is_string(), "the header records the machine: {parts}");
    assert_eq!(recorded.trials.len(), 5);
    for trial in &recorded.trials {
        let e = trial.evaluation.as_ref().expect("every cell has a row and a network");
        assert!(e.metrics["latency_ms"] > 0.0 && e.metrics.contains_key("val_acc_200"), "{:?}", e.metrics);
        // The held-out test accuracy is still recorded beside them, and the table's details sit under its name.
        assert!(e.metrics.contains_key("test_acc_200"));
        assert!(e.details.as_ref().unwrap()["latency"]["machine"]["cores"].as_u64().is_some());
    }
    // The search saw both objectives and the Pareto front is among the trials.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert!(!summary["front"].as_array().unwrap().is_empty(), "{summary}");
    // A resume rebuilds the combination from the header.
    let (out, stdout, stderr) =
        common::run(common::genius_with(&data).args(["resume", dir.to_str().unwrap(), "--budget", "6", "--quiet"]));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(Recorded::read(&dir).unwrap().trials.len(), 6);
}

#[test]
fn bad_combinations_are_named() {
    let data = common::data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let search = |evaluator: &str, extra: &[&str]| {
        let mut cmd = common::genius_with(&data);
        cmd.args(["search", "--space", "nas-bench-macro", "--budget", "1", "--evaluator", evaluator, "--out"])
            .arg(tmp.path().join(evaluator))
            .args(extra);
        common::run(&mut cmd)
    };
    let (out, _, stderr) = search("table+stopwatch", &[]);
    assert!(!out.status.success() && stderr.contains("unknown evaluator `stopwatch`"), "{stderr}");
    let (out, _, stderr) = search("table+latency", &["--train", "repeats=3"]);
    assert!(!out.status.success() && stderr.contains("`repeats` is a setting of none of table, latency"), "{stderr}");
}
