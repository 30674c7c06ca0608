//! The list of runs and grids below the directory: each run's header, status, trial count and best so far, kept in a
//! cache that reads only what was appended since the last look (a listing of 15,000 runs stays under a second).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Json;
use axum::extract::{Query, State};
use genius_core::Trial;
use genius_core::run_log::{LOCK_FILE, RunHeader, SUMMARY_FILE, TRIALS_FILE};
use genius_report::{FAILURES_FILE, FailedRun, GRID_FILE, GridInfo};
use serde::{Deserialize, Serialize};

use crate::{Shared, relative};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// A live process holds its directory and it has no summary yet.
    Running,
    /// It wrote its summary (its budget is spent, or its optimizer or space ran out).
    Finished,
    /// It stopped without finishing (Ctrl-C, a kill, a crash): no live writer and no summary, or a summary saying it
    /// was interrupted. `genius resume` goes on with it.
    Interrupted,
    /// Its grid lists it as failed (`failures.json`), or its log cannot be read.
    Failed,
}

/// The filters and page of `GET /api/runs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    /// Only runs whose path, space or optimizer contains this text (case-insensitive).
    pub q: Option<String>,
    /// Only this space.
    pub space: Option<String>,
    /// Only this optimizer (registered name or comparison label).
    pub optimizer: Option<String>,
    /// Only this status.
    pub status: Option<RunStatus>,
    /// The page, from 1.
    pub page: Option<usize>,
    /// Runs per page (default 100, at most 1000).
    pub per_page: Option<usize>,
}

/// One run in the list.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunRow {
    path: String,
    space: String,
    optimizer: String,
    label: String,
    seed: Option<u64>,
    status: RunStatus,
    trials: usize,
    evaluations: usize,
    search_metric: String,
    best_search: Option<f64>,
    report_metric: String,
    best_reported: Option<f64>,
    best_arch: String,
    grid: Option<String>,
    error: Option<String>,
}

/// One grid (a directory with `grid.json`) in the list.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct GridRow {
    path: String,
    name: String,
    runs: usize,
    by_status: BTreeMap<String, usize>,
}

/// `GET /api/runs`.
#[derive(Debug, Serialize)]
pub(crate) struct Listing {
    root: String,
    total: usize,
    page: usize,
    per_page: usize,
    pages: usize,
    runs: Vec<RunRow>,
    grids: Vec<GridRow>,
    spaces: Vec<String>,
    optimizers: Vec<String>,
}

/// What the cache remembers of a run: enough to list it without reading its trials again.
#[derive(Debug, Clone, Default)]
struct Entry {
    len: u64,
    modified: Option<SystemTime>,
    /// Bytes of `trials.jsonl` read: up to the end of its last complete line.
    offset: u64,
    header: Option<RunHeader>,
    label: String,
    trials: usize,
    evaluations: usize,
    best: Option<(f64, f64, Option<f64>, String)>,
    error: Option<String>,
}

impl Entry {
    /// Reads what was appended to `dir/trials.jsonl` since the last look (everything when it shrank or is new).
    fn refresh(&mut self, dir: &Path) {
        let path = dir.join(TRIALS_FILE);
        let Ok(meta) = std::fs::metadata(&path) else {
            self.error = Some(format!("{} is gone", path.display()));
            return;
        };
        let modified = meta.modified().ok();
        if meta.len() == self.len && modified == self.modified && self.header.is_some() {
            return;
        }
        if meta.len() < self.offset || self.header.is_none() {
            *self = Self::default();
        }
        self.len = meta.len();
        self.modified = modified;
        let mut bytes = Vec::new();
        let read = File::open(&path).and_then(|mut f| {
            f.seek(SeekFrom::Start(self.offset))?;
            f.take(meta.len() - self.offset).read_to_end(&mut bytes)
        });
        if let Err(e) = read {
            self.error = Some(format!("cannot read {}: {e}", path.display()));
            return;
        }
        // Only newline-terminated lines: a line being written is read on a later look. The offset moves past each
        // line read, so a damaged line stops the reading there (and is named) without counting anything twice.
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let mut start = 0;
        while start < complete {
            let end = start + bytes[start..complete].iter().position(|&b| b == b'\n').expect("complete lines");
            let line = &bytes[start..end];
            if !line.iter().all(u8::is_ascii_whitespace)
                && let Err(e) = self.read_line(line)
            {
                let number = if self.header.is_some() { self.trials + 2 } else { 1 };
                self.error = Some(format!("{} line {number} {e}", path.display()));
                return;
            }
            self.offset += (end + 1 - start) as u64;
            start = end + 1;
        }
    }

