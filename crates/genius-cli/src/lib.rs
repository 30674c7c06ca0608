//! The `genius` command: search, resume and inspect NAS runs. The library half holds the clap types, the registry
//! that builds studies from names, and the subcommands, so that tests can drive them without a process.

#![allow(clippy::print_stdout)]
// The doc comments of the clap types are the command's help text, written for a terminal ("[default: ...]",
// "PROVIDER[:MODEL]", "runs/<name>", bare URLs), not as rustdoc markup.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls, rustdoc::invalid_html_tags)]

pub mod arch_cmd;
pub mod args;
pub mod commands;
pub mod compare;
pub mod dashboard_cmd;
pub mod data_cmd;
pub mod evaluate_cmd;
pub mod model_cmd;
pub mod paper_reference;
pub mod progress;
pub mod registry;

use std::io::Write;

use anyhow::Result;
use args::{Cli, Command};
pub use commands::Ended;

/// The exit status of a command stopped by Ctrl-C (its run log intact; `genius resume` continues it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Whether `error` comes from writing to a closed pipe (the reader of `genius ... | head -1` has gone): the command
/// then ends quietly, as other command-line tools do.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Runs a parsed command line, writing results to `out`.
pub async fn run(cli: Cli, out: &mut impl Write) -> Result<Ended> {
    match &cli.command {
        Command::Spaces(args) => commands::spaces(args, out),
        Command::Optimizers(args) => commands::optimizers(args.name.as_deref(), args.json.json, out),
        Command::Evaluators(args) => commands::evaluators(args.name.as_deref(), args.json.json, out),
        Command::Executors(args) => commands::executors(args.name.as_deref(), args.json.json, out),
        Command::Search(args) => commands::search(args, out).await,
        Command::Resume(args) => commands::resume(args, out).await,
        Command::Data(args) => data_cmd::run(args, out).await,
        Command::Model(args) => model_cmd::run(args, out).await,
        Command::Arch(args) => arch_cmd::arch(args, out).await,
        Command::Evaluate(args) => evaluate_cmd::evaluate(args, out).await,
        Command::Compare(args) => compare::compare(args, out).await,
        Command::Report(args) => compare::report(args, out),
        Command::Dashboard(args) => dashboard_cmd::dashboard(args, out).await,
        Command::Completions(args) => {
            use clap::CommandFactory;
            // Generated whole, then written: clap_complete panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "genius", &mut script);
            out.write_all(&script)?;
            Ok(Ended::Done)
        }
    }
}
