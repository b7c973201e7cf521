//! Long-term memory for [rig](https://docs.rs/rig-core) agents, stored in your own database.
//!
//! memori-rig captures every exchange of a wrapped agent or model, turns it into memories with
//! local embeddings in the background, and before each model call recalls what matters for
//! the current prompt into the system prompt. Everything lives in your SQLite, PostgreSQL or
//! MySQL/MariaDB database; nothing is sent to a third party.
//!
//! ```
//! use memori_rig::{Memori, Message, Scope, embed::HashEmbedder};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> memori_rig::Result<()> {
//! let memori = Memori::builder()
//!     .database_url("sqlite::memory:")
//!     .embedder(HashEmbedder::default()) // or the default local MiniLM model (`memori setup`)
//!     .build()
//!     .await?;
//!
//! let monday = Scope::new("user-42", "snack-bot", "monday")?;
//! memori.capture(&monday, vec![Message::user("I'm allergic to peanuts"), Message::assistant("Noted!")]).await?;
//! memori.flush().await?; // wait for background augmentation (embeddings)
//!
//! let friday = Scope::new("user-42", "snack-bot", "friday")?;
//! let recalled = memori.recall(&friday, "am I allergic to anything?").await?;
//! assert!(recalled[0].memory.text.contains("peanuts"));
//! println!("{}", recalled[0].explanation.render());
//! # Ok(()) }
//! ```
//!
//! With a rig agent, attach [`Memori::hook`] to a run: it recalls before each model call,
//! injects the memories into the system prompt and captures what the run added (see the
//! [`rig`] module and `examples/quickstart.rs`).

// The README's code blocks are compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

pub mod admin;
pub mod augment;
pub mod config;
pub mod embed;
pub mod error;
mod failpoint;
pub mod graph;
pub mod import;
pub mod model;
pub mod recall;
pub mod rig;
pub mod scope;
mod spool;
mod store;
pub mod text;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use augment::{Extractor, OfflineExtractor};
pub use config::{
    AugmentConfig, Config, ExtractionSettings, ExtractorChoice, FailureMode, Fusion, JobConfig, RecallConfig,
    RetentionPolicy, Settings,
};
pub use embed::Embedder;
pub use error::{Error, ErrorKind, Result};
pub use model::{
    EntityStats, Explanation, JobInfo, Memory, MemoryKind, Message, Neighbour, Part, Recalled, Role, SourceRef,
};
pub use recall::RecallRequest;
pub use scope::{EntityId, ProcessId, Scope, SessionId};
pub use store::{CaptureReceipt, DatabaseConnection, redact_url};

/// Largest message accepted by [`Memori::capture`], in bytes of text.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Largest memory text, in bytes: longer extractions are cut, longer corrections refused.
pub const MAX_MEMORY_TEXT_BYTES: usize = 2_000;

/// Counters of what memory did and what failed, for logs and health checks.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Recalls that failed or timed out (the agent call went on without memory).
    pub recall_failures: AtomicU64,
    /// Captures that failed or timed out.
    pub capture_failures: AtomicU64,
    /// Jobs finished.
    pub jobs_done: AtomicU64,
    /// Job attempts that failed (each is retried or becomes a dead letter).
    pub jobs_failed: AtomicU64,
    /// Extracted memories stored as new.
    pub memories_extracted: AtomicU64,
    /// Extracted memories merged into one already stored (a mention more).
    pub memories_reinforced: AtomicU64,
    /// Memories invalidated by a contradicting statement.
    pub memories_invalidated: AtomicU64,
    /// Recalls served from a cached entity index.
    pub recall_cache_hits: AtomicU64,
    /// Entity indexes built from the store (first recall, or the entity's memories changed).
    pub recall_index_builds: AtomicU64,
    /// Agent-call captures spooled because the database did not answer (see
    /// [`Config::spool_bytes`]).
    pub spooled: AtomicU64,
    /// Spooled captures written once the database answered again.
    pub spool_written: AtomicU64,
    /// Captures lost to memory: refused by a full spool, or refused by the database when
    /// written from the spool. Each is logged as an error.
    pub spool_dropped: AtomicU64,
}

