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
