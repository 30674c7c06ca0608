//! `report.md`: tables in the paper's style, pairwise comparisons, ablations, plots, configuration and machine.

use std::collections::BTreeMap;
use std::fmt::Write;

use std::path::PathBuf;

use crate::stats::{bootstrap_mean_difference, mann_whitney};
use crate::summary::SummaryRow;
use crate::{FailedRun, GridInfo};

/// `93.05 (rank 8 / 6561)` for one run; `92.43 ± 0.33 (rank 597 / 6561)` over several (mean rank).
pub fn cell(row: &SummaryRow) -> String {
    let mut s = if row.runs > 1 { format!("{:.2} ± {:.2}", row.mean, row.std) } else { format!("{:.2}", row.mean) };
    if let (Some(rank), Some(of)) = (row.mean_rank, row.table_size) {
        let _ = write!(s, " (rank {:.0} / {of})", rank);
    }
    s
}

/// A space's multi-objective section, when its rows have hypervolumes: mean ± sd of the hypervolume of the runs'
/// Pareto fronts and their mean size at each budget, then the same comparison against the baseline as the metric's
/// (difference of means with its bootstrap interval, Mann–Whitney U) on the hypervolumes.
fn hypervolume(
    out: &mut String,
    info: &GridInfo,
    in_space: &[&&SummaryRow],
    optimizers: &[String],
    budgets: &[usize],
    header: &[String],
) {
    let with_hv: Vec<&&SummaryRow> = in_space.iter().copied().filter(|r| r.hv_mean.is_some()).collect();
    let Some(first) = with_hv.first() else { return };
    let _ = writeln!(
        out,
        "Multi-objective ({}): hypervolume of each run's Pareto front (exact; larger is better) above the reference \
         point {}, which lies a tenth of each objective's range beyond the worst point of every front compared here; \
         mean ± sample standard deviation over seeds, with the mean number of trials on a front:\n",
        first.objectives, first.hv_reference
    );
    let find = |o: &str, b: usize| with_hv.iter().find(|r| r.optimizer == o && r.budget == b);
    let body: Vec<Vec<String>> = optimizers
        .iter()
        .filter(|o| with_hv.iter().any(|r| &r.optimizer == *o))
        .map(|o| {
            std::iter::once(o.clone())
                .chain(budgets.iter().map(|&b| {
                    find(o, b).map_or("–".into(), |r| {
                        format!(
                            "{} ± {} ({:.1} on the front)",
                            significant(r.hv_mean.unwrap_or_default()),
                            significant(r.hv_std.unwrap_or_default()),
                            r.front_size.unwrap_or_default()
                        )
                    })
                }))
                .collect()
        })
        .collect();
    table(out, header, &body);
    let _ = writeln!(
        out,
        "Pooled over seeds: the fronts plot draws, for each optimizer, the staircase that at least half of its runs' \
         final fronts attain (the 50% attainment front in the first two objectives); `attainment.csv` lists its \
         points.\n"
    );
    let baseline = info
        .baseline
        .clone()
        .filter(|b| optimizers.contains(b))
        .or_else(|| optimizers.iter().find(|o| o.as_str() == "random").cloned());
    let Some(base) = baseline else { return };
    let others: Vec<&String> = optimizers.iter().filter(|o| **o != base && find(o, budgets[0]).is_some()).collect();
    if others.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Hypervolume against `{base}`: difference of means with its 95% bootstrap interval (2,000 resamples), and \
         the two-sided Mann–Whitney U p-value:\n"
    );
    let body: Vec<Vec<String>> = others
        .iter()
        .map(|o| {
            std::iter::once((*o).clone())
                .chain(budgets.iter().map(|&b| match (find(o, b), find(&base, b)) {
                    (Some(x), Some(y)) if x.hv_values.len() > 1 && y.hv_values.len() > 1 => {
                        let (lo, hi) = bootstrap_mean_difference(&x.hv_values, &y.hv_values, 2000, 0);
                        let p = mann_whitney(&x.hv_values, &y.hv_values);
                        let p = if p < 0.001 { "p < 0.001".to_owned() } else { format!("p = {p:.3}") };
                        let diff = x.hv_mean.unwrap_or_default() - y.hv_mean.unwrap_or_default();
                        format!("{} [{}, {}], {p}", signed(diff), signed(lo), signed(hi))
                    }
                    _ => "–".into(),
                }))
                .collect()
        })
        .collect();
    table(out, header, &body);
}

