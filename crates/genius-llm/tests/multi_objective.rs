//! The GENIUS optimizer in multi-objective studies against a local server: every result shown with every objective
//! (search metrics only: no held-out value reaches the server), the current Pareto front marked, a duplicate
//! answered with its objectives, a target on one objective stated and honoured in the marks, the study's front
//! recorded, and the run replayed exactly from its transcript.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Wire, reply, server};
use genius_core::testing::{ToySpace, ToyTable};
use genius_core::{
    Architecture, Budget, Direction, Evaluator, Goal, Objective, Recorded, Study, StudyOutcome, TrialStatus,
};
use genius_llm::RunScope;
use genius_llm::provider::Provider;
use genius_llm::retry::RetryPolicy;
use genius_llm::settings::{CacheMode, ProtocolChoice};
use genius_llm::transcript::CallRecord;
use genius_llm::{Genius, GeniusSettings};

fn settings(base: &str, target: Option<&str>) -> GeniusSettings {
    GeniusSettings {
        llm: Provider::OpenAiCompatible,
        model: Some("test-model".into()),
        base_url: Some(format!("{base}/v1")),
        timeout_s: 5.0,
        retry: RetryPolicy {
            max_attempts: 2,
            initial_backoff_s: 0.01,
            max_backoff_s: 0.05,
            max_total_s: 10.0,
            jitter: 0.5,
        },
        cache: CacheMode::Off,
        // The paper's protocol for one objective; several objectives have their own whatever this says.
        protocol: ProtocolChoice::Conversation,
        target: target.map(str::to_owned),
        ..GeniusSettings::default()
    }
}

/// Validation accuracy up, parameters down.
fn objective() -> Objective {
    let goals = [Goal::new("val_acc", Direction::Maximize), Goal::new("params", Direction::Minimize)];
    Objective::goals(ToyTable::new().metrics(), goals).unwrap()
}

async fn study(settings: &GeniusSettings, dir: &Path, budget: usize) -> Result<StudyOutcome, String> {
    let model = settings.model(None, &RunScope::default()).unwrap();
    let genius = Genius::new(settings.clone().resolve().unwrap(), model);
    Study::new(Arc::new(ToySpace::new().with_brief()), Arc::new(ToyTable::new()), Box::new(genius))
        .objective(objective())
        .seed(3)
        .budget(Budget::evaluations(budget))
        .run_in(dir)
        .await
        .map_err(|e| e.to_string())
}

fn calls(dir: &Path) -> Vec<CallRecord> {
    genius_llm::transcript::calls(&Recorded::read(dir).unwrap().events)
}

/// The toy table's held-out test accuracy of `arch`, as any prompt would write it.
fn held_out_forms(arch: &Architecture) -> Vec<String> {
    let v = ToyTable::test_acc(arch);
    vec![format!("{v:.2}"), format!("{v:.3}"), format!("{v}")]
}

