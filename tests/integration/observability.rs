//! What monitoring sees of `memori serve`: `/metrics` in the Prometheus text format after real
//! traffic (behind login, holding no end-user text), `/healthz` and `/readyz` for probes, and
//! readiness lost while the database is away.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{StatusCode, header};
use memori_dashboard::server::{ServerOptions, router};
use memori_rig::Scope;
use memori_rig::embed::HashEmbedder;
use memori_tests::{Backend, Proxy, ProxyMode, backend_test, run_on};
use rig_agent::AgentBuilder;
use rig_core::test_utils::{MockCompletionModel, MockTurn};

use super::dashboard_api::{Client, VIEWER_PW, seeded};

/// `name value` lines of a Prometheus text body (comments skipped).
fn samples(body: &str) -> HashMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').and_then(|(k, v)| Some((k.to_owned(), v.parse().ok()?))))
        .collect()
}

backend_test!(metrics_count_real_traffic_and_probes_answer, |url: String| async move {
    let m = seeded(&url).await?;
    let app = router(m.clone(), &ServerOptions { secure_cookies: false, ..ServerOptions::default() });
    let mut anon = Client::new(app.clone());
    assert_eq!(anon.call("GET", "/metrics", None).await?.status, StatusCode::UNAUTHORIZED, "metrics need a login");
    assert_eq!(anon.call("GET", "/healthz", None).await?.status, StatusCode::OK);
    let ready = anon.call("GET", "/readyz", None).await?;
    assert_eq!((ready.status, ready.body.as_str()), (StatusCode::OK, Some("ready\n")));

    // Three agent calls through the hook: three recalls and three captures.
    let scope = Scope::new("alice", "bot", "s2")?;
    let model = MockCompletionModel::from_turns((0..3).map(|i| MockTurn::text(format!("reply {i}"))));
    let agent = AgentBuilder::new(model).preamble("You help.").build();
    for i in 0..3 {
        agent.prompt(format!("what do I eat, question {i}?")).add_hook(m.hook(&scope)).await?;
    }
    m.flush().await?;

    let mut viewer = Client::new(app);
    assert_eq!(viewer.login("vic", VIEWER_PW).await?.status, StatusCode::OK);
    let r = viewer.call("GET", "/metrics", None).await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE].to_str()?.starts_with("text/plain; version=0.0.4"));
    let body = r.body.as_str().expect("text").to_owned();
    let s = samples(&body);
    let get = |k: &str| s.get(k).copied().unwrap_or_else(|| panic!("no {k} in\n{body}"));
    assert!(get("memori_recall_duration_seconds_count") >= 3.0, "{body}");
    assert_eq!(get("memori_recall_duration_seconds_bucket{le=\"+Inf\"}"), get("memori_recall_duration_seconds_count"));
    assert!(get("memori_captures_queued_total") >= 3.0, "{body}");
    assert_eq!(get("memori_recall_failures_total"), 0.0);
    assert_eq!(get("memori_jobs_outstanding"), 0.0, "flushed: nothing waits");
    assert_eq!(get("memori_augmentation_lag_seconds"), 0.0);
    assert_eq!(get("memori_database_up"), 1.0);
    assert!(get("memori_recall_cache_entities") >= 1.0, "alice's index is cached");
    for private in ["alice", "peanuts", "Paris", "question"] {
        assert!(!body.contains(private), "{private:?} in /metrics");
    }
    m.shutdown().await;
    Ok(())
});

/// The database goes away: `/readyz` says so (and only that), `/healthz` still answers, the
/// metrics report the database down instead of failing; back up, ready again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database() {
    run_on(Backend::Postgres, |url: String| async move {
        let proxy = Proxy::start(&url).await?;
        let m = memori_rig::Memori::builder()
            .database_url(proxy.url_for(&url))
            .embedder(HashEmbedder::default())
            .configure(|c| c.workers = 0)
            .build()
            .await?;
        let mut anon = Client::new(router(m.clone(), &ServerOptions::default()));
        assert_eq!(anon.call("GET", "/readyz", None).await?.status, StatusCode::OK);
        proxy.set(ProxyMode::Down);
        let r = anon.call("GET", "/readyz", None).await?;
        assert_eq!((r.status, r.body.as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("not ready\n")));
        assert_eq!(anon.call("GET", "/healthz", None).await?.status, StatusCode::OK);
        let text = tokio::time::timeout(Duration::from_secs(30), m.prometheus_metrics()).await?;
        assert!(text.contains("memori_database_up 0\n") && !text.contains("memori_jobs_outstanding"), "{text}");
        proxy.set(ProxyMode::Up);
        let mut ready = false;
        for _ in 0..50 {
            ready = anon.call("GET", "/readyz", None).await?.status == StatusCode::OK;
            if ready {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "ready again once the database is back");
        m.shutdown().await;
        Ok(())
    })
    .await;
}
