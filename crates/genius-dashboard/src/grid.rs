//! A grid: the report of a comparison's directory, computed by genius-report from the run logs as they are now (the
//! same code as `genius report`, so the same numbers as its `report.md`), without writing anything.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use genius_report::{ReportError, markdown, report_data, report_plots};
use serde_json::{Value, json};

use crate::{ApiError, Shared, relative, resolve};

/// `GET /api/grid/{path}`.
pub(crate) async fn grid(
    State(shared): State<Arc<Shared>>,
    UrlPath(rel): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    tokio::task::spawn_blocking(move || grid_json(&shared, &rel)).await.expect("reading never panics").map(Json)
}

fn grid_json(shared: &Shared, rel: &str) -> Result<Value, ApiError> {
    let dir = resolve(&shared.root, rel).map_err(|e| match e {
        ApiError::NoRun(r) => ApiError::NoGrid(r),
        e => e,
    })?;
    let rel = relative(&shared.root, &dir);
    let data = match report_data(&dir) {
        Ok(d) => d,
        Err(ReportError::NoRuns(_)) => return Err(ApiError::NoGrid(rel)),
        Err(e) => return Err(ApiError::Unreadable { path: rel, reason: e.to_string() }),
    };
    let plots = report_plots(&data).map_err(|e| ApiError::Unreadable { path: rel.clone(), reason: e.to_string() })?;
    // The report's text as `genius report` writes it, the plots inline rather than as links to files.
    let report = markdown::render(&data.info, &data.rows, &[], &data.failures, &data.stray);
    let rows: Vec<Value> = data
        .rows
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).expect("rows serialize");
            v["cell"] = json!(markdown::cell(r));
            v["values"] = json!(r.values);
            v
        })
        .collect();
    let runs: Vec<Value> = data
        .runs
        .iter()
        .map(|r| {
            json!({ "path": relative(&shared.root, &r.dir), "space": r.meta.space, "label": r.meta.label,
                    "seed": r.meta.seed, "evaluations": r.evaluations })
        })
        .collect();
    Ok(json!({
        "path": rel,
        "name": data.info.name,
        "description": data.info.description,
        "budgets": data.info.budgets,
        "baseline": data.info.baseline,
        "optimizers": data.info.optimizers,
        "rows": rows,
        "runs": runs,
        "failures": data.failures,
        "stray": data.stray,
        "report_md": report,
        "plots": plots.iter().map(|p| json!({ "space": p.space, "stem": p.stem, "svg": p.svg })).collect::<Vec<_>>(),
    }))
}
