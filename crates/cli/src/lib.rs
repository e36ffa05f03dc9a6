//! The `bosun` command line: `validate`, `schema`, `plan` and `apply`.
//!
//! Exit codes: 0 success; 1 a user error (invalid stackfile, conflicts, refused or
//! failed apply, a rollout that did not succeed); 2 `plan --detailed-exitcode` found
//! changes; 3 an internal error (a bug, or AWS failing on its side).
//!
//! # Layout
//! - [`cli`]: the clap definitions.
//! - [`commands`]: one function per command.
//! - [`output`]: error rendering (`error:`, `caused by:`, `hint:`), progress, stats.

pub mod cli;
pub mod commands;
pub mod output;

use std::process::ExitCode;

use clap::Parser;

pub use output::Failure;

/// Parse the command line, run, and map the result to an exit code.
pub fn run() -> ExitCode {
    let args = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BOSUN_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => return output::report(&Failure::internal(anyhow::Error::new(err).context("could not start the async runtime"))),
    };
    match runtime.block_on(commands::dispatch(args)) {
        Ok(code) => code,
        Err(failure) => output::report(&failure),
    }
}
