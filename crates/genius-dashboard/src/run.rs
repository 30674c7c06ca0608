//! A run: its header, status, every trial and its best-so-far curve; one trial's architecture page.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use genius_core::run_log::{RunHeader, TRIALS_FILE};
use genius_core::{Summary, Trial, TrialStatus, Visibility};
use genius_report::Run;
use genius_report::anytime::incumbents;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::index::{RunStatus, status};
use crate::{ApiError, Shared, relative, resolve};

/// A run read for a page: the report's reading of it (the same code as `genius report`) and its header.
pub(crate) struct Loaded {
    pub(crate) rel: String,
    pub(crate) dir: std::path::PathBuf,
    pub(crate) header: RunHeader,
    pub(crate) run: Run,
}

/// Reads the run at `rel` below the root: refused outside it, 404 where there is none.
pub(crate) fn load(shared: &Shared, rel: &str) -> Result<Loaded, ApiError> {
    let dir = resolve(&shared.root, rel)?;
    let rel = relative(&shared.root, &dir);
    if !dir.join(TRIALS_FILE).is_file() {
        return Err(ApiError::NoRun(rel));
    }
    let unreadable = |reason: String| ApiError::Unreadable { path: rel.clone(), reason };
    let header = read_header(&dir).map_err(unreadable)?;
    let run = Run::read(&dir).map_err(|e| unreadable(e.to_string()))?;
    Ok(Loaded { rel: rel.clone(), dir, header, run })
}

fn read_header(dir: &Path) -> Result<RunHeader, String> {
    let file = std::fs::File::open(dir.join(TRIALS_FILE)).map_err(|e| e.to_string())?;
    let mut line = String::new();
    std::io::BufReader::new(file).read_line(&mut line).map_err(|e| e.to_string())?;
    if !line.ends_with('\n') {
        return Err("its header line is not complete yet".into());
    }
    serde_json::from_str(&line).map_err(|e| format!("its header line does not parse: {e}"))
}

/// One trial as the run page shows it.
#[derive(Debug, Serialize)]
struct TrialRow {
    index: usize,
    ask: u64,
    text: String,
    status: &'static str,
    reason: Option<String>,
    counted: bool,
    search: Option<f64>,
    reported: Option<f64>,
    rank: Option<u64>,
    of: Option<u64>,
    params: Option<u64>,
    flops: Option<u64>,
    duration_s: f64,
    elapsed_s: f64,
}

pub(crate) fn status_name(t: &Trial) -> (&'static str, Option<String>) {
    match &t.status {
        TrialStatus::Complete => ("complete", None),
        TrialStatus::Duplicate { of } => ("duplicate", Some(format!("same as trial {of}"))),
        TrialStatus::Failed { reason } => ("failed", Some(reason.clone())),
        TrialStatus::Invalid { reason } => ("invalid", Some(reason.clone())),
    }
}

fn row(run: &Run, t: &Trial) -> TrialRow {
    let eval = t.evaluation.as_ref();
    let (status, reason) = status_name(t);
    TrialRow {
        index: t.index,
        ask: t.ask,
        text: t.text.clone(),
        status,
        reason,
        counted: t.counted,
        search: eval.and_then(|e| run.meta.objective.value(e)),
        reported: eval.and_then(|e| e.value(&run.meta.metrics.report)),
        rank: eval.and_then(|e| e.rank).map(|r| r.rank),
        of: eval.and_then(|e| e.rank).map(|r| r.of),
        params: eval.and_then(|e| e.params),
        flops: eval.and_then(|e| e.flops),
        duration_s: t.duration_s,
        elapsed_s: t.elapsed_s,
    }
}

fn summary(dir: &Path) -> Option<Summary> {
    serde_json::from_slice(&std::fs::read(dir.join(genius_core::run_log::SUMMARY_FILE)).ok()?).ok()
}

/// `GET /api/run/{path}`.
pub(crate) async fn run(
    State(shared): State<Arc<Shared>>,
    UrlPath(rel): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    tokio::task::spawn_blocking(move || run_json(&shared, &rel)).await.expect("reading never panics").map(Json)
}

