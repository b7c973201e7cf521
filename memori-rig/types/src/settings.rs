//! Settings operators change at run time, shared by the library (which validates and applies
//! them), the dashboard server and the browser app (which edits them).

use serde::{Deserialize, Serialize};

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

/// Recall tuning. Every knob is explained in the result's [`crate::model::Explanation`]. Stored in
/// the settings table (`Memori::save_settings`), where running processes pick
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
    /// How much of the BM25 score of the turns just before and after a conversation turn
    /// counts for it: a short reply ("Researching adoption agencies") is found through the
    /// question it answers, and a turn through the reply that repeats its subject. 0 switches
    /// it off.
    pub context_weight: f64,
    /// How much results by or about a person the query names are lifted: `× (1 +
    /// speaker_weight)`. A query naming one of the conversation's speakers ("what did Caroline
    /// research?") lifts that speaker's turns and the memories about them, and the name stops
    /// counting as a search word; in user/assistant conversations "I"/"my" name the user and
    /// "you"/"your" the assistant. 0 switches it off.
    pub speaker_weight: f64,
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
    /// Results scoring below this are dropped (0 keeps everything that was retrieved).
    pub min_score: f64,
}

impl Default for RecallConfig {
    fn default() -> Self {
        Self {
            limit: 10,
            vector_weight: 1.0,
            lexical_weight: 1.0,
            graph_weight: 0.2,
            context_weight: 0.5,
            speaker_weight: 0.5,
            fusion: Fusion::Weighted,
            depth: 300,
            half_life_days: None,
            importance_weight: 0.0,
            mention_weight: 0.0,
            time_weight: 1.0,
            token_budget: 600,
            neighbours: true,
            min_score: 0.0,
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
            ("context_weight", self.context_weight),
            ("speaker_weight", self.speaker_weight),
            ("importance_weight", self.importance_weight),
            ("mention_weight", self.mention_weight),
            ("time_weight", self.time_weight),
            ("min_score", self.min_score),
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
/// `Config::settings_refresh`. Until a version is saved, the builder's `Config` applies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Recall tuning.
    pub recall: RecallConfig,
    /// How long conversations are kept (see `Memori::apply_retention`).
    pub retention: RetentionPolicy,
    /// Which extractor turns new conversations into memories.
    pub extraction: ExtractionSettings,
}

/// Which extractor augmentation uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractorChoice {
    /// The extractor given to `MemoriBuilder::extractor` (for example the user's rig model), or
    /// the offline one when none was given.
    #[default]
    Configured,
    /// Always the built-in offline extractor: nothing is sent to a model provider (to stop
    /// spending, or while a provider is unavailable or under review).
    Offline,
}

/// Extraction settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExtractionSettings {
    /// Which extractor runs.
    pub extractor: ExtractorChoice,
}

/// How long data is kept. Off (everything kept) by default.
///
/// Applying the policy deletes, per process, the messages said and the memories last seen
/// more than `days` ago (with their embeddings, sources and graph edges), then the sessions
/// left with no message and no memory. A process listed in `processes` uses its own number
/// of days; the others use `days`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionPolicy {
    /// Days to keep data of processes not listed below; `None` keeps it forever.
    pub days: Option<u32>,
    /// Days to keep the data of particular processes (agents), by process id.
    pub processes: std::collections::BTreeMap<String, u32>,
}

impl RetentionPolicy {
    /// Check that every number of days is at least 1 (0 would erase everything at once).
    pub fn validate(&self) -> Result<(), String> {
        if self.days == Some(0) || self.processes.values().any(|d| *d == 0) {
            return Err("retention days must be at least 1 (leave it empty to keep data forever)".into());
        }
        if self.processes.keys().any(|p| p.is_empty() || p.len() > 255) {
            return Err("retention: a process id must be 1 to 255 bytes".into());
        }
        Ok(())
    }
}
