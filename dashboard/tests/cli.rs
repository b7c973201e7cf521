//! The `memori` binary: import all-or-nothing with line numbers, recall as text and JSON.
//!
//! Uses the real local model (the CLI's default embedder). With `MEMORI_TEST_REQUIRE_MODEL=1`
//! (set by `cargo xtask test` and CI) missing model files fail the test.

use std::path::PathBuf;
use std::process::{Command, Output};

struct Tmp(PathBuf);

impl Tmp {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("memori-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("m.db").display())
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn memori(tmp: &Tmp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memori")).arg("--database-url").arg(tmp.url()).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const GOOD: &str = r#"{"id": "c1", "speakers": ["Ann", "Bo"], "sessions": [{"session_id": "D1", "date_iso": "2023-05-08T13:56", "turns": [{"turn_id": "D1:1", "speaker": "Ann", "text": "I'm allergic to peanuts"}, {"turn_id": "D1:2", "speaker": "Bo", "text": "I collect vintage stamps"}]}]}"#;

#[test]
fn import_is_all_or_nothing_and_recall_answers() {
    if !memori_tests::model_available() {
        return;
    }
    let tmp = Tmp::new();
    let file = tmp.0.join("conv.jsonl");
    std::fs::write(&file, format!("{GOOD}\n{{\"id\": \"c2\", \"sessions\": [oops\n")).unwrap();
    let file = file.to_str().unwrap();

    let out = memori(&tmp, &["import", file]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("line 2: not a conversation"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    let out = memori(&tmp, &["recall", "--entity", "c1", "--json", "peanuts"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "[]", "a refused import stores nothing");

    let out = memori(&tmp, &["import", "--allow-partial", file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 1 conversations, 2 turns (2 new)"), "{}", text(&out.stdout));

    let out = memori(&tmp, &["recall", "--entity", "c1", "--json", "-k", "1", "What can't Ann eat?"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The extracted attribute outranks its own episode, which is then skipped as a repeat.
    assert_eq!(json[0]["memory"]["text"], "Ann is allergic to peanuts");
    assert_eq!(json[0]["memory"]["sources"][0]["external_id"], "D1:1");
    assert_eq!(json[0]["memory"]["valid_from"], "2023-05-08T13:56:00Z");
    assert!(json[0]["explanation"]["details"].is_array());

    let out = memori(&tmp, &["import", file, "--allow-partial"]);
    assert!(text(&out.stdout).contains("(0 new)"), "importing twice stores nothing twice: {}", text(&out.stdout));
}

#[test]
fn bad_arguments_get_clear_errors() {
    let tmp = Tmp::new();
    let version = text(&memori(&tmp, &["--version"]).stdout);
    let app = version.trim().strip_prefix("memori 0.1.0 (dashboard app ").and_then(|v| v.strip_suffix(')'));
    assert!(app.is_some_and(|h| h.len() == 12 && h.chars().all(|c| c.is_ascii_hexdigit())), "{version}");
    let out = memori(&tmp, &["import", "/nonexistent/file.jsonl"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("cannot open /nonexistent/file.jsonl"), "{}", text(&out.stderr));
    let out = memori(&tmp, &["recall", "--entity", "", "x"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("invalid entity id: it is empty"), "{}", text(&out.stderr));
    let out = memori(&tmp, &["recall", "--entity", "a", "--as-of", "last tuesday", "x"]);
    assert!(text(&out.stderr).contains("--as-of \"last tuesday\" is not a date"), "{}", text(&out.stderr));
}

#[test]
fn user_add_takes_the_password_from_the_environment_and_checks_it() {
    if !memori_tests::model_available() {
        return;
    }
    let tmp = Tmp::new();
    let add = |name: &str, role: &str, password: &str| {
        Command::new(env!("CARGO_BIN_EXE_memori"))
            .arg("--database-url")
            .arg(tmp.url())
            .args(["user", "add", name, "--role", role])
            .env("MEMORI_PASSWORD", password)
            .output()
            .unwrap()
    };
    let out = add("ann", "admin", "a long enough password");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "added operator ann (admin)");
    let out = add("ann", "viewer", "another long password");
    assert_eq!(text(&out.stdout).trim(), "updated operator ann (viewer)");
    let out = add("bo", "admin", "short");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("at least 12 characters"), "{}", text(&out.stderr));
    let out = add("bo", "root", "a long enough password");
    assert!(text(&out.stderr).contains("is not admin or viewer"), "{}", text(&out.stderr));
    let out = memori(&tmp, &["user", "list"]);
    let listed = text(&out.stdout);
    assert!(listed.contains("ann") && listed.contains("viewer") && !listed.contains("bo "), "{listed}");
    assert!(!listed.contains("argon2"), "hashes are never printed");
}

/// A scripted data-subject request from a shell: list, export to a file, erase with the typed
/// confirmation, totals before and after, and the audit log naming the operating-system user.
#[test]
fn entities_export_erase_and_stats_serve_a_script() {
    if !memori_tests::model_available() {
        return;
    }
    let tmp = Tmp::new();
    let file = tmp.0.join("conv.jsonl");
    let other = GOOD.replace("\"c1\"", "\"c2\"").replace("peanuts", "walnuts");
    std::fs::write(&file, format!("{GOOD}\n{other}\n")).unwrap();
    let out = memori(&tmp, &["import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let as_user = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_memori"))
            .arg("--database-url")
            .arg(tmp.url())
            .args(args)
            .env("USER", "dpo-jane")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };

    let out = memori(&tmp, &["entities", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids: Vec<&str> = listed.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["c1", "c2"]);
    assert!(listed.as_array().unwrap().iter().all(|e| e["messages"] == 2), "{listed}");
    let out = memori(&tmp, &["entities", "--search", "2"]);
    let table = text(&out.stdout);
    assert!(table.contains("c2") && !table.contains("c1 "), "{table}");
    let stats =
        |tmp: &Tmp| -> serde_json::Value { serde_json::from_slice(&memori(tmp, &["stats", "--json"]).stdout).unwrap() };
    assert_eq!(stats(&tmp)["entities"], 2);
    assert_eq!(stats(&tmp)["messages"], 4);

    let export = tmp.0.join("c1.json");
    let out = as_user(&["export", "--entity", "c1", "--out", export.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = std::fs::read_to_string(&export).unwrap();
    assert!(exported.contains("allergic to peanuts") && !exported.contains("walnuts"), "c1's data only");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&export).unwrap().permissions().mode() & 0o777, 0o600, "owner-only");
    }
    let out = as_user(&["export", "--entity", "c1", "--out", export.to_str().unwrap()], "");
    assert!(!out.status.success() && text(&out.stderr).contains("exists"), "never overwrites");
    let out = as_user(&["export", "--entity", "nobody"], "");
    assert!(!out.status.success() && text(&out.stderr).contains("no such entity"), "{}", text(&out.stderr));

    // A wrong confirmation, or none, erases nothing.
    let out = as_user(&["erase", "--entity", "c1"], "c2\n");
    assert!(!out.status.success() && text(&out.stderr).contains("does not match"), "{}", text(&out.stderr));
    let out = as_user(&["erase", "--entity", "c1"], "");
    assert!(!out.status.success() && text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert_eq!(stats(&tmp)["entities"], 2);
    let out = as_user(&["erase", "--entity", "c1", "--reference", "DSAR-7"], "c1\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["removed"]["memori_messages"], 2, "{receipt}");
    let out = as_user(&["erase", "--entity", "c2", "--yes"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(stats(&tmp)["entities"], 0);
    assert_eq!(stats(&tmp)["messages"], 0);

    let audit = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let m = memori_rig::Memori::builder()
            .database_url(tmp.url())
            .embedder(memori_rig::embed::HashEmbedder::default())
            .configure(|c| c.workers = 0)
            .build()
            .await
            .unwrap();
        let audit = m.audit_log(&memori_rig::admin::AuditQuery::default()).await.unwrap();
        m.shutdown().await;
        audit
    });
    let by_jane: Vec<(&str, &serde_json::Value)> =
        audit.iter().filter(|a| a.actor == "os:dpo-jane").map(|a| (a.action.as_str(), &a.details)).collect();
    let actions: Vec<&str> = by_jane.iter().map(|a| a.0).collect();
    assert_eq!(actions, ["entity.erase", "entity.erase", "entity.export"], "newest first: {audit:?}");
    assert_eq!(by_jane[1].1["reference"], "DSAR-7");
}