impl Metrics {
    /// Current values as `(name, value)` pairs.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("recall_failures", self.recall_failures.load(Ordering::Relaxed)),
            ("capture_failures", self.capture_failures.load(Ordering::Relaxed)),
            ("jobs_done", self.jobs_done.load(Ordering::Relaxed)),
            ("jobs_failed", self.jobs_failed.load(Ordering::Relaxed)),
            ("memories_extracted", self.memories_extracted.load(Ordering::Relaxed)),
            ("memories_reinforced", self.memories_reinforced.load(Ordering::Relaxed)),
            ("memories_invalidated", self.memories_invalidated.load(Ordering::Relaxed)),
            ("recall_cache_hits", self.recall_cache_hits.load(Ordering::Relaxed)),
            ("recall_index_builds", self.recall_index_builds.load(Ordering::Relaxed)),
            ("spooled", self.spooled.load(Ordering::Relaxed)),
            ("spool_written", self.spool_written.load(Ordering::Relaxed)),
            ("spool_dropped", self.spool_dropped.load(Ordering::Relaxed)),
        ]
    }
}

pub(crate) struct Inner {
    pub(crate) db: DatabaseConnection,
    pub(crate) embedder: Arc<dyn Embedder>,
    pub(crate) extractor: Arc<dyn Extractor>,
    pub(crate) config: Config,
    /// Signalled when new jobs are written by this process.
    pub(crate) wake: Notify,
    /// Signalled when a worker finished a job or found none.
    pub(crate) progress: Notify,
    pub(crate) shutdown: CancellationToken,
    pub(crate) metrics: Metrics,
    workers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    cache: recall::cache::IndexCache,
    settings: std::sync::RwLock<CachedSettings>,
    spool: spool::Spool,
}

/// The effective settings and when the settings table was last checked.
struct CachedSettings {
    version: i64,
    checked: Option<std::time::Instant>,
    recall: Arc<RecallConfig>,
    extractor: config::ExtractorChoice,
}

impl Inner {
    /// The recall settings and extractor choice in effect: the cached ones while younger than
    /// [`Config::settings_refresh`], else re-read when the settings table has a newer version.
    /// A saved version that does not parse or validate is skipped with a warning.
    pub(crate) async fn current_settings(&self) -> Result<(Arc<RecallConfig>, config::ExtractorChoice)> {
        let (version, fresh, recall, extractor) = {
            let s = self.settings.read().map_err(|_| Error::new(ErrorKind::Closed, "settings lock poisoned"))?;
            let fresh = s.checked.is_some_and(|t| t.elapsed() < self.config.settings_refresh);
            (s.version, fresh, Arc::clone(&s.recall), s.extractor)
        };
        if fresh {
            return Ok((recall, extractor));
        }
        let latest = store::settings::latest_version(&self.db).await?;
        let (recall, extractor) = if latest == version {
            (recall, extractor)
        } else {
            match store::settings::latest(&self.db).await? {
                Some((_, body)) => match serde_json::from_str::<Settings>(&body) {
                    Ok(s) if s.recall.validate().is_ok() => (Arc::new(s.recall), s.extraction.extractor),
                    Ok(_) | Err(_) => {
                        tracing::warn!(
                            version = latest,
                            "saved settings do not parse or are out of range; keeping the previous ones"
                        );
                        (recall, extractor)
                    }
                },
                None => (Arc::new(self.config.recall.clone()), config::ExtractorChoice::default()),
            }
        };
        if let Ok(mut s) = self.settings.write() {
            *s = CachedSettings {
                version: latest,
                checked: Some(std::time::Instant::now()),
                recall: Arc::clone(&recall),
                extractor,
            };
        }
        Ok((recall, extractor))
    }
}

/// Validate keyed messages into a store batch.
fn new_messages(messages: Vec<(Message, String)>, run_id: Option<&str>) -> Result<Vec<store::NewMessage>> {
    let mut batch = Vec::with_capacity(messages.len());
    for (i, (message, key)) in messages.into_iter().enumerate() {
        if key.is_empty() || key.len() > scope::MAX_ID_BYTES {
            return Err(Error::invalid_input(format!(
                "message {i}: idempotency key must be 1 to {} bytes, got {}",
                scope::MAX_ID_BYTES,
                key.len()
            )));
        }
        let text = message.plain_text();
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(Error::invalid_input(format!(
                "message {i} is {} bytes of text, the limit is {MAX_MESSAGE_BYTES}; nothing was stored",
                text.len()
            )));
        }
        batch.push(store::NewMessage { message, text, idempotency_key: key, run_id: run_id.map(str::to_owned) });
    }
    Ok(batch)
}

