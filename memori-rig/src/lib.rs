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
//!
//! This file is the front door: re-exports, [`Memori`] and the few methods that are not a
//! concept of their own. [`MemoriBuilder`] lives in `builder`, capture in `capture`, recall in
//! [`recall`], the settings in effect in `settings`, the queue in `jobs`, what operators read
//! and change in [`admin`] and [`accounts`].
#![warn(missing_docs)]

// The README's code blocks are compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

pub mod accounts;
pub mod admin;
pub mod augment;
mod builder;
mod capture;
pub mod config;
pub mod embed;
pub mod error;
mod failpoint;
pub mod graph;
pub mod import;
mod jobs;
mod metrics;
pub mod model;
pub mod recall;
pub mod rig;
pub mod scope;
mod settings;
mod signals;
mod store;
pub mod text;
mod worker;

use std::sync::{Arc, Mutex};

pub use augment::{Extractor, OfflineExtractor};
pub use builder::MemoriBuilder;
pub use config::{
    AugmentConfig, CaptureMode, Config, ExtractionSettings, ExtractorChoice, FailureMode, Fusion, JobConfig,
    RecallConfig, RetentionPolicy, Settings,
};
pub use embed::Embedder;
pub use error::{Error, ErrorKind, Result};
pub use metrics::{Gauges, Metrics, MetricsSnapshot, Readiness};
pub use model::{
    CaptureReceipt, EntityStats, Explanation, JobInfo, JobKind, JobStatus, Memory, MemoryKind, Message, Neighbour,
    Part, Recalled, Role, SourceRef, Superseded, Validity,
};
pub use recall::{RecallRequest, Recollection};
pub use scope::{EntityId, ProcessId, Scope, SessionId};
pub use settings::{SettingsSnapshot, SettingsVersion};
pub use store::redact_url;

/// Largest message accepted by [`Memori::capture`], in bytes of text.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Largest memory text, in bytes: longer extractions are cut, longer corrections refused.
pub const MAX_MEMORY_TEXT_BYTES: usize = 2_000;

/// What every clone of a [`Memori`] shares. The background tasks do not see it: workers get
/// a `worker::Context`, the spool drain a `capture::spool::Drain`.
pub(crate) struct Inner {
    pub(crate) db: store::Db,
    pub(crate) embedder: Arc<dyn Embedder>,
    pub(crate) extractor: Arc<dyn Extractor>,
    pub(crate) config: Config,
    pub(crate) signals: Arc<signals::Signals>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) settings: Arc<settings::SettingsCache>,
    pub(crate) cache: recall::cache::IndexCache,
    pub(crate) spool: Arc<capture::spool::Spool>,
    pub(crate) tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Stops the background tasks when the last [`Memori`] handle is dropped.
struct ShutdownGuard(Arc<signals::Signals>);

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        self.0.shutdown.cancel();
    }
}

/// The memory engine. Cheap to clone; clones share one database pool and one worker set.
#[derive(Clone)]
pub struct Memori {
    inner: Arc<Inner>,
    _guard: Arc<ShutdownGuard>,
}

impl Memori {
    fn new(inner: Inner) -> Self {
        let guard = Arc::new(ShutdownGuard(Arc::clone(&inner.signals)));
        Memori { inner: Arc::new(inner), _guard: guard }
    }
}

impl std::fmt::Debug for Memori {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memori")
            .field("backend", &store::backend_name(&self.inner.db))
            .field("embedder", &self.inner.embedder.model_id())
            .field("extractor", &self.inner.extractor.id())
            .finish_non_exhaustive()
    }
}

impl Memori {
    /// Start building.
    pub fn builder() -> MemoriBuilder {
        MemoriBuilder::default()
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The embedder in use.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.inner.embedder
    }

    /// The extractor's id (`offline-v2`, or the rig model's extractor id).
    pub fn extractor_id(&self) -> &str {
        self.inner.extractor.id()
    }

    /// Counters of successes and failures.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Stop the workers and the capture writer of this process and wait for them: captures
    /// waiting for the writer are written first (within [`Config::capture_timeout`] if the
    /// database does not answer), a job in progress finishes or, if interrupted, is taken over
    /// after its lease.
    pub async fn shutdown(&self) {
        self.inner.signals.shutdown.cancel();
        let tasks: Vec<_> = match self.inner.tasks.lock() {
            Ok(mut t) => t.drain(..).collect(),
            Err(poisoned) => poisoned.into_inner().drain(..).collect(),
        };
        for t in tasks {
            let _ = t.await;
        }
    }
}
