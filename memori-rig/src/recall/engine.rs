//! Recall as the rest of the crate calls it: one settings snapshot, the entity's memory
//! revision, its index from the cache (brought up to date with what changed since, or built
//! from the store), the query embedded, then the pure search (see [`super::index`]) on a
//! blocking thread.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;

use super::cache::{self, CachedIndex};
use super::index::{EntityIndex, IndexDelta, Query};
use super::{RecallRequest, block, lexical, time};
use crate::config::RecallConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::KnowledgeGraph;
use crate::metrics::Metrics;
use crate::model::{Recalled, Validity};
use crate::scope::{EntityId, Scope};
use crate::store;
use crate::{Inner, Memori};

/// What one recall found, with the settings it was ranked with: render the injected block
/// from the same snapshot ([`Recollection::block`]), so ranking and rendering never disagree.
#[derive(Clone, Debug)]
pub struct Recollection {
    /// The memories, best first, each with its score's explanation.
    pub memories: Vec<Recalled>,
    /// The recall settings used: the saved ones in effect, or the request's own.
    pub config: Arc<RecallConfig>,
}

impl Recollection {
    /// The block injected into a system prompt (format: [`super::block`]), within
    /// [`RecallConfig::token_budget`]; `None` when not even one memory fits.
    pub fn block(&self) -> Option<String> {
        block::render(&self.memories, self.config.token_budget, self.config.neighbours)
    }

    /// Leave out memories whose source messages are all among `seen` (fingerprints of
    /// messages the model already has in its context).
    #[must_use]
    pub fn without_seen(mut self, seen: &HashSet<String>) -> Self {
        self.memories
            .retain(|r| r.memory.sources.is_empty() || !r.memory.sources.iter().all(|s| seen.contains(&s.fingerprint)));
        self
    }
}

fn panicked(what: &str, e: &tokio::task::JoinError) -> Error {
    Error::new(ErrorKind::Internal, format!("{what} panicked: {e}"))
}

impl Memori {
    /// Recall the memories of `scope`'s entity that matter for `query`, best first. Recall
    /// covers every session and process of the entity, and never another entity.
    pub async fn recall(&self, scope: &Scope, query: &str) -> Result<Vec<Recalled>> {
        Ok(self.recall_with(&scope.entity, RecallRequest::new(query)).await?.memories)
    }

    /// Recall with every option; the answer carries the settings it used.
    ///
    /// Reads one row to learn the entity's memory revision; when it matches the cached index,
    /// nothing else is read from the database. Searching runs on a blocking thread.
    #[tracing::instrument(name = "memori.recall", skip_all, fields(limit = req.limit, results = tracing::field::Empty))]
    pub async fn recall_with(&self, entity: &EntityId, req: RecallRequest) -> Result<Recollection> {
        let started = std::time::Instant::now();
        let config = match &req.config {
            Some(c) => {
                c.validate().map_err(Error::invalid_input)?;
                Arc::new(c.clone())
            }
            None => self.current_settings().await?.recall,
        };
        let limit = req.limit.unwrap_or(config.limit);
        if req.query.trim().is_empty() || limit == 0 {
            return Ok(Recollection { memories: Vec::new(), config });
        }
        let embedder = &self.inner.embedder;
        let budget = self.inner.config.query_embedding_budget;
        let embed = async {
            match tokio::time::timeout(budget, embedder.embed_query(req.query.clone())).await {
                Ok(v) => Ok(Some(v?).filter(|v| !v.is_empty())),
                Err(_) => {
                    // The model is busy: recall with the other sources rather than time out.
                    Metrics::inc(&self.inner.metrics.recall_vector_skipped);
                    tracing::debug!(
                        budget_ms = budget.as_millis() as u64,
                        "recall without the query vector: model busy"
                    );
                    Ok(None)
                }
            }
        };
        let (index, query_vector) = tokio::try_join!(entity_index(&self.inner, entity), embed)?;
        let Some(index) = index else { return Ok(Recollection { memories: Vec::new(), config }) };
        let now = req.as_of.unwrap_or_else(Utc::now);
        let cfg = Arc::clone(&config);
        let memories: Vec<Recalled> = tokio::task::spawn_blocking(move || {
            let terms = lexical::terms(&req.query);
            let time = time::parse(&req.query, now);
            let filter = req.filter();
            let query =
                Query { text: &req.query, terms: &terms, vector: query_vector.as_deref(), now, time: time.as_ref() };
            let state = index.read();
            let index = &state.1;
            index
                .search(&query, &filter, &cfg, limit)
                .into_iter()
                .map(|s| Recalled {
                    memory: index.memory(s.index).clone(),
                    score: s.score,
                    explanation: s.explanation,
                    neighbours: if cfg.neighbours { index.neighbours(s.index, &filter) } else { Vec::new() },
                    superseded: index.superseded(s.index, query.now),
                })
                .collect()
        })
        .await
        .map_err(|e| panicked("recall search", &e))?;
        self.inner.metrics.recall_latency.observe(started.elapsed());
        tracing::Span::current().record("results", memories.len());
        Ok(Recollection { memories, config })
    }

