//! The subcommands.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use genius_core::{
    Budget, CancellationToken, DuplicatePolicy, Flush, MetricSpec, Recorded, SearchSpace, StopReason, Study,
    StudyOutcome, StudySettings,
};

use crate::args::{Duplicates, FlushArg, ResumeArgs, SearchArgs, SpacesArgs};
use crate::progress::Progress;
use crate::registry;

/// How a command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Ran to its end.
    Done,
    /// Stopped by Ctrl-C with the run log intact.
    Interrupted,
}

/// `genius spaces`.
pub fn spaces(args: &SpacesArgs, out: &mut impl Write) -> Result<Ended> {
    let data = args.data.resolve();
    let width = genius_spaces::catalog::spaces().iter().map(|s| s.name.len()).max().unwrap_or(0);
    writeln!(out, "{:<width$} {:>14}  {:<8}  DESCRIPTION", "SPACE", "ARCHITECTURES", "DATA")?;
    for entry in genius_spaces::catalog::spaces() {
        let status = match entry.table {
            Some(file) if file.present_in(&data) => "present",
            Some(_) => "missing",
            None => "no table",
        };
        let size = match entry.cardinality() {
            n if n < 1_000_000_000_000 => n.to_string(),
            n => format!("{:.3e}", n as f64),
        };
        writeln!(out, "{:<width$} {size:>14}  {status:<8}  {}", entry.name, entry.summary)?;
    }
    writeln!(out, "\ndata directory: {data}")?;
    let missing = genius_spaces::catalog::files().iter().filter(|f| !f.present_in(&data)).count();
    if missing > 0 {
        writeln!(
            out,
            "{missing} table(s) missing: `genius data fetch --all` downloads them (a search also fetches its own \
             table on first use)"
        )?;
    }
    Ok(Ended::Done)
}

/// `genius optimizers`.
pub fn optimizers(out: &mut impl Write) -> Result<Ended> {
    for entry in genius_baselines::catalog::optimizers() {
        writeln!(out, "{:<12} {}", entry.name, entry.summary)?;
    }
    writeln!(out, "{:<12} {}", genius_llm::NAME, genius_llm::SUMMARY)?;
    Ok(Ended::Done)
}

fn stop_on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping after the evaluations in flight; press Ctrl-C again to quit at once");
            trigger.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    token
}

fn default_out(space: &str, optimizer: &str, seed: u64) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace(':', "-");
    PathBuf::from("runs").join(format!("{space}-{optimizer}-seed{seed}-{}", stamp.trim_end_matches('Z')))
}

