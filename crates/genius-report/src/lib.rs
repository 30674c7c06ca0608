//! Reports for genius studies, built from run directories alone: the incumbent after every evaluation, statistics
//! over seeds, `summary.csv` and `trials.csv` (readable by pandas as they are), `report.md` in the paper's style
//! (`93.05 (rank 8 / 6561)`, mean ± std, pairwise tests, ablation tables), and plots (SVG and PNG).
//!
//! ```no_run
//! let files = genius_report::write_report(std::path::Path::new("runs/quickstart"))?;
//! println!("{}", files.report.display());
//! # Ok::<(), genius_report::ReportError>(())
//! ```

pub mod anytime;
pub mod attainment;
pub mod digest;
pub mod markdown;
pub mod plot;
pub mod runs;
pub mod stats;
pub mod summary;
pub mod trials_table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use digest::RunDigest;
pub use runs::{AblationPoint, Run, RunLabel, RunMeta};
pub use summary::SummaryRow;

/// The file a comparison writes at its root to describe itself to the report.
pub const GRID_FILE: &str = "grid.json";
/// The file a comparison writes at its root when runs failed: a JSON list of [`FailedRun`].
pub const FAILURES_FILE: &str = "failures.json";

/// A run of a comparison that failed (a fatal evaluator, a dead model endpoint, an optimizer error), left out of the
/// statistics and listed in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedRun {
    /// Its run directory, relative to the comparison's directory.
    pub dir: PathBuf,
    /// The space.
    pub space: String,
    /// Its labels in the comparison.
    pub label: RunLabel,
    /// The seed.
    pub seed: u64,
    /// Why it failed.
    pub reason: String,
}

/// A report that cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A run log could not be read.
    #[error(transparent)]
    RunLog(#[from] genius_core::run_log::RunLogError),
    /// An IO error on a path.
    #[error("{path}: {cause}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// A CSV file could not be written.
    #[error("cannot write {path}: {reason}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A plot could not be drawn.
    #[error("cannot draw a plot: {0}")]
    Plot(String),
    /// There is nothing to report.
    #[error("{0} holds no run directories (no trials.jsonl in it or below it)")]
    NoRuns(PathBuf),
    /// Two runs carry the same labels, so they would be counted as two seeds.
    #[error(
        "{first} and {second} are the same run ({what}); a report counts each seed once: move one of them out of \
         the directory"
    )]
    Duplicate {
        /// The first run directory.
        first: PathBuf,
        /// The second.
        second: PathBuf,
        /// The labels they share.
        what: String,
    },
    /// `grid.json` is damaged.
    #[error("{path} is damaged ({reason})")]
    Grid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl ReportError {
    fn csv(path: &Path, e: csv::Error) -> Self {
        Self::Csv { path: path.to_owned(), reason: e.to_string() }
    }
}

/// An ablation as the comparison declared it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AblationInfo {
    /// Its name.
    pub name: String,
    /// The optimizer label it varies.
    pub optimizer: String,
    /// The setting varied.
    pub setting: String,
    /// The values, in the config's order, as written there.
    pub values: Vec<String>,
}

/// Published results shown beside a comparison's own, marked as such and never pooled with its runs (e.g. the
/// numbers the GENIUS paper reports for GPT-4).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferenceRow {
    /// The space.
    pub space: String,
    /// What ran, e.g. `GENIUS (paper, GPT-4, T=0)`.
    pub label: String,
    /// The budget the result was reached within.
    pub budget: usize,
    /// The reported metric of each trial's result.
    pub values: Vec<f64>,
    /// Each trial's rank in the benchmark table (1 = best), where published.
    pub ranks: Vec<u64>,
    /// The table's size.
    pub of: Option<u64>,
    /// Where the numbers come from.
    pub source: String,
}

