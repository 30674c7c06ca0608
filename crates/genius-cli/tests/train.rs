//! Real training from the command line (`genius search --evaluator train`), its resume, and the networks of every
//! space counted alike by the space's calculator, the network description and each backend.

use std::path::{Path, PathBuf};
use std::process::Command;

use genius_core::{Recorded, SearchRng, TrialStatus};
use genius_train::backend::{self, BackendKind, DeviceSpec};
use genius_train::plan::Plan;
use genius_train::{DatasetKind, TrainSettings};
use rand::SeedableRng;

/// Fashion-MNIST where scripts/test.sh (`genius data fetch fashion-mnist`) found or put it: Debian's package, else
/// the dataset cache.
fn fashion() -> PathBuf {
    let dir = DatasetKind::FashionMnist.default_dir(&genius_train::data::sources::cache_root());
    assert!(
        dir.join("train-images-idx3-ubyte.gz").is_file(),
        "these tests need Fashion-MNIST: run them with scripts/test.sh (it fetches it), or `genius data fetch \
         fashion-mnist`"
    );
    dir
}

fn genius(out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_genius"));
    cmd.env("GENIUS_OFFLINE", "1").env_remove("GENIUS_DATA_URL").env("GENIUS_DATA_DIR", out);
    cmd
}

fn backends() -> Vec<BackendKind> {
    // What the linked genius-train has, not this crate's features: cargo unifies `genius-train/tch` across the
    // workspace, so a build with it gives this crate's binary the tch backend too.
    [BackendKind::Burn, BackendKind::Tch].into_iter().filter(|kind| kind.available()).collect()
}

#[test]
fn every_space_counts_its_parameters_alike_in_calculator_description_and_backends() {
    let settings = TrainSettings::default();
    let mut rng = SearchRng::seed_from_u64(9);
    for entry in genius_spaces::catalog::spaces() {
        let space = entry.space();
        for _ in 0..3 {
            let arch = space.sample_feasible(&mut rng).expect("a feasible architecture");
            let classes = 10;
            let network = space.network(&arch, classes).unwrap_or_else(|| panic!("{} has no network", entry.name));
            network.check().unwrap();
            if let Some((params, _)) = entry.cost(&arch) {
                // The calculators count the benchmark's own classifier (10 classes, or 1000 for ImageNet).
                let native = space.network(&arch, if entry.name.starts_with("mobilenet") { 1000 } else { 10 }).unwrap();
                assert_eq!(native.params(), params, "{} {}", entry.name, space.format(&arch));
            }
            let plan = Plan::new(&network, 0);
            assert_eq!(plan.params(), network.params());
            for kind in backends() {
                let session = backend::open(kind, DeviceSpec::Cpu, &network, &plan, &settings).unwrap();
                assert_eq!(session.params(), network.params(), "{kind} on {} {}", entry.name, space.format(&arch));
            }
        }
    }
}

