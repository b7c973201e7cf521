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
    // sea-orm types are not part of the library's API either: a builder input, never returned.
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

/// The section of ARCHITECTURE.md under `heading` (up to the next `## `).
fn architecture_section(heading: &str) -> String {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let start = text.find(heading).unwrap_or_else(|| panic!("ARCHITECTURE.md has no {heading:?} section"));
    let rest = &text[start + heading.len()..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_owned()
}

/// The backticked words of a text.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The modules ARCHITECTURE.md's invariants call pure: the backticked `.rs` paths of the
/// invariant that starts "Pure".
fn pure_modules() -> Vec<String> {
    let invariants = architecture_section("## Invariants");
    let line = invariants
        .split("\n- ")
        .find(|b| b.starts_with("Pure"))
        .expect("an invariant starting with \"Pure\" lists the pure modules");
    backticked(line).into_iter().filter(|w| w.ends_with(".rs")).map(str::to_owned).collect()
}

#[test]
fn the_modules_called_pure_do_no_io() {
    let pure = pure_modules();
    assert!(pure.len() >= 8, "the purity list is the one in ARCHITECTURE.md: {pure:?}");
    for name in pure {
        let path = root().join("memori-rig/src").join(&name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name} (ARCHITECTURE.md): {e}"));
        // Doc comments may name the loader (`Memori::graph`); code may not use it.
        let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        for io in ["async ", "tokio", "std::fs", "std::net", "std::env", "crate::store", "Memori", "Mutex"] {
            assert!(!code.contains(io), "{name} must stay pure, but mentions {io:?}");
        }
    }
}

#[test]
fn no_rust_file_is_longer_than_800_lines() {
    let mut long = Vec::new();
    for dir in ["memori-rig", "migrations", "dashboard", "tests", "examples", "xtask"] {
        for file in files_under(dir) {
            let lines = std::fs::read_to_string(&file).unwrap_or_default().lines().count();
            if lines > 800 {
                long.push(format!("{} ({lines} lines)", file.strip_prefix(root()).unwrap_or(&file).display()));
            }
        }
    }
    assert!(long.is_empty(), "split these by concept: {long:?}");
}

/// `crate::x` paths a file imports, as the first segment after `crate::`.
fn crate_imports(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut out: Vec<String> = text
        .match_indices("crate::")
        .map(|(i, _)| text[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn the_browser_app_is_layered_without_a_circle() {
    // api < components < pages < app: each layer imports only from the layers below it.
    let src = root().join("dashboard/app/src");
    let check = |file: &Path, allowed: &[&str]| {
        for m in crate_imports(file) {
            assert!(allowed.contains(&m.as_str()), "{} imports crate::{m}; allowed: {allowed:?}", file.display());
        }
    };
    check(&src.join("api.rs"), &[]);
    check(&src.join("components.rs"), &["api"]);
    let pages = files_under("dashboard/app/src/pages");
    assert!(pages.len() >= 10, "one file per page: {pages:?}");
    for page in pages {
        // A page may link to another page's route, never import it.
        check(&page, &["api", "components"]);
    }
    check(&src.join("app.rs"), &["api", "components", "pages"]);
}

#[test]
fn failpoints_are_only_in_test_builds() {
    // The feature exists, is off by default everywhere, and only `cargo xtask test` turns it
    // on: a release or `cargo install` build cannot be frozen by an environment variable.
    for manifest in ["memori-rig/Cargo.toml", "dashboard/Cargo.toml"] {
        let text = std::fs::read_to_string(root().join(manifest)).unwrap();
        assert!(text.contains("failpoints = ["), "{manifest} defines the failpoints feature");
        let default = text.lines().find(|l| l.trim_start().starts_with("default =")).unwrap_or_default();
        assert!(!default.contains("failpoints"), "{manifest}: failpoints must not be a default feature");
    }
    let failpoint = std::fs::read_to_string(root().join("memori-rig/src/failpoint.rs")).unwrap();
    let reads_env = failpoint.find("MEMORI_FAILPOINTS\")").expect("the variable is read in one place");
    let gate = failpoint[..reads_env].rfind("#[cfg(feature = \"failpoints\")]");
    assert!(gate.is_some(), "reading MEMORI_FAILPOINTS is behind the feature");
    let xtask = std::fs::read_to_string(root().join("xtask/src/main.rs")).unwrap();
    assert!(xtask.contains("memori-dashboard/failpoints"), "cargo xtask test builds the crash test with failpoints");
}

#[test]
fn the_codemap_names_every_module() {
    let map = architecture_section("## Codemap");
    let mut missing = Vec::new();
    for dir in ["memori-rig/src", "memori-rig/types/src", "dashboard/src", "dashboard/app/src", "migrations/src"] {
        for file in files_under(dir) {
            let name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let stem = name.trim_end_matches(".rs");
            let named = map.contains(&format!("`{name}`"))
                || map.contains(&format!("{stem}.rs"))
                || map.contains(&format!("`{stem}`"))
                || map.contains(&format!("{stem}/"));
            if !named && !["lib.rs", "main.rs"].contains(&name.as_str()) && !stem.starts_with("m2026") {
                missing.push(file.strip_prefix(root()).unwrap_or(&file).display().to_string());
            }
        }
    }
    assert!(missing.is_empty(), "ARCHITECTURE.md's codemap does not name: {missing:?}");
}

#[test]
fn every_invariant_names_the_test_that_checks_it() {
    let invariants = architecture_section("## Invariants");
    let mut sources = String::new();
    for dir in ["memori-rig", "migrations", "dashboard", "tests", "examples", "xtask"] {
        for file in files_under(dir) {
            sources.push_str(&std::fs::read_to_string(file).unwrap_or_default());
        }
    }
    let bullets: Vec<&str> = invariants.split("\n- ").skip(1).collect();
    assert!(bullets.len() >= 8, "{bullets:?}");
    for bullet in bullets {
        let checked = bullet.split("Checked by").nth(1).unwrap_or_else(|| panic!("no \"Checked by\" in: {bullet}"));
        let tests: Vec<&str> = backticked(checked).into_iter().filter(|t| !t.contains(' ')).collect();
        assert!(!tests.is_empty(), "name the test in backticks: {bullet}");
        for t in tests {
            let name = t.rsplit("::").next().unwrap_or(t);
            let defined =
                sources.contains(&format!("fn {name}(")) || sources.contains(&format!("backend_test!({name},"));
            assert!(defined, "ARCHITECTURE.md names a test that does not exist: {t}");
        }
    }
}

#[test]
fn migrations_never_import_the_stores_entities() {
    // Old migrations stay frozen: they name tables with their own `DeriveIden` enums.
    for file in files_under("migrations/src") {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for needle in ["memori_rig", "store::entity", "crate::entity"] {
            assert!(!text.contains(needle), "{} imports {needle}", file.display());
        }
    }
}
