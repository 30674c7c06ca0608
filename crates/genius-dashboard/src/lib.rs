//! `genius dashboard`: a live, read-only web view of the run and grid directories below one directory.
//!
//! The server reads what genius writes (`trials.jsonl`, `events.jsonl`, `summary.json`, `grid.json`) and nothing
//! else: it never takes a run directory's lock, never writes below its directory, and never shows a half-written last
//! line (a line counts once its newline is on disk). Pages are plain HTML, CSS and JavaScript embedded in the binary
//! (no CDN, no JavaScript build step); every plot is drawn in the browser from the JSON endpoints, except a grid's,
//! which are the report's own SVGs (the same code as `genius report`, so the same numbers).
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /api/runs?q=&space=&optimizer=&status=&page=&per_page=` | runs and grids below the directory, filtered, paginated |
//! | `GET /api/run/{path}` | a run: header, status, every trial, the best-so-far curve |
//! | `GET /api/trial/{path}?index=N` | one trial's architecture, metrics and rank in its run |
//! | `GET /api/conversation/{path}` | an LLM run's model calls, in order, with diffs, repairs and trials |
//! | `GET /api/grid/{path}` | a grid's report: rows, cells, `report.md`'s text and its plots |
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let dashboard = genius_dashboard::Dashboard::new(std::path::Path::new("runs"))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! dashboard.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod assets;
mod conversation;
mod grid;
mod index;
mod run;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use index::{ListQuery, RunStatus};

/// Why the dashboard cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DashboardError {
    /// The directory to show cannot be read.
    #[error("cannot show {path}: {cause}; give a directory that holds run or grid directories")]
    Root {
        /// The directory.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The directory to show is not a directory.
    #[error("{0} is not a directory; give the directory that holds run or grid directories (e.g. runs/)")]
    NotADirectory(PathBuf),
}

/// A request the dashboard refuses or cannot answer; sent as `{"error": "..."}` with its status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("`{0}` is outside the dashboard's directory; only directories below it can be shown")]
    Outside(String),
    #[error("no run at `{0}` (no trials.jsonl there); the list at / shows every run below the dashboard's directory")]
    NoRun(String),
    #[error("no grid at `{0}` (no run directories there or below it); the list at / shows every grid")]
    NoGrid(String),
    #[error("run `{run}` has no trial {index} (it has {count})")]
    NoTrial { run: String, index: usize, count: usize },
    #[error("cannot read `{path}`: {reason}")]
    Unreadable { path: String, reason: String },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Outside(_) => StatusCode::FORBIDDEN,
            Self::NoRun(_) | Self::NoGrid(_) | Self::NoTrial { .. } => StatusCode::NOT_FOUND,
            Self::Unreadable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        };
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}

pub(crate) struct Shared {
    /// The directory shown, canonical.
    root: PathBuf,
    index: index::Index,
}

/// The dashboard of one directory: build its [`Router`] and serve it.
#[derive(Clone)]
pub struct Dashboard {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard").field("root", &self.shared.root).finish_non_exhaustive()
    }
}

impl Dashboard {
    /// A dashboard of the runs and grids below `root` (a run directory itself works too).
    pub fn new(root: &Path) -> Result<Self, DashboardError> {
        let canonical = root.canonicalize().map_err(|cause| DashboardError::Root { path: root.to_owned(), cause })?;
        if !canonical.is_dir() {
            return Err(DashboardError::NotADirectory(root.to_owned()));
        }
        Ok(Self { shared: Arc::new(Shared { index: index::Index::new(canonical.clone()), root: canonical }) })
    }

    /// The directory shown (canonical).
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// Lists the runs and grids below the directory, as `GET /api/runs` does (for benchmarks and tests).
    pub fn list(&self, query: &ListQuery) -> serde_json::Value {
        serde_json::to_value(self.shared.index.list(query)).expect("listings serialize")
    }

    /// Serves the dashboard on `listener` until `shutdown` completes.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router()).with_graceful_shutdown(shutdown).await
    }

    /// The routes: the pages, their assets and the JSON endpoints.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(assets::page))
            .route("/run/{*path}", get(assets::page))
            .route("/trial/{*path}", get(assets::page))
            .route("/conversation/{*path}", get(assets::page))
            .route("/grid/{*path}", get(assets::page))
            .route("/assets/{name}", get(assets::asset))
            .route("/api/runs", get(index::list))
            .route("/api/run/{*path}", get(run::run))
            .route("/api/trial/{*path}", get(run::trial))
            .route("/api/conversation/{*path}", get(conversation::conversation))
            .route("/api/grid/{*path}", get(grid::grid))
            .fallback(|uri: axum::http::Uri| async move {
                let error = format!("nothing at {uri}; the pages are /, /run/DIR, /grid/DIR, /conversation/DIR");
                (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": error })))
            })
            .with_state(self.shared.clone())
    }
}

/// Resolves `rel` (a path relative to the root, as it appears in a URL) to a directory below the root, refusing
/// anything that would leave it (`..`, an absolute path, a symbolic link pointing out).
pub(crate) fn resolve(root: &Path, rel: &str) -> Result<PathBuf, ApiError> {
    let rel = rel.trim_end_matches('/');
    let path = Path::new(rel);
    if !path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(ApiError::Outside(rel.to_owned()));
    }
    let joined = root.join(path);
    let canonical = match joined.canonicalize() {
        Ok(c) => c,
        Err(_) => return Err(ApiError::NoRun(rel.to_owned())),
    };
    if !canonical.starts_with(root) {
        return Err(ApiError::Outside(rel.to_owned()));
    }
    Ok(canonical)
}

/// `dir` relative to `root`, with `/` separators, as URLs carry it (`.` for the root itself).
pub(crate) fn relative(root: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if parts.is_empty() { ".".to_owned() } else { parts.join("/") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolving_refuses_paths_that_leave_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        assert_eq!(resolve(&root, "a/b").unwrap(), root.join("a/b"));
        assert_eq!(resolve(&root, "./a/").unwrap(), root.join("a"));
        for bad in ["../x", "a/../../x", "/etc", "a/b/../../.."] {
            assert!(matches!(resolve(&root, bad), Err(ApiError::Outside(_))), "{bad}");
        }
        assert!(matches!(resolve(&root, "a/missing"), Err(ApiError::NoRun(_))));
        assert_eq!(relative(&root, &root.join("a/b")), "a/b");
        assert_eq!(relative(&root, &root), ".");
    }
}
