//! The `bosun` command line: `validate`, `schema`, `plan`, `apply`, `import`, `serve`
//! (the API, the scheduler, or both), `init`, `jobs redrive`, `token new`,
//! `iam-policy`, `completions` and `man`. `--color` applies to every command.
//!
//! Exit codes: 0 success; 1 a user error (a command line that does not parse, an
//! invalid stackfile, conflicts, refused or failed apply, a rollout that did not
//! succeed); 2 `plan --detailed-exitcode` found changes; 3 an internal error (a bug, or
//! AWS failing on its side); 4 `plan` found conflicts that `apply` would refuse; 130 a
//! second SIGTERM or Ctrl-C while `serve` shuts down.
//!
//! # Layout
//! - [`cli`]: the clap definitions.
//! - [`commands`]: one function per command.
//! - [`output`]: colour, error rendering (`error:`, `caused by:`, `hint:`), stackfile
//!   errors (with a caret on a terminal), stats.
//! - [`progress`]: an apply's progress: a line log, or on a terminal one live line per
//!   service.
//! - [`reload`]: what the servers read again on SIGHUP (tokens, webhook files).

pub mod cli;
pub mod commands;
pub mod output;
pub mod progress;
pub mod reload;

use std::process::ExitCode;

use clap::Parser as _;

pub use output::Failure;

/// Parse the command line, run, and map the result to an exit code.
pub fn run() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        // `--help` and `--version` print and exit 0; a command line that does not parse
        // is a user error, 1, and not clap's 2, which `plan --detailed-exitcode` uses.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { output::EXIT_USER } else { 0 });
        }
    };
    anstream::ColorChoice::write_global(args.color.into());
    // The live apply view (indicatif) styles through `console`: one decision for both.
    console::set_colors_enabled_stderr(output::stderr_color());
    // Servers log every request at info; commands only what goes wrong.
    let (level, json) = match &args.command {
        cli::Command::Serve { server, both } => {
            let state = match server {
                Some(cli::Server::Api(a)) => Some(&a.state),
                Some(cli::Server::Scheduler(s)) => Some(&s.state),
                None => Some(&both.state),
            };
            ("info", state.is_some_and(|s| s.log_format == cli::LogFormat::Json))
        }
        _ => ("warn", false),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BOSUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(output::stderr_color())
        .with_writer(std::io::stderr);
    if json {
        logs.json().flatten_event(true).init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            return output::report(&Failure::internal(
                anyhow::Error::new(err).context("could not start the async runtime"),
            ));
        }
    };
    match runtime.block_on(commands::dispatch(args)) {
        Ok(code) => code,
        Err(failure) => output::report(&failure),
    }
}
