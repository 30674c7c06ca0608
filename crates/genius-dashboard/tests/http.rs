//! Every endpoint over HTTP (the router driven by tower's `oneshot`): the list, a run, a trial, a conversation, a
//! grid with the same numbers as its report.md, the pages and assets (the conversation: tests/conversation.rs); a path out of the directory refused; a run
//! directory being appended while it is read (never half a line); an unknown run.

use std::io::Write;
use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use genius_dashboard::Dashboard;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

mod common;

async fn get(dashboard: &Dashboard, uri: &str) -> (StatusCode, String) {
    let response = dashboard.router().oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn get_json(dashboard: &Dashboard, uri: &str) -> Value {
    let (status, body) = get(dashboard, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn the_list_shows_runs_and_grids_filtered_and_paginated() {
    let tmp = tempfile::tempdir().unwrap();
    common::grid(&tmp.path().join("grid"), 3).await;
    let dashboard = Dashboard::new(tmp.path()).unwrap();
    let all = get_json(&dashboard, "/api/runs").await;
    assert_eq!(all["total"], 6);
    assert_eq!(all["grids"][0]["path"], "grid");
    assert_eq!(all["grids"][0]["name"], "toy grid");
    assert_eq!(all["grids"][0]["runs"], 6);
    assert_eq!(all["grids"][0]["by_status"]["finished"], 6);
    let run = &all["runs"][0];
    assert_eq!(run["space"], "toy");
    assert_eq!(run["status"], "finished");
    assert_eq!(run["trials"].as_u64().unwrap(), 8);
    assert!(run["best_search"].is_number() && run["best_reported"].is_number(), "{run}");
    assert_eq!(run["grid"], "grid");

    let filtered = get_json(&dashboard, "/api/runs?optimizer=uniform-b&per_page=2&page=2").await;
    assert_eq!(filtered["total"], 3);
    assert_eq!(filtered["pages"], 2);
    assert_eq!(filtered["runs"].as_array().unwrap().len(), 1);
    assert!(filtered["runs"][0]["path"].as_str().unwrap().contains("uniform-b"));
    let none = get_json(&dashboard, "/api/runs?status=running").await;
    assert_eq!(none["total"], 0);
    let by_text = get_json(&dashboard, "/api/runs?q=SEED-1").await;
    assert_eq!(by_text["total"], 2);
}

#[tokio::test]
async fn a_run_its_trials_and_an_architecture() {
    let tmp = tempfile::tempdir().unwrap();
    common::grid(&tmp.path().join("grid"), 1).await;
    let dashboard = Dashboard::new(tmp.path()).unwrap();
    let run = get_json(&dashboard, "/api/run/grid/toy/uniform/seed-0").await;
    assert_eq!(run["status"], "finished");
    assert_eq!(run["label"]["optimizer"], "uniform");
    let trials = run["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 8);
    assert_eq!(run["search_metric"], "val_acc");
    assert_eq!(run["report_metric"], "test_acc");
    assert_eq!(run["report_held_out"], true);
    // The curve never gets worse, and ends at the best trial's value.
    let curve: Vec<f64> = run["curve"].as_array().unwrap().iter().map(|c| c["search"].as_f64().unwrap()).collect();
    assert!(curve.windows(2).all(|w| w[1] >= w[0]), "{curve:?}");
    let best = trials.iter().filter_map(|t| t["search"].as_f64()).fold(f64::MIN, f64::max);
    assert_eq!(*curve.last().unwrap(), best);

    let index = run["curve"].as_array().unwrap().last().unwrap()["trial"].as_u64().unwrap();
    let trial = get_json(&dashboard, &format!("/api/trial/grid/toy/uniform/seed-0?index={index}")).await;
    assert_eq!(trial["index"], index);
    assert_eq!(trial["place_in_run"]["place"], 1);
    let metrics = trial["metrics"].as_array().unwrap();
    let test = metrics.iter().find(|m| m["name"] == "test_acc").unwrap();
    assert_eq!(test["held_out"], true);
    let val = metrics.iter().find(|m| m["name"] == "val_acc").unwrap();
    assert_eq!(val["searched"], true);
    assert!(trial["rank"]["of"].as_u64().unwrap() > 0 && trial["params"].is_number(), "{trial}");

    let (status, body) = get(&dashboard, "/api/trial/grid/toy/uniform/seed-0?index=99").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("has no trial 99 (it has 8)"), "{body}");
}

#[tokio::test]
async fn an_unknown_run_is_a_404_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("empty")).unwrap();
    let dashboard = Dashboard::new(tmp.path()).unwrap();
    for uri in ["/api/run/nowhere/seed-0", "/api/run/empty", "/api/conversation/nowhere", "/api/trial/empty?index=0"] {
        let (status, body) = get(&dashboard, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(error["error"].as_str().unwrap().contains("no run at `"), "{uri}: {body}");
    }
    let (status, body) = get(&dashboard, "/api/grid/empty").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no grid at `empty`"), "{body}");
    let (status, _) = get(&dashboard, "/api/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn paths_outside_the_directory_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let inside = tmp.path().join("inside");
    common::grid(&tmp.path().join("outside"), 1).await;
    std::fs::create_dir_all(&inside).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(tmp.path().join("outside"), inside.join("link")).unwrap();
    let dashboard = Dashboard::new(&inside).unwrap();
    let mut refused = vec![
        "/api/run/../outside/toy/uniform/seed-0".to_owned(),
        "/api/run/..%2Foutside%2Ftoy%2Funiform%2Fseed-0".to_owned(),
        "/api/grid/../outside".to_owned(),
        "/api/conversation/%2Fetc".to_owned(),
        "/api/trial/a/../../outside/toy/uniform/seed-0?index=0".to_owned(),
    ];
    if cfg!(unix) {
        refused.push("/api/run/link/toy/uniform/seed-0".to_owned());
    }
    for uri in &refused {
        let (status, body) = get(&dashboard, uri).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {body}");
        assert!(body.contains("is outside the dashboard's directory"), "{uri}: {body}");
    }
    // Nor does the list follow the link out.
    let list = get_json(&dashboard, "/api/runs").await;
    assert_eq!(list["total"], 0, "{list}");
}

#[tokio::test]
async fn a_run_being_written_never_shows_half_a_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("live");
    let mut writer = common::Writer::start(&dir);
    let dashboard = Dashboard::new(tmp.path()).unwrap();
    let run = get_json(&dashboard, "/api/run/live").await;
    assert_eq!(run["trials"].as_array().unwrap().len(), 0);
    assert_eq!(run["status"], "running", "the writer (this process) holds the run");
    for _ in 0..3 {
        writer.append().await;
    }
    // Half of the next line, as a writer caught mid-write leaves it.
    let next = writer.next_line().await;
    let half = &next.as_bytes()[..next.len() / 2];
    let path = dir.join("trials.jsonl");
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(half).unwrap();
    let run = get_json(&dashboard, "/api/run/live").await;
    assert_eq!(run["trials"].as_array().unwrap().len(), 3);
    let list = get_json(&dashboard, "/api/runs").await;
    assert_eq!(list["runs"][0]["trials"], 3);
    assert_eq!(list["runs"][0]["status"], "running");
    // The rest of the line arrives: now there are four, in the list's cache too.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(&next.as_bytes()[next.len() / 2..])
        .unwrap();
    let run = get_json(&dashboard, "/api/run/live").await;
    assert_eq!(run["trials"].as_array().unwrap().len(), 4);
    let list = get_json(&dashboard, "/api/runs").await;
    assert_eq!(list["runs"][0]["trials"], 4);
    drop(writer);
}

#[tokio::test]
async fn a_grid_shows_the_numbers_of_its_report() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("grid");
    common::grid(&root, 3).await;
    let dashboard = Dashboard::new(tmp.path()).unwrap();
    let grid = get_json(&dashboard, "/api/grid/grid").await;
    // Nothing written by the dashboard: report.md is written below by `genius report`'s code, and compared.
    assert!(!root.join("report.md").exists());
    let files = genius_report::write_report(&root).unwrap();
    let report = std::fs::read_to_string(&files.report).unwrap();
    let rows = grid["rows"].as_array().unwrap();
    assert_eq!(rows.len(), files.rows.len());
    for (shown, written) in rows.iter().zip(&files.rows) {
        let cell = shown["cell"].as_str().unwrap();
        assert_eq!(cell, genius_report::markdown::cell(written));
        assert!(report.contains(cell), "{cell} is not in report.md:\n{report}");
    }
    // The dashboard's text is report.md's, but for the plot links (its plots are inline).
    let shown = grid["report_md"].as_str().unwrap();
    for line in report.lines().filter(|l| l.starts_with('|')) {
        assert!(shown.contains(line), "{line}");
    }
    let plots = grid["plots"].as_array().unwrap();
    assert_eq!(plots.len(), 2);
    assert!(plots[0]["svg"].as_str().unwrap().starts_with("<svg"));
    assert_eq!(grid["runs"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn the_pages_and_their_assets_are_served_from_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let dashboard = Dashboard::new(tmp.path()).unwrap();
    for uri in ["/", "/run/a/b", "/trial/a?index=1", "/conversation/x", "/grid/g"] {
        let (status, body) = get(&dashboard, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(body.contains("<script src=\"/assets/app.js\">"), "{uri}");
        assert!(!body.contains("http://") && !body.contains("https://"), "no CDN: {uri}");
    }
    let (status, js) = get(&dashboard, "/assets/app.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(js.contains("#0072b2"), "the colour-blind-safe palette");
    let (status, _) = get(&dashboard, "/assets/style.css").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(&dashboard, "/assets/../../etc/passwd").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let e = Dashboard::new(Path::new("/no/such/genius/runs")).unwrap_err();
    assert!(e.to_string().contains("cannot show /no/such/genius/runs"), "{e}");
}
