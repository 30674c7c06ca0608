//! `genius data fetch | verify | info`, and fetching a missing table or dataset on first use. The HTTP download lives
//! here (ureq, blocking, on a worker thread when called from async code); checking and installing the bytes is
//! `genius_spaces::data` for tables and `genius_train::data::sources` for datasets, so a half-written or corrupt
//! file never lands in the data directory or the dataset cache.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use genius_core::catalog::Resource;
use genius_core::{Evaluator, SpaceExt};
use genius_spaces::catalog::{self, SpaceEntry};
use genius_spaces::data::{DataDir, DataDirSource, DataError, DataFile};
use genius_spaces::table::Table;
use genius_train::DatasetKind;
use genius_train::data::sources::{self, SourceFile};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::DataArgs;
use crate::commands::Ended;

/// The environment variable naming a mirror to download tables from (`--base-url`).
pub const DATA_URL_ENV: &str = "GENIUS_DATA_URL";

/// `genius data`.
#[derive(Debug, Args)]
pub struct DataCommandArgs {
    /// What to do with the tables.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// The `genius data` subcommands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download benchmark tables (into the data directory) or training datasets (fashion-mnist, mnist, cifar10; into
    /// the dataset cache) from their public origins, checking each file against its pinned size and SHA-256.
    Fetch(FetchArgs),
    /// Check every table present in the data directory against its pinned size and SHA-256.
    Verify(VerifyArgs),
    /// Print the size, optimum, mean and best architecture of the tables.
    Info(InfoArgs),
}

/// `genius data fetch`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).multiple(true).args(["names", "all"]))]
pub struct FetchArgs {
    /// Spaces (e.g. nas-bench-201-cifar10), benchmarks (nas-bench-macro, channel-bench-macro, nas-bench-201) or
    /// datasets (fashion-mnist, mnist, cifar10; kept in GENIUS_DATASETS_DIR, else e.g. ~/.cache/genius/datasets).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,

    /// Every table (not the datasets).
    #[arg(long)]
    pub all: bool,

    /// Download again even when an intact copy is present.
    #[arg(long)]
    pub force: bool,

    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataArgs,
}

/// `genius data verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A space or a benchmark [default: every table].
    #[arg(value_name = "NAME")]
    pub name: Option<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataArgs,
}

/// `genius data info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A space or a benchmark [default: every table present].
    #[arg(value_name = "NAME")]
    pub name: Option<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: crate::args::JsonArgs,
}

/// Runs a `genius data` subcommand.
pub async fn run(args: &DataCommandArgs, out: &mut impl Write) -> Result<Ended> {
    match &args.command {
        DataCommand::Fetch(a) => fetch(a, out).await,
        DataCommand::Verify(a) => verify(a, out),
        DataCommand::Info(a) => info(a, out),
    }
}

/// The files `name` stands for, or an error listing the names there are.
fn files_named(name: &str) -> Result<Vec<DataFile>> {
    let files = catalog::files_named(name);
    if files.is_empty() {
        let tabled: Vec<&str> = catalog::spaces().iter().filter(|s| s.table.is_some()).map(|s| s.name).collect();
        bail!(
            "`{name}` names no benchmark table; name a space ({}) or a benchmark ({})",
            tabled.join(", "),
            catalog::groups().join(", ")
        );
    }
    Ok(files)
}

/// The command that fetches `name` into `dir`, for messages.
fn fetch_command(name: &str, dir: &DataDir) -> String {
    match dir.source() {
        DataDirSource::Explicit => format!("genius data fetch {name} --data-dir {}", dir.path().display()),
        _ => format!("genius data fetch {name}"),
    }
}

/// Why a table is not there and how to get it: the command, or the URL and the path to save it at.
fn missing_help(name: &str, file: &DataFile, dir: &DataDir) -> String {
    format!(
        "the {name} table is missing from the data directory {dir}: fetch it with `{}` (needs internet), or \
         download {} and save it as {}",
        fetch_command(name, dir),
        file.url,
        file.path_in(dir).display()
    )
}

