//! `genius compare`: a grid of spaces × optimizers × seeds (and ablations), run in parallel, resumable, and reported
//! with genius-report; `genius report`: the report again, from the run logs alone.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use genius_core::Evaluator;
use genius_core::catalog::BuildContext;
use genius_core::run_log::DirLock;
use genius_grid::{GridProgress, Overrides, Plan, Runner, stop_on_ctrl_c};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::DataArgs;
use crate::commands::Ended;
use crate::registry;

/// `genius compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The experiment: a TOML file (see experiments/quickstart.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Run seeds 0..N instead of the config's seeds.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = crate::args::positive_u64)]
    pub seeds: Option<u64>,
    /// Report at this single budget (evaluations) instead of the config's budgets.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = crate::args::positive)]
    pub budget: Option<usize>,
    /// Runs at once [default: the config's `jobs`, else the number of cores].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = crate::args::positive)]
    pub jobs: Option<usize>,
    /// The output directory [default: the config's `out`, else runs/<name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataArgs,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Check the experiment (every name, setting and key) and print its plan, without running anything.
    #[arg(long)]
    pub check: bool,
    /// Stop the grid at the first failed run, without a report [default: the other runs go on, the report lists the
    /// failed ones, and the command fails at the end].
    #[arg(long)]
    pub fail_fast: bool,
}

/// `genius report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A comparison's output directory, any directory holding run directories, or one run directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// A progress bar of runs, its message counting trials.
struct Bar {
    bar: ProgressBar,
    trials: AtomicU64,
}

impl GridProgress for Bar {
    fn trial(&self) {
        let n = self.trials.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(64) {
            self.bar.set_message(format!("{n} trials"));
        }
    }

    fn run_finished(&self) {
        self.bar.inc(1);
    }
}

/// Prints the plan of `genius compare --check`: one line per space and optimizer (with what its settings make of
/// it, e.g. which model at which temperature: each seed is an independent run of it).
fn print_plan(path: &Path, plan: &Plan, out: &mut impl Write) -> Result<()> {
    writeln!(out, "{}: valid; {} run(s) into {}", path.display(), plan.run_count(), plan.out.display())?;
    let mut groups: BTreeMap<(String, String), (u64, usize)> = BTreeMap::new();
    for r in &plan.groups {
        let mut label = match &r.label.ablation {
            Some(a) => format!("{} [{} = {}]", r.label.optimizer, a.setting, a.value),
            None => r.label.optimizer.clone(),
        };
        let entry = registry::catalogs().optimizers.find(&r.optimizer.name)?;
        if let Some(description) = entry.describe(&r.optimizer.settings) {
            label.push_str(&format!(" ({description})"));
        }
        let g = groups.entry((r.space.clone(), label)).or_insert((0, r.budget));
        g.0 += r.seeds.len();
    }
    for ((space, label), (seeds, budget)) in groups {
        writeln!(out, "  {space:<30} {label:<36} {seeds:>4} seed(s), {budget} evaluations")?;
    }
    Ok(())
}

