//! The GENIUS optimizer on every space of the catalog that describes itself to a language model: the protocol each
//! one gets, its rendered prompts (insta snapshots of the first and a later request), replies written the way models
//! write them (the space's notation, stage by stage, fenced, with a wrong length or a FLOPs violation first), and
//! no held-out metric in any prompt, a held-out column of a user table in Parquet included.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use genius::core::{
    Architecture, Budget, Direction, EvalError, Evaluation, Evaluator, Goal, Metric, MetricSpec, Objective, Recorded,
    SearchSpace, SpaceExt, Study, Visibility, async_trait, rng,
};
use genius::llm::chat::{ChatModel, ChatReply, ChatRequest, Exchange, ModelInfo, Role, Source};
use genius::llm::settings::{Principles, ProtocolChoice};
use genius::llm::transcript;
use genius::llm::{Genius, GeniusSettings, LlmError, Protocol};
use genius::spaces::catalog::{self, SpaceEntry};
use genius::spaces::data::DataDir;
use genius::spaces::space_file::FileSpace;
use genius::spaces::user_table::UserTable;

fn data_dir() -> DataDir {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(dir.join("nas-bench-macro").is_dir(), "set GENIUS_DATA_DIR to the benchmark tables");
    DataDir::new(dir)
}

/// A model that answers with scripted replies.
struct Scripted(Mutex<VecDeque<String>>);

#[async_trait]
impl ChatModel for Scripted {
    fn info(&self) -> ModelInfo {
        ModelInfo { provider: "scripted".into(), model: "scripted".into(), endpoint: None, structured_output: false }
    }
    async fn chat(&self, _request: &ChatRequest) -> Result<Exchange, LlmError> {
        let content = self.0.lock().unwrap().pop_front().ok_or_else(|| LlmError::Replay("script exhausted".into()))?;
        let reply = ChatReply {
            content,
            finish_reason: Some("stop".into()),
            refusal: None,
            model: None,
            tokens: Default::default(),
        };
        Ok(Exchange { reply, source: Source::Network, usage: Default::default(), latency_s: 0.0, retries: Vec::new() })
    }
}

/// For a space without a table (the MobileNet space is trained): FLOPs and params from the space's calculator, and
/// made-up accuracies, one searched and one held out. It stands in for training in prompt tests only.
struct StandIn {
    entry: &'static SpaceEntry,
    spec: MetricSpec,
}

impl StandIn {
    fn new(entry: &'static SpaceEntry) -> Self {
        let metric = |name: &str, visibility| Metric {
            name: name.into(),
            direction: Direction::Maximize,
            visibility,
            description: "a stand-in".into(),
        };
        let spec = MetricSpec {
            metrics: vec![metric("proxy_acc", Visibility::Search), metric("held_out_acc", Visibility::Reported)],
            search: "proxy_acc".into(),
            report: "held_out_acc".into(),
        };
        Self { entry, spec }
    }
}

#[async_trait]
impl Evaluator for StandIn {
    fn name(&self) -> &str {
        "stand-in"
    }
    fn metrics(&self) -> &MetricSpec {
        &self.spec
    }
    async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
        let (params, flops) = self.entry.cost(arch).ok_or_else(|| EvalError::Failed("no cost".into()))?;
        let proxy = 70.0 + flops as f64 / 1e8;
        Ok(Evaluation {
            metrics: [("proxy_acc".to_owned(), proxy), ("held_out_acc".to_owned(), proxy + 1.2345)].into(),
            params: Some(params),
            flops: Some(flops),
            ..Default::default()
        })
    }
}

fn written_without_last(text: &str) -> String {
    let items: Vec<&str> = text.trim_matches(['[', ']']).split(", ").collect();
    format!("[{}]", items[..items.len() - 1].join(", "))
}

