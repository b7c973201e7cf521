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

/// Most jobs a worker claims and processes as one batch. Embedding many texts per call is
/// about twice as fast as embedding one session's worth (see BENCHMARKS.md).
const BATCH_JOBS: usize = 16;

/// Run until `inner.shutdown` is cancelled.
pub(crate) async fn run(inner: Arc<Inner>, worker_id: String) {
    tracing::debug!(worker = %worker_id, "memori worker started");
    loop {
        if inner.shutdown.is_cancelled() {
            break;
        }
        match claim_batch(&inner, &worker_id).await {
            Ok(batch) if batch.is_empty() => {
                inner.progress.notify_waiters();
                tokio::select! {
                    () = inner.shutdown.cancelled() => break,
                    () = inner.wake.notified() => {}
                    () = tokio::time::sleep(inner.config.jobs.poll_interval) => {}
                }
            }
            Ok(batch) => {
                crate::failpoint::hit(crate::failpoint::AFTER_CLAIM).await;
                let outcomes = run_batch(&inner, &batch).await;
                crate::failpoint::hit(crate::failpoint::BEFORE_COMPLETE).await;
                for (job, outcome) in batch.iter().zip(outcomes) {
                    if let Err(e) = record(&inner, job, outcome).await {
                        // The lease will expire and the job will be claimed again: nothing is lost.
                        tracing::warn!(job = job.id, error = %e, "cannot record job outcome");
                        sleep_or_shutdown(&inner, inner.config.jobs.poll_interval).await;
                    }
                }
                inner.progress.notify_waiters();
            }
            Err(e) => {
                tracing::warn!(error = %e, "memori worker cannot reach the job queue");
                sleep_or_shutdown(&inner, inner.config.jobs.poll_interval.max(Duration::from_millis(500))).await;
            }
        }
    }
    tracing::debug!(worker = %worker_id, "memori worker stopped");
}

/// Claim up to [`BATCH_JOBS`] due jobs without waiting for more.
async fn claim_batch(inner: &Inner, worker_id: &str) -> Result<Vec<jobs::Claimed>> {
    let mut batch = Vec::new();
    while batch.len() < BATCH_JOBS {
        match jobs::claim(&inner.db, worker_id, store::ms(Utc::now()), inner.config.jobs.lease).await {
            Ok(Some(job)) => batch.push(job),
            Ok(None) => break,
            // Jobs already claimed are processed; the error shows again on the next round.
            Err(_) if !batch.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(batch)
}

/// Store a job's outcome: done, retry later, or dead letter.
async fn record(inner: &Inner, job: &jobs::Claimed, outcome: Result<()>) -> Result<()> {
    let now = store::ms(Utc::now());
    match outcome {
        Ok(()) => {
            inner.metrics.jobs_done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            jobs::complete(&inner.db, job.id, now).await
        }
        Err(e) => {
            inner.metrics.jobs_failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let delay = backoff(inner.config.jobs.retry_base, job.attempts);
            let dead = jobs::fail(&inner.db, job, &e.to_string(), now, delay).await?;
            if dead {
                tracing::error!(job = job.id, error = %e, "memori job failed for the last time; it is now a dead letter");
            } else {
                tracing::warn!(job = job.id, error = %e, retry_in_ms = delay.as_millis() as u64, "memori job failed; will retry");
            }
            Ok(())
        }
    }
}

/// Run a batch of jobs; one outcome per job, in order. Augment jobs share one embedding pass:
/// if it fails, each of them fails (and is retried; handlers are idempotent).
async fn run_batch(inner: &Inner, batch: &[jobs::Claimed]) -> Vec<Result<()>> {
    let mut outcomes: Vec<Option<Result<()>>> = Vec::with_capacity(batch.len());
    let mut message_ids = Vec::new();
    for job in batch {
        // A job claimed more often than it may be attempted lost its worker every time (a crash
        // or kill while running): stop retrying it and keep it as a dead letter.
        if job.attempts > job.max_attempts {
            outcomes.push(Some(Err(Error::new(
                crate::ErrorKind::Timeout,
                format!("abandoned: its worker stopped before finishing {} times", job.attempts - 1),
            ))));
            continue;
        }
        match job.kind {
            Some(jobs::Kind::Augment) => match serde_json::from_str::<AugmentPayload>(&job.payload) {
                Ok(p) => {
                    message_ids.extend(p.message_ids);
                    outcomes.push(None);
                }
                Err(e) => outcomes
                    .push(Some(Err(Error::invalid_input(format!("job {} has a malformed payload: {e}", job.id))))),
            },
            None => outcomes.push(Some(Err(Error::invalid_input(format!("job {} has an unknown kind", job.id))))),
        }
    }
    let shared = if message_ids.is_empty() { Ok(()) } else { augment(inner, &message_ids).await };
    outcomes
        .into_iter()
        .map(|o| match o {
            Some(done) => done,
            None => match &shared {
                Ok(()) => Ok(()),
                Err(e) => Err(Error::new(e.kind(), e.message())),
            },
        })
        .collect()
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
    for chunk in memory_ids.chunks(512) {
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