/// What a comparison tells its report (`grid.json`): names, orders, budgets, the config and the machine.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GridInfo {
    /// The experiment's name.
    pub name: String,
    /// What it is for, in a sentence or two.
    pub description: String,
    /// The budgets to report at.
    pub budgets: Vec<usize>,
    /// Spaces, in the config's order.
    pub spaces: Vec<String>,
    /// Optimizer labels, in the config's order.
    pub optimizers: Vec<String>,
    /// The ablations.
    pub ablations: Vec<AblationInfo>,
    /// The optimizer the others are compared against (default: `random` when present).
    pub baseline: Option<String>,
    /// The config file's text.
    pub config: String,
    /// The machine it ran on.
    pub machine: String,
    /// Versions of genius and its toolchain.
    pub versions: String,
    /// The runs the grid planned, as groups of seeds below one directory (relative to the grid's); any other run
    /// below it is left out of the report (a run of an earlier plan with more seeds, a stray search). A plan of a
    /// million seeds is a few groups, never a million paths.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<PlannedGroup>,
    /// The run directories a grid of an earlier genius planned, one by one (read from its `grid.json`; new grids
    /// write `groups`). Both empty: every run below the grid belongs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<PathBuf>,
    /// Published results to show beside the comparison's own (reference rows, never pooled with its runs).
    pub references: Vec<ReferenceRow>,
    /// The initial random phase of each optimizer label that has one (its first proposals are uniform draws: an
    /// initial population, startup trials), in evaluations: at a budget within it the optimizer is random search,
    /// and the report says so.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub random_phases: BTreeMap<String, usize>,
}

/// The seeds of a group of runs: `0..count`, or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedSet {
    /// Seeds `0..count`.
    Count(u64),
    /// These seeds.
    List(Vec<u64>),
}

impl SeedSet {
    /// How many seeds.
    pub fn len(&self) -> u64 {
        match self {
            Self::Count(n) => *n,
            Self::List(list) => list.len() as u64,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `seed` is one of them.
    pub fn contains(&self, seed: u64) -> bool {
        match self {
            Self::Count(n) => seed < *n,
            Self::List(list) => list.contains(&seed),
        }
    }

    /// The seeds, in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (count, list) = match self {
            Self::Count(n) => (*n, &[][..]),
            Self::List(list) => (0, list.as_slice()),
        };
        (0..count).chain(list.iter().copied())
    }
}

/// Runs a grid planned in one directory, one per seed: `<dir>/seed-<seed>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedGroup {
    /// The directory of the runs (relative to the grid's).
    pub dir: PathBuf,
    /// Their seeds.
    pub seeds: SeedSet,
}

/// The directory name of the run with `seed` in a group.
pub fn seed_dir(seed: u64) -> String {
    format!("seed-{seed}")
}

impl GridInfo {
    /// Whether the grid lists the runs it planned (else every run below it belongs).
    pub fn lists_runs(&self) -> bool {
        !self.groups.is_empty() || !self.runs.is_empty()
    }

    /// Whether the run directory `relative` (to the grid's) is one the grid planned.
    pub fn planned(&self, relative: &Path) -> bool {
        if self.runs.iter().any(|r| r == relative) {
            return true;
        }
        let (Some(parent), Some(name)) = (relative.parent(), relative.file_name().and_then(|n| n.to_str())) else {
            return false;
        };
        let Some(seed) = name.strip_prefix("seed-").and_then(|s| s.parse::<u64>().ok()) else { return false };
        seed_dir(seed) == name && self.groups.iter().any(|g| g.dir == parent && g.seeds.contains(seed))
    }
}

/// The files a report wrote.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// `summary.csv`.
    pub summary: PathBuf,
    /// `trials.csv`.
    pub trials: PathBuf,
    /// `trials.parquet`: the same rows, columnar.
    pub trials_parquet: PathBuf,
    /// `report.md`.
    pub report: PathBuf,
    /// `attainment.csv`, where the comparison has runs of several objectives: each optimizer's 50% attainment
    /// front over seeds in the first two objectives (see [`attainment_rows`]).
    pub attainment: Option<PathBuf>,
    /// Every plot (SVG and PNG).
    pub plots: Vec<PathBuf>,
    /// The rows of the summary.
    pub rows: Vec<SummaryRow>,
    /// The report's results as markdown, without plots, title or configuration ([`markdown::results`]): what a
    /// terminal shows of it.
    pub results: String,
}

