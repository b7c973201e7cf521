//! Configuration: plain structs with public fields and sensible defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

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
    /// Longest a capture made on behalf of an agent call may take before it is abandoned.
    pub capture_timeout: Duration,
    /// Memory for entity indexes kept between recalls, in bytes (default 512 MiB; 0 reads the
    /// store on every recall). An entity with 10,000 memories takes about 20 MB.
    pub recall_cache_bytes: usize,
    /// How often recall checks the settings table for a newer version saved by any process
    /// (default 1 s).
    pub settings_refresh: Duration,
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
            capture_timeout: Duration::from_secs(5),
            recall_cache_bytes: 512 * 1024 * 1024,
            settings_refresh: Duration::from_secs(1),
        }
    }
}

/// How candidates from the vector and lexical searches are combined.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Fusion {
    /// Reciprocal rank fusion: `sum(weight / (k + rank))`. On LoCoMo it loses to the weighted
    /// sum (R@10 0.564 against 0.640 without the graph; see BENCHMARKS.md): rank-only fusion
    /// lets the weaker vector list outvote a strong lexical match.
    Rrf {
        /// The RRF constant (60 in the literature).
        k: f64,
    },
    /// Weighted sum of the normalised scores (default): cosine as is, BM25 divided by the
    /// query's best BM25, graph proximity (0 to 1).
    Weighted,
}

/// Recall tuning. Every knob is explained in the result's [`crate::Explanation`]. Stored in
/// the settings table ([`crate::Memori::save_settings`]), where running processes pick
/// up changes; fields missing from a stored version take their defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecallConfig {
    /// How many memories to return (and inject) at most.
    pub limit: usize,
    /// Weight of vector similarity in fusion.
    pub vector_weight: f64,
    /// Weight of lexical (BM25) relevance in fusion.
    pub lexical_weight: f64,
    /// Weight of knowledge-graph proximity in fusion (memories on edges of nodes that the
    /// query or the best candidates name).
    pub graph_weight: f64,
    /// How the sources are fused.
    pub fusion: Fusion,
    /// Candidates taken from each source before fusion (the vector and lexical top lists).
    pub depth: usize,
    /// Recency half-life in days; `None` switches decay off (default: decay must not destroy
    /// recall of old evidence).
    pub half_life_days: Option<f64>,
    /// How much importance lifts a score: `× (1 + importance_weight × importance)`.
    pub importance_weight: f64,
    /// How much repetition lifts a score: `× (1 + mention_weight × ln(mentions))`.
    pub mention_weight: f64,
    /// How much a memory said (or about a time) inside a range the query names ("last week")
    /// is lifted: `× (1 + time_weight)`.
    pub time_weight: f64,
    /// Largest injected block, in tokens of the `o200k_base` tokenizer (header included).
    pub token_budget: usize,
    /// Fold the messages just before and after a recalled episode into the block when the
    /// budget leaves room.
    pub neighbours: bool,
}

impl Default for RecallConfig {
    fn default() -> Self {
        Self {
            limit: 10,
            vector_weight: 1.0,
            lexical_weight: 1.0,
            graph_weight: 0.2,
            fusion: Fusion::Weighted,
            depth: 300,
            half_life_days: None,
            importance_weight: 0.0,
            mention_weight: 0.0,
            time_weight: 1.0,
            token_budget: 600,
            neighbours: true,
        }
    }
}

impl RecallConfig {
    /// Check that every knob is in range; the message names the first one that is not.
    pub fn validate(&self) -> Result<(), String> {
        let weights = [
            ("vector_weight", self.vector_weight),
            ("lexical_weight", self.lexical_weight),
            ("graph_weight", self.graph_weight),
            ("importance_weight", self.importance_weight),
            ("mention_weight", self.mention_weight),
            ("time_weight", self.time_weight),
        ];
        for (name, w) in weights {
            if !w.is_finite() || !(0.0..=100.0).contains(&w) {
                return Err(format!("{name} must be between 0 and 100, not {w}"));
            }
        }
        if !(1..=1000).contains(&self.limit) {
            return Err(format!("limit must be between 1 and 1000, not {}", self.limit));
        }
        if !(1..=100_000).contains(&self.depth) {
            return Err(format!("depth must be between 1 and 100000, not {}", self.depth));
        }
        if !(50..=100_000).contains(&self.token_budget) {
            return Err(format!("token_budget must be between 50 and 100000, not {}", self.token_budget));
        }
        if let Some(h) = self.half_life_days
            && (!h.is_finite() || h <= 0.0)
        {
            return Err(format!("half_life_days must be positive (or null to switch decay off), not {h}"));
        }
        if let Fusion::Rrf { k } = self.fusion
            && (!k.is_finite() || k < 0.0)
        {
            return Err(format!("the RRF constant k must be 0 or more, not {k}"));
        }
        Ok(())
    }
}

/// Settings that operators change at run time (the dashboard's settings page): saved as
/// versions in the settings table and picked up by every process sharing the database within
/// [`Config::settings_refresh`]. Until a version is saved, the builder's [`Config`] applies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Recall tuning.
    pub recall: RecallConfig,
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
