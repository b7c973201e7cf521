//! The integration test binary (one binary, many modules; see ARCHITECTURE.md "Testing").

mod agent;
mod augment;
mod chat_service;
mod dashboard_api;
mod dashboard_e2e;
mod embedding_model;
mod isolation;
mod jobs;
mod live_index;
mod observability;
mod operators;
mod outage;
mod provider;
mod recall;
mod sql;
mod store;
mod tidy;

use std::time::Duration;

use memori_rig::embed::HashEmbedder;
use memori_rig::{Embedder, Memori};

/// A Memori over `url` with the deterministic test embedder and a fast-polling worker.
pub(crate) async fn memori(url: &str) -> anyhow::Result<Memori> {
    memori_with(url, HashEmbedder::default()).await
}

/// A fresh SQLite database and a Memori over it, for tests that need only one backend.
pub(crate) async fn sqlite_memori() -> anyhow::Result<(memori_tests::TestDb, Memori)> {
    let db = memori_tests::TestDb::create(memori_tests::Backend::Sqlite).await?.expect("SQLite always runs");
    let memori = memori(&db.url).await?;
    Ok((db, memori))
}

/// A Memori over `url` with `workers` fast-polling workers, that checks the settings table on
/// every recall: one of several "processes" sharing a database.
pub(crate) async fn instance(url: &str, workers: usize) -> anyhow::Result<Memori> {
    Ok(Memori::builder()
        .database_url(url)
        .embedder(HashEmbedder::default())
        .configure(|c| {
            c.workers = workers;
            c.jobs.poll_interval = Duration::from_millis(20);
            c.settings_refresh = Duration::ZERO;
        })
        .build()
        .await?)
}

pub(crate) async fn memori_with(url: &str, embedder: impl Embedder) -> anyhow::Result<Memori> {
    Ok(Memori::builder()
        .database_url(url)
        .embedder(embedder)
        .configure(|c| {
            c.jobs.poll_interval = Duration::from_millis(50);
            c.jobs.retry_base = Duration::from_millis(10);
        })
        .build()
        .await?)
}