/// Everything a report is computed from and its rows, read from a directory without writing anything: what
/// [`write_report`] writes out, and what a live view (the dashboard) shows, so that both show the same numbers.
#[derive(Debug)]
pub struct ReportData {
    /// The comparison's description (`grid.json`, defaulted when absent), with the budgets reported at.
    pub info: GridInfo,
    /// The runs of the comparison (their digests), failed and stray ones left out.
    pub runs: Vec<RunDigest>,
    /// The runs the comparison lists as failed.
    pub failures: Vec<FailedRun>,
    /// Run directories below it that are not part of it (relative to it).
    pub stray: Vec<PathBuf>,
    /// The summary rows: space × optimizer label (× ablation point) × budget.
    pub rows: Vec<SummaryRow>,
}

impl ReportData {
    /// The runs grouped by space, optimizer label and ablation point.
    pub fn groups(&self) -> std::collections::BTreeMap<summary::GroupKey, Vec<&RunDigest>> {
        summary::group(&self.runs)
    }

    /// The largest budget reported at.
    pub fn top_budget(&self) -> usize {
        self.info.budgets.iter().copied().max().unwrap_or(1)
    }
}

/// Reads every run below `dir` (or `dir` itself when it is a run directory, and `dir/grid.json` and
/// `dir/failures.json` if present) and computes the report's rows, writing nothing; see [`write_report`].
pub fn report_data(dir: &Path) -> Result<ReportData, ReportError> {
    collect(dir, None)
}

/// Reads the runs of `dir` for a report, each once and one trial at a time, handing every trial to `table` when
/// there is one, and computes the rows.
fn collect(dir: &Path, mut table: Option<&mut trials_table::TrialsTable>) -> Result<ReportData, ReportError> {
    let grid_path = dir.join(GRID_FILE);
    let grid: Option<GridInfo> = match std::fs::read(&grid_path) {
        Ok(bytes) => Some(
            serde_json::from_slice(&bytes)
                .map_err(|e| ReportError::Grid { path: grid_path.clone(), reason: e.to_string() })?,
        ),
        Err(_) => None,
    };
    let failures_path = dir.join(FAILURES_FILE);
    let failures: Vec<FailedRun> = match std::fs::read(&failures_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| ReportError::Grid { path: failures_path.clone(), reason: e.to_string() })?,
        Err(_) => Vec::new(),
    };
    let found = if dir.join(genius_core::run_log::TRIALS_FILE).is_file() {
        vec![dir.to_owned()]
    } else {
        runs::find_runs(dir)?
    };
    let (members, stray) = members(dir, found, grid.as_ref(), &failures)?;
    if members.is_empty() && failures.is_empty() {
        return Err(ReportError::NoRuns(dir.to_owned()));
    }
    let info = grid.unwrap_or_default();
    // The budgets whose usage each run's digest keeps: the grid's, or the ones a report without a grid may choose
    // (10, 50 and 100 below the longest run, and each run's own end, which a digest always keeps).
    let kept: Vec<usize> = if info.budgets.is_empty() { vec![10, 50, 100] } else { info.budgets.clone() };
    let mut runs = Vec::with_capacity(members.len());
    for d in &members {
        runs.push(RunDigest::scan(d, &kept, |meta, trial| match table.as_deref_mut() {
            Some(table) => table.push(meta, trial),
            None => Ok(()),
        })?);
    }
    let max_evaluations = runs.iter().map(|r| r.evaluations).max().unwrap_or(0);
    let budgets = if info.budgets.is_empty() {
        let mut b: Vec<usize> = [10, 50, 100].into_iter().filter(|&b| b < max_evaluations).collect();
        b.push(max_evaluations);
        b
    } else {
        info.budgets.clone()
    };
    let groups = summary::group(&runs);
    let references = references(&runs, &kept);
    let mut rows = Vec::new();
    for (key, group) in &groups {
        for &b in &budgets {
            let Some(mut row) = summary::row(key, group, b) else { continue };
            if let Some(reference) = references.get(&key.space) {
                summary::add_hypervolume(&mut row, group, reference);
            }
            rows.push(row);
        }
    }
    Ok(ReportData { info: GridInfo { budgets, ..info }, runs, failures, stray, rows })
}

