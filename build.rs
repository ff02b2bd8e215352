//! Build script: the facts `xml2prom_build_info` reports, fixed at build time.
//!
//! - `XML2PROM_REVISION`: the git commit of the source (`git rev-parse HEAD`), or `unknown`
//!   when the source is not a git checkout of its own (a crates.io tarball, a vendored copy
//!   inside another repository) or git is not installed.
//! - `XML2PROM_RUST_VERSION`: the version of the rustc that builds it (`1.91.0`).
//!
//! Cargo runs this again when HEAD moves (a commit, a checkout): `.git/HEAD` and the branch's
//! ref are watched.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let revision = revision(&manifest_dir).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=XML2PROM_REVISION={revision}");
    println!("cargo:rustc-env=XML2PROM_RUST_VERSION={}", rust_version());
    println!("cargo:rerun-if-changed=build.rs");
}

/// The output of `git ARGS` in `dir`, trimmed, if git ran and succeeded.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_owned())
}

/// The commit of the checkout whose top level is `dir`, watching what moves it.
fn revision(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    // A copy of the source inside another repository must not report that repository's commit.
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(dir).ok()? {
        return None;
    }
    // A worktree keeps its HEAD in its own git directory and the refs in the common one.
    let git_dir = dir.join(git(dir, &["rev-parse", "--git-dir"])?);
    let common_dir = dir.join(git(dir, &["rev-parse", "--git-common-dir"])?);
    println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
    if let Some(reference) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        let loose = common_dir.join(&reference);
        if loose.exists() {
            println!("cargo:rerun-if-changed={}", loose.display());
        }
    }
    let packed = common_dir.join("packed-refs");
    if packed.exists() {
        println!("cargo:rerun-if-changed={}", packed.display());
    }
    let commit = git(dir, &["rev-parse", "HEAD"])?;
    commit
        .chars()
        .all(|c| c.is_ascii_hexdigit())
        .then_some(commit)
}

/// `1.91.0` from `rustc 1.91.0 (f8297e351 2025-10-28)`, or `unknown`.
fn rust_version() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}
