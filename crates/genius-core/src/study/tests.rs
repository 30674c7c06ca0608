use crate::checked::Check;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::*;
use crate::MetricSpec;
use crate::run_log::TRIALS_FILE;
use crate::testing::{ScriptedOptimizer, ToySpace, ToyTable, UniformOptimizer};

/// A trial without its timings, for comparing runs.
fn key(t: &Trial) -> (usize, Architecture, TrialStatus, bool, Option<Evaluation>) {
    (t.index, t.arch.clone(), t.status.clone(), t.counted, t.evaluation.clone())
}

fn keys(trials: &[Trial]) -> Vec<(usize, Architecture, TrialStatus, bool, Option<Evaluation>)> {
    trials.iter().map(key).collect()
}

fn study(seed: u64, evaluations: usize) -> Study {
    Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(UniformOptimizer))
        .seed(seed)
        .budget(Budget::evaluations(evaluations))
}

fn arch(c: &[u16]) -> Architecture {
    Architecture::new(c.to_vec())
}

/// Shares a scripted optimizer with the test, to look at what it was told.
struct Shared(Arc<Mutex<ScriptedOptimizer>>);

#[async_trait::async_trait]
impl Optimizer for Shared {
    fn name(&self) -> &str {
        "scripted"
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    async fn ask(&mut self, ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError> {
        let mut inner = self.0.lock().unwrap().clone();
        let out = inner.ask(ctx, n).await;
        *self.0.lock().unwrap() = inner;
        out
    }
    fn tell(&mut self, trials: &[Observation]) {
        self.0.lock().unwrap().tell(trials);
    }
    fn multi_objective(&self) -> bool {
        true
    }
}

fn scripted(script: &[&[u16]]) -> (Box<dyn Optimizer>, Arc<Mutex<ScriptedOptimizer>>) {
    let inner = Arc::new(Mutex::new(ScriptedOptimizer::new(script.iter().map(|c| arch(c)))));
    (Box::new(Shared(inner.clone())), inner)
}

#[tokio::test]
async fn spends_exactly_the_evaluation_budget() {
    for budget in [1, 7, 30] {
        let outcome = study(3, budget).run().await.unwrap();
        assert_eq!(outcome.trials.len(), budget);
        assert_eq!(outcome.summary.spend.evaluations, budget);
        assert_eq!(outcome.summary.stop, StopReason::Budget { limit: BudgetLimit::Evaluations });
    }
}

#[tokio::test]
async fn a_seed_repeats_the_trials_and_another_seed_does_not() {
    let a = study(11, 15).run().await.unwrap();
    let b = study(11, 15).run().await.unwrap();
    let c = study(12, 15).run().await.unwrap();
    assert_eq!(keys(&a.trials), keys(&b.trials));
    assert_ne!(keys(&a.trials), keys(&c.trials));
}

#[tokio::test]
async fn the_optimizer_never_sees_held_out_metrics() {
    let (opt, inner) = scripted(&[&[1, 2, 0], &[2, 3, 0]]);
    let space = Arc::new(ToySpace::new());
    let outcome = Study::new(space, Arc::new(ToyTable::new()), opt).budget(Budget::evaluations(2)).run().await.unwrap();
    let told = inner.lock().unwrap().told.clone();
    assert_eq!(told.len(), 2);
    for o in &told {
        assert!(o.metrics.contains_key("val_acc"));
        assert!(!o.metrics.contains_key("test_acc"), "held-out metric leaked: {o:?}");
        assert_eq!(o.value, Some(ToyTable::val_acc(&o.arch)));
    }
    // The log keeps the held-out metric for reports.
    assert!(outcome.trials[0].evaluation.as_ref().unwrap().metrics.contains_key("test_acc"));
    // The best is chosen by the search metric (depth 3 wins on val, depth 2 would win on test).
    assert_eq!(outcome.best().unwrap().arch, arch(&[2, 3, 0]));
}

#[tokio::test]
async fn a_multi_objective_study_records_its_objectives_and_front_and_never_feeds_back_held_out_metrics() {
    let goals = ["val_acc:max", "params:min"].map(|g| g.parse::<crate::Goal>().unwrap());
    let objective = Objective::goals(ToyTable::new().metrics(), goals).unwrap();
    let script: &[&[u16]] = &[&[2, 3, 0], &[0, 0, 0], &[1, 1, 1], &[2, 3, 1], &[0, 1, 0], &[0, 0, 0], &[0, 0, 1]];
    let (opt, inner) = scripted(script);
    let dir = tempfile::tempdir().unwrap();
    let outcome = Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), opt)
        .objective(objective.clone())
        .budget(Budget::evaluations(7))
        .run_in(dir.path())
        .await
        .unwrap();
    // The front by brute force over the complete trials: nothing else is at least as good in both objectives.
    let point = |t: &Trial| objective.scores(t.evaluation.as_ref()?);
    let complete: Vec<&Trial> = outcome.trials.iter().filter(|t| matches!(t.status, TrialStatus::Complete)).collect();
    let expected: Vec<usize> = complete
        .iter()
        .filter(|t| {
            let p = point(t).unwrap();
            !complete.iter().any(|u| crate::pareto::dominates(&point(u).unwrap(), &p))
        })
        .map(|t| t.index)
        .collect();
    assert_eq!(outcome.summary.front, expected);
    assert!(expected.len() >= 2, "the toy objectives conflict: {expected:?}");
    assert!(!expected.contains(&5), "a duplicate is on the front through its original");
    // The optimizer saw every objective, and nothing held out.
    for o in &inner.lock().unwrap().told {
        assert!(!o.metrics.contains_key("test_acc"), "held-out metric leaked: {o:?}");
        if let Some(scores) = o.scores(&objective) {
            assert_eq!(scores, vec![ToyTable::val_acc(&o.arch), -(o.params.unwrap() as f64)]);
        }
    }
    // The header records every objective, and the summary the front; both read back.
    let recorded = Recorded::read(dir.path()).unwrap();
    assert_eq!(recorded.header.objective, objective);
    let summary: Summary =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(crate::run_log::SUMMARY_FILE)).unwrap()).unwrap();
    assert_eq!(summary.front, expected);
    // A held-out metric is refused as any objective, before anything runs.
    let mut leaky = objective.clone();
    leaky.also.push(crate::Goal::new("test_acc", crate::Direction::Maximize));
    let err = study(0, 3).objective(leaky).run().await.unwrap_err();
    assert!(err.to_string().contains("`test_acc` is held out"), "{err}");
}

