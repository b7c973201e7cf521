//! The settings in effect: the newest saved version of the operator-tunable settings (recall
//! ranking, extractor choice, retention), cached per process and re-read when any process
//! saves a newer one.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::Memori;
use crate::config::{ExtractorChoice, RecallConfig, Settings};
use crate::error::{Error, ErrorKind, Result};
use crate::store::{self, Db};

/// The settings one operation uses, read once: a recall ranks and renders with the same
/// snapshot, a worker extracts with the choice it read.
#[derive(Clone, Debug)]
pub struct SettingsSnapshot {
    /// The saved version (0 when none was saved and the builder's configuration applies).
    pub version: i64,
    /// Recall ranking and rendering.
    pub recall: Arc<RecallConfig>,
    /// Which extractor workers use.
    pub extractor: ExtractorChoice,
}

struct Cached {
    snapshot: SettingsSnapshot,
    checked: Option<Instant>,
}

/// The cached settings of one process.
pub(crate) struct SettingsCache {
    cached: RwLock<Cached>,
    refresh: Duration,
    /// What applies while nothing was saved: the builder's recall configuration.
    defaults: Arc<RecallConfig>,
    /// Held by the one caller reading the settings table; the others use what is cached (or,
    /// before the first read, wait for it) instead of all asking the database at once.
    reading: tokio::sync::Mutex<()>,
}

fn poisoned() -> Error {
    Error::new(ErrorKind::Internal, "the settings cache lock is poisoned (a thread panicked while holding it)")
}

impl SettingsCache {
    pub(crate) fn new(defaults: RecallConfig, refresh: Duration) -> Self {
        let defaults = Arc::new(defaults);
        let snapshot =
            SettingsSnapshot { version: 0, recall: Arc::clone(&defaults), extractor: ExtractorChoice::default() };
        Self {
            cached: RwLock::new(Cached { snapshot, checked: None }),
            refresh,
            defaults,
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// The settings in effect: the cached ones while younger than the refresh interval, else
    /// re-read when the settings table has a newer version. A saved version that does not
    /// parse or validate is skipped with a warning and the previous one stays in effect.
    pub(crate) async fn current(&self, db: &Db) -> Result<SettingsSnapshot> {
        let cached = || -> Result<(SettingsSnapshot, Option<Instant>)> {
            let c = self.cached.read().map_err(|_| poisoned())?;
            Ok((c.snapshot.clone(), c.checked))
        };
        let (snapshot, checked) = cached()?;
        if checked.is_some_and(|t| t.elapsed() < self.refresh) {
            return Ok(snapshot);
        }
        let _reading = match (checked, self.reading.try_lock()) {
            (_, Ok(guard)) => guard,
            // Someone is reading already: what is cached will do for this call.
            (Some(_), Err(_)) => return Ok(snapshot),
            // Never read yet: wait for the first read rather than use the builder's defaults.
            (None, Err(_)) => {
                let guard = self.reading.lock().await;
                let (snapshot, checked) = cached()?;
                if checked.is_some() {
                    return Ok(snapshot);
                }
                guard
            }
        };
        let (snapshot, _) = cached()?;
        let latest = store::settings::latest_version(db).await?;
        let snapshot = if latest == snapshot.version {
            snapshot
        } else {
            match store::settings::latest(db).await? {
                Some(saved) => match serde_json::from_str::<Settings>(&saved.body) {
                    Ok(s) if s.recall.validate().is_ok() => SettingsSnapshot {
                        version: saved.version,
                        recall: Arc::new(s.recall),
                        extractor: s.extraction.extractor,
                    },
                    Ok(_) | Err(_) => {
                        tracing::warn!(
                            version = saved.version,
                            "saved settings do not parse or are out of range; keeping the previous ones"
                        );
                        SettingsSnapshot { version: saved.version, ..snapshot }
                    }
                },
                None => SettingsSnapshot {
                    version: 0,
                    recall: Arc::clone(&self.defaults),
                    extractor: ExtractorChoice::default(),
                },
            }
        };
        self.put(snapshot.clone())?;
        Ok(snapshot)
    }

    /// Take a snapshot as the current one (this process just saved it).
    pub(crate) fn put(&self, snapshot: SettingsSnapshot) -> Result<()> {
        let mut c = self.cached.write().map_err(|_| poisoned())?;
        *c = Cached { snapshot, checked: Some(Instant::now()) };
        Ok(())
    }

    /// The builder's recall configuration.
    pub(crate) fn defaults(&self) -> &RecallConfig {
        &self.defaults
    }
}

/// One saved settings version.
pub use memori_types::http::SettingsVersion;

impl Memori {
    /// The settings in effect: the newest saved version (checked at most every
    /// [`crate::Config::settings_refresh`]), or the builder's [`crate::Config::recall`] if none
    /// was saved. A saved version that no longer parses is logged and skipped.
    pub async fn current_settings(&self) -> Result<SettingsSnapshot> {
        self.inner.settings.current(&self.inner.db).await
    }

    /// The newest saved settings and their version (version 0 and the builder's configuration
    /// when none was saved).
    pub async fn settings(&self) -> Result<(i64, Settings)> {
        match store::settings::latest(&self.inner.db).await? {
            Some(saved) => {
                let settings = serde_json::from_str(&saved.body).map_err(|e| {
                    Error::new(ErrorKind::Internal, format!("settings version {} does not parse: {e}", saved.version))
                })?;
                Ok((saved.version, settings))
            }
            None => Ok((0, Settings { recall: self.inner.settings.defaults().clone(), ..Settings::default() })),
        }
    }

    /// Save settings as a new version made on top of `base` (the version they were edited
    /// from; `None` skips the check), audited under `actor`. Every process sharing the
    /// database uses them within [`crate::Config::settings_refresh`]. Returns the new version.
    ///
    /// Fails with [`ErrorKind::InvalidInput`] for an out-of-range knob and
    /// [`ErrorKind::Conflict`] when another version was saved since `base`.
    pub async fn save_settings(&self, base: Option<i64>, settings: &Settings, actor: &str) -> Result<i64> {
        settings.recall.validate().map_err(Error::invalid_input)?;
        settings.retention.validate().map_err(Error::invalid_input)?;
        let body = serde_json::to_string(settings)
            .map_err(|e| Error::invalid_input(format!("settings do not serialise: {e}")))?;
        let version = store::settings::save(&self.inner.db, base, &body, actor).await?;
        self.inner.settings.put(SettingsSnapshot {
            version,
            recall: Arc::new(settings.recall.clone()),
            extractor: settings.extraction.extractor,
        })?;
        Ok(version)
    }

    /// Saved settings versions, newest first. A version that no longer parses is left out.
    pub async fn settings_history(&self, limit: u64) -> Result<Vec<SettingsVersion>> {
        Ok(store::settings::history(&self.inner.db, limit)
            .await?
            .into_iter()
            .filter_map(|s| {
                Some(SettingsVersion {
                    version: s.version,
                    settings: serde_json::from_str(&s.body).ok()?,
                    saved_by: s.saved_by,
                    saved_at: s.saved_at,
                })
            })
            .collect())
    }
}