#[test]
fn a_training_search_trains_real_networks_and_resumes_from_its_header() {
    let data = fashion();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let search = genius(tmp.path())
        .args(["search", "--space", "nas-bench-macro", "--evaluator", "train", "--dataset", "fashion-mnist"])
        .arg("--dataset-dir")
        .arg(&data)
        .args(["--epochs", "1", "--subset", "1024", "--resolution", "16", "--train", "validation=256"])
        .args(["--train", "test_subset=256", "--train", "batch_size=32", "--budget", "2", "--seed", "3"])
        .args(["--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&search.stdout);
    assert!(search.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&search.stderr));
    assert!(
        stdout.contains("val_acc") && stdout.contains("test_acc") && stdout.contains("[reported, held out]"),
        "{stdout}"
    );
    let recorded = Recorded::read(&out).unwrap();
    assert_eq!(recorded.header.evaluator.name, "train");
    assert_eq!(recorded.header.evaluator.settings["train"]["seed"], 3);
    assert_eq!(recorded.trials.len(), 2);
    for trial in &recorded.trials {
        assert_eq!(trial.status, TrialStatus::Complete, "{trial:?}");
        let eval = trial.evaluation.as_ref().unwrap();
        // Ten classes: chance is 10% (32 steps of proxy training at 16×16 reach about 35-50%).
        assert!(eval.metrics["val_acc"] > 20.0, "{:?}", eval.metrics);
        assert!(eval.metrics["test_acc"] > 20.0, "{:?}", eval.metrics);
        assert!(eval.params.unwrap() > 300_000 && eval.flops.unwrap() > 0);
        let details = eval.details.as_ref().unwrap();
        assert!(!details["loss_curve"].as_array().unwrap().is_empty());
        assert_eq!(details["train_images"], 1024);
    }

    // Not quiet: each epoch of training says so on stderr.
    let resume = genius(tmp.path()).args(["resume", "--budget", "3"]).arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&resume.stderr);
    assert!(resume.status.success(), "{stderr}");
    assert!(stderr.contains("training: epoch 1/1 done, train loss "), "{stderr}");
    assert!(!String::from_utf8_lossy(&search.stderr).contains("training: epoch"), "--quiet says nothing per epoch");
    let resumed = Recorded::read(&out).unwrap();
    assert_eq!(resumed.trials.len(), 3);
    assert_eq!(resumed.trials[..2], recorded.trials[..], "recorded trials are not trained again");
    assert!(resumed.trials[2].evaluation.as_ref().unwrap().metrics["val_acc"] > 20.0);
}

#[test]
fn bad_training_options_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = genius(tmp.path())
            .args(["search", "--space", "nas-bench-macro", "--evaluator", "train", "--budget", "1", "--quiet"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = run(&["--dataset", "cifar10", "--dataset-dir", tmp.path().to_str().unwrap()]);
    assert!(e.contains("data_batch_1.bin: no such file"), "{e}");
    let e = run(&["--train", "learning_rate=-1", "--dataset-dir", tmp.path().to_str().unwrap()]);
    assert!(e.contains("`learning_rate`"), "{e}");
    let e = run(&["--train", "lr=0.1"]);
    assert!(e.contains("unknown field `lr`"), "{e}");
    let e = run(&["--device", "tpu"]);
    assert!(e.contains("unknown device `tpu`"), "{e}");
    // (Where tch is linked in, `--backend tch` would train a network here: nothing to check.)
    if !BackendKind::Tch.available() {
        let e = run(&["--backend", "tch"]);
        assert!(e.contains("--features tch"), "{e}");
    }
}

#[test]
fn a_compare_grid_with_the_train_evaluator_trains_every_run_and_reports() {
    let data = fashion();
    let tmp = tempfile::tempdir().unwrap();
    let experiment = tmp.path().join("grid.toml");
    let settings = format!(
        "dataset = \"fashion-mnist\"\ndataset_dir = {:?}\nepochs = 1\nsubset = 512\nresolution = 16\n\
         validation = 128\ntest_subset = 128\nbatch_size = 32\n",
        data.display().to_string()
    );
    std::fs::write(
        &experiment,
        format!(
            "name = \"train-grid\"\nspaces = [\"nas-bench-macro\"]\nseeds = 2\nbudgets = [2]\njobs = 1\n\n\
             [evaluator]\nname = \"train\"\n[evaluator.settings]\n{settings}\n\
             [[optimizer]]\nname = \"random\"\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let compare = genius(tmp.path())
        .args(["compare", "--quiet", "--config"])
        .arg(&experiment)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&compare.stdout);
    assert!(compare.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&compare.stderr));
    for seed in 0..2 {
        let recorded = Recorded::read(&out.join(format!("runs/nas-bench-macro/random/seed-{seed}"))).unwrap();
        assert_eq!(recorded.header.evaluator.name, "train");
        // Every run of the grid trains a design alike: the training seed is 0, not the run's.
        assert_eq!(recorded.header.evaluator.settings["train"]["seed"], 0);
        assert_eq!(recorded.trials.len(), 2);
        for trial in &recorded.trials {
            assert_eq!(trial.status, TrialStatus::Complete, "{trial:?}");
            assert_eq!(trial.evaluation.as_ref().unwrap().details.as_ref().unwrap()["train_images"], 512);
        }
    }
    assert!(out.join("report.md").is_file(), "{stdout}");
}
