//! Puts the git commit bosun is built from into `bosun --version`.
//!
//! The commit comes from `BOSUN_GIT_COMMIT` when it is set (an image build without
//! `.git`, a packager), else from `git rev-parse` in the source tree; a tree that is
//! not a git checkout says so. Cargo runs this again when the checkout's HEAD moves.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BOSUN_GIT_COMMIT");
    let commit = match std::env::var("BOSUN_GIT_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_owned(),
        _ => from_git().unwrap_or_else(|| "unknown commit".to_owned()),
    };
    println!("cargo:rustc-env=BOSUN_GIT_COMMIT={commit}");
}

/// The commit HEAD names, `abcdef123456`; tells cargo which files move it.
fn from_git() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    // HEAD, the branch it points at, and packed refs: a commit or a checkout changes one.
    for path in ["HEAD", "packed-refs"] {
        rerun_if_changed(git(&["rev-parse", "--git-path", path]));
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        rerun_if_changed(git(&["rev-parse", "--git-path", &branch]));
    }
    Some(commit)
}

fn rerun_if_changed(path: Option<String>) {
    if let Some(path) = path
        && Path::new(&path).exists()
    {
        println!("cargo:rerun-if-changed={path}");
    }
}
