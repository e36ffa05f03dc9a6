//! Terminal output: errors as `error:` / `caused by:` / `hint:`, and AWS call
//! statistics. Everything but plans goes to stderr (so does an apply's progress, in
//! [`crate::progress`]).

use std::io::Write as _;
use std::process::ExitCode;

use bosun_aws::{AwsError, CallStats};

/// Exit code of a user error (also of a command line that does not parse).
pub const EXIT_USER: u8 = 1;
/// Exit code of `plan --detailed-exitcode` when there are changes.
pub const EXIT_CHANGES: u8 = 2;
/// Exit code of an internal error.
pub const EXIT_INTERNAL: u8 = 3;
/// Exit code of `plan` when the plan has conflicts: `apply` would refuse it (exit 1).
/// Not 2: a pipeline that reads 2 as "changes to apply" must not go on to apply.
pub const EXIT_CONFLICTS: u8 = 4;

/// A failed command: the error, an optional hint, and whose fault it was.
#[derive(Debug)]
pub struct Failure {
    /// The error and its causes.
    pub error: anyhow::Error,
    /// What to do about it.
    pub hint: Option<String>,
    /// User errors exit 1, internal ones 3.
    pub internal: bool,
    /// Already printed (validation diagnostics): only set the exit code.
    pub printed: bool,
}

impl Failure {
    /// A user error.
    pub fn user(error: impl Into<anyhow::Error>) -> Self {
        Self { error: error.into(), hint: None, internal: false, printed: false }
    }

    /// An internal error.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self { error: error.into(), hint: None, internal: true, printed: false }
    }

    /// Add a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Print a failure and return its exit code.
pub fn report(f: &Failure) -> ExitCode {
    if !f.printed {
        let mut err = std::io::stderr().lock();
        let mut chain = f.error.chain();
        let top = chain.next().expect("an error chain starts with the error");
        let _ = writeln!(err, "error: {top}");
        // An AWS error already says the code and message; its sources are the SDK's
        // view of the same failure.
        let mut said_all = top.is::<AwsError>();
        for cause in chain {
            if said_all {
                break;
            }
            let _ = writeln!(err, "  caused by: {cause}");
            said_all = cause.is::<AwsError>();
        }
        if let Some(h) = &f.hint {
            let _ = writeln!(err, "hint: {h}");
        }
    }
    ExitCode::from(if f.internal { EXIT_INTERNAL } else { EXIT_USER })
}

/// Print call statistics on stderr.
pub fn print_stats(stats: &CallStats) {
    let (reads, writes) = stats.totals();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "aws calls: {reads} read, {writes} mutating");
    for c in stats.snapshot() {
        let _ = writeln!(
            err,
            "  {:<8} {:<26} {:<32} {}",
            if c.mutating { "mutating" } else { "read" },
            c.service,
            c.operation,
            c.calls
        );
    }
}
