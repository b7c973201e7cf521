//! The dashboard's JSON API, driven through the router without a socket (`oneshot`), on every
//! backend: authentication on every route, roles, CSRF, session fixation, throttling, API
//! keys, export, erasure, security headers.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use memori_dashboard::server::{Access, AppFiles, ServerOptions, hash_password, router};
use memori_rig::{EntityId, Memori, Message, Scope};
use memori_tests::backend_test;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{memori, sql};

/// Every API route of the server's route table except login, with a sample path under
/// `/api/v1`, and who may call it. The walks below cover whatever the router serves.
pub(crate) fn routes() -> Vec<(String, String, Access)> {
    let table = memori_dashboard::server::routes();
    assert!(table.len() > 20, "the route table is the router's: {table:?}");
    table
        .into_iter()
        .filter(|r| r.access != Access::Public)
        .map(|r| {
            let path = r.path.replace("{session}", "s1");
            let path =
                if path.starts_with("/entities/") { path.replace("{id}", "alice") } else { path.replace("{id}", "1") };
            (r.method.to_string(), format!("/api/v1{path}"), r.access)
        })
        .collect()
}

/// A caller of the router: keeps the session cookie and CSRF token, or sends an API key.
pub(crate) struct Client {
    app: Router,
    cookie: Option<String>,
    pub(crate) csrf: Option<String>,
    bearer: Option<String>,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Client {
    pub(crate) fn new(app: Router) -> Self {
        Self { app, cookie: None, csrf: None, bearer: None }
    }

    pub(crate) async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Reply> {
        let mut req = Request::builder().method(Method::from_bytes(method.as_bytes())?).uri(path);
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        if let Some(t) = &self.csrf {
            req = req.header("x-csrf-token", t);
        }
        if let Some(b) = &self.bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {b}"));
        }
        let req = match body {
            Some(v) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string()))?,
            None => req.body(Body::empty())?,
        };
        let res = self.app.clone().oneshot(req).await?;
        let status = res.status();
        let headers = res.headers().clone();
        if let Some(set) = headers.get(header::SET_COOKIE) {
            let pair = set.to_str()?.split(';').next().unwrap_or_default().to_owned();
            self.cookie = Some(pair);
        }
        let bytes = res.into_body().collect().await?.to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        Ok(Reply { status, headers, body })
    }

    pub(crate) async fn login(&mut self, name: &str, password: &str) -> anyhow::Result<Reply> {
        let r = self.call("POST", "/api/v1/auth/login", Some(json!({"username": name, "password": password}))).await?;
        if r.status == StatusCode::OK {
            self.csrf = r.body["csrf_token"].as_str().map(str::to_owned);
        }
        Ok(r)
    }
}

pub(crate) const ADMIN_PW: &str = "admin password 1";
pub(crate) const VIEWER_PW: &str = "viewer password 1";

/// Two operators, two entities with messages and augmented memories (one holding markup).
pub(crate) async fn seeded(url: &str) -> anyhow::Result<Memori> {
    let m = memori(url).await?;
    m.accounts().put_operator("ada", &hash_password(ADMIN_PW)?, memori_rig::admin::OperatorRole::Admin, "test").await?;
    m.accounts()
        .put_operator("vic", &hash_password(VIEWER_PW)?, memori_rig::admin::OperatorRole::Viewer, "test")
        .await?;
    let alice = Scope::new("alice", "bot", "s1")?;
    m.capture(
        &alice,
        vec![
            Message::user("I'm allergic to peanuts and I live in Paris"),
            Message::assistant("Noted, no peanuts."),
            Message::user("<script>alert(1)</script> is my favourite snippet"),
        ],
    )
    .await?;
    m.capture(&Scope::new("bob", "bot", "s9")?, vec![Message::user("Bob likes tennis")]).await?;
    m.flush().await?;
    Ok(m)
}

fn app(m: &Memori) -> Router {
    router(m.clone(), &ServerOptions { secure_cookies: false, ..ServerOptions::default() })
}

fn sample_body(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("PATCH", _) => Some(json!({"importance": 0.9})),
        ("POST", "/api/v1/recall/preview") => Some(json!({"entity": "alice", "query": "peanuts"})),
        ("PUT", _) => Some(json!({"base": null, "settings": {}})),
        ("POST", "/api/v1/api-keys") => Some(json!({"name": "k", "role": "viewer"})),
        ("POST", _) | ("DELETE", _) => None,
        _ => None,
    }
}

