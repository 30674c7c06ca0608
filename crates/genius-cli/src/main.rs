//! The `genius` binary.

use std::process::ExitCode;

use clap::Parser;
use genius_cli::args::Cli;
use genius_cli::{Ended, run};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A model call being retried says why and when the next attempt is, instead of a silent wait.
    genius_llm::retry::on_retry(|notice| eprintln!("note: {notice}"));
    // Training a candidate takes minutes: each epoch says so, unless the command is quiet.
    if !cli.quiet() {
        genius_train::session::on_epoch(|notice| eprintln!("{notice}"));
    }
    let mut stdout = std::io::stdout().lock();
    match run(cli, &mut stdout).await {
        Ok(Ended::Done) => ExitCode::SUCCESS,
        Ok(Ended::Interrupted) => ExitCode::from(genius_cli::EXIT_INTERRUPTED),
        // The reader went away (`genius compare ... | head -1`): nothing is wrong, there is just no one to tell.
        Err(e) if genius_cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