/// Makes sure the table of `entry` is in the data directory: a missing table is downloaded (with a notice on stderr
/// and a progress bar when stderr is a terminal) unless `--offline` is set; with `--offline`, or when the download
/// fails, the error says which command fetches it and where to put the file. A present table is left alone (loading
/// it checks its contents).
pub async fn ensure_table(entry: &SpaceEntry, data: &DataArgs, quiet: bool) -> Result<()> {
    let Some(file) = entry.table else { return Ok(()) };
    let dir = data.resolve();
    if file.present_in(&dir) {
        return Ok(());
    }
    let help = missing_help(entry.name, &file, &dir);
    if data.offline {
        bail!("{help} (not downloaded: --offline)");
    }
    let url = file.url_from(data.base_url.as_deref());
    eprintln!(
        "note: the {} table is missing from {dir}; downloading {} ({:.1} MB) from {url}",
        entry.name,
        file.relative,
        file.bytes as f64 / 1e6
    );
    let base = data.base_url.clone();
    let target = dir.clone();
    let installed = tokio::task::spawn_blocking(move || download(&file, &target, base.as_deref(), !quiet))
        .await
        .context("the download thread failed")?;
    let path = installed.map_err(|e| anyhow!("{e:#}\n{help}"))?;
    eprintln!("note: installed {} (size and SHA-256 verified)", path.display());
    Ok(())
}

/// Makes sure the tables of every space in `spaces` are in the data directory before anything runs, as
/// [`ensure_table`] does for one: each missing table is downloaded in turn; with `--offline`, one error names every
/// missing table and the command that fetches them all. Spaces without a table are left to the caller.
pub async fn ensure_tables<'a>(spaces: impl IntoIterator<Item = &'a str>, data: &DataArgs, quiet: bool) -> Result<()> {
    let dir = data.resolve();
    let mut missing: Vec<&SpaceEntry> = Vec::new();
    for name in spaces {
        let Some(entry) = catalog::find(name) else { continue };
        let Some(file) = entry.table else { continue };
        if !file.present_in(&dir) && !missing.iter().any(|m| m.table == Some(file)) {
            missing.push(entry);
        }
    }
    if data.offline && missing.len() > 1 {
        let names: Vec<&str> = missing.iter().map(|e| e.name).collect();
        let files: Vec<String> = missing
            .iter()
            .filter_map(|e| e.table)
            .map(|f| format!("{} -> {}", f.url, f.path_in(&dir).display()))
            .collect();
        bail!(
            "the tables of {} are missing from the data directory {dir}: fetch them with `{}` (needs internet), or \
             download them and save them as\n  {}\n(not downloaded: --offline)",
            names.join(", "),
            fetch_command(&names.join(" "), &dir),
            files.join("\n  ")
        );
    }
    for entry in missing {
        ensure_table(entry, data, quiet).await?;
    }
    Ok(())
}

/// Makes sure every resource a part declared (see `genius_core::catalog::Resource`) is there before it is built:
/// tables as [`ensure_tables`] does, datasets without a directory of their own as [`ensure_dataset`] does.
pub async fn ensure_resources(resources: &[Resource], data: &DataArgs, quiet: bool) -> Result<()> {
    let tables = resources.iter().filter_map(|r| match r {
        Resource::Table { space } => Some(space.as_str()),
        _ => None,
    });
    ensure_tables(tables, data, quiet).await?;
    for resource in resources {
        if let Resource::Dataset { name, dir } = resource {
            let kind: DatasetKind = name.parse()?;
            ensure_dataset(kind, dir.as_deref(), data, quiet).await?;
        }
    }
    Ok(())
}

