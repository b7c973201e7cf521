//! Background workers: claim jobs from the durable queue and run them.
//!
//! An augment job (one capture) becomes: an episode memory per message, the extractor's
//! memories merged into the entity's store (see [`crate::augment::merge`]), graph edges,
//! invalidations, and embeddings for all of them.
//!
//! Every handler may run twice (a lease can expire while a slow worker still runs), so each
//! one writes with idempotency keys: an episode per message (`episode:{message_id}`), an
//! extracted memory per text (its dedup key), a source link per (memory, message), an
//! embedding per (memory, model), an edge per memory; mention counts are recounted from the
//! source links rather than incremented.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use serde::Deserialize;

use crate::augment::{self, Extracted, Extractor, Window, WindowMessage, merge};
use crate::config::{AugmentConfig, ExtractorChoice, JobConfig};
use crate::embed::Embedder;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::Metrics;
use crate::model::{JobKind, MemoryKind};
use crate::settings::SettingsCache;
use crate::signals::Signals;
use crate::store::{self, Db, EmbeddingRow, NewMemory, StoredMessage, jobs};

/// What a worker needs: the queue's database, the models, the settings and its limits.
pub(crate) struct Context {
    pub(crate) db: Db,
    pub(crate) embedder: Arc<dyn Embedder>,
    pub(crate) extractor: Arc<dyn Extractor>,
    pub(crate) settings: Arc<SettingsCache>,
    pub(crate) jobs: JobConfig,
    pub(crate) augment: AugmentConfig,
    pub(crate) signals: Arc<Signals>,
    pub(crate) metrics: Arc<Metrics>,
}

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

/// Run until `ctx.signals.shutdown` is cancelled.
pub(crate) async fn run(ctx: Arc<Context>, worker_id: String) {
    tracing::debug!(worker = %worker_id, "memori worker started");
    loop {
        if ctx.signals.shutdown.is_cancelled() {
            break;
        }
        match claim_batch(&ctx, &worker_id).await {
            Ok(batch) if batch.is_empty() => {
                ctx.signals.progress.notify_waiters();
                tokio::select! {
                    () = ctx.signals.shutdown.cancelled() => break,
                    () = ctx.signals.wake.notified() => {}
                    () = tokio::time::sleep(ctx.jobs.poll_interval) => {}
                }
            }
            Ok(batch) => {
                crate::failpoint::hit(crate::failpoint::AFTER_CLAIM).await;
                let ids: Vec<i64> = batch.iter().map(|j| j.id).collect();
                let span = tracing::info_span!("memori.jobs", jobs = batch.len(), ids = ?ids);
                let outcomes = tracing::Instrument::instrument(run_batch(&ctx, &batch), span).await;
                crate::failpoint::hit(crate::failpoint::BEFORE_COMPLETE).await;
                for (job, outcome) in batch.iter().zip(outcomes) {
                    if let Err(e) = record(&ctx, job, outcome).await {
                        // The lease will expire and the job will be claimed again: nothing is lost.
                        tracing::warn!(job = job.id, error = %e, "cannot record job outcome");
                        ctx.signals.sleep(ctx.jobs.poll_interval).await;
                    }
                }
                ctx.signals.progress.notify_waiters();
            }
            Err(e) => {
                tracing::warn!(error = %e, "memori worker cannot reach the job queue");
                ctx.signals.sleep(ctx.jobs.poll_interval.max(Duration::from_millis(500))).await;
            }
        }
    }
    tracing::debug!(worker = %worker_id, "memori worker stopped");
}