/// The hypervolume reference point of each space with multi-objective runs (see [`summary::Reference`]), from the
/// fronts the digests kept at `budgets`.
fn references(runs: &[RunDigest], budgets: &[usize]) -> std::collections::BTreeMap<String, summary::Reference> {
    let mut by_space: std::collections::BTreeMap<String, Vec<&RunDigest>> = std::collections::BTreeMap::new();
    for run in runs.iter().filter(|r| r.meta.objective.is_multi()) {
        by_space.entry(run.meta.space.clone()).or_default().push(run);
    }
    by_space.into_iter().filter_map(|(space, rs)| Some((space, summary::Reference::of(&rs, budgets)?))).collect()
}

/// Reads every run below `dir` (or `dir` itself when it is a run directory, and `dir/grid.json` and
/// `dir/failures.json` if present) and writes `summary.csv`, `trials.csv`, `trials.parquet`, `report.md` and `plots/`
/// into `dir`.
///
/// Runs are grouped by their recorded labels (space, optimizer label, ablation point); two runs with the same labels
/// and seed are an error. Below a comparison's directory, runs of another experiment, and the runs it lists as failed,
/// are left out (and named in the report).
///
/// Each run is read once, one trial at a time: its trials go to the trial tables as they are read and only its
/// [`RunDigest`] is kept, so memory grows with the number of runs and budgets, not with the number of trials.
pub fn write_report(dir: &Path) -> Result<ReportFiles, ReportError> {
    let mut table = trials_table::TrialsTable::create(dir)?;
    let data = collect(dir, Some(&mut table))?;
    let (trials_path, parquet_path) = table.finish()?;
    let summary_path = dir.join("summary.csv");
    summary::write_summary_csv(&summary_path, &data.rows)?;
    let attainment = attainment_rows(&data);
    let attainment_path = (!attainment.is_empty()).then(|| dir.join("attainment.csv"));
    if let Some(path) = &attainment_path {
        let mut w = csv::Writer::from_path(path).map_err(|e| ReportError::csv(path, e))?;
        for row in &attainment {
            w.serialize(row).map_err(|e| ReportError::csv(path, e))?;
        }
        w.flush().map_err(|e| ReportError::Io { path: path.clone(), cause: e })?;
    }

    let plot_dir = dir.join("plots");
    std::fs::create_dir_all(&plot_dir).map_err(|e| ReportError::Io { path: plot_dir.clone(), cause: e })?;
    let mut plot_files = Vec::new();
    let mut plot_links = Vec::new();
    for p in report_plots(&data)? {
        let svg_path = plot_dir.join(format!("{}.svg", p.stem));
        std::fs::write(&svg_path, &p.svg).map_err(|e| ReportError::Io { path: svg_path.clone(), cause: e })?;
        let png_path = plot_dir.join(format!("{}.png", p.stem));
        let png = plot::png(&p.svg)?;
        std::fs::write(&png_path, png).map_err(|e| ReportError::Io { path: png_path.clone(), cause: e })?;
        plot_links.push((p.space, format!("plots/{}.svg", p.stem)));
        plot_files.extend([svg_path, png_path]);
    }
    let ReportData { info, failures, stray, rows, .. } = data;
    let report_path = dir.join("report.md");
    let text = markdown::render(&info, &rows, &plot_links, &failures, &stray);
    let results = markdown::results(&info, &rows, &[], &failures, &stray);
    std::fs::write(&report_path, text).map_err(|e| ReportError::Io { path: report_path.clone(), cause: e })?;
    Ok(ReportFiles {
        summary: summary_path,
        trials: trials_path,
        trials_parquet: parquet_path,
        report: report_path,
        attainment: attainment_path,
        plots: plot_files,
        rows,
        results,
    })
}

/// One plot of a report: a space's best-so-far curves, or its final distributions.
#[derive(Debug, Clone)]
pub struct ReportPlot {
    /// The space.
    pub space: String,
    /// The file stem (`<space>-anytime`, `<space>-final`, `<space>-ablation-<name>`, ...).
    pub stem: String,
    /// The SVG document.
    pub svg: String,
}

