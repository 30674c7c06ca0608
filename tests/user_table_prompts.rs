//! A user table in Parquet with a held-out column, searched by the GENIUS optimizer against a scripted model: the
//! held-out column's name and values reach no prompt, as for a CSV table (crates/genius-cli/tests/own_problem.rs).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use genius::core::{Budget, Evaluator, Recorded, SearchSpace, Study, Visibility, async_trait};
use genius::llm::chat::{ChatModel, ChatReply, ChatRequest, Exchange, ModelInfo, Source};
use genius::llm::settings::Principles;
use genius::llm::transcript::CallRecord;
use genius::llm::{Genius, GeniusSettings, LlmError};
use genius::spaces::space_file::FileSpace;
use genius::spaces::user_table::UserTable;

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

const SPACE: &str = r#"
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

#[tokio::test]
async fn a_held_out_parquet_column_reaches_no_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("space.toml"), SPACE).unwrap();
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
    let genius = Genius::new(settings, Arc::new(model)).unwrap();
    let run = tmp.path().join("run");
    let space: Arc<dyn SearchSpace> = space;
    let outcome =
        Study::new(space.clone(), table, Box::new(genius)).budget(Budget::evaluations(3)).run_in(&run).await.unwrap();
    let texts: Vec<String> = outcome.trials.iter().map(|t| space.format(&t.arch)).collect();
    assert_eq!(texts, ["[1, tanh]", "[3, relu]", "[2, relu]"]);
    assert_eq!(outcome.trials[1].evaluation.as_ref().unwrap().metrics["test_acc"], 85.37, "recorded for reports");

    let recorded = Recorded::read(&run).unwrap();
    let calls: Vec<CallRecord> = recorded
        .events
        .iter()
        .filter(|e| e.event.kind == "llm_call")
        .map(|e| serde_json::from_value(e.event.data.clone()).unwrap())
        .collect();
    assert_eq!(calls.len(), 3);
    let all: String = calls.iter().flat_map(|c| c.request.messages.iter().map(|m| m.content.as_str())).collect();
    assert!(all.contains("81.5"), "the searched value of [1, tanh] is fed back:\n{all}");
    assert!(!all.contains(".37") && !all.contains("test_acc"), "no held-out value or name in any prompt:\n{all}");
}