#[tokio::test]
async fn a_multi_objective_search_shows_every_objective_marks_the_front_and_never_sends_a_held_out_metric() {
    let steps = vec![
        reply("[0, 0, 0]"),
        reply("A deep and wide network: [2, 3, 0]"),
        reply("[1, 2, 0]"),
        reply("[2, 3, 0]"),
        reply("Then a narrower one: [0, 2, 0]"),
        reply("[0, 0, 1]"),
        reply("[1, 1, 1]"),
    ];
    let (srv, script) = server(Wire::OpenAi, steps).await;
    let settings = settings(&srv.uri(), None);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let outcome = study(&settings, &dir, 6).await.unwrap();
    assert_eq!(script.left(), 0);

    let archs: Vec<Vec<u16>> = outcome.trials.iter().map(|t| t.arch.choices().to_vec()).collect();
    assert_eq!(archs, [[0, 0, 0], [2, 3, 0], [1, 2, 0], [0, 2, 0], [0, 0, 1], [1, 1, 1]]);
    assert!(matches!(outcome.trials[4].status, TrialStatus::Failed { .. }));
    // (val_acc, params): (50, 1000), (88, 12000), (77, 6000), (67, 3000) trade off; (63, 4000) is beaten by (67, 3000).
    assert_eq!(outcome.summary.front, [0, 1, 2, 3]);
    let header = Recorded::read(&dir).unwrap().header;
    assert_eq!(header.objective, objective(), "the run log records both objectives");

    let calls = calls(&dir);
    assert_eq!(calls.len(), 7, "six proposals and one repair of a duplicate");
    assert_eq!(calls[4].purpose, "duplicate");
    let duplicate = &calls[4].request.messages.last().unwrap().content;
    assert!(
        duplicate.starts_with(
            "The design [2, 3, 0] has already been evaluated: val_acc 88.00, parameters (millions) 0.01200. Please \
             propose a different design"
        ),
        "{duplicate}"
    );
    for call in &calls {
        assert_eq!(call.request.messages.len() % 2, 0, "a fresh chat every iteration (with its repairs)");
        for m in &call.request.messages {
            assert!(!m.content.contains("test_acc"), "{}", m.content);
            for trial in outcome.trials.iter().filter(|t| t.evaluation.is_some()) {
                for form in held_out_forms(&trial.arch) {
                    assert!(!m.content.contains(&form), "the held-out {form} of {:?} was sent", trial.arch);
                }
            }
        }
    }
    // The last prompt lists every result with both objectives, the front marked, the failure with its reason.
    let last = &calls[6].request.messages[1].content;
    for line in [
        "1. [0, 0, 0]: val_acc 50.00, parameters (millions) 0.001000 (Pareto front)",
        "2. [2, 3, 0]: val_acc 88.00, parameters (millions) 0.01200 (Pareto front)",
        "3. [1, 2, 0]: val_acc 77.00, parameters (millions) 0.006000 (Pareto front)",
        "4. [0, 2, 0]: val_acc 67.00, parameters (millions) 0.003000 (Pareto front)",
        "5. [0, 0, 1] could not be evaluated: this toy architecture always fails",
    ] {
        assert!(last.lines().any(|l| l == line), "{line} in\n{last}");
    }
    insta::assert_snapshot!("multi_objective_first_prompt", calls[0].request.transcript());
    insta::assert_snapshot!("multi_objective_later_prompt", calls[6].request.transcript());

    // The transcript answers the same requests again, with nothing sent.
    let sent = script.received().len();
    let replay = GeniusSettings { replay: Some(dir.clone()), ..settings };
    let again = study(&replay, &tmp.path().join("replayed"), 6).await.unwrap();
    assert_eq!(
        again.trials.iter().map(|t| t.arch.clone()).collect::<Vec<_>>(),
        outcome.trials.iter().map(|t| t.arch.clone()).collect::<Vec<_>>()
    );
    assert_eq!(again.summary.front, outcome.summary.front);
    assert_eq!(script.received().len(), sent, "a replay sends nothing");
}

#[tokio::test]
async fn a_target_on_one_objective_is_asked_for_and_the_front_is_marked_among_the_designs_that_meet_it() {
    let steps = vec![reply("[0, 0, 0]"), reply("[2, 3, 0]"), reply("[1, 2, 0]"), reply("[0, 2, 0]")];
    let (srv, script) = server(Wire::OpenAi, steps).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let outcome = study(&settings(&srv.uri(), Some("params<=5000")), &dir, 4).await.unwrap();
    assert_eq!(script.left(), 0);
    assert_eq!(outcome.summary.spend.evaluations, 4);
    let calls = calls(&dir);
    let first = &calls[0].request.messages[1].content;
    assert!(first.contains("The design must meet this target: parameters (millions) at most 0.005000."), "{first}");
    let last = &calls[3].request.messages[1].content;
    for line in [
        "1. [0, 0, 0]: val_acc 50.00, parameters (millions) 0.001000 (Pareto front)",
        "2. [2, 3, 0]: val_acc 88.00, parameters (millions) 0.01200 (misses the target)",
        "3. [1, 2, 0]: val_acc 77.00, parameters (millions) 0.006000 (misses the target)",
    ] {
        assert!(last.lines().any(|l| l == line), "{line} in\n{last}");
    }
    insta::assert_snapshot!("multi_objective_target_prompt", calls[3].request.transcript());
}

#[tokio::test]
async fn a_target_that_is_not_an_objective_is_refused_before_any_call() {
    let (srv, script) = server(Wire::OpenAi, vec![reply("[0, 0, 0]")]).await;
    let tmp = tempfile::tempdir().unwrap();
    let err = study(&settings(&srv.uri(), Some("flops<=1e6")), &tmp.path().join("run"), 2).await.unwrap_err();
    assert!(err.contains("target `flops<=1000000` bounds `flops`, which is not an objective of this search"), "{err}");
    assert!(script.received().is_empty(), "nothing was sent");
}