/// `genius compare`.
pub async fn compare(args: &CompareArgs, out: &mut impl Write) -> Result<Ended> {
    let overrides = Overrides { seeds: args.seeds, budget: args.budget, out: args.out.clone() };
    let plan = Plan::read(&args.config, registry::catalogs(), &overrides)?;
    if args.check {
        print_plan(&args.config, &plan, out)?;
        // What would stop the runs on this machine though the plan is valid (a key not exported): a warning, as
        // the plan may be checked on one machine and run on another.
        let mut warned: Vec<String> = Vec::new();
        for group in &plan.groups {
            let entry = registry::catalogs().optimizers.find(&group.optimizer.name)?;
            for warning in entry.warnings(&group.optimizer.settings) {
                let line = format!("warning: optimizer `{}`: {warning}", group.label.optimizer);
                if !warned.contains(&line) {
                    writeln!(out, "{line}")?;
                    warned.push(line);
                }
            }
        }
        return Ok(Ended::Done);
    }
    // Every optimizer of the plan is built once before any run starts, so that a missing API key is one error now
    // rather than a failure in every run of the grid.
    let mut built: Vec<&genius_grid::experiment::Component> = Vec::new();
    let mut random_phases = std::collections::BTreeMap::new();
    for group in &plan.groups {
        let Some(seed) = group.seeds.iter().next() else { continue };
        if !built.contains(&&group.optimizer) {
            // The embedded model's file is fetched on first use, as the tables are (an error with --offline).
            crate::model_cmd::ensure_default_model(&group.optimizer.settings, args.data.offline, args.quiet)
                .await
                .map_err(|e| anyhow!("{}: optimizer `{}`: {e:#}", args.config.display(), group.label.optimizer))?;
            let optimizer =
                registry::optimizer(&group.optimizer.name, group.optimizer.settings.clone(), &group.space, seed)
                    .map_err(|e| anyhow!("{}: optimizer `{}`: {e:#}", args.config.display(), group.label.optimizer))?;
            if group.label.ablation.is_none() && optimizer.random_phase() > 0 {
                random_phases.insert(group.label.optimizer.clone(), optimizer.random_phase());
            }
            built.push(&group.optimizer);
        }
    }
    // What the evaluator needs for every space (its table, its dataset) before the first run starts, fetched on
    // first use as `genius search` does.
    let data = args.data.resolve();
    let catalogs = registry::catalogs();
    let entry = catalogs.evaluators.find(&plan.evaluator.name)?;
    let mut resources = Vec::new();
    for space in plan.spaces() {
        let context = BuildContext::new(space, 0, data.path());
        for r in entry.resources(&plan.evaluator.settings, &context)? {
            if !resources.contains(&r) {
                resources.push(r);
            }
        }
    }
    crate::data_cmd::ensure_resources(&resources, &args.data, args.quiet)
        .await
        .map_err(|err| anyhow!("{}: [evaluator] {err:#}", args.config.display()))?;
    let parts = plan.parts(catalogs, data.path()).map_err(|err| anyhow!("{}: {err:#}", args.config.display()))?;
    std::fs::create_dir_all(&plan.out).with_context(|| format!("cannot create {}", plan.out.display()))?;
    // Held until the command ends: a second `genius compare` on this grid is refused.
    let _lock = DirLock::acquire(&plan.out)?;
    let mut info = plan.info.clone();
    info.random_phases = random_phases;
    if let Some(file) = &plan.reference
        && let Some(paper) = crate::paper_reference::read(file, data.path())?
    {
        info.references = crate::paper_reference::rows(&paper, &info.spaces);
    }
    plan.write_info(&info)?;

    let todo = plan.todo().len();
    let total = plan.run_count() as usize;
    let jobs =
        args.jobs.or(plan.jobs).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    writeln!(
        out,
        "compare: {} — {total} run(s) ({} already done), {jobs} job(s), budgets {:?}, output {}",
        plan.name,
        total - todo,
        info.budgets,
        plan.out.display()
    )?;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(total as u64) };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs  {msg}  eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_position((total - todo) as u64);
    // The runs already done took no time now: the estimate starts from here, or a resumed grid reads "eta 0s".
    bar.reset_eta();
    let progress = Arc::new(Bar { bar: bar.clone(), trials: AtomicU64::new(0) });
    let data_dir = data.path().to_owned();
    let job_data_dir = data_dir.clone();
    let space_files = plan.space_files.clone();
    let runner = Runner {
        catalogs: Arc::new(catalogs.clone()),
        data_dir,
        jobs,
        fail_fast: args.fail_fast,
        stop: stop_on_ctrl_c(),
        job_setup: Some(Arc::new(move |dir: &Path, space: &str, evaluator: &Arc<dyn Evaluator>| {
            let space_file = space_files.get(space).map(PathBuf::as_path);
            registry::job_setup(dir, space, space_file, &**evaluator, &job_data_dir).map_err(|e| format!("{e:#}"))
        })),
        progress,
    };
    let outcome = runner.run(&plan, &parts).await?;
    bar.finish_and_clear();
    let failures = outcome.failures;
    let root = &plan.out;
    if args.fail_fast
        && let Some(first) = failures.first()
    {
        bail!(
            "run {} failed: {}; the grid stopped there (--fail-fast); run the same command again to resume it",
            root.join(&first.dir).display(),
            first.reason
        );
    }
    if outcome.interrupted {
        writeln!(out, "interrupted; run the same command again to resume the grid where it stopped")?;
        return Ok(Ended::Interrupted);
    }
    plan.write_failures(&failures)?;
    let ended = write_report(root, args.quiet, out)?;
    if failures.is_empty() {
        return Ok(ended);
    }
    let list: Vec<String> =
        failures.iter().map(|f| format!("  {}: {}", root.join(&f.dir).display(), f.reason)).collect();
    bail!(
        "{} of {total} run(s) failed; the report leaves them out and lists them under \"Failed runs\"; run the same \
         command again to retry them:\n{}",
        failures.len(),
        list.join("\n")
    )
}

/// Writes the report of `dir` and prints where it is and its main tables.
fn write_report(dir: &Path, quiet: bool, out: &mut impl Write) -> Result<Ended> {
    // Reading every run of a large grid takes a while: a spinner says what is going on (on a terminal).
    let spinner = if quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    spinner.set_message(format!(
        "reading the runs below {} and writing summary.csv, trials.csv, trials.parquet, report.md and the plots",
        dir.display()
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    let files = genius_report::write_report(dir);
    spinner.finish_and_clear();
    let files = files?;
    write!(out, "\n{}", files.results)?;
    writeln!(
        out,
        "\nreport: {}\nsummary: {}\ntrials: {}",
        files.report.display(),
        files.summary.display(),
        files.trials.display()
    )?;
    Ok(Ended::Done)
}

/// `genius report`.
pub fn report(args: &ReportArgs, out: &mut impl Write) -> Result<Ended> {
    write_report(&args.dir, false, out)
}