#[tokio::test]
async fn a_single_objective_optimizer_is_refused_for_several_objectives_and_single_logs_are_unchanged() {
    struct OneObjective;
    #[async_trait::async_trait]
    impl Optimizer for OneObjective {
        fn name(&self) -> &str {
            "one"
        }
        fn settings(&self) -> serde_json::Value {
            serde_json::json!({})
        }
        async fn ask(&mut self, ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError> {
            UniformOptimizer.ask(ctx, n).await
        }
        fn tell(&mut self, _trials: &[Observation]) {}
    }
    let goals = ["val_acc:max", "params:min"].map(|g| g.parse::<crate::Goal>().unwrap());
    let objective = Objective::goals(ToyTable::new().metrics(), goals).unwrap();
    let err = Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), Box::new(OneObjective))
        .objective(objective)
        .budget(Budget::evaluations(3))
        .run()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid study settings: optimizer `one` searches a single objective, and this study has 2 (val_acc:max, \
         params:min); choose one that searches several (`genius optimizers` says \"any number of objectives\" of \
         them), or give one objective"
    );
    // A single-objective run writes no trace of several objectives: no `also`, no `front`.
    let dir = tempfile::tempdir().unwrap();
    study(1, 4).run_in(dir.path()).await.unwrap();
    let log = std::fs::read_to_string(dir.path().join(TRIALS_FILE)).unwrap();
    let header: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(header["objective"], serde_json::json!({"metric": "val_acc", "direction": "maximize"}));
    let summary = std::fs::read_to_string(dir.path().join(crate::run_log::SUMMARY_FILE)).unwrap();
    assert!(!summary.contains("\"front\""), "{summary}");
}

#[tokio::test]
async fn duplicates_are_answered_from_history_and_count_by_default() {
    let (opt, inner) = scripted(&[&[1, 1, 0], &[1, 1, 0], &[2, 0, 0]]);
    let outcome = Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), opt)
        .budget(Budget::evaluations(3))
        .run()
        .await
        .unwrap();
    assert_eq!(outcome.trials[1].status, TrialStatus::Duplicate { of: 0 });
    assert!(outcome.trials[1].counted);
    assert_eq!(outcome.trials[1].evaluation, outcome.trials[0].evaluation);
    assert_eq!(outcome.summary.duplicates, 1);
    assert!(inner.lock().unwrap().told[1].duplicate);
}