/// `genius search`.
pub async fn search(args: &SearchArgs, out: &mut impl Write) -> Result<Ended> {
    let file_space = args.space_file.as_deref().map(crate::own::read_space).transpose()?;
    let space_name = match (&file_space, &args.space) {
        (Some(f), _) => f.name().to_owned(),
        (None, Some(name)) => name.clone(),
        (None, None) => anyhow::bail!("give --space NAME or --space-file FILE"),
    };
    let settings = registry::optimizer_settings(args.optimizer_config.as_deref(), &args.settings)?;
    let settings = registry::llm_settings(args, &space_name, settings)?;
    let optimizer = registry::optimizer(&args.optimizer, settings, &space_name, args.seed)?;
    let data = args.data.resolve();
    let dir = args.out.clone().unwrap_or_else(|| default_out(&space_name, &args.optimizer, args.seed));
    let command_settings = || match &args.command_config {
        Some(path) => crate::own::command_settings_file(path),
        None => anyhow::bail!("--evaluator command needs its settings: --command-config FILE"),
    };
    let (space, evaluator): (std::sync::Arc<dyn SearchSpace>, _) = match (&file_space, args.evaluator.as_str()) {
        (Some(f), crate::own::COMMAND_EVALUATOR) => {
            let space: std::sync::Arc<dyn SearchSpace> = f.clone();
            (space.clone(), crate::own::command_evaluator(space, command_settings()?, &dir, Path::new("."))?)
        }
        (Some(f), registry::TABLE_EVALUATOR) => (f.clone() as std::sync::Arc<dyn SearchSpace>, crate::own::table(f)?),
        (Some(f), other) => anyhow::bail!(
            "--evaluator {other} cannot score the architectures of {}: genius does not know their networks; use \
             --evaluator command with your own program, or a [table]",
            f.path().display()
        ),
        (None, crate::own::COMMAND_EVALUATOR) => {
            let space = registry::space(&space_name)?.space();
            (space.clone(), crate::own::command_evaluator(space, command_settings()?, &dir, Path::new("."))?)
        }
        (None, registry::TRAIN_EVALUATOR) => {
            let entry = registry::space(&space_name)?;
            registry::train_evaluator(entry, &args.train, args.seed, &args.data, args.progress.quiet).await?
        }
        (None, _) => {
            let entry = registry::space(&space_name)?;
            crate::data_cmd::ensure_table(entry, &args.data, args.progress.quiet).await?;
            registry::space_and_evaluator(entry, registry::TABLE_EVALUATOR, &data)?
        }
    };
    let budget = Budget {
        evaluations: Some(args.budget),
        wall_time_s: args.wall_time,
        tokens: args.llm.token_budget,
        cost_usd: args.llm.cost_budget,
    };
    let settings = StudySettings {
        batch_size: args.batch_size,
        concurrency: args.concurrency,
        duplicates: match args.duplicates {
            Duplicates::Count => DuplicatePolicy::Count,
            Duplicates::Free => DuplicatePolicy::Free,
        },
        flush: match args.flush {
            FlushArg::Trial => Flush::Trial,
            FlushArg::Sync => Flush::Sync,
            FlushArg::Buffered => Flush::Buffered,
        },
        ..StudySettings::default()
    };
    let spec = evaluator.metrics().clone();
    let mut context = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>(),
        "data_dir": data.path(),
    });
    if let Some(f) = &file_space {
        context[crate::own::CONTEXT_KEY] = crate::own::context(f);
    }
    let executor = match &args.executor {
        Some(name) => {
            let settings = registry::optimizer_settings(args.executor_config.as_deref(), &[])?;
            let executor = registry::executor(name, settings, &dir, &space_name, &*evaluator, &data).with_context(
                || match &args.executor_config {
                    Some(path) => format!("--executor {name} --executor-config {}", path.display()),
                    None => format!("--executor {name}"),
                },
            )?;
            Some(executor)
        }
        None => None,
    };
    let study = Study::new(space.clone(), evaluator, optimizer)
        .seed(args.seed)
        .budget(budget)
        .settings(settings)
        .context(context)
        .stop_on(stop_on_ctrl_c())
        .observe(Progress::new(Some(args.budget), &spec.search, args.progress.quiet));
    let study = match executor {
        Some(executor) => study.executor(executor),
        None => study,
    };
    study.check()?;
    writeln!(
        out,
        "search: {} with {}, budget {} evaluations, seed {}\nrun log: {}",
        space_name,
        args.optimizer,
        args.budget,
        args.seed,
        dir.display()
    )?;
    let outcome = study.run_in(&dir).await?;
    report(&*space, &spec, &outcome, &dir, out)
}