backend_test!(every_api_route_needs_a_signed_in_operator, |url: String| async move {
    let m = seeded(&url).await?;
    let mut anon = Client::new(app(&m));
    for (method, path, _) in routes() {
        let r = anon.call(&method, &path, sample_body(&method, &path)).await?;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path} answered {:?}", r.body);
        assert_eq!(r.body["code"], "unauthenticated", "{method} {path}");
    }
    // The layer denies by default: a path no route serves is refused before it is looked up.
    let r = anon.call("GET", "/api/v1/no-such-route", None).await?;
    assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    // Nothing changed: alice is still there.
    assert_eq!(m.message_count(&EntityId::new("alice")?).await?, 3);
    // A wrong API key is refused too.
    anon.bearer = Some("mk_nope_nope".into());
    assert_eq!(anon.call("GET", "/api/v1/overview", None).await?.status, StatusCode::UNAUTHORIZED);
    m.shutdown().await;
    Ok(())
});

backend_test!(viewers_read_but_cannot_change_anything, |url: String| async move {
    let m = seeded(&url).await?;
    let mut viewer = Client::new(app(&m));
    assert_eq!(viewer.login("vic", VIEWER_PW).await?.status, StatusCode::OK);
    for (method, path, access) in routes() {
        if path == "/api/v1/auth/logout" {
            continue;
        }
        let r = viewer.call(&method, &path, sample_body(&method, &path)).await?;
        if access == Access::Admin {
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {:?}", r.body);
            assert_eq!(r.body["code"], "forbidden", "{method} {path}");
        } else if !path.contains("api-keys") {
            assert!(r.status == StatusCode::OK || r.status == StatusCode::NOT_FOUND, "{method} {path}: {}", r.status);
        }
    }
    assert_eq!(m.message_count(&EntityId::new("alice")?).await?, 3, "the viewer erased nothing");
    m.shutdown().await;
    Ok(())
});

backend_test!(mutations_need_the_csrf_token_and_login_rotates_the_session, |url: String| async move {
    let m = seeded(&url).await?;
    let mut admin = Client::new(app(&m));
    // A session id planted before login is not the one used after it.
    admin.call("GET", "/api/v1/auth/me", None).await?;
    let before = admin.cookie.clone();
    let r = admin.login("ada", ADMIN_PW).await?;
    assert_eq!(r.status, StatusCode::OK);
    let set_cookie = r.headers.get(header::SET_COOKIE).expect("login sets the cookie").to_str()?.to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(flag), "cookie lacks {flag}: {set_cookie}");
    }
    assert_ne!(admin.cookie, before);
    let token = admin.csrf.take().expect("csrf token");
    for (method, path, _) in routes() {
        if method == "GET" {
            continue;
        }
        let r = admin.call(&method, &path, sample_body(&method, &path)).await?;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path} without a token: {:?}", r.body);
        assert_eq!(r.body["code"], "csrf", "{method} {path}");
    }
    admin.csrf = Some("0".repeat(64));
    assert_eq!(admin.call("DELETE", "/api/v1/entities/alice", None).await?.body["code"], "csrf");
    assert_eq!(m.message_count(&EntityId::new("alice")?).await?, 3, "nothing was erased without the token");
    admin.csrf = Some(token);
    let r = admin.call("PATCH", "/api/v1/memories/999999", Some(json!({"importance": 0.5}))).await?;
    assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    // Logout ends the session.
    assert_eq!(admin.call("POST", "/api/v1/auth/logout", None).await?.status, StatusCode::NO_CONTENT);
    assert_eq!(admin.call("GET", "/api/v1/overview", None).await?.status, StatusCode::UNAUTHORIZED);
    m.shutdown().await;
    Ok(())
});