/// The report's plots of `data`, per space of the main grid (ablations excluded): the best-so-far curves with their
/// bands, then the final distributions at the largest budget.
pub fn report_plots(data: &ReportData) -> Result<Vec<ReportPlot>, ReportError> {
    let groups = data.groups();
    let info = &data.info;
    let top = data.top_budget();
    let mut spaces: Vec<String> = groups.keys().map(|k| k.space.clone()).collect();
    spaces.dedup();
    let mut out = Vec::new();
    for space in &spaces {
        let mut main: Vec<(&summary::GroupKey, &Vec<&RunDigest>)> =
            groups.iter().filter(|(k, _)| &k.space == space && k.ablation.is_none()).collect();
        if main.is_empty() {
            continue;
        }
        let order = |label: &str| info.optimizers.iter().position(|o| o == label).unwrap_or(usize::MAX);
        main.sort_by_key(|(k, _)| (order(&k.optimizer), k.optimizer.clone()));
        let metric = main[0].1[0].meta.metrics.report.clone();
        let curves: Vec<plot::Curve> = main.iter().map(|(k, g)| plot::curve(&k.optimizer, g, top)).collect();
        let svg = plot::anytime_svg(&format!("{space}: best so far"), &metric, &curves)?;
        let finals: Vec<(String, Vec<f64>)> = main
            .iter()
            .map(|(k, g)| {
                let values = summary::row(k, g, top).map(|r| r.values).unwrap_or_default();
                (k.optimizer.clone(), values)
            })
            .collect();
        let dist = plot::distribution_svg(&format!("{space}: after {top} evaluations"), &metric, &finals)?;
        for (stem, svg) in [(format!("{space}-anytime"), svg), (format!("{space}-final"), dist)] {
            out.push(ReportPlot { space: space.clone(), stem, svg });
        }
        out.extend(multi_objective_plots(data, space, &main)?);
    }
    // Each ablation on each space: the best-so-far curves of its values.
    for ablation in &info.ablations {
        for space in &spaces {
            let of_value = |value: &str| {
                groups.iter().find(|(k, _)| {
                    &k.space == space && k.ablation.as_ref().is_some_and(|(n, v)| n == &ablation.name && v == value)
                })
            };
            let curves: Vec<plot::Curve> = ablation
                .values
                .iter()
                .filter_map(|value| {
                    of_value(value).map(|(_, g)| plot::curve(&format!("{} = {value}", ablation.setting), g, top))
                })
                .collect();
            let Some(first) = ablation.values.iter().find_map(|v| of_value(v)) else { continue };
            let metric = first.1[0].meta.metrics.report.clone();
            let title = format!("{space}: ablation `{}` of {}", ablation.name, ablation.optimizer);
            let svg = plot::anytime_svg(&title, &metric, &curves)?;
            out.push(ReportPlot { space: space.clone(), stem: markdown::ablation_stem(space, &ablation.name), svg });
        }
    }
    Ok(out)
}

