//! The subcommands.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use genius_core::catalog::{Catalog, Kind, Range};
use genius_core::checked::Check;
use genius_core::{
    Budget, DuplicatePolicy, Flush, MetricSpec, Objective, Recorded, SearchSpace, SpaceExt, StopReason, StudyOutcome,
    StudySettings,
};
use genius_grid::{StudyParts, StudySetup, stop_on_ctrl_c};

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

/// A space of the catalog as `genius spaces` shows it.
struct SpaceRow<'a> {
    name: &'a str,
    summary: &'a str,
    architectures: u128,
    /// Its benchmark table, where genius-spaces keeps one for it.
    table: Option<genius_spaces::data::DataFile>,
}

/// `genius spaces [NAME]`: every space of the catalog (or one), with its size and whether its table is here.
pub fn spaces(args: &SpacesArgs, out: &mut impl Write) -> Result<Ended> {
    let data = args.data.resolve();
    let catalog = &registry::catalogs().spaces;
    let entries: Vec<&genius_core::catalog::Entry<genius_core::catalog::Spaces>> = match &args.name {
        Some(name) => vec![catalog.find(name)?],
        None => catalog.entries().iter().collect(),
    };
    let all = entries
        .into_iter()
        .map(|entry| {
            let space = entry.build(
                serde_json::Value::Null,
                &genius_core::catalog::BuildContext::new(&entry.name, 0, data.path()),
            )?;
            Ok(SpaceRow {
                name: &entry.name,
                summary: &entry.summary,
                architectures: space.cardinality(),
                table: genius_spaces::catalog::find(&entry.name).and_then(|s| s.table),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let status = |row: &SpaceRow<'_>| match row.table {
        Some(file) if file.present_in(&data) => "present",
        Some(_) => "missing",
        None => "no table",
    };
    if args.json.json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|row| {
                serde_json::json!({
                    "name": row.name,
                    "summary": row.summary,
                    // Exact where JSON's integers reach, else a float.
                    "architectures": u64::try_from(row.architectures)
                        .map_or_else(|_| serde_json::Value::from(row.architectures as f64), serde_json::Value::from),
                    "data": status(row),
                    "table": row.table.map(|f| data.path().join(f.relative)),
                })
            })
            .collect();
        let doc = match args.name {
            Some(_) => rows.into_iter().next().unwrap_or_default(),
            None => serde_json::json!({ "data_dir": data.path(), "spaces": rows }),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(Ended::Done);
    }
    if args.name.is_some() {
        let row = &all[0];
        writeln!(out, "{}: {}", row.name, row.summary)?;
        writeln!(out, "  architectures  {}", row.architectures)?;
        match row.table {
            Some(file) => {
                writeln!(out, "  table          {} ({})", data.path().join(file.relative).display(), status(row))?
            }
            None => writeln!(
                out,
                "  table          none: search it with --evaluator train (see `genius evaluators train`)"
            )?,
        }
        writeln!(out, "  settings       none")?;
        return Ok(Ended::Done);
    }
    let width = all.iter().map(|row| row.name.len()).max().unwrap_or(0);
    writeln!(out, "{:<width$} {:>14}  {:<8}  DESCRIPTION", "SPACE", "ARCHITECTURES", "DATA")?;
    for row in &all {
        let size = match row.architectures {
            n if n < 1_000_000_000_000 => n.to_string(),
            n => format!("{:.3e}", n as f64),
        };
        writeln!(out, "{:<width$} {size:>14}  {:<8}  {}", row.name, status(row), row.summary)?;
    }
    writeln!(out, "\ndata directory: {data}")?;
    let mut missing: Vec<genius_spaces::data::DataFile> = Vec::new();
    for file in all.iter().filter_map(|row| row.table).filter(|f| !f.present_in(&data)) {
        if !missing.contains(&file) {
            missing.push(file);
        }
    }
    let missing = missing.len();
    if missing > 0 {
        writeln!(
            out,
            "{missing} table(s) missing: `genius data fetch --all` downloads them (a search also fetches its own \
             table on first use)"
        )?;
    }
    Ok(Ended::Done)
}

/// `genius optimizers [NAME]`: every optimizer with its summary, or one with its settings.
pub fn optimizers(name: Option<&str>, json: bool, out: &mut impl Write) -> Result<Ended> {
    list(&registry::catalogs().optimizers, name, json, out)
}

/// `genius evaluators [NAME]`.
pub fn evaluators(name: Option<&str>, json: bool, out: &mut impl Write) -> Result<Ended> {
    list(&registry::catalogs().evaluators, name, json, out)
}

/// `genius executors [NAME]`.
pub fn executors(name: Option<&str>, json: bool, out: &mut impl Write) -> Result<Ended> {
    list(&registry::catalogs().executors, name, json, out)
}

/// A setting as JSON: what the settings table prints.
fn setting_json(s: &genius_core::catalog::Setting) -> serde_json::Value {
    serde_json::json!({
        "name": s.name,
        "type": s.kind.to_string(),
        "default": (!s.default.is_empty()).then_some(s.default),
        "range": (s.range != Range::Any).then(|| s.range.to_string()),
        "doc": s.doc,
    })
}

/// Lists a catalog: a line per entry, or one entry's settings (name, type, default, range, what it does).
fn list<K: Kind>(catalog: &Catalog<K>, name: Option<&str>, json: bool, out: &mut impl Write) -> Result<Ended> {
    if json {
        let entry_json = |e: &genius_core::catalog::Entry<K>| {
            serde_json::json!({
                "name": e.name,
                "summary": e.summary,
                "settings": e.settings.iter().map(setting_json).collect::<Vec<_>>(),
            })
        };
        let doc = match name {
            Some(name) => entry_json(catalog.find(name)?),
            None => serde_json::Value::Array(catalog.entries().iter().map(entry_json).collect()),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(Ended::Done);
    }
    let Some(name) = name else {
        let width = catalog.entries().iter().map(|e| e.name.len()).max().unwrap_or(0).max(12);
        for entry in catalog.entries() {
            writeln!(out, "{:<width$} {}", entry.name, entry.summary)?;
        }
        return Ok(Ended::Done);
    };
    let entry = catalog.find(name)?;
    writeln!(out, "{}: {}", entry.name, entry.summary)?;
    if entry.settings.is_empty() {
        writeln!(out, "\nno settings")?;
        return Ok(Ended::Done);
    }
    writeln!(out, "\n{:<22} {:<16} {:<16} {:<14} DESCRIPTION", "SETTING", "TYPE", "DEFAULT", "RANGE")?;
    for s in entry.settings {
        let range = match s.range {
            Range::Any => String::new(),
            range => range.to_string(),
        };
        let default = if s.default.is_empty() { "-" } else { s.default };
        writeln!(out, "{:<22} {:<16} {default:<16} {range:<14} {}", s.name, s.kind.to_string(), s.doc)?;
    }
    Ok(Ended::Done)
}

/// The default run directory: `runs/<space>-<optimizer>-seed<seed>-<UTC time to the millisecond>-<tag>`, where the
/// tag is a short hash of the whole command line and this process, so that two searches started in the same
/// millisecond (a loop over `--set gamma=...`) still get their own directories; a directory that exists anyway is
/// never reused (`-2`, `-3`, ... is appended).
fn default_out(space: &str, optimizer: &str, seed: u64) -> PathBuf {
    use std::hash::BuildHasher;
    let now = std::time::SystemTime::now();
    let stamp = humantime::format_rfc3339_millis(now).to_string().replace(':', "-");
    let hashed = (std::env::args().collect::<Vec<_>>(), std::process::id(), now);
    let tag = std::collections::hash_map::RandomState::new().hash_one(hashed) & 0xffff;
    let base = format!("{space}-{optimizer}-seed{seed}-{}-{tag:04x}", stamp.trim_end_matches('Z'));
    let mut dir = PathBuf::from("runs").join(&base);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = PathBuf::from("runs").join(format!("{base}-{n}"));
    }
    dir
}

/// `genius search`.
pub async fn search(args: &SearchArgs, out: &mut impl Write) -> Result<Ended> {
    let (space, space_file) = match (&args.space_file, &args.space) {
        (Some(path), _) => {
            let (space, record) = registry::catalogs().space_file(path).context("--space-file")?;
            (space, Some(record))
        }
        (None, Some(name)) => (registry::space(name)?, None),
        (None, None) => {
            anyhow::bail!("give the space to search: --space NAME (see `genius spaces`) or --space-file FILE")
        }
    };
    let space_name = space.name().to_owned();
    let settings = registry::optimizer_settings(args.optimizer_config.as_deref(), &args.settings)?;
    let settings = registry::llm_settings(args, &space_name, settings)?;
    crate::model_cmd::ensure_default_model(&settings, args.data.offline, args.progress.quiet).await?;
    let optimizer = registry::optimizer(&args.optimizer, settings, &space_name, args.seed)?;
    let data = args.data.resolve();
    let dir = args.out.clone().unwrap_or_else(|| default_out(&space_name, &args.optimizer, args.seed));
    let (evaluator_name, evaluator_settings) =
        registry::evaluator_choice(&args.evaluator, &args.train, args.command_config.as_deref())?;
    let evaluator = registry::evaluator(
        &evaluator_name,
        evaluator_settings,
        &space,
        args.seed,
        registry::Where { run_dir: &dir, config_dir: None, recorded: None },
        &args.data,
        args.progress.quiet,
    )
    .await
    .with_context(|| format!("--evaluator {}", args.evaluator))?;
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
    }
    .check()
    .context("--batch-size, --concurrency")?;
    let spec = evaluator.metrics().clone();
    let mut context = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>(),
        "data_dir": data.path(),
    });
    if let Some(record) = space_file {
        context[genius_core::catalog::SPACE_FILE_CONTEXT] = record;
    }
    let executor = match &args.executor {
        Some(name) => {
            let settings = registry::optimizer_settings(args.executor_config.as_deref(), &[])?;
            let executor = registry::executor(
                name,
                settings,
                &dir,
                &space_name,
                args.space_file.as_deref(),
                &evaluator,
                data.path(),
            )
            .with_context(|| match &args.executor_config {
                Some(path) => format!("--executor {name} --executor-config {}", path.display()),
                None => format!("--executor {name}"),
            })?;
            Some(executor)
        }
        None => None,
    };
    let objective = match args.objectives.as_slice() {
        [] => Objective::from_spec(&spec),
        goals => Objective::goals(&spec, goals.iter().cloned()).context("--objective")?,
    };
    let setup = StudySetup {
        seed: args.seed,
        budget,
        settings,
        objective: Some(objective.clone()),
        context: Some(context),
        stop: stop_on_ctrl_c(),
    };
    let study = StudyParts { space: space.clone(), evaluator, optimizer, executor }
        .assemble(setup)
        .observe(Progress::new(Some(args.budget), &spec.search, args.progress.quiet));
    study.check()?;
    if !args.json.json {
        writeln!(
            out,
            "search: {} with {}, budget {} evaluations, seed {}{}\nrun log: {}",
            space_name,
            args.optimizer,
            args.budget,
            args.seed,
            if objective.is_multi() { format!(", objectives {objective}") } else { String::new() },
            dir.display()
        )?;
    }
    let outcome = study.run_in(&dir).await?;
    if args.json.json {
        return report_json(&*space, &spec, &objective, &outcome, &dir, out);
    }
    report(&*space, &spec, &objective, &outcome, &dir, out)
}