/// A login request as it comes from `peer`, through a proxy when `forwarded` is set.
fn login_from(peer: &str, forwarded: Option<&str>, password: &str) -> anyhow::Result<Request<Body>> {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let mut req = req.body(Body::from(json!({"username": "ada", "password": password}).to_string()))?;
    let addr: std::net::SocketAddr = format!("{peer}:40000").parse()?;
    req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    Ok(req)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_cannot_race_the_throttle_and_a_proxy_does_not_lock_everyone_out() -> anyhow::Result<()> {
    let (_db, m) = super::sqlite_memori().await?;
    m.accounts().put_operator("ada", &hash_password(ADMIN_PW)?, memori_rig::admin::OperatorRole::Admin, "t").await?;
    let options =
        ServerOptions { secure_cookies: false, trusted_proxies: vec!["10.0.0.1".parse()?], ..ServerOptions::default() };
    let app = router(m.clone(), &options);
    // Sixteen wrong passwords at once from one client: only five are checked.
    let mut guesses = Vec::new();
    for _ in 0..16 {
        let req = login_from("10.0.0.1", Some("6.6.6.6"), "wrong password!")?;
        guesses.push(tokio::spawn(app.clone().oneshot(req)));
    }
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await??.status());
    }
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (5, 11), "{statuses:?}");
    // The attacker is locked out, the operator at another address behind the same proxy is not,
    // and a client cannot pretend to be someone else by sending the header itself.
    let r = app.clone().oneshot(login_from("10.0.0.1", Some("6.6.6.6"), ADMIN_PW)?).await?;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = app.clone().oneshot(login_from("10.0.0.1", Some("7.7.7.7"), ADMIN_PW)?).await?;
    assert_eq!(r.status(), StatusCode::OK);
    for _ in 0..5 {
        app.clone().oneshot(login_from("8.8.8.8", Some("9.9.9.9"), "wrong password!")?).await?;
    }
    let r = app.clone().oneshot(login_from("9.9.9.9", None, ADMIN_PW)?).await?;
    assert_eq!(r.status(), StatusCode::OK, "8.8.8.8 is not a proxy: its header is ignored");
    m.shutdown().await;
    Ok(())
}

backend_test!(logins_are_throttled_after_five_failures, |url: String| async move {
    let m = seeded(&url).await?;
    let mut c = Client::new(app(&m));
    for _ in 0..5 {
        let r = c.login("ada", "wrong password!").await?;
        assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    }
    let r = c.login("ada", ADMIN_PW).await?;
    assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")));
    assert_eq!(c.login("nobody", "whatever").await?.status, StatusCode::UNAUTHORIZED);
    m.shutdown().await;
    Ok(())
});

