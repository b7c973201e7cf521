//! Configuration: plain structs with public fields and sensible defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use memori_types::settings::{
    ExtractionSettings, ExtractorChoice, Fusion, RecallConfig, RetentionPolicy, Settings,
};

/// What happens to the user's agent call when memory fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureMode {
    /// Log, count and carry on without memory (default): the agent call never fails because
    /// memory did.
    #[default]
    Open,
    /// Fail the agent call when recall fails (capture failures are still only logged: by the
    /// time a run settles its answer exists).
    Closed,
}

/// When an agent call's exchange is written (see the README, "Capture on the call path").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureMode {
    /// Handed to a background writer that stores exchanges in order, several per transaction
    /// (default): the call pays microseconds. An exchange is in memory until written, usually
    /// within milliseconds; a process that dies before then loses it, unless
    /// [`Config::spool_dir`] is set, which keeps every waiting exchange on disk.
    /// [`crate::Memori::flush`] and [`crate::Memori::shutdown`] wait for the writer.
    #[default]
    Background,
    /// Written before the call returns (one transaction, bounded by [`Config::capture_timeout`];
    /// an exchange the database does not take is spooled).
    Inline,
}

/// Everything [`crate::Memori`] can be tuned with.
#[derive(Clone, Debug)]
pub struct Config {
    /// Apply pending migrations when connecting (default `true`). Turn off when migrations are
    /// run by a deploy step (`memori migrate`).
    pub auto_migrate: bool,
    /// What a memory failure does to the agent call.
    pub failure_mode: FailureMode,
    /// Background worker tasks in this process (default 1; 0 means another process works the
    /// queue and [`crate::Memori::flush`] only waits for it).
    pub workers: usize,
    /// Recall tuning.
    pub recall: RecallConfig,
    /// Job queue tuning.
    pub jobs: JobConfig,
    /// Extraction and merge tuning.
    pub augment: AugmentConfig,
    /// Longest a recall made on behalf of an agent call may take before it is abandoned.
    pub recall_timeout: Duration,
    /// Longest a recall waits for its query's embedding (default 250 ms). When the model is
    /// busy beyond that (more concurrent recalls than the machine can embed), recall goes on
    /// with its lexical and graph sources only, counted in
    /// [`crate::MetricsSnapshot::recall_vector_skipped`], instead of running into
    /// [`Config::recall_timeout`]. Lower it for tight latency targets.
    pub query_embedding_budget: Duration,
    /// When an agent call's exchange is written: by a background writer (default) or before
    /// the call returns.
    pub capture: CaptureMode,
    /// Longest one capture write may take before it is abandoned (and spooled).
    pub capture_timeout: Duration,
    /// Memory for entity indexes kept between recalls, in bytes (default 512 MiB; 0 reads the
    /// store on every recall). An entity with 10,000 memories takes about 20 MB.
    pub recall_cache_bytes: usize,
    /// How often recall checks the settings table for a newer version saved by any process
    /// (default 1 s).
    pub settings_refresh: Duration,
    /// Most bytes of agent-call captures waiting to be written: for the background writer, and
    /// while the database does not answer (default 64 MiB, counted as JSON; 0 turns the spool
    /// off and writes every capture inline). Waiting captures are written, in order and exactly
    /// once, when the database answers; beyond the limit a capture is lost, logged and counted
    /// in [`crate::MetricsSnapshot::spool_dropped`].
    pub spool_bytes: usize,
    /// ONNX Runtime threads per model run of the default local embedder (default 0: one per
    /// core, at most four). Fewer leave cores to the rest of the application.
    pub embedder_threads: usize,
    /// Keep the spool in this directory as well as in memory, so that captures spooled by a
    /// process that exits during an outage are written by the next one started with the same
    /// directory (default: memory only). One directory per process.
    pub spool_dir: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            auto_migrate: true,
            failure_mode: FailureMode::Open,
            workers: 1,
            recall: RecallConfig::default(),
            jobs: JobConfig::default(),
            augment: AugmentConfig::default(),
            recall_timeout: Duration::from_secs(2),
            query_embedding_budget: Duration::from_millis(250),
            capture: CaptureMode::Background,
            capture_timeout: Duration::from_secs(5),
            recall_cache_bytes: 512 * 1024 * 1024,
            settings_refresh: Duration::from_secs(1),
            spool_bytes: 64 * 1024 * 1024,
            embedder_threads: 0,
            spool_dir: None,
        }
    }
}

/// Job queue tuning.
#[derive(Clone, Debug)]
pub struct JobConfig {
    /// How long a claimed job stays claimed; a worker that dies releases it after this.
    pub lease: Duration,
    /// Attempts before a job becomes a dead letter.
    pub max_attempts: i32,
    /// How often an idle worker looks for jobs written by other processes.
    pub poll_interval: Duration,
    /// First retry delay; doubles per attempt, with jitter.
    pub retry_base: Duration,
}

impl Default for JobConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(120),
            max_attempts: 5,
            poll_interval: Duration::from_millis(500),
            retry_base: Duration::from_secs(1),
        }
    }
}

/// Extraction and merge tuning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Two memories say the same thing when their embeddings' cosine similarity reaches this
    /// *and* their words overlap by [`AugmentConfig::merge_overlap`] (default 0.85).
    pub merge_similarity: f32,
    /// Least Jaccard overlap of the two memories' content words (symbols kept, so `C` and
    /// `C++` differ) for a merge (default 0.6; "lives in Paris" and "lives in Berlin" have 0.5).
    pub merge_overlap: f64,
    /// Longest one extraction may take before the job fails and is retried (default 120 s).
    #[serde(with = "secs")]
    pub extract_timeout: Duration,
    /// Extractions run at once by one worker (default 4; a model provider's rate limit may
    /// call for fewer).
    pub extract_concurrency: usize,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            merge_similarity: 0.85,
            merge_overlap: 0.6,
            extract_timeout: Duration::from_secs(120),
            extract_concurrency: 4,
        }
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::RecallConfig;

    /// What the settings form and `save_settings` send is checked knob by knob: a weight out
    /// of range or not a number is refused with its name.
    #[test]
    fn recall_weights_out_of_range_are_refused_by_name() {
        assert_eq!(RecallConfig::default().validate(), Ok(()));
        type Set = fn(&mut RecallConfig, f64);
        let knobs: [(&str, Set); 4] = [
            ("context_weight", |c, v| c.context_weight = v),
            ("speaker_weight", |c, v| c.speaker_weight = v),
            ("vector_weight", |c, v| c.vector_weight = v),
            ("graph_weight", |c, v| c.graph_weight = v),
        ];
        for (name, set) in knobs {
            for bad in [-0.1, 100.5, f64::NAN, f64::INFINITY] {
                let mut c = RecallConfig::default();
                set(&mut c, bad);
                let err = c.validate().expect_err(name);
                assert!(err.starts_with(name), "{err}");
            }
            let mut off = RecallConfig::default();
            set(&mut off, 0.0);
            assert_eq!(off.validate(), Ok(()), "{name} 0 switches it off");
        }
    }
}