#[tokio::test]
async fn free_duplicates_do_not_use_budget_and_a_small_space_stops_when_exhausted_instead_of_looping() {
    let settings = StudySettings { duplicates: DuplicatePolicy::Free, max_idle_asks: 200, ..Default::default() };
    let outcome = study(5, 100).settings(settings.check().unwrap()).run().await.unwrap();
    assert_eq!(outcome.summary.stop, StopReason::SpaceExhausted);
    assert_eq!(outcome.summary.spend.evaluations, 24, "every toy architecture evaluated once");
    let mut first = std::collections::HashSet::new();
    assert!(outcome.trials.iter().all(|t| t.counted == first.insert(t.arch.clone())));
}

#[tokio::test]
async fn failed_and_invalid_proposals_are_trials_with_their_reason() {
    let (opt, inner) = scripted(&[&[0, 0, 1], &[2, 3, 0], &[7, 0, 0], &[1, 0, 0]]);
    let outcome = Study::new(Arc::new(ToySpace::constrained()), Arc::new(ToyTable::new()), opt)
        .budget(Budget::evaluations(10))
        .run()
        .await
        .unwrap();
    assert!(matches!(&outcome.trials[0].status, TrialStatus::Failed { reason } if reason.contains("always fails")));
    assert!(matches!(&outcome.trials[1].status, TrialStatus::Invalid { reason } if reason.contains("constraint")));
    assert!(matches!(&outcome.trials[2].status, TrialStatus::Invalid { reason } if reason.contains("out of range")));
    assert_eq!(outcome.trials[3].status, TrialStatus::Complete);
    assert_eq!(outcome.summary.stop, StopReason::OptimizerDone);
    assert_eq!((outcome.summary.failed, outcome.summary.invalid, outcome.summary.completed), (1, 2, 1));
    let told = inner.lock().unwrap().told.clone();
    assert_eq!(told[0].score, None);
    assert!(told[0].failure.as_deref().unwrap().contains("always fails"));
}

#[tokio::test]
async fn batches_evaluate_concurrently_deterministically_and_dedup_within_the_batch() {
    let settings = StudySettings { batch_size: 4, concurrency: 3, ..Default::default() };
    let settings = settings.check().unwrap();
    let a = study(9, 22).settings(settings.clone()).run().await.unwrap();
    let b = study(9, 22).settings(settings).run().await.unwrap();
    assert_eq!(a.trials.len(), 22);
    assert_eq!(keys(&a.trials), keys(&b.trials));
    let (opt, _) = scripted(&[&[1, 1, 1], &[1, 1, 1], &[2, 2, 0]]);
    let settings = StudySettings { batch_size: 3, ..Default::default() };
    let outcome = Study::new(Arc::new(ToySpace::new()), Arc::new(ToyTable::new()), opt)
        .budget(Budget::evaluations(3))
        .settings(settings.check().unwrap())
        .run()
        .await
        .unwrap();
    assert_eq!(outcome.trials[1].status, TrialStatus::Duplicate { of: 0 });
}

#[tokio::test]
async fn the_run_log_holds_the_header_and_every_trial() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let outcome = study(4, 12).run_in(&run).await.unwrap();
    let recorded = Recorded::read(&run).unwrap();
    assert_eq!(recorded.header.seed, 4);
    assert_eq!(recorded.header.space, "toy");
    assert_eq!(recorded.header.optimizer.name, "uniform");
    assert_eq!(keys(&recorded.trials), keys(&outcome.trials));
    assert_eq!(recorded.summary.as_ref().unwrap().stop, outcome.summary.stop);
    assert!(recorded.truncated.is_empty());
    // A second run into the same directory is refused, and the first one is untouched.
    let err = study(4, 12).run_in(&run).await.unwrap_err();
    assert!(err.to_string().contains("already holds a run"), "{err}");
    assert_eq!(Recorded::read(&run).unwrap().trials.len(), 12);
}