backend_test!(export_holds_everything_and_erase_leaves_nothing, |url: String| async move {
    let m = seeded(&url).await?;
    let db = sql::connect(&url).await?;
    let alice_row = sql::entity_row(&db, "alice").await?;
    let mut admin = Client::new(app(&m));
    admin.login("ada", ADMIN_PW).await?;

    let r = admin.call("GET", "/api/v1/entities/alice/export", None).await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_DISPOSITION].to_str()?.starts_with("attachment"));
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let export: memori_types::admin::EntityExport = serde_json::from_value(r.body)?;
    let stats = m.stats(&EntityId::new("alice")?).await?;
    assert_eq!(export.entity.id, "alice");
    assert_eq!(export.messages.len() as u64, stats.messages);
    assert_eq!(export.memories.len() as u64, stats.memories);
    assert_eq!(export.embeddings.len() as u64, stats.embeddings);
    assert_eq!(export.sessions.len(), 1);
    assert!(!export.jobs.is_empty());
    assert!(export.messages.iter().any(|msg| msg.text.contains("<script>alert(1)</script>")), "text kept verbatim");
    assert!(export.messages.iter().all(|msg| !msg.text.contains("Bob")), "nothing of bob's");

    // The markup is data: the API returns it as a JSON string, unchanged and unexecuted.
    let markup = export.memories.iter().find(|mm| mm.text.contains("<script>")).expect("markup memory");
    let r = admin.call("GET", &format!("/api/v1/memories/{}", markup.id), None).await?;
    assert_eq!(r.body["memory"]["text"].as_str(), Some(markup.text.as_str()));
    assert!(r.headers[header::CONTENT_TYPE].to_str()?.starts_with("application/json"));

    let needles = ["alice", "peanuts", "Paris", "<script>alert(1)"];
    let found = sql::text_hits(&db, &needles).await?;
    assert!(needles.iter().all(|n| found.iter().any(|h| h.ends_with(n))), "the scan sees alice before: {found:?}");
    let before = sql::rows_of(&db, alice_row).await?;
    assert!(before.iter().filter(|(_, n)| *n > 0).count() >= 5, "alice has rows in most tables: {before:?}");
    let r = admin.call("DELETE", "/api/v1/entities/alice?reference=DSAR-2026-114", None).await?;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let receipt: memori_types::admin::ErasureReceipt = serde_json::from_value(r.body)?;
    assert_eq!(receipt.removed["memori_messages"], stats.messages);
    for (table, n) in sql::rows_of(&db, alice_row).await? {
        assert_eq!(n, 0, "{table} still holds alice's rows after the erase");
    }
    // And no text column anywhere (audit log, sessions, jobs' payloads...) mentions her id or words.
    let before_bob = sql::text_hits(&db, &["tennis"]).await?;
    assert!(!before_bob.is_empty(), "the scan finds text that is there");
    assert_eq!(sql::text_hits(&db, &needles).await?, Vec::<String>::new());
    assert!(!receipt.on_disk.is_empty() && !receipt.on_disk.contains("not yet"), "scrubbed: {}", receipt.on_disk);
    // No row holds her words, and on SQLite neither do the file's free pages nor its WAL.
    if let Some(path) = url.strip_prefix("sqlite://").and_then(|rest| rest.split('?').next()) {
        for file in [path.to_owned(), format!("{path}-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            for word in ["peanuts", "<script>alert(1)"] {
                let hits = bytes.windows(word.len()).filter(|w| *w == word.as_bytes()).count();
                assert_eq!(hits, 0, "{file} still holds {word:?} {hits} times after the erase");
            }
        }
    }
    assert_eq!(m.message_count(&EntityId::new("bob")?).await?, 1, "bob is untouched");
    // The audit record says what happened, with counts, and holds nothing of alice's.
    let audit = m.audit_log(&memori_rig::admin::AuditQuery::default()).await?;
    let entry = audit.iter().find(|a| a.action == "entity.erase").expect("erase audited");
    assert_eq!(entry.actor, "ada");
    // The request's reference finds the erasure; the export before it (personal-data access)
    // and the sign-in are on record too, and the log filters by action family and actor.
    assert_eq!(entry.details["reference"], "DSAR-2026-114");
    let export = audit.iter().find(|a| a.action == "entity.export").expect("export audited");
    assert_eq!((export.actor.as_str(), export.target_ref.as_deref()), ("ada", entry.target_ref.as_deref()));
    Client::new(app(&m)).login("ada", "not the password").await?;
    let auth = admin.call("GET", "/api/v1/audit?action=auth.", None).await?.body;
    let actions: Vec<&str> = auth.as_array().expect("list").iter().filter_map(|a| a["action"].as_str()).collect();
    assert_eq!(actions, ["auth.sign_in_failed", "auth.sign_in"], "newest first, only sign-ins");
    let none = admin.call("GET", "/api/v1/audit?actor=nobody", None).await?.body;
    assert_eq!(none.as_array().map(Vec::len), Some(0));
    let all = serde_json::to_string(&audit)?;
    for personal in ["alice", "peanuts", "Paris", "<script>"] {
        assert!(!all.contains(personal), "the audit log holds {personal:?}: {all}");
    }
    assert_eq!(admin.call("GET", "/api/v1/entities/alice", None).await?.status, StatusCode::NOT_FOUND);
    m.shutdown().await;
    Ok(())
});

