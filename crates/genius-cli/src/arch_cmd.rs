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
    #[arg(long, value_name = "SPACE", value_parser = clap::builder::PossibleValuesParser::new(crate::registry::space_names()))]
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

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: crate::args::JsonArgs,
}

/// `genius arch`.
pub async fn arch(args: &ArchArgs, out: &mut impl Write) -> Result<Ended> {
    if !args.json.json {
        return arch_text(args, out, &mut serde_json::Map::new()).await;
    }
    let mut doc = serde_json::Map::new();
    arch_text(args, &mut std::io::sink(), &mut doc).await?;
    writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    Ok(Ended::Done)
}

/// `genius arch` as text on `out`, and as the JSON document `doc`.
async fn arch_text(
    args: &ArchArgs,
    out: &mut impl Write,
    doc: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<Ended> {
    use serde_json::json;
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
    doc.insert("space".into(), json!(entry.name));
    doc.insert("canonical".into(), json!(space.format(&arch)));
    doc.insert("choices".into(), json!(Notation::Choices.write(&*space, &arch)));
    doc.insert("labels".into(), json!(Notation::Labels.write(&*space, &arch)));
    doc.insert("index".into(), json!(space.index_of(&arch).to_string()));
    doc.insert("of".into(), json!(space.cardinality().to_string()));
    let mut counted = None;
    if let Some((params, flops)) = entry.cost(&arch) {
        writeln!(out, "params     {params} ({:.3} M)", params as f64 / 1e6)?;
        writeln!(out, "FLOPs      {flops} ({:.2} M)", flops as f64 / 1e6)?;
        counted = Some((params, flops));
        doc.insert("params".into(), json!(params));
        doc.insert("flops".into(), json!(flops));
    }
    if space.is_constrained() {
        match space.check(&arch) {
            Ok(()) => writeln!(out, "constraint satisfied")?,
            Err(v) => {
                doc.insert("violation".into(), json!(v.to_string()));
                writeln!(out, "constraint VIOLATED: {v}")?
            }
        }
        doc.insert("constraint_satisfied".into(), json!(space.check(&arch).is_ok()));
    }
    if entry.table.is_none() || args.no_table {
        return Ok(Ended::Done);
    }
    data_cmd::ensure_table(entry, &args.data, false).await?;
    let table = entry.load_table(&args.data.resolve()).ok_or_else(|| anyhow!("{} has no table", entry.name))??;
    let spec = table.metrics().clone();
    let eval = table.lookup(&arch);
    writeln!(out, "table      {}", entry.table.map_or("", |f| f.relative))?;
    doc.insert("table".into(), json!(entry.table.map_or("", |f| f.relative)));
    doc.insert("metrics".into(), json!(eval.metrics));
    doc.insert("rank".into(), json!(eval.rank.map(|r| json!({"rank": r.rank, "of": r.of}))));
    doc.insert("optimum".into(), json!(table.optimum().map(|o| o.value)));
    doc.insert("searched_metric".into(), json!(spec.search));
    doc.insert("reported_metric".into(), json!(spec.report));
    if counted.is_none() {
        doc.insert("params".into(), json!(eval.params));
        doc.insert("flops".into(), json!(eval.flops));
    }
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