/// Downloads `file` into `dir` from its origin (or from the mirror `base`), checking it before it is renamed into
/// place. `progress` draws a bar on stderr when it is a terminal.
pub fn download(file: &DataFile, dir: &DataDir, base: Option<&str>, progress: bool) -> Result<PathBuf> {
    let url = file.url_from(base);
    let mut response =
        agent().get(&url).call().map_err(|e| anyhow!("cannot download {} from {url}: {e}", file.relative))?;
    let status = response.status();
    if !status.is_success() {
        bail!("cannot download {} from {url}: the server answered {status}", file.relative);
    }
    let bar = bar(file.bytes, file.relative, progress);
    let mut reader = response.body_mut().as_reader();
    let installed = file.install(dir, &mut reader, &url, &mut |n| bar.set_position(n));
    bar.finish_and_clear();
    Ok(installed?)
}

/// `genius data fetch`.
async fn fetch(args: &FetchArgs, out: &mut impl Write) -> Result<Ended> {
    let mut files = if args.all { catalog::files() } else { Vec::new() };
    let mut datasets = Vec::new();
    for name in &args.names {
        match dataset_named(name) {
            Some(kind) => datasets.push(kind),
            None => {
                let names = DatasetKind::ALL.map(DatasetKind::name).join(", ");
                for file in files_named(name).map_err(|e| anyhow!("{e}, or a dataset ({names})"))? {
                    if !files.contains(&file) {
                        files.push(file);
                    }
                }
            }
        }
    }
    let dir = args.data.resolve();
    let failed = if files.is_empty() { Vec::new() } else { fetch_tables(args, files, &dir, out).await? };
    let mut failed_datasets = Vec::new();
    for kind in datasets {
        let mut say = |line: String| writeln!(out, "{line}").map_err(anyhow::Error::from);
        if let Err(e) = fetch_dataset(kind, &args.data, args.force, !args.quiet, &mut say).await {
            writeln!(out, "{}: FAILED: {e:#}", kind.name())?;
            failed_datasets.push(kind.name());
        }
    }
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|f| f.relative).collect();
        let urls: Vec<String> = failed.iter().map(|f| format!("{} -> {}", f.url, f.path_in(&dir).display())).collect();
        bail!(
            "{} table(s) could not be downloaded: {}; check the connection (or --base-url / {DATA_URL_ENV}), or \
             download them by hand:\n  {}",
            failed.len(),
            names.join(", "),
            urls.join("\n  ")
        );
    }
    if !failed_datasets.is_empty() {
        bail!(
            "{} dataset(s) could not be downloaded: {}; check the connection (or --base-url / {DATA_URL_ENV}), or \
             pass a copy with --dataset-dir when training",
            failed_datasets.len(),
            failed_datasets.join(", ")
        );
    }
    Ok(Ended::Done)
}

/// Downloads the tables of `files` that are missing or damaged (all of them with `--force`) into `dir`; returns
/// those that could not be downloaded.
async fn fetch_tables(
    args: &FetchArgs,
    files: Vec<DataFile>,
    dir: &DataDir,
    out: &mut impl Write,
) -> Result<Vec<DataFile>> {
    let mut failed = Vec::new();
    writeln!(out, "data directory: {dir}")?;
    for file in files {
        if !args.force {
            match file.verify(dir) {
                Ok(()) => {
                    writeln!(
                        out,
                        "{}: present and intact, not downloaded (--force downloads it again)",
                        file.relative
                    )?;
                    continue;
                }
                Err(DataError::Missing { .. }) => {}
                Err(e) => writeln!(out, "{}: {e}; downloading it again", file.relative)?,
            }
        }
        let url = file.url_from(args.data.base_url.as_deref());
        let (base, target, progress) = (args.data.base_url.clone(), dir.clone(), !args.quiet);
        let result = tokio::task::spawn_blocking(move || download(&file, &target, base.as_deref(), progress))
            .await
            .context("the download thread failed")?;
        match result {
            Ok(path) => writeln!(
                out,
                "{}: downloaded {:.1} MB from {url}, size and SHA-256 verified, installed as {}",
                file.relative,
                file.bytes as f64 / 1e6,
                path.display()
            )?,
            Err(e) => {
                writeln!(out, "{}: FAILED: {e:#}", file.relative)?;
                failed.push(file);
            }
        }
    }
    Ok(failed)
}