/// A space's multi-objective plots, when its rows have hypervolumes: the mean hypervolume against evaluations (at
/// the report's budgets, with a 95% band) and the final Pareto fronts of every run in the first two objectives.
fn multi_objective_plots(
    data: &ReportData,
    space: &str,
    main: &[(&summary::GroupKey, &Vec<&RunDigest>)],
) -> Result<Vec<ReportPlot>, ReportError> {
    let rows: Vec<&SummaryRow> =
        data.rows.iter().filter(|r| r.space == space && r.ablation.is_empty() && r.hv_mean.is_some()).collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let curves: Vec<plot::Curve> = main
        .iter()
        .map(|(k, _)| {
            let mut points: Vec<(usize, f64, f64, f64)> = rows
                .iter()
                .filter(|r| r.optimizer == k.optimizer)
                .map(|r| {
                    let d = stats::Describe::of(&r.hv_values);
                    let half = 1.96 * d.sem();
                    (r.budget, d.mean, d.mean - half, d.mean + half)
                })
                .collect();
            points.sort_by_key(|p| p.0);
            plot::Curve { label: k.optimizer.clone(), points }
        })
        .collect();
    let reference = &rows[0].hv_reference;
    let hv = plot::curves_svg(
        &format!("{space}: hypervolume ({})", rows[0].objectives),
        &format!("hypervolume above {reference}"),
        &curves,
    )?;
    let mut out = vec![ReportPlot { space: space.to_owned(), stem: format!("{space}-hypervolume"), svg: hv }];
    let first = main.iter().flat_map(|(_, g)| g.iter()).find(|r| r.meta.objective.is_multi());
    if let Some(run) = first {
        let goals = run.meta.objective.all();
        let natural = |g: &genius_core::Goal, v: f64| g.direction.oriented(v);
        let groups: Vec<plot::Fronts> = main
            .iter()
            .map(|(k, g)| {
                let points = g
                    .iter()
                    .filter(|r| r.meta.objective.all() == goals)
                    .flat_map(|r| r.front.iter())
                    .map(|p| (natural(&goals[0], p.scores[0]), natural(&goals[1], p.scores[1])))
                    .collect();
                let median = attainment::staircase(&median_attainment(g, &goals))
                    .into_iter()
                    .map(|(x, y)| (natural(&goals[0], x), natural(&goals[1], y)))
                    .collect();
                plot::Fronts { label: k.optimizer.clone(), points, median }
            })
            .collect();
        let svg = plot::fronts_svg(
            &format!("{space}: Pareto fronts of every run, and the line half of the seeds attain"),
            (&goals[0].to_string(), &goals[1].to_string()),
            &groups,
        )?;
        out.push(ReportPlot { space: space.to_owned(), stem: format!("{space}-fronts"), svg });
    }
    Ok(out)
}

/// The attainment level of the report's pooled fronts: what at least half of the seeds' fronts reach.
pub const ATTAINMENT_LEVEL: f64 = 0.5;

/// The 50% attainment front (see [`attainment`]) of the final Pareto fronts of `runs` in the first two of `goals`
/// (runs with other objectives left out), oriented (larger is better); empty with fewer than two objectives.
fn median_attainment(runs: &[&RunDigest], goals: &[genius_core::Goal]) -> Vec<(f64, f64)> {
    if goals.len() < 2 {
        return Vec::new();
    }
    let fronts: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .filter(|r| r.meta.objective.all() == goals)
        .map(|r| r.front.iter().map(|p| (p.scores[0], p.scores[1])).collect())
        .collect();
    attainment::attainment_front(&fronts, attainment::fronts_needed(ATTAINMENT_LEVEL, fronts.len()))
}

/// One point of a pooled attainment front, as `attainment.csv` writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttainmentRow {
    /// The space.
    pub space: String,
    /// The optimizer's label.
    pub optimizer: String,
    /// The share of the seeds' fronts that attain the point (0.5: half of them).
    pub level: f64,
    /// How many fronts that is, of `runs`.
    pub fronts_needed: usize,
    /// The runs pooled.
    pub runs: usize,
    /// The first objective, e.g. `val_acc_200:max`.
    pub x_objective: String,
    /// Its value, in its own units.
    pub x: f64,
    /// The second objective, e.g. `flops:min`.
    pub y_objective: String,
    /// Its value, in its own units.
    pub y: f64,
}

/// The pooled attainment over seeds of every optimizer of the main grid on every space with runs of two or more
/// objectives: the points of its 50% attainment front in the first two objectives (final fronts), in their units.
pub fn attainment_rows(data: &ReportData) -> Vec<AttainmentRow> {
    let mut out = Vec::new();
    for (key, runs) in data.groups().iter().filter(|(k, _)| k.ablation.is_none()) {
        let Some(first) = runs.iter().find(|r| r.meta.objective.is_multi()) else { continue };
        let goals = first.meta.objective.all();
        if goals.len() < 2 {
            continue;
        }
        let n = runs.iter().filter(|r| r.meta.objective.all() == goals).count();
        for (x, y) in median_attainment(runs, &goals) {
            out.push(AttainmentRow {
                space: key.space.clone(),
                optimizer: key.optimizer.clone(),
                level: ATTAINMENT_LEVEL,
                fronts_needed: attainment::fronts_needed(ATTAINMENT_LEVEL, n),
                runs: n,
                x_objective: goals[0].to_string(),
                x: goals[0].direction.oriented(x),
                y_objective: goals[1].to_string(),
                y: goals[1].direction.oriented(y),
            });
        }
    }
    out
}