/// Stops the workers when the last [`Memori`] handle is dropped.
struct ShutdownGuard(CancellationToken);

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// The memory engine. Cheap to clone; clones share one database pool and one worker set.
#[derive(Clone)]
pub struct Memori {
    inner: Arc<Inner>,
    _guard: Arc<ShutdownGuard>,
}

impl std::fmt::Debug for Memori {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memori")
            .field("backend", &self.inner.db.get_database_backend())
            .field("embedder", &self.inner.embedder.model_id())
            .field("extractor", &self.inner.extractor.id())
            .finish_non_exhaustive()
    }
}

enum DbSource {
    None,
    Url(String),
    Connection(DatabaseConnection),
}

/// Builds a [`Memori`]; see [`Memori::builder`].
#[must_use]
pub struct MemoriBuilder {
    db: DbSource,
    embedder: Option<Arc<dyn Embedder>>,
    extractor: Option<Arc<dyn Extractor>>,
    config: Config,
}

impl MemoriBuilder {
    /// Connect to this database: `sqlite://path/to/memori.db?mode=rwc`, `sqlite::memory:`,
    /// `postgres://user:pass@host/db` or `mysql://user:pass@host/db`.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.db = DbSource::Url(url.into());
        self
    }

    /// Use an existing sea-orm connection (pool).
    pub fn connection(mut self, db: DatabaseConnection) -> Self {
        self.db = DbSource::Connection(db);
        self
    }

    /// Use this embedder (default: the local all-MiniLM-L6-v2 model, see `memori setup`).
    pub fn embedder(mut self, embedder: impl Embedder) -> Self {
        self.embedder = Some(Arc::new(embedder));
        self
    }

    /// Use a shared embedder.
    pub fn shared_embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// Extract memories with this extractor (default: [`OfflineExtractor`], rules that need no
    /// model; with a rig model use `memori_rig::rig::LlmExtractor`).
    pub fn extractor(mut self, extractor: impl Extractor) -> Self {
        self.extractor = Some(Arc::new(extractor));
        self
    }

    /// Use a shared extractor.
    pub fn shared_extractor(mut self, extractor: Arc<dyn Extractor>) -> Self {
        self.extractor = Some(extractor);
        self
    }

    /// Replace the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Change the configuration in place.
    pub fn configure(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    /// Connect, migrate (unless turned off) and start the background workers. Must be called
    /// inside a Tokio runtime.
    pub async fn build(self) -> Result<Memori> {
        let db = match self.db {
            DbSource::None => {
                return Err(Error::invalid_input("no database: call database_url(..) or connection(..)"));
            }
            DbSource::Url(url) => store::connect(&url).await?,
            DbSource::Connection(db) => db,
        };
        if self.config.auto_migrate {
            store::migrate(&db).await?;
        }
        let embedder = match self.embedder {
            Some(e) => e,
            None => default_embedder()?,
        };
        let spool = spool::Spool::open(self.config.spool_bytes, self.config.spool_dir.clone())?;
        let inner = Arc::new(Inner {
            db,
            spool,
            embedder,
            extractor: self.extractor.unwrap_or_else(|| Arc::new(OfflineExtractor)),
            cache: recall::cache::IndexCache::new(self.config.recall_cache_bytes),
            settings: std::sync::RwLock::new(CachedSettings {
                version: 0,
                checked: None,
                recall: Arc::new(self.config.recall.clone()),
                extractor: config::ExtractorChoice::default(),
            }),
            config: self.config,
            wake: Notify::new(),
            progress: Notify::new(),
            shutdown: CancellationToken::new(),
            metrics: Metrics::default(),
            workers: std::sync::Mutex::new(Vec::new()),
        });
        let mut handles: Vec<_> = (0..inner.config.workers)
            .map(|i| {
                let id = format!("{}-{}-{i}", std::process::id(), uuid::Uuid::new_v4().simple());
                tokio::spawn(worker::run(Arc::clone(&inner), id))
            })
            .collect();
        handles.push(tokio::spawn(spool::drain(Arc::clone(&inner))));
        if let Ok(mut w) = inner.workers.lock() {
            w.extend(handles);
        }
        let guard = Arc::new(ShutdownGuard(inner.shutdown.clone()));
        Ok(Memori { inner, _guard: guard })
    }
}