/// The dataset called `name`, if it is one.
fn dataset_named(name: &str) -> Option<DatasetKind> {
    DatasetKind::ALL.into_iter().find(|d| d.name() == name)
}

/// Why a dataset is not there and how to get it.
fn missing_dataset_help(kind: DatasetKind, dir: &Path) -> String {
    let debian = match kind.debian_dir() {
        Some(d) => format!(", install Debian's dataset-{} (it puts the files in {})", kind.name(), d.display()),
        None => String::new(),
    };
    format!(
        "the {name} dataset is missing from {dir}: fetch it with `{command}` (needs internet){debian}, or pass a \
         directory holding its files with --dataset-dir",
        name = kind.name(),
        dir = dir.display(),
        command = sources::fetch_command(kind),
    )
}

/// Makes sure the dataset of a training search is there and returns its directory: `--dataset-dir` as given (the
/// reader checks its files), else Debian's copy or the dataset cache's. A dataset missing from the cache is
/// downloaded (a line per file on stderr) unless `--offline` is set, which makes it an error naming the command that
/// fetches it.
pub async fn ensure_dataset(
    kind: DatasetKind,
    explicit: Option<&Path>,
    data: &DataArgs,
    quiet: bool,
) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir.to_owned());
    }
    let dir = kind.default_dir(&sources::cache_root());
    if kind.present_in(&dir) {
        return Ok(dir);
    }
    let help = missing_dataset_help(kind, &dir);
    if data.offline {
        bail!("{help} (not downloaded: --offline)");
    }
    let mut say = |line: String| {
        eprintln!("note: {line}");
        Ok(())
    };
    fetch_dataset(kind, data, false, !quiet, &mut say).await.map_err(|e| anyhow!("{e:#}\n{help}"))
}

/// Makes the dataset present and intact, downloading what is missing or damaged (everything with `force`): Debian's
/// intact copy is used as it is, else the dataset cache's. Says a line per file; returns the dataset's directory.
async fn fetch_dataset(
    kind: DatasetKind,
    data: &DataArgs,
    force: bool,
    progress: bool,
    say: &mut dyn FnMut(String) -> Result<()>,
) -> Result<PathBuf> {
    let name = kind.name();
    if let Some(debian) = kind.debian_dir().filter(|d| !force && kind.present_in(d)) {
        match kind.check(debian) {
            Ok(copy) => {
                say(format!("{name}: present and intact in {} ({copy}), not downloaded", debian.display()))?;
                return Ok(debian.to_owned());
            }
            Err(e) => say(format!("{name}: {e}; using the dataset cache instead"))?,
        }
    }
    let dir = kind.dir_in(&sources::cache_root());
    for file in kind.sources() {
        let path = dir.join(file.name);
        if !force {
            match file.check(&path) {
                Ok(_) => {
                    say(format!("{name}/{}: present and intact, not downloaded", file.name))?;
                    continue;
                }
                Err(genius_train::TrainError::Missing { .. }) => {}
                Err(e) => say(format!("{name}/{}: {e}; downloading it again", file.name))?,
            }
        }
        let url = match data.base_url.as_deref() {
            Some(base) => format!("{}/{name}/{}", base.trim_end_matches('/'), file.name),
            None => file.url.to_owned(),
        };
        say(format!("{name}/{}: downloading {:.1} MB from {url}", file.name, file.origin.bytes as f64 / 1e6))?;
        let (file, target) = (*file, dir.clone());
        tokio::task::spawn_blocking(move || download_source(&file, &target, &url, progress))
            .await
            .context("the download thread failed")??;
        say(format!("{name}/{}: size and SHA-256 verified, installed as {}", file.name, path.display()))?;
    }
    if kind == DatasetKind::Cifar10 && (force || kind.check(&dir).is_err()) {
        let (archive, target) = (dir.join(sources::CIFAR10_ARCHIVE.name), dir.clone());
        tokio::task::spawn_blocking(move || sources::unpack_cifar10(&archive, &target))
            .await
            .context("the unpacking thread failed")??;
        say(format!("{name}: unpacked the training and test batches into {}", dir.display()))?;
    }
    kind.check(&dir)?;
    Ok(dir)
}