backend_test!(api_keys_act_with_their_role_until_revoked, |url: String| async move {
    let m = seeded(&url).await?;
    let mut admin = Client::new(app(&m));
    admin.login("ada", ADMIN_PW).await?;
    let r = admin.call("POST", "/api/v1/api-keys", Some(json!({"name": "dsar bot", "role": "admin"}))).await?;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let token = r.body["token"].as_str().expect("token").to_owned();
    let key_id = r.body["key"]["id"].as_i64().expect("id");
    // Keys die on their own: 90 days unless asked otherwise, never more than a year.
    let expires: chrono::DateTime<chrono::Utc> = serde_json::from_value(r.body["key"]["expires_at"].clone())?;
    let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((89.9..=90.0).contains(&days), "expires in {days} days");
    let r = admin
        .call("POST", "/api/v1/api-keys", Some(json!({"name": "k", "role": "viewer", "expires_in_days": 0})))
        .await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let secret = "5".repeat(64);
    let hash: String = {
        use sha2::Digest;
        sha2::Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    };
    let now = chrono::Utc::now();
    for (prefix, expires, want) in [
        ("0123456789ab", now + chrono::Duration::minutes(1), StatusCode::OK),
        ("ba9876543210", now - chrono::Duration::minutes(1), StatusCode::UNAUTHORIZED),
    ] {
        let role = memori_rig::admin::OperatorRole::Viewer;
        m.accounts().create_api_key("hand-made", prefix, &hash, role, expires, "test").await?;
        let mut holder = Client::new(app(&m));
        holder.bearer = Some(format!("mk_{prefix}_{secret}"));
        let r = holder.call("GET", "/api/v1/overview", None).await?;
        assert_eq!(r.status, want, "a key expiring at {expires} (now {now})");
    }
    let listed = admin.call("GET", "/api/v1/api-keys", None).await?;
    assert!(!listed.body.to_string().contains(&token[10..]), "the secret is never listed");

    // A program with the key: no cookie, no CSRF token, erases bob (a deletion request).
    let mut bot = Client::new(app(&m));
    bot.bearer = Some(token.clone());
    let r = bot.call("DELETE", "/api/v1/entities/bob", None).await?;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(m.message_count(&EntityId::new("bob")?).await?, 0);
    assert_eq!(bot.call("GET", "/api/v1/entities/bob", None).await?.status, StatusCode::NOT_FOUND);
    // The audit names the key, and a key cannot mint another key that would outlive it.
    let audit = admin.call("GET", "/api/v1/audit", None).await?.body.to_string();
    assert!(audit.contains("key:dsar bot ("), "the key's name is the actor: {audit}");
    let r = bot.call("POST", "/api/v1/api-keys", Some(json!({"name": "spare", "role": "admin"}))).await?;
    assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{:?}", r.body);
    let r = bot.call("DELETE", &format!("/api/v1/api-keys/{key_id}"), None).await?;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(admin.call("GET", "/api/v1/api-keys", None).await?.body.as_array().map(Vec::len), Some(3));

    assert_eq!(admin.call("DELETE", &format!("/api/v1/api-keys/{key_id}"), None).await?.status, StatusCode::NO_CONTENT);
    let r = bot.call("GET", "/api/v1/overview", None).await?;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a revoked key is refused");
    m.shutdown().await;
    Ok(())
});

