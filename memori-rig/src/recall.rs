//! Recall: here is a query, give me the memories that matter, and say why.
//!
//! Stages, one file each, all pure (no IO): `index` holds one entity's memories, vectors,
//! BM25 postings and graph and gathers each source's best candidates; `lexical` is BM25;
//! `time` reads "last week" in a query; `rank` fuses the sources and applies decay,
//! importance, frequency and time (and is the brute-force reference); [`block`] renders the
//! chosen memories within a token budget ([`tokens`]). The IO (one settings snapshot, the
//! memory revision check, building an index from the store, embedding the query) lives in
//! `engine` ([`crate::Memori::recall_with`]); `cache` keeps built indexes between recalls.

pub mod block;
pub(crate) mod cache;
pub(crate) mod context;
mod engine;
pub(crate) mod index;
pub(crate) mod lexical;
pub(crate) mod rank;
pub(crate) mod time;
pub mod tokens;
pub(crate) mod vectors;

pub use engine::Recollection;

use chrono::{DateTime, Utc};

use crate::config::RecallConfig;
use crate::model::MemoryKind;

/// What to recall.
#[derive(Clone, Debug)]
pub struct RecallRequest {
    /// The query text (usually the user's latest message).
    pub query: String,
    /// Maximum results; `None` uses the configured limit.
    pub limit: Option<usize>,
    /// Recall as of this time: memories that became valid later are ignored and decay is
    /// measured from it. `None` means now.
    pub as_of: Option<DateTime<Utc>>,
    /// Only these kinds; `None` means all.
    pub kinds: Option<Vec<MemoryKind>>,
    /// Include memories that a later statement invalidated (default `false`).
    pub history: bool,
    /// Only memories from this session (external id).
    pub session: Option<String>,
    /// Only memories from this process (external id).
    pub process: Option<String>,
    /// Only memories said at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only memories said before this time.
    pub until: Option<DateTime<Utc>>,
    /// Rank with these settings instead of the saved ones (a preview before saving).
    pub config: Option<RecallConfig>,
}

impl RecallRequest {
    /// A request for `query` with the configured defaults.
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            query: query.into(),
            limit: None,
            as_of: None,
            kinds: None,
            history: false,
            session: None,
            process: None,
            since: None,
            until: None,
            config: None,
        }
    }

    /// Only memories from one session.
    #[must_use]
    pub fn session(mut self, session: impl Into<String>) -> Self {
        self.session = Some(session.into());
        self
    }

    /// Only memories from one process (agent).
    #[must_use]
    pub fn process(mut self, process: impl Into<String>) -> Self {
        self.process = Some(process.into());
        self
    }

    /// Only memories said in `[since, until)`; either end may be open.
    #[must_use]
    pub fn between(mut self, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Self {
        self.since = since;
        self.until = until;
        self
    }

    /// Rank with these settings instead of the saved ones.
    #[must_use]
    pub fn with_config(mut self, config: RecallConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// The index filter this request describes.
    pub(crate) fn filter(&self) -> index::Filter<'_> {
        index::Filter {
            as_of: self.as_of,
            history: self.history,
            kinds: self.kinds.as_deref(),
            session: self.session.as_deref(),
            process: self.process.as_deref(),
            since: self.since,
            until: self.until,
        }
    }

    /// Set the result limit.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Recall as of a point in time.
    #[must_use]
    pub fn as_of(mut self, at: DateTime<Utc>) -> Self {
        self.as_of = Some(at);
        self
    }

    /// Include invalidated memories (what used to be true), for audits and history views.
    #[must_use]
    pub fn with_history(mut self) -> Self {
        self.history = true;
        self
    }

    /// Restrict to some kinds.
    #[must_use]
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = MemoryKind>) -> Self {
        self.kinds = Some(kinds.into_iter().collect());
        self
    }
}

/// Entry points for the cargo-fuzz targets (feature `fuzzing`); not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use chrono::{DateTime, Utc};

    /// The search terms of a text.
    pub fn terms(text: &str) -> Vec<String> {
        super::lexical::terms(text)
    }

    /// The time range a query names, as `(start, end)`.
    pub fn time_range(query: &str, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        super::time::parse(query, now).map(|r| (r.start, r.end))
    }
}
