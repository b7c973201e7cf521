//! Background workers: claim jobs from the durable queue and run them.
//!
//! Every handler may run twice (a lease can expire while a slow worker still runs), so each
//! one writes with idempotency keys: an episode per message (`episode:{message_id}`), an
//! embedding per (memory, model).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::store::{self, jobs};
use crate::{Inner, model::MemoryKind};

/// Importance given to raw episodes (extracted memories will rank above them when
/// importance counts).
const EPISODE_IMPORTANCE: f64 = 0.3;

#[derive(Deserialize)]
struct AugmentPayload {
    message_ids: Vec<i64>,
}

/// Run until `inner.shutdown` is cancelled.
pub(crate) async fn run(inner: Arc<Inner>, worker_id: String) {
    tracing::debug!(worker = %worker_id, "memori worker started");
    loop {
        if inner.shutdown.is_cancelled() {
            break;
        }
        let claimed = jobs::claim(&inner.db, &worker_id, store::ms(Utc::now()), inner.config.jobs.lease).await;
        match claimed {
            Ok(Some(job)) => {
                let outcome = run_job(&inner, &job).await;
                let now = store::ms(Utc::now());
                let recorded = match outcome {
                    Ok(()) => {
                        inner.metrics.jobs_done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        jobs::complete(&inner.db, job.id, now).await
                    }
                    Err(e) => {
                        inner.metrics.jobs_failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let delay = backoff(inner.config.jobs.retry_base, job.attempts);
                        let res = jobs::fail(&inner.db, &job, &e.to_string(), now, delay).await;
                        match &res {
                            Ok(true) => {
                                tracing::error!(job = job.id, error = %e, "memori job failed for the last time; it is now a dead letter")
                            }
                            Ok(false) => {
                                tracing::warn!(job = job.id, error = %e, retry_in_ms = delay.as_millis() as u64, "memori job failed; will retry")
                            }
                            Err(_) => {}
                        }
                        res.map(|_| ())
                    }
                };
                if let Err(e) = recorded {
                    // The lease will expire and the job will be claimed again: nothing is lost.
                    tracing::warn!(job = job.id, error = %e, "cannot record job outcome");
                    sleep_or_shutdown(&inner, inner.config.jobs.poll_interval).await;
                }
                inner.progress.notify_waiters();
            }
            Ok(None) => {
                inner.progress.notify_waiters();
                tokio::select! {
                    () = inner.shutdown.cancelled() => break,
                    () = inner.wake.notified() => {}
                    () = tokio::time::sleep(inner.config.jobs.poll_interval) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "memori worker cannot reach the job queue");
                sleep_or_shutdown(&inner, inner.config.jobs.poll_interval.max(Duration::from_millis(500))).await;
            }
        }
    }
    tracing::debug!(worker = %worker_id, "memori worker stopped");
}

async fn sleep_or_shutdown(inner: &Inner, d: Duration) {
    tokio::select! {
        () = inner.shutdown.cancelled() => {}
        () = tokio::time::sleep(d) => {}
    }
}

/// Exponential backoff with ±50% jitter, capped at ten minutes.
pub(crate) fn backoff(base: Duration, attempt: i32) -> Duration {
    let exp = 2u32.saturating_pow(u32::try_from(attempt.max(1) - 1).unwrap_or(0).min(16));
    let d = base.saturating_mul(exp).min(Duration::from_secs(600));
    d.mul_f64(0.5 + fastrand::f64())
}

async fn run_job(inner: &Inner, job: &jobs::Claimed) -> Result<()> {
    match job.kind {
        Some(jobs::Kind::Augment) => {
            let payload: AugmentPayload = serde_json::from_str(&job.payload)
                .map_err(|e| Error::invalid_input(format!("job {} has a malformed payload: {e}", job.id)))?;
            augment(inner, &payload.message_ids).await
        }
        None => Err(Error::invalid_input(format!("job {} has an unknown kind", job.id))),
    }
}

/// Turn messages into episode memories and embed every memory that lacks a vector.
async fn augment(inner: &Inner, message_ids: &[i64]) -> Result<()> {
    let messages = store::messages_by_id(&inner.db, message_ids).await?;
    let episodes: Vec<store::NewMemory> = messages
        .iter()
        .filter_map(|m| {
            let text = m.message.episode_text()?;
            Some(store::NewMemory {
                entity_id: m.entity_id,
                session_id: Some(m.session_id),
                process_id: Some(m.process_id),
                kind: MemoryKind::Episode,
                text,
                importance: EPISODE_IMPORTANCE,
                confidence: 1.0,
                valid_from: m.message.said_at.map_or_else(|| store::ms(Utc::now()), store::ms),
                dedup_key: format!("episode:{}", m.id),
                source_message_ids: vec![m.id],
            })
        })
        .collect();
    let memory_ids = store::upsert_memories(&inner.db, &episodes).await?;
    embed_missing(inner, &memory_ids).await
}

async fn embed_missing(inner: &Inner, memory_ids: &[i64]) -> Result<()> {
    let model = inner.embedder.model_id().to_owned();
    for chunk in memory_ids.chunks(256) {
        let missing = store::missing_embeddings(&inner.db, chunk, &model).await?;
        if missing.is_empty() {
            continue;
        }
        let texts: Vec<String> = missing.iter().map(|(_, _, t)| t.clone()).collect();
        let vectors = inner.embedder.embed(texts).await?;
        if vectors.len() != missing.len() {
            return Err(Error::new(
                crate::ErrorKind::Embedding,
                format!("the embedder returned {} vectors for {} texts", vectors.len(), missing.len()),
            ));
        }
        let rows: Vec<(i64, i64, Vec<f32>)> =
            missing.into_iter().zip(vectors).map(|((id, entity, _), v)| (id, entity, v)).collect();
        store::insert_embeddings(&inner.db, &model, &rows).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_jitters_and_caps() {
        let base = Duration::from_secs(1);
        for attempt in 1..=5 {
            let d = backoff(base, attempt);
            let nominal = base * 2u32.pow(u32::try_from(attempt - 1).unwrap());
            assert!(d >= nominal.mul_f64(0.5) && d <= nominal.mul_f64(1.5), "attempt {attempt}: {d:?}");
        }
        assert!(backoff(base, 40) <= Duration::from_secs(900));
    }
}
