//! The dashboard in headless Chromium (fantoccini + ChromeDriver) against a real server on a
//! loopback port: sign in, browse an entity, see markup shown as text, run the playground and
//! watch a setting change the ranking, save a setting, erase an entity. Saves screenshots of
//! the main pages to `$MEMORI_SCREENSHOT_DIR` (the README's come from here).
//!
//! Needs the built app (`MEMORI_TEST_DASHBOARD_ASSETS`, set by `cargo xtask test`) and
//! `/usr/bin/chromium` + `/usr/bin/chromedriver`. Without them the test says so and passes
//! only when `MEMORI_TEST_REQUIRE_BROWSER` is unset (CI sets it).

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use memori_dashboard::server::{AppFiles, ServerOptions, router};
use memori_rig::{EntityId, Memori};

use super::dashboard_api::{ADMIN_PW, VIEWER_PW, seeded};

struct Browser {
    driver: std::process::Child,
    client: Client,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn browser() -> anyhow::Result<Browser> {
    // ChromeDriver speaks plain HTTP on loopback, but the client's TLS stack needs a provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = free_port()?;
    let driver = std::process::Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let profile = std::env::temp_dir().join(format!("memori-chromium-{}", uuid::Uuid::new_v4()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--window-size=1360,900", format!("--user-data-dir={}", profile.display())]
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..100 {
        match ClientBuilder::rustls()?.capabilities(caps.clone()).connect(&url).await {
            Ok(client) => return Ok(Browser { driver, client }),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("chromedriver did not accept a session: {last:?}")
}

async fn serve(m: &Memori, assets: AppFiles) -> anyhow::Result<String> {
    let app = router(m.clone(), &ServerOptions { assets, secure_cookies: false, ..Default::default() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    Ok(format!("http://{addr}"))
}

async fn text_of(c: &Client, css: &str) -> anyhow::Result<String> {
    Ok(c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css(css)).await?.text().await?)
}

async fn wait_text(c: &Client, css: &str, needle: &str) -> anyhow::Result<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let t = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if t.contains(needle) {
            return Ok(t);
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("{css} never showed {needle:?}; last text: {t:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(c: &Client, css: &str, value: &str) -> anyhow::Result<()> {
    let e = c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css(css)).await?;
    // Ctrl+A selects what is there, typing replaces it; Tab leaves the field, which fires its
    // change event (a WebDriver clear would fire one with an empty value first).
    e.send_keys(&format!("\u{E009}a\u{E000}{value}\u{E004}")).await?;
    Ok(())
}

async fn click(c: &Client, css: &str) -> anyhow::Result<()> {
    c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css(css)).await?.click().await?;
    Ok(())
}

/// Turns of the long conversation (120 unless `MEMORI_E2E_LONG_TURNS` says otherwise).
fn long_turns() -> usize {
    std::env::var("MEMORI_E2E_LONG_TURNS").ok().and_then(|n| n.parse().ok()).unwrap_or(120)
}

async fn shot(c: &Client, name: &str) -> anyhow::Result<()> {
    if let Some(dir) = std::env::var_os("MEMORI_SCREENSHOT_DIR") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        // From the top, nothing focused, once the page has settled (layout, graph drawing).
        c.execute("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);", vec![]).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        std::fs::write(dir.join(format!("{name}.png")), c.screenshot().await?)?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_in_browses_tunes_and_erases_in_chromium() -> anyhow::Result<()> {
    let required = std::env::var_os("MEMORI_TEST_REQUIRE_BROWSER").is_some();
    // The app built into the binary, as `memori serve` gives it; MEMORI_TEST_DASHBOARD_ASSETS
    // points at another build (Trunk's output) while working on the app.
    let assets =
        std::env::var_os("MEMORI_TEST_DASHBOARD_ASSETS").map_or(AppFiles::Embedded, |d| AppFiles::Dir(d.into()));
    if !std::path::Path::new("/usr/bin/chromedriver").exists() {
        assert!(!required, "MEMORI_TEST_REQUIRE_BROWSER is set but chromedriver is missing");
        eprintln!("skipping the browser test: run it with `cargo xtask test` (needs chromium)");
        return Ok(());
    }
    let (_db, m) = {
        let db = memori_tests::TestDb::create(memori_tests::Backend::Sqlite).await?.expect("SQLite always runs");
        let m = seeded(&db.url).await?;
        // The README's sample users, so that the screenshots show a lived-in store.
        let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/sample.jsonl");
        for conversation in memori_rig::import::read_file(&sample)? {
            memori_rig::import::import_conversation(&m, &conversation, "onboarding-bot").await?;
        }
        // A long conversation: its episodes must page, not make one endless list.
        // MEMORI_E2E_LONG_TURNS=5000 times the page at scale (BENCHMARKS.md).
        let talker = memori_rig::Scope::new("talker", "bot", "long")?;
        let turns =
            (0..long_turns()).map(|i| memori_rig::Message::user(format!("Turn {i}: nothing much to report today.")));
        for batch in turns.collect::<Vec<_>>().chunks(500) {
            m.capture(&talker, batch.to_vec()).await?;
        }
        m.flush().await?;
        (db, m)
    };
    let base = serve(&m, assets).await?;
    let b = browser().await?;
    let c = &b.client;
    let result = async {
        // A wrong password says so and keeps the name; then sign in.
        c.goto(&format!("{base}/")).await?;
        fill(c, "#username", "ada").await?;
        fill(c, "#password", "not the password").await?;
        click(c, "#login").await?;
        wait_text(c, "main.login", "wrong name or password").await?;
        let name = c.find(Locator::Css("#username")).await?.prop("value").await?;
        assert_eq!(name.as_deref(), Some("ada"), "the form keeps the name");
        fill(c, "#password", ADMIN_PW).await?;
        click(c, "#login").await?;
        assert_eq!(text_of(c, "#count-entities").await?, "7");
        shot(c, "overview").await?;
        click(c, "nav a[href='/entities']").await?;
        wait_text(c, "table.entities", "maya").await?;
        shot(c, "entities").await?;
        c.goto(&format!("{base}/entities/maya")).await?;
        wait_text(c, "main", "shellfish").await?;
        shot(c, "entity").await?;
        c.goto(&format!("{base}/entities/maya/graph")).await?;
        c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#graph canvas")).await?;
        // Selecting a node (a tap on the canvas, sent through Cytoscape) lists its statements.
        c.execute("document.getElementById('graph')._cy.nodes('[type = \"person\"]')[0].emit('tap')", vec![]).await?;
        wait_text(c, "#graph-selected", "Maya").await?;
        wait_text(c, "aside", "lives_in").await?;
        shot(c, "graph").await?;

        // Entities, then alice: the markup she said is shown as text and runs nothing.
        click(c, "nav a[href='/entities']").await?;
        fill(c, "#entity-search", "ali").await?;
        wait_text(c, "#pager", "1–1 of 1").await?;
        click(c, "a.entity-link[href='/entities/alice']").await?;
        assert_eq!(text_of(c, "h1.entity-title").await?, "alice");
        // Extracted memories first; the verbatim messages are one choice away.
        wait_text(c, "ul.memories", "peanuts").await?;
        let extracted = text_of(c, "ul.memories").await?;
        assert!(!extracted.contains("<script>"), "episodes are not in the default list: {extracted}");
        c.find(Locator::Css("#memory-kind")).await?.select_by_value("episode").await?;
        let page = wait_text(c, "main", "<script>alert(1)</script>").await?;
        assert!(page.contains("peanuts"));
        assert!(c.get_alert_text().await.is_err(), "no alert ran");
        click(c, "#tab-sessions").await?;
        click(c, "a.session-link").await?;
        wait_text(c, ".transcript", "Noted, no peanuts.").await?;
        shot(c, "transcript").await?;

        // A correction sends (and audits) only what the operator changed, and says it saved.
        let alice = m.memories(&EntityId::new("alice")?, memori_rig::Validity::Current).await?;
        let peanuts = alice.iter().find(|x| x.text.contains("allergic to peanuts")).expect("an extracted memory");
        c.goto(&format!("{base}/memories/{}", peanuts.id)).await?;
        fill(c, "#memory-importance", "0.95").await?;
        click(c, "#memory-save").await?;
        wait_text(c, "#memory-status", "Saved.").await?;
        let query = memori_rig::admin::AuditQuery { action: Some("memory.update".into()), ..Default::default() };
        let edits = m.audit_log(&query).await?;
        assert_eq!(edits[0].details["fields"], serde_json::json!(["importance"]), "{:?}", edits[0]);

        // Hundreds of episodes come 50 at a time, from the server.
        let n = long_turns();
        let started = std::time::Instant::now();
        c.goto(&format!("{base}/entities/talker")).await?;
        wait_text(c, "main", &format!("episodes (verbatim messages) ({n})")).await?;
        let shown = started.elapsed();
        c.find(Locator::Css("#memory-kind")).await?.select_by_value("episode").await?;
        wait_text(c, "#memory-pager", &format!("1–50 of {n}")).await?;
        let episodes = started.elapsed();
        eprintln!("entity page, {n} episodes: shown in {shown:?}, first page of episodes in {episodes:?}");
        assert_eq!(c.find_all(Locator::Css("li.memory")).await?.len(), 50);
        c.find(Locator::XPath("//p[@id='memory-pager']/button[contains(., 'Next')]")).await?.click().await?;
        wait_text(c, "#memory-pager", &format!("51–100 of {n}")).await?;
        fill(c, "#memory-search", "Turn 7:").await?;
        wait_text(c, "ul.memories", "Turn 7:").await?;
        assert_eq!(c.find_all(Locator::Css("li.memory")).await?.len(), 1, "one Turn 7");

        // Playground: recall, then limit to one result without saving.
        c.goto(&format!("{base}/playground?entity=maya")).await?;
        fill(c, "#pg-query", "is she allergic to shellfish?").await?;
        click(c, "#pg-run").await?;
        wait_text(c, "#pg-block", "shellfish").await?;
        let before = c.find_all(Locator::Css("li.result")).await?.len();
        assert!(before > 1, "several memories before the change ({before})");
        fill(c, "#set-limit", "1").await?;
        wait_text(c, "#pg-summary", "1 memories").await?;
        assert_eq!(c.find_all(Locator::Css("li.result")).await?.len(), 1);
        assert_eq!(m.current_settings().await?.recall.limit, 10, "the playground saved nothing");
        shot(c, "playground").await?;

        // Settings: text that is not a number stays, marked, and keeps Save from saving.
        c.goto(&format!("{base}/settings")).await?;
        wait_text(c, "#settings-version", "Version 0").await?;
        let half_life = m.current_settings().await?.recall.half_life_days;
        fill(c, "#set-half-life", "30 days").await?;
        wait_text(c, "main", "\"30 days\" is not a number").await?;
        click(c, "#set-save").await?;
        wait_text(c, "main", "fix the fields marked in red first (set-half-life)").await?;
        let typed = c.find(Locator::Css("#set-half-life")).await?.prop("value").await?;
        assert_eq!(typed.as_deref(), Some("30 days"), "bad input is not silently replaced");
        assert_eq!(m.current_settings().await?.recall.half_life_days, half_life, "nothing saved");
        // Fixed, it saves with the token budget; running agents pick it up.
        fill(c, "#set-half-life", "45").await?;
        fill(c, "#set-token-budget", "450").await?;
        click(c, "#set-save").await?;
        wait_text(c, "#settings-status", "Saved as version 1").await?;
        assert_eq!(m.current_settings().await?.recall.token_budget, 450);
        assert_eq!(m.current_settings().await?.recall.half_life_days, Some(45.0));
        shot(c, "settings").await?;

        // Compliance: erase bob with a typed confirmation.
        c.goto(&format!("{base}/compliance?entity=bob")).await?;
        let erase = c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#erase-button")).await?;
        assert!(!erase.is_enabled().await?, "erase stays disabled until the id is typed");
        fill(c, "#erase-confirm", "bob").await?;
        fill(c, "#erase-reference", "DSAR-77").await?;
        click(c, "#erase-button").await?;
        wait_text(c, "#erase-receipt", "memori_messages").await?;
        wait_text(c, "#erase-on-disk", "overwritten").await?;
        assert_eq!(m.message_count(&EntityId::new("bob")?).await?, 0);
        shot(c, "compliance").await?;

        // The audit log shows who did it.
        c.goto(&format!("{base}/audit")).await?;
        wait_text(c, "table.audit", "entity.erase").await?;
        wait_text(c, "table.audit", "DSAR-77").await?;
        shot(c, "audit").await?;
        // Filtered to sign-ins: the failed one and the good one, nothing else.
        c.find(Locator::Css("#audit-kind")).await?.select_by_value("auth.").await?;
        wait_text(c, "table.audit", "auth.sign_in_failed").await?;
        let rows = text_of(c, "table.audit tbody").await?;
        assert!(rows.contains("auth.sign_in") && !rows.contains("entity.erase"), "{rows}");
        assert!(c.find(Locator::Css("#audit-older")).await.is_err(), "no Older on a short page");

        // A viewer is not offered what they cannot do: settings are read-only, no API keys.
        click(c, "#logout").await?;
        fill(c, "#username", "vic").await?;
        fill(c, "#password", VIEWER_PW).await?;
        click(c, "#login").await?;
        wait_text(c, "nav .who", "vic (viewer)").await?;
        assert!(c.find(Locator::Css("nav a[href='/keys']")).await.is_err(), "no API keys link for a viewer");
        click(c, "nav a[href='/settings']").await?;
        wait_text(c, "#read-only", "Read-only").await?;
        let budget = c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#set-token-budget")).await?;
        assert!(!budget.is_enabled().await?, "a viewer's settings fields are disabled");
        assert!(c.find(Locator::Css("#set-save")).await.is_err(), "and there is no Save");
        anyhow::Ok(())
    }
    .await;
    if result.is_err() {
        let _ = shot(c, "failure").await;
    }
    b.client.clone().close().await.ok();
    m.shutdown().await;
    result
}