/// The run directories of `found` that belong in the report, and the ones left out as not part of the comparison
/// (relative to `dir`), decided from each run's header alone; the runs `failures` lists are neither. Two runs with
/// the same labels are an error, found before anything is written.
fn members(
    dir: &Path,
    found: Vec<PathBuf>,
    grid: Option<&GridInfo>,
    failures: &[FailedRun],
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), ReportError> {
    use std::collections::{BTreeMap, HashSet};
    let failed: HashSet<PathBuf> = failures.iter().map(|f| dir.join(&f.dir)).collect();
    let mut members = Vec::new();
    let mut stray = Vec::new();
    let mut seen: BTreeMap<(String, RunLabel, u64), PathBuf> = BTreeMap::new();
    for d in found {
        if failed.contains(&d) {
            continue;
        }
        let relative = d.strip_prefix(dir).unwrap_or(&d).to_owned();
        let foreign = match grid {
            // A run the grid did not plan is not part of this comparison (a run of an earlier plan with more seeds).
            Some(info) if info.lists_runs() => !info.planned(&relative),
            // For a grid that lists no runs: a run of another experiment (or of none: a plain search), or of an
            // optimizer the grid does not have.
            Some(info) => {
                let meta = RunMeta::of(&genius_core::Recorded::header(&d)?);
                (!info.name.is_empty() && meta.experiment.as_deref() != Some(info.name.as_str()))
                    || (!info.optimizers.is_empty() && !info.optimizers.contains(&meta.label.optimizer))
            }
            None => false,
        };
        if foreign {
            stray.push(relative);
            continue;
        }
        let meta = RunMeta::of(&genius_core::Recorded::header(&d)?);
        let what = describe(&meta);
        if let Some(first) = seen.insert((meta.space, meta.label, meta.seed), d.clone()) {
            return Err(ReportError::Duplicate { first, second: d, what });
        }
        members.push(d);
    }
    Ok((members, stray))
}

/// A run's labels in words, for errors.
fn describe(m: &RunMeta) -> String {
    let ablation = m.label.ablation.as_ref().map(|a| format!(", {} = {}", a.setting, a.value));
    format!("space {}, optimizer {}{}, seed {}", m.space, m.label.optimizer, ablation.unwrap_or_default(), m.seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_plans_the_seeds_of_its_groups_and_the_runs_an_older_one_listed() {
        let info = GridInfo {
            groups: vec![
                PlannedGroup { dir: "runs/s/random".into(), seeds: SeedSet::Count(1_000_000) },
                PlannedGroup { dir: "runs/s/tpe".into(), seeds: SeedSet::List(vec![3, 7]) },
            ],
            runs: vec!["runs/s/old/seed-0".into()],
            ..GridInfo::default()
        };
        assert!(info.lists_runs());
        for yes in ["runs/s/random/seed-0", "runs/s/random/seed-999999", "runs/s/tpe/seed-7", "runs/s/old/seed-0"] {
            assert!(info.planned(Path::new(yes)), "{yes}");
        }
        for no in ["runs/s/random/seed-1000000", "runs/s/random/seed-01", "runs/s/tpe/seed-4", "runs/s/x/seed-0"] {
            assert!(!info.planned(Path::new(no)), "{no}");
        }
        assert!(!GridInfo::default().lists_runs());
        assert_eq!(SeedSet::List(vec![3, 7]).iter().collect::<Vec<_>>(), [3, 7]);
        assert_eq!(SeedSet::Count(3).iter().collect::<Vec<_>>(), [0, 1, 2]);
        let json = serde_json::to_string(&info.groups[0]).unwrap();
        assert_eq!(json, r#"{"dir":"runs/s/random","seeds":{"count":1000000}}"#);
    }
}
