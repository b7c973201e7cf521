//! The committed build of the dashboard's browser app (`dashboard/dist`) and the hash of the
//! sources it was made from (`dashboard/dist/.sources`).
//!
//! `memori` compiles `dashboard/dist` in, so a clone, `cargo install --path dashboard` or a
//! published crate serves the app without Trunk. The hash covers every input of the build:
//! the app's and memori-types' files, Trunk.toml, the release profile, the resolved dependency
//! graph of the app for wasm32 (names, versions, features; not the whole Cargo.lock, so a
//! server-only dependency change does not make the app stale), the compiler and the pinned
//! tools. Builds are not byte-for-byte reproducible across checkouts (paths end up in the
//! wasm), so "stale" means "the hash differs", not "a rebuild gives other bytes".

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

/// The tools the build uses, pinned in `Trunk.toml` and `dashboard_tools`.
pub(crate) const TOOLS: &str = "trunk 0.21.14; wasm-bindgen 0.2.130; binaryen 132";

/// Where the committed build lives.
pub(crate) fn dist(root: &Path) -> PathBuf {
    root.join("dashboard/dist")
}

/// The hash recorded with the committed build, if any.
pub(crate) fn recorded(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dist(root).join(".sources")).ok()?;
    Some(text.trim().to_owned()).filter(|h| !h.is_empty())
}

/// Record `hash` as the sources of the build now in `dashboard/dist`.
pub(crate) fn record(root: &Path, hash: &str) -> anyhow::Result<()> {
    std::fs::write(dist(root).join(".sources"), format!("{hash}\n")).context("cannot write dashboard/dist/.sources")
}

/// Whether the committed build is there and was made from the current sources.
pub(crate) fn is_current(root: &Path, hash: &str) -> bool {
    dist(root).join("index.html").is_file() && recorded(root).as_deref() == Some(hash)
}

/// `sha256:<hex>` over every input of the app build (see the module docs).
pub(crate) fn sources_hash(root: &Path, cargo: &mut Command) -> anyhow::Result<String> {
    let mut files = Vec::new();
    for dir in ["dashboard/app", "memori-rig/types"] {
        collect(&root.join(dir), &mut files)?;
    }
    files.push(root.join("Trunk.toml"));
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        let rel = f.strip_prefix(root).unwrap_or(f).to_string_lossy().replace('\\', "/");
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        h.update(format!("file {rel} {}\n", bytes.len()));
        h.update(&bytes);
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).context("cannot read Cargo.toml")?;
    h.update(format!("profile\n{}\n", profile_release(&manifest)));
    h.update(format!("deps\n{}\n", app_dependencies(root, cargo)?));
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .context("cannot run rustc --version")?;
    h.update(format!("rustc {}\ntools {TOOLS}\n", String::from_utf8_lossy(&rustc.stdout).trim()));
    Ok(format!("sha256:{:x}", h.finalize()))
}

/// Every file under `dir`, skipping `node_modules` and `target`.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if entry.file_type()?.is_dir() {
            if name != "node_modules" && name != "target" {
                collect(&path, out)?;
            }
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The `[profile.release]` section of the workspace manifest.
fn profile_release(manifest: &str) -> String {
    let mut inside = false;
    let mut out = String::new();
    for line in manifest.lines() {
        if line.starts_with('[') {
            inside = line.trim() == "[profile.release]";
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The app's resolved dependencies for wasm32 (`name version features`, sorted), without the
/// local paths `cargo tree` prints for workspace members.
fn app_dependencies(root: &Path, cargo: &mut Command) -> anyhow::Result<String> {
    let out = cargo
        .args(["tree", "-p", "memori-app", "--target", "wasm32-unknown-unknown", "-e", "normal,build"])
        .args(["--prefix", "none", "--format", "{p} [{f}]"])
        .current_dir(root)
        .output()
        .context("cannot run cargo tree")?;
    if !out.status.success() {
        bail!("cargo tree failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (name, version) = (words.next()?, words.next()?);
            let features = l.rfind(" [").map(|i| l[i..].trim_end_matches(" (*)")).unwrap_or_default();
            Some(format!("{name} {version}{features}"))
        })
        .collect();
    lines.sort();
    lines.dedup();
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_profile_is_read_alone() {
        let m = "[workspace]\nx = 1\n[profile.release]\ndebug = 1\n[profile.dev]\nopt-level = 0\n";
        assert_eq!(profile_release(m), "[profile.release]\ndebug = 1\n");
    }
}
