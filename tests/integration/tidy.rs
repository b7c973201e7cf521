//! Tidy checks that keep the architecture honest (see ARCHITECTURE.md, "Invariants").

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != ".git" && name != "node_modules" {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn files_under(rel: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&root().join(rel), &mut files);
    files
}

#[test]
fn every_rust_file_says_what_it_is_on_its_first_line() {
    let mut missing = Vec::new();
    for dir in ["memori-rig", "migrations", "dashboard", "tests", "examples", "xtask"] {
        for file in files_under(dir) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if !text.starts_with("//!") {
                missing.push(file.strip_prefix(root()).unwrap_or(&file).display().to_string());
            }
        }
    }
    assert!(missing.is_empty(), "files without a `//!` first line: {missing:?}");
}

/// Files of memori-rig, other than those under `allowed`, that mention `needle`.
fn offenders(needle: &str, allowed: &[&str]) -> Vec<String> {
    let src = root().join("memori-rig/src");
    files_under("memori-rig/src")
        .into_iter()
        .filter(|f| {
            let rel = f.strip_prefix(&src).unwrap_or(f).to_string_lossy().into_owned();
            !allowed.iter().any(|a| rel == *a || rel.starts_with(&format!("{}/", a.trim_end_matches(".rs"))))
        })
        .filter(|f| std::fs::read_to_string(f).unwrap_or_default().contains(needle))
        .map(|f| f.display().to_string())
        .collect()
}

#[test]
fn only_the_store_touches_sea_orm() {
    assert_eq!(offenders("sea_orm", &["store.rs"]), Vec::<String>::new());
    // The dashboard (server and app) reaches the database only through `Memori`.
    let dashboard: Vec<String> = files_under("dashboard")
        .into_iter()
        .filter(|f| std::fs::read_to_string(f).unwrap_or_default().contains("sea_orm"))
        .map(|f| f.display().to_string())
        .collect();
    assert_eq!(dashboard, Vec::<String>::new());
}

#[test]
fn the_browser_app_links_no_server_code() {
    let manifest = std::fs::read_to_string(root().join("dashboard/app/Cargo.toml")).unwrap();
    let deps = manifest.split("[dependencies]").nth(1).expect("a [dependencies] table");
    let deps = deps.split("\n[").next().unwrap_or_default();
    for server_side in ["memori-rig", "memori-dashboard", "sea-orm", "axum", "tokio", "fastembed", "rig-core"] {
        assert!(
            !deps.lines().any(|l| l.trim_start().starts_with(server_side)),
            "dashboard/app depends on {server_side}"
        );
    }
    assert!(deps.contains("memori-types"), "the app shares the API's types");
    let types = std::fs::read_to_string(root().join("memori-rig/types/Cargo.toml")).unwrap();
    for server_side in ["sea-orm", "tokio", "memori-rig.workspace", "rig-core"] {
        assert!(!types.contains(server_side), "memori-types depends on {server_side}");
    }
}

#[test]
fn only_the_rig_adapter_touches_rig() {
    for needle in ["rig_core", "rig_agent"] {
        assert_eq!(offenders(needle, &["rig.rs"]), Vec::<String>::new(), "{needle}");
    }
}

#[test]
fn ranking_merging_and_the_graph_do_no_io() {
    for name in [
        "recall/rank.rs",
        "recall/lexical.rs",
        "recall/index.rs",
        "recall/time.rs",
        "recall/block.rs",
        "augment/merge.rs",
        "graph.rs",
    ] {
        let text = std::fs::read_to_string(root().join("memori-rig/src").join(name)).unwrap();
        // Doc comments may name the loader (`Memori::graph`); code may not use it.
        let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        for io in ["async ", "tokio", "std::fs", "crate::store", "Memori"] {
            assert!(!code.contains(io), "{name} must stay pure, but mentions {io:?}");
        }
    }
}