    /// The memory block for a prompt, as the rig adapter injects it: recall for `query`,
    /// leave out memories whose source messages are all in `in_history` (fingerprints of
    /// messages the model already sees), render within the token budget of the same settings
    /// snapshot. Bounded by [`crate::Config::recall_timeout`]; failures are logged and counted
    /// in [`crate::MetricsSnapshot::recall_failures`].
    pub async fn context_block(
        &self,
        scope: &Scope,
        query: &str,
        in_history: &HashSet<String>,
    ) -> Result<Option<String>> {
        let timeout = self.inner.config.recall_timeout;
        let recalled = tokio::time::timeout(timeout, self.recall_with(&scope.entity, RecallRequest::new(query))).await;
        match recalled {
            Ok(Ok(r)) => {
                // Counting tokens is CPU work: off the async workers, like the search.
                let r = r.without_seen(in_history);
                tokio::task::spawn_blocking(move || r.block()).await.map_err(|e| panicked("rendering the block", &e))
            }
            Ok(Err(e)) => {
                Metrics::inc(&self.inner.metrics.recall_failures);
                tracing::warn!(error = %e, kind = ?e.kind(), "memori recall failed; the call goes on without memories");
                Err(e)
            }
            Err(_) => {
                Metrics::inc(&self.inner.metrics.recall_failures);
                Metrics::inc(&self.inner.metrics.recall_timeouts);
                tracing::warn!(
                    timeout_ms = timeout.as_millis() as u64,
                    "memori recall timed out; the call goes on without memories"
                );
                Err(Error::new(ErrorKind::Timeout, format!("recall took longer than {timeout:?}")))
            }
        }
    }

    /// Entity indexes cached for recall and their approximate size in bytes.
    pub fn recall_cache_usage(&self) -> (usize, usize) {
        self.inner.cache.usage()
    }
}

/// Changes larger than this share of an index (or than [`REBUILD_AT_LEAST`]) are not applied
/// one by one: the index is built again, which is then cheaper.
const REBUILD_SHARE: usize = 4;
const REBUILD_AT_LEAST: usize = 2_000;

/// The recall index of an entity, up to date with its memory revision: the cached one as it
/// is, brought up to date with what changed since, or built from the store when there is none
/// (or too much changed). One task per entity updates; concurrent recalls wait for it. `None`
/// for an unknown entity.
async fn entity_index(inner: &Inner, entity: &EntityId) -> Result<Option<Arc<CachedIndex>>> {
    let db = &inner.db;
    let Some((row, revision)) = store::capture::memory_revision(db, entity).await? else { return Ok(None) };
    let model = inner.embedder.model_id();
    let cached = inner.cache.entry(row.0, model);
    if cached.revision() >= revision {
        Metrics::inc(&inner.metrics.recall_cache_hits);
        return Ok(Some(cached));
    }
    let guard = Arc::clone(&cached);
    let _updating = guard.updating.lock().await;
    let current = cached.revision();
    if current >= revision {
        // Another recall brought it up to date while this one waited.
        Metrics::inc(&inner.metrics.recall_cache_hits);
        return Ok(Some(cached));
    }
    let delta = if current == cache::UNBUILT {
        None
    } else {
        match store::recall::changes_since(db, row, model, current).await? {
            store::recall::Changes::Rebuild => None,
            store::recall::Changes::Delta { memories, deleted, nodes, edges } => {
                let delta = IndexDelta {
                    memories: memories.into_iter().map(|c| (c.memory, c.vector)).collect(),
                    deleted,
                    nodes,
                    edges,
                };
                let size = cached.read().1.len();
                (delta.len() <= REBUILD_AT_LEAST.max(size / REBUILD_SHARE)).then_some(delta)
            }
        }
    };
    match delta {
        Some(delta) => {
            let target = Arc::clone(&cached);
            tokio::task::spawn_blocking(move || target.apply(revision, delta))
                .await
                .map_err(|e| panicked("updating the recall index", &e))?;
            Metrics::inc(&inner.metrics.recall_index_updates);
        }
        None => {
            // The revision is read before the rows, so a write racing with the build can only
            // make the next recall apply it again (applying is idempotent).
            let started = std::time::Instant::now();
            let candidates = store::recall::candidates(db, row, model, Validity::All).await?;
            let (nodes, edges) = store::graph::graph(db, row, Validity::All).await?;
            let read = started.elapsed();
            let index = tokio::task::spawn_blocking(move || {
                let (memories, vectors) = candidates.into_iter().map(|c| (c.memory, c.vector)).unzip();
                EntityIndex::new(memories, vectors, KnowledgeGraph::new(nodes, edges))
            })
            .await
            .map_err(|e| panicked("building the recall index", &e))?;
            tracing::debug!(
                memories = index.len(),
                read_ms = read.as_millis() as u64,
                build_ms = (started.elapsed() - read).as_millis() as u64,
                "built a recall index"
            );
            cached.replace(revision, index);
            Metrics::inc(&inner.metrics.recall_index_builds);
        }
    }
    inner.cache.resized(row.0, &cached);
    Ok(Some(cached))
}