/// `v` to four significant digits (hypervolumes span many orders of magnitude with FLOPs as an objective).
fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).max(0) as usize;
    if v.abs() >= 1e6 { format!("{v:.3e}") } else { format!("{v:.digits$}") }
}

/// [`significant`] with its sign.
fn signed(v: f64) -> String {
    if v >= 0.0 { format!("+{}", significant(v)) } else { significant(v) }
}

fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", header.iter().map(|_| "---|").collect::<String>());
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out.push('\n');
}

/// The rows named `names` (optimizer labels, or an ablation's values) against `reference`, one of them, at each of
/// `budgets`: the difference of means with its 95% bootstrap interval and the two-sided Mann–Whitney U p-value.
/// `find(name, budget)` is a name's row at a budget. Nothing is written when `reference` is the only name.
fn significance<'r>(
    out: &mut String,
    reference: &str,
    names: &[String],
    budgets: &[usize],
    header: &[String],
    find: impl Fn(&str, usize) -> Option<&'r SummaryRow>,
) {
    let others: Vec<&String> = names.iter().filter(|o| o.as_str() != reference).collect();
    if others.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Against `{reference}`: difference of means with its 95% bootstrap interval (2,000 resamples), and the \
         two-sided Mann–Whitney U p-value:\n"
    );
    let body: Vec<Vec<String>> = others
        .iter()
        .map(|o| {
            std::iter::once((*o).clone())
                .chain(budgets.iter().map(|&b| match (find(o, b), find(reference, b)) {
                    (Some(x), Some(y)) if x.runs > 1 && y.runs > 1 => {
                        let (lo, hi) = bootstrap_mean_difference(&x.values, &y.values, 2000, 0);
                        let p = mann_whitney(&x.values, &y.values);
                        let p = if p < 0.001 { "p < 0.001".to_owned() } else { format!("p = {p:.3}") };
                        format!("{:+.2} [{lo:+.2}, {hi:+.2}], {p}", x.mean - y.mean)
                    }
                    _ => "–".into(),
                }))
                .collect()
        })
        .collect();
    table(out, header, &body);
}

/// Says which optimizers are still in their initial random phase at which budgets: there they are random search,
/// and a difference from random search is chance by construction (evolution's first population, TPE's startup
/// trials, ...).
fn random_phase_note(out: &mut String, info: &GridInfo, optimizers: &[String], budgets: &[usize]) {
    let inside: Vec<String> = optimizers
        .iter()
        .filter_map(|o| {
            let phase = *info.random_phases.get(o)?;
            let within: Vec<String> = budgets.iter().filter(|&&b| b <= phase).map(|b| b.to_string()).collect();
            (!within.is_empty()).then(|| {
                format!("`{o}` at {} queries (its first {phase} proposals are uniform draws)", within.join(", "))
            })
        })
        .collect();
    if !inside.is_empty() {
        let _ = writeln!(
            out,
            "Note: within its initial random phase an optimizer *is* random search, so a difference from random \
             search there is chance by construction: {}.\n",
            inside.join("; ")
        );
    }
}

/// The file stem of the plot of ablation `name` on `space`: `<space>-ablation-<name>`, the name made file-safe.
pub fn ablation_stem(space: &str, name: &str) -> String {
    let safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("{space}-ablation-{safe}")
}

/// Renders the report; `failures` and `stray` (run directories that are not part of the grid) are listed as left out.
pub fn render(
    info: &GridInfo,
    rows: &[SummaryRow],
    plots: &[(String, String)],
    failures: &[FailedRun],
    stray: &[PathBuf],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", if info.name.is_empty() { "Comparison" } else { &info.name });
    out.push_str(&results(info, rows, plots, failures, stray));
    if !info.config.is_empty() {
        let _ = writeln!(out, "## Configuration\n\n```toml\n{}\n```\n", info.config.trim_end());
    }
    if !info.machine.is_empty() || !info.versions.is_empty() {
        let _ =
            writeln!(out, "## Machine and versions\n\n- machine: {}\n- versions: {}\n", info.machine, info.versions);
    }
    out
}