#[tokio::test]
async fn a_run_cut_at_any_byte_resumes_to_the_uninterrupted_trials() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    let expected = study(21, 10).run_in(&full).await.unwrap();
    let bytes = std::fs::read(full.join(TRIALS_FILE)).unwrap();
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    // A set: a step of 37 may land on one of the last two bytes (the timings make the length vary).
    let cuts: std::collections::BTreeSet<usize> =
        (header_end..bytes.len()).step_by(37).chain([bytes.len() - 1, bytes.len() - 2]).collect();
    for cut in cuts {
        let run = dir.path().join(format!("cut-{cut}"));
        std::fs::create_dir(&run).unwrap();
        std::fs::write(run.join(TRIALS_FILE), &bytes[..cut]).unwrap();
        let recorded = Recorded::read(&run).unwrap();
        let complete = recorded.trials.len();
        let resumed = study(21, 10).resume(recorded).await.unwrap();
        assert_eq!(keys(&resumed.trials), keys(&expected.trials), "cut at byte {cut}");
        let again = Recorded::read(&run).unwrap();
        assert_eq!(keys(&again.trials), keys(&expected.trials), "log after resuming a cut at byte {cut}");
        assert!(again.truncated.is_empty());
        let aside = run.join(format!("{TRIALS_FILE}.truncated"));
        let line_start = bytes[..cut].iter().rposition(|&b| b == b'\n').unwrap() + 1;
        let fragment_kept = cut > line_start && complete < 10 && aside.exists();
        let nothing_to_keep = cut == line_start || serde_json::from_slice::<Trial>(&bytes[line_start..cut]).is_ok();
        assert!(fragment_kept || nothing_to_keep, "the truncated fragment at byte {cut} was not kept aside");
    }
}

#[tokio::test]
async fn an_interrupted_study_stops_cleanly_and_resumes_to_the_same_trials() {
    let dir = tempfile::tempdir().unwrap();
    let expected = study(8, 20).run().await.unwrap();
    let run = dir.path().join("run");
    let token = CancellationToken::new();
    let trigger = token.clone();
    let interrupted = study(8, 20)
        .stop_on(token)
        .observe(move |e: &StudyEvent<'_>| {
            if let StudyEvent::Trial { spend, .. } = e
                && spend.trials == 7
            {
                trigger.cancel();
            }
        })
        .run_in(&run)
        .await
        .unwrap();
    assert_eq!(interrupted.summary.stop, StopReason::Interrupted);
    assert_eq!(interrupted.trials.len(), 7);
    let recorded = Recorded::read(&run).unwrap();
    assert_eq!(recorded.trials.len(), 7);
    let mut replayed = 0;
    let resumed = study(8, 20)
        .observe(move |e: &StudyEvent<'_>| {
            if let StudyEvent::Trial { replayed: true, .. } = e {
                replayed += 1;
                assert!(replayed <= 7);
            }
        })
        .resume(recorded)
        .await
        .unwrap();
    assert_eq!(keys(&resumed.trials), keys(&expected.trials));
    assert_eq!(Recorded::read(&run).unwrap().trials.len(), 20);
}

#[tokio::test]
async fn resuming_with_more_budget_extends_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    study(2, 5).run_in(&run).await.unwrap();
    let longer = study(2, 9).resume(Recorded::read(&run).unwrap()).await.unwrap();
    let direct = study(2, 9).run().await.unwrap();
    assert_eq!(keys(&longer.trials), keys(&direct.trials));
}

/// Every file of a run directory and its bytes.
fn snapshot(dir: &Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn resuming_with_a_budget_below_the_record_is_refused_and_rewrites_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    study(2, 10).run_in(&run).await.unwrap();
    let before = snapshot(&run);
    let err = study(2, 4).resume(Recorded::read(&run).unwrap()).await.unwrap_err();
    assert!(matches!(err, StudyError::BudgetBelowRecord { budget: 4, recorded: 10 }), "{err}");
    assert!(err.to_string().contains("budget of 4 evaluations") && err.to_string().contains("recorded 10"), "{err}");
    assert_eq!(snapshot(&run), before, "nothing is rewritten");
}

#[tokio::test]
async fn a_budget_beyond_the_space_stops_once_every_architecture_is_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let outcome = study(1, 100_000).run_in(&run).await.unwrap();
    assert_eq!(outcome.summary.stop, StopReason::SpaceExhausted);
    let proposed: std::collections::HashSet<_> = outcome.trials.iter().map(|t| &t.arch).collect();
    assert_eq!(proposed.len(), 24, "every toy architecture");
    assert!(outcome.summary.completed <= 24, "none evaluated twice");
    assert!(outcome.trials.len() < 10_000, "{} trials", outcome.trials.len());
    assert_eq!(Recorded::read(&run).unwrap().summary.unwrap().stop, StopReason::SpaceExhausted, "recorded");
    assert_eq!(StopReason::SpaceExhausted.to_string(), "every architecture of the space has been evaluated");
}