/// Claim up to [`BATCH_JOBS`] due jobs without waiting for more.
async fn claim_batch(ctx: &Context, worker_id: &str) -> Result<Vec<jobs::Claimed>> {
    let mut batch = Vec::new();
    while batch.len() < BATCH_JOBS {
        match jobs::claim(&ctx.db, worker_id, store::ms(Utc::now()), ctx.jobs.lease).await {
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
async fn record(ctx: &Context, job: &jobs::Claimed, outcome: Result<()>) -> Result<()> {
    let now = store::ms(Utc::now());
    match outcome {
        Ok(()) => {
            Metrics::inc(&ctx.metrics.jobs_done);
            jobs::complete(&ctx.db, job.id, now).await
        }
        Err(e) => {
            Metrics::inc(&ctx.metrics.jobs_failed);
            let delay = backoff(ctx.jobs.retry_base, job.attempts);
            let dead = jobs::fail(&ctx.db, job, &e.to_string(), now, delay).await?;
            if dead {
                tracing::error!(job = job.id, error = %e, "memori job failed for the last time; it is now a dead letter");
            } else {
                tracing::warn!(job = job.id, error = %e, retry_in_ms = delay.as_millis() as u64, "memori job failed; will retry");
            }
            Ok(())
        }
    }
}

/// Run a batch of jobs; one outcome per job, in order. The batch shares one read of its
/// messages and one embedding pass for episodes (if either fails, every job fails and is
/// retried; handlers are idempotent). Extraction and its writes are per job.
async fn run_batch(ctx: &Context, batch: &[jobs::Claimed]) -> Vec<Result<()>> {
    let mut outcomes: Vec<Result<Vec<i64>>> = Vec::with_capacity(batch.len());
    for job in batch {
        // A job claimed more often than it may be attempted lost its worker every time (a crash
        // or kill while running): stop retrying it and keep it as a dead letter.
        if job.attempts > job.max_attempts {
            outcomes.push(Err(Error::new(
                ErrorKind::Timeout,
                format!("abandoned: its worker stopped before finishing {} times", job.attempts - 1),
            )));
            continue;
        }
        outcomes.push(match job.kind {
            JobKind::Augment => serde_json::from_str::<AugmentPayload>(&job.payload)
                .map(|p| p.message_ids)
                .map_err(|e| Error::invalid_input(format!("job {} has a malformed payload: {e}", job.id))),
            JobKind::Unknown => Err(Error::invalid_input(format!("job {} has an unknown kind", job.id))),
        });
    }
    let all: Vec<i64> = outcomes.iter().filter_map(|o| o.as_ref().ok()).flatten().copied().collect();
    if all.is_empty() {
        return outcomes.into_iter().map(|o| o.map(drop)).collect();
    }
    let messages = match store_episodes(ctx, &all).await {
        Ok(m) => m,
        Err(e) => return outcomes.into_iter().map(|o| o.and_then(|_| Err(e.duplicate()))).collect(),
    };
    let by_id: HashMap<i64, &StoredMessage> = messages.iter().map(|m| (m.id, m)).collect();
    let windows: Vec<Vec<Vec<&StoredMessage>>> = outcomes
        .iter()
        .map(|o| match o {
            Ok(ids) => group_by_session(ids.iter().filter_map(|id| by_id.get(id).copied())),
            Err(_) => Vec::new(),
        })
        .collect();
    // Futures collected first: a closure inside the stream trips the `Send` check of the
    // spawned worker (rust-lang/rust#102211).
    let pending: Vec<_> = windows.iter().map(|sessions| extract_job(ctx, sessions)).collect();
    let extracted: Vec<Result<Found>> =
        futures::stream::iter(pending).buffered(ctx.augment.extract_concurrency.max(1)).collect().await;
    // One embedding pass for every memory the batch found.
    let texts: Vec<String> =
        extracted.iter().flatten().flat_map(|f| f.memories.iter().map(|(m, _)| m.text.clone())).collect();
    let mut vectors = match embed(ctx, texts).await {
        Ok(v) => v.into_iter(),
        Err(e) => return outcomes.into_iter().map(|o| o.and_then(|_| Err(e.duplicate()))).collect(),
    };
    let mut results = Vec::with_capacity(batch.len());
    for (outcome, extracted) in outcomes.into_iter().zip(extracted) {
        results.push(match (outcome, extracted) {
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
            (Ok(_), Ok(found)) => {
                let own: Vec<Vec<f32>> = vectors.by_ref().take(found.memories.len()).collect();
                apply(ctx, found, own).await
            }
        });
    }
    results
}

async fn embed(ctx: &Context, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    let n = texts.len();
    let vectors = ctx.embedder.embed(texts).await?;
    if vectors.len() != n {
        return Err(Error::new(
            ErrorKind::Embedding,
            format!("the embedder returned {} vectors for {n} texts", vectors.len()),
        ));
    }
    Ok(vectors)
}

/// Decide merges against the entity's live memories and write one job's findings.
async fn apply(ctx: &Context, found: Found, vectors: Vec<Vec<f32>>) -> Result<()> {
    let model = ctx.embedder.model_id();
    let mut known = match found.memories.first() {
        Some((m, _)) => store::augment::live_statements(&ctx.db, m.entity, model).await?,
        None if found.summaries.is_empty() => return Ok(()),
        None => Vec::new(),
    };
    let pairs: Vec<(&Extracted, Option<&[f32]>)> =
        found.memories.iter().zip(&vectors).map(|((_, e), v)| (e, Some(v.as_slice()))).collect();
    let keys = merge::plan(&pairs, &mut known, &ctx.augment);
    let planned: Vec<store::augment::Planned> = found
        .memories
        .into_iter()
        .zip(vectors)
        .zip(keys)
        .map(|(((mut memory, e), vector), (key, _merged))| {
            memory.dedup_key = key;
            store::augment::Planned { memory, vector: Some(vector), triple: e.triple }
        })
        .collect();
    let applied = store::augment::apply(&ctx.db, model, &planned, &found.summaries, store::ms(Utc::now())).await?;
    let m = &ctx.metrics;
    Metrics::add(&m.memories_extracted, applied.inserted as u64);
    Metrics::add(&m.memories_reinforced, applied.reinforced as u64);
    Metrics::add(&m.memories_invalidated, applied.invalidated as u64);
    Ok(())
}

/// Messages in id order, split into runs of one session each.
fn group_by_session<'a>(messages: impl Iterator<Item = &'a StoredMessage>) -> Vec<Vec<&'a StoredMessage>> {
    let mut groups: Vec<Vec<&StoredMessage>> = Vec::new();
    for m in messages {
        match groups.iter_mut().find(|g| g[0].session == m.session) {
            Some(g) => g.push(m),
            None => groups.push(vec![m]),
        }
    }
    groups
}

/// What extraction found for one job: memories ready to plan, and session summaries.
#[derive(Default)]
struct Found {
    memories: Vec<(NewMemory, Extracted)>,
    summaries: Vec<(store::SessionRow, String)>,
}

/// Run the extractor over each session window of one job.
async fn extract_job(ctx: &Context, sessions: &[Vec<&StoredMessage>]) -> Result<Found> {
    let mut out = Found::default();
    // Operators may switch every process to the offline extractor in the settings.
    let choice = match ctx.settings.current(&ctx.db).await {
        Ok(s) => s.extractor,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read settings; using the configured extractor");
            ExtractorChoice::Configured
        }
    };
    let offline = augment::OfflineExtractor;
    let extractor: &dyn augment::Extractor = match choice {
        ExtractorChoice::Offline => &offline,
        ExtractorChoice::Configured => &*ctx.extractor,
    };
    for messages in sessions {
        let first = messages[0];
        let summary = store::capture::session_summary(&ctx.db, first.session).await?;
        let window = Window {
            summary,
            messages: messages
                .iter()
                .map(|m| WindowMessage {
                    id: m.id,
                    role: m.message.role,
                    name: m.message.name.clone(),
                    text: m.text.clone(),
                    said_at: m.message.said_at.unwrap_or_else(Utc::now),
                })
                .collect(),
        };
        let timeout = ctx.augment.extract_timeout;
        let mut extraction = tokio::time::timeout(timeout, extractor.extract(&window))
            .await
            .map_err(|_| Error::new(ErrorKind::Timeout, format!("extraction took longer than {timeout:?}")))??;
        let dropped = augment::sanitize(&mut extraction, &window);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                extractor = extractor.id(),
                "extractor returned unusable memories; they were dropped"
            );
        }
        out.summaries.extend(extraction.summary.take().map(|s| (first.session, s)));
        for e in extraction.memories {
            let said = window
                .messages
                .iter()
                .filter(|w| e.sources.contains(&w.id))
                .map(|w| w.said_at)
                .max()
                .unwrap_or_else(Utc::now);
            out.memories.push((
                NewMemory {
                    entity: first.entity,
                    session: Some(first.session),
                    process: Some(first.process),
                    kind: e.kind,
                    text: e.text.clone(),
                    importance: e.importance,
                    confidence: e.confidence,
                    valid_from: store::ms(said),
                    referred_at: e.refers_to.map(store::ms),
                    dedup_key: String::new(),
                    source_message_ids: e.sources.clone(),
                },
                e,
            ));
        }
    }
    Ok(out)
}
/// Exponential backoff with ±50% jitter, capped at ten minutes.
pub(crate) fn backoff(base: Duration, attempt: i32) -> Duration {
    let exp = 2u32.saturating_pow(u32::try_from(attempt.max(1) - 1).unwrap_or(0).min(16));
    let d = base.saturating_mul(exp).min(Duration::from_secs(600));
    d.mul_f64(0.5 + fastrand::f64())
}

