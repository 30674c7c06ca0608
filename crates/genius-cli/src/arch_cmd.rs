//! `genius arch`: parse an architecture in any of its space's text forms and print it canonically, with its
//! parameters and FLOPs where the space can count them, its constraint, and its table metrics and rank.

use std::io::Write;

use anyhow::{Result, anyhow};
use clap::Args;
use genius_core::{Evaluator, Notation, SpaceExt};

use crate::args::DataArgs;
use crate::commands::Ended;
use crate::{data_cmd, registry};

/// `genius arch`.
#[derive(Debug, Args)]
pub struct ArchArgs {
    /// The search space (see `genius spaces`).
    #[arg(long, value_name = "SPACE")]
    pub space: String,

    /// The architecture, in any text form the space reads (e.g. `02012100`, `[64, 576, ...]`, a NAS-Bench-201 cell
    /// string or `[3, 3, 3, 1, 2, 3]`).
    #[arg(value_name = "ARCH", allow_hyphen_values = true)]
    pub arch: String,

    /// Do not look the architecture up in the space's table.
    #[arg(long)]
    pub no_table: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataArgs,
}

/// `genius arch`.
pub async fn arch(args: &ArchArgs, out: &mut impl Write) -> Result<Ended> {
    // The space's own catalog: its parameter and FLOPs calculator and its table, beyond the generic entry.
    registry::catalogs().spaces.find(&args.space)?;
    let entry = genius_spaces::catalog::find(&args.space)
        .ok_or_else(|| anyhow!("`genius arch` reads genius-spaces' spaces only, not `{}`", args.space))?;
    let space = entry.space();
    let arch = space.parse(&args.arch)?;
    writeln!(out, "space      {}", entry.name)?;
    writeln!(out, "canonical  {}", space.format(&arch))?;
    writeln!(out, "choices    {}", Notation::Choices.write(&*space, &arch))?;
    writeln!(out, "labels     {}", Notation::Labels.write(&*space, &arch))?;
    writeln!(out, "index      {} of {}", space.index_of(&arch), space.cardinality())?;
    let mut counted = None;
    if let Some((params, flops)) = entry.cost(&arch) {
        writeln!(out, "params     {params} ({:.3} M)", params as f64 / 1e6)?;
        writeln!(out, "FLOPs      {flops} ({:.2} M)", flops as f64 / 1e6)?;
        counted = Some((params, flops));
    }
    if space.is_constrained() {
        match space.check(&arch) {
            Ok(()) => writeln!(out, "constraint satisfied")?,
            Err(v) => writeln!(out, "constraint VIOLATED: {v}")?,
        }
    }
    if entry.table.is_none() || args.no_table {
        return Ok(Ended::Done);
    }
    data_cmd::ensure_table(entry, &args.data, false).await?;
    let table = entry.load_table(&args.data.resolve()).ok_or_else(|| anyhow!("{} has no table", entry.name))??;
    let spec = table.metrics().clone();
    let eval = table.lookup(&arch);
    writeln!(out, "table      {}", entry.table.map_or("", |f| f.relative))?;
    for metric in &spec.metrics {
        let value = eval.metrics[&metric.name];
        let role = match (metric.name == spec.search, metric.name == spec.report) {
            (true, true) => "searched and reported",
            (true, false) => "searched",
            (false, true) => "reported, held out",
            (false, false) => "recorded",
        };
        let mut line = format!("  {:<14} {value:.4}", metric.name);
        if metric.name == spec.report {
            if let Some(rank) = eval.rank {
                line.push_str(&format!("  (rank {} / {})", rank.rank, rank.of));
            }
            if let Some(optimum) = table.optimum() {
                line.push_str(&format!("  optimum {:.4}", optimum.value));
            }
        }
        writeln!(out, "{line}  [{role}]")?;
    }
    if counted.is_none() {
        if let Some(params) = eval.params {
            writeln!(out, "  params         {params} ({:.3} M)", params as f64 / 1e6)?;
        }
        if let Some(flops) = eval.flops {
            writeln!(out, "  FLOPs          {flops} ({:.2} M)", flops as f64 / 1e6)?;
        }
    } else if let (Some((params, flops)), Some(tp), Some(tf)) = (counted, eval.params, eval.flops) {
        let agree = if (params, flops) == (tp, tf) { "agree" } else { "DIFFER" };
        writeln!(out, "  params, FLOPs  {tp}, {tf} (table; the calculator's counts {agree})")?;
    }
    if let Some(details) = &eval.details {
        writeln!(out, "  details        {details}")?;
    }
    if spec.search == spec.report {
        writeln!(out, "note: {}: {}", spec.search, spec.search_metric().description)?;
    }
    Ok(Ended::Done)
}