    /// Reads one complete line: the header first, then trials.
    fn read_line(&mut self, line: &[u8]) -> Result<(), String> {
        let Some(h) = &self.header else {
            let h: RunHeader =
                serde_json::from_slice(line).map_err(|e| format!("is not a readable run header ({e})"))?;
            self.label = h
                .context
                .get("compare")
                .and_then(|c| c.get("optimizer"))
                .and_then(|o| o.as_str())
                .unwrap_or(&h.optimizer.name)
                .to_owned();
            self.header = Some(h);
            return Ok(());
        };
        let t: Trial = serde_json::from_slice(line).map_err(|e| format!("is damaged ({e})"))?;
        self.trials += 1;
        if t.counted {
            self.evaluations += 1;
        }
        let Some(eval) = t.evaluation.as_ref() else { return Ok(()) };
        let Some(score) = h.objective.score(eval) else { return Ok(()) };
        if self.best.as_ref().is_none_or(|b| score > b.0) {
            let search = h.objective.value(eval).unwrap_or(f64::NAN);
            let reported = eval.value(&h.metrics.report);
            self.best = Some((score, search, reported, t.text));
        }
        Ok(())
    }
}

/// The cache of run entries, keyed by run directory.
pub(crate) struct Index {
    root: PathBuf,
    entries: Mutex<HashMap<PathBuf, Entry>>,
}

impl Index {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root, entries: Mutex::new(HashMap::new()) }
    }

    /// Every run below the root, brought up to date, with the grids they belong to.
    pub(crate) fn list(&self, query: &ListQuery) -> Listing {
        let dirs = find_runs(&self.root);
        let mut cached: Vec<(PathBuf, Entry)> = {
            let mut entries = self.entries.lock().expect("the cache is never poisoned");
            dirs.iter().map(|d| (d.clone(), entries.remove(d).unwrap_or_default())).collect()
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let chunk = cached.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for part in cached.chunks_mut(chunk) {
                s.spawn(move || part.iter_mut().for_each(|(dir, e)| e.refresh(dir)));
            }
        });

        // Grids: directories with grid.json holding some of the runs; their failures.json marks runs failed.
        let mut grid_of: HashMap<PathBuf, Option<PathBuf>> = HashMap::new();
        let mut grids: BTreeMap<PathBuf, (GridInfo, Vec<PathBuf>)> = BTreeMap::new();
        let mut failed: std::collections::HashSet<PathBuf> = Default::default();
        let mut rows = Vec::with_capacity(cached.len());
        for (dir, e) in &cached {
            let grid = dir.ancestors().skip(1).take_while(|a| a.starts_with(&self.root)).find_map(|a| {
                grid_of
                    .entry(a.to_owned())
                    .or_insert_with(|| {
                        let info: GridInfo = serde_json::from_slice(&std::fs::read(a.join(GRID_FILE)).ok()?).ok()?;
                        let failures: Vec<FailedRun> = std::fs::read(a.join(FAILURES_FILE))
                            .ok()
                            .and_then(|b| serde_json::from_slice(&b).ok())
                            .unwrap_or_default();
                        failed.extend(failures.iter().map(|f| a.join(&f.dir)));
                        grids.insert(a.to_owned(), (info, Vec::new()));
                        Some(a.to_owned())
                    })
                    .clone()
            });
            if let Some(g) = &grid {
                grids.get_mut(g).expect("inserted with it").1.push(dir.clone());
            }
            let status = if e.error.is_some() || failed.contains(dir) { RunStatus::Failed } else { status(dir) };
            let h = e.header.as_ref();
            rows.push(RunRow {
                path: relative(&self.root, dir),
                space: h.map(|h| h.space.clone()).unwrap_or_default(),
                optimizer: h.map(|h| h.optimizer.name.clone()).unwrap_or_default(),
                label: e.label.clone(),
                seed: h.map(|h| h.seed),
                status,
                trials: e.trials,
                evaluations: e.evaluations,
                search_metric: h.map(|h| h.objective.metric.clone()).unwrap_or_default(),
                best_search: e.best.as_ref().map(|b| b.1),
                report_metric: h.map(|h| h.metrics.report.clone()).unwrap_or_default(),
                best_reported: e.best.as_ref().and_then(|b| b.2),
                best_arch: e.best.as_ref().map(|b| b.3.clone()).unwrap_or_default(),
                grid: grid.as_ref().map(|g| relative(&self.root, g)),
                error: e.error.clone(),
            });
        }
        self.entries.lock().expect("the cache is never poisoned").extend(cached);

        let by_path: HashMap<&str, RunStatus> = rows.iter().map(|r| (r.path.as_str(), r.status)).collect();
        let grid_rows = grids
            .iter()
            .map(|(dir, (info, runs))| {
                let mut by_status = BTreeMap::new();
                for r in runs {
                    let s = by_path[relative(&self.root, r).as_str()];
                    *by_status.entry(serde_json::to_value(s).unwrap().as_str().unwrap().to_owned()).or_insert(0) += 1;
                }
                GridRow { path: relative(&self.root, dir), name: info.name.clone(), runs: runs.len(), by_status }
            })
            .collect();
        let mut spaces: Vec<String> = rows.iter().map(|r| r.space.clone()).collect();
        spaces.sort();
        spaces.dedup();
        let mut optimizers: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
        optimizers.sort();
        optimizers.dedup();

        let q = query.q.as_deref().map(str::to_lowercase).filter(|q| !q.is_empty());
        let keep = |r: &RunRow| {
            q.as_ref().is_none_or(|q| {
                [&r.path, &r.space, &r.optimizer, &r.label].iter().any(|s| s.to_lowercase().contains(q.as_str()))
            }) && query.space.as_ref().filter(|s| !s.is_empty()).is_none_or(|s| &r.space == s)
                && query.optimizer.as_ref().filter(|o| !o.is_empty()).is_none_or(|o| &r.optimizer == o || &r.label == o)
                && query.status.is_none_or(|s| r.status == s)
        };
        let matching: Vec<RunRow> = rows.into_iter().filter(keep).collect();
        let per_page = query.per_page.unwrap_or(100).clamp(1, 1000);
        let pages = matching.len().div_ceil(per_page).max(1);
        let page = query.page.unwrap_or(1).clamp(1, pages);
        let total = matching.len();
        let runs = matching.into_iter().skip((page - 1) * per_page).take(per_page).collect();
        Listing {
            root: self.root.display().to_string(),
            total,
            page,
            per_page,
            pages,
            runs,
            grids: grid_rows,
            spaces,
            optimizers,
        }
    }
}

