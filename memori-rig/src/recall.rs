//! Recall: here is a query, give me the memories that matter, and say why.
//!
//! Stages, one file each: [`lexical`] scores text with BM25, [`rank`] fuses it with vector
//! similarity and applies decay and importance (pure functions, no IO), [`block`] renders the
//! chosen memories as the text injected into the system prompt. The IO (embedding the query,
//! loading candidates) lives in [`crate::Memori::recall_with`].

pub mod block;
pub mod lexical;
pub mod rank;

use chrono::{DateTime, Utc};

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
}

impl RecallRequest {
    /// A request for `query` with the configured defaults.
    pub fn new(query: impl Into<String>) -> Self {
        Self { query: query.into(), limit: None, as_of: None, kinds: None, history: false }
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