fn by_stage(text: &str, stage: usize) -> String {
    let items: Vec<&str> = text.trim_matches(['[', ']']).split(", ").collect();
    items
        .chunks(stage)
        .enumerate()
        .map(|(i, c)| {
            format!("Stage {} (Layer {} to Layer {}): [{}]", i + 1, 2 + i * stage, 1 + (i + 1) * stage, c.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn every_space_with_a_brief_runs_its_protocol_and_its_prompts_hold_no_held_out_metric() {
    let data = data_dir();
    let mut seen = Vec::new();
    for entry in catalog::spaces() {
        let space = entry.space();
        let Some(brief) = space.brief() else { continue };
        let evaluator: Arc<dyn Evaluator> = match entry.load_table(&data) {
            Some(table) => Arc::new(table.unwrap()),
            None => Arc::new(StandIn::new(entry)),
        };
        let space: Arc<dyn SearchSpace> = space;
        let protocol = Protocol::resolve(Default::default(), &*space);
        let mut r = rng::seeded(11);
        let mut proposals: Vec<Architecture> = Vec::new();
        while proposals.len() < 3 {
            let a = space.sample_feasible(&mut r).expect("a feasible architecture");
            if !proposals.contains(&a) {
                proposals.push(a);
            }
        }
        let w: Vec<String> = proposals.iter().map(|a| brief.notation.write(&*space, a)).collect();
        let replies: Vec<String> = if protocol == Protocol::Constrained {
            let n = space.dimensions().len();
            let biggest = Architecture::new(space.dimensions().iter().map(|d| d.len() as u16 - 1).collect::<Vec<_>>());
            assert!(space.check(&biggest).is_err(), "{}: the biggest design breaks the window", entry.name);
            vec![
                format!(
                    "The strongest design uses the largest operation everywhere:\n{}",
                    brief.notation.write(&*space, &biggest)
                ),
                format!(
                    "Here is a design that meets the constraint:\n\n{}\n\nIt keeps early stages light.",
                    by_stage(&w[0], n / 5)
                ),
                format!("```json\n{{\"op_list\": {}}}\n```", w[1]),
                format!("Building on Experiment 2, I suggest {}.", w[2]),
            ]
        } else {
            vec![
                format!("After analysing the operations, I suggest:\n{}", w[0]),
                format!("A deeper variant: {}", written_without_last(&w[1])),
                w[1].clone(),
                format!("```\n{}\n```\nThis should outperform the previous designs.", w[2]),
            ]
        };
        // Principles off: the scripted replies answer proposals only (the distillation has its own test).
        let settings =
            GeniusSettings { model: Some("scripted".into()), principles: Principles::Off, ..GeniusSettings::default() };
        let genius = Genius::new(settings.resolve().unwrap(), Arc::new(Scripted(Mutex::new(replies.into()))));
        let tmp = tempfile::tempdir().unwrap();
        let outcome = Study::new(space.clone(), evaluator.clone(), Box::new(genius))
            .budget(Budget::evaluations(3))
            .run_in(tmp.path())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        let got: Vec<&Architecture> = outcome.trials.iter().map(|t| &t.arch).collect();
        assert_eq!(got, proposals.iter().collect::<Vec<_>>(), "{}", entry.name);

        let recorded = Recorded::read(tmp.path()).unwrap();
        let calls = transcript::calls(&recorded.events);
        assert_eq!(calls.len(), 4, "{}", entry.name);
        let problems: Vec<String> = recorded
            .events
            .iter()
            .filter(|e| e.event.kind == "reply_problem")
            .map(|e| e.event.data["kind"].as_str().unwrap().to_owned())
            .collect();
        let expected = if protocol == Protocol::Constrained { "violation" } else { "invalid" };
        assert_eq!(problems, [expected], "{}", entry.name);

        // What follows each evaluated design in a prompt is its search metric, never a held-out one.
        let spec = evaluator.metrics();
        for call in &calls {
            for m in call.request.messages.iter().filter(|m| m.role == Role::User) {
                for (trial, text) in outcome.trials.iter().zip(&w) {
                    let Some(pos) = m.content.find(text.as_str()) else { continue };
                    let after = &m.content[pos + text.len()..];
                    let Some(end) = after.find('%') else { continue };
                    let said = &after[..end];
                    let eval = trial.evaluation.as_ref().unwrap();
                    let search = eval.metrics[&spec.search];
                    assert!(
                        said.ends_with(&format!("{search:.2}")) || said.ends_with(&format!("{search:.3}")),
                        "{}: `{said}` should end with the search metric {search}",
                        entry.name
                    );
                    for held in spec.metrics.iter().filter(|m| m.visibility == Visibility::Reported) {
                        let v = eval.metrics[&held.name];
                        if v != search {
                            assert!(!said.ends_with(&format!("{v:.2}")) && !said.ends_with(&format!("{v:.3}")));
                        }
                        assert!(!m.content.contains(&held.name), "{}: {} named in a prompt", entry.name, held.name);
                    }
                }
            }
        }
        insta::assert_snapshot!(format!("{}_first_prompt", entry.name), calls[0].request.transcript());
        insta::assert_snapshot!(format!("{}_later_prompt", entry.name), calls[3].request.transcript());
        seen.push((entry.name, protocol));
    }
    let names: Vec<&str> = seen.iter().map(|(n, _)| *n).collect();
    for name in ["nas-bench-macro", "nas-bench-201-cifar10", "channel-bench-macro-resnet", "mobilenet-imagenet"] {
        assert!(names.contains(&name), "{name} has a brief and was tested");
    }
    let of = |name: &str| seen.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_eq!(of("nas-bench-macro"), Protocol::Stateless);
    assert_eq!(of("channel-bench-macro-mobilenet"), Protocol::Stateless);
    assert_eq!(of("nas-bench-201-cifar100"), Protocol::Conversation);
    assert_eq!(of("mobilenet-imagenet"), Protocol::Constrained);
}

/// Every prompt a run can send, for every space with a table, in every protocol (the multi-objective one too, the
/// search metric against FLOPs), with and without principles:
/// the first and later iterations, the distillation, and the repairs of an invalid reply and of a duplicate. The
/// model proposes only architectures outside the table's top 1%, so a top-1% architecture in any message could only
/// have come from genius itself (an example, an error message, a template): none may appear, in the prompts'
/// notation or in the canonical text form, and no held-out metric value may appear either.
#[tokio::test]
async fn no_prompt_carries_a_good_architecture_or_a_held_out_value() {
    let data = data_dir();
    let mut checked = 0;
    for entry in catalog::spaces() {
        let Some(table) = entry.load_table(&data) else { continue };
        let table = Arc::new(table.unwrap());
        let space = table.space().clone();
        let Some(brief) = space.brief() else { continue };
        let of = table.rows().len() as u64;
        let top: Vec<Architecture> = (*space).enumerate().filter(|a| table.rank(a).rank * 100 <= of).collect();
        assert!(!top.is_empty(), "{}", entry.name);
        let forms: Vec<String> = top.iter().flat_map(|a| [brief.notation.write(&*space, a), space.format(a)]).collect();
        let mut r = rng::seeded(5);
        let mut picks: Vec<Architecture> = Vec::new();
        while picks.len() < 4 {
            let a = (*space).sample(&mut r);
            if table.rank(&a).rank * 100 > of && !picks.contains(&a) {
                picks.push(a);
            }
        }
        let w: Vec<String> = picks.iter().map(|a| brief.notation.write(&*space, a)).collect();
        // The paper's protocols with one objective, and the multi-objective protocol (the search metric against
        // FLOPs: `Auto` then means that protocol).
        let protocols = [
            (ProtocolChoice::Stateless, false),
            (ProtocolChoice::Conversation, false),
            (ProtocolChoice::Constrained, false),
            (ProtocolChoice::Auto, true),
        ];
        for (protocol, several) in protocols {
            for principles in [Principles::Distill, Principles::Off] {
                if several && principles == Principles::Distill {
                    continue;
                }
                let mut replies = vec![
                    format!("I suggest {}", w[0]),
                    format!("Then {}", written_without_last(&w[1])),
                    w[1].clone(),
                    format!("Again {}", w[0]),
                    w[2].clone(),
                    w[3].clone(),
                ];
                let distils = protocol == ProtocolChoice::Constrained && principles == Principles::Distill;
                if distils {
                    replies.insert(1, "1. Use strong operations late.\n2. Keep the stem light.".into());
                }
                let settings = GeniusSettings {
                    model: Some("scripted".into()),
                    protocol,
                    principles,
                    ..GeniusSettings::default()
                };
                let genius = Genius::new(settings.resolve().unwrap(), Arc::new(Scripted(Mutex::new(replies.into()))));
                let tmp = tempfile::tempdir().unwrap();
                let mut study =
                    Study::new(space.clone(), table.clone(), Box::new(genius)).budget(Budget::evaluations(4));
                if several {
                    let spec = table.metrics();
                    let goals = [
                        Goal::new(spec.search.clone(), spec.search_metric().direction),
                        Goal::new("flops", Direction::Minimize),
                    ];
                    study = study.objective(Objective::goals(spec, goals).unwrap());
                }
                let outcome = study.run_in(tmp.path()).await.unwrap_or_else(|e| panic!("{}: {e}", entry.name));
                assert_eq!(outcome.trials.len(), 4, "{} {protocol:?}", entry.name);
                let recorded = Recorded::read(tmp.path()).unwrap();
                let calls = transcript::calls(&recorded.events);
                assert_eq!(
                    calls.len(),
                    6 + usize::from(distils),
                    "{} {protocol:?}: every reply was asked for",
                    entry.name
                );
                let spec = table.metrics();
                let shown: Vec<String> = outcome
                    .trials
                    .iter()
                    .filter_map(|t| t.evaluation.as_ref())
                    .flat_map(|e| {
                        let v = e.metrics[&spec.search];
                        // The multi-objective prompt's MFLOPs, to the digits it may show them with.
                        let mflops = e.flops.map_or(0.0, |f| f as f64 / 1e6);
                        [v, mflops].into_iter().flat_map(|v| (0..=4).map(move |d| format!("{v:.d$}")))
                    })
                    .collect();
                for call in &calls {
                    for m in call.request.messages.iter().filter(|m| m.role != Role::Assistant) {
                        for form in &forms {
                            assert!(
                                !m.content.contains(form.as_str()),
                                "{} {protocol:?} {principles:?}: a top-1% architecture, {form}, is in the prompt:\n{}",
                                entry.name,
                                m.content
                            );
                        }
                        for trial in &outcome.trials {
                            let Some(eval) = &trial.evaluation else { continue };
                            for held in spec.metrics.iter().filter(|m| m.visibility == Visibility::Reported) {
                                let v = eval.metrics[&held.name];
                                for text in [format!("{v:.2}"), format!("{v:.3}")] {
                                    assert!(
                                        shown.contains(&text) || !m.content.contains(&text),
                                        "{}: the held-out {} of trial {} ({text}) is in a prompt",
                                        entry.name,
                                        held.name,
                                        trial.index
                                    );
                                }
                            }
                        }
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 6 * 7, "every tabled space in every protocol ({checked} runs)");
}

/// No space's example of an answer is an architecture (the examples used to be the tables' optima and the paper's
/// own GENIUS-329): it must not even read as one.
#[test]
fn no_space_brief_gives_a_whole_architecture_as_its_example() {
    for entry in catalog::spaces() {
        let space = entry.space();
        let Some(brief) = space.brief() else { continue };
        assert!(brief.example.contains("..."), "{}: {}", entry.name, brief.example);
        assert!(space.parse(&brief.example).is_err(), "{}: {} reads as an architecture", entry.name, brief.example);
    }
}

/// The contamination probe: with `anonymize`, no prompt names the benchmark or its dataset, the operations are listed
/// under other ids, the model's replies are read in those ids and mapped back, and the history is shown in them.
#[tokio::test]
async fn anonymized_prompts_name_no_benchmark_and_replies_map_back() {
    let data = data_dir();
    let entry = catalog::find("nas-bench-201-cifar10").unwrap();
    let table = Arc::new(entry.load_table(&data).unwrap().unwrap());
    let space = table.space().clone();
    // Shown id = (real + 1) mod 5: the model's [1, 2, 3, 4, 0, 1] is the real [0, 1, 2, 3, 4, 0].
    let replies = vec!["[1, 2, 3, 4, 0, 1]".to_owned(), "[4, 4, 4, 2, 3, 4]".to_owned()];
    let settings = GeniusSettings {
        model: Some("scripted".into()),
        protocol: ProtocolChoice::Stateless,
        anonymize: true,
        ..GeniusSettings::default()
    };
    let genius = Genius::new(settings.resolve().unwrap(), Arc::new(Scripted(Mutex::new(replies.into()))));
    let tmp = tempfile::tempdir().unwrap();
    let outcome = Study::new(space.clone(), table.clone(), Box::new(genius))
        .budget(Budget::evaluations(2))
        .run_in(tmp.path())
        .await
        .unwrap();
    assert_eq!(outcome.trials[0].arch.choices(), &[0, 1, 2, 3, 4, 0]);
    assert_eq!(outcome.trials[1].arch.choices(), &[3, 3, 3, 1, 2, 3]);
    let recorded = Recorded::read(tmp.path()).unwrap();
    let calls = transcript::calls(&recorded.events);
    for call in &calls {
        for m in &call.request.messages {
            let lower = m.content.to_ascii_lowercase();
            for name in ["cifar", "nas-bench", "imagenet"] {
                assert!(!lower.contains(name), "`{name}` in an anonymized prompt:\n{}", m.content);
            }
        }
    }
    let first = &calls[0].request.messages[1].content;
    assert!(first.contains("0: nn.AvgPool2d"), "operation 4 is listed as 0:\n{first}");
    assert!(first.contains("1: Zeroize()"), "{first}");
    let later = &calls[1].request.messages[1].content;
    assert!(later.contains("[1, 2, 3, 4, 0, 1] gives an accuracy of"), "the history in the shown ids:\n{later}");
}

/// A space file whose table is a Parquet file.
const PARQUET_SPACE: &str = r#"
name = "toy-mlp"
task = "A small multilayer perceptron is trained on a toy problem; the objective is to maximize its validation accuracy."

[[dimension]]
name = "layers"
kind = "integer"
min = 1
max = 3
description = "hidden layers"

[[dimension]]
name = "activation"
kind = "categorical"
options = ["relu", "tanh"]

[table]
file = "results.parquet"
search = "val_acc"
report = "test_acc"
held_out = ["test_acc"]
"#;

/// A user table in Parquet with a held-out column, as for a CSV table (crates/genius-cli/tests/own_problem.rs): the
/// held-out column's name and values reach no prompt.
#[tokio::test]
async fn a_held_out_parquet_column_of_a_user_table_reaches_no_prompt() {
    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("space.toml"), PARQUET_SPACE).unwrap();
    // Every architecture, with held-out accuracies ending in .37, a value no search metric takes.
    let (mut layers, mut activation, mut val, mut test) = (vec![], vec![], vec![], vec![]);
    for l in 1..=3_i64 {
        for (i, a) in ["relu", "tanh"].into_iter().enumerate() {
            layers.push(l);
            activation.push(a);
            val.push(80.5 + 2.0 * l as f64 - i as f64);
            test.push(79.37 + 2.0 * l as f64 - i as f64);
        }
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("layers", Arc::new(Int64Array::from(layers))),
        ("activation", Arc::new(StringArray::from(activation))),
        ("val_acc", Arc::new(Float64Array::from(val))),
        ("test_acc", Arc::new(Float64Array::from(test))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(tmp.path().join("results.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let space = Arc::new(FileSpace::read(&tmp.path().join("space.toml")).unwrap());
    let table = Arc::new(UserTable::load(space.clone()).unwrap());
    assert_eq!(table.metrics().get("test_acc").unwrap().visibility, Visibility::Reported);
    let replies = ["I suggest [1, tanh]", "Deeper: [3, relu]", "Then [2, relu]"];
    let settings =
        GeniusSettings { model: Some("scripted".into()), principles: Principles::Off, ..GeniusSettings::default() };
    let model = Scripted(Mutex::new(replies.iter().map(|r| (*r).to_owned()).collect()));
    let genius = Genius::new(settings.resolve().unwrap(), Arc::new(model));
    let run = tmp.path().join("run");
    let space: Arc<dyn SearchSpace> = space;
    let outcome =
        Study::new(space.clone(), table, Box::new(genius)).budget(Budget::evaluations(3)).run_in(&run).await.unwrap();
    let texts: Vec<String> = outcome.trials.iter().map(|t| space.format(&t.arch)).collect();
    assert_eq!(texts, ["[1, tanh]", "[3, relu]", "[2, relu]"]);
    assert_eq!(outcome.trials[1].evaluation.as_ref().unwrap().metrics["test_acc"], 85.37, "recorded for reports");

    let recorded = Recorded::read(&run).unwrap();
    let calls = transcript::calls(&recorded.events);
    assert_eq!(calls.len(), 3);
    let all: String = calls.iter().flat_map(|c| c.request.messages.iter().map(|m| m.content.as_str())).collect();
    assert!(all.contains("81.5"), "the searched value of [1, tanh] is fed back:\n{all}");
    assert!(!all.contains(".37") && !all.contains("test_acc"), "no held-out value or name in any prompt:\n{all}");
}