/// [`report`] as one JSON document: the run directory, how it stopped, the spend, and the best trial.
fn report_json(
    space: &dyn SearchSpace,
    spec: &MetricSpec,
    objective: &Objective,
    outcome: &StudyOutcome,
    dir: &Path,
    out: &mut impl Write,
) -> Result<Ended> {
    let s = &outcome.summary;
    let best = s.best.as_ref().and_then(|b| b.evaluation.as_ref().map(|e| (b, e))).map(|(best, eval)| {
        serde_json::json!({
            "trial": best.index,
            "architecture": space.format(&best.arch),
            "metrics": eval.metrics,
            "rank": eval.rank.map(|r| serde_json::json!({"rank": r.rank, "of": r.of})),
            "params": eval.params,
            "flops": eval.flops,
        })
    });
    let mut doc = serde_json::json!({
        "run_dir": dir,
        "stop": s.stop.to_string(),
        "trials": s.spend.trials,
        "evaluated": s.completed,
        "duplicates": s.duplicates,
        "failed": s.failed,
        "invalid": s.invalid,
        "elapsed_s": s.spend.elapsed_s,
        "searched_metric": spec.search,
        "reported_metric": spec.report,
        "optimum": s.optimum.as_ref().map(|o| o.value),
        "best": best,
    });
    if objective.is_multi() {
        // The front's points by their objectives only: a held-out metric is reported by `best`, never listed here.
        let front: Vec<serde_json::Value> = s
            .front
            .iter()
            .filter_map(|&i| {
                let trial = &outcome.trials[i];
                let eval = trial.evaluation.as_ref()?;
                let values: serde_json::Map<String, serde_json::Value> =
                    objective.all().iter().map(|g| (g.metric.clone(), eval.value(&g.metric).into())).collect();
                Some(serde_json::json!({"trial": i, "architecture": space.format(&trial.arch), "objectives": values}))
            })
            .collect();
        doc["objectives"] = objective.to_string().into();
        doc["front"] = front.into();
    }
    writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    Ok(if s.stop == StopReason::Interrupted { Ended::Interrupted } else { Ended::Done })
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
    let space = registry::catalogs()
        .recorded_space(&header)
        .with_context(|| format!("cannot rebuild the space `{}` the run searched", header.space))?;
    let evaluator = registry::evaluator(
        &header.evaluator.name,
        header.evaluator.settings.clone(),
        &space,
        header.seed,
        registry::Where { run_dir: &args.dir, config_dir: None, recorded: Some(&recorded) },
        &args.data,
        args.progress.quiet,
    )
    .await
    .with_context(|| format!("cannot rebuild the run's evaluator `{}`", header.evaluator.name))?;
    let optimizer = registry::resumed_optimizer(&header.optimizer.name, header.optimizer.settings.clone(), &recorded)?;
    let executor = match &header.executor {
        Some(component) => Some(registry::recorded_executor(component, &recorded)?),
        None => None,
    };
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
    let setup = StudySetup {
        seed: header.seed,
        budget: budget.clone(),
        settings: header
            .settings
            .clone()
            .check()
            .with_context(|| format!("{}: the recorded runner settings", args.dir.display()))?,
        objective: Some(header.objective.clone()),
        context: None,
        stop: stop_on_ctrl_c(),
    };
    let study = StudyParts { space: space.clone(), evaluator, optimizer, executor }
        .assemble(setup)
        .observe(Progress::new(budget.evaluations, &metric, args.progress.quiet));
    study.check()?;
    let outcome = study.resume(recorded).await?;
    report(&*space, &header.metrics, &header.objective, &outcome, &args.dir, out)
}