fn run_json(shared: &Shared, rel: &str) -> Result<Value, ApiError> {
    let Loaded { rel, dir, header, run } = load(shared, rel)?;
    let report = run.meta.metrics.report_metric();
    let held_out = report.visibility == Visibility::Reported;
    let curve: Vec<Value> = incumbents(&run)
        .iter()
        .enumerate()
        .filter_map(|(k, inc)| {
            inc.as_ref().map(|i| {
                json!({ "evaluations": k + 1, "trial": i.trial, "search": i.search, "reported": i.reported,
                        "rank": i.rank.map(|r| r.rank) })
            })
        })
        .collect();
    let llm_calls = run.events.iter().filter(|e| e.event.kind == "llm_call").count();
    let usage = run.usage_through(u64::MAX);
    let st = if dir.parent().is_some_and(|p| failed_in_grid(p, &dir)) { RunStatus::Failed } else { status(&dir) };
    Ok(json!({
        "path": rel,
        "space": run.meta.space,
        "optimizer": run.meta.optimizer,
        "label": run.meta.label,
        "experiment": run.meta.experiment,
        "seed": run.meta.seed,
        "status": st,
        "created_at": header.created_at,
        "genius_version": header.genius_version,
        "optimizer_settings": header.optimizer.settings,
        "evaluator": header.evaluator,
        "budget": header.budget,
        "objective": run.meta.objective,
        "search_metric": run.meta.objective.metric,
        "report_metric": run.meta.metrics.report,
        "report_held_out": held_out,
        "metrics": run.meta.metrics.metrics,
        "trials": run.trials.iter().map(|t| row(&run, t)).collect::<Vec<_>>(),
        "evaluations": run.evaluations(),
        "curve": curve,
        "events": run.events.len(),
        "llm_calls": llm_calls,
        "usage": { "calls": usage.calls, "prompt_tokens": usage.prompt_tokens,
                   "completion_tokens": usage.completion_tokens, "cost_usd": usage.cost_usd },
        "optimum": run.optimum,
        "summary": summary(&dir),
    }))
}

/// Whether a grid above `dir` lists it in its `failures.json`.
fn failed_in_grid(start: &Path, dir: &Path) -> bool {
    start.ancestors().any(|a| {
        std::fs::read(a.join(genius_report::FAILURES_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<genius_report::FailedRun>>(&b).ok())
            .is_some_and(|f| f.iter().any(|f| a.join(&f.dir) == dir))
    })
}

/// The query of `GET /api/trial/{path}`.
#[derive(Debug, Deserialize)]
pub(crate) struct TrialQuery {
    index: usize,
}

/// `GET /api/trial/{path}?index=N`: the architecture page.
pub(crate) async fn trial(
    State(shared): State<Arc<Shared>>,
    UrlPath(rel): UrlPath<String>,
    Query(q): Query<TrialQuery>,
) -> Result<Json<Value>, ApiError> {
    tokio::task::spawn_blocking(move || trial_json(&shared, &rel, q.index))
        .await
        .expect("reading never panics")
        .map(Json)
}

fn trial_json(shared: &Shared, rel: &str, index: usize) -> Result<Value, ApiError> {
    let Loaded { rel, run, .. } = load(shared, rel)?;
    let Some(t) = run.trials.get(index) else {
        return Err(ApiError::NoTrial { run: rel, index, count: run.trials.len() });
    };
    let eval = t.evaluation.as_ref();
    // Its place in this run by the search metric (feasible trials with a result; 1 = best).
    let place = eval.and_then(|e| run.meta.objective.score(e)).map(|score| {
        let mut better = 0;
        let mut scored = 0;
        for other in run.trials.iter().filter(|o| o.counted) {
            if let Some(s) = other.evaluation.as_ref().and_then(|e| run.meta.objective.score(e)) {
                scored += 1;
                if s > score {
                    better += 1;
                }
            }
        }
        json!({ "place": better + 1, "of": scored })
    });
    let metrics: Vec<Value> = eval
        .map(|e| {
            e.metrics
                .iter()
                .map(|(name, value)| {
                    let m = run.meta.metrics.get(name);
                    json!({
                        "name": name, "value": value,
                        "held_out": m.is_some_and(|m| m.visibility == Visibility::Reported),
                        "searched": name == &run.meta.objective.metric,
                        "description": m.map(|m| m.description.clone()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let (status, reason) = status_name(t);
    let asked_with: Vec<usize> = run.trials.iter().filter(|o| o.ask == t.ask).map(|o| o.index).collect();
    Ok(json!({
        "run": rel,
        "space": run.meta.space,
        "index": t.index,
        "ask": t.ask,
        "text": t.text,
        "arch": t.arch,
        "status": status,
        "reason": reason,
        "counted": t.counted,
        "metrics": metrics,
        "rank": eval.and_then(|e| e.rank),
        "params": eval.and_then(|e| e.params),
        "flops": eval.and_then(|e| e.flops),
        "cost_s": eval.and_then(|e| e.cost_s),
        "details": eval.and_then(|e| e.details.clone()),
        "place_in_run": place,
        "proposed_with": asked_with,
        "llm_calls": run.events.iter().filter(|e| e.ask == t.ask && e.event.kind == "llm_call").count(),
        "started_at": t.started_at,
        "duration_s": t.duration_s,
    }))
}