#[cfg(feature = "fastembed")]
fn default_embedder() -> Result<Arc<dyn Embedder>> {
    Ok(Arc::new(embed::FastEmbedder::from_cache()?))
}

#[cfg(not(feature = "fastembed"))]
fn default_embedder() -> Result<Arc<dyn Embedder>> {
    Err(Error::invalid_input("no embedder: enable the `fastembed` feature or call embedder(..)"))
}

impl Memori {
    /// Start building.
    pub fn builder() -> MemoriBuilder {
        MemoriBuilder { db: DbSource::None, embedder: None, extractor: None, config: Config::default() }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The database connection (pool) in use.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The embedder in use.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.inner.embedder
    }

    /// The extractor's id (`offline-v1`, or the rig model's extractor id).
    pub fn extractor_id(&self) -> &str {
        self.inner.extractor.id()
    }

    /// Counters of successes and failures.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Store messages of one exchange and enqueue their augmentation. Each call is one
    /// transaction and gets a fresh idempotency key; use [`Memori::capture_keyed`] when the
    /// same exchange may be submitted twice.
    pub async fn capture(&self, scope: &Scope, messages: Vec<Message>) -> Result<CaptureReceipt> {
        self.capture_keyed(scope, &uuid::Uuid::new_v4().to_string(), messages).await
    }

    /// Like [`Memori::capture`], with an idempotency key for the batch: message `i` is stored
    /// under `"{key}:{i}"`, so submitting the same batch again stores nothing twice.
    pub async fn capture_keyed(&self, scope: &Scope, key: &str, messages: Vec<Message>) -> Result<CaptureReceipt> {
        let keys: Vec<String> = (0..messages.len()).map(|i| format!("{key}:{i}")).collect();
        self.capture_with_keys(scope, messages.into_iter().zip(keys).collect(), None).await
    }

    /// Store messages, each with its own idempotency key (at most 255 bytes).
    pub async fn capture_with_keys(
        &self,
        scope: &Scope,
        messages: Vec<(Message, String)>,
        run_id: Option<&str>,
    ) -> Result<CaptureReceipt> {
        let batch = new_messages(messages, run_id)?;
        if batch.is_empty() {
            return Ok(CaptureReceipt::default());
        }
        let receipt = store::capture(&self.inner.db, scope, batch, self.inner.config.jobs.max_attempts).await?;
        if receipt.job_id.is_some() {
            self.inner.wake.notify_waiters();
        }
        Ok(receipt)
    }

    /// Recall the memories of `scope`'s entity that matter for `query`, best first. Recall
    /// covers every session and process of the entity, and never another entity.
    pub async fn recall(&self, scope: &Scope, query: &str) -> Result<Vec<Recalled>> {
        self.recall_with(&scope.entity, RecallRequest::new(query)).await
    }

    /// Every memory of an entity (extracted ones and episodes), oldest first; with `history`
    /// also those a later statement invalidated. Empty for an unknown entity.
    pub async fn memories(&self, entity: &EntityId, history: bool) -> Result<Vec<Memory>> {
        let Some(entity_row) = store::entity_row_id(&self.inner.db, entity).await? else {
            return Ok(Vec::new());
        };
        let candidates =
            store::candidates(&self.inner.db, entity_row, self.inner.embedder.model_id(), None, history).await?;
        Ok(candidates.into_iter().map(|c| c.memory).collect())
    }

    /// The knowledge graph of an entity: its current statements, or with `history` also the
    /// ones a later statement invalidated. Empty for an unknown entity.
    pub async fn graph(&self, entity: &EntityId, history: bool) -> Result<graph::KnowledgeGraph> {
        let Some(entity_row) = store::entity_row_id(&self.inner.db, entity).await? else {
            return Ok(graph::KnowledgeGraph::default());
        };
        let (nodes, edges) = store::augment::graph(&self.inner.db, entity_row, history).await?;
        Ok(graph::KnowledgeGraph::new(nodes, edges))
    }