/// Load the messages, store an episode memory per message and embed every episode that
/// lacks a vector. Returns the messages (erased ones are skipped).
async fn store_episodes(ctx: &Context, message_ids: &[i64]) -> Result<Vec<StoredMessage>> {
    let messages = store::capture::messages_by_id(&ctx.db, message_ids).await?;
    let episodes: Vec<NewMemory> = messages
        .iter()
        .filter_map(|m| {
            let text = m.message.episode_text()?;
            Some(NewMemory {
                entity: m.entity,
                session: Some(m.session),
                process: Some(m.process),
                kind: MemoryKind::Episode,
                text,
                importance: EPISODE_IMPORTANCE,
                confidence: 1.0,
                valid_from: m.message.said_at.map_or_else(|| store::ms(Utc::now()), store::ms),
                referred_at: None,
                dedup_key: format!("episode:{}", m.id),
                source_message_ids: vec![m.id],
            })
        })
        .collect();
    let memory_ids = store::memories::upsert_memories(&ctx.db, &episodes).await?;
    embed_missing(ctx, &memory_ids).await?;
    Ok(messages)
}

async fn embed_missing(ctx: &Context, memory_ids: &[i64]) -> Result<()> {
    let model = ctx.embedder.model_id().to_owned();
    for chunk in memory_ids.chunks(512) {
        let missing = store::memories::missing_embeddings(&ctx.db, chunk, &model).await?;
        if missing.is_empty() {
            continue;
        }
        let texts: Vec<String> = missing.iter().map(|m| m.text.clone()).collect();
        let vectors = embed(ctx, texts).await?;
        let rows: Vec<EmbeddingRow> = missing
            .into_iter()
            .zip(vectors)
            .map(|(m, vector)| EmbeddingRow { memory_id: m.id, entity: m.entity, vector })
            .collect();
        store::memories::insert_embeddings(&ctx.db, &model, &rows).await?;
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
