//! The database goes away during agent calls (a TCP proxy in front of PostgreSQL or MariaDB is
//! cut): calls still succeed, recall gives up within its timeout, captures are spooled and
//! written exactly once when the database is back; fail-closed stops the call instead.

use std::time::{Duration, Instant};

use memori_rig::embed::HashEmbedder;
use memori_rig::{CaptureMode, EntityId, FailureMode, Memori, Message, Scope};
use memori_tests::{Backend, Proxy, ProxyMode, run_on};
use rig_agent::AgentBuilder;
use rig_core::test_utils::{MockCompletionModel, MockTurn};

/// Longest an agent call may take while the database is away: recall's and capture's timeouts
/// plus slack. A call that waited for the pool's own timeouts (10 s) would exceed it.
const CALL_BOUND: Duration = Duration::from_secs(4);

async fn proxied(url: &str, proxy: &Proxy, configure: impl FnOnce(&mut memori_rig::Config)) -> anyhow::Result<Memori> {
    Ok(Memori::builder()
        .database_url(proxy.url_for(url))
        .embedder(HashEmbedder::default())
        .configure(|c| {
            c.recall_timeout = Duration::from_millis(500);
            c.capture_timeout = Duration::from_secs(1);
            c.jobs.poll_interval = Duration::from_millis(50);
            c.jobs.retry_base = Duration::from_millis(10);
            configure(c);
        })
        .build()
        .await?)
}

/// `n` agent calls for `scope`, each a distinct question; every call must succeed in bound.
async fn ask(memori: &Memori, scope: &Scope, from: usize, n: usize) -> anyhow::Result<()> {
    let model = MockCompletionModel::from_turns((from..from + n).map(|i| MockTurn::text(format!("answer {i}"))));
    let agent = AgentBuilder::new(model).preamble("You help.").build();
    for i in from..from + n {
        let started = Instant::now();
        let reply = agent.prompt(format!("question {i} about zebras")).add_hook(memori.hook(scope)).await?;
        assert_eq!(reply.output(), format!("answer {i}"));
        assert!(started.elapsed() < CALL_BOUND, "call {i} took {:?} with the database away", started.elapsed());
    }
    Ok(())
}

/// The stored messages' texts of `entity`, sorted.
async fn stored_texts(memori: &Memori, entity: &EntityId) -> anyhow::Result<Vec<String>> {
    let export = memori.export_entity(entity, "test").await?;
    let mut texts: Vec<String> = export.messages.into_iter().map(|m| m.text).collect();
    texts.sort();
    Ok(texts)
}

fn expected_texts(n: usize) -> Vec<String> {
    let mut texts: Vec<String> =
        (0..n).flat_map(|i| [format!("question {i} about zebras"), format!("answer {i}")]).collect();
    texts.sort();
    texts
}

async fn calls_survive_an_outage_and_nothing_is_lost_or_doubled(url: String) -> anyhow::Result<()> {
    // Both capture modes: the background writer's queue and the inline path's spool.
    for (mode, entity) in [(CaptureMode::Background, "zoe"), (CaptureMode::Inline, "zed")] {
        survive_an_outage(&url, mode, entity).await.map_err(|e| e.context(format!("{mode:?}")))?;
    }
    Ok(())
}

async fn survive_an_outage(url: &str, capture: CaptureMode, entity: &str) -> anyhow::Result<()> {
    let proxy = Proxy::start(url).await?;
    let memori = proxied(url, &proxy, |c| c.capture = capture).await?;
    let scope = Scope::new(entity, "zoo-bot", "s1")?;
    ask(&memori, &scope, 0, 3).await?;
    memori.flush().await?;

    for (mode, from) in [(ProxyMode::Down, 3), (ProxyMode::Blackhole, 8)] {
        proxy.set(mode);
        ask(&memori, &scope, from, 5).await?;
        let (batches, bytes) = memori.spool_usage();
        assert_eq!(batches, 5, "{mode:?}: every call of the outage is spooled");
        assert!(bytes > 0);
        proxy.set(ProxyMode::Up);
        memori.flush().await?;
        assert_eq!(memori.spool_usage(), (0, 0), "{mode:?}: spool written once the database is back");
    }

    let metrics = memori.metrics().snapshot();
    assert_eq!(metrics.spooled, 10, "{metrics:?}");
    assert_eq!(metrics.spool_written, 10, "{metrics:?}");
    assert_eq!(metrics.spool_dropped, 0, "{metrics:?}");
    assert_eq!(metrics.capture_failures, 0, "{metrics:?}");
    assert!(metrics.recall_failures >= 10, "each outage call's recall failed: {metrics:?}");
    assert_eq!(stored_texts(&memori, &scope.entity).await?, expected_texts(13), "every message exactly once");

    // Spooled messages are augmented like any other: recall finds one said during the outage.
    let recalled = memori.recall(&scope, "question 9 about zebras").await?;
    assert!(recalled.iter().any(|r| r.memory.text.contains("question 9")), "{recalled:?}");
    memori.shutdown().await;
    Ok(())
}

