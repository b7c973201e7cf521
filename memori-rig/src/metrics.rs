//! Counters of what memory did and what failed, for logs, health checks and `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

macro_rules! metrics {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Counters of what memory did and what failed, shared by every clone of a
        /// [`crate::Memori`]. Read them with [`Metrics::snapshot`].
        #[derive(Debug, Default)]
        pub struct Metrics {
            $($(#[$doc])* pub(crate) $name: AtomicU64,)*
        }

        /// The counters at one moment.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
        #[non_exhaustive]
        pub struct MetricsSnapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Metrics {
            /// Current values.
            pub fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

metrics! {
    /// Recalls that failed or timed out (the agent call went on without memory).
    recall_failures,
    /// Captures that failed or timed out.
    capture_failures,
    /// Jobs finished.
    jobs_done,
    /// Job attempts that failed (each is retried or becomes a dead letter).
    jobs_failed,
    /// Extracted memories stored as new.
    memories_extracted,
    /// Extracted memories merged into one already stored (a mention more).
    memories_reinforced,
    /// Memories invalidated by a contradicting statement.
    memories_invalidated,
    /// Recalls that went on without their query's embedding because the model was busy
    /// beyond [`crate::Config::query_embedding_budget`].
    recall_vector_skipped,
    /// Recalls served from a cached entity index.
    recall_cache_hits,
    /// Entity indexes built from the store (first recall, or too much changed to apply).
    recall_index_builds,
    /// Cached entity indexes brought up to date with what changed since they were built.
    recall_index_updates,
    /// Agent-call captures handed to the background writer (see [`crate::CaptureMode`]).
    captures_queued,
    /// Agent-call captures that had to wait because the database did not answer (see
    /// [`crate::Config::spool_bytes`]).
    spooled,
    /// Captures that had waited for the database, written once it answered again.
    spool_written,
    /// Captures lost to memory: refused by a full spool, or refused by the database when
    /// written from the spool. Each is logged as an error.
    spool_dropped,
}

impl Metrics {
    /// Count one more.
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Count `n` more.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_reads_every_counter_by_name() {
        let m = Metrics::default();
        Metrics::inc(&m.spooled);
        Metrics::add(&m.jobs_done, 3);
        let s = m.snapshot();
        assert_eq!((s.spooled, s.jobs_done, s.spool_dropped), (1, 3, 0));
        assert_eq!(serde_json::to_value(s).unwrap()["jobs_done"], 3);
    }
}
