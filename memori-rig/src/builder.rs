//! [`MemoriBuilder`]: where the database, the models and the configuration come together, and
//! the background tasks (workers, the spool drain) start with the narrow context each needs.

use std::sync::{Arc, Mutex};

use crate::capture::spool::{self, Drain, Spool};
use crate::config::Config;
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::settings::SettingsCache;
use crate::signals::Signals;
use crate::store::{self, DatabaseConnection};
use crate::{Extractor, Inner, Memori, OfflineExtractor, recall, worker};

#[derive(Default)]
enum DbSource {
    #[default]
    None,
    Url(String),
    Connection(store::Db),
}

/// Builds a [`Memori`]; see [`Memori::builder`].
#[must_use]
#[derive(Default)]
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

    /// Use an existing sea-orm 2 connection pool (one your application already holds).
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
            None => default_embedder(&self.config)?,
        };
        let extractor = self.extractor.unwrap_or_else(|| Arc::new(OfflineExtractor));
        // Load the tokenizer's ranks now (about 150 ms, once per process), not on the first
        // agent call, where every concurrent call would wait for it.
        drop(tokio::task::spawn_blocking(|| recall::tokens::count("")));
        let config = self.config;
        let signals = Arc::new(Signals::default());
        let metrics = Arc::new(Metrics::default());
        let settings = Arc::new(SettingsCache::new(config.recall.clone(), config.settings_refresh));
        let spool = Arc::new(Spool::open(config.spool_bytes, config.spool_dir.clone())?);

        let worker = Arc::new(worker::Context {
            db: db.clone(),
            embedder: Arc::clone(&embedder),
            extractor: Arc::clone(&extractor),
            settings: Arc::clone(&settings),
            jobs: config.jobs.clone(),
            augment: config.augment.clone(),
            signals: Arc::clone(&signals),
            metrics: Arc::clone(&metrics),
        });
        let mut tasks: Vec<_> = (0..config.workers)
            .map(|i| {
                let id = format!("{}-{}-{i}", std::process::id(), uuid::Uuid::new_v4().simple());
                tokio::spawn(worker::run(Arc::clone(&worker), id))
            })
            .collect();
        tasks.push(tokio::spawn(spool::drain(Drain {
            spool: Arc::clone(&spool),
            db: db.clone(),
            signals: Arc::clone(&signals),
            metrics: Arc::clone(&metrics),
            capture_timeout: config.capture_timeout,
            max_attempts: config.jobs.max_attempts,
        })));

        Ok(Memori::new(Inner {
            db,
            embedder,
            extractor,
            cache: recall::cache::IndexCache::new(config.recall_cache_bytes),
            config,
            signals,
            metrics,
            settings,
            spool,
            tasks: Mutex::new(tasks),
        }))
    }
}

#[cfg(feature = "fastembed")]
fn default_embedder(config: &Config) -> Result<Arc<dyn Embedder>> {
    Ok(Arc::new(crate::embed::FastEmbedder::from_cache_with_threads(config.embedder_threads)?))
}

#[cfg(not(feature = "fastembed"))]
fn default_embedder(_config: &Config) -> Result<Arc<dyn Embedder>> {
    Err(Error::invalid_input("no embedder: enable the `fastembed` feature or call embedder(..)"))
}