/// Every run directory below `root` (or `root` itself), in path order. Symbolic links are not followed: what is
/// shown stays below the root.
fn find_runs(root: &Path) -> Vec<PathBuf> {
    if root.join(TRIALS_FILE).is_file() {
        return vec![root.to_owned()];
    }
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let path = entry.path();
                if path.join(TRIALS_FILE).is_file() {
                    found.push(path);
                } else {
                    stack.push(path);
                }
            }
        }
    }
    found.sort();
    found
}

/// The status of the run in `dir` from its summary and its lock file (read, never locked).
pub(crate) fn status(dir: &Path) -> RunStatus {
    if let Ok(bytes) = std::fs::read(dir.join(SUMMARY_FILE)) {
        let interrupted = serde_json::from_slice::<genius_core::Summary>(&bytes)
            .is_ok_and(|s| s.stop == genius_core::StopReason::Interrupted);
        return if interrupted { RunStatus::Interrupted } else { RunStatus::Finished };
    }
    if writer_alive(dir) { RunStatus::Running } else { RunStatus::Interrupted }
}

/// Whether the process whose pid the lock file holds is alive. The lock itself is never taken: a reader must not
/// keep a writer out. Where processes cannot be looked up, a log changed in the last two minutes counts as live.
fn writer_alive(dir: &Path) -> bool {
    let Some(pid) = std::fs::read_to_string(dir.join(LOCK_FILE)).ok().and_then(|s| s.trim().parse::<u32>().ok()) else {
        return false;
    };
    if cfg!(target_os = "linux") {
        return Path::new("/proc").join(pid.to_string()).exists();
    }
    std::fs::metadata(dir.join(TRIALS_FILE))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age.as_secs() < 120)
}

/// `GET /api/runs`.
pub(crate) async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<ListQuery>) -> Json<Listing> {
    let listing = tokio::task::spawn_blocking(move || shared.index.list(&query)).await.expect("listing never panics");
    Json(listing)
}