backend_test!(admins_tune_correct_and_preview_recall, |url: String| async move {
    let m = seeded(&url).await?;
    let mut admin = Client::new(app(&m));
    admin.login("ada", ADMIN_PW).await?;
    let r = admin
        .call("POST", "/api/v1/recall/preview", Some(json!({"entity": "alice", "query": "peanut allergy"})))
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let preview: memori_types::http::RecallPreview = serde_json::from_value(r.body)?;
    assert!(preview.results.iter().any(|x| x.memory.text.contains("peanuts")));
    assert!(preview.block.as_deref().is_some_and(|b| b.contains("peanuts")));
    assert!(preview.results.iter().all(|x| !x.memory.text.contains("Bob")), "another entity never shows");

    // Settings: saved with a base version, a stale base is a conflict, bad values are refused.
    let current = admin.call("GET", "/api/v1/settings", None).await?.body;
    let mut settings = current["settings"].clone();
    settings["recall"]["token_budget"] = json!(300);
    let r =
        admin.call("PUT", "/api/v1/settings", Some(json!({"base": current["version"], "settings": settings}))).await?;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["settings"]["recall"]["token_budget"], 300);
    let stale =
        admin.call("PUT", "/api/v1/settings", Some(json!({"base": current["version"], "settings": settings}))).await?;
    assert_eq!((stale.status, stale.body["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    settings["recall"]["token_budget"] = json!(1);
    let bad = admin.call("PUT", "/api/v1/settings", Some(json!({"base": null, "settings": settings}))).await?;
    assert_eq!((bad.status, bad.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")));
    assert_eq!(m.current_settings().await?.recall.token_budget, 300);

    // A correction re-embeds and is audited by field name only.
    let detail = admin.call("GET", "/api/v1/entities/alice", None).await?.body;
    let id = detail["memories"].as_array().and_then(|ms| ms.first()).and_then(|x| x["id"].as_i64()).expect("a memory");
    let r =
        admin.call("PATCH", &format!("/api/v1/memories/{id}"), Some(json!({"text": "Allergic to hazelnuts"}))).await?;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["memory"]["text"], "Allergic to hazelnuts");
    let hits = m.recall(&Scope::new("alice", "bot", "s2")?, "hazelnuts").await?;
    assert!(hits.iter().any(|h| h.memory.id == id), "the corrected text is searchable");
    let r = admin.call("PATCH", &format!("/api/v1/memories/{id}"), Some(json!({"text": "  "}))).await?;
    assert_eq!(r.body["code"], "invalid_input");
    let r = admin.call("GET", "/api/v1/entities/alice/sessions/s1", None).await?;
    assert_eq!(r.body.as_array().map(Vec::len), Some(3));
    let bad_json = admin.call("POST", "/api/v1/recall/preview", Some(json!({"entity": 5}))).await?;
    assert_eq!(bad_json.body["code"], "invalid_input", "malformed bodies get the JSON error shape");
    assert_eq!(admin.call("DELETE", &format!("/api/v1/memories/{id}"), None).await?.status, StatusCode::NO_CONTENT);
    assert_eq!(admin.call("GET", &format!("/api/v1/memories/{id}"), None).await?.status, StatusCode::NOT_FOUND);
    let audit = admin.call("GET", "/api/v1/audit", None).await?.body.to_string();
    for action in ["settings.save", "memory.update", "memory.delete"] {
        assert!(audit.contains(action), "{action} audited");
    }
    assert!(!audit.contains("hazelnuts"), "the audit log holds no memory text");
    m.shutdown().await;
    Ok(())
});

#[tokio::test]
async fn pages_carry_security_headers_and_the_csp_admits_only_the_app_loader() -> anyhow::Result<()> {
    let (_db, m) = super::sqlite_memori().await?;
    let dir = tempdir()?;
    let loader = "import init from '/app.js'; await init();";
    std::fs::write(
        dir.join("index.html"),
        format!("<html><head><script type=\"module\">{loader}</script></head></html>"),
    )?;
    std::fs::write(dir.join("app.js"), "export default async function init() {}")?;
    let app = router(m.clone(), &ServerOptions { assets: AppFiles::Dir(dir.clone()), ..ServerOptions::default() });
    let mut c = Client::new(app);
    for path in ["/", "/entities/alice", "/app.js", "/api/v1/overview"] {
        let r = c.call("GET", path, None).await?;
        let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str()?.to_owned();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("'unsafe-eval'") && !csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
        use sha2::Digest;
        let hash = base64_std(&sha2::Sha256::digest(loader.as_bytes()));
        assert!(csp.contains(&format!("'sha256-{hash}'")), "the loader's hash is allowed: {csp}");
        assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
    }
    let r = c.call("GET", "/entities/alice", None).await?;
    assert!(r.body.as_str().is_some_and(|b| b.contains("<script type=\"module\">")), "SPA routes serve the app");
    m.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn pages_are_never_cached_hashed_files_are_kept_and_code_is_compressed() -> anyhow::Result<()> {
    let (_db, m) = super::sqlite_memori().await?;
    let dir = tempdir()?;
    std::fs::write(dir.join("index.html"), "<html><head></head><body>app</body></html>")?;
    std::fs::write(dir.join("style.css"), "body { margin: 0 }")?;
    let code = "export function run() { return 1; }\n".repeat(200);
    std::fs::write(dir.join("app-0123456789abcdef_bg.js"), &code)?;
    let app = router(m.clone(), &ServerOptions { assets: AppFiles::Dir(dir.clone()), ..ServerOptions::default() });
    let mut c = Client::new(app.clone());
    // Personal data is on the pages an operator saw: Back after sign-out must not show them.
    for path in ["/", "/entities/alice", "/index.html", "/api/v1/auth/me"] {
        let r = c.call("GET", path, None).await?;
        assert_eq!(r.headers[header::CACHE_CONTROL], "no-store", "{path}");
    }
    let r = c.call("GET", "/app-0123456789abcdef_bg.js", None).await?;
    assert_eq!(r.headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    let r = c.call("GET", "/style.css", None).await?;
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-cache", "an unhashed name may change");

    let req = Request::builder()
        .uri("/app-0123456789abcdef_bg.js")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())?;
    let res = app.clone().oneshot(req).await?;
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
    let zipped = res.into_body().collect().await?.to_bytes();
    assert!(zipped.len() < code.len() / 4, "compressed: {} of {} bytes", zipped.len(), code.len());

    // A body over the limit gets the API's JSON error, like every other error.
    let huge = "x".repeat(9 * 1024 * 1024);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))?;
    let res = app.oneshot(req).await?;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = serde_json::from_slice(&res.into_body().collect().await?.to_bytes())?;
    assert_eq!(body["code"], "too_large", "{body}");
    m.shutdown().await;
    Ok(())
}

/// `memori serve` with no `--assets` serves the app compiled into the binary: its page with
/// the loader's hash in the CSP, its wasm with the right type and a year's cache, and nothing
/// that is not the app (the build's source hash stays private).
#[tokio::test]
async fn the_app_built_into_the_binary_is_served_without_any_files() -> anyhow::Result<()> {
    let (_db, m) = super::sqlite_memori().await?;
    let app = router(m.clone(), &ServerOptions::default());
    let mut c = Client::new(app.clone());
    let page = c.call("GET", "/entities/alice", None).await?;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body.as_str().expect("the page is HTML").to_owned();
    assert!(html.contains("<script type=\"module\""), "Trunk's loader is on the page");
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str()?.to_owned();
    assert!(csp.contains("'sha256-"), "the loader is allowed by hash: {csp}");
    let wasm = html
        .split('"')
        .find(|s| s.starts_with('/') && s.ends_with("_bg.wasm"))
        .expect("the page names its wasm")
        .to_owned();
    let req = Request::builder().uri(&wasm).body(Body::empty())?;
    let res = app.clone().oneshot(req).await?;
    assert_eq!(res.status(), StatusCode::OK, "{wasm}");
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    let bytes = res.into_body().collect().await?.to_bytes();
    assert!(bytes.starts_with(b"\0asm"), "a wasm module ({} bytes)", bytes.len());
    let css = html.split('"').find(|s| s.starts_with("/style-") && s.ends_with(".css")).expect("css").to_owned();
    let first = c.call("GET", &css, None).await?;
    let etag = first.headers[header::ETAG].to_str()?.to_owned();
    let req = Request::builder().uri(&css).header(header::IF_NONE_MATCH, &etag).body(Body::empty())?;
    let again = app.clone().oneshot(req).await?;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "revalidated by its ETag, not sent again");
    let hidden = c.call("GET", "/.sources", None).await?;
    assert!(!hidden.body.to_string().contains("sha256:"), "the source hash is not served");
    assert!(memori_dashboard::server::EMBEDDED_APP_SOURCES.starts_with("sha256:"));
    m.shutdown().await;
    Ok(())
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("memori-assets-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[test]
fn the_openapi_document_lists_exactly_the_routes_the_router_serves() -> anyhow::Result<()> {
    let doc: Value = serde_json::from_str(include_str!("../../dashboard/openapi.json"))?;
    let mut documented: Vec<String> = Vec::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    let mut served: Vec<String> =
        memori_dashboard::server::routes().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
    Ok(())
}

/// A `MakeWriter` that keeps everything written in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Everything logged at every level while operators sign in (right and wrong), use an API
/// key, read, correct and erase, and the worker augments: no password, token, session id or
/// end-user text appears. (One thread, so the workers' logs are captured too.)
#[tokio::test(flavor = "current_thread")]
async fn logs_hold_no_secrets_or_personal_data() -> anyhow::Result<()> {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (test_db, m) = super::sqlite_memori().await?;
    m.accounts().put_operator("ada", &hash_password(ADMIN_PW)?, memori_rig::admin::OperatorRole::Admin, "test").await?;
    let scope = Scope::new("patient-4711", "bot", "s1")?;
    m.capture(&scope, vec![Message::user("My diagnosis is hypothyroidism and my PIN is 8841")]).await?;
    m.flush().await?;
    let mut c = Client::new(app(&m));
    c.login("ada", "not the password").await?;
    c.login("ada", ADMIN_PW).await?;
    let session = c.cookie.clone().expect("session cookie");
    let key = c.call("POST", "/api/v1/api-keys", Some(json!({"name": "k", "role": "admin"}))).await?.body;
    let token = key["token"].as_str().expect("token").to_owned();
    c.call("POST", "/api/v1/recall/preview", Some(json!({"entity": "patient-4711", "query": "diagnosis"}))).await?;
    let id = m.memories(&scope.entity, memori_rig::Validity::Current).await?.first().map(|x| x.id).expect("a memory");
    c.call("PATCH", &format!("/api/v1/memories/{id}"), Some(json!({"text": "Diagnosis: hypothyroidism"}))).await?;
    let mut bot = Client::new(app(&m));
    bot.bearer = Some(format!("{token}x"));
    bot.call("GET", "/api/v1/overview", None).await?;
    bot.bearer = Some(token.clone());
    let r = bot.call("DELETE", "/api/v1/entities/patient-4711", None).await?;
    assert_eq!(r.status, StatusCode::OK);
    // The database does not hold the live session's id either (it is a bearer secret).
    let session_id = session.split('=').nth(1).unwrap_or_default().to_owned();
    assert_eq!(c.call("GET", "/api/v1/auth/me", None).await?.status, StatusCode::OK, "the session is live");
    let db = sql::connect(&test_db.url).await?;
    assert_eq!(sql::text_hits(&db, &[&session_id]).await?, Vec::<String>::new(), "session ids are stored hashed");
    m.shutdown().await;

    let text = String::from_utf8(logs.0.lock().expect("log buffer").clone())?;
    assert!(text.contains("entity erased"), "the capture works: {text}");
    let secrets = [ADMIN_PW, "not the password", &token[10..], &session_id, "$argon2id$"];
    let personal = ["patient-4711", "hypothyroidism", "8841"];
    for needle in secrets.iter().chain(personal.iter()) {
        assert!(!needle.is_empty() && !text.contains(needle), "the logs hold {needle:?}:\n{text}");
    }
    Ok(())
}

backend_test!(searches_are_literal_and_an_unknown_entity_is_not_found_everywhere, |url: String| async move {
    let m = seeded(&url).await?;
    for id in ["a_b", "axb", "100%", "1000"] {
        m.capture(&Scope::new(id, "bot", "s1")?, vec![Message::user("hello there")]).await?;
    }
    m.flush().await?;
    let mut admin = Client::new(app(&m));
    admin.login("ada", ADMIN_PW).await?;
    for (search, want) in [("a_b", vec!["a_b"]), ("0%", vec!["100%"]), ("_", vec!["a_b"])] {
        let page = admin.call("GET", &format!("/api/v1/entities?q={}", search.replace('%', "%25")), None).await?;
        let mut ids: Vec<&str> =
            page.body["items"].as_array().expect("items").iter().filter_map(|e| e["id"].as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, want, "search {search:?} is literal");
    }
    // An entity's memories page on the server: by kind, by literal text, newest first.
    let turns: Vec<Message> = (0..7).map(|i| Message::user(format!("turn {i} at 50% speed"))).collect();
    m.capture(&Scope::new("pager", "bot", "s1")?, turns).await?;
    m.flush().await?;
    let page = |q: &str| format!("/api/v1/entities/pager/memories?{q}");
    let r = admin.call("GET", &page("kind=episode&limit=3&offset=3"), None).await?;
    assert_eq!((r.status, r.body["total"].as_u64()), (StatusCode::OK, Some(7)), "{:?}", r.body);
    let texts: Vec<&str> =
        r.body["items"].as_array().expect("items").iter().filter_map(|x| x["text"].as_str()).collect();
    assert_eq!(texts, ["user: turn 3 at 50% speed", "user: turn 4 at 50% speed", "user: turn 5 at 50% speed"]);
    let r = admin.call("GET", &page("kind=episode&newest=true&limit=1"), None).await?;
    assert_eq!(r.body["items"][0]["text"], "user: turn 6 at 50% speed");
    let r = admin.call("GET", &page("q=0%25%20speed"), None).await?;
    assert_eq!(r.body["total"].as_u64(), Some(7), "a literal percent sign: {:?}", r.body);
    let r = admin.call("GET", &page("q=5_%25"), None).await?;
    assert_eq!(r.body["total"].as_u64(), Some(0), "_ is not a wildcard");
    let r = admin.call("GET", "/api/v1/entities/alice/memories?kind=extracted", None).await?;
    let extracted = r.body["items"].to_string();
    assert!(extracted.contains("peanuts") && !extracted.contains("<script>"), "{extracted}");
    let detail = admin.call("GET", "/api/v1/entities/pager", None).await?;
    assert_eq!(detail.body["episodes"].as_u64(), Some(7), "the detail counts episodes rather than listing them");
    let r = admin.call("GET", &page("kind=gossip"), None).await?;
    assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")));

    // Siblings of the graph answer 404 for an unknown entity; so do the graph and the preview.
    for (method, path, body) in [
        ("GET", "/api/v1/entities/nobody", None),
        ("GET", "/api/v1/entities/nobody/graph", None),
        ("GET", "/api/v1/entities/nobody/memories", None),
        ("POST", "/api/v1/recall/preview", Some(json!({"entity": "nobody", "query": "peanuts"}))),
    ] {
        let r = admin.call(method, path, body).await?;
        assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{path}");
    }
    m.shutdown().await;
    Ok(())
});
