//! The GENIUS paper's published GPT-4 results as reference rows of a comparison's report: an experiment's
//! `reference = "genius-paper-results-v1.json"` (a file of the data directory, transcribed from arXiv v1) adds, for
//! each space of the plan, the paper's numbers beside the rerun, marked as published and never pooled with it.

use anyhow::{Context, Result};
use genius_report::ReferenceRow;
use serde_json::Value;

const SOURCE: &str = "GENIUS paper (arXiv 2304.10970 v1)";

/// The best of the first `budget` iterations of a trial (`acc` and `rank` per iteration; `null` where GPT-4 said it
/// could not improve): the value and its rank.
fn best(trial: &Value, budget: usize) -> Option<(f64, Option<u64>)> {
    let acc = trial["acc"].as_array()?;
    let rank = trial["rank"].as_array();
    acc.iter()
        .take(budget)
        .enumerate()
        .filter_map(|(i, v)| Some((v.as_f64()?, rank.and_then(|r| r.get(i)?.as_u64()))))
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

fn row(space: &str, label: &str, results: Vec<(f64, Option<u64>)>, of: u64) -> Option<ReferenceRow> {
    (!results.is_empty()).then(|| ReferenceRow {
        space: space.to_owned(),
        label: label.to_owned(),
        budget: 10,
        values: results.iter().map(|r| r.0).collect(),
        ranks: results.iter().filter_map(|r| r.1).collect(),
        of: Some(of),
        source: SOURCE.to_owned(),
    })
}

/// The reference rows of the paper's results `paper` for the spaces `spaces`.
pub fn rows(paper: &Value, spaces: &[String]) -> Vec<ReferenceRow> {
    let mut out = Vec::new();
    let trials = |v: &Value| -> Vec<Value> {
        v.as_object()
            .map(|o| o.iter().filter(|(k, _)| k.starts_with("trial")).map(|(_, t)| t.clone()).collect())
            .unwrap_or_default()
    };
    for space in spaces {
        match space.as_str() {
            "nas-bench-macro" => {
                for (key, t) in [("temperature_0", "0"), ("temperature_1", "1")] {
                    let results = trials(&paper["nas_bench_macro"][key]).iter().filter_map(|tr| best(tr, 10)).collect();
                    out.extend(row(space, &format!("GENIUS (paper, GPT-4, T={t})"), results, 6561));
                }
            }
            "channel-bench-macro-resnet" | "channel-bench-macro-mobilenet" => {
                let key = if space.ends_with("resnet") { "resnet_temperature_0" } else { "mobilenet_temperature_0" };
                let results = best(&paper["channel_bench_macro"][key], 10).into_iter().collect();
                out.extend(row(space, "GENIUS (paper, GPT-4, T=0)", results, 16384));
            }
            "nas-bench-201-cifar10" | "nas-bench-201-cifar100" | "nas-bench-201-imagenet16-120" => {
                let key = match space.as_str() {
                    "nas-bench-201-cifar10" => "cifar10",
                    "nas-bench-201-cifar100" => "cifar100",
                    _ => "imagenet16_120",
                };
                // The test accuracy and rank of the architecture with the best validation accuracy, as published.
                let results = trials(&paper["nas_bench_201_temperature_0"][key])
                    .iter()
                    .filter_map(|tr| Some((tr["test"].as_f64()?, tr["rank"].as_u64())))
                    .collect();
                out.extend(row(space, "GENIUS (paper, GPT-4, T=0)", results, 15625));
            }
            _ => {}
        }
    }
    out
}

/// The paper's results file `name` (relative to the data directory `data`, or absolute), read; `None` with a warning
/// when it is not there (the file is a transcription that genius does not ship).
pub fn read(name: &std::path::Path, data: &std::path::Path) -> Result<Option<Value>> {
    let path = if name.is_absolute() { name.to_owned() } else { data.join(name) };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "warning: the reference results {} are not there; the report has no reference rows",
                path.display()
            );
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_s_result_is_its_best_within_the_budget_and_null_iterations_are_skipped() {
        let trial = serde_json::json!({"acc": [90.0, 92.5, null, 92.1], "rank": [3000, 300, null, 500]});
        assert_eq!(best(&trial, 10), Some((92.5, Some(300))));
        assert_eq!(best(&trial, 1), Some((90.0, Some(3000))));
        let paper = serde_json::json!({"nas_bench_macro": {"temperature_0": {"trial1": trial, "trial2": {"acc": [91.0], "rank": [900]}}}});
        let rows = rows(&paper, &["nas-bench-macro".to_owned(), "toy".to_owned()]);
        assert_eq!(rows.len(), 1, "T=1 has no trials here, the toy space no reference");
        assert_eq!(rows[0].values, [92.5, 91.0]);
        assert_eq!(rows[0].ranks, [300, 900]);
    }
}