async fn fail_closed_stops_the_call_while_the_database_is_away(url: String) -> anyhow::Result<()> {
    let proxy = Proxy::start(&url).await?;
    let memori = proxied(&url, &proxy, |c| c.failure_mode = FailureMode::Closed).await?;
    let scope = Scope::new("zoe", "zoo-bot", "s1")?;
    let model = MockCompletionModel::from_turns([MockTurn::text("one"), MockTurn::text("two")]);
    let agent = AgentBuilder::new(model.clone()).preamble("You help.").build();
    proxy.set(ProxyMode::Down);
    let err = agent.prompt("hello").add_hook(memori.hook(&scope)).await.expect_err("fail-closed stops the run");
    assert!(err.to_string().contains("memory recall failed"), "{err}");
    assert!(model.requests().is_empty(), "the model was not called");
    proxy.set(ProxyMode::Up);
    assert_eq!(agent.prompt("hello").add_hook(memori.hook(&scope)).await?.output(), "one");
    memori.shutdown().await;
    Ok(())
}

/// A process that exits during an outage leaves its spool directory; the next process started
/// with it writes the captures. A full spool drops (and counts) what does not fit.
async fn a_durable_spool_outlives_the_process(url: String) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("memori-spool-{}", uuid::Uuid::new_v4().simple()));
    let proxy = Proxy::start(&url).await?;
    let first = proxied(&url, &proxy, |c| c.spool_dir = Some(dir.clone())).await?;
    let scope = Scope::new("zoe", "zoo-bot", "s1")?;
    proxy.set(ProxyMode::Down);
    ask(&first, &scope, 0, 4).await?;
    assert_eq!(first.spool_usage().0, 4);
    first.shutdown().await;
    drop(first);
    let files = std::fs::read_dir(&dir)?.count();
    assert_eq!(files, 4, "one file per spooled batch");

    proxy.set(ProxyMode::Up);
    let second = proxied(&url, &proxy, |c| c.spool_dir = Some(dir.clone())).await?;
    second.flush().await?;
    assert_eq!(stored_texts(&second, &scope.entity).await?, expected_texts(4));
    assert_eq!(std::fs::read_dir(&dir)?.count(), 0, "written batches are removed");

    // A spool of 1 KiB takes the first short exchange and drops the one that does not fit.
    let small = proxied(&url, &proxy, |c| c.spool_bytes = 1024).await?;
    proxy.set(ProxyMode::Down);
    small.capture_logged(&scope, vec![Message::user("short")]).await;
    small.capture_logged(&scope, vec![Message::user("x".repeat(2000))]).await;
    // The writer finds the database away and counts the short one as waiting for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while small.metrics().snapshot().spooled == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let metrics = small.metrics().snapshot();
    assert_eq!((metrics.spooled, metrics.spool_dropped), (1, 1), "{metrics:?}");
    proxy.set(ProxyMode::Up);
    small.flush().await?;
    assert_eq!(small.message_count(&scope.entity).await?, 9);
    small.shutdown().await;
    second.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

macro_rules! server_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::run_on(super::Backend::Postgres, super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                super::run_on(super::Backend::MySql, super::$name).await;
            }
        }
    };
}

// SQLite is a file in the process: it cannot go away the way a server does.
server_backends!(calls_survive_an_outage_and_nothing_is_lost_or_doubled);
server_backends!(fail_closed_stops_the_call_while_the_database_is_away);
server_backends!(a_durable_spool_outlives_the_process);
