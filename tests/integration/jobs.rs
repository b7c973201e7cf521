//! The durable job queue across processes sharing one database, retries and dead letters.

use std::sync::atomic::Ordering;
use std::time::Duration;

use memori_rig::embed::HashEmbedder;
use memori_rig::{Error, ErrorKind, Memori, Message, Scope};
use memori_tests::backend_test;

use crate::instance;

/// Fails until `healed` is set: an embedding service that is down, then back.
struct Flaky(std::sync::Arc<std::sync::atomic::AtomicBool>);

#[async_trait::async_trait]
impl memori_rig::Embedder for Flaky {
    fn model_id(&self) -> &str {
        "hash-bow-v1-256"
    }
    fn dimensions(&self) -> usize {
        256
    }
    async fn embed(&self, texts: Vec<String>) -> memori_rig::Result<Vec<Vec<f32>>> {
        if self.0.load(Ordering::SeqCst) {
            HashEmbedder::default().embed(texts).await
        } else {
            Err(Error::new(ErrorKind::Embedding, "the embedding service is down"))
        }
    }
}

backend_test!(two_instances_share_the_queue_and_run_each_job_once, |url: String| async move {
    let a = instance(&url, 2).await?;
    let b = instance(&url, 2).await?;
    let mut jobs = 0;
    for i in 0..24 {
        let entity = format!("user-{}", i % 3);
        let scope = Scope::new(entity.as_str(), "bot", format!("s{i}"))?;
        let who = if i % 2 == 0 { &a } else { &b };
        // Every entity says "I love jazz" in four captures, which workers of both instances
        // extract concurrently into one memory.
        let text = if i % 2 == 0 { "I love jazz.".to_owned() } else { format!("fact number {i}") };
        let r = who.capture(&scope, vec![Message::user(text), Message::assistant("ok")]).await?;
        jobs += usize::from(r.job_id.is_some());
    }
    a.flush().await?;
    b.flush().await?;
    let done = a.metrics().snapshot().jobs_done + b.metrics().snapshot().jobs_done;
    assert_eq!(done, jobs as u64, "every job ran exactly once across both instances");
    for e in 0..3 {
        let stats = a.stats(&memori_rig::EntityId::new(format!("user-{e}"))?).await?;
        assert_eq!((stats.messages, stats.memories, stats.embeddings), (16, 17, 17), "user-{e}");
        let jazz: Vec<_> = a
            .memories(&memori_rig::EntityId::new(format!("user-{e}"))?, memori_rig::Validity::All)
            .await?
            .into_iter()
            .filter(|m| m.text == "User likes jazz")
            .collect();
        assert_eq!(jazz.len(), 1, "user-{e}: one memory for four mentions");
        assert_eq!((jazz[0].mention_count, jazz[0].sources.len()), (4, 4), "user-{e}: every mention counted once");
    }
    a.shutdown().await;
    b.shutdown().await;
    Ok(())
});

backend_test!(failing_jobs_retry_then_dead_letter_then_revive, |url: String| async move {
    let healed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let m = Memori::builder()
        .database_url(&url)
        .embedder(Flaky(healed.clone()))
        .configure(|c| {
            c.jobs.poll_interval = Duration::from_millis(20);
            c.jobs.retry_base = Duration::from_millis(20);
            c.jobs.max_attempts = 3;
        })
        .build()
        .await?;
    let scope = Scope::new("flaky", "bot", "s1")?;
    m.capture(&scope, vec![Message::user("remember me")]).await?;
    m.flush().await?; // drained: the job is dead, not pending
    let dead = m.jobs(Some(memori_rig::JobStatus::Dead), 10).await?;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert!(dead[0].last_error.as_deref().unwrap_or_default().contains("embedding service is down"), "{dead:?}");
    assert_eq!(m.metrics().snapshot().jobs_failed, 3);
    assert_eq!(m.stats(&scope.entity).await?.embeddings, 0);

    healed.store(true, Ordering::SeqCst);
    assert!(!m.retry_job(dead[0].id + 1000).await?, "no such job");
    assert_eq!(m.retry_dead_jobs().await?, 1);
    m.flush().await?;
    assert_eq!(m.dead_jobs().await?, 0);
    let stats = m.stats(&scope.entity).await?;
    assert_eq!((stats.messages, stats.memories, stats.embeddings), (1, 1, 1), "nothing lost, nothing twice");
    m.shutdown().await;
    Ok(())
});