    /// Recall with every option.
    ///
    /// Reads one row to learn the entity's memory revision; when it matches the cached index,
    /// nothing else is read from the database. Searching runs on a blocking thread.
    pub async fn recall_with(&self, entity: &EntityId, req: RecallRequest) -> Result<Vec<Recalled>> {
        let cfg = match &req.config {
            Some(c) => {
                c.validate().map_err(Error::invalid_input)?;
                Arc::new(c.clone())
            }
            None => self.recall_settings().await?,
        };
        let limit = req.limit.unwrap_or(cfg.limit);
        if req.query.trim().is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let embed =
            async { Ok(Some(self.inner.embedder.embed_query(req.query.clone()).await?).filter(|v| !v.is_empty())) };
        let (index, query_vector) = tokio::try_join!(self.entity_index(entity), embed)?;
        let Some(index) = index else { return Ok(Vec::new()) };
        let now = req.as_of.unwrap_or_else(Utc::now);
        tokio::task::spawn_blocking(move || {
            let terms = recall::lexical::terms(&req.query);
            let time = recall::time::parse(&req.query, now);
            let filter = req.filter();
            let query = recall::index::Query {
                text: &req.query,
                terms: &terms,
                vector: query_vector.as_deref(),
                now,
                time: time.as_ref(),
            };
            index
                .search(&query, &filter, &cfg, limit)
                .into_iter()
                .map(|s| Recalled {
                    memory: index.memory(s.index).clone(),
                    score: s.score,
                    explanation: s.explanation,
                    neighbours: if cfg.neighbours { index.neighbours(s.index, &filter) } else { Vec::new() },
                })
                .collect()
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Database, format!("recall search panicked: {e}")))
    }