/// `genius resume`.
pub async fn resume(args: &ResumeArgs, out: &mut impl Write) -> Result<Ended> {
    let recorded = Recorded::read(&args.dir)?;
    let header = recorded.header.clone();
    for tail in &recorded.truncated {
        writeln!(
            out,
            "note: {} ended in a truncated line (line {}, {} bytes) left by a run killed mid-write; it is moved to \
             {}.truncated and its trial is evaluated again",
            tail.path.display(),
            tail.line,
            tail.bytes,
            tail.path.display()
        )?;
    }
    let data = args.data.resolve();
    let file_space = crate::own::recorded_space(&header.context)?;
    let (space, evaluator): (std::sync::Arc<dyn SearchSpace>, _) = match (&file_space, header.evaluator.name.as_str()) {
        (file, crate::own::COMMAND_EVALUATOR) => {
            let space: std::sync::Arc<dyn SearchSpace> = match file {
                Some(f) => f.clone(),
                None => registry::space(&header.space)
                    .context("the run log names a space this genius does not know")?
                    .space(),
            };
            let settings = header.evaluator.settings.clone();
            (space.clone(), crate::own::command_evaluator(space, settings, &args.dir, Path::new("."))?)
        }
        (Some(f), _) => (f.clone() as std::sync::Arc<dyn SearchSpace>, crate::own::table(f)?),
        (None, name) => {
            let entry =
                registry::space(&header.space).context("the run log names a space this genius does not know")?;
            if name == registry::TRAIN_EVALUATOR {
                registry::recorded_train_evaluator(entry, &header.evaluator.settings)?
            } else {
                crate::data_cmd::ensure_table(entry, &args.data, args.progress.quiet).await?;
                registry::space_and_evaluator(entry, name, &data)?
            }
        }
    };
    let optimizer = registry::resumed_optimizer(&header.optimizer.name, header.optimizer.settings.clone(), &recorded)?;
    let mut budget = header.budget.clone();
    if let Some(n) = args.budget {
        budget.evaluations = Some(n);
    }
    if let Some(t) = args.wall_time {
        budget.wall_time_s = Some(t);
    }
    let metric = header.objective.metric.clone();
    writeln!(
        out,
        "resume: {} with {}, seed {}, {} trial(s) recorded, budget {}",
        header.space,
        header.optimizer.name,
        header.seed,
        recorded.trials.len(),
        budget.evaluations.map_or_else(|| "unlimited".into(), |n| format!("{n} evaluations"))
    )?;
    let study = Study::new(space.clone(), evaluator, optimizer)
        .seed(header.seed)
        .objective(header.objective.clone())
        .budget(budget.clone())
        .settings(header.settings.clone())
        .stop_on(stop_on_ctrl_c())
        .observe(Progress::new(budget.evaluations, &metric, args.progress.quiet));
    let study = match &header.executor {
        Some(component) => study.executor(registry::recorded_executor(component)?),
        None => study,
    };
    study.check()?;
    let outcome = study.resume(recorded).await?;
    report(&*space, &header.metrics, &outcome, &args.dir, out)
}

/// Prints how a study ended and its best architecture, in the paper's style: `93.05 (rank 8 / 6561)`.
fn report(
    space: &dyn SearchSpace,
    spec: &MetricSpec,
    outcome: &StudyOutcome,
    dir: &Path,
    out: &mut impl Write,
) -> Result<Ended> {
    let s = &outcome.summary;
    writeln!(
        out,
        "stopped: {} after {} trial(s): {} evaluated, {} duplicate(s), {} failed, {} invalid, {:.1} s",
        s.stop, s.spend.trials, s.completed, s.duplicates, s.failed, s.invalid, s.spend.elapsed_s
    )?;
    match s.best.as_ref().and_then(|b| b.evaluation.as_ref().map(|e| (b, e))) {
        Some((best, eval)) => {
            writeln!(
                out,
                "best architecture: {} (trial {}, chosen by {})",
                space.format(&best.arch),
                best.index,
                spec.search
            )?;
            for metric in &spec.metrics {
                let Some(value) = eval.metrics.get(&metric.name) else { continue };
                let role = match (metric.name == spec.search, metric.name == spec.report) {
                    (true, true) => "searched and reported",
                    (true, false) => "searched",
                    (false, true) => "reported, held out",
                    (false, false) => "",
                };
                let mut line = format!("  {:<16} {value:.2}", metric.name);
                if metric.name == spec.report {
                    if let Some(r) = eval.rank {
                        line.push_str(&format!(" (rank {} / {})", r.rank, r.of));
                    }
                    if let Some(o) = &s.optimum {
                        line.push_str(&format!("  optimum {:.2}", o.value));
                    }
                }
                writeln!(out, "{line}  [{role}]")?;
            }
            let facts: Vec<String> = [
                eval.params.map(|p| format!("params {:.2} M", p as f64 / 1e6)),
                eval.flops.map(|f| format!("FLOPs {:.1} M", f as f64 / 1e6)),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !facts.is_empty() {
                writeln!(out, "  {}", facts.join(", "))?;
            }
            if spec.search == spec.report {
                writeln!(out, "note: {}: {}", spec.search, spec.search_metric().description)?;
            }
        }
        None => writeln!(out, "no trial succeeded")?,
    }
    if s.stop == StopReason::Interrupted {
        writeln!(out, "interrupted; continue with: genius resume {}", dir.display())?;
        return Ok(Ended::Interrupted);
    }
    Ok(Ended::Done)
}