/// The HTTP client of every download.
fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .user_agent(concat!("genius/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::new_with_config(config)
}

/// A download's progress bar on stderr, drawn only when it is a terminal and `show` is set.
fn bar(total: u64, message: &str, show: bool) -> ProgressBar {
    let bar = if show { ProgressBar::new(total) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_owned());
    bar
}

/// Downloads a dataset's file from `url` into `dir`: written to a temporary file beside its target, checked against
/// the pinned sizes and SHA-256, and only then renamed into place.
fn download_source(file: &SourceFile, dir: &Path, url: &str, progress: bool) -> Result<PathBuf> {
    let mut response = agent().get(url).call().map_err(|e| anyhow!("cannot download {} from {url}: {e}", file.name))?;
    let status = response.status();
    if !status.is_success() {
        bail!("cannot download {} from {url}: the server answered {status}", file.name);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{}.", file.name))
        .suffix(".part")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let bar = bar(file.origin.bytes, file.name, progress);
    let mut reader = response.body_mut().as_reader();
    let (mut buf, mut received) = (vec![0u8; 64 * 1024], 0u64);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                bar.finish_and_clear();
                bail!(
                    "the download of {} from {url} failed after {received} bytes: {e}; nothing was installed",
                    file.name
                )
            }
        };
        received += n as u64;
        temp.write_all(&buf[..n]).with_context(|| format!("cannot write {}", temp.path().display()))?;
        bar.set_position(received);
    }
    bar.finish_and_clear();
    temp.as_file().sync_all().with_context(|| format!("cannot write {}", temp.path().display()))?;
    file.check(temp.path()).map_err(|e| {
        anyhow!("the download of {} from {url} is not the published file ({e}); nothing was installed", file.name)
    })?;
    let target = dir.join(file.name);
    temp.persist(&target).with_context(|| format!("cannot rename the download into place as {}", target.display()))?;
    Ok(target)
}

/// `genius data verify`.
fn verify(args: &VerifyArgs, out: &mut impl Write) -> Result<Ended> {
    let files = match &args.name {
        Some(name) => files_named(name)?,
        None => catalog::files(),
    };
    let dir = args.data.resolve();
    writeln!(out, "data directory: {dir}")?;
    let (mut intact, mut missing, mut bad) = (0, 0, Vec::new());
    for file in &files {
        match file.verify(&dir) {
            Ok(()) => {
                intact += 1;
                writeln!(out, "ok       {}", file.relative)?;
            }
            Err(DataError::Missing { .. }) => {
                missing += 1;
                writeln!(out, "missing  {}", file.relative)?;
            }
            Err(e) => {
                writeln!(out, "DAMAGED  {}: {e}", file.relative)?;
                bad.push(file.relative);
            }
        }
    }
    writeln!(out, "{intact} intact, {missing} missing, {} damaged", bad.len())?;
    if !bad.is_empty() {
        bail!(
            "{} table(s) do not match their pinned SHA-256: {}; delete them and run `genius data fetch NAME`",
            bad.len(),
            bad.join(", ")
        );
    }
    Ok(Ended::Done)
}

/// The spaces whose tables `name` stands for (all tabled spaces when `None`).
fn spaces_named(name: Option<&str>) -> Result<Vec<&'static SpaceEntry>> {
    let tabled = catalog::spaces().iter().filter(|s| s.table.is_some());
    match name {
        None => Ok(tabled.collect()),
        Some(name) => {
            let files = files_named(name)?;
            Ok(tabled.filter(|s| s.table.is_some_and(|f| files.contains(&f))).collect())
        }
    }
}