#[tokio::test]
async fn a_second_writer_is_refused_with_the_holder_pid_until_the_first_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    study(2, 5).run_in(&run).await.unwrap();
    let holder = crate::run_log::DirLock::acquire(&run).unwrap();
    let before = snapshot(&run);
    let err = study(2, 9).resume(Recorded::read(&run).unwrap()).await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, StudyError::RunLog(RunLogError::Locked { holder: Some(pid), .. }) if pid == std::process::id())
    );
    assert!(message.contains(&run.display().to_string()) && message.contains(&format!("pid {}", std::process::id())));
    assert_eq!(snapshot(&run), before, "nothing is written");
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let _other = crate::run_log::DirLock::acquire(&other).unwrap();
    let err = study(2, 5).run_in(&other).await.unwrap_err();
    assert!(matches!(err, StudyError::RunLog(RunLogError::Locked { .. })), "{err}");
    assert!(!other.join(TRIALS_FILE).exists());

    drop(holder);
    let resumed = study(2, 9).resume(Recorded::read(&run).unwrap()).await.unwrap();
    assert_eq!(keys(&resumed.trials), keys(&study(2, 9).run().await.unwrap().trials));
}

#[tokio::test]
async fn a_run_written_between_reading_and_locking_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    study(2, 5).run_in(&run).await.unwrap();
    let stale = Recorded::read(&run).unwrap();
    study(2, 9).resume(Recorded::read(&run).unwrap()).await.unwrap();
    let err = study(2, 12).resume(stale).await.unwrap_err();
    assert!(matches!(err, StudyError::RunLog(RunLogError::Changed(_))), "{err}");
    assert_eq!(Recorded::read(&run).unwrap().trials.len(), 9);
}

#[tokio::test]
async fn resuming_a_different_study_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    study(2, 5).run_in(&run).await.unwrap();
    let err = study(3, 5).resume(Recorded::read(&run).unwrap()).await.unwrap_err();
    assert!(matches!(err, StudyError::Mismatch { field: "seed", .. }), "{err}");
}

#[tokio::test]
async fn damaged_logs_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    study(2, 5).run_in(&run).await.unwrap();
    let path = run.join(TRIALS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "{not json";
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let err = Recorded::read(&run).unwrap_err();
    assert!(err.to_string().contains("line 4 is damaged"), "{err}");
    std::fs::write(&path, "{\"format\": 1, \"seed\"").unwrap();
    let err = Recorded::read(&run).unwrap_err();
    assert!(err.to_string().contains("no readable header"), "{err}");
    let err = Recorded::read(&dir.path().join("nowhere")).unwrap_err();
    assert!(err.to_string().contains("holds no run log"), "{err}");
}

struct Broken;

#[async_trait::async_trait]
impl Evaluator for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn metrics(&self) -> &MetricSpec {
        static SPEC: std::sync::OnceLock<MetricSpec> = std::sync::OnceLock::new();
        SPEC.get_or_init(|| ToyTable::new().metrics().clone())
    }
    async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
        if arch.choice(0) == 2 {
            Err(EvalError::Fatal("the device is gone".into()))
        } else {
            ToyTable::new().evaluate(arch).await
        }
    }
}

#[tokio::test]
async fn a_fatal_evaluator_error_stops_the_study_keeping_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let (opt, _) = scripted(&[&[1, 0, 0], &[1, 1, 0], &[2, 0, 0], &[1, 2, 0]]);
    let err = Study::new(Arc::new(ToySpace::new()), Arc::new(Broken), opt)
        .budget(Budget::evaluations(4))
        .run_in(&run)
        .await
        .unwrap_err();
    assert!(matches!(err, StudyError::Evaluator { recorded: 2, .. }), "{err}");
    assert!(err.to_string().contains("the device is gone"));
    assert_eq!(Recorded::read(&run).unwrap().trials.len(), 2);
}

#[tokio::test]
async fn bad_settings_are_refused_before_anything_runs() {
    let err = study(0, 0).run().await.unwrap_err();
    assert!(err.to_string().contains("evaluation budget is 0"), "{err}");
    let err = StudySettings { concurrency: 0, ..Default::default() }.check().unwrap_err();
    assert_eq!(err, crate::StudySettingsError::Concurrency);
    assert_eq!(err.to_string(), "`concurrency` must be at least 1 (got 0)");
    let mut objective = Objective::from_spec(ToyTable::new().metrics());
    objective.metric = "test_acc".into();
    let err = study(0, 3).objective(objective).run().await.unwrap_err();
    assert!(err.to_string().contains("held out"), "{err}");
}

#[test]
fn a_study_runs_on_a_multi_threaded_runtime() {
    fn assert_send<T: Send>(_: &T) {}
    let dir = std::path::PathBuf::from("unused");
    assert_send(&study(0, 1).run());
    assert_send(&study(0, 1).run_in(&dir));
}
