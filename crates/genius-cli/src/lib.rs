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
pub mod data_cmd;
pub mod evaluate_cmd;
pub mod model_cmd;
pub mod own;
pub mod paper_reference;
pub mod progress;
pub mod registry;

use std::io::Write;

use anyhow::Result;
use args::{Cli, Command};
pub use commands::Ended;

/// Runs a parsed command line, writing results to `out`.
pub async fn run(cli: Cli, out: &mut impl Write) -> Result<Ended> {
    match &cli.command {
        Command::Spaces(args) => commands::spaces(args, out),
        Command::Optimizers => commands::optimizers(out),
        Command::Search(args) => commands::search(args, out).await,
        Command::Resume(args) => commands::resume(args, out).await,
        Command::Data(args) => data_cmd::run(args, out).await,
        Command::Model(args) => model_cmd::run(args, out).await,
        Command::Arch(args) => arch_cmd::arch(args, out).await,
        Command::Evaluate(args) => evaluate_cmd::evaluate(args, out).await,
        Command::Compare(args) => compare::compare(args, out).await,
        Command::Report(args) => compare::report(args, out),
    }
}