/// `genius data info`.
fn info(args: &InfoArgs, out: &mut impl Write) -> Result<Ended> {
    let dir = args.data.resolve();
    let json = args.json.json;
    let mut tables = Vec::new();
    if !json {
        writeln!(out, "data directory: {dir}")?;
    }
    for entry in spaces_named(args.name.as_deref())? {
        let file = entry.table.expect("tabled spaces only");
        if !json {
            writeln!(out)?;
        }
        if !file.present_in(&dir) {
            if args.name.is_some() {
                bail!("{}", missing_help(entry.name, &file, &dir));
            }
            if json {
                tables.push(serde_json::json!({"space": entry.name, "file": file.relative, "present": false}));
            } else {
                writeln!(out, "{}: missing ({})", entry.name, fetch_command(entry.name, &dir))?;
            }
            continue;
        }
        let table = entry.load_table(&dir).expect("a tabled space")?;
        if json {
            tables.push(describe_json(entry, &table));
        } else {
            describe(entry, &table, out)?;
        }
    }
    if json {
        let doc = serde_json::json!({"data_dir": dir.path(), "tables": tables});
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(Ended::Done)
}

/// [`describe`] as JSON.
fn describe_json(entry: &SpaceEntry, table: &Table) -> serde_json::Value {
    let spec = table.metrics();
    let metrics: Vec<serde_json::Value> = spec
        .metrics
        .iter()
        .map(|metric| {
            let values = table.column(&metric.name).expect("a metric of the table");
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let max = values.iter().cloned().fold(f64::MIN, f64::max);
            let min = values.iter().cloned().fold(f64::MAX, f64::min);
            serde_json::json!({"name": metric.name, "max": max, "mean": mean, "min": min})
        })
        .collect();
    serde_json::json!({
        "space": entry.name,
        "summary": entry.summary,
        "file": entry.table.map(|f| f.relative),
        "present": true,
        "architectures": table.rows().len(),
        "searched_metric": spec.search,
        "reported_metric": spec.report,
        "metrics": metrics,
        "optimum": table.optimum().map(|o| serde_json::json!({
            "value": o.value,
            "architecture": table.space().format(&o.arch),
        })),
    })
}

/// The statistics of one table.
fn describe(entry: &SpaceEntry, table: &Table, out: &mut impl Write) -> Result<()> {
    let space = table.space();
    let spec = table.metrics();
    let file = entry.table.expect("tabled");
    writeln!(out, "{}: {}", entry.name, entry.summary)?;
    writeln!(out, "  file          {}", file.relative)?;
    writeln!(out, "  architectures {}", table.rows().len())?;
    for metric in &spec.metrics {
        let values = table.column(&metric.name).expect("a metric of the table");
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let max = values.iter().cloned().fold(f64::MIN, f64::max);
        let min = values.iter().cloned().fold(f64::MAX, f64::min);
        let role = match (metric.name == spec.search, metric.name == spec.report) {
            (true, true) => "searched and reported",
            (true, false) => "searched",
            (false, true) => "reported, held out",
            (false, false) => "recorded",
        };
        writeln!(out, "  {:<13} max {max:.4}  mean {mean:.4}  min {min:.4}  [{role}]", metric.name)?;
    }
    if let Some(optimum) = table.optimum() {
        writeln!(out, "  optimum       {:.4} {} (rank 1 by {})", optimum.value, spec.report, spec.report)?;
        writeln!(out, "  best          {}", space.format(&optimum.arch))?;
        let eval = table.lookup(&optimum.arch);
        let others: Vec<String> = spec
            .metrics
            .iter()
            .filter(|m| m.name != spec.report)
            .map(|m| format!("{} {:.4}", m.name, eval.metrics[&m.name]))
            .chain(eval.params.map(|p| format!("params {:.2} M", p as f64 / 1e6)))
            .chain(eval.flops.map(|f| format!("FLOPs {:.1} M", f as f64 / 1e6)))
            .collect();
        if !others.is_empty() {
            writeln!(out, "                {}", others.join(", "))?;
        }
        let ties = space.enumerate().filter(|a| table.rank(a).rank == 1).count();
        if ties > 1 {
            writeln!(out, "                ({ties} architectures share rank 1)")?;
        }
    }
    if spec.search == spec.report {
        writeln!(out, "  note          {}", spec.search_metric().description)?;
    }
    Ok(())
}