/// The report's results, between its title and its configuration: the description, the tables of every space,
/// comparisons, ablations, failed and stray runs, with a link to each plot in `plots` (none when `plots` is empty,
/// as a terminal shows them).
pub fn results(
    info: &GridInfo,
    rows: &[SummaryRow],
    plots: &[(String, String)],
    failures: &[FailedRun],
    stray: &[PathBuf],
) -> String {
    let mut out = String::new();
    if !info.description.is_empty() {
        let _ = writeln!(out, "{}\n", info.description.trim());
    }
    let _ = writeln!(
        out,
        "Each cell is the reported metric of the best architecture found within the budget (chosen by the search \
         metric only), mean ± sample standard deviation over seeds, with its mean rank in the benchmark table \
         (1 = best). Budgets count evaluations (queries); a run that stopped early keeps its last incumbent.\n"
    );
    let main: Vec<&SummaryRow> = rows.iter().filter(|r| r.ablation.is_empty()).collect();
    let mut spaces: Vec<String> = info.spaces.clone();
    for r in &main {
        if !spaces.contains(&r.space) {
            spaces.push(r.space.clone());
        }
    }
    for space in &spaces {
        let in_space: Vec<&&SummaryRow> = main.iter().filter(|r| &r.space == space).collect();
        if in_space.is_empty() {
            continue;
        }
        let metric = &in_space[0].metric;
        let seeds = in_space.iter().map(|r| r.runs).max().unwrap_or(0);
        let _ = writeln!(out, "## {space}: {metric}, {seeds} seed(s)\n");
        let optimizers = ordered(&info.optimizers, in_space.iter().map(|r| r.optimizer.clone()));
        let budgets = ordered_budgets(in_space.iter().map(|r| r.budget));
        let header: Vec<String> =
            std::iter::once("optimizer".to_owned()).chain(budgets.iter().map(|b| format!("{b} queries"))).collect();
        let body: Vec<Vec<String>> = optimizers
            .iter()
            .map(|o| {
                std::iter::once(o.clone())
                    .chain(budgets.iter().map(|&b| {
                        in_space.iter().find(|r| &r.optimizer == o && r.budget == b).map_or("–".into(), |r| cell(r))
                    }))
                    .collect()
            })
            .collect();
        table(&mut out, &header, &body);

        let regret: Vec<Vec<String>> = optimizers
            .iter()
            .filter_map(|o| {
                let cells: Vec<String> = budgets
                    .iter()
                    .map(|&b| {
                        in_space
                            .iter()
                            .find(|r| &r.optimizer == o && r.budget == b)
                            .and_then(|r| r.mean_regret)
                            .map_or("–".into(), |g| format!("{g:.2}"))
                    })
                    .collect();
                cells.iter().any(|c| c != "–").then(|| std::iter::once(o.clone()).chain(cells).collect())
            })
            .collect();
        if !regret.is_empty() {
            let _ = writeln!(out, "Mean regret to the table's optimum (0 is optimal):\n");
            table(&mut out, &header, &regret);
        }

        let baseline = info
            .baseline
            .clone()
            .filter(|b| optimizers.contains(b))
            .or_else(|| optimizers.iter().find(|o| o.as_str() == "random").cloned());
        if let Some(base) = baseline {
            let find =
                |name: &str, b: usize| in_space.iter().find(|r| r.optimizer == name && r.budget == b).map(|r| **r);
            significance(&mut out, &base, &optimizers, &budgets, &header, find);
        }
        random_phase_note(&mut out, info, &optimizers, &budgets);

        hypervolume(&mut out, info, &in_space, &optimizers, &budgets, &header);

        let usage: Vec<Vec<String>> = optimizers
            .iter()
            .filter_map(|o| {
                let r = in_space.iter().filter(|r| &r.optimizer == o).max_by_key(|r| r.budget)?;
                (r.llm_calls > 0.0).then(|| {
                    vec![
                        o.clone(),
                        r.budget.to_string(),
                        format!("{:.1}", r.llm_calls),
                        format!("{:.0}", r.tokens),
                        format!("{:.4}", r.cost_usd),
                    ]
                })
            })
            .collect();
        if !usage.is_empty() {
            let _ = writeln!(out, "Model usage per run (mean over seeds):\n");
            let header: Vec<String> =
                ["optimizer", "budget", "calls", "tokens", "cost (USD)"].iter().map(|s| s.to_string()).collect();
            table(&mut out, &header, &usage);
        }
        for (space_of, file) in plots {
            if space_of == space && !file.contains("-ablation-") {
                let _ = writeln!(out, "![{file}]({file})\n");
            }
        }
    }

    let mut ablations: BTreeMap<(String, String), Vec<&SummaryRow>> = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.ablation.is_empty()) {
        ablations.entry((r.ablation.clone(), r.space.clone())).or_default().push(r);
    }
    for ((name, space), rs) in &ablations {
        let info_ab = info.ablations.iter().find(|a| &a.name == name);
        let what = info_ab.map(|a| format!(" ({}: varying `{}`)", a.optimizer, a.setting)).unwrap_or_default();
        let _ = writeln!(out, "## Ablation `{name}` on {space}{what}\n");
        let values = match info_ab {
            Some(a) => ordered(&a.values, rs.iter().map(|r| r.value.clone())),
            None => ordered(&[], rs.iter().map(|r| r.value.clone())),
        };
        let budgets = ordered_budgets(rs.iter().map(|r| r.budget));
        let header: Vec<String> =
            std::iter::once("value".to_owned()).chain(budgets.iter().map(|b| format!("{b} queries"))).collect();
        let body: Vec<Vec<String>> =
            values
                .iter()
                .map(|v| {
                    std::iter::once(v.clone())
                        .chain(budgets.iter().map(|&b| {
                            rs.iter().find(|r| &r.value == v && r.budget == b).map_or("–".into(), |r| cell(r))
                        }))
                        .collect()
                })
                .collect();
        table(&mut out, &header, &body);
        if let Some(reference) = values.first() {
            let find = |value: &str, b: usize| rs.iter().find(|r| r.value == value && r.budget == b).copied();
            significance(&mut out, reference, &values, &budgets, &header, find);
        }
        let stem = ablation_stem(space, name);
        for (space_of, file) in plots {
            if space_of == space && file.ends_with(&format!("/{stem}.svg")) {
                let _ = writeln!(out, "![{file}]({file})\n");
            }
        }
    }

    if !info.references.is_empty() {
        let _ = writeln!(
            out,
            "## Published results (reference, not rerun here)\n\nAs published, for comparison with the rows above: each \
             cell is the mean ± sample standard deviation over the published trials of the best result within the \
             budget, with its mean rank. These numbers were not produced by this comparison.\n"
        );
        let header: Vec<String> =
            ["space", "what", "budget", "trials", "result", "source"].iter().map(|s| (*s).to_owned()).collect();
        let body: Vec<Vec<String>> = info
            .references
            .iter()
            .map(|r| {
                let n = r.values.len() as f64;
                let mean = r.values.iter().sum::<f64>() / n;
                let sd = if r.values.len() > 1 {
                    (r.values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
                } else {
                    0.0
                };
                let rank = match (r.ranks.is_empty(), r.of) {
                    (true, _) => String::new(),
                    (false, of) => {
                        let mean_rank = r.ranks.iter().sum::<u64>() as f64 / r.ranks.len() as f64;
                        format!(" (rank {mean_rank:.0}{})", of.map_or(String::new(), |o| format!(" / {o}")))
                    }
                };
                vec![
                    r.space.clone(),
                    r.label.clone(),
                    r.budget.to_string(),
                    r.values.len().to_string(),
                    format!("{mean:.2} ± {sd:.2}{rank}"),
                    r.source.clone(),
                ]
            })
            .collect();
        table(&mut out, &header, &body);
    }

    if !failures.is_empty() {
        let _ = writeln!(
            out,
            "## Failed runs\n\n{} run(s) failed and are left out of every table above; running the comparison again \
             retries them.\n",
            failures.len()
        );
        let header: Vec<String> =
            ["run", "space", "optimizer", "seed", "reason"].iter().map(|s| s.to_string()).collect();
        let body: Vec<Vec<String>> = failures
            .iter()
            .map(|f| {
                let label = match &f.label.ablation {
                    Some(a) => format!("{} [{} = {}]", f.label.optimizer, a.setting, a.value),
                    None => f.label.optimizer.clone(),
                };
                let reason = f.reason.replace('|', "\\|").replace('\n', " ");
                vec![format!("`{}`", f.dir.display()), f.space.clone(), label, f.seed.to_string(), reason]
            })
            .collect();
        table(&mut out, &header, &body);
    }
    if !stray.is_empty() {
        let _ = writeln!(out, "## Runs left out\n\nThese run directories are not part of this comparison:\n");
        for d in stray {
            let _ = writeln!(out, "- `{}`", d.display());
        }
        out.push('\n');
    }
    out
}

fn ordered(preferred: &[String], found: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let found: Vec<String> = found.collect();
    for p in preferred {
        if found.contains(p) && !out.contains(p) {
            out.push(p.clone());
        }
    }
    let mut rest: Vec<String> = found.into_iter().filter(|f| !out.contains(f)).collect();
    rest.sort();
    rest.dedup();
    out.extend(rest);
    out
}

fn ordered_budgets(found: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut b: Vec<usize> = found.collect();
    b.sort_unstable();
    b.dedup();
    b
}