/// Prints the Pareto front of a multi-objective study: each trial on it with every objective's value and, held out,
/// the reported metric (shown, never searched).
fn front(
    space: &dyn SearchSpace,
    spec: &MetricSpec,
    objective: &Objective,
    outcome: &StudyOutcome,
    out: &mut impl Write,
) -> Result<()> {
    let front = &outcome.summary.front;
    writeln!(out, "Pareto front of {objective}: {} trial(s)", front.len())?;
    let held_out = (spec.report != spec.search && !objective.all().iter().any(|g| g.metric == spec.report))
        .then_some(spec.report.as_str());
    for &i in front {
        let trial = &outcome.trials[i];
        let Some(eval) = trial.evaluation.as_ref() else { continue };
        let mut values: Vec<String> = objective
            .all()
            .iter()
            .map(|g| match (g.metric.as_str(), eval.value(&g.metric)) {
                ("flops", Some(v)) => format!("flops {:.2} M", v / 1e6),
                ("params", Some(v)) => format!("params {:.3} M", v / 1e6),
                (name, Some(v)) => format!("{name} {v:.2}"),
                (name, None) => format!("{name} -"),
            })
            .collect();
        if let Some(report) = held_out.and_then(|m| eval.metrics.get(m).map(|v| (m, v))) {
            values.push(format!("[{} {:.2}, held out]", report.0, report.1));
        }
        writeln!(out, "  trial {i:>4}  {}  {}", space.format(&trial.arch), values.join(", "))?;
    }
    Ok(())
}

/// Prints how a study ended and its best architecture, in the paper's style: `93.05 (rank 8 / 6561)`.
fn report(
    space: &dyn SearchSpace,
    spec: &MetricSpec,
    objective: &Objective,
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
    if objective.is_multi() {
        front(space, spec, objective, outcome, out)?;
    }
    if s.stop == StopReason::Interrupted {
        writeln!(out, "interrupted; continue with: genius resume {}", dir.display())?;
        return Ok(Ended::Interrupted);
    }
    Ok(Ended::Done)
}