    /// The recall index of an entity: cached while the entity's memory revision holds, else
    /// built from the store (off the async runtime). `None` for an unknown entity.
    async fn entity_index(&self, entity: &EntityId) -> Result<Option<Arc<recall::index::EntityIndex>>> {
        let db = &self.inner.db;
        let Some((row, revision)) = store::memory_revision(db, entity).await? else { return Ok(None) };
        let model = self.inner.embedder.model_id();
        if let Some(index) = self.inner.cache.get(row, revision, model) {
            self.inner.metrics.recall_cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(index));
        }
        let candidates = store::candidates(db, row, model, None, true).await?;
        let (nodes, edges) = store::augment::graph(db, row, true).await?;
        let index = tokio::task::spawn_blocking(move || {
            let (memories, vectors) = candidates.into_iter().map(|c| (c.memory, c.vector)).unzip();
            recall::index::EntityIndex::new(memories, vectors, graph::KnowledgeGraph::new(nodes, edges))
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Database, format!("building the recall index panicked: {e}")))?;
        let index = Arc::new(index);
        self.inner.metrics.recall_index_builds.fetch_add(1, Ordering::Relaxed);
        self.inner.cache.put(row, revision, model, Arc::clone(&index));
        Ok(Some(index))
    }

    /// Entity indexes cached for recall and their approximate size in bytes.
    pub fn recall_cache_usage(&self) -> (usize, usize) {
        self.inner.cache.usage()
    }

    /// The recall settings in effect: the newest saved version (checked at most every
    /// [`Config::settings_refresh`]), or the builder's [`Config::recall`] if none was saved.
    /// A saved version that no longer parses is logged and skipped.
    pub async fn recall_settings(&self) -> Result<Arc<RecallConfig>> {
        Ok(self.inner.current_settings().await?.0)
    }

    /// The newest saved settings and their version (version 0 and the builder's configuration
    /// when none was saved).
    pub async fn settings(&self) -> Result<(i64, Settings)> {
        match store::settings::latest(&self.inner.db).await? {
            Some((version, body)) => {
                let settings = serde_json::from_str(&body).map_err(|e| {
                    Error::new(ErrorKind::Database, format!("settings version {version} does not parse: {e}"))
                })?;
                Ok((version, settings))
            }
            None => Ok((0, Settings { recall: self.inner.config.recall.clone(), ..Settings::default() })),
        }
    }

    /// Save settings as a new version made on top of `base` (the version they were edited
    /// from; `None` skips the check), audited under `actor`. Every process sharing the
    /// database uses them within [`Config::settings_refresh`]. Returns the new version.
    ///
    /// Fails with [`ErrorKind::InvalidInput`] for an out-of-range knob and
    /// [`ErrorKind::Conflict`] when another version was saved since `base`.
    pub async fn save_settings(&self, base: Option<i64>, settings: &Settings, actor: &str) -> Result<i64> {
        settings.recall.validate().map_err(Error::invalid_input)?;
        settings.retention.validate().map_err(Error::invalid_input)?;
        let body = serde_json::to_string(settings)
            .map_err(|e| Error::invalid_input(format!("settings do not serialise: {e}")))?;
        let version = store::settings::save(&self.inner.db, base, &body, actor).await?;
        if let Ok(mut s) = self.inner.settings.write() {
            *s = CachedSettings {
                version,
                checked: Some(std::time::Instant::now()),
                recall: Arc::new(settings.recall.clone()),
                extractor: settings.extraction.extractor,
            };
        }
        Ok(version)
    }

    /// Saved settings versions, newest first: `(version, settings, saved by, saved at)`.
    pub async fn settings_history(&self, limit: u64) -> Result<Vec<(i64, Settings, String, chrono::DateTime<Utc>)>> {
        Ok(store::settings::history(&self.inner.db, limit)
            .await?
            .into_iter()
            .filter_map(|(v, body, by, at)| Some((v, serde_json::from_str(&body).ok()?, by, store::from_ms(at))))
            .collect())
    }

    /// Render recalled memories as the block injected into a system prompt (see
    /// [`recall::block`]), within the token budget of the settings in effect.
    pub fn render_block(&self, recalled: &[Recalled]) -> Option<String> {
        let cfg = self.inner.settings.read().map(|s| Arc::clone(&s.recall)).ok()?;
        recall::block::render(recalled, cfg.token_budget, cfg.neighbours)
    }

    /// The memory block for a prompt, as the rig adapter injects it: recall for `query`,
    /// drop memories whose source messages are all in `in_history` (fingerprints of messages
    /// the model already sees), render within the size limit. Bounded by
    /// [`Config::recall_timeout`]; failures are counted in [`Metrics::recall_failures`].
    pub async fn context_block(
        &self,
        scope: &Scope,
        query: &str,
        in_history: &std::collections::HashSet<String>,
    ) -> Result<Option<String>> {
        let timeout = self.inner.config.recall_timeout;
        let recalled = match tokio::time::timeout(timeout, self.recall(scope, query)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                self.inner.metrics.recall_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, kind = ?e.kind(), "memori recall failed; the call goes on without memories");
                return Err(e);
            }
            Err(_) => {
                self.inner.metrics.recall_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    timeout_ms = timeout.as_millis() as u64,
                    "memori recall timed out; the call goes on without memories"
                );
                return Err(Error::new(ErrorKind::Timeout, format!("recall took longer than {timeout:?}")));
            }
        };
        let fresh: Vec<Recalled> = recalled
            .into_iter()
            .filter(|r| {
                r.memory.sources.is_empty() || !r.memory.sources.iter().all(|s| in_history.contains(&s.fingerprint))
            })
            .collect();
        Ok(self.render_block(&fresh))
    }

    /// Capture on behalf of an agent call; never fails the call. Bounded by
    /// [`Config::capture_timeout`]. When the database does not answer, the exchange is spooled
    /// (up to [`Config::spool_bytes`]) and written once it does; `None` then, and when the
    /// exchange is lost (a full spool, or invalid input), which is logged and counted in
    /// [`Metrics::spool_dropped`] or [`Metrics::capture_failures`].
    pub async fn capture_logged(&self, scope: &Scope, messages: Vec<Message>) -> Option<CaptureReceipt> {
        if messages.is_empty() {
            return None;
        }
        let run = uuid::Uuid::new_v4().to_string();
        let now = Utc::now();
        let keyed: Vec<(Message, String)> = messages
            .into_iter()
            .enumerate()
            .map(|(i, mut m)| {
                // The time it was said, not the time a spooled copy is finally written.
                m.said_at.get_or_insert(now);
                (m, format!("run:{run}:{i}"))
            })
            .collect();
        if !self.inner.spool.is_empty() {
            // Behind what is spooled already, so a session's messages keep their order.
            self.spool(spool::Batch::new(scope, keyed, Some(run)));
            return None;
        }
        let timeout = self.inner.config.capture_timeout;
        let error = match tokio::time::timeout(timeout, self.capture_with_keys(scope, keyed.clone(), Some(&run))).await
        {
            Ok(Ok(receipt)) => return Some(receipt),
            Ok(Err(e)) => e,
            Err(_) => Error::new(ErrorKind::Timeout, format!("capture took longer than {timeout:?}")),
        };
        if spool::is_transient(&error) {
            tracing::warn!(error = %error, kind = ?error.kind(), "memori capture failed; spooling the exchange");
            self.spool(spool::Batch::new(scope, keyed, Some(run)));
        } else {
            self.inner.metrics.capture_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %error, kind = ?error.kind(), "memori capture failed; this exchange was not stored");
        }
        None
    }

    fn spool(&self, batch: spool::Batch) {
        match self.inner.spool.push(batch) {
            Ok(()) => {
                self.inner.metrics.spooled.fetch_add(1, Ordering::Relaxed);
            }
            Err(refused) => {
                self.inner.metrics.spool_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!(reason = %refused, "memori cannot spool a capture; this exchange was not stored");
            }
        }
    }

    /// Captures spooled while the database did not answer: batches and bytes.
    pub fn spool_usage(&self) -> (usize, usize) {
        self.inner.spool.usage()
    }

    /// Wait until the job queue is drained, for at most one minute.
    pub async fn flush(&self) -> Result<()> {
        self.flush_timeout(Duration::from_secs(60)).await
    }

    /// Wait until no job is pending or running (in this or any process sharing the database).
    pub async fn flush_timeout(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let progressed = self.inner.progress.notified();
            let outstanding = store::jobs::outstanding(&self.inner.db).await?;
            let (spooled, _) = self.inner.spool.usage();
            if outstanding == 0 && spooled == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let hint = if self.inner.config.workers == 0 { " (this process runs no workers)" } else { "" };
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!("{outstanding} jobs and {spooled} spooled captures still pending after {timeout:?}{hint}"),
                ));
            }
            self.inner.wake.notify_waiters();
            tokio::select! {
                () = progressed => {}
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// How many jobs are dead letters (failed on every attempt).
    pub async fn dead_jobs(&self) -> Result<u64> {
        store::jobs::dead(&self.inner.db).await
    }

    /// How many messages are stored for an entity.
    pub async fn message_count(&self, entity: &EntityId) -> Result<u64> {
        Ok(self.stats(entity).await?.messages)
    }

    /// Row counts of an entity's data (all zero for an unknown entity).
    pub async fn stats(&self, entity: &EntityId) -> Result<EntityStats> {
        match store::entity_row_id(&self.inner.db, entity).await? {
            Some(row) => store::entity_stats(&self.inner.db, row).await,
            None => Ok(EntityStats::default()),
        }
    }

    /// Background jobs, newest first; `status` filters (`pending`, `running`, `done`, `dead`).
    pub async fn jobs(&self, status: Option<&str>, limit: u64) -> Result<Vec<JobInfo>> {
        store::job_infos(&self.inner.db, status, limit).await
    }

    /// Run a job again now, with a fresh attempt budget: a dead letter, a waiting job, or a
    /// finished one (handlers are idempotent, so re-running a finished job changes nothing
    /// unless the extractor changed). Returns `false` when no such job exists or it is running.
    pub async fn retry_job(&self, id: i64) -> Result<bool> {
        let changed = store::jobs::retry(&self.inner.db, Some(id), store::ms(Utc::now())).await? > 0;
        self.inner.wake.notify_waiters();
        Ok(changed)
    }

    /// Run every dead letter again. Returns how many were revived.
    pub async fn retry_dead_jobs(&self) -> Result<u64> {
        let n = store::jobs::retry(&self.inner.db, None, store::ms(Utc::now())).await?;
        self.inner.wake.notify_waiters();
        Ok(n)
    }

    /// Stop the workers of this process and wait for them (a job in progress finishes or,
    /// if interrupted, is taken over after its lease).
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        let handles: Vec<_> = self.inner.workers.lock().map(|mut w| w.drain(..).collect()).unwrap_or_default();
        for h in handles {
            let _ = h.await;
        }
    }
}
